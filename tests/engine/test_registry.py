"""%docker_push, %docker_pull, %docker_tag, %docker_login against real registries started by
the harness (a plain loopback one, an htpasswd one, and a TLS one the engine does not trust)."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import stat
import urllib.request

import pytest

import docker_magics
from docker_magics.registry import credentials

pytestmark = pytest.mark.engine


MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    ]
)


def registry_digest(host: str, name: str, tag: str, auth: tuple[str, str] | None = None):
    """The digest the registry itself reports for name:tag (HEAD on the manifest)."""
    req = urllib.request.Request(
        f"http://{host}/v2/{name}/manifests/{tag}",
        method="HEAD",
        headers={"Accept": MANIFEST_TYPES},
    )
    if auth:
        import base64

        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.headers["Docker-Content-Digest"]


@pytest.fixture
def reg(run, engine, busybox, monkeypatch):
    """Connected; the session's logins are forgotten afterwards."""
    monkeypatch.setenv("DOCKER_HOST", engine.url)
    assert run(f"%docker_connect {engine.url}").error is None
    yield run
    for registry in list(credentials.CREDENTIALS._logins):
        credentials.CREDENTIALS.forget(registry)


@pytest.fixture
def fresh_image(reg, engine, tmp_path):
    """Build a small image whose layer no other image has (random bytes), named NAME."""

    def make(name: str) -> str:
        blob = tmp_path / f"blob-{secrets.token_hex(4)}.bin"
        blob.write_bytes(os.urandom(300_000))
        cell = reg(
            f"%%docker_build -t {name} --progress none --add {blob}:blob.bin\n"
            "FROM scratch\nCOPY blob.bin /blob.bin\n"
        )
        assert cell.error is None, cell.err
        return name

    return make


def test_push_to_an_open_registry(reg, registry, busybox, fresh_image):
    name = f"{registry.host}/dm/bb"
    source = fresh_image("dm-test/fresh-push:1")  # a layer no earlier test pushed
    assert reg(f"%docker_tag {source} {name}:1").line == f"Tagged {source} as {name}:1"
    cell = reg(f"%docker_push {name}:1 --progress plain")
    assert cell.error is None, cell.err
    result = cell.value
    assert isinstance(result, docker_magics.PushResult)
    assert result.digest == registry_digest(registry.host, "dm/bb", "1")
    assert result.tag == "1" and result.size > 0
    lines = cell.out.splitlines()
    assert lines[0] == f"Pushing {name}:1"
    assert f"The push refers to repository [{name}]" in lines
    assert any(line.endswith(": Preparing") for line in lines)
    assert any(line.endswith(": Pushed") for line in lines)
    assert f"1: digest: {result.digest} size: {result.size}" in lines
    assert set(result.layers.values()) == {"Pushed"}  # one fresh layer, from scratch
    assert repr(result).splitlines()[1] == f"1: digest: {result.digest} size: {result.size}"
    # Pushing again: every layer is already there.
    again = reg(f"%docker_push {name}:1 --progress plain")
    assert set(again.value.layers.values()) == {"Layer already exists"}
    assert again.value.digest == result.digest
    assert "Layer already exists" in again.out


def test_push_all_tags_and_default_tag(reg, registry, busybox):
    name = f"{registry.host}/dm/tags"
    for t in ("a", "b", "latest"):
        reg(f"%docker_tag {busybox} {name}:{t}")
    assert reg(f"%docker_push {name} --progress none").value.tag == "latest"
    result = reg(f"%docker_push {name} --all-tags --progress none").value
    assert sorted(p.tag for p in result.digests) == ["a", "b", "latest"]
    msg = reg(f"%docker_push {name}:a --all-tags").usage_error
    assert msg.startswith(f"--all-tags pushes every tag of {name}")
    for t in ("a", "b", "latest"):
        reg(f"%docker_rmi {name}:{t}")
    pulled = reg(f"%docker_pull {name} --all-tags --progress none").value
    # The busybox layers were all here: the tags come back, nothing is downloaded.
    assert re.fullmatch(
        rf"Pulled {re.escape(name)} \(all tags\) in [\d.]+s: nothing to download, the engine "
        "had its layers",
        pulled.summary(),
    )
    assert {t.split(":")[-1] for t in engine_api_tags(reg, name)} == {"a", "b", "latest"}


def engine_api_tags(reg, name: str) -> list[str]:
    return [f"{r[0]}:{r[1]}" for r in reg(f"%docker_images {name}").value.rows]


def test_pull_downloads_then_is_up_to_date(reg, registry, fresh_image, engine):
    name = fresh_image(f"{registry.host}/dm/fresh:1")
    pushed = reg(f"%docker_push {name} --progress none").value
    api = engine.api()
    api.remove_image(name)
    cell = reg(f"%docker_pull {name} --progress plain")
    assert cell.error is None, cell.err
    result = cell.value
    assert result.digest == pushed.digest and result.downloaded == 1
    assert "Pull complete" in cell.out and f"Status: Downloaded newer image for {name}" in cell.out
    assert result.image_id == api.inspect_image(name)["Id"]
    again = reg(f"%docker_pull {name} --progress plain").value
    assert "up to date" in again.summary() and again.downloaded == 0
    quiet = reg(f"%docker_pull {name} -q")
    assert quiet.out.splitlines()[0] == result.image_id


@pytest.mark.parametrize(
    "line, expected",
    [
        (
            "%docker_pull {P}/dm/none:nope",
            "{P}/dm/none:nope is not in the registry {P}: no such repository or tag. Check the "
            "name and the tag.",
        ),
        (
            "%docker_push {P}/dm/not-built:1",
            "There is no image {P}/dm/not-built:1 on the engine. Build it with %%docker_build "
            "-t {P}/dm/not-built:1, or name an existing image so with %docker_tag SOURCE "
            "{P}/dm/not-built:1.",
        ),
        (
            "%docker_push not/Valid",
            "Invalid image name 'not/Valid': 'Valid' is not allowed. "
            "Repository names must be lowercase.",
        ),
        (
            "%docker_tag no-such-image:1 {P}/dm/x",
            "There is no image no-such-image:1 on the "
            "engine. Check the name (%docker_images lists "
            "them).",
        ),
        (
            "%docker_push",
            "%docker_push: the following arguments are required: NAME[:TAG]. See "
            "%docker_push? for the options.",
        ),
    ],
)
def test_failures_are_one_line(reg, registry, line, expected):
    P = registry.host
    assert reg(line.format(P=P)).usage_error == expected.format(P=P)


def test_unreachable_registry(reg, busybox):
    from tests.support import free_port

    port = free_port()
    reg(f"%docker_tag {busybox} 127.0.0.1:{port}/dm/bb:1")
    msg = reg(f"%docker_push 127.0.0.1:{port}/dm/bb:1").usage_error
    assert msg == (
        f"The registry 127.0.0.1:{port} cannot be reached (dial tcp 127.0.0.1:{port}: connect: "
        "connection refused). Check the address and that the registry is running."
    )


def test_login_and_push_to_an_authenticating_registry(reg, auth_registry, busybox, monkeypatch):
    from tests.support import REGISTRY_USER

    host = auth_registry.host
    password = auth_registry.users[REGISTRY_USER]
    name = f"{host}/dm/private"
    reg(f"%docker_tag {busybox} {name}:1")
    msg = reg(f"%docker_push {name}:1").usage_error
    assert msg == (
        f"The registry {host} requires a login (no basic auth credentials). Log in with "
        f"%docker_login {host} (the password is asked for, never typed into the magic)."
    )
    pull = reg(f"%docker_pull {name}:1").usage_error
    assert pull.startswith(f"The registry {host} requires a login")
    monkeypatch.setenv("DM_PW", "not-the-password")
    wrong = reg(f"%docker_login {host} -u {REGISTRY_USER} --password-env DM_PW").usage_error
    assert wrong == (
        f"Login to {host} failed: wrong user name or password for {REGISTRY_USER}. Nothing was "
        "kept; try again."
    )
    monkeypatch.setenv("DM_PW", password)
    ok = reg(f"%docker_login {host} -u {REGISTRY_USER} --password-env DM_PW")
    assert ok.line == f"Login Succeeded: {REGISTRY_USER} at {host} for this session"
    pushed = reg(f"%docker_push {name}:1 --progress none").value
    assert pushed.digest == registry_digest(host, "dm/private", "1", (REGISTRY_USER, password))
    assert reg(f"%docker_logout {host}").line == f"Forgot the login to {host}"
    assert reg(f"%docker_push {name}:1").usage_error.startswith(
        f"The registry {host} requires a login"
    )


@pytest.mark.parametrize(
    "line, what",
    [
        ("%docker_login {H} -u tester -p {PW}", "unknown option -p"),
        ("%docker_login {H} tester {PW}", "unexpected arguments"),
        ("%docker_login {H} --password {PW}", "unknown option --password (did you mean "
         "--password-env?)"),
        ("%docker_login {H} --pasword-env {PW}", "unknown option --pasword-env (did you mean "
         "--password-env?)"),
        ("%docker_login {H} --list", "unexpected arguments"),  # not a near miss: not named
        ("%docker_login {H} -u tester -p={PW}", "unknown option -p"),
    ],
)  # fmt: skip
def test_a_password_typed_as_an_argument_is_refused_and_not_echoed(reg, auth_registry, line, what):
    """What was typed is not repeated, the options that cannot be a password are named, and
    the user is told to delete it from the cell: IPython's history drops the cell, but the
    notebook keeps it as typed, and a kernel cannot change it."""
    cell = reg(line.format(H=auth_registry.host, PW="typed-secret-123"))
    assert "typed-secret-123" not in cell.err + cell.out
    assert cell.usage_error == (
        f"%docker_login: {what}; the line is not repeated, as it may hold a password. "
        "Passwords are never magic arguments: you are asked for them, or use --password-env "
        "VAR. If you typed a password in this line, delete it from the cell: the notebook "
        "keeps the cell as you typed it (IPython's history no longer has it). See "
        "%docker_login? for the options."
    )


def test_a_password_where_the_registry_goes_is_refused_and_not_echoed(reg):
    cell = reg("%docker_login -u tester Typed-Secret-123")
    assert "Typed-Secret-123" not in cell.err + cell.out
    assert cell.usage_error == (
        "The registry given to %docker_login is not a host name (HOST.DOMAIN, HOST:PORT or "
        "localhost); it is not repeated, as it may be a password. Passwords are never "
        "arguments: run %docker_login HOST -u USER and type it when asked, or use "
        "--password-env VAR. If you typed a password in this line, delete it from the cell: "
        "the notebook keeps the cell as you typed it (IPython's history no longer has it)."
    )


def test_login_needs_a_user_and_a_set_variable(reg, auth_registry):
    host = auth_registry.host
    # No -u: asked for, as `docker login` does; here stdin cannot be read.
    assert reg(f"%docker_login {host}").usage_error == (
        "This frontend cannot ask for a user name. Pass it with -u USER."
    )
    assert reg(f"%docker_login {host} -u x --password-env DM_UNSET_VAR").usage_error == (
        "The environment variable given to --password-env is not set. Set it to the password, "
        "or leave out --password-env to be asked for it."
    )


def test_save_login_in_the_docker_config(reg, auth_registry, busybox, docker_env, monkeypatch):
    from tests.support import REGISTRY_USER

    host = auth_registry.host
    monkeypatch.setenv("DM_PW", auth_registry.users[REGISTRY_USER])
    cell = reg(f"%docker_login {host} -u {REGISTRY_USER} --password-env DM_PW --save")
    assert cell.line == (
        f"Login Succeeded: {REGISTRY_USER} at {host}. Saved in {docker_env}/config.json, "
        "base64-encoded but NOT encrypted (configure a credential helper with credsStore to "
        "avoid this)"
    )
    config_file = docker_env / "config.json"
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    assert host in json.loads(config_file.read_text())["auths"]
    # A later session without %docker_login finds the saved login, as the docker CLI would.
    credentials.CREDENTIALS.forget(host)
    reg(f"%docker_tag {busybox} {host}/dm/saved:1")
    assert reg(f"%docker_push {host}/dm/saved:1 --progress none").error is None
    assert reg(f"%docker_logout {host} --saved").line == (
        f"Forgot the login to {host} and removed the saved login"
    )
    assert host not in json.loads(config_file.read_text()).get("auths", {})


def test_save_login_in_a_credential_helper(
    reg, auth_registry, busybox, docker_env, tmp_path, monkeypatch
):
    """A real credential helper (the docker-credential-* protocol on stdin/stdout), here a
    small one keeping its secrets in a file."""
    from tests.support import REGISTRY_USER

    host = auth_registry.host
    store = tmp_path / "helper-store.json"
    helper = tmp_path / "bin" / "docker-credential-dmtest"
    helper.parent.mkdir()
    helper.write_text(f"""#!{shutil.which("python3")}
import json, sys
path = {str(store)!r}
try:
    data = json.load(open(path))
except FileNotFoundError:
    data = {{}}
action, payload = sys.argv[1], sys.stdin.read().strip()
if action == "store":
    entry = json.loads(payload); data[entry["ServerURL"]] = entry
    json.dump(data, open(path, "w"))
elif action == "get":
    if payload not in data:
        print("credentials not found in native keychain"); sys.exit(1)
    print(json.dumps(data[payload]))
elif action == "erase":
    data.pop(payload, None); json.dump(data, open(path, "w"))
elif action == "list":
    print(json.dumps({{k: v["Username"] for k, v in data.items()}}))
""")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{helper.parent}:{os.environ['PATH']}")
    (docker_env / "config.json").write_text(json.dumps({"credsStore": "dmtest"}))
    monkeypatch.setenv("DM_PW", auth_registry.users[REGISTRY_USER])
    cell = reg(f"%docker_login {host} -u {REGISTRY_USER} --password-env DM_PW --save")
    assert cell.line.endswith("Saved in the credential helper docker-credential-dmtest")
    assert json.loads(store.read_text())[host]["Username"] == REGISTRY_USER
    assert auth_registry.users[REGISTRY_USER] not in (docker_env / "config.json").read_text()
    credentials.CREDENTIALS.forget(host)
    reg(f"%docker_tag {busybox} {host}/dm/helper:1")
    assert reg(f"%docker_push {host}/dm/helper:1 --progress none").error is None
    reg(f"%docker_logout {host} --saved")
    assert host not in json.loads(store.read_text())


def test_a_broken_credential_helper_is_said_not_hidden(
    reg, registry, auth_registry, busybox, docker_env
):
    """As the CLI: the helper's failure is told; open registries keep working."""
    (docker_env / "config.json").write_text(json.dumps({"credsStore": "dm-not-installed"}))
    warning = (
        "Warning: The credential helper of the Docker config could not be asked for the login "
        "to {} (docker-credential-dm-not-installed not installed or not available in PATH); "
        "going on without it."
    )
    reg(f"%docker_tag {busybox} {registry.host}/dm/helper:1")
    cell = reg(f"%docker_push {registry.host}/dm/helper:1 --progress none")
    assert cell.error is None, cell.err
    assert cell.err.splitlines() == [warning.format(registry.host)]
    reg(f"%docker_tag {busybox} {auth_registry.host}/dm/helper:1")
    cell = reg(f"%docker_push {auth_registry.host}/dm/helper:1 --progress none")
    assert cell.err.splitlines()[0] == warning.format(auth_registry.host)
    assert cell.usage_error.startswith(f"The registry {auth_registry.host} requires a login")


def test_saving_a_login_that_cannot_be_saved_keeps_nothing(
    reg, auth_registry, docker_env, tmp_path, monkeypatch
):
    from tests.support import REGISTRY_USER

    host = auth_registry.host
    monkeypatch.setenv("DM_PW", auth_registry.users[REGISTRY_USER])
    login = f"%docker_login {host} -u {REGISTRY_USER} --password-env DM_PW --save"
    config_file = docker_env / "config.json"
    config_file.write_text('{"auths": {')
    assert reg(login).usage_error == (
        f"Cannot read the Docker config {config_file}: Expecting property name enclosed in "
        "double quotes: line 1 column 12 (char 11). Fix or move that file (DOCKER_CONFIG "
        "chooses another folder)."
    )
    assert not credentials.CREDENTIALS.logged_in(host)
    # A credential helper that fails (here: one that is not installed).
    config_file.write_text(json.dumps({"credsStore": "dm-not-installed"}))
    line = reg(login).usage_error
    assert line.startswith(
        "The credential helper docker-credential-dm-not-installed could not save the login: "
    ) and line.endswith("Check the helper (or log in without --save).")
    assert not credentials.CREDENTIALS.logged_in(host)
    assert config_file.read_text() == json.dumps({"credsStore": "dm-not-installed"})
    # Odd but readable values (null, a list) are treated as empty, as the CLI does.
    config_file.write_text('{"auths": null, "credHelpers": []}')
    assert reg(login).error is None
    assert host in json.loads(config_file.read_text())["auths"]
    credentials.CREDENTIALS.forget(host)


def test_registry_the_engine_does_not_trust(reg, busybox, tmp_path, tls_material):
    """A TLS registry the engine reaches on a non-loopback address (so it is not an insecure
    registry), with a certificate from a CA the engine does not know."""
    import trustme

    from tests.support import NetNamespace, Registry

    ns = NetNamespace("dmreg", host_ip="10.213.8.1", peer_ip="10.213.8.2")
    try:
        cert = trustme.CA().issue_cert("10.213.8.2")
        cert.cert_chain_pems[0].write_to_path(tmp_path / "cert.pem")
        cert.private_key_pem.write_to_path(tmp_path / "key.pem")
        registry = Registry(
            tmp_path / "reg",
            ip=ns.peer_ip,
            netns=ns.name,
            tls=(tmp_path / "cert.pem", tmp_path / "key.pem"),
        ).start()
        try:
            reg(f"%docker_tag {busybox} {registry.host}/dm/bb:1")
            msg = reg(f"%docker_push {registry.host}/dm/bb:1").usage_error
        finally:
            registry.cleanup()
    finally:
        ns.cleanup()
    assert msg.startswith(
        f"The engine does not trust the TLS certificate of the registry {registry.host} ("
    )
    assert "certificate signed by unknown authority" in msg
    assert f"/etc/docker/certs.d/{registry.host}/ca.crt" in msg


def test_python_api(reg, registry, busybox):
    name = f"{registry.host}/dm/api:1"
    assert docker_magics.tag(busybox, name) == name
    result = docker_magics.push(name, progress="none")
    assert result.digest == registry_digest(registry.host, "dm/api", "1")
    assert docker_magics.pull(name, progress="none").digest == result.digest
