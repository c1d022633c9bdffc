"""The tutorials, executed top to bottom with nbclient against the real engines and
registries (as CI does), and the Binder "no engine" path. Executed copies are kept under
artifacts/notebooks/ for inspection."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.engine


ROOT = Path(__file__).resolve().parents[2]


NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_five_tutorials():
    assert [p.name for p in NOTEBOOKS] == [
        "01-quickstart.ipynb",
        "02-remote-and-tls-engines.ipynb",
        "03-data-science-image.ipynb",
        "04-registries-and-credentials.ipynb",
        "05-scale-out-with-swarm.ipynb",
        "06-reproduce-your-analysis.ipynb",
    ]


def test_committed_without_outputs():
    """Decided: tutorials are committed clean (no outputs, no execution counts), so diffs
    stay readable and no machine-specific ports, digests or timings are published; CI and
    scripts/quickstart.sh produce executed copies."""
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name
        assert "widgets" not in nb.metadata, path.name


def test_each_tutorial_says_what_it_needs_first():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        assert nb.cells[0].cell_type == "markdown"
        assert "**What you need**" in nb.cells[0].source, path.name
