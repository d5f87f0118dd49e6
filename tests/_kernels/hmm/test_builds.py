"""The builds of the HMM kernels (x86-64-v2 baseline, x86-64-v3 in ``_v3``): picked by
``FASTGEN_KERNEL_BUILD`` or the CPU, and bit-identical results on every path."""

import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from fastgen._kernels import hmm as k

HERE = Path(__file__).resolve().parent

#: run in a child process with a given build: every path, kind and implementation
_COMPUTE = r"""
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import pytest
from hmm_problems import STATS_OF, force, lane_problem
from fastgen._kernels import hmm as k

out = {"build": np.array(k.kernel_build())}
mp = pytest.MonkeyPatch()
for kind in ("categorical", "frames", "diag", "full"):
    for lengths, nc in (([5, 90, 1, 40, 40, 3] * 15, 4), ([9, 1, 30], 17), ([700, 3], 9)):
        startidx, start, trans, em = lane_problem(kind, lengths, nc, seed=nc)
        for path in ("lanes", "sequence", "long"):
            with force(mp, path, SERIAL_WORK=0):
                for log_space in (True, False):
                    r = k.forward_backward(startidx, start, trans, em, log_space,
                                           stats_kind=STATS_OF[kind])
                    for name, a in zip(r._fields, r):
                        out[f"{kind}-{nc}-{path}-{log_space}-{name}"] = a
                lp, states = k.viterbi_batch(startidx, start, trans, em)
                out[f"{kind}-{nc}-{path}-viterbi"] = lp
                out[f"{kind}-{nc}-{path}-states"] = states
rng = np.random.default_rng(5)  # Viterbi edge cases, 1 to 5 states (the register kernel)
for nc in (1, 2, 3, 4, 5):
    for case in ("ties", "zeros", "nan", "inf"):
        n = 300
        start = np.full(nc, 1.0 / nc)
        trans = np.full((nc, nc), 1.0 / nc)
        frames = np.round(rng.normal(size=(n, nc)), 1) if case != "ties" else np.zeros((n, nc))
        if case == "zeros" and nc > 1:
            trans = rng.dirichlet(np.ones(nc), nc)
            trans[:, 0] = 0.0
            trans /= trans.sum(axis=1, keepdims=True)
        if case == "nan":
            frames[rng.random(frames.shape) < 0.1] = np.nan
        if case == "inf":
            frames[rng.random(frames.shape) < 0.2] = -np.inf
        for path in ("sequence", "lanes"):
            with force(mp, path):
                lp, states = k.viterbi_batch(np.array([0, 100, n]), start, trans, frames)
            out[f"edge-{nc}-{case}-{path}-viterbi"] = lp
            out[f"edge-{nc}-{case}-{path}-states"] = states
x = np.linspace(-745.0, 710.0, 100_001)
k.vexp(x)
out["vexp"] = x
np.savez(sys.argv[2], **out)
"""


def _results(build: str, path: Path) -> dict:
    env = dict(os.environ, FASTGEN_KERNEL_BUILD=build)
    proc = subprocess.run(
        [sys.executable, "-c", _COMPUTE, str(HERE), str(path)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    if proc.returncode != 0:
        if "CPU has no AVX2" in proc.stderr:
            pytest.skip(f"this CPU does not run the {build} build")
        raise AssertionError(proc.stderr)
    with np.load(path) as f:
        return dict(f)


def test_kernel_build_names_the_build_in_use():
    assert k.kernel_build() in ("x86-64-v2", "x86-64-v3", "generic")


def test_the_builds_give_the_same_results_bit_for_bit(tmp_path):
    base = _results("baseline", tmp_path / "baseline.npz")
    v3 = _results("x86-64-v3", tmp_path / "v3.npz")
    if str(base["build"]) == "generic":
        pytest.skip("not an x86-64 machine: one build only")
    assert str(base["build"]) == "x86-64-v2" and str(v3["build"]) == "x86-64-v3"
    assert base.keys() == v3.keys() and len(base) > 100
    for name in base:
        if name != "build":
            assert_array_equal(v3[name], base[name], err_msg=name)


@pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64"), reason="one build only off x86-64"
)
def test_an_unknown_build_is_refused():
    env = dict(os.environ, FASTGEN_KERNEL_BUILD="x86-64-v9")
    proc = subprocess.run(
        [sys.executable, "-c", "import fastgen._kernels.hmm"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "ImportError" in proc.stderr and "FASTGEN_KERNEL_BUILD" in proc.stderr
