"""What an engine is: version, storage, images and containers, registries (``%docker_info``)."""

from __future__ import annotations

from docker_magics.display.tables import human_size
from docker_magics.engine.diagnose import explain
from docker_magics.engine.session import Connection


def describe(conn: Connection) -> list[tuple[str, object]]:
    """What ``%docker_info`` shows of the engine, as (name, value) rows."""
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
    return items
