"""Build failures the engine reports in its stream (a RUN step's exit code, a file not in
the context, a base image it cannot pull, a Dockerfile it cannot parse), as one line that
says what to do."""

from __future__ import annotations

import re
from collections.abc import Callable

from docker_magics.engine.diagnose import clause, short
from docker_magics.errors import Quoting, how, option, usage
from docker_magics.registry.credentials import login_command
from docker_magics.registry.failures import AUTH_PROBLEMS, engine_disk_full

_NONZERO = re.compile(r"(?:returned a non-zero code|exit code): (\d+)")
CAUSE_WIDTH = 120  # characters of a failing step's last line quoted in the error


_NOT_IN_CONTEXT = re.compile(
    r"(?:(?:COPY|ADD) failed: .*?(?:stat |lstat )?([^:\s]+): file does not exist"
    r'|failed to compute cache key: "/?([^"]+)" not found)'
)


# "secret ID not found" (20.10), "secret ID: not found" (26)
_SECRET_MISSING = re.compile(r"\bsecret (\S+?):? not found")


_MANIFEST_URL = re.compile(r'/v2/(?:library/)?([^"]+?)/manifests/([^"/]+)"')


# The registry took the connection and then said nothing (the engine gives up after a while).
_HUNG = ("Client.Timeout", "request canceled", "deadline exceeded", "TLS handshake timeout")
_PULL_PROBLEMS = (
    *_HUNG,
    "pull access denied",
    "manifest unknown",
    "not found",
    "no such host",
    "dial tcp",
    "i/o timeout",
    "connection refused",
    "server gave HTTP response",
    "unauthorized",
)


def build_failure(
    message: str,
    code: int | None,
    step,
    *,
    instructions=(),
    pull: bool = False,
    on_engine: Callable[[str], bool] | None = None,
) -> str:
    """One line for a failure the engine reported during a build. ``step`` (a
    ``results.Step`` or None) is the step that was running; ``instructions`` the Dockerfile's
    (``dockerfile.parse``); ``pull``: the build was asked to pull base images, and
    ``on_engine(image)`` says whether the engine has one."""
    where = "The build"
    if step is not None and step.name.startswith("[internal]"):
        pass  # BuildKit's own vertexes (loading the Dockerfile, the context) are no step
    elif step is not None and step.name.startswith("["):  # BuildKit: "[stage 2/4] RUN make"
        where = f"Step {short(step.name)}"
    elif step is not None:
        number = f" {step.number}/{step.total}" if step.number else ""
        where = f"Step{number} ({short(step.name)})"
    rejected = dockerfile_rejected(message, instructions)
    if rejected:
        return rejected
    secret = _SECRET_MISSING.search(message)
    if secret:
        name = secret.group(1)
        return (
            f"{where} failed: {clause(message)}. The Dockerfile mounts the build secret {name}: "
            f"give it with {usage('--secret', f'id={name},env=VAR')} (or src=FILE)"
        )
    full = engine_disk_full(message)
    if full:
        return f"{where} failed: {full[:1].lower()}{full[1:]}"
    if "network bridge not found" in message:
        return (
            f"{where} failed: the engine has no default bridge network for RUN steps (its "
            f"dockerd runs with --bridge=none). Build with {usage('--network', 'none')} (or "
            f"{usage('--network', 'host')})"
        )
    nonzero = _NONZERO.search(message)
    if nonzero:
        failed = f"{where} failed with exit code {nonzero.group(1)}"
        cause = step.tail.cause() if step is not None else None
        if cause is None:
            printed = "" if step is None else " without printing anything"
            return f"{failed}{printed}. Fix the command and run the cell again"
        # The line that says why, here: a view of the last lines may not show it (the
        # engine delivers stdout and stderr in no reliable order).
        return Quoting(f"{failed}: {short(cause, CAUSE_WIDTH)}")
    missing = _NOT_IN_CONTEXT.search(message)
    if missing:
        name = missing.group(1) or missing.group(2)
        return (
            f"{where} failed: {name} is not in the build context (or .dockerignore excludes "
            f"it). Add it with {usage('--add', name)}, or build from a folder with "
            f"{usage('--context', 'DIR')}"
        )
    base = step is not None and (
        step.name.upper().startswith("FROM ") or "load metadata for" in step.name
    )
    needs_login = any(p in message for p in AUTH_PROBLEMS)
    if (base or "failed to create LLB definition" in message) and (
        needs_login or any(p in message for p in _PULL_PROBLEMS)
    ):
        url = _MANIFEST_URL.search(message)
        if url:
            image = f"{url.group(1)}:{url.group(2)}"
        elif step is not None and "load metadata" in step.name:
            image = step.name.split()[-1]
        elif step is not None and _image_words(step.name):
            image = _image_words(step.name)[0]
        else:
            image = "the base image"
        reason = re.sub(r'^.*?(?:Get|Head) "[^"]*": ', "", message)
        if needs_login:
            host = re.search(r"pulling from host (\S+)", message)
            registry = _registry_of(host.group(1) + "/x" if host else image)
            login = login_command(registry)
            why = clause(reason.rsplit(": ", 1)[-1])  # "401 Unauthorized", "no basic auth..."
            return (
                f"{where} failed: the registry {registry or 'of the base image'} wants a login "
                f"to pull the base image {image} ({why}). Log in with {login} and build again"
            )
        if any(p in message for p in _HUNG):
            registry = _registry_of(image) or "of the base image"
            return (
                f"{where} failed: the registry {registry} did not answer in time for the base "
                f"image {image} ({clause(reason)}): it may be hung. Check that it runs and "
                f"answers, or build from an image the engine has ({_lists_images()} them)"
            )
        if pull and on_engine is not None and on_engine(image):
            return (
                f"{where} failed: {usage('--pull')} could not refresh the base image {image} "
                f"({clause(reason)}). The engine has it: without {usage('--pull')} the build "
                "uses that one"
            )
        return (
            f"{where} failed: the base image {image} is not on the engine and cannot be pulled "
            f"({clause(reason)}). Build or load it first ({_lists_images()} what the engine has), "
            "or use another base image"
        )
    return f"{where} failed: {clause(message)}"


def _lists_images() -> str:
    return how("%docker_images lists", "docker_magics.images() lists")


def _registry_of(image: str) -> str | None:
    """The registry of ``image`` as the user names it (Docker Hub by name)."""
    from docker_magics.registry.credentials import display_name, registry_of

    return display_name(registry_of(image))


def _image_words(name: str) -> list[str]:
    """The image of a ``FROM [--platform=X] IMAGE [AS NAME]`` step."""
    return [w for w in name.split()[1:] if not w.startswith("--")][:1]


def dockerfile_rejected(message: str, instructions=()) -> str | None:
    """The engine's answer for a Dockerfile it cannot parse, as one line. ``instructions``
    (``dockerfile.parse``) tell whether the line is in a heredoc."""
    from docker_magics.builds.dockerfile import heredoc_around

    m = re.search(r"dockerfile parse error (?:on )?line (\d+): (.*)", message, re.I)
    if not m:
        return None
    line = int(m.group(1))
    text = f"Dockerfile line {line}: {clause(m.group(2))}"
    heredoc = heredoc_around(list(instructions), line)
    if heredoc is not None:
        text += (
            f". It is in the heredoc of line {heredoc.line} ({short(str(heredoc), 40)}), and "
            "this engine's Dockerfile parser does not support heredocs. Put the commands on the "
            f"RUN line (RUN a && b), or {option('--add')} a script and RUN it"
        )
    return text
