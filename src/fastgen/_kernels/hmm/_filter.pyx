# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Forward filtering: ``p(z_t | x_1..t)`` of every frame, no backward pass.

Sequences go one at a time.  A sequence either starts afresh (from ``startprob``) or
continues a carried forward message: the filtered distribution of its previous frame,
kept by the caller between calls (a stream fed chunk by chunk).  Either way each frame's
row is the forward recurrence normalised to sum 1, and each sequence's log-likelihood of
this call's frames given the earlier ones is returned; the message after its last frame
is written back.  The fast path treats a carried message exactly as the row of the frame
before, so a chunked run gives the same bits as one call over the concatenation.  (Where
the exact path runs, it starts from the carried message's logarithm: a state whose
probability underflowed to zero in an earlier call stays zero, where one call would keep
it in log space; that matters only without a positive lower bound on the transition
probabilities, and a likelihood ratio above ``1e300`` in the state's favour.)

Many short sequences that start afresh run ``STAT_LANES`` (64) at a time, one per lane,
through the lanes' forward pass (``_lanes``: the same arithmetic, frame for frame, as
the one-sequence path here, vectorised over the lanes); the others one at a time.

Fast path: scaled likelihoods ``exp(log_frame - max)`` (``fill_scaled``), a
matrix-vector product and one division per frame.  A sequence where that could lose
probability mass the log-space recurrence keeps (a tiny normaliser, or states flushed
without a positive lower bound on the transition probabilities, as in ``_sequence``) is
redone exactly in log space, from the same starting message.  A frame impossible under
the model (every state ``-inf``) zeroes its row and every later one of the sequence, and
the log-likelihood becomes ``-inf``.
"""

from libc.math cimport INFINITY, exp, log
from libc.stdint cimport int64_t
from libc.stdlib cimport free

from fastgen._kernels.hmm._bundles cimport (
    EMIT_CATEGORICAL, Chain, ChainArrays, EmissionArrays, Emissions, LogChain, ScaledArrays,
    ScaledTable, STATS_NONE, Want, check_scaled, group_bounds,
)
from fastgen._kernels.hmm._emissions cimport (
    Scaled, Workspace, fill_scaled, log_frames, workspace_free, workspace_init,
)
from fastgen._kernels.hmm._lanes cimport (
    LANE_OK, GroupTask, LaneBuffers, group_forward, lane_buffers_free, lane_buffers_init,
    lane_emissions, lane_emissions_table,
)
from fastgen._kernels.hmm._numeric cimport (
    BLOCK, MIN_SCALE, STAT_LANES, Arena, add_log_scale, arena_bytes, arena_init, arena_take,
    matvec_lanes,
)


ctypedef struct FilterBuffers:
    # Scratch of one thread.
    double *fr            # (BLOCK, nc): scaled likelihoods of a block of frames
    double *cc            # (BLOCK,)
    unsigned char *flag   # (BLOCK,)
    double *pred          # (ncp,): the predicted distribution of the next frame
    double *prev          # (nc,): a normalised row
    double *la            # (nc,): a log-space row
    double *lf            # (nc,): one frame's log-likelihoods
    Workspace ws
    void *_mem


cdef int filter_buffers_init(FilterBuffers *b, Py_ssize_t nc, Py_ssize_t ncp,
                             Py_ssize_t nf) noexcept nogil:
    cdef Arena a
    b._mem = NULL
    b.ws._mem = NULL
    if arena_init(&a, arena_bytes(BLOCK * nc) + 2 * arena_bytes(BLOCK) + arena_bytes(ncp)
                  + 3 * arena_bytes(nc), zero=False) < 0:
        return -1
    b._mem = a.base
    b.fr = <double *>arena_take(&a, BLOCK * nc)
    b.cc = <double *>arena_take(&a, BLOCK)
    b.flag = <unsigned char *>arena_take(&a, BLOCK)
    b.pred = <double *>arena_take(&a, ncp)
    b.prev = <double *>arena_take(&a, nc)
    b.la = <double *>arena_take(&a, nc)
    b.lf = <double *>arena_take(&a, nc)
    if workspace_init(&b.ws, nf, nc) < 0:
        filter_buffers_free(b)
        return -1
    return 0


cdef void filter_buffers_free(FilterBuffers *b) noexcept nogil:
    free(b._mem)
    b._mem = NULL
    workspace_free(&b.ws)


cdef inline double log_sum_into(const double *la, const double *log_trans, Py_ssize_t nc,
                                Py_ssize_t j) noexcept nogil:
    """``log sum_i exp(la[i] + log_trans[i, j])`` (``-inf`` when every term is)."""
    cdef Py_ssize_t i
    cdef double m = -INFINITY, v, s = 0.0
    for i in range(nc):
        v = la[i] + log_trans[i * nc + j]
        if v > m:
            m = v
    if m == -INFINITY:
        return -INFINITY
    for i in range(nc):
        s += exp(la[i] + log_trans[i * nc + j] - m)
    return m + log(s)


cdef double filter_exact(
    const Chain *ch, const LogChain *lc, const Emissions *em, Py_ssize_t lo, Py_ssize_t hi,
    double *msg, bint carried, FilterBuffers *b, double *out,
) noexcept nogil:
    """The log-space forward recurrence of frames ``lo:hi`` from ``msg`` (the carried
    distribution) or ``startprob``; rows into ``out`` (indexed by frame), the last one
    into ``msg``; returns the log-likelihood."""
    cdef Py_ssize_t nc = ch.nc, t, j
    cdef double lp = 0.0, m, s, ls
    cdef double *la = b.la
    cdef double *lf = b.lf
    cdef double *pred = b.pred  # log-space prediction here
    if carried:
        for j in range(nc):
            la[j] = log(msg[j]) if msg[j] > 0.0 else -INFINITY
        for j in range(nc):
            pred[j] = log_sum_into(la, lc.log_trans, nc, j)
    else:
        for j in range(nc):
            pred[j] = lc.log_start[j]
    for t in range(lo, hi):
        log_frames(em, t, t + 1, &b.ws, lf)
        m = -INFINITY
        for j in range(nc):
            la[j] = pred[j] + lf[j]
            if la[j] > m:
                m = la[j]
        if not m > -INFINITY:  # impossible frame (or NaN): nothing further is possible
            for j in range(t * nc, hi * nc):
                out[j] = 0.0
            for j in range(nc):
                msg[j] = 0.0
            return -INFINITY
        s = 0.0
        for j in range(nc):
            s += exp(la[j] - m)
        ls = m + log(s)
        for j in range(nc):
            la[j] -= ls
            out[t * nc + j] = exp(la[j])
        lp += ls
        if t + 1 < hi:
            for j in range(nc):
                pred[j] = log_sum_into(la, lc.log_trans, nc, j)
    for j in range(nc):
        msg[j] = out[(hi - 1) * nc + j]
    return lp


cdef void filter_range(
    const Chain *ch, const LogChain *lc, const Emissions *em, const ScaledTable *st,
    const int64_t *si, Py_ssize_t q0, Py_ssize_t q1, const unsigned char *carried,
    double *msg, double *out, double *log_prob, FilterBuffers *b,
) noexcept nogil:
    """Filter sequences ``q0:q1`` (see the module docstring).  Their frames are contiguous:
    emissions are scaled ``BLOCK`` frames at a time across sequence boundaries (many short
    sequences cost one block, not one each); a sequence the fast path cannot take is
    redone by :c:func:`filter_exact` and its remaining frames skipped here."""
    cdef Py_ssize_t nc = ch.nc, ncp = ch.ncp, t, j, r, b0, b1, s = q0, lo = 0, hi = 0
    cdef Py_ssize_t end = si[q1]
    cdef double lp = 0.0, prod = 1.0, shift = 0.0, tot, v, inv
    cdef bint skip = False
    cdef Scaled sc
    sc.fr = b.fr
    sc.cc = b.cc
    sc.flag = b.flag
    b0 = si[q0]
    while b0 < end:
        b1 = b0 + BLOCK if b0 + BLOCK < end else end
        fill_scaled(em, st, True, b0, b1, b0, &b.ws, &sc)
        for t in range(b0, b1):
            while t >= si[s + 1]:
                s += 1
            lo = si[s]
            hi = si[s + 1]
            if t == lo:
                skip = False
                lp = 0.0
                prod = 1.0
                shift = 0.0
            if skip:
                continue
            r = t - b0
            if t > lo:
                matvec_lanes(out + (t - 1) * nc, ch.transmat_p, nc, ncp, b.pred)
            elif carried[s]:  # the carried message is the row of the frame before
                matvec_lanes(msg + s * nc, ch.transmat_p, nc, ncp, b.pred)
            else:
                for j in range(nc):
                    b.pred[j] = ch.startprob[j]
            tot = 0.0
            for j in range(nc):
                v = b.pred[j] * b.fr[r * nc + j]
                out[t * nc + j] = v
                tot += v
            if not (tot >= MIN_SCALE and (not b.flag[r] or tot * ch.a_min >= MIN_SCALE)):
                log_prob[s] = filter_exact(
                    ch, lc, em, lo, hi, msg + s * nc, carried[s] != 0, b, out
                )
                skip = True
                continue
            inv = 1.0 / tot
            for j in range(nc):
                out[t * nc + j] *= inv
            shift += b.cc[r]
            add_log_scale(tot, &lp, &prod)
            if t == hi - 1:
                log_prob[s] = lp + log(prod) + shift
                for j in range(nc):
                    msg[s * nc + j] = out[t * nc + j]
        b0 = b1


cdef int check_filter_call(
    EmissionArrays em, ScaledArrays scaled, ChainArrays chain, object seqs, object startidx,
    object carried, object message, object filtered, object log_prob, Py_ssize_t n_chunks,
    Py_ssize_t first, Py_ssize_t step,
) except -1:
    """Shapes and bounds of a filter call (the entry point checked the values);
    ``carried`` None: no sequence is carried (the lanes)."""
    cdef Py_ssize_t nc = chain.c.nc, n = em.c.n_samples, s
    check_scaled(em, scaled)
    if em.c.n_components != nc:
        raise ValueError("the emissions and the chain disagree on n_components")
    cdef const int64_t[::1] si = startidx
    cdef const int64_t[::1] sq = seqs
    cdef double[:, ::1] msg = message
    cdef double[:, ::1] out = filtered
    cdef double[::1] lp = log_prob
    cdef Py_ssize_t n_seq = si.shape[0] - 1
    cdef const unsigned char[::1] car
    if carried is not None:
        car = carried
        if car.shape[0] != n_seq:
            raise ValueError("filter: arrays and bounds disagree")
    if (n_seq < 1 or si[0] != 0 or si[n_seq] != n
            or msg.shape[0] != n_seq or msg.shape[1] != nc or out.shape[0] != n
            or out.shape[1] != nc or lp.shape[0] != n_seq or n_chunks < 1 or first < 0
            or step < 1):
        raise ValueError("filter: arrays and bounds disagree")
    for s in range(n_seq):
        if si[s + 1] <= si[s]:
            raise ValueError("filter: startidx must rise strictly")
    for s in range(sq.shape[0]):
        if sq[s] < 0 or sq[s] >= n_seq:
            raise ValueError("filter: sequence ids out of range")
    return 0


def filter_chunks(
    EmissionArrays em not None, ScaledArrays scaled not None, ChainArrays chain not None,
    seqs, startidx, carried, message, filtered, log_prob, Py_ssize_t n_chunks,
    Py_ssize_t first, Py_ssize_t step,
):
    """Filter the sequences ``seqs`` (int64 ids, increasing), one at a time, split into
    ``n_chunks`` contiguous chunks; this call runs chunks ``first, first + step, ...``
    (the entry point gives each thread its own ``first``).  Runs of consecutive ids are
    contiguous frames: their emissions are scaled together, a block at a time.

    ``carried`` uint8 (n_sequences,): continue ``message[s]`` (float64 (n_sequences,
    nc), the filtered distribution of the frame before: non-negative, summing to 1, or
    all zero for an impossible sequence) or start from ``startprob``; ``message[s]``
    receives the row of the sequence's last frame.  ``filtered`` float64 (n_samples, nc)
    receives the rows, ``log_prob`` float64 (n_sequences,) the log-likelihoods of the
    sequences' frames (given the carried past).  The entry point
    (``fastgen._kernels.hmm``) validates the values.
    """
    check_filter_call(em, scaled, chain, seqs, startidx, carried, message, filtered,
                      log_prob, n_chunks, first, step)
    cdef Emissions *e = &em.c
    cdef const int64_t[::1] si = startidx
    cdef const int64_t[::1] sq = seqs
    cdef const unsigned char[::1] car = carried
    cdef double[:, ::1] msg = message
    cdef double[:, ::1] out = filtered
    cdef double[::1] lp = log_prob
    cdef Py_ssize_t n_ids = sq.shape[0], c, q, q0, q1, r0
    cdef FilterBuffers b
    cdef int status = 0
    if n_ids == 0:
        return
    with nogil:
        status = filter_buffers_init(&b, chain.c.nc, chain.c.ncp, e.n_features)
        if status == 0:
            c = first
            while c < n_chunks:
                q0 = c * n_ids // n_chunks
                q1 = (c + 1) * n_ids // n_chunks
                r0 = q0
                for q in range(q0, q1):  # maximal runs of consecutive sequence ids
                    if q + 1 == q1 or sq[q + 1] != sq[q] + 1:
                        filter_range(&chain.c, &chain.lc, e, &scaled.c, &si[0], sq[r0],
                                     sq[q] + 1, &car[0], &msg[0, 0], &out[0, 0], &lp[0], &b)
                        r0 = q + 1
                c += step
            filter_buffers_free(&b)
    if status < 0:
        raise MemoryError()


cdef void filter_group(
    const GroupTask *task, const LogChain *lc, const int64_t *seqs, Py_ssize_t nw,
    LaneBuffers *b, FilterBuffers *fb, double *msg, double *out,
) noexcept nogil:
    """Filter the ``nw`` (at most ``STAT_LANES``) sequences ``seqs``, starting afresh,
    one per lane: the lanes' forward pass, its rows copied out; a lane it refuses is
    redone by :c:func:`filter_exact`."""
    cdef Py_ssize_t L = STAT_LANES, nc = task.ch.nc, w, t, i, lo, n, s
    cdef Py_ssize_t T = group_bounds(task.startidx, seqs, nw, b.base, b.lens)
    cdef const double *F = b.F
    if task.em.kind == EMIT_CATEGORICAL:
        lane_emissions_table(task, b, nw, T)
    else:
        lane_emissions(task, b, nw, T)
    group_forward(task, b, nw, T)
    for t in range(T):  # frame by frame: the (nc, L) block of frame t stays in cache
        for w in range(nw):
            if t < b.lens[w] and b.state[w] == LANE_OK:
                lo = b.base[w]
                for i in range(nc):
                    out[(lo + t) * nc + i] = F[(t * nc + i) * L + w]
    for w in range(nw):
        s = seqs[w]
        lo = b.base[w]
        n = b.lens[w]
        if b.state[w] != LANE_OK:
            task.log_prob[s] = filter_exact(task.ch, lc, task.em, lo, lo + n, msg + s * nc,
                                            False, fb, out)
            continue
        for i in range(nc):
            msg[s * nc + i] = out[(lo + n - 1) * nc + i]
        task.log_prob[s] = b.lp[w]


def filter_lane_chunks(
    EmissionArrays em not None, ScaledArrays scaled not None, ChainArrays chain not None,
    seqs, startidx, Py_ssize_t longest, message, filtered, log_prob, Py_ssize_t n_chunks,
    Py_ssize_t first, Py_ssize_t step,
):
    """Filter the sequences ``seqs`` (int64 ids sorted by length, none carried, none
    longer than ``longest``) ``STAT_LANES`` at a time, the groups split into ``n_chunks``
    contiguous chunks; this call runs chunks ``first, first + step, ...``.  Outputs as
    :func:`filter_chunks`."""
    check_filter_call(em, scaled, chain, seqs, startidx, None, message, filtered, log_prob,
                      n_chunks, first, step)
    cdef const int64_t[::1] si = startidx
    cdef const int64_t[::1] sq = seqs
    cdef double[:, ::1] msg = message
    cdef double[:, ::1] out = filtered
    cdef double[::1] lp = log_prob
    cdef Py_ssize_t L = STAT_LANES, n_ids = sq.shape[0], c, g, nw, s
    cdef Py_ssize_t n_groups = (n_ids + L - 1) // L
    for s in range(n_ids):
        if si[sq[s] + 1] - si[sq[s]] > longest:
            raise ValueError("filter: a sequence is longer than longest")
    if n_ids == 0:
        return
    cdef Want want
    want.post = False
    want.gamma = False
    want.xi = False
    want.stats = STATS_NONE
    cdef GroupTask task
    task.ch = &chain.c
    task.em = &em.c
    task.st = &scaled.c
    task.want = &want
    task.startidx = &si[0]
    task.log_prob = &lp[0]
    task.gamma = NULL
    cdef LaneBuffers b
    cdef FilterBuffers fb
    cdef int status = 0
    with nogil:
        status = lane_buffers_init(&b, longest, chain.c.nc, em.c.n_features, STATS_NONE,
                                   False)
        if status == 0:
            status = filter_buffers_init(&fb, chain.c.nc, chain.c.ncp, em.c.n_features)
            if status == 0:
                c = first
                while c < n_chunks:
                    for g in range(c * n_groups // n_chunks, (c + 1) * n_groups // n_chunks):
                        nw = n_ids - g * L if n_ids - g * L < L else L
                        filter_group(&task, &chain.lc, &sq[g * L], nw, &b, &fb, &msg[0, 0],
                                     &out[0, 0])
                    c += step
                filter_buffers_free(&fb)
            lane_buffers_free(&b)
    if status < 0:
        raise MemoryError()
