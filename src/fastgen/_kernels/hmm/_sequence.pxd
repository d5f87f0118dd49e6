# cython: language_level=3
"""Forward-backward of one sequence (see ``_sequence.pyx``)."""

from fastgen._kernels.hmm._bundles cimport Accum, Chain, Emissions, Want
from fastgen._kernels.hmm._emissions cimport Workspace


ctypedef struct ExactBuffers:
    # Scratch of exact_sequence for sequences of up to T frames (each (T, nc)).
    double *lf     # log-likelihoods
    double *fwd    # log forward lattice
    double *bwd    # log backward lattice
    double *gam    # posteriors
    double *xx     # (max(nf * nf, 1),)
    Workspace *ws


cdef double exact_sequence(
    const Chain *ch, const Emissions *em, Py_ssize_t lo, Py_ssize_t hi, const Want *want,
    ExactBuffers *buf, double *gamma, Accum *acc,
) noexcept nogil
