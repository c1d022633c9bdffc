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

import errno
import operator
import os
import stat
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import gnutar
from .dockerignore import IgnoreMatcher, go_clean, read_patterns
from .errors import BadArgument, DockerMagicsError

# Small pieces stay in the CPU's caches from the read to the socket (urllib3 copies each
# into its chunk framing) and fit a pipe's or socket's buffer while the reader drains it:
# on the benchmark's 200 MB context, 64 KiB beat 32 KiB, 128 KiB and 1 MiB (by 5% to 30%).
CHUNK = 1 << 16
_BLOCK = tarfile.BLOCKSIZE
CELL_DOCKERFILE = "Dockerfile"  # the cell's Dockerfile in a context of its own
HIDDEN_DOCKERFILE = ".dockerfile.docker_magics"  # the cell's Dockerfile beside a folder


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
            raise BadArgument(f"--add {value}: {src} does not exist", "Check the path")
        dest = go_clean(dest or path.resolve().name).lstrip("/")
        if dest in ("", ".") or dest == ".." or dest.startswith("../"):
            raise BadArgument(
                f"--add {value}: {dest!r} is not a place inside the context",
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

    def clash(add: AddSpec, what: str, hint: str = "Give each --add a DEST of its own"):
        raise BadArgument(f"--add {add.text or add.dest}: {add.dest} {what}", hint)

    for i, add in enumerate(adds):
        for name, what in taken.items():
            if add.dest != name and not add.dest.startswith(name + "/"):
                continue
            if name == ".dockerignore":
                clash(
                    add,
                    "cannot come from --add: the build makes its own .dockerignore",
                    "To leave files out, send a folder with --context DIR and write "
                    "DIR/.dockerignore",
                )
            clash(add, f"is {what}", "Give another DEST")
        for other in adds[:i]:
            source = f"(from --add {other.text or other.dest})"
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
                    f"is already in the --context folder ({path})",
                    "Give the --add another DEST, or leave that path out with the folder's "
                    ".dockerignore",
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


_NUL = b"\0"
_MAGIC = b"ustar\x0000" + b"\0" * 64  # magic, version, empty uname and gname
_MAGIC_SUM = sum(_MAGIC)
_NO_DEVICE = b"0000000\0" * 2
_END = b"\0" * 12


def _ustar_header(
    name: bytes,
    mode: int,
    size: int,
    mtime: int,
    kind: bytes,
    linkname: bytes = b"",
    devmajor: int = 0,
    devminor: int = 0,
    uid: int = 0,
    gid: int = 0,
) -> bytes | None:
    """A plain ustar header, or None when the entry needs PAX (long or non-ASCII names,
    huge sizes): then tarfile writes it. Packing thousands of small files is dominated by
    headers, and tarfile's are several times slower. The octal fields are formatted in one
    go and the checksum summed over the fields, not over the 512 bytes (padding adds 0)."""
    prefix = b""
    if len(name) > 100:
        cut = name.rfind(b"/", 0, 156)
        if cut <= 0 or len(name) - cut - 1 > 100:
            return None
        prefix, name = name[:cut], name[cut + 1 :]
    if len(linkname) > 100 or size >= 8**11 or max(uid, gid) >= 8**7 or not 0 <= mtime < 8**11:
        return None
    if not (name + prefix + linkname).isascii():
        return None
    # mode, uid, gid, size, mtime, and the checksum's placeholder (8 spaces).
    fields = b"%07o\0%07o\0%07o\0%011o\0%011o\0        " % (mode, uid, gid, size, mtime)
    device = b"%07o\0%07o\0" % (devmajor, devminor) if devmajor or devminor else _NO_DEVICE
    checksum = (
        sum(name) + sum(fields) + kind[0] + sum(linkname) + _MAGIC_SUM + sum(device)
        + sum(prefix)
    )  # fmt: skip
    return b"".join(
        (
            name.ljust(100, _NUL), fields[:-8], b"%06o\0 " % checksum, kind,
            linkname.ljust(100, _NUL), _MAGIC, device, prefix.ljust(155, _NUL), _END,
        )
    )  # fmt: skip


# O_NONBLOCK: what was a file when listed may be a FIFO by now, and must not hang the build.
_OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
_FILE_TAIL = tarfile.REGTYPE + b"\0" * 100 + _MAGIC + _NO_DEVICE + b"\0" * 155 + _END
_FILE_TAIL_SUM = sum(_FILE_TAIL) + 8 * 32  # and the checksum's placeholder: 8 spaces
_S_IFMT, _S_IFREG = 0o170000, stat.S_IFREG
_PADDING = [b"\0" * ((_BLOCK - n) % _BLOCK) for n in range(_BLOCK)]


def _file_header(name: bytes, mode: int, size: int, mtime: int, ids: bytes) -> bytes | None:
    """``_ustar_header`` of a regular file with a short name, in half the time: all but
    the name and three numbers is constant. None when that does not apply."""
    if len(name) > 100 or size >= 8**11 or not 0 <= mtime < 8**11 or not name.isascii():
        return None
    fields = b"%07o\0%b%011o\0%011o\0" % (mode, ids, size, mtime)
    checksum = sum(name) + sum(fields) + _FILE_TAIL_SUM
    return b"%b%b%06o\0 %b" % (name.ljust(100, _NUL), fields, checksum, _FILE_TAIL)


class TarWriter:
    """Builds tar bytes piece by piece and hands out ~CHUNK sized pieces. Entries belong to
    ``owner`` (uid, gid): root for build contexts, the run's user for files put into a
    container."""

    def __init__(self, owner: tuple[int, int] = (0, 0)) -> None:
        self.owner = owner
        self.buf = bytearray()
        self.links: dict[tuple[int, int], str] = {}
        self.count = 0
        self.regular = 0  # of the entries, regular files (hard links to them included)

    def _flush(self, force: bool = False) -> Iterator[bytes]:
        if self.buf and (force or len(self.buf) >= CHUNK):
            out = bytes(self.buf)
            self.buf.clear()
            yield out

    def _header(
        self,
        name: str,
        mode: int,
        size: int = 0,
        mtime: int = 0,
        kind: bytes = tarfile.REGTYPE,
        linkname: str = "",
        devmajor: int = 0,
        devminor: int = 0,
    ) -> None:
        self.count += 1
        fast = _ustar_header(
            name.encode("utf-8", "surrogateescape"), mode, size, mtime, kind,
            linkname.encode("utf-8", "surrogateescape"), devmajor, devminor, *self.owner,
        )  # fmt: skip
        if fast is not None:
            self.buf += fast
            return
        info = tarfile.TarInfo(name)  # only for what ustar cannot say: PAX
        info.mode, info.size, info.mtime, info.type = mode, size, mtime, kind
        info.linkname, info.devmajor, info.devminor = linkname, devmajor, devminor
        info.uid, info.gid = self.owner
        info.uname = info.gname = ""
        self.buf += info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")

    def _pad(self, size: int) -> None:
        if size % _BLOCK:
            self.buf += b"\0" * (_BLOCK - size % _BLOCK)

    def add_bytes(self, name: str, data: bytes, mode: int = 0o644) -> Iterator[bytes]:
        self.regular += 1
        self._header(name, mode, len(data))
        self.buf += data
        self._pad(len(data))
        yield from self._flush()

    def add_path(
        self, arcname: str, path: str, st: os.stat_result, fd: int | None = None
    ) -> Iterator[bytes]:
        """One entry as ``st`` describes it. ``fd``: the regular file (with one link), open
        already; it is closed here."""
        mode, perms = st.st_mode, stat.S_IMODE(st.st_mode)
        mtime = st.st_mtime_ns // 1_000_000_000  # whole seconds, rounded down as Go and tar do
        if stat.S_ISREG(mode):
            key = (st.st_dev, st.st_ino)
            self.regular += 1  # a file to whoever counts, packed as a link or not
            if st.st_nlink > 1 and key in self.links:
                self._header(arcname, perms, 0, mtime, tarfile.LNKTYPE, self.links[key])
                yield from self._flush()
                return
            if st.st_nlink > 1:
                self.links[key] = arcname
            self._header(arcname, perms, st.st_size, mtime)
            yield from self._copy(path, arcname, st.st_size, fd)
            return
        if stat.S_ISDIR(mode):
            self._header(arcname.rstrip("/") + "/", perms, 0, mtime, tarfile.DIRTYPE)
        elif stat.S_ISLNK(mode):
            try:
                target = os.readlink(path)
            except OSError as exc:  # replaced or removed since the walk saw it
                raise changed_while_sent(arcname, exc.strerror or str(exc)) from None
            self._header(arcname, perms, 0, mtime, tarfile.SYMTYPE, target)
        elif stat.S_ISFIFO(mode):
            self._header(arcname, perms, 0, mtime, tarfile.FIFOTYPE)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            kind = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
            major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
            self._header(arcname, perms, 0, mtime, kind, "", major, minor)
        else:  # sockets and the like: the CLI skips them too
            return
        yield from self._flush()

    def _copy(self, path: str, arcname: str, size: int, fd: int | None) -> Iterator[bytes]:
        try:
            if fd is None:
                fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise unreadable(path, arcname, exc) from None
        try:
            remaining = size
            while remaining:
                # Small files join the buffer; big ones go out in CHUNK pieces, uncopied.
                if remaining >= CHUNK:
                    yield from self._flush(force=True)
                data = os.read(fd, min(remaining, CHUNK))
                if not data:
                    raise changed_while_sent(arcname, f"it shrank from {size} bytes")
                remaining -= len(data)
                if len(data) >= CHUNK:
                    yield data
                else:
                    self.buf += data
                    yield from self._flush()
        finally:
            os.close(fd)
        self._pad(size)
        yield from self._flush()

    def add_walk(
        self, entries: Iterator[tuple[str, str, os.stat_result | None]]
    ) -> Iterator[bytes]:
        """``add_path`` for each ``(arcname, path, lstat)``, with the common case inlined:
        a small regular file, one header and one read. Per entry, the calls and generators
        saved are most of the packer's own time (hence the local names too)."""
        buf = self.buf
        ids = b"%07o\0%07o\0" % self.owner if max(self.owner) < 8**7 else None
        open_, read, close, fstat = os.open, os.read, os.close, os.fstat
        for arcname, path, st in entries:
            if st is None:  # a regular file by the listing (walk's lazy_files): open it
                try:
                    fd = open_(path, _OPEN_FILE)
                except OSError as exc:
                    if exc.errno != errno.ELOOP:
                        raise unreadable(path, arcname, exc) from None
                    fd = None  # it became a symbolic link
            else:
                fd = None
            handed = None  # a big file's fd, read (and closed) by add_path: no second open
            try:
                if fd is not None:
                    st = fstat(fd)
                    if stat.S_ISDIR(st.st_mode):  # what is in it would be missed
                        raise changed_while_sent(arcname, "a folder replaced it")
                elif st is None:
                    st = os.lstat(path)
                size, mode = st.st_size, st.st_mode
                header = None
                if size < CHUNK and mode & _S_IFMT == _S_IFREG and st.st_nlink == 1 and ids:
                    header = _file_header(
                        arcname.encode("utf-8", "surrogateescape"), mode & 0o7777, size,
                        st.st_mtime_ns // 1_000_000_000, ids,
                    )  # fmt: skip
                if header is not None:
                    if fd is None:
                        fd = open_(path, _OPEN_FILE)
                    data = read(fd, size)
                elif fd is not None and mode & _S_IFMT == _S_IFREG and st.st_nlink == 1:
                    handed, fd = fd, None
            except OSError as exc:
                raise unreadable(path, arcname, exc) from None
            finally:
                if fd is not None:
                    close(fd)
            if header is None or len(data) != size:
                # Anything else, and a file that shrank (or, rarely, a short read): the
                # general way, which also says what changed.
                yield from self.add_path(arcname, path, st, handed)
                continue
            self.count += 1
            self.regular += 1
            buf += header
            buf += data
            buf += _PADDING[size % _BLOCK]
            if len(buf) >= CHUNK:
                out = bytes(buf)
                buf.clear()
                yield out

    def add_tree(self, arcname: str, root: str) -> Iterator[bytes]:
        """A file or a whole folder (no .dockerignore: explicit ``--add``)."""
        try:
            st = os.lstat(root)
            names = sorted(os.listdir(root)) if stat.S_ISDIR(st.st_mode) else []
        except FileNotFoundError:
            raise changed_while_sent(arcname, "it was deleted") from None
        except OSError as exc:
            raise ContextChanged(
                f"Cannot read {root} ({exc.strerror or exc})",
                "Check that it still exists and is readable",
            ) from None
        yield from self.add_path(arcname, root, st)
        for name in names:
            yield from self.add_tree(f"{arcname}/{name}", os.path.join(root, name))

    def flush(self) -> Iterator[bytes]:
        """What is buffered, without ending the archive (something else goes on with it)."""
        yield from self._flush(force=True)

    def close(self) -> Iterator[bytes]:
        self.buf += b"\0" * (2 * _BLOCK)
        yield from self._flush(force=True)


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
        raise BadArgument(f"--context {directory}: {root} {what}", "Give a folder")
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
                raise BadArgument(f"--file {path}: cannot read it ({exc.strerror})") from None
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


_name = operator.attrgetter("name")
