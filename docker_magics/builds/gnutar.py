"""GNU tar as the copier of a directory context's members, when it is installed and a core
is free for it.

The walk and the ``.dockerignore`` stay in Python (``context.walk``): only the list of what
to pack goes to tar, on its stdin, and its archive comes back on its stdout. Options make
tar's headers say what ours say: owner 0:0 without names, whole-second mtimes, hard links
kept.

Which packer is faster depends on the machine (``bench/``, case 3). Python's own packer pays
~10 us of interpreter time per file; tar pays none, but every byte is copied twice more (tar
to a pipe, the pipe to us) and a third process runs. With a core to spare, tar packs beside
us and that wins (1.26-1.46x GNU tar alone, against 1.48-1.84x for Python's packer, on an idle
2-core VM); on a busy machine the copies and the extra process cost more than they save
(Python's packer 0.6-0.9x GNU tar alone, tar's copying 1.2-2.7x, loaded or pinned to one
core). So by default (``DOCKER_MAGICS_PACKER`` unset or ``auto``) tar copies only while the
load average leaves a core free; ``DOCKER_MAGICS_PACKER=python`` never uses tar, any other
value (``tar``) always does. A tar that is not GNU tar is never used.
One race is caught by Python's packer only: a file that becomes a folder between the walk
and tar's turn goes out as an empty folder (``--no-recursion``), not as an error.
"""

from __future__ import annotations

import fcntl
import functools
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections import deque
from collections.abc import Iterable, Iterator

_READ = 1 << 16
_RECORD = 1 << 16  # what tar writes at a time; its end blocks are in the last one
_FEED = 1 << 16  # at most this many bytes of NUL-separated names per write to its stdin
_PIPE = 1 << 20  # its stdout pipe


class TarUnavailable(Exception):
    """tar could not be started: nothing was read of the names, pack them another way."""


class TarFailed(Exception):
    """tar stopped with an error: about the file ``name`` when it says which."""

    def __init__(self, name: str | None, reason: str, code: int) -> None:
        super().__init__(f"{name}: {reason}" if name else reason)
        self.name, self.reason, self.code = name, reason, code


@functools.cache
def _gnu_tar() -> str | None:
    path = shutil.which("tar")
    if path is None:
        return None
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10, env=_env()
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    first = out.splitlines()[0] if out else ""
    if not first.startswith("tar (GNU tar) "):
        return None
    try:  # --verbatim-files-from came in 1.29
        version = tuple(int(x) for x in first.split()[-1].split(".")[:2])
    except ValueError:
        return None
    return path if version >= (1, 29) else None


def available() -> str | None:
    """GNU tar's path, unless it is missing, too old, or turned off."""
    if os.environ.get("DOCKER_MAGICS_PACKER", "").lower() == "python":
        return None
    return _gnu_tar()


def chosen() -> str | None:
    """The copier of a folder's members now: GNU tar's path (:func:`available`), or None for
    Python's packer: by default (unset or ``auto``) only while a core is free for tar."""
    if os.environ.get("DOCKER_MAGICS_PACKER", "auto").lower() != "auto":
        return available()
    # The load first: asking tar its version starts a process, which a busy machine makes
    # cost as much as a small context's packing.
    return available() if _core_to_spare() else None


def _core_to_spare() -> bool:
    """Whether the last minute's load average leaves a core of ours free."""
    try:
        cores = len(os.sched_getaffinity(0))
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not Linux: no way to tell, tar as before
        return True
    return load + 1 <= cores


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TAR_OPTIONS"}  # options of its own
    env["LC_ALL"] = "C"  # its messages in English, like ours
    return env


def _command(root: str) -> list[str]:
    return [
        "tar", "--create", "--file=-", "--format=gnu", f"--blocking-factor={_RECORD // 512}",
        f"--directory={root}", "--no-recursion",
        "--null", "--verbatim-files-from", "--no-unquote",  # names as given, "-x" included
        "--files-from=-",  # after those: they apply to the lists that follow them
        "--owner=0", "--group=0", "--numeric-owner",  # as the CLI sends: 0:0, no names
        "--no-xattrs", "--no-acls", "--no-selinux",
        "--warning=no-file-ignored",  # sockets, skipped by the CLI too
        "--warning=no-file-changed",  # being written to: sent as it was (as the CLI does)
    ]  # fmt: skip


def stream(tar: str, root: str, names: Iterable[str]) -> Iterator[bytes]:
    """The archive of ``names`` (relative to ``root``), its end blocks included. ``names``
    is consumed on a thread of its own while the archive is read here; an error it raises
    is raised here. The last record is held back until tar has ended well, so that the
    engine never sees a whole archive that lacks a file. Closing the stream stops tar.
    ``TarUnavailable`` before anything of ``names`` is taken: tar could not start."""
    try:
        errors = tempfile.TemporaryFile()  # not a pipe: many messages must not block tar
    except OSError as exc:
        raise TarUnavailable(f"no file for its messages ({exc.strerror or exc})") from None
    try:
        proc = subprocess.Popen(
            _command(root), executable=tar, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=errors, env=_env(), cwd="/",
            start_new_session=True,  # a Ctrl-C in a terminal is ours to act on, not tar's
        )  # fmt: skip
    except BaseException as exc:
        errors.close()
        if isinstance(exc, OSError):
            raise TarUnavailable(f"cannot start {tar} ({exc.strerror or exc})") from None
        raise
    stdin, stdout = proc.stdin, proc.stdout
    assert stdin is not None and stdout is not None  # (both PIPE)
    try:  # room for tar to run ahead while this side is busy (the walk shares our GIL)
        fcntl.fcntl(stdout.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), _PIPE)
    except OSError:  # over the system's limit: the default size works too, a little slower
        pass
    failed: list[BaseException] = []
    stopping: list[bool] = []  # set when the archive is no longer wanted: stop the walk

    def feed() -> None:
        # Small batches first, so that tar starts while the walk goes on; then bigger ones.
        fd, pending, batch = stdin.fileno(), bytearray(), 1024
        try:
            for name in names:
                if stopping:
                    return
                pending += os.fsencode(name) + b"\0"
                if len(pending) >= batch:
                    _write_all(fd, pending)
                    pending.clear()
                    batch = min(2 * batch, _FEED)
            _write_all(fd, pending)
        except BrokenPipeError:  # tar stopped: its exit says why
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the reading side
            failed.append(exc)
            proc.kill()
        finally:
            stdin.close()

    feeder = threading.Thread(target=feed, name="docker_magics-tar-feed", daemon=True)
    feeder.start()
    held: deque[bytes] = deque()  # at least the archive's last _RECORD bytes
    held_size = 0
    ended = False
    try:
        out, said = stdout.fileno(), errors.fileno()
        # With the warnings above turned off, whatever tar says is an error: it would go on
        # past an unreadable file, or pad a shrunk one with zeros, and say so only at the
        # end, so stop at its first word instead of sending the rest.
        while not os.fstat(said).st_size:
            data = os.read(out, _READ)
            if not data:
                ended = True
                break
            held.append(data)
            held_size += len(data)
            while held_size - len(held[0]) >= _RECORD:
                held_size -= len(held[0])
                yield held.popleft()
    finally:
        if not ended:
            stopping.append(True)
            proc.kill()
        stdout.close()
        if threading.current_thread() is not feeder:  # (a collection run on the feeder)
            feeder.join()
        code = proc.wait()
        errors.seek(0)
        message = errors.read().decode("utf-8", "replace")
        errors.close()
    if failed:
        raise failed[0]
    # 1 and nothing said: a file changed while it was read, which the options above let
    # pass (the CLI sends what it reads too).
    if message.strip() or code not in (0, 1):
        raise _failure(message, code)
    yield from held


def _write_all(fd: int, data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


# About a file: "NAME: Cannot open: Permission denied", "NAME: File shrank by 3 bytes;
# padding with zeros" (NAME quoted: "a\\: b" for "a: b", so its ": " are never bare);
# anything else is about tar.
_ABOUT = re.compile(
    r"^(?P<name>(?:[^\\]|\\.)+?): (?:Cannot \w+: (?P<reason>[^:]+)|(?P<file>File .+))$"
)


def _failure(said: str, code: int) -> TarFailed:
    lines = [line.removeprefix("tar: ") for line in said.splitlines() if line.strip()]
    first = next((line for line in lines if not line.startswith("Exiting with")), "")
    about = _ABOUT.match(first)
    if about is None:
        if not first:
            first = f"stopped by signal {-code}" if code < 0 else f"exit status {code}"
        return TarFailed(None, first, code)
    return TarFailed(_unquote(about["name"]), about["reason"] or about["file"], code)


_ESCAPES = {
    b"n": b"\n",
    b"t": b"\t",
    b"r": b"\r",
    b"a": b"\a",
    b"b": b"\b",
    b"f": b"\f",
    b"v": b"\v",
}


def _unquote(name: str) -> str:
    """A name as tar's C locale quotes it in messages (``a\\: b``, ``caf\\303\\251``),
    back to the file's own name."""

    def one(m: re.Match) -> bytes:
        code = m[1]
        return bytes([int(code, 8)]) if len(code) == 3 else _ESCAPES.get(code, code)

    raw = re.sub(rb"\\([0-7]{3}|.)", one, name.encode("utf-8", "surrogateescape"), flags=re.S)
    return os.fsdecode(raw)
