"""A tiny dependency-free progress bar for long batch jobs (written to stderr).

Shows rows done, throughput (rows/s) and, when the fraction done is known (a total
row count, or the share of the input file read), a percentage and an ETA.  Redraws
are throttled to ``max_rate`` per second; the bar is off unless the stream is a
terminal (or ``enabled=True`` forces it on).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress", "format_duration"]


def format_duration(seconds: float) -> str:
    """``h:mm:ss`` or ``m:ss`` for a non-negative number of seconds."""
    seconds = max(int(round(seconds)), 0)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _is_tty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):  # closed or detached stream
        return False


class Progress:
    """Progress of a job counted in rows.

    Parameters
    ----------
    total : int, optional
        Rows expected, when known; enables the percentage and the ETA.
    enabled : bool, optional
        ``None`` (default): on when ``stream`` is a terminal.
    stream : text stream, optional
        Where to draw (default ``sys.stderr``).
    unit : str
        Name of the counted items.
    desc : str
        Prefix of the line.
    max_rate : float
        Most redraws per second.
    clock : callable
        Monotonic clock in seconds (tests inject a fake one).

    Use as a context manager or call :meth:`close`; ``update(n, fraction=None)``
    adds ``n`` rows, ``fraction`` (0-1) overrides the fraction done when ``total``
    is unknown (e.g. bytes of the input read so far).
    """

    def __init__(
        self,
        total: int | None = None,
        *,
        enabled: bool | None = None,
        stream: TextIO | None = None,
        unit: str = "rows",
        desc: str = "",
        max_rate: float = 10.0,
        clock=time.monotonic,
    ) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.enabled = _is_tty(self.stream) if enabled is None else bool(enabled)
        self.total = total
        self.unit = unit
        self.desc = desc
        self.interval = 1.0 / max_rate if max_rate > 0 else 0.0
        self.clock = clock
        self.done = 0
        self.fraction: float | None = None
        self._start = clock()
        self._last_draw = -float("inf")
        self._width = 0
        self._closed = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: int, fraction: float | None = None) -> None:
        """Add ``n`` rows done; redraw if the last draw is older than the interval."""
        self.done += int(n)
        if fraction is not None:
            self.fraction = min(max(float(fraction), 0.0), 1.0)
        if not self.enabled:
            return
        now = self.clock()
        if now - self._last_draw >= self.interval:
            self._draw(now)

    def line(self, now: float | None = None) -> str:
        """The text of the bar at time ``now``."""
        now = self.clock() if now is None else now
        elapsed = max(now - self._start, 1e-9)
        rate = self.done / elapsed
        fraction = self.fraction
        count = f"{self.done:,}"
        if self.total:
            count += f"/{self.total:,}"
            fraction = min(self.done / self.total, 1.0)
        parts = [f"{self.desc} " if self.desc else "", f"{count} {self.unit}"]
        parts.append(f"  {rate:,.0f} {self.unit}/s")
        if fraction is not None:
            parts.append(f"  {100 * fraction:5.1f}%")
            if 0 < fraction < 1:
                parts.append(f"  ETA {format_duration(elapsed * (1 - fraction) / fraction)}")
        parts.append(f"  {format_duration(elapsed)} elapsed")
        return "".join(parts)

    def _draw(self, now: float) -> None:
        text = self.line(now)
        pad = max(self._width - len(text), 0)
        self._width = len(text)
        try:
            self.stream.write("\r" + text + " " * pad)
            self.stream.flush()
        except (OSError, ValueError):  # a closed/broken stream never breaks the job
            self.enabled = False
        self._last_draw = now

    def close(self) -> None:
        """Draw the final state and end the line (once)."""
        if self._closed:
            return
        self._closed = True
        if self.enabled:
            self._draw(self.clock())
            try:
                self.stream.write("\n")
                self.stream.flush()
            except (OSError, ValueError):
                pass
