"""Serving exported models with onnxruntime.  Never imports tensorflow, keras or tf2onnx.

:func:`load` reads a model file written by ``export``/``export_keras`` and returns a
:class:`OnnxAutoencoder`, :class:`OnnxVAE` or :class:`OnnxKerasModel`.  Inputs are
processed in chunks of ``batch_size`` rows (memory-mapped ``.npy`` arrays are read one
chunk at a time) and cast to float32 at the boundary; calls are thread-safe (each call
uses its own buffers; onnxruntime sessions support concurrent ``run``).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from fastgen._modelfile import ModelFileError, read_modelfile

__all__ = ["OnnxAutoencoder", "OnnxKerasModel", "OnnxVAE", "load"]

logger = logging.getLogger("fastgen.nn")

KINDS = ("autoencoder", "vae", "keras")
DEFAULT_BATCH_SIZE = 4096


# --------------------------------------------------------------------------- validation


def check_input(X: Any, n_features: int | None, name: str = "X") -> np.ndarray:
    """Validate ``X`` as a non-empty, finite 2-D numeric array; return float32.

    Memory-mapped arrays are returned as is (chunks are cast later) after a
    dtype/shape check; the finiteness check then happens chunk by chunk.
    """
    if isinstance(X, np.memmap) or (
        isinstance(X, np.ndarray) and X.dtype == np.float32 and X.ndim == 2
    ):
        arr = X
    else:
        if isinstance(X, np.ndarray) and X.dtype.hasobject:
            raise ValueError(f"{name} has dtype object; pass a numeric float array")
        try:
            arr = np.asarray(X)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} could not be converted to a numeric array: {exc}") from exc
    if arr.dtype.hasobject or not (
        np.issubdtype(arr.dtype, np.floating)
        or np.issubdtype(arr.dtype, np.integer)
        or arr.dtype == np.bool_
    ):
        raise ValueError(f"{name} must be a numeric float array, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(
            f"Expected a 2-D array for {name}, got {arr.ndim}-D with shape {arr.shape}; "
            "reshape a single sample with X.reshape(1, -1)"
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: 0 samples (shape {arr.shape})")
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(f"{name} has {arr.shape[1]} features, but the model expects {n_features}")
    if not isinstance(arr, np.memmap):
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or infinity")
    return arr


def _chunk_f32(chunk: np.ndarray, name: str, check_finite: bool) -> np.ndarray:
    out = np.ascontiguousarray(chunk, dtype=np.float32)
    if check_finite and not np.isfinite(out).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return out


def map_batches(
    fn: Callable[[np.ndarray], list[np.ndarray]],
    X: np.ndarray,
    batch_size: int,
    name: str = "X",
) -> list[np.ndarray]:
    """Apply ``fn`` (float32 rows -> list of (rows, k) arrays) chunk by chunk.

    Outputs are written into preallocated arrays, so peak extra memory is one chunk.
    Chunks of a memory-mapped ``X`` (not checked by :func:`check_input`) are checked
    for NaN/inf as they are read.
    """
    n = X.shape[0]
    check_finite = isinstance(X, np.memmap)
    outs: list[np.ndarray] | None = None
    for start in range(0, n, batch_size):
        chunk = _chunk_f32(X[start : start + batch_size], name, check_finite)
        res = fn(chunk)
        if outs is None:
            if len(res[0]) == n:  # single chunk: no copy
                return [np.asarray(r) for r in res]
            outs = [np.empty((n, *r.shape[1:]), dtype=r.dtype) for r in res]
        for o, r in zip(outs, res, strict=True):
            o[start : start + len(r)] = r
    assert outs is not None
    return outs


def sample_latent(n: int, latent_dim: int, seed: int | None) -> np.ndarray:
    """``z ~ N(0, I)``, shape (n, latent_dim), float32, from ``np.random.default_rng(seed)``."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    rng = np.random.default_rng(seed)
    return rng.standard_normal((int(n), latent_dim), dtype=np.float32)


def row_error(X: np.ndarray, R: np.ndarray) -> np.ndarray:
    """Per-row mean squared reconstruction error, shape (n,), float64."""
    d = X.astype(np.float64) - R.astype(np.float64)
    return np.mean(d * d, axis=1)


# --------------------------------------------------------------------------- sessions


def _make_session(
    model_bytes: bytes, device: str, intra_op_num_threads: int | None, allow_spinning: bool
):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if intra_op_num_threads is not None:
        opts.intra_op_num_threads = int(intra_op_num_threads)
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if allow_spinning else "0")
    available = ort.get_available_providers()
    if device == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise RuntimeError(
                "device='cuda' but onnxruntime has no CUDAExecutionProvider "
                f"(available: {available}); install onnxruntime-gpu with a matching CUDA"
            )
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    elif device == "auto" and "CUDAExecutionProvider" in available:
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    else:
        providers = ["CPUExecutionProvider"]
    sess = ort.InferenceSession(model_bytes, sess_options=opts, providers=providers)
    active = sess.get_providers()
    if providers[0] == "CUDAExecutionProvider" and "CUDAExecutionProvider" not in active:
        if device == "cuda":
            raise RuntimeError(
                "device='cuda' but the CUDAExecutionProvider could not be initialised "
                f"(session providers: {active}); check the CUDA/cuDNN installation"
            )
        msg = (
            "fastgen.nn: CUDAExecutionProvider is available but failed to initialise; "
            f"falling back to {active}"
        )
        logger.warning(msg)
        warnings.warn(msg, RuntimeWarning, stacklevel=4)
    return sess


class _Graph:
    """One ONNX graph with its session and tensor names."""

    def __init__(self, model_bytes: bytes, spec: dict, device: str, threads, spinning: bool):
        self.session = _make_session(model_bytes, device, threads, spinning)
        self.input_name: str = spec["inputs"][0]
        self.output_names: list[str] = list(spec["outputs"])

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        return self.session.run(self.output_names, {self.input_name: x})


# --------------------------------------------------------------------------- models


class _OnnxModel:
    kind = ""

    def __init__(
        self,
        mf,
        device: str,
        intra_op_num_threads: int | None,
        batch_size: int,
        allow_spinning: bool = False,
    ):
        self.manifest: dict = mf.manifest
        self.batch_size = batch_size
        self.device = device
        self.graphs: dict[str, _Graph] = {}
        for name, spec in mf.manifest["graphs"].items():
            data = mf.members.get(spec["member"])
            if not isinstance(data, bytes):
                raise ModelFileError(f"graph {name!r}: member {spec['member']!r} missing")
            self.graphs[name] = _Graph(data, spec, device, intra_op_num_threads, allow_spinning)
        first = next(iter(self.graphs.values()))
        #: execution providers of the sessions, in priority order
        self.providers: list[str] = first.session.get_providers()
        self.n_features_in_: int = int(mf.manifest["input_shape"][-1])

    def _run(self, graph: str, X: Any, n_features: int | None, name: str = "X"):
        X = check_input(X, n_features, name)
        return map_batches(self.graphs[graph], X, self.batch_size, name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r}, providers={self.providers})"


class OnnxAutoencoder(_OnnxModel):
    """An exported :class:`~fastgen.nn.Autoencoder` served by onnxruntime."""

    kind = "autoencoder"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.latent_dim: int = int(self.manifest["latent_shape"][-1])

    def encode(self, X: Any) -> np.ndarray:
        """Latent codes, shape (n, latent_dim), float32 (the VAE: the posterior mean)."""
        return self._run("encoder", X, self.n_features_in_)[0]

    def decode(self, Z: Any) -> np.ndarray:
        """Decoder outputs for latent codes ``Z`` (n, latent_dim); (n, n_features) float32."""
        return self._run("decoder", Z, self.latent_dim, "Z")[0]

    def _reconstruct_chunk(self, x: np.ndarray) -> list[np.ndarray]:
        z = self.graphs["encoder"](x)[0]
        return self.graphs["decoder"](z)

    def reconstruct(self, X: Any) -> np.ndarray:
        """``decode(encode(X))``, shape (n, n_features), float32."""
        X = check_input(X, self.n_features_in_)
        return map_batches(self._reconstruct_chunk, X, self.batch_size)[0]

    def score_samples(self, X: Any) -> np.ndarray:
        """Per-row mean squared reconstruction error, shape (n,), float64 (high = unusual)."""
        X = check_input(X, self.n_features_in_)

        def fn(x: np.ndarray) -> list[np.ndarray]:
            return [row_error(x, self._reconstruct_chunk(x)[0])]

        return map_batches(fn, X, self.batch_size)[0]


class OnnxVAE(OnnxAutoencoder):
    """An exported :class:`~fastgen.nn.VAE`: the encoder outputs mean and log-variance."""

    kind = "vae"

    def encode(self, X: Any, return_log_var: bool = False):
        """Posterior mean (n, latent_dim) float32; with ``return_log_var`` also log-variance."""
        mean, log_var = self._run("encoder", X, self.n_features_in_)
        return (mean, log_var) if return_log_var else mean

    def generate(self, n: int, seed: int | None = None) -> np.ndarray:
        """``n`` samples: ``z ~ N(0, I)`` drawn in NumPy with ``seed``, then the decoder."""
        return self.decode(sample_latent(n, self.latent_dim, seed))


class OnnxKerasModel(_OnnxModel):
    """A user's Keras model exported with :func:`~fastgen.nn.export_keras`."""

    kind = "keras"

    def predict(self, X: Any) -> np.ndarray:
        """Model outputs for ``X`` (n, n_features); float32, first output of the graph."""
        return self._run("model", X, self.n_features_in_)[0]


_CLASSES = {"autoencoder": OnnxAutoencoder, "vae": OnnxVAE, "keras": OnnxKerasModel}


def load(
    path: str | os.PathLike,
    device: str = "auto",
    intra_op_num_threads: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    kind: str | None = None,
    allow_spinning: bool = False,
) -> OnnxAutoencoder | OnnxVAE | OnnxKerasModel:
    """Load a fastgen neural model file for inference with onnxruntime.

    Parameters
    ----------
    path : str or path-like
        File written by ``Autoencoder.export``, ``VAE.export`` or ``export_keras``.
    device : {"auto", "cpu", "cuda"}
        ``"cuda"`` requires onnxruntime's CUDAExecutionProvider (else RuntimeError);
        ``"auto"`` uses CUDA when available, otherwise CPU (warning on fallback).
    intra_op_num_threads : int, optional
        onnxruntime intra-op threads (default: onnxruntime's choice).
    batch_size : int
        Rows per ``session.run`` call; bounds the working memory of large inputs.
    kind : {"autoencoder", "vae", "keras"}, optional
        Refuse files of any other kind.
    allow_spinning : bool
        Let onnxruntime's intra-op threads busy-wait between ops.  Off by default:
        on a shared 2-core machine spinning made a 2,000-row reconstruction ~5x
        slower (24 ms vs 5 ms); turn it on for latency on dedicated cores.

    Returns
    -------
    OnnxAutoencoder, OnnxVAE or OnnxKerasModel
        The ``providers`` attribute lists the execution providers in use.
    """
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    mf = read_modelfile(path, kind=kind or KINDS)
    for key in ("graphs", "input_shape"):
        if key not in mf.manifest:
            raise ModelFileError(f"{os.fspath(path)}: manifest lacks {key!r}")
    model = _CLASSES[mf.kind](
        mf, device, intra_op_num_threads, int(batch_size), bool(allow_spinning)
    )
    logger.info("fastgen.nn: loaded %s model on %s", mf.kind, model.providers)
    return model
