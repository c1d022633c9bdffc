"""GNU tar as the copier of a directory context's members, when it is installed.

The walk and the ``.dockerignore`` stay in Python (``context.walk``): only the list of what
to pack goes to tar, on its stdin, and its archive comes back on its stdout. Python's own
packer pays ~10 us of interpreter time per file; on a context of thousands of small files
that is half again what tar takes for the same members (``bench/``, case 3). Options make
tar's headers say what ours say: owner 0:0 without names, integer mtimes, hard links kept.

``DOCKER_MAGICS_PACKER=python`` turns this off, and so does a tar that is not GNU tar.
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
from collections.abc import Iterable, Iterator

_READ = 1 << 16
_FEED = 1 << 16  # at most this many bytes of NUL-separated names per write to its stdin
_PIPE = 1 << 20  # its stdout pipe


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


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TAR_OPTIONS"}  # options of its own
    env["LC_ALL"] = "C"  # its messages in English, like ours
    return env


def _command(root: str) -> list[str]:
    return [
        "tar", "--create", "--file=-", "--format=gnu", "--blocking-factor=128",
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
    is raised here. Closing the stream early stops tar."""
    try:
        errors = tempfile.TemporaryFile()  # not a pipe: many warnings must not block tar
        try:
            proc = subprocess.Popen(
                _command(root), executable=tar, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=errors, env=_env(), cwd="/",
            )  # fmt: skip
        except BaseException:
            errors.close()
            raise
    except OSError as exc:
        raise TarFailed(None, f"cannot start {tar} ({exc.strerror or exc})", -1) from None
    try:  # room for tar to run ahead while this side is busy (the walk shares our GIL)
        fcntl.fcntl(proc.stdout.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), _PIPE)
    except OSError:  # over the system's limit: the default size works too, a little slower
        pass
    failed: list[BaseException] = []
    stopping: list[bool] = []  # set when the archive is no longer wanted: stop the walk

    def feed() -> None:
        # Small batches first, so that tar starts while the walk goes on; then bigger ones.
        fd, pending, batch = proc.stdin.fileno(), bytearray(), 1024
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
            proc.stdin.close()

    feeder = threading.Thread(target=feed, name="docker_magics-tar-feed", daemon=True)
    feeder.start()
    done = False
    try:
        out = proc.stdout.fileno()
        while True:
            data = os.read(out, _READ)
            if not data:
                break
            yield data
        done = True
    finally:
        if not done:
            stopping.append(True)
            proc.kill()
        proc.stdout.close()
        feeder.join()
        code = proc.wait()
        errors.seek(0)
        said = errors.read().decode("utf-8", "replace")
        errors.close()
    if failed:
        raise failed[0]
    # 1 and nothing said: a file changed while it was read, which the options above let
    # pass (the CLI sends what it reads too). 1 with a message: a file shrank, say.
    if code != 0 and (code != 1 or said.strip()):
        raise _failure(said, code)


def _write_all(fd: int, data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


# About a file: "NAME: Cannot open: Permission denied", "NAME: File shrank by 3 bytes;
# padding with zeros" (NAME quoted: "a\\: b" for "a: b"); anything else is about tar.
_ABOUT = re.compile(r"^(?P<name>.+?): (?:Cannot \w+: (?P<reason>[^:]+)|(?P<file>File .+))$")


def _failure(said: str, code: int) -> TarFailed:
    lines = [line.removeprefix("tar: ") for line in said.splitlines() if line.strip()]
    first = next((line for line in lines if not line.startswith("Exiting with")), "")
    about = _ABOUT.match(first)
    if about is None:
        return TarFailed(None, first or f"exit status {code}", code)
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
