"""TF-IDF: scikit-learn's TfidfTransformer and TfidfVectorizer, weighted by a compiled kernel.

The weighting (``sublinear_tf``, ``idf_``, the row norm) runs row by row in
``fastgen._kernels._weighting``, reading the counts in their own dtype and
writing the weighted values in the output dtype: no float64 copy of the count
matrix is made and then rescaled in several passes. ``TfidfVectorizer.transform``
weighs each chunk of documents on the thread that counted it, right after
counting.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._base import BaseEstimator, NotFittedError, TransformerMixin, check_is_fitted
from .._docstrings import fill
from .._validation import check_bool_params, invalid_param, validate_data
from ._count import CountVectorizer
from ._docs import SHARED
from ._weigh import document_frequency, output_dtype, weigh_csr

__all__ = ["TfidfTransformer", "TfidfVectorizer"]

#: dtypes TfidfVectorizer is meant to produce (others warn and give float64, as in scikit-learn)
_FLOAT_DTYPES = (np.float64, np.float32, np.float16)


def _idf(df: np.ndarray, n_samples: int, smooth: bool, dtype: np.dtype) -> np.ndarray:
    """``log((n + smooth) / (df + smooth)) + 1`` computed in ``dtype``, as scikit-learn does.

    A term in no document without smoothing gives ``inf`` (and NumPy's divide-by-zero
    warning), as in scikit-learn.
    """
    df = df.astype(dtype)
    df += float(smooth)
    idf = np.full_like(df, fill_value=n_samples + int(smooth), dtype=dtype)
    idf /= df
    np.log(idf, out=idf)
    idf += 1.0
    return idf


def _check_norm(estimator: Any) -> None:
    if estimator.norm not in ("l1", "l2", None):
        raise invalid_param(estimator, "norm", "a str among {'l1', 'l2'} or None",
                            estimator.norm)


class TfidfTransformer(TransformerMixin, BaseEstimator):
    """Transform a count matrix to a normalised tf or tf-idf representation.

    A drop-in replacement for scikit-learn's ``TfidfTransformer``: the same
    parameters, attributes and results, plus ``n_jobs``.
    The weight of term ``t`` in document ``d`` is ``tf(t, d) * idf(t)``, with
    ``tf`` the count (``1 + log(count)`` with ``sublinear_tf``) and
    ``idf(t) = log((1 + n) / (1 + df(t))) + 1`` (without the ones when
    ``smooth_idf=False``), ``n`` documents of which ``df(t)`` contain ``t``;
    each row is then scaled to unit ``norm``.

    The weighting runs row by row in a compiled kernel that reads the counts in
    their own dtype and writes the weighted values straight into the output
    (float32 for float32 input, float64 otherwise), without an intermediate
    float64 copy of the matrix.

    Parameters
    ----------
    norm : {"l1", "l2"} or None, default="l2"
        Row normalisation: unit Euclidean length ("l2"), unit sum of absolute
        values ("l1"), or none.
    use_idf : bool, default=True
        Multiply by the inverse document frequency learned by ``fit``.
    smooth_idf : bool, default=True
        Add one to every document frequency and to the number of documents, as if
        one extra document held every term once (no division by zero).
    sublinear_tf : bool, default=False
        Replace each count ``c`` by ``1 + log(c)``. Counts must then be positive.
    n_jobs : int or None, default=1
        Threads weighing row ranges of large matrices (``-1``: all cores). The
        result does not depend on it.

    Attributes
    ----------
    idf_ : ndarray of shape (n_features,)
        The inverse document frequencies (only with ``use_idf``), float32 for
        float32 input and float64 otherwise.
    n_features_in_ : int
        Number of columns seen by ``fit``.
    feature_names_in_ : ndarray of shape (n_features,)
        Column names seen by ``fit``, set only when ``X`` had column names that
        are all strings (a pandas DataFrame, for example).

    See Also
    --------
    TfidfVectorizer : Counting and tf-idf weighting of raw documents in one
        estimator.
    CountVectorizer : Produces the count matrices this transformer weighs.
    fastgen.naive_bayes.ComplementNB : A classifier suited to tf-idf features.

    Examples
    --------
    >>> from fastgen.text import TfidfTransformer
    >>> counts = [[3, 0, 1], [2, 0, 0], [3, 1, 0]]
    >>> tfidf = TfidfTransformer().fit(counts)
    >>> tfidf.idf_.round(3)
    array([1.   , 1.693, 1.693])
    >>> tfidf.transform(counts).toarray().round(3)
    array([[0.871, 0.   , 0.492],
           [1.   , 0.   , 0.   ],
           [0.871, 0.492, 0.   ]])
    """

    def __init__(
        self,
        *,
        norm: str | None = "l2",
        use_idf: bool = True,
        smooth_idf: bool = True,
        sublinear_tf: bool = False,
        n_jobs: int | None = 1,
    ) -> None:
        self.norm = norm
        self.use_idf = use_idf
        self.smooth_idf = smooth_idf
        self.sublinear_tf = sublinear_tf
        self.n_jobs = n_jobs

    def _validate_params(self) -> None:
        _check_norm(self)
        check_bool_params(self, "use_idf", "smooth_idf", "sublinear_tf")

    def fit(self, X: Any, y: Any = None) -> TfidfTransformer:
        """Learn the idf vector from a count matrix ``X`` (n_samples, n_features).

        Parameters
        ----------
        X : sparse matrix or array-like of shape (n_samples, n_features)
            Term counts (CSR or CSC; other formats and dense input are converted).
        y : None
            Ignored; accepted for pipeline compatibility.

        Returns
        -------
        self : object
            The fitted estimator.

        Raises
        ------
        ValueError
            For invalid parameters or input that is not a numeric matrix.
        """
        self._validate_params()
        X = validate_data(self, X, reset=True, accept_sparse=("csr", "csc"))
        if not sp.issparse(X):
            X = sp.csr_matrix(X)
        self._fit_counts(X)
        return self

    def _fit_counts(self, X: Any) -> None:
        """Learn ``idf_`` from a validated CSR/CSC count matrix."""
        df = document_frequency(X, self.n_jobs)
        self._fit_frequencies(df, X.shape[0], output_dtype(X.dtype))

    def _fit_frequencies(self, df: np.ndarray, n_samples: int, dtype: np.dtype) -> None:
        """Learn ``idf_`` (in ``dtype``) from the document frequency ``df`` (int64, one
        per column) of each term in ``n_samples`` documents."""
        if self.use_idf:
            self.idf_ = _idf(df, n_samples, self.smooth_idf, dtype)
        elif "idf_" in self.__dict__:
            del self.idf_  # from an earlier fit with use_idf=True

    def transform(self, X: Any, copy: bool = True) -> sp.csr_matrix:
        """Weigh a count matrix by the learned idf and normalise its rows.

        Parameters
        ----------
        X : sparse matrix or array-like of shape (n_samples, n_features)
            Term counts.
        copy : bool, default=True
            Work on a copy. With ``copy=False`` a float CSR input is weighed in place.

        Returns
        -------
        X_tfidf : scipy.sparse.csr_matrix of shape (n_samples, n_features)
            The weighted, normalised matrix: float32 for float32 input, float64
            otherwise; the input's sparsity structure.

        Raises
        ------
        NotFittedError
            If ``fit`` has not been called (and no ``idf_`` was assigned).
        ValueError
            If ``X`` does not have ``n_features_in_`` columns, or, with
            ``sublinear_tf``, stores a value that is zero or negative.
        """
        if not ("n_features_in_" in self.__dict__ or "idf_" in self.__dict__):
            check_is_fitted(self, "n_features_in_")
        self._validate_params()
        X = validate_data(self, X, reset=False, accept_sparse="csr")
        if not sp.issparse(X):
            X = sp.csr_matrix(X)
        dtype = output_dtype(X.dtype)
        idf = self._checked_idf(X.shape[1]) if self.use_idf or "idf_" in self.__dict__ else None
        if self.sublinear_tf and X.nnz and X.data.min() <= 0:
            raise ValueError(
                "sublinear_tf takes the logarithm of every stored count: X has a stored "
                "value <= 0 (drop explicit zeros with X.eliminate_zeros())"
            )
        if X.dtype != dtype and not X.has_canonical_format:
            # scikit-learn converts the dtype with scipy's astype, which sorts each row
            # and sums duplicates: the same structure here, without the float copy
            X = X.copy()
            X.sum_duplicates()
            copy = False
        if X.dtype == dtype and not copy:
            data = X.data
        else:
            data = np.empty(X.nnz, dtype=dtype)
        weigh_csr(X.indptr, X.indices, X.data, data, sublinear=self.sublinear_tf, idf=idf,
                  norm=self.norm, n_jobs=self.n_jobs)
        if data is X.data and isinstance(X, sp.csr_matrix):
            return X
        indices, indptr = (X.indices, X.indptr) if not copy else (X.indices.copy(),
                                                                  X.indptr.copy())
        return sp.csr_matrix((data, indices, indptr), shape=X.shape)

    def _checked_idf(self, n_features: int) -> np.ndarray:
        if "idf_" not in self.__dict__:
            raise NotFittedError(
                f"{type(self).__name__} has no idf_: call 'fit' before 'transform'"
            )
        idf = np.asarray(self.idf_)
        if idf.ndim != 1 or len(idf) != n_features:
            raise ValueError(
                f"idf_ has shape {idf.shape}, but X has {n_features} features"
            )
        return idf

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output feature names: the input's (one output column per input column).

        Parameters
        ----------
        input_features : array-like of str, optional
            Names of the input columns; default ``feature_names_in_`` if ``fit``
            saw them, else ``x0, x1, ...``.

        Returns
        -------
        feature_names_out : ndarray of shape (n_features,), dtype=object
            The input's column names: ``input_features``, else
            ``feature_names_in_``, else ``x0, x1, ...``.

        Raises
        ------
        ValueError
            If ``input_features`` differs from ``feature_names_in_`` or has the
            wrong length.
        """
        check_is_fitted(self, "n_features_in_")
        n = self.n_features_in_
        names_in = getattr(self, "feature_names_in_", None)
        if input_features is None:
            if names_in is not None:
                return np.asarray(names_in, dtype=object)
            return np.asarray([f"x{i}" for i in range(n)], dtype=object)
        input_features = np.asarray(input_features, dtype=object)
        if names_in is not None and not np.array_equal(names_in, input_features):
            raise ValueError("input_features is not equal to feature_names_in_")
        if len(input_features) != n:
            raise ValueError(
                f"input_features should have length equal to number of features ({n}), "
                f"got {len(input_features)}"
            )
        return input_features

    def __sklearn_tags__(self):  # pragma: no cover - called by scikit-learn only
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


@fill(**SHARED)
class TfidfVectorizer(CountVectorizer):
    r"""Convert a collection of raw documents to a matrix of TF-IDF features.

    A drop-in replacement for scikit-learn's ``TfidfVectorizer``: a
    :class:`CountVectorizer` followed by a :class:`TfidfTransformer`, with the
    same parameters, attributes and results (identical vocabulary and sparse
    structure; float64 values bit for bit, float32 values kept in float32), plus
    ``n_jobs``. The weight of term ``t`` in document ``d`` is
    ``tf(t, d) * idf(t)`` (see :class:`TfidfTransformer`), and each row is then
    scaled to unit ``norm``.

    What runs compiled: counting as in :class:`CountVectorizer` (the ``"word"``
    analyzer with the default token pattern or ``(?u)\b\w+\b``, the ``"char"``
    and ``"char_wb"`` analyzers), and the weighting (``binary``,
    ``sublinear_tf``, idf, norm) in every case, done on the thread that counted
    each chunk of documents, right after counting. Decoding, accent stripping and
    a custom ``preprocessor`` run in Python before the kernel; other token
    patterns, a ``tokenizer`` or a callable ``analyzer`` make the counting run in
    Python, with the same results.

    Parameters
    ----------
    {{input}}
    {{encoding}}
    {{decode_error}}
    {{strip_accents}}
    {{lowercase}}
    {{preprocessor}}
    tokenizer : callable, default=None
        Function ``str -> list of tokens`` that replaces ``token_pattern`` for the
        ``"word"`` analyzer; stop words and n-grams are then applied to its
        tokens. A tokenizer makes the counting run in Python.
    {{analyzer}}
    {{stop_words}}
    {{token_pattern}}
    {{ngram_range}}
    max_df : float in [0.0, 1.0] or int, default=1.0
        Leave out of the vocabulary the terms that occur in more documents than
        this: a fraction of the documents (float) or a number of documents
        (int). Not used with a given ``vocabulary``.
    {{min_df}}
    {{max_features}}
    vocabulary : Mapping or iterable, default=None
        A fixed vocabulary instead of one learned from the documents: a mapping
        of term to column index (the indices ``0 .. n_terms - 1``, each once), or
        an iterable of distinct terms whose order gives the columns (a ``set`` is
        sorted first). ``fit`` then learns only ``idf_``; terms outside the
        vocabulary are ignored. None learns the vocabulary in ``fit``.
    binary : bool, default=False
        Count every term present in a document once (tf-idf of presence rather
        than of counts). The idf and the norm still apply.
    dtype : {np.float64, np.float32}, default=np.float64
        Type of the values of the output matrix and of ``idf_``. Any other dtype
        gives float64, with a warning.
    norm : {"l1", "l2"} or None, default="l2"
        Scale each row to unit Euclidean length (``"l2"``, so that the dot
        product of two rows is their cosine similarity) or to a unit sum of
        absolute values (``"l1"``); None leaves the rows as weighed.
    use_idf : bool, default=True
        Multiply each term's tf by its inverse document frequency ``idf_``,
        learned by ``fit``; False gives the (normalised) term frequencies alone.
    smooth_idf : bool, default=True
        Add one to every document frequency and to the number of documents, as
        if one extra document held every term once; this avoids a division by
        zero for a term of a given ``vocabulary`` that occurs in no document.
    sublinear_tf : bool, default=False
        Replace each count ``c`` by ``1 + log(c)``, so that a term repeated many
        times in a document weighs less than proportionally.
    n_jobs : int or None, default=1
        Threads that count and weigh the documents: they are split into chunks,
        each counted and weighed on one thread on the compiled path and merged
        into exactly the result of one thread. None means 1, ``-1`` all cores,
        ``-2`` all but one, and so on. Each thread gets at least 256 documents,
        so small inputs use fewer threads; the Python counting path uses one.

    Attributes
    ----------
    vocabulary_ : dict
        Term to column index. The columns are the terms in sorted (code point)
        order.
    fixed_vocabulary_ : bool
        True when ``vocabulary`` was given (only ``idf_`` was learned).
    idf_ : ndarray of shape (n_features,)
        Inverse document frequency of each column's term, only with ``use_idf``,
        in ``dtype``. It may be assigned, together with a ``vocabulary``, to use
        known weights without fitting.

    See Also
    --------
    CountVectorizer : The term counts alone.
    TfidfTransformer : Tf-idf weighting of an existing count matrix.
    HashingVectorizer : Stateless hashed counts (combine with
        ``TfidfTransformer`` for hashed tf-idf).
    fastgen.naive_bayes.ComplementNB : A Naive Bayes classifier suited to
        tf-idf features.
    fastgen.pipeline.TextClassifier : Vectorizer and Naive Bayes, predicting from
        raw text in one compiled pass.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgen.text import TfidfVectorizer
    >>> docs = ["the cat sat", "the dog sat", "the cat ran"]
    >>> vec = TfidfVectorizer()
    >>> X = vec.fit_transform(docs)
    >>> vec.get_feature_names_out()
    array(['cat', 'dog', 'ran', 'sat', 'the'], dtype=object)
    >>> vec.idf_.round(3).tolist()
    [1.288, 1.693, 1.693, 1.288, 1.0]
    >>> X.toarray().round(2)
    array([[0.62, 0.  , 0.  , 0.62, 0.48],
           [0.  , 0.72, 0.  , 0.55, 0.43],
           [0.55, 0.  , 0.72, 0.  , 0.43]])

    float32 output and sublinear term frequencies, counted on two threads:

    >>> vec32 = TfidfVectorizer(dtype=np.float32, sublinear_tf=True, n_jobs=2)
    >>> vec32.fit_transform(docs).dtype
    dtype('float32')
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
        analyzer: Any = "word",
        stop_words: Any = None,
        token_pattern: str | None = r"(?u)\b\w\w+\b",
        ngram_range: tuple[int, int] = (1, 1),
        max_df: float | int = 1.0,
        min_df: float | int = 1,
        max_features: int | None = None,
        vocabulary: Any = None,
        binary: bool = False,
        dtype: Any = np.float64,
        norm: str | None = "l2",
        use_idf: bool = True,
        smooth_idf: bool = True,
        sublinear_tf: bool = False,
        n_jobs: int | None = 1,
    ) -> None:
        super().__init__(
            input=input, encoding=encoding, decode_error=decode_error,
            strip_accents=strip_accents, lowercase=lowercase, preprocessor=preprocessor,
            tokenizer=tokenizer, analyzer=analyzer, stop_words=stop_words,
            token_pattern=token_pattern, ngram_range=ngram_range, max_df=max_df,
            min_df=min_df, max_features=max_features, vocabulary=vocabulary, binary=binary,
            dtype=dtype, n_jobs=n_jobs,
        )
        self.norm = norm
        self.use_idf = use_idf
        self.smooth_idf = smooth_idf
        self.sublinear_tf = sublinear_tf

    # ----------------------------------------------------------- idf_
    @property
    def idf_(self) -> np.ndarray:
        """Inverse document frequencies, one per column (only with ``use_idf``)."""
        if "_tfidf" not in self.__dict__:
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet. Call 'fit' with appropriate "
                "arguments before using this attribute."
            )
        return self._tfidf.idf_

    @idf_.setter
    def idf_(self, value: Any) -> None:
        if not self.use_idf:
            raise ValueError("`idf_` cannot be set when `user_idf=False`.")
        if "_tfidf" not in self.__dict__:
            self._tfidf = self._new_tfidf()
        self._validate_vocabulary()
        value = np.asarray(value)
        if hasattr(self, "vocabulary_") and len(self.vocabulary_) != len(value):
            raise ValueError(
                f"idf length = {len(value)} must be equal to vocabulary size = "
                f"{len(self.vocabulary_)}"
            )
        self._tfidf.idf_ = value

    # ----------------------------------------------------------- parameters
    def _validate_params(self) -> None:
        super()._validate_params()
        _check_norm(self)
        check_bool_params(self, "use_idf", "smooth_idf", "sublinear_tf")

    def _check_dtype(self) -> None:
        if np.dtype(self.dtype).type not in _FLOAT_DTYPES:
            warnings.warn(
                f"Only {_FLOAT_DTYPES} 'dtype' should be used. {self.dtype} 'dtype' will be "
                "converted to np.float64.",
                UserWarning,
                stacklevel=3,
            )

    def _new_tfidf(self) -> TfidfTransformer:
        return TfidfTransformer(norm=self.norm, use_idf=self.use_idf,
                                smooth_idf=self.smooth_idf, sublinear_tf=self.sublinear_tf,
                                n_jobs=self.n_jobs)

    def _weighting(self) -> dict:
        """The fitted weighting as ``weigh_csr`` keywords (``idf`` None without idf)."""
        tfidf = self._tfidf
        idf = None
        if tfidf.use_idf or "idf_" in tfidf.__dict__:
            idf = tfidf._checked_idf(len(self.vocabulary_))
        return {"binary": bool(self.binary), "sublinear": bool(tfidf.sublinear_tf),
                "idf": idf, "norm": tfidf.norm}

    # ----------------------------------------------------------- public API
    def fit(self, raw_documents: Any, y: Any = None) -> TfidfVectorizer:
        """Learn the vocabulary and the idf of the documents.

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
        self._fit_counts(raw_documents)
        return self

    def _fit_counts(self, raw_documents: Any) -> sp.csr_matrix:
        """Fit the vocabulary and ``idf_``; return the count matrix (``binary`` applied)."""
        self._check_dtype()
        self._validate_params()
        X = CountVectorizer.fit_transform(self, raw_documents)
        df = document_frequency(X, self.n_jobs)
        self._fit_weighting(df, X.shape[0], output_dtype(self.dtype))
        return X

    def _counts_dtype(self) -> Any:
        """Counts stay int32 when the output is float64 (exact either way): weighing
        then reads them once into the output, instead of converting them to a float64
        copy first. Other dtypes count as scikit-learn does (its ``max_features`` sums
        float32 counts in float32)."""
        return np.int32 if np.dtype(self.dtype) == np.float64 else self.dtype

    def _fit_weighting(self, df: np.ndarray, n_documents: int, dtype: np.dtype) -> None:
        """Fit the weighting (``_tfidf``) from each vocabulary column's document
        frequency ``df`` (int64) in ``n_documents`` documents."""
        tfidf = self._new_tfidf()
        tfidf.n_features_in_ = len(df)
        tfidf._fit_frequencies(df, n_documents, dtype)
        self._tfidf = tfidf

    # ----------------------------------------------------------- batched fitting
    def _fit_from_frequencies(
        self, terms: list, dfs: np.ndarray, tfs: np.ndarray, n_doc: int
    ) -> TfidfVectorizer:
        """Learn ``vocabulary_`` and ``idf_`` from ``_term_frequencies`` summed over all
        batches (used by fastgen.dask), exactly as ``fit`` on the whole corpus.

        ``terms`` in first-appearance order over the corpus, with document frequencies
        ``dfs`` and term frequencies ``tfs``; ``n_doc`` documents in all.  The
        vocabulary is selected by :meth:`CountVectorizer._fit_from_frequencies`; with
        a given ``vocabulary`` only ``idf_`` is learned (its terms in no batch have
        document frequency 0).
        """
        self._check_dtype()
        self._validate_params()
        self._validate_vocabulary()
        if not self.fixed_vocabulary_:
            super()._fit_from_frequencies(terms, dfs, tfs, n_doc)
        position = {term: i for i, term in enumerate(terms)}
        df = np.zeros(len(self.vocabulary_), dtype=np.int64)
        for term, column in self.vocabulary_.items():
            i = position.get(term)
            if i is not None:
                df[column] = dfs[i]
        self._fit_weighting(df, n_doc, output_dtype(self.dtype))
        return self

    def fit_transform(self, raw_documents: Any, y: Any = None) -> sp.csr_matrix:
        """Learn the vocabulary and idf, and return the tf-idf matrix of the documents.

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
            Tf-idf weights of every vocabulary term in every document, float32
            when ``dtype`` is float32, float64 otherwise.

        Raises
        ------
        ValueError
            For invalid parameters, a single string instead of an iterable of
            documents, documents without any term, or ``max_df``/``min_df``/
            ``max_features`` that leave no term.
        """
        X = self._fit_counts(raw_documents)
        dtype = output_dtype(self.dtype)
        if np.dtype(self.dtype) != dtype:
            X.sum_duplicates()  # scipy's astype, which scikit-learn converts with, sorts rows
        data = X.data if X.dtype == dtype else np.empty(X.nnz, dtype=dtype)
        weigh_csr(X.indptr, X.indices, X.data, data, **self._weighting(), n_jobs=self.n_jobs)
        if data is X.data:
            return X
        out = sp.csr_matrix((data, X.indices, X.indptr), shape=X.shape)
        out.has_sorted_indices = X.has_sorted_indices
        return out

    def transform(self, raw_documents: Any) -> sp.csr_matrix:
        """Weigh the vocabulary's terms in each document by the learned idf.

        Terms that are not in ``vocabulary_`` are ignored. Each chunk of
        documents is counted and weighed on the same thread, without an
        intermediate count matrix for the whole input.

        Parameters
        ----------
        raw_documents : iterable
            The documents, each a ``str``, ``bytes``, file name or file object
            according to ``input``. A single string is refused.

        Returns
        -------
        X : scipy.sparse.csr_matrix of shape (n_documents, n_features)
            Tf-idf weights of every vocabulary term in every document, float32
            when ``dtype`` is float32, float64 otherwise.

        Raises
        ------
        NotFittedError
            If the vectorizer has not been fitted (a given ``vocabulary`` alone is
            not enough unless ``idf_`` is assigned too).
        ValueError
            For invalid parameters, or a single string instead of an iterable of
            documents.
        """
        if "_tfidf" not in self.__dict__:
            raise NotFittedError("The TF-IDF vectorizer is not fitted")
        return self._transform_weighted(raw_documents, self._weighting(),
                                        output_dtype(self.dtype))

    def __sklearn_tags__(self):  # pragma: no cover - called by scikit-learn only
        tags = super().__sklearn_tags__()
        tags._skip_test = True  # as scikit-learn's: a text vectorizer, checked by its own tests
        return tags
