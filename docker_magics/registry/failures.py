"""Registry failures the engine reports for a push, pull or login, as one line that says
what to do (log in, check the name, trust the certificate...)."""

from __future__ import annotations

import posixpath
import re

from docker_magics.engine.diagnose import clause

AUTH_PROBLEMS = (
    "no basic auth credentials",
    "unauthorized",
    "authentication required",
    "requested access to the resource is denied",
    "401 Unauthorized",
)


_UNREACHABLE = (
    "connection refused",
    "no such host",
    "i/o timeout",
    "no route to host",
    "network is unreachable",
    "TLS handshake timeout",
    "context deadline exceeded",
    "Client.Timeout",
)


def engine_disk_full(message: str) -> str | None:
    """The engine's own disk filled up (the registry is not to blame): what to say, or
    None. The engine names the file it could not write, in its data root."""
    if "no space left on device" not in message.lower():
        return None
    written = re.search(r"(?:write|open|mkdir|create|rename|copy) (/\S+?):", message)
    where = f" ({posixpath.dirname(written.group(1))} on the engine's host)" if written else ""
    return (
        f"The engine's disk is full: no space left where it keeps images{where}. Free space "
        "there (docker system prune removes what no container uses), then try again"
    )


def registry_failure(
    message: str, registry: str, *, had_credentials: bool, reference: str | None = None
) -> str:
    """One line for a push/pull/login failure the engine reported about ``registry``
    (``reference``: the image as the user named it, when there is one)."""
    from docker_magics.errors import how
    from docker_magics.registry.credentials import display_name, login_command

    name = display_name(registry)
    login = login_command(registry)
    full = engine_disk_full(message)
    if full:
        return full
    if "does not exist locally" in message:
        image = message.split("with the tag:", 1)[-1].strip() if "tag:" in message else "it"
        image = reference or image  # the engine names the repository only
        return (
            f"There is no image {image} on the engine. Build it with "
            + how(f"%%docker_build -t {image}", f"docker_magics.build(..., tags={image!r})")
            + ", or name an existing image so with "
            + how(f"%docker_tag SOURCE {image}", f"docker_magics.tag('SOURCE', {image!r})")
        )
    if "manifest unknown" in message or "not found" in message and "manifest" in message:
        ref = re.search(r"manifest for (\S+) not found", message)
        what = ref.group(1) if ref else reference or "The image"
        return (
            f"{what} is not in the registry {name}: no such repository or tag. Check the name "
            "and the tag"
        )
    if "x509" in message or "certificate" in message:
        return (
            f"The engine does not trust the TLS certificate of the registry {name} "
            f"({clause(_after_colon(message))}). Install the registry's CA on the engine host "
            f"(/etc/docker/certs.d/{registry}/ca.crt), or, for a test registry, list it in the "
            "engine's insecure-registries"
        )
    if "server gave HTTP response to HTTPS client" in message:
        return (
            f"The registry {name} speaks plain HTTP but the engine expects HTTPS. List it in the "
            "engine's insecure-registries (daemon.json), or serve it with TLS"
        )
    if any(p in message for p in AUTH_PROBLEMS):
        if had_credentials:
            return (
                f"The registry {name} refused the credentials ({clause(_after_colon(message))})."
                f" Log in again with {login}"
            )
        return (
            f"The registry {name} requires a login ({clause(message)}). Log in with {login} "
            "(the password is asked for, never typed into the magic)"
        )
    if any(p in message for p in _UNREACHABLE):
        return (
            f"The registry {name} cannot be reached ({clause(_after_colon(message))}). Check "
            "the address and that the registry is running"
        )
    return f"The registry {name} answered: {clause(message)}"


def _after_colon(message: str) -> str:
    """Drop the leading ``Get "https://...":`` URL part the engine puts in front."""
    return re.sub(r'^(?:Get|Head|Post|Put) "[^"]*": ', "", message).strip()
