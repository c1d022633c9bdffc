"""%%docker_build --builder buildkit against the real engine, side by side with the classic
builder. (These engines run without a default bridge network, so RUN steps need
--network none under BuildKit; the error for forgetting it is tested too.)"""

from __future__ import annotations

import os
import time

import pytest

from tests.support.kernel import Kernel

pytestmark = pytest.mark.engine


def test_interrupt_stops_a_buildkit_build(engine, busybox):
    k = Kernel(env={"DOCKER_HOST": engine.url})
    try:
        k.run("%load_ext docker_magics\n%docker_connect")
        ex = k.start(
            f"%%docker_build --builder buildkit --network none --no-cache "
            f"--progress plain\nFROM {busybox}\nRUN echo started; sleep 321\n"
        )
        k.wait_for_output(ex, "started")
        deadline = time.monotonic() + 10
        while not _sleepers() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _sleepers() == 1
        k.interrupt()
        k.wait(ex, timeout=30)
        assert ex.usage_error.startswith(
            "Build interrupted at step [2/2] RUN echo started; sleep 321"
        )
        deadline = time.monotonic() + 10
        while _sleepers() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _sleepers() == 0  # BuildKit's RUN process is gone (it is no docker container)
        assert k.run("print(6 * 7)").stream() == "42\n"
    finally:
        k.shutdown()


def _sleepers() -> int:
    count = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read().split(b"\0")[:2] == [b"sleep", b"321"]:
                    count += 1
        except OSError:
            pass
    return count


def test_interrupt_while_the_context_is_sent(engine, busybox, tmp_path):
    """The stop button during the transfer: the build stops on the engine at once, the
    session's thread and the file are gone, the kernel lives on, the next build works."""
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(400 << 20))
    k = Kernel(env={"DOCKER_HOST": engine.url})
    try:
        k.run("%load_ext docker_magics\n%docker_connect")
        build = (
            f"%%docker_build -t dm-test/intr-ctx --builder buildkit --context {tmp_path} "
            f"--progress plain\nFROM {busybox}\nCOPY . /ctx\n"
        )
        ex = k.start(build)
        k.wait_for_output(ex, "load build context")
        k.interrupt()
        started = time.monotonic()
        k.wait(ex, timeout=30)
        assert time.monotonic() - started < 5
        assert ex.usage_error.startswith("Build interrupted"), ex.usage_error
        assert ex.usage_error.endswith("it was stopped on the engine.")
        check = k.run(
            "import os, threading, docker_magics\n"
            "print(docker_magics.last_build().context)\n"
            "print([t.name for t in threading.enumerate() if t.name.startswith('buildkit')])\n"
            "fds = []\n"
            "for fd in os.listdir('/proc/self/fd'):\n"
            "    try: fds.append(os.readlink(f'/proc/self/fd/{fd}'))\n"
            "    except OSError: pass\n"
            f"print(sum('{big}' in f for f in fds))\n"
        ).stream()
        context, threads, open_files = check.splitlines()[-3:]
        # it was stopped inside the big file
        assert context.endswith("(0B) sent over the BuildKit session"), context
        assert (threads, open_files) == ("[]", "0")
        again = k.run(build.replace("--progress plain", "--progress none"))
        assert again.usage_error is None, again.stream("stderr")
    finally:
        k.shutdown()
    assert engine.api().containers(all=True) == []
