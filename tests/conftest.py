"""Test-suite settings: property tests are derandomized on CI so a run is repeatable."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
