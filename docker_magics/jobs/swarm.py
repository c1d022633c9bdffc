"""Docker Swarm, the one module of ``jobs/`` that knows it: the nodes, the manager check,
and a job as ONE service in ``replicated-job`` mode.

How Swarm is made to run each task exactly once, with its own values:

- Each task's values are service labels (``…value.<i>.<NAME>``) and each slot says which
  task it runs (``…slot.<s>``); the tasks' environment variables are Swarm templates that
  look their values up (``{{index .Service.Labels …}}``). Slot 0 renders ``.Task.Slot`` as
  the node's ID (it is how global services name theirs), hence the fallback to ``slot.0``.
- Swarm reruns a failed job task until it succeeds, whatever the restart condition (its
  job reconciler refills any slot without a completed task). A failed task's replacement is
  parked instead: ``on-failure`` with a restart delay of a year, so the slot stays taken and
  nothing reruns. A parked task counts against ``MaxConcurrent``; if as many are parked as
  may run at once while tasks still wait, the job moves on to a new iteration of the
  service that holds only the waiting tasks (nothing is running then: nothing is lost).
- Removing a job's service does not stop its tasks on engines whose Swarm predates
  moby/swarmkit#3112 (February 2023; Debian 12's 20.10 among them: "the tasks for that
  service would hang around indefinitely"): a new iteration with no tasks stops them
  first, on every engine, then the service is removed.
"""

from __future__ import annotations

import re
import time
from datetime import datetime

from docker_magics.display.tables import Table
from docker_magics.engine import events as ev
from docker_magics.engine.dockerpy import internals
from docker_magics.engine.session import Connection
from docker_magics.errors import BadArgument, EngineError, how
from docker_magics.jobs.images import Image
from docker_magics.jobs.logstream import Follower, frames
from docker_magics.jobs.options import JobSpec, shell_words, text
from docker_magics.jobs.result import TaskChanged, TaskOutput

LABEL = "org.docker-magics.job"
SCRIPT_PATH = "/.docker-magics/cell"  # where %%docker_job's cell is, as %%docker_run's
PARK = 365 * 24 * 3600 * 10**9  # the restart delay that parks a failed task's replacement
STATES = {
    **dict.fromkeys(("new", "allocated", "pending", "assigned"), "pending"),
    **dict.fromkeys(("accepted", "preparing", "ready", "starting"), "starting"),
    "running": "running",
    "complete": "complete",
    "failed": "failed",
    "rejected": "rejected",
    **dict.fromkeys(("shutdown", "remove"), "stopped"),
    "orphaned": "lost",
}
LIVE = {state for state, ours in STATES.items() if ours in ("pending", "starting", "running")}
HELD = 500  # live lines kept for tasks not seen yet
NODES_EVERY = 2.0  # seconds between two looks at the nodes (is one down?)
# Services of jobs cut off when their manager went away, by engine URL: removed when it answers.
ORPHANS: dict[str, list[SwarmJob]] = {}


def manager_nodes(conn: Connection) -> list[dict]:
    """The swarm's nodes, from its manager's engine (one line if it is not one)."""
    from docker.errors import APIError

    try:
        found = conn.client.api.nodes()
    except APIError as exc:
        if exc.status_code == 503:  # "This node is not a swarm manager": say why, and what to do
            manager_info(conn)
        raise
    _reap_orphans(conn)
    return found


def manager_info(conn: Connection) -> dict:
    """The engine's swarm ``/info``, after checking that it is a manager (one line if not)."""
    where = conn.endpoint.url
    swarm = conn.client.api.info().get("Swarm") or {}
    state = swarm.get("LocalNodeState") or "inactive"
    if state == "active" and swarm.get("ControlAvailable"):
        return swarm
    if state == "active":
        raise EngineError(
            f"The engine at {where} is a swarm worker, not a manager: jobs and nodes are "
            "managed on a manager",
            f"Connect to a manager's engine with {_connect()} (`docker node ls` on a "
            "manager lists them), or promote this node with `docker node promote`",
        )
    if state == "locked":
        raise EngineError(
            f"The swarm manager at {where} is locked", "Unlock it with `docker swarm unlock`"
        )
    raise EngineError(
        f"The engine at {where} is not in a swarm ({state})",
        f"Connect to a swarm manager with {_connect()}, or make this engine one with "
        "`docker swarm init` (a one-node swarm runs jobs too)",
    )


def nodes(conn: Connection) -> Table:
    """The swarm's nodes, like ``docker node ls`` (``.objects``: the engine's records)."""
    me = manager_info(conn).get("NodeID")
    found = manager_nodes(conn)
    rows = []
    for node in sorted(found, key=lambda n: (n["Spec"].get("Role") != "manager", n["ID"])):
        spec, status, about = node["Spec"], node.get("Status") or {}, node["Description"]
        manager = node.get("ManagerStatus") or {}
        rows.append(
            (node["ID"] + (" *" if node["ID"] == me else ""), about.get("Hostname", ""),
             spec.get("Role", ""), status.get("State", ""), spec.get("Availability", ""),
             "Leader" if manager.get("Leader") else manager.get("Reachability", ""),
             about.get("Engine", {}).get("EngineVersion", ""))
        )  # fmt: skip
    columns = ["id", "hostname", "role", "status", "availability", "manager status", "engine"]
    title = f"Swarm nodes (managed from {conn.endpoint.url})"
    return Table(columns, rows, title=title, objects=found)


def node_names(found: list[dict]) -> dict[str, str]:
    """Node ID -> how to name it: its hostname, with the ID's start when several share it."""
    hosts = [n["Description"].get("Hostname", "") for n in found]
    return {
        n["ID"]: h if hosts.count(h) == 1 and h else f"{h or 'node'} ({n['ID'][:10]})"
        for n, h in zip(found, hosts, strict=True)
    }


def other_nodes(conn: Connection, found: list[dict]) -> int:
    """How many nodes besides this manager may be given tasks (ready and active)."""
    me = manager_info(conn).get("NodeID")
    return sum(
        n["ID"] != me
        and (n.get("Status") or {}).get("State") == "ready"
        and n["Spec"].get("Availability") == "active"
        for n in found
    )


class SwarmJob:
    """One job as one replicated-job service: start it, read its tasks, stop and remove it."""

    def __init__(self, conn: Connection, spec: JobSpec, image: Image, nodes: list[dict]) -> None:
        self.conn, self.api, self.spec, self.image = conn, conn.client.api, spec, image
        self.name = spec.name or f"dm-job-{_random()}"
        self.service_id: str | None = None
        self.config_id: str | None = None
        self.concurrency = min(spec.max_concurrent or spec.size, spec.size)
        self.limit = self.concurrency  # the latest iteration's MaxConcurrent
        self.iterations: dict[int, dict[int, int]] = {}  # iteration -> slot -> task index
        self.attempt: dict[int, dict] = {}  # task index -> its (first) Swarm task
        self.seen: dict[str, dict[str, float | None]] = {}  # task ID -> state -> when
        self._read_nodes(nodes)
        self.follower: Follower | None = None  # the tasks' output, live
        self.held: list[tuple[str, str, str]] = []  # (task ID, stream, line) of unknown tasks

    @property
    def service(self) -> str:
        """The service's ID, once :meth:`start` has created it."""
        if self.service_id is None:
            raise RuntimeError(f"the job {self.name} has not started")
        return self.service_id

    # -- starting ---------------------------------------------------------------------------

    def start(self) -> None:
        from docker import types

        spec, api = self.spec, self.api
        configs, entrypoint, args = None, None, spec.command
        if spec.script is not None:  # the cell, as a config the nodes get with the task
            cell = f"{self.name}-cell"
            labels = {LABEL: self.name}
            self.config_id = api.create_config(cell, spec.script.encode(), labels=labels)["ID"]
            configs = [types.ConfigReference(self.config_id, cell, SCRIPT_PATH, mode=0o555)]
            entrypoint, args = [*shell_words(spec.shell), SCRIPT_PATH], None
        container = types.ContainerSpec(
            self.image.reference, command=entrypoint, args=args, env=self._env(),
            labels={LABEL: self.name}, configs=configs,
            init=True,  # signals reach the task's program: a stop stops it at once
        )  # fmt: skip
        resources = None
        if spec.reserve_cpu is not None or spec.reserve_memory is not None:
            cpus = None if spec.reserve_cpu is None else int(spec.reserve_cpu * 1e9)
            resources = types.Resources(cpu_reservation=cpus, mem_reservation=spec.reserve_memory)
        platforms = self.image.platforms or None
        template = types.TaskTemplate(
            container, resources=resources,
            placement=types.Placement(spec.constraints or None, platforms=platforms),
            restart_policy=types.RestartPolicy("on-failure", delay=PARK, max_attempts=0),
        )  # fmt: skip
        labels = {LABEL: self.name, **self._values(), **self._slots(range(spec.size))}
        size = spec.size
        mode = types.ServiceMode("replicated-job", concurrency=self.concurrency, replicas=size)
        self.service_id = self._create(template, labels, mode)
        self.iterations[0] = dict(enumerate(range(spec.size)))

    def _env(self) -> list[str]:
        env = [f"{k}={v}" for k, v in self.spec.env.items()]
        env.append(f"TASK_COUNT={self.spec.size}")
        index = (
            f'{{{{$i := index .Service.Labels (print "{LABEL}.slot." .Task.Slot)}}}}'
            f'{{{{if not $i}}}}{{{{$i = index .Service.Labels "{LABEL}.slot.0"}}}}{{{{end}}}}'
        )
        env.append(f"TASK_INDEX={index}{{{{$i}}}}")
        for name in self.spec.swept:
            key = f'(print "{LABEL}.value." $i ".{name}")'
            env.append(f"{name}={index}{{{{index .Service.Labels {key}}}}}")
        return env

    def _values(self) -> dict[str, str]:
        return {
            f"{LABEL}.value.{i}.{name}": text(value)
            for i, combo in enumerate(self.spec.combos)
            for name, value in combo.items()
        }

    @staticmethod
    def _slots(indices) -> dict[str, str]:
        return {f"{LABEL}.slot.{slot}": str(index) for slot, index in enumerate(indices)}

    def _create(self, template, labels: dict, mode) -> str:
        """``POST /services/create`` as docker-py's ``create_service`` builds it, but with
        this session's registry credentials (docker-py only reads the Docker config)."""
        from docker.errors import APIError

        from docker_magics.registry.credentials import CREDENTIALS

        api = internals(self.api)
        data = {"Name": self.name, "Labels": labels, "TaskTemplate": template, "Mode": mode}
        headers = {}
        if self.image.auth:
            headers["X-Registry-Auth"] = CREDENTIALS.header(self.image.auth)
        try:
            response = api._post_json(api._url("/services/create"), data=data, headers=headers)
            return api._result(response, json=True)["ID"]
        except APIError as exc:
            message = " ".join(str(exc.explanation or exc).split())
            if exc.status_code == 409 or "name conflicts" in message:
                raise BadArgument(
                    f"A service named {self.name} already exists on the swarm",
                    f"Pick another --name, or remove it with `docker service rm {self.name}`",
                ) from None
            if "constraint" in message:
                raise BadArgument(f"The swarm refused a --constraint: {message}") from None
            raise EngineError(f"The swarm refused the job's service: {message}") from None

    # -- following --------------------------------------------------------------------------

    def _read_nodes(self, found: list[dict] | None = None) -> None:
        found = self.api.nodes() if found is None else found
        self.node_names: dict[str, str] = node_names(found)
        self.down: set[str] = {
            n["ID"] for n in found if (n.get("Status") or {}).get("State") == "down"
        }
        self.nodes_seen = time.monotonic()

    def poll(self) -> list[TaskChanged]:
        """Every task's state now (the first attempt of each: replacements are parked)."""
        if time.monotonic() - self.nodes_seen > NODES_EVERY:
            self._read_nodes()
        tasks = self.api.tasks(filters={"service": self.service})
        tasks.sort(key=lambda t: (_timestamp(t.get("CreatedAt")) or 0, t["ID"]))
        parked, started = 0, set()
        latest = max(self.iterations)
        for task in tasks:
            iteration = (task.get("JobIteration") or {}).get("Index", 0)
            index = self.iterations.get(iteration, {}).get(task.get("Slot", 0))
            if index is None:
                continue
            first = self.attempt.setdefault(index, task)
            if first["ID"] == task["ID"]:
                self.attempt[index] = task  # its latest state
                started.add(index)
            elif iteration == latest and _live(task):
                parked += 1
        waiting = [i for i in self.iterations[latest].values() if i not in started]
        if waiting and parked >= self.limit:
            self._next_iteration(waiting)
        return [self._changed(index, task) for index, task in self.attempt.items()]

    def _changed(self, index: int, task: dict) -> TaskChanged:
        status = task["Status"]
        state = status["State"]
        stamps = self.seen.setdefault(task["ID"], {})
        stamp = _timestamp(status.get("Timestamp"))
        stamps.setdefault(state, stamp)
        started = stamps.get("running") or stamps.get("starting") or stamps.get("ready")
        ended = STATES.get(state, "pending") not in ("pending", "starting", "running")
        if state == "rejected":
            started = None
        exit_code = (status.get("ContainerStatus") or {}).get("ExitCode") if ended else None
        node = task.get("NodeID")
        if node and node not in self.node_names:
            self._read_nodes()
        message = status.get("Err") or ("" if ended else status.get("Message", ""))
        ours = STATES.get(state, "pending")
        if not ended and node in self.down:  # Swarm would wait for it: the job does not
            ours, message = "lost", f"its node {self.node_names.get(node, node)} is down"
        return TaskChanged(
            index,
            ours,
            self.node_names.get(node) if node else None,
            exit_code if state in ("complete", "failed") else None,
            message,
            started,
            stamp if ended else None,
        )

    def _next_iteration(self, waiting: list[int]) -> None:
        """As many failed tasks are parked as may run at once: the waiting tasks go on in
        a new iteration of the service (nothing runs now, so nothing is cut short)."""
        iteration = self._respec(waiting)
        self.iterations[iteration] = dict(enumerate(waiting))

    def _respec(self, tasks: list[int]) -> int:
        """A new iteration of the job (Swarm reruns a job whose spec changes) that runs
        ``tasks``; its index. The previous iteration's tasks that still run are stopped."""
        api = self.api
        found = api.inspect_service(self.service)
        spec = found["Spec"]
        labels = {k: v for k, v in spec["Labels"].items() if not k.startswith(f"{LABEL}.slot.")}
        spec["Labels"] = {**labels, **self._slots(tasks)}
        self.limit = min(self.concurrency, len(tasks))
        total = len(tasks)
        spec["Mode"] = {"ReplicatedJob": {"MaxConcurrent": self.limit, "TotalCompletions": total}}
        raw = internals(api)
        url = raw._url("/services/{0}/update", self.service)
        params = {"version": found["Version"]["Index"]}
        raw._raise_for_status(raw._post_json(url, data=spec, params=params))
        iteration = api.inspect_service(self.service)["JobStatus"]["JobIteration"]
        return iteration.get("Index", 0)

    def output(self, index: int) -> list:
        """A finished task's own output (its node keeps it until the task is removed)."""
        task = self.attempt[index]
        if task["Status"]["State"] == "rejected" or task.get("NodeID") in self.down:
            return []  # it never ran, or its node (which has its output) is gone
        api = internals(self.api)
        response = api._get(
            api._url("/tasks/{0}/logs", task["ID"]), params={"stdout": 1, "stderr": 1}, stream=True
        )
        events: list = []
        try:
            api._raise_for_status(response)
            splitter = ev.OutputSplitter(keep_raw=True)
            for stream, data in frames(response):
                events += splitter.feed(stream, data)
            events += splitter.close()
        finally:
            response.close()
        return [TaskOutput(index, e.lines, e.stream, e.raw) for e in events]

    def follow(self) -> None:
        """Stream every task's output as it comes, for the live view (best effort: the
        result takes each task's output from ``output`` when it ends)."""
        api = internals(self.api)
        params = {"stdout": 1, "stderr": 1, "follow": 1, "details": 1}  # details: the task
        url = api._url("/services/{0}/logs", self.service)
        try:
            response = api._get(url, params=params, stream=True, timeout=None)
            api._raise_for_status(response)
            self.follower = Follower(api, response)
        except Exception:  # noqa: BLE001 - no live output then; the results have it all
            return

    def _stop_following(self) -> None:
        if self.follower is not None:
            self.follower.stop()
            self.follower = None

    def live_lines(self) -> list[ev.Log]:
        """The live lines that came since the last call, per task (the task's index as key)."""
        by_id = {task["ID"]: index for index, task in self.attempt.items()}
        out: list[ev.Log] = []
        came, self.held = self.held, []
        for stream, data in self.follower.drain() if self.follower else ():
            details, _, line = data.decode("utf-8", "replace").partition(" ")
            task_id = details.partition("com.docker.swarm.task.id=")[2].partition(",")[0]
            came.append((task_id, stream, line.rstrip("\n")))
        for task_id, stream, line in came:
            index = by_id.get(task_id)
            if index is None:  # a task not polled yet: its lines wait for the next call
                self.held = [*self.held, (task_id, stream, line)][-HELD:]
                continue
            if out and out[-1].key == str(index) and out[-1].stream == stream:
                out[-1].lines.append(line)
            else:
                out.append(ev.Log([line], str(index), stream))
        return out

    # -- ending -----------------------------------------------------------------------------

    def stop(self, wait: float = 15.0) -> None:
        """Stop whatever still runs or waits (parked replacements too), then remove the
        service and the cell's config."""
        self._stop_following()
        # Stopped first: on older engines a removed job's tasks would run on. If this fails
        # (the manager went away), the service stays, to be stopped later (orphan()).
        if self.service_id is not None:
            tasks = self.api.tasks(filters={"service": self.service_id})
            if any(_live(t) for t in tasks):
                self._respec([])
                self._wait_stopped(wait)
        remove(self.api, self.service_id, self.config_id)

    def _wait_stopped(self, wait: float) -> None:
        deadline = time.monotonic() + wait
        try:
            while time.monotonic() < deadline:
                tasks = self.api.tasks(filters={"service": self.service_id})
                if not any(_live(t) and t.get("NodeID") not in self.down for t in tasks):
                    return  # (a node that is down stops its tasks when it is back)
                time.sleep(0.2)
        except KeyboardInterrupt:  # a second Ctrl-C: remove the service without waiting
            return

    def orphan(self) -> None:
        """The manager went away: remove the service when it answers again."""
        self._stop_following()
        if self.service_id is not None or self.config_id is not None:
            ORPHANS.setdefault(self.conn.endpoint.url, []).append(self)


def remove(api, service_id: str | None, config_id: str | None) -> None:
    from docker.errors import NotFound

    try:
        if service_id is not None:
            api.remove_service(service_id)
    except NotFound:
        pass
    if config_id is not None:
        try:
            api.remove_config(config_id)
        except NotFound:
            pass


def _reap_orphans(conn: Connection) -> None:
    """Stop and remove the services of jobs cut off when this manager went away."""
    from docker.errors import NotFound

    left = ORPHANS.get(conn.endpoint.url, [])
    for job in list(left):
        job.api = conn.client.api  # this connection's (the old one may be closed)
        try:
            job.stop(wait=5)
        except NotFound:
            pass  # removed by someone else
        except Exception:  # noqa: BLE001 - still unreachable: next time
            continue
        left.remove(job)


def _live(task: dict) -> bool:
    return task["Status"]["State"] in LIVE


_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


def _timestamp(value: str | None) -> float | None:
    """Swarm's RFC 3339 times (nanoseconds, ``Z``) as seconds since the epoch."""
    found = _TIME.match(value or "")
    if not found or found.group(1).startswith("0001-"):  # Go's zero time: not set
        return None
    whole, fraction, zone = found.groups()
    zone = "+00:00" if zone == "Z" else zone
    seconds = datetime.fromisoformat(whole + zone).timestamp()
    return seconds + (float("0." + fraction) if fraction else 0.0)


def _random() -> str:
    import secrets

    return secrets.token_hex(3)


def _connect() -> str:
    return how("%docker_connect URL", "docker_magics.connect(URL)")
