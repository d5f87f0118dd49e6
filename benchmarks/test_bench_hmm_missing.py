"""The cost of missing values (``allow_nan=True``) in every family that takes them.

Groups ``HMM.missing.<operation>[<model>-K4-many]``: one EM iteration and ``score``
of a K=4, 8-feature model on 2,000 sequences x 100 steps (small: 200 x 50), variant
``complete-data`` (no NaN: the dense kernels) against ``fastgen`` (the same frames with
10% of the entries NaN), timed in the same run; the report's speed-up column is
complete / NaN time.  Models: GaussianHMM full and tied (conditional Gaussian
marginals per missingness pattern), GMMHMM with 2 components per state, diag and full
(the same per component), VariationalGaussianHMM full and diag (missing entries as
mean-field latents).  Every model starts from the same explicit parameters
(``init_params=""``).  The NaN score is checked outside the timed call against a plain
per-frame reference (the marginal normal density of the observed coordinates, mixed
over components) on its first sequences.  No timing assertions.
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


N_MIX = 2
MODELS = ["gauss-full", "gauss-tied", "gmm2-diag", "gmm2-full", "vgauss-full", "vgauss-diag"]


def make_model(model: str, means: np.ndarray):
    hmm = import_fastgen("hmm")
    family, ct = model.split("-")
    kw = {"covariance_type": ct, "init_params": "", "n_iter": 1, "tol": -np.inf, "allow_nan": True}
    eye = np.eye(N_FEATURES)
    if family == "gmm2":
        m = hmm.GMMHMM(K, n_mix=N_MIX, **kw)
        m.weights_ = np.full((K, N_MIX), 1 / N_MIX)
        m.means_ = np.stack([means + 0.3, means - 0.3], axis=1)
        m.covars_ = (
            np.ones((K, N_MIX, N_FEATURES)) if ct == "diag" else np.tile(eye, (K, N_MIX, 1, 1))
        )
    elif family == "vgauss":
        m = hmm.VariationalGaussianHMM(K, **kw)
        m.startprob_prior_, m.startprob_posterior_ = np.full(K, 1 / K), np.full(K, 50.0)
        m.transmat_prior_ = np.full((K, K), 1 / K)
        m.transmat_posterior_ = (np.full((K, K), 0.1) + 0.6 * np.eye(K)) * 1000
        m.means_prior_, m.beta_prior_ = np.zeros((K, N_FEATURES)), np.ones(K)
        m.means_posterior_, m.beta_posterior_ = means + 0.3, np.full(K, 1000.0)
        m.dof_prior_, m.dof_posterior_ = np.full(K, float(N_FEATURES)), np.full(K, 1000.0)
        if ct == "diag":
            m.scale_prior_, m.scale_posterior_ = (
                np.full((K, N_FEATURES), 1e-3),
                np.full((K, N_FEATURES), 1000.0),
            )
        else:
            m.scale_prior_, m.scale_posterior_ = (
                np.tile(1e-3 * eye, (K, 1, 1)),
                np.tile(1000 * eye, (K, 1, 1)),
            )
        return m
    else:
        m = hmm.GaussianHMM(K, **kw)
        m.means_ = means + 0.3
        m.covars_ = eye if ct == "tied" else np.tile(eye, (K, 1, 1))
    m.startprob_ = np.full(K, 1 / K)
    m.transmat_ = np.full((K, K), 0.1) + 0.6 * np.eye(K)
    return m


def marginal_log_density(x: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> float:
    """The normal log-density of ``x``'s observed coordinates (0: none observed)."""
    o = ~np.isnan(x)
    if not o.any():
        return 0.0
    c = np.linalg.cholesky(cov[np.ix_(o, o)])
    y = np.linalg.solve(c, x[o] - mean[o])
    return -0.5 * (o.sum() * np.log(2 * np.pi) + 2 * np.log(np.diag(c)).sum() + y @ y)


def frame_log_likelihood(m, x: np.ndarray) -> np.ndarray:
    """Per state: the observed coordinates' log-density (GMM: mixed over components)."""
    if not hasattr(m, "n_mix"):
        return np.array([marginal_log_density(x, m.means_[k], m.covars_[k]) for k in range(K)])
    out = np.empty(K)
    for k in range(K):
        comp = []
        for i in range(m.n_mix):
            cv = m.covars_[k, i]
            cv = np.diag(cv) if cv.ndim == 1 else cv
            comp.append(np.log(m.weights_[k, i]) + marginal_log_density(x, m.means_[k, i], cv))
        top = max(comp)
        out[k] = top + np.log(np.exp(np.array(comp) - top).sum())
    return out


def reference_score(m, X: np.ndarray, lengths: np.ndarray) -> float:
    """Per-frame marginal densities, then a plain scaled forward pass per sequence."""
    out, start = 0.0, 0
    for n in lengths:
        alpha = None
        for x in X[start : start + n]:
            ll = frame_log_likelihood(m, x)
            e = np.exp(ll - ll.max())
            alpha = m.startprob_ * e if alpha is None else (alpha @ m.transmat_) * e
            out += np.log(alpha.sum()) + ll.max()
            alpha /= alpha.sum()
        start += n
    return out


@pytest.mark.parametrize("op", OPERATIONS)
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("variant", VARIANTS, ids=[v.id for v in VARIANTS])
def test_hmm_missing(benchmark, variant, model, op, size, reference):
    means, X, holes, lengths = get_data(size, reference)
    data = holes if variant is NAN10 else X
    m = make_model(model, means)
    if op == "em_step":  # fit changes the model: every round starts from a fresh one
        fn = lambda: make_model(model, means).fit(data, lengths)  # noqa: E731
    else:
        fn = lambda: m.score(data, lengths)  # noqa: E731
    result = run_benchmark(
        benchmark, fn, group=f"HMM.missing.{op}[{model}-K{K}-many]", variant=variant,
        size=size, n_docs=len(data), corpus_mb=data.nbytes / 1e6, n_sequences=len(lengths),
        model=f"{model}-K{K}", missing=MISSING if variant is NAN10 else 0.0,
    )  # fmt: skip
    if op == "score" and variant is NAN10:
        n_check = 3
        head = int(lengths[:n_check].sum())
        got = m.score(holes[:head], lengths[:n_check])
        assert_close(got, reference_score(m, holes[:head], lengths[:n_check]), rtol=1e-9)
        assert np.isfinite(result)
    elif op == "em_step":
        assert np.all(np.isfinite(result.covars_))
