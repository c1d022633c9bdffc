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
    # Joined as BuildKit joins them: the escape goes, nothing else (testfiles/lk4d4-...).
    assert found[2].arguments == "echo a   && echo b"


def test_instruction_separated_by_a_tab():
    found = parse("FROM\tbusybox\nRUN\t echo tab\n")
    assert [(i.keyword, i.arguments) for i in found] == [("FROM", "busybox"), ("RUN", "echo tab")]
    # A non-breaking space (pasted from a web page) is not a separator for the engine either.
    with pytest.raises(BadArgument, match=r"unknown instruction 'RUN\\xa0echo'"):
        parse("RUN\u00a0echo x\n")


def test_escape_directive():
    found = parse("# escape=`\nFROM x\nRUN a `\n  b\n")
    assert [str(i) for i in found] == ["FROM x", "RUN a   b"]


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
        ("# escape=x\nFROM a\n", "Dockerfile line 1: invalid escape token 'x' does not match"),
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
        # A first part with an upper-case letter is a registry (distribution/reference
        # normalize_test.go: "Foo/bar", "LOCALDOMAIN/fooo"); engines before 26 refuse it.
        ("UPPER/case", ("UPPER", "case", None, None)),
        ("Localhost/app", ("Localhost", "app", None, None)),
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
        ("upper/Case", "'Case' is not allowed. Repository names must be lowercase"),
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
        "RUN a   b",
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


def test_a_here_string_opens_no_heredoc():
    """``<<<`` is a here-string, and quoted text is no heredoc (BuildKit's heredocsFromLine):
    the lines after it are instructions. Docker Engine 20.10.24 numbers 4 steps and refuses
    COPPY at line 3 (tests/engine/test_fidelity.py::test_a_here_string_is_no_heredoc)."""
    run = "RUN bash -c 'grep -q x <<< \"hello\"'"
    found = parse(f"FROM a\n{run}\nCOPY a b\nRUN c\n")
    assert classic_steps(found) == 4 and not any(i.heredoc for i in found)
    with pytest.raises(BadArgument, match="^Dockerfile line 3: unknown instruction 'COPPY'"):
        parse(f"FROM a\n{run}\nCOPPY a b\nRUN c\n")


@pytest.mark.parametrize(
    "syntax",
    ["docker/dockerfile:1", "docker.io/docker/dockerfile:1.7-labs", "docker/dockerfile-upstream"],
)
def test_dockerfiles_own_frontend_is_checked(syntax):
    with pytest.raises(BadArgument, match="line 3: unknown instruction 'NOPE'"):
        parse(f"# syntax={syntax}\nFROM a\nNOPE x\n")
    assert parse(f"# syntax={syntax}\nFROM a\n").frontend is None


def test_another_frontend_is_left_to_read_the_file():
    from docker_magics.builds.dockerfile import notices

    found = parse("# syntax=example.com/frontends/yaml:1\nFROM a\nSTEPS: [build]\n")
    assert found.frontend == "example.com/frontends/yaml:1"
    assert classic_steps(found) == 2  # what the classic builder, which ignores it, counts
    assert notices(found, "buildkit") == [
        "The Dockerfile asks for the frontend example.com/frontends/yaml:1 (# syntax=): its "
        "instructions are that frontend's to read, so they were not checked before sending"
    ]
    assert "which the classic builder ignores" in notices(found, "classic")[0]
    assert notices(parse("FROM a\n"), "buildkit") == []
    # Not even a Dockerfile for BuildKit's parser: nothing to count, nothing refused.
    unread = parse('// syntax=example.com/json\n{"steps": [1, 2]}\nCMD [1]\n')
    assert unread == [] and classic_steps(unread) is None


@pytest.mark.parametrize(
    "text, message",
    [
        # directives.go: each directive once; escape only ` or \ (engine-probes/ in the corpus)
        ("# escape=`\n# escape=\\\nFROM a\n", "Dockerfile line 2: only one escape parser"),
        (
            "# syntax=docker/dockerfile:1\n# syntax=docker/dockerfile:1.7\nFROM a\n",
            "Dockerfile line 2: only one syntax parser directive",
        ),
        ("FROM a AS 1st\n", "Dockerfile line 1: invalid name for build stage: '1st'"),
        ("FROM a b\n", "Dockerfile line 1: FROM requires either one or three arguments"),
        ("FROM a\nENV PATH\n", "Dockerfile line 2: ENV must have two arguments"),
        ('FROM a\nCMD ["a", 1]\n', "Dockerfile line 2: when using JSON array syntax"),
        ("FROM a\nLABEL a=1 b\n", 'Dockerfile line 2: Syntax error - can\'t find = in "b"'),
    ],
)
def test_what_every_engine_refuses(text, message):
    with pytest.raises(BadArgument) as err:
        parse(text)
    assert str(err.value).startswith(message)


def test_directives_are_read_only_at_the_top():
    """A comment, a blank line or an unknown directive ends them; leading blanks are trimmed
    (corpus engine-probes: unknown-directive-then-escape, indented-escape-directive)."""
    assert parse("  # escape=`\nFROM a\nRUN a `\n b\n").escape == "`"
    for text in (
        "# foo=bar\n# escape=`\nFROM a\n",
        "\n# escape=`\nFROM a\n",
        "FROM a\n# escape=`\n",
    ):
        assert parse(text).escape == "\\"
