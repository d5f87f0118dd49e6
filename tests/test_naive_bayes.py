"""fastgen.naive_bayes against scikit-learn: attributes, predictions, errors, API."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.naive_bayes as skl_nb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import fastgen.naive_bayes as fg_nb
from fastgen._base import NotFittedError
from fastgen.naive_bayes import (
    BernoulliNB,
    CategoricalNB,
    ComplementNB,
    GaussianNB,
    MultinomialNB,
)

RTOL = 1e-10
# log-probabilities of the winning class are ~0: compare those absolutely
ATOL = 1e-12
PREDICT_METHODS = ("predict", "predict_proba", "predict_log_proba", "predict_joint_log_proba")
COUNT_NBS = ("MultinomialNB", "ComplementNB", "BernoulliNB")
ALL_NBS = (*COUNT_NBS, "CategoricalNB", "GaussianNB")


# --------------------------------------------------------------------------- helpers


def _pair(name, **params):
    return getattr(fg_nb, name)(**params), getattr(skl_nb, name)(**params)


def _fitted_attrs(est):
    return sorted(k for k in vars(est) if k.endswith("_") and not k.startswith("_"))


def _assert_close(a, b):
    if isinstance(b, list):
        assert isinstance(a, list) and len(a) == len(b)
        for u, v in zip(a, b, strict=True):
            _assert_close(u, v)
        return
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    if b.dtype.kind in "fc":
        assert a.dtype == b.dtype
        assert_allclose(a, b, rtol=RTOL, atol=ATOL)
    else:
        assert_array_equal(a, b)
        assert a.dtype == b.dtype


def assert_same_model(ours, ref, X_test=None):
    """Every fitted attribute and every predict method agrees with scikit-learn."""
    assert _fitted_attrs(ours) == _fitted_attrs(ref)
    for attr in _fitted_attrs(ref):
        _assert_close(getattr(ours, attr), getattr(ref, attr))
    if X_test is not None:
        for method in PREDICT_METHODS:
            _assert_close(getattr(ours, method)(X_test), getattr(ref, method)(X_test))


def _counts(n=40, f=15, n_classes=3, seed=0, lam=1.5):
    rng = np.random.RandomState(seed)
    X = rng.poisson(lam, size=(n, f)).astype(np.int64)
    y = rng.randint(0, n_classes, size=n)
    return X, y, rng


# --------------------------------------------------------------------------- equivalence

COUNT_PARAMS = {
    "MultinomialNB": [
        {},
        {"alpha": 0.3},
        {"alpha": 0.0},
        {"fit_prior": False},
        {"class_prior": [0.2, 0.5, 0.3]},
        {"alpha": np.linspace(0.1, 2.0, 15)},
        {"alpha": 1e-12, "force_alpha": True},
    ],
    "ComplementNB": [
        {},
        {"norm": True},
        {"alpha": 0.5, "norm": True},
        {"alpha": np.linspace(0.1, 2.0, 15)},
        {"fit_prior": False, "class_prior": [0.2, 0.5, 0.3]},
    ],
    "BernoulliNB": [
        {},
        {"binarize": None},
        {"binarize": 0.5},
        {"binarize": 1.0},
        {"binarize": 2.5, "alpha": 0.2},
        {"fit_prior": False},
        {"class_prior": [0.2, 0.5, 0.3]},
        # no per-feature alpha array: scikit-learn's BernoulliNB cannot broadcast it
        # (see test_bernoulli_alpha_array_fails_like_sklearn)
    ],
}
COUNT_CASES = [(name, p) for name, plist in COUNT_PARAMS.items() for p in plist]


def _id(case):
    name, params = case
    short = {k: ("array" if isinstance(v, np.ndarray) else v) for k, v in params.items()}
    return f"{name}-{short}"


@pytest.mark.parametrize("case", COUNT_CASES, ids=[_id(c) for c in COUNT_CASES])
@pytest.mark.parametrize("fmt", ["dense", "csr", "csc", "coo"])
@pytest.mark.parametrize("weighted", [False, True])
def test_count_models_match_sklearn(case, fmt, weighted):
    name, params = case
    X, y, rng = _counts()
    if name == "BernoulliNB" and params.get("binarize", 0.0) is None:
        X = (X > 1).astype(np.int64)
    sw = rng.rand(X.shape[0]) * 3 if weighted else None
    Xf = X if fmt == "dense" else sp.csr_matrix(X).asformat(fmt)
    ours, ref = _pair(name, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # alpha=0 -> log(0)
        ours.fit(Xf, y, sample_weight=sw)
        ref.fit(Xf, y, sample_weight=sw)
        assert_same_model(ours, ref, Xf[:25] if fmt != "coo" else sp.csr_matrix(X[:25]))


@pytest.mark.parametrize("name", COUNT_NBS)
@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_partial_fit_in_batches_matches_sklearn(name, fmt):
    X, y, rng = _counts(n=60)
    sw = rng.rand(60)
    Xf = X if fmt == "dense" else sp.csr_matrix(X)
    ours, ref = _pair(name)
    for k, sl in enumerate([slice(0, 10), slice(10, 35), slice(35, 60)]):
        classes = [0, 1, 2] if k == 0 else None
        ours.partial_fit(Xf[sl], y[sl], classes=classes, sample_weight=sw[sl])
        ref.partial_fit(Xf[sl], y[sl], classes=classes, sample_weight=sw[sl])
        assert_same_model(ours, ref, Xf)
    # and the batches add up to fitting everything at once
    full = getattr(fg_nb, name)().fit(Xf, y, sample_weight=sw)
    assert_allclose(full.feature_count_, ours.feature_count_, rtol=1e-12)


@pytest.mark.parametrize("name", ALL_NBS)
def test_partial_fit_after_fit_and_unseen_class(name):
    X, y, _ = _counts(n=30)
    if name == "GaussianNB":
        X = X.astype(float) + 0.1 * np.arange(30)[:, None]
    ours, ref = _pair(name)
    # class 3 declared but never seen in the first batch
    ours.partial_fit(X[:15], y[:15], classes=[0, 1, 2, 3])
    ref.partial_fit(X[:15], y[:15], classes=[0, 1, 2, 3])
    # CategoricalNB only knows the categories seen so far
    X_seen = np.minimum(X, X[:15].max(axis=0)) if name == "CategoricalNB" else X
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert_same_model(ours, ref, X_seen)
    ours.partial_fit(X[15:], y[15:])
    ref.partial_fit(X[15:], y[15:])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert_same_model(ours, ref, X)
    ours2, ref2 = _pair(name)
    ours2.fit(X, y).partial_fit(X[:7], y[:7], classes=[0, 1, 2])
    ref2.fit(X, y).partial_fit(X[:7], y[:7], classes=[0, 1, 2])
    assert_same_model(ours2, ref2, X)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"alpha": 0.5},
        {"min_categories": 7},
        {"min_categories": [4, 5, 6, 7, 8, 9]},
        {"fit_prior": False},
        {"class_prior": [0.3, 0.7]},
        {"alpha": 0.0, "force_alpha": True},
    ],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_categorical_matches_sklearn(params, weighted):
    rng = np.random.RandomState(3)
    X = rng.randint(0, 5, size=(50, 6))
    y = rng.choice(["spam", "ham"], size=50)
    sw = rng.rand(50) if weighted else None
    ours, ref = _pair("CategoricalNB", **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ours.fit(X, y, sample_weight=sw)
        ref.fit(X, y, sample_weight=sw)
        assert_same_model(ours, ref, X)
        # float input is truncated to int exactly like scikit-learn
        assert_same_model(ours, ref, X.astype(float) + 0.25)


def test_categorical_partial_fit_growing_categories():
    rng = np.random.RandomState(4)
    ours, ref = _pair("CategoricalNB", min_categories=2)
    for k, high in enumerate([2, 6, 3]):
        X = rng.randint(0, high, size=(20, 4))
        y = rng.randint(0, 3, size=20)
        sw = rng.rand(20)
        classes = [0, 1, 2] if k == 0 else None
        ours.partial_fit(X, y, classes=classes, sample_weight=sw)
        ref.partial_fit(X, y, classes=classes, sample_weight=sw)
        assert_same_model(ours, ref, rng.randint(0, 2, size=(10, 4)))


GAUSSIAN_PARAMS = [
    {},
    {"var_smoothing": 1e-3},
    {"var_smoothing": 0.0},
    {"priors": [0.1, 0.6, 0.3]},
]


# var_smoothing=0 with a one-sample class gives zero variances (warns in both libraries)
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("params", GAUSSIAN_PARAMS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
@pytest.mark.parametrize("weighted", [False, True])
def test_gaussian_matches_sklearn(params, dtype, weighted):
    rng = np.random.RandomState(5)
    X = (rng.randn(60, 5) * [1, 10, 0.1, 3, 100] + 2).astype(dtype)
    if dtype == np.int64:
        X = (rng.randn(60, 5) * 10).astype(dtype)
    y = rng.randint(0, 3, size=60)
    sw = rng.rand(60) if weighted else None
    ours, ref = _pair("GaussianNB", **params)
    ours.fit(X, y, sample_weight=sw)
    ref.fit(X, y, sample_weight=sw)
    assert_same_model(ours, ref, X)
    # incremental fit in several batches
    ours, ref = _pair("GaussianNB", **params)
    for k, sl in enumerate([slice(0, 7), slice(7, 40), slice(40, 60)]):
        classes = [0, 1, 2] if k == 0 else None
        w = None if sw is None else sw[sl]
        ours.partial_fit(X[sl], y[sl], classes=classes, sample_weight=w)
        ref.partial_fit(X[sl], y[sl], classes=classes, sample_weight=w)
        assert_same_model(ours, ref, X)


def test_gaussian_fortran_input_and_string_labels():
    rng = np.random.RandomState(6)
    X = np.asfortranarray(rng.randn(30, 4))
    y = rng.choice(np.array(["a", "b", "c"], dtype=object), size=30)
    ours, ref = _pair("GaussianNB")
    assert_same_model(ours.fit(X, y), ref.fit(X, y), X)
    assert ours.predict(X).dtype == ref.predict(X).dtype


@pytest.mark.parametrize("name", ALL_NBS)
@pytest.mark.parametrize("labels", ["int", "str", "float", "bool", "single"])
def test_label_types_match_sklearn(name, labels):
    X, y, _ = _counts(n=20)
    y = {
        "int": y * 3 - 1,
        "str": np.array(["x", "y", "z"])[y],
        "float": y.astype(float) * 2 - 1.0,
        "bool": y == 1,
        "single": np.full(20, 7),
    }[labels]
    ours, ref = _pair(name)
    ours.fit(X, y)
    ref.fit(X, y)
    assert_same_model(ours, ref, X)
    assert ours.score(X, y) == ref.score(X, y)


@pytest.mark.parametrize("name", COUNT_NBS)
def test_float32_and_bool_inputs(name):
    X, y, _ = _counts()
    for Xc in (X.astype(np.float32), X > 1, sp.csr_matrix(X.astype(np.float32))):
        ours, ref = _pair(name)
        assert_same_model(ours.fit(Xc, y), ref.fit(Xc, y), Xc)


def test_integer_and_list_sample_weight():
    X, y, _ = _counts()
    for sw in (3, 2.5, list(range(1, 41)), np.arange(1, 41, dtype=np.float32)):
        ours, ref = _pair("MultinomialNB")
        assert_same_model(ours.fit(X, y, sample_weight=sw), ref.fit(X, y, sample_weight=sw), X)


# --------------------------------------------------------------------------- hypothesis


@st.composite
def count_data(draw):
    n = draw(st.integers(1, 12))
    f = draw(st.integers(1, 6))
    flat = draw(st.lists(st.integers(0, 6), min_size=n * f, max_size=n * f))
    labels = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    weights = draw(
        st.none() | st.lists(st.floats(0.1, 5.0, allow_nan=False), min_size=n, max_size=n)
    )
    return np.array(flat, dtype=np.int64).reshape(n, f), np.array(labels), weights


HYP = settings(
    max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@HYP
@given(
    data=count_data(),
    name=st.sampled_from(("MultinomialNB", "ComplementNB", "BernoulliNB", "CategoricalNB")),
    alpha=st.sampled_from([1.0, 0.5, 1e-3]),
    sparse=st.booleans(),
)
def test_hypothesis_discrete_equals_sklearn(data, name, alpha, sparse):
    X, y, sw = data
    if sparse and name != "CategoricalNB":
        X = sp.csr_matrix(X)
    ours, ref = _pair(name, alpha=alpha)
    ours.fit(X, y, sample_weight=sw)
    ref.fit(X, y, sample_weight=sw)
    assert_same_model(ours, ref, X)


@HYP
@given(
    data=count_data(),
    var_smoothing=st.sampled_from([1e-9, 1e-2]),
    shift=st.floats(-10, 10),
)
def test_hypothesis_gaussian_equals_sklearn(data, var_smoothing, shift):
    X, y, sw = data
    X = X.astype(float) * 0.7 + shift
    ours, ref = _pair("GaussianNB", var_smoothing=var_smoothing)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # zero variance -> divide by 0
        ours.fit(X, y, sample_weight=sw)
        ref.fit(X, y, sample_weight=sw)
        assert_same_model(ours, ref, X)


# --------------------------------------------------------------------------- fused contract


def _binarized(X, threshold):
    """What BernoulliNB feeds its product: values > threshold become 1, the rest dropped."""
    if threshold is None:
        return X
    X = X.copy()
    keep = X.data > threshold
    X.data[keep] = 1
    X.data[~keep] = 0
    X.eliminate_zeros()
    return X


LINEAR_CASES = [
    ("MultinomialNB", {}),
    ("MultinomialNB", {"alpha": 0.1, "fit_prior": False}),
    ("ComplementNB", {}),
    ("ComplementNB", {"norm": True}),
    ("BernoulliNB", {}),
    ("BernoulliNB", {"binarize": 0.5, "alpha": 0.3}),
    ("BernoulliNB", {"binarize": 1.0}),
    ("BernoulliNB", {"binarize": 2.0}),
    ("BernoulliNB", {"binarize": None}),
]


@pytest.mark.parametrize("case", LINEAR_CASES, ids=[_id(c) for c in LINEAR_CASES])
@pytest.mark.parametrize("n_classes", [1, 2, 4])
def test_linear_form_contract_bitwise(case, n_classes):
    name, params = case
    X, y, _ = _counts(n=80, f=30, n_classes=n_classes, seed=7)
    X = sp.csr_matrix(X, dtype=np.int64)
    est = getattr(fg_nb, name)(**params).fit(X, y)
    form = fg_nb.linear_form(est)
    W = form.weights
    assert W.dtype == np.float64 and W.flags.c_contiguous
    assert W.shape == (X.shape[1], len(est.classes_)) and form.n_features == X.shape[1]
    assert form.binarize == (params.get("binarize", 0.0) if name == "BernoulliNB" else None)
    with np.errstate(divide="ignore", invalid="ignore"):  # BernoulliNB(binarize=None) on counts
        jll = form.joint_log_likelihood(_binarized(X, form.binarize) @ W)
        assert_array_equal(jll, est.predict_joint_log_proba(X))
        assert_array_equal(form.predict(jll), est.predict(X))
        assert_array_equal(form.predict_proba(jll), est.predict_proba(X))
        assert_array_equal(form.predict_log_proba(jll), est.predict_log_proba(X))
    if params.get("binarize", 0.0) is not None:  # and it is scikit-learn's joint log likelihood
        ref = getattr(skl_nb, name)(**params).fit(X, y)
        assert_allclose(jll, ref.predict_joint_log_proba(X), rtol=RTOL, atol=ATOL)


def test_linear_form_contract_dense():
    X, y, _ = _counts(n=50, f=20, seed=8)
    for est in (MultinomialNB(), ComplementNB(norm=True), BernoulliNB(binarize=0.0)):
        est.fit(X, y)
        form = fg_nb.linear_form(est)
        X_used = X if form.binarize is None else (X > form.binarize).astype(np.int64)
        assert np.array_equal(form.joint_log_likelihood(X_used @ form.weights),
                              est.predict_joint_log_proba(X))


@pytest.mark.parametrize("est", [CategoricalNB(), GaussianNB()])
def test_no_linear_form(est):
    X, y, _ = _counts(n=20)
    assert fg_nb.linear_form(est.fit(X, y)) is None
    assert fg_nb.linear_form(skl_nb.MultinomialNB().fit(X, y)) is None


def test_linear_form_requires_fit():
    with pytest.raises(NotFittedError):
        fg_nb.linear_form(MultinomialNB())


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("name", ["MultinomialNB", "ComplementNB", "CategoricalNB"])
@pytest.mark.parametrize("sparse", [False, True])
def test_negative_values_rejected(name, sparse):
    if sparse and name == "CategoricalNB":
        pytest.skip("CategoricalNB is dense only")
    X, y, _ = _counts(n=10)
    X[3, 2] = -1
    Xf = sp.csr_matrix(X) if sparse else X
    with pytest.raises(ValueError, match=rf"Negative values in data passed to {name} \(input X\)"):
        getattr(fg_nb, name)().fit(Xf, y)
    with pytest.raises(ValueError, match="Negative values in data passed to"):
        getattr(fg_nb, name)().partial_fit(Xf, y, classes=[0, 1, 2])


@pytest.mark.parametrize("name", ALL_NBS)
def test_common_input_errors(name):
    X, y, _ = _counts(n=10)
    est = getattr(fg_nb, name)()
    with pytest.raises(NotFittedError, match="is not fitted yet"):
        est.predict(X)
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array instead"):
        est.fit(X[0], y)
    with pytest.raises(ValueError, match=r"Found array with 0 sample\(s\) \(shape=\(0, 15\)\)"):
        est.fit(X[:0], y[:0])
    with pytest.raises(ValueError, match=r"0 feature\(s\) \(shape=\(10, 0\)\) while a minimum"):
        est.fit(X[:, :0], y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples: \\[10, 9\\]"):
        est.fit(X, y[:-1])
    with pytest.raises(ValueError, match="requires y to be passed"):
        est.fit(X, None)
    with pytest.raises(ValueError, match="y should be a 1d array"):
        est.fit(X, np.ones((10, 2)))
    with pytest.raises(ValueError, match="Unknown label type"):
        est.fit(X, np.linspace(0, 1, 10))
    for bad, msg in ((np.nan, "Input X contains NaN"), (np.inf, "Input X contains infinity")):
        Xb = X.astype(float)
        Xb[1, 1] = bad
        with pytest.raises(ValueError, match=msg):
            getattr(fg_nb, name)().fit(Xb, y)
    with pytest.raises(ValueError, match="Input y contains NaN"):
        est.fit(X, np.where(np.arange(10) == 3, np.nan, 1.0))
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(9,\), expected \(10,\)!"):
        est.fit(X, y, sample_weight=np.ones(9))
    with pytest.raises(ValueError, match="at least one non-zero"):
        est.fit(X, y, sample_weight=np.zeros(10))
    est.fit(X, y)
    with pytest.raises(
        ValueError, match=f"X has 14 features, but {name} is expecting 15 features as input."
    ):
        est.predict(X[:, 1:])
    with pytest.raises(ValueError, match="X has 14 features"):
        est.partial_fit(X[:, 1:], y)
    Xb = X.astype(float)
    Xb[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        est.predict_proba(Xb)
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array instead"):
        est.predict(X[0])


@pytest.mark.parametrize("name", ALL_NBS)
def test_partial_fit_class_errors(name):
    X, y, _ = _counts(n=10)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        getattr(fg_nb, name)().partial_fit(X, y)
    est = getattr(fg_nb, name)().partial_fit(X, y, classes=[0, 1, 2])
    # scikit-learn's discrete NBs silently drop unknown labels here; fastgen refuses them
    with pytest.raises(ValueError, match=r"target label\(s\) \[5\] in y do not exist"):
        est.partial_fit(X, np.where(y == 0, 5, y))
    with pytest.raises(ValueError, match="is not the same as on last call to partial_fit"):
        est.partial_fit(X, y, classes=[0, 1, 3])


@pytest.mark.parametrize("name", ["MultinomialNB", "ComplementNB", "BernoulliNB", "CategoricalNB"])
def test_class_prior_length(name):
    X, y, _ = _counts(n=10)
    with pytest.raises(ValueError, match="Number of priors must match number of classes."):
        getattr(fg_nb, name)(class_prior=[0.5, 0.5]).fit(X, y)


def test_gaussian_priors_errors():
    X, y, _ = _counts(n=10)
    with pytest.raises(ValueError, match="Number of priors must match number of classes."):
        GaussianNB(priors=[0.5, 0.5]).fit(X, y)
    with pytest.raises(ValueError, match="The sum of the priors should be 1."):
        GaussianNB(priors=[0.5, 0.5, 0.5]).fit(X, y)
    with pytest.raises(ValueError, match="Priors must be non-negative."):
        GaussianNB(priors=[-0.5, 1.0, 0.5]).fit(X, y)


@pytest.mark.parametrize("name", ["MultinomialNB", "ComplementNB", "BernoulliNB", "CategoricalNB"])
def test_small_alpha_warns_and_clips_like_sklearn(name):
    X, y, _ = _counts(n=20)
    ours, ref = _pair(name, alpha=0.0, force_alpha=False)
    with pytest.warns(UserWarning, match="alpha too small will result in numeric errors"):
        ours.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.fit(X, y)
    assert_same_model(ours, ref, X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        getattr(fg_nb, name)(alpha=1e-3, force_alpha=False).fit(X, y)


@pytest.mark.parametrize("name", COUNT_NBS)
def test_alpha_array_errors(name):
    X, y, _ = _counts(n=10)
    with pytest.raises(ValueError, match="it should contains `n_features`. Got 3 elements"):
        getattr(fg_nb, name)(alpha=[1.0, 1.0, 1.0]).fit(X, y)
    with pytest.raises(ValueError, match="All values in alpha must be greater than 0."):
        getattr(fg_nb, name)(alpha=-np.ones(15)).fit(X, y)


def test_bernoulli_alpha_array_fails_like_sklearn():
    # class_count_ + 2 * alpha does not broadcast for a per-feature alpha in either
    X, y, _ = _counts(n=10)
    for module in (fg_nb, skl_nb):
        with pytest.raises(ValueError, match="could not be broadcast"):
            module.BernoulliNB(alpha=np.ones(15)).fit(X, y)


@pytest.mark.parametrize(
    "est, match",
    [
        (MultinomialNB(alpha=-1.0), "'alpha' parameter of MultinomialNB"),
        (CategoricalNB(alpha=[1.0, 2.0]), "'alpha' parameter of CategoricalNB"),
        (BernoulliNB(binarize=-0.5), "'binarize' parameter"),
        (ComplementNB(norm="yes"), "'norm' parameter"),
        (MultinomialNB(fit_prior=1), "'fit_prior' parameter"),
        (GaussianNB(var_smoothing=-1.0), "'var_smoothing' parameter"),
        (CategoricalNB(min_categories=0), "'min_categories' parameter"),
    ],
)
def test_invalid_params(est, match):
    X, y, _ = _counts(n=10)
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)


NON_FINITE = [np.inf, np.float32(np.inf), -np.inf, np.nan]


@pytest.mark.parametrize("value", NON_FINITE, ids=repr)
@pytest.mark.parametrize(
    "name, param",
    [
        *[(name, "alpha") for name in (*COUNT_NBS, "CategoricalNB")],
        ("BernoulliNB", "binarize"),
        ("GaussianNB", "var_smoothing"),
    ],
)
def test_non_finite_parameters_rejected_like_sklearn(name, param, value):
    # alpha=inf used to be accepted (NaN probabilities); scikit-learn refuses it
    X, y, _ = _counts(n=10)
    ours, ref = _pair(name, **{param: value})
    with pytest.raises(ValueError) as sk_err:
        ref.fit(X, y)
    with pytest.raises(ValueError) as fg_err:
        ours.fit(X, y)
    assert str(fg_err.value) == str(sk_err.value)
    assert isinstance(fg_err.value, TypeError)  # InvalidParameterError, as scikit-learn's
    with pytest.raises(ValueError, match=f"'{param}' parameter of {name}"):
        ours._validate_params()  # what loading a model file runs


@pytest.mark.parametrize("name", COUNT_NBS)
@pytest.mark.parametrize(
    "alpha, match",
    [
        ([1.0, np.inf], "All values in alpha must be finite."),
        ([np.nan, 1.0], "All values in alpha must be finite."),
        ([1.0, -1.0], "All values in alpha must be greater than 0."),
    ],
)
def test_alpha_array_values_checked_by_validate_params(name, alpha, match):
    # scikit-learn fits a non-finite per-feature alpha into NaN probabilities; fastgen
    # refuses it, and checks the values before any data (a loaded model file's too)
    alpha = np.resize(alpha, 15)
    X, y, _ = _counts(n=10)
    with pytest.raises(ValueError, match=match):
        getattr(fg_nb, name)(alpha=alpha)._validate_params()
    with pytest.raises(ValueError, match=match):
        getattr(fg_nb, name)(alpha=alpha).fit(X, y)
    ok = getattr(fg_nb, name)(alpha=np.resize([1.0, 0.5], 15))
    ok._validate_params()


def test_min_categories_errors():
    X, y, _ = _counts(n=10)
    with pytest.raises(ValueError, match="'min_categories' should have integral type"):
        CategoricalNB(min_categories=[2.0] * 15).fit(X, y)
    with pytest.raises(ValueError, match=r"'min_categories' should have shape \(15,\)"):
        CategoricalNB(min_categories=[[3] * 15]).fit(X, y)


@pytest.mark.parametrize("est", [CategoricalNB(), GaussianNB()])
def test_dense_only_models_reject_sparse(est):
    X, y, _ = _counts(n=10)
    with pytest.raises(TypeError, match="Sparse data was passed for"):
        est.fit(sp.csr_matrix(X), y)


def test_string_and_complex_X_rejected():
    y = np.array([0, 1])
    with pytest.raises(ValueError, match="dtype='numeric' is not compatible"):
        MultinomialNB().fit(np.array([["a", "b"], ["c", "d"]]), y)
    with pytest.raises(ValueError, match="Complex data not supported"):
        GaussianNB().fit(np.array([[1 + 1j, 2], [3, 4]]), y)


# --------------------------------------------------------------------------- API


@pytest.mark.parametrize("name", ALL_NBS)
def test_clone_params_pickle(name):
    X, y, _ = _counts(n=30)
    est = getattr(fg_nb, name)()
    ref = getattr(skl_nb, name)()
    assert est.get_params() == ref.get_params()
    new = clone(est)
    assert new is not est and new.get_params() == est.get_params()
    key = {"GaussianNB": "var_smoothing"}.get(name, "alpha")
    assert est.set_params(**{key: 0.5}) is est and est.get_params()[key] == 0.5
    est.fit(X, y)
    assert not hasattr(clone(est), "classes_")
    restored = pickle.loads(pickle.dumps(est))
    for method in PREDICT_METHODS:
        assert_array_equal(getattr(restored, method)(X), getattr(est, method)(X))


def test_repr_shows_changed_params():
    assert repr(MultinomialNB()) == "MultinomialNB()"
    assert repr(ComplementNB(norm=True, alpha=0.5)) == "ComplementNB(alpha=0.5, norm=True)"


def test_text_pipeline_matches_sklearn():
    docs = [
        "the cat sat on the mat",
        "dogs and cats",
        "stock prices fell",
        "the market rallied",
        "a dog barked",
        "bonds and stocks",
        "kittens purr",
        "investors sold shares",
    ] * 3
    y = np.array([0, 0, 1, 1, 0, 1, 0, 1] * 3)
    for name in COUNT_NBS:
        ours = make_pipeline(CountVectorizer(), getattr(fg_nb, name)()).fit(docs, y)
        ref = make_pipeline(CountVectorizer(), getattr(skl_nb, name)()).fit(docs, y)
        test = ["the cat and the stock", "market dogs"]
        assert_array_equal(ours.predict(test), ref.predict(test))
        assert_allclose(ours.predict_proba(test), ref.predict_proba(test), rtol=RTOL)


def test_gaussian_in_pipeline_and_grid_search():
    rng = np.random.RandomState(9)
    X = rng.randn(90, 4) + np.repeat(np.eye(3, 4) * 2, 30, axis=0)
    y = np.repeat([0, 1, 2], 30)
    grid = {"nb__var_smoothing": [1e-9, 1e-1, 10.0]}
    results = []
    for module in (fg_nb, skl_nb):
        pipe = Pipeline([("scale", StandardScaler()), ("nb", module.GaussianNB())])
        search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
        results.append((search.best_params_, search.cv_results_["mean_test_score"]))
    assert results[0][0] == results[1][0]
    assert_allclose(results[0][1], results[1][1])


def test_grid_search_alpha_multinomial():
    X, y, _ = _counts(n=60, seed=10)
    grid = {"alpha": [0.01, 0.1, 1.0, 10.0], "fit_prior": [True, False]}
    ours = GridSearchCV(MultinomialNB(), grid, cv=3).fit(X, y)
    ref = GridSearchCV(skl_nb.MultinomialNB(), grid, cv=3).fit(X, y)
    assert ours.best_params_ == ref.best_params_
    assert_allclose(ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"])
    assert isinstance(ours.best_estimator_, MultinomialNB)


def test_dataframe_feature_names():
    pd = pytest.importorskip("pandas")
    X, y, _ = _counts(n=20, f=3)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    est = MultinomialNB().fit(df, y)
    assert_array_equal(est.feature_names_in_, ["a", "b", "c"])
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        est.predict(df[["c", "b", "a"]])
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        est.predict(X)


# --------------------------------------------------------------------------- sklearn checks

with warnings.catch_warnings():
    # collection warns that fastgen estimators do not inherit sklearn.base.BaseEstimator
    warnings.filterwarnings("ignore", message=".*does not inherit from `sklearn")
    _sklearn_checks = parametrize_with_checks(
        [MultinomialNB(), ComplementNB(), BernoulliNB(), CategoricalNB(), GaussianNB()],
    )


@_sklearn_checks
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not inherit from `sklearn")
        check(estimator)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_logsumexp_rows_is_scipys_bit_for_bit(dtype):
    """The normaliser behind predict_(log_)proba equals SciPy's logsumexp (which
    scikit-learn calls) exactly, also on rows with infinities, ties and NaN."""
    from scipy.special import logsumexp

    rng = np.random.default_rng(0)
    a = (rng.normal(size=(300, 20)) * 30).astype(dtype)
    a[0] = -np.inf
    a[1, 3] = np.inf
    a[2, 5] = np.nan
    a[3] = a[3, 0]
    a[4, :3] = a[4].max() + 1
    a[5, 2] = -np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got, want = fg_nb._logsumexp_rows(a), logsumexp(a, axis=1)
    assert got.dtype == want.dtype
    assert_array_equal(got, want)
