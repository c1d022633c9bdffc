"""What a run is asked to do: the container's settings, and ``-e``/``--env-file``, ``-p`` and
``-v`` read as the docker CLI reads them."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docker_magics.errors import BadArgument, usage


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
            raise BadArgument(
                f"{usage('--env-file', path)}: {exc.strerror}", "Check the path"
            ) from None
        lines += [
            (usage("--env-file", path), line.strip())
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


_PORT_USAGE = "Use -p [IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL], e.g. -p 8080:80 or -p 53:53/udp"


def parse_ports(items: list[str]) -> tuple[dict[str, dict], dict[int | str, Any]]:
    """``-p`` values read as the docker CLI reads them (go-connections ``nat.ParsePortSpecs``,
    after the CLI's ``published=...,target=...`` form is made ``HOST:CONTAINER/PROTO``): the
    exposed ports (``{"80/tcp": {}}``) and their bindings (``{"80/tcp": [{"HostIp": "",
    "HostPort": "8080"}]}``), as the engine takes them."""
    exposed: dict[str, dict] = {}
    bindings: dict[int | str, Any] = {}  # (docker-py's type: ports may be numbers there)
    for item in items:
        for port, binding in _port_spec(_standard_notation(item)):
            exposed.setdefault(port, {})
            bindings.setdefault(port, []).append(binding)
    return exposed, bindings


def _standard_notation(item: str) -> str:
    """``published=8080,target=80,protocol=udp`` -> ``8080:80/udp`` (other keys ignored)."""
    if "=" not in item:
        return item
    params = {"protocol": "tcp"}
    for param in item.split(","):
        key, sep, value = param.partition("=")
        if not sep or not key:
            raise BadArgument(
                f"Invalid -p value {item!r}: {param!r} is not NAME=VALUE",
                "Use -p published=HOST_PORT,target=CONTAINER_PORT[,protocol=udp]",
            )
        params[key] = value
    return f"{params.get('published', '')}:{params.get('target', '')}/{params['protocol']}"


def _port_spec(raw: str) -> list[tuple[str, dict[str, str]]]:
    def bad(why: str) -> BadArgument:
        return BadArgument(f"Invalid -p value {raw!r}: {why}", _PORT_USAGE)

    parts = raw.split(":")
    ip, host, container = (
        ":".join(parts[:-2]) if len(parts) > 2 else "",
        parts[-2] if len(parts) > 1 else "",
        parts[-1],
    )
    container, _, proto = container.partition("/")
    if not container:
        raise bad("no container port")
    proto = (proto or "tcp").lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise bad(f"invalid protocol {proto} (tcp, udp or sctp)")
    if ip.startswith("["):  # [IPv6]
        if not ip.endswith("]") or "]" in ip[1:-1]:
            raise bad(f"invalid IP address {ip}")
        ip = ip[1:-1]
    if ip and not _is_ip(ip):
        raise bad(f"invalid IP address {ip}")
    first, last = _port_range(container, bad, "container port")
    host_first = host_last = 0
    if host:
        host_first, host_last = _port_range(host, bad, "host port")
        if last - first != host_last - host_first and last != first:
            raise bad(f"the container ports {container} and host ports {host} differ in number")
    count = last - first + 1
    out = []
    for i in range(count):
        host_port = ""
        if host:
            host_port = str(host_first + i)
            if count == 1 and host_first != host_last:  # a range the engine picks from
                host_port += f"-{host_last}"
        out.append((f"{first + i}/{proto}", {"HostIp": ip, "HostPort": host_port}))
    return out


def _port_range(text: str, bad, what: str) -> tuple[int, int]:
    """``PORT`` or ``FIRST-LAST``, decimal digits only, each 0-65535, FIRST <= LAST. As in
    go-connections, words after a second ``-`` are ignored (``1-2-3`` is ``1-2``)."""
    words = text.split("-")
    first, last = words[0], words[1] if len(words) > 1 else words[0]
    if not (first.isdigit() and last.isdigit() and first.isascii() and last.isascii()):
        raise bad(f"invalid {what} {text}")
    low, high = int(first), int(last)
    if high > 65535 or low > 65535:
        raise bad(f"invalid {what} {text} (ports go from 0 to 65535)")
    if high < low:
        raise bad(f"invalid {what} range {text}")
    return low, high


def _is_ip(text: str) -> bool:
    import ipaddress

    if "%" in text:  # a zone: Go's net.ParseIP takes none
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


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
