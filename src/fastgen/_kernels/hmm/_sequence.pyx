# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Forward-backward of one sequence at a time, and the driver of many such sequences.

The arithmetic follows hmmlearn's ``_hmmc`` extension: the same recurrences, the same
``1e-300`` underflow threshold of the scaled forward pass.  hmmlearn's log-space
results are obtained from per-frame scaled likelihoods ``exp(log_frame - max)`` (one
``exp`` per state and frame, no logarithm in the inner loops, see ``_emissions.pyx``);
a sequence where that could lose probability mass that log-space recurrences keep (a
frame whose normaliser is tiny, or states flushed to zero without a positive lower bound
on the transition probabilities) is redone with the exact log-space recurrences
(:c:func:`exact_sequence`, the one underflow fallback of every path).

The log-space forward recurrence keeps its normalisation off the critical path: rows are
rescaled by powers of two chosen two frames back (:c:func:`forward_lagged`), the
division by each frame's normaliser hanging off the chain; a sequence with a normaliser
below ``2**-200`` takes the frame-by-frame pass (:c:func:`forward_normalised`) instead.
Posteriors, expected transitions and Gaussian statistics are formed lane-wise,
``STAT_LANES`` frames at a time (``_stats.pyx``).

``def`` functions: :func:`estep_chunks` (sequences in fixed chunks, each adding into its
own accumulator row) and the four phases of one long sequence (:func:`fill_scaled_blocks`,
:func:`forward_scaled`, :func:`backward_scaled`, :func:`posterior_blocks`), whose time
blocks the entry points spread over threads, plus :func:`exact` and the log-space
passes :func:`forward_log_pass` / :func:`backward_log_pass`.
"""

import numpy as np

from libc.float cimport DBL_MIN
from libc.math cimport INFINITY, NAN, exp, isinf, log
from libc.stdint cimport int64_t
from libc.stdlib cimport free

from fastgen._kernels.hmm._bundles cimport (
    STATS_CATEGORICAL, STATS_DIAG, STATS_FULL, STATS_MEANS, STATS_NONE, Accum,
    Accumulators, Chain, ChainArrays, EmissionArrays, Emissions, ScaledArrays,
    ScaledTable, Want, check_estep_call, check_scaled, check_work, gamma_ptr,
    make_want,
)
from fastgen._kernels.hmm._emissions cimport (
    Scaled, Workspace, fill_scaled, log_frames, workspace_free, workspace_init,
)
from fastgen._kernels.hmm._numeric cimport (
    LAG_MIN_SCALE, LN2, MIN_SCALE, MIN_SUM, STAT_LANES, Arena, add_log_scale, arena_bytes,
    arena_init, arena_take, bits_double, double_bits, matvec_lanes,
)
from fastgen._kernels.hmm._stats cimport (
    StatLanes, add_frame_stats, add_lane_outer, lane_stats, reduce_lanes, stat_lanes_free,
    stat_lanes_init,
)


# --------------------------------------------------------------------------- log space


cdef double logsumexp_row(const double *a, Py_ssize_t n) noexcept nogil:
    cdef double m = -INFINITY, s = 0.0
    cdef Py_ssize_t i
    for i in range(n):
        if a[i] > m:
            m = a[i]
    if isinf(m):
        return m
    for i in range(n):
        s += exp(a[i] - m)
    return log(s) + m


cdef double log_sum_column(
    const double *v, const double *a, Py_ssize_t nc, Py_ssize_t stride
) noexcept nogil:
    """``log(sum_k a[k * stride] * exp(v[k]))`` over the terms with ``a > 0``, with their
    own maximum: exact where a sum scaled by another maximum underflowed (-inf when no
    term has mass)."""
    cdef Py_ssize_t k
    cdef double m = -INFINITY, s = 0.0, u
    for k in range(nc):
        if a[k * stride] > 0.0:
            u = v[k] + log(a[k * stride])
            if u > m:
                m = u
    if isinf(m):
        return m
    for k in range(nc):
        if a[k * stride] > 0.0:
            s += exp(v[k] + log(a[k * stride]) - m)
    return log(s) + m


cdef double forward_log(
    const double *startprob, const double *transmat, const double *log_frame, Py_ssize_t n,
    Py_ssize_t nc, double *fwd, double *buf,
) noexcept nogil:
    """Log-space forward pass into ``fwd`` (n, nc); returns the log-likelihood.
    ``buf``: scratch of ``nc`` entries."""
    cdef Py_ssize_t t, i, j
    cdef double m, s
    for i in range(nc):
        fwd[i] = log(startprob[i]) + log_frame[i]
    for t in range(1, n):
        m = -INFINITY
        for i in range(nc):
            if fwd[(t - 1) * nc + i] > m:
                m = fwd[(t - 1) * nc + i]
        if isinf(m):
            for j in range(nc):
                fwd[t * nc + j] = m + log_frame[t * nc + j]
            continue
        for i in range(nc):
            buf[i] = exp(fwd[(t - 1) * nc + i] - m)
        for j in range(nc):
            s = 0.0
            for i in range(nc):
                s += buf[i] * transmat[i * nc + j]
            if s < DBL_MIN:  # underflowed against the row's maximum: this entry's own
                s = log_sum_column(fwd + (t - 1) * nc, transmat + j, nc, nc)
                fwd[t * nc + j] = s + log_frame[t * nc + j]
            else:
                fwd[t * nc + j] = log(s) + m + log_frame[t * nc + j]
    return logsumexp_row(fwd + (n - 1) * nc, nc)


cdef void backward_log(
    const double *transmat, const double *log_frame, Py_ssize_t n, Py_ssize_t nc,
    double *bwd, double *buf,
) noexcept nogil:
    """Log-space backward pass into ``bwd`` (n, nc); ``buf``: scratch of ``nc``."""
    cdef Py_ssize_t t, i, j
    cdef double m, s
    for i in range(nc):
        bwd[(n - 1) * nc + i] = 0.0
    for t in range(n - 2, -1, -1):
        m = -INFINITY
        for j in range(nc):
            buf[j] = log_frame[(t + 1) * nc + j] + bwd[(t + 1) * nc + j]
            if buf[j] > m:
                m = buf[j]
        if isinf(m):
            for i in range(nc):
                bwd[t * nc + i] = m
            continue
        for j in range(nc):
            buf[j] = exp(buf[j] - m)
        for i in range(nc):
            s = 0.0
            for j in range(nc):
                s += transmat[i * nc + j] * buf[j]
            if s < DBL_MIN:  # underflowed against the row's maximum: this entry's own
                for j in range(nc):
                    buf[j] = log_frame[(t + 1) * nc + j] + bwd[(t + 1) * nc + j]
                bwd[t * nc + i] = log_sum_column(buf, transmat + i * nc, nc, 1)
                for j in range(nc):  # restore the scaled terms for the next states
                    buf[j] = exp(buf[j] - m)
            else:
                bwd[t * nc + i] = log(s) + m


cdef void posteriors_log(
    const double *fwd, const double *bwd, Py_ssize_t n, Py_ssize_t nc, double *gamma
) noexcept nogil:
    """gamma[t] = exp(fwd[t] + bwd[t]) normalised per frame (hmmlearn's log_normalize);
    a frame with no mass at all gets NaN, as hmmlearn's ``-inf - -inf``."""
    cdef Py_ssize_t t, i
    cdef double m, v, acc
    for t in range(n):
        if nc == 1:
            gamma[t] = 1.0
            continue
        m = -INFINITY
        for i in range(nc):
            v = fwd[t * nc + i] + bwd[t * nc + i]
            gamma[t * nc + i] = v
            if v > m:
                m = v
        if isinf(m):  # no mass at all (as hmmlearn: -inf - -inf)
            for i in range(nc):
                gamma[t * nc + i] = NAN
            continue
        acc = 0.0
        for i in range(nc):
            gamma[t * nc + i] = exp(gamma[t * nc + i] - m)
            acc += gamma[t * nc + i]
        for i in range(nc):
            gamma[t * nc + i] /= acc


cdef void xi_sum_log(
    const double *transmat, const double *log_frame, const double *fwd, const double *bwd,
    double log_prob, Py_ssize_t n, Py_ssize_t nc, double *out, double *a, const double *wt,
) noexcept nogil:
    """out[i, j] += sum_t exp(fwd[t,i] + log A[i,j] + log_frame[t+1,j] + bwd[t+1,j] - L),
    each term times ``wt[t + 1]`` when ``wt`` is not NULL; ``a``: scratch of ``nc``."""
    cdef Py_ssize_t t, i, j
    cdef double ma, d, b, w
    for t in range(n - 1):
        ma = -INFINITY
        for i in range(nc):
            if fwd[t * nc + i] > ma:
                ma = fwd[t * nc + i]
        if isinf(ma):
            continue
        for i in range(nc):
            a[i] = exp(fwd[t * nc + i] - ma)
        w = wt[t + 1] if wt != NULL else 1.0
        if w == 0.0:
            continue
        for j in range(nc):
            d = log_frame[(t + 1) * nc + j] + bwd[(t + 1) * nc + j] + ma - log_prob
            if d < 700.0:
                b = exp(d)
                if wt != NULL:
                    b = b * w
                for i in range(nc):
                    out[i * nc + j] += a[i] * transmat[i * nc + j] * b
            else:  # exact per-pair exponent: keeps 0 * inf out
                for i in range(nc):
                    if transmat[i * nc + j] > 0.0:
                        out[i * nc + j] += w * exp(
                            fwd[t * nc + i] + log(transmat[i * nc + j])
                            + log_frame[(t + 1) * nc + j] + bwd[(t + 1) * nc + j] - log_prob
                        )


cdef double exact_sequence(
    const Chain *ch, const Emissions *em, Py_ssize_t lo, Py_ssize_t hi, const Want *want,
    ExactBuffers *buf, double *gamma, Accum *acc,
) noexcept nogil:
    """hmmlearn's log-space forward-backward of frames ``lo:hi`` (the safe path): the
    log-likelihood, and with ``want.post`` the posteriors (into ``gamma`` when given),
    statistics and expected transitions added into ``acc``."""
    cdef Py_ssize_t n = hi - lo, nc = ch.nc, r, i
    cdef double lp
    log_frames(em, lo, hi, buf.ws, buf.lf)
    lp = forward_log(ch.startprob, ch.transmat, buf.lf, n, nc, buf.fwd, buf.gam)
    if not want.post:
        return lp
    if not lp > -INFINITY:  # impossible sequence: no posterior mass
        if want.gamma and gamma != NULL:
            for r in range(n * nc):
                gamma[lo * nc + r] = 0.0
        return lp
    backward_log(ch.transmat, buf.lf, n, nc, buf.bwd, buf.gam)
    posteriors_log(buf.fwd, buf.bwd, n, nc, buf.gam)
    cdef const double *wt = acc.weight + lo if acc.weight != NULL else NULL
    for i in range(nc):
        acc.start[i] += buf.gam[i] * wt[0] if wt != NULL else buf.gam[i]
    for r in range(n):
        if want.gamma and gamma != NULL:
            for i in range(nc):
                gamma[(lo + r) * nc + i] = buf.gam[r * nc + i]
        if wt != NULL:  # the statistics of a frame count weight[t] times
            for i in range(nc):
                buf.gam[r * nc + i] *= wt[r]
        if want.stats != STATS_NONE:
            add_frame_stats(want.stats, em, lo + r, buf.gam + r * nc, buf.xx, acc)
    if want.xi and n > 1:
        xi_sum_log(ch.transmat, buf.lf, buf.fwd, buf.bwd, lp, n, nc, acc.trans, buf.gam, wt)
    return lp


# --------------------------------------------------------------------------- scaled passes


cdef double forward_lagged(
    const Chain *ch, const Scaled *sc, Py_ssize_t n, double *fwd, double *scale,
    double *pred, bint *ok,
) noexcept nogil:
    """Log-space forward pass with the normalisation off the recurrence.

    The recurrence carries unnormalised rows ``alpha[t] = (alpha[t-1] @ A) * fr[t] * r[t]``
    where ``r[t]`` is a power of two taken from the sum ``S[t-2]`` of two frames back, so
    that ``S[t-2] r[t-1] r[t]`` lies in ``[1, 2)`` and ``S[t]`` within ``[1, 2)`` times the
    product of the last two normalisers.  Dividing by ``S[t]`` (``fwd[t]``, normalised to
    sum 1 as hmmlearn's) and the normaliser ``scale[t] = S[t] / (S[t-1] r[t])`` then hang
    off the recurrence.  The log-likelihood telescopes to ``log S[n-1] + sum_t log2(1 /
    r[t]) ln 2 + sum_t cc[t]`` (exact integer exponents).  ``ok`` is False at the first
    frame whose normaliser is below ``LAG_MIN_SCALE`` (or NaN), or that
    :c:func:`forward_normalised` would not take.
    """
    cdef Py_ssize_t nc = ch.nc, t, j
    cdef const double *fr = sc.fr
    cdef double shift = 0.0, s = 0.0, v, inv, s2r, s1, st, r, r_inv
    cdef int64_t exps = 0, k
    for j in range(nc):
        v = ch.startprob[j] * fr[j]
        fwd[j] = v
        s += v
    if not (s >= LAG_MIN_SCALE and (not sc.flag[0] or s * ch.a_min >= MIN_SCALE)):
        ok[0] = False
        return NAN
    scale[0] = s
    inv = 1.0 / s  # 1 / S[t-1]
    s2r = 1.0  # S[t-2] r[t-1]
    s1 = s  # S[t-1]
    shift += sc.cc[0]
    for t in range(1, n):
        # r[t] = 2**-k, k the binary exponent of S[t-2] r[t-1] (> 0, normal)
        k = ((double_bits(s2r) >> 52) & 0x7FF) - 1023
        r = bits_double((1023 - k) << 52)
        r_inv = bits_double((1023 + k) << 52)
        matvec_lanes(fwd + (t - 1) * nc, ch.transmat_p, nc, ch.ncp, pred)
        s = 0.0
        for j in range(nc):
            v = pred[j] * (fr[t * nc + j] * r)
            fwd[t * nc + j] = v
            s += v
        st = s * inv * r_inv  # the normaliser of hmmlearn's scaled pass
        if not (st >= LAG_MIN_SCALE and (not sc.flag[t] or st * ch.a_min >= MIN_SCALE)):
            ok[0] = False
            return NAN
        scale[t] = st
        for j in range(nc):  # fwd[t - 1] is no longer needed unnormalised
            fwd[(t - 1) * nc + j] *= inv
        inv = 1.0 / s
        s2r = s1 * r
        s1 = s
        exps += k
        shift += sc.cc[t]
    for j in range(nc):
        fwd[(n - 1) * nc + j] *= inv
    ok[0] = True
    return log(s1) + exps * LN2 + shift


cdef double forward_normalised(
    const Chain *ch, const Scaled *sc, Py_ssize_t n, double *fwd, double *scale,
    double *pred, bint *ok,
) noexcept nogil:
    """The scaled forward pass frame by frame: each row divided by its normaliser before
    the next one is computed (see :c:func:`forward_fast`)."""
    cdef Py_ssize_t nc = ch.nc, t, j
    cdef const double *fr = sc.fr
    cdef double lp = 0.0, prod = 1.0, shift = 0.0, s, v, inv
    for t in range(n):
        if t == 0:
            for j in range(nc):
                pred[j] = ch.startprob[j]
        else:
            matvec_lanes(fwd + (t - 1) * nc, ch.transmat_p, nc, ch.ncp, pred)
        s = 0.0
        for j in range(nc):
            v = pred[j] * fr[t * nc + j]
            fwd[t * nc + j] = v
            s += v
        if ch.log_space:
            if not (s >= MIN_SCALE and (not sc.flag[t] or s * ch.a_min >= MIN_SCALE)):
                ok[0] = False
                return NAN
        elif not s >= MIN_SUM:
            ok[0] = True
            return NAN
        scale[t] = s
        inv = 1.0 / s
        for j in range(nc):
            fwd[t * nc + j] *= inv
        shift += sc.cc[t]
        add_log_scale(s, &lp, &prod)
    ok[0] = True
    return lp + log(prod) + shift


cdef double forward_fast(
    const Chain *ch, const Scaled *sc, Py_ssize_t n, double *fwd, double *scale,
    double *pred, bint *ok, bint lagged,
) noexcept nogil:
    """Scaled forward pass over rows ``0:n`` of ``sc``; returns the log-likelihood.

    ``fwd[t]`` is normalised to sum 1 and ``scale[t]`` holds the normaliser; ``pred``
    has ``ch.ncp`` entries.  In log space ``ok`` is False when the scaled arithmetic
    might lose mass that hmmlearn's log-space recurrences keep (the caller then redoes
    the sequence exactly); with the scaling implementation an underflow returns NaN with
    ``ok`` True, as hmmlearn.  In log space, with ``lagged``, the recurrence runs without
    a division on its critical path (:c:func:`forward_lagged`, rounding differently from
    the frame-by-frame pass); a sequence with a frame it does not take is redone frame by
    frame (:c:func:`forward_normalised`), the pass the lane kernels do.
    """
    cdef double lp
    if ch.log_space and lagged:
        lp = forward_lagged(ch, sc, n, fwd, scale, pred, ok)
        if ok[0]:
            return lp
    return forward_normalised(ch, sc, n, fwd, scale, pred, ok)


cdef bint backward_fast(
    const Chain *ch, const double *fr, const double *scale, Py_ssize_t n, double *bwd,
    double *w, double *acc,
) noexcept nogil:
    """Scaled backward pass (hmmlearn's convention); False on overflow.  The division by
    the normaliser is folded into the weights ``w = fr[t + 1] / scale[t] * bwd[t + 1]``,
    off the recurrence.  ``w``: scratch of ``nc``; ``acc``: of ``ch.ncp``."""
    cdef Py_ssize_t nc = ch.nc, t, i, j
    cdef const double *tp = ch.transmat_tp
    cdef Py_ssize_t ncp = ch.ncp
    cdef double last = 1.0 / scale[n - 1], inv, tot, a
    for i in range(nc):
        bwd[(n - 1) * nc + i] = last
    for t in range(n - 2, -1, -1):
        inv = 1.0 / scale[t]
        for j in range(nc):
            w[j] = fr[(t + 1) * nc + j] * inv * bwd[(t + 1) * nc + j]
        tot = 0.0
        if nc <= 8:  # a dot product per state: independent chains
            for i in range(nc):
                a = 0.0
                for j in range(nc):
                    a += tp[j * ncp + i] * w[j]
                bwd[t * nc + i] = a
                tot += a
        else:  # the same sums, LANES states at a time
            matvec_lanes(w, tp, nc, ncp, acc)
            for i in range(nc):
                a = acc[i]
                bwd[t * nc + i] = a
                tot += a
        if not tot < INFINITY:
            return False
    return True


ctypedef struct Passes:
    # The scaled passes of one sequence of n frames that starts at frame off.
    const double *fr    # (n, nc): scaled emission likelihoods
    const double *fwd   # (n, nc): forward rows, each normalised to sum 1
    const double *bwd   # (n, nc): backward rows (hmmlearn's scaling)
    Py_ssize_t n
    Py_ssize_t off


cdef void posterior_rows(
    const Emissions *em, const Want *want, const Passes *p, Py_ssize_t r0, Py_ssize_t r1,
    double *g, double *xx, StatLanes *lanes, double *gamma, Accum *acc,
) noexcept nogil:
    """Posteriors of rows ``r0:r1`` of the sequence of ``p``, ``STAT_LANES`` frames at a
    time (``g``: scratch of ``nc``, ``xx`` of ``max(nf * nf, 1)``): first-frame
    posteriors into ``acc.start``,
    posteriors into ``gamma`` (when given), categorical counts into ``acc.obs``; the
    Gaussian statistics and the expected transitions ``r -> r + 1`` (without the factor
    ``transmat``) into the lane sums, which the caller adds up with ``reduce_lanes``."""
    cdef Py_ssize_t L = STAT_LANES, nc = em.n_components, b, e, nb, r, i, j, m, ib
    cdef Py_ssize_t n = p.n, off = p.off
    cdef const double *fr = p.fr
    cdef const double *fwd = p.fwd
    cdef const double *bwd = p.bwd
    cdef double *GT = lanes.GT
    cdef double *FT = lanes.FT
    cdef double *WT = lanes.WT
    cdef double *inv = lanes.inv
    cdef const double *wt = acc.weight
    cdef bint gaussian = (
        want.stats == STATS_MEANS or want.stats == STATS_DIAG or want.stats == STATS_FULL
    )
    for ib in range((r1 - r0 + L - 1) // L):
        b = r0 + ib * L
        e = b + L if b + L < r1 else r1
        nb = e - b
        for r in range(b, e):
            for i in range(nc):
                FT[i * L + r - b] = fwd[r * nc + i]
                GT[i * L + r - b] = fwd[r * nc + i] * bwd[r * nc + i]
        for r in range(nb):
            inv[r] = 0.0
        for i in range(nc):
            for r in range(nb):
                inv[r] += GT[i * L + r]
        for r in range(nb):
            inv[r] = 1.0 / inv[r]
        for i in range(nc):
            for r in range(nb):
                GT[i * L + r] *= inv[r]
        if b == 0:
            if wt != NULL:
                for i in range(nc):
                    acc.start[i] += GT[i * L] * wt[off]
            else:
                for i in range(nc):
                    acc.start[i] += GT[i * L]
        if want.gamma and gamma != NULL:
            for r in range(b, e):
                for i in range(nc):
                    gamma[(off + r) * nc + i] = GT[i * L + r - b]
        if wt != NULL:  # the statistics of a frame count weight[t] times
            for i in range(nc):
                for r in range(nb):
                    GT[i * L + r] *= wt[off + b + r]
        if gaussian:
            lane_stats(lanes, em.X, off + b, nb)
        elif want.stats != STATS_NONE:
            for r in range(b, e):
                for i in range(nc):
                    g[i] = GT[i * L + r - b]
                add_frame_stats(want.stats, em, off + r, g, xx, acc)
        if want.xi:
            m = (e if e < n - 1 else n - 1) - b  # frames with a successor
            for r in range(b, b + m):
                for j in range(nc):
                    WT[j * L + r - b] = fr[(r + 1) * nc + j] * bwd[(r + 1) * nc + j]
            if wt != NULL:  # the transition into frame r + 1 counts its weight
                for j in range(nc):
                    for r in range(m):
                        WT[j * L + r] *= wt[off + b + r + 1]
            if m > 0:
                add_lane_outer(FT, nc, WT, nc, m, lanes.lxi)


# --------------------------------------------------------------------------- many sequences


ctypedef struct ChunkBuffers:
    # One worker's buffers for sequences of up to max_len frames.
    double *fr
    double *cc
    unsigned char *flag
    double *fwd
    double *bwd
    double *scale
    double *gam
    double *g
    double *w
    double *pred
    double *acc
    double *xx
    Workspace ws
    StatLanes lanes
    ExactBuffers ex       # views of the buffers above for exact_sequence
    void *_mem


cdef int chunk_buffers_init(
    ChunkBuffers *b, Py_ssize_t max_len, Py_ssize_t nc, Py_ssize_t ncp, Py_ssize_t nf,
    int stats,
) noexcept nogil:
    cdef Arena a
    cdef Py_ssize_t nxx = nf * nf if nf * nf > 1 else 1
    b._mem = NULL
    b.ws._mem = NULL
    b.lanes._mem = NULL
    if arena_init(&a, 5 * arena_bytes(max_len * nc) + 3 * arena_bytes(max_len)
                  + 2 * arena_bytes(nc) + 2 * arena_bytes(ncp) + arena_bytes(nxx),
                  zero=False) < 0:
        return -1
    b._mem = a.base
    b.fr = <double *>arena_take(&a, max_len * nc)
    b.fwd = <double *>arena_take(&a, max_len * nc)
    b.bwd = <double *>arena_take(&a, max_len * nc)
    b.gam = <double *>arena_take(&a, max_len * nc)
    b.cc = <double *>arena_take(&a, max_len)
    b.scale = <double *>arena_take(&a, max_len)
    b.flag = <unsigned char *>arena_take(&a, max_len)
    b.g = <double *>arena_take(&a, nc)
    b.w = <double *>arena_take(&a, nc)
    b.pred = <double *>arena_take(&a, ncp)
    b.acc = <double *>arena_take(&a, ncp)
    b.xx = <double *>arena_take(&a, nxx)
    if workspace_init(&b.ws, nf, nc) < 0 or stat_lanes_init(&b.lanes, stats, nc, nf) < 0:
        chunk_buffers_free(b)
        return -1
    b.ex.lf = b.fr
    b.ex.fwd = b.fwd
    b.ex.bwd = b.bwd
    b.ex.gam = b.gam
    b.ex.xx = b.xx
    b.ex.ws = &b.ws
    return 0


cdef void chunk_buffers_free(ChunkBuffers *b) noexcept nogil:
    free(b._mem)
    b._mem = NULL
    workspace_free(&b.ws)
    stat_lanes_free(&b.lanes)


cdef double one_sequence(
    const Chain *ch, const Emissions *em, const ScaledTable *st, const Want *want,
    Py_ssize_t lo, Py_ssize_t hi, ChunkBuffers *b, double *gamma, Accum *acc, bint lagged,
) noexcept nogil:
    """Scaled forward-backward of frames ``lo:hi`` with the exact fallback; returns the
    log-likelihood (posteriors into ``gamma``, statistics into ``acc`` and the lanes).
    ``lagged``: see :c:func:`forward_fast`."""
    cdef Py_ssize_t n = hi - lo, r
    cdef Scaled sc
    cdef Passes passes
    cdef bint ok
    cdef double lp
    sc.fr = b.fr
    sc.cc = b.cc
    sc.flag = b.flag
    fill_scaled(em, st, ch.log_space, lo, hi, lo, &b.ws, &sc)
    lp = forward_fast(ch, &sc, n, b.fwd, b.scale, b.pred, &ok, lagged)
    if ok and want.post and lp == lp:
        ok = backward_fast(ch, b.fr, b.scale, n, b.bwd, b.w, b.acc)
        if not ok and not ch.log_space:  # overflow of the scaled backward pass
            lp = NAN
            ok = True
        elif ok:
            passes.fr = b.fr
            passes.fwd = b.fwd
            passes.bwd = b.bwd
            passes.n = n
            passes.off = lo
            posterior_rows(em, want, &passes, 0, n, b.g, b.xx, &b.lanes, gamma, acc)
    if not ok:
        lp = exact_sequence(ch, em, lo, hi, want, &b.ex, gamma, acc)
    elif want.gamma and gamma != NULL and lp != lp:
        for r in range(lo * ch.nc, hi * ch.nc):
            gamma[r] = 0.0
    return lp


def estep_chunks(
    EmissionArrays em not None, ScaledArrays scaled not None, ChainArrays chain not None,
    tuple want, seqs, startidx, Py_ssize_t n_chunks, Py_ssize_t first, Py_ssize_t step,
    Accumulators acc not None, Py_ssize_t row0, log_prob, gamma, bint lagged=True,
):
    """Forward-backward of the sequences ``seqs``, split into ``n_chunks`` contiguous
    chunks; this call runs chunks ``first, first + step, ...`` (the entry points give
    each thread its own ``first``).  Chunk ``c`` adds into accumulator row ``row0 + c``,
    so results do not depend on which thread runs it.  ``want``: ``(post, gamma, xi,
    stats)``; ``gamma``: float64 (n_samples, nc) or None.  ``lagged`` False: the
    frame-by-frame forward pass of the lane kernels (the same bits as they give)."""
    cdef Emissions *e = &em.c
    cdef Want w = make_want(want)
    cdef Py_ssize_t longest = check_estep_call(
        &w, em, scaled, chain, acc, seqs, startidx, n_chunks, first, step, row0, log_prob
    )
    cdef double *gam = gamma_ptr(gamma, e.n_samples, e.n_components) if w.gamma else NULL
    cdef const int64_t[::1] sq = seqs
    cdef const int64_t[::1] si = startidx
    cdef double[::1] lp = log_prob
    cdef Py_ssize_t n_seq = sq.shape[0], max_len = longest, q, s, c, lo, hi
    cdef ChunkBuffers b
    cdef Accum a
    cdef int status = 0
    with nogil:
        status = chunk_buffers_init(&b, max_len, chain.c.nc, chain.c.ncp, e.n_features, w.stats)
        if status == 0:
            c = first
            while c < n_chunks:
                with gil:
                    a = acc.row(row0 + c)
                for q in range(c * n_seq // n_chunks, (c + 1) * n_seq // n_chunks):
                    s = sq[q]
                    lo = si[s]
                    hi = si[s + 1]
                    lp[s] = one_sequence(&chain.c, e, &scaled.c, &w, lo, hi, &b, gam, &a,
                                         lagged)
                reduce_lanes(&b.lanes, chain.c.transmat, &a)
                c += step
            chunk_buffers_free(&b)
    if status < 0:
        raise MemoryError()


# --------------------------------------------------------------------------- one long sequence


def fill_scaled_blocks(
    EmissionArrays em not None, ScaledArrays scaled not None, bint log_space, Py_ssize_t lo,
    Py_ssize_t hi,
    Py_ssize_t n_blocks, Py_ssize_t first, Py_ssize_t step, double[:, ::1] fr,
    double[::1] cc, unsigned char[::1] flag,
):
    """Scaled likelihoods of frames ``lo:hi`` into ``fr``/``cc``/``flag`` (rows from 0),
    in ``n_blocks`` fixed time blocks; this call fills blocks ``first, first + step, ...``."""
    cdef Py_ssize_t n = hi - lo, b, nc = em.c.n_components
    if not (0 <= lo < hi <= em.c.n_samples) or fr.shape[0] < n or fr.shape[1] != nc or (
        cc.shape[0] < n or flag.shape[0] < n or n_blocks < 1 or first < 0 or step < 1
    ):
        raise ValueError("frames or buffers out of range")
    check_scaled(em, scaled)
    cdef Workspace ws
    cdef Scaled sc
    sc.fr = &fr[0, 0]
    sc.cc = &cc[0]
    sc.flag = &flag[0]
    cdef int status
    with nogil:
        status = workspace_init(&ws, em.c.n_features, nc)
        if status == 0:
            b = first
            while b < n_blocks:
                fill_scaled(&em.c, &scaled.c, log_space, lo + b * n // n_blocks,
                            lo + (b + 1) * n // n_blocks, lo, &ws, &sc)
                b += step
            workspace_free(&ws)
    if status < 0:
        raise MemoryError()


def forward_scaled(
    ChainArrays chain not None, const double[:, ::1] fr, const double[::1] cc,
    const unsigned char[::1] flag, double[:, ::1] fwd, double[::1] scale,
):
    """Scaled forward pass of one sequence (rows of ``fr``); returns ``(log_prob, ok)``
    (see :c:func:`forward_fast`)."""
    cdef Py_ssize_t n = fr.shape[0], nc = chain.c.nc
    if n < 1 or fr.shape[1] != nc or cc.shape[0] < n or flag.shape[0] < n or (
        fwd.shape[0] < n or fwd.shape[1] != nc or scale.shape[0] < n
    ):
        raise ValueError("buffers do not match the frames")
    pred = np.empty(chain.c.ncp)
    cdef double[::1] p = pred
    cdef Scaled sc
    sc.fr = <double *>&fr[0, 0]
    sc.cc = <double *>&cc[0]
    sc.flag = <unsigned char *>&flag[0]
    cdef bint ok
    cdef double lp
    with nogil:
        lp = forward_fast(&chain.c, &sc, n, &fwd[0, 0], &scale[0], &p[0], &ok, True)
    return lp, bool(ok)


def backward_scaled(
    ChainArrays chain not None, const double[:, ::1] fr, const double[::1] scale, double[:, ::1] bwd
):
    """Scaled backward pass of one sequence; False on overflow."""
    cdef Py_ssize_t n = fr.shape[0], nc = chain.c.nc
    if n < 1 or fr.shape[1] != nc or scale.shape[0] < n or bwd.shape[0] < n or (
        bwd.shape[1] != nc
    ):
        raise ValueError("buffers do not match the frames")
    w = np.empty(max(nc, 1))
    a = np.empty(chain.c.ncp)
    cdef double[::1] wv = w
    cdef double[::1] av = a
    cdef bint ok
    with nogil:
        ok = backward_fast(&chain.c, &fr[0, 0], &scale[0], n, &bwd[0, 0], &wv[0], &av[0])
    return bool(ok)


def posterior_blocks(
    EmissionArrays em not None, ChainArrays chain not None, tuple want, const double[:, ::1] fr,
    const double[:, ::1] fwd, const double[:, ::1] bwd, Py_ssize_t off, Py_ssize_t n_blocks,
    Py_ssize_t first, Py_ssize_t step, Accumulators acc not None, Py_ssize_t row0, gamma,
):
    """Posteriors and statistics of one sequence of ``n = fr.shape[0]`` frames starting
    at frame ``off``, in ``n_blocks`` fixed time blocks (block ``b`` adds into
    accumulator row ``row0 + b``); this call runs blocks ``first, first + step, ...``."""
    cdef Py_ssize_t n = fr.shape[0], nc = chain.c.nc, b
    cdef Emissions *e = &em.c
    cdef Want w = make_want(want)
    if n < 1 or off < 0 or off + n > e.n_samples or fr.shape[1] != nc or (
        fwd.shape[0] < n or bwd.shape[0] < n or fwd.shape[1] != nc or bwd.shape[1] != nc
        or e.n_components != nc or acc.nc != nc or row0 < 0 or row0 + n_blocks > acc.n_rows
        or first < 0 or step < 1
    ):
        raise ValueError("buffers, blocks or accumulators do not match the sequence")
    check_work(&w, em, None, chain, acc)
    cdef double *gam = gamma_ptr(gamma, e.n_samples, nc) if w.gamma else NULL
    g = np.empty(max(nc, 1))
    xx = np.empty(max(e.n_features * e.n_features, 1))
    cdef double[::1] gv = g
    cdef double[::1] xv = xx
    cdef StatLanes lanes
    cdef Accum a
    cdef int status
    cdef Passes passes
    passes.fr = &fr[0, 0]
    passes.fwd = &fwd[0, 0]
    passes.bwd = &bwd[0, 0]
    passes.n = n
    passes.off = off
    with nogil:
        status = stat_lanes_init(&lanes, w.stats, nc, e.n_features)
        if status == 0:
            b = first
            while b < n_blocks:
                with gil:
                    a = acc.row(row0 + b)
                posterior_rows(e, &w, &passes, b * n // n_blocks, (b + 1) * n // n_blocks,
                               &gv[0], &xv[0], &lanes, gam, &a)
                reduce_lanes(&lanes, chain.c.transmat, &a)
                b += step
            stat_lanes_free(&lanes)
    if status < 0:
        raise MemoryError()


def exact(
    EmissionArrays em not None, ChainArrays chain not None, tuple want, Py_ssize_t lo,
    Py_ssize_t hi, Accumulators acc not None, Py_ssize_t row, gamma,
):
    """hmmlearn's log-space forward-backward of frames ``lo:hi``; returns the
    log-likelihood (posteriors into ``gamma``, statistics into accumulator ``row``)."""
    cdef Emissions *e = &em.c
    cdef Want w = make_want(want)
    cdef Py_ssize_t nc = chain.c.nc, n = hi - lo
    if not (0 <= lo < hi <= e.n_samples) or e.n_components != nc or acc.nc != nc or not (
        0 <= row < acc.n_rows
    ):
        raise ValueError("frames or accumulators out of range")
    check_work(&w, em, None, chain, acc)
    cdef double *gam = gamma_ptr(gamma, e.n_samples, nc) if w.gamma else NULL
    lf = np.empty((n, nc))
    fwd = np.empty((n, nc))
    bwd = np.empty((n, nc))
    gm = np.empty((n, nc))
    xx = np.empty(max(e.n_features * e.n_features, 1))
    cdef double[:, ::1] lfv = lf
    cdef double[:, ::1] fv = fwd
    cdef double[:, ::1] bv = bwd
    cdef double[:, ::1] gv = gm
    cdef double[::1] xv = xx
    cdef Accum a = acc.row(row)
    cdef ExactBuffers ex
    cdef Workspace ws
    cdef double lp = NAN
    cdef int status
    ex.lf = &lfv[0, 0]
    ex.fwd = &fv[0, 0]
    ex.bwd = &bv[0, 0]
    ex.gam = &gv[0, 0]
    ex.xx = &xv[0]
    ex.ws = &ws
    with nogil:
        status = workspace_init(&ws, e.n_features, nc)
        if status == 0:
            lp = exact_sequence(&chain.c, e, lo, hi, &w, &ex, gam, &a)
            workspace_free(&ws)
    if status < 0:
        raise MemoryError()
    return lp


def forward_log_pass(startprob, transmat, const double[:, ::1] log_frame, double[:, ::1] fwd):
    """Log-space forward pass of one sequence into ``fwd``; returns its log-likelihood."""
    chain = ChainArrays(startprob, transmat, True)
    cdef ChainArrays ch = chain
    cdef Py_ssize_t n = log_frame.shape[0], nc = ch.c.nc
    if n < 1 or log_frame.shape[1] != nc or fwd.shape[0] < n or fwd.shape[1] != nc:
        raise ValueError("log_frame, fwd and the model disagree")
    buf = np.empty(max(nc, 1))
    cdef double[::1] bv = buf
    cdef double lp
    with nogil:
        lp = forward_log(ch.c.startprob, ch.c.transmat, &log_frame[0, 0], n, nc, &fwd[0, 0],
                         &bv[0])
    return lp


def backward_log_pass(transmat, const double[:, ::1] log_frame, double[:, ::1] bwd):
    """Log-space backward pass of one sequence into ``bwd``."""
    tm = np.ascontiguousarray(transmat, dtype=np.float64)
    cdef Py_ssize_t n = log_frame.shape[0], nc = log_frame.shape[1]
    if n < 1 or tm.shape != (nc, nc) or bwd.shape[0] < n or bwd.shape[1] != nc:
        raise ValueError("log_frame, bwd and transmat disagree")
    cdef const double[:, ::1] t = tm
    buf = np.empty(max(nc, 1))
    cdef double[::1] bv = buf
    with nogil:
        backward_log(&t[0, 0], &log_frame[0, 0], n, nc, &bwd[0, 0], &bv[0])
