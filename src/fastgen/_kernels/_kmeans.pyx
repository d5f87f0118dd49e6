# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""One Lloyd step of k-means: assign every row to its nearest centre and add it up.

A step reads ``X`` once: each row's squared distance to every centre is summed feature by
feature (no ``|x|^2 - 2 x.c + |c|^2`` cancellation), the nearest centre (the first of
equal ones) is its label, and the row is added to that centre's running sum and count.
Rows are split into ``n_chunks`` fixed contiguous chunks, each adding into its own row
of the partial sums, so the caller's reduction in chunk order gives the same bits
whatever the number of threads that ran the chunks.
"""

from libc.math cimport INFINITY
from libc.stdint cimport int64_t


def lloyd_chunks(
    const double[:, ::1] X, const double[:, ::1] centers, int64_t[::1] labels,
    double[:, :, ::1] sums, double[:, ::1] counts, double[::1] inertia,
    Py_ssize_t n_chunks, Py_ssize_t first, Py_ssize_t step,
):
    """Assign rows of chunks ``first, first + step, ...`` (of ``n_chunks``).

    ``X`` (n, d), ``centers`` (k, d); ``labels`` (n,) receives each row's nearest
    centre; chunk ``c`` writes its partial sums into ``sums[c]`` (k, d), its counts into
    ``counts[c]`` (k,) and its summed squared distances into ``inertia[c]``.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], k = centers.shape[0]
    if (centers.shape[1] != d or labels.shape[0] != n or sums.shape[0] < n_chunks
            or sums.shape[1] != k or sums.shape[2] != d or counts.shape[0] < n_chunks
            or counts.shape[1] != k or inertia.shape[0] < n_chunks or k < 1 or first < 0
            or step < 1):
        raise ValueError("lloyd_chunks: arrays disagree")
    cdef Py_ssize_t c, i, j, m, best, r0, r1
    cdef double dist, diff, best_dist, total
    with nogil:
        c = first
        while c < n_chunks:
            r0 = c * n // n_chunks
            r1 = (c + 1) * n // n_chunks
            for m in range(k):
                counts[c, m] = 0.0
                for j in range(d):
                    sums[c, m, j] = 0.0
            total = 0.0
            for i in range(r0, r1):
                best = 0
                best_dist = INFINITY
                for m in range(k):
                    dist = 0.0
                    for j in range(d):
                        diff = X[i, j] - centers[m, j]
                        dist += diff * diff
                    if dist < best_dist:
                        best_dist = dist
                        best = m
                labels[i] = best
                counts[c, best] += 1.0
                for j in range(d):
                    sums[c, best, j] += X[i, j]
                total += best_dist
            inertia[c] = total
            c += step
