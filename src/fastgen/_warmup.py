"""Compile fastgen's Numba kernels ahead of use (``fastgen warmup``, :func:`fastgen.warmup`).

A fresh installation compiles the HMM kernels on their first use (about 40 s).
:func:`warmup` does it now, into the kernel cache (see :mod:`fastgen._jit` for where it
lives), by running every estimator path that reaches a compiled kernel on tiny data:
the E-step of many short sequences (lane-wise), of sequences too long for the lanes
and of one long sequence (threaded over time, with its exact log-space fallback), the
Viterbi decoder in the same three shapes, the scaled and log implementations,
``GaussianHMM`` with every covariance type and with missing values,
``CategoricalHMM``, and the count-based Naive Bayes models on dense and sparse input.
A second run, or any later process, loads the kernels from the cache in about a second.

Build a container image with ``RUN fastgen warmup`` (and ``FASTGEN_CACHE_DIR`` pointing
at a folder the image's user can read) so that containers start warm.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["WarmupReport", "warmup"]


@dataclass
class WarmupReport:
    """What :func:`warmup` did.

    Attributes
    ----------
    cache_dir : Path or None
        Folder of the kernel cache (None: no writable folder, nothing is kept).
    seconds : float
        Wall time of the whole warm-up.
    compiled : int
        Kernel signatures compiled (0 when the cache was already warm).
    loaded : int
        Kernel signatures loaded from the cache.
    steps : list of (str, float)
        Each step's description and wall time in seconds.
    """

    cache_dir: Path | None
    seconds: float = 0.0
    compiled: int = 0
    loaded: int = 0
    steps: list[tuple[str, float]] = field(default_factory=list)


# --------------------------------------------------------------------------- HMM steps

#: sequence lengths reaching every E-step / Viterbi path with 3 states: 20-frame
#: sequences go lane-wise, the 3,000-frame one is too long for the lanes (length x
#: states > 8192), the 4,200-frame one is long (>= 4096 frames and a quarter of the data)
_LENGTHS = np.array([20] * 8 + [3000, 4200], dtype=np.int64)


def _gaussian_data(n_features: int = 2) -> np.ndarray:
    rng = np.random.default_rng(0)
    n = int(_LENGTHS.sum())
    centres = np.array([[-3.0] * n_features, [0.0] * n_features, [3.0] * n_features])
    return centres[np.arange(n) // 50 % 3] + rng.normal(size=(n, n_features))


def _use_hmm(model, X: np.ndarray, lengths: np.ndarray) -> None:
    """fit, score, predict (Viterbi), predict_proba and MAP decoding of ``model``."""
    model.fit(X, lengths)
    model.score(X, lengths)
    model.predict(X, lengths)
    model.predict_proba(X, lengths)
    model.decode(X, lengths, algorithm="map")


def _gaussian_step(covariance_type: str, implementation: str) -> Callable[[], None]:
    def run() -> None:
        from fastgen.hmm import GaussianHMM

        model = GaussianHMM(
            3, covariance_type=covariance_type, implementation=implementation, n_iter=2,
            random_state=0,
        )  # fmt: skip
        _use_hmm(model, _gaussian_data(), _LENGTHS)

    return run


def _missing_step() -> None:
    from fastgen.hmm import GaussianHMM

    X = _gaussian_data()
    X[::7, 0] = np.nan
    _use_hmm(GaussianHMM(3, allow_nan=True, n_iter=2, random_state=0), X, _LENGTHS)


def _exact_step() -> None:
    """A long sequence the scaled passes refuse: the exact log-space fallback."""
    from fastgen.hmm import GaussianHMM

    model = GaussianHMM(2, init_params="", params="", n_iter=1)
    model.startprob_ = np.array([0.5, 0.5])
    model.transmat_ = np.array([[1.0, 0.0], [0.5, 0.5]])  # a zero: no lower bound
    model.means_ = np.array([[0.0], [100.0]])  # the far state is flushed on every frame
    model.covars_ = np.array([[1.0], [1.0]])
    X = np.random.default_rng(0).normal(size=(4200, 1))
    model.score(X)
    model.predict_proba(X)


def _categorical_step() -> None:
    from fastgen.hmm import CategoricalHMM

    n = int(_LENGTHS.sum())
    X = (np.arange(n) // 40 % 4).reshape(-1, 1)
    _use_hmm(CategoricalHMM(3, n_iter=2, random_state=0), X, _LENGTHS)


# --------------------------------------------------------------------------- NB step


def _naive_bayes_step() -> None:
    import scipy.sparse as sp

    from fastgen.naive_bayes import BernoulliNB, CategoricalNB, ComplementNB, MultinomialNB

    rng = np.random.default_rng(0)
    X = rng.integers(0, 3, size=(40, 5))
    y = np.arange(40) % 3
    frozen = X.astype(np.float64)  # read-only arrays are a kernel signature of their own
    frozen.setflags(write=False)
    for cls in (MultinomialNB, ComplementNB, BernoulliNB):
        cls().fit(X, y).predict(X)
        cls().fit(sp.csr_matrix(X), y).predict(sp.csr_matrix(X))
    MultinomialNB().fit(frozen, y)
    CategoricalNB().fit(X, y).predict(X)
    frozen_int = X.astype(np.int64)
    frozen_int.setflags(write=False)
    CategoricalNB().fit(frozen_int, y)


#: (description, step) in order; the first step compiles most of the HMM kernels
STEPS: tuple[tuple[str, Callable[[], None]], ...] = (
    ("GaussianHMM diag: fit, score, predict, predict_proba, decode", _gaussian_step("diag", "log")),
    ("GaussianHMM diag, implementation='scaling'", _gaussian_step("diag", "scaling")),
    ("GaussianHMM spherical", _gaussian_step("spherical", "log")),
    ("GaussianHMM full", _gaussian_step("full", "log")),
    ("GaussianHMM tied", _gaussian_step("tied", "log")),
    ("GaussianHMM allow_nan (missing values)", _missing_step),
    ("GaussianHMM long sequence, exact log-space fallback", _exact_step),
    ("CategoricalHMM", _categorical_step),
    ("MultinomialNB, ComplementNB, BernoulliNB, CategoricalNB", _naive_bayes_step),
)


def warmup(progress: Callable[[str, float], None] | None = None) -> WarmupReport:
    """Compile (or load) every Numba kernel the estimators use, into the kernel cache.

    Runs each estimator path that reaches a compiled kernel on tiny data, so that
    later processes load the kernels from the cache instead of compiling them (the
    first ``GaussianHMM`` fit of a fresh process: about a second instead of 40).
    Nothing is printed (the one-time "compiling" notice included); the ``fastgen
    warmup`` command prints the report.

    Parameters
    ----------
    progress : callable, optional
        Called as ``progress(description, seconds)`` after each step.

    Returns
    -------
    WarmupReport
    """
    from fastgen import _jit
    from fastgen._kernels import _hmm

    _jit.silence_compile_notices()
    stats = _jit.compile_stats()
    compiled0, loaded0 = len(stats.compiled), stats.loaded
    report = WarmupReport(cache_dir=_jit.kernel_cache_dir(_hmm))
    t0 = time.perf_counter()
    with np.errstate(all="ignore"):
        for description, step in STEPS:
            t = time.perf_counter()
            step()
            seconds = time.perf_counter() - t
            report.steps.append((description, seconds))
            if progress is not None:
                progress(description, seconds)
    report.seconds = time.perf_counter() - t0
    report.compiled = len(stats.compiled) - compiled0
    report.loaded = stats.loaded - loaded0
    return report
