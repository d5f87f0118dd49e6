"""The compiled Naive Bayes kernels (fastgen._kernels._nb, Cython).

Results must be bit-identical to numpy's ``np.bincount(..., weights=...)`` and scipy's
``Y.T @ X`` (same summation order), for every index dtype and shape, empty ones
included; malformed input must raise ValueError, never read or write out of bounds.
"""

import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from fastgen._kernels import _nb

INDEX_DTYPES = [np.int32, np.int64]


def assert_bitwise_equal(got: np.ndarray, expected: np.ndarray) -> None:
    """Same dtype, shape and bytes (tells -0.0 from 0.0, unlike assert_array_equal)."""
    expected = np.asarray(expected)
    assert got.dtype == np.float64 and expected.dtype == np.float64
    assert got.shape == expected.shape
    if got.tobytes() != expected.tobytes():
        diff = np.flatnonzero(got.ravel() != expected.ravel())
        raise AssertionError(f"{diff.size} entries differ, first at flat index {diff[:5]}")


def one_hot(cls: np.ndarray, w: np.ndarray, n_classes: int) -> np.ndarray:
    Y = np.zeros((cls.shape[0], n_classes))
    Y[np.arange(cls.shape[0]), cls] = w
    return Y


def readonly(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.setflags(write=False)
    return a


def test_module_is_compiled():
    assert _nb.__file__.endswith((".so", ".pyd")), _nb.__file__


# --------------------------------------------------------------------------- hand-built


def test_class_counts_weighted_and_unseen_class():
    cls = np.array([0, 2, 2, 0, 2], dtype=np.int64)
    w = np.array([1.0, 0.5, 2.0, 3.0, 0.0])
    out = _nb.class_counts(cls, w, 4)
    assert out.dtype == np.float64
    assert_array_equal(out, [4.0, 0.0, 2.5, 0.0])


def test_dense_counts_match_hand_computation():
    X = np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 1.0], [4.0, 1.0, 0.0]])
    cls = np.array([1, 0, 1], dtype=np.int64)
    w = np.array([2.0, 1.0, 0.5])
    out = _nb.class_feature_counts_dense(X, cls, w, 2)
    expected = np.array([[0.0, 3.0, 1.0], [2.0 + 2.0, 0.5, 4.0]])
    assert out.shape == (2, 3) and out.dtype == np.float64
    assert_array_equal(out, expected)


@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
def test_csr_counts_match_dense_and_sum_duplicates(index_dtype):
    # row 0 holds column 2 twice (duplicates must add up, as in scipy's matmul)
    indptr = np.array([0, 3, 4, 4, 6], dtype=index_dtype)
    indices = np.array([2, 0, 2, 1, 0, 3], dtype=index_dtype)
    data = np.array([1.0, 5.0, 2.0, 7.0, 1.0, 1.0])
    cls = np.array([0, 1, 1, 0], dtype=np.int64)
    w = np.array([1.0, 2.0, 9.0, 0.5])
    out = _nb.class_feature_counts_csr(indptr, indices, data, cls, w, 2, 4)
    dense = sp.csr_matrix((data, indices, indptr), shape=(4, 4)).toarray()
    assert_array_equal(dense[0], [5.0, 0.0, 3.0, 0.0])
    assert_bitwise_equal(out, _nb.class_feature_counts_dense(dense, cls, w, 2))
    assert_array_equal(out, [[5.5, 0.0, 3.0, 0.5], [0.0, 14.0, 0.0, 0.0]])


def test_category_counts_packed_layout():
    X = np.array([[0, 2], [1, 0], [1, 2], [0, 1]], dtype=np.int64)
    cls = np.array([0, 1, 1, 0], dtype=np.int64)
    w = np.array([1.0, 2.0, 3.0, 4.0])
    offsets = np.array([0, 3, 6], dtype=np.int64)  # feature 0 padded to 3 categories
    out = _nb.class_category_counts(X, cls, w, 2, offsets)
    assert out.shape == (2, 6)
    assert_array_equal(out[:, 0:3], [[5.0, 0.0, 0.0], [0.0, 5.0, 0.0]])
    assert_array_equal(out[:, 3:6], [[0.0, 4.0, 1.0], [2.0, 0.0, 3.0]])


# --------------------------------------------------------------------------- random data


def _problem(seed: int, n: int, f: int, k: int, scale: float):
    """Random classes, weights (some zero) and values with a wide range of magnitudes."""
    rng = np.random.default_rng(seed)
    cls = rng.integers(0, k, n).astype(np.int64)
    w = rng.random(n) * scale
    w[rng.random(n) < 0.1] = 0.0
    X = rng.standard_normal((n, f)) * 10.0 ** rng.integers(-8, 9, (n, f))
    X[rng.random((n, f)) < 0.6] = 0.0
    return rng, cls, w, X


dims = dict(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 120),
    f=st.integers(0, 30),
    k=st.integers(1, 6),
    scale=st.sampled_from([1.0, 1e-9, 3.7, 1e9]),
)


@settings(max_examples=60)
@given(**dims)
def test_class_counts_equal_bincount(seed, n, f, k, scale):
    _, cls, w, _ = _problem(seed, n, f, k, scale)
    # (np.bincount of no samples is int64 even with weights)
    expected = np.bincount(cls, weights=w, minlength=k).astype(np.float64)
    assert_bitwise_equal(_nb.class_counts(cls, w, k), expected)


@settings(max_examples=60)
@given(**dims)
def test_dense_counts_equal_scipy_product(seed, n, f, k, scale):
    _, cls, w, X = _problem(seed, n, f, k, scale)
    Y = sp.csr_matrix(one_hot(cls, w, k))
    expected = np.asarray(Y.T @ X)  # scipy's csc x dense: sample by sample, axpy per row
    assert_bitwise_equal(_nb.class_feature_counts_dense(X, cls, w, k), expected)


@settings(max_examples=60)
@given(**dims, duplicates=st.booleans(), index_dtype=st.sampled_from(INDEX_DTYPES))
def test_csr_counts_equal_scipy_product(seed, n, f, k, scale, duplicates, index_dtype):
    rng, cls, w, X = _problem(seed, n, f, k, scale)
    Xs = sp.csr_matrix(X)
    indptr, indices, data = Xs.indptr, Xs.indices, Xs.data
    if duplicates and Xs.nnz:
        # every stored entry twice (second copy scaled), rows kept in order, unsorted
        rows = np.repeat(np.arange(n), np.diff(indptr))
        extra = rng.random(Xs.nnz) * 3.0
        rows = np.concatenate([rows, rows])
        order = np.argsort(rows, kind="stable")
        indices = np.concatenate([indices, indices[::-1]])[order]
        data = np.concatenate([data, extra])[order]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))])
    indptr = indptr.astype(index_dtype)
    indices = indices.astype(index_dtype)
    Xd = sp.csr_matrix((data, indices, indptr), shape=(n, f))  # duplicates kept
    assert Xd.nnz == indices.shape[0]
    expected = one_hot(cls, w, k).T @ Xd  # dense Y.T times CSR: csc_matvecs, in order
    got = _nb.class_feature_counts_csr(indptr, indices, data, cls, w, k, f)
    assert_bitwise_equal(got, np.asarray(expected))
    # the dense kernel on the summed-up matrix agrees too when there are no duplicates
    if not duplicates:
        assert_bitwise_equal(got, _nb.class_feature_counts_dense(X, cls, w, k))


@settings(max_examples=60)
@given(**dims, pad=st.integers(0, 2))
def test_category_counts_equal_bincount(seed, n, f, k, scale, pad):
    rng, cls, w, _ = _problem(seed, n, f, k, scale)
    n_categories = rng.integers(1, 6, f)
    widths = n_categories + pad
    offsets = np.zeros(f + 1, dtype=np.int64)
    np.cumsum(widths, out=offsets[1:])
    X = (rng.random((n, f)) * n_categories).astype(np.int64)
    width = int(offsets[-1])
    # every (class, feature block) cell gets its samples in order, as per-cell bincounts do
    flat = cls[:, None] * width + offsets[:-1][None, :] + X
    expected = np.bincount(flat.ravel(), weights=np.repeat(w, f), minlength=k * width)
    expected = expected.astype(np.float64)
    got = _nb.class_category_counts(X, cls, w, k, offsets)
    assert_bitwise_equal(got, expected.reshape(k, width))
    for c in range(min(k, 2)):
        for j in range(min(f, 3)):
            m = cls == c
            ref = np.bincount(X[m, j], weights=w[m], minlength=int(widths[j])).astype(float)
            assert_bitwise_equal(got[c, offsets[j] : offsets[j + 1]], ref)


# --------------------------------------------------------------------------- argument forms


def test_readonly_and_non_contiguous_inputs():
    _, cls, w, X = _problem(1, 40, 6, 3, 1.0)
    ref = _nb.class_feature_counts_dense(X, cls, w, 3)
    assert_bitwise_equal(_nb.class_feature_counts_dense(readonly(X), readonly(cls),
                                                        readonly(w), 3), ref)
    Xf = np.asfortranarray(X)
    strided_cls = np.repeat(cls, 2)[::2]
    assert_bitwise_equal(_nb.class_feature_counts_dense(Xf, strided_cls, w, 3), ref)
    Xs = sp.csr_matrix(X)
    got = _nb.class_feature_counts_csr(readonly(Xs.indptr), readonly(Xs.indices),
                                       readonly(Xs.data), readonly(cls), readonly(w), 3, 6)
    assert_bitwise_equal(got, _nb.class_feature_counts_csr(Xs.indptr, Xs.indices, Xs.data,
                                                           cls, w, 3, 6))
    codes = (np.abs(X) > 0).astype(np.int64)
    offsets = np.arange(0, 13, 2, dtype=np.int64)
    assert_bitwise_equal(
        _nb.class_category_counts(readonly(codes), cls, w, 3, readonly(offsets)),
        _nb.class_category_counts(codes, cls, w, 3, offsets),
    )


@pytest.mark.parametrize(
    "ptr_dtype, idx_dtype",
    [(np.int32, np.int64), (np.int64, np.int32), (np.uint32, np.uint32), (np.int16, np.int16)],
)
def test_csr_other_and_mixed_index_dtypes(ptr_dtype, idx_dtype):
    _, cls, w, X = _problem(2, 30, 5, 2, 1.0)
    Xs = sp.csr_matrix(X)
    ref = _nb.class_feature_counts_csr(Xs.indptr, Xs.indices, Xs.data, cls, w, 2, 5)
    got = _nb.class_feature_counts_csr(Xs.indptr.astype(ptr_dtype),
                                       Xs.indices.astype(idx_dtype), Xs.data, cls, w, 2, 5)
    assert_bitwise_equal(got, ref)


def test_integer_and_float32_values_convert_exactly():
    _, cls, w, X = _problem(3, 25, 4, 3, 1.0)
    Xi = np.round(X * 1e-3).astype(np.int64)
    assert_bitwise_equal(_nb.class_feature_counts_dense(Xi, cls.astype(np.int32), w, 3),
                         _nb.class_feature_counts_dense(Xi.astype(np.float64), cls, w, 3))
    X32 = X.astype(np.float32)
    assert_bitwise_equal(_nb.class_feature_counts_dense(X32, cls, w, 3),
                         _nb.class_feature_counts_dense(X32.astype(np.float64), cls, w, 3))


# --------------------------------------------------------------------------- empty inputs


@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("n, f", [(0, 0), (0, 4), (3, 0)])
def test_empty_inputs(n, f, index_dtype):
    cls = np.zeros(n, dtype=np.int64)
    w = np.ones(n)
    assert_bitwise_equal(_nb.class_counts(cls, w, 3), np.bincount(cls, w, 3).astype(float))
    assert_bitwise_equal(_nb.class_feature_counts_dense(np.zeros((n, f)), cls, w, 3),
                         np.zeros((3, f)))
    indptr = np.zeros(n + 1, dtype=index_dtype)
    indices = np.zeros(0, dtype=index_dtype)
    assert_bitwise_equal(
        _nb.class_feature_counts_csr(indptr, indices, np.zeros(0), cls, w, 3, f),
        np.zeros((3, f)),
    )
    offsets = np.arange(f + 1, dtype=np.int64) * 2
    assert_bitwise_equal(
        _nb.class_category_counts(np.zeros((n, f), np.int64), cls, w, 3, offsets),
        np.zeros((3, 2 * f)),  # no samples, or no features: nothing counted
    )


def test_empty_with_no_classes():
    empty = np.zeros(0, dtype=np.int64)
    assert _nb.class_counts(empty, np.zeros(0), 0).shape == (0,)
    assert _nb.class_feature_counts_dense(np.zeros((0, 2)), empty, np.zeros(0), 0).shape == (0, 2)
    out = _nb.class_feature_counts_csr(np.zeros(1, np.int64), empty, np.zeros(0), empty,
                                       np.zeros(0), 0, 2)
    assert out.shape == (0, 2)


# --------------------------------------------------------------------------- hostile inputs


@pytest.mark.parametrize("bad", [3, -1, 2**40, -(2**62)])
def test_out_of_range_class_id_raises(bad):
    cls = np.array([0, 1, bad, 2], dtype=np.int64)
    w = np.ones(4)
    X = np.ones((4, 3))
    Xs = sp.csr_matrix(X)
    with pytest.raises(ValueError, match=r"class_index\[2\]"):
        _nb.class_counts(cls, w, 3)
    with pytest.raises(ValueError, match=r"class_index\[2\]"):
        _nb.class_feature_counts_dense(X, cls, w, 3)
    with pytest.raises(ValueError, match=r"class_index\[2\]"):
        _nb.class_feature_counts_csr(Xs.indptr, Xs.indices, Xs.data, cls, w, 3, 3)
    with pytest.raises(ValueError, match=r"class_index\[2\]"):
        _nb.class_category_counts(np.zeros((4, 3), np.int64), cls, w, 3,
                                  np.arange(4, dtype=np.int64))


def test_uint64_class_id_wrapping_negative_raises():
    cls = np.array([0, 2**64 - 1], dtype=np.uint64)
    with pytest.raises(ValueError, match="outside"):
        _nb.class_counts(cls, np.ones(2), 2)


def test_any_class_id_is_refused_with_no_classes():
    with pytest.raises(ValueError, match="outside"):
        _nb.class_counts(np.zeros(2, np.int64), np.ones(2), 0)


def test_mismatched_lengths_raise():
    cls = np.zeros(3, dtype=np.int64)
    with pytest.raises(ValueError, match="entries"):
        _nb.class_counts(cls, np.ones(2), 2)
    with pytest.raises(ValueError, match="entries"):
        _nb.class_feature_counts_dense(np.ones((4, 2)), cls, np.ones(3), 2)
    with pytest.raises(ValueError, match="entries"):
        _nb.class_feature_counts_csr(np.zeros(5, np.int64), np.zeros(0, np.int64),
                                     np.zeros(0), cls, np.ones(3), 2, 2)
    with pytest.raises(ValueError, match="entries"):
        _nb.class_category_counts(np.zeros((3, 2), np.int64), cls, np.ones(4), 2,
                                  np.arange(3, dtype=np.int64))


def test_wrong_dtypes_and_dimensions_raise():
    with pytest.raises(TypeError, match="integer"):
        _nb.class_counts(np.array([0.0, 1.0]), np.ones(2), 2)
    with pytest.raises(TypeError, match="integer"):
        _nb.class_feature_counts_csr(np.array([0.0, 1.0]), np.array([0]), np.ones(1),
                                     np.zeros(1, np.int64), np.ones(1), 1, 1)
    with pytest.raises(TypeError, match="integer"):
        _nb.class_category_counts(np.zeros((1, 1)), np.zeros(1, np.int64), np.ones(1), 1,
                                  np.array([0, 1]))
    with pytest.raises(ValueError, match="2-dimensional"):
        _nb.class_feature_counts_dense(np.ones(3), np.zeros(3, np.int64), np.ones(3), 1)
    with pytest.raises(ValueError, match="1-dimensional"):
        _nb.class_counts(np.zeros((2, 1), np.int64), np.ones(2), 1)
    with pytest.raises(ValueError):
        _nb.class_counts(np.zeros(2, np.int64), np.ones(2), -1)


@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
@pytest.mark.parametrize("bad", [4, -1, 1000])
def test_out_of_range_column_index_raises(index_dtype, bad):
    indptr = np.array([0, 2, 3], dtype=index_dtype)
    indices = np.array([0, 1, bad], dtype=index_dtype)
    cls = np.array([0, 1], dtype=np.int64)
    with pytest.raises(ValueError, match=r"indices\[2\]"):
        _nb.class_feature_counts_csr(indptr, indices, np.ones(3), cls, np.ones(2), 2, 4)


@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
@pytest.mark.parametrize(
    "indptr",
    [
        [0, 3, 2],  # decreasing
        [0, 2, 4],  # past nnz (3)
        [-1, 1, 2],  # negative start
        [0, 2**30, 3],  # huge jump, then back
    ],
)
def test_bad_indptr_raises(index_dtype, indptr):
    indptr = np.array(indptr, dtype=index_dtype)
    cls = np.array([0, 1], dtype=np.int64)
    with pytest.raises(ValueError, match="indptr"):
        _nb.class_feature_counts_csr(indptr, np.array([0, 1, 2], dtype=index_dtype),
                                     np.ones(3), cls, np.ones(2), 2, 4)


def test_empty_indptr_and_short_data_raise():
    cls = np.array([0], dtype=np.int64)
    with pytest.raises(ValueError, match="indptr"):
        _nb.class_feature_counts_csr(np.zeros(0, np.int64), np.zeros(0, np.int64),
                                     np.zeros(0), np.zeros(0, np.int64), np.zeros(0), 1, 1)
    # three indices but only two values: indptr ends past what data holds
    with pytest.raises(ValueError, match="indptr"):
        _nb.class_feature_counts_csr(np.array([0, 3]), np.array([0, 1, 2]), np.ones(2), cls,
                                     np.ones(1), 1, 4)


def test_indices_outside_the_rows_read_are_not_checked():
    """Only ``indices[indptr[0]:indptr[-1]]`` is read, so only that part must be valid."""
    indptr = np.array([0, 2], dtype=np.int64)
    indices = np.array([0, 1, 99], dtype=np.int64)  # trailing slack, as scipy allows
    out = _nb.class_feature_counts_csr(indptr, indices, np.ones(3), np.zeros(1, np.int64),
                                       np.ones(1), 1, 2)
    assert_array_equal(out, [[1.0, 1.0]])


@pytest.mark.parametrize("bad", [2, -1, 3])
def test_category_code_outside_its_block_raises(bad):
    # widths 2 and 5: code 2 (or 3) in feature 0 would land inside feature 1's block
    X = np.array([[0, 4], [bad, 0]], dtype=np.int64)
    offsets = np.array([0, 2, 7], dtype=np.int64)
    cls = np.array([0, 1], dtype=np.int64)
    with pytest.raises(ValueError, match=r"X\[1, 0\]"):
        _nb.class_category_counts(X, cls, np.ones(2), 2, offsets)


@pytest.mark.parametrize(
    "offsets, match",
    [([0, 2, 1], "offsets"), ([-2, 0, 3], "offsets"), ([0, 2], "entries"),
     ([0, 2, 4, 6], "entries")],
)
def test_bad_offsets_raise(offsets, match):
    X = np.zeros((2, 2), dtype=np.int64)
    with pytest.raises(ValueError, match=match):
        _nb.class_category_counts(X, np.zeros(2, np.int64), np.ones(2), 1,
                                  np.array(offsets, dtype=np.int64))


# --------------------------------------------------------------------------- first use


def test_naive_bayes_imports_no_numba():
    """The NB path stays light: no Numba import or compilation on a first fit."""
    code = (
        "import sys\n"
        "import numpy as np\n"
        "from fastgen.naive_bayes import CategoricalNB, MultinomialNB\n"
        "X = np.arange(12).reshape(4, 3) % 3\n"
        "MultinomialNB().fit(X, [0, 1, 0, 1])\n"
        "CategoricalNB().fit(X, [0, 1, 0, 1])\n"
        "assert 'numba' not in sys.modules, 'numba imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
