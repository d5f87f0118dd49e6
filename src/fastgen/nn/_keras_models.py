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
from fastgen._docstrings import fill
from fastgen.nn._inference import (
    ENCODE_RESULT_DOC,
    check_input,
    map_batches,
    row_error,
    sample_latent,
)
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
        """Train the network with Keras to reconstruct ``X``.

        Builds a fresh network (a second call starts again from new weights) and
        trains it with Adam on ``X`` as both input and target.

        Parameters
        ----------
        X : array-like of shape (n_samples, input_dim)
            Training rows: finite numbers, cast to float32 (a memory-mapped array is
            read into memory).  With the default ``loss="binary_crossentropy"`` the
            values should lie in [0, 1].
        y : None
            Ignored; present for scikit-learn's ``fit(X, y)`` convention.
        epochs : int, default=10
            Passes over ``X``.
        batch_size : int, default=128
            Rows per gradient step.
        validation_split : float, default=0.0
            Fraction of ``X`` (taken from the end) held out for validation; its
            losses appear in ``history_`` as ``val_*``.
        validation_data : array-like of shape (n_val, input_dim), optional
            Separate validation rows (a tuple's first element is used); overrides
            ``validation_split``.
        seed : int, default=0
            Seeds Python, NumPy and the backend (``keras.utils.set_random_seed``): the
            initial weights, shuffling, input noise and VAE sampling.  Two fits with
            the same seed agree up to the float rounding of multi-threaded CPU
            reductions (observed: last-ulp differences in the loss).
        verbose : int, default=0
            Keras verbosity: 0 silent, 1 progress bar, 2 one line per epoch.

        Returns
        -------
        self : object
            The fitted estimator, with ``history_``, ``keras_model_``, ``encoder_``
            and ``decoder_`` set.

        Raises
        ------
        ValueError
            A parameter is invalid, or ``X`` is not a finite 2-D array with
            ``input_dim`` columns.
        ImportError
            The ``train`` extra (TensorFlow, Keras, tf2onnx, onnx) is not installed.
        RuntimeError
            Keras runs on a backend other than TensorFlow.
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
        """Latent codes of ``X``, computed by the Keras encoder.

        Parameters
        ----------
        X : array-like of shape (n_samples, input_dim)
            Rows to encode (finite numbers; cast to float32).

        Returns
        -------
        ndarray of shape (n_samples, latent_dim)
            float32 codes (for a VAE: the posterior mean).
        """
        check_is_fitted(self, "encoder_")
        X = check_input(X, self.n_features_in_)
        return self._keras_run(self.encoder_, X)[0]

    def decode(self, Z: Any) -> np.ndarray:
        """Decode latent codes with the Keras decoder.

        Parameters
        ----------
        Z : array-like of shape (n_samples, latent_dim)
            Latent codes, e.g. from :meth:`encode`.

        Returns
        -------
        ndarray of shape (n_samples, input_dim)
            float32 decoder outputs.
        """
        check_is_fitted(self, "decoder_")
        Z = check_input(Z, int(self.latent_dim), "Z")
        return self._keras_run(self.decoder_, Z)[0]

    def reconstruct(self, X: Any) -> np.ndarray:
        """Reconstruct ``X``: ``decode(encode(X))``.

        Parameters
        ----------
        X : array-like of shape (n_samples, input_dim)
            Rows to reconstruct.

        Returns
        -------
        ndarray of shape (n_samples, input_dim)
            float32 reconstructions (for a VAE: the decoded posterior mean).
        """
        return self.decode(self.encode(X))

    def score_samples(self, X: Any) -> np.ndarray:
        """Anomaly scores: each row's mean squared reconstruction error.

        Parameters
        ----------
        X : array-like of shape (n_samples, input_dim)
            Rows to score.

        Returns
        -------
        ndarray of shape (n_samples,)
            float64 scores; a high score marks a row the model reconstructs badly.
        """
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
        """Export the fitted model to one fastgen model file of ONNX graphs.

        The file holds ``encoder.onnx`` and ``decoder.onnx``; :func:`fastgen.load`
        serves it with onnxruntime.  Each graph must pass the export gates (no
        unsupported or random op, ``onnx.checker``, a dynamic batch dimension, the
        loader's own checks) and match Keras within ``atol`` on a probe batch, or
        nothing is written.

        Parameters
        ----------
        path : str or path-like
            Destination file (``.fgm`` by convention); replaced if it exists.
        opset : int, default=17
            ONNX opset of the graphs, at most 18.
        atol : float, default=1e-5
            Largest accepted absolute difference between ONNX and Keras outputs on
            the probe.
        probe : ndarray of shape (n, input_dim), optional
            Rows for the numeric check; default 16 rows drawn from U(0, 1).

        Returns
        -------
        dict of str to float
            ``{"encoder": diff, "decoder": diff}``: the largest absolute difference
            between ONNX and Keras outputs of each graph on the probe.

        Raises
        ------
        fastgen.nn.ExportError
            A gate failed; the message names the graph and the reason.
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

        Parameters
        ----------
        path : str or path-like
            Destination file (``.fgm`` by convention); replaced if it exists.

        Raises
        ------
        fastgen.nn.ExportError
            The ONNX export failed a gate.
        """
        self.export(path)


class Autoencoder(_DenseAutoencoderBase):
    """Dense (optionally denoising) autoencoder trained with Keras, served via ONNX.

    Architecture ``input_dim -> hidden -> latent_dim -> reversed(hidden) -> input_dim``
    (784-128-64-32-64-128-784 with the defaults at ``input_dim=784``).

    Training needs the ``train`` extra (TensorFlow, Keras, tf2onnx, onnx), imported
    on first use.  :meth:`save` (or :meth:`export`) writes the ONNX inference model,
    which :func:`fastgen.load` serves with onnxruntime alone.

    Parameters
    ----------
    input_dim : int
        Number of features of the input rows.
    hidden : sequence of int, default=(128, 64)
        Widths of the encoder's hidden dense layers, outermost first; the decoder
        mirrors them.
    latent_dim : int, default=32
        Width of the code layer (linear activation).
    activation : str, default="relu"
        Keras activation of the hidden layers.
    output_activation : str, default="sigmoid"
        Keras activation of the output layer; ``"sigmoid"`` suits data in [0, 1],
        ``"linear"`` unbounded data (with ``loss="mse"``).
    loss : {"binary_crossentropy", "mse"}, default="binary_crossentropy"
        Reconstruction loss minimised during training.
    noise : float, default=0.0
        Standard deviation of Gaussian noise added to the inputs during training
        (a denoising autoencoder); 0 adds none.  The noise layer is not part of the
        encoder, so never of the exported graph.
    learning_rate : float, default=1e-3
        Learning rate of the Adam optimiser.

    Attributes
    ----------
    keras_model_ : keras.Model
        The trained network ``decoder_(encoder_(x))``, without the noise layer.
    encoder_ : keras.Model
        The encoder, rows to codes.
    decoder_ : keras.Model
        The decoder, codes to reconstructed rows.
    history_ : dict of str to list of float
        Per-epoch values of the training loss (``"loss"``) and of the validation
        loss when there is one (``"val_loss"``).
    n_features_in_ : int
        Number of features seen in ``fit`` (``input_dim``).

    See Also
    --------
    VAE : The variational autoencoder.
    fastgen.nn.load : Serve a saved model with onnxruntime.
    fastgen.nn.OnnxAutoencoder : What loading the saved file gives.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgen.nn import Autoencoder
    >>> X = np.random.default_rng(0).random((64, 6), dtype=np.float32)
    >>> ae = Autoencoder(input_dim=6, hidden=(8,), latent_dim=2)
    >>> ae = ae.fit(X, epochs=1, batch_size=32, seed=0)
    >>> ae.encode(X).shape, ae.reconstruct(X).shape
    ((64, 2), (64, 6))
    >>> sorted(ae.history_)
    ['loss']
    >>> ae.save("ae.fgm")
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

    Training needs the ``train`` extra (TensorFlow, Keras, tf2onnx, onnx), imported
    on first use.  :meth:`save` (or :meth:`export`) writes the ONNX inference model,
    which :func:`fastgen.load` serves with onnxruntime alone.

    Parameters
    ----------
    input_dim : int
        Number of features of the input rows.
    hidden : sequence of int, default=(128, 64)
        Widths of the encoder's hidden dense layers, outermost first; the decoder
        mirrors them.
    latent_dim : int, default=32
        Dimension of the latent space (the encoder's mean and log-variance each
        have this width).
    beta : float, default=1.0
        Weight of the KL term (a beta-VAE); 1 gives the ELBO, 0 leaves only the
        reconstruction loss.
    activation : str, default="relu"
        Keras activation of the hidden layers.
    output_activation : str, default="sigmoid"
        Keras activation of the output layer; must be ``"sigmoid"`` with
        ``loss="binary_crossentropy"``.
    loss : {"binary_crossentropy", "mse"}, default="binary_crossentropy"
        Reconstruction term of the loss, summed over features.
    learning_rate : float, default=1e-3
        Learning rate of the Adam optimiser.

    Attributes
    ----------
    keras_model_ : keras.Model
        The trained VAE (custom training step with the reparameterisation trick).
    encoder_ : keras.Model
        The encoder, rows to posterior mean and log-variance.
    decoder_ : keras.Model
        The decoder, latent codes to reconstructed rows.
    history_ : dict of str to list of float
        Per-epoch batch means of ``"loss"``, ``"reconstruction_loss"`` and
        ``"kl_loss"`` (and their ``val_*`` with validation data).
    n_features_in_ : int
        Number of features seen in ``fit`` (``input_dim``).

    See Also
    --------
    Autoencoder : The deterministic autoencoder.
    fastgen.nn.load : Serve a saved model with onnxruntime.
    fastgen.nn.OnnxVAE : What loading the saved file gives.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgen.nn import VAE
    >>> X = np.random.default_rng(0).random((64, 6), dtype=np.float32)
    >>> vae = VAE(input_dim=6, hidden=(8,), latent_dim=2).fit(X, epochs=1, seed=0)
    >>> sorted(vae.history_)
    ['kl_loss', 'loss', 'reconstruction_loss']
    >>> mean, log_var = vae.encode(X, return_log_var=True)
    >>> mean.shape, log_var.shape
    ((64, 2), (64, 2))
    >>> vae.generate(5, seed=0).shape
    (5, 6)
    >>> vae.save("vae.fgm")
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

    @fill(encoded=ENCODE_RESULT_DOC)
    def encode(self, X: Any, return_log_var: bool = False):
        """Posterior mean of the latent code of each row (Keras encoder).

        Parameters
        ----------
        X : array-like of shape (n_samples, input_dim)
            Rows to encode.
        {{encoded}}
        """
        check_is_fitted(self, "encoder_")
        X = check_input(X, self.n_features_in_)
        mean, log_var = self._keras_run(self.encoder_, X)
        return (mean, log_var) if return_log_var else mean

    def generate(self, n: int, seed: int | None = None) -> np.ndarray:
        """Draw new rows: ``z ~ N(0, I)`` sampled in NumPy, then decoded.

        Parameters
        ----------
        n : int
            Number of samples.
        seed : int, optional
            Seed of ``numpy.random.default_rng`` for ``z``; None draws fresh
            randomness.  The ONNX model loaded from the saved file draws the same
            ``z`` for the same seed.

        Returns
        -------
        ndarray of shape (n, input_dim)
            float32 samples.
        """
        check_is_fitted(self, "decoder_")
        return self.decode(sample_latent(n, int(self.latent_dim), seed))
