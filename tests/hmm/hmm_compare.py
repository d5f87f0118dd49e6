"""Shared checks of a fastgen HMM against hmmlearn's on the same data and parameters."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.testing import assert_allclose, assert_array_equal

#: both implementations of the forward-backward passes
IMPLS = ["log", "scaling"]
#: one sequence, and ragged lengths with length-1 sequences (they sum to 100)
LENGTHS = {"one": None, "ragged": [17, 1, 30, 2, 10, 40]}


def paired(ref_cls: type, our_cls: type, state: dict, **kw: Any) -> tuple[Any, Any]:
    """hmmlearn's model and fastgen's, both built with ``kw`` and ``init_params=""``
    and given copies of the same explicit parameter values ``state``."""
    out = []
    for cls in (ref_cls, our_cls):
        # hmmlearn broadcasts array priors in place: each model gets its own copies
        kwc = {k: np.copy(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        m = cls(init_params="", **kwc)
        for name, value in state.items():
            setattr(m, name, np.copy(value))
        out.append(m)
    return out[0], out[1]


def assert_same_inference(
    ours: Any, ref: Any, X: np.ndarray, lengths: Any, *, criteria: bool = True
) -> None:
    """Scores and posteriors to 1e-8, identical Viterbi and MAP paths, and (``criteria``:
    where hmmlearn's model has them) AIC and BIC."""
    assert_allclose(ours.score(X, lengths), ref.score(X, lengths), rtol=1e-8)
    lp, post = ours.score_samples(X, lengths)
    ref_lp, ref_post = ref.score_samples(X, lengths)
    assert_allclose(lp, ref_lp, rtol=1e-8)
    assert_allclose(post, ref_post, rtol=1e-8, atol=1e-12)
    for algorithm in ("viterbi", "map"):
        a = ours.decode(X, lengths, algorithm=algorithm)
        b = ref.decode(X, lengths, algorithm=algorithm)
        assert_allclose(a[0], b[0], rtol=1e-8)
        assert_array_equal(a[1], b[1])
    assert_array_equal(ours.predict(X, lengths), ref.predict(X, lengths))
    if not criteria:
        return
    assert_allclose(ours.aic(X, lengths), ref.aic(X, lengths), rtol=1e-8)
    assert_allclose(ours.bic(X, lengths), ref.bic(X, lengths), rtol=1e-8)


def assert_same_em(ours: Any, ref: Any, X: np.ndarray, lengths: Any, names: tuple) -> None:
    """Fit both (same starting point, ``n_iter`` steps); the parameters ``names`` to 1e-6
    and the log-likelihood history to 1e-8."""
    ref.fit(X, lengths)
    ours.fit(X, lengths)
    for name in names:
        a, b = getattr(ours, name), getattr(ref, name)
        assert np.shape(a) == np.shape(b), name
        assert_allclose(a, b, rtol=1e-6, atol=1e-12, err_msg=name)
    assert_allclose(list(ours.monitor_.history), list(ref.monitor_.history), rtol=1e-8)
    assert ours.monitor_.iter == ref.monitor_.iter
