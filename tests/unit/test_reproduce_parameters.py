"""Papermill-style parameters (reproduce/parameters.py). Expected behaviour from papermill's
own tests: papermill/tests/test_parameterize.py (where the injected cell goes, its tag, one
injected cell after repeated runs, no tags copied) and papermill/cli.py's ``_resolve_type``
(how ``-p`` values are typed)."""

from __future__ import annotations

import ast
import json
import math

import nbformat
import pytest

from docker_magics.errors import BadArgument
from docker_magics.reproduce import parameters as params


def notebook(tags_of_first=("parameters",), minor=5) -> dict:
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("msg = None\nn = 1", metadata={"tags": list(tags_of_first)}),
            nbformat.v4.new_code_cell("print(msg)"),
        ]
    )
    nb.nbformat_minor = minor
    return json.loads(nbformat.writes(nb))


def injected(nb: dict) -> list[int]:
    return [
        i
        for i, c in enumerate(nb["cells"])
        if "injected-parameters" in c["metadata"].get("tags", [])
    ]


@pytest.mark.parametrize(
    "text, value",
    [
        ("True", True),
        ("False", False),
        ("None", None),
        ("12", 12),
        ("-3", -3),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("hello", "hello"),
        ("", ""),
        ("true", "true"),  # only the Python spellings, as papermill
    ],
)
def test_p_values_are_typed_as_papermill_types_them(text, value):
    got = params.typed(text)
    assert got == value and type(got) is type(value)


def test_injected_after_the_parameters_cell_and_tagged():
    nb = notebook()
    warnings = params.inject(nb, {"msg": "Hello", "n": 3})
    assert injected(nb) == [1]
    assert nb["cells"][0]["metadata"]["tags"] == ["parameters"]
    assert nb["cells"][1]["source"] == "# Parameters\nmsg = 'Hello'\nn = 3\n"
    assert warnings == []
    nbformat.validate(nbformat.reads(json.dumps(nb), as_version=4))  # ids and all


def test_no_tags_copied_and_one_injected_cell_after_repeated_runs():
    nb = notebook(("parameters", "some tag"))
    params.inject(nb, {"msg": "Hello"})
    params.inject(nb, {"msg": "Again"})
    assert injected(nb) == [1]
    assert "some tag" not in nb["cells"][1]["metadata"]["tags"]
    assert "msg = 'Again'" in nb["cells"][1]["source"]
    assert len({c["id"] for c in nb["cells"]}) == len(nb["cells"]) == 3


def test_without_a_parameters_cell_it_goes_on_top_with_a_warning():
    nb = notebook(())
    warnings = params.inject(nb, {"msg": "Hello"})
    assert injected(nb) == [0]
    assert warnings == [
        "The notebook has no cell tagged 'parameters': the parameters go in a cell at the top"
    ]


def test_a_name_the_defaults_do_not_set_is_passed_with_a_warning():
    nb = notebook()
    assert params.inject(nb, {"other": 1}) == [
        "The parameters cell sets no other: it is passed anyway"
    ]


def test_older_notebooks_get_no_cell_ids():
    nb = notebook(minor=4)
    for cell in nb["cells"]:
        cell.pop("id", None)
    params.inject(nb, {"msg": "x"})
    assert "id" not in nb["cells"][1]
    nbformat.validate(nbformat.reads(json.dumps(nb), as_version=4))


def test_no_parameters_no_cell():
    nb = notebook()
    assert params.inject(nb, {}) == [] and injected(nb) == []


def test_values_are_written_as_literals_that_read_back():
    values = {"s": 'it\'s "q"\n', "f": 0.1, "l": [1, (2, 3)], "d": {"k": None}, "b": False}
    code = params.source(values)
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 - our own generated code
    assert {k: namespace[k] for k in values} == values
    assert params.render_value(math.inf) == "float('inf')"
    ast.parse(params.source({"x": math.nan}))


def test_parse_magic_and_api_forms():
    assert params.parse(["a=1", "b=x=y", "c=1.5"], ["d=007"]) == {
        "a": 1,
        "b": "x=y",
        "c": 1.5,
        "d": "007",
    }
    assert params.parse({"a": [1, 2]}) == {"a": [1, 2]}


@pytest.mark.parametrize(
    "values, raw, message",
    [
        (["1a=2"], [], "-p: '1a' is not a Python variable name"),
        (["class=2"], [], "-p: 'class' is not a Python variable name"),
        (["novalue"], [], "-p 'novalue': no value. Use -p NAME=VALUE."),
        ([], ["x"], "-r 'x': no value. Use -r NAME=VALUE."),
        ({"f": object()}, [], "parameters['f'] is a object, which a cell cannot hold"),
        ({"s": {1, 2}}, [], "parameters['s'] is a set"),
    ],
)
def test_bad_parameters_are_one_line(values, raw, message):
    with pytest.raises(BadArgument) as err:
        params.parse(values, raw)
    assert message in str(err.value) and "\n" not in str(err.value)
