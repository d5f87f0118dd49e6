"""Check what `make dist` put in dist/: one sdist and one manylinux wheel, with the right files.

The sdist must be enough to build the wheel: it carries the Cython sources (``.pyx``, and any
``.pxd``/``.h``) and nothing generated from them (``.c``/``.cpp``/``.so``). The wheel carries
the compiled kernels stripped of symbol tables and debug information, ``py.typed`` and the
license, and no sources of the compiled module.

Usage: python tools/check_dist.py dist/
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from io import BytesIO
from pathlib import Path, PurePosixPath

GENERATED = (".c", ".cpp", ".so", ".pyd", ".pyc")
#: Cython sources the sdist must carry; the wheel must carry each one's compiled module
HMM_MODULES = ("_bundles", "_emissions", "_stats", "_sequence", "_lanes", "_viterbi", "_filter")
KERNEL_SOURCES = (
    "src/fastgen/_kernels/_text.pyx",
    "src/fastgen/_kernels/_nb.pyx",
    "src/fastgen/_kernels/_weighting.pyx",
    "src/fastgen/_kernels/_kmeans.pyx",
    *(f"src/fastgen/_kernels/hmm/{m}.pyx" for m in HMM_MODULES),
)
#: modules compiled from copies of those sources (setup.py: the x86-64-v3 build); the
#: sdist must not carry the copies, the x86-64 wheel must carry the modules
VARIANT_MODULES = tuple(f"fastgen/_kernels/hmm/_v3/{m}" for m in HMM_MODULES)


def check_sdist(path: Path) -> list[str]:
    with tarfile.open(path) as tar:
        # drop the top folder: fastgen_models-0.1.0/src/... -> src/...
        names = {str(PurePosixPath(*PurePosixPath(n).parts[1:])) for n in tar.getnames()}
    problems = [f"sdist lacks {src}" for src in KERNEL_SOURCES if src not in names]
    problems += [f"sdist carries generated {n}" for n in sorted(names) if n.endswith(GENERATED)]
    problems += [f"sdist carries generated {n}" for n in sorted(names) if n.startswith("build/")]
    for needed in ("LICENSE", "PKG-INFO", "pyproject.toml", "setup.py", "src/fastgen/py.typed"):
        if needed not in names:
            problems.append(f"sdist lacks {needed}")
    return problems


def elf_unstripped_sections(data: bytes) -> list[str]:
    """Names of symbol-table and debug sections in an ELF file (empty when stripped)."""
    from elftools.elf.elffile import ELFFile  # pyelftools, installed with auditwheel

    elf = ELFFile(BytesIO(data))
    return [
        s.name for s in elf.iter_sections()
        if s.name == ".symtab" or s.name.startswith((".debug", ".zdebug"))
    ]


def check_wheel(path: Path) -> list[str]:
    problems = []
    if "manylinux" not in path.name:
        problems.append(f"{path.name} has no manylinux tag (auditwheel repair did not run?)")
    with zipfile.ZipFile(path) as whl:
        names = whl.namelist()
        for name in names:
            if name.endswith((".pyx", ".pxd", ".c", ".cpp", ".h")):
                problems.append(f"wheel carries source file {name}")
            if name.endswith(".so"):
                sections = elf_unstripped_sections(whl.read(name))
                if sections:
                    problems.append(f"{name} is not stripped: {', '.join(sections)}")
        modules = [str(PurePosixPath(s).relative_to("src").with_suffix("")) for s in KERNEL_SOURCES]
        if "x86_64" in path.name:
            modules += VARIANT_MODULES
        for module in modules:  # fastgen/_kernels/x
            if not any(n.startswith(f"{module}.") and n.endswith(".so") for n in names):
                problems.append(f"wheel lacks the compiled {module.replace('/', '.')}")
        if "fastgen/py.typed" not in names:
            problems.append("wheel lacks fastgen/py.typed")
        if not any(n.endswith(".dist-info/licenses/LICENSE") for n in names):
            problems.append("wheel lacks the LICENSE")
    return problems


def main(argv: list[str]) -> int:
    dist = Path(argv[1] if len(argv) > 1 else "dist")
    sdists = sorted(dist.glob("*.tar.gz"))
    wheels = sorted(dist.glob("*.whl"))
    if len(sdists) != 1 or len(wheels) != 1:
        print(f"check_dist: expected one sdist and one wheel in {dist}/, found "
              f"{[p.name for p in sdists + wheels]}", file=sys.stderr)
        return 1
    problems = check_sdist(sdists[0]) + check_wheel(wheels[0])
    for problem in problems:
        print(f"check_dist: {problem}", file=sys.stderr)
    if problems:
        return 1
    for path in (*sdists, *wheels):
        print(f"check_dist: {path.name} ok ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
