"""SIGTERM, SIGHUP and SIGINT end ``fastgen predict/generate/train`` cleanly.

Real ``python -m fastgen`` subprocesses are signalled mid-run (once their temporary
output exists) and must exit with 128 + the signal number, print exactly one line on
stderr and leave no temporary file and no output (an existing output untouched).
The in-process tests check the handler machinery itself: restoring the previous
handlers, ignoring a second signal during cleanup, delivering a swallowed one again.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import fastgen
from fastgen import cli
from fastgen._signals import Interrupted, Terminated, exit_signals
from fastgen.naive_bayes import MultinomialNB
from fastgen.pipeline import TextClassifier
from fastgen.text import CountVectorizer

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGHUP") or sys.platform == "win32", reason="POSIX signals"
)

#: seconds a subprocess may take to reach the point where it is signalled, or to exit
STARTUP_TIMEOUT = 60.0
EXIT_TIMEOUT = 30.0

DOCS = ["good fun movie", "bad awful plot", "great fun", "boring bad"]
LABELS = [1, 0, 1, 0]


# --------------------------------------------------------------------------- helpers


def start(*args: object, **kwargs) -> subprocess.Popen:
    """``python -m fastgen ARGS`` with stderr captured."""
    return subprocess.Popen(
        [sys.executable, "-m", "fastgen", *map(str, args)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, **kwargs,
    )


def wait_until(condition: Callable[[], bool], proc: subprocess.Popen) -> bool:
    """Poll ``condition`` while ``proc`` runs: True once it holds, False if ``proc`` ended."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not condition():
        if proc.poll() is not None:
            return False
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"timed out; stderr: {proc.communicate()[1]}")
        time.sleep(0.002)
    return True


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=EXIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"did not exit after the signal; stderr: {proc.communicate()[1]}")
    return proc.returncode, err


def temporaries(directory: Path) -> list[str]:
    """The writers' (``.NAME.PID-XXXX.tmp``) and fastgen.save's (``NAME.tmp-PID``) files."""
    return sorted(p.name for p in directory.iterdir()
                  if p.name.endswith(".tmp") or ".tmp-" in p.name)


def signal_when_writing(proc: subprocess.Popen, directory: Path, *signums: int) -> None:
    """Send ``signums`` (in a row) once a temporary output exists in ``directory``."""
    if not wait_until(lambda: bool(temporaries(directory)), proc):
        pytest.fail(f"finished before it could be signalled; stderr: {proc.communicate()[1]}")
    for signum in signums:
        proc.send_signal(signum)


def message(signum: int) -> str:
    if signum == signal.SIGINT:
        return "fastgen: interrupted\n"
    return f"fastgen: terminated ({signal.Signals(signum).name})\n"


def assert_clean_exit(proc: subprocess.Popen, signum: int | set[int], directory: Path,
                      keep: set[str]) -> None:
    """Exit 128 + signal, one line on stderr, only ``keep`` left in ``directory``.

    ``signum``: the signal sent, or the set of those sent together (pending signals
    are handled in the order of their numbers: the first handled one counts).
    """
    code, err = finish(proc)
    sent = {signum} if isinstance(signum, int) else signum
    assert code - 128 in sent, err
    assert err == message(code - 128)
    assert temporaries(directory) == []
    assert {p.name for p in directory.iterdir()} == keep


def signal_mask(pid: int, field: str) -> int:
    """A signal mask (``SigCgt``, ``SigIgn``...) of a running process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1], 16)
    raise AssertionError(field)


def has(mask: int, signum: int) -> bool:
    return bool(mask >> (signum - 1) & 1)


@pytest.fixture(scope="module")
def vae_file(tmp_path_factory) -> Path:
    from test_batch import make_onnx_autoencoder  # an onnx-built model file, no TensorFlow

    return make_onnx_autoencoder(tmp_path_factory.mktemp("sig") / "vae.fgm", 5, 2, vae=True)


@pytest.fixture(scope="module")
def nb_job(tmp_path_factory) -> tuple[Path, Path]:
    """An NB model file and a text input long enough to predict for many seconds."""
    folder = tmp_path_factory.mktemp("sig")
    model = TextClassifier(CountVectorizer(), MultinomialNB()).fit(DOCS, LABELS)
    fastgen.save(model, folder / "nb.fgm")
    (folder / "big.txt").write_text("good fun movie with a bad plot\n" * 500_000)
    return folder / "nb.fgm", folder / "big.txt"


SIGNALS = [signal.SIGTERM, signal.SIGHUP, signal.SIGINT]
IDS = ["SIGTERM", "SIGHUP", "SIGINT"]


# --------------------------------------------------------------------------- real processes


@pytest.mark.parametrize("signum", SIGNALS, ids=IDS)
def test_generate_signalled_mid_run(tmp_path, vae_file, signum):
    proc = start("generate", vae_file, "-n", 2_000_000, "--batch-size", 1, "--seed", 0,
                 "-o", tmp_path / "samples.npy")
    signal_when_writing(proc, tmp_path, signum)
    assert_clean_exit(proc, signum, tmp_path, keep=set())


@pytest.mark.parametrize(("signum", "ext"), list(zip(SIGNALS, [".npy", ".csv", ".parquet"],
                                                    strict=True)), ids=IDS)
def test_predict_signalled_mid_run(tmp_path, nb_job, signum, ext):
    pytest.importorskip("pyarrow")
    model, data = nb_job
    out = tmp_path / f"labels{ext}"
    out.write_bytes(b"an earlier output")
    proc = start("predict", model, data, "-o", out, "--proba", "--batch-size", 1)
    signal_when_writing(proc, tmp_path, signum)
    assert_clean_exit(proc, signum, tmp_path, keep={out.name})
    assert out.read_bytes() == b"an earlier output"


def test_second_signal_during_cleanup(tmp_path, vae_file):
    proc = start("generate", vae_file, "-n", 2_000_000, "--batch-size", 1,
                 "-o", tmp_path / "samples.csv")
    sent = [signal.SIGTERM, signal.SIGTERM, signal.SIGINT, signal.SIGHUP]
    signal_when_writing(proc, tmp_path, *sent)
    assert_clean_exit(proc, set(sent), tmp_path, keep=set())


def _training_text(folder: Path, n_docs: int, n_classes: int, vocabulary: int) -> None:
    """Documents of random words and their labels: a big NB model, slow to save."""
    rng = np.random.default_rng(0)
    words = np.char.add("w", rng.integers(0, vocabulary, (n_docs, 10)).astype(str))
    (folder / "docs.txt").write_text("\n".join(" ".join(r) for r in words.tolist()) + "\n")
    labels = rng.integers(0, n_classes, n_docs).astype(str)
    (folder / "labels.txt").write_text("\n".join(labels) + "\n")


def test_train_signalled_while_saving(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    out = tmp_path / "model"
    out.mkdir()
    # the temporary model file exists for a fraction of a second: if the process saved
    # before it was seen, try again with a bigger model (slower to save)
    for n_docs, vocabulary in ((20_000, 100_000), (30_000, 1_000_000)):
        _training_text(data, n_docs, 100, vocabulary)
        proc = start("train", "nb", data / "docs.txt", "--labels", data / "labels.txt",
                     "-o", out / "m.fgm", "-q")
        if wait_until(lambda: bool(temporaries(out)), proc):
            proc.send_signal(signal.SIGTERM)
            assert_clean_exit(proc, signal.SIGTERM, out, keep=set())
            return
        assert finish(proc)[0] == 0
        (out / "m.fgm").unlink()
    pytest.fail("the model was always saved before its temporary file was seen")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
def test_train_signalled_while_fitting(tmp_path):
    _training_text(tmp_path, 20_000, 10, 100_000)
    proc = start("train", "nb", tmp_path / "docs.txt", "--labels", tmp_path / "labels.txt",
                 "-o", tmp_path / "m.fgm")
    # the handlers are installed when main starts; the input is read and fitted after
    assert wait_until(lambda: has(signal_mask(proc.pid, "SigCgt"), signal.SIGHUP), proc)
    proc.send_signal(signal.SIGHUP)
    assert_clean_exit(proc, signal.SIGHUP, tmp_path, keep={"docs.txt", "labels.txt"})


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
def test_ignored_signal_stays_ignored(tmp_path, vae_file):
    """Under ``nohup`` (SIGHUP ignored) the command keeps ignoring SIGHUP."""

    def ignore_hup() -> None:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    proc = start("generate", vae_file, "-n", 2_000_000, "--batch-size", 1,
                 "-o", tmp_path / "samples.npy", preexec_fn=ignore_hup)
    signal_when_writing(proc, tmp_path)
    assert has(signal_mask(proc.pid, "SigIgn"), signal.SIGHUP)
    assert has(signal_mask(proc.pid, "SigCgt"), signal.SIGTERM)
    proc.send_signal(signal.SIGTERM)
    assert_clean_exit(proc, signal.SIGTERM, tmp_path, keep=set())


# --------------------------------------------------------------------------- in process


def test_main_restores_the_handlers(tmp_path, capsys):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    assert cli.main(["info", str(tmp_path / "nope.fgm")]) == 1
    assert {s: signal.getsignal(s) for s in before} == before
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize("wrapped", [False, True], ids=["raw", "wrapped"])
def test_predict_terminated_in_process(tmp_path, nb_job, capsys, monkeypatch, wrapped):
    calls = {"n": 0}
    real = TextClassifier.predict

    def predict(self, docs):
        calls["n"] += 1
        if calls["n"] == 3:
            try:
                signal.raise_signal(signal.SIGTERM)
            except BaseException as exc:
                if wrapped:  # a library turning the exception into its own
                    raise RuntimeError("session aborted") from exc
                raise
        return real(self, docs)

    monkeypatch.setattr(TextClassifier, "predict", predict)
    model, _ = nb_job
    (tmp_path / "in.txt").write_text("good fun\n" * 100)
    code = cli.main([str(a) for a in ("predict", model, tmp_path / "in.txt", "-o",
                                      tmp_path / "o.csv", "--batch-size", 10)])
    assert code == 143 and calls["n"] == 3
    assert capsys.readouterr().err == "fastgen: terminated (SIGTERM)\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt"]


def test_signal_raises_and_later_ones_wait_for_the_cleanup():
    with pytest.raises(Terminated) as info, exit_signals():
        try:
            signal.raise_signal(signal.SIGTERM)
        finally:  # the cleanup: a second signal must not interrupt it
            signal.raise_signal(signal.SIGHUP)
            signal.raise_signal(signal.SIGINT)
            done = True
    assert done and info.value.signum == signal.SIGTERM and info.value.name == "SIGTERM"
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    with pytest.raises(KeyboardInterrupt) as info, exit_signals():
        signal.raise_signal(signal.SIGINT)
    assert type(info.value) is Interrupted
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_swallowed_signal_is_delivered_again_and_not_reported(monkeypatch):
    """A signal whose exception Python swallows (raised in a ``__del__``, or in importlib's
    weakref callback when it lands during an import) is delivered again by the watchdog,
    and Python's "Exception ignored" report of it stays off stderr; other unraisable
    errors still reach the previous hook."""
    reported: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reported.append(u.exc_value))

    class RaisesInDel:
        def __del__(self) -> None:  # Python reports errors here and carries on
            signal.raise_signal(signal.SIGTERM)

    class FailsInDel:
        def __del__(self) -> None:
            raise ValueError("not a signal")

    hook = sys.unraisablehook
    deadline = time.monotonic() + 10
    with pytest.raises(Terminated), exit_signals():
        FailsInDel()
        gc.collect()
        assert len(reported) == 1 and isinstance(reported[0], ValueError)
        RaisesInDel()
        gc.collect()
        assert len(reported) == 1  # the swallowed Terminated was not reported
        while time.monotonic() < deadline:  # the watchdog signals again
            time.sleep(0.01)
    assert sys.unraisablehook is hook and len(reported) == 1  # the previous hook is back


def test_ignored_and_custom_handlers_are_left_alone():
    def custom(signum, frame) -> None:
        pass

    old_term = signal.signal(signal.SIGTERM, custom)
    old_hup = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with exit_signals():
            assert signal.getsignal(signal.SIGTERM) is custom
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGHUP, old_hup)
