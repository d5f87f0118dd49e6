"""Hostile model files: the load-time static gate, manifest checks, probe and memory cap.

Each attack replaces a graph (or the manifest) of a real exported autoencoder and
must be refused by ``load`` with a :class:`ModelFileError` naming the file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import fastgen.nn as nn  # noqa: E402
from fastgen._modelfile import ModelFileError, read_modelfile, write_modelfile  # noqa: E402
from fastgen.nn import _onnx_gate as gate  # noqa: E402
from fastgen.nn._inference import map_batches  # noqa: E402

try:
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None

LINUX = sys.platform.startswith("linux")
_RESERVED = ("format", "format_version", "kind", "fastgen_version", "members")
SECRET = (b"TOP-SECRET-CREDENTIALS!" * 100)[: 64 * 8 * 4]


# --------------------------------------------------------------------------- builders


def _vi(name: str, width: int, dims=("batch",), elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, [*dims, width])


def _weights(seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((64, 8)) / 8).astype(np.float32)


def _encoder(nodes=None, inits=None, *, opset=17, inputs=None, outputs=None, **model_kw) -> bytes:
    """An encoder graph x (batch, 64) -> z (batch, 8); by default z = x @ W."""
    if nodes is None:
        nodes = [helper.make_node("MatMul", ["x", "W"], ["z"])]
    if inits is None:
        inits = [numpy_helper.from_array(_weights(), "W")]
    graph = helper.make_graph(
        nodes, "hostile", inputs or [_vi("x", 64)], outputs or [_vi("z", 8)], inits
    )
    opsets = model_kw.pop("opset_imports", [helper.make_opsetid("", opset)])
    model = helper.make_model(graph, opset_imports=opsets, **model_kw)
    model.ir_version = 8
    return model.SerializeToString()


def _external(name: str, dims, location: str = "sub/creds") -> TensorProto:
    t = TensorProto()
    t.name, t.data_type = name, TensorProto.FLOAT
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(len(SECRET)))):
        entry = t.external_data.add()
        entry.key, entry.value = key, value
    return t


def _rewrite(src, dst, encoder: bytes | None = None, edit=None) -> Path:
    """Copy the model file ``src`` to ``dst`` with a new encoder and/or manifest edit."""
    mf = read_modelfile(src)
    members = dict(mf.members)
    if encoder is not None:
        members[mf.manifest["graphs"]["encoder"]["member"]] = encoder
    meta = {k: v for k, v in json.loads(json.dumps(mf.manifest)).items() if k not in _RESERVED}
    if edit is not None:
        edit(meta)
    write_modelfile(dst, mf.manifest["kind"], members, meta)
    return Path(dst)


def _refused(path, match: str, **kwargs) -> ModelFileError:
    with pytest.raises(ModelFileError, match=match) as info:
        nn.load(path, device="cpu", **kwargs)
    assert str(path) in str(info.value)
    return info.value


@pytest.fixture
def hostile(ae_path, tmp_path):
    """``hostile(encoder_bytes=None, edit=None)`` -> a model file from the real AE."""
    count = iter(range(1000))

    def make(encoder: bytes | None = None, edit=None) -> Path:
        return _rewrite(ae_path, tmp_path / f"hostile{next(count)}.fgm", encoder, edit)

    return make


# --------------------------------------------------------------------------- static gate


def test_external_data_is_refused_and_never_read(hostile, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "creds").write_bytes(SECRET)
    path = hostile(_encoder(inits=[_external("W", [64, 8])]))
    err = _refused(path, "encoder: .*external data")
    assert "SECRET" not in str(err)
    # a load that had read the file would now answer with its bytes: it never does
    mf = read_modelfile(path)
    assert SECRET not in mf.members["encoder.onnx"]


def test_external_tensor_in_a_nested_subgraph_is_refused(hostile, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "creds").write_bytes(SECRET)
    const = helper.make_node("Constant", [], ["Wc"], value=_external("Wc", [64, 8]))
    then = helper.make_graph(
        [const, helper.make_node("MatMul", ["x", "Wc"], ["zt"])], "then", [], [_vi("zt", 8)]
    )
    other = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["ze"])], "else", [], [_vi("ze", 8)]
    )
    nodes = [
        helper.make_node("Constant", [], ["c"], value=helper.make_tensor("c", 9, [], [True])),
        helper.make_node("If", ["c"], ["z"], then_branch=then, else_branch=other),
    ]
    _refused(hostile(_encoder(nodes)), "external data")


def test_random_op_is_refused(hostile):
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["m"]),
        helper.make_node("RandomNormalLike", ["m"], ["noise"]),
        helper.make_node("Add", ["m", "noise"], ["z"]),
    ]
    _refused(hostile(_encoder(nodes)), "random ops .*RandomNormalLike")


def test_custom_domain_op_is_refused(hostile):
    nodes = [
        helper.make_node("Gelu", ["x"], ["g"], domain="com.microsoft"),
        helper.make_node("MatMul", ["g", "W"], ["z"]),
    ]
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    _refused(hostile(_encoder(nodes, opset_imports=opsets)), "non-standard domains.*microsoft")


def test_opset_above_max_is_refused(hostile):
    _refused(hostile(_encoder(opset=gate.MAX_OPSET + 1)), f"opset {gate.MAX_OPSET + 1}")


def test_model_local_function_is_refused(hostile):
    fn = helper.make_function(
        "evil", "Twice", ["a"], ["b"], [helper.make_node("Add", ["a", "a"], ["b"])],
        [helper.make_opsetid("", 17)],
    )  # fmt: skip
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["m"]),
        helper.make_node("Twice", ["m"], ["z"], domain="evil"),
    ]
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("evil", 1)]
    _refused(hostile(_encoder(nodes, opset_imports=opsets, functions=[fn])), "functions")


def test_training_mode_ops_are_refused(hostile):
    ratio = numpy_helper.from_array(np.array(0.5, np.float32), "ratio")
    train = numpy_helper.from_array(np.array(True), "train")
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["m"]),
        helper.make_node("Dropout", ["m", "ratio", "train"], ["z"]),
    ]
    w = numpy_helper.from_array(_weights(), "W")
    _refused(hostile(_encoder(nodes, [w, ratio, train])), "Dropout with a training_mode")
    bn = [numpy_helper.from_array(np.full(8, v, np.float32), n) for n, v in
          (("s", 1.0), ("b", 0.0), ("mu", 0.0), ("var", 1.0))]  # fmt: skip
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["m"]),
        helper.make_node(
            "BatchNormalization", ["m", "s", "b", "mu", "var"], ["z", "rm", "rv"],
            training_mode=1,
        ),
    ]  # fmt: skip
    _refused(hostile(_encoder(nodes, [w, *bn])), "BatchNormalization in training mode")


def test_sparse_initializer_is_refused(hostile):
    values = numpy_helper.from_array(np.ones(1, np.float32), "W")
    indices = numpy_helper.from_array(np.zeros(1, np.int64), "W_idx")
    sparse = helper.make_sparse_tensor(values, indices, [64, 8])
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["z"])], "g", [_vi("x", 64)], [_vi("z", 8)],
        sparse_initializer=[sparse],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    _refused(hostile(model.SerializeToString()), "sparse tensors")


@pytest.mark.parametrize(
    ("inputs", "outputs", "match"),
    [
        ([_vi("q", 64)], None, r"graph inputs \['q'\]"),
        (None, [_vi("zz", 8)], r"graph outputs \['zz'\]"),
        ([_vi("x", 32)], None, "32 features, the manifest declares 64"),
        ([_vi("x", 64, dims=(5,))], None, "fixed batch dimension"),
        ([_vi("x", 64, dims=())], None, "rank 2"),
        ([_vi("x", 64, elem=TensorProto.DOUBLE)], None, "not float32"),
        ([_vi("x", 64), _vi("extra", 3)], None, "graph inputs"),
    ],
)
def test_inputs_and_outputs_must_match_the_manifest(hostile, inputs, outputs, match):
    nodes = [helper.make_node("MatMul", ["x", "W"], ["zz" if outputs else "z"])]
    if inputs and inputs[0].name == "q":
        nodes = [helper.make_node("MatMul", ["q", "W"], ["z"])]
    if inputs and inputs[0].type.tensor_type.shape.dim[-1].dim_value == 32:
        nodes = [helper.make_node("MatMul", ["x", "W32"], ["z"])]
        inits = [numpy_helper.from_array(_weights()[:32], "W32")]
    else:
        inits = None
    _refused(hostile(_encoder(nodes, inits, inputs=inputs, outputs=outputs)), match)


def test_manifest_names_must_match_the_graph(hostile):
    def rename_input(meta):
        meta["graphs"]["encoder"]["inputs"] = ["renamed"]

    def rename_output(meta):
        meta["graphs"]["encoder"]["outputs"] = ["renamed"]

    _refused(hostile(edit=rename_input), "encoder: graph inputs")
    _refused(hostile(edit=rename_output), "encoder: graph outputs")


# --------------------------------------------------------------------------- manifest


def _set(*keys, value):
    def edit(meta):
        d = meta
        for k in keys[:-1]:
            d = d[k]
        d[keys[-1]] = value

    return edit


def _drop(*keys):
    def edit(meta):
        d = meta
        for k in keys[:-1]:
            d = d[k]
        del d[keys[-1]]

    return edit


@pytest.mark.parametrize(
    "edit",
    [
        _drop("latent_shape"),
        _drop("input_shape"),
        _drop("graphs"),
        _set("latent_shape", value=[]),
        _set("latent_shape", value=[None, 0]),
        _set("latent_shape", value=[None, "8"]),
        _set("latent_shape", value=[None, True]),
        _set("latent_shape", value=7),
        _set("input_shape", value="64"),
        _set("input_shape", value=[None, 2**40]),
        _set("graphs", value=[]),
        _set("graphs", value={}),
        _set("graphs", value=None),
        _drop("graphs", "decoder"),
        _set("graphs", "extra", value={"member": "encoder.onnx"}),
        _set("graphs", "encoder", value="encoder.onnx"),
        _drop("graphs", "encoder", "member"),
        _drop("graphs", "encoder", "inputs"),
        _drop("graphs", "decoder", "outputs"),
        _set("graphs", "encoder", "inputs", value=[]),
        _set("graphs", "encoder", "inputs", value=["x", "y"]),
        _set("graphs", "encoder", "inputs", value="x"),
        _set("graphs", "encoder", "outputs", value=[]),
        _set("graphs", "encoder", "outputs", value=["z", "z"]),
        _set("graphs", "encoder", "outputs", value=[3]),
        _set("graphs", "encoder", "member", value="nowhere.onnx"),
        _set("graphs", "encoder", "member", value=["encoder.onnx"]),
        _set("graphs", "encoder", "input_shape", value=[None, 65]),
    ],
)
def test_malformed_manifest_is_refused(hostile, edit):
    path = hostile(edit=edit)
    with pytest.raises(ModelFileError) as info:
        nn.load(path, device="cpu")
    assert str(path) in str(info.value)


def test_vae_encoder_needs_two_outputs(vae_path, tmp_path):
    path = _rewrite(
        vae_path, tmp_path / "v.fgm", edit=_set("graphs", "encoder", "outputs", value=["z_mean"])
    )
    _refused(path, "encoder: 'outputs' must list 2")


def test_keras_output_shapes_are_checked(tmp_path):
    w = numpy_helper.from_array(_weights(), "W")
    graph = _encoder(
        [helper.make_node("MatMul", ["x", "W"], ["output"])], [w],
        outputs=[_vi("output", 8, dims=(None,))],
    )  # fmt: skip
    spec = {"member": "model.onnx", "inputs": ["x"], "outputs": ["output"]}

    def write(name, **meta):
        path = tmp_path / name
        write_modelfile(path, "keras", {"model.onnx": graph},
                        {"graphs": {"model": spec}, "input_shape": [None, 64], **meta})  # fmt: skip
        return path

    assert nn.load(write("ok.fgm", output_shapes=[[None, 8]]), device="cpu").predict(
        np.zeros((3, 64))
    ).shape == (3, 8)
    _refused(write("bad.fgm", output_shapes="8"), "output_shapes")
    _refused(write("wrong.fgm", output_shapes=[[None, 9]]), r"model: probe: .*expected")


# --------------------------------------------------------------------------- probe


def test_graph_with_wrong_row_count_is_refused_at_load(hostile):
    # a batch mean: one row whatever the input
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["m"]),
        helper.make_node("ReduceMean", ["m"], ["z"], axes=[0], keepdims=1),
    ]
    _refused(hostile(_encoder(nodes)), "encoder: .*input rows")


def test_rows_mixing_graph_is_refused(hostile):
    # rows minus the batch mean: the right shape, but rows depend on each other
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["m"]),
        helper.make_node("ReduceMean", ["m"], ["mu"], axes=[0], keepdims=1),
        helper.make_node("Sub", ["m", "mu"], ["z"]),
    ]
    _refused(hostile(_encoder(nodes)), "processed independently")


def test_non_finite_or_integer_outputs_are_refused(hostile):
    nodes = [helper.make_node("MatMul", ["x", "W"], ["m"]), helper.make_node("Log", ["m"], ["z"])]
    _refused(hostile(_encoder(nodes)), "NaN or infinity")
    nodes = [helper.make_node("MatMul", ["x", "W"], ["m"]),
             helper.make_node("Cast", ["m"], ["z"], to=TensorProto.INT64)]  # fmt: skip
    _refused(hostile(_encoder(nodes, outputs=[_vi("z", 8, elem=TensorProto.INT64)])), "not float")


def test_row_count_checked_when_the_input_fits_in_one_chunk(hostile):
    """A graph that keeps at most 5 rows passes the 4-row probe; every call is checked."""
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["m"]),
        helper.make_node("Slice", ["m", "starts", "ends", "axes"], ["z"]),
    ]
    inits = [numpy_helper.from_array(_weights(), "W")] + [
        numpy_helper.from_array(np.array([v], np.int64), n)
        for n, v in (("starts", 0), ("ends", gate.PROBE_ROWS + 1), ("axes", 0))
    ]
    m = nn.load(hostile(_encoder(nodes, inits)), device="cpu", batch_size=1024)
    X = np.random.default_rng(0).random((10, 64))
    with pytest.raises(RuntimeError, match="graph 'encoder'.*10 input rows"):
        m.encode(X)
    with pytest.raises(RuntimeError, match="graph 'encoder'"):
        m.reconstruct(X)
    assert m.encode(X[:3]).shape == (3, 8)


def test_map_batches_checks_rows_of_a_single_chunk():
    X = np.ones((6, 3), dtype=np.float32)
    with pytest.raises(RuntimeError, match="for a chunk of 6 rows"):
        map_batches(lambda x: [x[:2]], X, 100)
    with pytest.raises(RuntimeError, match="for a chunk of 6 rows"):
        map_batches(lambda x: [np.float32(1.0)], X, 100)
    # several chunks, outputs shaped by the first one: a 1-row answer never broadcasts
    with pytest.raises(RuntimeError, match="shape"):
        map_batches(lambda x: [x[:1]], X, 4)


def test_probe_detects_non_determinism():
    rng = np.random.default_rng(0)
    x = gate.probe_batch(5)
    with pytest.raises(gate.GateError, match="differs between two identical runs"):
        gate.probe_graph(lambda v: [v + rng.random(v.shape, dtype=np.float32)], x, [None])
    assert gate.probe_graph(lambda v: [v * 2], x, [(5,)])[0].shape == (gate.PROBE_ROWS, 5)
    assert 0 < x.min() and x.max() < 1 and len(np.unique(x)) == x.size


_MEMORY_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    import fastgen.nn as nn
    from fastgen._modelfile import ModelFileError
    import onnxruntime  # imported before measuring
    out = {"limit_before": list(resource.getrlimit(resource.RLIMIT_DATA))}
    r0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for kwargs in ({}, {"intra_op_num_threads": 2, "n_jobs": 1}):
        try:
            nn.load(sys.argv[1], device="cpu", **kwargs)
            out.setdefault("loaded", []).append(kwargs)
        except ModelFileError as exc:
            out.setdefault("refused", []).append(str(exc))
    out["rss_increase_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - r0) / 1024
    out["limit_after"] = list(resource.getrlimit(resource.RLIMIT_DATA))
    print(json.dumps(out))
    """
)


@pytest.mark.skipif(not LINUX, reason="the memory cap needs Linux")
@pytest.mark.parametrize("op", ["ConstantOfShape", "Expand", "Tile"])
def test_memory_bomb_is_refused_without_taking_the_memory(hostile, op):
    """A tiny graph asking for 2 GiB on the probe: refused, peak RSS barely moves."""
    n = 2**29  # float32: 2 GiB
    big = numpy_helper.from_array(np.array([n], np.int64), "shape")
    if op == "ConstantOfShape":
        nodes = [helper.make_node(op, ["shape"], ["big"], value=helper.make_tensor(
            "v", TensorProto.FLOAT, [1], [1.0]))]  # fmt: skip
        inits = [big]
    elif op == "Expand":
        nodes = [helper.make_node(op, ["one", "shape"], ["big"])]
        inits = [big, numpy_helper.from_array(np.ones(1, np.float32), "one")]
    else:
        nodes = [helper.make_node(op, ["x", "reps"], ["big"])]
        inits = [numpy_helper.from_array(np.array([n // 64 // 4, 1], np.int64), "reps")]
    nodes += [
        helper.make_node("ReduceSum", ["big"], ["s"], keepdims=0),
        helper.make_node("MatMul", ["x", "W"], ["m"]),
        helper.make_node("Add", ["m", "s"], ["z"]),
    ]
    data = _encoder(nodes, [*inits, numpy_helper.from_array(_weights(), "W")])
    assert len(data) < 3000
    path = hostile(data)
    env = dict(os.environ)  # the child imports the fastgen under test, as this process does
    proc = subprocess.run(
        [sys.executable, "-c", _MEMORY_CHILD, str(path)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "loaded" not in out, out
    assert len(out["refused"]) == 2
    assert all(str(path) in r and "memory cap" in r for r in out["refused"]), out
    assert out["rss_increase_mb"] < 300, out
    assert out["limit_after"] == out["limit_before"]


@pytest.mark.skipif(not LINUX, reason="the memory cap needs Linux")
def test_memory_cap_is_restored_after_loads(ae_path, hostile):
    before = resource.getrlimit(resource.RLIMIT_DATA)
    nn.load(ae_path, device="cpu")
    with pytest.raises(ModelFileError):
        nn.load(hostile(_encoder(opset=gate.MAX_OPSET + 1)), device="cpu")
    assert resource.getrlimit(resource.RLIMIT_DATA) == before
    with gate.memory_cap(1 << 30) as extra:
        if extra is not None:
            assert extra == 1 << 30
            assert resource.getrlimit(resource.RLIMIT_DATA)[0] != resource.RLIM_INFINITY
            with pytest.raises(MemoryError):
                np.ones(2**31, dtype=np.uint8)  # 2 GiB over the cap: refused, not taken
    assert resource.getrlimit(resource.RLIMIT_DATA) == before


@pytest.mark.skipif(not LINUX, reason="the memory cap needs Linux (and os.fork)")
def test_child_forked_under_the_cap_gets_the_limit_back():
    before = resource.getrlimit(resource.RLIMIT_DATA)
    with gate.memory_cap(1 << 30) as extra:
        if extra is None:
            pytest.skip("no memory cap on this platform")
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            ok = resource.getrlimit(resource.RLIMIT_DATA) == before
            with gate.memory_cap(1 << 20):  # the lock is free in the child
                pass
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


# --------------------------------------------------------------------------- malformed bytes


def _mutations(data: bytes, n: int, seed: int):
    rng = np.random.default_rng(seed)
    for i in range(n):
        buf = bytearray(data)
        how = i % 4
        if how == 0:  # truncate
            yield bytes(buf[: int(rng.integers(0, len(buf)))])
        elif how == 1:  # flip bytes
            for pos in rng.integers(0, len(buf), int(rng.integers(1, 8))):
                buf[pos] = int(rng.integers(0, 256))
            yield bytes(buf)
        elif how == 2:  # insert garbage
            pos = int(rng.integers(0, len(buf)))
            yield bytes(buf[:pos] + rng.bytes(int(rng.integers(1, 16))) + buf[pos:])
        else:  # pure garbage
            yield rng.bytes(int(rng.integers(0, 200)))


def test_parser_fuzz_raises_only_gate_errors(ae_path):
    data = read_modelfile(ae_path).members["encoder.onnx"]
    ok = 0
    for mutated in _mutations(data, 1500, seed=0):
        try:
            gate.check_graph(mutated, "x", ["z"], 64)
            ok += 1
        except gate.GateError:
            pass
    assert ok < 1500
    # deep nesting and huge varints are refused cleanly, never RecursionError
    for bad in (b"\x3a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", b"\x08" + b"\xff" * 20,
                b"\x0b", b"\x00\x01", b"\x3a\x05\x0a\x03"):  # fmt: skip
        with pytest.raises(gate.GateError):
            gate.parse_model(bad)
    nested = helper.make_graph([], "leaf", [], [])
    for _ in range(gate.MAX_SUBGRAPH_DEPTH + 2):
        node = helper.make_node("If", ["c"], ["o"], then_branch=nested, else_branch=nested)
        nested = helper.make_graph([node], "g", [], [])
    model = helper.make_model(nested, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(gate.GateError, match="nest deeper"):
        gate.parse_model(model.SerializeToString())


_FUZZ_CHILD = textwrap.dedent(
    """
    import json, sys
    import fastgen.nn as nn
    from fastgen._modelfile import ModelFileError
    out = {"refused": 0, "loaded": 0, "other": []}
    for path in sys.argv[1:]:
        try:
            nn.load(path, device="cpu")
            out["loaded"] += 1
        except ModelFileError as exc:
            out["refused"] += path in str(exc)
        except Exception as exc:
            out["other"].append(f"{type(exc).__name__}: {exc}"[:300])
    print(json.dumps(out))
    """
)


def test_load_fuzz_raises_only_model_file_errors(ae_path, tmp_path):
    """Mutated graphs through the whole load (in a child: a crash fails the test)."""
    mf = read_modelfile(ae_path)
    paths = []
    for name in ("encoder.onnx", "decoder.onnx"):
        for i, mutated in enumerate(_mutations(mf.members[name], 40, seed=1)):
            members = {**mf.members, name: mutated}
            meta = {k: v for k, v in mf.manifest.items() if k not in _RESERVED}
            path = tmp_path / f"{name}.{i}.fgm"
            write_modelfile(path, "autoencoder", members, meta)
            paths.append(str(path))
    env = dict(os.environ)  # the child imports the fastgen under test, as this process does
    proc = subprocess.run(
        [sys.executable, "-c", _FUZZ_CHILD, *paths],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["other"] == []
    assert out["refused"] + out["loaded"] == len(paths) and out["refused"] > len(paths) // 2


# --------------------------------------------------------------------------- honest graphs


def test_parser_agrees_with_onnx_on_real_exports(ae_path, vae_path):
    for path in (ae_path, vae_path):
        mf = read_modelfile(path)
        for spec in mf.manifest["graphs"].values():
            data = mf.members[spec["member"]]
            proto = onnx.load_from_string(data)
            s = gate.check_graph(data, spec["inputs"][0], spec["outputs"], spec["input_shape"][-1])
            assert s.ops == {n.op_type for n in proto.graph.node} <= gate.ALLOWED_OPS
            assert s.opsets == {i.domain: i.version for i in proto.opset_import}
            assert s.ir_version == proto.ir_version
            assert [v.name for v in s.outputs] == [o.name for o in proto.graph.output]
            assert s.inputs[0].shape[1] == spec["input_shape"][-1]


def test_allow_list_is_standard_and_deterministic():
    assert not any(gate.is_random_op(op) for op in gate.ALLOWED_OPS)
    assert not {"If", "Loop", "Scan", "ScatterND", "Multinomial", "Bernoulli"} & gate.ALLOWED_OPS
    for op in gate.ALLOWED_OPS:
        assert onnx.defs.has(op), op
    from fastgen.nn import _export

    assert _export.MAX_OPSET == gate.MAX_OPSET


def test_legacy_ir3_graph_with_initializers_as_inputs_loads(hostile):
    """Older exporters list initializers among the graph inputs: still one real input."""
    w = numpy_helper.from_array(_weights(), "W")
    data = _encoder(inputs=[_vi("x", 64), helper.make_tensor_value_info("W", 1, [64, 8])],
                    inits=[w])  # fmt: skip
    m = nn.load(hostile(data), device="cpu")
    X = np.random.default_rng(0).random((7, 64)).astype(np.float32)
    np.testing.assert_allclose(m.encode(X), X @ _weights(), rtol=1e-5, atol=1e-6)


def test_export_refuses_what_load_would_refuse(tmp_path):
    """The export runs the same static gate: an op off the allow-list never gets written."""
    for mod in ("tensorflow", "keras", "tf2onnx"):
        pytest.importorskip(mod)
    import keras

    inp = keras.Input((8,))
    top = keras.layers.Lambda(lambda x: keras.ops.top_k(x, 3)[0])(inp)
    model = keras.Model(inp, keras.layers.Dense(2)(top))
    path = tmp_path / "topk.fgm"
    with pytest.raises(nn.ExportError, match=r"load would refuse.*\['TopK'\]"):
        nn.export_keras(model, path)
    assert not path.exists()


@pytest.mark.filterwarnings("ignore")
def test_honest_keras_conv_export_and_int8_copy_load(tmp_path):
    """The allow-list covers what export_keras and quantize_dynamic emit for common layers."""
    for mod in ("tensorflow", "keras", "tf2onnx"):
        pytest.importorskip(mod)
    import keras

    keras.utils.set_random_seed(0)
    L = keras.layers
    inp = keras.Input((64,))
    h = L.Reshape((8, 8, 1))(inp)
    h = L.Conv2D(4, 3, padding="same", activation="relu")(h)
    h = L.MaxPooling2D()(h)
    h = L.Flatten()(L.AveragePooling2D(2, padding="same")(h))
    h = L.BatchNormalization()(L.Dropout(0.3)(L.LayerNormalization()(L.Dense(16, "elu")(h))))
    out = L.Dense(3, activation="softmax")(L.Concatenate()([h, L.Dense(4, "swish")(inp)]))
    model = keras.Model(inp, [out, L.Dense(2, activation="tanh")(h)])
    path, q = tmp_path / "conv.fgm", tmp_path / "conv.int8.fgm"
    nn.export_keras(model, path)
    nn.quantize_dynamic(path, q)
    X = np.random.default_rng(0).random((50, 64))
    for p in (path, q):
        mf = read_modelfile(p)
        assert gate.parse_model(mf.members["model.onnx"]).ops <= gate.ALLOWED_OPS
        assert nn.load(p, device="cpu").predict(X).shape == (50, 3)
    ops = gate.parse_model(read_modelfile(q).members["model.onnx"]).ops
    assert {"ConvInteger", "MatMulInteger", "DynamicQuantizeLinear"} <= ops


def test_quantize_refuses_a_hostile_source(hostile, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "creds").write_bytes(SECRET)
    src = hostile(_encoder(inits=[_external("W", [64, 8])]))
    with pytest.raises(ModelFileError, match="external data"):
        nn.quantize_dynamic(src, tmp_path / "q.fgm")
    assert not (tmp_path / "q.fgm").exists()
