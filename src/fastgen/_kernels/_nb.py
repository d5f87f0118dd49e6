"""Numba kernels for the count-based Naive Bayes models.

Plain arrays in, arrays out; no estimator logic and no validation: callers guarantee
that class ids lie in ``[0, n_classes)``, CSR column indices in ``[0, n_features)``,
``indptr`` is well formed and categories lie in ``[0, n_categories[j])``.

Every kernel visits samples in order and accumulates ``weight * value`` into a
float64 buffer, i.e. the same summation order as scipy's sparse ``Y.T @ X`` and as
``np.bincount(..., weights=...)``.
"""

from __future__ import annotations

import numpy as np

from fastgen._jit import njit  # numba.njit; cache=True caches in fastgen's folder

__all__ = [
    "class_counts",
    "class_feature_counts_csr",
    "class_feature_counts_dense",
    "class_category_counts",
]


@njit(cache=True)
def class_counts(class_index: np.ndarray, sample_weight: np.ndarray, n_classes: int) -> np.ndarray:
    """Weighted number of samples per class.

    Parameters
    ----------
    class_index : int64 array of shape (n_samples,)
    sample_weight : float64 array of shape (n_samples,)
    n_classes : int

    Returns
    -------
    float64 array of shape (n_classes,)
    """
    out = np.zeros(n_classes, dtype=np.float64)
    for i in range(class_index.shape[0]):
        out[class_index[i]] += sample_weight[i]
    return out


@njit(cache=True)
def class_feature_counts_dense(
    X: np.ndarray, class_index: np.ndarray, sample_weight: np.ndarray, n_classes: int
) -> np.ndarray:
    """Weighted per-class feature sums of a dense matrix: ``out[c, j] = sum w_i X[i, j]``.

    Parameters
    ----------
    X : float64 array of shape (n_samples, n_features)
    class_index : int64 array of shape (n_samples,)
    sample_weight : float64 array of shape (n_samples,)
    n_classes : int

    Returns
    -------
    float64 array of shape (n_classes, n_features)
    """
    n_samples, n_features = X.shape
    out = np.zeros((n_classes, n_features), dtype=np.float64)
    for i in range(n_samples):
        c = class_index[i]
        w = sample_weight[i]
        for j in range(n_features):
            out[c, j] += w * X[i, j]
    return out


@njit(cache=True)
def class_feature_counts_csr(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    class_index: np.ndarray,
    sample_weight: np.ndarray,
    n_classes: int,
    n_features: int,
) -> np.ndarray:
    """Weighted per-class feature sums of a CSR matrix (duplicates are summed).

    Parameters
    ----------
    indptr : int64 array of shape (n_samples + 1,)
    indices : int64 array of shape (nnz,)
    data : float64 array of shape (nnz,)
    class_index : int64 array of shape (n_samples,)
    sample_weight : float64 array of shape (n_samples,)
    n_classes, n_features : int

    Returns
    -------
    float64 array of shape (n_classes, n_features)
    """
    out = np.zeros((n_classes, n_features), dtype=np.float64)
    for i in range(indptr.shape[0] - 1):
        c = class_index[i]
        w = sample_weight[i]
        for k in range(indptr[i], indptr[i + 1]):
            out[c, indices[k]] += w * data[k]
    return out


@njit(cache=True)
def class_category_counts(
    X: np.ndarray,
    class_index: np.ndarray,
    sample_weight: np.ndarray,
    n_classes: int,
    offsets: np.ndarray,
) -> np.ndarray:
    """Weighted (class, category) counts for every feature, packed side by side.

    Parameters
    ----------
    X : int64 array of shape (n_samples, n_features)
        Category codes, ``0 <= X[i, j] < offsets[j + 1] - offsets[j]``.
    class_index : int64 array of shape (n_samples,)
    sample_weight : float64 array of shape (n_samples,)
    n_classes : int
    offsets : int64 array of shape (n_features + 1,)
        Start column of each feature's block; ``offsets[-1]`` is the total width.

    Returns
    -------
    float64 array of shape (n_classes, offsets[-1])
        Feature ``j``'s counts are ``out[:, offsets[j]:offsets[j + 1]]``.
    """
    n_samples, n_features = X.shape
    out = np.zeros((n_classes, offsets[n_features]), dtype=np.float64)
    for i in range(n_samples):
        c = class_index[i]
        w = sample_weight[i]
        for j in range(n_features):
            out[c, offsets[j] + X[i, j]] += w
    return out
