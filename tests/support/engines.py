"""Private Docker engines (dockerd with its own data root, exec root and socket) and the
TLS material for an engine that requires client certificates (see ../shared/ENVIRONMENT.md).
Everything started is stopped and removed by ``cleanup()``, which the fixtures call.

Two engine versions are tested: Debian 12's Docker Engine 20.10 (``dockerd`` on PATH) and
Docker Engine 26 (Debian 13's ``docker.io``, unpacked under /var/cache/docker-magics by
``ensure_docker26`` in scripts/lib.sh). ``DOCKER_MAGICS_ENGINE_VERSION`` (set by pytest's
``--engine-version``) picks the one every ``Dockerd`` starts unless told otherwise."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.processes import umount_under, unix_http_get, wait_for

ENGINE_VERSIONS = ("20.10", "26")
DEFAULT_ENGINE_VERSION = "20.10"
REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("DOCKER_MAGICS_CACHE", "/var/cache/docker-magics"))


def engine_version() -> str:
    """The engine version the tests run on: ``DOCKER_MAGICS_ENGINE_VERSION`` or 20.10."""
    version = os.environ.get("DOCKER_MAGICS_ENGINE_VERSION") or DEFAULT_ENGINE_VERSION
    if version not in ENGINE_VERSIONS:
        raise ValueError(
            f"Unknown engine version {version!r} (DOCKER_MAGICS_ENGINE_VERSION): "
            f"use one of {', '.join(ENGINE_VERSIONS)}"
        )
    return version


def dockerd_binary(version: str) -> Path:
    """The dockerd of an engine version; engine 26 is downloaded (once) if missing."""
    if version == "20.10":
        found = shutil.which("dockerd")
        if found is None:
            raise RuntimeError("dockerd is not installed (apt-get install docker.io)")
        return Path(found)
    binary = CACHE / f"docker-{version}" / "usr" / "sbin" / "dockerd"
    if not binary.exists():
        subprocess.run(
            ["bash", "-c", f'source "{REPO}/scripts/lib.sh" && ensure_docker{version}'],
            check=True,
        )
    return binary


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
        version: str | None = None,
        config: dict | None = None,
    ):
        self.root = root
        self.config = config  # daemon.json, e.g. {"features": {"containerd-snapshotter": True}}
        self.version = version or engine_version()
        self.binary = dockerd_binary(self.version)
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
            str(self.binary),
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
        if self.config is not None:
            cmd += ["--config-file", str(r / "daemon.json")]
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
        if self.config is not None:
            (self.root / "daemon.json").write_text(json.dumps(self.config))
        self.reap_orphans()  # after a SIGKILL
        shutil.rmtree(self.root / "exec", ignore_errors=True)  # stale after a SIGKILL
        self.log = open(self.root / "dockerd.log", "ab")
        # The engine's own helpers (docker-proxy, docker-init) next to its dockerd come first.
        helpers = [str(self.binary.parent), str(self.binary.parent.parent / "bin")]
        env = {**os.environ, "PATH": os.pathsep.join([*helpers, os.environ.get("PATH", "")])}
        self.proc = subprocess.Popen(
            self.command(),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
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
