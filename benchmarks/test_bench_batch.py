"""``fastgen predict`` (``fastgen.batch.predict_file``) vs the plain in-memory Python API.

Groups: ``batch predict[NB-text]`` (TextClassifier on a ``.txt`` corpus, one document
per line), ``batch predict[AE]`` (Autoencoder ``encode`` of a ``.npy`` of 32 features)
and ``batch predict[HMM]`` (GaussianHMM Viterbi states of a ``.npy`` plus a lengths
file).  Both variants run file to file in a fresh interpreter per round, from the same
saved model file, so the timings include reading and writing:

* ``python-api`` (the baseline row): load the whole input into memory, call the
  model's method once, ``np.save`` the result;
* ``fastgen``: ``predict_file(model_file, input, output)`` with default chunking.

The timed value is the subprocess; ``extra_info`` holds what the child measured itself:
``job_s`` (read + predict + write, after imports and model loading), ``rows_per_s``,
``peak_rss_mb`` (``VmHWM``) and ``peak_rss_increase_mb`` (the job's own growth, after
resetting the high-water mark with ``/proc/self/clear_refs`` where allowed), and on the
fastgen row the ratios ``throughput_ratio_vs_api`` and ``peak_rss_ratio_vs_api``.
Outputs are checked equal (HMM, NB) or close (AE) outside the timing.

Sizes: ``small`` 2,000 documents / 2,000 rows / 200 sequences; ``full`` 1,000,000
documents (200,000 distinct generated documents, repeated), 1,000,000 rows, 10,000
sequences (50-150 steps); an integer N: N documents, N rows, N // 100 sequences.
No timing assertions.
"""

from __future__ import annotations

import json
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from benchmarks.conftest import SEED, import_fastgen, run_python_json, subprocess_env
from benchmarks.corpus import make_corpus, make_vocabulary

IMPLS = ["python-api", "fastgen"]
_RESULTS: dict[str, dict[str, dict]] = {}  # group -> impl -> child measurements


@dataclass(frozen=True)
class Job:
    group: str
    model: Path
    input: Path
    n_rows: int
    method: str
    extra: dict  # lengths file for the HMM


def sizes(size) -> tuple[int, int, int]:
    """(documents, AE rows, HMM sequences) for the benchmark size."""
    if size.name == "small":
        return 2_000, 2_000, 200
    if size.name == "full":
        return 1_000_000, 1_000_000, 10_000
    n = int(size.name)
    return n, n, max(n // 100, 1)


_CHILD = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    import fastgen

    impl, model_path, src, out, method, extra = sys.argv[1:7]
    extra = json.loads(extra)

    def status(field):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
        return None

    if impl == "fastgen":
        from fastgen.batch import predict_file
    model = fastgen.load(model_path)
    rss_before = status("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        method_note = "VmHWM after clear_refs"
    except OSError:
        method_note = "VmHWM (includes imports and the model)"
    t0 = time.perf_counter()
    if impl == "fastgen":
        rows = predict_file(model, src, out, method=method,
                            lengths=extra.get("lengths"), progress=False).rows
    else:
        if src.endswith(".txt"):
            with open(src, encoding="utf-8") as f:
                data = f.read().split("\\n")
            if data and data[-1] == "":
                data.pop()
            result = getattr(model, method)(data)
        elif "lengths" in extra:
            result = getattr(model, method)(np.load(src), np.load(extra["lengths"]))
        else:
            result = getattr(model, method)(np.load(src))
        np.save(out, result)
        rows = len(result)
    job_s = time.perf_counter() - t0
    peak = status("VmHWM")
    print(json.dumps({
        "job_s": job_s, "rows": rows, "rows_per_s": rows / job_s,
        "peak_rss_mb": round(peak, 1),
        "peak_rss_increase_mb": round(peak - rss_before, 1)
        if method_note.endswith("clear_refs") else None,
        "peak_rss_method": method_note,
    }))
    """
)


# --------------------------------------------------------------------------- data


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("batch")


@pytest.fixture(scope="module")
def nb_job(size, workdir) -> Job:
    import_fastgen("batch")
    pipeline = import_fastgen("pipeline")
    from fastgen import save
    from fastgen.naive_bayes import MultinomialNB
    from fastgen.text import CountVectorizer

    n_docs, _, _ = sizes(size)
    unique = min(n_docs, 200_000)
    vocab = make_vocabulary(50_000, seed=SEED)
    docs, y = make_corpus(unique, seed=SEED, vocabulary=vocab)
    docs = [" ".join(d.split("\n")).replace("\r", " ") for d in docs]  # one per line
    n_train = min(unique, 20_000)
    model = pipeline.TextClassifier(CountVectorizer(), MultinomialNB()).fit(
        docs[:n_train], y[:n_train]
    )
    save(model, workdir / "nb.fgm")
    path = workdir / "docs.txt"
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        written = 0
        while written < n_docs:
            part = docs[: n_docs - written]
            f.write("\n".join(part) + "\n")
            written += len(part)
    return Job("batch predict[NB-text]", workdir / "nb.fgm", path, n_docs, "predict", {})


@pytest.fixture(scope="module")
def ae_job(size, workdir) -> Job:
    for mod in ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime"):
        pytest.importorskip(mod)
    nn = import_fastgen("nn")
    _, n_rows, _ = sizes(size)
    rng = np.random.default_rng(SEED)
    train = rng.random((1024, 32), dtype=np.float32)
    est = nn.Autoencoder(32, hidden=(64,), latent_dim=8).fit(train, epochs=1, batch_size=256)
    est.export(workdir / "ae.fgm")
    path = workdir / "rows.npy"
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n_rows, 32))
    for start in range(0, n_rows, 100_000):  # bounded memory at full size
        stop = min(start + 100_000, n_rows)
        out[start:stop] = rng.random((stop - start, 32), dtype=np.float32)
    out.flush()
    del out
    return Job("batch predict[AE]", workdir / "ae.fgm", path, n_rows, "encode", {})


@pytest.fixture(scope="module")
def hmm_job(size, workdir) -> Job:
    hmm = import_fastgen("hmm")
    from fastgen import save

    _, _, n_seq = sizes(size)
    rng = np.random.default_rng(SEED)
    lengths = rng.integers(50, 151, n_seq)
    n = int(lengths.sum())
    states = rng.integers(0, 4, n)
    X = rng.standard_normal((n, 4)) + 3.0 * states[:, None]
    k = min(n_seq, 100)
    model = hmm.GaussianHMM(4, n_iter=5, random_state=0).fit(X[: lengths[:k].sum()], lengths[:k])
    save(model, workdir / "hmm.fgm")
    np.save(workdir / "obs.npy", X)
    np.save(workdir / "lengths.npy", lengths)
    return Job("batch predict[HMM]", workdir / "hmm.fgm", workdir / "obs.npy", n, "predict",
               {"lengths": str(workdir / "lengths.npy")})


# --------------------------------------------------------------------------- benchmark


def _bench(benchmark, impl: str, job: Job, size, workdir: Path) -> None:
    out = workdir / f"{job.model.stem}-{impl}.npy"
    env = subprocess_env(TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    results = []

    def run():
        t = time.perf_counter()
        res = run_python_json(_CHILD, impl, str(job.model), str(job.input), str(out),
                              job.method, json.dumps(job.extra), env=env, timeout=3600)
        res["process_s"] = time.perf_counter() - t
        results.append(res)
        return res

    benchmark.group = job.group
    mb = job.input.stat().st_size / 1e6
    info = benchmark.extra_info
    info.update(impl=impl, variant=impl, dataset_size=size.name, n_docs=job.n_rows,
                n_rows=job.n_rows, corpus_mb=round(mb, 3), method=job.method)
    res = benchmark.pedantic(run, rounds=min(size.rounds, 3), warmup_rounds=0, iterations=1)
    assert res["rows"] == job.n_rows
    for key in ("job_s", "rows_per_s", "peak_rss_mb", "process_s"):
        info[key] = round(float(np.median([r[key] for r in results])), 4)
    inc = [r["peak_rss_increase_mb"] for r in results if r["peak_rss_increase_mb"] is not None]
    info["peak_rss_increase_mb"] = round(float(np.median(inc)), 1) if inc else None
    info["peak_rss_method"] = res["peak_rss_method"]
    _RESULTS.setdefault(job.group, {})[impl] = dict(info)
    mean = getattr(getattr(getattr(benchmark, "stats", None), "stats", None), "mean", None)
    if mean:
        info["docs_per_s"] = round(job.n_rows / mean, 1)
    api = _RESULTS[job.group].get("python-api")
    if impl == "fastgen" and api is not None:
        info["throughput_ratio_vs_api"] = round(info["rows_per_s"] / api["rows_per_s"], 3)
        info["peak_rss_ratio_vs_api"] = round(info["peak_rss_mb"] / api["peak_rss_mb"], 3)
        a = np.load(workdir / f"{job.model.stem}-python-api.npy")
        b = np.load(out)
        assert a.shape == b.shape
        if job.group.endswith("[AE]"):
            np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(b, a)


@pytest.mark.parametrize("impl", IMPLS)
def test_batch_nb_text(benchmark, impl, nb_job, size, workdir):
    _bench(benchmark, impl, nb_job, size, workdir)


@pytest.mark.parametrize("impl", IMPLS)
def test_batch_autoencoder(benchmark, impl, ae_job, size, workdir):
    _bench(benchmark, impl, ae_job, size, workdir)


@pytest.mark.parametrize("impl", IMPLS)
def test_batch_hmm(benchmark, impl, hmm_job, size, workdir):
    _bench(benchmark, impl, hmm_job, size, workdir)
