"""HMM filtering, streaming and per-sequence scores: fastgen against what an hmmlearn
user writes today.

Groups (``many``: 5,000 sequences x 100 steps, small 200 x 50; GaussianHMM diag with 8
features):

* ``HMM.filter[<model>-many]``: ``p(z_t | x_1..t)`` of every frame.  hmmlearn has no
  filter: its variant is the forward lattice of its compiled ``_hmmc.forward_log`` per
  sequence, normalised row by row (what its users are told to do); fastgen's is
  ``model.filter``.
* ``HMM.filter_vs_smoothing[<model>-many]``: fastgen's ``filter`` against its own
  ``predict_proba`` (impl ``fastgen.predict_proba``), on the same data: the issue asks
  that filtering cost no more than smoothing.
* ``HMM.stream[<model>-<n>x1]``: ``n`` concurrent streams (10,000; small 1,000) fed one
  frame each per call for 100 steps (small 20); the incumbent is the same update written
  in NumPy over hmmlearn's emission log-likelihoods (``_compute_log_likelihood``), which is
  what a stream needs without fastgen.  ``docs_per_s`` is frames per second.
* ``HMM.score_sequences[<model>-many]``: one log-likelihood per sequence.  hmmlearn has
  none: its variant calls ``score`` once per sequence; ``fastgen.score`` (impl
  ``fastgen.score``, the sum in one call) shows that the per-sequence scores cost what
  ``score`` costs.

Every fastgen result is checked against the incumbent's outside the timed call.  No
timing assertions.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.conftest import Variant, assert_close, cached, import_fastgen, run_benchmark
from benchmarks.test_bench_hmm import get_data, make_model, make_params

hmmlearn_hmm = pytest.importorskip("hmmlearn.hmm")
_hmmc = pytest.importorskip("hmmlearn._hmmc")

HMMLEARN = Variant("hmmlearn")
FASTGEN = Variant("fastgen")
SMOOTHING = Variant("fastgen.predict_proba")
SUMMED = Variant("fastgen.score")
NUMPY = Variant("numpy+hmmlearn")
FILTER_MODELS = ["gauss-diag-K4", "gauss-diag-K16"]
STREAM_MODEL = "gauss-diag-K4"


def _normalised(log_fwd: np.ndarray) -> np.ndarray:
    top = log_fwd.max(axis=1, keepdims=True)
    p = np.exp(log_fwd - top)
    return p / p.sum(axis=1, keepdims=True)


def hmmlearn_filter(m, X: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """hmmlearn's forward lattice per sequence, each row normalised."""
    log_frame = m._compute_log_likelihood(X)
    out = np.empty_like(log_frame)
    a = 0
    for n in lengths:
        _, fwd = _hmmc.forward_log(m.startprob_, m.transmat_, log_frame[a : a + n])
        out[a : a + n] = _normalised(np.asarray(fwd))
        a += n
    return out


@pytest.mark.parametrize("model", FILTER_MODELS)
@pytest.mark.parametrize("variant", [HMMLEARN, FASTGEN], ids=["hmmlearn", "fastgen"])
def test_filter(benchmark, variant, model, size, reference):
    d = get_data(model, "many", size)
    m = make_model(variant, model)
    if variant.is_fastgen:
        fn = lambda: m.filter(d.X, d.lengths)  # noqa: E731
    else:
        fn = lambda: hmmlearn_filter(m, d.X, d.lengths)  # noqa: E731
    result = run_benchmark(
        benchmark, fn, group=f"HMM.filter[{model}-many]", variant=variant, size=size,
        n_docs=d.n_samples, corpus_mb=d.X.nbytes / 1e6, n_sequences=len(d.lengths),
        model=model,
    )  # fmt: skip
    key = ("hmm-filter", model, size.name)
    if variant.is_fastgen:
        expected = cached(
            reference, key, lambda: hmmlearn_filter(make_model(HMMLEARN, model), d.X, d.lengths)
        )
        assert_close(result, expected, rtol=1e-8, atol=1e-10)
    else:
        reference.setdefault(key, result)


@pytest.mark.parametrize("model", FILTER_MODELS)
@pytest.mark.parametrize("variant", [SMOOTHING, FASTGEN], ids=["predict_proba", "filter"])
def test_filter_vs_smoothing(benchmark, variant, model, size):
    d = get_data(model, "many", size)
    m = make_model(FASTGEN, model)
    method = m.filter if variant.is_fastgen else m.predict_proba
    result = run_benchmark(
        benchmark, lambda: method(d.X, d.lengths), group=f"HMM.filter_vs_smoothing[{model}-many]",
        variant=variant, size=size, n_docs=d.n_samples, corpus_mb=d.X.nbytes / 1e6,
        n_sequences=len(d.lengths), model=model,
    )  # fmt: skip
    ends = np.cumsum(d.lengths) - 1  # filtering and smoothing agree at the last frames
    other = m.predict_proba if variant.is_fastgen else m.filter
    assert_close(result[ends], other(d.X, d.lengths)[ends], rtol=1e-8, atol=1e-10)


def stream_shape(size) -> tuple[int, int]:
    """(concurrent streams, steps)."""
    return (10_000, 100) if size.name == "full" else (1_000, 20)


def stream_data(size) -> np.ndarray:
    """(steps, streams, features): each stream a piecewise-constant state sequence."""
    n_streams, n_steps = stream_shape(size)
    params = make_params(STREAM_MODEL)
    rng = np.random.RandomState(7)
    k = params["means_"].shape[0]
    switch = rng.rand(n_steps, n_streams) < 0.05
    states = np.cumsum(switch, axis=0) % k
    X = params["means_"][states] + rng.randn(n_steps, n_streams, params["means_"].shape[1])
    return np.ascontiguousarray(X)


class NumpyStream:
    """The incumbent: normalised forward messages updated in NumPy, one call per step,
    over hmmlearn's emission log-likelihoods."""

    def __init__(self, m, n_streams: int) -> None:
        self.m = m
        self.msg = np.zeros((n_streams, m.n_components))
        self.started = False

    def update(self, x: np.ndarray) -> np.ndarray:
        log_frame = self.m._compute_log_likelihood(x)
        pred = self.msg @ self.m.transmat_ if self.started else self.m.startprob_[None, :]
        with np.errstate(divide="ignore"):
            log_alpha = np.log(pred) + log_frame
        self.msg = _normalised(log_alpha)
        self.started = True
        return self.msg


def run_stream(stream, X: np.ndarray, fastgen: bool) -> np.ndarray:
    last = None
    for x in X:
        last = stream.update(x).filtered if fastgen else stream.update(x)
    return last


@pytest.mark.parametrize("variant", [NUMPY, FASTGEN], ids=["numpy+hmmlearn", "fastgen"])
def test_stream(benchmark, variant, size, reference):
    X = stream_data(size)
    n_steps, n_streams = X.shape[:2]
    m = make_model(variant if variant.is_fastgen else HMMLEARN, STREAM_MODEL)
    if variant.is_fastgen:
        import_fastgen("hmm")
        fn = lambda: run_stream(m.stream(n_streams=n_streams), X, True)  # noqa: E731
    else:
        fn = lambda: run_stream(NumpyStream(m, n_streams), X, False)  # noqa: E731
    result = run_benchmark(
        benchmark, fn, group=f"HMM.stream[{STREAM_MODEL}-{n_streams}x1]", variant=variant,
        size=size, n_docs=n_steps * n_streams, corpus_mb=X.nbytes / 1e6, n_streams=n_streams,
        model=STREAM_MODEL,
    )  # fmt: skip
    key = ("hmm-stream", size.name)
    if variant.is_fastgen:
        expected = cached(
            reference, key,
            lambda: run_stream(NumpyStream(make_model(HMMLEARN, STREAM_MODEL), n_streams), X,
                               False),
        )  # fmt: skip
        assert_close(result, expected, rtol=1e-8, atol=1e-10)
        # the last rows equal an offline filter of each stream's whole sequence
        whole = m.filter(X.transpose(1, 0, 2).reshape(-1, X.shape[2]), [n_steps] * n_streams)
        assert_close(result, whole[n_steps - 1 :: n_steps], rtol=0, atol=1e-12)
    else:
        reference.setdefault(key, result)


def hmmlearn_score_sequences(m, X: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    return np.array([m.score(X[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)])


@pytest.mark.parametrize("model", FILTER_MODELS)
@pytest.mark.parametrize(
    "variant", [HMMLEARN, SUMMED, FASTGEN], ids=["hmmlearn", "fastgen-score", "fastgen"]
)
def test_score_sequences(benchmark, variant, model, size, reference):
    d = get_data(model, "many", size)
    m = make_model(variant if variant is not SUMMED else FASTGEN, model)
    if variant is HMMLEARN:
        fn = lambda: hmmlearn_score_sequences(m, d.X, d.lengths)  # noqa: E731
    elif variant is SUMMED:
        fn = lambda: m.score(d.X, d.lengths)  # noqa: E731
    else:
        fn = lambda: m.score_sequences(d.X, d.lengths)  # noqa: E731
    result = run_benchmark(
        benchmark, fn, group=f"HMM.score_sequences[{model}-many]", variant=variant, size=size,
        n_docs=d.n_samples, corpus_mb=d.X.nbytes / 1e6, n_sequences=len(d.lengths),
        model=model,
    )  # fmt: skip
    key = ("hmm-score-sequences", model, size.name)
    expected = cached(
        reference, key,
        lambda: hmmlearn_score_sequences(make_model(HMMLEARN, model), d.X, d.lengths),
    )  # fmt: skip
    if variant is SUMMED:
        assert_close(result, expected.sum(), rtol=1e-8, atol=0)
    elif variant is FASTGEN:
        assert_close(result, expected, rtol=1e-8, atol=1e-8)
