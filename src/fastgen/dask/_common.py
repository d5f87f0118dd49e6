"""Shared plumbing: collection kinds, shipping a model once, partitions, tree reductions."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import uuid
from collections.abc import Callable
from typing import Any

import dask
import numpy as np

#: partial results combined per reduction task (the tree has log_8(n) levels)
FAN_IN = 8


# --------------------------------------------------------------------------- collections


def collection_kind(obj: Any, name: str = "data") -> str:
    """``"array"``, ``"bag"``, ``"dataframe"`` or ``"series"``; ``TypeError`` otherwise."""
    import dask.array as da
    import dask.bag as db

    if isinstance(obj, da.Array):
        return "array"
    if isinstance(obj, db.Bag):
        return "bag"
    if dask.is_dask_collection(obj) and type(obj).__module__.startswith("dask.dataframe"):
        import dask.dataframe as dd

        if isinstance(obj, dd.DataFrame):
            return "dataframe"
        if isinstance(obj, dd.Series):
            return "series"
    raise TypeError(
        f"{name} must be a dask.array.Array, dask.bag.Bag, dask.dataframe.DataFrame or "
        f"dask.dataframe.Series, got {type(obj).__module__}.{type(obj).__qualname__}"
    )


def row_blocks(X: Any, name: str = "X") -> Any:
    """A 2-D dask array with a single chunk along axis 1 (rows stay chunked)."""
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D dask array, got {X.ndim}-D with shape {X.shape}")
    if any(np.isnan(c) for c in X.chunks[0]):
        raise ValueError(
            f"{name} has unknown chunk sizes; call {name}.compute_chunk_sizes() first"
        )
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X


def partitions(obj: Any, name: str = "data") -> list:
    """The partitions (row blocks) of a dask collection as a list of ``Delayed``."""
    kind = collection_kind(obj, name)
    if kind == "array":
        if obj.ndim == 2:
            obj = row_blocks(obj, name)
        elif obj.ndim != 1:
            raise ValueError(f"{name} must be a 1-D or 2-D dask array, got {obj.ndim}-D")
        return list(obj.to_delayed().ravel())
    return list(obj.to_delayed())


def aligned_partitions(main: list, other: Any, name: str) -> list:
    """Partitions of ``other`` (None: a list of None) checked to pair up with ``main``."""
    if other is None:
        return [None] * len(main)
    parts = partitions(other, name)
    if len(parts) != len(main):
        raise ValueError(
            f"{name} has {len(parts)} partitions but the data has {len(main)}; "
            "they must be partitioned alike (same number of rows per partition)"
        )
    return parts


def check_same_length(n: int, values: Any, name: str, index: int) -> None:
    """Raise when a partition of ``values`` does not have ``n`` rows."""
    if values is not None and len(values) != n:
        raise ValueError(
            f"partition {index}: {name} has {len(values)} rows but the data has {n}; "
            "the collections must be partitioned alike"
        )


def tree_reduce(parts: list, combine: Callable[[Any, Any], Any]) -> Any:
    """One ``Delayed`` combining ``parts`` pairwise-in-order on the cluster.

    ``combine(a, b)`` must accept ``None`` (an empty partition) on either side.  The
    order of combination is fixed by the partition order, so results are reproducible.
    """
    if not parts:
        raise ValueError("the collection has no partitions")
    level = list(parts)
    while len(level) > 1:
        level = [
            dask.delayed(_combine_many, pure=True)(combine, *level[i : i + FAN_IN])
            for i in range(0, len(level), FAN_IN)
        ]
    return level[0]


def _combine_many(combine: Callable[[Any, Any], Any], *items: Any) -> Any:
    out = items[0]
    for item in items[1:]:
        out = combine(out, item)
    return out


# --------------------------------------------------------------------------- models


def model_node(model: Any) -> Any:
    """The model as one graph key (``Delayed``) that every chunk task depends on.

    A worker fetches a key once and keeps it while tasks need it, so the model is
    transferred and deserialised once per worker, not once per chunk.
    """
    return dask.delayed(model, name=f"fastgen-model-{uuid.uuid4().hex}", pure=False)


def resolve(model: Any) -> Any:
    """The usable model: an :class:`OnnxModelFile` is loaded (once per process)."""
    return model.load() if isinstance(model, OnnxModelFile) else model


def check_shippable(model: Any) -> None:
    """Refuse live onnxruntime models: their sessions cannot be sent to workers."""
    from fastgen._base import BaseEstimator

    if isinstance(model, BaseEstimator) or isinstance(model, OnnxModelFile):
        return
    if type(model).__module__.startswith("fastgen.nn"):
        raise TypeError(
            f"{type(model).__name__} holds onnxruntime sessions, which cannot be sent to "
            "Dask workers; pass fastgen.dask.OnnxModelFile(path, **load_kwargs) instead "
            "(the file is shipped and loaded once per worker process)"
        )


_ONNX_CACHE: dict[tuple, Any] = {}
_ONNX_LOCK = threading.Lock()


class OnnxModelFile:
    """A fastgen neural model file to serve on Dask workers.

    The file's bytes travel with the task graph (once per worker); each process loads
    them with :func:`fastgen.nn.load` on first use and caches the model, keyed by the
    file's SHA-256 and the load options.  The file is checked by loading it here.

    Parameters
    ----------
    path : str or path-like
        Model file written by ``Autoencoder.export``, ``VAE.export`` or ``export_keras``.
    **load_kwargs
        Options of :func:`fastgen.nn.load` (``device``, ``intra_op_num_threads``,
        ``batch_size``, ``kind``, ``allow_spinning``).

    Attributes
    ----------
    sha256 : str
        Hex digest of the file.
    """

    def __init__(self, path: str | os.PathLike, **load_kwargs: Any) -> None:
        with open(path, "rb") as f:
            self._data = f.read()
        self.sha256 = hashlib.sha256(self._data).hexdigest()
        self.load_kwargs = dict(load_kwargs)
        self.load()  # fail early, on the client, for a bad file or bad options

    def _key(self) -> tuple:
        return (self.sha256, tuple(sorted((k, repr(v)) for k, v in self.load_kwargs.items())))

    def load(self) -> Any:
        """The loaded inference model (cached per process)."""
        key = self._key()
        with _ONNX_LOCK:
            model = _ONNX_CACHE.get(key)
            if model is None:
                from fastgen.nn import load

                fd, tmp = tempfile.mkstemp(suffix=".fgm")
                try:
                    with os.fdopen(fd, "wb") as f:
                        f.write(self._data)
                    model = load(tmp, **self.load_kwargs)
                finally:
                    os.unlink(tmp)
                _ONNX_CACHE[key] = model
        return model

    def __repr__(self) -> str:
        return f"OnnxModelFile(sha256={self.sha256[:12]}..., {len(self._data)} bytes)"
