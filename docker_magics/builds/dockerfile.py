"""Pure: a light reading of a Dockerfile, enough to catch mistakes before anything is sent
(unknown instructions, nothing to build from) and to name the line of each step.

It does not replace the engine's parser: it only splits instructions the way the engine
does (parser directives, the escape character, line continuations, comments, heredocs) and
checks the keywords.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from docker_magics.errors import BadArgument

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
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_WHITESPACE = re.compile(r"[ \t\v\f\r]+")  # moby parser's reWhitespace
_HEREDOC = re.compile(r"<<(-?)\s*([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")


@dataclass(frozen=True)
class Instruction:
    line: int  # 1-based line where the instruction starts
    keyword: str  # upper case
    arguments: str  # continuation lines joined, as written
    end: int = 0  # 1-based last line, heredoc bodies included (0: the same as ``line``)
    heredoc: bool = False  # it has heredocs (RUN <<EOF ... EOF)

    def __str__(self) -> str:
        return f"{self.keyword} {self.arguments}".strip()


def _shown(word: str) -> str:
    """A word for an error message: quoted, escaped, and short even if the input is not."""
    return repr(word) if len(word) <= 40 else repr(word[:40]) + "…"


def parse(text: str) -> list[Instruction]:
    """Split ``text`` into instructions; raise ``BadArgument`` naming the line of a problem."""
    lines = text.removeprefix("\ufeff").splitlines()  # a BOM, as the engine's parser drops it
    escape = "\\"
    i = 0
    # Parser directives: only at the very top, before any other line.
    while i < len(lines):
        m = _DIRECTIVE.match(lines[i])
        if not m:
            break
        if m.group(1).lower() == "escape":
            if m.group(2) not in ("\\", "`"):
                raise BadArgument(
                    f"Dockerfile line {i + 1}: invalid escape character {m.group(2)!r}",
                    "Use \\ or `",
                )
            escape = m.group(2)
        i += 1

    found: list[Instruction] = []
    while i < len(lines):
        raw = lines[i]
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start = i
        parts = []
        while True:
            line = lines[i]
            body = line.rstrip()
            continued = body.endswith(escape)
            parts.append(body[:-1] if continued else body)
            i += 1
            if not continued or i >= len(lines):
                break
            # Comment and blank lines inside a continuation are skipped, as the engine does.
            while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
                i += 1
            if i >= len(lines):
                break
        joined = " ".join(p.strip() for p in parts)
        word, *rest = _WHITESPACE.split(joined, 1)  # as the engine's parser splits
        keyword, arguments = word.upper(), rest[0] if rest else ""
        if keyword not in INSTRUCTIONS:
            near = difflib.get_close_matches(keyword, INSTRUCTIONS, n=1)
            raise BadArgument(
                f"Dockerfile line {start + 1}: unknown instruction {_shown(word or raw.strip())}",
                f"Did you mean {near[0]}?" if near else "See the Dockerfile reference",
            )
        # Heredocs (RUN <<EOF ... EOF): skip their bodies.
        heredocs = _HEREDOC.findall(arguments)
        for minus, _, word in heredocs:
            while i < len(lines):
                end = lines[i].lstrip("\t") if minus else lines[i]
                i += 1
                if end == word:
                    break
        found.append(Instruction(start + 1, keyword, arguments.strip(), i, bool(heredocs)))
    if not found:
        raise BadArgument("The Dockerfile has no instructions", "Start it with FROM IMAGE")
    first = next((ins for ins in found if ins.keyword != "ARG"), None)
    if first is None or first.keyword != "FROM":
        where = first.line if first else found[0].line
        raise BadArgument(
            f"Dockerfile line {where}: the first instruction must be FROM (ARG may come before it)",
            "Start with FROM IMAGE, e.g. FROM python:3.12-slim",
        )
    return found


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
    ``--label``. None when ``target`` names no stage (the engine will say so)."""
    stages: list[list[Instruction]] = []
    meta_args = 0
    for ins in instructions:
        if ins.keyword == "FROM":
            stages.append([ins])
        elif stages:
            stages[-1].append(ins)
        else:
            meta_args += 1
    if target:
        names = [_stage_name(stage[0]) for stage in stages]
        if target.lower() not in names:
            return None
        stages = stages[: names.index(target.lower()) + 1]
    return meta_args + sum(map(len, stages)) + labels


def _stage_name(ins: Instruction) -> str | None:
    words = ins.arguments.split()  # FROM [--platform=X] IMAGE [AS NAME]
    if len(words) >= 3 and words[-2].lower() == "as":
        return words[-1].lower()
    return None
