"""A job from start to end: check that the engine manages a swarm, pin the image, start the
job's service, follow its tasks (state, node, exit code, output) to the end, stop and remove
it on every path, and return a ``JobResult`` or raise one clear line. Shared by
``%docker_job``, ``%%docker_job`` and ``docker_magics.job()``."""

from __future__ import annotations

import time

from docker_magics.display.tables import Table, counted
from docker_magics.engine import events as ev
from docker_magics.engine.diagnose import explain
from docker_magics.engine.drive import Operation, drive
from docker_magics.engine.session import Connection
from docker_magics.errors import DockerMagicsError, EngineError, Interrupted, JobFailed, how, option
from docker_magics.jobs import images, swarm
from docker_magics.jobs.options import JobSpec
from docker_magics.jobs.progress import job_renderer
from docker_magics.jobs.result import (
    ENDED,
    JobNote,
    JobRecorder,
    JobResult,
    TaskChanged,
    TaskOutput,
)

UNSCHEDULABLE = 5.0  # seconds every waiting task may say "no suitable node" before we give up
SHOWN_FAILURES = 3
READERS = 4  # outputs read at once
KEEP_PARTIAL = 50  # running tasks whose output so far is read when a job is cut short


def nodes(conn: Connection) -> Table:
    return _explained(conn, swarm.nodes, conn)


def run(conn: Connection, spec: JobSpec, *, progress: str = "auto") -> JobResult:
    """Run ``spec`` on the swarm ``conn`` manages; see the module's docstring."""
    found = _explained(conn, swarm.manager_nodes, conn)
    image = _explained(
        conn,
        images.resolve,
        conn,
        spec.image,
        pin=spec.resolve_image,
        other_nodes=lambda: swarm.other_nodes(conn, found),
    )
    backend = swarm.SwarmJob(conn, spec, image, found)
    recorder = JobRecorder(spec, image.reference)
    recorder.name = backend.name
    job = _Job(conn, spec, backend, recorder)
    job.renderer = job_renderer(progress, recorder)
    return drive(job)


def _explained(conn: Connection, func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except DockerMagicsError:
        raise
    except Exception as exc:  # noqa: BLE001 - transport errors and refusals: one line
        raise explain(exc, conn.endpoint) from None


class _Job(Operation[JobResult]):
    """A job's service, followed by :func:`~docker_magics.engine.drive.drive`: created in
    ``events()``, polled until every task ended, stopped and removed in ``cleanup()``."""

    def __init__(self, conn, spec: JobSpec, backend: swarm.SwarmJob, recorder: JobRecorder):
        self.conn, self.spec, self.backend, self.recorder = conn, spec, backend, recorder
        self.lost = False  # the manager went away
        self.removed = False

    def events(self):
        backend, spec = self.backend, self.spec
        backend.start()
        backend.follow()
        known: dict[int, TaskChanged] = {}
        live: set[int] = set()  # tasks whose output came live
        shown: set[int] = set()  # tasks whose output was shown whole when they ended
        stuck_since: float | None = None
        while True:
            changes = []
            for change in backend.poll():
                was = known.get(change.index)
                if was != change:
                    known[change.index] = change
                    ended = change.state in ENDED and (was is None or was.state not in ENDED)
                    changes.append((change, ended))
            # Outputs of the tasks that just ended, read side by side (they often end at once).
            outputs = self._outputs([c.index for c, ended in changes if ended])
            for change, _ in changes:
                if change.index in outputs:
                    yield from outputs[change.index]  # kept whole in the result
                    if change.index not in live:  # shown now, if it did not come live
                        shown.add(change.index)
                        yield from _shown(outputs[change.index])
                yield change
            for lines in backend.live_lines():
                index = int(lines.key or 0)  # (always set: the task's index)
                if index not in shown:  # (the live stream lags behind)
                    live.add(index)
                    yield lines
            if sum(c.state in ENDED for c in known.values()) == spec.size:
                return
            elapsed = self.recorder.elapsed()
            if spec.timeout is not None and elapsed > spec.timeout:
                raise JobFailed(self._progress_line(f"did not finish within {spec.timeout:g}s"))
            stuck_since = self._unschedulable(known, stuck_since)
            # Every 0.1 s at first, then less often (1 s after 40 s): the manager serves others.
            time.sleep(min(1.0, max(0.1, elapsed / 40, spec.size / 2000)))

    def _outputs(self, indices: list[int]) -> dict[int, list]:
        """The outputs of these finished tasks, read a few at a time."""
        if len(indices) < 2:
            return {i: self._output(i) for i in indices}
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="docker-magics-job")
        try:
            return dict(zip(indices, pool.map(self._output, indices), strict=True))
        finally:
            pool.shutdown(wait=False, cancel_futures=True)  # an interrupt does not wait

    def _output(self, index: int) -> list:
        from docker.errors import APIError

        try:
            return self.backend.output(index)
        except APIError as exc:  # the node that has it is gone, say
            text = " ".join(str(exc.explanation or exc).split())
            return [JobNote(f"The output of {self.spec.label(index)} could not be read: {text}")]

    def _unschedulable(self, known: dict[int, TaskChanged], since: float | None) -> float | None:
        """When no task runs and every waiting one says Swarm has no node for it, for a few
        seconds: one line (a --constraint no node meets, more --reserve-cpu than any has)."""
        waiting = [c for c in known.values() if c.state not in ENDED]
        if not waiting or any(
            c.state != "pending" or not c.message.startswith("no suitable node") for c in waiting
        ):
            return None
        now = time.monotonic()
        if since is None:
            return now
        if now - since < UNSCHEDULABLE:
            return since
        why = waiting[0].message
        raise JobFailed(
            self._progress_line(f"cannot place its tasks: Swarm says {why}"),
            f"Check {option('--constraint')} (`docker node inspect` shows the nodes' labels) and "
            f"{option('--reserve-cpu')}/{option('--reserve-memory')} against what the nodes have",
        )

    def _progress_line(self, what: str) -> str:
        n, done = self.spec.size, self.recorder.done()
        return f"The job {self.backend.name} {what}: {done} of {counted(n, 'task')} ended"

    def interrupted(self) -> Interrupted:
        return Interrupted(f"Interrupted the job {self.backend.name}")

    def explain(self, exc: Exception) -> DockerMagicsError:
        error = explain(exc, self.conn.endpoint)
        if self.backend.service_id is None:
            return error
        self.lost = True
        what = error.what[:1].lower() + error.what[1:]
        return EngineError(
            f"Lost the swarm manager during the job {self.backend.name}: {what}",
            "Its tasks may still run on the other nodes; the service is removed when the "
            "manager answers again (at the next "
            + how("%docker_job or %docker_nodes", "job() or nodes()")
            + ")",
        )

    def cleanup(self, error) -> None:
        if self.lost:
            self.backend.orphan()
            return
        try:
            if error is not None:
                self._keep_partial_output()
            self.backend.stop()
            self.removed = True
        except Exception:  # noqa: BLE001 - the manager went away meanwhile
            self.backend.orphan()

    def _keep_partial_output(self) -> None:
        """The job was cut short: what the running tasks wrote so far goes in the result
        (their containers go with the service)."""
        running = [t.index for t in self.recorder.tasks if t.state == "running"]
        try:
            for index in running[:KEEP_PARTIAL]:
                for event in self.backend.output(index):
                    self.recorder.handle(event)
        except (Exception, KeyboardInterrupt):  # noqa: BLE001 - a node gone, a 2nd Ctrl-C
            pass

    def conclude(self, error):
        recorder, backend = self.recorder, self.backend
        if error is not None:
            recorder.stop_live("the job was stopped" if self.removed else "the job was cut off")
        result = JobResult(recorder, backend.service_id or "", recorder.elapsed())
        if isinstance(error, Interrupted):
            stopped = "its tasks were stopped and its service removed"
            if not self.removed:
                stopped = "its service could not be removed now: it is when the manager answers"
            error = Interrupted(f"{error.what}: {stopped}", "docker_magics.last_job() has the rest")
        if error is not None:
            error.result = result
            raise error
        if result.failed:
            raise failure(result)
        return result, result.summary()


def _shown(outputs: list) -> list[ev.Log]:
    """A finished task's output, as lines to show (``TaskOutput`` events are kept)."""
    return [ev.Log(o.lines, str(o.index), o.stream) for o in outputs if isinstance(o, TaskOutput)]


def failure(result: JobResult) -> JobFailed:
    """``2 of 6 tasks failed: X=2 exited 7 on node N: its last line; ...`` (one line)."""
    failed = result.failed
    shown = "; ".join(task.outcome() for task in failed[:SHOWN_FAILURES])
    more = len(failed) - SHOWN_FAILURES
    if more > 0:
        shown += f"; {more} more"
    ended = all(t.state in ("failed", "rejected") for t in failed)
    verb = "failed" if ended else "did not complete"
    return JobFailed(
        f"{len(failed)} of {counted(len(result), 'task')} {verb}: {shown} "
        "(docker_magics.last_job() has every result)",
        result=result,
    )
