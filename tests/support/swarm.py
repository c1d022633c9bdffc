"""A Docker Swarm of private engines on loopback (see ../shared/ENVIRONMENT.md, "A Docker Swarm
of three engines on one machine"): one manager and workers, each a private dockerd with its
own socket and its own swarm port on 127.0.0.1. ``cleanup()`` makes every engine leave the
swarm before its folders go (a swarm member's state would otherwise outlive it)."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from pathlib import Path

from tests.support.engines import Dockerd
from tests.support.processes import free_port

JOB_LABEL = "org.docker-magics.job"  # on every container of a job's tasks


class Swarm:
    """``size`` engines in one swarm: ``engines[0]`` is the manager, the others workers.
    ``manager``: a running engine to make the manager (it is left running at the end).
    ``version``: the engines' Docker version (default: the one the tests run on)."""

    def __init__(
        self,
        root: Path | None = None,
        size: int = 3,
        version: str | None = None,
        manager: Dockerd | None = None,
    ) -> None:
        self.root = root or Path("/tmp") / f"dm-swarm-{uuid.uuid4().hex[:6]}"
        self.engines = [Dockerd(self.root / f"n{i}", version=version) for i in range(size)]
        self.owned = list(self.engines)  # what cleanup() stops and removes
        if manager is not None:
            self.engines[0] = manager
            self.owned = self.engines[1:]
        self.ports = [free_port() for _ in range(size)]
        self.node_ids: list[str] = []

    @property
    def manager(self) -> Dockerd:
        return self.engines[0]

    @property
    def workers(self) -> list[Dockerd]:
        return self.engines[1:]

    @property
    def url(self) -> str:
        return self.manager.url

    def start(self, timeout: float = 90) -> Swarm:
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            for engine in self.owned:
                engine.start()
            address = f"127.0.0.1:{self.ports[0]}"
            self.docker(0, "swarm", "init", "--advertise-addr", address, "--listen-addr", address)
            token = self.docker(0, "swarm", "join-token", "-q", "worker").strip()
            for i in range(1, len(self.engines)):
                own = f"127.0.0.1:{self.ports[i]}"
                self.docker(
                    i, "swarm", "join", "--token", token,
                    "--listen-addr", own, "--advertise-addr", own, address,
                )  # fmt: skip
            self._wait_ready(timeout)
        except BaseException:
            self.cleanup()
            raise
        return self

    def docker(self, index: int, *args: str, check: bool = True) -> str:
        """The docker CLI against engine ``index``; its stdout."""
        done = subprocess.run(
            ["docker", "--host", self.engines[index].url, *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            lines = self.docker(0, "node", "ls", "--format", "{{.ID}} {{.Status}}").split()
            ids, states = lines[0::2], lines[1::2]
            if len(ids) == len(self.engines) and all(s == "Ready" for s in states):
                self.node_ids = ids
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"swarm nodes not ready after {timeout}s: {lines}")
            time.sleep(0.3)

    def services(self) -> list[str]:
        return self.docker(0, "service", "ls", "-q").split()

    def running(self, label: str = JOB_LABEL) -> list[str]:
        """The names of the containers with ``label`` running on any node."""
        found = []
        for i, engine in enumerate(self.engines):
            if engine.proc is not None:
                found += self.docker(
                    i, "ps", "--filter", f"label={label}", "--format", "{{.Names}}"
                ).split()
        return found

    def starts(self, job: str, since: float) -> list[tuple[int, str]]:
        """(node, container name) of each container of the job ``job`` that started since
        ``since`` (a time.time()), from each engine's own event log: what really ran,
        whatever the swarm keeps or removes afterwards."""
        import docker

        found = []
        for i, engine in enumerate(self.engines):
            api = docker.APIClient(base_url=engine.url, version="auto")
            try:
                events = api.events(
                    since=int(since),
                    until=int(time.time()) + 1,
                    filters={"type": "container", "event": "start", "label": f"{JOB_LABEL}={job}"},
                    decode=True,
                )
                found += [(i, e["Actor"]["Attributes"]["name"]) for e in events]
            finally:
                api.close()
        return found

    def cleanup(self) -> None:
        """Leave the swarm (workers first), then stop and remove every engine."""
        for i in reversed(range(len(self.engines))):
            if self.engines[i].proc is not None:
                self.docker(i, "swarm", "leave", "--force", check=False)
        for engine in self.owned:
            engine.cleanup()
        shutil.rmtree(self.root, ignore_errors=True)
