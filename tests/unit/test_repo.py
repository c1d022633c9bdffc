"""The repository's promises: the README's two commands, and CI running the second."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.match(r"```bash\n(.*?)```", text, re.S)
    assert block, "README must start with a bash block"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_starts_with_two_commands():
    commands = readme_commands()
    assert commands == ["bash scripts/quickstart.sh", "bash scripts/test.sh"]
    for command in commands:
        assert (ROOT / command.split()[1]).is_file()


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert f"exec {readme_commands()[1]}" in ci


def test_readme_stays_short():
    """What a newcomer needs first; the reference lives in the documentation (docs/)."""
    assert len((ROOT / "README.md").read_bytes()) <= 10_000
    assert "bash scripts/docs.sh" in (ROOT / "README.md").read_text()


def test_the_package_tree_names_every_folder():
    """The README and the architecture page show the package tree, one line a folder: a new
    feature folder needs its line in both."""
    folders = sorted(
        p.name for p in (ROOT / "docker_magics").iterdir() if (p / "__init__.py").is_file()
    )
    for page in (ROOT / "README.md", ROOT / "docs" / "project" / "architecture.md"):
        tree = re.search(r"```(?:text)?\ndocker_magics/\n(.*?)```", page.read_text(), re.S)
        assert tree, f"{page.name} has no package tree"
        named = re.findall(r"^  (\w+)/ ", tree.group(1), re.M)
        assert set(named) == set(folders), f"{page.name}: the tree names {named}, not {folders}"
