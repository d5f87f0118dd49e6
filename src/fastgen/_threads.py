"""Thread policy of fastgen's compiled HMM kernels.

The kernels (:mod:`fastgen._kernels.hmm`) do not start threads: each call takes a fixed
split of its work (chunks of sequences, time blocks of a long sequence) and a
``(first, step)`` pair saying which parts it runs, releasing the GIL while it does.
:func:`run_workers` calls such a kernel once per worker, the calling thread being
worker 0 and a persistent pool supplying the others.  The split does not depend on the
number of threads, so neither do the results.

The number of threads is :func:`get_num_threads`: the value given to
:func:`set_num_threads`, else the environment variable ``FASTGEN_NUM_THREADS``, else the
number of CPUs this process may run on.  Plain Python threads are used, not OpenMP, so
a process that forks after a fit (``multiprocessing``, Dask's fork start method) gets a
working pool of its own in the child.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

__all__ = ["get_num_threads", "set_num_threads", "run_workers"]

_lock = threading.Lock()
_requested: int | None = None
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def _cpu_count() -> int:
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(os.cpu_count() or 1, 1)


def _from_environment() -> int | None:
    value = os.environ.get("FASTGEN_NUM_THREADS", "").strip()
    if not value:
        return None
    try:
        n = int(value)
    except ValueError:
        raise ValueError(f"FASTGEN_NUM_THREADS must be a positive integer, got {value!r}") from None
    if n < 1:
        raise ValueError(f"FASTGEN_NUM_THREADS must be a positive integer, got {value!r}")
    return n


def get_num_threads() -> int:
    """Number of threads fastgen's HMM kernels use.

    Returns
    -------
    int
        The value given to :func:`set_num_threads`, else ``FASTGEN_NUM_THREADS``, else
        the number of CPUs this process may run on.

    Examples
    --------
    >>> import fastgen
    >>> fastgen.get_num_threads() >= 1
    True
    """
    if _requested is not None:
        return _requested
    return _from_environment() or _cpu_count()


def set_num_threads(n: int | None) -> None:
    """Set the number of threads of fastgen's HMM kernels (process-wide).

    Results do not depend on it: the kernels split their work the same way whatever
    the number of threads.

    Parameters
    ----------
    n : int or None
        A positive number of threads, or None to go back to the default
        (``FASTGEN_NUM_THREADS``, else the CPUs this process may run on).

    Examples
    --------
    >>> import fastgen
    >>> fastgen.set_num_threads(1)
    >>> fastgen.get_num_threads()
    1
    >>> fastgen.set_num_threads(None)
    """
    global _requested
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"the number of threads must be a positive integer, got {n!r}")
    _requested = n


def _executor(size: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < size:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="fastgen-kernel")
            _pool_size = size
        return _pool


def _forget_pool_after_fork() -> None:  # the parent's worker threads do not exist in a child
    global _pool, _pool_size, _lock
    _pool, _pool_size, _lock = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def run_workers(task: Callable[[int, int], object], n_workers: int) -> None:
    """Run ``task(first, step)`` for ``first = 0 .. n_workers - 1`` with ``step =
    n_workers``, concurrently: worker 0 on the calling thread, the others on the pool.

    ``task`` should release the GIL for its work (the kernels do).  The first
    exception raised by a worker is re-raised once every worker has finished.

    Parameters
    ----------
    task : callable
        ``task(first, step)``.
    n_workers : int
        Workers to run; 1 runs ``task(0, 1)`` on the calling thread alone.
    """
    if n_workers <= 1:
        task(0, 1)
        return
    pool = _executor(n_workers - 1)
    futures = [pool.submit(task, k, n_workers) for k in range(1, n_workers)]
    error: BaseException | None = None
    try:
        task(0, n_workers)
    except BaseException as exc:  # noqa: BLE001 - re-raised after the others finish
        error = exc
    for f in futures:
        exc = f.exception()
        if exc is not None and error is None:
            error = exc
    if error is not None:
        raise error
