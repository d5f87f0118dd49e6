"""HashingVectorizer: scikit-learn's feature hashing of text, compiled and multi-threaded."""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._base import BaseEstimator, TransformerMixin
from .._kernels import _text, _weighting
from .._validation import check_bool_params, invalid_param
from ._analysis import (
    TextAnalysisMixin,
    as_document_list,
    check_sparse_dtype,
    concat_rows,
    map_chunks,
)

_INT32_MAX = np.iinfo(np.int32).max
_FLOAT_DTYPES = (np.float64, np.float32)


class HashingVectorizer(TextAnalysisMixin, TransformerMixin, BaseEstimator):
    """Convert text documents to a matrix of hashed token occurrences.

    Same parameters and bit-identical output as
    ``sklearn.feature_extraction.text.HashingVectorizer`` (signed 32-bit
    MurmurHash3 of each term's UTF-8 bytes, seed 0), plus ``n_jobs``.
    Stateless: ``transform`` needs no ``fit``, which makes it the vectorizer
    for streaming and distributed jobs.

    Output: ``scipy.sparse.csr_matrix`` (n_documents, n_features).
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
        """Validate the parameters (the vectorizer is stateless) and return ``self``."""
        if isinstance(X, str):
            raise ValueError("Iterable over raw text documents expected, string object received.")
        self._validate_params()
        return self

    def partial_fit(self, X: Any, y: Any = None) -> HashingVectorizer:
        """No-op kept for API compatibility with scikit-learn."""
        return self

    def transform(self, X: Any) -> sp.csr_matrix:
        """Hashed term-occurrence matrix of the documents ``X``."""
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
        """Same as ``transform`` (nothing is learned)."""
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
