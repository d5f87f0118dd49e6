"""fastgen.text._analysis: analyzers, preprocessing, path selection and threading helpers."""

import re
import warnings

import numpy as np
import pytest
import sklearn.feature_extraction.text as skt
from hypothesis import given, settings
from hypothesis import strategies as st

from fastgen.text import (
    CountVectorizer,
    HashingVectorizer,
    strip_accents_ascii,
    strip_accents_unicode,
)
from fastgen.text._analysis import (
    _MIN_CHUNK,
    as_document_list,
    concat_rows,
    map_chunks,
    n_threads,
)

SAMPLES = [
    "Café crème brûlée naïve résumé Ångström Øresund ÀÉÎÕÜ ñ ç",
    "Cafe\u0301 cre\u0300me nai\u0308ve",
    "ΟΔΟΣ ὈΔΥΣΣΕΎΣ ΐ ΰ İSTANBUL ı ǅ ẞ ß",
    "ﬁ ﬂ ² ½ Ⅻ ℌ ㎏ ① ｆｕｌｌ",
    "مُحَمَّد हिन्दी 東京 😀 🎉",
    "tabs\tand\t\ttabs\nnew\n\nlines  spaces\u00a0\u00a0nbsp \u2028\u3000 x",
    "",
    " \t ",
    "a\tb",
    "\ta\t",
]

TEXT = st.text(
    alphabet=st.one_of(
        st.characters(blacklist_categories=("Cs",)),
        st.sampled_from(list(" \t\n\u00a0\u2009\u3000\u0301ΣİAa_1²")),
    ),
    max_size=40,
)


# --------------------------------------------------------------------------- accents


@pytest.mark.parametrize("s", SAMPLES)
def test_strip_accents_match_sklearn(s):
    assert strip_accents_unicode(s) == skt.strip_accents_unicode(s)
    assert strip_accents_ascii(s) == skt.strip_accents_ascii(s)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_strip_accents_property(s):
    assert strip_accents_unicode(s) == skt.strip_accents_unicode(s)
    assert strip_accents_ascii(s) == skt.strip_accents_ascii(s)


# --------------------------------------------------------------------------- analyzers


ANALYZER_PARAMS = [
    dict(analyzer="word"),
    dict(analyzer="word", ngram_range=(1, 3), stop_words=["the", "and"]),
    dict(analyzer="word", token_pattern=r"(?u)\b\w+\b", ngram_range=(2, 2)),
    dict(analyzer="char", ngram_range=(1, 3)),
    dict(analyzer="char", ngram_range=(3, 5), lowercase=False),
    dict(analyzer="char_wb", ngram_range=(1, 1)),
    dict(analyzer="char_wb", ngram_range=(2, 5)),
    dict(analyzer="char_wb", ngram_range=(4, 6), strip_accents="unicode"),
    dict(analyzer="word", strip_accents="ascii", lowercase=False),
]


@pytest.mark.parametrize("params", ANALYZER_PARAMS)
@pytest.mark.parametrize("doc", SAMPLES)
def test_build_analyzer_matches_sklearn(params, doc):
    fg = CountVectorizer(**params).build_analyzer()
    sk = skt.CountVectorizer(**params).build_analyzer()
    assert fg(doc) == sk(doc)
    assert fg(doc.encode()) == sk(doc.encode())


@settings(max_examples=200, deadline=None)
@given(doc=TEXT, idx=st.integers(0, len(ANALYZER_PARAMS) - 1))
def test_build_analyzer_property(doc, idx):
    params = ANALYZER_PARAMS[idx]
    assert CountVectorizer(**params).build_analyzer()(doc) == (
        skt.CountVectorizer(**params).build_analyzer()(doc)
    )


@pytest.mark.parametrize(
    "doc,expected",
    [
        ("a\tb", ["a", "\t", "b"]),  # a single tab is kept
        ("a\t\tb", ["a", " ", "b"]),  # runs of two or more become one space
        ("a \t\nb", ["a", " ", "b"]),
        ("a\u00a0b", ["a", "\u00a0", "b"]),
        ("a\u00a0\u3000b", ["a", " ", "b"]),
        ("a\x1c\x1db", ["a", " ", "b"]),  # information separators are white space too
        ("a\u200bb", ["a", "\u200b", "b"]),  # zero-width space is not
    ],
)
def test_char_whitespace_collapsing(doc, expected):
    for vec in (CountVectorizer, skt.CountVectorizer):
        assert vec(analyzer="char", lowercase=False).build_analyzer()(doc) == expected
    # and the compiled path agrees
    fg = CountVectorizer(analyzer="char", lowercase=False)
    X = fg.fit_transform([doc])
    counts = dict(zip(fg.get_feature_names_out(), X.toarray()[0].tolist(), strict=True))
    assert counts == {t: expected.count(t) for t in expected}


@pytest.mark.parametrize("doc", ["\ta\t", "a\tb", "  a  ", "a\u3000\u3000b", "\u2028x\u2029"])
def test_char_wb_whitespace(doc):
    fg = CountVectorizer(analyzer="char_wb", ngram_range=(1, 3), lowercase=False)
    sk = skt.CountVectorizer(analyzer="char_wb", ngram_range=(1, 3), lowercase=False)
    assert fg.build_analyzer()(doc) == sk.build_analyzer()(doc)
    X_fg, X_sk = fg.fit_transform([doc]), sk.fit_transform([doc])
    assert fg.vocabulary_ == sk.vocabulary_
    np.testing.assert_array_equal(X_fg.toarray(), X_sk.toarray())


def test_build_preprocessor_and_tokenizer_match_sklearn():
    for params in (
        {},
        dict(lowercase=False),
        dict(strip_accents="unicode"),
        dict(strip_accents="ascii", lowercase=False),
        dict(preprocessor=str.upper),
    ):
        fg = CountVectorizer(**params).build_preprocessor()
        sk = skt.CountVectorizer(**params).build_preprocessor()
        for s in SAMPLES:
            assert fg(s) == sk(s)
    for pattern in (r"(?u)\b\w\w+\b", r"\w+", r"(\w)\w*"):
        fg = CountVectorizer(token_pattern=pattern).build_tokenizer()
        sk = skt.CountVectorizer(token_pattern=pattern).build_tokenizer()
        for s in SAMPLES:
            assert fg(s) == sk(s)
    with pytest.raises(ValueError, match="More than 1 capturing group"):
        CountVectorizer(token_pattern=r"(a)(b)").build_tokenizer()


def test_get_stop_words():
    assert CountVectorizer().get_stop_words() is None
    assert CountVectorizer(stop_words="english").get_stop_words() == skt.ENGLISH_STOP_WORDS
    assert CountVectorizer(stop_words=["a", "b"]).get_stop_words() == frozenset({"a", "b"})
    with pytest.raises(ValueError, match="not a built-in stop list"):
        CountVectorizer(stop_words="german").get_stop_words()


def test_unknown_analyzer_in_build_analyzer():
    with pytest.raises(ValueError, match="not a valid tokenization scheme"):
        CountVectorizer(analyzer="bogus").build_analyzer()


# --------------------------------------------------------------------------- parameter checks

BOTH = (CountVectorizer, HashingVectorizer)
BAD_PARAMS = [
    *[
        (cls, params)
        for cls in BOTH
        for params in (
            dict(input="url"),
            dict(encoding=5),
            dict(encoding="no-such-codec"),
            dict(decode_error="surrogateescape"),
            dict(strip_accents=False),
            dict(strip_accents="latin"),
            dict(lowercase=2),
            dict(binary=None),
            dict(preprocessor="str.lower"),
            dict(tokenizer=5),
            dict(stop_words=5),
            dict(stop_words="french"),
            dict(token_pattern=5),
            dict(token_pattern=None),
            dict(token_pattern="("),
            dict(token_pattern=r"(a)(b)"),
            dict(analyzer="words"),
            dict(ngram_range=[1, 2]),
            dict(ngram_range=(1.0, 2.0)),
            dict(ngram_range=(2, 1)),
            dict(dtype="no-such-dtype"),
            dict(dtype=object),
            dict(dtype=np.float16),
        )
    ],
    *[
        (CountVectorizer, params)
        for params in (
            dict(max_df=-1),
            dict(max_df=np.nan),
            dict(max_df=np.inf),
            dict(min_df=-0.5),
            dict(min_df=np.nan),
            dict(min_df=0),
            dict(max_features=-1),
            dict(vocabulary=5),
        )
    ],
    *[
        (HashingVectorizer, params)
        for params in (
            dict(n_features=0),
            dict(n_features=-1),
            dict(n_features=2**31),
            dict(norm="l3"),
            dict(alternate_sign="yes"),
        )
    ],
]


@pytest.mark.parametrize(
    "cls, params", BAD_PARAMS, ids=[f"{c.__name__[:4]}-{p}" for c, p in BAD_PARAMS]
)
def test_bad_parameters_raise_like_sklearn_fit(cls, params):
    # bytes documents: an unknown encoding fails scikit-learn's fit too
    docs = [b"ab cd", b"cd ef"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as sk_error:
            getattr(skt, cls.__name__)(**params).fit_transform(docs)
        # fastgen's error must be what scikit-learn's is (InvalidParameterError: both)
        expected = type(sk_error.value)
        if expected.__name__ == "InvalidParameterError":
            expected = (ValueError, TypeError)
        else:
            expected = (expected,)
        fitted = cls().fit(["ab cd"]).set_params(**params)
        for call in (
            lambda: cls(**params).fit_transform(docs),
            lambda: cls(**params).fit(docs),
            lambda: cls(**params)._validate_params(),  # as when loading a model file
            lambda: fitted.transform(docs),  # a fitted vectorizer checks them again
        ):
            with pytest.raises(expected) as fg_error:
                call()
            assert all(isinstance(fg_error.value, e) for e in expected)


def test_unknown_or_binary_encoding_is_a_lookup_error():
    # what decoding raises; also a ValueError, like every other invalid parameter
    for encoding in ("no-such-codec", "zlib", "rot13"):
        with pytest.raises(LookupError, match=encoding) as info:
            CountVectorizer(encoding=encoding).fit(["str documents are never decoded"])
        assert isinstance(info.value, ValueError)
    X = CountVectorizer(encoding="latin-1").fit_transform(["caf\xe9".encode("latin-1")])
    assert X.shape == (1, 1)


# --------------------------------------------------------------------------- warnings


@pytest.mark.parametrize(
    "params,msg",
    [
        (dict(tokenizer=str.split), "'token_pattern' will not be used since 'tokenizer'"),
        (dict(analyzer=str.split, preprocessor=str.lower), "'preprocessor' will not be used"),
        (dict(analyzer=str.split, ngram_range=(1, 2)), "'ngram_range' will not be used"),
        (dict(analyzer="char", stop_words=["a"]), "'stop_words' will not be used"),
        (dict(analyzer="char", token_pattern=r"\w+"), "'token_pattern' will not be used"),
        (
            dict(analyzer="char", tokenizer=str.split, token_pattern=None),
            "'tokenizer' will not be used",
        ),
    ],
)
def test_unused_parameter_warnings_like_sklearn(params, msg):
    for cls in (CountVectorizer, skt.CountVectorizer):
        with pytest.warns(UserWarning, match=re.escape(msg)):
            cls(**params).fit(["ab cd", "ef"])
    with pytest.warns(UserWarning, match=re.escape(msg)):
        HashingVectorizer(**params).transform(["ab cd"])


def test_no_warning_for_defaults():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CountVectorizer().fit(["ab cd"])
        CountVectorizer(analyzer="char").fit(["ab cd"])
        HashingVectorizer(analyzer="char_wb").transform(["ab cd"])


# --------------------------------------------------------------------------- path selection


@pytest.mark.parametrize(
    "params,compiled,lower",
    [
        ({}, True, True),
        (dict(token_pattern=r"(?u)\b\w+\b", ngram_range=(1, 4)), True, True),
        (dict(token_pattern=r"\b\w\w+\b"), True, True),
        (dict(stop_words="english"), True, True),
        (dict(analyzer="char"), True, True),
        (dict(analyzer="char_wb", lowercase=False), True, False),
        (dict(strip_accents="unicode"), True, False),
        (dict(preprocessor=str.lower), True, False),
        (dict(token_pattern=r"\w+"), False, None),
        (dict(tokenizer=str.split), False, None),
        (dict(analyzer=str.split), False, None),
    ],
)
def test_kernel_plan_selection(params, compiled, lower):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = CountVectorizer(**params)._kernel_plan()
    assert (plan is not None) == compiled
    if compiled:
        assert plan.lower == lower


def test_kernel_plan_clamps_huge_ngram_sizes():
    plan = CountVectorizer(analyzer="char_wb", ngram_range=(2**40, 2**62))._kernel_plan()
    assert plan.min_n <= plan.max_n < 2**31 - 1


def test_kernel_plan_stop_table_ignores_non_strings():
    plan = CountVectorizer(stop_words=["ab", 3, None])._kernel_plan()
    assert plan.stop.terms() == ["ab"]
    X = CountVectorizer(stop_words=["ab", 3]).fit_transform(["ab cd"])
    assert X.shape == (1, 1)


# --------------------------------------------------------------------------- threading helpers


@pytest.mark.parametrize("n_jobs,expected", [(None, 1), (1, 1), (3, 3), (np.int64(2), 2)])
def test_n_threads(n_jobs, expected):
    assert n_threads(n_jobs) == expected


def test_n_threads_negative_and_invalid():
    import os

    cores = os.cpu_count() or 1
    assert n_threads(-1) == cores
    assert n_threads(-2) == max(1, cores - 1)
    assert n_threads(-1000) == 1
    for bad in (0, 1.5, "2", True):
        with pytest.raises(ValueError, match="n_jobs"):
            n_threads(bad)


@pytest.mark.parametrize("n_items", [0, 1, _MIN_CHUNK, 2 * _MIN_CHUNK - 1, 2 * _MIN_CHUNK, 5001])
@pytest.mark.parametrize("n_jobs", [1, 2, 4, -1])
def test_map_chunks_preserves_order(n_items, n_jobs):
    items = list(range(n_items))
    parts = map_chunks(list, items, n_jobs)
    assert [x for p in parts for x in p] == items
    assert all(parts) or n_items == 0
    if n_items < 2 * _MIN_CHUNK or n_jobs == 1:
        assert len(parts) == 1


def test_concat_rows():
    a = (np.array([0, 2, 3]), np.array([1, 4, 0]), np.array([5, 6, 7]))
    b = (np.array([0, 0, 1]), np.array([9]), np.array([8]))
    c = (np.array([0]), np.array([], dtype=int), np.array([], dtype=int))
    indptr, indices, values = concat_rows([a, b, c])
    assert indptr.tolist() == [0, 2, 3, 3, 4]
    assert indices.tolist() == [1, 4, 0, 9]
    assert values.tolist() == [5, 6, 7, 8]
    assert all(x is y for x, y in zip(concat_rows([a]), a, strict=True))  # no copy
    assert concat_rows([a, b], dtype=np.float32)[2].dtype == np.float32
    assert concat_rows([a], dtype=np.float32)[2].dtype == np.float32


def test_as_document_list():
    docs = ["a", "b"]
    assert as_document_list(docs) is docs
    assert as_document_list(iter(docs)) == docs
    assert as_document_list(("a",)) == ["a"]
    for bad in ("abc", b"abc"):
        with pytest.raises(ValueError, match="string object received"):
            as_document_list(bad)


@pytest.mark.parametrize("n_jobs", [1, 2, 3])
def test_concat_rows_threads_equal_serial(n_jobs):
    rng = np.random.default_rng(0)
    parts = []
    for n_rows in (3, 0, 5, 1):
        lengths = rng.integers(0, 4, n_rows)
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        parts.append((indptr, rng.integers(0, 9, indptr[-1]).astype(np.int32),
                      rng.integers(1, 5, indptr[-1]).astype(np.int32)))
    indptr, indices, values = concat_rows(parts, dtype=np.int64, n_jobs=n_jobs)
    np.testing.assert_array_equal(np.diff(indptr), np.concatenate([np.diff(p[0]) for p in parts]))
    assert indptr[0] == 0 and indptr.dtype == np.int64
    np.testing.assert_array_equal(indices, np.concatenate([p[1] for p in parts]))
    np.testing.assert_array_equal(values, np.concatenate([p[2] for p in parts]))
    assert values.dtype == np.int64
    with pytest.raises(ValueError, match="inconsistent"):
        concat_rows([parts[0], (np.array([0, 5], np.int64), parts[0][1], parts[0][2])])
