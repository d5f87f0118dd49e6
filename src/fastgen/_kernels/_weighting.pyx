# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Row weighting of CSR document-term matrices (see ``_weighting.pxd``).

``weigh_rows`` reads stored values of any count dtype and writes the weighted
values in float32 or float64, one row at a time in a double-precision scratch
row, so no float64 copy of the whole matrix is ever made. Plain arrays in and
out; every index is checked before the GIL is released.
"""

from libc.stdint cimport int32_t, int64_t, uint32_t
from libc.stdlib cimport free, malloc

import numpy as np

#: Row norms understood by the kernels (``RowWeighting.norm``).
NORMS = {None: NORM_NONE, "l1": NORM_L1, "l2": NORM_L2, "max": NORM_MAX}

ctypedef fused in_t:
    int32_t
    int64_t
    float
    double

ctypedef fused out_t:
    float
    double


def check_csr(const int64_t[::1] indptr, Py_ssize_t nnz):
    """Raise ``ValueError`` unless ``indptr`` delimits ``nnz`` stored values."""
    cdef Py_ssize_t r, n_rows = indptr.shape[0] - 1
    if n_rows < 0 or indptr[0] != 0 or indptr[n_rows] != nnz:
        raise ValueError("inconsistent CSR arrays")
    for r in range(n_rows):
        if indptr[r + 1] < indptr[r]:
            raise ValueError("indptr must be non-decreasing")


def weigh_rows(const int64_t[::1] indptr, const int32_t[::1] indices, const in_t[::1] values,
               out_t[::1] out, bint binary=False, bint sublinear=False,
               const double[::1] idf=None, int norm=NORM_NONE,
               Py_ssize_t lo=0, Py_ssize_t hi=-1):
    """Weigh rows ``lo:hi`` of a CSR matrix into ``out`` (see ``_weighting.pxd``).

    ``indptr`` int64 (n_rows + 1,), ``indices`` int32 and ``values`` (nnz,);
    ``out`` (nnz,) receives the weighted values at the same positions (it may
    be ``values`` itself when the dtypes agree). ``idf``: one weight per column
    (every stored column must be below its length), or None. ``hi < 0``: to the
    last row. Releases the GIL, so row ranges can run on threads.
    """
    cdef Py_ssize_t n_rows = indptr.shape[0] - 1, nnz = values.shape[0]
    cdef Py_ssize_t r, j, a, b, width = 0
    cdef RowWeighting w = row_weighting(binary, sublinear, idf, norm)
    check_csr(indptr, nnz)
    if indices.shape[0] != nnz or out.shape[0] != nnz:
        raise ValueError("indices, values and out must have one entry per stored value")
    if hi < 0:
        hi = n_rows
    if not 0 <= lo <= hi <= n_rows:
        raise ValueError(f"row range {lo}:{hi} outside 0:{n_rows}")
    if w.idf != NULL:
        for j in range(indptr[lo], indptr[hi]):
            if not 0 <= indices[j] < idf.shape[0]:
                raise ValueError("a stored column has no idf weight")
    elif idf is not None and indptr[hi] > indptr[lo]:
        raise ValueError("a stored column has no idf weight")
    for r in range(lo, hi):
        if indptr[r + 1] - indptr[r] > width:
            width = indptr[r + 1] - indptr[r]
    cdef double *row = <double *>malloc(max(width, 1) * sizeof(double))
    if row == NULL:
        raise MemoryError("out of memory while weighing rows")
    with nogil:
        for r in range(lo, hi):
            a, b = indptr[r], indptr[r + 1]
            for j in range(a, b):
                row[j - a] = <double>values[j]
            weigh_row(&indices[a], row, b - a, &w)
            for j in range(a, b):
                out[j] = <out_t>row[j - a]
    free(row)
    return out


def column_counts(const int32_t[::1] indices, object out, Py_ssize_t lo=0,
                  Py_ssize_t hi=-1):
    """``out[c] +=`` the number of ``indices[lo:hi]`` equal to ``c``, for every column ``c``.

    The document frequency of each term when ``indices`` are the stored columns
    of a count matrix (no explicit zeros): idf's input. ``out``: int64 array,
    returned. ``hi < 0``: to the end. An index outside ``out`` raises
    ``ValueError`` (``out`` may then hold part of the counts). Releases the GIL,
    so ranges can run on threads.
    """
    cdef int64_t[::1] counts = out
    cdef Py_ssize_t k, n = indices.shape[0]
    cdef uint32_t n_out = <uint32_t>counts.shape[0]
    cdef uint32_t c
    cdef bint bad = False
    if counts.shape[0] > 2147483647:
        raise ValueError("at most 2**31 - 1 columns")
    if hi < 0:
        hi = n
    if not 0 <= lo <= hi <= n:
        raise ValueError(f"range {lo}:{hi} outside 0:{n}")
    with nogil:
        for k in range(lo, hi):
            c = <uint32_t>indices[k]   # a negative index wraps above n_out
            if c >= n_out:
                bad = True
                break
            counts[c] += 1
    if bad:
        raise ValueError("a stored column lies outside the count array")
    return out
