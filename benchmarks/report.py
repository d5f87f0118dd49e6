"""Render pytest-benchmark JSON as a Markdown comparison table.

Usage::

    python -m benchmarks.report benchmark-results/results.json [more.json ...]

For every benchmark group (operation + data set) one row per fastgen variant and
incumbent variant (scikit-learn, hmmlearn or Keras: every ``impl`` other than
``fastgen``): both mean times from the same run, the speed-up (incumbent mean / fastgen
mean; the targets are judged on it), the best-round speed-up (incumbent's fastest round
/ fastgen's fastest round), throughput in MB of UTF-8 text per second where it applies,
peak RSS where recorded, and the project's target for that group. The first-call group
(fresh process on a fresh install, ``FIRST_CALL_GROUP_PREFIX``) gets a table with the
variants side by side and the incumbent / fastgen ratios; the other fresh-process groups
(group name starting with one of ``STARTUP_GROUP_PREFIXES``: neural serving start-up)
get one generic table each, listing the ``*_s`` / ``*_mb`` fields of ``extra_info``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

# Targets from the project's issues: minimum speed-up over the incumbent, keyed by group
# and, where it matters, by the fastgen variant's n_jobs or the incumbent variant's name
# (None: any).
TARGETS: dict[str, dict[int | str | None, float]] = {
    "CountVectorizer.fit_transform[synthetic]": {1: 8.0, 2: 14.0},
    "CountVectorizer.transform[synthetic]": {None: 10.0},
    "HashingVectorizer.transform[synthetic]": {None: 10.0},
    "TextClassifier.predict_proba[synthetic]": {None: 10.0},
    "TfidfVectorizer.fit_transform[synthetic]": {1: 12.0, 2: 20.0},
    "TfidfVectorizer.transform[synthetic]": {1: 12.0, 2: 20.0},
    "TfidfVectorizer+MultinomialNB.predict_proba[synthetic]": {1: 12.0, 2: 20.0},
    "Autoencoder.reconstruct[784]": {"keras-predict": 3.5, "keras-call": 1.5},
    "VAE.encode[784]": {"keras-predict": 3.5, "keras-call": 1.5},
}
_HMM_MANY = {"em_step": 15.0, "predict": 8.0, "score": 10.0, "predict_proba": 20.0}
for _model in ("gauss-diag-K4", "gauss-diag-K16", "gauss-full-K4", "gauss-full-K16",
               "categorical-K8"):
    for _op, _x in _HMM_MANY.items():
        TARGETS[f"HMM.{_op}[{_model}-many]"] = {None: _x}
    if _model.startswith("gauss"):
        TARGETS[f"HMM.em_step[{_model}-long]"] = {None: 10.0}
FIRST_CALL_GROUP_PREFIX = "first call"
# fresh-process groups (import / first call / peak RSS) rendered as generic tables
STARTUP_GROUP_PREFIXES = ("startup",)
# the first-call table: (row label, extra_info field), the HMM breakdown's models and calls
FIRST_CALL_ROWS = [
    ("import", "import_s"),
    ("HMM first use (5 models × fit, predict, predict_proba, score)", "hmm_first_use_s"),
    ("NB first fit (CountVectorizer.fit_transform + MultinomialNB.fit)", "nb_first_fit_s"),
    ("total (inside the child)", "total_s"),
    ("process (wall time of the subprocess)", "process_s"),
]
FIRST_CALL_HMM_MODELS = ("spherical", "diag", "full", "tied", "categorical")
FIRST_CALL_HMM_OPS = ("fit", "predict", "predict_proba", "score")
# carried over from the Numba era's "HMM fit + predict in a fresh process < 1 s"
FIRST_CALL_TARGET_S = 1.0


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds >= 1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def fmt_num(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{x:,.{digits}f}"


def fmt_mem(info: dict | None) -> str:
    if not info or info.get("peak_rss_mb") is None:
        return "—"
    text = f"{info['peak_rss_mb']:,.0f}"
    if info.get("peak_rss_increase_mb") is not None:
        text += f" (+{info['peak_rss_increase_mb']:,.0f})"
    return text


def target_for(group: str, n_jobs: int | None, incumbent: str | None = None) -> float | None:
    targets = TARGETS.get(group)
    if not targets:
        return None
    if incumbent in targets:
        return targets[incumbent]
    return targets.get(n_jobs, targets.get(None))


def mb_per_s(bench: dict) -> float | None:
    mb = bench.get("extra_info", {}).get("corpus_mb")
    mean = bench["stats"]["mean"]
    return mb / mean if mb and mean else None


def load(paths: list[str]) -> tuple[list[dict], dict]:
    benches: list[dict] = []
    meta: dict = {}
    for path in paths:
        data = json.loads(Path(path).read_text())
        benches += data.get("benchmarks", [])
        meta = meta or {k: data.get(k) for k in ("machine_info", "datetime", "commit_info")}
    return benches, meta


def variant_of(bench: dict) -> str:
    info = bench.get("extra_info", {})
    if "variant" in info:
        return info["variant"]
    param = bench.get("param") or bench["name"]
    return str(param)


def render(benches: list[dict], meta: dict) -> str:
    out: list[str] = ["# fastgen vs the incumbents (scikit-learn, hmmlearn, Keras)", ""]
    machine = meta.get("machine_info") or {}
    cpu = (machine.get("cpu") or {}).get("brand_raw") or machine.get("processor") or "?"
    sizes = sorted({b.get("extra_info", {}).get("dataset_size", "?") for b in benches})
    out.append(
        f"Size: {', '.join(map(str, sizes))} · Python {machine.get('python_version', '?')}"
        f" · CPU: {cpu} · {meta.get('datetime') or ''}"
    )
    out.append("")

    groups: dict[str, list[dict]] = defaultdict(list)
    for b in benches:
        groups[b.get("group") or b["name"]].append(b)

    rows = [
        "| group | docs | text MB | variant | fastgen mean | incumbent | incumbent mean "
        "| speed-up | best-round speed-up | fastgen MB/s | incumbent MB/s "
        "| peak RSS MB fastgen (+Δ) | incumbent (+Δ) | target |",
        "|---|---:|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for group, members in groups.items():
        if group.startswith((*STARTUP_GROUP_PREFIXES, FIRST_CALL_GROUP_PREFIX)):
            continue
        # the incumbent (scikit-learn, hmmlearn, Keras) is every non-fastgen variant
        incumbents = [b for b in members if b.get("extra_info", {}).get("impl") != "fastgen"]
        fg = [b for b in members if b.get("extra_info", {}).get("impl") == "fastgen"]
        ref = incumbents[0] if incumbents else members[0]
        info0 = ref.get("extra_info", {})
        docs = fmt_num(info0.get("n_docs"), 0)
        mb = fmt_num(info0.get("corpus_mb"), 2)
        if not fg:
            for inc in incumbents:
                rows.append(f"| {group} | {docs} | {mb} | (no fastgen result) | — "
                            f"| {variant_of(inc)} | {fmt_time(inc['stats']['mean'])} | — | — | — "
                            f"| {fmt_num(mb_per_s(inc))} | — | {fmt_mem(inc.get('extra_info'))} "
                            "| |")
            continue
        for b in sorted(fg, key=variant_of):
            for inc in incumbents or [None]:
                rows.append(_row(group, docs, mb, b, inc))
    if len(rows) > 2:
        out += rows

    for group, members in groups.items():
        if group.startswith(FIRST_CALL_GROUP_PREFIX):
            out += _first_call_table(group, members)

    for group, members in groups.items():
        if group.startswith(STARTUP_GROUP_PREFIXES):
            out += _startup_table(group, members)

    out += [
        "",
        "speed-up = incumbent mean / fastgen mean in the same run (the targets are judged "
        "on it); best-round speed-up = incumbent's fastest round / fastgen's fastest round, "
        "less sensitive to a noisy machine; MB/s = UTF-8 MB of the "
        "input documents / mean time; peak RSS = whole-process high-water mark of a fresh "
        "interpreter running `fit_transform` once, (+Δ) = increase over the RSS just before "
        "the call.",
    ]
    return "\n".join(out) + "\n"


def _row(group: str, docs: str, mb: str, b: dict, inc: dict | None) -> str:
    """One table row: fastgen variant ``b`` against incumbent variant ``inc``."""
    info = b.get("extra_info", {})
    mean = b["stats"]["mean"]
    inc_mean = inc["stats"]["mean"] if inc else None
    speedup = inc_mean / mean if inc_mean and mean else None
    best, inc_best = b["stats"].get("min"), (inc or {}).get("stats", {}).get("min")
    best_speedup = inc_best / best if inc_best and best else None
    target = target_for(group, info.get("n_jobs"), variant_of(inc) if inc else None)
    notes = []
    if target is not None:
        verdict = "—" if speedup is None else ("met" if speedup >= target else "MISSED")
        notes.append(f"≥{target:g}×: {verdict}")
    # memory target on the call's own increase (Δ): the absolute peak also
    # counts the libraries each side imports
    fg_peak = info.get("peak_rss_increase_mb")
    inc_peak = (inc or {}).get("extra_info", {}).get("peak_rss_increase_mb")
    if fg_peak is not None and inc_peak is not None:
        notes.append("Δmem ≤ incumbent: " + ("met" if fg_peak <= inc_peak else "MISSED"))
    return (
        f"| {group} | {docs} | {mb} | {variant_of(b)} | {fmt_time(mean)} "
        f"| {variant_of(inc) if inc else '—'} | {fmt_time(inc_mean)} "
        f"| {'—' if speedup is None else f'{speedup:.2f}×'} "
        f"| {'—' if best_speedup is None else f'{best_speedup:.2f}×'} "
        f"| {fmt_num(mb_per_s(b))} | {fmt_num(mb_per_s(inc)) if inc else '—'} "
        f"| {fmt_mem(info)} | {fmt_mem(inc.get('extra_info')) if inc else '—'} "
        f"| {'; '.join(notes)} |"
    )


def _startup_notes(group: str, info: dict, incumbent: dict | None) -> list[str]:
    """Targets from the issue for the fresh-process groups."""
    notes = []
    if group.startswith("startup") and info.get("impl") == "fastgen":
        if info.get("import_load_s") is not None:
            ok = info["import_load_s"] <= 0.5
            notes.append(f"import+load ≤ 0.5 s: {'met' if ok else 'MISSED'}")
        inc_rss = (incumbent or {}).get("peak_rss_mb")
        if info.get("peak_rss_mb") is not None and inc_rss:
            ok = info["peak_rss_mb"] <= inc_rss / 4
            notes.append(f"peak RSS ≤ ¼ incumbent ({info['peak_rss_mb'] / inc_rss:.2f}×): "
                         + ("met" if ok else "MISSED"))
    return notes


def _startup_table(group: str, members: list[dict]) -> list[str]:
    """One generic table for a fresh-process group: every ``*_s`` / ``*_mb`` field."""
    infos = [b.get("extra_info", {}) for b in members]
    keys: list[str] = []
    for info in infos:
        keys += [k for k in info if k.endswith(("_s", "_mb")) and k not in keys]
    incumbent = next((i for i in infos if i.get("impl") != "fastgen"), None)
    lines = [
        "",
        f"## {group}",
        "",
        "Fresh interpreter per round; mean = the whole subprocess as timed by "
        "pytest-benchmark; the other columns are medians over the rounds of what the "
        "subprocess measured itself.",
        "",
        "| variant | mean | " + " | ".join(keys) + " | target |",
        "|---|---:|" + "---:|" * len(keys) + "---|",
    ]
    for b, info in sorted(zip(members, infos, strict=True), key=lambda p: variant_of(p[0])):
        cells = [
            fmt_num(info.get(k), 0) if k.endswith("_mb") else fmt_time(info.get(k))
            for k in keys
        ]
        notes = _startup_notes(group, info, incumbent)
        lines.append(f"| {variant_of(b)} | {fmt_time(b['stats']['mean'])} | "
                     + " | ".join(cells) + f" | {'; '.join(notes)} |")
    return lines


def _ratio(num: float | None, den: float | None) -> str:
    if not num or not den:
        return "—"
    return f"{num / den:.2f}×" if num / den < 10 else f"{num / den:.1f}×"


def _first_call_table(group: str, members: list[dict]) -> list[str]:
    """The variants side by side (fastgen ones first), then incumbent / fastgen ratios."""
    members = sorted(members, key=lambda b: (b.get("extra_info", {}).get("impl") != "fastgen",
                                             variant_of(b)))
    infos = [b.get("extra_info", {}) for b in members]
    fg = [i for i in infos if i.get("impl") == "fastgen"]  # the first len(fg) columns
    inc = next((k for k, i in enumerate(infos) if i.get("impl") != "fastgen"), None)
    names = [variant_of(b) for b in members]
    ratio_names = names[: len(fg)] if inc is not None else []
    header = ["", *names, *(f"{names[inc]} / {n}" for n in ratio_names)]

    def row(label: str, values: list[float | None]) -> str:
        ratios = [_ratio(values[inc], v) for v in values[: len(ratio_names)]]
        return "| " + " | ".join([label, *map(fmt_time, values), *ratios]) + " |"

    installs = sorted({i["install"] for i in fg if i.get("install")})
    lines = [
        "",
        f"## {group}",
        "",
        "Each round installs fastgen into a new empty folder and runs one new interpreter "
        "on it (`HOME` empty, no cache), the incumbent likewise from the environment; "
        "medians over the rounds of what the child timed itself (`process` is the "
        "parent's wall time of the subprocess).  `fastgen`: `.pyc` compiled at install "
        "time (pip's default); `fastgen-no-pyc`: `pip install --no-compile`, the first "
        "import compiles the byte code.  Install: " + "; ".join(installs or ["?"]) + ".",
        "",
        "| " + " | ".join(header) + " |",
        "|---|" + "---:|" * (len(header) - 1),
    ]
    lines += [row(label, [i.get(key) for i in infos]) for label, key in FIRST_CALL_ROWS]
    lines.append(row("install (untimed setup)", [i.get("install_s") for i in infos]))
    # the Numba-era target: import + the first GaussianHMM fit + predict under 1 s
    for i in fg:
        parts = [i.get(k) for k in ("import_s", "hmm_diag_fit_s", "hmm_diag_predict_s")]
        if None not in parts:
            first = sum(parts)
            lines.append(f"\n{i.get('variant')}: import + first GaussianHMM(diag) fit + predict "
                         f"= {fmt_time(first)} (target < {FIRST_CALL_TARGET_S:g} s: "
                         f"{'met' if first < FIRST_CALL_TARGET_S else 'MISSED'})")
    lines += [
        "",
        "<details><summary>HMM first use, call by call</summary>",
        "",
        "| model | call | " + " | ".join(header[1:]) + " |",
        "|---|---|" + "---:|" * (len(header) - 1),
    ]
    for model in FIRST_CALL_HMM_MODELS:
        for op in FIRST_CALL_HMM_OPS:
            values = [i.get(f"hmm_{model}_{op}_s") for i in infos]
            if any(v is not None for v in values):
                lines.append(row(f"{model} | {op}", values))
    lines += ["", "</details>"]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", nargs="+", help="pytest-benchmark --benchmark-json output")
    args = parser.parse_args(argv)
    benches, meta = load(args.json)
    if not benches:
        print("no benchmarks in the input (was it run with --benchmark-disable?)",
              file=sys.stderr)
        return 1
    sys.stdout.write(render(benches, meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
