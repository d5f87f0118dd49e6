"""Document analysis shared by the vectorizers and the fused text classifier.

:class:`TextAnalysisMixin` holds scikit-learn's text-processing parameters
and decides, per call, between

* the compiled path (``fastgen._kernels._text``): documents are decoded and
  preprocessed in Python (one ``str`` operation per document, so
  ``str.lower`` and accent stripping behave exactly as in scikit-learn),
  then tokenized, n-grammed and counted by the kernel; and
* the Python path, used for custom token patterns, tokenizers and callable
  analyzers, with scikit-learn's exact analyzer semantics.
"""

from __future__ import annotations

import codecs
import os
import re
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from .._kernels import _text
from .._validation import InvalidParameterError, check_bool_params, invalid_param

#: Token patterns the compiled tokenizer implements, with their minimum token length.
_FAST_TOKEN_PATTERNS = {
    r"(?u)\b\w\w+\b": 2,
    r"\b\w\w+\b": 2,
    r"(?u)\b\w+\b": 1,
    r"\b\w+\b": 1,
}

_WHITE_SPACES = re.compile(r"\s\s+")

#: Documents per task when work is split over threads.
_MIN_CHUNK = 256

#: Largest n-gram size handed to the kernel (C int, with room for ``max_n + 1``).
_MAX_NGRAM = 2**31 - 2

#: Value dtypes scipy.sparse supports (``scipy.sparse._sputils.supported_dtypes``).
_SPARSE_DTYPES = (
    np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64,
    np.longlong, np.ulonglong, np.float32, np.float64, np.longdouble, np.complex64,
    np.complex128, np.clongdouble,
)


class EncodingError(LookupError, ValueError):
    """Unknown or non-text ``encoding``.

    A ``LookupError``, as decoding with it raises (in scikit-learn too), and a
    ``ValueError``, as every other invalid parameter.
    """


def check_sparse_dtype(dtype: Any) -> np.dtype:
    """``np.dtype(dtype)`` if scipy.sparse supports it; the errors scikit-learn's fit raises.

    The byte order is not checked: a non-native one fails later in scipy, as in
    scikit-learn, unless a norm makes the output float64 anyway (``HashingVectorizer``).
    """
    dt = np.dtype(dtype)  # TypeError for what NumPy cannot read
    if dt.newbyteorder("=") not in _SPARSE_DTYPES:
        names = ", ".join(t.__name__ for t in _SPARSE_DTYPES)
        raise ValueError(
            f"scipy.sparse does not support dtype {dt}. The only supported types are: {names}."
        )
    return dt


def strip_accents_unicode(s: str) -> str:
    """Remove accents and other combining marks from a string.

    The string is decomposed to Unicode normal form NFKD (an accented letter
    becomes its base letter followed by combining marks, compatibility characters
    such as ligatures become their plain equivalents) and the combining marks are
    dropped. Letters without a decomposition (``ß``, ``œ``, non-Latin scripts)
    are kept. A pure ASCII string is returned as it is, without normalisation.
    This is what ``strip_accents="unicode"`` applies to every document, in Python.

    Parameters
    ----------
    s : str
        The text to strip.

    Returns
    -------
    str
        ``s`` without combining marks, NFKD-normalised unless it was ASCII.

    See Also
    --------
    strip_accents_ascii : Keep only what has an ASCII form (faster, drops more).
    CountVectorizer : Applies it to every document with ``strip_accents="unicode"``.

    Examples
    --------
    >>> from fastgen.text import strip_accents_unicode
    >>> strip_accents_unicode("café naïve Ångström")
    'cafe naive Angstrom'
    >>> strip_accents_unicode("Straße")
    'Straße'
    """
    if s.isascii():
        return s
    normalized = unicodedata.normalize("NFKD", s)
    return "".join(c for c in normalized if not unicodedata.combining(c))


def strip_accents_ascii(s: str) -> str:
    """Transliterate a string to ASCII, dropping what has no ASCII form.

    The string is decomposed to Unicode normal form NFKD, then every character
    that is not ASCII is removed: accented Latin letters keep their base letter,
    while letters without an ASCII decomposition (``ß``, ``œ``, Greek, Cyrillic,
    CJK, ...) disappear. This is what ``strip_accents="ascii"`` applies to every
    document, in Python; use it only for text in languages written in ASCII
    letters plus accents.

    Parameters
    ----------
    s : str
        The text to transliterate.

    Returns
    -------
    str
        The ASCII characters of the NFKD form of ``s``.

    See Also
    --------
    strip_accents_unicode : Remove only combining marks, keep every letter.
    CountVectorizer : Applies it to every document with ``strip_accents="ascii"``.

    Examples
    --------
    >>> from fastgen.text import strip_accents_ascii
    >>> strip_accents_ascii("café naïve Ångström")
    'cafe naive Angstrom'
    >>> strip_accents_ascii("Straße")
    'Strae'
    """
    return unicodedata.normalize("NFKD", s).encode("ASCII", "ignore").decode("ASCII")


def english_stop_words() -> frozenset[str]:
    """scikit-learn's English stop-word list (requires scikit-learn)."""
    try:
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    except ImportError as exc:  # pragma: no cover - sklearn is a dev dependency
        raise ValueError(
            "stop_words='english' uses scikit-learn's list; install scikit-learn or pass "
            "your own list of stop words"
        ) from exc
    return ENGLISH_STOP_WORDS


def _check_stop_list(stop: Any) -> frozenset | None:
    if stop == "english":
        return english_stop_words()
    if isinstance(stop, str):
        raise InvalidParameterError(f"not a built-in stop list: {stop}")
    if stop is None:
        return None
    return frozenset(stop)


def n_threads(n_jobs: int | None) -> int:
    """Threads for ``n_jobs`` (None -> 1, -1 -> all cores, -2 -> all but one, ...)."""
    if n_jobs is None:
        return 1
    if not isinstance(n_jobs, (int, np.integer)) or isinstance(n_jobs, bool) or n_jobs == 0:
        raise ValueError(f"n_jobs must be a non-zero integer or None, got {n_jobs!r}")
    if n_jobs < 0:
        return max(1, (os.cpu_count() or 1) + 1 + int(n_jobs))
    return int(n_jobs)


def parallel_map(fn: Callable[[Any], Any], items: list, n_jobs: int | None) -> list:
    """``[fn(item) for item in items]`` on up to ``n_jobs`` threads, results in order."""
    workers = min(n_threads(n_jobs), len(items))
    if workers <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


def chunk_workers(n_items: int, n_jobs: int | None) -> int:
    """Threads ``map_chunks`` uses for ``n_items`` items (1: one chunk, no threads)."""
    return min(n_threads(n_jobs), max(1, n_items // _MIN_CHUNK))


def map_chunks(
    fn: Callable[[list], Any], items: list, n_jobs: int | None, chunks_per_thread: int = 4
) -> list:
    """``[fn(chunk) for chunk in chunks(items)]``, chunks run on ``n_jobs`` threads.

    With one thread the whole list is one chunk. Results keep chunk order.
    """
    workers = chunk_workers(len(items), n_jobs)
    if workers <= 1:
        return [fn(items)]
    bounds = np.linspace(0, len(items), chunks_per_thread * workers + 1).astype(int)
    chunks = [items[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    return parallel_map(fn, chunks, workers)


def concat_rows(
    parts: list[tuple], dtype: Any = None, n_jobs: int | None = 1
) -> tuple[np.ndarray, ...]:
    """Stack per-chunk CSR pieces ``(indptr, indices, values)`` in chunk order.

    ``dtype``: the values' output dtype, converted while stacking (no extra copy).
    The pieces are copied into the preallocated output on up to ``n_jobs``
    threads (NumPy copies run without the GIL).
    """
    if len(parts) == 1:
        indptr, indices, values = parts[0]
        return indptr, indices, values.astype(dtype or values.dtype, copy=False)
    row_offsets, nnz_offsets = _part_offsets(parts)
    indptr = np.empty(row_offsets[-1] + 1, dtype=np.int64)
    indptr[0] = 0
    indices = np.empty(nnz_offsets[-1], dtype=np.result_type(*(p[1] for p in parts)))
    values = np.empty(nnz_offsets[-1], dtype=dtype or np.result_type(*(p[2] for p in parts)))

    def place(k: int) -> None:
        p_indptr, p_indices, p_values = parts[k]
        r, z = row_offsets[k], nnz_offsets[k]
        np.add(p_indptr[1:], z, out=indptr[r + 1 : row_offsets[k + 1] + 1])
        indices[z : nnz_offsets[k + 1]] = p_indices
        values[z : nnz_offsets[k + 1]] = p_values

    parallel_map(place, list(range(len(parts))), n_jobs)
    return indptr, indices, values


def _part_offsets(parts: list[tuple]) -> tuple[list[int], list[int]]:
    """Row and entry offsets of CSR pieces ``(indptr, indices, ...)`` stacked in order."""
    rows = [0]
    nnz = [0]
    for p in parts:
        if len(p[0]) < 1 or p[0][0] != 0 or p[0][-1] != len(p[1]):
            raise ValueError("inconsistent CSR piece")
        rows.append(rows[-1] + len(p[0]) - 1)
        nnz.append(nnz[-1] + int(p[0][-1]))
    return rows, nnz


@dataclass(frozen=True)
class KernelPlan:
    """Arguments of the compiled analyzer for one vectorizer configuration."""

    analyzer: int
    min_n: int
    max_n: int
    min_token_len: int
    stop: _text.TermTable | None
    lower: bool  # the kernel lower-cases (no other preprocessing configured)

    def kwargs(self) -> dict[str, Any]:
        return {
            "analyzer": self.analyzer,
            "min_n": self.min_n,
            "max_n": self.max_n,
            "min_token_len": self.min_token_len,
            "stop": self.stop,
            "lower": self.lower,
        }


def _identity(doc: str) -> str:
    return doc


class TextAnalysisMixin:
    """scikit-learn's text-processing parameters and the analyzers built from them.

    Expects the parameters ``input, encoding, decode_error, strip_accents,
    lowercase, preprocessor, tokenizer, stop_words, token_pattern,
    ngram_range, analyzer, dtype, n_jobs`` as attributes.
    """

    # ----------------------------------------------------------- per document
    def decode(self, doc: Any) -> str:
        """Read and decode one document per ``input``, ``encoding`` and ``decode_error``.

        With ``input="filename"`` the file at ``doc`` is read in binary mode; with
        ``input="file"`` the object's ``read()`` is called; bytes are then decoded
        with ``encoding``, following ``decode_error``. A ``str`` is returned as it is.

        Parameters
        ----------
        doc : str, bytes, path or file-like object
            One raw document, in the form ``input`` says.

        Returns
        -------
        str
            The document's text (what a ``file``'s ``read()`` returns if that is not
            bytes).

        Raises
        ------
        ValueError
            If ``doc`` is ``np.nan`` (a missing value in a column of documents).
        UnicodeDecodeError
            If the bytes are not valid in ``encoding`` and ``decode_error="strict"``.
        """
        if self.input == "filename":
            with open(doc, "rb") as fh:
                doc = fh.read()
        elif self.input == "file":
            doc = doc.read()
        if isinstance(doc, bytes):
            doc = doc.decode(self.encoding, self.decode_error)
        if doc is np.nan:
            raise ValueError("np.nan is an invalid document, expected byte or unicode string.")
        return doc

    def _accent_function(self) -> Callable[[str], str] | None:
        if not self.strip_accents:
            return None
        if callable(self.strip_accents):
            return self.strip_accents
        if self.strip_accents == "ascii":
            return strip_accents_ascii
        if self.strip_accents == "unicode":
            return strip_accents_unicode
        raise ValueError(f'Invalid value for "strip_accents": {self.strip_accents}')

    def build_preprocessor(self) -> Callable[[str], str]:
        """Return the function applied to every decoded document before tokenizing.

        It is ``preprocessor`` when one is given; otherwise it lower-cases (with
        ``lowercase``) and then strips accents (per ``strip_accents``), or returns
        the document unchanged when neither is asked for. The compiled analyzers
        apply the same steps (lower-casing in the kernel itself when nothing else
        is configured); this function is the Python form of them.

        Returns
        -------
        callable
            ``preprocess(doc: str) -> str``.
        """
        if self.preprocessor is not None:
            return self.preprocessor
        accents = self._accent_function()
        if not self.lowercase and accents is None:
            return _identity
        return partial(_preprocess, accent_function=accents, lower=self.lowercase)

    def build_tokenizer(self) -> Callable[[str], list[str]]:
        """Return the function that splits a preprocessed document into word tokens.

        It is ``tokenizer`` when one is given; otherwise the ``findall`` of the
        compiled ``token_pattern`` regular expression (when the pattern has one
        capturing group, the group's text is the token). Used by the ``word``
        analyzer only.

        Returns
        -------
        callable
            ``tokenize(doc: str) -> list of str``.

        Raises
        ------
        ValueError
            If ``token_pattern`` has more than one capturing group.
        """
        if self.tokenizer is not None:
            return self.tokenizer
        token_pattern = re.compile(self.token_pattern)
        if token_pattern.groups > 1:
            raise ValueError(
                "More than 1 capturing group in token pattern. Only a single "
                "group should be captured."
            )
        return token_pattern.findall

    def get_stop_words(self) -> frozenset | None:
        """Return the stop words the ``word`` analyzer removes.

        Returns
        -------
        frozenset of str or None
            scikit-learn's English list for ``stop_words="english"`` (scikit-learn
            must be installed), the given collection as a frozenset, or None when
            ``stop_words`` is None.

        Raises
        ------
        ValueError
            For a string other than ``"english"``, or ``"english"`` without
            scikit-learn installed.
        """
        return _check_stop_list(self.stop_words)

    def build_analyzer(self) -> Callable[[Any], list]:
        """Return the Python function that turns one raw document into its terms.

        The function decodes the document (:meth:`decode`), preprocesses it
        (:meth:`build_preprocessor`), then, per ``analyzer``: tokenizes it
        (:meth:`build_tokenizer`), removes the stop words and forms word n-grams
        (``"word"``); forms character n-grams of the whole text (``"char"``) or of
        each space-padded word (``"char_wb"``), after collapsing runs of white
        space; or calls the ``analyzer`` callable on the decoded document.
        ``fit`` and ``transform`` use the compiled kernel instead whenever it
        supports the configuration; both give the same terms.

        Returns
        -------
        callable
            ``analyze(doc) -> list`` of terms (strings, or whatever a callable
            ``analyzer`` or ``tokenizer`` produces).

        Raises
        ------
        ValueError
            For an ``analyzer`` that is neither callable nor one of ``"word"``,
            ``"char"``, ``"char_wb"``.
        """
        if callable(self.analyzer):
            return partial(_analyze, analyzer=self.analyzer, decoder=self.decode)
        preprocess = self.build_preprocessor()
        if self.analyzer == "char":
            return partial(
                _analyze, ngrams=self._char_ngrams, preprocessor=preprocess, decoder=self.decode
            )
        if self.analyzer == "char_wb":
            return partial(
                _analyze, ngrams=self._char_wb_ngrams, preprocessor=preprocess,
                decoder=self.decode,
            )
        if self.analyzer == "word":
            stop_words = self.get_stop_words()
            tokenize = self.build_tokenizer()
            self._check_stop_words_consistency(stop_words, preprocess, tokenize)
            return partial(
                _analyze, ngrams=self._word_ngrams, tokenizer=tokenize, preprocessor=preprocess,
                decoder=self.decode, stop_words=stop_words,
            )
        raise ValueError(f"{self.analyzer} is not a valid tokenization scheme/analyzer")

    # ----------------------------------------------------------- n-grams
    def _word_ngrams(self, tokens: list[str], stop_words: frozenset | None = None) -> list[str]:
        if stop_words is not None:
            tokens = [w for w in tokens if w not in stop_words]
        min_n, max_n = self.ngram_range
        if max_n == 1:
            return tokens
        original = tokens
        n_orig = len(original)
        if min_n == 1:
            tokens = list(original)
            min_n += 1
        else:
            tokens = []
        for n in range(min_n, min(max_n + 1, n_orig + 1)):
            for i in range(n_orig - n + 1):
                tokens.append(" ".join(original[i : i + n]))
        return tokens

    def _char_ngrams(self, text: str) -> list[str]:
        text = _WHITE_SPACES.sub(" ", text)
        text_len = len(text)
        min_n, max_n = self.ngram_range
        if min_n == 1:
            ngrams = list(text)
            min_n += 1
        else:
            ngrams = []
        for n in range(min_n, min(max_n + 1, text_len + 1)):
            for i in range(text_len - n + 1):
                ngrams.append(text[i : i + n])
        return ngrams

    def _char_wb_ngrams(self, text: str) -> list[str]:
        text = _WHITE_SPACES.sub(" ", text)
        min_n, max_n = self.ngram_range
        ngrams = []
        for w in text.split():
            w = " " + w + " "
            w_len = len(w)
            for n in range(min_n, max_n + 1):
                offset = 0
                ngrams.append(w[offset : offset + n])
                while offset + n < w_len:
                    offset += 1
                    ngrams.append(w[offset : offset + n])
                if offset == 0:  # a short word is counted once
                    break
        return ngrams

    # ----------------------------------------------------------- validation
    def _validate_ngram_range(self) -> None:
        rng = self.ngram_range
        malformed = (
            not isinstance(rng, tuple)
            or len(rng) != 2
            or not all(isinstance(v, (int, np.integer)) for v in rng)
        )
        if malformed:  # scikit-learn's parameter validation rejects it (a TypeError too)
            raise InvalidParameterError(
                f"Invalid value for ngram_range={rng!r}: it must be a tuple of two positive "
                "integers."
            )
        if rng[0] > rng[1]:  # scikit-learn's own message
            raise ValueError(
                f"Invalid value for ngram_range={rng} lower boundary larger than the upper "
                "boundary."
            )
        if rng[0] < 1:
            raise ValueError(f"Invalid value for ngram_range={rng}: n-grams start at length 1.")

    def _validate_encoding(self) -> None:
        encoding = self.encoding
        if not isinstance(encoding, str):
            raise invalid_param(self, "encoding", "an instance of 'str'", encoding)
        try:
            text = codecs.lookup(encoding)._is_text_encoding
        except LookupError as exc:
            raise EncodingError(str(exc)) from None
        if not text:  # bytes.decode refuses these (base64, zlib, rot13, ...)
            raise EncodingError(
                f"{encoding!r} is not a text encoding; use codecs.decode() to handle "
                "arbitrary codecs"
            )

    def _validate_analysis_params(self) -> None:
        """Check the text-processing parameters, raising what scikit-learn's fit raises.

        Also run on every ``transform`` and on loading a model file: all checks are cheap
        (codec and regular expression lookups are cached).
        """
        if self.input not in ("filename", "file", "content"):
            raise invalid_param(self, "input", "a str among {'content', 'file', 'filename'}",
                                self.input)
        self._validate_encoding()
        if self.decode_error not in ("strict", "ignore", "replace"):
            raise invalid_param(self, "decode_error",
                                "a str among {'ignore', 'replace', 'strict'}", self.decode_error)
        strip = self.strip_accents
        if not (strip is None or callable(strip) or strip in ("ascii", "unicode")):
            raise invalid_param(self, "strip_accents",
                                "a str among {'ascii', 'unicode'}, None or a callable", strip)
        check_bool_params(self, "lowercase")
        for name in ("preprocessor", "tokenizer"):
            value = getattr(self, name)
            if not (value is None or callable(value)):
                raise invalid_param(self, name, "a callable or None", value)
        stop = self.stop_words
        if isinstance(stop, str):
            _check_stop_list(stop)  # only "english" is built in
        elif stop is not None and (
            not isinstance(stop, Iterable) or isinstance(stop, (bytes, Iterator))
        ):  # an iterator would be used up by the first document batch
            raise invalid_param(self, "stop_words",
                                "a str among {'english'}, a collection of str or None", stop)
        if self.token_pattern is not None and not isinstance(self.token_pattern, str):
            raise invalid_param(self, "token_pattern", "an instance of 'str' or None",
                                self.token_pattern)
        if not (callable(self.analyzer) or self.analyzer in ("word", "char", "char_wb")):
            raise InvalidParameterError(
                f"{self.analyzer} is not a valid tokenization scheme/analyzer"
            )
        if self.analyzer == "word" and self.tokenizer is None:
            self.build_tokenizer()  # compiles token_pattern: its errors surface here
        self._validate_ngram_range()
        check_sparse_dtype(self.dtype)
        n_threads(self.n_jobs)
        self._warn_for_unused_params()

    def _warn_for_unused_params(self) -> None:
        if self.tokenizer is not None and self.token_pattern is not None:
            warnings.warn(
                "The parameter 'token_pattern' will not be used since 'tokenizer' is not None'",
                stacklevel=3,
            )
        if self.preprocessor is not None and callable(self.analyzer):
            warnings.warn(
                "The parameter 'preprocessor' will not be used since 'analyzer' is callable'",
                stacklevel=3,
            )
        if (
            self.ngram_range != (1, 1)
            and self.ngram_range is not None
            and callable(self.analyzer)
        ):
            warnings.warn(
                "The parameter 'ngram_range' will not be used since 'analyzer' is callable'",
                stacklevel=3,
            )
        if self.analyzer != "word" or callable(self.analyzer):
            if self.stop_words is not None:
                warnings.warn(
                    "The parameter 'stop_words' will not be used since 'analyzer' != 'word'",
                    stacklevel=3,
                )
            if self.token_pattern is not None and self.token_pattern != r"(?u)\b\w\w+\b":
                warnings.warn(
                    "The parameter 'token_pattern' will not be used since 'analyzer' != 'word'",
                    stacklevel=3,
                )
            if self.tokenizer is not None:
                warnings.warn(
                    "The parameter 'tokenizer' will not be used since 'analyzer' != 'word'",
                    stacklevel=3,
                )

    def _check_stop_words_consistency(
        self, stop_words: frozenset | None, preprocess: Callable, tokenize: Callable
    ) -> bool | str | None:
        """Warn once per stop list if preprocessing it yields tokens not in it."""
        if id(self.stop_words) == getattr(self, "_stop_words_id", None):
            return None
        try:
            inconsistent = set()
            for w in stop_words or ():
                for token in tokenize(preprocess(w)):
                    if token not in stop_words:
                        inconsistent.add(token)
            self._stop_words_id = id(self.stop_words)
            if inconsistent:
                warnings.warn(
                    "Your stop_words may be inconsistent with your preprocessing. Tokenizing "
                    f"the stop words generated tokens {sorted(inconsistent)!r} not in "
                    "stop_words.",
                    stacklevel=4,
                )
            return not inconsistent
        except Exception:
            self._stop_words_id = id(self.stop_words)
            return "error"

    # ----------------------------------------------------------- compiled path
    def _kernel_plan(self) -> KernelPlan | None:
        """The compiled analyzer's arguments, or None when only Python can do it."""
        if callable(self.analyzer):
            return None
        code = _text.ANALYZERS[self.analyzer]
        # the kernel takes C ints; n-grams longer than any document change nothing
        min_n, max_n = (min(int(v), _MAX_NGRAM) for v in self.ngram_range)
        stop_table = None
        min_token_len = 1
        if self.analyzer == "word":
            if self.tokenizer is not None or self.token_pattern not in _FAST_TOKEN_PATTERNS:
                return None
            min_token_len = _FAST_TOKEN_PATTERNS[self.token_pattern]
            stop_words = self.get_stop_words()
            self._check_stop_words_consistency(
                stop_words, self.build_preprocessor(), self.build_tokenizer()
            )
            if stop_words:
                stop_table = _text.TermTable.from_terms(
                    [w for w in stop_words if type(w) is str]
                )
        lower = bool(self.lowercase) and self.preprocessor is None and not self.strip_accents
        return KernelPlan(code, min_n, max_n, min_token_len, stop_table, lower)

    def _kernel_texts(self, chunk: list, plan: KernelPlan) -> list:
        """The documents of ``chunk`` as the ``str`` the kernel analyzes.

        Plain ``str`` content the kernel can take as it is (it lower-cases
        itself when ``plan.lower``) passes through without a copy; otherwise
        each document is decoded and preprocessed here.
        """
        if (
            self.input == "content"
            and (plan.lower or (not self.lowercase and self.preprocessor is None
                                and not self.strip_accents))
            and _text.all_str(chunk)
        ):
            return chunk
        prepare = self._document_preparer(lower=not plan.lower)
        return [prepare(d) for d in chunk]

    def _document_preparer(self, lower: bool = True) -> Callable[[Any], str]:
        """One raw document -> decoded, preprocessed ``str`` (lower-casing only if ``lower``)."""
        if lower:
            preprocess = self.build_preprocessor()
        else:
            preprocess = partial(_preprocess, accent_function=None, lower=False)
        plain = self.input == "content"
        decode = self.decode
        custom = self.preprocessor is not None  # may accept any document object

        def prepare(doc: Any) -> str:
            if not (plain and type(doc) is str):
                doc = decode(doc)
                if not custom and not isinstance(doc, str):
                    raise TypeError(
                        f"documents must be str or bytes, got {type(doc).__name__}: {doc!r:.60}"
                    )
            doc = preprocess(doc)
            if type(doc) is not str:
                if not isinstance(doc, str):
                    raise TypeError(
                        f"the preprocessor must return str, got {type(doc).__name__}"
                    )
                doc = str(doc)
            return doc

        return prepare


def _preprocess(doc: str, accent_function: Callable | None = None, lower: bool = False) -> str:
    if not isinstance(doc, str) and (lower or accent_function is not None):
        raise TypeError(
            f"documents must be str or bytes, got {type(doc).__name__}: {doc!r:.60}"
        )
    if lower:
        doc = doc.lower()
    if accent_function is not None:
        doc = accent_function(doc)
    return doc


def _analyze(
    doc: Any,
    analyzer: Callable | None = None,
    tokenizer: Callable | None = None,
    ngrams: Callable | None = None,
    preprocessor: Callable | None = None,
    decoder: Callable | None = None,
    stop_words: frozenset | None = None,
) -> Iterable:
    if decoder is not None:
        doc = decoder(doc)
    if analyzer is not None:
        return analyzer(doc)
    if preprocessor is not None:
        doc = preprocessor(doc)
    if tokenizer is not None:
        doc = tokenizer(doc)
    if ngrams is not None:
        doc = ngrams(doc, stop_words) if stop_words is not None else ngrams(doc)
    return doc


def as_document_list(raw_documents: Any) -> list:
    """Materialise an iterable of documents, refusing a lone string."""
    if isinstance(raw_documents, (str, bytes)):
        raise ValueError("Iterable over raw text documents expected, string object received.")
    if isinstance(raw_documents, list):
        return raw_documents
    return list(raw_documents)
