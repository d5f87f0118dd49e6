"""Direct tests of the Naive Bayes Numba kernels on small hand-built arrays."""

import numpy as np
import scipy.sparse as sp
from numpy.testing import assert_array_equal

from fastgen._kernels import _nb


def test_class_counts_weighted_and_unseen_class():
    cls = np.array([0, 2, 2, 0, 2], dtype=np.int64)
    w = np.array([1.0, 0.5, 2.0, 3.0, 0.0])
    out = _nb.class_counts(cls, w, 4)
    assert out.dtype == np.float64
    assert_array_equal(out, [4.0, 0.0, 2.5, 0.0])


def test_class_counts_empty():
    out = _nb.class_counts(np.zeros(0, np.int64), np.zeros(0), 3)
    assert_array_equal(out, np.zeros(3))


def test_dense_counts_match_hand_computation():
    X = np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 1.0], [4.0, 1.0, 0.0]])
    cls = np.array([1, 0, 1], dtype=np.int64)
    w = np.array([2.0, 1.0, 0.5])
    out = _nb.class_feature_counts_dense(X, cls, w, 2)
    expected = np.array([[0.0, 3.0, 1.0], [2.0 + 2.0, 0.5, 4.0]])
    assert out.shape == (2, 3) and out.dtype == np.float64
    assert_array_equal(out, expected)


def test_csr_counts_match_dense_and_sum_duplicates():
    # row 0 holds column 2 twice (duplicates must add up, as in scipy's matmul)
    indptr = np.array([0, 3, 4, 4, 6], dtype=np.int64)
    indices = np.array([2, 0, 2, 1, 0, 3], dtype=np.int64)
    data = np.array([1.0, 5.0, 2.0, 7.0, 1.0, 1.0])
    cls = np.array([0, 1, 1, 0], dtype=np.int64)
    w = np.array([1.0, 2.0, 9.0, 0.5])
    out = _nb.class_feature_counts_csr(indptr, indices, data, cls, w, 2, 4)
    dense = sp.csr_matrix((data, indices, indptr), shape=(4, 4)).toarray()
    assert_array_equal(dense[0], [5.0, 0.0, 3.0, 0.0])
    ref = _nb.class_feature_counts_dense(dense, cls, w, 2)
    assert_array_equal(out, ref)
    assert_array_equal(out, [[5.5, 0.0, 3.0, 0.5], [0.0, 14.0, 0.0, 0.0]])


def test_csr_counts_equal_scipy_product_bitwise():
    rng = np.random.RandomState(0)
    X = sp.random(50, 20, density=0.3, format="csr", random_state=rng)
    X.data = rng.rand(X.nnz) * 10
    cls = rng.randint(0, 3, 50).astype(np.int64)
    w = rng.rand(50)
    Y = np.zeros((50, 3))
    Y[np.arange(50), cls] = 1.0
    Y *= w[:, None]
    expected = np.asarray(Y.T @ X)
    out = _nb.class_feature_counts_csr(
        X.indptr.astype(np.int64), X.indices.astype(np.int64), X.data, cls, w, 3, 20
    )
    assert_array_equal(out, expected)


def test_category_counts_packed_layout():
    X = np.array([[0, 2], [1, 0], [1, 2], [0, 1]], dtype=np.int64)
    cls = np.array([0, 1, 1, 0], dtype=np.int64)
    w = np.array([1.0, 2.0, 3.0, 4.0])
    offsets = np.array([0, 3, 6], dtype=np.int64)  # feature 0 padded to 3 categories
    out = _nb.class_category_counts(X, cls, w, 2, offsets)
    assert out.shape == (2, 6)
    assert_array_equal(out[:, 0:3], [[5.0, 0.0, 0.0], [0.0, 5.0, 0.0]])
    assert_array_equal(out[:, 3:6], [[0.0, 4.0, 1.0], [2.0, 0.0, 3.0]])
    # same as np.bincount per class and feature
    for c in range(2):
        for j in range(2):
            m = cls == c
            ref = np.bincount(X[m, j], weights=w[m], minlength=3)
            assert_array_equal(out[c, offsets[j] : offsets[j + 1]], ref)
