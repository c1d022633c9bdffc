"""The session-wide engine connections: named aliases, the current one, and opening them.

Knows nothing of IPython: the magics and the Python API (:mod:`docker_magics.api`) both
drive a :class:`Session`. ``docker`` is imported only when a connection is opened.
"""

from __future__ import annotations

import functools
import math
import ssl
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from docker_magics import __version__
from docker_magics.engine.diagnose import explain
from docker_magics.engine.endpoints import Endpoint, TLSFiles, docker_config_dir, resolve
from docker_magics.errors import BadArgument, UnencryptedEngineWarning, usage

if TYPE_CHECKING:  # pragma: no cover
    import docker

DEFAULT_TIMEOUT = 60.0
# Seconds a request may wait for the engine: below a tenth of a second nothing answers; the
# week above is far beyond any registry, and far below what the clocks behind the HTTP
# stack can count (a huge value ends in an OverflowError deep inside it).
TIMEOUT_RANGE = (0.1, 7 * 24 * 3600.0)
SSH_CLIENTS = ("auto", "paramiko", "openssh")


@dataclass
class Connection:
    """An open, pinged connection to one engine."""

    alias: str
    endpoint: Endpoint
    client: docker.DockerClient
    version: dict[str, Any]  # the engine's GET /version answer
    # Containers of work cut off when the engine went away: removed once it answers again.
    orphans: set[str] = field(default_factory=set)

    def reap_orphans(self) -> None:
        """Remove the orphans the engine knows again (after a restart); keep trying later
        while it does not answer."""
        from docker.errors import NotFound

        for container_id in list(self.orphans):
            try:
                self.client.api.remove_container(container_id, force=True, v=True)
            except NotFound:
                pass
            except Exception:  # noqa: BLE001 - still down: next time
                return
            self.orphans.discard(container_id)

    @property
    def api_version(self) -> str:
        return self.client.api.api_version

    @functools.cached_property
    def data_root(self) -> str | None:
        """The engine's data root (``DockerRootDir`` in GET /info), asked once per
        connection; None when the engine does not say."""
        try:
            return self.client.api.info().get("DockerRootDir") or None
        except Exception:  # noqa: BLE001 - a nicety: builds check contexts against it
            return None

    @property
    def tls(self) -> str:
        """``off``, ``on (verified)``, ``on (NOT verified)`` or ``SSH`` (a table's TLS column)."""
        tls = self.endpoint.tls
        if self.endpoint.scheme == "ssh":
            return "SSH"
        if tls is None:
            return "off"
        return "on (verified)" if tls.verify else "on (NOT verified)"

    @property
    def tls_label(self) -> str:
        return "over SSH" if self.tls == "SSH" else f"TLS {self.tls}"

    @property
    def named(self) -> str:
        """Its URL, and its alias when that is not the URL itself (``'prod' (tcp://...)``)."""
        url = self.endpoint.url
        return url if self.alias == url else f"{self.alias!r} ({url})"

    @property
    def platform(self) -> str:
        return f"{self.version.get('Os', '?')}/{self.version.get('Arch', '?')}"

    def summary(self) -> str:
        """One line, like the essentials of ``curl /info``."""
        alias = "" if self.alias == self.endpoint.url else f" as {self.alias!r}"
        return (
            f"Connected to {self.endpoint.url}{alias}: Docker Engine "
            f"{self.version.get('Version', '?')}, API {self.api_version}, {self.platform}, "
            f"{self.tls_label}"
        )

    def __repr__(self) -> str:  # (not the engine's whole /version answer)
        return (
            f"<Connection {self.alias!r}: {self.endpoint.url}, Docker Engine "
            f"{self.version.get('Version', '?')}, API {self.api_version}, {self.tls_label}>"
        )

    def close(self) -> None:
        self.client.close()


class Session:
    """Named connections, one of them current. ``on_connect``: what the features do with
    every new connection (e.g. remove what a dead kernel left), after it is opened; their
    failures never fail the connection."""

    def __init__(self, on_connect: list[Callable[[Connection], None]] | None = None) -> None:
        self.on_connect = list(on_connect or [])
        self._connections: dict[str, Connection] = {}
        self._current: str | None = None
        # Orphans of closed or replaced connections, by engine URL: a reconnect reaps them.
        self._orphans: dict[str, set[str]] = {}

    def connect(
        self,
        endpoint: Endpoint,
        *,
        alias: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        ssh_client: str = "auto",
    ) -> Connection:
        """Open (and ping) a connection to ``endpoint``; it becomes the current one."""
        alias = alias or default_alias(endpoint)
        conn = open_connection(endpoint, alias, timeout=timeout, ssh_client=ssh_client)
        old = self._connections.pop(alias, None)
        if old is not None:
            self._let_go(old)
        conn.orphans |= self._orphans.pop(endpoint.url, set())
        self._connections[alias] = conn
        self._current = alias
        conn.reap_orphans()
        for hook in self.on_connect:
            try:
                hook(conn)
            except Exception:  # noqa: BLE001 - a chore: the connection is what was asked
                pass
        return conn

    def _let_go(self, conn: Connection) -> None:
        if conn.orphans:
            self._orphans.setdefault(conn.endpoint.url, set()).update(conn.orphans)
        conn.close()

    def switch(self, alias: str) -> Connection:
        conn = self.get(alias)
        self._current = alias
        return conn

    def get(self, alias: str) -> Connection:
        try:
            return self._connections[alias]
        except KeyError:
            raise BadArgument(
                f"No connection named {alias!r}",
                f"Open connections: {', '.join(self._connections) or 'none'}",
            ) from None

    def close(self, alias: str) -> None:
        self._let_go(self.get(alias))
        del self._connections[alias]
        if self._current == alias:
            self._current = next(iter(self._connections), None)

    def close_all(self) -> None:
        for alias in list(self._connections):
            self.close(alias)

    def connections(self) -> list[Connection]:
        return list(self._connections.values())

    def __contains__(self, alias: str) -> bool:
        return alias in self._connections

    @property
    def current_alias(self) -> str | None:
        return self._current

    def current(self, **defaults: Any) -> Connection:
        """The current connection, connecting as the docker CLI would if there is none."""
        if self._current is None:
            timeout = defaults.pop("timeout", DEFAULT_TIMEOUT)
            ssh_client = defaults.pop("ssh_client", "auto")
            return self.connect(resolve(**defaults), timeout=timeout, ssh_client=ssh_client)
        conn = self._connections[self._current]
        if conn.orphans:
            conn.reap_orphans()
        return conn


def default_alias(endpoint: Endpoint) -> str:
    """Connections from a context are named after it; explicit URLs after themselves."""
    if endpoint.source == "argument":
        return endpoint.url
    return endpoint.context or "default"


def open_connection(
    endpoint: Endpoint, alias: str, *, timeout: float, ssh_client: str = "auto"
) -> Connection:
    """Create a docker-py client for ``endpoint``, negotiate the API version, ping it."""
    if ssh_client not in SSH_CLIENTS:
        raise BadArgument(f"Unknown SSH client {ssh_client!r}", f"Use one of {SSH_CLIENTS}")
    check_timeout(timeout)
    if endpoint.scheme == "tcp" and endpoint.tls is None and not endpoint.is_local:
        warnings.warn(
            UnencryptedEngineWarning(
                f"{endpoint.url} is reached over plain HTTP: everything sent to it, registry "
                f"credentials included, travels unencrypted. Use TLS ({usage('--tlsverify')}) or "
                "ssh://."
            ),
            stacklevel=2,
        )
    tls = _tls_config(endpoint.tls)
    try:
        client = _client_class()(
            base_url=endpoint.url,
            # An explicit version skips docker-py's own negotiation, which would run before
            # _keep_tls_settings() can take effect; we negotiate below instead.
            version=endpoint.api_version or _minimum_api_version(),
            tls=tls or False,
            timeout=timeout,
            user_agent=f"docker-magics/{__version__}",
            use_ssh_client=_use_openssh(endpoint, ssh_client),
        )
    except Exception as exc:  # docker-py raises plain DockerException for many things
        raise explain(exc, endpoint) from None
    client.endpoint_url = endpoint.url
    api = client.api
    _keep_tls_settings(api)
    api.headers.update(_config_headers())
    api.headers.update(endpoint.headers)
    _protect_credential_headers(endpoint.headers)
    if endpoint.is_local:
        api.trust_env = False  # as the CLI (Go): HTTP(S)_PROXY never applies to loopback
    if endpoint.tls is not None and not endpoint.tls.verify:
        _quiet_unverified_tls(api)
    try:
        version = api.version(api_version=False)
        if endpoint.api_version is None:
            api._version = _negotiate(version.get("ApiVersion", ""))
        else:
            api.version()  # a versioned call: the engine refuses versions it does not speak
    except Exception as exc:
        client.close()
        raise explain(exc, endpoint) from None
    return Connection(alias, endpoint, client, version)


def check_timeout(timeout: object, name: str = "timeout") -> float:
    """A request timeout in :data:`TIMEOUT_RANGE`, or one line saying the range."""
    low, high = TIMEOUT_RANGE
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise BadArgument(f"{name} must be a number of seconds, not {type(timeout).__name__}")
    if not (math.isfinite(timeout) and low <= timeout <= high):
        shown = f"{timeout:g}" if math.isfinite(timeout) else str(timeout)
        raise BadArgument(
            f"{name} must be between {low:g} and {high:,.0f} seconds (a week), not {shown}"
        )
    return float(timeout)


def _protect_credential_headers(headers: dict[str, str]) -> None:
    """Values of headers that carry credentials (Authorization, tokens, keys, cookies) are
    masked in every output from now on."""
    from docker_magics.redaction import protect_value

    for name, value in headers.items():
        lowered = name.lower()
        if lowered in ("authorization", "proxy-authorization", "cookie") or any(
            word in lowered for word in ("token", "key", "secret", "auth")
        ):
            protect_value(value)
            if " " in value:  # "Bearer abc...": the credential itself, alone, too
                protect_value(value.split(" ", 1)[1])


def _tls_config(files: TLSFiles | None):
    if files is None:
        return None
    _check_pem_files(files)
    from docker.tls import TLSConfig

    return TLSConfig(
        client_cert=(files.cert, files.key) if files.cert and files.key else None,  # (both)
        ca_cert=files.ca,
        verify=files.verify,
    )


def _check_pem_files(files: TLSFiles) -> None:
    """Read and parse the PEM files up front: a clear line instead of an SSL stack."""
    for label, path in (
        ("CA certificate", files.ca),
        ("client certificate", files.cert),
        ("client key", files.key),
    ):
        if path is None:
            continue
        try:
            with open(path, "rb"):
                pass
        except PermissionError:
            raise BadArgument(
                f"Cannot read the TLS {label} {path}: permission denied",
                "Fix its permissions (chmod 600 for keys, owned by you)",
            ) from None
        except OSError as exc:
            raise BadArgument(f"Cannot read the TLS {label} {path}: {exc.strerror}") from None
    if files.key:
        _refuse_encrypted_key(files.key)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if files.ca:
        try:
            ctx.load_verify_locations(files.ca)
        except (ssl.SSLError, ValueError):
            raise BadArgument(
                f"The CA certificate {files.ca} is not a PEM certificate",
                "Pass the CA's certificate file (ca.pem) to --tlscacert",
            ) from None
    if files.cert:
        try:
            # A password callback, so that OpenSSL never prompts on the terminal (it would
            # block a terminal IPython; a kernel has no one to answer).
            ctx.load_cert_chain(files.cert, files.key, password=_no_passphrase)
        except _Encrypted:
            raise _encrypted_key(files.key or files.cert) from None
        except (ssl.SSLError, ValueError, OSError) as exc:
            raise BadArgument(
                f"The client certificate {files.cert} and key {files.key} cannot be used "
                f"({getattr(exc, 'reason', None) or exc})",
                "They must be PEM files and belong together (cert.pem with its key.pem)",
            ) from None


class _Encrypted(Exception):
    pass


def _no_passphrase() -> str:
    raise _Encrypted


def _refuse_encrypted_key(path: str) -> None:
    """A passphrase-protected PEM key (PKCS#8 ``ENCRYPTED PRIVATE KEY``, or OpenSSL's
    ``Proc-Type: 4,ENCRYPTED``) is refused before anything loads it: requests and OpenSSL
    would ask for the passphrase on the terminal, at every connection."""
    try:
        with open(path, "rb") as f:
            head = f.read(64 * 1024)
    except OSError:
        return  # said by the checks that follow
    if b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in head or b"Proc-Type: 4,ENCRYPTED" in head:
        raise _encrypted_key(path)


def _encrypted_key(path: str) -> BadArgument:
    return BadArgument(
        f"The TLS client key {path} is protected by a passphrase, which cannot be asked for here",
        f"Give an unencrypted copy of the key: `openssl pkey -in {path} -out key.pem` asks "
        "for the passphrase once and writes it (keep it private: chmod 600 key.pem)",
    )


def _keep_tls_settings(api) -> None:
    # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's own `verify`
    # (psf/requests#3829), so with those set (common on corporate machines) docker-py
    # checks the engine against the wrong CA. Keep the session's setting.
    original = api.merge_environment_settings

    def merge(url, proxies, stream, verify, cert):
        settings = original(url, proxies, stream, verify, cert)
        if verify is None:
            settings["verify"] = api.verify
        return settings

    api.merge_environment_settings = merge


def _quiet_unverified_tls(api) -> None:
    # The user asked for --tls without verification and the summary says so: urllib3's
    # InsecureRequestWarning on every request would only bury the output.
    from urllib3.exceptions import InsecureRequestWarning

    send = api.send

    def quiet_send(request, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InsecureRequestWarning)
            return send(request, **kwargs)

    api.send = quiet_send


def _config_headers() -> dict[str, str]:
    """``HttpHeaders`` from the Docker config: the CLI sends them with every request."""
    import json
    import os

    try:
        with open(os.path.join(docker_config_dir(), "config.json"), encoding="utf-8") as f:
            headers = json.load(f).get("HttpHeaders") or {}
    except (OSError, ValueError, AttributeError):
        return {}
    return {str(k): str(v) for k, v in headers.items()} if isinstance(headers, dict) else {}


def _use_openssh(endpoint: Endpoint, ssh_client: str) -> bool:
    if endpoint.scheme != "ssh":
        return False
    if ssh_client == "auto":
        try:
            import paramiko  # noqa: F401
        except ImportError:
            return True
        return False
    if ssh_client == "paramiko":
        try:
            import paramiko  # noqa: F401
        except ImportError:
            raise BadArgument(
                "ssh:// with paramiko needs the ssh extra",
                f"pip install 'docker_magics[ssh]', or use {usage('--ssh-client', 'openssh')}",
            ) from None
    return ssh_client == "openssh"


def _version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split(".") if p.isdigit())


def _minimum_api_version() -> str:
    from docker.constants import MINIMUM_DOCKER_API_VERSION

    return MINIMUM_DOCKER_API_VERSION


def _negotiate(server: str) -> str:
    """Like the CLI: the lower of the engine's API version and the newest docker-py knows."""
    from docker.constants import DEFAULT_DOCKER_API_VERSION

    if not server:
        return DEFAULT_DOCKER_API_VERSION
    if _version_tuple(server) < _version_tuple(_minimum_api_version()):
        raise BadArgument(
            f"The engine speaks API {server}, older than docker-py supports "
            f"({_minimum_api_version()})",
            "Upgrade the engine",
        )
    return min(server, DEFAULT_DOCKER_API_VERSION, key=_version_tuple)


@functools.cache
def _client_class():
    import docker

    class DockerClient(docker.DockerClient):
        """docker-py's client with a readable repr for notebook outputs."""

        endpoint_url = ""

        def __repr__(self) -> str:
            return f"<DockerClient {self.endpoint_url} API {self.api.api_version}>"

    return DockerClient
