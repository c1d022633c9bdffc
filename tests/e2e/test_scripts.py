"""The scripts a newcomer runs clean up after themselves: `quickstart.sh --stop` stops and
removes what the quickstart started (and only that), and `tutorials.sh` opens working copies
of the tutorials, then on Ctrl-C stops JupyterLab gracefully (kernels shut down, runtime
files gone) and removes its engines and registries."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import docker
import pytest
from jupyter_client import BlockingKernelClient

from tests.support import Registry, build_busybox, free_port, wait_for

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    """Running (a zombie is not: it has ended, only its parent has not reaped it yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def pids_with(text: str) -> list[int]:
    """The processes whose command line contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def mounts_under(root: Path) -> list[str]:
    with open("/proc/mounts") as f:
        return [line.split()[1] for line in f if line.split()[1].startswith(str(root))]


def test_quickstart_stop_removes_what_it_started_and_only_that(engine, tmp_path):
    if engine.dockerd is None:
        pytest.skip("needs the private test engines (DOCKER_MAGICS_TEST_ENGINE is set)")
    probe = subprocess.run(
        ["docker", "-H", "unix:///var/run/docker.sock", "version"], capture_output=True
    )
    if probe.returncode == 0:  # ensure_engine would use it, and start nothing to stop
        pytest.skip("an engine answers at /var/run/docker.sock on this machine")
    root = Path(tempfile.mkdtemp(prefix="dm-qs-", dir="/tmp"))  # short: the socket's path
    decoy = Registry(tmp_path / "decoy").start()  # someone else's: must survive
    port = free_port()
    env = {
        **os.environ,
        "DOCKER_MAGICS_LOCAL_ROOT": str(root),
        "DOCKER_MAGICS_REGISTRY_PORT": str(port),
        "DOCKER_HOST": f"unix://{root}/nothing-here.sock",
    }
    env.pop("REGISTRY", None)

    def bash(script: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180
        )

    try:
        # What the quickstart does to have an engine and a registry, and what it says.
        started = bash(
            "source scripts/lib.sh && ensure_engine && ensure_registry && local_services"
        )
        assert started.returncode == 0, started.stdout + started.stderr
        engine_pid = int((root / "engine" / "dockerd.pid").read_text())
        registry_pid = int(next(iter(re.findall(r"a registry \(pid (\d+)\)", started.stdout))))
        lines = started.stdout.strip().splitlines()[-2:]
        assert lines == [
            f"  - a Docker engine (a root dockerd, pid {engine_pid}) at "
            f"unix://{root}/engine/docker.sock",
            f"  - a registry (pid {registry_pid}) on 127.0.0.1:{port}",
        ], started.stdout
        # A running container, so that stopping the engine has work to do.
        url = f"unix://{root}/engine/docker.sock"
        build_busybox(url, "dm-qs/busybox:1")
        api = docker.APIClient(base_url=url, version="auto")
        container = api.create_container(
            "dm-qs/busybox:1",
            ["sleep", "600"],
            host_config=api.create_host_config(network_mode="none"),
        )
        api.start(container)
        sleeper = api.inspect_container(container)["State"]["Pid"]
        api.close()
        assert alive(sleeper)

        stop = bash("bash scripts/quickstart.sh --stop")
        assert stop.returncode == 0, stop.stdout + stop.stderr
        assert f"Stopping the registry (pid {registry_pid})" in stop.stdout
        assert f"Stopping the engine (it stops its containers first) (pid {engine_pid})" in (
            stop.stdout
        )
        assert f"Removed {root}" in stop.stdout
        assert not alive(engine_pid) and not alive(registry_pid) and not alive(sleeper)
        assert not root.exists() and mounts_under(root) == []
        # Only that: the test engine and the other registry still run.
        assert alive(engine.dockerd.proc.pid) and decoy.proc.poll() is None
        # Again: nothing to stop, and it says so.
        again = bash("bash scripts/quickstart.sh --stop")
        assert again.returncode == 0
        assert again.stdout.strip() == (
            f"Nothing to stop: {root} does not exist (no quickstart engine or registry)."
        )
        assert bash("bash scripts/quickstart.sh --what").returncode == 2
    finally:
        bash("source scripts/lib.sh && stop_local_services")
        decoy.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def get_json(url: str, token: str, method: str = "GET") -> dict:
    request = urllib.request.Request(
        url,
        method=method,
        headers={"Authorization": f"token {token}"},
        data=b"{}" if method == "POST" else None,
    )
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.loads(r.read())


def test_tutorials_open_copies_and_ctrl_c_leaves_nothing_running(engine, tmp_path):
    if engine.dockerd is None:
        pytest.skip("needs the private test engines (DOCKER_MAGICS_TEST_ENGINE is set)")
    tracked = sorted((ROOT / "notebooks").glob("*.ipynb"))
    before = {p.name: sha(p) for p in tracked}
    work, runtime, config = tmp_path / "work", tmp_path / "runtime", tmp_path / "config"
    work.mkdir()
    mine = work / tracked[0].name  # a reader's copy from an earlier run: kept as it is
    mine.write_text(tracked[0].read_text().replace("docker_magics", "my own edit", 1))
    env = {
        **os.environ,
        "JUPYTER_PORT": str(free_port()),
        "DOCKER_MAGICS_TUTORIALS_DIR": str(work),
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "JUPYTER_CONFIG_DIR": str(config),
    }
    env.pop("JUPYTERLAB_SETTINGS_DIR", None)
    log = tmp_path / "tutorials.log"
    with open(log, "wb") as out:
        # Its own session, as a terminal gives it: Ctrl-C goes to the whole group.
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "tutorials.py")],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    try:
        wait_for(lambda: list(runtime.glob("jpserver-*.json")), 600, "tutorials' JupyterLab", proc)
        (server,) = runtime.glob("jpserver-*.json")
        info = json.loads(server.read_text())
        url, token = info["url"].rstrip("/"), info["token"]
        wait_for(lambda: get_json(f"{url}/api/status", token), 60, "JupyterLab's API", proc)
        # JupyterLab serves the working copies, not notebooks/.
        assert Path(info["root_dir"]) == work
        assert sorted(p.name for p in work.glob("*.ipynb")) == sorted(before)
        for path in tracked[1:]:
            assert sha(work / path.name) == before[path.name]
        assert "my own edit" in mine.read_text()
        # No "official Jupyter news" question: the setting JupyterLab reads says no.
        setting = get_json(
            f"{url}/lab/api/settings/@jupyterlab/apputils-extension:notification", token
        )
        assert setting["settings"]["fetchNews"] == "false", setting["settings"]
        # A kernel, as a reader's open tutorial has: it must be shut down, not orphaned.
        kernel = get_json(f"{url}/api/kernels", token, method="POST")
        wait_for(lambda: pids_with(f"kernel-{kernel['id']}.json"), 60, "the kernel", proc)
        (kernel_pid,) = pids_with(f"kernel-{kernel['id']}.json")
        client = BlockingKernelClient(connection_file=str(runtime / f"kernel-{kernel['id']}.json"))
        client.load_connection_file()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=120)  # started, as a reader's kernel is
        finally:
            client.stop_channels()
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in its terminal
        assert proc.wait(180) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    output = log.read_text()
    assert "Stopped JupyterLab (its kernels were shut down)" in output, output[-3000:]
    assert not alive(info["pid"]) and not alive(kernel_pid)
    # Its server file, browser file and the kernel's connection file: gone. (The cookie
    # secret stays on purpose: every Jupyter server on the machine reuses it.)
    assert [p.name for p in runtime.iterdir()] == ["jupyter_cookie_secret"]
    (root,) = re.findall(r"their data and certificates \((/tmp/dm-tut-[^)]+)\)", output)
    assert not Path(root).exists() and pids_with(root) == []  # engines, registries: gone
    assert f"working copies in {work} (not the tracked notebooks/)" in output
    assert f"kept from an earlier run, with your changes: {mine.name}" in output
    assert {p.name: sha(p) for p in tracked} == before  # the tracked tutorials: untouched
    assert "Traceback" not in output, output[-3000:]


def test_tutorials_ctrl_c_while_starting_leaves_nothing(engine, tmp_path):
    if engine.dockerd is None:
        pytest.skip("needs the private test engines (DOCKER_MAGICS_TEST_ENGINE is set)")
    env = {**os.environ, "DOCKER_MAGICS_TUTORIALS_DIR": str(tmp_path / "work")}
    log = tmp_path / "tutorials.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "tutorials.py")],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    try:
        # The first engine is up and the TLS one is starting: Ctrl-C.
        wait_for(lambda: "requires TLS" in log.read_text(), 120, "the second engine", proc)
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(120) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    output = log.read_text()
    (root,) = re.findall(r"their data and certificates \((/tmp/dm-tut-[^)]+)\)", output)
    assert not Path(root).exists() and pids_with(root) == [], output
    assert not (tmp_path / "work").exists()  # it never got that far, and says no such thing
    assert "working copies" not in output and "JupyterLab" not in output, output
