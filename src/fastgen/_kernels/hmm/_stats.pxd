# cython: language_level=3
"""Sufficient statistics, lane-wise (see ``_stats.pyx``)."""

from fastgen._kernels.hmm._bundles cimport Accum, Emissions


ctypedef struct StatLanes:
    # Lane buffers: frame (or sequence) l of a run of up to L = STAT_LANES goes to lane l.
    # Every 2-D buffer is (rows, L), row-major.
    int stats            # STATS_*
    Py_ssize_t nc        # states
    Py_ssize_t nf        # features of the Gaussian statistics (0 otherwise)
    Py_ssize_t ng        # rows of the Gaussian lane sums: nc, or 0 (not Gaussian)
    Py_ssize_t nsq       # nf for STATS_DIAG, else 0
    Py_ssize_t ntri      # nf (nf + 1) / 2 for STATS_FULL, else 0
    double *GT      # (nc, L): posteriors
    double *XT      # (nf, L): features
    double *XX      # (max(nsq, ntri), L): their squares / lower-triangle products
    double *lpost   # (ng, L): per-lane sums of the posteriors
    double *lobs    # (ng * nf, L): of posteriors x features
    double *lsq     # (ng * nsq, L): of posteriors x squares
    double *lout    # (ng * ntri, L): of posteriors x products
    double *FT      # (nc, L): forward rows
    double *WT      # (nc, L): transition weights of the next frames
    double *inv     # (L,): normaliser reciprocals
    double *lxi     # (nc * nc, L): expected-transition sums (without transmat)
    void *_mem


cdef int stat_lanes_init(StatLanes *s, int stats, Py_ssize_t nc, Py_ssize_t nf) noexcept nogil
cdef void stat_lanes_free(StatLanes *s) noexcept nogil
cdef void add_lane_outer(
    const double *FT, Py_ssize_t n_i, const double *WT, Py_ssize_t n_j, Py_ssize_t m,
    double *lxi,
) noexcept nogil
cdef void lane_products(StatLanes *s, Py_ssize_t nb) noexcept nogil
cdef void lane_stats(StatLanes *s, const double *X, Py_ssize_t t0, Py_ssize_t nb) noexcept nogil
cdef void reduce_lanes(StatLanes *s, const double *transmat, Accum *acc) noexcept nogil
cdef void add_frame_stats(
    int stats, const Emissions *em, Py_ssize_t t, const double *g, double *xx, Accum *acc
) noexcept nogil
