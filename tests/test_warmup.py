"""``fastgen warmup`` and the kernel cache in real processes.

One cold compile for the whole file (module fixture ``cold_run``, about a minute): a
fresh process with an empty ``FASTGEN_CACHE_DIR`` fits and decodes a ``GaussianHMM``
(the one-time notice must show, once) and then runs ``fastgen warmup``, which compiles
the remaining kernels.  The package runs from a copy (read-only where permissions
bind), so the test can check that nothing was written into it.  Later processes load
everything from the cache: no notice, nothing compiled, a fast first fit.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

import fastgen

NOTICE = "fastgen: compiling the HMM kernels for this machine"

#: the first fit / predict of a fresh process, then what was compiled and loaded
FIRST_USE = """
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import fastgen
from fastgen.hmm import CategoricalHMM, GaussianHMM
from fastgen.naive_bayes import MultinomialNB
rng = np.random.default_rng(0)
X = rng.normal(size=(600, 2)) + np.repeat([[0.0, 0.0], [4.0, 4.0], [-4.0, 0.0]], 200, axis=0)
t1 = time.perf_counter()
model = GaussianHMM(3, n_iter=3, random_state=0).fit(X, [300, 300])
model.predict(X, [300, 300])
t2 = time.perf_counter()
extra = sys.argv[1:] == ["more"]
if extra:
    GaussianHMM(3, covariance_type="full", n_iter=2, random_state=0).fit(X).predict_proba(X)
    CategoricalHMM(2, n_iter=2, random_state=0).fit((X[:, :1] > 0).astype(int))
    MultinomialNB().fit(np.abs(X), np.arange(600) % 2).predict(np.abs(X))
    X.setflags(write=False)  # e.g. np.load(mmap_mode="r"): no second set of kernels
    GaussianHMM(3, n_iter=2, random_state=0).fit(X).predict(X)
from fastgen import _jit
from fastgen._kernels import _hmm
stats = _jit.compile_stats()
print(json.dumps({"file": fastgen.__file__, "cache": str(_jit.kernel_cache_dir(_hmm)),
                  "first_fit_s": t2 - t1, "total_s": time.perf_counter() - t0,
                  "compiled": stats.compiled, "loaded": stats.loaded}))
"""

WARMUP_THEN_CLI = FIRST_USE + """
from fastgen.cli import main
sys.stdout.flush()
sys.exit(main(["warmup"]))
"""


def _tree(root: Path) -> dict[str, tuple[int, float]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime)
        for p in root.rglob("*")
        if p.is_file()
    }


def _set_writable(root: Path, writable: bool) -> None:
    for p in [root, *root.rglob("*")]:
        mode = p.stat().st_mode
        if writable:
            p.chmod(mode | stat.S_IWUSR)
        else:
            p.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """A read-only copy of the installed package (``PYTHONPATH`` points at it)."""
    site = tmp_path_factory.mktemp("site")
    shutil.copytree(
        Path(fastgen.__file__).parent, site / "fastgen",
        ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"),
    )  # fmt: skip
    _set_writable(site / "fastgen", False)
    yield site
    _set_writable(site / "fastgen", True)


def _env(site: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FASTGEN_", "NUMBA_"))}
    env.update(PYTHONPATH=str(site), PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


def _run(code: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip


@pytest.fixture(scope="module")
def cold_run(site, tmp_path_factory):
    """The one cold compile: first use in a fresh process, then ``fastgen warmup``."""
    cache = tmp_path_factory.mktemp("kernel-cache")
    before = _tree(site / "fastgen")
    t = time.perf_counter()
    proc = _run(WARMUP_THEN_CLI, _env(site, FASTGEN_CACHE_DIR=str(cache)))
    seconds = time.perf_counter() - t
    assert proc.returncode == 0, proc.stderr
    first, *report = proc.stdout.splitlines()
    return {"cache": cache, "first": json.loads(first), "report": report,
            "stderr": proc.stderr, "seconds": seconds, "before": before}


def test_cold_first_use_says_so_once(cold_run, site):
    first = cold_run["first"]
    assert Path(first["file"]).parent == site / "fastgen"  # the copy ran
    assert first["compiled"] and first["loaded"] == 0
    # fit and predict compiled dozens of kernels; one line said so
    assert cold_run["stderr"].count(NOTICE) == 1, cold_run["stderr"]
    assert cold_run["stderr"].splitlines()[0].startswith(NOTICE)
    assert "'fastgen warmup' does it ahead" in cold_run["stderr"]


def test_warmup_reports_and_fills_the_cache(cold_run):
    cache, report = cold_run["cache"], cold_run["report"]
    assert report[0].startswith("compiling fastgen's kernels into ")
    folder = Path(report[0].removeprefix("compiling fastgen's kernels into "))
    assert cache in folder.parents and folder.name.startswith("_kernels-")
    assert any("GaussianHMM full" in line for line in report)
    assert report[-1].startswith("done in ") and "kernel signatures compiled" in report[-1]
    assert any(folder.glob("_hmm.*.nbi")) and any(folder.glob("_nb.*.nbi"))
    assert cold_run["first"]["cache"] == str(folder)
    assert cold_run["stderr"].count("fastgen:") == 1  # the notice only: warmup stays quiet


def test_nothing_written_into_the_package(cold_run, site):
    assert _tree(site / "fastgen") == cold_run["before"]
    assert not list((site / "fastgen").rglob("__pycache__"))


def test_warm_process_is_fast_and_silent(cold_run, site):
    proc = _run(FIRST_USE, _env(site, FASTGEN_CACHE_DIR=str(cold_run["cache"])), "more")
    assert proc.returncode == 0, proc.stderr
    warm = json.loads(proc.stdout)
    assert warm["compiled"] == [] and warm["loaded"] > 0
    assert NOTICE not in proc.stderr and "fastgen:" not in proc.stderr
    assert warm["first_fit_s"] < 15, warm  # about 0.3 s; cold: 30 s or more
    print(f"cold process {cold_run['seconds']:.1f} s (first fit + predict "
          f"{cold_run['first']['first_fit_s']:.1f} s, then the warm-up); warm first fit + "
          f"predict {warm['first_fit_s']:.2f} s")


def test_read_only_warm_cache_is_loaded(cold_run, site):
    """A cache baked into an image and read-only at run time: loaded, not recompiled."""
    code = "import fastgen._jit as j; j._writable = lambda folder: False\n" + FIRST_USE
    proc = _run(code, _env(site, FASTGEN_CACHE_DIR=str(cold_run["cache"])))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["compiled"] == [] and out["cache"] == cold_run["first"]["cache"]
    assert "fastgen:" not in proc.stderr


def test_warmup_again_compiles_nothing(cold_run, site):
    proc = subprocess.run(
        [sys.executable, "-m", "fastgen", "warmup"], capture_output=True, text=True,
        env=_env(site, FASTGEN_CACHE_DIR=str(cold_run["cache"])), timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert ": 0 kernel signatures compiled" in proc.stdout.splitlines()[-1]
    quiet = subprocess.run(
        [sys.executable, "-m", "fastgen", "warmup", "-q"], capture_output=True, text=True,
        env=_env(site, FASTGEN_CACHE_DIR=str(cold_run["cache"])), timeout=600,
    )  # fmt: skip
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""


def test_cache_folder_in_a_fresh_home_and_fallback(site, tmp_path):
    """Which folder a process picks (importing the kernels compiles nothing)."""
    code = ("from fastgen import _jit; from fastgen._kernels import _hmm; "
            "print(_jit.kernel_cache_dir(_hmm))")  # fmt: skip
    home = tmp_path / "home"
    home.mkdir()
    env = _env(site, HOME=str(home))
    env.pop("XDG_CACHE_HOME", None)
    out = _run(code, env)
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).parents[1] == home / ".cache" / "fastgen"

    # a home that cannot hold folders (HOME=/nonexistent in a container, say)
    (tmp_path / "file").write_text("")
    env.update(HOME=str(tmp_path / "file"), TMPDIR=str(tmp_path))
    out = _run(code, env)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    if hasattr(os, "getuid"):
        assert Path(out.stdout.strip()).parents[1] == tmp_path / f"fastgen-{os.getuid()}"
