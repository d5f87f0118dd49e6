# cython: language_level=3
"""Named bundles of the HMM kernels: C structs of pointers into validated arrays.

Every kernel takes these instead of long positional argument lists.  The ``cdef class``
holders (defined in ``_bundles.pyx``) own the arrays the pointers point into, check
their dtypes, contiguity and shapes once, and hand the structs to the kernels; the
kernels trust the shapes recorded here and read nothing outside them.

Array layouts are C order (row-major), float64 unless said otherwise.
"""

from libc.math cimport INFINITY
from libc.stdint cimport int64_t

cdef enum:
    EMIT_LOG_FRAMES = 0   # log_frame holds the log-likelihoods
    EMIT_DIAG = 1         # Gaussian: means, inv (1 / variances), const
    EMIT_FULL = 2         # Gaussian: means, lt (transposed inverse Cholesky factors), const
    EMIT_CATEGORICAL = 3  # sym, table (log-probabilities, (n_symbols, n_components))

cdef enum:
    STATS_NONE = 0
    STATS_MEANS = 1        # post, obs
    STATS_DIAG = 2         # post, obs, obs**2
    STATS_FULL = 3         # post, obs, obs obs^T
    STATS_CATEGORICAL = 4  # obs[k, symbol]


ctypedef struct Emissions:
    # What produces the per-frame emission log-likelihoods.
    int kind                 # EMIT_*
    Py_ssize_t n_samples     # frames
    Py_ssize_t n_components  # states
    Py_ssize_t n_features    # Gaussian: features of X; else 0
    Py_ssize_t n_symbols     # categorical: rows of table; else 0
    const double *X          # (n_samples, n_features)            EMIT_DIAG, EMIT_FULL
    const int64_t *sym       # (n_samples,), in [0, n_symbols)     EMIT_CATEGORICAL
    const double *means      # (n_components, n_features)          Gaussian
    const double *inv        # (n_components, n_features)          EMIT_DIAG
    const double *lt         # (n_components, n_features, n_features) EMIT_FULL:
                             #   lt[k, g, f] = inverse(chol[k])[f, g], 0 for f < g
    const double *const_     # (n_components,): -(nf log 2pi + log det) / 2    Gaussian
    const double *table      # (n_symbols, n_components) log-probabilities      categorical
    const double *log_frame  # (n_samples, n_components)           EMIT_LOG_FRAMES
    const int64_t *clamp     # (n_samples,) or NULL: frame t has likelihood 0 in every
                             #   state but clamp[t] (-1: unclamped); any kind


ctypedef struct ScaledTable:
    # Categorical emissions, scaled per symbol once per call (see ``scaled_table`` in
    # the entry points): rows[s] = exp(table[s] - shift[s]) in log space, exp(table[s])
    # with the scaling implementation (shift 0); flag[s]: some state flushed or all
    # impossible.  Empty (n_symbols == 0) for other emission kinds.
    Py_ssize_t n_symbols
    const double *rows          # (n_symbols, n_components)
    const double *shift         # (n_symbols,)
    const unsigned char *flag   # (n_symbols,)


ctypedef struct Chain:
    # The Markov chain of a forward-backward pass.
    Py_ssize_t nc               # states
    Py_ssize_t ncp              # nc rounded up to a multiple of LANES (see _numeric.pxd)
    const double *startprob     # (nc,)
    const double *transmat      # (nc, nc)
    const double *transmat_t    # (nc, nc): transmat.T
    const double *transmat_p    # (nc, ncp): transmat, zero padded
    const double *transmat_tp   # (nc, ncp): transmat.T, zero padded
    double a_min                # smallest transition probability
    bint log_space              # hmmlearn's "log" implementation (else "scaling")


ctypedef struct LogChain:
    # The Markov chain of a Viterbi pass, in log space (log 0 = -inf).
    Py_ssize_t nc
    const double *log_start     # (nc,)
    const double *log_trans     # (nc, nc): log transmat
    const double *log_trans_t   # (nc, nc): its transpose


ctypedef struct Want:
    # What a forward-backward pass computes beyond the log-likelihoods.
    bint post    # backward pass, posteriors, statistics
    bint gamma   # write the posteriors out (needs post)
    bint xi      # expected transitions (needs post)
    int stats    # STATS_*: emission statistics to accumulate (needs post)


ctypedef struct Accum:
    # One row of the accumulators: a chunk (or time block) adds only into its own row,
    # the rows being summed in a fixed order afterwards.
    double *start   # (nc,)
    double *trans   # (nc, nc)
    double *post    # (nc,)
    double *obs     # (nc, n_obs): Gaussian (nc, nf); categorical (nc, n_symbols)
    double *sq      # (nc, nf): STATS_DIAG; else NULL
    double *outer   # (nc, nf * nf): STATS_FULL; else NULL
    Py_ssize_t n_obs  # columns of obs
    const double *weight  # (n_samples,) frame weights, or NULL (all 1): frame t's
                          #   posteriors, the transitions into it and (first frame) its
                          #   start count are added times weight[t]


ctypedef struct Sequences:
    # Sequence bounds: startidx[s] .. startidx[s + 1] are the frames of sequence s;
    # startidx[0] == 0, strictly increasing, startidx[n_sequences] == n_samples.
    Py_ssize_t n_sequences
    const int64_t *startidx


ctypedef struct Outputs:
    # Per-sequence and per-frame results of a forward-backward pass.
    double *log_prob   # (n_sequences,)
    double *gamma      # (n_samples, nc) when Want.gamma, else NULL


cdef inline Py_ssize_t group_bounds(
    const int64_t *startidx, const int64_t *seqs, Py_ssize_t nw, int64_t *base, int64_t *lens
) noexcept nogil:
    """``base[w]``, ``lens[w]`` := first frame and length of sequence ``seqs[w]`` for the
    ``nw`` lanes of a group; returns the longest length (the group's ``T``)."""
    cdef Py_ssize_t T = 0, w
    cdef int64_t q
    for w in range(nw):
        q = seqs[w]
        base[w] = startidx[q]
        lens[w] = startidx[q + 1] - startidx[q]
        if lens[w] > T:
            T = lens[w]
    return T


cdef inline void clamp_scaled(
    const Emissions *em, Py_ssize_t t, bint log_space, const double *table_row,
    double *row, Py_ssize_t stride, double *cc, unsigned char *flag
) noexcept nogil:
    """Frame ``t``'s scaled categorical likelihoods ``row[k * stride]`` (already from the
    scaled table) when ``em.clamp`` pins it to one state: every other state 0; in log
    space the shift becomes that state's log-probability (``table_row``: the symbol's
    row of ``em.table``), its likelihood 1 (0 and shift -inf when impossible) and the
    frame is flagged (states are flushed)."""
    cdef Py_ssize_t k, nc = em.n_components
    cdef int64_t c = em.clamp[t]
    if c < 0:
        return
    for k in range(nc):
        if k != c:
            row[k * stride] = 0.0
    if log_space:
        if table_row[c] == -INFINITY:
            row[c * stride] = 0.0
        else:
            row[c * stride] = 1.0
        cc[0] = table_row[c]
        flag[0] = flag[0] | (nc > 1) | (table_row[c] == -INFINITY)


cdef class EmissionArrays:
    cdef Emissions c
    cdef readonly int kind
    cdef dict _arrays   # name -> ndarray: the memory the pointers point into (private)


cdef class ScaledArrays:
    cdef ScaledTable c
    cdef readonly Py_ssize_t n_components
    cdef object _keep


cdef class ChainArrays:
    cdef Chain c
    cdef LogChain lc
    cdef object _keep


cdef class Accumulators:
    cdef readonly Py_ssize_t n_rows, nc, n_obs, n_sq, n_outer
    cdef readonly object start, trans, post, obs, sq, outer   # ndarrays with a leading row axis
    cdef readonly object weight   # float64 (n_samples,) frame weights, or None
    cdef Accum row(self, Py_ssize_t i) noexcept


cdef int check_sequences(
    object startidx, object seqs, Py_ssize_t n_samples, object log_prob
) except -1
cdef Want make_want(object want) except *
cdef int check_scaled(EmissionArrays em, ScaledArrays scaled) except -1
cdef Py_ssize_t check_estep_call(
    const Want *w, EmissionArrays em, ScaledArrays scaled, ChainArrays chain,
    Accumulators acc, object seqs, object startidx, Py_ssize_t n_chunks, Py_ssize_t first,
    Py_ssize_t step, Py_ssize_t row0, object log_prob,
) except -1
cdef int check_work(
    const Want *w, EmissionArrays em, ScaledArrays scaled, ChainArrays chain, Accumulators acc
) except -1
cdef double *gamma_ptr(object gamma, Py_ssize_t n_samples, Py_ssize_t nc) except? NULL
