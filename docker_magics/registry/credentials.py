"""Registry credentials, resolved as the docker CLI does, and kept out of every output.

Order: what ``%docker_login`` verified in this session, then the Docker config
(``auths``, ``credsStore``, ``credHelpers``, through docker-py's ``docker.auth``). Passwords
never come from magic arguments: ``getpass`` or an environment variable the user names.

Every secret seen here is registered with :mod:`docker_magics.redaction`, which masks it in
every line shown, so a password (or its base64 forms) cannot leak through an error message.
"""

from __future__ import annotations

import base64
import json
import os
import re
import tempfile

from docker_magics.engine.endpoints import docker_config_dir
from docker_magics.errors import BadArgument, CredentialHelperWarning, EngineError, how
from docker_magics.redaction import protect, protect_value
from docker_magics.registry.references import (
    DOCKER_HUB_INDEX,
    ReferenceError,
    is_docker_hub,
    parse_normalized,
    registry_key,
    split_docker_domain,
)

INDEX = DOCKER_HUB_INDEX  # Docker Hub's key in the Docker config


def registry_of(reference: str) -> str:
    """The registry an image reference lives in, as the Docker config keys it (the CLI's
    ``ParseNormalizedNamed`` then ``ResolveAuthConfig``)."""
    try:
        registry = parse_normalized(reference).registry
    except ReferenceError:  # not a name the engine takes: where it would have been
        registry = split_docker_domain(reference.split("@", 1)[0])[0]
    return registry_key(registry)


def display_name(registry: str) -> str:
    return "Docker Hub" if is_docker_hub(registry) else registry


def login_command(registry: str | None) -> str:
    """How to log in to ``registry`` (a config key or a display name; None: not known), in
    the caller's words (``%docker_login HOST`` or ``docker_magics.login('HOST')``)."""
    if registry is None:
        return how("%docker_login REGISTRY", "docker_magics.login('REGISTRY')")
    if display_name(registry) == "Docker Hub":
        return how("%docker_login", "docker_magics.login()")
    return how(f"%docker_login {registry}", f"docker_magics.login({registry!r})")


def normalize_registry(registry: str | None) -> str:
    """``%docker_login`` argument -> config key (``docker.io`` and friends -> Docker Hub)."""
    if not registry:
        return INDEX
    name = registry.strip().rstrip("/")
    if is_docker_hub(name):
        return INDEX
    for prefix in ("https://", "http://"):
        name = name.removeprefix(prefix)
    return registry_key(name)


class Credentials:
    """This session's verified logins, in front of the Docker config."""

    def __init__(self) -> None:
        self._logins: dict[str, dict[str, str]] = {}

    def add(self, registry: str, username: str, password: str, token: str = "") -> None:
        entry = {"username": username, "serveraddress": registry}
        if token:
            entry["identitytoken"] = token
        else:
            entry["password"] = password
        self._logins[registry] = entry
        protect(username, password)
        protect_value(token)

    def forget(self, registry: str) -> bool:
        return self._logins.pop(registry, None) is not None

    def logged_in(self, registry: str) -> bool:
        return registry in self._logins

    def for_registry(self, registry: str) -> dict | None:
        """The auth config for ``registry``: this session's login, else the Docker config."""
        if registry in self._logins:
            return dict(self._logins[registry])
        found = _from_docker_config(registry)
        if found:
            protect(found.get("username", ""), found.get("password", ""))
            protect_value(found.get("identitytoken", ""))
        return found

    @staticmethod
    def header(auth: dict | None) -> str:
        """``X-Registry-Auth`` for an auth config from :meth:`for_registry`: an empty config
        when there is none, which is what a registry without authentication needs."""
        from docker.auth import encode_header

        auth = auth or {}
        value = encode_header(auth).decode()  # base64: ASCII
        if auth:
            protect_value(value)
        return value

    def config_header(self) -> str | None:
        """``X-Registry-Config`` for builds: every known login, so base images can be pulled
        from private registries."""
        from docker.auth import encode_header, load_config

        try:
            configs = load_config(config_path=_config_path()).get_all_credentials()
        except Exception:  # noqa: BLE001 - an unreadable config means no saved logins
            configs = {}
        configs.update({k: dict(v) for k, v in self._logins.items()})
        if not configs:
            return None
        value = encode_header(configs).decode()
        protect_value(value)
        return value


def _config_path() -> str:
    return os.path.join(docker_config_dir(), "config.json")


def _from_docker_config(registry: str) -> dict | None:
    import warnings

    from docker.auth import load_config

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # docker-py's multi-line "not installed" warning
            config = load_config(config_path=_config_path())
            found = config.resolve_authconfig(registry)
    except Exception as exc:  # noqa: BLE001 - a broken helper must not break open registries
        # ...but say it, as the CLI does: a login it holds cannot be used.
        reason = " ".join(str(exc).split())
        inner = re.search(r"""StoreError\((['"])(.*)\1\)""", reason)
        warnings.warn(
            CredentialHelperWarning(
                f"The credential helper of the Docker config could not be asked for the "
                f"login to {display_name(registry)} ({inner.group(2) if inner else reason}); "
                "going on without it."
            ),
            stacklevel=2,
        )
        return None
    if not found:
        return None
    found = {k.lower(): v for k, v in found.items()}
    return {
        k: v
        for k, v in {
            "username": found.get("username", ""),
            "password": found.get("password", ""),
            "identitytoken": found.get("identitytoken", ""),
            "serveraddress": found.get("serveraddress", registry),
        }.items()
        if v
    }


def save_login(registry: str, username: str, password: str, token: str = "") -> str:
    """Store a login like ``docker login``: in the credential helper the Docker config names
    for the registry, else base64-encoded in ``config.json`` (with a warning). An identity
    token the registry gave is stored instead of the password, as the CLI does. Returns a
    sentence saying where it went."""
    protect_value(token)  # before a helper's error message could echo it
    path = _config_path()
    config = _read_config(path)
    helper = _helper_for(config, registry)
    if helper:
        from docker.credentials.errors import StoreError

        user, secret = ("<token>", token) if token else (username, password)
        try:
            _store(helper).store(server=registry, username=user, secret=secret)
        except StoreError as exc:
            raise EngineError(
                f"The credential helper docker-credential-{helper} could not save the login: "
                f"{' '.join(str(exc).split())}",
                "Check the helper (or log in without --save)",
            ) from None
        config["auths"][registry] = {}
        where = f"Saved in the credential helper docker-credential-{helper}"
    else:
        pair = f"{username}:{'' if token else password}"
        entry = {"auth": base64.b64encode(pair.encode()).decode()}
        if token:
            entry["identitytoken"] = token
        config["auths"][registry] = entry
        where = (
            f"Saved in {path}, base64-encoded but NOT encrypted (configure a credential helper "
            "with credsStore to avoid this)"
        )
    try:
        _write_private(path, json.dumps(config, indent="\t") + "\n")
    except BadArgument:
        if helper:  # nothing is kept: take it back out of the helper
            _erase_from_helper(helper, registry)
        raise
    return where


def erase_saved_login(registry: str) -> bool:
    """Remove a saved login from the Docker config (and its credential helper)."""
    path = _config_path()
    if not os.path.exists(path):
        return False
    config = _read_config(path)
    helper = _helper_for(config, registry)
    removed = config["auths"].pop(registry, None) is not None
    if helper:
        removed = _erase_from_helper(helper, registry) or removed
    _write_private(path, json.dumps(config, indent="\t") + "\n")
    return removed


def _read_config(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except FileNotFoundError:
        config = {}
    except (OSError, ValueError) as exc:
        raise BadArgument(
            f"Cannot read the Docker config {path}: {getattr(exc, 'strerror', None) or exc}",
            "Fix or move that file (DOCKER_CONFIG chooses another folder)",
        ) from None
    if not isinstance(config, dict):
        raise BadArgument(
            f"The Docker config {path} is not a JSON object",
            "Fix or move that file (DOCKER_CONFIG chooses another folder)",
        )
    if not isinstance(config.get("auths"), dict):
        config["auths"] = {}
    return config


def _helper_for(config: dict, registry: str) -> str | None:
    helpers = config.get("credHelpers")
    helper = helpers.get(registry) if isinstance(helpers, dict) else None
    store = config.get("credsStore")
    return helper or (store if isinstance(store, str) else None) or None


def _store(helper: str):
    """docker-py's helper client, without its multi-line warning when the helper is missing
    (its StoreError says so, and we report that in one line)."""
    import warnings

    from docker.credentials import Store

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Store(helper)


def _erase_from_helper(helper: str, registry: str) -> bool:
    from docker.credentials.errors import StoreError

    try:
        _store(helper).erase(registry)
        return True
    except StoreError:
        return False


def _write_private(path: str, text: str) -> None:
    """Write atomically, readable by the owner only (it may hold credentials)."""
    folder = os.path.dirname(path)
    tmp = None
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".config.json.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise BadArgument(
                f"Cannot write the Docker config {path}: {exc.strerror or exc}",
                "Check its folder's permissions and free space (DOCKER_CONFIG chooses "
                "another folder)",
            ) from None
        raise


CREDENTIALS = Credentials()  # the session's, shared by the magics and the Python API


def for_buildkit(host: str) -> tuple[str, str] | None:
    """``(username, secret)`` for a registry BuildKit pulls from, as the CLI answers it (an
    identity token goes alone, as the secret)."""
    auth = CREDENTIALS.for_registry(registry_key(host))
    if not auth:
        return None
    if auth.get("identitytoken"):
        return "", auth["identitytoken"]
    return auth.get("username", ""), auth.get("password", "")
