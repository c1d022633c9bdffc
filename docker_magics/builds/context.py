"""The classic builder's context: a :class:`plan.Plan` as a stream of tar bytes (a cell's
Dockerfile and ``--add`` files, or a folder honouring its ``.dockerignore``).

Files in, bytes out. Nothing is held whole in memory: file contents are read in chunks and
handed out in pieces of about ``CHUNK`` bytes, so a 1 GB context costs about one chunk of
RAM. A folder's walk and ``.dockerignore`` are always ours; where GNU tar is installed and a
core is free for it, it copies the members the walk chose (``gnutar`` says when that pays),
otherwise ``TarWriter`` does. Either way the engine unpacks the same files
with the same modes, times, owners and links (tested, and its cache agrees).

Like the docker CLI: entries are owned by 0:0 with no user/group names (so the classic
builder's cache keys do not depend on who packed them), directories are walked in lexical
order, sockets are skipped, hard links are kept as links, and a Dockerfile that does not
come from the directory gets a hidden name listed in the ``.dockerignore`` sent along, so the
engine drops it (and the ``.dockerignore``) from what ``COPY .`` sees (``plan`` says which).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from docker_magics.builds import gnutar
from docker_magics.builds import plan as planning
from docker_magics.builds.plan import HIDDEN_DOCKERFILE, AddSpec, Plan  # noqa: F401 (theirs)
from docker_magics.builds.tar import TarWriter
from docker_magics.builds.walk import ContextChanged, DataRoot, changed_while_sent, walk

if TYPE_CHECKING:
    from docker_magics.builds.buildkit.localsource import Sources


@dataclass
class BuildContext:
    """A context ready to send: ``chunks()`` produces the tar stream, once."""

    dockerfile: str  # the Dockerfile's path inside the context
    description: str
    _writer: TarWriter | None = field(repr=False, default=None)
    size: int = 0  # bytes produced so far
    # Called before each chunk goes out (False) and once after the last one (True).
    watch: Callable[[BuildContext, bool], None] | None = field(repr=False, default=None)
    # The same files for BuildKit's file sync, set by builder.py.
    local: Sources | None = field(repr=False, default=None)
    plan: Plan | None = field(repr=False, default=None)  # what it sends
    guard: DataRoot | None = field(repr=False, default=None)  # what it must never send
    _source: Generator[bytes, None, None] = field(repr=False, init=False)  # set by pack()

    def avoid(self, guard: DataRoot | None) -> None:
        """Refuse now what holds ``guard`` (the engine's data root, if it is on this
        machine), and stop the walk should it meet it by another path (a bind mount): the
        engine writes what it receives in there, so such a context grows without end."""
        if guard is None or self.plan is None:
            return
        self.plan.check_data_root(guard)
        self.guard = guard
        if self.local is not None:
            self.local.avoid(guard)

    @property
    def files(self) -> int:
        """Entries packed so far."""
        return self._writer.count if self._writer is not None else 0

    @property
    def regular_files(self) -> int:
        """Regular files packed so far."""
        return self._writer.regular if self._writer is not None else 0

    def chunks(self) -> Generator[bytes, None, None]:
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


def pack(plan: Plan) -> BuildContext:
    """The tar stream of ``plan``: what it puts ahead (a Dockerfile from elsewhere and its
    .dockerignore), the ``--add`` files, then the folder's walk, the last (GNU tar's archive,
    if it packs them, ends the stream)."""
    tar = TarWriter()
    ahead = {name for name, _, _ in plan.classic_ahead()}

    def stream(built: BuildContext) -> Generator[bytes, None, None]:
        guard = built.guard  # set (or not) by the time the stream starts
        for name, data, mode in plan.classic_ahead():
            yield from tar.add_bytes(name, data, mode)
        for add in plan.adds:
            yield from tar.add_tree(add.dest, str(add.src), guard)
        if plan.root is None:
            yield from tar.close()
            return
        entries = walk(plan.root, plan.classic_matcher(), lazy_files=True, guard=guard)
        if ahead:  # sent above, the hidden Dockerfile listed: not twice
            entries = (e for e in entries if e[0] not in ahead)
        yield from _pack_walk(gnutar.chosen(), plan.root, entries, tar)

    built = BuildContext(plan.classic_name, plan.description, tar, plan=plan)
    built._source = stream(built)
    return built


def from_cell(dockerfile: str, adds: Sequence[AddSpec] = ()) -> BuildContext:
    """A context holding the cell's Dockerfile and the ``--add`` files."""
    return pack(planning.make(dockerfile.encode(), adds=adds))


def from_directory(
    directory: str | Path,
    *,
    dockerfile_text: str | None = None,
    dockerfile_path: str | None = None,
    adds: Sequence[AddSpec] = (),
) -> BuildContext:
    """A directory context, walked lazily. The Dockerfile is either text (the cell) sent
    under a hidden name, or ``dockerfile_path`` (inside or outside the directory)."""
    text = None if dockerfile_path is not None else (dockerfile_text or "").encode()
    return pack(planning.make(text, file=dockerfile_path, folder=directory, adds=adds))


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
