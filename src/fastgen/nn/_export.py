"""Keras -> ONNX export with gates, written into a fastgen model file.

Every graph passes, or the export raises :class:`ExportError`: tf2onnx reports no
unsupported op, the graph holds no random op (Keras random ops convert "successfully"
into an invalid graph), every node is a known ONNX op, ``onnx.checker.check_model``,
the batch dimension is dynamic, the opset is at most :data:`MAX_OPSET`, the loader's
static gate accepts the serialised graph (:func:`fastgen.nn._onnx_gate.check_graph`:
inline weights, allowed ops, inputs/outputs as the manifest will declare them, so
every exported file loads), onnxruntime can load it, and on a probe batch ONNX and
Keras agree to ``atol`` (max abs diff).

tensorflow, keras, tf2onnx and onnx are imported inside the functions only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fastgen._modelfile import write_modelfile
from fastgen.nn import _onnx_gate
from fastgen.nn._onnx_gate import MAX_OPSET, GateError, is_random_op
from fastgen.nn._stack import training_module

__all__ = ["DEFAULT_OPSET", "MAX_OPSET", "ExportError", "export_keras", "to_onnx"]

DEFAULT_OPSET = 17
DEFAULT_ATOL = 1e-5


class ExportError(RuntimeError):
    """A model could not be exported into a valid, faithful ONNX graph.

    Raised by ``Autoencoder.export``/``save``, ``VAE.export``/``save`` and
    :func:`export_keras` when a graph fails a gate: tf2onnx cannot convert an op,
    the graph holds a random op or an op without an ONNX definition,
    ``onnx.checker`` rejects it, the batch dimension is fixed, the opset is above
    18, :func:`fastgen.nn.load` would refuse it, or the ONNX outputs differ from
    Keras by more than ``atol``.  The message names the graph and the gate.  Nothing
    is written when it is raised.  A subclass of ``RuntimeError``.

    See Also
    --------
    export_keras : Export a Keras model.
    fastgen.nn.Autoencoder.export : Export a trained autoencoder.

    Examples
    --------
    >>> import keras
    >>> from fastgen.nn import ExportError, export_keras
    >>> net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> try:
    ...     export_keras(net, "net.fgm", opset=30)
    ... except ExportError as exc:
    ...     print(exc)
    opset must be between 1 and 18 (tf2onnx), got 30
    """


class _LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.messages.append(record.getMessage())
        except Exception:  # pragma: no cover - never let logging break the export
            pass


def check_graph(proto: Any, what: str, opset_limit: int = MAX_OPSET) -> None:
    """Static gates on an ONNX ``ModelProto``; raise :class:`ExportError` on failure."""
    onnx = training_module("onnx", "ONNX export")

    ops = [(n.op_type, n.domain) for n in proto.graph.node]
    check_graph_random_first(proto, what)
    unknown = sorted(
        {op for op, dom in ops if not onnx.defs.has(op, dom if dom != "ai.onnx" else "")}
    )
    if unknown:
        raise ExportError(f"{what}: ops without an ONNX definition in the graph: {unknown}")
    for imp in proto.opset_import:
        if imp.domain in ("", "ai.onnx") and imp.version > opset_limit:
            raise ExportError(f"{what}: opset {imp.version} > {opset_limit}")
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as exc:  # onnx raises several checker error types
        raise ExportError(f"{what}: onnx.checker rejected the graph: {exc}") from exc
    for value in proto.graph.input:
        dims = value.type.tensor_type.shape.dim
        if not dims or dims[0].HasField("dim_value"):
            raise ExportError(f"{what}: input {value.name!r} has no dynamic batch dimension")


def to_onnx(
    fn: Callable[[Any], Any],
    input_dim: int,
    input_name: str,
    output_names: Sequence[str],
    what: str,
    opset: int = DEFAULT_OPSET,
) -> Any:
    """Convert ``fn`` (a Keras model/callable on (batch, input_dim) float32) to ONNX.

    ``fn(x)`` must return one tensor or a sequence with ``len(output_names)`` tensors.
    Returns the checked ``onnx.ModelProto``.
    """
    if not 1 <= opset <= MAX_OPSET:
        raise ExportError(f"opset must be between 1 and {MAX_OPSET} (tf2onnx), got {opset}")
    tf = training_module("tensorflow", "ONNX export")
    tf2onnx = training_module("tf2onnx", "ONNX export")

    spec = (tf.TensorSpec((None, input_dim), tf.float32, name=input_name),)

    @tf.function(input_signature=spec)
    def graph_fn(x):
        out = fn(x)
        if not isinstance(out, (list, tuple)):
            out = [out]
        if len(out) != len(output_names):
            raise ValueError(f"expected {len(output_names)} outputs, got {len(out)}")
        return {name: tf.identity(t) for name, t in zip(output_names, out, strict=True)}

    capture = _LogCapture()
    tf2onnx_logger = logging.getLogger("tf2onnx")
    tf2onnx_logger.addHandler(capture)
    try:
        proto, _ = tf2onnx.convert.from_function(graph_fn, input_signature=spec, opset=opset)
    except Exception as exc:
        raise ExportError(f"{what}: tf2onnx conversion failed: {exc}") from exc
    finally:
        tf2onnx_logger.removeHandler(capture)
    unsupported = [m for m in capture.messages if "Unsupported ops" in m or "is not supported" in m]
    # random ops get the clearer message from check_graph
    check_graph_random_first(proto, what)
    if unsupported:
        raise ExportError(f"{what}: tf2onnx could not convert some ops: {'; '.join(unsupported)}")
    check_graph(proto, what)
    return proto


def check_graph_random_first(proto: Any, what: str) -> None:
    random_ops = sorted({n.op_type for n in proto.graph.node if is_random_op(n.op_type)})
    if random_ops:
        raise ExportError(
            f"{what}: the inference graph contains random ops {random_ops}; a model "
            "that samples inside its forward pass cannot be exported (sampling must "
            "happen outside the graph, e.g. a VAE samples z in NumPy)"
        )


def numeric_check(
    proto: Any,
    keras_fn: Callable[[np.ndarray], Sequence[np.ndarray]],
    probe: np.ndarray,
    what: str,
    atol: float = DEFAULT_ATOL,
    output_names: Sequence[str] | None = None,
) -> float:
    """Max abs difference ONNX vs Keras on ``probe`` (and on its first row alone).

    Raises :class:`ExportError` if it exceeds ``atol`` or onnxruntime cannot run it.
    """
    import onnxruntime as ort

    try:
        sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ExportError(f"{what}: onnxruntime cannot load the graph: {exc}") from exc
    input_name = sess.get_inputs()[0].name
    worst = 0.0
    for batch in (probe, probe[:1]):  # two batch sizes: the batch dimension is dynamic
        got = sess.run(output_names, {input_name: batch})
        want = [np.asarray(w) for w in keras_fn(batch)]
        for g, w in zip(got, want, strict=True):
            if g.shape != w.shape:
                raise ExportError(f"{what}: ONNX output shape {g.shape} != Keras {w.shape}")
            diff = float(np.max(np.abs(g.astype(np.float64) - w.astype(np.float64))))
            if not np.isfinite(diff) or diff > atol:
                raise ExportError(
                    f"{what}: ONNX and Keras outputs differ by {diff:.3g} > atol={atol:g}"
                )
            worst = max(worst, diff)
    return worst


def _keras_outputs(fn: Callable[[Any], Any]) -> Callable[[np.ndarray], list[np.ndarray]]:
    def run(x: np.ndarray) -> list[np.ndarray]:
        out = fn(x)
        if not isinstance(out, (list, tuple)):
            out = [out]
        return [np.asarray(o) for o in out]

    return run


def export_graphs(
    path: str | os.PathLike,
    kind: str,
    graphs: dict[str, dict[str, Any]],
    metadata: dict[str, Any],
    opset: int = DEFAULT_OPSET,
    atol: float = DEFAULT_ATOL,
) -> dict[str, float]:
    """Export several graphs into one model file.

    ``graphs`` maps a graph name to ``{"fn", "input_dim", "input", "outputs", "probe"}``.
    Returns the max abs ONNX-vs-Keras difference of each graph on its probe.
    """
    members: dict[str, bytes] = {}
    specs: dict[str, dict[str, Any]] = {}
    diffs: dict[str, float] = {}
    for name, g in graphs.items():
        what = f"{kind} {name}"
        proto = to_onnx(g["fn"], g["input_dim"], g["input"], g["outputs"], what, opset)
        data = proto.SerializeToString()
        try:  # the loader's gate: never write a file that load() refuses
            _onnx_gate.check_graph(data, g["input"], g["outputs"], int(g["input_dim"]))
        except GateError as exc:
            raise ExportError(f"{what}: fastgen.nn.load would refuse the graph: {exc}") from None
        probe = np.ascontiguousarray(g["probe"], dtype=np.float32)
        diffs[name] = numeric_check(
            proto, _keras_outputs(g["fn"]), probe, what, atol, list(g["outputs"])
        )
        member = f"{name}.onnx"
        members[member] = data
        specs[name] = {
            "member": member,
            "inputs": [g["input"]],
            "outputs": list(g["outputs"]),
            "input_shape": [None, int(g["input_dim"])],
            "max_abs_diff_vs_keras": diffs[name],
        }
    meta = {**metadata, "opset": int(opset), "graphs": specs, "export_atol": atol}
    write_modelfile(path, kind, members, meta)
    return diffs


def export_keras(
    model: Any,
    path: str | os.PathLike,
    *,
    probe: np.ndarray | None = None,
    opset: int = DEFAULT_OPSET,
    atol: float = DEFAULT_ATOL,
    seed: int = 0,
) -> dict[str, float]:
    """Export a Keras model (Sequential or functional) to a fastgen model file.

    The model must take one input of shape (batch, n_features); its outputs become
    the graph outputs (``load(path).predict(X)`` returns the first).  The graph goes
    through the same gates as an ``Autoencoder``'s export (see :class:`ExportError`),
    so the file always loads with :func:`fastgen.nn.load`.  Needs the ``train``
    extra (TensorFlow, Keras, tf2onnx, onnx).

    Parameters
    ----------
    model : keras.Model
        A built model with one input of shape (batch, n_features).
    path : str or path-like
        Destination file (kind ``"keras"``); replaced if it exists.
    probe : ndarray of shape (n, n_features), optional
        Inputs for the ONNX-vs-Keras numeric gate; default 16 rows drawn from
        U(0, 1) with ``seed``.
    opset : int, default=17
        ONNX opset of the graph, at most 18.
    atol : float, default=1e-5
        Largest accepted absolute difference between ONNX and Keras outputs on the
        probe.
    seed : int, default=0
        Seed of the default probe.

    Returns
    -------
    dict of str to float
        ``{"model": diff}``: the largest absolute difference between the ONNX and
        Keras outputs on the probe.

    Raises
    ------
    ValueError
        ``model`` is not built, or does not take one input of shape
        (batch, n_features).
    ExportError
        A gate failed; nothing is written.

    See Also
    --------
    fastgen.nn.load : Load the file for inference.
    OnnxKerasModel : What loading the file gives.
    quantize_dynamic : Write an int8 copy of the file.

    Examples
    --------
    >>> import numpy as np
    >>> import keras
    >>> import fastgen
    >>> from fastgen.nn import export_keras
    >>> net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"),
    ...                         keras.layers.Dense(1, activation="sigmoid")])
    >>> diff = export_keras(net, "net.fgm")
    >>> list(diff), diff["model"] <= 1e-5
    (['model'], True)
    >>> fastgen.load("net.fgm", device="cpu").predict(np.zeros((2, 4))).shape
    (2, 1)
    """
    inputs = getattr(model, "inputs", None)
    if not inputs:
        raise ValueError("model must be a built Keras model with a defined input")
    if len(inputs) != 1 or len(inputs[0].shape) != 2 or inputs[0].shape[-1] is None:
        raise ValueError(
            "export_keras supports models with one input of shape (batch, n_features), "
            f"got inputs {[tuple(i.shape) for i in inputs]}"
        )
    n_features = int(inputs[0].shape[-1])
    n_out = len(model.outputs)
    names = ["output"] if n_out == 1 else [f"output_{i}" for i in range(n_out)]
    if probe is None:
        probe = np.random.default_rng(seed).random((16, n_features), dtype=np.float32)

    def fn(x):
        return model(x, training=False)

    out_shapes = [list(o.shape) for o in model.outputs]
    return export_graphs(
        path,
        "keras",
        {
            "model": {
                "fn": fn,
                "input_dim": n_features,
                "input": "x",
                "outputs": names,
                "probe": probe,
            }
        },
        {"input_shape": [None, n_features], "output_shapes": out_shapes},
        opset,
        atol,
    )
