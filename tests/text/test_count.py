"""fastgen.text.CountVectorizer against scikit-learn: identical vocabularies and CSR arrays."""

import pickle
import re
import subprocess
import sys
import time
import unicodedata
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.feature_extraction.text as skt
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import Pipeline

from fastgen._base import NotFittedError
from fastgen.text import CountVectorizer

# --------------------------------------------------------------------------- corpora

UNICODE_DOCS = [
    "The quick brown fox jumps over the lazy dog; the dog sleeps.",
    "Café crème brûlée naïve résumé Ångström Øresund",
    "Cafe\u0301 cre\u0300me bru\u0302le\u0301e nai\u0308ve",  # combining marks
    "ΟΔΟΣ ΣΑΣ Σ ΟΔΟΣ. ὈΔΥΣΣΕΎΣ Σ' ΑΣ.Σ σοφός",  # capital sigma at word ends
    "İSTANBUL İstanbul İi Iı ıi KIRIKKALE",  # Turkish dotted/dotless i
    "Привет мир! ПРИВЕТ, Мир; ёжик Ёжик",
    "東京都 日本語のテキスト 中文 한국어 텍스트",
    "emoji 😀😀 🎉party🎉 👍🏽 thumbs 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𐐀𐐨 𐐀",  # 4-byte, incl. Deseret upper/lower
    "digits 123 4567 ٣٤٥ ௧௨ under_score __init__ _ a_b",
    "x² y³ ½ ¼ ⅓ Ⅻ ⑴ ①② x²y 2½",  # isalnum quirks
    "العربية مُحَمَّد हिन्दी देवनागरी",  # Arabic / Devanagari combining marks
    "zero\u200bwidth joiner\u200dhere nb\u00a0sp thin\u2009space ideo\u3000space",
    "mixed a é 東 😀 aé東😀 é😀",  # 1/2/4-byte mix
    "tabs\tand\t\ttabs\nnew\nlines\n\n  multiple   spaces \r\n end ",
    "\x1c\x1d\x1e\x1f\x85 \u2028\u2029 separators\u2028here",
    "",
    "   ",
    "\t",
    "a",
    "A B C a b c",
    "MiXeD CaSe ẞ ß ǅ ǈ ǋ Ǳ",  # titlecase and sharp s
    "ﬁ ﬂ ﬃ ligatures Ⅷ ℌ ℍ ㎏",  # compatibility characters
]

RNG_WORDS = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu "
    "Αλφα ΒΗΤΑ γάμμα ΟΔΟΣ ΣΑΣ δέλτα İi İSTANBUL Привет мир 東京 日本 😀x 🎉 café Café "
    "x² ½ naïve 12 7 a_b _ the and of to"
).split()


def random_corpus(n_docs, seed=0, max_len=12):
    rng = np.random.default_rng(seed)
    seps = [" ", "  ", "\t", ", ", ". ", "\n", "\u00a0"]
    docs = []
    for _ in range(n_docs):
        k = int(rng.integers(0, max_len))
        words = rng.choice(RNG_WORDS, size=k)
        parts = []
        for w in words:
            parts.append(str(w))
            parts.append(seps[int(rng.integers(len(seps)))])
        docs.append("".join(parts))
    return docs


BIG_CORPUS = random_corpus(1500, seed=1)


# --------------------------------------------------------------------------- helpers


def assert_same_matrix(fg, sk):
    assert type(fg) is sp.csr_matrix
    assert type(sk) is sp.csr_matrix
    assert fg.shape == sk.shape
    for attr in ("indptr", "indices", "data"):
        a, b = getattr(fg, attr), getattr(sk, attr)
        assert a.dtype == b.dtype, (attr, a.dtype, b.dtype)
        np.testing.assert_array_equal(a, b, err_msg=attr)


def assert_same_fit(fg_vec, sk_vec):
    assert fg_vec.vocabulary_ == sk_vec.vocabulary_
    np.testing.assert_array_equal(fg_vec.get_feature_names_out(), sk_vec.get_feature_names_out())
    assert fg_vec.get_feature_names_out().dtype == object


def both(params, docs, method="fit_transform"):
    """Fit both vectorizers with ``params``; return (fg, sk, X_fg, X_sk) or raise the same."""
    fg = CountVectorizer(**params)
    sk = skt.CountVectorizer(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            X_sk = getattr(sk, method)(docs)
        except ValueError as exc:
            with pytest.raises(ValueError, match=re.escape(str(exc)[:40])):
                getattr(fg, method)(docs)
            return fg, sk, None, None
        X_fg = getattr(fg, method)(docs)
    return fg, sk, X_fg, X_sk


def check_same(params, docs, new_docs=None):
    fg, sk, X_fg, X_sk = both(params, docs)
    if X_sk is None:
        return None
    assert_same_matrix(X_fg, X_sk)
    assert_same_fit(fg, sk)
    if new_docs is not None:
        assert_same_matrix(fg.transform(new_docs), sk.transform(new_docs))
    return fg, sk, X_fg, X_sk


def lower_upper(s):
    return s.upper()


def first_letter_tokenizer(s):
    return [w[:1] for w in s.split()]


def char_bigrams(doc):
    return [doc[i : i + 2] for i in range(len(doc) - 1)]


NEW_DOCS = [
    "unseen words only zzzz qqqq",
    "the dog THE DOG σοφός ΟΔΟΣ",
    "",
    "😀😀 東京都 x² naïve İSTANBUL",
]


# --------------------------------------------------------------------------- grid vs sklearn


@pytest.mark.parametrize("analyzer", ["word", "char", "char_wb"])
@pytest.mark.parametrize("ngram_range", [(1, 1), (1, 2), (2, 3), (1, 4)])
@pytest.mark.parametrize("lowercase", [True, False])
def test_unicode_corpus_matches_sklearn(analyzer, ngram_range, lowercase):
    params = dict(analyzer=analyzer, ngram_range=ngram_range, lowercase=lowercase)
    check_same(params, UNICODE_DOCS, NEW_DOCS)


@pytest.mark.parametrize("analyzer", ["word", "char", "char_wb"])
@pytest.mark.parametrize(
    "strip_accents", [None, "ascii", "unicode", lower_upper], ids=["none", "ascii", "uni", "fn"]
)
@pytest.mark.parametrize("lowercase", [True, False])
def test_strip_accents_matches_sklearn(analyzer, strip_accents, lowercase):
    params = dict(
        analyzer=analyzer, strip_accents=strip_accents, lowercase=lowercase, ngram_range=(1, 2)
    )
    check_same(params, UNICODE_DOCS, NEW_DOCS)


@pytest.mark.parametrize(
    "stop_words",
    [None, ["the", "dog", "ΟΔΟΣ", "οδος", "σας", "mir", "мир", "😀x", "nothing"], "english"],
)
@pytest.mark.parametrize("ngram_range", [(1, 1), (1, 3), (2, 2)])
@pytest.mark.parametrize("lowercase", [True, False])
def test_stop_words_match_sklearn(stop_words, ngram_range, lowercase):
    params = dict(stop_words=stop_words, ngram_range=ngram_range, lowercase=lowercase)
    check_same(params, UNICODE_DOCS, NEW_DOCS)


@pytest.mark.parametrize(
    "token_pattern",
    [r"(?u)\b\w\w+\b", r"(?u)\b\w+\b", r"\b\w\w+\b", r"\w+", r"(\w)\w*", r"[^\W\d_]{3,}"],
)
@pytest.mark.parametrize("ngram_range", [(1, 1), (1, 2), (2, 3)])
def test_token_patterns_match_sklearn(token_pattern, ngram_range):
    params = dict(token_pattern=token_pattern, ngram_range=ngram_range)
    check_same(params, UNICODE_DOCS, NEW_DOCS)
    check_same({**params, "stop_words": ["the", "a", "b"]}, UNICODE_DOCS, NEW_DOCS)


@pytest.mark.parametrize(
    "params",
    [
        dict(tokenizer=first_letter_tokenizer, token_pattern=None),
        dict(tokenizer=str.split, ngram_range=(1, 2), token_pattern=None),
        dict(preprocessor=lower_upper),
        dict(preprocessor=lower_upper, analyzer="char", ngram_range=(2, 2)),
        dict(preprocessor=str.strip, analyzer="char_wb", lowercase=False),
        dict(analyzer=char_bigrams),
        dict(analyzer=str.split, lowercase=False),
    ],
    ids=["tokenizer", "tokenizer-ngrams", "pre", "pre-char", "pre-charwb", "an-fn", "an-split"],
)
def test_callables_match_sklearn(params):
    check_same(params, UNICODE_DOCS, NEW_DOCS)


@pytest.mark.parametrize(
    "max_df,min_df",
    [(1.0, 1), (0.5, 1), (1.0, 2), (0.9, 0.05), (3, 2), (1.0, 0.0), (0.2, 0.01), (10, 1)],
)
@pytest.mark.parametrize("max_features", [None, 1, 7, 50])
def test_df_limits_and_max_features_match_sklearn(max_df, min_df, max_features):
    docs = random_corpus(60, seed=3)
    params = dict(max_df=max_df, min_df=min_df, max_features=max_features)
    check_same(params, docs, NEW_DOCS)
    check_same({**params, "analyzer": "char", "ngram_range": (1, 2)}, docs, NEW_DOCS)


def test_max_features_ties_match_sklearn():
    # every term has the same total frequency: the kept set is decided by argsort ties
    docs = ["a1 b1 c1 d1 e1 f1 g1 h1 i1 j1 k1 l1 m1 n1 o1 p1 q1 r1 s1 t1"] * 3
    for k in (1, 5, 17, 19):
        check_same(dict(max_features=k), docs, NEW_DOCS)
        check_same(dict(max_features=k, binary=True), docs + ["a1 a1 a1"], NEW_DOCS)


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float32, np.float64])
def test_binary_and_dtype_match_sklearn(binary, dtype):
    params = dict(binary=binary, dtype=dtype, ngram_range=(1, 2))
    _, _, X, _ = check_same(params, UNICODE_DOCS, NEW_DOCS)
    assert X.dtype == dtype
    check_same({**params, "analyzer": "char"}, UNICODE_DOCS, NEW_DOCS)


VOCAB_LIST = ["dog", "the", "ΟΔΟΣ", "οδος", "σας", "😀😀", "x²", "東京都", "missing", "naïve"]


@pytest.mark.parametrize(
    "vocabulary",
    [
        VOCAB_LIST,
        {t: i for i, t in enumerate(reversed(VOCAB_LIST))},
        set(VOCAB_LIST),
        ["qu", "ui", "ck", "😀", "ΣΑ", "σα"],
    ],
    ids=["list", "dict", "set", "chars"],
)
@pytest.mark.parametrize("analyzer", ["word", "char"])
@pytest.mark.parametrize("lowercase", [True, False])
def test_fixed_vocabulary_matches_sklearn(vocabulary, analyzer, lowercase):
    params = dict(vocabulary=vocabulary, analyzer=analyzer, lowercase=lowercase)
    fg, sk, X_fg, X_sk = check_same(params, UNICODE_DOCS, NEW_DOCS)
    assert fg.fixed_vocabulary_ is True
    # transform without fit works with a fixed vocabulary
    fresh_fg = CountVectorizer(**params)
    fresh_sk = skt.CountVectorizer(**params)
    assert_same_matrix(fresh_fg.transform(UNICODE_DOCS), fresh_sk.transform(UNICODE_DOCS))
    np.testing.assert_array_equal(
        CountVectorizer(**params).get_feature_names_out(),
        skt.CountVectorizer(**params).get_feature_names_out(),
    )


def test_fixed_vocabulary_uppercase_warning():
    with pytest.warns(UserWarning, match="Upper case characters found in vocabulary"):
        CountVectorizer(vocabulary=["Dog", "the"]).fit_transform(["the dog"])


def test_transform_after_fit_with_unseen_terms():
    fg, sk, _, _ = check_same(dict(ngram_range=(1, 2)), BIG_CORPUS[:200])
    for docs in (NEW_DOCS, UNICODE_DOCS, BIG_CORPUS[200:400]):
        assert_same_matrix(fg.transform(docs), sk.transform(docs))
    X = fg.transform(["zzz yyy xxx"])
    assert X.nnz == 0 and X.shape == (1, len(fg.vocabulary_))
    X = fg.transform([])
    assert X.shape == (0, len(fg.vocabulary_))
    assert_same_matrix(X, sk.transform([]))


@pytest.mark.parametrize("analyzer", ["word", "char_wb"])
def test_inverse_transform_matches_sklearn(analyzer):
    fg, sk, X_fg, X_sk = check_same(dict(analyzer=analyzer), UNICODE_DOCS)
    for X in (X_fg, X_fg.toarray(), X_fg.tocoo(), fg.transform(NEW_DOCS)):
        inv_fg = fg.inverse_transform(X)
        inv_sk = sk.inverse_transform(X)
        assert len(inv_fg) == len(inv_sk)
        for a, b in zip(inv_fg, inv_sk, strict=True):
            assert list(a) == list(b)
    with pytest.raises(ValueError):
        fg.inverse_transform(np.ones(len(fg.vocabulary_)))


def test_inverse_transform_ignores_explicit_zeros():
    fg = CountVectorizer().fit(["aa bb cc"])
    X = sp.csr_matrix((np.array([1, 0, 2]), np.array([0, 1, 2]), np.array([0, 3])), shape=(1, 3))
    assert list(fg.inverse_transform(X)[0]) == ["aa", "cc"]


@pytest.mark.parametrize("n_jobs", [1, 2, 3, -1, None])  # 3: pieces placed in 3 row ranges each
@pytest.mark.parametrize(
    "params",
    [
        {},
        dict(ngram_range=(1, 3), stop_words=["the", "and"]),
        dict(analyzer="char", ngram_range=(2, 4)),
        dict(analyzer="char_wb", ngram_range=(1, 3), lowercase=False),
        dict(strip_accents="unicode", min_df=2, max_df=0.8),
        dict(token_pattern=r"\w+", max_features=30),  # Python path
    ],
    ids=["default", "stop", "char", "char_wb", "accents", "python"],
)
def test_n_jobs_identical_to_serial_and_sklearn(n_jobs, params):
    fg, sk, X_fg, X_sk = check_same({**params}, BIG_CORPUS)
    fg_par = CountVectorizer(**params, n_jobs=n_jobs)
    X_par = fg_par.fit_transform(BIG_CORPUS)
    assert_same_matrix(X_par, X_sk)
    assert fg_par.vocabulary_ == sk.vocabulary_
    new = random_corpus(1100, seed=9)
    assert_same_matrix(fg_par.transform(new), sk.transform(new))


def test_generators_and_tuples_as_input():
    fg, sk, X_fg, X_sk = check_same({}, UNICODE_DOCS)
    assert_same_matrix(CountVectorizer().fit_transform(d for d in UNICODE_DOCS), X_sk)
    assert_same_matrix(CountVectorizer().fit_transform(tuple(UNICODE_DOCS)), X_sk)
    assert_same_matrix(CountVectorizer().fit_transform(np.array(UNICODE_DOCS, dtype=object)), X_sk)
    assert_same_matrix(fg.transform(d for d in NEW_DOCS), sk.transform(NEW_DOCS))
    fg2 = CountVectorizer().fit(iter(UNICODE_DOCS))
    assert fg2.vocabulary_ == sk.vocabulary_


def test_numpy_str_documents():
    docs = np.array(["hello world", "Hello ΟΔΟΣ"])  # np.str_ elements
    fg, sk, X_fg, X_sk = check_same({}, docs)
    assert X_fg is not None


# --------------------------------------------------------------------------- input kinds


def test_input_file_and_filename(tmp_path):
    paths = []
    for i, doc in enumerate(UNICODE_DOCS):
        p = tmp_path / f"doc{i}.txt"
        p.write_bytes(doc.encode("utf-8"))
        paths.append(str(p))
    _, sk, _, X_sk = check_same(dict(input="filename"), paths)
    for analyzer in ("char", "char_wb"):
        check_same(dict(input="filename", analyzer=analyzer, ngram_range=(1, 2)), paths)

    def files():
        return [open(p, "rb") for p in paths]

    handles = files()
    try:
        X_fg = CountVectorizer(input="file").fit_transform(handles)
    finally:
        for h in handles:
            h.close()
    assert_same_matrix(X_fg, X_sk)
    # text-mode files yield str
    handles = [open(p, encoding="utf-8") for p in paths]
    try:
        X_fg = CountVectorizer(input="file").fit_transform(handles)
    finally:
        for h in handles:
            h.close()
    assert_same_matrix(X_fg, X_sk)


def test_bytes_documents_and_encodings():
    docs = [d.encode("utf-8") for d in UNICODE_DOCS]
    check_same({}, docs, [d.encode("utf-8") for d in NEW_DOCS])
    latin = ["café naïve crème".encode("latin-1"), b"plain ascii"]
    check_same(dict(encoding="latin-1"), latin)
    mixed = ["str doc", b"bytes doc", "ΟΔΟΣ σας".encode()]
    check_same({}, mixed)
    check_same(dict(analyzer="char"), mixed)


@pytest.mark.parametrize("decode_error", ["ignore", "replace"])
@pytest.mark.parametrize("analyzer", ["word", "char"])
def test_decode_error_modes_match_sklearn(decode_error, analyzer):
    docs = [b"valid text", b"bad \xff\xfe bytes caf\xc3", "ok ΣΑΣ".encode(), b"\x80\x81abc"]
    check_same(dict(decode_error=decode_error, analyzer=analyzer), docs)


def test_decode_error_strict_raises():
    with pytest.raises(UnicodeDecodeError):
        CountVectorizer().fit_transform([b"ok", b"bad \xff bytes"])
    with pytest.raises(UnicodeDecodeError):
        CountVectorizer(analyzer="char").fit_transform([b"bad \xff bytes"])
    fitted = CountVectorizer().fit(["bad bytes"])
    with pytest.raises(UnicodeDecodeError):
        fitted.transform([b"bad \xff bytes"])


# --------------------------------------------------------------------------- bad input


def test_single_string_rejected():
    msg = "Iterable over raw text documents expected, string object received"
    with pytest.raises(ValueError, match=msg):
        CountVectorizer().fit_transform("a single string")
    with pytest.raises(ValueError, match=msg):
        CountVectorizer().fit("a single string")
    fitted = CountVectorizer().fit(["some words"])
    with pytest.raises(ValueError, match=msg):
        fitted.transform("some words")


@pytest.mark.parametrize("bad", [1, None, 2.5, ["nested", "list"]])
@pytest.mark.parametrize(
    "params", [{}, dict(analyzer="char"), dict(strip_accents="unicode")], ids=["w", "c", "acc"]
)
def test_non_string_documents_raise_type_error(bad, params):
    with pytest.raises(TypeError, match="documents must be str or bytes"):
        CountVectorizer(**params).fit_transform(["fine doc", bad])
    fitted = CountVectorizer(**params).fit(["fine doc"])
    with pytest.raises(TypeError, match="documents must be str or bytes"):
        fitted.transform([bad])


@pytest.mark.parametrize("bad", [1, None])
def test_non_string_documents_python_path_raise_type_error(bad):
    # custom token pattern -> Python path: must also be a clear TypeError
    with pytest.raises(TypeError, match="documents must be str or bytes"):
        CountVectorizer(token_pattern=r"\w+").fit_transform(["fine doc", bad])


def test_non_string_documents_allowed_with_preprocessor_or_analyzer():
    # scikit-learn lets a preprocessor / analyzer consume arbitrary document objects
    docs = [{"text": "hello world"}, {"text": "Hello ΟΔΟΣ"}]

    def get_text(d):
        return d["text"].lower()

    check_same(dict(preprocessor=get_text), docs)
    check_same(dict(preprocessor=get_text, analyzer="char", ngram_range=(1, 2)), docs)
    tokens = [["a", "b", "a"], ["c"], []]
    check_same(dict(analyzer=list), tokens)


def test_preprocessor_must_return_str():
    with pytest.raises(TypeError, match="preprocessor must return str"):
        CountVectorizer(preprocessor=lambda d: 42).fit_transform(["doc"])


def test_nan_document_raises_value_error():
    msg = "np.nan is an invalid document"
    for params in ({}, dict(analyzer="char"), dict(token_pattern=r"\w+")):
        with pytest.raises(ValueError, match=msg):
            CountVectorizer(**params).fit_transform(["ok doc", np.nan])


@pytest.mark.parametrize(
    "docs",
    [[], [""], ["", "   ", "!?"], ["the and of", "a an the"], ["x y z"]],
)
def test_empty_vocabulary(docs):
    with pytest.raises(ValueError, match="empty vocabulary"):
        CountVectorizer(stop_words="english").fit_transform(docs)
    with pytest.raises(ValueError, match="empty vocabulary"):
        skt.CountVectorizer(stop_words="english").fit_transform(docs)


def test_empty_vocabulary_given():
    with pytest.raises(ValueError, match="empty vocabulary"):
        CountVectorizer(vocabulary=[]).fit_transform(["a b"])


def test_min_df_greater_than_max_df():
    with pytest.raises(ValueError, match="max_df corresponds to < documents than min_df"):
        CountVectorizer(min_df=3, max_df=2).fit_transform(UNICODE_DOCS)
    with pytest.raises(ValueError, match="max_df corresponds to < documents than min_df"):
        CountVectorizer(min_df=0.6, max_df=0.5).fit_transform(UNICODE_DOCS)


def test_pruning_everything():
    with pytest.raises(ValueError, match="After pruning, no terms remain"):
        CountVectorizer(min_df=100, max_df=1000).fit_transform(UNICODE_DOCS)
    with pytest.raises(ValueError, match="After pruning, no terms remain"):
        CountVectorizer(max_df=0.0, min_df=0.0).fit_transform(UNICODE_DOCS)


@pytest.mark.parametrize(
    "ngram_range", [(2, 1), (0, 1), (0, 0), (-1, 2), [1, 2], (1,), (1, 2, 3), (1.0, 2.0), "ab"]
)
@pytest.mark.parametrize("analyzer", ["word", "char", "char_wb"])
def test_invalid_ngram_range(ngram_range, analyzer):
    with pytest.raises(ValueError, match="Invalid value for ngram_range"):
        CountVectorizer(ngram_range=ngram_range, analyzer=analyzer).fit_transform(["ab cd"])


@pytest.mark.parametrize("analyzer", ["char", "char_wb", "word"])
@pytest.mark.parametrize("ngram_range", [(1, 2**31 - 1), (1, 2**31), (2**40, 2**41), (3, 2**63)])
def test_huge_ngram_range_matches_sklearn(analyzer, ngram_range):
    docs = ["ab cd", "efg hij kl mn o", "Ü"]
    check_same(dict(analyzer=analyzer, ngram_range=ngram_range), docs, ["ab cd efg"])


@pytest.mark.parametrize("analyzer", ["words", "", "CHAR", None, 3])
def test_unknown_analyzer(analyzer):
    with pytest.raises(ValueError, match="is not a valid tokenization scheme/analyzer"):
        CountVectorizer(analyzer=analyzer).fit_transform(["ab cd"])


def test_invalid_params():
    with pytest.raises(ValueError, match="strip_accents"):
        CountVectorizer(strip_accents="latin").fit_transform(["ab"])
    with pytest.raises(ValueError, match="input"):
        CountVectorizer(input="url").fit_transform(["ab"])
    with pytest.raises(ValueError, match="decode_error"):
        CountVectorizer(decode_error="loud").fit_transform(["ab"])
    with pytest.raises(ValueError, match="max_df"):
        CountVectorizer(max_df=1.5).fit_transform(["ab"])
    with pytest.raises(ValueError, match="min_df"):
        CountVectorizer(min_df=-1).fit_transform(["ab"])
    with pytest.raises(ValueError, match="max_features"):
        CountVectorizer(max_features=0).fit_transform(["ab"])
    with pytest.raises(ValueError, match="not a built-in stop list"):
        CountVectorizer(stop_words="french").fit_transform(["ab"])
    with pytest.raises(ValueError, match="n_jobs"):
        CountVectorizer(n_jobs=0).fit_transform(["ab"])
    with pytest.raises(ValueError, match="More than 1 capturing group"):
        CountVectorizer(token_pattern=r"(a)(b)").fit_transform(["ab"])


def test_duplicate_terms_in_vocabulary():
    with pytest.raises(ValueError, match="Duplicate term in vocabulary: 'a'"):
        CountVectorizer(vocabulary=["a", "b", "a"]).fit_transform(["a b"])


@pytest.mark.parametrize(
    "vocabulary,msg",
    [
        ({"a": 0, "b": 2}, "doesn't contain index 1"),
        ({"a": 1, "b": 2}, "doesn't contain index 0"),
        ({"a": 0, "b": 0}, "repeated indices"),
    ],
)
def test_vocabulary_with_gaps(vocabulary, msg):
    with pytest.raises(ValueError, match=msg):
        CountVectorizer(vocabulary=vocabulary).fit_transform(["a b"])
    with pytest.raises(ValueError, match=msg):
        CountVectorizer(vocabulary=vocabulary).transform(["a b"])


@pytest.mark.parametrize(
    "vocabulary", [[1, 2], {1: 0}, [b"dog"], ["dog", 1.5], [None], {"dog": 0, ("the",): 1}]
)
def test_non_str_vocabulary_terms_raise_type_error(vocabulary):
    # scikit-learn fails on them with a TypeError (checking their case); fastgen used to
    # accept them and count nothing, as no analyzer but a custom one makes such terms
    docs = ["the dog", "dog 1 2"]
    if not isinstance(vocabulary, dict) or 1 in vocabulary:
        with pytest.raises(TypeError):
            skt.CountVectorizer(vocabulary=vocabulary).fit_transform(docs)
    for params in ({}, dict(lowercase=False), dict(analyzer="char")):
        vec = CountVectorizer(vocabulary=vocabulary, **params)
        for call in (vec.fit_transform, vec.fit, vec.transform):
            with pytest.raises(TypeError, match="Vocabulary terms must be str"):
                call(docs)
        with pytest.raises(TypeError, match="Vocabulary terms must be str"):
            vec.get_feature_names_out()


def test_non_str_vocabulary_terms_of_a_custom_analyzer_match_sklearn():
    docs = [[1, 2, 2], [3], [(4,), 1]]
    for params in (dict(analyzer=list), dict(tokenizer=list, token_pattern=None)):
        check_same(dict(vocabulary=[1, (4,), 3], lowercase=False, **params), docs)


@pytest.mark.parametrize(
    "vocabulary",
    [("dog", "the"), np.array(["the", "dog"]), {"dog": True, "the": 0}, {"dog": np.int64(0)}],
    ids=["tuple", "array", "bool-index", "np-index"],
)
def test_str_vocabulary_containers_match_sklearn(vocabulary):
    check_same(dict(vocabulary=vocabulary), UNICODE_DOCS, NEW_DOCS)
    fg = CountVectorizer(vocabulary=(t for t in ["the", "dog"])).fit_transform(UNICODE_DOCS)
    sk = skt.CountVectorizer(vocabulary=(t for t in ["the", "dog"])).fit_transform(UNICODE_DOCS)
    assert_same_matrix(fg, sk)


@pytest.mark.parametrize("vocabulary", [{"a": "x"}, {"a": 0.5}, {"a": True}, {"a": 0.0}])
def test_vocabulary_indices_must_be_integers(vocabulary):
    if vocabulary["a"] != 0:  # scikit-learn's own check catches these
        with pytest.raises(ValueError, match="doesn't contain index 0"):
            skt.CountVectorizer(vocabulary=vocabulary).fit_transform(["a b"])
    with pytest.raises(ValueError, match="doesn't contain index 0|not an integer index"):
        CountVectorizer(vocabulary=vocabulary).fit_transform(["a b"])
    with pytest.raises(ValueError, match="doesn't contain index 0|not an integer index"):
        CountVectorizer(vocabulary=vocabulary).transform(["a b"])


def test_not_fitted():
    with pytest.raises(NotFittedError, match="not fitted"):
        CountVectorizer().transform(["ab"])
    with pytest.raises(NotFittedError):
        CountVectorizer().get_feature_names_out()
    with pytest.raises(NotFittedError):
        CountVectorizer().inverse_transform(np.ones((1, 2)))
    assert issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)


def test_stop_words_inconsistency_warning():
    with pytest.warns(UserWarning, match="stop_words may be inconsistent"):
        CountVectorizer(stop_words=["we've"]).fit_transform(["we've got it"])


# --------------------------------------------------------------------------- huge inputs


def test_huge_single_document():
    rng = np.random.default_rng(0)
    words = np.array(["lorem", "Ipsum", "ΔΟΛΟΡ", "東京", "😀x", "sit", "amet"])
    chosen = rng.choice(words, size=3_200_000)
    doc = " ".join(chosen)
    assert len(doc.encode()) > 20_000_000
    t0 = time.perf_counter()
    fg = CountVectorizer()
    X = fg.fit_transform([doc])
    assert time.perf_counter() - t0 < 10
    sk = skt.CountVectorizer().fit([doc[:200_000]])
    assert fg.vocabulary_ == sk.vocabulary_
    names, counts = np.unique(chosen, return_counts=True)
    expected = {str(w).lower(): int(c) for w, c in zip(names, counts, strict=True) if w != "😀x"}
    got = dict(zip(fg.get_feature_names_out(), X.toarray()[0].tolist(), strict=True))
    assert got == expected  # '😀x' leaves the one-letter token 'x', below the minimum length
    Xc = CountVectorizer(analyzer="char_wb", ngram_range=(3, 3)).fit_transform([doc])
    assert Xc.shape[0] == 1 and Xc.sum() > 0


def test_many_tiny_documents():
    docs = [f"w{i % 997} x" for i in range(200_000)]
    t0 = time.perf_counter()
    X = CountVectorizer(n_jobs=2).fit_transform(docs)
    assert time.perf_counter() - t0 < 10
    assert X.shape == (200_000, 997)  # 'x' is a single character token
    assert X.nnz == 200_000


# --------------------------------------------------------------------------- hypothesis

TEXT = st.text(
    alphabet=st.one_of(
        st.characters(blacklist_categories=("Cs",)),
        st.sampled_from(list("aAbBΣσςİıIiß_ 1²½\t\n\u00a0\u0301\u0308\u200b😀東")),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(
    docs=st.lists(TEXT, min_size=1, max_size=5),
    analyzer=st.sampled_from(["word", "char", "char_wb"]),
    ngram_range=st.sampled_from([(1, 1), (1, 2), (2, 3), (1, 3)]),
    lowercase=st.booleans(),
    pattern=st.sampled_from([r"(?u)\b\w\w+\b", r"(?u)\b\w+\b"]),
)
def test_hypothesis_compiled_path_matches_sklearn(docs, analyzer, ngram_range, lowercase, pattern):
    params = dict(
        analyzer=analyzer, ngram_range=ngram_range, lowercase=lowercase, token_pattern=pattern
    )
    result = check_same(params, docs[:-1] or docs, docs)
    if result is not None:
        fg, sk, _, _ = result
        assert_same_matrix(fg.transform(docs[-1:]), sk.transform(docs[-1:]))


@settings(max_examples=200, deadline=None)
@given(
    docs=st.lists(TEXT, min_size=1, max_size=5),
    analyzer=st.sampled_from(["word", "char", "char_wb"]),
    ngram_range=st.sampled_from([(1, 1), (1, 2), (2, 3)]),
    lowercase=st.booleans(),
)
def test_hypothesis_compiled_path_matches_python_path(docs, analyzer, ngram_range, lowercase):
    params = dict(analyzer=analyzer, ngram_range=ngram_range, lowercase=lowercase)
    compiled = CountVectorizer(**params)
    assert compiled._kernel_plan() is not None
    # a callable analyzer forces the Python path with the very same analysis
    python = CountVectorizer(analyzer=compiled.build_analyzer())
    assert python._kernel_plan() is None
    try:
        X_c = compiled.fit_transform(docs)
    except ValueError:
        with pytest.raises(ValueError, match="empty vocabulary"):
            python.fit_transform(docs)
        return
    X_p = python.fit_transform(docs)
    assert_same_matrix(X_c, X_p)
    assert compiled.vocabulary_ == python.vocabulary_


# --------------------------------------------------------------------------- kernel lower-casing


def test_kernel_lowercase_equals_str_lower_for_combined_documents():
    # every cased code point next to every context the final-sigma rule looks at
    chars = [chr(c) for c in range(0x10000) if chr(c).lower() != chr(c) or chr(c).upper() != chr(c)]
    doc = "".join(chars)
    docs = [doc, "ΑΣ ΣΑ Σ.Σ ΑΣ\u0301 Α\u0301Σ", "ΑΣ" + doc, doc[::-1]]
    for analyzer in ("char", "char_wb"):
        check_same(dict(analyzer=analyzer), docs)
    check_same({}, docs + [" ".join(chars)])


# --------------------------------------------------------------------------- sklearn integration


def test_clone_get_set_params():
    fg = CountVectorizer(ngram_range=(1, 2), stop_words=["a"], n_jobs=2)
    params = fg.get_params()
    assert params["ngram_range"] == (1, 2) and params["n_jobs"] == 2
    assert set(params) == set(skt.CountVectorizer().get_params()) | {"n_jobs"}
    c = clone(fg)
    assert c is not fg and c.get_params() == params
    fg.set_params(analyzer="char", max_df=0.5)
    assert fg.analyzer == "char" and fg.max_df == 0.5
    with pytest.raises(ValueError, match="Invalid parameter"):
        fg.set_params(bogus=1)


def test_pipeline_and_grid_search():
    docs = random_corpus(120, seed=5)
    y = np.array([int("café" in d or "ΟΔΟΣ" in d) for d in docs])
    pipe = Pipeline([("vec", CountVectorizer()), ("nb", MultinomialNB())])
    pipe.fit(docs, y)
    sk_pipe = Pipeline([("vec", skt.CountVectorizer()), ("nb", MultinomialNB())]).fit(docs, y)
    np.testing.assert_array_equal(pipe.predict(docs), sk_pipe.predict(docs))
    np.testing.assert_allclose(pipe.predict_proba(docs), sk_pipe.predict_proba(docs))
    grid = GridSearchCV(pipe, {"vec__ngram_range": [(1, 1), (1, 2)], "vec__binary": [False, True]})
    grid.fit(docs, y)
    assert grid.best_params_["vec__ngram_range"] in ((1, 1), (1, 2))
    assert grid.predict(docs).shape == (120,)


@pytest.mark.parametrize("params", [{}, dict(vocabulary=["dog", "the"]), dict(analyzer="char")])
def test_pickle_round_trip(params):
    fg = CountVectorizer(**params).fit(UNICODE_DOCS)
    X = fg.transform(NEW_DOCS)  # builds the compiled table cache
    assert fg.__getstate__().get("_table") is None
    fg2 = pickle.loads(pickle.dumps(fg))
    assert fg2.vocabulary_ == fg.vocabulary_
    assert_same_matrix(fg2.transform(NEW_DOCS), X)
    fg3 = pickle.loads(pickle.dumps(CountVectorizer(**params)))
    assert fg3.get_params() == CountVectorizer(**params).get_params()


def test_vocabulary_replaced_after_fit_is_used():
    fg = CountVectorizer().fit(["aa bb cc"])
    fg.transform(["aa"])  # cache the table
    fg.vocabulary_ = {"cc": 0, "aa": 1, "bb": 2}
    np.testing.assert_array_equal(fg.transform(["aa cc cc"]).toarray(), [[2, 1, 0]])


def test_refit_with_new_params():
    fg = CountVectorizer().fit(["aa bb"])
    fg.transform(["aa"])
    fg.set_params(vocabulary=["bb", "zz"]).fit(["aa bb"])
    np.testing.assert_array_equal(fg.transform(["bb zz zz"]).toarray(), [[1, 2]])
    fg.set_params(vocabulary=None).fit(["xx yy"])
    assert fg.vocabulary_ == {"xx": 0, "yy": 1}


def test_import_fastgen_is_light():
    code = (
        "import sys, fastgen, fastgen.text;"
        "fastgen.text.CountVectorizer().fit_transform(['a b cc']);"
        "fastgen.text.HashingVectorizer().transform(['a b cc']);"
        "heavy = [m for m in ('tensorflow', 'keras', 'tf2onnx', 'dask', 'sklearn')"
        " if m in sys.modules];"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    code = (
        "import sys, fastgen;"
        "heavy = [m for m in ('tensorflow', 'keras', 'tf2onnx', 'dask', 'sklearn', 'numba')"
        " if m in sys.modules];"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unicode_normalization_is_not_applied():
    # precomposed and decomposed forms are different terms (as in scikit-learn)
    docs = ["café", unicodedata.normalize("NFD", "café")]
    fg, sk, X, _ = check_same(dict(token_pattern=r"(?u)\b\w+\b"), docs)
    assert set(fg.vocabulary_) == {"café", "cafe"}  # the lone combining mark is not \\w


def test_filename_input_with_threads(tmp_path):
    docs = random_corpus(1100, seed=11)
    paths = []
    for i, d in enumerate(docs):
        p = tmp_path / f"{i}.txt"
        p.write_bytes(d.encode("utf-8"))
        paths.append(str(p))
    X_sk = skt.CountVectorizer(ngram_range=(1, 2)).fit_transform(docs)
    for n_jobs in (1, 2):
        fg = CountVectorizer(input="filename", ngram_range=(1, 2), n_jobs=n_jobs)
        assert_same_matrix(fg.fit_transform(paths), X_sk)


def test_vocabulary_mutated_in_place_is_used():
    fg = CountVectorizer().fit(["aa bb"])
    fg.transform(["aa"])  # cache the table
    fg.vocabulary_["aa"], fg.vocabulary_["bb"] = 1, 0
    np.testing.assert_array_equal(fg.transform(["aa aa bb"]).toarray(), [[1, 2]])
    fg.vocabulary_ = {"aa": 0, "bb": 1}  # a plain dict, mutated after a transform
    fg.transform(["aa"])
    fg.vocabulary_["aa"], fg.vocabulary_["bb"] = 1, 0
    np.testing.assert_array_equal(fg.transform(["aa aa bb"]).toarray(), [[1, 2]])
    fg.vocabulary_["aa"] = 7
    with pytest.raises(ValueError, match="not a column index"):
        fg.transform(["aa"])


@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("binary", [False, True])
def test_threaded_fit_dtypes_match_sklearn(dtype, binary):
    # several chunks: rows are relabelled and converted while being placed
    params = dict(dtype=dtype, binary=binary, ngram_range=(1, 2))
    sk = skt.CountVectorizer(**params)
    X_sk = sk.fit_transform(BIG_CORPUS)
    fg = CountVectorizer(**params, n_jobs=3)
    X_fg = fg.fit_transform(BIG_CORPUS)
    assert X_fg.dtype == dtype
    assert_same_matrix(X_fg, X_sk)
    assert fg.vocabulary_ == sk.vocabulary_
    assert_same_matrix(fg.transform(NEW_DOCS), sk.transform(NEW_DOCS))


def test_documents_of_every_string_kind_match_sklearn():
    # the same words in 1-byte (Latin-1), 2-byte and 4-byte strings, with the
    # code points str.lower treats specially (İ, final Σ) in 2- and 4-byte ones
    base = "Ünïcode ÀÉÎ Straße Ωmega ΟΔΟΣ İSTANBUL word"
    docs = [
        "Latin ÀÉÎÕÜ café NAÏVE straße ÿ µ x",  # kind 1
        base,  # kind 2
        base + " 😀",  # kind 4
        "ΣΑΣ 😀 ΣΑΣ. Σ 🎉 İi",  # kind 4 with special cases
        "plain ascii TEXT only",
    ] * 150
    for params in ({}, {"analyzer": "char_wb", "ngram_range": (1, 3)}):
        for n_jobs in (1, 2):
            sk = skt.CountVectorizer(**params)
            fg = CountVectorizer(**params, n_jobs=n_jobs)
            assert_same_matrix(fg.fit_transform(docs), sk.fit_transform(docs))
            assert fg.vocabulary_ == sk.vocabulary_
