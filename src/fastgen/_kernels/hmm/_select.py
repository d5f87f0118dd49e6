"""Which build of the compiled HMM kernels the running CPU gets.

On x86-64 the kernels are compiled twice (see setup.py): for x86-64-v2 (SSE4.2, the
baseline NumPy 2 itself requires) in :mod:`fastgen._kernels.hmm`, and for x86-64-v3
(AVX2) in :mod:`fastgen._kernels.hmm._v3`.  Both give bit-identical results; the v3
build is up to twice as fast where the CPU has AVX2.  :func:`kernel_build` picks one
from NumPy's CPU feature detection, once per process.

The environment variable ``FASTGEN_KERNEL_BUILD`` overrides the choice: ``baseline``
(or ``x86-64-v2``) takes the baseline build even on an AVX2 CPU; ``x86-64-v3`` insists
on the v3 build and fails if the CPU lacks it.
"""

from __future__ import annotations

import os
import platform
from functools import lru_cache

__all__ = ["kernel_build", "kernel_package"]

BASELINE = "fastgen._kernels.hmm"
V3 = "fastgen._kernels.hmm._v3"

#: NumPy's names of the features x86-64-v2 / v3 add (older NumPy has no X86_V* keys)
_V2_FEATURES = ("SSE3", "SSSE3", "SSE41", "SSE42", "POPCNT")
_V3_FEATURES = (*_V2_FEATURES, "AVX", "AVX2", "FMA3", "F16C", "BMI", "BMI2", "LZCNT", "MOVBE")


def _cpu_features() -> dict[str, bool]:
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # NumPy 1.x
        try:
            from numpy.core._multiarray_umath import __cpu_features__
        except ImportError:  # pragma: no cover - NumPy without feature detection
            return {}
    return dict(__cpu_features__)


def _has(features: dict[str, bool], level: str, names: tuple[str, ...]) -> bool:
    if level in features:
        return bool(features[level])
    return all(features.get(n, False) for n in names)


@lru_cache(maxsize=1)
def kernel_build() -> str:
    """The build of the HMM kernels this process uses.

    Returns
    -------
    str
        ``"x86-64-v3"``, ``"x86-64-v2"`` or ``"generic"`` (not an x86-64 machine).

    Raises
    ------
    ImportError
        On an x86-64 CPU without SSE4.2 (x86-64-v2), or when ``FASTGEN_KERNEL_BUILD``
        asks for a build the CPU cannot run.
    """
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return "generic"
    forced = os.environ.get("FASTGEN_KERNEL_BUILD", "").strip().lower()
    if forced not in ("", "baseline", "x86-64-v2", "x86-64-v3"):
        raise ImportError(
            f"FASTGEN_KERNEL_BUILD={forced!r}: use 'baseline', 'x86-64-v2' or 'x86-64-v3'"
        )
    features = _cpu_features()
    if features and not _has(features, "X86_V2", _V2_FEATURES):
        raise ImportError(
            "fastgen's HMM kernels need an x86-64-v2 CPU (SSE4.2, POPCNT), as NumPy 2 does"
        )
    v3 = _has(features, "X86_V3", _V3_FEATURES)
    if forced == "x86-64-v3" and not v3:
        raise ImportError("FASTGEN_KERNEL_BUILD=x86-64-v3 but this CPU has no AVX2/FMA")
    if forced in ("baseline", "x86-64-v2") or not v3:
        return "x86-64-v2"
    return "x86-64-v3"


def kernel_package() -> str:
    """Dotted name of the package holding the compiled modules of :func:`kernel_build`."""
    return V3 if kernel_build() == "x86-64-v3" else BASELINE
