"""The interface every emission family implements.

An HMM estimator is the chain (``startprob_``, ``transmat_``, their priors), run by
the engine (:mod:`fastgen.hmm._engine`), plus one emission family: a subclass of
:class:`EmissionFamily` named by the estimator's ``emission_family`` class attribute.
The family is a view bound to the estimator: it reads the estimator's hyperparameters
(``params``, ``init_params``, priors, ...) and reads and writes its fitted emission
attributes (``means_``, ``emissionprob_``, ``lambdas_``, ...), which stay ordinary
estimator attributes as scikit-learn and hmmlearn expect.  Nothing else in the package
knows the emission attributes: the engine drives EM, scoring, decoding and sampling,
and the model file checks a restored estimator, only through these methods.

A family supplies

* its data: :meth:`~EmissionFamily.validate_X` (input checks and conversion),
  :meth:`~EmissionFamily.check_data` (``X`` fits the fitted model) and
  :meth:`~EmissionFamily.prepare` (per-fit precomputation, optional);
* its parameters: :meth:`~EmissionFamily.validate_params` (hyperparameters),
  :meth:`~EmissionFamily.initialize` / :meth:`~EmissionFamily.needs_data`,
  :meth:`~EmissionFamily.check` (a full consistency check, normalising dtypes),
  :meth:`~EmissionFamily.check_state` (the model file's checks of restored arrays) and
  :meth:`~EmissionFamily.n_fit_scalars`;
* its likelihood: :meth:`~EmissionFamily.log_likelihood` and
  :meth:`~EmissionFamily.emission_model` (what the compiled kernels evaluate; by default
  the precomputed log-likelihoods, ``EMIT_LOG_FRAMES``);
* its statistics and M-step: either :meth:`~EmissionFamily.kernel_stats_kind` with
  :meth:`~EmissionFamily.kernel_stats` (accumulated inside the E-step kernel), or
  :meth:`~EmissionFamily.posterior_stats` (from the posteriors, in NumPy); then
  :meth:`~EmissionFamily.mstep` (with its priors);
* :meth:`~EmissionFamily.sample` (one draw from a state).

Statistics are a plain ``dict`` of arrays that add up elementwise across partitions of
the sequences (the engine's :class:`~fastgen.hmm._engine.SufficientStats` sums them
without knowing the keys): a family must emit the same keys for every partition.
Statistics computed about parameter values (a scatter about the current means) name
them in :meth:`~EmissionFamily.stats_anchor` and move with
:meth:`~EmissionFamily.move_stats`, so ``partial_fit`` mixes statistics of different
E-steps exactly.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from fastgen._kernels import hmm as _k

__all__ = ["EmissionFamily"]


class EmissionFamily(ABC):
    """Emission model of one kind of HMM, bound to the estimator holding its parameters.

    Parameters
    ----------
    model : BaseHMM
        The estimator; the family reads its hyperparameters and reads/writes its fitted
        emission attributes.

    Attributes
    ----------
    letters : str
        The ``params`` / ``init_params`` letters of the emission parameters.
    parameters : dict of str to str
        The estimator attribute each letter names (``{"e": "emissionprob_"}``): ``fit``
        warns that a set attribute will be overwritten when its letter is in
        ``init_params``.
    state_attributes : tuple of str
        The estimator attributes the family owns, as a model file stores them.
    dtype : numpy dtype
        The dtype of validated ``X``.
    symbols : bool
        ``X`` is one column of category symbols (``n_features`` counts the symbols, not
        the columns); otherwise ``X`` has ``n_features`` columns.
    """

    letters: ClassVar[str] = ""
    parameters: ClassVar[dict[str, str]] = {}
    state_attributes: ClassVar[tuple[str, ...]] = ()
    dtype: ClassVar[type] = np.float64
    symbols: ClassVar[bool] = False

    def __init__(self, model: Any) -> None:
        self.model = model

    # ------------------------------------------------------------ helpers

    def fits(self, letter: str) -> bool:
        """Whether EM updates the parameter ``letter`` (it is in ``params``)."""
        return letter in self.model.params

    def needs_init(self, letter: str, name: str) -> bool:
        """Whether ``fit`` initialises attribute ``name``: its ``letter`` is in
        ``init_params`` or it is not set."""
        return letter in self.model.init_params or not hasattr(self.model, name)

    # ------------------------------------------------------------ data

    @abstractmethod
    def validate_X(self, X: Any) -> np.ndarray:
        """One sequence block as the 2-D array the family computes with; raises
        ``ValueError`` for input it cannot model."""

    def check_and_set_n_features(self, X: Any) -> None:
        """Check ``X`` (array-like) as :meth:`validate_X` does and against the model's
        ``n_features`` (hmmlearn's ``_check_and_set_n_features``): raise ``ValueError``
        when they differ, set it when the model has none."""
        X = self.validate_X(X)
        nf = getattr(self.model, "n_features", None)
        if nf is not None and nf != X.shape[1]:
            raise ValueError(f"X has {X.shape[1]} features, but the model expects {nf}")
        self.model.n_features = X.shape[1]

    def check_data(self, X: np.ndarray) -> None:  # noqa: B027  (optional hook)
        """Raise ``ValueError`` when validated ``X`` does not fit the checked model."""

    def prepare(self, X: np.ndarray) -> Any:
        """Data for repeated evaluation (an E-step per EM iteration): ``X`` itself by
        default; a family may precompute parameter-free terms once per fit.  Whatever
        it returns is what the likelihood and statistics methods receive as ``X``."""
        return X

    # ------------------------------------------------------------ parameters

    def validate_params(self) -> None:  # noqa: B027  (optional hook)
        """Validate the family's hyperparameters (raises ``ValueError``)."""

    @abstractmethod
    def needs_data(self) -> bool:
        """Whether :meth:`initialize` reads the values of ``X`` (not only its shape)."""

    @abstractmethod
    def initialize(self, X: np.ndarray, lengths: np.ndarray, random_state: Any) -> None:
        """Set the emission parameters that ``init_params`` names (or that are missing)
        from the validated ``X``; ``random_state`` has drawn the chain's parameters."""

    @abstractmethod
    def check(self) -> None:
        """Validate the emission parameters, converting them to their float64 arrays."""

    def check_state(self, state: dict) -> None:  # noqa: B027  (optional hook)
        """Checks of a model file's restored attributes (``state``: the estimator's
        ``vars``) before :meth:`check`, which runs once the model is complete; raises
        ``ValueError``.  By default, :meth:`check` does it all."""

    @abstractmethod
    def is_fitted(self) -> bool:
        """Whether every emission parameter is set."""

    @abstractmethod
    def n_fit_scalars(self) -> dict[str, int]:
        """Free scalars per emission letter (for AIC/BIC and the degenerate-fit warning)."""

    # ------------------------------------------------------------ likelihood

    @abstractmethod
    def log_likelihood(self, X: Any) -> np.ndarray:
        """Emission log-likelihoods, float64 (n_samples, n_components)."""

    def emission_model(self, X: Any) -> _k.EmissionArrays:
        """What the kernels evaluate (``fastgen._kernels.hmm.emissions``)."""
        return _k.emissions(_k.EMIT_LOG_FRAMES, log_frame=self.log_likelihood(X))

    # ------------------------------------------------------------ statistics, M-step

    def kernel_stats_kind(self, X: Any) -> int | None:
        """Statistics the E-step kernel accumulates (``STATS_*``), or None for
        :meth:`posterior_stats` from the posteriors."""
        return None

    def kernel_stats(self, r: _k.EStep) -> dict:
        """The family's statistics from the kernel's E-step result."""
        return {}

    def posterior_stats(self, X: Any, gamma: np.ndarray) -> dict:
        """The family's statistics from the posteriors ``gamma`` (n_samples, n_components)."""
        return {}

    def stats_anchor(self) -> dict:
        """The parameter values the family's statistics are computed about, when they
        are not plain sums over frames (``GMMHMM``: the scatter about the E-step's
        means); empty by default.  ``partial_fit`` keeps the anchor of its running
        statistics and moves them with :meth:`move_stats` before mixing in a chunk's."""
        return {}

    def move_stats(self, stats: dict, anchor: dict) -> dict:
        """``stats`` computed about ``anchor`` (a :meth:`stats_anchor`), re-expressed
        about the current parameters' anchor; raises ``ValueError`` for an anchor that
        does not fit the model.  The default has no anchor: ``stats`` as they are."""
        return stats

    @abstractmethod
    def mstep(self, stats: dict) -> None:
        """Update the parameters in ``params`` from summed statistics (with priors);
        a state with no posterior mass keeps its parameters."""

    # ------------------------------------------------------------ sampling

    @abstractmethod
    def sample(self, state: int, random_state: np.random.RandomState) -> Any:
        """One observation drawn from ``state``."""
