"""Hardening, round 2 (issue 18), in real kernels: a full temp folder while a log spills, and
a kernel killed during a foreground %docker_run."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.support.kernel import Kernel
from tests.support.processes import tmpfs

pytestmark = pytest.mark.engine

LINE = "0123456789" * 4  # 41 bytes a line with its newline


@pytest.fixture
def small_tmp(tmp_path):
    """A 3 MB temp folder (a tmpfs of our own), to fill up."""
    with tmpfs(tmp_path / "tmp", "3m", lazy=True) as folder:
        yield folder


def open_files_under(pid: int, folder: Path) -> list[str]:
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(folder)):
            found.append(target)
    return found


def test_a_full_temp_folder_keeps_the_work_going(engine, busybox, small_tmp, no_leftovers):
    """Item 7: a build's 8 MB log spills into a 3 MB temp folder. It was "Lost the engine
    ... OSError: [Errno 28]" and the build aborted, its spill file left open; now the build
    and a run go on in memory, one warning line names the folder, the logs are whole, and
    no file stays open or behind."""
    k = Kernel(env={"DOCKER_HOST": engine.url, "TMPDIR": str(small_tmp)})
    try:
        k.run("%load_ext docker_magics\n%docker_connect")
        pid = int(k.run("import os; print(os.getpid())").stream())
        build = k.run(
            f"%%docker_build --progress plain --no-cache\nFROM {busybox}\n"
            f"RUN yes {LINE} | head -n 200000 && echo last-build-line\n",
            timeout=300,
        )
        assert build.status == "ok", build.error
        built = k.run(
            "import docker_magics as dm\nlog = dm.last_build().log.text()\n"
            "print(log.count('\\n' + 'LINE'), log.rstrip().endswith('last-build-line'))".replace(
                "LINE", LINE
            )
        )
        run = k.run(
            f"r = %docker_run -q {busybox} sh -c 'yes {LINE} | head -n 200000; echo last'\n"
            f"print(r.stdout.count('{LINE}\\n'), r.stdout.endswith('last\\n'), "
            f"r.output.count, r.output.text().endswith('last\\n'))",
            timeout=300,
        )
        assert run.status == "ok", run.error
        left_open = open_files_under(pid, small_tmp)
        spilled = sorted(p.name for p in small_tmp.rglob("*.log"))
    finally:
        k.shutdown()
    warnings = [
        line
        for line in (build.stream("stderr") + run.stream("stderr")).splitlines()
        if "temp folder" in line
    ]
    assert warnings == [
        f"Warning: the temp folder {small_tmp} cannot take large logs (No space left on "
        "device): they are kept in memory from now on, the last 32 MiB of each. Free space "
        "there, or start the kernel with TMPDIR set to a folder with room"
    ]
    assert "Lost the engine" not in build.stream("stderr")
    assert built.stream() == "200000 True\n"  # the whole log, nothing left out
    assert run.stream() == "200000 True 200001 True\n"
    assert left_open == [] and spilled == []


def kill(kernel: Kernel) -> None:
    """SIGKILL the kernel's process, as the OOM killer or a force-restart does."""
    kernel.km.provisioner.process.kill()
    kernel.km.provisioner.process.wait()
    kernel.shutdown()


def our_containers(api) -> list[dict]:
    return api.containers(all=True, filters={"label": "org.docker-magics.run"})


def wait_until(check, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_a_killed_kernels_run_is_removed_by_the_engine(engine, engine_api, busybox, no_leftovers):
    """Item 6: a kernel killed during a foreground %docker_run left its container for good;
    the engine owns the clean-up now (AutoRemove), as with docker run --rm."""
    k = Kernel(env={"DOCKER_HOST": engine.url})
    k.run("%load_ext docker_magics\n%docker_connect")
    k.start(f"%docker_run {busybox} sh -c 'sleep 3; echo done'")
    assert wait_until(lambda: [c["State"] for c in our_containers(engine_api)] == ["running"])
    kill(k)
    assert wait_until(lambda: our_containers(engine_api) == [], timeout=30), our_containers(
        engine_api
    )


def test_what_a_dead_kernel_left_goes_on_the_next_connect(
    engine, engine_api, busybox, no_leftovers, tmp_path
):
    """Item 6: a run with --get cannot be AutoRemove (its results are copied out after it
    ends): the next connection finds it by its label and removes it, in one line; the
    containers of a live process, and of another machine, stay."""
    from docker_magics.runs.leftovers import OWNER, owner_label

    k = Kernel(env={"DOCKER_HOST": engine.url}, cwd=str(tmp_path))
    k.run("%load_ext docker_magics\n%docker_connect")
    k.start(f"%docker_run --get /out {busybox} sh -c 'echo result > /out; sleep 2'")
    assert wait_until(lambda: [c["State"] for c in our_containers(engine_api)] == ["running"])
    (left,) = our_containers(engine_api)
    kill(k)
    assert wait_until(
        lambda: [c["State"] for c in our_containers(engine_api)] == ["exited"], timeout=30
    )  # ended, and stays
    labels = {"org.docker-magics.run": "1"}
    alive = engine_api.create_container(busybox, "true", labels={**labels, **owner_label()})
    machine, boot, pid, start = owner_label()[OWNER].split()
    elsewhere = engine_api.create_container(
        busybox, "true", labels={**labels, OWNER: f"another-machine {boot} 1 {start}"}
    )
    k2 = Kernel(env={"DOCKER_HOST": engine.url})
    try:
        connected = k2.run("%load_ext docker_magics\n%docker_connect")
    finally:
        k2.shutdown()
    assert connected.stream().splitlines()[0] == (
        "Removed 1 container left by runs in a kernel that died before it could "
        f"remove it: {left['Id'][:12]}"
    )
    remaining = {c["Id"] for c in our_containers(engine_api)}
    assert remaining == {alive["Id"], elsewhere["Id"]}
    for container in (alive, elsewhere):
        engine_api.remove_container(container["Id"])
