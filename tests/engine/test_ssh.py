"""ssh:// engines through a real sshd on loopback (docker system dial-stdio on the far side)."""

from __future__ import annotations

import getpass
import os
import socket
import subprocess

import pytest

from docker_magics import api
from tests.engine.conftest import ssh_url

pytestmark = pytest.mark.engine


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
    cell = run(f"%docker_connect {ssh_url(sshd)} --ssh-client paramiko")
    assert cell.error is None, cell.err
    assert cell.out.startswith(f"Connected to {ssh_url(sshd)}: Docker Engine ")
    assert cell.line.endswith("over SSH")
    engine_id = engine.api().info()["ID"]
    assert api.client().info()["ID"] == engine_id
    _secret_build_works(run, busybox, monkeypatch)


def test_ssh_with_openssh(run, sshd, openssh, engine, busybox, monkeypatch):
    cell = run(f"%docker_connect {ssh_url(sshd)} --ssh-client openssh")
    assert cell.error is None, cell.err
    assert cell.line.endswith("over SSH")
    assert api.client().info()["ID"] == engine.api().info()["ID"]
    _secret_build_works(run, busybox, monkeypatch)


def test_ssh_unknown_host_key(run, sshd, ssh_home):
    (ssh_home / ".ssh" / "known_hosts").write_text("")
    msg = run(f"%docker_connect {ssh_url(sshd)} --ssh-client paramiko").usage_error
    assert msg.startswith("The SSH host key of 127.0.0.1 is unknown")
    assert "known_hosts" in msg


def test_ssh_unknown_host_key_openssh(run, sshd, ssh_home, openssh):
    """ssh's own words are only on its stderr: the diagnosis asks ssh again."""
    (ssh_home / ".ssh" / "known_hosts").write_text("")
    msg = run(f"%docker_connect {ssh_url(sshd)} --ssh-client openssh").usage_error
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
    msg = run(f"%docker_connect {ssh_url(sshd)} --ssh-client paramiko").usage_error
    assert msg.startswith(f"SSH authentication to {ssh_url(sshd)} failed.")
