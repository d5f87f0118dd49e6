"""Variational (Bayesian) EM: the engine variant and the layer the families share.

A variational HMM keeps Dirichlet posteriors over ``startprob_`` and the rows of
``transmat_`` (``startprob_posterior_``, ``transmat_posterior_``, with their priors
``startprob_prior_``, ``transmat_prior_``) and conjugate posteriors over its emission
parameters.  One iteration of variational EM is Baum-Welch's with three changes, each a
named hook of :class:`~fastgen.hmm._engine.BaumWelch` that
:class:`VariationalBaumWelch` overrides (the loop, the kernels and the sufficient
statistics stay the engine's):

* E-step (:meth:`~VariationalBaumWelch.estep_chain`,
  :meth:`~VariationalBaumWelch.estep_emissions`): forward-backward with the
  sub-normalised parameters ``exp(E[log p])`` under the posteriors, e.g.
  ``exp(digamma(a) - digamma(a.sum()))`` for a Dirichlet ``a`` (rows need not sum to 1:
  the kernels take any non-negative start and transition arrays);
* M-step (:meth:`~VariationalBaumWelch.mstep_chain` and the family's ``mstep``): the
  posteriors become prior + expected counts; the point estimates ``startprob_``,
  ``transmat_``, ``emissionprob_`` / ``means_`` / ``covars_`` (used by ``score``,
  ``decode`` and ``sample``, as hmmlearn) are derived from them;
* monitor (:meth:`~VariationalBaumWelch.objective`): the evidence lower bound, the
  E-step's log-likelihood minus ``KL(posterior || prior)`` of every parameter.

A family of a variational model implements :class:`VariationalEmissions` besides
:class:`~fastgen.hmm._family.EmissionFamily`.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np

from fastgen._kernels import hmm as _k
from fastgen.hmm._base import BaseHMM
from fastgen.hmm._engine import BaumWelch, SufficientStats, check_model, validate_params
from fastgen.hmm._family import EmissionFamily
from fastgen.hmm._util import digamma, gammaln, stored_array

__all__ = [
    "CHAIN_STATE", "VariationalBaumWelch", "VariationalEmissions", "VariationalHMM",
    "dirichlet_expected_log", "dirichlet_kl", "positive_array", "prior_value", "row_means",
    "stored_positive",
]  # fmt: skip

#: the chain's variational attributes, as a model file stores them
CHAIN_STATE = ("startprob_prior_", "startprob_posterior_", "transmat_prior_", "transmat_posterior_")


# --------------------------------------------------------------------------- Dirichlet


def dirichlet_expected_log(alpha: np.ndarray) -> np.ndarray:
    """``E[log p]`` under Dirichlet(``alpha``) along the last axis:
    ``digamma(alpha) - digamma(alpha.sum())``."""
    return digamma(alpha) - digamma(alpha.sum(axis=-1, keepdims=True))


def dirichlet_kl(q: np.ndarray, p: np.ndarray) -> float:
    """``KL(Dirichlet(q) || Dirichlet(p))`` summed over the rows (last axis: the
    distribution) of ``q`` and ``p``."""
    q_sum, p_sum = q.sum(axis=-1), p.sum(axis=-1)
    per_row = (
        gammaln(q_sum) - gammaln(p_sum)
        - (gammaln(q) - gammaln(p)).sum(axis=-1)
        + ((q - p) * (digamma(q) - digamma(q_sum)[..., None])).sum(axis=-1)
    )  # fmt: skip
    return float(np.sum(per_row))


def row_means(alpha: np.ndarray) -> np.ndarray:
    """The Dirichlet means: ``alpha`` normalised along its last axis."""
    return alpha / alpha.sum(axis=-1, keepdims=True)


# --------------------------------------------------------------------------- checks


def positive_array(value: Any, name: str, shape: tuple) -> np.ndarray:
    """``value`` as a float64 array of exactly ``shape``, finite and positive; raises
    ``ValueError``."""
    try:
        a = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of numbers") from None
    if a.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {a.shape}")
    if not (np.isfinite(a).all() and (a > 0).all()):
        raise ValueError(f"{name} must be finite and positive")
    return a


def stored_positive(state: dict, name: str, shape: tuple) -> None:
    """A model file's check of ``state[name]``: a float array of ``shape``, finite and
    positive; raises ``ValueError``."""
    a = stored_array(state, name, shape, finite=True)
    if not (a > 0).all():
        raise ValueError(f"{name} must be positive")


def prior_value(value: Any, default: Any, name: str, shape: tuple) -> np.ndarray:
    """The starting ``*_prior_`` array: the constructor's ``value`` (``default`` when
    None) broadcast to ``shape``, as float64."""
    value = default if value is None else value
    try:
        return np.array(np.broadcast_to(np.asarray(value, dtype=np.float64), shape))
    except ValueError:
        raise ValueError(
            f"{name} must be a number or broadcast to shape {shape}, got shape {np.shape(value)}"
        ) from None


# --------------------------------------------------------------------------- the family layer


class VariationalEmissions(EmissionFamily):
    """What a variational model's emission family adds to :class:`EmissionFamily`.

    Its ``mstep`` updates the posteriors (prior + statistics) and then the derived point
    estimates; its ``check`` validates the point estimates, :meth:`check_posteriors`
    the priors and posteriors.
    """

    #: per emission letter, the (prior, posterior) attributes ``init_params`` resets
    variational_attributes: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: the point estimates derived from the posteriors
    derived_attributes: ClassVar[tuple[str, ...]] = ()

    def needs_init_any(self, letter: str) -> bool:
        """Whether ``fit`` initialises the attributes of ``letter`` (hmmlearn: all of
        them when ``letter`` is in ``init_params`` or any of them is missing)."""
        return any(self.needs_init(letter, a) for a in self.variational_attributes[letter])

    @abstractmethod
    def check_posteriors(self) -> None:
        """Validate the emission priors and posteriors (shapes, finite, positive),
        converting them to float64; raises ``ValueError``."""

    @abstractmethod
    def derive(self, only_missing: bool = False) -> None:
        """Set the point estimates (``emissionprob_``, ``covars_``, ...) from the
        posteriors (``only_missing``: those not set)."""

    @abstractmethod
    def expected_emission_model(self, X: Any) -> _k.EmissionArrays:
        """The kernels' emission model of ``E[log p(x | state)]`` under the posteriors
        (sub-normalised)."""

    @abstractmethod
    def kl_divergence(self) -> float:
        """``KL(posterior || prior)`` of the emission parameters."""


# --------------------------------------------------------------------------- the engine


class VariationalBaumWelch(BaumWelch):
    """Variational EM of a :class:`VariationalHMM`: the engine's loop, its hooks
    replaced (see the module docstring).  ``monitor_`` records the lower bound.

    Parameters
    ----------
    model : VariationalHMM
        The estimator, fitted in place.
    """

    family: VariationalEmissions
    objective_name = "lower_bound"
    fitted_attribute = "startprob_posterior_"
    chain_attributes = CHAIN_STATE

    def needs_data(self) -> bool:
        # the chain's starting posteriors scale with the number of sequences and frames
        return self.family.needs_data() or any(
            self.family.needs_init(letter, name)
            for letter, name in zip("sstt", CHAIN_STATE, strict=True)
        )

    def initialize(
        self, X: np.ndarray, lengths: np.ndarray, weight: np.ndarray | None = None,
        states: np.ndarray | None = None,
    ) -> None:  # fmt: skip
        """As any HMM's; the point estimates are derived afresh from the starting
        posteriors (by :meth:`check`)."""
        for name in ("startprob_", "transmat_", *self.family.derived_attributes):
            vars(self.model).pop(name, None)
        super().initialize(X, lengths, weight, states)

    def initialize_chain(self, random_state: np.random.RandomState, lengths: np.ndarray) -> None:
        """hmmlearn's starting posteriors: Dirichlet draws scaled by the number of
        sequences (start) and of frames per state (transitions); priors from the
        constructor (default ``1 / n_components``)."""
        model, family = self.model, self.family
        nc = model.n_components
        uniform = 1.0 / nc
        if family.needs_init("s", "startprob_posterior_") or family.needs_init(
            "s", "startprob_prior_"
        ):
            model.startprob_prior_ = prior_value(
                model.startprob_prior, uniform, "startprob_prior", (nc,)
            )
            model.startprob_posterior_ = random_state.dirichlet(np.full(nc, uniform)) * len(lengths)
        if family.needs_init("t", "transmat_posterior_") or family.needs_init(
            "t", "transmat_prior_"
        ):
            model.transmat_prior_ = prior_value(
                model.transmat_prior, uniform, "transmat_prior", (nc, nc)
            )
            model.transmat_posterior_ = random_state.dirichlet(np.full(nc, uniform), size=nc)
            model.transmat_posterior_ *= lengths.sum() / nc

    def initialize_chain_from_labels(self, start: np.ndarray, trans: np.ndarray) -> None:
        """The labelled counts join the chain's starting posteriors (where
        ``init_params`` initialises them), as an E-step's counts would; the point
        estimates are derived afresh."""
        model = self.model
        if "s" in model.init_params:
            model.startprob_posterior_ = model.startprob_posterior_ + start
        if "t" in model.init_params:
            model.transmat_posterior_ = model.transmat_posterior_ + trans
        self.derive()

    def check(self) -> None:
        """Validate the priors and posteriors, derive the point estimates that are not
        set, then check the model as any HMM (its point estimates)."""
        model, family = self.model, self.family
        validate_params(model, family)
        nc = model.n_components
        for name, shape in zip(CHAIN_STATE, [(nc,), (nc,), (nc, nc), (nc, nc)], strict=True):
            if not hasattr(model, name):
                raise ValueError(f"{name} must be set before fitting with init_params=''")
            setattr(model, name, positive_array(getattr(model, name), name, shape))
        family.check_posteriors()
        self.derive(only_missing=True)
        check_model(model, family)

    def check_state(self, state: dict) -> None:
        nc = int(self.model.n_components)
        for name, shape in zip(CHAIN_STATE, [(nc,), (nc,), (nc, nc), (nc, nc)], strict=True):
            if name in state:
                stored_positive(state, name, shape)
        self.family.check_state(state)

    def derive(self, only_missing: bool = False) -> None:
        """Set ``startprob_``, ``transmat_`` and the family's point estimates from the
        posteriors (``only_missing``: those not set)."""
        model = self.model
        state = vars(model)
        if not (only_missing and "startprob_" in state):
            model.startprob_ = row_means(model.startprob_posterior_)
        if not (only_missing and "transmat_" in state):
            model.transmat_ = row_means(model.transmat_posterior_)
        self.family.derive(only_missing)

    def estep_chain(self) -> tuple[np.ndarray, np.ndarray]:
        """``exp(E[log startprob])`` and ``exp(E[log transmat])``: sub-normalised."""
        model = self.model
        return (
            np.exp(dirichlet_expected_log(model.startprob_posterior_)),
            np.exp(dirichlet_expected_log(model.transmat_posterior_)),
        )

    def estep_emissions(self, X: Any) -> _k.EmissionArrays:
        return self.family.expected_emission_model(X)

    def objective(self, stats: SufficientStats) -> float:
        """The evidence lower bound: the E-step's (sub-normalised) log-likelihood minus
        the KL divergences of the posteriors the E-step ran with from their priors."""
        model = self.model
        return (
            stats.log_prob
            - dirichlet_kl(model.startprob_posterior_, model.startprob_prior_)
            - dirichlet_kl(model.transmat_posterior_, model.transmat_prior_)
            - self.family.kl_divergence()
        )

    def mstep_chain(self, stats: SufficientStats) -> None:
        """Posteriors = priors + expected counts; ``startprob_`` / ``transmat_`` their
        means."""
        model = self.model
        if "s" in model.params:
            model.startprob_posterior_ = model.startprob_prior_ + stats.start
            model.startprob_ = row_means(model.startprob_posterior_)
        if "t" in model.params:
            model.transmat_posterior_ = model.transmat_prior_ + stats.trans
            model.transmat_ = row_means(model.transmat_posterior_)


# --------------------------------------------------------------------------- the estimators


class VariationalHMM(BaseHMM):
    """A :class:`BaseHMM` fitted by variational EM (:class:`VariationalBaumWelch`)."""

    engine = VariationalBaumWelch


VariationalHMM.__module__ = "fastgen.hmm"
