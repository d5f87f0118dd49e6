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

``fit`` also takes ``sample_weight`` (per sequence or per frame, see
:func:`input_weights`) and ``states`` (partly or fully labelled frames, see
:func:`input_states`); both reach the E-step kernels (frame weights scale the
accumulated statistics, labels clamp the emissions), so a weighted or semi-supervised
fit costs about what a plain one does.

``partial_fit`` drives the same steps over chunks of sequences (:meth:`BaumWelch.partial_fit`):
each chunk's statistics, scaled to the first chunk's number of frames, are mixed into
running statistics with a decreasing step size before an M-step (stepwise EM).
"""

from __future__ import annotations

import logging
import numbers
import sys
from collections import deque
from typing import Any

import numpy as np

from fastgen._base import check_is_fitted
from fastgen._kernels import hmm as _k
from fastgen.hmm._family import EmissionFamily
from fastgen.hmm._util import check_distribution, check_random_state, normalize, startidx

__all__ = [
    "PARTIAL_FIT_STATE", "BaumWelch", "ConvergenceMonitor", "SufficientStats", "check_model",
    "check_step_size", "family_of", "forward_backward", "input_sequences", "input_states",
    "input_weights", "is_fitted", "prepared_input", "split_running_stats", "step_size",
    "validate_params",
]  # fmt: skip

_log = logging.getLogger("fastgen.hmm")

DECODER_ALGORITHMS = frozenset(("viterbi", "map"))
#: weight of the unlabelled frames in the label-driven initialisation
#: (:meth:`BaumWelch.initialize_from_labels`), relative to the labelled ones
UNLABELLED_INIT_WEIGHT = 1e-3
IMPLEMENTATIONS = frozenset(("log", "scaling"))
#: the fitted attributes ``partial_fit`` keeps between calls (``fit`` drops them)
PARTIAL_FIT_STATE = ("partial_fit_steps_", "partial_fit_frames_", "partial_fit_stats_")


class ConvergenceMonitor:
    """Track the log-likelihood of EM iterations and decide convergence (hmmlearn's).

    ``fit`` creates one per model (``monitor_``), resets it, reports the objective
    of every iteration to it and stops once :attr:`converged`; the variational
    models report their lower bound.  Assigning a monitor (or a subclass with another
    ``converged``) to ``monitor_`` before ``fit`` makes ``fit`` use it, as in
    hmmlearn.

    Parameters
    ----------
    tol : float
        Convergence threshold: converged once an iteration gains less than ``tol``.
    n_iter : int
        Maximum number of iterations: converged once this many were reported.
    verbose : bool
        When True, :meth:`report` prints a progress line (iteration, objective, gain)
        to standard error.

    Attributes
    ----------
    history : deque of float
        Log-likelihood of every iteration so far.
    iter : int
        Number of iterations performed.

    See Also
    --------
    GaussianHMM : Its ``monitor_`` after ``fit``.
    fastgen.dask.fit_hmm : Reports to the model's monitor on the client.

    Examples
    --------
    >>> from fastgen.hmm import ConvergenceMonitor
    >>> monitor = ConvergenceMonitor(tol=0.01, n_iter=10, verbose=False)
    >>> for log_prob in (-120.0, -100.0, -99.995):
    ...     monitor.report(log_prob)
    >>> monitor.iter, monitor.converged
    (3, True)
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
        """Record the objective of one iteration; print a progress line to stderr when
        ``verbose``.

        A decrease of more than about ``1.5e-8`` is logged as a warning (EM should
        never decrease it).

        Parameters
        ----------
        log_prob : float
            The log-likelihood (or lower bound) of the iteration.
        """
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
    emission family accumulates; multiplied by a number (``0.5 * stats``), every count
    scales (``partial_fit``'s weighted running statistics, whose ``n_sequences`` is then
    fractional).

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
        for name, x, y in [
            ("start", self.start, other.start), ("trans", self.trans, other.trans),
            *((k, a[k], b[k]) for k in a),
        ]:  # fmt: skip
            if np.shape(x) != np.shape(y):  # broadcasting would add them silently
                raise ValueError(
                    f"E-step statistics {name!r} differ in shape: {np.shape(x)} vs {np.shape(y)}"
                )
        return SufficientStats(
            self.n_sequences + other.n_sequences, self.log_prob + other.log_prob,
            self.start + other.start, self.trans + other.trans, {k: a[k] + b[k] for k in a},
        )  # fmt: skip

    def __radd__(self, other: Any) -> SufficientStats:
        if isinstance(other, numbers.Number) and other == 0:  # sum()'s start
            return self
        return NotImplemented

    def __mul__(self, factor: Any) -> SufficientStats:
        if not isinstance(factor, numbers.Real) or isinstance(factor, bool):
            return NotImplemented
        f = float(factor)
        return SufficientStats(
            self.n_sequences * f, self.log_prob * f, self.start * f, self.trans * f,
            {k: v * f for k, v in self.emission.items()},
        )  # fmt: skip

    __rmul__ = __mul__

    def to_dict(self) -> dict:
        """The statistics as a flat ``dict`` of floats and float64 arrays (what a model
        file stores): ``n_sequences``, ``log_prob``, ``start``, ``trans`` and the
        family's keys prefixed by ``emission:``."""
        out: dict = {
            "n_sequences": float(self.n_sequences), "log_prob": float(self.log_prob),
            "start": np.asarray(self.start, dtype=np.float64),
            "trans": np.asarray(self.trans, dtype=np.float64),
        }  # fmt: skip
        for k, v in self.emission.items():
            out[f"emission:{k}"] = np.asarray(v, dtype=np.float64)
        return out

    @classmethod
    def from_dict(cls, d: dict) -> SufficientStats:
        """The inverse of :meth:`to_dict`; raises ``ValueError`` for anything else."""
        if not isinstance(d, dict):
            raise ValueError(f"statistics must be a dict, got {type(d).__name__}")
        missing = {"n_sequences", "log_prob", "start", "trans"} - d.keys()
        if missing:
            raise ValueError(f"statistics lack {sorted(missing)}")
        emission = {}
        for k, v in d.items():
            if not isinstance(k, str):
                raise ValueError(f"statistics keys must be str, got {k!r}")
            if k.startswith("emission:"):
                emission[k[len("emission:") :]] = v
            elif k not in ("n_sequences", "log_prob", "start", "trans"):
                raise ValueError(f"unknown statistic {k!r}")
        return cls(d["n_sequences"], d["log_prob"], d["start"], d["trans"], emission)

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


def is_fitted(model: Any) -> bool:
    """Whether the chain and every emission parameter of ``model`` are set."""
    state = vars(model)
    return "startprob_" in state and "transmat_" in state and family_of(model).is_fitted()


def check_step_size(decay: Any, offset: Any) -> None:
    """Validate ``partial_fit``'s step-size schedule (raises ``ValueError``)."""
    if isinstance(decay, bool) or not isinstance(decay, numbers.Real) or not 0.5 < decay <= 1:
        raise ValueError(f"decay must be a number in (0.5, 1], got {decay!r}")
    if (
        isinstance(offset, bool)
        or not isinstance(offset, numbers.Real)
        or not (np.isfinite(offset) and offset >= 1)
    ):
        raise ValueError(f"offset must be a finite number >= 1, got {offset!r}")


def step_size(step: int, decay: float, offset: float) -> float:
    """``partial_fit``'s weight of the new chunk at update ``step`` (0 for the first):
    1 for the first (there is nothing to keep), then ``(step + offset) ** -decay``."""
    return 1.0 if step == 0 else float((step + offset) ** -decay)


def split_running_stats(d: Any) -> tuple[SufficientStats, dict]:
    """``partial_fit_stats_`` as ``(SufficientStats, anchor)``: its ``anchor:`` keys
    are the family's :meth:`~fastgen.hmm._family.EmissionFamily.stats_anchor`;
    raises ``ValueError`` for anything else than what ``partial_fit`` stores."""
    if not isinstance(d, dict):
        raise ValueError(f"partial_fit_stats_ must be a dict, got {type(d).__name__}")
    anchor = {k[len("anchor:") :]: v for k, v in d.items() if str(k).startswith("anchor:")}
    rest = {k: v for k, v in d.items() if not str(k).startswith("anchor:")}
    return SufficientStats.from_dict(rest), anchor


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


def prepared_input(model: Any, X: Any, lengths: Any) -> tuple[EmissionFamily, Any, np.ndarray]:
    """What inference runs on: the checked model's emission family, ``X`` validated and
    prepared by it, and the int64 ``lengths`` (raises ``NotFittedError`` /
    ``ValueError``)."""
    check_is_fitted(model, model.engine.fitted_attribute)
    em = model.engine(model)
    em.check()
    family = em.family
    X, lengths = input_sequences(X, lengths, family)
    family.check_data(X)
    return family, family.prepare(X), lengths


def input_weights(sample_weight: Any, lengths: np.ndarray) -> np.ndarray | None:
    """Per-frame weights from ``sample_weight``: None (unweighted), one weight per
    sequence (shape ``(n_sequences,)``, repeated over its frames) or one per frame
    (shape ``(n_samples,)``); finite, non-negative, not all zero (``ValueError``
    otherwise).

    Frame ``t``'s weight multiplies its contributions to the expected sufficient
    statistics: its posteriors in the emission statistics, the expected transitions
    into it and, for a sequence's first frame, its start counts.  A per-sequence weight
    is therefore the weight of every frame of that sequence, and an integer weight ``k``
    gives the statistics (hence the fit) of ``k`` copies of the sequence.  When the
    shapes coincide (every sequence one frame long) both readings are the same.
    """
    if sample_weight is None:
        return None
    n_seq, n = len(lengths), int(lengths.sum())
    w = np.asarray(sample_weight)
    if w.ndim == 0 or w.ndim > 1 or w.shape[0] not in (n_seq, n):
        raise ValueError(
            f"sample_weight must have shape ({n_seq},) (one weight per sequence) or "
            f"({n},) (one per frame), got {np.shape(sample_weight)}"
        )
    if w.dtype.kind not in "biuf":
        raise ValueError(f"sample_weight must hold real numbers, not {w.dtype}")
    w = w.astype(np.float64)
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("sample_weight must be finite and non-negative")
    if not (w > 0).any():
        raise ValueError("sample_weight must have a positive entry")
    if w.shape[0] != n:
        w = np.repeat(w, lengths)
    return _k.frame_weights(w, n)


def input_states(states: Any, n_samples: int, n_components: int) -> np.ndarray | None:
    """Known states of a semi-supervised fit: int64 (n_samples,), ``-1`` where unknown,
    else the frame's state in ``[0, n_components)`` (``ValueError`` otherwise); None
    when no frame is labelled."""
    if states is None:
        return None
    a = np.asarray(states)
    if a.shape != (n_samples,):
        raise ValueError(f"states must have shape ({n_samples},), got {a.shape}")
    if a.dtype.kind == "f":
        if not (np.isfinite(a).all() and np.array_equal(a, np.round(a))):
            raise ValueError("states must hold integers (-1 for unknown)")
    elif a.dtype.kind not in "iu":
        raise ValueError(f"states must be an integer array (-1 for unknown), not {a.dtype}")
    if a.size and (a.min() < -1 or a.max() >= n_components):
        raise ValueError(
            f"states must be -1 (unknown) or a state in [0, {n_components}), "
            f"got values in [{a.min()}, {a.max()}]"
        )
    a = a.astype(np.int64)
    return a if (a >= 0).any() else None


def label_counts(
    states: np.ndarray, lengths: np.ndarray, weight: np.ndarray | None, model: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Start counts of the labelled first frames and transition counts between
    consecutive labelled frames, (n_components,) and (n_components, n_components),
    weighted as the E-step weighs them (the weight of the frame started or entered)."""
    nc = model.n_components
    w = np.ones(len(states)) if weight is None else weight
    first = startidx(lengths)[:-1]
    start = np.zeros(nc)
    lab = states[first] >= 0
    np.add.at(start, states[first][lab], w[first][lab])
    nxt = np.ones(len(states), dtype=bool)
    nxt[first] = False  # frames with a predecessor in their sequence
    t = np.flatnonzero(nxt & (states >= 0) & (np.roll(states, 1) >= 0))
    trans = np.zeros((nc, nc))
    np.add.at(trans, (states[t - 1], states[t]), w[t])
    return start, trans


def weighted_log_prob(log_prob: np.ndarray, weight: np.ndarray | None, lengths: np.ndarray):
    """The objective of a weighted E-step: ``sum_s wbar_s log p(x_s)``, ``wbar_s`` the
    mean frame weight of sequence ``s`` (its weight, for per-sequence weights); a
    sequence of weight 0 adds 0 even when impossible."""
    if weight is None:
        return float(log_prob.sum())
    wbar = np.add.reduceat(weight, startidx(lengths)[:-1]) / lengths
    with np.errstate(invalid="ignore"):
        terms = np.where(wbar == 0, 0.0, wbar * log_prob)
    return float(terms.sum())


# --------------------------------------------------------------------------- E-step


def forward_backward(
    model: Any, family: EmissionFamily, X: Any, lengths: np.ndarray, *, posteriors: bool,
    gamma: bool = True, xi: bool = False, stats_kind: int | None = None,
    chain: tuple[np.ndarray, np.ndarray] | None = None, emissions: Any = None,
    weight: np.ndarray | None = None, states: np.ndarray | None = None,
) -> _k.EStep:  # fmt: skip
    """The kernels' forward-backward of ``model`` over prepared ``X``; ``chain``
    (startprob, transmat) and ``emissions`` (an ``EmissionArrays``) replace the model's
    own when given (the variational E-step's sub-normalised parameters); ``weight``:
    frame weights of the statistics (see :func:`input_weights`); ``states``: labelled
    frames (see :func:`input_states`), their emissions clamped."""
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
        weight=weight,
        clamp=states,
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

    def initialize(
        self, X: np.ndarray, lengths: np.ndarray, weight: np.ndarray | None = None,
        states: np.ndarray | None = None,
    ) -> None:  # fmt: skip
        """Initialise what ``init_params`` names (and what is missing), check the model
        and reset its ``monitor_`` (a new one on a first fit).

        ``weight`` (frame weights, :func:`input_weights`): the initialisation reads only
        the frames of positive weight (unweighted; the sequences are those frames'
        runs).  ``states`` (labelled frames, :func:`input_states`): see
        :meth:`initialize_from_labels`."""
        model, family = self.model, self.family
        for letter, name in {"s": "startprob_", "t": "transmat_", **family.parameters}.items():
            if letter in model.init_params and hasattr(model, name):
                _log.warning(
                    "%s is set but will be overwritten by the initialisation: "
                    "init_params contains %r",
                    name,
                    letter,
                )
        for name in PARTIAL_FIT_STATE:  # running statistics of the parameters replaced
            vars(model).pop(name, None)
        rs = check_random_state(model.random_state)
        X_init, lengths_init = X, lengths
        if weight is not None and not (weight > 0).all():
            keep = weight > 0
            X_init = X[keep]
            lengths_init = np.add.reduceat(keep, startidx(lengths)[:-1]).astype(np.int64)
            lengths_init = lengths_init[lengths_init > 0]
        self.initialize_chain(rs, lengths_init)
        family.initialize(X_init, lengths_init, rs)
        n_fit = sum(self.n_fit_scalars().get(p, 0) for p in set(model.params))
        if X.size < n_fit:
            _log.warning(
                "Fitting a model with %d free scalar parameters with only %d data "
                "points will result in a degenerate solution.",
                n_fit,
                X.size,
            )
        self.check()
        if states is not None:
            self.initialize_from_labels(X, lengths, weight, states)
        monitor = model.__dict__.get("monitor_")
        if monitor is None:
            model.monitor_ = ConvergenceMonitor(model.tol, model.n_iter, model.verbose)
        else:  # a monitor from an earlier fit, or one the user set (hmmlearn reuses it)
            monitor.tol, monitor.n_iter, monitor.verbose = model.tol, model.n_iter, model.verbose
            monitor._reset()

    def initialize_from_labels(
        self, X: np.ndarray, lengths: np.ndarray, weight: np.ndarray | None, states: np.ndarray
    ) -> None:
        """Re-estimate the initialised emission parameters from the labelled frames.

        When every state has labelled frames (of positive weight), the emission
        parameters that are both in ``init_params`` and in ``params`` get the family's
        M-step (with its priors) on the labelled frames' hard assignments, the other
        frames adding their posteriors under the usual initialisation (k-means means,
        random draws, ...; labelled frames clamped) at weight ``UNLABELLED_INIT_WEIGHT``
        (1e-3) times their sample weight, so that nothing seen in the data gets
        probability 0.  A labelled state's emissions thus start where its labelled
        frames are, whichever cluster the unsupervised initialisation put there.  The
        chain keeps its initialisation, and nothing is reported to ``monitor_``.  When
        some state has no labelled frame, or when the re-estimated parameters make some
        (positively weighted) sequence impossible, the usual initialisation is kept
        (EM still clamps the labelled frames from its first iteration)."""
        model, family = self.model, self.family
        letters = "".join(c for c in family.letters if c in model.init_params and c in model.params)
        labelled = states >= 0
        w = np.ones(len(states)) if weight is None else weight
        counted = labelled & (w > 0)
        if any(c in model.init_params for c in "st"):
            self.initialize_chain_from_labels(*label_counts(states, lengths, weight, model))
        if not letters or np.unique(states[counted]).size < model.n_components:
            return
        w = _k.frame_weights(w * np.where(labelled, 1.0, UNLABELLED_INIT_WEIGHT), len(w))
        saved = {a: v.copy() if isinstance(v, np.ndarray) else v for a, v in vars(model).items()}
        family.check_data(X)
        Xp = family.prepare(X)
        params = model.params
        try:
            model.params = letters  # the emissions only: no expected transitions either
            stats = self.estep(Xp, lengths, prepared=True, weight=w, states=states)
            family.mstep(stats.emission)
        finally:
            model.params = params
        try:
            self.check()
            lp = forward_backward(
                model, family, Xp, lengths, posteriors=False, chain=self.estep_chain(),
                emissions=self.estep_emissions(Xp), states=states,
            ).log_prob  # fmt: skip
            counted = np.ones(len(lengths), dtype=bool) if weight is None else (
                np.add.reduceat(weight, startidx(lengths)[:-1]) > 0
            )  # fmt: skip
            ok = bool(np.isfinite(lp[counted]).all())
        except ValueError:
            ok = False
        if not ok:
            _log.warning(
                "The labelled frames make some sequence impossible under their "
                "estimate; the usual initialisation is kept."
            )
            vars(model).clear()
            vars(model).update(saved)

    def initialize_chain_from_labels(self, start: np.ndarray, trans: np.ndarray) -> None:
        """Blend the labelled frames' start and transition counts (``label_counts``)
        into the initialised chain: where ``init_params`` has "s", ``startprob_``
        becomes the mean of its draw and the normalised start counts; where it has
        "t", likewise every row of ``transmat_`` with labelled transitions.  So no
        labelled transition starts impossible, and the draw's other entries stay."""
        model = self.model
        if "s" in model.init_params and start.sum() > 0:
            model.startprob_ = 0.5 * model.startprob_ + 0.5 * start / start.sum()
        if "t" in model.init_params:
            rows = trans.sum(axis=1)
            seen = rows > 0
            transmat = np.array(model.transmat_, dtype=np.float64)
            transmat[seen] = 0.5 * transmat[seen] + 0.5 * trans[seen] / rows[seen, None]
            model.transmat_ = transmat

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

    def estep(
        self, X: Any, lengths: np.ndarray, *, prepared: bool = False,
        weight: np.ndarray | None = None, states: np.ndarray | None = None,
    ) -> SufficientStats:  # fmt: skip
        """Forward-backward and statistics of validated ``(X, lengths)`` under the
        current parameters (``prepared``: ``X`` already went through the family's
        ``prepare``).  ``weight``: frame weights (:func:`input_weights`), which scale
        the statistics in the kernels (or the posteriors handed to the family's
        ``posterior_stats``), the log-likelihood becoming :func:`weighted_log_prob`;
        ``states``: labelled frames (:func:`input_states`), clamped."""
        model, family = self.model, self.family
        if not prepared:
            family.check_data(X)
            X = family.prepare(X)
        stats_kind = family.kernel_stats_kind(X)
        numpy_stats = stats_kind is None  # the family needs the posteriors themselves
        r = forward_backward(
            model, family, X, lengths, posteriors=True, gamma=numpy_stats,
            xi="t" in model.params, stats_kind=stats_kind, chain=self.estep_chain(),
            emissions=self.estep_emissions(X), weight=weight, states=states,
        )  # fmt: skip
        if numpy_stats:
            gamma = r.gamma if weight is None else r.gamma * weight[:, None]
            emission = family.posterior_stats(X, gamma)
        else:
            emission = family.kernel_stats(r)
        log_prob = weighted_log_prob(r.log_prob, weight, lengths)
        return SufficientStats(len(lengths), log_prob, r.start, r.trans, emission)

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

    def fit(
        self, X: Any, lengths: Any = None, sample_weight: Any = None, states: Any = None
    ) -> Any:
        """The whole local fit: input, initialisation, EM iterations; returns the model
        (``sample_weight``: :func:`input_weights`; ``states``: :func:`input_states`)."""
        X, lengths = self.input(X, lengths)
        weight = input_weights(sample_weight, lengths)
        states = input_states(states, X.shape[0], self.model.n_components)
        self.initialize(X, lengths, weight, states)
        self.family.check_data(X)
        X = self.family.prepare(X)
        for _ in range(self.model.n_iter):
            stats = self.estep(X, lengths, prepared=True, weight=weight, states=states)
            value = self.objective(stats)
            self.mstep(stats)
            if self.report(value):
                break
        return self.model

    def partial_fit(
        self, X: Any, lengths: Any = None, sample_weight: Any = None, states: Any = None, *,
        decay: float = 0.6, offset: float = 1.0,
    ) -> Any:  # fmt: skip
        """One step of stepwise (online) EM on a chunk of whole sequences; returns the
        model (see :meth:`fastgen.hmm.BaseHMM.partial_fit`).

        The first call initialises the model as :meth:`fit` does, unless every
        parameter is set; then the E-step of the chunk under the current parameters
        (weighted and clamped as :meth:`fit`'s by ``sample_weight`` and ``states``)
        gives statistics ``c_k``, scaled by ``F / frames(chunk)`` (``F``: the first
        chunk's frames, ``partial_fit_frames_``; with weights, frames count by their
        weight), which are mixed into the running
        statistics ``s_k = (1 - eta_k) s_(k-1) + eta_k * c_k`` (:func:`step_size`:
        ``eta_0 = 1``, then ``(k + offset) ** -decay``), and the M-step (priors
        included) runs on ``s_k``.  Statistics computed about parameter values (the
        family's ``stats_anchor``) are moved to the current ones before mixing.
        """
        check_step_size(decay, offset)
        model, family = self.model, self.family
        X, lengths = self.input(X, lengths)
        weight = input_weights(sample_weight, lengths)
        states = input_states(states, X.shape[0], model.n_components)
        size = X.shape[0] if weight is None else float(weight.sum())
        running = model.__dict__.get("partial_fit_stats_")
        if running is None:
            if is_fitted(model):
                self.check()
            else:
                self.initialize(X, lengths, weight, states)
            step, frames = 0, size
        else:
            self.check()
            running, anchor = split_running_stats(running)
            step, frames = model.partial_fit_steps_, model.partial_fit_frames_
        family.check_data(X)
        stats = self.estep(
            family.prepare(X), lengths, prepared=True, weight=weight, states=states
        ) * (frames / size)
        new_anchor = family.stats_anchor()  # the E-step's parameters, before the M-step
        if running is not None:
            eta = step_size(step, decay, offset)
            try:
                running.emission = family.move_stats(running.emission, anchor)
                stats = (1.0 - eta) * running + eta * stats
            except ValueError as exc:
                raise ValueError(
                    f"this chunk's statistics do not match partial_fit's running ones ({exc}); "
                    "params or the model changed since the last partial_fit: call fit, or "
                    "delete the partial_fit_*_ attributes to start afresh"
                ) from None
        self.mstep(stats)
        model.partial_fit_stats_ = {
            **stats.to_dict(),
            **{f"anchor:{k}": np.array(v, dtype=np.float64) for k, v in new_anchor.items()},
        }
        model.partial_fit_steps_ = step + 1
        model.partial_fit_frames_ = int(frames) if float(frames).is_integer() else float(frames)
        return model
