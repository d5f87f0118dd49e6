"""fastgen vs scikit-learn: TF-IDF vectorizing, and tf-idf -> Naive Bayes from raw text.

Same conventions as ``test_bench_text.py``: each group times scikit-learn and fastgen
(``n_jobs`` 1 and 2) in the same run on the same synthetic corpus, checks fastgen's
answer against scikit-learn's outside the timing, and records the peak RSS of a
``fit_transform`` in a fresh interpreter. ``python -m benchmarks.report`` gives the
ratios.
"""

from __future__ import annotations

import pytest
from sklearn import naive_bayes as sk_nb
from sklearn.feature_extraction.text import TfidfVectorizer as SkTfidfVectorizer
from sklearn.pipeline import make_pipeline

from benchmarks.conftest import (
    FASTGEN_J1,
    FASTGEN_J2,
    SKLEARN,
    Variant,
    assert_close,
    assert_same_sparse,
    cached,
    import_fastgen,
    measure_peak_rss,
    run_benchmark,
)

VARIANTS = [SKLEARN, FASTGEN_J1, FASTGEN_J2]


def ids(variants: list[Variant]) -> list[str]:
    return [v.id for v in variants]


def tfidf_vectorizer(variant: Variant, **params):
    if not variant.is_fastgen:
        return SkTfidfVectorizer(**params)
    cls = getattr(import_fastgen("text"), "TfidfVectorizer", None)
    if cls is None:
        pytest.skip("this fastgen has no TfidfVectorizer")
    return cls(n_jobs=variant.n_jobs, **params)


def ref_tfidf(reference, data):
    key = ("TfidfVectorizer.fit", data.name)
    return cached(reference, key, lambda: SkTfidfVectorizer().fit(data.train_docs))


@pytest.mark.parametrize("variant", VARIANTS, ids=ids(VARIANTS))
def test_tfidf_vectorizer_fit_transform(benchmark, variant, synthetic, size, reference,
                                        docs_file):
    data = synthetic
    tfidf_vectorizer(variant)  # skip early if fastgen lacks it
    X = run_benchmark(benchmark, lambda: tfidf_vectorizer(variant).fit_transform(data.train_docs),
                      group="TfidfVectorizer.fit_transform[synthetic]", variant=variant,
                      size=size, n_docs=len(data.train_docs), corpus_mb=data.train_mb)
    key = ("TfidfVectorizer.fit_transform", data.name)
    if variant.is_fastgen:
        # float64 results are bit for bit scikit-learn's
        assert_same_sparse(X, cached(reference, key, lambda: ref_tfidf(reference, data)
                                     .transform(data.train_docs)))
    else:
        reference.setdefault(key, X)
    benchmark.extra_info["nnz"] = int(X.nnz)
    mem = measure_peak_rss(docs_file(data), variant, vectorizer="TfidfVectorizer")
    assert mem["nnz"] == X.nnz
    benchmark.extra_info["peak_rss_mb"] = mem["peak_rss_mb"]
    benchmark.extra_info["peak_rss_increase_mb"] = mem["peak_increase_mb"]
    benchmark.extra_info["peak_rss_method"] = mem["method"]


@pytest.mark.parametrize("variant", VARIANTS, ids=ids(VARIANTS))
def test_tfidf_vectorizer_transform(benchmark, variant, synthetic, size, reference):
    data = synthetic
    vec = tfidf_vectorizer(variant).fit(data.train_docs)  # untimed
    X = run_benchmark(benchmark, lambda: vec.transform(data.test_docs),
                      group="TfidfVectorizer.transform[synthetic]", variant=variant,
                      size=size, n_docs=len(data.test_docs), corpus_mb=data.test_mb)
    key = ("TfidfVectorizer.transform", data.name)
    want = cached(reference, key, lambda: ref_tfidf(reference, data).transform(data.test_docs))
    assert_same_sparse(X, want)
    benchmark.extra_info["nnz"] = int(X.nnz)


@pytest.mark.parametrize("variant", VARIANTS, ids=ids(VARIANTS))
def test_tfidf_naive_bayes_predict_proba(benchmark, variant, synthetic, size, reference):
    """Raw text -> class probabilities: scikit-learn's ``make_pipeline(TfidfVectorizer,
    MultinomialNB)`` against fastgen's ``TextClassifier`` with a TfidfVectorizer front."""
    data = synthetic
    if variant.is_fastgen:
        clf = import_fastgen("pipeline").TextClassifier(
            tfidf_vectorizer(variant), import_fastgen("naive_bayes").MultinomialNB())
    else:
        clf = make_pipeline(SkTfidfVectorizer(), sk_nb.MultinomialNB())
    clf.fit(data.train_docs, data.y_train)  # untimed
    proba = run_benchmark(benchmark, lambda: clf.predict_proba(data.test_docs),
                          group="TfidfVectorizer+MultinomialNB.predict_proba[synthetic]",
                          variant=variant, size=size, n_docs=len(data.test_docs),
                          corpus_mb=data.test_mb)
    key = ("Tfidf+NB.predict_proba", data.name)
    if variant.is_fastgen:
        want = cached(reference, key, lambda: make_pipeline(
            SkTfidfVectorizer(), sk_nb.MultinomialNB()).fit(data.train_docs, data.y_train)
            .predict_proba(data.test_docs))
        assert_close(proba, want, rtol=1e-9, atol=1e-12)
    else:
        reference.setdefault(key, proba)
