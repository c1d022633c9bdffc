"""Pure: BuildKit's Dockerfile parser (``frontend/dockerfile/parser``), ported: lines,
parser directives, continuations, comments, heredocs and each instruction's argument form.

It reads a Dockerfile into instructions as the engine does, and raises ``ParseError`` only
where BuildKit's parser itself fails (a directive given twice, a JSON array of non-strings,
``ENV`` without a value, a line over 64 KiB, no instruction at all). Whether the instructions
make sense (known keywords, FROM first) is checked by :mod:`docker_magics.builds.dockerfile`.

Heredocs are read as BuildKit reads them. Where BuildKit fails on one (a terminator that
never comes, a terminator word it cannot split), the engine decides: an engine whose parser
has no heredocs reads those lines as instructions. Here the instruction then runs to the end
of the file (unterminated) or has no heredoc (unreadable word), and nothing is raised.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field

from docker_magics.builds.gotext import (
    SPACE,
    is_space,
    scan_lines,
    trim_left_space,
    trim_space,
)
from docker_magics.builds.heredocs import Heredoc, LexError, heredocs_in

_WHITESPACE = re.compile(r"[\t\v\f\r ]+")  # reWhitespace
_DIRECTIVE = re.compile(r"([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*\Z")
DIRECTIVES = ("syntax", "escape", "check")
MAX_LINE = 65535  # bufio.MaxScanTokenSize - 1, in bytes


class ParseError(ValueError):
    """What BuildKit's parser says, at a line (1-based)."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message, self.line = message, line


@dataclass(frozen=True)
class Instruction:
    line: int  # 1-based line where the instruction starts
    keyword: str  # upper case
    arguments: str  # after the keyword (flags included), continuation lines joined
    end: int = 0  # 1-based last line, heredoc bodies included (0: the same as ``line``)
    command: str = ""  # the keyword as written
    flags: tuple[str, ...] = ()  # --flag=value words before the arguments
    args: tuple[str, ...] = ()  # the parser's argument values (what its AST dump quotes)
    json: bool = False  # the JSON (exec) form: ["a", "b"]
    trigger: Instruction | None = None  # ONBUILD's instruction
    heredocs: tuple[Heredoc, ...] = ()
    original: str = ""  # the whole joined line

    @property
    def heredoc(self) -> bool:
        """It has heredocs (``RUN <<EOF ... EOF``)."""
        return bool(self.heredocs)

    def __str__(self) -> str:
        return f"{self.keyword} {self.arguments}".strip()


@dataclass
class Parsed:
    instructions: list[Instruction]
    escape: str = "\\"
    directives: dict[str, str] = field(default_factory=dict)


class _Directives:
    """``DirectiveParser`` and the escape token: directives are read until the first line
    that is not one (a blank line, an instruction, any other comment)."""

    def __init__(self) -> None:
        self.done = False
        self.found: dict[str, str] = {}
        self.escape = "\\"
        self.continuation = _continuation("\\")

    def read(self, line: str, number: int) -> bool:
        """Whether ``line`` is a directive; ``ParseError`` for a repeated or bad one."""
        if self.done:
            return False
        m = _DIRECTIVE.match(trim_left_space(line[1:])) if line.startswith("#") else None
        if m is None or m.group(1).lower() not in DIRECTIVES:
            self.done = True
            return False
        key = m.group(1).lower()
        if key in self.found:
            raise ParseError(f"only one {key} parser directive can be used", number)
        self.found[key] = m.group(2)
        if key == "escape":
            if m.group(2) not in ("\\", "`"):
                raise ParseError(
                    f"invalid escape token '{m.group(2)}' does not match ` or \\", number
                )
            self.escape = m.group(2)
            self.continuation = _continuation(self.escape)
        return True


def directives(text: str, comment: str = "#") -> dict[str, str]:
    """``DirectiveParser.ParseAll``: the directives at the top of ``text`` (a line is one
    when it starts with ``comment``), up to the first line that is none or repeats one."""
    found: dict[str, str] = {}
    for line in scan_lines(text):
        m = _DIRECTIVE.match(trim_left_space(line[len(comment) :]))
        if m is None or not line.startswith(comment):
            break
        key = m.group(1).lower()
        if key not in DIRECTIVES or key in found:
            break
        found[key] = m.group(2)
    return found


def _continuation(escape: str) -> re.Pattern:
    """``setEscapeToken``'s regexp: the escape at the end, unless it is escaped itself."""
    e = re.escape(escape)
    return re.compile(rf"([^{e}]){e}[ \t]*\Z|^{e}[ \t]*\Z")


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _is_comment(line: str) -> bool:
    return trim_left_space(line).startswith("#")


class _Reader:
    """``Parse``'s loop over the lines of a Dockerfile."""

    def __init__(self, text: str) -> None:
        self.raw = [t for t in re.split(r"(?<=\n)", text) if t]  # scanLines: ends kept
        if self.raw:
            self.raw[0] = self.raw[0].removeprefix("\ufeff")
        self.count = 0  # lines read so far (currentLine)
        self.d = _Directives()
        self.parsed = Parsed([])

    def scan(self) -> str | None:
        """The next raw line (with its end), or None at the end or at a line bufio cannot
        hold (the error is raised once the lines before it are read, as Parse does)."""
        if self.count >= len(self.raw):
            return None
        line = self.raw[self.count]
        # (A UTF-8 character has at most 4 bytes: shorter lines need no measuring.)
        if len(line) > MAX_LINE // 4 and len(_utf8(line.rstrip("\n"))) > MAX_LINE:
            return None
        return line

    def process(self, raw: str, first: bool) -> str:
        """``processLine``: the line without its end (and leading blanks on a first line),
        its directive read, comments dropped; counts the line."""
        token = raw.rstrip("\r\n")
        if first:
            token = trim_left_space(token)
        self.count += 1
        self.d.read(token, self.count)
        return "" if _is_comment(token) else token

    def trim(self, line: str) -> tuple[str, bool]:
        """``trimContinuationCharacter``: (the line, whether it ends the instruction)."""
        if self.d.continuation.search(line):
            return self.d.continuation.sub(lambda m: m.group(1) or "", line), False
        return line, True

    def read(self) -> Parsed:
        while (raw := self.scan()) is not None:
            start = self.count + 1
            line, ended = self.trim(self.process(raw, first=True))
            if ended and not line:
                continue
            parts = [line]
            while not ended and (raw := self.scan()) is not None:
                token = self.process(raw, first=False)
                if _is_comment(raw) or not trim_left_space(token):
                    continue  # comments and empty lines inside a continuation are skipped
                token, ended = self.trim(token)
                parts.append(token)
            self.add("".join(parts), start)
        if self.count < len(self.raw):  # scan stopped at a line too long
            too_long = f"dockerfile line greater than max allowed size of {MAX_LINE}"
            raise ParseError(too_long, self.count + 1)
        if not self.parsed.instructions:
            raise ParseError("file with no instructions", max(self.count, 1))
        self.parsed.escape, self.parsed.directives = self.d.escape, self.d.found
        return self.parsed

    def add(self, line: str, start: int) -> None:
        try:
            ins = node(line, self.d.escape, start)
        except ParseError as exc:
            raise ParseError(exc.message, start) from None
        target = ins.trigger if ins.keyword == "ONBUILD" and ins.trigger else ins
        docs = []
        if target.keyword in ("ADD", "COPY", "RUN") and not target.json and "<<" in line:
            try:
                docs = heredocs_in(line)
            except LexError:
                docs = []  # BuildKit fails here; an engine without heredocs does not
        bodies = []
        for doc in docs:
            body, terminated = self.body(doc)
            bodies.append(body)
            if not terminated:
                break  # the file ended in it: BuildKit refuses that, the engine will say so
        ins = dataclasses.replace(ins, end=self.count, heredocs=tuple(bodies))
        self.parsed.instructions.append(ins)

    def body(self, doc: Heredoc) -> tuple[Heredoc, bool]:
        """The heredoc with its content, and whether its terminator came."""
        content: list[str] = []
        while (raw := self.scan()) is not None:
            self.count += 1
            end = raw.rstrip("\r\n")
            if (end.lstrip("\t") if doc.chomp else end) == doc.name:
                return dataclasses.replace(doc, content="".join(content)), True
            content.append(raw)
        return dataclasses.replace(doc, content="".join(content)), False


def read(text: str) -> Parsed:
    """Parse ``text`` as BuildKit's parser does; ``ParseError`` where it fails."""
    return _Reader(text).read()


# --- One instruction: newNodeFromLine, splitCommand and the line parsers ------------------


def node(line: str, escape: str = "\\", start: int = 0) -> Instruction:
    """``newNodeFromLine``: the instruction of one joined line."""
    cmdline = _WHITESPACE.split(trim_space(line), maxsplit=1)
    command, rest = cmdline[0], ""
    flags: list[str] = []
    if len(cmdline) == 2:
        rest, flags = _flags(cmdline[1], escape)
    rest = trim_space(rest)
    parse = _PARSERS.get(command.lower(), _ignore)
    values, is_json, trigger = parse(rest, escape)
    return Instruction(
        line=start,
        keyword=command.upper(),
        arguments=trim_space(cmdline[1]) if len(cmdline) == 2 else "",
        command=command,
        flags=tuple(flags),
        args=tuple(values),
        json=is_json,
        trigger=trigger,
        original=line,
    )


_SPACE = re.compile(f"[{re.escape(SPACE)}]")


def _flags(line: str, escape: str) -> tuple[str, list[str]]:
    """``extractBuilderFlags``; without quotes or escapes, words are cut at blanks."""
    if any(ch in line for ch in ("'", '"', escape)):
        return _Flags(line, escape).scan()
    pos = 0
    words: list[str] = []
    while True:
        pos = len(line) - len(trim_left_space(line[pos:]))
        if not line.startswith("--", pos):
            return line[pos:], words
        space = _SPACE.search(line, pos)
        end = space.start() if space else len(line)
        if line[pos:end] == "--":
            return line[end:], words
        words.append(line[pos:end])
        pos = end


class _Flags:
    """``extractBuilderFlags``: the leading ``--name[=value]`` words (quotes and escapes read),
    up to the first other word or ``--``."""

    def __init__(self, line: str, escape: str) -> None:
        self.line, self.escape = line, escape
        self.words: list[str] = []
        self.word: list[str] = []
        self.quote = ""  # inside quotes: the quote character
        self.blank_ok = False  # a quoted empty word counts

    def scan(self) -> tuple[str, list[str]]:
        pos, n, in_word = 0, len(self.line), False
        while pos < n:
            ch = self.line[pos]
            if not in_word:
                if is_space(ch):
                    pos += 1
                    continue
                if not self.line.startswith("--", pos):
                    return self.line[pos:], self.words
                in_word = True
            if self.quote:
                pos = self._quoted(pos)
            elif is_space(ch):
                if "".join(self.word) == "--":
                    return self.line[pos:], self.words
                self._end_word()
                in_word = False
                pos += 1
            else:
                pos = self._unquoted(pos)
        if in_word and "".join(self.word) != "--":
            self._end_word()
        return "", self.words

    def _end_word(self) -> None:
        word = "".join(self.word)
        if self.blank_ok or word:
            self.words.append(word)
        self.word, self.blank_ok = [], False

    def _unquoted(self, pos: int) -> int:
        ch = self.line[pos]
        if ch in "'\"":
            self.quote, self.blank_ok = ch, True
            return pos + 1
        return self._char(pos)

    def _quoted(self, pos: int) -> int:
        if self.line[pos] == self.quote:
            self.quote = ""
            return pos + 1
        if self.line[pos] == self.escape and pos + 1 == len(self.line):
            self.quote = ""  # an escape at the very end closes the quote
            return pos + 1
        return self._char(pos)

    def _char(self, pos: int) -> int:
        """Add the character at ``pos`` (the one after it, if it is the escape)."""
        if self.line[pos] == self.escape:
            if pos + 1 == len(self.line):
                return pos + 1  # an escape at the very end is dropped
            pos += 1
        self.word.append(self.line[pos])
        return pos + 1


def parse_words(rest: str, escape: str = "\\") -> list[str]:
    """``parseWords``: words split at unquoted blanks, quotes and escapes kept."""
    words: list[str] = []
    word: list[str] = []
    quote, blank_ok, pos, n = "", False, 0, len(rest)
    while pos < n:
        ch = rest[pos]
        if not quote and is_space(ch):
            if blank_ok or word:
                words.append("".join(word))
            word, blank_ok = [], False
        elif not quote and ch in "'\"":
            quote, blank_ok = ch, True
            word.append(ch)
        elif ch == quote:
            quote = ""
            word.append(ch)
        elif ch == escape and (not quote or quote == '"'):
            if pos + 1 == n:
                quote = ""  # an escape at the very end is dropped (and ends a quote)
            else:
                word += [ch, rest[pos + 1]]
                pos += 1
        else:
            word.append(ch)
        pos += 1
    if blank_ok or word:
        words.append("".join(word))
    return words


_Parsed = tuple[list[str], bool, "Instruction | None"]


def _ignore(rest: str, escape: str) -> _Parsed:
    return [""], False, None  # an unknown instruction: one empty node


def _string(rest: str, escape: str) -> _Parsed:
    return ([rest] if rest else []), False, None


def _whitespace_delimited(rest: str, escape: str) -> _Parsed:
    return (_WHITESPACE.split(rest) if rest else []), False, None


def _json_array(rest: str) -> list[str] | None:
    """``parseJSON``: the strings of a JSON array, None if ``rest`` is not one;
    ``ParseError`` for an array that holds anything but strings."""
    rest = trim_left_space(rest)
    if not rest.startswith("["):
        return None
    try:
        values = json.loads(rest, parse_constant=_no_constant)
    except ValueError:
        return None
    if not isinstance(values, list):
        return None
    if not all(isinstance(v, str) for v in values):
        raise ParseError(
            "when using JSON array syntax, arrays must be comprised of strings only", 0
        )
    return values


def _no_constant(name: str):
    raise ValueError(name)  # NaN and Infinity are not JSON for Go


def _maybe_json(rest: str, escape: str) -> _Parsed:
    if not rest:
        return [], False, None
    values = _json_array(rest)
    return ([rest], False, None) if values is None else (values, True, None)


def _maybe_json_list(rest: str, escape: str) -> _Parsed:
    values = _json_array(rest)
    return _whitespace_delimited(rest, escape) if values is None else (values, True, None)


def _healthcheck(rest: str, escape: str) -> _Parsed:
    """``parseHealthConfig``: the type (CMD, NONE), then the command as RUN reads it."""
    sep = next((i for i, ch in enumerate(rest) if is_space(ch)), len(rest))
    if sep == 0:
        return [], False, None
    values, is_json, _ = _maybe_json(trim_left_space(rest[sep:]), escape)
    return [rest[:sep], *values], is_json, None


def _onbuild(rest: str, escape: str) -> _Parsed:
    if not rest:
        return [], False, None
    return [], False, node(rest, escape)


def _name_or_name_value(rest: str, escape: str) -> _Parsed:
    return parse_words(rest, escape), False, None


def _name_value(key: str):
    """``parseNameVal`` for ENV and LABEL: ``KEY name value`` or ``KEY a=1 b=2``."""

    def parse(rest: str, escape: str) -> _Parsed:
        words = parse_words(rest, escape)
        if not words:
            return [], False, None
        if "=" not in words[0]:
            parts = _WHITESPACE.split(rest, maxsplit=1)
            if len(parts) < 2:
                raise ParseError(f"{key} must have two arguments", 0)
            return [parts[0], parts[1], ""], False, None
        values = []
        for word in words:
            if "=" not in word:
                raise ParseError(
                    f'Syntax error - can\'t find = in "{word}". Must be of the form: name=value',
                    0,
                )
            name, value = word.split("=", 1)
            values += [name, value, "="]
        return values, False, None

    return parse


_PARSERS = {
    "add": _maybe_json_list,
    "arg": _name_or_name_value,
    "cmd": _maybe_json,
    "copy": _maybe_json_list,
    "entrypoint": _maybe_json,
    "env": _name_value("ENV"),
    "expose": _whitespace_delimited,
    "from": _whitespace_delimited,
    "healthcheck": _healthcheck,
    "label": _name_value("LABEL"),
    "maintainer": _string,
    "onbuild": _onbuild,
    "run": _maybe_json,
    "shell": _maybe_json,
    "stopsignal": _string,
    "user": _string,
    "volume": _maybe_json_list,
    "workdir": _string,
}
