"""What a build sends, decided once for both ways of sending it: the classic builder's tar
stream (:mod:`context`, packed by :mod:`tar` or :mod:`gnutar`) and BuildKit's file sync
(:mod:`buildkit.localsource`, served by :mod:`buildkit.filesync`).

A :class:`Plan` holds the Dockerfile (its bytes and the names each builder knows it by), the
context folder (or none: a cell's context is its Dockerfile and the ``--add`` files), the
``--add`` layers, the ignore patterns in effect for each builder, and the names the build
makes up. :func:`make` reads and checks what can be checked before anything is sent.

Each builder gets what its own client would send (measured with a real engine, the docker
CLI 20.10 with and without BuildKit, and buildx 0.13; see docs/build-context.md):

- classic (the docker CLI's tar): the folder's ``.dockerignore``, walked by the CLI's rules
  (:func:`walk.walk`). ``.dockerignore`` and the Dockerfile always go in the tar, and the
  engine removes them once read if the patterns exclude them; a Dockerfile that is not in
  the folder goes under a hidden name, listed in the ``.dockerignore`` sent along.
- BuildKit (its client, fsutil): ``NAME.dockerignore`` beside the Dockerfile given with
  ``--file`` (BuildKit's per-Dockerfile ignore file), or else the folder's ``.dockerignore``,
  walked by fsutil's rules (:func:`walk.fsutil_walk`), which look into an excluded folder when
  an exception has wildcards (``*`` then ``!**/*.py`` sends ``sub/a.py``; the CLI's walk
  does not). Nothing is forced in, nothing removed afterwards.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from docker_magics.builds.dockerignore import IgnoreMatcher, go_clean, read_patterns
from docker_magics.builds.walk import DataRoot
from docker_magics.errors import BadArgument, how, option, usage

if TYPE_CHECKING:  # pragma: no cover
    from docker_magics.engine.session import Connection

CELL_DOCKERFILE = "Dockerfile"  # the cell's Dockerfile in a context of its own
HIDDEN_DOCKERFILE = ".dockerfile.docker_magics"  # the cell's Dockerfile beside a folder
DOCKERIGNORE = ".dockerignore"


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


@dataclass(frozen=True)
class Plan:
    """What one build sends. Pure data once made: the packers read the files it names."""

    dockerfile: bytes  # the Dockerfile's bytes (the cell's text, or the --file)
    file: Path | None = None  # the --file, if the Dockerfile came from one
    root: Path | None = None  # the context folder (absolute); None: no folder
    adds: tuple[AddSpec, ...] = ()
    ignore: bytes = b""  # the folder's .dockerignore as read (b"": none)
    inside: str | None = None  # where the --file is inside the folder, if it is
    own_ignore: bytes | None = None  # NAME.dockerignore beside the --file (BuildKit reads it)

    @property
    def patterns(self) -> list[str]:
        """The folder's .dockerignore patterns (what the classic builder applies)."""
        return read_patterns(_text(self.ignore))

    @property
    def description(self) -> str:
        if self.root is not None:
            return f"the folder {self.root}"
        added = ", ".join(add.dest for add in self.adds)
        return "the Dockerfile" + (f" and {added}" if added else "")

    # -- the classic builder: one tar -------------------------------------------------------

    @property
    def classic_name(self) -> str:
        """The Dockerfile's path in the tar (the build's ``dockerfile`` parameter)."""
        if self.root is None:
            return CELL_DOCKERFILE
        return self.inside if self.inside is not None else HIDDEN_DOCKERFILE

    def classic_ahead(self) -> list[tuple[str, bytes, int]]:
        """``(name, bytes, mode)`` of what the tar holds before the ``--add`` files and the
        folder: a Dockerfile that is not in the folder, and the .dockerignore that lists it
        (as the CLI does for a Dockerfile from stdin: the engine drops both once read).
        Unlike the CLI's random name, ours is always the same, so an unchanged re-run sends
        the same .dockerignore and ``COPY .`` stays cached."""
        name = self.classic_name
        if self.root is None:
            return [(name, self.dockerfile, 0o644), (DOCKERIGNORE, _listing(b"", name), 0o644)]
        if self.inside is not None:
            return []  # the folder has both, walked like the rest
        return [(name, self.dockerfile, 0o600), (DOCKERIGNORE, _listing(self.ignore, name), 0o644)]

    def classic_matcher(self) -> IgnoreMatcher:
        """The folder's patterns, with what the CLI always sends (``.dockerignore``, the
        Dockerfile) put back in."""
        forced = ["!" + DOCKERIGNORE] + (["!" + self.inside] if self.inside else [])
        return IgnoreMatcher(self.patterns + forced)

    def check_data_root(self, guard: DataRoot) -> None:
        """Refuse a folder (``--context`` or ``--add``) that holds the engine's data root."""
        real = os.path.realpath(guard.path)
        if self.root is not None and _holds(self.root, real):
            raise guard.refusal(
                f"{usage('--context', str(self.root))} holds the engine's own data ({guard.path})"
            )
        check_adds_data_root(self.adds, guard)

    # -- BuildKit: two local sources ---------------------------------------------------------

    @property
    def buildkit_name(self) -> str:
        """The Dockerfile's name in BuildKit's ``dockerfile`` source (the --file's own name,
        as the CLI serves the folder it is in)."""
        return self.file.name if self.file is not None else CELL_DOCKERFILE

    @property
    def buildkit_patterns(self) -> list[str]:
        """The patterns BuildKit applies to the folder: those of NAME.dockerignore beside the
        --file if there is one (BuildKit's frontend reads it first), else .dockerignore's."""
        if self.own_ignore is not None:
            return read_patterns(_text(self.own_ignore))
        return self.patterns

    def buildkit_dockerfile_files(self) -> list[tuple[str, bytes]]:
        """What the ``dockerfile`` source holds: the Dockerfile, and its own ignore file."""
        files = [(self.buildkit_name, self.dockerfile)]
        if self.own_ignore is not None:
            files.append((self.buildkit_name + DOCKERIGNORE, self.own_ignore))
        return files


def make(
    dockerfile: bytes | None = None,
    *,
    file: str | Path | None = None,
    folder: str | Path | None = None,
    adds: Iterable[AddSpec] = (),
) -> Plan:
    """The plan of a build of ``dockerfile`` (bytes; read from ``file`` when None), from the
    context ``folder`` (None: a context of its own) with the ``adds``. Raises BadArgument
    for what cannot be sent: a missing folder, an unreadable .dockerignore or --file,
    ``--add`` destinations that collide."""
    path = Path(os.path.expanduser(str(file))) if file is not None else None
    if dockerfile is None:
        if path is None:
            raise ValueError("a Dockerfile, or the file to read it from")
        dockerfile = _read(
            path, lambda why: f"{usage('--file', str(path))}: cannot read it ({why})"
        )
    adds = tuple(adds)
    if folder is None:
        plan = Plan(dockerfile, path, adds=adds)
        check_adds(list(adds), _taken(plan))
        return plan
    root = Path(os.path.expanduser(str(folder))).absolute()
    if not root.is_dir():
        what = "does not exist" if not root.exists() else "is not a directory"
        raise BadArgument(f"{usage('--context', str(folder))}: {root} {what}", "Give a folder")
    ignore_file = root / DOCKERIGNORE
    ignore = b""
    if ignore_file.is_file():
        ignore = _read(ignore_file, lambda why: f"Cannot read {ignore_file}: {why}")
    inside = own = None
    if path is not None:
        try:
            inside = path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            inside = None
        own_file = path.parent / (path.name + DOCKERIGNORE)
        if own_file.is_file():
            own = _read(own_file, lambda why: f"Cannot read {own_file}: {why}")
    plan = Plan(dockerfile, path, root, adds, ignore, inside, own)
    sent = [plan.classic_matcher()]
    if own is not None:
        sent.append(IgnoreMatcher(plan.buildkit_patterns))
    check_adds(list(adds), _taken(plan), root, sent)
    return plan


def _taken(plan: Plan) -> dict[str, str]:
    return {plan.classic_name: "where the Dockerfile being built goes", DOCKERIGNORE: ""}


def _read(path: Path, failed: Callable[[str], str]) -> bytes:
    """The file's bytes, or BadArgument(``failed(why)``)."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BadArgument(failed(exc.strerror or str(exc))) from None


def engine_data_root(conn: Connection) -> DataRoot | None:
    """The engine's data root, when the engine runs on this machine (its socket, or a
    loopback address) and that folder is here; None otherwise."""
    host = conn.endpoint.host or ""
    if conn.endpoint.scheme == "unix" or host in ("localhost", "::1") or host.startswith("127."):
        return DataRoot.of(conn.data_root)
    return None


def check_adds_data_root(adds: Iterable[AddSpec], guard: DataRoot) -> None:
    """Refuse an ``--add`` folder (of a build or a run) that holds the engine's data root:
    what the engine writes in there (the build's context, the run's container) as it
    receives it would be sent too, without end."""
    real = os.path.realpath(guard.path)
    for add in adds:
        if _holds(add.src, real, follow=False):
            what = usage("--add", str(add.text or add.src))
            raise guard.refusal(f"{what} holds the engine's own data ({guard.path})")


def _holds(folder: Path, real: str, *, follow: bool = True) -> bool:
    """Whether ``folder`` holds the path ``real`` (a link to a folder counts when it is
    ``follow``ed: ``--context`` is, an ``--add`` goes as the link itself)."""
    if not folder.is_dir() or (not follow and folder.is_symlink()):
        return False
    mine = os.path.realpath(folder)
    return os.path.commonpath([mine, real]) == mine


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def as_text(data: bytes) -> str:
    """A Dockerfile's bytes as text, as ``Path.read_text`` reads them (UTF-8, undecodable
    bytes replaced, universal newlines)."""
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace").read()


def _listing(original: bytes, name: str) -> bytes:
    """A .dockerignore that also lists ``name`` (and itself, when there was none)."""
    base = original if original else DOCKERIGNORE.encode()
    return base + f"\n{name}\n".encode()


# -- --add destinations ----------------------------------------------------------------------


def check_adds(
    adds: list[AddSpec],
    taken: dict[str, str],
    folder: Path | None = None,
    matchers: Sequence[IgnoreMatcher] = (),
) -> None:
    """Refuse ``--add`` DESTs that would put two entries at one path in the tar (the engine
    would silently keep the last one): the same DEST twice, a DEST inside another ``--add``,
    one of the names in ``taken`` (what we generate), or a path the ``--context`` folder
    sends (by any of the ``matchers``: the builders' patterns)."""

    def clash(add: AddSpec, what: str, hint: str = ""):
        hint = hint or how("Give each --add a DEST of its own", "Give each add item a DEST")
        raise BadArgument(f"{usage('--add', add.text or add.dest)}: {add.dest} {what}", hint)

    for i, add in enumerate(adds):
        for name, what in taken.items():
            if add.dest != name and not add.dest.startswith(name + "/"):
                continue
            if name == DOCKERIGNORE:
                clash(
                    add,
                    f"cannot come from {option('--add')}: the build makes its own .dockerignore",
                    f"To leave files out, send a folder with {usage('--context', 'DIR')} and write "
                    "DIR/.dockerignore",
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
            each: list[IgnoreMatcher | None] = [*matchers] or [None]  # None: no patterns
            for matcher in each:
                path = _occupied(folder, add.dest, matcher)
                if path is not None:
                    clash(
                        add,
                        f"is already in the {option('--context')} folder ({path})",
                        how("Give the --add", "Give that add item") + " another DEST, or leave "
                        "that path out with the "
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
