"""Test-suite settings.

Property tests are derandomized on CI so a run is repeatable. With FASTGEN_TEST_INSTALLED=1
(set by `make test`) the session refuses to start unless `fastgen` is the package installed
from the wheel in the running venv: not the checkout's src/, not an editable install.
"""

import os
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


def installed_fastgen_problem() -> str | None:
    """Why ``import fastgen`` is not the installed wheel (None when it is)."""
    import json
    import sys
    import sysconfig
    from importlib import metadata

    import fastgen
    from fastgen._kernels import _text as text

    site = [Path(sysconfig.get_paths()[key]).resolve() for key in ("purelib", "platlib")]
    if sys.prefix == sys.base_prefix:
        return f"tests run outside a venv ({sys.executable})"
    for module in (fastgen, text):
        path = Path(module.__file__).resolve()
        if not any(path.is_relative_to(folder) for folder in site):
            return f"{module.__name__} comes from {path}, not from {site[0]}"
    direct_url = metadata.distribution("fastgen-models").read_text("direct_url.json") or "{}"
    if json.loads(direct_url).get("dir_info", {}).get("editable"):
        return "fastgen-models is an editable install"
    return None


def pytest_configure(config):
    if os.environ.get("FASTGEN_TEST_INSTALLED") == "1":
        problem = installed_fastgen_problem()
        if problem:
            raise pytest.UsageError(f"FASTGEN_TEST_INSTALLED=1 but {problem}")


def pytest_report_header(config):
    import fastgen

    return f"fastgen {fastgen.__version__} from {Path(fastgen.__file__).parent}"
