"""Random restarts of an HMM fit (``n_init``) and the choice of ``n_components``.

A fit with ``n_init > 1`` runs ``n_init`` whole EM fits, each from the initialisation
its own seed draws, and keeps the one whose last recorded objective (``monitor_``'s
log-likelihood; the lower bound for a variational model) is the highest, the first of
equal ones.  The seeds are derived from ``random_state`` before any fit starts and each
restart fits a copy of the estimator, so the fits run side by side on threads
(:func:`fastgen._threads.map_tasks`, the compiled kernels releasing the GIL) and the
result depends neither on the number of threads nor on which restart ends first.

:func:`select_n_components` fits a range of ``n_components``, every restart of every
candidate in one such batch, and scores the candidates by BIC or AIC.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from fastgen import _threads
from fastgen.hmm._engine import _log, validate_params
from fastgen.hmm._util import check_random_state

__all__ = ["fit", "restart_seeds", "select_n_components"]

CRITERIA = ("bic", "aic")
#: fewer frames than this: the restarts run one after the other (on 2 cores, threads
#: cost ~20% on 10,000 frames, where Python and small NumPy calls hold the GIL, and
#: gain from ~25,000 on); the results are the same either way
PARALLEL_MIN_FRAMES = 20_000


def restart_seeds(random_state: Any, n_init: int) -> list:
    """The ``random_state`` of each of ``n_init`` restarts.

    An int seeds restart 0 itself (so that restart is the fit ``n_init=1`` makes) and,
    through ``numpy.random.SeedSequence``, the others; ``None`` (NumPy's global
    generator) or a ``RandomState`` draws ``n_init`` int seeds from that generator.
    """
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        check_random_state(random_state)  # the model's own check of the seed
        others = np.random.SeedSequence(int(random_state)).generate_state(n_init - 1)
        return [random_state, *(int(s) for s in others)]
    rs = check_random_state(random_state)
    return [int(s) for s in rs.randint(np.iinfo(np.int32).max, size=n_init)]


def _objective(model: Any) -> float:
    """The last value ``monitor_`` recorded (``-inf`` when none, or NaN)."""
    history = model.__dict__["monitor_"].history
    value = float(history[-1]) if history else -math.inf
    return value if value == value else -math.inf


def _fit_one(task: tuple) -> tuple[Any, float]:
    model, X, lengths, sample_weight, states = task
    type(model).engine(model).fit(X, lengths, sample_weight, states)
    return model, _objective(model)


def _restarts(model: Any, n_init: int) -> list:
    """Copies of ``model``, one per restart, each with its own seed (``[model]`` when
    the fit initialises nothing from random: every restart would be the same fit)."""
    if n_init == 1:
        return [model]
    if not type(model).engine(model).initializes_anything():
        _log.warning(
            "n_init=%d but fit initialises no parameter (init_params names none and all "
            "are set): every restart would be the same fit; fitting once.",
            n_init,
        )
        return [model]
    copies = []
    for seed in restart_seeds(model.random_state, n_init):
        restart = copy.deepcopy(model)
        restart.random_state = seed
        copies.append(restart)
    return copies


def _keep(model: Any, restarts: list, objectives: list[float]) -> Any:
    """Give ``model`` the fitted state of its best restart (the first of equal ones):
    everything but its ``random_state`` (what fit sets of the parameters too, as
    ``n_features`` or ``n_trials`` when None); ``model`` keeps its ``monitor_`` object,
    which takes the best restart's record."""
    best = restarts[int(np.argmax(objectives))]
    if best is not model:
        monitor = model.__dict__.get("monitor_")
        for name, value in vars(best).items():
            if name != "random_state":
                setattr(model, name, value)
        if monitor is not None:  # a monitor set by the user stays the one reporting
            vars(monitor).update(vars(best.__dict__["monitor_"]))
            model.monitor_ = monitor
    model.restart_objectives_ = np.array(objectives, dtype=np.float64)
    return model


def fit(
    model: Any, X: Any, lengths: Any = None, sample_weight: Any = None, states: Any = None
) -> Any:
    """``model.fit``: ``model.n_init`` EM fits side by side (each with the same
    ``sample_weight`` and ``states``), the best kept."""
    em = type(model).engine(model)  # validates the hyperparameters, n_init included
    restarts = _restarts(model, model.n_init)
    if len(restarts) == 1:
        em.fit(X, lengths, sample_weight, states)
        return _keep(model, [model], [_objective(model)])
    X, lengths = em.input(X, lengths)  # validated once, not once per restart
    tasks = [(r, X, lengths, sample_weight, states) for r in restarts]
    results = _threads.map_tasks(_fit_one, tasks, parallel=len(X) >= PARALLEL_MIN_FRAMES)
    return _keep(model, restarts, [value for _, value in results])


def select_n_components(
    estimator: Any,
    X: Any,
    lengths: Any = None,
    *,
    n_components: Iterable[int] = range(1, 6),
    criterion: str = "bic",
    n_init: int | None = None,
) -> tuple[Any, dict[int, float]]:
    """Choose ``n_components`` of an HMM by BIC or AIC, fitting every candidate.

    Each candidate is a clone of ``estimator`` with that ``n_components`` (and
    ``n_init`` when given), fitted on ``X`` as its ``fit`` would (the best of its
    ``n_init`` restarts) and scored by its :meth:`~fastgen.hmm.BaseHMM.bic` or
    :meth:`~fastgen.hmm.BaseHMM.aic` on the same ``X``.  Every restart of every
    candidate runs in one batch on :func:`fastgen.get_num_threads` threads; the result
    does not depend on their number.

    Parameters
    ----------
    estimator : fastgen HMM
        Unfitted template (any family); cloned, never fitted itself.  Its
        ``random_state`` seeds every candidate (the same seed for each: pass an int for
        reproducible results).
    X : array-like of shape (n_samples, n_features), or list of such arrays
        The training data, one row per frame, the sequences one after the other; a
        list holds one 2-D array per sequence and replaces ``lengths``.  Every
        candidate is fitted and scored on it.
    lengths : array-like of int of shape (n_sequences,), optional
        Number of frames of each sequence of ``X``, in order; they sum to
        ``n_samples``.  None: ``X`` is a single sequence.
    n_components : iterable of int, default=range(1, 6)
        The candidates (positive, distinct).
    criterion : {"bic", "aic"}, default="bic"
        Lower is better; ties go to the smaller ``n_components``.
    n_init : int, optional
        Restarts per candidate (default: ``estimator.n_init``).

    Returns
    -------
    best : fastgen HMM
        The fitted candidate with the lowest criterion.
    scores : dict of int to float
        The criterion of every candidate, by ``n_components``, in the order given.

    Raises
    ------
    ValueError
        For an empty, non-integer, non-positive or repeated ``n_components``, an unknown
        ``criterion``, or what the candidates' ``fit`` refuses.

    See Also
    --------
    fastgen.hmm.BaseHMM.bic : The Bayesian information criterion of a fitted model.
    fastgen.hmm.BaseHMM.aic : The Akaike information criterion of a fitted model.
    GaussianHMM : ``n_init`` random restarts of a single fit.

    Notes
    -----
    BIC is ``-2 log L + p log n`` and AIC ``-2 log L + 2 p``, ``L`` the likelihood of
    ``X`` under the fitted parameters, ``p`` the number of free scalars (hmmlearn's
    count) and ``n`` the number of frames.  For a variational model ``L`` is that of
    its point estimates (the posterior means), as its ``bic`` / ``aic``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgen.hmm import GaussianHMM, select_n_components
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(m, 0.5, size=(100, 1)) for m in (-5, 0, 5)] * 4)
    >>> best, bic = select_n_components(
    ...     GaussianHMM(random_state=0, n_init=8), X, [300] * 4, n_components=range(1, 5)
    ... )
    >>> best.n_components
    3
    >>> sorted(bic) == [1, 2, 3, 4] and min(bic, key=bic.get) == 3
    True
    """
    from fastgen._base import clone

    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
    candidates = list(n_components)
    if not candidates:
        raise ValueError("n_components must name at least one candidate")
    for k in candidates:
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"n_components must hold integers >= 1, got {k!r}")
    if len(set(candidates)) != len(candidates):
        raise ValueError(f"n_components has repeated candidates: {candidates}")
    models = []
    for k in candidates:
        model = clone(estimator).set_params(n_components=int(k))
        if n_init is not None:
            model.set_params(n_init=n_init)
        validate_params(model)
        models.append(model)
    em = type(models[0]).engine(models[0])
    X, lengths = em.input(X, lengths)
    restarts = [_restarts(model, model.n_init) for model in models]
    tasks = [(r, X, lengths, None, None) for group in restarts for r in group]
    # the largest candidates first: fewer idle threads at the end of the batch
    order = sorted(range(len(tasks)), key=lambda i: -tasks[i][0].n_components)
    done = _threads.map_tasks(
        _fit_one, [tasks[i] for i in order], parallel=len(X) >= PARALLEL_MIN_FRAMES
    )
    objectives = [0.0] * len(tasks)
    for i, (_, value) in zip(order, done, strict=True):
        objectives[i] = value
    scores: dict[int, float] = {}
    start = 0
    for k, model, group in zip(candidates, models, restarts, strict=True):
        _keep(model, group, objectives[start : start + len(group)])
        start += len(group)
        scores[int(k)] = float(getattr(model, criterion)(X, lengths))
    best = min(range(len(models)), key=lambda i: (scores[int(candidates[i])], candidates[i]))
    return models[best], scores
