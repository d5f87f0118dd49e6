"""fastgen.text.TfidfTransformer / TfidfVectorizer against scikit-learn.

float64 results are compared bit for bit (the kernel weighs in scikit-learn's order of
operations); float32 to 1e-6. Sparse structure, dtypes, vocabulary and ``idf_`` must be
identical.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.feature_extraction.text as skt
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastgen._base import NotFittedError
from fastgen.naive_bayes import ComplementNB, MultinomialNB
from fastgen.text import CountVectorizer, TfidfTransformer, TfidfVectorizer


def _corpus(n_docs: int = 400, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(300)] + ["été", "Ωmega", "東京", "x", "Ab", "AB"]
    p = 1.0 / np.arange(1, len(words) + 1)
    p /= p.sum()
    docs = [" ".join(rng.choice(words, rng.integers(0, 40), p=p)) for _ in range(n_docs)]
    docs[3] = ""  # an empty document: an all-zero row
    docs[7] = "x . , !"  # no token of two characters
    return docs


DOCS = _corpus()


def assert_same_csr(got, want, dtype=np.float64):
    assert isinstance(got, sp.csr_matrix)
    assert got.shape == want.shape
    assert got.dtype == want.dtype
    assert got.indices.dtype == want.indices.dtype
    np.testing.assert_array_equal(got.indptr, want.indptr)
    np.testing.assert_array_equal(got.indices, want.indices)
    if np.dtype(dtype) == np.float64:
        np.testing.assert_array_equal(got.data, want.data)
    else:
        np.testing.assert_allclose(got.data, want.data, rtol=1e-6, atol=1e-7)


VECTORIZER_PARAMS = [
    {},
    {"norm": "l1"},
    {"norm": None},
    {"sublinear_tf": True},
    {"use_idf": False},
    {"smooth_idf": False, "min_df": 1},
    {"binary": True},
    {"binary": True, "use_idf": False, "norm": None},
    {"dtype": np.float32},
    {"dtype": np.float32, "sublinear_tf": True, "norm": "l1", "ngram_range": (1, 2)},
    {"max_df": 0.5, "min_df": 2},
    {"max_features": 40},
    {"analyzer": "char_wb", "ngram_range": (2, 4)},
    {"analyzer": "char", "ngram_range": (1, 3), "lowercase": False},
    {"stop_words": ["w0", "w1"]},
    {"token_pattern": r"(?u)\b\w+\b"},  # a pattern the kernel does
    {"token_pattern": r"w\d+"},  # a pattern only Python does
    {"vocabulary": [f"w{i}" for i in range(50)] + ["東京", "absent"]},
]


@pytest.mark.parametrize("params", VECTORIZER_PARAMS, ids=str)
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_vectorizer_matches_sklearn(params, n_jobs):
    dtype = params.get("dtype", np.float64)
    want = skt.TfidfVectorizer(**params)
    got = TfidfVectorizer(**params, n_jobs=n_jobs)
    assert_same_csr(got.fit_transform(DOCS), want.fit_transform(DOCS), dtype)
    assert got.vocabulary_ == want.vocabulary_
    if want.use_idf:
        assert got.idf_.dtype == want.idf_.dtype
        np.testing.assert_array_equal(got.idf_, want.idf_)
    test_docs = _corpus(120, seed=1)
    assert_same_csr(got.transform(test_docs), want.transform(test_docs), dtype)
    np.testing.assert_array_equal(got.get_feature_names_out(), want.get_feature_names_out())
    # fit then transform equals fit_transform
    refit = TfidfVectorizer(**params, n_jobs=n_jobs).fit(DOCS)
    assert_same_csr(refit.transform(DOCS), want.transform(DOCS), dtype)


PLACED = _corpus(1500, seed=3)


@pytest.mark.parametrize("params", VECTORIZER_PARAMS, ids=str)
def test_fit_transform_from_several_chunks_matches_sklearn(params):
    # 1,500 documents on 3 threads: three chunks learn their own terms, whose
    # counts are then relabelled and placed into one matrix
    dtype = params.get("dtype", np.float64)
    got = TfidfVectorizer(**params, n_jobs=3)
    want = skt.TfidfVectorizer(**params)
    assert_same_csr(got.fit_transform(PLACED), want.fit_transform(PLACED), dtype)
    assert got.vocabulary_ == want.vocabulary_
    if want.use_idf:
        np.testing.assert_array_equal(got.idf_, want.idf_)
    test_docs = _corpus(120, seed=1)
    assert_same_csr(got.transform(test_docs), want.transform(test_docs), dtype)


def test_vectorizer_threads_do_not_change_the_result():
    docs = _corpus(3000, seed=2)
    one = TfidfVectorizer(sublinear_tf=True).fit(docs)
    two = TfidfVectorizer(sublinear_tf=True, n_jobs=2).fit(docs)
    a, b = one.transform(docs), two.transform(docs)
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.indices, b.indices)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_non_float_dtype_warns_and_gives_float64(dtype):
    want = skt.TfidfVectorizer(dtype=dtype)
    got = TfidfVectorizer(dtype=dtype)
    with pytest.warns(UserWarning, match="'dtype' should be used"):
        Xw = want.fit_transform(DOCS)
    with pytest.warns(UserWarning, match="'dtype' should be used"):
        Xg = got.fit_transform(DOCS)
    # scikit-learn converts the counts with scipy's astype, which sorts every row
    assert_same_csr(Xg, Xw)
    assert_same_csr(got.transform(DOCS[:30]), want.transform(DOCS[:30]))


def test_float16_is_refused_like_scikit_learn():
    for cls in (skt.TfidfVectorizer, TfidfVectorizer):
        with pytest.raises(ValueError, match="float16"):
            cls(dtype=np.float16).fit_transform(DOCS)


def test_fitted_weighting_is_kept_until_the_next_fit():
    vec = TfidfVectorizer(norm="l2").fit(DOCS)
    before = vec.transform(DOCS[:50])
    vec.norm, vec.sublinear_tf = "l1", True
    assert_same_csr(vec.transform(DOCS[:50]), before)
    vec.fit(DOCS)
    want = skt.TfidfVectorizer(norm="l1", sublinear_tf=True).fit(DOCS)
    assert_same_csr(vec.transform(DOCS[:50]), want.transform(DOCS[:50]))


def test_idf_setter_and_errors():
    fitted = TfidfVectorizer().fit(DOCS)
    copy = TfidfVectorizer(vocabulary=fitted.vocabulary_)
    copy.idf_ = fitted.idf_
    assert_same_csr(copy.transform(DOCS), fitted.transform(DOCS))
    with pytest.raises(ValueError, match="must be equal to vocabulary size"):
        TfidfVectorizer(vocabulary=fitted.vocabulary_).idf_ = fitted.idf_[:-1]
    with pytest.raises(ValueError, match="user_idf=False"):
        TfidfVectorizer(use_idf=False).idf_ = fitted.idf_
    with pytest.raises(NotFittedError, match="not fitted"):
        TfidfVectorizer().transform(DOCS)
    with pytest.raises(NotFittedError):
        TfidfVectorizer().idf_  # noqa: B018
    with pytest.raises(ValueError, match="norm"):
        TfidfVectorizer(norm="l3").fit(DOCS)
    with pytest.raises(ValueError, match="sublinear_tf"):
        TfidfVectorizer(sublinear_tf="yes").fit(DOCS)


# --------------------------------------------------------------------------- transformer


def _counts(seed: int, dtype, shape=(60, 40), density=0.2):
    rng = np.random.default_rng(seed)
    X = sp.random(*shape, density=density, format="csr", random_state=seed,
                  data_rvs=lambda n: rng.integers(1, 9, n))
    return X.astype(dtype)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("fmt", ["csr", "csc", "dense", "csr_array"])
@pytest.mark.parametrize("params", [{}, {"norm": "l1"}, {"norm": None, "sublinear_tf": True},
                                    {"use_idf": False}, {"smooth_idf": False}], ids=str)
def test_transformer_matches_sklearn(dtype, fmt, params):
    X = _counts(3, dtype)
    X[0] = 0  # an empty row
    X.eliminate_zeros()
    Xf = {"csr": X, "csc": X.tocsc(), "dense": X.toarray(), "csr_array": sp.csr_array(X)}[fmt]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # idf of an unseen term, unsmoothed
        want = skt.TfidfTransformer(**params).fit(Xf)
        got = TfidfTransformer(**params).fit(Xf)
    if want.use_idf:
        assert got.idf_.dtype == want.idf_.dtype
        np.testing.assert_array_equal(got.idf_, want.idf_)
    else:
        assert not hasattr(got, "idf_")
    W, G = want.transform(Xf), got.transform(Xf)
    assert sp.issparse(G) and G.format == "csr"
    out_dtype = np.float32 if np.dtype(dtype) == np.float32 else np.float64
    assert G.dtype == W.dtype == out_dtype
    if out_dtype == np.float64:
        np.testing.assert_array_equal(G.toarray(), W.toarray())
    else:
        np.testing.assert_allclose(G.toarray(), W.toarray(), rtol=1e-6, atol=1e-7)


def test_transformer_copy_semantics():
    X = _counts(4, np.float64)
    original = X.copy()
    tr = TfidfTransformer().fit(X)
    out = tr.transform(X, copy=True)
    assert out is not X
    np.testing.assert_array_equal(X.data, original.data)
    out2 = tr.transform(X, copy=False)
    assert out2 is X
    np.testing.assert_array_equal(out2.toarray(), out.toarray())
    # integer counts cannot be weighed in place: a float copy, the input untouched
    Xi = _counts(4, np.int64)
    before = Xi.data.copy()
    tr.transform(Xi, copy=False)
    np.testing.assert_array_equal(Xi.data, before)


def test_transformer_threads_split_rows_identically():
    X = _counts(5, np.float64, shape=(3000, 500), density=0.3)
    one = TfidfTransformer(sublinear_tf=True).fit_transform(X)
    two = TfidfTransformer(sublinear_tf=True, n_jobs=2).fit_transform(X)
    np.testing.assert_array_equal(one.data, two.data)


def test_transformer_bad_input():
    tr = TfidfTransformer().fit(_counts(0, np.float64))
    with pytest.raises(ValueError, match="features"):
        tr.transform(_counts(0, np.float64, shape=(5, 41)))
    with pytest.raises(ValueError, match="NaN|infinity"):
        TfidfTransformer().fit(np.array([[1.0, np.nan]]))
    with pytest.raises(NotFittedError):
        TfidfTransformer().transform(_counts(0, np.float64))
    X = _counts(0, np.float64)
    X.data[0] = -1.0
    with pytest.raises(ValueError, match="sublinear_tf"):
        TfidfTransformer(sublinear_tf=True).fit(X).transform(X)
    with pytest.raises(ValueError, match="norm"):
        TfidfTransformer(norm="max").fit(X)
    bad = TfidfTransformer().fit(_counts(0, np.float64))
    bad.idf_ = bad.idf_[:-3]
    with pytest.raises(ValueError, match="idf_ has shape"):
        bad.transform(_counts(0, np.float64))


def test_transformer_feature_names_out():
    tr = TfidfTransformer().fit([[1, 2, 0], [0, 1, 1]])
    np.testing.assert_array_equal(tr.get_feature_names_out(), ["x0", "x1", "x2"])
    np.testing.assert_array_equal(tr.get_feature_names_out(["a", "b", "c"]), ["a", "b", "c"])
    with pytest.raises(ValueError, match="length"):
        tr.get_feature_names_out(["a"])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 6), min_size=5, max_size=5), min_size=1, max_size=12),
    st.sampled_from(["l1", "l2", None]),
    st.booleans(),
    st.booleans(),
)
def test_transformer_property(rows, norm, smooth, use_idf):
    X = sp.csr_matrix(np.array(rows, dtype=np.float64))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = skt.TfidfTransformer(norm=norm, smooth_idf=smooth, use_idf=use_idf).fit_transform(X)
        got = TfidfTransformer(norm=norm, smooth_idf=smooth, use_idf=use_idf).fit_transform(X)
    np.testing.assert_array_equal(got.toarray(), want.toarray())


# --------------------------------------------------------------------------- conventions


def test_clone_pipeline_and_grid_search():
    docs = _corpus(200, seed=5)
    y = np.array([("w1" in d.split()) for d in docs], dtype=int)
    pipe = Pipeline([("tfidf", TfidfVectorizer()), ("nb", ComplementNB())])
    grid = GridSearchCV(pipe, {"tfidf__norm": ["l1", "l2"], "tfidf__sublinear_tf": [False, True]},
                        cv=3).fit(docs, y)
    assert set(grid.best_params_) == {"tfidf__norm", "tfidf__sublinear_tf"}
    vec = TfidfVectorizer(norm="l1", n_jobs=2)
    twin = clone(vec)
    assert twin.get_params() == vec.get_params()
    assert not hasattr(twin, "vocabulary_")
    two_step = Pipeline([("counts", CountVectorizer()), ("tfidf", TfidfTransformer()),
                         ("nb", MultinomialNB())]).fit(docs, y)
    one_step = Pipeline([("tfidf", TfidfVectorizer()), ("nb", MultinomialNB())]).fit(docs, y)
    # the two-step route sorts the rows when it converts the integer counts (as in
    # scikit-learn), so its norms are summed in another order: equal to rounding
    np.testing.assert_allclose(two_step.predict_proba(docs), one_step.predict_proba(docs),
                               rtol=1e-12)


with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*does not inherit from `sklearn")
    _sklearn_checks = parametrize_with_checks([TfidfTransformer()])


@_sklearn_checks
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not inherit from `sklearn")
        check(estimator)


def test_docstring_examples_run():
    import doctest

    import fastgen.text._tfidf as module

    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 8 and result.failed == 0, result
