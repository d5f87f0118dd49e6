"""What a model file needs of an HMM: checks of a restored estimator, its summary.

:mod:`fastgen._persist_specs` lists which attributes a file stores (``startprob_``,
``transmat_``, each family's ``state_attributes``, ``monitor_``) and calls these
functions; they reach the estimator only through the engine and its emission family.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastgen.hmm._engine import family_of, validate_params
from fastgen.hmm._util import check_distribution, stored_array

__all__ = ["check_restored", "is_fitted", "summary"]


def is_fitted(est: Any) -> bool:
    """Whether the chain and every emission parameter are set."""
    state = vars(est)
    return "startprob_" in state and "transmat_" in state and family_of(est).is_fitted()


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
    mon = state.get("monitor_")
    if mon is not None:
        out["n_iter_run"] = int(mon.iter)
        out["converged"] = bool(mon.converged)
        if mon.history:  # what the monitor records: log-likelihood or lower bound
            out[type(est).engine.objective_name] = float(mon.history[-1])
    return out
