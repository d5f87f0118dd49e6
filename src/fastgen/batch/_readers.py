"""Chunk readers: a file's rows in model-ready chunks, with bad rows handled by policy.

:func:`read_chunks` is the one entry point: it opens the file (headers and column
names are checked at once), then iterates :class:`Chunk` objects of about
``batch_size`` rows.  For ``kind="sequences"`` (HMM inputs) a chunk holds whole
sequences only, with their ``lengths``; sequences are delimited by a lengths side
file/array, a lengths column (the sequence length on the first row of each
sequence) or a sequence-id column (rows of one sequence contiguous).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._common import BatchError, RowErrors, check_batch_size, file_format
from ._sources import Block, open_source

__all__ = ["Chunk", "ChunkReader", "default_batch_size", "read_chunks", "read_lengths"]

KINDS = ("text", "numeric", "sequences")
_ALLOWED = {
    "text": ("text", "csv", "parquet"),
    "numeric": ("csv", "parquet", "npy"),
    "sequences": ("csv", "parquet", "npy"),
}
DEFAULT_TEXT_BATCH = 10_000
#: numeric chunks hold about this many values
_NUMERIC_VALUES = 1 << 19

#: ``row_check(values) -> [(index, reason), ...]``: extra per-row validation
RowCheck = Callable[[np.ndarray], list]


def default_batch_size(kind: str, n_features: int | None = None) -> int:
    """Rows per chunk when none is given: 10,000 documents, or ~512k numeric values.

    Parameters
    ----------
    kind : {"text", "numeric", "sequences"}
        The input kind (see :func:`read_chunks`).
    n_features : int, optional
        Feature columns of a numeric input; None counts as 1.

    Returns
    -------
    int
        10,000 for text; for numeric input 2**19 values' worth of rows, clipped
        to [1024, 65536].

    See Also
    --------
    read_chunks : Uses it when ``batch_size`` is None.

    Examples
    --------
    >>> from fastgen.batch import default_batch_size
    >>> default_batch_size("text"), default_batch_size("numeric", 784)
    (10000, 1024)
    >>> default_batch_size("numeric", 16)
    32768
    """
    if kind == "text":
        return DEFAULT_TEXT_BATCH
    return int(np.clip(_NUMERIC_VALUES // max(n_features or 1, 1), 1024, 65_536))


@dataclass
class Chunk:
    """Rows of the input ready for a model; ``len(chunk)`` is the number of rows.

    Parameters
    ----------
    data : list of str or ndarray of shape (n_rows, n_features)
        The rows: documents, or numeric rows.
    first_row : int
        1-based input row number of the first row read into this chunk.
    lengths : int64 ndarray of shape (n_sequences,), optional
        Sequence lengths (``kind="sequences"``), summing to ``len(data)``; None for
        other kinds.

    See Also
    --------
    read_chunks : Read a file as chunks.
    Plan.apply : Run a model on a chunk.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgen.batch import Chunk
    >>> chunk = Chunk(np.zeros((5, 2)), first_row=1, lengths=np.array([2, 3]))
    >>> len(chunk), chunk.lengths.tolist()
    (5, [2, 3])
    """

    data: Any
    first_row: int
    lengths: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.data)


def _parse_length(value: Any, where: str) -> int:
    try:
        f = float(value)
    except (TypeError, ValueError):
        f = float("nan")
    if not np.isfinite(f) or f != int(f) or f < 1:
        raise BatchError(f"{where}: invalid sequence length {value!r} (a positive integer)")
    return int(f)


def read_lengths(lengths: Any, column: str | None = None) -> np.ndarray:
    """Sequence lengths from an array-like or a side file, as int64 (n_sequences,).

    Parameters
    ----------
    lengths : array-like of int or str or path-like
        The lengths themselves (1-D, positive integers), or a file holding them:
        ``.npy`` (1-D integers), ``.txt`` (one integer per line, blank lines
        ignored), ``.csv`` / ``.parquet``.
    column : str, optional
        CSV/Parquet files: the column of lengths (default: the only column).

    Returns
    -------
    ndarray of shape (n_sequences,)
        int64 lengths, all positive.

    Raises
    ------
    BatchError
        The file is missing or in an unknown format, or a value is not a positive
        integer (the message names the row), or there are no lengths.

    See Also
    --------
    read_chunks : Reads sequences delimited by these lengths.

    Examples
    --------
    >>> from fastgen.batch import read_lengths
    >>> read_lengths([3, 2]).tolist()
    [3, 2]
    >>> with open("lengths.txt", "w") as f:
    ...     print(200, 150, sep="\\n", file=f)
    >>> read_lengths("lengths.txt").tolist()
    [200, 150]
    """
    if isinstance(lengths, (str, os.PathLike)):
        path = os.fspath(lengths)
        if not os.path.isfile(path):
            raise BatchError(f"{path}: lengths file not found")
        fmt = file_format(path, ("text", "csv", "parquet", "npy"), "lengths")
        mode = "text" if fmt == "text" else "numeric"
        src = open_source(path, fmt, mode, column)
        values: list = []
        try:
            for block in src.blocks(65_536):
                if block.errors:
                    i, reason = block.errors[0]
                    raise BatchError(f"{path}: row {block.row0 + i}: {reason}")
                vals = block.values
                if mode == "numeric":
                    vals = np.asarray(vals)[:, 0] if np.ndim(vals) == 2 else vals
                for i, v in enumerate(list(vals)):
                    if mode == "text" and not str(v).strip():
                        continue
                    values.append(_parse_length(v, f"{path}: row {block.row0 + i}"))
        finally:
            src.close()
        arr = np.asarray(values, dtype=np.int64)
        where = path
    else:
        arr = np.asarray(lengths)
        where = "lengths"
        if arr.ndim != 1 or arr.dtype.kind not in "iuf":
            raise BatchError(f"{where} must be a 1-D array of positive integers")
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr) & (arr == np.round(arr))):
            raise BatchError(f"{where} must hold integers")
        arr = arr.astype(np.int64)
        if np.any(arr < 1):
            raise BatchError(f"{where} must all be positive")
    if arr.size == 0:
        raise BatchError(f"{where}: no sequence lengths")
    return arr


class _Boundaries:
    """Marks the first row of every sequence, block by block."""

    def __init__(self, path: str, ids: bool, lengths: np.ndarray | None, column: str | None):
        self.path = path
        self.ids = ids
        self.lengths = lengths
        self.column = column
        self._pos = 0  # next index into ``lengths``
        self._remaining = 0  # rows left in the current sequence (lengths modes)
        self._prev: Any = None
        self._seen: set = set()

    def starts(self, block: Block) -> np.ndarray:
        m = len(block)
        starts = np.zeros(m, dtype=bool)
        if self.ids:
            keys = block.keys
            missing = [i for i, k in enumerate(keys) if k is None or k == ""]
            if missing:
                raise BatchError(
                    f"{self.path}: row {block.row0 + missing[0]}: missing sequence id "
                    f"(column {self.column!r})"
                )
            keys = np.asarray(keys, dtype=object) if isinstance(keys, list) else keys
            starts[0] = self._prev is None or keys[0] != self._prev
            if m > 1:
                starts[1:] = np.asarray(keys[1:] != keys[:-1], dtype=bool)
            for i in np.flatnonzero(starts).tolist():
                key = keys[i]
                key = key.item() if isinstance(key, np.generic) else key
                if key in self._seen:
                    raise BatchError(
                        f"{self.path}: row {block.row0 + i}: sequence id {key!r} appears "
                        "again after other ids; the rows of a sequence must be contiguous "
                        f"(sort the input by {self.column!r})"
                    )
                self._seen.add(key)
            self._prev = keys[-1]
            return starts
        pos = 0
        while pos < m:
            if self._remaining == 0:
                where = f"{self.path}: row {block.row0 + pos}"
                if self.lengths is not None:
                    if self._pos >= len(self.lengths):
                        raise BatchError(
                            f"{where}: the input has more rows than the lengths add up to "
                            f"({int(self.lengths.sum())})"
                        )
                    self._remaining = int(self.lengths[self._pos])
                    self._pos += 1
                else:
                    self._remaining = _parse_length(
                        block.keys[pos], f"{where}, column {self.column!r}"
                    )
                starts[pos] = True
            take = min(self._remaining, m - pos)
            self._remaining -= take
            pos += take
        return starts

    def finish(self, n_rows: int) -> None:
        if self._remaining:
            raise BatchError(
                f"{self.path}: the input ends inside a sequence ({self._remaining} more "
                f"row(s) expected after row {n_rows})"
            )
        if self.lengths is not None and self._pos < len(self.lengths):
            raise BatchError(
                f"{self.path}: the lengths add up to {int(self.lengths.sum())} rows but the "
                f"input has {n_rows}"
            )


class ChunkReader:
    """Iterable of :class:`Chunk` over one input file; see :func:`read_chunks`.

    The file is opened (and its header and columns checked) at construction; it can
    be iterated once, and is closed at the end of the iteration, by :meth:`close`
    or by leaving a ``with`` block.

    Parameters
    ----------
    path : str or path-like
        The input file; see :func:`read_chunks` for the formats.
    kind : {"text", "numeric", "sequences"}, default="numeric"
        Documents, numeric rows, or numeric rows grouped into whole sequences.
    batch_size : int, optional
        Rows per chunk (default: :func:`default_batch_size`).
    column : str or list of str, optional
        Text: the text column.  Numeric: the feature columns.
    lengths : array-like or path, optional
        Sequence lengths, or a side file holding them.
    lengths_column : str, optional
        The column holding each sequence's length on its first row (or the column
        of the ``lengths`` side file).
    sequence_column : str, optional
        The column of sequence ids.
    on_error : {"fail", "skip"}, default="fail"
        Raise on the first bad row, or drop bad rows and record them.
    row_check : callable, optional
        ``row_check(values) -> [(index, reason), ...]``: extra bad rows in a block.

    Attributes
    ----------
    n_features : int or None
        Feature columns of a numeric input.
    feature_names : list of str or None
        Their names (CSV/Parquet).
    total_rows : int or None
        Rows in the file when the format records it (``.npy``, Parquet).
    errors : RowErrors
        The ``on_error`` policy and the skipped rows (after iterating).
    skipped_rows : list of int
        1-based numbers of the rows dropped with ``on_error="skip"``.

    See Also
    --------
    read_chunks : Open a file (the usual way to make a reader).

    Examples
    --------
    >>> import numpy as np
    >>> from fastgen.batch import ChunkReader
    >>> np.save("X.npy", np.arange(12.0).reshape(6, 2))
    >>> with ChunkReader("X.npy", batch_size=4) as reader:
    ...     print(reader.n_features, reader.total_rows)
    ...     for chunk in reader:
    ...         print(chunk.first_row, chunk.data.shape)
    2 6
    1 (4, 2)
    5 (2, 2)
    """

    def __init__(
        self,
        path: str | os.PathLike,
        kind: str = "numeric",
        *,
        batch_size: int | None = None,
        column: Any = None,
        lengths: Any = None,
        lengths_column: str | None = None,
        sequence_column: str | None = None,
        on_error: str = "fail",
        row_check: RowCheck | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self.path = path = os.fspath(path)
        self.kind = kind
        self.errors = RowErrors(on_error, path)
        batch_size = check_batch_size(batch_size)
        grouping = [g for g in (lengths, sequence_column) if g is not None]
        if lengths_column is not None and lengths is None:
            grouping.append(lengths_column)
        if kind != "sequences" and (grouping or lengths_column is not None):
            raise BatchError("lengths / sequence columns apply to sequence (HMM) inputs only")
        if len(grouping) > 1:
            raise BatchError(
                "give one way to delimit sequences: lengths, lengths_column or sequence_column"
            )
        fmt = file_format(path, _ALLOWED[kind], "input")
        if not os.path.exists(path):
            raise BatchError(f"{path}: input file not found")
        if not os.path.isfile(path):
            raise BatchError(f"{path}: input is not a regular file")
        key = sequence_column if sequence_column is not None else (
            lengths_column if lengths is None else None
        )
        self._lengths = read_lengths(lengths, lengths_column) if lengths is not None else None
        self._key = key
        self._ids = sequence_column is not None
        mode = "text" if kind == "text" else "numeric"
        self.source = open_source(path, fmt, mode, column, key)
        self.n_features: int | None = self.source.n_features
        self.feature_names: list[str] | None = self.source.feature_names
        self.total_rows: int | None = self.source.n_rows
        self.batch_size = batch_size or default_batch_size(kind, self.n_features)
        self.row_check = row_check
        self._grouped = kind == "sequences" and (key is not None or self._lengths is not None)
        self._iterated = False

    # -------------------------------------------------------------- protocol
    def __enter__(self) -> ChunkReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the input file (done by the iteration's end and by ``with``)."""
        self.source.close()

    def fraction(self) -> float | None:
        """Share of the input read so far.

        Returns
        -------
        float or None
            Between 0 and 1, or None when the reader cannot tell.
        """
        return self.source.fraction()

    @property
    def skipped_rows(self) -> list[int]:
        return self.errors.skipped.tolist()

    def __iter__(self) -> Iterator[Chunk]:
        if self._iterated:
            raise RuntimeError("a ChunkReader can be iterated once")
        self._iterated = True
        try:
            if self.kind != "sequences":
                yield from self._row_chunks()
            elif self._grouped:
                yield from self._sequence_chunks()
            else:
                yield from self._single_sequence()
        finally:
            self.close()

    # -------------------------------------------------------------- internals
    def _blocks(self) -> Iterator[Block]:
        for block in self.source.blocks(self.batch_size):
            if self.row_check is not None and len(block):
                extra = self.row_check(block.values)
                if extra:
                    known = {i for i, _ in block.errors}
                    block.errors = sorted(block.errors + [e for e in extra if e[0] not in known])
            if block.errors:
                i, reason = block.errors[0]
                self.errors.fail(block.row0 + i, reason)
            yield block

    def _row_chunks(self) -> Iterator[Chunk]:
        for block in self._blocks():
            values = block.values
            if block.errors:
                bad = np.zeros(len(block), dtype=bool)
                for i, reason in block.errors:
                    bad[i] = True
                    self.errors.record(block.row0 + i, reason)
                keep = np.flatnonzero(~bad)
                if isinstance(values, list):
                    values = [values[i] for i in keep.tolist()]
                else:
                    values = values[keep]
            if len(values):
                yield Chunk(values, block.row0)

    def _sequence_chunks(self) -> Iterator[Chunk]:
        marks = _Boundaries(self.path, self._ids, self._lengths, self._key)
        parts: list[np.ndarray] = []
        seqs: list[np.ndarray] = []
        bads: list[np.ndarray] = []
        reasons: dict[int, str] = {}
        pending_row0 = 1
        pending_rows = 0
        seq_counter = -1
        n_rows = 0
        for block in self._blocks():
            m = len(block)
            if m == 0:
                continue
            starts = marks.starts(block)
            seq = seq_counter + np.cumsum(starts)
            seq_counter = int(seq[-1])
            bad = np.zeros(m, dtype=bool)
            for i, reason in block.errors:
                bad[i] = True
                reasons.setdefault(block.row0 + i, reason)
            parts.append(block.values)
            seqs.append(seq)
            bads.append(bad)
            pending_rows += m
            n_rows += m
            # rows of complete sequences: every sequence but the last may be emitted
            n_last = sum(int(np.count_nonzero(s == seq_counter)) for s in seqs)
            last_start = pending_rows - n_last
            if last_start >= self.batch_size:
                X, S, B = (np.concatenate(a) for a in (parts, seqs, bads))
                chunk = self._emit(X[:last_start], S[:last_start], B[:last_start],
                                   pending_row0, reasons)
                parts, seqs, bads = [X[last_start:]], [S[last_start:]], [B[last_start:]]
                pending_row0 += last_start
                pending_rows -= last_start
                if chunk is not None:
                    yield chunk
        marks.finish(n_rows)
        if pending_rows:
            X, S, B = (np.concatenate(a) for a in (parts, seqs, bads))
            chunk = self._emit(X, S, B, pending_row0, reasons)
            if chunk is not None:
                yield chunk

    def _emit(self, X, seq, bad, row0: int, reasons: dict[int, str]) -> Chunk | None:
        if bad.any():
            bad_seqs = np.unique(seq[bad])
            drop = np.isin(seq, bad_seqs)
            for s in bad_seqs.tolist():
                rows = np.flatnonzero(seq == s)
                first_bad = row0 + int(rows[bad[rows]][0])
                self.errors.record(
                    (row0 + rows).tolist(),
                    f"sequence dropped: row {first_bad}: {reasons.pop(first_bad, 'bad row')}",
                )
            X, seq = X[~drop], seq[~drop]
        if len(X) == 0:
            return None
        cut = np.flatnonzero(np.diff(seq)) + 1
        lengths = np.diff(np.concatenate([[0], cut, [len(seq)]])).astype(np.int64)
        return Chunk(X, row0, lengths)

    def _single_sequence(self) -> Iterator[Chunk]:
        parts: list[np.ndarray] = []
        first_bad: tuple[int, str] | None = None
        n = 0
        for block in self._blocks():
            if block.errors and first_bad is None:
                first_bad = (block.row0 + block.errors[0][0], block.errors[0][1])
            parts.append(block.values)
            n += len(block)
        if not n:
            return
        if first_bad is not None:
            self.errors.record(
                range(1, n + 1), f"sequence dropped: row {first_bad[0]}: {first_bad[1]}"
            )
            return
        X = np.concatenate(parts)
        yield Chunk(X, 1, np.array([len(X)], dtype=np.int64))


def read_chunks(
    path: str | os.PathLike,
    kind: str = "numeric",
    *,
    batch_size: int | None = None,
    column: Any = None,
    lengths: Any = None,
    lengths_column: str | None = None,
    sequence_column: str | None = None,
    on_error: str = "fail",
    row_check: RowCheck | None = None,
) -> ChunkReader:
    """Open ``path`` and return an iterable of :class:`Chunk` (bounded memory).

    Parameters
    ----------
    path : str or path-like
        ``.txt`` (text only: UTF-8, one document per line), ``.csv`` (header row),
        ``.parquet``/``.pq`` (needs pyarrow) or ``.npy`` (numeric only).
    kind : {"text", "numeric", "sequences"}
        Documents (``list[str]`` chunks), numeric rows (2-D arrays), or numeric rows
        grouped into whole sequences (``Chunk.lengths``).
    batch_size : int, optional
        Rows per chunk (sequence chunks: at least this many rows of whole sequences,
        or one longer sequence).  Default: 10,000 documents, or about 512k values.
    column : str or list of str, optional
        Text: the text column (required when the file has several).  Numeric: the
        feature columns (default: all but the grouping column).
    lengths : array-like or path, optional
        Sequence lengths, or a side file holding them (``.npy``, ``.txt``, ``.csv``,
        ``.parquet``; ``lengths_column`` names its column).
    lengths_column : str, optional
        Without ``lengths``: the input column holding each sequence's length on its
        first row (the value on its other rows is ignored).
    sequence_column : str, optional
        Input column of sequence ids; a sequence's rows must be contiguous.
    on_error : {"fail", "skip"}
        Bad rows (malformed CSV records, non-numbers, NaN/inf, nulls, invalid UTF-8)
        raise :class:`BatchError` with the row number, or are dropped (sequences:
        the whole sequence) and listed in ``reader.skipped_rows``.
    row_check : callable, optional
        ``row_check(values) -> [(index, reason), ...]``: extra bad rows in a block.

    Returns
    -------
    ChunkReader
        An iterable of :class:`Chunk` (once); a context manager closing the file.
        Its ``n_features``, ``feature_names`` and ``total_rows`` are known before
        iterating, its ``skipped_rows`` after.

    Raises
    ------
    BatchError
        Unknown format, missing file or column, conflicting ways to delimit
        sequences; while iterating, a bad row with ``on_error="fail"`` (naming the
        file and row) or sequences that do not match their lengths.

    See Also
    --------
    predict_chunks : Run a model on the chunks.
    predict_file : Read, predict and write in one call.

    Notes
    -----
    Without any of ``lengths``/``lengths_column``/``sequence_column``, a
    ``"sequences"`` input is one sequence and is read whole.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgen.batch import read_chunks
    >>> np.save("frames.npy", np.arange(12.0).reshape(6, 2))
    >>> with read_chunks("frames.npy", "sequences", lengths=[2, 4], batch_size=1) as reader:
    ...     for chunk in reader:
    ...         print(chunk.first_row, chunk.data.shape, chunk.lengths.tolist())
    1 (2, 2) [2]
    3 (4, 2) [4]
    """
    return ChunkReader(
        path,
        kind,
        batch_size=batch_size,
        column=column,
        lengths=lengths,
        lengths_column=lengths_column,
        sequence_column=sequence_column,
        on_error=on_error,
        row_check=row_check,
    )
