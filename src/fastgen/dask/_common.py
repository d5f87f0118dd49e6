"""Shared plumbing: collection kinds, shipping a model once per worker, partitions, reductions."""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
import threading
import uuid
from collections import OrderedDict
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


def tree_reduce(parts: list, combine: Callable[..., Any], *, many: bool = False) -> Any:
    """One ``Delayed`` combining ``parts`` in order on the cluster, :data:`FAN_IN` at a time.

    ``combine(a, b)`` must accept ``None`` (an empty partition) on either side; with
    ``many=True`` it is called once per group as ``combine(*items)`` (up to
    :data:`FAN_IN` items, Nones included), for reductions cheaper done k-way.  The
    order of combination is fixed by the partition order, so results are reproducible.
    """
    if not parts:
        raise ValueError("the collection has no partitions")
    level = list(parts)
    while len(level) > 1:
        level = [
            dask.delayed(combine, pure=True)(*level[i : i + FAN_IN])
            if many
            else dask.delayed(_combine_many, pure=True)(combine, *level[i : i + FAN_IN])
            for i in range(0, len(level), FAN_IN)
        ]
    return level[0]


def _combine_many(combine: Callable[[Any, Any], Any], *items: Any) -> Any:
    out = items[0]
    for item in items[1:]:
        out = combine(out, item)
    return out


# --------------------------------------------------------------------------- models


def active_client() -> Any:
    """The ``distributed.Client`` that computes dask collections now, or None.

    None under the synchronous or threaded scheduler (also when a client exists but
    ``dask.config.set(scheduler=...)`` picks another scheduler) and for asynchronous
    clients.  ``distributed`` is not imported here when nothing imported it.
    """
    if "distributed" not in sys.modules:
        return None
    from distributed import Client

    scheduler = dask.base.get_scheduler()
    client = getattr(scheduler, "__self__", None)
    if isinstance(client, Client) and not client.asynchronous and client.status == "running":
        return client
    return None


def fingerprint(obj: Any) -> str:
    """SHA-256 of ``obj``'s pickle, array buffers included: equal for equal content.

    The arrays are hashed in place (pickle protocol 5, out-of-band buffers), so the
    cost is one pass over the model's bytes.  Objects plain pickle refuses (classes
    defined in functions) are pickled with cloudpickle, as Dask would.
    """
    if isinstance(obj, OnnxModelFile):
        return hashlib.sha256(repr(obj._key()).encode()).hexdigest()
    buffers: list = []
    try:
        head = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    except Exception:  # noqa: BLE001 - any pickling failure: try cloudpickle
        import cloudpickle

        buffers = []
        head = cloudpickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    digest = hashlib.sha256(head)
    for buffer in buffers:
        try:
            view = buffer.raw()
        except BufferError:  # not contiguous
            view = memoryview(buffer).tobytes()
        digest.update(view.nbytes.to_bytes(8, "little"))
        digest.update(view)
    return digest.hexdigest()


#: models kept on the cluster per client for reuse by later jobs (least recently used out)
MAX_SHIPPED = 4
_SHIPPED: dict[str, OrderedDict] = {}
_SHIPPED_LOCK = threading.Lock()


def ship(model: Any, *, keep: bool = True) -> Any:
    """The model as a graph argument that each worker receives and deserialises once.

    With a distributed client active (see :func:`active_client`) the model is
    scattered to every worker (``broadcast=True``) under a key derived from its
    content, and the ``Future`` is returned: tasks take it as an argument, the graph
    stays small, and a later job with an unchanged model (``keep=True``) reuses the
    copies already on the workers, with their per-process caches (a vectorizer's
    compiled lookup table is built once per worker, not once per job).  The last
    :data:`MAX_SHIPPED` kept models stay on the cluster; :func:`release_models` frees
    them.  Without a client the model is one graph key (``Delayed``) every task
    depends on, and local schedulers share the object itself.
    """
    client = active_client()
    if client is None:
        return embed(model)
    if not keep:
        key = f"fastgen-model-{type(model).__name__}-{uuid.uuid4().hex}"
        return client.scatter({key: model}, broadcast=True)[key]
    key = f"fastgen-model-{type(model).__name__}-{fingerprint(model)}"
    with _SHIPPED_LOCK:
        for cid in [c for c, kept in _SHIPPED.items() if _closed(kept)]:
            del _SHIPPED[cid]
        kept = _SHIPPED.setdefault(client.id, OrderedDict())
        future = kept.get(key)
        if future is not None and future.status == "finished":
            kept.move_to_end(key)
    if future is not None and future.status == "finished":
        _replicate_to_all(client, future)
        return future
    # a kept copy that was lost or cancelled: ship under a fresh key, since the
    # scheduler may still be forgetting the old one (reusing it races the release)
    name = key if future is None else f"{key}-{uuid.uuid4().hex[:8]}"
    future = client.scatter({name: model}, broadcast=True)[name]
    with _SHIPPED_LOCK:
        kept[key] = future
        kept.move_to_end(key)
        while len(kept) > MAX_SHIPPED:
            kept.popitem(last=False)
    return future


def _replicate_to_all(client: Any, future: Any) -> None:
    """Copy a kept model to workers that joined since it was shipped (worker to worker).

    Scattered data cannot be recomputed: a job survives a worker's death only while
    another worker still holds the model, so every live worker keeps a copy.
    """
    holders = client.who_has([future]).get(future.key, ())
    if len(holders) < len(client.nthreads()):
        client.replicate([future])


def _closed(kept: OrderedDict) -> bool:
    return any(f.client.status in ("closing", "closed") for f in kept.values())


def release_models() -> int:
    """Forget the models :func:`predict` and the fits keep on the cluster.

    With a distributed client, :func:`predict` and :func:`fit_text_classifier`
    scatter the model to every worker and keep it there (the last four models), so
    a later job with the same model sends nothing.  This drops those references;
    the workers free a model once no pending computation needs it.  Under local
    schedulers nothing is kept.

    Returns
    -------
    int
        The number of models released.

    See Also
    --------
    predict : Keeps the models it ships.

    Examples
    --------
    >>> import fastgen.dask as fd
    >>> n_released = fd.release_models()  # none kept without a distributed client
    >>> fd.release_models()
    0
    """
    with _SHIPPED_LOCK:
        n = sum(len(kept) for kept in _SHIPPED.values())
        _SHIPPED.clear()
    return n


def embed(model: Any) -> Any:
    """The model as one graph key (``Delayed``) that every chunk task depends on.

    For small objects (per-iteration HMM parameters, an unfitted estimator) and local
    schedulers: the graph carries the model once, whatever the number of chunks.
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
        Options of :func:`fastgen.nn.load` (``device``, ``n_jobs``, ``intra_op_num_threads``,
        ``batch_size``, ``kind``, ``allow_spinning``).

    Attributes
    ----------
    sha256 : str
        Hex digest of the file.
    load_kwargs : dict
        The options given to :func:`fastgen.nn.load` on each worker.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    fastgen.ModelFileError
        The file is not a valid neural model file (checked here, on the client).

    See Also
    --------
    predict : Map the model over a Dask collection.
    fastgen.nn.load : What each worker process calls.

    Examples
    --------
    >>> import dask
    >>> import dask.array as da
    >>> import numpy as np
    >>> import fastgen.dask as fd
    >>> from fastgen.nn import Autoencoder
    >>> X = np.random.default_rng(0).random((64, 6), dtype=np.float32)
    >>> Autoencoder(input_dim=6, hidden=(8,), latent_dim=2).fit(X, epochs=1).save("ae.fgm")
    >>> model = fd.OnnxModelFile("ae.fgm", device="cpu", n_jobs=1)
    >>> rows = da.from_array(X, chunks=(16, 6))
    >>> with dask.config.set(scheduler="synchronous"):
    ...     codes = fd.predict(model, rows, "encode").compute()
    >>> codes.shape, bool(np.allclose(codes, model.load().encode(X)))
    ((64, 2), True)
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
        """The loaded inference model, cached per process.

        Returns
        -------
        OnnxAutoencoder, OnnxVAE or OnnxKerasModel
            The model loaded from the file's bytes with ``load_kwargs``; the same
            object for every call in a process.
        """
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
