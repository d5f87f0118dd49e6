"""What a vectorizer computes, as data: the description the fused text kernels run on.

:func:`fused_front` turns a fitted vectorizer into a :class:`FusedFront` -- the
compiled analysis plan, how terms become columns (a term table and column map, or
feature hashing), how rows are weighed (the ``RowWeighting`` of
``fastgen._kernels._weighting``: binary, sublinear tf, idf, norm), the output
dtype and ``n_jobs`` -- or ``None`` when only the vectorizer's own ``transform``
can reproduce its output. :meth:`FusedFront.scores` then computes
``transform(docs) @ weights`` in one compiled pass per chunk of documents
(``fastgen._kernels._text.linear_scores``), without building the sparse matrix,
with the same floating-point operations as the two-step route.

A new vectorizer joins by describing itself here: the TF-IDF front is the count
front of its vocabulary with ``sublinear``, ``idf`` and ``norm`` filled in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .._kernels import _text, _weighting
from ._analysis import KernelPlan, map_chunks

__all__ = ["FusedFront", "fused_front", "streaming_refusal"]

#: output dtypes whose values the kernel reproduces exactly (float32: rounded)
_EXACT_DTYPES = (np.float64, np.float32, np.int64, np.int32)


@dataclass(frozen=True)
class FusedFront:
    """A vectorizer's ``transform`` described for the fused kernels.

    Attributes
    ----------
    plan : KernelPlan
        Arguments of the compiled analyzer.
    prepare : callable
        ``prepare(docs, plan) -> list[str]``: decoding and preprocessing done in
        Python before the kernel (the vectorizer's own).
    n_features : int
        Output columns.
    table : TermTable or None
        Term lookup table (None: feature hashing).
    column : int32 ndarray or None
        Table id -> output column (negative: dropped); None when hashing.
    alternate_sign : bool
        Hashing: a negative hash counts -1.
    binary, sublinear : bool
        Row weighting: values set to 1; ``log(v) + 1`` (applied in that order).
    idf : float64 ndarray of shape (n_features,) or None
        Row weighting: per-column factors.
    norm : {None, "l1", "l2", "max"}
        Row weighting: row normalisation.
    dtype : numpy dtype
        The vectorizer's output dtype (float32 values are rounded to it).
    n_jobs : int or None
        Threads (chunks of documents).
    empty_error : str or None
        Message of the ``ValueError`` its ``transform`` raises on no documents.
    """

    plan: KernelPlan
    prepare: Callable[[list, KernelPlan], list]
    n_features: int
    table: Any = None
    column: np.ndarray | None = None
    alternate_sign: bool = False
    binary: bool = False
    sublinear: bool = False
    idf: np.ndarray | None = None
    norm: str | None = None
    dtype: np.dtype = np.dtype(np.float64)
    n_jobs: int | None = 1
    empty_error: str | None = None

    def scores(
        self, docs: list, weights: np.ndarray, binarize: float | None = None
    ) -> np.ndarray:
        """``transform(docs) @ weights``, float64 (n_docs, n_classes), in one pass per chunk.

        ``binarize`` (not None): each stored value is first mapped to 1 if greater
        than ``binarize`` (compared as NumPy compares the output dtype with it),
        else dropped -- what BernoulliNB does to its input.
        """
        if not docs and self.empty_error is not None:
            raise ValueError(self.empty_error)
        weights = np.ascontiguousarray(weights, dtype=np.float64)
        if weights.ndim != 2 or weights.shape[0] != self.n_features:
            raise ValueError(
                f"weights of shape {weights.shape} do not match {self.n_features} features"
            )
        threshold = None
        if binarize is not None:
            # NumPy compares float32 values with a Python float in float32 (NEP 50)
            kind = np.result_type(self.dtype, binarize)
            threshold = float(kind.type(binarize))
        table = self.table
        kwargs = dict(
            self.plan.kwargs(),
            n_features=0 if table is not None else self.n_features,
            alternate_sign=self.alternate_sign,
            sublinear=self.sublinear,
            idf=self.idf,
            norm=_weighting.NORMS[self.norm],
            float32=self.dtype == np.float32,
            threshold=threshold,
        )

        def score_chunk(chunk: list) -> np.ndarray:
            texts = self.prepare(chunk, self.plan)
            return _text.linear_scores(
                texts, table, weights, self.column, self.binary, **kwargs
            )

        parts = map_chunks(score_chunk, docs, self.n_jobs)
        return parts[0] if len(parts) == 1 else np.vstack(parts)


def fused_front(vectorizer: Any) -> FusedFront | None:
    """The :class:`FusedFront` of a fitted fastgen vectorizer, or None.

    Described: ``CountVectorizer`` (fitted or with a ``vocabulary``),
    ``HashingVectorizer`` and ``TfidfVectorizer`` (fitted) whose analyzer is
    compiled (not a callable analyzer, custom tokenizer or uncommon token
    pattern) and whose output dtype is float64, float32, int64 or int32.
    Subclasses and other vectorizers give None (they may change ``transform``).
    The vectorizer's parameters are validated as its ``transform`` does.

    Parameters
    ----------
    vectorizer : estimator

    Returns
    -------
    FusedFront or None

    Examples
    --------
    >>> import numpy as np
    >>> from fastgen.text import HashingVectorizer
    >>> from fastgen.text._fused import fused_front
    >>> vec = HashingVectorizer(n_features=8, norm=None, alternate_sign=False)
    >>> W = np.arange(16.0).reshape(8, 2)
    >>> front = fused_front(vec)
    >>> bool(np.array_equal(front.scores(["a bb bb"], W), vec.transform(["a bb bb"]) @ W))
    True
    """
    from ._count import CountVectorizer
    from ._hashing import HashingVectorizer
    from ._tfidf import TfidfVectorizer

    cls = type(vectorizer)
    if cls is HashingVectorizer:
        return _hashing_front(vectorizer)
    if cls is CountVectorizer:
        return _count_front(vectorizer)
    if cls is TfidfVectorizer:
        return _tfidf_front(vectorizer)
    return None


def _exact_dtype(dtype: Any) -> np.dtype | None:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        return None
    return dt if dt.type in _EXACT_DTYPES else None


def _hashing_front(vec: Any) -> FusedFront | None:
    vec._validate_params()
    plan = vec._kernel_plan()
    dtype = _exact_dtype(vec.dtype)
    if plan is None or dtype is None:
        return None
    if vec.norm is not None and dtype.kind != "f":
        dtype = np.dtype(np.float64)  # as transform does
    return FusedFront(
        plan=plan,
        prepare=vec._kernel_texts,
        n_features=int(vec.n_features),
        alternate_sign=bool(vec.alternate_sign),
        binary=bool(vec.binary),
        norm=vec.norm,
        dtype=dtype,
        n_jobs=vec.n_jobs,
        empty_error="Cannot vectorize empty sequence.",
    )


def _count_front(vec: Any) -> FusedFront | None:
    vec._check_vocabulary()
    vec._validate_params()
    plan = vec._kernel_plan()
    dtype = _exact_dtype(vec.dtype)
    if plan is None or dtype is None:
        return None
    table = vec._lookup_table()
    if table is None:
        return None
    return FusedFront(
        plan=plan,
        prepare=vec._kernel_texts,
        n_features=len(vec.vocabulary_),
        table=table,
        column=np.arange(len(table), dtype=np.int32),
        binary=bool(vec.binary),
        dtype=dtype,
        n_jobs=vec.n_jobs,
    )


def _tfidf_front(vec: Any) -> FusedFront | None:
    """A TfidfVectorizer: its count front, weighed as its ``transform`` weighs.

    ``vec._weighting()`` gives ``binary``, ``sublinear``, ``idf`` and ``norm``;
    the output dtype is float32 or float64 (``output_dtype``).
    """
    from ._weigh import output_dtype

    if "_tfidf" not in vec.__dict__:
        return None  # not fitted: transform raises its own error
    count = _count_front(vec)
    if count is None:
        return None
    weighting = vec._weighting()
    idf = weighting["idf"]
    if idf is not None:
        idf = np.ascontiguousarray(idf, dtype=np.float64)
    return replace(
        count,
        binary=bool(weighting["binary"]),
        sublinear=bool(weighting["sublinear"]),
        idf=idf,
        norm=weighting["norm"],
        dtype=output_dtype(vec.dtype),
    )


def streaming_refusal(vectorizer: Any) -> str | None:
    """Why ``vectorizer`` cannot be trained in batches (``partial_fit``), or None if it can.

    A vectorizer can when its output for a document does not depend on the other
    documents: hashing, or a fixed ``vocabulary`` without idf weights.
    """
    name = type(vectorizer).__name__
    if name == "HashingVectorizer":
        return None
    if name in ("CountVectorizer", "TfidfVectorizer"):
        if getattr(vectorizer, "vocabulary", None) is None:
            return (
                f"a {name} without a fixed vocabulary learns it from all the documents; "
                "give it vocabulary=... or use a HashingVectorizer"
            )
        if name == "TfidfVectorizer" and getattr(vectorizer, "use_idf", True):
            return (
                "a TfidfVectorizer with use_idf=True weighs terms by their frequency in all "
                "the documents; use use_idf=False or a HashingVectorizer"
            )
        return None
    return (
        f"{name} is not known to transform each document independently of the others; "
        "use a HashingVectorizer or a CountVectorizer with vocabulary=..."
    )
