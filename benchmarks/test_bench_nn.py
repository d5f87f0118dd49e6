"""fastgen.nn (onnxruntime) vs Keras: rows through the 784-feature reference models.

Groups: ``Autoencoder.reconstruct[784]`` and ``VAE.encode[784]``, each with four
variants timed in the same run: ``keras-predict`` (``keras_model.predict(X,
batch_size=1024)``), ``keras-call`` (one eager ``model(X)`` call on all rows) and
``fastgen`` (``fastgen.nn.load(path)`` on CPU, default batch size and threads), plus
``fastgen-int8``: the same model after ``fastgen.nn.quantize_dynamic`` (int8 weights).  The
models are the defaults at ``input_dim=784`` (784-128-64-32-64-128-784), trained for one epoch
on random data (untimed; inference cost does not depend on the weights).  Every
fastgen result is compared with Keras's outside the timed call (max abs diff
<= 1e-5; for int8 the accuracy change is recorded in extra_info -- max and mean abs
diff vs Keras, and for the autoencoder the reconstruction MSE against the input, float
vs int8 -- and bounded by ``INT8_ATOL``).  Rows: 2,000 (``FASTGEN_BENCH_SIZE=small``),
100,000 (``full``) or the integer given.  extra_info adds ``cpu_s``: the process's CPU
seconds per call (all threads), steadier than wall time when other processes share the cores.
No timing assertions.

The incumbent rows (``impl`` other than ``"fastgen"``) are the baseline in
``benchmarks.report``; here they are Keras.
"""

from __future__ import annotations

import textwrap
import time
from dataclasses import dataclass

import numpy as np
import pytest

from benchmarks.conftest import (
    cached,
    import_fastgen,
    run_benchmark,
    run_python_json,
    subprocess_env,
)

for _mod in ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime"):
    pytest.importorskip(_mod)

INPUT_DIM = 784
ATOL = 1e-5
#: Bound on |int8 - Keras| (sigmoid reconstructions in [0, 1]; codes of order 1).
INT8_ATOL = 0.1


@dataclass(frozen=True)
class NNVariant:
    impl: str
    mode: str | None = None
    n_jobs: None = None

    @property
    def id(self) -> str:
        return self.impl if self.mode is None else f"{self.impl}-{self.mode}"

    @property
    def is_fastgen(self) -> bool:
        return self.impl == "fastgen"


KERAS_PREDICT = NNVariant("keras", "predict")
KERAS_CALL = NNVariant("keras", "call")
FASTGEN_ORT = NNVariant("fastgen")
FASTGEN_INT8 = NNVariant("fastgen", "int8")
VARIANTS = [KERAS_PREDICT, KERAS_CALL, FASTGEN_ORT, FASTGEN_INT8]


def n_rows(size) -> int:
    if size.name == "small":
        return 2_000
    if size.name == "full":
        return 100_000
    return int(size.name)


@pytest.fixture(scope="module")
def rows(size) -> np.ndarray:
    rng = np.random.default_rng(20240601)
    return rng.random((n_rows(size), INPUT_DIM), dtype=np.float32)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> dict:
    """The two reference models, trained briefly and exported, each with an int8
    copy (untimed): name -> (estimator, {variant mode: model file})."""
    nn = import_fastgen("nn")
    X = np.random.default_rng(0).random((1024, INPUT_DIM), dtype=np.float32)
    out = {}
    for name, cls in (("autoencoder", nn.Autoencoder), ("vae", nn.VAE)):
        est = cls(INPUT_DIM).fit(X, epochs=1, batch_size=256)
        folder = tmp_path_factory.mktemp("nn")
        path, int8_path = folder / f"{name}.fgm", folder / f"{name}.int8.fgm"
        est.export(path)
        nn.quantize_dynamic(path, int8_path)
        out[name] = (est, {None: path, "int8": int8_path})
    return out


def _served(fitted: dict, name: str, variant: NNVariant):
    """(estimator, onnxruntime model) of ``name`` for a fastgen ``variant``."""
    est, paths = fitted[name]
    return est, import_fastgen("nn").load(paths[variant.mode if variant.is_fastgen else None],
                                          device="cpu")


def _keras_fn(model, variant: NNVariant):
    if variant.mode == "predict":
        return lambda X: model.predict(X, batch_size=1024, verbose=0)
    return lambda X: model(X, training=False)


def _as_list(out) -> list[np.ndarray]:
    if not isinstance(out, (list, tuple)):
        out = [out]
    return [np.asarray(o) for o in out]


def _bench(benchmark, variant, rows, size, reference, group, keras_model, served, fastgen_fn):
    if variant.is_fastgen:
        fn = fastgen_fn
    else:
        fn = _keras_fn(keras_model, variant)
        fn(rows[:8])  # build/trace once, untimed
    cpu: list[float] = []

    def timed():
        start = time.process_time()
        result = fn(rows)
        cpu.append(time.process_time() - start)
        return result

    out = run_benchmark(
        benchmark,
        timed,
        group=group,
        variant=variant,
        size=size,
        n_docs=len(rows),
        corpus_mb=rows.nbytes / 1e6,
        n_rows=len(rows),
    )
    # CPU seconds of the whole process per call (all threads; median of the timed
    # rounds): less sensitive than wall time to other processes on the same cores
    benchmark.extra_info["cpu_s"] = round(float(np.median(cpu[1:] or cpu)), 4)
    if variant.is_fastgen:
        benchmark.extra_info.update(threads=served.n_jobs, batch_size=served.batch_size)
    got = _as_list(out)
    expected = cached(
        reference, (group, len(rows)), lambda: _as_list(keras_model(rows, training=False))
    )
    assert len(got) == len(expected)
    info = benchmark.extra_info
    for g, e in zip(got, expected, strict=True):
        assert g.shape == e.shape, (g.shape, e.shape)
        diff = np.abs(g.astype(np.float64) - e)
        assert np.all(np.isfinite(g))
        assert diff.max() <= (INT8_ATOL if variant.mode == "int8" else ATOL), diff.max()
        info["max_abs_diff_vs_keras"] = max(float(diff.max()),
                                            info.get("max_abs_diff_vs_keras", 0.0))
        info["mean_abs_diff_vs_keras"] = max(float(diff.mean()),
                                             info.get("mean_abs_diff_vs_keras", 0.0))
    if group.startswith("Autoencoder"):  # accuracy as users see it: error against the input
        info["reconstruction_mse"] = float(np.mean((got[0].astype(np.float64) - rows) ** 2))
        info["keras_reconstruction_mse"] = float(np.mean((expected[0] - rows) ** 2))


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.id for v in VARIANTS])
def test_autoencoder_reconstruct(benchmark, variant, rows, size, reference, fitted):
    est, served = _served(fitted, "autoencoder", variant)
    _bench(
        benchmark,
        variant,
        rows,
        size,
        reference,
        "Autoencoder.reconstruct[784]",
        est.keras_model_,
        served,
        served.reconstruct,
    )


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.id for v in VARIANTS])
def test_vae_encode(benchmark, variant, rows, size, reference, fitted):
    est, served = _served(fitted, "vae", variant)
    _bench(
        benchmark,
        variant,
        rows,
        size,
        reference,
        "VAE.encode[784]",
        est.encoder_,
        served,
        lambda X: served.encode(X, return_log_var=True),
    )


# --------------------------------------------------------------------------- serving cold start

SERVING_ROWS = 10_000
SERVING_GROUP = "startup: serve Autoencoder[784] (import + load + 10,000 rows)"
_CHECKSUMS: dict[str, float] = {}  # impl -> sum of the reconstructed rows

_SERVING_CHILD = textwrap.dedent(
    """
    import json, os, resource, sys, time

    impl, path, n_rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
    t0 = time.perf_counter()
    if impl == "fastgen":
        import fastgen.nn
        t1 = time.perf_counter()
        model = fastgen.nn.load(path, device="cpu")
        run = model.reconstruct
    else:
        import keras
        t1 = time.perf_counter()
        model = keras.models.load_model(path, compile=False)
        run = lambda X: model.predict(X, batch_size=1024, verbose=0)
    t2 = time.perf_counter()
    import numpy as np
    X = np.random.default_rng(20240601).random((n_rows, 784), dtype=np.float32)
    t3 = time.perf_counter()
    R = np.asarray(run(X))
    t4 = time.perf_counter()
    # VmHWM is this process's own high-water mark; ru_maxrss on Linux carries over the
    # forking parent's (pytest's, with TensorFlow loaded) across fork + exec
    peak, method = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "ru_maxrss"
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    peak, method = int(line.split()[1]) / 1024, "VmHWM"
    except OSError:
        pass
    print(json.dumps({
        "import_s": t1 - t0, "load_s": t2 - t1, "import_load_s": t2 - t0,
        "rows_s": t4 - t3,
        "peak_rss_mb": peak, "peak_rss_method": method,
        "checksum": float(R.astype(np.float64).sum()), "shape": list(R.shape),
        "modules_tensorflow": "tensorflow" in sys.modules,
    }))
    """
)


@pytest.fixture(scope="module")
def keras_file(fitted, tmp_path_factory):
    """The reference Autoencoder's Keras model saved as ``.keras`` (untimed)."""
    est, _ = fitted["autoencoder"]
    path = tmp_path_factory.mktemp("keras") / "autoencoder.keras"
    est.keras_model_.save(path)
    return path


@pytest.mark.parametrize("impl", ["keras", "fastgen"])
def test_serving_cold_start(benchmark, impl, size, fitted, keras_file):
    """Fresh interpreter: import + load the model + reconstruct 10,000 rows once.

    fastgen: ``import fastgen.nn; fastgen.nn.load(file, device="cpu").reconstruct(X)``;
    keras: ``import keras; keras.models.load_model(file).predict(X, batch_size=1024)``.
    The timed value is the whole subprocess; extra_info has the in-process split
    (medians over the rounds) and the process's peak RSS (``VmHWM``: ``ru_maxrss``
    would report the pytest parent's RSS, which a forked child inherits).
    """
    path = fitted["autoencoder"][1][None] if impl == "fastgen" else keras_file
    env = subprocess_env(TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    results = []

    def serve():
        t = time.perf_counter()
        out = run_python_json(
            _SERVING_CHILD, impl, str(path), str(SERVING_ROWS), env=env, timeout=600
        )
        out["process_s"] = time.perf_counter() - t
        results.append(out)
        return out

    benchmark.group = SERVING_GROUP
    benchmark.extra_info.update(
        impl=impl, variant=impl, dataset_size=size.name, n_rows=SERVING_ROWS
    )
    out = benchmark.pedantic(serve, rounds=min(size.rounds, 3), warmup_rounds=0)
    assert out["shape"] == [SERVING_ROWS, INPUT_DIM]
    if impl == "fastgen":
        assert not out["modules_tensorflow"], "the inference path imported TensorFlow"
    for k in ("import_s", "load_s", "import_load_s", "rows_s", "process_s", "peak_rss_mb"):
        benchmark.extra_info[k] = round(float(np.median([r[k] for r in results])), 4)
    benchmark.extra_info["peak_rss_method"] = out["peak_rss_method"]
    # both sides reconstruct the same rows: the sums must agree
    _CHECKSUMS[impl] = out["checksum"]
    if len(_CHECKSUMS) == 2:
        np.testing.assert_allclose(_CHECKSUMS["fastgen"], _CHECKSUMS["keras"], rtol=1e-5)
