"""Every usage snippet of README.md runs as written, in order, as a reader following it
top to bottom would run it: the Python blocks in one namespace, then each ``fastgen``
command of the command-line block, all in one fresh folder.

Not run here: the ``bash`` blocks of ``make`` targets and ``pip install`` lines (they are
the build and CI themselves: ``make test`` runs this file), and two commands of the
command-line block that ``make test`` runs anyway: ``fastgen bench`` (the benchmark
suite, minutes) and ``fastgen demo`` (tests/test_demo.py runs it).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
#: commands of the command-line block that make test runs elsewhere (see above)
RUN_ELSEWHERE = ("fastgen bench", "fastgen demo")
NEEDS = {"train": ("tensorflow", "keras", "tf2onnx", "onnx"), "dask": ("dask", "distributed"),
         "io": ("pandas", "pyarrow")}  # fmt: skip


def blocks() -> list[tuple[int, str, str]]:
    """``(line, language, code)`` of README's fenced blocks, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [
        (text[: m.start()].count("\n") + 1, m.group(1), m.group(2))
        for m in BLOCK.finditer(text)
    ]


def commands(code: str) -> list[str]:
    """The ``fastgen`` commands of a bash block, continuation lines joined and comments
    dropped."""
    out = []
    for line in code.replace("\\\n", " ").splitlines():
        line = line.split("  #")[0].strip()
        if line.startswith("fastgen "):
            out.append(line)
    return out


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    for extra, modules in NEEDS.items():  # looked up, not imported (as a reader's session)
        missing = [name for name in modules if importlib.util.find_spec(name) is None]
        if missing:
            pytest.skip(f"README's snippets need the {extra} extra (missing {missing})")
    folder = tmp_path_factory.mktemp("readme")
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        yield folder, {"__name__": "__readme__"}
    finally:
        os.chdir(cwd)


def run_commands(code: str, folder: Path, line: int) -> int:
    """Run the ``fastgen`` commands of a bash block in ``folder``; how many ran."""
    ran = 0
    for command in commands(code):
        if command.startswith(RUN_ELSEWHERE):
            continue
        argv = [sys.executable, "-m", "fastgen", *shlex.split(command)[1:]]
        proc = subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=600,
                              check=False)  # fmt: skip
        assert proc.returncode == 0, f"README.md:{line}: {command}\n{proc.stderr[-2000:]}"
        ran += 1
    return ran


def test_snippets_run_in_order(session):
    folder, namespace = session
    n_python = n_commands = 0
    for line, lang, code in blocks():
        if lang == "python":
            try:
                exec(compile(code, f"README.md:{line}", "exec"), namespace)
            except Exception as exc:  # the README line of the failing block, then the error
                raise AssertionError(f"README.md block at line {line} failed: {exc!r}") from exc
            n_python += 1
        elif lang == "bash" and "fastgen train" in code:  # the command-line block
            n_commands += run_commands(code, folder, line)
    assert n_python >= 7 and n_commands >= 10
    assert (folder / "labels.csv").is_file() and (folder / "samples.npy").is_file()
