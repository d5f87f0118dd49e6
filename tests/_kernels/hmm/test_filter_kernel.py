"""The forward-filter entry point (``forward_filter``) and its kernels with hostile
arguments: every refusal is a clear exception, never a crash or a silent NaN."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastgen._kernels import hmm as k
from fastgen._kernels.hmm import _entry

START = np.array([0.6, 0.4])
TRANS = np.array([[0.9, 0.1], [0.2, 0.8]])


def _em(n=6):
    rng = np.random.default_rng(0)
    return k.emissions(k.EMIT_LOG_FRAMES, log_frame=rng.normal(size=(n, 2)))


def test_carried_messages_continue_the_forward_pass():
    em = _em(6)
    whole = k.forward_filter([0, 6], START, TRANS, em)
    first = k.forward_filter([0, 3], START, TRANS, _sub(em, 0, 3))
    rest = k.forward_filter([0, 3], START, TRANS, _sub(em, 3, 6), message=first.message,
                            carried=[True])  # fmt: skip
    assert_array_equal(np.concatenate([first.filtered, rest.filtered]), whole.filtered)
    assert_allclose(first.log_prob + rest.log_prob, whole.log_prob, rtol=1e-14)
    assert_array_equal(rest.message[0], whole.filtered[-1])


def _sub(em, a, b):
    return k.emissions(k.EMIT_LOG_FRAMES, log_frame=k.log_frames(em)[a:b])


@pytest.mark.parametrize(
    "message, error",
    [
        (np.array([[0.5, 0.6]]), "distributions"),
        (np.array([[-0.5, 1.5]]), "distributions"),
        (np.array([[np.nan, 1.0]]), "distributions"),
        (np.array([[np.inf, 0.0]]), "distributions"),
        (np.array([[0.5, 0.5, 0.0]]), "shape"),
        (None, "shape"),
    ],
)
def test_bad_messages_are_refused(message, error):
    with pytest.raises(ValueError, match=error):
        k.forward_filter([0, 6], START, TRANS, _em(), message=message, carried=[True])


def test_bad_calls_are_refused():
    em = _em()
    with pytest.raises(TypeError, match="emissions"):
        k.forward_filter([0, 6], START, TRANS, np.zeros((6, 2)))
    with pytest.raises(ValueError, match="startidx"):
        k.forward_filter([0, 4, 4, 6], START, TRANS, em)  # an empty sequence
    with pytest.raises(ValueError, match="startidx"):
        k.forward_filter([0, 7], START, TRANS, em)
    with pytest.raises(ValueError, match="carried"):
        k.forward_filter([0, 6], START, TRANS, em, message=np.full((1, 2), 0.5),
                         carried=[True, False])  # fmt: skip
    with pytest.raises(ValueError, match="n_components"):
        k.forward_filter([0, 6], np.full(3, 1 / 3), np.full((3, 3), 1 / 3), em)
    # the kernels' own checks, past the entry point
    chain = _entry.ChainArrays(START, TRANS, True)
    scaled = _entry._scaled_table(em, True)
    out, msg, lp = np.empty((6, 2)), np.zeros((1, 2)), np.empty(1)
    carry = np.zeros(1, dtype=np.uint8)
    si = np.array([0, 6], dtype=np.int64)
    with pytest.raises(ValueError, match="out of range"):
        _entry._filter.filter_chunks(em, scaled, chain, np.array([3], dtype=np.int64), si,
                                     carry, msg, out, lp, 1, 0, 1)  # fmt: skip
    with pytest.raises(ValueError, match="disagree"):
        _entry._filter.filter_chunks(em, scaled, chain, np.array([0], dtype=np.int64), si,
                                     carry, msg, np.empty((5, 2)), lp, 1, 0, 1)  # fmt: skip
    with pytest.raises(ValueError, match="longer"):
        _entry._filter.filter_lane_chunks(em, scaled, chain, np.array([0], dtype=np.int64),
                                          si, 3, msg, out, lp, 1, 0, 1)  # fmt: skip


def test_impossible_message_stays_impossible():
    em = _em(3)
    r = k.forward_filter([0, 3], START, TRANS, em, message=np.zeros((1, 2)), carried=[True])
    assert (r.filtered == 0).all() and r.log_prob[0] == -np.inf and (r.message == 0).all()
