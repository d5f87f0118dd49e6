"""Signals that end a command: SIGINT, SIGTERM and SIGHUP as exceptions, for a block.

The ``fastgen`` command line runs each command inside :func:`exit_signals`, so that
``timeout``, systemd, Docker or Kubernetes stopping a job (SIGTERM), a closed terminal
(SIGHUP) and Ctrl-C (SIGINT) all unwind through the writers' cleanup: the temporary
output is removed and the command exits with 128 + the signal number.  Nothing here
is installed when the library is imported.
"""

from __future__ import annotations

import _thread
import contextlib
import signal
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

__all__ = ["Interrupted", "Terminated", "exit_signals", "stop_in_chain"]


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM or SIGHUP while a command runs.

    A ``BaseException`` like ``KeyboardInterrupt``: ``except Exception`` blocks let it
    through, and the writers' cleanup (``with`` blocks, ``finally``) runs as it unwinds.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = int(signum)

    @property
    def name(self) -> str:
        """The signal's name, e.g. ``"SIGTERM"``."""
        try:
            return signal.Signals(self.signum).name
        except ValueError:
            return f"signal {self.signum}"


class Interrupted(KeyboardInterrupt):
    """``KeyboardInterrupt`` raised by the CLI's SIGINT handler.

    A subclass so that CPython's "unhandled KeyboardInterrupt" exit (killing itself
    with SIGINT, status -2) is not triggered when the exception only passed through an
    ``eval`` on its way to :func:`main`, which handles it.
    """


#: signals that end a command cleanly (SIGHUP does not exist on Windows)
_EXIT_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)

#: seconds between the watchdog's checks that the signal's exception is still unwinding
_WATCHDOG_INTERVAL = 0.2


def _noop() -> None:
    """A Python-level call: the interpreter runs signal handlers already due on entry."""


class _SignalGuard:
    """SIGINT, SIGTERM and SIGHUP as exceptions in the main thread (see :func:`exit_signals`).

    The first signal raises :class:`Interrupted` (SIGINT) or :class:`Terminated`;
    while that exception is alive (unwinding through the cleanup code, then handled
    by :func:`main`) further signals are ignored, so they cannot cut the removal of
    temporary outputs short.  Should the exception be swallowed instead (raised in a
    ``__del__`` or another place whose errors Python only reports), a watchdog thread
    notices that it is gone and delivers the signal again; Python's report of the
    swallowed exception ("Exception ignored in ...", through ``sys.unraisablehook``) is
    left out, since the signal is not lost.  The watchdog is started with the guard: the
    handler itself takes no lock a thread start would need.
    """

    def __init__(self) -> None:
        self.previous: dict[int, Any] = {}
        #: the exception raised for the last signal (weakly) and that signal's number
        self.raised: tuple[weakref.ref[BaseException], int] | None = None
        self.closing = False
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.previous_hook: Any = None

    def handler(self, signum: int, frame: Any) -> None:
        if self.closing or (self.raised is not None and self.raised[0]() is not None):
            return  # the block is ending, or the first signal's cleanup is running
        exc: BaseException = Interrupted() if signum == signal.SIGINT else Terminated(signum)
        self.raised = (weakref.ref(exc), signum)
        self.wake.set()
        try:
            raise exc
        finally:
            del exc  # no reference cycle through this frame: the weak reference must die

    def _watch(self) -> None:
        """Deliver a signal again if its exception died before the block ended."""
        while self.wake.wait() and not self.closing:
            time.sleep(_WATCHDOG_INTERVAL)
            with self.lock:
                if self.closing:
                    return
                if self.raised is not None and self.raised[0]() is None:
                    signum = self.raised[1]
                    self.raised = None
                    self.wake.clear()
                    _thread.interrupt_main(signum)

    def _unraisable(self, unraisable: Any) -> None:
        """``sys.unraisablehook`` while installed: a signal's exception that Python could
        only report (raised in a ``__del__`` or a weakref callback) is not printed, the
        watchdog delivering the signal again; anything else goes to the previous hook."""
        if isinstance(unraisable.exc_value, (Interrupted, Terminated)) and not self.closing:
            return
        self.previous_hook(unraisable)

    def install(self) -> None:
        self.previous_hook = sys.unraisablehook
        sys.unraisablehook = self._unraisable
        for sig in _EXIT_SIGNALS:
            old = signal.getsignal(sig)
            if old in (signal.SIG_DFL, signal.default_int_handler):
                self.previous[sig] = old
                signal.signal(sig, self.handler)
        if self.previous:
            threading.Thread(target=self._watch, daemon=True,
                             name="fastgen-signal-watchdog").start()

    def restore(self) -> None:
        try:
            with self.lock:
                self.closing = True  # from here on, signals are ignored until restored
            _noop()  # a signal the watchdog just delivered is handled (ignored) now
        finally:
            for sig, old in self.previous.items():
                signal.signal(sig, old)
            if sys.unraisablehook == self._unraisable:  # not replaced meanwhile
                sys.unraisablehook = self.previous_hook
            self.wake.set()  # the watchdog sees closing and ends


@contextlib.contextmanager
def exit_signals() -> Iterator[None]:
    """Turn SIGINT, SIGTERM and SIGHUP into exceptions in the main thread, for a block.

    SIGINT raises ``KeyboardInterrupt`` (:class:`Interrupted`), SIGTERM and SIGHUP
    :class:`Terminated`; the writers' cleanup runs as they unwind.  Only default
    dispositions are replaced: a signal ignored by the parent (``nohup``) or handled
    by the embedding program is left alone, and the previous handlers are restored at
    the end.  Outside the main thread (where handlers cannot be set) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    guard = _SignalGuard()
    guard.install()
    try:
        yield
    finally:
        guard.restore()


def stop_in_chain(exc: BaseException) -> BaseException | None:
    """A ``KeyboardInterrupt`` or :class:`Terminated` that ``exc`` was raised from."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, (KeyboardInterrupt, Terminated)):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None
