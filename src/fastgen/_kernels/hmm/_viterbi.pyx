# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Viterbi decoding of the HMM kernels: max-plus recurrences in log space.

The arithmetic and tie-breaking are hmmlearn's ``_hmmc`` (and those of fastgen's former
Numba kernels, which these replace bit for bit): ``lattice[t, i] = max_j (lattice[t-1, j] + log A[j, i]) +
log_frame[t, i]`` with ``lattice[0] = log_start + log_frame[0]``, the maximum over ``j``
in ascending order; the best final state is the first maximum of the last row, and the
backtrace takes the largest maximising state.  A NaN never wins a comparison (a state
whose candidates are all NaN gets ``-inf``).  Nothing but additions, comparisons and
selections is evaluated (no ``exp``/``log``, no multiplication), so both strategies
below, every kernel variant and any thread count give the same paths and scores, bit
for bit.

Two strategies:

* **One sequence at a time** (:c:func:`viterbi_fast`; drivers :func:`viterbi_chunks`
  and :func:`viterbi_frames`): the maximum of each state is an independent chain over
  the previous states.  ``VIT_BLOCK`` states go at once with their running maxima in
  registers, reading rows of the log transition matrix padded with ``-inf``
  (:c:func:`padded_log_trans`), so the loop is vectorised over the states; with at most
  4 states (AVX2 build) the whole row stays in one register from frame to frame.  The
  forward pass keeps each state's back pointer (the largest maximising predecessor, the
  state hmmlearn's backtrace takes), so the backtrace only follows pointers.

* **Many short sequences at once** (:c:func:`viterbi_group`; driver
  :func:`viterbi_lane_chunks`): ``SEQ_LANES`` sequences, sorted by length, one per lane;
  the recurrence is vectorised over the lanes, the transitions being scalars, so its
  cost per frame does not hinge on a short loop over the states.  Back pointers are
  int8, hence at most ``LANE_MAX_STATES`` states.  Shorter sequences of a group repeat
  their last emission past their end, which touches nothing they read.

The two inner kernels (one frame each: ``viterbi_row``, ``lane_step``) are C in the
``extern`` block below, written with SSE2 or AVX2 intrinsics (or portable C), chosen
when compiling: setup.py builds the modules for x86-64-v2 and x86-64-v3, and
``KERNEL_VARIANT`` names the variant of this build.  The variants differ in vector
width only: each state and lane sees the same operations on the same operands in the
same order.

The ``def`` drivers validate every argument with the GIL held (ValueError), then release
it.  They follow the chunk scheme of ``_sequence.estep_chunks``: the work is cut into
``n_chunks`` contiguous chunks and one call runs chunks ``first, first + step, ...``
(the entry points give each thread its own ``first``), with its buffers taken from one
allocation (MemoryError when that fails).  Chunks write disjoint outputs, so results do
not depend on the threads.
"""

import numpy as np

from libc.math cimport INFINITY
from libc.stdint cimport int8_t, int32_t, int64_t
from libc.stdlib cimport free

from fastgen._kernels.hmm._bundles cimport (
    EMIT_CATEGORICAL, EMIT_DIAG, EMIT_FULL, EMIT_LOG_FRAMES, ChainArrays, EmissionArrays,
    Emissions, LogChain, check_sequences, group_bounds,
)
from fastgen._kernels.hmm._emissions cimport (
    Workspace, log_frames, workspace_free, workspace_init,
)
from fastgen._kernels.hmm._numeric cimport Arena, arena_bytes, arena_init, arena_take

cdef enum:
    LANE_MAX_STATES = 127   # lane-wise Viterbi: back pointers are int8


cdef extern from *:
    """
    #include <stdint.h>
    #include <math.h>

    /* Lanes per row of the lane-wise lattice (SEQ_LANES), lanes per register block of
       fg_lane_step (LANE_PAD: a frame is computed for a multiple of this many lanes) and
       states per register block of fg_viterbi_row (VIT_BLOCK). */
    #define FG_L 64
    #define FG_PAD 8
    #define FG_ROW_BLOCK 8

    /* The kernels below come in three variants, chosen when compiling: AVX2 (the x86-64-v3
       build), SSE2 (any other x86-64 build) and portable C (elsewhere, or when
       FASTGEN_VITERBI_PORTABLE is defined).  Each does the same IEEE operations on the same
       operands, in the same order, for every state and lane (additions, ordered comparisons,
       selections; no multiplication, nothing reassociated), so all give the same bits. */
    #if defined(__AVX2__) && (defined(__GNUC__) || defined(__clang__)) \
        && !defined(FASTGEN_VITERBI_PORTABLE)
    #define FG_VARIANT 2
    #include <immintrin.h>
    #elif (defined(__SSE2__) || defined(_M_X64)) && !defined(FASTGEN_VITERBI_PORTABLE)
    #define FG_VARIANT 1
    #include <emmintrin.h>
    #else
    #define FG_VARIANT 0
    #endif

    #if defined(__GNUC__) || defined(__clang__)
    #define fg_prefetch(p) __builtin_prefetch((p), 0, 2)
    #else
    #define fg_prefetch(p) ((void)(p))
    #endif

    #if FG_VARIANT == 2
    /* vblendvpd: b where m (a comparison result: all ones or all zeros) is set, else a.
       Inline assembly because GCC (12) expands _mm256_blendv_pd into an extra integer
       comparison of m before the blend: a fifth more instructions in fg_lane_step. */
    static inline __m256d fg_blendv(__m256d a, __m256d b, __m256d m) {
        __m256d r;
        __asm__("vblendvpd %3, %2, %1, %0" : "=x"(r) : "x"(a), "x"(b), "x"(m));
        return r;
    }
    #endif

    /* ======== one frame of viterbi_fast:
       cur[i] = max_j (prev[j] + ltp[j, i]) + lf[i] for i < nc, the maximum over j = 0 .. nc-1
       in order as mx = v > mx ? v : mx from -inf (a NaN never wins; all NaN: -inf);
       bp[i] := the largest j with v >= mx at its turn (0 if none), the
       state the backtrace takes (hmmlearn's: the largest maximising state; a tie of +0 and
       -0 changes no comparison).  ltp is (nc, ncp), ncp a multiple of 8, padded with -inf
       (columns past nc stay -inf and are not stored; bp has ncp entries); 8 states at a
       time, their maxima and arguments in registers.  _mm*_max_pd(v, mx) is exactly
       v > mx ? v : mx lane-wise (mx when either is NaN); _CMP_GE_OQ / cmpge are false for
       NaN, as v >= mx.  The arguments ride as doubles (exact small integers). */
    static void fg_viterbi_row(const double *prev, const double *ltp, Py_ssize_t nc,
                               Py_ssize_t ncp, const double *lf, double *cur, int32_t *bp) {
        double mx[8], ag[8];
        for (Py_ssize_t i0 = 0; i0 < ncp; i0 += 8) {
    #if FG_VARIANT == 2
            __m256d a0 = _mm256_set1_pd(-INFINITY), a1 = a0;
            __m256d g0 = _mm256_setzero_pd(), g1 = g0;
            for (Py_ssize_t j = 0; j < nc; j++) {
                const __m256d p = _mm256_set1_pd(prev[j]), jj = _mm256_set1_pd((double)j);
                const double *row = ltp + j * ncp + i0;
                const __m256d v0 = _mm256_add_pd(p, _mm256_loadu_pd(row));
                const __m256d v1 = _mm256_add_pd(p, _mm256_loadu_pd(row + 4));
                g0 = fg_blendv(g0, jj, _mm256_cmp_pd(v0, a0, _CMP_GE_OQ));
                g1 = fg_blendv(g1, jj, _mm256_cmp_pd(v1, a1, _CMP_GE_OQ));
                a0 = _mm256_max_pd(v0, a0);
                a1 = _mm256_max_pd(v1, a1);
            }
            _mm256_storeu_pd(mx, a0);
            _mm256_storeu_pd(mx + 4, a1);
            _mm_storeu_si128((__m128i *)(bp + i0), _mm256_cvtpd_epi32(g0));
            _mm_storeu_si128((__m128i *)(bp + i0 + 4), _mm256_cvtpd_epi32(g1));
            (void)ag;
    #elif FG_VARIANT == 1
            __m128d a[4], g[4];
            for (int k = 0; k < 4; k++) { a[k] = _mm_set1_pd(-INFINITY); g[k] = _mm_setzero_pd(); }
            for (Py_ssize_t j = 0; j < nc; j++) {
                const __m128d p = _mm_set1_pd(prev[j]), jj = _mm_set1_pd((double)j);
                const double *row = ltp + j * ncp + i0;
                for (int k = 0; k < 4; k++) {
                    const __m128d v = _mm_add_pd(p, _mm_loadu_pd(row + 2 * k));
                    const __m128d m = _mm_cmpge_pd(v, a[k]);
                    g[k] = _mm_or_pd(_mm_and_pd(m, jj), _mm_andnot_pd(m, g[k]));
                    a[k] = _mm_max_pd(v, a[k]);
                }
            }
            for (int k = 0; k < 4; k++) {
                _mm_storeu_pd(mx + 2 * k, a[k]);
                _mm_storeu_pd(ag + 2 * k, g[k]);
            }
            for (int k = 0; k < 8; k++) bp[i0 + k] = (int32_t)ag[k];
    #else
            for (int k = 0; k < 8; k++) { mx[k] = -INFINITY; ag[k] = 0.0; }
            for (Py_ssize_t j = 0; j < nc; j++) {
                const double p = prev[j];
                const double *row = ltp + j * ncp + i0;
                for (int k = 0; k < 8; k++) {
                    double v = p + row[k];
                    ag[k] = v >= mx[k] ? (double)j : ag[k];
                    mx[k] = v > mx[k] ? v : mx[k];
                }
            }
            for (int k = 0; k < 8; k++) bp[i0 + k] = (int32_t)ag[k];
    #endif
            for (Py_ssize_t k = 0; k < 8 && i0 + k < nc; k++) cur[i0 + k] = mx[k] + lf[i0 + k];
        }
    }

    /* ======== viterbi_fast's forward pass for nc <= 4 states, AVX2 only: the row stays in
       one register from frame to frame (no store and reload on the recurrence), each
       predecessor broadcast by a lane permutation.  The same operations on the same
       operands as fg_viterbi_row (v = p + ltp[j, i] for j = 0 .. nc-1 in order, the
       argument where v >= mx, then mx = max(v, mx), then + lf), so the same bits.  Writes
       the back pointers bp (n, ncp) of frames 1 .. n-1 and the last row into last[0:4];
       lanes past nc hold values nothing reads.  lf rows are read with a mask: nothing
       past nc entries of a row is touched. */
    #if FG_VARIANT == 2
    #define FG_SMALL_STATES 4
    static void fg_viterbi_small(const double *log_start, const double *ltp, Py_ssize_t nc,
                                 Py_ssize_t ncp, const double *lf, Py_ssize_t n,
                                 int32_t *bp, double *last) {
        const __m256i mask = _mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)nc),
                                                _mm256_setr_epi64x(0, 1, 2, 3));
        const __m256d lt0 = _mm256_loadu_pd(ltp);
        const __m256d lt1 = nc > 1 ? _mm256_loadu_pd(ltp + ncp) : lt0;
        const __m256d lt2 = nc > 2 ? _mm256_loadu_pd(ltp + 2 * ncp) : lt0;
        const __m256d lt3 = nc > 3 ? _mm256_loadu_pd(ltp + 3 * ncp) : lt0;
        const __m256d j1 = _mm256_set1_pd(1.0), j2 = _mm256_set1_pd(2.0);
        const __m256d j3 = _mm256_set1_pd(3.0), ninf = _mm256_set1_pd(-INFINITY);
        __m256d P = _mm256_add_pd(_mm256_maskload_pd(log_start, mask),
                                  _mm256_maskload_pd(lf, mask));
        for (Py_ssize_t t = 1; t < n; t++) {
            const __m256d f = _mm256_maskload_pd(lf + t * nc, mask);
            /* j = 0: v >= -inf unless v is NaN; max(v, -inf) */
            __m256d v = _mm256_add_pd(_mm256_permute4x64_pd(P, 0x00), lt0);
            __m256d g = _mm256_setzero_pd();
            __m256d a = _mm256_max_pd(v, ninf);
            if (nc > 1) {
                v = _mm256_add_pd(_mm256_permute4x64_pd(P, 0x55), lt1);
                g = fg_blendv(g, j1, _mm256_cmp_pd(v, a, _CMP_GE_OQ));
                a = _mm256_max_pd(v, a);
            }
            if (nc > 2) {
                v = _mm256_add_pd(_mm256_permute4x64_pd(P, 0xAA), lt2);
                g = fg_blendv(g, j2, _mm256_cmp_pd(v, a, _CMP_GE_OQ));
                a = _mm256_max_pd(v, a);
            }
            if (nc > 3) {
                v = _mm256_add_pd(_mm256_permute4x64_pd(P, 0xFF), lt3);
                g = fg_blendv(g, j3, _mm256_cmp_pd(v, a, _CMP_GE_OQ));
                a = _mm256_max_pd(v, a);
            }
            _mm_storeu_si128((__m128i *)(bp + t * ncp), _mm256_cvtpd_epi32(g));
            P = _mm256_add_pd(a, f);
        }
        _mm256_storeu_pd(last, P);
    }
    #else
    #define FG_SMALL_STATES 0
    static void fg_viterbi_small(const double *log_start, const double *ltp, Py_ssize_t nc,
                                 Py_ssize_t ncp, const double *lf, Py_ssize_t n,
                                 int32_t *bp, double *last) {
        (void)log_start; (void)ltp; (void)nc; (void)ncp; (void)lf; (void)n; (void)bp;
        (void)last;
    }
    #endif

    /* ======== one frame of the lane-wise recurrence, lanes 0 .. nwp-1 (nwp a multiple of
       FG_PAD); prev, em (the frame's emissions), cur and bt are (nc, FG_L):
       cur[i, w] = max_j (prev[j, w] + lt[j, i]) + em[i, w] and bt[i, w] the largest
       maximising j: c = v (NaN -> -inf) at j = 0, then c = v >= c ? v : c over ascending j
       (a NaN never wins; all NaN: -inf, back pointer 0).  A block of lanes of one state
       carries its maxima c and back pointers b (as doubles) in registers over j. */
    static void fg_lane_step(const double *lt, Py_ssize_t nc, const double *prev, const double *em,
                             double *cur, int8_t *bt, Py_ssize_t nwp) {
        for (Py_ssize_t i = 0; i < nc; i++) {
    #if FG_VARIANT == 2
            /* m = v >= c (ordered: false for NaN); c = m ? v : c and b = m ? j : b by blends;
               8 lanes per block (two registers each for c, b, v and m). */
            const __m256d ninf = _mm256_set1_pd(-INFINITY), one = _mm256_set1_pd(1.0);
            for (Py_ssize_t w = 0; w < nwp; w += 8) {
                const Py_ssize_t o = i * FG_L + w;  /* lane w of state i */
                const double *p = prev + w;
                __m256d a = _mm256_set1_pd(lt[i]);
                __m256d c0 = _mm256_max_pd(_mm256_add_pd(_mm256_loadu_pd(p), a), ninf);
                __m256d c1 = _mm256_max_pd(_mm256_add_pd(_mm256_loadu_pd(p + 4), a), ninf);
                __m256d b0 = _mm256_setzero_pd(), b1 = b0, jd = b0;
                for (Py_ssize_t j = 1; j < nc; j++) {
                    a = _mm256_set1_pd(lt[j * nc + i]);
                    jd = _mm256_add_pd(jd, one);
                    p += FG_L;
                    __m256d v0 = _mm256_add_pd(_mm256_loadu_pd(p), a);
                    __m256d v1 = _mm256_add_pd(_mm256_loadu_pd(p + 4), a);
                    __m256d m0 = _mm256_cmp_pd(v0, c0, _CMP_GE_OQ);
                    __m256d m1 = _mm256_cmp_pd(v1, c1, _CMP_GE_OQ);
                    c0 = fg_blendv(c0, v0, m0);
                    c1 = fg_blendv(c1, v1, m1);
                    b0 = fg_blendv(b0, jd, m0);
                    b1 = fg_blendv(b1, jd, m1);
                }
                _mm256_storeu_pd(cur + o, _mm256_add_pd(c0, _mm256_loadu_pd(em + o)));
                _mm256_storeu_pd(cur + o + 4, _mm256_add_pd(c1, _mm256_loadu_pd(em + o + 4)));
                /* back pointers (0 .. 126) to bytes: int32, then saturating packs */
                __m128i q = _mm_packs_epi32(_mm256_cvttpd_epi32(b0), _mm256_cvttpd_epi32(b1));
                _mm_storel_epi64((__m128i *)(bt + o), _mm_packs_epi16(q, q));
            }
    #elif FG_VARIANT == 1
            /* No blend in SSE2: b = max(b, m & j) (j exceeds every earlier back pointer,
               b >= +0) and c = max(c, max(v, -inf)), i.e. c > v' ? c : v' with v' = v,
               NaN -> -inf, which is v >= c ? v : c for a c that is never NaN (signed zeros
               included); 8 lanes per block. */
            double b[8];
            const __m128d ninf = _mm_set1_pd(-INFINITY), one = _mm_set1_pd(1.0);
            for (Py_ssize_t w = 0; w < nwp; w += 8) {
                const Py_ssize_t o = i * FG_L + w;  /* lane w of state i */
                const double *p = prev + w;
                __m128d a = _mm_set1_pd(lt[i]);
                __m128d c0 = _mm_max_pd(_mm_add_pd(_mm_loadu_pd(p), a), ninf);
                __m128d c1 = _mm_max_pd(_mm_add_pd(_mm_loadu_pd(p + 2), a), ninf);
                __m128d c2 = _mm_max_pd(_mm_add_pd(_mm_loadu_pd(p + 4), a), ninf);
                __m128d c3 = _mm_max_pd(_mm_add_pd(_mm_loadu_pd(p + 6), a), ninf);
                __m128d b0 = _mm_setzero_pd(), b1 = b0, b2 = b0, b3 = b0, jd = b0;
                for (Py_ssize_t j = 1; j < nc; j++) {
                    a = _mm_set1_pd(lt[j * nc + i]);
                    jd = _mm_add_pd(jd, one);
                    p += FG_L;
                    __m128d v0 = _mm_add_pd(_mm_loadu_pd(p), a);
                    __m128d v1 = _mm_add_pd(_mm_loadu_pd(p + 2), a);
                    __m128d v2 = _mm_add_pd(_mm_loadu_pd(p + 4), a);
                    __m128d v3 = _mm_add_pd(_mm_loadu_pd(p + 6), a);
                    b0 = _mm_max_pd(b0, _mm_and_pd(_mm_cmpge_pd(v0, c0), jd));
                    b1 = _mm_max_pd(b1, _mm_and_pd(_mm_cmpge_pd(v1, c1), jd));
                    b2 = _mm_max_pd(b2, _mm_and_pd(_mm_cmpge_pd(v2, c2), jd));
                    b3 = _mm_max_pd(b3, _mm_and_pd(_mm_cmpge_pd(v3, c3), jd));
                    c0 = _mm_max_pd(c0, _mm_max_pd(v0, ninf));
                    c1 = _mm_max_pd(c1, _mm_max_pd(v1, ninf));
                    c2 = _mm_max_pd(c2, _mm_max_pd(v2, ninf));
                    c3 = _mm_max_pd(c3, _mm_max_pd(v3, ninf));
                }
                _mm_storeu_pd(cur + o, _mm_add_pd(c0, _mm_loadu_pd(em + o)));
                _mm_storeu_pd(cur + o + 2, _mm_add_pd(c1, _mm_loadu_pd(em + o + 2)));
                _mm_storeu_pd(cur + o + 4, _mm_add_pd(c2, _mm_loadu_pd(em + o + 4)));
                _mm_storeu_pd(cur + o + 6, _mm_add_pd(c3, _mm_loadu_pd(em + o + 6)));
                _mm_storeu_pd(b, b0);
                _mm_storeu_pd(b + 2, b1);
                _mm_storeu_pd(b + 4, b2);
                _mm_storeu_pd(b + 6, b3);
                for (int k = 0; k < 8; k++) bt[o + k] = (int8_t)b[k];
            }
    #else
            double c[8], b[8];
            for (Py_ssize_t w = 0; w < nwp; w += 8) {
                const Py_ssize_t o = i * FG_L + w;  /* lane w of state i */
                const double *p = prev + w;
                double a = lt[i];
                for (int k = 0; k < 8; k++) {
                    double v = p[k] + a;
                    c[k] = v >= -INFINITY ? v : -INFINITY;
                    b[k] = 0.0;
                }
                for (Py_ssize_t j = 1; j < nc; j++) {
                    a = lt[j * nc + i];
                    p += FG_L;
                    for (int k = 0; k < 8; k++) {
                        double v = p[k] + a;
                        if (v >= c[k]) {
                            c[k] = v;
                            b[k] = (double)j;
                        }
                    }
                }
                for (int k = 0; k < 8; k++) {
                    cur[o + k] = c[k] + em[o + k];
                    bt[o + k] = (int8_t)b[k];
                }
            }
    #endif
        }
    }
    """
    enum:
        SEQ_LANES "FG_L"         # sequences per group of the lane-wise Viterbi
        LANE_PAD "FG_PAD"        # lanes are computed in blocks of this many
        VIT_BLOCK "FG_ROW_BLOCK"  # states per register block of viterbi_row
    int FG_VARIANT
    void prefetch "fg_prefetch"(const void *p) noexcept nogil
    void viterbi_row "fg_viterbi_row"(
        const double *prev, const double *ltp, Py_ssize_t nc, Py_ssize_t ncp,
        const double *lf, double *cur, int32_t *bp) noexcept nogil
    enum:
        SMALL_STATES "FG_SMALL_STATES"  # viterbi_small serves nc up to this (0: none)
    void viterbi_small "fg_viterbi_small"(
        const double *log_start, const double *ltp, Py_ssize_t nc, Py_ssize_t ncp,
        const double *lf, Py_ssize_t n, int32_t *bp, double *last) noexcept nogil
    void lane_step "fg_lane_step"(
        const double *log_trans, Py_ssize_t nc, const double *prev, const double *em,
        double *cur, int8_t *bt, Py_ssize_t nwp) noexcept nogil

#: The kernel variant of this build: "AVX2", "SSE2" or "portable C" (same results).
KERNEL_VARIANT = ("portable C", "SSE2", "AVX2")[FG_VARIANT]


# --------------------------------------------------------------------------- one sequence


cdef void padded_log_trans(const LogChain *lc, Py_ssize_t ncp, double *out) noexcept nogil:
    """``out`` (nc, ncp) := ``log_trans`` with columns ``nc .. ncp-1`` set to ``-inf``
    (``ncp`` a multiple of ``VIT_BLOCK``): the rows :c:func:`viterbi_fast` reads."""
    cdef Py_ssize_t nc = lc.nc, j, i
    for j in range(nc):
        for i in range(ncp):
            out[j * ncp + i] = lc.log_trans[j * nc + i] if i < nc else -INFINITY


cdef double viterbi_fast(
    const LogChain *lc, const double *ltp, Py_ssize_t ncp, const double *log_frame,
    Py_ssize_t n, double *lattice, int32_t *bp, int64_t *states,
) noexcept nogil:
    """Viterbi over the rows ``0:n`` (``n >= 1``) of ``log_frame`` (n, nc); the path goes
    to ``states[0:n]``, the lattice (n, nc) to ``lattice``, the back pointers (n, ncp) to
    ``bp``; returns the path's log-probability.

    ``ltp`` is the padded log transition matrix of :c:func:`padded_log_trans`.  Each
    frame is one :c:func:`viterbi_row`: the maximum of state ``i`` runs over ``j = 0 ..
    nc-1`` in order with ``v > mx`` (a NaN never wins; all NaN gives ``-inf``), and its
    back pointer is the largest maximising ``j`` (``v >= mx``), which is the state
    hmmlearn's backtrace takes.  The best final state is the first maximum; the
    backtrace follows the back pointers.
    """
    cdef Py_ssize_t nc = lc.nc, t, i, best
    cdef const double *last
    cdef double small_last[4]
    if nc <= SMALL_STATES:  # the row in a register (AVX2 build): same bits, less latency
        viterbi_small(lc.log_start, ltp, nc, ncp, log_frame, n, bp, small_last)
        last = small_last
    else:
        for i in range(nc):
            lattice[i] = lc.log_start[i] + log_frame[i]
        for t in range(1, n):
            viterbi_row(lattice + (t - 1) * nc, ltp, nc, ncp, log_frame + t * nc,
                        lattice + t * nc, bp + t * ncp)
        last = lattice + (n - 1) * nc
    best = 0
    for i in range(1, nc):
        if last[i] > last[best]:
            best = i
    states[n - 1] = best
    for t in range(n - 2, -1, -1):
        states[t] = bp[(t + 1) * ncp + states[t + 1]]
    return last[best]


ctypedef struct ViterbiBuffers:
    # One call's buffers of viterbi_fast for sequences of up to max_len frames.
    double *lf        # (max_len, nc): emission log-likelihoods (Gaussian, categorical)
    double *lattice   # (max_len, nc)
    int32_t *bp       # (max_len, ncp): back pointers
    double *ltp       # (nc, ncp): padded log transition matrix
    Py_ssize_t ncp    # nc rounded up to a multiple of VIT_BLOCK
    Workspace ws      # emission scratch
    void *_mem


cdef int viterbi_buffers_init(
    ViterbiBuffers *b, Py_ssize_t max_len, Py_ssize_t nc, Py_ssize_t nf, bint want_lf
) noexcept nogil:
    """Allocate ``b`` (``lf`` only with ``want_lf``); -1 when out of memory."""
    cdef Arena a
    cdef Py_ssize_t ncp = (nc + VIT_BLOCK - 1) // VIT_BLOCK * VIT_BLOCK
    cdef Py_ssize_t nlf = max_len * nc if want_lf else 0
    b._mem = NULL
    b.ws._mem = NULL
    b.ncp = ncp
    if arena_init(&a, arena_bytes(nlf) + arena_bytes(max_len * nc) + arena_bytes(nc * ncp)
                  + arena_bytes((max_len * ncp + 1) // 2), zero=False) < 0:
        return -1
    b._mem = a.base
    b.lf = <double *>arena_take(&a, nlf)
    b.lattice = <double *>arena_take(&a, max_len * nc)
    b.bp = <int32_t *>arena_take(&a, (max_len * ncp + 1) // 2)
    b.ltp = <double *>arena_take(&a, nc * ncp)
    if workspace_init(&b.ws, nf, nc) < 0:
        viterbi_buffers_free(b)
        return -1
    return 0


cdef void viterbi_buffers_free(ViterbiBuffers *b) noexcept nogil:
    free(b._mem)
    b._mem = NULL
    workspace_free(&b.ws)


cdef double viterbi_sequence(
    const LogChain *lc, const Emissions *em, Py_ssize_t lo, Py_ssize_t hi,
    ViterbiBuffers *b, int64_t *states,
) noexcept nogil:
    """Viterbi of frames ``lo:hi`` of ``em`` (path into ``states[lo:hi]``); returns its
    log-probability.  Log frames are read in place, other emissions computed into
    ``b.lf`` first."""
    cdef const double *lf
    if em.kind == EMIT_LOG_FRAMES:
        lf = em.log_frame + lo * em.n_components
    else:
        log_frames(em, lo, hi, &b.ws, b.lf)
        lf = b.lf
    return viterbi_fast(lc, b.ltp, b.ncp, lf, hi - lo, b.lattice, b.bp, states + lo)


# --------------------------------------------------------------------------- lanes


ctypedef struct ViterbiLanes:
    # One call's buffers of viterbi_group for groups of up to SEQ_LANES sequences of up
    # to T frames.  (T, nc, L) arrays are flat: entry (t, i, w) at (t * nc + i) * L + w.
    Py_ssize_t T       # frames of the longest sequence the buffers hold
    double *lattice    # (T, nc, SEQ_LANES)
    int8_t *back       # (T, nc, SEQ_LANES): maximising previous state
    double *src        # (T * SEQ_LANES, nc): Gaussian emissions, lane w at rows w * Tg..
    const double **erow  # (SEQ_LANES,): the current frame's emission row of each lane
    double *em         # (nc, SEQ_LANES): the current frame's emissions, state-major
    int64_t *base      # (SEQ_LANES,): first frame of each lane's sequence
    int64_t *lens      # (SEQ_LANES,): its length
    int64_t *state     # (SEQ_LANES,): backtrace state of each lane
    Workspace ws       # emission scratch (Gaussian)
    void *_mem


cdef int viterbi_lanes_init(
    ViterbiLanes *b, Py_ssize_t T, Py_ssize_t nc, Py_ssize_t nf, bint gaussian
) noexcept nogil:
    """Allocate ``b`` for sequences of up to ``T`` frames (``src`` only when
    ``gaussian``); -1 when out of memory."""
    cdef Arena a
    cdef Py_ssize_t L = SEQ_LANES, cells = T * nc * L
    cdef Py_ssize_t nsrc = T * L * nc if gaussian else 0
    b._mem = NULL
    b.ws._mem = NULL
    b.T = T
    if arena_init(&a, arena_bytes(cells) + arena_bytes((cells + 7) // 8) + arena_bytes(nsrc)
                  + arena_bytes(nc * L) + 4 * arena_bytes(L), zero=False) < 0:
        return -1
    b._mem = a.base
    b.lattice = <double *>arena_take(&a, cells)
    b.back = <int8_t *>arena_take(&a, (cells + 7) // 8)
    b.src = <double *>arena_take(&a, nsrc)
    b.erow = <const double **>arena_take(&a, L)
    b.em = <double *>arena_take(&a, nc * L)
    b.base = <int64_t *>arena_take(&a, L)
    b.lens = <int64_t *>arena_take(&a, L)
    b.state = <int64_t *>arena_take(&a, L)
    if workspace_init(&b.ws, nf, nc) < 0:
        viterbi_lanes_free(b)
        return -1
    return 0


cdef void viterbi_lanes_free(ViterbiLanes *b) noexcept nogil:
    free(b._mem)
    b._mem = NULL
    workspace_free(&b.ws)


cdef void viterbi_group(
    const LogChain *lc, const Emissions *em, const int64_t *startidx, const int64_t *seqs,
    Py_ssize_t nw, ViterbiLanes *b, double *log_prob, int64_t *states,
) noexcept nogil:
    """Viterbi of the ``nw <= SEQ_LANES`` sequences ``seqs[0:nw]`` at once, one per lane
    (paths into ``states``, scores into ``log_prob[seqs[w]]``).

    Emissions: categorical rows of ``em.table``, rows of ``em.log_frame``, or (Gaussian)
    rows computed here into ``b.src``; each frame's are gathered state-major into
    ``b.em`` (the rows of a frame fetched side by side, the next frame's prefetched).
    The recurrence (:c:func:`lane_step`) runs over ``nwp`` lanes, ``nw`` rounded up to a
    multiple of ``LANE_PAD``: the padding lanes compute on emissions of 0 (finite values,
    no denormal or NaN slow paths; the buffers are not zeroed when allocated) and are
    never read back.
    """
    cdef Py_ssize_t L = SEQ_LANES, nc = lc.nc, T = 0, w, t, tt, i, n, best, q, lo
    cdef Py_ssize_t nwp = (nw + LANE_PAD - 1) // LANE_PAD * LANE_PAD
    cdef int kind = em.kind
    cdef double *lattice = b.lattice
    cdef double *cur
    cdef const double *last
    cdef const double *row
    T = group_bounds(startidx, seqs, nw, b.base, b.lens)
    for i in range(nc):  # the padding lanes' emissions (the gather below writes lanes < nw)
        for w in range(nw, nwp):
            b.em[i * L + w] = 0.0
    if kind != EMIT_CATEGORICAL and kind != EMIT_LOG_FRAMES:
        for w in range(nw):
            lo = b.base[w]
            log_frames(em, lo, lo + b.lens[w], &b.ws, b.src + w * T * nc)
    for t in range(T):
        for w in range(nw):
            tt = t if t < b.lens[w] else b.lens[w] - 1
            if kind == EMIT_CATEGORICAL:
                b.erow[w] = em.table + em.sym[b.base[w] + tt] * nc
            elif kind == EMIT_LOG_FRAMES:
                b.erow[w] = em.log_frame + (b.base[w] + tt) * nc
            else:
                b.erow[w] = b.src + (w * T + tt) * nc
        for i in range(nc):  # state-major: the lanes' rows are fetched side by side
            for w in range(nw):
                b.em[i * L + w] = b.erow[w][i]
        if kind != EMIT_CATEGORICAL:  # a lane's next row follows: ask for it early
            for w in range(nw):
                if t + 1 < b.lens[w]:
                    for i in range(0, nc, 8):  # one cache line in every 64 bytes
                        prefetch(b.erow[w] + nc + i)
                    prefetch(b.erow[w] + 2 * nc - 1)
        cur = lattice + t * nc * L
        if t == 0:
            for i in range(nc):
                for w in range(nwp):
                    cur[i * L + w] = lc.log_start[i] + b.em[i * L + w]
        else:
            lane_step(lc.log_trans, nc, lattice + (t - 1) * nc * L, b.em, cur,
                      b.back + t * nc * L, nwp)
    for w in range(nw):
        last = lattice + (b.lens[w] - 1) * nc * L
        best = 0
        for i in range(1, nc):
            if last[i * L + w] > last[best * L + w]:
                best = i
        log_prob[seqs[w]] = last[best * L + w]
        b.state[w] = best
    for t in range(T - 1, -1, -1):
        for w in range(nw):
            n = b.lens[w]
            if t < n - 1:
                b.state[w] = b.back[((t + 1) * nc + b.state[w]) * L + w]
            if t < n:
                states[b.base[w] + t] = b.state[w]


# --------------------------------------------------------------------------- validation


cdef int check_call(
    EmissionArrays em, ChainArrays chain, object seqs, object startidx, Py_ssize_t n_chunks,
    Py_ssize_t first, Py_ssize_t step, object log_prob, object states,
) except -1:
    """ValueError unless the arguments of a driver are consistent: ``seqs``, ``startidx``
    (int64), ``log_prob`` (float64, one per sequence) and ``states`` (int64, one per
    frame) 1-D C-contiguous arrays, the outputs writeable, ``startidx`` rising strictly
    from 0 to ``n_samples``, ``seqs`` valid sequence ids, ``em`` and ``chain`` with the
    same (positive) number of states, and a valid chunk scheme.  Every index a kernel
    uses follows from these, so none reads or writes out of bounds."""
    cdef Py_ssize_t nc = em.c.n_components
    for name, a, dtype in (
        ("seqs", seqs, np.int64), ("startidx", startidx, np.int64),
        ("log_prob", log_prob, np.float64), ("states", states, np.int64),
    ):
        if not (isinstance(a, np.ndarray) and a.ndim == 1 and a.dtype == dtype
                and a.flags.c_contiguous):
            raise ValueError(f"{name} must be a 1-D C-contiguous {np.dtype(dtype)} array")
    if not (log_prob.flags.writeable and states.flags.writeable):
        raise ValueError("log_prob and states must be writeable")
    try:
        check_sequences(startidx, seqs, em.c.n_samples, log_prob)
    except TypeError as exc:
        raise ValueError(str(exc)) from None
    if states.shape[0] != em.c.n_samples:
        raise ValueError(f"states must have n_samples={em.c.n_samples} entries")
    if nc < 1 or chain.lc.nc != nc:
        raise ValueError("chain and emissions disagree on n_components (or it is 0)")
    if n_chunks < 0 or (n_chunks == 0 and seqs.shape[0] > 0) or first < 0 or step < 1:
        raise ValueError("need n_chunks >= 1, first >= 0 and step >= 1")
    return 0


# --------------------------------------------------------------------------- drivers


def viterbi_chunks(
    EmissionArrays em not None, ChainArrays chain not None, seqs, startidx,
    Py_ssize_t n_chunks, Py_ssize_t first, Py_ssize_t step, log_prob, states,
):
    """Viterbi of the sequences ``seqs``, one at a time (:c:func:`viterbi_fast`).

    ``seqs`` (int64 sequence ids) is split into ``n_chunks`` contiguous chunks; this
    call runs chunks ``first, first + step, ...`` with the GIL released, its buffers
    (sized by the longest of ``seqs``) allocated once.  Writes ``log_prob[s]`` (float64,
    one per sequence) and the path of ``s`` into ``states`` (int64, one per frame).
    Raises ValueError on inconsistent arguments, MemoryError when out of memory.
    """
    check_call(em, chain, seqs, startidx, n_chunks, first, step, log_prob, states)
    cdef const int64_t[::1] sq = seqs
    cdef const int64_t[::1] si = startidx
    cdef double[::1] lp = log_prob
    cdef int64_t[::1] st = states
    cdef Emissions *e = &em.c
    cdef LogChain *lc = &chain.lc
    cdef Py_ssize_t n_seq = sq.shape[0], max_len = 0, q, s, c
    for q in range(n_seq):
        max_len = max(max_len, si[sq[q] + 1] - si[sq[q]])
    if n_seq == 0:
        return
    cdef ViterbiBuffers b
    cdef int status
    with nogil:
        status = viterbi_buffers_init(&b, max_len, lc.nc, e.n_features,
                                      e.kind != EMIT_LOG_FRAMES)
        if status == 0:
            padded_log_trans(lc, b.ncp, b.ltp)
            c = first
            while c < n_chunks:
                for q in range(c * n_seq // n_chunks, (c + 1) * n_seq // n_chunks):
                    s = sq[q]
                    lp[s] = viterbi_sequence(lc, e, si[s], si[s + 1], &b, &st[0])
                c += step
            viterbi_buffers_free(&b)
    if status < 0:
        raise MemoryError()


def viterbi_lane_chunks(
    EmissionArrays em not None, ChainArrays chain not None, seqs, startidx,
    Py_ssize_t n_chunks, Py_ssize_t first, Py_ssize_t step, log_prob, states,
):
    """Viterbi of the sequences ``seqs``, ``SEQ_LANES`` at a time (:c:func:`viterbi_group`).

    ``seqs`` (int64 sequence ids, sorted by length by the caller) forms ``n_groups =
    ceil(len(seqs) / SEQ_LANES)`` groups of consecutive sequences; chunk ``c`` covers
    groups ``c * n_groups // n_chunks .. (c + 1) * n_groups // n_chunks``, and this call
    runs chunks ``first, first + step, ...`` with the GIL released, its buffers (sized by
    the longest of ``seqs``) allocated once.  Outputs as :func:`viterbi_chunks`.  Needs
    at most ``LANE_MAX_STATES`` states (int8 back pointers): ValueError otherwise, as
    for inconsistent arguments; MemoryError when out of memory.
    """
    check_call(em, chain, seqs, startidx, n_chunks, first, step, log_prob, states)
    if em.c.n_components > LANE_MAX_STATES:
        raise ValueError(f"the lane-wise Viterbi takes at most {LANE_MAX_STATES} states")
    cdef const int64_t[::1] sq = seqs
    cdef const int64_t[::1] si = startidx
    cdef double[::1] lp = log_prob
    cdef int64_t[::1] st = states
    cdef Emissions *e = &em.c
    cdef LogChain *lc = &chain.lc
    cdef Py_ssize_t n_seq = sq.shape[0], T = 0, q, c, g, g0, g1, q0, q1
    cdef Py_ssize_t n_groups = (n_seq + SEQ_LANES - 1) // SEQ_LANES
    for q in range(n_seq):
        T = max(T, si[sq[q] + 1] - si[sq[q]])
    if n_seq == 0:
        return
    cdef ViterbiLanes b
    cdef int status
    with nogil:
        status = viterbi_lanes_init(&b, T, lc.nc, e.n_features,
                                    e.kind == EMIT_DIAG or e.kind == EMIT_FULL)
        if status == 0:
            c = first
            while c < n_chunks:
                g0 = c * n_groups // n_chunks
                g1 = (c + 1) * n_groups // n_chunks
                for g in range(g0, g1):
                    q0 = g * SEQ_LANES
                    q1 = min(q0 + SEQ_LANES, n_seq)
                    viterbi_group(lc, e, &si[0], &sq[q0], q1 - q0, &b, &lp[0], &st[0])
                c += step
            viterbi_lanes_free(&b)
    if status < 0:
        raise MemoryError()


def viterbi_frames(ChainArrays chain not None, const double[:, ::1] log_frame, states_out):
    """Viterbi of one sequence whose emission log-likelihoods ``log_frame`` (n, nc) are
    given (:c:func:`viterbi_fast`, GIL released): its path goes to ``states_out`` (int64,
    C-contiguous, ``n`` entries); returns its log-probability.  ValueError on
    inconsistent arguments, MemoryError when out of memory."""
    cdef Py_ssize_t n = log_frame.shape[0], nc = chain.lc.nc
    if n < 1 or nc < 1 or log_frame.shape[1] != nc:
        raise ValueError("log_frame must be (n >= 1, n_components) of the chain")
    if not (isinstance(states_out, np.ndarray) and states_out.ndim == 1
            and states_out.dtype == np.int64 and states_out.flags.c_contiguous
            and states_out.flags.writeable and states_out.shape[0] == n):
        raise ValueError("states_out must be a writeable C-contiguous int64 array of n entries")
    cdef int64_t[::1] st = states_out
    cdef LogChain *lc = &chain.lc
    cdef ViterbiBuffers b
    cdef int status
    cdef double lp = 0.0
    with nogil:
        status = viterbi_buffers_init(&b, n, nc, 0, False)
        if status == 0:
            padded_log_trans(lc, b.ncp, b.ltp)
            lp = viterbi_fast(lc, b.ltp, b.ncp, &log_frame[0, 0], n, b.lattice, b.bp, &st[0])
            viterbi_buffers_free(&b)
    if status < 0:
        raise MemoryError()
    return lp
