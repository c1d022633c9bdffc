"""%docker_run, %%docker_run and the inspection magics against the real engine."""

from __future__ import annotations

import os
import re
import socket
import time

import pytest

import docker_magics
from docker_magics.errors import EngineError

pytestmark = pytest.mark.engine


@pytest.fixture
def dm(run, engine, busybox, monkeypatch, no_leftovers):
    """Connected; afterwards no container of ours may be left."""
    monkeypatch.setenv("DOCKER_HOST", engine.url)
    assert run(f"%docker_connect {engine.url}").error is None
    return run


def test_foreground_run_streams_and_cleans_up(dm, busybox):
    cell = dm(f"%docker_run {busybox} sh -c 'echo to out; echo to err >&2; echo more out'")
    assert cell.error is None, cell.err
    assert cell.out.startswith("to out\nmore out\n")
    assert cell.err == "to err\n"  # stderr goes to stderr, where notebooks mark it
    result = cell.value
    assert isinstance(result, docker_magics.RunResult)
    assert result.exit_code == 0 and result.container_id is None
    assert result.stdout == "to out\nmore out\n" and result.stderr == "to err\n"
    assert result.output.count == 3
    assert repr(result).startswith("Exited with code 0 in ")


def test_non_zero_exit_is_one_line_with_the_last_output(dm, busybox):
    cell = dm(f"%docker_run {busybox} sh -c 'echo first; echo second; echo third; exit 3'")
    assert cell.usage_error == (
        f"The command in {busybox} exited with code 3; its last output: first | second | third"
    )
    silent = dm(f"%docker_run {busybox} sh -c 'exit 4'")
    assert silent.usage_error == f"The command in {busybox} exited with code 4 without output."


def test_options_reach_the_container(dm, busybox, tmp_path, monkeypatch):
    (tmp_path / "vars.env").write_text("# a comment\nFROM_FILE=file value\n\nBARE_FROM_ENV\n")
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared").chmod(0o777)  # user 1234 writes there
    (tmp_path / "shared" / "in.txt").write_text("from the host\n")
    monkeypatch.setenv("BARE_FROM_ENV", "kernel value")
    monkeypatch.setenv("FROM_KERNEL", "passed through")
    script = (
        "echo $FROM_FILE/$BARE_FROM_ENV/$FROM_KERNEL/$EXPLICIT; pwd; id -u; "
        "cat /mnt/in.txt; echo written > /mnt/out.txt; ip -o link | wc -l"
    )
    cell = dm(
        f"%docker_run --env-file {tmp_path}/vars.env -e FROM_KERNEL -e 'EXPLICIT=a b' "
        f"-w /tmp -u 1234 -v {tmp_path}/shared:/mnt --network none {busybox} sh -c '{script}'"
    )
    assert cell.error is None, cell.err
    assert cell.value.stdout.splitlines() == [
        "file value/kernel value/passed through/a b",
        "/tmp",
        "1234",
        "from the host",
        "1",
    ]
    assert (tmp_path / "shared" / "out.txt").read_text() == "written\n"


def test_entrypoint_and_kept_container(dm, busybox, engine_api):
    cell = dm(f"%docker_run --rm=false --entrypoint echo --name dm-kept {busybox} via entrypoint")
    assert cell.error is None, cell.err
    assert cell.value.stdout == "via entrypoint\n"
    assert cell.value.container_id and engine_api.inspect_container("dm-kept")
    removed = dm("%docker_rm dm-kept").value
    assert repr(removed) == "Removed dm-kept"
    assert removed.objects == [cell.value.container_id]


def test_added_files_belong_to_the_user_of_the_run(dm, busybox, tmp_path, engine_api):
    """-u (or the image's USER) owns what --add and the cell bring in, so the script can
    change it; names come from the image's own /etc/passwd and /etc/group."""
    (tmp_path / "in.txt").write_text("one\n")
    (tmp_path / "out").mkdir()
    script = "echo two >> in.txt; echo new > out/made.txt; stat -c '%u:%g' in.txt out out/made.txt"
    cell = dm(
        f"%%docker_run -u 1234 -w /w {busybox} --add {tmp_path}/in.txt --add {tmp_path}/out:out\n"
        + script
    )
    assert cell.error is None, cell.err
    assert cell.value.stdout == "1234:0\n1234:0\n1234:0\n"
    built = dm(
        f"%%docker_build -t dm-test/with-user:1 --progress none\nFROM {busybox}\n"
        'RUN echo "alice:x:4321:4400::/home/alice:/bin/sh" >> /etc/passwd && '
        'echo "team:x:4500:" >> /etc/group\nUSER alice\n'
    )
    assert built.error is None, built.err
    try:
        by_image = dm(
            f"%%docker_run -w /w dm-test/with-user:1 --add {tmp_path}/in.txt\n"
            "echo x >> in.txt; stat -c '%u:%g' in.txt"
        )
        assert by_image.error is None, by_image.err
        assert by_image.value.stdout == "4321:4400\n"
        by_name = dm(
            f"%%docker_run -u alice:team -w /w dm-test/with-user:1 --add {tmp_path}/in.txt\n"
            "echo x >> in.txt; stat -c '%u:%g' in.txt"
        )
        assert by_name.error is None, by_name.err
        assert by_name.value.stdout == "4321:4500\n"
    finally:
        engine_api.remove_image("dm-test/with-user:1")


def test_help_after_the_image_of_the_cell_magic(dm, busybox):
    cell = dm(f"%%docker_run {busybox} --help\necho never\n")
    assert cell.error is None and cell.value is None, cell.err
    assert "--shell COMMAND" in cell.out and "Traceback" not in cell.out + cell.err


def test_rm_is_a_flag_like_the_cli(dm, busybox, engine_api):
    """``--rm IMAGE`` keeps the image; ``--rm=BOOL`` sets it; the command's own words are
    the command's."""
    cell = dm(f"%docker_run --rm {busybox} echo --rm=false")
    assert cell.error is None, cell.err
    assert cell.value.stdout == "--rm=false\n" and cell.value.container_id is None
    cell = dm(f"%%docker_run --rm {busybox}\necho from the cell")
    assert cell.error is None, cell.err
    assert cell.value.stdout == "from the cell\n"
    cell = dm(f"%docker_run --rm=false --name dm-kept2 {busybox} true")
    assert cell.value.container_id and engine_api.inspect_container("dm-kept2")
    dm("%docker_rm dm-kept2")
    assert dm(f"%docker_run --rm=maybe {busybox} true").usage_error == (
        "%docker_run: argument --rm: invalid boolean value: 'maybe'. See %docker_run? for "
        "the options."
    )


def test_cell_script_with_files_in_and_out(dm, busybox, tmp_path):
    (tmp_path / "data.csv").write_text("x,y\n1,2\n3,4\n")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "helper.sh").write_text("double() { echo $(( $1 * 2 )); }\n")
    out_dir = tmp_path / "results"
    cell = dm(
        f"%%docker_run {busybox} -w /work --add {tmp_path}/data.csv --add {tmp_path}/lib:tools "
        f"--get /work/summary.txt:{tmp_path}/summary.txt --get out:{out_dir}\n"
        ". tools/helper.sh\n"
        "rows=$(tail -n +2 data.csv | wc -l)\n"
        'echo "rows=$rows doubled=$(double $rows)" | tee summary.txt\n'
        "mkdir -p out && echo a > out/a.txt && echo b > out/b.txt\n"
    )
    assert cell.error is None, cell.err
    assert cell.out.startswith("rows=2 doubled=4\n")
    assert (tmp_path / "summary.txt").read_text() == "rows=2 doubled=4\n"
    assert sorted(p.name for p in out_dir.iterdir()) == ["a.txt", "b.txt"]
    result = cell.value
    assert result.files == [str(tmp_path / "summary.txt"), str(out_dir)]
    assert f"a sh cell in {busybox}" in repr(result)


def test_get_merges_like_docker_cp_and_deletes_nothing(dm, busybox, tmp_path, monkeypatch):
    """``--get`` into an existing folder merges into it (files of the same name replaced),
    never deletes what is there: ``--get out:.`` must not wipe the notebook's folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "analysis.ipynb").write_text("{}")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("kept")
    (tmp_path / "out" / "a.txt").write_text("stale")
    script = "mkdir -p out/sub && echo a > out/a.txt && echo s > out/sub/s.txt && echo r > r.txt\n"
    cell = dm(f"%%docker_run {busybox} -w /w --get out:. --get r.txt --get out/.:copy\n{script}")
    assert cell.error is None, cell.err
    assert (tmp_path / "analysis.ipynb").read_text() == "{}"
    assert (tmp_path / "out" / "old.txt").read_text() == "kept"
    assert (tmp_path / "out" / "a.txt").read_text() == "a\n"
    assert (tmp_path / "out" / "sub" / "s.txt").read_text() == "s\n"
    assert (tmp_path / "r.txt").read_text() == "r\n"
    assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == ["a.txt", "sub"]
    assert cell.value.files == [
        str(tmp_path / "out"),
        str(tmp_path / "r.txt"),
        str(tmp_path / "copy"),
    ]
    (tmp_path / "clash").mkdir()
    (tmp_path / "clash" / "r.txt").write_text("mine")
    clash = dm(f"%%docker_run {busybox} -w /w --get r.txt:clash/r.txt\nmkdir r.txt\n")
    assert clash.usage_error == (
        f"--get: {tmp_path}/clash/r.txt is a file and the container's path is a folder. "
        "Give a folder (or a new name) as the destination."
    )
    assert (tmp_path / "clash" / "r.txt").read_text() == "mine"
    # Links are copied as links (a venv's bin/python -> /usr/bin/python3), and DEST/ is a
    # folder to create, as its slash says.
    linked = dm(
        f"%%docker_run {busybox} -w /w --get env:envs/ --get r.txt:reports/\n"
        "mkdir -p env/bin && ln -s /bin/busybox env/bin/python && echo r > r.txt\n"
    )
    assert linked.error is None, linked.err
    assert os.readlink(tmp_path / "envs" / "env" / "bin" / "python") == "/bin/busybox"
    assert (tmp_path / "reports" / "r.txt").read_text() == "r\n"
    assert not list(tmp_path.rglob(".docker-magics-get*"))  # no workspace left anywhere


def test_cell_options_after_the_image_when_a_value_equals_it(dm, busybox):
    # The image is found by position, not by value: -e's value here is the same word.
    cell = dm(f"%%docker_run -e {busybox} -u 0 {busybox} -w /tmp\npwd\n")
    assert cell.error is None, cell.err
    assert cell.out.startswith("/tmp\n")


def test_cell_script_failure_and_missing_result(dm, busybox, tmp_path):
    msg = dm(f"%%docker_run {busybox} --shell 'sh -e'\necho step one\nfalse\necho never\n")
    assert msg.usage_error == (
        f"The script in {busybox} exited with code 1; its last output: step one"
    )
    missing = dm(f"%%docker_run {busybox} --get /nothing/here.txt:{tmp_path}/x\ntrue\n")
    assert missing.usage_error == (
        "--get /nothing/here.txt: the container has no /nothing/here.txt. Check the path the "
        "script writes to."
    )


def test_logs_of_tty_and_unreadable_containers(dm, busybox, engine, engine_api):
    """A TTY container's log is one raw stream (no frame headers to strip); a logging driver
    that cannot be read back gives one line."""
    tty = engine_api.create_container(
        busybox, ["sh", "-c", "echo hello world from a tty; echo second line"], tty=True
    )
    silent = engine_api.create_container(
        busybox,
        ["true"],
        host_config=engine_api.create_host_config(log_config={"Type": "none"}),
    )
    try:
        engine_api.start(tty)
        engine_api.wait(tty, timeout=30)
        cell = dm(f"%docker_logs {tty['Id'][:12]}")
        assert cell.error is None, cell.err
        assert cell.out.split("Out[")[0] == "hello world from a tty\nsecond line\n"  # no \r
        assert cell.value.text() == "hello world from a tty\nsecond line\n"
        followed = dm(f"%docker_logs -f {tty['Id'][:12]}")
        assert followed.value.text() == "hello world from a tty\nsecond line\n"
        assert dm(f"%docker_logs {silent['Id'][:12]}").usage_error == (
            f"The engine at {engine.url} answered: configured logging driver does not support "
            "reading."
        )
    finally:
        for c in (tty, silent):
            engine_api.remove_container(c, force=True)


def test_detached_run_ps_logs_stop_rm(dm, busybox, engine_api):
    cell = dm(f"%docker_run -d --name dm-bg {busybox} sh -c 'echo hello from bg; sleep 60'")
    assert cell.error is None, cell.err
    result = cell.value
    assert result.exit_code is None and result.container_id
    assert repr(result).startswith(f"Started {result.container_id[:12]} (dm-bg)")
    table = dm("%docker_ps").value
    assert table.columns == [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ]
    row = next(r for r in table.rows if r[-1] == "dm-bg")
    assert row[1] == busybox and row[4].startswith("Up ")
    assert [c.name for c in table.objects] == ["dm-bg"]
    assert "dm-bg" in table._repr_html_()
    deadline = __import__("time").monotonic() + 10
    while "hello" not in dm("%docker_logs dm-bg").out:
        assert __import__("time").monotonic() < deadline
    assert dm("%docker_logs dm-bg --tail 1").out.split("Out[")[0] == "hello from bg\n"
    taken = dm(f"%docker_run --name dm-bg {busybox} true").usage_error
    assert taken == (
        "The container name dm-bg is already in use. Pick another --name, or remove "
        "that container with %docker_rm -f dm-bg."
    )
    stopped = dm("%docker_stop -t 1 dm-bg").value
    assert repr(stopped) == "Stopped dm-bg"
    assert [c.name for c in stopped.objects] == ["dm-bg"]
    assert stopped.objects[0].status == "exited"
    exited = next(r for r in dm("%docker_ps -a").value.rows if r[-1] == "dm-bg")
    assert exited[4].startswith("Exited (137)")
    assert dm("%docker_ps").value.rows == []
    cell = dm("%docker_rm dm-bg dm-none")
    assert cell.out.splitlines()[0] == "Removed dm-bg"
    assert cell.usage_error == (
        "There is no container dm-none on the engine. Check the name (%docker_ps -a lists them)."
    )


def test_a_running_container_or_a_missing_one_is_said_in_one_way(dm, busybox):
    """The engine's "You cannot remove a running container <64 hex>. Stop the container
    before attempting removal or force remove" in our words; a missing container named the
    same way by every magic."""
    dm(f"%docker_run -d --name dm-busy {busybox} sleep 30")
    try:
        assert dm("%docker_rm dm-busy").usage_error == (
            "dm-busy is running: stop it first (%docker_stop dm-busy) or use %docker_rm -f dm-busy."
        )
        missing = "There is no container dm-nosuch on the engine. Check the name (%docker_ps -a "
        for line in ("%docker_logs dm-nosuch", "%docker_stop dm-nosuch", "%docker_rm dm-nosuch"):
            assert dm(line).usage_error == missing + "lists them).", line
    finally:
        dm("%docker_rm -f dm-busy")


def test_images_shows_only_the_matching_tags(dm, busybox, engine_api):
    """As ``docker images NAME``: other tags of the same image are not rows."""
    engine_api.tag(busybox, "dm-only/alias", "1")
    try:
        repo, tag = busybox.split(":")
        assert [r[:2] for r in dm(f"%docker_images {repo}").value.rows] == [[repo, tag]]
        rows = dm("%docker_images 'dm-only/*'").value.rows
        assert [r[:2] for r in rows] == [["dm-only/alias", "1"]]
    finally:
        engine_api.remove_image("dm-only/alias:1")


def test_ps_while_containers_come_and_go(dm, busybox, engine_api):
    """Foreground runs remove their containers at any moment: listing must not fail."""
    import threading

    stop = threading.Event()

    def churn():
        while not stop.is_set():
            c = engine_api.create_container(busybox, ["true"])
            engine_api.start(c)
            engine_api.remove_container(c, force=True)

    worker = threading.Thread(target=churn)
    worker.start()
    try:
        for _ in range(40):
            table = docker_magics.containers(all=True)
            assert len(table.objects) == len(table.rows)
    finally:
        stop.set()
        worker.join()


def test_images_table(dm, busybox, engine_api):
    table = dm(f"%docker_images {busybox.split(':')[0]}").value
    assert table.columns == ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
    repo, tag = busybox.split(":")
    row = next(r for r in table.rows if r[0] == repo and r[1] == tag)
    assert row[2] == engine_api.inspect_image(busybox)["Id"][7:19]
    assert row[4].endswith("MB") and row[3].endswith("ago")
    assert table.objects[0].attrs["Id"].startswith("sha256:")
    dangling = dm("%docker_images --filter dangling=true").value
    assert all(r[0] == "<none>" for r in dangling.rows)
    assert dm("%docker_images --filter nonsense").usage_error == (
        "Invalid filter 'nonsense'. Use --filter KEY=VALUE."
    )


def test_rmi(dm, busybox, engine_api):
    dm(f"%docker_tag {busybox} dm-test/rmi-me:1")
    cell = dm("%docker_rmi dm-test/rmi-me:1")
    assert repr(cell.value) == "Untagged: dm-test/rmi-me:1"
    assert cell.value.objects == [[{"Untagged": "dm-test/rmi-me:1"}]]
    assert "<pre" in cell.value._repr_html_()
    assert dm("%docker_rmi dm-test/never:1").usage_error == (
        "There is no image dm-test/never:1 on the engine. Check the name (%docker_images lists "
        "them)."
    )


@pytest.mark.parametrize(
    "line, expected",
    [
        (
            "%docker_run dm-test/absent:1 true",
            "The image dm-test/absent:1 is not on the engine and cannot be pulled: the registry "
            "Docker Hub",
        ),
        (
            "%docker_run {B} no-such-program",
            "no-such-program cannot be run in {B} (executable file not found in $PATH). Check the "
            "command, or use an image that has it.",
        ),
        ("%docker_run -p notaport {B} true", "Invalid -p value"),
        (
            "%docker_run -v nocolon {B} true",
            "Invalid -v value 'nocolon'. Use -v HOST_PATH_OR_VOLUME:/container/path[:ro].",
        ),
        ("%docker_run -e =x {B} true", "Invalid -e entry '=x'. Use NAME=VALUE or NAME."),
        (
            "%docker_run --env-file /nonexistent.env {B} true",
            "--env-file /nonexistent.env: No such file or directory. Check the path.",
        ),
        ("%docker_run --network no-such-net {B} true", "No network named no-such-net"),
        (
            "%docker_run --network host -p 8080:80 {B} true",
            'Options that do not go together: "host" network_mode is incompatible with '
            "port_bindings.",
        ),
        ("%docker_run --platform linux/s390x {B} true", "{B} is on the engine for linux/"),
        (
            "%%docker_run --entrypoint echo {B}\necho hi\n",
            "--entrypoint has no effect on %%docker_run: the cell runs with --shell.",
        ),
        ("%docker_run", "%docker_run: the following arguments are required: IMAGE. See"),
        (
            "%docker_run -d --get /x {B} true",
            "--get needs the run to finish: it cannot be used with --detach.",
        ),
        (
            "%%docker_run {B}\n   \n",
            "The cell is empty: nothing to run. Write a script in the cell.",
        ),
        (
            "%%docker_run {B} echo hi\necho\n",
            "%%docker_run runs the cell: give no command after "
            "the image. Write the commands in the cell.",
        ),
    ],
)
def test_failures_are_one_line(dm, busybox, line, expected):
    msg = dm(line.format(B=busybox)).usage_error
    assert msg.startswith(expected.format(B=busybox)), msg


@pytest.fixture
def bridge(engine_api):
    """A user-defined bridge network (the private engine runs without the default one)."""
    net = engine_api.create_network("dm-test-bridge", driver="bridge")
    yield "dm-test-bridge"
    engine_api.remove_network(net["Id"])


def test_published_port_and_port_in_use(dm, busybox, bridge):
    from tests.support import free_port

    port = free_port()
    cell = dm(
        f"%docker_run -d --name dm-web --network {bridge} -p 127.0.0.1:{port}:80 {busybox} "
        "httpd -f -p 80 -h /etc"
    )
    assert cell.error is None, cell.err
    row = next(r for r in dm("%docker_ps").value.rows if r[-1] == "dm-web")
    assert row[5] == f"127.0.0.1:{port}->80/tcp"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:  # the real proxy
        s.sendall(b"GET /hostname HTTP/1.0\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.")
    busy = dm(f"%docker_run --network {bridge} -p 127.0.0.1:{port}:80 {busybox} true")
    assert busy.usage_error == (
        f"Port 127.0.0.1:{port} is already in use on the engine's host. Publish another host "
        "port (-p OTHER:PORT), or stop what uses it."
    )
    dm("%docker_rm -f dm-web")
    # A port held by another program on the host, not by the engine itself.
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        held = holder.getsockname()[1]
        busy = dm(f"%docker_run --network {bridge} -p 127.0.0.1:{held}:80 {busybox} true")
    assert busy.usage_error.startswith(f"Port 127.0.0.1:{held} is already in use")


def test_port_that_cannot_be_published_is_said(dm, busybox):
    """The private engine has no default bridge: the engine accepts -p and publishes
    nothing, silently. We say it."""
    from tests.support import free_port

    cell = dm(f"%docker_run -d --name dm-nopub -p 127.0.0.1:{free_port()}:80 {busybox} sleep 30")
    try:
        assert cell.error is None, cell.err
        assert cell.err.startswith("Warning: -p published no port: the container's network ")
    finally:
        dm("%docker_rm -f dm-nopub")


@pytest.mark.parametrize(
    "options, command",
    [("", "true"), ("--network none", "true"), ("", "echo x"), ("-d", "true")],
)
def test_a_port_not_published_is_said_even_when_the_container_ends_at_once(
    dm, busybox, options, command
):
    """Its ports are gone once it has ended (the engine clears them): whether its network
    could publish any is what counts."""
    from tests.support import free_port

    name = "dm-nopub-short"
    cell = dm(
        f"%docker_run --name {name} {options} -p 127.0.0.1:{free_port()}:80 {busybox} {command}"
    )
    dm(f"%docker_rm -f {name}")
    assert cell.error is None, cell.err
    network = "none" if "none" in options else "default"
    assert cell.err.startswith(
        f"Warning: -p published no port: the container's network ({network}) does not map "
    ), cell.err


def test_a_bridge_network_publishes_without_a_warning(dm, busybox, bridge):
    from tests.support import free_port

    for command in ("true", "sleep 1"):  # ended at once, still running
        cell = dm(
            f"%docker_run --network {bridge} -p 127.0.0.1:{free_port()}:80 {busybox} {command}"
        )
        assert cell.error is None and "Warning" not in cell.err, cell.err


def test_output_is_kept_whole_and_reachable_after_a_failure(dm, busybox):
    script = (
        "head -c 200000 /dev/zero | tr '\\0' x; echo; printf '10%%\\r20%%\\r30%%\\n'; "
        "seq 1 30000; printf 'no newline'; exit 5"
    )
    cell = dm(f'%docker_run {busybox} sh -c "{script}"')
    assert cell.usage_error == (
        f"The command in {busybox} exited with code 5 (all of its output: "
        "docker_magics.last_run().stdout and .stderr); its last output: 29999 | 30000 | "
        "no newline"
    )
    result = docker_magics.last_run()
    expected = "x" * 200000 + "\n10%\r20%\r30%\n" + "".join(f"{i}\n" for i in range(1, 30001))
    assert result.stdout == expected + "no newline"
    assert result.exit_code == 5
    # The flood was cut in the cell, but its end is shown.
    note, *last = cell.out.splitlines()[-11:]
    assert re.fullmatch(r"    … [\d,]+ more lines \(all in the result's log\)", note), note
    assert last == [*(str(i) for i in range(29992, 30001)), "no newline"]
    assert len(cell.out) < 40_000  # bounded: a sample, not 30,000 lines
    assert "more lines (all in the result's log)" in cell.out


def test_python_api(dm, busybox, tmp_path):
    (tmp_path / "in.txt").write_text("3\n")
    result = docker_magics.run(
        busybox,
        script="echo $(( $(cat in.txt) * 7 )) > out.txt",
        add=[f"{tmp_path}/in.txt"],
        get=[f"out.txt:{tmp_path}/out.txt"],
        workdir="/w",
        progress="none",
    )
    assert result.exit_code == 0 and (tmp_path / "out.txt").read_text() == "21\n"
    with pytest.raises(docker_magics.errors.RunFailed) as failed:
        docker_magics.run(busybox, ["sh", "-c", "echo oops; exit 9"], progress="none")
    assert failed.value.result.exit_code == 9 and failed.value.result.stdout == "oops\n"


def test_python_api_takes_one_string_where_a_list_goes(dm, busybox, tmp_path):
    """``volumes="/data:/data"`` is one volume (it used to be split into characters)."""
    (tmp_path / "x.txt").write_text("mounted\n")
    result = docker_magics.run(
        busybox, "cat /data/x.txt", volumes=f"{tmp_path}:/data", env="A=1", progress="none"
    )
    assert result.stdout == "mounted\n"
    with pytest.raises(docker_magics.errors.BadArgument) as bad:
        docker_magics.run(busybox, ["true"], volumes=[f"{tmp_path}:/data", 7])
    assert str(bad.value) == "volumes must hold strings, not int."
    with pytest.raises(docker_magics.errors.BadArgument) as bad:
        docker_magics.pull(busybox, progress="bogus")
    assert str(bad.value).startswith("Unknown progress mode 'bogus'")


def test_python_api_for_logs_stop_rm_rmi(dm, busybox, engine_api, capsys):
    """What %docker_logs/stop/rm/rmi do is also a function call."""
    started = docker_magics.run(
        busybox, ["sh", "-c", "echo one; echo two >&2; sleep 60"], detach=True, name="dm-api"
    )
    assert started.container_id
    deadline = time.monotonic() + 10
    while "two" not in engine_api.logs("dm-api").decode():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    capsys.readouterr()
    log = docker_magics.logs("dm-api")
    shown = capsys.readouterr()
    assert (shown.out, shown.err) == ("one\n", "two\n")
    assert sorted(log.text().splitlines()) == ["one", "two"]
    assert docker_magics.stop("dm-api", timeout=1) == ["Stopped dm-api"]
    assert docker_magics.remove(["dm-api"]) == ["Removed dm-api"]
    engine_api.tag(busybox, "dm/api-rmi", "1")
    assert docker_magics.remove_images("dm/api-rmi:1") == ["Untagged: dm/api-rmi:1"]
    with pytest.raises(EngineError) as gone:
        docker_magics.remove("dm-api")
    assert str(gone.value) == (
        "There is no container dm-api on the engine. Check the name "
        "(docker_magics.containers(all=True) lists them)."
    )


def test_logs_mask_known_secrets(dm, busybox, engine_api):
    from docker_magics.redaction import protect_value

    secret = "sekrit-" + os.urandom(6).hex()
    protect_value(secret)
    dm(f"%docker_run --rm=false --name dm-leaky {busybox} echo token={secret}")
    try:
        cell = dm("%docker_logs dm-leaky")
        assert cell.out.split("Out[")[0] == "token=******\n" and secret not in cell.out
        assert cell.value.text() == "token=******\n"
    finally:
        engine_api.remove_container("dm-leaky", force=True)
