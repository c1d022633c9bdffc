"""The Python API of jobs on a Docker Swarm: :func:`job` (a sweep fanned out as one swarm
job), :func:`last_job` and :func:`nodes`. Part of :mod:`docker_magics.api`, which re-exports
them; a module of its own so that the facade stays small."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from docker_magics import api, normalise
from docker_magics.errors import how

if TYPE_CHECKING:  # pragma: no cover
    from docker_magics.display.tables import Table

_last_job = None


def job(
    image: str,
    command: str | Iterable[str] | None = None,
    *,
    script: str | None = None,
    shell: str = "sh",
    each: Mapping[str, Iterable] | str | Iterable[str] | Iterable[Mapping] | None = None,
    replicas: int | None = None,
    env: Mapping[str, str] | str | Iterable[str] | None = None,
    env_files: str | Iterable[str] = (),
    max_concurrent: int | None = None,
    constraints: str | Iterable[str] = (),
    name: str | None = None,
    reserve_cpu: float | None = None,
    reserve_memory: str | int | None = None,
    timeout: float | None = None,
    resolve_image: bool = True,
    progress: str = "auto",
):
    """Run ``command`` (or ``script`` with ``shell``) in ``image`` as one job on the Docker
    Swarm the current engine manages: a :class:`~docker_magics.JobResult`. ``each``: a task
    per combination of values, in its environment (``{"X": [1, 2], "Y": ["a"]}``; a list of
    dicts: a task each). Failed tasks raise ``JobFailed``; see docs/swarm.md."""
    from docker_magics.jobs import runner
    from docker_magics.jobs.options import MAX_TASKS, job_spec

    for key, value in {"script": script, "shell": shell, "name": name}.items():
        normalise.text(value, key)
    normalise.flags(resolve_image=resolve_image)
    counts, sizes = (1, MAX_TASKS), (1e-3, 1e9)  # counts are whole
    numbers = {"replicas": replicas, "max_concurrent": max_concurrent, "reserve_cpu": reserve_cpu}
    for key, number in {**numbers, "timeout": timeout}.items():
        if number is not None:
            low, high = counts if key in ("replicas", "max_concurrent") else sizes
            normalise.number(number, key, minimum=low, maximum=high, integer=low == 1)
    spec = job_spec(
        api._required(image, "image"), normalise.command(command), script=script, shell=shell,
        each=each, replicas=replicas, env=normalise.pairs(env, "env"),
        env_files=normalise.strings(env_files, "env_files", paths=True),
        max_concurrent=max_concurrent, constraints=normalise.strings(constraints, "constraints"),
        name=name, reserve_cpu=reserve_cpu, reserve_memory=reserve_memory, timeout=timeout,
        resolve_image=resolve_image,
    )  # fmt: skip
    progress = normalise.progress(progress)
    global _last_job
    try:
        _last_job = runner.run(api.current(), spec, progress=progress)
    except BaseException as exc:  # Interrupted is a KeyboardInterrupt
        _last_job = getattr(exc, "result", None)
        raise
    return _last_job


def last_job():
    """The last job's result, failed or interrupted ones included (every task's output)."""
    return api._last_result(_last_job, "job", how("%docker_job", "docker_magics.job()"))


def nodes() -> Table:
    """The current engine's swarm's nodes, like ``docker node ls`` (``.objects``: records)."""
    from docker_magics.jobs import runner

    return runner.nodes(api.current())
