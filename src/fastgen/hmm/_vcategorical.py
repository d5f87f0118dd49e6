"""Categorical emissions under Dirichlet posteriors: :class:`VariationalCategoricalHMM`."""

from __future__ import annotations

from typing import Any

import numpy as np

from fastgen._kernels import hmm as _k
from fastgen.hmm._categorical import CategoricalEmissions
from fastgen.hmm._util import check_random_state
from fastgen.hmm._variational import (
    CHAIN_STATE,
    VariationalEmissions,
    VariationalHMM,
    dirichlet_expected_log,
    dirichlet_kl,
    positive_array,
    prior_value,
    row_means,
    stored_positive,
)

__all__ = ["VariationalCategoricalEmissions", "VariationalCategoricalHMM"]


class VariationalCategoricalEmissions(VariationalEmissions, CategoricalEmissions):
    """Dirichlet posteriors over the rows of ``emissionprob_``.

    The E-step runs the kernels' categorical table with ``E[log emissionprob]`` (rows
    summing to less than 1), whose symbol counts the kernel accumulates; ``score`` and
    friends use ``emissionprob_``, the posterior mean (as :class:`CategoricalEmissions`).
    """

    state_attributes = (
        *CHAIN_STATE, "emissionprob_", "emissionprob_prior_", "emissionprob_posterior_",
    )  # fmt: skip
    variational_attributes = {"e": ("emissionprob_prior_", "emissionprob_posterior_")}
    derived_attributes = ("emissionprob_",)

    # ------------------------------------------------------------ parameters

    def initialize(self, X: np.ndarray, lengths: np.ndarray, random_state: Any) -> None:
        """hmmlearn's start: prior ``emissionprob_prior`` (default ``1 / n_features``),
        posterior rows drawn from it (a generator made afresh from ``random_state``, as
        hmmlearn) and scaled to ``n_samples / n_components`` counts each."""
        m = self.model
        if m.n_features is None:
            m.n_features = int(X.max()) + 1
        if not self.needs_init_any("e"):
            return
        nc, nf = m.n_components, m.n_features
        prior = prior_value(m.emissionprob_prior, 1.0 / nf, "emissionprob_prior", (nc, nf))
        rs = check_random_state(m.random_state)
        if np.ndim(m.emissionprob_prior) == 0:  # hmmlearn's draw: one call for every row
            posterior = rs.dirichlet(prior[0], size=nc)
        else:
            posterior = np.array([rs.dirichlet(row) for row in prior])
        m.emissionprob_prior_ = prior
        m.emissionprob_posterior_ = posterior * lengths.sum() / nc

    def check_posteriors(self) -> None:
        m = self.model
        for name in self.variational_attributes["e"]:
            if not hasattr(m, name):
                raise ValueError(f"{name} must be set before fitting without 'e' in init_params")
        posterior = np.atleast_2d(np.asarray(m.emissionprob_posterior_, dtype=np.float64))
        if m.n_features is None and posterior.ndim == 2:
            m.n_features = posterior.shape[1]
        shape = (m.n_components, m.n_features)
        m.emissionprob_posterior_ = positive_array(posterior, "emissionprob_posterior_", shape)
        m.emissionprob_prior_ = positive_array(
            np.atleast_2d(m.emissionprob_prior_), "emissionprob_prior_", shape
        )

    def check_state(self, state: dict) -> None:
        super().check_state(state)
        shape = (self.model.n_components, self.model.n_features)
        for name in self.variational_attributes["e"]:
            if name in state:
                stored_positive(state, name, shape)

    def is_fitted(self) -> bool:
        return all(name in vars(self.model) for name in self.state_attributes)

    def derive(self, only_missing: bool = False) -> None:
        m = self.model
        if not (only_missing and "emissionprob_" in vars(m)):
            m.emissionprob_ = row_means(m.emissionprob_posterior_)

    # ------------------------------------------------------------ E-step, M-step, bound

    def expected_emission_model(self, X: np.ndarray) -> _k.EmissionArrays:
        log_em = dirichlet_expected_log(self.model.emissionprob_posterior_)
        return _k.emissions(_k.EMIT_CATEGORICAL, sym=X[:, 0], log_emissionprob=log_em)

    def mstep(self, stats: dict) -> None:
        if not self.fits("e"):
            return
        m = self.model
        m.emissionprob_posterior_ = m.emissionprob_prior_ + stats["obs"]
        m.emissionprob_ = row_means(m.emissionprob_posterior_)

    def kl_divergence(self) -> float:
        m = self.model
        return dirichlet_kl(m.emissionprob_posterior_, m.emissionprob_prior_)


class VariationalCategoricalHMM(VariationalHMM):
    """Categorical HMM fitted by variational inference (hmmlearn's
    ``VariationalCategoricalHMM``).

    Dirichlet priors and posteriors over ``startprob_``, the rows of ``transmat_`` and
    of ``emissionprob_``; ``fit`` maximises the evidence lower bound, which ``monitor_``
    records.  ``X`` holds non-negative integer symbols, shape ``(n_samples, 1)``.

    Parameters
    ----------
    n_components : int, default=1
    startprob_prior, transmat_prior, emissionprob_prior : float or array, optional
        Dirichlet priors (concentrations) of ``startprob_``, the rows of ``transmat_``
        and of ``emissionprob_``; default ``1 / n_components`` (``1 / n_features`` for
        the emissions).
    n_features : int, optional
        Number of symbols; ``fit`` sets it to ``X.max() + 1`` when None.
    algorithm : {"viterbi", "map"}, default="viterbi"
    random_state : int, RandomState or None
    n_iter : int, default=100
    tol : float, default=1e-6
        EM stops when the lower bound gains less than this.
    verbose : bool, default=False
    params, init_params : str, default="ste"
        ``s`` start, ``t`` transitions, ``e`` emissions: updated by EM / initialised by
        ``fit`` (a letter's prior and posterior together; missing ones are always
        initialised).
    implementation : {"log", "scaling"}, default="log"
    n_init : int, default=1
        Random restarts of ``fit``, as :class:`GaussianHMM`.

    Attributes
    ----------
    n_features : int
    startprob_prior_, startprob_posterior_ : float64 (n_components,)
    transmat_prior_, transmat_posterior_ : float64 (n_components, n_components)
    emissionprob_prior_, emissionprob_posterior_ : float64 (n_components, n_features)
    startprob_, transmat_, emissionprob_ : float64
        The posterior means: what ``score``, ``decode``, ``predict`` and ``sample`` use.
    monitor_ : ConvergenceMonitor
        Its ``history`` holds the lower bound of every iteration.
    restart_objectives_ : float64 (n_restarts,)
        As :class:`GaussianHMM`.

    Notes
    -----
    The point estimates are derived from the posteriors when ``fit`` starts and after
    every M-step (hmmlearn sets them only in the M-step of the letters in ``params``),
    and by ``score`` & co. when they are not set.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgen.hmm import VariationalCategoricalHMM
    >>> rng = np.random.RandomState(0)
    >>> X = np.concatenate([rng.choice(3, (100, 1), p=[0.8, 0.1, 0.1]),
    ...                     rng.choice(3, (100, 1), p=[0.1, 0.1, 0.8])])
    >>> model = VariationalCategoricalHMM(4, n_iter=50, random_state=0).fit(X, [100, 100])
    >>> model.emissionprob_posterior_.shape
    (4, 3)
    >>> bool(np.diff(model.monitor_.history).min() > -1e-6)  # the bound never drops
    True
    """

    emission_family = VariationalCategoricalEmissions

    def __init__(
        self,
        n_components: int = 1,
        startprob_prior: Any = None,
        transmat_prior: Any = None,
        emissionprob_prior: Any = None,
        n_features: int | None = None,
        algorithm: str = "viterbi",
        random_state: Any = None,
        n_iter: int = 100,
        tol: float = 1e-6,
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


VariationalCategoricalHMM.__module__ = "fastgen.hmm"
