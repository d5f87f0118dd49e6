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

import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from fastgen._validation import check_array

__all__ = ["MissingFrames", "check_observations", "impute_column_means", "observed_means"]

_LOG_2PI = np.log(2.0 * np.pi)


def check_observations(X: Any, name: str, allow_nan: bool) -> np.ndarray:
    """``X`` as C-contiguous float64 (n_samples, n_features), finite; with
    ``allow_nan``, NaN entries pass (missing values) and only infinity is refused.
    Raises ``ValueError`` naming the estimator ``name``."""
    if not allow_nan:
        return np.ascontiguousarray(check_array(X, dtype=np.float64, estimator_name=name))
    X = check_array(X, dtype=np.float64, ensure_all_finite=False, estimator_name=name)
    if np.isinf(X).any():
        raise ValueError("Input X contains infinity.")
    return np.ascontiguousarray(X)


def observed_means(X: np.ndarray, nan: np.ndarray) -> np.ndarray:
    """Each column's mean over its observed entries (``nan``: the mask of missing
    ones), 0 for a column never observed."""
    seen = (~nan).sum(axis=0)
    return np.where(seen > 0, np.where(nan, 0.0, X).sum(axis=0) / np.maximum(seen, 1), 0.0)


def impute_column_means(X: np.ndarray) -> np.ndarray:
    """``X`` with each NaN entry replaced by its column's observed mean (0 for a
    column never observed): where initialisations (k-means, data covariance) start
    from when values are missing.  ``X`` itself when nothing is missing."""
    nan = np.isnan(X)
    if not nan.any():
        return X
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a never-observed feature
        col = np.nanmean(X, axis=0)
    return np.where(nan, np.nan_to_num(col)[None, :], X)


class Pattern(NamedTuple):
    """The frames sharing one pattern of missing coordinates."""

    rows: slice  # their rows of the patterns' order (MissingFrames.order)
    obs: np.ndarray  # intp: the observed coordinates
    mis: np.ndarray  # intp: the missing coordinates
    U: np.ndarray  # float64 (len(rows), len(obs) + 1): observed values - shift, then 1


class Factors(NamedTuple):
    """One pattern's factorisation under the current parameters."""

    inv: np.ndarray  # (c, q, q): inverse lower Cholesky factors of S_oo (c = 1: shared)
    logdet: np.ndarray  # (c,): log |S_oo|
    W: np.ndarray  # (q + 1, nc * q): U @ W = (x_o - mu_o) L^-T for every component
    E: np.ndarray  # (nc * q, nc): sums the squares of each component's block


def pattern_groups(nan: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the boolean mask ``nan`` (n, d) ordered so that equal rows are adjacent,
    and the bounds of the runs of equal rows in that order."""
    words = np.packbits(nan, axis=1)  # the mask as bytes, then as 64-bit words
    words = np.pad(words, ((0, 0), (0, -words.shape[1] % 8))).view(np.uint64)
    if words.shape[1] == 1:
        order = np.argsort(words[:, 0], kind="stable")
    else:
        order = np.lexsort(words.T[::-1])
    ordered = words[order]
    change = np.flatnonzero((ordered[1:] != ordered[:-1]).any(axis=1)) + 1
    return order, np.concatenate(([0], change, [nan.shape[0]]))


class MissingFrames:
    """Validated ``X`` (float64 (n_samples, n_features), NaN for missing entries) with
    its frames grouped by missingness pattern, once per fit.

    The grouped values are kept about ``shift`` (the observed column means), so the
    products of the E-step lose little to cancellation.

    Parameters
    ----------
    X : float64 (n_samples, n_features)
        Finite apart from NaN entries.
    """

    def __init__(self, X: np.ndarray) -> None:
        self.X = X
        self.shape = X.shape
        n, nf = X.shape
        nan = np.isnan(X)
        partial = nan.any(axis=1)
        self.shift = observed_means(X, nan)
        self.complete = np.flatnonzero(~partial)
        self.Xc = np.ascontiguousarray(X[self.complete])  # the dense kernel's input
        # the complete frames, then the others grouped by pattern: one gather of the
        # posteriors and one scatter of the likelihoods per call, slices in between
        rows = np.flatnonzero(partial)
        order, bounds = pattern_groups(nan[rows])
        self.order = np.concatenate([self.complete, rows[order]])
        nc0 = self.complete.size
        self._grouped = X[self.order] - self.shift  # dropped once the patterns are built
        self._whole = self._pattern(slice(0, nc0), np.ones(nf, dtype=bool))
        self.patterns = [
            self._pattern(slice(nc0 + a, nc0 + b), ~nan[rows[order[a]]])
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]
        del self._grouped
        self._cache: tuple | None = None  # (key of the parameters, factors per pattern)

    def _pattern(self, rows: slice, observed: np.ndarray) -> Pattern:
        obs, mis = np.flatnonzero(observed), np.flatnonzero(~observed)
        block = self._grouped[rows]
        U = np.empty((len(block), obs.size + 1))
        U[:, :-1] = block if mis.size == 0 else block[:, obs]
        U[:, -1] = 1.0
        return Pattern(rows, obs, mis, U)

    def _factors(
        self, means: np.ndarray, covs: np.ndarray, cholesky: Callable
    ) -> list[Factors | None]:
        """Per pattern, its :class:`Factors` (None when nothing is observed).  Kept for
        the same parameters (the likelihood and the statistics of one E-step)."""
        key = (means.tobytes(), covs.shape, covs.tobytes())
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        mats = covs[None] if covs.ndim == 2 else covs
        centred = means - self.shift
        nc = means.shape[0]
        out: list[Factors | None] = []
        for p in self.patterns:
            q = p.obs.size
            if q == 0:
                out.append(None)
                continue
            chol = cholesky(np.ascontiguousarray(mats[:, p.obs[:, None], p.obs]))
            logdet = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
            inv_t = np.broadcast_to(np.linalg.inv(chol).transpose(0, 2, 1), (nc, q, q))
            W = np.empty((q + 1, nc, q))
            W[:q] = inv_t.transpose(1, 0, 2)
            W[q] = -np.matmul(centred[:, None, p.obs], inv_t)[:, 0]
            E = np.kron(np.eye(nc), np.ones((q, 1)))
            inv = inv_t.transpose(0, 2, 1)[: len(chol)]
            out.append(Factors(inv, logdet, W.reshape(q + 1, -1), E))
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
        nc = means.shape[0]
        grouped = np.empty((self.shape[0], nc))  # in the order of self.order
        if self.complete.size:
            grouped[self._whole.rows] = dense(self.Xc)
        for p, f in zip(self.patterns, self._factors(means, covs, cholesky), strict=True):
            if f is None:
                grouped[p.rows] = 0.0
                continue
            y = p.U @ f.W  # (r, nc * q)
            with np.errstate(over="ignore", invalid="ignore"):  # huge values: probability 0
                y *= y
                maha = y @ f.E
            bad = np.flatnonzero(np.isnan(maha).any(axis=1))
            if bad.size:  # inf * 0 in the sum: add up those rows' blocks alone
                maha[bad] = y[bad].reshape(bad.size, nc, -1).sum(axis=2)
            grouped[p.rows] = -0.5 * (p.obs.size * _LOG_2PI + f.logdet + maha)
        out = np.empty_like(grouped)
        out[self.order] = grouped
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
        s1, s2, w = self.shifted_moments(means, covs, gamma, cholesky, second)
        # back from moments about shift: x = (x - shift) + shift
        obs = s1 + w[:, None] * self.shift
        if s2 is None:
            return obs, None
        outer = np.einsum("ki,j->kij", s1, self.shift)
        out2 = s2 + outer + outer.transpose(0, 2, 1)
        out2 += w[:, None, None] * np.outer(self.shift, self.shift)
        return obs, out2

    def shifted_moments(
        self,
        means: np.ndarray,
        covs: np.ndarray,
        gamma: np.ndarray,
        cholesky: Callable[[np.ndarray], np.ndarray],
        second: bool = True,
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """:meth:`moments` of ``x - shift`` (less cancellation for a caller that
        centres them again), with the posterior sums ``sum_t gamma_tk`` (n_components,).

        In a pattern, the completed frame is linear in ``u = (x_o - shift_o, 1)``:
        ``E[x - shift | x_o, k] = B_k u``, so its moments are ``B_k`` applied to the
        weighted moments of ``u``, plus the conditional covariance in the missing block.
        """
        nc, nf = means.shape
        mats = covs[None] if covs.ndim == 2 else covs
        centred = means - self.shift
        s1 = np.zeros((nc, nf))  # about shift
        s2 = np.zeros((nc, nf, nf)) if second else None
        w = np.zeros(nc)
        factors = [None, *self._factors(means, covs, cholesky)]
        grouped = gamma[self.order]
        for p, f in zip([self._whole, *self.patterns], factors, strict=True):
            if not len(p.U):
                continue
            o, m, q = p.obs, p.mis, p.obs.size
            g = grouped[p.rows]  # (r, nc)
            if second:  # the weighted moments of u; U's last column is 1
                u2 = np.empty((nc, q + 1, q + 1))
                for c in range(nc):
                    np.matmul((p.U * g[:, c : c + 1]).T, p.U, out=u2[c])
                u1 = u2[:, -1]  # (nc, q + 1)
            else:
                u1 = (p.U.T @ g).T
            w += u1[:, -1]
            if m.size == 0:  # complete frames
                s1 += u1[:, :-1]
                if second:
                    s2 += u2[:, :-1, :-1]
                continue
            s_mo = mats[:, m[:, None], o]  # (c, |m|, q)
            if f is None:
                gain = np.zeros((len(mats), m.size, 0))
            else:
                gain = np.matmul(np.matmul(s_mo, f.inv.transpose(0, 2, 1)), f.inv)  # S_mo S_oo^-1
            B = np.zeros((nc, nf, q + 1))
            B[:, o, np.arange(q)] = 1.0
            B[:, m[:, None], np.arange(q)] = gain
            B[:, m, q] = centred[:, m] - np.matmul(gain, centred[:, o, None])[:, :, 0]
            s1 += np.matmul(B, u1[:, :, None])[:, :, 0]
            if second:
                cond = mats[:, m[:, None], m] - np.matmul(gain, s_mo.transpose(0, 2, 1))
                s2 += np.matmul(np.matmul(B, u2), B.transpose(0, 2, 1))
                s2[:, m[:, None], m] += u1[:, -1, None, None] * cond
        return s1, s2, w
