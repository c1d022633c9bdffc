"""Pure: papermill-style parameters. A cell tagged ``parameters`` holds the defaults; the
values given for a run go in a new cell right after it, tagged ``injected-parameters`` (one
from an earlier run is replaced), or at the top when no cell is tagged, as papermill does
(papermill/parameterize.py). ``-p NAME=VALUE`` values are typed as papermill's ``-p``
types them (papermill/cli.py): True, False, None, integers and floats, else a string;
``-r NAME=VALUE`` keeps the string.
"""

from __future__ import annotations

import ast
import itertools
import keyword
import math
from collections.abc import Iterable, Mapping

from docker_magics.errors import BadArgument

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
_LITERALS = (str, int, float, bool, type(None), list, tuple, dict)


def typed(value: str) -> object:
    """A ``-p`` value as papermill's command line types it."""
    constants = {"True": True, "False": False, "None": None}
    if value in constants:
        return constants[value]
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value


def _name(name: object, option: str) -> str:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise BadArgument(
            f"{option}: {str(name)[:40]!r} is not a Python variable name",
            "Use NAME=VALUE with a name such as alpha or n_runs",
        )
    return name


def parse(
    values: Mapping[str, object] | Iterable[str] | None = None, raw: Iterable[str] = ()
) -> dict[str, object]:
    """The parameters of a run: a mapping of Python values, or ``NAME=VALUE`` strings
    (typed as ``-p``), then ``raw`` ``NAME=VALUE`` strings (kept as strings)."""
    found: dict[str, object] = {}
    if isinstance(values, Mapping):
        for name, value in values.items():
            found[_name(name, "parameters")] = _literal(name, value)
    else:
        for item in values or ():
            name, sep, value = item.partition("=")
            if not sep:
                raise BadArgument(f"-p {item[:40]!r}: no value", "Use -p NAME=VALUE")
            found[_name(name.strip(), "-p")] = typed(value)
    for item in raw:
        name, sep, value = item.partition("=")
        if not sep:
            raise BadArgument(f"-r {item[:40]!r}: no value", "Use -r NAME=VALUE")
        found[_name(name.strip(), "-r")] = value
    return found


def _literal(name: str, value: object) -> object:
    """Values a cell can hold as Python literals (numbers, strings, booleans, None, and
    lists, tuples and dicts of them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return value
    if not isinstance(value, _LITERALS):
        raise BadArgument(
            f"parameters[{name!r}] is a {type(value).__name__}, which a cell cannot hold as a "
            "literal",
            "Pass numbers, strings, booleans, None, or lists and dicts of them",
        )
    try:
        same = ast.literal_eval(render_value(value)) == value
    except (ValueError, SyntaxError, RecursionError):
        same = False
    if not same:
        raise BadArgument(
            f"parameters[{name!r}] cannot be written as a Python literal",
            "Pass numbers, strings, booleans, None, or lists and dicts of them",
        )
    return value


def render_value(value: object) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    return repr(value)


def source(parameters: Mapping[str, object]) -> str:
    """The injected cell's code."""
    return "# Parameters\n" + "".join(f"{k} = {render_value(v)}\n" for k, v in parameters.items())


def _tags(cell: dict) -> list:
    tags = cell.get("metadata", {}).get("tags", [])
    return tags if isinstance(tags, list) else []


def _first_tagged(cells: list[dict], tag: str) -> int:
    return next((i for i, c in enumerate(cells) if tag in _tags(c)), -1)


def inject(notebook: dict, parameters: Mapping[str, object]) -> list[str]:
    """Put ``parameters`` into ``notebook`` (nbformat 4, as JSON) in place; returns the
    warnings (no cell tagged ``parameters``; names its defaults do not set)."""
    cells = notebook.setdefault("cells", [])
    warnings: list[str] = []
    if not parameters:
        return warnings
    cell: dict = {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"tags": [INJECTED_TAG]},
        "outputs": [],
        "source": source(parameters),
    }
    defaults = _first_tagged(cells, PARAMETERS_TAG)
    injected = _first_tagged(cells, INJECTED_TAG)
    if (notebook.get("nbformat"), notebook.get("nbformat_minor", 0)) >= (4, 5):
        taken = {c.get("id") for c in cells}  # nbformat 4.5: every cell has a unique id
        fresh = (f"{INJECTED_TAG}-{n}" if n else INJECTED_TAG for n in itertools.count())
        old = cells[injected].get("id") if injected >= 0 else None
        cell["id"] = old or next(i for i in fresh if i not in taken)
    if injected >= 0:
        cells[injected] = cell
    elif defaults >= 0:
        cells.insert(defaults + 1, cell)
    else:
        cells.insert(0, cell)
        warnings.append(
            "The notebook has no cell tagged 'parameters': the parameters go in a cell at the top"
        )
    if defaults >= 0:
        known = _assigned("".join(_text(cells[defaults].get("source", ""))))
        if known is not None:
            for name in parameters:
                if name not in known:
                    warnings.append(f"The parameters cell sets no {name}: it is passed anyway")
    return warnings


def _text(source: object) -> str:
    return "".join(source) if isinstance(source, list) else str(source)


def _assigned(code: str) -> set[str] | None:
    """The names a cell assigns at its top level (None if it is not plain Python)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    names = set()
    for node in tree.body:
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Name):
                    names.add(sub.id)
    return names
