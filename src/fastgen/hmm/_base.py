"""The estimator API shared by every HMM: fit, score, decode, sample, criteria.

An estimator is :class:`BaseHMM` plus an emission family (its ``emission_family``
class attribute, see :mod:`fastgen.hmm._family`); the numbers come from the engine
(:mod:`fastgen.hmm._engine`).
"""

from __future__ import annotations

import string
from typing import Any, ClassVar

import numpy as np

from fastgen._base import BaseEstimator, check_is_fitted
from fastgen._kernels import hmm as _k
from fastgen._validation import check_array
from fastgen.hmm import _restarts
from fastgen.hmm._engine import (
    DECODER_ALGORITHMS,
    BaumWelch,
    ConvergenceMonitor,
    family_of,
    forward_backward,
    input_sequences,
    validate_params,
    viterbi,
)
from fastgen.hmm._family import EmissionFamily
from fastgen.hmm._util import check_random_state, startidx

__all__ = ["BaseHMM", "SubclassEmissions"]


class SubclassEmissions(EmissionFamily):
    """The emissions of a :class:`BaseHMM` subclass written against hmmlearn's hooks:
    frame log-likelihoods from the model's ``_compute_log_likelihood(X)`` and draws
    from its ``_generate_sample_from_state(state, random_state)``; nothing to
    initialise or fit (only the chain is learned)."""

    def validate_X(self, X: Any) -> np.ndarray:
        return np.ascontiguousarray(
            check_array(X, dtype=np.float64, estimator_name=type(self.model).__name__)
        )

    def needs_data(self) -> bool:
        return False

    def initialize(self, X: np.ndarray, lengths: np.ndarray, random_state: Any) -> None:
        self.model.n_features = X.shape[1]

    def check(self) -> None:
        pass

    def is_fitted(self) -> bool:
        return True

    def n_fit_scalars(self) -> dict[str, int]:
        return {}

    def log_likelihood(self, X: Any) -> np.ndarray:
        frames = np.asarray(self.model._compute_log_likelihood(X), dtype=np.float64)
        if frames.shape != (len(X), self.model.n_components):
            raise ValueError(
                f"_compute_log_likelihood returned shape {frames.shape}, expected "
                f"{(len(X), self.model.n_components)}"
            )
        return np.ascontiguousarray(frames)

    def mstep(self, stats: dict) -> None:
        pass

    def sample(self, state: int, random_state: np.random.RandomState) -> Any:
        return self.model._generate_sample_from_state(state, random_state)


class BaseHMM(BaseEstimator):
    """Hidden Markov model estimator: the chain and the API, for any emission family.

    Subclasses set ``emission_family`` (an :class:`EmissionFamily` subclass) and a
    constructor storing hmmlearn's parameters (``n_components``, ``startprob_prior``,
    ``transmat_prior``, ``algorithm``, ``random_state``, ``n_iter``, ``tol``,
    ``verbose``, ``params``, ``init_params``, ``implementation`` and the family's own).

    As hmmlearn's ``BaseHMM``, it may also be subclassed through hmmlearn's hooks: a
    subclass that keeps the default ``emission_family`` (:class:`SubclassEmissions`)
    and this constructor implements ``_compute_log_likelihood(X)`` (frame
    log-likelihoods, (n_samples, n_components)) and, to sample,
    ``_generate_sample_from_state(state, random_state)``; EM then learns the chain.

    Parameters
    ----------
    n_components : int, default=1
    startprob_prior, transmat_prior : float or array, default=1.0
    algorithm : {"viterbi", "map"}, default="viterbi"
    random_state : int, RandomState or None
    n_iter : int, default=10
    tol : float, default=1e-2
    verbose : bool, default=False
    params, init_params : str, default=all letters
    implementation : {"log", "scaling"}, default="log"
    n_init : int, default=1
        Random restarts of ``fit``, as :class:`GaussianHMM`.

    ``engine`` is the EM engine fitting and checking it (:class:`BaumWelch` unless a
    subclass says otherwise).
    """

    emission_family: ClassVar[type[EmissionFamily]] = SubclassEmissions
    engine: ClassVar[type[BaumWelch]] = BaumWelch

    def __init__(
        self,
        n_components: int = 1,
        startprob_prior: Any = 1.0,
        transmat_prior: Any = 1.0,
        algorithm: str = "viterbi",
        random_state: Any = None,
        n_iter: int = 10,
        tol: float = 1e-2,
        verbose: bool = False,
        params: str = string.ascii_letters,
        init_params: str = string.ascii_letters,
        implementation: str = "log",
        n_init: int = 1,
    ) -> None:
        self.n_components = n_components
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.algorithm = algorithm
        self.random_state = random_state
        self.n_iter = n_iter
        self.tol = tol
        self.verbose = verbose
        self.params = params
        self.init_params = init_params
        self.implementation = implementation
        self.n_init = n_init

    # ------------------------------------------------------------ subclass hooks

    def _compute_log_likelihood(self, X: np.ndarray) -> np.ndarray:
        """Frame log-likelihoods (n_samples, n_components) of a subclass using the
        default emission family; the families compute their own."""
        raise NotImplementedError(
            f"{type(self).__name__} has no emission family: implement "
            "_compute_log_likelihood or set emission_family"
        )

    def _generate_sample_from_state(self, state: int, random_state: Any) -> Any:
        """One observation from ``state`` (a subclass using the default family)."""
        return ()

    # ------------------------------------------------------------ convergence monitor

    @property
    def monitor_(self) -> ConvergenceMonitor:
        """The convergence monitor of the last ``fit`` (its ``history`` and ``iter``).

        Before any ``fit``, a new monitor with this model's ``tol``, ``n_iter`` and
        ``verbose`` is returned but not kept (an unfitted model has no fitted
        attributes); a monitor assigned here is the one ``fit`` then resets and
        reports to, as in hmmlearn (e.g. a subclass with a stricter ``converged``).
        """
        monitor = self.__dict__.get("monitor_")
        if monitor is None:
            return ConvergenceMonitor(self.tol, self.n_iter, self.verbose)
        return monitor

    @monitor_.setter
    def monitor_(self, monitor: ConvergenceMonitor) -> None:
        self.__dict__["monitor_"] = monitor

    @monitor_.deleter
    def monitor_(self) -> None:
        self.__dict__.pop("monitor_", None)

    # ------------------------------------------------------------ hmmlearn's hooks

    def _validate_params(self) -> None:
        """Validate the hyperparameters (what ``fit`` checks first)."""
        validate_params(self)

    def _check(self) -> None:
        """Validate the model parameters (raises ``ValueError``), as hmmlearn's."""
        self.engine(self).check()

    def _check_and_set_n_features(self, X: Any) -> None:
        """Check ``X`` against ``n_features`` (set it when unset), as hmmlearn's."""
        family_of(self).check_and_set_n_features(X)

    def _init(self, X: Any, lengths: Any = None) -> None:
        """Initialise the parameters from ``X`` as ``fit`` does, as hmmlearn's."""
        em = self.engine(self)
        em.initialize(*em.input(X, lengths))

    # ------------------------------------------------------------ inference

    def _prepare(self, X: Any, lengths: Any) -> tuple[EmissionFamily, Any, np.ndarray]:
        check_is_fitted(self, self.engine.fitted_attribute)
        em = self.engine(self)
        em.check()
        family = em.family
        X, lengths = input_sequences(X, lengths, family)
        family.check_data(X)
        return family, family.prepare(X), lengths

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
        family, X, lengths = self._prepare(X, lengths)
        r = forward_backward(self, family, X, lengths, posteriors=True)
        return float(r.log_prob.sum()), r.gamma

    def score(self, X: Any, lengths: Any = None) -> float:
        """Log-likelihood of ``X`` (summed over sequences)."""
        family, X, lengths = self._prepare(X, lengths)
        return float(forward_backward(self, family, X, lengths, posteriors=False).log_prob.sum())

    def score_sequences(self, X: Any, lengths: Any = None) -> np.ndarray:
        """Log-likelihood of each sequence, from the same kernel call as ``score``.

        ``score`` is their sum; this keeps them apart, for classifying or flagging
        sequences (one model per class, or a threshold on the score).

        Parameters
        ----------
        X : array-like (n_samples, n_features), or a list of such arrays
        lengths : int array (n_sequences,), optional; sums to ``n_samples``

        Returns
        -------
        float64 (n_sequences,)
            ``log p(X_i)`` of sequence ``i`` under the model (``-inf`` for an impossible
            sequence).

        Examples
        --------
        >>> import numpy as np
        >>> from fastgen.hmm import GaussianHMM
        >>> X = np.random.default_rng(0).normal(size=(300, 2))
        >>> model = GaussianHMM(2, random_state=0).fit(X, [100, 200])
        >>> per_sequence = model.score_sequences(X, [100, 200])
        >>> per_sequence.shape
        (2,)
        >>> bool(np.isclose(per_sequence.sum(), model.score(X, [100, 200])))
        True
        """
        family, X, lengths = self._prepare(X, lengths)
        r = forward_backward(self, family, X, lengths, posteriors=False)
        return np.asarray(r.log_prob, dtype=np.float64).copy()

    def filter(self, X: Any, lengths: Any = None) -> np.ndarray:
        """Filtered state probabilities ``p(z_t | x_1..t)`` of every frame: no look-ahead.

        ``predict_proba`` conditions each frame on its whole sequence (smoothing), so it
        uses observations that come after the frame; ``filter`` uses only those up to it,
        as a model run live would.  At a sequence's last frame the two agree.

        Parameters
        ----------
        X : array-like (n_samples, n_features), or a list of such arrays
        lengths : int array (n_sequences,), optional; sums to ``n_samples``

        Returns
        -------
        float64 (n_samples, n_components)
            Rows sum to 1 (all zero in an impossible sequence from its first
            impossible frame on).

        Examples
        --------
        >>> import numpy as np
        >>> from fastgen.hmm import GaussianHMM
        >>> X = np.random.default_rng(0).normal(size=(200, 1))
        >>> model = GaussianHMM(2, random_state=0).fit(X)
        >>> filtered = model.filter(X)
        >>> bool(np.allclose(filtered[-1], model.predict_proba(X)[-1]))
        True
        >>> bool(np.allclose(model.filter(X[:50])[-1], filtered[49]))  # causal
        True
        """
        family, X, lengths = self._prepare(X, lengths)
        log_frame = _k.log_frames(family.emission_model(X))
        fwd = np.empty_like(log_frame)
        bounds = startidx(lengths)
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            _k.forward_log(self.startprob_, self.transmat_, log_frame[a:b], fwd[a:b])
        best = fwd.max(axis=1, keepdims=True)
        possible = np.isfinite(best[:, 0])
        out = np.zeros_like(fwd)
        out[possible] = np.exp(fwd[possible] - best[possible])
        out[possible] /= out[possible].sum(axis=1, keepdims=True)
        return out

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
        family, X, lengths = self._prepare(X, lengths)
        algorithm = algorithm or self.algorithm
        if algorithm not in DECODER_ALGORITHMS:
            raise ValueError(f"Unknown decoder {algorithm!r}")
        if algorithm == "viterbi":
            log_prob, states = viterbi(self, family, X, lengths)
            return float(log_prob.sum()), states
        gamma = forward_backward(self, family, X, lengths, posteriors=True).gamma
        return float(np.max(gamma, axis=1).sum()), np.argmax(gamma, axis=1)

    def predict(self, X: Any, lengths: Any = None) -> np.ndarray:
        """Most likely state of every sample, int64 (n_samples,)."""
        return self.decode(X, lengths)[1]

    # ------------------------------------------------------------ learning

    def fit(self, X: Any, lengths: Any = None) -> BaseHMM:
        """Estimate the parameters by EM (Baum-Welch), the best of ``n_init`` fits.

        Parameters
        ----------
        X : array-like (n_samples, n_features), or a list of such arrays
        lengths : int array (n_sequences,), optional; sums to ``n_samples``

        Returns
        -------
        self

        Examples
        --------
        >>> import numpy as np
        >>> from fastgen.hmm import GaussianHMM
        >>> X = np.random.default_rng(0).normal(size=(500, 2))
        >>> model = GaussianHMM(3, random_state=0, n_init=4).fit(X, [250, 250])
        >>> model.restart_objectives_.shape
        (4,)
        >>> bool(model.monitor_.history[-1] == model.restart_objectives_.max())
        True
        """
        return _restarts.fit(self, X, lengths)

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
        check_is_fitted(self, self.engine.fitted_attribute)
        em = self.engine(self)
        em.check()
        family = em.family
        rs = check_random_state(self.random_state if random_state is None else random_state)
        transmat_cdf = np.cumsum(self.transmat_, axis=1)
        if currstate is None:
            currstate = (np.cumsum(self.startprob_) > rs.rand()).argmax()
        states = [currstate]
        X = [family.sample(currstate, rs)]
        for _ in range(n_samples - 1):
            currstate = (transmat_cdf[currstate] > rs.rand()).argmax()
            states.append(currstate)
            X.append(family.sample(currstate, rs))
        return np.atleast_2d(X), np.array(states, dtype=int)

    def get_stationary_distribution(self) -> np.ndarray:
        """Stationary distribution of ``transmat_``, float64 (n_components,)."""
        from scipy import linalg  # imported where used: scipy.linalg takes ~0.3 s to import

        check_is_fitted(self, "transmat_")
        eigvals, eigvecs = linalg.eig(self.transmat_.T)
        eigvec = np.real_if_close(eigvecs[:, np.argmax(eigvals)])
        return eigvec / eigvec.sum()

    def _n_parameters(self) -> int:
        nc = self.n_components
        return nc - 1 + nc * (nc - 1) + sum(family_of(self).n_fit_scalars().values())

    def aic(self, X: Any, lengths: Any = None) -> float:
        """Akaike information criterion: ``-2 log L + 2 n_params``."""
        return -2 * self.score(X, lengths) + 2 * self._n_parameters()

    def bic(self, X: Any, lengths: Any = None) -> float:
        """Bayesian information criterion: ``-2 log L + n_params log(n_samples)``."""
        n = input_sequences(X, lengths, family_of(self))[0].shape[0]
        return -2 * self.score(X, lengths) + self._n_parameters() * np.log(n)
