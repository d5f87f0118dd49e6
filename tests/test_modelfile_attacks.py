"""Model files from an attacker: every refusal is a ModelFileError naming the file.

Each test here forges a file the way an attacker would (checksums recomputed, zip
entries rewritten by hand) and checks that loading it cannot exhaust memory, hang,
read host files, or give a model that answers NaN.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import subprocess
import sys
import textwrap
import time
import zipfile

import numpy as np
import pytest
from modelfile_tools import corruptions, npy, read_zip, tamper, write_zip

import fastgen
from fastgen import ModelFileError
from fastgen._modelfile import DEFAULT_MAX_SIZE, read_modelfile, write_modelfile
from fastgen._persist import _payload_sha256
from fastgen.hmm import (
    GMMHMM,
    CategoricalHMM,
    GaussianHMM,
    MultinomialHMM,
    PoissonHMM,
    VariationalCategoricalHMM,
    VariationalGaussianHMM,
)
from fastgen.naive_bayes import (
    BernoulliNB,
    CategoricalNB,
    ComplementNB,
    GaussianNB,
    MultinomialNB,
)
from fastgen.pipeline import TextClassifier
from fastgen.text import CountVectorizer, HashingVectorizer, TfidfTransformer, TfidfVectorizer

DOCS = ["the cat sat", "a dog ran far", "cats and dogs", "the bird flew", "dogs bark loud",
        "a cat purrs", "birds sing", "the dog sat"]
LABELS = np.array(["pet", "pet", "pet", "wild", "pet", "pet", "wild", "pet"])


def _models() -> dict[str, object]:
    rng = np.random.default_rng(0)
    X = rng.integers(0, 4, (40, 5))
    y = np.repeat([0, 1, 2], [14, 13, 13])
    Xg = np.concatenate([rng.normal(m, 1.0, (30, 2)) for m in (-3, 0, 3)])
    from sklearn.pipeline import Pipeline

    return {
        "count": CountVectorizer(ngram_range=(1, 2)).fit(DOCS),
        "hashing": HashingVectorizer(n_features=64),
        "tfidf": TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(DOCS),
        "tfidf_transformer": TfidfTransformer().fit(X),
        "tfidf_text": TextClassifier(TfidfVectorizer(dtype=np.float32), ComplementNB()).fit(
            DOCS, LABELS),
        "multinomial": MultinomialNB().fit(X, y),
        "complement": ComplementNB().fit(X, y),
        "bernoulli": BernoulliNB().fit(X, y),
        "categorical": CategoricalNB().fit(X, y),
        "gaussian_nb": GaussianNB().fit(Xg[:40], y),
        "text": TextClassifier(CountVectorizer(), MultinomialNB()).fit(DOCS, LABELS),
        "pipeline": Pipeline([("v", CountVectorizer()), ("nb", MultinomialNB())]).fit(
            DOCS, LABELS),
        "gaussian_hmm": GaussianHMM(3, covariance_type="full", n_iter=3, random_state=0).fit(Xg),
        "categorical_hmm": CategoricalHMM(2, n_iter=3, random_state=0).fit(
            rng.integers(0, 3, (60, 1))),
        "gmm_hmm": GMMHMM(2, n_mix=2, covariance_type="full", n_iter=3, random_state=0).fit(Xg),
        "poisson_hmm": PoissonHMM(2, n_iter=3, random_state=0).fit(rng.poisson(3.0, (60, 3))),
        "multinomial_hmm": MultinomialHMM(2, n_trials=6, n_iter=3, random_state=0).fit(
            rng.multinomial(6, [0.2, 0.3, 0.5], 60)),
        "vgaussian_hmm": VariationalGaussianHMM(2, n_iter=3, random_state=0).fit(Xg),
        "vcategorical_hmm": VariationalCategoricalHMM(2, n_iter=3, random_state=0).fit(
            rng.integers(0, 3, (60, 1))),
    }


@pytest.fixture(scope="module")
def model_files(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("attacks")
    out = {}
    for name, model in _models().items():
        path = folder / f"{name}.fgm"
        fastgen.save(model, path)
        out[name] = str(path)
    return out


def _peak_rss_mb(code: str) -> tuple[float, float, str]:
    """Run ``code`` in a fresh process: (peak RSS MB, seconds, stdout)."""
    # VmHWM, not ru_maxrss: the latter carries the parent's peak across fork + exec
    script = textwrap.dedent(code) + textwrap.dedent("""
        hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM")]
        print("PEAK", int(hwm[0].split()[1]) / 1024)
    """)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    seconds = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    peak = float(proc.stdout.split("PEAK")[-1])
    return peak, seconds, proc.stdout


def _load_expecting_refusal(path) -> str:
    return f"""
        import fastgen
        try:
            fastgen.load({str(path)!r})
        except fastgen.ModelFileError as exc:
            assert {str(path)!r} in str(exc), exc
            print("REFUSED", exc)
        else:
            raise SystemExit("loaded")
    """


# --------------------------------------------------------------------------- zip bombs


def _zip_with_bomb(src: str, dst, *, sizes: int, referenced: bool, declared=None) -> None:
    """Copy ``src`` adding three deflated members of ``sizes`` zero bytes each.

    The manifest lists them (checksums right, sizes as ``declared`` or the truth);
    with ``referenced`` the manifest's state also points at them.
    """
    entries = read_zip(src)
    man = json.loads(entries.pop("manifest.json"))
    digest = hashlib.sha256()
    block = bytes(1 << 20)
    for _ in range(sizes >> 20):
        digest.update(block)
    names = [f"state.bomb{i}.npy" for i in range(3)]
    for name in names:
        man["members"][name] = {"sha256": digest.hexdigest(),
                                "size": sizes if declared is None else declared, "type": "npy"}
    if referenced:
        man["state"]["bombs"] = [{"$type": "ndarray", "member": n} for n in names]
        man["payload_sha256"] = _payload_sha256(man["kind"], man["params"], man["state"],
                                                man["summary"])
    with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(man))
        for name, data in entries.items():
            zf.writestr(name, data)
        for name in names:
            with zf.open(name, "w", force_zip64=True) as f:
                for _ in range(sizes >> 20):
                    f.write(block)


@pytest.fixture(scope="module")
def bombs(model_files, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bombs")
    out = {}
    half_gib = 512 << 20
    for name, kwargs in {
        "listed": {"sizes": half_gib, "referenced": False},
        "referenced": {"sizes": half_gib, "referenced": True},
        "understated": {"sizes": half_gib, "referenced": True, "declared": 1000},
    }.items():
        path = folder / f"{name}.fgm"
        _zip_with_bomb(model_files["multinomial"], path, **kwargs)
        out[name] = path
    return out


@pytest.mark.parametrize("which, max_size, expected", [
    ("listed", None, "not referenced"),
    ("referenced", None, "no fitted attribute"),
    ("referenced", 1 << 30, "more than the"),
    ("understated", None, "manifest entry says"),
])
def test_zip_bomb_refused_before_decompressing(bombs, which, max_size, expected):
    """Three deflated 512 MiB members: refused from the directory, in bounded memory."""
    path = bombs[which]
    assert path.stat().st_size < 4 << 20
    code = _load_expecting_refusal(path).replace(
        "fastgen.load(", f"fastgen.load(max_size={max_size!r}, path=")
    peak, seconds, out = _peak_rss_mb(code)
    assert "REFUSED" in out
    assert peak < 250, f"peak RSS {peak:.0f} MB"
    assert seconds < 20
    assert expected in out
    with pytest.raises(ModelFileError):
        fastgen.info(path, max_size=max_size)


def test_size_cap_override(model_files, tmp_path):
    """``max_size`` is the documented override: a small cap refuses an honest file."""
    path = model_files["count"]
    with pytest.raises(ModelFileError, match="max_size="):
        fastgen.load(path, max_size=100)
    assert fastgen.load(path, max_size=DEFAULT_MAX_SIZE) is not None
    with pytest.raises(ValueError, match="max_size"):
        fastgen.load(path, max_size=0)


def test_npy_header_declaring_huge_array(model_files, tmp_path):
    """An .npy header claiming 10**12 elements is refused before any allocation."""
    header = np.lib.format.header_data_from_array_1_0(np.zeros(3))
    header["shape"] = (10**12,)
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    data = buf.getvalue() + np.zeros(3).tobytes()
    out = tamper(model_files["multinomial"], tmp_path / "h.fgm",
                 members={"state.class_count_.npy": data})
    with pytest.raises(ModelFileError, match="declares .* bytes of data"):
        fastgen.load(out)


# --------------------------------------------------------------------------- zip structure


def _raw_zip(path, entries: list[tuple[str, bytes]], *, symlink: str | None = None) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name)
            if name == symlink:
                info.external_attr = (0o120777 << 16)
            zf.writestr(info, data)


def test_duplicate_and_unsafe_member_names(model_files, tmp_path):
    entries = list(read_zip(model_files["multinomial"]).items())
    manifest = dict(entries)["manifest.json"]
    member = next(n for n, _ in entries if n != "manifest.json")
    evil_manifest = json.loads(manifest)
    evil_manifest["kind"] = "fastgen.GaussianNB"
    cases = {
        "second manifest": entries + [("manifest.json", json.dumps(evil_manifest).encode())],
        "duplicate member": entries + [(member, b"other bytes")],
        "absolute": entries + [("/etc/passwd", b"x")],
        "parent": entries + [("../escape.npy", b"x")],
        "directory": entries + [("sub/", b"")],
    }
    for what, items in cases.items():
        path = tmp_path / "d.fgm"
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile warns on duplicate names
            _raw_zip(path, items)
        with pytest.raises(ModelFileError, match=str(path)) as info:
            fastgen.load(path)
        assert "twice" in str(info.value) or "unsafe" in str(info.value) or \
            "directory" in str(info.value), what
    path = tmp_path / "link.fgm"
    _raw_zip(path, [(n, d) for n, d in entries], symlink=member)
    with pytest.raises(ModelFileError, match="link"):
        fastgen.load(path)


def test_unsupported_compression_is_a_model_file_error(model_files, tmp_path):
    entries = read_zip(model_files["multinomial"])
    path = tmp_path / "bz.fgm"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_BZIP2) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    with pytest.raises(ModelFileError, match="compression"):
        fastgen.load(path)


# --------------------------------------------------------------------------- poisoned values


POISON = {
    "multinomial": ("state.feature_log_prob_.npy", lambda a: np.full_like(a, np.nan)),
    "complement": ("state.feature_log_prob_.npy", lambda a: np.full_like(a, np.nan)),
    "bernoulli": ("state.feature_log_prob_.npy", lambda a: np.zeros_like(a)),
    "gaussian_nb": ("state.var_.npy", lambda a: -a),
    "count": ("state.vocabulary_.values.npy", lambda a: np.zeros_like(a)),
    "tfidf": ("state._tfidf.state.idf_.npy", lambda a: np.full_like(a, np.nan)),
    "tfidf_transformer": ("state.idf_.npy", lambda a: -a),
    "tfidf_text": ("state.vectorizer_.state._tfidf.state.idf_.npy", lambda a: a[:-1]),
    "gaussian_hmm": ("state.transmat_.npy", lambda a: np.full_like(a, np.nan)),
    "categorical_hmm": ("state.emissionprob_.npy", lambda a: a * 2),
    "gmm_hmm": ("state.weights_.npy", lambda a: np.full_like(a, np.nan)),
    "poisson_hmm": ("state.lambdas_.npy", lambda a: -a - 1),
    "multinomial_hmm": ("state.emissionprob_.npy", lambda a: a * 2),
    "vgaussian_hmm": ("state.means_posterior_.npy", lambda a: np.full_like(a, np.inf)),
    "vcategorical_hmm": ("state.emissionprob_posterior_.npy", lambda a: -a),
}


@pytest.mark.parametrize("kind", sorted(POISON))
def test_poisoned_arrays_with_recomputed_checksums(model_files, tmp_path, kind):
    member, poison = POISON[kind]
    original = read_modelfile(model_files[kind]).members[member]
    out = tamper(model_files[kind], tmp_path / "p.fgm", members={member: npy(poison(original))})
    with pytest.raises(ModelFileError, match=f"{out}: inconsistent"):
        fastgen.load(out)


def test_nan_in_nb_probabilities_never_predicts(model_files, tmp_path):
    original = read_modelfile(model_files["multinomial"]).members["state.class_log_prior_.npy"]
    for poison in (np.full_like(original, np.nan), np.full_like(original, np.inf),
                   np.full_like(original, -np.inf)):
        out = tamper(model_files["multinomial"], tmp_path / "p.fgm",
                     members={"state.class_log_prior_.npy": npy(poison)})
        with pytest.raises(ModelFileError, match="class_log_prior_"):
            fastgen.load(out)


@pytest.mark.parametrize("kind, param, value", [
    ("multinomial", "alpha", {"$type": "float", "value": "inf"}),
    ("multinomial", "alpha", -1.0),
    ("gaussian_hmm", "n_components", 0),
    ("gaussian_hmm", "implementation", "eval"),
    ("count", "analyzer", "shell"),
    ("tfidf", "norm", "l3"),
    ("tfidf", "use_idf", "yes"),
    ("tfidf_transformer", "norm", "max"),
    ("tfidf_transformer", "sublinear_tf", 1),
])
def test_edited_parameters_with_recomputed_checksums(model_files, tmp_path, kind, param, value):
    out = tamper(model_files[kind], tmp_path / "e.fgm",
                 manifest=lambda m: m["params"].update({param: value}))
    with pytest.raises(ModelFileError, match=f"{out}: "):
        fastgen.load(out)


HOST_PARAMS = {
    "token_pattern": "(a+)+$",
    "input": "filename",
    "ngram_range": {"$type": "tuple", "items": [1, 100]},
}


@pytest.mark.parametrize("param", sorted(HOST_PARAMS))
@pytest.mark.parametrize("kind", ["count", "hashing", "text", "tfidf", "tfidf_text"])
def test_parameters_acting_on_the_host_need_trust(model_files, tmp_path, kind, param):
    def edit(man):
        text = kind in ("text", "tfidf_text")
        params = man["params"] if not text else man["params"]["vectorizer"]["params"]
        params[param] = HOST_PARAMS[param]
        if text:  # the fitted copy too
            man["state"]["vectorizer_"]["params"][param] = HOST_PARAMS[param]

    out = tamper(model_files[kind], tmp_path / "t.fgm", manifest=edit)
    with pytest.raises(ModelFileError, match=f"{param}=.*trusted=True"):
        fastgen.load(out)
    with pytest.raises(ModelFileError, match="trusted=True"):
        fastgen.info(out)
    model = fastgen.load(out, trusted=True)
    vectorizer = model.vectorizer_ if kind in ("text", "tfidf_text") else model
    assert getattr(vectorizer, param) == (
        (1, 100) if param == "ngram_range" else HOST_PARAMS[param])
    fastgen.info(out, trusted=True)


def test_input_filename_never_opens_host_files(model_files, tmp_path, monkeypatch):
    secret = tmp_path / "creds"
    secret.write_text("password hunter2")
    out = tamper(model_files["text"], tmp_path / "f.fgm", manifest=lambda m: [
        p["params"].update(input="filename")
        for p in (m["params"]["vectorizer"], m["state"]["vectorizer_"])])
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelFileError, match="input='filename'"):
        fastgen.load(out).predict(["creds"])


def test_catastrophic_token_pattern_refused_quickly(model_files, tmp_path):
    out = tamper(model_files["count"], tmp_path / "r.fgm",
                 manifest=lambda m: m["params"].update(token_pattern="(a+)+$"))
    t0 = time.perf_counter()
    with pytest.raises(ModelFileError, match="token_pattern"):
        fastgen.load(out).transform(["a" * 40 + "!"])
    assert time.perf_counter() - t0 < 5


#: where each tf-idf file keeps its idf_ member
IDF_MEMBERS = {
    "tfidf": "state._tfidf.state.idf_.npy",
    "tfidf_transformer": "state.idf_.npy",
    "tfidf_text": "state.vectorizer_.state._tfidf.state.idf_.npy",
}
#: tampered idf_ (from the honest one) and what the refusal says
BAD_IDF = {
    "nan": (lambda a: np.where(np.arange(a.size) == 1, np.nan, a).astype(a.dtype), "finite"),
    "inf": (lambda a: np.full_like(a, np.inf), "finite"),
    "negative": (lambda a: -a, r"\[1, "),
    "zero": (lambda a: np.zeros_like(a), r"\[1, "),
    "below_one": (lambda a: np.full_like(a, 0.999), r"\[1, "),
    "huge": (lambda a: np.full_like(a, 1e30), r"\[1, "),
    "short": (lambda a: a[:-1], "shape"),
    "long": (lambda a: np.append(a, a[:1]), "shape"),
    "int64": (lambda a: a.astype(np.int64), "float32 or float64"),
    "float16": (lambda a: a.astype(np.float16), "float32 or float64"),
    "complex": (lambda a: a.astype(np.complex128), "float32 or float64"),
    "two_d": (lambda a: a.reshape(1, -1), "1-D"),
    "scalar": (lambda a: a[0], "1-D|shape"),
}


@pytest.mark.parametrize("bad", sorted(BAD_IDF))
@pytest.mark.parametrize("kind", sorted(IDF_MEMBERS))
def test_tampered_idf_refused(model_files, tmp_path, kind, bad):
    """No tf-idf file loads with an idf_ a fit cannot give (so none answers NaN)."""
    member = IDF_MEMBERS[kind]
    poison, message = BAD_IDF[bad]
    original = read_modelfile(model_files[kind]).members[member]
    out = tamper(model_files[kind], tmp_path / "i.fgm", members={member: npy(poison(original))})
    with pytest.raises(ModelFileError, match=f"{out}: inconsistent fastgen.*({message})"):
        fastgen.load(out)
    with pytest.raises(ModelFileError, match=str(out)):
        fastgen.info(out)


def _tfidf_state(man: dict, kind: str) -> dict:
    """The manifest entry of the vectorizer's nested TfidfTransformer."""
    state = man["state"] if kind == "tfidf" else man["state"]["vectorizer_"]["state"]
    return state["_tfidf"]


@pytest.mark.parametrize("kind", ["tfidf", "tfidf_text"])
def test_tampered_tfidf_weighting_refused(model_files, tmp_path, kind):
    members = read_modelfile(model_files[kind]).members
    idf_member = IDF_MEMBERS[kind]

    def move_idf_out(man):
        outer = man["state"] if kind == "tfidf" else man["state"]["vectorizer_"]["state"]
        outer["idf_"] = _tfidf_state(man, kind)["state"].pop("idf_")

    edits = {
        # the weighting is absent from the whitelist
        "unknown kind": (lambda m: _tfidf_state(m, kind).update(kind="fastgen.Evil"),
                         "unknown model kind"),
        # the inner parameters are checked as the transformer's own
        "inner norm": (lambda m: _tfidf_state(m, kind)["params"].update(norm="l3"),
                       "invalid fastgen.TfidfTransformer parameters"),
        "inner bool": (lambda m: _tfidf_state(m, kind)["params"].update(use_idf="no"),
                       "invalid fastgen.TfidfTransformer parameters"),
        # a column count that does not match the vocabulary, or absurdly large
        "n_features_in_": (lambda m: _tfidf_state(m, kind)["state"].update(n_features_in_=3),
                           "idf_ has shape|fitted on 3 columns"),
        "huge n_features_in_": (
            lambda m: _tfidf_state(m, kind)["state"].update(n_features_in_=10**12),
            "at most"),
        # idf_ moved onto the vectorizer (a property there): not part of the format
        "outer idf_": (move_idf_out, "no fitted attribute"),
    }
    for edit, message in edits.values():
        out = tamper(model_files[kind], tmp_path / "w.fgm", manifest=edit)
        with pytest.raises(ModelFileError, match=f"{out}: .*({message})"):
            fastgen.load(out)
    # an .npy header declaring 10**12 idf values is refused before any allocation
    import io

    header = np.lib.format.header_data_from_array_1_0(members[idf_member])
    header["shape"] = (10**12,)
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    out = tamper(model_files[kind], tmp_path / "h.fgm",
                 members={idf_member: buf.getvalue() + members[idf_member].tobytes()})
    with pytest.raises(ModelFileError, match=f"{out}: .*declares .* bytes of data"):
        fastgen.load(out)


def test_whitelisted_estimators_in_the_wrong_place(tmp_path):
    """Forged through the API (save checks nothing): a whitelisted estimator where
    another kind belongs is refused, e.g. a TfidfTransformer (it has a transform) as a
    TextClassifier's text front, or a classifier as a vectorizer's weighting."""
    vec = TfidfVectorizer().fit(DOCS)
    vec._tfidf = MultinomialNB()
    fastgen.save(vec, tmp_path / "w.fgm")
    with pytest.raises(ModelFileError, match=f"{tmp_path / 'w.fgm'}: .*_tfidf must be a "
                                             "TfidfTransformer"):
        fastgen.load(tmp_path / "w.fgm")
    model = TextClassifier(TfidfVectorizer()).fit(DOCS, LABELS)
    model.vectorizer_ = TfidfTransformer().fit(model.vectorizer_.transform(DOCS))
    fastgen.save(model, tmp_path / "v.fgm")
    with pytest.raises(ModelFileError, match=f"{tmp_path / 'v.fgm'}: .*vectorizer_ must be a "
                                             "fastgen vectorizer"):
        fastgen.load(tmp_path / "v.fgm")


def test_pipeline_memory_needs_trust(model_files, tmp_path):
    out = tamper(model_files["pipeline"], tmp_path / "m.fgm",
                 manifest=lambda m: m["params"].update(memory=str(tmp_path / "cache")))
    with pytest.raises(ModelFileError, match="memory="):
        fastgen.load(out)
    assert fastgen.load(out, trusted=True).memory == str(tmp_path / "cache")


# --------------------------------------------------------------------------- fuzz


def _refusal_only(path) -> None:
    try:
        model = fastgen.load(path)
    except ModelFileError as exc:
        assert str(path) in str(exc)
        return
    assert model is not None


@pytest.mark.parametrize("kind", sorted(_models()))
def test_fuzz_byte_flips_and_truncations(model_files, tmp_path, kind):
    """Seeded corruption of a file of every kind: a working model or a ModelFileError."""
    data = open(model_files[kind], "rb").read()
    path = tmp_path / "fuzz.fgm"
    t0 = time.perf_counter()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    for corrupt in corruptions(data, 110, seed=sorted(_models()).index(kind)):
        path.write_bytes(corrupt)
        _refusal_only(path)
    assert resource.getrlimit(resource.RLIMIT_AS) == (soft, hard)
    assert time.perf_counter() - t0 < 60


@pytest.mark.parametrize("kind", ["multinomial", "text", "gaussian_hmm", "count", "tfidf_text"])
def test_fuzz_swapped_members_and_edited_manifests(model_files, tmp_path, kind):
    rng = np.random.default_rng(7)
    entries = read_zip(model_files[kind])
    man = json.loads(entries["manifest.json"])
    names = sorted(man["members"])
    path = tmp_path / "swap.fgm"
    for _ in range(40):  # members swapped, checksums recomputed
        a, b = rng.choice(names, 2, replace=len(names) < 2)
        out = tamper(model_files[kind], path, members={a: entries[b], b: entries[a]})
        _refusal_only(out)

    def walk(node, edits):
        """Edit one leaf of the manifest's params/state at random."""
        if isinstance(node, dict) and node:
            key = rng.choice(sorted(node, key=str))
            if isinstance(node[key], (dict, list)) and rng.random() < 0.8:
                return walk(node[key], edits)
            node[key] = edits[int(rng.integers(0, len(edits)))]
        elif isinstance(node, list) and node:
            i = int(rng.integers(0, len(node)))
            if isinstance(node[i], (dict, list)) and rng.random() < 0.8:
                return walk(node[i], edits)
            node[i] = edits[int(rng.integers(0, len(edits)))]

    edits = [None, -1, 0, 10**30, 1e308, "x", "", [], {}, True, [1, 2],
             {"$type": "float", "value": "nan"}, {"$type": "ndarray", "member": names[0]},
             {"$type": "estimator", "kind": "fastgen.MultinomialNB", "params": {}, "state": {}}]
    for _ in range(80):
        out = tamper(model_files[kind], path,
                     manifest=lambda m: walk({"p": m["params"], "s": m["state"]}, edits))
        _refusal_only(out)


def test_cli_info_exits_nonzero_on_refused_files(model_files, tmp_path):
    original = read_modelfile(model_files["multinomial"]).members["state.feature_log_prob_.npy"]
    out = tamper(model_files["multinomial"], tmp_path / "p.fgm",
                 members={"state.feature_log_prob_.npy": npy(np.full_like(original, np.nan))})
    proc = subprocess.run([sys.executable, "-m", "fastgen", "info", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert str(out) in proc.stderr and "error: error" not in proc.stderr
    ok = subprocess.run([sys.executable, "-m", "fastgen", "info", model_files["multinomial"]],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr


def test_honest_files_still_round_trip_after_the_checks(model_files):
    for path in model_files.values():
        model = fastgen.load(path)
        assert fastgen.info(path)["kind"].endswith(type(model).__name__)


def test_write_read_agree_on_member_names(tmp_path):
    for bad in ("a/b.npy", ".hidden", "x\\y", "c:z", "x\n"):
        with pytest.raises(ValueError, match="invalid member name"):
            write_modelfile(tmp_path / "w.fgm", "demo", {bad: b""})
    assert not os.path.exists(tmp_path / "w.fgm")
    write_zip(tmp_path / "empty.fgm", {})
    with pytest.raises(ModelFileError, match="manifest.json"):
        read_modelfile(tmp_path / "empty.fgm")
