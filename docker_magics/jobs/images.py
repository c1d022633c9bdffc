"""The image a job's tasks run, as ``docker service create`` resolves it: pinned to the
digest its registry has (asked through the engine, ``GET /distribution/NAME/json``), so
every node runs the same bytes. Knows the engine, not the cluster: the backend says how
many other nodes would have to pull it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from docker_magics.engine.session import Connection
from docker_magics.errors import BadArgument, how


@dataclass
class Image:
    """The image as the tasks will run it: with its digest when a registry has it."""

    reference: str
    platforms: list[tuple[str, str]] = field(default_factory=list)  # (architecture, os)
    auth: dict | None = None  # registry credentials the nodes pull with (None: no login)


def resolve(conn: Connection, image: str, *, pin: bool, other_nodes: Callable[[], int]) -> Image:
    """``image`` pinned to its registry's digest (unless ``pin`` is false or it has one).
    An image only this engine has is refused when ``other_nodes()`` would have to pull it."""
    from docker.errors import APIError, ImageNotFound

    from docker_magics.registry.credentials import CREDENTIALS, registry_of
    from docker_magics.registry.failures import registry_failure
    from docker_magics.registry.references import parse_reference

    ref = parse_reference(image)
    registry = registry_of(image)
    auth = CREDENTIALS.for_registry(registry)
    if not pin or ref.digest:
        return Image(image, auth=auth)
    api = conn.client.api
    try:
        found = api.inspect_distribution(image, auth_config=auth or {})
    except APIError as exc:
        message = str(exc.explanation or exc)
        reason = registry_failure(message, registry, had_credentials=bool(auth), reference=image)
    else:
        platforms = [
            (p["architecture"], p["os"])
            for p in found.get("Platforms") or []
            if p.get("os") and p.get("architecture")
        ]
        named = image if ref.tag else f"{image}:latest"
        return Image(f"{named}@{found['Descriptor']['digest']}", platforms, auth)
    try:
        api.inspect_image(image)
    except ImageNotFound:
        raise BadArgument(
            f"Cannot run the job: {reason[:1].lower() + reason[1:]}",
            "The nodes pull the image from its registry",
        ) from None
    n = other_nodes()
    if not n:  # one node: the image is where the tasks run
        return Image(image, auth=auth)
    raise BadArgument(
        f"The image {image} is only on this engine, not in a registry: the "
        f"{n} other node{'' if n == 1 else 's'} could not pull it ({reason.rstrip('.')})",
        "Push it to a registry every node reaches ("
        + how(
            f"%docker_tag {image} REGISTRY/NAME, then %docker_push REGISTRY/NAME",
            f"docker_magics.tag({image!r}, 'REGISTRY/NAME'), then "
            "docker_magics.push('REGISTRY/NAME')",
        )
        + ") and run the job with that name; or, if every node has it already, pass "
        + how("--no-resolve-image", "resolve_image=False"),
    )
