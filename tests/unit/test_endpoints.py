"""Pure: how options and the environment resolve to an engine, as the docker CLI does it."""

from __future__ import annotations

import os
import subprocess

import pytest

from docker_magics.engine.endpoints import (
    Endpoint,
    normalize_url,
    parse_api_version,
    parse_headers,
    resolve,
)
from docker_magics.errors import BadArgument


@pytest.mark.parametrize(
    "given, expected",
    [
        ("unix:///tmp/d.sock", "unix:///tmp/d.sock"),
        ("unix://", "unix:///var/run/docker.sock"),
        ("tcp://", "tcp://localhost:2375"),
        ("tcp://10.0.0.5", "tcp://10.0.0.5:2375"),
        ("tcp://:2376", "tcp://localhost:2376"),
        ("127.0.0.1:1234", "tcp://127.0.0.1:1234"),
        ("tcp://[::1]:2375", "tcp://[::1]:2375"),
        ("TCP://host:1", "tcp://host:1"),
        ("  tcp://host:1  ", "tcp://host:1"),
        ("ssh://me@host", "ssh://me@host"),
        ("ssh://me@host:2222/", "ssh://me@host:2222"),
    ],
)
def test_normalize_url_like_the_cli(given, expected):
    assert normalize_url(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        "",
        "foo://x",
        "tcp://h:99999",
        "tcp://h:x",
        "tcp://u@h:1",
        "ssh://",
        "npipe://x",
        "http://h:1",
        "ssh://u:p@h",
        "tcp://h:1?x=1",
    ],
)
def test_normalize_url_rejects(given):
    with pytest.raises(BadArgument):
        normalize_url(given)


def test_a_sockets_path_is_said_to_want_unix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for given, path in [
        ("/tmp/x/docker.sock", "/tmp/x/docker.sock"),
        ("./docker.sock", f"{tmp_path}/docker.sock"),
    ]:
        with pytest.raises(BadArgument) as error:
            normalize_url(given)
        assert str(error.value) == (
            f"{given} is a path, not an engine URL. For a socket write unix://{path}."
        )


def env(**kw):
    return {k: v for k, v in kw.items()}


def make_certs(tmp_path, *names):
    for n in names:
        (tmp_path / f"{n}.pem").write_text("x")
    return tmp_path


def test_default_is_the_unix_socket(tmp_path):
    e = resolve(environ=env(DOCKER_CONFIG=str(tmp_path)))
    assert e == Endpoint("unix:///var/run/docker.sock", None, None, "default", "default")


def test_docker_host_with_tls_verify(tmp_path):
    certs = make_certs(tmp_path, "ca", "cert", "key")
    e = resolve(
        environ=env(DOCKER_HOST="tcp://h:2376", DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=str(certs))
    )
    assert e.url == "tcp://h:2376" and e.source == "DOCKER_HOST"
    assert e.tls.verify and e.tls.ca == f"{certs}/ca.pem"
    assert (e.tls.cert, e.tls.key) == (f"{certs}/cert.pem", f"{certs}/key.pem")


def test_tls_verify_zero_still_means_on(tmp_path):
    """The CLI checks DOCKER_TLS_VERIFY != "" (so "0" turns it on); docker-py agrees."""
    certs = make_certs(tmp_path, "ca")
    e = resolve(
        environ=env(DOCKER_HOST="tcp://h:1", DOCKER_TLS_VERIFY="0", DOCKER_CERT_PATH=str(certs))
    )
    assert e.tls.verify
    e = resolve(
        environ=env(DOCKER_HOST="tcp://h:1", DOCKER_TLS_VERIFY="", DOCKER_CERT_PATH=str(certs))
    )
    assert e.tls is None


def test_cert_path_alone_does_not_enable_tls(tmp_path):
    """CLI behaviour (docker-py turns TLS on here)."""
    certs = make_certs(tmp_path, "ca", "cert", "key")
    e = resolve(environ=env(DOCKER_HOST="tcp://h:2375", DOCKER_CERT_PATH=str(certs)))
    assert e.tls is None


def test_docker_tls_without_verification(tmp_path):
    certs = make_certs(tmp_path, "cert", "key")
    e = resolve(
        environ=env(DOCKER_HOST="tcp://h:2376", DOCKER_TLS="1", DOCKER_CERT_PATH=str(certs))
    )
    assert e.tls.verify is False and e.tls.ca is None and e.tls.cert == f"{certs}/cert.pem"


def test_tls_without_host_means_localhost_2376(tmp_path):
    certs = make_certs(tmp_path, "ca")
    e = resolve(environ=env(DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=str(certs)))
    assert e.url == "tcp://localhost:2376"


def test_missing_client_files_mean_no_client_certificate(tmp_path):
    certs = make_certs(tmp_path, "ca")
    e = resolve("tcp://h:1", tlsverify=True, cert_path=str(certs), environ={})
    assert e.tls.cert is None and e.tls.key is None


def test_missing_ca_when_verifying(tmp_path):
    with pytest.raises(BadArgument, match="no CA certificate at"):
        resolve("tcp://h:1", tlsverify=True, cert_path=str(tmp_path), environ={})


def test_cert_without_key(tmp_path):
    certs = make_certs(tmp_path, "ca", "cert")
    with pytest.raises(BadArgument, match="A TLS client key is missing"):
        resolve("tcp://h:1", cert_path=str(certs), environ={})


def test_tls_file_options_imply_verification(tmp_path):
    certs = make_certs(tmp_path, "ca")
    e = resolve("tcp://h:1", tlscacert=f"{certs}/ca.pem", environ={})
    assert e.tls.verify and e.tls.ca == f"{certs}/ca.pem"
    e = resolve("tcp://h:1", tls=True, tlscacert=f"{certs}/ca.pem", environ={})
    assert e.tls.verify is False


def test_tls_options_need_tcp(tmp_path):
    certs = make_certs(tmp_path, "ca")
    with pytest.raises(BadArgument, match="only apply to tcp://"):
        resolve("unix:///x.sock", tlsverify=True, cert_path=str(certs), environ={})


def test_env_tls_is_ignored_for_sockets_and_ssh_like_the_cli(tmp_path):
    certs = make_certs(tmp_path, "ca")
    tls_env = dict(DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=str(certs))
    e = resolve(environ=env(DOCKER_HOST="unix:///x.sock", **tls_env))
    assert (e.url, e.tls) == ("unix:///x.sock", None)
    assert resolve("ssh://me@h", environ=env(**tls_env)).tls is None


def test_cert_path_that_is_not_a_folder(tmp_path):
    for kw in ({"tls": True}, {"tlsverify": True}):
        with pytest.raises(BadArgument, match="The certificate folder /nonexistent does not"):
            resolve("tcp://h:1", cert_path="/nonexistent", environ={}, **kw)
    with pytest.raises(BadArgument, match="The certificate folder /nonexistent does not"):
        resolve(
            environ=env(DOCKER_HOST="tcp://h:1", DOCKER_TLS="1", DOCKER_CERT_PATH="/nonexistent")
        )


def test_the_default_context_is_docker_host(tmp_path):
    e = resolve(context="default", environ=env(DOCKER_HOST="tcp://h:1"))
    assert (e.url, e.source) == ("tcp://h:1", "DOCKER_HOST")
    e = resolve(environ=env(DOCKER_CONTEXT="default", DOCKER_HOST="tcp://h:1"))
    assert e.url == "tcp://h:1"


def test_env_tls_applies_to_explicit_url_like_the_cli(tmp_path):
    certs = make_certs(tmp_path, "ca")
    e = resolve("tcp://other:1", environ=env(DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=str(certs)))
    assert e.tls.verify and e.source == "argument"


def test_api_version_sources():
    assert resolve("tcp://h:1", environ=env(DOCKER_API_VERSION="1.40")).api_version == "1.40"
    assert (
        resolve("tcp://h:1", api_version="1.39", environ=env(DOCKER_API_VERSION="1.40")).api_version
        == "1.39"
    )
    assert (
        resolve("tcp://h:1", api_version="auto", environ=env(DOCKER_API_VERSION="1.40")).api_version
        is None
    )
    assert parse_api_version(" 1.41 ") == "1.41"
    with pytest.raises(BadArgument):
        parse_api_version("v1.41")


@pytest.mark.usefixtures("in_a_magic")
def test_url_and_context_conflict():
    with pytest.raises(BadArgument, match="either an engine URL or --context"):
        resolve("tcp://h:1", context="x", environ={})
    with pytest.raises(BadArgument, match="cannot be combined with --context"):
        resolve(context="x", tlsverify=True, environ={})


def test_headers():
    assert parse_headers(["A=1", "X-Y= two words", "E="]) == {
        "A": "1",
        "X-Y": " two words",
        "E": "",
    }
    for bad in (["novalue"], ["=x"], ["bad name=x"]):
        with pytest.raises(BadArgument):
            parse_headers(bad)


@pytest.mark.parametrize(
    "url, local",
    [
        ("unix:///x", True),
        ("tcp://127.0.0.1:1", True),
        ("tcp://127.9.9.9:1", True),
        ("tcp://localhost:1", True),
        ("tcp://[::1]:1", True),
        ("tcp://[::ffff:127.0.0.1]:1", True),
        ("tcp://[::ffff:10.0.0.1]:1", False),
        ("tcp://10.0.0.1:1", False),
        ("tcp://example.com:1", False),
        ("ssh://h", False),
    ],
)
def test_is_local(url, local):
    assert Endpoint(url).is_local is local


@pytest.fixture
def cli_config(tmp_path, docker_cli):
    config = tmp_path / "config"
    config.mkdir()

    def cli(*args):
        subprocess.run(
            [docker_cli, *args],
            check=True,
            capture_output=True,
            env={"DOCKER_CONFIG": str(config), "PATH": "/usr/bin:/bin"},
        )

    return config, cli


def test_context_selection_order(cli_config):
    config, cli = cli_config
    cli("context", "create", "aa", "--docker", "host=tcp://a.example:2375")
    cli("context", "create", "bb", "--docker", "host=unix:///b.sock")
    cli("context", "use", "aa")
    base = {"DOCKER_CONFIG": str(config)}
    assert resolve(environ=base).url == "tcp://a.example:2375"
    assert resolve(environ=base).context == "aa"
    assert resolve(environ={**base, "DOCKER_CONTEXT": "bb"}).url == "unix:///b.sock"
    assert (
        resolve(environ={**base, "DOCKER_CONTEXT": "bb", "DOCKER_HOST": "tcp://h:1"}).url
        == "tcp://h:1"
    )
    assert resolve(context="default", environ=base).url == "unix:///var/run/docker.sock"
    with pytest.raises(BadArgument, match="Known contexts: default, aa, bb"):
        resolve(context="cc", environ=base)


def test_context_tls_material(cli_config, tls_material):
    config, cli = cli_config
    d = tls_material.client_dir
    cli(
        "context",
        "create",
        "full",
        "--docker",
        f"host=tcp://127.0.0.1:2376,ca={d}/ca.pem,cert={d}/cert.pem,key={d}/key.pem",
    )
    cli("context", "create", "caonly", "--docker", f"host=tcp://127.0.0.1:2376,ca={d}/ca.pem")
    cli("context", "create", "skip", "--docker", "host=tcp://127.0.0.1:2376,skip-tls-verify=true")
    base = {"DOCKER_CONFIG": str(config)}
    full = resolve(context="full", environ=base)
    assert full.tls.verify and full.tls.ca and full.tls.cert and full.tls.key
    assert open(full.tls.cert).read() == open(d / "cert.pem").read()
    caonly = resolve(context="caonly", environ=base)  # docker-py would drop TLS here
    assert caonly.tls.verify and caonly.tls.ca and caonly.tls.cert is None
    skip = resolve(context="skip", environ=base)
    assert skip.tls.verify is False


pytestmark = pytest.mark.engine


def test_platform_default_socket(run):
    """No DOCKER_HOST, no context: the CLI's default socket, /var/run/docker.sock."""
    if os.path.exists("/var/run/docker.sock"):
        cell = run("%docker_connect")
        assert cell.out.startswith("Connected to unix:///var/run/docker.sock")
    else:
        msg = run("%docker_connect").usage_error
        assert msg.startswith(
            "No Docker engine at unix:///var/run/docker.sock: the socket does not exist."
        )
