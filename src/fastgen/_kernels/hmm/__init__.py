"""Compiled kernels of the hidden Markov models (Cython, built with the package).

Plain arrays in, arrays out; see :mod:`fastgen._kernels.hmm._entry` for the entry
points and how the work is split.  Modules, one idea each:

* ``_bundles``: the named structs the kernels share (emissions, chain, what to compute,
  accumulators) and the holders that check the arrays behind them;
* ``_numeric``: vectorised ``exp``, running log-likelihoods, small matrix-vector sums;
* ``_emissions``: emission log-likelihoods and scaled likelihoods, in frame blocks;
* ``_stats``: sufficient statistics and expected transitions, lane-wise;
* ``_sequence``: forward-backward one sequence at a time, the exact log-space fallback;
* ``_lanes``: forward-backward of many short sequences at once, one per lane;
* ``_viterbi``: decoding, one sequence at a time or one per lane;
* ``_filter``: forward filtering, sequences continuing carried messages (streams);
* ``_select``: which build (x86-64-v2, or v3 in ``_v3``) the running CPU gets;
* ``_entry``: the entry points below (validation, the split of the work, threads).
"""

from fastgen._kernels.hmm._entry import (
    EMIT_CATEGORICAL,
    EMIT_DIAG,
    EMIT_FULL,
    EMIT_LOG_FRAMES,
    STATS_CATEGORICAL,
    STATS_DIAG,
    STATS_FULL,
    STATS_MEANS,
    STATS_NONE,
    EmissionArrays,
    EStep,
    Filtered,
    backward_log,
    check_messages,
    clamped,
    emissions,
    estep,
    forward_backward,
    forward_filter,
    forward_log,
    frame_weights,
    kernel_build,
    log_density_diag,
    log_density_diag_missing,
    log_density_full,
    log_frames,
    mixture_reduce,
    vexp,
    viterbi_batch,
)

__all__ = [
    "EMIT_LOG_FRAMES", "EMIT_DIAG", "EMIT_FULL", "EMIT_CATEGORICAL",
    "STATS_NONE", "STATS_MEANS", "STATS_DIAG", "STATS_FULL", "STATS_CATEGORICAL",
    "EStep", "EmissionArrays", "emissions", "clamped", "frame_weights", "forward_backward",
    "estep", "viterbi_batch",
    "log_density_diag", "log_density_diag_missing", "log_density_full",
    "mixture_reduce", "log_frames", "forward_log", "backward_log", "vexp", "kernel_build",
    "Filtered", "check_messages", "forward_filter",
]  # fmt: skip
