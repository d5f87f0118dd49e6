"""Missing values under full covariance matrices: conditional Gaussian marginals.

A frame with NaN entries is a draw of which only the observed coordinates ``o`` are
known (missing at random).  Its likelihood in a component of mean ``mu`` and covariance
``S`` is the marginal normal density of ``x_o`` (mean ``mu_o``, covariance ``S_oo``); a
frame with nothing observed has likelihood 1.  The exact EM statistics replace the
missing coordinates ``m`` by their conditional moments given ``x_o``::

    E[x_m | x_o]   = mu_m + A (x_o - mu_o),        A = S_mo S_oo^-1
    Cov[x_m | x_o] = S_mm - A S_om

so ``E[x x^T]`` is the outer product of the completed frame plus that conditional
covariance in the ``(m, m)`` block.  Frames are grouped by their pattern of missing
coordinates, and ``S_oo`` is factored once per pattern and component.  Frames without
NaN go through the compiled dense densities as they do without missing values.

Written for any set of components (means ``(n_components, n_features)``, covariances
``(n_components, n_features, n_features)`` or one shared ``(n_features, n_features)``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

__all__ = ["MissingFrames"]

_LOG_2PI = np.log(2.0 * np.pi)


class Pattern(NamedTuple):
    """The frames sharing one pattern of missing coordinates."""

    rows: np.ndarray  # intp: their rows of X
    obs: np.ndarray  # intp: the observed coordinates
    mis: np.ndarray  # intp: the missing coordinates (not empty)
    Xo: np.ndarray  # float64 (len(rows), len(obs)): their observed values


class MissingFrames:
    """Validated ``X`` (float64 (n_samples, n_features), NaN for missing entries) with
    its frames grouped by missingness pattern, once per fit.

    Parameters
    ----------
    X : float64 (n_samples, n_features)
        Finite apart from NaN entries.
    """

    def __init__(self, X: np.ndarray) -> None:
        self.X = X
        self.shape = X.shape
        nan = np.isnan(X)
        partial = nan.any(axis=1)
        self.complete = np.flatnonzero(~partial)
        self.Xc = np.ascontiguousarray(X[self.complete])
        rows = np.flatnonzero(partial)
        self.patterns: list[Pattern] = []
        if rows.size:
            keys = np.packbits(nan[rows], axis=1)
            _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
            inverse = inverse.ravel()
            order = np.argsort(inverse, kind="stable")
            bounds = np.concatenate(([0], np.cumsum(np.bincount(inverse))))
            for g, row in enumerate(rows[first]):
                these = rows[order[bounds[g] : bounds[g + 1]]]
                obs, mis = np.flatnonzero(~nan[row]), np.flatnonzero(nan[row])
                self.patterns.append(Pattern(these, obs, mis, X[np.ix_(these, obs)]))
        self._cache: tuple | None = None  # (key of the parameters, factors per pattern)

    def _factors(
        self, means: np.ndarray, covs: np.ndarray, cholesky: Callable
    ) -> list[tuple[np.ndarray, np.ndarray] | None]:
        """Per pattern, the inverse lower Cholesky factors of ``S_oo`` (c, q, q) and
        their log-determinants ``log |S_oo|`` (c,), ``c`` = 1 for shared covariances;
        None for a pattern with nothing observed.  Kept for the same parameters (the
        likelihood and the statistics of one E-step)."""
        key = (means.tobytes(), covs.shape, covs.tobytes())
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        mats = covs[None] if covs.ndim == 2 else covs
        out: list[tuple[np.ndarray, np.ndarray] | None] = []
        for p in self.patterns:
            if p.obs.size == 0:
                out.append(None)
                continue
            chol = cholesky(np.ascontiguousarray(mats[:, p.obs[:, None], p.obs]))
            logdet = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
            out.append((np.linalg.inv(chol), logdet))
        self._cache = (key, out)
        return out

    def log_likelihood(
        self,
        means: np.ndarray,
        covs: np.ndarray,
        cholesky: Callable[[np.ndarray], np.ndarray],
        dense: Callable[[np.ndarray], np.ndarray],
    ) -> np.ndarray:
        """Log-densities of the observed coordinates, float64 (n_samples, n_components).

        ``cholesky`` maps covariances (c, q, q) to their lower factors; ``dense`` gives
        the log-densities of complete frames (the kernels' dense path)."""
        out = np.empty((self.shape[0], means.shape[0]))
        if self.complete.size:
            out[self.complete] = dense(self.Xc)
        for p, f in zip(self.patterns, self._factors(means, covs, cholesky), strict=True):
            if f is None:
                out[p.rows] = 0.0
                continue
            inv, logdet = f
            y = np.matmul(p.Xo[None] - means[:, None, p.obs], inv.transpose(0, 2, 1))
            maha = np.einsum("krq,krq->kr", y, y)
            out[p.rows] = (-0.5 * (p.obs.size * _LOG_2PI + logdet[:, None] + maha)).T
        return out

    def moments(
        self,
        means: np.ndarray,
        covs: np.ndarray,
        gamma: np.ndarray,
        cholesky: Callable[[np.ndarray], np.ndarray],
        second: bool = True,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Expected sufficient statistics ``sum_t gamma_tk E[x_t | x_t,o, k]`` (n_components,
        n_features) and, with ``second``, ``sum_t gamma_tk E[x_t x_t^T | x_t,o, k]``
        (n_components, n_features, n_features) under the components ``means`` /
        ``covs``, for the posteriors ``gamma`` (n_samples, n_components)."""
        nc, nf = means.shape
        gc = gamma[self.complete]
        obs = gc.T @ self.Xc
        out2 = None
        if second:
            out2 = np.empty((nc, nf, nf))
            for c in range(nc):
                out2[c] = (self.Xc * gc[:, c : c + 1]).T @ self.Xc
        mats = covs[None] if covs.ndim == 2 else covs
        for p, f in zip(self.patterns, self._factors(means, covs, cholesky), strict=True):
            o, m = p.obs, p.mis
            g = gamma[p.rows]  # (r, nc)
            if f is None:  # nothing observed: the component's own moments
                xm = np.broadcast_to(means[:, None, m], (nc, len(p.rows), m.size))
                cond = mats[:, m[:, None], m]
            else:
                inv = f[0]
                s_mo = mats[:, m[:, None], o]
                gain = np.matmul(np.matmul(s_mo, inv.transpose(0, 2, 1)), inv)  # S_mo S_oo^-1
                resid = p.Xo[None] - means[:, None, o]  # (nc, r, q)
                xm = means[:, None, m] + np.matmul(resid, gain.transpose(0, 2, 1))
                cond = mats[:, m[:, None], m] - np.matmul(gain, s_mo.transpose(0, 2, 1))
            full = np.empty((nc, len(p.rows), nf))
            full[:, :, o] = p.Xo[None]
            full[:, :, m] = xm
            gt = g.T[:, :, None]  # (nc, r, 1)
            obs += (full * gt).sum(axis=1)
            if second:
                out2 += np.matmul((full * gt).transpose(0, 2, 1), full)
                w = g.sum(axis=0)[:, None, None]
                out2[:, m[:, None], m] += w * np.broadcast_to(cond, (nc, m.size, m.size))
        return obs, out2
