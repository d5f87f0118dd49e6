"""Gaussian-mixture emissions: the family of :class:`GMMHMM`."""

from __future__ import annotations

import numbers
from typing import Any, NamedTuple

import numpy as np

from fastgen._docstrings import fill
from fastgen._kernels import hmm as _k
from fastgen.hmm._base import BaseHMM
from fastgen.hmm._docs import SHARED
from fastgen.hmm._family import EmissionFamily
from fastgen.hmm._gaussian import (
    COVARIANCE_TYPES,
    cholesky_lower,
    kmeans,
    not_positive_definite,
)
from fastgen.hmm._missing import (
    MissingFrames,
    check_observations,
    impute_column_means,
    observed_means,
)
from fastgen.hmm._util import check_distribution, check_random_state, stored_array, stored_count

__all__ = ["GMMEmissions", "GMMHMM"]


class Frames(NamedTuple):
    """Validated observations with what the statistics reuse every EM iteration."""

    X: np.ndarray  # float64 (n_samples, n_features)
    shift: np.ndarray  # float64 (n_features,): the mean of X (observed entries)
    Xc: np.ndarray | None  # X - shift (less cancellation in the moments), NaN -> 0; None
    # when ``patterns`` holds the frames
    products: dict  # lazily: "square" Xc**2, "outer" upper-triangle products of Xc
    nan: np.ndarray | None  # with NaN entries (allow_nan): their mask, else None
    patterns: MissingFrames | None  # with NaN entries and full / tied covariances


class Priors(NamedTuple):
    """The priors broadcast to hmmlearn's shapes (``covars_prior`` / ``covars_weight``
    resolved from None to the ``covariance_type``'s defaults)."""

    weights: np.ndarray  # (nc, nm) Dirichlet concentrations
    means: np.ndarray  # (nc, nm, nf)
    means_weight: np.ndarray  # (nc, nm)
    covars: np.ndarray  # full (nc, nm, nf, nf), tied (nc, nf, nf), diag (nc, nm, nf), sph. (nc, nm)
    covars_weight: np.ndarray  # full (nc, nm), tied (nc,), diag (nc, nm, nf), spherical (nc, nm)


def covars_shape(covariance_type: str, nc: int, nm: int, nf: int) -> tuple[int, ...]:
    """hmmlearn's shape of ``GMMHMM.covars_``."""
    return {
        "spherical": (nc, nm),
        "diag": (nc, nm, nf),
        "full": (nc, nm, nf, nf),
        "tied": (nc, nf, nf),
    }[covariance_type]


class GMMEmissions(EmissionFamily):
    """Emissions drawn from a mixture of ``n_mix`` Gaussians per state.

    The ``n_components * n_mix`` component densities come from the kernels' diagonal
    or Cholesky densities in one call; a log-sum-exp per state gives the frame
    log-likelihoods the kernels' forward-backward takes.  The within-state
    responsibilities of that evaluation are kept for the statistics of the same E-step
    (weighted by the state posteriors), which are moments of the mean-centred data.

    With ``allow_nan``, NaN entries are missing values: each component's density is
    that of the observed coordinates, and the statistics are the exact EM's, with the
    missing entries' conditional moments given the observed ones in each component
    (:class:`~fastgen.hmm._missing.MissingFrames`; diagonal covariances: the
    component's mean and variance).

    Parameters
    ----------
    model : BaseHMM
        The estimator the family is bound to: it reads the estimator's
        hyperparameters and reads and writes its fitted emission attributes.
    """

    letters = "mcw"
    state_attributes = ("weights_", "means_", "covars_", "n_features")

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self._last: tuple | None = None  # (frames, parameters, exp-densities, sums)

    # ------------------------------------------------------------ data

    def validate_X(self, X: Any) -> np.ndarray:
        return check_observations(X, type(self.model).__name__, self.model.allow_nan)

    def check_data(self, X: np.ndarray) -> None:
        nf = self.model.means_.shape[2]
        X = X.X if isinstance(X, Frames) else X
        if X.shape[1] != nf:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self.model).__name__} is expecting "
                f"{nf} features"
            )

    def prepare(self, X: Any) -> Frames:
        if isinstance(X, Frames):
            return X
        nan = np.isnan(X) if self.model.allow_nan else None
        if nan is None or not nan.any():
            shift = X.mean(axis=0) if X.shape[0] else np.zeros(X.shape[1])
            return Frames(X, shift, X - shift, {}, None, None)
        if self.model.covariance_type in ("full", "tied"):  # conditional moments by pattern
            patterns = MissingFrames(X)
            return Frames(X, patterns.shift, None, {}, nan, patterns)
        shift = observed_means(X, nan)
        Xc = X - shift
        Xc[nan] = 0.0
        return Frames(X, shift, Xc, {}, nan, None)

    # ------------------------------------------------------------ parameters

    def validate_params(self) -> None:
        m = self.model
        if m.covariance_type not in COVARIANCE_TYPES:
            raise ValueError(
                f"covariance_type must be one of {sorted(COVARIANCE_TYPES)}, "
                f"got {m.covariance_type!r}"
            )
        nm = m.n_mix
        if isinstance(nm, bool) or not isinstance(nm, numbers.Integral) or nm < 1:
            raise ValueError(f"n_mix must be an integer >= 1, got {nm!r}")
        if not np.isscalar(m.min_covar) or not m.min_covar >= 0:
            raise ValueError(f"min_covar must be a non-negative number, got {m.min_covar!r}")

    def needs_data(self) -> bool:
        return self.needs_init("m", "means_") or self.needs_init("c", "covars_")

    def initialize(self, X: np.ndarray, lengths: np.ndarray, random_state: Any) -> None:
        """hmmlearn's initialisation: k-means of ``X`` into ``n_components`` clusters,
        then k-means of each cluster into ``n_mix`` means (a cluster with fewer than
        ``n_mix`` points draws them around the mean centroid); uniform weights; every
        covariance the covariance of ``X`` plus ``min_covar`` on the diagonal."""
        m = self.model
        nc, nm, nf = m.n_components, m.n_mix, X.shape[1]
        if not self.needs_init("m", "means_") and np.shape(m.means_)[-1] != nf:
            raise ValueError(f"X has {nf} features, but means_ has {np.shape(m.means_)[-1]}")
        m.n_features = nf
        cv = None
        if self.needs_data():  # with missing values: from column-mean imputed X
            X = impute_column_means(X)

        def data_covariance() -> np.ndarray:
            c = np.cov(X.T) + m.min_covar * np.eye(nf)
            return c.reshape(nf, nf)

        if self.needs_init("m", "means_"):
            centers = kmeans(X, nc, check_random_state(m.random_state))
            sq = np.einsum("ij,ij->i", centers, centers)
            labels = (sq - 2 * X @ centers.T).argmin(axis=1)
            centroid = centers.mean(axis=0)
            means = np.empty((nc, nm, nf))
            for k in range(nc):
                members = X[labels == k]
                if members.shape[0] >= nm:
                    means[k] = kmeans(members, nm, check_random_state(m.random_state))
                else:  # too few points: hmmlearn's draw around the centroid (seeded here)
                    cv = data_covariance() if cv is None else cv
                    means[k] = random_state.multivariate_normal(centroid, cv, size=nm)
            m.means_ = means
        if self.needs_init("w", "weights_"):
            m.weights_ = np.full((nc, nm), 1.0 / nm)
        if self.needs_init("c", "covars_"):
            cv = data_covariance() if cv is None else cv
            ct = m.covariance_type
            shape = covars_shape(ct, nc, nm, nf)
            value = {"spherical": cv.mean(), "diag": np.diag(cv)}.get(ct, cv)
            m.covars_ = np.array(np.broadcast_to(value, shape))

    def check(self) -> None:
        m = self.model
        self.validate_params()
        nc, nm = m.n_components, m.n_mix
        for name in ("weights_", "means_", "covars_"):
            if not hasattr(m, name):
                raise ValueError(f"{name} must be set before fitting with init_params without it")
        weights = np.array(m.weights_, dtype=np.float64)
        if weights.shape != (nc, nm):
            raise ValueError(
                f"weights_ must have shape (n_components, n_mix) = {(nc, nm)}, got {weights.shape}"
            )
        check_distribution(weights, "weights_")
        means = np.array(m.means_, dtype=np.float64)
        if means.ndim != 3 or means.shape[:2] != (nc, nm):
            raise ValueError(
                f"means_ must have shape (n_components, n_mix, n_features), got {means.shape}"
            )
        if not np.isfinite(means).all():
            raise ValueError("means_ must be finite")
        nf = means.shape[2]
        covars = np.array(m.covars_, dtype=np.float64)
        self.validate_covars(covars, nf)
        m.weights_, m.means_, m.covars_, m.n_features = weights, means, covars, nf

    def validate_covars(self, cv: np.ndarray, nf: int) -> None:
        """Raise ``ValueError`` unless ``cv`` holds covariances of hmmlearn's shape for the
        ``covariance_type``: positive variances, or symmetric positive-definite
        matrices."""
        m = self.model
        ct = m.covariance_type
        shape = covars_shape(ct, m.n_components, m.n_mix, nf)
        if cv.shape != shape:
            raise ValueError(f"{ct!r} mixture covars must have shape {shape}, got {cv.shape}")
        if not np.isfinite(cv).all():
            raise ValueError("covars_ must be finite")
        if ct in ("spherical", "diag"):
            if np.any(cv <= 0):
                raise ValueError(f"{ct!r} mixture covars must be positive")
            return
        bad = not_positive_definite(cv.reshape(-1, nf, nf))
        if len(bad):
            where = np.unravel_index(bad[0], cv.shape[:-2])
            raise ValueError(
                f"{ct!r} covars {tuple(int(i) for i in where)} must be symmetric, positive-definite"
            )

    def check_state(self, state: dict) -> None:
        nc = self.model.n_components
        if "weights_" in state:
            weights = stored_array(state, "weights_", (nc, None), finite=True)
            check_distribution(weights, "weights_")
        if "means_" in state:
            means = stored_array(state, "means_", (nc, None, None), finite=True)
            if "n_features" in state and stored_count(state, "n_features") != means.shape[2]:
                raise ValueError("n_features does not match means_")
        if "covars_" in state:
            ndim = len(covars_shape(self.model.covariance_type, 1, 1, 1))
            stored_array(state, "covars_", (nc,) + (None,) * (ndim - 1), finite=True)

    def is_fitted(self) -> bool:
        return all(name in vars(self.model) for name in ("weights_", "means_", "covars_"))

    def n_fit_scalars(self) -> dict[str, int]:
        """hmmlearn's counts (its ``"w"`` counts ``n_mix - 1`` for the whole model)."""
        m = self.model
        nc, nm, nf = m.n_components, m.n_mix, m.n_features
        return {
            "m": nc * nm * nf,
            "c": {
                "spherical": nc * nm,
                "diag": nc * nm * nf,
                "full": nc * nm * nf * (nf + 1) // 2,
                "tied": nc * nf * (nf + 1) // 2,
            }[m.covariance_type],
            "w": nm - 1,
        }

    def priors(self) -> Priors:
        """The priors in hmmlearn's shapes (the hyperparameters stay as given)."""
        m = self.model
        nc, nm, nf = m.n_components, m.n_mix, m.means_.shape[2]
        ct = m.covariance_type
        default_prior, default_weight = {
            "full": (0.0, -(1.0 + nf + 1.0)),
            "tied": (0.0, -(nm + nf + 1.0)),
            "diag": (-1.5, 0.0),
            "spherical": (-(nm + 2.0) / 2.0, 0.0),
        }[ct]
        covars_prior = default_prior if m.covars_prior is None else m.covars_prior
        covars_weight = default_weight if m.covars_weight is None else m.covars_weight
        weight_shape = {"full": (nc, nm), "tied": (nc,), "diag": (nc, nm, nf)}.get(ct, (nc, nm))

        def shaped(value: Any, shape: tuple, name: str) -> np.ndarray:
            try:
                return np.broadcast_to(np.asarray(value, dtype=np.float64), shape)
            except ValueError:
                raise ValueError(
                    f"{name} of shape {np.shape(value)} does not broadcast to {shape}"
                ) from None

        return Priors(
            shaped(m.weights_prior, (nc, nm), "weights_prior"),
            shaped(m.means_prior, (nc, nm, nf), "means_prior"),
            shaped(m.means_weight, (nc, nm), "means_weight"),
            shaped(covars_prior, covars_shape(ct, nc, nm, nf), "covars_prior"),
            shaped(covars_weight, weight_shape, "covars_weight"),
        )

    # ------------------------------------------------------------ likelihood

    def _parameters(self) -> tuple:
        m = self.model
        return (m.weights_, m.means_, m.covars_, m.covariance_type)

    def component_variances(self) -> np.ndarray:
        """Diagonal / spherical covariances as (n_components * n_mix, n_features)."""
        m = self.model
        nc, nm, nf = m.means_.shape
        if m.covariance_type == "spherical":
            return np.repeat(m.covars_.reshape(nc * nm, 1), nf, axis=1)
        return m.covars_.reshape(nc * nm, nf)

    def component_matrices(self) -> np.ndarray:
        """Full / tied covariances as (n_components * n_mix, n_features, n_features)."""
        m = self.model
        nc, nm, nf = m.means_.shape
        mats = m.covars_.reshape(-1, nf, nf)
        return np.repeat(mats, nm, axis=0) if m.covariance_type == "tied" else mats

    def component_log_density(self, frames: Frames) -> np.ndarray:
        """``log weight + log N(x | mean, covariance)`` of every mixture component,
        float64 (n_samples, n_components * n_mix), state-major (with missing values:
        the density of the observed coordinates)."""
        m = self.model
        nc, nm, nf = m.means_.shape
        means = m.means_.reshape(nc * nm, nf)
        X = frames.X
        if m.covariance_type in ("diag", "spherical"):
            missing = frames.nan is not None
            density = _k.log_density_diag_missing if missing else _k.log_density_diag
            out = density(X, means, self.component_variances())
        else:
            mats = m.covars_.reshape(-1, nf, nf)
            chol = cholesky_lower(mats)
            if m.covariance_type == "tied":
                chol = np.repeat(chol, nm, axis=0)
            if frames.patterns is None:
                out = _k.log_density_full(X, means, chol)
            else:
                out = frames.patterns.log_likelihood(
                    means, self.component_matrices(), cholesky_lower,
                    lambda Xc: _k.log_density_full(Xc, means, chol),
                )  # fmt: skip
        with np.errstate(divide="ignore"):
            out += np.log(m.weights_).reshape(1, nc * nm)
        return out

    def _mixture(self, frames: Frames) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(log_likelihood (n, nc), e (n, nc, nm), s (n, nc))``: per state, the
        log-sum-exp of its components' weighted log-densities, and their
        exponentials relative to the state's best (``e``) with their sums (``s``), so
        that ``e / s`` are the within-state responsibilities."""
        m = self.model
        nc, nm = m.n_components, m.n_mix
        dens = np.ascontiguousarray(self.component_log_density(frames), dtype=np.float64)
        dens = dens.reshape(-1, nc * nm)
        # one fused compiled pass: per state, the maximum over the components, the
        # exponentials relative to it (in place), their sum and its log (a state whose
        # every component is -inf gets -inf, e = s = 0)
        ll, sums = _k.mixture_reduce(dens, nm)
        return ll, dens.reshape(-1, nc, nm), sums

    def log_likelihood(self, X: Any) -> np.ndarray:
        frames = self.prepare(X)
        ll, e, s = self._mixture(frames)
        self._last = (frames, self._parameters(), e, s)
        return ll

    # ------------------------------------------------------------ statistics, M-step

    def _responsibilities(self, frames: Frames, gamma: np.ndarray) -> np.ndarray:
        """Posterior of every (state, component) pair, float64 (n, nc * nm)."""
        last = self._last
        self._last = None
        if (
            last is not None
            and last[0] is frames
            and all(a is b for a, b in zip(last[1], self._parameters(), strict=True))
        ):
            _, _, e, s = last  # the E-step's own evaluation
        else:
            _, e, s = self._mixture(frames)
        with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
            scale = np.where(s > 0, gamma / s, 0.0)
            e *= scale[:, :, None]
        return e.reshape(e.shape[0], -1)

    def posterior_stats(self, X: Any, gamma: np.ndarray) -> dict:
        """``post`` (nc,), ``post_mix`` (nc, nm), and with "m" or "c" ``obs`` (nc, nm,
        nf): posterior sums of ``X``; with "c" ``c_n``: the posterior scatter of ``X``
        about the current means, in the shape of ``covars_`` (computed from moments
        about the partition's mean; every key adds up across partitions)."""
        if not any(self.fits(c) for c in self.letters):
            return {}
        with np.errstate(under="ignore"):  # tiny responsibilities flush to zero
            return self._posterior_stats(self.prepare(X), gamma)

    def _posterior_stats(self, frames: Frames, gamma: np.ndarray) -> dict:
        m = self.model
        nc, nm, nf = m.means_.shape
        r = self._responsibilities(frames, gamma)
        n_km = r.sum(axis=0)
        stats = {"post": gamma.sum(axis=0), "post_mix": n_km.reshape(nc, nm)}
        if not (self.fits("m") or self.fits("c")):
            return stats
        ct = m.covariance_type
        d = m.means_.reshape(nc * nm, nf) - frames.shift  # current means about the shift
        r_mis = None  # diagonal with missing entries: their posterior mass (nc*nm, nf)
        if frames.patterns is not None:  # E[x | x_o] and E[x x^T | x_o] per component
            s1, s2, _ = frames.patterns.shifted_moments(
                m.means_.reshape(nc * nm, nf), self.component_matrices(), r, cholesky_lower,
                second=self.fits("c"),
            )  # fmt: skip
            s1_seen = s1
        else:
            s1_seen = r.T @ frames.Xc  # (nc*nm, nf) about the shift (missing entries: 0)
            s1 = s1_seen
            if frames.nan is not None:  # a missing entry's expectation: the component's mean
                r_mis = r.T @ frames.nan.astype(np.float64)
                s1 = s1_seen + r_mis * d
        # sums of X itself (the shift restored), for the means
        stats["obs"] = (s1 + n_km[:, None] * frames.shift).reshape(nc, nm, nf)
        if not self.fits("c"):
            return stats
        if ct in ("diag", "spherical"):
            sq = frames.products.get("square")
            if sq is None:
                sq = frames.products["square"] = frames.Xc * frames.Xc
            if r_mis is None:
                c_n = r.T @ sq - 2 * d * s1 + d * d * n_km[:, None]
            else:  # observed entries' squares about the mean, missing ones' variances
                c_n = r.T @ sq - 2 * d * s1_seen + d * d * (n_km[:, None] - r_mis)
                c_n += r_mis * self.component_variances()
            c_n = c_n.reshape(nc, nm, nf)
            stats["c_n"] = c_n.sum(axis=2) if ct == "spherical" else c_n
            return stats
        if frames.patterns is None:
            iu = np.triu_indices(nf)
            outer = frames.products.get("outer")
            if outer is None:
                outer = frames.products["outer"] = frames.Xc[:, iu[0]] * frames.Xc[:, iu[1]]
            s2 = np.empty((nc * nm, nf, nf))
            s2[:, iu[0], iu[1]] = r.T @ outer
            s2[:, iu[1], iu[0]] = s2[:, iu[0], iu[1]]
        ds1 = d[:, :, None] * s1[:, None, :]
        c_n = s2 - ds1 - ds1.transpose(0, 2, 1) + n_km[:, None, None] * (d[:, :, None] * d[:, None])
        c_n = c_n.reshape(nc, nm, nf, nf)
        stats["c_n"] = c_n.sum(axis=1) if ct == "tied" else c_n
        return stats

    def stats_anchor(self) -> dict:
        """``c_n`` is the scatter about the E-step's means: they anchor it."""
        return {"means": self.model.means_.copy()} if self.fits("c") else {}

    def move_stats(self, stats: dict, anchor: dict) -> dict:
        """``c_n`` about ``anchor["means"]`` (``a``) moved to the current means (``b``):
        with ``d = a - b``, ``N = post_mix`` and ``u = obs - N a`` (the posterior sum
        of ``x - a``), ``sum r (x - b)(x - b)^T = c_n + u d^T + d u^T + N d d^T``,
        summed over mixtures (tied) or features (spherical) as ``c_n`` is."""
        if "c_n" not in stats:
            return stats
        m = self.model
        a = anchor.get("means")
        if not isinstance(a, np.ndarray) or a.shape != m.means_.shape:
            raise ValueError("the running statistics' anchor does not match means_")
        n_km, obs = stats["post_mix"], stats["obs"]
        d = a - m.means_
        u = obs - n_km[:, :, None] * a
        ct = m.covariance_type
        if ct in ("diag", "spherical"):
            move = 2 * u * d + n_km[:, :, None] * d * d
            move = move.sum(axis=2) if ct == "spherical" else move
        else:
            ud = u[..., :, None] * d[..., None, :]
            move = (
                ud
                + ud.swapaxes(-1, -2)
                + n_km[:, :, None, None] * (d[..., :, None] * d[..., None, :])
            )
            move = move.sum(axis=1) if ct == "tied" else move
        return {**stats, "c_n": stats["c_n"] + move}

    def mstep(self, stats: dict) -> None:
        """hmmlearn's MAP update (its priors, its shapes).  A state with no posterior
        mass keeps its weights; a component whose update is undefined (no mass and no
        prior weight) or invalid (a covariance not positive-definite) keeps its mean /
        covariance."""
        if "post_mix" not in stats:
            return
        m = self.model
        nc, nm, nf = m.means_.shape
        pr = self.priors()
        n_km, n_k = stats["post_mix"], stats["post"]
        if self.fits("w"):
            w = np.maximum(n_km + (pr.weights - 1), 0.0)
            total = w.sum(axis=1, keepdims=True)
            with np.errstate(divide="ignore", invalid="ignore"):
                w = w / total
            m.weights_ = np.where(total > 0, w, m.weights_)
        if self.fits("m"):
            m_d = n_km + pr.means_weight
            with np.errstate(divide="ignore", invalid="ignore"):
                means = (pr.means_weight[:, :, None] * pr.means + stats["obs"]) / m_d[:, :, None]
            ok = (m_d > 0) & np.isfinite(means).all(axis=2)
            m.means_ = np.where(ok[:, :, None], means, m.means_)
        if self.fits("c"):
            m.covars_ = self._covars_update(stats, pr, n_km, n_k)

    def _covars_update(self, stats: dict, pr: Priors, n_km: np.ndarray, n_k: np.ndarray):
        m = self.model
        nc, nm, nf = m.means_.shape
        ct = m.covariance_type
        lam = pr.means_weight
        cm = m.means_ - pr.means  # the new means about the prior's
        if ct == "diag":
            c_n = lam[:, :, None] * cm**2 + 2 * pr.covars_weight + stats["c_n"]
            c_d = n_km[:, :, None] + 1 + 2 * (pr.covars + 1)
        elif ct == "spherical":
            c_n = lam * np.einsum("kmi,kmi->km", cm, cm) + 2 * pr.covars_weight + stats["c_n"]
            c_d = nf * (n_km + 1) + 2 * (pr.covars + 1)
        else:
            outer = cm[..., :, None] * cm[..., None, :]
            if ct == "full":
                c_n = np.swapaxes(pr.covars, -1, -2) + lam[:, :, None, None] * outer
                c_d = (n_km + 1 + pr.covars_weight + nf + 1)[:, :, None, None]
            else:
                c_n = np.einsum("km,kmij->kij", lam, outer) + np.swapaxes(pr.covars, -1, -2)
                c_d = (n_k + nm + pr.covars_weight + nf + 1)[:, None, None]
            c_n = c_n + stats["c_n"]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            new = c_n / c_d
        old = m.covars_
        if ct in ("diag", "spherical"):
            ok = (np.broadcast_to(c_d, new.shape) > 0) & np.isfinite(new) & (new > 0)
            if ct == "diag":
                ok = np.broadcast_to(ok.all(axis=2, keepdims=True), ok.shape)
            return np.where(ok, new, old)
        mats = new.reshape(-1, nf, nf)
        ok = np.isfinite(mats).all(axis=(1, 2)) & (np.broadcast_to(c_d, new.shape) > 0).reshape(
            -1, nf * nf
        ).all(axis=1)
        mats = np.where(ok[:, None, None], mats, np.eye(nf))
        ok[not_positive_definite(mats)] = False
        ok = ok.reshape(new.shape[:-2])
        return np.where(ok[..., None, None], new, old)

    # ------------------------------------------------------------ sampling

    def sample(self, state: int, random_state: np.random.RandomState) -> np.ndarray:
        m = self.model
        i = random_state.choice(m.n_mix, p=m.weights_[state])
        ct, nf = m.covariance_type, m.means_.shape[2]
        cv = m.covars_[state] if ct == "tied" else m.covars_[state, i]
        if ct == "diag":
            cv = np.diag(cv)
        elif ct == "spherical":
            cv = np.eye(nf) * cv
        return random_state.multivariate_normal(m.means_[state, i], cv)


@fill(**SHARED)
class GMMHMM(BaseHMM):
    """Hidden Markov model with Gaussian-mixture emissions (hmmlearn's ``GMMHMM``).

    Each state emits from its own mixture of ``n_mix`` Gaussians.  Every method of
    the estimator API is documented on :class:`BaseHMM`.

    Parameters
    ----------
    {{n_components}}
    n_mix : int, default=1
        Number of Gaussians in each state's mixture.
    min_covar : float, default=1e-3
        Added to the diagonal of the initial covariances so that they start
        positive-definite.
    {{startprob_prior}}
    {{transmat_prior}}
    weights_prior : float or array, default=1.0
        Concentrations of the Dirichlet prior on each row of ``weights_``
        (broadcast to (n_components, n_mix)), applied to the components' expected
        counts as ``transmat_prior`` is to the transitions.
    means_prior : float or array, default=0.0
        Centre of the normal prior on ``means_`` (broadcast to (n_components, n_mix,
        n_features)).
    means_weight : float or array, default=0.0
        Precision weight of that prior, in frames (broadcast to (n_components,
        n_mix)); 0 gives the maximum-likelihood update of the means.
    covars_prior : float, array or None, default=None
        Scale of the prior on ``covars_``: inverse gamma ("spherical", "diag") or
        inverse Wishart ("full", "tied"), as hmmlearn applies it.  None takes
        hmmlearn's default, which together with the default ``covars_weight`` makes
        the update the maximum-likelihood one.
    covars_weight : float, array or None, default=None
        Shape (degrees of freedom) of the prior on ``covars_``; None takes hmmlearn's
        default, as for ``covars_prior``.
    {{algorithm}}
    covariance_type : {"diag", "spherical", "full", "tied"}, default="diag"
        Form of the components' covariances: "diag" diagonal, "spherical" one
        variance per component, "full" a full matrix per component, "tied": the
        components of a state share one full covariance.
    random_state : int, numpy.random.RandomState or None, default=None
        Source of the random draws of ``fit``'s initialisation (k-means of the means,
        Dirichlet draws of the chain and the weights) and of ``sample`` when it is given
        no generator.  An int makes fits reproducible; None uses NumPy's global
        generator.
    {{n_iter}}
    {{tol}}
    {{verbose}}
    params : str, default="stmcw"
        Letters of the parameters that EM updates: "s" ``startprob_``, "t"
        ``transmat_``, "m" ``means_``, "c" ``covars_``, "w" ``weights_``.  Parameters
        whose letter is missing keep their values.
    init_params : str, default="stmcw"
        Letters of the parameters that ``fit`` initialises before EM (same letters as
        ``params``).  A parameter whose letter is missing starts from the value set on
        the model; one that is not set is initialised anyway.
    {{implementation}}
    {{n_init}}
    allow_nan : bool, default=False
        fastgen only.  NaN entries of ``X`` are missing values (at random): every
        mixture component's density is that of the observed coordinates (a frame with
        nothing observed has likelihood 1 in every state), and ``fit`` is the exact EM
        of missing data: the statistics take each missing entry's conditional mean
        and covariance given the frame's observed entries, in each component.  The
        initial means and covariances come from ``X`` with its missing entries set to
        their column's observed mean.  ``inf`` is refused.

    Attributes
    ----------
    {{attr_n_features}}
    {{attr_startprob_}}
    {{attr_transmat_}}
    weights_ : ndarray of shape (n_components, n_mix)
        Mixture weights of each state (rows sum to 1).
    means_ : ndarray of shape (n_components, n_mix, n_features)
        Mean of every mixture component of every state.
    covars_ : ndarray
        Covariances of the components, in hmmlearn's shapes: (n_components, n_mix)
        "spherical", (n_components, n_mix, n_features) "diag", (n_components, n_mix,
        n_features, n_features) "full", (n_components, n_features, n_features)
        "tied".
    {{attr_fit_record}}

    See Also
    --------
    GaussianHMM : One Gaussian per state.
    VariationalGaussianHMM : Gaussian emissions fitted by variational inference.
    fastgen.hmm.select_n_components : Choose ``n_components`` by BIC or AIC.
    fastgen.hmm.HMMStream : Filter sequences chunk by chunk with a fitted model.
    fastgen.dask.fit_hmm : Fit the model by EM over a Dask DataFrame.

    Notes
    -----
    The priors stay as given (hmmlearn broadcasts them in place).  The k-means of the
    initialisation is fastgen's (see :mod:`fastgen.hmm`), so a fit from
    ``init_params`` containing "m" starts elsewhere than hmmlearn's; a state cluster
    with fewer than ``n_mix`` points draws its means from ``random_state`` (hmmlearn:
    NumPy's global generator).  A state with no posterior mass keeps its
    ``weights_``; a mixture component with no mass (and no prior weight) keeps its mean
    and covariance, and so does a component whose covariance update is not
    positive-definite (hmmlearn: NaN).

    Examples
    --------
    >>> import numpy as np
    >>> from fastgen.hmm import GMMHMM
    >>> truth = GMMHMM(2, n_mix=2, init_params="", random_state=0)
    >>> truth.startprob_ = np.array([0.5, 0.5])
    >>> truth.transmat_ = np.array([[0.9, 0.1], [0.2, 0.8]])
    >>> truth.weights_ = np.array([[0.3, 0.7], [0.6, 0.4]])
    >>> truth.means_ = np.array([[[0.0, 0.0], [3.0, 3.0]], [[-6.0, 5.0], [8.0, -4.0]]])
    >>> truth.covars_ = np.full((2, 2, 2), 0.5)
    >>> X, states = truth.sample(500)
    >>> model = GMMHMM(2, n_mix=2, n_iter=20, random_state=0).fit(X)
    >>> model.means_.shape, model.covars_.shape, model.weights_.shape
    ((2, 2, 2), (2, 2, 2), (2, 2))
    >>> bool(np.allclose(model.weights_.sum(axis=1), 1))
    True
    """

    emission_family = GMMEmissions

    def __init__(
        self,
        n_components: int = 1,
        n_mix: int = 1,
        min_covar: float = 1e-3,
        startprob_prior: Any = 1.0,
        transmat_prior: Any = 1.0,
        weights_prior: Any = 1.0,
        means_prior: Any = 0.0,
        means_weight: Any = 0.0,
        covars_prior: Any = None,
        covars_weight: Any = None,
        algorithm: str = "viterbi",
        covariance_type: str = "diag",
        random_state: Any = None,
        n_iter: int = 10,
        tol: float = 1e-2,
        verbose: bool = False,
        params: str = "stmcw",
        init_params: str = "stmcw",
        implementation: str = "log",
        n_init: int = 1,
        allow_nan: bool = False,
    ) -> None:
        self.n_components = n_components
        self.n_mix = n_mix
        self.min_covar = min_covar
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.weights_prior = weights_prior
        self.means_prior = means_prior
        self.means_weight = means_weight
        self.covars_prior = covars_prior
        self.covars_weight = covars_weight
        self.algorithm = algorithm
        self.covariance_type = covariance_type
        self.random_state = random_state
        self.n_iter = n_iter
        self.tol = tol
        self.verbose = verbose
        self.params = params
        self.init_params = init_params
        self.implementation = implementation
        self.n_init = n_init
        self.allow_nan = allow_nan


GMMHMM.__module__ = "fastgen.hmm"
