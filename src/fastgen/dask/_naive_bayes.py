"""Distributed Naive Bayes fitting: per-partition counts, summed, finalised on the client."""

from __future__ import annotations

from dataclasses import dataclass
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


# --------------------------------------------------------------------------- partial counts


@dataclass
class _Counts:
    """Counters of some partitions: one partition's, or several merged.

    ``classes`` sorted labels seen (n_classes,); ``class_count`` (n_classes,) and
    ``feature_count`` (n_classes, n_features) float64, the classifier's own counters
    over those classes.  When the vocabulary is being learned the feature columns are
    ``terms`` (first-appearance order) with document frequencies ``dfs``, term
    frequencies ``tfs`` and ``n_docs`` documents; otherwise ``terms`` is None and the
    columns are the (fixed) features.  Term statistics alone (the first pass of a
    tf-idf fit, :func:`_partition_terms`) count no classes: zero classes.
    """

    classes: np.ndarray
    class_count: np.ndarray
    feature_count: np.ndarray
    terms: list | None = None
    dfs: np.ndarray | None = None
    tfs: np.ndarray | None = None
    n_docs: int = 0


def _merge_counts(*items: _Counts | None) -> _Counts | None:
    """Sum partial counts (None: an empty partition), given in data order.

    One k-way merge: classes are united (sorted), terms merged in first-appearance
    order and every array allocated once, so the result does not depend on how the
    partitions are grouped.  The sums are exact for integer counts and weights
    (float64 holds integers up to 2**53 exactly).
    """
    items = tuple(c for c in items if c is not None)
    if len(items) <= 1:
        return items[0] if items else None
    classes = np.unique(np.concatenate([c.classes for c in items]))
    rows = [np.searchsorted(classes, c.classes) for c in items]
    merged: dict = {}
    if items[0].terms is None:
        widths = {c.feature_count.shape[1] for c in items}
        if len(widths) > 1:
            raise ValueError(
                f"partitions have {sorted(widths)} features; every partition must have "
                "the same feature columns"
            )
        width = widths.pop()
        cols: list = [slice(None)] * len(items)
    else:
        terms, cols = _merge_terms([c.terms for c in items])
        width = len(terms)
        dfs = np.zeros(width, dtype=np.result_type(*(c.dfs for c in items)))
        tfs = np.zeros(width, dtype=np.result_type(*(c.tfs for c in items)))
        for c, ids in zip(items, cols, strict=True):
            dfs[ids] += c.dfs  # ids are distinct: no repeated index
            tfs[ids] += c.tfs
        merged = {"terms": terms, "dfs": dfs, "tfs": tfs, "n_docs": sum(c.n_docs for c in items)}
    class_count = np.zeros(len(classes), dtype=np.float64)
    feature_count = np.zeros((len(classes), width), dtype=np.float64)
    for c, r, ids in zip(items, rows, cols, strict=True):
        class_count[r] += c.class_count
        if isinstance(ids, slice):
            feature_count[r, ids] += c.feature_count
        else:
            feature_count[np.ix_(r, ids)] += c.feature_count
    return _Counts(classes, class_count, feature_count, **merged)


def _merge_terms(term_lists: list) -> tuple[list, list]:
    """Union of ``term_lists`` in first-appearance order, and each list's positions in it.

    Each list holds distinct terms.  The first list keeps its positions (a slice);
    later lists get index arrays.
    """
    terms = list(term_lists[0])
    index = {t: i for i, t in enumerate(terms)}
    cols: list = [slice(0, len(terms))]
    for more in term_lists[1:]:
        ids = np.empty(len(more), dtype=np.int64)
        for k, t in enumerate(more):
            i = index.get(t)
            if i is None:
                i = index[t] = len(terms)
                terms.append(t)
            ids[k] = i
        cols.append(ids)
    return terms, cols


# --------------------------------------------------------------------------- partitions


def _as_list(part: Any) -> list:
    return part.tolist() if hasattr(part, "tolist") else list(part)


def _partition_counts(
    classifier: Any, vectorizer: Any, learn: bool, X: Any, y: Any, sw: Any, index: int
) -> _Counts | None:
    """Count one partition with a clone of ``classifier`` (``partial_fit``).

    With ``learn`` the documents are tokenised once, over the partition's own terms
    (the vocabulary is chosen later, on the client); otherwise ``vectorizer`` (fitted:
    hashing or a fixed vocabulary) transforms them, or ``X`` holds feature rows.
    """
    from fastgen._base import clone
    from fastgen._validation import check_y

    if vectorizer is not None:
        X = _as_list(X)
    n = X.shape[0] if hasattr(X, "shape") else len(X)
    check_same_length(n, y, "y", index)
    check_same_length(n, sw, "sample_weight", index)
    if n == 0:
        return None
    stats: dict = {}
    if learn:
        # the count matrix over this partition's terms is kept for the class counts
        terms, dfs, tfs, X = vectorizer._term_frequencies(X)
        stats = {"terms": terms, "dfs": dfs, "tfs": tfs, "n_docs": n}
    elif vectorizer is not None:
        X = vectorizer.transform(X)
    elif hasattr(X, "to_numpy"):
        X = X.to_numpy()
    y = np.asarray(_as_list(y))
    if sw is not None:
        sw = np.asarray(_as_list(sw))
    width = X.shape[1]
    if width == 0:  # no terms here (stop words only): count the classes on a blank column
        X = X.copy()
        X.resize((n, 1))
    classes = np.unique(check_y(y, estimator_name="fastgen.dask"))
    est = clone(classifier).partial_fit(X, y, classes=classes, sample_weight=sw)
    return _Counts(est.classes_, est.class_count_, est.feature_count_[:, :width], **stats)


def _partition_terms(vectorizer: Any, X: Any) -> _Counts | None:
    """Term statistics of one partition (terms, document and term frequencies), no
    class counts: the first pass of a tf-idf fit."""
    docs = _as_list(X)
    if not docs:
        return None
    terms, dfs, tfs, _ = vectorizer._term_frequencies(docs)
    return _Counts(np.empty(0), np.zeros(0), np.zeros((0, len(terms))), terms, dfs, tfs,
                   len(docs))


def _term_statistics(vectorizer: Any, X_parts: list) -> _Counts:
    """Term statistics of every partition, summed on the cluster (one pass, no labels)."""
    vec = ship(vectorizer, keep=False)  # unfitted; a given vocabulary can be large
    stats = [dask.delayed(_partition_terms, pure=True)(vec, x) for x in X_parts]
    total = tree_reduce(stats, _merge_counts, many=True).compute()
    if total is None:
        raise ValueError("the data has no rows")
    return total


def _fit_counts(
    classifier: Any, vectorizer: Any, learn: bool, X_parts: list, y_parts: list, sw_parts: list
) -> _Counts:
    """Count every partition and sum the counts on the cluster: one pass over the data."""
    from fastgen._base import clone

    if vectorizer is None or learn:
        vec = None if vectorizer is None else embed(vectorizer)  # unfitted: small
    else:
        # a fitted vectorizer (a fixed vocabulary can be large) goes to each worker once
        vec = ship(vectorizer, keep=False)
    clf = embed(clone(classifier))  # the unfitted template is tiny and rides in the graph
    counts = [
        dask.delayed(_partition_counts, pure=True)(clf, vec, learn, x, y, w, i)
        for i, (x, y, w) in enumerate(zip(X_parts, y_parts, sw_parts, strict=True))
    ]
    total = tree_reduce(counts, _merge_counts, many=True).compute()
    if total is None:
        raise ValueError("the data has no rows")
    return total


def _finish(classifier: Any, counts: _Counts, feature_count: np.ndarray) -> Any:
    """Fit ``classifier`` in place from the summed counters, with ``fit``'s own code."""
    return classifier._fit_from_counts(_classes(counts.classes), counts.class_count, feature_count)


# --------------------------------------------------------------------------- public


def fit_naive_bayes(classifier: Any, X: Any, y: Any, *, sample_weight: Any = None) -> Any:
    """Fit a count-based Naive Bayes on Dask data; same model as ``classifier.fit``.

    One pass over the data: each partition is counted by a clone of ``classifier``
    (``partial_fit`` with the partition's classes), the class and feature counts are
    summed on the cluster in a tree of merges (classes united), and the client
    finalises them with the classifier's own code (``feature_log_prob_``,
    ``class_log_prior_``).

    Parameters
    ----------
    classifier : MultinomialNB, ComplementNB or BernoulliNB
        Fitted in place (like ``fit``) and returned.
    X : dask array of shape (n_samples, n_features) or dask DataFrame
        Feature rows (non-negative counts or weights); a DataFrame's columns are the
        features.
    y : dask array of shape (n_samples,), dask Series or dask Bag
        Class labels, partitioned like ``X`` (same number of partitions and rows
        per partition).
    sample_weight : dask collection of shape (n_samples,), optional
        Per-row weights, partitioned like ``X``; None weighs every row 1.

    Returns
    -------
    classifier : object
        The fitted classifier.  Exactly equal to a local fit when the features and
        weights are integers (counts); otherwise equal to rounding (partition sums
        are added in another order).

    Raises
    ------
    TypeError
        ``classifier`` is not a MultinomialNB, ComplementNB or BernoulliNB.
    ValueError
        Invalid parameters, misaligned partitions, or no rows.

    See Also
    --------
    fit_text_classifier : Fit a vectorizer and classifier on documents.
    predict : Batch inference with the fitted model.

    Examples
    --------
    >>> import dask
    >>> import dask.array as da
    >>> import numpy as np
    >>> import fastgen.dask as fd
    >>> from fastgen.naive_bayes import MultinomialNB
    >>> X = np.array([[2, 0, 1], [0, 3, 0], [1, 0, 2], [0, 2, 1]])
    >>> y = np.array([0, 1, 0, 1])
    >>> with dask.config.set(scheduler="synchronous"):
    ...     nb = fd.fit_naive_bayes(MultinomialNB(), da.from_array(X, chunks=2),
    ...                             da.from_array(y, chunks=2))
    >>> nb.class_count_.tolist()
    [2.0, 2.0]
    >>> bool(np.array_equal(nb.feature_log_prob_, MultinomialNB().fit(X, y).feature_log_prob_))
    True
    """
    _check_classifier(classifier)
    classifier._validate_params()
    X_parts = partitions(X, "X")
    y_parts = aligned_partitions(X_parts, y, "y")
    sw_parts = aligned_partitions(X_parts, sample_weight, "sample_weight")
    counts = _fit_counts(classifier, None, False, X_parts, y_parts, sw_parts)
    return _finish(classifier, counts, counts.feature_count)


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

    One pass over the documents, each tokenised once.  With a ``CountVectorizer`` that
    learns its vocabulary, every partition is counted over its own terms: document
    and term frequencies plus the classifier's per-class counts (``partial_fit`` of a
    clone), merged on the cluster in a tree (terms kept in first-appearance order,
    arrays aligned and summed).  The client then selects the vocabulary by the
    vectorizer's own rule (``min_df``, ``max_df``, ``max_features``, sorted terms),
    keeps those columns of the summed counts and finalises the classifier.  A
    ``HashingVectorizer`` or a fixed ``vocabulary`` transforms each partition instead
    (see :func:`fit_naive_bayes`).

    A ``TfidfVectorizer`` takes two passes when it learns a vocabulary or idf
    weights (a document's features then depend on all the documents): the first sums
    the partitions' term statistics as above, from which the client learns
    ``vocabulary_`` and ``idf_`` (document frequencies and the number of documents
    summed: the same terms and the same idf bits as a local fit); the second
    transforms each partition with the fitted vectorizer and counts the classes.
    With ``use_idf=False`` and a fixed ``vocabulary`` one pass suffices.  Each pass
    computes the partitions of ``documents`` (persist them first if that is costly).

    Parameters
    ----------
    model : TextClassifier
        Its ``vectorizer`` (CountVectorizer, TfidfVectorizer or HashingVectorizer,
        default CountVectorizer()) and ``classifier`` (MultinomialNB, ComplementNB or
        BernoulliNB, default MultinomialNB()); fitted in place and returned.
    documents : dask Bag or Series of str, or a dask DataFrame
        With a DataFrame, the text is ``column`` and the labels ``target``.
    y : dask Bag, Series or array of shape (n_documents,), optional
        Class labels, partitioned like ``documents``; required unless ``documents``
        is a DataFrame (then give ``target``).
    column : str, optional
        DataFrame input: the column of documents.
    target : str, optional
        DataFrame input: the column of labels.
    sample_weight : dask collection of shape (n_documents,), optional
        Per-document weights, partitioned like ``documents``; None weighs every
        document 1.

    Returns
    -------
    model : TextClassifier
        ``vectorizer_.vocabulary_`` (and a ``TfidfVectorizer``'s ``idf_``) equal a local
        fit exactly; the classifier's arrays too for count features
        (``CountVectorizer``; ``HashingVectorizer`` or ``TfidfVectorizer`` with
        ``norm=None`` and no idf), to rounding for weighted or normalised features
        (sums of partition sums are added in another order).

    Raises
    ------
    TypeError
        ``model`` is not a ``TextClassifier``, its steps are not supported, or
        ``documents`` is a dask array.
    ValueError
        Invalid parameters, missing or conflicting labels and columns, misaligned
        partitions, or an empty vocabulary.

    See Also
    --------
    fit_naive_bayes : Fit a classifier on feature rows.
    predict : Batch inference with the fitted model.
    fastgen.pipeline.TextClassifier : The model fitted here.

    Examples
    --------
    >>> import dask
    >>> import dask.dataframe as dd
    >>> import pandas as pd
    >>> import fastgen.dask as fd
    >>> from fastgen.pipeline import TextClassifier
    >>> from fastgen.text import CountVectorizer
    >>> reviews = pd.DataFrame({
    ...     "text": ["good fun film", "bad dull film", "great fun", "slow weak plot"],
    ...     "label": ["pos", "neg", "pos", "neg"],
    ... })
    >>> frame = dd.from_pandas(reviews, npartitions=2)
    >>> with dask.config.set(scheduler="synchronous"):
    ...     clf = fd.fit_text_classifier(TextClassifier(CountVectorizer()), frame,
    ...                                  column="text", target="label")
    >>> clf.classes_.tolist(), len(clf.vectorizer_.vocabulary_)
    (['neg', 'pos'], 9)
    >>> clf.predict(["fun film", "weak plot"]).tolist()
    ['pos', 'neg']
    """
    from fastgen._base import clone
    from fastgen.naive_bayes import MultinomialNB
    from fastgen.pipeline import TextClassifier
    from fastgen.text import CountVectorizer, HashingVectorizer, TfidfVectorizer

    if not isinstance(model, TextClassifier):
        raise TypeError(f"model must be a fastgen TextClassifier, got {type(model).__name__}")
    docs, y = _text_inputs(documents, y, column, target)
    vec = clone(model.vectorizer) if model.vectorizer is not None else CountVectorizer()
    clf = clone(model.classifier) if model.classifier is not None else MultinomialNB()
    if type(vec) not in (CountVectorizer, TfidfVectorizer, HashingVectorizer):
        raise TypeError(
            "distributed fitting supports fastgen's CountVectorizer, TfidfVectorizer and "
            f"HashingVectorizer, got {type(vec).__name__}"
        )
    _check_classifier(clf)
    clf._validate_params()
    vec._validate_params()
    doc_parts = partitions(docs, "documents")
    y_parts = aligned_partitions(doc_parts, y, "y")
    sw_parts = aligned_partitions(doc_parts, sample_weight, "sample_weight")

    learn = isinstance(vec, CountVectorizer) and vec.vocabulary is None
    if isinstance(vec, TfidfVectorizer) and (learn or vec.use_idf):
        # tf-idf features depend on every document: learn vocabulary_ and idf_ first
        stats = _term_statistics(vec, doc_parts)
        vec._fit_from_frequencies(stats.terms, stats.dfs, stats.tfs, stats.n_docs)
        learn = False
    elif not learn:
        vec.fit([])  # hashing or a fixed vocabulary: nothing to learn
    counts = _fit_counts(clf, vec, learn, doc_parts, y_parts, sw_parts)
    feature_count = counts.feature_count
    if learn:
        if not counts.terms:
            raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
        vec._fit_from_frequencies(counts.terms, counts.dfs, counts.tfs, counts.n_docs)
        # the kept terms' columns, in vocabulary order
        position = {t: i for i, t in enumerate(counts.terms)}
        order = np.empty(len(vec.vocabulary_), dtype=np.int64)
        for term, column in vec.vocabulary_.items():
            order[column] = position[term]
        feature_count = feature_count[:, order]
    model.vectorizer_ = vec
    model.classifier_ = _finish(clf, counts, feature_count)
    model.classes_ = model.classifier_.classes_
    return model


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
