"""Input validation helpers shared by fastgen estimators.

They mirror scikit-learn's ``check_array``/``validate_data`` behaviour (and error
messages) for the cases fastgen needs, without importing scikit-learn.
"""

from __future__ import annotations

import numbers
import sys
import warnings
from typing import Any

import numpy as np

__all__ = [
    "DataConversionWarning",
    "InvalidParameterError",
    "check_array",
    "check_bool_params",
    "check_classification_targets",
    "check_consistent_length",
    "check_csr_structure",
    "check_non_negative",
    "check_sample_weight",
    "check_y",
    "column_or_1d",
    "invalid_param",
    "num_samples",
    "type_of_target",
    "unique_labels",
    "validate_data",
]


def _issparse(x: Any) -> bool:
    """``scipy.sparse.issparse(x)`` without importing scipy.sparse (a quarter of a second)
    when nothing has: a sparse matrix can only exist once its module is loaded."""
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and sparse.issparse(x)


class DataConversionWarning(UserWarning):
    """Warning used when input data is silently converted (e.g. a column vector ``y``)."""


class InvalidParameterError(ValueError, TypeError):
    """A constructor parameter has a wrong type or value (scikit-learn's exception of that name).

    A subclass of both ``ValueError`` and ``TypeError``, as scikit-learn's is, so code
    catching either keeps working.
    """


def invalid_param(estimator: Any, name: str, expected: str, value: Any) -> InvalidParameterError:
    """scikit-learn's message for a parameter ``name`` of ``estimator`` that is not ``expected``."""
    return InvalidParameterError(
        f"The {name!r} parameter of {type(estimator).__name__} must be {expected}. "
        f"Got {value!r} instead."
    )


def check_bool_params(estimator: Any, *names: str) -> None:
    """Raise :class:`InvalidParameterError` unless every parameter ``names`` is a bool."""
    for name in names:
        value = getattr(estimator, name)
        if not isinstance(value, (bool, np.bool_)):
            raise invalid_param(
                estimator, name, "an instance of 'bool' or an instance of 'numpy.bool'", value
            )


def _estimator_context(estimator_name: str | None) -> str:
    return f" by {estimator_name}" if estimator_name else ""


def num_samples(x: Any) -> int:
    """Number of samples (rows) of an array-like or sparse matrix."""
    if _issparse(x):
        return int(x.shape[0])
    shape = getattr(x, "shape", None)
    if shape is not None:
        if len(shape) == 0:
            raise TypeError(
                f"Input should have at least 1 dimension i.e. satisfy "
                f"`len(x.shape) > 0`, got scalar {x!r} instead."
            )
        return int(shape[0])
    if not hasattr(x, "__len__"):
        raise TypeError(f"Expected sequence or array-like, got {type(x)}")
    return len(x)


def check_consistent_length(*arrays: Any) -> None:
    """Raise ``ValueError`` unless all non-``None`` inputs have the same number of rows."""
    lengths = [num_samples(a) for a in arrays if a is not None]
    if len(set(lengths)) > 1:
        raise ValueError(f"Found input variables with inconsistent numbers of samples: {lengths!r}")


def _assert_all_finite(
    values: np.ndarray, *, input_name: str, estimator_name: str | None, dtype: Any = None
) -> None:
    """Raise ``ValueError`` if a float array holds NaN or +/-inf."""
    if values.dtype.kind not in "fc" or values.size == 0:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.sum(values)
    if np.isfinite(total):
        return
    if np.isnan(values).any():
        msg = f"Input {input_name} contains NaN."
        if input_name == "X" and estimator_name:
            msg += (
                f"\n{estimator_name} does not accept missing values encoded as NaN "
                "natively. Impute or drop the missing values before fitting."
            )
        raise ValueError(msg)
    if not np.isfinite(values).all():
        msg_dtype = values.dtype if dtype is None else np.dtype(dtype)
        raise ValueError(
            f"Input {input_name} contains infinity or a value too large for {msg_dtype!r}."
        )


def _ensure_no_complex(array: Any) -> None:
    dtype = getattr(array, "dtype", None)
    if dtype is not None and getattr(dtype, "kind", None) == "c":
        raise ValueError(f"Complex data not supported\n{array}\n")


def check_array(
    array: Any,
    *,
    accept_sparse: str | tuple[str, ...] | bool = False,
    dtype: Any = "numeric",
    ensure_2d: bool = True,
    ensure_all_finite: bool = True,
    ensure_min_samples: int = 1,
    ensure_min_features: int = 1,
    estimator_name: str | None = None,
    input_name: str = "X",
) -> Any:
    """Validate an array-like or sparse matrix the way scikit-learn's ``check_array`` does.

    Parameters
    ----------
    array : array-like or scipy sparse matrix/array
        Input to validate.
    accept_sparse : str, tuple of str or bool, default=False
        Sparse formats allowed (``"csr"``, ``"csc"`` ...); a sparse input in another
        format is converted to the first one. ``False`` rejects sparse input with a
        ``TypeError``; ``True`` keeps any format.
    dtype : "numeric", numpy dtype or None, default="numeric"
        ``"numeric"`` keeps numeric dtypes, converts object arrays to float64 and
        rejects strings; a dtype converts to it; ``None`` keeps the dtype.
    ensure_2d : bool, default=True
        Reject 0-d and 1-d inputs.
    ensure_all_finite : bool, default=True
        Reject NaN and infinities.
    ensure_min_samples, ensure_min_features : int, default=1
        Minimum number of rows / columns.
    estimator_name : str, optional
        Used in error messages.
    input_name : str, default="X"
        Used in error messages.

    Returns
    -------
    ndarray or sparse matrix
        The validated array (not copied unless a conversion was needed).
    """
    context = _estimator_context(estimator_name)
    numeric = isinstance(dtype, str) and dtype == "numeric"
    if numeric:
        dtype = None
    if _issparse(array):
        if accept_sparse is False or accept_sparse is None:
            raise TypeError(
                f"Sparse data was passed for {estimator_name or 'this estimator'}, but "
                "dense data is required. Use '.toarray()' to convert to a dense numpy array."
            )
        if isinstance(accept_sparse, str):
            accept_sparse = (accept_sparse,)
        if accept_sparse is not True and array.format not in accept_sparse:
            array = array.asformat(accept_sparse[0])
        _ensure_no_complex(array)
        if numeric:
            if array.dtype.kind == "O":
                array = array.astype(np.float64)
            elif array.dtype.kind in "USV":
                raise ValueError("Sparse matrices of strings are not supported.")
        elif dtype is not None and array.dtype != np.dtype(dtype):
            array = array.astype(dtype)
        if ensure_all_finite:
            data = array.data if hasattr(array, "data") else array.tocoo().data
            _assert_all_finite(
                np.asarray(data), input_name=input_name, estimator_name=estimator_name
            )
    else:
        if numeric:
            kind = getattr(getattr(array, "dtype", None), "kind", None)
            if kind is not None and kind in "USV":
                raise ValueError(
                    "dtype='numeric' is not compatible with arrays of bytes/strings."
                    "Convert your data to numeric values explicitly instead."
                )
        arr = np.asarray(array)
        _ensure_no_complex(arr)
        if ensure_2d:
            if arr.ndim == 0:
                raise ValueError(
                    f"Expected 2D array, got scalar array instead:\narray={arr}.\n"
                    "Reshape your data either using array.reshape(-1, 1) if your data has "
                    "a single feature or array.reshape(1, -1) if it contains a single sample."
                )
            if arr.ndim == 1:
                raise ValueError(
                    f"Expected 2D array, got 1D array instead:\narray={arr}.\n"
                    "Reshape your data either using array.reshape(-1, 1) if your data has "
                    "a single feature or array.reshape(1, -1) if it contains a single sample."
                )
        if numeric:
            if arr.dtype.kind in "USV":
                raise ValueError(
                    "dtype='numeric' is not compatible with arrays of bytes/strings."
                    "Convert your data to numeric values explicitly instead."
                )
            if arr.dtype.kind == "O":
                arr = arr.astype(np.float64)
        elif dtype is not None and arr.dtype != np.dtype(dtype):
            if np.dtype(dtype).kind in "iu" and arr.dtype.kind == "f":
                # float -> int casts of NaN/inf are undefined: refuse them first
                _assert_all_finite(
                    arr, input_name=input_name, estimator_name=estimator_name, dtype=dtype
                )
            arr = arr.astype(dtype)
        if arr.ndim >= 3:
            raise ValueError(
                f"Found array with dim {arr.ndim}, while dim <= 2 is required{context}."
            )
        if ensure_all_finite:
            _assert_all_finite(arr, input_name=input_name, estimator_name=estimator_name)
        array = arr
    shape = array.shape
    if ensure_min_samples > 0 and len(shape) > 0:
        n_samples = shape[0]
        if n_samples < ensure_min_samples:
            raise ValueError(
                f"Found array with {n_samples} sample(s) (shape={shape}) while a minimum of "
                f"{ensure_min_samples} is required{context}."
            )
    if ensure_min_features > 0 and len(shape) == 2:
        n_features = shape[1]
        if n_features < ensure_min_features:
            raise ValueError(
                f"Found array with {n_features} feature(s) (shape={shape}) while a minimum "
                f"of {ensure_min_features} is required{context}."
            )
    return array


def column_or_1d(y: Any, *, warn: bool = False) -> np.ndarray:
    """Ravel a column vector to 1-D (with a :class:`DataConversionWarning` if ``warn``)."""
    y = np.asarray(y)
    shape = y.shape
    if len(shape) == 1:
        return y.ravel()
    if len(shape) == 2 and shape[1] == 1:
        if warn:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. Please change "
                "the shape of y to (n_samples, ), for example using ravel().",
                DataConversionWarning,
                stacklevel=3,
            )
        return y.ravel()
    raise ValueError(f"y should be a 1d array, got an array of shape {shape} instead.")


def check_y(y: Any, *, estimator_name: str | None = None) -> np.ndarray:
    """Validate a 1-D target: column vectors are raveled, NaN/inf and complex rejected."""
    if y is None:
        raise ValueError(
            f"This {estimator_name or 'estimator'} estimator requires y to be passed, "
            "but the target y is None."
        )
    y = column_or_1d(y, warn=True)
    _ensure_no_complex(y)
    _assert_all_finite(y, input_name="y", estimator_name=estimator_name)
    return y


def type_of_target(y: np.ndarray) -> str:
    """Target kind of a 1-D label array: ``binary``, ``multiclass``, ``continuous``, ``unknown``."""
    y = np.asarray(y)
    if y.ndim != 1:
        return "unknown"
    if y.dtype == object and y.size and not isinstance(y.flat[0], str):
        return "unknown"
    if y.dtype.kind == "f" and y.size and np.any(y != y.astype(int)):
        return "continuous"
    return "multiclass" if np.unique(y).shape[0] > 2 else "binary"


def check_classification_targets(y: np.ndarray) -> None:
    """Raise ``ValueError('Unknown label type: ...')`` for non-categorical targets."""
    if type_of_target(y) not in ("binary", "multiclass"):
        raise ValueError(f"Unknown label type: {(y,)!r}")


def unique_labels(y: Any) -> np.ndarray:
    """Sorted unique class labels of a 1-D target (same dtype rules as scikit-learn)."""
    y = np.asarray(y)
    check_classification_targets(y)
    uniq = np.unique(y)
    kinds = {isinstance(v, str) for v in uniq.tolist()} if uniq.dtype == object else set()
    if len(kinds) > 1:
        raise ValueError("Mix of label input types (string and number)")
    return np.asarray(sorted(set(uniq)))


def check_sample_weight(sample_weight: Any, n_samples: int, *, dtype: Any = None) -> np.ndarray:
    """Validate ``sample_weight`` into a C-contiguous 1-D float array of length ``n_samples``.

    ``None`` gives ones, a scalar is broadcast. Float64/float32 arrays keep their dtype
    unless ``dtype`` is given; other dtypes become float64. All-zero weights are refused.
    """
    if sample_weight is None:
        sw = np.ones(n_samples, dtype=dtype)
    elif isinstance(sample_weight, numbers.Number):
        sw = np.full(n_samples, sample_weight, dtype=dtype)
    else:
        sw = np.asarray(sample_weight)
        if dtype is None:
            dtype = sw.dtype if sw.dtype in (np.float64, np.float32) else np.float64
        sw = check_array(
            sw,
            dtype=dtype,
            ensure_2d=False,
            ensure_min_samples=0,
            input_name="sample_weight",
        )
        sw = np.ascontiguousarray(sw)
        if sw.ndim != 1:
            raise ValueError(
                f"Sample weights must be 1D array or scalar, got {sw.ndim}D array. Expected "
                f"either a scalar value or a 1D array of length {n_samples}."
            )
        if sw.shape != (n_samples,):
            raise ValueError(f"sample_weight.shape == {sw.shape}, expected {(n_samples,)}!")
    if np.all(sw == 0):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return sw


def check_non_negative(X: Any, whom: str) -> None:
    """Raise ``ValueError('Negative values in data passed to {whom}.')`` if ``X`` has any."""
    if _issparse(X):
        data = X.data if hasattr(X, "data") else X.tocoo().data
        x_min = data.min() if data.size else 0
    else:
        x_min = np.min(X) if np.size(X) else 0
    if x_min < 0:
        raise ValueError(f"Negative values in data passed to {whom}.")


def check_csr_structure(X: Any) -> None:
    """Make sure a CSR matrix is well formed so that compiled kernels stay in bounds."""
    n_rows, n_cols = X.shape
    indptr, indices = X.indptr, X.indices
    if indptr.shape[0] != n_rows + 1 or indptr[0] != 0 or indptr[-1] > indices.shape[0]:
        raise ValueError("Malformed CSR matrix: invalid indptr.")
    if X.data.shape[0] < indptr[-1] or (n_rows and np.any(np.diff(indptr) < 0)):
        raise ValueError("Malformed CSR matrix: invalid indptr.")
    used = indices[: indptr[-1]]
    if used.size and (used.min() < 0 or used.max() >= n_cols):
        raise ValueError("Malformed CSR matrix: column index out of range.")


def _get_feature_names(X: Any) -> np.ndarray | None:
    columns = getattr(X, "columns", None)
    if columns is None or _issparse(X) or isinstance(X, np.ndarray):
        return None
    names = np.asarray(columns, dtype=object)
    types = sorted({type(n).__qualname__ for n in names})
    if len(types) > 1 and "str" in types:
        raise TypeError(
            "Feature names are only supported if all input features have string names, "
            f"but your input has {types} as feature name / column name types. If you want "
            "feature names to be stored and validated, you must convert them all to "
            "strings, by using X.columns = X.columns.astype(str) for example. Otherwise you "
            "can remove feature / column names from your input data, or convert them all "
            "to a non-string data type."
        )
    if len(types) == 1 and types[0] == "str":
        return names
    return None


def _check_feature_names(estimator: Any, X: Any, *, reset: bool) -> None:
    name = type(estimator).__name__
    names = _get_feature_names(X)
    if reset:
        if names is not None:
            estimator.feature_names_in_ = names
        elif hasattr(estimator, "feature_names_in_"):
            delattr(estimator, "feature_names_in_")
        return
    fitted = getattr(estimator, "feature_names_in_", None)
    if fitted is None and names is None:
        return
    if names is not None and fitted is None:
        warnings.warn(
            f"X has feature names, but {name} was fitted without feature names",
            UserWarning,
            stacklevel=4,
        )
        return
    if names is None and fitted is not None:
        warnings.warn(
            f"X does not have valid feature names, but {name} was fitted with feature names",
            UserWarning,
            stacklevel=4,
        )
        return
    if len(fitted) == len(names) and np.all(fitted == names):
        return
    fitted_set, names_set = set(fitted), set(names)
    unexpected = sorted(names_set - fitted_set)
    missing = sorted(fitted_set - names_set)

    def _listing(items: list[Any]) -> str:
        shown = [f"- {item}" for item in items[:5]]
        if len(items) > 5:
            shown.append("- ...")
        return "".join(f"{line}\n" for line in shown)

    message = "The feature names should match those that were passed during fit.\n"
    if unexpected:
        message += "Feature names unseen at fit time:\n" + _listing(unexpected)
    if missing:
        message += "Feature names seen at fit time, yet now missing:\n" + _listing(missing)
    if not unexpected and not missing:
        message += "Feature names must be in the same order as they were in fit.\n"
    raise ValueError(message)


def validate_data(
    estimator: Any,
    X: Any,
    *,
    reset: bool,
    **check_params: Any,
) -> Any:
    """Validate ``X`` and record (``reset=True``) or check ``n_features_in_``/feature names.

    ``check_params`` are forwarded to :func:`check_array`.
    """
    name = type(estimator).__name__
    _check_feature_names(estimator, X, reset=reset)
    X = check_array(X, estimator_name=name, **check_params)
    n_features = X.shape[1]
    if reset:
        estimator.n_features_in_ = n_features
    elif hasattr(estimator, "n_features_in_") and n_features != estimator.n_features_in_:
        raise ValueError(
            f"X has {n_features} features, but {name} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
    return X
