"""What a person sees, in text (a terminal, nbconvert, CI), against the real engine and
registry: the real cause in the error line, each message once, %docker_logs' value, the
engine's IPv4 warning in plain words, and %docker_history / %docker_df checked against the
docker CLI on the same engine. (Widgets and the browser: tests/e2e.)"""

from __future__ import annotations

import json
import subprocess

import pytest

import docker_magics
from docker_magics.builds.progress import NO_NETWORK_NOTE

pytestmark = pytest.mark.engine

CAUSE = "RUN for i in $(seq 1 15); do echo line $i; done; echo cause-444 >&2; exit 4"


@pytest.fixture
def dm(run, engine, busybox, monkeypatch, no_leftovers):
    monkeypatch.setenv("DOCKER_HOST", engine.url)
    assert run(f"%docker_connect {engine.url}").error is None
    return run


def shown_value(cell) -> str:
    """What IPython printed as the cell's result (after ``Out[n]:``)."""
    return cell.out.split("Out[", 1)[1].split(":", 1)[1].strip() if "Out[" in cell.out else ""


@pytest.mark.parametrize("builder", ["classic", "buildkit"])
def test_the_error_line_quotes_what_the_failing_step_said_last(dm, busybox, builder):
    """The engine delivers the step's stderr and stdout in no reliable order (its error
    often comes before the 15 lines printed ahead of it): the line quotes it every time."""
    for _ in range(4):
        cell = dm(
            f"%%docker_build --no-cache --builder {builder} --network none --progress plain\n"
            f"FROM {busybox}\n{CAUSE}\n"
        )
        assert cell.usage_error.endswith("failed with exit code 4: cause-444")
        assert cell.out.count("line 15") == 1 and "cause-444" in cell.err


def test_a_text_build_says_its_summary_once(dm, busybox):
    cell = dm(f"%%docker_build -t dm-test/once --progress plain\nFROM {busybox}\nRUN echo hi\n")
    assert cell.error is None, cell.err
    assert cell.out.count("Built ") == 1  # the progress' last line; not again as the result
    assert "Out[" not in cell.out  # nothing more: a terminal prints no "Out[n]:" either
    result = cell.value  # the cell's value all the same
    assert isinstance(result, docker_magics.BuildResult) and result.tags == ["dm-test/once:latest"]
    later = dm("_")  # in another cell it shows in full
    assert shown_value(later).startswith("Built ") and later.value is result
    dm("%docker_rmi dm-test/once")


def test_quiet_says_the_id_alone_and_a_failure_once(dm, busybox):
    """``-q`` as ``docker build -q``: the image ID and nothing else; a failure is the error
    line, with the step's last lines before it only when there is more than that line."""
    cell = dm(f"%%docker_build -q --no-cache\nFROM {busybox}\nRUN echo quiet\n")
    assert cell.error is None, cell.err
    assert cell.out == f"{cell.value.image_id}\n" and cell.err == ""
    one = dm(f"%%docker_build -q --no-cache\nFROM {busybox}\nRUN echo quietfail >&2; exit 9\n")
    assert one.usage_error.endswith("failed with exit code 9: quietfail")
    assert len(one.err.splitlines()) == 1 and one.out == ""  # the error line alone
    more = dm(f"%%docker_build -q --no-cache\nFROM {busybox}\nRUN echo a; echo b >&2; exit 9\n")
    assert more.usage_error.endswith("failed with exit code 9: b")
    head, *shown, error = more.err.splitlines()
    assert head.startswith("--- the last 2 lines of step 2/2 ") and sorted(shown) == ["a", "b"]
    assert error.startswith("UsageError: ")  # (the two streams come in no reliable order)


def test_a_text_push_names_the_tag_and_ends_with_the_digest_then_the_summary(dm, busybox, registry):
    name = f"{registry.host}/dm/seen"
    dm(f"%docker_tag {busybox} {name}:7")
    cell = dm(f"%docker_push {name}:7 --progress plain")
    assert cell.error is None, cell.err
    result = cell.value
    lines = cell.out.split("Out[")[0].splitlines()
    digest = f"7: digest: {result.digest} size: {result.size}"
    assert lines[1] == f"The push refers to repository [{name}]"  # as the CLI: first,
    assert lines[-2] == digest and cell.out.count(digest) == 1  # the digest after the layers
    assert lines[-1] == result.summary() and result.summary().startswith(f"Pushed {name}:7 in ")
    assert all(": " in line for line in lines[2:-2])  # the layer rows, in between
    assert "Out[" not in cell.out
    dm(f"%docker_rmi {name}:7")


def test_logs_show_once_and_the_value_holds_them(dm, busybox, engine_api):
    container = engine_api.create_container(busybox, ["sh", "-c", "echo one; echo two >&2"])
    try:
        engine_api.start(container)
        engine_api.wait(container, timeout=30)
        cell = dm(f"%docker_logs {container['Id'][:12]}")
        assert cell.error is None, cell.err
        assert cell.out.split("Out[")[0] == "one\n" and cell.err == "two\n"
        assert "Out[" not in cell.out  # no "<log: 2 lines...>", no "Out[n]:"
        log = cell.value
        assert isinstance(log, docker_magics.ContainerLog)
        assert (log.stdout, log.stderr, len(log)) == ("one\n", "two\n", 2)
        assert sorted(log.lines()) == ["one", "two"]
        later = shown_value(dm("_")).splitlines()  # in another cell: its last lines
        assert later[0] == f"Log of {container['Id'][:12]}: 2 lines"
        assert sorted(later[1:]) == ["one", "two"]
    finally:
        engine_api.remove_container(container, force=True)


def test_the_engines_ipv4_warning_is_said_once_in_plain_words(dm, busybox, engine):
    """The test engine runs with --ip-forward=false: the classic builder warns at every RUN
    step of every build. Said once per engine; not at all where --network none says it."""
    from docker_magics.builds import progress

    progress._TOLD.discard((engine.url, progress.NO_FORWARDING))  # a fresh session
    cells = [
        dm(f"%%docker_build --no-cache --progress plain {network}\nFROM {busybox}\n{steps}")
        for network, steps in [
            ("--network none", "RUN true\nRUN true\n"),
            ("", "RUN true\nRUN true\n"),
            ("", "RUN true\n"),
        ]
    ]
    for cell in cells:
        assert cell.error is None, cell.err
        assert "IPv4 forwarding is disabled" not in cell.out + cell.err
    assert [c.out.count(NO_NETWORK_NOTE) for c in cells] == [0, 1, 0]
    assert NO_NETWORK_NOTE == (
        "Note: RUN steps have no network on this engine (its IPv4 forwarding is off): "
        "downloads in RUN fail"
    )
    # The log keeps the engine's own words.
    assert "IPv4 forwarding is disabled" in cells[1].value.log.text()


def cli(docker_cli, engine, *args: str) -> list[dict]:
    out = subprocess.run(
        [docker_cli, "-H", engine.url, *args, "--format", "{{json .}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_history_and_disk_usage_are_the_clis(dm, busybox, engine, engine_api, docker_cli):
    cell = dm(
        f"%%docker_build -t dm-test/layers --progress none\nFROM {busybox}\n"
        "RUN head -c 300000 /dev/urandom > /big\nENV X=1\nRUN echo small > /small\n"
    )
    assert cell.error is None, cell.err
    history = dm("%docker_history dm-test/layers")
    assert history.error is None, history.err
    table = history.value.table()
    want = cli(docker_cli, engine, "history", "dm-test/layers")
    assert [row[3] for row in table.rows] == [r["Size"] for r in reversed(want)]
    assert [row[2] for row in table.rows][-3:] == [
        "RUN head -c 300000 /dev/urandom > /big",
        "ENV X=1",
        "RUN echo small > /small",
    ]
    html = history.value._repr_html_()
    assert "<table" in html and "<svg" in html and "300kB" in html
    assert dm("%docker_history nosuch/image").usage_error == (
        "There is no image nosuch/image on the engine. Check the name (%docker_images lists them)."
    )
    # Something of each kind: a running container, a stopped one that wrote to its own
    # layer and to a volume.
    volume = engine_api.create_volume("dm-test-vol")["Name"]
    running = engine_api.create_container(busybox, ["sleep", "60"])
    stopped = engine_api.create_container(
        busybox,
        ["sh", "-c", "head -c 20000 /dev/urandom > /v/x; echo 12345 > /f"],
        host_config=engine_api.create_host_config(binds=[f"{volume}:/v"]),
    )
    try:
        engine_api.start(stopped)
        engine_api.wait(stopped, timeout=30)
        engine_api.start(running)
        df = dm("%docker_df")
        assert df.error is None, df.err
        rows = df.value.table().rows
        want = cli(docker_cli, engine, "system", "df")
        assert rows == [
            [r["Type"], r["TotalCount"], r["Active"], r["Size"], r["Reclaimable"]] for r in want
        ]
        assert df.value["Containers"].active >= 1 and df.value["Containers"].reclaimable >= 6
        assert df.value["Local Volumes"].size >= 20000
        assert "<svg" in df.value._repr_html_()
        assert docker_magics.df().table().rows == rows  # the Python API: the same
    finally:
        for c in (running, stopped):
            engine_api.remove_container(c, force=True)
        engine_api.remove_volume(volume)
        dm("%docker_rmi dm-test/layers")
