"""What an engine is: version, storage, images and containers, registries (``%docker_info``)."""

from __future__ import annotations

from docker_magics.display.tables import human_size
from docker_magics.engine.diagnose import explain
from docker_magics.engine.dockerpy import internals
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
        ("Connection", f"{conn.named}, {conn.tls_label}"),
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
        ("Image store", image_store(info)),
        ("Default builder", default_builder(conn)),
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


CONTAINERD_SNAPSHOTTER = "io.containerd.snapshotter.v1"


def image_store(info: dict) -> str:
    """Whether the engine keeps images in containerd's image store (the default of Docker
    Desktop and of new installs from Docker Engine 29): its storage driver is then a
    containerd snapshotter, which ``/info`` says as the CLI reads it (``driver-type``)."""
    status = dict(pair for pair in info.get("DriverStatus") or () if len(pair) == 2)
    if status.get("driver-type") == CONTAINERD_SNAPSHOTTER:
        return f"containerd image store (snapshotter {info.get('Driver', '?')})"
    return f"graph driver {info.get('Driver', '?')} (not the containerd image store)"


def default_builder(conn: Connection) -> str:
    """The builder ``docker build`` uses on this engine: BuildKit when ``/_ping`` says
    ``Builder-Version: 2`` (engines from 23 on), else the classic builder."""
    api = internals(conn.client.api)
    try:
        response = api._get(api._url("/_ping"))
        version = response.headers.get("Builder-Version", "1")
    except Exception:  # noqa: BLE001 - /info answered: this row is not worth a failure
        return "unknown (the engine did not answer /_ping)"
    if version == "2":
        return "BuildKit (what `docker build` uses on this engine)"
    return "classic (what `docker build` uses on this engine)"
