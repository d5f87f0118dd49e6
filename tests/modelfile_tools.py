"""Helpers for tests that forge model files: read and write the zip, edit the manifest."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import numpy as np

from fastgen._persist import _payload_sha256

__all__ = ["corruptions", "npy", "read_zip", "tamper", "write_zip"]


def read_zip(path):
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def write_zip(path, entries):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)


def npy(array, allow_pickle=False):
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def tamper(path, out, *, members=None, manifest=None, fix_checksums=True, fix_payload=True):
    """Copy a model file, replacing members / editing the manifest.

    With ``fix_checksums``/``fix_payload`` the copy carries consistent checksums, so
    only the content checks can reject it.
    """
    entries = read_zip(path)
    man = json.loads(entries.pop("manifest.json"))
    for name, data in (members or {}).items():
        entries[name] = data
        if fix_checksums:
            man["members"][name] = {"sha256": hashlib.sha256(data).hexdigest(),
                                    "size": len(data), "type": "npy"}
    if manifest is not None:
        manifest(man)
    if fix_payload and "payload_sha256" in man:
        man["payload_sha256"] = _payload_sha256(man["kind"], man["params"], man["state"],
                                                man["summary"])
    write_zip(out, {"manifest.json": json.dumps(man).encode(), **entries})
    return out


def corruptions(data: bytes, n: int, seed: int):
    """``n`` seeded corrupt copies of ``data``: one or two bytes replaced, or (every
    tenth) the file cut short at a random point."""
    rng = np.random.default_rng(seed)
    for trial in range(n):
        buf = bytearray(data)
        if trial % 10 == 9:
            buf = buf[: int(rng.integers(0, len(buf)))]
        else:
            for _ in range(int(rng.integers(1, 3))):
                buf[int(rng.integers(0, len(buf)))] = int(rng.integers(0, 256))
        yield bytes(buf)
