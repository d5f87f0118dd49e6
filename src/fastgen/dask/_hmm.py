"""Distributed Baum-Welch: E-step per partition of whole sequences, M-step on the client."""

from __future__ import annotations

from typing import Any

import dask
import numpy as np

from fastgen._kernels import hmm as _k
from fastgen.dask._common import collection_kind, embed, tree_reduce
from fastgen.dask._predict import sequence_check, sequence_lengths


def fit_hmm(
    model: Any,
    sequences: Any,
    *,
    sequence_column: str | None = None,
    columns: list | None = None,
    weight_column: str | None = None,
    init_sequences: int | None = None,
    persist: bool = True,
) -> Any:
    """Fit an HMM by EM over a Dask collection of sequences, as ``model.fit`` would.

    Drives the same engine as ``model.fit`` (``fastgen.hmm._engine.BaumWelch``): each
    iteration ships the current parameters once (one graph key), runs the E-step
    (``BaumWelch.estep``: forward-backward and sufficient statistics) on every
    partition, sums the statistics on the cluster (``SufficientStats`` add up) and runs
    the M-step and the convergence monitor on the client.  The fit equals
    ``model.fit`` on the concatenated sequences (same starting point, same number of
    iterations) to ~1e-10 relative: only the order in which per-partition sums are
    added differs.

    Parameters
    ----------
    model : fastgen HMM
        Any model of :mod:`fastgen.hmm` (``GaussianHMM``, ``GMMHMM``,
        ``CategoricalHMM``, ``PoissonHMM``, ``MultinomialHMM``,
        ``VariationalGaussianHMM``, ``VariationalCategoricalHMM``), with its
        parameters set as for ``fit``.  Fitted in place and returned; its ``n_init``
        must be 1 (one EM fit runs).
    sequences : dask Bag or dask DataFrame
        A Bag holds one 2-D array (n_frames, n_features) per sequence.  A DataFrame
        holds one frame per row and the ids in ``sequence_column``; the rows of a
        sequence must be contiguous and lie within one partition.
    sequence_column : str, optional
        DataFrame input (required there): the column of sequence ids.
    columns : list of str, optional
        DataFrame input: feature columns (default: every other column but
        ``weight_column``).
    weight_column : str, optional
        DataFrame input: column of frame weights, as ``model.fit``'s per-frame
        ``sample_weight`` (finite, non-negative; a sequence's weight on each of its
        rows for per-sequence weights).  Bags of sequences take no weights.
    init_sequences : int, optional
        The data-dependent initialisation (k-means means and covariances of a
        ``GaussianHMM`` or ``GMMHMM``, the moment-matched rates of a ``PoissonHMM``, in
        ``init_params``) runs on the client, like ``fit``, over all
        sequences by default (exact); an int uses only the first ``init_sequences``.
        With ``init_params=""`` and explicit parameters no data is gathered.
    persist : bool, default=True
        Keep the validated partitions in (cluster) memory between iterations;
        otherwise every iteration recomputes them from the source.

    Returns
    -------
    model : object
        The fitted HMM (the ``model`` given), with its fitted attributes and
        ``monitor_`` as after ``model.fit``.

    Raises
    ------
    TypeError
        ``model`` is not a fastgen HMM.
    ValueError
        ``n_init`` other than 1, a bad ``init_sequences``, a sequence spanning
        partitions, sequences of different widths, no frames, or weights without a
        positive entry.

    See Also
    --------
    predict : Decode the sequences with the fitted model.
    fastgen.hmm.GaussianHMM : An HMM this fits.

    Examples
    --------
    >>> import dask
    >>> import dask.bag as db
    >>> import numpy as np
    >>> import fastgen.dask as fd
    >>> from fastgen.hmm import GaussianHMM
    >>> rng = np.random.default_rng(0)
    >>> sequences = [rng.normal(m, 1.0, size=(30, 2)) for m in (-3, 0, 3, 0)]
    >>> bag = db.from_sequence(sequences, npartitions=2)
    >>> with dask.config.set(scheduler="synchronous"):
    ...     hmm = fd.fit_hmm(GaussianHMM(2, n_iter=5, random_state=0), bag)
    >>> local = GaussianHMM(2, n_iter=5, random_state=0)
    >>> local = local.fit(np.concatenate(sequences), [30, 30, 30, 30])
    >>> bool(np.allclose(hmm.means_, local.means_))
    True
    >>> with dask.config.set(scheduler="synchronous"):
    ...     states = fd.predict(hmm, bag).compute()
    >>> [s.shape for s in states]
    [(30,), (30,), (30,), (30,)]
    """
    from fastgen.hmm import BaseHMM

    if not isinstance(model, BaseHMM):
        raise TypeError(
            "model must be a fastgen HMM (GaussianHMM, GMMHMM, CategoricalHMM, PoissonHMM, "
            f"MultinomialHMM or a variational one), got {model!r}"
        )
    if getattr(model, "n_init", 1) != 1:
        raise ValueError(
            f"fit_hmm runs one EM fit: n_init={model.n_init!r} random restarts are not "
            "supported here (set n_init=1, or fit several random_state values)"
        )
    if init_sequences is not None and (
        isinstance(init_sequences, bool)
        or not isinstance(init_sequences, (int, np.integer))
        or init_sequences < 1
    ):
        raise ValueError(f"init_sequences must be a positive integer, got {init_sequences!r}")
    em = type(model).engine(model)  # BaumWelch, or a variant (the variational one)
    parts = _sequence_partitions(em, sequences, sequence_column, columns, weight_column)
    if persist:
        parts = list(dask.persist(*parts))
    summaries = dask.compute(*[dask.delayed(_summary)(p) for p in parts])
    n_frames = sum(s[0] for s in summaries)
    if n_frames == 0:
        raise ValueError("no sequences to fit")
    if weight_column is not None and not any(s[3] for s in summaries):
        raise ValueError("sample weights must have a positive entry")
    n_features = {s[1] for s in summaries if s[0]}
    if len(n_features) != 1:
        raise ValueError(f"the sequences have different numbers of features: {n_features}")

    if em.needs_data():
        em.initialize(*_gather(parts, summaries, init_sequences))
    else:  # the initialisation only reads the shape
        em.initialize_from_shape(n_frames, n_features.pop())
    for _ in range(model.n_iter):
        node = embed(em)
        stats = [dask.delayed(_estep, pure=True)(node, p) for p in parts]
        total = tree_reduce(stats, _add_stats).compute()
        value = em.objective(total)  # log-likelihood (variational: lower bound)
        em.mstep(total)
        if em.report(value):
            break
    return model


# --------------------------------------------------------------------------- partitions


def _sequence_partitions(
    em: Any, data: Any, sequence_column: Any, columns: Any, weight_column: Any = None
) -> list:
    """Delayed ``(X, lengths, frame weights or None)`` per partition, validated by the
    engine's ``input``."""
    kind = collection_kind(data, "sequences")
    node = embed(em)
    if kind == "bag":
        if sequence_column is not None or columns is not None or weight_column is not None:
            raise ValueError(
                "sequence_column=, columns= and weight_column= apply to dask DataFrames only"
            )
        return [dask.delayed(_bag_input)(node, p, i) for i, p in enumerate(data.to_delayed())]
    if kind != "dataframe":
        raise TypeError(
            "sequences must be a dask Bag of 2-D arrays (one per sequence) or a dask "
            "DataFrame with sequence_column="
        )
    if sequence_column is None:
        raise ValueError("a DataFrame of frames needs sequence_column= (the sequence ids)")
    names = list(data.columns)
    special = (sequence_column, weight_column)
    cols = columns if columns is not None else [c for c in names if c not in special]
    used = [sequence_column, *cols] + ([] if weight_column is None else [weight_column])
    missing = [c for c in used if c not in names]
    if missing or not cols or (weight_column is not None and weight_column in cols):
        raise ValueError(f"columns {missing or cols} are not usable (DataFrame columns: {names})")
    check = sequence_check(data, sequence_column)
    return [
        dask.delayed(_frame_input)(node, check, p, sequence_column, list(cols), weight_column)
        for p in data.to_delayed()
    ]


def _bag_input(em: Any, part: Any, index: int) -> tuple | None:
    seqs = list(part)
    if not seqs:
        return None
    for k, s in enumerate(seqs):
        if np.ndim(s) != 2:
            raise ValueError(
                f"partition {index}, element {k}: a sequence must be a 2-D array "
                f"(n_frames, n_features), got shape {np.shape(s)}"
            )
    return (*em.input(seqs, None), None)


def _frame_input(
    em: Any, check: bool, part: Any, sequence_column: str, cols: list, weight_column: Any
):
    if len(part) == 0:
        return None
    lengths = sequence_lengths(part[sequence_column].to_numpy())
    X, lengths = em.input(part[cols].to_numpy(), lengths)
    if weight_column is None:
        return X, lengths, None
    try:
        weight = _k.frame_weights(part[weight_column].to_numpy(), X.shape[0])
    except ValueError as exc:
        raise ValueError(f"sample weights ({weight_column!r}): {exc}") from None
    return X, lengths, weight


def _summary(part: tuple | None) -> tuple:
    if part is None:
        return 0, None, 0, False
    X, lengths, weight = part
    return X.shape[0], X.shape[1], len(lengths), weight is None or bool((weight > 0).any())


def _gather(parts: list, summaries: tuple, limit: int | None) -> tuple:
    """Concatenated sequences (all, or the first ``limit``) for the initialisation."""
    chosen, count = [], 0
    for p, s in zip(parts, summaries, strict=True):
        if s[0] == 0:
            continue
        chosen.append(p)
        count += s[2]
        if limit is not None and count >= limit:
            break
    got = dask.compute(*chosen)
    X = np.concatenate([g[0] for g in got])
    lengths = np.concatenate([g[1] for g in got])
    weight = None if got[0][2] is None else np.concatenate([g[2] for g in got])
    if limit is not None and len(lengths) > limit:
        n = lengths[:limit].sum()
        X, lengths = X[:n], lengths[:limit]
        weight = None if weight is None else weight[:n]
    return X, lengths, weight


# --------------------------------------------------------------------------- E-step


def _estep(em: Any, part: tuple | None) -> Any:
    """The E-step of one partition (``SufficientStats``), None for an empty one."""
    if part is None:
        return None
    X, lengths, weight = part
    return em.estep(X, lengths, weight=weight)


def _add_stats(a: Any, b: Any) -> Any:
    """Sum two partitions' ``SufficientStats`` (None: an empty partition)."""
    if a is None or b is None:
        return a if b is None else b
    return a + b
