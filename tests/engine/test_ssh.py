"""ssh:// engines through a real sshd on loopback (docker system dial-stdio on the far side)."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess

import pytest

from docker_magics import api

pytestmark = pytest.mark.engine


@pytest.fixture(scope="session")
def sshd(engine, tmp_path_factory):
    if shutil.which("sshd") is None and not os.path.exists("/usr/sbin/sshd"):
        pytest.skip("openssh-server is not installed")
    from tests.support import Sshd

    server = Sshd(tmp_path_factory.mktemp("sshd"), engine.url)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ssh_home(sshd, tmp_path, monkeypatch):
    """A HOME whose ~/.ssh holds the client key and the server's host key."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    shutil.copy(sshd.client_key, home / ".ssh" / "id_ed25519")
    os.chmod(home / ".ssh" / "id_ed25519", 0o600)
    (home / ".ssh" / "known_hosts").write_text(sshd.known_hosts_line)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return home


def _url(sshd):
    return f"ssh://{getpass.getuser()}@127.0.0.1:{sshd.port}"


def _secret_build_works(run, busybox, monkeypatch):
    """A BuildKit session (HTTP/2 on the hijacked connection) through the SSH transport."""
    monkeypatch.setenv("DM_SSH_SECRET", "through-ssh-" + os.urandom(4).hex())
    cell = run(
        "%%docker_build --builder buildkit --network none --progress plain --no-cache "
        f"--secret id=DM_SSH_SECRET\nFROM {busybox}\n"
        "RUN --mount=type=secret,id=DM_SSH_SECRET echo size=$(wc -c < /run/secrets/DM_SSH_SECRET)\n"
    )
    assert cell.error is None, cell.err
    assert f"size={len(os.environ['DM_SSH_SECRET'])}" in cell.out


def test_ssh_with_paramiko(run, sshd, ssh_home, engine, busybox, monkeypatch):
    cell = run(f"%docker_connect {_url(sshd)} --ssh-client paramiko")
    assert cell.error is None, cell.err
    assert cell.out.startswith(f"Connected to {_url(sshd)} as '{_url(sshd)}': Docker Engine ")
    assert cell.line.endswith("over SSH")
    engine_id = engine.api().info()["ID"]
    assert api.client().info()["ID"] == engine_id
    _secret_build_works(run, busybox, monkeypatch)


@pytest.fixture
def openssh(ssh_home, tmp_path, monkeypatch):
    """OpenSSH reads ~/.ssh from the passwd entry, not $HOME: point it at ours with a
    wrapper first on PATH, as a user's ~/.ssh/config would."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    config = ssh_home / ".ssh" / "config"
    config.write_text(
        f"Host 127.0.0.1\n  IdentityFile {ssh_home}/.ssh/id_ed25519\n"
        f"  UserKnownHostsFile {ssh_home}/.ssh/known_hosts\n"
        "  BatchMode yes\n"
    )
    (bindir / "ssh").write_text(f'#!/bin/sh\nexec {shutil.which("ssh")} -F {config} "$@"\n')
    os.chmod(bindir / "ssh", 0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")


def test_ssh_with_openssh(run, sshd, openssh, engine, busybox, monkeypatch):
    cell = run(f"%docker_connect {_url(sshd)} --ssh-client openssh")
    assert cell.error is None, cell.err
    assert cell.line.endswith("over SSH")
    assert api.client().info()["ID"] == engine.api().info()["ID"]
    _secret_build_works(run, busybox, monkeypatch)


def test_ssh_unknown_host_key(run, sshd, ssh_home):
    (ssh_home / ".ssh" / "known_hosts").write_text("")
    msg = run(f"%docker_connect {_url(sshd)} --ssh-client paramiko").usage_error
    assert msg.startswith("The SSH host key of 127.0.0.1 is unknown")
    assert "known_hosts" in msg


def test_ssh_unknown_host_key_openssh(run, sshd, ssh_home, openssh):
    """ssh's own words are only on its stderr: the diagnosis asks ssh again."""
    (ssh_home / ".ssh" / "known_hosts").write_text("")
    msg = run(f"%docker_connect {_url(sshd)} --ssh-client openssh").usage_error
    assert msg == (
        "The SSH host key of 127.0.0.1 is unknown or has changed. Check it and add it to "
        f"~/.ssh/known_hosts (e.g. run `ssh -p {sshd.port} {getpass.getuser()}@127.0.0.1` "
        "once in a terminal)."
    )


def test_ssh_refused_openssh(run, openssh):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    msg = run(f"%docker_connect ssh://me@127.0.0.1:{port} --ssh-client openssh").usage_error
    assert msg == (
        f"Connection refused by ssh://me@127.0.0.1:{port}: no SSH server listens there. "
        "Check the host and port, and that sshd runs there."
    )


def test_ssh_key_refused(run, sshd, ssh_home):
    key = ssh_home / ".ssh" / "id_ed25519"
    key.unlink()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    msg = run(f"%docker_connect {_url(sshd)} --ssh-client paramiko").usage_error
    assert msg.startswith(f"SSH authentication to {_url(sshd)} failed.")
