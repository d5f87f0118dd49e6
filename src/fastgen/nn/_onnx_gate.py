"""Load-time gates on the ONNX graphs of a model file, which may come from an attacker.

Two stages guard :func:`fastgen.nn.load` before and while its onnxruntime sessions
are created; ``_export`` applies the same static stage to every graph it writes, so
an export never produces a file that ``load`` refuses.

**Static gate** (:func:`check_graph`).  A small reader of the protobuf wire format
(varint, length-delimited, fixed32/64; bounds-checked; every malformed byte raises
:class:`GateError`, never ``IndexError`` or ``RecursionError``, and parsing is linear
in the input) walks the ``ModelProto`` without the ``onnx`` package (not a runtime
dependency, and slow to import).  Weights are skipped by offset, never copied.  It
refuses

* any tensor, anywhere (initializers, ``Constant`` attributes, subgraphs), whose
  ``data_location`` is EXTERNAL or that has ``external_data`` entries: onnxruntime
  would read that path relative to the working directory (a host file);
* sparse tensors (densified by onnxruntime: a few bytes can declare gigabytes),
  model-local functions and ``training_info``;
* ops outside the domains ``""``/``"ai.onnx"``, a default-domain opset above
  :data:`MAX_OPSET`, random ops (:func:`is_random_op`), and every op not in
  :data:`ALLOWED_OPS` (no control flow, so no subgraphs either); ``Dropout`` only in
  its inference form (no ``training_mode`` input) and ``BatchNormalization`` only
  with ``training_mode=0``;
* graph inputs/outputs that differ from the manifest: exactly one input besides the
  initializers, float32, rank 2, a dynamic batch dimension and the declared feature
  width; the manifest's output names (in any order, no others), float if typed.

**Probe** (:func:`probe_graph`, run by ``load`` on each graph's session).  A fixed
batch of :data:`PROBE_ROWS` deterministic rows goes through the graph twice, and its
first row alone once: outputs must be float32/float64, finite, have one row per input
row and the declared trailing shape, the two runs must be bit-identical, and the
single row must equal the batch's first row to a float tolerance (skipped where the
graph quantizes activations with ``DynamicQuantizeLinear``, whose per-tensor range
depends on the whole batch by design).

**Memory bound** (:func:`memory_cap`).  onnxruntime has no per-session memory limit
for the CPU provider: ``OrtArenaCfg.max_mem`` only applies to an allocator shared by
every session of the process that opts in (``create_and_register_allocator`` plus
``session.use_env_allocators``), which would cap serving too and keep whatever the
probe took in its arena.  A static bound is not possible either: shapes can be
computed from data (``Shape`` -> ``Mul`` -> ``ConstantOfShape``) and broadcasting
multiplies them, and onnxruntime constant-folds nodes of up to 1 GiB while it
creates the session.  So session creation and the probe run under a temporary soft
``RLIMIT_DATA`` of the process's current data size (``VmData``) plus a budget
(:data:`PROBE_MEMORY_BUDGET` + 4x the graphs' bytes + a stack allowance per
onnxruntime thread), restored in ``finally``.  ``RLIMIT_DATA`` rather than
``RLIMIT_AS``: since Linux 4.7 it counts private writable mappings (what malloc and
mmap'd buffers take) but not address space merely reserved (glibc's per-thread
arenas, CUDA's reservations) or file mappings, so it bounds memory without refusing
honest loads on large machines.  Measured (onnxruntime 1.32, Linux 6.18): a 2 kB
graph whose ``ConstantOfShape``, ``Expand`` or ``Tile`` asks for 2 GiB fails inside
onnxruntime's allocator with an ordinary exception (``Fail: ... Failed to allocate
memory``, also with intra-op threads; nothing aborts), which becomes a
:class:`~fastgen._modelfile.ModelFileError`, and the load's peak RSS does not grow.

Limits: the cap is process-wide, so other threads that allocate much during the few
milliseconds of the window may get ``MemoryError`` (fastgen's own loads take the
window one at a time, and a child forked meanwhile gets the previous limit back); it
bounds the probe, not later calls, whose memory can grow with the batch; on CUDA the
memory-capped, bit-exact probe runs on CPU sessions (GPU memory is no process limit)
before a probe on the device that compares its two runs to a float tolerance; where
``RLIMIT_DATA`` or ``/proc/self/status`` is missing (Windows, macOS) the probe runs
without a cap.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence

import numpy as np

try:  # not on Windows
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]

__all__ = [
    "ALLOWED_OPS",
    "MAX_OPSET",
    "MAX_SUBGRAPH_DEPTH",
    "PROBE_MEMORY_BUDGET",
    "PROBE_ROWS",
    "GateError",
    "GraphSummary",
    "ValueSummary",
    "check_graph",
    "graph_bytes_budget",
    "is_random_op",
    "memory_cap",
    "parse_model",
    "probe_batch",
    "probe_graph",
    "thread_allowance",
]

#: newest default-domain opset accepted (the newest tf2onnx 1.17 targets)
MAX_OPSET = 18
#: rows of the load-time probe batch
PROBE_ROWS = 4
#: memory the load may take beyond the graphs' own size while the cap is on (bytes)
PROBE_MEMORY_BUDGET = 512 * 1024**2
#: graphs nested in attributes deeper than this are refused (no recursion blow-up)
MAX_SUBGRAPH_DEPTH = 4

_RANDOM_PREFIXES = ("Random", "Multinomial", "Bernoulli", "StatelessRandom", "StatefulRandom")

#: Ops the loader accepts (default domain only), all deterministic on CPU:
#: everything fastgen's exports emit -- tf2onnx on Dense/Conv/pooling/normalisation/
#: activation layers (Add AveragePool Clip Concat Conv Elu Exp LeakyRelu MatMul MaxPool
#: Mul Neg Reciprocal ReduceMean Relu Reshape Selu Sigmoid Softmax Softplus Softsign
#: Sqrt Squeeze Sub Tanh Transpose Unsqueeze) and ``quantize_dynamic`` (Cast ConvInteger
#: DynamicQuantizeLinear MatMulInteger) -- plus the other standard elementwise,
#: linear-algebra, normalisation, pooling, reduction and shape ops.  Left out: random
#: ops, control flow (If, Loop, Scan), sequences/optionals/strings, scatters (not
#: deterministic on GPUs with repeated indices) and other special-purpose ops.
ALLOWED_OPS: frozenset[str] = frozenset(
    # elementwise
    "Abs Acos Acosh Add And Asin Asinh Atan Atanh Cast CastLike Ceil Celu Clip Cos Cosh "
    "Div Dropout Elu Equal Erf Exp Floor Greater GreaterOrEqual HardSigmoid HardSwish "
    "Identity IsInf IsNaN LeakyRelu Less LessOrEqual Log Max Mean Min Mish Mod Mul Neg "
    "Not Or PRelu Pow Reciprocal Relu Round Selu Shrink Sigmoid Sign Sin Sinh Softplus "
    "Softsign Sqrt Sub Sum Tan Tanh ThresholdedRelu Where Xor "
    # linear algebra and quantisation
    "Conv ConvInteger ConvTranspose DequantizeLinear DynamicQuantizeLinear Einsum Gemm "
    "MatMul MatMulInteger QLinearConv QLinearMatMul QuantizeLinear "
    # normalisation, pooling, softmax
    "AveragePool BatchNormalization GlobalAveragePool GlobalLpPool GlobalMaxPool "
    "GroupNormalization Hardmax InstanceNormalization LRN LayerNormalization LogSoftmax "
    "LpNormalization LpPool MaxPool MeanVarianceNormalization Softmax "
    # reductions
    "ArgMax ArgMin CumSum ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax "
    "ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare "
    # shape and layout (the memory cap bounds what Expand, Tile & co. allocate)
    "Concat Constant ConstantOfShape DepthToSpace Expand Flatten Gather GatherElements "
    "GatherND Pad Range Reshape Resize Shape Size Slice SpaceToDepth Split Squeeze Tile "
    "Transpose Trilu Unsqueeze".split()
)

_DEFAULT_DOMAINS = ("", "ai.onnx")
_FLOAT, _DOUBLE = 1, 11  # TensorProto.DataType
_U64 = 1 << 64

# wire types
_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


class GateError(ValueError):
    """A graph is malformed or not allowed (the message says why, without the file)."""


def is_random_op(op_type: str) -> bool:
    """Whether ``op_type`` samples random numbers (ONNX or TensorFlow naming)."""
    return op_type.startswith(_RANDOM_PREFIXES) or "Random" in op_type


# --------------------------------------------------------------------------- wire format


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """Decode a varint at ``pos`` (at most 10 bytes, < 2**64); return (value, next pos)."""
    result = shift = 0
    while pos < end:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            if result >= _U64:
                raise GateError("malformed protobuf (varint exceeds 64 bits)")
            return result, pos
        shift += 7
        if shift >= 70:
            raise GateError("malformed protobuf (varint longer than 10 bytes)")
    raise GateError("truncated protobuf (varint runs past the end)")


def _fields(buf: bytes, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """Yield ``(field, wire_type, a, b)`` for each field of the message ``buf[start:end]``.

    Length-delimited fields give their payload's bounds ``(a, b)`` (nothing is
    copied); varints and fixed-width fields give ``(value, 0)``.
    """
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos, end)
        field, wire = key >> 3, key & 7
        if field == 0:
            raise GateError("malformed protobuf (field number 0)")
        if wire == _VARINT:
            value, pos = _varint(buf, pos, end)
            yield field, wire, value, 0
            continue
        if wire == _LEN:
            size, pos = _varint(buf, pos, end)
        elif wire in (_I64, _I32):
            size = 8 if wire == _I64 else 4
        else:
            raise GateError(f"malformed protobuf (unsupported wire type {wire})")
        if size > end - pos:
            raise GateError("truncated protobuf (a field runs past its message)")
        if wire == _LEN:
            yield field, wire, pos, pos + size
        else:
            yield field, wire, int.from_bytes(buf[pos : pos + size], "little"), 0
        pos += size


#: per message: field number -> (wire type, key); _PACKED: int64s, varint or packed;
#: _REFUSED: the field's mere presence is refused (the key says why)
_PACKED, _REFUSED = -1, -2
_SPARSE = "sparse tensors are not supported in model files"
_MODEL = {
    1: (_VARINT, "ir_version"),
    7: (_LEN, "graph"),
    8: (_LEN, "opset_import"),
    20: (_REFUSED, "training_info is not allowed"),
    25: (_REFUSED, "model-local functions are not allowed"),
}
_OPSET = {1: (_LEN, "domain"), 2: (_VARINT, "version")}
_GRAPH = {
    1: (_LEN, "node"),
    5: (_LEN, "initializer"),
    11: (_LEN, "input"),
    12: (_LEN, "output"),
    15: (_REFUSED, _SPARSE),
}
_NODE = {1: (_LEN, "input"), 4: (_LEN, "op_type"), 5: (_LEN, "attribute"), 7: (_LEN, "domain")}
_ATTRIBUTE = {
    1: (_LEN, "name"),
    3: (_VARINT, "i"),
    5: (_LEN, "tensor"),  # t
    6: (_LEN, "graph"),  # g
    10: (_LEN, "tensor"),  # tensors
    11: (_LEN, "graph"),  # graphs
    22: (_REFUSED, _SPARSE),
    23: (_REFUSED, _SPARSE),
}
_TENSOR = {
    1: (_PACKED, "dims"),
    8: (_LEN, "name"),
    13: (_LEN, "external_data"),
    14: (_VARINT, "data_location"),
}
_VALUE = {1: (_LEN, "name"), 2: (_LEN, "type")}
#: TypeProto: tensor_type, or sequence/map/opaque/sparse/optional (not plain tensors)
_TYPE = {1: (_LEN, "tensor"), **{f: (_LEN, "other") for f in (4, 5, 7, 8, 9)}}
_TENSOR_TYPE = {1: (_VARINT, "elem_type"), 2: (_LEN, "shape")}
_SHAPE = {1: (_LEN, "dim")}
_DIM = {1: (_VARINT, "value"), 2: (_LEN, "param")}


def _read(buf: bytes, span: tuple[int, int], fields: dict, what: str) -> dict[str, list]:
    """The fields of interest of one message: key -> values (spans for LEN fields)."""
    out: dict[str, list] = {}
    for field, wire, a, b in _fields(buf, *span):
        spec = fields.get(field)
        if spec is None:  # not needed: skipped without a copy
            continue
        want, key = spec
        if want == _REFUSED:
            raise GateError(key)
        if want == _PACKED and wire == _LEN:
            pos, values = a, out.setdefault(key, [])
            while pos < b:
                value, pos = _varint(buf, pos, b)
                values.append(value)
            continue
        if wire != (_VARINT if want == _PACKED else want):
            raise GateError(f"malformed protobuf ({what} field {field} has wire type {wire})")
        out.setdefault(key, []).append((a, b) if wire == _LEN else a)
    return out


def _int64(value: int) -> int:
    return value - _U64 if value >= 1 << 63 else value


def _text(buf: bytes, span: tuple[int, int]) -> str:
    try:
        return buf[span[0] : span[1]].decode("utf-8")
    except UnicodeDecodeError:
        raise GateError("malformed protobuf (a name is not UTF-8)") from None


def _last(buf: bytes, msg: dict[str, list], key: str) -> str:
    """The string ``key`` of a message ("" when absent; the last one wins, as in protobuf)."""
    return _text(buf, msg[key][-1]) if key in msg else ""


# --------------------------------------------------------------------------- model walk


class ValueSummary:
    """A graph input or output: name, element type (0: undeclared) and shape.

    ``shape`` is None when undeclared; otherwise one entry per dimension: an int
    (``dim_value``), a str (``dim_param``) or None (neither).
    """

    __slots__ = ("elem_type", "name", "shape")

    def __init__(self, name: str, elem_type: int, shape: tuple | None) -> None:
        self.name, self.elem_type, self.shape = name, elem_type, shape

    def __repr__(self) -> str:
        return f"ValueSummary({self.name!r}, {self.elem_type}, {self.shape})"


class GraphSummary:
    """What the static gate read from a ``ModelProto``.

    ``opsets`` maps domains to versions (``"ai.onnx"`` folded into ``""``); ``nodes``
    lists ``(domain, op_type, inputs, training_mode attribute or 0)`` for the main
    graph and its subgraphs; ``inputs`` (initializers left out) and ``outputs`` are
    the main graph's.
    """

    __slots__ = ("inputs", "ir_version", "nodes", "opsets", "outputs")

    def __init__(self, ir_version, opsets, nodes, inputs, outputs) -> None:
        self.ir_version: int = ir_version
        self.opsets: dict[str, int] = opsets
        self.nodes: list[tuple[str, str, tuple[str, ...], int]] = nodes
        self.inputs: list[ValueSummary] = inputs
        self.outputs: list[ValueSummary] = outputs

    @property
    def ops(self) -> frozenset[str]:
        """Op types of the main graph and its subgraphs."""
        return frozenset(n[1] for n in self.nodes)


def _tensor(buf: bytes, span: tuple[int, int], where: str) -> str:
    """Refuse a TensorProto with external data or negative dims; return its name."""
    m = _read(buf, span, _TENSOR, "TensorProto")
    name = _last(buf, m, "name") or "?"
    if "external_data" in m or any(m.get("data_location", ())):
        raise GateError(
            f"tensor {name!r} ({where}) refers to external data; model files must hold "
            "every weight inline"
        )
    if any(d >= 1 << 63 for d in m.get("dims", ())):
        raise GateError(f"tensor {name!r} ({where}) has a negative dimension")
    return name


def _graph(buf: bytes, span: tuple[int, int], depth: int, nodes: list) -> dict[str, list]:
    """Walk a GraphProto and its subgraphs, appending their nodes to ``nodes``."""
    if depth > MAX_SUBGRAPH_DEPTH:
        raise GateError(f"subgraphs nest deeper than {MAX_SUBGRAPH_DEPTH} levels")
    g = _read(buf, span, _GRAPH, "GraphProto")
    for node_span in g.get("node", ()):
        n = _read(buf, node_span, _NODE, "NodeProto")
        training_mode = 0
        for attr_span in n.get("attribute", ()):
            a = _read(buf, attr_span, _ATTRIBUTE, "AttributeProto")
            name = _last(buf, a, "name")
            for t in a.get("tensor", ()):
                _tensor(buf, t, f"attribute {name!r}")
            for sub in a.get("graph", ()):
                _graph(buf, sub, depth + 1, nodes)
            if name == "training_mode" and "i" in a:
                training_mode = _int64(a["i"][-1])
        inputs = tuple(_text(buf, s) for s in n.get("input", ()))
        nodes.append((_last(buf, n, "domain"), _last(buf, n, "op_type"), inputs, training_mode))
    g["initializer"] = [_tensor(buf, s, "initializer") for s in g.get("initializer", ())]
    return g


def _value(buf: bytes, span: tuple[int, int]) -> ValueSummary:
    v = _read(buf, span, _VALUE, "ValueInfoProto")
    name = _last(buf, v, "name")
    elem_type, shape = 0, None
    for type_span in v.get("type", ()):
        t = _read(buf, type_span, _TYPE, "TypeProto")
        if "other" in t:
            raise GateError(f"graph input/output {name!r} is not a plain tensor")
        for tensor_span in t.get("tensor", ()):
            tt = _read(buf, tensor_span, _TENSOR_TYPE, "TypeProto.Tensor")
            elem_type = _int64(tt["elem_type"][-1]) if "elem_type" in tt else 0
            for shape_span in tt.get("shape", ()):
                dims = []
                for dim_span in _read(buf, shape_span, _SHAPE, "TensorShapeProto").get("dim", ()):
                    d = _read(buf, dim_span, _DIM, "Dimension")
                    dims.append(
                        _int64(d["value"][-1]) if "value" in d else _last(buf, d, "param") or None
                    )
                shape = tuple(dims)
    return ValueSummary(name, elem_type, shape)


def parse_model(data: bytes) -> GraphSummary:
    """Walk a serialised ``ModelProto``; raise :class:`GateError` on anything refused.

    Refuses here: malformed bytes, external or sparse tensors anywhere, model-local
    functions, ``training_info``, no or several graphs, an opset domain imported twice,
    subgraphs nested deeper than :data:`MAX_SUBGRAPH_DEPTH`.  Checks of ops and of the
    inputs/outputs are :func:`check_graph`'s.
    """
    buf = data if isinstance(data, bytes) else bytes(data)
    m = _read(buf, (0, len(buf)), _MODEL, "ModelProto")
    opsets: dict[str, int] = {}
    for span in m.get("opset_import", ()):
        o = _read(buf, span, _OPSET, "OperatorSetIdProto")
        domain = _last(buf, o, "domain")
        domain = "" if domain in _DEFAULT_DOMAINS else domain
        if domain in opsets:
            raise GateError(f"opset domain {domain or 'ai.onnx'!r} is imported twice")
        opsets[domain] = _int64(o["version"][-1]) if "version" in o else 0
    if len(m.get("graph", ())) != 1:
        raise GateError("the model must hold exactly one graph")
    nodes: list = []
    g = _graph(buf, m["graph"][0], 0, nodes)
    initializers = set(g["initializer"])
    inputs = [_value(buf, s) for s in g.get("input", ())]
    return GraphSummary(
        _int64(m["ir_version"][-1]) if "ir_version" in m else 0,
        opsets,
        nodes,
        [v for v in inputs if v.name not in initializers],
        [_value(buf, s) for s in g.get("output", ())],
    )


# --------------------------------------------------------------------------- checks


def _check_ops(summary: GraphSummary) -> None:
    version = summary.opsets.get("")
    if version is None:
        raise GateError("the model imports no default-domain (ai.onnx) opset")
    if not 1 <= version <= MAX_OPSET:
        raise GateError(f"opset {version} is not supported (at most {MAX_OPSET})")
    nodes = summary.nodes
    random_ops = sorted({op for _, op, _, _ in nodes if is_random_op(op)})
    if random_ops:
        raise GateError(f"random ops {random_ops}: model outputs must be deterministic")
    domains = sorted({dom for dom, _, _, _ in nodes if dom not in _DEFAULT_DOMAINS})
    if domains:
        raise GateError(f"ops from non-standard domains {domains} are not allowed")
    refused = sorted({op for _, op, _, _ in nodes if op not in ALLOWED_OPS})
    if refused:
        raise GateError(f"ops {refused} are not on fastgen's list of deterministic standard ops")
    for _, op, inputs, training_mode in nodes:
        if op == "Dropout" and len(inputs) > 2 and inputs[2]:
            raise GateError("Dropout with a training_mode input is not allowed")
        if op == "BatchNormalization" and training_mode:
            raise GateError("BatchNormalization in training mode is not allowed")


def _check_io(
    summary: GraphSummary, input_name: str, output_names: Sequence[str], width: int
) -> None:
    names = [v.name for v in summary.inputs]
    if names != [input_name]:
        raise GateError(f"graph inputs {names} do not match the manifest's [{input_name!r}]")
    (inp,) = summary.inputs
    if inp.elem_type != _FLOAT:
        raise GateError(f"input {input_name!r} is not float32 (element type {inp.elem_type})")
    shape = inp.shape
    if shape is None or len(shape) != 2:
        raise GateError(
            f"input {input_name!r} must have rank 2 (batch, features), got shape {shape}"
        )
    if isinstance(shape[0], int):
        raise GateError(f"input {input_name!r} has a fixed batch dimension {shape[0]}")
    if shape[1] != width:
        raise GateError(
            f"input {input_name!r} has {shape[1]!r} features, the manifest declares {width}"
        )
    outs = [v.name for v in summary.outputs]
    if len(set(outs)) != len(outs) or sorted(outs) != sorted(output_names):
        raise GateError(f"graph outputs {outs} do not match the manifest's {list(output_names)}")
    for v in summary.outputs:
        if v.elem_type not in (0, _FLOAT, _DOUBLE):
            raise GateError(f"output {v.name!r} is not float (element type {v.elem_type})")


def check_graph(
    data: bytes, input_name: str, output_names: Sequence[str], width: int
) -> GraphSummary:
    """The static gate: parse ``data`` (a serialised ``ModelProto``) and check it.

    Parameters
    ----------
    data : bytes
        The graph as stored in the model file.
    input_name : str
        The one input the manifest declares.
    output_names : sequence of str
        The outputs the manifest declares, in order.
    width : int
        Feature width of the input (the batch dimension must be dynamic).

    Returns
    -------
    GraphSummary
        Opsets, op types and inputs/outputs of the graph.

    Raises
    ------
    GateError
        Malformed bytes, anything refused (see the module docstring).
    """
    summary = parse_model(data)
    _check_ops(summary)
    _check_io(summary, input_name, output_names, width)
    return summary


# --------------------------------------------------------------------------- memory cap

_CAP_LOCK = threading.Lock()
#: the limit to restore while a cap is on (for a child forked meanwhile)
_capped_from: tuple[int, int] | None = None


def _after_fork_in_child() -> None:
    """A child forked while another thread held the cap: restore the limit, free the lock."""
    global _CAP_LOCK, _capped_from
    if _capped_from is not None and resource is not None:
        resource.setrlimit(resource.RLIMIT_DATA, _capped_from)
    _capped_from = None
    _CAP_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _data_bytes() -> int | None:
    """This process's data segment (``VmData``) in bytes; None where unknown."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmData:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def thread_allowance(n_threads: int) -> int:
    """Data-segment bytes that ``n_threads`` new threads may take (stack + malloc arena)."""
    stack = 32 * 1024**2  # glibc's default when the stack limit is unlimited
    if resource is not None:
        soft = resource.getrlimit(resource.RLIMIT_STACK)[0]
        if soft != resource.RLIM_INFINITY and soft > 0:
            stack = int(soft)
    return max(0, n_threads) * (stack + 8 * 1024**2)


@contextlib.contextmanager
def memory_cap(extra: int) -> Iterator[int | None]:
    """Cap the process's data segment at its current size + ``extra`` bytes for the block.

    Sets a soft ``RLIMIT_DATA`` (never above an existing soft or hard limit) and
    restores the previous limit on exit; one block at a time per process.  Yields the
    bytes the block may take (``extra``, or less under a lower existing limit), or
    None where no cap can be set (then nothing is capped).  A child forked meanwhile
    gets the previous limit back.
    """
    global _capped_from
    with _CAP_LOCK:
        used = _data_bytes()
        if resource is None or used is None:  # pragma: no cover - not Linux
            yield None
            return
        soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
        cap = used + int(extra)
        for limit in (soft, hard):
            if limit != resource.RLIM_INFINITY:
                cap = min(cap, int(limit))
        try:
            resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))
        except (ValueError, OSError):  # pragma: no cover - e.g. a sandbox forbids it
            yield None
            return
        _capped_from = (soft, hard)
        try:
            yield max(0, cap - used)
        finally:
            _capped_from = None
            resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


# --------------------------------------------------------------------------- probe


def probe_batch(width: int, latent: bool = False) -> np.ndarray:
    """The fixed probe input: (:data:`PROBE_ROWS`, ``width``) float32, no two values equal.

    Features lie in [0.05, 0.95] (data scaled to [0, 1]); latent codes in [-1.5, 1.5].
    """
    k = np.arange(PROBE_ROWS * width, dtype=np.float64) + 0.5
    u = (k * 0.6180339887498949) % 1.0  # golden-ratio sequence: well spread, never 0
    x = 3.0 * u - 1.5 if latent else 0.05 + 0.9 * u
    return x.astype(np.float32).reshape(PROBE_ROWS, width)


def _outputs_ok(
    outs: Sequence[np.ndarray],
    rows: int,
    tails: Sequence[tuple[int, ...] | None],
    names: Sequence[str],
) -> list[np.ndarray]:
    if len(outs) != len(tails):
        raise GateError(f"probe: {len(outs)} outputs, expected {len(tails)}")
    arrays = []
    for i, out, tail in zip(names, outs, tails, strict=True):
        arr = np.asarray(out)
        if arr.dtype not in (np.float32, np.float64):
            raise GateError(f"probe: output {i!r} has dtype {arr.dtype}, not float32/float64")
        if arr.ndim == 0 or arr.shape[0] != rows:
            raise GateError(
                f"probe: output {i!r} has shape {arr.shape} for {rows} input rows "
                "(one output row per input row expected)"
            )
        if tail is not None and arr.shape[1:] != tuple(tail):
            raise GateError(
                f"probe: output {i!r} has shape {arr.shape}, expected (rows, *{tuple(tail)})"
            )
        if not np.isfinite(arr).all():
            raise GateError(f"probe: output {i!r} holds NaN or infinity")
        arrays.append(arr)
    return arrays


def probe_graph(
    run: Callable[[np.ndarray], Sequence[np.ndarray]],
    x: np.ndarray,
    tails: Sequence[tuple[int, ...] | None],
    exact: bool = True,
    row_check: bool = True,
    names: Sequence[str] | None = None,
) -> list[np.ndarray]:
    """Run the probe ``x`` through ``run`` twice and its first row once; check the outputs.

    ``tails`` gives each output's expected shape without the batch dimension (None:
    any).  ``exact``: the two runs must be bit-identical (else equal to a float
    tolerance, e.g. on GPUs); ``row_check``: the single row must match the batch's
    first row to a float tolerance.  ``names`` name the outputs in messages.  Returns
    the first run's outputs; raises :class:`GateError` on any failure.
    """
    rows = x.shape[0]
    names = list(names) if names is not None else [str(i) for i in range(len(tails))]
    first = _outputs_ok(run(x), rows, tails, names)
    second = _outputs_ok(run(x), rows, tails, names)
    for i, a, b in zip(names, first, second, strict=True):
        same = (
            a.dtype == b.dtype and a.tobytes() == b.tobytes()
            if exact
            else bool(np.allclose(a, b, rtol=1e-3, atol=1e-4 * max(1.0, float(np.abs(a).max()))))
        )
        if not same:
            raise GateError(f"probe: output {i!r} differs between two identical runs")
    if row_check:
        single = _outputs_ok(run(np.ascontiguousarray(x[:1])), 1, tails, names)
        for i, a, s in zip(names, first, single, strict=True):
            scale = max(1.0, float(np.abs(a).max()))
            if not np.allclose(s[0], a[0], rtol=1e-3, atol=1e-4 * scale):
                raise GateError(
                    f"probe: output {i!r} for the first row alone differs from the same row "
                    "in a batch (rows must be processed independently)"
                )
    return first


def graph_bytes_budget(total_graph_bytes: int, n_threads: int) -> int:
    """Bytes :func:`memory_cap` allows a load: budget + 4x the graphs + the threads."""
    return PROBE_MEMORY_BUDGET + 4 * int(total_graph_bytes) + thread_allowance(n_threads)
