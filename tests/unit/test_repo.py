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
