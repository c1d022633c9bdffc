"""GNU tar as the copier of folder contexts: the same members as the Python packer, its
failures as our one-line errors, and nothing left running when a build stops early."""

from __future__ import annotations

import io
import os
import socket
import tarfile
import tempfile
import threading
from pathlib import Path

import pytest

from docker_magics.builds import gnutar
from docker_magics.builds.context import _by_gnu_tar, _pack_walk, from_directory
from docker_magics.builds.tar import CHUNK, TarWriter
from docker_magics.builds.walk import ContextChanged
from docker_magics.errors import BadArgument
from tests.support import as_nobody

TAR = gnutar._gnu_tar()


@pytest.fixture(autouse=True)
def needs_gnu_tar():
    # Debian always has it, so CI runs all of these; elsewhere, say what is missing.
    assert TAR is not None, "GNU tar >= 1.29 is needed (apt-get install tar)"


def members(data: bytes) -> dict[str, tuple]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {
            m.name.rstrip("/"): (
                m.type, m.mode, m.uid, m.gid, m.uname, m.gname, int(m.mtime), m.size,
                m.linkname, m.devmajor, m.devminor,
                tar.extractfile(m).read() if m.isfile() else None,
            )
            for m in tar.getmembers()
        }  # fmt: skip


def pack(root: Path, packer: str, monkeypatch, **kwargs) -> tuple:
    """The stream's bytes, and the context (for its counts)."""
    monkeypatch.setenv("DOCKER_MAGICS_PACKER", packer)
    ctx = from_directory(root, dockerfile_text="FROM scratch\n", **kwargs)
    return b"".join(ctx.chunks()), ctx


def rich_tree(root: Path) -> None:
    (root / "empty dir").mkdir()
    (root / ("d" * 120) / ("e" * 150)).mkdir(parents=True)
    files = {
        "a.txt": b"a\n", "empty": b"", "-dash": b"an option, were it not a name",
        "back\\slash": b"\\", "new\nline": b"nl", "caf\u00e9 \u00fcber.txt": b"utf-8",
        "star*?[x]": b"glob characters", "big.bin": os.urandom(3 * CHUNK + 5),
        "d" * 120 + "/" + "e" * 150 + "/" + "f" * 200: b"a very long name",
        "skip.pyc": b"excluded", "keep/me.pyc": b"re-included",
    }  # fmt: skip
    for i, (name, data) in enumerate(files.items()):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
        os.chmod(root / name, (0o600, 0o644, 0o755, 0o4755, 0o2711)[i % 5])
    for name, when in (("a.txt", -315_619_200), ("empty", 10_413_792_000)):
        os.utime(root / name, (when, when))
    for name, ns in (("-dash", -1_500_000_000), ("back\\slash", 1_700_000_000_999_999_900)):
        os.utime(root / name, ns=(ns, ns))  # whole seconds, rounded down by both
    with socket.socket(socket.AF_UNIX) as server:  # skipped by both, as by the CLI
        server.bind(str(root / "sock"))
    os.symlink("a.txt", root / "link")
    os.symlink("t" * 300, root / "long link")
    os.link(root / "a.txt", root / "hard")
    os.mkfifo(root / "fifo")
    (root / ".dockerignore").write_text("**/*.pyc\n!keep/*.pyc\n")


def test_both_packers_send_the_same_members(tmp_path, monkeypatch):
    rich_tree(tmp_path)
    ours, ours_ctx = pack(tmp_path, "python", monkeypatch)
    tars, tar_ctx = pack(tmp_path, "", monkeypatch)
    assert members(tars) == members(ours)
    assert "skip.pyc" not in members(tars) and "keep/me.pyc" in members(tars)
    assert members(tars)["-dash"][6] == -2 and members(tars)["back\\slash"][6] == 1_700_000_000
    assert "sock" not in members(tars)
    assert (tar_ctx.files, tar_ctx.regular_files, tar_ctx.size) == (
        ours_ctx.files, ours_ctx.regular_files, len(tars)
    )  # fmt: skip


def test_adds_go_with_a_folder_packed_by_tar(tmp_path, monkeypatch):
    from docker_magics.builds.context import AddSpec

    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "app.py").write_text("app")
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "data.csv").write_text("1,2\n")
    adds = [AddSpec.parse(f"{tmp_path}/extra:data")]
    ours, _ = pack(tmp_path / "ctx", "python", monkeypatch, adds=adds)
    tars, _ = pack(tmp_path / "ctx", "", monkeypatch, adds=adds)
    assert members(tars) == members(ours)
    assert members(tars)["data/data.csv"][-1] == b"1,2\n"


def test_tar_options_from_the_environment_are_ignored(tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text("a")
    monkeypatch.setenv("TAR_OPTIONS", "--exclude=a.txt --owner=1000")
    tars, _ = pack(tmp_path, "", monkeypatch)
    assert members(tars)["a.txt"][2:4] == (0, 0)


def test_the_python_packer_can_be_chosen(monkeypatch):
    monkeypatch.setenv("DOCKER_MAGICS_PACKER", "python")
    assert gnutar.available() is None
    monkeypatch.setenv("DOCKER_MAGICS_PACKER", "")
    assert gnutar.available() == TAR


def entries_of(root: Path, names: list[str], before=None):
    """What context.walk would give for ``names``; ``before(name)`` runs first."""
    for name in names:
        if before is not None:
            before(name)
        yield name, str(root / name), None


def test_a_file_deleted_before_tar_reads_it(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).write_text(name)

    def delete_b(name):
        if name == "b":
            (tmp_path / "b").unlink()

    (tmp_path / "a").write_bytes(os.urandom(5 * CHUNK))
    stream = _by_gnu_tar(TAR, tmp_path, entries_of(tmp_path, ["a", "b"], delete_b), TarWriter())
    sent = bytearray()
    with pytest.raises(ContextChanged) as changed:
        for chunk in stream:
            sent += chunk
    assert str(changed.value) == (
        "b changed while the build context was being sent (it was deleted). Run the cell "
        "again once nothing is writing to the context."
    )
    # Stopped at tar's word: what went out (if anything yet) is not a whole archive. tar may
    # have copied all of a before it found b gone (how far it got is a race), but the last
    # record is held back until tar ends well: a's header and data never go out whole.
    assert len(sent) < tarfile.BLOCKSIZE + 5 * CHUNK
    if sent:
        with pytest.raises(tarfile.ReadError, match="unexpected end of data"):
            with tarfile.open(fileobj=io.BytesIO(bytes(sent))) as tar:
                [tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()]


def test_the_last_record_goes_out_only_once_tar_has_ended_well(tmp_path):
    (tmp_path / "a").write_bytes(os.urandom(5 * CHUNK))
    data, while_tar_lived = bytearray(), 0
    for chunk in gnutar.stream(TAR, str(tmp_path), ["a"]):
        data += chunk
        if tar_children():  # running, or ended and not yet waited for
            while_tar_lived = len(data)
    assert members(bytes(data))["a"][-1] == (tmp_path / "a").read_bytes()
    assert while_tar_lived <= len(data) - gnutar._RECORD


@pytest.mark.parametrize("packer", ["python", ""])
def test_an_unreadable_file_is_one_line_from_either_packer(packer, monkeypatch):
    if os.geteuid() != 0:
        pytest.skip("needs root, to make a file that user nobody cannot read")
    root = Path(tempfile.mkdtemp(prefix="dm-perm-", dir="/tmp"))  # nobody may list it
    try:
        os.chmod(root, 0o755)
        (root / "public.txt").write_text("ok")
        (root / "secret.key").write_text("key")
        os.chmod(root / "secret.key", 0o600)
        (root / "z-big.bin").write_bytes(os.urandom(64 << 20))  # after it, not sent
        monkeypatch.setenv("DOCKER_MAGICS_PACKER", packer)

        def pack_it() -> str:
            sent = 0
            try:
                for chunk in from_directory(root, dockerfile_text="FROM scratch").chunks():
                    sent += len(chunk)
            except ContextChanged as exc:
                return f"{sent} {exc}"
            return "packed"

        sent, message = as_nobody(pack_it).split(" ", 1)
        assert message == (
            f"Cannot read {root}/secret.key for the build context: Permission denied. Fix "
            "its permissions, or exclude it in .dockerignore."
        )
        assert int(sent) < 16 << 20  # it stopped there, not after sending the rest
    finally:
        for p in sorted(root.rglob("*"), reverse=True):
            p.unlink()
        root.rmdir()


def tar_children() -> list[int]:
    """This process's children that are tar (running or not yet reaped)."""
    me, found = os.getpid(), []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :]
        if name == "tar" and int(rest.split()[1]) == me:
            found.append(int(pid))
    return found


def feeders() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "docker_magics-tar-feed"]


def test_closing_the_stream_early_stops_tar_and_leaves_nothing_open(tmp_path, monkeypatch):
    for i in range(40):
        (tmp_path / f"f{i:02}.bin").write_bytes(os.urandom(CHUNK))
    fds = len(os.listdir("/proc/self/fd"))
    monkeypatch.setenv("DOCKER_MAGICS_PACKER", "")
    stream = from_directory(tmp_path, dockerfile_text="FROM scratch").chunks()
    next(stream)  # ours (the Dockerfile)
    next(stream)  # tar's first piece
    assert len(tar_children()) == 1
    stream.close()
    assert tar_children() == [] and feeders() == []
    assert len(os.listdir("/proc/self/fd")) == fds


def test_an_error_of_the_walk_stops_tar_and_is_raised_as_it_was(tmp_path):
    (tmp_path / "a").write_text("a")

    def fail(name):
        if name == "b":
            raise BadArgument("Cannot read the folder b (permission denied)", "Fix it")

    stream = _by_gnu_tar(TAR, tmp_path, entries_of(tmp_path, ["a", "b"], fail), TarWriter())
    with pytest.raises(BadArgument, match=r"^Cannot read the folder b \(permission denied\)"):
        list(stream)
    assert tar_children() == [] and feeders() == []


# What GNU tar 1.34 printed (LC_ALL=C), recorded on this project's machines: as user nobody
# (Cannot open), a name that is not there (Cannot stat), a 16 GB file truncated while tar
# read it (File shrank, exit status 1), a bad --directory (not recoverable).
RECORDED = [
    (
        "tar: secret: Cannot open: Permission denied\n"
        "tar: Exiting with failure status due to previous errors\n",
        ("secret", "Permission denied"),
    ),
    (
        "tar: a\\: b/c: Cannot open: Permission denied\n"
        "tar: caf\\303\\251: Cannot stat: No such file or directory\n"
        "tar: Exiting with failure status due to previous errors\n",
        ("a: b/c", "Permission denied"),
    ),
    (
        "tar: x\\: File y: Cannot stat: No such file or directory\n"
        "tar: Exiting with failure status due to previous errors\n",
        ("x: File y", "No such file or directory"),
    ),
    (
        "tar: big: File shrank by 15859943936 bytes; padding with zeros\n",
        ("big", "File shrank by 15859943936 bytes; padding with zeros"),
    ),
    (
        "tar: /nonexist: Cannot open: No such file or directory\n"
        "tar: Error is not recoverable: exiting now\n",
        ("/nonexist", "No such file or directory"),
    ),
    (
        "tar: Error is not recoverable: exiting now\n",
        (None, "Error is not recoverable: exiting now"),
    ),
    ("", (None, "exit status 2")),
    ("", (None, "stopped by signal 9")),
]


@pytest.mark.parametrize("said, expected", RECORDED)
def test_what_tar_says_is_read_for_the_file_and_the_reason(said, expected):
    failed = gnutar._failure(said, -9 if "signal" in expected[1] else 2)
    assert (failed.name, failed.reason) == expected


def test_a_tar_that_cannot_start_leaves_the_packing_to_python(tmp_path):
    (tmp_path / "a").write_text("a")
    missing = str(tmp_path / "no-such-tar")
    data = b"".join(_pack_walk(missing, tmp_path, entries_of(tmp_path, ["a"]), TarWriter()))
    assert members(data)["a"][-1] == b"a"


def test_tar_copies_by_default_only_with_a_core_to_spare(monkeypatch):
    """Unset (or ``auto``): tar while the load average leaves a core free (bench case 3:
    on a busy or single core, its extra copies cost more than Python's per-file work)."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    for setting, load, expected in [
        (None, 0.5, TAR), (None, 1.0, TAR), (None, 1.2, None), ("auto", 7.0, None),
        ("tar", 7.0, TAR), ("", 7.0, TAR), ("python", 0.0, None),
    ]:  # fmt: skip
        if setting is None:
            monkeypatch.delenv("DOCKER_MAGICS_PACKER", raising=False)
        else:
            monkeypatch.setenv("DOCKER_MAGICS_PACKER", setting)
        monkeypatch.setattr(os, "getloadavg", lambda load=load: (load, load, load))
        assert gnutar.chosen() == expected, (setting, load)
