"""Where the engine is and how to talk to it, resolved the way the docker CLI does it.

Pure apart from reading the environment, the Docker config and context files: nothing here
opens a connection. ``resolve()`` turns magic options (or Python arguments) plus the
environment into an :class:`Endpoint`; :mod:`docker_magics.session` connects to it.

Order (docker CLI, ``cli/command/cli.go: resolveContextName``): an explicit URL, then an
explicit context, then ``DOCKER_HOST``, then ``DOCKER_CONTEXT``, then ``currentContext`` in
the Docker config, then the platform default. The context named ``default`` is
``DOCKER_HOST`` when that is set.

Where docker-py and the CLI disagree we follow the CLI:

- ``DOCKER_CERT_PATH`` alone does not turn TLS on (docker-py: it does); ``DOCKER_TLS`` or
  ``DOCKER_TLS_VERIFY`` (any non-empty value, "0" included) does.
- TLS without a host means ``tcp://localhost:2376`` (docker-py: an error).
- ``tcp://HOST`` without a port means port 2375 (docker-py: an error); a bare ``HOST:PORT``
  means ``tcp://HOST:PORT``.
- ``cert.pem``/``key.pem`` missing from the cert directory just means "no client
  certificate" (docker-py: an error); a missing ``ca.pem`` is an error when verifying.
- ``DOCKER_API_VERSION`` pins the API version (docker-py ignores it).
- ``DOCKER_TLS_VERIFY`` is ignored for ``unix://`` and ``ssh://`` engines (docker-py:
  an error).
- Proxies (``HTTP_PROXY``, ``HTTPS_PROXY``) are used for remote ``tcp://`` engines but
  never for loopback ones (requests would send those to the proxy too).
- A context's TLS material is used even when only ``ca.pem`` is present (docker-py needs all
  three files).

One deliberate difference from the CLI: ``--tlscacert``/``--tlscert``/``--tlskey`` and
``--cert-path`` imply ``--tlsverify`` (the CLI silently ignores them without ``--tls``).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from docker_magics.errors import BadArgument, MaybeSecretArgument, option, usage

DEFAULT_UNIX_SOCKET = "/var/run/docker.sock"
DEFAULT_TCP_PORT = 2375
DEFAULT_TLS_HOST = "tcp://localhost:2376"
URL_FORMS = "unix:///path/to/docker.sock, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]"
_API_VERSION = re.compile(r"^\d+\.\d+$")


@dataclass(frozen=True)
class TLSFiles:
    """TLS settings: whether to verify the engine's certificate, and the PEM files to use."""

    verify: bool
    ca: str | None = None
    cert: str | None = None
    key: str | None = None


@dataclass(frozen=True)
class Endpoint:
    """A resolved engine address; ``source`` says where it came from (for messages)."""

    url: str
    tls: TLSFiles | None = None
    api_version: str | None = None  # None: negotiate with the engine
    source: str = "argument"
    context: str | None = None
    headers: dict[str, str] = field(default_factory=dict, repr=False)  # may hold a token

    @property
    def scheme(self) -> str:
        return self.url.split("://", 1)[0]

    @property
    def host(self) -> str | None:
        return urlsplit(self.url).hostname if self.scheme != "unix" else None

    @property
    def is_local(self) -> bool:
        """True for unix sockets and loopback TCP addresses."""
        if self.scheme == "unix":
            return True
        host = self.host or ""
        if host == "localhost" or host.endswith(".localhost"):
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        return address.is_loopback or (mapped is not None and mapped.is_loopback)


def docker_config_dir(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")


def normalize_url(value: str) -> str:
    """Validate an engine URL and fill in defaults as the CLI's ``ParseHost`` does."""
    raw = value.strip()
    if not raw:
        raise BadArgument("Empty engine URL", f"Use {URL_FORMS}")
    scheme, sep, rest = raw.partition("://")
    if not sep:
        scheme, rest = "tcp", raw
    scheme = scheme.lower()
    _refuse_credentials(scheme, rest)
    if not sep and raw.startswith(("/", "./", "~")):  # a socket's path: the CLI wants unix://
        path = os.path.abspath(os.path.expanduser(raw))
        raise BadArgument(
            f"{raw} is a path, not an engine URL", f"For a socket write unix://{path}"
        )
    if scheme in ("http", "https"):
        raise BadArgument(
            f"Unsupported engine URL {raw!r}",
            f"Write tcp://HOST:PORT instead of http(s)://, and add {usage('--tlsverify')} for TLS",
        )
    if scheme == "unix":
        return "unix://" + (rest or DEFAULT_UNIX_SOCKET)
    if scheme == "tcp":
        return _normalize_tcp(raw, rest)
    if scheme == "ssh":
        return _normalize_ssh(raw)
    if scheme in ("npipe", "fd"):
        raise BadArgument(f"{scheme}:// engines are not supported here", f"Use {URL_FORMS}")
    raise BadArgument(f"Malformed engine URL {raw!r}", f"Use {URL_FORMS}")


def _refuse_credentials(scheme: str, rest: str) -> None:
    """A password (or, for tcp://, any user info) in the URL is refused without repeating
    the URL: it is a secret typed into a magic's line, which the magics then take out of
    IPython's history. Checked before anything else reads the URL, whatever its shape (a
    password may hold ``/``, ``:`` or ``@``)."""
    userinfo, at, _ = rest.rpartition("@")
    if not at or scheme == "unix":  # a socket's path may hold an @
        return
    if scheme == "ssh" and ":" not in userinfo:
        return  # ssh://USER@HOST: a user name is no secret
    if scheme == "ssh":
        raise MaybeSecretArgument(
            "Passwords do not belong in the engine URL (not shown)",
            "Use an SSH key (ssh-agent or ~/.ssh/id_*) and ssh://USER@HOST",
        )
    raise MaybeSecretArgument(
        "User names and passwords do not belong in the engine URL (not shown)",
        "A tcp:// engine knows clients by their TLS certificate "
        f"({usage('--tlsverify')} {usage('--cert-path', 'DIR')}); for a login use ssh://USER@HOST",
    )


def _normalize_tcp(raw: str, rest: str) -> str:
    try:
        parts = urlsplit("tcp://" + rest)
        port = parts.port
    except ValueError:
        raise BadArgument(
            f"Malformed engine URL {raw!r}: bad port", "Use tcp://HOST:PORT"
        ) from None
    if "://" in rest or parts.query or parts.fragment or parts.username:
        raise BadArgument(f"Malformed engine URL {raw!r}", "Use tcp://HOST:PORT")
    host = parts.hostname or "localhost"
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"tcp://{host}:{port or DEFAULT_TCP_PORT}{parts.path.rstrip('/')}"


def _normalize_ssh(raw: str) -> str:
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise BadArgument(
            f"Malformed engine URL {raw!r}: bad port", "Use ssh://[USER@]HOST[:PORT]"
        ) from None
    if not parts.hostname or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise BadArgument(f"Malformed engine URL {raw!r}", "Use ssh://[USER@]HOST[:PORT]")
    return raw.rstrip("/")


def parse_api_version(value: str | None) -> str | None:
    """``None``/``"auto"`` mean negotiate; otherwise ``MAJOR.MINOR``."""
    if value is None or value.strip().lower() in ("", "auto"):
        return None
    value = value.strip()
    if not _API_VERSION.match(value):
        raise BadArgument(f"Invalid API version {value!r}", "Use MAJOR.MINOR (e.g. 1.41) or auto")
    return value


def parse_headers(items: list[str] | None) -> dict[str, str]:
    """``NAME=VALUE`` strings to a dict, validated as HTTP header names."""
    headers: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
            raise BadArgument(f"Invalid header {item!r}", f"Use {usage('--header', 'NAME=VALUE')}")
        if "\n" in value or "\r" in value:
            raise BadArgument(f"Invalid header {name!r}: line breaks are not allowed")
        headers[name] = value
    return headers


def resolve(
    url: str | None = None,
    *,
    context: str | None = None,
    tls: bool = False,
    tlsverify: bool = False,
    tlscacert: str | None = None,
    tlscert: str | None = None,
    tlskey: str | None = None,
    cert_path: str | None = None,
    api_version: str | None = None,
    headers: dict[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Endpoint:
    """Resolve options and environment to an :class:`Endpoint`, as ``docker`` would."""
    env = os.environ if environ is None else environ
    tls_files_given = any((tlscacert, tlscert, tlskey, cert_path))
    if url and context:
        raise BadArgument(
            f"Give either an engine URL or {option('--context')}, not both",
            "A context already names its engine",
        )
    if context and (tls or tlsverify or tls_files_given):
        raise BadArgument(
            f"TLS options cannot be combined with {usage('--context', context)}",
            "The context carries its own TLS settings",
        )
    version = parse_api_version(
        api_version if api_version is not None else env.get("DOCKER_API_VERSION")
    )
    extra = dict(headers or {})

    source = "argument"
    if not url and (not context or context == "default") and env.get("DOCKER_HOST"):
        # The "default" context is whatever DOCKER_HOST says, as in the CLI.
        url, source, context = env["DOCKER_HOST"], "DOCKER_HOST", None
    if not url and not context:
        context = env.get("DOCKER_CONTEXT") or _current_context(env)
    if context and context != "default":
        return _from_context(context, version, extra, env)

    # The "default" context: an explicit URL, DOCKER_HOST, or the platform default.
    tls_asked = tls or tlsverify or tls_files_given
    want_verify = tlsverify or bool(env.get("DOCKER_TLS_VERIFY")) or (tls_files_given and not tls)
    want_tls = want_verify or tls or bool(env.get("DOCKER_TLS"))
    if url:
        normalized = normalize_url(url)
    else:
        source = "default"
        normalized = DEFAULT_TLS_HOST if want_tls else "unix://" + DEFAULT_UNIX_SOCKET
    if not normalized.startswith("tcp://"):
        if tls_asked:
            raise BadArgument(
                f"TLS options only apply to tcp:// engines, not {normalized}",
                "Drop the TLS options, or use tcp://HOST:PORT",
            )
        want_tls = False  # like the CLI: DOCKER_TLS_VERIFY means nothing to a socket or ssh
    tls_files = None
    if want_tls:
        tls_files = _tls_files(
            verify=want_verify,
            cert_dir=cert_path or env.get("DOCKER_CERT_PATH") or docker_config_dir(env),
            cert_dir_given=bool(cert_path or env.get("DOCKER_CERT_PATH")),
            ca=tlscacert,
            cert=tlscert,
            key=tlskey,
        )
    return Endpoint(normalized, tls_files, version, source, "default", extra)


_TLS_FLAGS = {"ca": "--tlscacert", "cert": "--tlscert", "key": "--tlskey"}


def _tls_files(
    *,
    verify: bool,
    cert_dir: str,
    cert_dir_given: bool,
    ca: str | None,
    cert: str | None,
    key: str | None,
) -> TLSFiles:
    if cert_dir_given and not os.path.isdir(os.path.expanduser(cert_dir)):
        raise BadArgument(
            f"The certificate folder {cert_dir} does not exist",
            f"Point {option('--cert-path')} (or DOCKER_CERT_PATH) at the folder holding ca.pem, "
            "cert.pem and key.pem",
        )
    paths: dict[str, str | None] = {}
    for name, given in (("ca", ca), ("cert", cert), ("key", key)):
        if given:
            path = os.path.expanduser(given)
            if not os.path.exists(path):
                raise BadArgument(
                    f"TLS file not found: {path}",
                    f"Check the path given to {option(_TLS_FLAGS[name])}",
                )
        else:
            path = os.path.join(os.path.expanduser(cert_dir), f"{name}.pem")
            # Like the CLI: files missing from the cert directory are simply not used.
            if not os.path.exists(path):
                path = None
        paths[name] = path
    if verify and not paths["ca"]:
        raise BadArgument(
            f"TLS verification is on but there is no CA certificate at "
            f"{os.path.join(cert_dir, 'ca.pem')}",
            f"Point {option('--cert-path')} (or DOCKER_CERT_PATH) at the folder holding ca.pem, "
            f"cert.pem and key.pem, or pass {usage('--tlscacert', 'FILE')}",
        )
    if bool(paths["cert"]) != bool(paths["key"]):
        missing = "key" if paths["cert"] else "certificate"
        raise BadArgument(
            f"A TLS client {missing} is missing",
            f"Pass both {option('--tlscert')} and {option('--tlskey')} (or cert.pem and "
            f"key.pem in {option('--cert-path')})",
        )
    return TLSFiles(verify=verify, **paths)


def _current_context(env: Mapping[str, str]) -> str:
    path = os.path.join(docker_config_dir(env), "config.json")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f).get("currentContext") or "default"
    except (OSError, ValueError, AttributeError):
        return "default"


def context_names(environ: Mapping[str, str] | None = None) -> list[str]:
    """Names of the contexts in the Docker config (``default`` first)."""
    meta = os.path.join(docker_config_dir(environ), "contexts", "meta")
    names = []
    for entry in sorted(os.listdir(meta)) if os.path.isdir(meta) else []:
        try:
            with open(os.path.join(meta, entry, "meta.json"), encoding="utf-8") as f:
                names.append(json.load(f)["Name"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return ["default", *sorted(names)]


def _from_context(
    name: str, version: str | None, headers: dict[str, str], env: Mapping[str, str]
) -> Endpoint:
    # The CLI's context store, read directly: docker-py's reader needs all three TLS files
    # and only looks at os.environ.
    ctx_dir = os.path.join(docker_config_dir(env), "contexts")
    digest = hashlib.sha256(name.encode()).hexdigest()
    try:
        with open(os.path.join(ctx_dir, "meta", digest, "meta.json"), encoding="utf-8") as f:
            meta = json.load(f)
    except FileNotFoundError:
        known = ", ".join(context_names(env))
        raise BadArgument(
            f"No Docker context named {name!r}",
            f"Known contexts: {known} (see `docker context ls`)",
        ) from None
    except (OSError, ValueError) as exc:
        raise BadArgument(f"Docker context {name!r} cannot be read: {exc}") from None
    endpoint = (meta.get("Endpoints") or {}).get("docker") or {}
    host = endpoint.get("Host") or "unix://" + DEFAULT_UNIX_SOCKET
    tls_dir = os.path.join(ctx_dir, "tls", digest, "docker")
    files = {
        k: os.path.join(tls_dir, f"{k}.pem")
        for k in ("ca", "cert", "key")
        if os.path.isfile(os.path.join(tls_dir, f"{k}.pem"))
    }
    skip_verify = bool(endpoint.get("SkipTLSVerify"))
    tls_files = TLSFiles(verify=not skip_verify, **files) if files or skip_verify else None
    return Endpoint(normalize_url(host), tls_files, version, f"context {name!r}", name, headers)
