"""Gaussian emissions: the family of :class:`GaussianHMM`."""

from __future__ import annotations

from typing import Any

import numpy as np

from fastgen import _threads
from fastgen._docstrings import fill
from fastgen._kernels import _kmeans
from fastgen._kernels import hmm as _k
from fastgen.hmm._base import BaseHMM
from fastgen.hmm._docs import SHARED
from fastgen.hmm._family import EmissionFamily
from fastgen.hmm._missing import MissingFrames, check_observations, impute_column_means
from fastgen.hmm._util import check_random_state, stored_array, stored_count

__all__ = ["GaussianEmissions", "GaussianHMM", "cholesky_lower", "kmeans", "not_positive_definite"]

_TINY = np.finfo(np.float64).tiny
COVARIANCE_TYPES = frozenset(("spherical", "diag", "full", "tied"))


#: Lloyd steps stop once the squared centre shifts sum to this share of the mean
#: feature variance, or once no label changes (scikit-learn's KMeans criteria)
KMEANS_TOL = 1e-4
#: row chunks of a Lloyd step (fixed: the sums do not depend on the threads)
KMEANS_CHUNKS = 64
#: below this many distance terms (n * k * d) a step runs on the calling thread only
KMEANS_SERIAL_WORK = 1 << 20


def kmeans(
    X: np.ndarray,
    k: int,
    random_state: np.random.RandomState,
    n_init: int = 10,
    max_iter: int = 300,
) -> np.ndarray:
    """Cluster centres of ``X`` (float64 (n, d)): ``n_init`` runs of k-means++ seeding
    and Lloyd steps, the one of least inertia kept.

    A Lloyd step is one compiled pass over ``X`` (:mod:`fastgen._kernels._kmeans`:
    nearest centre, per-centre sums and counts, in fixed row chunks, threaded on large
    inputs with the same bits on any number of threads).  Steps stop as scikit-learn's
    ``KMeans`` does: when no label changes, or when the squared centre shifts sum to at
    most ``KMEANS_TOL`` times the mean feature variance; a centre left without rows
    stays where it was.  The inertia of the final centres decides between runs.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    n, d = X.shape
    if n < k:
        raise ValueError(f"n_samples={n} should be >= n_components={k} for k-means init")
    sq = np.einsum("ij,ij->i", X, X)
    tol = KMEANS_TOL * float(np.mean(np.var(X, axis=0)))
    n_chunks = max(min(KMEANS_CHUNKS, n // 256), 1)
    workers = 1 if n * k * d < KMEANS_SERIAL_WORK else min(_threads.get_num_threads(), n_chunks)
    labels, previous = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    sums, counts, inertia = np.empty((n_chunks, k, d)), np.empty((n_chunks, k)), np.empty(n_chunks)

    def lloyd(centers: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        _threads.run_workers(
            lambda first, step: _kmeans.lloyd_chunks(
                X, centers, labels, sums, counts, inertia, n_chunks, first, step
            ),
            workers,
        )
        return sums.sum(axis=0), counts.sum(axis=0), float(inertia.sum())

    best, best_inertia = None, np.inf
    for _ in range(n_init):
        centers = np.empty((k, d))  # k-means++ seeding
        centers[0] = X[random_state.randint(n)]
        d2 = np.maximum(sq - 2 * X @ centers[0] + centers[0] @ centers[0], 0)
        for c in range(1, k):
            total = d2.sum()
            idx = (
                random_state.randint(n)
                if total <= 0
                else int(np.searchsorted(np.cumsum(d2), random_state.rand() * total))
            )
            centers[c] = X[min(idx, n - 1)]
            d2 = np.minimum(d2, np.maximum(sq - 2 * X @ centers[c] + centers[c] @ centers[c], 0))
        for it in range(max_iter):
            total_sums, total_counts, _ = lloyd(centers)
            empty = total_counts == 0
            new = centers.copy()
            new[~empty] = total_sums[~empty] / total_counts[~empty, None]
            shift = float(((new - centers) ** 2).sum())
            same = it > 0 and np.array_equal(labels, previous)
            centers = new
            if same or shift <= tol:
                break
            labels, previous = previous, labels
        run_inertia = lloyd(centers)[2]
        if run_inertia < best_inertia:
            best, best_inertia = centers, run_inertia
    return best


def not_positive_definite(mats: np.ndarray) -> np.ndarray:
    """Indices of the matrices of ``mats`` (m, n, n) that are not symmetric and
    positive-definite."""
    symmetric = np.isclose(mats, mats.transpose(0, 2, 1)).all(axis=(1, 2))
    try:
        np.linalg.cholesky(mats)
        return np.flatnonzero(~symmetric)
    except np.linalg.LinAlgError:
        pass
    from scipy import linalg  # the rare path: not on the import path

    return np.array(
        [n for n, m in enumerate(mats) if not symmetric[n] or np.any(linalg.eigvalsh(m) <= 0)],
        dtype=np.intp,
    )


def cholesky_lower(mats: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors of the covariances ``mats`` (m, n, n), C-contiguous, as
    hmmlearn's densities take them: a matrix that fails gets ``1e-7`` added to its
    diagonal first; raises ``ValueError`` if that fails too."""
    try:
        return np.ascontiguousarray(np.linalg.cholesky(mats))
    except np.linalg.LinAlgError:
        pass
    from scipy import linalg  # the rare fallback: not on the import path

    m, nf = mats.shape[0], mats.shape[-1]
    out = np.empty((m, nf, nf))
    for c, cv in enumerate(mats):
        try:
            out[c] = linalg.cholesky(cv, lower=True)
        except linalg.LinAlgError:
            try:
                out[c] = linalg.cholesky(cv + 1e-7 * np.eye(nf), lower=True)
            except linalg.LinAlgError:
                raise ValueError("'covars' must be symmetric, positive-definite") from None
    return out


class GaussianEmissions(EmissionFamily):
    """Multivariate normal emissions: ``means_`` and ``covars_`` of one of four
    ``covariance_type`` (the kernels' diagonal and Cholesky densities); with
    ``allow_nan``, NaN entries of ``X`` are marginalised out (full and tied covariances:
    :class:`~fastgen.hmm._missing.MissingFrames`, conditional Gaussian marginals).

    Parameters
    ----------
    model : BaseHMM
        The estimator the family is bound to: it reads the estimator's
        hyperparameters and reads and writes its fitted emission attributes.
    """

    letters = "mc"
    parameters = {"m": "means_", "c": "covars_"}
    state_attributes = ("means_", "_covars_", "n_features")

    # ------------------------------------------------------------ data

    def validate_X(self, X: Any) -> np.ndarray:
        return check_observations(X, type(self.model).__name__, self.model.allow_nan)

    def check_data(self, X: np.ndarray) -> None:
        nf = self.model.means_.shape[1]
        X = X.X if isinstance(X, MissingFrames) else X
        if X.shape[1] != nf:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self.model).__name__} is expecting "
                f"{nf} features"
            )

    def _missing(self, X: np.ndarray | MissingFrames) -> bool:
        if isinstance(X, MissingFrames):
            return True
        return bool(self.model.allow_nan and np.isnan(X).any())

    def _dense(self) -> bool:
        """Full or tied covariances (Cholesky densities)."""
        return self.model.covariance_type in ("full", "tied")

    def prepare(self, X: np.ndarray | MissingFrames) -> np.ndarray | MissingFrames:
        """With full or tied covariances, ``X`` with NaN entries grouped by missingness
        pattern (:class:`MissingFrames`); otherwise ``X`` itself."""
        if isinstance(X, MissingFrames) or not (self._dense() and self._missing(X)):
            return X
        return MissingFrames(X)

    # ------------------------------------------------------------ parameters

    def validate_params(self) -> None:
        ct = self.model.covariance_type
        if ct not in COVARIANCE_TYPES:
            raise ValueError(
                f"covariance_type must be one of {sorted(COVARIANCE_TYPES)}, got {ct!r}"
            )

    def needs_data(self) -> bool:
        return self.needs_init("m", "means_") or self.needs_init("c", "_covars_")

    def initialize(self, X: np.ndarray, lengths: np.ndarray, random_state: Any) -> None:
        m = self.model
        nf = X.shape[1]
        if not self.needs_init("m", "means_") and np.shape(m.means_)[-1] != nf:
            raise ValueError(f"X has {nf} features, but means_ has {np.shape(m.means_)[-1]}")
        m.n_features = nf
        if self.needs_data() and self._missing(X):  # initialise from column-mean imputed X
            X = impute_column_means(X)
        if self.needs_init("m", "means_"):
            m.means_ = kmeans(X, m.n_components, check_random_state(m.random_state))
        if self.needs_init("c", "_covars_"):
            cv = np.cov(X.T) + m.min_covar * np.eye(nf)
            if not cv.shape:
                cv.shape = (1, 1)
            nc, ct = m.n_components, m.covariance_type
            if ct == "spherical":
                m.covars_ = np.full(nc, cv.mean())
            elif ct == "tied":
                m.covars_ = cv
            elif ct == "diag":
                m.covars_ = np.tile(np.diag(cv), (nc, 1))
            else:
                m.covars_ = np.tile(cv, (nc, 1, 1))

    def check(self) -> None:
        m = self.model
        m.means_ = np.asarray(m.means_, dtype=np.float64)
        if m.means_.ndim != 2 or m.means_.shape[0] != m.n_components:
            raise ValueError("means_ must have shape (n_components, n_features)")
        if not np.all(np.isfinite(m.means_)):
            raise ValueError("means_ must be finite")
        m.n_features = m.means_.shape[1]
        if not hasattr(m, "_covars_"):
            raise ValueError("covars_ must be set before fitting with init_params without 'c'")
        self.validate_covars(m._covars_)
        nf = m.n_features
        if m.covariance_type in ("diag", "full", "tied") and m._covars_.shape[-1] != nf:
            raise ValueError(f"covars_ do not match n_features={nf}")

    def check_state(self, state: dict) -> None:
        if "means_" in state:
            means = stored_array(state, "means_", (self.model.n_components, None), finite=True)
            if "n_features" in state and stored_count(state, "n_features") != means.shape[1]:
                raise ValueError("n_features does not match means_")
        if "_covars_" in state:
            cv = state["_covars_"]
            if type(cv) is not np.ndarray or cv.dtype != np.float64:
                raise ValueError("covars_ must be a float64 array")
            self.validate_covars(cv)

    def is_fitted(self) -> bool:
        return "means_" in vars(self.model) and "_covars_" in vars(self.model)

    def n_fit_scalars(self) -> dict[str, int]:
        m = self.model
        nc, nf = m.n_components, m.n_features
        return {
            "m": nc * nf,
            "c": {
                "spherical": nc,
                "diag": nc * nf,
                "full": nc * nf * (nf + 1) // 2,
                "tied": nf * (nf + 1) // 2,
            }[m.covariance_type],
        }

    def spherical_variances(self, cv: np.ndarray) -> np.ndarray:
        """Spherical covariances given in hmmlearn's other accepted shapes as the
        ``(n_components,)`` variances: one value per component (``(n_components, 1,
        ...)``), a row of equal variances ``(n_components, n_features)`` or a multiple
        of the identity ``(n_components, n_features, n_features)``.  Anything else is
        returned as it is, for :meth:`validate_covars` to refuse."""
        nc = self.model.n_components
        if cv.ndim <= 1 or cv.shape[0] != nc:
            return cv
        if cv.ndim == 3 and cv.shape[1] == cv.shape[2] > 1:
            diag = np.diagonal(cv, axis1=1, axis2=2)
            if np.count_nonzero(cv) != np.count_nonzero(diag):  # off-diagonal entries
                return cv
            rows = diag
        elif cv.ndim == 2 or cv[0].size == 1:
            rows = cv.reshape(nc, -1)
        else:
            return cv
        if not (rows == rows[:, :1]).all():
            return cv
        return np.ascontiguousarray(rows[:, 0])

    def validate_covars(self, cv: np.ndarray) -> None:
        """Raise ``ValueError`` unless ``cv`` holds valid covariances of the
        ``covariance_type`` (hmmlearn's shapes)."""
        self.validate_params()
        nc, ct = self.model.n_components, self.model.covariance_type
        if not np.all(np.isfinite(cv)):
            raise ValueError("covars must be finite")
        if ct == "spherical":
            if cv.shape != (nc,):
                raise ValueError(
                    "'spherical' covars must hold one variance per component: shape "
                    "(n_components,), or (n_components, n_features) rows of equal values, "
                    "or (n_components, n_features, n_features) multiples of the identity"
                )
            if np.any(cv <= 0):
                raise ValueError("'spherical' covars must be positive")
        elif ct == "diag":
            if cv.ndim != 2 or cv.shape[0] != nc:
                raise ValueError("'diag' covars must have shape (n_components, n_features)")
            if np.any(cv <= 0):
                raise ValueError("'diag' covars must be positive")
        else:
            mats = cv[None] if ct == "tied" else cv
            if ct == "tied" and (cv.ndim != 2 or cv.shape[0] != cv.shape[1]):
                raise ValueError("'tied' covars must have shape (n_features, n_features)")
            if ct == "full" and (cv.ndim != 3 or cv.shape[0] != nc or cv.shape[1] != cv.shape[2]):
                raise ValueError(
                    "'full' covars must have shape (n_components, n_features, n_features)"
                )
            bad = not_positive_definite(mats)
            if len(bad):
                raise ValueError(
                    f"component {bad[0]} of '{ct}' covars must be symmetric, positive-definite"
                )

    def cholesky(self) -> np.ndarray:
        """Lower Cholesky factors (n_components, n_features, n_features), as hmmlearn."""
        nc, nf = self.model.means_.shape
        return cholesky_lower(np.broadcast_to(self.model._covars_, (nc, nf, nf)))

    def diag_covars(self) -> np.ndarray:
        """Variances as (n_components, n_features), floored at the smallest float."""
        m = self.model
        nc, nf = m.means_.shape
        cv = m._covars_[:, None] if m.covariance_type == "spherical" else m._covars_
        return np.maximum(cv, _TINY, out=np.empty((nc, nf)))  # broadcasts a spherical cv

    # ------------------------------------------------------------ likelihood

    def log_likelihood(self, X: np.ndarray) -> np.ndarray:
        m = self.model
        if m.covariance_type in ("diag", "spherical"):
            if self._missing(X):
                return _k.log_density_diag_missing(X, m.means_, self.diag_covars())
            return _k.log_density_diag(X, m.means_, self.diag_covars())
        X = self.prepare(X)
        chol = self.cholesky()
        if isinstance(X, MissingFrames):
            return X.log_likelihood(
                m.means_, m._covars_, cholesky_lower,
                lambda Xc: _k.log_density_full(Xc, m.means_, chol),
            )  # fmt: skip
        return _k.log_density_full(X, m.means_, chol)

    def emission_model(self, X: np.ndarray) -> _k.EmissionArrays:
        m = self.model
        if m.covariance_type not in ("diag", "spherical"):
            X = self.prepare(X)
            if isinstance(X, MissingFrames):
                return super().emission_model(X)
            return _k.emissions(_k.EMIT_FULL, X=X, means=m.means_, chol=self.cholesky())
        if self._missing(X):
            return super().emission_model(X)
        return _k.emissions(_k.EMIT_DIAG, X=X, means=m.means_, covars=self.diag_covars())

    # ------------------------------------------------------------ statistics, M-step

    def kernel_stats_kind(self, X: np.ndarray) -> int | None:
        if not (self.fits("m") or self.fits("c")):
            return _k.STATS_NONE
        if self._missing(X):
            return None
        if not self.fits("c"):
            return _k.STATS_MEANS
        diag = self.model.covariance_type in ("diag", "spherical")
        return _k.STATS_DIAG if diag else _k.STATS_FULL

    def _with_post_f(self, stats: dict) -> dict:
        """With ``allow_nan``, every partition carries per-feature posterior sums
        (``post`` per feature where nothing is missing), so partitions add up."""
        if self.model.allow_nan and not self._dense() and "post" in stats and "post_f" not in stats:
            nf = stats["obs"].shape[1]
            stats["post_f"] = np.repeat(stats["post"][:, None], nf, axis=1)
        return stats

    def kernel_stats(self, r: _k.EStep) -> dict:
        if not (self.fits("m") or self.fits("c")):
            return {}
        stats = {"post": r.post, "obs": r.obs}
        if self.fits("c"):
            diag = self.model.covariance_type in ("diag", "spherical")
            stats["obs**2" if diag else "obs*obs.T"] = r.obs2
        return self._with_post_f(stats)

    def posterior_stats(self, X: np.ndarray, gamma: np.ndarray) -> dict:
        stats: dict = {}
        if not (self.fits("m") or self.fits("c")):
            return stats
        stats["post"] = gamma.sum(axis=0)
        X = self.prepare(X)
        if isinstance(X, MissingFrames):  # conditional expectations of missing entries
            m = self.model
            stats["obs"], second = X.moments(
                m.means_, m._covars_, gamma, cholesky_lower, second=self.fits("c")
            )
            if second is not None:
                stats["obs*obs.T"] = second
            return stats
        missing = np.isnan(X) if self.model.allow_nan else None
        if missing is not None and missing.any():  # per-feature statistics of observed X
            X = np.where(missing, 0.0, X)
            stats["post_f"] = gamma.T @ (~missing).astype(np.float64)
        stats["obs"] = gamma.T @ X
        if self.fits("c"):
            if self.model.covariance_type in ("diag", "spherical"):
                stats["obs**2"] = gamma.T @ (X * X)
            else:
                nc, nf = self.model.n_components, X.shape[1]
                out = np.empty((nc, nf, nf))
                for c in range(nc):
                    out[c] = (X * gamma[:, c : c + 1]).T @ X
                stats["obs*obs.T"] = out
        return self._with_post_f(stats)

    def mstep(self, stats: dict) -> None:
        m = self.model
        means_prior, means_weight = m.means_prior, m.means_weight
        if "post" not in stats:
            return
        denom = stats.get("post_f", stats["post"][:, None])
        if self.fits("m"):
            d = means_weight + denom
            with np.errstate(divide="ignore", invalid="ignore"):
                means = (means_weight * means_prior + stats["obs"]) / d
            m.means_ = np.where(np.broadcast_to(d, means.shape) == 0, m.means_, means)
        if not self.fits("c"):
            return
        covars_prior, covars_weight = m.covars_prior, m.covars_weight
        meandiff = m.means_ - means_prior
        ct = m.covariance_type
        if ct in ("spherical", "diag"):
            c_n = (
                means_weight * meandiff**2
                + stats["obs**2"]
                - 2 * m.means_ * stats["obs"]
                + m.means_**2 * denom
            )
            c_d = max(covars_weight - 1, 0) + denom
            cv = (covars_prior + c_n) / np.maximum(c_d, 1e-5)
            m._covars_ = cv.mean(axis=1) if ct == "spherical" else cv
            return
        nf = m.n_features
        mw = np.asarray(means_weight, dtype=np.float64)
        mw = mw.reshape(-1, 1, 1) if mw.ndim else mw
        obsmean = np.einsum("ki,kj->kij", stats["obs"], m.means_)
        c_n = (
            mw * np.einsum("ki,kj->kij", meandiff, meandiff)
            + stats["obs*obs.T"]
            - obsmean
            - obsmean.transpose(0, 2, 1)
            + np.einsum("ki,kj->kij", m.means_, m.means_) * stats["post"][:, None, None]
        )
        cvweight = max(covars_weight - nf, 0)
        if ct == "tied":
            m._covars_ = (covars_prior + c_n.sum(axis=0)) / (cvweight + stats["post"].sum())
        else:
            d = cvweight + stats["post"][:, None, None]
            with np.errstate(divide="ignore", invalid="ignore"):
                cv = (covars_prior + c_n) / d
            m._covars_ = np.where(np.broadcast_to(d, cv.shape) == 0, m._covars_, cv)

    # ------------------------------------------------------------ sampling

    def sample(self, state: int, random_state: np.random.RandomState) -> np.ndarray:
        m = self.model
        return random_state.multivariate_normal(m.means_[state], m.covars_[state])


@fill(**SHARED)
class GaussianHMM(BaseHMM):
    """Hidden Markov model with Gaussian emissions (hmmlearn's ``GaussianHMM``).

    Each state emits from a multivariate normal distribution with its own mean and
    covariance.  ``fit`` runs EM (Baum-Welch) from a k-means initialisation of the
    means; every method of the estimator API is documented on :class:`BaseHMM`.

    Parameters
    ----------
    {{n_components}}
    covariance_type : {"diag", "spherical", "full", "tied"}, default="diag"
        Form of the covariances: "diag" a diagonal matrix per state, "spherical" one
        variance per state for every feature, "full" a full matrix per state,
        "tied" one full matrix shared by all states.
    min_covar : float, default=1e-3
        Added to the diagonal of the initial covariances (the covariance of ``X``)
        so that they start positive-definite.
    {{startprob_prior}}
    {{transmat_prior}}
    means_prior : float or array, default=0
        Centre of the normal prior on ``means_``.
    means_weight : float or array, default=0
        Weight of the normal prior on ``means_``, in frames: the M-step mean is
        ``(means_weight * means_prior + sum of the posterior-weighted frames) /
        (means_weight + posterior mass)``.  0 gives the maximum-likelihood update.
    covars_prior : float or array, default=1e-2
        Scale of the prior on ``covars_``: inverse gamma per variance ("diag",
        "spherical") or inverse Wishart ("full", "tied"), as hmmlearn applies it.  It
        is added to the posterior scatter of every state, which keeps covariances
        away from zero.
    covars_weight : float or array, default=1
        Shape of that prior: the denominator of the covariance update is the
        posterior mass plus ``covars_weight - 1`` ("diag", "spherical") or
        ``covars_weight - n_features`` ("full", "tied"), each clipped at 0.
    {{algorithm}}
    random_state : int, numpy.random.RandomState or None, default=None
        Source of the random draws of ``fit``'s initialisation (k-means of the means,
        Dirichlet draws of ``startprob_`` and ``transmat_``) and of ``sample`` when it
        is given no generator.  An int makes fits reproducible; None uses NumPy's global
        generator.
    {{n_iter}}
    {{tol}}
    {{verbose}}
    params : str, default="stmc"
        Letters of the parameters that EM updates: "s" ``startprob_``, "t"
        ``transmat_``, "m" ``means_``, "c" ``covars_``.  Parameters whose letter is
        missing keep their values.
    init_params : str, default="stmc"
        Letters of the parameters that ``fit`` initialises before EM (same letters as
        ``params``).  A parameter whose letter is missing starts from the value set on
        the model; one that is not set is initialised anyway.
    {{implementation}}
    allow_nan : bool, default=False
        fastgen only.  NaN entries of ``X`` are missing values (at random): they are
        marginalised out of the emission densities (a frame with nothing observed has
        likelihood 1 in every state).  With ``covariance_type`` "diag" or "spherical"
        the M-step uses, per feature, only the frames where it was observed; with
        "full" or "tied" it is the exact EM of missing data: the statistics take the
        missing entries' conditional mean given the observed ones, and their
        conditional covariance, in each state.  ``inf`` is refused.
    n_init : int, default=1
        fastgen only (as scikit-learn's ``GaussianMixture``).  ``fit`` runs ``n_init``
        EM fits from the initialisations of as many seeds and keeps the one whose last
        recorded objective (``monitor_.history[-1]``) is the highest, the first of
        equal ones.  The seeds come from ``random_state`` before any fit: an int seeds
        the first restart itself (the fit ``n_init=1`` makes) and the others through
        ``numpy.random.SeedSequence``; None or a ``RandomState`` gives ``n_init`` int
        seeds drawn from that generator.  On 20,000 frames or more the restarts run
        side by side on the :func:`fastgen.get_num_threads` threads (shared between
        them); the result does not depend on that number.  Restarts differ only in
        what ``fit`` initialises: with ``init_params=""`` and every parameter set, one
        fit runs (with a warning).  With ``verbose``, the restarts' progress lines
        interleave.

    Attributes
    ----------
    {{attr_n_features}}
    {{attr_startprob_}}
    {{attr_transmat_}}
    means_ : ndarray of shape (n_components, n_features)
        Mean of every state.
    covars_ : ndarray of shape (n_components, n_features, n_features)
        Covariance matrix of every state, full matrices whatever
        ``covariance_type``; set it with hmmlearn's shapes ``(n_components,)``
        spherical (or hmmlearn's other spherical forms: one value per component, rows
        of equal variances, multiples of the identity), ``(n_components,
        n_features)`` diag, ``(n_components, n_features, n_features)`` full,
        ``(n_features, n_features)`` tied.
    {{attr_fit_record}}

    See Also
    --------
    GMMHMM : A mixture of Gaussians in each state.
    VariationalGaussianHMM : Gaussian emissions fitted by variational inference.
    PoissonHMM : HMM with Poisson count emissions.
    fastgen.hmm.select_n_components : Choose ``n_components`` by BIC or AIC.
    fastgen.hmm.HMMStream : Filter sequences chunk by chunk with a fitted model.
    fastgen.dask.fit_hmm : Fit the model by EM over a Dask DataFrame.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgen.hmm import GaussianHMM
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(0, 1, (100, 2)), rng.normal(5, 1, (100, 2))])
    >>> model = GaussianHMM(2, covariance_type="full", random_state=0).fit(X)
    >>> model.means_.shape, model.covars_.shape
    ((2, 2), (2, 2, 2))
    >>> np.round(np.sort(model.means_[:, 0]), 1).tolist()
    [-0.1, 4.9]
    >>> states = model.predict(X)
    >>> bool((states[:100] == states[0]).all() and (states[100:] != states[0]).all())
    True
    """

    def __init__(
        self,
        n_components: int = 1,
        covariance_type: str = "diag",
        min_covar: float = 1e-3,
        startprob_prior: Any = 1.0,
        transmat_prior: Any = 1.0,
        means_prior: Any = 0,
        means_weight: Any = 0,
        covars_prior: Any = 1e-2,
        covars_weight: Any = 1,
        algorithm: str = "viterbi",
        random_state: Any = None,
        n_iter: int = 10,
        tol: float = 1e-2,
        verbose: bool = False,
        params: str = "stmc",
        init_params: str = "stmc",
        implementation: str = "log",
        allow_nan: bool = False,
        n_init: int = 1,
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.min_covar = min_covar
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.means_prior = means_prior
        self.means_weight = means_weight
        self.covars_prior = covars_prior
        self.covars_weight = covars_weight
        self.algorithm = algorithm
        self.random_state = random_state
        self.n_iter = n_iter
        self.tol = tol
        self.verbose = verbose
        self.params = params
        self.init_params = init_params
        self.implementation = implementation
        self.allow_nan = allow_nan
        self.n_init = n_init

    emission_family = GaussianEmissions

    @property
    def covars_(self) -> np.ndarray:
        """Covariance matrices, float64 (n_components, n_features, n_features)."""
        cv = self._covars_
        nc, ct = self.n_components, self.covariance_type
        if ct == "full":
            return cv
        if ct == "diag":
            return np.array([np.diag(c) for c in cv])
        if ct == "tied":
            return np.tile(cv, (nc, 1, 1))
        return np.eye(np.shape(self.means_)[-1])[None] * np.ravel(cv)[:, None, None]

    @covars_.setter
    def covars_(self, covars: Any) -> None:
        covars = np.array(covars, dtype=np.float64, copy=True)
        family = GaussianEmissions(self)
        if self.covariance_type == "spherical":
            covars = family.spherical_variances(covars)
        family.validate_covars(covars)
        self._covars_ = covars


GaussianHMM.__module__ = "fastgen.hmm"
