"""Estimator base classes following scikit-learn's conventions, without importing it.

``get_params``/``set_params`` read the constructor signature, so ``clone``,
``Pipeline`` and ``GridSearchCV`` work. ``__sklearn_tags__`` imports
scikit-learn lazily: only scikit-learn itself ever calls it.
"""

from __future__ import annotations

import copy
import inspect
import os
import sys
from typing import Any

import numpy as np


class NotFittedError(ValueError, AttributeError):
    """Raised when an estimator is used before ``fit``."""


def _not_fitted_error_class() -> type[NotFittedError]:
    """:class:`NotFittedError`, also scikit-learn's when scikit-learn is already loaded.

    fastgen never imports scikit-learn, but code that has imported it (a
    ``Pipeline``, ``check_estimator``) catches ``sklearn.exceptions.NotFittedError``;
    the subclass lets one ``except`` clause of either kind catch the error.
    """
    sk_exceptions = sys.modules.get("sklearn.exceptions")
    if sk_exceptions is None:
        return NotFittedError
    return _sklearn_compatible_class(sk_exceptions.NotFittedError)


_COMPAT_CLASSES: dict[type, type] = {}


def _sklearn_compatible_class(sk_class: type) -> type[NotFittedError]:
    if sk_class not in _COMPAT_CLASSES:
        _COMPAT_CLASSES[sk_class] = type("NotFittedError", (NotFittedError, sk_class), {})
    return _COMPAT_CLASSES[sk_class]


def check_is_fitted(estimator: Any, attribute: str) -> None:
    """Raise :class:`NotFittedError` unless ``estimator`` has ``attribute``."""
    if not hasattr(estimator, attribute):
        raise _not_fitted_error_class()(
            f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with "
            "appropriate arguments before using this estimator."
        )


def clone(estimator: Any) -> Any:
    """Unfitted copy of ``estimator`` with the same parameters (scikit-learn's ``clone``).

    Parameters that are estimators are cloned; other parameters are deep-copied.
    """
    if isinstance(estimator, (list, tuple, set, frozenset)):
        return type(estimator)(clone(e) for e in estimator)
    if not hasattr(estimator, "get_params") or isinstance(estimator, type):
        return copy.deepcopy(estimator)
    params = estimator.get_params(deep=False)
    return type(estimator)(**{k: clone(v) for k, v in params.items()})


class BaseEstimator:
    """Parameters are the constructor's keyword arguments, stored unchanged."""

    @classmethod
    def _get_param_names(cls) -> list[str]:
        init = cls.__init__
        if init is object.__init__:
            return []
        params = inspect.signature(init).parameters.values()
        for p in params:
            if p.kind == p.VAR_POSITIONAL:
                raise RuntimeError(f"{cls.__name__} must not take *args in __init__")
        return sorted(p.name for p in params if p.name != "self" and p.kind != p.VAR_KEYWORD)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters of this estimator (its constructor's arguments).

        Parameters
        ----------
        deep : bool, default=True
            Also list the parameters of parameters that are estimators themselves,
            as ``<parameter>__<name>`` (e.g. ``vectorizer__min_df``).

        Returns
        -------
        dict
            Parameter names mapped to their current values.
        """
        out: dict[str, Any] = {}
        for key in self._get_param_names():
            value = getattr(self, key)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                for sub_key, sub_value in value.get_params().items():
                    out[f"{key}__{sub_key}"] = sub_value
            out[key] = value
        return out

    def set_params(self, **params: Any) -> BaseEstimator:
        """Set parameters of this estimator; nested ones as ``<parameter>__<name>``.

        Parameters
        ----------
        **params
            New parameter values by name.  Values are stored unchanged and checked
            at the next ``fit``.

        Returns
        -------
        self : object
            This estimator.

        Raises
        ------
        ValueError
            A name is not a parameter of this estimator.
        """
        if not params:
            return self
        valid = self.get_params(deep=True)
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, delim, sub_key = key.partition("__")
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {self}. "
                    f"Valid parameters are: {sorted(self._get_param_names())!r}."
                )
            if delim:
                nested.setdefault(name, {})[sub_key] = value
            else:
                setattr(self, name, value)
                valid[name] = value
        for name, sub_params in nested.items():
            valid[name].set_params(**sub_params)
        return self

    def __repr__(self) -> str:
        defaults = {
            name: p.default
            for name, p in inspect.signature(type(self).__init__).parameters.items()
            if p.default is not p.empty
        }
        changed = []
        for key in self._get_param_names():
            value = getattr(self, key, None)
            default = defaults.get(key, inspect.Parameter.empty)
            same = value is default
            if not same:
                try:
                    same = bool(type(value) is type(default) and value == default)
                except (TypeError, ValueError):
                    same = False
            if not same:
                changed.append(f"{key}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"

    def save(self, path: str | os.PathLike) -> None:
        """Write this estimator to a fastgen model file; ``fastgen.load(path)`` reads it.

        Parameters and fitted state are stored as data only (JSON and ``.npy``
        arrays, no pickle); see :func:`fastgen.save`.
        """
        from ._persist import save

        save(self, path)

    def __sklearn_tags__(self):  # pragma: no cover - called by scikit-learn only
        from sklearn.utils import Tags, TargetTags

        return Tags(
            estimator_type=None,
            target_tags=TargetTags(required=False),
            transformer_tags=None,
            regressor_tags=None,
            classifier_tags=None,
        )


class ClassifierMixin:
    """``score`` as mean accuracy, and the classifier tags."""

    _estimator_type = "classifier"

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean accuracy of ``predict(X)`` against ``y`` (weighted by ``sample_weight``)."""
        y = np.asarray(y)
        correct = (self.predict(X) == y).astype(np.float64)
        if sample_weight is None:
            return float(correct.mean())
        return float(np.average(correct, weights=np.asarray(sample_weight, dtype=np.float64)))

    def __sklearn_tags__(self):  # pragma: no cover - called by scikit-learn only
        from sklearn.utils import ClassifierTags

        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags()
        tags.target_tags.required = True
        return tags


class TransformerMixin:
    """``fit_transform`` as ``fit(X).transform(X)``, and the transformer tags."""

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> Any:
        return self.fit(X, y, **fit_params).transform(X)

    def __sklearn_tags__(self):  # pragma: no cover - called by scikit-learn only
        from sklearn.utils import TransformerTags

        tags = super().__sklearn_tags__()
        tags.transformer_tags = TransformerTags()
        return tags
