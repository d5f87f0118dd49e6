"""Thread policy of fastgen's compiled HMM kernels.

The kernels (:mod:`fastgen._kernels.hmm`) do not start threads: each call takes a fixed
split of its work (chunks of sequences, time blocks of a long sequence) and a
``(first, step)`` pair saying which parts it runs, releasing the GIL while it does.
:func:`run_workers` calls such a kernel once per worker, the calling thread being
worker 0 and a persistent pool supplying the others.  The split does not depend on the
number of threads, so neither do the results.

The number of threads is :func:`get_num_threads`: the value given to
:func:`set_num_threads`, else the environment variable ``FASTGEN_NUM_THREADS``, else the
number of CPUs this process may run on.  :func:`map_tasks` runs independent jobs (the
random restarts of an HMM fit, the candidates of a model selection) side by side and
shares that number between them: each job's kernels then see a smaller
:func:`get_num_threads`, set for its thread alone (:func:`thread_budget`).

Plain Python threads are used, not OpenMP, so a process that forks after a fit
(``multiprocessing``, Dask's fork start method) gets a working pool of its own in the
child.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, TypeVar

__all__ = ["get_num_threads", "map_tasks", "run_workers", "set_num_threads", "thread_budget"]

_T = TypeVar("_T")

_lock = threading.Lock()
_requested: int | None = None
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_local = threading.local()  # .budget: this thread's share (map_tasks), else None


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
        the number of CPUs this process may run on (in a job of :func:`map_tasks`: that
        job's share).

    Examples
    --------
    >>> import fastgen
    >>> fastgen.get_num_threads() >= 1
    True
    """
    budget = getattr(_local, "budget", None)
    if budget is not None:  # inside a job of map_tasks: its share
        return budget
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


@contextmanager
def thread_budget(n: int) -> Iterator[None]:
    """Within the calling thread only, make :func:`get_num_threads` return ``n``.

    Parameters
    ----------
    n : int
        A positive number of threads for the kernels this thread calls.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"the number of threads must be a positive integer, got {n!r}")
    previous = getattr(_local, "budget", None)
    _local.budget = n
    try:
        yield
    finally:
        _local.budget = previous


def _blas_limit(n: int) -> AbstractContextManager:
    """At most ``n`` BLAS threads per call for the duration (process-wide): jobs side by
    side calling a BLAS that starts threads of its own (NumPy's OpenBLAS, in the k-means
    of an initialisation) would otherwise ask for ``n_par`` times the CPUs, which costs
    far more than it gains.  ``threadpoolctl`` (a dependency) is imported here, on first
    use; without it (a source tree used as is) nothing is limited."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - installs carry it
        return nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


def map_tasks(
    func: Callable[[Any], _T], items: Sequence[Any], *, parallel: bool = True
) -> list[_T]:
    """``[func(item) for item in items]``, the calls run side by side on threads.

    The :func:`get_num_threads` threads are shared: ``min(len(items), threads)`` calls
    run at once, each with ``threads // that`` threads for the kernels it calls (its
    :func:`thread_budget`, and as many BLAS threads when ``threadpoolctl`` is installed);
    with one thread, or one item, the calls run one after the other on the calling
    thread.  ``func`` should spend its time in kernels that release
    the GIL.  Results come back in the order of ``items``; the error of the first
    failing item (in that order) is raised once the calls that started have finished,
    and calls not yet started are dropped.

    Parameters
    ----------
    func : callable
        Called once per item, on any thread.
    items : sequence
    parallel : bool, default=True
        False runs the calls one after the other on the calling thread (with every
        thread for their kernels): the caller's choice when the calls are too small
        for threads to gain more than they cost (NumPy and Python work holding the GIL).

    Returns
    -------
    list
        ``func(item)`` of every item, in order.
    """
    items = list(items)
    total = get_num_threads()
    n_par = min(len(items), total) if parallel else 1
    if n_par <= 1:
        return [func(item) for item in items]
    share = total // n_par
    if share > 1:  # room in the kernels' pool for every job's workers at once
        _executor(n_par * (share - 1))

    def job(item: Any) -> _T:
        with thread_budget(share):
            return func(item)

    with _blas_limit(share), ThreadPoolExecutor(n_par, thread_name_prefix="fastgen-task") as pool:
        futures = [pool.submit(job, item) for item in items]
        for i, f in enumerate(futures):
            error = f.exception()
            if error is not None:
                for later in futures[i + 1 :]:
                    later.cancel()
                break
    if error is not None:  # raised once the pool has shut down: every started call ended
        raise error
    return [f.result() for f in futures]
