"""Per-sequence log-likelihoods (``score_sequences``) for every HMM family: each equals
hmmlearn's ``score`` of that sequence alone, they sum to ``score``, in one call."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastgen.hmm as F
from fastgen.hmm import _base

H = pytest.importorskip("hmmlearn.hmm")

LENGTHS = [40, 1, 75, 12, 90]


def _families():
    rng = np.random.RandomState(3)
    n = sum(LENGTHS)
    gauss = rng.randn(n, 2) + rng.randint(0, 2, (n, 1)) * 3
    return {
        "gaussian-full": (F.GaussianHMM(3, covariance_type="full", n_iter=3, random_state=0),
                          H.GaussianHMM, gauss),
        "categorical": (F.CategoricalHMM(3, n_iter=3, random_state=0), H.CategoricalHMM,
                        rng.randint(0, 4, (n, 1))),
        "gmm": (F.GMMHMM(2, n_mix=2, n_iter=3, random_state=0), H.GMMHMM, gauss),
        "poisson": (F.PoissonHMM(2, n_iter=3, random_state=0), H.PoissonHMM,
                    rng.poisson(3.0, (n, 3))),
    }  # fmt: skip


FAMILIES = _families()


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("implementation", ["log", "scaling"])
def test_each_sequence_scores_as_hmmlearn_scores_it_alone(name, implementation):
    ours, ref_cls, X = FAMILIES[name]
    ours.set_params(implementation=implementation).fit(X, LENGTHS)
    kw = {k: getattr(ours, k) for k in ("n_mix", "covariance_type") if hasattr(ours, k)}
    ref = ref_cls(ours.n_components, implementation=implementation, init_params="", **kw)
    for attr in ("startprob_", "transmat_", "means_", "covars_", "emissionprob_",
                 "weights_", "lambdas_", "n_features"):
        if attr in vars(ours) or (attr == "covars_" and hasattr(ours, "means_")):
            setattr(ref, attr, np.copy(getattr(ours, attr)))
    got = ours.score_sequences(X, LENGTHS)
    assert got.shape == (len(LENGTHS),) and got.dtype == np.float64
    ends = np.cumsum(LENGTHS)
    want = [ref.score(X[e - n : e]) for e, n in zip(ends, LENGTHS, strict=True)]
    assert_allclose(got, want, rtol=1e-8)
    assert_allclose(got.sum(), ours.score(X, LENGTHS), rtol=1e-12)


def test_variational_and_list_input():
    rng = np.random.RandomState(4)
    seqs = [rng.randn(n, 2) for n in LENGTHS]
    model = F.VariationalGaussianHMM(2, n_iter=3, random_state=0).fit(seqs)
    got = model.score_sequences(seqs)
    assert_allclose(got, [model.score(s) for s in seqs], rtol=1e-10)
    assert_array_equal(model.score_sequences(np.concatenate(seqs), LENGTHS), got)


def test_impossible_sequence_is_minus_inf_and_others_unaffected():
    model = F.CategoricalHMM(2, init_params="")
    model.startprob_ = np.array([1.0, 0.0])
    model.transmat_ = np.eye(2)
    model.emissionprob_ = np.array([[1.0, 0.0], [0.0, 1.0]])
    X = np.array([[0], [0], [1], [0]])
    got = model.score_sequences(X, [2, 2])
    assert got[0] == 0.0 and got[1] == -np.inf


def test_errors_and_example():
    with pytest.raises(Exception, match="not fitted"):
        F.GaussianHMM(2).score_sequences(np.zeros((3, 1)))
    model = F.GaussianHMM(2, random_state=0).fit(np.random.RandomState(0).randn(50, 1))
    with pytest.raises(ValueError, match="lengths"):
        model.score_sequences(np.zeros((5, 1)), [2, 2])
    finder = doctest.DocTestFinder()
    test = next(t for t in finder.find(_base.BaseHMM.score_sequences) if t.examples)
    runner = doctest.DocTestRunner()
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
