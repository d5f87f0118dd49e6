"""fastgen.text.HashingVectorizer against scikit-learn: bit-identical CSR output."""

import os
import pickle
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.feature_extraction.text as skt
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from fastgen.text import HashingVectorizer
from fastgen.text._hashing import _murmurhash3_32_bytes

DOCS = [
    "The quick brown fox jumps over the lazy dog; the dog sleeps.",
    "Café crème brûlée naïve résumé Ångström Øresund",
    "Cafe\u0301 cre\u0300me nai\u0308ve",
    "ΟΔΟΣ ΣΑΣ Σ ΟΔΟΣ. ὈΔΥΣΣΕΎΣ Σ' ΑΣ.Σ σοφός",
    "İSTANBUL İstanbul İi Iı ıi",
    "Привет мир! ПРИВЕТ, Мир; ёжик Ёжик",
    "東京都 日本語のテキスト 中文 한국어",
    "emoji 😀😀 🎉party🎉 👍🏽 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𐐀𐐨 𐐀",
    "digits 123 4567 ٣٤٥ under_score __init__ _ a_b",
    "x² y³ ½ ¼ ⅓ Ⅻ ① x²y 2½",
    "العربية مُحَمَّد हिन्दी देवनागरी",
    "zero\u200bwidth joiner\u200dhere nb\u00a0sp thin\u2009space ideo\u3000space",
    "mixed a é 東 😀 aé東😀 é😀",
    "tabs\tand\t\ttabs\nnew\nlines\n\n  multiple   spaces \r\n end ",
    "",
    "   ",
    "\t",
    "a",
    "aa aa aa bb bb",  # repeated terms: counts > 1 (and sign cancellations with tiny n_features)
]


def random_corpus(n_docs, seed=0):
    words = (
        "alpha beta gamma Δέλτα ΟΔΟΣ İi Привет 東京 😀x café x² ½ 12 a_b the of to and"
    ).split()
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(words, size=int(rng.integers(0, 15)))) for _ in range(n_docs)]


BIG_CORPUS = random_corpus(1500, seed=2)


def assert_identical(fg, sk):
    assert type(fg) is sp.csr_matrix
    assert type(sk) is sp.csr_matrix
    assert fg.shape == sk.shape
    for attr in ("indptr", "indices", "data"):
        a, b = getattr(fg, attr), getattr(sk, attr)
        assert a.dtype == b.dtype, (attr, a.dtype, b.dtype)
        assert np.array_equal(a, b), attr  # bit-identical, no tolerance


def check(params, docs=DOCS):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        X_sk = skt.HashingVectorizer(**params).transform(docs)
        fg = HashingVectorizer(**params)
        X_fg = fg.transform(docs)
        assert_identical(X_fg, X_sk)
        assert_identical(HashingVectorizer(**params).fit_transform(docs), X_sk)
    return X_fg


@pytest.mark.parametrize("n_features", [1, 16, 2**10, 2**20])
@pytest.mark.parametrize("alternate_sign", [True, False])
@pytest.mark.parametrize("norm", ["l1", "l2", "max", None])
@pytest.mark.parametrize("binary", [False, True])
def test_norms_signs_sizes_match_sklearn(n_features, alternate_sign, norm, binary):
    check(dict(n_features=n_features, alternate_sign=alternate_sign, norm=norm, binary=binary))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int32])
@pytest.mark.parametrize("norm", ["l1", "l2", "max", None])
@pytest.mark.parametrize("n_features", [16, 2**20])
def test_dtypes_match_sklearn(dtype, norm, n_features):
    X = check(dict(dtype=dtype, norm=norm, n_features=n_features, ngram_range=(1, 2)))
    if norm is None:
        assert X.dtype == dtype


@pytest.mark.parametrize("analyzer", ["word", "char", "char_wb"])
@pytest.mark.parametrize("ngram_range", [(1, 1), (1, 2), (2, 3), (1, 4)])
@pytest.mark.parametrize("lowercase", [True, False])
def test_analyzers_match_sklearn(analyzer, ngram_range, lowercase):
    params = dict(analyzer=analyzer, ngram_range=ngram_range, lowercase=lowercase)
    check(params)
    check({**params, "n_features": 16, "norm": None, "alternate_sign": False})


@pytest.mark.parametrize(
    "params",
    [
        dict(strip_accents="unicode"),
        dict(strip_accents="ascii", analyzer="char_wb", ngram_range=(2, 3)),
        dict(strip_accents=str.upper, lowercase=False),
        dict(stop_words="english", ngram_range=(1, 2)),
        dict(stop_words=["the", "ΟΔΟΣ", "οδος", "σας", "dog"], lowercase=False),
        dict(token_pattern=r"(?u)\b\w+\b", ngram_range=(1, 3)),
        dict(token_pattern=r"\w+"),
        dict(token_pattern=r"(\w)\w*", ngram_range=(1, 2)),
        dict(tokenizer=str.split, token_pattern=None),
        dict(preprocessor=str.upper),
        dict(preprocessor=str.upper, analyzer="char"),
        dict(analyzer=str.split),
        dict(analyzer=lambda d: [d.encode("utf-8"), d[:3].encode("utf-16-le")]),  # raw bytes
    ],
    ids=[
        "acc-uni",
        "acc-ascii",
        "acc-fn",
        "stop-en",
        "stop-list",
        "pat1",
        "pat-w",
        "pat-grp",
        "tokenizer",
        "pre",
        "pre-char",
        "an-split",
        "an-bytes",
    ],
)
def test_options_match_sklearn(params):
    check(params)
    check({**params, "n_features": 16, "norm": None})


@pytest.mark.parametrize("n_jobs", [1, 2, -1, None])
@pytest.mark.parametrize(
    "params",
    [{}, dict(analyzer="char_wb", ngram_range=(2, 4)), dict(token_pattern=r"\w+", norm="l1")],
    ids=["word", "char_wb", "python"],
)
def test_n_jobs_identical(n_jobs, params):
    X_serial = check(params, BIG_CORPUS)
    X_par = HashingVectorizer(**params, n_jobs=n_jobs).transform(BIG_CORPUS)
    assert_identical(X_par, X_serial)


def test_inputs_generators_bytes_files(tmp_path):
    X = check({})
    assert_identical(HashingVectorizer().transform(d for d in DOCS), X)
    assert_identical(HashingVectorizer().transform([d.encode() for d in DOCS]), X)
    paths = []
    for i, d in enumerate(DOCS):
        p = tmp_path / f"{i}.txt"
        p.write_bytes(d.encode("utf-8"))
        paths.append(str(p))
    assert_identical(HashingVectorizer(input="filename").transform(paths), X)
    handles = [open(p, "rb") for p in paths]
    try:
        assert_identical(HashingVectorizer(input="file").transform(handles), X)
    finally:
        for h in handles:
            h.close()
    bad = [b"ok", b"caf\xe9 \xff\xfe"]
    for mode in ("ignore", "replace"):
        check(dict(decode_error=mode), bad)
    with pytest.raises(UnicodeDecodeError):
        HashingVectorizer().transform(bad)


def test_stateless_api():
    hv = HashingVectorizer(n_features=32)
    assert hv.fit(DOCS) is hv
    assert hv.partial_fit(DOCS) is hv
    assert not hasattr(hv, "vocabulary_")
    assert_identical(hv.transform(DOCS), HashingVectorizer(n_features=32).transform(DOCS))


# --------------------------------------------------------------------------- errors


def test_single_string_rejected():
    msg = "Iterable over raw text documents expected, string object received"
    with pytest.raises(ValueError, match=msg):
        HashingVectorizer().transform("one string")
    with pytest.raises(ValueError, match=msg):
        HashingVectorizer().fit("one string")
    with pytest.raises(ValueError, match=msg):
        HashingVectorizer().fit_transform("one string")


@pytest.mark.parametrize("docs", [[], (), iter([])])
def test_empty_input_rejected(docs):
    with pytest.raises(ValueError, match="Cannot vectorize empty sequence"):
        HashingVectorizer().transform(docs)


@pytest.mark.parametrize("bad", [1, None, 3.5])
@pytest.mark.parametrize("params", [{}, dict(analyzer="char"), dict(token_pattern=r"\w+")])
def test_non_string_documents(bad, params):
    with pytest.raises(TypeError, match="documents must be str or bytes"):
        HashingVectorizer(**params).transform(["ok", bad])


def test_nan_document():
    with pytest.raises(ValueError, match="np.nan is an invalid document"):
        HashingVectorizer().transform(["ok", np.nan])


@pytest.mark.parametrize(
    "params,docs",
    [
        (dict(analyzer="char"), ["ab", "x\ud800"]),
        (dict(analyzer="char_wb", ngram_range=(2, 3)), ["\udfff"]),
        (dict(token_pattern=r"\S+"), ["a\ud800b"]),  # Python path
        (dict(analyzer="char", lowercase=False, n_jobs=2), ["ab"] * 1200 + ["\ud83d"]),
    ],
)
def test_lone_surrogates_raise_like_sklearn(params, docs):
    with pytest.raises(UnicodeEncodeError):
        skt.HashingVectorizer(**{k: v for k, v in params.items() if k != "n_jobs"}).transform(docs)
    with pytest.raises(UnicodeEncodeError, match="surrogates not allowed"):
        HashingVectorizer(**params).transform(docs)


def test_surrogates_outside_terms_are_fine():
    check({}, ["ab\ud800cd xy\ud800", "\udc00"])


@pytest.mark.parametrize("n_features", [0, -1, 2**31, 1.5, "16", True])
def test_bad_n_features(n_features):
    with pytest.raises(ValueError, match="n_features"):
        HashingVectorizer(n_features=n_features).transform(["ab"])


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_complex_dtype_with_norm_fails_like_sklearn(dtype):
    # scikit-learn's normalize refuses complex data; fastgen used to return float64
    with pytest.raises(ValueError, match="Complex data not supported"):
        skt.HashingVectorizer(dtype=dtype).transform(["ab"])
    with pytest.raises(ValueError, match="Complex data not supported"):
        HashingVectorizer(dtype=dtype).transform(["ab"])
    with pytest.raises(ValueError, match="Complex data not supported"):
        HashingVectorizer(dtype=dtype)._validate_params()
    check(dict(dtype=dtype, norm=None))


@pytest.mark.parametrize("norm", ["l3", "L2", 2, ""])
def test_bad_norm(norm):
    with pytest.raises(ValueError, match="norm"):
        HashingVectorizer(norm=norm).transform(["ab"])


@pytest.mark.parametrize("ngram_range", [(2, 1), (0, 2), [1, 2]])
def test_bad_ngram_range(ngram_range):
    with pytest.raises(ValueError, match="Invalid value for ngram_range"):
        HashingVectorizer(ngram_range=ngram_range).transform(["ab"])


def test_bad_analyzer():
    with pytest.raises(ValueError, match="is not a valid tokenization scheme/analyzer"):
        HashingVectorizer(analyzer="words").transform(["ab"])


def test_callable_analyzer_non_string_terms():
    with pytest.raises(TypeError):
        HashingVectorizer(analyzer=lambda d: [1, 2]).transform(["ab"])


def test_huge_inputs():
    doc = "lorem ipsum ΔΟΛΟΡ 東京 sit amet " * 700_000  # ~21 MB of UTF-8
    assert len(doc.encode()) > 20_000_000
    X = HashingVectorizer(norm=None, alternate_sign=False).transform([doc])
    assert X.sum() == 6 * 700_000
    docs = [f"w{i % 1000}" for i in range(200_000)]
    X = HashingVectorizer(n_features=2**12, n_jobs=2).transform(docs)
    assert X.shape == (200_000, 2**12) and X.nnz == 200_000


# --------------------------------------------------------------------------- murmurhash of bytes


def test_bytes_murmurhash_matches_sklearn():
    from sklearn.utils import murmurhash3_32

    for n in range(40):
        b = os.urandom(n)
        assert _murmurhash3_32_bytes(b) == murmurhash3_32(b, seed=0)


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
    ngram_range=st.sampled_from([(1, 1), (1, 2), (2, 3)]),
    lowercase=st.booleans(),
    n_features=st.sampled_from([1, 7, 16, 2**20]),
    norm=st.sampled_from(["l1", "l2", "max", None]),
    alternate_sign=st.booleans(),
)
def test_hypothesis_matches_sklearn(
    docs, analyzer, ngram_range, lowercase, n_features, norm, alternate_sign
):
    check(
        dict(
            analyzer=analyzer,
            ngram_range=ngram_range,
            lowercase=lowercase,
            n_features=n_features,
            norm=norm,
            alternate_sign=alternate_sign,
        ),
        docs,
    )


@settings(max_examples=200, deadline=None)
@given(
    docs=st.lists(TEXT, min_size=1, max_size=5),
    analyzer=st.sampled_from(["word", "char", "char_wb"]),
    ngram_range=st.sampled_from([(1, 1), (1, 2), (2, 3)]),
    lowercase=st.booleans(),
)
def test_hypothesis_compiled_equals_python_path(docs, analyzer, ngram_range, lowercase):
    compiled = HashingVectorizer(
        analyzer=analyzer, ngram_range=ngram_range, lowercase=lowercase, n_features=64, norm=None
    )
    assert compiled._kernel_plan() is not None
    python = HashingVectorizer(analyzer=compiled.build_analyzer(), n_features=64, norm=None)
    assert python._kernel_plan() is None
    assert_identical(compiled.transform(docs), python.transform(docs))


# --------------------------------------------------------------------------- sklearn integration


def test_clone_params_pickle():
    hv = HashingVectorizer(n_features=64, ngram_range=(1, 2), n_jobs=2)
    params = hv.get_params()
    assert set(params) == set(skt.HashingVectorizer().get_params()) | {"n_jobs"}
    c = clone(hv)
    assert c is not hv and c.get_params() == params
    hv.set_params(norm="l1")
    assert hv.norm == "l1"
    hv2 = pickle.loads(pickle.dumps(hv))
    assert_identical(hv2.transform(DOCS), hv.transform(DOCS))


def test_pipeline_grid_search():
    docs = random_corpus(100, seed=4)
    y = np.array([int("東京" in d) for d in docs])
    pipe = Pipeline(
        [("vec", HashingVectorizer(n_features=256)), ("clf", SGDClassifier(random_state=0))]
    )
    grid = GridSearchCV(pipe, {"vec__ngram_range": [(1, 1), (1, 2)]}, cv=3).fit(docs, y)
    assert grid.best_params_["vec__ngram_range"] in ((1, 1), (1, 2))
    assert grid.predict(docs).shape == (100,)


def test_no_explicit_sorting_assumption_broken():
    X = HashingVectorizer(n_features=8, norm=None).transform(DOCS)
    for a, b in zip(X.indptr[:-1], X.indptr[1:], strict=True):
        row = X.indices[a:b]
        assert np.all(np.diff(row) > 0)
    assert X.has_sorted_indices
    assert re.match(r"float", X.dtype.name)


def test_non_ascii_code_point_at_every_position_of_a_term():
    """The kernel hashes ASCII terms straight from their code points and others from
    their UTF-8: a single non-ASCII code point, in a block of four or in the tail,
    must send the term down the UTF-8 path (else its column and sign change)."""
    docs = []
    for n in range(1, 10):
        for pos in range(n):
            for ch in ("é", "東", "😀", "\x7f", "\x80"):
                term = "a" * pos + ch + "b" * (n - pos - 1)
                docs.append(f"{term} x{term}")
    params = {"analyzer": "char", "ngram_range": (1, 9), "n_features": 2**18}
    assert_identical(HashingVectorizer(**params).transform(docs),
                     skt.HashingVectorizer(**params).transform(docs))
