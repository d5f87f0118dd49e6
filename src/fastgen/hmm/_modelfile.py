"""What a model file needs of an HMM: checks of a restored estimator, its summary.

:mod:`fastgen._persist_specs` lists which attributes a file stores (``startprob_``,
``transmat_``, each family's ``state_attributes``, ``monitor_``) and calls these
functions; they reach the estimator only through the engine and its emission family.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastgen.hmm._engine import (
    PARTIAL_FIT_STATE,
    family_of,
    is_fitted,
    split_running_stats,
    validate_params,
)
from fastgen.hmm._util import check_distribution, stored_array

__all__ = ["check_partial_fit_state", "check_restored", "is_fitted", "summary"]


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
    for name in ("partial_fit_steps_", "partial_fit_frames_"):
        if type(state[name]) is not int or state[name] < 1:
            raise ValueError(f"{name} must be a positive int")
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
