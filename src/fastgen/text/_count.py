"""CountVectorizer: scikit-learn's, with a compiled, multi-threaded counting path."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from numbers import Integral
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._base import BaseEstimator, TransformerMixin, check_is_fitted
from .._docstrings import fill
from .._kernels import _text
from .._validation import check_bool_params, invalid_param
from ._analysis import (
    TextAnalysisMixin,
    _part_offsets,
    as_document_list,
    chunk_workers,
    concat_rows,
    map_chunks,
    n_threads,
    parallel_map,
)
from ._docs import SHARED
from ._weigh import document_frequency, weigh_csr

_INT32_MAX = np.iinfo(np.int32).max
#: Value dtypes the kernels write directly (others are converted afterwards).
_PLACE_DTYPES = (np.dtype(np.int32), np.dtype(np.int64), np.dtype(np.float32),
                 np.dtype(np.float64))


class _Vocabulary(dict):
    """``vocabulary_``: a dict that counts its own mutations.

    The compiled lookup table built from it is cached against ``version``,
    so editing ``vocabulary_`` in place (as scikit-learn allows) is seen by
    the next ``transform``.
    """

    version = 0

    def _touch(self) -> None:
        self.version += 1

    def __setitem__(self, key, value):
        self._touch()
        super().__setitem__(key, value)

    def __delitem__(self, key):
        self._touch()
        super().__delitem__(key)

    def __ior__(self, other):
        self._touch()
        return super().__ior__(other)

    def clear(self):
        self._touch()
        super().clear()

    def pop(self, *args):
        self._touch()
        return super().pop(*args)

    def popitem(self):
        self._touch()
        return super().popitem()

    def setdefault(self, key, default=None):
        self._touch()
        return super().setdefault(key, default)

    def update(self, *args, **kwargs):
        self._touch()
        super().update(*args, **kwargs)


@fill(**SHARED)
class CountVectorizer(TextAnalysisMixin, TransformerMixin, BaseEstimator):
    r"""Convert a collection of text documents to a matrix of token counts.

    A drop-in replacement for scikit-learn's ``CountVectorizer``: the same
    parameters, fitted attributes and output (the same vocabulary, column order,
    values and dtype), plus ``n_jobs``. ``fit`` learns a vocabulary of terms
    (words, word n-grams or character n-grams) from the documents; ``transform``
    counts how often each vocabulary term occurs in each document.

    What runs compiled: the ``"word"`` analyzer with the default token pattern
    ``(?u)\b\w\w+\b`` or ``(?u)\b\w+\b`` (any ``ngram_range``, with or without
    stop words) and the ``"char"`` and ``"char_wb"`` analyzers are tokenized,
    n-grammed and counted in a compiled kernel, lower-casing included. Decoding
    bytes and files, accent stripping and a custom ``preprocessor`` run in Python,
    one call per document, before the kernel. Any other token pattern, a
    ``tokenizer`` or a callable ``analyzer`` makes the whole analysis run in
    Python, one document at a time on one thread; the results are the same
    either way.

    Parameters
    ----------
    {{input}}
    {{encoding}}
    {{decode_error}}
    {{strip_accents}}
    {{lowercase}}
    {{preprocessor}}
    {{tokenizer}}
    {{stop_words}}
    {{token_pattern}}
    ngram_range : tuple (min_n, max_n), default=(1, 1)
        Lengths of the n-grams that become terms, both bounds included, with
        ``1 <= min_n <= max_n``: runs of consecutive tokens joined by a space for
        the ``"word"`` analyzer, substrings of that many characters for
        ``"char"`` and ``"char_wb"``. ``(1, 2)`` gives single words and pairs of
        adjacent words. Not used with a callable ``analyzer``.
    {{analyzer}}
    max_df : float in [0.0, 1.0] or int, default=1.0
        Leave out of the vocabulary the terms that occur in more documents than
        this: a fraction of the documents (float) or a number of documents
        (int). Lowering it removes corpus-specific frequent words. Not used with
        a given ``vocabulary``.
    {{min_df}}
    {{max_features}}
    vocabulary : Mapping or iterable, default=None
        A fixed vocabulary instead of one learned from the documents: a mapping
        of term to column index (the indices ``0 .. n_terms - 1``, each once), or
        an iterable of distinct terms whose order gives the columns (a ``set`` is
        sorted first). With a vocabulary, ``transform`` works without ``fit`` and
        terms outside it are ignored. None learns the vocabulary in ``fit``.
    binary : bool, default=False
        Store 1 for every term present in a document instead of its count (for
        models of presence, such as ``BernoulliNB``).
    dtype : dtype, default=np.int64
        Type of the values of the output matrix; any dtype ``scipy.sparse``
        supports.
    n_jobs : int or None, default=1
        Threads that analyse and count the documents: they are split into
        chunks, counted in parallel on the compiled path and merged into exactly
        the result of one thread. None means 1, ``-1`` all cores, ``-2`` all but
        one, and so on. Each thread gets at least 256 documents, so small inputs
        use fewer threads; the Python path always uses one.

    Attributes
    ----------
    vocabulary_ : dict
        Term to column index. The columns are the terms in sorted (code point)
        order. Editing it in place, as scikit-learn allows, is seen by the next
        ``transform``.
    fixed_vocabulary_ : bool
        True when ``vocabulary`` was given (nothing was learned), False when the
        vocabulary was learned by ``fit``.

    See Also
    --------
    TfidfVectorizer : The same counts weighted by inverse document frequency.
    HashingVectorizer : Counts in hashed columns, with no vocabulary to learn.
    fastgen.naive_bayes.MultinomialNB : A classifier for count matrices.
    fastgen.pipeline.TextClassifier : Vectorizer and Naive Bayes, predicting from
        raw text in one compiled pass.

    Examples
    --------
    >>> from fastgen.text import CountVectorizer
    >>> docs = ["The cat sat on the mat.", "The dog sat.", "A cat and a dog!"]
    >>> vec = CountVectorizer()
    >>> X = vec.fit_transform(docs)
    >>> vec.get_feature_names_out()
    array(['and', 'cat', 'dog', 'mat', 'on', 'sat', 'the'], dtype=object)
    >>> X.toarray()
    array([[0, 1, 0, 1, 1, 1, 2],
           [0, 0, 1, 0, 0, 1, 1],
           [1, 1, 1, 0, 0, 0, 0]])
    >>> vec.transform(["a cat, a cat and a bird"]).toarray()
    array([[1, 2, 0, 0, 0, 0, 0]])

    Single words and pairs of words that occur in at least two documents,
    counted on two threads:

    >>> pairs = CountVectorizer(ngram_range=(1, 2), min_df=2, n_jobs=2).fit(docs)
    >>> pairs.get_feature_names_out()
    array(['cat', 'dog', 'sat', 'the'], dtype=object)
    """

    def __init__(
        self,
        *,
        input: str = "content",
        encoding: str = "utf-8",
        decode_error: str = "strict",
        strip_accents: Any = None,
        lowercase: bool = True,
        preprocessor: Any = None,
        tokenizer: Any = None,
        stop_words: Any = None,
        token_pattern: str | None = r"(?u)\b\w\w+\b",
        ngram_range: tuple[int, int] = (1, 1),
        analyzer: Any = "word",
        max_df: float | int = 1.0,
        min_df: float | int = 1,
        max_features: int | None = None,
        vocabulary: Any = None,
        binary: bool = False,
        dtype: Any = np.int64,
        n_jobs: int | None = 1,
    ) -> None:
        self.input = input
        self.encoding = encoding
        self.decode_error = decode_error
        self.strip_accents = strip_accents
        self.preprocessor = preprocessor
        self.tokenizer = tokenizer
        self.analyzer = analyzer
        self.lowercase = lowercase
        self.token_pattern = token_pattern
        self.stop_words = stop_words
        self.max_df = max_df
        self.min_df = min_df
        self.max_features = max_features
        self.ngram_range = ngram_range
        self.vocabulary = vocabulary
        self.binary = binary
        self.dtype = dtype
        self.n_jobs = n_jobs

    # ----------------------------------------------------------- parameters
    def _validate_params(self) -> None:
        """Check the parameters as scikit-learn's fit does (also run by every transform).

        The terms of a given ``vocabulary`` are checked by ``_checked_vocabulary`` (their
        number is unbounded); here only its type.
        """
        self._validate_analysis_params()
        for name in ("max_df", "min_df"):
            v = getattr(self, name)
            if isinstance(v, bool) or not (
                isinstance(v, Integral) and v >= 1 or isinstance(v, float) and 0.0 <= v <= 1.0
            ):
                raise invalid_param(
                    self, name, "a float in the range [0.0, 1.0] or an int in the range [1, inf)", v
                )
        mf = self.max_features
        if mf is not None and (isinstance(mf, bool) or not isinstance(mf, Integral) or mf < 1):
            raise invalid_param(self, "max_features", "an int in the range [1, inf) or None", mf)
        vocabulary = self.vocabulary
        if not (vocabulary is None or isinstance(vocabulary, Mapping)
                or hasattr(vocabulary, "__iter__")):
            raise invalid_param(
                self, "vocabulary",
                "an instance of 'collections.abc.Mapping', an object implementing '__iter__' "
                "or None", vocabulary,
            )
        check_bool_params(self, "binary")

    def _validate_vocabulary(self) -> None:
        vocabulary = self._checked_vocabulary()
        self.fixed_vocabulary_ = vocabulary is not None
        if vocabulary is not None:
            self.vocabulary_ = _Vocabulary(vocabulary)

    def _checked_vocabulary(self) -> dict | None:
        """The ``vocabulary`` parameter as a checked term -> column dict (None: none given).

        Raises scikit-learn's errors for duplicate terms and indices that are not
        ``0 .. n_terms - 1``; ``ValueError`` for an index that is not an integer and
        ``TypeError`` for a term that is not a ``str`` when the analyzer makes only
        strings (every analyzer but a callable one or a custom ``tokenizer``).
        """
        vocabulary = self.vocabulary
        if vocabulary is None:
            return None
        if isinstance(vocabulary, set):
            vocabulary = sorted(vocabulary)
        if not isinstance(vocabulary, Mapping):
            vocab: dict = {}
            for i, t in enumerate(vocabulary):
                if vocab.setdefault(t, i) != i:
                    raise ValueError(f"Duplicate term in vocabulary: {t!r}")
            vocabulary = vocab
        else:
            indices = set(vocabulary.values())
            if len(indices) != len(vocabulary):
                raise ValueError("Vocabulary contains repeated indices.")
            for i in range(len(vocabulary)):
                if i not in indices:
                    raise ValueError(
                        f"Vocabulary of size {len(vocabulary)} doesn't contain index {i}."
                    )
            for term, i in vocabulary.items():
                if not isinstance(i, Integral):  # e.g. 1.0, which equals a valid index
                    raise ValueError(f"Vocabulary maps {term!r} to {i!r}, not an integer index.")
        if not vocabulary:
            raise ValueError("empty vocabulary passed to fit")
        custom_terms = callable(self.analyzer) or (
            self.analyzer == "word" and self.tokenizer is not None
        )
        if not custom_terms:
            for term in vocabulary:
                if not isinstance(term, str):
                    # scikit-learn fails on these too (a TypeError checking their case)
                    raise TypeError(
                        f"Vocabulary terms must be str, got {type(term).__name__}: {term!r:.60}"
                    )
        return vocabulary

    # ----------------------------------------------------------- public API
    def fit(self, raw_documents: Any, y: Any = None) -> CountVectorizer:
        """Learn the vocabulary of the documents.

        Parameters
        ----------
        raw_documents : iterable
            The documents, each a ``str``, ``bytes``, file name or file object
            according to ``input``. A single string is refused.
        y : None
            Ignored; accepted for pipeline compatibility.

        Returns
        -------
        self : object
            The fitted estimator.

        Raises
        ------
        ValueError
            For invalid parameters, a single string instead of an iterable of
            documents, documents without any term, or ``max_df``/``min_df``/
            ``max_features`` that leave no term.
        """
        self.fit_transform(raw_documents)
        return self

    def fit_transform(self, raw_documents: Any, y: Any = None) -> sp.csr_matrix:
        """Learn the vocabulary and return the document-term matrix.

        Equal to ``fit(raw_documents).transform(raw_documents)``, computed in one
        pass over the documents.

        Parameters
        ----------
        raw_documents : iterable
            The documents, each a ``str``, ``bytes``, file name or file object
            according to ``input``. A single string is refused.
        y : None
            Ignored; accepted for pipeline compatibility.

        Returns
        -------
        X : scipy.sparse.csr_matrix of shape (n_documents, n_features)
            Count (or with ``binary``, presence) of every vocabulary term in every
            document, values of type ``dtype``.

        Raises
        ------
        ValueError
            For invalid parameters, a single string instead of an iterable of
            documents, documents without any term, or ``max_df``/``min_df``/
            ``max_features`` that leave no term.
        """
        docs = as_document_list(raw_documents)
        self._validate_params()
        self._validate_vocabulary()
        if self.fixed_vocabulary_ and self.lowercase:
            if any(any(map(str.isupper, t)) for t in self.vocabulary_ if isinstance(t, str)):
                warnings.warn(
                    "Upper case characters found in vocabulary while 'lowercase' is True. "
                    "These entries will not be matched with any documents",
                    stacklevel=2,
                )
        if self.fixed_vocabulary_:
            X = self._transform_fixed(docs)
            if self.binary:
                X.data.fill(1)
            return X

        terms, order, X = self._count_new(docs, sorted_columns=True)
        if self.binary:
            X.data.fill(1)
        max_doc_count, min_doc_count = self._doc_count_bounds(X.shape[0])
        X, vocabulary = _limit_sorted(
            X, terms, order, max_doc_count, min_doc_count, self.max_features, self.n_jobs
        )
        self.vocabulary_ = vocabulary
        self._table = None
        return X

    def _doc_count_bounds(self, n_doc: int) -> tuple[float, float]:
        """``(max_doc_count, min_doc_count)`` of ``max_df``/``min_df`` for ``n_doc`` documents."""
        max_df, min_df = self.max_df, self.min_df
        max_doc_count = max_df if isinstance(max_df, Integral) else max_df * n_doc
        min_doc_count = min_df if isinstance(min_df, Integral) else min_df * n_doc
        if max_doc_count < min_doc_count:
            raise ValueError("max_df corresponds to < documents than min_df")
        return max_doc_count, min_doc_count

    # ----------------------------------------------------------- batched fitting
    # Used by fastgen.dask: per-batch term statistics are summed, then the vocabulary is
    # selected exactly as ``fit`` would select it from the whole corpus.
    def _term_frequencies(
        self, raw_documents: Any
    ) -> tuple[list, np.ndarray, np.ndarray, sp.csr_matrix]:
        """Terms of a batch (first-appearance order), their frequencies and counts.

        Returns ``(terms, dfs, tfs, X)``: ``dfs`` int64 (n_terms,) and ``tfs`` of the
        dtype ``fit`` sums term counts in, both aligned with ``terms``, and ``X`` the
        batch's count matrix (n_documents, n_terms) over those term ids (``binary``
        applied).
        """
        docs = as_document_list(raw_documents)
        self._validate_params()
        if not docs:
            empty = np.zeros(0, dtype=np.int64)
            return [], empty, empty, sp.csr_matrix((0, 0), dtype=self.dtype)
        terms, _, X = self._count_new(docs, allow_empty=True)
        if self.binary:
            X.data.fill(1)
        dfs = document_frequency(X, self.n_jobs)
        tfs = np.asarray(X.sum(axis=0)).ravel()
        return terms, dfs, tfs, X

    def _fit_from_frequencies(
        self, terms: list, dfs: np.ndarray, tfs: np.ndarray, n_doc: int
    ) -> CountVectorizer:
        """Learn ``vocabulary_`` from ``_term_frequencies`` summed over all batches.

        ``terms`` in first-appearance order over the corpus; ``n_doc`` documents in all.
        """
        self._validate_params()
        self._validate_vocabulary()
        if self.fixed_vocabulary_:
            raise ValueError("a fixed vocabulary needs no fit")
        if not terms:
            raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
        high, low = self._doc_count_bounds(n_doc)
        rank = _term_rank(terms, None, np.int64)
        dfs_sorted = np.empty_like(dfs)
        dfs_sorted[rank] = dfs
        tfs_sorted = np.empty_like(tfs)
        tfs_sorted[rank] = tfs
        _, self.vocabulary_ = _select_vocabulary(
            terms, rank, dfs_sorted, lambda: tfs_sorted, high, low, self.max_features
        )
        self._table = None
        return self

    def _check_vocabulary(self) -> None:
        """Raise ``NotFittedError`` unless there is a vocabulary: the fitted one, or the
        ``vocabulary`` parameter, which (as in scikit-learn) needs no ``fit``."""
        if not hasattr(self, "vocabulary_"):
            self._validate_vocabulary()
        check_is_fitted(self, "vocabulary_")

    def transform(self, raw_documents: Any) -> sp.csr_matrix:
        """Count the vocabulary's terms in each document.

        Terms that are not in ``vocabulary_`` are ignored. With a ``vocabulary``
        given, no ``fit`` is needed.

        Parameters
        ----------
        raw_documents : iterable
            The documents, each a ``str``, ``bytes``, file name or file object
            according to ``input``. A single string is refused.

        Returns
        -------
        X : scipy.sparse.csr_matrix of shape (n_documents, n_features)
            Count (or with ``binary``, presence) of every vocabulary term in every
            document, values of type ``dtype``.

        Raises
        ------
        NotFittedError
            If the vectorizer has neither been fitted nor given a ``vocabulary``.
        ValueError
            For invalid parameters, or a single string instead of an iterable of
            documents.
        """
        docs = as_document_list(raw_documents)
        self._check_vocabulary()
        self._validate_params()
        X = self._transform_fixed(docs)
        if self.binary:
            X.data.fill(1)
        return X

    def _transform_weighted(
        self, raw_documents: Any, weighting: dict, dtype: np.dtype
    ) -> sp.csr_matrix:
        """``transform``, each chunk weighed by ``weigh_csr(**weighting)`` right after
        counting, on the thread that counted it; values in ``dtype`` (float)."""
        docs = as_document_list(raw_documents)
        self._check_vocabulary()
        self._validate_params()
        return self._transform_fixed(docs, weighting, dtype)

    def inverse_transform(self, X: Any) -> list[np.ndarray]:
        """Return the terms present in each row of a document-term matrix.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_documents, n_features)
            A matrix whose columns are this vectorizer's features, such as the
            output of ``transform``.

        Returns
        -------
        terms : list of ndarray
            One object array per row, with the terms of the columns that hold a
            non-zero value, in the order the row stores them (column order for
            dense input).

        Raises
        ------
        ValueError
            If ``X`` is not two-dimensional or does not have ``n_features``
            columns.
        """
        self._check_vocabulary()
        if sp.issparse(X):
            X = sp.csr_matrix(X)
        else:
            X = np.asarray(X)
            if X.ndim != 2:
                raise ValueError(f"Expected 2D array, got {X.ndim}D array instead")
        n_features = len(self.vocabulary_)
        if X.shape[1] != n_features:
            raise ValueError(
                f"X has {X.shape[1]} features, but CountVectorizer is expecting "
                f"{n_features} features as input."
            )
        inverse = self.get_feature_names_out()
        if sp.issparse(X):
            return [inverse[X.indices[a:b][X.data[a:b] != 0]] for a, b in
                    zip(X.indptr[:-1], X.indptr[1:], strict=False)]
        return [inverse[np.flatnonzero(row)] for row in X]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Return the vocabulary's terms in column order.

        Parameters
        ----------
        input_features : None
            Ignored: the output features are the vocabulary's terms. Accepted for
            compatibility with scikit-learn's transformers.

        Returns
        -------
        feature_names_out : ndarray of shape (n_features,), dtype=object
            ``feature_names_out[j]`` is the term of column ``j``.

        Raises
        ------
        NotFittedError
            If the vectorizer has neither been fitted nor given a ``vocabulary``.
        """
        self._check_vocabulary()
        return np.asarray(
            [t for t, _ in sorted(self.vocabulary_.items(), key=lambda item: item[1])],
            dtype=object,
        )

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_table", None)  # compiled lookup table: rebuilt on demand
        return state

    def __sklearn_tags__(self):  # pragma: no cover - called by scikit-learn only
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags

    # ----------------------------------------------------------- counting
    def _count_new(
        self, docs: list, allow_empty: bool = False, sorted_columns: bool = False
    ) -> tuple[list, np.ndarray | None, sp.csr_matrix]:
        """Count with a vocabulary learned from ``docs`` (ids by first appearance).

        Returns the terms in id order, the ids in sorted-term order (None: not
        computed) and the count matrix; its rows hold their entries ordered by
        id and its columns are term ids, or with ``sorted_columns`` each term's
        position in sorted order (scikit-learn's layout after sorting the
        features). No terms at all raise ``ValueError`` unless ``allow_empty``.
        """
        plan = self._kernel_plan()
        if plan is None:
            vocabulary: dict = {}
            indptr, indices, counts = _count_python(self.build_analyzer(), docs, vocabulary, True)
            terms = list(vocabulary)
            order = None
            if sorted_columns:
                order = np.asarray(sorted(range(len(terms)), key=terms.__getitem__),
                                   dtype=np.int64)
                if terms:
                    _text.map_indices(indices, _term_rank(terms, order, np.int32))
        else:
            # counts straight in the output dtype when one chunk does all the work
            wide = (chunk_workers(len(docs), self.n_jobs) <= 1
                    and np.dtype(self._counts_dtype()) == np.int64)

            def count_chunk(chunk: list) -> tuple:
                table = _text.TermTable()
                texts = self._kernel_texts(chunk, plan)
                return (table, *_text.count(texts, table, True, **plan.kwargs(), wide=wide))

            # One chunk per thread: each chunk learns its own table, so fewer
            # chunks mean fewer repeated insertions and merges.
            parts = map_chunks(count_chunk, docs, self.n_jobs, chunks_per_thread=1)
            table = parts[0][0]
            # Merging in chunk order gives ids by first appearance in the corpus,
            # as a serial pass would: the first chunk's table becomes the global
            # one (its ids stand), later chunks are merged into it and their rows
            # relabelled (and reordered by global id) while being placed.
            orders = [None] + [table.merge(p[0]) for p in parts[1:]]
            terms = table.terms()
            order = table.sorted_ids()
            column = _term_rank(terms, order, np.int32) if sorted_columns and terms else None
            if len(parts) == 1:
                indptr, indices, counts = parts[0][1:]
                if column is not None:
                    _text.map_indices(indices, column)
            else:
                indptr, indices, counts = _place_parts(
                    [p[1:] for p in parts], orders, column, self._counts_dtype(), self.n_jobs
                )
        if not terms and not allow_empty:
            raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
        X = self._to_csr(indptr, indices, counts, len(terms), self._counts_dtype())
        if sorted_columns:
            X.has_sorted_indices = False  # rows stay in id order
        return terms, order, X

    def _counts_dtype(self) -> Any:
        """dtype of the count matrix a fit learns the vocabulary from (the output's)."""
        return self.dtype

    def _transform_fixed(
        self, docs: list, weighting: dict | None = None, dtype: Any = None
    ) -> sp.csr_matrix:
        """Count over the fixed ``vocabulary_`` (unknown terms are dropped).

        With ``weighting`` (``weigh_csr`` keywords), the counts of each chunk are
        weighed into ``dtype`` values as soon as the chunk is counted.
        """
        vocabulary = self.vocabulary_
        plan = self._kernel_plan()
        table = self._lookup_table() if plan is not None else None
        dtype = self.dtype if dtype is None else dtype

        def weigh(part: tuple, n_jobs: int | None) -> tuple:
            indptr, indices, counts = part
            values = weigh_csr(indptr, indices, counts, np.empty(len(counts), dtype=dtype),
                               **weighting, n_jobs=n_jobs)
            return indptr, indices, values

        if table is None:
            part = _count_python(self.build_analyzer(), docs, vocabulary, False)
            indptr, indices, counts = part if weighting is None else weigh(part, self.n_jobs)
        else:
            wide = weighting is None and np.dtype(dtype) == np.int64

            def count_chunk(chunk: list) -> tuple:
                texts = self._kernel_texts(chunk, plan)
                part = _text.count(texts, table, False, **plan.kwargs(), wide=wide)
                return part if weighting is None else weigh(part, 1)

            parts = map_chunks(count_chunk, docs, self.n_jobs)
            indptr, indices, counts = concat_rows(parts, dtype=dtype, n_jobs=self.n_jobs)
        return self._to_csr(indptr, indices, counts, len(vocabulary), dtype)

    def _lookup_table(self) -> _text.TermTable | None:
        """Compiled table of ``vocabulary_``; None if it cannot be one (non-str terms).

        Cached while ``vocabulary_`` is the same :class:`_Vocabulary`, unmodified;
        a plain dict assigned by the user is converted on every call.
        """
        vocabulary = self.vocabulary_
        version = getattr(vocabulary, "version", None)
        cached = getattr(self, "_table", None)
        if cached is not None and cached[0] is vocabulary and cached[1] == version:
            return cached[2]
        inverse: list = [None] * len(vocabulary)
        for term, i in vocabulary.items():
            if not isinstance(i, (int, np.integer)) or not 0 <= i < len(inverse):
                raise ValueError(f"vocabulary_ maps {term!r} to {i!r}, not a column index")
            inverse[i] = term
        table = None
        if all(type(t) is str for t in inverse):
            table = _text.TermTable.from_terms(inverse)
        if version is not None:
            self._table = (vocabulary, version, table)
        return table

    def _to_csr(
        self, indptr: np.ndarray, indices: np.ndarray, counts: np.ndarray, n_features: int,
        dtype: Any = None,
    ) -> sp.csr_matrix:
        """CSR with scikit-learn's dtypes: int32 indices unless nnz needs int64; values in
        ``dtype`` (default: the ``dtype`` parameter)."""
        dtype = self.dtype if dtype is None else dtype
        index_dtype = np.int64 if indptr[-1] > _INT32_MAX else np.int32
        X = sp.csr_matrix(
            (
                counts.astype(dtype, copy=False),
                indices.astype(index_dtype, copy=False),
                indptr.astype(index_dtype, copy=False),
            ),
            shape=(len(indptr) - 1, n_features),
            dtype=dtype,
        )
        X.has_sorted_indices = True
        return X


def _count_python(
    analyze: Any, docs: list, vocabulary: dict, grow: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Python-path counting; rows come out ordered by term id like the kernel's."""
    indptr = [0]
    indices: list[int] = []
    counts: list[int] = []
    for doc in docs:
        counter: dict[int, int] = {}
        for term in analyze(doc):
            idx = vocabulary.get(term)
            if idx is None:
                if not grow:
                    continue
                idx = vocabulary[term] = len(vocabulary)
            counter[idx] = counter.get(idx, 0) + 1
        for idx in sorted(counter):
            indices.append(idx)
            counts.append(counter[idx])
        indptr.append(len(indices))
    return (
        np.asarray(indptr, dtype=np.int64),
        np.asarray(indices, dtype=np.int32),
        np.asarray(counts, dtype=np.int32),
    )


def _place_parts(
    pieces: list[tuple], orders: list, column: np.ndarray | None, dtype: Any, n_jobs: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stack per-chunk count pieces ``(indptr, indices, counts)``, relabelling on the way.

    ``orders[k]``: chunk ``k``'s local id -> global id map (None: ids are global);
    rows are reordered by global id. ``column``: global id -> output column (None:
    the global id). Row ranges are placed on ``n_jobs`` threads straight into the
    output arrays, converting the counts to ``dtype``.
    """
    row_offsets, nnz_offsets = _part_offsets(pieces)
    total = nnz_offsets[-1]
    index_dtype = np.int64 if total > _INT32_MAX else np.int32
    value_dtype = np.dtype(dtype) if np.dtype(dtype) in _PLACE_DTYPES else np.dtype(np.int64)
    indptr = np.empty(row_offsets[-1] + 1, dtype=np.int64)
    indptr[0] = 0
    indices = np.empty(total, dtype=index_dtype)
    values = np.empty(total, dtype=value_dtype)
    # Every piece is cut into one row range per thread: relabelled pieces (which
    # re-sort every row) cost several times as much per entry as the first one,
    # so whole pieces would leave threads idle while the costly ones finish.
    splits = n_threads(n_jobs)
    tasks = []
    for k, (p_indptr, _, _) in enumerate(pieces):
        bounds = np.linspace(0, len(p_indptr) - 1, splits + 1).astype(np.int64)
        tasks += [(k, int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)
                  if b > a]

    def place(task: tuple[int, int, int]) -> None:
        k, lo, hi = task
        p_indptr, p_indices, p_counts = pieces[k]
        r, z = row_offsets[k], nnz_offsets[k]
        np.add(p_indptr[lo + 1 : hi + 1], z, out=indptr[r + lo + 1 : r + hi + 1])
        _text.place_rows(p_indptr, p_indices, p_counts, lo, hi, indices, values,
                         z + int(p_indptr[lo]), orders[k], column)

    parallel_map(place, tasks, n_jobs)
    return indptr, indices, values.astype(dtype, copy=False)


def _limit_sorted(
    X: sp.csr_matrix,
    terms: list,
    order: np.ndarray,
    high: float,
    low: float,
    limit: int | None,
    n_jobs: int | None = 1,
) -> tuple[sp.csr_matrix, _Vocabulary]:
    """Prune a count matrix with sorted columns by document frequency / max_features.

    ``X``'s columns are already the terms' sorted positions (``order`` lists the
    ids by sorted term); its document frequencies are counted on ``n_jobs``
    threads. Reproduces scikit-learn's prune sequence so the resulting
    arrays are identical, including the order of entries within rows and ties
    among ``max_features``.
    """
    n = len(terms)
    rank = _term_rank(terms, order, np.int64)
    # every fitted term occurs in at least one and at most all documents: only
    # non-trivial bounds need the document frequencies
    dfs = None if high >= X.shape[0] and low <= 1 else document_frequency(X, n_jobs)
    kept, vocabulary = _select_vocabulary(
        terms, rank, dfs, lambda: np.asarray(X.sum(axis=0)).ravel(), high, low, limit
    )
    if len(kept) < n:
        X = X[:, kept]
    return X, vocabulary


def _term_rank(terms: list, order: np.ndarray | None, dtype: Any) -> np.ndarray:
    """Position of every term id in sorted-term order (``order``: ids by sorted term)."""
    n = len(terms)
    if order is None:
        order = sorted(range(n), key=terms.__getitem__)
    rank = np.empty(n, dtype=dtype)
    rank[order] = np.arange(n, dtype=rank.dtype)
    return rank


def _select_vocabulary(
    terms: list,
    rank: np.ndarray,
    dfs: np.ndarray,
    tfs: Any,
    high: float,
    low: float,
    limit: int | None,
) -> tuple[np.ndarray, _Vocabulary]:
    """Terms kept by document frequency and ``max_features`` (scikit-learn's rule).

    ``dfs`` and ``tfs()`` (a callable, evaluated only when ``max_features`` prunes)
    are in sorted-term order (``dfs`` None: every term is within the bounds);
    ``rank`` maps term ids to that order. Returns the kept sorted positions and
    the vocabulary (terms in id order, sorted columns).
    """
    n = len(terms)
    mask = np.ones(n, dtype=bool)
    if dfs is not None:
        mask &= dfs <= high
        mask &= dfs >= low
    if limit is not None and mask.sum() > limit:
        mask_inds = (-tfs()[mask]).argsort()[:limit]
        new_mask = np.zeros(n, dtype=bool)
        new_mask[np.where(mask)[0][mask_inds]] = True
        mask = new_mask
    kept = np.flatnonzero(mask)
    if len(kept) == 0:
        raise ValueError("After pruning, no terms remain. Try a lower min_df or a higher max_df.")
    new_index = (np.cumsum(mask) - 1)[rank].tolist()
    if len(kept) == n:
        vocabulary = _Vocabulary(zip(terms, new_index, strict=True))
    else:
        keep = mask[rank].tolist()
        vocabulary = _Vocabulary(
            (t, i) for t, i, k in zip(terms, new_index, keep, strict=True) if k
        )
    return kept, vocabulary
