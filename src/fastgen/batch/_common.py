"""Shared pieces of the batch package: the error type, file formats, the bad-row policy."""

from __future__ import annotations

import os
from array import array
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "BatchError",
    "FORMATS",
    "RowErrors",
    "check_batch_size",
    "check_no_nan",
    "check_on_error",
    "file_format",
    "first_nan_row",
    "import_pyarrow",
    "model_label",
]


class BatchError(ValueError):
    """A batch job cannot run: missing or malformed input, bad output path, shape mismatch.

    Raised by :func:`predict_file` and the other functions of ``fastgen.batch`` before
    or during a job (bad rows with ``on_error="fail"``, a model producing NaN); a job
    that raises it leaves no output file.  The message is one line meant for the
    user, naming the file and the row where there is one (the ``fastgen`` command
    prints it without a traceback).  A subclass of ``ValueError``.

    See Also
    --------
    predict_file : The batch job.
    fastgen.ModelFileError : Raised for a model file that cannot be loaded.

    Examples
    --------
    >>> from fastgen.batch import BatchError, check_output_path
    >>> try:
    ...     check_output_path("predictions.json")
    ... except BatchError as exc:
    ...     print(exc)
    predictions.json: unknown output format (extension '.json');
    expected one of .csv, .npy, .parquet, .pq
    """


#: file extension -> format name
FORMATS = {
    ".txt": "text",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".npy": "npy",
}

#: recorded messages of skipped rows (the row numbers are all kept)
MAX_REASONS = 20


def file_format(path: str | os.PathLike, allowed: tuple[str, ...], role: str) -> str:
    """The format of ``path`` from its extension; raise :class:`BatchError` if not allowed.

    Parameters
    ----------
    path : str or path-like
    allowed : tuple of str
        Accepted format names (values of :data:`FORMATS`).
    role : str
        What the file is, for the message (``"input"``, ``"output"``...).
    """
    ext = os.path.splitext(os.fspath(path))[1].lower()
    fmt = FORMATS.get(ext)
    if fmt is None or fmt not in allowed:
        exts = sorted(e for e, f in FORMATS.items() if f in allowed)
        got = f"extension {ext!r}" if ext else "no extension"
        raise BatchError(
            f"{os.fspath(path)}: unknown {role} format ({got}); expected one of {', '.join(exts)}"
        )
    return fmt


def check_on_error(on_error: str) -> str:
    if on_error not in ("fail", "skip"):
        raise ValueError(f"on_error must be 'fail' or 'skip', got {on_error!r}")
    return on_error


def check_batch_size(batch_size: Any) -> int | None:
    if batch_size is None:
        return None
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


def import_pyarrow():
    """``(pyarrow, pyarrow.parquet)``, or a :class:`BatchError` naming the ``io`` extra
    when not installed (the message of :class:`fastgen._extras.MissingExtraError`)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        from fastgen._extras import MissingExtraError

        missing = MissingExtraError("reading or writing Parquet", "io", ["pyarrow"])
        raise BatchError(str(missing)) from exc
    return pa, pq


class RowErrors:
    """The ``on_error`` policy for bad input rows, and the record of skipped rows.

    ``fail``: the first bad row raises :class:`BatchError` naming the file and row.
    ``skip``: bad rows are dropped; their 1-based row numbers are kept in
    ``skipped`` (a compact int64 array) and the first messages in ``reasons``.
    """

    def __init__(self, on_error: str, path: str) -> None:
        self.on_error = check_on_error(on_error)
        self.path = path
        self.skipped = array("q")
        self.reasons: list[str] = []

    @property
    def skip(self) -> bool:
        return self.on_error == "skip"

    def message(self, row: int, reason: str) -> str:
        return f"{self.path}: row {row}: {reason}"

    def fail(self, row: int, reason: str) -> None:
        """Raise for a bad row when the policy is ``fail`` (else do nothing)."""
        if not self.skip:
            raise BatchError(self.message(row, reason) + " (use on_error='skip' to drop bad rows)")

    def record(self, rows: Any, reason: str) -> None:
        """Record skipped rows (an int or an iterable of 1-based row numbers)."""
        rows = [int(rows)] if isinstance(rows, int) else [int(r) for r in rows]
        if not rows:
            return
        self.skipped.extend(rows)
        if len(self.reasons) < MAX_REASONS:
            self.reasons.append(self.message(rows[0], reason))

    @property
    def n_skipped(self) -> int:
        return len(self.skipped)


# --------------------------------------------------------------------------- model outputs


def first_nan_row(values: Any) -> int | None:
    """The 0-based index of the first row of ``values`` holding a NaN.

    Parameters
    ----------
    values : array-like of shape (n_rows,) or (n_rows, ...)
        A model's output chunk.

    Returns
    -------
    int or None
        None when there is no NaN or the values are not floating point (infinities
        are legitimate: ``-inf`` log-probabilities).
    """
    arr = np.asarray(values)
    if arr.dtype.kind not in "fc" or arr.size == 0 or arr.ndim == 0:
        return None
    if arr.dtype.kind == "f" and not np.isnan(arr.min()):  # min propagates NaN: no copy
        return None
    bad = np.isnan(arr.reshape(len(arr), -1)).any(axis=1)
    return int(np.argmax(bad)) if bad.any() else None


def model_label(model: Any) -> str:
    """How messages name a model: its file path, or its type for an in-memory model."""
    if isinstance(model, (str, os.PathLike)):
        return os.fspath(model)
    return f"{type(model).__name__} (in memory)"


def check_no_nan(values: Any, model: Any, where: Callable[[int], str]) -> None:
    """Raise :class:`BatchError` if a model's output chunk holds a NaN.

    A model yielding NaN (for instance a tampered or corrupt model file) must not
    produce an output full of ``nan`` and a success status.

    Parameters
    ----------
    values : array-like
        The output chunk (non-floating outputs are not checked).
    model : path or model object
        The model, named in the message (see :func:`model_label`).
    where : callable
        ``where(i)``: the input row behind output row ``i`` of the chunk, in words
        (e.g. ``"row 12 of reviews.txt"``).
    """
    i = first_nan_row(values)
    if i is not None:
        what = "model file" if isinstance(model, (str, os.PathLike)) else "model"
        raise BatchError(
            f"{model_label(model)}: model produced NaN for {where(i)}; the {what} may be corrupt"
        )
