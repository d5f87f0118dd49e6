"""Numba kernels for hidden Markov models.

Plain arrays in, arrays out.  The ``@njit`` kernels do no validation; the Python entry
points (:func:`emissions`, :func:`forward_backward`, :func:`estep`,
:func:`viterbi_batch`) check shapes, sequence bounds and symbol ranges first, so no
kernel reads out of bounds.  Sequences are described by ``startidx``, an int64 array of
shape ``(n_sequences + 1,)`` holding the first row of every sequence and, last, the
total number of rows (``startidx[0] == 0``, strictly increasing).  Lattices are float64
arrays of shape ``(n_samples, n_components)``.

The arithmetic follows hmmlearn's ``_hmmc`` extension: the same recurrences, the same
``1e-300`` underflow threshold of the scaled forward pass and the same Viterbi
tie-breaking (first maximum at the last frame, largest index while backtracking).

One E-step over all sequences is one call of :func:`forward_backward`: emission
log-likelihoods, the forward and backward passes, posteriors, expected transitions and
the emission sufficient statistics are computed inside the kernels, sequence by
sequence, without materialising the posteriors unless asked to.  hmmlearn's log-space
results are obtained from per-frame scaled likelihoods ``exp(log_frame - max)`` (one
``exp`` per state and frame, no logarithm in the inner loops); a sequence where that
could lose probability mass that log-space recurrences keep (a frame whose normaliser
is tiny, or states flushed to zero without a positive lower bound on the transition
probabilities) is redone with the exact log-space recurrences (:func:`forward_log`,
:func:`backward_log`).  Results agree with hmmlearn's to rounding.

Emissions are computed in blocks of ``_BLOCK`` frames, state by state and vectorised
over the frames of the block; the scaled likelihoods then go through :func:`vexp`, a
vectorised ``exp`` within one ulp of NumPy's.  Gaussian sufficient statistics are added
lane-wise: frame ``l`` of a run of ``_STAT_LANES`` frames goes to lane ``l`` of per-lane
sums (element-wise, vectorised updates), the lanes being summed once per chunk or block;
posteriors and expected transitions are formed the same way, 64 frames at a time.  The
log-space forward recurrence keeps its normalisation off the critical path: rows are
rescaled by powers of two chosen two frames back (:func:`_forward_lagged`), the division
by each frame's normaliser hanging off the chain; a sequence with a normaliser below
``2**-200`` takes the frame-by-frame pass (:func:`_forward_normalised`) instead.

Many short sequences (length x states up to ``_FB_LANE_CELLS``) go through the scaled
forward-backward ``_FB_LANES`` at a time, one per lane, sorted by length
(:func:`_fb_group`): the recurrences, posteriors, expected transitions and Gaussian
statistics are vectorised over the sequences, each lane doing the frame-by-frame
arithmetic of :func:`_forward_normalised` / :func:`_backward_fast` on its own sequence,
so a sequence's results do not depend on the group it lands in.  A lane whose scaled
pass is refused takes the exact log-space pass, as above.

Viterbi stays in log space (max-plus, no ``exp``/``log``).  Many short sequences are
decoded ``_SEQ_LANES`` at a time, one per lane, sorted by length (:func:`_viterbi_lanes`:
the recurrence is vectorised over the sequences, with int8 back pointers); longer ones
(or more than ``_LANE_MAX_STATES`` states) one at a time with the transition matrix
transposed so that each state's maximum is an independent chain (:func:`_viterbi_fast`).
Both give the same paths and scores, bit for bit.

Threading: many sequences are split into a fixed number of contiguous chunks, run
with ``prange``; a long sequence (at least ``_LONG_MIN`` frames holding a quarter of the
data) is split into fixed time blocks for its emissions and statistics, its two
recurrences staying serial.  Every chunk / block owns its accumulators, reduced in a
fixed order, so results do not depend on the number of threads, which follows Numba's
(``numba.set_num_threads`` or the ``NUMBA_NUM_THREADS`` environment variable).  Calls
with little work (below ``_SERIAL_WORK``) run on the calling thread alone, which avoids
waking the worker threads; the chunking, hence every result, is the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np
from numba import get_num_threads, prange, set_num_threads

from fastgen._jit import njit  # numba.njit; cache=True caches in fastgen's folder

__all__ = [
    "log_density_diag",
    "log_density_diag_missing",
    "log_density_full",
    "forward_log",
    "backward_log",
    "vexp",
    "EStep",
    "emissions",
    "forward_backward",
    "estep",
    "viterbi_batch",
]

_LOG_2PI = np.log(2.0 * np.pi)
_MIN_SUM = 1e-300
_MAX_CHUNKS = 64


# --------------------------------------------------------------------------- emissions


@njit(cache=True, parallel=True)
def log_density_diag(X: np.ndarray, means: np.ndarray, covars: np.ndarray) -> np.ndarray:
    """Per-frame Gaussian log-densities for diagonal covariances.

    Parameters
    ----------
    X : float64 (n_samples, n_features)
    means, covars : float64 (n_components, n_features); covars > 0

    Returns
    -------
    float64 (n_samples, n_components)
    """
    n, nf = X.shape
    nc = means.shape[0]
    const = np.empty(nc)
    inv = np.empty((nc, nf))
    for k in range(nc):
        s = 0.0
        for f in range(nf):
            s += np.log(covars[k, f])
            inv[k, f] = 1.0 / covars[k, f]
        const[k] = nf * _LOG_2PI + s
    out = np.empty((n, nc))
    for t in prange(n):
        for k in range(nc):
            q = 0.0
            for f in range(nf):
                d = X[t, f] - means[k, f]
                q += d * d * inv[k, f]
            out[t, k] = -0.5 * (const[k] + q)
    return out


@njit(cache=True, parallel=True)
def log_density_diag_missing(X: np.ndarray, means: np.ndarray, covars: np.ndarray) -> np.ndarray:
    """As :func:`log_density_diag`, NaN entries of ``X`` marginalised out (skipped).

    A row that is all NaN has log-density 0 in every state.
    """
    n, nf = X.shape
    nc = means.shape[0]
    logc = np.empty((nc, nf))
    inv = np.empty((nc, nf))
    for k in range(nc):
        for f in range(nf):
            logc[k, f] = _LOG_2PI + np.log(covars[k, f])
            inv[k, f] = 1.0 / covars[k, f]
    out = np.empty((n, nc))
    for t in prange(n):
        for k in range(nc):
            q = 0.0
            for f in range(nf):
                x = X[t, f]
                if not np.isnan(x):
                    d = x - means[k, f]
                    q += logc[k, f] + d * d * inv[k, f]
            out[t, k] = -0.5 * q
    return out


@njit(cache=True, parallel=True)
def log_density_full(X: np.ndarray, means: np.ndarray, chol: np.ndarray) -> np.ndarray:
    """Per-frame Gaussian log-densities from lower Cholesky factors.

    Parameters
    ----------
    X : float64 (n_samples, n_features)
    means : float64 (n_components, n_features)
    chol : float64 (n_components, n_features, n_features), lower triangular, positive
        diagonal (``covars[k] = chol[k] @ chol[k].T``)

    Returns
    -------
    float64 (n_samples, n_components)
    """
    n, nf = X.shape
    nc = means.shape[0]
    const = np.empty(nc)
    for k in range(nc):
        s = 0.0
        for f in range(nf):
            s += np.log(chol[k, f, f])
        const[k] = nf * _LOG_2PI + 2.0 * s
    out = np.empty((n, nc))
    for t in prange(n):
        y = np.empty(nf)
        for k in range(nc):
            q = 0.0
            for f in range(nf):
                acc = X[t, f] - means[k, f]
                for g in range(f):
                    acc -= chol[k, f, g] * y[g]
                y[f] = acc / chol[k, f, f]
                q += y[f] * y[f]
            out[t, k] = -0.5 * (const[k] + q)
    return out


@njit(cache=True)
def _inverse_cholesky_t(chol: np.ndarray) -> np.ndarray:
    """Transposed inverses of lower Cholesky factors, by forward substitution.

    Parameters
    ----------
    chol : float64 (n_components, n_features, n_features), lower triangular, nonzero
        diagonal

    Returns
    -------
    float64 (n_components, n_features, n_features); ``out[k, g, f] = inv(chol[k])[f, g]``,
    zero for ``f < g`` (upper triangular).  Computed here rather than by a LAPACK call:
    a threaded BLAS waits for a free core on a busy machine, milliseconds per tiny call.
    """
    nc, nf = chol.shape[0], chol.shape[1]
    out = np.zeros((nc, nf, nf))
    for k in range(nc):
        for g in range(nf):  # column g of the inverse: solve L x = e_g
            out[k, g, g] = 1.0 / chol[k, g, g]
            for f in range(g + 1, nf):
                acc = 0.0
                for h in range(g, f):
                    acc -= chol[k, f, h] * out[k, g, h]
                out[k, g, f] = acc / chol[k, f, f]
    return out


# --------------------------------------------------------------------------- one sequence


@njit(cache=True)
def _logsumexp_row(a: np.ndarray) -> float:
    m = -np.inf
    for v in a:
        if v > m:
            m = v
    if np.isinf(m):
        return m
    s = 0.0
    for v in a:
        s += np.exp(v - m)
    return np.log(s) + m


@njit(cache=True)
def forward_log(startprob, transmat, log_frame, fwd) -> float:
    """Log-space forward pass of one sequence into ``fwd``; returns its log-likelihood."""
    n, nc = log_frame.shape
    buf = np.empty(nc)
    for i in range(nc):
        fwd[0, i] = np.log(startprob[i]) + log_frame[0, i]
    for t in range(1, n):
        m = -np.inf
        for i in range(nc):
            if fwd[t - 1, i] > m:
                m = fwd[t - 1, i]
        if np.isinf(m):
            for j in range(nc):
                fwd[t, j] = m + log_frame[t, j]
            continue
        for i in range(nc):
            buf[i] = np.exp(fwd[t - 1, i] - m)
        for j in range(nc):
            s = 0.0
            for i in range(nc):
                s += buf[i] * transmat[i, j]
            fwd[t, j] = np.log(s) + m + log_frame[t, j]
    return _logsumexp_row(fwd[n - 1])


@njit(cache=True)
def backward_log(transmat, log_frame, bwd) -> None:
    """Log-space backward pass of one sequence into ``bwd``."""
    n, nc = log_frame.shape
    buf = np.empty(nc)
    for i in range(nc):
        bwd[n - 1, i] = 0.0
    for t in range(n - 2, -1, -1):
        m = -np.inf
        for j in range(nc):
            buf[j] = log_frame[t + 1, j] + bwd[t + 1, j]
            if buf[j] > m:
                m = buf[j]
        if np.isinf(m):
            for i in range(nc):
                bwd[t, i] = m
            continue
        for j in range(nc):
            buf[j] = np.exp(buf[j] - m)
        for i in range(nc):
            s = 0.0
            for j in range(nc):
                s += transmat[i, j] * buf[j]
            bwd[t, i] = np.log(s) + m


@njit(cache=True)
def _posteriors_log(fwd, bwd, lo, hi, gamma) -> None:
    """gamma[t] = exp(fwd[t] + bwd[t]) normalised per frame (hmmlearn's log_normalize)."""
    nc = fwd.shape[1]
    for t in range(lo, hi):
        if nc == 1:
            gamma[t, 0] = 1.0
            continue
        m = -np.inf
        for i in range(nc):
            v = fwd[t, i] + bwd[t, i]
            gamma[t, i] = v
            if v > m:
                m = v
        if np.isinf(m):  # no mass at all: NaN, as hmmlearn's -inf - -inf
            for i in range(nc):
                gamma[t, i] = np.nan
            continue
        acc = 0.0
        for i in range(nc):
            gamma[t, i] = np.exp(gamma[t, i] - m)
            acc += gamma[t, i]
        for i in range(nc):
            gamma[t, i] /= acc


@njit(cache=True)
def _xi_sum_log(transmat, log_frame, fwd, bwd, log_prob, lo, hi, out) -> None:
    """out[i, j] += sum_t exp(fwd[t,i] + log A[i,j] + log_frame[t+1,j] + bwd[t+1,j] - L)."""
    nc = transmat.shape[0]
    a = np.empty(nc)
    for t in range(lo, hi - 1):
        ma = -np.inf
        for i in range(nc):
            if fwd[t, i] > ma:
                ma = fwd[t, i]
        if np.isinf(ma):
            continue
        for i in range(nc):
            a[i] = np.exp(fwd[t, i] - ma)
        for j in range(nc):
            d = log_frame[t + 1, j] + bwd[t + 1, j] + ma - log_prob
            if d < 700.0:
                b = np.exp(d)
                for i in range(nc):
                    out[i, j] += a[i] * transmat[i, j] * b
            else:  # exact per-pair exponent: keeps 0 * inf out
                for i in range(nc):
                    if transmat[i, j] > 0.0:
                        out[i, j] += np.exp(
                            fwd[t, i]
                            + np.log(transmat[i, j])
                            + log_frame[t + 1, j]
                            + bwd[t + 1, j]
                            - log_prob
                        )


# --------------------------------------------------------------------------- emissions per frame

EMIT_LOG_FRAMES = 0  # em.log_frame holds the log-likelihoods
EMIT_DIAG = 1  # Gaussian: means, inv (1 / variances), const
EMIT_FULL = 2  # Gaussian: means, lt (transposed inverse Cholesky factors), const
EMIT_CATEGORICAL = 3  # sym, table (log-probabilities, (n_symbols, n_components))

STATS_NONE = 0
STATS_MEANS = 1  # post, obs
STATS_DIAG = 2  # post, obs, obs**2
STATS_FULL = 3  # post, obs, obs*obs.T
STATS_CATEGORICAL = 4  # obs[k, symbol]

_FLUSH = -690.0  # exp(-690) ~ 1e-300: a state this much less likely than the best is flushed
_MIN_SCALE = 1e-250  # smallest per-frame normaliser the fast log path accepts


_BLOCK = 128  # frames per emission block (vectorised over the frames of a block)

# exp(x) = 2**k * p(r), r = x - k ln2 in [-ln2/2, ln2/2]: Cody-Waite reduction and a degree-13
# Taylor polynomial (truncation error < 1e-18 relative); within 1 ulp of libm's exp.
_LOG2E = 1.4426950408889634
_LN2 = 0.6931471805599453
_LN2_HI = 0.693147180369123816490  # ln2 rounded to 32 significant bits (k * _LN2_HI exact)
_LN2_LO = 1.90821492927058770002e-10  # ln2 - _LN2_HI
_ROUND = 6755399441055744.0  # 1.5 * 2**52: (x + _ROUND) - _ROUND rounds x to an integer
_EXP_LIMIT = 708.0  # beyond +-708 (and for NaN) the result comes from np.exp


@njit(cache=True)
def _workspace(nf: int, nc: int):
    """Scratch arrays of :func:`_emit_block` / :func:`vexp` for one thread."""
    ny = max(nf, 1)
    bits = np.empty(_BLOCK * nc, dtype=np.int64)
    return (
        np.empty((ny, _BLOCK)), np.empty(_BLOCK), np.empty((ny, _BLOCK)),
        np.empty(_BLOCK * nc), bits, bits.view(np.float64),
    )  # fmt: skip


@njit(cache=True)
def vexp(x, poly, bits, scale) -> None:
    """``x[:] = exp(x)`` in place, vectorised (within 1 ulp of ``np.exp``).

    ``poly`` (float64), ``bits`` (int64) and ``scale`` (float64 view of ``bits``) are
    scratch arrays at least as long as ``x``.  Arguments outside ``[-708, 708]`` (where
    the result is subnormal, zero or overflows) and NaN are handed to ``np.exp``.
    """
    n = x.shape[0]
    n_out = 0
    for i in range(n):
        v = x[i]
        inside = v >= -_EXP_LIMIT and v <= _EXP_LIMIT
        n_out += 0 if inside else 1
        v = v if inside else 0.0
        kf = (v * _LOG2E + _ROUND) - _ROUND
        r = (v - kf * _LN2_HI) - kf * _LN2_LO
        p = 1.0 / 6227020800.0
        p = p * r + 1.0 / 479001600.0
        p = p * r + 1.0 / 39916800.0
        p = p * r + 1.0 / 3628800.0
        p = p * r + 1.0 / 362880.0
        p = p * r + 1.0 / 40320.0
        p = p * r + 1.0 / 5040.0
        p = p * r + 1.0 / 720.0
        p = p * r + 1.0 / 120.0
        p = p * r + 1.0 / 24.0
        p = p * r + 1.0 / 6.0
        p = p * r + 0.5
        p = p * r + 1.0
        poly[i] = p * r + 1.0
        bits[i] = (np.int64(kf) + 1023) << 52
    if n_out == 0:
        for i in range(n):
            x[i] = poly[i] * scale[i]
        return
    for i in range(n):
        v = x[i]
        x[i] = poly[i] * scale[i] if v >= -_EXP_LIMIT and v <= _EXP_LIMIT else np.exp(v)


@njit(cache=True)
def _emit_block(kind, em, lo, hi, ws, out) -> None:
    """Emission log-likelihoods of frames ``lo:hi`` (at most ``_BLOCK``) into ``out[:hi-lo]``.

    Gaussian densities are computed state by state, vectorised over the frames of the
    block (the features of the block are first transposed into ``ws``); the sums run
    over the features in order, so each value is that of the per-frame formula.
    """
    X, sym, means, inv, lt, const, table, log_frame = em
    xt, acc, yb = ws[0], ws[1], ws[2]
    nb = hi - lo
    nc = out.shape[1]
    if kind == EMIT_DIAG or kind == EMIT_FULL:
        nf = X.shape[1]
        for r in range(nb):
            for f in range(nf):
                xt[f, r] = X[lo + r, f]
        for k in range(nc):
            if kind == EMIT_DIAG:
                for r in range(nb):
                    acc[r] = 0.0
                for f in range(nf):
                    mu = means[k, f]
                    iv = inv[k, f]
                    for r in range(nb):
                        d = xt[f, r] - mu
                        acc[r] += d * d * iv
            else:  # y = L^-1 (x - mean); lt[k, g, f] = L^-1[f, g] (0 for f < g)
                for f in range(nf):
                    for r in range(nb):
                        yb[f, r] = 0.0
                for g in range(nf):
                    mu = means[k, g]
                    for r in range(nb):
                        acc[r] = xt[g, r] - mu
                    for f in range(g, nf):
                        c = lt[k, g, f]
                        for r in range(nb):
                            yb[f, r] += c * acc[r]
                for r in range(nb):
                    acc[r] = 0.0
                for f in range(nf):
                    for r in range(nb):
                        acc[r] += yb[f, r] * yb[f, r]
            ck = const[k]
            for r in range(nb):
                out[r, k] = ck - 0.5 * acc[r]
    elif kind == EMIT_CATEGORICAL:
        for r in range(nb):
            s = sym[lo + r]
            for k in range(nc):
                out[r, k] = table[s, k]
    else:
        for r in range(nb):
            for k in range(nc):
                out[r, k] = log_frame[lo + r, k]


@njit(cache=True)
def _log_frames(kind, em, lo, hi, ws, out) -> None:
    """Emission log-likelihoods of frames ``lo:hi`` into ``out[:hi-lo]``, block by block."""
    for b in range(lo, hi, _BLOCK):
        e = min(b + _BLOCK, hi)
        _emit_block(kind, em, b, e, ws, out[b - lo : e - lo])


@njit(cache=True)
def _fill_scaled(kind, em, scaled, log_space, lo, hi, off, ws, fr, cc, flag) -> None:
    """Scaled emission likelihoods of frames ``lo:hi`` into rows ``lo-off:hi-off``.

    Log space: ``fr[r] = exp(lf - c)`` with ``c = cc[r] = max(lf)``; ``flag[r]`` marks a
    frame where some state fell below ``exp(_FLUSH)`` relative to the best (or all are
    impossible).  Scaling implementation: ``fr[r] = exp(lf)``, ``c = 0``.  Categorical
    emissions read the per-symbol rows precomputed in ``scaled``.
    """
    sct, scc, scf = scaled
    nc = fr.shape[1]
    if kind == EMIT_CATEGORICAL:
        for t in range(lo, hi):
            r = t - off
            s = em[1][t]
            for k in range(nc):
                fr[r, k] = sct[s, k]
            cc[r] = scc[s]
            flag[r] = scf[s]
        return
    flat = fr.reshape(fr.shape[0] * nc)
    for b in range(lo, hi, _BLOCK):
        e = min(b + _BLOCK, hi)
        r0 = b - off
        r1 = e - off
        _emit_block(kind, em, b, e, ws, fr[r0:r1])
        for r in range(r0, r1):
            if not log_space:
                cc[r] = 0.0
                flag[r] = False
                continue
            m = -np.inf
            for k in range(nc):
                if fr[r, k] > m:
                    m = fr[r, k]
            flagged = m == -np.inf
            if not flagged:
                for k in range(nc):
                    d = fr[r, k] - m
                    fr[r, k] = d
                    if d < _FLUSH:
                        flagged = True
            cc[r] = m
            flag[r] = flagged
        vexp(flat[r0 * nc : r1 * nc], ws[3], ws[4], ws[5])


# --------------------------------------------------------------------------- one sequence, fast


_LANES = 8  # states per register block of :func:`_matvec_lanes`


def _padded(a: np.ndarray) -> np.ndarray:
    """``a`` (m, nc) copied into float64 (m, ncp), ``ncp`` a multiple of ``_LANES``, zero padded."""
    m, nc = a.shape
    out = np.zeros((m, -(-nc // _LANES) * _LANES))
    out[:, :nc] = a
    return out


_padded_jit = njit(cache=True)(_padded)


@njit(cache=True, inline="always")
def _matvec_lanes(vec, mat, nc, out) -> None:
    """``out[i] = sum_j vec[j] * mat[j, i]``, the sum over ``j = 0 .. nc-1`` in order.

    ``mat`` is float64 (nc, ncp) with ``ncp`` a multiple of ``_LANES`` (zero padded) and
    ``out`` has at least ``ncp`` entries.  The states are taken ``_LANES`` at a time with
    the partial sums in registers, so each sum is the plain left-to-right one.
    """
    for i0 in range(0, mat.shape[1], _LANES):
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
        for j in range(nc):
            v = vec[j]
            row = mat[j, i0 : i0 + _LANES]
            a0 += v * row[0]
            a1 += v * row[1]
            a2 += v * row[2]
            a3 += v * row[3]
            a4 += v * row[4]
            a5 += v * row[5]
            a6 += v * row[6]
            a7 += v * row[7]
        out[i0] = a0
        out[i0 + 1] = a1
        out[i0 + 2] = a2
        out[i0 + 3] = a3
        out[i0 + 4] = a4
        out[i0 + 5] = a5
        out[i0 + 6] = a6
        out[i0 + 7] = a7


@njit(cache=True)
def _forward_fast(startprob, transmat_p, a_min, fr, cc, flag, n, log_space, fwd, scale, pred):
    """Scaled forward pass over rows ``0:n`` of ``fr``; returns ``(log_prob, ok)``.

    ``transmat_p`` is ``_padded(transmat)`` (see :func:`_matvec_lanes`) and ``pred`` has
    as many entries as its columns.

    ``fwd[t]`` is normalised to sum 1 and ``scale[t]`` holds the normaliser.  In log space
    ``ok`` is False when the scaled arithmetic might lose mass that hmmlearn's log-space
    recurrences keep (a tiny normaliser, or flushed states without a positive lower bound
    on the transitions): the caller then redoes the sequence exactly.  With the scaling
    implementation an underflow returns ``(nan, True)``, as hmmlearn.

    In log space the recurrence runs without a division on its critical path
    (:func:`_forward_lagged`); a sequence with a frame it does not take is redone here
    frame by frame (:func:`_forward_normalised`).
    """
    if log_space:
        lp, ok = _forward_lagged(startprob, transmat_p, a_min, fr, cc, flag, n, fwd, scale, pred)
        if ok:
            return lp, True
    return _forward_normalised(
        startprob, transmat_p, a_min, fr, cc, flag, n, log_space, fwd, scale, pred
    )


_LAG_MIN_SCALE = 2.0**-200  # smallest per-frame normaliser :func:`_forward_lagged` accepts


@njit(cache=True)
def _forward_lagged(startprob, transmat_p, a_min, fr, cc, flag, n, fwd, scale, pred):
    """Log-space forward pass with the normalisation off the recurrence; ``(log_prob, ok)``.

    The recurrence carries unnormalised rows ``alpha[t] = (alpha[t-1] @ A) * fr[t] * r[t]``
    where ``r[t]`` is a power of two taken from the sum ``S[t-2]`` of two frames back, so
    that ``S[t-2] r[t-1] r[t]`` lies in ``[1, 2)`` and ``S[t]`` within ``[1, 2)`` times the
    product of the last two normalisers.  Dividing by ``S[t]`` (``fwd[t]``, normalised to
    sum 1 as hmmlearn's) and the normaliser ``scale[t] = S[t] / (S[t-1] r[t])`` then hang
    off the recurrence instead of lengthening it.  The log-likelihood telescopes to
    ``log S[n-1] + sum_t log2(1 / r[t]) ln 2 + sum_t cc[t]`` (exact integer exponents).
    ``ok`` is False at the first frame whose normaliser is below ``_LAG_MIN_SCALE`` (or
    NaN), or that :func:`_forward_normalised` would not take: the caller then takes that
    path, which has the finer checks.
    """
    nc = transmat_p.shape[0]
    ib = np.empty(1, dtype=np.int64)
    fb = ib.view(np.float64)
    shift = 0.0
    exps = 0  # sum of the exponents of 1 / r[t]
    s = 0.0
    for j in range(nc):
        v = startprob[j] * fr[0, j]
        fwd[0, j] = v
        s += v
    if not (s >= _LAG_MIN_SCALE and (not flag[0] or s * a_min >= _MIN_SCALE)):
        return np.nan, False
    scale[0] = s
    inv = 1.0 / s  # 1 / S[t-1]
    s2r = 1.0  # S[t-2] r[t-1]
    s1 = s  # S[t-1]
    shift += cc[0]
    for t in range(1, n):
        fb[0] = s2r  # r[t] = 2**-k, k the binary exponent of S[t-2] r[t-1] (> 0, normal)
        k = ((ib[0] >> 52) & 0x7FF) - 1023
        ib[0] = (1023 - k) << 52
        r = fb[0]
        ib[0] = (1023 + k) << 52
        r_inv = fb[0]
        _matvec_lanes(fwd[t - 1], transmat_p, nc, pred)
        s = 0.0
        for j in range(nc):
            v = pred[j] * (fr[t, j] * r)
            fwd[t, j] = v
            s += v
        st = s * inv * r_inv  # the normaliser of hmmlearn's scaled pass
        if not (st >= _LAG_MIN_SCALE and (not flag[t] or st * a_min >= _MIN_SCALE)):
            return np.nan, False
        scale[t] = st
        for j in range(nc):  # fwd[t - 1] is no longer needed unnormalised
            fwd[t - 1, j] *= inv
        inv = 1.0 / s
        s2r = s1 * r
        s1 = s
        exps += k
        shift += cc[t]
    for j in range(nc):
        fwd[n - 1, j] *= inv
    return np.log(s1) + exps * _LN2 + shift, True


@njit(cache=True)
def _add_log_scale(s: float, acc: float, prod: float) -> tuple[float, float]:
    """Fold a normaliser ``s`` into a log-likelihood kept as ``acc + log(prod)``.

    Normalisers are multiplied into ``prod`` (one ``log`` per many frames) while it
    stays within ``[1e-100, 1e100]``; an extreme one goes to ``acc`` by itself.
    """
    if s > 1e-100 and s < 1e100:
        prod *= s
        if prod < 1e-100 or prod > 1e100:
            acc += np.log(prod)
            prod = 1.0
    else:
        acc += np.log(s)
    return acc, prod


@njit(cache=True)
def _forward_normalised(startprob, transmat_p, a_min, fr, cc, flag, n, log_space, fwd, scale, pred):
    """:func:`_forward_fast` frame by frame: each row divided by its normaliser before
    the next one is computed."""
    nc = transmat_p.shape[0]
    lp = 0.0  # sum of the logs of the normalisers, taken from their running product
    prod = 1.0  # kept within [1e-100, 1e100]
    shift = 0.0  # sum of the per-frame shifts cc
    for t in range(n):
        if t == 0:
            for j in range(nc):
                pred[j] = startprob[j]
        else:
            _matvec_lanes(fwd[t - 1], transmat_p, nc, pred)
        s = 0.0
        for j in range(nc):
            v = pred[j] * fr[t, j]
            fwd[t, j] = v
            s += v
        if log_space:
            if not (s >= _MIN_SCALE and (not flag[t] or s * a_min >= _MIN_SCALE)):
                return np.nan, False
        elif not s >= _MIN_SUM:
            return np.nan, True
        scale[t] = s
        inv = 1.0 / s
        for j in range(nc):
            fwd[t, j] *= inv
        shift += cc[t]
        lp, prod = _add_log_scale(s, lp, prod)
    return lp + np.log(prod) + shift, True


@njit(cache=True)
def _backward_fast(transmat_tp, fr, scale, n, bwd, w, acc) -> bool:
    """Scaled backward pass (hmmlearn's convention); False on overflow.

    ``transmat_tp`` is ``_padded(transmat.T)`` (see :func:`_matvec_lanes`) and ``acc``
    has as many entries as its columns.  The division by the normaliser is folded into
    the weights ``w = fr[t + 1] / scale[t] * bwd[t + 1]``, off the recurrence.
    """
    nc = transmat_tp.shape[0]
    last = 1.0 / scale[n - 1]
    for i in range(nc):
        bwd[n - 1, i] = last
    for t in range(n - 2, -1, -1):
        inv = 1.0 / scale[t]
        for j in range(nc):
            w[j] = fr[t + 1, j] * inv * bwd[t + 1, j]
        tot = 0.0
        if nc <= 8:  # a dot product per state: independent chains
            for i in range(nc):
                a = 0.0
                for j in range(nc):
                    a += transmat_tp[j, i] * w[j]
                bwd[t, i] = a
                tot += a
        else:  # the same sums, _LANES states at a time
            _matvec_lanes(w, transmat_tp, nc, acc)
            for i in range(nc):
                a = acc[i]
                bwd[t, i] = a
                tot += a
        if not tot < np.inf:
            return False
    return True


@njit(cache=True, inline="always")
def _add_frame_stats(stats_kind, X, sym, t, g, xx, post, obs, sq, outer) -> None:
    """Emission sufficient statistics of global frame ``t`` with posteriors ``g``."""
    nc = g.shape[0]
    if stats_kind == STATS_CATEGORICAL:
        s = sym[t]
        for k in range(nc):
            obs[k, s] += g[k]
        return
    nf = X.shape[1]
    for k in range(nc):
        post[k] += g[k]
    for k in range(nc):
        gk = g[k]
        for f in range(nf):
            obs[k, f] += gk * X[t, f]
    if stats_kind == STATS_DIAG:
        for f in range(nf):
            xx[f] = X[t, f] * X[t, f]
        for k in range(nc):
            gk = g[k]
            for f in range(nf):
                sq[k, f] += gk * xx[f]
    elif stats_kind == STATS_FULL:
        for f in range(nf):
            for e in range(nf):
                xx[f * nf + e] = X[t, f] * X[t, e]
        for k in range(nc):
            gk = g[k]
            for m in range(nf * nf):
                outer[k, m] += gk * xx[m]


_STAT_LANES = 64  # frames per lane-wise update of the Gaussian statistics


@njit(cache=True)
def _stat_lanes(stats_kind: int, nc: int, nf: int):
    """Lane buffers of :func:`_posterior_rows` and :func:`_lane_stats`.

    ``(GT, XT, XX, post, obs, sq, outer, FT, WT, inv, xi)``: posteriors (nc, L) and
    features (nf, L) of up to ``L = _STAT_LANES`` frames, their products
    (n_products, L), per-lane sums of the Gaussian statistics (nc, L), (nc, nf, L),
    (nc, nf or 0, L), (nc, nf (nf + 1) / 2 or 0, L), forward rows (nc, L), transition
    weights of the next frames (nc, L), normaliser reciprocals (L,) and per-lane
    expected-transition sums (nc, nc, L).  Sums are zeroed.
    """
    L = _STAT_LANES
    gaussian = stats_kind == STATS_MEANS or stats_kind == STATS_DIAG or stats_kind == STATS_FULL
    ng = nc if gaussian else 0
    nsq = nf if stats_kind == STATS_DIAG else 0
    ntri = nf * (nf + 1) // 2 if stats_kind == STATS_FULL else 0
    return (
        np.empty((nc, L)), np.empty((nf if gaussian else 0, L)), np.empty((max(nsq, ntri), L)),
        np.zeros((ng, L)), np.zeros((ng, nf if gaussian else 0, L)), np.zeros((ng, nsq, L)),
        np.zeros((ng, ntri, L)), np.empty((nc, L)), np.empty((nc, L)), np.empty(L),
        np.zeros((nc, nc, L)),
    )  # fmt: skip


@njit(cache=True)
def _lane_stats(stats_kind, X, t0, nb, lanes) -> None:
    """Add the statistics of frames ``t0:t0+nb`` (posteriors in ``GT[:, :nb]``) lane-wise.

    Frame ``t0 + l`` goes to lane ``l``: every update is an element-wise product-sum over
    the lanes (vectorised), the lanes being summed once by :func:`_reduce_lanes`.
    """
    XT = lanes[1]
    for r in range(nb):
        for f in range(X.shape[1]):
            XT[f, r] = X[t0 + r, f]
    _lane_products(stats_kind, nb, lanes)


@njit(cache=True)
def _lane_products(stats_kind, nb, lanes) -> None:
    """Add the statistics of the posteriors ``GT[:, :nb]`` and features ``XT[:, :nb]`` of
    ``lanes`` (see :func:`_stat_lanes`) to its per-lane sums, lane by lane."""
    GT, XT, XX, lpost, lobs, lsq, lout = lanes[:7]
    nc = GT.shape[0]
    nf = XT.shape[0]
    if stats_kind == STATS_DIAG:
        for f in range(nf):
            for r in range(nb):
                XX[f, r] = XT[f, r] * XT[f, r]
    elif stats_kind == STATS_FULL:  # lower triangle, row by row
        m = 0
        for f in range(nf):
            for e in range(f + 1):
                for r in range(nb):
                    XX[m, r] = XT[f, r] * XT[e, r]
                m += 1
    for k in range(nc):
        gk = GT[k]
        pk = lpost[k]
        for r in range(nb):
            pk[r] += gk[r]
    _add_lane_outer(GT, XT, nb, lobs)
    _add_lane_outer(GT, XX[: lsq.shape[1]], nb, lsq)
    _add_lane_outer(GT, XX[: lout.shape[1]], nb, lout)


@njit(cache=True)
def _reduce_lanes(lanes, transmat, trans, post, obs, sq, outer) -> None:
    """Add the lane sums of ``lanes`` (in lane order) to the statistics and zero them;
    the lower-triangle products fill both halves of ``outer`` (nc, nf * nf), and the
    expected transitions are ``trans[i, j] += transmat[i, j] * sum(xi[i, j])``."""
    lpost, lobs, lsq, lout, lxi = lanes[3], lanes[4], lanes[5], lanes[6], lanes[10]
    L = lxi.shape[2]
    for i in range(lxi.shape[0]):
        for j in range(lxi.shape[1]):
            acc = 0.0
            for r in range(L):
                acc += lxi[i, j, r]
                lxi[i, j, r] = 0.0
            trans[i, j] += transmat[i, j] * acc
    nc = lpost.shape[0]
    nf = lobs.shape[1]
    for k in range(nc):
        acc = 0.0
        for r in range(L):
            acc += lpost[k, r]
            lpost[k, r] = 0.0
        post[k] += acc
        for f in range(nf):
            acc = 0.0
            for r in range(L):
                acc += lobs[k, f, r]
                lobs[k, f, r] = 0.0
            obs[k, f] += acc
        for f in range(lsq.shape[1]):
            acc = 0.0
            for r in range(L):
                acc += lsq[k, f, r]
                lsq[k, f, r] = 0.0
            sq[k, f] += acc
        if lout.shape[1]:
            m = 0
            for f in range(nf):
                for e in range(f + 1):
                    acc = 0.0
                    for r in range(L):
                        acc += lout[k, m, r]
                        lout[k, m, r] = 0.0
                    outer[k, f * nf + e] += acc
                    if e != f:
                        outer[k, e * nf + f] += acc
                    m += 1


@njit(cache=True)
def _add_lane_outer(FT, WT, m, lxi) -> None:
    """``lxi[i, j, :m] += FT[i, :m] * WT[j, :m]``, lane by lane: the per-lane
    expected-transition terms (forward rows times next-frame weights; ``transmat`` is
    applied by :func:`_reduce_lanes`) and the Gaussian statistics (posteriors times
    features or their products)."""
    for i in range(FT.shape[0]):
        fi = FT[i]
        for j in range(WT.shape[0]):
            wj = WT[j]
            xij = lxi[i, j]
            for r in range(m):
                xij[r] += fi[r] * wj[r]


@njit(cache=True)
def _posterior_rows(
    fr, fwd, bwd, r0, r1, n, off, want_gamma, want_xi, stats_kind, em, g, xx, lanes,
    gamma, start, post, obs, sq, outer,
) -> None:  # fmt: skip
    """Posteriors of rows ``r0:r1`` of a sequence of ``n`` rows starting at frame ``off``,
    lane-wise (see :func:`_stat_lanes`), ``_STAT_LANES`` frames at a time.

    First-frame posteriors go into ``start``, the posteriors themselves into ``gamma``,
    categorical counts into ``obs``; the Gaussian statistics and the expected
    transitions ``r -> r + 1`` (without the factor ``transmat``) into the lane sums of
    ``lanes``, which the caller adds up with :func:`_reduce_lanes`.
    """
    nc = fwd.shape[1]
    X = em[0]
    sym = em[1]
    GT, FT, WT, inv, lxi = lanes[0], lanes[7], lanes[8], lanes[9], lanes[10]
    gaussian = stats_kind == STATS_MEANS or stats_kind == STATS_DIAG or stats_kind == STATS_FULL
    for b in range(r0, r1, _STAT_LANES):
        e = min(b + _STAT_LANES, r1)
        nb = e - b
        for r in range(b, e):
            for i in range(nc):
                FT[i, r - b] = fwd[r, i]
                GT[i, r - b] = fwd[r, i] * bwd[r, i]
        for r in range(nb):
            inv[r] = 0.0
        for i in range(nc):
            for r in range(nb):
                inv[r] += GT[i, r]
        for r in range(nb):
            inv[r] = 1.0 / inv[r]
        for i in range(nc):
            for r in range(nb):
                GT[i, r] *= inv[r]
        if b == 0:
            for i in range(nc):
                start[i] += GT[i, 0]
        if want_gamma:
            for r in range(b, e):
                for i in range(nc):
                    gamma[off + r, i] = GT[i, r - b]
        if gaussian:
            _lane_stats(stats_kind, X, off + b, nb, lanes)
        elif stats_kind != STATS_NONE:
            for r in range(b, e):
                for i in range(nc):
                    g[i] = GT[i, r - b]
                _add_frame_stats(stats_kind, X, sym, off + r, g, xx, post, obs, sq, outer)
        if want_xi:
            m = min(e, n - 1) - b  # frames with a successor
            for r in range(b, b + m):
                for j in range(nc):
                    WT[j, r - b] = fr[r + 1, j] * bwd[r + 1, j]
            _add_lane_outer(FT, WT, m, lxi)


@njit(cache=True)
def _exact_sequence(
    startprob, transmat, kind, em, lo, hi, want_post, want_gamma, want_xi, stats_kind,
    ws, xx, lf, fwd, bwd, gamma, start, trans, post, obs, sq, outer,
) -> float:  # fmt: skip
    """hmmlearn's log-space forward-backward of frames ``lo:hi`` (the safe path)."""
    n = hi - lo
    nc = transmat.shape[0]
    X = em[0]
    sym = em[1]
    _log_frames(kind, em, lo, hi, ws, lf)
    lp = forward_log(startprob, transmat, lf[:n], fwd[:n])
    if not want_post:
        return lp
    if not lp > -np.inf:  # impossible sequence: no posterior mass
        if want_gamma:
            gamma[lo:hi] = 0.0
        return lp
    backward_log(transmat, lf[:n], bwd[:n])
    gam = np.empty((n, nc))
    _posteriors_log(fwd, bwd, 0, n, gam)
    for i in range(nc):
        start[i] += gam[0, i]
    for r in range(n):
        if want_gamma:
            for i in range(nc):
                gamma[lo + r, i] = gam[r, i]
        if stats_kind != STATS_NONE:
            _add_frame_stats(stats_kind, X, sym, lo + r, gam[r], xx, post, obs, sq, outer)
    if want_xi and n > 1:
        _xi_sum_log(transmat, lf, fwd, bwd, lp, 0, n, trans)
    return lp


# --------------------------------------------------------------------------- drivers


@njit(cache=True)
def _n_chunks(n_seq: int) -> int:
    return min(n_seq, _MAX_CHUNKS)


@njit(cache=True, parallel=True)
def _estep_short(
    seqs, startidx, startprob, transmat, a_min, kind, em, scaled, log_space,
    want_post, want_gamma, want_xi, stats_kind, max_len,
    log_prob, gamma, start, trans, post, obs, sq, outer,
) -> None:  # fmt: skip
    """Forward-backward of the sequences ``seqs``, threaded over chunks of them.

    Every chunk works in its own buffers (sized for the longest sequence) and adds into
    its own row of the accumulators ``start``/``trans``/``post``/``obs``/``sq``/``outer``.
    """
    nc = transmat.shape[0]
    n_chunks = start.shape[0]
    n_seq = seqs.shape[0]
    nf = em[0].shape[1]
    for c in prange(n_chunks):
        fr = np.empty((max_len, nc))
        fwd = np.empty((max_len, nc))
        bwd = np.empty((max_len, nc))
        cc = np.empty(max_len)
        scale = np.empty(max_len)
        flag = np.empty(max_len, dtype=np.bool_)
        g = np.empty(nc)
        w = np.empty(nc)
        ws = _workspace(nf, nc)
        xx = np.empty(max(nf * nf, 1))
        transmat_p = _padded_jit(transmat)
        transmat_tp = _padded_jit(np.ascontiguousarray(transmat.T))
        pred = np.empty(transmat_p.shape[1])
        acc = np.empty(transmat_p.shape[1])
        lanes = _stat_lanes(stats_kind, nc, nf)
        for q in range(c * n_seq // n_chunks, (c + 1) * n_seq // n_chunks):
            s = seqs[q]
            lo = startidx[s]
            hi = startidx[s + 1]
            n = hi - lo
            _fill_scaled(kind, em, scaled, log_space, lo, hi, lo, ws, fr, cc, flag)
            lp, ok = _forward_fast(
                startprob, transmat_p, a_min, fr, cc, flag, n, log_space, fwd, scale, pred
            )
            if ok and want_post and lp == lp:
                ok = _backward_fast(transmat_tp, fr, scale, n, bwd, w, acc)
                if not ok and not log_space:  # overflow of the scaled backward pass
                    lp = np.nan
                    ok = True
                elif ok:
                    _posterior_rows(
                        fr, fwd, bwd, 0, n, n, lo, want_gamma, want_xi, stats_kind, em, g,
                        xx, lanes, gamma, start[c], post[c], obs[c], sq[c], outer[c],
                    )  # fmt: skip
            if not ok:
                lp = _exact_sequence(
                    startprob, transmat, kind, em, lo, hi, want_post, want_gamma, want_xi,
                    stats_kind, ws, xx, fr, fwd, bwd, gamma, start[c], trans[c], post[c],
                    obs[c], sq[c], outer[c],
                )  # fmt: skip
            elif want_gamma and lp != lp:
                gamma[lo:hi] = 0.0
            log_prob[s] = lp
        _reduce_lanes(lanes, transmat, trans[c], post[c], obs[c], sq[c], outer[c])


# --------------------------------------------------------------------------- lane-wise groups

_FB_LANES = _STAT_LANES  # sequences per group of the lane-wise forward-backward
_FB_LANE_CELLS = 8192  # lane-wise forward-backward: sequences with length x n_components to this


@njit(cache=True)
def _fb_buffers(T: int, nc: int, nf: int, want_post: bool):
    """Buffers of :func:`_fb_group` for groups of sequences of up to ``T`` frames.

    ``(src, fwd1, bwd1, ws, xx, FR, CC, FL, F, B, S, P, W, tot, base, lens, state, lp,
    valid, live)``: the group's emission log-likelihoods sequence by sequence (L T, nc),
    one sequence's log-space lattices (T, nc), the emission workspace, the lane arrays
    (T, nc, L) of scaled emissions, forward and (with ``want_post``) backward rows, (T, L)
    shifts, flags and normalisers, and lane scratch of ``L = _FB_LANES`` entries.
    """
    L = _FB_LANES
    nb = T if want_post else 0
    return (
        np.empty((L * T, nc)), np.empty((T, nc)), np.empty((T, nc)), _workspace(nf, nc),
        np.empty(max(nf * nf, 1)),
        np.empty((T, nc, L)), np.empty((T, L)), np.empty((T, L), dtype=np.bool_),
        np.empty((T, nc, L)), np.empty((nb, nc, L)), np.empty((T, L)), np.empty(L),
        np.empty((nc, L)), np.empty(L), np.empty(L, dtype=np.int64),
        np.empty(L, dtype=np.int64), np.empty(L, dtype=np.int64), np.empty(L),
        np.empty(L, dtype=np.bool_), np.empty(L, dtype=np.bool_),
    )  # fmt: skip


_LANE_OK = 0  # lane state of :func:`_fb_group`: scaled passes went through
_LANE_EXACT = 1  # redo the sequence in log space (:func:`_exact_sequence`)
_LANE_NAN = 2  # scaling implementation under/overflowed: log-likelihood NaN


@njit(cache=True, inline="always")
def _lane_combination(rows, mat, col, nc, out, nw) -> None:
    """``out[w] = sum_j rows[j, w] * mat[j, col]`` for lanes ``w < nw``, the sum over
    ``j = 0 .. nc-1`` in order (as :func:`_matvec_lanes`), four terms per pass."""
    if nc >= 4:
        a0, a1, a2, a3 = mat[0, col], mat[1, col], mat[2, col], mat[3, col]
        r0, r1, r2, r3 = rows[0], rows[1], rows[2], rows[3]
        for w in range(nw):
            out[w] = ((r0[w] * a0 + r1[w] * a1) + r2[w] * a2) + r3[w] * a3
        j = 4
    else:
        a0 = mat[0, col]
        r0 = rows[0]
        for w in range(nw):
            out[w] = r0[w] * a0
        j = 1
    while j + 4 <= nc:
        a0, a1, a2, a3 = mat[j, col], mat[j + 1, col], mat[j + 2, col], mat[j + 3, col]
        r0, r1, r2, r3 = rows[j], rows[j + 1], rows[j + 2], rows[j + 3]
        for w in range(nw):
            out[w] = (((out[w] + r0[w] * a0) + r1[w] * a1) + r2[w] * a2) + r3[w] * a3
        j += 4
    while j < nc:
        a0 = mat[j, col]
        r0 = rows[j]
        for w in range(nw):
            out[w] += r0[w] * a0
        j += 1


@njit(cache=True)
def _lane_emissions_table(em, scaled, nw, T, bufs) -> None:
    """Categorical scaled emissions of the lanes of :func:`_fb_group` into ``FR``, ``CC``
    and ``FL``: rows of the precomputed per-symbol table (:func:`_fill_scaled`);
    neutral frames (likelihood 1, not flagged) past a sequence's end."""
    sct, scc, scf = scaled
    sym = em[1]
    FR, CC, FL, base, lens = bufs[5], bufs[6], bufs[7], bufs[14], bufs[15]
    nc = FR.shape[1]
    for t in range(T):
        FRt = FR[t]
        for w in range(nw):
            if t < lens[w]:
                q = sym[base[w] + t]
                for i in range(nc):
                    FRt[i, w] = sct[q, i]
                CC[t, w] = scc[q]
                FL[t, w] = scf[q]
            else:
                for i in range(nc):
                    FRt[i, w] = 1.0
                CC[t, w] = 0.0
                FL[t, w] = False


@njit(cache=True, error_model="numpy")
def _lane_emissions(kind, em, log_space, nw, T, bufs) -> None:
    """Scaled emissions of the lanes of :func:`_fb_group` into ``FR``, ``CC`` and ``FL``,
    element for element those of :func:`_fill_scaled`: log-likelihoods sequence by
    sequence (:func:`_log_frames`), transposed into the lanes, then per frame the
    maximum over the states, the shift, the flags and :func:`vexp` vectorised over the
    lanes.  Frames past a sequence's end (and unused lanes) get log-likelihood 0."""
    src, ws, FR, CC, FL, m, base, lens = (
        bufs[0], bufs[3], bufs[5], bufs[6], bufs[7], bufs[11], bufs[14], bufs[15]
    )  # fmt: skip
    nc = FR.shape[1]
    L = FR.shape[2]
    for w in range(nw):
        lo = base[w]
        _log_frames(kind, em, lo, lo + lens[w], ws, src[w * T : w * T + lens[w]])
    for t in range(T):
        FRt, CCt, FLt = FR[t], CC[t], FL[t]
        for w in range(L):
            if w < nw and t < lens[w]:
                row = w * T + t
                for i in range(nc):
                    FRt[i, w] = src[row, i]
            else:
                for i in range(nc):
                    FRt[i, w] = 0.0
        if log_space:
            for w in range(L):
                m[w] = -np.inf
            for i in range(nc):
                fi = FRt[i]
                for w in range(L):
                    m[w] = fi[w] if fi[w] > m[w] else m[w]
            for w in range(L):
                CCt[w] = m[w]
                FLt[w] = m[w] == -np.inf
            for i in range(nc):  # as _fill_scaled: no shift where every state is impossible
                fi = FRt[i]
                for w in range(L):
                    d = fi[w] - m[w] if m[w] != -np.inf else fi[w]
                    fi[w] = d
                    FLt[w] = FLt[w] or d < _FLUSH
        else:
            for w in range(L):
                CCt[w] = 0.0
                FLt[w] = False
        vexp(FRt.reshape(nc * L), ws[3], ws[4], ws[5])


@njit(cache=True)
def _group_bounds(startidx, seqs, base, lens) -> int:
    """``base[w]``, ``lens[w]`` := first frame and length of sequence ``seqs[w]``, for a
    group of lanes; returns the longest length."""
    T = 0
    for w in range(seqs.shape[0]):
        q = seqs[w]
        base[w] = startidx[q]
        lens[w] = startidx[q + 1] - startidx[q]
        T = max(T, lens[w])
    return T


@njit(cache=True, error_model="numpy")
def _fb_group(
    seqs, startidx, startprob, transmat, transmat_t, a_min, kind, em, scaled, log_space,
    want_post, want_gamma, want_xi, stats_kind, bufs, lanes,
    log_prob, gamma, start, trans, post, obs, sq, outer,
) -> None:  # fmt: skip
    """Scaled forward-backward of up to ``_FB_LANES`` sequences at once, one per lane.

    The recurrences run over the lanes (the innermost, vectorised loops) with the
    transition probabilities as scalars; every lane does the arithmetic of
    :func:`_forward_normalised`, :func:`_backward_fast` and :func:`_posterior_rows` on its
    own sequence (the same sums in the same order), so a sequence's results do not
    depend on the other lanes.  Shorter sequences run past their end on neutral frames
    (likelihood 1) that nothing reads.  A lane whose scaled pass is refused (log space)
    is redone by :func:`_exact_sequence`; with the scaling implementation an underflow
    or overflow gives a NaN log-likelihood and zero posteriors.  ``transmat_t`` is
    ``transmat.T`` (contiguous).
    """
    (
        src, fwd1, bwd1, ws, xx, FR, CC, FL, F, B, S, P, W, tot, base, lens, state, lp,
        valid, _,
    ) = bufs  # fmt: skip
    nc = transmat.shape[0]
    nw = seqs.shape[0]
    T = _group_bounds(startidx, seqs, base, lens)
    for w in range(nw):
        state[w] = _LANE_OK
    if kind == EMIT_CATEGORICAL:
        _lane_emissions_table(em, scaled, nw, T, bufs)
    else:
        _lane_emissions(kind, em, log_space, nw, T, bufs)
    # forward: fwd[t] = (fwd[t-1] @ A) * fr[t] / S[t], as _forward_normalised
    for t in range(T):
        Ft, FRt, St = F[t], FR[t], S[t]
        for w in range(nw):
            St[w] = 0.0
        for i in range(nc):
            fi, ri = FRt[i], Ft[i]
            if t == 0:
                p = startprob[i]
                for w in range(nw):
                    v = p * fi[w]
                    ri[w] = v
                    St[w] += v
            else:
                _lane_combination(F[t - 1], transmat, i, nc, P, nw)
                for w in range(nw):
                    v = P[w] * fi[w]
                    ri[w] = v
                    St[w] += v
        for w in range(nw):
            s = St[w]
            if log_space:
                ok = s >= _MIN_SCALE and (not FL[t, w] or s * a_min >= _MIN_SCALE)
            else:
                ok = s >= _MIN_SUM
            if t < lens[w] and not ok:
                state[w] = _LANE_EXACT if log_space else _LANE_NAN
            P[w] = 1.0 / s
        for i in range(nc):
            ri = Ft[i]
            for w in range(nw):
                ri[w] *= P[w]
    for w in range(nw):  # log-likelihoods, as _forward_normalised
        if state[w] != _LANE_OK:
            lp[w] = np.nan
            valid[w] = False
            continue
        acc = 0.0
        prod = 1.0
        shift = 0.0
        for t in range(lens[w]):
            s = S[t, w]
            shift += CC[t, w]
            acc, prod = _add_log_scale(s, acc, prod)
        lp[w] = acc + np.log(prod) + shift
        valid[w] = lp[w] == lp[w]
    if want_post:
        _fb_group_backward(transmat_t, log_space, nw, T, bufs)
        _fb_group_posteriors(
            want_gamma, want_xi, stats_kind, em, nw, T, bufs, lanes, gamma, start, obs
        )
    for w in range(nw):
        lo = base[w]
        hi = lo + lens[w]
        v = lp[w]
        if state[w] == _LANE_EXACT:
            v = _exact_sequence(
                startprob, transmat, kind, em, lo, hi, want_post, want_gamma, want_xi,
                stats_kind, ws, xx, src, fwd1, bwd1, gamma, start, trans, post, obs, sq, outer,
            )  # fmt: skip
        elif want_gamma and v != v:
            gamma[lo:hi] = 0.0
        log_prob[seqs[w]] = v


@njit(cache=True, error_model="numpy")
def _fb_group_backward(transmat_t, log_space, nw, T, bufs) -> None:
    """Backward rows of the lanes of :func:`_fb_group` (as :func:`_backward_fast`):
    ``bwd[n-1] = 1 / S[n-1]``, ``bwd[t] = A @ (fr[t+1] / S[t] * bwd[t+1])``; a lane whose
    rows overflow is marked for the exact pass (log space) or NaN (scaling)."""
    FR, B, S, P, W, tot, lens, state, lp, valid = (
        bufs[5], bufs[9], bufs[10], bufs[11], bufs[12], bufs[13], bufs[15], bufs[16],
        bufs[17], bufs[18],
    )  # fmt: skip
    nc = transmat_t.shape[0]
    Bl = B[T - 1]
    for w in range(nw):
        P[w] = 1.0 / S[T - 1, w]
    for i in range(nc):
        bi = Bl[i]
        for w in range(nw):
            bi[w] = P[w]
    for t in range(T - 2, -1, -1):
        St, Bn, FRn, Bt = S[t], B[t + 1], FR[t + 1], B[t]
        for w in range(nw):
            P[w] = 1.0 / St[w]
            tot[w] = 0.0
        for j in range(nc):
            wj, fj, bj = W[j], FRn[j], Bn[j]
            for w in range(nw):
                wj[w] = fj[w] * P[w] * bj[w]
        for i in range(nc):
            bi = Bt[i]
            _lane_combination(W, transmat_t, i, nc, bi, nw)
            for w in range(nw):
                tot[w] += bi[w]
        for w in range(nw):
            n = lens[w]
            if t == n - 1:  # this lane's last frame
                for i in range(nc):
                    Bt[i, w] = P[w]
            elif t < n - 1 and valid[w] and state[w] == _LANE_OK and not tot[w] < np.inf:
                state[w] = _LANE_EXACT if log_space else _LANE_NAN
                lp[w] = np.nan
    for w in range(nw):
        valid[w] = valid[w] and state[w] == _LANE_OK


@njit(cache=True, error_model="numpy")
def _fb_group_posteriors(
    want_gamma, want_xi, stats_kind, em, nw, T, bufs, lanes, gamma, start, obs
) -> None:  # fmt: skip
    """Posteriors, start counts, emission statistics and expected transitions of the
    valid lanes of :func:`_fb_group` (as :func:`_posterior_rows`); the Gaussian statistics
    and transitions go to the lane sums of ``lanes``, other lanes adding zeros."""
    FR, F, B, base, lens = bufs[5], bufs[8], bufs[9], bufs[14], bufs[15]
    valid, live = bufs[18], bufs[19]
    X = em[0]
    sym = em[1]
    GT, XT, FT, WT, inv, lxi = lanes[0], lanes[1], lanes[7], lanes[8], lanes[9], lanes[10]
    nc = F.shape[1]
    gaussian = stats_kind == STATS_MEANS or stats_kind == STATS_DIAG or stats_kind == STATS_FULL
    for t in range(T):
        Ft, Bt = F[t], B[t]
        for i in range(nc):
            gi, fi, bi = GT[i], Ft[i], Bt[i]
            for w in range(nw):
                gi[w] = fi[w] * bi[w]
        for w in range(nw):
            inv[w] = 0.0
        for i in range(nc):
            gi = GT[i]
            for w in range(nw):
                inv[w] += gi[w]
        for w in range(nw):
            live[w] = valid[w] and t < lens[w]
            inv[w] = 1.0 / inv[w]
        for i in range(nc):
            gi = GT[i]
            for w in range(nw):
                gi[w] = gi[w] * inv[w] if live[w] else 0.0
        for w in range(nw):
            if not live[w]:
                continue
            r = base[w] + t
            if t == 0:
                for i in range(nc):
                    start[i] += GT[i, w]
            if want_gamma:
                for i in range(nc):
                    gamma[r, i] = GT[i, w]
            if stats_kind == STATS_CATEGORICAL:
                s = sym[r]
                for i in range(nc):
                    obs[i, s] += GT[i, w]
        if gaussian:
            for f in range(XT.shape[0]):
                for w in range(nw):
                    XT[f, w] = X[base[w] + t, f] if live[w] else 0.0
            _lane_products(stats_kind, nw, lanes)
        if want_xi and t < T - 1:
            Bn, FRn = B[t + 1], FR[t + 1]
            for w in range(nw):  # lanes with a transition t -> t + 1
                live[w] = valid[w] and t < lens[w] - 1
            for i in range(nc):
                fti, fi = FT[i], Ft[i]
                for w in range(nw):
                    fti[w] = fi[w] if live[w] else 0.0
            for j in range(nc):
                wj, fj, bj = WT[j], FRn[j], Bn[j]
                for w in range(nw):
                    wj[w] = fj[w] * bj[w] if live[w] else 0.0
            _add_lane_outer(FT, WT, nw, lxi)


@njit(cache=True, parallel=True)
def _estep_lanes(
    seqs, startidx, startprob, transmat, a_min, kind, em, scaled, log_space,
    want_post, want_gamma, want_xi, stats_kind, n_workers,
    log_prob, gamma, start, trans, post, obs, sq, outer,
) -> None:  # fmt: skip
    """Forward-backward of the sequences ``seqs`` (sorted by length), ``_FB_LANES`` at a
    time (:func:`_fb_group`), threaded over the fixed chunks of groups that index the
    rows of the accumulators.

    The chunks are dealt to ``n_workers`` workers, one per thread (chunk ``c`` to worker
    ``c mod n_workers``), each allocating its buffers once: megabytes, whose fresh pages for
    every chunk would cost more than the work.  A chunk writes what it reads and leaves
    its lane sums zeroed, so the worker that runs it does not change its results.
    """
    nc = transmat.shape[0]
    nf = em[0].shape[1]
    n_seq = seqs.shape[0]
    n_groups = (n_seq + _FB_LANES - 1) // _FB_LANES
    n_chunks = start.shape[0]
    transmat_t = np.ascontiguousarray(transmat.T)
    T = 0
    for q in range(n_seq):
        T = max(T, startidx[seqs[q] + 1] - startidx[seqs[q]])
    for k in prange(n_workers):
        bufs = _fb_buffers(T, nc, nf, want_post)
        lanes = _stat_lanes(stats_kind, nc, nf)
        for c in range(k, n_chunks, n_workers):
            for g in range(c * n_groups // n_chunks, (c + 1) * n_groups // n_chunks):
                _fb_group(
                    seqs[g * _FB_LANES : min((g + 1) * _FB_LANES, n_seq)], startidx,
                    startprob, transmat, transmat_t, a_min, kind, em, scaled, log_space,
                    want_post, want_gamma, want_xi, stats_kind, bufs, lanes, log_prob, gamma,
                    start[c], trans[c], post[c], obs[c], sq[c], outer[c],
                )  # fmt: skip
            _reduce_lanes(lanes, transmat, trans[c], post[c], obs[c], sq[c], outer[c])


@njit(cache=True, parallel=True)
def _fill_scaled_parallel(kind, em, scaled, log_space, lo, hi, n_blocks, fr, cc, flag) -> None:
    nc = fr.shape[1]
    n = hi - lo
    nf = em[0].shape[1]
    for b in prange(n_blocks):
        ws = _workspace(nf, nc)
        _fill_scaled(
            kind, em, scaled, log_space, lo + b * n // n_blocks, lo + (b + 1) * n // n_blocks,
            lo, ws, fr, cc, flag,
        )  # fmt: skip


@njit(cache=True, parallel=True)
def _posterior_rows_parallel(
    transmat, fr, fwd, bwd, n, off, want_gamma, want_xi, stats_kind, em,
    gamma, start, trans, post, obs, sq, outer,
) -> None:  # fmt: skip
    nc = transmat.shape[0]
    n_blocks = start.shape[0]
    nf = em[0].shape[1]
    for b in prange(n_blocks):
        g = np.empty(nc)
        xx = np.empty(max(nf * nf, 1))
        lanes = _stat_lanes(stats_kind, nc, nf)
        _posterior_rows(
            fr, fwd, bwd, b * n // n_blocks, (b + 1) * n // n_blocks, n, off, want_gamma,
            want_xi, stats_kind, em, g, xx, lanes, gamma, start[b], post[b], obs[b], sq[b],
            outer[b],
        )  # fmt: skip
        _reduce_lanes(lanes, transmat, trans[b], post[b], obs[b], sq[b], outer[b])


@njit(cache=True, parallel=True)
def _log_frames_parallel(kind, em, lo, hi, n_blocks, lf) -> None:
    n = hi - lo
    nc = lf.shape[1]
    nf = em[0].shape[1]
    for b in prange(n_blocks):
        ws = _workspace(nf, nc)
        b0 = lo + b * n // n_blocks
        b1 = lo + (b + 1) * n // n_blocks
        _log_frames(kind, em, b0, b1, ws, lf[b0 - lo : b1 - lo])


@njit(cache=True)
def _viterbi_fast(log_start, log_trans_t, log_frame, n, lattice, states) -> float:
    """Viterbi over rows ``0:n`` (ties go to the larger index, as in hmmlearn).

    ``log_trans_t[i, j]`` is ``log(transmat[j, i])``: the maximum over the previous state
    reads a contiguous row, and the states' maxima are independent chains.
    """
    nc = log_trans_t.shape[0]
    for i in range(nc):
        lattice[0, i] = log_start[i] + log_frame[0, i]
    for t in range(1, n):
        for i in range(nc):
            mx = -np.inf
            for j in range(nc):
                v = lattice[t - 1, j] + log_trans_t[i, j]
                mx = v if v > mx else mx
            lattice[t, i] = mx + log_frame[t, i]
    best = 0
    for i in range(1, nc):
        if lattice[n - 1, i] > lattice[n - 1, best]:
            best = i
    states[n - 1] = best
    prev_state = best
    for t in range(n - 2, -1, -1):
        mx = -np.inf
        arg = 0
        for i in range(nc):
            v = lattice[t, i] + log_trans_t[prev_state, i]
            if v >= mx:  # ties go to the larger index, as hmmlearn's pair comparison
                mx = v
                arg = i
        states[t] = arg
        prev_state = arg
    return lattice[n - 1, best]


@njit(cache=True, parallel=True)
def _viterbi_short(seqs, startidx, log_start, log_trans_t, kind, em, max_len, log_prob, states):
    nc = log_trans_t.shape[0]
    n_seq = seqs.shape[0]
    n_chunks = _n_chunks(n_seq)
    nf = em[0].shape[1]
    for c in prange(n_chunks):
        lf = np.empty((max_len, nc))
        lattice = np.empty((max_len, nc))
        ws = _workspace(nf, nc)
        for q in range(c * n_seq // n_chunks, (c + 1) * n_seq // n_chunks):
            s = seqs[q]
            lo = startidx[s]
            hi = startidx[s + 1]
            _log_frames(kind, em, lo, hi, ws, lf)
            log_prob[s] = _viterbi_fast(log_start, log_trans_t, lf, hi - lo, lattice, states[lo:hi])


_SEQ_LANES = 64  # sequences per group of the lane-wise Viterbi
_LANE_CELLS = 8192  # lane-wise Viterbi: sequences with length x n_components up to this
_LANE_MAX_STATES = 127  # lane-wise Viterbi: back pointers are int8


@njit(cache=True)
def _viterbi_group(
    log_start, log_trans, kind, em, startidx, seqs, src, ws, lattice, back, rows, base, lens,
    log_prob, states,
) -> None:  # fmt: skip
    """Viterbi of up to ``_SEQ_LANES`` sequences at once, one per lane.

    The recurrence runs over the lanes (the innermost, vectorised loop) with the
    transitions ``log_trans[j, i] = log(transmat[j, i])`` as scalars, so its cost per
    frame does not hinge on a short loop over the states.  ``lattice`` (T, nc, lanes)
    and ``back`` (T, nc, lanes) int8 hold the frames of the longest sequence; shorter
    sequences repeat their last emission past their end, which touches nothing they
    read.  Back pointers take, as hmmlearn's backtrace, the largest maximising state
    (``>=`` over ascending states); the best final state is the first maximum.
    Emissions: categorical rows of ``em``'s table, rows of ``em``'s log frames, or
    (Gaussian) rows computed here into ``src`` (at least T x lanes rows).
    """
    nc = log_trans.shape[0]
    nw = seqs.shape[0]
    T = _group_bounds(startidx, seqs, base, lens)
    sym = em[1]
    if kind == EMIT_CATEGORICAL:
        table = em[6]
    elif kind == EMIT_LOG_FRAMES:
        table = em[7]
    else:
        table = src
        for w in range(nw):
            lo = base[w]
            _log_frames(kind, em, lo, lo + lens[w], ws, src[w * T : w * T + lens[w]])
    for t in range(T):
        for w in range(nw):
            tt = min(t, lens[w] - 1)
            if kind == EMIT_CATEGORICAL:
                rows[w] = sym[base[w] + tt]
            elif kind == EMIT_LOG_FRAMES:
                rows[w] = base[w] + tt
            else:
                rows[w] = w * T + tt
        cur = lattice[t]
        if t == 0:
            for i in range(nc):
                for w in range(nw):
                    cur[i, w] = log_start[i]
        else:
            prev = lattice[t - 1]
            bt = back[t]
            p0 = prev[0]
            for i in range(nc):
                a = log_trans[0, i]
                ci = cur[i]
                bi = bt[i]
                for w in range(nw):
                    v = p0[w] + a
                    ci[w] = v if v >= -np.inf else -np.inf  # NaN never wins, as below
                    bi[w] = 0
            for j in range(1, nc):
                pj = prev[j]
                for i in range(nc):
                    a = log_trans[j, i]
                    ci = cur[i]
                    bi = bt[i]
                    for w in range(nw):
                        v = pj[w] + a
                        if v >= ci[w]:
                            ci[w] = v
                            bi[w] = j
        for i in range(nc):
            ci = cur[i]
            for w in range(nw):
                ci[w] += table[rows[w], i]
    for w in range(nw):
        last = lattice[lens[w] - 1]
        best = 0
        for i in range(1, nc):
            if last[i, w] > last[best, w]:
                best = i
        log_prob[seqs[w]] = last[best, w]
        rows[w] = best
    for t in range(T - 1, -1, -1):
        for w in range(nw):
            n = lens[w]
            if t < n - 1:
                rows[w] = back[t + 1, rows[w], w]
            if t < n:
                states[base[w] + t] = rows[w]


@njit(cache=True, parallel=True)
def _viterbi_lanes(seqs, startidx, log_start, log_trans, kind, em, log_prob, states) -> None:
    """Viterbi of the sequences ``seqs`` (sorted by length), ``_SEQ_LANES`` at a time,
    threaded over fixed chunks of the groups."""
    nc = log_trans.shape[0]
    nf = em[0].shape[1]
    n_seq = seqs.shape[0]
    n_groups = (n_seq + _SEQ_LANES - 1) // _SEQ_LANES
    n_chunks = _n_chunks(n_groups)
    for c in prange(n_chunks):
        g0 = c * n_groups // n_chunks
        g1 = (c + 1) * n_groups // n_chunks
        T = 0
        for q in range(g0 * _SEQ_LANES, min(g1 * _SEQ_LANES, n_seq)):
            T = max(T, startidx[seqs[q] + 1] - startidx[seqs[q]])
        lattice = np.empty((T, nc, _SEQ_LANES))
        back = np.empty((T, nc, _SEQ_LANES), dtype=np.int8)
        gaussian = kind == EMIT_DIAG or kind == EMIT_FULL
        src = np.empty((T * _SEQ_LANES if gaussian else 0, nc))
        ws = _workspace(nf, nc)
        rows = np.empty(_SEQ_LANES, dtype=np.int64)
        base = np.empty(_SEQ_LANES, dtype=np.int64)
        lens = np.empty(_SEQ_LANES, dtype=np.int64)
        for g in range(g0, g1):
            _viterbi_group(
                log_start, log_trans, kind, em, startidx,
                seqs[g * _SEQ_LANES : min((g + 1) * _SEQ_LANES, n_seq)], src, ws, lattice,
                back, rows, base, lens, log_prob, states,
            )  # fmt: skip


# --------------------------------------------------------------------------- Python entry points

_LONG_MIN = 4096  # a sequence this long, holding >= 1/4 of the frames, is threaded over time
_N_BLOCKS = 64  # time blocks of a long sequence (fixed: results do not depend on threads)
# Below this much work (frames x (K**2 + K x emission cost)), about a millisecond on one
# core, the kernels run on the calling thread only: waking Numba's worker threads costs
# tens of microseconds on an idle machine and milliseconds on a busy one.
_SERIAL_WORK = 500_000


def _work(kind: int, em: tuple, n: int, nc: int) -> int:
    """Rough operation count of one pass over ``n`` frames (see ``_SERIAL_WORK``)."""
    nf = em[0].shape[1]
    emit = nf if kind == EMIT_DIAG else nf * (nf + 3) // 2 if kind == EMIT_FULL else 1
    return n * nc * (nc + emit)


@contextmanager
def _threads_for(work: int) -> Iterator[None]:
    """Run the enclosed kernels on the calling thread alone when ``work`` is small.

    Chunks and time blocks do not depend on the thread count, so neither do results.
    Numba's thread count is thread-local: other Python threads are not affected.
    """
    n_threads = get_num_threads()
    if work >= _SERIAL_WORK or n_threads == 1:
        yield
        return
    set_num_threads(1)
    try:
        yield
    finally:
        set_num_threads(n_threads)


class EStep(NamedTuple):
    """Result of :func:`forward_backward` (accumulators summed in a fixed order)."""

    log_prob: np.ndarray  # float64 (n_sequences,); NaN: scaled pass under/overflowed
    gamma: np.ndarray  # float64 (n_samples, n_components) or (0, n_components)
    start: np.ndarray  # float64 (n_components,)
    trans: np.ndarray  # float64 (n_components, n_components)
    post: np.ndarray  # float64 (n_components,)
    obs: np.ndarray  # float64 (n_components, n_features or n_symbols)
    obs2: np.ndarray  # float64 (nc, nf) for STATS_DIAG, (nc, nf, nf) STATS_FULL, else (nc, 0)


def emissions(
    kind: int,
    *,
    X: np.ndarray | None = None,
    sym: np.ndarray | None = None,
    means: np.ndarray | None = None,
    covars: np.ndarray | None = None,
    chol: np.ndarray | None = None,
    log_emissionprob: np.ndarray | None = None,
    log_frame: np.ndarray | None = None,
) -> tuple:
    """Validated emission arguments of the kernels, ``(kind, em)``.

    Parameters
    ----------
    kind : EMIT_DIAG (X, means, covars > 0), EMIT_FULL (X, means, chol: lower Cholesky
        factors with a positive diagonal), EMIT_CATEGORICAL (sym int64 (n_samples,) in
        ``[0, n_symbols)``, log_emissionprob (n_components, n_symbols)) or
        EMIT_LOG_FRAMES (log_frame (n_samples, n_components)).
    """
    f8 = np.float64
    empty1, empty2, empty3 = np.zeros(0), np.zeros((0, 0)), np.zeros((0, 0, 0))
    Xa, syma, meansa, inva, lta, consta, tablea, lfa = (
        np.zeros((0, 0)), np.zeros(0, dtype=np.int64), empty2, empty2, empty3, empty1,
        empty2, empty2,
    )  # fmt: skip
    if kind in (EMIT_DIAG, EMIT_FULL):
        Xa = np.ascontiguousarray(X, dtype=f8)
        meansa = np.ascontiguousarray(means, dtype=f8)
        if Xa.ndim != 2 or meansa.ndim != 2 or meansa.shape[1] != Xa.shape[1]:
            raise ValueError("X (n_samples, n_features) and means (nc, n_features) disagree")
        nc, nf = meansa.shape
        if kind == EMIT_DIAG:
            cv = np.asarray(covars, dtype=f8)
            if cv.shape != (nc, nf) or not np.all(cv > 0):
                raise ValueError("covars must be positive with shape (n_components, n_features)")
            inva = np.ascontiguousarray(1.0 / cv)
            consta = -0.5 * (nf * _LOG_2PI + np.log(cv).sum(axis=1))
        else:
            ch = np.asarray(chol, dtype=f8)
            diag = np.diagonal(ch, axis1=1, axis2=2) if ch.ndim == 3 else None
            if ch.shape != (nc, nf, nf) or not np.all(diag > 0):
                raise ValueError("chol must have shape (nc, nf, nf) and a positive diagonal")
            lta = _inverse_cholesky_t(np.ascontiguousarray(ch))
            consta = -0.5 * (nf * _LOG_2PI + 2.0 * np.log(diag).sum(axis=1))
    elif kind == EMIT_CATEGORICAL:
        syma = np.ascontiguousarray(sym, dtype=np.int64)
        tablea = np.ascontiguousarray(np.asarray(log_emissionprob, dtype=f8).T)
        if syma.ndim != 1 or tablea.ndim != 2:
            raise ValueError("sym must be 1-D and log_emissionprob 2-D")
        if syma.size and (syma.min() < 0 or syma.max() >= tablea.shape[0]):
            raise ValueError(f"symbols must lie in [0, {tablea.shape[0]})")
    elif kind == EMIT_LOG_FRAMES:
        lfa = np.ascontiguousarray(log_frame, dtype=f8)
        if lfa.ndim != 2:
            raise ValueError("log_frame must be 2-D (n_samples, n_components)")
    else:
        raise ValueError(f"unknown emission kind {kind!r}")
    return kind, (Xa, syma, meansa, inva, lta, consta, tablea, lfa)


def _n_samples_components(kind: int, em: tuple) -> tuple[int, int]:
    X, sym, means, _, _, _, table, log_frame = em
    if kind in (EMIT_DIAG, EMIT_FULL):
        return X.shape[0], means.shape[0]
    if kind == EMIT_CATEGORICAL:
        return sym.shape[0], table.shape[1]
    return log_frame.shape[0], log_frame.shape[1]


def _check_model(startidx, startprob, transmat, n: int, nc: int):
    startidx = np.ascontiguousarray(startidx, dtype=np.int64)
    startprob = np.ascontiguousarray(startprob, dtype=np.float64)
    transmat = np.ascontiguousarray(transmat, dtype=np.float64)
    if startprob.shape != (nc,) or transmat.shape != (nc, nc):
        raise ValueError(f"startprob/transmat do not match n_components={nc}")
    if (
        startidx.ndim != 1
        or startidx.size < 2
        or startidx[0] != 0
        or startidx[-1] != n
        or np.any(np.diff(startidx) <= 0)
    ):
        raise ValueError("startidx must rise strictly from 0 to n_samples")
    return startidx, startprob, transmat


def _split_sequences(startidx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.diff(startidx)
    n = int(startidx[-1])
    long = (lengths >= _LONG_MIN) & (4 * lengths >= n)
    return np.flatnonzero(~long).astype(np.int64), np.flatnonzero(long).astype(np.int64)


def _lane_split(
    startidx: np.ndarray, seqs: np.ndarray, nc: int, cells: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``seqs`` into those short enough for the lane kernels (length x ``nc`` at
    most ``cells``), sorted by length (stable), and the others, in their order."""
    lengths = np.diff(startidx)[seqs]
    in_lanes = lengths * nc <= cells
    return seqs[in_lanes][np.argsort(lengths[in_lanes], kind="stable")], seqs[~in_lanes]


def _scaled_table(kind: int, em: tuple, log_space: bool) -> tuple:
    table = em[6]
    if kind != EMIT_CATEGORICAL:
        return np.zeros((0, 0)), np.zeros(0), np.zeros(0, dtype=np.bool_)
    if not log_space:
        with np.errstate(under="ignore"):
            return np.exp(table), np.zeros(table.shape[0]), np.zeros(table.shape[0], np.bool_)
    m = table.max(axis=1) if table.shape[1] else np.full(table.shape[0], -np.inf)
    finite = np.isfinite(m)
    with np.errstate(under="ignore", invalid="ignore"):
        d = table - np.where(finite, m, 0.0)[:, None]
        sct = np.where(finite[:, None], np.exp(d), 0.0)
    flag = ~finite | np.any(d < _FLUSH, axis=1)
    return np.ascontiguousarray(sct), np.ascontiguousarray(m), flag


def forward_backward(
    startidx: np.ndarray,
    startprob: np.ndarray,
    transmat: np.ndarray,
    kind: int,
    em: tuple,
    log_space: bool,
    *,
    posteriors: bool = True,
    gamma: bool = True,
    xi: bool = True,
    stats_kind: int = STATS_NONE,
) -> EStep:
    """Forward-backward and sufficient statistics of every sequence in one kernel call.

    Emission log-likelihoods are computed inside the kernels from ``(kind, em)`` (see
    :func:`emissions`).  In log space the recurrences run on per-frame scaled
    likelihoods (one ``exp`` per state and frame, no logs in the inner loops) and a
    sequence where that could lose mass hmmlearn's log-space recurrences keep is redone
    exactly in log space.  Sequences are threaded over fixed chunks; a long sequence is
    threaded over fixed time blocks for its emissions and statistics.  Thread count
    follows ``numba.set_num_threads``; results do not depend on it.

    Parameters
    ----------
    startidx : int64 (n_sequences + 1,)
    startprob : float64 (n_components,)
    transmat : float64 (n_components, n_components)
    kind, em : emission model, from :func:`emissions`
    log_space : bool
        hmmlearn's ``"log"`` (True) or ``"scaling"`` implementation.
    posteriors : bool
        Run the backward pass (else only ``log_prob`` is computed).
    gamma : bool
        Return the posteriors (else ``gamma`` is empty; statistics are still computed).
    xi : bool
        Accumulate expected transition counts.
    stats_kind : STATS_*
        Emission statistics to accumulate (categorical needs EMIT_CATEGORICAL).

    Returns
    -------
    EStep
    """
    n, nc = _n_samples_components(kind, em)
    startidx, startprob, transmat = _check_model(startidx, startprob, transmat, n, nc)
    if stats_kind == STATS_CATEGORICAL and kind != EMIT_CATEGORICAL:
        raise ValueError("categorical statistics need categorical emissions")
    if stats_kind in (STATS_MEANS, STATS_DIAG, STATS_FULL) and kind not in (EMIT_DIAG, EMIT_FULL):
        raise ValueError("Gaussian statistics need Gaussian emissions")
    log_space, posteriors = bool(log_space), bool(posteriors)
    want_gamma, want_xi = posteriors and bool(gamma), posteriors and bool(xi)
    stats_kind = int(stats_kind) if posteriors else STATS_NONE
    nf = em[0].shape[1]
    m = em[6].shape[0] if stats_kind == STATS_CATEGORICAL else nf
    scaled = _scaled_table(kind, em, log_space)
    a_min = float(transmat.min()) if transmat.size else 0.0
    short, long = _split_sequences(startidx)
    n_seq = startidx.size - 1
    lane_seqs, short = _lane_split(startidx, short, nc, _FB_LANE_CELLS)
    n_lane = _n_chunks(-(-len(lane_seqs) // _FB_LANES))
    n_short = _n_chunks(len(short))
    n_acc = n_lane + n_short + len(long) * _N_BLOCKS  # rows: lane chunks, chunks, blocks
    start = np.zeros((n_acc, nc))
    trans = np.zeros((n_acc, nc, nc))
    post = np.zeros((n_acc, nc))
    obs = np.zeros((n_acc, nc, m))
    sq = np.zeros((n_acc, nc, nf if stats_kind == STATS_DIAG else 0))
    outer = np.zeros((n_acc, nc, nf * nf if stats_kind == STATS_FULL else 0))
    log_prob = np.empty(n_seq)
    gam = np.empty((n if want_gamma else 0, nc))
    with _threads_for((3 if posteriors else 1) * _work(kind, em, n, nc)):
        if len(lane_seqs):
            a = slice(0, n_lane)
            _estep_lanes(
                lane_seqs, startidx, startprob, transmat, a_min, kind, em, scaled, log_space,
                posteriors, want_gamma, want_xi, stats_kind, min(get_num_threads(), n_lane),
                log_prob, gam, start[a], trans[a], post[a], obs[a], sq[a], outer[a],
            )  # fmt: skip
        if len(short):
            max_len = int(np.diff(startidx)[short].max())
            a = slice(n_lane, n_lane + n_short)
            _estep_short(
                short, startidx, startprob, transmat, a_min, kind, em, scaled, log_space,
                posteriors, want_gamma, want_xi, stats_kind, max_len, log_prob, gam,
                start[a], trans[a], post[a], obs[a], sq[a], outer[a],
            )  # fmt: skip
        for q, s in enumerate(long):
            a = slice(n_lane + n_short + q * _N_BLOCKS, n_lane + n_short + (q + 1) * _N_BLOCKS)
            log_prob[s] = _long_sequence(
                int(startidx[s]), int(startidx[s + 1]), startprob, transmat, a_min, kind,
                em, scaled, log_space, posteriors, want_gamma, want_xi, stats_kind, gam,
                start[a], trans[a], post[a], obs[a], sq[a], outer[a],
            )  # fmt: skip
    if stats_kind == STATS_DIAG:
        obs2 = sq.sum(axis=0)
    elif stats_kind == STATS_FULL:
        obs2 = outer.sum(axis=0).reshape(nc, nf, nf)
    else:
        obs2 = np.zeros((nc, 0))
    return EStep(
        log_prob, gam, start.sum(axis=0), trans.sum(axis=0), post.sum(axis=0),
        obs.sum(axis=0), obs2,
    )  # fmt: skip


def _long_sequence(
    lo, hi, startprob, transmat, a_min, kind, em, scaled, log_space, posteriors,
    want_gamma, want_xi, stats_kind, gam, start, trans, post, obs, sq, outer,
) -> float:  # fmt: skip
    """One long sequence: emissions and statistics threaded over time blocks, the
    forward and backward recurrences serial."""
    n = hi - lo
    nc = transmat.shape[0]
    fr = np.empty((n, nc))
    cc = np.empty(n)
    flag = np.empty(n, dtype=np.bool_)
    _fill_scaled_parallel(kind, em, scaled, log_space, lo, hi, _N_BLOCKS, fr, cc, flag)
    fwd = np.empty((n, nc))
    scale = np.empty(n)
    transmat_p, transmat_tp = _padded(transmat), _padded(transmat.T)
    lp, ok = _forward_fast(
        startprob, transmat_p, a_min, fr, cc, flag, n, log_space, fwd, scale,
        np.empty(transmat_p.shape[1]),
    )  # fmt: skip
    if ok and posteriors and lp == lp:
        bwd = np.empty((n, nc))
        ok = _backward_fast(
            transmat_tp, fr, scale, n, bwd, np.empty(nc), np.empty(transmat_p.shape[1])
        )
        if not ok and not log_space:
            lp, ok = np.nan, True
        elif ok:
            _posterior_rows_parallel(
                transmat, fr, fwd, bwd, n, lo, want_gamma, want_xi, stats_kind, em,
                gam, start, trans, post, obs, sq, outer,
            )  # fmt: skip
    if not ok:
        nf = em[0].shape[1]
        return _exact_sequence(
            startprob, transmat, kind, em, lo, hi, posteriors, want_gamma, want_xi,
            stats_kind, _workspace(nf, nc), np.empty(max(nf * nf, 1)), fr, fwd,
            np.empty((n, nc)), gam, start[0], trans[0], post[0], obs[0], sq[0], outer[0],
        )  # fmt: skip
    if want_gamma and lp != lp:
        gam[lo:hi] = 0.0
    return lp


def estep(
    startidx: np.ndarray,
    startprob: np.ndarray,
    transmat: np.ndarray,
    frame: np.ndarray,
    log_space: bool,
    compute_posteriors: bool,
    compute_xi: bool,
):
    """Forward-backward of precomputed frames (see :func:`forward_backward`).

    ``frame`` holds emission log-likelihoods when ``log_space`` else likelihoods.

    Returns
    -------
    log_prob : float64 (n_sequences,)
    gamma : float64 (n_samples, n_components) or (0, n_components)
    start : float64 (n_components,)
    trans : float64 (n_components, n_components)
    """
    frame = np.asarray(frame, dtype=np.float64)
    if not log_space:
        with np.errstate(divide="ignore"):
            frame = np.log(frame)
    kind, em = emissions(EMIT_LOG_FRAMES, log_frame=frame)
    r = forward_backward(
        startidx, startprob, transmat, kind, em, log_space,
        posteriors=compute_posteriors, gamma=True, xi=compute_xi,
    )  # fmt: skip
    return r.log_prob, r.gamma, r.start, r.trans


def viterbi_batch(
    startidx: np.ndarray,
    startprob: np.ndarray,
    transmat: np.ndarray,
    log_frame: np.ndarray | None = None,
    *,
    kind: int = EMIT_LOG_FRAMES,
    em: tuple | None = None,
):
    """Viterbi paths of every sequence, emissions computed in the kernel.

    Pass either ``log_frame`` (float64 (n_samples, n_components)) or ``(kind, em)``
    from :func:`emissions`.

    Returns
    -------
    log_prob : float64 (n_sequences,)
    states : int64 (n_samples,)
    """
    if em is None:
        kind, em = emissions(EMIT_LOG_FRAMES, log_frame=log_frame)
    n, nc = _n_samples_components(kind, em)
    startidx, startprob, transmat = _check_model(startidx, startprob, transmat, n, nc)
    with np.errstate(divide="ignore"):
        log_trans = np.log(transmat)
        log_start, log_trans_t = np.log(startprob), np.ascontiguousarray(log_trans.T)
    short, long = _split_sequences(startidx)
    log_prob = np.empty(startidx.size - 1)
    states = np.empty(n, dtype=np.int64)
    with _threads_for(_work(kind, em, n, nc)):
        if len(short) and nc <= _LANE_MAX_STATES:  # lane-wise: short enough sequences
            lane_seqs, short = _lane_split(startidx, short, nc, _LANE_CELLS)
            _viterbi_lanes(lane_seqs, startidx, log_start, log_trans, kind, em, log_prob, states)
        if len(short):
            max_len = int(np.diff(startidx)[short].max())
            _viterbi_short(
                short, startidx, log_start, log_trans_t, kind, em, max_len, log_prob, states
            )
        for s in long:
            lo, hi = int(startidx[s]), int(startidx[s + 1])
            lf = np.empty((hi - lo, nc))
            _log_frames_parallel(kind, em, lo, hi, _N_BLOCKS, lf)
            log_prob[s] = _viterbi_fast(
                log_start, log_trans_t, lf, hi - lo, np.empty((hi - lo, nc)), states[lo:hi]
            )
    return log_prob, states
