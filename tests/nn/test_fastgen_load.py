"""``fastgen.load`` opens neural model files like ``fastgen.nn.load``."""

import numpy as np

import fastgen
from fastgen.nn import OnnxVAE


def test_top_level_load_equals_nn_load(vae_path, digits):
    model = fastgen.load(vae_path, device="cpu")
    assert isinstance(model, OnnxVAE)
    assert model.providers == ["CPUExecutionProvider"]
    twin = fastgen.nn.load(vae_path, device="cpu")
    np.testing.assert_array_equal(model.encode(digits[:50]), twin.encode(digits[:50]))
    np.testing.assert_array_equal(model.generate(4, seed=1), twin.generate(4, seed=1))
