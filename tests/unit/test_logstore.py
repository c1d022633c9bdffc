"""Pure: where a large log goes (a folder per process; a killed kernel's is removed by the
next one), and counts in words."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from docker_magics.builds.result import BuildResult, Step
from docker_magics.display import logstore as results
from docker_magics.display.logstore import LogStore
from docker_magics.engine import events as ev
from docker_magics.registry.result import PullResult, PushResult

# -- spilled logs ----------------------------------------------------------------------------


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_spilled_logs_live_in_a_folder_of_this_process_and_stale_ones_go(tmp_path, monkeypatch):
    monkeypatch.setattr(results.tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(results, "_spill", None)
    uid = os.getuid()
    stale = tmp_path / f"docker-magics-{uid}-{dead_pid()}-12345"
    stale.mkdir()
    (stale / "docker-magics-abc.log").write_text("old")
    alive = tmp_path / f"docker-magics-{uid}-{os.getppid()}-{results.start_time(os.getppid())}"
    alive.mkdir()
    (alive / "docker-magics-def.log").write_text("in use")
    reused = tmp_path / f"docker-magics-{uid}-{os.getppid()}-1"  # a reused pid: stale
    reused.mkdir()
    foreign = tmp_path / f"docker-magics-{uid}-{dead_pid()}-1"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("not ours")  # stays: not one of our files
    link = tmp_path / f"docker-magics-{uid}-{dead_pid()}-2"
    link.symlink_to(alive)
    other = tmp_path / "docker-magics-notes"
    other.mkdir()

    store = LogStore()
    store.extend(["x" * 1000] * 2000)  # 2 MB: spilled
    folder = Path(store.path).parent
    assert folder.name == f"docker-magics-{uid}-{os.getpid()}-{results.start_time(os.getpid())}"
    assert store.text().count("\n") == 2000 and store.count == 2000
    assert not stale.exists() and not reused.exists()
    assert (alive / "docker-magics-def.log").exists()
    assert (foreign / "notes.txt").exists() and link.is_symlink() and other.exists()
    assert (folder.stat().st_mode & 0o777) == 0o700
    path = store.path
    del store
    assert not os.path.exists(path)  # removed with its log
    results._remove_folder(str(folder), os.getpid())
    assert not folder.exists()


def test_a_killed_kernels_logs_are_removed_by_the_next_one(tmp_path):
    code = (
        f"import os, tempfile; tempfile.tempdir = {str(tmp_path)!r}\n"
        "from docker_magics.display.logstore import LogStore\n"
        "s = LogStore(); s.extend(['x' * 1000] * 2000); print(s.path, flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    left = Path(out.stdout.strip())
    assert left.exists()  # killed: nothing ran at exit
    code = code.replace("os.kill(os.getpid(), 9)\n", "")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=env)
    assert not left.exists() and not left.parent.exists()
    assert list(tmp_path.iterdir()) == []  # and the second one cleaned up after itself


def test_a_temp_folder_that_cannot_take_logs_keeps_them_in_memory(tmp_path, monkeypatch, capsys):
    """Bounded: the last KEPT_IN_MEMORY characters of each log, said once (the full-disk
    case itself runs in tests/e2e/test_hardening_kernel.py)."""
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    monkeypatch.setattr(results.tempfile, "tempdir", str(not_a_folder))
    monkeypatch.setattr(results, "_spill", None)
    monkeypatch.setattr(results, "_warned", False)
    monkeypatch.setattr(results, "KEPT_IN_MEMORY", 3 << 20)
    log, text = LogStore(), results.TextStore()
    for i in range(10_000):
        log.extend([f"line {i} " + "x" * 500])
        text.write(f"part {i} " + "y" * 500)
    assert log.path is None and text.path is None and log.count == 10_000
    kept = log.text()
    assert kept.startswith("[earlier output left out: the temp folder was full]\n")
    assert kept.endswith("line 9999 " + "x" * 500 + "\n") and len(kept) <= 3 << 20
    assert text.text().endswith("part 9999 " + "y" * 500)
    warned = capsys.readouterr().err.splitlines()
    assert len(warned) == 1 and warned[0].startswith(
        f"Warning: the temp folder {not_a_folder} cannot take large logs (Not a directory)"
    )


# -- words -----------------------------------------------------------------------------------


def test_counts_have_the_right_plural():
    store = LogStore()
    store.append("one")
    assert repr(store) == "<log: 1 line in memory>"
    store.extend(["a"] * 1999)
    assert repr(store) == "<log: 2,000 lines in memory>"
    push = PushResult("r/x", ["1"], [ev.Pushed("1", "sha256:ab", 525)], {"a": "Pushed"}, 1.0)
    assert push.summary().endswith(": 1 layer uploaded, 0 already there")
    pull = PullResult("r/x:1", "sha256:ab", "Downloaded", "sha256:cd", 10, {"a": "Pull complete"})
    assert pull.summary().endswith(": 1 layer downloaded")
    assert "<summary>1 layer</summary>" in pull._repr_html_()
    pull.layers = {"a": "Pull complete", "b": "Already exists", "c": "Already exists"}
    assert pull.summary().endswith(": 1 layer downloaded, 2 already there")
    for layers in ({"a": "Already exists"}, {}):  # a new name for layers the engine had
        pull.layers = layers  # (the engine may not even list them)
        assert pull.summary().endswith(": nothing to download, the engine had its layers")
    step = Step("1", "FROM x", 1, 1, status="cached", duration=0.1)
    built = BuildResult("sha256:" + "ab" * 32, ["x"], 10, 1.0, [step], store)
    assert built.summary().endswith(", 1 of 1 step cached")
    assert "1 step, 2,000 log lines" in built._repr_html_()
