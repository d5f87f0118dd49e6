# cython: language_level=3
"""Numerical building blocks shared by the HMM kernels (inline, no GIL).

* :c:func:`vexp`: ``x[:] = exp(x)`` vectorised, within one ulp of libm's ``exp``;
* :c:func:`add_log_scale`: a log-likelihood kept as ``acc + log(prod)``;
* :c:func:`matvec_lanes`: ``out = vec @ mat`` with the sums in order, ``LANES`` states
  at a time (registers);
* :c:func:`lane_combination`: the same sum over ``L`` independent lanes;
* :c:type:`Arena`: one allocation sliced into a kernel's scratch arrays.
"""

from libc.stdint cimport int64_t
from libc.math cimport exp, log, INFINITY, NAN
from libc.stdlib cimport calloc, free, malloc

cdef enum:
    LANES = 8          # states per register block of matvec_lanes (padding of Chain.ncp)
    BLOCK = 128        # frames per emission block
    STAT_LANES = 64    # frames (or sequences) per lane-wise update

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #include <math.h>
    #define FASTGEN_FLUSH (-690.0)
    #define FASTGEN_MIN_SCALE (1e-250)
    #define FASTGEN_MIN_SUM (1e-300)
    #define FASTGEN_LAG_MIN_SCALE (0x1p-200)
    #define FASTGEN_LN2 (0.6931471805599453)
    static inline int64_t fastgen_bits(double x) { int64_t b; memcpy(&b, &x, 8); return b; }
    static inline double fastgen_from_bits(int64_t b) { double x; memcpy(&x, &b, 8); return x; }
    /* exp(x) = 2**k p(r), r = x - k ln2 in [-ln2/2, ln2/2]: Cody-Waite reduction, degree-13
       Taylor polynomial (truncation < 1e-18 relative); within 1 ulp of libm's exp.  The
       integer k is read from the low bits of x log2(e) + 1.5 2**52, so the loop needs no
       float -> int64 conversion and vectorises with SSE2.  Arguments outside [-708, 708]
       (and NaN) are handed to libm's exp.  poly and scale: scratch of n entries. */
    static inline void fastgen_vexp(double *x, Py_ssize_t n, double *poly, double *scale) {
        const double LOG2E = 1.4426950408889634, LN2_HI = 0.693147180369123816490;
        const double LN2_LO = 1.90821492927058770002e-10, ROUND = 6755399441055744.0;
        const double LIMIT = 708.0;
        int64_t round_bits;
        memcpy(&round_bits, &ROUND, 8);
        Py_ssize_t n_out = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            double v = x[i];
            int inside = (v >= -LIMIT) & (v <= LIMIT);  /* no branch: vectorises */
            n_out += inside ? 0 : 1;
            v = inside ? v : 0.0;
            double t = v * LOG2E + ROUND;
            double kf = t - ROUND;
            double r = (v - kf * LN2_HI) - kf * LN2_LO;
            double p = 1.0 / 6227020800.0;
            p = p * r + 1.0 / 479001600.0;
            p = p * r + 1.0 / 39916800.0;
            p = p * r + 1.0 / 3628800.0;
            p = p * r + 1.0 / 362880.0;
            p = p * r + 1.0 / 40320.0;
            p = p * r + 1.0 / 5040.0;
            p = p * r + 1.0 / 720.0;
            p = p * r + 1.0 / 120.0;
            p = p * r + 1.0 / 24.0;
            p = p * r + 1.0 / 6.0;
            p = p * r + 0.5;
            p = p * r + 1.0;
            poly[i] = p * r + 1.0;
            int64_t tb;
            memcpy(&tb, &t, 8);
            int64_t sb = (tb - round_bits + 1023) << 52;
            memcpy(&scale[i], &sb, 8);
        }
        if (n_out == 0) {
            for (Py_ssize_t i = 0; i < n; i++) x[i] = poly[i] * scale[i];
            return;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            double v = x[i];
            x[i] = (v >= -LIMIT && v <= LIMIT) ? poly[i] * scale[i] : exp(v);
        }
    }
    """
    # exp(-690) ~ 1e-300: a state this far (log) below a frame's best is "flushed"
    const double FLUSH "FASTGEN_FLUSH"
    # smallest per-frame normaliser the fast log-space forward pass accepts
    const double MIN_SCALE "FASTGEN_MIN_SCALE"
    # hmmlearn's underflow threshold of the scaling implementation
    const double MIN_SUM "FASTGEN_MIN_SUM"
    # smallest normaliser of forward_lagged (2**-200)
    const double LAG_MIN_SCALE "FASTGEN_LAG_MIN_SCALE"
    const double LN2 "FASTGEN_LN2"
    int64_t double_bits "fastgen_bits"(double x) noexcept nogil  # IEEE-754 bits of x
    double bits_double "fastgen_from_bits"(int64_t b) noexcept nogil  # and back
    void vexp "fastgen_vexp"(double *x, Py_ssize_t n, double *poly, double *scale) noexcept nogil


cdef inline void add_log_scale(double s, double *acc, double *prod) noexcept nogil:
    """Fold a normaliser ``s`` into a log-likelihood kept as ``acc + log(prod)``:
    multiplied into ``prod`` while it stays within [1e-100, 1e100] (one log per many
    frames); an extreme one goes to ``acc`` by itself."""
    if s > 1e-100 and s < 1e100:
        prod[0] *= s
        if prod[0] < 1e-100 or prod[0] > 1e100:
            acc[0] += log(prod[0])
            prod[0] = 1.0
    else:
        acc[0] += log(s)


cdef inline void matvec_lanes(
    const double *vec, const double *mat, Py_ssize_t nc, Py_ssize_t ncp, double *out
) noexcept nogil:
    """``out[i] = sum_j vec[j] * mat[j, i]`` over ``j = 0 .. nc-1`` in order; ``mat`` is
    (nc, ncp), ``ncp`` a multiple of ``LANES``, zero padded; ``out`` has ``ncp`` entries.
    The states go ``LANES`` at a time with the partial sums in registers."""
    cdef Py_ssize_t i0, j, ib
    cdef double a0, a1, a2, a3, a4, a5, a6, a7, v
    cdef const double *row
    for ib in range(ncp // LANES):
        i0 = ib * LANES
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
        for j in range(nc):
            v = vec[j]
            row = mat + j * ncp + i0
            a0 += v * row[0]
            a1 += v * row[1]
            a2 += v * row[2]
            a3 += v * row[3]
            a4 += v * row[4]
            a5 += v * row[5]
            a6 += v * row[6]
            a7 += v * row[7]
        out[i0] = a0
        out[i0 + 1] = a1
        out[i0 + 2] = a2
        out[i0 + 3] = a3
        out[i0 + 4] = a4
        out[i0 + 5] = a5
        out[i0 + 6] = a6
        out[i0 + 7] = a7


cdef inline void lane_combination(
    const double *rows, Py_ssize_t L, const double *mat, Py_ssize_t col, Py_ssize_t nc,
    double *out, Py_ssize_t nw,
) noexcept nogil:
    """``out[w] = sum_j rows[j, w] * mat[j, col]`` for lanes ``w < nw``, the sum over
    ``j = 0 .. nc-1`` in order (as :c:func:`matvec_lanes`), four terms per pass.
    ``rows`` is (nc, L); ``mat`` is (nc, nc)."""
    cdef Py_ssize_t j, w
    cdef double a0, a1, a2, a3
    cdef const double *r0
    cdef const double *r1
    cdef const double *r2
    cdef const double *r3
    if nc >= 4:
        a0 = mat[col]
        a1 = mat[nc + col]
        a2 = mat[2 * nc + col]
        a3 = mat[3 * nc + col]
        r0 = rows
        r1 = rows + L
        r2 = rows + 2 * L
        r3 = rows + 3 * L
        for w in range(nw):
            out[w] = ((r0[w] * a0 + r1[w] * a1) + r2[w] * a2) + r3[w] * a3
        j = 4
    else:
        a0 = mat[col]
        r0 = rows
        for w in range(nw):
            out[w] = r0[w] * a0
        j = 1
    while j + 4 <= nc:
        a0 = mat[j * nc + col]
        a1 = mat[(j + 1) * nc + col]
        a2 = mat[(j + 2) * nc + col]
        a3 = mat[(j + 3) * nc + col]
        r0 = rows + j * L
        r1 = rows + (j + 1) * L
        r2 = rows + (j + 2) * L
        r3 = rows + (j + 3) * L
        for w in range(nw):
            out[w] = (((out[w] + r0[w] * a0) + r1[w] * a1) + r2[w] * a2) + r3[w] * a3
        j += 4
    while j < nc:
        a0 = mat[j * nc + col]
        r0 = rows + j * L
        for w in range(nw):
            out[w] += r0[w] * a0
        j += 1


ctypedef struct Arena:
    # One zeroed allocation sliced into scratch arrays (64-byte aligned slices).
    char *base
    size_t size
    size_t used


cdef inline size_t arena_bytes(size_t n_doubles) noexcept nogil:
    """Bytes an :c:func:`arena_take` of ``n_doubles`` (8-byte items) uses."""
    return ((n_doubles * 8 + 63) // 64) * 64


cdef inline int arena_init(Arena *a, size_t size, bint zero=True) noexcept nogil:
    """Allocate ``size`` bytes (sum of :c:func:`arena_bytes`), zeroed unless ``zero`` is
    False (scratch that is always written before it is read: the lane lattices, megabytes
    whose zeroing would cost more than a small call's work); -1 when out of memory."""
    a.used = 0
    a.size = size
    a.base = <char *>(calloc(size + 64, 1) if zero else malloc(size + 64))
    return -1 if a.base == NULL else 0


cdef inline void *arena_take(Arena *a, size_t n_items) noexcept nogil:
    """``n_items`` 8-byte items of the arena (aligned); the caller sized it."""
    cdef size_t start = (<size_t>a.base + 63) // 64 * 64 - <size_t>a.base + a.used
    a.used += arena_bytes(n_items)
    return <void *>(a.base + start)


cdef inline void arena_free(Arena *a) noexcept nogil:
    free(a.base)
    a.base = NULL
