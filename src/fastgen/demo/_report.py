"""Section results, timing helpers and the Markdown / JSON report of the demo."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from fastgen._extras import DISTRIBUTION

T = TypeVar("T")


class SectionSkipped(RuntimeError):
    """A section cannot run here (a package it needs is missing); the message says which."""


# --------------------------------------------------------------------------- results


@dataclass
class Metric:
    """One row of a section's metric table; ``value`` is kept raw for ``summary.json``."""

    name: str
    value: float | int | str | bool
    fmt: str = ""  # format spec for floats, e.g. ".4f"
    unit: str = ""

    def text(self) -> str:
        v = self.value
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            s = str(v)
        elif self.fmt:
            s = format(v, self.fmt)
        elif isinstance(v, (int, np.integer)):
            s = f"{int(v):,}"
        else:
            s = f"{float(v):.4g}"
        return f"{s} {self.unit}".strip()


@dataclass
class Speed:
    """One timed operation: fastgen against an incumbent, both measured in this run."""

    operation: str
    fastgen_s: float
    incumbent: str
    incumbent_s: float | None  # None: the incumbent is not installed

    @property
    def speedup(self) -> float | None:
        if self.incumbent_s is None or self.fastgen_s <= 0:
            return None
        return self.incumbent_s / self.fastgen_s


@dataclass
class Check:
    """A correctness check the demo makes; a failed one makes the demo exit with 1."""

    name: str
    passed: bool
    detail: str = ""


@dataclass
class Section:
    """What one part of the demo measured, wrote and checked."""

    key: str
    title: str
    status: str = "ok"  # "ok" or "skipped"
    note: str = ""
    intro: list[str] = field(default_factory=list)
    metrics: list[Metric] = field(default_factory=list)
    speed: list[Speed] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    tables: list[tuple[str, list[str], list[list[str]]]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def metric(self, name: str, value: Any, fmt: str = "", unit: str = "") -> None:
        self.metrics.append(Metric(name, value, fmt, unit))

    def check(self, name: str, passed: bool, detail: str = "") -> bool:
        self.checks.append(Check(name, bool(passed), detail))
        return bool(passed)

    @property
    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]


# --------------------------------------------------------------------------- timing


def timed(fn: Callable[[], T], repeat: int = 1) -> tuple[T, float]:
    """Run ``fn`` ``repeat`` times; return its last result and the best wall time (s)."""
    best = math.inf
    result: Any = None
    for _ in range(max(int(repeat), 1)):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return result, best


class Progress:
    """Progress lines on stdout, prefixed with the seconds since the demo started."""

    def __init__(self, quiet: bool = False) -> None:
        self.t0 = time.perf_counter()
        self.quiet = quiet

    def __call__(self, msg: str) -> None:
        if not self.quiet:
            print(f"[{time.perf_counter() - self.t0:6.1f}s] {msg}", flush=True)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0


# --------------------------------------------------------------------------- rendering


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return out + [""]


def _seconds(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


def _file_size(path: Path) -> str:
    try:
        n = path.stat().st_size
    except OSError:
        return "missing"
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def render_section(sec: Section, out: Path) -> list[str]:
    lines = [f"## {sec.title}", ""]
    if sec.status != "ok":
        return lines + [f"**Skipped:** {sec.note}", ""]
    for par in sec.intro:
        lines += [par, ""]
    if sec.metrics:
        lines += _table(["metric", "value"], [[m.name, m.text()] for m in sec.metrics])
    for caption, header, rows in sec.tables:
        lines += [caption, ""] + _table(header, rows)
    if sec.speed:
        rows = []
        for s in sec.speed:
            inc = _seconds(s.incumbent_s) if s.incumbent_s is not None else "not installed"
            ratio = "-" if s.speedup is None else (
                f"{s.speedup:.1f}x" if s.speedup >= 0.1 else f"{s.speedup:.2g}x")
            rows.append([s.operation, _seconds(s.fastgen_s), f"{s.incumbent}: {inc}", ratio])
        lines += ["Speed (wall time, best of the timed runs, same process):", ""]
        lines += _table(["operation", "fastgen", "incumbent", "speed-up"], rows)
    if sec.checks:
        rows = [[c.name, "pass" if c.passed else "**FAIL**", c.detail] for c in sec.checks]
        lines += ["Checks:", ""] + _table(["check", "result", "detail"], rows)
    if sec.note:
        lines += [f"Note: {sec.note}", ""]
    if sec.files:
        lines += ["Files: " + ", ".join(f"`{f}` ({_file_size(out / f)})" for f in sec.files), ""]
    for name in sec.files:  # the figures themselves, beside report.md
        if name.endswith(".png") and (out / name).is_file():
            lines += [f"![{Path(name).stem.replace('_', ' ')}]({name})", ""]
    return lines


def environment() -> dict[str, str]:
    """Versions of Python, the platform and the packages the demo compares."""
    from importlib.metadata import PackageNotFoundError, version

    env = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg, dists in (("fastgen", [DISTRIBUTION]), ("numpy", ["numpy"]),
                       ("scikit-learn", ["scikit-learn"]), ("hmmlearn", ["hmmlearn"]),
                       ("tensorflow", ["tensorflow", "tensorflow-cpu"]), ("keras", ["keras"]),
                       ("onnxruntime", ["onnxruntime", "onnxruntime-gpu"])):
        env[pkg] = "not installed"
        for dist in dists:
            try:
                env[pkg] = f"{version(dist)}" + ("" if dist == pkg else f" ({dist})")
                break
            except PackageNotFoundError:
                continue
    try:
        env["cpus"] = str(len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        env["cpus"] = str(os.cpu_count())
    return env


def render_report(sections: list[Section], env: dict[str, str], total_s: float,
                  mode: str, out: Path) -> str:
    lines = [
        "# fastgen demo",
        "",
        f"Mode: {mode}; total wall time {total_s:.1f} s.  Every number comes from data "
        "shipped inside installed packages; incumbents were timed in the same process.",
        "",
    ]
    lines += _table(["section", "status", "time"], [
        [s.title, s.status if not s.failed_checks else "checks failed", f"{s.seconds:.1f} s"]
        for s in sections
    ])
    for sec in sections:
        lines += render_section(sec, out)
    lines += ["## Environment", ""]
    lines += _table(["component", "version"], [[k, v] for k, v in env.items()])
    return "\n".join(lines)


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def write_summary(path: Path, sections: list[Section], env: dict[str, str],
                  total_s: float, mode: str) -> None:
    """``summary.json``: the raw metrics, speed rows and checks of every section."""
    data = {
        "mode": mode,
        "total_seconds": total_s,
        "environment": env,
        "sections": {
            s.key: {
                "title": s.title,
                "status": s.status,
                "note": s.note,
                "seconds": s.seconds,
                "metrics": {m.name: _jsonable(m.value) for m in s.metrics},
                "speed": [
                    {"operation": r.operation, "fastgen_s": r.fastgen_s,
                     "incumbent": r.incumbent, "incumbent_s": r.incumbent_s,
                     "speedup": r.speedup}
                    for r in s.speed
                ],
                "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail}
                           for c in s.checks],
                "files": s.files,
            }
            for s in sections
        },
    }
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
