"""Forward-backward of the HMM kernels through the public entry points
(``forward_backward``, ``estep``, ``forward_log``, ``backward_log``): hmmlearn's numbers
on every path (lanes, one sequence at a time, time blocks of a long sequence), the
fused statistics against NumPy sums, underflow handling, and results that do not depend
on the path, the group of lanes or the number of threads."""

import numpy as np
import pytest
from hmm_problems import (
    LANE_CASES,
    STATS_OF,
    bounds,
    force,
    frames,
    gaussian,
    lane_problem,
    log_forward,
    model,
    random_hmms,
    reference,
)
from hypothesis import given, settings
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp

import fastgen
from fastgen._kernels import hmm as k
from fastgen._kernels.hmm import _entry as entry

_hmmc = pytest.importorskip("hmmlearn._hmmc")


def assert_same(a, b):
    """Two EStep results equal bit for bit, field by field."""
    for name, x, y in zip(a._fields, a, b, strict=True):
        assert_array_equal(x, y, err_msg=name)


@pytest.fixture
def threads():
    """Set the kernels' thread count inside a test; the default is restored after."""
    yield fastgen.set_num_threads
    fastgen.set_num_threads(None)


# --------------------------------------------------------------------------- single sequence


@pytest.mark.parametrize("n,nc", [(1, 1), (1, 3), (2, 1), (9, 4)])
def test_single_sequence_passes_match_hmmlearn(n, nc):
    start, trans, fr = model(n, nc)
    logf = np.log(fr)
    fwd = np.empty((n, nc))
    bwd = np.empty((n, nc))
    lp = k.forward_log(start, trans, logf, fwd)
    lp_ref, fwd_ref = _hmmc.forward_log(start, trans, logf)
    assert_allclose(lp, lp_ref, rtol=1e-12)
    assert_allclose(fwd, fwd_ref, rtol=1e-12)
    k.backward_log(trans, logf, bwd)
    assert_allclose(bwd, _hmmc.backward_log(start, trans, logf), rtol=1e-12, atol=1e-14)


def test_estep_over_batch_matches_per_sequence_reference():
    start, trans, fr = model(20, 3, seed=1)
    logf = np.log(fr)
    startidx = np.array([0, 1, 5, 6, 20], dtype=np.int64)
    for log_space in (True, False):
        lp, gamma, s, t = k.estep(
            startidx, start, trans, logf if log_space else fr, log_space, True, True
        )
        s_ref = np.zeros(3)
        t_ref = np.zeros((3, 3))
        for a, b in zip(startidx[:-1], startidx[1:], strict=True):
            _, fwd = _hmmc.forward_log(start, trans, logf[a:b])
            bwd = _hmmc.backward_log(start, trans, logf[a:b])
            g = np.exp(fwd + bwd - logsumexp(fwd + bwd, axis=1, keepdims=True))
            assert_allclose(gamma[a:b], g, rtol=1e-10)
            s_ref += g[0]
            if b - a > 1:
                t_ref += np.exp(_hmmc.compute_log_xi_sum(fwd, trans, bwd, logf[a:b]))
        assert_allclose(s, s_ref, rtol=1e-10)
        assert_allclose(t, t_ref, rtol=1e-10)
        assert_allclose(t.sum(), 20 - 4, rtol=1e-10)  # one count per transition
        lp2, gamma2, _, _ = k.estep(
            startidx, start, trans, logf if log_space else fr, log_space, False, False
        )
        assert gamma2.shape == (0, 3)
        assert_allclose(lp2, lp, rtol=1e-12)


def test_estep_zero_probabilities_and_impossible_frames():
    start = np.array([1.0, 0.0])
    trans = np.array([[0.0, 1.0], [1.0, 0.0]])  # deterministic alternation
    logf = np.zeros((4, 2))
    lp, gamma, s, t = k.estep(np.array([0, 4]), start, trans, logf, True, True, True)
    assert_allclose(lp, [0.0])
    assert_array_equal(gamma, [[1, 0], [0, 1], [1, 0], [0, 1]])
    assert_array_equal(s, [1, 0])
    assert_array_equal(t, [[0, 2], [1, 0]])
    # a frame no state can emit: -inf log-likelihood, no NaN in the posteriors
    logf[2] = -np.inf
    lp, gamma, _, t = k.estep(np.array([0, 4]), start, trans, logf, True, True, True)
    assert lp[0] == -np.inf
    assert_array_equal(gamma, 0.0)
    assert_array_equal(t, 0.0)


@pytest.mark.parametrize("path", ["default", "lanes", "sequence", "long"])
def test_unreachable_states_that_dominate_the_backward_pass(monkeypatch, path):
    """States the chain can never enter whose frame likelihoods beat the reachable
    state's by ~10 per frame: their backward terms outgrow the reachable state's by more
    than exp can span, which once underflowed the reachable state's own backward value
    to -inf (NaN posteriors).  Each entry is now summed against its own maximum."""
    rng = np.random.default_rng(3)
    n, nc = 120, 3
    logf = np.empty((n, nc))
    logf[:, 0] = -20.0 + rng.normal(size=n)
    logf[:, 1:] = -10.0 + rng.normal(size=(n, 2))
    start = np.array([1.0, 0.0, 0.0])
    trans = np.eye(nc)
    want_lp, want_gamma, want_trans = reference(start, trans, logf, np.array([0, n]))
    with force(monkeypatch, path):
        r = k.forward_backward(np.array([0, n]), start, trans, frames(logf), True,
                               posteriors=True, gamma=True, xi=True)
    assert_allclose(r.log_prob, want_lp, rtol=1e-12)
    assert not np.isnan(r.gamma).any()
    assert_allclose(r.gamma, want_gamma, rtol=1e-10, atol=1e-300)
    assert_allclose(r.trans, want_trans, rtol=1e-10, atol=1e-12)


def test_forward_entry_reached_only_from_a_far_less_likely_state():
    """The forward direction: state 2 is entered only from state 1, whose forward value
    falls more than exp can span below state 0's; state 2's forward value must stay
    finite (it once underflowed to -inf), as hmmlearn's per-entry log-sum-exp keeps it."""
    n = 100
    logf = np.tile([-1.0, -20.0, -30.0], (n, 1))
    start = np.array([0.5, 0.5, 0.0])
    trans = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.0, 0.0, 1.0]])
    fwd = np.empty((n, 3))
    lp = k.forward_log(start, trans, logf, fwd)
    want_lp, want_fwd = log_forward(start, trans, logf)
    assert np.isfinite(fwd[1:, 2]).all()
    assert_allclose(fwd[1:], want_fwd[1:], rtol=1e-12)
    assert_allclose(lp, want_lp, rtol=1e-12)


def test_scaling_underflow_reports_nan():
    start = np.array([0.5, 0.5])
    trans = np.full((2, 2), 0.5)
    fr = np.full((3, 2), 1e-310)
    lp, gamma, _, _ = k.estep(np.array([0, 1, 3]), start, trans, fr, False, True, True)
    assert np.isnan(lp).all()
    assert_array_equal(gamma, 0.0)


def test_single_state():
    lp, gamma, s, t = k.estep(
        np.array([0, 3]), np.ones(1), np.ones((1, 1)), np.full((3, 1), -1.0), True, True, True
    )
    assert_allclose(lp, [-3.0])
    assert_array_equal(gamma, np.ones((3, 1)))
    assert_allclose(s, [1.0])
    assert_allclose(t, [[2.0]])


# --------------------------------------------------------------------------- property-based


@settings(max_examples=60, deadline=None)
@given(random_hmms())
def test_batch_forward_backward_matches_hmmlearn_on_random_models(problem):
    start, trans, fr, startidx = problem
    logf = np.log(fr)
    nc = start.shape[0]
    lp, gamma, s, t = k.estep(startidx, start, trans, logf, True, True, True)
    lp_s, gamma_s, s_s, t_s = k.estep(startidx, start, trans, fr, False, True, True)
    t_ref = np.zeros((nc, nc))
    for j, (a, b) in enumerate(zip(startidx[:-1], startidx[1:], strict=True)):
        lp_ref, fwd = _hmmc.forward_log(start, trans, logf[a:b])
        bwd = _hmmc.backward_log(start, trans, logf[a:b])
        assert_allclose([lp[j], lp_s[j]], [lp_ref, lp_ref], rtol=1e-10, atol=1e-12)
        with np.errstate(under="ignore"):
            g = np.exp(fwd + bwd - logsumexp(fwd + bwd, axis=1, keepdims=True))
        assert_allclose(gamma[a:b], g, rtol=1e-9, atol=1e-13)
        assert_allclose(gamma_s[a:b], g, rtol=1e-9, atol=1e-13)
        if b - a > 1:
            with np.errstate(under="ignore"):
                t_ref += np.exp(_hmmc.compute_log_xi_sum(fwd, trans, bwd, logf[a:b]))
    assert_allclose(t, t_ref, rtol=1e-9, atol=1e-12)
    assert_allclose(t_s, t_ref, rtol=1e-9, atol=1e-12)
    assert_allclose(s, gamma[startidx[:-1]].sum(axis=0), rtol=1e-12)
    assert np.all(np.isfinite(gamma)) and np.all(np.isfinite(t))


# --------------------------------------------------------------------------- many states


def _scaled_reference(start, trans, fr):
    """The scaling implementation in NumPy (hmmlearn's recurrences, frame by frame):
    log-likelihood and posteriors of one sequence."""
    n, nc = fr.shape
    fwd, scale = np.empty((n, nc)), np.empty(n)
    for t in range(n):
        fwd[t] = (start if t == 0 else fwd[t - 1] @ trans) * fr[t]
        scale[t] = fwd[t].sum()
        fwd[t] /= scale[t]
    bwd = np.empty((n, nc))
    bwd[-1] = 1.0 / scale[-1]
    for t in range(n - 2, -1, -1):
        bwd[t] = trans @ (fr[t + 1] * bwd[t + 1]) / scale[t]
    g = fwd * bwd
    return np.log(scale).sum(), g / g.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("nc", [1, 5, 8, 9, 16, 17])  # around the register blocks of 8
@pytest.mark.parametrize("path", ["lanes", "sequence", "long"])
def test_transition_sums_around_the_register_blocks(monkeypatch, nc, path):
    """The matrix-vector sums of the scaled recurrences (padded to blocks of 8 states)
    are the plain sums: posteriors within a few ulps of a NumPy scaled pass, also with
    a start distribution spanning 40 orders of magnitude."""
    rng = np.random.RandomState(nc)
    start = rng.rand(nc) * 10.0 ** rng.randint(-20, 20, size=nc)
    start /= start.sum()
    trans = rng.rand(nc, nc)
    trans /= trans.sum(axis=1, keepdims=True)
    fr = rng.rand(50, nc) + 0.05
    lp_ref, g_ref = _scaled_reference(start, trans, fr)
    with force(monkeypatch, path):
        r = k.forward_backward(bounds([50]), start, trans, frames(np.log(fr)), False)
    assert_allclose(r.log_prob, [lp_ref], rtol=1e-13)
    assert_allclose(r.gamma, g_ref, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("lengths", [[30, 1, 45, 24], [5000]])  # short / long paths
@pytest.mark.parametrize("nc", [9, 16, 17])  # the register-blocked recurrences
def test_many_state_forward_backward_matches_hmmlearn(lengths, nc):
    start, trans, fr = model(sum(lengths), nc, seed=nc)
    logf = np.log(fr)
    startidx = bounds(lengths)
    lp_ref, g_ref, t_ref = reference(start, trans, logf, startidx)
    for log_space in (True, False):
        lp, gamma, _, t = k.estep(
            startidx, start, trans, logf if log_space else fr, log_space, True, True
        )
        assert_allclose(lp, lp_ref, rtol=1e-10)
        assert_allclose(gamma, g_ref, rtol=1e-9, atol=1e-13)
        assert_allclose(t, t_ref, rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------- fused statistics


@pytest.mark.parametrize("lengths", [[30, 1, 45, 24], [5000], [4200, 3]])  # short / long paths
@pytest.mark.parametrize("cov", ["diag", "full"])
def test_fused_gaussian_statistics_match_numpy_sums(lengths, cov):
    nc, nf = 3, 2
    startidx = bounds(lengths)
    X, _, _, em, logf = gaussian(cov, int(startidx[-1]), nc, nf, seed=3)
    start, trans, _ = model(1, nc, seed=4)
    stats_kind = k.STATS_DIAG if cov == "diag" else k.STATS_FULL
    lp_ref, g_ref, t_ref = reference(start, trans, logf, startidx)
    for log_space in (True, False):
        r = k.forward_backward(startidx, start, trans, em, log_space, stats_kind=stats_kind)
        assert_allclose(r.log_prob, lp_ref, rtol=1e-10)
        assert_allclose(r.gamma, g_ref, rtol=1e-8, atol=1e-12)
        assert_allclose(r.trans, t_ref, rtol=1e-8, atol=1e-12)
        assert_allclose(r.start, g_ref[startidx[:-1]].sum(axis=0), rtol=1e-10)
        assert_allclose(r.post, g_ref.sum(axis=0), rtol=1e-10)
        assert_allclose(r.obs, g_ref.T @ X, rtol=1e-9)
        if cov == "diag":
            assert r.obs2.shape == (nc, nf)
            assert_allclose(r.obs2, g_ref.T @ (X * X), rtol=1e-9)
        else:
            assert r.obs2.shape == (nc, nf, nf)
            assert_allclose(r.obs2, np.einsum("tk,tf,te->kfe", g_ref, X, X), rtol=1e-9)
        # the same without posteriors kept, and a score-only pass
        r2 = k.forward_backward(
            startidx, start, trans, em, log_space, gamma=False, stats_kind=stats_kind
        )
        assert r2.gamma.shape == (0, nc)
        assert_allclose(r2.obs, r.obs, rtol=1e-12)
        r3 = k.forward_backward(startidx, start, trans, em, log_space, posteriors=False)
        assert_allclose(r3.log_prob, lp_ref, rtol=1e-10)
        assert r3.gamma.shape == (0, nc)
        assert_array_equal(r3.trans, 0.0)
        assert_array_equal(r3.post, 0.0)


def test_fused_categorical_statistics_count_symbols():
    rng = np.random.RandomState(5)
    nc, ns = 3, 4
    sym = rng.randint(ns, size=60)
    em_prob = rng.dirichlet(np.ones(ns), size=nc)
    em_prob[0, 2] = 0.0  # a symbol state 0 never emits
    em_prob[0] /= em_prob[0].sum()
    start, trans, _ = model(1, nc, seed=6)
    startidx = np.array([0, 20, 21, 60], dtype=np.int64)
    with np.errstate(divide="ignore"):
        log_em = np.log(em_prob)
    em = k.emissions(k.EMIT_CATEGORICAL, sym=sym, log_emissionprob=log_em)
    lp_ref, g_ref, t_ref = reference(start, trans, log_em.T[sym], startidx)
    counts = np.stack([np.bincount(sym, weights=g_ref[:, c], minlength=ns) for c in range(nc)])
    for log_space in (True, False):
        r = k.forward_backward(
            startidx, start, trans, em, log_space, stats_kind=k.STATS_CATEGORICAL
        )
        assert_allclose(r.log_prob, lp_ref, rtol=1e-10)
        assert_allclose(r.gamma, g_ref, rtol=1e-8, atol=1e-12)
        assert_allclose(r.trans, t_ref, rtol=1e-8, atol=1e-12)
        assert r.obs.shape == (nc, ns) and r.obs2.shape == (nc, 0)
        assert_allclose(r.obs, counts, rtol=1e-9, atol=1e-12)
        assert np.all(r.obs[0, 2] == 0.0)


@pytest.mark.parametrize("lengths", [[1], [63, 64, 65, 1, 130], [5000]])  # around 64-frame lanes
@pytest.mark.parametrize("nc,nf", [(1, 1), (4, 5)])
def test_lane_statistics_match_per_frame_sums(lengths, nc, nf):
    """Gaussian statistics summed 64 frames at a time equal the posterior-weighted sums
    of NumPy, for every statistics kind."""
    rng = np.random.RandomState(24)
    startidx = bounds(lengths)
    n = startidx[-1]
    means = rng.randn(nc, nf) * 2
    X = means[rng.randint(nc, size=n)] + rng.randn(n, nf)
    start, trans, _ = model(1, nc, seed=25)
    a = rng.randn(nc, nf, nf)
    chol = np.linalg.cholesky(a @ a.transpose(0, 2, 1) + np.eye(nf))
    full = k.emissions(k.EMIT_FULL, X=X, means=means, chol=chol)
    diag = k.emissions(k.EMIT_DIAG, X=X, means=means, covars=np.ones((nc, nf)))
    for stats_kind in (k.STATS_MEANS, k.STATS_DIAG, k.STATS_FULL):
        em = diag if stats_kind == k.STATS_DIAG else full
        gamma = k.forward_backward(startidx, start, trans, em, True).gamma
        r = k.forward_backward(startidx, start, trans, em, True, gamma=False, stats_kind=stats_kind)
        assert_allclose(r.post, gamma.sum(axis=0), rtol=1e-11)
        assert_allclose(r.obs, gamma.T @ X, rtol=1e-11, atol=1e-12)
        if stats_kind == k.STATS_MEANS:
            assert r.obs2.shape == (nc, 0)
        elif stats_kind == k.STATS_DIAG:
            assert_allclose(r.obs2, gamma.T @ (X * X), rtol=1e-11, atol=1e-12)
        else:
            ref = np.einsum("tk,tf,te->kfe", gamma, X, X)
            assert_allclose(r.obs2, ref, rtol=1e-11, atol=1e-12)
            assert_array_equal(r.obs2, r.obs2.transpose(0, 2, 1))  # both halves, exactly


# --------------------------------------------------------------------------- underflow


@pytest.mark.parametrize("n", [40, 5000])
def test_fused_estep_falls_back_to_exact_log_space(n):
    """Emissions hundreds of nats apart and a forbidden transition: the scaled fast path
    would flush states, so the sequence is redone in log space (hmmlearn's numbers)."""
    rng = np.random.RandomState(7)
    start = np.array([0.5, 0.5, 0.0])
    trans = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.0, 0.5, 0.5]])
    logf = rng.randn(n, 3) * 300.0
    logf[:, 2] -= 2000.0  # state 2 emits e^-2000 less: flushed by the scaled pass
    startidx = np.array([0, n - 10, n], dtype=np.int64)  # n=5000: the long-sequence path
    lp_ref, g_ref, t_ref = reference(start, trans, logf, startidx)
    r = k.forward_backward(startidx, start, trans, frames(logf), True)
    assert_allclose(r.log_prob, lp_ref, rtol=1e-10)
    assert_allclose(r.gamma, g_ref, rtol=1e-8, atol=1e-12)
    assert_allclose(r.trans, t_ref, rtol=1e-8, atol=1e-12)
    # the scaling implementation underflows where log space does not: NaN (hmmlearn raises)
    em = frames(np.full((n, 3), -800.0))
    for log_space in (True, False):
        lp = k.forward_backward(startidx, start, trans, em, log_space).log_prob
        assert np.isnan(lp).all() != log_space


def test_tiny_normalisers_are_handled(monkeypatch):
    """A frame whose normaliser (e^-500) is below the bound of the lagged log-space pass
    (2^-200): the sequence takes the frame-by-frame pass, hmmlearn's numbers result, the
    same bit for bit on the lanes and one sequence at a time."""
    start = np.array([1.0, 0.0])
    trans = np.array([[1.0, 0.0], [0.5, 0.5]])  # stays in state 0
    logf = np.zeros((6, 2))
    logf[3] = [-500.0, 0.0]  # state 0, the only reachable one, is e^-500 less likely
    startidx = np.array([0, 6])
    lp_ref, g_ref, t_ref = reference(start, trans, logf, startidx)
    results = {}
    for path in ("lanes", "sequence", "long"):
        with force(monkeypatch, path):
            r = results[path] = k.forward_backward(startidx, start, trans, frames(logf), True)
        assert_allclose(r.log_prob, [-500.0], rtol=1e-12)
        assert_allclose(r.log_prob, lp_ref, rtol=1e-12)
        assert_allclose(r.gamma, g_ref, rtol=1e-10, atol=1e-15)
        assert_allclose(r.trans, t_ref, rtol=1e-10, atol=1e-15)
    assert_same(results["lanes"], results["sequence"])
    assert_array_equal(results["long"].log_prob, results["sequence"].log_prob)
    assert_array_equal(results["long"].gamma, results["sequence"].gamma)


def test_a_million_frames_stay_finite(monkeypatch):
    """10^6 frames, each losing up to e^-60: no under- or overflow of the lagged log-space
    recurrence, the same log-likelihood as the frame-by-frame scaling pass and hmmlearn's,
    on the long-sequence path and one sequence at a time."""
    rng = np.random.RandomState(3)
    start, trans, _ = model(1, 3, seed=3)
    logf = rng.rand(1_000_000, 3) * -60.0
    lp_ref, _ = _hmmc.forward_log(start, trans, logf)
    em, startidx = frames(logf), bounds([len(logf)])
    with force(monkeypatch, "long"):
        r = k.forward_backward(startidx, start, trans, em, True)
        lp_scaling = k.forward_backward(startidx, start, trans, em, False, posteriors=False)
    with force(monkeypatch, "sequence"):
        r_seq = k.forward_backward(startidx, start, trans, em, True, posteriors=False, xi=False)
    assert r.log_prob[0] < -1e7
    assert_allclose(r.log_prob, lp_scaling.log_prob, rtol=1e-12)
    assert_allclose(r.log_prob, [lp_ref], rtol=1e-11)
    assert_array_equal(r_seq.log_prob, r.log_prob)
    assert np.isfinite(r.gamma).all() and np.isfinite(r.trans).all()
    assert_allclose(r.gamma.sum(axis=1), 1.0, rtol=1e-12)
    assert_allclose(r.trans.sum(), len(logf) - 1, rtol=1e-9)


@pytest.mark.parametrize("n,nc", [(1, 1), (1, 3), (2, 1), (3, 2), (300, 4), (257, 9), (64, 17)])
def test_log_space_sequence_pass_matches_the_frame_by_frame_pass(monkeypatch, n, nc):
    """One sequence at a time, log space normalises off the recurrence (lagged): the
    same log-likelihood and posteriors as the frame-by-frame scaling implementation and
    as hmmlearn's log-space pass, with normalisers down to ~e^-100."""
    rng = np.random.RandomState(n + nc)
    start, trans, _ = model(1, nc, seed=n)
    logf = rng.randn(n, nc) * 30.0
    startidx = bounds([n])
    lp_ref, g_ref, _ = reference(start, trans, logf, startidx)
    with force(monkeypatch, "sequence"):
        r = k.forward_backward(startidx, start, trans, frames(logf), True)
        r_n = k.forward_backward(startidx, start, trans, frames(logf), False)
    assert_allclose(r.log_prob, r_n.log_prob, rtol=1e-12)
    assert_allclose(r.log_prob, lp_ref, rtol=1e-11)
    assert_allclose(r.gamma, r_n.gamma, rtol=1e-12, atol=1e-300)
    assert_allclose(r.gamma, g_ref, rtol=1e-9, atol=1e-300)
    assert_allclose(r.gamma.sum(axis=1), 1.0, rtol=1e-14)


# --------------------------------------------------------------------------- lane-wise path


@pytest.mark.parametrize("lengths", [[1, 63, 64, 65, 2, 130, 1], [5000, 7]])  # lane blocks
@pytest.mark.parametrize("nc", [1, 3, 9])
def test_lane_posteriors_and_transitions_match_hmmlearn(lengths, nc):
    """Posteriors and expected transitions summed lane-wise, across block boundaries of
    64 frames (and the long-sequence time blocks), with and without gamma."""
    rng = np.random.RandomState(len(lengths) + nc)
    startidx = bounds(lengths)
    start, trans, _ = model(1, nc, seed=nc)
    logf = rng.randn(startidx[-1], nc) * 3.0
    lp_ref, g_ref, t_ref = reference(start, trans, logf, startidx)
    em = frames(logf)
    s_ref = g_ref[startidx[:-1]].sum(axis=0)
    for log_space in (True, False):
        r = k.forward_backward(startidx, start, trans, em, log_space)
        assert_allclose(r.log_prob, lp_ref, rtol=1e-11)
        assert_allclose(r.gamma, g_ref, rtol=1e-9, atol=1e-14)
        assert_allclose(r.start, s_ref, rtol=1e-10)
        assert_allclose(r.trans, t_ref, rtol=1e-9, atol=1e-12)
        assert_allclose(r.trans.sum(), startidx[-1] - len(lengths), rtol=1e-11)
        r2 = k.forward_backward(startidx, start, trans, em, log_space, gamma=False)
        assert r2.gamma.shape == (0, nc)
        assert_array_equal(r2.trans, r.trans)
        assert_array_equal(r2.start, r.start)


def _both_paths(monkeypatch, startidx, start, trans, em, log_space, **kw):
    """forward_backward through the default split (lanes for short sequences) and with
    every sequence one at a time."""
    r = k.forward_backward(startidx, start, trans, em, log_space, **kw)
    with force(monkeypatch, "sequence"):
        r_ref = k.forward_backward(startidx, start, trans, em, log_space, **kw)
    return r, r_ref


@pytest.mark.parametrize("kind_name", ["categorical", "frames", "diag", "full"])
@pytest.mark.parametrize("lengths,nc", LANE_CASES)
def test_lane_path_is_the_one_at_a_time_path(monkeypatch, kind_name, lengths, nc):
    """Lane-wise forward-backward against one sequence at a time: the scaling
    implementation does the same arithmetic (bit for bit); log space agrees to rounding
    (one at a time normalises lagged); statistics to rounding (other summation order)."""
    startidx, start, trans, em = lane_problem(kind_name, lengths, nc, seed=nc + 40)
    stats_kind = STATS_OF[kind_name]
    for log_space in (True, False):
        r, r_ref = _both_paths(
            monkeypatch, startidx, start, trans, em, log_space, stats_kind=stats_kind
        )
        if log_space:
            assert_allclose(r.log_prob, r_ref.log_prob, rtol=1e-12, atol=1e-12)
            assert_allclose(r.gamma, r_ref.gamma, rtol=1e-10, atol=1e-14)
        else:
            assert_array_equal(r.log_prob, r_ref.log_prob)
            assert_array_equal(r.gamma, r_ref.gamma)
        for name, a, b in zip(r._fields[2:], r[2:], r_ref[2:], strict=True):
            assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=name)
        score, score_ref = _both_paths(
            monkeypatch, startidx, start, trans, em, log_space, posteriors=False
        )
        assert_array_equal(score.log_prob, r.log_prob)
        assert_allclose(score.log_prob, score_ref.log_prob, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("nc", [1, 5, 16])
def test_lane_forward_backward_matches_hmmlearn(nc):
    """Mixed lengths across three groups, scaled passes against hmmlearn's log space."""
    rng = np.random.RandomState(nc + 50)
    lengths = rng.randint(1, 60, size=150)
    startidx = bounds(lengths)
    start, trans, _ = model(1, nc, seed=nc)
    logf = rng.randn(startidx[-1], nc) * 4.0
    lp_ref, g_ref, t_ref = reference(start, trans, logf, startidx)
    for log_space in (True, False):
        r = k.forward_backward(startidx, start, trans, frames(logf), log_space)
        assert_allclose(r.log_prob, lp_ref, rtol=1e-10)
        assert_allclose(r.gamma, g_ref, rtol=1e-8, atol=1e-13)
        assert_allclose(r.trans, t_ref, rtol=1e-8, atol=1e-12)
        assert_allclose(r.start, g_ref[startidx[:-1]].sum(axis=0), rtol=1e-10)


@pytest.mark.parametrize("alone_in_lanes", [False, True])
def test_lane_results_do_not_depend_on_the_group(monkeypatch, alone_in_lanes):
    """A sequence gets the same log-likelihood and posteriors, bit for bit, alone or in
    any group of lanes (other lengths, other neighbours, another order); alone it goes
    one at a time (too few sequences for the lanes) with the lanes' arithmetic, or, with
    LANE_MIN_SEQUENCES=1, through the lanes in a group of one.  (Streamed batches of
    sequences rely on it: they must equal one big call.)"""
    if alone_in_lanes:
        monkeypatch.setattr(entry, "LANE_MIN_SEQUENCES", 1)
    rng = np.random.RandomState(60)
    nc, nf = 16, 4
    lengths = rng.randint(1, 50, size=70)
    startidx = bounds(lengths)
    means = rng.randn(nc, nf) * 2
    X = means[rng.randint(nc, size=startidx[-1])] + rng.randn(startidx[-1], nf)
    cv = rng.rand(nc, nf) + 0.3
    start, trans, _ = model(1, nc, seed=61)

    def run(Xs, idx, log_space):
        em = k.emissions(k.EMIT_DIAG, X=Xs, means=means, covars=cv)
        return k.forward_backward(idx, start, trans, em, log_space, xi=False)

    order = rng.permutation(len(lengths))
    parts = [X[startidx[s] : startidx[s + 1]] for s in order]
    off = bounds(lengths[order])
    for log_space in (True, False):
        r = run(X, startidx, log_space)
        r_perm = run(np.concatenate(parts), off, log_space)
        for q, s in enumerate(order):
            a, b = startidx[s], startidx[s + 1]
            assert r_perm.log_prob[q] == r.log_prob[s]
            assert_array_equal(r_perm.gamma[off[q] : off[q + 1]], r.gamma[a:b])
            if q % 10 == 0:  # alone, in a group of one
                alone = run(X[a:b], np.array([0, b - a]), log_space)
                assert alone.log_prob[0] == r.log_prob[s]
                assert_array_equal(alone.gamma, r.gamma[a:b])


def test_lane_underflow_takes_the_exact_pass_next_to_normal_lanes(monkeypatch):
    """One lane whose scaled pass would flush states (emissions thousands of nats apart,
    forbidden transitions) among 63 normal ones: that sequence alone is redone in log
    space (hmmlearn's numbers), its neighbours keep their own results."""
    rng = np.random.RandomState(70)
    start = np.array([0.5, 0.5, 0.0])
    trans = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.0, 0.5, 0.5]])
    lengths = rng.randint(20, 40, size=64)
    startidx = bounds(lengths)
    logf = rng.randn(startidx[-1], 3) * 2.0
    bad = 37
    a, b = startidx[bad], startidx[bad + 1]
    logf[a:b] = rng.randn(b - a, 3) * 300.0
    logf[a:b, 2] -= 2000.0
    lp_ref, g_ref, t_ref = reference(start, trans, logf, startidx)
    r, r_seq = _both_paths(monkeypatch, startidx, start, trans, frames(logf), True)
    assert_allclose(r.log_prob, lp_ref, rtol=1e-10)
    assert_allclose(r.gamma, g_ref, rtol=1e-8, atol=1e-12)
    assert_allclose(r.trans, t_ref, rtol=1e-8, atol=1e-12)
    assert r.log_prob[bad] == r_seq.log_prob[bad]  # the same exact pass
    assert_array_equal(r.gamma[a:b], r_seq.gamma[a:b])
    # the neighbours without the hostile lane: bit for bit the same
    keep = np.r_[0:a, b : startidx[-1]]
    idx2 = bounds(np.delete(lengths, bad))
    r2 = k.forward_backward(idx2, start, trans, frames(logf[keep]), True)
    assert_array_equal(np.delete(r.log_prob, bad), r2.log_prob)
    assert_array_equal(r.gamma[keep], r2.gamma)
    # the scaling implementation: that lane underflows (NaN, zero posteriors), not the others
    logf[a:b] = -800.0
    r_s, r_s_seq = _both_paths(monkeypatch, startidx, start, trans, frames(logf), False)
    assert np.isnan(r_s.log_prob[bad]) and np.isfinite(np.delete(r_s.log_prob, bad)).all()
    assert_array_equal(r_s.gamma[a:b], 0.0)
    assert_array_equal(r_s.log_prob, r_s_seq.log_prob)
    assert_array_equal(r_s.gamma, r_s_seq.gamma)
    assert np.isfinite(r_s.trans).all()


def test_lane_forward_backward_with_missing_values(monkeypatch):
    """Diagonal Gaussian frames with NaN features marginalised out (a row all NaN among
    them), given as LOG_FRAMES: lanes, one at a time and hmmlearn agree."""
    rng = np.random.RandomState(80)
    nc, nf = 5, 3
    lengths = rng.randint(1, 30, size=66)
    startidx = bounds(lengths)
    n = startidx[-1]
    means = rng.randn(nc, nf) * 2
    X = means[rng.randint(nc, size=n)] + rng.randn(n, nf)
    X[rng.rand(n, nf) < 0.2] = np.nan
    X[3] = np.nan
    logf = k.log_density_diag_missing(X, means, rng.rand(nc, nf) + 0.3)
    assert np.isfinite(logf).all() and np.all(logf[3] == 0.0)
    start, trans, _ = model(1, nc, seed=81)
    lp_ref, g_ref, t_ref = reference(start, trans, logf, startidx)
    for log_space in (True, False):
        r, r_seq = _both_paths(monkeypatch, startidx, start, trans, frames(logf), log_space)
        assert_allclose(r.log_prob, lp_ref, rtol=1e-10)
        assert_allclose(r.gamma, g_ref, rtol=1e-8, atol=1e-13)
        assert_allclose(r.trans, t_ref, rtol=1e-8, atol=1e-12)
        assert_allclose(r.gamma, r_seq.gamma, rtol=1e-10, atol=1e-14)


# --------------------------------------------------------------------------- long sequences


@pytest.mark.parametrize("kind_name", ["categorical", "frames", "diag", "full"])
@pytest.mark.parametrize("lengths", [[5000], [4200, 3, 900], [300, 64, 129]])
def test_long_sequence_time_blocks_match_one_at_a_time(monkeypatch, kind_name, lengths):
    """A long sequence has its emissions and statistics computed in 64 time blocks (the
    recurrences staying serial): the same log-likelihoods and posteriors, bit for bit, as
    one sequence at a time; statistics to rounding.  Also with fewer frames than
    blocks."""
    startidx, start, trans, em = lane_problem(kind_name, lengths, 4, seed=len(lengths))
    stats_kind = STATS_OF[kind_name]
    for log_space in (True, False):
        with force(monkeypatch, "long"):
            r = k.forward_backward(startidx, start, trans, em, log_space, stats_kind=stats_kind)
        with force(monkeypatch, "sequence"):
            r_ref = k.forward_backward(startidx, start, trans, em, log_space, stats_kind=stats_kind)
        assert_array_equal(r.log_prob, r_ref.log_prob)
        assert_array_equal(r.gamma, r_ref.gamma)
        for name, a, b in zip(r._fields[2:], r[2:], r_ref[2:], strict=True):
            assert_allclose(a, b, rtol=1e-11, atol=1e-12, err_msg=name)


# --------------------------------------------------------------------------- threads


@pytest.mark.parametrize("lengths", [[30, 1, 300, 24], [3, 40, 1, 17] * 20, [5000], [4200, 3]])
@pytest.mark.parametrize("log_space", [True, False])
@pytest.mark.parametrize("path", ["default", "sequence"])
def test_results_do_not_depend_on_threads(monkeypatch, threads, lengths, log_space, path):
    """Fixed chunks, one accumulator row each, summed in a fixed order: one thread or
    two, every output is the same bit for bit, Viterbi's too.  SERIAL_WORK is a size
    threshold (below it: the calling thread only, and no sequence is split over time
    blocks), so the comparison holds at either setting of it; across the two settings
    the statistics of a split sequence agree to rounding."""
    nc = 3
    startidx = bounds(lengths)
    _, _, _, em, _ = gaussian("diag", int(startidx[-1]), nc, 2, seed=12)
    start, trans, _ = model(1, nc, seed=13)
    by_setting = []
    for serial_work in (0, 1 << 62):
        results = []
        for n_threads in (1, 2):
            threads(n_threads)
            assert fastgen.get_num_threads() == n_threads
            with force(monkeypatch, path, SERIAL_WORK=serial_work):
                r = k.forward_backward(
                    startidx, start, trans, em, log_space, stats_kind=k.STATS_DIAG
                )
                v = k.viterbi_batch(startidx, start, trans, em)
                lp = k.forward_backward(
                    startidx, start, trans, em, log_space, posteriors=False
                ).log_prob  # a score-only pass: the same log-likelihoods
            assert_array_equal(lp, r.log_prob)
            results.append((r, v))
        (r0, v0), (r1, v1) = results
        assert_same(r1, r0)
        assert_array_equal(v1[0], v0[0])
        assert_array_equal(v1[1], v0[1])
        by_setting.append((r0, v0))
    (ra, va), (rb, vb) = by_setting
    assert_array_equal(va[1], vb[1])
    assert_array_equal(va[0], vb[0])
    for name in ("log_prob", "gamma", "start", "trans", "post", "obs", "obs2"):
        assert_allclose(getattr(ra, name), getattr(rb, name), rtol=1e-12, atol=1e-12, err_msg=name)
