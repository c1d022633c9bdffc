"""The tar stream of a build context (and of ``--add`` files for a run), as the docker CLI
writes it: ustar headers (PAX where ustar cannot hold a name, size or time), entries owned by
0:0 with no user or group names, hard links kept, whole-second times; handed out in pieces of
about ``CHUNK`` bytes, so nothing is held whole in memory."""

from __future__ import annotations

import errno
import os
import stat
import tarfile
from collections.abc import Iterator

from docker_magics.builds.walk import ContextChanged, DataRoot, changed_while_sent, unreadable

# Small pieces stay in the CPU's caches from the read to the socket (urllib3 copies each
# into its chunk framing) and fit a pipe's or socket's buffer while the reader drains it:
# on the benchmark's 200 MB context, 64 KiB beat 32 KiB, 128 KiB and 1 MiB (by 5% to 30%).
CHUNK = 1 << 16
_BLOCK = tarfile.BLOCKSIZE
_S_IFMT, _S_IFREG = 0o170000, stat.S_IFREG
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

    def add_tree(self, arcname: str, root: str, guard: DataRoot | None = None) -> Iterator[bytes]:
        """A file or a whole folder (no .dockerignore: explicit ``--add``), never reaching
        into ``guard`` (the engine's data root)."""
        try:
            st = os.lstat(root)
            is_dir = stat.S_ISDIR(st.st_mode)
            if is_dir and guard is not None:
                guard.check(st, root)
            names = sorted(os.listdir(root)) if is_dir else []
        except FileNotFoundError:
            raise changed_while_sent(arcname, "it was deleted") from None
        except OSError as exc:
            raise ContextChanged(
                f"Cannot read {root} ({exc.strerror or exc})",
                "Check that it still exists and is readable",
            ) from None
        yield from self.add_path(arcname, root, st)
        for name in names:
            yield from self.add_tree(f"{arcname}/{name}", os.path.join(root, name), guard)

    def flush(self) -> Iterator[bytes]:
        """What is buffered, without ending the archive (something else goes on with it)."""
        yield from self._flush(force=True)

    def close(self) -> Iterator[bytes]:
        self.buf += b"\0" * (2 * _BLOCK)
        yield from self._flush(force=True)
