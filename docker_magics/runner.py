"""A container run from start to end: check the options, create the container (pulling the
image if it is missing), copy files in, stream its output live, copy results out, remove it,
and return a ``RunResult`` or raise one clear line. Shared by ``%docker_run``,
``%%docker_run`` and ``docker_magics.run()``."""

from __future__ import annotations

import errno
import io
import os
import posixpath
import re
import shlex
import shutil
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import ops
from .context import AddSpec, TarWriter
from .credentials import redact_event
from .diagnose import explain
from .errors import BadArgument, DockerMagicsError, EngineError, Interrupted, RunFailed
from .progress import NullRenderer, ProgressText
from .references import parse_reference
from .runs import RunRecorder, RunResult
from .session import Connection

SCRIPT_PATH = "/.docker-magics/cell"
LABEL = {"org.docker-magics.run": "1"}


@dataclass
class RunSpec:
    image: str
    command: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    volumes: list[str] = field(default_factory=list)
    ports: list[str] = field(default_factory=list)
    workdir: str | None = None
    user: str | None = None
    network: str | None = None
    name: str | None = None
    entrypoint: list[str] | None = None
    platform: str | None = None
    detach: bool = False
    remove: bool = True


def parse_env(items: list[str], env_files: list[str] = ()) -> dict[str, str]:
    """``-e NAME=VALUE`` / ``-e NAME`` (from the environment, left out when unset, as the
    docker CLI does) and ``--env-file`` lines."""
    env: dict[str, str] = {}
    lines: list[tuple[str, str]] = []
    for path in env_files:
        try:
            text = Path(os.path.expanduser(path)).read_text(encoding="utf-8")
        except OSError as exc:
            raise BadArgument(f"--env-file {path}: {exc.strerror}", "Check the path") from None
        lines += [
            (f"--env-file {path}", line.strip())
            for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
    lines += [("-e", item) for item in items]
    for where, item in lines:
        name, sep, value = item.partition("=")
        if not name or not re.fullmatch(r"[^\s=]+", name):
            raise BadArgument(f"Invalid {where} entry {item!r}", "Use NAME=VALUE or NAME")
        if sep:
            env[name] = value
        elif name in os.environ:
            env[name] = os.environ[name]
    return env


def parse_ports(items: list[str]) -> tuple[list, dict]:
    """``-p [IP:][HOST:]CONTAINER[/PROTO]`` -> docker-py's exposed ports and bindings."""
    from docker.utils.ports import build_port_bindings

    try:
        bindings = build_port_bindings(items)
    except (ValueError, TypeError) as exc:
        raise BadArgument(
            f"Invalid -p value ({exc})",
            "Use -p [IP:]HOST_PORT:CONTAINER_PORT[/udp], e.g. -p 8080:80",
        ) from None
    return list(bindings), bindings


def parse_volumes(items: list[str]) -> list[str]:
    """``-v SOURCE:TARGET[:OPTIONS]``; a relative host path is made absolute."""
    binds = []
    for item in items:
        parts = item.split(":")
        if len(parts) not in (2, 3) or not parts[1].startswith("/") or not parts[0]:
            raise BadArgument(
                f"Invalid -v value {item!r}", "Use -v HOST_PATH_OR_VOLUME:/container/path[:ro]"
            )
        if len(parts) == 3 and not set(parts[2].split(",")) <= {
            "ro",
            "rw",
            "z",
            "Z",
            "shared",
            "slave",
            "private",
            "rshared",
            "rslave",
            "rprivate",
            "nocopy",
        }:
            raise BadArgument(f"Invalid -v options in {item!r}", "Use ro or rw")
        source = parts[0]
        if source.startswith((".", "~")) or "/" in source:
            source = os.path.abspath(os.path.expanduser(source))
        binds.append(":".join([source, *parts[1:]]))
    return binds


def _create(conn: Connection, spec: RunSpec, progress: str, **extra) -> str:
    from docker.errors import APIError, ImageNotFound, InvalidArgument

    api = conn.client.api
    ports, bindings = parse_ports(spec.ports)
    try:
        host_config = api.create_host_config(
            binds=spec.volumes or None,
            port_bindings=bindings or None,
            network_mode=spec.network,
            auto_remove=spec.detach and spec.remove,
        )
    except InvalidArgument as exc:  # e.g. "host" network_mode is incompatible with -p
        raise BadArgument(f"Options that do not go together: {exc}") from None
    kwargs = dict(
        image=spec.image,
        command=spec.command,
        environment=spec.env or None,
        working_dir=spec.workdir,
        user=spec.user,
        ports=ports or None,
        name=spec.name,
        entrypoint=spec.entrypoint,
        host_config=host_config,
        labels=LABEL,
        **extra,
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
    from . import registry

    if progress != "none":
        print(f"Unable to find image {image!r} locally")
    try:
        registry.pull(conn, image, progress=progress)
    except Interrupted:
        raise
    except DockerMagicsError as exc:
        reason = exc.what[:1].lower() + exc.what[1:]
        raise EngineError(
            f"The image {image} is not on the engine and cannot be pulled: {reason}", exc.hint
        ) from None


def _create_failure(exc, spec: RunSpec) -> str:
    message = str(exc.explanation or exc)
    if exc.status_code == 409 and "already in use" in message:
        return (
            f"The container name {spec.name} is already in use. Pick another --name, or "
            f"remove that container with %docker_rm -f {spec.name}"
        )
    if "network" in message and "not found" in message:
        return f"No network named {spec.network} on the engine (see `docker network ls`)"
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


def _put_files(
    api,
    container_id: str,
    script: str | None,
    adds: list[AddSpec],
    workdir: str,
    user: str,
) -> None:
    """Copy the cell's script and ``--add`` files in (parent folders are created), owned by
    the user the container runs as, so the script can change them."""
    tar = TarWriter(owner=_ids_of(api, container_id, user))

    def chunks():
        if script is not None:
            yield from tar.add_bytes(SCRIPT_PATH.lstrip("/"), script.encode(), 0o755)
        for add in adds:
            dest = posixpath.normpath(posixpath.join(workdir, add.dest)).lstrip("/")
            yield from tar.add_tree(dest, str(add.src))
        yield from tar.close()

    api.put_archive(container_id, "/", chunks())  # streamed: a big --add costs no memory


def _ids_of(api, container_id: str, user: str) -> tuple[int, int]:
    """``USER[:GROUP]`` (names or numbers) as ids, read from the container's own
    /etc/passwd and /etc/group as the engine does at start (its archive endpoint would look
    them up on the engine's host instead). Unknown names: root, the start will say why."""
    name, _, group = user.partition(":")
    if not name or name == "root" and not group:
        return 0, 0

    def table(path: str) -> dict[str, list[str]]:
        try:
            stream, _ = api.get_archive(container_id, path)
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
                member = tar.next()
                text = tar.extractfile(member).read().decode("utf-8", "replace")
        except Exception:  # noqa: BLE001 - no such file in the image: numeric ids only
            return {}
        entries = [line.split(":") for line in text.splitlines() if line.count(":") >= 3]
        return {e[0]: e for e in entries} | {e[2]: e for e in entries}

    passwd = table("/etc/passwd")
    entry = passwd.get(name)
    uid = int(name) if name.isdigit() else int(entry[2]) if entry else 0
    if group:
        found = table("/etc/group").get(group)
        gid = int(group) if group.isdigit() else int(found[2]) if found else 0
    else:
        gid = int(entry[3]) if entry and entry[3].isdigit() else 0
    return uid, gid


def _copy_out(api, container_id: str, gets: list[str], workdir: str) -> list[str]:
    """``--get PATH[:DEST]``: copy files or folders out of the stopped container, as
    ``docker cp`` does: into DEST when it is an existing folder (or ends with ``/``), merging
    (files of the same name replaced, nothing deleted); else as DEST. Without DEST, into the
    current folder. ``PATH/.`` copies a folder's contents. Engine failures propagate (the
    caller explains them); local ones become one line here."""
    from docker.errors import APIError, NotFound

    copied = []
    for item in gets:
        path, _, dest = item.partition(":")
        source = posixpath.normpath(posixpath.join(workdir, path))
        target = Path(os.path.expanduser(dest or ".")).absolute()
        try:
            stream, _stat = api.get_archive(container_id, source)
        except NotFound:
            raise BadArgument(
                f"--get {path}: the container has no {source}",
                "Check the path the script writes to",
            ) from None
        except APIError as exc:
            raise EngineError(f"--get {path}: the engine refused ({_explanation(exc)})") from None
        workspace = None
        try:
            if dest.endswith(("/", os.sep)):
                target.mkdir(parents=True, exist_ok=True)
            parent = target if target.is_dir() else target.parent
            parent.mkdir(parents=True, exist_ok=True)
            # Unpacked next to the destination, so that the moves below are renames.
            workspace = Path(tempfile.mkdtemp(prefix=".docker-magics-get-", dir=parent))
            archive = workspace / "out.tar"
            f = open(archive, "wb")
        except OSError as exc:
            if workspace is not None:
                shutil.rmtree(workspace, ignore_errors=True)
            raise _cannot_write(path, target, exc) from None
        try:
            with f:
                for chunk in stream:  # a lost engine raises here, for the caller
                    try:
                        f.write(chunk)
                    except OSError as exc:
                        raise _cannot_write(path, target, exc) from None
            try:
                copied.append(str(_unpack_into(archive, workspace / "x", target, path)))
            except OSError as exc:
                raise _cannot_write(path, target, exc) from None
            except tarfile.TarError as exc:
                raise BadArgument(
                    f"--get {path}: cannot unpack what the engine sent ({exc})"
                ) from None
        finally:
            shutil.rmtree(workspace, ignore_errors=True)
    return copied


def _cannot_write(path: str, target: Path, exc: OSError) -> BadArgument:
    return BadArgument(
        f"--get {path}: cannot write {target} ({exc.strerror or exc})",
        "Choose a destination you can write to",
    )


def _explanation(exc) -> str:
    return " ".join(str(getattr(exc, "explanation", None) or exc).split())


def _extraction_filter(member, dest):
    """Python's ``data`` filter, except that symlinks pointing elsewhere are kept as they are
    (``docker cp`` keeps them: e.g. a venv's ``bin/python -> /usr/bin/python3``) and device
    files are skipped. Nothing is ever written through a link: both filters check that."""
    try:
        return tarfile.data_filter(member, dest)
    except (tarfile.AbsoluteLinkError, tarfile.LinkOutsideDestinationError):
        if member.issym():
            return tarfile.tar_filter(member, dest)
        raise
    except tarfile.SpecialFileError:
        return None


def _unpack_into(archive: Path, unpacked: Path, target: Path, path: str) -> Path:
    """Unpack ``GET /archive`` (one top entry, a file or a folder) at ``target``."""
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        if not members:
            raise BadArgument(f"--get {path}: the engine sent an empty archive")
        top = members[0].name.split("/")[0]
        if hasattr(tarfile, "data_filter"):
            tar.extractall(unpacked, filter=_extraction_filter)
        else:  # pragma: no cover - Pythons without extraction filters
            tar.extractall(unpacked)
    got = unpacked / top
    if not got.is_symlink() and not got.exists():  # skipped by the filter
        raise BadArgument(
            f"--get {path}: it is a device or a pipe, not a file, folder or link",
            "Copy out files and folders",
        )
    contents = path.endswith("/.")
    if target.is_dir() and not (got.is_dir() and contents):
        target = target / top  # an existing folder receives the entry by its name
    if got.is_dir() and not got.is_symlink():
        if target.exists() and not target.is_dir():
            raise BadArgument(
                f"--get: {target} is a file and the container's path is a folder",
                "Give a folder (or a new name) as the destination",
            )
        _merge_tree(got, target)
    else:
        if target.is_dir() and not target.is_symlink():
            raise BadArgument(
                f"--get: {target} is a folder and the container's path is a file",
                "Give a file name (or another folder) as the destination",
            )
        _put(got, target)
    return target


def _merge_tree(source: Path, target: Path) -> None:
    """Move ``source``'s entries into ``target``; files (and links) replace files (and
    links), folders merge."""
    target.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        there = target / entry.name
        if entry.is_dir() and not entry.is_symlink():
            if there.is_symlink() or (there.exists() and not there.is_dir()):
                raise BadArgument(
                    f"--get: {there} is a file where the container has a folder",
                    "Move it away or choose another destination",
                )
            _merge_tree(entry, there)
        elif there.is_dir() and not there.is_symlink():
            raise BadArgument(
                f"--get: {there} is a folder where the container has a file",
                "Move it away or choose another destination",
            )
        else:
            _put(entry, there)


def _put(source: Path, target: Path) -> None:
    """Move a file or link to ``target``, replacing a file or link there (never writing
    through it). ``target``'s folder may be another mount: then copy (links as links)."""
    try:
        os.replace(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        if target.is_symlink() or target.exists():
            target.unlink()
        shutil.move(str(source), target)


class RunText(ProgressText):
    """The container's output as it comes, in the progress views' size budget (see
    :mod:`.progress`) with a larger burst, so a short script's output shows whole and a
    flood, however long, stays bounded: sampled lines, a note of what was skipped, and its
    last lines at the end. Everything is in the result."""

    BURST, RATE = 24_000, 3000
    END_LINES = 10

    def handle(self, event) -> None:
        lines = getattr(event, "lines", None)
        if lines:
            self.log(lines, self.err if event.stream == "stderr" else self.out)

    def finish(self, error: str | None, summary: str = "") -> None:
        self._stop()
        with self.lock:  # the end of the output; the error line, if any, is the caller's
            self._settle(close=True, ending=True)
            self._write(force=True)


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
    adds: list[str] = (),
    gets: list[str] = (),
    progress: str = "auto",
) -> RunResult:
    """Run ``spec``; with ``script``, run it with ``shell`` inside the container instead."""
    parse_reference(spec.image)
    add_specs = [AddSpec.parse(a) for a in adds]
    if spec.detach and gets:
        raise BadArgument("--get needs the run to finish: it cannot be used with --detach")
    if script is not None:
        if spec.entrypoint:
            raise BadArgument(
                "--entrypoint has no effect on %%docker_run: the cell runs with --shell",
                "Give the interpreter with --shell (e.g. --shell python3)",
            )
        spec.entrypoint = shlex.split(shell) or ["sh"]
        spec.command = [SCRIPT_PATH]
    api = conn.client.api
    title = spec.image + (f" {shlex.join(spec.command)}" if spec.command else "")
    recorder = RunRecorder(title)
    renderer = NullRenderer(recorder) if progress == "none" else RunText(recorder)
    try:
        container_id = _create(conn, spec, progress)
    except DockerMagicsError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise explain(exc, conn.endpoint) from None
    response = None
    keep = spec.detach or not spec.remove
    error: DockerMagicsError | None = None
    exit_code = None
    started = False
    files: list[str] = []
    try:
        config = api.inspect_container(container_id)["Config"]  # the image's defaults too
        workdir = spec.workdir or config["WorkingDir"] or "/"
        if script is not None or add_specs:
            _put_files(api, container_id, script, add_specs, workdir, config.get("User") or "")
        if spec.detach:
            _start(api, container_id, spec)
            return RunResult(
                spec.image,
                spec.command,
                None,
                recorder.elapsed(),
                container_id,
                spec.name or _name(api, container_id),
            )
        response, output = ops.attach(api, container_id)
        renderer.start()
        _start(api, container_id, spec)
        started = True
        for event in output:
            event = redact_event(event)
            recorder.handle(event)
            renderer.handle(event)
        exit_code = api.wait(container_id, timeout=None)["StatusCode"]
        if exit_code == 0 and gets:
            files = _copy_out(api, container_id, list(gets), workdir)
    except KeyboardInterrupt:
        keep = False
        error = Interrupted("Run interrupted; the container was stopped and removed")
    except DockerMagicsError as exc:
        keep, error = False, exc
    except Exception as exc:  # noqa: BLE001 - the engine went away, or refused something
        keep, error = False, explain(exc, conn.endpoint)
        if started:
            what = error.what[:1].lower() + error.what[1:]
            error = type(error)(f"Lost the engine during the run: {what}", error.hint)
            conn.orphans.add(container_id)  # removed when the engine is back
    finally:
        if response is not None:
            response.close()
        if not keep:
            try:
                ops.remove_container(api, container_id)
            except Exception:  # noqa: BLE001 - the engine itself may be gone
                pass
    renderer.finish(str(error) if error else None)
    if error is not None:
        raise error
    result = RunResult(
        spec.image,
        spec.command,
        exit_code,
        recorder.elapsed(),
        container_id if keep else None,
        spec.name,
        recorder.output,
        recorder.stdout,
        recorder.stderr,
        files,
        shell if script is not None else None,
    )
    if exit_code != 0:
        last = _one_line(recorder.tail)
        raise RunFailed(
            f"{'The script' if script is not None else 'The command'} in {spec.image} "
            f"exited with code {exit_code}"
            + (f"; its last output: {last}" if last else " without output")
            + (" (nothing was copied out with --get)" if gets else ""),
            "All of its output: docker_magics.last_run().stdout and .stderr"
            if recorder.output.count > 3
            else "",
            result=result,
        )
    return result


def _start(api, container_id: str, spec: RunSpec) -> None:
    from docker.errors import APIError

    try:
        api.start(container_id)
    except APIError as exc:
        raise EngineError(_start_failure(exc, spec)) from None
    if spec.ports:
        _warn_if_unpublished(api, container_id)


def _warn_if_unpublished(api, container_id: str) -> None:
    """The engine accepts -p on networks that cannot publish (an engine without its bridge
    network, --network none or host) and says nothing: say it."""
    settings = api.inspect_container(container_id)
    if not settings["State"].get("Running") or any(settings["NetworkSettings"].get("Ports") or {}):
        return  # (an exited container's ports are gone either way: nothing to tell)
    mode = settings["HostConfig"].get("NetworkMode") or "default"
    print(
        f"Warning: -p published no port: the container's network ({mode}) does not map "
        "ports on this engine. Use a bridge network (--network NAME of a `docker network "
        "create` network)",
        file=sys.stderr,
    )


def _name(api, container_id: str) -> str:
    return api.inspect_container(container_id)["Name"].lstrip("/")
