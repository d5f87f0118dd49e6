"""Semi-supervised ``fit(..., states=...)``: labelled frames clamp the posteriors.

References: fully labelled data give the closed-form supervised estimate (plain NumPy
counts and M-steps, priors included); partly labelled data give, after one EM step,
what enumerating every state path consistent with the labels gives; the kernels'
clamped emissions equal log-likelihoods set to -inf in the other states, on every
kernel path.
"""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest
from numpy.testing import assert_allclose

import fastgen.hmm as F
from fastgen._kernels import hmm as _k
from fastgen._kernels.hmm import _entry
from fastgen.hmm._engine import input_states

LENGTHS = [30, 1, 45, 12, 20]


def _labelled(kind: str, seed: int = 0):
    rng = np.random.RandomState(seed)
    n = sum(LENGTHS)
    z = rng.randint(0, 3, n)
    if kind == "real":
        X = rng.randn(n, 2) + np.array([[0, 0], [3, 1], [-2, 4]])[z]
    elif kind == "symbols":
        X = np.array([[rng.choice(5, p=np.roll([0.5, 0.2, 0.1, 0.1, 0.1], k))] for k in z])
    elif kind == "counts":
        X = rng.poisson(np.array([1.0, 4.0, 9.0])[z][:, None], (n, 2))
    else:
        X = np.array([rng.multinomial(6, np.roll([0.6, 0.3, 0.1], k)) for k in z])
    return X, z


def _chain_counts(z, lengths):
    nc = 3
    ends = np.cumsum(lengths)
    start = np.bincount(z[ends - np.asarray(lengths)], minlength=nc).astype(float)
    trans = np.zeros((nc, nc))
    for e, n in zip(ends, lengths, strict=True):
        seq = z[e - n : e]
        np.add.at(trans, (seq[:-1], seq[1:]), 1)
    return start, trans


def _map(prior, counts):
    p = np.maximum(prior - 1 + counts, 0)
    return p / p.sum(axis=-1, keepdims=True)


def _supervised_fit(model, X, z):
    return model.set_params(random_state=0, n_iter=1).fit(X, LENGTHS, states=z)


def test_supervised_gaussian_diag_with_priors():
    X, z = _labelled("real")
    model = F.GaussianHMM(
        3, covariance_type="diag", startprob_prior=2.0, transmat_prior=1.5, means_prior=0.5,
        means_weight=2.0, covars_prior=0.3, covars_weight=3.0,
    )  # fmt: skip
    _supervised_fit(model, X, z)
    start, trans = _chain_counts(z, LENGTHS)
    assert_allclose(model.startprob_, _map(2.0, start), rtol=1e-12)
    assert_allclose(model.transmat_, _map(1.5, trans), rtol=1e-12)
    for k in range(3):
        xk = X[z == k]
        n = len(xk)
        mean = (2.0 * 0.5 + xk.sum(0)) / (2.0 + n)
        cov = (0.3 + 2.0 * (mean - 0.5) ** 2 + ((xk - mean) ** 2).sum(0)) / (2.0 + n)
        assert_allclose(model.means_[k], mean, rtol=1e-10)
        assert_allclose(model.covars_[k], np.diag(cov), rtol=1e-10)


def test_supervised_gaussian_full():
    X, z = _labelled("real", 1)
    model = _supervised_fit(F.GaussianHMM(3, covariance_type="full", covars_prior=0.0), X, z)
    for k in range(3):
        xk = X[z == k]
        d = xk - xk.mean(0)
        assert_allclose(model.means_[k], xk.mean(0), rtol=1e-10)
        assert_allclose(model.covars_[k], d.T @ d / len(xk), rtol=1e-9, atol=1e-12)


def test_supervised_categorical_with_priors():
    X, z = _labelled("symbols")
    model = _supervised_fit(
        F.CategoricalHMM(3, n_features=5, emissionprob_prior=1.5, startprob_prior=3.0), X, z
    )
    counts = np.zeros((3, 5))
    np.add.at(counts, (z, X[:, 0]), 1)
    start, trans = _chain_counts(z, LENGTHS)
    assert_allclose(model.emissionprob_, _map(1.5, counts), rtol=1e-12)
    assert_allclose(model.startprob_, _map(3.0, start), rtol=1e-12)
    assert_allclose(model.transmat_, _map(1.0, trans), rtol=1e-12)


def test_supervised_poisson_with_priors():
    X, z = _labelled("counts")
    model = _supervised_fit(F.PoissonHMM(3, lambdas_prior=0.5, lambdas_weight=2.0), X, z)
    n = len(X)
    for k in range(3):
        y_bar = X[z == k].mean(0)
        assert_allclose(model.lambdas_[k], (0.5 + n * y_bar) / (2.0 + n), rtol=1e-12)


def test_supervised_multinomial():
    X, z = _labelled("trials")
    model = _supervised_fit(F.MultinomialHMM(3, n_trials=6), X, z)
    for k in range(3):
        c = X[z == k].sum(0)
        assert_allclose(model.emissionprob_[k], c / c.sum(), rtol=1e-12)


def test_supervised_variational_categorical():
    X, z = _labelled("symbols", 2)
    model = _supervised_fit(F.VariationalCategoricalHMM(3, n_features=5), X, z)
    counts = np.zeros((3, 5))
    np.add.at(counts, (z, X[:, 0]), 1)
    start, trans = _chain_counts(z, LENGTHS)
    assert_allclose(model.emissionprob_posterior_, model.emissionprob_prior_ + counts)
    assert_allclose(model.startprob_posterior_, model.startprob_prior_ + start)
    assert_allclose(model.transmat_posterior_, model.transmat_prior_ + trans)


@pytest.mark.parametrize(
    "make",
    [
        lambda: F.GMMHMM(3, n_mix=2),
        lambda: F.VariationalGaussianHMM(3),
        lambda: F.GaussianHMM(3, covariance_type="tied"),
    ],
)
def test_fully_labelled_chain_is_counted_for_every_family(make):
    X, z = _labelled("real", 3)
    model = _supervised_fit(make(), X, z)
    start, trans = _chain_counts(z, LENGTHS)
    if hasattr(model, "transmat_posterior_"):
        assert_allclose(model.transmat_posterior_, model.transmat_prior_ + trans)
    else:
        assert_allclose(model.transmat_, _map(1.0, trans), rtol=1e-12)
    assert (model.predict_proba(X, LENGTHS).argmax(1) == z).mean() > 0.8


# --------------------------------------------------------------------------- brute force


def _brute_posteriors(startprob, transmat, lf, labels):
    """Posteriors, expected transitions and log p(x, labels) of one sequence from
    every state path consistent with its labels."""
    n, nc = lf.shape
    gamma, xi, total = np.zeros((n, nc)), np.zeros((nc, nc)), 0.0
    for path in itertools.product(range(nc), repeat=n):
        if any(lab >= 0 and lab != s for lab, s in zip(labels, path, strict=True)):
            continue
        lp = np.log(startprob[path[0]]) + lf[0, path[0]]
        for t in range(1, n):
            lp += np.log(transmat[path[t - 1], path[t]]) + lf[t, path[t]]
        p = np.exp(lp)
        total += p
        gamma[np.arange(n), path] += p
        for t in range(n - 1):
            xi[path[t], path[t + 1]] += p
    return gamma / total, xi / total, np.log(total)


@pytest.mark.parametrize("implementation", ["log", "scaling"])
@pytest.mark.parametrize("family", ["gaussian", "categorical"])
def test_partly_labelled_one_em_step_matches_enumeration(family, implementation):
    rng = np.random.RandomState(4)
    lengths = [5, 4, 1, 6]
    n = sum(lengths)
    labels = np.array([-1, 2, -1, -1, 0, 1, -1, -1, -1, -1, 1, -1, -1, 0, -1, -1])
    assert len(labels) == n
    if family == "gaussian":
        X = rng.randn(n, 2)
        model = F.GaussianHMM(3, covariance_type="diag", init_params="", n_iter=1)
        model.means_ = rng.randn(3, 2)
        model.covars_ = rng.uniform(0.5, 2.0, (3, 2))
    else:
        X = rng.randint(0, 4, (n, 1))
        model = F.CategoricalHMM(3, n_features=4, init_params="", n_iter=1)
        model.emissionprob_ = rng.dirichlet(np.ones(4), size=3)
    model.set_params(implementation=implementation)
    model.startprob_ = rng.dirichlet(np.ones(3))
    model.transmat_ = rng.dirichlet(np.ones(3), size=3)
    start_model = copy.deepcopy(model)
    em = start_model.engine(start_model)
    Xv, lv = em.input(X, lengths)
    lf = em.family.log_likelihood(Xv)
    ends = np.cumsum(lengths)
    gamma, xi, start, total = np.zeros((n, 3)), np.zeros((3, 3)), np.zeros(3), 0.0
    for e, m in zip(ends, lengths, strict=True):
        g, x, lp = _brute_posteriors(
            model.startprob_, model.transmat_, lf[e - m : e], labels[e - m : e]
        )
        gamma[e - m : e] = g
        xi += x
        start += g[0]
        total += lp
    model.fit(X, lengths, states=labels)
    assert_allclose(model.monitor_.history[0], total, rtol=1e-10)
    assert_allclose(model.startprob_, start / start.sum(), rtol=1e-10)
    assert_allclose(model.transmat_, xi / xi.sum(1, keepdims=True), rtol=1e-10)
    post = gamma.sum(0)
    if family == "gaussian":
        means = (gamma.T @ X) / post[:, None]
        cov = 0.01 + gamma.T @ X**2 - 2 * means * (gamma.T @ X) + means**2 * post[:, None]
        assert_allclose(model.means_, means, rtol=1e-10)
        assert_allclose(model._covars_, cov / post[:, None], rtol=1e-10)
    else:
        counts = np.zeros((3, 4))
        np.add.at(counts.T, X[:, 0], gamma)
        assert_allclose(model.emissionprob_, counts / counts.sum(1, keepdims=True), rtol=1e-10)
    # the posteriors the E-step ran on are the clamped ones
    r = _entry.forward_backward(
        np.r_[0, ends], start_model.startprob_, start_model.transmat_,
        em.family.emission_model(Xv), implementation == "log", clamp=labels,
    )  # fmt: skip
    assert_allclose(r.gamma, gamma, rtol=1e-10, atol=1e-13)


# --------------------------------------------------------------------------- initialisation


def test_labels_steer_the_initial_means():
    """Labels that contradict the k-means order put each state's starting means on its
    labelled frames (and EM then stays there)."""
    rng = np.random.RandomState(0)
    X = np.concatenate([rng.randn(100, 1), rng.randn(100, 1) + 6])
    plain = F.GaussianHMM(2, random_state=0, n_iter=1).fit(X)
    low = int(np.argmin(plain.means_[:, 0]))  # the state k-means put on the low cluster
    states = np.full(200, -1)
    states[:20] = 1 - low  # low frames labelled with the other state
    states[100:120] = low
    model = F.GaussianHMM(2, random_state=0, n_iter=20)
    em = model.engine(model)
    Xv, lv = em.input(X)
    em.initialize(Xv, lv, None, input_states(states, 200, 2))
    assert model.means_[1 - low, 0] < 1 and model.means_[low, 0] > 5
    model.fit(X, states=states)
    assert model.means_[1 - low, 0] < 1 and model.means_[low, 0] > 5
    assert (model.predict(X)[:100] == 1 - low).all()


def test_unlabelled_state_keeps_the_usual_initialisation():
    rng = np.random.RandomState(0)
    X = np.concatenate([rng.randn(100, 1), rng.randn(100, 1) + 6])
    states = np.full(200, -1)
    states[:5] = 0  # state 1 unlabelled
    a = F.GaussianHMM(2, random_state=0, n_iter=1)
    b = F.GaussianHMM(2, random_state=0, n_iter=1)
    for model, st in ((a, None), (b, input_states(states, 200, 2))):
        em = model.engine(model)
        em.initialize(*em.input(X), None, st)
    assert_allclose(a.means_, b.means_)


def test_categorical_label_init_keeps_every_symbol_possible():
    """Symbols no labelled frame shows keep a positive probability."""
    rng = np.random.RandomState(1)
    X = rng.randint(0, 5, (300, 1))
    states = np.full(300, -1)
    states[:10] = np.where(X[:10, 0] < 3, 0, 1)
    model = F.CategoricalHMM(2, n_features=5, random_state=0, n_iter=5)
    model.fit(X, states=states)
    assert (model.emissionprob_ > 0).all()
    assert np.isfinite(model.monitor_.history).all()


@pytest.mark.parametrize(
    ("states", "match"),
    [
        (np.full(10, -1), "shape"),
        (np.r_[np.full(107, -1), [3]], r"\[0, 3\)"),
        (np.r_[np.full(107, -1), [-2]], r"\[0, 3\)"),
        (np.full(108, 0.5), "integers"),
        (np.full((108, 1), 0), "shape"),
        (np.array(["a"] * 108), "integer array"),
    ],
)
def test_bad_labels_raise(states, match):
    X, _ = _labelled("real")
    with pytest.raises(ValueError, match=match):
        F.GaussianHMM(3).fit(X, LENGTHS, states=states)


def test_weighted_and_labelled():
    """Fully labelled data with sequence weights: the weighted supervised counts."""
    X, z = _labelled("symbols")
    w = np.array([2.0, 1.0, 0.0, 3.0, 1.0])
    model = F.CategoricalHMM(3, n_features=5, random_state=0, n_iter=1)
    model.fit(X, LENGTHS, sample_weight=w, states=z)
    fw = np.repeat(w, LENGTHS)
    counts = np.zeros((3, 5))
    np.add.at(counts, (z, X[:, 0]), fw)
    assert_allclose(model.emissionprob_, _map(1.0, counts), rtol=1e-12)


# --------------------------------------------------------------------------- kernels


CASES = {
    "few": [5, 7, 3],
    "lanes": list(np.random.RandomState(0).randint(2, 30, 40)),
    "short": [300, 300, 300],
    "long": [6000, 10, 20],
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("kind", ["diag", "categorical", "frames"])
@pytest.mark.parametrize("log_space", [True, False])
def test_kernel_clamp_is_masked_log_frames(case, kind, log_space, monkeypatch):
    if case == "long":
        monkeypatch.setattr(_entry, "SERIAL_WORK", 0)
    rng = np.random.RandomState(6)
    lengths = np.array(CASES[case])
    si = np.r_[0, np.cumsum(lengths)]
    n, nc = int(si[-1]), 3
    sp = rng.dirichlet(np.ones(nc))
    tm = rng.dirichlet(np.ones(nc), size=nc)
    if kind == "diag":
        em = _k.emissions(
            _k.EMIT_DIAG, X=rng.randn(n, 2), means=rng.randn(nc, 2),
            covars=rng.uniform(0.5, 2, (nc, 2)),
        )  # fmt: skip
        st = _k.STATS_DIAG
    elif kind == "categorical":
        em = _k.emissions(
            _k.EMIT_CATEGORICAL, sym=rng.randint(0, 4, n),
            log_emissionprob=np.log(rng.dirichlet(np.ones(4), size=nc)),
        )  # fmt: skip
        st = _k.STATS_CATEGORICAL
    else:
        em = _k.emissions(_k.EMIT_LOG_FRAMES, log_frame=rng.randn(n, nc))
        st = _k.STATS_NONE
    clamp = np.where(rng.rand(n) < 0.3, rng.randint(0, nc, n), -1)
    got = _k.forward_backward(si, sp, tm, em, log_space, stats_kind=st, clamp=clamp)
    lf = _k.log_frames(em)
    masked = np.where((clamp[:, None] < 0) | (clamp[:, None] == np.arange(nc)), lf, -np.inf)
    assert_allclose(_k.log_frames(_k.clamped(em, clamp)), masked)
    want = _k.forward_backward(
        si, sp, tm, _k.emissions(_k.EMIT_LOG_FRAMES, log_frame=masked), log_space
    )
    assert_allclose(got.log_prob, want.log_prob, rtol=1e-10)
    assert_allclose(got.gamma, want.gamma, rtol=1e-9, atol=1e-12)
    assert_allclose(got.trans, want.trans, rtol=1e-9, atol=1e-12)
    lab = clamp >= 0
    assert_allclose(got.gamma[lab, clamp[lab]], 1.0, rtol=1e-12)
    if kind == "categorical":
        ref = np.zeros((nc, 4))
        np.add.at(ref.T, em.arrays["sym"], want.gamma)
        assert_allclose(got.obs, ref, rtol=1e-9, atol=1e-12)


def test_kernel_clamp_checks():
    em = _k.emissions(_k.EMIT_LOG_FRAMES, log_frame=np.zeros((4, 2)))
    for bad in (np.zeros(3), np.array([0, 1, 2, 0]), np.array([0, -2, 0, 0])):
        with pytest.raises(ValueError):
            _k.clamped(em, bad)
    with pytest.raises(ValueError, match="Viterbi"):
        _k.viterbi_batch(np.array([0, 4]), np.ones(2) / 2, np.eye(2), _k.clamped(em, np.zeros(4)))
