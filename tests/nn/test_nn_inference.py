"""onnxruntime serving: no TensorFlow on the inference path, batching, threads, devices."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")

import fastgen.nn as nn  # noqa: E402

ATOL = 1e-5

_CHILD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import fastgen, fastgen.nn
    m = fastgen.nn.load(sys.argv[1], device="cpu", intra_op_num_threads=1, batch_size=100)
    X = np.random.default_rng(0).random((250, m.n_features_in_))
    m.encode(X); m.reconstruct(X); m.score_samples(X)
    if m.kind == "vae":
        m.generate(10, seed=0)
    heavy = ("tensorflow", "keras", "tf2onnx", "onnx")
    print(json.dumps(sorted(k for k in sys.modules if k.split(".")[0] in heavy)))
    """
)


@pytest.mark.parametrize("which", ["ae_path", "vae_path"])
def test_inference_never_imports_tensorflow(which, request):
    path = request.getfixturevalue(which)
    proc = subprocess.run(  # the same interpreter, so the same (installed) fastgen
        [sys.executable, "-c", _CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert loaded == [], f"inference imported {loaded}"


def test_memmap_and_chunking(tmp_path, vae_path):
    rng = np.random.default_rng(1)
    X = rng.random((1000, 64))
    np.save(tmp_path / "X.npy", X)
    Xm = np.load(tmp_path / "X.npy", mmap_mode="r")
    whole = nn.load(vae_path, batch_size=4096)
    chunked = nn.load(vae_path, batch_size=37)
    ref = whole.reconstruct(X)
    np.testing.assert_allclose(chunked.reconstruct(Xm), ref, atol=1e-6, rtol=0)
    np.testing.assert_allclose(chunked.score_samples(Xm), whole.score_samples(X), atol=1e-7)
    mean, log_var = chunked.encode(Xm, return_log_var=True)
    assert mean.shape == log_var.shape == (1000, 4) and mean.dtype == np.float32
    np.testing.assert_allclose(mean, whole.encode(X), atol=1e-6, rtol=0)
    # a non-finite value in a later chunk of a memmap is still caught
    X[900, 3] = np.nan
    np.save(tmp_path / "bad.npy", X)
    with pytest.raises(ValueError, match="NaN"):
        chunked.encode(np.load(tmp_path / "bad.npy", mmap_mode="r"))


def test_thread_safe_concurrent_calls(ae_path):
    m = nn.load(ae_path, batch_size=64)
    rng = np.random.default_rng(2)
    inputs = [rng.random((300 + 17 * i, 64)) for i in range(8)]
    expected = [m.reconstruct(x) for x in inputs]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(m.reconstruct, inputs * 3))
    for i, out in enumerate(got):
        np.testing.assert_array_equal(out, expected[i % len(inputs)])


def test_generate_validation(vae_path):
    m = nn.load(vae_path)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="positive integer"):
            m.generate(bad)
    assert m.generate(1, seed=0).shape == (1, 64)


def test_load_arguments(ae_path):
    with pytest.raises(ValueError, match="device"):
        nn.load(ae_path, device="tpu")
    with pytest.raises(ValueError, match="batch_size"):
        nn.load(ae_path, batch_size=0)
    with pytest.raises(ValueError, match="kind"):
        nn.load(ae_path, kind="hmm")
    m = nn.load(ae_path, device="cpu", intra_op_num_threads=1)
    assert m.providers == ["CPUExecutionProvider"]
    assert "autoencoder" in repr(m)


@pytest.mark.skipif(
    "CUDAExecutionProvider" in ort.get_available_providers(), reason="CUDA is available"
)
def test_cuda_requested_without_provider(ae_path):
    with pytest.raises(RuntimeError, match="CUDAExecutionProvider"):
        nn.load(ae_path, device="cuda")


@pytest.mark.skipif(
    "CUDAExecutionProvider" in ort.get_available_providers(), reason="CUDA is available"
)
@pytest.mark.filterwarnings("ignore:Specified provider:UserWarning")
def test_auto_falls_back_with_warning(ae_path, monkeypatch, caplog):
    """The provider is advertised but cannot start: 'auto' warns, 'cuda' raises."""
    monkeypatch.setattr(
        ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    with pytest.warns(RuntimeWarning, match="falling back"):
        m = nn.load(ae_path, device="auto")
    assert m.providers == ["CPUExecutionProvider"]
    assert any("falling back" in r.getMessage() for r in caplog.records)
    with pytest.raises(RuntimeError, match="could not be initialised"):
        nn.load(ae_path, device="cuda")


def test_io_binding_gives_the_same_outputs(vae_path):
    """The IO-binding call path (used on CUDA) forced on CPU: same numbers as
    ``session.run``, also with chunks on several threads; "auto" is off on CPU."""
    import fastgen

    X = np.random.default_rng(5).random((333, 64))
    plain = nn.load(vae_path, device="cpu", batch_size=50)
    bound = fastgen.load(vae_path, device="cpu", batch_size=50, io_binding=True, n_jobs=3)
    assert (plain.io_binding, bound.io_binding) == (False, True)

    class BindingOnly:  # the bound model must never call session.run
        def __init__(self, session):
            self._session = session

        def run(self, *args, **kwargs):
            raise AssertionError("session.run called despite io_binding=True")

        def __getattr__(self, name):
            return getattr(self._session, name)

    for g in bound.graphs.values():
        g.session = BindingOnly(g.session)
    np.testing.assert_array_equal(bound.reconstruct(X), plain.reconstruct(X))
    mean, log_var = bound.encode(X, return_log_var=True)
    np.testing.assert_array_equal(mean, plain.encode(X))
    np.testing.assert_array_equal(log_var, plain.encode(X, return_log_var=True)[1])
    np.testing.assert_array_equal(bound.generate(7, seed=3), plain.generate(7, seed=3))
    with pytest.raises(ValueError, match="io_binding"):
        nn.load(vae_path, io_binding="yes")


@pytest.mark.skipif(
    "CUDAExecutionProvider" not in ort.get_available_providers(),
    reason="onnxruntime has no CUDAExecutionProvider",
)
def test_cuda_matches_cpu(vae_path):  # pragma: no cover - needs a GPU build of onnxruntime
    X = np.random.default_rng(0).random((500, 64))
    gpu = nn.load(vae_path, device="cuda")
    assert gpu.providers[0] == "CUDAExecutionProvider"
    cpu = nn.load(vae_path, device="cpu")
    np.testing.assert_allclose(gpu.reconstruct(X), cpu.reconstruct(X), atol=1e-4, rtol=0)
    np.testing.assert_allclose(gpu.generate(20, seed=1), cpu.generate(20, seed=1), atol=1e-4)
    assert nn.load(vae_path, device="auto").providers[0] == "CUDAExecutionProvider"
    assert gpu.io_binding  # "auto" binds on CUDA
    unbound = nn.load(vae_path, device="cuda", io_binding=False)
    np.testing.assert_allclose(unbound.reconstruct(X), gpu.reconstruct(X), atol=1e-5, rtol=0)


@pytest.mark.filterwarnings("ignore")
def test_quantize_dynamic(tmp_path, vae_path, digits, caplog):
    pytest.importorskip("onnx")
    import logging

    import fastgen
    from fastgen._modelfile import read_modelfile

    dst = tmp_path / "vae.int8.fgm"
    with caplog.at_level(logging.INFO):
        report = nn.quantize_dynamic(vae_path, dst, probe=digits[:256])
    assert not [r for r in caplog.records if "pre-processing" in r.getMessage()]
    assert logging.getLogger().filters == []  # the filter is gone again
    assert fastgen.info(dst)["summary"]["quantization"]["accuracy_vs_float"] == report
    assert set(report) == {"encoder", "decoder"}
    for r in report.values():
        assert r["int8_bytes"] < r["float_bytes"]
        assert 0 < r["max_abs_diff"] < 0.1
    mf = read_modelfile(dst, kind="vae")
    assert mf.manifest["quantization"]["accuracy_vs_float"] == report
    q, f = nn.load(dst), nn.load(vae_path)
    assert isinstance(q, nn.OnnxVAE)
    assert np.abs(q.reconstruct(digits) - f.reconstruct(digits)).max() < 0.1
    assert q.generate(5, seed=0).shape == (5, 64)


# --------------------------------------------------------------------------- parallel chunks


def test_parallel_chunks_equal_serial(vae_path):
    """Chunks on several threads give bit-identical results to one serial session."""
    rng = np.random.default_rng(3)
    X = rng.random((1003, 64))
    serial = nn.load(vae_path, device="cpu", batch_size=37, n_jobs=1, intra_op_num_threads=1)
    par = nn.load(vae_path, device="cpu", batch_size=37, n_jobs=3)
    assert (serial.n_jobs, par.n_jobs) == (1, 3)
    for a, b in zip(
        serial.encode(X, return_log_var=True), par.encode(X, return_log_var=True), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(serial.reconstruct(X), par.reconstruct(X))
    np.testing.assert_array_equal(serial.score_samples(X), par.score_samples(X))
    np.testing.assert_array_equal(serial.generate(500, seed=4), par.generate(500, seed=4))
    # and equal to one big chunk, to 1e-6
    whole = nn.load(vae_path, device="cpu", batch_size=10_000)
    np.testing.assert_allclose(par.reconstruct(X), whole.reconstruct(X), atol=1e-6, rtol=0)


def test_parallel_matches_keras(vae_digits, vae_path, digits):
    m = nn.load(vae_path, device="cpu", batch_size=100, n_jobs=2)
    mean, log_var = m.encode(digits, return_log_var=True)
    k_mean, k_log_var = vae_digits.encode(digits, return_log_var=True)
    np.testing.assert_allclose(mean, k_mean, atol=ATOL, rtol=0)
    np.testing.assert_allclose(log_var, k_log_var, atol=ATOL, rtol=0)
    np.testing.assert_allclose(m.reconstruct(digits), vae_digits.reconstruct(digits), atol=ATOL)


def test_default_threads(ae_path):
    from fastgen.nn._inference import n_cpus

    assert nn.load(ae_path, device="cpu").n_jobs == n_cpus()
    # asking for onnxruntime's own threads keeps chunks serial unless n_jobs is given
    assert nn.load(ae_path, device="cpu", intra_op_num_threads=2).n_jobs == 1
    assert nn.load(ae_path, device="cpu", intra_op_num_threads=1, n_jobs=2).n_jobs == 2


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_n_jobs_validation(ae_path, bad):
    with pytest.raises(ValueError, match="n_jobs"):
        nn.load(ae_path, n_jobs=bad)


@pytest.mark.parametrize("bad", [-1, 1.5, False, "1"])
def test_intra_op_threads_validation(ae_path, bad):
    with pytest.raises(ValueError, match="intra_op_num_threads"):
        nn.load(ae_path, intra_op_num_threads=bad)


def test_non_finite_in_any_chunk_is_caught_in_parallel(ae_path):
    m = nn.load(ae_path, device="cpu", batch_size=50, n_jobs=3)
    X = np.random.default_rng(5).random((1000, 64))
    for row, value in ((0, np.nan), (499, np.inf), (999, -np.inf)):
        bad = X.copy()
        bad[row, 7] = value
        for method in (m.encode, m.reconstruct, m.score_samples):
            with pytest.raises(ValueError, match="NaN or infinity"):
                method(bad)
    # float64 values beyond float32's range become inf in the float32 cast
    big = X.copy()
    big[600, 0] = 1e300
    with pytest.raises(ValueError, match="NaN or infinity"):
        m.encode(big)
    # huge but finite float32 values overflow a float32 sum: not mistaken for inf
    huge = np.full((120, 64), 3e38, dtype=np.float32)
    assert m.encode(huge).shape == (120, 8)


def test_float64_and_non_contiguous_inputs(ae_path):
    m = nn.load(ae_path, device="cpu", batch_size=64, n_jobs=2)
    X = np.random.default_rng(6).random((500, 64))
    want = m.reconstruct(X.astype(np.float32))
    np.testing.assert_array_equal(m.reconstruct(X), want)  # float64, cast chunk by chunk
    np.testing.assert_array_equal(m.reconstruct(np.asfortranarray(X)), want)
    wide = np.random.default_rng(7).random((500, 128))
    wide[:, ::2] = X
    np.testing.assert_array_equal(m.reconstruct(wide[:, ::2]), want)  # strided view
    np.testing.assert_array_equal(m.reconstruct(X.tolist()), want)


def test_run_chunks_covers_every_chunk_once():
    from fastgen.nn._inference import run_chunks

    seen: list[tuple[int, int]] = []
    with ThreadPoolExecutor(3) as pool:
        for n, bs, jobs in ((1, 5, 4), (10, 5, 4), (103, 10, 4), (103, 10, 1), (50, 7, 2)):
            seen.clear()
            run_chunks(lambda a, b: seen.append((a, b)), n, bs, jobs, pool)
            assert sorted(seen) == [(s, min(s + bs, n)) for s in range(0, n, bs)]
            seen.clear()
            run_chunks(lambda a, b: seen.append((a, b)), n, bs, jobs, pool, skip_first=True)
            assert sorted(seen) == [(s, min(s + bs, n)) for s in range(bs, n, bs)]


def test_run_chunks_error_stops_and_propagates():
    import threading

    from fastgen.nn._inference import run_chunks

    calls = []
    lock = threading.Lock()

    def work(a, b):
        with lock:
            calls.append(a)
        if a == 30:
            raise KeyError("chunk 30")

    with ThreadPoolExecutor(2) as pool, pytest.raises(KeyError, match="chunk 30"):
        run_chunks(work, 10_000, 10, 3, pool)
    assert len(calls) < 200  # the remaining ~1,000 chunks were not started


def test_run_chunks_does_not_wait_for_a_busy_pool():
    """If the pool's threads are busy elsewhere, the calling thread does all the work."""
    import threading

    from fastgen.nn._inference import run_chunks

    release = threading.Event()
    seen = []
    with ThreadPoolExecutor(1) as pool:
        blocker = pool.submit(release.wait, 30)
        run_chunks(lambda a, b: seen.append(a), 100, 10, 4, pool)
        assert sorted(seen) == list(range(0, 100, 10))
        assert not blocker.done()
        release.set()


def test_map_batches_refuses_mismatched_layout():
    from fastgen.nn._inference import map_batches

    X = np.ones((20, 3), dtype=np.float32)
    layout = [((4,), np.dtype(np.float32))]
    # (rows, 1) would broadcast silently into (rows, 4)
    with pytest.raises(RuntimeError, match="shape"):
        map_batches(lambda x: [x[:, :1]], X, 5, layout=layout)
    out = map_batches(lambda x: [np.repeat(x[:, :1], 4, axis=1)], X, 5, n_jobs=1, layout=layout)
    assert out[0].shape == (20, 4)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_usable_after_fork(ae_path):
    """A forked child gets fresh worker threads instead of the parent's dead ones."""
    m = nn.load(ae_path, device="cpu", batch_size=20, n_jobs=2)
    X = np.random.default_rng(8).random((200, 64))
    want = m.reconstruct(X)  # the parent's pool exists now
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            code = 0 if np.array_equal(m.reconstruct(X), want) else 2
        finally:
            os._exit(code)
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung")
    assert os.waitstatus_to_exitcode(status) == 0


def test_run_chunks_with_a_shut_down_pool():
    from fastgen.nn._inference import run_chunks

    pool = ThreadPoolExecutor(2)
    pool.shutdown()
    seen = []
    run_chunks(lambda a, b: seen.append(a), 95, 10, 3, pool)
    assert seen == list(range(0, 95, 10))
