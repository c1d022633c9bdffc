"""Pure: the light Dockerfile reading and image reference validation."""

from __future__ import annotations

import pytest

from docker_magics.builds.dockerfile import classic_steps, heredoc_around, parse
from docker_magics.errors import BadArgument
from docker_magics.registry.references import parse_reference


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
        ("My.Registry:5000/app", ("My.Registry:5000", "app", None, None)),  # hosts ignore case
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
        # Not registry hosts (no '.' or ':', not localhost): names, which must be lowercase.
        ("UPPER/case", "'UPPER' is not allowed. Repository names must be lowercase"),
        ("Localhost/app", "'Localhost' is not allowed. Repository names must be lowercase"),
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


def test_a_byte_order_mark_is_dropped():
    """Editors on Windows save one; the engine's parser drops it, so must ours."""
    found = parse("\ufeffFROM x\nRUN y\n")
    assert [(i.line, i.keyword) for i in found] == [(1, "FROM"), (2, "RUN")]
    assert [str(i) for i in parse("\ufeff# escape=`\nFROM x\nRUN a `\n  b\n")] == [
        "FROM x",
        "RUN a b",
    ]


@pytest.mark.parametrize(
    "text, target, labels, steps",
    [
        ("FROM a\nRUN b\n", None, 0, 2),
        ("ARG V=1\nFROM a:$V\nRUN b\n", None, 0, 3),  # the ARG before FROM is a step too
        ("FROM a AS one\nRUN 1\nFROM a AS two\nRUN 2\n", "one", 0, 2),
        ("FROM a AS one\nRUN 1\nFROM a AS two\nRUN 2\n", "TWO", 0, 4),  # names ignore case
        ("FROM a AS one\nRUN 1\nFROM a AS two\nRUN 2\n", None, 2, 6),  # one LABEL per label
        ("ARG X\nFROM --platform=linux/amd64 a AS one\nRUN 1\nFROM b\n", "one", 1, 4),
        ("FROM a AS one\nRUN 1\n", "nope", 0, None),  # the engine says there is no such stage
        ("FROM a\nRUN <<EOF\nnot counted\nEOF\n", None, 0, 2),
    ],
)
def test_classic_step_count(text, target, labels, steps):
    """What the classic builder numbers "Step N/M" (checked against the engine in
    test_build.py::test_announced_steps_match_the_engine)."""
    assert classic_steps(parse(text), target, labels) == steps


def test_heredoc_lines():
    found = parse("FROM a\nRUN <<EOF\n# comment\necho hi\nEOF\nRUN echo done\n")
    assert [(i.line, i.end, i.heredoc) for i in found] == [
        (1, 1, False),
        (2, 5, True),
        (6, 6, False),
    ]
    assert [heredoc_around(found, n) for n in (1, 2, 4, 5, 6)] == [
        None,
        found[1],
        found[1],
        found[1],
        None,
    ]
