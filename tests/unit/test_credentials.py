"""Registry logins without a registry: a saved identity token is read back as the docker CLI
stores it, and a password typed where %docker_login's registry goes is refused unseen.
(tests/engine/test_registry.py has the logins against real registries.)"""

from __future__ import annotations

import json

import pytest

from docker_magics.registry import credentials

pytestmark = pytest.mark.engine


def test_saved_identity_token_is_read_back_as_the_cli_stores_it(docker_env):
    """A registry that answers a login with an identity token: the token is saved, not the
    password (as ``docker login`` does), and docker-py's auth module reads it back."""
    import docker.auth

    where = credentials.save_login("reg.example:5000", "alice", "the-password", "tok-123")
    assert where.startswith(f"Saved in {docker_env}/config.json")
    saved = json.loads((docker_env / "config.json").read_text())["auths"]["reg.example:5000"]
    assert saved == {"auth": "YWxpY2U6", "identitytoken": "tok-123"}  # base64("alice:")
    assert "the-password" not in (docker_env / "config.json").read_text()
    found = docker.auth.load_config(str(docker_env / "config.json"))
    assert found.resolve_authconfig("reg.example:5000")["IdentityToken"] == "tok-123"
    # BuildKit's pulls get the token alone as the secret, as the CLI answers them.
    assert credentials.for_buildkit("reg.example:5000") == ("", "tok-123")
    credentials.CREDENTIALS.add("reg.example:5000", "alice", "the-password")
    assert credentials.for_buildkit("reg.example:5000") == ("alice", "the-password")
    credentials.CREDENTIALS.forget("reg.example:5000")


def test_a_password_where_the_registry_goes_is_refused():
    """An image name's first part with an upper-case letter is a registry (distribution/
    reference), but a login's registry must be a host: a typed password has capitals too."""
    from docker_magics.errors import MaybeSecretArgument
    from docker_magics.registry.transfers import login_registry

    for typed in ("typed-by-mistake-gp6mCgeU6VAtx", "Secret123", "hunter2"):
        with pytest.raises(MaybeSecretArgument) as refused:
            login_registry(typed)
        assert typed not in str(refused.value)
    for host in ("127.0.0.1:5000", "registry.example.com", "localhost", "Registry.Example.com"):
        assert login_registry(host) == host
