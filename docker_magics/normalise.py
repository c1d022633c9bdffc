"""The Python API's arguments, read one way for every function.

A list-typed argument (tags, add, get, volumes, ports, env_files, cache_from, secrets...)
takes one string, as one item, or an iterable of strings: ``volumes="/data:/data"`` is one
volume, not a list of characters. ``NAME=VALUE`` arguments (build args, labels, env) take a
mapping too. ``progress=`` is checked by name everywhere. A wrong type or value is one line
(``BadArgument``), never a traceback from deep inside.
"""

from __future__ import annotations

import math
import os
import shlex
from collections.abc import Iterable, Mapping

from docker_magics.display.progress import MODES
from docker_magics.errors import BadArgument


def strings(value: object, name: str, *, paths: bool = False) -> list[str]:
    """One string is one item (``tags="app:1"`` is one tag, not five); anything else must be
    an iterable of strings (of paths too, with ``paths``). None is no items."""
    kinds = (str, os.PathLike) if paths else (str,)
    if value is None:
        return []
    if isinstance(value, kinds):
        return [os.fspath(value)]
    if isinstance(value, (bytes, Mapping)) or not isinstance(value, Iterable):
        raise BadArgument(
            f"{name} must be a string or a list of strings, not {type(value).__name__}"
        )
    items = list(value)
    for item in items:
        if not isinstance(item, kinds):
            # The item is not shown: in secrets it could be the secret itself.
            raise BadArgument(f"{name} must hold strings, not {type(item).__name__}")
    return [os.fspath(item) for item in items]


def text(value: object, name: str) -> str | None:
    """A string argument that may be left out."""
    if value is not None and not isinstance(value, str):
        raise BadArgument(f"{name} must be a string, not {type(value).__name__}")
    return value


def path(value: object, name: str) -> str | None:
    """A file or folder: a string or a path-like, or None."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise BadArgument(f"{name} must be a path (a string), not {type(value).__name__}")


def flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise BadArgument(f"{name} must be True or False, not {value!r:.40}")
    return value


def texts(**values: object) -> None:
    """Check several string arguments that may be left out at once."""
    for name, value in values.items():
        text(value, name)


def flags(**values: object) -> None:
    """Check several ``True``/``False`` arguments at once."""
    for name, value in values.items():
        flag(value, name)


def choice(value: object, name: str, choices: tuple[str, ...]) -> str:
    """One of ``choices``, by name."""
    if value not in choices:
        listed = f"{', '.join(choices[:-1])} or {choices[-1]}" if len(choices) > 1 else choices[0]
        raise BadArgument(f"Unknown {name} {value!r:.40}", f"Use {listed}")
    return value


def progress(value: object) -> str:
    """``auto``, ``widget``, ``plain`` or ``none``."""
    if value not in MODES:
        raise BadArgument(f"Unknown progress mode {value!r:.40}", "Use auto, widget, plain or none")
    return value


def number(
    value: object,
    name: str,
    *,
    minimum: float,
    maximum: float,
    integer: bool = False,
    unit: str = "",
    hint: str = "",
) -> float:
    """A number within ``[minimum, maximum]`` (no NaN, no infinity, no bool); out of range,
    the line gives the range (``unit``: e.g. "seconds"; ``hint``: what a special value
    means)."""
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        what = "a whole number" if integer else "a number"
        raise BadArgument(f"{name} must be {what}, not {type(value).__name__}", hint)
    if not (math.isfinite(value) and minimum <= value <= maximum):
        unit = f" {unit}" if unit else ""
        raise BadArgument(
            f"{name} must be between {shown(minimum)} and {shown(maximum)}{unit}, "
            f"not {shown(value)}",
            hint,
        )
    return value


def shown(value: float) -> str:
    """A number as people write it: 2,147,483,647, 0.5, 1e+308."""
    if isinstance(value, int) or (math.isfinite(value) and value.is_integer() and value < 1e15):
        return f"{int(value):,}"
    return f"{value:.6g}"


def command(value: object, name: str = "command") -> list[str] | None:
    """A container's command: a list of words, or one string split as a shell would."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return shlex.split(value) or None
        except ValueError as exc:
            raise BadArgument(f"Cannot split the {name} ({exc})", "Check the quotes") from None
    return strings(value, name) or None


def pairs(value: object, name: str) -> list[str] | dict[str, str]:
    """``NAME=VALUE`` arguments: a mapping (kept, values checked) or strings as the magics
    take them (the feature reads those)."""
    if not isinstance(value, Mapping):
        return strings(value, name)
    checked = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key or "=" in key or any(c.isspace() for c in key):
            raise BadArgument(f"Invalid name {key!r:.40} in {name}", "Use names such as VERSION")
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise BadArgument(f"{name}[{key!r}] must be a string, not {type(item).__name__}")
        checked[key] = str(item)
    return checked
