# cython: language_level=3
"""Lane-wise forward-backward (see ``_lanes.pyx``): the buffers, the group task and the
phases other kernels reuse (``_filter``: the lanes' forward pass alone)."""

from libc.stdint cimport int64_t

from fastgen._kernels.hmm._bundles cimport Chain, Emissions, ScaledTable, Want
from fastgen._kernels.hmm._emissions cimport Workspace
from fastgen._kernels.hmm._sequence cimport ExactBuffers
from fastgen._kernels.hmm._stats cimport StatLanes


cdef enum:
    LANE_OK = 0     # the scaled passes of the lane went through
    LANE_EXACT = 1  # redo the sequence in log space (exact_sequence)
    LANE_NAN = 2    # scaling implementation under/overflowed: log-likelihood NaN


ctypedef struct LaneBuffers:
    # One worker's buffers for groups of up to L = STAT_LANES sequences of up to T frames.
    # Lane arrays (rows, L) are row-major: (T, nc, L) at ((t * nc + i) * L + w).
    Py_ssize_t T            # frames of the longest sequence the buffers hold
    double *src             # (L * T, nc): the group's emission log-likelihoods, sequence w
                            #   at rows w * Tg .. w * Tg + len (Tg: the group's longest);
                            #   then the log-likelihoods of exact_sequence
    double *fwd1            # (T, nc): exact_sequence's log forward lattice
    double *bwd1            # (T, nc): its log backward lattice
    double *gam1            # (T, nc): its posteriors (and scratch)
    double *xx              # (max(nf * nf, 1),): feature products of add_frame_stats
    double *FR              # (T, nc, L): scaled emission likelihoods
    double *CC              # (T, L): per-frame shifts (log space: the frame's maximum)
    unsigned char *FL       # (T, L): frame flagged (a state flushed, or all impossible)
    double *F               # (T, nc, L): forward rows, normalised to sum 1
    double *B               # (T, nc, L) with posteriors, else unused: backward rows
    double *S               # (T, L): forward normalisers
    double *P               # (L,): scratch (normaliser reciprocals, maxima)
    double *W               # (nc, L): backward weights fr[t+1] / S[t] * bwd[t+1]
    double *tot             # (L,): backward row sums (overflow test)
    int64_t *base           # (L,): first frame of each lane's sequence
    int64_t *lens           # (L,): its length
    int64_t *state          # (L,): LANE_*
    double *lp              # (L,): log-likelihoods of the scaled passes
    int64_t *valid          # (L,): 1 where the lane's state is LANE_OK with a finite
                            #   log-likelihood, else 0 (int64: vectorised selects)
    int64_t *live           # (L,): scratch: 1 where the lane has frame t (or a
                            #   transition t -> t+1), else 0
    Workspace ws            # emission workspace (log_frames, vexp scratch)
    StatLanes lanes         # lane sums of the statistics and expected transitions
    ExactBuffers ex         # exact_sequence's view of src, fwd1, bwd1, gam1, xx, ws
    void *_mem


ctypedef struct GroupTask:
    # What the groups of one call read, and the per-sequence outputs they write.
    const Chain *ch
    const Emissions *em
    const ScaledTable *st
    const Want *want
    const int64_t *startidx
    double *log_prob        # (n_sequences,)
    double *gamma           # (n_samples, nc), or NULL: posteriors not written


cdef int lane_buffers_init(
    LaneBuffers *b, Py_ssize_t T, Py_ssize_t nc, Py_ssize_t nf, int stats, bint want_post
) noexcept nogil
cdef void lane_buffers_free(LaneBuffers *b) noexcept nogil
cdef void lane_emissions_table(
    const GroupTask *task, LaneBuffers *b, Py_ssize_t nw, Py_ssize_t T
) noexcept nogil
cdef void lane_emissions(
    const GroupTask *task, LaneBuffers *b, Py_ssize_t nw, Py_ssize_t T
) noexcept nogil
cdef void group_forward(
    const GroupTask *task, LaneBuffers *b, Py_ssize_t nw, Py_ssize_t T
) noexcept nogil
