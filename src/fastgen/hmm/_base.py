"""The estimator API shared by every HMM: fit, score, decode, sample, criteria.

An estimator is :class:`BaseHMM` plus an emission family (its ``emission_family``
class attribute, see :mod:`fastgen.hmm._family`); the numbers come from the engine
(:mod:`fastgen.hmm._engine`).
"""

from __future__ import annotations

import string
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from fastgen._base import BaseEstimator, check_is_fitted
from fastgen._docstrings import fill
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
    prepared_input,
    validate_params,
    viterbi,
)
from fastgen.hmm._family import EmissionFamily
from fastgen.hmm._util import check_random_state, startidx

if TYPE_CHECKING:
    from fastgen.hmm._stream import HMMStream

__all__ = ["BaseHMM", "SubclassEmissions"]

#: the ``X`` / ``lengths`` parameters every sequence method takes
_SEQUENCES = """\
X : array-like of shape (n_samples, n_features), or list of such arrays
    Observations, one row per frame, the sequences one after the other (for
    the categorical models: one column of integer symbols).  A list holds one
    2-D array per sequence and replaces ``lengths``.
lengths : array-like of int of shape (n_sequences,), optional
    Number of frames of each sequence of ``X``, in order; they sum to
    ``n_samples``.  None: ``X`` is a single sequence."""
#: what a method of a fitted model raises
_FITTED_RAISES = """\
NotFittedError
    If the model is not fitted yet (no ``startprob_``).
ValueError
    If ``X`` or ``lengths`` is invalid, or does not match the fitted model."""


class SubclassEmissions(EmissionFamily):
    """The emissions of a :class:`BaseHMM` subclass written against hmmlearn's hooks:
    frame log-likelihoods from the model's ``_compute_log_likelihood(X)`` and draws
    from its ``_generate_sample_from_state(state, random_state)``; nothing to
    initialise or fit (only the chain is learned).

    Parameters
    ----------
    model : BaseHMM
        The estimator the family is bound to: it reads the estimator's
        hyperparameters and reads and writes its fitted emission attributes.
    """

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

    Every fastgen HMM is this class plus one emission family: it holds the Markov
    chain (``startprob_``, ``transmat_``) and every method of the estimator API
    (``fit``, ``partial_fit``, ``score``, ``decode``, ``sample``, ...).  Subclasses
    set ``emission_family`` (an :class:`~fastgen.hmm._family.EmissionFamily`
    subclass) and a constructor storing hmmlearn's parameters and the family's own.

    As hmmlearn's ``BaseHMM``, it may also be subclassed through hmmlearn's hooks: a
    subclass that keeps the default ``emission_family`` and this constructor
    implements ``_compute_log_likelihood(X)`` (frame log-likelihoods, shape
    ``(n_samples, n_components)``) and, to sample,
    ``_generate_sample_from_state(state, random_state)``; EM then learns the chain
    only.  The ``engine`` class attribute names the EM engine that fits and checks
    the model (:class:`~fastgen.hmm._engine.BaumWelch` unless a subclass says
    otherwise).

    Parameters
    ----------
    n_components : int, default=1
        Number of hidden states.
    startprob_prior : float or array of shape (n_components,), default=1.0
        Concentrations of the Dirichlet prior on ``startprob_``.  The M-step takes
        the maximum a posteriori estimate: the expected number of sequences starting
        in each state plus ``startprob_prior - 1``, clipped at 0 and normalised.
        1.0 gives the maximum-likelihood update; larger values pull ``startprob_``
        towards uniform.
    transmat_prior : float or array of shape (n_components, n_components), default=1.0
        Concentrations of the Dirichlet prior on each row of ``transmat_``, applied to
        the expected transition counts as ``startprob_prior`` is to the start counts.
    algorithm : {"viterbi", "map"}, default="viterbi"
        Decoder of :meth:`decode` and :meth:`predict`: "viterbi" finds the most likely
        state sequence, "map" the most probable state of each frame on its own (the
        argmax of :meth:`predict_proba`).
    random_state : int, numpy.random.RandomState or None, default=None
        Source of the random draws of ``fit``'s initialisation (and of
        :meth:`sample` when it is given no generator).  An int makes fits
        reproducible; None uses NumPy's global generator.
    n_iter : int, default=10
        Maximum number of EM iterations of ``fit``.
    tol : float, default=1e-2
        Convergence threshold of ``fit``: EM stops once an iteration increases the
        log-likelihood by less than ``tol``.
    verbose : bool, default=False
        When True, ``fit`` prints one line per EM iteration to standard error (the
        iteration, the log-likelihood and its change).
    params : str, default=all ASCII letters
        Letters of the parameters that EM updates: "s" for ``startprob_``, "t" for
        ``transmat_`` and the emission family's letters; parameters whose letter is
        missing keep their values.
    init_params : str, default=all ASCII letters
        Letters of the parameters that ``fit`` initialises before EM (same letters as
        ``params``).  A parameter whose letter is missing starts from the value set
        on the model; one that is not set is initialised anyway.
    implementation : {"log", "scaling"}, default="log"
        How forward-backward keeps its numbers in range: "log" works with
        log-probabilities, "scaling" normalises the forward and backward messages at
        every frame.  Both compute the same quantities; "scaling" raises
        ``ValueError`` when it underflows nonetheless.
    n_init : int, default=1
        Number of random restarts of ``fit`` (fastgen only); the fit with the highest
        final log-likelihood is kept.  See :class:`GaussianHMM` for how the restarts
        are seeded and run.

    Attributes
    ----------
    n_features : int
        Number of features (columns) of ``X``, or of symbols for the categorical
        models; set by ``fit``.
    startprob_ : ndarray of shape (n_components,)
        Probability of each state at the start of a sequence.
    transmat_ : ndarray of shape (n_components, n_components)
        Transition probabilities: row ``i`` is the distribution of the next state
        after state ``i``.
    monitor_ : ConvergenceMonitor
        The convergence monitor of the last ``fit``: ``monitor_.history`` holds the
        log-likelihood of every iteration, ``monitor_.iter`` their number.
    restart_objectives_ : ndarray of shape (n_restarts,)
        The final log-likelihood of each of ``fit``'s restarts, in seed order.
    partial_fit_steps_ : int
        Number of :meth:`partial_fit` updates since the running statistics started.
    partial_fit_frames_ : int or float
        The number of frames (or their summed weights) of the first
        :meth:`partial_fit` chunk, the size the running statistics are scaled to.
    partial_fit_stats_ : dict of str to float or ndarray
        The running sufficient statistics of :meth:`partial_fit`.

    See Also
    --------
    GaussianHMM : HMM with Gaussian emissions.
    CategoricalHMM : HMM with categorical (symbol) emissions.
    fastgen.hmm.HMMStream : Filter sequences chunk by chunk with a fitted model.
    fastgen.dask.fit_hmm : Fit an HMM by EM over a Dask DataFrame.

    Examples
    --------
    A subclass written against hmmlearn's hook: two states with fixed unit-variance
    Gaussian emissions centred on 0 and 4; EM learns the chain.

    >>> import numpy as np
    >>> from fastgen.hmm import BaseHMM
    >>> class TwoLevels(BaseHMM):
    ...     def _compute_log_likelihood(self, X):
    ...         return -0.5 * (X - np.array([0.0, 4.0])) ** 2 - 0.5 * np.log(2 * np.pi)
    >>> X = np.concatenate([np.zeros(30), np.full(30, 4.0)])[:, None]
    >>> model = TwoLevels(2, random_state=0).fit(X)
    >>> model.predict(X)[[0, -1]].tolist()
    [0, 1]
    >>> np.round(model.transmat_, 2).tolist()
    [[0.97, 0.03], [0.0, 1.0]]
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
        return prepared_input(self, X, lengths)

    @fill(sequences=_SEQUENCES, fitted_raises=_FITTED_RAISES)
    def score_samples(self, X: Any, lengths: Any = None) -> tuple[float, np.ndarray]:
        """Log-likelihood of ``X`` and the posterior probability of every state.

        Runs forward-backward once and returns both the log-likelihood (as
        :meth:`score`) and the smoothed state posteriors (as :meth:`predict_proba`).

        Parameters
        ----------
        {{sequences}}

        Returns
        -------
        log_prob : float
            Log-likelihood of ``X``, summed over its sequences.
        posteriors : ndarray of shape (n_samples, n_components)
            ``p(z_t = i | sequence)`` of every frame ``t`` and state ``i``, given its
            whole sequence; rows sum to 1 (all zero in a sequence that is impossible
            under the model).

        Raises
        ------
        {{fitted_raises}}

        See Also
        --------
        score : The log-likelihood only.
        filter : Posteriors given the frames up to each frame only.

        Examples
        --------
        >>> import numpy as np
        >>> from fastgen.hmm import GaussianHMM
        >>> X = np.random.default_rng(0).normal(size=(100, 1))
        >>> model = GaussianHMM(2, random_state=0).fit(X)
        >>> log_prob, posteriors = model.score_samples(X)
        >>> posteriors.shape
        (100, 2)
        >>> bool(np.isclose(log_prob, model.score(X)))
        True
        """
        family, X, lengths = self._prepare(X, lengths)
        r = forward_backward(self, family, X, lengths, posteriors=True)
        return float(r.log_prob.sum()), r.gamma

    @fill(sequences=_SEQUENCES, fitted_raises=_FITTED_RAISES)
    def score(self, X: Any, lengths: Any = None) -> float:
        """Log-likelihood of ``X`` under the model, summed over its sequences.

        For the variational models, the log-likelihood under their point estimates
        (the posterior means).

        Parameters
        ----------
        {{sequences}}

        Returns
        -------
        float
            ``log p(X)``: the sum of the log-likelihoods of the sequences (``-inf``
            when one is impossible under the model).

        Raises
        ------
        {{fitted_raises}}

        See Also
        --------
        score_sequences : The log-likelihood of each sequence.
        score_samples : The log-likelihood and the state posteriors.
        """
        family, X, lengths = self._prepare(X, lengths)
        return float(forward_backward(self, family, X, lengths, posteriors=False).log_prob.sum())

    @fill(sequences=_SEQUENCES)
    def score_sequences(self, X: Any, lengths: Any = None) -> np.ndarray:
        """Log-likelihood of each sequence, from the same kernel call as ``score``.

        ``score`` is their sum; this keeps them apart, for classifying or flagging
        sequences (one model per class, or a threshold on the score).

        Parameters
        ----------
        {{sequences}}

        Returns
        -------
        ndarray of shape (n_sequences,)
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

    @fill(sequences=_SEQUENCES)
    def filter(self, X: Any, lengths: Any = None) -> np.ndarray:
        """Filtered state probabilities ``p(z_t | x_1..t)`` of every frame: no look-ahead.

        ``predict_proba`` conditions each frame on its whole sequence (smoothing), so it
        uses observations that come after the frame; ``filter`` uses only those up to it,
        as a model run live would.  At a sequence's last frame the two agree.

        Parameters
        ----------
        {{sequences}}

        Returns
        -------
        ndarray of shape (n_samples, n_components)
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
        return _k.forward_filter(
            startidx(lengths), self.startprob_, self.transmat_, family.emission_model(X)
        ).filtered

    def stream(self, n_streams: int = 1, lag: int = 0) -> HMMStream:
        """A stateful filter over ``n_streams`` concurrent sequences fed chunk by chunk.

        Equivalent to ``HMMStream(self, n_streams, lag)``: see :class:`HMMStream`.

        Parameters
        ----------
        n_streams : int, default=1
            Number of concurrent sequences the stream follows.
        lag : int, default=0
            Frames of look-ahead of the fixed-lag smoother (0: filtering only).

        Returns
        -------
        HMMStream
            A new stream bound to this model, every sequence at its start.

        Examples
        --------
        >>> import numpy as np
        >>> from fastgen.hmm import GaussianHMM
        >>> X = np.random.default_rng(0).normal(size=(200, 1))
        >>> model = GaussianHMM(2, random_state=0).fit(X)
        >>> stream = model.stream()
        >>> parts = [stream.update(X[:120]).filtered, stream.update(X[120:]).filtered]
        >>> bool(np.allclose(np.concatenate(parts), model.filter(X), rtol=0, atol=1e-10))
        True
        """
        from fastgen.hmm._stream import HMMStream

        return HMMStream(self, n_streams=n_streams, lag=lag)

    @fill(sequences=_SEQUENCES, fitted_raises=_FITTED_RAISES)
    def predict_proba(self, X: Any, lengths: Any = None) -> np.ndarray:
        """Posterior probability of every state at every frame, given its sequence.

        Parameters
        ----------
        {{sequences}}

        Returns
        -------
        ndarray of shape (n_samples, n_components)
            ``p(z_t = i | sequence)``; rows sum to 1 (all zero in a sequence that is
            impossible under the model).

        Raises
        ------
        {{fitted_raises}}

        See Also
        --------
        filter : The same without look-ahead, ``p(z_t | x_1..t)``.
        predict : The most likely states.
        """
        return self.score_samples(X, lengths)[1]

    @fill(sequences=_SEQUENCES)
    def decode(
        self, X: Any, lengths: Any = None, algorithm: str | None = None
    ) -> tuple[float, np.ndarray]:
        """Most likely hidden states of ``X`` and their score.

        Parameters
        ----------
        {{sequences}}
        algorithm : {"viterbi", "map"}, optional
            "viterbi": the most likely state sequence of each sequence as a whole;
            "map": the most probable state of each frame on its own (the argmax of
            :meth:`predict_proba`).  None (default): the model's ``algorithm``.

        Returns
        -------
        log_prob : float
            "viterbi": the log-probability of the decoded paths jointly with ``X``,
            summed over sequences; "map": the sum over frames of the largest
            posterior probability, as hmmlearn returns it.
        state_sequence : ndarray of int of shape (n_samples,)
            The decoded state of every frame.

        Raises
        ------
        NotFittedError
            If the model is not fitted yet.
        ValueError
            If ``algorithm`` is unknown, or ``X`` or ``lengths`` is invalid.

        See Also
        --------
        predict : The decoded states only.

        Examples
        --------
        >>> import numpy as np
        >>> from fastgen.hmm import GaussianHMM
        >>> X = np.concatenate([np.zeros((20, 1)), np.full((20, 1), 5.0)])
        >>> X += np.random.default_rng(0).normal(0, 0.1, X.shape)
        >>> model = GaussianHMM(2, random_state=0).fit(X)
        >>> log_prob, states = model.decode(X)
        >>> int((states[:20] != states[0]).sum()), int((states[20:] != states[-1]).sum())
        (0, 0)
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

    @fill(sequences=_SEQUENCES, fitted_raises=_FITTED_RAISES)
    def predict(self, X: Any, lengths: Any = None) -> np.ndarray:
        """Most likely hidden state of every frame, by the model's ``algorithm``.

        Parameters
        ----------
        {{sequences}}

        Returns
        -------
        ndarray of int of shape (n_samples,)
            The decoded state of every frame (see :meth:`decode`).

        Raises
        ------
        {{fitted_raises}}

        See Also
        --------
        decode : The states and their log-probability, with a choice of decoder.
        predict_proba : The posterior probability of every state.
        """
        return self.decode(X, lengths)[1]

    # ------------------------------------------------------------ learning

    @fill(sequences=_SEQUENCES)
    def fit(
        self, X: Any, lengths: Any = None, sample_weight: Any = None, states: Any = None
    ) -> BaseHMM:
        """Estimate the parameters by EM (Baum-Welch), the best of ``n_init`` fits,
        optionally weighted and/or semi-supervised.

        Runs up to ``n_iter`` EM iterations from the initialisation that
        ``init_params`` selects, stopping early once the log-likelihood gains less
        than ``tol``; with ``n_init > 1``, that many fits from different seeds, the
        best kept.  It starts afresh: running statistics of :meth:`partial_fit` are
        dropped.

        Parameters
        ----------
        {{sequences}}
        sample_weight : float array (n_sequences,) or (n_samples,), optional
            Non-negative finite weights, one per sequence or one per frame.  Frame
            ``t``'s weight multiplies its contributions to the expected sufficient
            statistics: its posteriors in the emission statistics, the expected
            transitions into it and, first in its sequence, its start counts.  A
            sequence's weight is the weight of all its frames, so an integer weight
            ``k`` fits as ``k`` copies of the sequence would (from the same starting
            parameters), and a sequence of weight 0 contributes nothing.  The
            initialisation (``init_params``) reads the frames of positive weight,
            unweighted.  ``monitor_`` records ``sum_s wbar_s log p(x_s)`` (the lower
            bound's data term likewise for the variational HMMs), ``wbar_s`` the mean
            weight of sequence ``s``'s frames: the weighted log-likelihood that EM
            increases for per-sequence weights.  With weights varying within a
            sequence, EM on the weighted statistics need not increase it at every
            iteration.
        states : int array (n_samples,), optional
            Known states for a semi-supervised fit: ``-1`` where unknown, else the
            frame's state in ``[0, n_components)``.  A labelled frame's emission
            likelihood is taken as 0 in every other state, which clamps its
            posteriors (and the transitions into and out of it); fully labelled data
            give the supervised estimate (counts of starts and transitions and the
            family's M-step on the hard assignments, with the same priors) in one
            iteration.  ``monitor_`` then records the log-likelihood of the data
            with its labels.  When every state has labelled frames, the emission
            parameters that ``init_params`` initialises start from the labelled
            frames (the family's M-step on their hard assignments, the unlabelled
            frames adding their posteriors under the usual initialisation at weight
            1e-3, see ``BaumWelch.initialize_from_labels``); otherwise, and for the
            chain, the usual initialisation.

        Returns
        -------
        self : object
            The fitted estimator.

        Raises
        ------
        ValueError
            If a hyperparameter, ``X``, ``lengths``, ``sample_weight`` or ``states`` is
            invalid, or if set parameters are inconsistent.

        See Also
        --------
        partial_fit : Online EM over chunks of sequences.
        fastgen.hmm.select_n_components : Choose ``n_components`` by BIC or AIC.
        fastgen.dask.fit_hmm : The same EM over a Dask DataFrame.

        Examples
        --------
        >>> import numpy as np
        >>> from fastgen.hmm import GaussianHMM
        >>> rng = np.random.default_rng(0)
        >>> X = np.concatenate([rng.normal(0, 1, (50, 1)), rng.normal(5, 1, (50, 1))])
        >>> model = GaussianHMM(2, random_state=0)
        >>> _ = model.fit(X, [50, 50], sample_weight=[1.0, 2.0])
        >>> states = np.full(100, -1)
        >>> states[:5], states[50:55] = 0, 1
        >>> model = GaussianHMM(2, random_state=0).fit(X, [50, 50], states=states)
        >>> bool(model.means_[0, 0] < 1 < 4 < model.means_[1, 0])
        True
        >>> X = np.random.default_rng(0).normal(size=(500, 2))
        >>> model = GaussianHMM(3, random_state=0, n_init=4).fit(X, [250, 250])
        >>> model.restart_objectives_.shape
        (4,)
        >>> bool(model.monitor_.history[-1] == model.restart_objectives_.max())
        True
        """
        return _restarts.fit(self, X, lengths, sample_weight, states)

    def partial_fit(
        self, X: Any, lengths: Any = None, sample_weight: Any = None, states: Any = None, *,
        decay: float = 0.6, offset: float = 1.0,
    ) -> BaseHMM:  # fmt: skip
        """Update the parameters from one chunk of whole sequences (stepwise EM).

        Online (stepwise) EM for data that arrives in chunks or does not fit in
        memory: each call runs the E-step of its chunk under the current parameters,
        mixes the chunk's expected counts into running statistics and runs the usual
        M-step (priors included) on them.  With chunk ``k = 0, 1, ...`` (``k``: the
        number of earlier calls, ``partial_fit_steps_``) and ``c_k`` its statistics
        scaled to the first chunk's number of frames ``F`` (times ``F /
        n_samples``: a chunk weighs by its step size, whatever its size or how it is
        split into sequences)::

            s_k = (1 - eta_k) * s_(k-1) + eta_k * c_k,
            eta_0 = 1,  eta_k = (k + offset) ** -decay

        How it relates to :meth:`fit` (batch EM):

        * the first call on a model without running statistics initialises it as
          ``fit`` does (``init_params``; unless every parameter is already set) and
          takes ``eta_0 = 1``: on one chunk holding all the data it is exactly one EM
          iteration, ``fit`` with ``n_iter=1``;
        * with ``decay`` in (0.5, 1] the steps satisfy Robbins-Monro's conditions:
          repeated passes over the chunks converge to a stationary point of the
          likelihood of all of them (as batch EM, possibly another local optimum);
          ``decay=1, offset=1`` makes ``s_k`` the plain mean of every chunk's
          statistics so far;
        * the running statistics are those of ``F`` frames, so priors weigh against
          one first-chunk's worth of data (batch EM: against all of it).

        The variational models (:class:`VariationalGaussianHMM`,
        :class:`VariationalCategoricalHMM`) set their posteriors to prior + running
        statistics: as their posteriors' natural parameters are affine in the
        statistics, that is stochastic variational inference's natural-gradient step
        ``lambda_k = (1 - eta_k) lambda_(k-1) + eta_k (prior + c_k)`` (Hoffman et al.,
        2013) with a data set of ``F`` frames.  :class:`GMMHMM`'s covariance statistic
        is the posterior scatter about the E-step's means: the running one is moved
        to the new E-step's means before each mix, so the mix stays exact.

        ``fit`` starts afresh (it drops the running statistics); a model file keeps
        them, so a loaded model goes on with its next ``partial_fit``.  What the first
        chunk sets stays: ``n_features`` (:class:`CategoricalHMM`: the largest symbol
        seen + 1, so set ``n_features`` when later chunks may hold larger symbols) and
        :class:`MultinomialHMM`'s ``n_trials`` when None (set it when the totals vary).

        Parameters
        ----------
        X : array-like (n_samples, n_features), or a list of such arrays
            The chunk: whole sequences, with the ``n_features`` of earlier chunks.  A
            list holds one 2-D array per sequence and replaces ``lengths``.
        lengths : array-like of int of shape (n_sequences,), optional
            Number of frames of each sequence of the chunk, in order; they sum to
            ``n_samples``.  None: the chunk is a single sequence.
        sample_weight : float array (n_sequences,) or (n_samples,), optional
            As :meth:`fit`'s, for this chunk: an integer weight updates as repeated
            copies of the sequence in the chunk would; a weighted chunk's size (the
            ``F / n_samples`` scaling) counts frames by their weight.
        states : int array (n_samples,), optional
            As :meth:`fit`'s: known states of some frames of this chunk (-1: unknown).
        decay : float in (0.5, 1], default=0.6
            How fast the step size decreases.
        offset : float >= 1, default=1
            Delays the decrease (larger: later chunks weigh less at first).

        Returns
        -------
        self : object
            The updated estimator.

        Raises
        ------
        ValueError
            If ``decay`` or ``offset`` is out of range, or the chunk is invalid (as
            for :meth:`fit`).

        Attributes
        ----------
        partial_fit_steps_ : int
            Number of updates since the running statistics started.
        partial_fit_frames_ : int or float
            ``F``: the frames of the first chunk (weighted: their summed weights), the
            size the statistics are scaled to.
        partial_fit_stats_ : dict of str to float or float64 array
            The running statistics ``s_k`` (:meth:`SufficientStats.to_dict
            <fastgen.hmm._engine.SufficientStats.to_dict>`).

        Examples
        --------
        >>> import numpy as np
        >>> from fastgen.hmm import GaussianHMM
        >>> rng = np.random.default_rng(0)
        >>> chunks = [rng.normal(size=(200, 2)) + [[3, 0]] * (rng.random((200, 1)) < 0.5)
        ...           for _ in range(5)]
        >>> model = GaussianHMM(2, random_state=0)
        >>> for _ in range(3):  # passes over the data
        ...     for chunk in chunks:
        ...         model = model.partial_fit(chunk, [100, 100])
        >>> model.partial_fit_steps_, model.partial_fit_frames_
        (15, 200)
        >>> bool(np.isfinite(model.score(chunks[0], [100, 100])))
        True
        """
        return self.engine(self).partial_fit(
            X, lengths, sample_weight, states, decay=decay, offset=offset
        )

    # ------------------------------------------------------------ misc

    def sample(
        self, n_samples: int = 1, random_state: Any = None, currstate: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw a sequence of ``n_samples`` observations and their hidden states.

        The draws consume the generator in hmmlearn's order, so a model with the same
        parameters and seed gives the same sample as hmmlearn's.

        Parameters
        ----------
        n_samples : int, default=1
            Number of frames to draw.
        random_state : int, numpy.random.RandomState or None, default=None
            Source of the draws; None: the model's ``random_state``.
        currstate : int, optional
            State of the first frame; None (default): drawn from ``startprob_``.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            The observations (integer counts or symbols for the discrete models).
        state_sequence : ndarray of int of shape (n_samples,)
            The hidden state of every frame.

        Raises
        ------
        NotFittedError
            If the model's parameters are not set.

        Examples
        --------
        >>> import numpy as np
        >>> from fastgen.hmm import CategoricalHMM
        >>> model = CategoricalHMM(2, init_params="", random_state=0)
        >>> model.startprob_ = np.array([1.0, 0.0])
        >>> model.transmat_ = np.array([[0.0, 1.0], [1.0, 0.0]])
        >>> model.emissionprob_ = np.array([[1.0, 0.0], [0.0, 1.0]])
        >>> X, states = model.sample(4)
        >>> X.ravel().tolist(), states.tolist()
        ([0, 1, 0, 1], [0, 1, 0, 1])
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
        """Stationary distribution of the chain: the left eigenvector of ``transmat_``
        of eigenvalue 1, normalised.

        Returns
        -------
        ndarray of shape (n_components,)
            ``pi`` with ``pi @ transmat_ == pi`` and entries summing to 1.

        Raises
        ------
        NotFittedError
            If ``transmat_`` is not set.
        """
        from scipy import linalg  # imported where used: scipy.linalg takes ~0.3 s to import

        check_is_fitted(self, "transmat_")
        eigvals, eigvecs = linalg.eig(self.transmat_.T)
        eigvec = np.real_if_close(eigvecs[:, np.argmax(eigvals)])
        return eigvec / eigvec.sum()

    def _n_parameters(self) -> int:
        nc = self.n_components
        return nc - 1 + nc * (nc - 1) + sum(family_of(self).n_fit_scalars().values())

    @fill(sequences=_SEQUENCES, fitted_raises=_FITTED_RAISES)
    def aic(self, X: Any, lengths: Any = None) -> float:
        """Akaike information criterion of the model on ``X``: ``-2 log L + 2 n_params``.

        Parameters
        ----------
        {{sequences}}

        Returns
        -------
        float
            The criterion; lower is better.  ``n_params`` is the number of free
            scalars of the model (hmmlearn's count), ``L`` the likelihood of ``X``
            (for the variational models, under their point estimates).

        Raises
        ------
        {{fitted_raises}}

        See Also
        --------
        fastgen.hmm.select_n_components : Fit and compare several ``n_components``.
        """
        return -2 * self.score(X, lengths) + 2 * self._n_parameters()

    @fill(sequences=_SEQUENCES, fitted_raises=_FITTED_RAISES)
    def bic(self, X: Any, lengths: Any = None) -> float:
        """Bayesian information criterion of the model on ``X``:
        ``-2 log L + n_params log(n_samples)``.

        Parameters
        ----------
        {{sequences}}

        Returns
        -------
        float
            The criterion; lower is better.  ``n_params`` is the number of free
            scalars of the model (hmmlearn's count), ``L`` the likelihood of ``X``
            (for the variational models, under their point estimates).

        Raises
        ------
        {{fitted_raises}}

        See Also
        --------
        fastgen.hmm.select_n_components : Fit and compare several ``n_components``.
        """
        n = input_sequences(X, lengths, family_of(self))[0].shape[0]
        return -2 * self.score(X, lengths) + self._n_parameters() * np.log(n)
