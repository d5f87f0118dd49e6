"""The batch engine: which method of which model, applied chunk by chunk, file to file.

One engine serves the Python API (:func:`predict_file`, :func:`predict_chunks`) and
the ``fastgen predict`` command.  A :class:`Plan` says how a model consumes chunks:
its input kind (documents, numeric rows, or whole sequences), the method called, the
expected feature count and the names of the output columns.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._modelfile import peek_kind
from .._progress import Progress
from ._common import BatchError, check_batch_size, check_no_nan, check_on_error
from ._readers import Chunk, ChunkReader, RowCheck, read_chunks
from ._writers import check_output_path, open_writer

__all__ = ["BatchReport", "Plan", "load_model", "make_plan", "predict_chunks", "predict_file"]

NEURAL_KINDS = ("autoencoder", "vae", "keras")
DEVICES = ("auto", "cpu", "cuda")
_CLASSIFIER_METHODS = ("predict", "predict_proba", "predict_log_proba", "predict_joint_log_proba")
_PROBA_METHODS = ("predict_proba", "predict_log_proba", "predict_joint_log_proba")
_HMM_METHODS = ("predict", "predict_proba", "filter")
_NEURAL_METHODS = ("encode", "reconstruct", "score_samples", "decode")
_ESTIMATOR_METHODS = (*_CLASSIFIER_METHODS, "decision_function", "transform", "score_samples")


# --------------------------------------------------------------------------- models


def _check_device(device: str) -> str:
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    return device


def load_model(
    model: Any, device: str = "auto", *, trusted: bool = False, max_size: int | None = None
) -> Any:
    """A model object: ``model`` itself, or the model file at ``model`` loaded.

    Neural model files are loaded on ``device``; classical models run on the CPU
    (``device="cuda"`` is refused for them).

    Parameters
    ----------
    model : path or model object
        A fastgen model file, or an already loaded model (returned as is).
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where a neural model file runs; ``"auto"`` uses CUDA when onnxruntime can,
        else the CPU.
    trusted : bool, default=False
        The model file comes from a source you trust: allow parameters that let it
        act on the host (reading files named by the data, custom token patterns...);
        see :func:`fastgen.load`.
    max_size : int, optional
        Cap, in bytes, on the model file's total uncompressed size (default: the
        library's cap); raise it for very large models.

    Returns
    -------
    object
        ``model`` itself when it is not a path; else the loaded model: a fastgen
        estimator or ``Pipeline``, or an onnxruntime model for a neural file.

    Raises
    ------
    BatchError
        The file is missing or not a file, or ``device="cuda"`` for a classical model.
    fastgen.ModelFileError
        The file is corrupt, tampered with, too large or refused as untrusted.

    See Also
    --------
    fastgen.load : Load a model file with every option.
    make_plan : How the loaded model consumes chunks.

    Examples
    --------
    >>> from fastgen.batch import load_model
    >>> from fastgen.naive_bayes import MultinomialNB
    >>> from fastgen.pipeline import TextClassifier
    >>> from fastgen.text import CountVectorizer
    >>> docs = ["good fun film", "bad dull film", "great fun", "slow weak plot"]
    >>> clf = TextClassifier(CountVectorizer(), MultinomialNB())
    >>> clf = clf.fit(docs, ["pos", "neg", "pos", "neg"])
    >>> clf.save("sentiment.fgm")
    >>> load_model("sentiment.fgm")
    TextClassifier(classifier=MultinomialNB(), vectorizer=CountVectorizer())
    >>> load_model(clf) is clf
    True
    """
    _check_device(device)
    if not isinstance(model, (str, os.PathLike)):
        return model
    path = os.fspath(model)
    if not os.path.exists(path):
        raise BatchError(f"{path}: model file not found")
    if not os.path.isfile(path):
        raise BatchError(f"{path}: model path is not a file")
    import fastgen

    kind = peek_kind(path)
    if kind in NEURAL_KINDS:
        return fastgen.load(path, trusted=trusted, max_size=max_size, device=device)
    if kind is not None and device == "cuda":
        raise BatchError(
            f"{path}: a {kind!r} model runs on the CPU; device='cuda' needs a neural model"
        )
    return fastgen.load(path, trusted=trusted, max_size=max_size)


def _is_text_model(model: Any) -> bool:
    if hasattr(model, "vectorizer_") and hasattr(model, "classifier_"):
        return True
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and steps:
        first = steps[0][1] if isinstance(steps[0], tuple) else None
        return hasattr(first, "build_analyzer")
    return False


def _is_hmm(model: Any) -> bool:
    return all(hasattr(model, a) for a in ("startprob_", "transmat_", "decode"))


def _is_autoencoder(model: Any) -> bool:
    return all(callable(getattr(model, a, None)) for a in ("encode", "decode", "reconstruct"))


def _class_names(model: Any, prefix: str) -> Callable[[int], list[str]]:
    classes = getattr(model, "classes_", None)

    def names(width: int) -> list[str]:
        if classes is not None and len(classes) == width:
            return [f"{prefix}{c}" for c in np.asarray(classes).tolist()]
        return [f"{prefix}{i}" for i in range(width)]

    return names


def _indexed(prefix: str, single: str | None = None) -> Callable[[int], list[str]]:
    def names(width: int) -> list[str]:
        if single is not None and width == 1:
            return [single]
        return [f"{prefix}{i}" for i in range(width)]

    return names


@dataclass
class Plan:
    """How a model consumes chunks: its input kind, the method called, output names.

    Made by :func:`make_plan` for a loaded model; :func:`predict_file` and
    :func:`predict_chunks` use it to read the input and call the model.

    Parameters
    ----------
    kind : {"text", "numeric", "sequences"}
        The input the model takes (see :func:`fastgen.batch.read_chunks`):
        documents, numeric rows, or numeric rows grouped into whole sequences.
    method : str
        Name of the model method called on every chunk.
    n_features : int or None
        Feature columns the model expects (None: documents, or unknown).
    call : callable
        ``call(chunk)``: the model's output for one :class:`Chunk`.
    names : callable
        ``names(width)``: output column names for CSV/Parquet (``width`` is 1 for
        a 1-D output).
    row_check : callable, optional
        Extra per-row validation of numeric input (e.g. that an HMM's symbols are
        integers in range): ``row_check(values) -> [(index, reason), ...]``.
    streams : bool, default=False
        Chunks without ``lengths`` continue one sequence (an HMM's ``filter``, which
        carries its forward message from chunk to chunk): an input without sequence
        boundaries is then read in row chunks instead of whole.

    See Also
    --------
    make_plan : Make the plan of a model.
    read_chunks : Read an input in the plan's ``kind``.

    Examples
    --------
    >>> from fastgen.batch import Chunk, make_plan
    >>> from fastgen.naive_bayes import MultinomialNB
    >>> from fastgen.pipeline import TextClassifier
    >>> from fastgen.text import CountVectorizer
    >>> docs = ["good fun film", "bad dull film", "great fun", "slow weak plot"]
    >>> clf = TextClassifier(CountVectorizer(), MultinomialNB())
    >>> clf = clf.fit(docs, ["pos", "neg", "pos", "neg"])
    >>> plan = make_plan(clf, proba=True)
    >>> plan.kind, plan.method, plan.names(2)
    ('text', 'predict_proba', ['proba_neg', 'proba_pos'])
    >>> plan.apply(Chunk(["fun film", "weak plot"], first_row=1)).shape
    (2, 2)
    """

    kind: str
    method: str
    n_features: int | None
    call: Callable[[Chunk], Any]
    names: Callable[[int], list[str]]
    row_check: RowCheck | None = None
    streams: bool = False

    def apply(self, chunk: Chunk) -> np.ndarray:
        """The model's output for one chunk, checked to have one row per input row.

        Parameters
        ----------
        chunk : Chunk
            Input rows (and sequence lengths for an HMM).

        Returns
        -------
        ndarray of shape (len(chunk),) or (len(chunk), k)
            The method's output.

        Raises
        ------
        BatchError
            The output does not have one row per input row.
        """
        out = np.asarray(self.call(chunk))
        if out.ndim == 0 or out.shape[0] != len(chunk):
            raise BatchError(
                f"{self.method} returned {out.shape[0] if out.ndim else 'a scalar'} rows "
                f"for {len(chunk)} input rows"
            )
        return out


def _pick_method(model: Any, method: str | None, proba: bool, allowed: tuple[str, ...],
                 default: str, proba_default: str | None, what: str) -> str:
    if method is None:
        if proba:
            if proba_default is None:
                raise BatchError(f"proba=True (--proba) does not apply to {what}")
            method = proba_default
        else:
            method = default
    elif proba and method not in _PROBA_METHODS:
        raise BatchError(f"proba=True conflicts with method={method!r}")
    if method not in allowed or not callable(getattr(model, method, None)):
        have = [m for m in allowed if callable(getattr(model, m, None))]
        raise BatchError(f"{what} has no batch method {method!r}; choose one of {have}")
    return method


def _categorical_check(n_symbols: int) -> RowCheck:
    def check(X: np.ndarray) -> list[tuple[int, str]]:
        x = X[:, 0]
        ok = (x >= 0) & (x < n_symbols) & (x == np.floor(x))
        return [
            (int(i), f"symbol {x[i].item()!r} is not an integer in [0, {n_symbols})")
            for i in np.flatnonzero(~ok)
        ]

    return check


def make_plan(model: Any, method: str | None = None, proba: bool = False) -> Plan:
    """The :class:`Plan` for ``model`` (an already loaded model object).

    Default methods: text classifiers and estimators ``predict`` (``predict_proba``
    with ``proba``); HMMs ``predict`` (per-row Viterbi state; ``predict_proba``:
    per-row state posteriors; ``filter``: per-row filtered state probabilities, no
    look-ahead, where chunks without ``lengths`` continue one sequence, so a single
    sequence of any length streams in bounded memory); autoencoders/VAEs ``encode``
    (also ``reconstruct``, ``score_samples``, ``decode``); exported Keras models
    ``predict``.

    Parameters
    ----------
    model : model object
        A loaded model: a text classifier (``TextClassifier`` or a ``Pipeline``
        starting with a vectorizer), an HMM, an autoencoder or VAE, an exported
        Keras model, or another estimator with ``predict``.
    method : str, optional
        The method to call on every chunk instead of the default above; it must be
        one of the batch methods of the model's family.
    proba : bool, default=False
        Use the probability method (``predict_proba`` for classifiers and HMMs).
        Conflicts with a ``method`` that is not a probability method.

    Returns
    -------
    Plan
        The input kind, method, expected feature count and output column names.

    Raises
    ------
    BatchError
        The model cannot run in batches (a vectorizer, no ``predict``), has no such
        batch method, or ``proba`` does not apply.

    See Also
    --------
    predict_chunks : Apply the plan to chunks.
    predict_file : Apply it file to file.

    Examples
    --------
    >>> from fastgen.batch import make_plan
    >>> from fastgen.naive_bayes import MultinomialNB
    >>> from fastgen.pipeline import TextClassifier
    >>> from fastgen.text import CountVectorizer
    >>> docs = ["good fun film", "bad dull film", "great fun", "slow weak plot"]
    >>> clf = TextClassifier(CountVectorizer(), MultinomialNB())
    >>> clf = clf.fit(docs, ["pos", "neg", "pos", "neg"])
    >>> plan = make_plan(clf)
    >>> plan.kind, plan.method, plan.n_features, plan.names(1)
    ('text', 'predict', None, ['prediction'])
    """
    what = type(model).__name__
    if hasattr(model, "build_analyzer") and not hasattr(model, "predict"):
        raise BatchError(
            f"{what} is a vectorizer; batch prediction needs a classifier "
            "(a TextClassifier or a Pipeline ending in one)"
        )
    if _is_text_model(model):
        m = _pick_method(model, method, proba, _CLASSIFIER_METHODS, "predict",
                         "predict_proba", what)
        fn = getattr(model, m)
        prefix = {"predict_proba": "proba_", "predict_log_proba": "log_proba_"}.get(m, "jll_")
        names = _indexed("", "prediction") if m == "predict" else _class_names(model, prefix)
        return Plan("text", m, None, lambda c: fn(c.data), names)
    if _is_hmm(model):
        m = _pick_method(model, method, proba, _HMM_METHODS, "predict", "predict_proba", what)
        fn = getattr(model, m)
        names = _indexed("state_", "state")
        streams = m == "filter"
        if streams:
            stream = model.stream()

            def fn(X: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
                if lengths is None:  # the next rows of the one sequence
                    return stream.update(X).filtered
                return model.filter(X, lengths)

        family = getattr(type(model), "emission_family", None)
        if getattr(family, "symbols", False):  # categorical: one column of symbols
            n_symbols = int(np.shape(model.emissionprob_)[1])

            def call(c: Chunk):
                return fn(np.asarray(c.data).astype(np.int64).reshape(-1, 1), c.lengths)

            return Plan("sequences", m, 1, call, names, _categorical_check(n_symbols), streams)
        # n_features columns (a fitted model has it; means_ is (n_components, [n_mix,]
        # n_features) for the Gaussian kinds)
        n_features = _as_int(getattr(model, "n_features", None))
        if n_features is None and hasattr(model, "means_"):
            n_features = int(np.shape(model.means_)[-1])
        return Plan("sequences", m, n_features, lambda c: fn(c.data, c.lengths), names,
                    streams=streams)  # fmt: skip
    if _is_autoencoder(model):
        m = _pick_method(model, method, proba, _NEURAL_METHODS, "encode", None, what)
        fn = getattr(model, m)
        if m == "decode":
            n_features = getattr(model, "latent_dim", None)
        else:
            n_features = getattr(model, "n_features_in_", getattr(model, "input_dim", None))
        names = {"encode": _indexed("z_"), "score_samples": _indexed("", "score")}.get(
            m, _indexed("x_")
        )
        return Plan("numeric", m, _as_int(n_features), lambda c: fn(c.data), names)
    if not callable(getattr(model, "predict", None)) and method is None:
        raise BatchError(f"{what} is not a model fastgen can run in batches (no predict method)")
    m = _pick_method(model, method, proba, _ESTIMATOR_METHODS, "predict", "predict_proba", what)
    fn = getattr(model, m)
    if m == "predict":
        names = _indexed("y_", "prediction")
    elif m in _PROBA_METHODS:
        names = _class_names(model, "log_proba_" if m == "predict_log_proba" else "proba_")
    else:
        names = _indexed("y_", "score" if m == "score_samples" else None)
    n_features = _as_int(getattr(model, "n_features_in_", None))
    return Plan("numeric", m, n_features, lambda c: fn(c.data), names)


def _as_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _check_output(out: np.ndarray, model: Any, chunk: Chunk, reader: ChunkReader) -> None:
    """Refuse an output chunk holding NaN, naming the model and the input row."""

    def where(i: int) -> str:
        return f"row {_input_row(chunk, i, reader.errors.skipped)} of {reader.path}"

    check_no_nan(out, model, where)


def _input_row(chunk: Chunk, i: int, skipped: Any) -> int:
    """The 1-based input row behind row ``i`` of ``chunk``, skipped bad rows accounted for.

    ``skipped``: the 1-based numbers of the input rows dropped so far.
    """
    dropped = np.sort(np.asarray(skipped, dtype=np.int64))
    dropped = dropped[dropped >= chunk.first_row]
    row = chunk.first_row + i
    while True:  # the (i+1)-th row from first_row not dropped: a fixed point from below
        nxt = chunk.first_row + i + int(np.searchsorted(dropped, row, side="right"))
        if nxt == row:
            return row
        row = nxt


# --------------------------------------------------------------------------- API


@dataclass
class BatchReport:
    """What a :func:`predict_file` job did.

    Parameters
    ----------
    input : str
        The input path.
    output : str
        The output path.
    method : str
        The model method applied to every chunk.
    rows : int
        Rows written to the output.
    chunks : int
        Chunks processed.
    seconds : float
        Wall time of the job (reading, predicting, writing).
    rows_per_s : float
        ``rows / seconds``.
    skipped_rows : list of int, optional
        1-based input rows dropped with ``on_error="skip"`` (default: none).
    skip_reasons : list of str, optional
        The first messages about skipped rows (at most 20).

    See Also
    --------
    predict_file : The job that returns it.

    Examples
    --------
    >>> from fastgen.batch import predict_file
    >>> from fastgen.naive_bayes import MultinomialNB
    >>> from fastgen.pipeline import TextClassifier
    >>> from fastgen.text import CountVectorizer
    >>> docs = ["good fun film", "bad dull film", "great fun", "slow weak plot"]
    >>> clf = TextClassifier(CountVectorizer(), MultinomialNB())
    >>> clf = clf.fit(docs, ["pos", "neg", "pos", "neg"])
    >>> with open("reviews.txt", "wb") as f:  # row 2 is not valid UTF-8
    ...     _ = f.write(b"fun film\\n\\xff\\ngreat\\n")
    >>> report = predict_file(clf, "reviews.txt", "labels.csv", on_error="skip")
    >>> report.rows, report.chunks, report.method, report.skipped_rows
    (2, 1, 'predict', [2])
    >>> report.summary()
    '2 rows -> labels.csv (predict, 1 chunk(s), ...'
    """

    input: str
    output: str
    method: str
    rows: int
    chunks: int
    seconds: float
    rows_per_s: float
    skipped_rows: list[int] = field(default_factory=list)
    skip_reasons: list[str] = field(default_factory=list)

    @property
    def n_skipped(self) -> int:
        return len(self.skipped_rows)

    def summary(self) -> str:
        """One line describing the job, as the ``fastgen predict`` command prints it.

        Returns
        -------
        str
            Rows, output, method, chunks, time and speed, and the first skipped
            row's reason if any.
        """
        text = (
            f"{self.rows:,} rows -> {self.output} ({self.method}, {self.chunks} chunk(s), "
            f"{self.seconds:.2f} s, {self.rows_per_s:,.0f} rows/s)"
        )
        if self.skipped_rows:
            text += f"; skipped {self.n_skipped:,} bad row(s), first: {self.skip_reasons[0]}"
        return text


def predict_chunks(
    model: Any, chunks: Iterable[Any], method: str | None = None, *, proba: bool = False
) -> Iterator[np.ndarray]:
    """Apply ``model``'s batch method to every chunk; yield one output array per chunk.

    Parameters
    ----------
    model : model object
        A loaded model (see :func:`make_plan` for the methods).
    chunks : iterable
        :class:`~fastgen.batch.Chunk` objects (e.g. from :func:`read_chunks`; HMM
        chunks carry ``lengths``), or plain chunks: lists of documents / 2-D arrays.
    method : str, optional
        Overrides the model's default method (see :func:`make_plan`).
    proba : bool, default=False
        Use the probability method (classifiers, HMMs).

    Yields
    ------
    ndarray of shape (n_rows,) or (n_rows, k)
        The method's output for one chunk, one row per input row.

    Raises
    ------
    BatchError
        The model has no such batch method, or an output does not have one row per
        input row.

    See Also
    --------
    read_chunks : Read a file in chunks.
    predict_file : Read, predict and write in one call.

    Examples
    --------
    >>> from fastgen.batch import predict_chunks
    >>> from fastgen.naive_bayes import MultinomialNB
    >>> from fastgen.pipeline import TextClassifier
    >>> from fastgen.text import CountVectorizer
    >>> docs = ["good fun film", "bad dull film", "great fun", "slow weak plot"]
    >>> clf = TextClassifier(CountVectorizer(), MultinomialNB())
    >>> clf = clf.fit(docs, ["pos", "neg", "pos", "neg"])
    >>> chunks = [["fun film", "weak plot"], ["great"]]
    >>> [out.tolist() for out in predict_chunks(clf, chunks)]
    [['pos', 'neg'], ['pos']]
    """
    plan = make_plan(model, method, proba)
    for chunk in chunks:
        if not isinstance(chunk, Chunk):
            chunk = Chunk(chunk, 1, None)
        yield plan.apply(chunk)


def predict_file(
    model: Any,
    input: str | os.PathLike,
    output: str | os.PathLike,
    *,
    method: str | None = None,
    proba: bool = False,
    batch_size: int | None = None,
    column: Any = None,
    lengths: Any = None,
    lengths_column: str | None = None,
    sequence_column: str | None = None,
    on_error: str = "fail",
    progress: bool | None = None,
    device: str = "auto",
    trusted: bool = False,
    max_size: int | None = None,
) -> BatchReport:
    """Stream ``input`` through ``model`` in chunks and write ``output`` atomically.

    Parameters
    ----------
    model : path or model object
        A fastgen model file (loaded with ``fastgen.load``) or a loaded model.
    input : str or path-like
        Text models: ``.txt`` (one document per line), ``.csv``/``.parquet`` (the
        ``column``); HMMs: ``.npy``/``.csv``/``.parquet`` with ``lengths``,
        ``lengths_column`` or ``sequence_column`` (see :func:`read_chunks`; without
        them the file is one sequence, read whole, except by ``method="filter"``, which
        streams it in chunks, bad rows being dropped one by one with
        ``on_error="skip"``); neural and other numeric models: ``.npy`` (read in
        chunks), ``.csv``, ``.parquet``.
    output : str or path-like
        ``.npy``, ``.csv`` or ``.parquet``; written to a temporary file in the same
        directory and renamed at the end, so a failed or interrupted job leaves no
        partial output.
    method : str, optional
        The model method applied to every chunk; default per model family (e.g.
        ``predict``, ``encode`` for autoencoders); see :func:`make_plan`.
    proba : bool, default=False
        Write probabilities (``predict_proba``) instead of predictions.
    batch_size : int, optional
        Rows per chunk (default: 10,000 documents or ~512k numeric values).
    column : str or list of str, optional
        CSV/Parquet input: the text column of a text model (required when the file
        has several columns), or the feature columns of a numeric model (default:
        all but a grouping column).
    lengths : array-like or path, optional
        HMM input: the sequence lengths, or a side file holding them (``.npy``,
        ``.txt``, ``.csv``, ``.parquet``).
    lengths_column : str, optional
        HMM input without ``lengths``: the column holding each sequence's length on
        its first row.
    sequence_column : str, optional
        HMM input: the column of sequence ids (a sequence's rows contiguous).
    on_error : {"fail", "skip"}, default="fail"
        Bad input rows (malformed records, non-numbers, NaN, invalid UTF-8) stop the
        job with their row number, or are dropped (for an HMM the whole sequence)
        and listed in the report.
    progress : bool, optional
        Progress bar on stderr; default: only when stderr is a terminal.
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where a neural model file runs (ignored for loaded models).
    trusted : bool, default=False
        Accept model-file parameters that let the file act on the host (custom
        token patterns and the like); see :func:`fastgen.load`.
    max_size : int, optional
        Cap, in bytes, on the model file's uncompressed size (default 2 GiB).

    Returns
    -------
    BatchReport
        Rows written, chunks, time, speed and skipped rows.

    Raises
    ------
    BatchError
        Missing files, unknown formats, feature-count mismatches, bad rows (with
        ``on_error="fail"``), unwritable output, a model producing NaN (a corrupt
        model: the message names the model and the first input row concerned).
        Nothing is written in that case.
    fastgen.ModelFileError
        A corrupt, tampered, too large or untrusted model file.

    See Also
    --------
    predict_chunks : The same on chunks in memory.
    read_chunks : How the input is read.
    fastgen.dask.predict : Batch inference on a Dask cluster.

    Examples
    --------
    >>> from fastgen.batch import predict_file
    >>> from fastgen.naive_bayes import MultinomialNB
    >>> from fastgen.pipeline import TextClassifier
    >>> from fastgen.text import CountVectorizer
    >>> docs = ["good fun film", "bad dull film", "great fun", "slow weak plot"]
    >>> clf = TextClassifier(CountVectorizer(), MultinomialNB())
    >>> clf = clf.fit(docs, ["pos", "neg", "pos", "neg"])
    >>> clf.save("sentiment.fgm")
    >>> with open("reviews.txt", "w") as f:
    ...     _ = f.write("fun film\\nweak plot\\ngreat\\n")
    >>> report = predict_file("sentiment.fgm", "reviews.txt", "labels.csv", batch_size=2)
    >>> report.rows, report.chunks
    (3, 2)
    >>> print(open("labels.csv").read())
    prediction
    pos
    neg
    pos
    <BLANKLINE>
    """
    _check_device(device)
    check_on_error(on_error)
    batch_size = check_batch_size(batch_size)
    in_path, out_path = os.fspath(input), os.fspath(output)
    if not os.path.exists(in_path):
        raise BatchError(f"{in_path}: input file not found")
    check_output_path(out_path, in_path)
    source = model
    model = load_model(model, device, trusted=trusted, max_size=max_size)
    if device == "cuda" and not hasattr(model, "providers"):
        raise BatchError(
            f"{type(model).__name__} runs on the CPU; device='cuda' needs a neural model"
        )
    plan = make_plan(model, method, proba)
    t0 = time.perf_counter()
    chunks = 0
    grouped = any(g is not None for g in (lengths, lengths_column, sequence_column))
    with read_chunks(
        in_path,
        "numeric" if plan.streams and not grouped else plan.kind,
        batch_size=batch_size,
        column=column,
        lengths=lengths,
        lengths_column=lengths_column,
        sequence_column=sequence_column,
        on_error=on_error,
        row_check=plan.row_check,
    ) as reader:
        if plan.n_features is not None and reader.n_features not in (None, plan.n_features):
            cols = f" {reader.feature_names}" if reader.feature_names else ""
            raise BatchError(
                f"{in_path}: has {reader.n_features} feature column(s){cols}, but the model's "
                f"{plan.method} expects {plan.n_features}"
            )
        with (
            Progress(total=reader.total_rows, enabled=progress, desc="predict") as bar,
            open_writer(out_path, plan.names) as writer,
        ):
            for chunk in reader:
                out = plan.apply(chunk)
                _check_output(out, source, chunk, reader)
                writer.write(out)
                chunks += 1
                bar.update(len(chunk), reader.fraction())
            if writer.rows == 0:
                raise BatchError(
                    f"{in_path}: no rows to predict"
                    + (f" (all {reader.errors.n_skipped} rows were bad)"
                       if reader.errors.n_skipped else "")
                )
    seconds = time.perf_counter() - t0
    return BatchReport(
        input=in_path,
        output=out_path,
        method=plan.method,
        rows=writer.rows,
        chunks=chunks,
        seconds=seconds,
        rows_per_s=writer.rows / seconds if seconds > 0 else float("inf"),
        skipped_rows=reader.skipped_rows,
        skip_reasons=list(reader.errors.reasons),
    )
