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
import math
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np

__all__ = [
    "DEFAULT_MAX_SIZE",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "ModelFile",
    "ModelFileError",
    "open_modelfile",
    "peek_kind",
    "read_modelfile",
    "write_modelfile",
]

FORMAT_NAME = "fastgen-model"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: default cap on a file's total uncompressed member size (``max_size`` raises it)
DEFAULT_MAX_SIZE = 2 * 1024**3
#: refuse a manifest larger than this, and files with more members than this
MAX_MANIFEST_BYTES = 16 * 1024**2
MAX_MEMBERS = 10_000
#: bytes decompressed at a time into an array member
_CHUNK = 1 << 20
_RESERVED = {"format", "format_version", "kind", "fastgen_version", "members"}


class ModelFileError(ValueError):
    """A model file is unreadable, corrupt, tampered with, too new or of the wrong kind.

    Raised by :func:`fastgen.load`, :func:`fastgen.info`, :func:`fastgen.nn.load` and
    everything that opens a model file, before the model is used.  The message starts
    with the file's path and says what was refused.  A subclass of ``ValueError``.

    See Also
    --------
    fastgen.load : Load a model file.
    fastgen.info : Check and describe a model file.

    Examples
    --------
    >>> import fastgen
    >>> with open("empty.fgm", "wb") as f:
    ...     pass
    >>> try:
    ...     fastgen.info("empty.fgm")
    ... except fastgen.ModelFileError as exc:
    ...     print(exc)
    empty.fgm: not a fastgen model file, or truncated/corrupt ...
    """


@dataclass
class ModelFile:
    """Contents of a model file: the manifest and the verified members.

    ``members`` maps names to ``bytes`` or to ``numpy.ndarray`` (for ``.npy`` members).
    """

    manifest: dict[str, Any]
    members: Mapping[str, bytes | np.ndarray] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.manifest["kind"]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_name(name: str) -> None:
    if not _valid_name(name):
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
        with open(tmp, "wb") as raw:
            zf = zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED)
            try:
                zf.writestr(MANIFEST, manifest_bytes)
                for name, data in payload.items():
                    zf.writestr(name, data)
                zf.close()
            except BaseException:
                # abandon the half-written archive (an error, or a signal turned into an
                # exception mid-member): closing it would fail on the open member handle,
                # and so would its __del__, printing noise after the caller's message
                zf.fp = None
                raise
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
    except Exception:  # noqa: BLE001 - any unreadable file: read_modelfile says why
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        return None
    kind = manifest.get("kind")
    return kind if type(kind) is str else None


def _size_limit(max_size: int | None) -> int:
    if max_size is None:
        return DEFAULT_MAX_SIZE
    if isinstance(max_size, bool) or not isinstance(max_size, (int, np.integer)) or max_size < 1:
        raise ValueError(f"max_size must be a positive number of bytes, got {max_size!r}")
    return int(max_size)


def read_modelfile(
    path: str | os.PathLike,
    kind: str | tuple[str, ...] | None = None,
    *,
    max_size: int | None = None,
    referenced: Callable[[dict[str, Any]], Iterable[str]] | None = None,
) -> ModelFile:
    """Read and verify a model file written by :func:`write_modelfile`.

    The zip directory and the manifest are checked before anything is decompressed:
    member names (no duplicates, paths, links or directories), declared sizes against
    the directory, the total size against ``max_size``, and (with ``referenced``)
    that the file holds exactly the members its manifest uses.  Members are then
    streamed: each is decompressed straight into its final buffer (an ``.npy``
    header is validated before its array is allocated) and checked against its
    SHA-256.

    Parameters
    ----------
    path : str or path-like
        The file.
    kind : str or tuple of str, optional
        Accepted kinds; any other kind raises :class:`ModelFileError`.
    max_size : int, optional
        Cap, in bytes, on the total uncompressed size of the members (default
        :data:`DEFAULT_MAX_SIZE`).  Raise it to open a very large model.
    referenced : callable, optional
        ``referenced(manifest)`` -> the member names the manifest uses; a file
        holding others, or lacking one, is refused before any member is read.

    Returns
    -------
    ModelFile
        Manifest and members (``bytes``, or ``ndarray`` for ``.npy`` members).

    Raises
    ------
    ModelFileError
        Not a zip / truncated / corrupt, manifest missing or malformed, format
        version newer than this fastgen reads, wrong kind, a checksum or size
        mismatch, missing, unexpected or unsafe members, or larger than
        ``max_size``.  The message starts with the file's path.
    """
    with open_modelfile(path, kind, max_size=max_size, referenced=referenced) as mf:
        return ModelFile(manifest=mf.manifest, members=dict(mf.members.items()))


@contextmanager
def open_modelfile(
    path: str | os.PathLike,
    kind: str | tuple[str, ...] | None = None,
    *,
    max_size: int | None = None,
    referenced: Callable[[dict[str, Any]], Iterable[str]] | None = None,
) -> Iterator[ModelFile]:
    """Open a model file whose members are read on first access (a context manager).

    The checks of :func:`read_modelfile` on the directory and the manifest run on
    entry; ``members`` is a mapping that streams and verifies each member when it is
    first looked up, so a caller can refuse a malformed manifest entry before the
    member it names is decompressed.  The file stays open inside the ``with`` block.
    """
    limit = _size_limit(max_size)
    spath = os.fspath(path)
    try:
        zf = zipfile.ZipFile(spath, "r")
    except FileNotFoundError:
        raise
    except _CORRUPT as exc:
        raise ModelFileError(
            f"{spath}: not a fastgen model file, or truncated/corrupt ({_reason(exc)})"
        ) from exc
    with zf:
        with _as_model_file_error(spath):
            manifest, members = _open_checked(zf, spath, kind, limit, referenced)
        yield ModelFile(manifest=manifest, members=members)


@contextmanager
def _as_model_file_error(path: str) -> Iterator[None]:
    """Whatever a damaged zip or manifest makes the readers raise, as a ModelFileError."""
    try:
        yield
    except ModelFileError:
        raise
    except RecursionError as exc:
        raise ModelFileError(f"{path}: manifest nests too deeply") from exc
    except MemoryError as exc:
        raise ModelFileError(f"{path}: does not fit in memory") from exc
    except _CORRUPT as exc:
        raise ModelFileError(f"{path}: corrupt model file ({_reason(exc)})") from exc


class _Members(Mapping):
    """The members of an open model file, each streamed and verified on first lookup."""

    def __init__(self, zf: zipfile.ZipFile, directory: dict[str, zipfile.ZipInfo],
                 entries: dict[str, dict[str, Any]], path: str) -> None:
        self._zf, self._directory, self._entries, self._path = zf, directory, entries, path
        self._read: dict[str, bytes | np.ndarray] = {}

    def __getitem__(self, name: str) -> bytes | np.ndarray:
        if name not in self._entries:
            raise KeyError(name)
        if name not in self._read:
            with _as_model_file_error(self._path), self._zf.open(self._directory[name]) as f:
                self._read[name] = _read_member(f, name, self._entries[name], self._path)
        return self._read[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


#: what a damaged or hostile zip can make :mod:`zipfile`/:mod:`zlib`/NumPy raise
_CORRUPT = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError,
            ValueError, NotImplementedError, RuntimeError, struct.error, OverflowError,
            KeyError, IndexError, TypeError, UnicodeError)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _check_directory(zf: zipfile.ZipFile, path: str) -> dict[str, zipfile.ZipInfo]:
    """Directory entries by name; refuse names and entries no honest file has."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS + 1:
        raise ModelFileError(f"{path}: holds {len(infos)} members (at most {MAX_MEMBERS})")
    entries: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename
        if name in entries:
            raise ModelFileError(f"{path}: member {name[:100]!r} appears twice")
        if not _valid_name(name) and name != MANIFEST:
            raise ModelFileError(f"{path}: unsafe member name {name[:100]!r}")
        if info.is_dir() or stat.S_ISLNK(info.external_attr >> 16):
            raise ModelFileError(f"{path}: member {name!r} is a directory or a link")
        if info.flag_bits & 0x1:
            raise ModelFileError(f"{path}: member {name!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ModelFileError(
                f"{path}: member {name!r} uses an unsupported compression method "
                f"({info.compress_type})"
            )
        entries[name] = info
    return entries


def _valid_name(name: Any) -> bool:
    return (
        isinstance(name, str)
        and 0 < len(name) <= 255
        and name != MANIFEST
        and name.isprintable()
        and not name.startswith(".")
        and not any(c in name for c in "/\\:")
    )


def _open_checked(zf: zipfile.ZipFile, path: str, kind, limit: int,
                  referenced) -> tuple[dict[str, Any], _Members]:
    """Check the directory and the manifest of an open file; nothing is decompressed
    but the manifest."""
    directory = _check_directory(zf, path)
    if MANIFEST not in directory:
        raise ModelFileError(f"{path}: member {MANIFEST!r} is missing (truncated file?)")
    manifest_info = directory[MANIFEST]
    if manifest_info.file_size > MAX_MANIFEST_BYTES:
        raise ModelFileError(
            f"{path}: manifest.json is implausibly large ({manifest_info.file_size} B)"
        )
    with zf.open(manifest_info) as f:
        raw = f.read(MAX_MANIFEST_BYTES + 1)
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: manifest.json is not valid JSON ({exc})") from exc
    entries = _check_manifest(manifest, path, kind)
    names = set(directory) - {MANIFEST}
    unexpected = names - set(entries)
    if unexpected:
        shown = sorted(n[:100] for n in unexpected)[:10]
        raise ModelFileError(f"{path}: members not listed in the manifest: {shown}")
    for name in entries:
        if name not in directory:
            raise ModelFileError(f"{path}: member {name!r} is missing (truncated file?)")
    if referenced is not None:
        used = referenced(manifest)
        unused = sorted(set(entries) - set(used))
        if unused:
            raise ModelFileError(f"{path}: members not referenced by the manifest: {unused[:10]}")
        absent = sorted(set(used) - set(entries))
        if absent:
            raise ModelFileError(f"{path}: manifest refers to a missing member {absent[0]!r}")
    total = 0
    for name, entry in entries.items():
        actual = directory[name].file_size
        if actual != entry["size"]:
            raise ModelFileError(
                f"{path}: member {name!r} holds {actual} bytes, its manifest entry says "
                f"{entry['size']} (file tampered or corrupt)"
            )
        total += actual
    if total > limit:
        raise ModelFileError(
            f"{path}: members total {total:,} bytes uncompressed, more than the "
            f"{limit:,} allowed; if you trust this file, pass max_size= (or "
            "--max-model-size) to open it"
        )
    return manifest, _Members(zf, directory, entries, path)


def _check_manifest(manifest: Any, path: str, kind) -> dict[str, dict[str, Any]]:
    """Validate the manifest's own fields; return its member entries."""
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
                f"{path}: model file holds a {file_kind[:100]!r} model, expected "
                f"{' or '.join(repr(k) for k in accepted)}"
            )
    entries = manifest.get("members")
    if not isinstance(entries, dict):
        raise ModelFileError(f"{path}: manifest has no valid 'members'")
    for name, entry in entries.items():
        if not _valid_name(name):
            raise ModelFileError(f"{path}: unsafe member name {name[:100]!r} in the manifest")
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("sha256"), str)
            or len(entry["sha256"]) != 64
            or type(entry.get("size")) is not int
            or entry["size"] < 0
            or entry.get("type") not in ("bytes", "npy")
        ):
            raise ModelFileError(f"{path}: manifest entry for {name!r} is malformed")
    return entries


def _read_member(f: IO[bytes], name: str, entry: dict[str, Any], path: str) -> bytes | np.ndarray:
    """Stream one member: bytes, or an ``.npy`` array allocated after its header is checked."""
    size, digest = entry["size"], hashlib.sha256()
    if entry["type"] == "bytes":
        data = _read_exact(f, size, name, path)
        digest.update(data)
        value: bytes | np.ndarray = data
    else:
        head, array = _npy_header(f, name, size, path)
        digest.update(head)
        flat = array.reshape(-1, order="A").view(np.uint8)  # the array's own bytes
        for start in range(0, flat.size, _CHUNK):
            chunk = _read_exact(f, min(_CHUNK, flat.size - start), name, path)
            flat[start:start + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
            digest.update(chunk)
        value = array
    if f.read(1):
        raise ModelFileError(f"{path}: member {name!r} is longer than its manifest entry says")
    if digest.hexdigest() != entry["sha256"]:
        raise ModelFileError(
            f"{path}: checksum mismatch for member {name!r} (file tampered or corrupt)"
        )
    return value


def _read_exact(f: IO[bytes], n: int, name: str, path: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise ModelFileError(f"{path}: member {name!r} is truncated")
    return data


def _npy_header(f: IO[bytes], name: str, size: int, path: str) -> tuple[bytes, np.ndarray]:
    """Read and check an ``.npy`` header; return its bytes and the empty array it declares.

    Nothing is allocated before the declared shape and dtype are shown to account for
    exactly ``size`` bytes, so a header declaring 10**12 elements costs nothing.
    """
    fmt = np.lib.format
    prefix = _read_exact(f, 8, name, path)
    if prefix[:6] != b"\x93NUMPY" or prefix[6] not in (1, 2):
        raise ModelFileError(f"{path}: member {name!r} is not a plain array (bad .npy header)")
    len_bytes = 2 if prefix[6] == 1 else 4
    raw_len = _read_exact(f, len_bytes, name, path)
    header_len = int.from_bytes(raw_len, "little")
    if header_len > 10_000:
        raise ModelFileError(f"{path}: member {name!r} has an implausible .npy header")
    header = _read_exact(f, header_len, name, path)
    head = prefix + raw_len + header
    reader = fmt.read_array_header_1_0 if prefix[6] == 1 else fmt.read_array_header_2_0
    try:
        shape, fortran, dtype = reader(io.BytesIO(head[8:]))
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError) as exc:
        raise ModelFileError(f"{path}: member {name!r} is not a plain array ({exc})") from exc
    if dtype.hasobject or dtype.fields is not None or dtype.kind == "V":
        raise ModelFileError(f"{path}: member {name!r} is not a plain array (dtype {dtype})")
    if not all(type(n) is int and n >= 0 for n in shape) or len(shape) > 32:
        raise ModelFileError(f"{path}: member {name!r} declares an invalid shape")
    n_bytes = math.prod(shape) * dtype.itemsize
    if len(head) + n_bytes != size:
        raise ModelFileError(
            f"{path}: member {name!r}: its .npy header declares {n_bytes:,} bytes of data, "
            f"the member holds {size - len(head):,} (file tampered or corrupt)"
        )
    return head, np.empty(shape, dtype=dtype, order="F" if fortran else "C")
