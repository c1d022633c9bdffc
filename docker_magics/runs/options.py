"""What a run is asked to do: the container's settings, and ``-e``/``--env-file``, ``-p`` and
``-v`` read as the docker CLI reads them."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from docker_magics.errors import BadArgument


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


def parse_env(items: list[str], env_files: Iterable[str] = ()) -> dict[str, str]:
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
