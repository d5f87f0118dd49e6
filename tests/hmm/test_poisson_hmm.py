"""fastgen's PoissonHMM against hmmlearn's: scores, posteriors, paths, EM steps.

Every comparison sets the parameters explicitly (``init_params=""``).  Also: input
checks and the Dask fit.  hmmlearn's own ``test_poisson_hmm.py`` runs with fastgen
swapped in from ``test_hmmlearn_suite.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hmm_compare import IMPLS, LENGTHS, assert_same_em, assert_same_inference, paired
from numpy.testing import assert_allclose, assert_array_equal

from fastgen._base import clone
from fastgen.hmm import PoissonHMM
from fastgen.hmm._util import log_factorial

H = pytest.importorskip("hmmlearn.hmm")

K, NF = 3, 4


@pytest.fixture(scope="module")
def problem():
    rng = np.random.RandomState(0)
    params = {
        "startprob_": rng.dirichlet(np.ones(K)),
        "transmat_": rng.dirichlet(np.ones(K), size=K),
        "lambdas_": rng.gamma(2.0, 2.0, size=(K, NF)),
    }
    X = rng.poisson(params["lambdas_"][rng.randint(0, K, 100)])
    return params, X


def pair(problem, impl, **kw):
    """hmmlearn's and fastgen's PoissonHMM with the same explicit parameters."""
    params, _ = problem
    return paired(H.PoissonHMM, PoissonHMM, params, n_components=K, implementation=impl, **kw)


@pytest.mark.parametrize("lengths", LENGTHS.values(), ids=LENGTHS.keys())
@pytest.mark.parametrize("impl", IMPLS)
def test_inference_matches_hmmlearn(problem, impl, lengths):
    ref, ours = pair(problem, impl)
    X = problem[1]
    assert_same_inference(ours, ref, X, lengths)


@pytest.mark.parametrize("lengths", LENGTHS.values(), ids=LENGTHS.keys())
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(
    "kw",
    [{}, {"lambdas_prior": 0.7, "lambdas_weight": 2.0, "startprob_prior": 1.5,
          "transmat_prior": 1.2}, {"params": "l"}, {"params": "st"}],
    ids=["default", "priors", "lambdas-only", "chain-only"],
)  # fmt: skip
def test_em_steps_match_hmmlearn(problem, impl, lengths, kw):
    ref, ours = pair(problem, impl, n_iter=5, tol=-np.inf, **kw)
    assert_same_em(ours, ref, problem[1], lengths, ("startprob_", "transmat_", "lambdas_"))
    assert ours.monitor_.iter == 5


def test_zero_rates_and_zero_counts(problem):
    """A rate of 0 gives probability 1 to a zero count and 0 to any other (scipy's)."""
    ref, ours = pair(problem, "log")
    lam = problem[0]["lambdas_"].copy()
    lam[1, 2] = 0.0
    ref.lambdas_, ours.lambdas_ = lam, lam.copy()
    X = problem[1].copy()
    X[:, 2] = np.where(np.arange(len(X)) % 3 == 0, X[:, 2], 0)
    assert_allclose(ours.score(X), ref.score(X), rtol=1e-8)
    assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-8, atol=1e-12)
    assert_array_equal(ours.predict(X), ref.predict(X))
    frames = ours.emission_family(ours).log_likelihood(X.astype(float))
    assert np.isneginf(frames[X[:, 2] > 0, 1]).all()
    assert np.isfinite(frames[X[:, 2] == 0]).all()


def test_log_factorial_matches_lgamma():
    import math

    x = np.array([0, 1, 2, 10, 1023, 1024, 1025, 5000, 10**6, 10**12], dtype=np.float64)
    want = np.array([math.lgamma(v + 1) for v in x])
    assert_allclose(log_factorial(x), want, rtol=2e-15)
    assert_allclose(log_factorial(x[:4]), want[:4], rtol=0)


def test_empty_state_keeps_its_rates(problem):
    params, X = problem
    m = PoissonHMM(K, init_params="", n_iter=3, tol=-np.inf)
    m.startprob_ = np.array([1.0, 0.0, 0.0])
    m.transmat_ = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    m.lambdas_ = params["lambdas_"].copy()
    m.fit(X)
    assert np.isfinite(m.lambdas_).all()
    assert_array_equal(m.lambdas_[1:], params["lambdas_"][1:])
    assert_allclose(m.lambdas_[0], X.mean(axis=0))


def test_float_counts_equal_integer_counts(problem):
    _, ours = pair(problem, "log")
    X = problem[1]
    assert ours.score(X.astype(np.float32)) == ours.score(X)
    assert ours.score(X.astype(np.uint8)) == ours.score(X)


@pytest.mark.parametrize(
    "X, match",
    [
        (np.array([[1, -1, 0, 2]]), "non-negative"),
        (np.array([[1.0, 0.5, 0.0, 2.0]]), "integer counts"),
        (np.array([[1.0, np.nan, 0.0, 2.0]]), "NaN"),
        (np.array([[1.0, np.inf, 0.0, 2.0]]), "infinity"),
        (np.array([["a", "b", "c", "d"]]), "numeric|could not convert"),
        (np.ones((3, 5)), "5 features"),
    ],
)
def test_bad_counts_raise(problem, X, match):
    _, ours = pair(problem, "log")
    for call in (ours.score, ours.predict, ours.fit):
        with pytest.raises(ValueError, match=match):
            call(X)


def test_fit_from_scratch_and_sklearn_conventions(problem):
    X = problem[1]
    m = PoissonHMM(K, n_iter=20, random_state=0)
    assert m.get_params()["lambdas_prior"] == 0.0
    assert m.fit(X) is m
    assert m.lambdas_.shape == (K, NF) and m.n_features == NF
    assert np.diff(list(m.monitor_.history)).min() > -1e-6
    c = clone(m)
    assert not hasattr(c, "lambdas_") and c.get_params() == m.get_params()
    # the starting rates are hmmlearn's draw (same random stream)
    ref = H.PoissonHMM(K, n_iter=0, random_state=0)
    ref._init(X)
    ours = PoissonHMM(K, n_iter=0, random_state=0)
    ours._init(X)
    for name in ("startprob_", "transmat_", "lambdas_"):
        assert_allclose(getattr(ours, name), getattr(ref, name), rtol=1e-15)


def test_sample_matches_hmmlearn_stream(problem):
    ref, ours = pair(problem, "log")
    a, b = ours.sample(50, random_state=3), ref.sample(50, random_state=3)
    assert_array_equal(a[0], b[0])
    assert_array_equal(a[1], b[1])
    assert a[0].dtype.kind == "i"


def test_constructor_defaults_match_hmmlearn():
    import inspect

    ours = dict(inspect.signature(PoissonHMM).parameters)
    ref = inspect.signature(H.PoissonHMM).parameters
    assert list(ours)[-1] == "n_init" and ours.pop("n_init").default == 1  # fastgen's extra
    assert list(ours) == list(ref)
    assert {k: v.default for k, v in ours.items()} == {k: v.default for k, v in ref.items()}


def test_large_problem_matches_hmmlearn():
    """Many sequences (the lane-wise kernels), more states."""
    rng = np.random.RandomState(1)
    k, nf = 6, 5
    lam = rng.gamma(2.0, 3.0, size=(k, nf))
    X = rng.poisson(lam[rng.randint(0, k, 3000)])
    lengths = rng.multinomial(3000 - 100, np.ones(100) / 100) + 1
    models = []
    for cls in (H.PoissonHMM, PoissonHMM):
        m = cls(k, init_params="", n_iter=3, tol=-np.inf)
        m.startprob_ = np.full(k, 1 / k)
        m.transmat_ = rng.dirichlet(np.ones(k) * 5, size=k) if not models else models[0].transmat_
        m.lambdas_ = lam.copy()
        models.append(m)
    models[1].transmat_ = models[0].transmat_.copy()
    ref, ours = models
    assert_array_equal(ours.predict(X, lengths), ref.predict(X, lengths))
    assert_allclose(ours.score(X, lengths), ref.score(X, lengths), rtol=1e-8)
    ref.fit(X, lengths)
    ours.fit(X, lengths)
    assert_allclose(ours.lambdas_, ref.lambdas_, rtol=1e-6)
    assert_allclose(ours.transmat_, ref.transmat_, rtol=1e-6)


# --------------------------------------------------------------------------- Dask


@pytest.mark.parametrize("init_params", ["", "stl"])
def test_dask_fit_equals_local_fit(problem, init_params):
    dask = pytest.importorskip("dask")
    db = pytest.importorskip("dask.bag")
    from fastgen import dask as fd

    params, X = problem
    bounds = np.cumsum([0, *LENGTHS["ragged"]])
    seqs = [X[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    models = []
    for _ in range(2):
        m = PoissonHMM(K, init_params=init_params, n_iter=6, tol=-np.inf, random_state=0)
        if not init_params:
            for name, value in params.items():
                setattr(m, name, value.copy())
        models.append(m)
    local, dist = models
    local.fit(seqs)
    with dask.config.set(scheduler="sync"):
        assert fd.fit_hmm(dist, db.from_sequence(seqs, npartitions=3)) is dist
    for name in ("startprob_", "transmat_", "lambdas_"):
        assert_allclose(getattr(dist, name), getattr(local, name), rtol=1e-10, err_msg=name)
    assert_allclose(list(dist.monitor_.history), list(local.monitor_.history), rtol=1e-10)


def test_docstring_example_runs():
    import doctest

    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    tests = finder.find(PoissonHMM, "PoissonHMM", globs={})
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted >= 6 and result.failed == 0, result
