"""Pure: the light Dockerfile reading and image reference validation."""

from __future__ import annotations

import pytest

from docker_magics.dockerfile import parse
from docker_magics.errors import BadArgument
from docker_magics.references import parse_reference


def test_instructions_and_lines():
    text = (
        "# syntax=docker/dockerfile:1\n"
        "ARG BASE=busybox\n"
        "\n"
        "FROM $BASE AS build\n"
        "RUN echo a \\\n"
        "  # a comment inside a continuation\n"
        "  && echo b\n"
        "run lower-case works\n"
        "COPY <<EOF /x\n"
        "NOT AN INSTRUCTION\n"
        "EOF\n"
        'CMD ["sh"]\n'
    )
    found = parse(text)
    assert [(i.line, i.keyword) for i in found] == [
        (2, "ARG"),
        (4, "FROM"),
        (5, "RUN"),
        (8, "RUN"),
        (9, "COPY"),
        (12, "CMD"),
    ]
    assert found[2].arguments == "echo a && echo b"


def test_instruction_separated_by_a_tab():
    found = parse("FROM\tbusybox\nRUN\t echo tab\n")
    assert [(i.keyword, i.arguments) for i in found] == [("FROM", "busybox"), ("RUN", "echo tab")]
    # A non-breaking space (pasted from a web page) is not a separator for the engine either.
    with pytest.raises(BadArgument, match=r"unknown instruction 'RUN\\xa0echo'"):
        parse("RUN\u00a0echo x\n")


def test_escape_directive():
    found = parse("# escape=`\nFROM x\nRUN a `\n  b\n")
    assert [str(i) for i in found] == ["FROM x", "RUN a b"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("FROM x\nRUNN y\n", "Dockerfile line 2: unknown instruction 'RUNN'. Did you mean RUN?"),
        (
            "FROM x\nfoo\n",
            "Dockerfile line 2: unknown instruction 'foo'. See the Dockerfile reference.",
        ),
        ("RUN x\n", "Dockerfile line 1: the first instruction must be FROM"),
        ("ARG A\nARG B\n", "Dockerfile line 1: the first instruction must be FROM"),
        ("\n# nothing\n", "The Dockerfile has no instructions."),
        ("# escape=x\nFROM a\n", "Dockerfile line 1: invalid escape character 'x'."),
    ],
)
def test_mistakes_name_the_line(text, message):
    with pytest.raises(BadArgument) as err:
        parse(text)
    assert str(err.value).startswith(message)


@pytest.mark.parametrize(
    "ref, parts",
    [
        ("busybox", (None, "busybox", None, None)),
        ("busybox:1.36", (None, "busybox", "1.36", None)),
        ("127.0.0.1:5000/team/app:v1", ("127.0.0.1:5000", "team/app", "v1", None)),
        ("localhost/app", ("localhost", "app", None, None)),
        ("registry.example.com/a_b/c-d.e__f", ("registry.example.com", "a_b/c-d.e__f", None, None)),
        ("app@sha256:" + "a" * 64, (None, "app", None, "sha256:" + "a" * 64)),
        ("[::1]:5000/app:x", ("[::1]:5000", "app", "x", None)),
    ],
)
def test_valid_references(ref, parts):
    r = parse_reference(ref)
    assert (r.domain, r.path, r.tag, r.digest) == parts
    assert str(r) == ref


@pytest.mark.parametrize(
    "ref, message",
    [
        ("", "Empty image name"),
        ("App", "'App' is not allowed. Repository names must be lowercase"),
        ("app:", "bad tag ''"),
        ("app:" + "x" * 129, "bad tag"),
        ("app:.hidden", "bad tag '.hidden'"),
        ("app:café", "bad tag 'café'"),
        ("a//b", "'' is not allowed"),
        ("-app", "'-app' is not allowed"),
        ("app@sha256:short", "malformed digest"),
        ("bad_host:5000/app", "bad registry host 'bad_host:5000'"),
        ("app name", "'app name' is not allowed"),
    ],
)
def test_invalid_references(ref, message):
    with pytest.raises(BadArgument) as err:
        parse_reference(ref)
    assert message in str(err.value)
