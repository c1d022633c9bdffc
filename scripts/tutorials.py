"""Everything the tutorials need, on loopback, then JupyterLab on them; Ctrl-C stops it
all and removes what it started. Run through scripts/tutorials.sh (which installs what a
fresh Debian machine lacks). The engines and registries are the test suite's own
(tests/support): private dockerds without a bridge, Docker Distribution registries."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support import (
    Dockerd,
    Registry,
    TLSMaterial,
    build_busybox,
    build_python_image,
    free_port,
)
from tests.support.swarm import Swarm

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="dm-tut-", dir="/tmp"))  # short: unix socket paths
    started: list = []
    try:
        print("Starting an engine (unix socket and plain tcp on loopback)...", flush=True)
        tcp = f"tcp://127.0.0.1:{free_port()}"
        engine = Dockerd(root / "engine", tcp=[tcp]).start()
        started.append(engine)
        print("Making it the manager of a swarm of three engines (tutorial 05)...", flush=True)
        started.append(Swarm(root / "swarm", manager=engine).start())
        print("Starting an engine that requires TLS with client certificates...", flush=True)
        certs = TLSMaterial(root / "tls")
        tls_url = f"tcp://127.0.0.1:{free_port()}"
        tls_engine = Dockerd(root / "tls-engine", tcp=[tls_url], tls=certs).start()
        started.append(tls_engine)
        print("Starting two registries (one open, one with a password)...", flush=True)
        registry = Registry(root / "registry").start()
        started.append(registry)
        password = secrets.token_urlsafe(18)
        auth_registry = Registry(root / "auth-registry", users={"tutorial": password}).start()
        started.append(auth_registry)
        print("Making the base images (Python from Debian packages: cached after once)...")
        build_busybox(engine.url, "docker-magics/busybox:latest")
        build_python_image(engine.url, "docker-magics/python:3")
        env = {
            **os.environ,
            "DOCKER_HOST": engine.url,
            "BASE_IMAGE": "docker-magics/busybox:latest",
            "PYTHON_BASE_IMAGE": "docker-magics/python:3",
            "REGISTRY": registry.host,
            "AUTH_REGISTRY": auth_registry.host,
            "REGISTRY_USER": "tutorial",
            "REGISTRY_PASSWORD": password,  # only in the environment, as tutorial 04 says
            "TCP_ENGINE": tcp,
            "TLS_ENGINE": tls_url,
            "TLS_CERT_PATH": str(certs.client_dir),
            "DOCKER_CONFIG": str(root / "docker-config"),  # your ~/.docker stays untouched
        }
        port = os.environ.get("JUPYTER_PORT", "8888")
        print(
            f"\nReady. Open http://127.0.0.1:{port}/lab in a browser on this machine (the "
            "token is printed below). Ctrl-C stops JupyterLab and everything started here.\n",
            flush=True,
        )
        lab = [
            sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", str(REPO / "notebooks"),
        ]  # fmt: skip
        try:
            return subprocess.call(lab, env=env)
        except KeyboardInterrupt:
            return 0
    finally:
        print("\nStopping the engines and registries...", flush=True)
        for thing in reversed(started):
            thing.cleanup()
        import shutil

        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
