# cython: language_level=3, cdivision=True
# distutils: language = c
"""Compiled kernels for the count-based Naive Bayes models.

Plain arrays in, arrays out; no estimator logic. The ``nogil`` loops below do no
validation: they rely on class ids lying in ``[0, n_classes)``, CSR column indices in
``[0, n_features)``, ``indptr`` being well formed and category codes lying in their
feature's block, as the callers (:mod:`fastgen.naive_bayes`) guarantee. The Python
entry points nevertheless check those ranges (one linear pass each, with the GIL
released) and raise :class:`ValueError` on a violation, so that no input can make a
kernel read or write outside its arrays.

Every kernel visits samples in order and accumulates ``weight * value`` into a
float64 buffer, i.e. the same summation order as scipy's sparse ``Y.T @ X`` and as
``np.bincount(..., weights=...)`` (the module is built with ``-ffp-contract=off`` so
that no compiler fuses the multiply-add: results are bit-identical to those).

Arguments are converted, without a copy when they already have the stated dtype and
are C-contiguous: integer arrays to int64 (CSR ``indptr``/``indices`` are used as they
are when both are int32 or both int64), values to float64. Read-only arrays are
accepted.
"""

cimport cython
from libc.stdint cimport int32_t, int64_t

import numpy as np

__all__ = [
    "class_counts",
    "class_feature_counts_csr",
    "class_feature_counts_dense",
    "class_category_counts",
]

ctypedef fused index_t:
    int32_t
    int64_t


# --------------------------------------------------------------------------- conversions


cdef object _int_array(object a, str name, int ndim):
    """``a`` as a C-contiguous int64 array (no copy when it already is one)."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.int64)


cdef object _float_array(object a, str name, int ndim):
    """``a`` as a C-contiguous float64 array (no copy when it already is one)."""
    arr = np.ascontiguousarray(a, dtype=np.float64)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    return arr


cdef object _index_arrays(object indptr, object indices):
    """CSR ``indptr``, ``indices``: both int32 or both int64, as given when possible."""
    p = np.asarray(indptr)
    q = np.asarray(indices)
    if p.dtype.kind not in "iu" or q.dtype.kind not in "iu":
        raise TypeError(
            f"indptr and indices must be integer arrays, got dtypes {p.dtype} and {q.dtype}"
        )
    if p.ndim != 1 or q.ndim != 1:
        raise ValueError(f"indptr and indices must be 1-dimensional, got {p.shape} and {q.shape}")
    if p.dtype == q.dtype and p.dtype in (np.int32, np.int64):
        return np.ascontiguousarray(p), np.ascontiguousarray(q)
    return np.ascontiguousarray(p, dtype=np.int64), np.ascontiguousarray(q, dtype=np.int64)


cdef int _check_samples(Py_ssize_t n_samples, const int64_t[::1] class_index,
                        const double[::1] sample_weight, Py_ssize_t n_classes) except -1:
    """Lengths agree and every class id lies in ``[0, n_classes)``."""
    if n_classes < 0:
        raise ValueError(f"n_classes must be non-negative, got {n_classes}")
    if class_index.shape[0] != n_samples or sample_weight.shape[0] != n_samples:
        raise ValueError(
            f"class_index and sample_weight must have {n_samples} entries, got "
            f"{class_index.shape[0]} and {sample_weight.shape[0]}"
        )
    cdef Py_ssize_t bad
    with nogil:
        bad = _first_out_of_range(class_index, n_classes)
    if bad >= 0:
        raise ValueError(
            f"class_index[{bad}] = {class_index[bad]} is outside [0, {n_classes})"
        )
    return 0


@cython.boundscheck(False)
@cython.wraparound(False)
cdef Py_ssize_t _first_out_of_range(const int64_t[::1] a, Py_ssize_t n) noexcept nogil:
    """Position of the first entry of ``a`` outside ``[0, n)``, -1 if none."""
    cdef Py_ssize_t i
    for i in range(a.shape[0]):
        if a[i] < 0 or a[i] >= n:
            return i
    return -1


# --------------------------------------------------------------------------- class_counts


@cython.boundscheck(False)
@cython.wraparound(False)
cdef void _class_counts(const int64_t[::1] class_index, const double[::1] sample_weight,
                        double[::1] out) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(class_index.shape[0]):
        out[class_index[i]] += sample_weight[i]


def class_counts(class_index, sample_weight, Py_ssize_t n_classes):
    """Weighted number of samples per class.

    Parameters
    ----------
    class_index : int64 array of shape (n_samples,)
    sample_weight : float64 array of shape (n_samples,)
    n_classes : int

    Returns
    -------
    float64 array of shape (n_classes,)
    """
    ci = _int_array(class_index, "class_index", 1)
    sw = _float_array(sample_weight, "sample_weight", 1)
    cdef const int64_t[::1] ci_v = ci
    cdef const double[::1] sw_v = sw
    out = np.zeros(n_classes, dtype=np.float64)
    _check_samples(ci_v.shape[0], ci_v, sw_v, n_classes)
    cdef double[::1] out_v = out
    with nogil:
        _class_counts(ci_v, sw_v, out_v)
    return out


# --------------------------------------------------------------------------- dense


@cython.boundscheck(False)
@cython.wraparound(False)
cdef void _dense_counts(const double[:, ::1] X, const int64_t[::1] class_index,
                        const double[::1] sample_weight, double[:, ::1] out) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef Py_ssize_t n_samples = X.shape[0], n_features = X.shape[1]
    cdef double w
    cdef double *row
    cdef const double *x
    if n_features == 0:
        return
    for i in range(n_samples):
        w = sample_weight[i]
        row = &out[class_index[i], 0]
        x = &X[i, 0]
        for j in range(n_features):
            row[j] += w * x[j]


def class_feature_counts_dense(X, class_index, sample_weight, Py_ssize_t n_classes):
    """Weighted per-class feature sums of a dense matrix: ``out[c, j] = sum w_i X[i, j]``.

    Parameters
    ----------
    X : float64 array of shape (n_samples, n_features)
    class_index : int64 array of shape (n_samples,)
    sample_weight : float64 array of shape (n_samples,)
    n_classes : int

    Returns
    -------
    float64 array of shape (n_classes, n_features)
    """
    Xf = _float_array(X, "X", 2)
    ci = _int_array(class_index, "class_index", 1)
    sw = _float_array(sample_weight, "sample_weight", 1)
    cdef const double[:, ::1] X_v = Xf
    cdef const int64_t[::1] ci_v = ci
    cdef const double[::1] sw_v = sw
    out = np.zeros((n_classes, X_v.shape[1]), dtype=np.float64)
    _check_samples(X_v.shape[0], ci_v, sw_v, n_classes)
    cdef double[:, ::1] out_v = out
    with nogil:
        _dense_counts(X_v, ci_v, sw_v, out_v)
    return out


# --------------------------------------------------------------------------- CSR


@cython.boundscheck(False)
@cython.wraparound(False)
cdef Py_ssize_t _csr_first_bad(const index_t[::1] indptr, const index_t[::1] indices,
                               Py_ssize_t nnz, Py_ssize_t n_features,
                               int *what) noexcept nogil:
    """First bad position of ``indptr`` (``what`` = 1) or ``indices`` (2); -1 if none.

    ``indptr`` must start at or above 0, never decrease and end at or below ``nnz``;
    the column indices read (``indptr[0] <= k < indptr[-1]``) must lie in
    ``[0, n_features)``.
    """
    cdef Py_ssize_t i, k
    cdef Py_ssize_t n_rows = indptr.shape[0] - 1
    what[0] = 1
    if indptr[0] < 0:
        return 0
    for i in range(n_rows):
        if indptr[i + 1] < indptr[i]:
            return i + 1
    if indptr[n_rows] > nnz:
        return n_rows
    what[0] = 2
    for k in range(<Py_ssize_t>indptr[0], <Py_ssize_t>indptr[n_rows]):
        if indices[k] < 0 or indices[k] >= n_features:
            return k
    what[0] = 0
    return -1


@cython.boundscheck(False)
@cython.wraparound(False)
cdef void _csr_counts(const index_t[::1] indptr, const index_t[::1] indices,
                      const double[::1] data, const int64_t[::1] class_index,
                      const double[::1] sample_weight, double[:, ::1] out) noexcept nogil:
    cdef Py_ssize_t i, k
    cdef double w
    cdef double *row
    if out.shape[1] == 0:
        return
    for i in range(indptr.shape[0] - 1):
        w = sample_weight[i]
        row = &out[class_index[i], 0]
        for k in range(<Py_ssize_t>indptr[i], <Py_ssize_t>indptr[i + 1]):
            row[indices[k]] += w * data[k]


cdef object _csr_impl(const index_t[::1] indptr, const index_t[::1] indices,
                      const double[::1] data, const int64_t[::1] class_index,
                      const double[::1] sample_weight, Py_ssize_t n_classes,
                      Py_ssize_t n_features):
    if indptr.shape[0] == 0:
        raise ValueError("indptr must have n_samples + 1 entries, got an empty array")
    out = np.zeros((n_classes, n_features), dtype=np.float64)
    _check_samples(indptr.shape[0] - 1, class_index, sample_weight, n_classes)
    cdef Py_ssize_t nnz = min(indices.shape[0], data.shape[0])
    cdef int what = 0
    cdef Py_ssize_t bad
    with nogil:
        bad = _csr_first_bad(indptr, indices, nnz, n_features, &what)
    if what == 1:
        raise ValueError(
            f"indptr is malformed at position {bad} (it must start at 0 or above, never "
            f"decrease and end at or below nnz = {nnz})"
        )
    if what == 2:
        raise ValueError(f"indices[{bad}] = {indices[bad]} is outside [0, {n_features})")
    cdef double[:, ::1] out_v = out
    with nogil:
        _csr_counts(indptr, indices, data, class_index, sample_weight, out_v)
    return out


def class_feature_counts_csr(indptr, indices, data, class_index, sample_weight,
                             Py_ssize_t n_classes, Py_ssize_t n_features):
    """Weighted per-class feature sums of a CSR matrix (duplicates are summed).

    Parameters
    ----------
    indptr : int32 or int64 array of shape (n_samples + 1,)
    indices : int32 or int64 array of shape (nnz,)
        Used as given when of the same dtype as ``indptr``, else both become int64.
    data : float64 array of shape (nnz,)
    class_index : int64 array of shape (n_samples,)
    sample_weight : float64 array of shape (n_samples,)
    n_classes, n_features : int

    Returns
    -------
    float64 array of shape (n_classes, n_features)
    """
    p, q = _index_arrays(indptr, indices)
    d = _float_array(data, "data", 1)
    ci = _int_array(class_index, "class_index", 1)
    sw = _float_array(sample_weight, "sample_weight", 1)
    if p.dtype == np.int32:
        return _csr_impl[int32_t](p, q, d, ci, sw, n_classes, n_features)
    return _csr_impl[int64_t](p, q, d, ci, sw, n_classes, n_features)


# --------------------------------------------------------------------------- categories


@cython.boundscheck(False)
@cython.wraparound(False)
cdef Py_ssize_t _categories_first_bad(const int64_t[:, ::1] X, const int64_t[::1] offsets,
                                      int *what) noexcept nogil:
    """First bad position of ``offsets`` (``what`` = 1) or flat ``X`` (2); -1 if none.

    ``offsets`` must start at or above 0 and never decrease; ``X[i, j]`` must lie in
    ``[0, offsets[j + 1] - offsets[j])``.
    """
    cdef Py_ssize_t i, j
    cdef Py_ssize_t n_samples = X.shape[0], n_features = X.shape[1]
    cdef int64_t v
    what[0] = 1
    if offsets[0] < 0:
        return 0
    for j in range(n_features):
        if offsets[j + 1] < offsets[j]:
            return j + 1
    what[0] = 2
    for i in range(n_samples):
        for j in range(n_features):
            v = X[i, j]
            if v < 0 or v >= offsets[j + 1] - offsets[j]:
                return i * n_features + j
    what[0] = 0
    return -1


@cython.boundscheck(False)
@cython.wraparound(False)
cdef void _category_counts(const int64_t[:, ::1] X, const int64_t[::1] class_index,
                           const double[::1] sample_weight, const int64_t[::1] offsets,
                           double[:, ::1] out) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef Py_ssize_t n_samples = X.shape[0], n_features = X.shape[1]
    cdef double w
    cdef double *row
    cdef const int64_t *x
    if n_features == 0 or out.shape[1] == 0:
        return
    for i in range(n_samples):
        w = sample_weight[i]
        row = &out[class_index[i], 0]
        x = &X[i, 0]
        for j in range(n_features):
            row[offsets[j] + x[j]] += w


def class_category_counts(X, class_index, sample_weight, Py_ssize_t n_classes, offsets):
    """Weighted (class, category) counts for every feature, packed side by side.

    Parameters
    ----------
    X : int64 array of shape (n_samples, n_features)
        Category codes, ``0 <= X[i, j] < offsets[j + 1] - offsets[j]``.
    class_index : int64 array of shape (n_samples,)
    sample_weight : float64 array of shape (n_samples,)
    n_classes : int
    offsets : int64 array of shape (n_features + 1,)
        Start column of each feature's block; ``offsets[-1]`` is the total width.

    Returns
    -------
    float64 array of shape (n_classes, offsets[-1])
        Feature ``j``'s counts are ``out[:, offsets[j]:offsets[j + 1]]``.
    """
    Xc = _int_array(X, "X", 2)
    ci = _int_array(class_index, "class_index", 1)
    sw = _float_array(sample_weight, "sample_weight", 1)
    off = _int_array(offsets, "offsets", 1)
    cdef Py_ssize_t n_features = Xc.shape[1]
    if off.shape[0] != n_features + 1:
        raise ValueError(
            f"offsets must have n_features + 1 = {n_features + 1} entries, got {off.shape[0]}"
        )
    cdef const int64_t[:, ::1] X_v = Xc
    cdef const int64_t[::1] off_v = off
    cdef const int64_t[::1] ci_v = ci
    cdef const double[::1] sw_v = sw
    _check_samples(X_v.shape[0], ci_v, sw_v, n_classes)
    cdef int what = 0
    cdef Py_ssize_t bad
    with nogil:
        bad = _categories_first_bad(X_v, off_v, &what)
    if what == 1:
        raise ValueError(
            f"offsets is malformed at position {bad} (it must start at 0 or above and "
            "never decrease)"
        )
    if what == 2:
        i, j = divmod(bad, n_features)
        raise ValueError(
            f"X[{i}, {j}] = {Xc[i, j]} is outside feature {j}'s "
            f"{off[j + 1] - off[j]} categories"
        )
    out = np.zeros((n_classes, off[n_features]), dtype=np.float64)
    cdef double[:, ::1] out_v = out
    with nogil:
        _category_counts(X_v, ci_v, sw_v, off_v, out_v)
    return out
