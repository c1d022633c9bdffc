"""Push, pull, login and tag from start to end: check the reference, find credentials, run
the transfer through the recorder and a renderer, and return a result or raise one clear,
redacted line. Shared by the magics and the Python API."""

from __future__ import annotations

import getpass
import os

from docker_magics.engine import streams
from docker_magics.engine.diagnose import explain
from docker_magics.engine.drive import Operation, drive
from docker_magics.engine.session import Connection
from docker_magics.errors import (
    BadArgument,
    DockerMagicsError,
    EngineError,
    Interrupted,
    MaybeSecretArgument,
    how,
    option,
    usage,
)
from docker_magics.redaction import protect, redact
from docker_magics.registry.credentials import (
    CREDENTIALS,
    INDEX,
    display_name,
    erase_saved_login,
    normalize_registry,
    registry_of,
    save_login,
)
from docker_magics.registry.failures import registry_failure
from docker_magics.registry.progress import transfer_renderer
from docker_magics.registry.references import (
    is_registry_host,
    older_engine_refusal,
    parse_reference,
)
from docker_magics.registry.result import PullResult, PushResult, TransferRecorder


class _Transfer(Operation):
    """A push or a pull, followed by :func:`~docker_magics.engine.drive.drive`. Subclasses
    start the stream and make the result."""

    verb = ""

    def __init__(self, conn: Connection, title: str, registry: str, progress: str) -> None:
        self.conn, self.registry = conn, registry
        self.auth = CREDENTIALS.for_registry(registry)
        self.recorder = TransferRecorder(self.verb, title)
        self.renderer = transfer_renderer(progress, self.recorder)
        self.reference = None if title.endswith(" (all tags)") else title

    def interrupted(self) -> Interrupted:
        what = f"{self.verb.capitalize()} of {self.recorder.title}"
        return Interrupted(f"{what} interrupted; the engine stopped it")

    def explain(self, exc: Exception) -> DockerMagicsError:
        message = getattr(exc, "explanation", None)  # HTTP errors before the stream...
        if _timed_out(exc):
            return EngineError(
                f"No progress from the registry {display_name(self.registry)} for "
                f"{self.conn.client.api.timeout:g}s: it may be hung. The {self.verb} was stopped",
                "Check the registry, or allow more time with %config DockerMagics.timeout",
            )
        if message and getattr(exc, "status_code", None):
            version = self.conn.version.get("Version", "?")
            name = self.recorder.title.removesuffix(" (all tags)")
            older = older_engine_refusal(str(message), [name], version)
            return EngineError(older or self._registry_says(str(message)))
        return explain(exc, self.conn.endpoint)  # ...a lost engine

    def _registry_says(self, message: str) -> str:
        had = self.auth is not None
        return registry_failure(
            message, self.registry, had_credentials=had, reference=self.reference
        )

    def conclude(self, error):
        if error is None and self.recorder.failure is not None:
            error = EngineError(self._registry_says(self.recorder.failure.message))
        if error is not None:
            raise type(error)(redact(error.what), redact(error.hint))
        result = self.result()
        return result, result.summary()

    def result(self):
        raise NotImplementedError


def _timed_out(exc: BaseException) -> bool:
    import requests

    from docker_magics.engine.diagnose import causes

    return any(isinstance(e, (TimeoutError, requests.Timeout)) for e in causes(exc))


class _Push(_Transfer):
    verb = "push"

    def __init__(self, conn: Connection, repository: str, tag: str | None, progress: str):
        title = repository + (f":{tag}" if tag else " (all tags)")
        super().__init__(conn, title, registry_of(repository), progress)
        self.repository, self.tag = repository, tag

    def events(self):
        header = CREDENTIALS.header(self.auth)
        return streams.push(self.conn.client, self.repository, self.tag, header)

    def result(self) -> PushResult:
        recorder = self.recorder
        result = PushResult(
            self.repository,
            [self.tag] if self.tag else [],
            list(recorder.pushed),
            recorder.outcomes(),
            recorder.elapsed(),
        )
        if not result.digests:
            raise EngineError(
                f"The engine finished pushing {recorder.title} without a digest",
                "Check the registry",
            )
        return result


def push(
    conn: Connection, reference: str, *, all_tags: bool = False, progress: str = "auto"
) -> PushResult:
    ref = parse_reference(reference, allow_digest=False)
    if all_tags and ref.tag:
        raise BadArgument(
            f"{usage('--all-tags')} pushes every tag of {ref.repository}: give the name "
            f"without a tag (not {reference})"
        )
    tag = None if all_tags else (ref.tag or "latest")
    return drive(_Push(conn, ref.repository, tag, progress))


class _Pull(_Transfer):
    verb = "pull"

    def __init__(self, conn: Connection, ref, tag: str | None, platform, progress: str):
        shown = ref.repository + (
            " (all tags)" if tag is None else f"@{tag}" if ref.digest else f":{tag}"
        )
        super().__init__(conn, shown, registry_of(ref.repository), progress)
        self.repository, self.tag, self.platform = ref.repository, tag, platform

    def events(self):
        header = CREDENTIALS.header(self.auth)
        client = self.conn.client
        return streams.pull(client, self.repository, self.tag, header, self.platform)

    def result(self) -> PullResult:
        statuses = self.recorder.statuses
        digest = next((s.split(": ", 1)[1] for s in statuses if s.startswith("Digest: ")), None)
        status = next((s for s in statuses if s.startswith("Status: ")), "")
        image_id = size = None
        if self.tag is not None:
            try:
                info = self.conn.client.api.inspect_image(self.recorder.title)
                image_id, size = info.get("Id"), info.get("Size")
            except Exception:  # noqa: BLE001 - the pull succeeded; details are a nicety
                pass
        return PullResult(
            self.recorder.title,
            digest,
            status.removeprefix("Status: "),
            image_id,
            size,
            self.recorder.outcomes(),
            self.recorder.elapsed(),
        )


def pull(
    conn: Connection,
    reference: str,
    *,
    all_tags: bool = False,
    platform: str | None = None,
    progress: str = "auto",
) -> PullResult:
    ref = parse_reference(reference)
    if all_tags and (ref.tag or ref.digest):
        raise BadArgument(
            f"{usage('--all-tags')} pulls every tag of {ref.repository}: give the name "
            f"without a tag (not {reference})"
        )
    tag = None if all_tags else (ref.digest or ref.tag or "latest")
    return drive(_Pull(conn, ref, tag, platform, progress))


def pull_missing(
    conn: Connection, image: str, progress: str, *, what: str = "image", hint: str | None = None
) -> None:
    """Pull ``image``, which the engine does not have, for a feature that needs it (a run, a
    base image). When it cannot be pulled: one line, ``The {what} IMAGE is not on the
    engine and cannot be pulled: why``, with ``hint`` (by default the pull's own)."""
    try:
        pull(conn, image, progress=progress)
    except Interrupted:
        raise
    except DockerMagicsError as exc:
        reason = exc.what[:1].lower() + exc.what[1:]
        raise EngineError(
            f"The {what} {image} is not on the engine and cannot be pulled: {reason}",
            exc.hint if hint is None else hint,
        ) from None


def tag(conn: Connection, source: str, target: str) -> str:
    from docker.errors import ImageNotFound

    parse_reference(source, what="source image", allow_id=True)
    ref = parse_reference(target, what="target name", allow_digest=False)
    try:
        conn.client.api.tag(source, ref.repository, ref.tag or "latest")
    except ImageNotFound:
        raise BadArgument(
            f"There is no image {source} on the engine",
            f"Check the name ({how('%docker_images', 'docker_magics.images()')} lists them)",
        ) from None
    except Exception as exc:  # noqa: BLE001
        said = str(getattr(exc, "explanation", "") or "")
        older = older_engine_refusal(said, [str(ref)], conn.version.get("Version", "?"))
        raise (EngineError(older) if older else explain(exc, conn.endpoint)) from None
    return f"{ref.repository}:{ref.tag or 'latest'}"


def login(
    conn: Connection,
    registry: str | None = None,
    *,
    username: str | None = None,
    password_env: str | None = None,
    save: bool = False,
    ask=None,
    ask_user=None,
) -> str:
    """Verify credentials through the engine and keep them for the session. The password
    comes from ``password_env`` (an environment variable's name) or is asked for with
    ``ask`` (``getpass.getpass`` by default); a missing user name with ``ask_user``
    (``input``). Returns what to tell the user."""
    key = login_registry(registry)
    name = display_name(key)
    if not username:  # asked for, as `docker login` does
        username = _ask(ask_user or input, f"Username for {name}: ", "user name").strip()
        if not username:
            raise BadArgument(
                f"Give the user name for {name}",
                how(
                    f"%docker_login {registry or ''} -u USER".replace("  ", " "),
                    "Pass username='USER'",
                ),
            )
    if password_env:
        if password_env not in os.environ:
            # Its name is not repeated (and the cell leaves the history): it might be a
            # password typed in the wrong place.
            raise MaybeSecretArgument(
                f"The environment variable given to {option('--password-env')} is not set",
                f"Set it to the password, or leave out {option('--password-env')} to be asked "
                "for it",
            )
        password = os.environ[password_env]
    else:
        password = _ask(ask or getpass.getpass, f"Password for {username} at {name}: ", "password")
    if not password:
        raise BadArgument("The password is empty", "Nothing was sent")
    try:
        answer = streams.login(conn.client, key, username, password)
    except Exception as exc:  # noqa: BLE001
        message = str(getattr(exc, "explanation", "") or "")
        error: DockerMagicsError
        if _timed_out(exc):
            error = EngineError(
                f"No answer from the registry {name} for {conn.client.api.timeout:g}s: it may "
                "be hung. Nothing was kept",
                "Check the registry, or allow more time with %config DockerMagics.timeout",
            )
        elif "401" in message or "unauthorized" in message.lower():
            error = EngineError(
                f"Login to {name} failed: wrong user name or password for {username}",
                "Nothing was kept; try again",
            )
        elif message:
            error = EngineError(registry_failure(message, key, had_credentials=True))
        else:
            error = explain(exc, conn.endpoint)
        protect(username, password)  # a rejected password is still a secret
        raise type(error)(redact(error.what), redact(error.hint)) from None
    token = (answer or {}).get("IdentityToken") or ""
    protect(username, password)
    where = " for this session"
    if save:  # first: if saving fails, nothing is kept
        where = ". " + save_login(key, username, password, token)
    CREDENTIALS.add(key, username, password, token)
    return f"Login Succeeded: {username} at {name}{where}"


def login_registry(registry: str | None) -> str:
    """The Docker config's key for the registry of a login; refused, without repeating it,
    when it is not a host name: it may be a password typed where the registry goes."""
    key = normalize_registry(registry)
    host = key.split("/", 1)[0]
    # Stricter than an image name's first part, where an upper-case word is a registry too:
    # a typed password has upper-case letters and no dot.
    named = "." in host or ":" in host or host == "localhost"
    if key != INDEX and not (named and is_registry_host(key)):
        given = how("%docker_login", "docker_magics.login()")
        raise MaybeSecretArgument(
            f"The registry given to {given} is not a host name (HOST.DOMAIN, HOST:PORT or "
            "localhost); it is not repeated, as it may be a password",
            how(
                f"Passwords are never arguments: run %docker_login HOST -u USER and type it when "
                f"asked, or use --password-env VAR. {MaybeSecretArgument.DELETE}",
                "Passwords are never arguments: they are asked for, or read from "
                "password_env='VAR'. If this is one, delete it from your code",
            ),
        )
    return key


def _ask(ask, prompt: str, what: str) -> str:
    try:
        return ask(prompt)
    except Exception as exc:  # noqa: BLE001 - e.g. StdinNotImplementedError under nbclient
        if type(exc).__name__ in ("StdinNotImplementedError", "EOFError", "OSError"):
            hint = (
                f"Put it in an environment variable and pass {usage('--password-env', 'VAR')}"
                if what == "password"
                else how("Pass it with -u USER", "Pass username='USER'")
            )
            raise BadArgument(f"This frontend cannot ask for a {what}", hint) from None
        raise


def logout(registry: str | None = None, *, saved: bool = False) -> str:
    key = normalize_registry(registry)
    name = display_name(key)
    forgot = CREDENTIALS.forget(key)
    erased = erase_saved_login(key) if saved else False
    if not forgot and not erased:
        return f"Not logged in to {name}"
    where = " and removed the saved login" if erased else ""
    return f"Forgot the login to {name}{where}"
