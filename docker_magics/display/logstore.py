"""Whole logs: a build's or a run's output kept in memory while small, then in a temp file in
a per-process spill folder (removed when the log is garbage collected or Python exits; a
killed kernel's folder is removed by the next process that spills). Never imports docker."""

from __future__ import annotations

import atexit
import os
import re
import stat
import tempfile
import weakref
from typing import TextIO

from docker_magics.display.tables import counted

SPILL_AT = 1 << 20  # bytes of log kept in memory before it moves to a temp file
TAIL = 20  # last lines kept per step, for the progress view and error messages


# -- where large logs go ----------------------------------------------------------------------
# One folder per process, ``docker-magics-UID-PID-START`` in the temp dir (START: the
# process's start time, so a reused pid is told apart). Files in it are removed when their
# log is garbage collected, the folder when Python exits; a kernel that was killed leaves
# its folder behind, and the next process to spill a log removes it.
_SPILL_NAME = re.compile(r"^docker-magics-(\d+)-(\d+)-(\d*)$")
_spill: tuple[int, str] | None = None  # (pid, folder) of this process


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), "" elsewhere or if it
    is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return ""


def _alive(pid: int, start: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's: alive
        return True
    except OSError:
        return True
    return not start or _start_time(pid) in ("", start)


def remove_stale_spills(base: str) -> list[str]:
    """Remove the spill folders of this user's dead processes; returns their paths. Only
    folders named like ours, owned by us, not links, and only our log files in them (a
    folder with anything else in it stays)."""
    removed: list[str] = []
    try:
        names = os.listdir(base)
    except OSError:
        return removed
    for name in names:
        m = _SPILL_NAME.match(name)
        if not m or int(m[1]) != os.getuid() or _alive(int(m[2]), m[3]):
            continue
        path = os.path.join(base, name)
        try:
            info = os.lstat(path)
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
                continue
            for entry in os.scandir(path):
                if entry.name.startswith("docker-magics-") and entry.name.endswith(".log"):
                    if entry.is_file(follow_symlinks=False):
                        os.unlink(entry.path)
            os.rmdir(path)
            removed.append(path)
        except OSError:
            continue
    return removed


def spill_dir() -> str:
    """This process's folder for spilled logs, made on first use (stale ones go then)."""
    global _spill
    pid = os.getpid()
    if _spill is not None and _spill[0] == pid and os.path.isdir(_spill[1]):
        return _spill[1]
    base = tempfile.gettempdir()
    remove_stale_spills(base)
    path = os.path.join(base, f"docker-magics-{os.getuid()}-{pid}-{_start_time(pid)}")
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        info = os.lstat(path)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            path = tempfile.mkdtemp(prefix="docker-magics-")  # not ours: somewhere safe
    atexit.register(_remove_folder, path, pid)
    _spill = (pid, path)
    return path


def _remove_folder(path: str, pid: int) -> None:
    if os.getpid() != pid:  # a forked child exiting: the folder is its parent's
        return
    try:
        for entry in os.scandir(path):
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
        os.rmdir(path)
    except OSError:
        pass


class LogStore:
    """A whole log (a build's, a run's): in memory while small, then in a temp file in
    :func:`spill_dir` (removed when the store is garbage collected or Python exits; left by a
    killed kernel, removed by the next process that spills)."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._size = 0
        self._file: TextIO | None = None
        self.path: str | None = None
        self.count = 0

    def append(self, line: str) -> None:
        self.extend([line])

    def extend(self, lines: list[str]) -> None:
        self.count += len(lines)
        if self._file is not None:
            self._file.write("\n".join(lines) + "\n")
            return
        self._lines.extend(lines)
        self._size += sum(map(len, lines)) + len(lines)
        if self._size > SPILL_AT:
            self._spill()

    def _spill(self) -> None:
        fd, self.path = tempfile.mkstemp(prefix="docker-magics-", suffix=".log", dir=spill_dir())
        self._file = os.fdopen(fd, "w", encoding="utf-8", errors="replace")
        weakref.finalize(self, _close_and_remove, self._file, self.path)
        self._file.write("\n".join(self._lines) + "\n")
        self._lines = []

    def text(self) -> str:
        if self._file is None or self.path is None:  # (both set by a spill)
            return "\n".join(self._lines) + ("\n" if self._lines else "")
        self._file.flush()
        with open(self.path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def __repr__(self) -> str:
        where = f"in {self.path}" if self.path else "in memory"
        return f"<log: {counted(self.count, 'line')} {where}>"


def _close_and_remove(f, path: str) -> None:
    try:
        f.close()
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


class TextStore:
    """Text kept exactly as written (a container's stdout or stderr): in memory while
    small, then in a temp file in the same folder as :class:`LogStore`'s."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._size = 0
        self._file: TextIO | None = None
        self.path: str | None = None

    def write(self, text: str) -> None:
        if self._file is not None:
            self._file.write(text)
            return
        self._parts.append(text)
        self._size += len(text)
        if self._size > SPILL_AT:
            fd, self.path = tempfile.mkstemp(
                prefix="docker-magics-", suffix=".log", dir=spill_dir()
            )
            self._file = os.fdopen(fd, "w", encoding="utf-8", errors="replace", newline="")
            weakref.finalize(self, _close_and_remove, self._file, self.path)
            self._file.write("".join(self._parts))
            self._parts = []

    def text(self) -> str:
        if self._file is None or self.path is None:  # (both set by a spill)
            return "".join(self._parts)
        self._file.flush()
        with open(self.path, encoding="utf-8", errors="replace", newline="") as f:
            return f.read()
