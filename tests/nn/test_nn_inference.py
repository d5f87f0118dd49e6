"""onnxruntime serving: no TensorFlow on the inference path, batching, threads, devices."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")

import fastgen.nn as nn  # noqa: E402

ATOL = 1e-5
SRC = Path(__file__).resolve().parents[2] / "src"

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
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)],
        capture_output=True,
        text=True,
        env=env,
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


@pytest.mark.filterwarnings("ignore")
def test_quantize_dynamic(tmp_path, vae_path, digits):
    pytest.importorskip("onnx")
    from fastgen._modelfile import read_modelfile

    dst = tmp_path / "vae.int8.fgm"
    report = nn.quantize_dynamic(vae_path, dst, probe=digits[:256])
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
