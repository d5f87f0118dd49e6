"""Categorical emissions under Dirichlet posteriors: :class:`VariationalCategoricalHMM`."""

from __future__ import annotations

from typing import Any

import numpy as np

from fastgen._docstrings import fill
from fastgen._kernels import hmm as _k
from fastgen.hmm._categorical import CategoricalEmissions
from fastgen.hmm._docs import SHARED
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

    Parameters
    ----------
    model : BaseHMM
        The estimator the family is bound to: it reads the estimator's
        hyperparameters and reads and writes its fitted emission attributes.
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


@fill(**SHARED)
class VariationalCategoricalHMM(VariationalHMM):
    """Categorical HMM fitted by variational inference (hmmlearn's
    ``VariationalCategoricalHMM``).

    Dirichlet priors and posteriors over ``startprob_``, the rows of ``transmat_`` and
    of ``emissionprob_``; ``fit`` maximises the evidence lower bound, which ``monitor_``
    records.  ``X`` holds non-negative integer symbols, shape ``(n_samples, 1)``.
    Every method of the estimator API is documented on :class:`BaseHMM`; ``score``,
    ``decode`` and the others use the posterior means.

    Parameters
    ----------
    {{n_components}}
    {{startprob_prior_variational}}
    {{transmat_prior_variational}}
    emissionprob_prior : float or array of shape (n_components, n_features), optional
        Concentrations of the Dirichlet prior on each row of ``emissionprob_``; the
        posterior is this prior plus the expected symbol counts.  None (default):
        ``1 / n_features``.
    n_features : int, optional
        Number of symbols.  None (default): ``fit`` sets it to ``X.max() + 1``.
    {{algorithm}}
    random_state : int, numpy.random.RandomState or None, default=None
        Source of the random draws of ``fit``'s initialisation (Dirichlet draws of the
        starting posteriors of the chain and the emissions) and of ``sample`` when it is
        given no generator.  An int makes fits reproducible; None uses NumPy's global
        generator.
    {{n_iter_variational}}
    {{tol_variational}}
    {{verbose_variational}}
    params : str, default="ste"
        Letters of the parameters that EM updates: "s" the start distribution, "t" the
        transitions, "e" the emissions.  Parameters whose letter is missing keep their
        values.
    init_params : str, default="ste"
        Letters of the parameters that ``fit`` initialises before EM (same letters as
        ``params``).  A parameter whose letter is missing starts from the value set on
        the model; one that is not set is initialised anyway.  A letter initialises the
        prior and the posterior of its parameter together.
    {{implementation}}
    {{n_init_variational}}

    Attributes
    ----------
    {{attr_n_features_symbols}}
    startprob_prior_ : ndarray of shape (n_components,)
        Dirichlet prior on ``startprob_``, as used by ``fit``.
    startprob_posterior_ : ndarray of shape (n_components,)
        Dirichlet posterior on ``startprob_``.
    transmat_prior_ : ndarray of shape (n_components, n_components)
        Dirichlet priors on the rows of ``transmat_``.
    transmat_posterior_ : ndarray of shape (n_components, n_components)
        Dirichlet posteriors on the rows of ``transmat_``.
    emissionprob_prior_ : ndarray of shape (n_components, n_features)
        Dirichlet priors on the rows of ``emissionprob_``.
    emissionprob_posterior_ : ndarray of shape (n_components, n_features)
        Dirichlet posteriors on the rows of ``emissionprob_``.
    {{attr_startprob_variational}}
    {{attr_transmat_variational}}
    emissionprob_ : ndarray of shape (n_components, n_features)
        Posterior mean of the emission probabilities.  These three point estimates
        are what ``score``, ``decode``, ``predict`` and ``sample`` use.
    {{attr_fit_record_variational}}

    See Also
    --------
    CategoricalHMM : The same model fitted by maximum likelihood (EM).
    VariationalGaussianHMM : Gaussian emissions fitted by variational inference.
    fastgen.hmm.select_n_components : Choose ``n_components`` by BIC or AIC.
    fastgen.hmm.HMMStream : Filter sequences chunk by chunk with a fitted model.
    fastgen.dask.fit_hmm : Fit the model by EM over a Dask DataFrame.

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
