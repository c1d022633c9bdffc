"""Processes and network plumbing for the tests: free ports, waiting for a condition, running
as another user, small filesystems (tmpfs) to fill up, a TCP forwarder, network namespaces,
an sshd on loopback."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def as_nobody(func) -> str:
    """Run ``func`` in a forked child as user nobody; return what it returns (a string)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            result = func()
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            result = f"child failed: {type(exc).__name__}: {exc}"
        os.write(write, result.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        out = f.read()
    os.waitpid(pid, 0)
    return out


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: process exited with {proc.returncode}")
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what}: not ready after {timeout}s")


def unix_http_get(path: str, url: str, timeout: float = 5) -> tuple[int, bytes]:
    """A minimal HTTP/1.0 GET over a unix socket (no client library involved)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(f"GET {url} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def umount_under(root: Path) -> None:
    """Unmount whatever a killed dockerd left mounted below ``root`` (deepest first)."""
    mounts = []
    with open("/proc/mounts") as f:
        for line in f:
            target = line.split()[1].replace("\\040", " ")
            if target == str(root) or target.startswith(str(root) + "/"):
                mounts.append(target)
    for target in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", target], check=False, capture_output=True)


def mount_tmpfs(folder: Path, size: str) -> None:
    """Mount a tmpfs of ``size`` (``"3m"``) on ``folder``, an existing folder."""
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)


@contextlib.contextmanager
def tmpfs(folder: Path, size: str, *, lazy: bool = False) -> Iterator[Path]:
    """``folder``, made here, as a filesystem of ``size`` of its own (a tmpfs) while the
    block runs; unmounted after it (``lazy``: even while a process still has files in it
    open, as ``umount -l`` does)."""
    folder.mkdir()
    mount_tmpfs(folder, size)
    yield folder
    subprocess.run(["umount", *(["-l"] if lazy else []), str(folder)], check=True)


class Forwarder:
    """``forwarder.py`` in a subprocess, optionally inside a network namespace."""

    def __init__(
        self,
        host: str,
        port: int,
        socket_path: Path,
        *,
        header_log: Path | None = None,
        netns: str | None = None,
    ):
        cmd = [sys.executable, str(HERE / "forwarder.py"), host, str(port), str(socket_path)]
        if header_log:
            cmd.append(str(header_log))
        if netns:
            cmd = ["ip", "netns", "exec", netns, *cmd]
        self.host, self.port = host, port
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.stop()
            raise RuntimeError(f"forwarder on {host}:{port} did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class NetNamespace:
    """A network namespace joined to this one by a veth pair: ``peer_ip`` is not loopback,
    yet traffic to it never leaves the machine."""

    def __init__(self, name: str, host_ip: str = "10.213.7.1", peer_ip: str = "10.213.7.2"):
        self.name, self.host_ip, self.peer_ip = name, host_ip, peer_ip
        self.veth = f"{name[:8]}-h"
        run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
        self.cleanup()
        run("ip", "netns", "add", name)
        run("ip", "link", "add", self.veth, "type", "veth", "peer", "name", f"{name[:8]}-p")
        run("ip", "link", "set", f"{name[:8]}-p", "netns", name)
        run("ip", "addr", "add", f"{host_ip}/30", "dev", self.veth)
        run("ip", "link", "set", self.veth, "up")
        run(
            "ip",
            "netns",
            "exec",
            name,
            "ip",
            "addr",
            "add",
            f"{peer_ip}/30",
            "dev",
            f"{name[:8]}-p",
        )
        run("ip", "netns", "exec", name, "ip", "link", "set", f"{name[:8]}-p", "up")
        run("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up")

    def cleanup(self) -> None:
        subprocess.run(["ip", "link", "del", self.veth], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


class Sshd:
    """An sshd on loopback that lets one key in and points ``docker`` at an engine."""

    def __init__(self, root: Path, engine_url: str):
        self.root = root
        self.port = free_port()
        root.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / "host_key")],
            check=True,
        )
        self.client_key = root / "id_ed25519"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.client_key)], check=True
        )
        (root / "authorized_keys").write_text((root / "id_ed25519.pub").read_text())
        os.chmod(root / "authorized_keys", 0o600)
        os.makedirs("/run/sshd", exist_ok=True)
        self.proc = subprocess.Popen(
            [
                "/usr/sbin/sshd",
                "-D",
                "-e",
                "-p",
                str(self.port),
                "-o",
                "ListenAddress=127.0.0.1",
                "-h",
                str(root / "host_key"),
                "-o",
                f"PidFile={root / 'sshd.pid'}",
                "-o",
                f"AuthorizedKeysFile={root / 'authorized_keys'}",
                "-o",
                "StrictModes=no",
                "-o",
                "PasswordAuthentication=no",
                "-o",
                f"SetEnv=DOCKER_HOST={engine_url}",
                "-o",
                "UsePAM=no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(root / "sshd.log", "ab"),
        )

        def ready():
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                return s.recv(4).startswith(b"SSH")

        wait_for(ready, 20, "sshd", self.proc)
        host_key = (root / "host_key.pub").read_text().split()
        self.known_hosts_line = f"[127.0.0.1]:{self.port} {host_key[0]} {host_key[1]}\n"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
