"""fastgen._kernels._hmm on small hand-built and hostile arrays, against hmmlearn's _hmmc."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from fastgen._kernels import _hmm

_hmmc = pytest.importorskip("hmmlearn._hmmc")


def model(n, k, seed=0):
    rng = np.random.RandomState(seed)
    return (rng.dirichlet(np.ones(k)), rng.dirichlet(np.ones(k), size=k), rng.rand(n, k) + 1e-3)


def test_densities_match_scipy():
    rng = np.random.RandomState(0)
    X = rng.randn(7, 3)
    means = rng.randn(2, 3)
    cv = rng.rand(2, 3) + 0.1
    out = _hmm.log_density_diag(X, means, cv)
    for k in range(2):
        assert_allclose(out[:, k], multivariate_normal(means[k], np.diag(cv[k])).logpdf(X))
    a = rng.randn(2, 3, 3)
    full = a @ a.transpose(0, 2, 1) + np.eye(3)
    out = _hmm.log_density_full(X, means, np.linalg.cholesky(full))
    for k in range(2):
        assert_allclose(out[:, k], multivariate_normal(means[k], full[k]).logpdf(X))


def test_density_of_empty_input():
    assert _hmm.log_density_diag(np.zeros((0, 2)), np.zeros((3, 2)), np.ones((3, 2))).shape == (
        0,
        3,
    )
    assert _hmm.log_density_full(
        np.zeros((0, 2)), np.zeros((3, 2)), np.tile(np.eye(2), (3, 1, 1))
    ).shape == (0, 3)


@pytest.mark.parametrize("n,k", [(1, 1), (1, 3), (2, 1), (9, 4)])
def test_single_sequence_passes_match_hmmlearn(n, k):
    start, trans, frames = model(n, k)
    logf = np.log(frames)
    fwd = np.empty((n, k))
    bwd = np.empty((n, k))
    lp = _hmm.forward_log(start, trans, logf, fwd)
    lp_ref, fwd_ref = _hmmc.forward_log(start, trans, logf)
    assert_allclose(lp, lp_ref, rtol=1e-12)
    assert_allclose(fwd, fwd_ref, rtol=1e-12)
    _hmm.backward_log(trans, logf, bwd)
    assert_allclose(bwd, _hmmc.backward_log(start, trans, logf), rtol=1e-12, atol=1e-14)


def test_estep_over_batch_matches_per_sequence_reference():
    start, trans, frames = model(20, 3, seed=1)
    logf = np.log(frames)
    startidx = np.array([0, 1, 5, 6, 20], dtype=np.int64)
    for log_space in (True, False):
        lp, gamma, s, t = _hmm.estep(
            startidx, start, trans, logf if log_space else frames, log_space, True, True
        )
        s_ref = np.zeros(3)
        t_ref = np.zeros((3, 3))
        for a, b in zip(startidx[:-1], startidx[1:], strict=True):
            lpr, fwd = _hmmc.forward_log(start, trans, logf[a:b])
            bwd = _hmmc.backward_log(start, trans, logf[a:b])
            g = np.exp(fwd + bwd - logsumexp(fwd + bwd, axis=1, keepdims=True))
            assert_allclose(gamma[a:b], g, rtol=1e-10)
            s_ref += g[0]
            if b - a > 1:
                t_ref += np.exp(_hmmc.compute_log_xi_sum(fwd, trans, bwd, logf[a:b]))
        assert_allclose(s, s_ref, rtol=1e-10)
        assert_allclose(t, t_ref, rtol=1e-10)
        assert_allclose(t.sum(), 20 - 4, rtol=1e-10)  # one count per transition
        lp2, gamma2, _, _ = _hmm.estep(
            startidx, start, trans, logf if log_space else frames, log_space, False, False
        )
        assert gamma2.shape == (0, 3)
        assert_allclose(lp2, lp, rtol=1e-12)


def test_estep_zero_probabilities_and_impossible_frames():
    start = np.array([1.0, 0.0])
    trans = np.array([[0.0, 1.0], [1.0, 0.0]])  # deterministic alternation
    logf = np.zeros((4, 2))
    with np.errstate(divide="ignore"):
        lp, gamma, s, t = _hmm.estep(np.array([0, 4]), start, trans, logf, True, True, True)
    assert_allclose(lp, [0.0])
    assert_array_equal(gamma, [[1, 0], [0, 1], [1, 0], [0, 1]])
    assert_array_equal(t, [[0, 2], [1, 0]])
    # a frame no state can emit: -inf log-likelihood, no NaN in the lattices' posteriors
    logf[2] = -np.inf
    lp, gamma, _, t = _hmm.estep(np.array([0, 4]), start, trans, logf, True, True, True)
    assert lp[0] == -np.inf
    assert_array_equal(gamma, 0.0)
    assert_array_equal(t, 0.0)


def test_scaling_underflow_reports_nan():
    start = np.array([0.5, 0.5])
    trans = np.full((2, 2), 0.5)
    frames = np.full((3, 2), 1e-310)
    lp, _, _, _ = _hmm.estep(np.array([0, 1, 3]), start, trans, frames, False, True, True)
    assert np.isnan(lp).all()


def test_viterbi_ties_follow_hmmlearn():
    start = np.full(3, 1 / 3)
    trans = np.full((3, 3), 1 / 3)
    logf = np.zeros((5, 3))
    lp, states = _hmm.viterbi_batch(np.array([0, 2, 5]), start, trans, logf)
    ref = np.concatenate(
        [_hmmc.viterbi(start, trans, logf[:2])[1], _hmmc.viterbi(start, trans, logf[2:])[1]]
    )
    assert_array_equal(states, ref)
    assert_allclose(lp.sum(), 2 * np.log(1 / 3) + 3 * np.log(1 / 3))


def test_single_state():
    lp, gamma, s, t = _hmm.estep(
        np.array([0, 3]), np.ones(1), np.ones((1, 1)), np.full((3, 1), -1.0), True, True, True
    )
    assert_allclose(lp, [-3.0])
    assert_array_equal(gamma, np.ones((3, 1)))
    assert_allclose(t, [[2.0]])


# --------------------------------------------------------------------------- property-based


@st.composite
def hmm_problems(draw):
    k = draw(st.integers(1, 4))
    lengths = draw(st.lists(st.integers(1, 6), min_size=1, max_size=4))
    n = sum(lengths)
    unit = st.floats(0.0, 1.0)
    start = draw(arrays(np.float64, k, elements=unit))
    trans = draw(arrays(np.float64, (k, k), elements=unit))
    start[draw(st.integers(0, k - 1))] += 0.5  # at least one possible start
    trans[np.arange(k), draw(arrays(np.int64, k, elements=st.integers(0, k - 1)))] += 0.5
    frames = draw(arrays(np.float64, (n, k), elements=st.floats(1e-3, 1.0)))
    startidx = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return (start / start.sum(), trans / trans.sum(axis=1, keepdims=True), frames, startidx)


@settings(max_examples=60, deadline=None)
@given(hmm_problems())
def test_batch_kernels_match_hmmlearn_on_random_models(problem):
    start, trans, frames, startidx = problem
    logf = np.log(frames)
    k = start.shape[0]
    lp, gamma, s, t = _hmm.estep(startidx, start, trans, logf, True, True, True)
    lp_s, gamma_s, s_s, t_s = _hmm.estep(startidx, start, trans, frames, False, True, True)
    with np.errstate(divide="ignore"):
        vlp, states = _hmm.viterbi_batch(startidx, start, trans, logf)
        log_start, log_trans = np.log(start), np.log(trans)
    t_ref = np.zeros((k, k))
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
        # our path is a most likely one (ties may be broken either way by rounding)
        vlp_ref, _ = _hmmc.viterbi(start, trans, logf[a:b])
        path = states[a:b]
        path_lp = (
            log_start[path[0]]
            + log_trans[path[:-1], path[1:]].sum()
            + logf[np.arange(a, b), path].sum()
        )
        assert_allclose([vlp[j], path_lp], [vlp_ref, vlp_ref], rtol=1e-10)
    assert_allclose(t, t_ref, rtol=1e-9, atol=1e-12)
    assert_allclose(t_s, t_ref, rtol=1e-9, atol=1e-12)
    assert np.all(np.isfinite(gamma)) and np.all(np.isfinite(t))


# --------------------------------------------------------------------------- fused E-step


def _reference(start, trans, logf, startidx):
    """Exact log-space posteriors, xi sums and log-likelihoods with hmmlearn's _hmmc."""
    lps, gam, t_ref = [], [], np.zeros((len(start), len(start)))
    for a, b in zip(startidx[:-1], startidx[1:], strict=True):
        lp, fwd = _hmmc.forward_log(start, trans, logf[a:b])
        bwd = _hmmc.backward_log(start, trans, logf[a:b])
        lps.append(lp)
        with np.errstate(under="ignore"):
            gam.append(np.exp(fwd + bwd - logsumexp(fwd + bwd, axis=1, keepdims=True)))
            if b - a > 1:
                t_ref += np.exp(_hmmc.compute_log_xi_sum(fwd, trans, bwd, logf[a:b]))
    return np.array(lps), np.concatenate(gam), t_ref


@pytest.mark.parametrize("nc", [1, 5, 8, 9, 16, 17])
def test_matvec_lanes_is_the_plain_sum_in_order(nc):
    rng = np.random.RandomState(nc)
    vec = rng.rand(nc) * 10.0 ** rng.randint(-20, 20, size=nc)
    mat = rng.rand(nc, nc)
    padded = _hmm._padded(mat)
    assert padded.shape[1] % _hmm._LANES == 0 and np.all(padded[:, nc:] == 0)
    out = np.full(padded.shape[1], np.nan)
    _hmm._matvec_lanes.py_func(vec, padded, nc, out)
    for i in range(nc):
        ref = 0.0
        for j in range(nc):
            ref += vec[j] * mat[j, i]
        assert out[i] == ref  # bit for bit
    assert np.all(out[nc:] == 0)


@pytest.mark.parametrize("lengths", [[30, 1, 45, 24], [5000]])  # short / long paths
@pytest.mark.parametrize("nc", [9, 16, 17])  # the register-blocked recurrences
def test_many_state_forward_backward_matches_hmmlearn(lengths, nc):
    start, trans, frames = model(sum(lengths), nc, seed=nc)
    logf = np.log(frames)
    startidx = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    lp_ref, g_ref, t_ref = _reference(start, trans, logf, startidx)
    for log_space in (True, False):
        lp, gamma, _, t = _hmm.estep(
            startidx, start, trans, logf if log_space else frames, log_space, True, True
        )
        assert_allclose(lp, lp_ref, rtol=1e-10)
        assert_allclose(gamma, g_ref, rtol=1e-9, atol=1e-13)
        assert_allclose(t, t_ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("lengths", [[30, 1, 45, 24], [5000], [4200, 3]])  # short / long paths
@pytest.mark.parametrize("cov", ["diag", "full"])
def test_fused_gaussian_estep_matches_numpy_statistics(lengths, cov):
    rng = np.random.RandomState(3)
    nc, nf = 3, 2
    startidx = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    n = startidx[-1]
    means = rng.randn(nc, nf) * 3
    X = means[rng.randint(nc, size=n)] + rng.randn(n, nf)
    start, trans, _ = model(1, nc, seed=4)
    if cov == "diag":
        cv = rng.rand(nc, nf) + 0.5
        kind, em = _hmm.emissions(_hmm.EMIT_DIAG, X=X, means=means, covars=cv)
        logf = _hmm.log_density_diag(X, means, cv)
        stats_kind = _hmm.STATS_DIAG
    else:
        a = rng.randn(nc, nf, nf)
        chol = np.linalg.cholesky(a @ a.transpose(0, 2, 1) + np.eye(nf))
        kind, em = _hmm.emissions(_hmm.EMIT_FULL, X=X, means=means, chol=chol)
        logf = _hmm.log_density_full(X, means, chol)
        stats_kind = _hmm.STATS_FULL
    lp_ref, g_ref, t_ref = _reference(start, trans, logf, startidx)
    for log_space in (True, False):
        r = _hmm.forward_backward(
            startidx, start, trans, kind, em, log_space, xi=True, stats_kind=stats_kind
        )
        assert_allclose(r.log_prob, lp_ref, rtol=1e-10)
        assert_allclose(r.gamma, g_ref, rtol=1e-8, atol=1e-12)
        assert_allclose(r.trans, t_ref, rtol=1e-8, atol=1e-12)
        assert_allclose(r.start, g_ref[startidx[:-1]].sum(axis=0), rtol=1e-10)
        assert_allclose(r.post, g_ref.sum(axis=0), rtol=1e-10)
        assert_allclose(r.obs, g_ref.T @ X, rtol=1e-9)
        if cov == "diag":
            assert_allclose(r.obs2, g_ref.T @ (X * X), rtol=1e-9)
        else:
            assert_allclose(r.obs2, np.einsum("tk,tf,te->kfe", g_ref, X, X), rtol=1e-9)
        # the same without posteriors kept, and a score-only pass
        r2 = _hmm.forward_backward(
            startidx, start, trans, kind, em, log_space, gamma=False, stats_kind=stats_kind
        )
        assert r2.gamma.shape == (0, nc)
        assert_allclose(r2.obs, r.obs, rtol=1e-12)
        r3 = _hmm.forward_backward(startidx, start, trans, kind, em, log_space, posteriors=False)
        assert_allclose(r3.log_prob, lp_ref, rtol=1e-10)
    lp_v, states = _hmm.viterbi_batch(startidx, start, trans, kind=kind, em=em)
    lp_v2, states2 = _hmm.viterbi_batch(startidx, start, trans, logf)
    assert_array_equal(states, states2)
    assert_allclose(lp_v, lp_v2, rtol=1e-12)


def test_fused_categorical_estep_counts_symbols():
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
    kind, em = _hmm.emissions(_hmm.EMIT_CATEGORICAL, sym=sym, log_emissionprob=log_em)
    lp_ref, g_ref, t_ref = _reference(start, trans, log_em.T[sym], startidx)
    r = _hmm.forward_backward(
        startidx, start, trans, kind, em, True, stats_kind=_hmm.STATS_CATEGORICAL
    )
    assert_allclose(r.log_prob, lp_ref, rtol=1e-10)
    assert_allclose(r.gamma, g_ref, rtol=1e-8, atol=1e-12)
    assert_allclose(r.trans, t_ref, rtol=1e-8, atol=1e-12)
    counts = np.stack([np.bincount(sym, weights=g_ref[:, k], minlength=ns) for k in range(nc)])
    assert_allclose(r.obs, counts, rtol=1e-9, atol=1e-12)
    assert np.all(r.obs[0, 2] == 0.0)


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
    kind, em = _hmm.emissions(_hmm.EMIT_LOG_FRAMES, log_frame=logf)
    with np.errstate(divide="ignore"):
        lp_ref, g_ref, t_ref = _reference(start, trans, logf, startidx)
    r = _hmm.forward_backward(startidx, start, trans, kind, em, True)
    assert_allclose(r.log_prob, lp_ref, rtol=1e-10)
    assert_allclose(r.gamma, g_ref, rtol=1e-8, atol=1e-12)
    assert_allclose(r.trans, t_ref, rtol=1e-8, atol=1e-12)
    # the scaling implementation underflows where log space does not: NaN (hmmlearn raises)
    kind, em = _hmm.emissions(_hmm.EMIT_LOG_FRAMES, log_frame=np.full((n, 3), -800.0))
    for log_space in (True, False):
        lp = _hmm.forward_backward(startidx, start, trans, kind, em, log_space).log_prob
        assert np.isnan(lp).all() != log_space


def test_fused_estep_rejects_hostile_inputs():
    start, trans, frames = model(6, 2)
    logf = np.log(frames)
    kind, em = _hmm.emissions(_hmm.EMIT_LOG_FRAMES, log_frame=logf)
    for startidx in ([0, 7], [1, 6], [0, 3, 3, 6], [0, 4, 2, 6], [6]):
        with pytest.raises(ValueError, match="startidx"):
            _hmm.forward_backward(np.array(startidx), start, trans, kind, em, True)
        with pytest.raises(ValueError, match="startidx"):
            _hmm.viterbi_batch(np.array(startidx), start, trans, logf)
    with pytest.raises(ValueError, match="n_components"):
        _hmm.forward_backward(np.array([0, 6]), start[:1], trans, kind, em, True)
    with pytest.raises(ValueError, match="symbols"):
        _hmm.emissions(_hmm.EMIT_CATEGORICAL, sym=np.array([0, 3]), log_emissionprob=logf[:2, :2])
    with pytest.raises(ValueError, match="symbols"):
        _hmm.emissions(_hmm.EMIT_CATEGORICAL, sym=np.array([-1, 0]), log_emissionprob=logf[:2])
    X, m2, m3 = np.zeros((3, 2)), np.zeros((2, 2)), np.zeros((2, 3))
    with pytest.raises(ValueError, match="covars"):
        _hmm.emissions(_hmm.EMIT_DIAG, X=X, means=m2, covars=-np.ones((2, 2)))
    with pytest.raises(ValueError, match="disagree"):
        _hmm.emissions(_hmm.EMIT_DIAG, X=X, means=m3, covars=np.ones((2, 3)))
    with pytest.raises(ValueError, match="chol"):
        _hmm.emissions(_hmm.EMIT_FULL, X=X, means=m2, chol=np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="Gaussian statistics"):
        _hmm.forward_backward(
            np.array([0, 6]), start, trans, kind, em, True, stats_kind=_hmm.STATS_DIAG
        )
    with pytest.raises(ValueError, match="emission kind"):
        _hmm.emissions(9)


# --------------------------------------------------------------------------- vectorised exp


def _vexp(x):
    x = np.array(x, dtype=np.float64)
    bits = np.empty(len(x), dtype=np.int64)
    _hmm.vexp(x, np.empty(len(x)), bits, bits.view(np.float64))
    return x


def test_vexp_within_one_ulp_of_numpy():
    rng = np.random.RandomState(11)
    x = np.concatenate(
        [
            np.linspace(-708.0, 708.0, 200_003),
            rng.uniform(-1.0, 1.0, 10_001),
            np.log(2.0) * np.arange(-1021, 1022) + rng.uniform(-1e-9, 1e-9, 2043),
            [0.0, -0.0, 1e-300, -1e-300, 708.0, -708.0, np.log(2.0) / 2, -np.log(2.0) / 2],
        ]
    )
    got, ref = _vexp(x), np.exp(x)
    assert np.all(np.abs(got - ref) <= np.spacing(ref))


def test_vexp_hands_extreme_and_special_arguments_to_numpy():
    x = [-1e308, -746.0, -745.0, -720.5, -708.5, 709.5, 710.0, -np.inf, np.inf, np.nan, 0.5]
    with np.errstate(over="ignore"):
        ref = np.exp(np.array(x))
    assert_array_equal(_vexp(x), ref)  # subnormals, zeros, inf and NaN exactly as np.exp
    assert_array_equal(_vexp([]), [])


# --------------------------------------------------------------------------- serial path


@pytest.mark.parametrize("lengths", [[30, 1, 300, 24], [3, 40, 1, 17] * 20, [5000], [4200, 3]])
@pytest.mark.parametrize("log_space", [True, False])
def test_serial_and_threaded_paths_agree_exactly(monkeypatch, lengths, log_space):
    """Small inputs run on the calling thread only: bit-for-bit the threaded results."""
    import numba

    rng = np.random.RandomState(12)
    nc, nf = 3, 2
    startidx = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    n = startidx[-1]
    means = rng.randn(nc, nf) * 3
    X = means[rng.randint(nc, size=n)] + rng.randn(n, nf)
    start, trans, _ = model(1, nc, seed=13)
    kind, em = _hmm.emissions(_hmm.EMIT_DIAG, X=X, means=means, covars=rng.rand(nc, nf) + 0.5)
    n_threads = numba.get_num_threads()
    results = []
    for threshold in (0, 10**18):  # always threaded, always serial
        monkeypatch.setattr(_hmm, "_SERIAL_WORK", threshold)
        r = _hmm.forward_backward(
            startidx, start, trans, kind, em, log_space, stats_kind=_hmm.STATS_DIAG
        )
        v = _hmm.viterbi_batch(startidx, start, trans, kind=kind, em=em)
        results.append((r, v))
        assert numba.get_num_threads() == n_threads  # restored after the serial path
    (r0, v0), (r1, v1) = results
    for a, b in zip(r0, r1, strict=True):
        assert_array_equal(a, b)
    assert_array_equal(v0[0], v1[0])
    assert_array_equal(v0[1], v1[1])


def test_serial_path_restores_thread_count_after_an_error(monkeypatch):
    import numba

    monkeypatch.setattr(_hmm, "_SERIAL_WORK", 10**18)
    n_threads = numba.get_num_threads()
    with pytest.raises(RuntimeError, match="boom"), _hmm._threads_for(1):
        assert numba.get_num_threads() == 1
        raise RuntimeError("boom")
    assert numba.get_num_threads() == n_threads


@pytest.mark.parametrize("n", [1, 127, 128, 129, 300])  # around the emission block size
def test_block_emissions_match_per_frame_densities(n):
    rng = np.random.RandomState(14)
    nc, nf = 4, 3
    X = rng.randn(n, nf) * 2
    means = rng.randn(nc, nf)
    cv = rng.rand(nc, nf) + 0.2
    a = rng.randn(nc, nf, nf)
    chol = np.linalg.cholesky(a @ a.transpose(0, 2, 1) + np.eye(nf))
    for kind, em_kw, ref in (
        (_hmm.EMIT_DIAG, {"covars": cv}, _hmm.log_density_diag(X, means, cv)),
        (_hmm.EMIT_FULL, {"chol": chol}, _hmm.log_density_full(X, means, chol)),
    ):
        kind, em = _hmm.emissions(kind, X=X, means=means, **em_kw)
        out = np.full((n, nc), np.nan)
        _hmm._log_frames(kind, em, 0, n, _hmm._workspace(nf, nc), out)
        assert_allclose(out, ref, rtol=1e-13, atol=1e-13)


# --------------------------------------------------------------------------- lane-wise paths


def _viterbi_problem(kind_name, lengths, nc, seed):
    """(startidx, start, trans, kind, em) with zero probabilities and exact ties mixed in."""
    rng = np.random.RandomState(seed)
    startidx = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
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
        kind, em = _hmm.emissions(
            _hmm.EMIT_CATEGORICAL, sym=rng.randint(ns, size=n), log_emissionprob=log_em
        )
    elif kind_name == "frames":
        logf = np.log(rng.rand(n, nc) + 1e-3)
        logf[rng.rand(n) < 0.2] = 0.0  # tied frames
        logf[rng.rand(n, nc) < 0.05] = -np.inf
        kind, em = _hmm.emissions(_hmm.EMIT_LOG_FRAMES, log_frame=logf)
    else:
        nf = 3
        means = rng.randn(nc, nf) * 2
        X = means[rng.randint(nc, size=n)] + rng.randn(n, nf)
        if kind_name == "diag":
            kind, em = _hmm.emissions(
                _hmm.EMIT_DIAG, X=X, means=means, covars=rng.rand(nc, nf) + 0.3
            )
        else:
            a = rng.randn(nc, nf, nf)
            chol = np.linalg.cholesky(a @ a.transpose(0, 2, 1) + np.eye(nf))
            kind, em = _hmm.emissions(_hmm.EMIT_FULL, X=X, means=means, chol=chol)
    return startidx, start, trans, kind, em


#: (lengths, n_components) of the lane-kernel tests: one state, length-1 sequences,
#: groups of lanes one short of full, full, and one over, mixed lengths, a sequence too
#: long for the lanes, more states than the register blocks.
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


@pytest.mark.parametrize("kind_name", ["categorical", "frames", "diag", "full"])
@pytest.mark.parametrize("lengths,nc", LANE_CASES)
def test_lane_viterbi_is_the_per_sequence_viterbi(monkeypatch, kind_name, lengths, nc):
    """The lane-wise Viterbi gives bit for bit the per-sequence kernel's paths and scores."""
    problem = _viterbi_problem(kind_name, lengths, nc, seed=len(lengths) + nc)
    startidx, start, trans, kind, em = problem
    lp, states = _hmm.viterbi_batch(startidx, start, trans, kind=kind, em=em)
    monkeypatch.setattr(_hmm, "_LANE_CELLS", 0)  # every sequence on the per-sequence kernel
    lp_ref, states_ref = _hmm.viterbi_batch(startidx, start, trans, kind=kind, em=em)
    assert_array_equal(states, states_ref)
    assert_array_equal(lp, lp_ref)
    assert states.min() >= 0 and states.max() < nc


def test_lane_viterbi_matches_hmmlearn_with_ties_and_zeros():
    startidx, start, trans, kind, em = _viterbi_problem("frames", [1, 6, 2, 30, 4] * 20, 5, 21)
    logf = em[7]
    lp, states = _hmm.viterbi_batch(startidx, start, trans, kind=kind, em=em)
    for j, (a, b) in enumerate(zip(startidx[:-1], startidx[1:], strict=True)):
        lp_ref, path = _hmmc.viterbi(start, trans, logf[a:b])
        assert_array_equal(states[a:b], path)
        assert lp[j] == lp_ref


def test_lane_viterbi_nan_frames_stay_in_range():
    """Hostile frames (NaN) give some path of valid states, never an out-of-range index."""
    startidx, start, trans, kind, em = _viterbi_problem("frames", [3, 8, 1] * 30, 4, 22)
    logf = em[7].copy()
    logf[::7] = np.nan
    _, states = _hmm.viterbi_batch(startidx, start, trans, logf)
    assert states.min() >= 0 and states.max() < 4


def test_inverse_cholesky_matches_scipy():
    from scipy import linalg

    rng = np.random.RandomState(23)
    for nf in (1, 2, 7):
        a = rng.randn(4, nf, nf)
        chol = np.linalg.cholesky(a @ a.transpose(0, 2, 1) + 0.1 * np.eye(nf))
        ref = np.stack([linalg.solve_triangular(c, np.eye(nf), lower=True).T for c in chol])
        got = _hmm._inverse_cholesky_t(chol)
        assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
        assert_array_equal(np.tril(got, -1), 0.0)


@pytest.mark.parametrize("lengths", [[1], [63, 64, 65, 1, 130], [5000]])  # around _STAT_LANES
@pytest.mark.parametrize("nc,nf", [(1, 1), (4, 5)])
def test_lane_statistics_match_per_frame_sums(lengths, nc, nf):
    """Gaussian statistics summed lane-wise equal the posterior-weighted sums of NumPy."""
    rng = np.random.RandomState(24)
    startidx = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    n = startidx[-1]
    means = rng.randn(nc, nf) * 2
    X = means[rng.randint(nc, size=n)] + rng.randn(n, nf)
    start, trans, _ = model(1, nc, seed=25)
    a = rng.randn(nc, nf, nf)
    chol = np.linalg.cholesky(a @ a.transpose(0, 2, 1) + np.eye(nf))
    full = _hmm.emissions(_hmm.EMIT_FULL, X=X, means=means, chol=chol)
    diag = _hmm.emissions(_hmm.EMIT_DIAG, X=X, means=means, covars=np.ones((nc, nf)))
    for stats_kind in (_hmm.STATS_MEANS, _hmm.STATS_DIAG, _hmm.STATS_FULL):
        kind_s, em_s = diag if stats_kind == _hmm.STATS_DIAG else full
        gamma = _hmm.forward_backward(startidx, start, trans, kind_s, em_s, True).gamma
        r = _hmm.forward_backward(
            startidx, start, trans, kind_s, em_s, True, gamma=False, stats_kind=stats_kind
        )
        assert_allclose(r.post, gamma.sum(axis=0), rtol=1e-11)
        assert_allclose(r.obs, gamma.T @ X, rtol=1e-11, atol=1e-12)
        if stats_kind == _hmm.STATS_DIAG:
            assert_allclose(r.obs2, gamma.T @ (X * X), rtol=1e-11, atol=1e-12)
        elif stats_kind == _hmm.STATS_FULL:
            ref = np.einsum("tk,tf,te->kfe", gamma, X, X)
            assert_allclose(r.obs2, ref, rtol=1e-11, atol=1e-12)
            assert_array_equal(r.obs2, r.obs2.transpose(0, 2, 1))  # both halves, exactly


# --------------------------------------------------------------------------- lagged forward


def _scaled_frames(logf):
    """``(fr, cc, flag)`` as the kernels' scaled emissions of the log frames ``logf``."""
    cc = logf.max(axis=1)
    d = logf - cc[:, None]
    return np.ascontiguousarray(np.exp(d)), cc, np.any(d < _hmm._FLUSH, axis=1)


def _forward_both(start, trans, logf):
    """The lagged and the frame-by-frame forward pass: ``[(lp, ok, fwd, scale)] * 2``."""
    n, nc = logf.shape
    fr, cc, flag = _scaled_frames(logf)
    trans_p = _hmm._padded(trans)
    out = []
    for lagged in (True, False):
        fwd, scale = np.full((n, nc), np.nan), np.full(n, np.nan)
        pred = np.empty(trans_p.shape[1])
        args = (start, trans_p, float(trans.min()), fr, cc, flag, n)
        if lagged:
            lp, ok = _hmm._forward_lagged(*args, fwd, scale, pred)
        else:
            lp, ok = _hmm._forward_normalised(*args, True, fwd, scale, pred)
        out.append((lp, ok, fwd, scale))
    return out


@pytest.mark.parametrize("n,nc", [(1, 1), (1, 3), (2, 1), (3, 2), (300, 4), (257, 9), (64, 17)])
def test_lagged_forward_matches_the_frame_by_frame_pass(n, nc):
    """Normalisation off the recurrence: the same rows, normalisers and log-likelihood as
    normalising every frame, and as hmmlearn's log-space pass."""
    rng = np.random.RandomState(n + nc)
    start, trans, _ = model(1, nc, seed=n)
    logf = rng.randn(n, nc) * 30.0  # normalisers down to ~e^-100
    (lp, ok, fwd, scale), (lp_n, ok_n, fwd_n, scale_n) = _forward_both(start, trans, logf)
    assert ok and ok_n
    assert_allclose(lp, lp_n, rtol=1e-12)
    assert_allclose(lp, _hmmc.forward_log(start, trans, logf)[0], rtol=1e-11)
    assert_allclose(fwd, fwd_n, rtol=1e-12, atol=1e-300)
    assert_allclose(fwd.sum(axis=1), 1.0, rtol=1e-14)
    assert_allclose(scale, scale_n, rtol=1e-12)


def test_lagged_forward_keeps_a_million_frames_in_range():
    """10^6 frames, each losing up to e^-60: no under- or overflow of the unnormalised
    rows (powers of two taken two frames back), the log-likelihood telescopes exactly."""
    rng = np.random.RandomState(3)
    start, trans, _ = model(1, 3, seed=3)
    logf = rng.rand(1_000_000, 3) * -60.0
    (lp, ok, fwd, scale), (lp_n, ok_n, fwd_n, _) = _forward_both(start, trans, logf)
    assert ok and ok_n and lp < -1e7
    assert_allclose(lp, lp_n, rtol=1e-12)
    assert np.isfinite(fwd).all()
    assert_allclose(fwd[-5:], fwd_n[-5:], rtol=1e-12)
    assert_allclose(lp, np.log(scale).sum() + _scaled_frames(logf)[1].sum(), rtol=1e-12)


def test_lagged_forward_hands_tiny_normalisers_to_the_frame_by_frame_pass():
    """A frame whose normaliser (e^-500) is below the lagged pass's bound: the lagged pass
    declines, the frame-by-frame pass takes the sequence, hmmlearn's numbers result."""
    start = np.array([1.0, 0.0])
    trans = np.array([[1.0, 0.0], [0.5, 0.5]])  # stays in state 0
    logf = np.zeros((6, 2))
    logf[3] = [-500.0, 0.0]  # state 0, the only reachable one, is e^-500 less likely
    (lp, ok, _, _), (lp_n, ok_n, fwd_n, _) = _forward_both(start, trans, logf)
    assert not ok and ok_n
    assert_allclose(lp_n, -500.0, rtol=1e-12)
    fr, cc, flag = _scaled_frames(logf)
    fwd = np.empty((6, 2))
    lp2, ok2 = _hmm._forward_fast(
        start, _hmm._padded(trans), 0.0, fr, cc, flag, 6, True, fwd, np.empty(6), np.empty(8)
    )
    assert ok2 and lp2 == lp_n
    assert_array_equal(fwd, fwd_n)
    with np.errstate(divide="ignore"):
        lp_ref, g_ref, t_ref = _reference(start, trans, logf, np.array([0, 6]))
    kind, em = _hmm.emissions(_hmm.EMIT_LOG_FRAMES, log_frame=logf)
    r = _hmm.forward_backward(np.array([0, 6]), start, trans, kind, em, True)
    assert_allclose(r.log_prob, lp_ref, rtol=1e-12)
    assert_allclose(r.gamma, g_ref, rtol=1e-10, atol=1e-15)
    assert_allclose(r.trans, t_ref, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("lengths", [[1, 63, 64, 65, 2, 130, 1], [5000, 7]])  # lane blocks
@pytest.mark.parametrize("nc", [1, 3, 9])
def test_lane_posteriors_and_transitions_match_hmmlearn(lengths, nc):
    """Posteriors and expected transitions summed lane-wise, across block boundaries of
    ``_STAT_LANES`` frames (and the long-sequence time blocks), with and without gamma."""
    rng = np.random.RandomState(len(lengths) + nc)
    startidx = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    start, trans, _ = model(1, nc, seed=nc)
    logf = rng.randn(startidx[-1], nc) * 3.0
    lp_ref, g_ref, t_ref = _reference(start, trans, logf, startidx)
    kind, em = _hmm.emissions(_hmm.EMIT_LOG_FRAMES, log_frame=logf)
    s_ref = g_ref[startidx[:-1]].sum(axis=0)
    for log_space in (True, False):
        r = _hmm.forward_backward(startidx, start, trans, kind, em, log_space)
        assert_allclose(r.log_prob, lp_ref, rtol=1e-11)
        assert_allclose(r.gamma, g_ref, rtol=1e-9, atol=1e-14)
        assert_allclose(r.start, s_ref, rtol=1e-10)
        assert_allclose(r.trans, t_ref, rtol=1e-9, atol=1e-12)
        assert_allclose(r.trans.sum(), startidx[-1] - len(lengths), rtol=1e-11)
        r2 = _hmm.forward_backward(startidx, start, trans, kind, em, log_space, gamma=False)
        assert r2.gamma.shape == (0, nc)
        assert_array_equal(r2.trans, r.trans)
        assert_array_equal(r2.start, r.start)


# ----------------------------------------------------------------------- lane-wise forward-backward


_STATS = {
    "categorical": _hmm.STATS_CATEGORICAL,
    "frames": _hmm.STATS_NONE,
    "diag": _hmm.STATS_DIAG,
    "full": _hmm.STATS_FULL,
}


def _both_paths(monkeypatch, startidx, start, trans, kind, em, log_space, **kw):
    """forward_backward through the lanes and through the per-sequence kernel."""
    r = _hmm.forward_backward(startidx, start, trans, kind, em, log_space, **kw)
    with monkeypatch.context() as m:
        m.setattr(_hmm, "_FB_LANE_CELLS", 0)  # every sequence on the per-sequence kernel
        r_ref = _hmm.forward_backward(startidx, start, trans, kind, em, log_space, **kw)
    return r, r_ref


@pytest.mark.parametrize("kind_name", ["categorical", "frames", "diag", "full"])
@pytest.mark.parametrize("lengths,nc", LANE_CASES)
def test_lane_forward_backward_is_the_per_sequence_pass(monkeypatch, kind_name, lengths, nc):
    """Lane-wise forward-backward against the per-sequence kernel: the scaling
    implementation does the same arithmetic (bit for bit), log space agrees to rounding
    (the per-sequence pass uses the lagged forward recurrence); statistics to rounding."""
    startidx, start, trans, kind, em = _viterbi_problem(kind_name, lengths, nc, seed=nc + 40)
    stats_kind = _STATS[kind_name]
    for log_space in (True, False):
        r, r_ref = _both_paths(
            monkeypatch, startidx, start, trans, kind, em, log_space, stats_kind=stats_kind
        )
        if log_space:
            assert_allclose(r.log_prob, r_ref.log_prob, rtol=1e-12, atol=1e-12)
            assert_allclose(r.gamma, r_ref.gamma, rtol=1e-10, atol=1e-14)
        else:
            assert_array_equal(r.log_prob, r_ref.log_prob)
            assert_array_equal(r.gamma, r_ref.gamma)
        for a, b in zip(r[2:], r_ref[2:], strict=True):  # start, trans, post, obs, obs2
            assert_allclose(a, b, rtol=1e-10, atol=1e-12)
        score, score_ref = _both_paths(
            monkeypatch, startidx, start, trans, kind, em, log_space, posteriors=False
        )
        assert_array_equal(score.log_prob, r.log_prob)
        assert_allclose(score.log_prob, score_ref.log_prob, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("nc", [1, 5, 16])
def test_lane_forward_backward_matches_hmmlearn(nc):
    """Mixed lengths across three groups, scaled passes against hmmlearn's log space."""
    rng = np.random.RandomState(nc + 50)
    lengths = rng.randint(1, 60, size=150)
    startidx = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    start, trans, _ = model(1, nc, seed=nc)
    logf = rng.randn(startidx[-1], nc) * 4.0
    lp_ref, g_ref, t_ref = _reference(start, trans, logf, startidx)
    kind, em = _hmm.emissions(_hmm.EMIT_LOG_FRAMES, log_frame=logf)
    for log_space in (True, False):
        r = _hmm.forward_backward(startidx, start, trans, kind, em, log_space)
        assert_allclose(r.log_prob, lp_ref, rtol=1e-10)
        assert_allclose(r.gamma, g_ref, rtol=1e-8, atol=1e-13)
        assert_allclose(r.trans, t_ref, rtol=1e-8, atol=1e-12)
        assert_allclose(r.start, g_ref[startidx[:-1]].sum(axis=0), rtol=1e-10)


def test_lane_results_do_not_depend_on_the_group():
    """A sequence gets the same log-likelihood and posteriors, bit for bit, alone or in
    any group of lanes (other lengths, other neighbours, another order)."""
    rng = np.random.RandomState(60)
    nc, nf = 16, 4
    lengths = rng.randint(1, 50, size=70)
    startidx = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    means = rng.randn(nc, nf) * 2
    X = means[rng.randint(nc, size=startidx[-1])] + rng.randn(startidx[-1], nf)
    cv = rng.rand(nc, nf) + 0.3
    start, trans, _ = model(1, nc, seed=61)

    def run(Xs, idx):
        kind, em = _hmm.emissions(_hmm.EMIT_DIAG, X=Xs, means=means, covars=cv)
        return _hmm.forward_backward(idx, start, trans, kind, em, True, xi=False)

    r = run(X, startidx)
    order = rng.permutation(len(lengths))
    parts = [X[startidx[s] : startidx[s + 1]] for s in order]
    r_perm = run(np.concatenate(parts), np.concatenate([[0], np.cumsum(lengths[order])]))
    off = np.concatenate([[0], np.cumsum(lengths[order])])
    for q, s in enumerate(order):
        a, b = startidx[s], startidx[s + 1]
        assert r_perm.log_prob[q] == r.log_prob[s]
        assert_array_equal(r_perm.gamma[off[q] : off[q + 1]], r.gamma[a:b])
        if q % 10 == 0:  # alone, in a group of one
            alone = run(X[a:b], np.array([0, b - a]))
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
    startidx = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    logf = rng.randn(startidx[-1], 3) * 2.0
    bad = 37
    a, b = startidx[bad], startidx[bad + 1]
    logf[a:b] = rng.randn(b - a, 3) * 300.0
    logf[a:b, 2] -= 2000.0
    kind, em = _hmm.emissions(_hmm.EMIT_LOG_FRAMES, log_frame=logf)
    with np.errstate(divide="ignore"):
        lp_ref, g_ref, t_ref = _reference(start, trans, logf, startidx)
    r, r_seq = _both_paths(monkeypatch, startidx, start, trans, kind, em, True)
    assert_allclose(r.log_prob, lp_ref, rtol=1e-10)
    assert_allclose(r.gamma, g_ref, rtol=1e-8, atol=1e-12)
    assert_allclose(r.trans, t_ref, rtol=1e-8, atol=1e-12)
    assert r.log_prob[bad] == r_seq.log_prob[bad]  # the same exact pass
    assert_array_equal(r.gamma[a:b], r_seq.gamma[a:b])
    # the neighbours without the hostile lane: bit for bit the same
    keep = np.r_[0:a, b : startidx[-1]]
    kind2, em2 = _hmm.emissions(_hmm.EMIT_LOG_FRAMES, log_frame=logf[keep])
    idx2 = np.concatenate([[0], np.cumsum(np.delete(lengths, bad))]).astype(np.int64)
    r2 = _hmm.forward_backward(idx2, start, trans, kind2, em2, True)
    assert_array_equal(np.delete(r.log_prob, bad), r2.log_prob)
    assert_array_equal(r.gamma[keep], r2.gamma)
    # the scaling implementation: that lane underflows (NaN, zero posteriors), not the others
    logf[a:b] = -800.0
    em_s = _hmm.emissions(_hmm.EMIT_LOG_FRAMES, log_frame=logf)
    r_s, r_s_seq = _both_paths(monkeypatch, startidx, start, trans, *em_s, False)
    assert np.isnan(r_s.log_prob[bad]) and np.isfinite(np.delete(r_s.log_prob, bad)).all()
    assert_array_equal(r_s.gamma[a:b], 0.0)
    assert_array_equal(r_s.log_prob, r_s_seq.log_prob)
    assert_array_equal(r_s.gamma, r_s_seq.gamma)
    assert np.isfinite(r_s.trans).all()


def test_lane_forward_backward_with_missing_values(monkeypatch):
    """Diagonal Gaussian frames with NaN features marginalised out (a row all NaN
    among them): lanes, the per-sequence kernel and hmmlearn agree."""
    rng = np.random.RandomState(80)
    nc, nf = 5, 3
    lengths = rng.randint(1, 30, size=66)
    startidx = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    n = startidx[-1]
    means = rng.randn(nc, nf) * 2
    X = means[rng.randint(nc, size=n)] + rng.randn(n, nf)
    X[rng.rand(n, nf) < 0.2] = np.nan
    X[3] = np.nan
    logf = _hmm.log_density_diag_missing(X, means, rng.rand(nc, nf) + 0.3)
    start, trans, _ = model(1, nc, seed=81)
    lp_ref, g_ref, t_ref = _reference(start, trans, logf, startidx)
    kind, em = _hmm.emissions(_hmm.EMIT_LOG_FRAMES, log_frame=logf)
    for log_space in (True, False):
        r, r_seq = _both_paths(monkeypatch, startidx, start, trans, kind, em, log_space)
        assert_allclose(r.log_prob, lp_ref, rtol=1e-10)
        assert_allclose(r.gamma, g_ref, rtol=1e-8, atol=1e-13)
        assert_allclose(r.trans, t_ref, rtol=1e-8, atol=1e-12)
        assert_allclose(r.gamma, r_seq.gamma, rtol=1e-10, atol=1e-14)


def test_lane_results_do_not_depend_on_the_thread_count():
    """Lane buffers are reused chunk after chunk by each worker: one worker or several,
    every output is the same bit for bit (sums reduced per chunk, in chunk order)."""
    import numba

    startidx, start, trans, kind, em = _viterbi_problem("diag", [1, 70, 9, 33] * 60, 6, 90)
    n_threads = numba.get_num_threads()
    results = []
    for threads in sorted({1, n_threads}):
        numba.set_num_threads(threads)
        try:
            results.append(
                _hmm.forward_backward(
                    startidx, start, trans, kind, em, True, stats_kind=_hmm.STATS_DIAG
                )
            )
        finally:
            numba.set_num_threads(n_threads)
    for r in results[1:]:
        for a, b in zip(r, results[0], strict=True):
            assert_array_equal(a, b)
    lp_ref = _hmm.forward_backward(startidx, start, trans, kind, em, True, posteriors=False)
    assert_array_equal(results[0].log_prob, lp_ref.log_prob)
