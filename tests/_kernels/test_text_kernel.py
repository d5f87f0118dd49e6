"""fastgen._kernels._text: TermTable, count/hash_counts/linear_scores, hostile input.

Calls that could crash the interpreter run in a subprocess so that a crash
is a test failure rather than a dead test session.
"""

import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.utils import murmurhash3_32 as sk_murmurhash3_32

from fastgen._kernels import _text

WORD, CHAR, CHAR_WB = (_text.ANALYZERS[k] for k in ("word", "char", "char_wb"))


def run_isolated(code):
    """Run ``code`` in a fresh interpreter; return (returncode, stderr)."""
    prelude = "import numpy as np\nfrom fastgen._kernels import _text\n"
    proc = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc.returncode, proc.stderr


def assert_raises_cleanly(code, exc_name):
    rc, err = run_isolated(code)
    assert rc == 1, f"process died with return code {rc} (crash?)\n{err}"
    assert f"{exc_name}" in err.strip().splitlines()[-1], err


def rows(indptr, indices, values, terms=None):
    out = []
    for a, b in zip(indptr[:-1], indptr[1:], strict=True):
        keys = indices[a:b].tolist()
        if terms is not None:
            keys = [terms[k] for k in keys]
        out.append(dict(zip(keys, values[a:b].tolist(), strict=True)))
    return out


# --------------------------------------------------------------------------- TermTable


TERMS = ["", "a", "ab", "é", "東京", "😀", "a b", "\x00", "\x00a", "\ud800", "Σσς", "x" * 1000]


def test_term_table_from_terms_roundtrip():
    t = _text.TermTable.from_terms(TERMS)
    assert len(t) == len(TERMS)
    assert t.terms() == TERMS
    assert all(type(s) is str for s in t.terms())
    assert len(_text.TermTable()) == 0 and _text.TermTable().terms() == []


def test_term_table_grows_and_looks_up():
    terms = [f"t{i}_é" if i % 3 else f"w{i}😀" for i in range(50_000)]
    t = _text.TermTable.from_terms(terms)
    assert len(t) == 50_000 and t.terms() == terms
    # lookup through count(grow=False): every term is found with its id
    docs = terms[::997] + ["unknown"]
    # char_wb with n >= word length + 2 emits the whole padded word: one lookup per document
    t2 = _text.TermTable.from_terms([" " + w + " " for w in terms])
    indptr, indices, counts = _text.count(docs, t2, False, CHAR_WB, 100, 100, 1)
    assert indices.tolist() == list(range(0, 50_000, 997))
    assert counts.tolist() == [1] * len(indices)
    assert np.diff(indptr).tolist() == [1] * (len(docs) - 1) + [0]


def test_term_table_duplicates_and_types():
    with pytest.raises(ValueError, match="duplicate term"):
        _text.TermTable.from_terms(["a", "b", "a"])
    with pytest.raises(TypeError):
        _text.TermTable.from_terms(["a", 1])
    with pytest.raises(TypeError):
        _text.TermTable.from_terms([b"a"])
    with pytest.raises(TypeError):
        _text.TermTable.from_terms(None)


def test_term_table_merge():
    a = _text.TermTable.from_terms(["x", "y", "東"])
    b = _text.TermTable.from_terms(["東", "z", "x", "😀"])
    mapping = a.merge(b)
    assert mapping.dtype == np.int32
    assert mapping.tolist() == [2, 3, 0, 4]
    assert a.terms() == ["x", "y", "東", "z", "😀"]
    assert b.terms() == ["東", "z", "x", "😀"]  # unchanged
    assert a.merge(_text.TermTable()).tolist() == []
    assert a.merge(a).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(TypeError):
        a.merge(["x"])


def test_count_grow_assigns_ids_by_first_appearance():
    t = _text.TermTable()
    indptr, indices, counts = _text.count(["bb aa bb", "", "cc aa"], t, True, WORD, 1, 1, 2)
    assert t.terms() == ["bb", "aa", "cc"]
    assert indptr.dtype == np.int64 and indices.dtype == np.int32 and counts.dtype == np.int32
    assert rows(indptr, indices, counts, t.terms()) == [{"bb": 2, "aa": 1}, {}, {"aa": 1, "cc": 1}]
    assert indices.tolist() == [0, 1, 1, 2]  # increasing within rows
    # lookup-only counting skips unseen terms and does not grow the table
    indptr, indices, counts = _text.count(["aa dd aa"], t, False, WORD, 1, 2, 2)
    assert len(t) == 3
    assert rows(indptr, indices, counts) == [{1: 2}]


def test_count_stop_table_and_lower():
    stop = _text.TermTable.from_terms(["the", "σας"])
    t = _text.TermTable()
    _text.count(["The cat ΣΑΣ the σας dog"], t, True, WORD, 1, 2, 2, stop, True)
    assert t.terms() == ["cat", "dog", "cat dog"]
    t = _text.TermTable()
    _text.count(["The cat ΣΑΣ the σας dog"], t, True, WORD, 1, 1, 2, stop, False)
    assert t.terms() == ["The", "cat", "ΣΑΣ", "dog"]


# --------------------------------------------------------------------------- exhaustive tables


def test_lowercase_word_and_space_classes_for_every_code_point():
    docs = [chr(c) for c in range(0x110000)]
    # lower-casing: one-character documents, char unigrams
    t = _text.TermTable()
    indptr, indices, _ = _text.count(docs, t, True, CHAR, 1, 1, 1, None, True)
    terms = np.array(t.terms(), dtype=object)
    lowered = [d.lower() for d in docs]
    single = np.array([len(s) == 1 for s in lowered])
    assert single.sum() == 0x110000 - 1  # only U+0130 lower-cases to two code points
    np.testing.assert_array_equal(np.diff(indptr)[single], 1)
    starts = indptr[:-1][single]
    got = terms[indices[starts]]
    expected = np.array(lowered, dtype=object)[single]
    bad = np.flatnonzero(got != expected)
    assert bad.size == 0, [hex(ord(docs[i])) for i in np.flatnonzero(single)[bad][:10]]
    i130 = 0x130
    assert sorted(terms[indices[indptr[i130] : indptr[i130 + 1]]]) == sorted("i\u0307")
    # \w: a one-character token exists exactly where re's \w matches
    indptr, _, _ = _text.count(docs, _text.TermTable(), True, WORD, 1, 1, 1)
    is_word = np.diff(indptr) == 1
    expected = np.array([re.fullmatch(r"\w", d) is not None for d in docs])
    np.testing.assert_array_equal(is_word, expected)
    # white space: char_wb splits on exactly str.isspace
    indptr, _, _ = _text.count(docs, _text.TermTable(), True, CHAR_WB, 1, 1, 1)
    np.testing.assert_array_equal(np.diff(indptr) == 0, np.array([d.isspace() for d in docs]))


def test_final_sigma_and_dotted_i_lowercasing():
    docs = ["ΟΔΟΣ ΣΑΣ Σ", "ΑΣ.Σ", "Σ", "ΑΣ\u0301", "İSTANBUL", "aİb", "ΑΣΑ", "ẞ Ǆ ǅ"]
    for d in docs:
        t = _text.TermTable()
        _text.count([d], t, True, CHAR, 1, 3, 1, None, True)
        t_ref = _text.TermTable()
        _text.count([d.lower()], t_ref, True, CHAR, 1, 3, 1, None, False)
        assert t.terms() == t_ref.terms(), d


# --------------------------------------------------------------------------- murmurhash


@settings(max_examples=300, deadline=None)
@given(
    s=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
    seed=st.one_of(st.just(0), st.integers(0, 2**32 - 1)),
)
def test_murmurhash3_32_equals_sklearn(s, seed):
    assert _text.murmurhash3_32(s) == sk_murmurhash3_32(s, seed=0)
    assert _text.murmurhash3_32(s, seed) == sk_murmurhash3_32(s, seed=seed)


def test_murmurhash3_32_known_values_and_errors():
    assert _text.murmurhash3_32("") == sk_murmurhash3_32("", seed=0) == 0
    for s in ("a", "ab", "abc", "abcd", "abcde", "東京", "😀", "x" * 1001):
        assert _text.murmurhash3_32(s) == sk_murmurhash3_32(s, seed=0)
    with pytest.raises(UnicodeEncodeError):
        _text.murmurhash3_32("a\ud800")
    with pytest.raises(TypeError):
        _text.murmurhash3_32(b"bytes")
    with pytest.raises(OverflowError):
        _text.murmurhash3_32("a", -1)


# --------------------------------------------------------------------------- hash_counts


def test_hash_counts_matches_python_hashing():
    docs = ["aa bb aa", "", "東京 😀😀 cc", "ab ba ab ba"]
    for n_features in (1, 2, 16, 2**20, 2**31 - 1):
        for alternate_sign in (True, False):
            indptr, indices, values = _text.hash_counts(
                docs, n_features, alternate_sign, CHAR, 1, 2, 1
            )
            assert values.dtype == np.float64 and indices.dtype == np.int32
            assert indices.min() >= 0 and indices.max() < n_features
            expected = []
            for d in docs:
                row = {}
                grams = list(d) + [d[i : i + 2] for i in range(len(d) - 1)]
                grams = grams if len(d) else []
                for g in grams:
                    h = sk_murmurhash3_32(g, seed=0)
                    idx = abs(h) % n_features
                    row[idx] = row.get(idx, 0.0) + (-1.0 if alternate_sign and h < 0 else 1.0)
                expected.append(row)
            assert rows(indptr, indices, values) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30))
def test_hash_counts_of_any_text_equal_sklearn_murmurhash(doc):
    """Non-ASCII terms are UTF-8-encoded while hashed: char n-grams of 1-6 code points
    of any widths (1- to 4-byte UTF-8, every phase against MurmurHash's 4-byte blocks)."""
    indptr, indices, values = _text.hash_counts([doc], 2**31 - 1, True, CHAR, 1, 6, 1)
    norm = re.sub(r"\s\s+", " ", doc)
    row: dict[int, float] = {}
    for n in range(1, 7):
        for i in range(len(norm) - n + 1):
            h = sk_murmurhash3_32(norm[i : i + n], seed=0)
            idx = abs(h) % (2**31 - 1)
            row[idx] = row.get(idx, 0.0) + (-1.0 if h < 0 else 1.0)
    assert rows(indptr, indices, values) == [row]


@pytest.mark.parametrize("n_features", [1, 3, 2**10, 2**20 + 7, 2**31 - 1])
def test_hash_counts_rows_sorted_for_every_document_length(n_features):
    """Hashed keys are sorted by bucketing on their top bits (32 to 1024 keys), by radix
    sort otherwise: rows of 0-3000 tokens, few or many distinct, come out sorted and summed."""
    rng = np.random.default_rng(2)
    words = [f"w{i}" for i in range(5000)]
    docs = []
    for n in (0, 1, 31, 32, 33, 100, 1023, 1024, 1025, 3000):
        docs.append(" ".join(rng.choice(words, n)))
        docs.append(" ".join(rng.choice(words[:3], n)))  # long runs of equal keys
    indptr, indices, values = _text.hash_counts(docs, n_features, True, WORD, 1, 1, 1)
    for d, doc in enumerate(docs):
        row: dict[int, float] = {}
        for t in doc.split():
            h = sk_murmurhash3_32(t, seed=0)
            idx = abs(h) % n_features
            row[idx] = row.get(idx, 0.0) + (-1.0 if h < 0 else 1.0)
        a, b = indptr[d], indptr[d + 1]
        assert indices[a:b].tolist() == sorted(row)
        assert values[a:b].tolist() == [row[k] for k in sorted(row)]


def test_hash_counts_surrogates_raise():
    with pytest.raises(UnicodeEncodeError):
        _text.hash_counts(["fine", "a\ud800b"], 16, True, CHAR, 1, 1, 1)
    # surrogates outside any term are fine (word analyzer: not \w)
    _text.hash_counts(["ab \ud800 cd"], 16, True, WORD, 1, 1, 2)


# --------------------------------------------------------------------------- linear_scores


def test_linear_scores_equals_csr_product():
    t = _text.TermTable.from_terms(["aa", "bb", "cc", "dd"])
    column = np.array([2, -1, 0, 1], dtype=np.int32)  # 'bb' dropped
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(3, 4))
    docs = ["aa bb cc aa", "", "dd dd zz", "bb"]
    for binary in (False, True):
        out = _text.linear_scores(docs, t, weights, column, binary, WORD, 1, 1, 2)
        counts = np.zeros((len(docs), 3))
        for i, d in enumerate(docs):
            for w in d.split():
                if w in ("aa", "bb", "cc", "dd") and column[["aa", "bb", "cc", "dd"].index(w)] >= 0:
                    counts[i, column[["aa", "bb", "cc", "dd"].index(w)]] += 1
        if binary:
            counts = (counts > 0).astype(float)
        np.testing.assert_allclose(out, counts @ weights, rtol=1e-14)
    empty = _text.linear_scores(docs, t, np.zeros((3, 0)), column, False, WORD, 1, 1, 2)
    assert empty.shape == (4, 0)


@pytest.mark.parametrize("n_cls", [1, 7, 64, 65])
@pytest.mark.parametrize("mode", ["counts", "float32", "threshold"])
def test_linear_scores_sums_in_column_order_across_blocks(n_cls, mode):
    """Bit for bit the sum, per class, of ``value * weight`` over each row's columns in
    increasing order (what a CSR-times-dense product does), for documents spanning
    several scoring blocks, empty ones included, on the accumulator path (up to 64
    classes, plain values) and on the general one (more classes, float32 rounding,
    a threshold)."""
    rng = np.random.default_rng(n_cls)
    terms = [f"t{i:03d}" for i in range(300)]
    t = _text.TermTable.from_terms(terms)
    column = rng.permutation(len(terms)).astype(np.int32)
    column[rng.random(len(terms)) < 0.1] = -1  # pruned terms
    weights = rng.normal(size=(len(terms), n_cls))
    docs = [" ".join(rng.choice(terms + ["unknown"], size=rng.integers(0, 30)))
            for _ in range(700)]  # fmt: skip
    kw = {"float32": mode == "float32", "threshold": 1.5 if mode == "threshold" else None}
    out = _text.linear_scores(docs, t, weights, column, False, WORD, 1, 1, 2, **kw)
    want = np.zeros((len(docs), n_cls))
    for i, doc in enumerate(docs):
        counts: dict[int, float] = {}
        for word in doc.split():
            if word != "unknown" and column[terms.index(word)] >= 0:
                col = int(column[terms.index(word)])
                counts[col] = counts.get(col, 0.0) + 1.0
        acc = np.zeros(n_cls)
        for col in sorted(counts):
            a = counts[col]
            if mode == "float32":
                a = float(np.float32(a))
            if mode == "threshold":
                if a <= 1.5:
                    continue
                a = 1.0
            acc = acc + a * weights[col]
        want[i] = acc
    np.testing.assert_array_equal(out, want)


# --------------------------------------------------------------------------- hostile arguments


BAD_PARAMS = [
    (7, 1, 1, 1, "unknown analyzer"),
    (-1, 1, 1, 1, "unknown analyzer"),
    (WORD, 2, 1, 1, "invalid ngram_range"),
    (CHAR, 0, 1, 1, "invalid ngram_range"),
    (CHAR, 0, 0, 1, "invalid ngram_range"),
    (CHAR_WB, -3, 2, 1, "invalid ngram_range"),
    (WORD, 1, 1, 0, "min_token_len"),
    (WORD, 1, 1, -5, "min_token_len"),
]


@pytest.mark.parametrize("analyzer,min_n,max_n,min_len,msg", BAD_PARAMS)
def test_bad_parameters_raise_value_error(analyzer, min_n, max_n, min_len, msg):
    docs = ["ab cd"]
    with pytest.raises(ValueError, match=msg):
        _text.count(docs, _text.TermTable(), True, analyzer, min_n, max_n, min_len)
    with pytest.raises(ValueError, match=msg):
        _text.hash_counts(docs, 16, True, analyzer, min_n, max_n, min_len)
    with pytest.raises(ValueError, match=msg):
        _text.linear_scores(
            docs,
            _text.TermTable(),
            np.zeros((1, 1)),
            np.zeros(0, np.int32),
            False,
            analyzer,
            min_n,
            max_n,
            min_len,
        )


@pytest.mark.parametrize("n_features", [0, -1, -(2**40), 2**31, 2**40])
def test_hash_counts_bad_n_features(n_features):
    with pytest.raises(ValueError, match="n_features"):
        _text.hash_counts(["ab"], n_features, True, WORD, 1, 1, 2)


def test_out_of_range_integers_raise_overflow():
    with pytest.raises(OverflowError):
        _text.count(["ab"], _text.TermTable(), True, 2**40, 1, 1, 1)
    with pytest.raises(OverflowError):
        _text.count(["ab"], _text.TermTable(), True, CHAR, 1, 2**31, 1)
    with pytest.raises(OverflowError):
        _text.hash_counts(["ab"], 2**63, True, CHAR, 1, 1, 1)


INT_MAX = 2**31 - 1
EXTREME_NGRAMS = [
    pytest.param(a, lo, hi, id=f"{name}-{lo}-{hi}")
    for a, name in ((WORD, "word"), (CHAR, "char"), (CHAR_WB, "char_wb"))
    for lo, hi in ((1, INT_MAX - 1), (INT_MAX - 1, INT_MAX - 1), (1, INT_MAX), (INT_MAX, INT_MAX))
]


@pytest.mark.parametrize("analyzer,min_n,max_n", EXTREME_NGRAMS)
def test_extreme_ngram_sizes(analyzer, min_n, max_n):
    docs = ["ab cd", "xyz"]
    t = _text.TermTable()
    _text.count(docs, t, True, analyzer, min_n, max_n, 1)
    h = _text.hash_counts(docs, 16, True, analyzer, min_n, max_n, 1)
    assert h[0][-1] > 0 or min_n > 1
    if analyzer == CHAR_WB:
        # char_wb always emits at least the padded word
        assert {" ab ", " cd ", " xyz "} <= set(t.terms()), (min_n, max_n, t.terms())


@pytest.mark.parametrize("bad_docs", [["ok", 1], ["ok", None], ["ok", b"bytes"], [["nested"]]])
def test_non_str_documents_raise_type_error(bad_docs):
    with pytest.raises(TypeError):
        _text.count(bad_docs, _text.TermTable(), True, WORD, 1, 1, 2)
    with pytest.raises(TypeError):
        _text.hash_counts(bad_docs, 16, True, WORD, 1, 1, 2)
    with pytest.raises(TypeError):
        _text.linear_scores(
            bad_docs, _text.TermTable(), np.zeros((1, 1)), np.zeros(0, np.int32), False, WORD, 1, 1
        )


def test_docs_must_be_a_list():
    with pytest.raises(TypeError):
        _text.count(("ab",), _text.TermTable(), True, WORD, 1, 1, 2)
    with pytest.raises(TypeError):
        _text.hash_counts("ab", 16, True, WORD, 1, 1, 2)
    with pytest.raises(TypeError):
        _text.count(["ab"], _text.TermTable(), True, WORD, 1, 1, 2, stop=["ab"])


NONE_TABLE_CALLS = {
    "count-grow": "_text.count(['ab cd'], None, True, 0, 1, 1)",
    "count-lookup": "_text.count(['ab cd'], None, False, 0, 1, 1)",
    "merge": "_text.TermTable().merge(None)",
}


@pytest.mark.parametrize("call", list(NONE_TABLE_CALLS), ids=list(NONE_TABLE_CALLS))
def test_none_table_raises_type_error(call):
    assert_raises_cleanly(NONE_TABLE_CALLS[call], "TypeError")


def test_linear_scores_bad_column_maps():
    t = _text.TermTable.from_terms(["aa", "bb"])
    w = np.ones((2, 3))
    with pytest.raises(ValueError, match="one entry per table term"):
        _text.linear_scores(["aa"], t, w, np.zeros(3, np.int32), False, WORD, 1, 1)
    with pytest.raises(ValueError, match="one entry per table term"):
        _text.linear_scores(["aa"], t, w, np.zeros(1, np.int32), False, WORD, 1, 1)
    for col in ([0, 2], [5, 0], [0, 2**31 - 1]):
        with pytest.raises(ValueError, match="points past the weight matrix"):
            _text.linear_scores(["aa bb"], t, w, np.array(col, np.int32), False, WORD, 1, 1)
    with pytest.raises(ValueError, match="points past the weight matrix"):
        _text.linear_scores(["aa"], t, np.ones((0, 3)), np.array([0, -1], np.int32), False, 0, 1, 1)
    # wrong dtypes / layouts are refused by the buffer protocol
    with pytest.raises(ValueError):
        _text.linear_scores(["aa"], t, w.astype(np.float32), np.zeros(2, np.int32), False, 0, 1, 1)
    with pytest.raises(ValueError):
        _text.linear_scores(["aa"], t, np.ones((3, 2)).T, np.zeros(2, np.int32), False, 0, 1, 1)
    with pytest.raises(ValueError):
        _text.linear_scores(["aa"], t, w, np.zeros(2, np.int64), False, WORD, 1, 1)
    with pytest.raises(ValueError):
        _text.linear_scores(["aa"], t, np.ones(3), np.zeros(2, np.int32), False, WORD, 1, 1)
    # all-negative map drops every term
    out = _text.linear_scores(["aa bb"], t, w, np.array([-1, -7], np.int32), False, WORD, 1, 1)
    np.testing.assert_array_equal(out, np.zeros((1, 3)))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=6), unique=True, max_size=40))
def test_sorted_ids_follow_python_string_order(terms):
    table = _text.TermTable.from_terms(terms)
    order = table.sorted_ids()
    assert order.dtype == np.int32
    assert [terms[i] for i in order] == sorted(terms)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="ab\x00\x7f\xff\u0100\U0010ffff", max_size=9), unique=True,
                max_size=60))
def test_sorted_ids_break_ties_past_the_sort_key(terms):
    # few letters, long terms: many share their first three code points (the
    # sort key) and are ordered by the rest; U+0000 and U+10FFFF bound the key
    order = _text.TermTable.from_terms(terms).sorted_ids()
    assert [terms[i] for i in order] == sorted(terms)


def test_hash_counts_rejects_unknown_norm():
    with pytest.raises(ValueError, match="unknown norm"):
        _text.hash_counts(["ab"], 16, True, WORD, 1, 1, 2, norm=-1)


@pytest.mark.parametrize("n_words", [50, 70_000])  # ids below and above 2**16
def test_long_documents_come_out_sorted_and_counted(n_words):
    rng = np.random.default_rng(n_words)
    words = np.array([f"w{i}" for i in range(n_words)])
    docs = [" ".join(rng.choice(words, rng.integers(0, 400))) for _ in range(400)]
    table = _text.TermTable()
    indptr, indices, counts = _text.count(docs, table, True, WORD, 1, 1, 2)
    terms = table.terms()
    for d, (a, b) in enumerate(zip(indptr[:-1], indptr[1:], strict=True)):
        assert np.all(np.diff(indices[a:b]) > 0)
        expected: dict[str, int] = {}
        for w in docs[d].split():
            expected[w] = expected.get(w, 0) + 1
        assert {terms[i]: c for i, c in zip(indices[a:b], counts[a:b], strict=True)} == expected


@pytest.mark.parametrize("sized", [True, False])
def test_from_terms_large_table_looks_up_and_grows(sized):
    # 40,000 terms: a list gets its final slots at once (2 MiB or more: huge
    # pages); a generator grows as terms come. Both look up every term, miss
    # the others and keep growing correctly past the size given.
    terms = [f"t{i}" for i in range(40_000)]
    table = _text.TermTable.from_terms(terms if sized else iter(terms))
    assert len(table) == len(terms) and table.terms() == terms
    docs = ["t0 t39999 nope t123", "t7 t7 x1"]
    indptr, indices, counts = _text.count(docs, table, False, WORD, 1, 1, 2)
    assert indptr.tolist() == [0, 3, 4]
    assert indices.tolist() == [0, 123, 39999, 7] and counts.tolist() == [1, 1, 1, 2]
    grown = [f"u{i}" for i in range(40_000)]
    indptr, indices, _ = _text.count([" ".join(grown)], table, True, WORD, 1, 1, 2)
    assert indices.tolist() == list(range(40_000, 80_000))
    assert table.terms() == terms + grown


def test_term_table_inline_and_arena_terms():
    # slots hold terms of <= 11 code points below U+10000 themselves; longer or
    # astral terms are compared in the arena; near-misses of both must not match
    terms = [
        "a", "ab", "abcdefghijk", "abcdefghijkl", "abcdefghijk\u0100",
        "😀", "a😀", "😀" * 11, "\uffff" * 11, "\uffff" * 12, "東京都", "",
    ] + [f"w{i}" for i in range(3000)]  # forces several rehashes
    t = _text.TermTable.from_terms(terms)
    assert t.terms() == terms
    docs = [" ".join(terms[:11]), "abcdefghij abcdefghijkm abcdefghijk\u0101 😁 \uffff" * 2]
    indptr, indices, counts = _text.count(docs, t, False, WORD, 1, 1, 1)
    got = [[terms[i] for i in indices[a:b]] for a, b in zip(indptr[:-1], indptr[1:], strict=True)]
    expected = [sorted(set(re.findall(r"\w+", docs[0])) & set(terms), key=terms.index), []]
    assert got == expected
    grown = _text.TermTable()
    _text.count(terms[:11] + ["zz " + " ".join(terms[11:])], grown, True, CHAR, 1, 1, 1)
    again = _text.TermTable.from_terms(grown.terms())
    assert again.terms() == grown.terms()


@pytest.mark.parametrize("alphabet", ["ab", "aé", "a東", "a\U0001d41a", "\U0001d41a東"])
def test_tokens_of_every_length_find_their_table_terms(alphabet):
    # the table hashes the terms it is given with term_hash's loop; the word
    # tokenizer hashes tokens of up to 8 code points without one, reading past the
    # token into the rest of the document (or its zero pad): both must agree at
    # every length, at the end of a document and before other text
    rng = np.random.default_rng(len(alphabet))
    terms = ["".join(rng.choice(list(alphabet), size=n)) for n in range(1, 40)
             for _ in range(3)]
    terms = list(dict.fromkeys(terms))
    t = _text.TermTable.from_terms(terms)
    for doc in (" ".join(terms), " ".join(reversed(terms)), terms[7], terms[-1]):
        indptr, indices, counts = _text.count([doc], t, False, WORD, 1, 1, 1)
        found = {terms[i]: c for i, c in zip(indices.tolist(), counts.tolist(), strict=True)}
        assert found == {w: doc.split().count(w) for w in doc.split()}
    grown = _text.TermTable()
    _text.count([" ".join(terms)], grown, True, WORD, 1, 1, 1)  # inserts hash in the tokenizer
    assert grown.terms() == terms
    assert _text.TermTable.from_terms(grown.terms()).terms() == terms


def test_count_wide_counts_equal_int32_counts():
    docs = ["aa bb aa", "", "cc aa cc cc", "😀 x"] * 50
    a = _text.count(docs, _text.TermTable(), True, WORD, 1, 2, 1)
    b = _text.count(docs, _text.TermTable(), True, WORD, 1, 2, 1, wide=True)
    assert a[2].dtype == np.int32 and b[2].dtype == np.int64
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def _random_pieces(rng, n_rows, n_ids):
    lengths = rng.integers(0, min(n_ids, 70), n_rows)
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    indices = np.concatenate(
        [rng.permutation(n_ids)[:k] for k in lengths] + [np.zeros(0, int)]
    ).astype(np.int32)
    counts = rng.integers(1, 1000, len(indices)).astype(np.int32)
    return indptr, indices, counts


@pytest.mark.parametrize("out_dtype", [np.int32, np.int64, np.float32, np.float64])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_place_rows_matches_numpy(out_dtype, index_dtype):
    rng = np.random.default_rng(3)
    indptr, indices, counts = _random_pieces(rng, 40, 300)
    order = rng.permutation(300).astype(np.int32)
    column = rng.permutation(300).astype(np.int32)
    for use_order, use_column in [(False, False), (True, False), (False, True), (True, True)]:
        out_i = np.full(len(indices) + 5, -9, dtype=index_dtype)
        out_v = np.full(len(indices) + 5, -9, dtype=out_dtype)
        o = order if use_order else None
        c = column if use_column else None
        # two row ranges placed separately, as threads do
        _text.place_rows(indptr, indices, counts, 0, 17, out_i, out_v, 5, o, c)
        _text.place_rows(indptr, indices, counts, 17, 40, out_i, out_v, 5 + int(indptr[17]), o, c)
        assert (out_i[:5] == -9).all() and (out_v[:5] == -9).all()
        for r in range(40):
            a, b = indptr[r], indptr[r + 1]
            ids, cts = indices[a:b], counts[a:b]
            if use_order:
                perm = np.argsort(order[ids], kind="stable")
                ids, cts = order[ids][perm], cts[perm]
            if use_column:
                ids = column[ids]
            np.testing.assert_array_equal(out_i[5 + a : 5 + b], ids)
            np.testing.assert_array_equal(out_v[5 + a : 5 + b], cts.astype(out_dtype))


def test_place_rows_and_map_indices_reject_bad_input():
    indptr = np.array([0, 2, 3], np.int64)
    indices = np.array([0, 1, 2], np.int32)
    counts = np.ones(3, np.int32)
    out_i, out_v = np.zeros(3, np.int32), np.zeros(3, np.int64)
    ok = np.arange(3, dtype=np.int32)
    cases = [
        ((indptr, indices, counts, 0, 3, out_i, out_v, 0), "row range"),
        ((indptr, indices, counts, 2, 1, out_i, out_v, 0), "row range"),
        ((indptr, indices[:2], counts[:2], 0, 2, out_i, out_v, 0), "inconsistent"),
        ((np.array([0, 2, 1], np.int64), indices, counts, 0, 2, out_i, out_v, 0),
         "non-decreasing"),
        ((indptr, indices, counts, 0, 2, out_i, out_v, 1), "too short"),
        ((indptr, indices, counts, 0, 2, out_i, out_v, -1), "too short"),
        ((indptr, indices, counts, 0, 2, out_i[:2], out_v[:2], 0), "too short"),
        ((indptr, indices, counts, 0, 2, out_i, out_v, 0, ok[:2]), "maps"),
        ((indptr, indices, counts, 0, 2, out_i, out_v, 0, np.array([0, -1, 2], np.int32)),
         "maps"),
        ((indptr, indices, counts, 0, 2, out_i, out_v, 0, None, ok[:2]), "maps"),
        ((indptr, indices, counts, 0, 2, out_i, out_v, 0, ok, ok[:2]), "maps"),
    ]
    for args, msg in cases:
        with pytest.raises(ValueError, match=msg):
            _text.place_rows(*args)
    with pytest.raises(ValueError, match="map"):
        _text.map_indices(np.array([0, 3], np.int32), ok)
    with pytest.raises(ValueError, match="map"):
        _text.map_indices(np.array([-1], np.int32), ok)
    idx = np.array([2, 0, 1, 2], np.int32)
    _text.map_indices(idx, np.array([7, 8, 9], np.int32))
    np.testing.assert_array_equal(idx, [9, 7, 8, 9])


def _python_word_tokens(doc, min_len):
    return [t for t in re.findall(r"(?u)\w+", doc) if len(t) >= min_len]


@pytest.mark.parametrize("min_len", [1, 2])
def test_word_tokens_across_64_code_point_blocks(min_len):
    """The word scanner classifies 64 code points at a time: tokens that start,
    end or run through a block edge, documents of 63/64/65/128 code points,
    tokens longer than a block and astral word characters all come out as ``re``'s."""
    pieces = ["a", "bc", "x" * 63, "y" * 64, "z" * 65, "𝐀𝐁", "東京", "_", "9", "é"]
    seps = [" ", "!", "😀", "  ", "\t"]
    rng = np.random.default_rng(0)
    docs = []
    for n in (1, 62, 63, 64, 65, 127, 128, 129, 200):
        docs.append("w" * n)
        docs.append("w" * (n - 1) + " ")
        docs.append(" " + "w" * (n - 1))
        docs.append(" " * n)
    for _ in range(300):
        k = int(rng.integers(1, 30))
        docs.append("".join(pieces[i] + seps[j] for i, j in zip(
            rng.integers(0, len(pieces), k), rng.integers(0, len(seps), k), strict=True
        ))[: int(rng.integers(0, 300))])
    table = _text.TermTable()
    indptr, indices, counts = _text.count(docs, table, True, WORD, 1, 1, min_len)
    terms = table.terms()
    for d, (a, b) in enumerate(zip(indptr[:-1], indptr[1:], strict=True)):
        expected: dict[str, int] = {}
        for t in _python_word_tokens(docs[d], min_len):
            expected[t] = expected.get(t, 0) + 1
        got = {terms[i]: c for i, c in zip(indices[a:b], counts[a:b], strict=True)}
        assert got == expected, docs[d]


def test_lowered_word_class_for_every_code_point():
    """Loading lower-cases and classifies in one pass: a one-character document is
    a token exactly where ``re``'s ``\\w`` matches its lower case (U+0130: 'i' + a mark)."""
    docs = [chr(c) for c in range(0x110000)]
    table = _text.TermTable()
    indptr, indices, _ = _text.count(docs, table, True, WORD, 1, 1, 1, None, True)
    expected = [re.findall(r"\w+", d.lower()) for d in docs]
    np.testing.assert_array_equal(np.diff(indptr), [len(e) for e in expected])
    terms = table.terms()
    got = [terms[indices[indptr[c]]] for c in range(0x110000) if expected[c]]
    assert got == [e[0] for e in expected if e]


@pytest.mark.parametrize("lower", [True, False])
def test_word_tokens_of_documents_of_every_string_kind(lower):
    """1-, 2- and 4-byte strings mixed in one batch, with case mappings that leave
    Latin-1 ('ÿ' <- 'Ÿ', 'µ'), that take ``str.lower`` itself ('İ', final 'Σ'),
    also where that lengthens a document across a 64-code-point block, astral
    letters with case, astral digits: counts and hashes equal ``re`` on ``str.lower``."""
    pieces = ["AbC", "ÿŸ", "µ", "ÀÉ", "ΣΑΣ", "İ", "İ" * 70, "ΟΔΟΣ", "𐐀𐐨", "𝟘", "東",
              "Ǆ", "_", "X" * 70, "ÆØ", "ß"]
    seps = [" ", "-", "  ", "\xa0", "😀", "\u3000", "."]
    rng = np.random.default_rng(1)
    docs = ["", " ", "İ", "Σ", "ÿ" * 64, "Ÿ" * 65, "A" * 64 + "İ", "a" * 200]
    for _ in range(400):
        k = int(rng.integers(1, 12))
        doc = "".join(pieces[i] + seps[j] for i, j in zip(
            rng.integers(0, len(pieces), k), rng.integers(0, len(seps), k), strict=True))
        docs.append(doc[: int(rng.integers(0, 160))])
        latin1 = "".join(ch for ch in doc if ord(ch) < 256)  # a 1-byte string
        docs.append(latin1)
    table = _text.TermTable()
    indptr, indices, counts = _text.count(docs, table, True, WORD, 1, 1, 1, None, lower)
    terms = table.terms()
    hashed = _text.hash_counts(docs, 2**18, True, WORD, 1, 1, 1, None, lower)
    for d, doc in enumerate(docs):
        tokens = re.findall(r"\w+", doc.lower() if lower else doc)
        expected: dict[str, int] = {}
        for t in tokens:
            expected[t] = expected.get(t, 0) + 1
        a, b = indptr[d], indptr[d + 1]
        assert {terms[i]: c for i, c in zip(indices[a:b], counts[a:b], strict=True)} == expected
        ref: dict[int, float] = {}
        for t in tokens:
            h = sk_murmurhash3_32(t, positive=False)
            key = abs(h) % 2**18
            ref[key] = ref.get(key, 0.0) + (1.0 if h >= 0 else -1.0)
        a, b = hashed[0][d], hashed[0][d + 1]
        assert dict(zip(hashed[1][a:b].tolist(), hashed[2][a:b].tolist(), strict=True)) == ref


def test_all_str_accepts_exact_str_only():
    class Sub(str):
        pass

    assert _text.all_str([]) and _text.all_str(["a", "", "東京"])
    assert not _text.all_str(["a", b"b"])
    assert not _text.all_str(["a", Sub("b")])
    assert not _text.all_str([None])
    with pytest.raises(TypeError):
        _text.all_str(("a",))


def test_linear_scores_without_table_hashes():
    """``table=None`` is the hashing sink: it needs ``n_features`` and no column map."""
    w = np.zeros((16, 2))
    with pytest.raises(ValueError, match="column map applies to a term table only"):
        _text.linear_scores(["ab"], None, w, np.zeros(0, np.int32), False, WORD, 1, 1,
                            n_features=16)
    with pytest.raises(ValueError, match="n_features"):
        _text.linear_scores(["ab"], None, w, None, False, WORD, 1, 1)
    with pytest.raises(ValueError, match="n_features=8 but the weight matrix has 16 rows"):
        _text.linear_scores(["ab"], None, w, None, False, WORD, 1, 1, n_features=8)
    with pytest.raises(ValueError, match="needs a column map"):
        _text.linear_scores(["ab"], _text.TermTable(), w, None, False, WORD, 1, 1)


# --------------------------------------------------------------------------- weighted rows


NORM_CODES = {None: 0, "l1": 1, "l2": 2, "max": 3}


def csr_from(parts, n_cols):
    indptr, indices, values = parts
    return sp.csr_matrix((values, indices, indptr), shape=(len(indptr) - 1, n_cols))


def binarized(X, threshold):
    X = X.copy()
    keep = X.data > threshold
    X.data[keep] = 1
    X.data[~keep] = 0
    X.eliminate_zeros()
    return X


@pytest.mark.parametrize("norm", list(NORM_CODES))
@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("alternate_sign", [False, True])
@pytest.mark.parametrize("threshold", [None, 0.0, 0.4])
def test_linear_scores_hashing_equals_hash_counts_times_weights(norm, binary, alternate_sign,
                                                                threshold):
    rng = np.random.default_rng(1)
    words = ["ab", "cd", "ef", "gh", "ij", "kl", "mn", "op"]
    docs = [" ".join(rng.choice(words, rng.integers(0, 15))) for _ in range(60)] + ["", "x"]
    n_features = 5  # collisions: sums of signs, explicit zeros
    weights = rng.normal(size=(n_features, 3))
    parts = _text.hash_counts(docs, n_features, alternate_sign, WORD, 1, 2, 2,
                              binary=binary, norm=NORM_CODES[norm])
    X = csr_from(parts, n_features)
    if alternate_sign and not binary:
        assert (X.data == 0).any()  # the stored zeros take part in the sum
    expected = (X if threshold is None else binarized(X, threshold)) @ weights
    out = _text.linear_scores(docs, None, weights, None, binary, WORD, 1, 2, 2,
                              n_features=n_features, alternate_sign=alternate_sign,
                              norm=NORM_CODES[norm], threshold=threshold)
    np.testing.assert_array_equal(out, expected)
    # float32 output: values rounded before the product
    out32 = _text.linear_scores(docs, None, weights, None, binary, WORD, 1, 2, 2,
                                n_features=n_features, alternate_sign=alternate_sign,
                                norm=NORM_CODES[norm], float32=True)
    np.testing.assert_array_equal(out32, X.astype(np.float32) @ weights)


@pytest.mark.parametrize("sublinear", [False, True])
@pytest.mark.parametrize("norm", list(NORM_CODES))
def test_linear_scores_table_with_idf_equals_weigh_rows(sublinear, norm):
    from fastgen._kernels import _weighting

    t = _text.TermTable.from_terms(["aa", "bb", "cc", "dd"])
    column = np.array([1, 0, -1, 2], dtype=np.int32)
    docs = ["aa bb aa aa cc", "", "dd dd zz", "bb", "cc cc"]
    rng = np.random.default_rng(2)
    weights = rng.normal(size=(3, 2))
    idf = rng.uniform(1.0, 3.0, 3)
    indptr, ids, counts = _text.count(docs, t, False, WORD, 1, 1, 2)
    cols = column[ids]
    keep = cols >= 0
    X = sp.csr_matrix((counts[keep].astype(np.float64), cols[keep],
                       np.r_[0, np.cumsum([keep[a:b].sum() for a, b in
                                           zip(indptr[:-1], indptr[1:], strict=True)])]),
                      shape=(len(docs), 3))
    X.sort_indices()
    _weighting.weigh_rows(X.indptr.astype(np.int64), X.indices, X.data, X.data,
                          sublinear=sublinear, idf=idf, norm=NORM_CODES[norm])
    out = _text.linear_scores(docs, t, weights, column, False, WORD, 1, 1, 2,
                              sublinear=sublinear, idf=idf, norm=NORM_CODES[norm])
    np.testing.assert_array_equal(out, X @ weights)


def test_linear_scores_hostile_weighting_arguments():
    t = _text.TermTable.from_terms(["aa", "bb"])
    w = np.ones((2, 3))
    col = np.array([0, 1], np.int32)
    for bad in (np.ones(1), np.ones(3), np.ones(0)):
        with pytest.raises(ValueError, match="idf has"):
            _text.linear_scores(["aa"], t, w, col, False, WORD, 1, 1, idf=bad)
        with pytest.raises(ValueError, match="idf has"):
            _text.linear_scores(["aa"], None, w, None, False, WORD, 1, 1, n_features=2, idf=bad)
    with pytest.raises(ValueError):
        _text.linear_scores(["aa"], t, w, col, False, WORD, 1, 1, idf=np.ones(2, np.float32))
    for code in (-1, 4, 2**20):
        with pytest.raises(ValueError, match="unknown norm code"):
            _text.linear_scores(["aa"], t, w, col, False, WORD, 1, 1, norm=code)
    with pytest.raises(TypeError):
        _text.linear_scores(["aa"], t, w, col, False, WORD, 1, 1, threshold="high")
    with pytest.raises(OverflowError):
        _text.linear_scores(["aa"], None, w, None, False, WORD, 1, 1, n_features=2**70)
    for n in (0, -1, 2**31):
        with pytest.raises(ValueError, match="n_features"):
            _text.linear_scores(["aa"], None, w, None, False, WORD, 1, 1, n_features=n)
    # a NaN threshold drops every value (NumPy: x > nan is False)
    out = _text.linear_scores(["aa bb"], t, w, col, False, WORD, 1, 1, threshold=float("nan"))
    np.testing.assert_array_equal(out, np.zeros((1, 3)))
    with pytest.raises(UnicodeEncodeError):
        _text.linear_scores(["ok", "a\ud800b"], None, w, None, False, CHAR, 1, 1, 1,
                            n_features=2)
    with pytest.raises(TypeError):
        _text.linear_scores(["ok", 3], None, w, None, False, WORD, 1, 1, n_features=2)


HOSTILE_HASH_CALLS = {
    "weights-1d": "_text.linear_scores(['ab'], None, np.ones(4), None, False, 0, 1, 1, "
                  "n_features=4)",
    "weights-f-order": "_text.linear_scores(['ab'], None, np.ones((3, 4)).T, None, False, 0, 1, 1,"
                       " n_features=4)",
    "weights-none": "_text.linear_scores(['ab'], None, None, None, False, 0, 1, 1, n_features=4)",
    "idf-2d": "_text.linear_scores(['ab'], None, np.ones((4, 1)), None, False, 0, 1, 1, "
              "n_features=4, idf=np.ones((4, 1)))",
    "huge-ngram": "_text.linear_scores(['ab cd'], None, np.ones((4, 1)), None, False, 0, 1, "
                  "2**31 - 1, n_features=4)",
}


@pytest.mark.parametrize("call", list(HOSTILE_HASH_CALLS), ids=list(HOSTILE_HASH_CALLS))
def test_linear_scores_hashing_hostile_arguments_never_crash(call):
    rc, err = run_isolated(HOSTILE_HASH_CALLS[call])
    if call == "huge-ngram":
        assert rc == 0, err  # n-grams longer than the document change nothing
    else:
        assert rc == 1 and err.strip().splitlines()[-1].split(":")[0] in (
            "ValueError", "TypeError"), err
