"""The count families' shared helpers (``fastgen.hmm._util``): validated counts, their
frame log-likelihoods by one product, products in fixed row blocks."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastgen
from fastgen.hmm._util import (
    CountFrames,
    blocked_matmul,
    blocked_tmatmul,
    row_sums,
    validate_counts,
)


@pytest.fixture
def threads():
    before = fastgen.get_num_threads()
    yield
    fastgen.set_num_threads(before)


@pytest.mark.parametrize("n", [0, 1, 2047, 2048, 2049, 10_000])
def test_blocked_products_match_numpy_whatever_the_threads(threads, n):
    rng = np.random.RandomState(n)
    A, B, G = rng.rand(n, 10), rng.rand(10, 8), rng.rand(n, 8)
    results = []
    for k in (1, 2, 3):
        fastgen.set_num_threads(k)
        results.append((blocked_matmul(A, B), blocked_tmatmul(G, A), row_sums(A)))
    for got in results[1:]:  # bit for bit: the blocks do not depend on the threads
        for a, b in zip(got, results[0], strict=True):
            assert a.tobytes() == b.tobytes()
    mm, tmm, rs = results[0]
    assert_allclose(mm, A @ B, rtol=1e-13)
    assert_allclose(tmm, G.T @ A, rtol=1e-12, atol=1e-12)
    assert_allclose(rs, A.sum(axis=1), rtol=1e-13)


def test_count_frames_log_likelihood():
    rng = np.random.RandomState(0)
    X = rng.poisson(2.0, (50, 4)).astype(np.float64)
    row = rng.randn(50)
    rates = rng.rand(3, 4)
    rates[1, 2] = 0.0
    state = rng.randn(3)
    frames = CountFrames(X, row)
    assert_array_equal(frames.X, X)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = X[:, None, :] * np.log(rates)[None]
    want = np.where(X[:, None, :] == 0, 0.0, terms).sum(axis=2)  # 0 log 0 = 0
    want = want + row[:, None] + state
    got = frames.log_likelihood(rates, state)
    assert_array_equal(np.isneginf(got), np.isneginf(want))
    finite = np.isfinite(want)
    assert_allclose(got[finite], want[finite], rtol=1e-12)
    gamma = rng.rand(50, 3)
    assert_allclose(frames.weighted_counts(gamma), gamma.T @ X, rtol=1e-12)


@pytest.mark.parametrize(
    "X, match",
    [([[1, -1]], "non-negative"), ([[0.5, 1.0]], "integer"), ([["a", "b"]], "numeric|convert")],
)
def test_validate_counts_refuses(X, match):
    with pytest.raises(ValueError, match=match):
        validate_counts(np.array(X), "SomeHMM")


def test_validate_counts_converts():
    X = validate_counts(np.array([[1, 2]], dtype=np.uint8), "SomeHMM")
    assert X.dtype == np.float64 and X.flags.c_contiguous
    assert_array_equal(X, [[1.0, 2.0]])


def test_digamma_and_gammaln_match_scipy():
    """The variational HMMs' special functions, computed without importing scipy.special."""
    from scipy import special

    from fastgen.hmm._util import digamma, gammaln

    x = np.concatenate([np.linspace(1e-6, 30, 30001), np.logspace(-8, 10, 1801)])
    assert_allclose(digamma(x), special.digamma(x), rtol=1e-12, atol=1e-13)
    assert_allclose(gammaln(x), special.gammaln(x), rtol=1e-13, atol=1e-13)
    assert np.isnan(digamma(np.array([0.0, -1.5, np.nan]))).all()
    assert digamma(2.5) == pytest.approx(special.digamma(2.5), rel=1e-15)
    assert gammaln(np.ones((2, 3))).shape == (2, 3)
