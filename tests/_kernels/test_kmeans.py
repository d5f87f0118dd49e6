"""The k-means Lloyd step kernel and the k-means initialisation of the Gaussian HMMs:
against a NumPy reference, scikit-learn's KMeans, thread counts and edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastgen
from fastgen._kernels import _kmeans
from fastgen.hmm._gaussian import kmeans


def _step(X, centers, n_chunks):
    n, d = X.shape
    k = len(centers)
    labels = np.empty(n, dtype=np.int64)
    sums, counts, inertia = np.empty((n_chunks, k, d)), np.empty((n_chunks, k)), np.empty(n_chunks)
    _kmeans.lloyd_chunks(X, centers, labels, sums, counts, inertia, n_chunks, 0, 1)
    return labels, sums, counts, inertia


@pytest.mark.parametrize("n_chunks", [1, 3, 64])
def test_lloyd_step_against_numpy(n_chunks):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 5))
    X[:100] = X[0]  # repeated rows
    centers = rng.normal(size=(4, 5))
    centers[3] = centers[1]  # equal centres: the first one wins
    labels, sums, counts, inertia = _step(X, centers, n_chunks)
    dist = ((X[:, None, :] - centers[None]) ** 2).sum(axis=2)
    assert_array_equal(labels, dist.argmin(axis=1))
    assert not (labels == 3).any()
    assert_array_equal(counts.sum(axis=0), np.bincount(labels, minlength=4))
    want = np.zeros((4, 5))
    np.add.at(want, labels, X)
    assert_allclose(sums.sum(axis=0), want, rtol=1e-12, atol=1e-12)
    assert_allclose(inertia.sum(), dist.min(axis=1).sum(), rtol=1e-12)


def test_lloyd_step_refuses_mismatched_arrays():
    X = np.zeros((10, 2))
    with pytest.raises(ValueError, match="disagree"):
        _kmeans.lloyd_chunks(X, np.zeros((3, 3)), np.empty(10, dtype=np.int64),
                             np.empty((1, 3, 2)), np.empty((1, 3)), np.empty(1), 1, 0, 1)
    with pytest.raises(ValueError, match="disagree"):
        _kmeans.lloyd_chunks(X, np.zeros((3, 2)), np.empty(9, dtype=np.int64),
                             np.empty((1, 3, 2)), np.empty((1, 3)), np.empty(1), 1, 0, 1)
    with pytest.raises(ValueError, match="disagree"):  # fewer partial rows than chunks
        _kmeans.lloyd_chunks(X, np.zeros((3, 2)), np.empty(10, dtype=np.int64),
                             np.empty((1, 3, 2)), np.empty((1, 3)), np.empty(1), 2, 0, 1)


@pytest.mark.parametrize("seed", range(3))
def test_kmeans_finds_what_scikit_learn_finds(seed):
    cluster = pytest.importorskip("sklearn.cluster")
    rng = np.random.RandomState(seed)
    truth = rng.randn(5, 3) * 6
    X = truth[rng.randint(0, 5, 3000)] + rng.randn(3000, 3)
    got = kmeans(X, 5, np.random.RandomState(seed))
    ref = cluster.KMeans(5, n_init=10, random_state=seed).fit(X)
    inertia = ((X[:, None] - got[None]) ** 2).sum(axis=2).min(axis=1).sum()
    assert inertia <= ref.inertia_ * 1.001
    order = lambda c: c[np.lexsort(c.T)]  # noqa: E731
    assert_allclose(order(got), order(ref.cluster_centers_), atol=1e-6)


def test_kmeans_does_not_depend_on_the_threads():
    rng = np.random.RandomState(1)
    X = rng.randn(60_000, 8) + 3.0 * rng.randint(0, 6, (60_000, 1))
    results = []
    for n in (1, 2, 3):
        fastgen.set_num_threads(n)
        try:
            results.append(kmeans(X, 6, np.random.RandomState(0), n_init=2))
        finally:
            fastgen.set_num_threads(None)
    assert_array_equal(results[0], results[1])
    assert_array_equal(results[0], results[2])


def test_kmeans_edge_cases():
    X = np.repeat(np.arange(3.0)[:, None], 4, axis=0)  # 3 distinct points, 12 rows
    centers = kmeans(X, 3, np.random.RandomState(0))
    assert_array_equal(np.sort(centers[:, 0]), [0.0, 1.0, 2.0])
    same = kmeans(np.zeros((5, 2)), 2, np.random.RandomState(0))  # every row equal
    assert np.isfinite(same).all()
    with pytest.raises(ValueError, match="n_samples=2 should be >= n_components=3"):
        kmeans(np.zeros((2, 1)), 3, np.random.RandomState(0))
