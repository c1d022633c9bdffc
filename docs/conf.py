"""Sphinx configuration: MyST Markdown pages, notebooks through myst-nb (never executed
here), the Python API through autodoc, and pages generated at build time (docs/_ext/pages.py):
one per magic from its argument parser, the result types, the tutorials. No page list lives
here: docs/index.md's toctrees take every page by glob."""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS.parent))  # the package of this checkout, even when not installed

import docker_magics  # noqa: E402

project = "docker_magics"
author = "the docker_magics authors"
copyright = "the docker_magics authors"  # noqa: A001 (Sphinx's name)
release = version = docker_magics.__version__

extensions = [
    "myst_nb",  # MyST Markdown and notebooks (it brings myst_parser)
    "sphinx.ext.autodoc",
    "pages",  # docs/_ext/pages.py: magic pages, result types, tutorials
]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3  # [text](page.md#a-heading) links are checked like any other
smartquotes = False  # "--add" stays two hyphens and quotes stay straight: this is code
nb_execution_mode = "off"  # outputs come from the executed copies CI keeps, never from here
nb_merge_streams = True

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True}

exclude_patterns = ["_build", "_ext", "**.ipynb_checkpoints", "README.md"]
html_theme = "furo"
html_title = f"docker_magics {release}"
html_static_path: list[str] = []
# Offline: no intersphinx inventories, no link checks against the internet.
