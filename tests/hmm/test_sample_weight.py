"""``fit(..., sample_weight=...)`` for every HMM family: per-sequence and per-frame
weights, their checks, and the kernels that apply them.

The reference identities: an integer weight ``k`` on a sequence fits as ``k`` copies of
it (from the same starting parameters, to rounding), weight 0 as leaving it out, weights
of 1 bit for bit as no weights, per-frame weights constant within each sequence as the
per-sequence weights; and the weighted statistics of the kernels equal those computed
in NumPy from the unweighted posteriors on every kernel path (lanes, one at a time,
time blocks, the exact log-space fallback).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastgen.hmm as F
from fastgen._kernels import hmm as _k
from fastgen._kernels.hmm import _entry
from fastgen.hmm._engine import input_weights

LENGTHS = [12, 1, 30, 7, 25, 3, 18, 9, 40, 2, 15, 6, 22, 11, 5, 19, 8, 27]  # 18: lane path
WEIGHTS = [2, 0, 1, 3, 1, 2, 0, 1, 1, 4, 1, 1, 2, 1, 3, 1, 1, 2]


def _data(kind: str, n: int, rng: np.random.RandomState) -> np.ndarray:
    z = rng.randint(0, 2, n)
    if kind == "real":
        return rng.randn(n, 2) + 3.0 * z[:, None]
    if kind == "symbols":
        return np.where(z[:, None] == 1, rng.randint(0, 2, (n, 1)), rng.randint(1, 4, (n, 1)))
    if kind == "counts":
        return rng.poisson(np.where(z[:, None] == 1, 6.0, 1.5), (n, 3))
    return np.array([rng.multinomial(5, [0.6, 0.3, 0.1] if k else [0.1, 0.3, 0.6]) for k in z])


FAMILIES = {
    "gaussian-diag": (lambda: F.GaussianHMM(2, covariance_type="diag"), "real"),
    "gaussian-full": (lambda: F.GaussianHMM(2, covariance_type="full"), "real"),
    "gaussian-spherical": (lambda: F.GaussianHMM(2, covariance_type="spherical"), "real"),
    "gaussian-tied": (lambda: F.GaussianHMM(2, covariance_type="tied"), "real"),
    "gmm": (lambda: F.GMMHMM(2, n_mix=2, covariance_type="diag"), "real"),
    "categorical": (lambda: F.CategoricalHMM(2, n_features=4), "symbols"),
    "poisson": (lambda: F.PoissonHMM(2), "counts"),
    "multinomial": (lambda: F.MultinomialHMM(2, n_trials=5), "trials"),
    "vgaussian": (lambda: F.VariationalGaussianHMM(2, covariance_type="full"), "real"),
    "vcategorical": (lambda: F.VariationalCategoricalHMM(2, n_features=4), "symbols"),
}


def _starting_model(name: str, implementation: str = "log"):
    """A model with fitted parameters to start from (``init_params=""``), and data."""
    make, kind = FAMILIES[name]
    rng = np.random.RandomState(7)
    X = _data(kind, sum(LENGTHS), rng)
    model = make().set_params(random_state=0, n_iter=2, implementation=implementation)
    model.fit(X, LENGTHS)
    model.set_params(init_params="", n_iter=4, tol=-np.inf)
    return model, X


def _fitted(model) -> dict:
    return {
        k: np.asarray(v, dtype=float)
        for k, v in vars(model).items()
        if k.endswith("_") and k != "monitor_" and np.asarray(v).dtype.kind in "fiu"
    }


def _assert_same_fit(a, b, rtol=1e-10):
    fa, fb = _fitted(a), _fitted(b)
    assert fa.keys() == fb.keys()
    for k in fa:
        assert_allclose(fa[k], fb[k], rtol=rtol, atol=1e-12, err_msg=k)
    assert_allclose(list(a.monitor_.history), list(b.monitor_.history), rtol=rtol)


def _repeat(X, lengths, weights):
    ends = np.cumsum(lengths)
    seqs, lens = [], []
    for e, n, w in zip(ends, lengths, weights, strict=True):
        seqs += [X[e - n : e]] * int(w)
        lens += [n] * int(w)
    return np.concatenate(seqs), lens


@pytest.mark.parametrize("name", FAMILIES)
def test_integer_weights_fit_as_repeated_sequences(name):
    start, X = _starting_model(name)
    Xr, lr = _repeat(X, LENGTHS, WEIGHTS)
    repeated = copy.deepcopy(start).fit(Xr, lr)
    weighted = copy.deepcopy(start).fit(X, LENGTHS, sample_weight=WEIGHTS)
    _assert_same_fit(weighted, repeated)
    assert len(weighted.monitor_.history) == 4


@pytest.mark.parametrize("name", ["gaussian-diag", "categorical", "poisson"])
@pytest.mark.parametrize("implementation", ["log", "scaling"])
def test_repeats_one_sequence_paths(name, implementation):
    """Few sequences (one at a time, not the lanes) and the scaling implementation."""
    start, X = _starting_model(name, implementation)
    X, lengths, weights = X[:100], [60, 40], [3, 1]
    Xr, lr = _repeat(X, lengths, weights)
    repeated = copy.deepcopy(start).fit(Xr, lr)
    weighted = copy.deepcopy(start).fit(X, lengths, sample_weight=weights)
    _assert_same_fit(weighted, repeated)


@pytest.mark.parametrize("name", FAMILIES)
def test_unit_weights_are_no_weights_bit_for_bit(name):
    start, X = _starting_model(name)
    plain = copy.deepcopy(start).fit(X, LENGTHS)
    ones = copy.deepcopy(start).fit(X, LENGTHS, sample_weight=np.ones(len(LENGTHS)))
    fa, fb = _fitted(plain), _fitted(ones)
    for k in fa:
        assert_array_equal(fa[k], fb[k], err_msg=k)
    assert list(plain.monitor_.history) == list(ones.monitor_.history)


@pytest.mark.parametrize("name", ["gaussian-full", "gmm", "multinomial", "vcategorical"])
def test_constant_frame_weights_are_sequence_weights(name):
    start, X = _starting_model(name)
    w = np.random.RandomState(1).uniform(0, 3, len(LENGTHS))
    per_seq = copy.deepcopy(start).fit(X, LENGTHS, sample_weight=w)
    per_frame = copy.deepcopy(start).fit(X, LENGTHS, sample_weight=np.repeat(w, LENGTHS))
    _assert_same_fit(per_seq, per_frame, rtol=1e-13)


def test_zero_weight_sequence_contributes_nothing():
    start, X = _starting_model("gaussian-diag")
    ends = np.cumsum(LENGTHS)
    X = X.copy()
    X[ends[2] - LENGTHS[2] : ends[2]] = 1e6  # wild data, weight 0
    w = np.ones(len(LENGTHS))
    w[2] = 0
    weighted = copy.deepcopy(start).fit(X, LENGTHS, sample_weight=w)
    Xr, lr = _repeat(X, LENGTHS, w)
    dropped = copy.deepcopy(start).fit(Xr, lr)
    _assert_same_fit(weighted, dropped)


def test_zero_weight_frames_skip_initialisation():
    """k-means and the data covariance read only the frames of positive weight."""
    _, X = _starting_model("gaussian-diag")
    w = np.ones(len(X))
    w[:50] = 0
    X = X.copy()
    X[:50] = 1e6
    model = F.GaussianHMM(2, random_state=0, n_iter=1).fit(X, LENGTHS, sample_weight=w)
    assert np.abs(model.means_).max() < 10


def test_frame_weight_statistics_and_objective():
    """Per-frame weights varying within sequences: the E-step's statistics are those of
    the unweighted posteriors times the weights, the objective sum_s wbar_s log p_s."""
    start, X = _starting_model("gaussian-diag")
    n = len(X)
    w = np.random.RandomState(2).uniform(0, 2, n)
    em = start.engine(start)
    Xv, lengths = em.input(X, LENGTHS)
    em.check()
    stats = em.estep(Xv, lengths, weight=_k.frame_weights(w, n))
    gamma = start.predict_proba(X, LENGTHS)
    si = np.concatenate([[0], np.cumsum(LENGTHS)])
    assert_allclose(stats.start, (gamma[si[:-1]] * w[si[:-1], None]).sum(0), rtol=1e-10)
    wg = gamma * w[:, None]
    e = stats.emission
    assert_allclose(e["post"], wg.sum(0), rtol=1e-10)
    assert_allclose(e["obs"], wg.T @ X, rtol=1e-10)
    assert_allclose(e["obs**2"], wg.T @ (X * X), rtol=1e-10)
    trans = np.zeros((2, 2))
    lf = em.family.log_likelihood(Xv)
    for lo, hi in zip(si[:-1], si[1:], strict=True):
        trans += _brute_xi(start.startprob_, start.transmat_, lf[lo:hi], w[lo:hi])
    assert_allclose(stats.trans, trans, rtol=1e-9)
    lp = start.score_sequences(X, LENGTHS)
    wbar = np.add.reduceat(w, si[:-1]) / LENGTHS
    assert_allclose(stats.log_prob, (wbar * lp).sum(), rtol=1e-12)


def _brute_xi(startprob, transmat, lf, w):
    """sum_t w[t+1] p(z_t = i, z_t+1 = j | x) by the log-space recurrences."""
    from scipy.special import logsumexp

    n, nc = lf.shape
    fw, bw = np.zeros((n, nc)), np.zeros((n, nc))
    with np.errstate(divide="ignore"):
        lt = np.log(transmat)
    fw[0] = np.log(startprob) + lf[0]
    for t in range(1, n):
        fw[t] = logsumexp(fw[t - 1][:, None] + lt, axis=0) + lf[t]
    for t in range(n - 2, -1, -1):
        bw[t] = logsumexp(lt + lf[t + 1] + bw[t + 1], axis=1)
    total = logsumexp(fw[-1])
    out = np.zeros((nc, nc))
    for t in range(n - 1):
        out += w[t + 1] * np.exp(fw[t][:, None] + lt + lf[t + 1] + bw[t + 1] - total)
    return out


def test_base_hmm_subclass_weights():
    """A BaseHMM subclass with hmmlearn's hooks learns its chain with weights too."""

    class Fixed(F.BaseHMM):
        def _compute_log_likelihood(self, X):
            return np.column_stack([-0.5 * X[:, 0] ** 2, -0.5 * (X[:, 0] - 3) ** 2])

    rng = np.random.RandomState(0)
    X = rng.randn(sum(LENGTHS), 1) + 3 * rng.randint(0, 2, (sum(LENGTHS), 1))
    start = Fixed(2, n_iter=3, tol=-np.inf, init_params="", params="st")
    start.startprob_ = np.array([0.5, 0.5])
    start.transmat_ = np.array([[0.7, 0.3], [0.4, 0.6]])
    Xr, lr = _repeat(X, LENGTHS, WEIGHTS)
    a = copy.deepcopy(start).fit(X, LENGTHS, sample_weight=WEIGHTS)
    b = copy.deepcopy(start).fit(Xr, lr)
    assert_allclose(a.transmat_, b.transmat_, rtol=1e-10)
    assert_allclose(a.startprob_, b.startprob_, rtol=1e-10)


@pytest.mark.parametrize(
    ("weight", "match"),
    [
        (np.ones(5), "shape"),
        (np.ones((len(LENGTHS), 1)), "shape"),
        (1.0, "shape"),
        (-np.ones(len(LENGTHS)), "non-negative"),
        (np.r_[np.nan, np.ones(len(LENGTHS) - 1)], "finite"),
        (np.r_[np.inf, np.ones(len(LENGTHS) - 1)], "finite"),
        (np.zeros(len(LENGTHS)), "positive entry"),
        (np.array(["a"] * len(LENGTHS)), "real numbers"),
    ],
)
def test_bad_weights_raise(weight, match):
    _, X = _starting_model("gaussian-diag")
    with pytest.raises(ValueError, match=match):
        F.GaussianHMM(2).fit(X, LENGTHS, sample_weight=weight)


def test_input_weights_shapes():
    lengths = np.array([2, 3])
    assert input_weights(None, lengths) is None
    assert_array_equal(input_weights([1, 2], lengths), [1, 1, 2, 2, 2])
    assert_array_equal(input_weights([1, 2, 3, 4, 5], lengths), [1, 2, 3, 4, 5])


# --------------------------------------------------------------------------- kernels


def _model(kind: str, lengths, rng, flush: bool = False):
    nc, nf, n = 3, 2, int(sum(lengths))
    sp = rng.dirichlet(np.ones(nc))
    tm = rng.dirichlet(np.ones(nc), size=nc)
    if flush:  # a zero transition and far-apart states: the log-space exact fallback
        tm[0, 2] = 0.0
        tm /= tm.sum(axis=1, keepdims=True)
    if kind == "diag":
        X = rng.normal(size=(n, nf)) * (60.0 if flush else 1.0)
        em = _k.emissions(
            _k.EMIT_DIAG, X=X, means=rng.normal(size=(nc, nf)),
            covars=rng.uniform(0.5, 2, (nc, nf)),
        )  # fmt: skip
        return sp, tm, em, _k.STATS_DIAG
    table = np.log(rng.dirichlet(np.ones(4), size=nc))
    if flush:
        table[1, 0] = -800.0
    em = _k.emissions(_k.EMIT_CATEGORICAL, sym=rng.randint(0, 4, n), log_emissionprob=table)
    return sp, tm, em, _k.STATS_CATEGORICAL


KERNEL_CASES = {
    "few": [5, 7, 3],
    "lanes": list(np.random.RandomState(0).randint(2, 30, 40)),
    "short": [300, 300, 300],
    "long": [6000, 10, 20],
}


@pytest.mark.parametrize("case", KERNEL_CASES)
@pytest.mark.parametrize("kind", ["diag", "categorical"])
@pytest.mark.parametrize("log_space", [True, False])
@pytest.mark.parametrize("flush", [False, True])
def test_kernel_weighted_statistics(case, kind, log_space, flush, monkeypatch):
    if case == "long":  # time blocks whatever the machine's thread count
        monkeypatch.setattr(_entry, "SERIAL_WORK", 0)
    if flush and not log_space:
        pytest.skip("the scaling implementation has no exact fallback")
    rng = np.random.RandomState(5)
    lengths = np.array(KERNEL_CASES[case])
    sp, tm, em, stats_kind = _model(kind, lengths, rng, flush)
    si = np.concatenate([[0], np.cumsum(lengths)])
    n = int(si[-1])
    w = rng.uniform(0, 3, n)
    kw = dict(stats_kind=stats_kind)
    plain = _k.forward_backward(si, sp, tm, em, log_space, **kw)
    ones = _k.forward_backward(si, sp, tm, em, log_space, weight=np.ones(n), **kw)
    got = _k.forward_backward(si, sp, tm, em, log_space, weight=w, **kw)
    for a, b in zip(plain, ones, strict=True):
        assert_array_equal(a, b)
    assert_array_equal(got.gamma, plain.gamma)
    assert_array_equal(got.log_prob, plain.log_prob)
    g = plain.gamma
    assert_allclose(got.start, (g[si[:-1]] * w[si[:-1], None]).sum(0), rtol=1e-10, atol=1e-14)
    wg = g * w[:, None]
    if kind == "diag":
        X = em.arrays["X"]
        assert_allclose(got.post, wg.sum(0), rtol=1e-10)
        assert_allclose(got.obs, wg.T @ X, rtol=1e-10, atol=1e-9)
        assert_allclose(got.obs2, wg.T @ (X * X), rtol=1e-10)
    else:
        ref = np.zeros((3, 4))
        np.add.at(ref.T, em.arrays["sym"], wg)
        assert_allclose(got.obs, ref, rtol=1e-10, atol=1e-14)
    if case != "long":  # the reference recurrences are slow on 6,000 frames
        lf = _k.log_frames(em)
        trans = sum(
            _brute_xi(sp, tm, lf[lo:hi], w[lo:hi]) for lo, hi in zip(si[:-1], si[1:], strict=True)
        )
        assert_allclose(got.trans, trans, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize(
    ("weight", "error"),
    [(np.ones(9), ValueError), (-np.ones(10), ValueError), (np.full(10, np.nan), ValueError)],
)
def test_kernel_weight_checks(weight, error):
    rng = np.random.RandomState(0)
    sp, tm, em, st = _model("diag", [10], rng)
    with pytest.raises(error):
        _k.forward_backward(np.array([0, 10]), sp, tm, em, True, stats_kind=st, weight=weight)


@pytest.mark.parametrize("kind", ["diag", "categorical"])
def test_exact_fallback_weighted(kind):
    """The log-space exact path itself (what refused scaled passes fall back to)."""
    rng = np.random.RandomState(3)
    sp, tm, em, st = _model(kind, [40], rng)
    w = rng.uniform(0, 2, 40)
    n_obs = 2 if kind == "diag" else 4
    chain = _entry.ChainArrays(sp, tm, True)
    want = (True, True, True, st)
    plain = _entry.Accumulators(1, 3, n_obs, 2 if kind == "diag" else 0, 0)
    acc = _entry.Accumulators(1, 3, n_obs, 2 if kind == "diag" else 0, 0, weight=w)
    g = np.empty((40, 3))
    lp0 = _entry._sequence.exact(em, chain, want, 0, 40, plain, 0, g)
    lp = _entry._sequence.exact(em, chain, want, 0, 40, acc, 0, None)
    assert lp == lp0
    assert_allclose(acc.start[0], g[0] * w[0], rtol=1e-12)
    if kind == "diag":
        assert_allclose(acc.obs[0], (g * w[:, None]).T @ em.arrays["X"], rtol=1e-10)
        assert_allclose(acc.sq[0], (g * w[:, None]).T @ em.arrays["X"] ** 2, rtol=1e-10)
    else:
        ref = np.zeros((3, 4))
        np.add.at(ref.T, em.arrays["sym"], g * w[:, None])
        assert_allclose(acc.obs[0], ref, rtol=1e-10)
    xi = _brute_xi(sp, tm, _k.log_frames(em), w)
    assert_allclose(acc.trans[0], xi, rtol=1e-9)


def test_accumulators_check_weight_length():
    rng = np.random.RandomState(0)
    sp, tm, em, st = _model("diag", [10], rng)
    acc = _entry.Accumulators(1, 3, 2, 2, 0, weight=np.ones(9))
    chain = _entry.ChainArrays(sp, tm, True)
    with pytest.raises(ValueError, match="one entry per frame"):
        _entry._sequence.exact(em, chain, (True, False, True, st), 0, 10, acc, 0, None)
    with pytest.raises(TypeError):
        _entry.Accumulators(1, 3, 2, 2, 0, weight=np.ones(10, dtype=np.float32))
