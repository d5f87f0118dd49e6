"""Model files for classical estimators: exact round trips, hostile files, ``info``."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from modelfile_tools import npy, read_zip, tamper, write_zip

import fastgen
from fastgen._modelfile import ModelFileError
from fastgen._persist_codec import Decoder, Encoder
from fastgen._persist_specs import SPECS, spec_for
from fastgen.hmm import (
    GMMHMM,
    CategoricalHMM,
    GaussianHMM,
    MultinomialHMM,
    PoissonHMM,
    VariationalCategoricalHMM,
    VariationalGaussianHMM,
)
from fastgen.hmm._engine import PARTIAL_FIT_STATE
from fastgen.naive_bayes import BernoulliNB, CategoricalNB, ComplementNB, GaussianNB, MultinomialNB
from fastgen.pipeline import TextClassifier
from fastgen.text import CountVectorizer, HashingVectorizer, TfidfTransformer, TfidfVectorizer

WORDS = "cat dog Café naïve ΟΔΟΣ İstanbul 東京 😀 x_y 42 fish bird tree".split()
DOCS_RNG = np.random.default_rng(0)
DOCS = [" ".join(DOCS_RNG.choice(WORDS, DOCS_RNG.integers(1, 10))) for _ in range(60)]
NEW_DOCS = [" ".join(DOCS_RNG.choice(WORDS, DOCS_RNG.integers(0, 10))) for _ in range(40)]
LABELS = np.array(["spam", "ham", "eggs"])[DOCS_RNG.integers(0, 3, len(DOCS))]


# --------------------------------------------------------------------------- helpers


def roundtrip(model, tmp_path, name="model.fgm"):
    path = tmp_path / name
    if hasattr(model, "save"):
        model.save(path)
    else:  # a scikit-learn Pipeline
        fastgen.save(model, path)
    loaded = fastgen.load(path)
    assert type(loaded) is type(model)
    assert_same_params(model, loaded)
    assert_same_state(model, loaded)
    return loaded, path


def assert_same_value(a, b, where="value"):
    assert type(a) is type(b), (where, type(a), type(b))
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        if a.dtype.kind in "fc":
            assert np.array_equal(a, b, equal_nan=True), where
        else:
            assert np.array_equal(a, b), where
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_value(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            assert_same_value(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, np.random.RandomState):
        sa, sb = a.get_state(), b.get_state()
        assert sa[0] == sb[0] and np.array_equal(sa[1], sb[1]) and sa[2:] == sb[2:], where
    elif hasattr(a, "get_params") and not isinstance(a, type):
        assert_same_params(a, b)
        assert_same_state(a, b)
    elif type(a).__name__ == "ConvergenceMonitor":
        assert (a.tol, a.n_iter, a.verbose, a.iter) == (b.tol, b.n_iter, b.verbose, b.iter)
        assert list(a.history) == list(b.history), where
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, where


def assert_same_params(a, b):
    pa, pb = a.get_params(deep=False), b.get_params(deep=False)
    assert sorted(pa) == sorted(pb)
    for k in pa:
        assert_same_value(pa[k], pb[k], f"{type(a).__name__}.{k}")


def assert_same_state(a, b):
    _, spec = spec_for(a)
    params = a.get_params(deep=False)
    sa = {k: v for k, v in vars(a).items() if k not in params and k not in spec.transient}
    sb = {k: v for k, v in vars(b).items() if k not in params and k not in spec.transient}
    assert sorted(sa) == sorted(sb), type(a).__name__
    for k in sa:
        assert_same_value(sa[k], sb[k], f"{type(a).__name__}.{k}")


def assert_arrays_identical(x, y):
    if hasattr(x, "toarray"):
        assert type(x) is type(y) and x.dtype == y.dtype
        x, y = x.toarray(), y.toarray()
    assert x.dtype == y.dtype and x.shape == y.shape
    assert np.array_equal(x, y, equal_nan=x.dtype.kind in "fc")


# --------------------------------------------------------------------------- round trips

VECTORIZERS = [
    CountVectorizer(),
    CountVectorizer(ngram_range=(1, 2), binary=True, dtype=np.float32),
    CountVectorizer(analyzer="char_wb", ngram_range=(2, 3), max_features=20),
    CountVectorizer(stop_words=["cat", "dog"], lowercase=False, min_df=2, max_df=0.9),
    CountVectorizer(stop_words=frozenset({"fish"}), strip_accents="unicode", dtype=float),
    CountVectorizer(vocabulary={"cat": 1, "dog": 0, "東京": 2}),
    CountVectorizer(vocabulary=["tree", "bird", "😀"]),
    CountVectorizer(token_pattern=r"(?u)\b\w+\b", n_jobs=2),
    HashingVectorizer(n_features=64),
    HashingVectorizer(n_features=2**10, norm="l1", alternate_sign=False, ngram_range=(1, 3)),
    TfidfVectorizer(),
    TfidfVectorizer(ngram_range=(1, 2), dtype=np.float32, norm="l1", sublinear_tf=True),
    TfidfVectorizer(use_idf=False, binary=True, max_features=8, norm=None),
    TfidfVectorizer(vocabulary={"cat": 1, "dog": 0, "東京": 2}, smooth_idf=False),
    TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3), min_df=2, dtype=float),
]


@pytest.mark.parametrize("vec", VECTORIZERS, ids=repr)
def test_vectorizer_roundtrip(vec, tmp_path):
    vec.fit(DOCS)
    loaded, _ = roundtrip(vec, tmp_path)
    assert_arrays_identical(vec.transform(NEW_DOCS), loaded.transform(NEW_DOCS))
    if isinstance(vec, CountVectorizer):
        assert_same_value(vec.get_feature_names_out(), loaded.get_feature_names_out())
        assert type(loaded.vocabulary_) is type(vec.vocabulary_)
        # the compiled lookup table is rebuilt from the restored vocabulary (fast path)
        assert loaded._lookup_table() is not None
        X = vec.transform(NEW_DOCS)
        for a, b in zip(vec.inverse_transform(X), loaded.inverse_transform(X), strict=True):
            assert_same_value(a, b)
    if isinstance(vec, TfidfVectorizer) and vec.use_idf:
        assert_same_value(vec.idf_, loaded.idf_)
        assert_arrays_identical(vec.fit_transform(DOCS), loaded.fit_transform(DOCS))


@pytest.mark.parametrize("make_counts", [
    lambda X: X,
    lambda X: X.astype(np.float32),
    lambda X: __import__("scipy.sparse").sparse.csc_matrix(X),
], ids=["int", "float32", "csc"])
@pytest.mark.parametrize("params", [{}, {"norm": "l1", "sublinear_tf": True},
                                    {"use_idf": False, "norm": None},
                                    {"smooth_idf": False, "n_jobs": 2}], ids=repr)
def test_tfidf_transformer_roundtrip(make_counts, params, tmp_path):
    counts = CountVectorizer().fit_transform(DOCS)
    est = TfidfTransformer(**params).fit(make_counts(counts))
    loaded, path = roundtrip(est, tmp_path)
    new = make_counts(CountVectorizer(vocabulary=est_vocabulary()).transform(NEW_DOCS))
    assert_arrays_identical(est.transform(new), loaded.transform(new))
    assert_same_value(est.get_feature_names_out(), loaded.get_feature_names_out())
    summary = fastgen.info(path)["summary"]
    assert summary["fitted"] and summary["n_features"] == counts.shape[1]
    assert summary["use_idf"] is est.use_idf and ("idf_range" in summary) is est.use_idf


def est_vocabulary():
    return CountVectorizer().fit(DOCS).vocabulary_


def test_tfidf_transformer_feature_names_roundtrip(tmp_path):
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(np.random.default_rng(3).integers(0, 4, (40, 3)), columns=["a", "bé", "c"])
    est = TfidfTransformer().fit(X)
    loaded, _ = roundtrip(est, tmp_path)
    assert_same_value(est.get_feature_names_out(), loaded.get_feature_names_out())
    assert_arrays_identical(est.transform(X), loaded.transform(X))


def test_tfidf_weighting_of_the_fit_is_kept(tmp_path):
    """transform weighs as fitted (as scikit-learn's): params set later are stored too."""
    vec = TfidfVectorizer(norm="l1").fit(DOCS)
    vec.set_params(norm="l2", sublinear_tf=True, dtype=np.float32)
    loaded, _ = roundtrip(vec, tmp_path)
    assert loaded.norm == "l2" and loaded.idf_.dtype == np.float64
    assert_arrays_identical(vec.transform(NEW_DOCS), loaded.transform(NEW_DOCS))
    # idf_ given by hand, without fitting (a vocabulary given): float64 as the kernel reads it
    vec = TfidfVectorizer(vocabulary=["cat", "dog", "fish"])
    vec.idf_ = [1, 2, 3]
    loaded, path = roundtrip_loosely(vec, tmp_path)
    assert loaded.idf_.dtype == np.float64 and loaded.idf_.tolist() == [1.0, 2.0, 3.0]
    assert_arrays_identical(vec.transform(NEW_DOCS), loaded.transform(NEW_DOCS))
    assert fastgen.info(path)["summary"]["weighting"]["idf_range"] == [1.0, 3.0]


def roundtrip_loosely(model, tmp_path):
    """Save and load without comparing the state (a value stored converted)."""
    model.save(tmp_path / "loose.fgm")
    return fastgen.load(tmp_path / "loose.fgm"), tmp_path / "loose.fgm"


def test_idf_a_fit_cannot_give_is_not_saved(tmp_path):
    path = tmp_path / "x.fgm"
    # smooth_idf=False and a term of the vocabulary in no document: idf inf, tf-idf NaN
    vec = TfidfVectorizer(vocabulary=["cat", "unseen"], smooth_idf=False)
    with pytest.warns(RuntimeWarning, match="divide by zero"):
        vec.fit(DOCS)
    assert np.isnan(vec.transform(["unseen"]).toarray()).any()
    with pytest.raises(ValueError, match="cannot save idf_: idf_ must be finite"):
        vec.save(path)
    with pytest.warns(RuntimeWarning, match="divide by zero"):
        model = TextClassifier(vec).fit(DOCS, LABELS)
    with pytest.raises(ValueError, match="cannot save idf_"):
        model.save(path)
    for idf in ([0.5, 2.0], [1.0, 1e300], ["a", "b"]):
        vec = TfidfVectorizer(vocabulary=["cat", "dog"])
        vec.idf_ = idf
        with pytest.raises(ValueError, match="cannot save idf_"):
            vec.save(path)
    est = TfidfTransformer().fit([[1, 2]])
    for idf in (np.array([np.nan, 1.0]), np.ones((1, 2))):
        est.idf_ = idf
        with pytest.raises(ValueError, match="cannot save idf_"):
            est.save(path)
    assert not path.exists()


def test_large_vocabulary_params_go_to_members(tmp_path):
    terms = [f"t{i:04d}é" for i in range(600)]
    for vocabulary in (terms, tuple(terms), set(terms), {t: i for i, t in enumerate(terms)}):
        vec = CountVectorizer(vocabulary=vocabulary, stop_words=set(terms[:300]))
        loaded, path = roundtrip(vec, tmp_path)  # unfitted, params only
        names = set(read_zip(path)) - {"manifest.json"}
        assert {"params.stop_words.text.npy", "params.stop_words.offsets.npy"} <= names
        assert any(n.startswith("params.vocabulary.") for n in names)
        vec.fit(["t0001é t0002é"])
        loaded, _ = roundtrip(vec, tmp_path)
        assert_arrays_identical(vec.transform(["t0001é x t0599é"]),
                                loaded.transform(["t0001é x t0599é"]))


def test_exotic_terms_roundtrip_exactly(tmp_path):
    # NUL characters (which '<U' arrays drop), lone surrogates, empty-ish and long terms
    vocab = {"a\x00": 0, "\x00": 1, "\ud800x": 2, "ok": 3, "z" * 5000: 4}
    vec = CountVectorizer(vocabulary=vocab, analyzer="char", lowercase=False).fit(["abc"])
    loaded, _ = roundtrip(vec, tmp_path)
    assert dict(loaded.vocabulary_) == vocab


def nb_data(rng, n=80, f=6):
    X = rng.integers(0, 5, (n, f))
    return X, LABELS[:n] if n <= len(LABELS) else None


NB_CASES = [
    (MultinomialNB, {}),
    (MultinomialNB, {"alpha": np.array([0.5, 1.0, 2.0, 1.0, 0.1, 3.0], dtype=np.float32)}),
    (MultinomialNB, {"class_prior": [0.2, 0.3, 0.5], "fit_prior": False}),
    (ComplementNB, {"norm": True}),
    (ComplementNB, {}),
    (BernoulliNB, {"binarize": 1.5}),
    (BernoulliNB, {"binarize": 2.5, "alpha": 1e-3, "force_alpha": True}),
    (CategoricalNB, {"min_categories": [3, 6, 5, 5, 7, 5]}),
    (CategoricalNB, {"alpha": 0.3}),
    (GaussianNB, {"priors": np.array([0.5, 0.25, 0.25])}),
    (GaussianNB, {"var_smoothing": 1e-3}),
]


@pytest.mark.parametrize("label_kind", ["str", "int", "float", "bool", "object"])
@pytest.mark.parametrize("cls, params", NB_CASES, ids=lambda c: getattr(c, "__name__", repr(c)))
def test_naive_bayes_roundtrip(cls, params, label_kind, tmp_path):
    rng = np.random.default_rng(1)
    X = rng.integers(0, 5, (60, 6))
    if label_kind == "bool" and params.get("class_prior") is not None:
        params = {**params, "class_prior": [0.4, 0.6]}
    y = {
        "str": LABELS,
        "int": rng.integers(-2, 1, 60),
        "float": rng.choice([2.0, -1.0, 7.0], 60),
        "bool": rng.integers(0, 2, 60).astype(bool),
        "object": LABELS,
    }[label_kind]
    if label_kind == "bool" and isinstance(params.get("priors"), np.ndarray):
        params = {"priors": np.array([0.5, 0.5])}
    est = cls(**params).fit(X, y)
    if label_kind == "object":  # as scikit-learn leaves labels of object targets
        est.classes_ = est.classes_.astype(object)
    loaded, _ = roundtrip(est, tmp_path)
    X_new = rng.integers(0, 5, (25, 6))
    for method in ("predict", "predict_proba", "predict_log_proba", "predict_joint_log_proba"):
        assert_arrays_identical(getattr(est, method)(X_new), getattr(loaded, method)(X_new))
    if label_kind == "object":
        assert loaded.predict(X_new).dtype == object
        assert all(type(v) is str for v in loaded.classes_)
    assert loaded.score(X_new, est.predict(X_new)) == 1.0


def test_naive_bayes_partial_fit_continues_identically(tmp_path):
    rng = np.random.default_rng(2)
    X1, X2 = rng.integers(0, 4, (30, 5)), rng.integers(0, 4, (30, 5))
    y1, y2 = rng.integers(0, 3, 30), rng.integers(0, 3, 30)
    for cls in (MultinomialNB, ComplementNB, BernoulliNB, CategoricalNB, GaussianNB):
        est = cls().partial_fit(X1, y1, classes=[0, 1, 2])
        loaded, _ = roundtrip(est, tmp_path)
        est.partial_fit(X2, y2)
        loaded.partial_fit(X2, y2)
        assert_same_state(est, loaded)
        assert_arrays_identical(est.predict_proba(X2), loaded.predict_proba(X2))


def test_feature_names_roundtrip(tmp_path):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.integers(0, 4, (40, 3)), columns=["a", "bé", "c"])
    y = rng.integers(0, 2, 40)
    for est in (MultinomialNB().fit(X, y), GaussianNB().fit(X.astype(float), y)):
        loaded, _ = roundtrip(est, tmp_path)
        assert loaded.feature_names_in_.dtype == object
        assert_arrays_identical(est.predict_proba(X), loaded.predict_proba(X))


TEXT_CLASSIFIERS = [
    TextClassifier(),
    TextClassifier(CountVectorizer(ngram_range=(1, 2), min_df=2), BernoulliNB(binarize=0.5)),
    TextClassifier(CountVectorizer(analyzer="char", ngram_range=(1, 2)), ComplementNB(norm=True)),
    TextClassifier(HashingVectorizer(n_features=256, alternate_sign=False), MultinomialNB()),
    TextClassifier(TfidfVectorizer(), MultinomialNB()),
    TextClassifier(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, dtype=np.float32),
                   ComplementNB()),
    TextClassifier(TfidfVectorizer(use_idf=False, binary=True), BernoulliNB(binarize=0.1)),
]


@pytest.mark.parametrize("model", TEXT_CLASSIFIERS, ids=repr)
def test_text_classifier_roundtrip(model, tmp_path):
    model.fit(DOCS, LABELS)
    loaded, _ = roundtrip(model, tmp_path)
    assert loaded.classes_ is loaded.classifier_.classes_
    assert (model._fused() is None) == (loaded._fused() is None)
    for method in ("predict", "predict_proba", "predict_log_proba", "predict_joint_log_proba"):
        assert_arrays_identical(getattr(model, method)(NEW_DOCS), getattr(loaded, method)(NEW_DOCS))


def test_sklearn_pipeline_roundtrip(tmp_path):
    from sklearn.pipeline import Pipeline, make_pipeline

    pipe = make_pipeline(CountVectorizer(ngram_range=(1, 2)), MultinomialNB(alpha=0.5))
    pipe.fit(DOCS, LABELS)
    loaded, path = roundtrip(pipe, tmp_path)
    assert type(loaded) is Pipeline
    assert [name for name, _ in loaded.steps] == [name for name, _ in pipe.steps]
    for method in ("predict", "predict_proba", "predict_log_proba"):
        assert_arrays_identical(getattr(pipe, method)(NEW_DOCS), getattr(loaded, method)(NEW_DOCS))
    summary = fastgen.info(path)["summary"]
    assert summary == {"fitted": True, "steps": [["countvectorizer", "fastgen.CountVectorizer"],
                                                  ["multinomialnb", "fastgen.MultinomialNB"]]}
    # a tf-idf front, and counts weighed by a TfidfTransformer step
    for pipe3, kinds in (
        (make_pipeline(TfidfVectorizer(sublinear_tf=True), ComplementNB()),
         ["fastgen.TfidfVectorizer", "fastgen.ComplementNB"]),
        (make_pipeline(CountVectorizer(), TfidfTransformer(norm="l1"), MultinomialNB()),
         ["fastgen.CountVectorizer", "fastgen.TfidfTransformer", "fastgen.MultinomialNB"]),
    ):
        pipe3.fit(DOCS, LABELS)
        loaded3, path3 = roundtrip(pipe3, tmp_path, "pipe3.fgm")
        for method in ("predict", "predict_proba", "predict_log_proba"):
            assert_arrays_identical(getattr(pipe3, method)(NEW_DOCS),
                                    getattr(loaded3, method)(NEW_DOCS))
        assert [kind for _, kind in fastgen.info(path3)["summary"]["steps"]] == kinds
    # 'passthrough' steps are data too
    pipe2 = Pipeline([("vec", CountVectorizer()), ("id", "passthrough"), ("nb", BernoulliNB())])
    pipe2.fit(DOCS, LABELS)
    loaded2, path = roundtrip(pipe2, tmp_path, "pipe2.fgm")
    assert loaded2.steps[1] == ("id", "passthrough")
    assert_arrays_identical(pipe2.predict_proba(NEW_DOCS), loaded2.predict_proba(NEW_DOCS))
    # a parameter of a newer scikit-learn at its default None is dropped, others refused
    out = tamper(path, tmp_path / "newer.fgm", manifest=lambda m: m["params"].update(later=None))
    assert_arrays_identical(fastgen.load(out).predict(NEW_DOCS), pipe2.predict(NEW_DOCS))
    out = tamper(path, tmp_path / "newer.fgm", manifest=lambda m: m["params"].update(later=1))
    with pytest.raises(ModelFileError, match=r"no parameter\(s\) \['later'\]"):
        fastgen.load(out)


def test_grid_search_best_estimator_roundtrip(tmp_path):
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    pipe = make_pipeline(CountVectorizer(), ComplementNB())
    grid = GridSearchCV(
        pipe, {"countvectorizer__ngram_range": [(1, 1), (1, 2)],
               "complementnb__alpha": [0.1, 1.0]}, cv=2,
    ).fit(DOCS, LABELS)
    best = grid.best_estimator_
    loaded, _ = roundtrip(best, tmp_path)
    assert loaded.get_params()["countvectorizer__ngram_range"] == grid.best_params_[
        "countvectorizer__ngram_range"]
    assert_arrays_identical(best.predict_proba(NEW_DOCS), loaded.predict_proba(NEW_DOCS))
    assert_arrays_identical(grid.predict(NEW_DOCS), loaded.predict(NEW_DOCS))


def gaussian_sequences(seed=0):
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(m, 1.0, (40, 2)) for m in (-3, 0, 3)])
    return X[rng.permutation(len(X))], [50, 30, 40]


@pytest.mark.parametrize("params", [
    {"covariance_type": "diag"},
    {"covariance_type": "spherical", "implementation": "scaling"},
    {"covariance_type": "full", "algorithm": "map"},
    {"covariance_type": "tied", "startprob_prior": np.array([2.0, 1.0, 1.5]),
     "transmat_prior": 1.5},
    {"covariance_type": "diag", "allow_nan": True},
    {"covariance_type": "full", "allow_nan": True},
    {"covariance_type": "tied", "allow_nan": True},
], ids=repr)
def test_gaussian_hmm_roundtrip(params, tmp_path):
    X, lengths = gaussian_sequences()
    if params.get("allow_nan"):
        X = X.copy()
        X[::7, 1] = np.nan
    hmm = GaussianHMM(3, random_state=0, n_iter=4, **params).fit(X, lengths)
    loaded, _ = roundtrip(hmm, tmp_path)
    assert type(loaded.monitor_) is type(hmm.monitor_)
    check_hmm_outputs(hmm, loaded, X, lengths)
    assert_arrays_identical(hmm.covars_, loaded.covars_)


def test_categorical_hmm_roundtrip(tmp_path):
    rng = np.random.default_rng(4)
    X = rng.integers(0, 5, (90, 1))
    hmm = CategoricalHMM(3, random_state=np.random.RandomState(7), n_iter=5,
                         emissionprob_prior=1.2).fit(X, [40, 50])
    loaded, _ = roundtrip(hmm, tmp_path)
    check_hmm_outputs(hmm, loaded, X, [40, 50])
    # the random_state parameter keeps its stream: default sampling agrees too
    assert_arrays_identical(hmm.sample(20)[0], loaded.sample(20)[0])


@pytest.mark.parametrize("implementation", ["log", "scaling"])
def test_poisson_hmm_roundtrip(implementation, tmp_path):
    rng = np.random.default_rng(6)
    X = rng.poisson([[1.0, 6.0, 0.5]], (120, 3))
    X[:40] = rng.poisson([[7.0, 0.5, 3.0]], (40, 3))
    hmm = PoissonHMM(3, random_state=0, n_iter=4, implementation=implementation,
                     lambdas_prior=0.3, lambdas_weight=0.1).fit(X, [50, 30, 40])
    loaded, path = roundtrip(hmm, tmp_path)
    check_hmm_outputs(hmm, loaded, X, [50, 30, 40])
    assert_arrays_identical(hmm.lambdas_, loaded.lambdas_)
    summary = fastgen.info(path)["summary"]
    assert summary["fitted"] is True and summary["n_features"] == 3


def test_tampered_poisson_hmm_is_refused(tmp_path):
    X = np.random.default_rng(1).poisson(2.0, (60, 2))
    PoissonHMM(2, n_iter=2, random_state=0).fit(X).save(tmp_path / "p.fgm")
    bad = {
        "state.lambdas_.npy": [np.full((2, 2), np.nan), np.full((2, 2), np.inf),
                               -np.ones((2, 2)), np.ones((3, 2)), np.ones((2, 3)),
                               np.ones(2), np.ones((2, 2), dtype=np.int64)],
        "state.transmat_.npy": [np.full((2, 2), 0.7)],
    }
    for name, arrays in bad.items():
        for array in arrays:
            out = tamper(tmp_path / "p.fgm", tmp_path / "bad.fgm", members={name: npy(array)})
            with pytest.raises(ModelFileError):
                fastgen.load(out)


@pytest.mark.parametrize("covariance_type", ["diag", "spherical", "full", "tied"])
def test_gmm_hmm_roundtrip(covariance_type, tmp_path):
    rng = np.random.default_rng(7)
    X = np.r_[rng.normal(0, 1, (60, 2)), rng.normal(4, 0.5, (60, 2))]
    hmm = GMMHMM(2, n_mix=2, covariance_type=covariance_type, random_state=0, n_iter=4,
                 weights_prior=1.5, implementation="scaling").fit(X, [50, 30, 40])
    loaded, path = roundtrip(hmm, tmp_path)
    check_hmm_outputs(hmm, loaded, X, [50, 30, 40])
    for name in ("weights_", "means_", "covars_"):
        assert_arrays_identical(getattr(hmm, name), getattr(loaded, name))
    summary = fastgen.info(path)["summary"]
    assert summary["fitted"] is True and summary["n_features"] == 2


def test_tampered_gmm_hmm_is_refused(tmp_path):
    X = np.random.default_rng(1).normal(size=(60, 2))
    GMMHMM(2, n_mix=3, covariance_type="full", n_iter=2, random_state=0).fit(X).save(
        tmp_path / "g.fgm")
    spd = np.tile(np.eye(2), (2, 3, 1, 1))
    not_pd = spd.copy()
    not_pd[1, 2] = [[1.0, 2.0], [2.0, 1.0]]
    bad = {
        "state.weights_.npy": [np.full((2, 3), np.nan), np.full((2, 3), 0.5), -np.ones((2, 3)),
                               np.ones((2, 2)) / 2, np.ones(6) / 3,
                               np.ones((2, 3), dtype=np.int64)],
        "state.means_.npy": [np.full((2, 3, 2), np.inf), np.zeros((2, 3)), np.zeros((2, 2, 2)),
                             np.zeros((3, 3, 2)), np.zeros((2, 3, 3))],
        "state.covars_.npy": [not_pd, -spd, spd[:, :, :1, :1], spd[:, :2], np.eye(2)[None],
                              np.full((2, 3, 2, 2), np.nan), spd.astype(np.int64)],
    }
    for name, arrays in bad.items():
        for array in arrays:
            out = tamper(tmp_path / "g.fgm", tmp_path / "bad.fgm", members={name: npy(array)})
            with pytest.raises(ModelFileError):
                fastgen.load(out)


def check_hmm_outputs(hmm, loaded, X, lengths):
    assert hmm.score(X, lengths) == loaded.score(X, lengths)
    a, b = hmm.score_samples(X, lengths), loaded.score_samples(X, lengths)
    assert a[0] == b[0]
    assert_arrays_identical(a[1], b[1])
    for algorithm in ("viterbi", "map"):
        a, b = hmm.decode(X, lengths, algorithm=algorithm), loaded.decode(X, lengths,
                                                                          algorithm=algorithm)
        assert a[0] == b[0]
        assert_arrays_identical(a[1], b[1])
    assert_arrays_identical(hmm.predict(X, lengths), loaded.predict(X, lengths))
    assert_arrays_identical(hmm.predict_proba(X, lengths), loaded.predict_proba(X, lengths))
    for x, y in zip(hmm.sample(30, random_state=3), loaded.sample(30, random_state=3),
                    strict=True):
        assert_arrays_identical(x, y)
    # EM continues identically from the restored parameters
    hmm.set_params(init_params="", n_iter=2)
    loaded.set_params(init_params="", n_iter=2)
    hmm.fit(X, lengths)
    loaded.fit(X, lengths)
    assert_same_state(hmm, loaded)


def test_hmm_with_hand_set_parameters(tmp_path):
    hmm = CategoricalHMM(2, n_features=3, init_params="")
    hmm.startprob_ = [0.6, 0.4]
    hmm.transmat_ = [[0.9, 0.1], [0.2, 0.8]]
    hmm.emissionprob_ = np.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]])
    path = tmp_path / "hmm.fgm"
    hmm.save(path)
    loaded = fastgen.load(path)
    X = np.array([[0], [2], [2], [1]])
    assert hmm.score(X) == loaded.score(X)
    # partially set parameters (to be completed by fit) round trip too
    g = GaussianHMM(2, init_params="mc", random_state=0)
    g.startprob_ = np.array([0.5, 0.5])
    g.transmat_ = np.array([[0.5, 0.5], [0.5, 0.5]])
    loaded, _ = roundtrip(g, tmp_path)
    X, _ = gaussian_sequences()
    assert_arrays_identical(g.fit(X).predict(X), loaded.fit(X).predict(X))


ALL_UNFITTED = [
    CountVectorizer(ngram_range=(2, 3), stop_words="english", max_df=5, dtype=np.dtype("int32")),
    HashingVectorizer(binary=True, norm=None, dtype=np.float32),
    MultinomialNB(class_prior=np.array([0.1, 0.9], dtype=np.float32)),
    ComplementNB(alpha=np.float32(0.25)),
    BernoulliNB(binarize=None),
    CategoricalNB(min_categories=np.array([2, 3])),
    GaussianNB(var_smoothing=0.0),
    TextClassifier(CountVectorizer(vocabulary={"b": 0, "a": 1}), GaussianNB(priors=(0.5, 0.5))),
    TfidfVectorizer(vocabulary=["b", "a"], norm=None, dtype=np.float32, smooth_idf=False),
    TfidfTransformer(norm="l1", use_idf=False, sublinear_tf=True),
    GaussianHMM(4, covariance_type="full", means_prior=np.zeros((4, 2)), random_state=3),
    CategoricalHMM(2, random_state=np.random.RandomState(5), n_features=4),
    PoissonHMM(3, lambdas_prior=0.5, lambdas_weight=1.0, params="l", random_state=2),
    VariationalCategoricalHMM(2, emissionprob_prior=0.5, n_features=4, random_state=1),
    VariationalGaussianHMM(2, covariance_type="tied", dof_prior=3.0, random_state=1),
    MultinomialHMM(2, n_trials=np.array([3, 3, 3]), params="e", random_state=4),
    GMMHMM(2, n_mix=3, covariance_type="tied", covars_prior=np.eye(2), random_state=4),
]


@pytest.mark.parametrize("est", ALL_UNFITTED, ids=lambda e: type(e).__name__)
def test_unfitted_roundtrip(est, tmp_path):
    loaded, path = roundtrip(est, tmp_path)
    assert fastgen.info(path)["summary"]["fitted"] is (type(est) is HashingVectorizer)


def test_unfitted_pipeline_roundtrip_then_fit(tmp_path):
    from sklearn.pipeline import make_pipeline

    pipe = make_pipeline(CountVectorizer(), MultinomialNB())
    loaded, path = roundtrip(pipe, tmp_path)
    assert fastgen.info(path)["summary"]["fitted"] is False
    pipe.fit(DOCS, LABELS)
    loaded.fit(DOCS, LABELS)
    assert_arrays_identical(pipe.predict_proba(NEW_DOCS), loaded.predict_proba(NEW_DOCS))


def test_every_whitelisted_kind_is_tested():
    classes = {type(e) for e in VECTORIZERS + ALL_UNFITTED + TEXT_CLASSIFIERS}
    names = {f"fastgen.{c.__name__}" for c in classes} | {"sklearn.Pipeline"}
    # fastgen.HMMStream: tests/hmm/test_stream.py (round trip mid-stream, hostile state)
    assert names | {"fastgen.HMMStream"} == set(SPECS)


def test_hmm_specs_store_each_family_state():
    for cls in (GaussianHMM, CategoricalHMM, PoissonHMM, MultinomialHMM, GMMHMM,
                VariationalCategoricalHMM, VariationalGaussianHMM):
        spec = SPECS[f"fastgen.{cls.__name__}"]
        family = cls.emission_family.state_attributes
        expected = ("startprob_", "transmat_", *family, "monitor_", "restart_objectives_",
                    *PARTIAL_FIT_STATE)
        assert spec.state == expected, cls


def test_fitted_state_is_fully_covered_by_specs():
    """A new fitted attribute must be added to the model-file spec (or be a cache)."""
    rng = np.random.default_rng(5)
    X = rng.integers(0, 3, (30, 4))
    y = rng.integers(0, 2, 30)
    Xg, lengths = gaussian_sequences()
    fitted = [
        CountVectorizer().fit(DOCS),
        HashingVectorizer().fit(DOCS),
        TfidfVectorizer().fit(DOCS),
        TfidfTransformer().fit(X),
        *(cls().fit(X, y) for cls in (MultinomialNB, ComplementNB, BernoulliNB, CategoricalNB,
                                      GaussianNB)),
        TextClassifier().fit(DOCS, LABELS),
        GaussianHMM(2, n_iter=2, random_state=0).fit(Xg, lengths),
        CategoricalHMM(2, n_iter=2, random_state=0).fit(X[:, :1], [10, 20]),
        PoissonHMM(2, n_iter=2, random_state=0).fit(X, [10, 20]),
        VariationalCategoricalHMM(2, n_iter=2, random_state=0).fit(X[:, :1], [10, 20]),
        VariationalGaussianHMM(2, n_iter=2, random_state=0).fit(Xg, lengths),
        GMMHMM(2, n_mix=2, n_iter=2, random_state=0).fit(Xg, lengths),
    ]
    fitted[0].transform(DOCS)  # builds the lookup-table cache
    fitted[2].transform(DOCS)
    for est in fitted:
        _, spec = spec_for(est)
        params = set(est.get_params(deep=False))
        extra = set(vars(est)) - params - set(spec.state) - set(spec.transient)
        assert not extra, (type(est).__name__, extra)


# --------------------------------------------------------------------------- params


def test_param_values_roundtrip_with_types(tmp_path):
    est = CountVectorizer(
        ngram_range=(1, 2),
        stop_words={"a", "b"},
        max_df=np.float64(0.75),
        min_df=np.int32(1),
        dtype=np.float32,
        vocabulary=None,
        encoding="latin-1",
        decode_error="replace",
    )
    loaded, _ = roundtrip(est, tmp_path)
    assert type(loaded.max_df) is np.float64 and type(loaded.min_df) is np.int32
    assert loaded.dtype is np.float32 and loaded.ngram_range == (1, 2)
    assert loaded.stop_words == {"a", "b"} and type(loaded.stop_words) is set
    for dtype in (float, np.dtype("<f4"), np.dtype(">i8"), np.int16):
        loaded, _ = roundtrip(HashingVectorizer(dtype=dtype), tmp_path)
        assert loaded.dtype == dtype and type(loaded.dtype) is type(dtype)
    nb = GaussianNB(priors=np.array([[0.5], [0.5]], order="F").T.ravel())
    loaded, _ = roundtrip(nb, tmp_path)
    for value in (float("nan"), float("-inf"), b"\x00\xffbytes", {1: (2, None), "k": [1.5]}):
        encoder = Encoder()
        enc = encoder.value(value, "params.v", "v")
        back = Decoder(encoder.members, "f.fgm").value(json.loads(json.dumps(enc)), "v")
        if isinstance(value, float) and math.isnan(value):
            assert type(back) is float and math.isnan(back)
        else:
            assert_same_value(value, back)
    for value in (float("nan"), float("-inf"), -1.0):
        # such values are data, but not valid parameters: load refuses them
        MultinomialNB(alpha=value).save(tmp_path / "bad.fgm")
        with pytest.raises(ModelFileError, match="invalid fastgen.MultinomialNB parameters"):
            fastgen.load(tmp_path / "bad.fgm")


def test_callable_and_object_params_are_refused(tmp_path):
    path = tmp_path / "x.fgm"
    with pytest.raises(ValueError, match="parameter 'tokenizer'.*callable.*data only"):
        CountVectorizer(tokenizer=str.split).save(path)
    with pytest.raises(ValueError, match="parameter 'analyzer'.*callable"):
        TextClassifier(CountVectorizer(analyzer=lambda d: d.split())).save(path)
    with pytest.raises(ValueError, match="parameter 'preprocessor'.*callable"):
        fastgen.save(CountVectorizer(preprocessor=str.lower).fit(DOCS), path)
    with pytest.raises(ValueError, match="parameter 'alpha'.*not plain data"):
        MultinomialNB(alpha=object()).save(path)
    with pytest.raises(ValueError, match="parameter 'random_state'.*Generator"):
        GaussianHMM(random_state=np.random.default_rng(0)).save(path)
    assert not path.exists()


def test_non_fastgen_estimators_are_refused(tmp_path):
    from sklearn.feature_extraction.text import CountVectorizer as SkCountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    path = tmp_path / "x.fgm"
    with pytest.raises(ValueError, match="sklearn.*CountVectorizer is not a fastgen estimator"):
        TextClassifier(SkCountVectorizer()).save(path)
    with pytest.raises(ValueError, match="LogisticRegression is not a fastgen estimator"):
        fastgen.save(make_pipeline(CountVectorizer(), LogisticRegression()), path)
    with pytest.raises(ValueError, match="not a fastgen estimator"):
        fastgen.save(LogisticRegression(), path)

    class MyNB(MultinomialNB):
        pass

    with pytest.raises(ValueError, match="MyNB is not a fastgen estimator"):
        MyNB().save(path)
    with pytest.raises(ValueError, match="not a fastgen estimator"):
        fastgen.save({"a": 1}, path)
    assert not path.exists()


def test_mixed_object_labels_are_refused(tmp_path):
    est = MultinomialNB().fit([[1, 0], [0, 1]], [0, 1])
    est.classes_ = np.array([0, "one"], dtype=object)
    with pytest.raises(ValueError, match="attribute 'classes_'.*object array.*int.*str"):
        est.save(tmp_path / "x.fgm")


def test_unknown_public_attribute_is_refused(tmp_path):
    est = MultinomialNB().fit([[1, 0], [0, 1]], [0, 1])
    est.note_ = "mine"
    with pytest.raises(ValueError, match=r"\['note_'\].*not part of its model-file format"):
        est.save(tmp_path / "x.fgm")


# --------------------------------------------------------------------------- load API


@pytest.fixture(scope="module")
def nb_file(tmp_path_factory):
    rng = np.random.default_rng(6)
    X, y = rng.integers(0, 4, (40, 5)), LABELS[:40]
    est = MultinomialNB(class_prior=np.array([0.2, 0.3, 0.5])).fit(X, y)
    path = tmp_path_factory.mktemp("persist") / "nb.fgm"
    fastgen.save(est, path)
    return path, est, X


def test_load_kwargs_and_kind(nb_file):
    path, est, X = nb_file
    with pytest.raises(TypeError, match=r"\['device'\].*only apply to neural model files"):
        fastgen.load(path, device="cpu")
    with pytest.raises(ModelFileError, match="holds a 'fastgen.MultinomialNB' model, expected"):
        fastgen.load(path, kind="fastgen.GaussianHMM")
    with pytest.raises(ModelFileError, match="expected"):
        fastgen.nn.load(path)
    model = fastgen.load(path, kind=("fastgen.GaussianNB", "fastgen.MultinomialNB"))
    assert_arrays_identical(model.predict_proba(X), est.predict_proba(X))
    with pytest.raises(TypeError, match="kind must be"):
        fastgen.load(path, kind=3)
    with pytest.raises(FileNotFoundError):
        fastgen.load(Path(path).with_name("missing.fgm"))


def test_info(nb_file):
    path, est, _ = nb_file
    out = fastgen.info(path)
    assert out["kind"] == "fastgen.MultinomialNB"
    assert out["format_version"] == 1
    assert out["fastgen_version"] == fastgen.__version__
    assert out["params"] == {"alpha": 1.0, "class_prior": [0.2, 0.3, 0.5], "fit_prior": True,
                             "force_alpha": True}
    assert out["summary"] == {"fitted": True, "n_features": 5, "n_classes": 3,
                              "classes": ["eggs", "ham", "spam"]}
    assert out["size_bytes"] == os.path.getsize(path)
    json.dumps(out, allow_nan=False)  # JSON-ready (for the CLI)


def test_info_summaries(tmp_path):
    vec = CountVectorizer().fit(DOCS)
    vec.save(tmp_path / "v.fgm")
    s = fastgen.info(tmp_path / "v.fgm")["summary"]
    assert s["vocabulary_size"] == len(vec.vocabulary_) and s["fitted"]
    X, lengths = gaussian_sequences()
    GaussianHMM(3, n_iter=3, random_state=0).fit(X, lengths).save(tmp_path / "h.fgm")
    s = fastgen.info(tmp_path / "h.fgm")["summary"]
    assert {"n_components": 3, "n_features": 2, "covariance_type": "diag",
            "n_iter_run": 3}.items() <= s.items()
    TextClassifier().fit(DOCS, LABELS).save(tmp_path / "t.fgm")
    out = fastgen.info(tmp_path / "t.fgm")
    assert out["summary"]["vectorizer"] == "fastgen.CountVectorizer"
    assert out["summary"]["classes"] == ["eggs", "ham", "spam"]
    vec = TfidfVectorizer(norm="l1", smooth_idf=False).fit(DOCS)
    TextClassifier(vec).fit(DOCS, LABELS).save(tmp_path / "tt.fgm")
    out = fastgen.info(tmp_path / "tt.fgm")["summary"]
    assert out["vectorizer"] == "fastgen.TfidfVectorizer"
    assert out["n_features"] == len(vec.vocabulary_)
    vec.save(tmp_path / "tv.fgm")
    s = fastgen.info(tmp_path / "tv.fgm")["summary"]
    assert s["fitted"] and s["vocabulary_size"] == len(vec.vocabulary_)
    assert s["weighting"] == {"norm": "l1", "use_idf": True, "smooth_idf": False,
                              "sublinear_tf": False,
                              "idf_range": [float(vec.idf_.min()), float(vec.idf_.max())]}
    json.dumps(s, allow_nan=False)


def test_info_refuses_what_load_refuses(nb_file, tmp_path):
    """info builds and checks the model: a file load refuses never gets a description."""
    out = tamper(nb_file[0], tmp_path / "c.fgm",
                 members={"state.feature_log_prob_.npy": npy(np.full((3, 5), np.nan))})
    with pytest.raises(ModelFileError, match="feature_log_prob_"):
        fastgen.load(out)
    with pytest.raises(ModelFileError, match="feature_log_prob_"):
        fastgen.info(out)
    assert fastgen.info(nb_file[0])["kind"] == "fastgen.MultinomialNB"


def test_import_and_load_stay_light(tmp_path):
    CountVectorizer().fit(DOCS).save(tmp_path / "v.fgm")
    code = (
        "import sys, fastgen\n"
        "fastgen.save, fastgen.load, fastgen.info\n"
        "assert 'numpy' not in sys.modules and 'fastgen._persist' not in sys.modules\n"
        f"vec = fastgen.load({str(tmp_path / 'v.fgm')!r})\n"
        "vec.transform(['cat dog'])\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'sklearn', 'onnxruntime', 'numba', 'pandas')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- hostile files


def test_truncated_file(nb_file, tmp_path):
    data = Path(nb_file[0]).read_bytes()
    for cut in (0, 10, len(data) // 2, len(data) - 1):
        (tmp_path / "t.fgm").write_bytes(data[:cut])
        with pytest.raises(ModelFileError):
            fastgen.load(tmp_path / "t.fgm")
        with pytest.raises(ModelFileError):
            fastgen.info(tmp_path / "t.fgm")


def test_flipped_byte_in_member(nb_file, tmp_path):
    entries = read_zip(nb_file[0])
    name = "state.feature_count_.npy"
    data = bytearray(entries[name])
    data[-3] ^= 0x01
    out = tamper(nb_file[0], tmp_path / "f.fgm", members={name: bytes(data)},
                 fix_checksums=False)
    with pytest.raises(ModelFileError, match="checksum mismatch for member"):
        fastgen.load(out)
    # flipped in the stored (compressed) bytes: the zip layer notices
    raw = bytearray(Path(nb_file[0]).read_bytes())
    raw[len(raw) // 3] ^= 0xFF
    (tmp_path / "g.fgm").write_bytes(bytes(raw))
    with pytest.raises(ModelFileError):
        fastgen.load(tmp_path / "g.fgm")


def test_edited_manifest(nb_file, tmp_path):
    def edit(man):
        man["params"]["alpha"] = 2.0

    out = tamper(nb_file[0], tmp_path / "e.fgm", manifest=edit, fix_payload=False)
    with pytest.raises(ModelFileError, match="checksum mismatch.*parameters/state"):
        fastgen.load(out)
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        fastgen.info(out)

    def edit_sha(man):
        man["members"]["state.classes_.npy"]["sha256"] = "0" * 64

    out = tamper(nb_file[0], tmp_path / "s.fgm", manifest=edit_sha)
    with pytest.raises(ModelFileError, match="checksum mismatch for member 'state.classes_.npy'"):
        fastgen.load(out)

    def nan_param(man):
        man["params"]["alpha"] = float("nan")

    out = tamper(nb_file[0], tmp_path / "n.fgm", manifest=nan_param, fix_payload=False)
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        fastgen.load(out)


def test_newer_format_version(nb_file, tmp_path):
    out = tamper(nb_file[0], tmp_path / "v.fgm",
                 manifest=lambda m: m.update(format_version=m["format_version"] + 1))
    with pytest.raises(ModelFileError, match="newer than this fastgen"):
        fastgen.load(out)
    with pytest.raises(ModelFileError, match="newer than this fastgen"):
        fastgen.info(out)


@pytest.mark.parametrize("kind", [
    "fastgen.NoSuchModel", "os.system", "subprocess.Popen", "fastgen.hmm.GaussianHMM",
    "json.tool", "xml.dom.minidom.parseString", "__import__", "",
])
def test_unknown_or_module_path_kind_imports_nothing(nb_file, tmp_path, kind):
    out = tamper(nb_file[0], tmp_path / "k.fgm", manifest=lambda m: m.update(kind=kind))
    before = set(sys.modules)
    with pytest.raises(ModelFileError, match="unknown model kind|no valid 'kind'|not a fastgen"):
        fastgen.load(out)
    with pytest.raises(ModelFileError):
        fastgen.info(out)
    assert set(sys.modules) == before


def test_nested_module_path_kind_imports_nothing(tmp_path):
    TextClassifier().fit(DOCS, LABELS).save(tmp_path / "t.fgm")

    def edit(man):
        man["state"]["vectorizer_"]["kind"] = "http.server.test"

    out = tamper(tmp_path / "t.fgm", tmp_path / "u.fgm", manifest=edit)
    before = set(sys.modules)
    with pytest.raises(ModelFileError, match="unknown model kind 'http.server.test'"):
        fastgen.load(out)
    assert set(sys.modules) == before


class _Trap:
    """Unpickling this would create a file: the loader must never get that far."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_pickled_object_member_is_never_unpickled(nb_file, tmp_path):
    target = tmp_path / "pwned"
    payload = np.array([_Trap(str(target)), "ham", "spam"], dtype=object)
    out = tamper(nb_file[0], tmp_path / "p.fgm",
                 members={"state.classes_.npy": npy(payload, allow_pickle=True)})
    with pytest.raises(ModelFileError, match="not a plain array"):
        fastgen.load(out)
    with pytest.raises(ModelFileError, match="not a plain array"):
        fastgen.info(out)
    assert not target.exists()


@pytest.mark.parametrize("member, array, message", [
    ("state.feature_count_.npy", np.zeros((3, 4)), "feature_count_ has shape"),
    ("state.feature_log_prob_.npy", np.zeros((2, 5)), "feature_log_prob_ has shape"),
    ("state.class_count_.npy", np.array([1.0, np.nan, 2.0]), "class_count_ must hold finite"),
    ("state.classes_.npy", np.array(["spam", "ham", "eggs"]), "sorted and unique"),
    ("state.classes_.npy", np.array(["a", "a", "b"]), "sorted and unique"),
    ("state.class_log_prior_.npy", np.array([1, 2, 3]), "class_log_prior_ has dtype"),
    ("state.feature_count_.npy", np.zeros(15), "feature_count_ has shape"),
    ("state.class_count_.npy", np.float64(3.0), "class_count_ has shape"),
    ("params.class_prior.npy", np.array([0.5, 0.5]), None),
])
def test_consistent_checksums_inconsistent_arrays(nb_file, tmp_path, member, array, message):
    out = tamper(nb_file[0], tmp_path / "c.fgm", members={member: npy(array)})
    if message is None:
        # a class_prior of the wrong length is a parameter the estimator checks at fit;
        # the fitted state (log priors) stays self-consistent and loads
        model = fastgen.load(out)
        assert model.class_prior.shape == (2,)
        return
    with pytest.raises(ModelFileError, match=f"inconsistent fastgen.MultinomialNB.*{message}"):
        fastgen.load(out)


def test_inconsistent_hmm_and_vocabulary(tmp_path):
    X, lengths = gaussian_sequences()
    GaussianHMM(3, covariance_type="full", n_iter=2, random_state=0).fit(X, lengths).save(
        tmp_path / "h.fgm")
    bad = {
        "state.transmat_.npy": np.full((3, 3), 0.5),
        "state.startprob_.npy": np.array([0.5, 0.5]),
        "state._covars_.npy": -np.ones((3, 2, 2)),
        "state.means_.npy": np.zeros((3, 4)),
    }
    for name, array in bad.items():
        out = tamper(tmp_path / "h.fgm", tmp_path / "bad.fgm", members={name: npy(array)})
        with pytest.raises(ModelFileError, match="inconsistent fastgen.GaussianHMM"):
            fastgen.load(out)
    CountVectorizer().fit(DOCS).save(tmp_path / "v.fgm")
    n = len(CountVectorizer().fit(DOCS).vocabulary_)
    for values in (np.zeros(n, dtype=np.int64), np.arange(1, n + 1, dtype=np.int64)):
        out = tamper(tmp_path / "v.fgm", tmp_path / "bad.fgm",
                     members={"state.vocabulary_.values.npy": npy(values)})
        with pytest.raises(ModelFileError, match="permutation"):
            fastgen.load(out)
    out = tamper(tmp_path / "v.fgm", tmp_path / "bad.fgm",
                 members={"state.vocabulary_.keys.offsets.npy": npy(np.array([0, 5, 2]))})
    with pytest.raises(ModelFileError, match="offsets"):
        fastgen.load(out)


def test_malformed_manifest_structures(nb_file, tmp_path):
    edits = {
        "unknown attribute": (lambda m: m["state"].update(evil_=1), "no fitted attribute"),
        "unknown param": (lambda m: m["params"].update(evil=1), "no parameter"),
        "missing attr": (lambda m: m["state"].pop("class_count_"), "not referenced"),
        "bad tag": (lambda m: m["params"].update(alpha={"$type": "eval", "x": "1"}),
                    "unknown value type 'eval'"),
        "bad member ref": (lambda m: m["state"]["classes_"].update(member="nope.npy"),
                           "not referenced"),
        "bad dtype": (lambda m: m["params"].update(alpha={"$type": "dtype", "form": "dtype",
                                                          "str": "O"}), "not a plain dtype"),
        "bad structure": (lambda m: m.update(state=[1, 2]), "malformed"),
    }
    for edit, message in edits.values():
        out = tamper(nb_file[0], tmp_path / "m.fgm", manifest=edit)
        with pytest.raises(ModelFileError, match=message):
            fastgen.load(out)


def test_deeply_nested_manifest(nb_file, tmp_path):
    entries = read_zip(nb_file[0])
    text = entries["manifest.json"].decode()
    for depth in (900, 100_000):
        deep = "[" * depth + "]" * depth
        entries["manifest.json"] = text.replace('"alpha": 1.0', f'"alpha": {deep}').encode()
        write_zip(tmp_path / "d.fgm", entries)
        with pytest.raises(ModelFileError):
            fastgen.load(tmp_path / "d.fgm")
        with pytest.raises(ModelFileError):
            fastgen.info(tmp_path / "d.fgm")


def test_unreferenced_member(nb_file, tmp_path):
    out = tamper(nb_file[0], tmp_path / "x.fgm", members={"extra.npy": npy(np.zeros(2))})
    with pytest.raises(ModelFileError, match="not referenced"):
        fastgen.load(out)


def test_neural_kind_tag_with_classical_content(nb_file, tmp_path):
    out = tamper(nb_file[0], tmp_path / "n.fgm", manifest=lambda m: m.update(kind="vae"))
    with pytest.raises(ModelFileError):
        fastgen.load(out)


# --------------------------------------------------------------------------- neural


def test_autoencoder_save_is_export(tmp_path):
    for mod in ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime"):
        pytest.importorskip(mod)
    from fastgen.nn import Autoencoder, OnnxAutoencoder

    X = np.random.default_rng(0).random((64, 6))
    ae = Autoencoder(6, hidden=(4,), latent_dim=2).fit(X, epochs=1, batch_size=32, verbose=0)
    assert ae.save(tmp_path / "ae.fgm") is None
    fastgen.save(ae, tmp_path / "ae2.fgm")
    model = fastgen.load(tmp_path / "ae.fgm", device="cpu")
    assert isinstance(model, OnnxAutoencoder)
    np.testing.assert_array_equal(model.encode(X),
                                  fastgen.load(tmp_path / "ae2.fgm", device="cpu").encode(X))
    np.testing.assert_allclose(model.encode(X), ae.encode(X), atol=1e-5, rtol=0)
    out = fastgen.info(tmp_path / "ae.fgm")
    assert out["kind"] == "fastgen.OnnxAutoencoder"
    assert out["summary"]["nn_kind"] == "autoencoder"
    for kind in ("fastgen.OnnxAutoencoder", "autoencoder"):  # info's name and the file's
        assert isinstance(fastgen.load(tmp_path / "ae.fgm", kind=kind), OnnxAutoencoder)
    with pytest.raises(ModelFileError, match="expected"):
        fastgen.load(tmp_path / "ae.fgm", kind="fastgen.OnnxVAE")
    assert {"input_dim": 6, "latent_dim": 2}.items() <= out["summary"].items()
    with pytest.raises(ModelFileError, match="expected"):
        fastgen.load(tmp_path / "ae.fgm", kind="fastgen.MultinomialNB")
