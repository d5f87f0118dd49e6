"""Keras-trained dense Autoencoder and VAE (training side).

keras/tensorflow are imported inside methods only, so importing this module is cheap.
The fitted models are exported to ONNX with ``export(path)`` and served without
TensorFlow by :func:`fastgen.nn.load`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from fastgen._base import BaseEstimator, check_is_fitted
from fastgen.nn._inference import check_input, map_batches, row_error, sample_latent
from fastgen.nn._stack import training_module

__all__ = ["VAE", "Autoencoder"]

_LOSSES = ("binary_crossentropy", "mse")


def _train_array(X: Any, n_features: int | None, name: str = "X") -> np.ndarray:
    arr = check_input(X, n_features, name)
    arr = np.ascontiguousarray(arr, dtype=np.float32)  # memmaps are read here
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


def _dense_stack(keras, x, units: Sequence[int], activation: str, prefix: str):
    for i, u in enumerate(units):
        x = keras.layers.Dense(int(u), activation=activation, name=f"{prefix}_dense_{i}")(x)
    return x


class _DenseAutoencoderBase(BaseEstimator):
    """Shared validation, fitting loop, Keras-side inference and export."""

    _kind = ""

    # ---------------------------------------------------------------- params
    def _check_params(self) -> None:
        if not isinstance(self.input_dim, (int, np.integer)) or self.input_dim < 1:
            raise ValueError(f"input_dim must be a positive integer, got {self.input_dim!r}")
        if not isinstance(self.latent_dim, (int, np.integer)) or self.latent_dim < 1:
            raise ValueError(f"latent_dim must be a positive integer, got {self.latent_dim!r}")
        hidden = tuple(self.hidden)
        if any(not isinstance(h, (int, np.integer)) or h < 1 for h in hidden):
            raise ValueError(f"hidden must be positive integers, got {self.hidden!r}")
        if self.loss not in _LOSSES:
            raise ValueError(f"loss must be one of {_LOSSES}, got {self.loss!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")

    # ---------------------------------------------------------------- fitting
    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        epochs: int = 10,
        batch_size: int = 128,
        validation_split: float = 0.0,
        validation_data: Any = None,
        seed: int = 0,
        verbose: int = 0,
    ):
        """Train on ``X`` of shape (n_samples, input_dim) (float, finite; cast to float32).

        Parameters
        ----------
        X : array-like of shape (n_samples, input_dim)
        y : ignored
        epochs, batch_size : int
            Passed to ``keras.Model.fit``.
        validation_split : float
            Fraction of ``X`` (taken from the end) held out for validation.
        validation_data : array-like of shape (n_val, input_dim), optional
        seed : int
            Seeds Python, NumPy and the backend (``keras.utils.set_random_seed``): the
            initial weights, shuffling, input noise and VAE sampling.  Two fits with
            the same seed agree up to the float rounding of multi-threaded CPU
            reductions (observed: last-ulp differences in the loss).
        verbose : int
            Keras verbosity.

        Returns
        -------
        self
            With ``history_`` (dict of per-epoch lists), ``keras_model_``,
            ``encoder_`` and ``decoder_``.
        """
        self._check_params()
        X = _train_array(X, int(self.input_dim))
        val = None
        if validation_data is not None:
            if isinstance(validation_data, tuple):
                validation_data = validation_data[0]
            Xv = _train_array(validation_data, int(self.input_dim), "validation_data")
            val = (Xv, Xv)
        keras = training_module("keras", f"{type(self).__name__}.fit")
        if keras.backend.backend() != "tensorflow":
            raise RuntimeError(
                "fastgen.nn trains with the TensorFlow backend (needed for the ONNX "
                f"export); KERAS_BACKEND is {keras.backend.backend()!r}"
            )
        keras.utils.set_random_seed(int(seed))
        model = self._build(keras)
        model.compile(**self._compile_args(keras))
        hist = model.fit(
            X,
            X,
            epochs=int(epochs),
            batch_size=int(batch_size),
            validation_split=float(validation_split),
            validation_data=val,
            shuffle=True,
            verbose=verbose,
        )
        self.history_ = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
        self.n_features_in_ = int(self.input_dim)
        return self

    def _build_encoder_body(self, keras):
        inp = keras.Input((int(self.input_dim),), name="x")
        h = _dense_stack(keras, inp, tuple(self.hidden), self.activation, "encoder")
        return inp, h

    def _build_decoder(self, keras):
        z = keras.Input((int(self.latent_dim),), name="z")
        h = _dense_stack(keras, z, tuple(self.hidden)[::-1], self.activation, "decoder")
        out = keras.layers.Dense(
            int(self.input_dim), activation=self.output_activation, name="reconstruction"
        )(h)
        return keras.Model(z, out, name="decoder")

    # ---------------------------------------------------------------- Keras-side inference
    def _batch_size(self) -> int:
        return 4096

    def _keras_run(self, model, X: np.ndarray) -> list[np.ndarray]:
        def fn(x: np.ndarray) -> list[np.ndarray]:
            out = model(x, training=False)
            if not isinstance(out, (list, tuple)):
                out = [out]
            return [np.asarray(o) for o in out]

        return map_batches(fn, X, self._batch_size())

    def encode(self, X: Any) -> np.ndarray:
        """Latent codes (n, latent_dim) float32 (the VAE: the posterior mean)."""
        check_is_fitted(self, "encoder_")
        X = check_input(X, self.n_features_in_)
        return self._keras_run(self.encoder_, X)[0]

    def decode(self, Z: Any) -> np.ndarray:
        """Decoder outputs (n, input_dim) float32 for latent codes ``Z`` (n, latent_dim)."""
        check_is_fitted(self, "decoder_")
        Z = check_input(Z, int(self.latent_dim), "Z")
        return self._keras_run(self.decoder_, Z)[0]

    def reconstruct(self, X: Any) -> np.ndarray:
        """``decode(encode(X))``, shape (n, input_dim), float32."""
        return self.decode(self.encode(X))

    def score_samples(self, X: Any) -> np.ndarray:
        """Per-row mean squared reconstruction error, shape (n,), float64 (high = unusual)."""
        X = check_input(X, getattr(self, "n_features_in_", None))
        R = self.reconstruct(X)
        return row_error(np.asarray(X, dtype=np.float32), R)

    # ---------------------------------------------------------------- export
    def export(
        self,
        path: str | os.PathLike,
        *,
        opset: int = 17,
        atol: float = 1e-5,
        probe: np.ndarray | None = None,
    ) -> dict[str, float]:
        """Export to one fastgen model file (``encoder.onnx`` + ``decoder.onnx``).

        Raises :class:`fastgen.nn.ExportError` if a gate fails (see ``_export``).
        ``probe`` (n, input_dim) feeds the numeric check (default: 16 rows of U(0, 1)).
        Returns the max abs ONNX-vs-Keras difference per graph.
        """
        check_is_fitted(self, "encoder_")
        from fastgen.nn._export import export_graphs

        rng = np.random.default_rng(0)
        d, k = int(self.input_dim), int(self.latent_dim)
        if probe is None:
            probe = rng.random((16, d), dtype=np.float32)
        probe = _train_array(probe, d, "probe")
        enc_out = self._encoder_outputs()
        z_probe = np.asarray(self._keras_run(self.encoder_, probe)[0])
        z_probe = np.concatenate([z_probe, rng.standard_normal((4, k), dtype=np.float32)])
        enc, dec = self.encoder_, self.decoder_
        graphs = {
            "encoder": {
                "fn": lambda x: enc(x, training=False),
                "input_dim": d,
                "input": "x",
                "outputs": enc_out,
                "probe": probe,
            },
            "decoder": {
                "fn": lambda z: dec(z, training=False),
                "input_dim": k,
                "input": "z",
                "outputs": ["reconstruction"],
                "probe": z_probe,
            },
        }
        meta = {
            "input_shape": [None, d],
            "latent_shape": [None, k],
            "params": {
                key: (list(v) if isinstance(v, tuple) else v)
                for key, v in self.get_params().items()
            },
        }
        return export_graphs(path, self._kind, graphs, meta, opset=opset, atol=atol)

    def save(self, path: str | os.PathLike) -> None:
        """Save as a fastgen model file: the same as :meth:`export` with its defaults.

        The file holds the ONNX inference model (not the Keras model), so
        ``fastgen.load(path)`` returns an ``OnnxAutoencoder``/``OnnxVAE`` served by
        onnxruntime; keep the Keras model yourself to train it further.
        """
        self.export(path)


class Autoencoder(_DenseAutoencoderBase):
    """Dense (optionally denoising) autoencoder trained with Keras, served via ONNX.

    Architecture ``input_dim -> hidden -> latent_dim -> reversed(hidden) -> input_dim``
    (784-128-64-32-64-128-784 with the defaults at ``input_dim=784``).

    Parameters
    ----------
    input_dim : int
        Number of features.
    hidden : sequence of int
        Encoder hidden layer widths (the decoder mirrors them).
    latent_dim : int
        Width of the (linear) code layer.
    activation : str
        Hidden activation.
    output_activation : str
        Output activation (``"sigmoid"`` for data in [0, 1]).
    loss : {"binary_crossentropy", "mse"}
        Training loss.
    noise : float
        Std of Gaussian input noise during training (denoising AE); 0 disables it.
        The noise layer is not part of the encoder, so never of the exported graph.
    learning_rate : float
        Adam learning rate.

    Attributes
    ----------
    keras_model_ : keras.Model
        ``decoder_(encoder_(x))`` (without the noise layer).
    encoder_, decoder_ : keras.Model
    history_ : dict of list of float
    """

    _kind = "autoencoder"

    def __init__(
        self,
        input_dim: int,
        hidden: Sequence[int] = (128, 64),
        latent_dim: int = 32,
        activation: str = "relu",
        output_activation: str = "sigmoid",
        loss: str = "binary_crossentropy",
        noise: float = 0.0,
        learning_rate: float = 1e-3,
    ):
        self.input_dim = input_dim
        self.hidden = hidden
        self.latent_dim = latent_dim
        self.activation = activation
        self.output_activation = output_activation
        self.loss = loss
        self.noise = noise
        self.learning_rate = learning_rate

    def _check_params(self) -> None:
        super()._check_params()
        if not self.noise >= 0:
            raise ValueError(f"noise must be >= 0, got {self.noise!r}")

    def _encoder_outputs(self) -> list[str]:
        return ["z"]

    def _build(self, keras):
        inp, h = self._build_encoder_body(keras)
        z = keras.layers.Dense(int(self.latent_dim), name="z")(h)
        self.encoder_ = keras.Model(inp, z, name="encoder")
        self.decoder_ = self._build_decoder(keras)
        x = keras.Input((int(self.input_dim),), name="x")
        self.keras_model_ = keras.Model(x, self.decoder_(self.encoder_(x)), name="autoencoder")
        if self.noise > 0:
            xt = keras.Input((int(self.input_dim),), name="x")
            noisy = keras.layers.GaussianNoise(float(self.noise), name="noise")(xt)
            return keras.Model(xt, self.decoder_(self.encoder_(noisy)), name="denoising_ae")
        return self.keras_model_

    def _compile_args(self, keras) -> dict:
        return {
            "optimizer": keras.optimizers.Adam(float(self.learning_rate)),
            "loss": self.loss,
        }


def _vae_model_class(keras):
    """The Keras VAE model (custom train/test steps); defined lazily (imports tf)."""
    tf = training_module("tensorflow", "VAE.fit")

    class _KerasVAE(keras.Model):
        def __init__(self, encoder, decoder, beta, loss, **kwargs):
            super().__init__(**kwargs)
            self.encoder = encoder
            self.decoder = decoder
            self.beta = float(beta)
            self.recon_kind = loss
            self.seed_generator = keras.random.SeedGenerator()  # seeded by fit(seed=)
            self.total_tracker = keras.metrics.Mean(name="loss")
            self.recon_tracker = keras.metrics.Mean(name="reconstruction_loss")
            self.kl_tracker = keras.metrics.Mean(name="kl_loss")

        @property
        def metrics(self):
            return [self.total_tracker, self.recon_tracker, self.kl_tracker]

        def call(self, x, training=False):
            mean, _ = self.encoder(x, training=training)
            return self.decoder(mean, training=training)

        def _vae_losses(self, x, training):
            mean, log_var = self.encoder(x, training=training)
            eps = keras.random.normal(tf.shape(mean), seed=self.seed_generator)
            z = mean + tf.exp(0.5 * log_var) * eps
            x_hat = self.decoder(z, training=training)
            if self.recon_kind == "binary_crossentropy":
                per_feature = keras.ops.binary_crossentropy(x, x_hat)
            else:
                per_feature = tf.square(x - x_hat)
            recon = tf.reduce_mean(tf.reduce_sum(per_feature, axis=-1))
            kl = -0.5 * tf.reduce_sum(1.0 + log_var - tf.square(mean) - tf.exp(log_var), axis=-1)
            kl = tf.reduce_mean(kl)
            return recon + self.beta * kl, recon, kl

        def _update(self, total, recon, kl):
            self.total_tracker.update_state(total)
            self.recon_tracker.update_state(recon)
            self.kl_tracker.update_state(kl)
            return {m.name: m.result() for m in self.metrics}

        def train_step(self, data):
            x = data[0] if isinstance(data, (tuple, list)) else data
            with tf.GradientTape() as tape:
                total, recon, kl = self._vae_losses(x, training=True)
            grads = tape.gradient(total, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
            return self._update(total, recon, kl)

        def test_step(self, data):
            x = data[0] if isinstance(data, (tuple, list)) else data
            return self._update(*self._vae_losses(x, training=False))

    return _KerasVAE


class VAE(_DenseAutoencoderBase):
    """Dense variational autoencoder (Gaussian latent, reparameterisation trick).

    Loss per sample (the negative ELBO): reconstruction loss summed over features
    (binary cross-entropy, or squared error with ``loss="mse"``) plus
    ``beta * KL(q(z|x) || N(0, I))``; ``history_`` reports ``loss``,
    ``reconstruction_loss`` and ``kl_loss`` (batch means).

    The encoder outputs the posterior mean and log-variance; ``encode`` returns the
    mean, ``reconstruct`` decodes the mean, and ``generate`` samples ``z ~ N(0, I)``
    in NumPy and decodes it (so Keras and ONNX samples agree for a seed).

    Parameters
    ----------
    input_dim, hidden, latent_dim, activation, output_activation, loss, learning_rate
        As for :class:`Autoencoder`.
    beta : float
        Weight of the KL term (beta-VAE); 1 gives the ELBO.
    """

    _kind = "vae"

    def __init__(
        self,
        input_dim: int,
        hidden: Sequence[int] = (128, 64),
        latent_dim: int = 32,
        beta: float = 1.0,
        activation: str = "relu",
        output_activation: str = "sigmoid",
        loss: str = "binary_crossentropy",
        learning_rate: float = 1e-3,
    ):
        self.input_dim = input_dim
        self.hidden = hidden
        self.latent_dim = latent_dim
        self.beta = beta
        self.activation = activation
        self.output_activation = output_activation
        self.loss = loss
        self.learning_rate = learning_rate

    def _check_params(self) -> None:
        super()._check_params()
        if not self.beta >= 0:
            raise ValueError(f"beta must be >= 0, got {self.beta!r}")
        if self.loss == "binary_crossentropy" and self.output_activation != "sigmoid":
            raise ValueError("loss='binary_crossentropy' needs output_activation='sigmoid'")

    def _encoder_outputs(self) -> list[str]:
        return ["z_mean", "z_log_var"]

    def _build(self, keras):
        inp, h = self._build_encoder_body(keras)
        mean = keras.layers.Dense(int(self.latent_dim), name="z_mean")(h)
        log_var = keras.layers.Dense(int(self.latent_dim), name="z_log_var")(h)
        self.encoder_ = keras.Model(inp, [mean, log_var], name="encoder")
        self.decoder_ = self._build_decoder(keras)
        cls = _vae_model_class(keras)
        self.keras_model_ = cls(self.encoder_, self.decoder_, self.beta, self.loss, name="vae")
        return self.keras_model_

    def _compile_args(self, keras) -> dict:
        return {"optimizer": keras.optimizers.Adam(float(self.learning_rate))}

    def encode(self, X: Any, return_log_var: bool = False):
        """Posterior mean (n, latent_dim) float32; with ``return_log_var`` also log-variance."""
        check_is_fitted(self, "encoder_")
        X = check_input(X, self.n_features_in_)
        mean, log_var = self._keras_run(self.encoder_, X)
        return (mean, log_var) if return_log_var else mean

    def generate(self, n: int, seed: int | None = None) -> np.ndarray:
        """``n`` samples (n, input_dim) float32: ``z ~ N(0, I)`` from ``seed``, decoded."""
        check_is_fitted(self, "decoder_")
        return self.decode(sample_latent(n, int(self.latent_dim), seed))
