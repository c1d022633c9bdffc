"""Fixtures of the engine tests: a real sshd on loopback in front of the main engine, for
ssh:// engines (docker system dial-stdio on the far side)."""

from __future__ import annotations

import getpass
import os
import shutil

import pytest


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


def ssh_url(sshd) -> str:
    return f"ssh://{getpass.getuser()}@127.0.0.1:{sshd.port}"


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
