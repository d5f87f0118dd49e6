"""Fused text classification: raw documents to Naive Bayes predictions in one pass."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import BaseEstimator, ClassifierMixin, check_is_fitted, clone
from .naive_bayes import LinearForm, linear_form
from .text._analysis import as_document_list
from .text._fused import FusedFront, fused_front, streaming_refusal

__all__ = ["TextClassifier"]


class TextClassifier(ClassifierMixin, BaseEstimator):
    """A vectorizer followed by a Naive Bayes classifier, scored without the sparse matrix.

    ``fit`` is the two-step route (``vectorizer.fit_transform`` then
    ``classifier.fit``). ``predict``/``predict_proba`` on raw documents run one
    compiled pass that tokenizes, looks terms up (or hashes them), weighs each
    document's row as the vectorizer does and accumulates class scores
    directly, when the pair allows it: a fastgen ``CountVectorizer``,
    ``HashingVectorizer`` or ``TfidfVectorizer`` whose analyzer is compiled
    (described by :func:`fastgen.text._fused.fused_front`), and a classifier
    whose joint log-likelihood is linear (``MultinomialNB``, ``ComplementNB``,
    ``BernoulliNB``: :func:`fastgen.naive_bayes.linear_form`). Results are
    identical to the two-step route, which is used otherwise. ``partial_fit``
    trains in batches (out-of-core) when the vectorizer allows it.

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

    def partial_fit(
        self,
        raw_documents: Any,
        y: Any,
        classes: Any = None,
        sample_weight: Any = None,
    ) -> TextClassifier:
        """Train on one batch of documents (out-of-core learning).

        Only for a vectorizer whose output for a document does not depend on the
        other documents: a ``HashingVectorizer``, or a ``CountVectorizer`` (or a
        ``TfidfVectorizer`` with ``use_idf=False``) given a fixed ``vocabulary``.
        The classifier must have ``partial_fit``. Batches add up to one ``fit`` over
        their concatenation (the same counts; bit for bit with integer counts).

        Parameters
        ----------
        raw_documents : iterable of str, bytes or files (as the vectorizer takes)
        y : array-like of shape (n_documents,)
        classes : array-like of shape (n_classes,), default=None
            All the classes; required on the first call, optional (checked) later.
        sample_weight : array-like of shape (n_documents,), default=None

        Returns
        -------
        self

        Raises
        ------
        ValueError
            For a vectorizer that must see all the documents (a learned vocabulary
            or idf weights), or a classifier without ``partial_fit``.

        Examples
        --------
        >>> from fastgen.pipeline import TextClassifier
        >>> from fastgen.text import HashingVectorizer
        >>> model = TextClassifier(HashingVectorizer(n_features=2**10, alternate_sign=False))
        >>> model = model.partial_fit(["good fun", "bad plot"], [1, 0], classes=[0, 1])
        >>> model = model.partial_fit(["fun fun", "awful plot"], [1, 0])
        >>> model.predict(["good fun", "bad awful"]).tolist()
        [1, 0]
        """
        from .naive_bayes import MultinomialNB
        from .text import CountVectorizer

        docs = as_document_list(raw_documents)
        first = not hasattr(self, "classifier_")
        if first:
            vec = clone(self.vectorizer) if self.vectorizer is not None else CountVectorizer()
            clf = clone(self.classifier) if self.classifier is not None else MultinomialNB()
        else:
            vec, clf = self.vectorizer_, self.classifier_
        why = streaming_refusal(vec)
        if why is not None:
            raise ValueError(f"TextClassifier.partial_fit cannot train this vectorizer: {why}.")
        if not hasattr(clf, "partial_fit"):
            raise ValueError(
                f"TextClassifier.partial_fit needs a classifier with partial_fit; "
                f"{type(clf).__name__} has none."
            )
        X = vec.fit_transform(docs) if first else vec.transform(docs)
        if sample_weight is None:
            clf.partial_fit(X, y, classes=classes)
        else:
            clf.partial_fit(X, y, classes=classes, sample_weight=sample_weight)
        if first:
            self.vectorizer_, self.classifier_ = vec, clf
        self.classes_ = clf.classes_
        return self

    # ----------------------------------------------------------- prediction
    def predict_joint_log_proba(self, raw_documents: Any) -> np.ndarray:
        """Unnormalised class log-probabilities, float64 (n_documents, n_classes)."""
        check_is_fitted(self, "classifier_")
        docs = as_document_list(raw_documents)
        fused = self._fused() if docs else None  # no documents: the two steps' answer
        if fused is None:
            return self.classifier_.predict_joint_log_proba(self.vectorizer_.transform(docs))
        return self._fused_jll(fused, docs)

    def predict(self, raw_documents: Any) -> np.ndarray:
        """Most probable class of each document, shape (n_documents,)."""
        return self._predict("predict", raw_documents)

    def predict_log_proba(self, raw_documents: Any) -> np.ndarray:
        """Class log-probabilities, float64 (n_documents, n_classes)."""
        return self._predict("predict_log_proba", raw_documents)

    def predict_proba(self, raw_documents: Any) -> np.ndarray:
        """Class probabilities, float64 (n_documents, n_classes)."""
        return self._predict("predict_proba", raw_documents)

    def _predict(self, method: str, raw_documents: Any) -> np.ndarray:
        """``method`` of the fused pass when there is one, else of the classifier."""
        check_is_fitted(self, "classifier_")
        docs = as_document_list(raw_documents)
        fused = self._fused() if docs else None  # no documents: the two steps' answer
        if fused is None:
            X = self.vectorizer_.transform(docs)
            return getattr(self.classifier_, method)(X)
        return getattr(fused[1], method)(self._fused_jll(fused, docs))

    def _fused(self) -> tuple[FusedFront, LinearForm] | None:
        """The vectorizer's front and the classifier's linear form, or None (two steps)."""
        front = fused_front(self.vectorizer_)
        if front is None:
            return None
        form = linear_form(self.classifier_)
        if form is None or form.n_features != front.n_features:
            return None  # the two-step route gives the error of a mismatch
        return front, form

    @staticmethod
    def _fused_jll(fused: tuple[FusedFront, LinearForm], docs: list) -> np.ndarray:
        front, form = fused
        return form.joint_log_likelihood(front.scores(docs, form.weights, form.binarize))

    def __sklearn_tags__(self):  # pragma: no cover - called by scikit-learn only
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags
