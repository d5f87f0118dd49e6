"""Serving exported models with onnxruntime.  Never imports tensorflow, keras or tf2onnx.

:func:`load` reads a model file written by ``export``/``export_keras`` and returns a
:class:`OnnxAutoencoder`, :class:`OnnxVAE` or :class:`OnnxKerasModel`.  Inputs are
processed in chunks of ``batch_size`` rows, each cast to C-contiguous float32 and
checked for NaN/inf as it is read (so a float64 or memory-mapped input never gets a
full float32 copy).  On CPU, chunks run in parallel: ``n_jobs`` threads (the caller
and a per-model pool) take chunks from a shared counter and run them on
single-threaded sessions, which balances load when other processes share the cores,
where onnxruntime's static split of each operator between its intra-op threads waits
for the slowest one.  Calls are thread-safe (each call uses its own buffers;
onnxruntime sessions support concurrent ``run``).

A model file may come from an attacker, so :func:`load` validates the manifest
(:func:`graph_specs`), passes every graph through the static gate of
:mod:`fastgen.nn._onnx_gate` before any session exists, and then creates the sessions
and runs a fixed probe batch through each graph under a memory cap (see that module).
Every chunk's outputs must have one row per input row (:class:`_Graph`).
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from fastgen._docstrings import fill
from fastgen._modelfile import ModelFileError, read_modelfile
from fastgen.nn._onnx_gate import (
    GateError,
    GraphSummary,
    check_graph,
    graph_bytes_budget,
    memory_cap,
    probe_batch,
    probe_graph,
)

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

__all__ = ["OnnxAutoencoder", "OnnxKerasModel", "OnnxVAE", "load"]

logger = logging.getLogger("fastgen.nn")

KINDS = ("autoencoder", "vae", "keras")
#: rows per ``session.run``: on the 784-feature reference models, 512-1,536 rows ran
#: ~10 % faster per row than 4,096 (the chunk and its activations stay in cache)
DEFAULT_BATCH_SIZE = 1024
#: largest feature width a manifest may declare (the probe allocates rows of it)
MAX_WIDTH = 1 << 24
#: per kind: the graphs a file must hold, with their number of outputs (None: any)
KIND_GRAPHS: dict[str, dict[str, int | None]] = {
    "autoencoder": {"encoder": 1, "decoder": 1},
    "vae": {"encoder": 2, "decoder": 1},
    "keras": {"model": None},
}


# --------------------------------------------------------------------------- validation


def _validated(X: Any, n_features: int | None, name: str = "X") -> np.ndarray:
    """Check dtype and shape of ``X`` (a 2-D numeric array); no copy of an ndarray.

    Values (float32 cast and NaN/inf check) are left to :func:`_chunk_f32`.
    """
    if isinstance(X, np.ndarray):
        if X.dtype.hasobject:
            raise ValueError(f"{name} has dtype object; pass a numeric float array")
        arr = X
    else:
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
    return arr


def check_input(X: Any, n_features: int | None, name: str = "X") -> np.ndarray:
    """Validate ``X`` as a non-empty, finite 2-D numeric array; return float32.

    Memory-mapped arrays are returned as is (chunks are cast later) after a
    dtype/shape check; the finiteness check then happens chunk by chunk.
    """
    arr = _validated(X, n_features, name)
    if not isinstance(arr, np.memmap):
        arr = _chunk_f32(arr, name, check_finite=True)
    return arr


def _chunk_f32(chunk: np.ndarray, name: str, check_finite: bool = True) -> np.ndarray:
    """``chunk`` as C-contiguous float32 (no copy if it already is); NaN/inf -> ValueError.

    Values beyond float32's range become inf in the cast and so raise too.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.ascontiguousarray(chunk, dtype=np.float32)
        # NaN and inf propagate through a sum, so a finite sum proves every value
        # finite (one pass, no temporary); a non-finite one may be an overflow of
        # huge finite values: then check exactly
        if check_finite and not (np.isfinite(out.sum()) or np.isfinite(out).all()):
            raise ValueError(f"{name} contains NaN or infinity")
    return out


def n_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def run_chunks(
    work: Callable[[int, int], None],
    n: int,
    batch_size: int,
    n_jobs: int = 1,
    pool: ThreadPoolExecutor | None = None,
    skip_first: bool = False,
) -> None:
    """Call ``work(start, stop)`` for each chunk of ``range(n)`` of ``batch_size`` rows.

    With ``n_jobs > 1`` and a ``pool``, up to ``n_jobs - 1`` pool threads and the
    calling thread take chunks from a shared counter (dynamic load balancing: a
    thread slowed down by other processes simply takes fewer chunks).  Returns once
    every chunk taken has finished; the first exception stops the distribution of
    further chunks and is re-raised here.  A pool thread that only starts after the
    work is done (the pool busy with another call) finds nothing left and is not
    waited for.  ``skip_first`` leaves out the chunk starting at 0 (done already).
    """
    first = 1 if skip_first else 0
    n_chunks = -(-n // batch_size)
    if n_jobs <= 1 or pool is None or n_chunks - first <= 1:
        for i in range(first, n_chunks):
            work(i * batch_size, min((i + 1) * batch_size, n))
        return
    lock = threading.Lock()
    done = threading.Event()
    state = {"next": first, "finished": first}
    errors: list[BaseException] = []

    def worker() -> None:
        while True:
            with lock:
                i = state["next"]
                if errors or i >= n_chunks:
                    return
                state["next"] = i + 1
            try:
                work(i * batch_size, min((i + 1) * batch_size, n))
            except BaseException as exc:  # re-raised in the calling thread
                with lock:
                    errors.append(exc)
            finally:
                with lock:
                    state["finished"] += 1
                    if state["finished"] == state["next"] and (errors or state["next"] >= n_chunks):
                        done.set()

    for _ in range(min(n_jobs, n_chunks - first) - 1):
        try:
            pool.submit(worker)
        except RuntimeError:  # pool shut down (interpreter exit): the caller does it all
            break
    try:
        worker()
        done.wait()
    except BaseException as exc:  # e.g. KeyboardInterrupt while waiting: stop the others
        with lock:
            errors.append(exc)
        raise
    if errors:
        raise errors[0]


#: per output: its shape without the batch dimension, and its dtype
OutputLayout = list[tuple[tuple[int, ...], np.dtype]]


def map_batches(
    fn: Callable[[np.ndarray], list[np.ndarray]],
    X: np.ndarray,
    batch_size: int,
    name: str = "X",
    n_jobs: int = 1,
    pool: ThreadPoolExecutor | None = None,
    layout: OutputLayout | None = None,
) -> list[np.ndarray]:
    """Apply ``fn`` (float32 rows -> list of (rows, ...) arrays) chunk by chunk.

    ``X`` is any 2-D numeric array (e.g. memory-mapped): each chunk is cast to
    C-contiguous float32 and checked for NaN/inf as it is read, so peak extra memory
    is about one chunk per thread.  Outputs are written into preallocated arrays,
    shaped by ``layout`` when given (then every chunk can start at once), else by the
    first chunk's results (run before the others).  A single chunk is returned
    without a copy.  ``n_jobs``/``pool`` as in :func:`run_chunks`.
    """
    n = X.shape[0]
    if n <= batch_size:
        outs = [np.asarray(r) for r in fn(_chunk_f32(X, name))]
        for i, r in enumerate(outs):
            if r.ndim == 0 or r.shape[0] != n:
                raise RuntimeError(f"output {i} has shape {r.shape} for a chunk of {n} rows")
        return outs
    if layout is not None:
        outs = [np.empty((n, *tail), dtype=dtype) for tail, dtype in layout]
    else:
        first = fn(_chunk_f32(X[:batch_size], name))
        outs = [np.empty((n, *np.shape(r)[1:]), dtype=np.asarray(r).dtype) for r in first]
        for o, r in zip(outs, first, strict=True):
            if np.shape(r) != o[:batch_size].shape:  # never broadcast silently
                raise RuntimeError(
                    f"a chunk's output has shape {np.shape(r)}, expected {o[:batch_size].shape}"
                )
            o[:batch_size] = r

    def work(start: int, stop: int) -> None:
        res = fn(_chunk_f32(X[start:stop], name))
        if len(res) != len(outs):
            raise RuntimeError(f"expected {len(outs)} outputs per chunk, got {len(res)}")
        for o, r in zip(outs, res, strict=True):
            dst = o[start:stop]
            if np.shape(r) != dst.shape:  # never broadcast silently
                raise RuntimeError(
                    f"a chunk's output has shape {np.shape(r)}, expected {dst.shape}"
                )
            dst[...] = r

    run_chunks(work, n, batch_size, n_jobs, pool, skip_first=layout is None)
    return outs


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def sample_latent(n: int, latent_dim: int, seed: int | None) -> np.ndarray:
    """``z ~ N(0, I)``, shape (n, latent_dim), float32, from ``np.random.default_rng(seed)``."""
    if not _is_int(n) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    rng = np.random.default_rng(seed)
    return rng.standard_normal((int(n), latent_dim), dtype=np.float32)


def row_error(X: np.ndarray, R: np.ndarray) -> np.ndarray:
    """Per-row mean squared reconstruction error, shape (n,), float64."""
    d = X.astype(np.float64) - R.astype(np.float64)
    return np.mean(d * d, axis=1)


# --------------------------------------------------------------------------- manifest


class GraphSpec:
    """One graph of a model file, as its (validated) manifest describes it.

    ``width``: the input's feature width; ``tails``: per output, its shape without
    the batch dimension where the manifest says it (else None); ``latent``: the
    input is a latent code (the decoder), not data.
    """

    __slots__ = ("input_name", "latent", "member", "name", "output_names", "tails", "width")

    def __init__(
        self,
        name: str,
        member: str,
        input_name: str,
        output_names: tuple[str, ...],
        width: int,
        tails: tuple[tuple[int, ...] | None, ...],
        latent: bool = False,
    ) -> None:
        self.name, self.member, self.input_name = name, member, input_name
        self.output_names, self.width, self.tails, self.latent = output_names, width, tails, latent


class ManifestLayout:
    """What :func:`graph_specs` validated: feature and latent widths, graph specs."""

    __slots__ = ("graphs", "latent_dim", "n_features")

    def __init__(self, n_features: int, latent_dim: int | None, graphs: dict[str, GraphSpec]):
        self.n_features, self.latent_dim, self.graphs = n_features, latent_dim, graphs


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _width(obj: Mapping[str, Any], key: str, where: str) -> int:
    shape = obj.get(key)
    if (
        not isinstance(shape, list)
        or not shape
        or not _is_int(shape[-1])
        or not 0 < shape[-1] <= MAX_WIDTH
    ):
        raise ModelFileError(
            f"{where} {key!r} must be a list ending in a positive width (at most "
            f"{MAX_WIDTH}), got {_short(shape)}"
        )
    return int(shape[-1])


def _names(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, str) and v for v in value)
        and len(set(value)) == len(value)
    )


def _output_tails(manifest: Mapping[str, Any], n: int, path: str) -> list[tuple[int, ...] | None]:
    """A keras file's optional ``output_shapes``: trailing shapes where fully given."""
    shapes = manifest.get("output_shapes")
    if shapes is None:
        return [None] * n
    if (
        not isinstance(shapes, list)
        or len(shapes) != n
        or not all(
            isinstance(s, list) and s and all(d is None or (_is_int(d) and d >= 0) for d in s)
            for s in shapes
        )
    ):
        raise ModelFileError(
            f"{path}: manifest 'output_shapes' must list one shape per output, got {_short(shapes)}"
        )
    return [
        tuple(int(d) for d in s[1:]) if all(d is not None for d in s[1:]) else None for s in shapes
    ]


def graph_members(manifest: Mapping[str, Any]) -> list[str]:
    """The member names a neural manifest's graphs refer to (checked by :func:`graph_specs`).

    Given to :func:`~fastgen._modelfile.read_modelfile` so that a file holding members
    no graph uses is refused before anything is decompressed.
    """
    graphs = manifest.get("graphs")
    if not isinstance(graphs, dict):
        return []
    specs = [spec for spec in graphs.values() if isinstance(spec, dict)]
    return [spec["member"] for spec in specs if isinstance(spec.get("member"), str)]


def graph_specs(
    manifest: Mapping[str, Any], kind: str, members: Mapping[str, Any], path: str
) -> ManifestLayout:
    """Validate a neural manifest of ``kind``; raise :class:`ModelFileError` naming ``path``.

    Checks ``input_shape`` (and ``latent_shape`` for an autoencoder/VAE): lists ending
    in a positive width; ``graphs``: exactly the kind's graphs (:data:`KIND_GRAPHS`),
    each ``{"member": name of a bytes member, "inputs": [one name], "outputs":
    [distinct names]}`` with the kind's number of outputs and, if given, an
    ``input_shape`` ending in the graph's input width.
    """
    expected = KIND_GRAPHS.get(kind)
    if expected is None:
        raise ModelFileError(f"{path}: kind {kind!r} is not a neural model kind")
    n_features = _width(manifest, "input_shape", f"{path}: manifest")
    latent = None if kind == "keras" else _width(manifest, "latent_shape", f"{path}: manifest")
    graphs = manifest.get("graphs")
    if not isinstance(graphs, dict) or set(graphs) != set(expected):
        got = sorted(map(str, graphs))[:8] if isinstance(graphs, dict) else _short(graphs)
        raise ModelFileError(
            f"{path}: manifest 'graphs' must hold exactly {sorted(expected)}, got {got}"
        )
    specs: dict[str, GraphSpec] = {}
    for name, n_out in expected.items():
        spec = graphs[name]
        where = f"{path}: {name}:"
        if not isinstance(spec, dict):
            raise ModelFileError(f"{where} graph spec must be a dict, got {_short(spec)}")
        member, inputs, outputs = spec.get("member"), spec.get("inputs"), spec.get("outputs")
        if not isinstance(member, str) or not isinstance(members.get(member), bytes):
            raise ModelFileError(f"{where} member {_short(member)} is missing or not bytes")
        if not _names(inputs) or len(inputs) != 1:
            raise ModelFileError(f"{where} 'inputs' must list one name, got {_short(inputs)}")
        if not _names(outputs) or (n_out is not None and len(outputs) != n_out):
            want = "distinct names" if n_out is None else f"{n_out} distinct name(s)"
            raise ModelFileError(f"{where} 'outputs' must list {want}, got {_short(outputs)}")
        width = n_features if latent is None or name == "encoder" else latent
        if "input_shape" in spec and _width(spec, "input_shape", f"{where} graph") != width:
            raise ModelFileError(
                f"{where} graph 'input_shape' {_short(spec['input_shape'])} does not end in {width}"
            )
        if kind == "keras":
            tails = _output_tails(manifest, len(outputs), path)
        elif name == "encoder":
            tails = [(latent,)] * len(outputs)
        else:
            tails = [(n_features,)]
        specs[name] = GraphSpec(
            name, member, inputs[0], tuple(outputs), width, tuple(tails), name == "decoder"
        )
    return ManifestLayout(n_features, latent, specs)


def static_gate(data: bytes, spec: GraphSpec, path: str) -> GraphSummary:
    """:func:`~fastgen.nn._onnx_gate.check_graph` on one graph; ModelFileError naming both."""
    try:
        return check_graph(data, spec.input_name, spec.output_names, spec.width)
    except GateError as exc:
        raise ModelFileError(f"{path}: {spec.name}: {exc}") from None


# --------------------------------------------------------------------------- sessions


def _providers(device: str) -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise RuntimeError(
                "device='cuda' but onnxruntime has no CUDAExecutionProvider "
                f"(available: {available}); install onnxruntime-gpu with a matching CUDA"
            )
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device == "auto" and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def _make_session(
    model_bytes: bytes,
    device: str,
    providers: list[str],
    intra_op_num_threads: int | None,
    allow_spinning: bool,
    what: str | None = None,
):
    """An onnxruntime session; its errors become ModelFileError(``what``: ...) if given."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if intra_op_num_threads is not None:
        opts.intra_op_num_threads = int(intra_op_num_threads)
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if allow_spinning else "0")
    try:
        sess = ort.InferenceSession(model_bytes, sess_options=opts, providers=providers)
    except Exception as exc:  # onnxruntime's errors share no useful base (MemoryError too)
        if what is None:
            raise
        raise ModelFileError(f"{what}: onnxruntime cannot load the graph: {_brief(exc)}") from exc
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
        warnings.warn(msg, RuntimeWarning, stacklevel=8)
    return sess


def _brief(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 400 else text[:397] + "..."


class _Graph:
    """One ONNX graph with its session and tensor names.

    With ``io_binding`` a call binds the input and outputs explicitly
    (``session.io_binding()``; outputs allocated on the session's device, ``"cuda"``
    or ``"cpu"``, and copied to host memory once at the end) instead of
    ``session.run``; a binding is made per call, so concurrent calls stay safe.
    Every call checks that each output has one row per input row.
    """

    def __init__(self, session, spec: GraphSpec, io_binding: bool = False):
        self.session = session
        self.name: str = spec.name
        self.input_name: str = spec.input_name
        self.output_names: list[str] = list(spec.output_names)
        #: shapes (without the batch dimension) and dtypes of the outputs, when the
        #: graph declares them all (then outputs are preallocated before any run)
        self.layout: OutputLayout | None = _output_layout(session, self.output_names)
        self.io_binding = io_binding
        on_cuda = session.get_providers()[0] == "CUDAExecutionProvider"
        self._output_device = "cuda" if on_cuda else "cpu"

    def __call__(self, x: np.ndarray, run_options=None) -> list[np.ndarray]:
        if not self.io_binding:
            outs = self.session.run(self.output_names, {self.input_name: x}, run_options)
        else:
            binding = self.session.io_binding()
            binding.bind_cpu_input(self.input_name, x)
            for name in self.output_names:
                binding.bind_output(name, self._output_device)
            self.session.run_with_iobinding(binding, run_options)
            outs = binding.copy_outputs_to_cpu()
        n = x.shape[0]
        for name, r in zip(self.output_names, outs, strict=True):
            if np.ndim(r) == 0 or np.shape(r)[0] != n:
                raise RuntimeError(
                    f"graph {self.name!r}: output {name!r} has shape {np.shape(r)} for "
                    f"{n} input rows (one output row per input row expected)"
                )
        return outs


_ORT_DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64}


def _output_layout(session, names: list[str]) -> OutputLayout | None:
    meta = {o.name: o for o in session.get_outputs()}
    layout: OutputLayout = []
    for name in names:
        out = meta.get(name)
        dtype = _ORT_DTYPES.get(getattr(out, "type", ""))
        shape = getattr(out, "shape", None)
        if dtype is None or not shape or not all(isinstance(d, int) for d in shape[1:]):
            return None
        layout.append((tuple(shape[1:]), np.dtype(dtype)))
    return layout


def _probe(
    graphs: dict[str, _Graph],
    specs: dict[str, GraphSpec],
    summaries: dict[str, GraphSummary],
    path: str,
    budget: int | None,
    exact: bool,
) -> None:
    """:func:`~fastgen.nn._onnx_gate.probe_graph` on each graph; ModelFileError on failure."""
    import onnxruntime as ort

    quiet = ort.RunOptions()
    quiet.log_severity_level = 4  # a refused probe is reported by the exception alone
    for name, g in graphs.items():
        spec = specs[name]
        tails = list(spec.tails)
        if g.layout is not None:  # what the graph itself declares
            tails = [t if t is not None else lt for t, (lt, _) in zip(tails, g.layout, strict=True)]
        x = probe_batch(spec.width, latent=spec.latent)
        try:
            probe_graph(
                lambda v, g=g: g(v, quiet),
                x,
                tails,
                exact=exact,
                # rows' independence is the graph's property: checked on CPU, where
                # numerics are exact; a GPU may pick other kernels for one row
                row_check=exact and "DynamicQuantizeLinear" not in summaries[name].ops,
                names=g.output_names,
            )
        except GateError as exc:
            raise ModelFileError(f"{path}: {name}: {exc}") from None
        except Exception as exc:  # onnxruntime's errors, MemoryError
            text = _brief(exc)
            if budget is not None and (
                isinstance(exc, MemoryError) or "allocate" in text or "bad_alloc" in text
            ):
                text = f"needs more than the load-time memory cap ({budget >> 20} MiB): {text}"
            raise ModelFileError(f"{path}: {name}: probe run failed: {text}") from exc


def _open_graphs(
    members: Mapping[str, Any],
    specs: dict[str, GraphSpec],
    path: str,
    device: str,
    providers: list[str],
    threads: int | None,
    allow_spinning: bool,
    io_binding: bool | str,
) -> dict[str, _Graph]:
    """Gate, open and probe every graph (see :mod:`fastgen.nn._onnx_gate`)."""
    data = {name: members[spec.member] for name, spec in specs.items()}
    summaries = {name: static_gate(data[name], spec, path) for name, spec in specs.items()}
    total = sum(len(b) for b in data.values())

    def open_all(dev: str, provs: list[str], n_threads: int | None, spin: bool, bind):
        # on CPU a session that fails blames the file; on CUDA (after the CPU probe
        # passed) the device, so onnxruntime's own error propagates
        cpu = provs[0] == "CPUExecutionProvider"
        sessions = {
            name: _make_session(
                data[name], dev, provs, n_threads, spin, f"{path}: {name}" if cpu else None
            )
            for name in specs
        }
        active = next(iter(sessions.values())).get_providers()
        binding = active[0] == "CUDAExecutionProvider" if bind == "auto" else bool(bind)
        return {name: _Graph(s, specs[name], binding) for name, s in sessions.items()}

    if providers[0] == "CPUExecutionProvider":
        pool = 0 if threads == 1 else (threads or n_cpus()) - 1  # intra-op threads per session
        with memory_cap(graph_bytes_budget(total, pool * len(specs))) as budget:
            graphs = open_all(device, providers, threads, allow_spinning, io_binding)
            _probe(graphs, specs, summaries, path, budget, exact=True)
        return graphs
    # GPU memory is no process limit: the capped, exact probe runs on CPU sessions first
    with memory_cap(graph_bytes_budget(total, 0)) as budget:
        cpu = open_all("cpu", ["CPUExecutionProvider"], 1, False, False)
        _probe(cpu, specs, summaries, path, budget, exact=True)
    del cpu
    graphs = open_all(device, providers, threads, allow_spinning, io_binding)
    _probe(graphs, specs, summaries, path, None, exact=False)
    return graphs


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
        n_jobs: int | None = None,
        io_binding: bool | str = "auto",
        path: str = "<model file>",
    ):
        self.manifest: dict = mf.manifest
        layout = graph_specs(mf.manifest, self.kind, mf.members, path)
        self.batch_size = batch_size
        self.device = device
        providers = _providers(device)
        on_cpu = providers[0] == "CPUExecutionProvider"
        if n_jobs is None:
            # CPU: chunks in parallel on single-threaded sessions, unless the caller
            # asked for onnxruntime's own threads
            n_jobs = n_cpus() if on_cpu and intra_op_num_threads is None else 1
        #: chunks evaluated concurrently (calling thread included)
        self.n_jobs: int = int(n_jobs)
        threads = intra_op_num_threads
        if threads is None and self.n_jobs > 1:
            threads = 1
        self.graphs: dict[str, _Graph] = _open_graphs(
            mf.members, layout.graphs, path, device, providers, threads, allow_spinning,
            io_binding,
        )  # fmt: skip
        first = next(iter(self.graphs.values()))
        #: execution providers of the sessions, in priority order
        self.providers: list[str] = first.session.get_providers()
        #: whether calls bind inputs/outputs explicitly ("auto": on CUDA)
        self.io_binding: bool = first.io_binding
        self.n_features_in_: int = layout.n_features
        self._latent_dim = layout.latent_dim
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = -1
        self._pool_lock = threading.Lock()

    def _get_pool(self) -> ThreadPoolExecutor | None:
        """The worker threads (``n_jobs - 1``), created on first use and after a fork."""
        if self.n_jobs <= 1:
            return None
        with self._pool_lock:
            if self._pool is None or self._pool_pid != os.getpid():
                from concurrent.futures import ThreadPoolExecutor

                # a forked child inherits the executor object but not its threads
                self._pool = ThreadPoolExecutor(self.n_jobs - 1, thread_name_prefix="fastgen-nn")
                self._pool_pid = os.getpid()
            return self._pool

    def _map(
        self, fn: Callable[[np.ndarray], list[np.ndarray]], X: np.ndarray, name: str, layout
    ) -> list[np.ndarray]:
        return map_batches(fn, X, self.batch_size, name, self.n_jobs, self._get_pool(), layout)

    def _run(self, graph: str, X: Any, n_features: int | None, name: str = "X"):
        X = _validated(X, n_features, name)
        g = self.graphs[graph]
        return self._map(g, X, name, g.layout)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r}, providers={self.providers})"


#: what the docstrings of the exported (variational) autoencoders share
_SERVED_DOC = """\
Instances come from :func:`fastgen.nn.load` (or :func:`fastgen.load`), which
checks the file before any session exists; the constructor is not meant to be
called directly.

Parameters
----------
*args, **kwargs
    What :func:`fastgen.nn.load` passes: the verified model file followed by
    the options ``device``, ``intra_op_num_threads``, ``batch_size``,
    ``allow_spinning``, ``n_jobs``, ``io_binding`` and ``path``, described
    there.

Attributes
----------
n_features_in_ : int
    Number of features of the input rows.
latent_dim : int
    Width of the latent codes.
providers : list of str
    onnxruntime execution providers of the sessions, in priority order (e.g.
    ``["CPUExecutionProvider"]``).
n_jobs : int
    Chunks evaluated concurrently on CPU (the calling thread included).
batch_size : int
    Rows per ``session.run`` call.
io_binding : bool
    Whether calls bind inputs and outputs explicitly (on CUDA by default).
manifest : dict
    The model file's manifest (kind, shapes, export options, parameters).
"""


#: ``encode``'s ``return_log_var`` and Returns, shared by the served and the Keras VAE.
ENCODE_RESULT_DOC = """
return_log_var : bool, default=False
    Also return the posterior log-variance.

Returns
-------
mean : ndarray of shape (n_samples, latent_dim)
    float32 posterior means.
log_var : ndarray of shape (n_samples, latent_dim)
    float32 posterior log-variances; only with ``return_log_var=True``.
"""


@fill(served=_SERVED_DOC)
class OnnxAutoencoder(_OnnxModel):
    """An exported :class:`~fastgen.nn.Autoencoder` served by onnxruntime.

    Inputs of any length are processed in chunks of ``batch_size`` rows, each cast
    to float32 and checked for NaN and infinity as it is read, so a large float64
    or memory-mapped array never gets a full float32 copy.  TensorFlow is never
    imported.  Calls are thread-safe.

    {{served}}

    See Also
    --------
    fastgen.nn.load : Load a model file.
    fastgen.nn.Autoencoder : Train the model.
    OnnxVAE : The exported variational autoencoder.

    Examples
    --------
    >>> import numpy as np
    >>> import fastgen
    >>> from fastgen.nn import Autoencoder
    >>> X = np.random.default_rng(0).random((64, 6), dtype=np.float32)
    >>> Autoencoder(input_dim=6, hidden=(8,), latent_dim=2).fit(X, epochs=1).save("ae.fgm")
    >>> model = fastgen.load("ae.fgm", device="cpu")
    >>> type(model).__name__, model.n_features_in_, model.latent_dim
    ('OnnxAutoencoder', 6, 2)
    >>> model.encode(X).shape, model.reconstruct(X).shape, model.score_samples(X).shape
    ((64, 2), (64, 6), (64,))
    """

    kind = "autoencoder"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.latent_dim: int = int(self._latent_dim or 0)

    def encode(self, X: Any) -> np.ndarray:
        """Latent codes of ``X``, computed by the encoder graph.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to encode: finite numbers (any numeric dtype; memory-mapped arrays
            are read chunk by chunk).

        Returns
        -------
        ndarray of shape (n_samples, latent_dim)
            float32 codes.

        Raises
        ------
        ValueError
            ``X`` is not a non-empty 2-D numeric array of the model's width, or
            holds NaN or infinity.
        """
        return self._run("encoder", X, self.n_features_in_)[0]

    def decode(self, Z: Any) -> np.ndarray:
        """Decode latent codes with the decoder graph.

        Parameters
        ----------
        Z : array-like of shape (n_samples, latent_dim)
            Latent codes, e.g. from :meth:`encode`.

        Returns
        -------
        ndarray of shape (n_samples, n_features)
            float32 decoder outputs.
        """
        return self._run("decoder", Z, self.latent_dim, "Z")[0]

    def _reconstruct_chunk(self, x: np.ndarray) -> list[np.ndarray]:
        z = self.graphs["encoder"](x)[0]
        return self.graphs["decoder"](z)

    def reconstruct(self, X: Any) -> np.ndarray:
        """Reconstruct ``X``: ``decode(encode(X))``, chunk by chunk.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to reconstruct.

        Returns
        -------
        ndarray of shape (n_samples, n_features)
            float32 reconstructions (for a VAE: the decoded posterior mean).
        """
        X = _validated(X, self.n_features_in_)
        return self._map(self._reconstruct_chunk, X, "X", self.graphs["decoder"].layout)[0]

    def score_samples(self, X: Any) -> np.ndarray:
        """Anomaly scores: each row's mean squared reconstruction error.

        Only the scores are kept, not the reconstructions, so memory stays at about
        one chunk per thread whatever the input's length.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to score.

        Returns
        -------
        ndarray of shape (n_samples,)
            float64 scores; a high score marks a row the model reconstructs badly.
        """
        X = _validated(X, self.n_features_in_)

        def fn(x: np.ndarray) -> list[np.ndarray]:
            return [row_error(x, self._reconstruct_chunk(x)[0])]

        return self._map(fn, X, "X", [((), np.dtype(np.float64))])[0]


@fill(served=_SERVED_DOC)
class OnnxVAE(OnnxAutoencoder):
    """An exported :class:`~fastgen.nn.VAE` served by onnxruntime.

    The encoder graph outputs the posterior mean and log-variance; :meth:`encode`
    returns the mean, :meth:`reconstruct` decodes it, and :meth:`generate` samples
    ``z ~ N(0, I)`` in NumPy and decodes it, so its samples for a seed equal those
    of the Keras model.  TensorFlow is never imported.

    {{served}}

    See Also
    --------
    fastgen.nn.load : Load a model file.
    fastgen.nn.VAE : Train the model.
    OnnxAutoencoder : The exported autoencoder.

    Examples
    --------
    >>> import numpy as np
    >>> import fastgen
    >>> from fastgen.nn import VAE
    >>> X = np.random.default_rng(0).random((64, 6), dtype=np.float32)
    >>> VAE(input_dim=6, hidden=(8,), latent_dim=2).fit(X, epochs=1).save("vae.fgm")
    >>> model = fastgen.load("vae.fgm", device="cpu")
    >>> type(model).__name__
    'OnnxVAE'
    >>> mean, log_var = model.encode(X, return_log_var=True)
    >>> mean.shape, log_var.shape
    ((64, 2), (64, 2))
    >>> samples = model.generate(10, seed=0)
    >>> samples.shape, bool(np.array_equal(samples, model.generate(10, seed=0)))
    ((10, 6), True)
    """

    kind = "vae"

    @fill(encoded=ENCODE_RESULT_DOC)
    def encode(self, X: Any, return_log_var: bool = False):
        """Posterior mean of the latent code of each row (encoder graph).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to encode.
        {{encoded}}
        """
        mean, log_var = self._run("encoder", X, self.n_features_in_)
        return (mean, log_var) if return_log_var else mean

    def generate(self, n: int, seed: int | None = None) -> np.ndarray:
        """Draw new rows: ``z ~ N(0, I)`` sampled in NumPy, then decoded.

        Parameters
        ----------
        n : int
            Number of samples (positive).
        seed : int, optional
            Seed of ``numpy.random.default_rng`` for ``z``; None draws fresh
            randomness.  The same seed gives the same samples as the Keras
            ``VAE.generate``, up to float rounding.

        Returns
        -------
        ndarray of shape (n, n_features)
            float32 samples.

        Raises
        ------
        ValueError
            ``n`` is not a positive integer.
        """
        return self.decode(sample_latent(n, self.latent_dim, seed))


class OnnxKerasModel(_OnnxModel):
    """A Keras model exported with :func:`~fastgen.nn.export_keras`, served by onnxruntime.

    The model takes one input of shape (n_samples, n_features); :meth:`predict`
    returns the graph's first output.  Inputs are processed in chunks of
    ``batch_size`` rows.  TensorFlow is never imported.

    Instances come from :func:`fastgen.nn.load` (or :func:`fastgen.load`), which
    checks the file before any session exists; the constructor is not meant to be
    called directly.

    Parameters
    ----------
    mf : ModelFile
        The verified contents of the model file (manifest and graphs).
    device : {"auto", "cpu", "cuda"}
        Where the graph runs; see :func:`fastgen.nn.load`.
    intra_op_num_threads : int or None
        onnxruntime's intra-op threads per ``session.run``; None: 1 when chunks run
        in parallel, else onnxruntime's choice.
    batch_size : int
        Rows per ``session.run`` call.
    allow_spinning : bool, default=False
        Let onnxruntime's intra-op threads busy-wait between ops.
    n_jobs : int, optional
        Chunks evaluated concurrently; None: the CPUs this process may use on CPU
        (1 when ``intra_op_num_threads`` is given), 1 on CUDA.
    io_binding : bool or "auto", default="auto"
        Run through onnxruntime's IO binding; ``"auto"``: when CUDA is active.
    path : str, default="<model file>"
        The file's path, used in error messages.

    Attributes
    ----------
    n_features_in_ : int
        Number of features of the input rows.
    providers : list of str
        onnxruntime execution providers of the session, in priority order.
    n_jobs : int
        Chunks evaluated concurrently on CPU (the calling thread included).
    batch_size : int
        Rows per ``session.run`` call.
    io_binding : bool
        Whether calls bind inputs and outputs explicitly.
    manifest : dict
        The model file's manifest (kind, shapes, export options).

    See Also
    --------
    fastgen.nn.export_keras : Write the model file.
    fastgen.nn.load : Load a model file.

    Examples
    --------
    >>> import numpy as np
    >>> import keras
    >>> import fastgen
    >>> from fastgen.nn import export_keras
    >>> net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> _ = export_keras(net, "net.fgm")
    >>> model = fastgen.load("net.fgm", device="cpu")
    >>> type(model).__name__, model.n_features_in_
    ('OnnxKerasModel', 3)
    >>> X = np.ones((4, 3), dtype=np.float32)
    >>> bool(np.allclose(model.predict(X), net.predict(X, verbose=0), atol=1e-5))
    True
    """

    kind = "keras"

    def predict(self, X: Any) -> np.ndarray:
        """Outputs of the model for ``X``: the graph's first output.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input rows: finite numbers (any numeric dtype).

        Returns
        -------
        ndarray of shape (n_samples, ...)
            float32 outputs, one row per input row.

        Raises
        ------
        ValueError
            ``X`` is not a non-empty 2-D numeric array of the model's width, or
            holds NaN or infinity.
        """
        return self._run("model", X, self.n_features_in_)[0]


_CLASSES = {"autoencoder": OnnxAutoencoder, "vae": OnnxVAE, "keras": OnnxKerasModel}


def load(
    path: str | os.PathLike,
    device: str = "auto",
    intra_op_num_threads: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    kind: str | None = None,
    allow_spinning: bool = False,
    n_jobs: int | None = None,
    io_binding: bool | str = "auto",
    max_size: int | None = None,
) -> OnnxAutoencoder | OnnxVAE | OnnxKerasModel:
    """Load a fastgen neural model file for inference with onnxruntime.

    Parameters
    ----------
    path : str or path-like
        File written by ``Autoencoder.export``, ``VAE.export`` or ``export_keras``.
    device : {"auto", "cpu", "cuda"}, default="auto"
        ``"cuda"`` requires onnxruntime's CUDAExecutionProvider (else RuntimeError);
        ``"auto"`` uses CUDA when available, otherwise CPU (warning on fallback).
    intra_op_num_threads : int, optional
        onnxruntime intra-op threads per ``session.run`` (0: onnxruntime's choice).
        Default: 1 when chunks run in parallel (``n_jobs > 1``), else onnxruntime's
        choice.
    batch_size : int, default=1024
        Rows per ``session.run`` call; bounds the working memory of large inputs
        (about ``n_jobs`` chunks are in flight at a time).
    kind : {"autoencoder", "vae", "keras"}, optional
        Refuse files of any other kind.
    allow_spinning : bool, default=False
        Let onnxruntime's intra-op threads busy-wait between ops.  Off by default:
        on a shared 2-core machine spinning made a 2,000-row reconstruction ~5x
        slower (24 ms vs 5 ms); turn it on for latency on dedicated cores.
    n_jobs : int, optional
        Chunks evaluated concurrently, each on a single-threaded session, by the
        calling thread and ``n_jobs - 1`` worker threads that take chunks from a
        shared queue.  Default on CPU: the number of CPUs this process may use
        (or 1 if ``intra_op_num_threads`` is given, i.e. onnxruntime's threads
        instead); on CUDA: 1.  Results do not depend on ``n_jobs``.
    io_binding : bool or "auto", default="auto"
        Run through onnxruntime's IO binding (outputs allocated on the session's
        device and copied to host once per call) instead of ``session.run``.
        ``"auto"`` (default): when the CUDA provider is active.  Same results.
    max_size : int, optional
        Cap on the file's total uncompressed size in bytes (default 2 GiB); raise
        it for very large models.

    Returns
    -------
    OnnxAutoencoder, OnnxVAE or OnnxKerasModel
        The ``providers`` attribute lists the execution providers in use.

    Raises
    ------
    ModelFileError
        The file is unreadable or corrupt (:func:`~fastgen._modelfile.read_modelfile`),
        its manifest is malformed (:func:`graph_specs`), a graph fails the static gate
        (external data, functions, ops outside the allow-list, opset, inputs/outputs
        not as declared) or the load-time probe (wrong rows, dtype or shape, NaN,
        non-deterministic, rows not independent, over the memory cap): see
        :mod:`fastgen.nn._onnx_gate`.  The message names the file and the graph.
    ValueError
        An option is out of range.
    RuntimeError
        ``device="cuda"`` and onnxruntime's CUDA provider cannot start.

    See Also
    --------
    fastgen.load : Load any model file, classical or neural.
    fastgen.nn.Autoencoder.save : Write an autoencoder's file.
    fastgen.nn.export_keras : Write a Keras model's file.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgen.nn import Autoencoder, load
    >>> X = np.random.default_rng(0).random((64, 6), dtype=np.float32)
    >>> Autoencoder(input_dim=6, hidden=(8,), latent_dim=2).fit(X, epochs=1).save("ae.fgm")
    >>> model = load("ae.fgm", device="cpu", n_jobs=1, batch_size=16)
    >>> model.providers
    ['CPUExecutionProvider']
    >>> model.encode(X).shape
    (64, 2)
    """
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if not _is_int(batch_size):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if intra_op_num_threads is not None and (
        not _is_int(intra_op_num_threads) or intra_op_num_threads < 0
    ):
        raise ValueError(
            f"intra_op_num_threads must be None or an integer >= 0, got {intra_op_num_threads!r}"
        )
    if n_jobs is not None and (not _is_int(n_jobs) or n_jobs < 1):
        raise ValueError(f"n_jobs must be None or a positive integer, got {n_jobs!r}")
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if io_binding not in ("auto", True, False):
        raise ValueError(f"io_binding must be True, False or 'auto', got {io_binding!r}")
    mf = read_modelfile(path, kind=kind or KINDS, max_size=max_size, referenced=graph_members)
    model = _CLASSES[mf.kind](
        mf,
        device,
        None if intra_op_num_threads is None else int(intra_op_num_threads),
        int(batch_size),
        bool(allow_spinning),
        None if n_jobs is None else int(n_jobs),
        io_binding,
        path=os.fspath(path),
    )
    logger.info("fastgen.nn: loaded %s model on %s", mf.kind, model.providers)
    return model
