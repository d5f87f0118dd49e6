# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Emission log-likelihoods of the HMM kernels.

Gaussian densities are computed in blocks of ``BLOCK`` frames, state by state and
vectorised over the frames of the block (the block's features are first transposed);
the sums run over the features in order, so each value is that of the per-frame
formula.  :c:func:`fill_scaled` turns them into the per-frame scaled likelihoods of the
fast forward-backward passes: ``exp(log_frame - max)`` in log space (with a flag where
a state falls below ``exp(FLUSH)`` relative to the best), ``exp(log_frame)`` with the
scaling implementation.

The ``def`` functions here are the per-row densities (``log_density_*``) and their
row-block kernels, called by the entry points (``fastgen._kernels.hmm``), which
validate the arrays and spread the row blocks over threads.
"""

import numpy as np

from libc.math cimport INFINITY, NAN, exp, isfinite, isnan, log
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc

from fastgen._kernels.hmm._bundles cimport (
    EMIT_CATEGORICAL, EMIT_DIAG, EMIT_FULL, EmissionArrays, Emissions, ScaledTable,
    clamp_scaled,
)
from fastgen._kernels.hmm._numeric cimport (
    BLOCK, FLUSH, Arena, arena_bytes, arena_init, arena_take, vexp,
)

cdef double LOG_2PI = 1.8378770664093453  # log(2 pi)


cdef int workspace_init(Workspace *ws, Py_ssize_t nf, Py_ssize_t nc) noexcept nogil:
    """Allocate ``ws`` for ``nf`` features and ``nc`` states; -1 when out of memory."""
    cdef Py_ssize_t ny = nf if nf > 1 else 1
    cdef Arena a
    if arena_init(&a, 2 * arena_bytes(ny * BLOCK) + arena_bytes(BLOCK)
                  + 2 * arena_bytes(BLOCK * nc)) < 0:
        ws._mem = NULL
        return -1
    ws._mem = a.base
    ws.xt = <double *>arena_take(&a, ny * BLOCK)
    ws.acc = <double *>arena_take(&a, BLOCK)
    ws.yb = <double *>arena_take(&a, ny * BLOCK)
    ws.poly = <double *>arena_take(&a, BLOCK * nc)
    ws.scale = <double *>arena_take(&a, BLOCK * nc)
    return 0


cdef void workspace_free(Workspace *ws) noexcept nogil:
    free(ws._mem)
    ws._mem = NULL


cdef void emit_block(
    const Emissions *em, Py_ssize_t lo, Py_ssize_t hi, Workspace *ws, double *out
) noexcept nogil:
    """Log-likelihoods of frames ``lo:hi`` (at most ``BLOCK``) into ``out`` (hi-lo, nc)."""
    cdef Py_ssize_t nb = hi - lo, nc = em.n_components, nf = em.n_features
    cdef Py_ssize_t r, f, g, k, s
    cdef double mu, iv, d, c, ck
    cdef double *xt = ws.xt
    cdef double *acc = ws.acc
    cdef double *yb = ws.yb
    cdef const double *X = em.X
    cdef const double *lt
    if em.kind == EMIT_DIAG or em.kind == EMIT_FULL:
        for r in range(nb):
            for f in range(nf):
                xt[f * BLOCK + r] = X[(lo + r) * nf + f]
        for k in range(nc):
            if em.kind == EMIT_DIAG:
                for r in range(nb):
                    acc[r] = 0.0
                for f in range(nf):
                    mu = em.means[k * nf + f]
                    iv = em.inv[k * nf + f]
                    for r in range(nb):
                        d = xt[f * BLOCK + r] - mu
                        acc[r] += d * d * iv
            else:  # y = L^-1 (x - mean); lt[k, g, f] = L^-1[f, g] (0 for f < g)
                lt = em.lt + k * nf * nf
                for f in range(nf):
                    for r in range(nb):
                        yb[f * BLOCK + r] = 0.0
                for g in range(nf):
                    mu = em.means[k * nf + g]
                    for r in range(nb):
                        acc[r] = xt[g * BLOCK + r] - mu
                    for f in range(g, nf):
                        c = lt[g * nf + f]
                        for r in range(nb):
                            yb[f * BLOCK + r] += c * acc[r]
                for r in range(nb):
                    acc[r] = 0.0
                for f in range(nf):
                    for r in range(nb):
                        acc[r] += yb[f * BLOCK + r] * yb[f * BLOCK + r]
            ck = em.const_[k]
            for r in range(nb):
                out[r * nc + k] = ck - 0.5 * acc[r]
    elif em.kind == EMIT_CATEGORICAL:
        for r in range(nb):
            s = em.sym[lo + r]
            for k in range(nc):
                out[r * nc + k] = em.table[s * nc + k]
    else:
        for r in range(nb):
            for k in range(nc):
                out[r * nc + k] = em.log_frame[(lo + r) * nc + k]
    if em.clamp != NULL:  # a clamped frame is impossible in every other state
        for r in range(nb):
            s = em.clamp[lo + r]
            if s >= 0:
                for k in range(nc):
                    if k != s:
                        out[r * nc + k] = -INFINITY


cdef void log_frames(
    const Emissions *em, Py_ssize_t lo, Py_ssize_t hi, Workspace *ws, double *out
) noexcept nogil:
    """Log-likelihoods of frames ``lo:hi`` into ``out`` (hi-lo, nc), block by block."""
    cdef Py_ssize_t b, e, ib
    for ib in range((hi - lo + BLOCK - 1) // BLOCK):
        b = lo + ib * BLOCK
        e = b + BLOCK if b + BLOCK < hi else hi
        emit_block(em, b, e, ws, out + (b - lo) * em.n_components)


cdef void fill_scaled(
    const Emissions *em, const ScaledTable *sc, bint log_space, Py_ssize_t lo,
    Py_ssize_t hi, Py_ssize_t off, Workspace *ws, Scaled *out,
) noexcept nogil:
    """Scaled likelihoods of frames ``lo:hi`` into rows ``lo-off:hi-off`` of ``out``.

    Log space: ``fr[r] = exp(lf - c)`` with ``c = cc[r] = max(lf)``; ``flag[r]`` marks a
    frame where some state fell below ``exp(FLUSH)`` relative to the best (or all are
    impossible).  Scaling implementation: ``fr[r] = exp(lf)``, ``c = 0``.  Categorical
    emissions read the per-symbol rows of ``sc``.
    """
    cdef Py_ssize_t nc = em.n_components
    cdef Py_ssize_t t, r, k, s, b, e, r0, r1, ib
    cdef double m, d
    cdef bint flagged
    cdef double *fr = out.fr
    if em.kind == EMIT_CATEGORICAL:
        for t in range(lo, hi):
            r = t - off
            s = em.sym[t]
            for k in range(nc):
                fr[r * nc + k] = sc.rows[s * nc + k]
            out.cc[r] = sc.shift[s]
            out.flag[r] = sc.flag[s]
            if em.clamp != NULL:
                clamp_scaled(em, t, log_space, em.table + s * nc, fr + r * nc, 1,
                             out.cc + r, out.flag + r)
        return
    for ib in range((hi - lo + BLOCK - 1) // BLOCK):
        b = lo + ib * BLOCK
        e = b + BLOCK if b + BLOCK < hi else hi
        r0 = b - off
        r1 = e - off
        emit_block(em, b, e, ws, fr + r0 * nc)
        for r in range(r0, r1):
            if not log_space:
                out.cc[r] = 0.0
                out.flag[r] = False
                continue
            m = -INFINITY
            for k in range(nc):
                if fr[r * nc + k] > m:
                    m = fr[r * nc + k]
            flagged = m == -INFINITY
            if not flagged:
                for k in range(nc):
                    d = fr[r * nc + k] - m
                    fr[r * nc + k] = d
                    if d < FLUSH:
                        flagged = True
            out.cc[r] = m
            out.flag[r] = flagged
        vexp(fr + r0 * nc, (r1 - r0) * nc, ws.poly, ws.scale)


# --------------------------------------------------------------------------- row kernels


def log_frame_rows(
    EmissionArrays em not None, Py_ssize_t r0, Py_ssize_t r1, double[:, ::1] out
):
    """Emission log-likelihoods of frames ``r0:r1`` into ``out`` (r1 - r0, nc), GIL
    released."""
    if not (0 <= r0 <= r1 <= em.c.n_samples) or out.shape[0] != r1 - r0 or (
        out.shape[1] != em.c.n_components
    ):
        raise ValueError("row range or output shape does not match the emissions")
    cdef Workspace ws
    cdef int status
    with nogil:
        status = workspace_init(&ws, em.c.n_features, em.c.n_components)
        if status == 0:
            log_frames(&em.c, r0, r1, &ws, &out[0, 0] if r1 > r0 else NULL)
            workspace_free(&ws)
    if status < 0:
        raise MemoryError()


def density_diag_rows(
    const double[:, ::1] X, const double[:, ::1] means, const double[:, ::1] covars,
    double[:, ::1] out, Py_ssize_t r0, Py_ssize_t r1, bint missing,
):
    """Diagonal Gaussian log-densities of rows ``r0:r1`` of ``X`` into ``out``; with
    ``missing``, NaN entries are marginalised out (an all-NaN row has density 1)."""
    cdef Py_ssize_t nf = X.shape[1], nc = means.shape[0], t, k, f
    cdef double q, d, x, s
    if means.shape[1] != nf or covars.shape[0] != nc or covars.shape[1] != nf or (
        out.shape[0] != X.shape[0] or out.shape[1] != nc or not 0 <= r0 <= r1 <= X.shape[0]
    ):
        raise ValueError("shapes of X, means, covars and out disagree")
    const = np.empty(nc)
    logc = np.empty((nc, nf))
    inv = np.empty((nc, nf))
    cdef double[::1] cst = const
    cdef double[:, ::1] lc = logc
    cdef double[:, ::1] iv = inv
    for k in range(nc):
        s = 0.0
        for f in range(nf):
            s += log(covars[k, f])
            lc[k, f] = LOG_2PI + log(covars[k, f])
            iv[k, f] = 1.0 / covars[k, f]
        cst[k] = nf * LOG_2PI + s
    with nogil:
        for t in range(r0, r1):
            for k in range(nc):
                q = 0.0
                if missing:
                    for f in range(nf):
                        x = X[t, f]
                        if not isnan(x):
                            d = x - means[k, f]
                            q += lc[k, f] + d * d * iv[k, f]
                    out[t, k] = -0.5 * q
                else:
                    for f in range(nf):
                        d = X[t, f] - means[k, f]
                        q += d * d * iv[k, f]
                    out[t, k] = -0.5 * (cst[k] + q)


def inverse_cholesky_t(const double[:, :, ::1] chol):
    """Transposed inverses of lower Cholesky factors (nc, nf, nf) with a nonzero
    diagonal, by forward substitution: ``out[k, g, f] = inv(chol[k])[f, g]``, zero for
    ``f < g``.  Computed here rather than by LAPACK: a threaded BLAS waits for a free
    core on a busy machine, milliseconds per tiny call."""
    cdef Py_ssize_t nc = chol.shape[0], nf = chol.shape[1], k, g, f, h
    cdef double acc
    if chol.shape[2] != nf:
        raise ValueError("chol must have shape (nc, nf, nf)")
    result = np.zeros((nc, nf, nf))
    cdef double[:, :, ::1] out = result
    with nogil:
        for k in range(nc):
            for g in range(nf):  # column g of the inverse: solve L x = e_g
                out[k, g, g] = 1.0 / chol[k, g, g]
                for f in range(g + 1, nf):
                    acc = 0.0
                    for h in range(g, f):
                        acc -= chol[k, f, h] * out[k, g, h]
                    out[k, g, f] = acc / chol[k, f, f]
    return result


def vexp_inplace(double[::1] x):
    """``x[:] = exp(x)`` with the kernels' vectorised ``exp`` (within one ulp of NumPy)."""
    cdef Py_ssize_t n = x.shape[0]
    poly = np.empty(max(n, 1))
    scale = np.empty(max(n, 1))
    cdef double[::1] p = poly
    cdef double[::1] s = scale
    if n:
        with nogil:
            vexp(&x[0], n, &p[0], &s[0])


def mixture_rows(
    double[:, ::1] dens, Py_ssize_t nm, double[:, ::1] ll, double[:, ::1] sums,
    Py_ssize_t r0, Py_ssize_t r1,
):
    """Per-state log-sum-exp over ``nm`` mixture components, rows ``r0:r1``, GIL
    released.  ``dens`` (n, nc * nm) holds the weighted component log-densities, state
    by state; it is overwritten by ``exp(dens - best)`` (``best``: the state's largest,
    0 where that is not finite), ``sums`` (n, nc) gets their sums over the components
    (in order) and ``ll`` (n, nc) ``log(sums) + best``: -inf, with ``e = s = 0``, for a
    state whose every component is -inf."""
    cdef Py_ssize_t n = dens.shape[0], nc = ll.shape[1], t, k, j, b, e, ib, w
    cdef double best, x, acc
    cdef double *row
    cdef double *poly
    cdef double *scale
    if nm < 1 or dens.shape[1] != nc * nm or ll.shape[0] != n or sums.shape[0] != n or (
        sums.shape[1] != nc or not 0 <= r0 <= r1 <= n
    ):
        raise ValueError("shapes of dens, ll and sums disagree")
    w = nc * nm
    if r1 == r0 or w == 0:
        return
    with nogil:
        poly = <double *>malloc(BLOCK * w * sizeof(double))
        scale = <double *>malloc(BLOCK * w * sizeof(double))
    if poly == NULL or scale == NULL:
        free(poly)
        free(scale)
        raise MemoryError()
    with nogil:
        for ib in range((r1 - r0 + BLOCK - 1) // BLOCK):
            b = r0 + ib * BLOCK
            e = b + BLOCK if b + BLOCK < r1 else r1
            for t in range(b, e):
                row = &dens[t, 0]
                for k in range(nc):
                    best = row[k * nm]
                    for j in range(1, nm):  # np.maximum: NaN propagates
                        x = row[k * nm + j]
                        if x > best or isnan(x):
                            if not isnan(best):
                                best = x
                    if not isfinite(best):
                        best = 0.0
                    ll[t, k] = best
                    for j in range(nm):
                        row[k * nm + j] -= best
            vexp(&dens[b, 0], (e - b) * w, poly, scale)
            for t in range(b, e):
                row = &dens[t, 0]
                for k in range(nc):
                    acc = row[k * nm]
                    for j in range(1, nm):
                        acc += row[k * nm + j]
                    sums[t, k] = acc
                    ll[t, k] += log(acc)
        free(poly)
        free(scale)
