"""The files a BuildKit build may ask for over its session: a build plan's (:mod:`plan`)
``context`` and ``dockerfile`` "local sources", as BuildKit's own client serves them.

The context is the folder as fsutil walks it (:func:`walk.fsutil_walk`) with the patterns
BuildKit applies (``plan.buildkit_patterns``: a per-Dockerfile ignore file, or the folder's
.dockerignore), then the ``--add`` files on top (never filtered by those). Entries come in
fsutil's walk order (depth first, names sorted as bytes, every parent before its children),
filtered as fsutil filters them for what the engine asks (``include-patterns``,
``followpaths``): folders the engine does not ask for are not read. Pure: files in, entries
out, lazily (a folder is walked as it is sent).
"""

from __future__ import annotations

import os
import re
import stat as st_
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from docker_magics.builds import plan as planning
from docker_magics.builds.dockerignore import IgnoreMatcher, go_clean
from docker_magics.builds.plan import AddSpec, Plan
from docker_magics.builds.walk import ContextChanged, DataRoot, fsutil_walk
from docker_magics.errors import BadArgument, usage


@dataclass(slots=True)
class Entry:
    path: str  # inside the source, "/"-separated
    st: os.stat_result | None = None  # lstat of `source`; None: a made-up directory, or data
    source: str | None = None  # the file on disk
    data: bytes | None = None  # a file's content given in memory (the cell's Dockerfile)

    @property
    def is_dir(self) -> bool:
        return self.data is None and (self.st is None or st_.S_ISDIR(self.st.st_mode))


def _key(path: str) -> bytes:
    # fsutil's order (``ComparePath``): bytes, with "/" before any other byte.
    return os.fsencode(path).replace(b"/", b"\0")


def _sorted_names(path: str) -> list[str]:
    return sorted(os.listdir(path), key=os.fsencode)


def _tree(path: str, source: str, guard: DataRoot | None) -> Iterator[Entry]:
    """A file or folder from disk at ``path``, as ``--add`` packs it (no .dockerignore),
    never reaching into ``guard`` (the engine's data root)."""
    try:
        st = os.lstat(source)
        is_dir = st_.S_ISDIR(st.st_mode)
        if is_dir and guard is not None:
            guard.check(st, source)
        names = _sorted_names(source) if is_dir else []
    except OSError as exc:
        raise ContextChanged(
            f"Cannot read {source} ({exc.strerror or exc})",
            "Check that it still exists and is readable",
        ) from None
    yield Entry(path, st, source)
    for name in names:
        yield from _tree(f"{path}/{name}", os.path.join(source, name), guard)


def _add_layer(add: AddSpec, guard: DataRoot | None = None) -> Iterator[Entry]:
    parts = add.dest.split("/")
    for n in range(1, len(parts)):  # its parents first: they win over a file of that name
        yield Entry("/".join(parts[:n]))
    yield from _tree(add.dest, str(add.src), guard)


def _merge(layers: list[Iterable[Entry]]) -> Iterator[Entry]:
    """Layers (each in walk order) as the classic builder's tar extraction stacks them: a
    later layer's entry replaces an earlier one's, except that two directories merge (and
    a made-up parent directory keeps the real one's metadata); a file replacing a directory
    hides everything below it."""
    its = [iter(layer) for layer in layers]
    heads = [next(it, None) for it in its]
    keys = [_key(h.path) if h else None for h in heads]
    last: list[bytes | None] = [None] * len(its)
    shadows: list[tuple[bytes, int]] = []  # (key prefix, below which layer entries are hidden)
    while True:
        live = [k for k in keys if k is not None]
        if not live:
            return
        best = min(live)
        found: list[tuple[int, Entry]] = []
        for i, k in enumerate(keys):
            head, previous = heads[i], last[i]
            if k == best and head is not None:  # (a layer has a key while it has a head)
                found.append((i, head))
                if previous is not None and best <= previous:
                    raise BadArgument(  # e.g. names that are not UTF-8, sorted as text
                        f"Cannot send {head.path!r} to BuildKit in order",
                        "Rename it (file names that are not UTF-8), or use "
                        + usage("--builder", "classic"),
                    )
                last[i] = best
                head = heads[i] = next(its[i], None)
                keys[i] = _key(head.path) if head else None
        while shadows and not best.startswith(shadows[-1][0]):
            shadows.pop()
        floor = shadows[-1][1] if shadows else -1
        found = [(i, item) for i, item in found if i > floor]
        if not found:
            continue
        layer, top = found[-1]
        if top.st is None and top.data is None:  # made up: a real directory's metadata wins
            top = next((e for _, e in reversed(found) if e.st is not None and e.is_dir), top)
        # What is below this path in earlier layers is gone if a non-directory replaced it
        # (this one, or one between).
        hide = layer if not top.is_dir else max((i for i, e in found if not e.is_dir), default=-1)
        if hide > floor:
            shadows.append((best + b"\0", hide))
        yield top


def _no_sockets(items: Iterable[Entry]) -> Iterator[Entry]:
    """Sockets are left out, as the CLI leaves them out of its tar."""
    for item in items:
        if item.st is None or not st_.S_ISSOCK(item.st.st_mode):
            yield item


def _with_parents(items: Iterable[Entry]) -> Iterator[Entry]:
    """Every parent directory before its children, as fsutil's receiver requires, should the
    merged layers lack one (each layer has them: this is the merge's safety net): made up
    with mode 0755, as the classic builder makes a missing folder when unpacking."""
    open_dirs = [""]
    for item in items:
        parent = item.path.rpartition("/")[0]
        while open_dirs[-1] and not (
            parent == open_dirs[-1] or parent.startswith(open_dirs[-1] + "/")
        ):
            open_dirs.pop()
        if parent != open_dirs[-1]:
            base = open_dirs[-1]
            for part in (parent[len(base) + 1 :] if base else parent).split("/"):
                base = f"{base}/{part}" if base else part
                yield Entry(base)
                open_dirs.append(base)
        yield item
        if item.is_dir:
            open_dirs.append(item.path)


# -- what the engine asks for: include patterns and followpaths (fsutil's WalkOpt) -------------


@lru_cache(maxsize=256)
def _go_pattern(pattern: str) -> re.Pattern | None:
    """Go's ``filepath.Match`` pattern as a regexp; None for a malformed one (no match)."""
    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\":
            if i >= n:
                return None
            out.append(re.escape(pattern[i]))
            i += 1
        elif c == "[":
            negated = i < n and pattern[i] == "^"
            i += negated
            ranges: list[str] = []
            first = True
            while True:
                if i >= n:
                    return None
                if pattern[i] == "]" and not first:
                    i += 1
                    break
                first = False
                bounds = []
                for _ in range(2):
                    if i >= n or pattern[i] in "-]":
                        return None
                    if pattern[i] == "\\":
                        i += 1
                        if i >= n:
                            return None
                    bounds.append(pattern[i])
                    i += 1
                    if i < n and pattern[i] == "-" and len(bounds) == 1:
                        i += 1
                        continue
                    break
                lo, hi = bounds[0], bounds[-1]
                if lo <= hi:
                    ranges.append(f"{re.escape(lo)}-{re.escape(hi)}")
            if ranges:
                out.append(("[^" if negated else "[") + "".join(ranges) + "]")
            else:
                out.append("(?s:.)" if negated else "(?!)")
        else:
            out.append(re.escape(c))
    return re.compile("".join(out), re.S)


def go_match(pattern: str, name: str) -> bool:
    rx = _go_pattern(pattern)
    return rx is not None and rx.fullmatch(name) is not None


def _dedupe(paths: list[str]) -> list[str] | None:
    """fsutil's ``dedupePaths``: None (no filter) if one of them is the root."""
    out: list[str] = []
    last = ""
    for p in paths:
        if p == ".":
            return None
        if p.startswith(last + "/"):
            continue
        out.append(p)
        last = p
    return out


def _included(items: Iterable[Entry], matcher: IgnoreMatcher) -> Iterator[Entry]:
    """fsutil's include filter over entries in walk order (an ``--add`` layer): what the
    patterns match, each after the folders it is in that they did not (as fsutil sends
    them, lazily)."""
    open_dirs: list[list] = []  # [path + "/", match results, the folder if not sent yet]
    for item in items:
        while open_dirs and not item.path.startswith(open_dirs[-1][0]):
            open_dirs.pop()
        parent = open_dirs[-1][1] if open_dirs else None
        matched, info = matcher.match(item.path, parent)
        if matched:
            for folder in open_dirs:
                if folder[2] is not None:
                    yield folder[2]
                    folder[2] = None
            yield item
        if item.is_dir:
            open_dirs.append([item.path + "/", info, None if matched else item])


class _Links:
    """fsutil's ``FollowLinks``: the symlinks on the way to the paths the engine wants are
    resolved into more include patterns (so ``COPY link`` gets the link's target too)."""

    def __init__(self, lookup: Callable[[str], str | None], listdir: Callable[[str], list[str]]):
        self.lookup, self.listdir = lookup, listdir
        self.resolved: set[str] = set()

    def resolve(self, paths: list[str]) -> list[str] | None:
        for p in paths:
            self._append(p)
        return _dedupe(sorted(self.resolved))

    def _append(self, p: str) -> None:
        p = go_clean(p).lstrip("/") or "."
        current = "."
        while True:
            first, _, p = p.partition("/")
            current = go_clean(f"{current}/{first}")
            targets = self._read(current, True)
            if (not p or targets is not None) and current in self.resolved:
                return
            if targets is not None:
                self.resolved.add(current)
                for target in targets:
                    self._append(f"{target}/{p}" if p else target)
                return
            if not p:
                self.resolved.add(current)
                return

    def _read(self, p: str, wildcards: bool) -> list[str] | None:
        parent, _, base = p.rpartition("/")
        if wildcards and re.search(r"(?<!\\)[*?\[]", base):
            out = []
            for name in self.listdir(parent or "."):
                if go_match(base, name):
                    out += self._read(f"{parent}/{name}" if parent else name, False) or []
            return out or None
        real = self.lookup(p)
        if real is None:
            return None
        try:
            link = os.readlink(real)
        except OSError:  # not a symlink, or gone
            return None
        link = go_clean(link)
        return [link] if link.startswith("/") else [go_clean(f"/{parent}/{link}")]


@dataclass
class LocalSource:
    """One local source of a build: what the engine may ask for under one ``dir-name``: a
    folder (walked with ``excludes``, as fsutil walks it), then the ``adds`` on top, or
    ``files`` given in memory (the Dockerfile); never the engine's data root (``guard``)."""

    root: Path | None = None
    excludes: list[str] = field(default_factory=list)
    adds: list[AddSpec] = field(default_factory=list)
    files: list[Entry] = field(default_factory=list)  # in walk order
    lookup: Callable[[str], str | None] = lambda path: None
    listdir: Callable[[str], list[str]] = lambda path: []
    guard: DataRoot | None = None

    def __post_init__(self) -> None:
        self._excludes = IgnoreMatcher(self.excludes) if self.excludes else None

    def items(
        self, includes: list[str] | None = None, followpaths: list[str] | None = None
    ) -> Iterator[Entry]:
        """The entries to send, in fsutil's order, for what the engine asked."""
        patterns = list(includes) if includes else None
        if followpaths:
            targets = _Links(self.lookup, self.listdir).resolve(followpaths)
            if targets is not None:
                patterns = _dedupe((patterns or []) + targets)
        if patterns is not None and not patterns:
            return iter(())
        wanted = IgnoreMatcher(patterns) if patterns else None
        layers: list[Iterable[Entry]] = []
        if self.root is not None:
            walked = fsutil_walk(self.root, self._excludes, wanted, self.guard)
            layers.append(Entry(rel, st, full if st else None) for rel, full, st in walked)
        added = [_add_layer(add, self.guard) for add in self.adds]
        if self.files:
            added.append(iter(self.files))
        layers += [_included(layer, wanted) if wanted else layer for layer in added]
        if len(layers) == 1:
            return _no_sockets(layers[0])
        return _no_sockets(_with_parents(_merge(layers)))


@dataclass
class Sources:
    """What a BuildKit build serves: its ``context`` and the ``dockerfile`` source."""

    dockerfile_name: str
    context: LocalSource
    dockerfile: LocalSource
    origin: str = ""  # where the context comes from (a folder, or the cell)

    @property
    def shared_key(self) -> str:
        """The session's shared key for these files: stable for one folder on one machine
        (the CLI hashes its node id and the folder)."""
        import hashlib
        import socket

        who = f"{socket.gethostname()}:{os.getuid()}:{self.origin}"
        return hashlib.sha256(who.encode()).hexdigest()

    def get(self, name: str) -> LocalSource | None:
        return {"context": self.context, "dockerfile": self.dockerfile}.get(name)

    def avoid(self, guard: DataRoot | None) -> None:
        """Never send ``guard`` (the engine's data root), wherever the walk meets it."""
        self.context.guard = guard


def from_plan(plan: Plan) -> Sources:
    """The local sources of ``plan``: its folder (or nothing) walked with the patterns
    BuildKit applies, the ``--add`` files on top; its Dockerfile (and the Dockerfile's own
    ignore file, which BuildKit's frontend asks for) in a source of their own."""
    root, adds = plan.root, list(plan.adds)

    def lookup(path: str) -> str | None:
        for add in reversed(adds):
            if path == add.dest or path.startswith(add.dest + "/"):
                return str(add.src) + path[len(add.dest) :]
            if add.dest.startswith(path + "/"):
                return None  # a made-up parent folder
        return str(root / path) if root is not None else None

    def listdir(path: str) -> list[str]:
        names: set[str] = set()
        for add in adds:
            if path == add.dest or path.startswith(add.dest + "/"):
                names.update(_listdir(str(add.src) + path[len(add.dest) :]))
            elif path == "." or add.dest.startswith(path + "/"):
                rest = add.dest if path == "." else add.dest[len(path) + 1 :]
                names.add(rest.split("/", 1)[0])
        if root is not None:
            names.update(_listdir(str(root / path)))
        return sorted(names)

    context = LocalSource(root, plan.buildkit_patterns, adds, [], lookup, listdir)
    files = [Entry(name, data=data) for name, data in plan.buildkit_dockerfile_files()]
    dockerfile = LocalSource(files=files)
    origin = f"folder:{root}" if root is not None else "cell"
    return Sources(plan.buildkit_name, context, dockerfile, origin)


def sources(
    dockerfile: bytes,
    *,
    directory: str | Path | None = None,
    dockerfile_path: str | None = None,
    adds: Sequence[AddSpec] = (),
) -> Sources:
    """:func:`from_plan` of the plan of these (:func:`plan.make`)."""
    made = planning.make(dockerfile, file=dockerfile_path, folder=directory, adds=adds)
    return from_plan(made)


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []
