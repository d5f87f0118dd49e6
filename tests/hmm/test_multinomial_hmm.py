"""fastgen's MultinomialHMM against hmmlearn's: scores, posteriors, paths, EM steps.

Every comparison sets the parameters explicitly (``init_params=""``).  Also: input
checks, sampling, the model file, the Dask fit and the command line.  hmmlearn's own
``test_multinomial_hmm.py`` runs with fastgen swapped in from
``test_hmmlearn_suite.py``.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
from hmm_compare import IMPLS, LENGTHS, assert_same_em, assert_same_inference, paired
from numpy.testing import assert_allclose, assert_array_equal

import fastgen
from fastgen._base import clone
from fastgen._modelfile import ModelFileError
from fastgen.hmm import CategoricalHMM, MultinomialHMM

H = pytest.importorskip("hmmlearn.hmm")

K, NF, TRIALS = 3, 4, 6


@pytest.fixture(scope="module")
def problem():
    rng = np.random.RandomState(0)
    params = {
        "startprob_": rng.dirichlet(np.ones(K)),
        "transmat_": rng.dirichlet(np.ones(K), size=K),
        "emissionprob_": rng.dirichlet(np.ones(NF), size=K),
    }
    states = rng.randint(0, K, 100)
    X = np.array([rng.multinomial(TRIALS, params["emissionprob_"][s]) for s in states])
    return params, X


@pytest.fixture(autouse=True)
def _quiet_hmmlearn(caplog):
    """hmmlearn's MultinomialHMM logs a notice of its 0.3 API change when built."""
    caplog.set_level(logging.ERROR, logger="hmmlearn")


def pair(problem, impl, **kw):
    """hmmlearn's and fastgen's MultinomialHMM with the same explicit parameters."""
    params, _ = problem
    return paired(H.MultinomialHMM, MultinomialHMM, params, n_components=K, n_trials=TRIALS,
                  implementation=impl, **kw)


@pytest.mark.parametrize("lengths", LENGTHS.values(), ids=LENGTHS.keys())
@pytest.mark.parametrize("impl", IMPLS)
def test_inference_matches_hmmlearn(problem, impl, lengths):
    ref, ours = pair(problem, impl)
    X = problem[1]
    assert_same_inference(ours, ref, X, lengths)


@pytest.mark.parametrize("lengths", LENGTHS.values(), ids=LENGTHS.keys())
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(
    "kw",
    [{}, {"startprob_prior": 1.5, "transmat_prior": 1.2}, {"params": "e"}, {"params": "st"}],
    ids=["default", "priors", "emission-only", "chain-only"],
)
def test_em_steps_match_hmmlearn(problem, impl, lengths, kw):
    ref, ours = pair(problem, impl, n_iter=5, tol=-np.inf, **kw)
    assert_same_em(ours, ref, problem[1], lengths, ("startprob_", "transmat_", "emissionprob_"))
    assert ours.monitor_.iter == 5


def test_zero_probabilities(problem):
    """An outcome of probability 0: impossible where counted, no effect elsewhere."""
    ref, ours = pair(problem, "log")
    em = problem[0]["emissionprob_"].copy()
    em[1, 2] = 0.0
    em[1] /= em[1].sum()
    ref.emissionprob_, ours.emissionprob_ = em, em.copy()
    X = problem[1]
    assert_allclose(ours.score(X), ref.score(X), rtol=1e-8)
    assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-8, atol=1e-12)
    assert_array_equal(ours.predict(X), ref.predict(X))
    frames = ours.emission_family(ours).log_likelihood(X.astype(float))
    assert np.isneginf(frames[X[:, 2] > 0, 1]).all()
    assert np.isfinite(frames[X[:, 2] == 0]).all()


def test_large_counts_match_hmmlearn(problem):
    """Totals past the log-factorial table (Stirling's series)."""
    params, _ = problem
    rng = np.random.RandomState(3)
    X = np.array([rng.multinomial(5000, params["emissionprob_"][s]) for s in rng.randint(0, K, 40)])
    ref, ours = pair(problem, "log")
    ref.n_trials = ours.n_trials = 5000
    assert_allclose(ours.score(X), ref.score(X), rtol=1e-10)
    assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-8, atol=1e-12)


def test_n_trials_none_takes_the_row_totals(problem):
    """As hmmlearn: ``fit`` sets ``n_trials`` to the totals of the fitted rows, which may
    differ per row (its test doubles every other row)."""
    params, X = problem
    X = X.copy()
    X[::2] *= 2
    models = []
    for cls in (H.MultinomialHMM, MultinomialHMM):
        m = cls(K, init_params="", n_iter=3, tol=-np.inf)
        for name, value in params.items():
            setattr(m, name, value.copy())
        models.append(m.fit(X))
    ref, ours = models
    assert_array_equal(ours.n_trials, ref.n_trials)
    assert_allclose(ours.emissionprob_, ref.emissionprob_, rtol=1e-6)
    assert_allclose(ours.score(X), ref.score(X), rtol=1e-8)
    with pytest.raises(ValueError, match="single n_trials"):
        ours.sample(5)
    with pytest.raises(ValueError, match="per-sample totals"):
        ours.score(X[:10])


def test_empty_state_keeps_its_row(problem):
    params, X = problem
    m = MultinomialHMM(K, n_trials=TRIALS, init_params="", n_iter=3, tol=-np.inf)
    m.startprob_ = np.array([1.0, 0.0, 0.0])
    m.transmat_ = np.eye(K)
    m.emissionprob_ = params["emissionprob_"].copy()
    m.fit(X)
    assert np.isfinite(m.emissionprob_).all()
    assert_array_equal(m.emissionprob_[1:], params["emissionprob_"][1:])
    assert_allclose(m.emissionprob_[0], X.sum(axis=0) / X.sum())


def test_float_counts_equal_integer_counts(problem):
    _, ours = pair(problem, "log")
    X = problem[1]
    assert ours.score(X.astype(np.float32)) == ours.score(X)
    assert ours.score(X.astype(np.uint8)) == ours.score(X)


@pytest.mark.parametrize(
    "X, match",
    [
        (np.array([[1, -1, 4, 2]]), "non-negative"),
        (np.array([[1.0, 0.5, 2.5, 2.0]]), "integer counts"),
        (np.array([[1, 1, 1, 1]]), "add up to n_trials"),
        (np.array([[1.0, np.nan, 0.0, 2.0]]), "NaN"),
        (np.array([[1.0, np.inf, 0.0, 2.0]]), "infinity"),
        (np.array([["a", "b", "c", "d"]]), "numeric|could not convert"),
        (np.array([[1, 1, 1, 1, 2]]), "5 features"),
    ],
)
def test_bad_counts_raise(problem, X, match):
    _, ours = pair(problem, "log")
    for call in (ours.score, ours.predict, ours.fit):
        with pytest.raises(ValueError, match=match):
            call(X)


@pytest.mark.parametrize("n_trials", [-1, 2.5, True, [[1, 2]], "5", [1, -2]])
def test_bad_n_trials_raise(problem, n_trials):
    _, ours = pair(problem, "log")
    ours.n_trials = n_trials
    with pytest.raises(ValueError, match="n_trials"):
        ours.fit(problem[1])


def test_fit_from_scratch_and_sklearn_conventions(problem):
    X = problem[1]
    m = MultinomialHMM(K, n_trials=TRIALS, n_iter=20, random_state=0)
    assert m.get_params()["n_trials"] == TRIALS
    assert m.fit(X) is m
    assert m.emissionprob_.shape == (K, NF) and m.n_features == NF
    assert np.diff(list(m.monitor_.history)).min() > -1e-6
    c = clone(m)
    assert not hasattr(c, "emissionprob_") and c.get_params() == m.get_params()
    # the starting parameters are hmmlearn's draws (same random streams)
    ref = H.MultinomialHMM(K, n_trials=TRIALS, n_iter=0, random_state=0)
    ref._init(X)
    ours = MultinomialHMM(K, n_trials=TRIALS, n_iter=0, random_state=0)
    ours._init(X)
    for name in ("startprob_", "transmat_", "emissionprob_"):
        assert_allclose(getattr(ours, name), getattr(ref, name), rtol=1e-15)
    assert ours.random_state == 0  # not replaced by a generator (hmmlearn replaces it)


def test_sample_matches_hmmlearn_stream(problem):
    ref, ours = pair(problem, "log")
    a, b = ours.sample(50, random_state=3), ref.sample(50, random_state=3)
    assert_array_equal(a[0], b[0])
    assert_array_equal(a[1], b[1])
    assert a[0].dtype.kind == "i" and (a[0].sum(axis=1) == TRIALS).all()


def test_one_trial_is_categorical(problem):
    params, X = problem
    ours = MultinomialHMM(K, n_trials=1, init_params="")
    cat = CategoricalHMM(K, init_params="")
    for m in (ours, cat):
        for name, value in params.items():
            setattr(m, name, value.copy())
    symbols = np.random.RandomState(2).randint(0, NF, (60, 1))
    onehot = np.eye(NF, dtype=np.int64)[symbols[:, 0]]
    assert_allclose(ours.score(onehot), cat.score(symbols), rtol=1e-12)
    assert_array_equal(ours.predict(onehot), cat.predict(symbols))


def test_constructor_defaults_match_hmmlearn():
    import inspect

    ours = dict(inspect.signature(MultinomialHMM).parameters)
    ref = inspect.signature(H.MultinomialHMM).parameters
    assert list(ours)[-1] == "n_init" and ours.pop("n_init").default == 1  # fastgen's extra
    assert list(ours) == list(ref)
    assert {k: v.default for k, v in ours.items()} == {k: v.default for k, v in ref.items()}


def test_large_problem_matches_hmmlearn():
    """Many sequences (the lane-wise kernels), more states."""
    rng = np.random.RandomState(1)
    k, nf, n = 6, 5, 3000
    em = rng.dirichlet(np.ones(nf), size=k)
    X = np.array([rng.multinomial(9, em[s]) for s in rng.randint(0, k, n)])
    lengths = rng.multinomial(n - 100, np.ones(100) / 100) + 1
    trans = rng.dirichlet(np.ones(k) * 5, size=k)
    models = []
    for cls in (H.MultinomialHMM, MultinomialHMM):
        m = cls(k, n_trials=9, init_params="", n_iter=3, tol=-np.inf)
        m.startprob_, m.transmat_, m.emissionprob_ = np.full(k, 1 / k), trans.copy(), em.copy()
        models.append(m)
    ref, ours = models
    assert_array_equal(ours.predict(X, lengths), ref.predict(X, lengths))
    assert_allclose(ours.score(X, lengths), ref.score(X, lengths), rtol=1e-8)
    ref.fit(X, lengths)
    ours.fit(X, lengths)
    assert_allclose(ours.emissionprob_, ref.emissionprob_, rtol=1e-6)
    assert_allclose(ours.transmat_, ref.transmat_, rtol=1e-6)


# --------------------------------------------------------------------------- model file


def test_model_file_roundtrip_is_bit_for_bit(problem, tmp_path):
    _, X = problem
    lengths = LENGTHS["ragged"]
    m = MultinomialHMM(K, n_trials=TRIALS, n_iter=4, random_state=0).fit(X, lengths)
    path = tmp_path / "m.fgm"
    fastgen.save(m, path)
    loaded = fastgen.load(path)
    assert type(loaded) is MultinomialHMM and loaded.get_params() == m.get_params()
    for name in ("startprob_", "transmat_", "emissionprob_"):
        a, b = getattr(m, name), getattr(loaded, name)
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name
    assert loaded.n_features == NF
    assert m.score(X, lengths) == loaded.score(X, lengths)
    a, b = m.score_samples(X, lengths), loaded.score_samples(X, lengths)
    assert a[1].tobytes() == b[1].tobytes()
    assert_array_equal(m.predict(X, lengths), loaded.predict(X, lengths))
    assert_array_equal(m.sample(20, random_state=1)[0], loaded.sample(20, random_state=1)[0])
    summary = fastgen.info(path)["summary"]
    assert summary["fitted"] is True and summary["n_features"] == NF


def test_model_file_with_per_sample_n_trials(problem, tmp_path):
    _, X = problem
    m = MultinomialHMM(K, n_iter=2, random_state=0).fit(X)  # n_trials: the row totals
    fastgen.save(m, tmp_path / "m.fgm")
    loaded = fastgen.load(tmp_path / "m.fgm")
    assert_array_equal(loaded.n_trials, m.n_trials)
    assert loaded.score(X) == m.score(X)


def test_spec_lists_the_family_state():
    from fastgen._persist_specs import SPECS, spec_for
    from fastgen.hmm._multinomial import MultinomialEmissions

    kind, spec = spec_for(MultinomialHMM(2))
    assert kind == "fastgen.MultinomialHMM" and spec is SPECS[kind]
    assert set(MultinomialEmissions.state_attributes) <= set(spec.optional)
    assert spec.load_class() is MultinomialHMM


def test_tampered_model_file_is_refused(problem, tmp_path):
    from modelfile_tools import npy, tamper

    _, X = problem
    MultinomialHMM(K, n_trials=TRIALS, n_iter=2, random_state=0).fit(X).save(tmp_path / "m.fgm")
    rows = np.full((K, NF), 1 / NF)
    bad = {
        "state.emissionprob_.npy": [
            np.full((K, NF), np.nan), -rows, rows * 2, np.full((K + 1, NF), 1 / NF),
            np.full((K, NF + 1), 1 / NF), np.ones(K), np.ones((K, NF), dtype=np.int64),
        ],
        "state.transmat_.npy": [np.full((K, K), 0.7)],
    }  # fmt: skip
    for name, arrays in bad.items():
        for array in arrays:
            out = tamper(tmp_path / "m.fgm", tmp_path / "bad.fgm", members={name: npy(array)})
            with pytest.raises(ModelFileError):
                fastgen.load(out)
    for n_trials in (-3, 2.5, "6"):  # the parameter, checked as fit checks it
        out = tamper(tmp_path / "m.fgm", tmp_path / "bad.fgm",
                     manifest=lambda m, v=n_trials: m["params"].update(n_trials=v))  # fmt: skip
        with pytest.raises(ModelFileError):
            fastgen.load(out)


# --------------------------------------------------------------------------- Dask


def test_dask_fit_equals_local_fit(problem):
    dask = pytest.importorskip("dask")
    db = pytest.importorskip("dask.bag")
    from fastgen import dask as fd

    params, X = problem
    bounds = np.cumsum([0, *LENGTHS["ragged"]])
    seqs = [X[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    models = []
    for _ in range(2):
        m = MultinomialHMM(K, n_trials=TRIALS, init_params="", n_iter=6, tol=-np.inf)
        for name, value in params.items():
            setattr(m, name, value.copy())
        models.append(m)
    local, dist = models
    local.fit(seqs)
    with dask.config.set(scheduler="sync"):
        assert fd.fit_hmm(dist, db.from_sequence(seqs, npartitions=3)) is dist
    for name in ("startprob_", "transmat_", "emissionprob_"):
        assert_allclose(getattr(dist, name), getattr(local, name), rtol=1e-10, err_msg=name)
    assert_allclose(list(dist.monitor_.history), list(local.monitor_.history), rtol=1e-10)


# --------------------------------------------------------------------------- CLI


def test_cli_trains_a_multinomial_hmm(problem, tmp_path):
    from fastgen.cli import main

    _, X = problem
    data = tmp_path / "counts.npy"
    np.save(data, X)
    out = tmp_path / "m.fgm"
    args = ["train", "hmm", str(data), "-o", str(out), "--emission", "multinomial",
            "--n-components", "3", "--n-iter", "5"]  # fmt: skip
    assert main(args) == 0
    model = fastgen.load(out)
    assert type(model) is MultinomialHMM and model.n_features == NF
    assert model.emissionprob_.shape == (3, NF)
    bad = tmp_path / "bad.npy"
    np.save(bad, np.array([[0.5, 1.0], [1.0, 1.0]]))
    assert main(["train", "hmm", str(bad), "-o", str(tmp_path / "b.fgm"), "--emission",
                 "multinomial", "--n-components", "2"]) != 0  # fmt: skip


def test_docstring_example_runs():
    import doctest

    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    for test in finder.find(MultinomialHMM, "MultinomialHMM", globs={}):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted >= 8 and result.failed == 0, result
