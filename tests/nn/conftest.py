"""Shared fitted models for the fastgen.nn tests (trained once per session, tiny epochs)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")


def _need_training_stack() -> None:
    for mod in ("tensorflow", "keras", "tf2onnx", "onnx"):
        pytest.importorskip(mod)


@pytest.fixture(scope="session")
def digits() -> np.ndarray:
    """sklearn's digits, (1797, 64) float64 scaled to [0, 1]."""
    datasets = pytest.importorskip("sklearn.datasets")
    return datasets.load_digits().data / 16.0


@pytest.fixture(scope="session")
def ae_digits(digits):
    _need_training_stack()
    from fastgen.nn import Autoencoder

    return Autoencoder(64, hidden=(32,), latent_dim=8).fit(digits, epochs=3, batch_size=64)


@pytest.fixture(scope="session")
def vae_digits(digits):
    _need_training_stack()
    from fastgen.nn import VAE

    return VAE(64, hidden=(32,), latent_dim=4).fit(
        digits, epochs=5, batch_size=64, validation_split=0.1
    )


@pytest.fixture(scope="session")
def ae_path(ae_digits, tmp_path_factory):
    path = tmp_path_factory.mktemp("nn") / "ae.fgm"
    ae_digits.export(path)
    return path


@pytest.fixture(scope="session")
def vae_path(vae_digits, tmp_path_factory):
    path = tmp_path_factory.mktemp("nn") / "vae.fgm"
    vae_digits.export(path)
    return path


@pytest.fixture(scope="session")
def keras_path(tmp_path_factory):
    """A small user Keras model (Dense, BatchNormalization, softmax) from export_keras."""
    _need_training_stack()
    import keras

    from fastgen.nn import export_keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(16, activation="tanh"),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(3, activation="softmax"),
    ])
    path = tmp_path_factory.mktemp("nn") / "keras.fgm"
    export_keras(model, path)
    return path
