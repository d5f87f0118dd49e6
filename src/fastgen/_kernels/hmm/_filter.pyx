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

Fast path: scaled likelihoods ``exp(log_frame - max)`` (``fill_scaled``), a
matrix-vector product and one division per frame.  A sequence where that could lose
probability mass the log-space recurrence keeps (a tiny normaliser, or states flushed
without a positive lower bound on the transition probabilities, as in ``_sequence``) is
redone exactly in log space, from the same starting message.  A frame impossible under
the model (every state ``-inf``) zeroes its row and every later one of the sequence, and
the log-likelihood becomes ``-inf``.
"""

import numpy as np

from libc.math cimport INFINITY, exp, log
from libc.stdint cimport int64_t
from libc.stdlib cimport free

from fastgen._kernels.hmm._bundles cimport (
    Chain, ChainArrays, EmissionArrays, Emissions, LogChain, ScaledArrays, ScaledTable,
    check_scaled,
)
from fastgen._kernels.hmm._emissions cimport (
    Scaled, Workspace, fill_scaled, log_frames, workspace_free, workspace_init,
)
from fastgen._kernels.hmm._numeric cimport (
    BLOCK, MIN_SCALE, Arena, add_log_scale, arena_bytes, arena_init, arena_take,
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


def filter_chunks(
    EmissionArrays em not None, ScaledArrays scaled not None, ChainArrays chain not None,
    startidx, carried, message, filtered, log_prob, Py_ssize_t n_chunks,
    Py_ssize_t first, Py_ssize_t step,
):
    """Filter every sequence of ``startidx``, split into ``n_chunks`` contiguous chunks
    of sequences; this call runs chunks ``first, first + step, ...`` (the entry point
    gives each thread its own ``first``).

    ``carried`` uint8 (n_sequences,): continue ``message[s]`` (float64 (n_sequences,
    nc), the filtered distribution of the frame before: non-negative, summing to 1, or
    all zero for an impossible sequence) or start from ``startprob``; ``message[s]``
    receives the row of the sequence's last frame.  ``filtered`` float64 (n_samples, nc) receives the rows, ``log_prob`` float64
    (n_sequences,) the log-likelihoods of the sequences' frames (given the carried past).
    The entry point (``fastgen._kernels.hmm``) validates the model and the bounds.
    """
    cdef Emissions *e = &em.c
    cdef Py_ssize_t nc = chain.c.nc, n = e.n_samples
    check_scaled(em, scaled)
    if e.n_components != nc:
        raise ValueError("the emissions and the chain disagree on n_components")
    cdef const int64_t[::1] si = startidx
    cdef const unsigned char[::1] car = carried
    cdef double[:, ::1] msg = message
    cdef double[:, ::1] out = filtered
    cdef double[::1] lp = log_prob
    cdef Py_ssize_t n_seq = si.shape[0] - 1, c, s, q0, q1
    if (n_seq < 1 or si[0] != 0 or si[n_seq] != n or car.shape[0] != n_seq
            or msg.shape[0] != n_seq or msg.shape[1] != nc or out.shape[0] != n
            or out.shape[1] != nc or lp.shape[0] != n_seq or n_chunks < 1 or first < 0
            or step < 1):
        raise ValueError("filter_chunks: arrays and bounds disagree")
    for s in range(n_seq):
        if si[s + 1] <= si[s]:
            raise ValueError("filter_chunks: startidx must rise strictly")
    cdef FilterBuffers b
    cdef int status = 0
    with nogil:
        status = filter_buffers_init(&b, nc, chain.c.ncp, e.n_features)
        if status == 0:
            c = first
            while c < n_chunks:
                q0 = c * n_seq // n_chunks
                q1 = (c + 1) * n_seq // n_chunks
                if q1 > q0:
                    filter_range(&chain.c, &chain.lc, e, &scaled.c, &si[0], q0, q1, &car[0],
                                 &msg[0, 0], &out[0, 0], &lp[0], &b)
                c += step
            filter_buffers_free(&b)
    if status < 0:
        raise MemoryError()
