"""Docstring entries that several HMM classes share word for word, written once.

Each class's docstring holds ``{{name}}`` where a shared entry goes; the class is
decorated with ``fastgen._docstrings.fill(**SHARED)``.
"""

from __future__ import annotations

__all__ = ["SHARED"]


SHARED: dict[str, str] = {
    "n_components": """\
n_components : int, default=1
    Number of hidden states.""",
    "startprob_prior": """\
startprob_prior : float or array of shape (n_components,), default=1.0
    Concentrations of the Dirichlet prior on ``startprob_``.  The M-step takes
    the maximum a posteriori estimate: the expected number of sequences starting
    in each state plus ``startprob_prior - 1``, clipped at 0 and normalised.
    1.0 gives the maximum-likelihood update; larger values pull ``startprob_``
    towards uniform.""",
    "transmat_prior": """\
transmat_prior : float or array of shape (n_components, n_components), default=1.0
    Concentrations of the Dirichlet prior on each row of ``transmat_``, applied to
    the expected transition counts as ``startprob_prior`` is to the start counts.""",
    "algorithm": """\
algorithm : {"viterbi", "map"}, default="viterbi"
    Decoder of ``decode`` and ``predict``: "viterbi" finds the most likely
    state sequence, "map" the most probable state of each frame on its own (the
    argmax of ``predict_proba``).""",
    "n_iter": """\
n_iter : int, default=10
    Maximum number of EM iterations of ``fit``.""",
    "tol": """\
tol : float, default=1e-2
    Convergence threshold of ``fit``: EM stops once an iteration increases the
    log-likelihood by less than ``tol``.""",
    "verbose": """\
verbose : bool, default=False
    When True, ``fit`` prints one line per EM iteration to standard error (the
    iteration, the log-likelihood and its change).""",
    "implementation": """\
implementation : {"log", "scaling"}, default="log"
    How forward-backward keeps its numbers in range: "log" works with
    log-probabilities, "scaling" normalises the forward and backward messages at
    every frame.  Both compute the same quantities; "scaling" raises
    ``ValueError`` when it underflows nonetheless.""",
    "attr_n_features": """\
n_features : int
    Number of features (columns of ``X``).""",
    "attr_startprob_": """\
startprob_ : ndarray of shape (n_components,)
    Probability of each state at the start of a sequence.""",
    "attr_transmat_": """\
transmat_ : ndarray of shape (n_components, n_components)
    Transition probabilities: row ``i`` is the distribution of the state that
    follows state ``i``.""",
    "attr_monitor_": """\
monitor_ : ConvergenceMonitor
    The convergence monitor of the last ``fit``: ``monitor_.history`` holds the
    log-likelihood of every iteration, ``monitor_.iter`` their number.""",
    "attr_restart_objectives_": """\
restart_objectives_ : ndarray of shape (n_restarts,)
    The final log-likelihood of each of ``fit``'s restarts, in seed order;
    ``fit`` kept the first of the highest.  One value when ``n_init=1`` (or when
    one fit ran).""",
    "attr_partial_fit_steps_": """\
partial_fit_steps_ : int
    Number of ``partial_fit`` updates since its running statistics started (set
    by ``partial_fit`` only).""",
    "attr_partial_fit_frames_": """\
partial_fit_frames_ : int or float
    Frames of the first ``partial_fit`` chunk (weighted: their summed weights),
    the size its running statistics are scaled to.""",
    "attr_partial_fit_stats_": """\
partial_fit_stats_ : dict of str to float or ndarray
    The running sufficient statistics of ``partial_fit``, which model files keep
    so that a loaded model goes on learning.""",
    "n_init": """\
n_init : int, default=1
    fastgen only.  Number of EM fits that ``fit`` runs from the initialisations
    of as many seeds (drawn from ``random_state``); the one with the highest
    final log-likelihood is kept (``restart_objectives_`` records each).  See
    :class:`GaussianHMM` for how the seeds are chosen.""",
    "random_state": """\
random_state : int, numpy.random.RandomState or None, default=None
    Source of the random draws of ``fit``'s initialisation (Dirichlet draws of the
    chain, random rows of ``emissionprob_``) and of ``sample`` when it is given no
    generator.  An int makes fits reproducible; None uses NumPy's global generator.""",
    "init_params": """\
init_params : str, default="ste"
    Letters of the parameters that ``fit`` initialises before EM (same letters as
    ``params``).  A parameter whose letter is missing starts from the value set on
    the model; one that is not set is initialised anyway.""",
    "attr_n_features_symbols": """\
n_features : int
    Number of symbols (the constructor's value, or set by ``fit``).""",
    "startprob_prior_variational": """\
startprob_prior : float or array of shape (n_components,), optional
    Concentrations of the Dirichlet prior on ``startprob_``; the posterior
    ``startprob_posterior_`` is this prior plus the expected number of sequences
    starting in each state.  None (default): ``1 / n_components``.""",
    "transmat_prior_variational": """\
transmat_prior : float or array of shape (n_components, n_components), optional
    Concentrations of the Dirichlet prior on each row of ``transmat_``; the
    posterior ``transmat_posterior_`` is this prior plus the expected transition
    counts.  None (default): ``1 / n_components``.""",
    "n_iter_variational": """\
n_iter : int, default=100
    Maximum number of EM iterations of ``fit``.""",
    "tol_variational": """\
tol : float, default=1e-6
    Convergence threshold of ``fit``: EM stops once an iteration increases the
    lower bound by less than ``tol``.""",
    "verbose_variational": """\
verbose : bool, default=False
    When True, ``fit`` prints one line per EM iteration to standard error (the
    iteration, the lower bound and its change).""",
    "n_init_variational": """\
n_init : int, default=1
    fastgen only.  Number of EM fits that ``fit`` runs from the initialisations
    of as many seeds (drawn from ``random_state``); the one with the highest
    final lower bound is kept (``restart_objectives_`` records each).  See
    :class:`GaussianHMM` for how the seeds are chosen.""",
    "attr_startprob_variational": """\
startprob_ : ndarray of shape (n_components,)
    Posterior mean of the start distribution.""",
    "attr_transmat_variational": """\
transmat_ : ndarray of shape (n_components, n_components)
    Posterior mean of the transition matrix.""",
    "attr_monitor_variational": """\
monitor_ : ConvergenceMonitor
    The convergence monitor of the last ``fit``: ``monitor_.history`` holds the
    lower bound of every iteration, ``monitor_.iter`` their number.""",
    "attr_restart_objectives_variational": """\
restart_objectives_ : ndarray of shape (n_restarts,)
    The final lower bound of each of ``fit``'s restarts, in seed order;
    ``fit`` kept the first of the highest.  One value when ``n_init=1`` (or when
    one fit ran).""",
}

# what every fit leaves besides the parameters: its record and partial_fit's statistics
_RECORD = ("attr_restart_objectives_", "attr_partial_fit_steps_", "attr_partial_fit_frames_",
           "attr_partial_fit_stats_")  # fmt: skip
SHARED["attr_fit_record"] = "\n".join(SHARED[k] for k in ("attr_monitor_", *_RECORD))
SHARED["attr_fit_record_variational"] = "\n".join(
    SHARED[k]
    for k in ("attr_monitor_variational", "attr_restart_objectives_variational", *_RECORD[1:])
)
