"""What a model file needs of an HMM: checks of a restored estimator, its summary.

:mod:`fastgen._persist_specs` lists which attributes a file stores (``startprob_``,
``transmat_``, each family's ``state_attributes``, ``monitor_``) and calls these
functions; they reach the estimator only through the engine and its emission family.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastgen._kernels import hmm as _k
from fastgen.hmm._engine import (
    PARTIAL_FIT_STATE,
    family_of,
    is_fitted,
    split_running_stats,
    validate_params,
)
from fastgen.hmm._util import check_distribution, stored_array

__all__ = [
    "check_partial_fit_state", "check_restored", "check_stream", "is_fitted", "stream_summary",
    "summary",
]  # fmt: skip


def check_partial_fit_state(est: Any) -> None:
    """Checks of ``partial_fit``'s running statistics in a restored estimator: all
    three attributes or none, a positive step count and frame count, a dict of finite
    non-negative chain counts of the model's shapes and finite float64 emission arrays
    and anchors (whose shapes the next ``partial_fit`` checks against its chunk's and
    the model's); raises ``ValueError``."""
    state = vars(est)
    present = [name for name in PARTIAL_FIT_STATE if name in state]
    if not present:
        return
    if len(present) != len(PARTIAL_FIT_STATE):
        raise ValueError(f"partial_fit's state is incomplete: only {present}")
    if type(state["partial_fit_steps_"]) is not int or state["partial_fit_steps_"] < 1:
        raise ValueError("partial_fit_steps_ must be a positive int")
    frames = state["partial_fit_frames_"]  # a float when weighted frames count by weight
    if type(frames) not in (int, float) or not (np.isfinite(frames) and frames > 0):
        raise ValueError("partial_fit_frames_ must be a positive, finite number")
    stats = state["partial_fit_stats_"]
    split_running_stats(stats)  # keys
    nc = int(est.n_components)
    for key in ("n_sequences", "log_prob"):
        if type(stats[key]) is not float or not np.isfinite(stats[key]):
            raise ValueError(f"partial_fit_stats_[{key!r}] must be a finite float")
    if stats["n_sequences"] < 0:
        raise ValueError("partial_fit_stats_['n_sequences'] must be non-negative")
    for key, value in stats.items():
        if key in ("n_sequences", "log_prob"):
            continue
        shape = {"start": (nc,), "trans": (nc, nc)}.get(key, None)
        where = f"partial_fit_stats_[{key!r}]"
        if type(value) is not np.ndarray or value.dtype != np.float64:
            raise ValueError(f"{where} must be a float64 array")
        if shape is not None and value.shape != shape:
            raise ValueError(f"{where} must have shape {shape}, got {value.shape}")
        if not np.isfinite(value).all():
            raise ValueError(f"{where} must be finite")
        if shape is not None and (value < 0).any():
            raise ValueError(f"{where} must be non-negative")


def check_restored(est: Any) -> None:
    """Validate a restored estimator (raises ``ValueError``): the hyperparameters, each
    stored array, and, once every parameter is there, the whole model."""
    state = vars(est)
    family = family_of(est)
    validate_params(est, family)
    nc = int(est.n_components)
    for name, shape in (("startprob_", (nc,)), ("transmat_", (nc, nc))):
        if name in state:
            check_distribution(stored_array(state, name, shape), name)
    em = type(est).engine(est)
    em.check_state(state)
    if "monitor_" in state:
        mon = state["monitor_"]
        if type(mon).__name__ != "ConvergenceMonitor" or mon.iter < 0:
            raise ValueError("monitor_ is malformed")
    check_partial_fit_state(est)
    if "restart_objectives_" in state:  # one value per restart: never NaN (-inf: none)
        objectives = stored_array(state, "restart_objectives_", (None,))
        if objectives.size == 0 or np.isnan(objectives).any() or np.isposinf(objectives).any():
            raise ValueError("restart_objectives_ must be a non-empty array without NaN or +inf")
    if is_fitted(est):
        em.check()


def summary(est: Any) -> dict:
    """Facts shown by ``fastgen.info``: fitted, n_components, n_features, convergence."""
    state = vars(est)
    out: dict = {"fitted": is_fitted(est), "n_components": est.n_components}
    if "covariance_type" in state:
        out["covariance_type"] = est.covariance_type
    nf = state.get("n_features")
    if nf is not None:
        out["n_features"] = int(nf)
    if "partial_fit_steps_" in state:
        out["partial_fit_steps"] = int(state["partial_fit_steps_"])
    mon = state.get("monitor_")
    if mon is not None:
        out["n_iter_run"] = int(mon.iter)
        out["converged"] = bool(mon.converged)
        if mon.history:  # what the monitor records: log-likelihood or lower bound
            out[type(est).engine.objective_name] = float(mon.history[-1])
    return out


def check_stream(stream: Any) -> None:
    """Validate a restored :class:`~fastgen.hmm.HMMStream` (raises ``ValueError``): a
    fitted model, and state arrays of the shapes its parameters give, holding what a
    stream can reach (counts in range, distributions, finite log-likelihoods)."""
    model = stream.model
    if not is_fitted(model):
        raise ValueError("the stream's model is not fitted")
    ns, lag, nc = int(stream.n_streams), int(stream.lag), int(model.n_components)
    state = vars(stream)
    n_frames = stored_array(state, "n_frames_", (ns,), kind="i")
    held = stored_array(state, "held_", (ns,), kind="i")
    log_like = stored_array(state, "log_likelihood_", (ns,))
    frames = stored_array(state, "held_log_frames_", (ns, lag, nc))
    filtered = stored_array(state, "held_filtered_", (ns, lag, nc))
    if (n_frames < 0).any() or (held < 0).any() or (held > np.minimum(n_frames, lag)).any():
        raise ValueError("n_frames_ / held_ out of range")
    if np.isnan(log_like).any() or (log_like == np.inf).any():
        raise ValueError("log_likelihood_ must not be NaN or +inf")
    started = n_frames > 0
    rows = stored_array(state, "filtered_", (ns, nc))[started]
    _k.check_messages(rows, "filtered_")
    if (log_like[started][rows.sum(axis=1) == 0] != -np.inf).any():
        raise ValueError("an impossible stream must have log_likelihood_ -inf")
    kept = np.arange(lag)[None, :] >= lag - held[:, None]  # the held rows
    fr, lf = filtered[kept], frames[kept]
    if np.isnan(lf).any() or (lf == np.inf).any():
        raise ValueError("held_log_frames_ must not be NaN or +inf")
    if not (np.isfinite(fr).all() and (fr >= 0).all() and (fr.sum(axis=1) <= 1 + 1e-6).all()):
        raise ValueError("held_filtered_ rows must be distributions")
    for name in ("n_frames_", "held_"):  # the dtypes update() writes into
        state[name] = np.array(state[name], dtype=np.int64)
    for name in ("log_likelihood_", "filtered_", "held_log_frames_", "held_filtered_"):
        state[name] = np.array(state[name], dtype=np.float64)


#: a stream file (one saved before its first update holds no state arrays) may not
#: make its first update allocate more state than a model file may hold by default
MAX_UNTRUSTED_STREAM_STATE = 2 * 1024**3


def stream_state_bytes(stream: Any) -> int:
    """Bytes of the state arrays an :class:`~fastgen.hmm.HMMStream` holds (created by
    its first update): per stream two counts, a log-likelihood, a filtered row and
    ``lag`` held rows of log-likelihoods and filtered probabilities."""
    ns, lag, nc = int(stream.n_streams), int(stream.lag), int(stream.model.n_components)
    return 8 * ns * (3 + nc * (1 + 2 * lag))


def stream_host_access(stream: Any) -> list[str]:
    """A stream file whose state would exceed :data:`MAX_UNTRUSTED_STREAM_STATE` needs
    trust: its parameters alone would make the first update exhaust memory."""
    try:
        size = stream_state_bytes(stream)
    except (TypeError, ValueError, AttributeError, OverflowError):
        return []  # not integers: the parameter validation refuses them
    if size <= MAX_UNTRUSTED_STREAM_STATE:
        return []
    return [
        f"n_streams={stream.n_streams} with lag={stream.lag} makes the stream hold "
        f"{size / 1024**3:.1f} GiB of state (more than "
        f"{MAX_UNTRUSTED_STREAM_STATE / 1024**3:.0f} GiB)"
    ]


def stream_summary(stream: Any) -> dict:
    """Facts shown by ``fastgen.info`` for a stream."""
    return {
        "model": type(stream.model).__name__,
        "n_streams": int(stream.n_streams),
        "lag": int(stream.lag),
        "frames_seen": int(np.sum(vars(stream).get("n_frames_", 0))),  # none before update
    }
