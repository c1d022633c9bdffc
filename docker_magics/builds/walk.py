"""What a folder context holds: the walk in the docker CLI's order, with its rules for
skipping what ``.dockerignore`` excludes, and the one-line errors for files that change or
cannot be read while the context is sent."""

from __future__ import annotations

import operator
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
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


@dataclass(frozen=True)
class DataRoot:
    """The engine's data root, on this machine: what no context may hold. The engine writes
    what it receives in there, so a walk that reaches it sends the engine's copy of what it
    sent, which grows as it goes, without end."""

    path: str
    dev: int
    ino: int

    @classmethod
    def of(cls, path: str | None) -> DataRoot | None:
        """None when there is no such folder here (the engine is elsewhere)."""
        if not path:
            return None
        try:
            st = os.stat(path)
        except OSError:
            return None
        return cls(path, st.st_dev, st.st_ino)

    def check(self, st: os.stat_result, path: str) -> None:
        """Stop the walk at the data root, whichever path led there (a bind mount)."""
        if st.st_ino == self.ino and st.st_dev == self.dev:
            raise self.refusal(f"{path}, in the context, is the engine's own data ({self.path})")

    def check_entry(self, entry: os.DirEntry) -> None:
        """``check`` of a listed folder the walk has no lstat of yet (gone: not here)."""
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            return
        self.check(st, entry.path)

    def refusal(self, what: str) -> BadArgument:
        return BadArgument(
            f"{what}: the build would send the engine what it writes as it receives it, "
            "without end",
            f"Give a folder that does not contain {self.path}",
        )


def walk(
    root: Path,
    matcher: IgnoreMatcher,
    *,
    lazy_files: bool = False,
    guard: DataRoot | None = None,
) -> Iterator[tuple[str, str, os.stat_result | None]]:
    """``(relative path, full path, lstat)`` of what the context includes, in the CLI's
    order and with its rules for skipping excluded directories.

    One loop over a stack of sorted listings (not a generator per folder: every entry would
    climb the chain of them), and no lstat for what is excluded, only its kind.
    ``lazy_files``: what the listing says is a regular file comes with None for its lstat;
    the caller opens it and asks the open file (one path lookup fewer)."""
    match = matcher.match if matcher else None
    prune = not (matcher and matcher.has_exclusions)  # an excluded folder is skipped whole
    if guard is not None:
        guard.check(os.stat(root), str(root))
    # (a folder's listing, its path with a "/", its match results for its children)
    stack: list[tuple[Iterator[os.DirEntry], str, list[bool] | None]]
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
                        if guard is not None:
                            guard.check_entry(entry)
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
                if guard is not None:
                    guard.check(st, entry.path)
                stack.append((_listing(entry.path), rel + "/", info))
                break
        else:
            stack.pop()


_name = operator.attrgetter("name")


def _name_bytes(entry: os.DirEntry) -> bytes:
    return os.fsencode(entry.name)


def _listing(path: str, quiet: bool = False, key=_name) -> Iterator[os.DirEntry]:
    """A folder's entries sorted by name, as an iterator the walk can leave and come back to.
    ``quiet``: nothing, rather than an error, when it cannot be read or is gone."""
    try:
        with os.scandir(path) as entries:
            return iter(sorted(entries, key=key))
    except OSError as exc:
        if quiet and isinstance(exc, (PermissionError, FileNotFoundError, NotADirectoryError)):
            return iter(())
        if isinstance(exc, PermissionError):
            raise BadArgument(
                f"Cannot read the folder {path} (permission denied)",
                "Fix its permissions, or exclude it in .dockerignore",
            ) from None
        # removed or replaced since its parent was listed
        raise changed_while_sent(f"The folder {path}", exc.strerror or str(exc)) from None


# -- BuildKit's client: fsutil's walk ------------------------------------------------------------

_SENT, _PENDING, _MADE_UP = range(3)  # a folder on the way: sent / include-skipped / excluded
_GLOB = "*[]?^\\"  # what makes a pattern more than a path (fsutil's patternChars on Unix)


def _reach(matcher: IgnoreMatcher | None, exclusion: bool) -> list[str] | None:
    """What fsutil checks before it passes over a folder a pattern set leaves out: the paths
    (plus "/") of its patterns of that kind (exceptions, or include patterns), or None when
    one has wildcards (then every such folder is looked into: ``onlyPrefix...``)."""
    if matcher is None:
        return []
    paths = []
    for p in matcher.patterns:
        if p.exclusion != exclusion:
            continue
        text = p.text.removesuffix("/**")
        text = text.removesuffix("/*")  # fsutil's patternWithoutTrailingGlob
        if any(c in text for c in _GLOB):
            return None
        paths.append(text + "/")
    return paths


def fsutil_walk(
    root: Path | str,
    excludes: IgnoreMatcher | None = None,
    includes: IgnoreMatcher | None = None,
    guard: DataRoot | None = None,
) -> Iterator[tuple[str, str, os.stat_result | None]]:
    """``(relative path, full path, lstat)`` of what BuildKit's client sends of ``root``
    (tonistiigi/fsutil ``filter.go``, ``filterFS.Walk``), in its order: names sorted, each
    folder before what is in it.

    Unlike the CLI's walk: a folder the excludes leave out is looked into when an exception
    could match below it, which is always when an exception has wildcards (``!**/*.py``); a
    folder that is not sent but holds something that is comes just before that: with its
    lstat when the include patterns (what the engine asks for) passed over it, as fsutil
    sends it; with None (a folder made 0755, as the classic builder makes it when unpacking)
    when the excludes did. Folders that no include pattern can reach are not read at all,
    and an unreadable folder that is not sent is passed over, as fsutil does."""
    inc_reach, exc_reach = _reach(includes, False), _reach(excludes, True)
    inc = includes if includes else None
    exc = excludes if excludes else None
    if guard is not None:
        guard.check(os.stat(root), str(root))
    # Per open folder: its listing, its path + "/", the matchers' results for it, and the
    # folder itself as [rel, DirEntry, state] (None for the root and a folder sent). Names
    # in byte order, as Go sorts them (and fsutil's receiver checks): not text order, for
    # names that are not UTF-8.
    stack: list[tuple] = [(_listing(str(root), key=_name_bytes), "", None, None, None)]
    while stack:
        entries, rel_dir, inc_info, exc_info, _ = stack[-1]
        for entry in entries:
            rel = rel_dir + entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            state = None  # left out (for now): _PENDING or _MADE_UP
            if inc is not None:
                if is_dir:
                    hit, here_inc = inc.match(rel, inc_info)
                else:
                    hit, here_inc = inc.excluded(rel, inc_info), None  # (no folder: matched)
                if not hit:
                    if is_dir and inc_reach is not None and not _under(inc_reach, rel):
                        continue  # nothing asked for can be in there: not read
                    state = _PENDING
            else:
                here_inc = None
            if exc is not None:
                if is_dir:
                    hit, here_exc = exc.match(rel, exc_info)
                else:
                    hit, here_exc = exc.excluded(rel, exc_info), None
                if hit:
                    if is_dir and (exc_reach is not None and not _under(exc_reach, rel)):
                        continue
                    state = _MADE_UP
            else:
                here_exc = None
            if state is not None:
                if is_dir:
                    # Not sent, looked into: unreadable, it is passed over (nothing in it is).
                    if guard is not None:
                        guard.check_entry(entry)
                    listing = _listing(entry.path, quiet=True, key=_name_bytes)
                    stack.append((listing, rel + "/", here_inc, here_exc, [rel, entry, state]))
                    break
                continue
            yield from _parents(stack)
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # listed a moment ago: deleted while being sent
                raise changed_while_sent(rel, "it was deleted") from None
            yield rel, entry.path, st
            if is_dir:
                if guard is not None:
                    guard.check(st, entry.path)
                listing = _listing(entry.path, key=_name_bytes)
                stack.append((listing, rel + "/", here_inc, here_exc, None))
                break
        else:
            stack.pop()


def _under(paths: list[str], folder: str) -> bool:
    prefix = folder + "/"
    return any(p.startswith(prefix) for p in paths)


def _parents(stack: list[tuple]) -> Iterator[tuple[str, str, os.stat_result | None]]:
    """The folders on the way that were not sent yet, now that something in them is."""
    for frame in stack:
        record = frame[4]
        if record is None or record[2] == _SENT:
            continue
        rel, entry, state = record
        record[2] = _SENT
        if state == _MADE_UP:
            yield rel, entry.path, None
            continue
        try:
            yield rel, entry.path, entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            raise changed_while_sent(rel, "it was deleted") from None
