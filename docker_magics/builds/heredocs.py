"""Pure: which words of a Dockerfile line open a heredoc (``RUN <<EOF``), as BuildKit decides.

BuildKit splits the line into shell words (``frontend/dockerfile/shell/lex.go``, quotes and
escapes kept, no variable set) and takes every word that reads ``[N]<<[-]WORD`` as a heredoc
(``parser.go``: ``heredocsFromLine``, ``ParseHeredoc``). So ``<<<`` (a here-string), ``"<<X"``
(quoted) and a line the shell splitter cannot read open none. This is a port of those
functions, for an environment with no variables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from docker_magics.builds.gotext import is_space

_HEREDOC = re.compile(r"(\d*)<<(-?)[\t\n\f\r ]*([^<]*)\Z")  # Go's \d, \s: ASCII only
_SPECIAL_PARAMS = frozenset("@*#?-$!0")
_UNEXPECTED_END = "unexpected end of statement while looking for matching"


class LexError(ValueError):
    """What BuildKit's shell word splitter says of a line it cannot read."""


@dataclass(frozen=True)
class Heredoc:
    name: str  # the terminator word, quotes removed
    expand: bool = True  # no part of the word is quoted: variables in the body expand
    chomp: bool = False  # <<-: leading tabs are stripped from the body and the terminator
    fd: int = 0  # 3<<EOF
    content: str = ""  # the body, line endings included


def parse_heredoc(word: str) -> Heredoc | None:
    """``ParseHeredoc``: the heredoc ``word`` opens, if any; ``LexError`` if its terminator
    cannot be read (``<<'EOF``)."""
    m = _HEREDOC.match(word)
    if m is None or not m.group(3):
        return None
    rest = m.group(3)
    words = _Lexer(rest).words()
    if len(words) != 1:
        return None
    raw = _Lexer(rest, raw_quotes=True).words()
    if len(raw) != 1:
        raise LexError(f"internal lexing of heredoc produced inconsistent results: {rest}")
    quotes = words[0].count("'") + words[0].count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"')
    fd = min(int(m.group(1)), 2**64 - 1) if m.group(1) else 0
    return Heredoc(words[0], quotes == raw_quotes, m.group(2) == "-", fd)


def heredocs_in(line: str) -> list[Heredoc]:
    """``heredocsFromLine``: the heredocs a whole instruction line opens, in order."""
    try:
        words = _Lexer(line, raw_quotes=True, raw_escapes=True).words()
    except LexError:
        return []  # BuildKit ignores the splitter's error here: no heredoc
    return [doc for doc in map(parse_heredoc, words) if doc is not None]


class _Words:
    """``wordsStruct``; its buffer is the lexer's, shared with nested calls as in Go."""

    def __init__(self, lexer: _Lexer) -> None:
        self.lexer, self.in_word = lexer, False
        self.words: list[str] = []

    def add_char(self, ch: str) -> None:
        if is_space(ch) and self.in_word:
            if self.lexer.buffer:
                self.words.append("".join(self.lexer.buffer))
                self.lexer.buffer.clear()
                self.in_word = False
        elif not is_space(ch):
            self.add_raw(ch)

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw(self, text: str) -> None:
        self.lexer.buffer.append(text)
        self.in_word = True

    def get(self) -> list[str]:
        if "".join(self.lexer.buffer):
            self.words.append("".join(self.lexer.buffer))
            self.lexer.buffer.clear()
            self.in_word = False
        return self.words


class _Lexer:
    """``shell.Lex`` with no variables set and ``SkipUnsetEnv``: ``$X`` stays ``$X``."""

    def __init__(self, text: str, *, raw_quotes: bool = False, raw_escapes: bool = False):
        self.text, self.pos = text, 0
        self.raw_quotes, self.raw_escapes = raw_quotes, raw_escapes
        self.escape = "\\"  # BuildKit's heredoc splitting always uses the backslash
        self.buffer: list[str] = []

    def words(self) -> list[str]:
        return self._until(None, self.raw_escapes)[1]

    def _peek(self) -> str | None:
        return self.text[self.pos] if self.pos < len(self.text) else None

    def _next(self) -> str | None:
        ch = self._peek()
        self.pos += ch is not None
        return ch

    def _take(self) -> str:
        """The next character, known to be there."""
        self.pos += 1
        return self.text[self.pos - 1]

    def _until(self, stop: str | None, raw_escapes: bool) -> tuple[str, list[str]]:
        """``processStopOn``: the text up to ``stop`` (end of input if None), and its words."""
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            return self._scan(stop)
        finally:
            self.raw_escapes = saved

    def _scan(self, stop: str | None) -> tuple[str, list[str]]:
        result: list[str] = []
        self.buffer.clear()
        words = _Words(self)
        special = {"$": self._dollar, "<": self._maybe_heredoc}
        special.update({"'": self._single_quoted, '"': self._double_quoted})
        while (ch := self._peek()) is not None:
            if stop is not None and ch == stop:
                self._next()
                return "".join(result), words.get()
            if ch in special:
                text = special[ch]()
                result.append(text)
                (words.add_string if ch == "$" else words.add_raw)(text)
                continue
            self._next()
            if ch == self.escape:
                if self.raw_escapes:
                    words.add_raw(ch)
                    result.append(ch)
                ch = self._next()
                if ch is None:
                    break
                words.add_raw(ch)
            else:
                words.add_char(ch)
            result.append(ch)
        if stop is not None:
            raise LexError(f"{_UNEXPECTED_END} {stop}")
        return "".join(result), words.get()

    def _single_quoted(self) -> str:
        quote = self._take()
        out = [quote] if self.raw_quotes else []
        while True:
            ch = self._next()
            if ch is None:
                raise LexError(f"{_UNEXPECTED_END} single-quote")
            if ch == "'":
                return "".join(out + ([ch] if self.raw_quotes else []))
            out.append(ch)

    def _double_quoted(self) -> str:
        quote = self._take()
        out = [quote] if self.raw_quotes else []
        while True:
            ch = self._peek()
            if ch is None:
                raise LexError(f"{_UNEXPECTED_END} double-quote")
            if ch == '"':
                self._next()
                return "".join(out + ([ch] if self.raw_quotes else []))
            if ch == "$":
                out.append(self._dollar())
                continue
            self._next()
            if ch == self.escape:
                if self.raw_escapes:
                    out.append(ch)
                following = self._peek()
                if following is None:
                    continue  # a lone escape at the end: the next turn reports the quote
                if following in ('"', "$", self.escape):
                    ch = self._take()
            out.append(ch)

    def _name(self) -> str:
        """``processName``: digits, one special parameter, or letters, digits and _."""
        name = ""
        while (ch := self._peek()) is not None:
            if not name and ch.isdecimal():
                while (ch := self._peek()) is not None and ch.isdecimal():
                    name += self._take()
                return name
            if not name and ch in _SPECIAL_PARAMS:
                return self._take()
            if not (ch.isalpha() or ch.isdecimal() or ch == "_"):
                break
            name += self._take()
        return name

    def _dollar(self) -> str:
        """``processDollar`` with every variable unset: the text as written, or an error."""
        self._next()
        if self._peek() != "{":
            name = self._name()
            return "$" + name
        self._next()
        after = self._peek()
        if after is None:
            raise LexError("syntax error: missing '}'")
        if after in "{}:":
            raise LexError("syntax error: bad substitution")
        name = self._name()
        ch = self._next()
        if ch == "}":
            return "${" + name + "}"
        if ch == "/":
            return self._replacement(name)
        if ch not in (":", "+", "-", "?", "#", "%"):
            raise LexError(f"unsupported modifier ({ch or chr(0xFFFD)}) in substitution")
        modifier = ch
        if ch == ":":
            ch = self._next()
            modifier += ch or chr(0xFFFD)
            if ch in ("#", "%"):
                raise LexError(f"unsupported modifier ({modifier}) in substitution")
        word = self._inner("}", raw_escapes=ch in ("#", "%"), missing="'}'")
        return "${" + name + modifier + word + "}"

    def _replacement(self, name: str) -> str:
        if self._peek() == "/":  # ${X//a/b}: every match (the variable is unset anyway)
            self._next()
        pattern = self._inner("/", raw_escapes=True, missing="'/' in ${}")
        replacement = self._inner("}", raw_escapes=True, missing="'}'")
        return "${" + name + "/" + pattern + "/" + replacement + "}"  # as Go writes it back

    def _inner(self, stop: str, *, raw_escapes: bool, missing: str) -> str:
        try:
            return self._until(stop, raw_escapes)[0]
        except LexError:
            if self._peek() is None:
                raise LexError(f"syntax error: missing {missing}") from None
            raise

    def _maybe_heredoc(self) -> str:
        self._next()
        if self._peek() != "<":
            return "<"
        self._next()
        space = ""
        while self._peek() in ("\t", "\r", " "):
            space += self._take()
        return "<<" + space
