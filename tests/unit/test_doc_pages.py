"""The documentation's generated pages (docs/_ext/pages.py): one page per magic that
``%load_ext docker_magics`` registers, magics added later included, with every argument its
parser takes; no page for a magic that is gone; the tutorials as CI executed them, or
unexecuted with a note when there is no executed copy of the same cells."""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import sys
from pathlib import Path

import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets.config import Config

import docker_magics
import docker_magics.magics
from docker_magics.magics.arguments import magic

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pages():
    spec = importlib.util.spec_from_file_location("docs_pages", ROOT / "docs" / "_ext" / "pages.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def loaded_magics() -> dict[str, dict[str, object]]:
    """What %load_ext docker_magics adds to a fresh shell: {name: {kind: function}}."""
    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell(config=config)
    try:
        before = {kind: set(names) for kind, names in shell.magics_manager.magics.items()}
        shell.run_line_magic("load_ext", "docker_magics")
        found: dict[str, dict[str, object]] = {}
        for kind, names in shell.magics_manager.magics.items():
            for name in set(names) - before[kind]:
                found.setdefault(name, {})[kind] = names[name]
        return found
    finally:
        shell.run_line_magic("unload_ext", "docker_magics")
        shell.clear_instance()


def options_of(func) -> list[str]:
    return [
        option
        for action in func.parser._actions
        if action.help != argparse.SUPPRESS
        for option in action.option_strings
    ]


def test_a_page_for_every_magic_with_all_its_arguments(pages, tmp_path):
    magics = loaded_magics()
    assert {"docker_connect", "docker_build", "docker_run", "docker_push"} <= set(magics)
    written = pages.generate(tmp_path)
    assert sorted(written["magics"]) == sorted(
        ["magics/index.md", *(f"magics/{name}.md" for name in magics)]
    )
    index = (tmp_path / "magics" / "index.md").read_text()
    for name, kinds in magics.items():
        page = (tmp_path / "magics" / f"{name}.md").read_text()
        title = page.splitlines()[1]
        for kind in kinds:
            assert f"`{'%%' if kind == 'cell' else '%'}{name}`" in title, (name, title)
        func = next(iter(kinds.values()))
        if not hasattr(func, "parser"):  # a magic without argparse: its docstring, at least
            assert func.__doc__.strip().splitlines()[0] in page, name
            continue
        for option in options_of(func):
            assert f"`{option}" in page or f", {option}" in page, (name, option)
        for action in func.parser._actions:  # positionals too, by their metavar or name
            if not action.option_strings:
                shown = (action.metavar or action.dest).replace("|", "\\|")
                assert f"`{shown}" in page, (name, action.dest)
        assert f"({name}.md)" in index
    # The settings of %config DockerMagics, each with its default.
    for setting in ("timeout", "builder", "progress", "api_version", "ssh_client"):
        assert f"| `DockerMagics.{setting}` |" in index


def test_the_page_escapes_what_markdown_would_eat(pages):
    (func,) = loaded_magics()["docker_connect"].values()
    page = pages.magic_page(pages.Magic("docker_connect", ["line"], func))
    # Choices in braces, inside code: shown as written.
    assert "`--ssh-client {auto,paramiko,openssh}`" in page
    assert pages.escape("a*b|c_d <e>") == r"a\*b\|c\_d \<e\>"


@magics_class
class LaterMagics(Magics):
    """A topic another helper adds later: it must get its page without any edit."""

    def __init__(self, shell, settings):
        super().__init__(shell)

    @line_magic
    @magic
    @magic_arguments()
    @argument("job", metavar="NAME", help="The job to wait for.")
    @argument("--every", type=float, metavar="SECONDS", help="Poll every SECONDS (100%% sure).")
    def docker_later(self, args):
        """Wait for a job. Nothing else."""


def test_a_magic_added_later_gets_a_page(pages, tmp_path, monkeypatch):
    monkeypatch.setattr(docker_magics.magics, "TOPICS", (*docker_magics.magics.TOPICS, LaterMagics))
    stale = tmp_path / "magics" / "docker_gone.md"
    stale.parent.mkdir(parents=True)
    stale.write_text("# a magic that was removed\n")
    pages.generate(tmp_path)
    page = (tmp_path / "magics" / "docker_later.md").read_text()
    assert page.splitlines()[1] == "# `%docker_later`"
    assert "Wait for a job. Nothing else." in page
    assert "| `--every SECONDS` | Poll every SECONDS (100% sure). |" in page
    assert "| `NAME` | The job to wait for. |" in page
    assert (
        "[`%docker_later`](docker_later.md) | Wait for a job."
        in (tmp_path / "magics" / "index.md").read_text()
    )
    assert not stale.exists()


def test_the_result_types_page_names_every_result(pages, tmp_path):
    pages.generate(tmp_path)
    text = (tmp_path / "reference" / "results.md").read_text()
    for name in docker_magics._RESULTS:
        assert f".. autoclass:: docker_magics.{name}" in text


def tutorial(path: Path, outputs: bool = False) -> dict:
    cells = [
        nbformat.v4.new_markdown_cell("# A tutorial\n**What you need**: nothing"),
        nbformat.v4.new_code_cell("print('hi')"),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    if outputs:
        cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
        cells[1].execution_count = 1
    nbformat.write(nb, path)
    return json.loads(path.read_text())


def test_tutorials_shown_as_executed_when_the_cells_are_the_same(pages, tmp_path):
    (tmp_path / "executed").mkdir()
    tracked = tmp_path / "t.ipynb"
    tutorial(tracked)
    tutorial(tmp_path / "executed" / "t.ipynb", outputs=True)
    nb, executed = pages.tutorial_copy(tracked, tmp_path / "executed")
    assert executed
    assert "".join(nb["cells"][2]["outputs"][0]["text"]) == "hi\n"
    assert "outputs below are from a run of the test suite" in nb["cells"][1]["source"]
    nbformat.validate(nbformat.from_dict(copy.deepcopy(nb)))


def test_tutorials_unexecuted_with_a_note_otherwise(pages, tmp_path):
    (tmp_path / "executed").mkdir()
    tracked = tmp_path / "t.ipynb"
    tutorial(tracked)
    nb, executed = pages.tutorial_copy(tracked, tmp_path / "executed")  # no executed copy
    assert not executed
    assert "This copy was not executed" in nb["cells"][1]["source"]
    assert nb["cells"][2]["outputs"] == []
    # Highlighted as a kernel would say (IPython: magics are no Python syntax errors).
    assert nb["metadata"]["language_info"]["pygments_lexer"] == "ipython3"

    old = tutorial(tmp_path / "executed" / "t.ipynb", outputs=True)
    old["cells"][1]["source"] = "print('an older version')"
    (tmp_path / "executed" / "t.ipynb").write_text(json.dumps(old))
    nb, executed = pages.tutorial_copy(tracked, tmp_path / "executed")
    assert not executed
    assert "the executed copy is older than the tutorial" in nb["cells"][1]["source"]
    assert nb["cells"][2]["outputs"] == []
    nbformat.validate(nbformat.from_dict(copy.deepcopy(nb)))
