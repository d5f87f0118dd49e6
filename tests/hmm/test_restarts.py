"""Random restarts (``n_init``) of every HMM family and ``select_n_components``: the best
of the restarts is the best of the fits each seed makes alone, the result does not
depend on the number of threads, ``n_init=1`` is the plain fit, model files keep it."""

from __future__ import annotations

import doctest
import logging
import threading

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import fastgen
import fastgen.hmm as F
from fastgen import _threads
from fastgen._base import clone
from fastgen._modelfile import ModelFileError
from fastgen.hmm import _restarts

LENGTHS = [60, 25, 90, 45]
N = sum(LENGTHS)


def _data():
    rng = np.random.RandomState(7)
    states = rng.randint(0, 3, N)
    gauss = rng.randn(N, 2) + 3.0 * states[:, None]
    symbols = np.where(rng.rand(N) < 0.7, states, rng.randint(0, 4, N))[:, None]
    counts = rng.poisson(1.0 + 3.0 * states[:, None], (N, 3))
    trials = np.array([rng.multinomial(6, p) for p in np.eye(3)[states] * 0.6 + 0.4 / 3])
    return {
        "gaussian-diag": (F.GaussianHMM, {}, gauss),
        "gaussian-full": (F.GaussianHMM, {"covariance_type": "full"}, gauss),
        "gmm": (F.GMMHMM, {"n_mix": 2}, gauss),
        "categorical": (F.CategoricalHMM, {}, symbols),
        "poisson": (F.PoissonHMM, {}, counts),
        "multinomial": (F.MultinomialHMM, {"n_trials": 6}, trials),
        "vgaussian": (F.VariationalGaussianHMM, {}, gauss),
        "vcategorical": (F.VariationalCategoricalHMM, {}, symbols),
    }


FAMILIES = _data()


def make(name, **kw):
    cls, extra, X = FAMILIES[name]
    params = {"n_iter": 4, "tol": -np.inf, **extra, **kw}
    return cls(3, **params), X


def fitted_state(model) -> dict:
    """The fitted attributes (``monitor_`` as its history), for exact comparison."""
    state = {k: v for k, v in vars(model).items() if k.endswith("_") and k != "monitor_"}
    state["history"] = list(model.monitor_.history)
    state["iter"] = model.monitor_.iter
    return state


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert_array_equal(np.asarray(a[key]), np.asarray(b[key]), err_msg=key)


@pytest.fixture(autouse=True)
def default_threads(monkeypatch):
    monkeypatch.setattr(_restarts, "PARALLEL_MIN_FRAMES", 0)  # threads even on small data
    fastgen.set_num_threads(None)
    yield
    fastgen.set_num_threads(None)


# --------------------------------------------------------------------------- n_init=1


@pytest.mark.parametrize("name", FAMILIES)
def test_n_init_1_is_the_plain_fit(name):
    model, X = make(name, random_state=0)
    assert model.n_init == 1
    model.fit(X, LENGTHS)
    plain, _ = make(name, random_state=0)
    type(plain).engine(plain).fit(X, LENGTHS)  # the engine's fit: what fit ran before n_init
    want = fitted_state(plain)
    got = fitted_state(model)
    assert_array_equal(got.pop("restart_objectives_"), [plain.monitor_.history[-1]])
    assert_same_state(got, want)


# --------------------------------------------------------------------------- best of n_init


@pytest.mark.parametrize("name", FAMILIES)
def test_best_of_restarts_is_the_best_seed_fitted_alone(name):
    n_init = 4
    model, X = make(name, random_state=3, n_init=n_init)
    model.fit(X, LENGTHS)
    seeds = _restarts.restart_seeds(3, n_init)
    assert seeds[0] == 3 and len(set(seeds)) == n_init
    alone = [make(name, random_state=s)[0].fit(X, LENGTHS) for s in seeds]
    objectives = [m.monitor_.history[-1] for m in alone]
    assert_array_equal(model.restart_objectives_, objectives)
    assert len(set(objectives)) > 1  # the restarts differ: the test can tell them apart
    best = alone[int(np.argmax(objectives))]
    got, want = fitted_state(model), fitted_state(best)
    got.pop("restart_objectives_"), want.pop("restart_objectives_")
    assert_same_state(got, want)
    assert model.monitor_.history[-1] == max(objectives)
    assert model.random_state == 3 and model.n_init == n_init  # parameters unchanged


def test_ties_keep_the_first_restart(monkeypatch):
    model, X = make("categorical", random_state=0, n_init=3)
    monkeypatch.setattr(_restarts, "_objective", lambda m: 1.0)  # every restart ties
    model.fit(X, LENGTHS)
    first = make("categorical", random_state=0)[0].fit(X, LENGTHS)
    assert_array_equal(model.emissionprob_, first.emissionprob_)
    assert_array_equal(model.restart_objectives_, [1.0, 1.0, 1.0])


@pytest.mark.parametrize("name", ["gaussian-diag", "categorical", "vgaussian"])
def test_result_does_not_depend_on_the_number_of_threads(name):
    states = []
    for n_threads in (1, 2, 3, 5):
        fastgen.set_num_threads(n_threads)
        model, X = make(name, random_state=11, n_init=5)
        states.append(fitted_state(model.fit(X, LENGTHS)))
    for other in states[1:]:
        assert_same_state(other, states[0])


def test_random_state_instance_and_none():
    a, X = make("gaussian-diag", random_state=np.random.RandomState(5), n_init=3)
    b, _ = make("gaussian-diag", random_state=np.random.RandomState(5), n_init=3)
    assert_same_state(fitted_state(a.fit(X, LENGTHS)), fitted_state(b.fit(X, LENGTHS)))
    seeds = _restarts.restart_seeds(np.random.RandomState(5), 3)
    alone = [make("gaussian-diag", random_state=s)[0].fit(X, LENGTHS) for s in seeds]
    assert_array_equal(a.restart_objectives_, [m.monitor_.history[-1] for m in alone])
    c, _ = make("gaussian-diag", random_state=None, n_init=2)
    assert c.fit(X, LENGTHS).restart_objectives_.shape == (2,)


def test_more_restarts_never_score_worse_than_the_first():
    model, X = make("gaussian-diag", random_state=1, n_init=6)
    model.fit(X, LENGTHS)
    one = make("gaussian-diag", random_state=1)[0].fit(X, LENGTHS)
    assert model.restart_objectives_[0] == one.monitor_.history[-1]
    assert model.monitor_.history[-1] >= one.monitor_.history[-1]


def test_a_users_monitor_is_kept_and_reports_the_best_restart():
    model, X = make("poisson", random_state=0, n_init=3)
    monitor = F.ConvergenceMonitor(0.0, 1, False)
    model.monitor_ = monitor
    model.fit(X, LENGTHS)
    assert model.monitor_ is monitor
    assert monitor.history[-1] == model.restart_objectives_.max()
    assert monitor.n_iter == model.n_iter and monitor.iter == 4


def test_nothing_initialised_fits_once_with_a_warning(caplog):
    model, X = make("categorical", random_state=0)
    model.fit(X, LENGTHS)
    model.set_params(init_params="", n_init=4)
    with caplog.at_level(logging.WARNING, logger="fastgen.hmm"):
        model.fit(X, LENGTHS)
    assert "every restart would be the same fit" in caplog.text
    assert model.restart_objectives_.shape == (1,)
    model.set_params(init_params="e")  # one parameter initialised: restarts again
    assert model.fit(X, LENGTHS).restart_objectives_.shape == (4,)


@pytest.mark.parametrize("name", ["gaussian-diag", "vcategorical"])
def test_warm_start_parameters_are_kept_by_every_restart(name):
    """Parameters set by hand and left out of init_params are every restart's start."""
    model, X = make(name, random_state=0)
    model.fit(X, LENGTHS)
    skip = ("monitor_", "restart_objectives_")
    start = {k: np.copy(v) for k, v in vars(model).items() if k.endswith("_") and k not in skip}
    model.set_params(init_params="st", n_init=3)
    model.fit(X, LENGTHS)
    seeds = _restarts.restart_seeds(0, 3)
    objectives = []
    for seed in seeds:
        alone, _ = make(name, random_state=seed, init_params="st")
        for k, v in start.items():
            setattr(alone, k, np.copy(v))
        objectives.append(alone.fit(X, LENGTHS).monitor_.history[-1])
    assert_array_equal(model.restart_objectives_, objectives)


# --------------------------------------------------------------------------- parameters


@pytest.mark.parametrize("name", FAMILIES)
def test_get_params_clone_and_set_params(name):
    model, _ = make(name, n_init=3)
    assert model.get_params()["n_init"] == 3
    twin = clone(model)
    assert twin.n_init == 3 and twin is not model
    assert twin.set_params(n_init=5).get_params()["n_init"] == 5


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("bad", [0, -2, 1.5, 2.0, True, "3", None])
def test_invalid_n_init(name, bad):
    model, X = make(name, n_init=bad)
    assert model.n_init is bad  # stored unchanged
    with pytest.raises(ValueError, match="n_init must be an integer >= 1"):
        model.fit(X, LENGTHS)


def test_np_integer_n_init():
    model, X = make("categorical", random_state=0, n_init=np.int64(2))
    assert model.fit(X, LENGTHS).restart_objectives_.shape == (2,)


def test_bad_input_raises_before_any_restart():
    model, _ = make("gaussian-diag", random_state=0, n_init=3)
    with pytest.raises(ValueError, match="lengths"):
        model.fit(np.zeros((10, 2)), [4, 4])
    assert not hasattr(model, "restart_objectives_")


# --------------------------------------------------------------------------- model files


@pytest.mark.parametrize("name", FAMILIES)
def test_model_file_round_trip(name, tmp_path):
    model, X = make(name, random_state=0, n_init=2)
    model.fit(X, LENGTHS)
    fastgen.save(model, tmp_path / "m.fgm")
    loaded = fastgen.load(tmp_path / "m.fgm")
    assert loaded.n_init == 2
    assert_array_equal(loaded.restart_objectives_, model.restart_objectives_)
    assert loaded.score(X, LENGTHS) == model.score(X, LENGTHS)


@pytest.mark.parametrize("bad", [np.array([np.nan]), np.array([]), np.array([[1.0]])])
def test_model_file_refuses_bad_restart_objectives(bad, tmp_path):
    model, X = make("poisson", random_state=0, n_init=2)
    model.fit(X, LENGTHS)
    model.restart_objectives_ = bad
    fastgen.save(model, tmp_path / "m.fgm")
    with pytest.raises(ModelFileError, match="restart_objectives_"):
        fastgen.load(tmp_path / "m.fgm")


def test_model_file_refuses_a_bad_n_init(tmp_path):
    model, X = make("poisson", random_state=0)
    model.fit(X, LENGTHS)
    model.n_init = 0
    fastgen.save(model, tmp_path / "m.fgm")
    with pytest.raises(ModelFileError, match="n_init"):
        fastgen.load(tmp_path / "m.fgm")


# --------------------------------------------------------------------------- map_tasks


def test_map_tasks_orders_results_shares_threads_and_raises_the_first_error():
    fastgen.set_num_threads(4)
    seen = []

    def job(i):
        seen.append((i, _threads.get_num_threads(), threading.current_thread().name))
        if i in (3, 5):
            raise KeyError(i)
        return i * i

    assert _threads.map_tasks(job, range(3)) == [0, 1, 4]
    assert {n for _, n, _ in seen} == {1}  # 3 jobs on 4 threads: one thread each
    seen.clear()
    assert _threads.map_tasks(job, range(2)) == [0, 1]
    assert {n for _, n, _ in seen} == {2}
    with pytest.raises(KeyError, match="3"):
        _threads.map_tasks(job, range(8))
    assert _threads.get_num_threads() == 4  # the budget was the jobs' only
    fastgen.set_num_threads(1)
    seen.clear()
    assert _threads.map_tasks(job, range(3)) == [0, 1, 4]
    assert {name for _, _, name in seen} == {threading.current_thread().name}


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_thread_budget_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="positive integer"):
        with _threads.thread_budget(bad):
            pass


# --------------------------------------------------------------------------- model selection


def _true_hmm_data(n_states, seed=0, n_seq=20, length=80):
    rng = np.random.RandomState(seed)
    means = 6.0 * np.arange(n_states)[:, None] * np.ones((1, 2))
    trans = np.full((n_states, n_states), 0.1 / max(n_states - 1, 1))
    np.fill_diagonal(trans, 0.9 if n_states > 1 else 1.0)
    X = []
    for _ in range(n_seq):
        z = rng.randint(n_states)
        for _ in range(length):
            X.append(means[z] + rng.randn(2))
            z = rng.choice(n_states, p=trans[z])
    return np.array(X), [length] * n_seq


@pytest.mark.parametrize("true_k", [2, 3, 4])
@pytest.mark.parametrize("criterion", ["bic", "aic"])
def test_select_picks_the_true_number_of_states(true_k, criterion):
    X, lengths = _true_hmm_data(true_k, seed=true_k)
    best, scores = F.select_n_components(
        F.GaussianHMM(random_state=0, n_iter=20), X, lengths, n_components=range(1, 7),
        criterion=criterion, n_init=5,
    )  # fmt: skip
    assert list(scores) == [1, 2, 3, 4, 5, 6]
    assert best.n_components == min(scores, key=scores.get)
    if criterion == "bic":
        assert best.n_components == true_k
    else:  # AIC's lighter penalty may take one state more (5 for 4 here, by 1 unit)
        assert true_k <= best.n_components <= true_k + 1
        assert scores[true_k] - scores[best.n_components] < 2.0


def test_select_table_equals_fitting_each_candidate_alone():
    X, lengths = _true_hmm_data(3, seed=1)
    template = F.GaussianHMM(covariance_type="full", random_state=4, n_iter=6)
    best, scores = F.select_n_components(template, X, lengths, n_components=[4, 2, 3], n_init=2)
    assert list(scores) == [4, 2, 3]
    assert not hasattr(template, "startprob_")  # the template is not fitted
    for k, value in scores.items():
        alone = clone(template).set_params(n_components=k, n_init=2).fit(X, lengths)
        assert value == alone.bic(X, lengths)
        if k == best.n_components:
            assert_same_state(fitted_state(best), fitted_state(alone))


@pytest.mark.parametrize("name", FAMILIES)
def test_select_works_for_every_family(name):
    model, X = make(name, random_state=0)
    best, scores = F.select_n_components(model, X, LENGTHS, n_components=[1, 2, 3])
    assert best.n_components == min(scores, key=scores.get)
    for k, value in scores.items():
        alone = clone(model).set_params(n_components=k).fit(X, LENGTHS)
        assert value == alone.bic(X, LENGTHS)


def test_select_ties_go_to_the_smaller_candidate(monkeypatch):
    X, lengths = _true_hmm_data(2)
    monkeypatch.setattr(F.GaussianHMM, "bic", lambda self, X, lengths=None: 0.0)
    best, _ = F.select_n_components(F.GaussianHMM(random_state=0), X, lengths,
                                    n_components=[3, 2, 4])  # fmt: skip
    assert best.n_components == 2


def test_select_does_not_depend_on_threads():
    X, lengths = _true_hmm_data(2)
    out = []
    for n_threads in (1, 2, 4):
        fastgen.set_num_threads(n_threads)
        out.append(F.select_n_components(F.GaussianHMM(random_state=0, n_init=2), X, lengths,
                                         n_components=range(1, 4))[1])  # fmt: skip
    assert out[0] == out[1] == out[2]


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"n_components": []}, "at least one"),
        ({"n_components": [0, 2]}, "integers >= 1"),
        ({"n_components": [2.0]}, "integers >= 1"),
        ({"n_components": [True]}, "integers >= 1"),
        ({"n_components": [2, 2]}, "repeated"),
        ({"criterion": "lower_bound"}, "criterion"),
        ({"n_init": 0}, "n_init"),
    ],
)
def test_select_rejects_bad_arguments(kw, match):
    X, lengths = _true_hmm_data(2, n_seq=2)
    with pytest.raises(ValueError, match=match):
        F.select_n_components(F.GaussianHMM(), X, lengths, **kw)


# --------------------------------------------------------------------------- criteria


COUNT_CASES = [
    (name, ct)
    for name, (cls, _, _) in FAMILIES.items()
    for ct in (
        ["diag", "full", "spherical", "tied"] if "covariance_type" in cls().get_params() else [None]
    )
]


@pytest.mark.parametrize("name,covariance_type", COUNT_CASES)
def test_free_parameter_count_is_hmmlearns(name, covariance_type):
    H = pytest.importorskip("hmmlearn.hmm")
    V = pytest.importorskip("hmmlearn.vhmm")
    cls, extra, X = FAMILIES[name]
    kw = dict(extra)
    if covariance_type is not None:
        kw["covariance_type"] = covariance_type
    ours = cls(3, n_iter=2, random_state=0, **kw).fit(X, LENGTHS)
    ref = getattr(V if name.startswith("v") else H, cls.__name__)(3, n_iter=2, random_state=0,
                                                                   **kw)  # fmt: skip
    ref.fit(X, LENGTHS)
    assert ours._n_parameters() == sum(ref._get_n_fit_scalars_per_param().values())
    if not name.startswith("v"):  # hmmlearn's variational models have no bic / aic
        ref_n = sum(ref._get_n_fit_scalars_per_param().values())
        assert np.isclose(ours.bic(X, LENGTHS),
                          -2 * ours.score(X, LENGTHS) + ref_n * np.log(len(X)))  # fmt: skip
        assert np.isclose(ours.aic(X, LENGTHS), -2 * ours.score(X, LENGTHS) + 2 * ref_n)


def test_docstring_examples_run():
    for module in (_restarts, F._base):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0
    assert doctest.testmod(_restarts).attempted > 0


def test_small_fits_run_their_restarts_on_the_calling_thread(monkeypatch):
    names = set()
    original = _restarts._fit_one

    def traced(task):
        names.add(threading.current_thread().name)
        return original(task)

    monkeypatch.setattr(_restarts, "_fit_one", traced)
    fastgen.set_num_threads(2)
    model, X = make("categorical", random_state=0, n_init=3)
    parallel = fitted_state(model.fit(X, LENGTHS))
    assert len(names) >= 1 and threading.current_thread().name not in names
    names.clear()
    monkeypatch.setattr(_restarts, "PARALLEL_MIN_FRAMES", N + 1)
    model, X = make("categorical", random_state=0, n_init=3)
    assert_same_state(fitted_state(model.fit(X, LENGTHS)), parallel)
    assert names == {threading.current_thread().name}


@pytest.mark.parametrize("name,param", [("categorical", "n_features"), ("multinomial", "n_trials")])
def test_parameters_fit_sets_come_from_the_kept_restart(name, param):
    model, X = make(name, random_state=0, n_init=3, **{param: None})
    model.fit(X, LENGTHS)
    alone, _ = make(name, random_state=0, **{param: None})
    alone.fit(X, LENGTHS)
    assert_array_equal(getattr(model, param), getattr(alone, param))
    assert np.isfinite(model.score(X, LENGTHS))


def test_restarts_pass_weights_and_labels_to_every_fit():
    """Each restart fits with the same sample_weight and states: the kept model is the
    best of the weighted, labelled fits of each seed alone."""
    from fastgen.hmm._restarts import restart_seeds

    rng = np.random.default_rng(4)
    X = np.concatenate([rng.normal(m, 1.0, size=(60, 2)) for m in (0, 4, 8)] * 2)
    lengths = [180, 180]
    weight = rng.integers(1, 4, size=len(X)).astype(float)
    states = np.full(len(X), -1)
    states[:5], states[60:65] = 0, 1
    kw = dict(n_iter=5, random_state=7)
    model = F.GaussianHMM(3, n_init=3, **kw).fit(X, lengths, sample_weight=weight, states=states)
    alone = []
    for seed in restart_seeds(7, 3):
        one = F.GaussianHMM(3, n_iter=5, random_state=seed)
        alone.append(one.fit(X, lengths, sample_weight=weight, states=states).monitor_.history[-1])
    np.testing.assert_allclose(model.restart_objectives_, alone, rtol=1e-12)
    best = F.GaussianHMM(3, n_iter=5, random_state=restart_seeds(7, 3)[int(np.argmax(alone))])
    best.fit(X, lengths, sample_weight=weight, states=states)
    np.testing.assert_allclose(model.means_, best.means_, rtol=1e-12)
