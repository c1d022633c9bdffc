"""What is on the engine, as tables (``docker images``, ``docker ps``), and the small
container/image chores (logs, stop, rm, rmi) with one-line errors."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

from docker_magics.display.once import said
from docker_magics.display.tables import Lines, Table, human_size
from docker_magics.engine import streams
from docker_magics.engine.diagnose import clause, explain
from docker_magics.engine.dockerpy import internals
from docker_magics.engine.drive import Operation, drive
from docker_magics.engine.session import Connection
from docker_magics.errors import BadArgument, DockerMagicsError, EngineError, how, usage
from docker_magics.runs.progress import RunText
from docker_magics.runs.result import ContainerLog, RunRecorder


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


def _filters(items: Iterable[str]) -> dict[str, str | list[str] | bool]:
    """``--filter KEY=VALUE`` options as docker-py takes them (values of a key in a list)."""
    filters: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BadArgument(f"Invalid filter {item!r}", f"Use {usage('--filter', 'KEY=VALUE')}")
        filters.setdefault(key, []).append(value)
    return dict(filters)


# The filters `docker ps` and `docker images` document (the engine may know more).
_FILTERS = {
    "containers": "id, name, label, status, exited, ancestor, before, since, volume, "
    "network, publish, expose, health, isolation, is-task",
    "images": "dangling, label, before, since, reference",
}
_STATUSES = "created, restarting, running, removing, paused, exited, dead"


def _filter_refused(
    exc: Exception, conn: Connection, listing: str, items: list[str]
) -> DockerMagicsError:
    """The engine's refusal of a listing's filters ("Invalid filter 'x'", a value it cannot
    read) as a line that says which filters and values there are."""
    from docker.errors import APIError

    if not items or not isinstance(exc, APIError) or not 400 <= (exc.status_code or 0) < 600:
        return explain(exc, conn.endpoint)
    said = " ".join(str(exc.explanation or exc).split()).rstrip(".")
    if said.startswith("invalid filter"):  # engine 26's words for 20.10's "Invalid filter"
        said = "I" + said[1:]
    keys = {item.partition("=")[0] for item in items}
    unknown = [k for k in keys if f"Invalid filter '{k}'" in said]
    if unknown:
        of = how(f"%docker_{'ps' if listing == 'containers' else listing}", f"{listing}()")
        repeat = how("--filter KEY=VALUE, repeatable", "filters=['KEY=VALUE', ...]")
        hint = f"The filters of {of}: {_FILTERS[listing]} ({repeat})"
    elif listing == "containers" and "'status=" in said:
        hint = f"A status is one of {_STATUSES}"
    else:
        hint = "Check the value: a number, a name or an ID, true or false, as the filter takes"
    shown = " ".join(usage("--filter", item) for item in items)
    return BadArgument(f"The engine refused {shown}: {said}", hint)


def images(
    conn: Connection, name: str | None = None, *, all: bool = False, filters: Iterable[str] = ()
) -> Table:
    """``docker images [NAME]``: one row per tag that matches (the engine filters the tags of
    ``GET /images/json``; docker-py's ``images.list`` would show every tag of a match)."""
    from docker.errors import NotFound

    wanted = _filters(list(filters))
    try:
        listed = conn.client.api.images(name=name, all=all, filters=wanted)
        found = []
        for entry in listed:
            try:
                found.append(conn.client.images.get(entry["Id"]))
            except NotFound:  # removed meanwhile
                continue
    except Exception as exc:  # noqa: BLE001
        raise _filter_refused(exc, conn, "images", list(filters)) from None
    present = {image.id for image in found}
    rows = []
    for entry in listed:
        if entry["Id"] not in present:
            continue
        for tag in entry.get("RepoTags") or ["<none>:<none>"]:
            repo, _, version = tag.rpartition(":")
            rows.append(
                (
                    repo,
                    version,
                    entry["Id"].split(":")[-1][:12],
                    human_age(_epoch(entry.get("Created"))),
                    human_size(entry.get("Size")),
                )
            )
    return Table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], rows, objects=found)


def containers(conn: Connection, *, all: bool = False, filters: Iterable[str] = ()) -> Table:
    try:
        # Containers removed between the listing and their inspection are left out (a
        # foreground run's --rm container may go at any moment).
        found = conn.client.containers.list(
            all=all, filters=_filters(list(filters)), ignore_removed=True
        )
    except Exception as exc:  # noqa: BLE001
        raise _filter_refused(exc, conn, "containers", list(filters)) from None
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
    columns = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    return Table(columns, rows, objects=found)


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


def _each(conn: Connection, targets: list[str], action, what: str) -> Lines:
    """Apply ``action`` (target -> (line, object)) to every target; report all successes,
    then fail with one line naming every target that could not be done."""
    from docker.errors import APIError, NotFound

    lines, objects, failed, missing = [], [], [], False
    for target in targets:
        try:
            line, obj = action(target)
        except NotFound:
            failed.append(f"there is no {what} {target} on the engine")
            missing = True
        except APIError as exc:
            failed.append(_refused(target, exc))
        except Exception as exc:  # noqa: BLE001
            raise explain(exc, conn.endpoint) from None
        else:
            lines.append(line)
            objects.append(obj)
    if failed:
        for line in lines:
            print(line)
        told = "; ".join(failed)
        if told.startswith("there"):
            told = "T" + told[1:]
        raise EngineError(told, _check_the_name(what) if missing else "")
    return Lines(lines, objects)


def _check_the_name(what: str) -> str:
    lists = {
        "container": how("%docker_ps -a", "docker_magics.containers(all=True)"),
        "image": how("%docker_images", "docker_magics.images()"),
    }[what]
    return f"Check the name ({lists} lists them)"


def _refused(target: str, exc) -> str:
    """What the engine refused about ``target``, in words that say what to do."""
    refusal = " ".join(str(exc.explanation or exc).split())
    if re.search(r"remove a running container|container is running", refusal):
        stop = how(f"%docker_stop {target}", f"docker_magics.stop({target!r})")
        force = how(f"%docker_rm -f {target}", f"docker_magics.remove({target!r}, force=True)")
        return f"{target} is running: stop it first ({stop}) or use {force}"
    return f"{target}: {clause(refusal)}"


def stop(conn: Connection, targets: list[str], timeout: int = 10) -> Lines:
    """``.objects``: the stopped containers (docker-py ``Container``). ``timeout`` -1 waits
    for each to stop however long it takes, as ``docker stop -t -1`` does."""
    api = conn.client.api

    def stop_one(target: str):
        # docker-py would wait for the answer api.timeout + timeout seconds: 59 for -1.
        wait = None if timeout < 0 else api.timeout + timeout
        raw = internals(api)
        response = raw._post(
            raw._url("/containers/{0}/stop", target), params={"t": timeout}, timeout=wait
        )
        raw._raise_for_status(response)
        return f"Stopped {target}", conn.client.containers.get(target)

    return _each(conn, targets, stop_one, "container")


def remove(conn: Connection, targets: list[str], *, force: bool = False) -> Lines:
    """``.objects``: the removed containers' ids."""

    def remove_one(target: str):
        container_id = conn.client.api.inspect_container(target)["Id"]
        conn.client.api.remove_container(container_id, force=force, v=True)
        return f"Removed {target}", container_id

    return _each(conn, targets, remove_one, "container")


def remove_images(conn: Connection, targets: list[str], *, force: bool = False) -> Lines:
    """``.objects``: the engine's records for each image (``{"Untagged": ...}``,
    ``{"Deleted": ...}``), as ``docker rmi`` prints them."""

    def rmi(target: str):
        result = conn.client.api.remove_image(target, force=force) or []
        lines = [f"{k}: {v}" for entry in result for k, v in entry.items()]
        return "\n".join(lines) or f"Removed {target}", result

    return _each(conn, targets, rmi, "image")


def logs(
    conn: Connection,
    target: str,
    *,
    follow: bool = False,
    tail: int | None = None,
    timestamps: bool = False,
) -> ContainerLog:
    """Show a container's output (stderr as stderr, bounded like a run's) and return it whole.
    With ``follow``, until the container stops or the user interrupts (a normal end)."""
    recorder = RunRecorder(target)
    job = _Logs(conn, target, recorder, follow=follow, tail=tail, timestamps=timestamps)
    return drive(job)


class _Logs(Operation[ContainerLog]):
    def __init__(self, conn: Connection, target: str, recorder, **options) -> None:
        self.conn, self.target, self.options = conn, target, options
        self.recorder = recorder
        self.renderer = RunText(recorder)  # it writes as lines come: following shows them live
        self.stopped = False

    def events(self):
        from docker.errors import NotFound

        api = self.conn.client.api
        try:
            tty = bool(api.inspect_container(self.target)["Config"].get("Tty"))
        except NotFound:
            raise BadArgument(
                f"There is no container {self.target} on the engine", _check_the_name("container")
            ) from None
        response, output = streams.logs(api, self.target, tty=tty, **self.options)
        try:
            yield from output
        finally:
            response.close()

    def interrupted(self) -> None:
        self.stopped = True  # following ends when the user says so
        return None

    def explain(self, exc: Exception) -> DockerMagicsError:
        return explain(exc, self.conn.endpoint)  # e.g. a logging driver that cannot be read

    def conclude(self, error):
        if error is not None:
            raise error
        r = self.recorder
        log = ContainerLog(self.target, r.output, r.stdout, r.stderr)
        said(log)  # its lines were shown as they came: the cell's result need not repeat them
        return log, "(stopped following)" if self.stopped else ""
