"""Entry points of the HMM kernels: validation, the split of the work, threads.

Plain arrays in, arrays out.  The compiled modules beside this one do the arithmetic
(``_emissions``: emission log-likelihoods; ``_sequence``: forward-backward one sequence
at a time and the exact log-space fallback; ``_lanes``: many short sequences at once,
one per lane; ``_viterbi``: decoding; ``_stats``: sufficient statistics;
``_bundles``: the named structs they share).  This module checks shapes, sequence
bounds and symbol ranges, chooses the path of every sequence, and spreads the fixed
chunks of work over threads (:mod:`fastgen._threads`).

Sequences are described by ``startidx``, an int64 array of shape ``(n_sequences + 1,)``
holding the first row of every sequence and, last, the total number of rows
(``startidx[0] == 0``, strictly increasing).  Lattices are float64 arrays of shape
``(n_samples, n_components)``.  The arithmetic follows hmmlearn's ``_hmmc`` extension:
the same recurrences, the same ``1e-300`` underflow threshold of the scaled forward
pass and the same Viterbi tie-breaking.  Results agree with hmmlearn's to rounding and
do not depend on the number of threads, on the lane group a sequence lands in, or on
the build (``kernel_build()``: x86-64-v2 or v3, see ``_select``); the paths agree to
rounding (bit for bit with the scaling implementation).

Paths: many short sequences (length x states up to ``FB_LANE_CELLS``) go through the
lane-wise forward-backward, 64 at a time sorted by length; others one at a time in
``MAX_CHUNKS`` fixed chunks; a long sequence (at least ``LONG_MIN`` frames holding a
quarter of the data) has its emissions and statistics split into ``N_BLOCKS`` fixed time
blocks, its two recurrences staying serial (only when the call is big enough for
threads: see ``SERIAL_WORK``).  Viterbi likewise (``LANE_CELLS``, up to
``LANE_MAX_STATES`` states for the lanes).  Calls with little work (below
``SERIAL_WORK``) run on the calling thread alone.
"""

from __future__ import annotations

from functools import partial
from importlib import import_module
from typing import NamedTuple

import numpy as np

from fastgen import _threads
from fastgen._kernels.hmm._select import kernel_build, kernel_package

# the compiled modules of the build this CPU runs (see _select)
_emissions = import_module(f"{kernel_package()}._emissions")
_lanes = import_module(f"{kernel_package()}._lanes")
_sequence = import_module(f"{kernel_package()}._sequence")
_viterbi = import_module(f"{kernel_package()}._viterbi")
_filter = import_module(f"{kernel_package()}._filter")
_bundles = import_module(f"{kernel_package()}._bundles")
Accumulators = _bundles.Accumulators
ChainArrays = _bundles.ChainArrays
EmissionArrays = _bundles.EmissionArrays
ScaledArrays = _bundles.ScaledArrays

__all__ = [
    "EMIT_LOG_FRAMES", "EMIT_DIAG", "EMIT_FULL", "EMIT_CATEGORICAL",
    "STATS_NONE", "STATS_MEANS", "STATS_DIAG", "STATS_FULL", "STATS_CATEGORICAL",
    "EStep", "EmissionArrays", "emissions", "clamped", "frame_weights", "forward_backward",
    "estep", "viterbi_batch",
    "log_density_diag", "log_density_diag_missing", "log_density_full",
    "mixture_reduce", "log_frames", "forward_log", "backward_log", "vexp", "kernel_build",
    "Filtered", "check_messages", "forward_filter",
]  # fmt: skip

EMIT_LOG_FRAMES = 0  # log_frame holds the log-likelihoods
EMIT_DIAG = 1  # Gaussian: means, inv (1 / variances), const
EMIT_FULL = 2  # Gaussian: means, lt (transposed inverse Cholesky factors), const
EMIT_CATEGORICAL = 3  # sym, table (log-probabilities, (n_symbols, n_components))

STATS_NONE = 0
STATS_MEANS = 1  # post, obs
STATS_DIAG = 2  # post, obs, obs**2
STATS_FULL = 3  # post, obs, obs*obs.T
STATS_CATEGORICAL = 4  # obs[k, symbol]

FLUSH = -690.0  # as _numeric.pxd: a state this much (log) below a frame's best is flushed
MAX_CHUNKS = 64  # chunks of sequences (fixed: results do not depend on threads)
LANES = 64  # sequences per lane-wise group (_numeric.pxd's STAT_LANES)
FB_LANE_CELLS = 8192  # lane-wise forward-backward: length x n_components up to this
LANE_CELLS = 8192  # lane-wise Viterbi: length x n_components up to this
# With fewer short sequences than this, one at a time is quicker than the lanes, whose
# buffers hold 64 lanes whatever the number of sequences (one 500-frame sequence: 40 us
# instead of 350 us).  Either way a sequence gets the same bits: Viterbi's paths are the
# same on every path, and forward-backward takes the lanes' frame-by-frame pass for such
# sequences (``lagged=False``), so streamed batches equal one big call.
LANE_MIN_SEQUENCES = 16
LANE_MAX_STATES = 127  # lane-wise Viterbi: int8 back pointers
LONG_MIN = 4096  # a sequence this long, holding >= 1/4 of the frames, is split over time
N_BLOCKS = 64  # time blocks of a long sequence
# Below this much work (frames x (K**2 + K x emission cost)), about a millisecond on one
# core, the kernels run on the calling thread only.
SERIAL_WORK = 500_000
_LOG_2PI = np.log(2.0 * np.pi)


class EStep(NamedTuple):
    """Result of :func:`forward_backward` (accumulators summed in a fixed order)."""

    log_prob: np.ndarray  # float64 (n_sequences,); NaN: scaled pass under/overflowed
    gamma: np.ndarray  # float64 (n_samples, n_components) or (0, n_components)
    start: np.ndarray  # float64 (n_components,)
    trans: np.ndarray  # float64 (n_components, n_components)
    post: np.ndarray  # float64 (n_components,)
    obs: np.ndarray  # float64 (n_components, n_features or n_symbols)
    obs2: np.ndarray  # float64 (nc, nf) for STATS_DIAG, (nc, nf, nf) STATS_FULL, else (nc, 0)


# --------------------------------------------------------------------------- emissions


def emissions(
    kind: int,
    *,
    X: np.ndarray | None = None,
    sym: np.ndarray | None = None,
    means: np.ndarray | None = None,
    covars: np.ndarray | None = None,
    chol: np.ndarray | None = None,
    log_emissionprob: np.ndarray | None = None,
    log_frame: np.ndarray | None = None,
    log_offset: np.ndarray | None = None,
) -> EmissionArrays:
    """The emission model of the kernels, validated.

    Parameters
    ----------
    kind : int
        EMIT_DIAG (``X``, ``means``, ``covars`` > 0, both (n_components, n_features)),
        EMIT_FULL (``X``, ``means``, ``chol``: lower Cholesky factors (n_components,
        n_features, n_features) with a positive diagonal), EMIT_CATEGORICAL (``sym``
        integers (n_samples,) in ``[0, n_symbols)``, ``log_emissionprob``
        (n_components, n_symbols)) or EMIT_LOG_FRAMES (``log_frame`` (n_samples,
        n_components)).
    log_offset : float64 (n_components,), optional
        EMIT_DIAG / EMIT_FULL only: a finite constant added to every frame's
        log-likelihood in each state, i.e. the density times ``exp(log_offset)``, which
        need not integrate to 1 (the variational HMMs' sub-normalised expected
        log-likelihoods run on the Gaussian kernels this way).

    Returns
    -------
    EmissionArrays
        The bundle the other entry points take.
    """
    f8 = np.float64
    if kind in (EMIT_DIAG, EMIT_FULL):
        Xa = np.ascontiguousarray(X, dtype=f8)
        ma = np.ascontiguousarray(means, dtype=f8)
        if Xa.ndim != 2 or ma.ndim != 2 or ma.shape[1] != Xa.shape[1]:
            raise ValueError("X (n_samples, n_features) and means (nc, n_features) disagree")
        nc, nf = ma.shape
        offset = 0.0
        if log_offset is not None:
            offset = np.asarray(log_offset, dtype=f8)
            if offset.shape != (nc,) or not np.isfinite(offset).all():
                raise ValueError("log_offset must be finite with shape (n_components,)")
        if kind == EMIT_DIAG:
            cv = np.asarray(covars, dtype=f8)
            if cv.shape != (nc, nf) or not (np.all(cv > 0) and np.isfinite(cv).all()):
                raise ValueError(
                    "covars must be positive and finite with shape (n_components, n_features)"
                )
            const = -0.5 * (nf * _LOG_2PI + np.log(cv).sum(axis=1)) + offset
            return EmissionArrays(
                kind, Xa.shape[0], nc, X=Xa, means=ma, inv=np.ascontiguousarray(1.0 / cv),
                const=np.ascontiguousarray(const),
            )  # fmt: skip
        ch = np.ascontiguousarray(chol, dtype=f8)
        diag = np.diagonal(ch, axis1=1, axis2=2) if ch.ndim == 3 else None
        if ch.shape != (nc, nf, nf) or not (np.all(diag > 0) and np.isfinite(ch).all()):
            raise ValueError("chol must have shape (nc, nf, nf) and a positive diagonal")
        const = -0.5 * (nf * _LOG_2PI + 2.0 * np.log(diag).sum(axis=1)) + offset
        return EmissionArrays(
            kind, Xa.shape[0], nc, X=Xa, means=ma, lt=_emissions.inverse_cholesky_t(ch),
            const=np.ascontiguousarray(const),
        )  # fmt: skip
    if log_offset is not None:
        raise ValueError("log_offset applies to Gaussian emissions only")
    if kind == EMIT_CATEGORICAL:
        syma = _integers(sym, "sym", copy=False)  # EmissionArrays keeps a checked copy
        table = np.ascontiguousarray(np.asarray(log_emissionprob, dtype=f8).T)
        if syma.ndim != 1 or table.ndim != 2:
            raise ValueError("sym must be 1-D and log_emissionprob 2-D")
        return EmissionArrays(kind, syma.shape[0], table.shape[1], sym=syma, table=table)
    if kind == EMIT_LOG_FRAMES:
        lfa = np.ascontiguousarray(log_frame, dtype=f8)
        if lfa.ndim != 2:
            raise ValueError("log_frame must be 2-D (n_samples, n_components)")
        return EmissionArrays(kind, lfa.shape[0], lfa.shape[1], log_frame=lfa)
    raise ValueError(f"unknown emission kind {kind!r}")


def clamped(em: EmissionArrays, clamp: np.ndarray) -> EmissionArrays:
    """The emissions ``em`` with frames pinned to states: ``clamp`` int (n_samples,),
    ``-1`` (free) or a state in ``[0, n_components)``; a clamped frame's emission
    likelihood is 0 in every other state (the E-step of partly labelled data).  The
    forward-backward kernels honour it; Viterbi refuses it."""
    if not isinstance(em, EmissionArrays):
        raise TypeError("em must come from emissions()")
    c = _integers(clamp, "clamp")
    if c.shape != (em.n_samples,):
        raise ValueError(f"clamp must have shape ({em.n_samples},), got {c.shape}")
    if c.size and (c.min() < -1 or c.max() >= em.n_components):
        raise ValueError(f"clamped states must be -1 or lie in [0, {em.n_components})")
    return EmissionArrays(em.kind, em.n_samples, em.n_components, **{**em.arrays, "clamp": c})


def frame_weights(weight, n: int) -> np.ndarray:
    """``weight`` as a C-contiguous float64 array (itself when it is one) of ``n``
    finite non-negative frame weights (ValueError otherwise)."""
    w = np.asarray(weight)
    if w.dtype.kind not in "biuf":
        raise ValueError(f"frame weights must be real numbers, not {w.dtype}")
    w = np.ascontiguousarray(w, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"frame weights must have shape ({n},), got {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("frame weights must be finite and non-negative")
    return w


def _scaled_table(em: EmissionArrays, log_space: bool) -> ScaledArrays:
    """Per-symbol scaled likelihoods of categorical emissions (empty for other kinds)."""
    nc = em.n_components
    if em.kind != EMIT_CATEGORICAL:
        return ScaledArrays(np.zeros((0, nc)), np.zeros(0), np.zeros(0, np.bool_), nc)
    table = em.arrays["table"]
    if not log_space:
        with np.errstate(under="ignore"):
            rows = np.exp(table)
        return ScaledArrays(rows, np.zeros(table.shape[0]), np.zeros(table.shape[0], np.bool_), nc)
    m = table.max(axis=1) if table.shape[1] else np.full(table.shape[0], -np.inf)
    finite = np.isfinite(m)
    with np.errstate(under="ignore", invalid="ignore"):
        d = table - np.where(finite, m, 0.0)[:, None]
        rows = np.where(finite[:, None], np.exp(d), 0.0)
    flag = ~finite | np.any(d < FLUSH, axis=1)
    return ScaledArrays(np.ascontiguousarray(rows), np.ascontiguousarray(m), flag, nc)


def _row_blocks(kernel, n: int, work: int) -> None:
    """Run ``kernel(r0, r1)`` over ``n`` rows in fixed blocks, threaded when ``work``
    is worth it."""
    n_blocks = max(min(N_BLOCKS, n // 256), 1)

    def task(first: int, step: int) -> None:
        for b in range(first, n_blocks, step):
            kernel(b * n // n_blocks, (b + 1) * n // n_blocks)

    _threads.run_workers(task, _n_workers(n_blocks, work))


def _n_workers(n_parts: int, work: int) -> int:
    if work < SERIAL_WORK:
        return 1
    return max(min(_threads.get_num_threads(), n_parts), 1)


def _gaussian_args(X, means, covars):
    """Validated float64 ``X``, ``means``, ``covars`` (positive, finite), and the
    output array."""
    Xa = np.ascontiguousarray(X, dtype=np.float64)
    ma = np.ascontiguousarray(means, dtype=np.float64)
    ca = np.ascontiguousarray(covars, dtype=np.float64)
    if Xa.ndim != 2 or ma.ndim != 2 or ma.shape[1] != Xa.shape[1]:
        raise ValueError("X (n_samples, n_features) and means (nc, n_features) disagree")
    nc, nf = ma.shape
    if ca.shape != (nc, nf) or not (np.all(ca > 0) and np.isfinite(ca).all()):
        raise ValueError("covars must be positive and finite with shape (nc, n_features)")
    return Xa, ma, ca, np.empty((Xa.shape[0], nc))


def log_density_diag(X: np.ndarray, means: np.ndarray, covars: np.ndarray) -> np.ndarray:
    """Per-frame Gaussian log-densities for diagonal covariances.

    Parameters
    ----------
    X : float64 (n_samples, n_features)
    means, covars : float64 (n_components, n_features); covars > 0

    Returns
    -------
    float64 (n_samples, n_components)
    """
    return _density_diag(X, means, covars, missing=False)


def log_density_diag_missing(X: np.ndarray, means: np.ndarray, covars: np.ndarray) -> np.ndarray:
    """As :func:`log_density_diag`, NaN entries of ``X`` marginalised out (skipped); a
    row that is all NaN has log-density 0 in every state."""
    return _density_diag(X, means, covars, missing=True)


def _density_diag(X, means, covars, *, missing: bool) -> np.ndarray:
    Xa, ma, cv, out = _gaussian_args(X, means, covars)
    _row_blocks(
        lambda r0, r1: _emissions.density_diag_rows(Xa, ma, cv, out, r0, r1, missing),
        Xa.shape[0], out.size * max(Xa.shape[1], 1),
    )  # fmt: skip
    return out


def log_density_full(X: np.ndarray, means: np.ndarray, chol: np.ndarray) -> np.ndarray:
    """Per-frame Gaussian log-densities from lower Cholesky factors ``chol`` (n_components,
    n_features, n_features) with a positive diagonal (``covars[k] = chol[k] @ chol[k].T``).

    Returns
    -------
    float64 (n_samples, n_components)
    """
    # the E-step's own block emissions (y = L^-1 (x - mean) by the precomputed inverse,
    # BLOCK frames at a time): no division on the chain, the same values as the E-step;
    # emissions() checks the arrays
    return log_frames(emissions(EMIT_FULL, X=X, means=means, chol=chol))


def vexp(x: np.ndarray) -> None:
    """``x[:] = exp(x)`` in place (float64, contiguous) with the kernels' vectorised
    ``exp``, within one ulp of NumPy's; arguments outside ``[-708, 708]`` and NaN are
    handed to libm."""
    _emissions.vexp_inplace(x)


def mixture_reduce(dens: np.ndarray, n_mix: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-state log-sum-exp over the mixture components, in one pass (threaded).

    Parameters
    ----------
    dens : float64 (n_samples, n_components * n_mix), C-contiguous, writeable
        Weighted component log-densities, state by state.  Overwritten, in place, by
        ``exp(dens - best)``, ``best`` the state's largest entry (0 where that is not
        finite).
    n_mix : int
        Components per state (>= 1).

    Returns
    -------
    ll, s : float64 (n_samples, n_components)
        ``s``: the sums of the exponentials over each state's components; ``ll =
        log(s) + best``.  A state whose every component is -inf gets ``ll = -inf`` and
        ``e = s = 0``.
    """
    if not isinstance(dens, np.ndarray) or dens.dtype != np.float64 or dens.ndim != 2:
        raise ValueError("dens must be a float64 array (n_samples, n_components * n_mix)")
    if not (dens.flags.c_contiguous and dens.flags.writeable):
        raise ValueError("dens must be C-contiguous and writeable")
    if int(n_mix) != n_mix or n_mix < 1 or dens.shape[1] % n_mix:
        raise ValueError("n_mix must be a positive divisor of dens.shape[1]")
    n_mix = int(n_mix)
    n, nc = dens.shape[0], dens.shape[1] // n_mix
    ll = np.empty((n, nc))
    s = np.empty((n, nc))
    _row_blocks(
        lambda r0, r1: _emissions.mixture_rows(dens, n_mix, ll, s, r0, r1), n, 8 * dens.size
    )
    return ll, s


def log_frames(em: EmissionArrays) -> np.ndarray:
    """Every frame's emission log-likelihoods of the bundle ``em``, float64 (n_samples,
    n_components): what the forward-backward and Viterbi kernels evaluate."""
    if not isinstance(em, EmissionArrays):
        raise TypeError("em must be an EmissionArrays bundle (see emissions())")
    n, nc = em.n_samples, em.n_components
    out = np.empty((n, nc))
    _row_blocks(
        lambda r0, r1: _emissions.log_frame_rows(em, r0, r1, out[r0:r1]),
        n, out.size * max(em.n_features, 1),
    )  # fmt: skip
    return out


def forward_log(startprob, transmat, log_frame, fwd) -> float:
    """Log-space forward pass of one sequence into ``fwd`` (n, nc); returns its
    log-likelihood (hmmlearn's recurrence)."""
    return _sequence.forward_log_pass(startprob, transmat, log_frame, fwd)


def backward_log(transmat, log_frame, bwd) -> None:
    """Log-space backward pass of one sequence into ``bwd`` (n, nc)."""
    _sequence.backward_log_pass(transmat, log_frame, bwd)


# --------------------------------------------------------------------------- forward-backward


def _work(em: EmissionArrays, n: int, nc: int) -> int:
    """Rough operation count of one pass over ``n`` frames (see ``SERIAL_WORK``)."""
    nf = em.n_features
    cost = nf if em.kind == EMIT_DIAG else nf * (nf + 3) // 2 if em.kind == EMIT_FULL else 1
    return n * nc * (nc + cost)


def _integers(a, name: str, copy: bool = True) -> np.ndarray:
    """``a`` as an int64 array (a new C-contiguous one with ``copy``); floats must hold
    integers."""
    a = np.asarray(a)
    if a.dtype.kind == "f":
        if not (np.isfinite(a).all() and np.array_equal(a, np.round(a))):
            raise ValueError(f"{name} must hold integers")
    elif a.dtype.kind not in "iub":
        raise TypeError(f"{name} must be an integer array, not {a.dtype}")
    if copy:
        return np.array(a, dtype=np.int64, copy=True, order="C")
    return a.astype(np.int64, copy=False)


def _check_model(startidx, startprob, transmat, n: int, nc: int):
    if nc < 1:
        raise ValueError("the model needs at least one state")
    startidx = _integers(startidx, "startidx")
    startprob = np.ascontiguousarray(startprob, dtype=np.float64)
    transmat = np.ascontiguousarray(transmat, dtype=np.float64)
    if startprob.shape != (nc,) or transmat.shape != (nc, nc):
        raise ValueError(f"startprob/transmat do not match n_components={nc}")
    if (
        startidx.ndim != 1
        or startidx.size < 2
        or startidx[0] != 0
        or startidx[-1] != n
        or (startidx.size > 2 and np.any(np.diff(startidx) <= 0))
        or n < 1
    ):
        raise ValueError("startidx must rise strictly from 0 to n_samples")
    return startidx, startprob, transmat


def _split_sequences(startidx: np.ndarray, work: int) -> tuple[np.ndarray, np.ndarray]:
    """The sequences taken one at a time (or lane-wise) and the long ones, split over
    time blocks; with little work (one thread) none is long: the one-call path is
    quicker."""
    if work < SERIAL_WORK:
        return np.arange(startidx.size - 1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lengths = np.diff(startidx)
    n = int(startidx[-1])
    long = (lengths >= LONG_MIN) & (4 * lengths >= n)
    return np.flatnonzero(~long).astype(np.int64), np.flatnonzero(long).astype(np.int64)


def _lane_split(
    startidx: np.ndarray, seqs: np.ndarray, nc: int, cells: int, min_sequences: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``seqs`` into those short enough for the lane kernels (length x ``nc`` at
    most ``cells``), sorted by length (stable), and the others, in their order; none
    go to the lanes when fewer than ``min_sequences`` would."""
    if seqs.size < min_sequences:  # too few to fill the lanes
        return seqs[:0], seqs
    if seqs.size == 1:  # one sequence: no sorting to do
        fits = (startidx[seqs[0] + 1] - startidx[seqs[0]]) * nc <= cells
        return (seqs, seqs[:0]) if fits else (seqs[:0], seqs)
    lengths = np.diff(startidx)[seqs]
    in_lanes = lengths * nc <= cells
    if np.count_nonzero(in_lanes) < min_sequences:
        return seqs[:0], seqs
    return (
        np.ascontiguousarray(seqs[in_lanes][np.argsort(lengths[in_lanes], kind="stable")]),
        np.ascontiguousarray(seqs[~in_lanes]),
    )


def forward_backward(
    startidx: np.ndarray,
    startprob: np.ndarray,
    transmat: np.ndarray,
    em: EmissionArrays,
    log_space: bool,
    *,
    posteriors: bool = True,
    gamma: bool = True,
    xi: bool = True,
    stats_kind: int = STATS_NONE,
    weight: np.ndarray | None = None,
    clamp: np.ndarray | None = None,
) -> EStep:
    """Forward-backward and sufficient statistics of every sequence in one call.

    Parameters
    ----------
    startidx : int64 (n_sequences + 1,)
    startprob : float64 (n_components,)
    transmat : float64 (n_components, n_components)
    em : EmissionArrays
        From :func:`emissions`.
    log_space : bool
        hmmlearn's ``"log"`` (True) or ``"scaling"`` implementation.
    posteriors : bool
        Run the backward pass (else only ``log_prob`` is computed).
    gamma : bool
        Return the posteriors (else ``gamma`` is empty; statistics are still computed).
    xi : bool
        Accumulate expected transition counts.
    stats_kind : STATS_*
        Emission statistics to accumulate (categorical needs EMIT_CATEGORICAL).
    weight : float64 (n_samples,), optional
        Frame weights, finite and >= 0: frame ``t``'s contributions to the statistics
        (its posteriors in ``post`` / ``obs`` / ``obs2``, the expected transitions into
        it and, first in its sequence, its start counts) are multiplied by
        ``weight[t]``.  ``log_prob`` and ``gamma`` are not weighted.  None: all 1 (the
        same bits as weights of 1 would not promise).
    clamp : int (n_samples,), optional
        ``-1`` (free) or a state in ``[0, n_components)`` per frame: a clamped frame's
        emission likelihood is 0 in every other state (``em`` with its ``clamp``).

    Returns
    -------
    EStep
    """
    if not isinstance(em, EmissionArrays):
        raise TypeError("em must come from emissions()")
    if clamp is not None:
        em = clamped(em, clamp)
    n, nc = em.n_samples, em.n_components
    if weight is not None:
        weight = frame_weights(weight, n)
    startidx, startprob, transmat = _check_model(startidx, startprob, transmat, n, nc)
    if stats_kind == STATS_CATEGORICAL and em.kind != EMIT_CATEGORICAL:
        raise ValueError("categorical statistics need categorical emissions")
    gaussian_stats = stats_kind in (STATS_MEANS, STATS_DIAG, STATS_FULL)
    if gaussian_stats and em.kind not in (EMIT_DIAG, EMIT_FULL):
        raise ValueError("Gaussian statistics need Gaussian emissions")
    if isinstance(stats_kind, bool) or stats_kind not in (
        STATS_NONE, STATS_MEANS, STATS_DIAG, STATS_FULL, STATS_CATEGORICAL
    ):
        raise ValueError(f"unknown statistics kind {stats_kind!r}")
    log_space, posteriors = bool(log_space), bool(posteriors)
    want_gamma, want_xi = posteriors and bool(gamma), posteriors and bool(xi)
    stats_kind = int(stats_kind) if posteriors else STATS_NONE
    want = (posteriors, want_gamma, want_xi, stats_kind)
    nf = em.n_features
    chain = ChainArrays(startprob, transmat, log_space)
    scaled = _scaled_table(em, log_space)
    work = (3 if posteriors else 1) * _work(em, n, nc)
    short, long = _split_sequences(startidx, work)
    lane_seqs, short = _lane_split(startidx, short, nc, FB_LANE_CELLS)
    few = lane_seqs[:0]
    if len(lane_seqs) < LANE_MIN_SEQUENCES:  # one at a time, the lanes' arithmetic
        few, lane_seqs = lane_seqs, lane_seqs[:0]
    n_lane = min(-(-len(lane_seqs) // LANES), MAX_CHUNKS)
    n_few = min(len(few), MAX_CHUNKS)
    n_short = min(len(short), MAX_CHUNKS)
    acc = Accumulators(
        n_lane + n_few + n_short + len(long) * N_BLOCKS, nc,
        em.n_symbols if stats_kind == STATS_CATEGORICAL else nf,
        nf if stats_kind == STATS_DIAG else 0, nf * nf if stats_kind == STATS_FULL else 0,
        weight=weight,
    )  # fmt: skip
    log_prob = np.empty(startidx.size - 1)
    gam = np.empty((n if want_gamma else 0, nc))
    gam_arg = gam if want_gamma else None
    if len(lane_seqs):
        _threads.run_workers(
            lambda first, step: _lanes.estep_lane_chunks(
                em, scaled, chain, want, lane_seqs, startidx, n_lane, first, step, acc, 0,
                log_prob, gam_arg,
            ),
            _n_workers(n_lane, work),
        )  # fmt: skip
    for seqs, n_chunks, row0, lagged in (
        (few, n_few, n_lane, False), (short, n_short, n_lane + n_few, True)
    ):  # fmt: skip
        if len(seqs):
            _threads.run_workers(
                partial(
                    _sequence.estep_chunks, em, scaled, chain, want, seqs, startidx, n_chunks,
                    acc=acc, row0=row0, log_prob=log_prob, gamma=gam_arg, lagged=lagged,
                ),
                _n_workers(n_chunks, work),
            )  # fmt: skip
    for q, s in enumerate(long):
        row0 = n_lane + n_few + n_short + q * N_BLOCKS
        log_prob[s] = _long_sequence(
            em, scaled, chain, want, int(startidx[s]), int(startidx[s + 1]), acc, row0,
            gam_arg, _n_workers(N_BLOCKS, work),
        )  # fmt: skip
    if stats_kind == STATS_DIAG:
        obs2 = acc.sq.sum(axis=0)
    elif stats_kind == STATS_FULL:
        obs2 = acc.outer.sum(axis=0).reshape(nc, nf, nf)
    else:
        obs2 = np.zeros((nc, 0))
    return EStep(
        log_prob, gam, acc.start.sum(axis=0), acc.trans.sum(axis=0), acc.post.sum(axis=0),
        acc.obs.sum(axis=0), obs2,
    )  # fmt: skip


def _long_sequence(
    em: EmissionArrays, scaled: ScaledArrays, chain: ChainArrays, want: tuple, lo: int,
    hi: int, acc: Accumulators, row0: int, gam: np.ndarray | None, n_workers: int,
) -> float:  # fmt: skip
    """One long sequence: emissions and statistics over ``N_BLOCKS`` time blocks (on
    ``n_workers`` threads), the forward and backward recurrences serial."""
    n, nc = hi - lo, em.n_components
    log_space = chain.log_space
    fr = np.empty((n, nc))
    cc = np.empty(n)
    flag = np.empty(n, dtype=np.uint8)
    _threads.run_workers(
        lambda first, step: _sequence.fill_scaled_blocks(
            em, scaled, log_space, lo, hi, N_BLOCKS, first, step, fr, cc, flag
        ),
        n_workers,
    )
    fwd = np.empty((n, nc))
    scale = np.empty(n)
    lp, ok = _sequence.forward_scaled(chain, fr, cc, flag, fwd, scale)
    if ok and want[0] and lp == lp:
        bwd = np.empty((n, nc))
        ok = _sequence.backward_scaled(chain, fr, scale, bwd)
        if not ok and not log_space:
            lp, ok = np.nan, True
        elif ok:
            _threads.run_workers(
                lambda first, step: _sequence.posterior_blocks(
                    em, chain, want, fr, fwd, bwd, lo, N_BLOCKS, first, step, acc, row0, gam
                ),
                n_workers,
            )
    if not ok:
        return _sequence.exact(em, chain, want, lo, hi, acc, row0, gam)
    if gam is not None and lp != lp:
        gam[lo:hi] = 0.0
    return lp


def estep(
    startidx: np.ndarray,
    startprob: np.ndarray,
    transmat: np.ndarray,
    frame: np.ndarray,
    log_space: bool,
    compute_posteriors: bool,
    compute_xi: bool,
):
    """Forward-backward of precomputed frames (see :func:`forward_backward`).

    ``frame`` holds emission log-likelihoods when ``log_space`` else likelihoods.

    Returns
    -------
    log_prob : float64 (n_sequences,)
    gamma : float64 (n_samples, n_components) or (0, n_components)
    start : float64 (n_components,)
    trans : float64 (n_components, n_components)
    """
    frame = np.asarray(frame, dtype=np.float64)
    if not log_space:
        with np.errstate(divide="ignore"):
            frame = np.log(frame)
    r = forward_backward(
        startidx, startprob, transmat, emissions(EMIT_LOG_FRAMES, log_frame=frame), log_space,
        posteriors=compute_posteriors, gamma=True, xi=compute_xi,
    )  # fmt: skip
    return r.log_prob, r.gamma, r.start, r.trans


# --------------------------------------------------------------------------- filtering


class Filtered(NamedTuple):
    """Result of :func:`forward_filter`."""

    filtered: np.ndarray  # float64 (n_samples, n_components): p(z_t | x_1..t), rows sum to 1
    log_prob: np.ndarray  # float64 (n_sequences,): log p(frames of the call | carried past)
    message: np.ndarray  # float64 (n_sequences, n_components): p(z_last | x_1..last)


def check_messages(rows: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` unless every row of ``rows`` (float, (n, n_components)) is a
    forward message :func:`forward_filter` can carry: a distribution (finite,
    non-negative, summing to 1 within 1e-9), or all zero (a sequence already
    impossible)."""
    sums = rows.sum(axis=1)
    if not (
        np.isfinite(rows).all()
        and (rows >= 0).all()
        and ((np.abs(sums - 1) <= 1e-9) | (sums == 0)).all()
    ):
        raise ValueError(f"{name} rows must be distributions (or all zero)")


def forward_filter(
    startidx: np.ndarray,
    startprob: np.ndarray,
    transmat: np.ndarray,
    em: EmissionArrays,
    message: np.ndarray | None = None,
    carried: np.ndarray | None = None,
) -> Filtered:
    """Filtered state distributions of every frame, sequences continuing carried messages.

    Parameters
    ----------
    startidx, startprob, transmat : see :func:`forward_backward`
    em : EmissionArrays
        From :func:`emissions`.
    message : float64 (n_sequences, n_components), optional
        For each sequence whose ``carried`` entry is true, the filtered distribution of
        the frame before its first one here (a previous call's ``message``; all zero
        for a sequence already impossible).
    carried : bool (n_sequences,), optional
        Which sequences continue ``message`` (default: none; they start from
        ``startprob``).

    Returns
    -------
    Filtered
        Rows of a sequence made impossible by some frame are zero from that frame on
        (its ``log_prob`` is ``-inf``).  Results do not depend on the number of threads
        nor on how a sequence is split over calls.
    """
    if not isinstance(em, EmissionArrays):
        raise TypeError("em must come from emissions()")
    n, nc = em.n_samples, em.n_components
    startidx, startprob, transmat = _check_model(startidx, startprob, transmat, n, nc)
    n_seq = startidx.size - 1
    carry = np.zeros(n_seq, dtype=np.uint8)
    out_message = np.zeros((n_seq, nc))
    if carried is not None:
        carried = np.asarray(carried)
        if carried.shape != (n_seq,) or carried.dtype.kind not in "biu":
            raise ValueError("carried must be a boolean array (n_sequences,)")
        carry[:] = carried != 0
    if carry.any():
        given = np.asarray(message, dtype=np.float64) if message is not None else None
        if given is None or given.shape != (n_seq, nc):
            raise ValueError("message must have shape (n_sequences, n_components)")
        check_messages(given[carry.astype(bool)], "message")
        out_message[:] = given
    chain = ChainArrays(startprob, transmat, True)
    scaled = _scaled_table(em, True)
    filtered = np.empty((n, nc))
    log_prob = np.empty(n_seq)
    work = _work(em, n, nc)
    seqs = np.arange(n_seq, dtype=np.int64)
    lane_seqs = seqs[:0]
    if not carry.any():  # many short fresh sequences: the lanes
        # the others stay in increasing order: runs of consecutive ids are contiguous frames
        lane_seqs, seqs = _lane_split(startidx, seqs, nc, FB_LANE_CELLS, LANE_MIN_SEQUENCES)
    if len(lane_seqs):
        n_lane = min(-(-len(lane_seqs) // LANES), MAX_CHUNKS)
        longest = int(np.diff(startidx)[lane_seqs].max())
        _threads.run_workers(
            lambda first, step: _filter.filter_lane_chunks(
                em, scaled, chain, lane_seqs, startidx, longest, out_message, filtered,
                log_prob, n_lane, first, step,
            ),
            _n_workers(n_lane, work),
        )  # fmt: skip
    if len(seqs):
        n_chunks = min(len(seqs), MAX_CHUNKS)
        _threads.run_workers(
            lambda first, step: _filter.filter_chunks(
                em, scaled, chain, seqs, startidx, carry, out_message, filtered, log_prob,
                n_chunks, first, step,
            ),
            _n_workers(n_chunks, work),
        )  # fmt: skip
    return Filtered(filtered, log_prob, out_message)


# --------------------------------------------------------------------------- Viterbi


def viterbi_batch(
    startidx: np.ndarray,
    startprob: np.ndarray,
    transmat: np.ndarray,
    em: EmissionArrays | np.ndarray,
):
    """Viterbi paths of every sequence (ties as hmmlearn's).

    Parameters
    ----------
    startidx, startprob, transmat : see :func:`forward_backward`
    em : EmissionArrays or float64 (n_samples, n_components)
        From :func:`emissions`, or the emission log-likelihoods themselves.

    Returns
    -------
    log_prob : float64 (n_sequences,)
    states : int64 (n_samples,)
    """
    if not isinstance(em, EmissionArrays):
        em = emissions(EMIT_LOG_FRAMES, log_frame=em)
    if em.clamped:
        raise ValueError("Viterbi takes unclamped emissions (clamp is for forward_backward)")
    n, nc = em.n_samples, em.n_components
    startidx, startprob, transmat = _check_model(startidx, startprob, transmat, n, nc)
    chain = ChainArrays(startprob, transmat, True)
    work = _work(em, n, nc)
    short, long = _split_sequences(startidx, work)
    log_prob = np.empty(startidx.size - 1)
    states = np.empty(n, dtype=np.int64)
    if len(short) and nc <= LANE_MAX_STATES:  # lane-wise: short enough sequences
        lane_seqs, short = _lane_split(startidx, short, nc, LANE_CELLS, LANE_MIN_SEQUENCES)
        if len(lane_seqs):
            n_chunks = min(-(-len(lane_seqs) // LANES), MAX_CHUNKS)
            _threads.run_workers(
                lambda first, step: _viterbi.viterbi_lane_chunks(
                    em, chain, lane_seqs, startidx, n_chunks, first, step, log_prob, states
                ),
                _n_workers(n_chunks, work),
            )
    if len(short):
        n_chunks = min(len(short), MAX_CHUNKS)
        _threads.run_workers(
            lambda first, step: _viterbi.viterbi_chunks(
                em, chain, short, startidx, n_chunks, first, step, log_prob, states
            ),
            _n_workers(n_chunks, work),
        )
    for s in long:
        lo, hi = int(startidx[s]), int(startidx[s + 1])
        lf = np.empty((hi - lo, nc))
        n_workers = _n_workers(N_BLOCKS, work)
        _threads.run_workers(partial(_log_frame_rows, em, lo, hi, lf), n_workers)
        log_prob[s] = _viterbi.viterbi_frames(chain, lf, states[lo:hi])
    return log_prob, states


def _log_frame_rows(em, lo: int, hi: int, lf: np.ndarray, first: int, step: int) -> None:
    """Emission log-likelihoods of frames ``lo:hi`` into ``lf``: part ``first`` of
    ``step`` contiguous parts (frames are independent: any split gives the same values)."""
    n = hi - lo
    b0, b1 = lo + first * n // step, lo + (first + 1) * n // step
    _emissions.log_frame_rows(em, b0, b1, lf[b0 - lo : b1 - lo])
