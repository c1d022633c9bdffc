"""Pure: ``%magic --help`` prints argparse's own help (``usage: %magic ...``), not the
reStructuredText IPython's parsers write for ``%magic?`` (it began with a stray ``::``)."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

from docker_magics.magics import TOPICS, DockerMagics


def parsed_magics() -> list[str]:
    names = []
    for cls in (DockerMagics, *TOPICS):
        for kind in ("line", "cell"):
            for name, method in cls.magics.get(kind, {}).items():
                if hasattr(getattr(cls, method), "parser") and name not in names:
                    names.append(name)
    return names


@pytest.fixture(scope="module")
def shell():
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "docker_magics")
    yield shell
    shell.run_line_magic("unload_ext", "docker_magics")


@pytest.mark.parametrize("name", parsed_magics())
def test_help_is_argparses(shell, capsys, name):
    shell.run_line_magic(name, "--help")
    shown = capsys.readouterr().out
    first, second = shown.splitlines()[:2]
    assert first.startswith(f"usage: %{name} ") or first == f"usage: %{name}", first
    if second.strip() and second.startswith(" "):  # the usage goes on, aligned
        assert second.index(second.strip()) == len(f"usage: %{name} ")
    assert "::" not in shown.split("\n\n")[0]
