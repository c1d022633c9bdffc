"""A container run from start to end: check the options, create the container (pulling the
image if it is missing), copy files in, stream its output live, copy results out, remove it,
and return a ``RunResult`` or raise one clear line. Shared by ``%docker_run``,
``%%docker_run`` and ``docker_magics.run()``."""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Sequence
from typing import Any, TypeVar

from docker_magics.builds.plan import AddSpec, check_adds_data_root, engine_data_root
from docker_magics.display.progress import NullRenderer
from docker_magics.engine import streams
from docker_magics.engine.diagnose import explain
from docker_magics.engine.drive import Operation, drive
from docker_magics.engine.session import Connection
from docker_magics.errors import (
    BadArgument,
    DockerMagicsError,
    EngineError,
    Interrupted,
    Quoting,
    RunFailed,
    how,
    option,
    usage,
)
from docker_magics.registry.references import parse_reference
from docker_magics.runs.files import SCRIPT_PATH, copy_out, put_files
from docker_magics.runs.leftovers import owner_label
from docker_magics.runs.options import RunSpec, parse_ports
from docker_magics.runs.progress import RunText
from docker_magics.runs.result import RunRecorder, RunResult

LABEL = {"org.docker-magics.run": "1"}
R = TypeVar("R")


def _create(conn: Connection, spec: RunSpec, progress: str, *, auto_remove: bool = False) -> str:
    """The container, created (its image pulled when missing). ``auto_remove``: the engine
    removes it when it ends (``docker run --rm``), even if this kernel is gone by then; else
    a foreground one carries its kernel's label (:mod:`~docker_magics.runs.leftovers`)."""
    from docker.errors import APIError, ImageNotFound, InvalidArgument

    api = conn.client.api
    ports, bindings = parse_ports(spec.ports)
    labels = dict(LABEL)
    if not spec.detach and spec.remove:  # ours to remove: said whose, should we die first
        labels.update(owner_label())
    try:
        host_config = api.create_host_config(
            binds=spec.volumes or None,
            port_bindings=bindings or None,
            network_mode=spec.network,
            auto_remove=auto_remove,
        )
    except InvalidArgument as exc:  # e.g. "host" network_mode is incompatible with -p
        raise BadArgument(f"Options that do not go together: {exc}") from None
    kwargs: dict[str, Any] = dict(
        image=spec.image,
        command=spec.command,
        environment=spec.env or None,
        working_dir=spec.workdir,
        user=spec.user,
        ports=ports or None,
        name=spec.name,
        entrypoint=spec.entrypoint,
        host_config=host_config,
        labels=labels,
    )
    if spec.platform:
        kwargs["platform"] = spec.platform
    for attempt in (1, 2):
        try:
            return api.create_container(**kwargs)["Id"]
        except ImageNotFound as exc:
            other = _OTHER_PLATFORM.search(str(exc.explanation or ""))
            if other:  # present, but for another platform: pulling would not help here
                raise BadArgument(
                    f"{spec.image} is on the engine for {other.group(2)}, not {other.group(1)}",
                    "Drop --platform, or build or pull the image for that platform",
                ) from None
            if attempt == 2:
                raise
            _pull_missing(conn, spec.image, progress)
        except APIError as exc:
            raise EngineError(_create_failure(exc, spec)) from None
    raise AssertionError("unreachable")  # pragma: no cover


_OTHER_PLATFORM = re.compile(
    r"does not match the specified platform: wanted ([^,\s]+), actual: ([^,\s]+)"
)


def _pull_missing(conn: Connection, image: str, progress: str) -> None:
    from docker_magics.registry import transfers as registry

    if progress != "none":
        print(f"Unable to find image {image!r} locally")
    registry.pull_missing(conn, image, progress)


def _create_failure(exc, spec: RunSpec) -> str:
    message = str(exc.explanation or exc)
    if exc.status_code == 409 and "already in use" in message:
        return (
            f"The container name {spec.name} is already in use. Pick another "
            f"{option('--name')}, or remove that container with "
            + how(f"%docker_rm -f {spec.name}", f"docker_magics.remove({spec.name!r}, force=True)")
        )
    if "network" in message and "not found" in message:
        return f"No network named {spec.network} on the engine (see `docker network ls`)"
    if message.startswith("Invalid container name"):
        return (
            f"The container name {spec.name!r} is not allowed. Use at least two letters, "
            "digits, '_', '.' or '-', starting with a letter or a digit (e.g. "
            f"{usage('--name', 'my-job_2')})"
        )
    if "working directory" in message and "absolute path" in message:
        workdir = spec.workdir or ""
        return (
            f"-w {workdir}: the working directory must be an absolute path inside the "
            f"container. Write -w /{workdir.lstrip('./')} (or the path you meant)"
        )
    return f"The engine refused to create the container: {message}"


def _start_failure(exc, spec: RunSpec) -> str:
    message = str(getattr(exc, "explanation", "") or exc)
    busy = re.search(
        r"(?:listen (?:tcp|udp)[46]? ([^ ]+): bind: address already in use|"
        r"Bind for ([^ ]+) failed: port is already allocated)",
        message,
    )
    if busy:
        port = busy.group(1) or busy.group(2)
        return (
            f"Port {port} is already in use on the engine's host. Publish another host port "
            "(-p OTHER:PORT), or stop what uses it"
        )
    missing = re.search(
        r'exec: "([^"]+)": (executable file not found in \$PATH|'
        r"no such file or directory)",
        message,
    )
    if missing:
        return (
            f"{missing.group(1)} cannot be run in {spec.image} ({missing.group(2)}). Check "
            "the command, or use an image that has it"
        )
    if "network" in message and "not found" in message:
        return f"No network named {spec.network} on the engine (see `docker network ls`)"
    return f"The container could not start: {' '.join(message.split())}"


def _one_line(tail) -> str:
    lines = [t.strip() for _, t in tail if t.strip()][-3:]
    text = " | ".join(lines)
    return text if len(text) <= 200 else "…" + text[-199:]


def run(
    conn: Connection,
    spec: RunSpec,
    *,
    script: str | None = None,
    shell: str = "sh",
    adds: Sequence[str] = (),
    gets: Sequence[str] = (),
    progress: str = "auto",
) -> RunResult:
    """Run ``spec``; with ``script``, run it with ``shell`` inside the container instead."""
    parse_reference(spec.image, allow_id=True)
    add_specs = _checked_adds(conn, adds, gets, detach=spec.detach)
    if script is not None:
        _run_script(spec, shell)
    title = spec.image + (f" {shlex.join(spec.command)}" if spec.command else "")
    recorder = RunRecorder(title)
    # The engine removes the container at its end when nothing is to be copied out of it:
    # a kernel killed during the run leaves nothing behind (the CLI's --rm does the same;
    # engines older than API 1.30 cannot wait for a removal).
    auto_remove = spec.remove and (spec.detach or not gets and _waits_for_removal(conn))
    try:
        container_id = _create(conn, spec, progress, auto_remove=auto_remove)
    except DockerMagicsError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise explain(exc, conn.endpoint) from None
    job = _Run(conn, spec, container_id, recorder, add_specs, gets, script, shell)
    job.auto_remove = auto_remove and not spec.detach
    job.renderer = NullRenderer(recorder) if progress == "none" else RunText(recorder)
    return drive(job)


def _checked_adds(conn: Connection, adds, gets, *, detach: bool) -> list[AddSpec]:
    """``--add`` read and kept out of the engine's own data, ``--get`` refused where the run
    is not waited for."""
    add_specs = [AddSpec.parse(a) for a in adds]
    guard = engine_data_root(conn) if add_specs else None
    if guard is not None:
        check_adds_data_root(add_specs, guard)
    if detach and gets:
        raise BadArgument(
            f"{option('--get')} needs the run to finish: it cannot be used with {usage('--detach')}"
        )
    return add_specs


def _run_script(spec: RunSpec, shell: str) -> None:
    """The cell's script (copied in as ``SCRIPT_PATH``) is what runs, with ``shell``."""
    if spec.entrypoint:
        raise BadArgument(
            how(
                "--entrypoint has no effect on %%docker_run: the cell runs with --shell",
                "entrypoint has no effect with script=: the script runs with shell=",
            ),
            f"Give the interpreter with {usage('--shell', 'python3')}",
        )
    spec.entrypoint = shlex.split(shell) or ["sh"]
    spec.command = [SCRIPT_PATH]


def _waits_for_removal(conn: Connection) -> bool:
    """``POST /containers/{id}/wait?condition=...`` (next-exit, removed): API 1.30 on."""
    return tuple(int(p) for p in conn.api_version.split(".")) >= (1, 30)


class ContainerOperation(Operation[R]):
    """An operation that follows a container it created (a run, a notebook run): once the
    container has started, a lost engine is said as lost ``during`` it, and the container
    is left to be removed when the engine is back."""

    during = "the run"
    conn: Connection
    container_id: str
    started: bool

    def explain(self, exc: Exception) -> DockerMagicsError:
        error = explain(exc, self.conn.endpoint)  # the engine went away, or refused something
        if self.started:
            what = error.what[:1].lower() + error.what[1:]
            error = type(error)(f"Lost the engine during {self.during}: {what}", error.hint)
            self.conn.orphans.add(self.container_id)  # removed when the engine is back
        return error

    def remove_container(self) -> None:
        """Kill and remove the container, whatever its state, if the engine still answers."""
        try:
            streams.remove_container(self.conn.client.api, self.container_id)
        except Exception:  # noqa: BLE001 - the engine itself may be gone
            pass


class _Run(ContainerOperation[RunResult]):
    """A created container, run to its end (or started, with ``--detach``) by
    :func:`~docker_magics.engine.drive.drive`: files in, output live, results out, removed."""

    def __init__(self, conn, spec, container_id, recorder, adds, gets, script, shell) -> None:
        self.conn, self.spec, self.container_id, self.recorder = conn, spec, container_id, recorder
        self.adds, self.gets, self.script, self.shell = adds, list(gets), script, shell
        self.keep = spec.detach or not spec.remove
        self.auto_remove = False  # the engine removes it at its end (set by run())
        self.started = False
        self.exit_code: int | None = None
        self.files: list[str] = []

    def events(self):
        api, cid, spec = self.conn.client.api, self.container_id, self.spec
        config = api.inspect_container(cid)["Config"]  # the image's defaults too
        workdir = spec.workdir or config["WorkingDir"] or "/"
        if self.script is not None or self.adds:
            put_files(api, cid, self.script, self.adds, workdir, config.get("User") or "")
        if spec.detach:
            _start(api, cid, spec)
            return
        response, output = streams.attach(api, cid)
        waiting = None
        try:
            # Asked before the start, as the CLI does: a container the engine removes at
            # its end (AutoRemove) may be gone before a later wait could ask for its code.
            if _waits_for_removal(self.conn):
                waiting = streams.wait(api, cid, removed=self.auto_remove)
            _start(api, cid, spec)
            self.started = True
            yield from output
            if waiting is not None:
                self.exit_code = streams.exit_code(waiting)
            else:  # an engine older than API 1.30: no AutoRemove, it waits for us
                self.exit_code = api.wait(cid, timeout=None)["StatusCode"]
        finally:
            response.close()
            if waiting is not None:
                waiting.close()
        if self.exit_code == 0 and self.gets:
            self.files = copy_out(api, cid, self.gets, workdir)

    def interrupted(self) -> Interrupted:
        return Interrupted("Run interrupted; the container was stopped and removed")

    def cleanup(self, error) -> None:
        if error is None and self.keep:
            return
        self.keep = False
        self.remove_container()

    def conclude(self, error):
        if error is not None:
            raise error
        spec, recorder, api = self.spec, self.recorder, self.conn.client.api
        if spec.detach:
            name = spec.name or _name(api, self.container_id)
            detached = RunResult(
                spec.image, spec.command, None, recorder.elapsed(), self.container_id, name
            )
            return detached, ""
        result = RunResult(
            spec.image,
            spec.command,
            self.exit_code,
            recorder.elapsed(),
            self.container_id if self.keep else None,
            spec.name,
            recorder.output,
            recorder.stdout,
            recorder.stderr,
            self.files,
            self.shell if self.script is not None else None,
        )
        if self.exit_code != 0:
            raise self._failed(result)
        return result, ""

    def _failed(self, result: RunResult) -> RunFailed:
        last = _one_line(self.recorder.tail)
        what = "The script" if self.script is not None else "The command"
        said = f"{what} in {self.spec.image} exited with code {self.exit_code}"
        said += "" if last else " without output"
        notes = [f"nothing was copied out with {option('--get')}"] if self.gets else []
        if self.recorder.output.count > 3:
            notes.append("all of its output: docker_magics.last_run().stdout and .stderr")
        said += f" ({'; '.join(notes)})" if notes else ""
        # Its output last, as written: no full stop after it.
        return RunFailed(
            Quoting(f"{said}; its last output: {last}") if last else said, result=result
        )


def create(conn: Connection, spec: RunSpec, progress: str = "auto") -> str:
    """Create the container of ``spec`` (pulling its image if the engine lacks it) and
    return its id; refusals are one line. For features that run a container their own way
    (``reproduce``'s notebook runs); ``start`` starts it."""
    parse_reference(spec.image)
    return _create(conn, spec, progress)


def start(api, container_id: str, spec: RunSpec) -> None:
    """Start a container made by :func:`create` (a refusal is one line)."""
    _start(api, container_id, spec)


def _start(api, container_id: str, spec: RunSpec) -> None:
    from docker.errors import APIError

    try:
        api.start(container_id)
    except APIError as exc:
        raise EngineError(_start_failure(exc, spec)) from None
    if spec.ports:
        _warn_if_unpublished(api, container_id, spec.network)


def _warn_if_unpublished(api, container_id: str, network: str | None) -> None:
    """The engine accepts -p on networks that cannot publish (an engine without its bridge
    network, --network none or host) and says nothing: say it."""
    from docker.errors import APIError, NotFound

    mode = network or "default"
    try:
        try:
            settings = api.inspect_container(container_id)
        except NotFound:  # removed at its end already
            settings = {"State": {}}
        if settings["State"].get("Running"):
            published = any(settings["NetworkSettings"].get("Ports") or {})
        else:  # it ended already (`true`), its ports with it: its network says if it had any
            published = _maps_ports(api, mode)
    except APIError:  # (a warning is a nicety: the run goes on)
        return
    if not published:
        print(
            f"Warning: -p published no port: the container's network ({mode}) does not map "
            f"ports on this engine. Use a bridge network ({usage('--network', 'NAME')} of a "
            "`docker network create` network)",
            file=sys.stderr,
        )


def _maps_ports(api, mode: str) -> bool:
    """Whether the network ``mode`` (--network) publishes ports: a bridge (or overlay)
    network the engine has; ``default`` is the engine's ``bridge`` network, which an engine
    started without it (dockerd --bridge=none) does not have."""
    from docker.errors import NotFound

    if mode.startswith("container:"):
        return False
    try:
        driver = api.inspect_network("bridge" if mode == "default" else mode).get("Driver")
    except NotFound:
        return False
    return driver in ("bridge", "overlay")


def _name(api, container_id: str) -> str:
    return api.inspect_container(container_id)["Name"].lstrip("/")
