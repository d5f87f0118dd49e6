"""Section 3: an Autoencoder and a VAE on MNIST digits, trained in Keras, served by ONNX.

Both use the reference architecture, fastgen's defaults: 784-128-64-32-64-128-784
(ReLU, sigmoid output, binary cross-entropy).  Training runs in Keras (TensorFlow);
the models are saved as ONNX model files and served by onnxruntime, which is timed
against Keras' own inference on the same rows in the same run.
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np

from fastgen.demo._context import Context
from fastgen.demo._data import load_images
from fastgen.demo._report import Section, SectionSkipped, Speed, timed
from fastgen.demo._text import split

__all__ = ["run_neural"]

TITLE = "Autoencoder and VAE: {data} ({arch}), Keras training, ONNX serving"
AE_FILE = "autoencoder.fgm"
VAE_FILE = "vae.fgm"
AE_INT8_FILE = "autoencoder.int8.fgm"
BATCH_INPUT = "digits_test.npy"
AE_BATCH_OUTPUT = "autoencoder_codes.npy"
VAE_BATCH_OUTPUT = "vae_scores.npy"
RECON_FIGURE = "reconstructions.png"
SAMPLES_FIGURE = "vae_samples.png"
BATCH_SIZE = 128
N_SAMPLES = 64
LATENCY_CALLS = 50
ONNX_ATOL = 1e-4  # ONNX vs Keras outputs (float32, different kernels)
INT8_MSE_RTOL = 0.10  # int8 weights may change the test reconstruction MSE by at most 10 %


def _require_training_stack() -> None:
    from fastgen._extras import MissingExtraError, require

    try:
        require("train", "training")
    except MissingExtraError as exc:
        raise SectionSkipped(str(exc)) from None


def _architecture(d: int) -> dict:
    """fastgen's defaults for 784 pixels; a smaller net for the 8x8 fallback digits."""
    if d >= 256:
        return {}
    return {"hidden": (32, 16), "latent_dim": 8}


def _pca_mse(train: np.ndarray, test: np.ndarray, k: int) -> float:
    """Reconstruction MSE of ``test`` by the top-``k`` principal components of ``train``."""
    mu = train.mean(axis=0, dtype=np.float64)
    _, _, vt = np.linalg.svd(train - mu, full_matrices=False)
    basis = vt[:k]
    centred = test - mu
    recon = centred @ basis.T @ basis
    return float(np.mean((centred - recon) ** 2))


def _epochs(n: int) -> str:
    return f"{n} epoch" + ("" if n == 1 else "s")


def _median_latency(fn, x: np.ndarray, calls: int) -> float:
    fn(x)  # warm up
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _examples(labels: np.ndarray, n: int = 10) -> np.ndarray:
    """Indices of one test image per class 0..9 (as many as exist), then any others."""
    picks = [int(np.flatnonzero(labels == c)[0]) for c in range(10) if np.any(labels == c)]
    rest = [i for i in range(len(labels)) if i not in picks]
    return np.asarray((picks + rest)[:n])


def run_neural(ctx: Context) -> Section:
    """Train AE + VAE, evaluate, save, reload with onnxruntime, batch-predict, time, plot."""
    _require_training_stack()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported
    import fastgen
    from fastgen.batch import predict_file
    from fastgen.nn import VAE, Autoencoder, quantize_dynamic

    images = load_images(ctx.sizes.images, seed=ctx.seed)
    tr, te = split(len(images.X), ctx.seed)
    X_train, X_test = images.X[tr], images.X[te]
    d = X_train.shape[1]
    arch = _architecture(d)
    sz, rep = ctx.sizes, ctx.sizes.repeat

    ctx.log("neural: importing TensorFlow / Keras")
    t0 = time.perf_counter()
    import keras  # noqa: F401  (timed: the cost of importing the training stack)

    import_s = time.perf_counter() - t0
    ctx.log(f"neural: training the Autoencoder on {len(X_train):,} images, "
            f"{_epochs(sz.ae_epochs)}")
    ae = Autoencoder(input_dim=d, **arch)
    _, ae_fit_s = timed(lambda: ae.fit(X_train, epochs=sz.ae_epochs, batch_size=BATCH_SIZE,
                                       seed=ctx.seed))
    ctx.log(f"neural: training the VAE, {_epochs(sz.vae_epochs)}")
    vae = VAE(input_dim=d, **arch)
    _, vae_fit_s = timed(lambda: vae.fit(X_train, epochs=sz.vae_epochs, batch_size=BATCH_SIZE,
                                         validation_data=X_test, seed=ctx.seed))
    p = ae.get_params()
    layers = [d, *p["hidden"], p["latent_dim"], *p["hidden"][::-1], d]
    data_name = "MNIST digits" if images.image_shape == (28, 28) else "8x8 digits (fallback)"
    sec = Section("neural", TITLE.format(data=data_name, arch="-".join(map(str, layers[:4]))))
    sec.intro.append(
        f"Data: {images.source}; seeded split {len(X_train):,} train / {len(X_test):,} test, "
        f"pixels scaled to [0, 1].  Architecture {'-'.join(map(str, layers))} "
        f"({p['activation']}, {p['output_activation']} output, {p['loss']}), Adam, batch "
        f"{BATCH_SIZE}: Autoencoder {_epochs(sz.ae_epochs)}, VAE {_epochs(sz.vae_epochs)} "
        f"(training: {ae_fit_s:.1f} s and {vae_fit_s:.1f} s; importing Keras {import_s:.1f} s).  "
        "Training is seeded; multi-threaded float reductions may change the last digits of "
        "the neural numbers between runs."
    )

    ctx.log("neural: saving ONNX model files and loading them with onnxruntime")
    ae_path, vae_path = ctx.path(AE_FILE), ctx.path(VAE_FILE)
    ae.save(ae_path)
    vae.save(vae_path)
    ae_rt = fastgen.load(ae_path)
    vae_rt = fastgen.load(vae_path)

    keras_recon = ae.keras_model_.predict(X_test, batch_size=4096, verbose=0)
    onnx_recon = ae_rt.reconstruct(X_test)
    err = float(np.max(np.abs(keras_recon - onnx_recon)))
    sec.check("ONNX Autoencoder reconstructs like Keras", err <= ONNX_ATOL,
              f"max abs diff {err:.1e}")
    err = float(np.max(np.abs(vae.encode(X_test) - vae_rt.encode(X_test))))
    sec.check("ONNX VAE encodes like Keras", err <= ONNX_ATOL, f"max abs diff {err:.1e}")

    ae_mse = float(np.mean(ae_rt.score_samples(X_test)))
    ctx.log("neural: int8 dynamic quantisation of the Autoencoder")
    ae_int8_path = ctx.path(AE_INT8_FILE)
    quantize_dynamic(ae_path, ae_int8_path, probe=X_train[:256])
    ae_int8 = fastgen.load(ae_int8_path)
    int8_mse = float(np.mean(ae_int8.score_samples(X_test)))
    change = (int8_mse - ae_mse) / ae_mse
    sec.check("int8 Autoencoder keeps the test reconstruction MSE",
              abs(change) <= INT8_MSE_RTOL, f"{int8_mse:.5f} vs {ae_mse:.5f} ({change:+.1%})")
    vae_mse = float(np.mean(vae_rt.score_samples(X_test)))
    mean_mse = float(np.mean((X_test - X_train.mean(axis=0)) ** 2))
    k = int(p["latent_dim"])
    sec.metric("test reconstruction MSE per pixel, Autoencoder", ae_mse, ".5f")
    sec.metric("test reconstruction MSE per pixel, Autoencoder with int8 weights", int8_mse,
               ".5f")
    sec.metric("test reconstruction MSE per pixel, VAE (posterior mean)", vae_mse, ".5f")
    sec.metric(f"test reconstruction MSE per pixel, PCA with {k} components",
               _pca_mse(X_train, X_test, k), ".5f")
    sec.metric("test reconstruction MSE per pixel, mean image", mean_mse, ".5f")
    for key, label in (("loss", "negative ELBO"), ("reconstruction_loss", "reconstruction"),
                       ("kl_loss", "KL")):
        sec.metric(f"VAE test {label} (nats/image, one-sample estimate)",
                   vae.history_[f"val_{key}"][-1], ".2f")
    sec.metric("Autoencoder last-epoch training loss (binary cross-entropy per pixel)",
               ae.history_["loss"][-1], ".4f")

    ctx.log("neural: timing onnxruntime against Keras")
    n = len(images.X)
    _, keras_s = timed(lambda: ae.keras_model_.predict(images.X, batch_size=4096, verbose=0),
                       rep)
    _, onnx_s = timed(lambda: ae_rt.reconstruct(images.X), rep)
    _, int8_s = timed(lambda: ae_int8.reconstruct(images.X), rep)
    _, keras_enc_s = timed(lambda: vae.encoder_.predict(images.X, batch_size=4096, verbose=0),
                           rep)
    _, onnx_enc_s = timed(lambda: vae_rt.encode(images.X), rep)
    one = images.X[:1]
    calls = LATENCY_CALLS if sz.repeat > 1 else 5
    keras_1 = _median_latency(lambda x: ae.keras_model_(x, training=False), one, calls)
    onnx_1 = _median_latency(ae_rt.reconstruct, one, calls)
    sec.speed += [
        Speed(f"Autoencoder reconstruct, {n:,} images (Keras predict, batch 4096)", onnx_s,
              "Keras", keras_s),
        Speed(f"Autoencoder reconstruct, {n:,} images, int8 weights (Keras predict)", int8_s,
              "Keras", keras_s),
        Speed(f"VAE encode, {n:,} images (Keras predict, batch 4096)", onnx_enc_s, "Keras",
              keras_enc_s),
        Speed("Autoencoder reconstruct, 1 image (median call; Keras model(x))", onnx_1,
              "Keras", keras_1),
    ]

    ctx.log("neural: batch predict_file from .npy")
    in_path = ctx.path(BATCH_INPUT)
    np.save(in_path, X_test)
    batch = predict_file(ae_path, in_path, ctx.path(AE_BATCH_OUTPUT))  # method: encode
    codes = np.load(ctx.path(AE_BATCH_OUTPUT), allow_pickle=False)
    ref = ae_rt.encode(X_test)
    ok = codes.shape == ref.shape and bool(np.allclose(codes, ref, rtol=1e-5, atol=1e-6))
    sec.check("batch predict_file (Autoencoder encode) equals in-memory", ok,
              f"{batch.rows:,} rows in {batch.chunks} chunk(s)")
    batch = predict_file(vae_path, in_path, ctx.path(VAE_BATCH_OUTPUT), method="score_samples")
    scores = np.load(ctx.path(VAE_BATCH_OUTPUT), allow_pickle=False)
    ref = vae_rt.score_samples(X_test)
    ok = scores.shape == ref.shape and bool(np.allclose(scores, ref, rtol=1e-5, atol=1e-9))
    sec.check("batch predict_file (VAE score_samples) equals in-memory", ok,
              f"{batch.rows:,} rows in {batch.chunks} chunk(s)")
    sec.files += [AE_FILE, AE_INT8_FILE, VAE_FILE, BATCH_INPUT, AE_BATCH_OUTPUT, VAE_BATCH_OUTPUT]

    if ctx.figures:
        from fastgen.demo._figures import plot_image_rows, plot_samples_grid

        idx = _examples(images.labels[te])
        rows = [("original", X_test[idx]), ("Autoencoder", ae_rt.reconstruct(X_test[idx])),
                ("VAE", vae_rt.reconstruct(X_test[idx]))]
        plot_image_rows(ctx.path(RECON_FIGURE), rows, images.image_shape,
                        "Held-out digits and their reconstructions (onnxruntime)")
        samples = vae_rt.generate(N_SAMPLES, seed=ctx.seed)
        plot_samples_grid(ctx.path(SAMPLES_FIGURE), samples, images.image_shape, 8,
                          f"VAE samples: generate({N_SAMPLES}, seed={ctx.seed})")
        sec.files += [RECON_FIGURE, SAMPLES_FIGURE]
    return sec
