"""A feature whose extra is not installed says which extra to install, from the Python
API as from the command line (``fastgen._extras``)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fastgen import _extras
from fastgen._extras import MissingExtraError, missing_packages, require

# a child interpreter in which the named top-level packages cannot be found or imported
_BLOCKED = textwrap.dedent(
    """
    import sys

    BLOCKED = set(sys.argv[1].split(","))


    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None


    sys.meta_path.insert(0, Blocker())
    exec(sys.argv[2])
    """
)


def run_without(packages: list[str], code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", _BLOCKED, ",".join(packages), textwrap.dedent(code)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_message_names_the_feature_the_extra_and_the_install_line(monkeypatch):
    monkeypatch.setattr(_extras, "_installed", lambda name: name != "keras")
    assert missing_packages("train") == ["keras"]
    with pytest.raises(MissingExtraError) as info:
        require("train", "Autoencoder.fit")
    assert str(info.value) == (
        "Autoencoder.fit needs the 'train' extra (missing: keras); "
        "pip install 'fastgen-models[train]'"
    )
    assert isinstance(info.value, ModuleNotFoundError) and info.value.name == "keras"
    assert info.value.extra == "train" and info.value.missing == ["keras"]
    monkeypatch.setattr(_extras, "_installed", lambda name: True)
    require("train", "anything")  # all there: no error


def test_training_without_keras_names_the_train_extra():
    proc = run_without(["keras", "tensorflow"], """
        import numpy as np
        from fastgen.nn import Autoencoder
        try:
            Autoencoder(4).fit(np.zeros((8, 4), dtype=np.float32), epochs=1)
        except ModuleNotFoundError as exc:
            print("ERROR", exc)
    """)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "ERROR Autoencoder.fit needs the 'train' extra" in proc.stdout
    assert "pip install 'fastgen-models[train]'" in proc.stdout


def test_fastgen_dask_without_dask_names_the_dask_extra():
    proc = run_without(["dask"], """
        try:
            import fastgen.dask
        except ModuleNotFoundError as exc:
            print("ERROR", exc)
    """)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == (
        "ERROR fastgen.dask needs the 'dask' extra (missing: dask); "
        "pip install 'fastgen-models[dask]'"
    )


def test_cli_training_without_the_stack_exits_with_the_same_message(tmp_path):
    np.save(tmp_path / "X.npy", np.zeros((8, 4), dtype=np.float32))
    data, out = tmp_path / "X.npy", tmp_path / "m.fgm"
    proc = run_without(["keras"], f"""
        import sys
        from fastgen.cli import main
        sys.exit(main(["train", "ae", r"{data}", "-o", r"{out}"]))
    """)  # fmt: skip
    assert proc.returncode != 0
    assert "needs the 'train' extra (missing: keras)" in proc.stderr
    assert not out.exists()
