"""Naive Bayes classifiers, drop-in replacements for :mod:`sklearn.naive_bayes`.

``MultinomialNB``, ``ComplementNB``, ``BernoulliNB``, ``CategoricalNB`` and
``GaussianNB`` take scikit-learn's parameters, set the same fitted attributes and
reproduce its arithmetic (same floating-point operation order), so predictions
agree to rounding. Class-conditional counting runs in compiled Cython kernels
(:mod:`fastgen._kernels._nb`), built with the package.

Fused-path interface (used by :class:`fastgen.pipeline.TextClassifier`):
:func:`linear_form` returns a :class:`LinearForm` -- weights ``W``, an optional
``binarize`` threshold and a class bias -- for the classifiers whose joint log
likelihood is affine in their input (``MultinomialNB``, ``ComplementNB``,
``BernoulliNB``), so that a caller can compute ``X @ W`` its own way and finish
with :meth:`LinearForm.joint_log_likelihood` and the ``predict*`` methods.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from fastgen._base import BaseEstimator, ClassifierMixin, check_is_fitted
from fastgen._docstrings import fill
from fastgen._kernels import _nb as _kernels
from fastgen._naive_bayes_docs import SHARED
from fastgen._validation import (
    check_bool_params,
    check_consistent_length,
    check_csr_structure,
    check_non_negative,
    check_sample_weight,
    check_y,
    invalid_param,
    unique_labels,
    validate_data,
)

__all__ = [
    "BernoulliNB",
    "CategoricalNB",
    "ComplementNB",
    "GaussianNB",
    "LinearForm",
    "MultinomialNB",
    "linear_form",
]

_ALPHA_LOWER_BOUND = 1e-10


# --------------------------------------------------------------------------- helpers


def _logsumexp_rows(a: np.ndarray) -> np.ndarray:
    """Row-wise log-sum-exp with the same operation order as scikit-learn's."""
    if a.dtype not in (np.float64, np.float32):
        a = a.astype(np.float64)
    a_max = np.max(a, axis=1, keepdims=True)
    is_max = a == a_max
    m = np.count_nonzero(is_max, axis=1).astype(a.dtype)[:, None]
    shift = np.where(np.isfinite(a_max), a_max, 0)
    e = np.subtract(a, shift)
    np.exp(e, out=e)
    e[is_max] = 0.0  # the maxima are counted by m, not summed
    s = np.sum(e, axis=1, keepdims=True, dtype=e.dtype)
    s = np.where(s == 0, s, s / m)
    out = np.log1p(s) + np.log(m) + a_max
    return np.squeeze(out, axis=1)


def _safe_dot(X: Any, W: np.ndarray) -> np.ndarray:
    """``X @ W`` for a dense or sparse ``X``, always returning an ndarray."""
    out = X @ W
    return np.asarray(out)


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not _is_bool(value)


def _is_array_like(value: Any) -> bool:
    return not isinstance(value, str) and (
        hasattr(value, "__len__") or hasattr(value, "shape") or hasattr(value, "__array__")
    )


def _is_non_negative_real(value: Any) -> bool:
    """A real in [0.0, inf), as scikit-learn's ``Interval(Real, 0, None, closed="left")``."""
    return _is_real(value) and 0 <= value < np.inf


def _check_alpha_values(alpha: np.ndarray) -> None:
    """Refuse per-feature smoothing values that would make the probabilities NaN."""
    if alpha.dtype.kind not in "biuf" or alpha.size == 0:
        return  # fit fails on these later, as scikit-learn's does
    if not np.all(np.isfinite(alpha)):
        raise ValueError("All values in alpha must be finite.")
    if np.min(alpha) < 0:
        raise ValueError("All values in alpha must be greater than 0.")


def _csr_parts(X: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated (indptr, indices, data) of a CSR matrix as int64/int64/float64."""
    check_csr_structure(X)
    indptr = np.ascontiguousarray(X.indptr, dtype=np.int64)
    indices = np.ascontiguousarray(X.indices, dtype=np.int64)
    data = np.ascontiguousarray(X.data, dtype=np.float64)
    return indptr, indices, data


def _class_feature_counts(
    X: Any, class_index: np.ndarray, sample_weight: np.ndarray, n_classes: int
) -> np.ndarray:
    """Weighted (n_classes, n_features) float64 feature sums of dense or CSR ``X``."""
    if sp.issparse(X):
        indptr, indices, data = _csr_parts(X)
        return _kernels.class_feature_counts_csr(
            indptr, indices, data, class_index, sample_weight, n_classes, X.shape[1]
        )
    Xf = np.ascontiguousarray(X, dtype=np.float64)
    return _kernels.class_feature_counts_dense(Xf, class_index, sample_weight, n_classes)


# --------------------------------------------------------------------------- linear form


@dataclass(frozen=True)
class LinearForm:
    """A fitted classifier's joint log likelihood as ``X_used @ weights + bias``.

    ``X_used`` is the classifier's input ``X`` itself (``binarize`` None) or, as
    BernoulliNB does, ``X`` with every value ``> binarize`` set to 1 and the others
    dropped. The product must be summed as a CSR-times-dense product sums (stored
    values in increasing column order) for the results to be bit-identical to the
    classifier's own ``predict*``.

    A caller computes ``dot = X_used @ weights`` its own way (for example while
    tokenizing, as :class:`fastgen.pipeline.TextClassifier` does), then finishes with
    :meth:`joint_log_likelihood` and :meth:`predict`, :meth:`predict_proba` or
    :meth:`predict_log_proba`.  Instances are made by :func:`linear_form`; the
    dataclass is frozen, and each parameter is kept as the attribute of the same name.

    Parameters
    ----------
    weights : ndarray of shape (n_features, n_classes)
        Per-feature, per-class weights, float64 and C-contiguous.
    binarize : float or None
        Threshold applied to the input first: values ``> binarize`` count as 1, the
        others as 0 (BernoulliNB's ``binarize``).  None means the input is used as it
        is.
    bias : ndarray of shape (n_classes,)
        Per-class term added to ``X_used @ weights`` (for MultinomialNB the class log
        prior).
    classes : ndarray of shape (n_classes,)
        The classifier's ``classes_``: the labels the columns stand for.

    Attributes
    ----------
    n_features : int
        Number of input features, the number of rows of ``weights``.

    See Also
    --------
    linear_form : The linear form of a fitted classifier.
    fastgen.pipeline.TextClassifier : Uses the form to score raw documents in one pass.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgen.naive_bayes import BernoulliNB, linear_form
    >>> X = np.array([[2, 0, 1], [0, 3, 1], [1, 0, 0]])
    >>> clf = BernoulliNB().fit(X, ["a", "b", "a"])
    >>> form = linear_form(clf)
    >>> form.weights.shape, form.binarize, form.n_features
    ((3, 2), 0.0, 3)
    >>> X_used = (X > form.binarize).astype(np.float64)
    >>> jll = form.joint_log_likelihood(X_used @ form.weights)
    >>> form.predict(jll).tolist()
    ['a', 'b', 'a']
    >>> bool(np.allclose(form.predict_proba(jll), clf.predict_proba(X)))
    True
    """

    weights: np.ndarray
    binarize: float | None
    bias: np.ndarray
    classes: np.ndarray

    @property
    def n_features(self) -> int:
        """Number of input features (rows of ``weights``)."""
        return int(self.weights.shape[0])

    def joint_log_likelihood(self, dot: np.ndarray) -> np.ndarray:
        """The joint log likelihood from ``dot = X_used @ weights`` (updated in place).

        Parameters
        ----------
        dot : ndarray of shape (n_samples, n_classes)
            The product ``X_used @ weights``, float64.  It is modified in place:
            ``bias`` is added to every row.

        Returns
        -------
        jll : ndarray of shape (n_samples, n_classes)
            ``dot`` itself, now holding the joint log likelihood ``log P(x, y)`` of
            every sample and class (columns follow ``classes``).
        """
        dot += self.bias
        return dot

    def predict(self, jll: np.ndarray) -> np.ndarray:
        """Class labels (n_samples,) from a joint log likelihood (n_samples, n_classes).

        Parameters
        ----------
        jll : ndarray of shape (n_samples, n_classes)
            Joint log likelihood, as returned by :meth:`joint_log_likelihood`.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            The label of the largest column of each row (the first one on ties).
        """
        return self.classes[np.argmax(jll, axis=1)]

    def predict_log_proba(self, jll: np.ndarray) -> np.ndarray:
        """Normalised class log-probabilities (n_samples, n_classes).

        Parameters
        ----------
        jll : ndarray of shape (n_samples, n_classes)
            Joint log likelihood, as returned by :meth:`joint_log_likelihood`; not
            modified.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            ``jll`` minus the log-sum-exp of each row: the log of the class
            probabilities, columns following ``classes``.
        """
        return jll - np.atleast_2d(_logsumexp_rows(jll)).T

    def predict_proba(self, jll: np.ndarray) -> np.ndarray:
        """Class probabilities (n_samples, n_classes).

        Parameters
        ----------
        jll : ndarray of shape (n_samples, n_classes)
            Joint log likelihood, as returned by :meth:`joint_log_likelihood`; not
            modified.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Class probabilities; each row sums to 1 and columns follow ``classes``.
        """
        out = self.predict_log_proba(jll)
        return np.exp(out, out=out)


def linear_form(classifier: Any) -> LinearForm | None:
    """The :class:`LinearForm` of a fitted fastgen Naive Bayes classifier, or None.

    ``MultinomialNB``, ``ComplementNB`` and ``BernoulliNB`` have one; other
    classifiers (``GaussianNB``, ``CategoricalNB``, scikit-learn's, ...) give None.
    The form is computed once per fitted state: it is cached on the classifier
    until ``fit``/``partial_fit`` (or ``set_params``) replace the arrays it is
    computed from (changing those arrays in place is not noticed).

    Parameters
    ----------
    classifier : estimator
        Any object.  A fitted ``MultinomialNB``, ``ComplementNB`` or ``BernoulliNB``
        gives its form; anything else gives None.

    Returns
    -------
    form : LinearForm or None
        The classifier's weights, ``binarize`` threshold, class bias and classes, or
        None when its joint log likelihood is not affine in its input.

    Raises
    ------
    NotFittedError
        ``classifier`` is one of the three linear classifiers but is not fitted yet
        (a ``ValueError`` and an ``AttributeError``).

    See Also
    --------
    LinearForm : What the form holds and how a caller finishes the prediction.
    fastgen.pipeline.TextClassifier : Scores raw documents with the form in one pass.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgen.naive_bayes import MultinomialNB, linear_form
    >>> X = np.array([[2, 0, 1], [0, 3, 1]])
    >>> clf = MultinomialNB().fit(X, [0, 1])
    >>> form = linear_form(clf)
    >>> jll = form.joint_log_likelihood(X @ form.weights)
    >>> bool(np.allclose(jll, clf.predict_joint_log_proba(X)))
    True
    >>> form.predict(jll).tolist()
    [0, 1]

    Classifiers without a linear form give None:

    >>> from fastgen.naive_bayes import GaussianNB
    >>> print(linear_form(GaussianNB().fit(X, [0, 1])))
    None
    """
    if not isinstance(classifier, _BaseNB):
        return None
    getter = getattr(classifier, "_linear_weights", None)
    if getter is None:
        return None
    check_is_fitted(classifier, classifier._fitted_attr)
    # the cache keeps the very objects it was computed from (so their ids stay theirs)
    key = tuple(getattr(classifier, a, None) for a in _FORM_KEY)
    cached = getattr(classifier, "_linear_form_cache", None)
    if cached is not None and all(a is b for a, b in zip(cached[0], key, strict=True)):
        return cached[1]
    linear = getter()
    if linear is None:
        return None
    weights, binarize = linear
    n_classes = weights.shape[1]
    # _jll_from_dot adds a per-class bias: its value at zero is that bias
    bias = classifier._jll_from_dot(np.zeros((1, n_classes)))[0]
    form = LinearForm(
        weights=np.ascontiguousarray(weights, dtype=np.float64),
        binarize=binarize,
        bias=bias,
        classes=classifier.classes_,
    )
    classifier._linear_form_cache = (key, form)
    return form


#: fitted attributes a LinearForm is computed from (fit/partial_fit replace them all)
_FORM_KEY = ("classes_", "feature_log_prob_", "class_log_prior_", "binarize", "norm")


# --------------------------------------------------------------------------- base


class _BaseNB(ClassifierMixin, BaseEstimator):
    """Shared prediction logic: subclasses provide ``_check_X`` and ``_joint_log_likelihood``."""

    # attribute set last by fit/partial_fit; its presence means "fitted"
    _fitted_attr = "classes_"

    def _check_X(self, X: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _joint_log_likelihood(self, X: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    # ---- fused-path contract (see ``linear_form``)
    def _linear_weights(self) -> tuple[np.ndarray, float | None] | None:
        """``(W, binarize)``: the jll is ``_jll_from_dot(X_used @ W)``, ``X_used`` being
        ``X`` (``binarize`` None) or ``X > binarize`` with the zeros dropped; or ``None``."""
        return None

    def _jll_from_dot(self, dot: np.ndarray) -> np.ndarray:
        """Add the class bias to ``dot = X_used @ W`` (may work in place)."""
        raise NotImplementedError(f"{type(self).__name__} has no linear form.")

    def _predict_from_jll(self, jll: np.ndarray) -> np.ndarray:
        """Class labels of shape (n_samples,) from a (n_samples, n_classes) jll."""
        return self.classes_[np.argmax(jll, axis=1)]

    def _predict_log_proba_from_jll(self, jll: np.ndarray) -> np.ndarray:
        """Normalised log-probabilities of shape (n_samples, n_classes)."""
        log_prob_x = _logsumexp_rows(jll)
        return jll - np.atleast_2d(log_prob_x).T

    def _predict_proba_from_jll(self, jll: np.ndarray) -> np.ndarray:
        """Probabilities of shape (n_samples, n_classes)."""
        out = self._predict_log_proba_from_jll(jll)
        return np.exp(out, out=out)

    # ---- public prediction API
    def _check_fitted(self) -> None:
        check_is_fitted(self, self._fitted_attr)

    def predict_joint_log_proba(self, X: Any) -> np.ndarray:
        """Joint log probability ``log P(x, y)`` for every sample and class.

        The unnormalised scores the other ``predict*`` methods are computed from:
        ``log P(y) + log P(x | y)`` (for ComplementNB, the complement weights summed
        over the features).

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Samples to classify, in the form ``fit`` accepted: counts or other
            non-negative values (a dense array or a CSR matrix) for MultinomialNB and
            ComplementNB, any real values (binarized as in ``fit``) for BernoulliNB,
            non-negative integer category codes (dense) for CategoricalNB, real values
            (dense) for GaussianNB.

        Returns
        -------
        jll : ndarray of shape (n_samples, n_classes)
            Joint log likelihood of every sample and class; columns follow
            ``classes_``.

        Raises
        ------
        NotFittedError
            The classifier is not fitted yet (a ``ValueError`` and an
            ``AttributeError``).
        ValueError
            ``X`` has a different number of features (or different feature names)
            than the data the classifier was fitted on.
        """
        self._check_fitted()
        return self._joint_log_likelihood(self._check_X(X))

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class for every sample, shape (n_samples,).

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Samples to classify, in the form ``fit`` accepted: counts or other
            non-negative values (a dense array or a CSR matrix) for MultinomialNB and
            ComplementNB, any real values (binarized as in ``fit``) for BernoulliNB,
            non-negative integer category codes (dense) for CategoricalNB, real values
            (dense) for GaussianNB.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The class of ``classes_`` with the largest joint log likelihood for each
            sample (the first one on ties).

        Raises
        ------
        NotFittedError
            The classifier is not fitted yet (a ``ValueError`` and an
            ``AttributeError``).
        ValueError
            ``X`` has a different number of features (or different feature names)
            than the data the classifier was fitted on.
        """
        return self._predict_from_jll(self.predict_joint_log_proba(X))

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log of class probabilities, shape (n_samples, n_classes).

        Computed from the joint log likelihood with a log-sum-exp, so very small
        probabilities keep their precision.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Samples to classify, in the form ``fit`` accepted: counts or other
            non-negative values (a dense array or a CSR matrix) for MultinomialNB and
            ComplementNB, any real values (binarized as in ``fit``) for BernoulliNB,
            non-negative integer category codes (dense) for CategoricalNB, real values
            (dense) for GaussianNB.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log of the probability of each class for each sample; columns follow
            ``classes_``.

        Raises
        ------
        NotFittedError
            The classifier is not fitted yet (a ``ValueError`` and an
            ``AttributeError``).
        ValueError
            ``X`` has a different number of features (or different feature names)
            than the data the classifier was fitted on.
        """
        return self._predict_log_proba_from_jll(self.predict_joint_log_proba(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes); rows sum to 1.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Samples to classify, in the form ``fit`` accepted: counts or other
            non-negative values (a dense array or a CSR matrix) for MultinomialNB and
            ComplementNB, any real values (binarized as in ``fit``) for BernoulliNB,
            non-negative integer category codes (dense) for CategoricalNB, real values
            (dense) for GaussianNB.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class for each sample; columns follow ``classes_``.

        Raises
        ------
        NotFittedError
            The classifier is not fitted yet (a ``ValueError`` and an
            ``AttributeError``).
        ValueError
            ``X`` has a different number of features (or different feature names)
            than the data the classifier was fitted on.
        """
        return self._predict_proba_from_jll(self.predict_joint_log_proba(X))

    # ---- shared fitting helpers
    def _check_X_y(self, X: Any, y: Any, *, reset: bool) -> tuple[Any, np.ndarray]:
        if y is None:
            raise ValueError(
                f"This {type(self).__name__} estimator requires y to be passed, "
                "but the target y is None."
            )
        X = self._validate_X(X, reset=reset)
        y = check_y(y, estimator_name=type(self).__name__)
        check_consistent_length(X, y)
        return X, y

    def _validate_X(self, X: Any, *, reset: bool) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _partial_fit_classes(self, classes: Any) -> tuple[np.ndarray, bool]:
        """Known classes and whether this is the first ``partial_fit`` call."""
        fitted_classes = getattr(self, "classes_", None)
        if fitted_classes is None and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if classes is None:
            return fitted_classes, False
        new_classes = unique_labels(classes)
        if fitted_classes is not None:
            if not np.array_equal(fitted_classes, new_classes):
                raise ValueError(
                    f"`classes={classes!r}` is not the same as on last call to partial_fit, "
                    f"was: {fitted_classes!r}"
                )
            return fitted_classes, False
        return new_classes, True

    @staticmethod
    def _encode_labels(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """int64 positions of ``y`` in ``classes``; unknown labels raise ``ValueError``."""
        uniq = np.unique(y)
        known = np.isin(uniq, classes)
        if not np.all(known):
            raise ValueError(
                f"The target label(s) {uniq[~known]} in y do not exist in the initial "
                f"classes {classes}"
            )
        return np.searchsorted(classes, y).astype(np.int64)


# --------------------------------------------------------------------------- discrete


class _BaseDiscreteNB(_BaseNB):
    """Count-based NB: additive smoothing, class priors, fit/partial_fit on counts."""

    _fitted_attr = "class_log_prior_"
    _accept_sparse: str | bool = "csr"
    _X_dtype: Any = "numeric"
    _alpha_array_ok = True

    def __init__(
        self,
        alpha: float | Any = 1.0,
        fit_prior: bool = True,
        class_prior: Any = None,
        force_alpha: bool = True,
    ) -> None:
        self.alpha = alpha
        self.fit_prior = fit_prior
        self.class_prior = class_prior
        self.force_alpha = force_alpha

    # ---- hooks
    def _count(self, X: Any, class_index: np.ndarray, sample_weight: np.ndarray) -> None:
        """Add one validated batch to ``class_count_`` and the model's feature counts."""
        raise NotImplementedError  # pragma: no cover - abstract

    def _update_feature_log_prob(self, alpha: Any) -> None:
        """Recompute ``feature_log_prob_`` from the counts and the checked ``alpha``."""
        raise NotImplementedError  # pragma: no cover - abstract

    def _check_fit_X(self, X: Any) -> None:
        """Extra checks on training data (e.g. non-negativity) before any state changes."""

    def _init_counters(self, n_classes: int, n_features: int) -> None:
        self.class_count_ = np.zeros(n_classes, dtype=np.float64)
        self.feature_count_ = np.zeros((n_classes, n_features), dtype=np.float64)

    # ---- validation
    def _validate_params(self) -> None:
        alpha = self.alpha
        array = self._alpha_array_ok and _is_array_like(alpha) and not _is_real(alpha)
        if not (array or _is_non_negative_real(alpha)):
            expected = "a float in the range [0.0, inf)"
            if self._alpha_array_ok:
                expected += " or an array-like"
            raise invalid_param(self, "alpha", expected, alpha)
        if array:
            _check_alpha_values(np.asarray(alpha))
        check_bool_params(self, "fit_prior", "force_alpha")
        if self.class_prior is not None and not _is_array_like(self.class_prior):
            raise invalid_param(self, "class_prior", "an array-like or None", self.class_prior)

    def _validate_X(self, X: Any, *, reset: bool) -> Any:
        return validate_data(
            self, X, reset=reset, accept_sparse=self._accept_sparse, dtype=self._X_dtype
        )

    def _check_X(self, X: Any) -> Any:
        return self._validate_X(X, reset=False)

    def _check_alpha(self) -> Any:
        # the values were checked by _validate_params (every caller runs it first)
        alpha = self.alpha if _is_real(self.alpha) else np.asarray(self.alpha)
        alpha_min = np.min(alpha)
        if isinstance(alpha, np.ndarray) and alpha.shape[0] != self.n_features_in_:
            raise ValueError(
                "When alpha is an array, it should contains `n_features`. "
                f"Got {alpha.shape[0]} elements instead of {self.n_features_in_}."
            )
        if alpha_min < _ALPHA_LOWER_BOUND and not self.force_alpha:
            warnings.warn(
                f"alpha too small will result in numeric errors, setting alpha = "
                f"{_ALPHA_LOWER_BOUND:.1e}. Use `force_alpha=True` to keep alpha unchanged.",
                UserWarning,
                stacklevel=3,
            )
            return np.maximum(alpha, _ALPHA_LOWER_BOUND)
        return alpha

    def _update_class_log_prior(self, class_prior: Any = None) -> None:
        n_classes = len(self.classes_)
        if class_prior is not None:
            if len(class_prior) != n_classes:
                raise ValueError("Number of priors must match number of classes.")
            self.class_log_prior_ = np.log(class_prior)
        elif self.fit_prior:
            with warnings.catch_warnings():
                # a class not observed yet has count 0: log(0) = -inf is intended
                warnings.simplefilter("ignore", RuntimeWarning)
                log_class_count = np.log(self.class_count_)
            self.class_log_prior_ = log_class_count - np.log(self.class_count_.sum())
        else:
            self.class_log_prior_ = np.full(n_classes, -np.log(n_classes))

    @staticmethod
    def _weights(sample_weight: Any, n_samples: int) -> np.ndarray:
        if sample_weight is None:
            return np.ones(n_samples, dtype=np.float64)
        sw = check_sample_weight(sample_weight, n_samples)
        return np.ascontiguousarray(sw, dtype=np.float64)

    # ---- fitting
    def _fit_batch(
        self,
        X: Any,
        class_index: np.ndarray,
        sample_weight: np.ndarray,
        classes: np.ndarray | None,
    ) -> BaseEstimator:
        """Count one validated batch; ``classes`` given means (re)initialise the counters."""
        if classes is not None:
            self.classes_ = classes
            self._init_counters(len(classes), X.shape[1])
        self._count(X, class_index, sample_weight)
        alpha = self._check_alpha()
        self._update_feature_log_prob(alpha)
        self._update_class_log_prior(class_prior=self.class_prior)
        return self

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> BaseEstimator:
        """Fit the model on ``X`` and ``y``.

        Counts the (weighted) samples of each class and the feature values of each
        class, then computes the smoothed feature log probabilities and the class log
        priors.  Any earlier fit is discarded.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Training samples.  MultinomialNB and ComplementNB take non-negative
            values (typically term counts or tf-idf weights), dense or CSR;
            BernoulliNB takes any real values and binarizes them with ``binarize``;
            CategoricalNB takes non-negative integer category codes, dense only.
        y : array-like of shape (n_samples,)
            Class label of each sample.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the counts; None gives every sample weight 1.

        Returns
        -------
        self : object
            The fitted estimator.

        Raises
        ------
        ValueError
            ``X`` has negative values (MultinomialNB, ComplementNB, CategoricalNB),
            ``X`` and ``y`` have different lengths, ``y`` is None or not a
            classification target, ``class_prior`` has a length other than the number
            of classes, or an array ``alpha`` has a length other than
            ``n_features``.  A constructor parameter of the wrong type or value
            raises ``InvalidParameterError`` (a ``ValueError`` and a ``TypeError``).
        """
        self._validate_params()
        X, y = self._check_X_y(X, y, reset=True)
        self._check_fit_X(X)
        classes = unique_labels(y)
        class_index = np.searchsorted(classes, y).astype(np.int64)
        sw = self._weights(sample_weight, X.shape[0])
        for attr in ("classes_", self._fitted_attr):
            if hasattr(self, attr):
                delattr(self, attr)
        return self._fit_batch(X, class_index, sw, classes)

    def partial_fit(
        self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None
    ) -> BaseEstimator:
        """Update the model with one batch of samples.

        The counts of the batch are added to those of earlier calls and the
        probabilities recomputed, so successive calls on the parts of a data set give
        the same model as one ``fit`` on all of it (exactly for integer counts, to
        rounding for other values).  Use it for data that does not fit in memory, or
        that arrives over time.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Training samples.  MultinomialNB and ComplementNB take non-negative
            values (typically term counts or tf-idf weights), dense or CSR;
            BernoulliNB takes any real values and binarizes them with ``binarize``;
            CategoricalNB takes non-negative integer category codes, dense only.
            Every batch must have the same number of features.
        y : array-like of shape (n_samples,)
            Class label of each sample.
            Every label must be one of ``classes``.
        classes : array-like of shape (n_classes,), default=None
            All the labels that can occur in any batch; required on the first call
            (a batch need not contain every class).  Later calls may omit it; if
            given, it must equal the first call's.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the counts; None gives every sample weight 1.

        Returns
        -------
        self : object
            The updated estimator.

        Raises
        ------
        ValueError
            ``X`` has negative values (MultinomialNB, ComplementNB, CategoricalNB),
            ``X`` and ``y`` have different lengths, ``y`` is None or not a
            classification target, ``class_prior`` has a length other than the number
            of classes, or an array ``alpha`` has a length other than
            ``n_features``; also when ``classes`` is missing on the first call or
            differs from the first call's, or ``y`` holds a label not in it.  A
            constructor parameter of the wrong type or value raises
            ``InvalidParameterError`` (a ``ValueError`` and a ``TypeError``).
        """
        self._validate_params()
        first_call = not hasattr(self, "classes_")
        X, y = self._check_X_y(X, y, reset=first_call)
        known, init = self._partial_fit_classes(classes)
        class_index = self._encode_labels(y, known)
        self._check_fit_X(X)
        sw = self._weights(sample_weight, X.shape[0])
        return self._fit_batch(X, class_index, sw, known if init else None)

    def __sklearn_tags__(self):  # pragma: no cover - called by scikit-learn only
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.classifier_tags.poor_score = True
        return tags


class _LinearDiscreteNB(_BaseDiscreteNB):
    """Discrete NB whose joint log likelihood is ``X @ W`` plus a per-class bias."""

    def _weight_matrix(self) -> np.ndarray:
        """W, float64 C-contiguous of shape (n_features, n_classes)."""
        return np.ascontiguousarray(self.feature_log_prob_.T, dtype=np.float64)

    def _linear_weights(self) -> tuple[np.ndarray, float | None] | None:
        self._check_fitted()
        return self._weight_matrix(), None

    def _joint_log_likelihood(self, X: Any) -> np.ndarray:
        return self._jll_from_dot(_safe_dot(X, self._weight_matrix()))

    def _count(self, X: Any, class_index: np.ndarray, sample_weight: np.ndarray) -> None:
        n_classes = self.class_count_.shape[0]
        self.feature_count_ += _class_feature_counts(X, class_index, sample_weight, n_classes)
        self.class_count_ += _kernels.class_counts(class_index, sample_weight, n_classes)
        self._update_derived_counts()

    def _update_derived_counts(self) -> None:
        """Recompute statistics derived from the counters (none here)."""

    def _fit_from_counts(
        self, classes: np.ndarray, class_count: np.ndarray, feature_count: np.ndarray
    ) -> _LinearDiscreteNB:
        """Fit from ``class_count_``/``feature_count_`` summed over batches (fastgen.dask).

        Equals ``fit`` on the concatenated batches: the counters are sums and the
        finalisation is ``fit``'s own.  ``classes`` sorted unique labels (n_classes,),
        ``class_count`` (n_classes,), ``feature_count`` (n_classes, n_features), float64.
        """
        self._validate_params()
        for attr in ("classes_", self._fitted_attr, "feature_names_in_"):
            if hasattr(self, attr):
                delattr(self, attr)
        n_classes, n_features = feature_count.shape
        if class_count.shape != (n_classes,) or len(classes) != n_classes:
            raise ValueError(
                f"class_count {class_count.shape} and classes ({len(classes)}) do not match "
                f"feature_count {feature_count.shape}"
            )
        self.n_features_in_ = n_features
        self.classes_ = np.asarray(classes)
        self._init_counters(n_classes, n_features)
        self.class_count_ += class_count
        self.feature_count_ += feature_count
        self._update_derived_counts()
        self._update_feature_log_prob(self._check_alpha())
        self._update_class_log_prior(class_prior=self.class_prior)
        return self


@fill(**SHARED)
class MultinomialNB(_LinearDiscreteNB):
    """Naive Bayes classifier for multinomial models (e.g. word counts).

    Each class is modelled by a multinomial distribution over the features: the
    probability of feature ``i`` in class ``y`` is estimated as the smoothed share
    ``(N_yi + alpha) / (N_y + alpha * n_features)`` of the class's feature total.
    Suited to term counts (:class:`fastgen.text.CountVectorizer`,
    :class:`fastgen.text.HashingVectorizer`), and in practice to tf-idf weights as
    well.  ``X`` may be a dense array or a CSR matrix of non-negative values.
    Parameters, fitted attributes and predictions follow scikit-learn's
    ``MultinomialNB``; the counting runs in a compiled kernel.

    Parameters
    ----------
    {{alpha}}
    {{force_alpha}}
    {{fit_prior}}
    {{class_prior}}

    Attributes
    ----------
    {{attr_class_count_}}
    {{attr_class_log_prior_}}
    {{attr_classes_}}
    {{attr_feature_count_}}
    feature_log_prob_ : ndarray of shape (n_classes, n_features)
        Smoothed log probability ``log P(x_i | y)`` of each feature given each
        class.
    {{attr_n_features_in_}}
    {{attr_feature_names_in_}}

    See Also
    --------
    ComplementNB : Complement Naive Bayes, often better on imbalanced text classes.
    BernoulliNB : Naive Bayes for binary (presence/absence) features.
    fastgen.text.CountVectorizer : Turns documents into the term counts it takes.
    fastgen.pipeline.TextClassifier : A vectorizer and this classifier, scoring raw
        text in one compiled pass.
    linear_form : The classifier's joint log likelihood as weights and a bias.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgen.text import CountVectorizer
    >>> from fastgen.naive_bayes import MultinomialNB
    >>> docs = ["free money now", "win free money", "meeting at noon", "lunch meeting today"]
    >>> y = ["spam", "spam", "ham", "ham"]
    >>> vec = CountVectorizer()
    >>> X = vec.fit_transform(docs)
    >>> clf = MultinomialNB().fit(X, y)
    >>> clf.classes_.tolist()
    ['ham', 'spam']
    >>> clf.predict(vec.transform(["free lunch money", "noon meeting"])).tolist()
    ['spam', 'ham']
    >>> np.round(clf.predict_proba(vec.transform(["free lunch money"])), 3).tolist()
    [[0.182, 0.818]]

    Training in batches with ``partial_fit`` gives the same model as ``fit``:

    >>> batched = MultinomialNB().partial_fit(X[:2], y[:2], classes=["ham", "spam"])
    >>> batched = batched.partial_fit(X[2:], y[2:])
    >>> bool(np.array_equal(batched.feature_log_prob_, clf.feature_log_prob_))
    True
    """

    def __init__(
        self,
        *,
        alpha: float | Any = 1.0,
        force_alpha: bool = True,
        fit_prior: bool = True,
        class_prior: Any = None,
    ) -> None:
        super().__init__(
            alpha=alpha, fit_prior=fit_prior, class_prior=class_prior, force_alpha=force_alpha
        )

    def _check_fit_X(self, X: Any) -> None:
        check_non_negative(X, "MultinomialNB (input X)")

    def _update_feature_log_prob(self, alpha: Any) -> None:
        smoothed_fc = self.feature_count_ + alpha
        smoothed_cc = smoothed_fc.sum(axis=1)
        # in place: the same operations without two more (n_classes, n_features) arrays
        np.log(smoothed_fc, out=smoothed_fc)
        smoothed_fc -= np.log(smoothed_cc.reshape(-1, 1))
        self.feature_log_prob_ = smoothed_fc

    def _jll_from_dot(self, dot: np.ndarray) -> np.ndarray:
        return dot + self.class_log_prior_

    def __sklearn_tags__(self):  # pragma: no cover - called by scikit-learn only
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags


@fill(**SHARED)
class ComplementNB(_LinearDiscreteNB):
    """Complement Naive Bayes (Rennie et al., 2003), suited to imbalanced text data.

    Instead of estimating each class's feature distribution from that class's
    samples, ComplementNB estimates it from the samples of all the *other*
    classes (the complement), which has more data when a class is small; a
    sample is assigned to the class whose complement fits it worst.  The weights
    are ``-log((N_~yi + alpha) / (N_~y + alpha * n_features))``, ``N_~yi`` being
    feature ``i``'s total outside class ``y``.  Takes non-negative values (counts or
    tf-idf weights), dense or CSR.  Its ``predict_proba`` values rank the classes
    but are not calibrated probabilities.  Parameters, fitted attributes and
    predictions follow scikit-learn's ``ComplementNB``.

    Parameters
    ----------
    alpha : float or array-like of shape (n_features,), default=1.0
        Additive (Laplace/Lidstone) smoothing: the value added to every complement
        feature count of every class before the counts are turned into
        probabilities, so that no complement probability is 0.  1.0 is Laplace
        smoothing, values below 1 Lidstone smoothing, 0 none.  An array gives one
        value per feature.
    {{force_alpha}}
    fit_prior : bool, default=True
        Whether ``class_log_prior_`` is learnt from the class frequencies (True) or
        uniform (False).  The prior enters predictions only when the training data
        has a single class; ``class_log_prior_`` is computed either way.
    class_prior : array-like of shape (n_classes,), default=None
        Prior probability of each class, in the order of ``classes_``, used as given
        for ``class_log_prior_``.  As with ``fit_prior``, predictions use it only
        when the training data has a single class.
    norm : bool, default=False
        If True, each class's complement log probabilities are divided by their sum
        (the weight normalisation of Rennie et al.), so that the weights of every
        class sum to 1 and no class wins through larger weights alone.  If False,
        the weights are the negated complement log probabilities.

    Attributes
    ----------
    {{attr_class_count_}}
    {{attr_class_log_prior_}}
    {{attr_classes_}}
    {{attr_feature_count_}}
    feature_all_ : ndarray of shape (n_features,)
        Sum of each feature's values over all training samples (the column sums of
        ``feature_count_``).
    feature_log_prob_ : ndarray of shape (n_classes, n_features)
        Complement weights of each class and feature; a larger value makes the class
        more likely.
    {{attr_n_features_in_}}
    {{attr_feature_names_in_}}

    See Also
    --------
    MultinomialNB : The multinomial model ComplementNB complements.
    fastgen.text.TfidfVectorizer : Tf-idf weights, a common input for ComplementNB.
    fastgen.pipeline.TextClassifier : A vectorizer and this classifier, scoring raw
        text in one compiled pass.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgen.text import CountVectorizer
    >>> from fastgen.naive_bayes import ComplementNB
    >>> docs = ["free money now", "win free money", "meeting at noon", "lunch meeting today"]
    >>> y = ["spam", "spam", "ham", "ham"]
    >>> vec = CountVectorizer()
    >>> X = vec.fit_transform(docs)
    >>> clf = ComplementNB(norm=True).fit(X, y)
    >>> clf.classes_.tolist()
    ['ham', 'spam']
    >>> clf.predict(vec.transform(["free lunch money", "noon meeting"])).tolist()
    ['spam', 'ham']
    >>> clf.feature_log_prob_.shape
    (2, 9)
    >>> np.round(clf.feature_log_prob_.sum(axis=1), 3).tolist()  # norm=True
    [1.0, 1.0]
    """

    def __init__(
        self,
        *,
        alpha: float | Any = 1.0,
        force_alpha: bool = True,
        fit_prior: bool = True,
        class_prior: Any = None,
        norm: bool = False,
    ) -> None:
        super().__init__(
            alpha=alpha, fit_prior=fit_prior, class_prior=class_prior, force_alpha=force_alpha
        )
        self.norm = norm

    def _validate_params(self) -> None:
        super()._validate_params()
        check_bool_params(self, "norm")

    def _check_fit_X(self, X: Any) -> None:
        check_non_negative(X, "ComplementNB (input X)")

    def _update_derived_counts(self) -> None:
        self.feature_all_ = self.feature_count_.sum(axis=0)

    def _update_feature_log_prob(self, alpha: Any) -> None:
        comp_count = self.feature_all_ + alpha - self.feature_count_
        logged = np.log(comp_count / comp_count.sum(axis=1, keepdims=True))
        # predictions use argmax, so the complement log-probabilities are negated
        if self.norm:
            self.feature_log_prob_ = logged / logged.sum(axis=1, keepdims=True)
        else:
            self.feature_log_prob_ = -logged

    def _jll_from_dot(self, dot: np.ndarray) -> np.ndarray:
        jll = dot
        if len(self.classes_) == 1:
            jll += self.class_log_prior_
        return jll

    def __sklearn_tags__(self):  # pragma: no cover - called by scikit-learn only
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags


@fill(**SHARED)
class BernoulliNB(_LinearDiscreteNB):
    """Naive Bayes classifier for multivariate Bernoulli (binary feature) models.

    Each feature is a yes/no event (a word occurs in the document or not); unlike
    MultinomialNB, the absence of a feature counts as evidence too.  Inputs are
    binarized with ``binarize`` first (dense arrays or CSR matrices, any real
    values), both in ``fit`` and in the ``predict*`` methods.  The probability of
    feature ``i`` in class ``y`` is estimated as ``(N_yi + alpha) / (N_y + 2 *
    alpha)``, ``N_yi`` being the number of class ``y`` samples in which it occurs.
    Parameters, fitted attributes and predictions follow scikit-learn's
    ``BernoulliNB``.

    Parameters
    ----------
    {{alpha}}
    {{force_alpha}}
    binarize : float or None, default=0.0
        Threshold mapping features to {0, 1}: values ``> binarize`` become 1, the
        others 0 (with the default, every non-zero count is a 1).  None means the
        input is already binary and is used as it is.
    {{fit_prior}}
    {{class_prior}}

    Attributes
    ----------
    {{attr_class_count_}}
    {{attr_class_log_prior_}}
    {{attr_classes_}}
    feature_count_ : ndarray of shape (n_classes, n_features)
        Number of training samples of each class in which each feature is 1 after
        binarizing (weighted by ``sample_weight``), before smoothing.
    feature_log_prob_ : ndarray of shape (n_classes, n_features)
        Smoothed log probability ``log P(x_i = 1 | y)`` of each feature being present
        given each class.
    {{attr_n_features_in_}}
    {{attr_feature_names_in_}}

    See Also
    --------
    MultinomialNB : Naive Bayes on counts rather than presence.
    fastgen.text.CountVectorizer : With ``binary=True``, gives presence features.
    fastgen.pipeline.TextClassifier : A vectorizer and this classifier, scoring raw
        text in one compiled pass.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgen.text import CountVectorizer
    >>> from fastgen.naive_bayes import BernoulliNB
    >>> docs = ["free money now", "win free money", "meeting at noon", "lunch meeting today"]
    >>> y = ["spam", "spam", "ham", "ham"]
    >>> vec = CountVectorizer()
    >>> X = vec.fit_transform(docs)
    >>> clf = BernoulliNB().fit(X, y)
    >>> clf.classes_.tolist()
    ['ham', 'spam']
    >>> clf.predict(vec.transform(["free lunch money", "noon meeting"])).tolist()
    ['spam', 'ham']

    ``feature_count_`` counts documents containing a term, not occurrences; both
    spam documents contain "free":

    >>> float(clf.feature_count_[1, vec.vocabulary_["free"]])
    2.0
    """

    def __init__(
        self,
        *,
        alpha: float | Any = 1.0,
        force_alpha: bool = True,
        binarize: float | None = 0.0,
        fit_prior: bool = True,
        class_prior: Any = None,
    ) -> None:
        super().__init__(
            alpha=alpha, fit_prior=fit_prior, class_prior=class_prior, force_alpha=force_alpha
        )
        self.binarize = binarize

    def _validate_params(self) -> None:
        super()._validate_params()
        b = self.binarize
        if b is not None and not _is_non_negative_real(b):
            raise invalid_param(self, "binarize", "None or a float in the range [0.0, inf)", b)

    def _binarized(self, X: Any) -> Any:
        threshold = self.binarize
        if threshold is None:
            return X
        if sp.issparse(X):
            X = X.copy()
            cond = X.data > threshold
            X.data[cond] = 1
            X.data[np.logical_not(cond)] = 0
            X.eliminate_zeros()
            return X
        X = np.array(X, copy=True)
        cond = X > threshold
        X[cond] = 1
        X[np.logical_not(cond)] = 0
        return X

    def _validate_X(self, X: Any, *, reset: bool) -> Any:
        return self._binarized(super()._validate_X(X, reset=reset))

    def _update_feature_log_prob(self, alpha: Any) -> None:
        smoothed_fc = self.feature_count_ + alpha
        smoothed_cc = self.class_count_ + alpha * 2
        np.log(smoothed_fc, out=smoothed_fc)  # in place, as in MultinomialNB
        smoothed_fc -= np.log(smoothed_cc.reshape(-1, 1))
        self.feature_log_prob_ = smoothed_fc

    def _neg_prob(self) -> np.ndarray:
        return np.log(1 - np.exp(self.feature_log_prob_))

    def _weight_matrix(self) -> np.ndarray:
        W = (self.feature_log_prob_ - self._neg_prob()).T
        return np.ascontiguousarray(W, dtype=np.float64)

    def _linear_weights(self) -> tuple[np.ndarray, float | None] | None:
        self._check_fitted()
        return self._weight_matrix(), self.binarize

    def _jll_from_dot(self, dot: np.ndarray) -> np.ndarray:
        jll = dot
        jll += self.class_log_prior_ + self._neg_prob().sum(axis=1)
        return jll


@fill(**SHARED)
class CategoricalNB(_BaseDiscreteNB):
    """Naive Bayes classifier for categorical features, each coded as integers from 0.

    A feature ``j`` takes the values ``0, 1, ..., n_categories_j - 1``.

    Each feature has its own categorical distribution per class, estimated as the
    smoothed share ``(N_yjk + alpha) / (N_y + alpha * n_categories_j)`` of the
    class ``y`` samples whose feature ``j`` is category ``k``.  ``X`` must be a dense
    array of non-negative integers, each the code of a category (an encoder such
    as scikit-learn's ``OrdinalEncoder`` gives them); sparse input is refused.
    Parameters, fitted attributes and predictions follow scikit-learn's
    ``CategoricalNB``.

    Parameters
    ----------
    alpha : float, default=1.0
        Additive (Laplace/Lidstone) smoothing: the value added to the count of every
        (class, feature, category) before the counts are turned into probabilities,
        so that a category never seen with a class does not get probability 0.  One
        value for all features; 0 means no smoothing.
    {{force_alpha}}
    {{fit_prior}}
    {{class_prior}}
    min_categories : int or array-like of shape (n_features,), default=None
        Minimum number of categories of each feature (an int for all features, or
        one per feature).  Without it a feature has ``max(X[:, j]) + 1`` categories,
        the largest code seen in training plus one; set it when codes that do not
        occur in the training data may occur at prediction time, as they would
        otherwise be out of range (an ``IndexError``).

    Attributes
    ----------
    category_count_ : list of n_features ndarrays of shape (n_classes, n_categories_j)
        For each feature, the number of training samples of each class having each
        category (weighted by ``sample_weight``), before smoothing.
    {{attr_class_count_}}
    {{attr_class_log_prior_}}
    {{attr_classes_}}
    feature_log_prob_ : list of n_features ndarrays of shape (n_classes, n_categories_j)
        For each feature, the smoothed log probability ``log P(x_j = k | y)`` of each
        category given each class.
    n_categories_ : ndarray of shape (n_features,), dtype int64
        Number of categories of each feature: the largest code plus one of the last
        batch fitted, or ``min_categories`` where larger.
    {{attr_n_features_in_}}
    {{attr_feature_names_in_}}

    See Also
    --------
    MultinomialNB : Naive Bayes for count features.
    BernoulliNB : Naive Bayes for binary features.
    GaussianNB : Naive Bayes for continuous features.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgen.naive_bayes import CategoricalNB
    >>> X = np.array([[0, 2], [1, 2], [2, 0], [2, 1]])  # two features, codes 0..2
    >>> y = [0, 0, 1, 1]
    >>> clf = CategoricalNB().fit(X, y)
    >>> clf.n_categories_.tolist()
    [3, 3]
    >>> clf.predict([[0, 2], [2, 0]]).tolist()
    [0, 1]

    ``min_categories`` leaves room for codes the training data lacks:

    >>> clf = CategoricalNB(min_categories=4).fit(X, y)
    >>> clf.n_categories_.tolist()
    [4, 4]
    >>> np.round(clf.predict_proba([[3, 3]]), 3).tolist()
    [[0.5, 0.5]]
    """

    _accept_sparse = False
    _X_dtype = np.int64
    _alpha_array_ok = False

    def __init__(
        self,
        *,
        alpha: float = 1.0,
        force_alpha: bool = True,
        fit_prior: bool = True,
        class_prior: Any = None,
        min_categories: int | Any = None,
    ) -> None:
        super().__init__(
            alpha=alpha, fit_prior=fit_prior, class_prior=class_prior, force_alpha=force_alpha
        )
        self.min_categories = min_categories

    def _validate_params(self) -> None:
        super()._validate_params()
        mc = self.min_categories
        ok = (
            mc is None
            or (isinstance(mc, numbers.Integral) and not _is_bool(mc) and mc >= 1)
            or (_is_array_like(mc) and not isinstance(mc, numbers.Number))
        )
        if not ok:
            raise invalid_param(
                self,
                "min_categories",
                "None, an array-like or an int in the range [1, inf)",
                mc,
            )

    def _validate_X(self, X: Any, *, reset: bool) -> Any:
        X = super()._validate_X(X, reset=reset)
        check_non_negative(X, "CategoricalNB (input X)")
        return X

    def _init_counters(self, n_classes: int, n_features: int) -> None:
        self.class_count_ = np.zeros(n_classes, dtype=np.float64)
        self.category_count_ = [np.zeros((n_classes, 0)) for _ in range(n_features)]

    @staticmethod
    def _validate_n_categories(X: np.ndarray, min_categories: Any) -> np.ndarray:
        # categories are coded 0 .. n - 1, so the batch maximum gives n
        n_categories_X = X.max(axis=0) + 1
        if min_categories is None:
            return n_categories_X
        min_categories_ = np.array(min_categories)
        if not np.issubdtype(min_categories_.dtype, np.signedinteger):
            raise ValueError(
                f"'min_categories' should have integral type. Got {min_categories_.dtype} instead."
            )
        n_categories_ = np.maximum(n_categories_X, min_categories_, dtype=np.int64)
        if n_categories_.shape != n_categories_X.shape:
            raise ValueError(
                f"'min_categories' should have shape ({X.shape[1]},) when an array-like is "
                f"provided. Got {min_categories_.shape} instead."
            )
        return n_categories_

    def _count(self, X: Any, class_index: np.ndarray, sample_weight: np.ndarray) -> None:
        n_classes = self.class_count_.shape[0]
        n_categories = self._validate_n_categories(X, self.min_categories)
        self.class_count_ += _kernels.class_counts(class_index, sample_weight, n_classes)
        self.n_categories_ = n_categories
        counts = self.category_count_
        for j in range(self.n_features_in_):
            missing = int(n_categories[j]) - counts[j].shape[1]
            if missing > 0:
                counts[j] = np.pad(counts[j], [(0, 0), (0, missing)], "constant")
        widths = np.array([c.shape[1] for c in counts], dtype=np.int64)
        offsets = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(widths, out=offsets[1:])
        Xc = np.ascontiguousarray(X, dtype=np.int64)
        batch = _kernels.class_category_counts(Xc, class_index, sample_weight, n_classes, offsets)
        for j in range(self.n_features_in_):
            counts[j] += batch[:, offsets[j] : offsets[j + 1]]

    def _update_feature_log_prob(self, alpha: Any) -> None:
        feature_log_prob = []
        for j in range(self.n_features_in_):
            smoothed_cat_count = self.category_count_[j] + alpha
            smoothed_class_count = smoothed_cat_count.sum(axis=1)
            feature_log_prob.append(
                np.log(smoothed_cat_count) - np.log(smoothed_class_count.reshape(-1, 1))
            )
        self.feature_log_prob_ = feature_log_prob

    def _joint_log_likelihood(self, X: Any) -> np.ndarray:
        jll = np.zeros((X.shape[0], self.class_count_.shape[0]))
        for j in range(self.n_features_in_):
            jll += self.feature_log_prob_[j][:, X[:, j]].T
        return jll + self.class_log_prior_

    def __sklearn_tags__(self):  # pragma: no cover - called by scikit-learn only
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True
        tags.input_tags.sparse = False
        tags.input_tags.positive_only = True
        return tags


# --------------------------------------------------------------------------- Gaussian


@fill(**SHARED)
class GaussianNB(_BaseNB):
    """Gaussian Naive Bayes, with incremental updates through :meth:`partial_fit`.

    Each feature is modelled, within each class, by a normal distribution whose
    mean and variance are estimated from the training samples of that class.  For
    continuous, real-valued features in a dense array.  Parameters, fitted
    attributes and predictions follow scikit-learn's ``GaussianNB``.

    Parameters
    ----------
    priors : array-like of shape (n_classes,), default=None
        Prior probability of each class, in the order of ``classes_`` (the sorted
        labels): one value per class, non-negative, summing to 1.  None learns the
        priors from the (weighted) class frequencies of the training data.
    var_smoothing : float, default=1e-9
        Fraction of the largest feature variance of the training data added to every
        variance, which keeps the variances away from 0 (a feature constant within a
        class would otherwise make the likelihood infinite).  Must be >= 0.

    Attributes
    ----------
    {{attr_class_count_}}
    class_prior_ : ndarray of shape (n_classes,)
        Prior probability of each class: ``priors``, or the class frequencies.
    {{attr_classes_}}
    epsilon_ : float
        Absolute value added to the variances: ``var_smoothing`` times the largest
        feature variance of the (last) training batch.
    {{attr_n_features_in_}}
    {{attr_feature_names_in_}}
    theta_ : ndarray of shape (n_classes, n_features)
        Mean of each feature in each class.
    var_ : ndarray of shape (n_classes, n_features)
        Variance of each feature in each class, ``epsilon_`` included.

    See Also
    --------
    CategoricalNB : Naive Bayes for categorical features.
    MultinomialNB : Naive Bayes for count features.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgen.naive_bayes import GaussianNB
    >>> X = np.array([[-1.0, -1.0], [-2.0, -1.0], [-3.0, -2.0],
    ...               [1.0, 1.0], [2.0, 1.0], [3.0, 2.0]])
    >>> y = [1, 1, 1, 2, 2, 2]
    >>> clf = GaussianNB().fit(X, y)
    >>> clf.predict([[-0.8, -1.0]]).tolist()
    [1]
    >>> np.round(clf.theta_, 3).tolist()
    [[-2.0, -1.333], [2.0, 1.333]]

    The same model, fitted in two batches:

    >>> batched = GaussianNB().partial_fit(X[:3], y[:3], classes=[1, 2])
    >>> batched = batched.partial_fit(X[3:], y[3:])
    >>> bool(np.allclose(batched.var_, clf.var_))
    True
    """

    _fitted_attr = "class_prior_"

    def __init__(self, *, priors: Any = None, var_smoothing: float = 1e-9) -> None:
        self.priors = priors
        self.var_smoothing = var_smoothing

    def _validate_params(self) -> None:
        vs = self.var_smoothing
        if not _is_non_negative_real(vs):
            raise invalid_param(self, "var_smoothing", "a float in the range [0.0, inf)", vs)
        if self.priors is not None and not _is_array_like(self.priors):
            raise invalid_param(self, "priors", "an array-like or None", self.priors)

    def _validate_X(self, X: Any, *, reset: bool) -> Any:
        return validate_data(self, X, reset=reset)

    def _check_X(self, X: Any) -> Any:
        return self._validate_X(X, reset=False)

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> GaussianNB:
        """Fit per-class means and variances.

        Any earlier fit is discarded.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training samples, real values (dense; sparse matrices are refused with a
            ``TypeError``).
        y : array-like of shape (n_samples,)
            Class label of each sample.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the class counts, means and variances; None gives
            every sample weight 1.

        Returns
        -------
        self : object
            The fitted estimator.

        Raises
        ------
        ValueError
            ``X`` and ``y`` have different lengths, ``y`` is not a classification
            target, or ``priors`` does not have one non-negative value per class
            summing to 1.  A constructor parameter of the wrong type or value
            raises ``InvalidParameterError`` (a ``ValueError`` and a ``TypeError``).
        """
        y = check_y(y, estimator_name=type(self).__name__)
        return self._partial_fit(X, y, np.unique(y), refit=True, sample_weight=sample_weight)

    def partial_fit(
        self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None
    ) -> GaussianNB:
        """Update means and variances with one batch (Chan, Golub & LeVeque).

        The running per-class count, mean and variance are combined with those of
        the batch by the pairwise update of Chan, Golub and LeVeque, so successive
        calls give the means and variances of one ``fit`` on all the data, to
        rounding.  Only the smoothing differs: ``epsilon_`` is recomputed from each
        batch's own variances, and the last batch's is the one added to ``var_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training samples, real values (dense; sparse matrices are refused with a
            ``TypeError``).
            Every batch must have the same number of features.
        y : array-like of shape (n_samples,)
            Class label of each sample.
            Every label must be one of ``classes``.
        classes : array-like of shape (n_classes,), default=None
            All the labels that can occur in any batch; required on the first call
            (a batch need not contain every class).  Later calls may omit it; if
            given, it must equal the first call's.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample of the batch; None gives every sample weight 1.

        Returns
        -------
        self : object
            The updated estimator.

        Raises
        ------
        ValueError
            ``X`` and ``y`` have different lengths, ``y`` is not a classification
            target, or ``priors`` does not have one non-negative value per class
            summing to 1; also when ``classes`` is missing on the first call or
            differs from the first call's, ``y`` holds a label not in it, or the
            batch has a different number of features.  A constructor parameter of
            the wrong type or value raises ``InvalidParameterError`` (a
            ``ValueError`` and a ``TypeError``).
        """
        return self._partial_fit(X, y, classes, refit=False, sample_weight=sample_weight)

    @staticmethod
    def _update_mean_variance(
        n_past: Any, mu: np.ndarray, var: np.ndarray, X: np.ndarray, sample_weight: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Combine running (count, mean, variance) with the batch ``X`` (columns independent)."""
        if X.shape[0] == 0:
            return mu, var
        if sample_weight is not None:
            n_new = float(np.sum(sample_weight))
            if np.isclose(n_new, 0.0):
                return mu, var
            new_mu = np.average(X, axis=0, weights=sample_weight)
            new_var = np.average((X - new_mu) ** 2, axis=0, weights=sample_weight)
        else:
            n_new = X.shape[0]
            new_var = np.var(X, axis=0)
            new_mu = np.mean(X, axis=0)
        if n_past == 0:
            return new_mu, new_var
        n_total = float(n_past + n_new)
        total_mu = (n_new * new_mu + n_past * mu) / n_total
        old_ssd = n_past * var
        new_ssd = n_new * new_var
        total_ssd = old_ssd + new_ssd + (n_new * n_past / n_total) * (mu - new_mu) ** 2
        return total_mu, total_ssd / n_total

    def _partial_fit(
        self, X: Any, y: Any, classes: Any, *, refit: bool, sample_weight: Any
    ) -> GaussianNB:
        self._validate_params()
        if refit:
            known, first_call = unique_labels(classes), True
        else:
            known, first_call = self._partial_fit_classes(classes)
        X, y = self._check_X_y(X, y, reset=first_call)
        float_dtype = X.dtype if X.dtype.kind == "f" else np.dtype(np.float64)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X.shape[0], dtype=float_dtype)
        epsilon = self.var_smoothing * np.max(np.var(X, axis=0))
        n_classes, n_features = known.shape[0], X.shape[1]
        if first_call:
            theta = np.zeros((n_classes, n_features), dtype=float_dtype)
            var = np.zeros((n_classes, n_features), dtype=float_dtype)
            class_count = np.zeros(n_classes, dtype=float_dtype)
            if self.priors is not None:
                priors = np.asarray(self.priors, dtype=float_dtype)
                if priors.shape[0] != n_classes:
                    raise ValueError("Number of priors must match number of classes.")
                if not np.isclose(np.sum(priors), 1.0):
                    raise ValueError("The sum of the priors should be 1.")
                if np.any(priors < 0):
                    raise ValueError("Priors must be non-negative.")
                class_prior = priors
            else:
                class_prior = np.zeros(n_classes, dtype=float_dtype)
        else:
            if n_features != self.theta_.shape[1]:
                raise ValueError(
                    f"Number of features {n_features} does not match previous data "
                    f"{self.theta_.shape[1]}."
                )
            theta, var = self.theta_.copy(), self.var_.copy()
            class_count, class_prior = self.class_count_.copy(), self.class_prior_
            # the stored variances include the smoothing: take it out (the new epsilon,
            # exactly as scikit-learn does) before combining
            var[:, :] -= epsilon
        self._encode_labels(y, known)
        for y_i in np.unique(y):
            i = int(np.searchsorted(known, y_i))
            mask = y == y_i
            X_i = X[mask]
            if sample_weight is not None:
                sw_i = sample_weight[mask]
                N_i = np.sum(sw_i)
            else:
                sw_i = None
                N_i = X_i.shape[0]
            new_theta, new_var = self._update_mean_variance(
                class_count[i], theta[i, :], var[i, :], X_i, sw_i
            )
            theta[i, :] = new_theta
            var[i, :] = new_var
            class_count[i] += N_i
        var[:, :] += epsilon
        if self.priors is None:
            class_prior = class_count / np.sum(class_count)
        self.classes_ = known
        self.epsilon_ = epsilon
        self.theta_, self.var_, self.class_count_ = theta, var, class_count
        self.class_prior_ = class_prior
        return self

    def _joint_log_likelihood(self, X: Any) -> np.ndarray:
        jll = []
        for i in range(np.size(self.classes_)):
            jointi = np.log(self.class_prior_[i])
            n_ij = -0.5 * np.sum(np.log(2.0 * np.pi * self.var_[i, :]))
            n_ij = n_ij - 0.5 * np.sum(((X - self.theta_[i, :]) ** 2) / (self.var_[i, :]), axis=1)
            jll.append(jointi + n_ij)
        return np.stack(jll).T
