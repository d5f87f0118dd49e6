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
from fastgen.text import CountVectorizer

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
    assert code == 0 and "kind: vae" in out and "latent_dim: 2" in out
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
