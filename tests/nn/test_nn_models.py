"""Keras-side Autoencoder/VAE, export gates, and ONNX-vs-Keras parity."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

for _mod in ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime"):
    pytest.importorskip(_mod)

import keras  # noqa: E402

import fastgen.nn as nn  # noqa: E402
from fastgen._base import NotFittedError, clone  # noqa: E402

ATOL = 1e-5


def _dense_units(model):
    return [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)]


# --------------------------------------------------------------------------- estimators


def test_params_and_clone():
    ae = nn.Autoencoder(784, noise=0.2)
    assert ae.get_params()["noise"] == 0.2
    assert ae.get_params()["hidden"] == (128, 64)
    c = clone(ae)
    assert c.get_params() == ae.get_params() and c is not ae
    assert "noise=0.2" in repr(ae)
    v = nn.VAE(10, beta=0.5).set_params(latent_dim=3)
    assert v.latent_dim == 3 and v.beta == 0.5


def test_not_fitted():
    with pytest.raises(NotFittedError):
        nn.Autoencoder(4).encode(np.zeros((2, 4)))
    with pytest.raises(NotFittedError):
        nn.VAE(4).generate(3)


@pytest.mark.parametrize(
    "params",
    [{"loss": "hinge"}, {"latent_dim": 0}, {"hidden": (0,)}, {"noise": -1.0}, {"learning_rate": 0}],
)
def test_bad_params(params):
    with pytest.raises(ValueError):
        nn.Autoencoder(4, **params).fit(np.zeros((4, 4)), epochs=1)


def test_reference_architecture_784(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.random((128, 784), dtype=np.float32)
    ae = nn.Autoencoder(784).fit(X, epochs=1, batch_size=64)
    assert _dense_units(ae.encoder_) == [128, 64, 32]
    assert _dense_units(ae.decoder_) == [64, 128, 784]
    assert ae.keras_model_.output_shape == (None, 784)
    path = tmp_path / "ae784.fgm"
    diffs = ae.export(path)
    assert max(diffs.values()) <= ATOL
    m = nn.load(path)
    np.testing.assert_allclose(m.reconstruct(X), ae.reconstruct(X), atol=ATOL, rtol=0)
    np.testing.assert_allclose(m.encode(X), ae.encode(X), atol=ATOL, rtol=0)

    vae = nn.VAE(784).fit(X, epochs=1, batch_size=64)
    assert _dense_units(vae.decoder_) == [64, 128, 784]
    vpath = tmp_path / "vae784.fgm"
    vae.export(vpath)
    mv = nn.load(vpath)
    np.testing.assert_allclose(mv.encode(X), vae.encode(X), atol=ATOL, rtol=0)
    np.testing.assert_allclose(mv.generate(8, seed=3), vae.generate(8, seed=3), atol=ATOL, rtol=0)


def test_fit_reproducible_with_seed(digits, ae_digits):
    again = nn.Autoencoder(64, hidden=(32,), latent_dim=8).fit(digits, epochs=3, batch_size=64)
    # same seed: same run up to float rounding of multi-threaded CPU reductions
    np.testing.assert_allclose(
        again.encode(digits[:50]), ae_digits.encode(digits[:50]), atol=1e-5, rtol=0
    )
    np.testing.assert_allclose(again.history_["loss"], ae_digits.history_["loss"], rtol=1e-5)
    other = nn.Autoencoder(64, hidden=(32,), latent_dim=8).fit(
        digits, epochs=3, batch_size=64, seed=1
    )
    assert not np.allclose(other.encode(digits[:50]), ae_digits.encode(digits[:50]))


def test_autoencoder_outputs(digits, ae_digits):
    ae = ae_digits
    assert ae.fit is not None and len(ae.history_["loss"]) == 3
    assert ae.history_["loss"][-1] < ae.history_["loss"][0]
    Z = ae.encode(digits)
    R = ae.reconstruct(digits)
    assert Z.shape == (len(digits), 8) and Z.dtype == np.float32
    assert R.shape == digits.shape and R.dtype == np.float32
    assert ((R >= 0) & (R <= 1)).all()
    s = ae.score_samples(digits)
    assert s.shape == (len(digits),) and (s >= 0).all()
    np.testing.assert_allclose(s, ((digits - R) ** 2).mean(axis=1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ae.decode(Z), R, atol=1e-6)
    keras_out = np.asarray(ae.keras_model_(digits[:10].astype(np.float32)))
    np.testing.assert_allclose(keras_out, R[:10], atol=1e-6)


def test_validation_data(digits):
    ae = nn.Autoencoder(64, hidden=(16,), latent_dim=4).fit(
        digits[:300], epochs=2, validation_data=digits[300:400]
    )
    assert len(ae.history_["val_loss"]) == 2


def test_denoising_autoencoder_exports_without_noise(digits, tmp_path):
    ae = nn.Autoencoder(64, hidden=(16,), latent_dim=4, noise=0.2).fit(digits[:400], epochs=2)
    layer_types = {type(layer).__name__ for layer in ae.keras_model_.layers}
    assert "GaussianNoise" not in layer_types
    # deterministic at inference
    np.testing.assert_array_equal(ae.encode(digits[:20]), ae.encode(digits[:20]))
    path = tmp_path / "dae.fgm"
    ae.export(path)
    import onnx

    with zipfile.ZipFile(path) as zf:
        for member in ("encoder.onnx", "decoder.onnx"):
            ops = {n.op_type for n in onnx.load_from_string(zf.read(member)).graph.node}
            assert not any("Random" in op for op in ops), ops
    np.testing.assert_allclose(
        nn.load(path).reconstruct(digits), ae.reconstruct(digits), atol=ATOL, rtol=0
    )


def test_vae_history_and_samples(digits, vae_digits):
    h = vae_digits.history_
    for key in ("loss", "reconstruction_loss", "kl_loss", "val_loss", "val_kl_loss"):
        assert len(h[key]) == 5
    assert h["kl_loss"][-1] > 1e-3
    # the ELBO: total = reconstruction (summed over features, ~ tens of nats) + beta * KL
    assert h["reconstruction_loss"][-1] > 5
    np.testing.assert_allclose(h["loss"], np.add(h["reconstruction_loss"], h["kl_loss"]), rtol=1e-4)
    samples = vae_digits.generate(200, seed=0)
    assert samples.shape == (200, 64) and samples.dtype == np.float32
    assert np.isfinite(samples).all()
    assert samples.min() >= digits.min() and samples.max() <= digits.max()
    np.testing.assert_array_equal(samples, vae_digits.generate(200, seed=0))
    assert not np.array_equal(samples, vae_digits.generate(200, seed=1))
    mean, log_var = vae_digits.encode(digits, return_log_var=True)
    assert mean.shape == log_var.shape == (len(digits), 4)


def test_vae_fit_reproducible_with_seed(digits):
    def fit(seed):
        return nn.VAE(64, hidden=(16,), latent_dim=2).fit(digits[:300], epochs=2, seed=seed)

    # same seed: same run up to float rounding of multi-threaded CPU reductions
    a, b, c = fit(3), fit(3), fit(4)
    for key in a.history_:
        np.testing.assert_allclose(a.history_[key], b.history_[key], rtol=1e-5)
    np.testing.assert_allclose(a.generate(10, seed=0), b.generate(10, seed=0), atol=1e-5)
    assert not np.allclose(a.history_["loss"], c.history_["loss"], rtol=1e-5)


def test_vae_beta_zero_is_plain_reconstruction(digits):
    v = nn.VAE(64, hidden=(16,), latent_dim=2, beta=0.0).fit(digits[:200], epochs=1)
    np.testing.assert_allclose(v.history_["loss"], v.history_["reconstruction_loss"], rtol=1e-5)


# --------------------------------------------------------------------------- ONNX parity


def test_autoencoder_onnx_parity(digits, ae_digits, ae_path):
    m = nn.load(ae_path)
    assert isinstance(m, nn.OnnxAutoencoder)
    assert "CPUExecutionProvider" in m.providers
    Z = ae_digits.encode(digits)
    np.testing.assert_allclose(m.encode(digits), Z, atol=ATOL, rtol=0)
    np.testing.assert_allclose(m.decode(Z), ae_digits.decode(Z), atol=ATOL, rtol=0)
    np.testing.assert_allclose(
        m.reconstruct(digits), ae_digits.reconstruct(digits), atol=ATOL, rtol=0
    )
    np.testing.assert_allclose(
        m.score_samples(digits), ae_digits.score_samples(digits), atol=ATOL, rtol=0
    )


def test_vae_onnx_parity(digits, vae_digits, vae_path):
    m = nn.load(vae_path)
    assert isinstance(m, nn.OnnxVAE)
    mean, log_var = m.encode(digits, return_log_var=True)
    k_mean, k_log_var = vae_digits.encode(digits, return_log_var=True)
    np.testing.assert_allclose(mean, k_mean, atol=ATOL, rtol=0)
    np.testing.assert_allclose(log_var, k_log_var, atol=ATOL, rtol=0)
    np.testing.assert_allclose(m.decode(k_mean), vae_digits.decode(k_mean), atol=ATOL, rtol=0)
    np.testing.assert_allclose(
        m.reconstruct(digits), vae_digits.reconstruct(digits), atol=ATOL, rtol=0
    )
    np.testing.assert_allclose(
        m.score_samples(digits), vae_digits.score_samples(digits), atol=ATOL, rtol=0
    )
    for seed in (0, 7):
        onnx_samples = m.generate(50, seed=seed)
        np.testing.assert_array_equal(onnx_samples, m.generate(50, seed=seed))
        np.testing.assert_allclose(
            onnx_samples, vae_digits.generate(50, seed=seed), atol=ATOL, rtol=0
        )


def test_manifest(ae_path, vae_path):
    import fastgen

    for path, kind, enc_out in [
        (ae_path, "autoencoder", ["z"]),
        (vae_path, "vae", ["z_mean", "z_log_var"]),
    ]:
        with zipfile.ZipFile(path) as zf:
            assert set(zf.namelist()) == {"manifest.json", "encoder.onnx", "decoder.onnx"}
            manifest = json.loads(zf.read("manifest.json"))
        assert manifest["format_version"] == 1
        assert manifest["kind"] == kind
        assert manifest["fastgen_version"] == fastgen.__version__
        assert manifest["input_shape"] == [None, 64]
        assert manifest["latent_shape"][1] in (8, 4)
        assert manifest["opset"] <= 18
        assert manifest["graphs"]["encoder"]["inputs"] == ["x"]
        assert manifest["graphs"]["encoder"]["outputs"] == enc_out
        assert manifest["graphs"]["decoder"]["outputs"] == ["reconstruction"]
        assert set(manifest["members"]) == {"encoder.onnx", "decoder.onnx"}
        assert all(len(m["sha256"]) == 64 for m in manifest["members"].values())


def test_load_wrong_kind(ae_path):
    with pytest.raises(nn.ModelFileError, match="expected 'vae'"):
        nn.load(ae_path, kind="vae")


def test_opset_gate(ae_digits, tmp_path):
    with pytest.raises(nn.ExportError, match="opset"):
        ae_digits.export(tmp_path / "x.fgm", opset=19)
    assert not (tmp_path / "x.fgm").exists()


# --------------------------------------------------------------------------- export_keras


class _NoisyLayer(keras.layers.Layer):
    """Adds fresh Gaussian noise on every call, also at inference: not exportable."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1)

    def call(self, x):
        return x + keras.random.normal(keras.ops.shape(x), seed=self.seed_generator)


def test_random_op_export_refused(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), _NoisyLayer(), keras.layers.Dense(3)])
    path = tmp_path / "noisy.fgm"
    with pytest.raises(nn.ExportError, match="random ops"):
        nn.export_keras(model, path)
    assert not path.exists()


def test_export_keras_sequential_and_functional(tmp_path):
    keras.utils.set_random_seed(0)
    X = np.random.default_rng(0).random((300, 10))
    seq = keras.Sequential(
        [
            keras.Input((10,)),
            keras.layers.Dense(16, activation="tanh"),
            keras.layers.Dropout(0.5),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    inp = keras.Input((10,))
    h = keras.layers.Dense(8, activation="relu")(inp)
    fun = keras.Model(inp, keras.layers.Add()([keras.layers.Dense(10)(h), inp]))
    for i, model in enumerate((seq, fun)):
        path = tmp_path / f"k{i}.fgm"
        diffs = nn.export_keras(model, path)
        assert diffs["model"] <= ATOL
        loaded = nn.load(path, kind="keras")
        assert isinstance(loaded, nn.OnnxKerasModel)
        want = model.predict(X, batch_size=1024, verbose=0)
        np.testing.assert_allclose(loaded.predict(X), want, atol=ATOL, rtol=0)
        with pytest.raises(ValueError, match="features"):
            loaded.predict(X[:, :5])


def test_export_keras_refuses_non_2d():
    model = keras.Sequential([keras.Input((4, 4)), keras.layers.Flatten(), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="one input of shape"):
        nn.export_keras(model, "unused.fgm")


# --------------------------------------------------------------------------- bad inputs


BAD_INPUTS = [
    (np.zeros(64), "2-D"),
    (np.zeros((3, 63)), "features"),
    (np.zeros((0, 64)), "empty"),
    (np.full((2, 64), np.nan), "NaN"),
    (np.full((2, 64), np.inf), "NaN or infinity"),
    (np.zeros((2, 64), dtype=object), "object"),
    ([["a"] * 64], "numeric"),
]


@pytest.mark.parametrize("X,match", BAD_INPUTS)
def test_bad_inputs(X, match, ae_digits, vae_path):
    with pytest.raises(ValueError, match=match):
        ae_digits.encode(X)
    with pytest.raises(ValueError, match=match):
        nn.load(vae_path).reconstruct(X)


def test_bad_fit_inputs():
    ae = nn.Autoencoder(4)
    for X in (np.zeros((3, 5)), np.zeros((0, 4)), np.array([[np.nan] * 4])):
        with pytest.raises(ValueError):
            ae.fit(X, epochs=1)
    assert not hasattr(ae, "encoder_")


def test_float64_and_int_inputs_become_float32(digits, ae_digits, ae_path):
    m = nn.load(ae_path)
    out64 = m.encode(digits)
    out32 = m.encode(digits.astype(np.float32))
    assert out64.dtype == np.float32
    np.testing.assert_array_equal(out64, out32)
    assert m.encode((digits * 16).astype(np.int64) // 16).dtype == np.float32
    assert ae_digits.encode(digits).dtype == np.float32
