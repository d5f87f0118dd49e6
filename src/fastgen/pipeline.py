"""Fused text classification: raw documents to Naive Bayes predictions in one pass."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import BaseEstimator, ClassifierMixin, check_is_fitted, clone
from ._kernels import _text
from .text._analysis import as_document_list, map_chunks


class TextClassifier(ClassifierMixin, BaseEstimator):
    """A vectorizer followed by a Naive Bayes classifier, scored without the sparse matrix.

    ``fit`` is the two-step route (``vectorizer.fit_transform`` then
    ``classifier.fit``). ``predict``/``predict_proba`` on raw documents run
    one compiled pass that tokenizes, looks terms up and accumulates class
    scores directly, when the pair allows it: a fastgen ``CountVectorizer``
    whose analyzer is compiled, and a classifier with a linear joint
    log-likelihood (``MultinomialNB``, ``ComplementNB``, ``BernoulliNB``
    with ``0 <= binarize < 1``). Results are identical to the two-step
    route, which is used otherwise.

    Parameters
    ----------
    vectorizer : fastgen or scikit-learn text vectorizer (default ``CountVectorizer()``)
    classifier : classifier taking the vectorizer's output (default ``MultinomialNB()``)
    """

    def __init__(self, vectorizer: Any = None, classifier: Any = None) -> None:
        self.vectorizer = vectorizer
        self.classifier = classifier

    def fit(self, raw_documents: Any, y: Any, sample_weight: Any = None) -> TextClassifier:
        """Fit the vectorizer on ``raw_documents`` and the classifier on its output."""
        from .naive_bayes import MultinomialNB
        from .text import CountVectorizer

        docs = as_document_list(raw_documents)
        self.vectorizer_ = clone(self.vectorizer) if self.vectorizer is not None else (
            CountVectorizer()
        )
        self.classifier_ = clone(self.classifier) if self.classifier is not None else (
            MultinomialNB()
        )
        X = self.vectorizer_.fit_transform(docs)
        if sample_weight is None:
            self.classifier_.fit(X, y)
        else:
            self.classifier_.fit(X, y, sample_weight=sample_weight)
        self.classes_ = self.classifier_.classes_
        return self

    # ----------------------------------------------------------- prediction
    def predict_joint_log_proba(self, raw_documents: Any) -> np.ndarray:
        """Unnormalised class log-probabilities, float64 (n_documents, n_classes)."""
        check_is_fitted(self, "classifier_")
        docs = as_document_list(raw_documents)
        fused = self._fused_scorer()
        if fused is None:
            return self.classifier_.predict_joint_log_proba(self.vectorizer_.transform(docs))
        return fused(docs)

    def predict(self, raw_documents: Any) -> np.ndarray:
        """Most probable class of each document, shape (n_documents,)."""
        jll = self.predict_joint_log_proba(raw_documents)
        return self.classifier_._predict_from_jll(jll)

    def predict_log_proba(self, raw_documents: Any) -> np.ndarray:
        """Class log-probabilities, float64 (n_documents, n_classes)."""
        jll = self.predict_joint_log_proba(raw_documents)
        return self.classifier_._predict_log_proba_from_jll(jll)

    def predict_proba(self, raw_documents: Any) -> np.ndarray:
        """Class probabilities, float64 (n_documents, n_classes)."""
        jll = self.predict_joint_log_proba(raw_documents)
        return self.classifier_._predict_proba_from_jll(jll)

    def _fused_scorer(self):
        """A function docs -> joint log-likelihood by the compiled pass, or None."""
        from .text import CountVectorizer

        vec, clf = self.vectorizer_, self.classifier_
        if type(vec) is not CountVectorizer or not hasattr(clf, "_linear_weights"):
            return None
        linear = clf._linear_weights()
        plan = vec._kernel_plan()
        table = vec._lookup_table() if plan is not None else None
        if linear is None or table is None:
            return None
        weights, indicator = linear
        weights = np.ascontiguousarray(weights, dtype=np.float64)
        column = np.arange(len(table), dtype=np.int32)
        binary = bool(indicator or vec.binary)

        def score(docs: list) -> np.ndarray:
            def score_chunk(chunk: list) -> np.ndarray:
                texts = vec._kernel_texts(chunk, plan)
                return _text.linear_scores(texts, table, weights, column, binary, **plan.kwargs())

            parts = map_chunks(score_chunk, docs, vec.n_jobs)
            dot = parts[0] if len(parts) == 1 else np.vstack(parts)
            return clf._jll_from_dot(dot)

        return score

    def __sklearn_tags__(self):  # pragma: no cover - called by scikit-learn only
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags
