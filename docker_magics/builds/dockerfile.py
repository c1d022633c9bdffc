"""Pure: what is checked in a Dockerfile before anything is sent, and the steps it makes.

The file is read with BuildKit's own parser rules (:mod:`.dockerfile_parser`); then the
checks every engine makes of the instructions, each refused in one line naming the line:
unknown instructions, ``FROM`` with the wrong number of words or a bad stage name, anything
but ``ARG`` before the first ``FROM``. What depends on the engine's version (flags such as
``COPY --link``, heredocs on old engines) is left to the engine. A ``# syntax=`` directive
naming another frontend than Dockerfile's leaves the instructions to that frontend.
docs/dockerfiles.md lists all of it.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence

from docker_magics.builds.dockerfile_parser import Instruction, Parsed, ParseError, directives, read
from docker_magics.errors import BadArgument, option

INSTRUCTIONS = (
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
)
_STAGE_NAME = re.compile(r"[a-z][a-z0-9-_.]*\Z")  # instructions/parse.go validStageName
# The images of Dockerfile's own frontend (any version): a # syntax= naming one of these
# still reads the file as a Dockerfile.
DOCKERFILE_FRONTENDS = ("docker/dockerfile", "docker/dockerfile-upstream")


class Instructions(list):
    """``parse``'s result: the instructions, and what the file asked of its reader.
    ``frontend``: the image a ``# syntax=`` directive names, when it is not Dockerfile's own
    (its instructions were then left to it, unchecked); ``escape``: the escape character."""

    frontend: str | None = None
    escape: str = "\\"


def parse(text: str) -> Instructions:
    """Read ``text`` and check it; ``BadArgument`` naming the line of a problem."""
    frontend = _other_frontend(text)
    try:
        parsed = read(text)
    except ParseError as exc:
        if frontend is not None:
            parsed = Parsed([])  # perhaps no Dockerfile at all: that frontend decides
        elif exc.message == "file with no instructions":
            raise BadArgument("The Dockerfile has no instructions", _hint(exc.message)) from None
        else:
            what = f"Dockerfile line {exc.line}: {exc.message}"
            raise BadArgument(what, _hint(exc.message)) from None
    found = Instructions(parsed.instructions)
    found.escape, found.frontend = parsed.escape, frontend
    if frontend is None:
        _check(found)
    return found


_HINTS = (
    ("file with no instructions", "Start it with FROM IMAGE"),
    ("escape", "Use # escape=\\ or # escape=` once, in the first lines"),
    ("parser directive", "Give each parser directive once, in the first lines"),
    ("greater than max allowed size", "Split the line (end a line with \\ to go on)"),
    ("must have two arguments", "Give a value: NAME=VALUE (or NAME VALUE)"),
    ("can't find =", "Write NAME=VALUE pairs; quote values with blanks"),
    ("comprised of strings", 'Quote every item of the list: ["sh", "-c", "..."]'),
)


def _hint(message: str) -> str:
    return next((hint for key, hint in _HINTS if key in message), "")


def _check(instructions: list[Instruction]) -> None:
    """The checks every engine makes of the instructions, in their order
    (instructions/parse.go): known keywords, FROM's words, nothing but ARG before FROM."""
    stages = 0
    for ins in instructions:
        if ins.keyword not in INSTRUCTIONS:
            near = difflib.get_close_matches(ins.keyword, INSTRUCTIONS, n=1)
            raise BadArgument(
                f"Dockerfile line {ins.line}: unknown instruction {_shown(ins.command)}",
                f"Did you mean {near[0]}?" if near else "See the Dockerfile reference",
            )
        if ins.keyword == "FROM":
            stage_name(ins)
            stages += 1
        elif ins.keyword != "ARG" and not stages:
            raise _no_stage(ins.line)
    if not stages:
        raise _no_stage(instructions[0].line)


def _no_stage(line: int) -> BadArgument:
    return BadArgument(
        f"Dockerfile line {line}: the first instruction must be FROM (ARG may come before it)",
        "Start with FROM IMAGE, e.g. FROM python:3.12-slim",
    )


def stage_name(ins: Instruction) -> str | None:
    """The stage a ``FROM IMAGE [AS NAME]`` names (lower case), checked as the engine does."""
    args = ins.args
    if len(args) == 3 and args[1].lower() == "as":
        if not _STAGE_NAME.match(args[2].lower()):
            raise BadArgument(
                f"Dockerfile line {ins.line}: invalid name for build stage: {args[2]!r}, name "
                "can't start with a number or contain symbols",
                "Use lowercase letters, digits, '-', '_' and '.'",
            )
        return args[2].lower()
    if len(args) != 1:
        raise BadArgument(
            f"Dockerfile line {ins.line}: FROM requires either one or three arguments "
            f"(FROM IMAGE [AS NAME]; found {len(args)})",
            "Put each instruction on its own line",
        )
    return None


def _shown(word: str) -> str:
    """A word for an error message: quoted, escaped, and short even if the input is not."""
    return repr(word) if len(word) <= 40 else repr(word[:40]) + "…"


# --- # syntax= ------------------------------------------------------------------------------


def detect_syntax(text: str) -> str | None:
    """The frontend image a Dockerfile asks for (BuildKit's ``DetectSyntax``): a
    ``# syntax=`` (or ``// syntax=``) directive among the leading directives, after an
    optional ``#!`` line, or ``{"syntax": "..."}`` when the whole file is JSON."""
    text = text.removeprefix("\ufeff")
    first, newline, rest = text.partition("\n")
    if first.startswith("#!"):
        text = rest if newline else ""
    for comment in ("#", "//"):
        value = directives(text, comment).get("syntax")
        if value is not None:
            return value.split(" ", 1)[0]
    try:
        found = json.loads(text)
    except ValueError:
        return None
    value = found.get("syntax") if isinstance(found, dict) else None
    return value if isinstance(value, str) else None


def _other_frontend(text: str) -> str | None:
    """The frontend ``# syntax=`` names, when it is not Dockerfile's own."""
    from docker_magics.registry.references import ReferenceError, parse_normalized

    syntax = detect_syntax(text)
    if syntax is None:
        return None
    try:
        ref = parse_normalized(syntax)
    except ReferenceError:
        return syntax  # not an image BuildKit can pull either: it will say so
    if ref.domain == "docker.io" and ref.path in DOCKERFILE_FRONTENDS:
        return None
    return syntax


def notices(instructions: list[Instruction], builder: str) -> list[str]:
    """What to tell about the reading before the build starts (shown with its progress)."""
    frontend = getattr(instructions, "frontend", None)
    if frontend is None:
        return []
    if builder == "buildkit":
        return [
            f"The Dockerfile asks for the frontend {frontend} (# syntax=): its instructions "
            "are that frontend's to read, so they were not checked before sending"
        ]
    return [
        f"The Dockerfile asks for the frontend {frontend} (# syntax=), which the classic "
        "builder ignores: the engine reads the file as a plain Dockerfile"
    ]


# --- What the engine will do with it -------------------------------------------------------


def heredoc_around(instructions: list[Instruction], line: int) -> Instruction | None:
    """The instruction with a heredoc whose lines include ``line`` (1-based), if any: an
    engine whose parser has no heredocs fails on the first line of the body."""
    for ins in instructions:
        if ins.heredoc and ins.line <= line <= (ins.end or ins.line):
            return ins
    return None


def classic_steps(
    instructions: list[Instruction], target: str | None = None, labels: int = 0
) -> int | None:
    """How many steps the classic builder numbers ("Step N/M"): the ARGs before the first
    FROM, then every instruction of the stages up to ``target``, plus one LABEL step per
    ``--label``. None when ``target`` names no stage (the engine will say so), or when the
    instructions were left unread to another frontend."""
    plan = classic_plan(instructions, target)
    return None if plan is None else len(plan) + labels


def classic_plan(
    instructions: Sequence[Instruction], target: str | None = None
) -> list[Instruction] | None:
    """The instructions the classic builder numbers, in order (its steps but the LABELs of
    ``--label``): see :func:`classic_steps`."""
    if not instructions:
        return None
    stages: list[list[Instruction]] = []
    meta_args: list[Instruction] = []
    for ins in instructions:
        if ins.keyword == "FROM":
            stages.append([ins])
        elif stages:
            stages[-1].append(ins)
        else:
            meta_args.append(ins)
    if target:
        names = [_stage_name(stage[0]) for stage in stages]
        if target.lower() not in names:
            return None
        stages = stages[: names.index(target.lower()) + 1]
    return meta_args + [ins for stage in stages for ins in stage]


def check_target(instructions: list[Instruction], target: str | None) -> None:
    """``--target`` must name a stage (``FROM IMAGE AS NAME``; case does not matter, as for
    both builders): said before anything is sent, with the stages there are. A file left
    to another frontend (``# syntax=``) is that frontend's to judge."""
    if not target or getattr(instructions, "frontend", None) is not None:
        return
    names = [_stage_name(ins) for ins in instructions if ins.keyword == "FROM"]
    named = [n for n in names if n]
    if target.lower() in named:
        return
    if not named:
        raise BadArgument(
            f"{option('--target')} {_shown(target)}: the Dockerfile names no stage",
            f"Name the stage to build (FROM IMAGE AS NAME), or leave out {option('--target')}",
        )
    raise BadArgument(
        f"{option('--target')} {_shown(target)}: the Dockerfile has no such stage (its stages: "
        f"{', '.join(named)})",
        f"Give one of them, or leave out {option('--target')} to build the last stage",
    )


def _stage_name(ins: Instruction) -> str | None:
    """The stage's name, None without one (or when FROM's words are wrong)."""
    try:
        return stage_name(ins)
    except BadArgument:  # unchecked (another frontend's file): no name
        return None
