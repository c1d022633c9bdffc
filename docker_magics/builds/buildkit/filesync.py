"""BuildKit's file sync: how a BuildKit build gets its context and its Dockerfile, as the docker
CLI and buildx send them. The build is started with ``remote=client-session``; BuildKit then
calls ``/moby.filesync.v1.FileSync/DiffCopy`` on our session, once per "local source"
(``dir-name`` ``dockerfile`` or ``context``, with the ``followpaths`` / ``include-patterns``
it needs), and we answer with tonistiigi/fsutil's protocol:

- a ``STAT`` packet per entry (:mod:`localsource` says which, in what order),
  then an empty ``STAT``;
- for each ``REQ`` packet (its ID is the entry's index in the walk; only regular files are
  asked for, and only those the engine's copy from an earlier build lacks), ``DATA`` packets
  with the file's bytes and an empty ``DATA``;
- ``FIN`` in answer to the engine's ``FIN``.

The Dockerfile goes in its own source, so it never is in the context. The engine's
``exclude-patterns`` (the .dockerignore it read from us) are not needed: the context is
already filtered, and ``--add`` files must not be.

Packets are a few fields of protobuf (fsutil ``types/wire.proto``, ``types/stat.proto``),
written and read with :mod:`wire`, like the rest of the session, rather than a generated
protobuf module. Pure (files in, packets out); the HTTP/2 side is :mod:`session`.
"""

from __future__ import annotations

import os
import stat as st_
import time
from collections import deque
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field

from docker_magics.builds.buildkit.localsource import Entry, LocalSource
from docker_magics.builds.buildkit.wire import (
    as_bytes,
    as_int,
    bytes_field,
    fields,
    int_field,
    message_field,
    signed,
    varint,
)
from docker_magics.builds.walk import changed_while_sent, unreadable

CHUNK = 256 * 1024  # file bytes per DATA packet (gRPC's default limit is 4 MiB a message)

# fsutil Packet.PacketType
STAT, REQ, DATA, FIN, ERR = range(5)

# Go's os.FileMode: the permission bits, and the type bits high up (fsutil sends these)
GO_DIR = 1 << 31
GO_SYMLINK = 1 << 27
GO_DEVICE = 1 << 26
GO_PIPE = 1 << 25
GO_SOCKET = 1 << 24
GO_SETUID = 1 << 23
GO_SETGID = 1 << 22
GO_CHARDEV = 1 << 21
GO_STICKY = 1 << 20
_GO_TYPE = GO_DIR | GO_SYMLINK | GO_DEVICE | GO_PIPE | GO_SOCKET | GO_CHARDEV


_GO_KIND = {
    st_.S_IFDIR: GO_DIR,
    st_.S_IFLNK: GO_SYMLINK,
    st_.S_IFBLK: GO_DEVICE,
    st_.S_IFCHR: GO_DEVICE | GO_CHARDEV,
    st_.S_IFIFO: GO_PIPE,
    st_.S_IFSOCK: GO_SOCKET,
}


def go_mode(mode: int) -> int:
    """A ``st_mode`` as Go's ``os.FileMode`` (what ``fi.Mode()`` gives fsutil)."""
    out = mode & 0o777 | _GO_KIND.get(st_.S_IFMT(mode), 0)
    if mode & st_.S_ISUID:
        out |= GO_SETUID
    if mode & st_.S_ISGID:
        out |= GO_SETGID
    if mode & st_.S_ISVTX:
        out |= GO_STICKY
    return out


@dataclass
class Stat:
    """fsutil ``types.Stat``: ``mode`` is a Go ``os.FileMode``, ``mtime`` in nanoseconds."""

    path: str
    mode: int
    uid: int = 0
    gid: int = 0
    size: int = 0
    mtime: int = 0
    linkname: str = ""
    devmajor: int = 0
    devminor: int = 0
    xattrs: dict[str, bytes] = field(default_factory=dict)

    @property
    def regular(self) -> bool:
        """Whether the engine may ask for its data (fsutil's ``fileCanRequestData``)."""
        return not self.mode & _GO_TYPE

    def encode(self) -> bytes:
        return b"".join(
            [
                bytes_field(1, os.fsencode(self.path)),
                int_field(2, self.mode),
                int_field(3, self.uid),
                int_field(4, self.gid),
                int_field(5, self.size),
                int_field(6, self.mtime),
                bytes_field(7, os.fsencode(self.linkname)),
                int_field(8, self.devmajor),
                int_field(9, self.devminor),
                *(  # map<string, bytes>: one entry message each
                    message_field(10, bytes_field(1, key) + bytes_field(2, value))
                    for key, value in sorted(self.xattrs.items())
                ),
            ]
        )

    @classmethod
    def decode(cls, buf: bytes) -> Stat:
        s = cls("", 0)
        for number, value in fields(buf):
            if number == 1:
                s.path = os.fsdecode(as_bytes(value))
            elif number in (2, 3, 4):
                setattr(s, ("mode", "uid", "gid")[number - 2], as_int(value) & 0xFFFFFFFF)
            elif number in (5, 6, 8, 9):
                name = {5: "size", 6: "mtime", 8: "devmajor", 9: "devminor"}[number]
                setattr(s, name, signed(as_int(value)))
            elif number == 7:
                s.linkname = os.fsdecode(as_bytes(value))
            elif number == 10:
                entry = dict(fields(as_bytes(value)))
                key = as_bytes(entry.get(1, b"")).decode()
                s.xattrs[key] = bytes(as_bytes(entry.get(2, b"")))
        return s


@dataclass
class Packet:
    """fsutil ``types.Packet``."""

    type: int
    stat: Stat | None = None
    id: int = 0
    data: bytes = b""

    def encode(self) -> bytes:
        return encode_packet(self.type, self.stat, self.id, self.data)

    @classmethod
    def decode(cls, buf: bytes) -> Packet:
        p = cls(STAT)
        for number, value in fields(buf):
            if number == 1:
                p.type = as_int(value)
            elif number == 2:
                p.stat = Stat.decode(as_bytes(value))
            elif number == 3:
                p.id = as_int(value) & 0xFFFFFFFF
            elif number == 4:
                p.data = bytes(as_bytes(value))
        return p


def encode_packet(kind: int, stat: Stat | None = None, id: int = 0, data: bytes = b"") -> bytes:
    """Proto3: zero fields are left out, so the end of the walk (``STAT`` without a stat) is
    the empty message; a stat is always sent, even an empty one."""
    stat_field = message_field(2, stat.encode()) if stat is not None else b""
    return int_field(1, kind) + stat_field + int_field(3, id) + bytes_field(4, data)


def _data_header(id: int, size: int) -> bytes:
    """A DATA packet up to its payload (the payload follows, uncopied)."""
    return b"\x08\x02" + (b"\x18" + varint(id) if id else b"") + b"\x22" + varint(size)


def _data_end(id: int) -> bytes:
    """The empty DATA packet that ends a file (``encode_packet(DATA, id=id)``)."""
    return b"\x08\x02\x18" + varint(id) if id else b"\x08\x02"


# -- the sender side of DiffCopy --------------------------------------------------------------


@dataclass
class Sent:
    """What one transfer sent (for the build summary)."""

    entries: int = 0
    bytes: int = 0


_STAT_HEAD = b"\x12"  # Packet field 2, the stat (a STAT packet's type, 0, is left out)


def _stat_packet(item: Entry, links: dict[tuple[int, int], str]) -> tuple[bytes, tuple | None]:
    """The entry's STAT packet as fsutil describes it: owned by 0:0 (like the CLI's tar for
    the classic builder), no xattrs (neither has the classic context), hard links to the
    first path; and, for a file the engine may ask for, ``(source or data, size, mtime)``.
    Written field by field (``Stat.encode``'s bytes, without the object: this runs once
    per entry)."""
    linkname = b""
    dev = b""
    if item.data is not None:
        # A new mtime each time: an engine's copy from an earlier build is never reused.
        mode, size, mtime = 0o644, len(item.data), time.time_ns()
    elif item.st is None:  # a made-up folder
        mode, size, mtime = GO_DIR | 0o755, 0, time.time_ns()
    else:
        s = item.st
        assert item.source is not None  # an entry read from disk (st) says where it is
        kind = s.st_mode & 0o170000
        mode, mtime = go_mode(s.st_mode), s.st_mtime_ns
        size = s.st_size if kind in (st_.S_IFREG, st_.S_IFLNK) else 0
        if kind == st_.S_IFREG and s.st_nlink > 1:
            key = (s.st_dev, s.st_ino)
            if key in links:  # (fsutil's stat keeps the size: the engine compares it)
                linkname = os.fsencode(links[key])
            else:
                links[key] = item.path
        elif kind == st_.S_IFLNK:
            try:
                linkname = os.fsencode(os.readlink(item.source))
            except OSError as exc:
                raise changed_while_sent(item.source, exc.strerror or str(exc)) from None
        elif kind in (st_.S_IFCHR, st_.S_IFBLK):
            dev = int_field(8, os.major(s.st_rdev)) + int_field(9, os.minor(s.st_rdev))
    path = os.fsencode(item.path)
    # Fields 1 (path), 2 (mode), 5 (size), 6 (mtime), 7 (linkname), 8 and 9 (the device).
    stat = b"".join(
        (
            b"\x0a", varint(len(path)), path, b"\x10", varint(mode),
            b"\x28" + varint(size) if size else b"", b"\x30" + varint(mtime) if mtime else b"",
            bytes_field(7, linkname), dev,
        )
    )  # fmt: skip
    packet = _STAT_HEAD + varint(len(stat)) + stat
    if mode & _GO_TYPE or linkname:
        return packet, None  # not a file the engine can ask for (fileCanRequestData)
    return packet, (item.data if item.data is not None else item.source, size, mtime)


def decode_metadata(metadata: dict[str, list[str]]) -> dict[str, list[str]]:
    """The call's metadata as the engine meant it: BuildKit 0.12 and later (Docker 25+)
    percent-encode values that are not ASCII (file names in ``followpaths``) and say so in
    ``KEY-encoded`` (moby/buildkit session/filesync/filesync.go, ``decodeOpts``)."""
    from urllib.parse import unquote_plus

    out = {}
    for key, values in metadata.items():
        flag = metadata.get(key + "-encoded") or ["false"]
        encoded = flag[0].strip().lower() in ("1", "t", "true")
        out[key] = [unquote_plus(v) for v in values] if encoded else values
    return out


class EngineAborted(Exception):
    """The engine ended the transfer (an error on its side, or the build was cancelled)."""


WAIT = None  # what :func:`transfer` yields while it needs the engine's next packet


def transfer(
    source: LocalSource,
    metadata: dict[str, list[str]],
    inbox: deque[Packet | None],
    sent: Sent | None = None,
) -> Generator[bytes | bytearray | None, None, None]:
    """One DiffCopy call, as a generator driven by the connection: it yields our messages
    one at a time (so files are read only as fast as the engine takes them), or ``WAIT``
    when it needs the engine's next packet in ``inbox`` (None there: the engine's side of
    the stream ended). Files the engine asks for while the walk goes on are sent at once,
    between the walk's entries (as fsutil's sender does, from goroutines of its own), so
    the engine writes them while the rest is walked. Raises ``ContextChanged`` or
    ``BadArgument`` for a problem with the files (the caller tells the engine),
    ``EngineAborted`` when the engine gives up. Closing it closes the file being sent."""
    sent = sent if sent is not None else Sent()
    metadata = decode_metadata(metadata)
    items = source.items(metadata.get("include-patterns"), metadata.get("followpaths"))
    files: dict[int, tuple[str | bytes, int, int]] = {}  # REQ id -> (source or data, size, mtime)
    links: dict[tuple[int, int], str] = {}
    for index, item in enumerate(items):
        packet, file = _stat_packet(item, links)
        if file is not None:
            files[index] = file
        yield packet
        sent.entries += 1
        if inbox and (yield from _answer(inbox, files, sent)):
            return
    yield encode_packet(STAT)  # the end of the walk
    while True:
        while not inbox:
            yield WAIT
        if (yield from _answer(inbox, files, sent)):
            return


def _answer(inbox: deque, files: dict, sent: Sent) -> Generator[bytes | bytearray, None, bool]:
    """What the engine's packets in ``inbox`` ask for; returns True once it said FIN."""
    while inbox:
        packet = inbox.popleft()
        if packet is None:
            raise EngineAborted("the engine closed the transfer")
        if packet.type == REQ:
            if packet.id not in files:
                raise EngineAborted(f"the engine asked for an unknown file ({packet.id})")
            what, size, mtime = files.pop(packet.id)
            if isinstance(what, bytes):
                if what:
                    yield _data_header(packet.id, size) + what
            else:
                yield from _file_data(what, size, mtime, packet.id)
            yield _data_end(packet.id)
            sent.bytes += size
        elif packet.type == FIN:
            yield encode_packet(FIN)
            return True
        elif packet.type == ERR:
            raise EngineAborted(packet.data.decode("utf-8", "replace"))
    return False


def _file_data(path: str, size: int, mtime: int, id: int) -> Iterator[bytes | bytearray]:
    """A file's DATA packets, checked against what its STAT said: a file deleted, grown,
    shrunk or rewritten meanwhile fails the build rather than sending something else."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise changed_while_sent(path, "it was deleted") from None
    except PermissionError as exc:
        raise unreadable(path, path, exc) from None
    except OSError as exc:  # e.g. ELOOP: replaced by a symlink
        raise changed_while_sent(path, f"it was replaced ({exc.strerror})") from None
    try:
        before = os.fstat(fd)
        if (before.st_size, before.st_mtime_ns) != (size, mtime):
            raise changed_while_sent(path, "it was modified")
        remaining = size
        while remaining:
            # Read into the packet itself, behind its header: no copy of the file's bytes.
            want = min(remaining, CHUNK)
            head = _data_header(id, want)
            packet = bytearray(len(head) + want)
            packet[: len(head)] = head
            got = os.readv(fd, [memoryview(packet)[len(head) :]])
            if not got:
                raise changed_while_sent(path, f"it shrank from {size} bytes")
            remaining -= got
            if got < want:  # rarely (a file that shrank says so at its next read)
                yield _data_header(id, got) + packet[len(head) : len(head) + got]
            else:
                yield packet
        after = os.fstat(fd)
        if after.st_nlink == 0:
            raise changed_while_sent(path, "it was deleted")
        if (after.st_size, after.st_mtime_ns) != (size, mtime):
            raise changed_while_sent(path, "it was modified")
    finally:
        os.close(fd)
