"""What a folder context holds: the walk in the docker CLI's order, with its rules for
skipping what ``.dockerignore`` excludes, and the one-line errors for files that change or
cannot be read while the context is sent."""

from __future__ import annotations

import operator
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from docker_magics.builds.dockerignore import IgnoreMatcher
from docker_magics.errors import BadArgument, DockerMagicsError


class ContextChanged(DockerMagicsError):
    """A file changed or vanished while the context was being sent."""


def changed_while_sent(what: str, why: str) -> ContextChanged:
    return ContextChanged(
        f"{what} changed while the build context was being sent ({why})",
        "Run the cell again once nothing is writing to the context",
    )


def unreadable(path: str, arcname: str, exc: OSError) -> ContextChanged:
    if isinstance(exc, FileNotFoundError):  # it was there when the folder was listed
        return changed_while_sent(arcname, "it was deleted")
    return ContextChanged(
        f"Cannot read {path} for the build context: {exc.strerror or exc}",
        "Fix its permissions, or exclude it in .dockerignore",
    )


def walk(
    root: Path, matcher: IgnoreMatcher, *, lazy_files: bool = False
) -> Iterator[tuple[str, str, os.stat_result | None]]:
    """``(relative path, full path, lstat)`` of what the context includes, in the CLI's
    order and with its rules for skipping excluded directories.

    One loop over a stack of sorted listings (not a generator per folder: every entry would
    climb the chain of them), and no lstat for what is excluded, only its kind.
    ``lazy_files``: what the listing says is a regular file comes with None for its lstat;
    the caller opens it and asks the open file (one path lookup fewer)."""
    match = matcher.match if matcher else None
    prune = not (matcher and matcher.has_exclusions)  # an excluded folder is skipped whole
    stack = [(_listing(str(root)), "", None)]
    while stack:
        entries, rel_dir, parent = stack[-1]
        for entry in entries:
            rel = rel_dir + entry.name
            info = None
            if match is not None:
                # The listing's file type (no lstat): only folders need results for their
                # children. Were it wrong (replaced since), their children would be matched
                # without them, the slower way, with the same answers.
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError:
                    is_dir = False
                if is_dir:
                    skip, info = match(rel, parent)
                else:
                    skip = matcher.excluded(rel, parent)
                if skip:
                    if is_dir and not prune and matcher.may_reinclude_below(rel):
                        stack.append((_listing(entry.path), rel + "/", info))
                        break
                    continue  # left out whatever it is (or whether it still exists)
            if lazy_files and entry.is_file(follow_symlinks=False):
                yield rel, entry.path, None
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # listed a moment ago: deleted while being sent
                raise changed_while_sent(rel, "it was deleted") from None
            yield rel, entry.path, st
            if stat.S_ISDIR(st.st_mode):
                stack.append((_listing(entry.path), rel + "/", info))
                break
        else:
            stack.pop()


_name = operator.attrgetter("name")


def _listing(path: str) -> Iterator[os.DirEntry]:
    """A folder's entries sorted by name, as an iterator the walk can leave and come back to."""
    try:
        with os.scandir(path) as entries:
            return iter(sorted(entries, key=_name))
    except PermissionError:
        raise BadArgument(
            f"Cannot read the folder {path} (permission denied)",
            "Fix its permissions, or exclude it in .dockerignore",
        ) from None
    except OSError as exc:  # removed or replaced since its parent was listed
        raise changed_while_sent(f"The folder {path}", exc.strerror or str(exc)) from None
