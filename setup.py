"""Build the Cython kernels; all metadata lives in pyproject.toml.

Cython runs when the extension is built (``build_ext``), not when this file is loaded, so
making the sdist writes no generated C++ and ships the ``.pyx`` as the extension's source.

The compiled module is built without debug information (``-g0``) and linked stripped
(``-s``, Linux), so the wheel carries no symbol tables; set ``FASTGEN_DEBUG_SYMBOLS=1`` to
keep them (gdb or perf on a development build).
"""

import os
import platform
import sys
from pathlib import Path

import numpy as np
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

debug_symbols = os.environ.get("FASTGEN_DEBUG_SYMBOLS", "") not in ("", "0")
compile_args = ["-O3"] if debug_symbols else ["-O3", "-g0"]
link_args = ["-s"] if sys.platform.startswith("linux") and not debug_symbols else []


class cythonize_build_ext(build_ext):
    """``build_ext`` that turns the ``.pyx`` sources into C++ first."""

    def run(self):
        from Cython.Build import cythonize

        generated = cythonize(
            self.extensions,
            language_level=3,
            include_path=[str(HMM_VARIANTS_ROOT)],
            compiler_directives={"boundscheck": True, "wraparound": False, "cdivision": True},
        )
        for ext, cythonized in zip(self.extensions, generated, strict=True):
            ext.sources = cythonized.sources  # keep setuptools' own (finalized) Extension
        super().run()


extensions = [
    Extension(
        "fastgen._kernels._text",
        ["src/fastgen/_kernels/_text.pyx"],
        language="c++",
        include_dirs=[np.get_include()],
        # no multiply-add contraction: linear_scores sums as scipy's CSR product does
        extra_compile_args=[*compile_args, "-ffp-contract=off"],
        extra_link_args=link_args,
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    ),
]


def plain_c_kernel(name: str, *, contract: bool) -> Extension:
    """The plain-C kernel ``fastgen._kernels.<name>`` from its ``.pyx``; ``contract``
    False: no multiply-add contraction (FMA), so sums keep their bits on every target."""
    return Extension(
        f"fastgen._kernels.{name}",
        [f"src/fastgen/_kernels/{name}.pyx"],
        language="c",
        extra_compile_args=compile_args if contract else [*compile_args, "-ffp-contract=off"],
        extra_link_args=link_args,
    )


extensions += [
    # row weighting of document-term matrices (tf-idf, norms); its .pxd is cimported by _text
    plain_c_kernel("_weighting", contract=True),
    # Naive Bayes counting: the sums stay bit-identical to numpy's bincount and scipy's
    # sparse product on every target
    plain_c_kernel("_nb", contract=False),
    # k-means Lloyd steps, for the HMMs' initialisation (the same bits on any thread count)
    plain_c_kernel("_kmeans", contract=False),
]

# --- Hidden Markov model kernels (plain C): one extension per module of
# src/fastgen/_kernels/hmm/ (they cimport each other's .pxd). No multiply-add contraction,
# no fast-math: the sums keep the order the kernels write, so every path (lane-wise or
# sequence by sequence, any thread count, either build below) gives the same bits.
# -fno-trapping-math lets branches become blends (values are unchanged: floating-point
# exception flags are not part of any result).
#
# On x86-64 the kernels are built twice: for x86-64-v2 (SSE4.2, NumPy 2's own baseline)
# as fastgen._kernels.hmm._*, and for x86-64-v3 (AVX2: twice the vector width) as
# fastgen._kernels.hmm._v3._*, from copies of the sources whose cimports name the _v3
# modules (generated under build/, never in the source tree or the sdist).
# fastgen._kernels.hmm._select picks the build the running CPU supports, at import.
HMM_KERNELS = Path("src/fastgen/_kernels/hmm")
HMM_ARGS = ["-ffp-contract=off", "-fno-strict-aliasing", "-fno-trapping-math"]
X86_64 = platform.machine().lower() in ("x86_64", "amd64")
HMM_BUILDS = {"": ["-march=x86-64-v2", "-mtune=generic"]} if X86_64 else {"": []}
if X86_64:
    HMM_BUILDS["_v3"] = ["-march=x86-64-v3", "-mtune=generic"]
HMM_VARIANTS_ROOT = Path("build") / "hmm-variants"


def hmm_sources(build: str) -> list[Path]:
    """The .pyx files of one build of the HMM kernels: the sources themselves, or copies
    under build/hmm-variants/ whose cimports name ``fastgen._kernels.hmm.<build>``."""
    pyx = sorted(HMM_KERNELS.glob("*.pyx"))
    if not build:
        return pyx
    dest = HMM_VARIANTS_ROOT / "fastgen" / "_kernels" / "hmm" / build
    dest.mkdir(parents=True, exist_ok=True)
    for src in [*pyx, *sorted(HMM_KERNELS.glob("*.pxd"))]:
        text = src.read_text().replace("fastgen._kernels.hmm.", f"fastgen._kernels.hmm.{build}.")
        target = dest / src.name
        if not target.exists() or target.read_text() != text:  # keep mtimes: no needless rebuilds
            target.write_text(text)
    return [dest / p.name for p in pyx]


extensions += [
    Extension(
        f"fastgen._kernels.hmm.{build + '.' if build else ''}{pyx.stem}",
        [str(pyx)],
        language="c",
        include_dirs=[np.get_include()],
        extra_compile_args=[*compile_args, *HMM_ARGS, *march],
        extra_link_args=link_args,
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    for build, march in HMM_BUILDS.items()
    for pyx in hmm_sources(build)
]
# --- end hidden Markov models

setup(ext_modules=extensions, cmdclass={"build_ext": cythonize_build_ext})
