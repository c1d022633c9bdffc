"""Pure: Go's text rules that Docker's parsers rely on, where Python's differ.

Python's ``str.isspace``/``str.strip`` also take U+001C..U+001F for white space, and
``str.splitlines`` breaks lines at a dozen characters; the Go code of the Docker CLI, BuildKit
and moby uses ``unicode.IsSpace`` and breaks lines at ``\\n`` only.
"""

from __future__ import annotations

# unicode.IsSpace: the Latin-1 spaces, then Unicode's White_Space property above Latin-1.
SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + ("\u2028\u2029\u202f\u205f\u3000")
)
_SPACES = frozenset(SPACE)


def is_space(ch: str) -> bool:
    """``unicode.IsSpace``."""
    return ch in _SPACES


def trim_space(text: str) -> str:
    """``strings.TrimSpace``."""
    return text.strip(SPACE)


def trim_left_space(text: str) -> str:
    """``strings.TrimLeftFunc(text, unicode.IsSpace)``."""
    return text.lstrip(SPACE)


def scan_lines(text: str) -> list[str]:
    """The lines of ``text`` as ``bufio.Scanner`` gives them (``bufio.ScanLines``): split at
    ``\\n`` only, one ``\\r`` before it dropped, no empty last line after a final ``\\n``."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]
