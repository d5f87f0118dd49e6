"""Optional int8 dynamic quantisation of an exported model file (offline step).

Uses ``onnxruntime.quantization.quantize_dynamic`` (int8 weights, activations
quantised on the fly) on every graph of the file and records the accuracy change
measured on a probe batch in the new file's manifest.  Loading the result needs
onnxruntime only, like any other model file.

The source file passes :func:`fastgen.nn.load`'s manifest check and static gate
before any of its graphs reaches onnxruntime, and each quantised graph passes the
gate again (the ops it holds, ``DynamicQuantizeLinear``, ``MatMulInteger``,
``ConvInteger``, ``Cast``, ``Mul``, ``Add``, are on the loader's allow-list), so the
copy always loads.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from typing import Any

import numpy as np

from fastgen._modelfile import ModelFileError, read_modelfile, write_modelfile
from fastgen.nn._inference import KINDS, GraphSpec, graph_members, graph_specs, static_gate

__all__ = ["quantize_dynamic"]

_MANIFEST_KEYS = ("format", "format_version", "kind", "fastgen_version", "members")


def _not_preprocessing_advice(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("Please consider to run pre-processing")


@contextlib.contextmanager
def _quiet_preprocessing_advice() -> Iterator[None]:
    """Drop onnxruntime's root-logger advice to run its shape-inference pre-processing.

    It is logged once per graph and does not apply: fastgen's graphs are small
    dense stacks whose shapes tf2onnx already inferred.
    """
    root = logging.getLogger()
    root.addFilter(_not_preprocessing_advice)
    try:
        yield
    finally:
        root.removeFilter(_not_preprocessing_advice)


def _run(model_bytes: bytes, spec: GraphSpec, x: np.ndarray) -> list[np.ndarray]:
    import onnxruntime as ort

    sess = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    return sess.run(list(spec.output_names), {spec.input_name: x})


def quantize_dynamic(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    probe: np.ndarray | None = None,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Write an int8 dynamically quantised copy of the model file ``src`` to ``dst``.

    Every graph is quantised with onnxruntime's ``quantize_dynamic`` (int8 weights,
    activations quantised on the fly).  The copy loads like any model file, with
    onnxruntime only; it is smaller and usually faster on CPU, at some accuracy,
    which is measured here and recorded in the copy's manifest (:func:`fastgen.info`
    shows it under ``summary["quantization"]``).

    Parameters
    ----------
    src : str or path-like
        A neural model file (``Autoencoder``, ``VAE`` or ``export_keras``).  It
        passes the loader's checks before any graph reaches onnxruntime.
    dst : str or path-like
        Destination file; keeps the kind, graphs and tensor names of ``src``.
    probe : ndarray of shape (n, n_features), optional
        Inputs on which the accuracy change is measured (default: 256 rows drawn
        from U(0, 1) with ``seed``).  The decoder of an autoencoder or VAE is probed
        with the float encoder's codes.
    seed : int, default=0
        Seed of the default probe.

    Returns
    -------
    dict of str to dict
        Per graph: ``max_abs_diff`` and ``mean_abs_diff`` of the quantised outputs
        against the float ones on the probe, and the graph's size before and after
        (``float_bytes``, ``int8_bytes``).

    Raises
    ------
    fastgen.ModelFileError
        ``src`` is not a valid neural model file.
    RuntimeError
        A quantised graph would not pass the loader's checks.

    See Also
    --------
    fastgen.nn.load : Load the copy.
    export_keras : Write a model file from a Keras model.

    Examples
    --------
    >>> import numpy as np
    >>> import fastgen
    >>> from fastgen.nn import Autoencoder, quantize_dynamic
    >>> X = np.random.default_rng(0).random((64, 6), dtype=np.float32)
    >>> Autoencoder(input_dim=6, hidden=(8,), latent_dim=2).fit(X, epochs=1).save("ae.fgm")
    >>> report = quantize_dynamic("ae.fgm", "ae-int8.fgm")
    >>> sorted(report), sorted(report["encoder"])
    (['decoder', 'encoder'], ['float_bytes', 'int8_bytes', 'max_abs_diff', 'mean_abs_diff'])
    >>> fastgen.load("ae-int8.fgm", device="cpu").encode(X).shape
    (64, 2)
    """
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization import quantize_dynamic as ort_quantize_dynamic

    path = os.fspath(src)
    mf = read_modelfile(src, kind=KINDS, referenced=graph_members)
    manifest = mf.manifest
    layout = graph_specs(manifest, mf.kind, mf.members, path)
    graphs = layout.graphs
    for spec in graphs.values():  # before any graph reaches onnxruntime
        static_gate(mf.members[spec.member], spec, path)
    if probe is None:
        probe = np.random.default_rng(seed).random((256, layout.n_features), dtype=np.float32)
    probe = np.ascontiguousarray(probe, dtype=np.float32)
    members: dict[str, Any] = {}
    report: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in graphs.items():
            float_bytes = mf.members[spec.member]
            if name == "decoder":
                enc = graphs["encoder"]
                x = _run(mf.members[enc.member], enc, probe)[0]
            else:
                x = probe
            fin, fout = os.path.join(tmp, f"{name}.onnx"), os.path.join(tmp, f"{name}.q.onnx")
            with open(fin, "wb") as f:
                f.write(float_bytes)
            with _quiet_preprocessing_advice():
                ort_quantize_dynamic(fin, fout, weight_type=QuantType.QInt8)
            with open(fout, "rb") as f:
                q_bytes = f.read()
            try:
                static_gate(q_bytes, spec, os.fspath(dst))
            except ModelFileError as exc:
                raise RuntimeError(f"the quantised graph would not load: {exc}") from None
            members[spec.member] = q_bytes
            want = _run(float_bytes, spec, x)
            got = _run(q_bytes, spec, x)
            diffs = [np.abs(g.astype(np.float64) - w) for g, w in zip(got, want, strict=True)]
            report[name] = {
                "max_abs_diff": float(max(d.max() for d in diffs)),
                "mean_abs_diff": float(np.mean([d.mean() for d in diffs])),
                "float_bytes": len(float_bytes),
                "int8_bytes": len(q_bytes),
            }
    meta = {k: v for k, v in manifest.items() if k not in _MANIFEST_KEYS}
    meta["quantization"] = {
        "method": "onnxruntime.quantize_dynamic",
        "weight_type": "QInt8",
        "accuracy_vs_float": report,
    }
    write_modelfile(dst, manifest["kind"], members, meta)
    return report
