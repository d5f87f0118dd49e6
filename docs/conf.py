"""Sphinx configuration of fastgen's documentation site (``make docs``).

Built with warnings as errors and without network access: no intersphinx inventories
are fetched, and tools/check_site.py checks every internal link of the built pages.
``FASTGEN_DOCS_QUICK=1`` builds the gallery on smaller data (what ``make test`` runs).
"""

from __future__ import annotations

import os
from pathlib import Path

import fastgen  # the installed package: make test builds the site against the wheel

ROOT = Path(__file__).resolve().parents[1]

project = "fastgen"
author = "the fastgen developers"
copyright = "2026, the fastgen developers"  # noqa: A001  (Sphinx's name)
version = release = fastgen.__version__  # the package's, the wheel's and the changelog's

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "sphinx_copybutton",
    "sphinx_design",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.md5"]  # fmt: skip
default_role = "obj"

# API reference: one page per class and function, generated from the docstrings
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"  # the numpydoc Parameters sections say the types
numpydoc_show_class_members = False  # autosummary lists them
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# the gallery: examples/plot_*.py run at build time, their figures kept
quick = os.environ.get("FASTGEN_DOCS_QUICK") == "1"
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "abort_on_example_error": True,
    "backreferences_dir": "generated/backreferences",  # the API pages' example lists
    "doc_module": ("fastgen",),
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "reset_modules": ("matplotlib",),
    "show_memory": False,
    "min_reported_time": 1,
}
os.environ.setdefault("FASTGEN_DOCS_QUICK", "1" if quick else "0")

html_theme = "pydata_sphinx_theme"
html_title = f"fastgen {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "header_links_before_dropdown": 6,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}
html_show_sourcelink = False
myst_heading_anchors = 2
