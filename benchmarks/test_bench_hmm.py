"""fastgen.hmm vs hmmlearn: one EM iteration, predict, score and predict_proba.

Groups: ``<operation>[<model>-<data>]`` with an ``hmmlearn`` and a ``fastgen`` variant,
timed in the same run.  Models: GaussianHMM with 8 features, K in {4, 16}, diag and
full covariances, and CategoricalHMM with 8 states and 20 symbols.  Data: ``many``
(5,000 sequences x 100 steps; small: 200 x 50) and ``long`` (one 200,000-step
sequence; small: 5,000), ``many`` only for the categorical model.

Both sides start from the same explicit parameters (``init_params=""``) and EM runs
one iteration (``n_iter=1, tol=-inf``); each fastgen result is checked against
hmmlearn's outside the timed call.  No timing assertions.
"""

from __future__ import annotations

import shutil
import tempfile
import textwrap
import time
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
    run_python_json,
    subprocess_env,
)

hmmlearn_hmm = pytest.importorskip("hmmlearn.hmm")

HMMLEARN = Variant("hmmlearn")
FASTGEN = Variant("fastgen")
VARIANTS = [HMMLEARN, FASTGEN]
N_FEATURES = 8
N_SYMBOLS = 20

MODELS = {
    "gauss-diag-K4": ("gaussian", "diag", 4),
    "gauss-diag-K16": ("gaussian", "diag", 16),
    "gauss-full-K4": ("gaussian", "full", 4),
    "gauss-full-K16": ("gaussian", "full", 16),
    "categorical-K8": ("categorical", None, 8),
}
CASES = [
    (m, d)
    for m in MODELS
    for d in ("many", "long")
    if not (MODELS[m][0] == "categorical" and d == "long")
]
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
    else:
        m = mod.GaussianHMM(k, covariance_type=ct, init_params="", n_iter=1, tol=-np.inf)
    for name, value in make_params(model).items():
        setattr(m, name, value.copy())
    return m


def fitted_params(m) -> dict:
    names = ["startprob_", "transmat_", "emissionprob_", "means_", "covars_"]
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


# --------------------------------------------------------------------------- Numba latency

HMM_FIRST_CALL_GROUP = "numba HMM: GaussianHMM fit+predict in a fresh process"
_FILLED_CACHE: dict[str, str] = {}  # "dir": a NUMBA_CACHE_DIR a cold run has filled

_HMM_FIRST_CALL_CHILD = textwrap.dedent(
    """
    import json, time
    t0 = time.perf_counter()
    import fastgen.hmm
    t1 = time.perf_counter()
    import numpy as np

    rng = np.random.RandomState(0)
    lengths = np.full(20, 50)
    states = np.repeat(rng.randint(4, size=100), 10)
    X = rng.randn(4, 3)[states] * 3 + rng.randn(len(states), 3)

    def fit_predict():
        m = fastgen.hmm.GaussianHMM(4, covariance_type="diag", n_iter=5, random_state=0)
        return m.fit(X, lengths).predict(X, lengths)

    t = time.perf_counter()
    first = fit_predict()
    t2 = time.perf_counter()
    second = fit_predict()
    t3 = time.perf_counter()
    assert np.array_equal(first, second)
    print(json.dumps({
        "import_s": t1 - t0, "fit_predict_first_call_s": t2 - t,
        "fit_predict_second_call_s": t3 - t2, "in_process_s": t3 - t0,
        "n_samples": int(lengths.sum()),
    }))
    """
)


@pytest.mark.parametrize("cache", ["cold", "warm"])
def test_numba_hmm_first_call(benchmark, cache, size, tmp_path):
    """Fresh interpreter: ``import fastgen.hmm``, then GaussianHMM fit (5 EM iterations)
    + predict twice on 1,000 samples (20 x 50, 3 features).

    ``cold``: empty ``NUMBA_CACHE_DIR`` (JIT compilation); ``warm``: the cache filled
    by a previous process.  The timed value is the whole subprocess; the in-process
    split (medians over the rounds) is in extra_info.
    """
    import_fastgen("hmm")
    warm_dir = _FILLED_CACHE.get("dir")  # a cache a cold run of this session filled
    if cache == "warm" and warm_dir is None:  # fill one, untimed
        warm_dir = str(tmp_path / "numba-cache")
        run_python_json(_HMM_FIRST_CALL_CHILD, env=subprocess_env(NUMBA_CACHE_DIR=warm_dir))
    results = []

    def setup():
        if cache == "cold":
            d = tempfile.mkdtemp(prefix="numba-cold-", dir=tmp_path)
            shutil.rmtree(d)
        else:
            d = warm_dir
        return (d,), {}

    def first_call(cache_dir):
        t = time.perf_counter()
        out = run_python_json(_HMM_FIRST_CALL_CHILD, env=subprocess_env(NUMBA_CACHE_DIR=cache_dir))
        out["process_s"] = time.perf_counter() - t
        results.append(out)
        if cache == "cold":
            _FILLED_CACHE["dir"] = cache_dir
        return out

    benchmark.group = HMM_FIRST_CALL_GROUP
    benchmark.extra_info.update(
        impl="fastgen", variant=f"fastgen-{cache}", cache=cache, dataset_size=size.name
    )
    out = benchmark.pedantic(first_call, setup=setup, rounds=min(size.rounds, 3), warmup_rounds=0)
    for k in [k for k in out if k.endswith("_s")]:
        benchmark.extra_info[k] = round(float(np.median([r[k] for r in results])), 5)
    benchmark.extra_info["n_samples"] = out["n_samples"]
