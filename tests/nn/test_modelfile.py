"""The model-file container: round trip, and refusal of corrupt or foreign files."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from fastgen._modelfile import (
    FORMAT_VERSION,
    ModelFileError,
    read_modelfile,
    write_modelfile,
)


@pytest.fixture
def members():
    return {
        "graph.onnx": b"\x00\x01binary payload" * 100,
        "weights.npy": np.arange(12, dtype=np.float32).reshape(3, 4),
        "ints.npy": np.array([1, -2, 3], dtype=np.int64),
    }


def _rewrite(src, dst, edit):
    """Copy zip ``src`` to ``dst`` with ``edit(name, data) -> data | None`` (None drops)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            out = edit(name, zin.read(name))
            if out is not None:
                zout.writestr(name, out)


def test_round_trip_exact(tmp_path, members):
    path = tmp_path / "m.fgm"
    write_modelfile(path, "demo", members, {"input_shape": [None, 4], "note": "x"})
    mf = read_modelfile(path, kind="demo")
    assert mf.kind == "demo"
    assert mf.manifest["format_version"] == FORMAT_VERSION
    assert isinstance(mf.manifest["format_version"], int)
    assert mf.manifest["input_shape"] == [None, 4]
    assert mf.manifest["fastgen_version"]
    assert mf.members["graph.onnx"] == members["graph.onnx"]
    for name in ("weights.npy", "ints.npy"):
        np.testing.assert_array_equal(mf.members[name], members[name])
        assert mf.members[name].dtype == members[name].dtype
    assert set(mf.manifest["members"]) == set(members)
    assert all(len(e["sha256"]) == 64 for e in mf.manifest["members"].values())
    assert not list(tmp_path.glob("*.tmp-*"))


def test_kind_tuple_accepted(tmp_path, members):
    path = tmp_path / "m.fgm"
    write_modelfile(path, "vae", members)
    assert read_modelfile(path, kind=("autoencoder", "vae")).kind == "vae"


def test_wrong_kind(tmp_path, members):
    path = tmp_path / "m.fgm"
    write_modelfile(path, "autoencoder", members)
    with pytest.raises(ModelFileError, match="holds a 'autoencoder' model, expected 'vae'"):
        read_modelfile(path, kind="vae")


def test_truncated(tmp_path, members):
    path = tmp_path / "m.fgm"
    write_modelfile(path, "demo", members)
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 10):
        bad = tmp_path / f"cut{cut}.fgm"
        bad.write_bytes(data[:cut])
        with pytest.raises(ModelFileError):
            read_modelfile(bad)


def test_not_a_zip(tmp_path):
    path = tmp_path / "m.fgm"
    path.write_bytes(b"hello, not a model")
    with pytest.raises(ModelFileError, match="not a fastgen model file"):
        read_modelfile(path)


def test_tampered_member(tmp_path, members):
    path, bad = tmp_path / "m.fgm", tmp_path / "bad.fgm"
    write_modelfile(path, "demo", members)
    _rewrite(path, bad, lambda n, d: d[:-1] + b"X" if n == "graph.onnx" else d)
    with pytest.raises(ModelFileError, match="checksum mismatch for member 'graph.onnx'"):
        read_modelfile(bad)


def test_tampered_array(tmp_path, members):
    path, bad = tmp_path / "m.fgm", tmp_path / "bad.fgm"
    write_modelfile(path, "demo", members)
    buf = io.BytesIO()
    np.save(buf, np.zeros((3, 4), dtype=np.float32))
    _rewrite(path, bad, lambda n, d: buf.getvalue() if n == "weights.npy" else d)
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        read_modelfile(bad)


def test_missing_and_unexpected_members(tmp_path, members):
    path = tmp_path / "m.fgm"
    write_modelfile(path, "demo", members)
    dropped = tmp_path / "dropped.fgm"
    _rewrite(path, dropped, lambda n, d: None if n == "ints.npy" else d)
    with pytest.raises(ModelFileError, match="'ints.npy' is missing"):
        read_modelfile(dropped)
    extra = tmp_path / "extra.fgm"
    _rewrite(path, extra, lambda n, d: d)
    with zipfile.ZipFile(extra, "a") as zf:
        zf.writestr("evil.py", b"import os")
    with pytest.raises(ModelFileError, match="not listed in the manifest"):
        read_modelfile(extra)


def _edit_manifest(path, bad, **changes):
    def edit(name, data):
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        manifest.update(changes)
        return json.dumps(manifest).encode()

    _rewrite(path, bad, edit)


def test_newer_format_version(tmp_path, members):
    path, bad = tmp_path / "m.fgm", tmp_path / "bad.fgm"
    write_modelfile(path, "demo", members)
    _edit_manifest(path, bad, format_version=FORMAT_VERSION + 1)
    with pytest.raises(ModelFileError, match="newer than this fastgen"):
        read_modelfile(bad)
    _edit_manifest(path, bad, format_version="1")
    with pytest.raises(ModelFileError, match="invalid format_version"):
        read_modelfile(bad)


def test_foreign_manifest(tmp_path, members):
    path, bad = tmp_path / "m.fgm", tmp_path / "bad.fgm"
    write_modelfile(path, "demo", members)
    _edit_manifest(path, bad, format="something-else")
    with pytest.raises(ModelFileError, match="not a fastgen model file"):
        read_modelfile(bad)
    _rewrite(path, bad, lambda n, d: b"{not json" if n == "manifest.json" else d)
    with pytest.raises(ModelFileError, match="not valid JSON"):
        read_modelfile(bad)


def test_pickled_array_refused(tmp_path):
    """A .npy member holding a pickled object array (checksum valid) is never unpickled."""
    path = tmp_path / "m.fgm"
    write_modelfile(path, "demo", {"a.npy": np.zeros(2)})
    buf = io.BytesIO()
    np.save(buf, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    evil = buf.getvalue()

    def edit(name, data):
        if name == "a.npy":
            return evil
        if name == "manifest.json":
            import hashlib

            manifest = json.loads(data)
            manifest["members"]["a.npy"]["sha256"] = hashlib.sha256(evil).hexdigest()
            manifest["members"]["a.npy"]["size"] = len(evil)
            return json.dumps(manifest).encode()
        return data

    bad = tmp_path / "bad.fgm"
    _rewrite(path, bad, edit)
    with pytest.raises(ModelFileError, match="not a plain array"):
        read_modelfile(bad)


def test_write_refuses_bad_members(tmp_path):
    path = tmp_path / "m.fgm"
    with pytest.raises(ValueError, match="object arrays"):
        write_modelfile(path, "demo", {"a.npy": np.array([object()], dtype=object)})
    with pytest.raises(TypeError):
        write_modelfile(path, "demo", {"a": [1, 2]})
    with pytest.raises(ValueError, match="invalid member name"):
        write_modelfile(path, "demo", {"../x": b""})
    with pytest.raises(ValueError, match="invalid member name"):
        write_modelfile(path, "demo", {"manifest.json": b""})
    with pytest.raises(ValueError, match="reserved"):
        write_modelfile(path, "demo", {}, {"kind": "other"})
    with pytest.raises(ValueError, match="kind"):
        write_modelfile(path, "", {})
    assert not path.exists()


@pytest.mark.parametrize("which", ["ae_path", "vae_path", "keras_path"])
def test_fuzz_whole_neural_files(which, request, tmp_path):
    """Seeded byte flips and truncations of a real neural file: loaded or ModelFileError."""
    from modelfile_tools import corruptions

    import fastgen

    data = request.getfixturevalue(which).read_bytes()
    path = tmp_path / "fuzz.fgm"
    for corrupt in corruptions(data, 100, seed=3):
        path.write_bytes(corrupt)
        try:
            model = fastgen.load(path, device="cpu")
        except ModelFileError as exc:
            assert str(path) in str(exc)
        else:
            assert model.n_features_in_ == 64
