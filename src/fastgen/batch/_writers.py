"""Atomic output writers: ``.npy``, CSV and Parquet, fed chunk by chunk.

Every writer writes a temporary file in the output's directory and renames it over
the output (``os.replace``) only when the job finishes; on any exception, including
``KeyboardInterrupt`` and the CLI's signal exceptions (any ``BaseException``), the
temporary file is removed, so a failed job never leaves a partial output.  The
temporary files of the writers still open are listed, so that a caller ending the
process on a signal can remove them even when a signal came at a point where no
``with`` block covered them (:func:`remove_pending_outputs`).  Memory is bounded by
one chunk: the ``.npy`` header is reserved at a fixed size and rewritten with the
final row count at the end.
"""

from __future__ import annotations

import csv
import errno
import os
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np

from ._common import BatchError, file_format, import_pyarrow

__all__ = ["OutputWriter", "check_output_path", "open_writer", "remove_pending_outputs"]

#: bytes reserved for the ``.npy`` header (a multiple of 64, room for any 2-D shape)
_NPY_HEADER_BYTES = 128

#: ``names(width) -> column names`` of a 2-D output with ``width`` columns
ColumnNames = Callable[[int], list[str]]

#: temporary files of this process's writers not yet committed or aborted
_PENDING: set[str] = set()


def _remove_quietly(path: str) -> None:
    """Delete ``path`` if it exists; other errors are ignored (cleanup is best effort)."""
    try:
        os.remove(path)
    except OSError:
        pass


def remove_pending_outputs() -> None:
    """Delete the temporary files of every writer of this process still open.

    For a process about to exit on a signal (the ``fastgen`` command line): the
    writers' own cleanup normally did it already; this also covers a signal that came
    between a writer's creation and the ``with`` block meant to close it.  The
    outputs themselves are never touched.

    See Also
    --------
    open_writer : Make a writer.
    OutputWriter.abort : Remove one writer's temporary file.

    Examples
    --------
    >>> import os
    >>> from fastgen.batch import open_writer, remove_pending_outputs
    >>> writer = open_writer("scores.npy")
    >>> os.path.exists(writer.tmp)  # the hidden temporary file beside the output
    True
    >>> remove_pending_outputs()
    >>> os.path.exists(writer.tmp), os.path.exists("scores.npy")
    (False, False)
    """
    for tmp in list(_PENDING):
        _remove_quietly(tmp)
        _PENDING.discard(tmp)


def _default_names(width: int) -> list[str]:
    return [f"y_{i}" for i in range(width)]


def check_output_path(path: str | os.PathLike, input_path: str | None = None) -> str:
    """Validate an output path before any work: format, directory, permissions.

    Parameters
    ----------
    path : str or path-like
        The output file; its extension gives the format (``.npy``, ``.csv``,
        ``.parquet`` or ``.pq``).
    input_path : str, optional
        The job's input file, which the output must not overwrite.

    Returns
    -------
    str
        The output format: ``"npy"``, ``"csv"`` or ``"parquet"``.

    Raises
    ------
    BatchError
        Unknown extension, missing or unwritable directory, a directory at
        ``path``, or ``path`` is the input file.

    See Also
    --------
    open_writer : Open a writer for the path.

    Examples
    --------
    >>> from fastgen.batch import check_output_path
    >>> check_output_path("labels.csv"), check_output_path("scores.pq")
    ('csv', 'parquet')
    """
    path = os.fspath(path)
    fmt = file_format(path, ("npy", "csv", "parquet"), "output")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise BatchError(f"{path}: output directory {directory} does not exist")
    if os.path.isdir(path):
        raise BatchError(f"{path}: output path is a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise BatchError(f"{path}: output directory {directory} is not writable")
    if input_path is not None and os.path.exists(path) and os.path.samefile(path, input_path):
        raise BatchError(f"{path}: the output would overwrite the input")
    return fmt


def _os_error(path: str, exc: OSError) -> BatchError:
    if exc.errno == errno.ENOSPC:
        reason = "no space left on device"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = "permission denied"
    else:
        reason = exc.strerror or str(exc)
    return BatchError(f"{path}: cannot write the output ({reason}); nothing was written")


class OutputWriter:
    """Base class: a temporary file in the output's directory, renamed on success.

    Use as a context manager: a normal exit commits (flush, rename), an exception
    aborts (close, delete the temporary file) and propagates.  ``write(values)``
    takes a 1-D array (one value per row) or a 2-D array (rows, columns); every
    chunk must have the first chunk's width, and a dtype that casts to it safely.
    Make writers with :func:`open_writer`, which picks the subclass for the
    output's format (``.npy``, CSV or Parquet).

    Parameters
    ----------
    path : str or path-like
        The output file.
    names : callable, optional
        ``names(width)``: the CSV/Parquet column names of an output with ``width``
        columns (1 for a 1-D output); default ``y_0``, ``y_1``, ...

    Attributes
    ----------
    rows : int
        Rows written so far.
    tmp : str
        The temporary file, renamed to ``path`` by :meth:`commit`.

    See Also
    --------
    open_writer : Make the writer for a path.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgen.batch import open_writer
    >>> with open_writer("scores.csv", lambda width: ["score"]) as writer:
    ...     writer.write(np.array([0.5, 1.25]))
    ...     writer.write(np.array([2.0]))
    >>> writer.rows
    3
    >>> print(open("scores.csv").read())
    score
    0.5
    1.25
    2.0
    <BLANKLINE>
    """

    def __init__(self, path: str | os.PathLike, names: ColumnNames | None = None) -> None:
        self.path = os.fspath(path)
        self.names = names or _default_names
        directory = os.path.dirname(os.path.abspath(self.path))
        base = os.path.basename(self.path)
        self.tmp = os.path.join(directory, f".{base}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
        self.rows = 0
        self.dtype: np.dtype | None = None
        self.width: int | None = None  # None: 1-D output
        self._first = True
        self._done = False
        _PENDING.add(self.tmp)
        try:
            self._open()
        except OSError as exc:
            self._remove_tmp()
            raise _os_error(self.path, exc) from exc
        except BaseException:  # e.g. a signal while opening
            self._remove_tmp()
            raise

    # ------------------------------------------------------------ subclass API
    def _open(self) -> None:
        raise NotImplementedError

    def _write(self, values: np.ndarray) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------ public
    def write(self, values: Any) -> None:
        """Append rows to the temporary file.

        Parameters
        ----------
        values : array-like of shape (n_rows,) or (n_rows, width)
            Numbers or strings: 1-D, one value per row; 2-D, one row per row.  Every
            call must have the first call's width and a dtype that casts to the
            first call's safely.

        Raises
        ------
        BatchError
            Wrong shape or dtype, or the disk refused the write (full, permission).
        """
        values = np.asarray(values)
        if values.ndim not in (1, 2) or values.dtype.hasobject:
            raise BatchError(
                f"model output must be a 1-D or 2-D array of numbers or strings, got "
                f"shape {values.shape} dtype {values.dtype}"
            )
        width = None if values.ndim == 1 else values.shape[1]
        if self._first:
            self.dtype, self.width = values.dtype, width
        else:
            if width != self.width:
                raise BatchError(
                    f"model output changed shape between chunks ({width} vs {self.width} columns)"
                )
            if values.dtype != self.dtype:
                if not np.can_cast(values.dtype, self.dtype, "safe"):
                    raise BatchError(
                        f"model output changed dtype between chunks ({values.dtype} vs "
                        f"{self.dtype})"
                    )
                values = values.astype(self.dtype)
        try:
            self._write(values)
        except OSError as exc:
            raise _os_error(self.path, exc) from exc
        self._first = False
        self.rows += len(values)

    def column_names(self) -> list[str]:
        """The CSV/Parquet column names of the output, from ``names``.

        Returns
        -------
        list of str
            One name per column (one for a 1-D output).
        """
        return self.names(1 if self.width is None else self.width)

    def commit(self) -> None:
        """Finish the file and rename it over the output."""
        if self._done:
            return
        try:
            self._finish()
            self._close()
            os.replace(self.tmp, self.path)
        except OSError as exc:
            self.abort()
            raise _os_error(self.path, exc) from exc
        except BaseException:
            self.abort()
            raise
        self._done = True
        _PENDING.discard(self.tmp)

    def abort(self) -> None:
        """Close and delete the temporary file (the output is left untouched)."""
        if self._done:
            return
        self._done = True
        try:
            self._close()
        except Exception:  # noqa: BLE001 - the original error matters, not this one
            pass
        finally:  # even if closing is interrupted (a BaseException)
            self._remove_tmp()

    def _remove_tmp(self) -> None:
        _remove_quietly(self.tmp)
        _PENDING.discard(self.tmp)

    def __enter__(self) -> OutputWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


# --------------------------------------------------------------------------- npy


class NpyWriter(OutputWriter):
    """``.npy`` (format 1.0): a fixed-size header rewritten with the final shape."""

    def _open(self) -> None:
        self._f = open(self.tmp, "xb")  # noqa: SIM115 - closed by _close

    def _header(self, rows: int) -> bytes:
        assert self.dtype is not None
        shape = (rows,) if self.width is None else (rows, self.width)
        descr = np.lib.format.dtype_to_descr(self.dtype)
        text = f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': {shape!r}, }}"
        prefix = np.lib.format.magic(1, 0)
        room = _NPY_HEADER_BYTES - len(prefix) - 2 - 1
        if len(text) > room:  # pragma: no cover - only for exotic dtypes
            raise BatchError(f"cannot write a .npy header for dtype {self.dtype}")
        text = text.ljust(room) + "\n"
        return prefix + len(text).to_bytes(2, "little") + text.encode("latin1")

    def _write(self, values: np.ndarray) -> None:
        if self._first:
            self._f.write(self._header(0))
        if values.dtype.byteorder == ">":
            values = values.astype(values.dtype.newbyteorder("<"))
        self._f.write(np.ascontiguousarray(values).tobytes())

    def _finish(self) -> None:
        if self.dtype is None:
            raise BatchError("no rows to write")
        self._f.flush()
        self._f.seek(0)
        self._f.write(self._header(self.rows))
        self._f.flush()
        os.fsync(self._f.fileno())

    def _close(self) -> None:
        self._f.close()


# --------------------------------------------------------------------------- CSV


def _as_text(values: np.ndarray) -> list:
    """Rows as lists of Python values/strings; floats in their shortest round-trip form."""
    if values.dtype.kind == "f":
        values = values.astype(str)
    elif values.dtype.kind == "b":
        values = values.astype(np.int8)
    return values.tolist()


class CsvWriter(OutputWriter):
    """CSV with a header row (UTF-8, ``\\n`` line ends)."""

    def _open(self) -> None:
        self._f = open(self.tmp, "x", encoding="utf-8", newline="")  # noqa: SIM115
        self._csv = csv.writer(self._f, lineterminator="\n")

    def _write(self, values: np.ndarray) -> None:
        if self._first:
            self._csv.writerow(self.column_names())
        rows = _as_text(values)
        if values.ndim == 1:
            rows = [[v] for v in rows]
        self._csv.writerows(rows)

    def _finish(self) -> None:
        if self.dtype is None:
            raise BatchError("no rows to write")
        self._f.flush()
        os.fsync(self._f.fileno())

    def _close(self) -> None:
        self._f.close()


# --------------------------------------------------------------------------- Parquet


class ParquetWriter(OutputWriter):
    """Parquet via ``pyarrow.parquet.ParquetWriter``: one row group per chunk."""

    def _open(self) -> None:
        self._pa, self._pq = import_pyarrow()
        self._writer = None
        # claim the temporary name now: a permission problem shows before the work
        open(self.tmp, "xb").close()

    def _write(self, values: np.ndarray) -> None:
        pa = self._pa
        cols = [values] if values.ndim == 1 else [values[:, j] for j in range(values.shape[1])]
        table = pa.Table.from_arrays([pa.array(c) for c in cols], names=self.column_names())
        if self._writer is None:
            self._writer = self._pq.ParquetWriter(self.tmp, table.schema)
        self._writer.write_table(table)

    def _finish(self) -> None:
        if self._writer is None:
            raise BatchError("no rows to write")

    def _close(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()


_WRITERS = {"npy": NpyWriter, "csv": CsvWriter, "parquet": ParquetWriter}


def open_writer(path: str | os.PathLike, names: ColumnNames | None = None) -> OutputWriter:
    """The writer for ``path``'s extension (``.npy``, ``.csv``, ``.parquet``/``.pq``).

    The path is checked first (:func:`check_output_path`); the writer then holds a
    hidden temporary file beside ``path``, renamed over it on success.

    Parameters
    ----------
    path : str or path-like
        The output file.
    names : callable, optional
        ``names(width)``: the CSV/Parquet column names of an output with ``width``
        columns (1 for 1-D outputs); default ``y_0``, ``y_1``, ...

    Returns
    -------
    OutputWriter
        A ``.npy``, CSV or Parquet writer, to use as a context manager.

    Raises
    ------
    BatchError
        The path is not a valid output (see :func:`check_output_path`), the
        temporary file cannot be created, or Parquet is asked without pyarrow.

    See Also
    --------
    OutputWriter : What the writer does.
    predict_file : Writes its output through it.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgen.batch import open_writer
    >>> with open_writer("states.npy") as writer:
    ...     writer.write(np.array([[0, 1], [1, 1]]))
    >>> np.load("states.npy").tolist()
    [[0, 1], [1, 1]]
    """
    fmt = check_output_path(path)
    return _WRITERS[fmt](path, names)
