"""A stateful forward filter: many concurrent sequences, fed chunk by chunk.

:class:`HMMStream` carries each sequence's forward message between calls of
:meth:`HMMStream.update`, so that feeding a sequence in any number of chunks gives the
rows ``model.filter`` gives on the whole sequence: the same kernel,
:func:`fastgen._kernels.hmm.forward_filter`, runs every frame through the same
arithmetic.  With Gaussian and categorical emissions (frame likelihoods computed by the
kernels) the rows are the same bits; the other families compute frame log-likelihoods
with NumPy, whose sums may round differently on chunks of different sizes, so there
they agree to rounding (1e-15 relative).  With ``lag=L`` it is also a fixed-lag
smoother: a frame's distribution given the ``L`` frames after it is emitted as soon as
they have arrived.  Its whole state is a few arrays, saved and restored by
:func:`fastgen.save` / :func:`fastgen.load` under the model-file rules, so a job can
stop and resume.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from fastgen._base import BaseEstimator
from fastgen._kernels import hmm as _k
from fastgen.hmm._engine import prepared_input
from fastgen.hmm._util import startidx

__all__ = ["HMMStream", "StreamOutput"]

#: state attributes, as stored by model files
STATE = ("n_frames_", "log_likelihood_", "filtered_", "held_", "held_log_frames_",
         "held_filtered_")  # fmt: skip


class StreamOutput(NamedTuple):
    """What :meth:`HMMStream.update` and :meth:`HMMStream.flush` return.

    A named tuple of three arrays, read by name (``out.filtered``) or unpacked.

    Parameters
    ----------
    filtered : float64 (n_rows, n_components)
        ``p(z_t | x_1..t)`` of every frame of the chunk, in the chunk's row order
        (empty for :meth:`HMMStream.flush`).
    smoothed : float64 (n_emitted, n_components)
        Fixed-lag smoothed distributions ``p(z_s | x_1..s+lag)`` of the frames that now
        have ``lag`` frames after them (or, after :meth:`HMMStream.flush`, of the held
        frames given the rest of their sequence), stream by stream in stream order, each
        stream's frames in time order.  With ``lag=0``: the filtered rows again.
    smoothed_lengths : int64 (n_streams,)
        How many rows of ``smoothed`` belong to each stream.

    See Also
    --------
    fastgen.hmm.HMMStream : The stream that returns it.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgen.hmm import GaussianHMM
    >>> X = np.random.default_rng(0).normal(size=(40, 1))
    >>> model = GaussianHMM(2, random_state=0).fit(X)
    >>> out = model.stream(n_streams=2, lag=1).update(X[:10], lengths=[6, 4])
    >>> out.filtered.shape, out.smoothed.shape, out.smoothed_lengths.tolist()
    ((10, 2), (8, 2), [5, 3])
    >>> filtered, smoothed, smoothed_lengths = out
    """

    filtered: np.ndarray
    smoothed: np.ndarray
    smoothed_lengths: np.ndarray


def _ragged_arange(counts: np.ndarray) -> np.ndarray:
    """``concatenate([arange(c) for c in counts])`` without a Python loop."""
    total = int(counts.sum())
    starts = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) - np.repeat(starts, counts)


class HMMStream(BaseEstimator):
    """Filter (and fixed-lag smooth) ``n_streams`` concurrent sequences chunk by chunk.

    Each stream is a sequence being observed live.  :meth:`update` takes the next
    frames of any of the streams and returns their filtered state distributions
    ``p(z_t | x_1..t)`` (no look-ahead), carrying each stream's forward message to the
    next call: a sequence fed in any chunks gets the rows ``model.filter`` gives on the
    whole sequence (to rounding, see :mod:`fastgen.hmm._stream`).  With ``lag=L > 0``
    the stream also holds back each stream's last ``L`` frames and emits the fixed-lag
    smoothed distribution ``p(z_s | x_1..s+L)`` of a frame once the ``L`` frames after it
    have arrived
    (``model.predict_proba(X[:s + L + 1])[s]``); :meth:`flush` ends sequences, emitting
    their held frames smoothed on all they have (``predict_proba`` of the sequence).

    Parameters
    ----------
    model : BaseHMM
        A fitted HMM (any family).  Its parameters are read at every call; changing
        them mid-stream changes the model the remaining frames are filtered with.
    n_streams : int, default=1
        Concurrent sequences.
    lag : int, default=0
        Frames of look-ahead of the fixed-lag smoother (0: filtering only).

    Attributes
    ----------
    n_frames_ : int64 (n_streams,)
        Frames each stream has seen since it started (or was last flushed or reset).
    log_likelihood_ : float64 (n_streams,)
        ``log p(x_1..t)`` of each stream so far (``-inf`` once a frame is impossible
        under the model); what ``model.score_sequences`` gives on the frames seen.
    filtered_ : float64 (n_streams, n_components)
        The filtered distribution ``p(z_t | x_1..t)`` of each stream's last frame (the
        forward message carried to the next call; all zero once the stream is
        impossible under the model, or before its first frame).
    held_ : int64 (n_streams,)
        Frames each stream holds back for the smoother (at most ``lag``).
    held_log_frames_, held_filtered_ : float64 (n_streams, lag, n_components)
        Their emission log-likelihoods and filtered rows (the last ``held_`` rows of
        each stream).

    The state attributes are created by the first :meth:`update` (or :meth:`reset`).

    See Also
    --------
    fastgen.hmm.BaseHMM.stream : The same stream, from a fitted model.
    fastgen.hmm.BaseHMM.filter : Filtered probabilities of whole sequences.
    fastgen.hmm.BaseHMM.predict_proba : Smoothed probabilities of whole sequences.

    Examples
    --------
    Three concurrent sequences, one frame each per call:

    >>> import numpy as np
    >>> from fastgen.hmm import GaussianHMM
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(3 * 50, 2))
    >>> model = GaussianHMM(2, random_state=0).fit(X, [50, 50, 50])
    >>> stream = model.stream(n_streams=3)
    >>> rows = [stream.update(X[[t, 50 + t, 100 + t]]).filtered for t in range(50)]
    >>> first_stream = np.stack([r[0] for r in rows])
    >>> bool(np.allclose(first_stream, model.filter(X[:50]), rtol=0, atol=1e-10))
    True
    >>> bool(np.allclose(stream.log_likelihood_, model.score_sequences(X, [50, 50, 50])))
    True

    A fixed-lag smoother with two frames of look-ahead:

    >>> smoother = model.stream(lag=2)
    >>> out = smoother.update(X[:10])
    >>> out.smoothed.shape  # frames 0..7 have two frames after them
    (8, 2)
    >>> bool(np.allclose(out.smoothed[3], model.predict_proba(X[:6])[3]))
    True
    >>> bool(np.allclose(smoother.flush().smoothed, model.predict_proba(X[:10])[8:]))
    True
    """

    def __init__(self, model: Any, n_streams: int = 1, lag: int = 0) -> None:
        self.model = model
        self.n_streams = n_streams
        self.lag = lag

    # ------------------------------------------------------------ state

    def _validate_params(self) -> None:
        from fastgen.hmm._base import BaseHMM

        if not isinstance(self.model, BaseHMM):
            raise TypeError(f"model must be a fastgen HMM, got {type(self.model).__name__}")
        for name in ("n_streams", "lag"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{name} must be an integer, got {value!r}")
        if self.n_streams < 1:
            raise ValueError(f"n_streams must be at least 1, got {self.n_streams}")
        if self.lag < 0:
            raise ValueError(f"lag must be non-negative, got {self.lag}")

    def _state(self) -> None:
        """Create the state attributes (all streams at their start) when missing."""
        if "n_frames_" in vars(self):
            return
        self._validate_params()
        ns, nc, lag = int(self.n_streams), int(self.model.n_components), int(self.lag)
        self.n_frames_ = np.zeros(ns, dtype=np.int64)
        self.log_likelihood_ = np.zeros(ns)
        self.filtered_ = np.zeros((ns, nc))
        self.held_ = np.zeros(ns, dtype=np.int64)
        self.held_log_frames_ = np.zeros((ns, lag, nc))
        self.held_filtered_ = np.zeros((ns, lag, nc))

    def _streams(self, streams: Any) -> np.ndarray:
        """The stream indices ``streams`` names (all when None), as int64."""
        if streams is None:
            return np.arange(self.n_streams, dtype=np.int64)
        idx = np.atleast_1d(np.asarray(streams))
        if idx.dtype.kind not in "iu" or idx.ndim != 1:
            raise ValueError("streams must be stream indices (integers)")
        if idx.size and (idx.min() < 0 or idx.max() >= self.n_streams):
            raise ValueError(f"stream indices must lie in [0, {self.n_streams})")
        return idx.astype(np.int64)

    def reset(self, streams: Any = None) -> HMMStream:
        """Start ``streams`` afresh, dropping what they held (no output).

        Parameters
        ----------
        streams : int or array-like of int, optional
            Indices of the streams to reset, in ``[0, n_streams)``.  None (default):
            all of them.

        Returns
        -------
        HMMStream
            ``self``, those streams at the start of a new sequence.

        Raises
        ------
        ValueError
            If a stream index is out of range or not an integer.
        """
        self._state()
        idx = self._streams(streams)
        self.n_frames_[idx] = 0
        self.log_likelihood_[idx] = 0.0
        self.filtered_[idx] = 0.0
        self.held_[idx] = 0
        return self

    # ------------------------------------------------------------ filtering

    def _chunk_lengths(self, n_rows: int, lengths: Any) -> np.ndarray:
        if lengths is None:
            if self.n_streams == 1:
                return np.array([n_rows], dtype=np.int64)
            if n_rows != self.n_streams:
                raise ValueError(
                    f"{n_rows} rows for {self.n_streams} streams: give lengths (frames of "
                    "each stream in this chunk) or one row per stream"
                )
            return np.ones(self.n_streams, dtype=np.int64)
        given = np.asarray(lengths)
        if given.ndim != 1 or given.shape[0] != self.n_streams or given.dtype.kind not in "iu":
            raise ValueError(
                f"lengths must be {self.n_streams} integers (frames of each stream, in order)"
            )
        if given.size and given.min() < 0:
            raise ValueError("lengths must be non-negative")
        if int(given.sum()) != n_rows:
            raise ValueError(f"lengths add up to {int(given.sum())}, not to the {n_rows} rows")
        return given.astype(np.int64)

    def update(self, X: Any, lengths: Any = None) -> StreamOutput:
        """Feed the next frames of the streams; their filtered (and smoothed) rows.

        Parameters
        ----------
        X : array-like (n_rows, n_features)
            The frames, stream by stream in stream order, each stream's in time order.
        lengths : int array (n_streams,), optional
            Frames of each stream in ``X`` (zeros allowed).  Default: all rows for a
            single stream, else one row per stream.

        Returns
        -------
        StreamOutput
            ``filtered``: the filtered rows of every frame of ``X``, in its order;
            ``smoothed`` / ``smoothed_lengths``: the frames that now have ``lag``
            frames after them, smoothed (``lag=0``: the filtered rows again).

        Raises
        ------
        ValueError
            If ``lengths`` does not match the streams and the rows of ``X``, or ``X``
            does not suit the model.
        """
        self._state()
        model = self.model
        nc = int(model.n_components)
        X = np.asarray(X)
        counts = self._chunk_lengths(len(X), lengths)
        active = np.flatnonzero(counts)
        if active.size == 0:
            empty = np.zeros((0, nc))
            return StreamOutput(empty, empty.copy(), np.zeros(self.n_streams, dtype=np.int64))
        family, Xp, _ = prepared_input(model, X, counts[active])
        em = family.emission_model(Xp)
        r = _k.forward_filter(
            startidx(counts[active]), model.startprob_, model.transmat_, em,
            message=self.filtered_[active], carried=self.n_frames_[active] > 0,
        )  # fmt: skip
        self.filtered_[active] = r.message
        self.log_likelihood_[active] += r.log_prob
        self.n_frames_[active] += counts[active]
        if self.lag == 0:
            return StreamOutput(r.filtered, r.filtered, counts)
        smoothed, emitted = self._smooth(active, counts[active], _k.log_frames(em), r.filtered)
        return StreamOutput(r.filtered, smoothed, emitted)

    def flush(self, streams: Any = None) -> StreamOutput:
        """End the sequences of ``streams`` (default: all): emit their held frames,
        smoothed on everything the sequence had, then start them afresh.

        Parameters
        ----------
        streams : int or array-like of int, optional
            Indices of the streams whose sequences end, in ``[0, n_streams)``.  None
            (default): all of them.

        Returns
        -------
        StreamOutput
            ``filtered`` is empty; ``smoothed`` holds the held frames (``lag=0``: none).
        """
        self._state()
        nc = int(self.model.n_components)
        idx = np.unique(self._streams(streams))
        empty = np.zeros((0, nc))
        if self.lag == 0:
            self.reset(idx)
            return StreamOutput(empty, empty.copy(), np.zeros(self.n_streams, dtype=np.int64))
        smoothed, emitted = self._smooth(
            idx, np.zeros(idx.size, dtype=np.int64), empty, empty, final=True
        )
        self.reset(idx)
        return StreamOutput(empty, smoothed, emitted)

    # ------------------------------------------------------------ fixed-lag smoother

    def _smooth(self, active: np.ndarray, counts: np.ndarray, log_frames: np.ndarray,
                filtered: np.ndarray, final: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Emit the frames of the ``active`` streams that have ``lag`` frames after them
        (``final``: all their frames), from each stream's window (held frames, then the
        chunk's ``counts`` new ones), and keep the last ``lag`` frames held."""
        lag, nc = int(self.lag), int(self.model.n_components)
        held = self.held_[active]
        emitted = np.zeros(self.n_streams, dtype=np.int64)
        if not final and (counts == 1).all() and (held == lag).all():
            # steady state, one new frame each: shift registers, no gathering
            every = active.size == self.n_streams
            old_lf = self.held_log_frames_ if every else self.held_log_frames_[active]
            old_fi = self.held_filtered_ if every else self.held_filtered_[active]
            new_lf = np.concatenate([old_lf[:, 1:], log_frames[:, None]], axis=1)
            new_fi = np.concatenate([old_fi[:, 1:], filtered[:, None]], axis=1)
            smoothed = _smoothed(new_lf, np.full(active.size, lag), old_fi[:, 0],
                                 self.model.transmat_)  # fmt: skip
            if every:
                self.held_log_frames_, self.held_filtered_ = new_lf, new_fi
            else:
                self.held_log_frames_[active], self.held_filtered_[active] = new_lf, new_fi
            emitted[active] = 1
            return smoothed, emitted
        width = held + counts  # window of each active stream
        offset = np.cumsum(width) - width
        n_rows = int(width.sum())
        win_lf = np.empty((n_rows, nc))
        win_fi = np.empty((n_rows, nc))
        # held rows: the last held_ rows of each stream's buffers
        pos = _ragged_arange(held)
        who = np.repeat(np.arange(active.size), held)
        src = lag - np.repeat(held, held) + pos
        win_lf[offset[who] + pos] = self.held_log_frames_[active[who], src]
        win_fi[offset[who] + pos] = self.held_filtered_[active[who], src]
        # new rows, in the chunk's order
        pos = _ragged_arange(counts)
        who = np.repeat(np.arange(active.size), counts)
        win_lf[offset[who] + np.repeat(held, counts) + pos] = log_frames
        win_fi[offset[who] + np.repeat(held, counts) + pos] = filtered
        # emitted: the window rows with lag rows after them (final: every row), each with
        # the (at most lag) rows after it in its window
        n_out = width if final else np.maximum(width - lag, 0)
        pos = _ragged_arange(n_out)
        who = np.repeat(np.arange(active.size), n_out)
        rows = offset[who] + pos
        last = offset[who] + width[who] - 1
        after = np.minimum(rows[:, None] + 1 + np.arange(lag), last[:, None])
        smoothed = _smoothed(win_lf[after], np.minimum(last - rows, lag), win_fi[rows],
                             self.model.transmat_)  # fmt: skip
        # keep the last min(lag, width) rows of each window
        keep = np.minimum(width, lag)
        pos = _ragged_arange(keep)
        who = np.repeat(np.arange(active.size), keep)
        src_rows = offset[who] + width[who] - keep[who] + pos
        dst = lag - np.repeat(keep, keep) + pos
        self.held_log_frames_[active[who], dst] = win_lf[src_rows]
        self.held_filtered_[active[who], dst] = win_fi[src_rows]
        self.held_[active] = keep
        emitted[active] = n_out
        return smoothed, emitted


def _normalised_rows(a: np.ndarray) -> np.ndarray:
    """Rows of ``a`` divided by their sums (rows summing to 0 stay 0)."""
    total = a.sum(axis=1, keepdims=True)
    return np.divide(a, total, out=np.zeros_like(a), where=total > 0)


def _smoothed(after: np.ndarray, n_after: np.ndarray, filtered: np.ndarray,
              transmat: np.ndarray) -> np.ndarray:
    """Fixed-lag smoothed rows: each ``filtered`` row (E, nc) times the backward message
    over the first ``n_after[e]`` of its frames after, ``after`` (E, lag, nc) holding
    their emission log-likelihoods; normalised (rows of an impossible sequence stay
    zero)."""
    beta = np.ones_like(filtered)
    a_t = np.asarray(transmat, dtype=np.float64).T
    for k in range(after.shape[1] - 1, -1, -1):
        step = n_after > k
        every = bool(step.all())
        if not (every or step.any()):
            continue
        lf = after[:, k] if every else after[step, k]
        top = lf.max(axis=1, keepdims=True)
        finite = np.isfinite(top)
        with np.errstate(invalid="ignore", under="ignore"):
            like = np.where(finite, np.exp(lf - np.where(finite, top, 0.0)), 0.0)
        b = _normalised_rows((like * (beta if every else beta[step])) @ a_t)
        if every:
            beta = b
        else:
            beta[step] = b
    return _normalised_rows(filtered * beta)
