# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Emission sufficient statistics and expected transitions, lane-wise.

Frame ``t0 + l`` of a run of ``L = STAT_LANES`` frames goes to lane ``l`` of per-lane
sums: every update is an element-wise product-sum over the lanes (vectorised), the
lanes being summed once per chunk or block by :c:func:`reduce_lanes`, in lane order.
The lane-wise forward-backward (``_lanes.pyx``) uses the same buffers with one
sequence per lane.
"""

from libc.stdlib cimport free

from fastgen._kernels.hmm._bundles cimport (
    STATS_CATEGORICAL, STATS_DIAG, STATS_FULL, STATS_MEANS, Accum, Emissions,
)
from fastgen._kernels.hmm._numeric cimport STAT_LANES, Arena, arena_bytes, arena_init, arena_take


cdef int stat_lanes_init(StatLanes *s, int stats, Py_ssize_t nc, Py_ssize_t nf) noexcept nogil:
    """Allocate (zeroed) lane buffers for ``stats`` with ``nc`` states and ``nf``
    features; -1 when out of memory."""
    cdef Py_ssize_t L = STAT_LANES
    cdef bint gaussian = stats == STATS_MEANS or stats == STATS_DIAG or stats == STATS_FULL
    cdef Py_ssize_t nfg = nf if gaussian else 0
    cdef Arena a
    s.stats = stats
    s.nc = nc
    s.nf = nfg
    s.ng = nc if gaussian else 0
    s.nsq = nf if stats == STATS_DIAG else 0
    s.ntri = nf * (nf + 1) // 2 if stats == STATS_FULL else 0
    cdef Py_ssize_t nxx = s.nsq if s.nsq > s.ntri else s.ntri
    if arena_init(&a, (
        3 * arena_bytes(nc * L) + arena_bytes(nfg * L) + arena_bytes(nxx * L)
        + arena_bytes(s.ng * L) + arena_bytes(s.ng * nfg * L) + arena_bytes(s.ng * s.nsq * L)
        + arena_bytes(s.ng * s.ntri * L) + arena_bytes(L) + arena_bytes(nc * nc * L)
    )) < 0:
        s._mem = NULL
        return -1
    s._mem = a.base
    s.GT = <double *>arena_take(&a, nc * L)
    s.XT = <double *>arena_take(&a, nfg * L)
    s.XX = <double *>arena_take(&a, nxx * L)
    s.lpost = <double *>arena_take(&a, s.ng * L)
    s.lobs = <double *>arena_take(&a, s.ng * nfg * L)
    s.lsq = <double *>arena_take(&a, s.ng * s.nsq * L)
    s.lout = <double *>arena_take(&a, s.ng * s.ntri * L)
    s.FT = <double *>arena_take(&a, nc * L)
    s.WT = <double *>arena_take(&a, nc * L)
    s.inv = <double *>arena_take(&a, L)
    s.lxi = <double *>arena_take(&a, nc * nc * L)
    return 0


cdef void stat_lanes_free(StatLanes *s) noexcept nogil:
    free(s._mem)
    s._mem = NULL


cdef void add_lane_outer(
    const double *FT, Py_ssize_t n_i, const double *WT, Py_ssize_t n_j, Py_ssize_t m,
    double *lxi,
) noexcept nogil:
    """``lxi[i, j, :m] += FT[i, :m] * WT[j, :m]`` lane by lane (``FT`` (n_i, L), ``WT``
    (n_j, L), ``lxi`` (n_i, n_j, L)): the per-lane expected-transition terms and the
    Gaussian statistics (posteriors times features or their products)."""
    cdef Py_ssize_t L = STAT_LANES, i, j, r
    cdef const double *fi
    cdef const double *wj
    cdef double *xij
    for i in range(n_i):
        fi = FT + i * L
        for j in range(n_j):
            wj = WT + j * L
            xij = lxi + (i * n_j + j) * L
            for r in range(m):
                xij[r] += fi[r] * wj[r]


cdef void lane_products(StatLanes *s, Py_ssize_t nb) noexcept nogil:
    """Add the statistics of the posteriors ``GT[:, :nb]`` and features ``XT[:, :nb]``
    to the per-lane sums."""
    cdef Py_ssize_t L = STAT_LANES, nc = s.nc, nf = s.nf, f, e, r, k, m
    cdef double *XX = s.XX
    cdef const double *XT = s.XT
    cdef const double *gk
    cdef double *pk
    if s.stats == STATS_DIAG:
        for f in range(nf):
            for r in range(nb):
                XX[f * L + r] = XT[f * L + r] * XT[f * L + r]
    elif s.stats == STATS_FULL:  # lower triangle, row by row
        m = 0
        for f in range(nf):
            for e in range(f + 1):
                for r in range(nb):
                    XX[m * L + r] = XT[f * L + r] * XT[e * L + r]
                m += 1
    for k in range(s.ng):
        gk = s.GT + k * L
        pk = s.lpost + k * L
        for r in range(nb):
            pk[r] += gk[r]
    add_lane_outer(s.GT, s.ng, XT, nf, nb, s.lobs)
    add_lane_outer(s.GT, s.ng, XX, s.nsq, nb, s.lsq)
    add_lane_outer(s.GT, s.ng, XX, s.ntri, nb, s.lout)


cdef void lane_stats(StatLanes *s, const double *X, Py_ssize_t t0, Py_ssize_t nb) noexcept nogil:
    """Add the Gaussian statistics of frames ``t0:t0+nb`` of ``X`` (nf columns), the
    posteriors being in ``GT[:, :nb]``."""
    cdef Py_ssize_t L = STAT_LANES, nf = s.nf, r, f
    for r in range(nb):
        for f in range(nf):
            s.XT[f * L + r] = X[(t0 + r) * nf + f]
    lane_products(s, nb)


cdef inline double _take_lanes(double *v) noexcept nogil:
    """Sum of the ``STAT_LANES`` lanes of ``v`` in lane order; zeroes them."""
    cdef double acc = 0.0
    cdef Py_ssize_t r
    for r in range(STAT_LANES):
        acc += v[r]
        v[r] = 0.0
    return acc


cdef void reduce_lanes(StatLanes *s, const double *transmat, Accum *acc) noexcept nogil:
    """Add the lane sums (in lane order) to ``acc`` and zero them; the lower-triangle
    products fill both halves of ``outer`` (nc, nf * nf), and the expected transitions
    are ``trans[i, j] += transmat[i, j] * sum(xi[i, j])``."""
    cdef Py_ssize_t L = STAT_LANES, nc = s.nc, nf = s.nf, i, j, k, f, e, m
    cdef double a
    for i in range(nc):
        for j in range(nc):
            a = _take_lanes(s.lxi + (i * nc + j) * L)
            acc.trans[i * nc + j] += transmat[i * nc + j] * a
    for k in range(s.ng):
        acc.post[k] += _take_lanes(s.lpost + k * L)
        for f in range(nf):
            acc.obs[k * acc.n_obs + f] += _take_lanes(s.lobs + (k * nf + f) * L)
        for f in range(s.nsq):
            acc.sq[k * nf + f] += _take_lanes(s.lsq + (k * s.nsq + f) * L)
        if s.ntri:
            m = 0
            for f in range(nf):
                for e in range(f + 1):
                    a = _take_lanes(s.lout + (k * s.ntri + m) * L)
                    acc.outer[k * nf * nf + f * nf + e] += a
                    if e != f:
                        acc.outer[k * nf * nf + e * nf + f] += a
                    m += 1


cdef void add_frame_stats(
    int stats, const Emissions *em, Py_ssize_t t, const double *g, double *xx, Accum *acc
) noexcept nogil:
    """Emission statistics of frame ``t`` with posteriors ``g`` (nc,), frame by frame
    (the exact path); ``xx``: scratch of ``max(nf * nf, 1)`` entries."""
    cdef Py_ssize_t nc = em.n_components, nf = em.n_features, k, f, e, m, s
    cdef double gk
    cdef const double *x
    if stats == STATS_CATEGORICAL:
        s = em.sym[t]
        for k in range(nc):
            acc.obs[k * acc.n_obs + s] += g[k]
        return
    x = em.X + t * nf
    for k in range(nc):
        acc.post[k] += g[k]
    for k in range(nc):
        gk = g[k]
        for f in range(nf):
            acc.obs[k * acc.n_obs + f] += gk * x[f]
    if stats == STATS_DIAG:
        for f in range(nf):
            xx[f] = x[f] * x[f]
        for k in range(nc):
            gk = g[k]
            for f in range(nf):
                acc.sq[k * nf + f] += gk * xx[f]
    elif stats == STATS_FULL:
        for f in range(nf):
            for e in range(nf):
                xx[f * nf + e] = x[f] * x[e]
        for k in range(nc):
            gk = g[k]
            for m in range(nf * nf):
                acc.outer[k * nf * nf + m] += gk * xx[m]
