"""fastgen.text._weigh: document frequencies on threads."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from fastgen.text import _weigh


def _counts(n_rows: int, n_cols: int, seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    X = sp.random(n_rows, n_cols, density=0.05, format="csr", random_state=rng)
    X.data[:] = rng.integers(1, 5, size=X.nnz)
    return X


@pytest.mark.parametrize("n_jobs", [1, 2, 3, -1, None])
def test_document_frequency_any_threads_equals_bincount(n_jobs, monkeypatch):
    monkeypatch.setattr(_weigh, "_VALUES_PER_THREAD", 100)  # several ranges
    X = _counts(400, 97)
    df = _weigh.document_frequency(X, n_jobs)
    assert df.dtype == np.int64
    np.testing.assert_array_equal(df, np.bincount(X.indices, minlength=97))
    np.testing.assert_array_equal(_weigh.document_frequency(X.tocsc(), n_jobs), df)


def test_document_frequency_int64_indices_and_empty():
    X = _counts(50, 20)
    X64 = sp.csr_matrix((X.data, X.indices.astype(np.int64), X.indptr.astype(np.int64)),
                        shape=X.shape)
    np.testing.assert_array_equal(_weigh.document_frequency(X64),
                                  np.bincount(X.indices, minlength=20))
    empty = sp.csr_matrix((3, 5))
    np.testing.assert_array_equal(_weigh.document_frequency(empty, 2), np.zeros(5))
