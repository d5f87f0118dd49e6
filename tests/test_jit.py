"""fastgen._jit: the kernel cache folder, the notices, and Numba left alone for user code.

In-process and quick: nothing here compiles a kernel (see test_warmup.py for that).
"""

from __future__ import annotations

import logging
import os
import stat
import sys
import tempfile
from pathlib import Path

import numba
import pytest
from numba.core import caching
from numba.core.dispatcher import Dispatcher

import fastgen
from fastgen import _jit
from fastgen._kernels import _hmm, _nb

PACKAGE = Path(fastgen.__file__).resolve().parent
KERNELS = str(PACKAGE / "_kernels")
TAG = f"numba-{numba.__version__}-{sys.implementation.cache_tag}"


@pytest.fixture
def tmp_tempdir(tmp_path, monkeypatch) -> Path:
    """A private ``tempfile.gettempdir()`` for the per-user fallback folder."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp


@pytest.fixture
def fresh_notices(monkeypatch) -> None:
    monkeypatch.setattr(_jit, "_noticed", set())
    monkeypatch.delenv("FASTGEN_QUIET", raising=False)


def _not_file(tmp_path: Path) -> Path:
    """A path no one can create folders under, root included (its parent is a file)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    return blocker / "cache"


# --------------------------------------------------------------------------- cache_root


def test_fastgen_cache_dir_overrides_everything(tmp_path):
    env = {"FASTGEN_CACHE_DIR": str(tmp_path / "fg"), "XDG_CACHE_HOME": str(tmp_path / "x"),
           "HOME": str(tmp_path / "home")}
    assert _jit.cache_root(env) == tmp_path / "fg" / TAG


def test_xdg_cache_home_then_home(tmp_path):
    assert _jit.cache_root({"XDG_CACHE_HOME": str(tmp_path / "x"), "HOME": "/h"}) == (
        tmp_path / "x" / "fastgen" / TAG
    )
    home = {"HOME": str(tmp_path / "home")}
    assert _jit.cache_root(home) == tmp_path / "home" / ".cache" / "fastgen" / TAG
    # the XDG specification: a relative XDG_CACHE_HOME is invalid and ignored
    relative = {"XDG_CACHE_HOME": "rel/cache", "HOME": str(tmp_path / "home")}
    assert _jit.cache_root(relative) == _jit.cache_root(home)
    assert _jit.cache_root({"FASTGEN_CACHE_DIR": "  ", **home}) == _jit.cache_root(home)


def test_folder_names_numba_and_python():
    name = _jit.cache_root({"HOME": "/h"}).name
    assert name == TAG and numba.__version__ in name and name.endswith(
        sys.implementation.cache_tag
    )


# --------------------------------------------------------------------------- choose_cache_dir


def test_choice_is_created_under_the_override(tmp_path):
    choice = _jit.choose_cache_dir(KERNELS, {"FASTGEN_CACHE_DIR": str(tmp_path / "fg")})
    assert choice.writable and choice.path == choice.preferred
    assert choice.path.parent == tmp_path / "fg" / TAG and choice.path.is_dir()
    assert choice.path.name.startswith("_kernels-")
    assert PACKAGE not in choice.path.parents


def test_fresh_home_gets_the_cache(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    choice = _jit.choose_cache_dir(KERNELS, {"HOME": str(home)})
    assert choice.writable and choice.path.parent == home / ".cache" / "fastgen" / TAG


def test_each_installed_copy_has_its_own_subfolder(tmp_path):
    env = {"FASTGEN_CACHE_DIR": str(tmp_path)}
    a = _jit.choose_cache_dir(KERNELS, env).path
    b = _jit.choose_cache_dir(str(tmp_path / "other" / "_kernels"), env).path
    assert a.parent == b.parent and a != b


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX user ids")
def test_unwritable_home_falls_back_to_a_private_temp_folder(tmp_path, tmp_tempdir):
    choice = _jit.choose_cache_dir(KERNELS, {"HOME": str(_not_file(tmp_path))})
    assert choice.writable and choice.path != choice.preferred
    private = tmp_tempdir / f"fastgen-{os.getuid()}"
    assert choice.path.parent == private / TAG and choice.path.is_dir()
    assert stat.S_IMODE(private.stat().st_mode) == 0o700


def test_unwritable_override_falls_back_too(tmp_path, tmp_tempdir):
    choice = _jit.choose_cache_dir(KERNELS, {"FASTGEN_CACHE_DIR": str(_not_file(tmp_path))})
    assert choice.writable and tmp_tempdir in choice.path.parents


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX ownership check")
def test_a_temp_folder_open_to_others_is_refused(tmp_path, tmp_tempdir):
    shared = tmp_tempdir / f"fastgen-{os.getuid()}"
    shared.mkdir()
    shared.chmod(0o777)  # anyone could have planted compiled code in it
    choice = _jit.choose_cache_dir(KERNELS, {"HOME": str(_not_file(tmp_path))})
    assert choice.path is None and not choice.writable


def test_read_only_cache_holding_kernels_is_used_for_loading(tmp_path, tmp_tempdir,
                                                             monkeypatch):
    env = {"FASTGEN_CACHE_DIR": str(tmp_path / "baked")}
    baked = _jit.choose_cache_dir(KERNELS, env).path
    (baked / "_hmm.forward_log-1.py311.nbi").write_bytes(b"")
    monkeypatch.setattr(_jit, "_writable", lambda folder: False)  # root ignores modes
    choice = _jit.choose_cache_dir(KERNELS, env)
    assert choice.path == baked and not choice.writable
    (baked / "_hmm.forward_log-1.py311.nbi").unlink()  # an empty one is of no use
    assert _jit.choose_cache_dir(KERNELS, env).path is None


# --------------------------------------------------------------------------- the dispatchers


def test_kernels_cache_outside_the_package():
    for module in (_hmm, _nb):
        folder = _jit.kernel_cache_dir(module)
        assert folder is not None and PACKAGE not in folder.parents
        caches = [v._cache for v in vars(module).values() if isinstance(v, Dispatcher)]
        assert caches and all(type(c).__name__ == "FastgenFunctionCache" for c in caches)
        assert {c.cache_path for c in caches} == {str(folder)}


def test_user_functions_keep_numbas_rules():
    """Numba's locator list is untouched: only fastgen's dispatchers use fastgen's cache."""
    assert all(c.__module__ == "numba.core.caching" for c in caching.CacheImpl._locator_classes)

    @numba.njit(cache=True)
    def user_function(x):  # pragma: no cover - never compiled
        return x

    assert type(user_function._cache) is caching.FunctionCache


def test_njit_without_cache_and_disabled_jit(monkeypatch):
    def f(x):  # pragma: no cover - never compiled
        return x

    assert type(_jit.njit(f)._cache) is caching.NullCache
    assert type(_jit.njit(inline="always")(f)._cache) is caching.NullCache
    with pytest.raises(TypeError):
        _jit.njit("float64(float64)")


def test_unknown_numba_falls_back_to_numbas_cache_with_one_notice(monkeypatch, capsys,
                                                                   fresh_notices):
    monkeypatch.setattr(_jit, "_classes", False)
    monkeypatch.setattr(_jit, "SUPPORTED_NUMBA", ((0, 0), (0, 1)))

    def f(x):  # pragma: no cover - never compiled
        return x

    for _ in range(2):
        disp = _jit.njit(cache=True)(f)
        assert type(disp._cache) is caching.FunctionCache  # Numba's default locators
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("fastgen: numba ") and "its own way" in err[0]


def test_no_folder_at_all_means_no_cache_and_one_notice(monkeypatch, capsys, fresh_notices,
                                                         tmp_path):
    for name in ("FASTGEN_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(_not_file(tmp_path)))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "a-file"))  # no temp folder
    for _ in range(2):
        assert _jit._choice_for.__wrapped__(KERNELS).path is None
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("fastgen: cannot write the kernel cache")

    monkeypatch.setattr(_jit, "_choice_for", lambda d: _jit.CacheChoice(None, False, tmp_path))

    def f(x):  # pragma: no cover - never compiled
        return x

    assert type(_jit.njit(cache=True)(f)._cache) is caching.NullCache


# --------------------------------------------------------------------------- notices


def test_notice_and_quiet(monkeypatch, capsys, fresh_notices):
    _jit.notice("hello")
    assert capsys.readouterr().err == "fastgen: hello\n"
    monkeypatch.setenv("FASTGEN_QUIET", "1")
    _jit.notice("hidden")
    assert capsys.readouterr().err == ""
    assert _jit.is_quiet({"FASTGEN_QUIET": "yes"}) and not _jit.is_quiet({"FASTGEN_QUIET": "0"})


def test_logging_level_silences(monkeypatch, capsys, fresh_notices):
    logger = logging.getLogger("fastgen")
    monkeypatch.setattr(logger, "level", logging.WARNING)
    assert _jit.is_quiet({})
    _jit.notice("hidden")
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(logger, "level", logging.NOTSET)
    assert not _jit.is_quiet({})


def test_notice_survives_a_closed_stderr(monkeypatch, fresh_notices):
    monkeypatch.setattr(sys, "stderr", None)
    _jit.notice("nowhere")  # no exception


def test_import_fastgen_stays_light():
    import subprocess

    code = "import sys, fastgen; print('numba' in sys.modules, 'fastgen._jit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["False", "False"]
