"""Multinomial emissions: the family of :class:`MultinomialHMM`."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from fastgen._docstrings import fill
from fastgen.hmm._base import BaseHMM
from fastgen.hmm._docs import SHARED
from fastgen.hmm._family import EmissionFamily
from fastgen.hmm._util import (
    CountFrames,
    check_distribution,
    check_random_state,
    log_factorial,
    normalize,
    row_sums,
    stored_array,
    stored_count,
    validate_counts,
)

__all__ = ["MultinomialEmissions", "MultinomialHMM"]


def check_n_trials(n_trials: Any) -> None:
    """Raise ``ValueError`` unless ``n_trials`` is None, a non-negative integer or a 1-D
    array of them (one total per sample, as ``fit`` sets it from the data)."""
    if n_trials is None:
        return
    if isinstance(n_trials, bool):
        raise ValueError(f"n_trials must be a non-negative integer, got {n_trials!r}")
    if isinstance(n_trials, numbers.Integral):
        if n_trials < 0:
            raise ValueError(f"n_trials must be non-negative, got {n_trials!r}")
        return
    a = np.asarray(n_trials)
    integral = a.dtype.kind in "iu" or (
        a.dtype.kind == "f" and np.isfinite(a).all() and np.array_equal(a, np.floor(a))
    )
    if a.ndim != 1 or a.size == 0 or not integral or (a < 0).any():
        raise ValueError(
            "n_trials must be a non-negative integer or a 1-D array of them (one total "
            f"per sample), got {n_trials!r}"
        )


class MultinomialEmissions(EmissionFamily):
    """``n_trials`` draws per frame from ``emissionprob_[state]``, counted per feature.

    The frame log-likelihoods ``log n! - sum_i log x_i! + sum_i x_i log p_i`` (``n``
    the frame's total) go to the kernels as precomputed frames; the statistics
    (``obs = gamma.T @ X``) come from the posteriors.

    Parameters
    ----------
    model : BaseHMM
        The estimator the family is bound to: it reads the estimator's
        hyperparameters and reads and writes its fitted emission attributes.
    """

    letters = "e"
    parameters = {"e": "emissionprob_"}  # noqa: RUF012  (read-only class data)
    state_attributes = ("emissionprob_", "n_features")

    # ------------------------------------------------------------ data

    def validate_X(self, X: Any) -> np.ndarray:
        return validate_counts(X, type(self.model).__name__)

    def expected_totals(self, n_samples: int) -> Any:
        """What the rows of ``n_samples`` frames must sum to: ``n_trials``, or, when
        ``fit`` set it to one total per sample of other data, their common value."""
        n_trials = self.model.n_trials
        if n_trials is None:
            raise ValueError("n_trials must be set")
        if np.ndim(n_trials) == 0 or len(n_trials) == n_samples:
            return n_trials
        values = np.unique(n_trials)
        if values.size != 1:
            raise ValueError(
                f"n_trials holds {len(n_trials)} per-sample totals but X has {n_samples} "
                "samples: set n_trials to the number of trials of every sample"
            )
        return values[0]

    def check_totals(self, X: np.ndarray) -> None:
        """Raise ``ValueError`` unless every row of validated ``X`` sums to ``n_trials``."""
        totals = row_sums(X)
        expected = self.expected_totals(len(X))
        bad = np.flatnonzero(totals != expected)
        if bad.size:
            want = expected if np.ndim(expected) == 0 else np.asarray(expected)[bad[0]]
            raise ValueError(
                f"every sample's counts must add up to n_trials: sample {bad[0]} sums to "
                f"{totals[bad[0]]:g}, not {want} ({bad.size} such sample(s))"
            )

    def check_and_set_n_features(self, X: Any) -> None:
        """hmmlearn's check of a multinomial sample: counts (non-negative integers) with
        ``n_features`` columns, rows adding up to ``n_trials``; sets ``n_trials`` to
        the row totals when it is None, ``n_features`` when unset."""
        super().check_and_set_n_features(X)
        X = self.validate_X(X)
        if self.model.n_trials is None:
            self.model.n_trials = X.sum(axis=1).astype(np.int64)
        self.check_totals(X)

    def check_data(self, X: np.ndarray) -> None:
        nf = self.model.emissionprob_.shape[1]
        if X.shape[1] != nf:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self.model).__name__} is expecting "
                f"{nf} features"
            )
        self.check_totals(X)

    def prepare(self, X: Any) -> CountFrames:
        """The counts with ``log n! - sum(log(x!))`` per frame, computed once per fit."""
        if isinstance(X, CountFrames):
            return X
        return CountFrames(X, log_factorial(row_sums(X)) - row_sums(log_factorial(X)))

    # ------------------------------------------------------------ parameters

    def validate_params(self) -> None:
        check_n_trials(self.model.n_trials)

    def needs_data(self) -> bool:
        return self.model.n_trials is None

    def initialize(self, X: np.ndarray, lengths: np.ndarray, random_state: Any) -> None:
        m = self.model
        nf = X.shape[1]
        if not self.needs_init("e", "emissionprob_") and np.shape(m.emissionprob_)[-1] != nf:
            raise ValueError(
                f"X has {nf} features, but emissionprob_ has {np.shape(m.emissionprob_)[-1]}"
            )
        m.n_features = nf
        if m.n_trials is None:  # hmmlearn: the totals of the samples fitted
            m.n_trials = X.sum(axis=1).astype(np.int64)
        if self.needs_init("e", "emissionprob_"):
            # hmmlearn's draw: a fresh generator from an int seed
            rs = check_random_state(m.random_state)
            m.emissionprob_ = rs.rand(m.n_components, nf)
            normalize(m.emissionprob_, axis=1)

    def check(self) -> None:
        m = self.model
        em = np.atleast_2d(np.asarray(m.emissionprob_, dtype=np.float64))
        nf = getattr(m, "n_features", None)
        nf = em.shape[1] if nf is None else nf
        if em.shape != (m.n_components, nf):
            raise ValueError("emissionprob_ must have shape (n_components, n_features)")
        check_distribution(em, "emissionprob_")
        m.emissionprob_ = em
        m.n_features = nf
        if m.n_trials is None:
            raise ValueError("n_trials must be set")
        check_n_trials(m.n_trials)

    def check_state(self, state: dict) -> None:
        if "emissionprob_" in state:
            em = stored_array(state, "emissionprob_", (self.model.n_components, None))
            check_distribution(em, "emissionprob_")
            if "n_features" in state and stored_count(state, "n_features") != em.shape[1]:
                raise ValueError("n_features does not match emissionprob_")

    def is_fitted(self) -> bool:
        return "emissionprob_" in vars(self.model)

    def n_fit_scalars(self) -> dict[str, int]:
        return {"e": self.model.n_components * (self.model.n_features - 1)}

    # ------------------------------------------------------------ likelihood

    def log_likelihood(self, X: Any) -> np.ndarray:
        return self.prepare(X).log_likelihood(self.model.emissionprob_)

    # ------------------------------------------------------------ statistics, M-step

    def posterior_stats(self, X: Any, gamma: np.ndarray) -> dict:
        if not self.fits("e"):
            return {}
        return {"obs": self.prepare(X).weighted_counts(gamma)}

    def mstep(self, stats: dict) -> None:
        """hmmlearn's update, the expected counts normalised per state (no prior)."""
        if not self.fits("e"):
            return
        m = self.model
        obs = stats["obs"]
        total = obs.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            em = obs / total[:, None]
        m.emissionprob_ = np.where((total == 0)[:, None], m.emissionprob_, em)

    # ------------------------------------------------------------ sampling

    def sample(self, state: int, random_state: np.random.RandomState) -> np.ndarray:
        values = np.unique(self.model.n_trials)
        if values.size != 1:
            raise ValueError("For sampling, a single n_trials must be given")
        return random_state.multinomial(int(values[0]), self.model.emissionprob_[state])


@fill(**SHARED)
class MultinomialHMM(BaseHMM):
    """Hidden Markov model with multinomial emissions (hmmlearn's ``MultinomialHMM``).

    Every frame is a vector of counts: ``n_trials`` draws from the hidden state's
    distribution over ``n_features`` outcomes, counted per outcome.  Every method of
    the estimator API is documented on :class:`BaseHMM`.

    Parameters
    ----------
    {{n_components}}
    n_trials : int, array of int or None, default=None
        Number of draws per frame: every row of ``X`` must add up to it.  None: ``fit``
        sets it to the row totals of the data it fits (one per sample, as hmmlearn);
        sampling needs a single value.
    {{startprob_prior}}
    {{transmat_prior}}
    {{algorithm}}
    {{random_state}}
    {{n_iter}}
    {{tol}}
    {{verbose}}
    params : str, default="ste"
        Letters of the parameters that EM updates: "s" ``startprob_``, "t"
        ``transmat_``, "e" ``emissionprob_`` (initialised with uniform random rows,
        hmmlearn's draw).  Parameters whose letter is missing keep their values.
    {{init_params}}
    {{implementation}}
    {{n_init}}

    Attributes
    ----------
    n_features : int
        Number of outcomes (columns of ``X``).
    {{attr_startprob_}}
    {{attr_transmat_}}
    emissionprob_ : ndarray of shape (n_components, n_features)
        Probability of each outcome in each state (rows sum to 1).
    {{attr_fit_record}}

    See Also
    --------
    CategoricalHMM : One symbol per frame.
    PoissonHMM : Independent Poisson counts per feature.
    fastgen.hmm.select_n_components : Choose ``n_components`` by BIC or AIC.
    fastgen.hmm.HMMStream : Filter sequences chunk by chunk with a fitted model.
    fastgen.dask.fit_hmm : Fit the model by EM over a Dask DataFrame.

    Notes
    -----
    ``X`` holds non-negative integer counts (integer dtype, or floats holding
    integers) whose rows add up to ``n_trials``; anything else raises ``ValueError``.
    The M-step is hmmlearn's: the expected counts normalised per state, without a
    prior.  A state that receives no posterior mass keeps its ``emissionprob_`` row
    (hmmlearn: NaN).  hmmlearn logs a warning about its 0.3 API change on every
    construction; fastgen does not.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgen.hmm import MultinomialHMM
    >>> truth = MultinomialHMM(2, n_trials=20, init_params="", random_state=0)
    >>> truth.startprob_ = np.array([0.5, 0.5])
    >>> truth.transmat_ = np.array([[0.9, 0.1], [0.2, 0.8]])
    >>> truth.emissionprob_ = np.array([[0.7, 0.2, 0.1], [0.1, 0.2, 0.7]])
    >>> X, states = truth.sample(300)
    >>> X.sum(axis=1).min(), X.sum(axis=1).max()
    (np.int64(20), np.int64(20))
    >>> model = MultinomialHMM(2, n_trials=20, n_iter=30, random_state=0).fit(X)
    >>> model.emissionprob_.shape
    (2, 3)
    >>> accuracy = (model.predict(X) == states).mean()
    >>> bool(accuracy > 0.95 or accuracy < 0.05)
    True
    """

    emission_family = MultinomialEmissions

    def __init__(
        self,
        n_components: int = 1,
        n_trials: Any = None,
        startprob_prior: Any = 1.0,
        transmat_prior: Any = 1.0,
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
        self.n_trials = n_trials
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


MultinomialHMM.__module__ = "fastgen.hmm"
