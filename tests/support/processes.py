"""Real parts for the tests: private Docker engines, loopback registries, TLS material, an
sshd, network namespaces and a local busybox base image (see ../shared/ENVIRONMENT.md).

Everything started here is stopped and removed by ``stop()``/``cleanup`` methods that the
fixtures in ``conftest.py`` call at the end of the session.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUSYBOX = "/bin/busybox"


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


@dataclass
class TLSMaterial:
    """A CA, a server certificate for localhost/127.0.0.1, client certificates, and a
    rogue CA, written as the docker CLI expects them (ca.pem, cert.pem, key.pem)."""

    root: Path
    server_cert: Path = field(init=False)
    server_key: Path = field(init=False)
    ca: Path = field(init=False)
    client_dir: Path = field(init=False)  # ca.pem + cert.pem + key.pem: the good setup
    ca_only_dir: Path = field(init=False)  # no client certificate
    rogue_ca_dir: Path = field(init=False)  # trusts a CA that did not sign the engine
    rogue_client_dir: Path = field(init=False)  # a client cert from the rogue CA

    def __post_init__(self) -> None:
        import trustme

        ca, rogue = trustme.CA(), trustme.CA()
        server = ca.issue_cert("localhost", "127.0.0.1")
        client, rogue_client = ca.issue_cert("client"), rogue.issue_cert("client")
        self.root.mkdir(parents=True, exist_ok=True)
        self.server_cert, self.server_key = (
            self.root / "server-cert.pem",
            self.root / "server-key.pem",
        )
        server.cert_chain_pems[0].write_to_path(self.server_cert)
        server.private_key_pem.write_to_path(self.server_key)
        self.ca = self.root / "ca.pem"
        ca.cert_pem.write_to_path(self.ca)

        def folder(name, ca_, cert):
            d = self.root / name
            d.mkdir()
            ca_.cert_pem.write_to_path(d / "ca.pem")
            if cert is not None:
                cert.cert_chain_pems[0].write_to_path(d / "cert.pem")
                cert.private_key_pem.write_to_path(d / "key.pem")
                os.chmod(d / "key.pem", 0o600)
            return d

        self.client_dir = folder("client", ca, client)
        self.ca_only_dir = folder("ca-only", ca, None)
        self.rogue_ca_dir = folder("rogue-ca", rogue, client)
        self.rogue_client_dir = folder("rogue-client", ca, rogue_client)


class Dockerd:
    """A private dockerd (its own socket, data root, exec root and containerd)."""

    def __init__(
        self,
        root: Path,
        *,
        tcp: list[str] = (),
        tls: TLSMaterial | None = None,
        netns: str | None = None,
    ):
        self.root = root
        self.tcp = list(tcp)
        self.tls = tls
        self.netns = netns
        self.proc: subprocess.Popen | None = None

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def command(self) -> list[str]:
        r = self.root
        cmd = [
            "dockerd",
            "--host",
            self.url,
            "--data-root",
            str(r / "data"),
            "--exec-root",
            str(r / "exec"),
            "--pidfile",
            str(r / "dockerd.pid"),
            "--bridge=none",
            "--iptables=false",
            "--ip-forward=false",
            "--ip-masq=false",
        ]
        for host in self.tcp:
            cmd += ["--host", host]
        if self.tls:
            cmd += [
                "--tlsverify",
                "--tlscacert",
                str(self.tls.ca),
                "--tlscert",
                str(self.tls.server_cert),
                "--tlskey",
                str(self.tls.server_key),
            ]
        return cmd

    def start(self, timeout: float = 90) -> Dockerd:
        self.root.mkdir(parents=True, exist_ok=True)
        self.reap_orphans()  # after a SIGKILL
        shutil.rmtree(self.root / "exec", ignore_errors=True)  # stale after a SIGKILL
        self.log = open(self.root / "dockerd.log", "ab")
        self.proc = subprocess.Popen(
            self.command(), stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_for(
                lambda: unix_http_get(str(self.socket), "/_ping")[1] == b"OK",
                timeout,
                f"dockerd in {self.root}",
                self.proc,
            )
        except Exception:
            self.stop()
            raise RuntimeError(f"dockerd did not start; log:\n{self.log_tail()}") from None
        return self

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(
                (self.root / "dockerd.log").read_text(errors="replace").splitlines()[-n:]
            )
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        # containerd (and shims) run in dockerd's process group: make sure none survive.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc = None
        self.log.close()
        umount_under(self.root)

    def kill(self) -> None:
        """SIGKILL to dockerd alone, as a crash would: its containerd, shims and containers
        live on until ``start()`` or ``cleanup()`` reaps them."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def reap_orphans(self) -> None:
        """Kill what a crashed dockerd left running: its containerd and shims (their command
        lines name our exec root) and the containers' processes (in the cgroup of each)."""
        mine = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().decode(errors="replace").split("\0")
            except OSError:
                continue
            if any(str(self.root) in a for a in argv) and int(pid) != os.getpid():
                mine.append(int(pid))
                if "-id" in argv:
                    container = argv[argv.index("-id") + 1]
                    procs = Path(f"/sys/fs/cgroup/pids/docker/{container}/cgroup.procs")
                    for line in procs.read_text().split() if procs.exists() else []:
                        mine.append(int(line))
        for pid in mine:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def cleanup(self) -> None:
        self.stop()
        self.reap_orphans()
        umount_under(self.root)
        shutil.rmtree(self.root, ignore_errors=True)

    def api(self):
        import docker

        return docker.APIClient(base_url=self.url, version="auto")


def build_busybox(engine_url: str, tag: str) -> str:
    """Make a busybox base image from busybox-static (no registry needed). Returns its id."""
    import docker

    dockerfile = (
        b"FROM scratch\nCOPY busybox /bin/busybox\n"
        b'RUN ["/bin/busybox", "--install", "-s", "/bin"]\nCMD ["sh"]\n'
    )
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
        tar.add(BUSYBOX, arcname="busybox")
    buf.seek(0)
    api = docker.APIClient(base_url=engine_url, version="auto")
    try:
        for chunk in api.build(fileobj=buf, custom_context=True, tag=tag, rm=True, decode=True):
            if "error" in chunk:
                raise RuntimeError(f"busybox image build failed: {chunk['error']}")
        return api.inspect_image(tag)["Id"]
    finally:
        api.close()


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


class Forwarder:
    """``tests/forwarder.py`` in a subprocess, optionally inside a network namespace."""

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


PYTHON_ROOTFS_CACHE = Path(os.environ.get("DOCKER_MAGICS_CACHE", "/var/cache/docker-magics"))


def apt_mirror() -> str:
    """The machine's Debian mirror (the first URIs line of its apt sources)."""
    for path in ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"):
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith("URIs:"):
                    return line.split()[1]
                if line.startswith("deb ") and "security" not in line:
                    return line.split()[1]
        except OSError:
            continue
    return "http://deb.debian.org/debian"


def build_python_image(engine_url: str, tag: str) -> str:
    """A Debian image with python3 (no Docker Hub needed): a debootstrap minbase root,
    cached as a tarball under /var/cache/docker-magics, imported into the engine."""
    import docker

    tarball = PYTHON_ROOTFS_CACHE / "debian-bookworm-python3.tar"
    if not tarball.exists():
        PYTHON_ROOTFS_CACHE.mkdir(parents=True, exist_ok=True)
        root = Path(tempfile.mkdtemp(prefix="dm-rootfs-"))
        try:
            subprocess.run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    "--include=python3",
                    "bookworm",
                    str(root),
                    apt_mirror(),
                ],
                check=True,
                capture_output=True,
            )
            partial = tarball.with_suffix(".partial")
            subprocess.run(["tar", "-C", str(root), "-cf", str(partial), "."], check=True)
            partial.rename(tarball)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    api = docker.APIClient(base_url=engine_url, version="auto")
    try:
        repository, _, version = tag.partition(":")
        with open(tarball, "rb") as f:
            api.import_image_from_data(f, repository=repository, tag=version or "latest")
        return api.inspect_image(tag)["Id"]
    finally:
        api.close()


def build_random_image(engine_url: str, tag: str, *, megabytes: int = 200, layers: int = 1) -> str:
    """An image of ``layers`` layers of random bytes (``megabytes`` in all) that no other image
    shares, so pushes and pulls move all of it. Returns its id."""
    import docker

    dockerfile = "FROM scratch\n" + "".join(
        f"COPY part{i}.bin /part{i}.bin\n" for i in range(layers)
    )
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile.encode()))
        for i in range(layers):
            info = tarfile.TarInfo(f"part{i}.bin")
            info.size = megabytes * 1024 * 1024 // layers
            tar.addfile(info, io.BytesIO(os.urandom(info.size)))
    buf.seek(0)
    api = docker.APIClient(base_url=engine_url, version="auto")
    try:
        for chunk in api.build(fileobj=buf, custom_context=True, tag=tag, decode=True):
            if "error" in chunk:
                raise RuntimeError(f"building {tag} failed: {chunk['error']}")
        return api.inspect_image(tag)["Id"]
    finally:
        api.close()
