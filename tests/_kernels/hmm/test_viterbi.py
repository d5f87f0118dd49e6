"""Viterbi decoding of the HMM kernels (``viterbi_batch``): hmmlearn's paths and ties,
and the same paths and scores, bit for bit, on every path (lanes, one sequence at a
time, a long sequence's time blocks)."""

import numpy as np
import pytest
from hmm_problems import (
    LANE_CASES,
    bounds,
    force,
    frames,
    lane_problem,
    model,
    path_log_prob,
    random_hmms,
)
from hypothesis import given, settings
from numpy.testing import assert_allclose, assert_array_equal

from fastgen._kernels import hmm as k

_hmmc = pytest.importorskip("hmmlearn._hmmc")


def _hmmlearn_viterbi(start, trans, logf, startidx):
    lps, paths = [], []
    with np.errstate(divide="ignore"):
        for a, b in zip(startidx[:-1], startidx[1:], strict=True):
            lp, path = _hmmc.viterbi(start, trans, np.ascontiguousarray(logf[a:b]))
            lps.append(lp)
            paths.append(path)
    return np.array(lps), np.concatenate(paths)


def test_viterbi_ties_follow_hmmlearn():
    start = np.full(3, 1 / 3)
    trans = np.full((3, 3), 1 / 3)
    logf = np.zeros((5, 3))
    startidx = np.array([0, 2, 5])
    lp, states = k.viterbi_batch(startidx, start, trans, logf)
    lp_ref, ref = _hmmlearn_viterbi(start, trans, logf, startidx)
    assert_array_equal(states, ref)
    assert_array_equal(lp, lp_ref)
    assert_allclose(lp.sum(), 2 * np.log(1 / 3) + 3 * np.log(1 / 3))
    assert states.dtype == np.int64 and lp.dtype == np.float64


def test_single_state():
    lp, states = k.viterbi_batch(np.array([0, 3, 4]), np.ones(1), np.ones((1, 1)), -np.ones((4, 1)))
    assert_array_equal(lp, [-3.0, -1.0])
    assert_array_equal(states, 0)


@pytest.mark.parametrize("kind_name", ["categorical", "frames", "diag", "full"])
@pytest.mark.parametrize("lengths,nc", LANE_CASES)
def test_lane_viterbi_is_the_per_sequence_viterbi(monkeypatch, kind_name, lengths, nc):
    """The lane-wise Viterbi gives bit for bit the per-sequence kernel's paths and
    scores (no exp/log, no products: the same max-plus arithmetic), as do the time
    blocks of a long sequence."""
    startidx, start, trans, em = lane_problem(kind_name, lengths, nc, seed=len(lengths) + nc)
    lp, states = k.viterbi_batch(startidx, start, trans, em)
    assert states.min() >= 0 and states.max() < nc
    for path in ("sequence", "lanes", "long"):
        with force(monkeypatch, path):
            lp_ref, states_ref = k.viterbi_batch(startidx, start, trans, em)
        assert_array_equal(states, states_ref, err_msg=path)
        assert_array_equal(lp, lp_ref, err_msg=path)


def test_lane_viterbi_matches_hmmlearn_with_ties_and_zeros(monkeypatch):
    startidx, start, trans, em = lane_problem("frames", [1, 6, 2, 30, 4] * 20, 5, 21)
    logf = em.arrays["log_frame"]
    lp_ref, states_ref = _hmmlearn_viterbi(start, trans, logf, startidx)
    for path in ("default", "sequence"):
        with force(monkeypatch, path):
            lp, states = k.viterbi_batch(startidx, start, trans, em)
        assert_array_equal(states, states_ref)
        assert_array_equal(lp, lp_ref)


@pytest.mark.parametrize("path", ["default", "sequence", "long"])
def test_nan_frames_stay_in_range(monkeypatch, path):
    """Hostile frames (NaN, +-inf) give some path of valid states, never an
    out-of-range index."""
    startidx, start, trans, em = lane_problem("frames", [3, 8, 1] * 30, 4, 22)
    logf = em.arrays["log_frame"].copy()
    logf[::7] = np.nan
    logf[1::11, 2] = np.inf
    logf[2::5] = -np.inf
    with force(monkeypatch, path), np.errstate(invalid="ignore"):
        _, states = k.viterbi_batch(startidx, start, trans, logf)
        _, states2 = k.viterbi_batch(startidx, start * np.nan, trans * np.nan, logf * np.nan)
    assert states.min() >= 0 and states.max() < 4
    assert states2.min() >= 0 and states2.max() < 4


@pytest.mark.parametrize("nc", [127, 128, 130])  # the lanes take up to 127 states
def test_many_states_match_hmmlearn(monkeypatch, nc):
    rng = np.random.RandomState(nc)
    start, trans, _ = model(1, nc, seed=nc)
    startidx = bounds([1, 7, 30, 2])
    logf = rng.randn(startidx[-1], nc) * 3
    lp_ref, states_ref = _hmmlearn_viterbi(start, trans, logf, startidx)
    for path in ("default", "sequence"):
        with force(monkeypatch, path):
            lp, states = k.viterbi_batch(startidx, start, trans, logf)
        assert_array_equal(states, states_ref)
        assert_allclose(lp, lp_ref, rtol=1e-12)


def test_viterbi_of_emission_bundles_equals_viterbi_of_their_frames():
    rng = np.random.RandomState(30)
    nc, ns = 4, 5
    sym = rng.randint(ns, size=300)
    log_em = np.log(rng.dirichlet(np.ones(ns), size=nc))
    startidx = bounds([100, 150, 50])
    start, trans, _ = model(1, nc, seed=31)
    em = k.emissions(k.EMIT_CATEGORICAL, sym=sym, log_emissionprob=log_em)
    lp, states = k.viterbi_batch(startidx, start, trans, em)
    lp_ref, states_ref = k.viterbi_batch(startidx, start, trans, frames(log_em.T[sym]))
    assert_array_equal(states, states_ref)
    assert_array_equal(lp, lp_ref)


# --------------------------------------------------------------------------- property-based


@settings(max_examples=60, deadline=None)
@given(random_hmms())
def test_viterbi_matches_hmmlearn_on_random_models(problem):
    start, trans, fr, startidx = problem
    logf = np.log(fr)
    lp, states = k.viterbi_batch(startidx, start, trans, logf)
    lp_ref, _ = _hmmlearn_viterbi(start, trans, logf, startidx)
    assert states.min() >= 0 and states.max() < len(start)
    for j, (a, b) in enumerate(zip(startidx[:-1], startidx[1:], strict=True)):
        # our path is a most likely one (ties may be broken either way by rounding)
        path_lp = path_log_prob(start, trans, logf[a:b], states[a:b])
        assert_allclose([lp[j], path_lp], [lp_ref[j], lp_ref[j]], rtol=1e-10)
