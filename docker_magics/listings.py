"""What is on the engine, as tables (``docker images``, ``docker ps``), and the small
container/image chores (logs, stop, rm, rmi) with one-line errors."""

from __future__ import annotations

import time

from .diagnose import explain
from .errors import BadArgument, EngineError
from .session import Connection
from .tables import Table, human_size


def human_age(timestamp: float | None, now: float | None = None) -> str:
    """Like the docker CLI (go-units HumanDuration): "2 minutes ago", "About an hour ago"."""
    if not timestamp:
        return ""
    seconds = max(0.0, (now or time.time()) - timestamp)
    minutes, hours = seconds / 60, seconds / 3600
    if seconds < 1:
        text = "Less than a second"
    elif seconds < 60:
        text = "1 second" if int(seconds) == 1 else f"{int(seconds)} seconds"
    elif minutes < 60:
        text = "About a minute" if int(minutes) == 1 else f"{int(minutes)} minutes"
    elif hours < 1.5:
        text = "About an hour"
    elif hours < 48:
        text = f"{round(hours)} hours"
    elif hours < 24 * 7 * 2:
        text = f"{int(hours / 24)} days"
    elif hours < 24 * 30 * 2:
        text = f"{int(hours / 24 / 7)} weeks"
    elif hours < 24 * 365 * 2:
        text = f"{int(hours / 24 / 30)} months"
    else:
        text = f"{int(hours / 24 / 365)} years"
    return f"{text} ago"


def _filters(items: list[str]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BadArgument(f"Invalid filter {item!r}", "Use --filter KEY=VALUE")
        filters.setdefault(key, []).append(value)
    return filters


def images(
    conn: Connection, name: str | None = None, *, all: bool = False, filters: list[str] = ()
) -> Table:
    try:
        found = conn.client.images.list(name=name, all=all, filters=_filters(list(filters)))
    except Exception as exc:  # noqa: BLE001
        raise explain(exc, conn.endpoint) from None
    rows = []
    for image in found:
        attrs = image.attrs
        tags = attrs.get("RepoTags") or ["<none>:<none>"]
        for tag in tags:
            repo, _, version = tag.rpartition(":")
            rows.append(
                (
                    repo,
                    version,
                    image.short_id.split(":")[-1],
                    human_age(attrs.get("Created") and _epoch(attrs["Created"])),
                    human_size(attrs.get("Size")),
                )
            )
    table = Table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], rows)
    table.objects = found
    return table


def containers(conn: Connection, *, all: bool = False, filters: list[str] = ()) -> Table:
    try:
        found = conn.client.containers.list(all=all, filters=_filters(list(filters)))
    except Exception as exc:  # noqa: BLE001
        raise explain(exc, conn.endpoint) from None
    rows = []
    for c in found:
        attrs = c.attrs
        command = " ".join([attrs.get("Path", ""), *attrs.get("Args", [])]).strip()
        if len(command) > 20:
            command = command[:19] + "…"
        image = attrs["Config"]["Image"]
        if image.startswith("sha256:"):
            image = image[7:19]
        rows.append(
            (
                c.short_id,
                image,
                f'"{command}"',
                human_age(_epoch(attrs.get("Created"))),
                _status(attrs),
                _ports(c.ports),
                c.name,
            )
        )
    table = Table(["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"], rows)
    table.objects = found
    return table


def _epoch(value) -> float | None:
    if isinstance(value, (int, float)):
        return float(value)
    if not value:
        return None
    from datetime import datetime

    text = value.rstrip("Z")
    if "." in text:  # nanoseconds: Python takes microseconds
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    return datetime.fromisoformat(text + "+00:00").timestamp()


def _status(attrs: dict) -> str:
    state = attrs.get("State") or {}
    status = state.get("Status", "")
    if status == "running":
        return f"Up {human_age(_epoch(state.get('StartedAt'))).removesuffix(' ago')}"
    if status == "exited":
        return f"Exited ({state.get('ExitCode')}) {human_age(_epoch(state.get('FinishedAt')))}"
    return status.capitalize()


def _ports(ports: dict) -> str:
    shown = []
    for inside, bindings in (ports or {}).items():
        if not bindings:
            shown.append(inside)
            continue
        for b in bindings:
            shown.append(f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}->{inside}")
    return ", ".join(shown)


def _each(conn: Connection, targets: list[str], action, what: str) -> list[str]:
    """Apply ``action`` to every target; report all successes, then fail with one line
    naming every target that could not be done."""
    from docker.errors import APIError, NotFound

    done, failed = [], []
    for target in targets:
        try:
            done.append(action(target))
        except NotFound:
            failed.append(f"{target}: no such {what}")
        except APIError as exc:
            failed.append(f"{target}: {' '.join(str(exc.explanation or exc).split())}")
        except Exception as exc:  # noqa: BLE001
            raise explain(exc, conn.endpoint) from None
    if failed:
        for line in done:
            print(line)
        raise EngineError("; ".join(failed))
    return done


def stop(conn: Connection, targets: list[str], timeout: int = 10) -> list[str]:
    api = conn.client.api
    return _each(
        conn, targets, lambda t: api.stop(t, timeout=timeout) or f"Stopped {t}", "container"
    )


def remove(conn: Connection, targets: list[str], *, force: bool = False) -> list[str]:
    api = conn.client.api
    return _each(
        conn,
        targets,
        lambda t: api.remove_container(t, force=force, v=True) or f"Removed {t}",
        "container",
    )


def remove_images(conn: Connection, targets: list[str], *, force: bool = False) -> list[str]:
    api = conn.client.api

    def rmi(target: str) -> str:
        result = api.remove_image(target, force=force) or []
        lines = [f"{k}: {v}" for entry in result for k, v in entry.items()]
        return "\n".join(lines) or f"Removed {target}"

    return _each(conn, targets, rmi, "image")


def logs(
    conn: Connection,
    target: str,
    *,
    follow: bool = False,
    tail: int | None = None,
    timestamps: bool = False,
):
    """The container's output: ``(response, events)``; close the response to stop. Errors
    while reading come out of ``events`` as one-line errors too."""
    from docker.errors import NotFound

    from . import ops

    api = conn.client.api
    try:
        tty = bool(api.inspect_container(target)["Config"].get("Tty"))
        response, events = ops.logs(
            api, target, tty=tty, follow=follow, tail=tail, timestamps=timestamps
        )
    except NotFound:
        raise BadArgument(
            f"No container {target} on the engine", "%docker_ps -a lists them"
        ) from None
    except Exception as exc:  # noqa: BLE001 - e.g. a logging driver that cannot be read back
        raise explain(exc, conn.endpoint) from None

    def explained():
        try:
            yield from events
        except Exception as exc:  # noqa: BLE001 - the engine went away while following
            raise explain(exc, conn.endpoint) from None

    return response, explained()
