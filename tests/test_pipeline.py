"""The fused text classifier equals the two-step route and scikit-learn's Pipeline."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer as SkCountVectorizer
from sklearn.feature_extraction.text import HashingVectorizer as SkHashingVectorizer
from sklearn.naive_bayes import BernoulliNB as SkBernoulliNB
from sklearn.naive_bayes import ComplementNB as SkComplementNB
from sklearn.naive_bayes import MultinomialNB as SkMultinomialNB
from sklearn.pipeline import make_pipeline

from fastgen._base import NotFittedError, clone
from fastgen.naive_bayes import BernoulliNB, ComplementNB, GaussianNB, MultinomialNB
from fastgen.pipeline import TextClassifier
from fastgen.text import CountVectorizer, HashingVectorizer

WORDS = "cat dog Café naïve ΟΔΟΣ İstanbul 東京 😀 x_y 42 fish bird tree".split()


def make_corpus(n_docs: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    docs = [" ".join(rng.choice(WORDS, rng.integers(0, 12))) for _ in range(n_docs)]
    return docs, rng.integers(0, 3, n_docs)


NB_PAIRS = [
    (MultinomialNB, SkMultinomialNB, {}),
    (ComplementNB, SkComplementNB, {}),
    (ComplementNB, SkComplementNB, {"norm": True}),
    (BernoulliNB, SkBernoulliNB, {}),
    (BernoulliNB, SkBernoulliNB, {"binarize": 0.5}),
]
VEC_PARAMS = [
    {},
    {"ngram_range": (1, 2)},
    {"analyzer": "char_wb", "ngram_range": (2, 3)},
    {"binary": True, "min_df": 2},
    {"stop_words": ["cat"], "lowercase": False},
]


@pytest.mark.parametrize("fg_nb, sk_nb, nb_params", NB_PAIRS)
@pytest.mark.parametrize("vec_params", VEC_PARAMS)
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_fused_equals_sklearn_pipeline(fg_nb, sk_nb, nb_params, vec_params, n_jobs):
    docs, y = make_corpus(1200)
    new_docs, _ = make_corpus(700, seed=1)
    model = TextClassifier(CountVectorizer(**vec_params, n_jobs=n_jobs), fg_nb(**nb_params))
    model.fit(docs, y)
    assert model._fused() is not None
    ref = make_pipeline(SkCountVectorizer(**vec_params), sk_nb(**nb_params)).fit(docs, y)
    np.testing.assert_array_equal(
        model.predict_joint_log_proba(new_docs),
        ref[-1].predict_joint_log_proba(ref[0].transform(new_docs)),
    )
    np.testing.assert_array_equal(model.predict_proba(new_docs), ref.predict_proba(new_docs))
    np.testing.assert_array_equal(
        model.predict_log_proba(new_docs), ref.predict_log_proba(new_docs)
    )
    np.testing.assert_array_equal(model.predict(new_docs), ref.predict(new_docs))
    assert model.score(new_docs, ref.predict(new_docs)) == 1.0


def test_fused_equals_two_step_route():
    docs, y = make_corpus(500)
    model = TextClassifier(CountVectorizer(ngram_range=(1, 3)), MultinomialNB()).fit(docs, y)
    two_step = model.classifier_.predict_joint_log_proba(model.vectorizer_.transform(docs))
    np.testing.assert_array_equal(model.predict_joint_log_proba(docs), two_step)


class Subclassed(CountVectorizer):
    """A subclass may change transform: never fused."""


@pytest.mark.filterwarnings("ignore:The parameter 'token_pattern' will not be used")
@pytest.mark.parametrize(
    "vectorizer, classifier",
    [
        (CountVectorizer(token_pattern=r"\w+"), MultinomialNB()),  # Python tokenizer
        (HashingVectorizer(tokenizer=str.split, alternate_sign=False), MultinomialNB()),
        (HashingVectorizer(dtype=np.int8, norm=None), BernoulliNB()),  # int8 may wrap
        (CountVectorizer(dtype=np.uint8), MultinomialNB()),
        (Subclassed(), MultinomialNB()),
        (SkCountVectorizer(), MultinomialNB()),
        (CountVectorizer(), SkMultinomialNB()),
    ],
)
def test_unfusable_pairs_fall_back_to_two_steps(vectorizer, classifier):
    docs, y = make_corpus(300)
    model = TextClassifier(vectorizer, classifier).fit(docs, y)
    assert model._fused() is None
    X = model.vectorizer_.transform(docs)
    np.testing.assert_array_equal(model.predict_proba(docs), model.classifier_.predict_proba(X))
    np.testing.assert_array_equal(model.predict(docs), model.classifier_.predict(X))
    np.testing.assert_array_equal(
        model.predict_log_proba(docs), model.classifier_.predict_log_proba(X)
    )


def test_gaussian_nb_two_step_on_dense_features():
    docs, y = make_corpus(200)

    class Dense(CountVectorizer):
        def fit_transform(self, raw_documents, y=None):
            return super().fit_transform(raw_documents).toarray()

        def transform(self, raw_documents):
            return super().transform(raw_documents).toarray()

    model = TextClassifier(Dense(), GaussianNB()).fit(docs, y)
    assert model.predict(docs).shape == (200,)


def test_defaults_params_and_clone():
    docs, y = make_corpus(100)
    model = TextClassifier().fit(docs, y)
    assert isinstance(model.vectorizer_, CountVectorizer)
    assert isinstance(model.classifier_, MultinomialNB)
    np.testing.assert_array_equal(model.classes_, [0, 1, 2])
    est = TextClassifier(CountVectorizer(min_df=2), MultinomialNB(alpha=0.5))
    assert est.get_params()["classifier__alpha"] == 0.5
    est.set_params(vectorizer__min_df=3)
    assert est.vectorizer.min_df == 3
    twin = clone(est)
    assert twin.vectorizer is not est.vectorizer and twin.vectorizer.min_df == 3


def test_grid_search_over_fused_model():
    from sklearn.model_selection import GridSearchCV

    docs, y = make_corpus(300)
    grid = GridSearchCV(
        TextClassifier(CountVectorizer(), MultinomialNB()),
        {"classifier__alpha": [0.1, 1.0], "vectorizer__ngram_range": [(1, 1), (1, 2)]},
        cv=3,
    ).fit(docs, y)
    assert set(grid.best_params_) == {"classifier__alpha", "vectorizer__ngram_range"}


def test_errors():
    docs, y = make_corpus(50)
    with pytest.raises(NotFittedError):
        TextClassifier().predict(docs)
    with pytest.raises(ValueError, match="string object received"):
        TextClassifier().fit("one document", [0])
    model = TextClassifier().fit(docs, y)
    with pytest.raises(TypeError, match="str"):
        model.predict(["fine", 3])


# --------------------------------------------------------------------------- hashing front

HASH_NB = [
    (MultinomialNB, SkMultinomialNB, {}),
    (ComplementNB, SkComplementNB, {}),
    (ComplementNB, SkComplementNB, {"norm": True}),
    (BernoulliNB, SkBernoulliNB, {}),
    (BernoulliNB, SkBernoulliNB, {"binarize": 0.5}),
    (BernoulliNB, SkBernoulliNB, {"binarize": 0.2}),
    (BernoulliNB, SkBernoulliNB, {"binarize": None}),
    (BernoulliNB, SkBernoulliNB, {"binarize": 1.5}),
]
HASH_CASES = [
    pytest.param(nb, sk, nb_params, norm, binary, alt, id=f"{nb.__name__}{nb_params}-{norm}-"
                 f"{'binary' if binary else 'counts'}-{'alt' if alt else 'noalt'}")
    for nb, sk, nb_params in HASH_NB
    for norm in ("l1", "l2", None)
    for binary in (False, True)
    for alt in (False, True)
    # these refuse negative training data, as scikit-learn's do
    if not (alt and nb is not BernoulliNB)
]


def assert_same(a, b):
    np.testing.assert_array_equal(a, b)  # NaN (BernoulliNB(binarize=None) on signs) = NaN


def two_step_jll(model, docs):
    return model.classifier_.predict_joint_log_proba(model.vectorizer_.transform(docs))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # log of negative sign sums
@pytest.mark.parametrize("fg_nb, sk_nb, nb_params, norm, binary, alternate_sign", HASH_CASES)
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_hashing_front_equals_two_steps_and_sklearn(
    fg_nb, sk_nb, nb_params, norm, binary, alternate_sign, n_jobs
):
    docs, y = make_corpus(600)
    new_docs, _ = make_corpus(700, seed=1)
    new_docs[:3] = ["", "zzz unknown ? !", "a"]  # empty, no term of the corpus, too short
    vec_params = dict(n_features=2**7, norm=norm, binary=binary, alternate_sign=alternate_sign,
                      ngram_range=(1, 2))  # few features: collisions, zero sums of signs
    model = TextClassifier(HashingVectorizer(**vec_params, n_jobs=n_jobs), fg_nb(**nb_params))
    model.fit(docs, y)
    assert model._fused() is not None
    jll = model.predict_joint_log_proba(new_docs)
    assert_same(jll, two_step_jll(model, new_docs))
    X = model.vectorizer_.transform(new_docs)
    assert_same(model.predict_proba(new_docs), model.classifier_.predict_proba(X))
    assert_same(model.predict_log_proba(new_docs), model.classifier_.predict_log_proba(X))
    assert_same(model.predict(new_docs), model.classifier_.predict(X))

    ref = make_pipeline(SkHashingVectorizer(**vec_params), sk_nb(**nb_params)).fit(docs, y)
    ref_jll = ref[-1].predict_joint_log_proba(ref[0].transform(new_docs))
    if norm is None:  # the same integer matrix: scikit-learn's very numbers
        assert_same(jll, ref_jll)
        assert_same(model.predict(new_docs), ref.predict(new_docs))
    else:  # fastgen normalises in double precision like scikit-learn, but not in its order
        np.testing.assert_allclose(jll, ref_jll, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(model.predict_proba(new_docs), ref.predict_proba(new_docs),
                                   rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    "vec_params",
    [
        {"analyzer": "char_wb", "ngram_range": (2, 3), "norm": "max"},
        {"analyzer": "char", "ngram_range": (1, 2), "dtype": np.float32},
        {"dtype": np.float32, "norm": "l2", "alternate_sign": False},
        {"dtype": np.int64, "norm": None, "alternate_sign": False},
        {"dtype": np.int32, "norm": "l1", "alternate_sign": False},  # float64 output
        {"stop_words": "english", "lowercase": False, "n_features": 2**20},
        {"strip_accents": "unicode", "n_features": 3},
    ],
)
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # log of negative sign sums
@pytest.mark.parametrize("binarize", [0.0, 0.3, None])
def test_hashing_front_dtypes_and_analyzers(vec_params, binarize):
    docs, y = make_corpus(400)
    new_docs, _ = make_corpus(300, seed=2)
    params = {"n_features": 64, "alternate_sign": True, **vec_params}
    for clf in (BernoulliNB(binarize=binarize), MultinomialNB()):
        if isinstance(clf, MultinomialNB) and params["alternate_sign"]:
            continue
        model = TextClassifier(HashingVectorizer(**params), clf).fit(docs, y)
        assert model._fused() is not None
        with np.errstate(all="ignore"):
            assert_same(model.predict_joint_log_proba(new_docs), two_step_jll(model, new_docs))


def test_bernoulli_threshold_compares_like_numpy_in_float32():
    """float32 values vs a Python-float threshold compare in float32 (NEP 50)."""
    docs = ["aa bb bb cc", "aa", "bb cc cc cc", "dd"] * 20
    y = [0, 1, 0, 1] * 20
    vec = HashingVectorizer(n_features=16, norm="l2", alternate_sign=False, dtype=np.float32)
    X = vec.transform(docs)
    for threshold in sorted(set(X.data.tolist()))[:4]:  # exactly a stored float32 value
        below = threshold - 1e-9  # rounds to ``threshold`` in float32
        for binarize in (threshold, below, np.float64(below)):
            model = TextClassifier(vec, BernoulliNB(binarize=binarize)).fit(docs, y)
            assert_same(model.predict_joint_log_proba(docs), two_step_jll(model, docs))
    # the two differ: a Python float is compared in float32, np.float64 in float64
    assert (X.data > below).sum() < (X.data > np.float64(below)).sum()


def test_hashing_front_errors_match_the_two_step_route():
    docs, y = make_corpus(100)
    model = TextClassifier(HashingVectorizer(n_features=32), BernoulliNB()).fit(docs, y)
    with pytest.raises(ValueError, match="empty sequence"):
        model.predict([])
    with pytest.raises(ValueError, match="empty sequence"):
        model.vectorizer_.transform([])
    model.vectorizer_.set_params(n_features=64)  # mismatch: scipy's own error, two steps
    assert model._fused() is None
    with pytest.raises(ValueError):
        model.predict(docs)
    model.vectorizer_.set_params(n_features=32, norm="l3")
    with pytest.raises(ValueError, match="norm"):
        model.predict(docs)
    cv = TextClassifier(CountVectorizer(), MultinomialNB()).fit(docs, y)
    with pytest.raises(ValueError, match="0 sample"):  # as the two steps and scikit-learn
        cv.predict_proba([])


def test_linear_form_is_cached_per_fitted_state():
    from fastgen.naive_bayes import linear_form

    docs, y = make_corpus(200)
    clf = MultinomialNB().fit(CountVectorizer().fit_transform(docs), y)
    form = linear_form(clf)
    assert linear_form(clf) is form
    clf.partial_fit(CountVectorizer().fit_transform(docs), y)
    again = linear_form(clf)
    assert again is not form
    np.testing.assert_array_equal(again.weights, clf.feature_log_prob_.T)
    assert linear_form(GaussianNB().fit(np.ones((2, 2)), [0, 1])) is None
    assert linear_form(SkMultinomialNB()) is None
    with pytest.raises(NotFittedError):
        linear_form(MultinomialNB())


# --------------------------------------------------------------------------- partial_fit


def batches(docs, y, size):
    return [(docs[i : i + size], y[i : i + size]) for i in range(0, len(docs), size)]


PARTIAL_FRONTS = [
    pytest.param(lambda: HashingVectorizer(n_features=2**8, alternate_sign=False, norm=None),
                 True, id="hashing-counts"),
    pytest.param(lambda: HashingVectorizer(n_features=2**8, norm=None, binary=True,
                                           alternate_sign=False, n_jobs=2),
                 True, id="hashing-binary-n_jobs=2"),
    pytest.param(lambda: HashingVectorizer(n_features=2**8, alternate_sign=False),
                 False, id="hashing-l2"),
    pytest.param(lambda: CountVectorizer(vocabulary=["cat", "dog", "fish", "bird", "tree",
                                                     "42", "x_y", "東京", "naïve"]),
                 True, id="fixed-vocabulary"),
]


@pytest.mark.parametrize("make_vec, exact", PARTIAL_FRONTS)
@pytest.mark.parametrize("nb", [MultinomialNB, ComplementNB, BernoulliNB])
def test_partial_fit_equals_one_fit(make_vec, exact, nb):
    docs, y = make_corpus(1000)
    y = np.asarray(y)
    # quarter weights: sums exact in binary, in any order
    weights = np.random.default_rng(3).integers(1, 9, len(docs)) / 4 if exact else None
    streamed = TextClassifier(make_vec(), nb())
    for i, (chunk, labels) in enumerate(batches(docs, y, 170)):
        sw = None if weights is None else weights[170 * i : 170 * (i + 1)]
        streamed.partial_fit(chunk, labels, classes=[0, 1, 2] if i == 0 else None,
                             sample_weight=sw)
    whole = TextClassifier(make_vec(), nb()).fit(docs, y, sample_weight=weights)
    s, w = streamed.classifier_, whole.classifier_
    np.testing.assert_array_equal(streamed.classes_, whole.classes_)
    np.testing.assert_array_equal(s.class_count_, w.class_count_)
    new_docs, _ = make_corpus(300, seed=4)
    if exact:  # integer counts times quarter weights: sums in any order agree
        np.testing.assert_array_equal(s.feature_count_, w.feature_count_)
        np.testing.assert_array_equal(s.feature_log_prob_, w.feature_log_prob_)
        np.testing.assert_array_equal(streamed.predict_proba(new_docs),
                                      whole.predict_proba(new_docs))
    else:
        np.testing.assert_allclose(s.feature_count_, w.feature_count_, rtol=1e-12)
        np.testing.assert_allclose(streamed.predict_proba(new_docs),
                                   whole.predict_proba(new_docs), rtol=1e-9)
    np.testing.assert_array_equal(streamed.predict(new_docs), whole.predict(new_docs))


def test_partial_fit_equals_sklearn_partial_fit():
    from sklearn.feature_extraction.text import HashingVectorizer as SkHashingVectorizer

    docs, y = make_corpus(900)
    params = dict(n_features=2**9, alternate_sign=False, norm=None)
    model = TextClassifier(HashingVectorizer(**params), MultinomialNB())
    sk_vec, sk_clf = SkHashingVectorizer(**params), SkMultinomialNB()
    for chunk, labels in batches(docs, np.asarray(y), 200):
        model.partial_fit(chunk, labels, classes=[0, 1, 2])
        sk_clf.partial_fit(sk_vec.transform(chunk), labels, classes=[0, 1, 2])
    np.testing.assert_array_equal(model.classifier_.feature_count_, sk_clf.feature_count_)
    new_docs, _ = make_corpus(300, seed=5)
    np.testing.assert_array_equal(model.predict_proba(new_docs),
                                  sk_clf.predict_proba(sk_vec.transform(new_docs)))


@pytest.mark.parametrize(
    "vectorizer, message",
    [
        (CountVectorizer(), "without a fixed vocabulary learns it from all the documents"),
        (None, "without a fixed vocabulary"),
        (SkCountVectorizer(), "without a fixed vocabulary"),
        (Subclassed(), "Subclassed is not known to transform each document"),
    ],
)
def test_partial_fit_refuses_data_dependent_fronts(vectorizer, message):
    docs, y = make_corpus(50)
    model = TextClassifier(vectorizer, MultinomialNB())
    with pytest.raises(ValueError, match=message):
        model.partial_fit(docs, y, classes=[0, 1, 2])
    assert not hasattr(model, "classifier_")


def test_partial_fit_conventions():
    docs, y = make_corpus(60)
    model = TextClassifier(HashingVectorizer(n_features=64, alternate_sign=False))
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        model.partial_fit(docs, y)
    assert not hasattr(model, "classifier_")
    model.partial_fit(docs, y, classes=[0, 1, 2, 3])
    np.testing.assert_array_equal(model.classes_, [0, 1, 2, 3])
    model.partial_fit(docs, y)  # classes optional later
    with pytest.raises(ValueError, match="not the same as on last call"):
        model.partial_fit(docs, y, classes=[0, 1])
    with pytest.raises(ValueError, match="do not exist in the initial classes"):
        model.partial_fit(docs[:1], [7])
    np.testing.assert_array_equal(model.classifier_.class_count_.sum(), 2 * len(docs))
    with pytest.raises(ValueError, match="needs a classifier with partial_fit"):
        TextClassifier(HashingVectorizer(), _NoPartialFit()).partial_fit(docs, y, classes=[0])
    # fit, then more batches: training goes on
    model = TextClassifier(HashingVectorizer(n_features=64, alternate_sign=False)).fit(docs, y)
    model.partial_fit(docs, y)
    np.testing.assert_array_equal(model.classifier_.class_count_.sum(), 2 * len(docs))
    # the unfitted estimator is untouched and clones cleanly
    assert clone(model).get_params()["vectorizer"].n_features == 64


class _NoPartialFit(GaussianNB):
    partial_fit = property()  # hasattr -> False

    def __getattribute__(self, name):
        if name == "partial_fit":
            raise AttributeError(name)
        return super().__getattribute__(name)


# --------------------------------------------------------------------------- tf-idf front

TFIDF_PARAMS = [
    {},
    {"sublinear_tf": True, "norm": "l1"},
    {"use_idf": False, "ngram_range": (1, 2)},
    {"dtype": np.float32, "min_df": 2},
    {"binary": True, "norm": None, "smooth_idf": False},
    {"analyzer": "char_wb", "ngram_range": (2, 3), "sublinear_tf": True},
]


@pytest.mark.parametrize("fg_nb, sk_nb, nb_params", NB_PAIRS + [
    (BernoulliNB, SkBernoulliNB, {"binarize": 0.1}),
    (BernoulliNB, SkBernoulliNB, {"binarize": None}),
])
@pytest.mark.parametrize("vec_params", TFIDF_PARAMS)
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_tfidf_front_equals_two_steps_and_sklearn(fg_nb, sk_nb, nb_params, vec_params, n_jobs):
    from sklearn.feature_extraction.text import TfidfVectorizer as SkTfidfVectorizer

    from fastgen.text import TfidfVectorizer

    docs, y = make_corpus(600)
    new_docs, _ = make_corpus(700, seed=1)
    new_docs[:2] = ["", "zzz unknown"]
    model = TextClassifier(TfidfVectorizer(**vec_params, n_jobs=n_jobs), fg_nb(**nb_params))
    model.fit(docs, y)
    assert model._fused() is not None
    jll = model.predict_joint_log_proba(new_docs)
    assert_same(jll, two_step_jll(model, new_docs))
    X = model.vectorizer_.transform(new_docs)
    assert_same(model.predict_proba(new_docs), model.classifier_.predict_proba(X))
    ref = make_pipeline(SkTfidfVectorizer(**vec_params), sk_nb(**nb_params)).fit(docs, y)
    tol = 1e-5 if vec_params.get("dtype") == np.float32 else 1e-9
    np.testing.assert_allclose(model.predict_proba(new_docs), ref.predict_proba(new_docs),
                               rtol=tol, atol=tol)


def test_tfidf_partial_fit_needs_a_vocabulary_and_no_idf():
    from fastgen.text import TfidfVectorizer

    docs, y = make_corpus(400)
    y = np.asarray(y)
    vocab = ["cat", "dog", "fish", "bird", "tree", "42", "x_y", "東京"]
    for bad, message in [(TfidfVectorizer(), "without a fixed vocabulary"),
                         (TfidfVectorizer(vocabulary=vocab), "use_idf=True weighs terms")]:
        with pytest.raises(ValueError, match=message):
            TextClassifier(bad).partial_fit(docs, y, classes=[0, 1, 2])
    make = lambda: TfidfVectorizer(vocabulary=vocab, use_idf=False, norm="l1")  # noqa: E731
    streamed = TextClassifier(make(), ComplementNB())
    for i, (chunk, labels) in enumerate(batches(docs, y, 150)):
        streamed.partial_fit(chunk, labels, classes=[0, 1, 2] if i == 0 else None)
    whole = TextClassifier(make(), ComplementNB()).fit(docs, y)
    np.testing.assert_allclose(streamed.classifier_.feature_count_,
                               whole.classifier_.feature_count_, rtol=1e-12)
    np.testing.assert_allclose(streamed.predict_proba(docs), whole.predict_proba(docs),
                               rtol=1e-9)


@pytest.mark.parametrize("module", ["fastgen.pipeline", "fastgen.naive_bayes",
                                    "fastgen.text._fused"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module),
                             optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
