"""Hidden Markov models with hmmlearn's API, computed by compiled kernels.

:class:`GaussianHMM` and :class:`CategoricalHMM` take hmmlearn's constructor
parameters, expose its fitted attributes (``startprob_``, ``transmat_``, ``means_``,
``covars_``, ``emissionprob_``, ``monitor_``) and give the same numbers: scores,
posteriors and Viterbi paths agree with hmmlearn to rounding, and so do the
parameters after the same number of EM iterations from the same starting point.

Threads: the E-step, scoring and Viterbi kernels (Cython, compiled when the package is
built: nothing compiles on a user's machine) run on :func:`fastgen.get_num_threads`
threads (set with :func:`fastgen.set_num_threads` or the ``FASTGEN_NUM_THREADS``
environment variable); work is split into a fixed number of chunks, so results do not
depend on the number of threads.

Differences from hmmlearn
-------------------------
* The k-means initialisation of ``GaussianHMM.means_`` is a small seeded k-means++
  / Lloyd implementation in NumPy, not scikit-learn's ``KMeans``; with
  ``"m"`` in ``init_params`` the starting means (hence the fit) differ from
  hmmlearn's.  Pass ``init_params=""`` with explicit parameters for identical fits.
* A state that receives no posterior mass keeps its previous mean / covariance /
  emission row / transition row instead of becoming NaN (or a zero row).
* Spherical covariances are stored as ``(n_components,)`` after fitting (hmmlearn
  switches to a tiled ``(n_components, n_features)`` array); ``covars_`` is the same.
* ``monitor_`` is created afresh by every ``fit``.
* ``X`` may also be a list of 2-D arrays (one per sequence) instead of ``lengths``.
* ``GaussianHMM(allow_nan=True)`` (diag / spherical only) treats NaN entries of ``X``
  as missing values, marginalised out; hmmlearn has no such option.
* A sequence of probability zero under the model gets all-zero posteriors (hmmlearn:
  NaN) and adds nothing to the EM statistics.
"""

from __future__ import annotations

import logging
import numbers
import sys
from collections import deque
from typing import Any

import numpy as np

from fastgen._base import BaseEstimator, check_is_fitted
from fastgen._kernels import hmm as _k
from fastgen._validation import check_array

__all__ = ["ConvergenceMonitor", "GaussianHMM", "CategoricalHMM"]

_log = logging.getLogger(__name__)

DECODER_ALGORITHMS = frozenset(("viterbi", "map"))
_TINY = np.finfo(np.float64).tiny
IMPLEMENTATIONS = frozenset(("log", "scaling"))
COVARIANCE_TYPES = frozenset(("spherical", "diag", "full", "tied"))


# --------------------------------------------------------------------------- helpers


def _check_random_state(seed: Any) -> np.random.RandomState:
    if seed is None or seed is np.random:
        return np.random.mtrand._rand
    if isinstance(seed, numbers.Integral):
        return np.random.RandomState(seed)
    if isinstance(seed, np.random.RandomState):
        return seed
    raise ValueError(f"{seed!r} cannot be used to seed a numpy.random.RandomState instance")


def _normalize(a: np.ndarray, axis: int | None = None) -> None:
    """In-place normalisation, as hmmlearn's ``utils.normalize``."""
    a_sum = a.sum(axis)
    if axis and a.ndim > 1:
        a_sum[a_sum == 0] = 1
        shape = list(a.shape)
        shape[axis] = 1
        a_sum.shape = shape
    a /= a_sum


def _startidx(lengths: np.ndarray) -> np.ndarray:
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def _kmeans(
    X: np.ndarray,
    k: int,
    random_state: np.random.RandomState,
    n_init: int = 10,
    max_iter: int = 300,
) -> np.ndarray:
    """Cluster centres of ``X`` (float64 (n, d)) by k-means++ seeding and Lloyd steps."""
    n = X.shape[0]
    if n < k:
        raise ValueError(f"n_samples={n} should be >= n_components={k} for k-means init")
    sq = np.einsum("ij,ij->i", X, X)
    best, best_inertia = None, np.inf
    for _ in range(n_init):
        centers = np.empty((k, X.shape[1]))
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
        for _ in range(max_iter):
            dist = sq[:, None] - 2 * X @ centers.T + np.einsum("ij,ij->i", centers, centers)
            labels = dist.argmin(axis=1)
            counts = np.bincount(labels, minlength=k)
            # per-cluster sums in sample order, as np.add.at gave (the same bits), faster
            new = np.stack(
                [np.bincount(labels, weights=X[:, f], minlength=k) for f in range(X.shape[1])],
                axis=1,
            )
            empty = counts == 0
            new[~empty] /= counts[~empty, None]
            new[empty] = centers[empty]
            shift = np.abs(new - centers).max()
            centers = new
            if shift <= 1e-10:
                break
        dist = sq[:, None] - 2 * X @ centers.T + np.einsum("ij,ij->i", centers, centers)
        inertia = dist.min(axis=1).sum()
        if inertia < best_inertia:
            best, best_inertia = centers, inertia
    return best


class ConvergenceMonitor:
    """Track the log-likelihood of EM iterations and decide convergence (hmmlearn's).

    Attributes
    ----------
    history : deque of float
        Log-likelihood of every iteration so far.
    iter : int
        Number of iterations performed.
    """

    _template = "{iter:>10d} {log_prob:>16.8f} {delta:>+16.8f}"

    def __init__(self, tol: float, n_iter: int, verbose: bool) -> None:
        self.tol = tol
        self.n_iter = n_iter
        self.verbose = verbose
        self.history: deque = deque()
        self.iter = 0

    def __repr__(self) -> str:
        params = sorted(dict(vars(self), history=list(self.history)).items())
        body = "".join(f"    {k}={v},\n" for k, v in params)
        return f"{type(self).__name__}(\n{body})"

    def _reset(self) -> None:
        self.iter = 0
        self.history.clear()

    def report(self, log_prob: float) -> None:
        """Record ``log_prob``; print a progress line to stderr when ``verbose``."""
        if self.verbose:
            delta = log_prob - self.history[-1] if self.history else np.nan
            print(
                self._template.format(iter=self.iter + 1, log_prob=log_prob, delta=delta),
                file=sys.stderr,
            )
        precision = np.finfo(float).eps ** 0.5
        if self.history and (log_prob - self.history[-1]) < -precision:
            _log.warning(
                "Model is not converging.  Current: %s is not greater than %s. Delta is %s",
                log_prob,
                self.history[-1],
                log_prob - self.history[-1],
            )
        self.history.append(log_prob)
        self.iter += 1

    @property
    def converged(self) -> bool:
        """Whether ``n_iter`` iterations ran or the last gain was below ``tol``."""
        return self.iter == self.n_iter or (
            len(self.history) >= 2 and self.history[-1] - self.history[-2] < self.tol
        )


# --------------------------------------------------------------------------- base


class _BaseHMM(BaseEstimator):
    """EM, scoring, decoding and sampling shared by every emission model.

    Subclasses provide ``_validate_X``, ``_frame_log_likelihood``, ``_emission_model``,
    ``_init_emissions``, ``_check_emissions``, ``_stats_kind`` with ``_kernel_stats``
    (statistics accumulated by the E-step kernel) or ``_emission_stats`` (computed
    from the posteriors, when ``_stats_kind`` returns None), ``_mstep_emissions``,
    ``_n_fit_scalars_per_param`` and ``_generate_sample_from_state``.
    """

    _emission_letters = ""

    # ------------------------------------------------------------ validation

    def _validate_params(self) -> None:
        nc = self.n_components
        if isinstance(nc, bool) or not isinstance(nc, numbers.Integral) or nc < 1:
            raise ValueError(f"n_components must be an integer >= 1, got {nc!r}")
        if self.algorithm not in DECODER_ALGORITHMS:
            raise ValueError(f"Unknown decoder {self.algorithm!r}")
        if self.implementation not in IMPLEMENTATIONS:
            raise ValueError(
                f"implementation must be 'log' or 'scaling', got {self.implementation!r}"
            )

    def _input(self, X: Any, lengths: Any) -> tuple[np.ndarray, np.ndarray]:
        """2-D ``X`` and int64 ``lengths`` from ``(X, lengths)`` or a list of sequences."""
        if isinstance(X, (list, tuple)) and len(X) > 0 and all(np.ndim(x) == 2 for x in X):
            if lengths is not None:
                raise ValueError("Pass either a list of sequences or lengths, not both")
            seqs = [self._validate_X(x) for x in X]
            lengths = [len(x) for x in seqs]
            X = np.concatenate(seqs)
        else:
            X = self._validate_X(X)
        n = X.shape[0]
        if lengths is None:
            return X, np.array([n], dtype=np.int64)
        lengths = np.asarray(lengths)
        if lengths.ndim != 1 or lengths.size == 0:
            raise ValueError("lengths must be a non-empty 1-D array of sequence lengths")
        integral_floats = (
            lengths.dtype.kind == "f"
            and np.all(np.isfinite(lengths))
            and np.all(lengths == np.round(lengths))
        )
        if lengths.dtype.kind not in "iu" and not integral_floats:
            raise ValueError(f"lengths must be integers, got dtype {lengths.dtype}")
        # bounds first, in the input dtype: casting or summing huge values would wrap
        if np.any(lengths <= 0):
            raise ValueError(f"lengths must all be positive, got {lengths}")
        if np.any(lengths > n):
            raise ValueError(f"lengths array {lengths} doesn't sum to {n} samples")
        lengths = lengths.astype(np.int64)
        # every length is in [1, n], so the running sum passes n before it can wrap
        ends = np.cumsum(lengths)
        if ends[-1] != n or ends.max() > n:
            raise ValueError(f"lengths array {lengths} doesn't sum to {n} samples")
        return X, lengths

    def _check_sum_1(self, name: str) -> None:
        a = getattr(self, name)
        if not (np.isfinite(a).all() and (a >= 0).all()):
            raise ValueError(f"{name} must be finite and non-negative")
        s = a.sum(axis=-1)
        if np.abs(s - 1.0).max() > 1e-8 + 1e-5:  # np.allclose(s, 1), without its overhead
            raise ValueError(
                f"{name} must sum to 1 (got {s})"
                if s.ndim == 0
                else f"{name} rows must sum to 1 (got row sums of {s})"
            )

    def _check(self) -> None:
        """Validate the model parameters (raises ``ValueError``)."""
        self._validate_params()
        nc = self.n_components
        self.startprob_ = np.asarray(self.startprob_, dtype=np.float64)
        if self.startprob_.shape != (nc,):
            raise ValueError("startprob_ must have length n_components")
        self._check_sum_1("startprob_")
        self.transmat_ = np.asarray(self.transmat_, dtype=np.float64)
        if self.transmat_.shape != (nc, nc):
            raise ValueError("transmat_ must have shape (n_components, n_components)")
        self._check_sum_1("transmat_")
        self._check_emissions()

    def _needs_init(self, code: str, name: str) -> bool:
        if code in self.init_params:
            return True
        return not hasattr(self, name)

    # ------------------------------------------------------------ inference

    def _emission_model(self, X: np.ndarray) -> _k.EmissionArrays:
        """The kernels' emission model of ``X`` (see ``fastgen._kernels.hmm.emissions``)."""
        return _k.emissions(_k.EMIT_LOG_FRAMES, log_frame=self._frame_log_likelihood(X))

    def _stats_kind(self, X: np.ndarray) -> int | None:
        """Emission statistics the E-step kernel accumulates (``_k.STATS_*``)."""
        return _k.STATS_NONE

    def _forward_backward(
        self, X, lengths, *, posteriors: bool, gamma: bool = True, xi: bool = False, stats=None
    ) -> _k.EStep:
        r = _k.forward_backward(
            _startidx(lengths),
            self.startprob_,
            self.transmat_,
            self._emission_model(X),
            self.implementation == "log",
            posteriors=posteriors,
            gamma=gamma,
            xi=xi,
            stats_kind=_k.STATS_NONE if stats is None else stats,
        )
        if np.isnan(r.log_prob).any():
            raise ValueError(
                "Scaled forward-backward failed with underflow (or overflow); "
                "consider using implementation='log' instead"
            )
        return r

    def _prepare(self, X: Any, lengths: Any) -> tuple[np.ndarray, np.ndarray]:
        check_is_fitted(self, "startprob_")
        self._check()
        X, lengths = self._input(X, lengths)
        self._check_n_features(X)
        return X, lengths

    def _check_n_features(self, X: np.ndarray) -> None:
        """Raise ``ValueError`` when ``X`` does not fit the fitted model."""

    def score_samples(self, X: Any, lengths: Any = None) -> tuple[float, np.ndarray]:
        """Log-likelihood of ``X`` and state posteriors.

        Parameters
        ----------
        X : array-like (n_samples, n_features), or a list of such arrays
        lengths : int array (n_sequences,), optional; sums to ``n_samples``

        Returns
        -------
        log_prob : float
        posteriors : float64 (n_samples, n_components)
        """
        X, lengths = self._prepare(X, lengths)
        r = self._forward_backward(X, lengths, posteriors=True)
        return float(r.log_prob.sum()), r.gamma

    def score(self, X: Any, lengths: Any = None) -> float:
        """Log-likelihood of ``X`` (summed over sequences)."""
        X, lengths = self._prepare(X, lengths)
        return float(self._forward_backward(X, lengths, posteriors=False).log_prob.sum())

    def predict_proba(self, X: Any, lengths: Any = None) -> np.ndarray:
        """State posteriors, float64 (n_samples, n_components)."""
        return self.score_samples(X, lengths)[1]

    def decode(
        self, X: Any, lengths: Any = None, algorithm: str | None = None
    ) -> tuple[float, np.ndarray]:
        """Most likely states: ``(log_prob, state_sequence int64 (n_samples,))``.

        ``algorithm`` is ``"viterbi"`` (joint path) or ``"map"`` (per-frame argmax of
        the posteriors, whose ``log_prob`` is the sum of the maxima, as hmmlearn).
        """
        X, lengths = self._prepare(X, lengths)
        algorithm = algorithm or self.algorithm
        if algorithm not in DECODER_ALGORITHMS:
            raise ValueError(f"Unknown decoder {algorithm!r}")
        if algorithm == "viterbi":
            log_prob, states = _k.viterbi_batch(
                _startidx(lengths), self.startprob_, self.transmat_, self._emission_model(X)
            )
            return float(log_prob.sum()), states
        gamma = self._forward_backward(X, lengths, posteriors=True).gamma
        return float(np.max(gamma, axis=1).sum()), np.argmax(gamma, axis=1)

    def predict(self, X: Any, lengths: Any = None) -> np.ndarray:
        """Most likely state of every sample, int64 (n_samples,)."""
        return self.decode(X, lengths)[1]

    # ------------------------------------------------------------ learning

    def _init(self, X: np.ndarray, lengths: np.ndarray) -> None:
        nc = self.n_components
        init = 1.0 / nc
        rs = _check_random_state(self.random_state)
        if self._needs_init("s", "startprob_"):
            self.startprob_ = rs.dirichlet(np.full(nc, init))
        if self._needs_init("t", "transmat_"):
            self.transmat_ = rs.dirichlet(np.full(nc, init), size=nc)
        self._init_emissions(X, lengths, rs)
        n_scalars = self._n_fit_scalars_per_param()
        n_fit = sum(n_scalars.get(p, 0) for p in set(self.params))
        if X.size < n_fit:
            _log.warning(
                "Fitting a model with %d free scalar parameters with only %d data "
                "points will result in a degenerate solution.",
                n_fit,
                X.size,
            )

    def fit(self, X: Any, lengths: Any = None) -> _BaseHMM:
        """Estimate the parameters by EM (Baum-Welch).

        Parameters
        ----------
        X : array-like (n_samples, n_features), or a list of such arrays
        lengths : int array (n_sequences,), optional; sums to ``n_samples``

        Returns
        -------
        self
        """
        self._validate_params()
        X, lengths = self._input(X, lengths)
        self._init(X, lengths)
        self._check()
        self.monitor_ = ConvergenceMonitor(self.tol, self.n_iter, self.verbose)
        for _ in range(self.n_iter):
            stats, log_prob = self._do_estep(X, lengths)
            self._do_mstep(stats)
            self.monitor_.report(log_prob)
            if self.monitor_.converged:
                break
        return self

    def _do_estep(self, X: np.ndarray, lengths: np.ndarray) -> tuple[dict, float]:
        stats_kind = self._stats_kind(X)
        numpy_stats = stats_kind is None  # the subclass needs the posteriors themselves
        r = self._forward_backward(
            X,
            lengths,
            posteriors=True,
            gamma=numpy_stats,
            xi="t" in self.params,
            stats=None if numpy_stats else stats_kind,
        )
        stats = {"nobs": len(lengths), "start": r.start, "trans": r.trans}
        if numpy_stats:
            stats.update(self._emission_stats(X, r.gamma))
        else:
            stats.update(self._kernel_stats(r))
        return stats, float(r.log_prob.sum())

    def _do_mstep(self, stats: dict) -> None:
        if "s" in self.params:
            startprob = np.maximum(self.startprob_prior - 1 + stats["start"], 0)
            startprob = np.where(self.startprob_ == 0, 0, startprob)
            if startprob.sum() > 0:
                _normalize(startprob)
                self.startprob_ = startprob
        if "t" in self.params:
            transmat = np.maximum(self.transmat_prior - 1 + stats["trans"], 0)
            transmat = np.where(self.transmat_ == 0, 0, transmat)
            empty = transmat.sum(axis=1) == 0
            if empty.any():
                _log.warning(
                    "No transition out of states %s was observed; their rows of "
                    "transmat_ are kept.",
                    np.flatnonzero(empty),
                )
                transmat[empty] = self.transmat_[empty]
            _normalize(transmat, axis=1)
            self.transmat_ = transmat
        self._mstep_emissions(stats)

    # ------------------------------------------------------------ misc

    def sample(
        self, n_samples: int = 1, random_state: Any = None, currstate: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n_samples`` observations and their states (hmmlearn's random stream).

        Returns
        -------
        X : array (n_samples, n_features)
        state_sequence : int array (n_samples,)
        """
        check_is_fitted(self, "startprob_")
        self._check()
        rs = _check_random_state(self.random_state if random_state is None else random_state)
        transmat_cdf = np.cumsum(self.transmat_, axis=1)
        if currstate is None:
            currstate = (np.cumsum(self.startprob_) > rs.rand()).argmax()
        states = [currstate]
        X = [self._generate_sample_from_state(currstate, rs)]
        for _ in range(n_samples - 1):
            currstate = (transmat_cdf[currstate] > rs.rand()).argmax()
            states.append(currstate)
            X.append(self._generate_sample_from_state(currstate, rs))
        return np.atleast_2d(X), np.array(states, dtype=int)

    def get_stationary_distribution(self) -> np.ndarray:
        """Stationary distribution of ``transmat_``, float64 (n_components,)."""
        from scipy import linalg  # imported where used: scipy.linalg takes ~0.3 s to import

        check_is_fitted(self, "transmat_")
        eigvals, eigvecs = linalg.eig(self.transmat_.T)
        eigvec = np.real_if_close(eigvecs[:, np.argmax(eigvals)])
        return eigvec / eigvec.sum()

    def aic(self, X: Any, lengths: Any = None) -> float:
        """Akaike information criterion: ``-2 log L + 2 n_params``."""
        n_params = sum(self._n_fit_scalars_per_param().values())
        return -2 * self.score(X, lengths) + 2 * n_params

    def bic(self, X: Any, lengths: Any = None) -> float:
        """Bayesian information criterion: ``-2 log L + n_params log(n_samples)``."""
        n_params = sum(self._n_fit_scalars_per_param().values())
        n = self._input(X, lengths)[0].shape[0]
        return -2 * self.score(X, lengths) + n_params * np.log(n)


# --------------------------------------------------------------------------- Gaussian


class GaussianHMM(_BaseHMM):
    """Hidden Markov model with Gaussian emissions (hmmlearn's ``GaussianHMM``).

    Parameters
    ----------
    n_components : int, default=1
    covariance_type : {"diag", "spherical", "full", "tied"}, default="diag"
    min_covar : float, default=1e-3
        Added to the diagonal of the initial covariance.
    startprob_prior, transmat_prior : float or array, default=1.0
        Dirichlet priors of ``startprob_`` and the rows of ``transmat_``.
    means_prior, means_weight : float or array, default=0
        Normal prior on ``means_``.
    covars_prior, covars_weight : float or array, default=1e-2, 1
        (Inverse-)Wishart / gamma prior on ``covars_``.
    algorithm : {"viterbi", "map"}, default="viterbi"
    random_state : int, RandomState or None
    n_iter : int, default=10
    tol : float, default=1e-2
    verbose : bool, default=False
    params, init_params : str, default="stmc"
        Letters of the parameters updated by EM / initialised by ``fit``.
    implementation : {"log", "scaling"}, default="log"
    allow_nan : bool, default=False
        fastgen only.  With ``covariance_type`` "diag" or "spherical", NaN entries of
        ``X`` are missing values: they are marginalised out of the emission densities
        and the M-step uses, per feature, only the frames where it was observed.

    Attributes
    ----------
    n_features : int
    startprob_ : float64 (n_components,)
    transmat_ : float64 (n_components, n_components)
    means_ : float64 (n_components, n_features)
    covars_ : float64 (n_components, n_features, n_features)
        Full matrices whatever ``covariance_type``; set it with hmmlearn's shapes
        ``(n_components,)`` spherical, ``(n_components, n_features)`` diag,
        ``(n_components, n_features, n_features)`` full, ``(n_features, n_features)`` tied.
    monitor_ : ConvergenceMonitor
    """

    _emission_letters = "mc"

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

    # ------------------------------------------------------------ covariances

    def _validate_params(self) -> None:
        super()._validate_params()
        if self.covariance_type not in COVARIANCE_TYPES:
            raise ValueError(
                f"covariance_type must be one of {sorted(COVARIANCE_TYPES)}, "
                f"got {self.covariance_type!r}"
            )
        if self.allow_nan and self.covariance_type not in ("diag", "spherical"):
            raise ValueError("allow_nan=True needs covariance_type 'diag' or 'spherical'")

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
        return np.eye(self.means_.shape[1])[None] * np.ravel(cv)[:, None, None]

    @covars_.setter
    def covars_(self, covars: Any) -> None:
        covars = np.array(covars, dtype=np.float64, copy=True)
        self._validate_covars(covars)
        self._covars_ = covars

    def _validate_covars(self, cv: np.ndarray) -> None:
        self._validate_params()
        nc, ct = self.n_components, self.covariance_type
        if not np.all(np.isfinite(cv)):
            raise ValueError("covars must be finite")
        if ct == "spherical":
            if cv.shape != (nc,):
                raise ValueError("'spherical' covars must have shape (n_components,)")
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
            symmetric = np.isclose(mats, mats.transpose(0, 2, 1)).all(axis=(1, 2))
            try:
                np.linalg.cholesky(mats)
                bad = np.flatnonzero(~symmetric)
            except np.linalg.LinAlgError:
                from scipy import linalg

                bad = [
                    n
                    for n, m in enumerate(mats)
                    if not symmetric[n] or np.any(linalg.eigvalsh(m) <= 0)
                ]
            if len(bad):
                raise ValueError(
                    f"component {bad[0]} of '{ct}' covars must be symmetric, positive-definite"
                )

    def _cholesky(self) -> np.ndarray:
        """Lower Cholesky factors (n_components, n_features, n_features), as hmmlearn."""
        nc, nf = self.means_.shape
        mats = np.broadcast_to(self._covars_, (nc, nf, nf))
        try:
            return np.ascontiguousarray(np.linalg.cholesky(mats))
        except np.linalg.LinAlgError:
            pass
        from scipy import linalg  # the rare fallback: not on the import path

        out = np.empty((nc, nf, nf))
        for c, cv in enumerate(mats):
            try:
                out[c] = linalg.cholesky(cv, lower=True)
            except linalg.LinAlgError:
                try:
                    out[c] = linalg.cholesky(cv + 1e-7 * np.eye(nf), lower=True)
                except linalg.LinAlgError:
                    raise ValueError("'covars' must be symmetric, positive-definite") from None
        return out

    # ------------------------------------------------------------ hooks

    def _validate_X(self, X: Any) -> np.ndarray:
        if not self.allow_nan:
            X = check_array(X, dtype=np.float64, estimator_name=type(self).__name__)
            return np.ascontiguousarray(X)
        X = check_array(
            X, dtype=np.float64, ensure_all_finite=False, estimator_name=type(self).__name__
        )
        if np.isinf(X).any():
            raise ValueError("Input X contains infinity.")
        return np.ascontiguousarray(X)

    def _check_n_features(self, X: np.ndarray) -> None:
        nf = self.means_.shape[1]
        if X.shape[1] != nf:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting {nf} features"
            )

    def _n_fit_scalars_per_param(self) -> dict[str, int]:
        nc, nf = self.n_components, self.n_features
        return {
            "s": nc - 1,
            "t": nc * (nc - 1),
            "m": nc * nf,
            "c": {
                "spherical": nc,
                "diag": nc * nf,
                "full": nc * nf * (nf + 1) // 2,
                "tied": nf * (nf + 1) // 2,
            }[self.covariance_type],
        }

    def _init_emissions(self, X, lengths, rs) -> None:
        nf = X.shape[1]
        if not self._needs_init("m", "means_") and self.means_.shape[-1] != nf:
            raise ValueError(f"X has {nf} features, but means_ has {self.means_.shape[-1]}")
        self.n_features = nf
        if self.allow_nan and np.isnan(X).any():  # initialise from column-mean imputed X
            with np.errstate(invalid="ignore"):
                col = np.nanmean(X, axis=0)
            X = np.where(np.isnan(X), np.nan_to_num(col)[None, :], X)
        if self._needs_init("m", "means_"):
            self.means_ = _kmeans(X, self.n_components, _check_random_state(self.random_state))
        if self._needs_init("c", "covars_"):
            cv = np.cov(X.T) + self.min_covar * np.eye(nf)
            if not cv.shape:
                cv.shape = (1, 1)
            nc, ct = self.n_components, self.covariance_type
            if ct == "spherical":
                self.covars_ = np.full(nc, cv.mean())
            elif ct == "tied":
                self.covars_ = cv
            elif ct == "diag":
                self.covars_ = np.tile(np.diag(cv), (nc, 1))
            else:
                self.covars_ = np.tile(cv, (nc, 1, 1))

    def _check_emissions(self) -> None:
        self.means_ = np.asarray(self.means_, dtype=np.float64)
        if self.means_.ndim != 2 or self.means_.shape[0] != self.n_components:
            raise ValueError("means_ must have shape (n_components, n_features)")
        if not np.all(np.isfinite(self.means_)):
            raise ValueError("means_ must be finite")
        self.n_features = self.means_.shape[1]
        if not hasattr(self, "_covars_"):
            raise ValueError("covars_ must be set before fitting with init_params without 'c'")
        self._validate_covars(self._covars_)
        cv = self._covars_
        nf = self.n_features
        if self.covariance_type in ("diag", "full", "tied") and cv.shape[-1] != nf:
            raise ValueError(f"covars_ do not match n_features={nf}")

    def _diag_covars(self) -> np.ndarray:
        """Variances as (n_components, n_features), floored at the smallest float."""
        nc, nf = self.means_.shape
        cv = self._covars_[:, None] if self.covariance_type == "spherical" else self._covars_
        return np.maximum(cv, _TINY, out=np.empty((nc, nf)))  # broadcasts a spherical cv

    def _missing(self, X: np.ndarray) -> bool:
        return bool(self.allow_nan and np.isnan(X).any())

    def _frame_log_likelihood(self, X: np.ndarray) -> np.ndarray:
        if self.covariance_type in ("diag", "spherical"):
            if self._missing(X):
                return _k.log_density_diag_missing(X, self.means_, self._diag_covars())
            return _k.log_density_diag(X, self.means_, self._diag_covars())
        return _k.log_density_full(X, self.means_, self._cholesky())

    def _emission_model(self, X: np.ndarray) -> _k.EmissionArrays:
        if self.covariance_type not in ("diag", "spherical"):
            return _k.emissions(_k.EMIT_FULL, X=X, means=self.means_, chol=self._cholesky())
        if self._missing(X):
            return super()._emission_model(X)
        return _k.emissions(_k.EMIT_DIAG, X=X, means=self.means_, covars=self._diag_covars())

    def _stats_kind(self, X: np.ndarray) -> int | None:
        if not ("m" in self.params or "c" in self.params):
            return _k.STATS_NONE
        if self._missing(X):
            return None
        if "c" not in self.params:
            return _k.STATS_MEANS
        return _k.STATS_DIAG if self.covariance_type in ("diag", "spherical") else _k.STATS_FULL

    def _kernel_stats(self, r: _k.EStep) -> dict:
        if not ("m" in self.params or "c" in self.params):
            return {}
        stats = {"post": r.post, "obs": r.obs}
        if "c" in self.params:
            diag = self.covariance_type in ("diag", "spherical")
            stats["obs**2" if diag else "obs*obs.T"] = r.obs2
        return stats

    def _emission_stats(self, X: np.ndarray, gamma: np.ndarray) -> dict:
        stats: dict = {}
        if not ("m" in self.params or "c" in self.params):
            return stats
        stats["post"] = gamma.sum(axis=0)
        missing = np.isnan(X) if self.allow_nan else None
        if missing is not None and missing.any():  # per-feature statistics of observed X
            X = np.where(missing, 0.0, X)
            stats["post_f"] = gamma.T @ (~missing).astype(np.float64)
        stats["obs"] = gamma.T @ X
        if "c" in self.params:
            if self.covariance_type in ("diag", "spherical"):
                stats["obs**2"] = gamma.T @ (X * X)
            else:
                nc, nf = self.n_components, X.shape[1]
                out = np.empty((nc, nf, nf))
                for c in range(nc):
                    out[c] = (X * gamma[:, c : c + 1]).T @ X
                stats["obs*obs.T"] = out
        return stats

    def _mstep_emissions(self, stats: dict) -> None:
        means_prior, means_weight = self.means_prior, self.means_weight
        if "post" not in stats:
            return
        denom = stats.get("post_f", stats["post"][:, None])
        if "m" in self.params:
            d = means_weight + denom
            with np.errstate(divide="ignore", invalid="ignore"):
                means = (means_weight * means_prior + stats["obs"]) / d
            self.means_ = np.where(np.broadcast_to(d, means.shape) == 0, self.means_, means)
        if "c" not in self.params:
            return
        covars_prior, covars_weight = self.covars_prior, self.covars_weight
        meandiff = self.means_ - means_prior
        ct = self.covariance_type
        if ct in ("spherical", "diag"):
            c_n = (
                means_weight * meandiff**2
                + stats["obs**2"]
                - 2 * self.means_ * stats["obs"]
                + self.means_**2 * denom
            )
            c_d = max(covars_weight - 1, 0) + denom
            cv = (covars_prior + c_n) / np.maximum(c_d, 1e-5)
            self._covars_ = cv.mean(axis=1) if ct == "spherical" else cv
            return
        nf = self.n_features
        mw = np.asarray(means_weight, dtype=np.float64)
        mw = mw.reshape(-1, 1, 1) if mw.ndim else mw
        obsmean = np.einsum("ki,kj->kij", stats["obs"], self.means_)
        c_n = (
            mw * np.einsum("ki,kj->kij", meandiff, meandiff)
            + stats["obs*obs.T"]
            - obsmean
            - obsmean.transpose(0, 2, 1)
            + np.einsum("ki,kj->kij", self.means_, self.means_) * stats["post"][:, None, None]
        )
        cvweight = max(covars_weight - nf, 0)
        if ct == "tied":
            self._covars_ = (covars_prior + c_n.sum(axis=0)) / (cvweight + stats["post"].sum())
        else:
            d = cvweight + stats["post"][:, None, None]
            with np.errstate(divide="ignore", invalid="ignore"):
                cv = (covars_prior + c_n) / d
            self._covars_ = np.where(np.broadcast_to(d, cv.shape) == 0, self._covars_, cv)

    def _generate_sample_from_state(self, state: int, random_state) -> np.ndarray:
        return random_state.multivariate_normal(self.means_[state], self.covars_[state])


# --------------------------------------------------------------------------- categorical


class CategoricalHMM(_BaseHMM):
    """Hidden Markov model with categorical emissions (hmmlearn's ``CategoricalHMM``).

    ``X`` holds non-negative integer symbols with shape ``(n_samples, 1)``.

    Parameters
    ----------
    n_components : int, default=1
    startprob_prior, transmat_prior : float or array, default=1.0
    emissionprob_prior : float or array, default=1.0
        Dirichlet prior of the rows of ``emissionprob_``.
    n_features : int, optional
        Number of symbols; inferred as ``X.max() + 1`` by ``fit`` when None (and then
        set, as hmmlearn does).
    algorithm, random_state, n_iter, tol, verbose, implementation
        As :class:`GaussianHMM`.
    params, init_params : str, default="ste"

    Attributes
    ----------
    startprob_, transmat_, monitor_
        As :class:`GaussianHMM`.
    emissionprob_ : float64 (n_components, n_features)
    """

    _emission_letters = "e"

    def __init__(
        self,
        n_components: int = 1,
        startprob_prior: Any = 1.0,
        transmat_prior: Any = 1.0,
        *,
        emissionprob_prior: Any = 1.0,
        n_features: int | None = None,
        algorithm: str = "viterbi",
        random_state: Any = None,
        n_iter: int = 10,
        tol: float = 1e-2,
        verbose: bool = False,
        params: str = "ste",
        init_params: str = "ste",
        implementation: str = "log",
    ) -> None:
        self.n_components = n_components
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.emissionprob_prior = emissionprob_prior
        self.n_features = n_features
        self.algorithm = algorithm
        self.random_state = random_state
        self.n_iter = n_iter
        self.tol = tol
        self.verbose = verbose
        self.params = params
        self.init_params = init_params
        self.implementation = implementation

    def _validate_X(self, X: Any) -> np.ndarray:
        X = check_array(X, dtype=None, estimator_name=type(self).__name__)
        if X.dtype.kind not in "iu":
            raise ValueError(f"Symbols should be integers, got dtype {X.dtype}")
        if X.shape[1] != 1:
            raise ValueError(f"CategoricalHMM expects X of shape (n_samples, 1), got {X.shape}")
        if X.min() < 0:
            raise ValueError("Symbols should be nonnegative")
        nf = self.n_features
        if nf is not None and X.max() > nf - 1:
            raise ValueError(
                f"Largest symbol is {X.max()} but the model only emits symbols up to {nf - 1}"
            )
        return np.ascontiguousarray(X, dtype=np.int64)

    def _n_fit_scalars_per_param(self) -> dict[str, int]:
        nc, nf = self.n_components, self.n_features
        return {"s": nc - 1, "t": nc * (nc - 1), "e": nc * (nf - 1)}

    def _init_emissions(self, X, lengths, rs) -> None:
        if self.n_features is None:
            self.n_features = int(X.max()) + 1
        if self._needs_init("e", "emissionprob_"):
            self.emissionprob_ = rs.rand(self.n_components, self.n_features)
            _normalize(self.emissionprob_, axis=1)

    def _check_emissions(self) -> None:
        self.emissionprob_ = np.atleast_2d(np.asarray(self.emissionprob_, dtype=np.float64))
        if self.n_features is None:
            self.n_features = self.emissionprob_.shape[1]
        if self.emissionprob_.shape != (self.n_components, self.n_features):
            raise ValueError(
                f"emissionprob_ must have shape ({self.n_components}, {self.n_features})"
            )
        self._check_sum_1("emissionprob_")

    def _frame_log_likelihood(self, X: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.ascontiguousarray(np.log(self.emissionprob_.T)[X[:, 0]])

    def _emission_model(self, X: np.ndarray) -> tuple[int, tuple]:
        with np.errstate(divide="ignore"):
            log_em = np.log(self.emissionprob_)
        return _k.emissions(_k.EMIT_CATEGORICAL, sym=X[:, 0], log_emissionprob=log_em)

    def _stats_kind(self, X: np.ndarray) -> int:
        return _k.STATS_CATEGORICAL if "e" in self.params else _k.STATS_NONE

    def _kernel_stats(self, r: _k.EStep) -> dict:
        return {"obs": r.obs} if "e" in self.params else {}

    def _mstep_emissions(self, stats: dict) -> None:
        if "e" not in self.params:
            return
        em = np.maximum(self.emissionprob_prior - 1 + stats["obs"], 0)
        empty = em.sum(axis=1) == 0
        em[empty] = self.emissionprob_[empty]
        _normalize(em, axis=1)
        self.emissionprob_ = em

    def _generate_sample_from_state(self, state: int, random_state) -> list:
        cdf = np.cumsum(self.emissionprob_[state, :])
        return [(cdf > random_state.rand()).argmax()]
