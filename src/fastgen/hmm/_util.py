"""Small helpers shared by the HMM engine and the emission families."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from fastgen._threads import get_num_threads, run_workers
from fastgen._validation import check_array

__all__ = [
    "CountFrames",
    "blocked_matmul",
    "blocked_tmatmul",
    "check_distribution",
    "check_random_state",
    "log_factorial",
    "normalize",
    "row_sums",
    "startidx",
    "stored_array",
    "stored_count",
    "validate_counts",
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


def stored_array(
    state: dict, name: str, shape: tuple, *, finite: bool = False, kind: str = "f"
) -> np.ndarray:
    """``state[name]`` (a model file's restored attribute) as an array of dtype kind
    ``kind`` (float by default) and ``shape`` (None entries match any length); raises
    ``ValueError``."""
    a = state[name]
    if type(a) is not np.ndarray:
        raise ValueError(f"{name} must be an array, got {type(a).__name__}")
    if a.dtype.kind != kind:
        what = {"f": "a float", "i": "an integer"}.get(kind, repr(kind))
        raise ValueError(f"{name} has dtype {a.dtype}, expected {what} dtype")
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


#: Bernoulli-number coefficients of digamma's asymptotic series in 1/x**2
_PSI_SERIES = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12)


def digamma(x: Any) -> np.ndarray:
    """The digamma function of positive ``x`` (elementwise, float64), without importing
    scipy (``scipy.special`` takes ~0.15 s to import): the recurrence
    ``psi(x) = psi(x + 1) - 1/x`` up to ``x >= 10``, then the asymptotic series, accurate
    to a few ulp.  Non-positive entries give NaN (the callers validate positivity)."""
    x = np.array(x, dtype=np.float64)
    out = np.zeros_like(x)
    bad = ~(x > 0)
    x = np.where(bad, 10.0, x)
    small = x < 10.0
    while small.any():
        out[small] -= 1.0 / x[small]
        x[small] += 1.0
        small = x < 10.0
    inv2 = 1.0 / (x * x)
    series = np.zeros_like(x)
    for c in reversed(_PSI_SERIES):
        series = series * inv2 + c
    out += np.log(x) - 0.5 / x - inv2 * series
    out[bad] = np.nan
    return out[()] if out.ndim == 0 else out


def gammaln(x: Any) -> np.ndarray:
    """``log |Gamma(x)|`` elementwise (``math.lgamma``), float64, without scipy; the
    arrays here are parameter-sized."""
    x = np.asarray(x, dtype=np.float64)
    out = np.fromiter((math.lgamma(v) for v in x.ravel()), dtype=np.float64, count=x.size)
    return out.reshape(x.shape)[()] if x.ndim == 0 else out.reshape(x.shape)


def log_factorial(X: np.ndarray) -> np.ndarray:
    """``log(X!)`` elementwise for non-negative integer-valued float64 ``X`` (no scipy
    on the import path)."""
    if X.size == 0 or X.max() < _TABLE_SIZE:
        return _LOG_FACTORIAL.take(X.astype(np.intp))
    small = X < _TABLE_SIZE
    z = X + 1.0
    r = 1.0 / z
    r2 = r * r
    out = (z - 0.5) * np.log(z) - z + _HALF_LOG_2PI + r * (1 / 12 - r2 * (1 / 360 - r2 / 1260))
    out[small] = _LOG_FACTORIAL[X[small].astype(np.intp)]
    return out


#: rows per block of :func:`blocked_matmul`: a block's product (rows x 10 x 8 for the
#: count families) stays under the size at which OpenBLAS wakes its thread team
_BLOCK_ROWS = 2048


def _blocks(n: int) -> list[tuple[int, int]]:
    return [(r, min(r + _BLOCK_ROWS, n)) for r in range(0, n, _BLOCK_ROWS)]


def _run_blocks(kernel: Any, blocks: list) -> None:
    def task(first: int, step: int) -> None:
        for b in range(first, len(blocks), step):
            kernel(b, *blocks[b])

    run_workers(task, max(min(get_num_threads(), len(blocks)), 1))


def blocked_matmul(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A @ B`` for a tall C-contiguous float64 ``A`` (n, k) and a small ``B`` (k, m).

    Fixed blocks of rows run on fastgen's threads, each small enough that BLAS computes
    it on the calling thread: a skinny product never wakes BLAS's own thread team,
    whose barrier costs far more than the product on a busy machine.  Every row is
    computed alone, so the result does not depend on the number of threads.
    """
    out = np.empty((A.shape[0], B.shape[1]))

    def kernel(b: int, r0: int, r1: int) -> None:
        np.matmul(A[r0:r1], B, out=out[r0:r1])

    _run_blocks(kernel, _blocks(A.shape[0]))
    return out


def blocked_tmatmul(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A.T @ B`` for tall float64 ``A`` (n, k) and ``B`` (n, m), as :func:`blocked_matmul`
    does it: per-block products summed in block order (independent of the threads)."""
    blocks = _blocks(A.shape[0])
    partial = np.zeros((max(len(blocks), 1), A.shape[1], B.shape[1]))

    def kernel(b: int, r0: int, r1: int) -> None:
        np.matmul(A[r0:r1].T, B[r0:r1], out=partial[b])

    _run_blocks(kernel, blocks)
    return partial.sum(axis=0)


class CountFrames:
    """Counts prepared once per fit for frame log-likelihoods of the form
    ``X @ log(rates).T + row_term[:, None] + state_term[None, :]`` (Poisson,
    multinomial): the design ``[X | row_term | 1]`` turns them into one matrix product
    (NumPy's broadcast additions over a short last axis cost more than the product).

    Parameters
    ----------
    X : float64 (n_samples, n_features)
        Validated counts.
    row_term : float64 (n_samples,)
        The parameter-free term of each frame.
    """

    __slots__ = ("design", "n_features")

    def __init__(self, X: np.ndarray, row_term: np.ndarray) -> None:
        n, nf = X.shape
        self.n_features = nf
        self.design = np.empty((n, nf + 2))
        self.design[:, :nf] = X
        self.design[:, nf] = row_term
        self.design[:, nf + 1] = 1.0

    @property
    def X(self) -> np.ndarray:
        """The counts (a view of the design)."""
        return self.design[:, : self.n_features]

    def log_likelihood(self, rates: np.ndarray, state_term: Any = 0.0) -> np.ndarray:
        """``X @ log(rates).T + row_term[:, None] + state_term``, float64 (n_samples,
        n_components), for non-negative ``rates`` (n_components, n_features): ``0 log 0
        = 0``, and ``-inf`` where a positive count meets a zero rate."""
        nf = self.n_features
        zero = rates == 0
        weights = np.empty((nf + 2, rates.shape[0]))
        with np.errstate(divide="ignore"):
            weights[:nf] = np.log(np.where(zero, 1.0, rates)).T
        weights[nf] = 1.0
        weights[nf + 1] = state_term
        out = blocked_matmul(self.design, weights)
        if zero.any():
            positive = (self.X > 0).astype(np.float64)
            out[blocked_matmul(positive, zero.T.astype(np.float64)) > 0] = -np.inf
        return out

    def weighted_counts(self, gamma: np.ndarray) -> np.ndarray:
        """``gamma.T @ X``, float64 (n_components, n_features)."""
        return blocked_tmatmul(gamma, self.design)[:, : self.n_features]


def row_sums(X: np.ndarray) -> np.ndarray:
    """``X.sum(axis=1)`` of a C-contiguous float64 (n, d) array by matrix products
    (NumPy's reduction along a short last axis is several times slower); exact for
    counts."""
    return blocked_matmul(X, np.ones((X.shape[1], 1)))[:, 0]


def validate_counts(X: Any, name: str) -> np.ndarray:
    """``X`` as a C-contiguous float64 2-D array of non-negative integer counts (an
    integer dtype, or floats holding integers); raises ``ValueError`` naming the
    estimator ``name``."""
    X = check_array(X, dtype=None, estimator_name=name)
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{name} needs numeric counts, got dtype {X.dtype}")
    if X.size and X.min() < 0:
        raise ValueError(f"{name} needs non-negative counts; X holds negative values")
    floats = X.dtype.kind == "f"
    X = np.ascontiguousarray(X, dtype=np.float64)
    if floats and not np.array_equal(X, np.floor(X)):
        raise ValueError(f"{name} needs integer counts; X holds non-integer values")
    return X
