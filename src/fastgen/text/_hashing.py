"""HashingVectorizer: scikit-learn's feature hashing of text, compiled and multi-threaded."""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._base import BaseEstimator, TransformerMixin
from .._docstrings import fill
from .._kernels import _text, _weighting
from .._validation import check_bool_params, invalid_param
from ._analysis import (
    TextAnalysisMixin,
    as_document_list,
    check_sparse_dtype,
    concat_rows,
    map_chunks,
)
from ._docs import SHARED

_INT32_MAX = np.iinfo(np.int32).max
_FLOAT_DTYPES = (np.float64, np.float32)


@fill(**SHARED)
class HashingVectorizer(TextAnalysisMixin, TransformerMixin, BaseEstimator):
    r"""Convert text documents to a matrix of hashed token occurrences.

    A drop-in replacement for scikit-learn's ``HashingVectorizer`` with
    bit-identical output, plus ``n_jobs``. Instead of learning a vocabulary, each
    term is sent to a column by its hash: the signed 32-bit MurmurHash3 (seed 0)
    of the term's UTF-8 bytes, taken modulo ``n_features``. The vectorizer is
    therefore stateless: ``transform`` needs no ``fit``, uses little memory
    whatever the number of distinct terms, and gives every batch of documents
    the same columns, which makes it the vectorizer for streaming, out-of-core
    (``TextClassifier.partial_fit``) and distributed jobs. The price is that
    different terms can share a column (collisions) and that columns cannot be
    mapped back to terms.

    What runs compiled: as for :class:`CountVectorizer`, the ``"word"`` analyzer
    with the default token pattern or ``(?u)\b\w+\b`` and the ``"char"`` and
    ``"char_wb"`` analyzers are tokenized, hashed, counted and normalised in a
    compiled kernel; decoding, accent stripping and a custom ``preprocessor`` run
    in Python before it. Other token patterns, a ``tokenizer`` or a callable
    ``analyzer`` run the analysis and hashing in Python, on one thread, with the
    same results.

    Parameters
    ----------
    input : {"content", "filename", "file"}, default="content"
        What each item of the documents passed to ``transform`` is: the text
        itself as ``str`` or ``bytes`` (``"content"``), the path of a file to
        read (``"filename"``), or an object with a ``read()`` method, such as an
        open file (``"file"``).
    {{encoding}}
    {{decode_error}}
    {{strip_accents}}
    lowercase : bool, default=True
        Convert documents to lower case before tokenizing. Done in the compiled
        kernel when no ``preprocessor`` or ``strip_accents`` is set, in Python
        otherwise. Ignored when ``preprocessor`` is given.
    {{preprocessor}}
    {{tokenizer}}
    stop_words : {"english"}, list of str or None, default=None
        Words removed from the tokens before n-grams are formed, with the
        ``"word"`` analyzer only: ``"english"`` (scikit-learn's English list,
        which needs scikit-learn installed), your own collection of words (not an
        iterator), or none. The words are compared with preprocessed tokens, so
        with ``lowercase=True`` they should be lower case. Stop-word removal runs
        in the compiled kernel.
    {{token_pattern}}
    {{ngram_range}}
    analyzer : {"word", "char", "char_wb"} or callable, default="word"
        How a preprocessed document becomes terms: word n-grams of its tokens
        (``"word"``), character n-grams of the whole text with runs of white
        space collapsed to one space (``"char"``), or character n-grams taken
        inside each word padded with one space on each side (``"char_wb"``). A
        callable receives each decoded document (no preprocessing) and returns
        its terms (``str``, or ``bytes``, which are hashed as they are); it runs
        in Python.
    n_features : int, default=2**20
        Number of columns of the output, from 1 to ``2**31 - 1``. A term goes to
        column ``abs(hash) % n_features``; fewer columns mean smaller models
        downstream but more terms sharing a column.
    binary : bool, default=False
        Store 1 in every column that a term of the document hashes to, instead
        of its (signed) count, before normalisation (a column whose signed terms
        cancel out also gets 1).
    norm : {"l1", "l2", "max"} or None, default="l2"
        Scale each row after counting to unit Euclidean length (``"l2"``), unit
        sum of absolute values (``"l1"``), or a largest absolute value of 1
        (``"max"``); None leaves the counts as they are.
    alternate_sign : bool, default=True
        Add -1 instead of +1 for a term whose hash is negative, so that
        collisions tend to cancel out rather than add up, keeping inner products
        close to those of the unhashed counts. Set it to False for non-negative
        output, as ``MultinomialNB`` requires.
    dtype : dtype, default=np.float64
        Type of the values of the output matrix; any dtype ``scipy.sparse``
        supports. With a ``norm``, an integer dtype gives float64 (normalising
        needs floating point), and a complex dtype is refused.
    n_jobs : int or None, default=1
        Threads that analyse and hash the documents: they are split into chunks,
        hashed in parallel on the compiled path and stacked into exactly the
        result of one thread. None means 1, ``-1`` all cores, ``-2`` all but one,
        and so on. Each thread gets at least 256 documents, so small inputs use
        fewer threads; the Python path always uses one.

    Attributes
    ----------
    (none)
        Nothing is learned: ``fit`` only checks the parameters and sets no
        attribute, and ``transform`` depends on the parameters alone.

    See Also
    --------
    CountVectorizer : Counts over a learned vocabulary, columns named by term.
    TfidfVectorizer : Counts weighted by inverse document frequency.
    fastgen.pipeline.TextClassifier : Hashing and Naive Bayes, trainable in
        batches with ``partial_fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgen.text import HashingVectorizer
    >>> docs = ["The cat sat on the mat.", "The dog sat.", "A cat and a dog!"]
    >>> X = HashingVectorizer(n_features=16).transform(docs)
    >>> X.shape
    (3, 16)
    >>> np.round(np.linalg.norm(X.toarray(), axis=1), 3).tolist()
    [1.0, 1.0, 1.0]

    Plain counts (no norm, no signs): each row sums to the document's number of
    tokens.

    >>> counts = HashingVectorizer(n_features=16, norm=None, alternate_sign=False)
    >>> np.asarray(counts.transform(docs).sum(axis=1)).ravel().tolist()
    [6.0, 3.0, 3.0]
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
        n_features: int = 2**20,
        binary: bool = False,
        norm: str | None = "l2",
        alternate_sign: bool = True,
        dtype: Any = np.float64,
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
        self.n_features = n_features
        self.ngram_range = ngram_range
        self.binary = binary
        self.norm = norm
        self.alternate_sign = alternate_sign
        self.dtype = dtype
        self.n_jobs = n_jobs

    def _validate_params(self) -> None:
        """Check the parameters as scikit-learn's fit does (also run by every transform)."""
        self._validate_analysis_params()
        nf = self.n_features
        if isinstance(nf, bool) or not isinstance(nf, Integral) or not 1 <= nf <= _INT32_MAX:
            raise invalid_param(self, "n_features", f"an int in the range [1, {_INT32_MAX}]", nf)
        norm = self.norm
        if not (norm is None or isinstance(norm, str) and norm in ("l1", "l2", "max")):
            raise invalid_param(self, "norm", "a str among {'l1', 'l2', 'max'} or None", norm)
        check_bool_params(self, "binary", "alternate_sign")
        if norm is not None and check_sparse_dtype(self.dtype).kind == "c":
            raise ValueError(f"Complex data not supported: dtype={self.dtype!r} with norm={norm!r}")

    def fit(self, X: Any, y: Any = None) -> HashingVectorizer:
        """Check the parameters; nothing is learned.

        Parameters
        ----------
        X : iterable
            Documents (not read). A single string is refused, as in ``transform``.
        y : None
            Ignored; accepted for pipeline compatibility.

        Returns
        -------
        self : object
            The estimator, unchanged.

        Raises
        ------
        ValueError
            For invalid parameters or a single string instead of an iterable of
            documents.
        """
        if isinstance(X, str):
            raise ValueError("Iterable over raw text documents expected, string object received.")
        self._validate_params()
        return self

    def partial_fit(self, X: Any, y: Any = None) -> HashingVectorizer:
        """Do nothing: the vectorizer learns nothing from data.

        Kept so that the vectorizer can stand where a ``partial_fit`` is called
        on every batch of a stream. The parameters are not checked here (they are
        on every ``transform``).

        Parameters
        ----------
        X : iterable
            Documents (not read).
        y : None
            Ignored; accepted for pipeline compatibility.

        Returns
        -------
        self : object
            The estimator, unchanged.
        """
        return self

    def transform(self, X: Any) -> sp.csr_matrix:
        """Hash the terms of each document into a row of ``n_features`` columns.

        No ``fit`` is needed.

        Parameters
        ----------
        X : iterable
            The documents, each a ``str``, ``bytes``, file name or file object
            according to ``input``. A single string is refused.

        Returns
        -------
        X_hashed : scipy.sparse.csr_matrix of shape (n_documents, n_features)
            Signed (``alternate_sign``) or plain counts per column, normalised
            per ``norm``, values of type ``dtype`` (float64 for an integer
            ``dtype`` with a norm).

        Raises
        ------
        ValueError
            For invalid parameters, no documents at all, or a single string
            instead of an iterable of documents.
        """
        docs = as_document_list(X)
        self._validate_params()
        if not docs:
            raise ValueError("Cannot vectorize empty sequence.")
        plan = self._kernel_plan()
        n_features = int(self.n_features)
        binary = bool(self.binary)
        norm = _weighting.NORMS[self.norm]
        if plan is None:
            indptr, indices, values = _hash_python(
                self.build_analyzer(), docs, n_features, self.alternate_sign
            )
            _weighting.weigh_rows(indptr, indices, values, values, binary=binary, norm=norm)
        else:
            def hash_chunk(chunk: list) -> tuple:
                texts = self._kernel_texts(chunk, plan)
                return _text.hash_counts(
                    texts, n_features, bool(self.alternate_sign), **plan.kwargs(),
                    binary=binary, norm=norm,
                )

            parts = map_chunks(hash_chunk, docs, self.n_jobs)
            indptr, indices, values = concat_rows(parts, n_jobs=self.n_jobs)
        # scikit-learn normalises in floating point: an integer dtype with a norm
        # gives float64, as sklearn.preprocessing.normalize does
        dtype = self.dtype
        if norm and np.dtype(dtype).type not in _FLOAT_DTYPES:
            dtype = np.float64
        index_dtype = np.int64 if indptr[-1] > _INT32_MAX else np.int32
        X = sp.csr_matrix(
            (
                values.astype(dtype, copy=False),
                indices.astype(index_dtype, copy=False),
                indptr.astype(index_dtype, copy=False),
            ),
            shape=(len(docs), n_features),
            dtype=dtype,
        )
        X.has_sorted_indices = True
        return X

    def fit_transform(self, X: Any, y: Any = None) -> sp.csr_matrix:
        """Check the parameters and hash the documents: equal to ``transform(X)``.

        Parameters
        ----------
        X : iterable
            The documents, each a ``str``, ``bytes``, file name or file object
            according to ``input``. A single string is refused.
        y : None
            Ignored; accepted for pipeline compatibility.

        Returns
        -------
        X_hashed : scipy.sparse.csr_matrix of shape (n_documents, n_features)
            The matrix ``transform`` returns.

        Raises
        ------
        ValueError
            For invalid parameters, no documents at all, or a single string
            instead of an iterable of documents.
        """
        return self.fit(X, y).transform(X)

    def __sklearn_tags__(self):  # pragma: no cover - called by scikit-learn only
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.requires_fit = False
        return tags


def _hash_python(
    analyze: Any, docs: list, n_features: int, alternate_sign: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Python-path hashing with the kernel's MurmurHash3 and the same index/sign rules."""
    indptr = [0]
    indices: list[int] = []
    values: list[float] = []
    for doc in docs:
        row: dict[int, float] = {}
        for term in analyze(doc):
            if isinstance(term, bytes):
                h = _murmurhash3_32_bytes(term)  # hashed as is, like scikit-learn
            else:
                h = _text.murmurhash3_32(term)
            if h == -(2**31):  # abs() would overflow in C; scikit-learn's convention
                idx = (2**31 - 1 - (n_features - 1)) % n_features
            else:
                idx = abs(h) % n_features
            row[idx] = row.get(idx, 0.0) + (-1.0 if alternate_sign and h < 0 else 1.0)
        for idx in sorted(row):
            indices.append(idx)
            values.append(row[idx])
        indptr.append(len(indices))
    return (
        np.asarray(indptr, dtype=np.int64),
        np.asarray(indices, dtype=np.int32),
        np.asarray(values, dtype=np.float64),
    )


def _murmurhash3_32_bytes(key: bytes) -> int:
    """Signed MurmurHash3 (x86, 32-bit, seed 0) of raw bytes.

    Valid UTF-8 goes through the kernel; other bytes (which scikit-learn also
    hashes as they are) through this pure-Python version of the same function.
    """
    try:
        return _text.murmurhash3_32(key.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    m = 0xFFFFFFFF
    c1, c2 = 0xCC9E2D51, 0x1B873593
    h = 0
    n = len(key)
    tail = n - n % 4
    for i in range(0, tail, 4):
        k = int.from_bytes(key[i : i + 4], "little")
        k = (k * c1) & m
        k = ((k << 15) | (k >> 17)) & m
        k = (k * c2) & m
        h ^= k
        h = ((h << 13) | (h >> 19)) & m
        h = (h * 5 + 0xE6546B64) & m
    if n % 4:
        k = int.from_bytes(key[tail:], "little")
        k = (k * c1) & m
        k = ((k << 15) | (k >> 17)) & m
        k = (k * c2) & m
        h ^= k
    h ^= n
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & m
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & m
    h ^= h >> 16
    return h - (1 << 32) if h & 0x80000000 else h
