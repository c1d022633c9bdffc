"""The Python API: everything a magic does, as a function call.

    >>> import docker_magics as dm
    >>> conn = dm.connect("tcp://127.0.0.1:2375", alias="remote")
    >>> dm.client().images.list()

All functions share one module-level :class:`~docker_magics.session.Session` with the magics,
so a connection opened here is the one ``%%docker_build`` uses, and the other way round.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from docker_magics.display.tables import KeyValues, Lines, Table, human_size
from docker_magics.engine.diagnose import explain
from docker_magics.engine.endpoints import parse_headers, resolve
from docker_magics.engine.session import DEFAULT_TIMEOUT, Connection, Session
from docker_magics.errors import BadArgument

if TYPE_CHECKING:  # pragma: no cover
    import docker

SESSION = Session()
_last_build = None
_last_run = None


def connect(
    url: str | None = None,
    *,
    alias: str | None = None,
    context: str | None = None,
    tls: bool = False,
    tlsverify: bool = False,
    tlscacert: str | None = None,
    tlscert: str | None = None,
    tlskey: str | None = None,
    cert_path: str | None = None,
    api_version: str | None = None,
    headers: dict[str, str] | list[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    ssh_client: str = "auto",
) -> Connection:
    """Connect to an engine (as ``docker`` would resolve it when ``url`` and ``context`` are
    not given) and make it the current one. Raises a
    :class:`~docker_magics.errors.DockerMagicsError` with a one-line message on failure."""
    if isinstance(headers, list):
        headers = parse_headers(headers)
    endpoint = resolve(
        url,
        context=context,
        tls=tls,
        tlsverify=tlsverify,
        tlscacert=tlscacert,
        tlscert=tlscert,
        tlskey=tlskey,
        cert_path=cert_path,
        api_version=api_version,
        headers=headers,
    )
    return SESSION.connect(endpoint, alias=alias, timeout=timeout, ssh_client=ssh_client)


def current() -> Connection:
    """The current connection (connecting as the docker CLI would, if there is none)."""
    return SESSION.current()


def client() -> docker.DockerClient:
    """The current connection's ``docker.DockerClient``."""
    return current().client


def switch(alias: str) -> Connection:
    """Make the connection named ``alias`` the current one."""
    return SESSION.switch(alias)


def close(alias: str) -> None:
    """Close the connection named ``alias``."""
    SESSION.close(alias)


def connections() -> Table:
    """The open connections: alias, endpoint, TLS, engine and API version, current."""
    rows = [
        (
            "*" if conn.alias == SESSION.current_alias else "",
            conn.alias,
            conn.endpoint.url,
            conn.tls_label,
            conn.version.get("Version", "?"),
            conn.api_version,
        )
        for conn in SESSION.connections()
    ]
    return Table(["current", "alias", "endpoint", "TLS", "engine", "API"], rows)


def engine_info(conn: Connection | None = None) -> KeyValues:
    """A summary of the engine: version, storage, images and containers, registries."""
    conn = conn or current()
    try:
        info = conn.client.api.info()
    except Exception as exc:
        raise explain(exc, conn.endpoint) from None
    version = conn.version
    registry = info.get("RegistryConfig") or {}
    insecure = sorted(
        name
        for name, cfg in (registry.get("IndexConfigs") or {}).items()
        if not cfg.get("Secure", True)
    ) + list(registry.get("InsecureRegistryCIDRs") or [])
    containers = (
        f"{info.get('Containers', 0)} ({info.get('ContainersRunning', 0)} running, "
        f"{info.get('ContainersPaused', 0)} paused, {info.get('ContainersStopped', 0)} stopped)"
    )
    items = [
        ("Connection", f"{conn.alias} ({conn.endpoint.url}, {conn.tls_label})"),
        ("Engine", f"Docker Engine {version.get('Version', '?')}"),
        (
            "API version",
            f"{conn.api_version} (engine: {version.get('ApiVersion', '?')}, "
            f"minimum {version.get('MinAPIVersion', '?')})",
        ),
        ("OS/Arch", f"{info.get('OperatingSystem', '?')} ({conn.platform})"),
        ("Kernel", info.get("KernelVersion")),
        ("Name", info.get("Name")),
        ("Storage driver", info.get("Driver")),
        ("Root dir", info.get("DockerRootDir")),
        ("Images", info.get("Images")),
        ("Containers", containers),
        ("CPUs / memory", f"{info.get('NCPU')} / {human_size(info.get('MemTotal'))}"),
        ("Cgroup", f"{info.get('CgroupDriver', '?')} v{info.get('CgroupVersion', '?')}"),
        ("Runtime", info.get("DefaultRuntime")),
        ("Insecure registries", ", ".join(insecure) or "none"),
        ("Registry mirrors", ", ".join(registry.get("Mirrors") or []) or "none"),
        ("Warnings", "; ".join(info.get("Warnings") or []) or "none"),
    ]
    return KeyValues(items, title=f"Docker engine at {conn.endpoint.url}")


def build(
    dockerfile: str | None = None,
    *,
    tags: str | Iterable[str] = (),
    file: str | None = None,
    context: str | None = None,
    add: str | Iterable[str] = (),
    build_args: Mapping[str, str] | str | Iterable[str] | None = None,
    labels: Mapping[str, str] | str | Iterable[str] | None = None,
    target: str | None = None,
    platform: str | None = None,
    network: str | None = None,
    cache_from: str | Iterable[str] = (),
    no_cache: bool = False,
    pull: bool = False,
    rm: bool = True,
    force_rm: bool = True,
    progress: str = "auto",
    builder: str = "classic",
    secret_build_args: str | Iterable[str] = (),
    secrets: str | Iterable[str] = (),
):
    """Build an image from Dockerfile text (or ``file``) on the current engine, with live
    progress; returns a :class:`~docker_magics.results.BuildResult`.

    ``context`` sends a folder (honouring its ``.dockerignore``); ``add`` puts files or
    folders (``SRC[:DEST]``) into the context. A failure raises a ``DockerMagicsError`` with
    one line; a failed build's ``BuildFailed.result`` (and :func:`last_build`) keep its log.
    An interrupt raises ``errors.Interrupted``, a ``KeyboardInterrupt`` (not an ``Exception``).
    ``builder``: ``classic``, ``buildkit`` or ``auto`` (BuildKit when the engine offers it).
    List-typed arguments (``tags``, ``add``, ``cache_from``...) also take one string, as one
    item. ``secret_build_args``: names of environment variables passed as build arguments whose
    values are masked in every output and log (they still end up in the image's history,
    like any build argument). ``secrets``: BuildKit build secrets, as ``--secret`` takes
    them (``id=ID[,env=VAR|,src=FILE]``), for ``RUN --mount=type=secret,id=ID``.
    """
    from docker_magics.builds import builder as building
    from docker_magics.builds.dockerfile import classic_steps
    from docker_magics.builds.options import BuildOptions, parse_secrets
    from docker_magics.display.progress import MODES

    global _last_build
    if progress not in MODES:
        raise BadArgument(f"Unknown progress mode {progress!r}", "Use auto, widget, plain or none")
    texts = {"dockerfile": dockerfile, "target": target, "platform": platform, "network": network}
    for name, value in texts.items():
        if value is not None and not isinstance(value, str):
            raise BadArgument(f"{name} must be a string, not {type(value).__name__}")
    flags = {"no_cache": no_cache, "pull": pull, "rm": rm, "force_rm": force_rm}
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise BadArgument(f"{name} must be True or False, not {value!r:.40}")
    built, instructions = building.prepare_context(
        dockerfile,
        file=_path(file, "file"),
        context_dir=_path(context, "context"),
        adds=_strings(add, "add", paths=True),
    )
    options = BuildOptions(
        tags=_strings(tags, "tags"),
        build_args={
            **_pairs(build_args, "build_args", "--build-arg", from_env=True),
            **_secret_values(_strings(secret_build_args, "secret_build_args")),
        },
        labels=_pairs(labels, "labels", "--label"),
        target=target,
        platform=platform,
        network=network,
        cache_from=_strings(cache_from, "cache_from"),
        no_cache=no_cache,
        pull=pull,
        rm=rm,
        force_rm=force_rm,
    )
    _last_build = None
    try:
        _last_build = building.run_build(
            current(),
            built,
            options,
            total_steps=classic_steps(instructions, target, len(options.labels)),
            progress=progress,
            builder=builder,
            secrets=parse_secrets(_strings(secrets, "secrets")),
            instructions=instructions,
        )
    except BaseException as exc:  # Interrupted is a KeyboardInterrupt
        _last_build = getattr(exc, "result", None)
        raise
    return _last_build


def last_build():
    """The result of the last build, failed ones included (their log is kept)."""
    return _last_result(_last_build, "build", "%%docker_build")


def _secret_values(names: Iterable[str]) -> dict[str, str]:
    from docker_magics.errors import BadArgument
    from docker_magics.redaction import protect_value

    values = {}
    for name in names:
        if name not in os.environ:
            # Not repeated: it might be the secret itself, typed in the wrong place.
            raise BadArgument(
                "An environment variable given to --secret-build-arg is not set",
                "Set it before starting the kernel (or in the kernel with os.environ)",
            )
        protect_value(os.environ[name])
        values[name] = os.environ[name]
    return values


def _strings(value, name: str, *, paths: bool = False) -> list[str]:
    """A list-typed argument of the API: one string is one item (``tags="app:1"`` is one
    tag, not five), anything else must hold strings."""
    kinds = (str, os.PathLike) if paths else str
    if value is None:
        return []
    if isinstance(value, kinds):
        return [os.fspath(value)]
    try:
        items = list(value)
    except TypeError:
        items = None
    if items is None or isinstance(value, (bytes, Mapping)):
        raise BadArgument(
            f"{name} must be a string or a list of strings, not {type(value).__name__}"
        )
    for item in items:
        if not isinstance(item, kinds):
            # The item is not shown: in secrets it could be the secret itself.
            raise BadArgument(f"{name} must hold strings, not {type(item).__name__}")
    return [os.fspath(item) for item in items]


def _path(value, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise BadArgument(f"{name} must be a path (a string), not {type(value).__name__}")


def _pairs(value, name: str, option: str, *, from_env: bool = False) -> dict[str, str]:
    """``build_args``/``labels``: a dict, or ``NAME=VALUE`` strings as the magic takes them."""
    from docker_magics.builds.options import parse_pairs

    if not isinstance(value, Mapping):
        return parse_pairs(_strings(value, name), option, from_env=from_env)
    pairs = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key or "=" in key or any(c.isspace() for c in key):
            raise BadArgument(f"Invalid name {key!r:.40} in {name}", "Use names such as VERSION")
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise BadArgument(f"{name}[{key!r}] must be a string, not {type(item).__name__}")
        pairs[key] = str(item)
    return pairs


def push(reference: str, *, all_tags: bool = False, progress: str = "auto"):
    """Push an image to its registry; returns a :class:`~docker_magics.transfer.PushResult`.
    A registry without authentication needs no login; others use the session's
    :func:`login` or the Docker config's saved credentials."""
    from docker_magics.registry import transfers as registry

    return registry.push(current(), reference, all_tags=all_tags, progress=progress)


def pull(
    reference: str, *, all_tags: bool = False, platform: str | None = None, progress: str = "auto"
):
    """Pull an image; returns a :class:`~docker_magics.transfer.PullResult`."""
    from docker_magics.registry import transfers as registry

    return registry.pull(
        current(), reference, all_tags=all_tags, platform=platform, progress=progress
    )


def tag(source: str, target: str) -> str:
    """Give the image ``source`` the name ``target``; returns the full new name."""
    from docker_magics.registry import transfers as registry

    return registry.tag(current(), source, target)


def login(
    registry: str | None = None,
    *,
    username: str | None = None,
    password_env: str | None = None,
    save: bool = False,
) -> str:
    """Check credentials with the registry (through the engine) and keep them for this
    session; ``save=True`` also stores them like ``docker login``. The password comes from the
    environment variable named by ``password_env``, or is asked for with ``getpass``."""
    from docker_magics.registry import transfers as reg

    return reg.login(current(), registry, username=username, password_env=password_env, save=save)


def logout(registry: str | None = None, *, saved: bool = False) -> str:
    """Forget the session's login to ``registry`` (``saved=True``: also the saved one)."""
    from docker_magics.registry import transfers as reg

    return reg.logout(registry, saved=saved)


def run(
    image: str,
    command: list[str] | str | None = None,
    *,
    script: str | None = None,
    shell: str = "sh",
    env: Mapping[str, str] | Iterable[str] | None = None,
    env_files: Iterable[str] = (),
    volumes: Iterable[str] = (),
    ports: Iterable[str] = (),
    workdir: str | None = None,
    user: str | None = None,
    network: str | None = None,
    name: str | None = None,
    entrypoint: str | list[str] | None = None,
    platform: str | None = None,
    detach: bool = False,
    remove: bool | None = None,
    add: Iterable[str] = (),
    get: Iterable[str] = (),
    progress: str = "auto",
):
    """Run a container: its output streams live, the value is a
    :class:`~docker_magics.runs.RunResult`. With ``script``, run that text with ``shell``
    inside the container. ``add`` copies files in first (``SRC[:DEST]``); ``get`` copies
    results out (``PATH[:DEST]``) before the container is removed. A non-zero exit raises
    ``RunFailed`` (its ``result`` has the output; so has :func:`last_run`)."""
    import shlex

    from docker_magics.runs import runner
    from docker_magics.runs.options import RunSpec, parse_env, parse_volumes

    if isinstance(env, Mapping):
        env = [f"{k}={v}" for k, v in env.items()]
    spec = RunSpec(
        image=image,
        command=shlex.split(command) if isinstance(command, str) else (list(command or []) or None),
        env=parse_env(list(env or []), list(env_files)),
        volumes=parse_volumes(list(volumes)),
        ports=list(ports),
        workdir=workdir,
        user=user,
        network=network,
        name=name,
        # As the CLI's --entrypoint: one program, not split into words.
        entrypoint=[entrypoint] if isinstance(entrypoint, str) else entrypoint,
        platform=platform,
        detach=detach,
        remove=(not detach) if remove is None else remove,
    )
    global _last_run
    _last_run = None
    try:
        _last_run = runner.run(
            current(),
            spec,
            script=script,
            shell=shell,
            adds=list(add),
            gets=list(get),
            progress=progress,
        )
    except Exception as exc:
        _last_run = getattr(exc, "result", None)
        raise
    return _last_run


def last_run():
    """The result of the last foreground run, failed ones included (their whole output is
    kept: ``last_run().stdout``)."""
    return _last_result(_last_run, "run", "%docker_run")


def _last_result(result, what: str, magic: str):
    from docker_magics.errors import BadArgument

    if result is None:
        raise BadArgument(
            f"No {what} result in this session (none ran, or the last one failed before it "
            "started)",
            f"Run {magic} first",
        )
    return result


def images(name: str | None = None, *, all: bool = False, filters: Iterable[str] = ()) -> Table:
    """The engine's images, like ``docker images`` (``.objects``: docker-py Image objects)."""
    from docker_magics.runs import containers as listings

    return listings.images(current(), name, all=all, filters=list(filters))


def containers(*, all: bool = False, filters: Iterable[str] = ()) -> Table:
    """The engine's containers, like ``docker ps`` (``.objects``: docker-py Containers)."""
    from docker_magics.runs import containers as listings

    return listings.containers(current(), all=all, filters=list(filters))


def logs(
    container: str, *, follow: bool = False, tail: int | None = None, timestamps: bool = False
):
    """Show a container's output (stderr as stderr, bounded like a run's) and return it whole
    as a log store (``.text()``). With ``follow``, until the container stops or you
    interrupt."""
    from docker_magics.runs import containers as listings

    return listings.logs(current(), container, follow=follow, tail=tail, timestamps=timestamps)


def stop(containers: str | Iterable[str], *, timeout: int = 10) -> Lines:
    """Stop containers (killed after ``timeout`` seconds); one line per container,
    ``.objects`` the docker-py ``Container`` objects."""
    from docker_magics.runs import containers as listings

    return listings.stop(current(), _names(containers), timeout)


def remove(containers: str | Iterable[str], *, force: bool = False) -> Lines:
    """Remove containers (``force``: kill running ones first); one line per container,
    ``.objects`` their ids."""
    from docker_magics.runs import containers as listings

    return listings.remove(current(), _names(containers), force=force)


def remove_images(images: str | Iterable[str], *, force: bool = False) -> Lines:
    """Remove images, like ``docker rmi``; what the engine untagged and deleted
    (``.objects``: its records)."""
    from docker_magics.runs import containers as listings

    return listings.remove_images(current(), _names(images), force=force)


def _names(names: str | Iterable[str]) -> list[str]:
    return [names] if isinstance(names, str) else list(names)
