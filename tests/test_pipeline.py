"""The fused text classifier equals the two-step route and scikit-learn's Pipeline."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer as SkCountVectorizer
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
    assert model._fused_scorer() is not None
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


@pytest.mark.parametrize(
    "vectorizer, classifier",
    [
        (CountVectorizer(token_pattern=r"\w+"), MultinomialNB()),  # Python tokenizer
        (HashingVectorizer(alternate_sign=False, norm=None), MultinomialNB()),
        (CountVectorizer(), BernoulliNB(binarize=2.0)),  # no linear form over indicators
    ],
)
def test_unfusable_pairs_fall_back_to_two_steps(vectorizer, classifier):
    docs, y = make_corpus(300)
    model = TextClassifier(vectorizer, classifier).fit(docs, y)
    assert model._fused_scorer() is None
    X = model.vectorizer_.transform(docs)
    np.testing.assert_array_equal(model.predict_proba(docs), model.classifier_.predict_proba(X))


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
