"""Thread policy of the compiled kernels (fastgen._threads): the thread count, its
environment default, run_workers, a fork after the pool started, and HMM results that do
not depend on the number of threads."""

import os
import sys
import threading
import time
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import fastgen
import fastgen._kernels.hmm._entry as entry
from fastgen import _threads
from fastgen._kernels import hmm as k


@pytest.fixture(autouse=True)
def default_threads(monkeypatch):
    """Every test starts and ends with the default thread count and no environment value."""
    monkeypatch.delenv("FASTGEN_NUM_THREADS", raising=False)
    fastgen.set_num_threads(None)
    yield
    fastgen.set_num_threads(None)


def _cpus():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


# --------------------------------------------------------------------------- the thread count


def test_set_and_get():
    assert fastgen.get_num_threads() >= 1
    for n in (1, 2, 7):
        fastgen.set_num_threads(n)
        assert fastgen.get_num_threads() == n == _threads.get_num_threads()
    fastgen.set_num_threads(None)
    assert fastgen.get_num_threads() == _cpus()


@pytest.mark.parametrize("bad", [0, -1, True, False, 1.5, 2.0, "2", [2]])
def test_set_rejects_what_is_not_a_positive_integer(bad):
    fastgen.set_num_threads(3)
    with pytest.raises(ValueError, match="positive integer"):
        fastgen.set_num_threads(bad)
    assert fastgen.get_num_threads() == 3  # unchanged


@pytest.mark.parametrize("value,n", [("3", 3), (" 2 ", 2), ("1", 1), ("", None), ("  ", None)])
def test_environment_default(monkeypatch, value, n):
    monkeypatch.setenv("FASTGEN_NUM_THREADS", value)
    assert fastgen.get_num_threads() == (n if n is not None else _cpus())
    fastgen.set_num_threads(5)  # an explicit setting wins over the environment
    assert fastgen.get_num_threads() == 5
    fastgen.set_num_threads(None)
    assert fastgen.get_num_threads() == (n if n is not None else _cpus())


@pytest.mark.parametrize("value", ["0", "-2", "abc", "1.5", "2 threads", "True"])
def test_environment_value_must_be_a_positive_integer(monkeypatch, value):
    monkeypatch.setenv("FASTGEN_NUM_THREADS", value)
    with pytest.raises(ValueError, match="FASTGEN_NUM_THREADS"):
        fastgen.get_num_threads()
    fastgen.set_num_threads(2)  # set explicitly, the environment is not read
    assert fastgen.get_num_threads() == 2


# --------------------------------------------------------------------------- run_workers


@pytest.mark.parametrize("n_workers", [1, 2, 3, 8])
def test_run_workers_runs_every_worker_once_concurrently(n_workers):
    """task(first, step) for first = 0 .. n - 1, step = n; worker 0 on the calling thread;
    all at once (a barrier of n_workers would time out otherwise)."""
    calls = []
    lock = threading.Lock()
    barrier = threading.Barrier(n_workers, timeout=30)

    def task(first, step):
        barrier.wait()
        with lock:
            calls.append((first, step, threading.get_ident()))

    _threads.run_workers(task, n_workers)
    assert sorted(c[:2] for c in calls) == [(i, n_workers) for i in range(n_workers)]
    assert dict((c[0], c[2]) for c in calls)[0] == threading.get_ident()
    if n_workers > 1:
        assert len({c[2] for c in calls}) == n_workers  # distinct threads


@pytest.mark.parametrize("n_workers", [0, -3])
def test_run_workers_with_no_workers_runs_the_task_once(n_workers):
    calls = []
    _threads.run_workers(lambda first, step: calls.append((first, step)), n_workers)
    assert calls == [(0, 1)]


def test_run_workers_reuses_and_grows_its_pool():
    for n in (2, 5, 3, 2, 6):
        seen = []
        _threads.run_workers(lambda first, step, seen=seen: seen.append(first), n)
        assert sorted(seen) == list(range(n))


def _fail_from(first_failing, exc=RuntimeError):
    """A task whose workers from ``first_failing`` on raise ``exc(first)``."""

    def task(first, step):
        if first >= first_failing:
            raise exc(str(first))

    return task


def test_run_workers_raises_the_first_error_after_every_worker_finished():
    """Workers 1 and 3 fail, quickly; worker 0 is slow: run_workers returns only when
    every worker is done, raising worker 1's error (the first in worker order)."""
    finished = []

    def task(first, step):
        try:
            if first == 0:
                time.sleep(0.2)
            if first == 1:
                raise KeyError("worker 1")
            if first == 3:
                raise RuntimeError("worker 3")
            time.sleep(0.05)
        finally:
            finished.append(first)

    with pytest.raises(KeyError, match="worker 1"):
        _threads.run_workers(task, 4)
    assert sorted(finished) == [0, 1, 2, 3]
    with pytest.raises(RuntimeError, match="^0$"):  # the calling thread's own error first
        _threads.run_workers(_fail_from(0), 3)
    with pytest.raises(RuntimeError, match="^2$"):
        _threads.run_workers(_fail_from(2), 4)
    with pytest.raises(KeyboardInterrupt):  # BaseException too, from a pool thread
        _threads.run_workers(_fail_from(1, KeyboardInterrupt), 2)
    # the pool still works, and the thread count did not move
    seen = []
    _threads.run_workers(lambda first, step: seen.append(first), 4)
    assert sorted(seen) == [0, 1, 2, 3]
    assert fastgen.get_num_threads() == _cpus()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork start method: Linux")
def test_run_workers_after_fork(monkeypatch):
    """A child forked after the pool started (multiprocessing, Dask's fork method) gets a
    pool of its own: run_workers and threaded kernels work there, with the same results."""
    _threads.run_workers(lambda first, step: None, 3)  # the parent's pool exists
    rng = np.random.RandomState(0)
    logf = rng.randn(3000, 4)
    startidx = np.array([0, 1000, 1500, 3000])
    start, trans = np.full(4, 0.25), np.full((4, 4), 0.25)
    monkeypatch.setattr(entry, "SERIAL_WORK", 0)
    fastgen.set_num_threads(2)
    em = k.emissions(k.EMIT_LOG_FRAMES, log_frame=logf)
    expected = k.forward_backward(startidx, start, trans, em, True).log_prob
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork of a threaded process
        pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        status = 1
        try:
            seen = []
            _threads.run_workers(lambda first, step: seen.append((first, step)), 2)
            r = k.forward_backward(startidx, start, trans, em, True)
            ok = sorted(seen) == [(0, 2), (1, 2)] and np.array_equal(r.log_prob, expected)
            status = 0 if ok else 2
        finally:
            os._exit(status)
    deadline = time.monotonic() + 60
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung in run_workers")
        time.sleep(0.01)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status


# --------------------------------------------------------------------------- HMM results


def _gaussian_data(rng, lengths):
    means = np.array([[0.0, 0.0], [4.0, 4.0], [-4.0, 3.0]])
    X = np.concatenate([means[rng.randint(3, size=n)] + rng.randn(n, 2) for n in lengths])
    return X


@pytest.mark.parametrize("implementation", ["log", "scaling"])
def test_hmm_results_do_not_depend_on_threads(monkeypatch, implementation):
    """GaussianHMM and CategoricalHMM fitted, scored and decoded with one thread and with
    two (the kernels forced to thread however little the work): the same numbers, bit
    for bit."""
    from fastgen.hmm import CategoricalHMM, GaussianHMM

    monkeypatch.setattr(entry, "SERIAL_WORK", 0)
    rng = np.random.RandomState(1)
    lengths = [5000, *rng.randint(1, 80, size=150)]  # a long sequence and many short ones
    X = _gaussian_data(rng, lengths)
    sym = rng.randint(4, size=(len(X), 1))
    gaussian_params = ("startprob_", "transmat_", "means_", "covars_")
    categorical_params = ("startprob_", "transmat_", "emissionprob_")
    results = []
    for n_threads in (1, 2):
        fastgen.set_num_threads(n_threads)
        out = {}
        for cov in ("diag", "full"):
            g = GaussianHMM(
                3, covariance_type=cov, n_iter=4, random_state=0, implementation=implementation
            )
            g.fit(X, lengths)
            out.update({f"{cov}.{a}": getattr(g, a) for a in gaussian_params})
            out[f"{cov}.score"] = np.array(g.score(X, lengths))
            out[f"{cov}.predict"] = g.predict(X, lengths)
            out[f"{cov}.proba"] = g.predict_proba(X, lengths)
        c = CategoricalHMM(3, n_iter=4, random_state=0, implementation=implementation)
        c.fit(sym, lengths)
        out.update({f"cat.{a}": getattr(c, a) for a in categorical_params})
        out["cat.score"] = np.array(c.score(sym, lengths))
        out["cat.decode"] = c.predict(sym, lengths)
        results.append(out)
    one, two = results
    assert one.keys() == two.keys()
    for name in one:
        assert_array_equal(two[name], one[name], err_msg=name)
