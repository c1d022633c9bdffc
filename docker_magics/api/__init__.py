"""The Python API: everything a magic does, as a function call.

    >>> import docker_magics as dm
    >>> conn = dm.connect("tcp://127.0.0.1:2375", alias="remote")
    >>> dm.client().images.list()

All functions share one module-level :class:`~docker_magics.engine.session.Session` with the
magics, so a connection opened here is the one ``%%docker_build`` uses, and the other way round.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from docker_magics import normalise
from docker_magics.display.tables import KeyValues, Lines, Table
from docker_magics.engine.endpoints import parse_headers, resolve
from docker_magics.engine.session import (
    DEFAULT_TIMEOUT,
    SSH_CLIENTS,
    Connection,
    Session,
    check_timeout,
)
from docker_magics.errors import BadArgument, how

if TYPE_CHECKING:  # pragma: no cover
    import docker


def _remove_leftovers(conn: Connection) -> None:
    """On every new connection: the containers of runs whose kernel died go, in one line."""
    from docker_magics.runs.leftovers import remove_leftovers

    said = remove_leftovers(conn.client.api)
    if said:
        print(said)


SESSION = Session(on_connect=[_remove_leftovers])
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
    :class:`~docker_magics.errors.DockerMagicsError` with a one-line message on failure.
    ``timeout``: seconds to wait for an answer, from 0.1 to a week."""
    timeout = check_timeout(timeout)
    normalise.texts(url=url, alias=alias, context=context, api_version=api_version)
    normalise.flags(tls=tls, tlsverify=tlsverify)
    if headers is not None:  # a mapping, or NAME=VALUE strings
        items = normalise.pairs(headers, "headers")
        headers = items if isinstance(items, dict) else parse_headers(items)
    endpoint = resolve(
        url, context=context, tls=tls, tlsverify=tlsverify,
        tlscacert=normalise.path(tlscacert, "tlscacert"),
        tlscert=normalise.path(tlscert, "tlscert"), tlskey=normalise.path(tlskey, "tlskey"),
        cert_path=normalise.path(cert_path, "cert_path"), api_version=api_version,
        headers=headers,
    )  # fmt: skip
    ssh_client = normalise.choice(ssh_client, "ssh_client", SSH_CLIENTS)
    return SESSION.connect(endpoint, alias=alias, timeout=timeout, ssh_client=ssh_client)


def current() -> Connection:
    """The current connection (connecting as the docker CLI would, if there is none)."""
    return SESSION.current()


def client() -> docker.DockerClient:
    """The current connection's ``docker.DockerClient``."""
    return current().client


def switch(alias: str) -> Connection:
    """Make the connection named ``alias`` the current one."""
    return SESSION.switch(_required(alias, "alias"))


def close(alias: str) -> None:
    """Close the connection named ``alias``."""
    SESSION.close(_required(alias, "alias"))


def connections() -> Table:
    """The open connections: alias, endpoint, TLS, engine and API version, current."""
    rows = [
        (
            "*" if conn.alias == SESSION.current_alias else "",
            conn.alias,
            conn.endpoint.url,
            conn.tls,
            conn.version.get("Version", "?"),
            conn.api_version,
        )
        for conn in SESSION.connections()
    ]
    return Table(["current", "alias", "endpoint", "TLS", "engine", "API"], rows)


def engine_info(conn: Connection | None = None) -> KeyValues:
    """A summary of the engine: version, storage, images and containers, registries."""
    from docker_magics.engine.info import describe

    conn = conn or current()
    return KeyValues(describe(conn), title=f"Docker engine at {conn.endpoint.url}")


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
    progress; returns a :class:`~docker_magics.BuildResult`.

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
    from docker_magics.builds.dockerfile import check_target, classic_steps
    from docker_magics.builds.options import (
        BuildOptions,
        parse_pairs,
        parse_secrets,
        secret_build_values,
    )

    global _last_build
    progress = normalise.progress(progress)
    for name, value in {"dockerfile": dockerfile, "target": target, "platform": platform}.items():
        normalise.text(value, name)
    normalise.text(network, "network")
    normalise.flags(no_cache=no_cache, pull=pull, rm=rm, force_rm=force_rm)
    built, instructions = building.prepare_context(
        dockerfile,
        file=normalise.path(file, "file"),
        context_dir=normalise.path(context, "context"),
        adds=normalise.strings(add, "add", paths=True),
    )
    check_target(instructions, target)
    options = BuildOptions(
        tags=normalise.strings(tags, "tags"),
        build_args={
            **parse_pairs(normalise.pairs(build_args, "build_args"), "--build-arg", from_env=True),
            **secret_build_values(normalise.strings(secret_build_args, "secret_build_args")),
        },
        labels=parse_pairs(normalise.pairs(labels, "labels"), "--label"),
        target=target,
        platform=platform,
        network=network,
        cache_from=normalise.strings(cache_from, "cache_from"),
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
            secrets=parse_secrets(normalise.strings(secrets, "secrets")),
            instructions=instructions,
        )
    except BaseException as exc:  # Interrupted is a KeyboardInterrupt
        _last_build = getattr(exc, "result", None)
        raise
    return _last_build


def last_build():
    """The result of the last build, failed ones included (their log is kept)."""
    return _last_result(_last_build, "build", how("%%docker_build", "docker_magics.build()"))


def push(reference: str, *, all_tags: bool = False, progress: str = "auto"):
    """Push an image to its registry; returns a :class:`~docker_magics.PushResult`.
    A registry without authentication needs no login; others use the session's
    :func:`login` or the Docker config's saved credentials."""
    from docker_magics.registry import transfers

    reference = _required(reference, "reference")
    normalise.flags(all_tags=all_tags)
    progress = normalise.progress(progress)
    return transfers.push(current(), reference, all_tags=all_tags, progress=progress)


def pull(
    reference: str, *, all_tags: bool = False, platform: str | None = None, progress: str = "auto"
):
    """Pull an image; returns a :class:`~docker_magics.PullResult`."""
    from docker_magics.registry import transfers

    reference = _required(reference, "reference")
    normalise.flags(all_tags=all_tags)
    platform = normalise.text(platform, "platform")
    progress = normalise.progress(progress)
    return transfers.pull(
        current(), reference, all_tags=all_tags, platform=platform, progress=progress
    )


def tag(source: str, target: str) -> str:
    """Give the image ``source`` the name ``target``; returns the full new name."""
    from docker_magics.registry import transfers

    source, target = _required(source, "source"), _required(target, "target")
    return transfers.tag(current(), source, target)


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
    from docker_magics.registry import transfers

    for name, value in {"registry": registry, "username": username}.items():
        normalise.text(value, name)
    normalise.text(password_env, "password_env")
    normalise.flags(save=save)
    return transfers.login(
        current(), registry, username=username, password_env=password_env, save=save
    )


def logout(registry: str | None = None, *, saved: bool = False) -> str:
    """Forget the session's login to ``registry`` (``saved=True``: also the saved one)."""
    from docker_magics.registry import transfers

    normalise.flags(saved=saved)
    return transfers.logout(normalise.text(registry, "registry"), saved=saved)


def run(
    image: str,
    command: str | Iterable[str] | None = None,
    *,
    script: str | None = None,
    shell: str = "sh",
    env: Mapping[str, str] | str | Iterable[str] | None = None,
    env_files: str | Iterable[str] = (),
    volumes: str | Iterable[str] = (),
    ports: str | Iterable[str] = (),
    workdir: str | None = None,
    user: str | None = None,
    network: str | None = None,
    name: str | None = None,
    entrypoint: str | Iterable[str] | None = None,
    platform: str | None = None,
    detach: bool = False,
    remove: bool | None = None,
    add: str | Iterable[str] = (),
    get: str | Iterable[str] = (),
    progress: str = "auto",
):
    """Run a container: its output streams live, the value is a
    :class:`~docker_magics.RunResult`. With ``script``, run that text with ``shell``
    inside the container. ``add`` copies files in first (``SRC[:DEST]``); ``get`` copies
    results out (``PATH[:DEST]``) before the container is removed. A non-zero exit raises
    ``RunFailed`` (its ``result`` has the output; so has :func:`last_run`). List-typed
    arguments (``volumes``, ``ports``, ``add``...) also take one string, as one item."""
    from docker_magics.runs import runner
    from docker_magics.runs.options import RunSpec, parse_env, parse_volumes

    image = _required(image, "image")
    texts = {"script": script, "shell": shell, "workdir": workdir, "user": user}
    texts |= {"network": network, "name": name, "platform": platform}
    for key, value in texts.items():
        normalise.text(value, key)
    normalise.flags(detach=detach)
    if remove is not None:
        normalise.flag(remove, "remove")
    env_items = normalise.pairs(env, "env")
    if isinstance(env_items, dict):
        env_items = [f"{k}={v}" for k, v in env_items.items()]
    spec = RunSpec(
        image=image,
        command=normalise.command(command),
        env=parse_env(env_items, normalise.strings(env_files, "env_files", paths=True)),
        volumes=parse_volumes(normalise.strings(volumes, "volumes")),
        ports=normalise.strings(ports, "ports"),
        workdir=workdir,
        user=user,
        network=network,
        name=name,
        # As the CLI's --entrypoint: one program, not split into words.
        entrypoint=[entrypoint] if isinstance(entrypoint, str) else _optional_list(entrypoint),
        platform=platform,
        detach=detach,
        remove=(not detach) if remove is None else remove,
    )
    adds, gets = normalise.strings(add, "add", paths=True), normalise.strings(get, "get")
    progress = normalise.progress(progress)
    global _last_run
    _last_run = None
    try:
        _last_run = runner.run(
            current(), spec, script=script, shell=shell, adds=adds, gets=gets, progress=progress
        )
    except Exception as exc:
        _last_run = getattr(exc, "result", None)
        raise
    return _last_run


def last_run():
    """The result of the last foreground run, failed ones included (their whole output is
    kept: ``last_run().stdout``)."""
    return _last_result(_last_run, "run", how("%docker_run", "docker_magics.run()"))


def _last_result(result, what: str, magic: str):
    if result is None:
        raise BadArgument(
            f"No {what} result in this session (none ran, or the last one failed before it "
            "started)",
            f"Run {magic} first",
        )
    return result


def images(
    name: str | None = None, *, all: bool = False, filters: str | Iterable[str] = ()
) -> Table:
    """The engine's images, like ``docker images`` (``.objects``: docker-py Image objects)."""
    from docker_magics.runs import containers as listings

    normalise.flags(all=all)
    filters = normalise.strings(filters, "filters")
    return listings.images(current(), normalise.text(name, "name"), all=all, filters=filters)


def containers(*, all: bool = False, filters: str | Iterable[str] = ()) -> Table:
    """The engine's containers, like ``docker ps`` (``.objects``: docker-py Containers)."""
    from docker_magics.runs import containers as listings

    normalise.flags(all=all)
    return listings.containers(current(), all=all, filters=normalise.strings(filters, "filters"))


def logs(
    container: str, *, follow: bool = False, tail: int | None = None, timestamps: bool = False
):
    """Show a container's output (stderr as stderr, bounded like a run's) and return it whole
    as a :class:`~docker_magics.runs.result.ContainerLog` (``.text()``, ``.stdout``,
    ``.stderr``, ``.lines()``). With ``follow``, until the container stops or you
    interrupt."""
    from docker_magics.runs import containers as listings

    container = _required(container, "container")
    normalise.flags(follow=follow, timestamps=timestamps)
    if tail is not None:
        tail = int(
            normalise.number(tail, "tail", minimum=0, maximum=2**31 - 1, integer=True, unit="lines")
        )
    return listings.logs(current(), container, follow=follow, tail=tail, timestamps=timestamps)


def stop(containers: str | Iterable[str], *, timeout: int = 10) -> Lines:
    """Stop containers (killed after ``timeout`` seconds; ``-1``, as with ``docker stop``:
    wait for them to stop however long it takes); one line per container, ``.objects`` the
    docker-py ``Container`` objects."""
    from docker_magics.runs import containers as listings

    timeout = int(
        normalise.number(
            timeout,
            "timeout",
            minimum=-1,
            maximum=2**31 - 1,
            integer=True,
            unit="seconds",
            hint="-1 waits for the container to stop however long it takes",
        )
    )
    return listings.stop(current(), _names(containers, "containers"), timeout)


def remove(containers: str | Iterable[str], *, force: bool = False) -> Lines:
    """Remove containers (``force``: kill running ones first); one line per container,
    ``.objects`` their ids."""
    from docker_magics.runs import containers as listings

    normalise.flags(force=force)
    return listings.remove(current(), _names(containers, "containers"), force=force)


def remove_images(images: str | Iterable[str], *, force: bool = False) -> Lines:
    """Remove images, like ``docker rmi``; what the engine untagged and deleted
    (``.objects``: its records)."""
    from docker_magics.runs import containers as listings

    normalise.flags(force=force)
    return listings.remove_images(current(), _names(images, "images"), force=force)


def history(image: str):
    """An image's layers, oldest first: the instruction that made each, its size and age, as
    a table and a bar chart of the sizes (the largest stand out); returns an
    :class:`~docker_magics.storage.layers.ImageHistory` (``.layers``, ``.size``, ``.raw``)."""
    from docker_magics.storage import layers

    return layers.history(current(), _required(image, "image"))


def df():
    """What the engine's disk holds, like ``docker system df``: images, containers, local
    volumes and build cache (how many, how many in use, their size, what removing the unused
    ones would free), as a table and a bar chart; returns a
    :class:`~docker_magics.storage.disk.DiskUsage` (``["Images"].reclaimable``, ``.raw``)."""
    from docker_magics.storage import disk

    return disk.disk_usage(current())


def _required(value: object, name: str) -> str:
    text = normalise.text(value, name)
    if not text:
        raise BadArgument(f"{name} is required")
    return text


def _names(value: object, name: str) -> list[str]:
    names = normalise.strings(value, name)
    if not names:
        raise BadArgument(f"{name}: give at least one name")
    return names


def _optional_list(value: object) -> list[str] | None:
    return normalise.strings(value, "entrypoint") if value is not None else None


# Later features keep their API in a module of their own here, re-exported: one facade, in
# modules small enough to read.
from docker_magics.api.jobs import job, last_job, nodes  # noqa: E402, F401
from docker_magics.api.reproduce import freeze, freeze_plan, run_notebook  # noqa: E402, F401

# What the facade offers (docker_magics re-exports the same names lazily: tests/unit check it).
__all__ = [
    *("connect", "current", "client", "switch", "close", "connections", "engine_info"),
    *("build", "last_build", "last_run", "push", "pull", "tag", "login", "logout", "run"),
    *("images", "containers", "logs", "stop", "remove", "remove_images", "history", "df"),
    *("freeze", "freeze_plan", "run_notebook", "job", "last_job", "nodes"),
]
