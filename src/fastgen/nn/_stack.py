"""The training stack (the ``train`` extra): TensorFlow, Keras and tf2onnx, imported on
first use, with TensorFlow's native start-up logs kept off the user's terminal.

TensorFlow's C++ side logs through absl: INFO lines for every graph session tf2onnx
opens, and a few banners written to the process's standard error before its logging
is even set up (so ``TF_CPP_MIN_LOG_LEVEL`` cannot reach them).  fastgen sets
``TF_CPP_MIN_LOG_LEVEL=2`` unless the user chose a level (errors still show), and
imports the stack with file descriptor 2 captured: the known banners are dropped,
anything else written meanwhile is passed on as it came.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import import_module
from types import ModuleType

from fastgen._extras import require

__all__ = ["BANNERS", "native_stderr_filtered", "training_module"]

#: substrings of the lines TensorFlow prints on import whatever the log level
BANNERS = (
    "All log messages before absl::InitializeLog() is called",
    "oneDNN custom operations are on",
    "cpu_feature_guard.cc",
    "To enable the following instructions:",
)


@contextmanager
def native_stderr_filtered(drop: tuple[str, ...] = BANNERS) -> Iterator[None]:
    """Capture what is written to file descriptor 2 in the block (native code and
    Python alike), then write it back without the lines containing one of ``drop``."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, AttributeError, ValueError):  # no usable descriptor 2: nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode("utf-8", errors="replace")
            kept = [line for line in text.splitlines(True) if not any(d in line for d in drop)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def training_module(name: str, what: str) -> ModuleType:
    """Import ``name`` (``"tensorflow"``, ``"keras"``, ``"tf2onnx"``, ``"onnx"``) for the
    feature ``what``; raises :class:`~fastgen._extras.MissingExtraError` when the
    ``train`` extra is not installed."""
    module = sys.modules.get(name)
    if module is not None:
        return module
    require("train", what)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # C++ INFO and WARNING lines
    with native_stderr_filtered():
        return import_module(name)
