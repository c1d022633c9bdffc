"""Turn the exceptions docker-py, requests, urllib3, ssl and paramiko raise into one line
that says what happened and what to do.

The real cause is usually buried several wrappers deep (``DockerException`` around
``requests.ConnectionError`` around ``MaxRetryError`` around ``ssl.SSLError``...), so
:func:`explain` walks the whole chain and matches on the innermost facts.
"""

from __future__ import annotations

import os
import socket
import ssl
from collections.abc import Iterator
from typing import TypeVar
from urllib.parse import urlsplit

from docker_magics.engine.endpoints import Endpoint
from docker_magics.errors import (
    BadArgument,
    ConnectFailed,
    DockerMagicsError,
    EngineError,
    TLSFailed,
    how,
    option,
    usage,
)


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


def clause(text: object) -> str:
    """A message to quote inside a sentence: one line, no trailing period."""
    return " ".join(str(text).split()).rstrip(".")


def short(text: str, width: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


_E = TypeVar("_E", bound=BaseException)


def _first(exc: BaseException, kind: type[_E] | tuple[type[_E], ...]) -> _E | None:
    """The first exception of ``kind`` in ``exc``'s chain of causes."""
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
    # Whatever the engine's JSON said (docker-py passes it on as it came), or the body.
    text: object = api.explanation or (api.response.text if api.response is not None else "")
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(str(text).split()) or str(api)


def _info() -> str:
    return how("%docker_info", "docker_magics.engine_info()")


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
        f"Check the URL and that the engine is running ({_info()} tests the connection)",
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
            f"API version {endpoint.api_version} is too old for docker-py ({clause(invalid)})",
            f"Use {usage('--api-version', 'auto')}",
        )
    message = _api_message(exc) or ""
    if "client version" in message and ("too new" in message or "too old" in message):
        return BadArgument(
            f"The engine at {endpoint.url} does not support API version "
            f"{endpoint.api_version} ({clause(message)})",
            f"Use {usage('--api-version', 'auto')} to negotiate (or unset DOCKER_API_VERSION)",
        )
    return None


def _tls_problem(exc: BaseException, endpoint: Endpoint) -> DockerMagicsError | None:
    where = endpoint.url
    message = _api_message(exc) or ""
    if "HTTP request to an HTTPS server" in message:
        return TLSFailed(
            f"The engine at {where} expects TLS, but this connection is plain HTTP "
            f"(the engine says: {clause(message)})",
            f"Connect with {usage('--tlsverify')} {usage('--cert-path', 'DIR')} (or set "
            "DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH)",
        )
    if endpoint.tls is None:
        return None
    verify = _first(exc, ssl.SSLCertVerificationError)
    if verify is not None:
        reason = getattr(verify, "verify_message", "") or str(verify)
        if "mismatch" in reason or "doesn't match" in reason:
            return TLSFailed(
                f"The engine's TLS certificate does not match the name {endpoint.host!r} "
                f"({clause(reason)})",
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
            f"({clause(reason)})",
            f"Pass the CA that signed it with {usage('--tlscacert', 'FILE')} (or ca.pem in "
            f"{usage('--cert-path', 'DIR')})",
        )
    failure = _first(exc, ssl.SSLError)
    reason = (getattr(failure, "reason", None) or str(failure or "")).upper()
    if "WRONG_VERSION_NUMBER" in reason or "RECORD_LAYER" in reason or "PACKET_LENGTH" in reason:
        return TLSFailed(
            f"The engine at {where} does not speak TLS, but this connection uses TLS",
            f"Connect without {option('--tls')}/{option('--tlsverify')} (unset DOCKER_TLS_VERIFY), "
            "or check the port: "
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
                f"Pass {option('--tlscert')} and {option('--tlskey')} (or put cert.pem and "
                f"key.pem in {usage('--cert-path', 'DIR')})",
            )
        return TLSFailed(
            f"The engine at {where} rejected the client certificate {endpoint.tls.cert}",
            "Use a client certificate signed by the CA the engine trusts (its --tlscacert)",
        )
    if failure is not None:
        return TLSFailed(
            f"TLS with the engine at {where} failed: {failure}",
            f"Check {option('--tlscacert')}, {option('--tlscert')} and {option('--tlskey')}",
        )
    return None


def _ssh_problem(exc: BaseException, endpoint: Endpoint) -> DockerMagicsError | None:
    if endpoint.scheme != "ssh":
        return None
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
    said_by_paramiko = _paramiko_problem(exc, endpoint, auth_hint, host_key_hint)
    if said_by_paramiko is not None:
        return said_by_paramiko
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
    return ConnectFailed(f"SSH connection to {where} failed: {short(said, 160)}")


def _paramiko_problem(
    exc: BaseException, endpoint: Endpoint, auth_hint: str, host_key_hint: str
) -> ConnectFailed | None:
    """What paramiko (docker-py's SSH client, with the ssh extra) said went wrong."""
    try:
        import paramiko
    except ImportError:
        return None
    where = endpoint.url
    if _first(exc, paramiko.AuthenticationException) is not None:
        return ConnectFailed(f"SSH authentication to {where} failed", auth_hint)
    ssh_error = _first(exc, paramiko.SSHException)
    if ssh_error is not None and "known_hosts" in str(ssh_error):
        return ConnectFailed(
            f"The SSH host key of {endpoint.host} is unknown ({ssh_error})", host_key_hint
        )
    if ssh_error is not None:
        return ConnectFailed(f"SSH connection to {where} failed: {ssh_error}")
    return None


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
            "Check that it is up and reachable, or allow more time with "
            + how("--timeout SECONDS", "timeout=SECONDS"),
        )
    if unix and _first(exc, FileNotFoundError) is not None:
        return ConnectFailed(
            f"No Docker engine at {where}: the socket does not exist",
            "Start the engine (e.g. `sudo systemctl start docker`), or connect to another "
            f"one with {how('%docker_connect URL', 'docker_magics.connect(URL)')}",
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
            f"The engine may have stopped or restarted: check it with {_info()}",
        )
    return None


def _is_paramiko_refused(exc: BaseException) -> bool:
    return any(type(e).__name__ == "NoValidConnectionsError" for e in causes(exc))
