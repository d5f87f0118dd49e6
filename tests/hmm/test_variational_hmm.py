"""fastgen's variational HMMs against hmmlearn's: inference, VB-EM steps, lower bounds.

Every comparison starts both implementations from the same explicit priors and
posteriors (``init_params=""``).  Also: input checks, model files, the Dask fit
(hmmlearn's own ``test_variational_*.py`` run with fastgen swapped in from
``test_hmmlearn_suite.py``).
"""

from __future__ import annotations

import inspect

import hmm_compare
import numpy as np
import pytest
from modelfile_tools import npy, tamper
from numpy.testing import assert_allclose, assert_array_equal

import fastgen
from fastgen._base import clone
from fastgen._modelfile import ModelFileError
from fastgen.hmm import VariationalCategoricalHMM, VariationalGaussianHMM

H = pytest.importorskip("hmmlearn.vhmm")

IMPLS = ["log", "scaling"]
LENGTHS = {"one": None, "ragged": [17, 1, 30, 2, 10, 40, 100]}
COVARIANCE_TYPES = ["full", "diag", "spherical", "tied"]
K, NF, NS = 3, 2, 5  # states, Gaussian features, symbols
CHAIN = ("startprob_posterior_", "transmat_posterior_", "startprob_", "transmat_")


def chain_posteriors(rng: np.random.RandomState) -> dict:
    return {
        "startprob_prior_": np.full(K, 0.4),
        "startprob_posterior_": rng.gamma(2.0, 2.0, K),
        "transmat_prior_": np.full((K, K), 0.7),
        "transmat_posterior_": rng.gamma(2.0, 5.0, (K, K)),
    }


def categorical_posteriors(seed: int = 1) -> dict:
    rng = np.random.RandomState(seed)
    return {
        **chain_posteriors(rng),
        "emissionprob_prior_": np.full((K, NS), 0.3),
        "emissionprob_posterior_": rng.gamma(2.0, 4.0, (K, NS)),
    }


def gaussian_posteriors(ct: str, seed: int = 1) -> dict:
    rng = np.random.RandomState(seed)
    p = {
        **chain_posteriors(rng),
        "means_prior_": np.zeros((K, NF)),
        "means_posterior_": rng.normal(size=(K, NF)) * 3,
        "beta_prior_": np.full(K, 1.5),
        "beta_posterior_": rng.gamma(5.0, 5.0, K),
    }
    a = rng.normal(size=(K, NF, NF))
    spd = a @ a.transpose(0, 2, 1) + np.eye(NF)
    if ct == "tied":
        return {**p, "dof_prior_": float(NF), "dof_posterior_": 60.0,
                "scale_prior_": 1e-2 * np.eye(NF), "scale_posterior_": 60 * spd[0]}  # fmt: skip
    dof = rng.gamma(5.0, 10.0, K) + NF
    prior = {"full": np.tile(1e-2 * np.eye(NF), (K, 1, 1)), "diag": np.full((K, NF), 1e-2),
             "spherical": np.full(K, 1e-2)}[ct]  # fmt: skip
    post = {"full": spd * dof[:, None, None],
            "diag": np.diagonal(spd, axis1=1, axis2=2) * dof[:, None],
            "spherical": spd[:, 0, 0] * dof}[ct]  # fmt: skip
    return {**p, "dof_prior_": np.full(K, NF + 0.5), "dof_posterior_": dof,
            "scale_prior_": prior, "scale_posterior_": post}  # fmt: skip


@pytest.fixture(scope="module")
def symbols() -> np.ndarray:
    rng = np.random.RandomState(0)
    state = np.repeat(rng.randint(0, K, 20), 10)
    table = rng.dirichlet(np.ones(NS) * 0.5, size=K)
    return np.array([[rng.choice(NS, p=table[s])] for s in state])


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    rng = np.random.RandomState(0)
    state = np.repeat(rng.randint(0, K, 20), 10)
    return rng.normal(size=(200, NF)) + 3.0 * state[:, None]


def with_state(model, state: dict, derived: bool = False):
    for name, value in state.items():
        setattr(model, name, np.copy(value) if isinstance(value, np.ndarray) else value)
    if derived:  # hmmlearn sets the point estimates in its M-step only: set them here
        model.startprob_ = state["startprob_posterior_"] / state["startprob_posterior_"].sum()
        tp = state["transmat_posterior_"]
        model.transmat_ = tp / tp.sum(axis=1, keepdims=True)
        if "emissionprob_posterior_" in state:
            ep = state["emissionprob_posterior_"]
            model.emissionprob_ = ep / ep.sum(axis=1, keepdims=True)
        else:
            model.n_features = state["means_posterior_"].shape[1]
            dof = np.asarray(state["dof_posterior_"])
            if model.covariance_type == "full":
                model.covars_ = state["scale_posterior_"] / dof[:, None, None]
            elif model.covariance_type == "diag":
                model.covars_ = state["scale_posterior_"] / dof[:, None]
            else:
                model.covars_ = state["scale_posterior_"] / dof
    return model


def categorical_pair(impl: str, state: dict | None = None, **kw):
    state = categorical_posteriors() if state is None else state
    ref = H.VariationalCategoricalHMM(K, init_params="", implementation=impl, n_features=NS, **kw)
    ours = VariationalCategoricalHMM(K, init_params="", implementation=impl, n_features=NS, **kw)
    return with_state(ref, state, derived=True), with_state(ours, state)


def gaussian_pair(ct: str, impl: str, **kw):
    state = gaussian_posteriors(ct)
    ref = H.VariationalGaussianHMM(K, covariance_type=ct, init_params="", implementation=impl,
                                   **kw)  # fmt: skip
    ours = VariationalGaussianHMM(K, covariance_type=ct, init_params="", implementation=impl,
                                  **kw)  # fmt: skip
    return with_state(ref, state, derived=True), with_state(ours, state)


def assert_same_inference(ours, ref, X, lengths) -> None:
    """hmm_compare's checks (hmmlearn's variational models have no AIC / BIC), then
    predict_proba and sampling."""
    hmm_compare.assert_same_inference(ours, ref, X, lengths, criteria=False)
    assert_allclose(ours.predict_proba(X, lengths), ref.predict_proba(X, lengths), atol=1e-12)
    for a, b in zip(ours.sample(40, random_state=5), ref.sample(40, random_state=5), strict=True):
        assert_allclose(a, b, rtol=1e-9)  # Gaussian draws: NumPy's SVD of covars_


def assert_same_fit(ours, ref, names) -> None:
    for name in names:
        assert_allclose(getattr(ours, name), getattr(ref, name), rtol=1e-6, err_msg=name)
    assert_allclose(list(ours.monitor_.history), list(ref.monitor_.history), rtol=1e-8)
    assert ours.monitor_.iter == 5


# --------------------------------------------------------------------------- categorical


@pytest.mark.parametrize("lengths", LENGTHS.values(), ids=LENGTHS.keys())
@pytest.mark.parametrize("impl", IMPLS)
def test_categorical_inference_matches_hmmlearn(symbols, impl, lengths):
    ref, ours = categorical_pair(impl)
    assert_same_inference(ours, ref, symbols, lengths)


@pytest.mark.parametrize("lengths", LENGTHS.values(), ids=LENGTHS.keys())
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("params", ["ste", "e", "st"])
def test_categorical_vb_steps_match_hmmlearn(symbols, impl, lengths, params):
    ref, ours = categorical_pair(impl, n_iter=5, tol=-np.inf, params=params)
    ref.fit(symbols, lengths)
    ours.fit(symbols, lengths)
    names = ["emissionprob_posterior_"]
    names += ["emissionprob_"] if "e" in params else []
    names += list(CHAIN) if "s" in params else []
    assert_same_fit(ours, ref, names)
    assert_same_inference(ours, ref, symbols, lengths)


@pytest.mark.parametrize("seed", [0, 7])
def test_categorical_default_start_is_hmmlearns(symbols, seed):
    """The starting posteriors are hmmlearn's draws (same random streams)."""
    kw = {"n_iter": 5, "tol": -np.inf, "random_state": seed, "emissionprob_prior": 0.6}
    ref = H.VariationalCategoricalHMM(K, **kw).fit(symbols, LENGTHS["ragged"])
    ours = VariationalCategoricalHMM(K, **kw).fit(symbols, LENGTHS["ragged"])
    assert_same_fit(ours, ref, ["emissionprob_posterior_", "emissionprob_prior_", *CHAIN])
    assert ours.n_features == ref.n_features == NS


# --------------------------------------------------------------------------- Gaussian


@pytest.mark.parametrize("lengths", LENGTHS.values(), ids=LENGTHS.keys())
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
def test_gaussian_inference_matches_hmmlearn(vectors, ct, impl, lengths):
    ref, ours = gaussian_pair(ct, impl)
    assert_same_inference(ours, ref, vectors, lengths)


@pytest.mark.parametrize("lengths", LENGTHS.values(), ids=LENGTHS.keys())
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
@pytest.mark.parametrize("params", ["stmc", "stm", "mc"])
def test_gaussian_vb_steps_match_hmmlearn(vectors, ct, impl, lengths, params):
    ref, ours = gaussian_pair(ct, impl, n_iter=5, tol=-np.inf, params=params)
    ref.fit(vectors, lengths)
    ours.fit(vectors, lengths)
    names = ["means_posterior_", "beta_posterior_", "dof_posterior_", "scale_posterior_"]
    names += ["_covars_"] if "c" in params else []
    assert_same_fit(ours, ref, names + list(CHAIN) if "s" in params else names)
    assert_same_inference(ours, ref, vectors, lengths)


def test_gaussian_spherical_start_stores_the_posterior_covariance(vectors):
    m = VariationalGaussianHMM(K, covariance_type="spherical", n_iter=0, random_state=0)
    m._init(vectors)
    assert m._covars_.shape == (K,)
    assert_allclose(m._covars_, m.scale_posterior_ / m.dof_posterior_)


def test_gaussian_default_start_and_priors(vectors):
    """Cluster sizes as beta/dof posteriors, hmmlearn's default priors."""
    m = VariationalGaussianHMM(K, covariance_type="diag", n_iter=3, random_state=0)
    m.fit(vectors)
    assert_allclose(m.means_prior_, np.tile(vectors.mean(axis=0), (K, 1)))
    assert_array_equal(m.beta_prior_, np.ones(K))
    assert_array_equal(m.dof_prior_, np.full(K, float(NF)))
    assert_array_equal(m.scale_prior_, np.full((K, NF), 1e-3))
    assert_allclose(m.beta_posterior_.sum(), 1.0 * K + len(vectors))
    assert np.diff(list(m.monitor_.history)).min() > -1e-6
    tied = VariationalGaussianHMM(K, covariance_type="tied", n_iter=2, random_state=0)
    tied.fit(vectors)
    assert isinstance(tied.dof_posterior_, float) and tied.dof_prior_ == NF


# --------------------------------------------------------------------------- conventions


@pytest.mark.parametrize(
    "ours, ref",
    [(VariationalCategoricalHMM, "VariationalCategoricalHMM"),
     (VariationalGaussianHMM, "VariationalGaussianHMM")],
)  # fmt: skip
def test_constructor_defaults_match_hmmlearn(ours, ref):
    a = dict(inspect.signature(ours).parameters)
    b = inspect.signature(getattr(H, ref)).parameters
    a.pop("allow_nan", None)  # fastgen's extras: allow_nan (Gaussian only), then n_init
    assert list(a)[-1] == "n_init" and a.pop("n_init").default == 1
    assert list(a) == list(b)
    assert {k: v.default for k, v in a.items()} == {k: v.default for k, v in b.items()}


def test_sklearn_conventions(symbols, vectors):
    for m, X in ((VariationalCategoricalHMM(K, n_iter=3, random_state=0), symbols),
                 (VariationalGaussianHMM(K, n_iter=3, random_state=0), vectors)):  # fmt: skip
        params = m.get_params()
        assert m.fit(X) is m
        assert {**m.get_params(), "n_features": None} == {**params, "n_features": None}
        c = clone(m)
        assert c.get_params() == m.get_params() and not hasattr(c, "startprob_posterior_")


def test_point_estimates_are_derived_for_scoring(symbols):
    """Posteriors alone (init_params="") are enough to score."""
    state = categorical_posteriors()
    m = with_state(VariationalCategoricalHMM(K, init_params=""), state)
    ref = with_state(H.VariationalCategoricalHMM(K, init_params="", n_features=NS), state, True)
    assert_allclose(m.score(symbols), ref.score(symbols), rtol=1e-8)
    assert_allclose(m.emissionprob_, ref.emissionprob_, rtol=1e-15)


# --------------------------------------------------------------------------- bad input


def _fit_with(model, X, **attrs):
    for name, value in attrs.items():
        setattr(model, name, value)
    return model.fit(X)


@pytest.mark.parametrize(
    "attrs, match",
    [
        ({"startprob_posterior_": np.ones(K + 1)}, "startprob_posterior_ must have shape"),
        ({"transmat_prior_": np.ones((K, K - 1))}, "transmat_prior_ must have shape"),
        ({"startprob_posterior_": np.array([1.0, -1.0, 1.0])}, "positive"),
        ({"transmat_posterior_": np.full((K, K), np.nan)}, "finite"),
        ({"emissionprob_posterior_": np.ones((K, NS + 1))}, "emissionprob_posterior_"),
        ({"emissionprob_prior_": np.zeros((K, NS))}, "positive"),
    ],
)
def test_categorical_bad_posteriors_raise(symbols, attrs, match):
    m = with_state(VariationalCategoricalHMM(K, init_params=""), categorical_posteriors())
    with pytest.raises(ValueError, match=match):
        _fit_with(m, symbols, **attrs)


@pytest.mark.parametrize(
    "attrs, match",
    [
        ({"means_posterior_": np.ones((K - 1, NF))}, "means_posterior_ must have shape"),
        ({"means_prior_": np.ones((K, NF + 1))}, "means_prior_"),
        ({"beta_posterior_": np.zeros(K)}, "positive"),
        ({"dof_posterior_": np.full(K, 0.5)}, "exceed n_features - 1"),
        ({"dof_prior_": np.ones(K + 1)}, "dof_prior_ must have shape"),
        ({"scale_posterior_": -np.ones((K, NF, NF))}, "positive-definite"),
        ({"scale_prior_": np.ones((K, NF))}, "scale_prior_ must be finite with shape"),
        ({"means_posterior_": np.full((K, NF), np.inf)}, "finite"),
    ],
)
def test_gaussian_bad_posteriors_raise(vectors, attrs, match):
    m = with_state(VariationalGaussianHMM(K, init_params=""), gaussian_posteriors("full"))
    with pytest.raises(ValueError, match=match):
        _fit_with(m, vectors, **attrs)


def test_bad_data_and_hyperparameters_raise(symbols, vectors):
    m = with_state(VariationalGaussianHMM(K, init_params=""), gaussian_posteriors("full"))
    for X, match in ((np.full((5, NF), np.nan), "NaN"), (np.ones((5, NF + 1)), "features")):
        for call in (m.fit, m.score, m.predict):
            with pytest.raises(ValueError, match=match):
                call(X)
    with pytest.raises(ValueError, match="covariance_type"):
        VariationalGaussianHMM(K, covariance_type="bogus").fit(vectors)
    with pytest.raises(ValueError, match="Symbols should be nonnegative"):
        VariationalCategoricalHMM(K).fit(-symbols - 1)
    with pytest.raises(ValueError, match="integers"):
        VariationalCategoricalHMM(K).fit(symbols.astype(float) + 0.5)
    with pytest.raises(ValueError, match="beta_prior"):
        VariationalGaussianHMM(K, beta_prior=np.ones(K + 1)).fit(vectors)


def test_degenerate_fits_raise_instead_of_nan(vectors):
    """A k-means cluster of one frame: its Wishart start is improper (hmmlearn: -inf /
    NaN bounds); a covariance-only M-step off the means: not positive definite."""
    with pytest.raises(ValueError, match="exceed n_features - 1"):
        VariationalGaussianHMM(6, covariance_type="diag", random_state=0).fit(vectors[:8])
    m = with_state(VariationalGaussianHMM(K, init_params="", params="c", n_iter=5),
                   gaussian_posteriors("full"))  # fmt: skip
    try:
        m.fit(vectors)
    except ValueError as e:
        assert "positive-definite" in str(e)
    else:
        assert np.isfinite(list(m.monitor_.history)).all()


# --------------------------------------------------------------------------- model files


def _fitted_models(symbols, vectors):
    yield VariationalCategoricalHMM(K, n_iter=4, random_state=0).fit(symbols, [150, 50]), symbols
    for ct in COVARIANCE_TYPES:
        m = VariationalGaussianHMM(K, covariance_type=ct, n_iter=4, random_state=0)
        yield m.fit(vectors, [150, 50]), vectors


def test_save_load_bit_for_bit(symbols, vectors, tmp_path):
    for model, X in _fitted_models(symbols, vectors):
        path = tmp_path / "m.fgm"
        model.save(path)
        loaded = fastgen.load(path)
        for name in model.emission_family.state_attributes:
            a, b = getattr(model, name), getattr(loaded, name)
            assert type(a) is type(b) and np.array_equal(a, b), name
            if isinstance(a, np.ndarray):
                assert a.dtype == b.dtype and a.shape == b.shape, name
        assert list(loaded.monitor_.history) == list(model.monitor_.history)
        assert loaded.score(X) == model.score(X)
        assert_array_equal(loaded.predict(X), model.predict(X))
        summary = fastgen.info(path)["summary"]
        assert summary["fitted"] is True and summary["lower_bound"] == model.monitor_.history[-1]
        # VB-EM goes on identically from the restored posteriors
        for m in (model, loaded):
            m.set_params(init_params="", n_iter=2)
            m.fit(X)
        assert list(loaded.monitor_.history) == list(model.monitor_.history)


def test_tampered_posteriors_are_refused(symbols, vectors, tmp_path):
    models = dict(zip(["categorical", *COVARIANCE_TYPES],
                      (m for m, _ in _fitted_models(symbols, vectors)), strict=True))  # fmt: skip
    bad = {
        "categorical": {
            "state.emissionprob_posterior_.npy": [np.full((K, NS), np.nan), -np.ones((K, NS)),
                                                  np.ones((K, NS + 1)), np.ones((K, NS), int)],
            "state.transmat_posterior_.npy": [np.zeros((K, K)), np.ones((K + 1, K))],
            "state.startprob_prior_.npy": [np.full(K, np.inf)],
        },
        "full": {
            "state.scale_posterior_.npy": [-np.ones((K, NF, NF)), np.ones((K, NF, NF)),
                                           np.ones((K, NF))],
            "state.beta_posterior_.npy": [np.zeros(K), np.ones(K + 1)],
            "state.dof_posterior_.npy": [np.full(K, np.nan)],
            "state.means_posterior_.npy": [np.full((K, NF), np.inf), np.ones((K, NF + 1))],
        },
        "diag": {"state.scale_prior_.npy": [np.zeros((K, NF)), np.ones((K, NF, NF))]},
        "spherical": {"state.scale_posterior_.npy": [-np.ones(K), np.ones((K, NF))]},
        "tied": {"state.scale_posterior_.npy": [np.ones((K, NF, NF)), -np.eye(NF)]},
    }  # fmt: skip
    for kind, members in bad.items():
        path = tmp_path / f"{kind}.fgm"
        models[kind].save(path)
        for name, arrays in members.items():
            for array in arrays:
                out = tamper(path, tmp_path / "bad.fgm", members={name: npy(array)})
                with pytest.raises(ModelFileError):
                    fastgen.load(out)


# --------------------------------------------------------------------------- Dask


@pytest.mark.parametrize("kind", ["categorical", "full", "diag"])
@pytest.mark.parametrize("init_params", ["", "default"])
def test_dask_fit_equals_local_fit(symbols, vectors, kind, init_params):
    dask = pytest.importorskip("dask")
    db = pytest.importorskip("dask.bag")
    from fastgen import dask as fd

    X = symbols if kind == "categorical" else vectors
    bounds = np.cumsum([0, *LENGTHS["ragged"]])
    seqs = [X[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    models = []
    for _ in range(2):
        if kind == "categorical":
            m = VariationalCategoricalHMM(K, n_iter=6, tol=-np.inf, random_state=0)
            state = categorical_posteriors()
        else:
            m = VariationalGaussianHMM(K, covariance_type=kind, n_iter=6, tol=-np.inf,
                                       random_state=0)  # fmt: skip
            state = gaussian_posteriors(kind)
        if init_params == "":
            m.set_params(init_params="")
            with_state(m, state)
        models.append(m)
    local, dist = models
    local.fit(seqs)
    with dask.config.set(scheduler="sync"):
        assert fd.fit_hmm(dist, db.from_sequence(seqs, npartitions=3)) is dist
    for name in local.emission_family.state_attributes:
        assert_allclose(getattr(dist, name), getattr(local, name), rtol=1e-10, err_msg=name)
    assert_allclose(list(dist.monitor_.history), list(local.monitor_.history), rtol=1e-10)


def test_docstring_examples_run():
    import doctest

    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    for cls in (VariationalCategoricalHMM, VariationalGaussianHMM):
        for test in finder.find(cls, cls.__name__, globs={}):
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted >= 8 and result.failed == 0, result
