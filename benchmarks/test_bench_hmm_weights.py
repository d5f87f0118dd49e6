"""fastgen.hmm: weighted and semi-supervised fits against the plain fit.

Group ``HMM.fit_weighted[gauss-diag-K8-many]``: GaussianHMM (diag, 8 states, 8
features) fitted by 5 EM iterations from the same explicit parameters
(``init_params=""``) on ``many`` (5,000 sequences x 100 steps; small: 200 x 50), as
``fastgen-unweighted`` (the baseline), ``fastgen-sequence-weights`` (one weight per
sequence), ``fastgen-frame-weights`` (one per frame) and ``fastgen-labelled-10pct``
(``states`` with every tenth frame labelled).  The weights reach the E-step kernels as
frame weights of the accumulated statistics and the labels as clamped emissions, so all
four should cost about the same.  No timing assertions; each result is checked to be a
finite fit, and unit weights against the plain fit.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.conftest import SEED, Variant, cached, import_fastgen, run_benchmark

K, N_FEATURES, N_ITER = 8, 8, 5
MODES = ["unweighted", "sequence-weights", "frame-weights", "labelled-10pct"]
VARIANTS = [Variant(f"fastgen-{mode}") for mode in MODES]


def _shape(size) -> tuple[int, int]:
    return (5_000, 100) if size.name == "full" else (200, 50)


def _params() -> dict:
    rng = np.random.RandomState(SEED + K)
    trans = rng.dirichlet(np.ones(K), size=K) + 4 * np.eye(K)
    return {
        "startprob_": rng.dirichlet(np.ones(K)),
        "transmat_": trans / trans.sum(axis=1, keepdims=True),
        "means_": rng.randn(K, N_FEATURES) * 2,
        "covars_": rng.rand(K, N_FEATURES) + 0.5,
    }


def _data(size) -> dict:
    n_seq, n_steps = _shape(size)
    n = n_seq * n_steps
    rng = np.random.RandomState(SEED)
    runs = rng.geometric(0.1, size=n // 2 + 1)
    states = np.repeat(rng.randint(K, size=len(runs)), runs)[:n]
    X = _params()["means_"][states] + rng.randn(n, N_FEATURES)
    labels = np.full(n, -1)
    labels[::10] = states[::10]
    return {
        "X": np.ascontiguousarray(X),
        "lengths": np.full(n_seq, n_steps),
        "sequence_weights": rng.randint(1, 4, n_seq).astype(float),
        "frame_weights": rng.uniform(0.5, 2.0, n),
        "states": labels,
    }


def _model():
    m = import_fastgen("hmm").GaussianHMM(
        K, covariance_type="diag", init_params="", n_iter=N_ITER, tol=-np.inf
    )
    for name, value in _params().items():
        setattr(m, name, value.copy())
    return m


def _fit(mode: str, d: dict):
    kw = {
        "unweighted": {},
        "sequence-weights": {"sample_weight": d["sequence_weights"]},
        "frame-weights": {"sample_weight": d["frame_weights"]},
        "labelled-10pct": {"states": d["states"]},
    }[mode]
    return _model().fit(d["X"], d["lengths"], **kw)


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.id for v in VARIANTS])
def test_hmm_fit_weighted(benchmark, variant, size, reference):
    d = cached(reference, ("hmm-weights-data", size.name), lambda: _data(size))
    mode = variant.impl.removeprefix("fastgen-")
    _model()  # skips early when fastgen.hmm is missing
    m = run_benchmark(
        benchmark,
        lambda: _fit(mode, d),
        group="HMM.fit_weighted[gauss-diag-K8-many]",
        variant=variant,
        size=size,
        n_docs=len(d["X"]),
        corpus_mb=d["X"].nbytes / 1e6,
        n_sequences=len(d["lengths"]),
        n_iter=N_ITER,
    )
    assert np.isfinite(m.means_).all() and np.isfinite(list(m.monitor_.history)).all()
    if mode == "unweighted":
        ones = _model().fit(d["X"], d["lengths"], sample_weight=np.ones(len(d["lengths"])))
        assert np.array_equal(ones.means_, m.means_)
