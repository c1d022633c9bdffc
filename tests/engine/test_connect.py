"""%docker_connect against real engines: every way to connect, and every expected failure
ending in exactly one UsageError line."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from docker_magics import api
from tests.support import as_nobody

pytestmark = pytest.mark.engine


def test_no_argument_uses_docker_host(run, engine, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", engine.url)
    cell = run("client = %docker_connect")
    assert cell.error is None, cell.err
    assert cell.out.startswith(f"Connected to {engine.url} as 'default': Docker Engine ")
    assert cell.out.count("\n") == 1
    assert ", API 1." in cell.out and "TLS off" in cell.out
    # The magic's value is the docker-py client, usable right away.
    client = run("client").value
    assert client.version()["ApiVersion"]
    assert api.SESSION.current().alias == "default"


def test_summary_reports_engine_facts(run, engine, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", engine.url)
    run("%docker_connect")
    version = engine.api().version()
    line = run("%docker_connect").out.strip()
    assert f"Docker Engine {version['Version']}" in line
    assert f"{version['Os']}/{version['Arch']}" in line


def test_explicit_unix_and_tcp_urls(run, engine):
    if engine.tcp_url is None:
        pytest.skip("needs the private engine's tcp port")
    out = run(f"%docker_connect {engine.url}").out
    assert out.startswith(f"Connected to {engine.url}: Docker Engine ")  # (its alias: itself)
    assert repr(api.current()).startswith(f"<Connection '{engine.url}': {engine.url}, Docker ")
    assert len(repr(api.current())) < 200  # not the engine's whole /version answer
    cell = run(f"%docker_connect {engine.tcp_url} --alias remote")
    assert cell.error is None, cell.err
    assert cell.out.startswith(f"Connected to {engine.tcp_url} as 'remote'")
    # Loopback tcp without TLS: no warning.
    assert cell.err == ""


def test_proxies_are_not_used_for_loopback_engines(run, engine, monkeypatch):
    """As the docker CLI: a proxy from the environment never carries loopback traffic
    (requests alone would send it to the proxy)."""
    if engine.tcp_url is None:
        pytest.skip("needs the private engine's tcp port")
    with socket.socket() as dead:  # a port nobody listens on: the "proxy"
        dead.bind(("127.0.0.1", 0))
        proxy = f"http://127.0.0.1:{dead.getsockname()[1]}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    cell = run(f"%docker_connect {engine.tcp_url} --alias behind-proxy")
    assert cell.error is None, cell.err
    assert cell.out.startswith(f"Connected to {engine.tcp_url} as 'behind-proxy'")


def test_bare_host_port_means_tcp(run, engine):
    if engine.tcp_url is None:
        pytest.skip("needs the private engine's tcp port")
    host_port = engine.tcp_url[len("tcp://") :]
    cell = run(f"%docker_connect {host_port}")
    assert cell.error is None, cell.err
    assert f"Connected to tcp://{host_port}" in cell.out


def test_docker_api_version_env_pins_version(run, engine, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", engine.url)
    monkeypatch.setenv("DOCKER_API_VERSION", "1.40")
    out = run("%docker_connect").out
    assert ", API 1.40," in out
    assert api.client().api.api_version == "1.40"
    # An explicit --api-version wins over the environment; auto negotiates.
    assert ", API 1.39," in run("%docker_connect --api-version 1.39").out
    negotiated = engine.api().version()["ApiVersion"]
    assert f", API {negotiated}," in run("%docker_connect --api-version auto").out


def test_config_defaults_apply(run, ip, engine, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", engine.url)
    run("%config DockerMagics.api_version = '1.38'")
    assert ", API 1.38," in run("%docker_connect").out
    run("%config DockerMagics.timeout = 7.5")
    run("%docker_connect")
    assert api.client().api.timeout == 7.5


def test_any_magic_connects_first(run, engine, monkeypatch):
    """A magic used before %docker_connect connects with the no-argument resolution."""
    monkeypatch.setenv("DOCKER_HOST", engine.url)
    cell = run("info = %docker_info")
    assert cell.error is None, cell.err
    assert cell.out.startswith(f"Connected to {engine.url} as 'default'")
    info = run("info").value
    assert info["Connection"] == f"'default' ({engine.url}), TLS off"
    assert info["Storage driver"]
    assert info["Images"].isdigit()
    assert "127.0.0.0/8" in info["Insecure registries"]
    assert "Storage driver" in info._repr_html_()


def test_aliases_list_switch_close(run, engine):
    if engine.tcp_url is None:
        pytest.skip("needs the private engine's tcp port")
    run(f"%docker_connect {engine.url} --alias local")
    run(f"%docker_connect {engine.tcp_url} --alias remote")
    table = run("%docker_connect --list").value
    assert [r[1] for r in table.rows] == ["local", "remote"]
    assert [r[0] for r in table.rows] == ["", "*"]
    assert table.rows[1][2] == engine.tcp_url and table.rows[1][3] == "off"  # (column: TLS)
    text = repr(table)
    assert "alias" in text and "endpoint" in text and "API" in text
    cell = run("%docker_connect local")
    assert cell.out.splitlines()[0] == f"Switched to 'local' ({engine.url}), TLS off"
    assert api.SESSION.current().alias == "local"
    cell = run("%docker_connect --close local")
    assert cell.out.strip() == "Closed the connection 'local'. Now current: 'remote'."
    assert [c.alias for c in api.SESSION.connections()] == ["remote"]
    assert api.SESSION.current().alias == "remote"
    assert run("%docker_connect --list --close remote").usage_error == (
        "--list takes no other arguments. Use %docker_connect --list, or %docker_connect "
        "--close NAME, alone."
    )
    cell = run("%docker_connect --close remote")
    assert cell.out.strip() == "Closed the connection 'remote'. No connection is open now."


def test_unknown_alias_or_context(run, engine):
    run(f"%docker_connect {engine.url} --alias local")
    msg = run("%docker_connect nosuch").usage_error
    assert msg.startswith(
        "No connection or docker context named 'nosuch'. Open connections: "
        "local; contexts: default."
    )
    assert run("%docker_connect --close nosuch").usage_error == (
        "No connection named 'nosuch'. Open connections: local."
    )
    assert api.SESSION.current().alias == "local"  # nothing changed


def test_switching_takes_no_options(run, engine):
    run(f"%docker_connect {engine.url} --alias local")
    msg = run("%docker_connect local --timeout 3").usage_error
    assert "'local' is an open connection: switching to it takes no options" in msg


def test_docker_context_current_and_env(run, engine, docker_env, docker_cli, monkeypatch):
    """Contexts made by the real docker CLI: DOCKER_CONTEXT, then currentContext."""
    env = {**os.environ, "DOCKER_CONFIG": str(docker_env)}
    subprocess.run(
        [docker_cli, "context", "create", "lab", "--docker", f"host={engine.url}"],
        check=True,
        env=env,
        capture_output=True,
    )
    subprocess.run(
        [
            docker_cli,
            "context",
            "create",
            "other",
            "--docker",
            "host=unix:///nonexistent/docker.sock",
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    subprocess.run([docker_cli, "context", "use", "lab"], check=True, env=env, capture_output=True)
    cell = run("%docker_connect")
    assert cell.out.startswith(f"Connected to {engine.url} as 'lab'"), cell.err
    monkeypatch.setenv("DOCKER_CONTEXT", "other")
    assert "unix:///nonexistent/docker.sock" in run("%docker_connect").usage_error
    # DOCKER_HOST wins over DOCKER_CONTEXT, as in the CLI.
    monkeypatch.setenv("DOCKER_HOST", engine.url)
    assert run("%docker_connect").out.startswith(f"Connected to {engine.url} as 'default'")
    # By name, with --context or as the positional argument.
    monkeypatch.delenv("DOCKER_HOST")
    assert run("%docker_connect --context lab").out.startswith(
        f"Connected to {engine.url} as 'lab'"
    )
    run("%docker_connect --close lab")
    assert run("%docker_connect lab").out.startswith(f"Connected to {engine.url} as 'lab'")
    # Once open, the name switches to the connection.
    assert run("%docker_connect lab").line == f"Switched to 'lab' ({engine.url}), TLS off"
    msg = run("%docker_connect --context nope").usage_error
    assert msg == (
        "No Docker context named 'nope'. Known contexts: default, lab, other "
        "(see `docker context ls`)."
    )


def test_tls_from_environment(run, tls_engine, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", tls_engine.url)
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(tls_engine.certs.client_dir))
    # requests would let these override the engine's CA (psf/requests#3829).
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    cell = run("%docker_connect")
    assert cell.error is None, cell.err
    assert cell.out.startswith(f"Connected to {tls_engine.url} as 'default'")
    assert cell.line.endswith("TLS on (verified)")
    assert api.client().containers.list(all=True) == []


def test_tls_explicit_paths(run, tls_engine):
    d = tls_engine.certs.client_dir
    cell = run(
        f"%docker_connect {tls_engine.url} --tlsverify --tlscacert {d}/ca.pem "
        f"--tlscert {d}/cert.pem --tlskey {d}/key.pem --alias secure"
    )
    assert cell.error is None, cell.err
    assert "as 'secure'" in cell.out and cell.line.endswith("TLS on (verified)")
    cell = run(f"%docker_connect {tls_engine.url} --cert-path {d}")
    assert cell.error is None and "TLS on (verified)" in cell.out


def test_tls_without_verification(run, tls_engine):
    """--tls alone: encrypted, client certificate sent, engine identity not checked."""
    d = tls_engine.certs.rogue_ca_dir  # a CA that did not sign the engine: not checked
    cell = run(
        f"%docker_connect {tls_engine.wrong_name_url} --tls --tlscert {d}/cert.pem "
        f"--tlskey {d}/key.pem"
    )
    assert cell.error is None, cell.err
    assert cell.line.endswith("TLS on (NOT verified)")
    assert "Unverified HTTPS request" not in cell.err
    run("%docker_info")
    assert "Unverified HTTPS request" not in run("%docker_info").err


def test_custom_headers_reach_the_engine(run, engine, tmp_path):
    from tests.support import Forwarder, free_port

    log = tmp_path / "headers.log"
    port = free_port()
    fwd = Forwarder("127.0.0.1", port, engine.url[len("unix://") :], header_log=log)
    try:
        cell = run(
            f"%docker_connect tcp://127.0.0.1:{port} --header X-Lab=notebook-7 "
            "--header 'X-Team=data science'"
        )
        assert cell.error is None, cell.err
        run("%docker_info")
    finally:
        fwd.stop()
    heads = log.read_text()
    requests_seen = [h for h in heads.split("\n\n") if h.strip()]
    assert len(requests_seen) >= 2
    for head in requests_seen:
        assert "X-Lab: notebook-7" in head and "X-Team: data science" in head
        assert "User-Agent: docker-magics/" in head


def test_credential_headers_are_secrets(run, engine):
    from docker_magics.redaction import redact

    token = "hdr-" + os.urandom(8).hex()
    run(f"auth = 'Bearer {token}'")
    cell = run(f'conn = %docker_connect {engine.url} --header "Authorization={{auth}}" --alias h')
    assert cell.error is None, cell.err
    assert api.SESSION.get("h").client.api.headers["Authorization"] == f"Bearer {token}"
    assert token not in repr(api.SESSION.get("h")) + repr(api.SESSION.get("h").endpoint)
    assert redact(f"echo {token}") == "echo ******"


def test_config_http_headers_like_the_cli(run, engine, docker_env, tmp_path):
    from tests.support import Forwarder, free_port

    (docker_env / "config.json").write_text('{"HttpHeaders": {"X-From-Config": "yes"}}')
    log, port = tmp_path / "headers.log", free_port()
    fwd = Forwarder("127.0.0.1", port, engine.url[len("unix://") :], header_log=log)
    try:
        assert run(f"%docker_connect tcp://127.0.0.1:{port}").error is None
    finally:
        fwd.stop()
    assert "X-From-Config: yes" in log.read_text()


def test_unencrypted_remote_engine_warns(run, engine):
    """A plain tcp:// engine that is not on loopback: the engine behind an address in a
    network namespace of our own."""
    from tests.support import Forwarder, NetNamespace

    ns = NetNamespace("dmtest")
    try:
        fwd = Forwarder(ns.peer_ip, 2375, engine.url[len("unix://") :], netns=ns.name)
        try:
            cell = run(f"%docker_connect tcp://{ns.peer_ip}:2375")
        finally:
            fwd.stop()
    finally:
        ns.cleanup()
    assert cell.error is None, cell.err
    assert cell.out.startswith(f"Connected to tcp://{ns.peer_ip}:2375")
    assert cell.err.strip() == (
        f"Warning: tcp://{ns.peer_ip}:2375 is reached over plain HTTP: everything sent to it, "
        "registry credentials included, travels unencrypted. Use TLS (--tlsverify) or ssh://."
    )


@pytest.fixture
def connected(run, engine):
    """An open connection that failed attempts must leave current and untouched."""
    run(f"%docker_connect {engine.url} --alias keep")
    yield
    assert api.SESSION.current().alias == "keep"
    assert [c.alias for c in api.SESSION.connections()] == ["keep"]


def test_missing_socket(run, connected, tmp_path):
    msg = run(f"%docker_connect unix://{tmp_path}/docker.sock").usage_error
    assert msg == (
        f"No Docker engine at unix://{tmp_path}/docker.sock: the socket does not exist. Start "
        "the engine (e.g. `sudo systemctl start docker`), or connect to another one with "
        "%docker_connect URL."
    )


def test_stale_socket(run, connected, tmp_path):
    path = tmp_path / "docker.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()  # the file stays, nobody listens: an engine that died
    msg = run(f"%docker_connect unix://{path}").usage_error
    assert msg.startswith(
        f"No Docker engine answers at unix://{path}: the socket exists but nothing listens on it."
    )


def test_connection_refused(run, connected):
    from tests.support import free_port

    port = free_port()
    msg = run(f"%docker_connect tcp://127.0.0.1:{port}").usage_error
    assert msg.startswith(f"Connection refused by tcp://127.0.0.1:{port}: no engine listens there.")


def test_timeout(run, connected):
    """An endpoint that accepts connections but never answers (a hung engine)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]
    held = []
    threading.Thread(target=lambda: held.append(server.accept()), daemon=True).start()
    try:
        msg = run(f"%docker_connect tcp://127.0.0.1:{port} --timeout 1").usage_error
    finally:
        server.close()
    assert msg == (
        f"The engine at tcp://127.0.0.1:{port} did not answer in time. Check that it is up and "
        "reachable, or allow more time with --timeout SECONDS."
    )


def test_plain_client_to_tls_engine(run, connected, tls_engine):
    msg = run(f"%docker_connect {tls_engine.url}").usage_error
    assert msg == (
        f"The engine at {tls_engine.url} expects TLS, but this connection is plain HTTP (the "
        "engine says: Client sent an HTTP request to an HTTPS server). Connect with --tlsverify "
        "--cert-path DIR (or set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH)."
    )


def test_tls_client_to_plain_engine(run, connected, engine, tls_engine):
    if engine.tcp_url is None:
        pytest.skip("needs the private engine's tcp port")
    msg = run(
        f"%docker_connect {engine.tcp_url} --cert-path {tls_engine.certs.client_dir}"
    ).usage_error
    assert msg.startswith(
        f"The engine at {engine.tcp_url} does not speak TLS, but this connection uses TLS."
    )
    assert "2376" in msg


def test_unknown_ca(run, connected, tls_engine):
    msg = run(
        f"%docker_connect {tls_engine.url} --cert-path {tls_engine.certs.rogue_ca_dir}"
    ).usage_error
    assert msg.startswith(
        f"The engine's TLS certificate at {tls_engine.url} is not signed by "
        "a CA you trust (unable to get local issuer certificate)."
    )
    assert "--tlscacert" in msg


def test_hostname_mismatch(run, connected, tls_engine):
    msg = run(
        f"%docker_connect {tls_engine.wrong_name_url} --cert-path {tls_engine.certs.client_dir}"
    ).usage_error
    assert msg.startswith("The engine's TLS certificate does not match the name '127.0.0.2'")
    assert "not valid for '127.0.0.2'" in msg


def test_client_certificate_required(run, connected, tls_engine):
    msg = run(
        f"%docker_connect {tls_engine.url} --cert-path {tls_engine.certs.ca_only_dir}"
    ).usage_error
    assert msg == (
        f"The engine at {tls_engine.url} requires a client certificate (it runs with "
        "--tlsverify) and none was given. Pass --tlscert and --tlskey (or put cert.pem and "
        "key.pem in --cert-path DIR)."
    )


def test_client_certificate_from_another_ca(run, connected, tls_engine):
    d = tls_engine.certs.rogue_client_dir
    msg = run(f"%docker_connect {tls_engine.url} --cert-path {d}").usage_error
    assert msg.startswith(
        f"The engine at {tls_engine.url} rejected the client certificate {d}/cert.pem."
    )


def test_certificate_path_missing(run, connected, tls_engine, tmp_path):
    msg = run(f"%docker_connect {tls_engine.url} --tlscacert {tmp_path}/none.pem").usage_error
    assert msg == f"TLS file not found: {tmp_path}/none.pem. Check the path given to --tlscacert."
    for tls in ("", "--tls"):
        msg = run(
            f"%docker_connect {tls_engine.url} {tls} --cert-path {tmp_path}/nodir"
        ).usage_error
        assert msg == (
            f"The certificate folder {tmp_path}/nodir does not exist. Point --cert-path (or "
            "DOCKER_CERT_PATH) at the folder holding ca.pem, cert.pem and key.pem."
        )
    msg = run(f"%docker_connect {tls_engine.url} --cert-path {tmp_path}").usage_error
    assert msg.startswith(
        f"TLS verification is on but there is no CA certificate at {tmp_path}/ca.pem."
    )


def test_key_that_is_not_a_key(run, connected, tls_engine, tmp_path):
    d = tls_engine.certs.client_dir
    (tmp_path / "key.pem").write_text("-----BEGIN PRIVATE KEY-----\ngarbage\n")
    msg = run(
        f"%docker_connect {tls_engine.url} --tlscacert {d}/ca.pem --tlscert "
        f"{d}/cert.pem --tlskey {tmp_path}/key.pem"
    ).usage_error
    assert msg.startswith(
        f"The client certificate {d}/cert.pem and key {tmp_path}/key.pem cannot be used"
    )


def test_api_version_not_supported(run, connected, engine):
    maximum = engine.api().version()["ApiVersion"]
    msg = run(f"%docker_connect {engine.url} --api-version 1.99").usage_error
    assert msg == (
        f"The engine at {engine.url} does not support API version 1.99 (client version 1.99 is "
        f"too new. Maximum supported API version is {maximum}). Use --api-version auto to "
        "negotiate (or unset DOCKER_API_VERSION)."
    )


@pytest.mark.parametrize(
    "url, expected",
    [
        (
            "foo://bar",
            "Malformed engine URL 'foo://bar'. Use unix:///path/to/docker.sock, "
            "tcp://HOST:PORT or ssh://[USER@]HOST[:PORT].",
        ),
        (
            "tcp://host:notaport",
            "Malformed engine URL 'tcp://host:notaport': bad port. Use tcp://HOST:PORT.",
        ),
        (
            "http://127.0.0.1:2375",
            "Unsupported engine URL 'http://127.0.0.1:2375'. Write "
            "tcp://HOST:PORT instead of http(s)://, and add --tlsverify "
            "for TLS.",
        ),
        (
            "ssh://me:secret@host",
            "Passwords do not belong in the engine URL (not shown). Use an SSH key "
            "(ssh-agent or ~/.ssh/id_*) and ssh://USER@HOST.",
        ),
        ("ssh:///nohost", "Malformed engine URL 'ssh:///nohost'. Use ssh://[USER@]HOST[:PORT]."),
    ],
)
def test_malformed_urls(run, connected, url, expected):
    assert run(f"%docker_connect {url}").usage_error == expected


@pytest.mark.parametrize(
    "line, expected",
    [
        (
            "--bogus",
            "%docker_connect: unrecognized arguments: --bogus. See %docker_connect? for "
            "the options.",
        ),
        (
            "--timeout soon",
            "%docker_connect: argument --timeout: invalid float value: 'soon'. "
            "See %docker_connect? for the options.",
        ),
        (
            "--api-version latest",
            "Invalid API version 'latest'. Use MAJOR.MINOR (e.g. 1.41) or auto.",
        ),
        ("--header NoEquals", "Invalid header 'NoEquals'. Use --header NAME=VALUE."),
        ("--timeout 0", "timeout must be between 0.1 and 604,800 seconds (a week), not 0."),
        (
            "/tmp/dm-nowhere/docker.sock",
            "/tmp/dm-nowhere/docker.sock is a path, not an engine URL. For a socket write "
            "unix:///tmp/dm-nowhere/docker.sock.",
        ),
        (
            "'unclosed",
            "%docker_connect: cannot split the arguments (No closing quotation): check the quotes",
        ),
    ],
)
def test_bad_options(run, connected, line, expected):
    assert run(f"%docker_connect {line}").usage_error == expected


def test_secret_in_url_not_kept_in_output(run, connected):
    cell = run("%docker_connect ssh://me:hunter2@example.invalid")
    assert "hunter2" not in cell.err + cell.out


def _connect_message(**kwargs) -> str:
    from docker_magics.errors import DockerMagicsError

    try:
        api.connect(**kwargs)
    except DockerMagicsError as exc:
        return str(exc)
    return "connected"


def test_socket_permission_denied(engine):
    if os.geteuid() != 0 or engine.dockerd is None:
        pytest.skip("needs root and the private engine to act as another user")
    os.chmod(engine.dockerd.socket, 0o660)  # root:root, as dockerd makes it without a group
    message = as_nobody(lambda: _connect_message(url=engine.url))
    assert message == (
        f"Permission denied on {engine.url}. Add your user to the docker group (`sudo usermod "
        "-aG docker $USER`, then log in again), or use rootless Docker "
        "(unix:///run/user/$UID/docker.sock)."
    )


def test_unreadable_key(tls_engine):
    if os.geteuid() != 0:
        pytest.skip("needs root to act as another user")
    d = tls_engine.certs.client_dir
    tmp_path = Path(
        tempfile.mkdtemp(prefix="dm-keys-")
    )  # reachable by nobody, unlike /tmp/pytest-of-root
    os.chmod(tmp_path, 0o755)
    for name in ("ca.pem", "cert.pem"):
        (tmp_path / name).write_bytes((d / name).read_bytes())
        os.chmod(tmp_path / name, 0o644)
    (tmp_path / "key.pem").write_bytes((d / "key.pem").read_bytes())
    os.chmod(tmp_path / "key.pem", 0o600)  # root's key, not readable by nobody
    try:
        message = as_nobody(lambda: _connect_message(url=tls_engine.url, cert_path=str(tmp_path)))
    finally:
        shutil.rmtree(tmp_path)
    assert message == (
        f"Cannot read the TLS client key {tmp_path}/key.pem: permission denied. Fix its "
        "permissions (chmod 600 for keys, owned by you)."
    )


def test_docker_context_with_tls(run, tls_engine, docker_env, docker_cli):
    """A context made by `docker context create` with TLS material reaches the TLS engine."""
    d = tls_engine.certs.client_dir
    subprocess.run(
        [
            docker_cli,
            "context",
            "create",
            "secure",
            "--docker",
            f"host={tls_engine.url},ca={d}/ca.pem,cert={d}/cert.pem,key={d}/key.pem",
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "DOCKER_CONFIG": str(docker_env)},
    )
    cell = run("%docker_connect --context secure")
    assert cell.error is None, cell.err
    assert cell.line.startswith(f"Connected to {tls_engine.url} as 'secure'")
    assert cell.line.endswith("TLS on (verified)")
