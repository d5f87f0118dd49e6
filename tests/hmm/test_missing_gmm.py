"""GMMHMM(allow_nan=True): NaN entries of ``X`` are missing at random, for every
covariance type.  Checked against plain references written frame by frame: each
component's marginal density of the observed coordinates (scipy), and one EM step with
the conditional moments of the missing coordinates in each component (hmmlearn's
M-step formulas, its default priors)."""

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
from scipy.special import logsumexp

import fastgen
from fastgen.hmm import GMMHMM
from fastgen.hmm._engine import BaumWelch

K, NM, NF = 2, 2, 3
TYPES = ["diag", "spherical", "full", "tied"]


def make_model(ct, rng, **kw):
    m = GMMHMM(K, n_mix=NM, covariance_type=ct, init_params="", allow_nan=True, **kw)
    m.startprob_ = rng.dirichlet(np.ones(K))
    m.transmat_ = rng.dirichlet(np.ones(K) * 2, size=K)
    m.weights_ = rng.dirichlet(np.ones(NM) * 2, size=K)
    m.means_ = rng.randn(K, NM, NF) * 2
    if ct == "diag":
        m.covars_ = rng.uniform(0.5, 2.0, (K, NM, NF))
    elif ct == "spherical":
        m.covars_ = rng.uniform(0.5, 2.0, (K, NM))
    else:
        a = rng.randn(K * NM, NF, NF)
        mats = a @ a.transpose(0, 2, 1) + 0.5 * np.eye(NF)
        m.covars_ = mats.reshape(K, NM, NF, NF) if ct == "full" else mats[:K]
    return m


def component_cov(m, k, i):
    ct, cv = m.covariance_type, m.covars_
    return {
        "diag": lambda: np.diag(cv[k, i]),
        "spherical": lambda: np.eye(NF) * cv[k, i],
        "full": lambda: cv[k, i],
        "tied": lambda: cv[k],
    }[ct]()


def component_log_density(m, X):
    """(n, K, NM): log weight + the observed coordinates' log-density."""
    return np.array([
        [[np.log(m.weights_[k, i]) + marginal_logpdf(x, m.means_[k, i], component_cov(m, k, i))
          for i in range(NM)] for k in range(K)]
        for x in X
    ])  # fmt: skip


def reference_em_step(m, X, lengths):
    """One EM step: the state posteriors, the components' responsibilities, the missing
    coordinates' conditional moments; hmmlearn's updates (the scatter about the
    E-step's means, its default priors)."""
    comp = component_log_density(m, X)
    gamma, start, trans, log_prob = reference_posteriors(
        m.startprob_, m.transmat_, logsumexp(comp, axis=2), lengths
    )
    r = gamma[:, :, None] * np.exp(comp - logsumexp(comp, axis=2, keepdims=True))
    n_km = r.sum(axis=0)
    moments = [
        [[conditional_moments(x, m.means_[k, i], component_cov(m, k, i)) for i in range(NM)]
         for k in range(K)]
        for x in X
    ]  # fmt: skip
    completed = np.array([[[c for c, _ in comp_k] for comp_k in row] for row in moments])
    cond = np.array([[[v for _, v in comp_k] for comp_k in row] for row in moments])
    weights = n_km / n_km.sum(axis=1, keepdims=True)
    means = np.einsum("tki,tkif->kif", r, completed) / n_km[:, :, None]
    d = completed - m.means_[None]  # about the E-step's means (hmmlearn)
    scatter = np.einsum("tki,tkif,tkig->kifg", r, d, d) + np.einsum("tki,tkifg->kifg", r, cond)
    ct = m.covariance_type
    if ct == "full":
        covars = scatter / n_km[:, :, None, None]
    elif ct == "tied":
        covars = scatter.sum(axis=1) / gamma.sum(axis=0)[:, None, None]
    elif ct == "diag":
        covars = np.diagonal(scatter, axis1=2, axis2=3) / n_km[:, :, None]
    else:  # hmmlearn's spherical default prior: c_d = nf (n + 1) - n_mix
        covars = np.trace(scatter, axis1=2, axis2=3) / (NF * (n_km + 1) - NM)
    return {
        "startprob_": start / start.sum(),
        "transmat_": trans / trans.sum(axis=1, keepdims=True),
        "weights_": weights, "means_": means, "covars_": covars, "log_prob": log_prob,
    }  # fmt: skip


@pytest.fixture(params=TYPES)
def case(request):
    rng = np.random.RandomState(3)
    m = make_model(request.param, rng)
    X = holey(rng.randn(40, NF) * 2, rng)
    return m, X


# --------------------------------------------------------------------------- likelihood


def test_log_likelihood_and_posteriors_match_the_reference(case):
    m, X = case
    comp = component_log_density(m, X)
    frames = m.emission_family(m).log_likelihood(X)
    assert_allclose(frames, logsumexp(comp, axis=2), rtol=1e-12, atol=1e-12)
    assert_allclose(frames[4], 0.0, atol=1e-15)  # nothing observed: probability 1
    lengths = [20, 1, 19]
    gamma, _, _, log_prob = reference_posteriors(m.startprob_, m.transmat_, frames, lengths)
    assert_allclose(m.score(X, lengths), log_prob, rtol=1e-10)
    assert_allclose(m.predict_proba(X, lengths), gamma, atol=1e-10)
    assert_allclose(m.score_sequences(X, lengths).sum(), log_prob, rtol=1e-10)
    assert_allclose(m.filter(X, lengths)[-1], gamma[-1], atol=1e-10)


def test_complete_frames_keep_their_densities(case):
    """Full / tied: complete frames go through the dense kernel, the same bits; diagonal:
    the kernel's missing-value pass, which sums in another order (1e-15)."""
    m, X = case
    frames = m.emission_family(m).log_likelihood(X)
    complete = ~np.isnan(X).any(axis=1)
    m.allow_nan = False
    filled = np.where(np.isnan(X), 0.0, X)
    dense = m.emission_family(m).log_likelihood(filled)[complete]
    if m.covariance_type in ("full", "tied"):
        assert_array_equal(frames[complete], dense)
    else:
        assert_allclose(frames[complete], dense, rtol=1e-15, atol=0)


# --------------------------------------------------------------------------- EM


def test_one_em_step_matches_the_reference(case):
    m, X = case
    lengths = [20, 1, 19]
    expected = reference_em_step(m, X, lengths)
    m.set_params(n_iter=1, tol=-np.inf)
    m.fit(X, lengths)
    for name in ("startprob_", "transmat_", "weights_", "means_", "covars_"):
        assert_allclose(getattr(m, name), expected[name], rtol=1e-8, atol=1e-10, err_msg=name)
    assert_allclose(m.monitor_.history[0], expected["log_prob"], rtol=1e-10)


def test_partitions_add_up():
    """E-step statistics of a part with NaN and a part without share their keys and
    add up to those of the whole (what fastgen.dask sums)."""
    rng = np.random.RandomState(5)
    for ct in TYPES:
        m = make_model(ct, rng)
        X = holey(rng.randn(40, NF), rng)
        X[25:] = rng.randn(15, NF)  # the second part has no NaN
        assert_partitions_add_up(BaumWelch(m), X, [25, 15], 25, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("ct", TYPES)
def test_without_nan_allow_nan_changes_no_bit(ct):
    rng = np.random.RandomState(2)
    X = rng.randn(200, NF)
    X[100:] += 3
    fitted = [
        GMMHMM(K, n_mix=NM, covariance_type=ct, random_state=0, n_iter=4, tol=-np.inf,
               allow_nan=allow_nan).fit(X, [120, 80])
        for allow_nan in (False, True)
    ]  # fmt: skip
    a, b = fitted
    for name in ("startprob_", "transmat_", "weights_", "means_", "covars_"):
        assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert list(a.monitor_.history) == list(b.monitor_.history)


# --------------------------------------------------------------------------- recovery


@pytest.mark.parametrize("ct", ["diag", "full"])
def test_recovers_the_complete_data_fit(ct):
    """From the same start, a fit with 15% of the entries missing lands near the fit
    on complete data, and nearer than a fit on column-mean imputed data."""
    rng = np.random.RandomState(11)
    true = make_model(ct, rng)
    true.means_ = np.array([[[0.0, 0, 0], [5, 0, -4]], [[-4, 5, 1], [2, -5, 4]]])
    true.transmat_ = np.array([[0.9, 0.1], [0.15, 0.85]])
    X, _ = true.sample(3000, random_state=12)
    holes = X.copy()
    holes[rng.rand(*X.shape) < 0.15] = np.nan

    def fitted(data, **extra):
        m = GMMHMM(K, n_mix=NM, covariance_type=ct, init_params="", n_iter=100, tol=1e-8,
                   **extra)  # fmt: skip
        for name in ("startprob_", "transmat_", "weights_", "covars_"):
            setattr(m, name, getattr(true, name))
        m.means_ = true.means_ + 0.5
        return m.fit(data)

    full = fitted(X)
    part = fitted(holes, allow_nan=True)
    assert_allclose(part.means_, full.means_, atol=0.15)
    assert_allclose(part.weights_, full.weights_, atol=0.03)
    assert_allclose(part.transmat_, full.transmat_, atol=0.02)
    assert_beats_column_means(fitted, holes, part, full)


# --------------------------------------------------------------------------- edge cases


@pytest.mark.parametrize("ct", TYPES)
def test_rows_all_nan_and_a_feature_never_observed(ct):
    rng = np.random.RandomState(6)
    m = make_model(ct, rng)
    assert abs(m.score(np.full((5, NF), np.nan))) < 1e-12
    X = rng.randn(120, NF)
    X[60:] += 3
    X[::9] = np.nan
    X[:, 2] = np.nan
    fitted = GMMHMM(K, n_mix=NM, covariance_type=ct, allow_nan=True, random_state=0).fit(X)
    for name in ("startprob_", "transmat_", "weights_", "means_", "covars_"):
        assert np.all(np.isfinite(getattr(fitted, name))), name
    assert np.isfinite(fitted.score(X))


@pytest.mark.parametrize("ct", TYPES)
def test_hostile_inputs(ct):
    rng = np.random.RandomState(8)
    X = holey(rng.randn(30, NF), rng)
    for bad in (np.inf, -np.inf):
        Y = X.copy()
        Y[3, 0] = bad
        with pytest.raises(ValueError, match="infinity"):
            GMMHMM(2, covariance_type=ct, allow_nan=True).fit(Y)
        with pytest.raises(ValueError, match="infinity"):
            make_model(ct, rng).score(Y)
    with pytest.raises(ValueError, match="NaN"):
        GMMHMM(2, covariance_type=ct).fit(X)
    m = make_model(ct, rng)
    m.allow_nan = False
    with pytest.raises(ValueError, match="NaN"):
        m.predict(X)


def test_model_file_keeps_allow_nan(tmp_path):
    rng = np.random.RandomState(9)
    m = make_model("full", rng)
    X = holey(rng.randn(30, NF), rng)
    path = tmp_path / "gmm.fgm"
    fastgen.save(m, path)
    loaded = fastgen.load(path)
    assert loaded.allow_nan is True
    assert loaded.score(X) == m.score(X)
