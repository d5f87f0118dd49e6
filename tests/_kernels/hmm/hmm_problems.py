"""Shared problems and references of the HMM kernel tests (``tests/_kernels/hmm``).

Imported by module name, as ``tests/modelfile_tools.py`` is: pytest puts this folder on
``sys.path`` (no ``__init__.py`` files under ``tests/``).  Only the public entry points of
:mod:`fastgen._kernels.hmm` are used; a path is forced by patching the thresholds of
:mod:`fastgen._kernels.hmm._entry` (see :func:`force`).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import logsumexp

import fastgen._kernels.hmm._entry as entry
from fastgen._kernels import hmm as k

HUGE = 1 << 62

#: Threshold settings that send every sequence down one path.  "lanes": the lane-wise
#: kernels (forward-backward and, up to LANE_MAX_STATES states, Viterbi); "sequence":
#: one sequence at a time; "long": a sequence holding a quarter of the frames is split
#: into time blocks (a single sequence always is) - when a call is big enough for threads,
#: hence SERIAL_WORK=0 there.
PATHS = {
    "default": {},
    "lanes": {"FB_LANE_CELLS": HUGE, "LANE_CELLS": HUGE, "LONG_MIN": HUGE, "LANE_MIN_SEQUENCES": 1},
    "sequence": {"FB_LANE_CELLS": -1, "LANE_CELLS": -1, "LONG_MIN": HUGE},
    "long": {"FB_LANE_CELLS": -1, "LANE_CELLS": -1, "LONG_MIN": 1, "SERIAL_WORK": 0},
}


@contextmanager
def force(monkeypatch, path: str, **extra):
    """Within the block, the entry points take ``path`` (a key of :data:`PATHS`); extra
    keyword arguments patch further constants of ``_entry`` (``SERIAL_WORK=0``)."""
    with monkeypatch.context() as m:
        for name, value in {**PATHS[path], **extra}.items():
            assert hasattr(entry, name), name
            m.setattr(entry, name, value)
        yield


def model(n, nc, seed=0):
    """(startprob, transmat, frames): random probabilities, frames in (1e-3, 1 + 1e-3)."""
    rng = np.random.RandomState(seed)
    return (
        rng.dirichlet(np.ones(nc)),
        rng.dirichlet(np.ones(nc), size=nc),
        rng.rand(n, nc) + 1e-3,
    )


def bounds(lengths) -> np.ndarray:
    """``startidx`` of sequences of the given lengths."""
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


def frames(logf: np.ndarray):
    """The emission bundle of precomputed log-likelihoods."""
    return k.emissions(k.EMIT_LOG_FRAMES, log_frame=logf)


# --------------------------------------------------------------------------- references


def log_forward(start, trans, logf):
    """Log-space forward pass (hmmlearn's recurrence): (log-likelihood, fwd)."""
    n, nc = logf.shape
    with np.errstate(divide="ignore"):
        log_start, log_trans = np.log(start), np.log(trans)
    fwd = np.empty((n, nc))
    fwd[0] = log_start + logf[0]
    for t in range(1, n):
        fwd[t] = logsumexp(fwd[t - 1][:, None] + log_trans, axis=0) + logf[t]
    return logsumexp(fwd[-1]), fwd


def log_backward(trans, logf):
    n, nc = logf.shape
    with np.errstate(divide="ignore"):
        log_trans = np.log(trans)
    bwd = np.zeros((n, nc))
    for t in range(n - 2, -1, -1):
        bwd[t] = logsumexp(log_trans + (logf[t + 1] + bwd[t + 1])[None, :], axis=1)
    return bwd


def reference(start, trans, logf, startidx):
    """Exact log-space log-likelihoods, posteriors and expected transition counts of
    every sequence: hmmlearn's ``_hmmc`` when installed, else the NumPy passes above."""
    try:
        from hmmlearn import _hmmc
    except ImportError:  # pragma: no cover - hmmlearn is a dev dependency
        _hmmc = None
    nc = len(start)
    lps, gam, t_ref = [], [], np.zeros((nc, nc))
    with np.errstate(under="ignore", divide="ignore", invalid="ignore"):
        for a, b in zip(startidx[:-1], startidx[1:], strict=True):
            lf = np.ascontiguousarray(logf[a:b])
            if _hmmc is not None:
                lp, fwd = _hmmc.forward_log(start, trans, lf)
                bwd = _hmmc.backward_log(start, trans, lf)
            else:  # pragma: no cover
                lp, fwd = log_forward(start, trans, lf)
                bwd = log_backward(trans, lf)
            lps.append(lp)
            gam.append(np.exp(fwd + bwd - logsumexp(fwd + bwd, axis=1, keepdims=True)))
            if b - a > 1:
                log_trans = np.log(trans)
                x = fwd[:-1, :, None] + log_trans[None] + (lf[1:] + bwd[1:])[:, None, :]
                t_ref += np.exp(logsumexp(x, axis=0) - lp)
    return np.array(lps), np.concatenate(gam), t_ref


def path_log_prob(start, trans, logf, path):
    """Log-probability of the state path ``path`` through frames ``logf``."""
    with np.errstate(divide="ignore"):
        log_start, log_trans = np.log(start), np.log(trans)
    return (
        log_start[path[0]]
        + log_trans[path[:-1], path[1:]].sum()
        + logf[np.arange(len(path)), path].sum()
    )


# --------------------------------------------------------------------------- problems


def gaussian(kind: str, n: int, nc: int, nf: int, seed: int):
    """(X, means, covariance arguments, em, logf) of a diagonal ("diag") or full ("full")
    Gaussian model with well separated means; ``logf`` the per-frame log-densities."""
    rng = np.random.RandomState(seed)
    means = rng.randn(nc, nf) * 3
    X = means[rng.randint(nc, size=n)] + rng.randn(n, nf)
    if kind == "diag":
        cv = rng.rand(nc, nf) + 0.5
        return (
            X,
            means,
            cv,
            k.emissions(k.EMIT_DIAG, X=X, means=means, covars=cv),
            (k.log_density_diag(X, means, cv)),
        )
    a = rng.randn(nc, nf, nf)
    chol = np.linalg.cholesky(a @ a.transpose(0, 2, 1) + np.eye(nf))
    return (
        X,
        means,
        chol,
        k.emissions(k.EMIT_FULL, X=X, means=means, chol=chol),
        (k.log_density_full(X, means, chol)),
    )


def lane_problem(kind_name: str, lengths, nc: int, seed: int):
    """(startidx, start, trans, em) with zero probabilities and exact ties mixed in;
    ``kind_name`` is "categorical", "frames", "diag" or "full"."""
    rng = np.random.RandomState(seed)
    startidx = bounds(lengths)
    n = int(startidx[-1])
    start, trans, _ = model(1, nc, seed=seed)
    if nc > 1:
        trans[0, 1] = 0.0  # an impossible transition
        trans[1] = 1.0 / nc  # a row of exact ties
        trans /= trans.sum(axis=1, keepdims=True)
        start[0] = 0.0
        start /= start.sum()
    if kind_name == "categorical":
        ns = 5
        em_prob = rng.dirichlet(np.ones(ns), size=nc)
        em_prob[:, 4] = 1.0  # symbol 4: the same likelihood in every state (ties)
        em_prob[0, 3] = 0.0  # state 0 never emits symbol 3
        em_prob /= em_prob.sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore"):
            log_em = np.log(em_prob)
        em = k.emissions(k.EMIT_CATEGORICAL, sym=rng.randint(ns, size=n), log_emissionprob=log_em)
    elif kind_name == "frames":
        logf = np.log(rng.rand(n, nc) + 1e-3)
        logf[rng.rand(n) < 0.2] = 0.0  # tied frames
        logf[rng.rand(n, nc) < 0.05] = -np.inf
        em = frames(logf)
    else:
        nf = 3
        means = rng.randn(nc, nf) * 2
        X = means[rng.randint(nc, size=n)] + rng.randn(n, nf)
        if kind_name == "diag":
            em = k.emissions(k.EMIT_DIAG, X=X, means=means, covars=rng.rand(nc, nf) + 0.3)
        else:
            a = rng.randn(nc, nf, nf)
            chol = np.linalg.cholesky(a @ a.transpose(0, 2, 1) + np.eye(nf))
            em = k.emissions(k.EMIT_FULL, X=X, means=means, chol=chol)
    return startidx, start, trans, em


#: (lengths, n_components) of the lane-path tests: one state, length-1 sequences, groups
#: of lanes one short of full, full, and one over, mixed lengths, a sequence too long for
#: the lanes, more states than the register blocks.
LANE_CASES = [
    ([1], 1),
    ([7, 1, 3], 1),
    ([1, 1, 1, 2], 3),
    ([5, 90, 1, 40, 40, 3] * 15, 4),  # more than one group of lanes, mixed lengths
    ([5, 90, 1, 40, 40, 3, 17] * 9, 4),  # 63 sequences: one group short of full
    ([5, 90, 1, 40, 40, 3, 17, 2] * 8, 16),  # 64: exactly one group
    ([5, 90, 1, 40, 40, 3, 17, 2] * 8 + [33], 9),  # 65: a group of one next
    ([12, 2100, 7], 4),  # 2100 x 4 states: too long for the lanes, short otherwise
    ([20] * 70, 8),
    ([9, 1, 30], 17),
]

STATS_OF = {
    "categorical": k.STATS_CATEGORICAL,
    "frames": k.STATS_NONE,
    "diag": k.STATS_DIAG,
    "full": k.STATS_FULL,
}


@st.composite
def random_hmms(draw):
    """Hypothesis strategy: (startprob, transmat, likelihood frames, startidx) of a small
    random model (1-4 states) and 1-4 sequences of 1-6 frames; every row normalised, a
    possible start and a possible transition from every state."""
    nc = draw(st.integers(1, 4))
    lengths = draw(st.lists(st.integers(1, 6), min_size=1, max_size=4))
    n = sum(lengths)
    unit = st.floats(0.0, 1.0)
    start = draw(arrays(np.float64, nc, elements=unit))
    trans = draw(arrays(np.float64, (nc, nc), elements=unit))
    start[draw(st.integers(0, nc - 1))] += 0.5  # at least one possible start
    trans[np.arange(nc), draw(arrays(np.int64, nc, elements=st.integers(0, nc - 1)))] += 0.5
    fr = draw(arrays(np.float64, (n, nc), elements=st.floats(1e-3, 1.0)))
    return (start / start.sum(), trans / trans.sum(axis=1, keepdims=True), fr, bounds(lengths))
