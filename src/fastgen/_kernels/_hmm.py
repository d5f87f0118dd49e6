"""Numba kernels for hidden Markov models.

Plain arrays in, arrays out; no estimator logic and no validation.  Sequences are
described by ``startidx``, an int64 array of shape ``(n_sequences + 1,)`` holding the
first row of every sequence and, last, the total number of rows (``startidx[0] == 0``,
strictly increasing).  Lattices are float64 arrays of shape ``(n_samples, n_components)``.

The arithmetic follows hmmlearn's ``_hmmc`` extension: the same recurrences, the same
``1e-300`` underflow threshold of the scaled forward pass and the same Viterbi
tie-breaking (first maximum at the last frame, largest index while backtracking).  The
log-space recurrences factor the maximum out once per frame (``m + log(sum(exp(a - m)
* A))``) instead of taking ``K`` separate log-sum-exps; results agree to rounding.

Work over many sequences is split into a fixed number of contiguous chunks, run with
``prange``; every chunk owns its accumulators, which are reduced in chunk order at the
end, so results do not depend on the number of threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = [
    "log_density_diag",
    "log_density_diag_missing",
    "log_density_full",
    "forward_log",
    "backward_log",
    "forward_scaling",
    "backward_scaling",
    "viterbi",
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
def forward_scaling(startprob, transmat, frame, fwd, scaling) -> float:
    """Scaled forward pass into ``fwd``/``scaling``; returns the log-likelihood.

    Returns NaN when a frame's total probability falls below 1e-300 (underflow).
    """
    n, nc = frame.shape
    s = 0.0
    for i in range(nc):
        fwd[0, i] = startprob[i] * frame[0, i]
        s += fwd[0, i]
    if not s >= _MIN_SUM:
        return np.nan
    scale = 1.0 / s
    scaling[0] = scale
    log_prob = -np.log(scale)
    for i in range(nc):
        fwd[0, i] *= scale
    for t in range(1, n):
        s = 0.0
        for j in range(nc):
            acc = 0.0
            for i in range(nc):
                acc += fwd[t - 1, i] * transmat[i, j]
            fwd[t, j] = acc * frame[t, j]
            s += fwd[t, j]
        if not s >= _MIN_SUM:
            return np.nan
        scale = 1.0 / s
        scaling[t] = scale
        log_prob -= np.log(scale)
        for j in range(nc):
            fwd[t, j] *= scale
    return log_prob


@njit(cache=True)
def backward_scaling(transmat, frame, scaling, bwd) -> None:
    """Scaled backward pass into ``bwd`` (uses the forward pass's ``scaling``)."""
    n, nc = frame.shape
    buf = np.empty(nc)
    for i in range(nc):
        bwd[n - 1, i] = scaling[n - 1]
    for t in range(n - 2, -1, -1):
        for j in range(nc):
            buf[j] = frame[t + 1, j] * bwd[t + 1, j]
        for i in range(nc):
            acc = 0.0
            for j in range(nc):
                acc += transmat[i, j] * buf[j]
            bwd[t, i] = acc * scaling[t]


@njit(cache=True)
def viterbi(log_startprob, log_transmat, log_frame, lattice, states) -> float:
    """Most likely path of one sequence into ``states``; returns its log-probability."""
    n, nc = log_frame.shape
    for i in range(nc):
        lattice[0, i] = log_startprob[i] + log_frame[0, i]
    for t in range(1, n):
        for i in range(nc):
            m = -np.inf
            for j in range(nc):
                v = lattice[t - 1, j] + log_transmat[j, i]
                if v > m:
                    m = v
            lattice[t, i] = m + log_frame[t, i]
    best = 0
    for i in range(1, nc):
        if lattice[n - 1, i] > lattice[n - 1, best]:
            best = i
    states[n - 1] = best
    prev = best
    for t in range(n - 2, -1, -1):
        m = -np.inf
        arg = 0
        for i in range(nc):
            v = lattice[t, i] + log_transmat[i, prev]
            if v >= m:  # ties go to the larger index, as hmmlearn's pair comparison
                m = v
                arg = i
        states[t] = arg
        prev = arg
    return lattice[n - 1, best]


# --------------------------------------------------------------------------- batches


@njit(cache=True)
def _n_chunks(n_seq: int) -> int:
    return min(n_seq, _MAX_CHUNKS)


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
def _posteriors_scaling(fwd, bwd, lo, hi, gamma) -> None:
    nc = fwd.shape[1]
    for t in range(lo, hi):
        s = 0.0
        for i in range(nc):
            gamma[t, i] = fwd[t, i] * bwd[t, i]
            s += gamma[t, i]
        if s == 0.0:
            s = 1.0
        for i in range(nc):
            gamma[t, i] /= s


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


@njit(cache=True)
def _xi_sum_scaling(transmat, frame, fwd, bwd, lo, hi, out) -> None:
    nc = transmat.shape[0]
    b = np.empty(nc)
    for t in range(lo, hi - 1):
        for j in range(nc):
            b[j] = frame[t + 1, j] * bwd[t + 1, j]
        for i in range(nc):
            f = fwd[t, i]
            for j in range(nc):
                out[i, j] += f * transmat[i, j] * b[j]


@njit(cache=True)
def _estep_chunk(
    c,
    n_chunks,
    startidx,
    startprob,
    transmat,
    frame,
    log_space,
    compute_posteriors,
    compute_xi,
    fwd,
    bwd,
    scaling,
    gamma,
    log_prob,
    start_acc,
    trans_acc,
) -> None:
    n_seq = startidx.shape[0] - 1
    nc = frame.shape[1]
    for s in range(c * n_seq // n_chunks, (c + 1) * n_seq // n_chunks):
        lo = startidx[s]
        hi = startidx[s + 1]
        fr = frame[lo:hi]
        if log_space:
            lp = forward_log(startprob, transmat, fr, fwd[lo:hi])
        else:
            lp = forward_scaling(startprob, transmat, fr, fwd[lo:hi], scaling[lo:hi])
        log_prob[s] = lp
        if not compute_posteriors:
            continue
        if not lp > -np.inf:  # impossible sequence (or underflow): no posterior mass
            gamma[lo:hi] = 0.0
            continue
        if log_space:
            backward_log(transmat, fr, bwd[lo:hi])
            _posteriors_log(fwd, bwd, lo, hi, gamma)
        else:
            backward_scaling(transmat, fr, scaling[lo:hi], bwd[lo:hi])
            _posteriors_scaling(fwd, bwd, lo, hi, gamma)
        for i in range(nc):
            start_acc[c, i] += gamma[lo, i]
        if compute_xi and hi - lo > 1:
            if log_space:
                _xi_sum_log(transmat, frame, fwd, bwd, lp, lo, hi, trans_acc[c])
            else:
                _xi_sum_scaling(transmat, frame, fwd, bwd, lo, hi, trans_acc[c])


@njit(cache=True)
def _estep_alloc(startidx, frame, log_space, compute_posteriors):
    n_seq = startidx.shape[0] - 1
    n, nc = frame.shape
    n_chunks = _n_chunks(n_seq)
    return (
        np.empty((n, nc)),
        np.empty((n, nc)) if compute_posteriors else np.empty((0, nc)),
        np.empty(n) if not log_space else np.empty(0),
        np.empty((n, nc)) if compute_posteriors else np.empty((0, nc)),
        np.empty(n_seq),
        np.zeros((n_chunks, nc)),
        np.zeros((n_chunks, nc, nc)),
    )


@njit(cache=True)
def _reduce(start_acc, trans_acc):
    nc = start_acc.shape[1]
    start = np.zeros(nc)
    trans = np.zeros((nc, nc))
    for c in range(start_acc.shape[0]):
        start += start_acc[c]
        trans += trans_acc[c]
    return start, trans


@njit(cache=True, parallel=True)
def _estep_parallel(
    startidx, startprob, transmat, frame, log_space, compute_posteriors, compute_xi
):
    fwd, bwd, scaling, gamma, log_prob, start_acc, trans_acc = _estep_alloc(
        startidx, frame, log_space, compute_posteriors
    )
    n_chunks = start_acc.shape[0]
    for c in prange(n_chunks):
        _estep_chunk(
            c,
            n_chunks,
            startidx,
            startprob,
            transmat,
            frame,
            log_space,
            compute_posteriors,
            compute_xi,
            fwd,
            bwd,
            scaling,
            gamma,
            log_prob,
            start_acc,
            trans_acc,
        )
    start, trans = _reduce(start_acc, trans_acc)
    return log_prob, gamma, start, trans


@njit(cache=True)
def _estep_serial(startidx, startprob, transmat, frame, log_space, compute_posteriors, compute_xi):
    fwd, bwd, scaling, gamma, log_prob, start_acc, trans_acc = _estep_alloc(
        startidx, frame, log_space, compute_posteriors
    )
    n_chunks = start_acc.shape[0]
    for c in range(n_chunks):
        _estep_chunk(
            c,
            n_chunks,
            startidx,
            startprob,
            transmat,
            frame,
            log_space,
            compute_posteriors,
            compute_xi,
            fwd,
            bwd,
            scaling,
            gamma,
            log_prob,
            start_acc,
            trans_acc,
        )
    start, trans = _reduce(start_acc, trans_acc)
    return log_prob, gamma, start, trans


def estep(
    startidx: np.ndarray,
    startprob: np.ndarray,
    transmat: np.ndarray,
    frame: np.ndarray,
    log_space: bool,
    compute_posteriors: bool,
    compute_xi: bool,
):
    """Forward-backward over every sequence in one call.

    Runs threaded (``prange`` over chunks of sequences) when there are several
    sequences, serially otherwise.

    Parameters
    ----------
    startidx : int64 (n_sequences + 1,)
    startprob : float64 (n_components,)
    transmat : float64 (n_components, n_components)
    frame : float64 (n_samples, n_components)
        Emission log-likelihoods when ``log_space`` else emission likelihoods.
    log_space : bool
        Log-space recurrences (hmmlearn's ``"log"``) or scaled ones (``"scaling"``).
    compute_posteriors : bool
        Run the backward pass and fill ``gamma`` (else ``gamma`` is empty).
    compute_xi : bool
        Accumulate expected transition counts (needs ``compute_posteriors``).

    Returns
    -------
    log_prob : float64 (n_sequences,)
        Per-sequence log-likelihood; NaN marks a scaled pass that underflowed.
    gamma : float64 (n_samples, n_components) or (0, n_components)
        Posteriors; all zero for a sequence of probability zero (or NaN log_prob),
        which then adds nothing to ``start`` and ``trans``.
    start : float64 (n_components,)
        Sum of the first-frame posteriors.
    trans : float64 (n_components, n_components)
        Expected transition counts summed over frames and sequences.
    """
    kernel = _estep_parallel if startidx.shape[0] > 2 else _estep_serial
    return kernel(
        startidx,
        startprob,
        transmat,
        frame,
        bool(log_space),
        bool(compute_posteriors),
        bool(compute_xi),
    )


@njit(cache=True)
def _viterbi_chunk(
    c, n_chunks, startidx, log_start, log_trans, log_frame, lattice, states, log_prob
) -> None:
    n_seq = startidx.shape[0] - 1
    for s in range(c * n_seq // n_chunks, (c + 1) * n_seq // n_chunks):
        lo = startidx[s]
        hi = startidx[s + 1]
        log_prob[s] = viterbi(log_start, log_trans, log_frame[lo:hi], lattice[lo:hi], states[lo:hi])


@njit(cache=True)
def _viterbi_alloc(startidx, startprob, transmat, log_frame):
    n, nc = log_frame.shape
    return (
        np.log(startprob),
        np.log(transmat),
        np.empty((n, nc)),
        np.empty(n, dtype=np.int64),
        np.empty(startidx.shape[0] - 1),
    )


@njit(cache=True, parallel=True)
def _viterbi_parallel(startidx, startprob, transmat, log_frame):
    log_start, log_trans, lattice, states, log_prob = _viterbi_alloc(
        startidx, startprob, transmat, log_frame
    )
    n_chunks = _n_chunks(log_prob.shape[0])
    for c in prange(n_chunks):
        _viterbi_chunk(
            c, n_chunks, startidx, log_start, log_trans, log_frame, lattice, states, log_prob
        )
    return log_prob, states


@njit(cache=True)
def _viterbi_serial(startidx, startprob, transmat, log_frame):
    log_start, log_trans, lattice, states, log_prob = _viterbi_alloc(
        startidx, startprob, transmat, log_frame
    )
    n_chunks = _n_chunks(log_prob.shape[0])
    for c in range(n_chunks):
        _viterbi_chunk(
            c, n_chunks, startidx, log_start, log_trans, log_frame, lattice, states, log_prob
        )
    return log_prob, states


def viterbi_batch(
    startidx: np.ndarray, startprob: np.ndarray, transmat: np.ndarray, log_frame: np.ndarray
):
    """Viterbi paths of every sequence (threaded over sequences when there are several).

    Returns
    -------
    log_prob : float64 (n_sequences,)
    states : int64 (n_samples,)
    """
    kernel = _viterbi_parallel if startidx.shape[0] > 2 else _viterbi_serial
    return kernel(startidx, startprob, transmat, log_frame)
