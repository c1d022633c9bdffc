"""%docker_job and %docker_nodes on a real swarm of three private engines (tests/support/
swarm.py), the image coming from a loopback registry every node reaches: tasks spread over
the nodes with their own values, each runs exactly once (failures included), failures and
refusals are one line, and nothing is left running."""

from __future__ import annotations

import re
import time

import pytest

pytestmark = pytest.mark.engine


@pytest.fixture
def on_swarm(run, swarm):
    """The IPython shell, connected to the swarm's manager; afterwards no service and no
    running task may be left."""
    assert run(f"%docker_connect {swarm.url}").error is None
    yield run
    assert swarm.services() == [], "a job's service was left behind"
    assert swarm.running() == [], "a job's task was left running"


def node_id(label: str) -> str:
    """``vm (zo7vxt0jf8)`` (several nodes share the hostname here) -> the ID's start."""
    found = re.search(r"\((\w+)\)$", label)
    assert found, label
    return found.group(1)


def test_nodes_shows_the_three_engines(on_swarm, swarm):
    cell = on_swarm("%docker_nodes")
    table = cell.value
    assert table.columns[:3] == ["id", "hostname", "role"]
    assert sorted(row[0].rstrip(" *") for row in table.rows) == sorted(swarm.node_ids)
    roles = sorted(row[2] for row in table.rows)
    assert roles == ["manager", "worker", "worker"]
    manager = next(row for row in table.rows if row[2] == "manager")
    assert manager[0].endswith(" *") and manager[5] == "Leader"  # this engine, the leader
    assert all(row[3] == "ready" and row[4] == "active" for row in table.rows)
    assert "<table" in table._repr_html_()


def test_nodes_of_an_engine_outside_a_swarm_is_one_line(run, engine):
    run(f"%docker_connect {engine.url}")
    line = run("%docker_nodes").usage_error
    assert line == (
        f"The engine at {engine.url} is not in a swarm (inactive). Connect to a swarm "
        "manager with %docker_connect URL, or make this engine one with `docker swarm init` "
        "(a one-node swarm runs jobs too)."
    )


def test_a_worker_says_it_is_not_the_manager(run, swarm, swarm_image):
    run(f"%docker_connect {swarm.workers[0].url}")
    for cell in ("%docker_nodes", f"%docker_job {swarm_image} true"):
        line = run(cell).usage_error
        assert line.startswith(
            f"The engine at {swarm.workers[0].url} is a swarm worker, not a manager"
        ), line


def test_a_sweep_runs_one_task_per_combination_across_the_nodes(on_swarm, swarm, swarm_image):
    since = time.time()
    cell = on_swarm(
        f"%docker_job --each X=1,2,3 --each Y=a,b {swarm_image} "
        "sh -c 'echo $X-$Y task $TASK_INDEX of $TASK_COUNT; sleep 1'"
    )
    assert cell.error is None, cell.err
    job = cell.value
    assert [t.params for t in job.tasks] == [
        {"X": x, "Y": y} for x in ("1", "2", "3") for y in ("a", "b")
    ]
    expected = [f"{x}-{y} task {i} of 6\n" for i, (x, y) in enumerate(
        (x, y) for x in "123" for y in "ab"
    )]  # fmt: skip
    assert job.outputs == expected
    assert [t.state for t in job.tasks] == ["complete"] * 6
    assert [t.exit_code for t in job.tasks] == [0] * 6
    assert all(0.9 < t.duration < 30 for t in job.tasks)
    used = {node_id(t.node) for t in job.tasks}
    assert len(used) > 1, used  # spread over several nodes
    assert all(any(n.startswith(u) for n in swarm.node_ids) for u in used)
    # Each task ran once, and where the result says it did.
    starts = swarm.starts(job.name, since)
    assert len(starts) == 6, starts
    assert len({i for i, _ in starts}) == len(used)
    # What the user saw: a line per task start and end, its output with its values.
    assert "X=2, Y=b: running on vm (" in cell.out
    for i, line in enumerate(expected):  # each once: live, or whole when its task ended
        x, y = "123"[i // 2], "ab"[i % 2]
        assert cell.out.count(f"[X={x}, Y={y}] {line}") == 1, cell.out
    assert re.search(r"X=1, Y=a: complete in \d+\.\ds on vm \(", cell.out)
    assert repr(job).startswith(f"Job {job.name}: 6 tasks on {len(used)} nodes in ")
    assert repr(job).endswith(": 6 complete")
    assert job.failed == [] and job.records()[5]["Y"] == "b"


def test_values_from_python_keep_their_type(on_swarm, swarm_image):
    on_swarm("sizes = [1, 2, 4]\nnames = ('a b', \"it's\")")
    cell = on_swarm(
        f"%docker_job --each N={{sizes}} --each NAME={{names}} -q {swarm_image} "
        "sh -c 'echo $((N * N)) \"$NAME\"'"
    )
    assert cell.error is None, cell.err
    job = cell.value
    assert [t.params["N"] for t in job.tasks] == [1, 1, 2, 2, 4, 4]
    assert job.outputs == [f"{n * n} {s}\n" for n in (1, 2, 4) for s in ("a b", "it's")]
    assert cell.out.splitlines() == [f"Out[{cell.out[4:].split(']')[0]}]: {job!r}"]  # -q


def test_replicas_and_the_python_api(on_swarm, swarm_image):
    import docker_magics as dm

    job = dm.job(swarm_image, ["sh", "-c", "echo $TASK_INDEX/$TASK_COUNT $GREETING"],
                 replicas=4, env={"GREETING": "hi"}, progress="none")  # fmt: skip
    assert job.outputs == [f"{i}/4 hi\n" for i in range(4)]
    assert [t.params for t in job.tasks] == [{}] * 4
    assert dm.last_job() is job
    combos = dm.job(swarm_image, "sh -c 'echo $A$B'", each=[{"A": 1, "B": "x"}, {"A": 2}],
                    progress="none")  # fmt: skip
    assert combos.outputs == ["1x\n", "2\n"]


def test_a_cell_is_a_script_run_by_its_shell(on_swarm, swarm_image):
    cell = on_swarm(
        f"%%docker_job {swarm_image} --each X=1,2 --shell sh -q\n"
        'echo "cell $X"\nfor i in 1 2; do echo "line $i"; done\n'
    )
    assert cell.error is None, cell.err
    assert cell.value.outputs == [f"cell {x}\nline 1\nline 2\n" for x in (1, 2)]


def test_failures_are_one_line_and_each_task_runs_once(on_swarm, swarm, swarm_image):
    since = time.time()
    line = on_swarm(
        f"%docker_job --each X=1,2,3,4 {swarm_image} "
        "sh -c 'echo out $X; sleep 0.2; if [ $X = 2 ] || [ $X = 4 ]; then echo bad $X >&2; "
        "exit 7; fi'"
    ).usage_error
    pattern = (
        r"2 of 4 tasks failed: X=2 exited 7 on node vm \(\w+\): bad 2; "
        r"X=4 exited 7 on node vm \(\w+\): bad 4 \(docker_magics\.last_job\(\) has every result\)\."
    )
    assert re.fullmatch(pattern, line), line
    job = on_swarm("import docker_magics; job = docker_magics.last_job(); job").value
    assert [t.index for t in job.failed] == [1, 3]
    assert [t.state for t in job.tasks] == ["complete", "failed", "complete", "failed"]
    assert job.tasks[1].output == "out 2\nbad 2\n" and job.tasks[1].stderr == "bad 2\n"
    # Swarm reruns a failed job task until it succeeds: not here.
    assert len(swarm.starts(job.name, since)) == 4


def test_max_concurrent_is_kept_and_failures_do_not_stall_it(on_swarm, swarm, swarm_image):
    """Two at a time, and as many failures as that early on: Swarm keeps a failed task's
    place, so the job goes on in a new iteration; every task still runs exactly once."""
    since = time.time()
    cell = on_swarm(
        f"%docker_job --each X=1,3,2,4,6,8 --max-concurrent 2 -q {swarm_image} "
        "sh -c 'sleep 1; exit $((X % 2))'"
    )
    assert cell.usage_error.startswith("2 of 6 tasks failed: X=1 exited 1 on node"), cell.err
    job = on_swarm("import docker_magics; docker_magics.last_job()").value
    assert [t.state for t in job.tasks] == ["failed"] * 2 + ["complete"] * 4
    assert len(swarm.starts(job.name, since)) == 6
    spans = [(t.started, t.finished) for t in job.tasks]
    most = max(sum(s <= at < f for s, f in spans) for at, _ in spans)
    assert most <= 2, spans


def test_an_image_only_this_engine_has_is_refused_before_anything_starts(
    on_swarm, swarm, swarm_image
):
    import docker

    api = docker.APIClient(base_url=swarm.url, version="auto")
    api.tag(swarm_image, "dm-test/only-here", "1")
    since = time.time()
    line = on_swarm("%docker_job --replicas 3 dm-test/only-here:1 true").usage_error
    assert line.startswith(
        "The image dm-test/only-here:1 is only on this engine, not in a registry: the 2 other "
        "nodes could not pull it ("
    ), line
    assert "%docker_push REGISTRY/NAME" in line and "--no-resolve-image" in line
    assert swarm.starts("", since) == [] and api.services() == []


def test_an_image_missing_from_its_registry_is_one_line(on_swarm, registry):
    line = on_swarm(f"%docker_job {registry.host}/dm-test/nothing:1 true").usage_error
    assert line == (
        f"Cannot run the job: {registry.host}/dm-test/nothing:1 is not in the registry "
        f"{registry.host}: no such repository or tag. Check the name and the tag. The nodes "
        "pull the image from its registry."
    )


def test_the_image_is_pinned_to_its_digest(on_swarm, swarm_image):
    job = on_swarm(f"%docker_job -q {swarm_image} true").value
    assert re.fullmatch(re.escape(swarm_image) + r"@sha256:[0-9a-f]{64}", job.image)


def test_timeout_stops_the_job_and_keeps_what_the_tasks_wrote(on_swarm, swarm_image):
    start = time.monotonic()
    line = on_swarm(
        f"%docker_job --replicas 3 --timeout 4 -q {swarm_image} sh -c 'echo started; sleep 300'"
    ).usage_error
    assert re.fullmatch(r"The job dm-job-\w+ did not finish within 4s: 0 of 3 tasks ended\.", line)
    assert time.monotonic() - start < 30
    job = on_swarm("import docker_magics; docker_magics.last_job()").value
    assert [t.state for t in job.tasks] == ["stopped"] * 3
    assert job.outputs == ["started\n"] * 3


def test_a_constraint_no_node_meets_is_one_line(on_swarm, swarm_image):
    start = time.monotonic()
    line = on_swarm(
        f"%docker_job --replicas 2 --constraint node.labels.gpu==true -q {swarm_image} true"
    ).usage_error
    assert re.match(
        r"The job dm-job-\w+ cannot place its tasks: Swarm says no suitable node \(scheduling "
        r"constraints? not satisfied on 3 nodes\): 0 of 2 tasks ended\. Check --constraint",
        line,
    ), line
    assert time.monotonic() - start < 30


@pytest.mark.parametrize(
    "options, expected",
    [
        ("--each X=1,2 --replicas 2", "--replicas and --each do not go together"),
        ("--each 1X=1,2", "--each: '1X' cannot name an environment variable"),
        ("--each X=1 --each X=2", "--each X is given twice"),
        ("--each TASK_INDEX=1", "--each: TASK_INDEX is set by the job itself"),
        ("--each X=1 -e X=2", "X is both a --each parameter and an -e variable"),
        ("--constraint gpu", "Invalid --constraint 'gpu'"),
        ("--name 'no spaces'", "Invalid job name 'no spaces'"),
        ("--max-concurrent 0", "max_concurrent must be between"),
        ("--reserve-memory lots", "Invalid --reserve-memory 'lots'"),
        ("--each 'X=[1, [2]]'", "A value of X is list"),
    ],
)
def test_bad_options_are_one_line_before_anything_starts(on_swarm, swarm_image, options, expected):
    line = on_swarm(f"%docker_job {options} {swarm_image} true").usage_error
    assert line.startswith(expected), line


@pytest.fixture
def small_swarm():
    """A manager and one worker that a test may kill."""
    from tests.support.swarm import Swarm

    cluster = Swarm(size=2).start()
    try:
        yield cluster
    finally:
        cluster.cleanup()


def test_manager_lost_mid_job_is_one_line_and_its_service_goes_when_it_is_back(
    run, small_swarm, swarm_image
):
    import threading

    manager, worker = small_swarm.manager, small_swarm.workers[0]
    run(f"%docker_connect {small_swarm.url}")

    def kill_when_running():
        deadline = time.monotonic() + 60
        while not small_swarm.running() and time.monotonic() < deadline:
            time.sleep(0.2)
        manager.kill()

    killer = threading.Thread(target=kill_when_running)
    killer.start()
    start = time.monotonic()
    line = run(f"%docker_job --replicas 4 -q {swarm_image} sleep 300").usage_error
    killer.join()
    assert time.monotonic() - start < 90
    assert re.fullmatch(
        # (killed between two requests, or during one)
        rf"Lost the swarm manager during the job (dm-job-\w+): (no Docker engine answers at "
        rf"{re.escape(small_swarm.url)}: the socket exists but nothing listens on it|the "
        rf"connection to the engine at {re.escape(small_swarm.url)} was lost)\. Its "
        r"tasks may still run on the other nodes; the service is removed when the manager "
        r"answers again \(at the next %docker_job or %docker_nodes\)\.",
        line,
    ), line
    name = re.search(r"job (dm-job-\w+):", line).group(1)
    job = run("import docker_magics; docker_magics.last_job()").value
    assert job.name == name and len(job.tasks) == 4
    # The manager comes back: the next magic removes the job's service and stops its tasks.
    manager.start()
    deadline = time.monotonic() + 60
    while run("%docker_nodes").error is not None and time.monotonic() < deadline:
        time.sleep(1)
    assert small_swarm.services() == []
    deadline = time.monotonic() + 30
    while small_swarm.running() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert small_swarm.running() == []
    assert worker.proc is not None


def test_a_worker_lost_mid_job_ends_its_tasks_in_one_line(run, small_swarm, swarm_image):
    """Swarm would wait for a node that went away: the job counts its tasks as lost once
    the manager sees the node down, and ends when the others have."""
    import threading

    worker = small_swarm.workers[0]
    run(f"%docker_connect {small_swarm.url}")

    def kill_when_running():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            names = small_swarm.docker(1, "ps", "--format", "{{.Names}}", check=False).split()
            if names:
                break
            time.sleep(0.2)
        worker.kill()

    killer = threading.Thread(target=kill_when_running)
    killer.start()
    start = time.monotonic()
    cell = run(f"%docker_job --replicas 4 -q {swarm_image} sh -c 'echo up; sleep 25'")
    killer.join()
    assert time.monotonic() - start < 120
    line = cell.usage_error
    assert re.fullmatch(
        r"2 of 4 tasks did not complete: task \d was lost: its node vm \(\w+\) is down; task \d "
        r"was lost: its node vm \(\w+\) is down \(docker_magics\.last_job\(\) has every "
        r"result\)\.",
        line,
    ), line
    job = run("import docker_magics; docker_magics.last_job()").value
    assert sorted(t.state for t in job.tasks) == ["complete", "complete", "lost", "lost"]
    assert small_swarm.services() == []


def test_nodes_pull_from_a_private_registry_with_the_session_login(
    on_swarm, swarm, swarm_image, auth_registry, monkeypatch
):
    import docker

    from tests.support import REGISTRY_USER

    password = auth_registry.users[REGISTRY_USER]
    private = f"{auth_registry.host}/dm-test/private-bb"
    api = docker.APIClient(base_url=swarm.url, version="auto")
    api.tag(swarm_image, private, "1")
    auth = {"username": REGISTRY_USER, "password": password}
    for message in api.push(private, "1", stream=True, decode=True, auth_config=auth):
        assert "error" not in message, message
    api.remove_image(f"{private}:1")  # in the registry only: every node must pull it
    line = on_swarm(f"%docker_job --replicas 3 {private}:1 echo hi").usage_error
    assert line.startswith(f"Cannot run the job: the registry {auth_registry.host} requires a ")
    assert "%docker_login" in line
    monkeypatch.setenv("DM_PW", password)
    on_swarm(f"%docker_login {auth_registry.host} -u {REGISTRY_USER} --password-env DM_PW")
    try:
        cell = on_swarm(f"%docker_job --replicas 3 {private}:1 echo hi")
    finally:  # the session's logins outlive the shell: other tests expect none
        on_swarm(f"%docker_logout {auth_registry.host}")
    assert cell.error is None, cell.err
    assert cell.value.outputs == ["hi\n"] * 3
    assert len({t.node for t in cell.value.tasks}) > 1  # workers pulled it too, logged in
    assert password not in cell.out + cell.err
