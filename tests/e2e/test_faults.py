"""Faults survived: a hung registry, a registry killed mid-push, an engine killed mid-build and
restarted, a context file that shrinks or is deleted while it is sent, an interrupt while a
folder is sent. After each: one line, no container left, no stray temp file, the kernel
still usable. (tests/engine/test_faults.py has the expired engine certificate.)"""

from __future__ import annotations

import glob
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.support.kernel import Kernel

pytestmark = pytest.mark.engine


def temp_logs(folder: Path) -> set[str]:
    return set(glob.glob(os.path.join(folder, "docker-magics-*")))


@pytest.fixture
def kernel(engine, busybox, request, tmp_path_factory):
    # A temp folder of the kernel's own: other processes on the machine (another test run)
    # spill logs into the common one.
    tmp = tmp_path_factory.mktemp("kernel-tmp")
    env = {"DOCKER_HOST": engine.url, "TMPDIR": str(tmp)}
    if "packer" in request.fixturenames:
        env["DOCKER_MAGICS_PACKER"] = request.getfixturevalue("packer")
    k = Kernel(env=env)
    k.run("%load_ext docker_magics\n%docker_connect")
    yield k
    k.shutdown()
    time.sleep(0.5)
    assert temp_logs(tmp) == set(), "a temp file was left behind"
    client = engine.api()
    assert client.containers(all=True) == []


def test_hung_registry_gives_up_in_time(kernel, engine, busybox):
    """A registry that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    port = server.getsockname()[1]
    held = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept())
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    try:
        kernel.run(f"%docker_connect {engine.url}")
        # What the hint says works on the open connection.
        kernel.run("%config DockerMagics.timeout = 3")
        kernel.run(f"%docker_tag {busybox} 127.0.0.1:{port}/dm/hung:1")
        ex = kernel.run(f"%docker_push 127.0.0.1:{port}/dm/hung:1", timeout=120)
        login = kernel.run(
            f"import os; os.environ['DM_PW'] = 'x'\n%docker_login 127.0.0.1:{port} -u me "
            "--password-env DM_PW",
            timeout=120,
        )
        kernel.run("%config DockerMagics.timeout = 60")
    finally:
        stop.set()
        server.close()
        for conn, _ in held:
            conn.close()
    assert ex.usage_error == (
        f"No progress from the registry 127.0.0.1:{port} for 3s: it may be hung. The push was "
        "stopped. Check the registry, or allow more time with %config DockerMagics.timeout."
    )
    assert ex.finished - ex.started < 30
    assert login.usage_error == (
        f"No answer from the registry 127.0.0.1:{port} for 3s: it may be hung. Nothing was "
        "kept. Check the registry, or allow more time with %config DockerMagics.timeout."
    )
    assert kernel.run("print(6 * 7)").stream() == "42\n"
    engine.api().remove_image(f"127.0.0.1:{port}/dm/hung:1")


def test_registry_killed_mid_push(kernel, engine, tmp_path):
    from tests.support import Registry, build_random_image

    registry = Registry(tmp_path / "reg").start()
    try:
        name = f"{registry.host}/dm/big:1"
        build_random_image(engine.url, name)
        ex = kernel.start(f"%docker_push {name} --progress plain")
        kernel.wait_for_output(ex, ": Pushing")
        registry.proc.kill()
        kernel.wait(ex, timeout=120)
        assert ex.usage_error.startswith(f"The registry {registry.host} ")
        assert ex.usage_error.count(".") >= 1 and "\n" not in ex.usage_error
        assert kernel.run("print(6 * 7)").stream() == "42\n"
        # The engine is consistent: with the registry back, the push goes through.
        registry.start()
        again = kernel.run(f"r = %docker_push {name} --progress none\nprint(r.digest)")
        assert again.status == "ok", again.error
    finally:
        registry.cleanup()
        engine.api().remove_image(f"{registry.host}/dm/big:1", force=True)


def test_engine_killed_mid_build_then_restarted(mortal_engine):
    dockerd, k = mortal_engine
    ex = k.start("%%docker_build --progress plain\nFROM dm/bb:1\nRUN echo started; sleep 300\n")
    k.wait_for_output(ex, "started")
    dockerd.kill()
    k.wait(ex, timeout=60)
    assert ex.usage_error.startswith("Lost the engine during the build: ")
    assert dockerd.url in ex.usage_error
    # While it is down, the next magic says so in one line...
    down = k.run("%docker_images")
    assert down.usage_error.startswith(f"No Docker engine answers at {dockerd.url}")
    # ...and once it is back, the same connection just works again.
    dockerd.start()
    up = k.run("%docker_info")
    assert up.status == "ok", up.error
    assert "Docker Engine" in str(up.messages)
    built = k.run("%%docker_build --progress none -t dm/after:1\nFROM dm/bb:1\nRUN echo fine\n")
    assert built.status == "ok", built.error
    assert dockerd.api().containers(all=True) == []


def write_random(path: Path, megabytes: int) -> None:
    with open(path, "wb") as f:
        for _ in range(megabytes):
            f.write(os.urandom(1 << 20))


def read_so_far(pid: int, path: Path) -> int:
    """How far ``pid`` or a child of it (GNU tar, packing the context) has read ``path``."""
    pids = [pid]
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            pids += Path(f"/proc/{pid}/task/{task}/children").read_text().split()
        except OSError:
            continue
    for one in pids:
        try:
            fds = os.listdir(f"/proc/{one}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{one}/fd/{fd}") == str(path):
                    return int(Path(f"/proc/{one}/fdinfo/{fd}").read_text().split()[1])
            except OSError:
                continue
    return 0


# Each packer, as the kernel packs a folder: Python's own, and GNU tar copying the members.
PACKERS = pytest.mark.parametrize("packer", ["python", ""], ids=["python", "gnu-tar"])


@PACKERS
def test_context_file_shrinking_while_sent(kernel, busybox, tmp_path, engine, packer):
    big = tmp_path / "ctx" / "data.bin"
    big.parent.mkdir()
    write_random(big, megabytes=400)

    pid = kernel.km.provisioner.process.pid

    def shrink():
        """Once 50 MB of the file have been read (the reader's fd position says so), cut it."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if read_so_far(pid, big) > 50 << 20:
                with open(big, "r+b") as f:
                    f.truncate(1024)
                return
            time.sleep(0.001)

    thread = threading.Thread(target=shrink, daemon=True)
    thread.start()
    ex = kernel.run(
        f"%%docker_build --context {tmp_path}/ctx --progress plain\n"
        f"FROM {busybox}\nCOPY data.bin /data.bin\n",
        timeout=120,
    )
    thread.join()
    how = "it shrank from 419430400 bytes" if packer == "python" else "it shrank"
    assert ex.usage_error == (
        f"data.bin changed while the build context was being sent ({how}). Run the cell "
        "again once nothing is writing to the context."
    )
    assert kernel.run("print(6 * 7)").stream() == "42\n"


@PACKERS
def test_context_file_deleted_while_sent(kernel, busybox, tmp_path, engine_api, packer):
    """A file the walk has listed but not sent yet is deleted: the build stops with one line
    instead of building an image without it."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    big = ctx / "a.bin"
    write_random(big, megabytes=200)
    for i in range(5):
        (ctx / f"z{i}.txt").write_text(f"needed {i}\n")
    pid = kernel.km.provisioner.process.pid

    def delete():
        """Once 20 MB of a.bin have been read, delete a file that comes after it."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if read_so_far(pid, big) > 20 << 20:
                (ctx / "z3.txt").unlink()
                return
            time.sleep(0.001)

    images = len(engine_api.images(all=True))
    thread = threading.Thread(target=delete, daemon=True)
    thread.start()
    ex = kernel.run(
        f"%%docker_build --context {ctx} --progress plain -t dm-test/deleted\n"
        f"FROM {busybox}\nCOPY . /ctx\n",
        timeout=120,
    )
    thread.join()
    assert not (ctx / "z3.txt").exists()
    assert ex.usage_error == (
        "z3.txt changed while the build context was being sent (it was deleted). Run the cell "
        "again once nothing is writing to the context."
    )
    assert len(engine_api.images(all=True)) == images  # nothing was built without it
    assert kernel.run("print(6 * 7)").stream() == "42\n"


@PACKERS
def test_interrupt_while_a_folder_is_sent(kernel, busybox, tmp_path, engine_api, packer):
    """The stop button while the classic builder receives a folder: nothing is built, the
    packing stops (no tar left running, no file left open), and the kernel lives on."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    big = ctx / "big.bin"
    write_random(big, megabytes=400)
    pid = kernel.km.provisioner.process.pid
    images = len(engine_api.images(all=True))
    ex = kernel.start(
        f"%%docker_build --builder classic --context {ctx} --progress plain -t dm-test/intr\n"
        f"FROM {busybox}\nCOPY . /ctx\n"
    )
    deadline = time.monotonic() + 60
    while read_so_far(pid, big) < 20 << 20 and time.monotonic() < deadline:
        time.sleep(0.001)
    kernel.interrupt()
    started = time.monotonic()
    kernel.wait(ex, timeout=30)
    assert time.monotonic() - started < 5
    assert ex.usage_error.startswith("Build interrupted"), ex.usage_error
    check = kernel.run(
        "import os, threading\n"
        "print([t.name for t in threading.enumerate() if 'tar' in t.name])\n"
        "print(os.popen(f'ps -o comm= --ppid {os.getpid()}').read().split())\n"
    ).stream()
    assert check.splitlines()[-2:] == ["[]", "['sh']"]  # the shell of that popen, no tar
    assert read_so_far(pid, big) == 0  # no one has it open any more
    assert len(engine_api.images(all=True)) == images
