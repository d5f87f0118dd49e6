"""Row sources: read a text, CSV, Parquet or ``.npy`` file in blocks of rows.

A source opens its file on construction (so headers, column names and shapes are
checked before any work starts) and yields :class:`Block` objects: the rows' values
(``list[str]`` documents or a 2-D numeric array), the 1-based row number of the
first row, the bad rows found (index in the block, reason) and optionally a
grouping key per row.  Bad rows keep a placeholder value so that row positions are
stable; what to do with them is decided by the reader (``fastgen.batch._readers``).
Memory is bounded by the block size: nothing reads the whole file.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from operator import itemgetter
from typing import Any

import numpy as np

from ._common import BatchError, import_pyarrow

__all__ = ["Block", "CsvSource", "NpySource", "ParquetSource", "TextLinesSource", "open_source"]


@dataclass
class Block:
    """Consecutive rows of an input file.

    values : list of str (documents) or ndarray of shape (m, n_features)
    row0 : int
        1-based row number of ``values[0]`` (CSV: data rows, header excluded).
    errors : list of (int, str)
        Bad rows as (index in the block, reason), ascending.
    keys : sequence of length m, optional
        Raw value of the grouping column (sequence id or length) for each row.
    """

    values: Any
    row0: int
    errors: list[tuple[int, str]] = field(default_factory=list)
    keys: Any = None

    def __len__(self) -> int:
        return len(self.values)


def _utf8_error(raw: bytes, exc: UnicodeDecodeError) -> str:
    bad = raw[exc.start : exc.end]
    return f"invalid UTF-8 (byte {bad[:1].hex()} at byte offset {exc.start} of the line)"


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class _FileSource:
    """Common bits: the path, the open file, and the share of it read so far."""

    n_rows: int | None = None
    n_features: int | None = None
    feature_names: list[str] | None = None

    def __init__(self, path: str) -> None:
        self.path = path
        self._size = max(os.path.getsize(path), 1)
        self._raw: io.BufferedReader | None = None

    def fraction(self) -> float | None:
        """Share of the file read so far (0-1), or None when unknown."""
        raw = self._raw
        if raw is None or raw.closed:
            return None
        try:
            return min(raw.tell() / self._size, 1.0)
        except (OSError, ValueError):
            return None

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()


# --------------------------------------------------------------------------- text lines


class TextLinesSource(_FileSource):
    """A UTF-8 text file with one document per line (``\\n`` or ``\\r\\n``; BOM skipped)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self._raw = open(path, "rb")  # noqa: SIM115 - closed by close()

    def blocks(self, size: int) -> Iterator[Block]:
        f = self._raw
        assert f is not None
        row = 1
        while True:
            lines = list(islice(f, size))
            if not lines:
                return
            if row == 1 and lines[0].startswith(codecs.BOM_UTF8):
                lines[0] = lines[0][len(codecs.BOM_UTF8) :]
            docs, errors = self._decode(lines)
            yield Block(docs, row, errors)
            row += len(lines)

    @staticmethod
    def _decode(lines: list[bytes]) -> tuple[list[str], list[tuple[int, str]]]:
        joined = b"".join(lines)
        errors: list[tuple[int, str]] = []
        try:
            text = joined.decode("utf-8")
        except UnicodeDecodeError:
            docs = []
            for i, line in enumerate(lines):
                try:
                    docs.append(line.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    docs.append("")
                    errors.append((i, _utf8_error(line, exc)))
            docs = [d[:-1] if d.endswith("\n") else d for d in docs]
        else:
            docs = text.split("\n")
            if joined.endswith(b"\n"):
                docs.pop()
        if any(d.endswith("\r") for d in docs):
            docs = [d[:-1] if d.endswith("\r") else d for d in docs]
        return docs, errors


# --------------------------------------------------------------------------- selection


def _pick_text_column(path: str, names: list[str], column: Any) -> str:
    if column is None:
        if len(names) == 1:
            return names[0]
        raise BatchError(
            f"{path}: has {len(names)} columns {names}; name the text column "
            "(column=NAME, --column NAME)"
        )
    if not isinstance(column, str):
        raise BatchError(f"the text column must be one name, got {column!r}")
    if column not in names:
        raise BatchError(f"{path}: no column {column!r}; columns are {names}")
    return column


def _pick_feature_columns(
    path: str, names: list[str], column: Any, exclude: list[str]
) -> list[str]:
    if column is None:
        cols = [n for n in names if n not in exclude]
    else:
        cols = [column] if isinstance(column, str) else list(column)
        missing = [c for c in cols if c not in names]
        if missing:
            raise BatchError(f"{path}: no column(s) {missing}; columns are {names}")
        clash = [c for c in cols if c in exclude]
        if clash:
            raise BatchError(f"{path}: column(s) {clash} are used for grouping, not as features")
    if not cols:
        raise BatchError(f"{path}: no feature columns (columns are {names})")
    return cols


def _check_key(path: str, names: list[str], key: str | None) -> None:
    if key is not None and key not in names:
        raise BatchError(f"{path}: no column {key!r} (grouping column); columns are {names}")


def _nonfinite_errors(X: np.ndarray, errors: list[tuple[int, str]]) -> list[tuple[int, str]]:
    if X.dtype.kind != "f":
        return errors
    finite = np.isfinite(X).all(axis=1)
    if finite.all():
        return errors
    known = {i for i, _ in errors}
    extra = [(int(i), "NaN or infinity in the row") for i in np.flatnonzero(~finite)]
    return sorted(errors + [e for e in extra if e[0] not in known])


# --------------------------------------------------------------------------- CSV


class CsvSource(_FileSource):
    """A UTF-8 CSV file with a header row, read with the :mod:`csv` module.

    ``mode="text"``: one text column (``column``, or the only column); ``mode="numeric"``:
    feature columns (``column``: a name or a list; default all but ``key``), parsed as
    float64.  Blank lines are ignored; records with the wrong number of fields,
    values that are not numbers, NaN/infinity and invalid UTF-8 are bad rows.
    """

    def __init__(self, path: str, mode: str, column: Any = None, key: str | None = None):
        super().__init__(path)
        self.mode = mode
        self._raw = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._text = io.TextIOWrapper(
            self._raw, encoding="utf-8-sig", errors="surrogateescape", newline=""
        )
        self._reader = csv.reader(self._text)
        try:
            header = next(self._reader, None)
        except csv.Error as exc:
            self.close()
            raise BatchError(f"{path}: malformed CSV header ({exc})") from exc
        if not header:
            self.close()
            raise BatchError(f"{path}: empty CSV file (a header row is expected)")
        self.header = header
        self.n_fields = len(header)
        if len(set(header)) != len(header):
            dup = sorted({h for h in header if header.count(h) > 1})
            self.close()
            raise BatchError(f"{path}: duplicate column names in the header: {dup}")
        try:
            _check_key(path, header, key)
            if mode == "text":
                self.columns = [_pick_text_column(path, header, column)]
            else:
                self.columns = _pick_feature_columns(path, header, column, [key] if key else [])
        except BatchError:
            self.close()
            raise
        self.feature_names = list(self.columns)
        self.n_features = len(self.columns) if mode == "numeric" else None
        self._idx = [header.index(c) for c in self.columns]
        self._key = header.index(key) if key is not None else None

    def blocks(self, size: int) -> Iterator[Block]:
        recs: list[list[str] | None] = []
        keys: list[str | None] = []
        bad: list[tuple[int, str]] = []
        row = 1  # row number of recs[0]
        n = self.n_fields
        k = self._key
        reader = self._reader
        while True:
            try:
                rec = next(reader, None)
            except csv.Error as exc:
                raise BatchError(
                    f"{self.path}: row {row + len(recs)} (line {reader.line_num}): "
                    f"malformed CSV ({exc})"
                ) from exc
            if rec is None:
                break
            if not rec:
                continue  # blank line
            if k is not None:
                keys.append(rec[k] if k < len(rec) else None)
            if len(rec) != n:
                bad.append(
                    (len(recs), f"expected {n} fields, got {len(rec)} (line {reader.line_num})")
                )
                rec = None
            recs.append(rec)
            if len(recs) == size:
                yield self._block(recs, row, bad, keys)
                row += len(recs)
                recs, keys, bad = [], [], []
        if recs:
            yield self._block(recs, row, bad, keys)

    def _block(self, recs, row0: int, bad, keys) -> Block:
        if self.mode == "text":
            c = self._idx[0]
            docs = [r[c] if r is not None else "" for r in recs]
            if _has_surrogates("".join(docs)):
                for i, d in enumerate(docs):
                    if _has_surrogates(d):
                        bad.append((i, "invalid UTF-8 in the text"))
                        docs[i] = ""
                bad.sort()
            return Block(docs, row0, bad, keys if self._key is not None else None)
        X, bad = self._numbers(recs, bad)
        return Block(X, row0, bad, keys if self._key is not None else None)

    def _numbers(self, recs, bad) -> tuple[np.ndarray, list[tuple[int, str]]]:
        d = len(self._idx)
        get = itemgetter(*self._idx)
        filler = ("nan",) * d
        if d == 1:
            rows = [(get(r),) if r is not None else filler for r in recs]
        else:
            rows = [get(r) if r is not None else filler for r in recs]
        try:
            X = np.array(rows, dtype=np.float64).reshape(len(rows), d)
        except ValueError:
            X = np.empty((len(rows), d), dtype=np.float64)
            known = {i for i, _ in bad}
            for i, r in enumerate(rows):
                try:
                    X[i] = np.array(r, dtype=np.float64)
                except ValueError:
                    X[i] = np.nan
                    if i not in known:
                        j = next(j for j, v in enumerate(r) if not _is_number(v))
                        val = r[j].encode("utf-8", "backslashreplace").decode("utf-8")
                        bad.append((i, f"column {self.columns[j]!r}: {val!r} is not a number"))
            bad.sort()
        return X, _nonfinite_errors(X, bad)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- Parquet


class ParquetSource(_FileSource):
    """A Parquet file read with ``pyarrow`` ``iter_batches`` (imported here, lazily).

    ``mode="text"``: one string column; ``mode="numeric"``: numeric feature columns
    (integers, floats, booleans, decimals) as float64.  Nulls, NaN and infinity are
    bad rows.
    """

    def __init__(self, path: str, mode: str, column: Any = None, key: str | None = None):
        super().__init__(path)
        self.pa, pq = import_pyarrow()
        pa = self.pa
        self.mode = mode
        try:
            self._file = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as exc:
            raise BatchError(f"{path}: not a readable Parquet file ({exc})") from exc
        schema = self._file.schema_arrow
        names = list(schema.names)
        _check_key(path, names, key)
        if mode == "text":
            self.columns = [_pick_text_column(path, names, column)]
            typ = schema.field(self.columns[0]).type
            if not (pa.types.is_string(typ) or pa.types.is_large_string(typ)):
                raise BatchError(
                    f"{path}: column {self.columns[0]!r} has type {typ}; text must be strings"
                )
        else:
            self.columns = _pick_feature_columns(path, names, column, [key] if key else [])
            for c in self.columns:
                typ = schema.field(c).type
                t = pa.types
                if not (t.is_integer(typ) or t.is_floating(typ) or t.is_boolean(typ)
                        or t.is_decimal(typ)):
                    raise BatchError(f"{path}: column {c!r} has type {typ}; numbers are expected")
        self.key = key
        self.feature_names = list(self.columns)
        self.n_features = len(self.columns) if mode == "numeric" else None
        self.n_rows = int(self._file.metadata.num_rows)
        self._read = 0

    def fraction(self) -> float | None:
        return min(self._read / self.n_rows, 1.0) if self.n_rows else None

    def blocks(self, size: int) -> Iterator[Block]:
        pa = self.pa
        cols = self.columns + ([self.key] if self.key is not None else [])
        row = 1
        try:
            for batch in self._file.iter_batches(batch_size=size, columns=cols):
                yield self._block(batch, row)
                row += batch.num_rows
                self._read += batch.num_rows
        except pa.ArrowException as exc:
            raise BatchError(f"{self.path}: corrupt Parquet data near row {row} ({exc})") from exc

    def _block(self, batch, row0: int) -> Block:
        pa = self.pa
        m = batch.num_rows
        bad: list[tuple[int, str]] = []
        keys = None
        if self.key is not None:
            keys = batch.column(len(self.columns)).to_numpy(zero_copy_only=False)
        if self.mode == "text":
            arr = batch.column(0)
            docs = arr.to_pylist()
            if arr.null_count:
                for i in np.flatnonzero(arr.is_null().to_numpy(zero_copy_only=False)):
                    bad.append((int(i), f"column {self.columns[0]!r} is null"))
                    docs[i] = ""
            return Block(docs, row0, bad, keys)
        X = np.empty((m, len(self.columns)), dtype=np.float64)
        for j, c in enumerate(self.columns):
            arr = batch.column(j)
            if arr.null_count:
                nulls = np.flatnonzero(arr.is_null().to_numpy(zero_copy_only=False))
                bad += [(int(i), f"column {c!r} is null") for i in nulls]
            X[:, j] = arr.cast(pa.float64()).to_numpy(zero_copy_only=False)
        bad = sorted(dict(bad).items())
        return Block(X, row0, _nonfinite_errors(X, bad), keys)

    def close(self) -> None:
        close = getattr(getattr(self, "_file", None), "close", None)
        if close is not None:
            close()


# --------------------------------------------------------------------------- npy


class NpySource(_FileSource):
    """A ``.npy`` array of numbers, shape (n_rows, n_features) (1-D: one feature).

    The header is read with ``np.load(mmap_mode="r", allow_pickle=False)``; C-ordered
    data is then read block by block with plain file reads, so the pages do not stay
    mapped into the process (peak RSS does not grow with the file).  NaN/infinity in
    a float row makes it a bad row.
    """

    def __init__(self, path: str, column: Any = None) -> None:
        super().__init__(path)
        if column is not None:
            raise BatchError(f"{path}: column selection needs a CSV or Parquet input")
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise BatchError(f"{path}: not a readable .npy array ({exc})") from exc
        if not isinstance(arr, np.ndarray) or arr.dtype.hasobject or arr.dtype.kind not in "biuf":
            raise BatchError(f"{path}: expected an array of numbers, got dtype {arr.dtype}")
        if arr.ndim not in (1, 2):
            raise BatchError(f"{path}: expected a 1-D or 2-D array, got shape {arr.shape}")
        self.shape = arr.shape if arr.ndim == 2 else (arr.shape[0], 1)
        self.dtype = arr.dtype
        self.n_rows = int(self.shape[0])
        self.n_features = int(self.shape[1])
        self.feature_names = None
        self._memmap = arr if arr.flags.f_contiguous and arr.ndim == 2 and not (
            arr.flags.c_contiguous
        ) else None
        self._offset = int(getattr(arr, "offset", 0))
        self._raw = None if self._memmap is not None else open(path, "rb")  # noqa: SIM115
        self._read = 0

    def fraction(self) -> float | None:
        return min(self._read / self.n_rows, 1.0) if self.n_rows else None

    def blocks(self, size: int) -> Iterator[Block]:
        n, d = self.shape
        row_bytes = d * self.dtype.itemsize
        for start in range(0, n, size):
            m = min(size, n - start)
            if self._memmap is not None:  # Fortran order: strided reads of the mapping
                X = np.array(self._memmap[start : start + m])
            else:
                f = self._raw
                assert f is not None
                f.seek(self._offset + start * row_bytes)
                X = np.fromfile(f, dtype=self.dtype, count=m * d)
                if X.size != m * d:
                    raise BatchError(f"{self.path}: truncated .npy file (ends before row {n})")
                X = X.reshape(m, d)
            if not X.dtype.isnative:
                X = X.astype(X.dtype.newbyteorder("="))
            self._read = start + m
            yield Block(X, start + 1, _nonfinite_errors(X, []))

    def close(self) -> None:
        self._memmap = None
        super().close()


def open_source(path: str, fmt: str, mode: str, column: Any = None, key: str | None = None):
    """Open the source for ``fmt`` (see :data:`fastgen.batch._common.FORMATS`)."""
    if fmt == "text":
        if column is not None or key is not None:
            raise BatchError(f"{path}: a .txt input has no columns (one document per line)")
        return TextLinesSource(path)
    if fmt == "csv":
        return CsvSource(path, mode, column, key)
    if fmt == "parquet":
        return ParquetSource(path, mode, column, key)
    if key is not None:
        raise BatchError(f"{path}: a .npy input has no columns; pass the lengths separately")
    return NpySource(path, column)
