"""VariationalGaussianHMM(allow_nan=True): missing entries are latent variables of the
mean field.  Checked against a reference written frame by frame in precision terms
(hmmlearn's Wishart parametrisation): the E-step's term of a frame with missing entries
is ``E[log p(x)]`` plus the entropy of the missing entries' factor, at that factor's
optimum; one variational step equals the Normal-Wishart update from the completed
frames' statistics; the lower bound never decreases."""

from __future__ import annotations

import numpy as np
import pytest
from missing_reference import assert_partitions_add_up, holey, reference_posteriors
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import digamma

from fastgen._kernels import hmm as _k
from fastgen.hmm import GaussianHMM, VariationalGaussianHMM
from fastgen.hmm._variational import dirichlet_expected_log

K, NF = 3, 3
TYPES = ["full", "diag", "spherical", "tied"]


def make_model(ct, seed=1, **kw):
    """A model with given priors and posteriors (``init_params=""``)."""
    rng = np.random.RandomState(seed)
    m = VariationalGaussianHMM(K, covariance_type=ct, init_params="", allow_nan=True, **kw)
    m.startprob_prior_, m.transmat_prior_ = np.full(K, 0.4), np.full((K, K), 0.7)
    m.startprob_posterior_ = rng.gamma(2.0, 2.0, K)
    m.transmat_posterior_ = rng.gamma(2.0, 5.0, (K, K))
    m.means_prior_, m.beta_prior_ = rng.normal(size=(K, NF)), np.full(K, 1.5)
    m.means_posterior_ = rng.normal(size=(K, NF)) * 3
    m.beta_posterior_ = rng.gamma(5.0, 5.0, K)
    a = rng.normal(size=(K, NF, NF))
    spd = a @ a.transpose(0, 2, 1) + np.eye(NF)
    dof = rng.gamma(5.0, 10.0, K) + NF
    if ct == "tied":
        m.dof_prior_, m.dof_posterior_ = float(NF), 60.0
        m.scale_prior_, m.scale_posterior_ = 1e-2 * np.eye(NF), 60 * spd[0]
        return m
    m.dof_prior_, m.dof_posterior_ = np.full(K, NF + 0.5), dof
    m.scale_prior_, m.scale_posterior_ = {
        "full": (np.tile(1e-2 * np.eye(NF), (K, 1, 1)), spd * dof[:, None, None]),
        "diag": (np.full((K, NF), 1e-2), np.diagonal(spd, axis1=1, axis2=2) * dof[:, None]),
        "spherical": (np.full(K, 1e-2), spd[:, 0, 0] * dof),
    }[ct]
    return m


def scale_matrix(m, k, which="posterior"):
    """State ``k``'s inverse Wishart scale as a matrix."""
    s = getattr(m, f"scale_{which}_")
    return {
        "full": lambda: s[k], "tied": lambda: s,
        "diag": lambda: np.diag(s[k]), "spherical": lambda: np.eye(NF) * s[k],
    }[m.covariance_type]()  # fmt: skip


def state_posterior(m, k):
    dof = m.dof_posterior_ if m.covariance_type == "tied" else m.dof_posterior_[k]
    W = np.linalg.inv(scale_matrix(m, k))  # E[precision] = dof W
    e_logdet = (
        digamma((dof - np.arange(NF)) / 2).sum() + NF * np.log(2) + np.linalg.slogdet(W)[1]
    )
    return m.means_posterior_[k], m.beta_posterior_[k], dof, W, e_logdet


def frame_term(m, x, k, a=None, cov=None):
    """``E[log N(x | mu, Lambda)] + H[q(x_m)] + n_features/2 log(2 pi)`` (hmmlearn's
    sub-normalised convention) with ``q(x_m) = N(a, cov)``; by default the optimum,
    found in precision terms.  Also returns the completed frame and ``cov``."""
    mean, beta, dof, W, e_logdet = state_posterior(m, k)
    o, mis = ~np.isnan(x), np.isnan(x)
    if a is None and mis.any():
        d_o = np.where(o, x - mean, 0.0)[o]
        a = mean[mis] - np.linalg.solve(W[np.ix_(mis, mis)], W[np.ix_(mis, o)] @ d_o)
        cov = np.linalg.inv(dof * W[np.ix_(mis, mis)])
    xbar = x.copy()
    if mis.any():
        xbar[mis] = a
    d = xbar - mean
    quad = NF / beta + dof * (d @ W @ d)
    term = 0.5 * e_logdet - 0.5 * quad
    if mis.any():
        quad_m = dof * np.trace(W[np.ix_(mis, mis)] @ cov)
        entropy = 0.5 * mis.sum() * (1 + np.log(2 * np.pi)) + 0.5 * np.linalg.slogdet(cov)[1]
        term += entropy - 0.5 * quad_m
    return term, xbar, cov


def fastgen_terms(m, X):
    """The frame terms fastgen's E-step runs on."""
    em = m.engine(m)
    em.check()  # validates the posteriors, derives the point estimates
    return _k.log_frames(em.estep_emissions(em.family.prepare(X)))


@pytest.fixture(params=TYPES)
def case(request):
    rng = np.random.RandomState(3)
    m = make_model(request.param)
    X = holey(rng.randn(40, NF) * 2 + m.means_posterior_[0], rng)
    return m, X


# --------------------------------------------------------------------------- E-step


def test_frame_terms_are_the_mean_field_optimum(case):
    m, X = case
    ours = fastgen_terms(m, X)
    want = np.array([[frame_term(m, x, k)[0] for k in range(K)] for x in X])
    assert_allclose(ours, want, rtol=1e-11, atol=1e-11)
    # at the optimum: moving the factor's mean or scaling its covariance lowers the term
    rng = np.random.RandomState(0)
    x = X[7]  # one coordinate observed
    for k in range(K):
        best, xbar, cov = frame_term(m, x, k)
        a = xbar[1:]
        assert frame_term(m, x, k, a + 0.05 * rng.randn(NF - 1), cov)[0] < best
        for factor in (0.9, 1.1):
            assert frame_term(m, x, k, a, cov * factor)[0] < best


def test_one_variational_step_matches_the_reference(case):
    m, X = case
    lengths = [20, 1, 19]
    terms = np.array([[frame_term(m, x, k)[0] for k in range(K)] for x in X])
    start = np.exp(dirichlet_expected_log(m.startprob_posterior_))
    trans = np.exp(dirichlet_expected_log(m.transmat_posterior_))
    gamma, _, _, log_prob = reference_posteriors(start, trans, terms, lengths)
    # the completed frames' statistics under q(x_m | state)
    n = gamma.sum(axis=0)
    s1, s2 = np.zeros((K, NF)), np.zeros((K, NF, NF))
    for t, x in enumerate(X):
        mis = np.isnan(x)
        for k in range(K):
            _, xbar, cov = frame_term(m, x, k)
            second = np.outer(xbar, xbar)
            if mis.any():
                second[np.ix_(mis, mis)] += cov
            s1[k] += gamma[t, k] * xbar
            s2[k] += gamma[t, k] * second
    b0, m0 = m.beta_prior_, m.means_prior_
    beta = b0 + n
    means = (b0[:, None] * m0 + s1) / beta[:, None]
    outer = lambda w, v: np.einsum("k,ki,kj->kij", w, v, v)  # noqa: E731
    spread = s2 + outer(b0, m0) - outer(beta, means)
    ct = m.covariance_type
    if ct == "full":
        dof, scale = m.dof_prior_ + n, m.scale_prior_ + spread
    elif ct == "tied":
        dof, scale = m.dof_prior_ + n.sum(), m.scale_prior_ + spread.sum(axis=0)
    else:
        dof = m.dof_prior_ + n
        diag = np.diagonal(spread, axis1=1, axis2=2)
        scale = m.scale_prior_ + (diag if ct == "diag" else diag.mean(axis=1))
    m.set_params(n_iter=1, tol=-np.inf)
    m.fit(X, lengths)
    assert_allclose(m.beta_posterior_, beta, rtol=1e-10)
    assert_allclose(m.means_posterior_, means, rtol=1e-9, atol=1e-10)
    assert_allclose(m.dof_posterior_, dof, rtol=1e-10)
    assert_allclose(m.scale_posterior_, scale, rtol=1e-9, atol=1e-9)
    # the bound's first term: the reference E-step's log-likelihood
    m2 = make_model(ct)
    em = m2.engine(m2)
    em.check()
    stats = em.estep(X, np.array(lengths))
    assert_allclose(stats.log_prob, log_prob, rtol=1e-10)


@pytest.mark.parametrize("ct", TYPES)
def test_lower_bound_never_decreases(ct):
    rng = np.random.RandomState(4)
    X = rng.randn(300, NF)
    X[100:200] += 4
    X[200:] -= 3
    X = holey(X, rng, rate=0.25)
    m = VariationalGaussianHMM(K, covariance_type=ct, allow_nan=True, random_state=0,
                               n_iter=30, tol=-np.inf).fit(X, [150, 150])  # fmt: skip
    history = np.array(m.monitor_.history)
    assert len(history) == 30
    assert np.all(np.diff(history) > -1e-9 * np.abs(history[1:]))


def test_point_estimates_score_as_gaussian_hmm(case):
    """``score``, ``predict_proba`` and ``filter`` marginalise missing entries out under
    the point estimates, exactly as GaussianHMM(allow_nan=True) does."""
    m, X = case
    m.set_params(n_iter=3)
    m.fit(X)
    g = GaussianHMM(K, covariance_type=m.covariance_type, init_params="", allow_nan=True)
    g.startprob_, g.transmat_, g.means_ = m.startprob_, m.transmat_, m.means_
    g.covars_ = m._covars_
    lengths = [10, 30]
    assert_allclose(m.score(X, lengths), g.score(X, lengths), rtol=1e-12)
    assert_allclose(m.predict_proba(X, lengths), g.predict_proba(X, lengths), atol=1e-12)
    assert_allclose(m.filter(X, lengths), g.filter(X, lengths), atol=1e-12)


def test_partitions_add_up():
    rng = np.random.RandomState(5)
    for ct in TYPES:
        m = make_model(ct)
        em = m.engine(m)
        em.check()
        X = holey(rng.randn(40, NF), rng)
        X[25:] = rng.randn(15, NF)  # the second part has no NaN
        assert_partitions_add_up(em, X, [25, 15], 25, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("ct", TYPES)
def test_without_nan_allow_nan_changes_no_bit(ct):
    rng = np.random.RandomState(2)
    X = rng.randn(200, NF)
    X[100:] += 3
    a, b = (
        VariationalGaussianHMM(K, covariance_type=ct, random_state=0, n_iter=5, tol=-np.inf,
                               allow_nan=allow_nan).fit(X, [120, 80])
        for allow_nan in (False, True)
    )  # fmt: skip
    for name in ("startprob_posterior_", "transmat_posterior_", "means_posterior_",
                 "scale_posterior_", "dof_posterior_"):  # fmt: skip
        assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert list(a.monitor_.history) == list(b.monitor_.history)


@pytest.mark.parametrize("ct", TYPES)
def test_edge_cases_and_hostile_inputs(ct):
    rng = np.random.RandomState(6)
    X = rng.randn(120, NF)
    X[60:] += 3
    X[::9] = np.nan
    X[:, 2] = np.nan  # never observed
    m = VariationalGaussianHMM(K, covariance_type=ct, allow_nan=True, random_state=0).fit(X)
    assert np.all(np.isfinite(m.monitor_.history))
    assert np.isfinite(m.score(X))
    assert np.isfinite(m.means_posterior_).all()
    Y = X.copy()
    Y[3, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        VariationalGaussianHMM(K, covariance_type=ct, allow_nan=True).fit(Y)
    with pytest.raises(ValueError, match="NaN"):
        VariationalGaussianHMM(K, covariance_type=ct).fit(X)
