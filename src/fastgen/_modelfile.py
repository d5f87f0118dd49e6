"""A safe, reusable model-file container: a zip with ``manifest.json`` and named members.

The manifest is JSON; members are raw bytes (e.g. ONNX graphs) or NumPy arrays stored
as ``.npy`` and read with ``allow_pickle=False``.  Nothing is ever pickled, so loading
a file can never execute code.  Every member's SHA-256 is recorded in the manifest
and verified on read; truncated, tampered, newer-format and wrong-kind files are
refused with :class:`ModelFileError` (a ``ValueError``).

Manifest keys written by :func:`write_modelfile`: ``format`` (``"fastgen-model"``),
``format_version`` (int), ``kind`` (str), ``fastgen_version`` (str), ``members``
(``{name: {"sha256": hex, "size": int, "type": "bytes"|"npy"}}``), plus the caller's
``metadata`` keys.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "ModelFile",
    "ModelFileError",
    "peek_kind",
    "read_modelfile",
    "write_modelfile",
]

FORMAT_NAME = "fastgen-model"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: refuse members (and the manifest) larger than this when decompressed (zip bombs)
MAX_MEMBER_BYTES = 4 * 1024**3
MAX_MANIFEST_BYTES = 16 * 1024**2
_RESERVED = {"format", "format_version", "kind", "fastgen_version", "members"}


class ModelFileError(ValueError):
    """A model file is unreadable, corrupt, tampered with, too new or of the wrong kind."""


@dataclass
class ModelFile:
    """Contents of a model file: the manifest and the verified members.

    ``members`` maps names to ``bytes`` or to ``numpy.ndarray`` (for ``.npy`` members).
    """

    manifest: dict[str, Any]
    members: dict[str, bytes | np.ndarray] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.manifest["kind"]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_name(name: str) -> None:
    if (
        not isinstance(name, str)
        or not name
        or name == MANIFEST
        or "/" in name
        or "\\" in name
        or name.startswith(".")
    ):
        raise ValueError(f"invalid member name {name!r}")


def _npy_bytes(array: np.ndarray) -> bytes:
    array = np.asarray(array)
    if array.dtype.hasobject:
        raise ValueError("object arrays cannot be stored in a model file (no pickling)")
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def _fastgen_version() -> str:
    try:
        from fastgen import __version__
    except ImportError:  # pragma: no cover
        return "unknown"
    return __version__


def write_modelfile(
    path: str | os.PathLike,
    kind: str,
    members: Mapping[str, bytes | np.ndarray],
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Write a model file atomically (a temporary file renamed over ``path``).

    Parameters
    ----------
    path : str or path-like
        Destination file.
    kind : str
        Model kind recorded in the manifest and checked by :func:`read_modelfile`.
    members : mapping of str to bytes or ndarray
        Named members; arrays are stored as ``.npy`` (no object dtypes).
    metadata : mapping, optional
        Extra JSON-serialisable manifest entries (must not use reserved keys).
    """
    if not isinstance(kind, str) or not kind:
        raise ValueError("kind must be a non-empty string")
    metadata = dict(metadata or {})
    clash = _RESERVED & set(metadata)
    if clash:
        raise ValueError(f"metadata uses reserved manifest keys: {sorted(clash)}")
    payload: dict[str, bytes] = {}
    entries: dict[str, dict[str, Any]] = {}
    for name, value in members.items():
        _check_name(name)
        if isinstance(value, np.ndarray):
            data, typ = _npy_bytes(value), "npy"
        elif isinstance(value, (bytes, bytearray, memoryview)):
            data, typ = bytes(value), "bytes"
        else:
            raise TypeError(f"member {name!r} must be bytes or a numpy array, got {type(value)}")
        payload[name] = data
        entries[name] = {"sha256": _sha256(data), "size": len(data), "type": typ}
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "fastgen_version": _fastgen_version(),
        **metadata,
        "members": entries,
    }
    manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True, allow_nan=False).encode()
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(MANIFEST, manifest_bytes)
            for name, data in payload.items():
                zf.writestr(name, data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def peek_kind(path: str | os.PathLike) -> str | None:
    """The manifest's ``kind`` without verifying the file (None if unreadable).

    For dispatch only: :func:`read_modelfile` still verifies the file and says why
    an unreadable one is refused.
    """
    try:
        with zipfile.ZipFile(os.fspath(path)) as zf:
            info = zf.getinfo(MANIFEST)
            if info.file_size > MAX_MANIFEST_BYTES:
                return None
            manifest = json.loads(zf.read(info).decode("utf-8"))
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, EOFError, RecursionError,
            NotImplementedError, RuntimeError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        return None
    kind = manifest.get("kind")
    return kind if type(kind) is str else None


def _read_member(zf: zipfile.ZipFile, name: str, limit: int, path: str) -> bytes:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise ModelFileError(f"{path}: member {name!r} is missing (truncated file?)") from None
    if info.file_size > limit:
        raise ModelFileError(f"{path}: member {name!r} is implausibly large ({info.file_size} B)")
    with zf.open(info) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ModelFileError(f"{path}: member {name!r} is implausibly large")
    return data


def read_modelfile(
    path: str | os.PathLike,
    kind: str | tuple[str, ...] | None = None,
) -> ModelFile:
    """Read and verify a model file written by :func:`write_modelfile`.

    Parameters
    ----------
    path : str or path-like
        The file.
    kind : str or tuple of str, optional
        Accepted kinds; any other kind raises :class:`ModelFileError`.

    Returns
    -------
    ModelFile
        Manifest and members (``bytes``, or ``ndarray`` for ``.npy`` members).

    Raises
    ------
    ModelFileError
        Not a zip / truncated, manifest missing or malformed, format version newer
        than this fastgen reads, wrong kind, a checksum mismatch, missing or
        unexpected members.
    """
    spath = os.fspath(path)
    try:
        zf = zipfile.ZipFile(spath, "r")
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ModelFileError(
            f"{spath}: not a fastgen model file, or truncated/corrupt ({exc})"
        ) from exc
    try:
        with zf:
            return _read_open(zf, spath, kind)
    except (zipfile.BadZipFile, EOFError, OSError, zipfile.LargeZipFile) as exc:
        raise ModelFileError(f"{spath}: corrupt model file ({exc})") from exc


def _read_open(zf: zipfile.ZipFile, path: str, kind) -> ModelFile:
    raw = _read_member(zf, MANIFEST, MAX_MANIFEST_BYTES, path)
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: manifest.json is not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path}: not a fastgen model file (bad manifest)")
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"{path}: invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model file format version {version} is newer than this fastgen "
            f"({_fastgen_version()}) supports (<= {FORMAT_VERSION}); upgrade fastgen"
        )
    file_kind = manifest.get("kind")
    if not isinstance(file_kind, str):
        raise ModelFileError(f"{path}: manifest has no valid 'kind'")
    if kind is not None:
        accepted = (kind,) if isinstance(kind, str) else tuple(kind)
        if file_kind not in accepted:
            raise ModelFileError(
                f"{path}: model file holds a {file_kind!r} model, expected "
                f"{' or '.join(repr(k) for k in accepted)}"
            )
    entries = manifest.get("members")
    if not isinstance(entries, dict):
        raise ModelFileError(f"{path}: manifest has no valid 'members'")
    names = set(zf.namelist()) - {MANIFEST}
    unexpected = names - set(entries)
    if unexpected:
        raise ModelFileError(f"{path}: members not listed in the manifest: {sorted(unexpected)}")
    members: dict[str, bytes | np.ndarray] = {}
    for name, entry in entries.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise ModelFileError(f"{path}: manifest entry for {name!r} is malformed")
        data = _read_member(zf, name, MAX_MEMBER_BYTES, path)
        if _sha256(data) != entry["sha256"]:
            raise ModelFileError(
                f"{path}: checksum mismatch for member {name!r} (file tampered or corrupt)"
            )
        if entry.get("type") == "npy":
            try:
                members[name] = np.load(io.BytesIO(data), allow_pickle=False)
            except ValueError as exc:
                raise ModelFileError(f"{path}: member {name!r} is not a plain array") from exc
        elif entry.get("type") == "bytes":
            members[name] = data
        else:
            raise ModelFileError(f"{path}: member {name!r} has unknown type {entry.get('type')!r}")
    return ModelFile(manifest=manifest, members=members)
