"""Categorical emissions: the family of :class:`CategoricalHMM`."""

from __future__ import annotations

from typing import Any

import numpy as np

from fastgen._docstrings import fill
from fastgen._kernels import hmm as _k
from fastgen._validation import check_array
from fastgen.hmm._base import BaseHMM
from fastgen.hmm._docs import SHARED
from fastgen.hmm._family import EmissionFamily
from fastgen.hmm._util import check_distribution, normalize, stored_array

__all__ = ["CategoricalEmissions", "CategoricalHMM"]


class CategoricalEmissions(EmissionFamily):
    """One symbol per frame drawn from ``emissionprob_[state]`` (the kernels' table
    lookup; the E-step kernel counts the symbols).

    Parameters
    ----------
    model : BaseHMM
        The estimator the family is bound to: it reads the estimator's
        hyperparameters and reads and writes its fitted emission attributes.
    """

    letters = "e"
    symbols = True
    parameters = {"e": "emissionprob_"}
    state_attributes = ("emissionprob_",)
    dtype = np.int64

    # ------------------------------------------------------------ data

    def validate_X(self, X: Any) -> np.ndarray:
        name = type(self.model).__name__
        X = check_array(X, dtype=None, estimator_name=name)
        if X.shape[1] != 1 and X.dtype.kind in "iu":
            raise ValueError(f"{name} expects X of shape (n_samples, 1), got {X.shape}")
        self.check_symbols(X)
        return np.ascontiguousarray(X, dtype=np.int64)

    def check_symbols(self, X: np.ndarray) -> None:
        """Raise ``ValueError`` unless the array ``X`` holds non-negative integer
        symbols below ``n_features`` (when set)."""
        if X.dtype.kind not in "iu":
            raise ValueError(f"Symbols should be integers, got dtype {X.dtype}")
        if X.min() < 0:
            raise ValueError("Symbols should be nonnegative")
        nf = self.model.n_features
        if nf is not None and X.max() > nf - 1:
            raise ValueError(
                f"Largest symbol is {X.max()} but the model only emits symbols up to {nf - 1}"
            )

    def check_and_set_n_features(self, X: Any) -> None:
        """``n_features`` is the number of symbols: ``X.max() + 1`` when unset; symbols
        must be non-negative integers below a set ``n_features``."""
        X = np.asarray(X)
        self.check_symbols(X)
        if self.model.n_features is None:
            self.model.n_features = int(X.max()) + 1

    def check_data(self, X: np.ndarray) -> None:
        n_symbols = self.model.emissionprob_.shape[1]
        if X.max() >= n_symbols:
            raise ValueError(
                f"Largest symbol is {X.max()} but the model only emits symbols up to "
                f"{n_symbols - 1} (initialised from a sample? set n_features)"
            )

    # ------------------------------------------------------------ parameters

    def needs_data(self) -> bool:
        return self.model.n_features is None

    def initialize(self, X: np.ndarray, lengths: np.ndarray, random_state: Any) -> None:
        m = self.model
        if m.n_features is None:  # X is validated
            m.n_features = int(X.max()) + 1
        if self.needs_init("e", "emissionprob_"):
            m.emissionprob_ = random_state.rand(m.n_components, m.n_features)
            normalize(m.emissionprob_, axis=1)

    def check(self) -> None:
        m = self.model
        m.emissionprob_ = np.atleast_2d(np.asarray(m.emissionprob_, dtype=np.float64))
        if m.n_features is None:
            m.n_features = m.emissionprob_.shape[1]
        if m.emissionprob_.shape != (m.n_components, m.n_features):
            raise ValueError(f"emissionprob_ must have shape ({m.n_components}, {m.n_features})")
        check_distribution(m.emissionprob_, "emissionprob_")

    def check_state(self, state: dict) -> None:
        if "emissionprob_" in state:
            shape = (self.model.n_components, self.model.n_features)
            check_distribution(stored_array(state, "emissionprob_", shape), "emissionprob_")

    def is_fitted(self) -> bool:
        return "emissionprob_" in vars(self.model)

    def n_fit_scalars(self) -> dict[str, int]:
        return {"e": self.model.n_components * (self.model.n_features - 1)}

    # ------------------------------------------------------------ likelihood

    def log_likelihood(self, X: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.ascontiguousarray(np.log(self.model.emissionprob_.T)[X[:, 0]])

    def emission_model(self, X: np.ndarray) -> _k.EmissionArrays:
        with np.errstate(divide="ignore"):
            log_em = np.log(self.model.emissionprob_)
        return _k.emissions(_k.EMIT_CATEGORICAL, sym=X[:, 0], log_emissionprob=log_em)

    # ------------------------------------------------------------ statistics, M-step

    def kernel_stats_kind(self, X: np.ndarray) -> int:
        return _k.STATS_CATEGORICAL if self.fits("e") else _k.STATS_NONE

    def kernel_stats(self, r: _k.EStep) -> dict:
        return {"obs": r.obs} if self.fits("e") else {}

    def mstep(self, stats: dict) -> None:
        m = self.model
        if not self.fits("e"):
            return
        em = np.maximum(m.emissionprob_prior - 1 + stats["obs"], 0)
        empty = em.sum(axis=1) == 0
        em[empty] = m.emissionprob_[empty]
        normalize(em, axis=1)
        m.emissionprob_ = em

    # ------------------------------------------------------------ sampling

    def sample(self, state: int, random_state: np.random.RandomState) -> list:
        cdf = np.cumsum(self.model.emissionprob_[state, :])
        return [(cdf > random_state.rand()).argmax()]


@fill(**SHARED)
class CategoricalHMM(BaseHMM):
    """Hidden Markov model with categorical emissions (hmmlearn's ``CategoricalHMM``).

    Each frame is one symbol, an integer in ``[0, n_features)``, drawn from the
    hidden state's distribution ``emissionprob_[state]``; ``X`` holds the symbols
    with shape ``(n_samples, 1)``.  Every method of the estimator API is documented
    on :class:`BaseHMM`.

    Parameters
    ----------
    {{n_components}}
    {{startprob_prior}}
    {{transmat_prior}}
    emissionprob_prior : float or array of shape (n_components, n_features), default=1.0
        Concentrations of the Dirichlet prior on each row of ``emissionprob_``,
        applied to the expected symbol counts as ``transmat_prior`` is to the
        transitions (1.0: the maximum-likelihood update).  Keyword-only.
    n_features : int, optional
        Number of symbols.  None (default): ``fit`` sets it to ``X.max() + 1``, as
        hmmlearn does; set it when later data (or ``partial_fit`` chunks) may hold
        larger symbols.  Keyword-only.
    {{algorithm}}
    {{random_state}}
    {{n_iter}}
    {{tol}}
    {{verbose}}
    params : str, default="ste"
        Letters of the parameters that EM updates: "s" ``startprob_``, "t"
        ``transmat_``, "e" ``emissionprob_``.  Parameters whose letter is missing keep
        their values.
    {{init_params}}
    {{implementation}}
    {{n_init}}

    Attributes
    ----------
    {{attr_n_features_symbols}}
    {{attr_startprob_}}
    {{attr_transmat_}}
    emissionprob_ : ndarray of shape (n_components, n_features)
        Probability of each symbol in each state (rows sum to 1).
    {{attr_fit_record}}

    See Also
    --------
    VariationalCategoricalHMM : Categorical emissions fitted by variational inference.
    MultinomialHMM : Counts of several draws per frame.
    fastgen.hmm.select_n_components : Choose ``n_components`` by BIC or AIC.
    fastgen.hmm.HMMStream : Filter sequences chunk by chunk with a fitted model.
    fastgen.dask.fit_hmm : Fit the model by EM over a Dask DataFrame.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgen.hmm import CategoricalHMM
    >>> truth = CategoricalHMM(2, init_params="", random_state=0)
    >>> truth.startprob_ = np.array([0.5, 0.5])
    >>> truth.transmat_ = np.array([[0.95, 0.05], [0.05, 0.95]])
    >>> truth.emissionprob_ = np.array([[0.8, 0.1, 0.1], [0.1, 0.1, 0.8]])
    >>> X, states = truth.sample(500)
    >>> # EM finds local optima: keep the best of 8 restarts
    >>> model = CategoricalHMM(2, n_iter=50, n_init=8, random_state=0).fit(X)
    >>> model.n_features, model.emissionprob_.shape
    (3, (2, 3))
    >>> accuracy = (model.predict(X) == states).mean()
    >>> bool(accuracy > 0.9 or accuracy < 0.1)
    True
    """

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
        n_init: int = 1,
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
        self.n_init = n_init

    emission_family = CategoricalEmissions


CategoricalHMM.__module__ = "fastgen.hmm"
