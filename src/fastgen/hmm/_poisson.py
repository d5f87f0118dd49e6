"""Poisson emissions: the family of :class:`PoissonHMM`."""

from __future__ import annotations

from typing import Any

import numpy as np

from fastgen._docstrings import fill
from fastgen.hmm._base import BaseHMM
from fastgen.hmm._docs import SHARED
from fastgen.hmm._family import EmissionFamily
from fastgen.hmm._util import (
    CountFrames,
    check_random_state,
    log_factorial,
    row_sums,
    stored_array,
    stored_count,
    validate_counts,
)

__all__ = ["PoissonEmissions", "PoissonHMM"]

class PoissonEmissions(EmissionFamily):
    """Independent Poisson counts per feature with rates ``lambdas_[state]``.

    The frame log-likelihoods ``X @ log(lambdas_).T - lambdas_.sum(1) - log(X!)`` go to
    the kernels as precomputed frames; the statistics (``post``, ``obs = gamma.T @ X``)
    come from the posteriors.

    Parameters
    ----------
    model : BaseHMM
        The estimator the family is bound to: it reads the estimator's
        hyperparameters and reads and writes its fitted emission attributes.
    """

    letters = "l"
    parameters = {"l": "lambdas_"}
    state_attributes = ("lambdas_", "n_features")

    # ------------------------------------------------------------ data

    def validate_X(self, X: Any) -> np.ndarray:
        return validate_counts(X, type(self.model).__name__)

    def check_data(self, X: np.ndarray) -> None:
        nf = self.model.lambdas_.shape[1]
        if X.shape[1] != nf:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self.model).__name__} is expecting "
                f"{nf} features"
            )

    def prepare(self, X: Any) -> CountFrames:
        """The counts with ``-sum(log(x!))`` per frame, computed once per fit."""
        if isinstance(X, CountFrames):
            return X
        return CountFrames(X, -row_sums(log_factorial(X)))

    # ------------------------------------------------------------ parameters

    def needs_data(self) -> bool:
        return self.needs_init("l", "lambdas_")

    def initialize(self, X: np.ndarray, lengths: np.ndarray, random_state: Any) -> None:
        m = self.model
        nf = X.shape[1]
        if not self.needs_init("l", "lambdas_") and np.shape(m.lambdas_)[-1] != nf:
            raise ValueError(f"X has {nf} features, but lambdas_ has {np.shape(m.lambdas_)[-1]}")
        m.n_features = nf
        if self.needs_init("l", "lambdas_"):
            # method of moments, hmmlearn's draw (a fresh generator from an int seed)
            mean, var = X.mean(), X.var()
            shape = (m.n_components, nf)
            if mean > 0 and var > 0:
                rs = check_random_state(m.random_state)
                m.lambdas_ = rs.gamma(shape=mean**2 / var, scale=var / mean, size=shape)
            else:  # constant counts: the gamma draw is undefined
                m.lambdas_ = np.full(shape, float(mean))

    def check(self) -> None:
        m = self.model
        lambdas = np.atleast_2d(np.asarray(m.lambdas_, dtype=np.float64))
        nf = getattr(m, "n_features", None)
        nf = lambdas.shape[1] if nf is None else nf
        if lambdas.shape != (m.n_components, nf):
            raise ValueError("lambdas_ must have shape (n_components, n_features)")
        if not (np.isfinite(lambdas).all() and (lambdas >= 0).all()):
            raise ValueError("lambdas_ must be finite and non-negative")
        m.lambdas_ = lambdas
        m.n_features = nf

    def check_state(self, state: dict) -> None:
        if "lambdas_" in state:
            shape = (self.model.n_components, None)
            lambdas = stored_array(state, "lambdas_", shape, finite=True)
            if (lambdas < 0).any():
                raise ValueError("lambdas_ must be non-negative")
            if "n_features" in state and stored_count(state, "n_features") != lambdas.shape[1]:
                raise ValueError("n_features does not match lambdas_")

    def is_fitted(self) -> bool:
        return "lambdas_" in vars(self.model)

    def n_fit_scalars(self) -> dict[str, int]:
        return {"l": self.model.n_components * self.model.n_features}

    # ------------------------------------------------------------ likelihood

    def log_likelihood(self, X: Any) -> np.ndarray:
        lambdas = self.model.lambdas_
        return self.prepare(X).log_likelihood(lambdas, -lambdas.sum(axis=1))

    # ------------------------------------------------------------ statistics, M-step

    def posterior_stats(self, X: Any, gamma: np.ndarray) -> dict:
        if not self.fits("l"):
            return {}
        return {"post": gamma.sum(axis=0), "obs": self.prepare(X).weighted_counts(gamma)}

    def mstep(self, stats: dict) -> None:
        """hmmlearn's update: ``(lambdas_prior + n * y_bar) / (lambdas_weight + n)`` with
        ``y_bar = obs / post`` per state and ``n`` the total posterior mass."""
        if not self.fits("l"):
            return
        m = self.model
        post = stats["post"]
        n = post.sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            y_bar = stats["obs"] / post[:, None]
            lambdas = (m.lambdas_prior + n * y_bar) / (m.lambdas_weight + n)
        m.lambdas_ = np.where((post == 0)[:, None], m.lambdas_, lambdas)

    # ------------------------------------------------------------ sampling

    def sample(self, state: int, random_state: np.random.RandomState) -> np.ndarray:
        return random_state.poisson(self.model.lambdas_[state])


@fill(**SHARED)
class PoissonHMM(BaseHMM):
    """Hidden Markov model with Poisson emissions (hmmlearn's ``PoissonHMM``).

    Every feature of a frame is an independent Poisson count whose rate depends on
    the hidden state.  Every method of the estimator API is documented on
    :class:`BaseHMM`.

    Parameters
    ----------
    {{n_components}}
    {{startprob_prior}}
    {{transmat_prior}}
    lambdas_prior : float or array, default=0.0
        Shape of the gamma prior on ``lambdas_``, as hmmlearn applies it: the update
        is ``(lambdas_prior + n * y_bar) / (lambdas_weight + n)`` with ``y_bar`` the
        state's posterior mean count and ``n`` its total posterior mass.
    lambdas_weight : float or array, default=0.0
        Rate of that gamma prior (the denominator's added mass); with
        ``lambdas_prior=0`` too the update is the maximum-likelihood one.
    {{algorithm}}
    random_state : int, numpy.random.RandomState or None, default=None
        Source of the random draws of ``fit``'s initialisation (Dirichlet draws of the
        chain, the gamma draw of ``lambdas_``) and of ``sample`` when it is given no
        generator.  An int makes fits reproducible; None uses NumPy's global generator.
    {{n_iter}}
    {{tol}}
    {{verbose}}
    params : str, default="stl"
        Letters of the parameters that EM updates: "s" ``startprob_``, "t"
        ``transmat_``, "l" ``lambdas_`` (which starts from a gamma draw matching the
        mean and variance of ``X``, hmmlearn's method of moments).  Parameters whose
        letter is missing keep their values.
    init_params : str, default="stl"
        Letters of the parameters that ``fit`` initialises before EM (same letters as
        ``params``).  A parameter whose letter is missing starts from the value set on
        the model; one that is not set is initialised anyway.
    {{implementation}}
    {{n_init}}

    Attributes
    ----------
    {{attr_n_features}}
    {{attr_startprob_}}
    {{attr_transmat_}}
    lambdas_ : ndarray of shape (n_components, n_features)
        Poisson rate of every feature in every state.
    {{attr_fit_record}}

    See Also
    --------
    MultinomialHMM : Counts of a fixed number of draws per frame.
    GaussianHMM : HMM with Gaussian emissions.
    fastgen.hmm.select_n_components : Choose ``n_components`` by BIC or AIC.
    fastgen.hmm.HMMStream : Filter sequences chunk by chunk with a fitted model.
    fastgen.dask.fit_hmm : Fit the model by EM over a Dask DataFrame.

    Notes
    -----
    ``X`` holds non-negative integer counts (integer dtype, or floats holding
    integers); anything else raises ``ValueError``.  A state that receives no
    posterior mass keeps its ``lambdas_`` (hmmlearn: NaN).

    Examples
    --------
    >>> import numpy as np
    >>> from fastgen.hmm import PoissonHMM
    >>> truth = PoissonHMM(2, init_params="", random_state=0)
    >>> truth.startprob_ = np.array([0.5, 0.5])
    >>> truth.transmat_ = np.array([[0.9, 0.1], [0.2, 0.8]])
    >>> truth.lambdas_ = np.array([[1.0, 8.0], [6.0, 0.5]])
    >>> X, states = truth.sample(500)
    >>> model = PoissonHMM(2, n_iter=50, random_state=0).fit(X)
    >>> model.lambdas_.shape
    (2, 2)
    >>> bool((model.predict(X) == states).mean() > 0.9 or (model.predict(X) != states).mean() > 0.9)
    True
    """

    emission_family = PoissonEmissions

    def __init__(
        self,
        n_components: int = 1,
        startprob_prior: Any = 1.0,
        transmat_prior: Any = 1.0,
        lambdas_prior: Any = 0.0,
        lambdas_weight: Any = 0.0,
        algorithm: str = "viterbi",
        random_state: Any = None,
        n_iter: int = 10,
        tol: float = 1e-2,
        verbose: bool = False,
        params: str = "stl",
        init_params: str = "stl",
        implementation: str = "log",
        n_init: int = 1,
    ) -> None:
        self.n_components = n_components
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.lambdas_prior = lambdas_prior
        self.lambdas_weight = lambdas_weight
        self.algorithm = algorithm
        self.random_state = random_state
        self.n_iter = n_iter
        self.tol = tol
        self.verbose = verbose
        self.params = params
        self.init_params = init_params
        self.implementation = implementation
        self.n_init = n_init


PoissonHMM.__module__ = "fastgen.hmm"
