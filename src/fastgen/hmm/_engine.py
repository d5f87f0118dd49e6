"""The EM engine shared by every HMM: input, checks, forward-backward, Baum-Welch.

Everything here is written once for all emission families; a family (see
:mod:`fastgen.hmm._family`) supplies only its emission pieces.  The local ``fit`` and
:func:`fastgen.dask.fit_hmm` both drive :class:`BaumWelch`::

    em = type(model).engine(model)         # BaumWelch; validates the hyperparameters
    X, lengths = em.input(X, lengths)      # (per partition, for Dask)
    em.initialize(X, lengths)              # init_params, checks, a reset monitor_
    for _ in range(model.n_iter):
        stats = em.estep(X, lengths)       # SufficientStats; partitions add with +
        value = em.objective(stats)        # log-likelihood (variational: lower bound)
        em.mstep(stats)
        if em.report(value):
            break
"""

from __future__ import annotations

import logging
import numbers
import sys
from collections import deque
from typing import Any

import numpy as np

from fastgen._kernels import hmm as _k
from fastgen.hmm._family import EmissionFamily
from fastgen.hmm._util import check_distribution, check_random_state, normalize, startidx

__all__ = [
    "BaumWelch", "ConvergenceMonitor", "SufficientStats", "check_model", "family_of",
    "forward_backward", "input_sequences", "validate_params",
]  # fmt: skip

_log = logging.getLogger("fastgen.hmm")

DECODER_ALGORITHMS = frozenset(("viterbi", "map"))
IMPLEMENTATIONS = frozenset(("log", "scaling"))


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


ConvergenceMonitor.__module__ = "fastgen.hmm"  # its public home (model files name it)


class SufficientStats:
    """Expected counts of an E-step over some sequences.

    Statistics of disjoint sets of sequences add up with ``+`` (``sum`` works too), so
    partitions of the data (threads, Dask workers) combine without knowing what the
    emission family accumulates.

    Attributes
    ----------
    n_sequences : int
    log_prob : float
        Log-likelihood of the sequences under the parameters of the E-step.
    start : float64 (n_components,)
        Expected number of sequences starting in each state.
    trans : float64 (n_components, n_components)
        Expected number of transitions.
    emission : dict of str to array
        The family's statistics (see :class:`~fastgen.hmm._family.EmissionFamily`).
    """

    __slots__ = ("emission", "log_prob", "n_sequences", "start", "trans")

    def __init__(
        self, n_sequences: int, log_prob: float, start: np.ndarray, trans: np.ndarray,
        emission: dict,
    ) -> None:  # fmt: skip
        self.n_sequences = n_sequences
        self.log_prob = log_prob
        self.start = start
        self.trans = trans
        self.emission = emission

    def __add__(self, other: SufficientStats) -> SufficientStats:
        if not isinstance(other, SufficientStats):
            return NotImplemented
        a, b = self.emission, other.emission
        if a.keys() != b.keys():
            raise ValueError(f"E-step statistics differ in keys: {sorted(a)} vs {sorted(b)}")
        return SufficientStats(
            self.n_sequences + other.n_sequences, self.log_prob + other.log_prob,
            self.start + other.start, self.trans + other.trans, {k: a[k] + b[k] for k in a},
        )  # fmt: skip

    def __radd__(self, other: Any) -> SufficientStats:
        if isinstance(other, numbers.Number) and other == 0:  # sum()'s start
            return self
        return NotImplemented

    def __repr__(self) -> str:
        return (
            f"SufficientStats(n_sequences={self.n_sequences}, log_prob={self.log_prob}, "
            f"emission={sorted(self.emission)})"
        )


# --------------------------------------------------------------------------- checks


def family_of(model: Any) -> EmissionFamily:
    """The emission family of ``model``, bound to it."""
    return model.emission_family(model)


def validate_params(model: Any, family: EmissionFamily | None = None) -> None:
    """Validate the hyperparameters of ``model`` (raises ``ValueError``)."""
    nc = model.n_components
    if isinstance(nc, bool) or not isinstance(nc, numbers.Integral) or nc < 1:
        raise ValueError(f"n_components must be an integer >= 1, got {nc!r}")
    if model.algorithm not in DECODER_ALGORITHMS:
        raise ValueError(f"Unknown decoder {model.algorithm!r}")
    if model.implementation not in IMPLEMENTATIONS:
        raise ValueError(f"implementation must be 'log' or 'scaling', got {model.implementation!r}")
    n_init = getattr(model, "n_init", 1)  # a subclass with a constructor of its own may lack it
    if isinstance(n_init, bool) or not isinstance(n_init, numbers.Integral) or n_init < 1:
        raise ValueError(f"n_init must be an integer >= 1, got {n_init!r}")
    (family or family_of(model)).validate_params()


def check_chain(model: Any) -> None:
    """Validate ``startprob_`` and ``transmat_``, converting them to float64 arrays."""
    nc = model.n_components
    model.startprob_ = np.asarray(model.startprob_, dtype=np.float64)
    if model.startprob_.shape != (nc,):
        raise ValueError("startprob_ must have length n_components")
    check_distribution(model.startprob_, "startprob_")
    model.transmat_ = np.asarray(model.transmat_, dtype=np.float64)
    if model.transmat_.shape != (nc, nc):
        raise ValueError("transmat_ must have shape (n_components, n_components)")
    check_distribution(model.transmat_, "transmat_")


def check_model(model: Any, family: EmissionFamily | None = None) -> None:
    """Validate every parameter of ``model`` (hmmlearn's ``_check``)."""
    family = family or family_of(model)
    validate_params(model, family)
    check_chain(model)
    family.check()


def input_sequences(X: Any, lengths: Any, family: EmissionFamily) -> tuple[np.ndarray, np.ndarray]:
    """2-D ``X`` (validated by the family) and int64 ``lengths``, from ``(X, lengths)``
    or a list of 2-D sequences."""
    if isinstance(X, (list, tuple)) and len(X) > 0 and all(np.ndim(x) == 2 for x in X):
        if lengths is not None:
            raise ValueError("Pass either a list of sequences or lengths, not both")
        seqs = [family.validate_X(x) for x in X]
        lengths = [len(x) for x in seqs]
        X = np.concatenate(seqs)
    else:
        X = family.validate_X(X)
    n = X.shape[0]
    if lengths is None:
        return X, np.array([n], dtype=np.int64)
    lengths = np.asarray(lengths)
    if lengths.ndim == 0:  # one sequence given by its length (hmmlearn accepts it too)
        lengths = lengths.reshape(1)
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


# --------------------------------------------------------------------------- E-step


def forward_backward(
    model: Any, family: EmissionFamily, X: Any, lengths: np.ndarray, *, posteriors: bool,
    gamma: bool = True, xi: bool = False, stats_kind: int | None = None,
    chain: tuple[np.ndarray, np.ndarray] | None = None, emissions: Any = None,
) -> _k.EStep:  # fmt: skip
    """The kernels' forward-backward of ``model`` over prepared ``X``; ``chain``
    (startprob, transmat) and ``emissions`` (an ``EmissionArrays``) replace the model's
    own when given (the variational E-step's sub-normalised parameters)."""
    startprob, transmat = (model.startprob_, model.transmat_) if chain is None else chain
    r = _k.forward_backward(
        startidx(lengths),
        startprob,
        transmat,
        family.emission_model(X) if emissions is None else emissions,
        model.implementation == "log",
        posteriors=posteriors,
        gamma=gamma,
        xi=xi,
        stats_kind=_k.STATS_NONE if stats_kind is None else stats_kind,
    )
    if np.isnan(r.log_prob).any():
        raise ValueError(
            "Scaled forward-backward failed with underflow (or overflow); "
            "consider using implementation='log' instead"
        )
    return r


def viterbi(model: Any, family: EmissionFamily, X: Any, lengths: np.ndarray):
    """Viterbi paths of ``model``: ``(log_prob per sequence, states)``."""
    return _k.viterbi_batch(
        startidx(lengths), model.startprob_, model.transmat_, family.emission_model(X)
    )


# --------------------------------------------------------------------------- Baum-Welch


class BaumWelch:
    """Expectation-maximisation of one HMM estimator, in steps anyone can drive.

    ``fit`` runs :meth:`fit`; :func:`fastgen.dask.fit_hmm` runs :meth:`estep` on every
    partition and :meth:`objective` / :meth:`mstep` / :meth:`report` on the client.  The
    object holds only the estimator (it pickles with it).

    The named hooks :meth:`initialize_chain`, :meth:`check`, :meth:`check_state`,
    :meth:`estep_chain`, :meth:`estep_emissions`, :meth:`mstep_chain` and
    :meth:`objective` are what a variant of EM changes (the variational engine,
    :class:`fastgen.hmm._variational.VariationalBaumWelch`); the loop stays here.  An
    estimator names its engine in its ``engine`` class attribute.

    Parameters
    ----------
    model : BaseHMM
        Fitted in place.
    """

    #: what :meth:`objective` is (model files' summaries name it so)
    objective_name = "log_likelihood"
    #: set once a model can score (what ``score`` & co. check first)
    fitted_attribute = "startprob_"
    #: the chain's parameters, which :meth:`initialize_chain` draws when missing
    chain_attributes: tuple[str, ...] = ("startprob_", "transmat_")

    def __init__(self, model: Any) -> None:
        self.model = model
        self.family = family_of(model)
        validate_params(model, self.family)

    def input(self, X: Any, lengths: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Validated ``(X, lengths)`` (see :func:`input_sequences`)."""
        return input_sequences(X, lengths, self.family)

    def needs_data(self) -> bool:
        """Whether :meth:`initialize` reads the data (else only its shape matters)."""
        return self.family.needs_data()

    def initialize(self, X: np.ndarray, lengths: np.ndarray) -> None:
        """Initialise what ``init_params`` names (and what is missing), check the model
        and reset its ``monitor_`` (a new one on a first fit)."""
        model, family = self.model, self.family
        for letter, name in {"s": "startprob_", "t": "transmat_", **family.parameters}.items():
            if letter in model.init_params and hasattr(model, name):
                _log.warning(
                    "%s is set but will be overwritten by the initialisation: "
                    "init_params contains %r",
                    name,
                    letter,
                )
        rs = check_random_state(model.random_state)
        self.initialize_chain(rs, lengths)
        family.initialize(X, lengths, rs)
        n_fit = sum(self.n_fit_scalars().get(p, 0) for p in set(model.params))
        if X.size < n_fit:
            _log.warning(
                "Fitting a model with %d free scalar parameters with only %d data "
                "points will result in a degenerate solution.",
                n_fit,
                X.size,
            )
        self.check()
        monitor = model.__dict__.get("monitor_")
        if monitor is None:
            model.monitor_ = ConvergenceMonitor(model.tol, model.n_iter, model.verbose)
        else:  # a monitor from an earlier fit, or one the user set (hmmlearn reuses it)
            monitor.tol, monitor.n_iter, monitor.verbose = model.tol, model.n_iter, model.verbose
            monitor._reset()

    def initializes_anything(self) -> bool:
        """Whether :meth:`initialize` sets any parameter: ``init_params`` names one, or
        one is missing.  Otherwise every fit starts from the parameters as they are,
        whatever ``random_state`` (random restarts would all be the same fit)."""
        model = self.model
        return (
            any(letter in model.init_params for letter in "st" + self.family.letters)
            or not all(hasattr(model, name) for name in self.chain_attributes)
            or not self.family.is_fitted()
        )

    def initialize_chain(self, random_state: np.random.RandomState, lengths: np.ndarray) -> None:
        """Draw ``startprob_`` / ``transmat_`` where ``init_params`` says (hmmlearn's
        Dirichlet draws from ``random_state``)."""
        model, family = self.model, self.family
        nc = model.n_components
        init = 1.0 / nc
        if family.needs_init("s", "startprob_"):
            model.startprob_ = random_state.dirichlet(np.full(nc, init))
        if family.needs_init("t", "transmat_"):
            model.transmat_ = random_state.dirichlet(np.full(nc, init), size=nc)

    def check(self) -> None:
        """Validate every parameter of the model (:func:`check_model`)."""
        check_model(self.model, self.family)

    def check_state(self, state: dict) -> None:
        """A model file's checks of restored attributes besides the chain's
        (``state``: the estimator's ``vars``); raises ``ValueError``."""
        self.family.check_state(state)

    def initialize_from_shape(self, n_samples: int, n_features: int) -> None:
        """:meth:`initialize` when :meth:`needs_data` is False: only the shape is known."""
        if self.needs_data():
            raise ValueError("this initialisation needs the data")
        X = np.broadcast_to(np.zeros(1, dtype=self.family.dtype), (n_samples, n_features))
        self.initialize(X, np.array([n_samples], dtype=np.int64))

    def n_fit_scalars(self) -> dict[str, int]:
        """Free scalars per parameter letter."""
        nc = self.model.n_components
        return {"s": nc - 1, "t": nc * (nc - 1), **self.family.n_fit_scalars()}

    def estep(self, X: Any, lengths: np.ndarray, *, prepared: bool = False) -> SufficientStats:
        """Forward-backward and statistics of validated ``(X, lengths)`` under the
        current parameters (``prepared``: ``X`` already went through the family's
        ``prepare``)."""
        model, family = self.model, self.family
        if not prepared:
            family.check_data(X)
            X = family.prepare(X)
        stats_kind = family.kernel_stats_kind(X)
        numpy_stats = stats_kind is None  # the family needs the posteriors themselves
        r = forward_backward(
            model, family, X, lengths, posteriors=True, gamma=numpy_stats,
            xi="t" in model.params, stats_kind=stats_kind, chain=self.estep_chain(),
            emissions=self.estep_emissions(X),
        )  # fmt: skip
        emission = family.posterior_stats(X, r.gamma) if numpy_stats else family.kernel_stats(r)
        return SufficientStats(len(lengths), float(r.log_prob.sum()), r.start, r.trans, emission)

    def estep_chain(self) -> tuple[np.ndarray, np.ndarray]:
        """``(startprob, transmat)`` the E-step runs with: the model's."""
        return self.model.startprob_, self.model.transmat_

    def estep_emissions(self, X: Any) -> _k.EmissionArrays:
        """The emission model the E-step runs with: the family's."""
        return self.family.emission_model(X)

    def objective(self, stats: SufficientStats) -> float:
        """What ``monitor_`` records for an iteration, from its E-step's statistics
        (before the M-step): the log-likelihood."""
        return stats.log_prob

    def mstep(self, stats: SufficientStats) -> None:
        """Update every parameter in ``params`` from summed statistics (with priors)."""
        self.mstep_chain(stats)
        self.family.mstep(stats.emission)

    def mstep_chain(self, stats: SufficientStats) -> None:
        """The start / transition M-step (Dirichlet priors, MAP)."""
        model = self.model
        if "s" in model.params:
            startprob = np.maximum(model.startprob_prior - 1 + stats.start, 0)
            startprob = np.where(model.startprob_ == 0, 0, startprob)
            if startprob.sum() > 0:
                normalize(startprob)
                model.startprob_ = startprob
        if "t" in model.params:
            transmat = np.maximum(model.transmat_prior - 1 + stats.trans, 0)
            transmat = np.where(model.transmat_ == 0, 0, transmat)
            empty = transmat.sum(axis=1) == 0
            if empty.any():
                _log.warning(
                    "No transition out of states %s was observed; their rows of "
                    "transmat_ are kept.",
                    np.flatnonzero(empty),
                )
                transmat[empty] = model.transmat_[empty]
            normalize(transmat, axis=1)
            model.transmat_ = transmat

    def report(self, log_prob: float) -> bool:
        """Record an iteration's log-likelihood in ``monitor_``; whether EM converged."""
        monitor = self.model.monitor_
        monitor.report(log_prob)
        return monitor.converged

    def fit(self, X: Any, lengths: Any = None) -> Any:
        """The whole local fit: input, initialisation, EM iterations; returns the model."""
        X, lengths = self.input(X, lengths)
        self.initialize(X, lengths)
        self.family.check_data(X)
        X = self.family.prepare(X)
        for _ in range(self.model.n_iter):
            stats = self.estep(X, lengths, prepared=True)
            value = self.objective(stats)
            self.mstep(stats)
            if self.report(value):
                break
        return self.model
