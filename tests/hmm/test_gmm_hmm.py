"""fastgen's GMMHMM against hmmlearn's: scores, posteriors, paths, EM steps.

Every comparison sets the parameters explicitly (``init_params=""``).  Also: degenerate
states and components, input checks, hmmlearn's own GMMHMM test files with fastgen
swapped in, the Dask fit.
"""

from __future__ import annotations

import numpy as np
import pytest
from hmm_compare import IMPLS, LENGTHS, assert_same_em, assert_same_inference, paired
from numpy.testing import assert_allclose, assert_array_equal

from fastgen._base import clone
from fastgen.hmm import GMMHMM

H = pytest.importorskip("hmmlearn.hmm")

COVARIANCE_TYPES = ["diag", "spherical", "full", "tied"]
K, M, NF = 3, 2, 3


def make_params(ct: str, rng: np.random.RandomState, k: int = K, nm: int = M, nf: int = NF):
    p = {
        "startprob_": rng.dirichlet(np.ones(k)),
        "transmat_": rng.dirichlet(np.ones(k) * 2, size=k),
        "weights_": rng.dirichlet(np.ones(nm) * 2, size=k),
        "means_": rng.randn(k, nm, nf) * 2.5,
    }
    if ct == "diag":
        p["covars_"] = rng.uniform(0.5, 2.0, (k, nm, nf))
    elif ct == "spherical":
        p["covars_"] = rng.uniform(0.5, 2.0, (k, nm))
    else:
        shape = (k, nm, nf, nf) if ct == "full" else (k, nf, nf)
        a = rng.randn(*shape) * 0.5
        p["covars_"] = a @ np.swapaxes(a, -1, -2) + np.eye(nf)
    return p


@pytest.fixture(scope="module", params=COVARIANCE_TYPES)
def problem(request):
    ct = request.param
    rng = np.random.RandomState(COVARIANCE_TYPES.index(ct))
    params = make_params(ct, rng)
    ref = H.GMMHMM(K, n_mix=M, covariance_type=ct, init_params="")
    for name, value in params.items():
        setattr(ref, name, value.copy())
    X, _ = ref.sample(100, random_state=rng)
    return ct, params, X


def pair(problem, impl, **kw):
    """hmmlearn's and fastgen's GMMHMM with the same explicit parameters."""
    ct, params, _ = problem
    return paired(H.GMMHMM, GMMHMM, params, n_components=K, n_mix=M, covariance_type=ct,
                  implementation=impl, **kw)


def priors_for(ct: str) -> dict:
    rng = np.random.RandomState(5)
    covars = {
        "diag": (0.5, rng.uniform(0.1, 0.3, (K, M, NF))),
        "spherical": (1.0, 0.3),
        "full": (0.2 * np.eye(NF), 2.0),
        "tied": (0.2 * np.eye(NF), rng.uniform(1.0, 2.0, K)),
    }[ct]
    return {
        "startprob_prior": 1.5, "transmat_prior": 1.2,
        "weights_prior": rng.uniform(1.0, 3.0, (K, M)),
        "means_prior": rng.randn(K, M, NF), "means_weight": rng.uniform(0.5, 2.0, (K, M)),
        "covars_prior": covars[0], "covars_weight": covars[1],
    }  # fmt: skip


@pytest.mark.parametrize("lengths", LENGTHS.values(), ids=LENGTHS.keys())
@pytest.mark.parametrize("impl", IMPLS)
def test_inference_matches_hmmlearn(problem, impl, lengths):
    ref, ours = pair(problem, impl)
    X = problem[2]
    assert_same_inference(ours, ref, X, lengths)
    frames = ours.emission_family(ours).log_likelihood(X)
    assert_allclose(frames, ref._compute_log_likelihood(X), rtol=1e-10)


EM_CASES = {
    "default": {},
    "priors": "priors",
    "mixture-only": {"params": "mcw"},
    "means-weights": {"params": "mw"},
    "covars-only": {"params": "c"},
    "chain-only": {"params": "st"},
}


@pytest.mark.parametrize("lengths", LENGTHS.values(), ids=LENGTHS.keys())
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", EM_CASES)
def test_em_steps_match_hmmlearn(problem, impl, lengths, case):
    kw = priors_for(problem[0]) if EM_CASES[case] == "priors" else EM_CASES[case]
    ref, ours = pair(problem, impl, n_iter=5, tol=-np.inf, **kw)
    names = ("startprob_", "transmat_", "weights_", "means_", "covars_")
    assert_same_em(ours, ref, problem[2], lengths, names)
    assert ours.monitor_.iter == 5
    # the hyperparameters stay as given (hmmlearn broadcasts its priors in place)
    for name, value in kw.items():
        assert ours.get_params()[name] is value or np.shape(ours.get_params()[name]) == np.shape(
            value
        )


def test_priors_are_not_modified(problem):
    kw = priors_for(problem[0])
    _, ours = pair(problem, "log", n_iter=2, **kw)
    before = {k: np.copy(v) for k, v in ours.get_params().items() if k in kw}
    ours.fit(problem[2])
    for name, value in before.items():
        assert np.shape(getattr(ours, name)) == np.shape(value), name
        assert_array_equal(getattr(ours, name), value)


def test_empty_state_and_component_stay_valid(problem):
    """A state with no mass keeps its weights, means and covariances; a component with
    no mass in a visited state gets weight 0 and keeps its mean and covariance."""
    ct, params, X = problem
    m = GMMHMM(K, n_mix=M, covariance_type=ct, init_params="", n_iter=3, tol=-np.inf)
    for name, value in params.items():
        setattr(m, name, value.copy())
    m.startprob_ = np.array([1.0, 0.0, 0.0])
    m.transmat_ = np.eye(K)  # states 1 and 2 are never visited
    w = params["weights_"].copy()
    w[0] = [1.0, 0.0]  # component 1 of state 0 never responsible
    m.weights_ = w
    m.fit(X)
    for name in ("weights_", "means_", "covars_"):
        assert np.isfinite(getattr(m, name)).all(), name
    assert_array_equal(m.weights_[1:], w[1:])
    assert_array_equal(m.means_[1:], params["means_"][1:])
    assert_array_equal(m.covars_[1:], params["covars_"][1:])
    assert_array_equal(m.weights_[0], [1.0, 0.0])
    assert_array_equal(m.means_[0, 1], params["means_"][0, 1])
    if ct != "tied":
        assert_array_equal(m.covars_[0, 1], params["covars_"][0, 1])
    assert_allclose(m.means_[0, 0], X.mean(axis=0), rtol=1e-10)
    m._check()
    assert np.isfinite(m.score(X))


def test_unreachable_states_give_finite_posteriors():
    """startprob [1, 0, 0] and an identity transmat: the unreachable states' backward
    terms dominate; the log-space passes keep the reachable state's (no NaN)."""
    rng = np.random.RandomState(0)
    params = make_params("diag", rng)
    ref = H.GMMHMM(K, n_mix=M, covariance_type="diag", init_params="")
    for name, value in params.items():
        setattr(ref, name, value.copy())
    X, _ = ref.sample(100, random_state=rng)
    m = GMMHMM(K, n_mix=M, covariance_type="diag", init_params="")
    for name, value in params.items():
        setattr(m, name, value.copy())
    m.startprob_ = np.array([1.0, 0.0, 0.0])
    m.transmat_ = np.eye(K)
    m.weights_[0] = [1.0, 0.0]
    assert not np.isnan(m.predict_proba(X)).any()


def test_collapsed_component_stays_valid():
    """A component owning one frame gets a (nearly) singular update: the model stays
    valid, finite and scorable."""
    X = np.array([[0.0, 0.0], [10.0, 10.0], [0.1, -0.1], [-0.1, 0.2], [0.05, 0.0]])
    for ct in COVARIANCE_TYPES:
        m = GMMHMM(1, n_mix=2, covariance_type=ct, init_params="", n_iter=2, tol=-np.inf)
        m.startprob_ = np.ones(1)
        m.transmat_ = np.ones((1, 1))
        m.weights_ = np.array([[0.5, 0.5]])
        m.means_ = np.array([[[0.0, 0.0], [10.0, 10.0]]])
        m.covars_ = {
            "diag": np.ones((1, 2, 2)), "spherical": np.ones((1, 2)),
            "full": np.tile(np.eye(2), (1, 2, 1, 1)), "tied": np.eye(2)[None],
        }[ct]  # fmt: skip
        m.fit(X)
        assert np.isfinite(m.covars_).all() and np.isfinite(m.means_).all(), ct
        m._check()
        assert np.isfinite(m.score(X)), ct


@pytest.mark.parametrize(
    "X, match",
    [
        (np.array([[1.0, np.nan, 0.0]]), "NaN"),
        (np.array([[1.0, np.inf, 0.0]]), "infinity"),
        (np.array([["a", "b", "c"]]), "could not convert|numeric"),
        (np.ones((3, 5)), "5 features"),
    ],
)
def test_bad_input_raises(problem, X, match):
    _, ours = pair(problem, "log")
    for call in (ours.score, ours.predict, ours.predict_proba, ours.fit):
        with pytest.raises(ValueError, match=match):
            call(X)


def test_bad_parameters_raise(problem):
    ct, params, X = problem
    bad = {
        "weights_": [np.full((K, M), 0.3), np.ones((K, M + 1)) / (M + 1), -params["weights_"]],
        "means_": [np.ones((K, M)), np.ones((K, M + 1, NF)), np.full((K, M, NF), np.nan)],
        "covars_": [-params["covars_"], params["covars_"][..., :1], np.zeros(1)],
    }
    for name, values in bad.items():
        for value in values:
            _, ours = pair(problem, "log")
            setattr(ours, name, value)
            with pytest.raises(ValueError):
                ours.score(X)
            with pytest.raises(ValueError):
                ours.fit(X)
    for kw, match in [
        ({"n_mix": 0}, "n_mix"),
        ({"n_mix": 2.5}, "n_mix"),
        ({"algorithm": "nope"}, "decoder"),
        ({"implementation": "nope"}, "implementation"),
        ({"means_prior": np.zeros((K, 5))}, "means_prior"),
    ]:
        ours = GMMHMM(K, **{"n_mix": M, "covariance_type": problem[0], **kw})
        with pytest.raises(ValueError, match=match):
            ours.fit(X)
    _, ours = pair(problem, "log")
    ours.covariance_type = "bad"
    with pytest.raises(ValueError, match="covariance_type"):
        ours.fit(X)


def test_not_positive_definite_covars_raise():
    m = GMMHMM(1, n_mix=1, covariance_type="full", init_params="")
    m.startprob_, m.transmat_, m.weights_ = np.ones(1), np.ones((1, 1)), np.ones((1, 1))
    m.means_ = np.zeros((1, 1, 2))
    m.covars_ = np.array([[[[1.0, 2.0], [2.0, 1.0]]]])
    with pytest.raises(ValueError, match="positive-definite"):
        m.score(np.zeros((3, 2)))


def test_fit_from_scratch_and_sklearn_conventions(problem):
    ct, _, X = problem
    m = GMMHMM(K, n_mix=M, covariance_type=ct, n_iter=10, random_state=0)
    assert m.get_params()["covars_prior"] is None
    assert m.fit(X) is m
    assert m.weights_.shape == (K, M) and m.means_.shape == (K, M, NF) and m.n_features == NF
    shapes = {"diag": (K, M, NF), "spherical": (K, M), "full": (K, M, NF, NF), "tied": (K, NF, NF)}
    assert m.covars_.shape == shapes[ct]
    assert np.diff(list(m.monitor_.history)).min() > -1e-6
    assert m.get_params()["covars_prior"] is None
    c = clone(m)
    assert not hasattr(c, "means_") and c.get_params() == m.get_params()
    again = GMMHMM(K, n_mix=M, covariance_type=ct, n_iter=10, random_state=0).fit(X)
    assert_array_equal(again.means_, m.means_)  # seeded: reproducible


def test_initialization_shapes_like_hmmlearn(problem):
    ct, _, X = problem
    ref = H.GMMHMM(K, n_mix=M, covariance_type=ct, random_state=0)
    ref._init(X)
    ours = GMMHMM(K, n_mix=M, covariance_type=ct, random_state=0)
    ours._init(X)
    for name in ("startprob_", "transmat_", "weights_"):
        assert_allclose(getattr(ours, name), getattr(ref, name), rtol=1e-15)
    assert_allclose(ours.covars_, ref.covars_, rtol=1e-12)  # data covariance + min_covar
    assert ours.means_.shape == ref.means_.shape


def test_small_cluster_draws_its_means():
    """A k-means cluster with fewer points than n_mix draws its means (seeded)."""
    rng = np.random.RandomState(0)
    X = np.r_[rng.uniform(0, 1, (100, 2)), rng.uniform(5, 6, (5, 2))]
    a = GMMHMM(2, n_mix=10, n_iter=5, random_state=3).fit(X)
    b = GMMHMM(2, n_mix=10, n_iter=5, random_state=3).fit(X)
    assert_array_equal(a.means_, b.means_)
    assert ((a.means_ > 0) & (a.means_ < 6)).all()


def test_sample_matches_hmmlearn_stream(problem):
    ref, ours = pair(problem, "log")
    a, b = ours.sample(50, random_state=3), ref.sample(50, random_state=3)
    assert_array_equal(a[0], b[0])
    assert_array_equal(a[1], b[1])


def test_constructor_defaults_match_hmmlearn():
    import inspect

    ours = dict(inspect.signature(GMMHMM).parameters)
    ref = inspect.signature(H.GMMHMM).parameters
    extras = {name: ours.pop(name).default for name in list(ours)[-2:]}  # fastgen's extras
    assert extras == {"n_init": 1, "allow_nan": False}
    assert list(ours) == list(ref)
    assert {k: v.default for k, v in ours.items()} == {k: v.default for k, v in ref.items()}


@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
def test_large_problem_matches_hmmlearn(ct):
    """Many sequences (the lane-wise kernels), more states and components."""
    rng = np.random.RandomState(1)
    k, nm, nf = 5, 3, 4
    params = make_params(ct, rng, k, nm, nf)
    models = []
    for cls in (H.GMMHMM, GMMHMM):
        m = cls(k, n_mix=nm, covariance_type=ct, init_params="", n_iter=3, tol=-np.inf)
        for name, value in params.items():
            setattr(m, name, value.copy())
        models.append(m)
    ref, ours = models
    X, _ = ref.sample(3000, random_state=rng)
    lengths = rng.multinomial(3000 - 100, np.ones(100) / 100) + 1
    assert_array_equal(ours.predict(X, lengths), ref.predict(X, lengths))
    assert_allclose(ours.score(X, lengths), ref.score(X, lengths), rtol=1e-8)
    ref.fit(X, lengths)
    ours.fit(X, lengths)
    for name in ("transmat_", "weights_", "means_", "covars_"):
        assert_allclose(getattr(ours, name), getattr(ref, name), rtol=1e-6, err_msg=name)


@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
def test_fit_invariant_to_sequence_order(ct):
    """hmmlearn's issue-410 check (its multisequence test, which reads ``monitor_``
    before ``fit``): permuting the sequences barely changes the fit, and EM never
    lowers the likelihood."""
    rng = np.random.RandomState(7)
    seqs = [np.cumsum(rng.randn(50, 4) * 0.05, axis=0) + rng.rand(4) for _ in range(3)]
    scores = []
    for order in ([0, 1, 2], [2, 0, 1], [1, 2, 0]):
        X = np.concatenate([seqs[i] for i in order])
        m = GMMHMM(2, n_mix=2, n_iter=100, covariance_type=ct, init_params="mcw",
                   random_state=1234)  # fmt: skip
        m.startprob_ = np.full(2, 0.5)
        m.transmat_ = np.full((2, 2), 0.5)
        m.fit(X, [50, 50, 50])
        assert m.monitor_.converged
        assert np.diff(list(m.monitor_.history)).min() > -1e-6
        scores.append(m.score(X, [50, 50, 50]))
    assert_allclose(scores, np.mean(scores), rtol=5e-3)


# --------------------------------------------------------------------------- Dask


@pytest.mark.parametrize("init_params", ["", "stmcw"])
def test_dask_fit_equals_local_fit(problem, init_params):
    dask = pytest.importorskip("dask")
    db = pytest.importorskip("dask.bag")
    from fastgen import dask as fd

    ct, params, X = problem
    bounds = np.cumsum([0, *LENGTHS["ragged"]])
    seqs = [X[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    models = []
    for _ in range(2):
        m = GMMHMM(K, n_mix=M, covariance_type=ct, init_params=init_params, n_iter=6,
                   tol=-np.inf, random_state=0)  # fmt: skip
        if not init_params:
            for name, value in params.items():
                setattr(m, name, value.copy())
        models.append(m)
    local, dist = models
    local.fit(seqs)
    with dask.config.set(scheduler="sync"):
        assert fd.fit_hmm(dist, db.from_sequence(seqs, npartitions=3)) is dist
    for name in ("startprob_", "transmat_", "weights_", "means_", "covars_"):
        assert_allclose(getattr(dist, name), getattr(local, name), rtol=1e-9, err_msg=name)
    assert_allclose(list(dist.monitor_.history), list(local.monitor_.history), rtol=1e-10)


def test_docstring_example_runs():
    import doctest

    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    for test in finder.find(GMMHMM, "GMMHMM", globs={}):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted >= 8 and result.failed == 0, result
