"""Containers of foreground runs whose kernel died (killed, force-restarted) before it could
remove them. A run the engine can clean up itself is created with AutoRemove, as
``docker run --rm`` does; one that has results to copy out (``--get``) cannot be, so every
foreground run carries a label naming its kernel process, and the next connection to the
engine removes those whose kernel is gone, saying so in one line."""

from __future__ import annotations

import os
import socket

from docker_magics.display.logstore import alive, start_time
from docker_magics.display.tables import counted

OWNER = "org.docker-magics.kernel"  # "MACHINE BOOT PID START" of the process that ran it


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return ""


def _machine() -> str:
    return _read("/etc/machine-id") or socket.gethostname() or "unknown"


def owner_label() -> dict[str, str]:
    """The label of a foreground run's container: this process, on this machine, since
    this boot."""
    pid = os.getpid()
    boot = _read("/proc/sys/kernel/random/boot_id") or "-"
    return {OWNER: f"{_machine()} {boot} {pid} {start_time(pid) or '-'}"}


def _owner_is_dead(value: str) -> bool:
    """Only a process of this machine can be known dead; one of another boot is."""
    words = value.split()
    if len(words) != 4 or not words[2].isdigit() or words[0] != _machine():
        return False
    _machine_id, boot, pid, start = words
    if boot != (_read("/proc/sys/kernel/random/boot_id") or "-"):
        return True
    return not alive(int(pid), "" if start == "-" else start)


def remove_leftovers(api) -> str | None:
    """Remove the containers of foreground runs whose kernel died; the line to tell, if any
    went. A dead kernel's container still running with AutoRemove is left to the engine
    (it removes it when it ends, as for ``docker run --rm``); the others are removed, running
    or not: nobody can read their output or copy their results out anymore."""
    from docker.errors import NotFound

    removed = []
    for entry in api.containers(all=True, filters={"label": [OWNER]}):
        if not _owner_is_dead((entry.get("Labels") or {}).get(OWNER, "")):
            continue
        try:
            if entry.get("State") == "running":
                if api.inspect_container(entry["Id"])["HostConfig"].get("AutoRemove"):
                    continue
            api.remove_container(entry["Id"], force=True, v=True)
        except NotFound:
            continue  # gone meanwhile
        removed.append(entry["Id"][:12])
    if not removed:
        return None
    them = "it" if len(removed) == 1 else "them"
    return (
        f"Removed {counted(len(removed), 'container')} left by runs in a kernel that "
        f"died before it could remove {them}: {', '.join(removed)}"
    )
