"""fastgen.hmm random restarts (``fit`` with ``n_init=4`` against ``n_init=1``) and the
default fit, k-means start included, against hmmlearn.

Groups: ``HMM.fit_n_init[<model>-many]`` with variants ``n_init=1`` (one fit, the
baseline) and ``fastgen`` (``n_init=4``: four fits side by side on the kernels' threads,
the best kept), timed in the same run; the ``n_init=4`` entry records
``ratio_to_n_init_1`` (the issue's target: at most 2.5 on 2 cores).  Models:
GaussianHMM diag, 8 features, K=6 (its ``fit`` starts with k-means, which dominates
the time) and CategoricalHMM, 8 states, 20 symbols (random start: EM only).  Data:
3,000 sequences x 100 steps (small: 200 x 50) drawn from a K-state chain, ``n_iter=10``
with ``tol=-inf``.  The best restart's objective is checked against the restarts'.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.conftest import SEED, Variant, import_fastgen, run_benchmark

BASELINE = Variant("n_init=1")
RESTARTS = Variant("fastgen")
N_INIT = 4
N_ITER = 10
MODELS = {"gauss-diag-K6": 6, "categorical-K8": 8}
_BASELINE_MEAN: dict[str, float] = {}


def make_data(model: str, size) -> tuple[np.ndarray, np.ndarray]:
    n_seq, length = (3_000, 100) if size.name == "full" else (200, 50)
    k = MODELS[model]
    rng = np.random.default_rng(SEED)
    trans = np.full((k, k), 0.1 / (k - 1))
    np.fill_diagonal(trans, 0.9)
    cdf = np.cumsum(trans, axis=1)
    states = np.empty((n_seq, length), dtype=np.int64)
    states[:, 0] = rng.integers(k, size=n_seq)
    u = rng.random((n_seq, length))
    for t in range(1, length):
        states[:, t] = np.minimum((u[:, t, None] > cdf[states[:, t - 1]]).sum(axis=1), k - 1)
    states = states.ravel()
    if model.startswith("gauss"):
        X = rng.normal(scale=3.0, size=(k, 8))[states] + rng.normal(size=(states.size, 8))
    else:
        X = (2 * states + rng.integers(0, 5, size=states.size))[:, None] % 20
    return X, np.full(n_seq, length)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("variant", [BASELINE, RESTARTS], ids=["n_init=1", "n_init=4"])
def test_hmm_fit_n_init(benchmark, variant, model, size):
    hmm = import_fastgen("hmm")
    X, lengths = make_data(model, size)
    n_init = 1 if variant is BASELINE else N_INIT
    cls = hmm.GaussianHMM if model.startswith("gauss") else hmm.CategoricalHMM
    make = lambda: cls(MODELS[model], n_iter=N_ITER, tol=-np.inf, random_state=0, n_init=n_init)  # noqa: E731
    fitted = run_benchmark(
        benchmark, lambda: make().fit(X, lengths), group=f"HMM.fit_n_init[{model}-many]",
        variant=variant, size=size, n_docs=len(lengths), corpus_mb=X.nbytes / 1e6,
        n_init=n_init, n_frames=int(lengths.sum()),
    )  # fmt: skip
    assert fitted.restart_objectives_.shape == (n_init,)
    assert fitted.monitor_.history[-1] == fitted.restart_objectives_.max()
    stats = getattr(getattr(benchmark, "stats", None), "stats", None)
    mean = getattr(stats, "mean", None)
    if mean and variant is BASELINE:
        _BASELINE_MEAN[model] = mean
    elif mean and model in _BASELINE_MEAN:
        benchmark.extra_info["ratio_to_n_init_1"] = round(mean / _BASELINE_MEAN[model], 3)


# --------------------------------------------------------------------------- default fit

HMMLEARN = Variant("hmmlearn")


@pytest.mark.parametrize("variant", [HMMLEARN, RESTARTS], ids=["hmmlearn", "fastgen"])
def test_hmm_fit_default_init(benchmark, variant, size):
    """``GaussianHMM(6, n_iter=10).fit(X, lengths)`` as users call it: the default
    ``init_params``, so k-means (scikit-learn's for hmmlearn, fastgen's compiled Lloyd
    steps) starts the fit; group ``HMM.fit_default_init[gauss-diag-K6-many]``.  Both
    reach the same log-likelihood on these well-separated states."""
    mod = pytest.importorskip("hmmlearn.hmm") if variant is HMMLEARN else import_fastgen("hmm")
    X, lengths = make_data("gauss-diag-K6", size)
    make = lambda: mod.GaussianHMM(6, n_iter=N_ITER, tol=-np.inf, random_state=0)  # noqa: E731
    fitted = run_benchmark(
        benchmark, lambda: make().fit(X, lengths), group="HMM.fit_default_init[gauss-diag-K6-many]",
        variant=variant, size=size, n_docs=len(lengths), corpus_mb=X.nbytes / 1e6,
        n_frames=int(lengths.sum()),
    )  # fmt: skip
    if variant is RESTARTS:
        hl = pytest.importorskip("hmmlearn.hmm")
        ref = hl.GaussianHMM(6, n_iter=N_ITER, tol=-np.inf, random_state=0).fit(X, lengths)
        got, want = fitted.score(X, lengths), ref.score(X, lengths)
        assert got >= want - 1e-6 * abs(want)
