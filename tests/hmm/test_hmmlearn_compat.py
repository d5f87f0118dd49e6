"""hmmlearn behaviours the engine and the families share: warnings when ``fit``
overwrites set parameters, ``_check_and_set_n_features``, hmmlearn's other spherical
``covars_`` shapes, one sequence given by its length, and ``BaseHMM`` subclassed
through hmmlearn's hooks."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastgen.hmm import BaseHMM, CategoricalHMM, GaussianHMM, PoissonHMM

H = pytest.importorskip("hmmlearn.hmm")


def _overwritten(caplog: pytest.LogCaptureFixture) -> set[str]:
    return {r.args[0] for r in caplog.records if "will be overwritten" in r.getMessage()}


@pytest.mark.parametrize(
    "cls, letter, attribute, value, X",
    [
        (GaussianHMM, "m", "means_", np.zeros((2, 2)), np.random.RandomState(0).randn(40, 2)),
        (GaussianHMM, "c", "covars_", np.ones((2, 2)), np.random.RandomState(0).randn(40, 2)),
        (CategoricalHMM, "e", "emissionprob_", np.full((2, 3), 1 / 3),
         np.arange(30)[:, None] % 3),
        (PoissonHMM, "l", "lambdas_", np.ones((2, 2)), np.arange(40).reshape(20, 2) % 5),
        (PoissonHMM, "s", "startprob_", np.array([0.5, 0.5]), np.arange(40).reshape(20, 2) % 5),
    ],
)  # fmt: skip
def test_fit_warns_when_init_params_overwrites(caplog, cls, letter, attribute, value, X):
    model = cls(2, n_iter=1, random_state=0)
    setattr(model, attribute, value)
    with caplog.at_level(logging.WARNING, logger="fastgen.hmm"):
        model.fit(X)
    assert _overwritten(caplog) == {attribute}
    caplog.clear()
    model = cls(2, n_iter=1, random_state=0, init_params=model.init_params.replace(letter, ""))
    setattr(model, attribute, value)
    with caplog.at_level(logging.WARNING, logger="fastgen.hmm"):
        model.fit(X)
    assert not _overwritten(caplog)


def test_no_overwrite_warning_when_nothing_is_set(caplog):
    X = np.random.RandomState(0).randn(40, 2)
    with caplog.at_level(logging.WARNING, logger="fastgen.hmm"):
        GaussianHMM(2, n_iter=1, random_state=0).fit(X)
    assert not _overwritten(caplog)


@pytest.mark.parametrize(
    "covars",
    [[2.0, 3.0], [[2.0], [3.0]], [[[[2.0]]], [[[3.0]]]], [[2.0, 2.0, 2.0], [3.0, 3.0, 3.0]],
     [np.eye(3) * 2, np.eye(3) * 3]],
    ids=["vector", "column", "nested", "tiled", "identity-multiples"],
)  # fmt: skip
def test_spherical_covars_in_hmmlearns_shapes(covars):
    nf = 3 if np.ndim(covars) >= 2 and np.shape(covars)[1] == 3 else 1
    model = GaussianHMM(2, covariance_type="spherical", init_params="")
    model.covars_ = covars
    assert_array_equal(model._covars_, [2.0, 3.0])
    model.means_ = np.zeros((2, nf))
    assert_allclose(model.covars_, [np.eye(nf) * 2, np.eye(nf) * 3])


@pytest.mark.parametrize(
    "covars",
    [[[2.0, 3.0], [3.0, 3.0]], [np.diag([2.0, 3.0]), np.eye(2)], [[[2.0, 0.5], [0.5, 2.0]]] * 2,
     [1.0, 2.0, 3.0], [0.0, 1.0]],
    ids=["unequal-row", "unequal-diagonal", "off-diagonal", "too-many", "zero"],
)  # fmt: skip
def test_spherical_covars_refused(covars):
    model = GaussianHMM(2, covariance_type="spherical")
    with pytest.raises(ValueError, match="spherical"):
        model.covars_ = covars


def test_parameters_given_as_lists_are_kept():
    """hmmlearn's test_underflow_from_scaling: set lists are not re-initialised (the
    spherical ``covars_`` of list ``means_`` once read as unset)."""
    X = np.r_[np.zeros(20), 5 + np.zeros(20)][:, None] + np.random.RandomState(0).randn(40, 1)
    models = []
    for cls in (H.GaussianHMM, GaussianHMM):
        m = cls(2, covariance_type="spherical", init_params="", n_iter=2, tol=-np.inf)
        m.startprob_, m.transmat_ = [0.0, 1.0], [[0.4, 0.6], [0.6, 0.4]]
        m.means_, m.covars_ = [[0], [5]], [[1], [1]]
        models.append(m.fit(X))
    assert_allclose(models[1].monitor_.history, models[0].monitor_.history, rtol=1e-8)


def test_lengths_may_be_one_integer():
    X = np.random.RandomState(0).randn(30, 2)
    a = GaussianHMM(2, n_iter=2, random_state=0).fit(X, 30)
    b = GaussianHMM(2, n_iter=2, random_state=0).fit(X)
    assert_array_equal(a.means_, b.means_)
    assert a.score(X, 30) == b.score(X)


def test_check_and_set_n_features():
    g = GaussianHMM(2)
    g._check_and_set_n_features(np.zeros((4, 3)))
    assert g.n_features == 3
    with pytest.raises(ValueError, match="3"):
        g._check_and_set_n_features(np.zeros((4, 2)))
    c = CategoricalHMM(2)
    c._check_and_set_n_features(np.array([[0, 4, 1]]).T)
    assert c.n_features == 5
    for bad in (np.array([[0.0, 1.0]]).T, np.array([[0, -1]]).T, np.array([[0, 5]]).T):
        with pytest.raises(ValueError):
            c._check_and_set_n_features(bad)
    p = PoissonHMM(2)
    with pytest.raises(ValueError, match="integer"):
        p._check_and_set_n_features(np.array([[0.5, 1.0]]))


class FixedFrames(BaseHMM):
    """hmmlearn's way to write an HMM: frame log-likelihoods from a hook."""

    def _compute_log_likelihood(self, X):
        return np.log(np.c_[np.where(X[:, 0] > 0, 0.9, 0.1), np.where(X[:, 0] > 0, 0.2, 0.8)])

    def _generate_sample_from_state(self, state, random_state):
        return [float(state)]


def test_base_hmm_subclassed_through_hooks():
    X = np.array([[1.0], [1.0], [0.0], [1.0], [1.0]])
    model = FixedFrames(2, init_params="")
    model.startprob_, model.transmat_ = [0.5, 0.5], [[0.7, 0.3], [0.3, 0.7]]
    assert round(model.score(X), 4) == -3.3725  # Wikipedia's forward-backward example
    assert_array_equal(model.predict(X), [0, 0, 1, 0, 0])
    obs, states = model.sample(20, random_state=0)
    assert_array_equal(obs[:, 0], states)
    model.n_iter = 3
    model.fit(X)  # learns the chain only
    assert model.transmat_.shape == (2, 2) and model.n_features == 1
    with pytest.raises(NotImplementedError):
        BaseHMM(2, init_params="").fit(X)
