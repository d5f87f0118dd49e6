"""The ``fastgen`` command line: in-process ``main([...])`` runs plus two real subprocesses."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastgen
from fastgen import cli
from fastgen.hmm import GaussianHMM
from fastgen.naive_bayes import MultinomialNB
from fastgen.pipeline import TextClassifier
from fastgen.text import CountVectorizer, TfidfVectorizer

pytest.importorskip("pyarrow")

DOCS = ["good fun movie", "bad awful plot", "great fun", "boring bad", "good good great",
        "awful", "fun plot", "bad movie"]
LABELS = [1, 0, 1, 0, 1, 0, 1, 0]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def nb_file(workdir) -> Path:
    model = TextClassifier(CountVectorizer(), MultinomialNB()).fit(DOCS * 5, LABELS * 5)
    fastgen.save(model, workdir / "nb.fgm")
    return workdir / "nb.fgm"


@pytest.fixture(scope="module")
def docs_txt(workdir) -> Path:
    path = workdir / "docs.txt"
    path.write_text("\n".join(DOCS * 30) + "\n", encoding="utf-8")
    return path


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def write_csv(path, header, rows) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return Path(path)


def make_vae_file(path, n_features=5, latent=2) -> Path:
    from test_batch import make_onnx_autoencoder  # the onnx-built model files

    return make_onnx_autoencoder(path, n_features, latent, vae=True)


# --------------------------------------------------------------------------- predict


def test_predict_text_to_each_format(tmp_path, nb_file, docs_txt, capsys):
    model = fastgen.load(nb_file)
    docs = docs_txt.read_text(encoding="utf-8").splitlines()
    for ext in (".npy", ".csv", ".parquet"):
        code, out, err = run(["predict", nb_file, docs_txt, "-o", tmp_path / f"o{ext}",
                              "--batch-size", "50"], capsys)
        assert code == 0 and out == ""
        assert err.startswith("fastgen: wrote 240 rows") and "rows/s" in err
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), model.predict(docs))
    code, _, err = run(["predict", nb_file, docs_txt, "-o", tmp_path / "p.npy", "--proba",
                        "--quiet"], capsys)
    assert code == 0 and err == ""
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), model.predict_proba(docs))


def test_predict_tfidf_front_from_text_and_csv(tmp_path, docs_txt, capsys):
    """A TextClassifier with a tf-idf front: the same answers as the Python API."""
    docs = docs_txt.read_text(encoding="utf-8").splitlines()
    model = TextClassifier(TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2)),
                           MultinomialNB()).fit(DOCS * 5, LABELS * 5)
    path = tmp_path / "tfidf.fgm"
    model.save(path)
    code, _, err = run(["predict", path, docs_txt, "-o", tmp_path / "o.npy", "-q"], capsys)
    assert code == 0 and err == ""
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), model.predict(docs))
    src = write_csv(tmp_path / "in.csv", ["id", "text"], enumerate(docs))
    code, _, _ = run(["predict", path, src, "--column", "text", "--proba", "-o",
                      tmp_path / "p.npy", "--batch-size", "33", "-q"], capsys)
    assert code == 0
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), model.predict_proba(docs))
    model.vectorizer_.save(tmp_path / "vec.fgm")  # a vectorizer alone has no batch method
    code, _, err = run(["predict", tmp_path / "vec.fgm", docs_txt, "-o", tmp_path / "t.npy",
                        "--method", "transform"], capsys)
    assert code == 1 and "is a vectorizer" in err
    code, out, _ = run(["info", path], capsys)
    assert code == 0 and "vectorizer: fastgen.TfidfVectorizer" in out
    code, out, _ = run(["info", tmp_path / "vec.fgm"], capsys)
    assert code == 0 and "kind: fastgen.TfidfVectorizer" in out
    assert "weighting:" in out and "sublinear_tf: True" in out and "idf_range: [" in out


def test_predict_progress_forced(tmp_path, nb_file, docs_txt, capsys):
    code, _, err = run(["predict", nb_file, docs_txt, "-o", tmp_path / "o.npy", "--progress",
                        "--batch-size", "40"], capsys)
    assert code == 0 and "\rpredict 240 rows" in err and "rows/s" in err


def test_predict_errors_are_one_line(tmp_path, nb_file, docs_txt, capsys):
    cases = [
        (["predict", nb_file, tmp_path / "nope.txt", "-o", tmp_path / "o.npy"],
         "nope.txt: input file not found"),
        (["predict", tmp_path / "nope.fgm", docs_txt, "-o", tmp_path / "o.npy"],
         "nope.fgm: model file not found"),
        (["predict", nb_file, docs_txt, "-o", tmp_path / "o.xlsx"], "unknown output format"),
        (["predict", nb_file, docs_txt, "-o", tmp_path / "missing" / "o.npy"],
         "does not exist"),
        (["predict", docs_txt, docs_txt, "-o", tmp_path / "o.npy"], "not a fastgen model file"),
    ]
    for argv, message in cases:
        code, out, err = run(argv, capsys)
        assert code == 1, argv
        assert err.startswith("fastgen: error: ") and message in err, err
        assert err.count("\n") == 1 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_debug_shows_the_traceback(tmp_path, nb_file, capsys):
    code, _, err = run(["predict", nb_file, tmp_path / "nope.txt", "-o", tmp_path / "o.npy",
                        "--debug"], capsys)
    assert code == 1 and "Traceback" in err and err.rstrip().endswith("input file not found")


def test_usage_errors_exit_2(nb_file, capsys):
    assert run(["predict", nb_file], capsys)[0] == 2
    assert run(["frobnicate"], capsys)[0] == 2
    assert run(["predict", nb_file, "x.txt", "-o", "o.npy", "--batch-size", "0"], capsys)[0] == 2
    code, out, _ = run(["--help"], capsys)
    assert code == 0 and "predict" in out and "generate" in out
    code, out, _ = run(["--version"], capsys)
    assert code == 0 and fastgen.__version__ in out


def test_predict_skip_bad_rows_warns(tmp_path, nb_file, capsys):
    src = tmp_path / "in.csv"
    src.write_text("text,label\ngood fun,1\n\"bad\",0,extra\ngreat,1\n", encoding="utf-8")
    code, _, err = run(["predict", nb_file, src, "-o", tmp_path / "o.npy", "--column", "text"],
                       capsys)
    assert code == 1 and "row 2: expected 2 fields, got 3" in err
    assert not (tmp_path / "o.npy").exists()
    code, _, err = run(["predict", nb_file, src, "-o", tmp_path / "o.npy", "--column", "text",
                        "--on-error", "skip", "-q"], capsys)
    assert code == 0 and "warning: skipped 1 bad row(s)" in err and "row 2" in err
    assert np.load(tmp_path / "o.npy").shape == (2,)


def test_interrupt_leaves_no_output(tmp_path, nb_file, docs_txt, capsys, monkeypatch):
    calls = {"n": 0}
    real = TextClassifier.predict

    def predict(self, docs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(self, docs)

    monkeypatch.setattr(TextClassifier, "predict", predict)
    code, _, err = run(["predict", nb_file, docs_txt, "-o", tmp_path / "o.parquet",
                        "--batch-size", "20"], capsys)
    assert code == 130 and err == "fastgen: interrupted\n" and calls["n"] == 3
    assert list(tmp_path.iterdir()) == []


def test_predict_hmm_and_autoencoder(tmp_path, capsys):
    rng = np.random.default_rng(0)
    lengths = rng.integers(2, 20, 25)
    X = rng.standard_normal((int(lengths.sum()), 2))
    hmm = GaussianHMM(2, n_iter=3, random_state=0).fit(X, lengths)
    fastgen.save(hmm, tmp_path / "hmm.fgm")
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "lengths.npy", lengths)
    code, _, err = run(["predict", tmp_path / "hmm.fgm", tmp_path / "x.npy", "-o",
                        tmp_path / "s.csv", "--lengths", tmp_path / "lengths.npy", "--proba",
                        "--batch-size", "30"], capsys)
    assert code == 0, err
    got = np.loadtxt(tmp_path / "s.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(got, hmm.predict_proba(X, lengths), rtol=1e-15, atol=0)
    ids = np.repeat(np.arange(len(lengths)), lengths)
    write_csv(tmp_path / "x.csv", ["id", "a", "b"],
              [[i, repr(a), repr(b)] for i, (a, b) in zip(ids, X.tolist(), strict=True)])
    code, _, err = run(["predict", tmp_path / "hmm.fgm", tmp_path / "x.csv", "-o",
                        tmp_path / "s.npy", "--sequence-column", "id"], capsys)
    assert code == 0, err
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), hmm.predict(X, lengths))
    code, _, err = run(["predict", tmp_path / "hmm.fgm", tmp_path / "x.npy", "-o",
                        tmp_path / "f.npy", "--method", "filter", "--batch-size", "7"], capsys)
    assert code == 0, err  # one unsegmented sequence, streamed 7 rows at a time
    np.testing.assert_allclose(np.load(tmp_path / "f.npy"), hmm.filter(X), rtol=0, atol=1e-12)

    vae = make_vae_file(tmp_path / "vae.fgm")
    Z = rng.random((100, 5), dtype=np.float32)
    np.save(tmp_path / "z.npy", Z)
    code, _, err = run(["predict", vae, tmp_path / "z.npy", "-o", tmp_path / "r.npy",
                        "--method", "reconstruct", "--device", "cpu"], capsys)
    assert code == 0, err
    np.testing.assert_allclose(np.load(tmp_path / "r.npy"), fastgen.load(vae).reconstruct(Z),
                               rtol=1e-6)
    code, _, err = run(["predict", vae, tmp_path / "x.npy", "-o", tmp_path / "r.npy"], capsys)
    assert code == 1 and "has 2 feature column(s), but the model's encode expects 5" in err


# --------------------------------------------------------------------------- generate / info


def test_generate_matches_vae_generate(tmp_path, capsys):
    path = make_vae_file(tmp_path / "vae.fgm")
    model = fastgen.load(path)
    code, _, err = run(["generate", path, "-n", "1000", "-o", tmp_path / "g.npy", "--seed", "7",
                        "--batch-size", "300"], capsys)
    assert code == 0, err
    np.testing.assert_array_equal(np.load(tmp_path / "g.npy"), model.generate(1000, seed=7))
    code, _, _ = run(["generate", path, "-n", "10", "-o", tmp_path / "g.csv", "--seed", "1",
                      "-q"], capsys)
    assert code == 0
    header = (tmp_path / "g.csv").read_text().splitlines()[0]
    assert header == "x_0,x_1,x_2,x_3,x_4"
    hmm = GaussianHMM(2, n_iter=2, random_state=0).fit(np.random.default_rng(0).random((30, 2)))
    fastgen.save(hmm, tmp_path / "hmm.fgm")
    code, _, err = run(["generate", tmp_path / "hmm.fgm", "-n", "5", "-o", tmp_path / "h.npy"],
                       capsys)
    assert code == 1 and "generate needs a VAE" in err


def test_info_text_and_json(tmp_path, nb_file, capsys):
    code, out, _ = run(["info", nb_file], capsys)
    assert code == 0
    assert "kind: fastgen.TextClassifier" in out and "format version: 1" in out
    assert "summary:" in out and "params:" in out
    code, out, _ = run(["info", nb_file, "--json"], capsys)
    assert code == 0 and json.loads(out) == fastgen.info(nb_file)
    vae = make_vae_file(tmp_path / "vae.fgm")
    code, out, _ = run(["info", vae], capsys)
    assert code == 0 and "kind: fastgen.OnnxVAE" in out and "latent_dim: 2" in out
    code, _, err = run(["info", tmp_path / "nope.fgm"], capsys)
    assert code == 1 and "model file not found" in err


# --------------------------------------------------------------------------- model files


def corrupt_member(path: Path, dest: Path) -> Path:
    """A copy of a model file with one member's compressed bytes scrambled (zlib error)."""
    import zipfile

    with zipfile.ZipFile(path) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith("feature_log_prob_.npy"))
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for j in range(start, start + info.compress_size):
        data[j] ^= 0x5A
    dest.write_bytes(bytes(data))
    return dest


def test_model_file_errors_name_the_file_once(tmp_path, nb_file, docs_txt, capsys):
    bad = corrupt_member(nb_file, tmp_path / "bad.fgm")
    for argv in (["info", bad], ["predict", bad, docs_txt, "-o", tmp_path / "o.npy"],
                 ["generate", bad, "-n", "3", "-o", tmp_path / "g.npy"]):
        code, out, err = run(argv, capsys)
        assert code == 1 and out == "", argv
        assert err.startswith(f"fastgen: error: {bad}: ") and err.count("\n") == 1, err
        assert "error: error" not in err.lower() and err.count(str(bad)) == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.fgm"]


def test_error_lines_have_one_prefix(tmp_path, nb_file, docs_txt, capsys, monkeypatch):
    import zlib

    from fastgen._modelfile import ModelFileError

    assert cli._one_line(zlib.error("Error -3 while decompressing data")) == (
        "Error -3 while decompressing data"
    )
    assert cli._one_line(ValueError("error: Error: bad\n value")) == "bad value"
    assert cli._one_line(ZeroDivisionError("division by zero")) == (
        "ZeroDivisionError: division by zero"
    )
    assert cli._one_line(KeyError()) == "KeyError"
    errors = [zlib.error("Error -3 while decompressing data"),
              ModelFileError("manifest is not valid JSON"),
              ModelFileError(f"{nb_file}: manifest is not valid JSON")]
    expected = ["Error -3 while decompressing data",
                f"{nb_file}: manifest is not valid JSON",
                f"{nb_file}: manifest is not valid JSON"]
    for exc, message in zip(errors, expected, strict=True):
        def fail(*args, exc=exc, **kwargs):
            raise exc

        monkeypatch.setattr(fastgen, "info", fail)
        code, _, err = run(["info", nb_file], capsys)
        assert code == 1 and err == f"fastgen: error: {message}\n"


def test_model_flags_reach_the_library(tmp_path, nb_file, docs_txt, capsys, monkeypatch):
    seen: list[dict] = []
    load, info = fastgen.load, fastgen.info
    monkeypatch.setattr(fastgen, "load", lambda path, **kw: seen.append(kw) or load(path, **kw))
    monkeypatch.setattr(fastgen, "info", lambda path, **kw: seen.append(kw) or info(path, **kw))
    vae = make_vae_file(tmp_path / "vae.fgm")
    runs = [["predict", nb_file, docs_txt, "-o", tmp_path / "o.npy"],
            ["generate", vae, "-n", "5", "-o", tmp_path / "g.npy", "--device", "cpu"],
            ["info", nb_file]]
    for argv in runs:
        assert run(argv, capsys)[0] == 0
        assert run([*argv, "--trusted", "--max-model-size", "4G"], capsys)[0] == 0
    extra = [{}, {"device": "cpu"}, {}]
    assert seen == [
        kw
        for more in extra
        for kw in ({"trusted": False, "max_size": None, **more},
                   {"trusted": True, "max_size": 4 * 1024**3, **more})
    ]


def test_max_model_size(tmp_path, nb_file, docs_txt, capsys):
    for text, value in [("4096", 4096), ("512M", 512 * 1024**2), ("4G", 4 * 1024**3),
                        ("1.5GiB", 3 * 1024**3 // 2), ("2kb", 2048), (" 1T ", 1024**4)]:
        assert cli._byte_size(text) == value
    for text in ("0", "-1", "abc", "4X", "", "0.1"):
        with pytest.raises(cli.argparse.ArgumentTypeError, match="size in bytes"):
            cli._byte_size(text)
    code, _, err = run(["info", nb_file, "--max-model-size", "lots"], capsys)
    assert code == 2 and "expected a size in bytes" in err
    for argv in (["info", nb_file], ["predict", nb_file, docs_txt, "-o", tmp_path / "o.npy"]):
        code, out, err = run([*argv, "--max-model-size", "100"], capsys)
        assert code == 1 and out == "" and err.count("\n") == 1
        assert err.startswith(f"fastgen: error: {nb_file}: ") and "the 100 allowed" in err
    code, out, _ = run(["info", nb_file, "--max-model-size", "1M"], capsys)
    assert code == 0 and "kind: fastgen.TextClassifier" in out
    _, out, _ = run(["predict", "--help"], capsys)
    assert "--trusted" in out and "read host files or run custom patterns" in out
    assert "--max-model-size BYTES" in out


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_outputs_fail(tmp_path, nb_file, docs_txt, capsys, monkeypatch):
    poisoned = fastgen.load(nb_file)
    poisoned.classifier_.feature_log_prob_[:] = np.nan
    monkeypatch.setattr(fastgen, "load", lambda path, **kw: poisoned)
    (tmp_path / "o.csv").write_text("old")
    code, _, err = run(["predict", nb_file, docs_txt, "-o", tmp_path / "o.csv", "--proba"],
                       capsys)
    assert code == 1
    assert err == (f"fastgen: error: {nb_file}: model produced NaN for row 1 of {docs_txt}; "
                   "the model file may be corrupt\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.csv"]
    assert (tmp_path / "o.csv").read_text() == "old"

    class NanVAE:
        latent_dim = 2
        seen = 0

        def generate(self, n):  # pragma: no cover - only its presence matters
            raise AssertionError

        def decode(self, z):
            out = np.zeros((len(z), 3), np.float32)
            if self.seen <= 449 < self.seen + len(z):
                out[449 - self.seen, 1] = np.nan
            self.seen += len(z)
            return out

    vae = make_vae_file(tmp_path / "vae.fgm")
    monkeypatch.setattr(fastgen.batch, "load_model", lambda *a, **k: NanVAE())
    code, _, err = run(["generate", vae, "-n", "1000", "--batch-size", "300", "-o",
                        tmp_path / "g.npy"], capsys)
    assert code == 1
    assert err == (f"fastgen: error: {vae}: model produced NaN for sample 450; the model file "
                   "may be corrupt\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.csv", "vae.fgm"]


# --------------------------------------------------------------------------- train


def test_train_nb_from_csv_and_txt(tmp_path, capsys):
    rows = [[d, "pos" if y else "neg"] for d, y in zip(DOCS * 4, LABELS * 4, strict=True)]
    write_csv(tmp_path / "train.csv", ["review", "label"], rows)
    code, _, err = run(["train", "nb", tmp_path / "train.csv", "-o", tmp_path / "m.fgm",
                        "--text-column", "review", "--label-column", "label",
                        "--analyzer", "char_wb", "--ngram-min", "1", "--ngram-max", "3",
                        "--alpha", "0.5", "--nb", "complement"], capsys)
    assert code == 0, err
    assert "trained TextClassifier on 32 documents, 2 classes" in err
    model = fastgen.load(tmp_path / "m.fgm")
    assert model.vectorizer_.analyzer == "char_wb" and model.vectorizer_.ngram_range == (1, 3)
    assert type(model.classifier_).__name__ == "ComplementNB" and model.classifier_.alpha == 0.5
    ref = TextClassifier(CountVectorizer(analyzer="char_wb", ngram_range=(1, 3)),
                         type(model.classifier_)(alpha=0.5)).fit(DOCS * 4, [r[1] for r in rows])
    np.testing.assert_array_equal(model.predict_proba(DOCS), ref.predict_proba(DOCS))

    (tmp_path / "t.txt").write_text("\n".join(DOCS) + "\n")
    (tmp_path / "y.txt").write_text("\n".join(map(str, LABELS)) + "\n")
    code, _, err = run(["train", "nb", tmp_path / "t.txt", "--labels", tmp_path / "y.txt",
                        "-o", tmp_path / "t.fgm", "-q"], capsys)
    assert code == 0 and err == ""
    assert fastgen.load(tmp_path / "t.fgm").classes_.tolist() == [0, 1]  # integer labels
    code, _, err = run(["train", "nb", tmp_path / "t.txt", "-o", tmp_path / "t.fgm"], capsys)
    assert code == 1 and "needs --labels FILE" in err
    (tmp_path / "y.txt").write_text("1\n0\n")
    code, _, err = run(["train", "nb", tmp_path / "t.txt", "--labels", tmp_path / "y.txt",
                        "-o", tmp_path / "t.fgm"], capsys)
    assert code == 1 and "8 documents but 2 labels" in err


@pytest.mark.parametrize("sublinear", [False, True])
def test_train_nb_tfidf(tmp_path, capsys, sublinear):
    from fastgen.text import TfidfVectorizer

    rows = [[d, "pos" if y else "neg"] for d, y in zip(DOCS * 4, LABELS * 4, strict=True)]
    write_csv(tmp_path / "train.csv", ["review", "label"], rows)
    extra = ["--sublinear-tf"] if sublinear else []
    code, _, err = run(["train", "nb", tmp_path / "train.csv", "-o", tmp_path / "m.fgm",
                        "--text-column", "review", "--label-column", "label", "--tfidf",
                        "--nb", "complement", *extra], capsys)
    assert code == 0, err
    model = fastgen.load(tmp_path / "m.fgm")
    assert type(model.vectorizer_) is TfidfVectorizer
    assert model.vectorizer_.sublinear_tf is sublinear
    ref = TextClassifier(TfidfVectorizer(sublinear_tf=sublinear),
                         type(model.classifier_)()).fit(DOCS * 4, [r[1] for r in rows])
    np.testing.assert_array_equal(model.predict_proba(DOCS), ref.predict_proba(DOCS))
    (tmp_path / "docs.txt").write_text("\n".join(DOCS) + "\n")
    code, _, err = run(["predict", tmp_path / "m.fgm", tmp_path / "docs.txt",
                        "-o", tmp_path / "p.csv", "--proba"], capsys)
    assert code == 0, err


def test_train_nb_tfidf_refusals(tmp_path, capsys):
    rows = [[d, "pos" if y else "neg"] for d, y in zip(DOCS, LABELS, strict=True)]
    write_csv(tmp_path / "train.csv", ["review", "label"], rows)
    base = ["train", "nb", tmp_path / "train.csv", "-o", tmp_path / "m.fgm",
            "--text-column", "review", "--label-column", "label"]
    code, _, err = run([*base, "--sublinear-tf"], capsys)
    assert code == 1 and "add --tfidf" in err
    code, _, err = run([*base, "--tfidf", "--hashing", "64"], capsys)
    assert code == 1 and "--tfidf needs the document frequencies" in err
    assert not (tmp_path / "m.fgm").exists()


def _corpus(n, seed=0):
    rng = np.random.default_rng(seed)
    words = np.array("good fun movie bad awful plot great boring café 東京 x_y 42".split())
    docs = [" ".join(rng.choice(words, rng.integers(0, 9))) for _ in range(n)]
    return docs, rng.integers(0, 3, n)


def _hashing_reference(docs, y, nb="multinomial", n_features=512, alpha=1.0):
    from fastgen.naive_bayes import BernoulliNB, ComplementNB
    from fastgen.text import HashingVectorizer

    cls = {"multinomial": MultinomialNB, "complement": ComplementNB, "bernoulli": BernoulliNB}[nb]
    vec = HashingVectorizer(n_features=n_features, alternate_sign=False, norm=None,
                            binary=nb == "bernoulli", ngram_range=(1, 2))
    return TextClassifier(vec, cls(alpha=alpha)).fit(docs, y)


@pytest.mark.parametrize("fmt", ["csv", "txt", "parquet-int", "parquet-str"])
@pytest.mark.parametrize("nb", ["multinomial", "bernoulli"])
def test_train_nb_streamed_equals_in_memory_fit(tmp_path, capsys, fmt, nb):
    docs, y = _corpus(230)
    labels = [f"c{v}" for v in y] if fmt in ("csv", "parquet-str") else y.tolist()
    if fmt == "csv":
        data = write_csv(tmp_path / "train.csv", ["text", "label"],
                         [[d, lab] for d, lab in zip(docs, labels, strict=True)])
        where = ["--text-column", "text", "--label-column", "label"]
    elif fmt == "txt":
        data = tmp_path / "train.txt"
        data.write_text("\n".join(docs) + "\n", encoding="utf-8")
        (tmp_path / "y.txt").write_text("\n".join(map(str, labels)) + "\n")
        where = ["--labels", tmp_path / "y.txt"]
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        data = tmp_path / "train.parquet"
        pq.write_table(pa.table({"text": docs, "label": labels}), data, row_group_size=50)
        where = ["--text-column", "text", "--label-column", "label"]
    # the in-memory route's labels (str, or int64 when they all are integers)
    y_ref = cli._read_labels(str(data), "label" if fmt != "txt" else None,
                             str(tmp_path / "y.txt") if fmt == "txt" else None)
    ref = _hashing_reference(docs, y_ref, nb=nb, alpha=0.5)
    for chunk in ("7", "100000"):
        code, _, err = run(["train", "nb", data, "-o", tmp_path / "m.fgm", *where,
                            "--hashing", "512", "--chunk-size", chunk, "--nb", nb,
                            "--alpha", "0.5", "--ngram-max", "2"], capsys)
        assert code == 0, err
        assert "on 230 documents, 3 classes, 512 hashed features (streamed in chunks of" in err
        model = fastgen.load(tmp_path / "m.fgm")
        assert type(model.vectorizer_).__name__ == "HashingVectorizer"
        np.testing.assert_array_equal(model.classes_, ref.classes_)
        assert model.classes_.dtype == ref.classes_.dtype
        s, r = model.classifier_, ref.classifier_
        np.testing.assert_array_equal(s.class_count_, r.class_count_)
        np.testing.assert_array_equal(s.feature_count_, r.feature_count_)  # integer counts
        np.testing.assert_array_equal(s.feature_log_prob_, r.feature_log_prob_)
        new_docs, _ = _corpus(120, seed=1)
        np.testing.assert_array_equal(model.predict_proba(new_docs), ref.predict_proba(new_docs))
    # the model file serves fastgen predict like any NB model
    (tmp_path / "new.txt").write_text("\n".join(new_docs) + "\n", encoding="utf-8")
    code, _, err = run(["predict", tmp_path / "m.fgm", tmp_path / "new.txt", "-o",
                        tmp_path / "p.npy", "--proba", "-q"], capsys)
    assert code == 0, err
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), ref.predict_proba(new_docs))


def test_train_nb_streamed_errors(tmp_path, capsys):
    docs, y = _corpus(20)
    (tmp_path / "t.txt").write_text("\n".join(docs) + "\n", encoding="utf-8")
    (tmp_path / "y.txt").write_text("\n".join(map(str, y[:15])) + "\n")
    base = ["train", "nb", tmp_path / "t.txt", "-o", tmp_path / "m.fgm"]
    code, _, err = run([*base, "--labels", tmp_path / "y.txt", "--hashing", "64",
                        "--chunk-size", "4"], capsys)
    assert code == 1 and "20 documents but 15 labels" in err
    (tmp_path / "y.txt").write_text("\n".join(map(str, y.tolist() * 2)) + "\n")
    code, _, err = run([*base, "--labels", tmp_path / "y.txt", "--hashing", "64"], capsys)
    assert code == 1 and "20 documents but 40 labels" in err
    code, _, err = run([*base, "--hashing", "64"], capsys)
    assert code == 1 and "needs --labels FILE" in err
    code, _, err = run([*base, "--labels", tmp_path / "y.txt", "--chunk-size", "4"], capsys)
    assert code == 1 and "--chunk-size streams the training file, which needs --hashing" in err
    (tmp_path / "empty.txt").write_text("")
    code, _, err = run([*base, "--labels", tmp_path / "empty.txt", "--hashing", "64"], capsys)
    assert code == 1 and "no labels" in err
    write_csv(tmp_path / "t.csv", ["text", "label"], [[d, 1] for d in docs])
    code, _, err = run(["train", "nb", tmp_path / "t.csv", "-o", tmp_path / "m.fgm",
                        "--text-column", "text", "--hashing", "64"], capsys)
    assert code == 1 and "--label-column NAME" in err
    for bad in ("0", "-3", "x"):
        code, _, err = run([*base, "--hashing", bad], capsys)
        assert code == 2 and "expected a positive integer" in err
    assert not (tmp_path / "m.fgm").exists()


# VmHWM: the process's own peak RSS (getrusage's ru_maxrss also counts the parent's
# pages the child held between fork and exec: pytest's whole heap)
_PEAK_RSS = """
import sys
from fastgen import cli
if sys.argv[1] == "load":  # what the in-memory route reads: every document at once
    docs, _ = cli._load_table(sys.argv[2], "text")
    rc = 0
else:
    rc = cli.main(sys.argv[1:])
with open("/proc/self/status") as f:
    print("PEAK_KIB", next(line.split()[1] for line in f if line.startswith("VmHWM:")))
sys.exit(rc)
"""


def _peak_rss_mib(*argv) -> float:
    proc = subprocess.run([sys.executable, "-c", _PEAK_RSS, *map(str, argv)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.split("PEAK_KIB")[-1]) / 1024


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_train_nb_streamed_memory_is_bounded_by_the_chunk(tmp_path):
    """A 32 MiB training file streams in a few MiB more than a 2,000-line one; reading it
    whole (the in-memory route) costs more than the file's size."""
    rng = np.random.default_rng(0)
    words = np.array([f"w{i}" for i in range(5000)])
    block = "\n".join(" ".join(rng.choice(words, 15)) for _ in range(10_000)) + "\n"
    size = 32 << 20
    reps = size // len(block) + 1
    n_lines = reps * 10_000
    with open(tmp_path / "big.txt", "w", encoding="utf-8") as f:
        for _ in range(reps):
            f.write(block)
    (tmp_path / "big_y.txt").write_text("0\n1\n" * (n_lines // 2))
    (tmp_path / "small.txt").write_text("".join(block.splitlines(True)[:2000]))
    (tmp_path / "small_y.txt").write_text("0\n1\n" * 1000)
    mib = (tmp_path / "big.txt").stat().st_size / 2**20
    assert mib >= 32
    train = ["train", "nb", "-o", tmp_path / "m.fgm", "--hashing", 2**16, "--chunk-size", 2000,
             "-q"]
    small = _peak_rss_mib(*train[:2], tmp_path / "small.txt", "--labels",
                          tmp_path / "small_y.txt", *train[2:])
    big = _peak_rss_mib(*train[:2], tmp_path / "big.txt", "--labels",
                        tmp_path / "big_y.txt", *train[2:])
    assert fastgen.load(tmp_path / "m.fgm").classifier_.class_count_.sum() == n_lines
    bound = mib / 4
    assert big - small < bound, (small, big, mib)
    # the bound means something: holding the documents at once exceeds it many times
    whole = _peak_rss_mib("load", tmp_path / "big.txt") - _peak_rss_mib(
        "load", tmp_path / "small.txt")
    assert whole > 4 * bound, (whole, mib)  # more than the file itself
    print(f"peak RSS: streamed +{big - small:.1f} MiB for a {mib:.0f} MiB file "
          f"(bound {bound:.0f} MiB); whole file in memory +{whole:.1f} MiB")


def test_train_hmm_matches_the_api(tmp_path, capsys):
    rng = np.random.default_rng(5)
    lengths = rng.integers(5, 30, 12)
    X = rng.standard_normal((int(lengths.sum()), 2)) + rng.integers(0, 2, (int(lengths.sum()), 1))
    ids = np.repeat(np.arange(len(lengths)), lengths)
    write_csv(tmp_path / "obs.csv", ["a", "b", "seq"],
              [[repr(a), repr(b), i] for (a, b), i in zip(X.tolist(), ids, strict=True)])
    code, _, err = run(["train", "hmm", tmp_path / "obs.csv", "-o", tmp_path / "h.fgm",
                        "--sequence-column", "seq", "--n-components", "2", "--n-iter", "4",
                        "--covariance-type", "full", "--seed", "3"], capsys)
    assert code == 0, err
    assert "rows in 12 sequence(s)" in err
    got = fastgen.load(tmp_path / "h.fgm")
    ref = GaussianHMM(2, covariance_type="full", n_iter=4, random_state=3).fit(X, lengths)
    np.testing.assert_array_equal(got.means_, ref.means_)
    np.testing.assert_array_equal(got.transmat_, ref.transmat_)


@pytest.mark.parametrize("emission", ["gaussian", "categorical"])
def test_train_variational_hmm_matches_the_api(tmp_path, capsys, emission):
    from fastgen.hmm import VariationalCategoricalHMM, VariationalGaussianHMM

    rng = np.random.default_rng(7)
    if emission == "gaussian":
        X = rng.standard_normal((150, 2)) + rng.integers(0, 2, (150, 1)) * 3
        ref = VariationalGaussianHMM(2, covariance_type="diag", n_iter=4, random_state=3)
        ref.fit(X, [90, 60])
    else:
        X = rng.integers(0, 4, (150, 1))
        ref = VariationalCategoricalHMM(2, n_iter=4, random_state=3).fit(X, [90, 60])
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "lengths.npy", np.array([90, 60]))
    code, _, err = run(["train", "hmm", tmp_path / "x.npy", "-o", tmp_path / "v.fgm",
                        "--lengths", tmp_path / "lengths.npy", "--emission", emission,
                        "--variational", "--n-components", "2", "--n-iter", "4",
                        "--seed", "3"], capsys)
    assert code == 0, err
    assert "evidence lower bound" in err
    got = fastgen.load(tmp_path / "v.fgm")
    assert type(got) is type(ref)
    np.testing.assert_array_equal(got.transmat_, ref.transmat_)
    np.testing.assert_array_equal(got.predict_proba(X), ref.predict_proba(X))
    code, _, err = run(["train", "hmm", tmp_path / "x.npy", "-o", tmp_path / "w.fgm",
                        "--emission", "poisson", "--variational", "--n-components", "2"],
                       capsys)
    assert code == 1 and "--variational applies to --emission gaussian or categorical" in err


def test_train_poisson_hmm_matches_the_api(tmp_path, capsys):
    from fastgen.hmm import PoissonHMM

    rng = np.random.default_rng(6)
    X = rng.poisson([[2.0, 7.0]], (200, 2))
    np.save(tmp_path / "counts.npy", X)
    np.save(tmp_path / "lengths.npy", np.array([120, 80]))
    code, _, err = run(["train", "hmm", tmp_path / "counts.npy", "-o", tmp_path / "p.fgm",
                        "--lengths", tmp_path / "lengths.npy", "--emission", "poisson",
                        "--n-components", "2", "--n-iter", "4", "--seed", "3"], capsys)
    assert code == 0, err
    got = fastgen.load(tmp_path / "p.fgm")
    ref = PoissonHMM(2, n_iter=4, random_state=3).fit(X, [120, 80])
    np.testing.assert_array_equal(got.lambdas_, ref.lambdas_)
    np.save(tmp_path / "bad.npy", X - 3)
    code, _, err = run(["train", "hmm", tmp_path / "bad.npy", "-o", tmp_path / "b.fgm",
                        "--emission", "poisson", "--n-components", "2"], capsys)
    assert code == 1 and "non-negative integers" in err


def test_train_gmm_hmm_matches_the_api_and_predicts(tmp_path, capsys):
    from fastgen.hmm import GMMHMM

    rng = np.random.default_rng(7)
    X = np.r_[rng.normal(0, 1, (120, 2)), rng.normal(5, 0.5, (80, 2))]
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "lengths.npy", np.array([120, 80]))
    code, _, err = run(["train", "hmm", tmp_path / "x.npy", "-o", tmp_path / "g.fgm",
                        "--lengths", tmp_path / "lengths.npy", "--emission", "gmm",
                        "--n-mix", "3", "--covariance-type", "full", "--n-components", "2",
                        "--n-iter", "4", "--seed", "3"], capsys)
    assert code == 0, err
    got = fastgen.load(tmp_path / "g.fgm")
    assert type(got) is GMMHMM and got.n_mix == 3
    ref = GMMHMM(2, n_mix=3, covariance_type="full", n_iter=4, random_state=3).fit(X, [120, 80])
    for name in ("weights_", "means_", "covars_", "transmat_"):
        np.testing.assert_array_equal(getattr(got, name), getattr(ref, name))
    for extra, method in (([], "predict"), (["--proba"], "predict_proba")):
        out = tmp_path / f"{method}.npy"
        code, _, err = run(["predict", tmp_path / "g.fgm", tmp_path / "x.npy", "-o", out,
                            "--lengths", tmp_path / "lengths.npy", *extra], capsys)
        assert code == 0, err
        np.testing.assert_array_equal(np.load(out).reshape(len(X), -1),
                                      getattr(ref, method)(X, [120, 80]).reshape(len(X), -1))
    code, _, err = run(["train", "hmm", tmp_path / "x.npy", "-o", tmp_path / "b.fgm",
                        "--n-mix", "2", "--n-components", "2"], capsys)
    assert code == 1 and "--n-mix applies to --emission gmm only" in err


def test_train_neural_needs_the_train_extra(tmp_path, capsys, monkeypatch):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((20, 4)))
    real = cli.importlib.util.find_spec
    monkeypatch.setattr(cli.importlib.util, "find_spec",
                        lambda name, *a: None if name == "tf2onnx" else real(name, *a))
    code, _, err = run(["train", "ae", tmp_path / "x.npy", "-o", tmp_path / "ae.fgm"], capsys)
    assert code == 1 and "needs the 'train' extra (missing: tf2onnx)" in err


def test_train_vae_then_generate(tmp_path, capsys):
    for mod in ("tensorflow", "keras", "tf2onnx", "onnx"):
        pytest.importorskip(mod)
    X = np.random.default_rng(0).random((64, 6), dtype=np.float32)
    np.save(tmp_path / "x.npy", X)
    code, _, err = run(["train", "vae", tmp_path / "x.npy", "-o", tmp_path / "vae.fgm",
                        "--latent-dim", "2", "--hidden", "8", "--epochs", "1",
                        "--batch-size", "32"], capsys)
    assert code == 0, err
    assert "trained VAE on 64 rows x 6 features" in err
    model = fastgen.load(tmp_path / "vae.fgm")
    assert model.kind == "vae" and model.latent_dim == 2 and model.n_features_in_ == 6
    code, _, err = run(["generate", tmp_path / "vae.fgm", "-n", "5", "-o", tmp_path / "g.npy",
                        "--seed", "0"], capsys)
    assert code == 0, err
    np.testing.assert_array_equal(np.load(tmp_path / "g.npy"), model.generate(5, seed=0))


# --------------------------------------------------------------------------- bench / demo


#: the checkout these tests live in (fastgen itself may be an installed wheel elsewhere)
CHECKOUT = Path(__file__).resolve().parent.parent


def test_find_benchmarks(tmp_path, monkeypatch):
    with pytest.raises(cli.CLIError, match="no 'benchmarks/' folder"):
        cli.find_benchmarks([tmp_path])
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "conftest.py").write_text("")
    (tmp_path / "benchmarks" / "report.py").write_text("")
    (tmp_path / "deep" / "er").mkdir(parents=True)
    assert cli.find_benchmarks([tmp_path / "deep" / "er"]) == tmp_path.resolve()
    monkeypatch.chdir(CHECKOUT / "tests")
    assert cli.find_benchmarks() == CHECKOUT  # upwards from the current directory


def test_bench_runs_pytest_then_the_report(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(CHECKOUT)  # `make test` runs the suite from outside the checkout
    calls = []

    class Done:
        def __init__(self, code):
            self.returncode = code

    def fake_run(cmd, cwd, env, check):
        calls.append((cmd, cwd, env["FASTGEN_BENCH_SIZE"]))
        json_arg = next((c for c in cmd if c.startswith("--benchmark-json=")), None)
        if json_arg:
            Path(json_arg.split("=", 1)[1]).write_text("{}")
        return Done(0)

    monkeypatch.setattr(cli.subprocess, "run", fake_run)
    code, _, err = run(["bench", "--size", "small", "-k", "batch",
                        "--json", tmp_path / "r.json"], capsys)
    assert code == 0, err
    (pytest_cmd, cwd, size), (report_cmd, _, _) = calls
    assert pytest_cmd[1:4] == ["-m", "pytest", "benchmarks"] and "-k" in pytest_cmd
    assert f"--benchmark-json={tmp_path / 'r.json'}" in pytest_cmd and size == "small"
    assert report_cmd[1:] == ["-m", "benchmarks.report", str(tmp_path / "r.json")]
    assert Path(cwd) == CHECKOUT
    monkeypatch.setattr(cli.subprocess, "run", lambda *a, **k: Done(1))
    code, _, err = run(["bench"], capsys)
    assert code == 1 and "benchmark run failed (pytest exit status 1)" in err


def test_demo_forwards_its_arguments(tmp_path, capsys, monkeypatch):
    import fastgen.demo

    seen = []

    def fake_main(argv):
        seen.append(argv)
        return 0

    monkeypatch.setattr(fastgen.demo, "main", fake_main)
    assert run(["demo", "--out", tmp_path, "--quick"], capsys)[0] == 0
    assert run(["--debug", "demo"], capsys)[0] == 0
    assert seen == [["--out", str(tmp_path), "--quick"], []]
    monkeypatch.setattr(fastgen.demo, "main", lambda argv: 2)
    assert run(["demo"], capsys)[0] == 2


# --------------------------------------------------------------------------- subprocesses


def _command() -> list[str]:
    script = Path(sys.executable).parent / "fastgen"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "fastgen.cli"]


def test_console_script_end_to_end(tmp_path, nb_file, docs_txt):
    proc = subprocess.run([*_command(), "predict", str(nb_file), str(docs_txt), "-o",
                           str(tmp_path / "o.parquet")], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "wrote 240 rows" in proc.stderr and "\r" not in proc.stderr  # no bar: not a TTY
    import pyarrow.parquet as pq

    got = pq.read_table(tmp_path / "o.parquet").column("prediction").to_numpy()
    docs = docs_txt.read_text(encoding="utf-8").splitlines()
    np.testing.assert_array_equal(got, fastgen.load(nb_file).predict(docs))


def test_module_entry_point_error_exit(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "fastgen.cli", "predict", "m.fgm",
                           str(tmp_path / "in.txt"), "-o", str(tmp_path / "o.npy")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1
    assert proc.stderr == f"fastgen: error: {tmp_path / 'in.txt'}: input file not found\n"


# --------------------------------------------------------------------------- help


def _parsers(parser, path=()):
    """Every (sub)command's parser with its command path."""
    import argparse

    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*path, name))


def test_every_command_and_option_is_described_with_its_default():
    import argparse

    for path, parser in _parsers(cli.build_parser()):
        if path:
            assert parser.description, f"fastgen {' '.join(path)} has no description"
        text = parser.format_help()
        for action in parser._actions:
            if not action.option_strings or action.help is argparse.SUPPRESS:
                continue
            where = f"fastgen {' '.join(path)} {action.option_strings[0]}"
            assert action.help, f"{where} has no help"
            if not any(action.default is v for v in (None, False, argparse.SUPPRESS)):
                assert "default" in action.help.lower() or f"(default: {action.default})" in (
                    " ".join(text.split())
                ), f"{where} does not show its default {action.default!r}"


def test_train_nb_takes_the_column_its_error_names(tmp_path, capsys):
    path = tmp_path / "t.csv"
    path.write_text("text,label,extra\ngood film,pos,x\nbad film,neg,y\ngood plot,pos,z\n")
    code, _, err = run(["train", "nb", path, "-o", tmp_path / "m.fgm", "--label-column",
                        "label"], capsys)  # fmt: skip
    assert code == 1 and "--column NAME" in err
    code, _, err = run(["train", "nb", path, "-o", tmp_path / "m.fgm", "--label-column",
                        "label", "--column", "text"], capsys)  # fmt: skip
    assert code == 0, err
    assert fastgen.load(tmp_path / "m.fgm").predict(["good"]).tolist() == ["pos"]
