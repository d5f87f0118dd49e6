"""fastgen.hmm against hmmlearn: scores, posteriors, Viterbi paths and EM steps agree.

Every comparison sets the parameters explicitly (``init_params=""``): fastgen's k-means
initialisation is its own, so random initialisations are not expected to match.
"""

from __future__ import annotations

import hmm_compare
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastgen import hmm as F
from fastgen._base import NotFittedError, clone

H = pytest.importorskip("hmmlearn.hmm")

COV_TYPES = ["diag", "spherical", "full", "tied"]
IMPLS = ["log", "scaling"]
LENGTHS = {"one": None, "ragged": [17, 1, 30, 2, 10]}
K, NF, NSYM = 3, 2, 4


def make_covars(rng, ct, k=K, nf=NF):
    if ct == "diag":
        return rng.rand(k, nf) + 0.5
    if ct == "spherical":
        return rng.rand(k) + 0.5
    a = rng.randn(nf, nf)
    s = a @ a.T + np.eye(nf)
    if ct == "tied":
        return s
    return np.array([s + i * np.eye(nf) for i in range(k)])


@pytest.fixture(scope="module")
def problem():
    rng = np.random.RandomState(0)
    params = {
        "startprob_": rng.dirichlet(np.ones(K)),
        "transmat_": rng.dirichlet(np.ones(K), size=K),
        "means_": rng.randn(K, NF) * 3,
    }
    covars = {ct: make_covars(rng, ct) for ct in COV_TYPES}
    X = rng.randn(60, NF) * 2
    symbols = rng.randint(0, NSYM, size=(60, 1))
    emission = rng.dirichlet(np.ones(NSYM), size=K)
    return params, covars, X, symbols, emission


def gaussian_pair(problem, ct, impl, allow_nan=False, **kw):
    """hmmlearn's and fastgen's GaussianHMM with the same explicit parameters."""
    params, covars, *_ = problem
    out = []
    for mod in (H, F):
        m = mod.GaussianHMM(K, covariance_type=ct, init_params="", implementation=impl, **kw)
        if mod is F:
            m.allow_nan = allow_nan
        for name, value in params.items():
            setattr(m, name, value.copy())
        m.covars_ = covars[ct]
        out.append(m)
    return out


def categorical_pair(problem, impl, **kw):
    params, _, _, _, emission = problem
    out = []
    for mod in (H, F):
        m = mod.CategoricalHMM(K, init_params="", implementation=impl, **kw)
        m.startprob_ = params["startprob_"].copy()
        m.transmat_ = params["transmat_"].copy()
        m.emissionprob_ = emission.copy()
        out.append(m)
    return out


def copy_params(ours, ref):
    """Give hmmlearn's model fastgen's fitted parameters (bit for bit)."""
    for name in ("startprob_", "transmat_", "means_", "emissionprob_"):
        if hasattr(ours, name):
            setattr(ref, name, getattr(ours, name).copy())
    if hasattr(ours, "_covars_"):
        ref.covars_ = ours._covars_.copy()


def assert_same_inference(ref, ours, X, lengths):
    hmm_compare.assert_same_inference(ours, ref, X, lengths)


# --------------------------------------------------------------------------- Gaussian


@pytest.mark.parametrize("lengths", LENGTHS.values(), ids=LENGTHS.keys())
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("ct", COV_TYPES)
def test_gaussian_matches_hmmlearn(problem, ct, impl, lengths):
    X = problem[2]
    ref, ours = gaussian_pair(problem, ct, impl, n_iter=5, tol=-np.inf)
    assert_same_inference(ref, ours, X, lengths)
    ref.fit(X, lengths)
    ours.fit(X, lengths)
    for name in ("startprob_", "transmat_", "means_"):
        assert_allclose(getattr(ours, name), getattr(ref, name), rtol=1e-6, err_msg=name)
    ref_cov = ref._covars_[:, 0] if ct == "spherical" else ref._covars_  # hmmlearn tiles
    assert_allclose(ours._covars_, ref_cov, rtol=1e-6)
    assert ours.covars_.shape == (K, NF, NF)
    assert_allclose(list(ours.monitor_.history), list(ref.monitor_.history), rtol=1e-8)
    assert ours.monitor_.iter == ref.monitor_.iter == 5
    # EM results agree to rounding; near-tied Viterbi paths may flip on a 1e-16
    # difference, so the fitted model's inference is compared on identical parameters
    copy_params(ours, ref)
    assert_same_inference(ref, ours, X, lengths)


def test_gaussian_priors_and_partial_params_match(problem):
    X = problem[2]
    kw = dict(
        n_iter=3,
        tol=-np.inf,
        params="mc",
        means_prior=0.5,
        means_weight=2.0,
        covars_prior=0.3,
        covars_weight=4.0,
        startprob_prior=2.0,
        transmat_prior=3.0,
    )
    for ct in COV_TYPES:
        ref, ours = gaussian_pair(problem, ct, "log", **kw)
        ref.fit(X, [30, 30])
        ours.fit(X, [30, 30])
        assert_allclose(ours.means_, ref.means_, rtol=1e-6)
        assert_allclose(ours.covars_[0], ref.covars_[0], rtol=1e-6)
        assert_array_equal(ours.startprob_, problem[0]["startprob_"])  # "s" not in params
    ref, ours = gaussian_pair(problem, "diag", "log", **{**kw, "params": "st"})
    ref.fit(X)
    ours.fit(X)
    assert_allclose(ours.startprob_, ref.startprob_, rtol=1e-6)
    assert_allclose(ours.transmat_, ref.transmat_, rtol=1e-6)


def test_convergence_monitor_and_verbose(problem, capsys):
    X = problem[2]
    ref, ours = gaussian_pair(problem, "diag", "log", n_iter=50, tol=1e-3, verbose=True)
    ref.fit(X)
    ours.fit(X)
    assert ours.monitor_.converged
    assert ours.monitor_.iter == ref.monitor_.iter < 50
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 * ours.monitor_.iter  # one line per iteration from each
    assert err[0].split()[0] == "1"


def test_list_of_sequences_equals_lengths(problem):
    X = problem[2]
    _, ours = gaussian_pair(problem, "full", "log")
    seqs = [X[:10], X[10:11], X[11:]]
    assert ours.score(seqs) == ours.score(X, [10, 1, 49])
    assert_array_equal(ours.predict(seqs), ours.predict(X, [10, 1, 49]))


def test_default_init_fits_and_is_seeded():
    rng = np.random.RandomState(1)
    X = np.concatenate([rng.randn(100, 2), rng.randn(100, 2) + 6])
    a = F.GaussianHMM(2, random_state=0, n_iter=20).fit(X)
    b = F.GaussianHMM(2, random_state=0, n_iter=20).fit(X)
    assert_array_equal(a.means_, b.means_)
    assert np.isclose(np.sort(a.means_[:, 0]), [0, 6], atol=0.5).all()
    assert a.n_features == 2
    assert a.monitor_.history[-1] >= a.monitor_.history[0]
    for ct in COV_TYPES:  # random init (k-means means, data covariance) for every type
        m = F.GaussianHMM(2, covariance_type=ct, random_state=0, n_iter=5).fit(X, [150, 50])
        assert m.covars_.shape == (2, 2, 2) and np.all(np.isfinite(m.covars_))
        assert np.isfinite(m.score(X))
    c = F.CategoricalHMM(2, random_state=0).fit(rng.randint(0, 3, (50, 1)))
    assert c.n_features == 3 and c.emissionprob_.shape == (2, 3)


def test_sample_matches_hmmlearn_stream(problem):
    for ct in ("diag", "full"):
        ref, ours = gaussian_pair(problem, ct, "log")
        Xr, Zr = ref.sample(20, random_state=3)
        Xo, Zo = ours.sample(20, random_state=3)
        assert_array_equal(Zo, Zr)
        assert_allclose(Xo, Xr)
        Xo2, _ = ours.sample(5, random_state=3, currstate=Zo[-1])
        assert Xo2.shape == (5, NF)
    ref, ours = categorical_pair(problem, "log")
    Xr, Zr = ref.sample(30, random_state=4)
    Xo, Zo = ours.sample(30, random_state=4)
    assert_array_equal(Xo, Xr)
    assert_array_equal(Zo, Zr)


def test_stationary_aic_bic(problem):
    X = problem[2]
    ref, ours = gaussian_pair(problem, "tied", "log")
    assert_allclose(ours.get_stationary_distribution(), ref.get_stationary_distribution())
    ref.n_features = ours.n_features = NF
    assert_allclose(ours.aic(X), ref.aic(X), rtol=1e-10)
    assert_allclose(ours.bic(X, [30, 30]), ref.bic(X, [30, 30]), rtol=1e-10)


def test_long_sequence_does_not_underflow():
    rng = np.random.RandomState(2)
    n = 1_000_000
    m = F.GaussianHMM(2, init_params="")
    m.startprob_ = np.array([0.5, 0.5])
    m.transmat_ = np.array([[0.9, 0.1], [0.2, 0.8]])
    m.means_ = np.array([[0.0], [3.0]])
    m.covars_ = np.array([[1.0], [2.0]])
    X = rng.randn(n, 1) * 1.5
    for impl in IMPLS:
        m.implementation = impl
        lp, post = m.score_samples(X)
        assert np.isfinite(lp) and lp < -1e6
        assert np.all(np.isfinite(post))
        assert_allclose(post.sum(axis=1), 1.0)
    states = m.predict(X)
    assert states.shape == (n,) and set(np.unique(states)) <= {0, 1}


def test_length_one_sequences(problem):
    X = problem[2][:5]
    for impl in IMPLS:
        ref, ours = gaussian_pair(problem, "diag", impl, n_iter=2, tol=-np.inf, params="smc")
        assert_same_inference(ref, ours, X, [1] * 5)
        ref.fit(X, [1] * 5)
        ours.fit(X, [1] * 5)
        assert_allclose(ours.startprob_, ref.startprob_, rtol=1e-6)
        assert_allclose(ours.means_, ref.means_, rtol=1e-6)


def test_state_without_responsibility_gives_no_nan():
    rng = np.random.RandomState(5)
    X = rng.randn(40, 2)
    for ct in COV_TYPES:
        m = F.GaussianHMM(3, covariance_type=ct, init_params="", n_iter=3, tol=-np.inf)
        m.startprob_ = np.array([0.5, 0.5, 0.0])
        m.transmat_ = np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
        m.means_ = np.array([[0.0, 0.0], [1.0, 1.0], [1e3, 1e3]])
        m.covars_ = make_covars(rng, ct)
        m.fit(X)
        for name in ("startprob_", "transmat_", "means_", "covars_"):
            assert np.all(np.isfinite(getattr(m, name))), (ct, name)
        assert np.isfinite(m.score(X))
    c = F.CategoricalHMM(2, init_params="", n_iter=2, n_features=3)
    c.startprob_ = np.array([1.0, 0.0])
    c.transmat_ = np.array([[1.0, 0.0], [0.5, 0.5]])
    c.emissionprob_ = np.full((2, 3), 1 / 3)
    c.fit(rng.randint(0, 3, (20, 1)))
    assert np.all(np.isfinite(c.emissionprob_)) and np.all(np.isfinite(c.transmat_))


# --------------------------------------------------------------------------- categorical


@pytest.mark.parametrize("lengths", LENGTHS.values(), ids=LENGTHS.keys())
@pytest.mark.parametrize("impl", IMPLS)
def test_categorical_matches_hmmlearn(problem, impl, lengths):
    Xs = problem[3]
    ref, ours = categorical_pair(problem, impl, n_iter=5, tol=-np.inf, emissionprob_prior=1.5)
    assert_same_inference(ref, ours, Xs, lengths)
    ref.fit(Xs, lengths)
    ours.fit(Xs, lengths)
    for name in ("startprob_", "transmat_", "emissionprob_"):
        assert_allclose(getattr(ours, name), getattr(ref, name), rtol=1e-6, err_msg=name)
    copy_params(ours, ref)
    assert_same_inference(ref, ours, Xs, lengths)


# --------------------------------------------------------------------------- API and errors


def test_constructor_defaults_match_hmmlearn():
    for name in ("GaussianHMM", "CategoricalHMM"):
        ours = getattr(F, name)().get_params()
        ref = getattr(H, name)().get_params()
        assert ours.pop("allow_nan", False) is False  # fastgen's extra parameters
        assert ours.pop("n_init") == 1
        assert ours == ref
    assert clone(F.GaussianHMM(4, covariance_type="full")).covariance_type == "full"


def test_not_fitted():
    with pytest.raises(NotFittedError):
        F.GaussianHMM().score(np.zeros((3, 1)))


@pytest.mark.parametrize(
    "X, lengths, match",
    [
        (np.array([[0.0], [np.nan]]), None, "NaN"),
        (np.array([[0.0], [np.inf]]), None, "infinity|inf"),
        (np.zeros((4, 3)), None, "features"),
        (np.zeros((4, 2)), [2, 1], "sum"),
        (np.zeros((4, 2)), [4, 0], "positive"),
        (np.zeros((4, 2)), [5, -1], "positive"),
        (np.zeros((4, 2)), [1.5, 2.5], "integers"),
    ],
)
def test_bad_input_raises(problem, X, lengths, match):
    _, ours = gaussian_pair(problem, "diag", "log")
    with pytest.raises(ValueError, match=match):
        ours.score(X, lengths)


_BIG = 2**62
WRAPPING_LENGTHS = {
    # exact sums 2**64 + 60 and 2**63 + 2**63 + 60: int64 arithmetic wraps them to 60
    "int64-wrap": [_BIG, _BIG, _BIG, _BIG + 60],
    "uint64": np.array([2**63, 2**63 + 60], dtype=np.uint64),
    "float": [float(_BIG)] * 4 + [60.0],
    "negative": [61, -1],
    "longer-than-X": [1, 61],
}


@pytest.mark.parametrize("lengths", WRAPPING_LENGTHS.values(), ids=WRAPPING_LENGTHS.keys())
@pytest.mark.parametrize(
    "method", ["fit", "score", "score_samples", "predict", "predict_proba", "decode", "bic"]
)
@pytest.mark.parametrize("kind", ["gaussian", "categorical"])
def test_lengths_out_of_range_raise_value_error(problem, kind, method, lengths):
    # hmmlearn fails on these with an IndexError; fastgen used to pass them to the
    # kernels (SystemError), its int64 sum having wrapped around to n_samples
    _, _, X, symbols, _ = problem
    if kind == "gaussian":
        ours, data = gaussian_pair(problem, "diag", "log")[1], X
    else:
        ours, data = categorical_pair(problem, "log")[1], symbols
    assert data.shape[0] == 60
    ours.score(data, [20, 40])  # valid lengths are fine (and set n_features, as bic needs)
    with pytest.raises(ValueError, match="positive|doesn't sum to 60 samples"):
        getattr(ours, method)(data, lengths)


@pytest.mark.parametrize(
    "kwargs, setter, match",
    [
        ({"n_components": 0}, None, "n_components"),
        ({"covariance_type": "banana"}, None, "covariance_type"),
        ({"implementation": "fast"}, None, "implementation"),
        ({}, ("startprob_", np.array([0.5, 0.6, 0.1])), "startprob_"),
        ({}, ("transmat_", np.full((K, K), 0.5)), "transmat_"),
        ({}, ("transmat_", np.eye(2)), "shape"),
    ],
)
def test_bad_parameters_raise(problem, kwargs, setter, match):
    _, ours = gaussian_pair(problem, "diag", "log")
    ours.set_params(**kwargs)
    if setter is not None:
        setattr(ours, *setter)
    with pytest.raises(ValueError, match=match):
        ours.score(problem[2])
    with pytest.raises(ValueError, match=match):
        ours.fit(problem[2])


def test_non_positive_definite_covars_raise():
    m = F.GaussianHMM(2, covariance_type="full")
    with pytest.raises(ValueError, match="positive-definite"):
        m.covars_ = np.array([np.eye(2), [[1.0, 2.0], [2.0, 1.0]]])
    m = F.GaussianHMM(2, covariance_type="tied")
    with pytest.raises(ValueError, match="positive-definite"):
        m.covars_ = -np.eye(2)
    m = F.GaussianHMM(2, covariance_type="diag")
    with pytest.raises(ValueError, match="positive"):
        m.covars_ = np.array([[1.0, 0.0], [1.0, 1.0]])


@pytest.mark.parametrize(
    "X, match",
    [
        (np.array([[0], [4]]), "Largest symbol"),
        (np.array([[0], [-1]]), "nonnegative"),
        (np.array([[0.0], [1.5]]), "integers"),
        (np.array([[0, 1], [1, 0]]), "shape"),
    ],
)
def test_categorical_bad_symbols(problem, X, match):
    _, ours = categorical_pair(problem, "log")
    ours.n_features = NSYM
    with pytest.raises(ValueError, match=match):
        ours.score(X)


def test_scaling_underflow_raises():
    m = F.GaussianHMM(2, init_params="", implementation="scaling")
    m.startprob_ = np.array([0.5, 0.5])
    m.transmat_ = np.full((2, 2), 0.5)
    m.means_ = np.zeros((2, 1))
    m.covars_ = np.ones((2, 1))
    with pytest.raises(ValueError, match="underflow"):
        m.score(np.array([[0.0], [100.0]]))


# --------------------------------------------------------------------------- missing values


def test_missing_values_marginalised(problem):
    rng = np.random.RandomState(7)
    X = problem[2].copy()
    X[rng.rand(*X.shape) < 0.2] = np.nan
    X[3] = np.nan  # a fully missing frame carries no information
    for ct in ("diag", "spherical"):
        _, ours = gaussian_pair(problem, ct, "log", allow_nan=True, n_iter=3, tol=-np.inf)
        frames = ours.emission_family(ours).log_likelihood(X)
        assert_array_equal(frames[3], 0.0)
        # marginal density of the observed features, per frame and state
        cv = ours.covars_
        for t in (0, 5, 11):
            obs = ~np.isnan(X[t])
            for k in range(K):
                d = X[t, obs] - ours.means_[k, obs]
                c = np.diag(cv[k])[obs]
                expected = -0.5 * (
                    obs.sum() * np.log(2 * np.pi) + np.log(c).sum() + (d**2 / c).sum()
                )
                assert_allclose(frames[t, k], expected, rtol=1e-12)
        ours.fit(X, [30, 30])
        for name in ("startprob_", "transmat_", "means_", "covars_"):
            assert np.all(np.isfinite(getattr(ours, name))), name
        assert np.isfinite(ours.score(X))
    # without missing entries allow_nan changes nothing
    _, a = gaussian_pair(problem, "diag", "log", n_iter=3, tol=-np.inf)
    _, b = gaussian_pair(problem, "diag", "log", n_iter=3, tol=-np.inf, allow_nan=True)
    a.fit(problem[2])
    b.fit(problem[2])
    assert_allclose(a.means_, b.means_, rtol=1e-12)


def test_missing_values_mstep_uses_observed_frames_only():
    X = np.array([[1.0, np.nan], [3.0, 10.0], [np.nan, 20.0]])
    m = F.GaussianHMM(1, init_params="", params="m", allow_nan=True, n_iter=1)
    m.startprob_ = np.ones(1)
    m.transmat_ = np.ones((1, 1))
    m.means_ = np.zeros((1, 2))
    m.covars_ = np.ones((1, 2))
    m.fit(X)
    assert_allclose(m.means_, [[2.0, 15.0]])
    m = F.GaussianHMM(1, allow_nan=True, random_state=0).fit(np.vstack([X, X + 1]))
    assert np.all(np.isfinite(m.means_))


def test_missing_values_rejected_otherwise():
    X = np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(ValueError, match="NaN"):
        F.GaussianHMM(1).fit(X)
    with pytest.raises(ValueError, match="NaN"):
        F.GaussianHMM(1, covariance_type="full").fit(X)
    with pytest.raises(ValueError, match="infinity"):
        F.GaussianHMM(1, allow_nan=True).fit(np.array([[0.0, np.inf], [1.0, 2.0]]))


def test_monitor_before_fit_is_not_kept_and_an_assigned_one_is_used():
    """hmmlearn's pattern: read ``monitor_`` before fit, assign a stricter subclass, fit
    reports to it.  The unfitted model still has no fitted attribute."""
    from sklearn.exceptions import NotFittedError as SkNotFittedError
    from sklearn.utils.validation import check_is_fitted as sk_check_is_fitted

    class Counting(F.ConvergenceMonitor):
        reports = 0

        def report(self, log_prob):
            Counting.reports += 1
            super().report(log_prob)

    X = np.random.default_rng(0).normal(size=(200, 2))
    model = F.GaussianHMM(2, n_iter=4, tol=-np.inf, random_state=0)
    fresh = model.monitor_
    assert (fresh.tol, fresh.n_iter, fresh.iter) == (model.tol, 4, 0)
    assert "monitor_" not in vars(model)
    with pytest.raises(SkNotFittedError):
        sk_check_is_fitted(model)
    model.monitor_ = Counting(model.monitor_.tol, model.monitor_.n_iter, False)
    mine = model.monitor_
    model.fit(X)
    assert model.monitor_ is mine and Counting.reports == 4 and mine.iter == 4
    model.set_params(n_iter=2).fit(X)  # refit: the same monitor, reset, current params
    assert model.monitor_ is mine and mine.iter == 2 and len(mine.history) == 2
