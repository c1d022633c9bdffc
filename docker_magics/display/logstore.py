"""Whole logs: a build's or a run's output kept in memory while small, then in a temp file in
a per-process spill folder (removed when the log is garbage collected or Python exits; a
killed kernel's folder is removed by the next process that spills). Never imports docker."""

from __future__ import annotations

import atexit
import os
import re
import stat
import sys
import tempfile
import weakref

from docker_magics.display.tables import counted

SPILL_AT = 1 << 20  # bytes of log kept in memory before it moves to a temp file
KEPT_IN_MEMORY = 32 << 20  # characters of a log kept when the temp folder cannot take it
TAIL = 20  # last lines kept per step, for the progress view and error messages


# -- where large logs go ----------------------------------------------------------------------
# One folder per process, ``docker-magics-UID-PID-START`` in the temp dir (START: the
# process's start time, so a reused pid is told apart). Files in it are removed when their
# log is garbage collected, the folder when Python exits; a kernel that was killed leaves
# its folder behind, and the next process to spill a log removes it.
_SPILL_NAME = re.compile(r"^docker-magics-(\d+)-(\d+)-(\d*)$")
_spill: tuple[int, str] | None = None  # (pid, folder) of this process
_warned = False  # said that the temp folder cannot take logs: memory only from then on


def start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), "" elsewhere or if it
    is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return ""


def alive(pid: int, start: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's: alive
        return True
    except OSError:
        return True
    return not start or start_time(pid) in ("", start)


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
        if not m or int(m[1]) != os.getuid() or alive(int(m[2]), m[3]):
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
    path = os.path.join(base, f"docker-magics-{os.getuid()}-{pid}-{start_time(pid)}")
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


class _Spilling:
    """Text appended piece by piece: in memory while small, then in a temp file in
    :func:`spill_dir` (removed when the store is garbage collected or Python exits; left by
    a killed kernel, removed by the next process that spills). When the temp folder cannot
    take it (full, a quota, read-only), the text goes on in memory, its last
    ``KEPT_IN_MEMORY`` characters only, and one warning line says so, once: from then on
    every log of the process stays in memory that way. A full temp folder never stops the
    work."""

    _left_out = "[earlier output left out: the temp folder was full]\n"

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._size = 0
        self._fd: int | None = None
        self._written = 0  # bytes in the file
        self._remove: weakref.finalize | None = None  # closes and removes the file
        self._bounded = False  # the temp folder failed: memory only, its tail kept
        self._cut = False  # text was left out to keep the bound
        self.path: str | None = None

    def _append(self, text: str) -> None:
        if self._fd is not None:
            data = text.encode("utf-8", "replace")
            try:
                _write_all(self._fd, data)
                self._written += len(data)
                return
            except OSError as exc:
                self._back_to_memory(exc)
        self._parts.append(text)
        self._size += len(text)
        if self._bounded:
            self._keep_the_tail()
        elif self._size > SPILL_AT:
            self._spill()

    def _spill(self) -> None:
        if _warned:  # the temp folder failed before: memory from now on, as the line said
            self._bounded = True
            self._keep_the_tail()
            return
        try:
            fd, path = tempfile.mkstemp(prefix="docker-magics-", suffix=".log", dir=spill_dir())
        except OSError as exc:
            self._go_bounded(exc)
            return
        self._fd, self.path, self._written = fd, path, 0
        self._remove = weakref.finalize(self, _close_and_remove, fd, path)
        try:
            data = "".join(self._parts).encode("utf-8", "replace")
            _write_all(fd, data)
        except OSError as exc:
            self._back_to_memory(exc, reread=False)
            return
        self._written = len(data)
        self._parts, self._size = [], 0

    def _back_to_memory(self, exc: OSError, *, reread: bool = True) -> None:
        """The file cannot grow: its last ``KEPT_IN_MEMORY`` characters come back to memory,
        and it is closed and removed at once."""
        tail = ""
        if reread and self.path is not None:
            start = max(0, self._written - KEPT_IN_MEMORY)
            try:
                with open(self.path, "rb") as f:
                    f.seek(start)
                    tail = f.read(self._written - start).decode("utf-8", "replace")
            except OSError:
                start = self._written  # gone as well: only what comes next is kept
            self._cut = self._cut or start > 0
            self._parts, self._size = [tail], len(tail)
        if self._remove is not None:
            self._remove()
        self._fd, self._remove, self.path = None, None, None
        self._go_bounded(exc)

    def _go_bounded(self, exc: OSError) -> None:
        global _warned
        self._bounded = True
        self._keep_the_tail()
        if not _warned:
            _warned = True
            print(
                f"Warning: the temp folder {tempfile.gettempdir()} cannot take large logs "
                f"({exc.strerror or exc}): they are kept in memory from now on, the last "
                f"{KEPT_IN_MEMORY >> 20} MiB of each. Free space there, or start the kernel "
                "with TMPDIR set to a folder with room",
                file=sys.stderr,
            )

    def _keep_the_tail(self) -> None:
        if self._size <= KEPT_IN_MEMORY:
            return
        text = "".join(self._parts)[-(KEPT_IN_MEMORY * 3 // 4) :]  # room to grow again
        self._parts, self._size, self._cut = [text], len(text), True

    def _text(self) -> str:
        if self._fd is None:
            text = "".join(self._parts)
            return self._left_out + text if self._cut else text
        with open(self.path, "rb") as f:  # type: ignore[arg-type]
            return f.read().decode("utf-8", "replace")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _close_and_remove(fd: int, path: str) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
    try:
        os.unlink(path)
    except OSError:
        pass


class LogStore(_Spilling):
    """A whole log (a build's, a run's), line by line: see :class:`_Spilling` for where it
    is kept."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def append(self, line: str) -> None:
        self.extend([line])

    def extend(self, lines: list[str]) -> None:
        if lines:
            self.count += len(lines)
            self._append("\n".join(lines) + "\n")

    def text(self) -> str:
        return self._text()

    def __repr__(self) -> str:
        where = f"in {self.path}" if self.path else "in memory"
        return f"<log: {counted(self.count, 'line')} {where}>"


class TextStore(_Spilling):
    """Text kept exactly as written (a container's stdout or stderr), kept as
    :class:`_Spilling` says (when the temp folder is full, its start may be left out)."""

    def write(self, text: str) -> None:
        if text:
            self._append(text)

    def text(self) -> str:
        return self._text()


class StreamTexts:
    """For a value that keeps a container's two streams apart (``stdout_log``,
    ``stderr_log``): ``stdout`` and ``stderr``, each exactly as it was written."""

    stdout_log: TextStore
    stderr_log: TextStore

    @property
    def stdout(self) -> str:
        return self.stdout_log.text()

    @property
    def stderr(self) -> str:
        return self.stderr_log.text()
