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
    """A text vectorizer followed by a Naive Bayes classifier, predicting from raw text.

    ``fit`` is the two-step route: ``vectorizer.fit_transform`` on the documents,
    then ``classifier.fit`` on the matrix. ``predict``, ``predict_proba``,
    ``predict_log_proba`` and ``predict_joint_log_proba`` on raw documents run
    one compiled pass per chunk of documents instead, when the pair allows it:
    the pass tokenizes each document, looks its terms up (or hashes them), weighs
    the document's row as the vectorizer would (binary, sublinear tf, idf, norm)
    and adds the class scores up directly, without building the sparse matrix.
    Its results are bit-identical to
    ``classifier.predict_proba(vectorizer.transform(docs))``.

    The fused pass is used for a fastgen :class:`~fastgen.text.CountVectorizer`,
    :class:`~fastgen.text.HashingVectorizer` or
    :class:`~fastgen.text.TfidfVectorizer` (not a subclass) whose analyzer is
    compiled (no ``tokenizer``, callable ``analyzer`` or uncommon
    ``token_pattern``) and whose output dtype is float64, float32, int64 or
    int32, together with a fastgen ``MultinomialNB``, ``ComplementNB`` or
    ``BernoulliNB`` (any ``binarize``). Any other pair, scikit-learn's estimators
    included, takes the two-step route with the same results. The fused pass
    runs on the vectorizer's ``n_jobs`` threads.

    ``partial_fit`` trains in batches (out-of-core learning) when the vectorizer
    transforms each document independently of the others.

    Parameters
    ----------
    vectorizer : estimator, default=None
        The text vectorizer: a fastgen or scikit-learn vectorizer, or any
        estimator with ``fit_transform`` and ``transform`` taking raw documents.
        ``fit`` trains a clone of it (the object passed is left as it is). None
        means ``CountVectorizer()``.
    classifier : estimator, default=None
        The classifier trained on the vectorizer's output, such as a fastgen
        Naive Bayes classifier. ``fit`` trains a clone of it. None means
        ``MultinomialNB()``.

    Attributes
    ----------
    vectorizer_ : estimator
        The fitted clone of ``vectorizer``.
    classifier_ : estimator
        The fitted clone of ``classifier``.
    classes_ : ndarray of shape (n_classes,)
        The class labels, as the classifier holds them (sorted, for the Naive
        Bayes classifiers); the columns of ``predict_proba`` follow this order.

    See Also
    --------
    fastgen.text.CountVectorizer : The default vectorizer.
    fastgen.text.HashingVectorizer : A stateless vectorizer, for ``partial_fit``.
    fastgen.text.TfidfVectorizer : Tf-idf weighted counts.
    fastgen.naive_bayes.MultinomialNB : The default classifier.
    fastgen.naive_bayes.ComplementNB : A Naive Bayes classifier suited to
        tf-idf features.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgen.pipeline import TextClassifier
    >>> docs = ["good fun film", "a fun plot", "bad dull film", "dull awful plot"]
    >>> y = ["pos", "pos", "neg", "neg"]
    >>> model = TextClassifier().fit(docs, y)
    >>> model.classes_.tolist()
    ['neg', 'pos']
    >>> model.predict(["fun film", "awful dull"]).tolist()
    ['pos', 'neg']
    >>> np.round(model.predict_proba(["fun film"]), 3).tolist()
    [[0.221, 0.779]]

    Tf-idf features with ``ComplementNB``, also scored by the fused pass:

    >>> from fastgen.naive_bayes import ComplementNB
    >>> from fastgen.text import TfidfVectorizer
    >>> tfidf = TextClassifier(TfidfVectorizer(sublinear_tf=True), ComplementNB())
    >>> tfidf.fit(docs, y).predict(["a good film"]).tolist()
    ['pos']
    """

    def __init__(self, vectorizer: Any = None, classifier: Any = None) -> None:
        self.vectorizer = vectorizer
        self.classifier = classifier

    def fit(self, raw_documents: Any, y: Any, sample_weight: Any = None) -> TextClassifier:
        """Fit a clone of the vectorizer on the documents and of the classifier on its output.

        Parameters
        ----------
        raw_documents : iterable
            The training documents, in the form the vectorizer takes (``str``,
            ``bytes``, file names or file objects per its ``input``). A single
            string is refused.
        y : array-like of shape (n_documents,)
            Class label of each document.
        sample_weight : array-like of shape (n_documents,), default=None
            Weight of each document, passed to the classifier's ``fit``; None
            weighs every document equally.

        Returns
        -------
        self : object
            The fitted estimator.

        Raises
        ------
        ValueError
            For a single string instead of an iterable of documents, or what the
            vectorizer and classifier raise (invalid parameters, no terms, labels
            that do not match the documents, ...).
        """
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
        raw_documents : iterable
            One batch of documents, in the form the vectorizer takes. A single
            string is refused.
        y : array-like of shape (n_documents,)
            Class label of each document of the batch.
        classes : array-like of shape (n_classes,), default=None
            All the classes; required on the first call, optional (checked) later.
        sample_weight : array-like of shape (n_documents,), default=None
            Weight of each document of the batch, passed to the classifier's
            ``partial_fit``; None weighs every document equally.

        Returns
        -------
        self : object
            The estimator, trained on every batch so far.

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
        """Return the unnormalised class log-probabilities of each document.

        That is ``log P(c) + log P(document | c)`` for every class ``c``, before
        normalising over the classes; computed by the fused pass when there is
        one, otherwise by the classifier's ``predict_joint_log_proba``.

        Parameters
        ----------
        raw_documents : iterable
            The documents, in the form the vectorizer takes. A single string is
            refused.

        Returns
        -------
        jll : ndarray of shape (n_documents, n_classes)
            Joint log-likelihoods, float64, columns in ``classes_`` order.

        Raises
        ------
        NotFittedError
            If the model has not been fitted.
        """
        return self._predict("predict_joint_log_proba", raw_documents)

    def predict(self, raw_documents: Any) -> np.ndarray:
        """Predict the most probable class of each document.

        Parameters
        ----------
        raw_documents : iterable
            The documents, in the form the vectorizer takes. A single string is
            refused.

        Returns
        -------
        y_pred : ndarray of shape (n_documents,)
            The predicted labels, taken from ``classes_``.

        Raises
        ------
        NotFittedError
            If the model has not been fitted.
        """
        return self._predict("predict", raw_documents)

    def predict_log_proba(self, raw_documents: Any) -> np.ndarray:
        """Return the log of the class probabilities of each document.

        Parameters
        ----------
        raw_documents : iterable
            The documents, in the form the vectorizer takes. A single string is
            refused.

        Returns
        -------
        log_proba : ndarray of shape (n_documents, n_classes)
            Log-probabilities, float64, columns in ``classes_`` order.

        Raises
        ------
        NotFittedError
            If the model has not been fitted.
        """
        return self._predict("predict_log_proba", raw_documents)

    def predict_proba(self, raw_documents: Any) -> np.ndarray:
        """Return the class probabilities of each document.

        Parameters
        ----------
        raw_documents : iterable
            The documents, in the form the vectorizer takes. A single string is
            refused.

        Returns
        -------
        proba : ndarray of shape (n_documents, n_classes)
            Probabilities, float64, each row summing to one, columns in
            ``classes_`` order.

        Raises
        ------
        NotFittedError
            If the model has not been fitted.
        """
        return self._predict("predict_proba", raw_documents)

    def _predict(self, method: str, raw_documents: Any) -> np.ndarray:
        """``method`` of the fused pass when there is one (its joint log-likelihood, as
        it is or turned into predictions or probabilities), else of the classifier."""
        check_is_fitted(self, "classifier_")
        docs = as_document_list(raw_documents)
        fused = self._fused() if docs else None  # no documents: the two steps' answer
        if fused is None:
            X = self.vectorizer_.transform(docs)
            return getattr(self.classifier_, method)(X)
        jll = self._fused_jll(fused, docs)
        if method == "predict_joint_log_proba":
            return jll
        return getattr(fused[1], method)(jll)

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
