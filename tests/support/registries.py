"""Loopback registries (Docker Distribution), open or with htpasswd users, optionally inside
a network namespace."""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
from pathlib import Path

from tests.support.processes import free_port, wait_for

REGISTRY_USER = "tester"  # the user of the password registry fixture


class Registry:
    """A Docker Distribution registry: on loopback, or on an address in a network namespace
    of ours; optionally with htpasswd (bcrypt) auth and TLS."""

    def __init__(
        self,
        root: Path,
        *,
        users: dict[str, str] | None = None,
        ip: str = "127.0.0.1",
        tls: tuple[Path, Path] | None = None,
        netns: str | None = None,
    ):
        self.root = root
        self.users = users or {}
        self.ip, self.tls, self.netns = ip, tls, netns
        self.port = free_port() if netns is None else 5443
        self.proc: subprocess.Popen | None = None

    @property
    def host(self) -> str:
        return f"{self.ip}:{self.port}"

    def start(self, timeout: float = 30) -> Registry:
        import bcrypt

        self.root.mkdir(parents=True, exist_ok=True)
        auth = tls = ""
        if self.users:
            htpasswd = self.root / "htpasswd"
            htpasswd.write_text(
                "".join(
                    f"{u}:{bcrypt.hashpw(p.encode(), bcrypt.gensalt(rounds=5)).decode()}\n"
                    for u, p in self.users.items()
                )
            )
            auth = f"auth:\n  htpasswd:\n    realm: test\n    path: {htpasswd}\n"
        if self.tls:
            tls = f"  tls:\n    certificate: {self.tls[0]}\n    key: {self.tls[1]}\n"
        config = self.root / "config.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: warn\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.root / 'data'}\n"
            "  delete:\n    enabled: true\n"
            f"http:\n  addr: {self.host}\n  secret: {secrets.token_hex(16)}\n" + tls + auth
        )
        self.log = open(self.root / "registry.log", "ab")
        command = ["docker-registry", "serve", str(config)]
        if self.netns:
            command = ["ip", "netns", "exec", self.netns, *command]
        self.proc = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)

        def ready():
            with socket.create_connection((self.ip, self.port), timeout=1):
                return True

        wait_for(ready, timeout, f"registry on {self.host}", self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
