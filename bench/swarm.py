"""Case 8 of bench/run.py: scale out on a Docker Swarm of three private engines on loopback
(tests/support/swarm.py), the image in a loopback registry every node pulls from.

- A sweep of 12 tasks that each sleep 2 s, as one ``%docker_job`` on the 3 nodes, against the
  same 12 run one after another with ``%docker_run`` on one engine (the manager's): the
  ratio is what scaling out buys (goal <= 0.5).
- The same job against ``docker service create --mode replicated-job`` with the CLI waiting
  for it to complete (goal <= 1.1): what following the job costs (per-task outputs, the
  service removed at the end). The CLI's ``docker service rm`` afterwards is timed apart.

Kept apart from run.py so that the two can change without stepping on each other; run.py
calls :func:`case_swarm` with its ``row`` function.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from tests.support import Registry, build_busybox
from tests.support.kernel import Kernel
from tests.support.swarm import Swarm

DOCKER = shutil.which("docker") or "docker"
TASKS, SLEEP = 12, 2


def case_swarm(repeat: int, row: Callable) -> None:
    cluster = Swarm().start()
    registry = Registry(Path(tempfile.mkdtemp(prefix="bench-swarm-reg-"))).start()
    kernel = None
    try:
        image = _push_busybox(cluster, registry)
        kernel = Kernel(env={"DOCKER_HOST": cluster.url})
        _check(kernel.run("%load_ext docker_magics\n%docker_connect"))
        env = {**os.environ, "DOCKER_HOST": cluster.url}
        job = f"%docker_job --replicas {TASKS} {image} sleep {SLEEP}"
        one_by_one = "".join(f"%docker_run {image} sleep {SLEEP}\n" for _ in range(TASKS))

        removals: list[float] = []

        def cli() -> float:
            name = f"bench-{uuid.uuid4().hex[:6]}"
            took = _timed(
                lambda: _docker(
                    "service", "create", "--quiet", "--detach=false", "--name", name,
                    "--mode", "replicated-job", "--replicas", str(TASKS),
                    "--restart-condition", "none", image, "sleep", str(SLEEP), env=env,
                )
            )  # fmt: skip
            removals.append(_timed(lambda: _docker("service", "rm", name, env=env)))
            return took

        kernel_run = kernel.run
        times = _interleaved(
            {
                "sequential": lambda: _check(kernel_run(one_by_one)),
                "job": lambda: _check(kernel_run(job)),
                "cli": cli,
            },
            repeat,
        )
        case = f"8 a sweep of {TASKS} tasks of {SLEEP} s on a swarm of 3 engines (loopback)"
        row(
            case,
            f"{TASKS} x %docker_run one after another, one engine",
            times["sequential"],
            "s",
            runs=repeat,
        )
        row(
            case,
            f"%docker_job --replicas {TASKS} on the 3 nodes",
            times["job"],
            "s",
            times["sequential"],
            "target <= 0.5",
            runs=repeat,
        )
        row(
            case,
            "docker service create --mode replicated-job (the CLI waits for completion)",
            times["cli"],
            "s",
            runs=repeat,
            note="--restart-condition none --detach=false; its service left for the next row",
        )
        row(
            case,
            "%docker_job --replicas 12, against the CLI just above",
            times["job"],
            "s",
            times["cli"],
            "target <= 1.1",
            runs=repeat,
            note="ours also reads each task's output and removes the service before it returns",
        )
        row(case, "docker service rm, after the CLI's job", statistics.median(removals), "s",
            runs=repeat)  # fmt: skip
    finally:
        if kernel is not None:
            kernel.shutdown()
        registry.cleanup()
        cluster.cleanup()


def _push_busybox(cluster: Swarm, registry: Registry) -> str:
    import docker

    build_busybox(cluster.url, "bench/swarm-bb:1")
    api = docker.APIClient(base_url=cluster.url, version="auto")
    try:
        api.tag("bench/swarm-bb:1", f"{registry.host}/bench/swarm-bb", "1")
        for message in api.push(f"{registry.host}/bench/swarm-bb", "1", stream=True, decode=True):
            if "error" in message:
                raise RuntimeError(message["error"])
    finally:
        api.close()
    return f"{registry.host}/bench/swarm-bb:1"


def _docker(*args: str, env: dict) -> None:
    subprocess.run([DOCKER, *args], check=True, env=env, capture_output=True)


def _timed(func) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def _interleaved(funcs: dict, repeat: int) -> dict[str, float]:
    """Medians, the functions run in turn (rotating the order) so that drift hits them
    all alike (as run.py's own ``interleaved``)."""
    times: dict[str, list[float]] = {name: [] for name in funcs}
    names = list(funcs)
    for i in range(repeat):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            times[name].append(_timed(funcs[name]))
    return {name: statistics.median(values) for name, values in times.items()}


def _check(ex):
    assert ex.status == "ok", ex.error
    return ex
