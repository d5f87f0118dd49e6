"""Batch inference over Dask arrays, bags and dataframes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dask
import numpy as np

from fastgen.dask._common import (
    check_shippable,
    collection_kind,
    resolve,
    row_blocks,
    ship,
)

#: HMM methods that return one row per frame, computed in one call per partition
_HMM_ROW_METHODS = ("predict", "predict_proba", "filter")
#: methods whose columns are the model's classes
_CLASS_COLUMN_METHODS = ("predict_proba", "predict_log_proba", "predict_joint_log_proba")


@dataclass(frozen=True)
class _OutSpec:
    """dtype and per-row shape of a method's output, and its column names."""

    dtype: np.dtype
    row_shape: tuple
    columns: list | None


def predict(
    model: Any,
    data: Any,
    method: str = "predict",
    *,
    column: str | None = None,
    columns: list | None = None,
    sequence_column: str | None = None,
    output: str = "same",
    **kwargs: Any,
) -> Any:
    """Apply ``model.<method>`` to every chunk of a Dask collection, lazily.

    Each worker receives and deserialises the model once: with a distributed client it
    is scattered to the workers and kept there for later calls with the same model
    (see :func:`release_models`); under local schedulers it is one graph key all chunk
    tasks share.  The output's dtype and width come from the model's fitted attributes
    (classes, states) where fastgen knows them, otherwise from evaluating the method on
    one row of zeros here.  Results equal ``model.<method>`` on the whole data exactly
    (inference is row-wise, or sequence-wise for HMMs); a chunk whose output differs
    in dtype or width from the announced one raises ``TypeError`` (nothing is cast).

    Parameters
    ----------
    model : fitted fastgen estimator or :class:`OnnxModelFile`
        Naive Bayes, ``TextClassifier``, vectorizers (``method="transform"``), HMMs, or a
        neural model file.
    data : dask collection
        * ``dask.array.Array`` (n_samples, n_features): feature rows, chunked by rows.
        * ``dask.bag.Bag``: one document (text models), one feature row, or, for an
          HMM, one sequence (2-D array (n_frames, n_features)) per element.
        * ``dask.dataframe.DataFrame``: text in ``column``, or feature ``columns``
          (default: all), or for an HMM frames with a ``sequence_column`` of ids whose
          rows are contiguous and lie within one partition.
        * ``dask.dataframe.Series`` of documents.
    method : str
        Method to apply: ``predict``, ``predict_proba``, ``predict_log_proba``,
        ``transform``, ``encode``, ``reconstruct``, ``score_samples``, ``score``...
    column : str, optional
        DataFrame input of a text model: the column of documents.
    columns : list of str, optional
        DataFrame input of a numeric model or HMM: the feature columns (default:
        every column, but ``sequence_column`` for an HMM).
    sequence_column : str, optional
        DataFrame input of an HMM: the column of sequence ids; a sequence's rows
        must be contiguous and lie within one partition.
    output : {"same", "array"}, default="same"
        ``"same"``: a collection of the input's family (see Returns).  ``"array"``: a
        ``dask.array.Array`` with one block per input partition, each block computed
        by one call of the method on the whole partition (no per-element objects:
        for a bag this is much cheaper than the bag of rows, whose one small array
        per document must be moved and stacked).  Bag and DataFrame partitions have
        unknown lengths, so the blocks have unknown (NaN) row counts: call
        ``.compute_chunk_sizes()`` before slicing, or just ``.compute()``.  Only
        methods returning one row per element (one per frame for an HMM:
        ``predict``, ``predict_proba``) can be stacked.
    **kwargs
        Keyword arguments passed to the method on every chunk.

    Returns
    -------
    dask collection
        With ``output="same"``, the input's family.  Array: chunks aligned with the
        input rows, shape (n_samples,) or (n_samples, k).  Bag: one result per
        element.  DataFrame/Series: a Series (1-D results) or DataFrame (2-D, columns
        named by ``classes_`` for probabilities) with the input's index and
        partitions.  With ``output="array"``, a dask array of shape (n_rows,) or
        (n_rows, k) equal to ``model.<method>`` on all the rows in order.

    Raises
    ------
    ValueError
        Unknown method or ``output``, options that do not apply to the input, a
        feature count that differs from the model's, or (when computed) an HMM
        sequence spanning partitions.
    TypeError
        ``data`` is not a Dask collection, the model is a loaded neural model (wrap
        its file in :class:`OnnxModelFile`), the method returns a sparse matrix or a
        tuple, or (when computed) a chunk's output differs from the announced one.

    See Also
    --------
    OnnxModelFile : Serve a neural model file on the workers.
    release_models : Drop the models kept on a cluster.
    fastgen.batch.predict_file : File-to-file inference in one process.

    Examples
    --------
    >>> import dask
    >>> import dask.bag as db
    >>> import dask.dataframe as dd
    >>> import pandas as pd
    >>> import fastgen.dask as fd
    >>> from fastgen.pipeline import TextClassifier
    >>> docs = ["good fun film", "bad dull film", "great fun", "slow weak plot"]
    >>> clf = TextClassifier().fit(docs, ["pos", "neg", "pos", "neg"])
    >>> bag = db.from_sequence(["fun film", "weak plot", "great"], npartitions=2)
    >>> with dask.config.set(scheduler="synchronous"):
    ...     labels = fd.predict(clf, bag).compute()
    ...     proba = fd.predict(clf, bag, "predict_proba", output="array").compute()
    >>> [str(label) for label in labels], proba.shape
    (['pos', 'neg', 'pos'], (3, 2))
    >>> frame = dd.from_pandas(pd.DataFrame({"text": docs}), npartitions=2)
    >>> with dask.config.set(scheduler="synchronous"):
    ...     out = fd.predict(clf, frame, "predict_proba", column="text").compute()
    >>> list(out.columns), out.shape
    (['neg', 'pos'], (4, 2))
    """
    if not isinstance(method, str) or method.startswith("_"):
        raise ValueError(f"method must be the name of a public method, got {method!r}")
    if output not in ("same", "array"):
        raise ValueError(f"output must be 'same' or 'array', got {output!r}")
    check_shippable(model)
    kind = collection_kind(data)
    local = resolve(model)
    if not callable(getattr(local, method, None)):
        raise ValueError(f"{type(local).__name__} has no method {method!r}")
    hmm = _is_hmm(local)
    if kind != "dataframe" and (column is not None or columns is not None):
        raise ValueError("column= and columns= apply to dask DataFrames only")
    if sequence_column is not None and not (hmm and kind == "dataframe"):
        raise ValueError("sequence_column= applies to HMMs on dask DataFrames only")
    node = ship(model)
    if kind == "array":
        if hmm:
            raise TypeError(_HMM_INPUT)
        return _predict_array(local, node, data, method, kwargs)
    if kind == "bag":
        if output == "array":
            return _bag_array(local, node, data, method, kwargs, hmm)
        return data.map_partitions(_bag_partition, node, method, kwargs, hmm)
    if kind == "series":
        if hmm:
            raise TypeError(_HMM_INPUT)
        spec = _output_spec(local, method, kwargs, [""])
        meta = _meta(spec, method, data._meta.index)
        out = data.map_partitions(
            _series_partition, node, method, kwargs, spec, meta, meta=meta
        )
    else:
        spec, out = _predict_frame(
            local, node, data, method, kwargs, column, columns, sequence_column
        )
    if output == "array":
        blocks = [dask.delayed(_block_array, pure=True)(p, spec.dtype) for p in out.to_delayed()]
        return _stack(blocks, spec)
    return out


_HMM_INPUT = (
    "an HMM needs whole sequences: pass a dask bag of 2-D arrays (one per sequence) "
    "or a dask DataFrame with sequence_column="
)


def _is_hmm(model: Any) -> bool:
    from fastgen.hmm import BaseHMM

    return isinstance(model, BaseHMM)


# --------------------------------------------------------------------------- output spec


def _output_spec(model: Any, method: str, kwargs: dict, sample: Any, width: int | None = None):
    """dtype, row shape and column names of ``model.<method>`` per input row.

    Read from the fitted attributes for fastgen's Naive Bayes (but ``GaussianNB``,
    whose dtype follows the input's), ``TextClassifier`` and HMMs; otherwise found by
    evaluating the method here on ``sample`` (one row).  ``width`` is the number of
    feature columns of array/DataFrame inputs, checked against ``n_features_in_``.
    """
    _check_width(model, width)
    spec = _attribute_spec(model, method)
    return spec if spec is not None else _probe(model, method, sample, kwargs)


def _attribute_spec(model: Any, method: str) -> _OutSpec | None:
    from fastgen._base import check_is_fitted
    from fastgen.naive_bayes import _BaseDiscreteNB
    from fastgen.pipeline import TextClassifier
    from fastgen.text import CountVectorizer, HashingVectorizer

    if isinstance(model, (CountVectorizer, HashingVectorizer)) and method == "transform":
        raise TypeError(_sparse_message(model, method))
    if _is_hmm(model):
        check_is_fitted(model, "startprob_")
        if method == "predict":
            return _OutSpec(np.dtype(np.int64), (), None)
        if method in ("predict_proba", "filter"):
            n = model.n_components
            return _OutSpec(np.dtype(np.float64), (n,), list(range(n)))
        return None
    classifier = model
    if isinstance(model, TextClassifier):
        check_is_fitted(model, "classifier_")
        classifier = model.classifier_
    if not isinstance(classifier, _BaseDiscreteNB):
        return None
    check_is_fitted(classifier, "classes_")
    classes = classifier.classes_
    if method == "predict":
        return _OutSpec(classes.dtype, (), None)
    if method in _CLASS_COLUMN_METHODS:
        return _OutSpec(np.dtype(np.float64), (len(classes),), list(classes))
    return None


def _check_width(model: Any, width: int | None) -> None:
    expected = getattr(model, "n_features_in_", None)
    if width is not None and expected is not None and width != expected:
        raise ValueError(
            f"X has {width} features, but {type(model).__name__} is expecting {expected} "
            "features as input."
        )


def _sparse_message(model: Any, method: str) -> str:
    return (
        f"{type(model).__name__}.{method} returns a sparse matrix; map it over a dask "
        "bag (one sparse row per element) instead"
    )


def _probe(model: Any, method: str, sample: Any, kwargs: dict) -> _OutSpec:
    """Output dtype/shape of ``method`` from a one-row sample evaluated here."""
    try:
        out = getattr(model, method)(sample, **kwargs)
    except Exception as exc:
        raise ValueError(
            f"could not work out the output of {type(model).__name__}.{method} (dtype, "
            f"columns) by evaluating it on one row of zeros (or an empty document): {exc}"
        ) from exc
    if isinstance(out, tuple):
        raise TypeError(
            f"{type(model).__name__}.{method} returns a tuple; fastgen.dask.predict maps "
            "methods returning one array (use a dask bag for per-element results)"
        )
    if hasattr(out, "tocsr"):
        raise TypeError(_sparse_message(model, method))
    out = np.asarray(out)
    if out.ndim not in (1, 2) or out.shape[0] != 1:
        raise TypeError(
            f"{type(model).__name__}.{method} returned shape {out.shape} for one row; "
            "expected one output row per input row"
        )
    columns = None
    if out.ndim == 2:
        classes = getattr(model, "classes_", None)
        if method in _CLASS_COLUMN_METHODS and classes is not None and len(classes) == out.shape[1]:
            columns = list(classes)
        else:
            columns = list(range(out.shape[1]))
    return _OutSpec(np.dtype(out.dtype), tuple(out.shape[1:]), columns)


def _checked(out: Any, n_rows: int, spec: _OutSpec, model: Any, method: str) -> np.ndarray:
    """``out`` as an array after checking it matches ``spec`` (never cast)."""
    if isinstance(out, tuple) or hasattr(out, "tocsr"):
        raise TypeError(f"{type(model).__name__}.{method} did not return one dense array")
    out = np.asarray(out)
    if out.dtype != spec.dtype or out.shape != (n_rows, *spec.row_shape):
        raise TypeError(
            f"{type(model).__name__}.{method} returned {out.dtype} of shape {out.shape} for "
            f"{n_rows} rows, but {spec.dtype} rows of shape {spec.row_shape} were announced"
        )
    return out


def _meta(spec: _OutSpec, method: str, index: Any) -> Any:
    import pandas as pd

    if not spec.row_shape:
        return pd.Series(np.empty(0, dtype=spec.dtype), index=index[:0], name=method)
    return pd.DataFrame(
        np.empty((0, *spec.row_shape), dtype=spec.dtype), index=index[:0], columns=spec.columns
    )


def _wrap(out: np.ndarray, index: Any, meta: Any) -> Any:
    """The (checked) output as a pandas object like ``meta`` with ``index``."""
    import pandas as pd

    if isinstance(meta, pd.Series):
        return pd.Series(out, index=index, name=meta.name).astype(meta.dtype)
    return pd.DataFrame(out, index=index, columns=meta.columns).astype(meta.dtypes)


# --------------------------------------------------------------------------- arrays


def _predict_array(local: Any, node: Any, X: Any, method: str, kwargs: dict) -> Any:
    X = row_blocks(X)
    sample = np.zeros((1, X.shape[1]), dtype=X.dtype)
    spec = _output_spec(local, method, kwargs, sample, X.shape[1])
    if spec.row_shape:
        return X.map_blocks(
            _array_block, node, method, kwargs, spec,
            dtype=spec.dtype, chunks=(X.chunks[0], spec.row_shape),
            meta=np.empty((0, *spec.row_shape), dtype=spec.dtype),
        )  # fmt: skip
    return X.map_blocks(
        _array_block, node, method, kwargs, spec,
        dtype=spec.dtype, chunks=(X.chunks[0],), drop_axis=1,
        meta=np.empty((0,), dtype=spec.dtype),
    )  # fmt: skip


def _array_block(block: np.ndarray, model: Any, method: str, kwargs: dict, spec: _OutSpec):
    if block.shape[0] == 0:
        return np.empty((0, *spec.row_shape), dtype=spec.dtype)
    model = resolve(model)
    return _checked(getattr(model, method)(block, **kwargs), block.shape[0], spec, model, method)


# --------------------------------------------------------------------------- bags


def _bag_array(local: Any, node: Any, bag: Any, method: str, kwargs: dict, hmm: bool) -> Any:
    """One dask-array block per bag partition: the method on the whole partition."""
    if hmm and method not in _HMM_ROW_METHODS:
        raise ValueError(
            f"output='array' stacks one row per frame: for an HMM it maps {_HMM_ROW_METHODS}; "
            f"use output='same' for {method!r} (one result per sequence)"
        )
    spec = _attribute_spec(local, method)
    if spec is None:  # learn dtype and width from the first element, computed here
        first = bag.take(1, npartitions=-1, warn=False)
        if not first:
            raise ValueError("the bag is empty: nothing to infer the output from")
        spec = _output_spec(local, method, kwargs, [first[0]])
    blocks = bag.map_partitions(_bag_block, node, method, kwargs, hmm, spec)
    return _stack(blocks.to_delayed(optimize_graph=False), spec)


def _stack(blocks: list, spec: _OutSpec) -> Any:
    """A dask array of one block per ``Delayed`` ndarray, rows of unknown count."""
    import dask.array as da

    empty = np.empty((0, *spec.row_shape), dtype=spec.dtype)
    shape = (np.nan, *spec.row_shape)
    return da.concatenate(
        [da.from_delayed(b, shape, dtype=spec.dtype, meta=empty) for b in blocks]
    )


def _block_array(block: Any, dtype: np.dtype) -> np.ndarray:
    """A pandas partition's (already checked) values as an ndarray of the announced dtype."""
    return block.to_numpy(dtype=dtype)  # pandas may hold str labels as objects


def _bag_block(
    part: Any, model: Any, method: str, kwargs: dict, hmm: bool, spec: _OutSpec
) -> np.ndarray:
    items = list(part)
    n_rows = sum(len(s) for s in items) if hmm else len(items)
    if n_rows == 0:
        return np.empty((0, *spec.row_shape), dtype=spec.dtype)
    model = resolve(model)
    out = getattr(model, method)(items, **kwargs)
    return _checked(out, n_rows, spec, model, method)


def _bag_partition(part: Any, model: Any, method: str, kwargs: dict, hmm: bool) -> list:
    items = list(part)
    if not items:
        return []
    model = resolve(model)
    fn = getattr(model, method)
    if not hmm:
        out = fn(items, **kwargs)
        return list(out) if not hasattr(out, "tocsr") else [out[i] for i in range(out.shape[0])]
    if method in _HMM_ROW_METHODS and not kwargs:
        # one call over the partition's sequences; rows split back per sequence
        out = fn(items)
        bounds = np.cumsum([len(s) for s in items])[:-1]
        return np.split(out, bounds)
    return [fn(seq, **kwargs) for seq in items]


# --------------------------------------------------------------------------- dataframes


def _series_partition(
    part: Any, model: Any, method: str, kwargs: dict, spec: _OutSpec, meta: Any
) -> Any:
    if len(part) == 0:
        return meta
    model = resolve(model)
    out = getattr(model, method)(part.tolist(), **kwargs)
    return _wrap(_checked(out, len(part), spec, model, method), part.index, meta)


def _predict_frame(
    local: Any,
    node: Any,
    df: Any,
    method: str,
    kwargs: dict,
    column: str | None,
    columns: list | None,
    sequence_column: str | None,
) -> tuple[_OutSpec, Any]:
    """The output spec and the lazy per-partition results (a dask Series or DataFrame)."""
    names = list(df.columns)
    if _is_hmm(local):
        if sequence_column is None:
            raise ValueError("an HMM on a DataFrame needs sequence_column= (the sequence ids)")
        if method not in _HMM_ROW_METHODS:
            raise ValueError(
                f"on a DataFrame an HMM maps {_HMM_ROW_METHODS} (one result per frame); "
                f"for {method!r} pass a dask bag of sequences"
            )
        _check_columns(names, [sequence_column])
        cols = columns if columns is not None else [c for c in names if c != sequence_column]
        _check_columns(names, cols)
        spec = _attribute_spec(local, method)
        meta = _meta(spec, method, df._meta.index)
        check = sequence_check(df, sequence_column)
        return spec, df.map_partitions(
            _hmm_frame_partition, node, check, method, kwargs, sequence_column, cols, spec,
            meta, meta=meta,
        )  # fmt: skip
    if column is not None:
        if columns is not None:
            raise ValueError("pass column= (text) or columns= (features), not both")
        _check_columns(names, [column])
        spec = _output_spec(local, method, kwargs, [""])
        meta = _meta(spec, method, df._meta.index)
        return spec, df[column].map_partitions(
            _series_partition, node, method, kwargs, spec, meta, meta=meta
        )
    cols = names if columns is None else list(columns)
    _check_columns(names, cols)
    sample = np.zeros((1, len(cols)), dtype=np.result_type(*df[cols].dtypes))
    spec = _output_spec(local, method, kwargs, sample, len(cols))
    meta = _meta(spec, method, df._meta.index)
    return spec, df.map_partitions(
        _feature_frame_partition, node, method, kwargs, cols, spec, meta, meta=meta
    )


def _check_columns(names: list, wanted: list) -> None:
    missing = [c for c in wanted if c not in names]
    if missing:
        raise ValueError(f"columns {missing} are not in the DataFrame (columns: {names})")
    if not wanted:
        raise ValueError("no feature columns selected")


def _feature_frame_partition(
    part: Any, model: Any, method: str, kwargs: dict, cols: list, spec: _OutSpec, meta: Any
) -> Any:
    if len(part) == 0:
        return meta
    model = resolve(model)
    out = getattr(model, method)(part[cols].to_numpy(), **kwargs)
    return _wrap(_checked(out, len(part), spec, model, method), part.index, meta)


def _hmm_frame_partition(
    part: Any,
    model: Any,
    check: bool,
    method: str,
    kwargs: dict,
    sequence_column: str,
    cols: list,
    spec: _OutSpec,
    meta: Any,
) -> Any:
    if len(part) == 0:
        return meta
    lengths = sequence_lengths(part[sequence_column].to_numpy())
    out = getattr(model, method)(part[cols].to_numpy(), lengths, **kwargs)
    return _wrap(_checked(out, len(part), spec, model, method), part.index, meta)


# --------------------------------------------------------------------------- sequences


def sequence_lengths(ids: np.ndarray) -> np.ndarray:
    """Lengths of the runs of equal ids; ``ValueError`` if an id has two runs."""
    if len(ids) == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate([[True], ids[1:] != ids[:-1]]))
    run_ids = ids[starts]
    if len(set(run_ids.tolist())) != len(run_ids):
        seen: set = set()
        dup = next(i for i in run_ids.tolist() if i in seen or seen.add(i))
        raise ValueError(
            f"the rows of sequence {dup!r} are not contiguous within their partition; "
            "sort the frames of each sequence together"
        )
    return np.diff(np.append(starts, len(ids))).astype(np.int64)


def _partition_ids(part: Any, sequence_column: str) -> list:
    return list(dict.fromkeys(part[sequence_column].tolist()))


def _check_disjoint(*ids_per_partition: list) -> bool:
    owner: dict = {}
    for p, ids in enumerate(ids_per_partition):
        for i in ids:
            q = owner.setdefault(i, p)
            if q != p:
                raise ValueError(
                    f"sequence {i!r} spans partitions {q} and {p}; every sequence must lie "
                    "within one partition (e.g. df.set_index(sequence_column) or "
                    "repartition on sequence boundaries)"
                )
    return True


def sequence_check(df: Any, sequence_column: str) -> Any:
    """A ``Delayed`` that is True, or raises if a sequence spans partitions."""
    ids = [dask.delayed(_partition_ids)(p, sequence_column) for p in df.to_delayed()]
    return dask.delayed(_check_disjoint)(*ids)
