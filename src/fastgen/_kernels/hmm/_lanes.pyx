# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Lane-wise forward-backward: many short sequences at once, one per lane.

Short sequences are cheap one at a time only in theory: with a handful of states the
per-frame loops over the states are too short to vectorise and the recurrences are
latency bound.  Here up to ``L = STAT_LANES`` (64) sequences, sorted by length by the
entry point, run together as a *group*, sequence ``w`` in lane ``w`` of (T, nc, L)
lane arrays (index ``(t * nc + i) * L + w``).  The recurrences, posteriors, expected
transitions and Gaussian statistics then loop over the lanes innermost (element-wise,
vectorised), the transition probabilities being scalars.  Every lane does the
frame-by-frame arithmetic of the per-sequence path on its own sequence -- the scaled
forward pass normalised frame by frame (``forward_normalised`` in ``_sequence.pyx``),
the scaled backward pass (``backward_fast``) and the posterior rows -- with the same
sums in the same order, so a sequence's log-likelihood and posteriors do not depend on
the group it lands in or on the other lanes.  Shorter sequences run past their end on
neutral frames (likelihood 1) that nothing reads; lanes past the group's last sequence
are not computed (or compute on neutral frames).

A lane whose scaled pass is refused (log space: a tiny normaliser, or flushed states
without a positive lower bound on the transitions; or an overflow of the backward pass)
is redone by ``exact_sequence``, the one underflow fallback of every path; with the
scaling implementation an underflow or overflow gives a NaN log-likelihood and zero
posteriors, as hmmlearn.

Groups are dealt into ``n_chunks`` fixed chunks of consecutive groups; chunk ``c`` adds
into its own accumulator row, the lane sums being reduced (``reduce_lanes``) at the end
of every chunk, so results do not depend on which thread runs which chunk.  The one
``def`` function is :func:`estep_lane_chunks`; ``_lanes.pxd`` declares the buffers and
the phases ``_filter`` reuses (emissions and the forward pass).

This replaces, operation for operation, the lane-wise groups of fastgen's former Numba
kernels.
"""

from libc.math cimport INFINITY, NAN, log
from libc.stdint cimport int64_t
from libc.stdlib cimport free

from fastgen._kernels.hmm._bundles cimport (
    EMIT_CATEGORICAL, EMIT_DIAG, EMIT_FULL, STATS_CATEGORICAL, STATS_DIAG, STATS_FULL,
    STATS_MEANS, STATS_NONE, Accum, Accumulators, Chain, ChainArrays, EmissionArrays,
    Emissions, ScaledArrays, ScaledTable, Want, check_estep_call, clamp_scaled, gamma_ptr,
    group_bounds, make_want,
)
from fastgen._kernels.hmm._emissions cimport (
    Workspace, log_frames, workspace_free, workspace_init,
)
from fastgen._kernels.hmm._numeric cimport (
    FLUSH, MIN_SCALE, MIN_SUM, STAT_LANES, Arena, add_log_scale, arena_bytes, arena_init,
    arena_take, lane_combination, vexp,
)
from fastgen._kernels.hmm._sequence cimport ExactBuffers, exact_sequence
from fastgen._kernels.hmm._stats cimport (
    StatLanes, add_lane_outer, lane_products, reduce_lanes, stat_lanes_free, stat_lanes_init,
)


cdef inline size_t _items(size_t n_bytes) noexcept nogil:
    """8-byte arena items holding ``n_bytes`` bytes."""
    return (n_bytes + 7) // 8


cdef int lane_buffers_init(
    LaneBuffers *b, Py_ssize_t T, Py_ssize_t nc, Py_ssize_t nf, int stats, bint want_post
) noexcept nogil:
    """Allocate ``b`` for sequences of up to ``T`` frames (one arena, zeroed), the
    emission workspace and the statistics lanes; -1 when out of memory (``b`` then
    holds nothing to free)."""
    cdef size_t L = STAT_LANES
    cdef size_t tn = <size_t>T * nc, tl = <size_t>T * L
    cdef size_t tnl = tn * L, nb = tnl if want_post else 0
    cdef size_t nxx = nf * nf if nf * nf > 1 else 1
    cdef Arena a
    b._mem = NULL
    b.ws._mem = NULL
    b.lanes._mem = NULL
    b.T = T
    if arena_init(&a, (
        arena_bytes(L * tn) + 3 * arena_bytes(tn) + arena_bytes(nxx) + 2 * arena_bytes(tnl)
        + arena_bytes(nb) + 2 * arena_bytes(tl) + arena_bytes(_items(tl))
        + 8 * arena_bytes(L) + arena_bytes(nc * L)
    ), zero=False) < 0:  # every buffer is written before it is read
        return -1
    b._mem = a.base
    b.src = <double *>arena_take(&a, L * tn)
    b.fwd1 = <double *>arena_take(&a, tn)
    b.bwd1 = <double *>arena_take(&a, tn)
    b.gam1 = <double *>arena_take(&a, tn)
    b.xx = <double *>arena_take(&a, nxx)
    b.FR = <double *>arena_take(&a, tnl)
    b.F = <double *>arena_take(&a, tnl)
    b.B = <double *>arena_take(&a, nb)
    b.CC = <double *>arena_take(&a, tl)
    b.S = <double *>arena_take(&a, tl)
    b.FL = <unsigned char *>arena_take(&a, _items(tl))
    b.P = <double *>arena_take(&a, L)
    b.tot = <double *>arena_take(&a, L)
    b.lp = <double *>arena_take(&a, L)
    b.W = <double *>arena_take(&a, nc * L)
    b.base = <int64_t *>arena_take(&a, L)
    b.lens = <int64_t *>arena_take(&a, L)
    b.state = <int64_t *>arena_take(&a, L)
    b.valid = <int64_t *>arena_take(&a, L)
    b.live = <int64_t *>arena_take(&a, L)
    if workspace_init(&b.ws, nf, nc) < 0 or stat_lanes_init(&b.lanes, stats, nc, nf) < 0:
        lane_buffers_free(b)
        return -1
    b.ex.lf = b.src
    b.ex.fwd = b.fwd1
    b.ex.bwd = b.bwd1
    b.ex.gam = b.gam1
    b.ex.xx = b.xx
    b.ex.ws = &b.ws
    return 0


cdef void lane_buffers_free(LaneBuffers *b) noexcept nogil:
    free(b._mem)
    b._mem = NULL
    workspace_free(&b.ws)
    stat_lanes_free(&b.lanes)


# --------------------------------------------------------------------------- emissions


cdef void lane_emissions_table(
    const GroupTask *task, LaneBuffers *b, Py_ssize_t nw, Py_ssize_t T
) noexcept nogil:
    """Categorical scaled emissions of the lanes into ``FR``, ``CC`` and ``FL``: rows of
    the precomputed per-symbol table (as ``fill_scaled``); neutral frames (likelihood 1,
    shift 0, not flagged) past a sequence's end."""
    cdef Py_ssize_t L = STAT_LANES, nc = task.ch.nc, t, w, i
    cdef const ScaledTable *st = task.st
    cdef int64_t q
    cdef double *FRt
    for t in range(T):
        FRt = b.FR + t * nc * L
        for w in range(nw):
            if t < b.lens[w]:
                q = task.em.sym[b.base[w] + t]
                for i in range(nc):
                    FRt[i * L + w] = st.rows[q * nc + i]
                b.CC[t * L + w] = st.shift[q]
                b.FL[t * L + w] = st.flag[q]
                if task.em.clamp != NULL:
                    clamp_scaled(task.em, b.base[w] + t, task.ch.log_space,
                                 task.em.table + q * nc, FRt + w, L, b.CC + t * L + w,
                                 b.FL + t * L + w)
            else:
                for i in range(nc):
                    FRt[i * L + w] = 1.0
                b.CC[t * L + w] = 0.0
                b.FL[t * L + w] = 0


cdef void lane_emissions(
    const GroupTask *task, LaneBuffers *b, Py_ssize_t nw, Py_ssize_t T
) noexcept nogil:
    """Scaled emissions of the lanes into ``FR``, ``CC`` and ``FL``, element for element
    those of ``fill_scaled``: log-likelihoods sequence by sequence (``log_frames``, into
    ``src``), transposed into the lanes, then per frame the maximum over the states, the
    shift, the flags and ``vexp`` vectorised over the lanes.  Frames past a sequence's
    end (and unused lanes) get log-likelihood 0, hence likelihood 1."""
    cdef Py_ssize_t L = STAT_LANES, nc = task.ch.nc, t, w, i
    cdef double *src = b.src
    cdef double *m = b.P
    cdef double *FRt
    cdef double *fi
    cdef double *CCt
    cdef unsigned char *FLt
    cdef double d
    for w in range(nw):
        log_frames(task.em, b.base[w], b.base[w] + b.lens[w], &b.ws, src + w * T * nc)
    for t in range(T):
        FRt = b.FR + t * nc * L
        CCt = b.CC + t * L
        FLt = b.FL + t * L
        for w in range(L):
            if w < nw and t < b.lens[w]:
                for i in range(nc):
                    FRt[i * L + w] = src[(w * T + t) * nc + i]
            else:
                for i in range(nc):
                    FRt[i * L + w] = 0.0
        if task.ch.log_space:
            for w in range(L):
                m[w] = -INFINITY
            for i in range(nc):
                fi = FRt + i * L
                for w in range(L):
                    m[w] = fi[w] if fi[w] > m[w] else m[w]
            for w in range(L):
                CCt[w] = m[w]
                FLt[w] = m[w] == -INFINITY
            for i in range(nc):  # as fill_scaled: no shift where every state is impossible
                fi = FRt + i * L
                for w in range(L):
                    d = fi[w] - m[w] if m[w] != -INFINITY else fi[w]
                    fi[w] = d
                    FLt[w] = FLt[w] | (d < FLUSH)
        else:
            for w in range(L):
                CCt[w] = 0.0
                FLt[w] = 0
        vexp(FRt, nc * L, b.ws.poly, b.ws.scale)


# --------------------------------------------------------------------------- recurrences


cdef inline void check_normalisers(
    LaneBuffers *b, Py_ssize_t t, Py_ssize_t nw, double a_min, bint log_space
) noexcept nogil:
    """Frame ``t`` of the forward pass: mark the lanes (within their length) whose
    normaliser ``S[t]`` the scaled pass refuses -- log space: below ``MIN_SCALE``, or a
    flagged frame without ``S * a_min >= MIN_SCALE``; scaling: below ``MIN_SUM`` (NaN
    fails both) -- as ``LANE_EXACT`` (log space) or ``LANE_NAN``; ``P[w] := 1 / S[t]``.
    The tests are branch-free (bitwise), so the loop vectorises."""
    cdef Py_ssize_t L = STAT_LANES, w
    cdef const double *St = b.S + t * L
    cdef const unsigned char *FLt = b.FL + t * L
    cdef int64_t *state = b.state
    cdef const int64_t *lens = b.lens
    cdef double *P = b.P
    cdef double s
    cdef int64_t refused
    if log_space:
        for w in range(nw):
            s = St[w]
            refused = not ((s >= MIN_SCALE) & ((FLt[w] == 0) | (s * a_min >= MIN_SCALE)))
            state[w] = LANE_EXACT if (t < lens[w]) & refused else state[w]
            P[w] = 1.0 / s
    else:
        for w in range(nw):
            s = St[w]
            refused = not (s >= MIN_SUM)
            state[w] = LANE_NAN if (t < lens[w]) & refused else state[w]
            P[w] = 1.0 / s


cdef void group_forward(
    const GroupTask *task, LaneBuffers *b, Py_ssize_t nw, Py_ssize_t T
) noexcept nogil:
    """Forward rows of the lanes, as ``forward_normalised``: ``F[t] = (F[t-1] @ A) *
    fr[t] / S[t]`` with ``S[t]`` the row sum; a lane with a normaliser the scaled pass
    refuses (within its length) is marked ``LANE_EXACT`` (log space) or ``LANE_NAN``.
    Then the lanes' log-likelihoods ``sum log S[t] + sum CC[t]`` (``valid`` where finite
    and the state is ``LANE_OK``)."""
    cdef const Chain *ch = task.ch
    cdef Py_ssize_t L = STAT_LANES, nc = ch.nc, t, w, i
    cdef double *P = b.P
    cdef double *St
    cdef double *Ft
    cdef double *FRt
    cdef double *ri
    cdef const double *fi
    cdef double p, v, s, acc, prod, shift
    for w in range(nw):
        b.state[w] = LANE_OK
    for t in range(T):
        Ft = b.F + t * nc * L
        FRt = b.FR + t * nc * L
        St = b.S + t * L
        for w in range(nw):
            St[w] = 0.0
        for i in range(nc):
            fi = FRt + i * L
            ri = Ft + i * L
            if t == 0:
                p = ch.startprob[i]
                for w in range(nw):
                    v = p * fi[w]
                    ri[w] = v
                    St[w] += v
            else:
                lane_combination(Ft - nc * L, L, ch.transmat, i, nc, P, nw)
                for w in range(nw):
                    v = P[w] * fi[w]
                    ri[w] = v
                    St[w] += v
        check_normalisers(b, t, nw, ch.a_min, ch.log_space)
        for i in range(nc):
            ri = Ft + i * L
            for w in range(nw):
                ri[w] *= P[w]
    for w in range(nw):  # log-likelihoods, as forward_normalised
        if b.state[w] != LANE_OK:
            b.lp[w] = NAN
            b.valid[w] = 0
            continue
        acc = 0.0
        prod = 1.0
        shift = 0.0
        for t in range(b.lens[w]):
            s = b.S[t * L + w]
            shift += b.CC[t * L + w]
            add_log_scale(s, &acc, &prod)
        b.lp[w] = acc + log(prod) + shift
        b.valid[w] = b.lp[w] == b.lp[w]


cdef void group_backward(
    const GroupTask *task, LaneBuffers *b, Py_ssize_t nw, Py_ssize_t T
) noexcept nogil:
    """Backward rows of the lanes (as ``backward_fast``): ``bwd[n-1] = 1 / S[n-1]``,
    ``bwd[t] = A @ (fr[t+1] / S[t] * bwd[t+1])``; a lane whose rows overflow is marked
    for the exact pass (log space) or NaN (scaling)."""
    cdef const Chain *ch = task.ch
    cdef Py_ssize_t L = STAT_LANES, nc = ch.nc, t, w, i, j, n
    cdef double *P = b.P
    cdef double *W = b.W
    cdef double *tot = b.tot
    cdef double *Bt
    cdef double *bi
    cdef double *wj
    cdef const double *St
    cdef const double *Bn
    cdef const double *FRn
    cdef const double *fj
    cdef const double *bj
    cdef int bad = LANE_EXACT if ch.log_space else LANE_NAN
    Bt = b.B + (T - 1) * nc * L
    for w in range(nw):
        P[w] = 1.0 / b.S[(T - 1) * L + w]
    for i in range(nc):
        bi = Bt + i * L
        for w in range(nw):
            bi[w] = P[w]
    for t in range(T - 2, -1, -1):
        St = b.S + t * L
        Bn = b.B + (t + 1) * nc * L
        FRn = b.FR + (t + 1) * nc * L
        Bt = b.B + t * nc * L
        for w in range(nw):
            P[w] = 1.0 / St[w]
            tot[w] = 0.0
        for j in range(nc):
            wj = W + j * L
            fj = FRn + j * L
            bj = Bn + j * L
            for w in range(nw):
                wj[w] = fj[w] * P[w] * bj[w]
        for i in range(nc):
            bi = Bt + i * L
            lane_combination(W, L, ch.transmat_t, i, nc, bi, nw)
            for w in range(nw):
                tot[w] += bi[w]
        for w in range(nw):
            n = b.lens[w]
            if t == n - 1:  # this lane's last frame
                for i in range(nc):
                    Bt[i * L + w] = P[w]
            elif t < n - 1 and b.valid[w] and b.state[w] == LANE_OK and not tot[w] < INFINITY:
                b.state[w] = bad
                b.lp[w] = NAN
    for w in range(nw):
        b.valid[w] = b.valid[w] & (b.state[w] == LANE_OK)


cdef void group_posteriors(
    const GroupTask *task, LaneBuffers *b, Py_ssize_t nw, Py_ssize_t T, Accum *acc
) noexcept nogil:
    """Posteriors, start counts, emission statistics and expected transitions of the
    valid lanes (as ``posterior_rows``), frame by frame over all lanes: posteriors into
    ``gamma``, start and categorical counts into ``acc``; the Gaussian statistics and
    the transitions (without the factor ``transmat``) into the lane sums, the other
    lanes adding zeros."""
    cdef const Emissions *em = task.em
    cdef const Want *want = task.want
    cdef StatLanes *s = &b.lanes
    cdef Py_ssize_t L = STAT_LANES, nc = task.ch.nc, nf = s.nf, t, w, i, j, f, r
    cdef double *GT = s.GT
    cdef double *inv = s.inv
    cdef int64_t *live = b.live
    cdef const int64_t *valid = b.valid
    cdef const int64_t *lens = b.lens
    cdef double *gi
    cdef double *dst
    cdef const double *fi
    cdef const double *bi
    cdef const double *Ft
    cdef const double *Bt
    cdef const double *FRn
    cdef const double *Bn
    cdef int64_t q
    cdef double v
    cdef const double *wt = acc.weight
    cdef bint gaussian = (
        want.stats == STATS_MEANS or want.stats == STATS_DIAG or want.stats == STATS_FULL
    )
    for t in range(T):
        Ft = b.F + t * nc * L
        Bt = b.B + t * nc * L
        for i in range(nc):
            gi = GT + i * L
            fi = Ft + i * L
            bi = Bt + i * L
            for w in range(nw):
                gi[w] = fi[w] * bi[w]
        for w in range(nw):
            inv[w] = 0.0
        for i in range(nc):
            gi = GT + i * L
            for w in range(nw):
                inv[w] += gi[w]
        for w in range(nw):
            live[w] = valid[w] & (t < lens[w])
            inv[w] = 1.0 / inv[w]
        for i in range(nc):
            gi = GT + i * L
            for w in range(nw):  # the product taken in every lane: a select, vectorised
                v = gi[w] * inv[w]
                gi[w] = v if live[w] else 0.0
        for w in range(nw):
            if not live[w]:
                continue
            r = b.base[w] + t
            if t == 0:
                if wt != NULL:
                    for i in range(nc):
                        acc.start[i] += GT[i * L + w] * wt[r]
                else:
                    for i in range(nc):
                        acc.start[i] += GT[i * L + w]
            if want.gamma and task.gamma != NULL:
                for i in range(nc):
                    task.gamma[r * nc + i] = GT[i * L + w]
            if wt != NULL:  # the statistics of a frame count weight[t] times
                for i in range(nc):
                    GT[i * L + w] *= wt[r]
            if want.stats == STATS_CATEGORICAL:
                q = em.sym[r]
                for i in range(nc):
                    acc.obs[i * acc.n_obs + q] += GT[i * L + w]
        if gaussian:
            for f in range(nf):
                dst = s.XT + f * L
                for w in range(nw):
                    dst[w] = em.X[(b.base[w] + t) * nf + f] if live[w] else 0.0
            lane_products(s, nw)
        if want.xi and t < T - 1:
            FRn = b.FR + (t + 1) * nc * L
            Bn = b.B + (t + 1) * nc * L
            for w in range(nw):  # lanes with a transition t -> t + 1
                live[w] = valid[w] & (t < lens[w] - 1)
            for i in range(nc):
                dst = s.FT + i * L
                fi = Ft + i * L
                for w in range(nw):
                    v = fi[w]
                    dst[w] = v if live[w] else 0.0
            for j in range(nc):
                dst = s.WT + j * L
                fi = FRn + j * L
                bi = Bn + j * L
                for w in range(nw):
                    v = fi[w] * bi[w]
                    dst[w] = v if live[w] else 0.0
                if wt != NULL:  # the transition into frame t + 1 counts its weight
                    for w in range(nw):
                        if live[w]:
                            dst[w] *= wt[b.base[w] + t + 1]
            add_lane_outer(s.FT, nc, s.WT, nc, nw, s.lxi)


cdef void fb_group(
    const GroupTask *task, const int64_t *seqs, Py_ssize_t nw, LaneBuffers *b, Accum *acc
) noexcept nogil:
    """Scaled forward-backward of the ``nw`` (at most ``STAT_LANES``) sequences ``seqs``,
    one per lane (see the module docstring): log-likelihoods into ``task.log_prob``,
    posteriors into ``task.gamma``, statistics into ``acc`` and the lane sums of
    ``b.lanes``.  Lanes marked ``LANE_EXACT`` are then redone by ``exact_sequence``;
    a NaN log-likelihood (scaling implementation) gets zero posteriors."""
    cdef Py_ssize_t T = group_bounds(task.startidx, seqs, nw, b.base, b.lens), w, r
    cdef Py_ssize_t nc = task.ch.nc, lo, hi
    cdef double v
    if task.em.kind == EMIT_CATEGORICAL:
        lane_emissions_table(task, b, nw, T)
    else:
        lane_emissions(task, b, nw, T)
    group_forward(task, b, nw, T)
    if task.want.post:
        group_backward(task, b, nw, T)
        group_posteriors(task, b, nw, T, acc)
    for w in range(nw):
        lo = b.base[w]
        hi = lo + b.lens[w]
        v = b.lp[w]
        if b.state[w] == LANE_EXACT:
            v = exact_sequence(task.ch, task.em, lo, hi, task.want, &b.ex, task.gamma, acc)
        elif task.want.gamma and task.gamma != NULL and v != v:
            for r in range(lo * nc, hi * nc):
                task.gamma[r] = 0.0
        task.log_prob[seqs[w]] = v


# --------------------------------------------------------------------------- driver


def estep_lane_chunks(
    EmissionArrays em not None, ScaledArrays scaled not None, ChainArrays chain not None,
    tuple want, seqs, startidx, Py_ssize_t n_chunks, Py_ssize_t first, Py_ssize_t step,
    Accumulators acc not None,
    Py_ssize_t row0, log_prob, gamma,
):
    """Forward-backward of the sequences ``seqs`` (int64 ids, sorted by length),
    ``STAT_LANES`` at a time (groups of consecutive ids), the groups split into
    ``n_chunks`` contiguous chunks; this call runs chunks ``first, first + step, ...``
    (the entry points give each thread its own ``first``) with buffers allocated once,
    sized for the longest of all ``seqs``.  Chunk ``c`` adds into accumulator row
    ``row0 + c`` and leaves its lane sums zeroed, so results do not depend on which
    thread runs it.  ``want``: ``(post, gamma, xi, stats)``; ``gamma``: float64
    (n_samples, nc) or None; ``log_prob``: float64 (n_sequences,), written for ``seqs``.
    The work runs without the GIL."""
    cdef Emissions *e = &em.c
    cdef Want w = make_want(want)
    cdef Py_ssize_t longest = check_estep_call(
        &w, em, scaled, chain, acc, seqs, startidx, n_chunks, first, step, row0, log_prob
    )
    cdef double *gam = gamma_ptr(gamma, e.n_samples, e.n_components) if w.gamma else NULL
    cdef const int64_t[::1] sq = seqs
    cdef const int64_t[::1] si = startidx
    cdef double[::1] lp = log_prob
    cdef Py_ssize_t L = STAT_LANES, n_seq = sq.shape[0], T = longest, q, c, g, nw
    cdef Py_ssize_t n_groups = (n_seq + L - 1) // L
    cdef GroupTask task
    task.ch = &chain.c
    task.em = e
    task.st = &scaled.c
    task.want = &w
    task.startidx = &si[0]
    task.log_prob = &lp[0] if lp.shape[0] else NULL
    task.gamma = gam
    cdef const int64_t *ids = &sq[0] if n_seq else NULL
    cdef LaneBuffers b
    cdef Accum a
    cdef int status = 0
    with nogil:
        status = lane_buffers_init(&b, T, chain.c.nc, e.n_features, w.stats, w.post)
        if status == 0:
            c = first
            while c < n_chunks:
                with gil:
                    a = acc.row(row0 + c)
                for g in range(c * n_groups // n_chunks, (c + 1) * n_groups // n_chunks):
                    nw = n_seq - g * L if n_seq - g * L < L else L
                    fb_group(&task, ids + g * L, nw, &b, &a)
                reduce_lanes(&b.lanes, chain.c.transmat, &a)
                c += step
            lane_buffers_free(&b)
    if status < 0:
        raise MemoryError()
