"""HMM partial_fit (stepwise EM over chunks) vs fit (batch EM) on the same data.

Group ``HMM.partial_fit_pass[gauss-diag-K8]``: GaussianHMM, diag, K=8, 8 features;
chunks of 500 sequences x 100 frames, 10 chunks (500,000 frames; small: 2 chunks of
50 x 50).  Variants, timed in the same run from the same explicit parameters
(``init_params=""``):

* ``fit`` (the incumbent): one batch EM iteration over all the chunks' frames
  (``n_iter=1``);
* ``fastgen``: one pass of ``partial_fit`` over the chunks (an E-step and an M-step
  per chunk).

``docs_per_s`` is frames per second.  Outside the timing, the ``fastgen`` variant
records the log-likelihood per frame of all the data after ``N_PASSES`` passes of
``partial_fit`` and after ``N_PASSES`` iterations of ``fit`` (``loglik_partial_fit``,
``loglik_fit``; the starting parameters' is ``loglik_start``).  No timing or
quality assertions: the two need not agree after a few passes (stepwise EM moves
faster early on, per pass, and then settles with its decreasing steps).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from benchmarks.conftest import SEED, Variant, import_fastgen, run_benchmark

BATCH = Variant("fit")
ONLINE = Variant("fastgen")
K, N_FEATURES = 8, 8
N_PASSES = 5


def chunk_shape(size) -> tuple[int, int, int]:
    """(chunks, sequences per chunk, frames per sequence)."""
    return (10, 500, 100) if size.name == "full" else (2, 50, 50)


_DATA: dict = {}


def get_data(size) -> tuple[np.ndarray, np.ndarray, int]:
    if size.name not in _DATA:
        n_chunks, n_seq, n_steps = chunk_shape(size)
        n = n_chunks * n_seq * n_steps
        rng = np.random.RandomState(SEED)
        runs = rng.geometric(0.1, size=n // 2 + 1)
        states = np.repeat(rng.randint(K, size=len(runs)), runs)[:n]
        X = rng.randn(K, N_FEATURES)[states] * 2 + rng.randn(n, N_FEATURES)
        _DATA[size.name] = (np.ascontiguousarray(X), np.full(n_chunks * n_seq, n_steps), n_chunks)
    return _DATA[size.name]


def start_model(hmm, n_iter: int = 1):
    """Explicit starting parameters: random means, unit variances, a sticky chain."""
    rng = np.random.RandomState(SEED + 1)
    m = hmm.GaussianHMM(K, covariance_type="diag", init_params="", n_iter=n_iter, tol=-np.inf)
    m.startprob_ = np.full(K, 1 / K)
    m.transmat_ = np.full((K, K), 0.2 / K) + 0.8 * np.eye(K)
    m.means_ = rng.randn(K, N_FEATURES) * 2
    m.covars_ = np.ones((K, N_FEATURES))
    return m


def chunks(X: np.ndarray, lengths: np.ndarray, n_chunks: int):
    per = len(lengths) // n_chunks
    frames = per * int(lengths[0])
    return [(X[i * frames : (i + 1) * frames], lengths[i * per : (i + 1) * per])
            for i in range(n_chunks)]  # fmt: skip


def one_pass(model, parts):
    for X, lengths in parts:
        model.partial_fit(X, lengths)
    return model


@pytest.mark.parametrize("variant", [BATCH, ONLINE], ids=[BATCH.id, ONLINE.id])
def test_hmm_partial_fit(benchmark, variant, size):
    hmm = import_fastgen("hmm")
    X, lengths, n_chunks = get_data(size)
    parts = chunks(X, lengths, n_chunks)
    start = start_model(hmm)
    if variant is BATCH:
        fn = lambda: copy.deepcopy(start).fit(X, lengths)  # noqa: E731
    else:
        fn = lambda: one_pass(copy.deepcopy(start), parts)  # noqa: E731
    run_benchmark(
        benchmark, fn, group="HMM.partial_fit_pass[gauss-diag-K8]", variant=variant, size=size,
        n_docs=len(X), corpus_mb=X.nbytes / 1e6, n_sequences=len(lengths), n_chunks=n_chunks,
        model="gauss-diag-K8",
    )  # fmt: skip
    if variant is ONLINE:  # quality, untimed: N passes vs N batch iterations
        online = copy.deepcopy(start)
        for _ in range(N_PASSES):
            one_pass(online, parts)
        batch = start_model(hmm, n_iter=N_PASSES).fit(X, lengths)
        benchmark.extra_info.update(
            n_passes=N_PASSES,
            loglik_start=round(start.score(X, lengths) / len(X), 6),
            loglik_partial_fit=round(online.score(X, lengths) / len(X), 6),
            loglik_fit=round(batch.score(X, lengths) / len(X), 6),
        )
