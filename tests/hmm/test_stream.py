"""``HMMStream``: chunked filtering equal to offline filtering, many concurrent streams,
the fixed-lag smoother against prefix posteriors, save / resume, hostile state files."""

from __future__ import annotations

import numpy as np
import pytest
from filter_cases import CASES, LENGTHS, brute_force_filter
from modelfile_tools import npy, tamper
from numpy.testing import assert_allclose, assert_array_equal

import fastgen
import fastgen.hmm as F
from fastgen.hmm._util import startidx

BOUNDS = startidx(np.asarray(LENGTHS))


def _sequences(X):
    return [X[a:b] for a, b in zip(BOUNDS[:-1], BOUNDS[1:], strict=True)]


@pytest.mark.parametrize("name", CASES)
def test_chunks_equal_offline_filtering(name):
    model, X = CASES[name]
    seq = _sequences(X)[4]  # 90 frames
    stream = model.stream()
    cuts = [0, 1, 2, 30, 31, 77, 90]
    parts = [stream.update(seq[a:b]).filtered for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    got = np.concatenate(parts)
    assert_allclose(got, model.filter(seq), rtol=0, atol=1e-12)
    if name in ("gaussian-full", "categorical"):  # frames by the kernels: the same bits
        assert_array_equal(got, model.filter(seq))
    assert_allclose(got, brute_force_filter(model, seq, [len(seq)]), rtol=1e-8, atol=1e-12)
    assert_allclose(stream.log_likelihood_, [model.score(seq)], rtol=1e-10)
    assert stream.n_frames_.tolist() == [90]


@pytest.mark.parametrize("name", ["gaussian-full", "categorical", "poisson"])
def test_concurrent_streams_interleaved(name):
    model, X = CASES[name]
    seqs = _sequences(X)
    stream = model.stream(n_streams=len(seqs))
    rng = np.random.default_rng(0)
    done = np.zeros(len(seqs), dtype=np.int64)
    got = [[] for _ in seqs]
    while (done < LENGTHS).any():
        take = np.minimum(rng.integers(0, 4, len(seqs)), np.asarray(LENGTHS) - done)
        chunk = np.concatenate([s[d : d + k] for s, d, k in zip(seqs, done, take, strict=True)])
        out = stream.update(chunk, take).filtered
        for i, part in enumerate(np.split(out, np.cumsum(take)[:-1])):
            got[i].append(part)
        done += take
    got = np.concatenate([np.concatenate(g) for g in got])
    assert_allclose(got, model.filter(X, LENGTHS), rtol=0, atol=1e-12)
    assert_allclose(stream.log_likelihood_, model.score_sequences(X, LENGTHS), rtol=1e-10)


def test_one_row_per_stream_by_default():
    model, X = CASES["gaussian-full"]
    a, b = _sequences(X)[2][:12], _sequences(X)[3]
    stream = model.stream(n_streams=2)
    rows = np.stack([stream.update(np.stack([a[t], b[t]])).filtered for t in range(12)])
    assert_array_equal(rows[:, 0], model.filter(a))
    assert_array_equal(rows[:, 1], model.filter(b))


@pytest.mark.parametrize("name", ["gaussian-full", "categorical", "gmm", "multinomial"])
@pytest.mark.parametrize("lag", [1, 3, 200])
def test_fixed_lag_smoother(name, lag):
    model, X = CASES[name]
    seq = _sequences(X)[2]  # 75 frames
    stream = model.stream(lag=lag)
    smoothed, lengths = [], []
    for a, b in ((0, 1), (1, 2), (2, 40), (40, 41), (41, 75)):
        out = stream.update(seq[a:b])
        smoothed.append(out.smoothed)
        lengths.append(int(out.smoothed_lengths[0]))
        assert lengths[-1] == len(out.smoothed) == max(b - lag, 0) - max(a - lag, 0)
        assert_allclose(out.filtered, model.filter(seq)[a:b], rtol=0, atol=1e-12)
    tail = stream.flush()
    assert len(tail.filtered) == 0 and len(tail.smoothed) == min(lag, 75)
    got = np.concatenate([*smoothed, tail.smoothed])
    for s in range(75):  # p(z_s | x_1..s+lag)
        want = model.predict_proba(seq[: min(s + lag + 1, 75)])[s]
        assert_allclose(got[s], want, rtol=1e-8, atol=1e-12)
    assert stream.n_frames_.tolist() == [0] and stream.held_.tolist() == [0]


def test_fixed_lag_many_streams_one_step():
    model, X = CASES["gaussian-full"]
    a, b = _sequences(X)[0], _sequences(X)[2][:40]  # 40 frames each
    stream = model.stream(n_streams=2, lag=2)
    outs = [stream.update(np.stack([a[t], b[t]])) for t in range(40)]
    assert [o.smoothed_lengths.tolist() for o in outs[:3]] == [[0, 0], [0, 0], [1, 1]]
    rows = np.stack([o.smoothed for o in outs[2:]])  # (38, 2 streams, nc)
    flushed = stream.flush([1]).smoothed
    assert stream.held_.tolist() == [2, 0]
    assert_allclose(rows[:, 1], [model.predict_proba(b[: s + 3])[s] for s in range(38)],
                    rtol=1e-8, atol=1e-12)  # fmt: skip
    assert_allclose(flushed, model.predict_proba(b)[38:], rtol=1e-8, atol=1e-12)
    assert_allclose(stream.flush().smoothed, model.predict_proba(a)[38:], rtol=1e-8, atol=1e-12)


def test_save_and_resume(tmp_path):
    model, X = CASES["gaussian-full"]
    seqs = _sequences(X)[:3]  # lengths 40, 1, 75 -> one frame per stream while they last
    whole = model.stream(n_streams=3, lag=2)
    parted = model.stream(n_streams=3, lag=2)
    path = tmp_path / "stream.fgm"
    for t in range(40):
        take = np.array([1, int(t < 1), 1])
        chunk = np.concatenate([s[t : t + k] for s, k in zip(seqs, take, strict=True)])
        a = whole.update(chunk, take)
        b = parted.update(chunk, take)
        assert_array_equal(a.filtered, b.filtered)
        assert_array_equal(a.smoothed, b.smoothed)
        if t in (0, 17):
            fastgen.save(parted, path)
            parted = fastgen.load(path)
            assert isinstance(parted, F.HMMStream)
    for name in ("n_frames_", "log_likelihood_", "filtered_", "held_", "held_filtered_"):
        assert_array_equal(getattr(parted, name), getattr(whole, name))
    assert_array_equal(parted.flush().smoothed, whole.flush().smoothed)


def test_a_stream_saved_before_its_first_update(tmp_path):
    model, X = CASES["gaussian-full"]
    fastgen.save(model.stream(n_streams=2, lag=1), tmp_path / "fresh.fgm")
    assert fastgen.info(tmp_path / "fresh.fgm")["summary"]["frames_seen"] == 0
    loaded = fastgen.load(tmp_path / "fresh.fgm")
    assert "n_frames_" not in vars(loaded)
    got = loaded.update(X[:4], [2, 2])
    want = model.stream(n_streams=2, lag=1).update(X[:4], [2, 2])
    assert_array_equal(got.filtered, want.filtered)
    assert_array_equal(got.smoothed, want.smoothed)


def _tampered(tmp_path, **state):
    model, X = CASES["categorical"]
    stream = model.stream(n_streams=2, lag=1)
    stream.update(X[:6], [3, 3])
    path = tmp_path / "s.fgm"
    fastgen.save(stream, path)
    members = {f"state.{name}.npy": npy(value) for name, value in state.items()}
    return tamper(path, tmp_path / "bad.fgm", members=members)


@pytest.mark.parametrize(
    "state",
    [
        {"n_frames_": np.array([-1, 3])},
        {"filtered_": np.full((2, 3), np.nan)},
        {"filtered_": np.full((2, 3), 0.5)},  # rows not normalised
        {"filtered_": np.zeros((2, 3))},  # impossible, yet a finite log-likelihood
        {"filtered_": np.full((3, 3), 1 / 3)},
        {"held_": np.array([2, 1])},  # more than lag
        {"held_": np.array([1, 4])},
        {"held_filtered_": np.full((2, 1, 3), 7.0)},
        {"log_likelihood_": np.array([np.nan, 0.0])},
        {"log_likelihood_": np.array([np.inf, 0.0])},
        {"n_frames_": np.array([3.0, 3.0])},
        {"held_log_frames_": np.full((2, 1, 3), np.nan)},
    ],
)
def test_hostile_state_is_refused(tmp_path, state):
    path = _tampered(tmp_path, **state)
    with pytest.raises(fastgen.ModelFileError, match=str(path.name)):
        fastgen.load(path)


@pytest.mark.parametrize("n_streams, lag", [(10**12, 10**6), (10**7, 100), (2, 10**9)])
def test_oversized_fresh_stream_needs_trust(tmp_path, n_streams, lag):
    """A stream saved before its first update holds no arrays: its parameters alone
    would size the state the first update allocates.  Beyond 2 GiB, loading it needs
    trust."""
    model, X = CASES["categorical"]
    fastgen.save(model.stream(n_streams=2, lag=1), tmp_path / "fresh.fgm")
    path = tamper(
        tmp_path / "fresh.fgm", tmp_path / "big.fgm",
        manifest=lambda m: m["params"].update({"n_streams": n_streams, "lag": lag}),
    )  # fmt: skip
    with pytest.raises(fastgen.ModelFileError, match="big.fgm: .*GiB of state.*trusted=True"):
        fastgen.load(path)
    assert fastgen.load(path, trusted=True).n_streams == n_streams  # the owner's call
    small = tamper(
        tmp_path / "fresh.fgm", tmp_path / "ok.fgm",
        manifest=lambda m: m["params"].update({"n_streams": 1000, "lag": 50}),
    )  # fmt: skip
    assert fastgen.load(small).update(X[:3], [3] + [0] * 999).filtered.shape == (3, 3)


def test_bad_input():
    model, X = CASES["gaussian-full"]
    with pytest.raises(ValueError, match="n_streams"):
        F.HMMStream(model, n_streams=0).update(X[:1])
    with pytest.raises(ValueError, match="lag"):
        model.stream(lag=-1).update(X[:1])
    with pytest.raises(TypeError, match="fastgen HMM"):
        F.HMMStream(object()).update(X[:1])
    stream = model.stream(n_streams=2)
    with pytest.raises(ValueError, match="give lengths"):
        stream.update(X[:3])
    with pytest.raises(ValueError, match="add up"):
        stream.update(X[:3], [1, 1])
    with pytest.raises(ValueError, match="non-negative"):
        stream.update(X[:3], [4, -1])
    with pytest.raises(ValueError, match="stream indices"):
        stream.flush([2])
    with pytest.raises(ValueError):
        stream.update(X[:2, :1])  # wrong number of features
    assert stream.n_frames_.tolist() == [0, 0]  # nothing was consumed
    empty = stream.update(X[:0], [0, 0])
    assert empty.filtered.shape == (0, 3)
    from fastgen._base import NotFittedError  # noqa: PLC0415

    with pytest.raises(NotFittedError):
        F.GaussianHMM(2).stream().update(X[:3])


def test_impossible_frames_stay_impossible_across_chunks():
    model = F.CategoricalHMM(2, init_params="")
    model.startprob_ = np.array([1.0, 0.0])
    model.transmat_ = np.eye(2)
    model.emissionprob_ = np.array([[1.0, 0.0], [0.0, 1.0]])
    stream = model.stream()
    first = stream.update(np.array([[0], [1]])).filtered
    assert_allclose(first, [[1, 0], [0, 0]])
    assert stream.log_likelihood_[0] == -np.inf
    assert (stream.update(np.array([[0]])).filtered == 0).all()
    stream.reset()
    assert_allclose(stream.update(np.array([[0]])).filtered, [[1, 0]])


def test_exact_fallback_keeps_unlikely_states():
    """A state the scaled pass would flush (tiny probability, reachable only from
    itself) comes back when an outlier only it explains arrives: the log-space
    recurrence, chunked or not, equals the brute force."""
    model = F.GaussianHMM(2, covariance_type="diag", init_params="")
    model.startprob_ = np.array([1 - 1e-200, 1e-200])
    model.transmat_ = np.array([[1.0, 0.0], [0.0, 1.0]])
    model.means_ = np.array([[0.0], [0.0]])
    model.covars_ = np.array([[1e-4], [1e4]])
    X = np.array([[0.0], [0.01], [-0.02], [50.0], [1.0]])
    want = brute_force_filter(model, X, [5])
    assert want[3, 1] > 0.99
    assert_allclose(model.filter(X), want, rtol=1e-8, atol=1e-12)
    stream = model.stream()
    got = np.concatenate([stream.update(X[:3]).filtered, stream.update(X[3:]).filtered])
    assert_allclose(got, want, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("covariance_type", ["diag", "full"])
def test_missing_values_stream_like_the_offline_filter(covariance_type):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 3)) + rng.integers(0, 2, (120, 1)) * 3
    model = F.GaussianHMM(2, covariance_type=covariance_type, allow_nan=True, n_iter=3,
                          random_state=0).fit(X)  # fmt: skip
    X[rng.random(X.shape) < 0.2] = np.nan
    X[7] = np.nan  # a frame with nothing observed
    stream = model.stream()
    got = np.concatenate([stream.update(X[a:b]).filtered for a, b in ((0, 5), (5, 60), (60, 120))])
    assert_allclose(got, model.filter(X), rtol=0, atol=1e-12)
    assert_allclose(got, brute_force_filter(model, X, [120]), rtol=1e-8, atol=1e-12)


def test_fixed_lag_with_streams_that_pause():
    """Steady one-frame updates of some streams while others wait (the shift-register
    path on a subset) and ragged chunks, each stream against its prefix posteriors."""
    model, X = CASES["categorical"]
    seqs = [_sequences(X)[i][:30] for i in (0, 2, 4)]
    stream = model.stream(n_streams=3, lag=3)
    got = [[], [], []]
    rng = np.random.default_rng(1)
    done = np.zeros(3, dtype=np.int64)
    for step in range(60):
        take = np.array([1, step % 2, rng.integers(0, 3) if step > 20 else 1])
        take = np.minimum(take, 30 - done)
        chunk = np.concatenate([s[d : d + k] for s, d, k in zip(seqs, done, take, strict=True)])
        out = stream.update(chunk, take)
        for i, part in enumerate(np.split(out.smoothed, np.cumsum(out.smoothed_lengths)[:-1])):
            got[i].append(part)
        done += take
    assert (done == 30).all()
    tail = stream.flush()
    for i, part in enumerate(np.split(tail.smoothed, np.cumsum(tail.smoothed_lengths)[:-1])):
        got[i].append(part)
    for i, seq in enumerate(seqs):
        rows = np.concatenate(got[i])
        want = [model.predict_proba(seq[: min(s + 4, 30)])[s] for s in range(30)]
        assert_allclose(rows, want, rtol=1e-8, atol=1e-12)


def test_exact_fallback_inside_a_lane_group():
    """Twenty short sequences go through the lanes together; the one the scaled pass
    refuses is redone exactly, the others keep the lanes' rows."""
    model = F.GaussianHMM(2, covariance_type="diag", init_params="")
    model.startprob_ = np.array([1 - 1e-200, 1e-200])
    model.transmat_ = np.eye(2)
    model.means_ = np.array([[0.0], [0.0]])
    model.covars_ = np.array([[1e-4], [1e4]])
    rng = np.random.default_rng(0)
    seqs = [rng.normal(scale=0.01, size=(5 + i % 4, 1)) for i in range(20)]
    seqs[7][3] = 50.0  # only the wide state explains it
    X, lengths = np.concatenate(seqs), [len(s) for s in seqs]
    got = model.filter(X, lengths)
    assert_allclose(got, brute_force_filter(model, X, lengths), rtol=1e-8, atol=1e-12)
    start = sum(lengths[:7])
    assert got[start + 3, 1] > 0.99
