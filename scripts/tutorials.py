"""Everything the tutorials need, on loopback, then JupyterLab on working copies of them;
Ctrl-C stops it all and removes what it started. Run through scripts/tutorials.sh (which
installs what a fresh Debian machine lacks). The engines and registries are the test
suite's own (tests/support): private dockerds without a bridge, Docker Distribution
registries.

JupyterLab opens copies of notebooks/ in work/tutorials/ (ignored by git; override with
DOCKER_MAGICS_TUTORIALS_DIR), never the tracked tutorials: JupyterLab autosaves outputs,
ports and digests into whatever it opens, and the tracked ones stay clean.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
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
from tests.support.images import PYTHON_ROOTFS_CACHE
from tests.support.swarm import Swarm

REPO = Path(__file__).resolve().parent.parent
TUTORIALS = REPO / "notebooks"
SKIP = shutil.ignore_patterns(".ipynb_checkpoints", ".executed", "ds-work", "__pycache__")
GRACE = 30  # seconds JupyterLab gets to shut its kernels down before it is killed


class Stop(Exception):
    """SIGTERM or SIGHUP: stop as Ctrl-C does."""


def working_copies(source: Path, dest: Path) -> tuple[list[str], list[str]]:
    """Copy the tutorials (and whatever else is in ``source``) into ``dest``, keeping the
    copies already there: they hold a reader's edits and outputs. Returns the names copied
    and the names kept."""
    dest.mkdir(parents=True, exist_ok=True)
    copied, kept = [], []
    ignored = SKIP(str(source), [p.name for p in source.iterdir()])
    for path in sorted(source.iterdir()):
        if path.name in ignored:
            continue
        target = dest / path.name
        if target.exists():
            kept.append(path.name)
        elif path.is_dir():
            shutil.copytree(path, target, ignore=SKIP)
            copied.append(path.name)
        else:
            shutil.copy2(path, target)
            copied.append(path.name)
    return copied, kept


def lab_settings(root: Path) -> Path:
    """JupyterLab's user settings for this run: a copy of the user's, with the "official
    Jupyter news" question turned off (its toast covers the outputs, and the news would be
    fetched from the internet), as the browser tests do."""
    settings = root / "lab-settings"
    mine = Path(
        os.environ.get("JUPYTERLAB_SETTINGS_DIR")
        or Path(os.environ.get("JUPYTER_CONFIG_DIR", Path.home() / ".jupyter"))
        / "lab"
        / "user-settings"
    )
    if mine.is_dir():
        shutil.copytree(mine, settings)
    notification = (
        settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    )
    notification.parent.mkdir(parents=True, exist_ok=True)
    try:
        # JupyterLab's settings files are JSON5; a user's may have comments: then ours win.
        current = json.loads(notification.read_text())
    except (OSError, ValueError):
        current = {}
    current.update({"fetchNews": "false", "checkForUpdates": False})
    notification.write_text(json.dumps(current, indent=2))
    return settings


def lab_command(port: int, folder: Path) -> list[str]:
    return [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={folder}",
        # No news and no update checks: both would reach for the internet.
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
    ]  # fmt: skip


def stop_lab(proc: subprocess.Popen, grace: float = GRACE) -> str:
    """Stop JupyterLab as its own Ctrl-C would, without the question: SIGTERM (it shuts its
    kernels down and removes its runtime files), then SIGKILL to its process group if it is
    still there after ``grace`` seconds or on a second Ctrl-C. Says what happened."""
    if proc.poll() is not None:
        return f"JupyterLab had exited (status {proc.returncode})"
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
        return "Stopped JupyterLab (its kernels were shut down)"
    except (subprocess.TimeoutExpired, KeyboardInterrupt, Stop):
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: JupyterLab and its kernels
        proc.wait()
        return "Killed JupyterLab (it did not stop in time)"


def port_for_lab() -> int:
    """JUPYTER_PORT, else 8888 if it is free, else any free port."""
    if "JUPYTER_PORT" in os.environ:
        return int(os.environ["JUPYTER_PORT"])
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", 8888))
            return 8888
        except OSError:
            return free_port()


def cache_note() -> str:
    size = sum(p.stat().st_size for p in PYTHON_ROOTFS_CACHE.rglob("*") if p.is_file())
    if not size:
        return ""
    return (
        f"Kept: {PYTHON_ROOTFS_CACHE} ({size / 1e6:.0f} MB), what the scripts and tests keep "
        "between runs: the root file system of the Python base image above all, which "
        f"debootstrap takes about a minute to make. Remove it with: rm -rf {PYTHON_ROOTFS_CACHE}"
    )


def main() -> int:
    def stop(signum, frame):
        raise Stop(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    work = Path(os.environ.get("DOCKER_MAGICS_TUTORIALS_DIR") or REPO / "work" / "tutorials")
    root = Path(tempfile.mkdtemp(prefix="dm-tut-", dir="/tmp"))  # short: unix socket paths
    started: list = []
    lab = None
    status = 0
    try:
        print("Starting an engine (unix socket and plain tcp on loopback)...", flush=True)
        tcp = f"tcp://127.0.0.1:{free_port()}"
        engine = Dockerd(root / "engine", tcp=[tcp])
        started.append(engine)  # before it starts: a Ctrl-C while it starts must remove it
        engine.start()
        print("Making it the manager of a swarm of three engines (tutorial 05)...", flush=True)
        swarm = Swarm(root / "swarm", manager=engine)
        started.append(swarm)
        swarm.start()
        print("Starting an engine that requires TLS with client certificates...", flush=True)
        certs = TLSMaterial(root / "tls")
        tls_url = f"tcp://127.0.0.1:{free_port()}"
        tls_engine = Dockerd(root / "tls-engine", tcp=[tls_url], tls=certs)
        started.append(tls_engine)
        tls_engine.start()
        print("Starting two registries (one open, one with a password)...", flush=True)
        registry = Registry(root / "registry")
        started.append(registry)
        registry.start()
        password = secrets.token_urlsafe(18)
        auth_registry = Registry(root / "auth-registry", users={"tutorial": password})
        started.append(auth_registry)
        auth_registry.start()
        print(
            f"Making the base images (Python from Debian packages: cached in "
            f"{PYTHON_ROOTFS_CACHE} after once)...",
            flush=True,
        )
        build_busybox(engine.url, "docker-magics/busybox:latest")
        build_python_image(engine.url, "docker-magics/python:3")
        copied, kept = working_copies(TUTORIALS, work)
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
            "JUPYTERLAB_SETTINGS_DIR": str(lab_settings(root)),
        }
        port = port_for_lab()
        where = f"The tutorials: working copies in {work} (not the tracked notebooks/)"
        if kept:
            where += f"; kept from an earlier run, with your changes: {', '.join(kept)}"
            where += f" (delete {work} for fresh copies)"
        print(
            f"\n{where}.\nReady. Open http://127.0.0.1:{port}/lab in a browser on this machine "
            "(the address with its token is printed below). Ctrl-C stops JupyterLab and "
            "everything started here.\n",
            flush=True,
        )
        # Its own session: the terminal's Ctrl-C comes to us alone, and we stop it cleanly
        # (JupyterLab would otherwise ask "Shutdown this Jupyter server (y/[n])?").
        lab = subprocess.Popen(
            lab_command(port, work), env=env, stdin=subprocess.DEVNULL, start_new_session=True
        )
        status = lab.wait()
    except (KeyboardInterrupt, Stop):
        pass
    finally:
        print(flush=True)
        if lab is not None:
            print(stop_lab(lab), flush=True)  # a second Ctrl-C while it waits: SIGKILL
        # From here on, another Ctrl-C would leave engines behind: the cleanup finishes first.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        print("Stopping the engines and registries...", flush=True)
        for thing in reversed(started):
            thing.cleanup()
        shutil.rmtree(root, ignore_errors=True)
        print(f"Removed the engines, registries, their data and certificates ({root}).")
        if work.exists():
            print(f"Kept: your working copies of the tutorials in {work}.")
        note = cache_note()
        if note:
            print(note)
    return status


if __name__ == "__main__":
    sys.exit(main())
