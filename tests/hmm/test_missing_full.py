"""GaussianHMM(allow_nan=True) with full and tied covariances: NaN entries of ``X`` are
missing at random.  Checked against plain references: the marginal density of the
observed coordinates (scipy), and one exact EM step (a NumPy forward-backward on those
densities, then the conditional-expectation M-step written out frame by frame)."""

from __future__ import annotations

import numpy as np
import pytest
from missing_reference import (
    assert_beats_column_means,
    assert_partitions_add_up,
    conditional_moments,
    holey,
    marginal_logpdf,
    reference_posteriors,
)
from numpy.testing import assert_allclose, assert_array_equal

from fastgen.hmm import GaussianHMM
from fastgen.hmm._missing import MissingFrames

K, NF = 3, 4
DENSE = ["full", "tied"]


def make_model(ct, rng, **kw):
    m = GaussianHMM(K, covariance_type=ct, init_params="", allow_nan=True, **kw)
    m.startprob_ = rng.dirichlet(np.ones(K))
    m.transmat_ = rng.dirichlet(np.ones(K) * 2, size=K)
    m.means_ = rng.randn(K, NF) * 2
    mats = []
    for _ in range(K if ct == "full" else 1):
        a = rng.randn(NF, NF)
        mats.append(a @ a.T + 0.5 * np.eye(NF))
    m.covars_ = np.array(mats) if ct == "full" else mats[0]
    return m


@pytest.fixture(params=DENSE)
def case(request):
    rng = np.random.RandomState(3)
    m = make_model(request.param, rng)
    X = holey(rng.randn(50, NF) * 2, rng)
    return m, X


def reference_log_likelihood(m, X):
    return np.array([[marginal_logpdf(x, m.means_[k], m.covars_[k]) for k in range(K)] for x in X])


def reference_em_step(m, X, lengths):
    """One EM step, frame by frame: E[x | x_o, k] and Cov[x | x_o, k] by solves."""
    gamma, start, trans, log_prob = reference_posteriors(
        m.startprob_, m.transmat_, reference_log_likelihood(m, X), lengths
    )
    moments = [[conditional_moments(x, m.means_[k], m.covars_[k]) for k in range(K)] for x in X]
    completed = np.array([[c for c, _ in row] for row in moments])  # E[x_t | x_t,o, z_t = k]
    cond = np.array([[v for _, v in row] for row in moments])  # Cov[x_t | x_t,o, z_t = k]
    post = gamma.sum(axis=0)
    mw, mp = m.means_weight, m.means_prior
    means = (mw * mp + np.einsum("tk,tkf->kf", gamma, completed)) / (mw + post[:, None])
    # sum_t gamma_tk E[(x_t - mu_k)(x_t - mu_k)^T]: centred on the new means
    scatter = np.zeros((K, NF, NF))
    for t in range(len(X)):
        for k in range(K):
            d = completed[t, k] - means[k]
            scatter[k] += gamma[t, k] * (np.outer(d, d) + cond[t, k])
    prior_term = mw * np.einsum("ki,kj->kij", means - mp, means - mp)
    cw = max(m.covars_weight - NF, 0)
    if m.covariance_type == "tied":
        covars = (m.covars_prior + (scatter + prior_term).sum(axis=0)) / (cw + post.sum())
        covars = np.tile(covars, (K, 1, 1))
    else:
        covars = (m.covars_prior + scatter + prior_term) / (cw + post[:, None, None])
    startprob = start / start.sum()
    transmat = trans / trans.sum(axis=1, keepdims=True)
    return startprob, transmat, means, covars, log_prob


# --------------------------------------------------------------------------- likelihood


def test_marginal_log_likelihood_matches_scipy(case):
    m, X = case
    frames = m.emission_family(m).log_likelihood(X)
    assert_allclose(frames, reference_log_likelihood(m, X), rtol=1e-12, atol=1e-12)
    assert_array_equal(frames[4], 0.0)


def test_complete_frames_keep_the_dense_kernel_bits(case):
    m, X = case
    frames = m.emission_family(m).log_likelihood(X)
    complete = ~np.isnan(X).any(axis=1)
    filled = np.where(np.isnan(X), 0.0, X)
    m.allow_nan = False
    assert_array_equal(frames[complete], m.emission_family(m).log_likelihood(filled)[complete])


def test_score_and_posteriors_match_the_reference(case):
    m, X = case
    lengths = [20, 1, 29]
    gamma, _, _, log_prob = reference_posteriors(
        m.startprob_, m.transmat_, reference_log_likelihood(m, X), lengths
    )
    assert_allclose(m.score(X, lengths), log_prob, rtol=1e-10)
    score, post = m.score_samples(X, lengths)
    assert_allclose(score, log_prob, rtol=1e-10)
    assert_allclose(post, gamma, atol=1e-10)
    assert_allclose(m.predict_proba(X, lengths), gamma, atol=1e-10)
    assert_allclose(m.score_sequences(X, lengths).sum(), log_prob, rtol=1e-10)
    assert_array_equal(m.decode(X, lengths, algorithm="map")[1], gamma.argmax(axis=1))
    log_prob_v, states = m.decode(X, lengths)
    assert log_prob_v <= log_prob + 1e-9
    assert_array_equal(m.predict(X, lengths), states)
    assert m.filter(X, lengths).shape == (len(X), K)


# --------------------------------------------------------------------------- EM


@pytest.mark.parametrize("priors", [False, True], ids=["no-prior", "priors"])
def test_one_em_step_matches_the_reference(case, priors):
    m, X = case
    if priors:
        rng = np.random.RandomState(1)
        m.set_params(
            means_prior=rng.randn(K, NF), means_weight=1.5,
            covars_prior=np.eye(NF) * 0.3, covars_weight=NF + 2.5,
        )  # fmt: skip
    lengths = [20, 1, 29]
    expected = reference_em_step(m, X, lengths)
    m.set_params(n_iter=1, tol=-np.inf)
    m.fit(X, lengths)
    for name, want in zip(("startprob_", "transmat_", "means_", "covars_"), expected, strict=False):
        assert_allclose(getattr(m, name), want, rtol=1e-8, atol=1e-10, err_msg=name)
    assert_allclose(m.monitor_.history[0], expected[-1], rtol=1e-10)


def test_em_increases_the_likelihood(case):
    m, X = case
    m.set_params(n_iter=15, tol=-np.inf)
    m.fit(X)
    history = np.array(m.monitor_.history)
    assert np.all(np.diff(history) > -1e-8 * np.abs(history[1:]))


def test_partitions_add_up():
    """E-step statistics of a part with NaN and a part without share their keys and
    add up to those of the whole (what fastgen.dask sums)."""
    from fastgen.hmm._engine import BaumWelch

    rng = np.random.RandomState(5)
    for ct in DENSE:
        for params in ("stmc", "m"):
            m = make_model(ct, rng, params=params)
            X = holey(rng.randn(40, NF), rng)
            X[25:] = rng.randn(15, NF)  # the second part has no NaN
            assert_partitions_add_up(BaumWelch(m), X, [25, 15], 25, rtol=1e-12)


# --------------------------------------------------------------------------- no NaN


@pytest.mark.parametrize("ct", DENSE)
def test_without_nan_allow_nan_changes_no_bit(ct):
    rng = np.random.RandomState(2)
    X = rng.randn(200, NF)
    X[100:] += 2
    fitted = []
    for allow_nan in (False, True):
        m = GaussianHMM(
            K, covariance_type=ct, random_state=0, n_iter=5, tol=-np.inf, allow_nan=allow_nan
        ).fit(X, [120, 80])
        assert not isinstance(m.emission_family(m).prepare(X), MissingFrames)
        fitted.append(m)
    a, b = fitted
    for name in ("startprob_", "transmat_", "means_", "covars_"):
        assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert list(a.monitor_.history) == list(b.monitor_.history)
    assert a.score(X) == b.score(X)
    assert_array_equal(a.predict_proba(X), b.predict_proba(X))


@pytest.mark.parametrize("ct", ["diag", "spherical"])
def test_diag_and_spherical_keep_their_missing_value_path(ct):
    rng = np.random.RandomState(4)
    X = holey(rng.randn(60, NF), rng)
    m = GaussianHMM(K, covariance_type=ct, random_state=0, n_iter=3, allow_nan=True).fit(X)
    family = m.emission_family(m)
    assert family.prepare(X) is X  # no conditional-Gaussian grouping
    stats = family.posterior_stats(X, m.predict_proba(X))
    assert "post_f" in stats and "obs**2" in stats  # per-feature observed counts


# --------------------------------------------------------------------------- recovery


def sample_hmm(ct, n, seed):
    rng = np.random.RandomState(seed)
    true = GaussianHMM(K, covariance_type=ct, init_params="")
    true.startprob_ = np.full(K, 1 / K)
    true.transmat_ = np.full((K, K), 0.05) + np.eye(K) * (1 - 0.05 * K)
    true.means_ = np.array([[0.0, 0, 0, 0], [4, 0, -3, 1], [-3, 4, 1, -2]])
    if ct == "full":
        mats = []
        for _ in range(K):
            a = rng.randn(NF, NF) * 0.5
            mats.append(a @ a.T + 0.3 * np.eye(NF))
        true.covars_ = np.array(mats)
    else:
        a = rng.randn(NF, NF) * 0.5
        true.covars_ = a @ a.T + 0.3 * np.eye(NF)
    X, _ = true.sample(n, random_state=seed)
    return true, X


@pytest.mark.parametrize("ct", DENSE)
def test_recovers_parameters_with_missing_values(ct):
    true, X = sample_hmm(ct, 3000, seed=11)
    rng = np.random.RandomState(12)
    holes = X.copy()
    holes[rng.rand(*X.shape) < 0.15] = np.nan
    kw = {"covariance_type": ct, "init_params": "", "n_iter": 200, "tol": 1e-8}

    def fitted(data, **extra):
        m = GaussianHMM(K, **kw, **extra)  # the same start, near the truth
        m.startprob_ = np.full(K, 1 / K)
        m.transmat_ = np.full((K, K), 0.2) + np.eye(K) * 0.4
        m.means_ = true.means_ + 0.5
        m.covars_ = np.eye(NF) if ct == "tied" else np.tile(np.eye(NF), (K, 1, 1))
        return m.fit(data)

    full = fitted(X)
    part = fitted(holes, allow_nan=True)
    assert_allclose(part.means_, full.means_, atol=0.06)
    assert_allclose(part.covars_, full.covars_, atol=0.1, rtol=0.05)
    assert_allclose(part.transmat_, full.transmat_, atol=0.01)
    assert_allclose(part.means_, true.means_, atol=0.1)
    assert_beats_column_means(fitted, holes, part, full)


# --------------------------------------------------------------------------- edge cases


@pytest.mark.parametrize("ct", DENSE)
def test_rows_all_nan(ct):
    rng = np.random.RandomState(6)
    m = make_model(ct, rng)
    X = np.full((5, NF), np.nan)
    assert abs(m.score(X)) < 1e-12  # nothing observed: probability 1
    _, post = m.score_samples(X)
    # the posteriors are the chain's own state marginals
    marg = [m.startprob_]
    for _ in range(4):
        marg.append(marg[-1] @ m.transmat_)
    assert_allclose(post, np.array(marg), rtol=1e-12)
    # a fit with NaN rows and a never-observed feature stays finite and positive-definite
    X = rng.randn(80, NF)
    X[::9] = np.nan
    X[:, 2] = np.nan
    fitted = GaussianHMM(K, covariance_type=ct, allow_nan=True, random_state=0).fit(X)
    for name in ("startprob_", "transmat_", "means_", "covars_"):
        assert np.all(np.isfinite(getattr(fitted, name))), name
    assert np.all(np.linalg.eigvalsh(fitted.covars_) > 0)
    assert np.isfinite(fitted.score(X))


@pytest.mark.parametrize("ct", DENSE)
def test_hostile_inputs(ct):
    rng = np.random.RandomState(8)
    X = holey(rng.randn(30, NF), rng)
    for bad in (np.inf, -np.inf):
        Y = X.copy()
        Y[3, 0] = bad
        with pytest.raises(ValueError, match="infinity"):
            GaussianHMM(2, covariance_type=ct, allow_nan=True).fit(Y)
        m = make_model(ct, rng)
        with pytest.raises(ValueError, match="infinity"):
            m.score(Y)
    with pytest.raises(ValueError, match="NaN"):
        GaussianHMM(2, covariance_type=ct).fit(X)
    m = make_model(ct, rng)
    m.allow_nan = False
    with pytest.raises(ValueError, match="NaN"):
        m.predict(X)
    with pytest.raises(ValueError, match="features"):
        make_model(ct, rng).score(X[:, :3])
    # huge observed values: probability zero, not NaN
    Y = X.copy()
    Y[0] = [1e200, np.nan, 1.0, np.nan]
    m = make_model(ct, rng)
    with np.errstate(all="raise"):
        frames = m.emission_family(m).log_likelihood(Y)
    assert_array_equal(frames[0], -np.inf)
    assert np.isfinite(frames[1:]).all()
    assert m.score(Y) == -np.inf
