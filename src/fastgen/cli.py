"""The ``fastgen`` command line: predict, train, generate, info, bench, demo.

``main(argv)`` returns the exit status: 0 on success, 1 on an error (printed as one
line ``fastgen: error: <message>`` on stderr; the traceback only with ``--debug``),
2 for usage errors, 130 when interrupted (Ctrl-C), 128 + the signal number when
terminated by SIGTERM (143) or SIGHUP (129).  Batch prediction streams the input in
chunks (:mod:`fastgen.batch`); outputs are written atomically: on an error or one of
these signals the temporary output is removed and an existing output left untouched.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fastgen import __version__
from fastgen._signals import Terminated, exit_signals, stop_in_chain

__all__ = ["build_parser", "find_benchmarks", "main"]

PROG = "fastgen"
#: samples per decoder call of ``fastgen generate`` without ``--batch-size``
GENERATE_BATCH = 65_536


class CLIError(Exception):
    """An error whose message is shown to the user as is."""


# --------------------------------------------------------------------------- helpers


def _columns(values: list[str] | None) -> str | list[str] | None:
    if not values:
        return None
    return values[0] if len(values) == 1 else list(values)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


#: --max-model-size suffixes (binary multiples: 1K = 1024 bytes)
_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?", re.IGNORECASE)


def _byte_size(text: str) -> int:
    """A size in bytes: ``4096``, ``512M``, ``4G``, ``1.5GiB`` (K, M, G, T: powers of 1024)."""
    match = _SIZE.fullmatch(text.strip())
    value = 0
    if match:
        value = int(float(match[1]) * _SIZE_UNITS[match[2].upper()])
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a size in bytes such as 4096, 512M or 4G, got {text!r}"
        )
    return value


def _format_size(n: int) -> str:
    for unit in ("T", "G", "M", "K"):
        if n % _SIZE_UNITS[unit] == 0:
            return f"{n // _SIZE_UNITS[unit]}{unit}"
    return str(n)


def _say(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr)


#: a message's own leading "error:" (the CLI adds one)
_ERROR_PREFIX = re.compile(r"^(?:error\s*:\s*)+", re.IGNORECASE)


def _one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line, without an ``error:`` prefix of its own.

    Unexpected exception types are named (``ZeroDivisionError: ...``), except those
    called just ``error`` (``zlib.error``, ``struct.error``...), whose name would
    only repeat the ``error:`` the CLI prints.
    """
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}"
    else:
        text = str(exc)
    text = _ERROR_PREFIX.sub("", " ".join(text.split())) or type(exc).__name__
    if len(text) > 600:
        text = text[:597] + "..."
    from fastgen.batch import BatchError

    expected = (BatchError, ValueError, TypeError, OSError, ImportError, RuntimeError, CLIError)
    name = type(exc).__name__
    if not isinstance(exc, expected) and name.lower() != "error" and text != name:
        text = f"{name}: {text}"
    return text


def _model_file_message(exc: BaseException, args: argparse.Namespace | None) -> str:
    """:func:`_one_line`, with the model file named first for a model-file error."""
    text = _one_line(exc)
    path = getattr(args, "model", None)
    from fastgen._modelfile import ModelFileError

    if isinstance(exc, ModelFileError) and isinstance(path, str) and path not in text:
        text = f"{path}: {text}"
    return text


def _load_table(path: str, kind: str, **kwargs: Any) -> tuple[Any, np.ndarray | None]:
    """A whole input file (for training): documents or a 2-D array, and the lengths."""
    from fastgen.batch import read_chunks

    parts: list = []
    lengths: list[np.ndarray] = []
    with read_chunks(path, kind, **kwargs) as reader:
        for chunk in reader:
            parts.append(chunk.data)
            if chunk.lengths is not None:
                lengths.append(chunk.lengths)
    if not parts:
        raise CLIError(f"{path}: no rows")
    if kind == "text":
        return [d for p in parts for d in p], None
    X = np.concatenate(parts)
    return X, (np.concatenate(lengths) if lengths else None)


def _maybe_int_labels(labels: list[str]) -> np.ndarray:
    """Labels read as text: integers when they all are, else strings."""
    try:
        ints = [int(v) for v in labels]
    except ValueError:
        return np.asarray(labels)
    return np.asarray(ints, dtype=np.int64)


def _read_labels(path: str, column: str | None, labels_file: str | None) -> np.ndarray:
    from fastgen.batch import BatchError
    from fastgen.batch._common import FORMATS, import_pyarrow

    fmt = FORMATS.get(os.path.splitext(path)[1].lower())
    if fmt == "text":
        if labels_file is None:
            raise CLIError("a .txt training file needs --labels FILE (one label per line)")
        values, _ = _load_table(labels_file, "text")
        return _maybe_int_labels(values)
    if column is None:
        raise CLIError("name the label column with --label-column NAME")
    if fmt == "parquet":
        _, pq = import_pyarrow()
        try:
            col = pq.read_table(path, columns=[column]).column(0)
        except (KeyError, ValueError) as exc:
            raise BatchError(f"{path}: no column {column!r}") from exc
        if col.null_count:
            raise BatchError(f"{path}: column {column!r} has {col.null_count} missing label(s)")
        return np.asarray(col.to_numpy(zero_copy_only=False))
    values, _ = _load_table(path, "text", column=column)
    return _maybe_int_labels(values)


def _need_training_stack(what: str) -> None:
    from fastgen._extras import MissingExtraError, require

    try:
        require("train", what)
    except MissingExtraError as exc:
        raise CLIError(str(exc)) from None


# --------------------------------------------------------------------------- commands


def cmd_predict(args: argparse.Namespace) -> int:
    from fastgen.batch import predict_file

    report = predict_file(
        args.model,
        args.input,
        args.output,
        method=args.method,
        proba=args.proba,
        batch_size=args.batch_size,
        column=_columns(args.column),
        lengths=args.lengths,
        lengths_column=args.lengths_column,
        sequence_column=args.sequence_column,
        on_error=args.on_error,
        progress=False if args.quiet else (True if args.progress else None),
        device=args.device,
        trusted=args.trusted,
        max_size=args.max_model_size,
    )
    if report.skipped_rows:
        _say(f"warning: skipped {report.n_skipped:,} bad row(s); first: {report.skip_reasons[0]}")
    if not args.quiet:
        _say(f"wrote {report.summary()}")
    return 0


def _train_nb(args: argparse.Namespace) -> Any:
    from fastgen import naive_bayes
    from fastgen.pipeline import TextClassifier
    from fastgen.text import CountVectorizer, TfidfVectorizer

    if args.ngram_min > args.ngram_max:
        raise CLIError(f"--ngram-min {args.ngram_min} > --ngram-max {args.ngram_max}")
    nb_class = {
        "multinomial": naive_bayes.MultinomialNB,
        "complement": naive_bayes.ComplementNB,
        "bernoulli": naive_bayes.BernoulliNB,
    }[args.nb]
    if args.sublinear_tf and not args.tfidf:
        raise CLIError("--sublinear-tf weighs tf-idf: add --tfidf")
    if args.hashing is not None:
        if args.tfidf:
            raise CLIError(
                "--tfidf needs the document frequencies of the whole file, which a streamed "
                "(--hashing) fit cannot know before its last chunk; drop one of the two"
            )
        return _train_nb_streamed(args, nb_class)
    if args.chunk_size is not None:
        raise CLIError(
            "--chunk-size streams the training file, which needs --hashing N_FEATURES "
            "(a vocabulary is learned from all the documents at once)"
        )
    docs, _ = _load_table(args.data, "text", column=args.text_column)
    y = _read_labels(args.data, args.label_column, args.labels)
    if len(y) != len(docs):
        raise CLIError(f"{len(docs)} documents but {len(y)} labels")
    front = dict(analyzer=args.analyzer, ngram_range=(args.ngram_min, args.ngram_max),
                 binary=args.nb == "bernoulli", n_jobs=-1)
    if args.tfidf:
        vectorizer = TfidfVectorizer(**front, sublinear_tf=args.sublinear_tf)
    else:
        vectorizer = CountVectorizer(**front)
    model = TextClassifier(vectorizer, nb_class(alpha=args.alpha)).fit(docs, y)
    vocab = len(model.vectorizer_.vocabulary_)
    return model, f"{len(docs):,} documents, {len(model.classes_)} classes, {vocab:,} terms"


def _label_chunks(args: argparse.Namespace, batch_size: int) -> Iterator[Any]:
    """The training labels in chunks of ``batch_size`` rows, in file order.

    Text sources (a ``.txt`` data file's ``--labels`` file, a CSV column) give lists of
    str; a Parquet column gives arrays of its own type.  Memory: one chunk.
    """
    from fastgen.batch import BatchError, read_chunks
    from fastgen.batch._common import FORMATS, import_pyarrow

    path, column = args.data, args.label_column
    fmt = FORMATS.get(os.path.splitext(path)[1].lower())
    if fmt == "text":
        if args.labels is None:
            raise CLIError("a .txt training file needs --labels FILE (one label per line)")
        path, column = args.labels, None
    elif column is None:
        raise CLIError("name the label column with --label-column NAME")
    if fmt == "parquet":
        pa, pq = import_pyarrow()
        try:
            source = pq.ParquetFile(path)
            if column not in source.schema_arrow.names:
                raise BatchError(f"{path}: no column {column!r}")
            for batch in source.iter_batches(batch_size=batch_size, columns=[column]):
                col = batch.column(0)
                if col.null_count:
                    raise BatchError(f"{path}: column {column!r} has missing label(s)")
                yield np.asarray(col.to_numpy(zero_copy_only=False))
        except (pa.ArrowException, OSError) as exc:
            raise BatchError(f"{path}: cannot read the labels ({exc})") from exc
        return
    with read_chunks(path, "text", column=column, batch_size=batch_size) as reader:
        for chunk in reader:
            yield chunk.data


def _streamed_classes(args: argparse.Namespace, batch_size: int) -> tuple[np.ndarray, int, bool]:
    """First pass over the labels: the classes, the number of labels, and whether text
    labels are all integers (then read as int64, as the in-memory route does)."""
    from fastgen._validation import unique_labels

    seen: set = set()
    parts: list[np.ndarray] = []
    n = 0
    text = True
    for labels in _label_chunks(args, batch_size):
        n += len(labels)
        if isinstance(labels, np.ndarray):
            text = False
            parts.append(np.unique(labels))
        else:
            seen.update(labels)
    if n == 0:
        raise CLIError(f"{args.labels or args.data}: no labels")
    if not text:
        return unique_labels(np.concatenate(parts)), n, False
    values = _maybe_int_labels(sorted(seen))
    return unique_labels(values), n, values.dtype.kind == "i"


def _as_labels(raw: Any, int_labels: bool) -> np.ndarray:
    """One chunk of labels as :func:`_read_labels` reads the whole column."""
    if isinstance(raw, np.ndarray):
        return raw
    if int_labels:
        return np.asarray([int(v) for v in raw], dtype=np.int64)
    return np.asarray(raw)


def _train_nb_streamed(args: argparse.Namespace, nb_class: type) -> Any:
    """``--hashing``: train chunk by chunk through ``TextClassifier.partial_fit``.

    Memory is bounded by the chunk size (documents, labels and their hashed counts),
    plus the model (n_features x n_classes).  The labels are read twice: once for the
    classes, then along with the documents.  The model equals one ``fit`` over the
    whole file (the same integer counts).
    """
    from fastgen.batch import read_chunks
    from fastgen.batch._readers import DEFAULT_TEXT_BATCH
    from fastgen.pipeline import TextClassifier
    from fastgen.text import HashingVectorizer

    chunk_size = args.chunk_size or DEFAULT_TEXT_BATCH
    classes, n_labels, int_labels = _streamed_classes(args, chunk_size)
    vectorizer = HashingVectorizer(
        n_features=args.hashing,
        analyzer=args.analyzer,
        ngram_range=(args.ngram_min, args.ngram_max),
        alternate_sign=False,  # counts: Naive Bayes takes no negative values
        norm=None,
        binary=args.nb == "bernoulli",
        n_jobs=-1,
    )
    model = TextClassifier(vectorizer, nb_class(alpha=args.alpha))
    labels = _label_chunks(args, chunk_size)
    pending: list = []  # labels read but not used yet
    n_pending = 0
    n_docs = 0
    with read_chunks(args.data, "text", column=args.text_column, batch_size=chunk_size) as reader:
        for chunk in reader:
            docs = chunk.data
            n_docs += len(docs)
            if n_docs > n_labels:
                continue  # counted for the message below
            while n_pending < len(docs):
                part = _as_labels(next(labels), int_labels)
                pending.append(part)
                n_pending += len(part)
            y = pending[0] if len(pending) == 1 else np.concatenate(pending)
            y, rest = y[: len(docs)], y[len(docs) :]
            pending, n_pending = [rest], len(rest)
            first = not hasattr(model, "classifier_")
            model.partial_fit(docs, y, classes=classes if first else None)
    labels.close()
    if n_docs != n_labels:
        raise CLIError(f"{n_docs} documents but {n_labels} labels")
    if n_docs == 0:
        raise CLIError(f"{args.data}: no rows")
    return model, (
        f"{n_docs:,} documents, {len(model.classes_)} classes, {args.hashing:,} hashed "
        f"features (streamed in chunks of {chunk_size:,} rows)"
    )


def _train_hmm(args: argparse.Namespace) -> Any:
    from fastgen.hmm import GMMHMM, CategoricalHMM, GaussianHMM, PoissonHMM

    if args.n_mix is not None and args.emission != "gmm":
        raise CLIError("--n-mix applies to --emission gmm only")
    if args.variational and args.emission not in ("gaussian", "categorical"):
        raise CLIError("--variational applies to --emission gaussian or categorical only")
    X, lengths = _load_table(
        args.data,
        "sequences",
        column=_columns(args.column),
        lengths=args.lengths,
        lengths_column=args.lengths_column,
        sequence_column=args.sequence_column,
    )
    if args.emission == "categorical":
        if X.shape[1] != 1:
            raise CLIError(f"a categorical HMM takes one column of symbols, got {X.shape[1]}")
        if not np.all((X >= 0) & (X == np.floor(X))):
            raise CLIError("categorical symbols must be non-negative integers")
        X = X.astype(np.int64)
        if args.variational:
            from fastgen.hmm import VariationalCategoricalHMM as Categorical
        else:
            Categorical = CategoricalHMM
        model = Categorical(
            n_components=args.n_components, n_iter=args.n_iter, tol=args.tol,
            random_state=args.seed,
        )
    elif args.emission == "poisson":
        if not np.all((X >= 0) & (X == np.floor(X))):
            raise CLIError("Poisson counts must be non-negative integers")
        model = PoissonHMM(
            n_components=args.n_components, n_iter=args.n_iter, tol=args.tol,
            random_state=args.seed,
        )
    elif args.emission == "multinomial":
        from fastgen.hmm import MultinomialHMM

        if not np.all((X >= 0) & (X == np.floor(X))):
            raise CLIError("multinomial counts must be non-negative integers")
        model = MultinomialHMM(
            n_components=args.n_components, n_iter=args.n_iter, tol=args.tol,
            random_state=args.seed,
        )
    elif args.emission == "gmm":
        model = GMMHMM(
            n_components=args.n_components, n_mix=args.n_mix or 1,
            covariance_type=args.covariance_type, n_iter=args.n_iter, tol=args.tol,
            random_state=args.seed,
        )
    else:
        if args.variational:
            from fastgen.hmm import VariationalGaussianHMM as Gaussian
        else:
            Gaussian = GaussianHMM
        model = Gaussian(
            n_components=args.n_components, covariance_type=args.covariance_type,
            n_iter=args.n_iter, tol=args.tol, random_state=args.seed,
        )
    model.fit(X, lengths)
    n_seq = 1 if lengths is None else len(lengths)
    score = model.score(X, lengths)
    summary = f"{len(X):,} rows in {n_seq:,} sequence(s), log-likelihood {score:.4g}"
    if args.variational:
        summary += f", evidence lower bound {model.monitor_.history[-1]:.4g}"
    return model, f"{summary}, converged: {model.monitor_.converged}"


def _train_neural(args: argparse.Namespace) -> Any:
    _need_training_stack(f"fastgen train {args.model_kind}")
    X, _ = _load_table(args.data, "numeric", column=_columns(args.column))
    from fastgen import nn

    cls = nn.VAE if args.model_kind == "vae" else nn.Autoencoder
    kwargs: dict[str, Any] = dict(latent_dim=args.latent_dim, loss=args.loss,
                                  output_activation=args.output_activation)
    if args.hidden is not None:
        kwargs["hidden"] = args.hidden
    model = cls(int(X.shape[1]), **kwargs)
    model.fit(X, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
              validation_split=args.validation_split)
    loss = model.history_.get("loss", [float("nan")])[-1]
    return model, f"{len(X):,} rows x {X.shape[1]} features, final loss {loss:.4g}"


def cmd_train(args: argparse.Namespace) -> int:
    import fastgen

    directory = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(directory):
        raise CLIError(f"{args.output}: output directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise CLIError(f"{args.output}: output directory {directory} is not writable")
    trainer = {"nb": _train_nb, "hmm": _train_hmm, "ae": _train_neural,
               "vae": _train_neural}[args.model_kind]
    model, summary = trainer(args)
    try:
        fastgen.save(model, args.output)
    except BaseException:
        # fastgen.save removes its temporary file itself; this covers a signal that
        # came inside that cleanup (the name is the one fastgen._modelfile writes)
        with contextlib.suppress(OSError):
            os.remove(f"{args.output}.tmp-{os.getpid()}")
        raise
    if not args.quiet:
        _say(f"trained {type(model).__name__} on {summary}; saved {args.output}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from fastgen._progress import Progress
    from fastgen.batch import check_output_path, load_model, open_writer
    from fastgen.batch._common import check_no_nan

    check_output_path(args.output)
    if not os.path.isfile(args.model):
        raise CLIError(f"{args.model}: model file not found")
    model = load_model(args.model, args.device, trusted=args.trusted,
                       max_size=args.max_model_size)
    if not callable(getattr(model, "generate", None)):
        raise CLIError(f"{args.model}: holds a {type(model).__name__}; generate needs a VAE")
    rng = np.random.default_rng(args.seed)
    latent = int(model.latent_dim)
    batch = args.batch_size or GENERATE_BATCH
    progress = False if args.quiet else (True if args.progress else None)
    with (
        Progress(total=args.n, enabled=progress, desc="generate") as bar,
        open_writer(args.output, lambda w: [f"x_{i}" for i in range(w)]) as writer,
    ):
        for start in range(0, args.n, batch):
            m = min(batch, args.n - start)
            # the same draws as model.generate(n, seed): one stream, row-major
            z = rng.standard_normal((m, latent), dtype=np.float32)
            samples = model.decode(z)
            check_no_nan(samples, args.model, lambda i, start=start: f"sample {start + i + 1}")
            writer.write(samples)
            bar.update(m)
    if not args.quiet:
        _say(f"wrote {args.n:,} samples to {args.output}")
    return 0


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)) and len(value) > 12:
        shown = ", ".join(_format_value(v) for v in value[:10])
        return f"[{shown}, ... ({len(value)} items)]"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_format_value(v) for v in value) + "]"
    return str(value)


def _format_info(info: dict, path: str) -> str:
    lines = [f"model file: {path}"]
    for key in ("kind", "format_version", "fastgen_version"):
        if key in info:
            lines.append(f"{key.replace('_', ' ')}: {info[key]}")
    for key, value in info.items():
        if key in ("kind", "format_version", "fastgen_version", "params", "summary"):
            continue
        if not isinstance(value, dict):
            lines.append(f"{key.replace('_', ' ')}: {_format_value(value)}")
    for section in ("summary", "params"):
        value = info.get(section)
        if isinstance(value, dict) and value:
            lines.append(f"{section}:")
            lines += _format_dict(value, 1)
        elif value:
            lines.append(f"{section}: {_format_value(value)}")
    return "\n".join(lines)


def _format_dict(d: dict, depth: int) -> list[str]:
    lines = []
    pad = "  " * depth
    for key, value in d.items():
        if isinstance(value, dict):
            lines.append(f"{pad}{key}:")
            lines += _format_dict(value, depth + 1)
        else:
            lines.append(f"{pad}{key}: {_format_value(value)}")
    return lines


def cmd_info(args: argparse.Namespace) -> int:
    import fastgen

    if not os.path.exists(args.model):
        raise CLIError(f"{args.model}: model file not found")
    info = fastgen.info(args.model, trusted=args.trusted, max_size=args.max_model_size)
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True, default=str))
    else:
        print(_format_info(info, args.model))
    return 0


def find_benchmarks(starts: Sequence[str | os.PathLike] | None = None) -> Path:
    """The repository root holding ``benchmarks/`` (searched upwards from ``starts``).

    Default starts: the current directory and this package's location (a source
    checkout or an editable install).
    """
    if starts is None:
        starts = [Path.cwd(), Path(__file__).resolve().parent]
    for start in starts:
        for folder in [Path(start).resolve(), *Path(start).resolve().parents]:
            bench = folder / "benchmarks"
            if (bench / "conftest.py").is_file() and (bench / "report.py").is_file():
                return folder
    raise CLIError(
        "fastgen bench runs the benchmark suite of a fastgen source checkout; no "
        "'benchmarks/' folder found from the current directory or the installed package "
        "(run it inside a clone of the repository)"
    )


Runner = Callable[..., "subprocess.CompletedProcess"]


def cmd_bench(args: argparse.Namespace, runner: Runner | None = None) -> int:
    runner = runner or subprocess.run
    root = find_benchmarks()
    if importlib.util.find_spec("pytest_benchmark") is None:
        raise CLIError("fastgen bench needs pytest and pytest-benchmark (pip install '.[dev]')")
    env = dict(os.environ, FASTGEN_BENCH_SIZE=args.size)
    json_path = args.json
    tmpdir = None
    if json_path is None:
        tmpdir = tempfile.TemporaryDirectory(prefix="fastgen-bench-")
        json_path = os.path.join(tmpdir.name, "results.json")
    try:
        cmd = [sys.executable, "-m", "pytest", "benchmarks", "--benchmark-only",
               f"--benchmark-json={json_path}", "-p", "no:randomly", "-q"]
        if args.k:
            cmd += ["-k", args.k]
        proc = runner(cmd, cwd=str(root), env=env, check=False)
        if proc.returncode == 5:
            raise CLIError("no benchmark matched" + (f" -k {args.k!r}" if args.k else ""))
        if proc.returncode != 0 or not os.path.isfile(json_path):
            raise CLIError(f"the benchmark run failed (pytest exit status {proc.returncode})")
        report = runner([sys.executable, "-m", "benchmarks.report", json_path],
                        cwd=str(root), env=env, check=False)
        if report.returncode != 0:
            raise CLIError(f"benchmarks.report failed (exit status {report.returncode})")
    finally:
        if tmpdir is not None:
            tmpdir.cleanup()
    return 0


def cmd_demo(argv: list[str]) -> int:
    from fastgen.demo import main as demo_main

    try:
        status = demo_main(argv)
    except SystemExit as exc:  # the demo's own usage errors and refusals
        code = exc.code
        if isinstance(code, str):
            _say(code)
            return 1
        return int(code or 0)
    return int(status or 0)


# --------------------------------------------------------------------------- parser


class _HelpFormatter(argparse.HelpFormatter):
    """Every option with a default shows it (``store_true`` flags and options whose
    absence means "the model's own choice" excepted)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (not action.option_strings or "default" in text.lower()
                or any(action.default is v for v in (None, False, argparse.SUPPRESS))):
            return text
        return f"{text} (default: %(default)s)".lstrip()


class _Parser(argparse.ArgumentParser):
    """``fastgen``'s parsers (subcommands included): :class:`_HelpFormatter` help."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    """The ``fastgen`` argument parser (``demo`` arguments are the demo's own)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    common.add_argument("-q", "--quiet", action="store_true", help="no progress or summary")
    from fastgen._modelfile import DEFAULT_MAX_SIZE

    model_file = argparse.ArgumentParser(add_help=False)
    model_file.add_argument(
        "--trusted", action="store_true",
        help="the model file comes from a source you trust: allow parameters that read "
        "host files or run custom patterns (refused by default)",
    )
    model_file.add_argument(
        "--max-model-size", type=_byte_size, metavar="BYTES",
        help="raise the cap on the model file's total uncompressed size (bytes, or with "
        f"a suffix: 512M, 4G; default {_format_size(DEFAULT_MAX_SIZE)})",
    )

    parser = _Parser(
        prog=PROG, parents=[common],
        description="fastgen: fast classical generative models. Batch prediction, training, "
        "sampling and model inspection.",
    )
    parser.add_argument("--version", action="version", version=f"fastgen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    # predict
    p = sub.add_parser("predict", parents=[common, model_file],
                       help="stream a file through a model",
                       description="Stream INPUT through MODEL in chunks and write OUTPUT "
                       "(.npy, .csv or .parquet by extension; written atomically).")
    p.add_argument("model", help="fastgen model file")
    p.add_argument("input", help="input: .txt/.csv/.parquet (text), .npy/.csv/.parquet (numeric)")
    p.add_argument("-o", "--output", required=True, help="output .npy, .csv or .parquet")
    p.add_argument("--batch-size", type=_positive_int,
                   help="rows per chunk (default: 10,000 documents; numeric rows: about "
                   "half a million values, 1,024 to 65,536 rows)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where neural models run (default: auto)")
    p.add_argument("--proba", action="store_true",
                   help="probabilities (classifiers) or state posteriors (HMMs)")
    p.add_argument("--method", help="model method (e.g. encode, reconstruct, score_samples, "
                   "decode, predict_log_proba; HMMs: predict, predict_proba, filter: "
                   "state probabilities without look-ahead, streaming one unsegmented "
                   "sequence in chunks)")
    p.add_argument("--column", action="append", metavar="NAME",
                   help="text column, or a feature column (repeat for several)")
    p.add_argument("--lengths", metavar="FILE", help="HMM: side file of sequence lengths")
    p.add_argument("--lengths-column", metavar="NAME",
                   help="HMM: column with each sequence's length on its first row "
                   "(or the column of the --lengths file)")
    p.add_argument("--sequence-column", metavar="NAME",
                   help="HMM: column of sequence ids (rows of a sequence contiguous)")
    p.add_argument("--on-error", choices=("fail", "skip"), default="fail",
                   help="bad input rows: stop with an error (default) or skip them")
    p.add_argument("--progress", action="store_true",
                   help="show the progress bar even when stderr is not a terminal")
    p.set_defaults(func=cmd_predict)

    # train
    t = sub.add_parser("train", parents=[common], help="train a model and save it",
                       description="Train a model on DATA and save it to MODEL.")
    tsub = t.add_subparsers(dest="model_kind", metavar="KIND", required=True)
    nb = tsub.add_parser(
        "nb", parents=[common], help="text Naive Bayes (TextClassifier)",
        description="Fit a TextClassifier (a vectorizer and a Naive Bayes classifier, "
        "fused) on the documents and labels of DATA and save it.",
    )
    nb.add_argument("data", help=".csv/.parquet with text and label columns, or .txt")
    nb.add_argument("-o", "--output", required=True, help="model file to write")
    nb.add_argument("--text-column", "--column", metavar="NAME", dest="text_column",
                    help="column of documents (needed when the file has several)")
    nb.add_argument("--label-column", metavar="NAME", help="column of labels")
    nb.add_argument("--labels", metavar="FILE", help="for .txt data: labels, one per line")
    nb.add_argument("--analyzer", choices=("word", "char", "char_wb"), default="word",
                    help="terms: words, character n-grams, or character n-grams within words")
    nb.add_argument("--ngram-min", type=_positive_int, default=1, help="shortest n-gram")
    nb.add_argument("--ngram-max", type=_positive_int, default=1, help="longest n-gram")
    nb.add_argument("--alpha", type=float, default=1.0, help="additive smoothing")
    nb.add_argument("--nb", choices=("multinomial", "complement", "bernoulli"),
                    default="multinomial", help="the Naive Bayes classifier")
    nb.add_argument("--tfidf", action="store_true",
                    help="weigh the counts by tf-idf with l2-normalised rows (TfidfVectorizer)")
    nb.add_argument("--sublinear-tf", action="store_true",
                    help="with --tfidf: use 1 + log(count) instead of the count")
    nb.add_argument("--hashing", type=_positive_int, metavar="N_FEATURES",
                    help="hash terms into N_FEATURES columns (HashingVectorizer) instead of "
                         "learning a vocabulary, and stream the file in chunks: training "
                         "data larger than memory")
    nb.add_argument("--chunk-size", type=_positive_int, metavar="ROWS",
                    help="with --hashing: rows per chunk (default 10000); memory grows "
                         "with it")

    hmm = tsub.add_parser(
        "hmm", parents=[common],
        help="Gaussian, Gaussian-mixture, categorical, Poisson or multinomial HMM",
        description="Fit a hidden Markov model by EM (Baum-Welch) on the observations of "
        "DATA, one sequence or several (--lengths, --lengths-column or --sequence-column), "
        "and save it.",
    )
    hmm.add_argument("data", help=".npy/.csv/.parquet of observations")
    hmm.add_argument("-o", "--output", required=True, help="model file to write")
    hmm.add_argument("--column", action="append", metavar="NAME", help="feature column(s)")
    hmm.add_argument("--lengths", metavar="FILE", help="side file of sequence lengths")
    hmm.add_argument("--lengths-column", metavar="NAME",
                     help="column with each sequence's length on its first row")
    hmm.add_argument("--sequence-column", metavar="NAME",
                     help="column of sequence ids (rows of a sequence contiguous)")
    hmm.add_argument("--emission", default="gaussian",
                     choices=("gaussian", "gmm", "categorical", "poisson", "multinomial"),
                     help="the emission family")
    hmm.add_argument("--variational", action="store_true",
                     help="variational Bayes fit (VariationalGaussianHMM or "
                          "VariationalCategoricalHMM): posteriors over the parameters")
    hmm.add_argument("--n-components", type=_positive_int, required=True,
                     help="number of hidden states")
    hmm.add_argument("--n-mix", type=_positive_int, default=None,
                     help="Gaussians per state of --emission gmm (default 1)")
    hmm.add_argument("--covariance-type", choices=("diag", "full", "spherical", "tied"),
                     default="diag", help="Gaussian and GMM emissions: covariance shape")
    hmm.add_argument("--n-iter", type=_positive_int, default=10, help="most EM iterations")
    hmm.add_argument("--tol", type=float, default=1e-2,
                     help="stop when the log-likelihood gains less than this")
    hmm.add_argument("--seed", type=int, default=0, help="random_state of the initialisation")

    for kind, label in (("ae", "dense autoencoder"), ("vae", "variational autoencoder")):
        n = tsub.add_parser(
            kind, parents=[common], help=f"{label} (needs the train extra)",
            description=f"Train a {label} with Keras on the numeric rows of DATA, export "
            "it to ONNX through the export checks, and save it (inference needs only "
            "onnxruntime).  Needs the train extra.",
        )
        n.add_argument("data", help=".npy/.csv/.parquet of numeric rows")
        n.add_argument("-o", "--output", required=True, help="model file to write")
        n.add_argument("--column", action="append", metavar="NAME", help="feature column(s)")
        n.add_argument("--latent-dim", type=_positive_int, default=32,
                       help="width of the code")
        n.add_argument("--hidden", type=_int_list, help="hidden widths, e.g. 128,64")
        n.add_argument("--epochs", type=_positive_int, default=10, help="training epochs")
        n.add_argument("--batch-size", type=_positive_int, default=128,
                       help="rows per gradient step")
        n.add_argument("--validation-split", type=float, default=0.0,
                       help="share of the rows held out to report the validation loss")
        n.add_argument("--loss", choices=("binary_crossentropy", "mse"),
                       default="binary_crossentropy",
                       help="binary_crossentropy for data in [0, 1], else mse")
        n.add_argument("--output-activation", default="sigmoid",
                       help="decoder output activation (sigmoid, linear, ...)")
        n.add_argument("--seed", type=int, default=0,
                       help="seeds Keras's initialisation and shuffling")
    t.set_defaults(func=cmd_train)

    # generate
    g = sub.add_parser("generate", parents=[common, model_file],
                       help="sample from a VAE model file",
                       description="Draw N latent codes from the standard normal and "
                       "write their decodings to OUTPUT (.npy, .csv or .parquet).")
    g.add_argument("model", help="VAE model file")
    g.add_argument("-n", type=_positive_int, required=True, help="number of samples")
    g.add_argument("-o", "--output", required=True, help="output .npy, .csv or .parquet")
    g.add_argument("--seed", type=int, default=None, help="seed (same as VAE.generate)")
    g.add_argument("--batch-size", type=_positive_int,
                   help=f"samples per decoder call (default: {GENERATE_BATCH:,})")
    g.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where the decoder runs")
    g.add_argument("--progress", action="store_true", help="force the progress bar on")
    g.set_defaults(func=cmd_generate)

    # info
    i = sub.add_parser("info", parents=[common, model_file], help="describe a model file",
                       description="Check MODEL as loading it would, then print its kind "
                       "(the class fastgen.load returns), parameters and a summary.")
    i.add_argument("model", help="fastgen model file")
    i.add_argument("--json", action="store_true", help="print JSON")
    i.set_defaults(func=cmd_info)

    # bench
    b = sub.add_parser(
        "bench", parents=[common], help="run the benchmark suite (source checkout)",
        description="Run fastgen's pytest-benchmark suite (the benchmarks/ folder of a "
        "source checkout) and print its report: every benchmark times fastgen and the "
        "incumbent (scikit-learn, hmmlearn or Keras) in the same run and gives the "
        "speed-up.  Needs the dev extra.",
    )
    b.add_argument("--size", default="small", help="small, full or a number of documents")
    b.add_argument("-k", metavar="EXPR", help="pytest -k expression selecting benchmarks")
    b.add_argument("--json", metavar="FILE", help="also keep pytest-benchmark's JSON here")
    b.set_defaults(func=cmd_bench)

    # demo (arguments are forwarded to fastgen.demo.main)
    sub.add_parser("demo", help="run the demo (fastgen demo --help for its options)",
                   description="Run the demo on the data sets installed packages ship.",
                   add_help=False)
    return parser


def _split_demo(argv: list[str]) -> list[str] | None:
    """Arguments for the demo when the command is ``demo`` (after global flags)."""
    for i, arg in enumerate(argv):
        if arg in ("--debug", "-q", "--quiet"):
            continue
        return argv[i + 1 :] if arg == "demo" else None
    return None


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fastgen`` command line; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    demo_args = _split_demo(argv)
    args: argparse.Namespace | None = None
    try:
        with exit_signals():
            if demo_args is not None:
                return cmd_demo(demo_args)
            try:
                args = build_parser().parse_args(argv)
            except SystemExit as exc:  # --help/--version (0) or a usage error (2)
                return exc.code if isinstance(exc.code, int) else 2
            return int(args.func(args) or 0)
    except (KeyboardInterrupt, Terminated) as exc:
        return _stopped(exc)
    except BrokenPipeError:  # e.g. `fastgen info MODEL | head`: the reader left early
        _silence_stdout()
        return 0
    except Exception as exc:  # noqa: BLE001 - every error becomes one line
        stop = stop_in_chain(exc)
        if stop is not None:  # a library turned the signal's exception into its own
            return _stopped(stop)
        if debug:
            traceback.print_exc()
        _say(f"error: {_model_file_message(exc, args)}")
        return 1


def _stopped(exc: BaseException) -> int:
    """Report a command stopped by a signal; its exit status (128 + the signal number)."""
    with contextlib.suppress(Exception):  # best effort: the writers did it already
        from fastgen.batch import remove_pending_outputs

        remove_pending_outputs()  # a signal between a writer's creation and its `with`
    if isinstance(exc, Terminated):
        _say(f"terminated ({exc.name})")
        return 128 + exc.signum
    _say("interrupted")
    return 128 + signal.SIGINT


if __name__ == "__main__":
    raise SystemExit(main())
