"""Weighing CSR rows on threads: the Python side of ``fastgen._kernels._weighting``."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._kernels import _weighting
from ._analysis import n_threads, parallel_map

_INT32_MAX = np.iinfo(np.int32).max
#: stored values per thread below which one thread weighs (or counts) all the rows
_VALUES_PER_THREAD = 200_000


def output_dtype(dtype: Any) -> np.dtype:
    """float32 stays float32; every other dtype gives float64 (scikit-learn's tf-idf rule)."""
    dtype = np.dtype(dtype)
    return dtype if dtype in (np.dtype(np.float32), np.dtype(np.float64)) else np.dtype(np.float64)


def _int32_indices(indices: np.ndarray) -> np.ndarray:
    """Column indices as the kernels take them (int32); larger ones are refused."""
    if indices.dtype == np.int32:
        return indices
    if indices.size and int(indices.max()) > _INT32_MAX:
        raise ValueError("column indices above 2**31 - 1 are not supported")
    return indices.astype(np.int32)


def _value_threads(n_values: int, n_jobs: int | None) -> int:
    """Threads worth starting for ``n_values`` stored values (at most ``n_jobs``'s)."""
    return min(n_threads(n_jobs), max(n_values // _VALUES_PER_THREAD, 1))


def weigh_csr(
    indptr: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray,
    out: np.ndarray,
    *,
    binary: bool = False,
    sublinear: bool = False,
    idf: np.ndarray | None = None,
    norm: str | None = None,
    n_jobs: int | None = 1,
) -> np.ndarray:
    """Weigh the rows of a CSR matrix into ``out`` (may be ``values``) on ``n_jobs`` threads.

    Order of operations as in scikit-learn: ``binary``, ``sublinear`` (1 + log(tf)),
    ``idf`` (one weight per column), then the row ``norm`` ("l1", "l2", "max" or None).
    Each thread gets a range of rows holding about the same number of stored values;
    the result does not depend on ``n_jobs``.
    """
    indptr64 = np.asarray(indptr, dtype=np.int64)
    indices = _int32_indices(indices)
    if values.dtype not in (np.int32, np.int64, np.float32, np.float64):
        values = values.astype(np.float64)
    idf64 = None if idf is None else np.ascontiguousarray(idf, dtype=np.float64)
    kwargs = {"binary": bool(binary), "sublinear": bool(sublinear), "idf": idf64,
              "norm": _weighting.NORMS[norm]}
    n_rows = len(indptr64) - 1
    parts = min(_value_threads(len(values), n_jobs), max(n_rows, 1))
    if parts <= 1:
        _weighting.weigh_rows(indptr64, indices, values, out, **kwargs)
        return out
    targets = np.linspace(0, len(values), parts + 1)[1:-1]
    bounds = [0, *np.searchsorted(indptr64, targets).tolist(), n_rows]
    ranges = [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    parallel_map(
        lambda r: _weighting.weigh_rows(indptr64, indices, values, out, **kwargs,
                                        lo=r[0], hi=r[1]),
        ranges, n_jobs,
    )
    return out


def document_frequency(X: Any, n_jobs: int | None = 1) -> np.ndarray:
    """Number of stored values in each column of a CSR or CSC matrix (int64): the
    documents each term occurs in, for a count matrix without explicit zeros.

    A CSR matrix's columns are counted by ``_weighting.column_counts``, on up to
    ``n_jobs`` threads (each counting a range of the stored values).
    """
    if X.format != "csr":
        return np.diff(X.indptr).astype(np.int64, copy=False)
    n_columns = X.shape[1]
    indices = _int32_indices(X.indices)
    parts = _value_threads(len(indices), n_jobs)
    if parts <= 1:
        return _weighting.column_counts(indices, np.zeros(n_columns, dtype=np.int64))
    bounds = np.linspace(0, len(indices), parts + 1).astype(np.int64).tolist()
    counts = parallel_map(
        lambda r: _weighting.column_counts(indices, np.zeros(n_columns, dtype=np.int64),
                                           lo=r[0], hi=r[1]),
        list(zip(bounds[:-1], bounds[1:], strict=True)), n_jobs,
    )
    return np.sum(counts, axis=0, dtype=np.int64)
