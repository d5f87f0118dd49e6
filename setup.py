"""Build the Cython kernels; all metadata lives in pyproject.toml.

Cython runs when the extension is built (``build_ext``), not when this file is loaded, so
making the sdist writes no generated C++ and ships the ``.pyx`` as the extension's source.

The compiled module is built without debug information (``-g0``) and linked stripped
(``-s``, Linux), so the wheel carries no symbol tables; set ``FASTGEN_DEBUG_SYMBOLS=1`` to
keep them (gdb or perf on a development build).
"""

import os
import sys

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
        extra_compile_args=compile_args,
        extra_link_args=link_args,
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    ),
]

setup(ext_modules=extensions, cmdclass={"build_ext": cythonize_build_ext})
