"""GaussianHMM(allow_nan=True), full and tied covariances: the cost of missing values.

Groups ``HMM.missing.<operation>[gauss-<covariance>-K4-many]``: one EM iteration and
``score`` of a K=4, 8-feature model on 2,000 sequences x 100 steps (small: 200 x 50),
variant ``complete-data`` (no NaN: the dense kernels) against ``fastgen`` (the same
frames with 10% of the entries NaN: conditional Gaussian marginals per missingness
pattern), timed in the same run; the report's speed-up column is complete / NaN time.
Both start from the same explicit parameters (``init_params=""``).  The NaN score is
checked outside the timed call against a plain per-frame reference (the marginal
normal density of the observed coordinates) on its first sequences.  No timing
assertions.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.conftest import SEED, Variant, assert_close, cached, import_fastgen, run_benchmark

COMPLETE = Variant("complete-data")  # the baseline (the report's incumbent column)
NAN10 = Variant("fastgen")  # 10% NaN; the report's "speed-up" is then 1 / the cost factor
VARIANTS = [COMPLETE, NAN10]
K, N_FEATURES, MISSING = 4, 8, 0.10
OPERATIONS = ["em_step", "score"]


def get_data(size, cache: dict):
    def make():
        n_seq, steps = (200, 50) if size.name == "small" else (2000, 100)
        rng = np.random.RandomState(SEED)
        means = rng.randn(K, N_FEATURES) * 3
        z = rng.randint(K, size=n_seq * steps)
        X = means[z] + rng.randn(n_seq * steps, N_FEATURES)
        holes = X.copy()
        holes[rng.rand(*X.shape) < MISSING] = np.nan
        return means, X, holes, np.full(n_seq, steps)

    return cached(cache, ("hmm-missing", size.name), make)


def make_model(ct: str, means: np.ndarray):
    hmm = import_fastgen("hmm")
    m = hmm.GaussianHMM(
        K, covariance_type=ct, init_params="", n_iter=1, tol=-np.inf, allow_nan=True
    )
    m.startprob_ = np.full(K, 1 / K)
    m.transmat_ = np.full((K, K), 0.1) + 0.6 * np.eye(K)
    m.means_ = means + 0.3
    m.covars_ = np.eye(N_FEATURES) if ct == "tied" else np.tile(np.eye(N_FEATURES), (K, 1, 1))
    return m


def reference_score(m, X: np.ndarray, lengths: np.ndarray) -> float:
    """Per-frame marginal densities (Cholesky of each frame's observed block), then a
    plain scaled forward pass per sequence."""
    cv = m.covars_
    out, start = 0.0, 0
    for n in lengths:
        alpha = None
        for x in X[start : start + n]:
            o = ~np.isnan(x)
            ll = np.zeros(K)
            for k in range(K):
                if o.any():
                    c = np.linalg.cholesky(cv[k][np.ix_(o, o)])
                    y = np.linalg.solve(c, x[o] - m.means_[k, o])
                    ll[k] = -0.5 * (o.sum() * np.log(2 * np.pi) + 2 * np.log(np.diag(c)).sum())
                    ll[k] -= 0.5 * y @ y
            e = np.exp(ll - ll.max())
            alpha = m.startprob_ * e if alpha is None else (alpha @ m.transmat_) * e
            out += np.log(alpha.sum()) + ll.max()
            alpha /= alpha.sum()
        start += n
    return out


@pytest.mark.parametrize("op", OPERATIONS)
@pytest.mark.parametrize("ct", ["full", "tied"])
@pytest.mark.parametrize("variant", VARIANTS, ids=[v.id for v in VARIANTS])
def test_hmm_missing(benchmark, variant, ct, op, size, reference):
    means, X, holes, lengths = get_data(size, reference)
    data = holes if variant is NAN10 else X
    m = make_model(ct, means)
    if op == "em_step":  # fit changes the model: every round starts from a fresh one
        fn = lambda: make_model(ct, means).fit(data, lengths)  # noqa: E731
    else:
        fn = lambda: m.score(data, lengths)  # noqa: E731
    result = run_benchmark(
        benchmark, fn, group=f"HMM.missing.{op}[gauss-{ct}-K{K}-many]", variant=variant,
        size=size, n_docs=len(data), corpus_mb=data.nbytes / 1e6, n_sequences=len(lengths),
        model=f"gauss-{ct}-K{K}", missing=MISSING if variant is NAN10 else 0.0,
    )  # fmt: skip
    if op == "score" and variant is NAN10:
        n_check = 3
        head = int(lengths[:n_check].sum())
        got = m.score(holes[:head], lengths[:n_check])
        assert_close(got, reference_score(m, holes[:head], lengths[:n_check]), rtol=1e-9)
        assert np.isfinite(result)
    elif op == "em_step":
        assert np.all(np.isfinite(result.covars_))
