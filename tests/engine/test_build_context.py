"""What a build's context holds, against a real engine: each builder gets what its own client
sends (the docker CLI's tar for the classic builder; BuildKit's client for BuildKit), BuildKit
reads only what the build asks for, and a context that holds the engine's own data root is
refused before it feeds on itself."""

from __future__ import annotations

import _thread
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.engine.test_build import run_in

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cells(run, engine, busybox, monkeypatch, no_leftovers):
    monkeypatch.setenv("DOCKER_HOST", engine.url)
    assert run(f"%docker_connect {engine.url}").error is None
    return run


def names_in(engine, image: str) -> list[str]:
    return run_in(engine.api(), image, "cd /ctx && find . | sort").split()


def cli_build(docker_cli: str, engine, tag: str, file: Path, folder: Path) -> None:
    """The docker CLI's classic build (the reference for the classic builder's context)."""
    env = {**os.environ, "DOCKER_HOST": engine.url, "DOCKER_BUILDKIT": "0"}
    subprocess.run(
        [docker_cli, "build", "-q", "-t", tag, "-f", str(file), str(folder)],
        env=env, check=True, capture_output=True,
    )  # fmt: skip


def test_each_builder_honours_its_own_clients_ignore_file(
    cells, engine, busybox, tmp_path, docker_cli
):
    """--file docker/app.Dockerfile with docker/app.Dockerfile.dockerignore (``*`` then
    ``!**/*.py``) beside it: the classic builder gets what the docker CLI's tar holds (only
    .dockerignore counts); BuildKit gets what buildx 0.13.1 sent on this engine (20.10.24):
    the per-Dockerfile file counts, and its walk looks into subdir for *.py (the CLI 20.10's
    older BuildKit client sends top.py only)."""
    root = tmp_path / "project"
    for name in ("top.py", "other.txt", "subdir/sub.py", "subdir/t.txt"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    (root / ".dockerignore").write_text("other.txt\n")
    (root / "docker").mkdir()
    file = root / "docker" / "app.Dockerfile"
    file.write_text(f"FROM {busybox}\nCOPY . /ctx\n")
    (root / "docker" / "app.Dockerfile.dockerignore").write_text("*\n!**/*.py\n")
    for builder in ("classic", "buildkit"):
        cell = cells(
            f"%docker_build -t dm-test/own:{builder} --builder {builder} --file {file} "
            f"--context {root} --progress none"
        )
        assert cell.error is None, cell.err
    cli_build(docker_cli, engine, "dm-test/own:cli", file, root)
    classic = names_in(engine, "dm-test/own:classic")
    assert classic == names_in(engine, "dm-test/own:cli")
    assert classic == [
        ".", "./.dockerignore", "./docker", "./docker/app.Dockerfile",
        "./docker/app.Dockerfile.dockerignore", "./subdir", "./subdir/sub.py", "./subdir/t.txt",
        "./top.py",
    ]  # fmt: skip
    assert names_in(engine, "dm-test/own:buildkit") == [
        ".",
        "./subdir",
        "./subdir/sub.py",
        "./top.py",
    ]


def test_a_dockerfile_in_a_folder_left_out(cells, engine, busybox, tmp_path, docker_cli):
    """.dockerignore leaves out df/, where the --file is: the CLI still sends the Dockerfile,
    the engine makes df/ to unpack it, removes the Dockerfile and keeps df/, empty; BuildKit's
    clients (the CLI 20.10's and buildx 0.13.1, on this engine) send nothing of df/."""
    root = tmp_path / "project"
    (root / "df").mkdir(parents=True)
    file = root / "df" / "Dockerfile"
    file.write_text(f"FROM {busybox}\nCOPY . /ctx\n")
    (root / ".dockerignore").write_text("df\n")
    (root / "a.txt").write_text("a")
    for builder in ("classic", "buildkit"):
        cell = cells(
            f"%docker_build -t dm-test/df:{builder} --builder {builder} --file {file} "
            f"--context {root} --progress none"
        )
        assert cell.error is None, cell.err
    cli_build(docker_cli, engine, "dm-test/df:cli", file, root)
    assert names_in(engine, "dm-test/df:classic") == names_in(engine, "dm-test/df:cli")
    assert names_in(engine, "dm-test/df:classic") == [".", "./.dockerignore", "./a.txt", "./df"]
    assert names_in(engine, "dm-test/df:buildkit") == [".", "./.dockerignore", "./a.txt"]


CHILD = """
import docker_magics as dm
dm.connect({url!r})

def build(dockerfile, builder):
    try:
        dm.build(dockerfile, context={folder!r}, builder=builder, progress="none")
        return "built"
    except dm.errors.DockerMagicsError as exc:
        return str(exc)

print(build("FROM {base}\\nCOPY ok.txt /\\n", "buildkit"))
print(build("FROM {base}\\nCOPY . /ctx\\n", "buildkit"))
print(build("FROM {base}\\nCOPY ok.txt /\\n", "classic"))
"""


def test_buildkit_reads_only_what_the_build_asks_for(engine, busybox, tmp_path, no_leftovers):
    """COPY ok.txt with an unreadable folder beside it: BuildKit asks for ok.txt only, and
    the folder is never read; COPY . needs it, and says so in one line; the classic builder
    gets the whole folder, as from the CLI. Run without the capabilities that let root read
    anything (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH)."""
    if os.geteuid() != 0:
        pytest.skip("needs root, to take its capabilities away")
    folder = tmp_path / "context"
    (folder / "private").mkdir(parents=True)
    (folder / "private" / "key").write_text("k")
    (folder / "ok.txt").write_text("ok")
    os.chmod(folder / "private", 0)
    caps = "-dac_override,-dac_read_search"
    code = CHILD.format(url=engine.url, folder=str(folder), base=busybox)
    try:
        out = subprocess.run(
            ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}", sys.executable, "-c", code],
            capture_output=True, text=True, timeout=300, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
    finally:
        os.chmod(folder / "private", 0o755)
    denied = (
        f"Cannot read the folder {folder}/private (permission denied). Fix its permissions, or "
        "exclude it in .dockerignore."
    )
    assert out.stdout.splitlines() == ["built", denied, denied], out.stderr


def test_a_context_holding_the_engines_data_root_is_refused(cells, engine, busybox, tmp_path):
    """``--context ~`` under rootless Docker: the engine's data root is in the folder, and
    what the engine writes there as it receives the context would be sent too, without end.
    Refused in one line before anything is sent (no container left either), for --add of a
    build or a run too, and wherever the walk meets that folder by another path (a bind
    mount)."""
    if engine.dockerd is None:
        pytest.skip("needs a private engine whose data root is known")
    holder, data = engine.dockerd.root, engine.dockerd.root / "data"
    refused = (
        f"holds the engine's own data ({data}): the build would send the engine what it "
        f"writes as it receives it, without end. Give a folder that does not contain {data}."
    )
    # Were it not refused, the build would go on sending: stop it after a minute.
    watchdog = threading.Timer(60, _thread.interrupt_main)
    watchdog.start()
    try:
        for builder in ("classic", "buildkit"):
            base = f"%%docker_build --builder {builder} --progress none"
            msg = cells(f"{base} --context {holder}\nFROM {busybox}\nCOPY . /ctx\n").usage_error
            assert msg == f"--context {holder} {refused}"
            msg = cells(f"{base} --add {holder}:h\nFROM {busybox}\nCOPY h /h\n").usage_error
            assert msg == f"--add {holder}:h {refused}"
        # A run's --add too: the engine writes it into the container, in its data root.
        msg = cells(f"%%docker_run {busybox} --add {holder}:h\nls h\n").usage_error
        assert msg == f"--add {holder}:h {refused}"
        if os.geteuid() == 0:  # the same folder, reached through a bind mount
            folder = tmp_path / "context"
            (folder / "mnt").mkdir(parents=True)
            (folder / "a.txt").write_text("a")
            subprocess.run(["mount", "--bind", str(data), str(folder / "mnt")], check=True)
            try:
                for builder in ("classic", "buildkit"):
                    msg = cells(
                        f"%%docker_build --builder {builder} --progress none --context {folder}"
                        f"\nFROM {busybox}\nCOPY . /ctx\n"
                    ).usage_error
                    assert msg == (
                        f"{folder}/mnt, in the context, is the engine's own data ({data}): the "
                        "build would send the engine what it writes as it receives it, without "
                        f"end. Give a folder that does not contain {data}."
                    )
            finally:
                subprocess.run(["umount", str(folder / "mnt")], check=True)
    finally:
        watchdog.cancel()


def test_copy_of_names_that_are_not_ascii(cells, engine, busybox, tmp_path):
    """BuildKit 0.12+ (Docker 25+) percent-encodes such followpaths: COPY café.txt failed
    with '"/café.txt": not found' on Docker 26 until they were decoded."""
    folder = tmp_path / "context"
    folder.mkdir()
    (folder / "café.txt").write_text("x\n")
    (folder / "other.txt").write_text("y\n")
    cell = cells(
        f"%%docker_build -t dm-test/utf8 --builder buildkit --context {folder} --progress none"
        f"\nFROM {busybox}\nCOPY café.txt /ctx/\n"
    )
    assert cell.error is None, cell.err
    assert names_in(engine, "dm-test/utf8") == [".", "./café.txt"]
