"""Pure: the file sync's packets written the fast way (one per entry and per chunk of a file)
are byte for byte what its plain encoder (``Stat.encode``, ``encode_packet``) writes, for
every kind of entry."""

from __future__ import annotations

import os
import stat
from collections import deque

from docker_magics.builds.buildkit import filesync as fs
from docker_magics.builds.buildkit.localsource import Entry, sources


def plain(item: Entry, links: dict) -> bytes:
    """The STAT packet as ``Stat`` says it, field by field (fsutil's types.Stat)."""
    s = item.st
    if item.data is not None:
        return fs.encode_packet(fs.STAT, fs.Stat(item.path, 0o644, size=len(item.data)))
    if s is None:
        return fs.encode_packet(fs.STAT, fs.Stat(item.path, fs.GO_DIR | 0o755))
    out = fs.Stat(item.path, fs.go_mode(s.st_mode), mtime=s.st_mtime_ns)
    if stat.S_ISREG(s.st_mode):
        out.size = s.st_size
        key = (s.st_dev, s.st_ino)
        if s.st_nlink > 1 and key in links:
            out.linkname = links[key]
        elif s.st_nlink > 1:
            links[key] = item.path
    elif stat.S_ISLNK(s.st_mode):
        out.linkname, out.size = os.readlink(item.source), s.st_size
    elif stat.S_ISCHR(s.st_mode) or stat.S_ISBLK(s.st_mode):
        out.devmajor, out.devminor = os.major(s.st_rdev), os.minor(s.st_rdev)
    return fs.encode_packet(fs.STAT, out)


def without_time(packet: bytes) -> fs.Stat:
    s = fs.Packet.decode(packet).stat
    s.mtime = 0
    return s


def test_stat_packets_are_what_stat_encode_writes(tmp_path):
    (tmp_path / "dir").mkdir(mode=0o750)
    (tmp_path / "dir" / "caf\u00e9.txt").write_bytes(b"x" * 300)
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "suid").write_text("s")
    os.chmod(tmp_path / "suid", 0o4755)
    os.link(tmp_path / "empty", tmp_path / "hard")
    os.symlink("dir/caf\u00e9.txt", tmp_path / "link")
    os.mkfifo(tmp_path / "fifo")
    os.mknod(tmp_path / "null", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    os.utime(tmp_path / "empty", ns=(0, 0))  # a zero time is left out, as proto3 does
    (tmp_path / os.fsdecode(b"not-utf8-\xff")).write_text("bytes as they are")
    links_a, links_b = {}, {}
    items = list(sources(b"FROM scratch\n", directory=tmp_path).context.items())
    assert len(items) == 9
    for item in items:
        fast, file = fs._stat_packet(item, links_a)
        assert fast == plain(item, links_b), item.path
        assert (file is not None) == (stat.S_ISREG(item.st.st_mode) and item.path != "hard"), (
            item.path
        )
    # In-memory files and made-up folders get the time they are sent.
    for item in (Entry("Dockerfile", data=b"FROM scratch\n"), Entry("made/up")):
        fast, _ = fs._stat_packet(item, {})
        assert without_time(fast) == without_time(plain(item, {}))


def test_data_packets_are_what_encode_packet_writes(tmp_path):
    for id in (0, 1, 127, 128, 300_000):
        assert fs._data_end(id) == fs.encode_packet(fs.DATA, id=id)
        for data in (b"x", b"y" * 200, b"z" * fs.CHUNK):
            message = fs._data_header(id, len(data)) + data
            assert message == fs.encode_packet(fs.DATA, id=id, data=data)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(2 * fs.CHUNK + 9))
    inbox = deque([fs.Packet(fs.REQ, id=0), fs.Packet(fs.FIN)])
    packets = [
        fs.Packet.decode(m)
        for m in fs.transfer(sources(b"", directory=tmp_path).context, {}, inbox)
    ]
    data = [p for p in packets if p.type == fs.DATA]
    assert [len(p.data) for p in data] == [fs.CHUNK, fs.CHUNK, 9, 0]
    assert b"".join(p.data for p in data) == big.read_bytes()


def walked(context, metadata) -> list[str]:
    """The paths of the STAT packets, up to the end of the walk."""
    paths = []
    for message in fs.transfer(context, metadata, deque()):
        if not message:  # the end of the walk (b""), then WAIT
            return paths
        paths.append(fs.Packet.decode(message).stat.path)
    return paths


def test_metadata_the_engine_percent_encoded(tmp_path):
    """BuildKit 0.12+ (Docker 25+) sends a non-ASCII followpath as Go's url.QueryEscape
    writes it, with ``followpaths-encoded: 1`` (session/filesync/filesync.go)."""
    for name in ("my file é.txt", "café.txt", "other.txt"):
        (tmp_path / name).write_text(name)
    context = sources(b"", directory=tmp_path).context
    metadata = {
        "followpaths": ["my+file+%C3%A9.txt", "caf%C3%A9.txt"],
        "followpaths-encoded": ["1"],
    }
    assert walked(context, metadata) == ["café.txt", "my file é.txt"]
    # Not said to be encoded: taken as it is (a name may hold "%" or "+").
    (tmp_path / "100%+.txt").write_text("x")
    assert walked(context, {"followpaths": ["100%+.txt"]}) == ["100%+.txt"]


def test_an_engine_packet_with_a_field_of_the_wrong_type_is_malformed():
    # The session ends the transfer on ValueError (a malformed packet); a REQ's data field
    # that came as a number must not be read as that many zero bytes.
    from docker_magics.builds.buildkit import wire

    for packet in (
        wire.int_field(1, fs.DATA) + wire.int_field(4, 5),  # data as a number
        wire.bytes_field(1, b"\x05"),  # the type as a string
        wire.message_field(2, wire.int_field(1, 3)),  # the stat's path as a number
    ):
        try:
            fs.Packet.decode(packet)
        except ValueError:
            continue
        raise AssertionError(f"{packet!r} was decoded")
