""".dockerignore with the docker CLI's exact semantics (moby/patternmatcher and
moby/patternmatcher/ignorefile), so the same files reach the image as with ``docker build``.

- Lines starting with ``#`` are comments; blank lines are skipped; a UTF-8 BOM is dropped.
- Patterns are cleaned like Go's ``filepath.Clean``; a leading ``/`` is dropped (patterns are
  always relative to the context root).
- ``*`` and ``?`` never cross ``/``; ``**`` matches any number of directories; ``[...]``
  classes and ``\\`` escapes work as in Go's ``filepath.Match``.
- ``!pattern`` re-includes; the last matching pattern wins.
- A pattern that matches a directory excludes everything below it (parent matching).
- A malformed pattern (``[]a]``, ``[-]``, ``[x-]``, a lone ``\\``...) is refused, as the CLI
  refuses it ("syntax error in pattern": Go's ``filepath.Match`` check in
  ``patternmatcher.New``), naming its line.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

from docker_magics.builds.gotext import scan_lines, trim_space
from docker_magics.errors import BadArgument

_ESCAPE = set(".+()|{}$")


def go_clean(path: str) -> str:
    """Go's ``path.Clean``: collapse ``//``, ``.`` and ``..``; ``""`` becomes ``"."``."""
    if not path:
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    cleaned = "/".join(parts)
    return ("/" + cleaned) if rooted else (cleaned or ".")


class Patterns(list):
    """``read_patterns``' result: the patterns, and the line of the file each came from (so
    an error can name it; patterns added to the list later have none)."""

    source: str = ".dockerignore"
    lines: tuple[int, ...] = ()

    def __add__(self, other) -> Patterns:
        """More patterns after these (e.g. ``!.dockerignore``): the lines stay known."""
        joined = Patterns(list(self) + list(other))
        joined.source, joined.lines = self.source, self.lines
        return joined


MAX_LINE = 65535  # bufio.Scanner's limit, in bytes


def read_patterns(text: str, source: str = ".dockerignore") -> Patterns:
    """The patterns of a .dockerignore file (``ignorefile.ReadAll``): lines end at ``\\n``
    (a ``\\r`` before it dropped), ``#`` comments and blank lines skipped, blanks trimmed as Go
    trims them, paths cleaned and made relative. ``source`` names the file in errors."""
    patterns, lines = Patterns(), []
    for number, line in enumerate(scan_lines(text), 1):
        if len(line.encode("utf-8", "surrogatepass")) > MAX_LINE:
            raise BadArgument(
                f"{source} line {number} is longer than {MAX_LINE} bytes: the docker CLI "
                "cannot read it (bufio.Scanner: token too long)",
                "Shorten that line",
            )
        if number == 1:
            line = line.removeprefix("\ufeff")
        if line.startswith("#"):
            continue
        line = trim_space(line)
        if not line:
            continue
        invert = line.startswith("!")
        if invert:
            line = trim_space(line[1:])
        if line:
            line = go_clean(line)
            if len(line) > 1 and line.startswith("/"):
                line = line[1:]
        patterns.append("!" + line if invert else line)
        lines.append(number)
    patterns.source, patterns.lines = source, tuple(lines)
    return patterns


def syntax_error(pattern: str) -> bool:
    """Whether Go's ``filepath.Match(pattern, ".")`` fails with ``ErrBadPattern``, as
    ``patternmatcher.New`` checks every pattern: a ``[...]`` class left open, empty, or with
    an unescaped ``-`` or ``]`` out of place, or a ``\\`` at the end."""
    while pattern:
        _, chunk, pattern = _scan_chunk(pattern)
        try:
            _check_chunk(chunk)
        except ValueError:
            return True
    return False


def _scan_chunk(pattern: str) -> tuple[bool, str, str]:
    """``filepath.scanChunk``: leading stars, then the text up to the next star."""
    rest = pattern.lstrip("*")
    star, i, in_range = len(rest) < len(pattern), 0, False
    while i < len(rest):
        ch = rest[i]
        if ch == "\\" and i + 1 < len(rest):
            i += 1
        elif ch in "[]":
            in_range = ch == "["
        elif ch == "*" and not in_range:
            break
        i += 1
    return star, rest[:i], rest[i:]


def _check_chunk(chunk: str) -> None:
    """``filepath.matchChunk``'s syntax checks (it makes them even where nothing matches)."""
    while chunk:
        if chunk[0] == "[":
            chunk = chunk[2:] if chunk[1:2] == "^" else chunk[1:]
            ranges = 0
            while not (chunk[:1] == "]" and ranges):
                chunk = _class_char(chunk)
                if chunk[0] == "-":
                    chunk = _class_char(chunk[1:])
                ranges += 1
            chunk = chunk[1:]
        elif chunk[0] == "\\":
            if len(chunk) == 1:
                raise ValueError("a \\ at the end")
            chunk = chunk[2:]
        else:
            chunk = chunk[1:]


def _class_char(chunk: str) -> str:
    """``filepath.getEsc``: one (perhaps escaped) character of a class; what follows it."""
    if not chunk or chunk[0] in "-]":
        raise ValueError("bad class")
    if chunk[0] == "\\":
        chunk = chunk[1:]
        if not chunk:
            raise ValueError("bad class")
    if len(chunk) == 1:
        raise ValueError("class left open")
    return chunk[1:]


@dataclass
class Pattern:
    text: str  # cleaned, without the leading "!"
    exclusion: bool
    kind: str = field(init=False)  # exact | prefix | suffix | regexp
    regexp: re.Pattern | None = field(init=False, default=None)
    source: str = field(init=False, default="")  # the regexp as patternmatcher writes it
    # Whether a path matches, as one callable with a truthy result: the walk calls it per
    # entry and pattern, so the kind is chosen once, here.
    test: Callable[[str], object] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.kind, source = _compile(self.text)
        if self.kind == "regexp":
            self.source = source
            try:
                with warnings.catch_warnings():  # "[[" etc.: nested sets some day, not in Go
                    warnings.simplefilter("ignore", FutureWarning)
                    # Go's $ is the end of the text, and its . does not take a newline.
                    self.regexp = re.compile(source[:-1] + r"\Z")
            except re.error as exc:
                raise ValueError(str(exc)) from None
        self.test = self._test()

    def _test(self) -> Callable[[str], object]:
        if self.kind == "exact":
            return self.text.__eq__
        if self.kind == "prefix":
            prefix = self.text[:-2]
            return lambda path: path.startswith(prefix)
        if self.kind == "suffix":
            suffix = self.text[2:]
            if suffix[:1] == "/":
                bare = suffix[1:]
                return lambda path: path.endswith(suffix) or path == bare
            return lambda path: path.endswith(suffix)
        # The commonest globs, "**/*.pyc" and "*.pyc", as string tests: the same answers as
        # their regexps, ^(.*/)?[^/]*\.pyc$ and ^[^/]*\.pyc$, several times faster.
        literal = _LITERAL_TAIL.fullmatch(self.text)
        if literal:
            tail = literal.group(2)
            if literal.group(1):
                return lambda path: path.endswith(tail)
            return lambda path: path.endswith(tail) and "/" not in path
        return self.regexp.match if self.regexp is not None else (lambda path: None)


_LITERAL_TAIL = re.compile(r"(\*\*/)?\*([A-Za-z0-9_.,:=@%~+-]+)")


def _compile(pattern: str) -> tuple[str, str]:
    """Translate a pattern as ``Pattern.compile`` does; returns (kind, regexp source)."""
    out, kind, i, n = "^", "exact", 0, len(pattern)
    index = 0  # counts scanned runes, as the Go loop's i does
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1
                if i >= n:
                    if kind == "exact":
                        kind = "prefix"
                    else:
                        out += ".*"
                        kind = "regexp"
                else:
                    out += "(.*/)?"
                    kind = "regexp"
                if index == 0:
                    kind = "suffix"
            else:
                out += "[^/]*"
                kind = "regexp"
        elif ch == "?":
            out += "[^/]"
            kind = "regexp"
        elif ch in _ESCAPE:
            out += "\\" + ch
        elif ch == "\\":
            if i < n:
                out += "\\" + pattern[i]
                i += 1
                kind = "regexp"
            else:
                out += "\\\\"
        elif ch in "[]":
            out += ch
            kind = "regexp"
        else:
            out += ch  # like Go: other characters go into the regexp as they are
        index += 1
    return kind, out + "$"


def _refused(patterns: list[str], index: int, raw: str, why: str) -> BadArgument:
    """The error for a pattern the CLI refuses, naming its file and line when known."""
    lines = getattr(patterns, "lines", ())
    source = getattr(patterns, "source", ".dockerignore")
    where = f"{source} line {lines[index]}" if index < len(lines) else source
    hint = (
        "Remove that line (a lone ! names nothing)"
        if raw == "!"
        else "Fix or remove that line: inside [...] escape ']' and '-' with \\, and end no "
        "pattern with a lone \\"
    )
    return BadArgument(f"{where}: {why}: {raw!r} (the docker CLI refuses it)", hint)


def _in_a_folder_it_matches(test: Callable[[str], object], path: str) -> bool:
    """Whether ``test`` matches one of the folders ``path`` is in (without their results)."""
    if "/" not in path:
        return False
    dirs = path.split("/")[:-1]
    return any(test("/".join(dirs[: j + 1])) for j in range(len(dirs)))


class IgnoreMatcher:
    """Decides, path by path during a walk, what a .dockerignore excludes. Patterns from
    :func:`read_patterns` are refused naming their line, as the CLI refuses them."""

    def __init__(self, patterns: list[str]):
        self.patterns: list[Pattern] = []
        included = False  # an inclusion pattern came before
        for index, raw in enumerate(patterns):
            raw = trim_space(raw)
            if not raw:
                continue
            raw = go_clean(raw)
            exclusion = raw.startswith("!")
            if exclusion and raw == "!":
                raise _refused(patterns, index, raw, 'illegal exclusion pattern: "!"')
            text = raw[1:] if exclusion else raw
            if syntax_error(text):
                raise _refused(patterns, index, raw, "syntax error in pattern")
            try:
                self.patterns.append(Pattern(text, exclusion))
            except ValueError as exc:
                # Go compiles the regexp when the pattern is first used: an exclusion is used
                # only after an inclusion matched; an inclusion, for the first file.
                if included or not exclusion:
                    why = f"syntax error in pattern ({exc})"
                    raise _refused(patterns, index, raw, why) from None
            included = included or not exclusion
        self.has_exclusions = any(p.exclusion for p in self.patterns)
        self._tests = [(p.exclusion, p.test) for p in self.patterns]
        self._last_first = self._tests[::-1]
        self._no_parent = [False] * len(self.patterns)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def match(self, path: str, parent: list[bool] | None = None) -> tuple[bool, list[bool]]:
        """Whether ``path`` (relative, ``/``-separated) is excluded, given its parent
        directory's per-pattern results; also returns this path's results for its children
        (``MatchesUsingParentResults``)."""
        matched = False
        info = []
        for (exclusion, test), hit in zip(self._tests, parent or self._no_parent, strict=True):
            if not hit:
                if exclusion != matched:
                    info.append(False)
                    continue
                hit = bool(test(path)) or (not parent and _in_a_folder_it_matches(test, path))
            info.append(hit)
            if hit:
                matched = not exclusion
        return matched, info

    def excluded(self, path: str, parent: list[bool] | None = None) -> bool:
        """``match(path, parent)[0]`` without the results for children, for what has none
        (files). The last pattern that matches decides (``match`` only skips the patterns
        that could not change its answer), so this looks from the end and stops there."""
        parents = reversed(parent or self._no_parent)
        for (exclusion, test), hit in zip(self._last_first, parents, strict=True):
            if hit or test(path) or (not parent and _in_a_folder_it_matches(test, path)):
                return not exclusion
        return False

    def excludes(self, path: str) -> bool:
        """Whether ``path`` or one of its parents is excluded (``MatchesOrParentMatches``)."""
        return self.match(go_clean(path))[0] if go_clean(path) != "." else False

    def may_reinclude_below(self, directory: str) -> bool:
        """Whether an exclusion pattern could re-include something inside an excluded
        directory; if not, the walk skips it whole (the CLI's optimisation, quirks
        included: ``!**/keep`` does not reach into an excluded directory)."""
        prefix = directory + "/"
        return any(p.exclusion and (p.text + "/").startswith(prefix) for p in self.patterns)
