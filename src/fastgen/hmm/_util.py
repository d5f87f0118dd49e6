"""Small helpers shared by the HMM engine and the emission families."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

__all__ = [
    "check_distribution",
    "check_random_state",
    "log_factorial",
    "log_likelihood_of_counts",
    "normalize",
    "startidx",
    "stored_array",
    "stored_count",
]


def check_random_state(seed: Any) -> np.random.RandomState:
    """A ``RandomState`` from ``None`` (NumPy's global one), an int or a ``RandomState``."""
    if seed is None or seed is np.random:
        return np.random.mtrand._rand
    if isinstance(seed, numbers.Integral):
        return np.random.RandomState(seed)
    if isinstance(seed, np.random.RandomState):
        return seed
    raise ValueError(f"{seed!r} cannot be used to seed a numpy.random.RandomState instance")


def normalize(a: np.ndarray, axis: int | None = None) -> None:
    """In-place normalisation, as hmmlearn's ``utils.normalize`` (a zero row stays zero)."""
    a_sum = a.sum(axis)
    if axis and a.ndim > 1:
        a_sum[a_sum == 0] = 1
        shape = list(a.shape)
        shape[axis] = 1
        a_sum.shape = shape
    a /= a_sum


def startidx(lengths: np.ndarray) -> np.ndarray:
    """The kernels' sequence bounds: int64 ``(n_sequences + 1,)`` from ``lengths``."""
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def check_distribution(a: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` unless ``a`` is finite, non-negative and sums to 1 along its
    last axis (rows of a matrix, or a vector)."""
    if not (np.isfinite(a).all() and (a >= 0).all()):
        raise ValueError(f"{name} must be finite and non-negative")
    s = a.sum(axis=-1)
    if np.abs(s - 1.0).max() > 1e-8 + 1e-5:  # np.allclose(s, 1), without its overhead
        raise ValueError(
            f"{name} must sum to 1 (got {s})"
            if s.ndim == 0
            else f"{name} rows must sum to 1 (got row sums of {s})"
        )


def stored_array(state: dict, name: str, shape: tuple, *, finite: bool = False) -> np.ndarray:
    """``state[name]`` (a model file's restored attribute) as a float array of ``shape``
    (None entries match any length); raises ``ValueError``."""
    a = state[name]
    if type(a) is not np.ndarray:
        raise ValueError(f"{name} must be an array, got {type(a).__name__}")
    if a.dtype.kind != "f":
        raise ValueError(f"{name} has dtype {a.dtype}, expected a float dtype")
    if a.ndim != len(shape) or any(
        s is not None and s != n for s, n in zip(shape, a.shape, strict=True)
    ):
        want = tuple("*" if s is None else s for s in shape)
        raise ValueError(f"{name} has shape {a.shape}, expected {want}")
    if finite and not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite")
    return a


def stored_count(state: dict, name: str) -> int:
    """``state[name]`` as a non-negative int; raises ``ValueError``."""
    n = state[name]
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {n!r}")
    return int(n)


#: ``log(k!)`` for k below this comes from a table of ``math.lgamma``; above, from
#: Stirling's series (error below 1e-20 there)
_TABLE_SIZE = 1024
_LOG_FACTORIAL = np.array([math.lgamma(k + 1.0) for k in range(_TABLE_SIZE)])
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def log_factorial(X: np.ndarray) -> np.ndarray:
    """``log(X!)`` elementwise for non-negative integer-valued float64 ``X`` (no scipy
    on the import path)."""
    small = X < _TABLE_SIZE
    if small.all():
        return _LOG_FACTORIAL[X.astype(np.intp)]
    z = X + 1.0
    r = 1.0 / z
    r2 = r * r
    out = (z - 0.5) * np.log(z) - z + _HALF_LOG_2PI + r * (1 / 12 - r2 * (1 / 360 - r2 / 1260))
    out[small] = _LOG_FACTORIAL[X[small].astype(np.intp)]
    return out


def log_likelihood_of_counts(X: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """``X @ log(rates).T``, float64 (n_samples, n_components), for counts ``X``
    (n_samples, n_features) and non-negative ``rates`` (n_components, n_features):
    ``0 log 0 = 0``, and ``-inf`` where a positive count meets a zero rate."""
    zero = rates == 0
    with np.errstate(divide="ignore"):
        log_rates = np.log(np.where(zero, 1.0, rates))
    out = X @ log_rates.T
    if zero.any():
        out[((X > 0).astype(np.float64) @ zero.T) > 0] = -np.inf
    return out
