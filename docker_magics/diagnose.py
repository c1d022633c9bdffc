"""Turn the exceptions docker-py, requests, urllib3, ssl and paramiko raise into one line
that says what happened and what to do.

The real cause is usually buried several wrappers deep (``DockerException`` around
``requests.ConnectionError`` around ``MaxRetryError`` around ``ssl.SSLError``...), so
:func:`explain` walks the whole chain and matches on the innermost facts.
"""

from __future__ import annotations

import os
import re
import socket
import ssl
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

from .endpoints import Endpoint
from .errors import BadArgument, ConnectFailed, DockerMagicsError, EngineError, TLSFailed


def causes(exc: BaseException) -> Iterator[BaseException]:
    """Every exception reachable from ``exc``: causes, contexts, urllib3 reasons, args."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        cur = todo.pop(0)
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        yield cur
        linked = [cur.__cause__, cur.__context__, getattr(cur, "reason", None)]
        linked += [a for a in getattr(cur, "args", ()) if isinstance(a, BaseException)]
        todo += [e for e in linked if isinstance(e, BaseException)]


def _clause(text: object) -> str:
    """A message to quote inside a sentence: one line, no trailing period."""
    return " ".join(str(text).split()).rstrip(".")


def _first(exc: BaseException, kind: type | tuple[type, ...]) -> BaseException | None:
    return next((e for e in causes(exc) if isinstance(e, kind)), None)


def _api_message(exc: BaseException) -> str | None:
    """The daemon's own error message, when the engine answered with an HTTP error."""
    try:
        from docker.errors import APIError
    except ImportError:  # pragma: no cover - docker is a dependency
        return None
    api = _first(exc, APIError)
    if api is None:
        return None
    text = api.explanation or (api.response.text if api.response is not None else "")
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(str(text).split()) or str(api)


def explain(exc: BaseException, endpoint: Endpoint) -> DockerMagicsError:
    """The one-line error for ``exc``, raised while talking to ``endpoint``."""
    if isinstance(exc, DockerMagicsError):
        return exc
    where = endpoint.url
    for check in (
        _local_file_problem,
        _version_problem,
        _tls_problem,
        _ssh_problem,
        _socket_problem,
    ):
        found = check(exc, endpoint)
        if found is not None:
            return found
    message = _api_message(exc)
    if message is not None:
        return EngineError(f"The engine at {where} answered: {message}")
    inner = list(causes(exc))[-1]
    return ConnectFailed(
        f"Cannot talk to the engine at {where}: {type(inner).__name__}: {inner}",
        "Check the URL and that the engine is running (%docker_info tests the connection)",
    )


def _local_file_problem(exc: BaseException, endpoint: Endpoint) -> DockerMagicsError | None:
    # A file of ours failed while its bytes were being sent (requests reports a lost
    # connection). Socket errors carry no file name; a missing program (ssh) no full path.
    failed = next(
        (
            e
            for e in causes(exc)
            if isinstance(e, OSError) and e.filename and os.path.isabs(str(e.filename))
        ),
        None,
    )
    if failed is None:
        return None
    return BadArgument(
        f"Cannot read {failed.filename}: {failed.strerror or failed}",
        "Check that it exists and is readable (or leave it out)",
    )


def _version_problem(exc: BaseException, endpoint: Endpoint) -> DockerMagicsError | None:
    from docker.errors import InvalidVersion

    invalid = _first(exc, InvalidVersion)
    if invalid is not None:
        return BadArgument(
            f"API version {endpoint.api_version} is too old for docker-py ({_clause(invalid)})",
            "Use --api-version auto",
        )
    message = _api_message(exc) or ""
    if "client version" in message and ("too new" in message or "too old" in message):
        return BadArgument(
            f"The engine at {endpoint.url} does not support API version "
            f"{endpoint.api_version} ({_clause(message)})",
            "Use --api-version auto to negotiate (or unset DOCKER_API_VERSION)",
        )
    return None


def _tls_problem(exc: BaseException, endpoint: Endpoint) -> DockerMagicsError | None:
    where = endpoint.url
    message = _api_message(exc) or ""
    if "HTTP request to an HTTPS server" in message:
        return TLSFailed(
            f"The engine at {where} expects TLS, but this connection is plain HTTP "
            f"(the engine says: {_clause(message)})",
            "Connect with --tlsverify --cert-path DIR (or set DOCKER_TLS_VERIFY=1 and "
            "DOCKER_CERT_PATH)",
        )
    if endpoint.tls is None:
        return None
    verify = _first(exc, ssl.SSLCertVerificationError)
    if verify is not None:
        reason = getattr(verify, "verify_message", "") or str(verify)
        if "mismatch" in reason or "doesn't match" in reason:
            return TLSFailed(
                f"The engine's TLS certificate does not match the name {endpoint.host!r} "
                f"({_clause(reason)})",
                "Connect with the host name or IP the certificate was issued for, or reissue "
                "the server certificate for this name",
            )
        if "expired" in reason:
            return TLSFailed(
                f"The engine's TLS certificate at {where} has expired",
                "Renew the engine's server certificate",
            )
        return TLSFailed(
            f"The engine's TLS certificate at {where} is not signed by a CA you trust "
            f"({_clause(reason)})",
            "Pass the CA that signed it with --tlscacert FILE (or ca.pem in --cert-path DIR)",
        )
    failure = _first(exc, ssl.SSLError)
    reason = (getattr(failure, "reason", None) or str(failure or "")).upper()
    if "WRONG_VERSION_NUMBER" in reason or "RECORD_LAYER" in reason or "PACKET_LENGTH" in reason:
        return TLSFailed(
            f"The engine at {where} does not speak TLS, but this connection uses TLS",
            "Connect without --tls/--tlsverify (unset DOCKER_TLS_VERIFY), or check the port: "
            "TLS engines usually listen on 2376, plain ones on 2375",
        )
    client_cert_refused = any(
        word in reason
        for word in ("BAD_CERTIFICATE", "CERTIFICATE_REQUIRED", "UNKNOWN_CA", "HANDSHAKE_FAILURE")
    )
    if client_cert_refused or (
        failure is not None and isinstance(failure, ssl.SSLEOFError) and not endpoint.tls.cert
    ):
        if not endpoint.tls.cert:
            return TLSFailed(
                f"The engine at {where} requires a client certificate (it runs with "
                f"--tlsverify) and none was given",
                "Pass --tlscert and --tlskey (or put cert.pem and key.pem in --cert-path DIR)",
            )
        return TLSFailed(
            f"The engine at {where} rejected the client certificate {endpoint.tls.cert}",
            "Use a client certificate signed by the CA the engine trusts (its --tlscacert)",
        )
    if failure is not None:
        return TLSFailed(
            f"TLS with the engine at {where} failed: {failure}",
            "Check --tlscacert, --tlscert and --tlskey",
        )
    return None


def _ssh_problem(exc: BaseException, endpoint: Endpoint) -> DockerMagicsError | None:
    if endpoint.scheme != "ssh":
        return None
    try:
        import paramiko
    except ImportError:
        paramiko = None
    where = endpoint.url
    parts = urlsplit(where)
    again = "ssh " + (f"-p {parts.port} " if parts.port else "") + parts.netloc.rsplit(":", 1)[0]
    auth_hint = (
        "Load your key into ssh-agent or put it in ~/.ssh (id_ed25519, id_rsa); "
        "check the user name in the URL"
    )
    host_key_hint = (
        f"Check it and add it to ~/.ssh/known_hosts (e.g. run `{again}` once in a terminal)"
    )
    if paramiko is not None:
        if _first(exc, paramiko.AuthenticationException) is not None:
            return ConnectFailed(f"SSH authentication to {where} failed", auth_hint)
        ssh_error = _first(exc, paramiko.SSHException)
        if ssh_error is not None and "known_hosts" in str(ssh_error):
            return ConnectFailed(
                f"The SSH host key of {endpoint.host} is unknown ({ssh_error})", host_key_hint
            )
        if ssh_error is not None:
            return ConnectFailed(f"SSH connection to {where} failed: {ssh_error}")
    # The ssh program (openssh mode) failed: docker-py only sees a closed pipe, and ssh's own
    # words went to the kernel's stderr. Ask ssh again, this time keeping what it says.
    said = _openssh_says(parts)
    if said is None:
        return None
    if "Host key verification failed" in said or "HOST IDENTIFICATION HAS CHANGED" in said:
        return ConnectFailed(
            f"The SSH host key of {endpoint.host} is unknown or has changed", host_key_hint
        )
    if "Permission denied" in said:
        return ConnectFailed(f"SSH authentication to {where} failed", auth_hint)
    if "Could not resolve hostname" in said:
        return ConnectFailed(
            f"Cannot resolve the host name {endpoint.host!r}", "Check the spelling of the URL"
        )
    if "Connection refused" in said:
        return ConnectFailed(
            f"Connection refused by {where}: no SSH server listens there",
            "Check the host and port, and that sshd runs there",
        )
    return ConnectFailed(f"SSH connection to {where} failed: {_short(said, 160)}")


def _openssh_says(parts) -> str | None:
    """What ``ssh`` prints when it cannot reach the host (None: it can, or is missing)."""
    import shutil
    import subprocess

    if shutil.which("ssh") is None:
        return None
    command = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
    if parts.port:
        command += ["-p", str(parts.port)]
    if parts.username:
        command += ["-l", parts.username]
    try:
        done = subprocess.run(
            [*command, "--", parts.hostname, "true"],
            capture_output=True,
            text=True,
            timeout=20,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode == 0:
        return None  # ssh itself works: the problem is on the far side
    lines = [line for line in done.stderr.splitlines() if line.strip() and "@@@" not in line]
    return " ".join(lines) or None


def _socket_problem(exc: BaseException, endpoint: Endpoint) -> DockerMagicsError | None:
    import requests

    where = endpoint.url
    unix = endpoint.scheme == "unix"
    if _first(exc, (requests.Timeout, socket.timeout, TimeoutError)) is not None:
        return ConnectFailed(
            f"The engine at {where} did not answer in time",
            "Check that it is up and reachable, or allow more time with --timeout SECONDS",
        )
    if unix and _first(exc, FileNotFoundError) is not None:
        return ConnectFailed(
            f"No Docker engine at {where}: the socket does not exist",
            "Start the engine (e.g. `sudo systemctl start docker`), or connect to another "
            "one with %docker_connect URL",
        )
    if _first(exc, PermissionError) is not None:
        return ConnectFailed(
            f"Permission denied on {where}",
            "Add your user to the docker group (`sudo usermod -aG docker $USER`, then log in "
            "again), or use rootless Docker (unix:///run/user/$UID/docker.sock)",
        )
    if _first(exc, ConnectionRefusedError) is not None or _is_paramiko_refused(exc):
        if unix:
            return ConnectFailed(
                f"No Docker engine answers at {where}: the socket exists but nothing listens on it",
                "The engine has stopped: start or restart it",
            )
        if endpoint.scheme == "ssh":
            return ConnectFailed(
                f"Connection refused by {where}: no SSH server listens there",
                "Check the host and port, and that sshd runs there",
            )
        return ConnectFailed(
            f"Connection refused by {where}: no engine listens there",
            "Check the host and port, and that the engine's remote API is enabled "
            "(dockerd -H tcp://HOST:PORT)",
        )
    if _first(exc, socket.gaierror) is not None:
        return ConnectFailed(
            f"Cannot resolve the host name {endpoint.host!r}", "Check the spelling of the URL"
        )
    lost = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)
    text = str(exc)
    if _first(exc, lost) is not None or "Connection aborted" in text or "Connection broken" in text:
        return ConnectFailed(
            f"The connection to the engine at {where} was lost",
            "The engine may have stopped or restarted: check it with %docker_info",
        )
    return None


def _is_paramiko_refused(exc: BaseException) -> bool:
    return any(type(e).__name__ == "NoValidConnectionsError" for e in causes(exc))


# -- build failures the engine reports in the stream ---------------------------------------

_NONZERO = re.compile(r"(?:returned a non-zero code|exit code): (\d+)")
_NOT_IN_CONTEXT = re.compile(
    r"(?:(?:COPY|ADD) failed: .*?(?:stat |lstat )?([^:\s]+): file does not exist"
    r'|failed to compute cache key: "/?([^"]+)" not found)'
)
_MANIFEST_URL = re.compile(r'/v2/(?:library/)?([^"]+?)/manifests/([^"/]+)"')
_PULL_PROBLEMS = (
    "pull access denied",
    "manifest unknown",
    "not found",
    "no such host",
    "dial tcp",
    "i/o timeout",
    "connection refused",
    "TLS handshake timeout",
    "server gave HTTP response",
    "unauthorized",
)


def _short(text: str, width: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


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
        where = f"Step {_short(step.name)}"
    elif step is not None:
        number = f" {step.number}/{step.total}" if step.number else ""
        where = f"Step{number} ({_short(step.name)})"
    rejected = dockerfile_rejected(message, instructions)
    if rejected:
        return rejected
    if "network bridge not found" in message:
        return (
            f"{where} failed: the engine has no default bridge network for RUN steps (its "
            "dockerd runs with --bridge=none). Build with --network none (or --network host)"
        )
    nonzero = _NONZERO.search(message)
    if nonzero:
        said = (
            "It printed nothing"
            if step is not None and not step.lines
            else "Its last output is shown above (and in the full log)"
        )
        return (
            f"{where} failed with exit code {nonzero.group(1)}. {said}; fix the command and "
            "run the cell again"
        )
    missing = _NOT_IN_CONTEXT.search(message)
    if missing:
        name = missing.group(1) or missing.group(2)
        return (
            f"{where} failed: {name} is not in the build context (or .dockerignore excludes "
            f"it). Add it with --add {name}, or build from a folder with --context DIR"
        )
    base = step is not None and (
        step.name.upper().startswith("FROM ") or "load metadata for" in step.name
    )
    needs_login = any(p in message for p in _AUTH_PROBLEMS)
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
            login = {"Docker Hub": "%docker_login", None: "%docker_login REGISTRY"}.get(
                registry, f"%docker_login {registry}"
            )
            why = _clause(reason.rsplit(": ", 1)[-1])  # "401 Unauthorized", "no basic auth..."
            return (
                f"{where} failed: the registry {registry or 'of the base image'} wants a login "
                f"to pull the base image {image} ({why}). Log in with {login} and build again"
            )
        if pull and on_engine is not None and on_engine(image):
            return (
                f"{where} failed: --pull could not refresh the base image {image} "
                f"({_clause(reason)}). The engine has it: without --pull the build uses that one"
            )
        return (
            f"{where} failed: the base image {image} is not on the engine and cannot be pulled "
            f"({_clause(reason)}). Build or load it first (`docker images` lists what the "
            "engine has), or use another base image"
        )
    return f"{where} failed: {_clause(message)}"


def _registry_of(image: str) -> str | None:
    """The registry of ``image`` as the user names it (Docker Hub by name)."""
    from .credentials import INDEX, display_name, registry_of

    try:
        registry = registry_of(image)
    except Exception:  # noqa: BLE001 - not a reference docker-py can read
        return None
    hub = ("registry-1.docker.io", "index.docker.io", "docker.io")
    return display_name(INDEX if registry in hub else registry)


def _image_words(name: str) -> list[str]:
    """The image of a ``FROM [--platform=X] IMAGE [AS NAME]`` step."""
    return [w for w in name.split()[1:] if not w.startswith("--")][:1]


def dockerfile_rejected(message: str, instructions=()) -> str | None:
    """The engine's answer for a Dockerfile it cannot parse, as one line. ``instructions``
    (``dockerfile.parse``) tell whether the line is in a heredoc."""
    from .dockerfile import heredoc_around

    m = re.search(r"dockerfile parse error line (\d+): (.*)", message, re.I)
    if not m:
        return None
    line = int(m.group(1))
    text = f"Dockerfile line {line}: {_clause(m.group(2))}"
    heredoc = heredoc_around(list(instructions), line)
    if heredoc is not None:
        text += (
            f". It is in the heredoc of line {heredoc.line} ({_short(str(heredoc), 40)}), and "
            "this engine's Dockerfile parser does not support heredocs. Put the commands on the "
            "RUN line (RUN a && b), or --add a script and RUN it"
        )
    return text


# -- registry failures (push, pull, login) ------------------------------------------------

_AUTH_PROBLEMS = (
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


def registry_failure(
    message: str, registry: str, *, had_credentials: bool, reference: str | None = None
) -> str:
    """One line for a push/pull/login failure the engine reported about ``registry``
    (``reference``: the image as the user named it, when there is one)."""
    from .credentials import display_name

    name = display_name(registry)
    login = f"%docker_login {registry}" if name != "Docker Hub" else "%docker_login"
    if "does not exist locally" in message:
        image = message.split("with the tag:", 1)[-1].strip() if "tag:" in message else "it"
        image = reference or image  # the engine names the repository only
        return (
            f"There is no image {image} on the engine. Build it with %%docker_build -t {image}, "
            f"or name an existing image so with %docker_tag SOURCE {image}"
        )
    if "manifest unknown" in message or "not found" in message and "manifest" in message:
        ref = re.search(r"manifest for (\S+) not found", message)
        what = ref.group(1) if ref else "The image"
        return (
            f"{what} is not in the registry {name}: no such repository or tag. Check the name "
            "and the tag"
        )
    if "x509" in message or "certificate" in message:
        return (
            f"The engine does not trust the TLS certificate of the registry {name} "
            f"({_clause(_after_colon(message))}). Install the registry's CA on the engine host "
            f"(/etc/docker/certs.d/{registry}/ca.crt), or, for a test registry, list it in the "
            "engine's insecure-registries"
        )
    if "server gave HTTP response to HTTPS client" in message:
        return (
            f"The registry {name} speaks plain HTTP but the engine expects HTTPS. List it in the "
            "engine's insecure-registries (daemon.json), or serve it with TLS"
        )
    if any(p in message for p in _AUTH_PROBLEMS):
        if had_credentials:
            return (
                f"The registry {name} refused the credentials ({_clause(_after_colon(message))})."
                f" Log in again with {login}"
            )
        return (
            f"The registry {name} requires a login ({_clause(message)}). Log in with {login} "
            "(the password is asked for, never typed into the magic)"
        )
    if any(p in message for p in _UNREACHABLE):
        return (
            f"The registry {name} cannot be reached ({_clause(_after_colon(message))}). Check "
            "the address and that the registry is running"
        )
    return f"The registry {name} answered: {_clause(message)}"


def _after_colon(message: str) -> str:
    """Drop the leading ``Get "https://...":`` URL part the engine puts in front."""
    return re.sub(r'^(?:Get|Head|Post|Put) "[^"]*": ', "", message).strip()
