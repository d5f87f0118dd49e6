"""Hostile input to the HMM kernels: the entry points reject what they cannot compute
(ValueError / TypeError), and the compiled ``def`` drivers, called directly with
inconsistent bundles, raise instead of reading or writing out of bounds.

The direct driver calls (and a few hostile value patterns) run in a child process, so
a crash shows up as a failed case, not as a dead test session: every case runs there
once, one after the other, and after a crash the remaining cases go on in a fresh
child.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hmm_problems import frames, model
from numpy.testing import assert_array_equal

from fastgen._kernels import hmm as k

# --------------------------------------------------------------------------- entry points


def _problem():
    start, trans, fr = model(6, 2)
    return start, trans, np.log(fr)


@pytest.mark.parametrize(
    "startidx", [[0, 7], [1, 6], [0, 3, 3, 6], [0, 4, 2, 6], [6], [], [0, -1, 6], [[0, 6]]]
)
def test_bad_startidx_is_rejected(startidx):
    start, trans, logf = _problem()
    bad = np.array(startidx, dtype=np.int64)
    with pytest.raises(ValueError, match="startidx"):
        k.forward_backward(bad, start, trans, frames(logf), True)
    with pytest.raises(ValueError, match="startidx"):
        k.viterbi_batch(bad, start, trans, logf)
    with pytest.raises(ValueError, match="startidx"):
        k.estep(bad, start, trans, logf, True, True, True)


def test_model_of_the_wrong_size_is_rejected():
    start, trans, logf = _problem()
    idx = np.array([0, 6])
    for sp, tm in (
        (start[:1], trans),
        (start, trans[:1]),
        (start, trans[:, :1]),
        (start, trans.T[None]),
    ):
        with pytest.raises(ValueError, match="n_components"):
            k.forward_backward(idx, sp, tm, frames(logf), True)
        with pytest.raises(ValueError, match="n_components"):
            k.viterbi_batch(idx, sp, tm, logf)


def test_symbols_out_of_range_are_rejected():
    table = np.log(np.full((2, 3), 1 / 3))
    for sym in ([0, 3], [-1, 0], [1 << 40], [0, -(1 << 62)]):
        with pytest.raises(ValueError, match="symbols"):
            k.emissions(k.EMIT_CATEGORICAL, sym=np.array(sym), log_emissionprob=table)
    with pytest.raises(ValueError):
        k.emissions(k.EMIT_CATEGORICAL, sym=np.zeros((2, 2), int), log_emissionprob=table)
    with pytest.raises(ValueError):
        k.emissions(k.EMIT_CATEGORICAL, sym=np.zeros(2, int), log_emissionprob=np.zeros(3))


def test_gaussian_parameters_are_checked():
    X, m2, m3 = np.zeros((3, 2)), np.zeros((2, 2)), np.zeros((2, 3))
    for cv in (-np.ones((2, 2)), np.zeros((2, 2)), np.full((2, 2), np.nan), np.ones((2, 3))):
        with pytest.raises(ValueError, match="covars"):
            k.emissions(k.EMIT_DIAG, X=X, means=m2, covars=cv)
    with pytest.raises(ValueError, match="disagree"):
        k.emissions(k.EMIT_DIAG, X=X, means=m3, covars=np.ones((2, 3)))
    with pytest.raises(ValueError, match="disagree"):
        k.emissions(k.EMIT_FULL, X=X[0], means=m2, chol=np.tile(np.eye(2), (2, 1, 1)))
    bad_chol = [
        np.zeros((2, 2, 2)),  # zero diagonal
        -np.tile(np.eye(2), (2, 1, 1)),  # negative diagonal
        np.full((2, 2, 2), np.nan),
        np.tile(np.eye(3), (2, 1, 1)),  # wrong shape
        np.eye(2),
    ]
    for chol in bad_chol:
        with pytest.raises(ValueError, match="chol"):
            k.emissions(k.EMIT_FULL, X=X, means=m2, chol=chol)
    for fn, other in ((k.log_density_diag, np.ones((2, 3))), (k.log_density_full, np.ones((2, 3)))):
        with pytest.raises(ValueError):
            fn(X, m3 if other.ndim == 3 else m2, other)
    with pytest.raises(ValueError):
        k.log_density_diag_missing(X, m3, np.ones((2, 3)))
    with pytest.raises(ValueError):
        k.log_density_full(X, m2, np.ones((2, 3, 3)))


def test_unknown_kinds_are_rejected():
    start, trans, logf = _problem()
    with pytest.raises(ValueError, match="emission kind"):
        k.emissions(9)
    with pytest.raises(ValueError, match="emission kind"):
        k.emissions(-1, log_frame=logf)
    for stats_kind in (9, -1):
        with pytest.raises(ValueError, match="statistics kind"):
            k.forward_backward(np.array([0, 6]), start, trans, frames(logf), True,
                               stats_kind=stats_kind)  # fmt: skip


def test_statistics_must_match_the_emissions():
    start, trans, logf = _problem()
    idx = np.array([0, 6])
    for stats_kind in (k.STATS_MEANS, k.STATS_DIAG, k.STATS_FULL):
        with pytest.raises(ValueError, match="Gaussian statistics"):
            k.forward_backward(idx, start, trans, frames(logf), True, stats_kind=stats_kind)
        cat = k.emissions(k.EMIT_CATEGORICAL, sym=np.zeros(6, int), log_emissionprob=logf[:2])
        with pytest.raises(ValueError, match="Gaussian statistics"):
            k.forward_backward(idx, start, trans, cat, True, stats_kind=stats_kind)
    diag = k.emissions(
        k.EMIT_DIAG, X=np.zeros((6, 1)), means=np.zeros((2, 1)), covars=np.ones((2, 1))
    )
    for em in (frames(logf), diag):
        with pytest.raises(ValueError, match="categorical statistics"):
            k.forward_backward(idx, start, trans, em, True, stats_kind=k.STATS_CATEGORICAL)


def test_wrong_shapes_and_types_are_rejected():
    start, trans, logf = _problem()
    idx = np.array([0, 6])
    with pytest.raises(TypeError, match="emissions"):
        k.forward_backward(idx, start, trans, logf, True)
    with pytest.raises(ValueError, match="2-D"):
        k.emissions(k.EMIT_LOG_FRAMES, log_frame=logf[:, 0])
    with pytest.raises(ValueError, match="2-D"):
        k.viterbi_batch(idx, start, trans, logf[None])
    with pytest.raises(ValueError, match="2-D"):
        k.estep(idx, start, trans, logf.ravel(), True, True, True)
    with pytest.raises(ValueError):  # frames of another length than startidx says
        k.forward_backward(idx, start, trans, frames(logf[:5]), True)
    fwd = np.empty((6, 2))
    for args in ((start, trans, logf, fwd[:5]), (start, trans, logf[:0], fwd[:0]),
                 (start, trans, logf[:, :1], fwd)):  # fmt: skip
        with pytest.raises(ValueError):
            k.forward_log(*args)
    with pytest.raises(ValueError):
        k.forward_log(start, trans[:1], logf, fwd)
    for args in ((trans[:1], logf, fwd), (trans, logf, fwd[:5]), (trans, logf[:0], fwd[:0])):
        with pytest.raises(ValueError):
            k.backward_log(*args)
    with pytest.raises((ValueError, TypeError)):
        k.forward_log(start, trans, logf.T, fwd)  # not C-contiguous


def test_vexp_takes_writeable_contiguous_float64_only():
    for x in (np.zeros(3, np.int64), np.zeros(6)[::2], np.zeros(3, np.float32), np.zeros((2, 2))):
        with pytest.raises((ValueError, TypeError)):
            k.vexp(x)
    x = np.zeros(3)
    x.flags.writeable = False
    with pytest.raises((ValueError, TypeError)):
        k.vexp(x)
    assert_array_equal(x, 0.0)


def test_zero_length_sequences_cannot_be_passed():
    start, trans, _ = _problem()
    for fn in (
        lambda: k.forward_backward(np.array([0]), start, trans, frames(np.zeros((0, 2))), True),
        lambda: k.viterbi_batch(np.array([0, 0]), start, trans, np.zeros((0, 2))),
    ):
        with pytest.raises(ValueError, match="startidx"):
            fn()


# --------------------------------------------------------------------------- isolated cases

_RUNNER = r"""
import json, sys
setup, cases = json.loads(sys.stdin.read())
ns = {}
exec(setup, ns)
for name, code in cases:
    print(json.dumps(["start", name]), flush=True)
    try:
        exec(code, dict(ns))
        out = "returned"
    except Exception as exc:
        out = f"{type(exc).__name__}: {exc}"
    print(json.dumps(["done", name, out]), flush=True)
"""


def run_isolated(setup: str, cases: dict, build: str | None = None) -> dict:
    """``{name: outcome}`` of running every case (code after ``setup``) in a child
    process: ``"returned"``, ``"<Exception>: message"`` or ``"crashed (exit N)"``.
    ``build``: the kernel build the child takes (``FASTGEN_KERNEL_BUILD``)."""
    env = dict(os.environ)
    if build is not None:
        env["FASTGEN_KERNEL_BUILD"] = build
    remaining = list(cases.items())
    outcomes = {}
    while remaining:
        proc = subprocess.run(
            [sys.executable, "-c", _RUNNER], input=json.dumps([setup, remaining]),
            capture_output=True, text=True, timeout=300, env=env,
        )  # fmt: skip
        started = None
        for line in proc.stdout.splitlines():
            msg = json.loads(line)
            if msg[0] == "start":
                started = msg[1]
            else:
                outcomes[msg[1]] = msg[2]
                started = None
        if started is not None:
            outcomes[started] = f"crashed (exit {proc.returncode})"
        elif proc.returncode != 0:
            raise RuntimeError(f"the child failed outside the cases:\n{proc.stderr}")
        remaining = [c for c in remaining if c[0] not in outcomes]
    return outcomes


_SETUP = """
import gc
from importlib import import_module

import numpy as np
from fastgen._kernels import hmm as k
from fastgen._kernels.hmm._select import kernel_package

# the compiled modules of the build the entry points use (FASTGEN_KERNEL_BUILD)
_bundles, _emissions, _lanes, _sequence, _viterbi = (
    import_module(f"{kernel_package()}.{m}")
    for m in ("_bundles", "_emissions", "_lanes", "_sequence", "_viterbi")
)
Accumulators, ChainArrays = _bundles.Accumulators, _bundles.ChainArrays
EmissionArrays, ScaledArrays = _bundles.EmissionArrays, _bundles.ScaledArrays
assert type(k.emissions(0, log_frame=np.zeros((1, 1)))) is EmissionArrays

rng = np.random.RandomState(0)
n, nc, nf, ns = 10, 3, 2, 4
logf = rng.randn(n, nc)
X = rng.randn(n, nf)
em = k.emissions(k.EMIT_LOG_FRAMES, log_frame=logf)
emc = k.emissions(k.EMIT_CATEGORICAL, sym=rng.randint(ns, size=n),
                  log_emissionprob=np.log(np.full((nc, ns), 1 / ns)))
emd = k.emissions(k.EMIT_DIAG, X=X, means=rng.randn(nc, nf), covars=np.ones((nc, nf)))
emf = k.emissions(k.EMIT_FULL, X=X, means=rng.randn(nc, nf), chol=np.tile(np.eye(nf), (nc, 1, 1)))


def scaled(n_symbols, n_components=nc):
    return ScaledArrays(np.full((n_symbols, n_components), 1 / ns), np.zeros(n_symbols),
                        np.zeros(n_symbols, bool), n_components)


sc_empty, sc_cat = scaled(0), scaled(ns)
sp, tm = np.ones(nc) / nc, np.full((nc, nc), 1 / nc)
ch = ChainArrays(sp, tm, True)
ch2 = ChainArrays(np.ones(2) / 2, np.full((2, 2), 0.5), True)
si = np.array([0, 4, 10], dtype=np.int64)
seqs = np.array([0, 1], dtype=np.int64)
W, C = (True, True, True, k.STATS_NONE), (True, True, True, k.STATS_CATEGORICAL)
M, D, F = ((True, True, True, s) for s in (k.STATS_MEANS, k.STATS_DIAG, k.STATS_FULL))
acc = Accumulators


def readonly(a):
    a = np.array(a)
    a.flags.writeable = False
    return a


def call(driver, defaults, kw):
    return driver(*{**defaults, **kw}.values())


def estep(driver, **kw):
    return call(driver, dict(
        em=em, scaled=sc_empty, chain=ch, want=W, seqs=seqs, startidx=si, n_chunks=1,
        first=0, step=1, acc=acc(1, nc, 0, 0, 0), row0=0, log_prob=np.empty(2),
        gamma=np.empty((n, nc))), kw)


def viterbi(driver, **kw):
    return call(driver, dict(
        em=em, chain=ch, seqs=seqs, startidx=si, n_chunks=1, first=0, step=1,
        log_prob=np.empty(2), states=np.empty(n, np.int64)), kw)


def fill(**kw):
    return call(_sequence.fill_scaled_blocks, dict(
        em=em, scaled=sc_empty, log_space=True, lo=0, hi=n, n_blocks=2, first=0, step=1,
        fr=np.empty((n, nc)), cc=np.empty(n), flag=np.empty(n, np.uint8)), kw)


def forward(**kw):
    return call(_sequence.forward_scaled, dict(
        chain=ch, fr=np.ones((n, nc)), cc=np.zeros(n), flag=np.zeros(n, np.uint8),
        fwd=np.empty((n, nc)), scale=np.empty(n)), kw)


def backward(**kw):
    return call(_sequence.backward_scaled, dict(
        chain=ch, fr=np.ones((n, nc)), scale=np.ones(n), bwd=np.empty((n, nc))), kw)


def posterior(**kw):
    return call(_sequence.posterior_blocks, dict(
        em=em, chain=ch, want=W, fr=np.ones((n, nc)), fwd=np.full((n, nc), 1 / nc),
        bwd=np.ones((n, nc)), off=0, n_blocks=2, first=0, step=1, acc=acc(2, nc, 0, 0, 0),
        row0=0, gamma=np.empty((n, nc))), kw)


def exact(**kw):
    return call(_sequence.exact, dict(
        em=em, chain=ch, want=W, lo=0, hi=4, acc=acc(1, nc, 0, 0, 0), row=0,
        gamma=np.empty((n, nc))), kw)


def frames_viterbi(**kw):
    return call(_viterbi.viterbi_frames, dict(
        chain=ch, log_frame=logf, states=np.empty(n, np.int64)), kw)


def log_frame_rows(**kw):
    return call(_emissions.log_frame_rows, dict(em=emd, r0=2, r1=5, out=np.empty((3, nc))), kw)


def bundle(kind=k.EMIT_DIAG, n_samples=2, **kw):
    arrays = dict(X=np.zeros((2, nf)), means=np.zeros((nc, nf)), inv=np.ones((nc, nf)),
                  const=np.zeros(nc))
    arrays.update(kw)
    return EmissionArrays(kind, n_samples, nc, **{a: v for a, v in arrays.items() if v is not None})


def every_pass(e, **kw):
    for log_space in (True, False):
        k.forward_backward(si, kw.get("sp", sp), kw.get("tm", tm), e, log_space,
                           stats_kind=kw.get("stats_kind", k.STATS_NONE))
    k.viterbi_batch(si, kw.get("sp", sp), kw.get("tm", tm), e)
"""

# name -> keyword arguments that alter the baseline call ("ok": the baseline itself)
_ESTEP_CASES = {
    "ok": "",
    "ok_categorical": "scaled=sc_cat, em=emc, want=C, acc=acc(1, nc, ns, 0, 0)",
    "ok_diag": "em=emd, want=D, acc=acc(1, nc, nf, nf, 0)",
    "ok_full": "em=emf, want=F, acc=acc(1, nc, nf, 0, nf * nf)",
    "ok_no_gamma": "gamma=None",
    "seqs_past_the_end": "seqs=np.array([0, 2])",
    "seqs_huge": "seqs=np.array([1 << 62])",
    "seqs_negative": "seqs=np.array([-1])",
    "seqs_int32": "seqs=np.array([0], np.int32)",
    "seqs_2d": "seqs=np.array([[0]])",
    "seqs_none": "seqs=None",
    "startidx_past_the_end": "startidx=np.array([0, 4, 11])",
    "startidx_short_of_the_end": "startidx=np.array([0, 4, 9])",
    "startidx_decreasing": "startidx=np.array([0, 12, 10])",
    "startidx_not_from_0": "startidx=np.array([1, 4, 10])",
    "startidx_empty": "startidx=np.zeros(0, np.int64)",
    "startidx_int32": "startidx=si.astype(np.int32)",
    "startidx_strided": "startidx=np.repeat(si, 2)[::2]",
    "log_prob_short": "log_prob=np.empty(1)",
    "log_prob_long": "log_prob=np.empty(3)",
    "log_prob_float32": "log_prob=np.empty(2, np.float32)",
    "log_prob_readonly": "log_prob=readonly(np.empty(2))",
    "log_prob_none": "log_prob=None",
    "gamma_rows": "gamma=np.empty((n - 1, nc))",
    "gamma_columns": "gamma=np.empty((n, nc + 1))",
    "gamma_float32": "gamma=np.empty((n, nc), np.float32)",
    "gamma_fortran": "gamma=np.empty((n, nc), order='F')",
    "gamma_readonly": "gamma=readonly(np.empty((n, nc)))",
    "gamma_list": "gamma=[[0.0] * nc] * n",
    "acc_too_few_rows": "n_chunks=2, acc=acc(1, nc, 0, 0, 0)",
    "acc_row0_past_the_end": "row0=1",
    "acc_row0_negative": "row0=-1",
    "acc_n_components": "acc=acc(1, nc + 1, 0, 0, 0)",
    "step_0": "step=0",
    "step_negative": "step=-1",
    "first_negative": "first=-1",
    "n_chunks_0": "n_chunks=0",
    "n_chunks_negative": "n_chunks=-1",
    "chain_n_components": "chain=ch2",
    "scaled_n_components": "scaled=scaled(0, 2)",
    "scaled_symbols_missing": "em=emc, scaled=sc_empty",
    "scaled_symbols_too_few": "em=emc, scaled=scaled(ns - 2)",
    "scaled_none_categorical": "em=emc, scaled=None",
    "em_none": "em=None",
    "chain_none": "chain=None",
    "acc_none": "acc=None",
    "em_wrong_type": "em=logf",
    "diag_stats_n_obs": "em=emd, want=D, acc=acc(1, nc, nf - 1, nf, 0)",
    "diag_stats_no_sq": "em=emd, want=D, acc=acc(1, nc, nf, 0, 0)",
    "full_stats_n_outer": "em=emf, want=F, acc=acc(1, nc, nf, 0, nf)",
    "means_stats_no_obs": "em=emd, want=M, acc=acc(1, nc, 0, 0, 0)",
    "gaussian_stats_frames": "want=D, acc=acc(1, nc, nf, nf, 0)",
    "gaussian_stats_categorical": "em=emc, scaled=sc_cat, want=M, acc=acc(1, nc, ns, 0, 0)",
    "categorical_stats_diag": "em=emd, want=C, acc=acc(1, nc, nf, 0, 0)",
    "categorical_stats_n_obs": "em=emc, scaled=sc_cat, want=C, acc=acc(1, nc, ns - 1, 0, 0)",
    "stats_unknown": "want=(True, True, True, 9)",
    "stats_negative": "want=(True, True, True, -1)",
    "want_short": "want=(True, True)",
    "want_list": "want=[True, True, True, 0]",
}
_VITERBI_CASES = {
    "ok": "",
    "ok_categorical": "em=emc",
    "ok_diag": "em=emd",
    "ok_full": "em=emf",
    "seqs_past_the_end": "seqs=np.array([2])",
    "seqs_negative": "seqs=np.array([-1])",
    "seqs_int32": "seqs=np.array([0], np.int32)",
    "seqs_none": "seqs=None",
    "startidx_past_the_end": "startidx=np.array([0, 4, 11])",
    "startidx_decreasing": "startidx=np.array([0, 12, 10])",
    "startidx_int32": "startidx=si.astype(np.int32)",
    "log_prob_short": "log_prob=np.empty(1)",
    "log_prob_long": "log_prob=np.empty(3)",
    "log_prob_readonly": "log_prob=readonly(np.empty(2))",
    "log_prob_none": "log_prob=None",
    "states_short": "states=np.empty(n - 1, np.int64)",
    "states_int32": "states=np.empty(n, np.int32)",
    "states_readonly": "states=readonly(np.empty(n, np.int64))",
    "states_none": "states=None",
    "step_0": "step=0",
    "first_negative": "first=-1",
    "n_chunks_0": "n_chunks=0",
    "n_chunks_negative": "n_chunks=-1",
    "chain_n_components": "chain=ch2",
    "em_none": "em=None",
    "chain_none": "chain=None",
}
_OTHER_CASES = {
    # the phases of a long sequence
    "fill_ok": "fill()",
    "fill_ok_categorical": "fill(em=emc, scaled=sc_cat)",
    "fill_past_the_end": (
        "fill(hi=n + 1, fr=np.empty((n + 1, nc)), cc=np.empty(n + 1),"
        " flag=np.empty(n + 1, np.uint8))"
    ),
    "fill_empty_range": "fill(lo=3, hi=3)",
    "fill_fr_short": "fill(fr=np.empty((n - 1, nc)))",
    "fill_fr_columns": "fill(fr=np.empty((n, nc + 1)))",
    "fill_cc_short": "fill(cc=np.empty(n - 1))",
    "fill_flag_short": "fill(flag=np.empty(n - 1, np.uint8))",
    "fill_n_blocks_0": "fill(n_blocks=0)",
    "fill_step_0": "fill(step=0)",
    "fill_first_negative": "fill(first=-1)",
    "fill_em_none": "fill(em=None)",
    "fill_scaled_none_categorical": "fill(em=emc, scaled=None)",
    "fill_scaled_symbols_missing": "fill(em=emc, scaled=sc_empty)",
    "fill_scaled_n_components": "fill(em=emc, scaled=scaled(ns, 1))",
    "forward_ok": "forward()",
    "forward_n_components": "forward(fr=np.ones((n, 2)), fwd=np.empty((n, 2)))",
    "forward_cc_short": "forward(cc=np.zeros(n - 1))",
    "forward_flag_short": "forward(flag=np.zeros(n - 1, np.uint8))",
    "forward_fwd_short": "forward(fwd=np.empty((n - 1, nc)))",
    "forward_scale_short": "forward(scale=np.empty(n - 1))",
    "forward_no_frames": (
        "forward(fr=np.ones((0, nc)), cc=np.zeros(0), flag=np.zeros(0, np.uint8),"
        " fwd=np.empty((0, nc)), scale=np.empty(0))"
    ),
    "forward_chain_none": "forward(chain=None)",
    "backward_ok": "backward()",
    "backward_scale_short": "backward(scale=np.ones(n - 1))",
    "backward_bwd_short": "backward(bwd=np.empty((n - 1, nc)))",
    "backward_n_components": "backward(fr=np.ones((n, 2)), bwd=np.empty((n, 2)))",
    "backward_chain_none": "backward(chain=None)",
    "posterior_ok": "posterior()",
    "posterior_ok_diag": "posterior(em=emd, want=D, acc=acc(2, nc, nf, nf, 0))",
    "posterior_acc_too_few_rows": "posterior(n_blocks=3)",
    "posterior_offset_past_the_end": "posterior(off=1)",
    "posterior_offset_negative": "posterior(off=-1)",
    "posterior_fwd_short": "posterior(fwd=np.ones((n - 1, nc)))",
    "posterior_bwd_short": "posterior(bwd=np.ones((n - 1, nc)))",
    "posterior_gamma_rows": "posterior(gamma=np.empty((n - 1, nc)))",
    "posterior_gamma_readonly": "posterior(gamma=readonly(np.empty((n, nc))))",
    "posterior_diag_stats_no_sq": "posterior(em=emd, want=D, acc=acc(2, nc, nf, 0, 0))",
    "posterior_categorical_stats_n_obs": "posterior(em=emc, want=C, acc=acc(2, nc, 1, 0, 0))",
    "posterior_step_0": "posterior(step=0)",
    "posterior_em_none": "posterior(em=None)",
    "posterior_chain_none": "posterior(chain=None)",
    "posterior_acc_none": "posterior(acc=None)",
    "exact_ok": "exact()",
    "exact_ok_full": "exact(em=emf, want=F, acc=acc(1, nc, nf, 0, nf * nf))",
    "exact_row_past_the_end": "exact(row=1)",
    "exact_past_the_end": "exact(hi=n + 1)",
    "exact_empty_range": "exact(lo=4, hi=4)",
    "exact_gamma_rows": "exact(gamma=np.empty((4, nc)))",
    "exact_gamma_readonly": "exact(gamma=readonly(np.empty((n, nc))))",
    "exact_diag_stats_no_sq": "exact(em=emd, want=D, acc=acc(1, nc, nf, 0, 0))",
    "exact_chain_n_components": "exact(chain=ch2)",
    "exact_em_none": "exact(em=None)",
    "exact_chain_none": "exact(chain=None)",
    "exact_acc_none": "exact(acc=None)",
    "viterbi_frames_ok": "frames_viterbi()",
    "viterbi_frames_states_short": "frames_viterbi(states=np.empty(n - 1, np.int64))",
    "viterbi_frames_states_readonly": "frames_viterbi(states=readonly(np.empty(n, np.int64)))",
    "viterbi_frames_n_components": "frames_viterbi(log_frame=np.zeros((n, 2)))",
    "viterbi_frames_no_frames": "frames_viterbi(log_frame=logf[:0], states=np.empty(0, np.int64))",
    "viterbi_lanes_too_many_states": (
        "viterbi(_viterbi.viterbi_lane_chunks, em=k.emissions(0, log_frame=np.zeros((n, 130))),"
        " chain=ChainArrays(np.ones(130) / 130, np.full((130, 130), 1 / 130), True))"
    ),
    "log_frame_rows_ok": "log_frame_rows()",
    "log_frame_rows_past_the_end": "log_frame_rows(r1=n + 1, out=np.empty((n - 1, nc)))",
    "log_frame_rows_reversed": "log_frame_rows(r0=5, r1=2, out=np.empty((0, nc)))",
    "log_frame_rows_out_shape": "log_frame_rows(out=np.empty((4, nc)))",
    "log_frame_rows_out_readonly": "log_frame_rows(out=readonly(np.empty((3, nc))))",
    "log_frame_rows_em_none": "log_frame_rows(em=None)",
    # the bundles themselves
    "bundle_ok": "bundle()",
    "bundle_X_rows": "bundle(n_samples=3)",
    "bundle_means_shape": "bundle(means=np.zeros((nc, nf + 1)))",
    "bundle_inv_shape": "bundle(inv=np.ones((nc, nf + 1)))",
    "bundle_const_shape": "bundle(const=np.zeros(nc + 1))",
    "bundle_const_missing": "bundle(const=None)",
    "bundle_lt_shape": "bundle(k.EMIT_FULL, inv=None, lt=np.ones((nc, nf, nf + 1)))",
    "bundle_X_float32": "bundle(X=np.zeros((2, nf), np.float32))",
    "bundle_X_fortran": "bundle(X=np.zeros((2, nf), order='F'))",
    "bundle_symbols_out_of_range": (
        "EmissionArrays(k.EMIT_CATEGORICAL, 2, nc, sym=np.array([0, ns]), table=np.zeros((ns, nc)))"
    ),
    "bundle_symbols_negative": (
        "EmissionArrays(k.EMIT_CATEGORICAL, 2, nc, sym=np.array([0, -1]), table=np.zeros((ns, nc)))"
    ),
    "bundle_log_frame_shape": "EmissionArrays(0, 2, nc, log_frame=np.zeros((2, nc + 1)))",
    "bundle_log_frame_list": "EmissionArrays(0, 2, nc, log_frame=[[0.0] * nc] * 2)",
    "bundle_negative_samples": "EmissionArrays(0, -1, nc, log_frame=np.zeros((1, nc)))",
    "bundle_kind": "EmissionArrays(7, 2, nc)",
    "bundle_chain_shapes": "ChainArrays(np.ones(3), np.ones((2, 2)), True)",
    "bundle_chain_flat": "ChainArrays(np.ones(3), np.ones(9), True)",
    "bundle_scaled_rows": "ScaledArrays(np.ones((2, nc)), np.zeros(3), np.zeros(3, bool), nc)",
    "bundle_scaled_flag": "ScaledArrays(np.ones((3, nc)), np.zeros(3), np.zeros(2, bool), nc)",
    "bundle_accumulators_negative": "Accumulators(-1, nc, 0, 0, 0)",
}
# the entry points given hostile values or hostile changes after validation: any result or
# a ValueError, never a crash
_NO_CRASH_CASES = {
    "nan_inf_frames": (
        "lf = logf.copy(); lf[::3] = np.nan; lf[1::4] = np.inf; lf[2::5] = -np.inf;"
        " every_pass(k.emissions(0, log_frame=lf))"
    ),
    "huge_frames": "every_pass(k.emissions(0, log_frame=logf * 1e300))",
    "negative_probabilities": "every_pass(em, sp=-sp, tm=-tm)",
    "nan_model": "every_pass(emd, sp=sp * np.nan, tm=tm * np.nan, stats_kind=k.STATS_DIAG)",
    "inf_nan_X": (
        "X2 = X.copy(); X2[3] = np.inf; X2[4] = np.nan; X2[5, 0] = -np.inf;"
        " every_pass(k.emissions(k.EMIT_FULL, X=X2, means=np.zeros((nc, nf)),"
        " chol=np.tile(np.eye(nf), (nc, 1, 1))), stats_kind=k.STATS_FULL)"
    ),
    "no_states": (
        "k.forward_backward(si, np.zeros(0), np.zeros((0, 0)),"
        " k.emissions(0, log_frame=np.zeros((n, 0))), True)"
    ),
    "no_states_viterbi": "k.viterbi_batch(si, np.zeros(0), np.zeros((0, 0)), np.zeros((n, 0)))",
    "no_features": (
        "every_pass(k.emissions(k.EMIT_FULL, X=np.zeros((n, 0)), means=np.zeros((nc, 0)),"
        " chol=np.zeros((nc, 0, 0))), stats_kind=k.STATS_FULL)"
    ),
    # the caller's symbol array, checked by emissions(), changed before the kernels run
    "symbols_changed_after_emissions": (
        "sym = np.zeros(n, np.int64);"
        " e = k.emissions(k.EMIT_CATEGORICAL, sym=sym, log_emissionprob=np.zeros((nc, ns)));"
        " sym[3] = 1 << 40; k.forward_backward(si, sp, tm, e, True)"
    ),
    "symbols_changed_after_emissions_viterbi": (
        "sym = np.zeros(n, np.int64);"
        " e = k.emissions(k.EMIT_CATEGORICAL, sym=sym, log_emissionprob=np.zeros((nc, ns)));"
        " sym[3] = -(1 << 40); k.viterbi_batch(si, sp, tm, e)"
    ),
    # the arrays behind a bundle dropped through its public `arrays` dict
    "bundle_arrays_dropped": (
        "N = 1 << 20; e = k.emissions(0, log_frame=np.zeros((N, nc)) + 1.0);"
        " e.arrays.clear(); gc.collect(); big = [np.full((N, nc), 7.0) for _ in range(3)];"
        " del big; k.forward_backward(np.array([0, N]), sp, tm, e, True)"
    ),
}

def _all_cases():
    cases = {}
    for driver in ("_sequence.estep_chunks", "_lanes.estep_lane_chunks"):
        for name, kw in _ESTEP_CASES.items():
            cases[f"estep.{name}[{driver}]"] = f"estep({driver}, {kw})"
    for driver in ("_viterbi.viterbi_chunks", "_viterbi.viterbi_lane_chunks"):
        for name, kw in _VITERBI_CASES.items():
            cases[f"viterbi.{name}[{driver}]"] = f"viterbi({driver}, {kw})"
    cases.update({f"other.{name}": code for name, code in _OTHER_CASES.items()})
    cases.update({f"value.{name}": code for name, code in _NO_CRASH_CASES.items()})
    return cases


CASES = _all_cases()


def _build_runs(build: str) -> bool:
    """Whether this machine runs the kernel build ``build`` (``FASTGEN_KERNEL_BUILD``)."""
    got = run_isolated("", {"import": "import fastgen._kernels.hmm"}, build)
    return got["import"] == "returned"


_outcomes = {}


@pytest.fixture(scope="module", params=["baseline", "x86-64-v3"])
def outcomes(request):
    build = request.param
    if build not in _outcomes:
        if build != "baseline" and not _build_runs(build):
            pytest.skip(f"this CPU does not run the {build} build of the kernels")
        _outcomes[build] = run_isolated(_SETUP, CASES, build)
    return _outcomes[build]


@pytest.mark.parametrize("name", list(CASES))
def test_isolated_case(outcomes, name):
    out = outcomes[name]
    label = name.split("[")[0].split(".", 1)[1]
    if name.startswith("value."):
        assert out == "returned" or out.startswith("ValueError"), out
    elif label.startswith("ok") or "_ok" in label:
        assert out == "returned", out  # a baseline the other cases alter
    elif label.endswith(("em_none", "chain_none", "acc_none")):  # a bundle that is None
        assert out.startswith("TypeError: "), out
    elif label.startswith("bundle_"):  # a missing keyword array may be a KeyError
        assert out.startswith(("ValueError: ", "TypeError: ", "KeyError: ")), out
    else:
        assert out.startswith(("ValueError: ", "TypeError: ")), out
        assert "positional argument" not in out and "takes exactly" not in out, out


def test_the_isolation_reports_a_crash():
    got = run_isolated(
        "import os, signal",
        {"before": "pass", "crash": "os.kill(os.getpid(), signal.SIGSEGV)", "after": "1 / 0"},
    )
    assert got["before"] == "returned"
    assert got["crash"].startswith("crashed")
    assert got["after"].startswith("ZeroDivisionError")
