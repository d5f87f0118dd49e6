"""``filter``: p(z_t | x_1..t), against a brute-force log-space forward pass, causal,
equal to the smoothed posteriors at each sequence's last frame, for every family."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from filter_cases import CASES, LENGTHS, brute_force_filter
from numpy.testing import assert_allclose

import fastgen.hmm as F
from fastgen.hmm import _base


@pytest.mark.parametrize("name", CASES)
def test_filter_is_the_normalised_forward_pass(name):
    model, X = CASES[name]
    got = model.filter(X, LENGTHS)
    assert got.shape == (len(X), model.n_components)
    assert_allclose(got.sum(axis=1), 1.0, rtol=1e-12)
    assert_allclose(got, brute_force_filter(model, X, LENGTHS), rtol=1e-8, atol=1e-12)
    # at each sequence's last frame filtering and smoothing condition on the same data
    ends = np.cumsum(LENGTHS) - 1
    assert_allclose(got[ends], model.predict_proba(X, LENGTHS)[ends], rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("name", ["gaussian-full", "categorical"])
def test_filter_does_not_look_ahead(name):
    model, X = CASES[name]
    whole = model.filter(X[:120])
    for t in (0, 1, 37, 119):
        assert_allclose(model.filter(X[: t + 1])[-1], whole[t], rtol=1e-12, atol=1e-15)
    smoothed = model.predict_proba(X[:120])
    assert not np.allclose(whole[:-1], smoothed[:-1])  # smoothing does look ahead


def test_impossible_frames_give_zero_rows():
    model = F.CategoricalHMM(2, init_params="")
    model.startprob_ = np.array([1.0, 0.0])
    model.transmat_ = np.eye(2)
    model.emissionprob_ = np.array([[1.0, 0.0], [0.0, 1.0]])
    got = model.filter(np.array([[0], [0], [1], [0]]))
    assert_allclose(got[:2], [[1, 0], [1, 0]])
    assert (got[2:] == 0).all()


def test_example_runs():
    test = next(t for t in doctest.DocTestFinder().find(_base.BaseHMM.filter) if t.examples)
    runner = doctest.DocTestRunner()
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


def test_log_frames_entry_point():
    from fastgen._kernels import hmm as k

    model, X = CASES["gaussian-full"]
    family = model.emission_family(model)
    em = family.emission_model(family.prepare(family.validate_X(X)))
    assert_allclose(k.log_frames(em), family.log_likelihood(family.validate_X(X)),
                    rtol=1e-12, atol=1e-12)
    with pytest.raises(TypeError, match="EmissionArrays"):
        k.log_frames(np.zeros((2, 2)))
