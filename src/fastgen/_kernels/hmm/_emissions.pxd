# cython: language_level=3
"""Emission log-likelihoods, frame blocks at a time (see ``_emissions.pyx``)."""

from fastgen._kernels.hmm._bundles cimport Emissions, ScaledTable


ctypedef struct Workspace:
    # Scratch of emit_block / fill_scaled / vexp for one thread.
    double *xt      # (max(nf, 1), BLOCK): the block's features, transposed
    double *acc     # (BLOCK,)
    double *yb      # (max(nf, 1), BLOCK)
    double *poly    # (BLOCK * nc): vexp scratch
    double *scale   # (BLOCK * nc): vexp scratch
    void *_mem


ctypedef struct Scaled:
    # Scaled emission likelihoods of a run of frames (see fill_scaled).
    double *fr            # (n, nc)
    double *cc            # (n,): per-frame shift (log space: the frame's maximum)
    unsigned char *flag   # (n,): some state flushed below exp(FLUSH), or all impossible


cdef int workspace_init(Workspace *ws, Py_ssize_t nf, Py_ssize_t nc) noexcept nogil
cdef void workspace_free(Workspace *ws) noexcept nogil

cdef void emit_block(
    const Emissions *em, Py_ssize_t lo, Py_ssize_t hi, Workspace *ws, double *out
) noexcept nogil
cdef void log_frames(
    const Emissions *em, Py_ssize_t lo, Py_ssize_t hi, Workspace *ws, double *out
) noexcept nogil
cdef void fill_scaled(
    const Emissions *em, const ScaledTable *sc, bint log_space, Py_ssize_t lo,
    Py_ssize_t hi, Py_ssize_t off, Workspace *ws, Scaled *out,
) noexcept nogil
