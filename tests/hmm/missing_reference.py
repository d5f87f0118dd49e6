"""Plain references for missing values (NaN entries of ``X``), frame by frame: the
marginal density of the observed coordinates (scipy), the conditional moments of the
missing ones (solves), and a scaled forward-backward on given frame log-likelihoods.
Shared by the tests of every family that takes ``allow_nan``."""

from __future__ import annotations

import numpy as np
from numpy.testing import assert_allclose
from scipy.stats import multivariate_normal


def holey(X, rng, rate=0.2):
    """``X`` with a ``rate`` of its entries NaN, frame 4 all NaN and frame 7 observed in
    its first coordinate only."""
    X = X.copy()
    X[rng.rand(*X.shape) < rate] = np.nan
    X[4] = np.nan  # a frame with nothing observed
    X[7, 1:] = np.nan  # one coordinate observed
    return X


def marginal_logpdf(x, mean, cov):
    """``log N(x_o | mean_o, cov_oo)`` of the observed coordinates (0: none)."""
    o = ~np.isnan(x)
    if not o.any():
        return 0.0
    return multivariate_normal(mean[o], cov[np.ix_(o, o)]).logpdf(x[o])


def conditional_moments(x, mean, cov):
    """``E[x | x_o]`` (the frame completed) and ``Cov[x | x_o]`` (zero outside the
    missing block) under ``N(mean, cov)``."""
    o, mis = ~np.isnan(x), np.isnan(x)
    completed = np.where(o, x, 0.0)
    cond = np.zeros((len(x), len(x)))
    if o.any():
        gain = np.linalg.solve(cov[np.ix_(o, o)], cov[np.ix_(o, mis)]).T
        completed[mis] = mean[mis] + gain @ (x[o] - mean[o])
        cond[np.ix_(mis, mis)] = cov[np.ix_(mis, mis)] - gain @ cov[np.ix_(o, mis)]
    else:
        completed = mean.copy()
        cond = cov.copy()
    return completed, cond


def reference_posteriors(startprob, transmat, frames, lengths):
    """Plain scaled forward-backward on the log-likelihoods ``frames`` (start and
    transition rows need not sum to 1): gamma, expected start and transition counts,
    log-likelihood."""
    nc = len(startprob)
    gammas, trans, log_prob, start = [], np.zeros((nc, nc)), 0.0, np.zeros(nc)
    for a, b in zip(np.cumsum([0, *lengths[:-1]]), np.cumsum(lengths), strict=True):
        lf = frames[a:b]
        shift = lf.max(axis=1, keepdims=True)
        e = np.exp(lf - shift)
        n = b - a
        alpha, beta, c = np.zeros((n, nc)), np.ones((n, nc)), np.zeros(n)
        alpha[0] = startprob * e[0]
        for t in range(n):
            if t:
                alpha[t] = alpha[t - 1] @ transmat * e[t]
            c[t] = alpha[t].sum()
            alpha[t] /= c[t]
        for t in range(n - 2, -1, -1):
            beta[t] = transmat @ (e[t + 1] * beta[t + 1]) / c[t + 1]
        for t in range(n - 1):
            trans += np.outer(alpha[t], e[t + 1] * beta[t + 1]) * transmat / c[t + 1]
        g = alpha * beta
        gammas.append(g)
        start += g[0]
        log_prob += np.log(c).sum() + shift.sum()
    return np.concatenate(gammas), start, trans, log_prob


def assert_partitions_add_up(em, X, lengths, split, **tolerance):
    """The E-step statistics of ``X[:split]`` and ``X[split:]`` (``lengths`` split
    with it, at a sequence boundary) share their keys and add up to those of the whole
    (what ``fastgen.dask`` sums), to ``tolerance`` (``assert_allclose``'s)."""
    lengths = np.asarray(lengths)
    k = int(np.searchsorted(np.cumsum(lengths), split)) + 1
    whole = em.estep(X, lengths)
    parts = em.estep(X[:split], lengths[:k]) + em.estep(X[split:], lengths[k:])
    assert sorted(whole.emission) == sorted(parts.emission)
    for key in whole.emission:
        assert_allclose(parts.emission[key], whole.emission[key], **tolerance)


def assert_beats_column_means(fitted, holes, part, full):
    """The missing-data fit ``part`` of ``holes`` is at least twice as close to the
    complete-data fit ``full`` in ``covars_`` as ``fitted`` (the same start) on
    ``holes`` with each NaN set to its column's mean, which biases the covariances."""
    filled = np.where(np.isnan(holes), np.nanmean(holes, axis=0), holes)
    naive = fitted(filled)
    err_em = np.abs(part.covars_ - full.covars_).max()
    err_naive = np.abs(naive.covars_ - full.covars_).max()
    assert err_em < err_naive / 2
