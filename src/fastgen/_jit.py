"""fastgen's Numba policy: where compiled kernels are cached, and the one-time notice.

The kernel modules (:mod:`fastgen._kernels`) decorate their functions with :func:`njit`
from here instead of :func:`numba.njit`.  With ``cache=True`` the compiled machine code
goes to fastgen's own per-user cache folder (:func:`cache_root`), never next to the
installed package: Numba's default would write a ``__pycache__`` folder into
site-packages (which ``pip uninstall`` leaves behind, and which a read-only install
cannot hold).  Only the dispatchers made here are affected; the user's own Numba
functions keep Numba's rules (``NUMBA_CACHE_DIR`` and so on).

Where the cache lives (first match):

1. ``$FASTGEN_CACHE_DIR/numba-<numba version>-<python tag>``;
2. ``$XDG_CACHE_HOME/fastgen/numba-...``, else ``~/.cache/fastgen/numba-...``
   (``%LOCALAPPDATA%\\fastgen\\numba-...`` on Windows);
3. when that folder cannot be written: the same folder read-only if it already holds
   compiled kernels (a cache baked into a container image), else a private per-user
   temporary folder ``<tmp>/fastgen-<uid>/numba-...`` (mode 0700, refused if owned by
   someone else);
4. else no cache: the kernels are compiled in every process (one notice says so).

Each kernel folder gets its own sub-folder per installed copy of fastgen, as Numba
does.  The first time a process compiles the HMM kernels (a cold cache: about 40 s)
one line on stderr says so; ``FASTGEN_QUIET=1`` or
``logging.getLogger("fastgen").setLevel(logging.WARNING)`` hides it and the other
notices of this module.

The cache plugs into Numba through ``numba.core.caching`` internals (a locator class
and a ``FunctionCache`` subclass set as the dispatcher's ``_cache``), checked for
Numba 0.60 to 0.69.  On another Numba, or when those internals are missing, the
kernels fall back to Numba's own caching (next to the package) after a one-line
notice.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import pickle
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba
from numba.core import caching
from numba.core.dispatcher import Dispatcher

__all__ = [
    "CacheChoice",
    "CompileStats",
    "cache_root",
    "choose_cache_dir",
    "compile_stats",
    "is_quiet",
    "kernel_cache_dir",
    "njit",
    "notice",
    "silence_compile_notices",
]

_log = logging.getLogger(__name__)

#: Numba versions whose caching internals this module was checked against
SUPPORTED_NUMBA = ((0, 60), (0, 70))  # [low, high)

#: kernel modules whose first compilation in a process is announced, and the words used
_COMPILE_NOTICES = {
    "fastgen._kernels._hmm": (
        "compiling the HMM kernels for this machine (one time, about 40 s; "
        "'fastgen warmup' does it ahead)"
    ),
}

_TRUE = frozenset(("1", "true", "yes", "on"))


# --------------------------------------------------------------------------- notices


def is_quiet(environ: Mapping[str, str] | None = None) -> bool:
    """Whether fastgen's notices are off (``FASTGEN_QUIET`` or the ``fastgen`` logger).

    Parameters
    ----------
    environ : mapping, optional
        Environment to read (default ``os.environ``).

    Returns
    -------
    bool
        True when ``FASTGEN_QUIET`` is ``1``/``true``/``yes``/``on``, or when the
        ``fastgen`` logger was given a level above INFO (or disabled).
    """
    env = os.environ if environ is None else environ
    if env.get("FASTGEN_QUIET", "").strip().lower() in _TRUE:
        return True
    logger = logging.getLogger("fastgen")
    return logger.disabled or logger.level > logging.INFO


def notice(message: str) -> None:
    """Print ``fastgen: <message>`` as one line on stderr, unless :func:`is_quiet`."""
    if is_quiet():
        return
    stream = sys.stderr
    if stream is None:  # pythonw and the like
        return
    try:
        print(f"fastgen: {message}", file=stream, flush=True)
    except (OSError, ValueError):  # closed or broken stream: the notice is not essential
        pass


_noticed: set[str] = set()
_notice_lock = threading.Lock()


def silence_compile_notices() -> None:
    """Skip the "compiling" notices in this process (``fastgen warmup`` reports itself)."""
    with _notice_lock:
        _noticed.update(f"compile:{m}" for m in _COMPILE_NOTICES)


def _notice_once(key: str, message: str) -> None:
    with _notice_lock:
        if key in _noticed:
            return
        _noticed.add(key)
    notice(message)


# --------------------------------------------------------------------------- cache folder


def _python_tag() -> str:
    tag = sys.implementation.cache_tag  # e.g. "cpython-311"
    return tag or f"py{sys.version_info[0]}{sys.version_info[1]}"


def _versioned(root: Path) -> Path:
    return root / f"numba-{numba.__version__}-{_python_tag()}"


def cache_root(environ: Mapping[str, str] | None = None) -> Path:
    """The preferred cache folder of fastgen's compiled kernels (not checked).

    Parameters
    ----------
    environ : mapping, optional
        Environment to read (default ``os.environ``).

    Returns
    -------
    Path
        ``$FASTGEN_CACHE_DIR/numba-<numba version>-<python tag>`` when
        ``FASTGEN_CACHE_DIR`` is set, else ``$XDG_CACHE_HOME/fastgen/numba-...``
        (an absolute ``XDG_CACHE_HOME`` only, as the XDG specification says), else
        ``~/.cache/fastgen/numba-...`` (``%LOCALAPPDATA%\\fastgen\\numba-...`` on
        Windows).
    """
    env = os.environ if environ is None else environ
    explicit = env.get("FASTGEN_CACHE_DIR", "").strip()
    if explicit:
        return _versioned(Path(os.path.expanduser(explicit)))
    xdg = env.get("XDG_CACHE_HOME", "").strip()
    if xdg and os.path.isabs(xdg):
        return _versioned(Path(xdg) / "fastgen")
    if os.name == "nt":
        local = env.get("LOCALAPPDATA") or os.path.join(os.path.expanduser("~"), "AppData", "Local")
        return _versioned(Path(local) / "fastgen")
    home = env.get("HOME") or os.path.expanduser("~")
    return _versioned(Path(home) / ".cache" / "fastgen")


def _private_temp_root() -> Path | None:
    """``<tmp>/fastgen-<user>``, created 0700; None when it is not safely ours."""
    getuid = getattr(os, "getuid", None)
    if getuid is None:  # Windows: the temporary folder is per user already
        import getpass

        try:
            user = getpass.getuser()
        except Exception:  # noqa: BLE001 - no user name: no fallback folder
            return None
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in user)
        return Path(tempfile.gettempdir()) / f"fastgen-{name}"
    uid = getuid()
    base = Path(tempfile.gettempdir()) / f"fastgen-{uid}"
    try:
        base.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(base)
    except OSError:
        return None
    # someone else's folder (or a link planted in a shared /tmp) could feed us compiled
    # code: use it only when it is a real folder, ours, and closed to others
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid or st.st_mode & 0o077:
        return None
    return base


def _kernel_subdir(source_dir: str) -> str:
    """One sub-folder per installed copy of a kernel folder (as Numba names them)."""
    path = os.path.abspath(source_dir)
    digest = hashlib.sha1(path.encode(), usedforsecurity=False).hexdigest()[:16]
    return f"{os.path.basename(path)}-{digest}"


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


def _holds_kernels(folder: Path) -> bool:
    try:
        with os.scandir(folder) as entries:
            return any(e.name.endswith(".nbi") for e in entries)
    except OSError:
        return False


@dataclass(frozen=True)
class CacheChoice:
    """The folder chosen for one kernel folder's cache.

    Attributes
    ----------
    path : Path or None
        Where the compiled kernels are read and written; None: no cache.
    writable : bool
        False for a read-only cache that already holds compiled kernels.
    preferred : Path
        The folder :func:`cache_root` asked for (before any fallback).
    """

    path: Path | None
    writable: bool
    preferred: Path


def choose_cache_dir(
    source_dir: str, environ: Mapping[str, str] | None = None
) -> CacheChoice:
    """Pick the cache folder for the kernels defined in ``source_dir``.

    Parameters
    ----------
    source_dir : str
        Folder of the kernel modules (``fastgen/_kernels`` of this installation).
    environ : mapping, optional
        Environment to read (default ``os.environ``).

    Returns
    -------
    CacheChoice
        The preferred folder when it can be written; else the preferred folder
        read-only when it already holds compiled kernels; else a private per-user
        temporary folder; else no folder.  Folders are created as needed; nothing is
        ever written under ``source_dir``.
    """
    sub = _kernel_subdir(source_dir)
    preferred = cache_root(environ) / sub
    if _writable(preferred):
        return CacheChoice(preferred, True, preferred)
    if _holds_kernels(preferred):
        return CacheChoice(preferred, False, preferred)
    temp = _private_temp_root()
    if temp is not None:
        folder = _versioned(temp) / sub
        if _writable(folder):
            return CacheChoice(folder, True, preferred)
    return CacheChoice(None, False, preferred)


@functools.cache
def _choice_for(source_dir: str) -> CacheChoice:
    choice = choose_cache_dir(source_dir)
    if choice.path is None:
        _notice_once(
            "no-cache",
            f"cannot write the kernel cache (tried {choice.preferred.parent} and a private "
            "temporary folder); compiled kernels are not kept (set FASTGEN_CACHE_DIR to a "
            "writable folder)",
        )
    elif choice.path != choice.preferred and os.environ.get("FASTGEN_CACHE_DIR", "").strip():
        _notice_once(
            "fallback",
            f"FASTGEN_CACHE_DIR={os.environ['FASTGEN_CACHE_DIR']} is not writable; "
            f"the kernel cache is in {choice.path.parent}",
        )
    _log.debug("kernel cache for %s: %s", source_dir, choice)
    return choice


def kernel_cache_dir(module: Any) -> Path | None:
    """The folder holding a kernel module's compiled functions (None: not cached).

    Parameters
    ----------
    module : module
        A kernel module (e.g. ``fastgen._kernels._hmm``).

    Returns
    -------
    Path or None
        fastgen's folder (:func:`choose_cache_dir`), Numba's own when fastgen's cache
        could not be used, or None when nothing is kept between processes.
    """
    for value in vars(module).values():
        if isinstance(value, Dispatcher):
            path = getattr(value, "_cache", None) and value._cache.cache_path
            if path:
                return Path(path)
    return None


# --------------------------------------------------------------------------- statistics


@dataclass
class CompileStats:
    """Kernel signatures compiled / loaded from the cache in this process.

    Attributes
    ----------
    compiled : list of str
        ``module.function(signature)`` of every kernel compiled (cache miss).
    loaded : int
        Kernel signatures loaded from the cache.
    """

    compiled: list[str] = field(default_factory=list)
    loaded: int = 0


_STATS = CompileStats()


def compile_stats() -> CompileStats:
    """The process-wide :class:`CompileStats` of fastgen's cached kernels (live object)."""
    return _STATS


# --------------------------------------------------------------------------- Numba plumbing


def _numba_version() -> tuple[int, int]:
    try:
        major, minor = numba.__version__.split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        return (0, 0)


def _internals_ok() -> bool:
    """Whether ``numba.core.caching`` has what this module builds on."""
    low, high = SUPPORTED_NUMBA
    if not low <= _numba_version() < high:
        return False
    names = ("FunctionCache", "CompileResultCacheImpl", "_CacheLocator",
             "_SourceFileBackedLocatorMixin")  # fmt: skip
    return all(hasattr(caching, n) for n in names) and hasattr(
        caching.CacheImpl, "_locator_classes"
    )


@functools.lru_cache(maxsize=64)
def _source_hash(path: str, mtime: float, size: int) -> bytes:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).digest()


def _source_stamp(path: str) -> bytes:
    st = os.stat(path)
    return _source_hash(path, st.st_mtime, st.st_size)


def _build_classes() -> tuple[type, type] | None:
    """fastgen's locator and ``FunctionCache`` subclass (None: internals not as known)."""
    if not _internals_ok():
        return None

    class FastgenCacheLocator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
        """Numba cache locator of fastgen's kernels: :func:`choose_cache_dir`."""

        def __init__(self, py_func: Callable, py_file: str, choice: CacheChoice) -> None:
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            self._choice = choice
            self._cache_path = str(choice.path)

        def get_cache_path(self) -> str:
            return self._cache_path

        def ensure_cache_path(self) -> None:  # before a save; checked once at selection
            os.makedirs(self._cache_path, exist_ok=True)

        def get_source_stamp(self) -> bytes:
            # a content hash (Numba 0.60 used mtime and size, which differ per install)
            return _source_stamp(self._py_file)

        @classmethod
        def from_function(cls, py_func: Callable, py_file: str) -> FastgenCacheLocator | None:
            if not os.path.isfile(py_file):
                return None
            choice = _choice_for(os.path.dirname(os.path.abspath(py_file)))
            return None if choice.path is None else cls(py_func, py_file, choice)

    class FastgenCacheImpl(caching.CompileResultCacheImpl):
        _locator_classes = [FastgenCacheLocator]

    class FastgenFunctionCache(caching.FunctionCache):
        """Numba's per-function cache in fastgen's folder; announces a cold compile."""

        _impl_class = FastgenCacheImpl

        def __init__(self, py_func: Callable) -> None:
            super().__init__(py_func)
            self._fastgen_module = getattr(py_func, "__module__", "")
            self._fastgen_name = f"{self._fastgen_module}.{py_func.__qualname__}"

        def load_overload(self, sig: Any, target_context: Any) -> Any:
            try:
                cres = super().load_overload(sig, target_context)
            except (OSError, EOFError, pickle.UnpicklingError, AttributeError,
                    ImportError, ValueError) as exc:  # fmt: skip
                # a damaged or foreign cache entry: compile afresh (and overwrite it)
                _log.debug("cache entry of %s unreadable: %r", self._fastgen_name, exc)
                cres = None
            if cres is None:
                _STATS.compiled.append(f"{self._fastgen_name}{tuple(sig)}")
                text = _COMPILE_NOTICES.get(self._fastgen_module)
                if text is not None:
                    _notice_once(f"compile:{self._fastgen_module}", text)
            else:
                _STATS.loaded += 1
            return cres

        def save_overload(self, sig: Any, data: Any) -> None:
            try:
                super().save_overload(sig, data)
            except OSError as exc:  # read-only or full: the kernel still runs
                _log.debug("cannot cache %s: %r", self._fastgen_name, exc)

    return FastgenCacheLocator, FastgenFunctionCache


_classes: tuple[type, type] | None | bool = False  # False: not built yet


def _function_cache_class() -> type | None:
    global _classes
    if _classes is False:
        _classes = _build_classes()
    return None if _classes is None else _classes[1]  # type: ignore[index]


def _enable_cache(disp: Dispatcher) -> None:
    """Give ``disp`` fastgen's cache (or Numba's own, or none; see the module notes)."""
    cache_class = _function_cache_class()
    if cache_class is None:
        _notice_once(
            "numba-internals",
            f"numba {numba.__version__} is outside the versions fastgen's kernel cache "
            "knows; Numba caches the kernels its own way (next to the package)",
        )
        disp.enable_caching()
        return
    py_file = getattr(disp.py_func.__code__, "co_filename", "")
    if not os.path.isfile(py_file):  # e.g. imported from a zip: Numba knows those
        disp.enable_caching()
        return
    if _choice_for(os.path.dirname(os.path.abspath(py_file))).path is None:
        return  # no folder at all: compile in every process (noticed once)
    try:
        disp._cache = cache_class(disp.py_func)
    except Exception as exc:  # noqa: BLE001 - any surprise: Numba's default rules
        _notice_once(
            "numba-internals",
            f"fastgen's kernel cache does not work with numba {numba.__version__} "
            f"({type(exc).__name__}: {exc}); Numba caches the kernels its own way",
        )
        disp.enable_caching()


def njit(func: Callable | None = None, /, **options: Any) -> Any:
    """:func:`numba.njit` whose ``cache=True`` caches in fastgen's folder.

    Parameters
    ----------
    func : callable, optional
        The function to compile (``@njit``); omitted for ``@njit(**options)``.
    **options
        Numba's ``njit`` options; ``cache=True`` uses fastgen's cache folder
        (:func:`choose_cache_dir`) and announces a cold compile of the HMM kernels.

    Returns
    -------
    numba Dispatcher, or a decorator making one
    """
    cache = bool(options.pop("cache", False))

    def decorate(f: Callable) -> Any:
        disp = numba.njit(**options)(f)
        if cache and isinstance(disp, Dispatcher):  # not under NUMBA_DISABLE_JIT
            _enable_cache(disp)
        return disp

    if func is None:
        return decorate
    if not callable(func):
        raise TypeError("fastgen._jit.njit takes a function, not signatures")
    return decorate(func)
