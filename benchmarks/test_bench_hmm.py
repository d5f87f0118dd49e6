"""fastgen.hmm vs hmmlearn: one EM iteration, predict, score and predict_proba.

Groups: ``<operation>[<model>-<data>]`` with an ``hmmlearn`` and a ``fastgen`` variant,
timed in the same run.  Models: GaussianHMM with 8 features, K in {4, 16}, diag and
full covariances, GMMHMM with 8 features, K=8, n_mix=4, diag and full covariances,
CategoricalHMM with 8 states and 20 symbols, and (EM iteration only, ``many`` only)
MultinomialHMM with 8 states, 8 features and 20 trials per frame; ``vb_em_step``: one
variational EM iteration of VariationalCategoricalHMM (8 symbols) and
VariationalGaussianHMM (8 features, diag), K=8, on ``many``.  Data: ``many`` (5,000
sequences x 100 steps; small: 200 x 50) and ``long`` (one 200,000-step sequence;
small: 5,000), ``many`` only for the categorical and GMM models.

Both sides start from the same explicit parameters (``init_params=""``) and EM runs
one iteration (``n_iter=1, tol=-inf``); each fastgen result is checked against
hmmlearn's outside the timed call.  No timing assertions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from benchmarks.conftest import (
    SEED,
    Variant,
    assert_close,
    cached,
    import_fastgen,
    run_benchmark,
)

hmmlearn_hmm = pytest.importorskip("hmmlearn.hmm")

HMMLEARN = Variant("hmmlearn")
FASTGEN = Variant("fastgen")
VARIANTS = [HMMLEARN, FASTGEN]
N_FEATURES = 8
N_SYMBOLS = 20
N_TRIALS = 20  # MultinomialHMM: draws per frame
N_MIX = 4

MODELS = {
    "gauss-diag-K4": ("gaussian", "diag", 4),
    "gauss-diag-K16": ("gaussian", "diag", 16),
    "gauss-full-K4": ("gaussian", "full", 4),
    "gauss-full-K16": ("gaussian", "full", 16),
    "categorical-K8": ("categorical", None, 8),
    "multinomial-K8": ("multinomial", None, 8),
    "gmm-diag-K8M4": ("gmm", "diag", 8),
    "gmm-full-K8M4": ("gmm", "full", 8),
}
CASES = [
    (m, d)
    for m in MODELS
    for d in ("many", "long")
    if not (MODELS[m][0] in ("categorical", "gmm") and d == "long")
    and MODELS[m][0] != "multinomial"
]
#: MultinomialHMM: the EM iteration (hmmlearn's scipy log-pmf per state makes its
#: inference operations as slow as its E-step, so one group tells the story)
MULTINOMIAL_CASES = [("multinomial-K8", "many")]
OPERATIONS = ["em_step", "predict", "score", "predict_proba"]


@dataclass
class HMMData:
    X: np.ndarray
    lengths: np.ndarray

    @property
    def n_samples(self) -> int:
        return int(self.lengths.sum())


def shapes(size) -> dict[str, tuple[int, int]]:
    if size.name == "full":
        return {"many": (5_000, 100), "long": (1, 200_000)}
    return {"many": (200, 50), "long": (1, 5_000)}


def make_params(model: str) -> dict:
    kind, ct, k = MODELS[model]
    rng = np.random.RandomState(SEED + k)
    trans = rng.dirichlet(np.ones(k), size=k) + 4 * np.eye(k)
    params = {
        "startprob_": rng.dirichlet(np.ones(k)),
        "transmat_": trans / trans.sum(axis=1, keepdims=True),
    }
    if kind == "categorical":
        params["emissionprob_"] = rng.dirichlet(np.ones(N_SYMBOLS) * 0.5, size=k)
        return params
    if kind == "multinomial":
        params["emissionprob_"] = rng.dirichlet(np.ones(N_FEATURES), size=k)
        return params
    if kind == "gmm":
        params["weights_"] = rng.dirichlet(np.ones(N_MIX) * 2, size=k)
        params["means_"] = rng.randn(k, N_MIX, N_FEATURES) * 2
        if ct == "diag":
            params["covars_"] = rng.rand(k, N_MIX, N_FEATURES) + 0.5
        else:
            a = rng.randn(k, N_MIX, N_FEATURES, N_FEATURES) * 0.3
            params["covars_"] = a @ np.swapaxes(a, -1, -2) + np.eye(N_FEATURES)
        return params
    params["means_"] = rng.randn(k, N_FEATURES) * 2
    if ct == "diag":
        params["covars_"] = rng.rand(k, N_FEATURES) + 0.5
    else:
        a = rng.randn(k, N_FEATURES, N_FEATURES) * 0.3
        params["covars_"] = a @ a.transpose(0, 2, 1) + np.eye(N_FEATURES)
    return params


def make_data(model: str, data: str, size) -> HMMData:
    kind, _, k = MODELS[model]
    n_seq, n_steps = shapes(size)[data]
    n = n_seq * n_steps
    rng = np.random.RandomState(SEED)
    # piecewise-constant hidden states: runs of random length
    runs = rng.geometric(0.1, size=n // 2 + 1)
    states = np.repeat(rng.randint(k, size=len(runs)), runs)[:n]
    if kind == "categorical":
        em = make_params(model)["emissionprob_"]
        cdf = np.cumsum(em, axis=1)[states]
        X = (cdf < rng.rand(n, 1)).sum(axis=1, keepdims=True).clip(0, N_SYMBOLS - 1)
    elif kind == "multinomial":  # N_TRIALS categorical draws per frame, counted
        cdf = np.cumsum(make_params(model)["emissionprob_"], axis=1)[states]
        X = np.zeros((n, N_FEATURES), dtype=np.int64)
        for _ in range(N_TRIALS):
            symbols = (cdf < rng.rand(n, 1)).sum(axis=1).clip(0, N_FEATURES - 1)
            X[np.arange(n), symbols] += 1
    elif kind == "gmm":  # a random mixture component of each frame's state
        means = make_params(model)["means_"]
        X = means[states, rng.randint(N_MIX, size=n)] + rng.randn(n, N_FEATURES)
    else:
        X = make_params(model)["means_"][states] + rng.randn(n, N_FEATURES)
    return HMMData(np.ascontiguousarray(X), np.full(n_seq, n_steps))


_DATA: dict = {}


def get_data(model: str, data: str, size) -> HMMData:
    key = (model, data, size.name)
    if key not in _DATA:
        _DATA[key] = make_data(model, data, size)
    return _DATA[key]


def make_model(variant: Variant, model: str):
    kind, ct, k = MODELS[model]
    mod = import_fastgen("hmm") if variant.is_fastgen else hmmlearn_hmm
    if kind == "categorical":
        m = mod.CategoricalHMM(k, init_params="", n_iter=1, tol=-np.inf)
    elif kind == "multinomial":
        m = mod.MultinomialHMM(k, n_trials=N_TRIALS, init_params="", n_iter=1, tol=-np.inf)
    elif kind == "gmm":
        m = mod.GMMHMM(k, n_mix=N_MIX, covariance_type=ct, init_params="", n_iter=1, tol=-np.inf)
    else:
        m = mod.GaussianHMM(k, covariance_type=ct, init_params="", n_iter=1, tol=-np.inf)
    for name, value in make_params(model).items():
        setattr(m, name, value.copy())
    return m


def fitted_params(m) -> dict:
    names = ["startprob_", "transmat_", "emissionprob_", "weights_", "means_", "covars_"]
    return {n: np.array(getattr(m, n)) for n in names if hasattr(m, n)}


def run_operation(m, op: str, d: HMMData):
    if op == "em_step":
        return fitted_params(m.fit(d.X, d.lengths))
    return getattr(m, op)(d.X, d.lengths)


def check(op: str, result, expected) -> None:
    if op == "em_step":
        assert result.keys() == expected.keys()
        for name in result:
            assert_close(result[name], expected[name], rtol=1e-6, atol=1e-12)
    elif op == "predict":
        assert np.array_equal(result, expected)
    elif op == "score":
        assert_close(result, expected, rtol=1e-8, atol=0)
    else:
        assert_close(result, expected, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("op", OPERATIONS)
@pytest.mark.parametrize("model,data", CASES, ids=[f"{m}-{d}" for m, d in CASES])
@pytest.mark.parametrize("variant", VARIANTS, ids=[v.id for v in VARIANTS])
def test_hmm(benchmark, variant, model, data, op, size, reference):
    bench_operation(benchmark, variant, model, data, op, size, reference)


def bench_operation(benchmark, variant, model, data, op, size, reference) -> None:
    """Time ``op`` of ``variant`` on ``model``/``data``; check fastgen against hmmlearn."""
    d = get_data(model, data, size)
    m = make_model(variant, model)  # untimed; also skips early if fastgen.hmm is missing
    if op == "em_step":  # fit changes the model: every round starts from a fresh one
        fn = lambda: run_operation(make_model(variant, model), op, d)  # noqa: E731
    else:
        fn = lambda: run_operation(m, op, d)  # noqa: E731
    result = run_benchmark(
        benchmark,
        fn,
        group=f"HMM.{op}[{model}-{data}]",
        variant=variant,
        size=size,
        n_docs=d.n_samples,
        corpus_mb=d.X.nbytes / 1e6,
        n_sequences=len(d.lengths),
        model=model,
    )
    key = ("hmm", op, model, data, size.name)
    if variant.is_fastgen:
        expected = cached(reference, key, lambda: run_operation(make_model(HMMLEARN, model), op, d))
        check(op, result, expected)
    else:
        reference.setdefault(key, result)


@pytest.mark.parametrize("model,data", MULTINOMIAL_CASES, ids=[f"{m}-{d}" for m, d in
                                                                MULTINOMIAL_CASES])
@pytest.mark.parametrize("variant", VARIANTS, ids=[v.id for v in VARIANTS])
def test_hmm_multinomial(benchmark, variant, model, data, size, reference):
    """One EM iteration of MultinomialHMM (8 states, 8 features, 20 trials per frame)."""
    bench_operation(benchmark, variant, model, data, "em_step", size, reference)


# --------------------------------------------------------------------------- demo size

#: the demo's HMM size: one 5,000-step sequence of one feature, three states (diag)
DEMO_STEPS, DEMO_STATES = 5_000, 3


def make_demo(variant: Variant):
    """A 3-state diag GaussianHMM with fixed parameters and its one-sequence data."""
    mod = import_fastgen("hmm") if variant.is_fastgen else hmmlearn_hmm
    rng = np.random.RandomState(SEED)
    states = np.repeat(rng.randint(DEMO_STATES, size=DEMO_STEPS // 50 + 1), 50)[:DEMO_STEPS]
    X = rng.randn(DEMO_STEPS, 1) * (0.5 + states[:, None])
    m = mod.GaussianHMM(DEMO_STATES, covariance_type="diag", init_params="", n_iter=1,
                        tol=-np.inf)
    m.startprob_ = np.full(DEMO_STATES, 1 / DEMO_STATES)
    m.transmat_ = np.full((DEMO_STATES, DEMO_STATES), 0.05) + 0.85 * np.eye(DEMO_STATES)
    m.means_ = np.zeros((DEMO_STATES, 1))
    m.covars_ = np.array([[0.25], [2.0], [6.0]])
    return m, HMMData(X, np.array([DEMO_STEPS]))


@pytest.mark.parametrize("op", OPERATIONS)
@pytest.mark.parametrize("variant", VARIANTS, ids=[v.id for v in VARIANTS])
def test_hmm_demo_size(benchmark, variant, op, size, reference):
    """Per-call cost at the demo's size (one 5,000-step sequence, K=3, one feature), where
    the fixed cost of a call weighs as much as the kernels; same sizes at every
    FASTGEN_BENCH_SIZE."""
    m, d = make_demo(variant)
    if op == "em_step":
        fn = lambda: run_operation(make_demo(variant)[0], op, d)  # noqa: E731
    else:
        fn = lambda: run_operation(m, op, d)  # noqa: E731
    result = run_benchmark(
        benchmark, fn, group=f"HMM.{op}[demo-size]", variant=variant, size=size,
        n_docs=d.n_samples, corpus_mb=d.X.nbytes / 1e6, n_sequences=1, model="gauss-diag-K3",
        rounds=None if op == "em_step" else max(size.rounds, 50),
    )  # fmt: skip
    key = ("hmm", op, "demo", size.name)
    if variant.is_fastgen:
        expected = cached(reference, key, lambda: run_operation(make_demo(HMMLEARN)[0], op, d))
        check(op, result, expected)
    else:
        reference.setdefault(key, result)


# --------------------------------------------------------------------------- variational

hmmlearn_vhmm = pytest.importorskip("hmmlearn.vhmm")

#: variational models: one VB-EM iteration on ``many`` (5,000 x 100; small: 200 x 50),
#: K=8, categorical with 8 symbols, Gaussian with 8 features (diag)
VARIATIONAL = {"vcategorical-K8": "categorical", "vgauss-diag-K8": "diag"}
V_STATES, V_SYMBOLS = 8, 8


def make_variational_data(model: str, size) -> HMMData:
    n_seq, n_steps = shapes(size)["many"]
    n = n_seq * n_steps
    rng = np.random.RandomState(SEED)
    runs = rng.geometric(0.1, size=n // 2 + 1)
    states = np.repeat(rng.randint(V_STATES, size=len(runs)), runs)[:n]
    if VARIATIONAL[model] == "categorical":
        table = np.cumsum(rng.dirichlet(np.ones(V_SYMBOLS) * 0.5, size=V_STATES), axis=1)
        X = (table[states] < rng.rand(n, 1)).sum(axis=1, keepdims=True).clip(0, V_SYMBOLS - 1)
    else:
        X = rng.randn(V_STATES, N_FEATURES)[states] * 2 + rng.randn(n, N_FEATURES)
    return HMMData(np.ascontiguousarray(X), np.full(n_seq, n_steps))


def make_variational_model(variant: Variant, model: str, n: int):
    """Explicit priors and posteriors (``init_params=""``), scaled to ``n`` frames."""
    k = V_STATES
    rng = np.random.RandomState(SEED + 1)
    post = {
        "startprob_prior_": np.full(k, 1 / k),
        "startprob_posterior_": rng.dirichlet(np.ones(k)) * 50,
        "transmat_prior_": np.full((k, k), 1 / k),
        "transmat_posterior_": (rng.dirichlet(np.ones(k), size=k) + 4 * np.eye(k)) * n / k,
    }
    mod = import_fastgen("hmm") if variant.is_fastgen else hmmlearn_vhmm
    if VARIATIONAL[model] == "categorical":
        m = mod.VariationalCategoricalHMM(k, n_features=V_SYMBOLS, init_params="", n_iter=1,
                                          tol=-np.inf)  # fmt: skip
        post["emissionprob_prior_"] = np.full((k, V_SYMBOLS), 1 / V_SYMBOLS)
        post["emissionprob_posterior_"] = rng.dirichlet(np.ones(V_SYMBOLS), size=k) * n / k
    else:
        m = mod.VariationalGaussianHMM(k, covariance_type="diag", init_params="", n_iter=1,
                                       tol=-np.inf)  # fmt: skip
        dof = np.full(k, n / k)
        post.update(
            means_prior_=np.zeros((k, N_FEATURES)), means_posterior_=rng.randn(k, N_FEATURES) * 2,
            beta_prior_=np.ones(k), beta_posterior_=dof.copy(),
            dof_prior_=np.full(k, float(N_FEATURES)), dof_posterior_=dof,
            scale_prior_=np.full((k, N_FEATURES), 1e-3),
            scale_posterior_=(rng.rand(k, N_FEATURES) + 0.5) * dof[:, None],
        )  # fmt: skip
    for name, value in post.items():
        setattr(m, name, value)
    return m


def variational_result(m) -> dict:
    names = ["startprob_posterior_", "transmat_posterior_", "emissionprob_posterior_",
             "means_posterior_", "scale_posterior_"]  # fmt: skip
    out = {n: np.array(getattr(m, n)) for n in names if hasattr(m, n)}
    out["lower_bound"] = np.array(list(m.monitor_.history))
    return out


@pytest.mark.parametrize("model", VARIATIONAL)
@pytest.mark.parametrize("variant", VARIANTS, ids=[v.id for v in VARIANTS])
def test_hmm_variational(benchmark, variant, model, size, reference):
    """One VB-EM iteration (E-step with sub-normalised parameters, posterior updates,
    lower bound) from the same explicit posteriors."""
    key = ("vhmm", model, size.name)
    if key not in _DATA:
        _DATA[key] = make_variational_data(model, size)
    d = _DATA[key]
    make_variational_model(variant, model, d.n_samples)  # untimed: skips without fastgen.hmm

    def fn():
        m = make_variational_model(variant, model, d.n_samples)
        return variational_result(m.fit(d.X, d.lengths))

    result = run_benchmark(
        benchmark, fn, group=f"HMM.vb_em_step[{model}-many]", variant=variant, size=size,
        n_docs=d.n_samples, corpus_mb=d.X.nbytes / 1e6, n_sequences=len(d.lengths),
        model=model,
    )  # fmt: skip
    if variant.is_fastgen:
        ref = make_variational_model(HMMLEARN, model, d.n_samples)
        expected = cached(reference, key, lambda: variational_result(ref.fit(d.X, d.lengths)))
        for name in result:
            assert_close(result[name], expected[name], rtol=1e-6, atol=1e-12)
    else:
        reference.setdefault(key, result)
