"""Build contexts as streams of tar bytes: a cell's Dockerfile (plus ``--add`` files) or a
directory honouring its ``.dockerignore``.

Files in, bytes out. Nothing is held whole in memory: file contents are read in chunks and
handed out in pieces of about ``CHUNK`` bytes, so a 1 GB context costs about one chunk of
RAM. A folder's walk and ``.dockerignore`` are always ours; where GNU tar is installed it
copies the members the walk chose (``gnutar``: the interpreter's cost per file was most of
packing time), otherwise ``TarWriter`` does. Either way the engine unpacks the same files
with the same modes, times, owners and links (tested, and its cache agrees).

Like the docker CLI: entries are owned by 0:0 with no user/group names (so the classic
builder's cache keys do not depend on who packed them), directories are walked in lexical
order, sockets are skipped, hard links are kept as links, and a Dockerfile that does not
come from the directory gets a hidden name listed in the ``.dockerignore`` sent along, so the
engine drops it (and the ``.dockerignore``) from what ``COPY .`` sees. Unlike the CLI's random
name, ours is always the same, so an unchanged re-run sends the same ``.dockerignore`` and
``COPY .`` stays cached.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from docker_magics.builds import gnutar
from docker_magics.builds.dockerignore import IgnoreMatcher, go_clean, read_patterns
from docker_magics.builds.tar import TarWriter
from docker_magics.builds.walk import ContextChanged, changed_while_sent, walk
from docker_magics.errors import BadArgument, option, usage

CELL_DOCKERFILE = "Dockerfile"  # the cell's Dockerfile in a context of its own
HIDDEN_DOCKERFILE = ".dockerfile.docker_magics"  # the cell's Dockerfile beside a folder


@dataclass(frozen=True)
class AddSpec:
    """``--add SRC[:DEST]``: a local file or folder placed at DEST in the context."""

    src: Path
    dest: str
    text: str = field(default="", compare=False)  # as given, for messages

    @classmethod
    def parse(cls, value: str) -> AddSpec:
        src, dest = value, ""
        if not os.path.exists(os.path.expanduser(value)) and ":" in value:
            src, _, dest = value.rpartition(":")
        path = Path(os.path.expanduser(src))
        if not path.exists():
            raise BadArgument(f"{usage('--add', value)}: {src} does not exist", "Check the path")
        dest = go_clean(dest or path.resolve().name).lstrip("/")
        if dest in ("", ".") or dest == ".." or dest.startswith("../"):
            raise BadArgument(
                f"{usage('--add', value)}: {dest!r} is not a place inside the context",
                "Give a relative DEST such as data/ or src/app.py",
            )
        return cls(path, dest, value)


def check_adds(
    adds: list[AddSpec],
    taken: dict[str, str],
    folder: Path | None = None,
    matcher: IgnoreMatcher | None = None,
) -> None:
    """Refuse ``--add`` DESTs that would put two entries at one path in the tar (the engine
    would silently keep the last one): the same DEST twice, a DEST inside another ``--add``,
    one of the names in ``taken`` (what we generate), or a path the ``--context`` folder
    sends."""

    def clash(add: AddSpec, what: str, hint: str = ""):
        hint = hint or f"Give each {option('--add')} a DEST of its own"
        raise BadArgument(f"{usage('--add', add.text or add.dest)}: {add.dest} {what}", hint)

    for i, add in enumerate(adds):
        for name, what in taken.items():
            if add.dest != name and not add.dest.startswith(name + "/"):
                continue
            if name == ".dockerignore":
                clash(
                    add,
                    f"cannot come from {option('--add')}: the build makes its own .dockerignore",
                    f"To leave files out, send a folder with {usage('--context', 'DIR')} and "
                    "write DIR/.dockerignore",
                )
            clash(add, f"is {what}", "Give another DEST")
        for other in adds[:i]:
            source = f"(from {usage('--add', other.text or other.dest)})"
            if add.dest == other.dest:
                clash(add, f"is already in the context {source}")
            for outer, inner in ((other, add), (add, other)):
                if inner.dest.startswith(outer.dest + "/"):
                    rel = inner.dest[len(outer.dest) + 1 :]
                    if _occupied(outer.src, rel) is not None:
                        clash(add, f"overlaps {other.dest} {source}")
        if folder is not None:
            path = _occupied(folder, add.dest, matcher)
            if path is not None:
                clash(
                    add,
                    f"is already in the {option('--context')} folder ({path})",
                    f"Give the {option('--add')} another DEST, or leave that path out with the "
                    "folder's .dockerignore",
                )


def _occupied(root: Path, rel: str, matcher: IgnoreMatcher | None = None) -> Path | None:
    """What in ``root`` (a folder or a file) the tar would already have at ``rel``, or in
    its way (a file or link where ``rel`` needs a folder); None if nothing."""
    if not root.is_dir() or stat.S_ISLNK(os.lstat(root).st_mode):
        return root  # a file (or link) cannot have anything below it
    parts = rel.split("/")
    for n in range(1, len(parts) + 1):
        prefix = "/".join(parts[:n])
        path = root / prefix
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            return None
        sent = not (matcher and matcher.excludes(prefix))
        if sent and (n == len(parts) or not stat.S_ISDIR(mode)):
            return path
    return None


@dataclass
class BuildContext:
    """A context ready to send: ``chunks()`` produces the tar stream, once."""

    dockerfile: str  # the Dockerfile's path inside the context
    description: str
    _source: Iterator[bytes] = field(repr=False, default=None)
    _writer: TarWriter | None = field(repr=False, default=None)
    size: int = 0  # bytes produced so far
    # Called before each chunk goes out (False) and once after the last one (True).
    watch: Callable[[BuildContext, bool], None] | None = field(repr=False, default=None)
    # The same files for BuildKit's file sync (a localsource.Sources), set by builder.py.
    local: object = field(repr=False, default=None)

    @property
    def files(self) -> int:
        """Entries packed so far."""
        return self._writer.count if self._writer is not None else 0

    @property
    def regular_files(self) -> int:
        """Regular files packed so far."""
        return self._writer.regular if self._writer is not None else 0

    def chunks(self) -> Iterator[bytes]:
        try:
            for chunk in self._source:
                self.size += len(chunk)
                if self.watch is not None:
                    self.watch(self, False)
                yield chunk
        finally:  # stopped early too: what it reads (a file, GNU tar) is let go now
            self._source.close()
        if self.watch is not None:
            self.watch(self, True)


def _dockerignore_for(name: str, original: bytes = b"") -> bytes:
    # As the CLI does for a Dockerfile from stdin: list it so the engine drops it.
    base = original if original else b".dockerignore"
    return base + f"\n{name}\n".encode()


def from_cell(dockerfile: str, adds: list[AddSpec] = ()) -> BuildContext:
    """A context holding the cell's Dockerfile and the ``--add`` files."""
    name = CELL_DOCKERFILE
    check_adds(list(adds), {name: "where the Dockerfile being built goes", ".dockerignore": ""})

    tar = TarWriter()

    def stream() -> Iterator[bytes]:
        yield from tar.add_bytes(name, dockerfile.encode())
        yield from tar.add_bytes(".dockerignore", _dockerignore_for(name))
        for add in adds:
            yield from tar.add_tree(add.dest, str(add.src))
        yield from tar.close()

    what = "the Dockerfile" + (f" and {', '.join(a.dest for a in adds)}" if adds else "")
    return BuildContext(name, what, stream(), tar)


def from_directory(
    directory: str | Path,
    *,
    dockerfile_text: str | None = None,
    dockerfile_path: str | None = None,
    adds: list[AddSpec] = (),
) -> BuildContext:
    """A directory context, walked lazily. The Dockerfile is either text (the cell) sent
    under a hidden name, or ``dockerfile_path`` (inside or outside the directory)."""
    root = Path(os.path.expanduser(str(directory))).absolute()
    if not root.is_dir():
        what = "does not exist" if not root.exists() else "is not a directory"
        raise BadArgument(f"{usage('--context', str(directory))}: {root} {what}", "Give a folder")
    ignore_file = root / ".dockerignore"
    try:
        ignore_bytes = ignore_file.read_bytes() if ignore_file.is_file() else b""
    except OSError as exc:
        raise BadArgument(f"Cannot read {ignore_file}: {exc.strerror}") from None
    patterns = read_patterns(ignore_bytes.decode("utf-8", "replace"))

    extra: tuple[str, bytes] | None = None
    if dockerfile_path is not None:
        path = Path(os.path.expanduser(dockerfile_path))
        try:
            inside = path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            inside = None
        if inside is not None:
            name = inside
            # The CLI always sends the Dockerfile and .dockerignore, whatever they say.
            patterns += ["!.dockerignore", "!" + name]
        else:
            name = HIDDEN_DOCKERFILE
            try:
                extra = (name, path.read_bytes())
            except OSError as exc:
                raise BadArgument(
                    f"{usage('--file', str(dockerfile_path))}: cannot read it ({exc.strerror})"
                ) from None
    else:
        name = HIDDEN_DOCKERFILE
        extra = (name, (dockerfile_text or "").encode())
        patterns += ["!.dockerignore"]
    matcher = IgnoreMatcher(patterns)
    taken = {name: "where the Dockerfile being built goes", ".dockerignore": ""}
    check_adds(list(adds), taken, root, matcher)

    tar = TarWriter()

    def stream() -> Iterator[bytes]:
        if extra is not None:
            yield from tar.add_bytes(extra[0], extra[1], 0o600)
            yield from tar.add_bytes(".dockerignore", _dockerignore_for(extra[0], ignore_bytes))
        entries = walk(root, matcher, lazy_files=True)
        if extra is not None:  # sent above, with the hidden Dockerfile listed
            entries = (e for e in entries if e[0] not in (".dockerignore", extra[0]))
        # The folder's entries last: GNU tar's archive, if it packs them, ends the stream.
        for add in adds:
            yield from tar.add_tree(add.dest, str(add.src))
        yield from _pack_walk(gnutar.available(), root, entries, tar)

    return BuildContext(name, f"the folder {root}", stream(), tar)


def _pack_walk(
    copier: str | None,
    root: Path,
    entries: Iterator[tuple[str, str, os.stat_result | None]],
    tar: TarWriter,
) -> Iterator[bytes]:
    """The walk's entries and the archive's end, after what ``tar`` has already: copied by
    GNU tar at ``copier``, or by ``tar`` itself when there is none or it cannot start."""
    if copier is not None:
        yield from tar.flush()
        try:
            yield from _by_gnu_tar(copier, root, entries, tar)
            return
        except gnutar.TarUnavailable:  # nothing of the walk taken yet: pack it here
            pass
    yield from tar.add_walk(entries)
    yield from tar.close()


def _by_gnu_tar(
    copier: str,
    root: Path,
    entries: Iterator[tuple[str, str, os.stat_result | None]],
    tar: TarWriter,
) -> Iterator[bytes]:
    def names() -> Iterator[str]:
        for rel, _, st in entries:
            if st is not None and stat.S_ISSOCK(st.st_mode):
                continue  # tar would skip it too, as the CLI does
            tar.count += 1
            tar.regular += st is None or stat.S_ISREG(st.st_mode)  # None: a file by its listing
            yield rel

    try:
        yield from gnutar.stream(copier, str(root), names())
    except gnutar.TarFailed as exc:
        if exc.name is None:
            raise ContextChanged(
                f"GNU tar failed packing the build context: {exc.reason}",
                "Set DOCKER_MAGICS_PACKER=python to pack it without tar",
            ) from None
        if "No such file" in exc.reason or "removed" in exc.reason:
            raise changed_while_sent(exc.name, "it was deleted") from None
        if "shrank" in exc.reason:
            raise changed_while_sent(exc.name, "it shrank") from None
        raise ContextChanged(
            f"Cannot read {root / exc.name} for the build context: {exc.reason}",
            "Fix its permissions, or exclude it in .dockerignore",
        ) from None
