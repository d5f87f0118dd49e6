# cython: language_level=3
"""Row weighting of a document-term matrix: one idea, shared by every text kernel.

A row arrives as its stored values ``v`` (counts, or summed hash signs) and
their columns; ``weigh_row`` turns it into what scikit-learn's vectorizers
return, in scikit-learn's order of operations:

1. ``binary``: every value becomes 1;
2. ``sublinear``: ``v = log(v) + 1`` (TfidfTransformer's ``sublinear_tf``;
   applied to stored values only, as scikit-learn does);
3. ``idf`` (not NULL): ``v *= idf[column]``;
4. ``norm`` (``NORM_L1``, ``NORM_L2``, ``NORM_MAX``): divide by the row's norm,
   summed in storage order in double precision like scikit-learn's
   ``normalize``; a row whose norm is zero is left alone.

Everything is computed in double precision; the callers store the result in
the output dtype. Inline, so each kernel module that cimports it gets its own
copy (no cross-module calls on the hot path).
"""

from libc.stdint cimport int32_t
from libc.math cimport log, sqrt

cdef enum:
    NORM_NONE = 0
    NORM_L1 = 1
    NORM_L2 = 2
    NORM_MAX = 3


cdef struct RowWeighting:
    bint binary
    bint sublinear
    const double *idf       # one weight per column; NULL: no idf
    int norm                # NORM_*


cdef inline RowWeighting row_weighting(bint binary, bint sublinear, const double[::1] idf,
                                       int norm) except *:
    """A checked ``RowWeighting`` over ``idf`` (None: no idf); the caller keeps ``idf``
    alive while the weighting is used. An unknown ``norm`` raises ``ValueError``."""
    if norm not in (NORM_NONE, NORM_L1, NORM_L2, NORM_MAX):
        raise ValueError(f"unknown norm code {norm}")
    cdef RowWeighting w
    w.binary = binary
    w.sublinear = sublinear
    w.idf = &idf[0] if idf is not None and idf.shape[0] > 0 else NULL
    w.norm = norm
    return w


cdef inline bint weighting_is_identity(const RowWeighting *w) noexcept nogil:
    return not w.binary and not w.sublinear and w.idf == NULL and w.norm == NORM_NONE


cdef inline void weigh_row(const int32_t *cols, double *v, Py_ssize_t n,
                           const RowWeighting *w) noexcept nogil:
    """Weigh one row in place (``cols``: the stored values' columns, used by ``idf``)."""
    cdef Py_ssize_t j
    cdef double total = 0.0, a
    if w.binary:
        for j in range(n):
            v[j] = 1.0
    if w.sublinear:
        for j in range(n):
            v[j] = log(v[j]) + 1.0
    if w.idf != NULL:
        for j in range(n):
            v[j] *= w.idf[cols[j]]
    if w.norm == NORM_NONE:
        return
    for j in range(n):
        a = v[j] if v[j] >= 0 else -v[j]
        if w.norm == NORM_L1:
            total += a
        elif w.norm == NORM_L2:
            total += v[j] * v[j]
        elif a > total:
            total = a
    if total == 0.0:
        return
    if w.norm == NORM_L2:
        total = sqrt(total)
    for j in range(n):
        v[j] /= total
