"""fastgen._kernels._weighting.column_counts: counts per column, ranges, hostile indices."""

from __future__ import annotations

import numpy as np
import pytest

from fastgen._kernels import _weighting


def test_column_counts_equals_bincount_and_adds_into_out():
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 37, size=1000).astype(np.int32)
    out = _weighting.column_counts(idx, np.zeros(40, dtype=np.int64))
    np.testing.assert_array_equal(out, np.bincount(idx, minlength=40))
    again = _weighting.column_counts(idx, out)  # adds to what is there
    assert again is out
    np.testing.assert_array_equal(out, 2 * np.bincount(idx, minlength=40))


def test_column_counts_ranges_add_up():
    idx = np.array([3, 1, 3, 0, 2, 3], dtype=np.int32)
    parts = [_weighting.column_counts(idx, np.zeros(4, dtype=np.int64), lo=a, hi=b)
             for a, b in [(0, 2), (2, 2), (2, 6)]]
    np.testing.assert_array_equal(sum(parts), np.bincount(idx, minlength=4))
    np.testing.assert_array_equal(
        _weighting.column_counts(idx, np.zeros(4, dtype=np.int64), lo=4), [0, 0, 1, 1])


@pytest.mark.parametrize("bad", [-1, 4, 2**31 - 1, -(2**31)])
def test_column_counts_refuses_indices_outside_out(bad):
    idx = np.array([0, 1, bad, 2], dtype=np.int32)
    with pytest.raises(ValueError, match="outside the count array"):
        _weighting.column_counts(idx, np.zeros(4, dtype=np.int64))


@pytest.mark.parametrize("lo,hi", [(-1, 2), (3, 2), (0, 5)])
def test_column_counts_refuses_bad_ranges(lo, hi):
    with pytest.raises(ValueError, match="range"):
        _weighting.column_counts(np.zeros(4, dtype=np.int32), np.zeros(1, dtype=np.int64),
                                 lo=lo, hi=hi)


def test_column_counts_empty():
    out = _weighting.column_counts(np.zeros(0, dtype=np.int32), np.zeros(3, dtype=np.int64))
    np.testing.assert_array_equal(out, [0, 0, 0])
    out = _weighting.column_counts(np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64))
    assert out.shape == (0,)
