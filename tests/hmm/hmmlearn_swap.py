"""Run hmmlearn's own test files with fastgen's HMM classes swapped in.

hmmlearn's wheel ships its tests (``hmmlearn/tests``).  :func:`run_hmmlearn_tests`
copies the named test files and their package helpers (``__init__.py``,
``conftest.py``) into a temporary package, rebinds the names they test (``hmm``, or
``BaseHMM`` and ``ConvergenceMonitor``, or ``vhmm``) to fastgen's right after their imports, and
runs them with pytest in a child process, against the same ``fastgen`` this suite
imports.  The outcome of every test comes back from pytest's JUnit XML report.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pytest

__all__ = ["SuiteResult", "hmmlearn_tests_dir", "run_hmmlearn_tests"]

#: the names a test file imports, rebound to fastgen's (``hmm`` becomes ``fastgen.hmm``)
_SWAP = '''
import fastgen.hmm as _fastgen_hmm  # noqa: E402  (swapped in)

{rebind}


def test_fastgen_is_swapped_in():
    for obj in ({names},):
        assert obj.__name__.startswith("fastgen") or obj.__module__.startswith("fastgen"), obj

'''
#: the first top-level statement after the imports: the swap goes right before it
_BODY = re.compile(r"^(?:class |def |@|[A-Za-z_]\w* = )", re.MULTILINE)


@dataclass
class SuiteResult:
    """Outcomes of one run: test ids (``file::Class::test[param]``) by outcome."""

    passed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # id -> message
    skipped: dict[str, str] = field(default_factory=dict)
    xfailed: dict[str, str] = field(default_factory=dict)  # hmmlearn's own xfail marks
    output: str = ""

    def count(self, file: str) -> tuple[int, int]:
        """``(passed, run)`` of one test file (the swap check excluded)."""
        ids = [*self.passed, *self.failed, *self.skipped, *self.xfailed]
        mine = [t for t in ids if t.startswith(file + "::") and "fastgen_is_swapped_in" not in t]
        return sum(t in self.passed for t in mine), len(mine)


def hmmlearn_tests_dir() -> Path:
    """hmmlearn's test folder (skips the calling test if the wheel ships none)."""
    hmmlearn = pytest.importorskip("hmmlearn")
    folder = Path(hmmlearn.__file__).parent / "tests"
    if not (folder / "__init__.py").exists():
        pytest.skip("this hmmlearn installation ships no tests")
    return folder


def _swapped(text: str, file: str) -> str:
    """``text`` of ``file`` with fastgen's classes bound to the names it tests."""
    text = text.replace("from .. import hmm\n", "from hmmlearn import hmm\n")
    if re.search(r"^from hmmlearn\.base import BaseHMM, ConvergenceMonitor$", text, re.M):
        rebind = (
            "BaseHMM = _fastgen_hmm.BaseHMM\n"
            "ConvergenceMonitor = _fastgen_hmm.ConvergenceMonitor"
        )
        names = "BaseHMM, ConvergenceMonitor"
    elif re.search(r"^from \.\.hmm import GMMHMM$", text, re.M):
        text = text.replace("from ..hmm import GMMHMM\n", "from hmmlearn.hmm import GMMHMM\n")
        rebind, names = "GMMHMM = _fastgen_hmm.GMMHMM", "GMMHMM"
    elif re.search(r"^from hmmlearn import hmm, vhmm$", text, re.M):
        # the variational tests compare with hmmlearn's ``hmm`` models: only ``vhmm`` swaps
        rebind, names = "vhmm = _fastgen_hmm", "vhmm"
    elif re.search(r"^from hmmlearn import hmm$", text, re.M):
        rebind, names = "hmm = _fastgen_hmm", "hmm"
    else:
        raise AssertionError(f"hmmlearn's {file} changed shape: update the swap")
    match = _BODY.search(text)
    assert match, f"hmmlearn's {file} changed shape: update the swap"
    swap = _SWAP.format(rebind=rebind, names=names)
    return text[: match.start()] + swap + text[match.start() :]


def run_hmmlearn_tests(
    tmp_path: Path, files: list[str], not_applicable: dict[str, str], timeout: float = 900
) -> SuiteResult:
    """Run hmmlearn's ``files`` with fastgen swapped in, deselecting ``not_applicable``
    (test ids relative to the test folder, e.g. ``test_base.py::TestMonitor::test_reset``
    or a whole class ``test_base.py::TestBaseAgainstWikipedia``)."""
    import fastgen

    source = hmmlearn_tests_dir()
    pkg = tmp_path / "hmmlearn_tests"
    pkg.mkdir()
    for helper in ("__init__.py", "conftest.py"):
        (pkg / helper).write_text((source / helper).read_text(encoding="utf-8"))
    for file in files:
        text = (source / file).read_text(encoding="utf-8")
        (pkg / file).write_text(_swapped(text, file), encoding="utf-8")
    report = tmp_path / "report.xml"
    deselect = [arg for t in not_applicable for arg in ("--deselect", f"hmmlearn_tests/{t}")]
    # the child imports the fastgen this process imports, whatever its path
    fastgen_root = str(Path(fastgen.__file__).resolve().parent.parent)
    pythonpath = os.pathsep.join(filter(None, [fastgen_root, os.environ.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         f"--junitxml={report}", *deselect, *(f"hmmlearn_tests/{f}" for f in files)],
        cwd=tmp_path, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "HMMLEARN_SEED": "0", "PYTHONPATH": pythonpath},
    )  # fmt: skip
    result = SuiteResult(output=proc.stdout[-6000:] + proc.stderr[-3000:])
    if not report.exists():
        raise AssertionError(f"pytest wrote no report:\n{result.output}")
    for case in ET.parse(report).getroot().iter("testcase"):
        module = case.get("classname", "").split(".")
        # classname: hmmlearn_tests.test_base.TestMonitor -> test_base.py::TestMonitor
        file = f"{module[1]}.py" if len(module) > 1 else "?"
        test_id = "::".join([file, *module[2:], case.get("name", "")])
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        skipped = case.find("skipped")
        if failure is not None:
            result.failed[test_id] = (failure.get("message") or "")[:300]
        elif skipped is not None and skipped.get("type") == "pytest.xfail":
            result.xfailed[test_id] = skipped.get("message") or ""
        elif skipped is not None:
            result.skipped[test_id] = skipped.get("message") or ""
        else:
            result.passed.append(test_id)
    return result
