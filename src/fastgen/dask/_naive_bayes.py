"""Distributed Naive Bayes fitting: per-partition counts, summed, finalised on the client."""

from __future__ import annotations

from typing import Any

import dask
import numpy as np

from fastgen.dask._common import (
    aligned_partitions,
    check_same_length,
    collection_kind,
    embed,
    partitions,
    ship,
    tree_reduce,
)


def _check_classifier(classifier: Any) -> None:
    from fastgen.naive_bayes import _LinearDiscreteNB

    if not isinstance(classifier, _LinearDiscreteNB):
        raise TypeError(
            "distributed fitting supports fastgen's MultinomialNB, ComplementNB and "
            f"BernoulliNB (additive counts), got {type(classifier).__name__}; GaussianNB's "
            "pooled variances do not combine bit-exactly across partitions"
        )


# --------------------------------------------------------------------------- reductions


def _merge_labels(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    if a is None or b is None:
        return a if b is None else b
    return np.unique(np.concatenate([a, b]))


def _add_counts(a: tuple | None, b: tuple | None) -> tuple | None:
    if a is None or b is None:
        return a if b is None else b
    return a[0] + b[0], a[1] + b[1]


def _merge_terms(a: tuple | None, b: tuple | None) -> tuple | None:
    """Merge ``(terms, dfs, tfs, n_docs)``; terms keep their first-appearance order."""
    if a is None or b is None:
        return a if b is None else b
    terms, dfs, tfs, n_a = a
    b_terms, b_dfs, b_tfs, n_b = b
    index = {t: i for i, t in enumerate(terms)}
    terms = list(terms)
    ids = np.empty(len(b_terms), dtype=np.int64)
    for k, t in enumerate(b_terms):
        i = index.get(t)
        if i is None:
            i = index[t] = len(terms)
            terms.append(t)
        ids[k] = i
    out_dfs = np.zeros(len(terms), dtype=np.result_type(dfs, b_dfs))
    out_tfs = np.zeros(len(terms), dtype=np.result_type(tfs, b_tfs))
    out_dfs[: len(dfs)] = dfs
    out_tfs[: len(tfs)] = tfs
    out_dfs[ids] += b_dfs  # ids are distinct: no repeated index
    out_tfs[ids] += b_tfs
    return terms, out_dfs, out_tfs, n_a + n_b


# --------------------------------------------------------------------------- partitions


def _as_list(part: Any) -> list:
    return part.tolist() if hasattr(part, "tolist") else list(part)


def _labels(y: Any) -> np.ndarray | None:
    from fastgen._validation import check_y

    y = check_y(np.asarray(_as_list(y)), estimator_name="fastgen.dask")
    return np.unique(y) if len(y) else None


def _vocabulary_stats(vectorizer: Any, docs: Any, y: Any, index: int, learn: bool) -> tuple:
    docs = _as_list(docs)
    check_same_length(len(docs), y, "y", index)
    terms = None
    if learn and docs:
        terms = (*vectorizer._term_frequencies(docs), len(docs))
    return terms, _labels(y)


def _partition_counts(
    classifier: Any, vectorizer: Any, X: Any, y: Any, sw: Any, classes: np.ndarray, index: int
) -> tuple | None:
    from fastgen._base import clone

    if vectorizer is not None:
        X = _as_list(X)
    n = X.shape[0] if hasattr(X, "shape") else len(X)
    check_same_length(n, y, "y", index)
    check_same_length(n, sw, "sample_weight", index)
    if n == 0:
        return None
    if vectorizer is not None:
        X = vectorizer.transform(X)
    elif hasattr(X, "to_numpy"):
        X = X.to_numpy()
    y = np.asarray(_as_list(y))
    if sw is not None:
        sw = np.asarray(_as_list(sw))
    est = clone(classifier).partial_fit(X, y, classes=classes, sample_weight=sw)
    return est.class_count_, est.feature_count_


def _fit_counts(
    classifier: Any, vectorizer: Any, X_parts: list, y_parts: list, sw_parts: list, classes
) -> Any:
    """Fit ``classifier`` in place from counts summed over the partitions."""
    from fastgen._base import clone

    # the fitted vectorizer (its vocabulary can be large) goes to each worker once; the
    # unfitted classifier template is tiny and rides in the graph
    vec = None if vectorizer is None else ship(vectorizer, keep=False)
    clf = embed(clone(classifier))
    counts = [
        dask.delayed(_partition_counts, pure=True)(clf, vec, x, y, w, classes, i)
        for i, (x, y, w) in enumerate(zip(X_parts, y_parts, sw_parts, strict=True))
    ]
    total = tree_reduce(counts, _add_counts).compute()
    if total is None:
        raise ValueError("the data has no rows")
    return classifier._fit_from_counts(classes, *total)


# --------------------------------------------------------------------------- public


def fit_naive_bayes(classifier: Any, X: Any, y: Any, *, sample_weight: Any = None) -> Any:
    """Fit a count-based Naive Bayes on Dask data; same model as ``classifier.fit``.

    Each partition is counted by a clone of ``classifier`` (``partial_fit`` with all
    classes), the class and feature counts are summed on the cluster, and the client
    finalises them with the classifier's own code (``feature_log_prob_``,
    ``class_log_prior_``).  Two passes over the data: labels, then counts.

    Parameters
    ----------
    classifier : MultinomialNB, ComplementNB or BernoulliNB
        Fitted in place (like ``fit``) and returned.
    X : dask array (n_samples, n_features) or dask DataFrame of feature columns
    y : dask array (n_samples,), Series or Bag partitioned like ``X``
    sample_weight : dask collection (n_samples,) partitioned like ``X``, optional

    Returns
    -------
    classifier
        Exactly equal to a local fit when the features and weights are integers
        (counts); otherwise equal to rounding (partition sums are added in another order).
    """
    _check_classifier(classifier)
    classifier._validate_params()
    X_parts = partitions(X, "X")
    y_parts = aligned_partitions(X_parts, y, "y")
    sw_parts = aligned_partitions(X_parts, sample_weight, "sample_weight")
    labels = [dask.delayed(_labels, pure=True)(yp) for yp in y_parts]
    classes = _classes(tree_reduce(labels, _merge_labels).compute())
    return _fit_counts(classifier, None, X_parts, y_parts, sw_parts, classes)


def fit_text_classifier(
    model: Any,
    documents: Any,
    y: Any = None,
    *,
    column: str | None = None,
    target: str | None = None,
    sample_weight: Any = None,
) -> Any:
    """Fit a :class:`fastgen.pipeline.TextClassifier` on Dask data, as ``model.fit`` would.

    A ``CountVectorizer`` learns its vocabulary from per-partition document and term
    frequencies merged on the cluster, then selected on the client by the
    vectorizer's own rule (``min_df``, ``max_df``, ``max_features``, sorted terms); a
    ``HashingVectorizer`` or a fixed ``vocabulary`` needs no such pass.  The classifier
    is then fitted from summed counts (see :func:`fit_naive_bayes`).

    Parameters
    ----------
    model : TextClassifier
        Its ``vectorizer`` (CountVectorizer or HashingVectorizer, default
        CountVectorizer()) and ``classifier`` (MultinomialNB, ComplementNB or
        BernoulliNB, default MultinomialNB()); fitted in place and returned.
    documents : dask Bag or Series of str, or a dask DataFrame
        With a DataFrame, the text is ``column`` and the labels ``target``.
    y : dask Bag, Series or array (n_documents,), partitioned like ``documents``
    column, target : str
        DataFrame inputs: the text and label columns.
    sample_weight : dask collection (n_documents,), optional

    Returns
    -------
    model
        ``vectorizer_.vocabulary_`` and the classifier's arrays equal a local fit
        exactly for count features (``CountVectorizer``; ``HashingVectorizer`` with
        ``norm=None``); to rounding for normalised features.
    """
    from fastgen._base import clone
    from fastgen.naive_bayes import MultinomialNB
    from fastgen.pipeline import TextClassifier
    from fastgen.text import CountVectorizer, HashingVectorizer

    if not isinstance(model, TextClassifier):
        raise TypeError(f"model must be a fastgen TextClassifier, got {type(model).__name__}")
    docs, y = _text_inputs(documents, y, column, target)
    vec = clone(model.vectorizer) if model.vectorizer is not None else CountVectorizer()
    clf = clone(model.classifier) if model.classifier is not None else MultinomialNB()
    if type(vec) not in (CountVectorizer, HashingVectorizer):
        raise TypeError(
            "distributed fitting supports fastgen's CountVectorizer and HashingVectorizer, "
            f"got {type(vec).__name__}"
        )
    _check_classifier(clf)
    clf._validate_params()
    vec._validate_params()
    doc_parts = partitions(docs, "documents")
    y_parts = aligned_partitions(doc_parts, y, "y")
    sw_parts = aligned_partitions(doc_parts, sample_weight, "sample_weight")

    learn = isinstance(vec, CountVectorizer) and vec.vocabulary is None
    node = embed(vec)  # not fitted yet: small
    stats = [
        dask.delayed(_vocabulary_stats, pure=True)(node, d, yp, i, learn)
        for i, (d, yp) in enumerate(zip(doc_parts, y_parts, strict=True))
    ]
    terms, labels = tree_reduce(stats, _merge_stats).compute()
    classes = _classes(labels)
    if learn:
        if terms is None:
            raise ValueError("the documents are empty")
        vec._fit_from_frequencies(*terms)
    else:
        vec.fit([])
    model.vectorizer_ = vec
    model.classifier_ = _fit_counts(clf, vec, doc_parts, y_parts, sw_parts, classes)
    model.classes_ = model.classifier_.classes_
    return model


def _merge_stats(a: tuple, b: tuple) -> tuple:
    return _merge_terms(a[0], b[0]), _merge_labels(a[1], b[1])


def _classes(labels: np.ndarray | None) -> np.ndarray:
    from fastgen._validation import unique_labels

    if labels is None:
        raise ValueError("y is empty: no labels to fit")
    return unique_labels(labels)


def _text_inputs(documents: Any, y: Any, column: str | None, target: str | None):
    kind = collection_kind(documents, "documents")
    if kind == "dataframe":
        if column is None or target is None:
            raise ValueError("with a DataFrame pass column= (text) and target= (labels)")
        if y is not None:
            raise ValueError("pass the labels as target= or as y, not both")
        for c in (column, target):
            if c not in documents.columns:
                raise ValueError(f"column {c!r} is not in the DataFrame")
        return documents[column], documents[target]
    if column is not None or target is not None:
        raise ValueError("column= and target= apply to dask DataFrames only")
    if kind == "array":
        raise TypeError("documents must be a dask Bag, Series or DataFrame, not an array")
    if y is None:
        raise ValueError("y is required (or a DataFrame with target=)")
    return documents, y
