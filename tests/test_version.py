"""One version number: the package, the installed distribution and the changelog."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import fastgen

ROOT = Path(__file__).resolve().parents[1]


def test_distribution_version_is_the_package_version():
    assert version("fastgen-models") == fastgen.__version__


def test_changelog_newest_entry_is_the_package_version():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    entries = re.findall(r"^## (\d+\.\d+\.\d+\S*)", text, flags=re.MULTILINE)
    assert entries, "CHANGELOG.md has no version entry"
    assert entries[0] == fastgen.__version__
