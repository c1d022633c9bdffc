"""%%docker_build against the real engine: builds, caching, context, options, failures."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

import docker_magics
from docker_magics import api
from docker_magics.errors import BadArgument

pytestmark = pytest.mark.engine


@pytest.fixture
def built(run, engine, busybox, monkeypatch, no_leftovers):
    """Connected to the engine; afterwards, no container may be left on it."""
    monkeypatch.setenv("DOCKER_HOST", engine.url)
    assert run(f"%docker_connect {engine.url}").error is None
    monkeypatch.setenv("BASE", busybox)
    return run


def image_files(engine_api, image: str, path: str) -> str:
    """The sorted ``find`` listing of ``path`` in ``image``."""
    return run_in(engine_api, image, f"cd {path} && find . | sort")


def run_in(engine_api, image: str, command: str) -> str:
    out = engine_api.create_container(image, ["sh", "-c", command])
    try:
        engine_api.start(out["Id"])
        engine_api.wait(out["Id"])
        return engine_api.logs(out["Id"]).decode()
    finally:
        engine_api.remove_container(out["Id"], force=True)


def test_build_with_run_steps(built, engine_api):
    cell = built(
        "%%docker_build -t dm-test/hello:1 -t dm-test/hello:latest --no-cache --progress plain "
        "--build-arg BASE\n"
        "ARG BASE\n"
        "FROM $BASE\n"
        "RUN echo building && echo careful >&2\n"
        "RUN echo payload > /payload.txt\n"
        'CMD ["cat", "/payload.txt"]\n'
    )
    assert cell.error is None, cell.err
    out = cell.out
    assert "Building dm-test/hello:1 from the Dockerfile (5 steps)" in out
    assert "Step 3/5 : RUN echo building && echo careful >&2" in out
    assert "\nbuilding\n" in out and "careful" in cell.err  # stderr goes to stderr
    result = cell.value
    assert isinstance(result, docker_magics.BuildResult)
    assert result.ok and result.tags == ["dm-test/hello:1", "dm-test/hello:latest"]
    assert engine_api.inspect_image("dm-test/hello:latest")["Id"] == result.image_id
    assert result.size == engine_api.inspect_image(result.image_id)["Size"]
    assert [s.status for s in result.steps] == ["done"] * 5
    assert all(s.duration is not None for s in result.steps)
    assert "building" in result.log.text() and "careful" in result.log.text()
    assert f"Built {result.short_id} (dm-test/hello:1, dm-test/hello:latest)" in out
    assert run_in(engine_api, "dm-test/hello:1", "cat /payload.txt") == "payload\n"
    # The value is the cell's Out: `result = _` works, and it reads well.
    assert built("_").value is result
    assert repr(result).startswith(f"Built {result.short_id} (dm-test/hello:1")
    assert "RUN echo payload" in result._repr_html_()


def test_second_build_is_cached(built):
    dockerfile = "FROM {b}\nRUN echo once > /once\nRUN echo twice > /twice\n"
    base = os.environ["BASE"]
    first = built(f"%%docker_build -t dm-test/cached --progress plain\n{dockerfile.format(b=base)}")
    assert first.error is None, first.err
    second = built(
        f"%%docker_build -t dm-test/cached --progress plain\n{dockerfile.format(b=base)}"
    )
    assert second.value.image_id == first.value.image_id
    assert [s.status for s in second.value.steps][1:] == ["cached", "cached"]
    assert second.out.count(" ---> Using cache") == 2
    assert "2 of 3 steps cached" in repr(second.value)


def test_failing_run_step(built, engine_api):
    cell = built(
        "%%docker_build -t dm-test/fails --progress plain\nFROM $BASE\n".replace(
            "$BASE", os.environ["BASE"]
        )
        + "RUN echo fine\n"
        "RUN echo about to fail; echo bad thing >&2; exit 7\n"
        "RUN echo never\n"
    )
    assert cell.usage_error == (
        "Step 3/4 (RUN echo about to fail; echo bad thing >&2; exit 7) failed with exit code 7: "
        "bad thing"
    )
    assert "about to fail" in cell.out and "bad thing" in cell.err
    assert "FAILED after" in cell.err
    failed = api.last_build()
    assert not failed.ok
    assert [s.status for s in failed.steps] == ["done", "done", "failed", "not run"]
    assert failed.steps[-1].label == "4/4 RUN echo never"  # the steps it never ran are said
    assert "about to fail" in failed.log.text()
    from docker.errors import ImageNotFound

    with pytest.raises(ImageNotFound):
        engine_api.inspect_image("dm-test/fails")


def test_copy_of_a_missing_file(built):
    msg = built(
        f"%%docker_build\nFROM {os.environ['BASE']}\nCOPY notes.txt /notes.txt\n"
    ).usage_error
    assert msg == (
        "Step 2/2 (COPY notes.txt /notes.txt) failed: notes.txt is not in the build context (or "
        ".dockerignore excludes it). Add it with --add notes.txt, or build from a folder with "
        "--context DIR."
    )


def test_base_image_that_cannot_be_pulled(built):
    msg = built("%%docker_build\nFROM dm-test/never-built:1.0\nRUN true\n").usage_error
    assert msg.startswith(
        "Step 1/2 (FROM dm-test/never-built:1.0) failed: the base image "
        "dm-test/never-built:1.0 is not on the engine and cannot be pulled ("
    )
    assert msg.endswith(
        "Build or load it first (%docker_images lists what the engine has), "
        "or use another base image."
    )


@pytest.mark.parametrize(
    "cell, expected",
    [
        (
            "%%docker_build\nFROM busybox\nRUNN echo\n",
            "Dockerfile line 2: unknown instruction 'RUNN'. Did you mean RUN?",
        ),
        (
            "%%docker_build\n# only a comment\n",
            "The Dockerfile has no instructions. Start it with FROM IMAGE.",
        ),
        (
            "%%docker_build\nRUN echo\n",
            "Dockerfile line 1: the first instruction must be FROM (ARG may come before it). "
            "Start with FROM IMAGE, e.g. FROM python:3.12-slim.",
        ),
        (
            # "My" is a registry (an upper-case first part is one, for current engines).
            "%%docker_build -t My/App\nFROM busybox\n",
            "Invalid tag 'My/App': 'App' is not allowed. Repository names must be lowercase.",
        ),
        (
            "%%docker_build -t app:-bad\nFROM busybox\n",
            "Invalid tag 'app:-bad': bad tag '-bad'. A tag has up to 128 letters, digits, '_', "
            "'.' or '-' and does not start with '.' or '-'.",
        ),
        (
            "%%docker_build --add /nonexistent/file.txt\nFROM busybox\n",
            "--add /nonexistent/file.txt: /nonexistent/file.txt does not exist. Check the path.",
        ),
        (
            "%%docker_build --context /nonexistent/dir\nFROM busybox\n",
            "--context /nonexistent/dir: /nonexistent/dir does not exist. Give a folder.",
        ),
        (
            "%%docker_build --squash\nFROM busybox\n",
            "%docker_build: unrecognized arguments: --squash. See %docker_build? for the options.",
        ),
        (
            "%%docker_build --rm=maybe\nFROM busybox\n",
            "%docker_build: argument --rm: invalid boolean value: 'maybe'. See %docker_build? for "
            "the options.",
        ),
        (
            "%%docker_build --build-arg =x\nFROM busybox\n",
            "Invalid --build-arg '=x'. Use --build-arg NAME=VALUE.",
        ),
        (
            "%docker_build",
            "The cell is empty: there is no Dockerfile to build. Write a Dockerfile "
            "in the cell (FROM ...), or pass --file PATH.",
        ),
        (
            "%docker_build --file /nonexistent/Dockerfile",
            "--file /nonexistent/Dockerfile: no such file. Give the path of a Dockerfile.",
        ),
        (
            "%%docker_build -t upper/Case\nFROM busybox\n",
            "Invalid tag 'upper/Case': 'Case' is not allowed. Repository names must be lowercase.",
        ),
        (
            "%%docker_build --add /etc/passwd:Dockerfile\nFROM busybox\n",
            "--add /etc/passwd:Dockerfile: Dockerfile is where the Dockerfile being built goes. "
            "Give another DEST.",
        ),
        (
            "%%docker_build --add /etc/passwd --add /etc/hosts:passwd\nFROM busybox\n",
            "--add /etc/hosts:passwd: passwd is already in the context (from --add /etc/passwd). "
            "Give each --add a DEST of its own.",
        ),
        (
            "%%docker_build -t dm-test/empty\n\n",
            "The cell is empty: there is no Dockerfile to build. Write a Dockerfile "
            "in the cell (FROM ...), or pass --file PATH.",
        ),
    ],
)
def test_bad_input_is_one_line(built, engine_api, cell, expected):
    images = len(engine_api.images(all=True))
    assert built(cell).usage_error == expected
    assert len(engine_api.images(all=True)) == images  # nothing was built


def test_dockerfile_the_engine_rejects(built):
    """A Dockerfile our light check lets through but the engine's parser refuses."""
    msg = built(f"%%docker_build\nFROM {os.environ['BASE']}\nENV\n").usage_error
    assert msg == "Dockerfile line 2: ENV requires at least one argument."


def test_options_reach_the_engine(built, engine_api, monkeypatch):
    monkeypatch.setenv("FROM_ENV", "environment value")
    built("greeting = 'hello there'")
    cell = built(
        "%%docker_build -t dm-test/options --progress none "
        "--build-arg 'GREETING={greeting}' --build-arg FROM_ENV --build-arg NOT_SET "
        "--label team=data --label 'note=two words' --target final\n"
        f"FROM {os.environ['BASE']} AS base\n"
        "ARG GREETING\nARG FROM_ENV\nARG NOT_SET=default-kept\n"
        'RUN echo "$GREETING|$FROM_ENV|$NOT_SET" > /args\n'
        "FROM base AS final\nRUN cp /args /final\n"
        f"FROM {os.environ['BASE']} AS unused\nRUN exit 1\n"
    )
    assert cell.error is None, cell.err
    assert "Building" not in cell.out  # --progress none
    info = engine_api.inspect_image("dm-test/options")
    assert info["Config"]["Labels"] == {"team": "data", "note": "two words"}
    out = run_in(engine_api, "dm-test/options", "cat /final")
    assert out == "hello there|environment value|default-kept\n"


def test_cell_body_is_literal(built, engine_api):
    """No {var} or $var expansion inside the Dockerfile: only the options line expands."""
    built("name = 'SHOULD-NOT-APPEAR'")
    cell = built(
        "%%docker_build -t dm-test/literal --progress none\n"
        f"FROM {os.environ['BASE']}\n"
        'RUN echo "{name} $HOME" > /literal\n'
    )
    assert cell.error is None, cell.err
    assert (
        run_in(engine_api, "dm-test/literal", "cat /literal") == "{name} /\n"
    )  # $HOME of the image


def test_add_files_and_folders(built, engine_api, tmp_path):
    (tmp_path / "requirements.txt").write_text("numpy==2.0\n")
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "mod.py").write_text("x = 1\n")
    (src / "run.sh").write_text("#!/bin/sh\necho run\n")
    os.chmod(src / "run.sh", 0o755)
    cell = built(
        f"%%docker_build -t dm-test/added --progress none --add {tmp_path}/requirements.txt "
        f"--add {src}/:app/src\n"
        f"FROM {os.environ['BASE']}\n"
        "COPY requirements.txt /app/\nCOPY app/src /app/src\nCOPY . /everything\n"
    )
    assert cell.error is None, cell.err
    listing = image_files(engine_api, "dm-test/added", "/app")
    assert listing.split() == [
        ".",
        "./requirements.txt",
        "./src",
        "./src/pkg",
        "./src/pkg/mod.py",
        "./src/run.sh",
    ]
    assert run_in(engine_api, "dm-test/added", "/app/src/run.sh") == "run\n"
    # The Dockerfile and .dockerignore we generate stay out of `COPY .`.
    everything = image_files(engine_api, "dm-test/added", "/everything").split()
    assert "./Dockerfile" not in everything and "./.dockerignore" not in everything


def test_file_option_and_line_magic(built, engine_api, tmp_path):
    (tmp_path / "Dockerfile").write_text(f"FROM {os.environ['BASE']}\nRUN echo from-file > /f\n")
    cell = built(f"%docker_build --file {tmp_path}/Dockerfile -t dm-test/fromfile --progress none")
    assert cell.error is None, cell.err
    assert run_in(engine_api, "dm-test/fromfile", "cat /f") == "from-file\n"
    both = built(f"%%docker_build --file {tmp_path}/Dockerfile\nFROM busybox\n").usage_error
    assert both == "Both a Dockerfile in the cell and --file were given. Use one or the other."


def test_quiet_prints_the_image_id(built):
    cell = built(f"%%docker_build -q\nFROM {os.environ['BASE']}\nLABEL quiet=yes\n")
    assert cell.error is None, cell.err
    assert cell.out.splitlines()[0] == cell.value.image_id
    assert cell.value.image_id.startswith("sha256:")


def test_python_api(built, engine_api):
    result = docker_magics.build(
        f"FROM {os.environ['BASE']}\nRUN echo api > /api\n",
        tags=["dm-test/api:1"],
        build_args={"UNUSED": "1"},
        progress="none",
    )
    assert result.ok and result.tags == ["dm-test/api:1"]
    assert run_in(engine_api, "dm-test/api:1", "cat /api") == "api\n"
    with pytest.raises(docker_magics.errors.BuildFailed) as failed:
        docker_magics.build(f"FROM {os.environ['BASE']}\nRUN exit 4\n", progress="none")
    assert "exit code 4" in str(failed.value)
    assert failed.value.result.steps[-1].status == "failed"


# -- a directory context, checked file by file against `docker build` -------------------


def make_context(root):
    files = {
        "app/main.py": "print('main')\n",
        "app/tests/test_main.py": "def test(): pass\n",
        "app/__pycache__/main.cpython-311.pyc": "bytecode",
        "data/raw/big.csv": "a,b\n1,2\n",
        "data/raw/keep.csv": "keep\n",
        "data/processed/out.parquet": "parquet",
        "docs/index.md": "# docs\n",
        "docs/draft.md": "draft\n",
        ".git/HEAD": "ref: refs/heads/main\n",
        "secrets/token.txt": "s3cr3t\n",
        "README.md": "readme\n",
        "notes.tmp": "tmp\n",
        "sub/notes.tmp": "tmp\n",
        "weird name with spaces.txt": "spaces\n",
        "ünïcode.txt": "unicode\n",
    }
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    os.symlink("app/main.py", root / "main-link.py")
    (root / ".dockerignore").write_text(
        "# what the CLI would leave out\n"
        ".git\n"
        "**/__pycache__\n"
        "**/*.tmp\n"
        "/secrets\n"
        "data/raw/*\n"
        "!data/raw/keep.csv\n"
        "docs/**\n"
        "!docs/index.md\n"
        "app/tests/\n"
    )
    (root / "Dockerfile").write_text("this file is ignored: the cell is the Dockerfile\n")


def test_directory_context_matches_docker_build(built, engine_api, tmp_path, docker_cli, engine):
    make_context(tmp_path)
    dockerfile = f"FROM {os.environ['BASE']}\nCOPY . /ctx\n"
    cell = built(
        f"%%docker_build -t dm-test/ctx-ours --progress none --context {tmp_path}\n" + dockerfile
    )
    assert cell.error is None, cell.err
    # How much was sent, as `docker build` says "Sending build context to Docker daemon".
    assert f"  context: the folder {tmp_path}: " in repr(cell.value)
    assert repr(cell.value).split("  context: ")[1].split("\n")[0].endswith("B sent")
    reference = subprocess.run(
        [docker_cli, "build", "-q", "-t", "dm-test/ctx-cli", "-f", "-", str(tmp_path)],
        input=dockerfile,
        text=True,
        capture_output=True,
        env={**os.environ, "DOCKER_HOST": engine.url, "DOCKER_BUILDKIT": "0"},
    )
    assert reference.returncode == 0, reference.stderr
    ours = image_files(engine_api, "dm-test/ctx-ours", "/ctx")
    theirs = image_files(engine_api, "dm-test/ctx-cli", "/ctx")
    assert ours == theirs
    assert "./data/raw/keep.csv" in ours and "./docs/index.md" in ours
    assert "./secrets" not in ours and "./notes.tmp" not in ours and "./.git" not in ours
    assert "./ünïcode.txt" in ours and "./weird name with spaces.txt" in ours
    check = "cat /ctx/app/main.py; readlink /ctx/main-link.py"
    assert run_in(engine_api, "dm-test/ctx-ours", check) == run_in(
        engine_api, "dm-test/ctx-cli", check
    )


def test_network_platform_and_cache_from(built, engine_api):
    base = os.environ["BASE"]
    first = built(
        f"%%docker_build -t dm-test/netplat --progress none --network none "
        f"--platform linux/amd64\nFROM {base}\nRUN ip link | grep -c ': ' > /links\n"
    )
    assert first.error is None, first.err
    # Only the loopback interface exists with --network none.
    assert run_in(engine_api, "dm-test/netplat", "cat /links") == "1\n"
    again = built(
        f"%%docker_build --progress none --network none --cache-from dm-test/netplat "
        f"\nFROM {base}\nRUN ip link | grep -c ': ' > /links\n"
    )
    assert again.error is None, again.err
    assert again.value.steps[-1].status == "cached"


def test_local_file_error_during_upload_is_not_blamed_on_the_engine(engine, engine_api):
    """A context file that fails while being sent reaches us wrapped by requests as a lost
    connection; the line must name the file, not the engine's socket."""
    from docker_magics.engine.diagnose import explain
    from docker_magics.engine.endpoints import resolve

    def body():
        yield b"\0" * 1024
        raise PermissionError(13, "Permission denied", "/data/private.csv")

    with pytest.raises(Exception) as caught:
        engine_api._post(engine_api._url("/build"), data=body())
    line = str(explain(caught.value, resolve(engine.url)))
    assert line == (
        "Cannot read /data/private.csv: Permission denied. Check that it exists and is "
        "readable (or leave it out)."
    )
    # A program that is missing (ssh, for ssh:// engines) is not a file of the context.
    missing_ssh = FileNotFoundError(2, "No such file or directory", "ssh")
    assert not str(explain(missing_ssh, resolve("ssh://me@host"))).startswith("Cannot read")


def test_directory_context_rerun_is_cached(built, tmp_path):
    """An unchanged re-run with --context is all cached: the Dockerfile's name, listed in
    the .dockerignore that `COPY .` copies, is the same every time (it used to be random)."""
    (tmp_path / "app.py").write_text("print(1)\n")
    (tmp_path / "old.pyc").write_text("bytecode")
    (tmp_path / ".dockerignore").write_text("*.pyc\n")  # it does not list itself
    cell = (
        f"%%docker_build --progress plain --context {tmp_path}\n"
        f"FROM {os.environ['BASE']}\nCOPY . /app\nRUN ls -a /app > /listing\n"
    )
    first = built(cell)
    assert first.error is None, first.err
    again = built(cell)
    assert again.error is None, again.err
    assert [s.status for s in again.value.steps][1:] == ["cached", "cached"]
    assert again.value.image_id == first.value.image_id


def test_either_packer_hits_the_same_cache(built, engine_api, tmp_path, monkeypatch):
    """The classic builder keys `COPY .` on each file's header and content: a folder packed
    by Python and the same folder copied by GNU tar must give the same cache hits."""
    make_context(tmp_path)
    cell = (
        f"%%docker_build -t dm-test/packers --progress plain --context {tmp_path}\n"
        f"FROM {os.environ['BASE']}\nCOPY . /ctx\nRUN ls -laR /ctx > /listing\n"
    )
    monkeypatch.setenv("DOCKER_MAGICS_PACKER", "python")
    first = built(cell)
    assert first.error is None, first.err
    monkeypatch.setenv("DOCKER_MAGICS_PACKER", "")  # GNU tar, which CI's machines have
    again = built(cell)
    assert again.error is None, again.err
    assert [s.status for s in again.value.steps][1:] == ["cached", "cached"]
    assert again.value.image_id == first.value.image_id
    assert "./ünïcode.txt" in image_files(engine_api, "dm-test/packers", "/ctx")


def test_quiet_failure_shows_the_failing_steps_output(built):
    """With -q (progress none) nothing else is printed: the failing step's last lines go to
    stderr, as `docker build -q` does, before the error that quotes its last words."""
    base = os.environ["BASE"]
    cell = built(
        f"%%docker_build -q\nFROM {base}\nRUN echo early\n"
        "RUN echo about to fail; echo bad thing >&2; exit 7\n"
    )
    assert cell.usage_error == (
        "Step 3/3 (RUN echo about to fail; echo bad thing >&2; exit 7) failed with exit code 7: "
        "bad thing"
    )
    assert cell.out == ""
    header, *shown = cell.err.splitlines()[:3]
    assert header == (
        "--- the last 2 lines of step 3/3 RUN echo about to fail; echo bad thing >&2; exit 7 ---"
    )
    # The classic builder sends a step's stdout and stderr in no fixed order.
    assert sorted(shown) == ["about to fail", "bad thing"]
    assert "early" not in cell.err
    silent = built(f"%%docker_build -q\nFROM {base}\nRUN exit 3\n")
    assert silent.usage_error == (
        "Step 2/2 (RUN exit 3) failed with exit code 3 without printing anything. Fix the "
        "command and run the cell again."
    )
    assert silent.err.startswith("UsageError")


def test_dockerfile_with_a_byte_order_mark(built, engine_api, tmp_path):
    base = os.environ["BASE"]
    path = tmp_path / "Dockerfile"
    path.write_bytes(f"\ufeffFROM {base}\nRUN echo bom > /bom\n".encode())
    cell = built(f"%docker_build --file {path} -t dm-test/bom --progress none")
    assert cell.error is None, cell.err
    assert run_in(engine_api, "dm-test/bom", "cat /bom") == "bom\n"
    cell = built(f"%%docker_build -t dm-test/bom-cell --progress none\n\ufeffFROM {base}\n")
    assert cell.error is None, cell.err


@pytest.mark.parametrize(
    "options, steps",
    [("--target one", 3), ("--label a=1 --label b=2", 7), ("--target TWO --label a=1", 6)],
)
def test_announced_steps_match_the_engine(built, options, steps):
    """The header's count is what the engine numbers: the stages up to --target, one LABEL
    step per --label, the ARGs before FROM."""
    base = os.environ["BASE"]
    cell = built(
        f"%%docker_build --progress plain {options}\n"
        f"ARG X=1\nFROM {base} AS one\nRUN echo 1\nFROM {base} AS two\nRUN echo 2\n"
    )
    assert cell.error is None, cell.err
    assert f"from the Dockerfile ({steps} steps)" in cell.out.splitlines()[0]
    numbered = re.findall(r"^Step (\d+)/(\d+) :", cell.out, re.M)
    assert numbered == [(str(n), str(steps)) for n in range(1, steps + 1)]


@pytest.mark.parametrize("builder", ["classic", "buildkit"])
def test_pull_of_a_base_image_the_engine_has(built, builder):
    """--pull with no registry to pull from: the local image is there, only the refresh
    failed (the message used to say the image was not on the engine)."""
    base = os.environ["BASE"]
    msg = built(
        f"%%docker_build --pull --builder {builder} --progress none\nFROM {base}\nRUN true\n"
    ).usage_error
    assert "failed: --pull could not refresh the base image " in msg, msg
    assert base in msg and "not on the engine" not in msg
    assert msg.endswith("The engine has it: without --pull the build uses that one.")
    assert (
        built(
            f"%%docker_build --builder {builder} --network none --progress none\n"
            f"FROM {base}\nRUN true\n"
        ).error
        is None
    )


HEREDOC = "RUN <<EOF\n# set up\necho hi\nEOF\n"


def test_heredoc_is_refused_by_the_classic_builder(built, engine_api):
    """20.10's classic builder fails on a heredoc's first line; 26's runs ``RUN <<EOF`` as
    an empty command, leaving the heredoc out without a word. Refused before sending."""
    images = len(engine_api.images(all=True))
    msg = built(
        f"%%docker_build --builder classic --progress none\nFROM {os.environ['BASE']}\n{HEREDOC}"
    ).usage_error
    assert msg == (
        "Dockerfile line 2: RUN <<EOF has a heredoc, which the classic builder does not run "
        "(newer engines silently leave its lines out). Build with --builder buildkit, or put "
        "the commands on the RUN line (RUN a && b)."
    )
    assert len(engine_api.images(all=True)) == images


def test_heredoc_with_buildkit(built, engine):
    """BuildKit runs heredocs where its Dockerfile frontend has them (Docker 23 and later);
    20.10's fails on the heredoc's first line, which is explained."""
    cell = built(
        "%%docker_build --builder buildkit --network none --progress none\n"
        f"FROM {os.environ['BASE']}\n{HEREDOC}"
    )
    if engine.api_version >= (1, 42):
        assert cell.error is None, cell.err
        assert "hi" in cell.value.log.text().splitlines()
        return
    assert cell.usage_error == (
        "Dockerfile line 4: unknown instruction: ECHO. It is in the heredoc of line 2 (RUN "
        "<<EOF), and this engine's Dockerfile parser does not support heredocs. Put the "
        "commands on the RUN line (RUN a && b), or --add a script and RUN it."
    )


def test_python_api_checks_its_arguments(built, engine_api):
    base = os.environ["BASE"]
    with pytest.raises(BadArgument) as err:
        docker_magics.build(f"FROM {base}\n", progress="bogus")
    assert str(err.value) == "Unknown progress mode 'bogus'. Use auto, widget, plain or none."
    # One string is one item (a tag used to be taken character by character).
    result = docker_magics.build(
        f"FROM {base}\nLABEL x=1\n",
        tags="dm-test/one-tag:1",
        labels="team=data",
        cache_from=base,
        build_args={"N": 3},
        progress="none",
    )
    assert result.tags == ["dm-test/one-tag:1"]
    labels = engine_api.inspect_image("dm-test/one-tag:1")["Config"]["Labels"]
    assert labels == {"x": "1", "team": "data"}
    for kwargs, message in [
        ({"tags": 5}, "tags must be a string or a list of strings, not int."),
        ({"tags": ["dm-test/a", None]}, "tags must hold strings, not NoneType."),
        ({"build_args": {"A": None}}, "build_args['A'] must be a string, not NoneType."),
        ({"labels": {"bad name": "x"}}, "Invalid name 'bad name' in labels."),
        ({"cache_from": b"img"}, "cache_from must be a string or a list of strings, not bytes."),
        ({"secrets": [b"id=x"]}, "secrets must hold strings, not bytes."),
        ({"no_cache": "false"}, "no_cache must be True or False, not 'false'."),
        ({"target": 1}, "target must be a string, not int."),
    ]:
        with pytest.raises(BadArgument) as err:
            docker_magics.build(f"FROM {base}\n", progress="none", **kwargs)
        assert str(err.value).startswith(message), kwargs


def test_help_and_a_cell_that_is_only_options(built, engine_api, tmp_path):
    shown = built("%%docker_build --help\nFROM busybox\n")
    assert shown.error is None, shown.err
    assert "--context DIR" in shown.out and "-h, --help" in shown.out
    assert built("%docker_build -h").out == shown.out
    # With --file the cell may be empty (IPython refuses an empty cell magic on its own).
    (tmp_path / "Dockerfile").write_text(f"FROM {os.environ['BASE']}\nRUN echo f > /f\n")
    cell = built(
        f"%%docker_build --file {tmp_path}/Dockerfile -t dm-test/only-options --progress none\n"
    )
    assert cell.error is None, cell.err
    assert run_in(engine_api, "dm-test/only-options", "cat /f") == "f\n"


def test_folder_context_says_what_it_sends(built, tmp_path, monkeypatch):
    """Like the CLI's "Sending build context to Docker daemon": lines while a slow context
    goes out (throttled) and one at the end; a cell's small context stays quiet."""
    from docker_magics.builds import builder

    quiet = built(f"%%docker_build --progress plain\nFROM {os.environ['BASE']}\n")
    assert "build context" not in quiet.out
    for i in range(3):
        (tmp_path / f"f{i}.bin").write_bytes(os.urandom(4 << 20))
    # As if sending were slow: a line from the first chunk on, then none for an hour.
    monkeypatch.setattr(builder._SendingNotes, "FIRST", 0.0)
    monkeypatch.setattr(builder._SendingNotes, "EVERY", 3600.0)
    cell = built(
        f"%%docker_build --progress plain --context {tmp_path}\n"
        f"FROM {os.environ['BASE']}\nCOPY . /c\n"
    )
    assert cell.error is None, cell.err
    lines = cell.out.splitlines()
    sending = [n for n, line in enumerate(lines) if line.startswith("Sending build context: ")]
    assert len(sending) == 1 and lines[sending[0]].endswith(" so far…"), lines
    sent = re.search(r"context: the folder .*: \d+ entries, (\S+) sent", repr(cell.value))
    end = lines.index(next(line for line in lines if line.startswith("Sent build context")))
    # 3 files, the Dockerfile and the .dockerignore.
    assert re.fullmatch(rf"Sent build context: 5 files, {sent.group(1)} in \d+\.\ds", lines[end])
    assert 0 < sending[0] < end < lines.index(f"Step 1/2 : FROM {os.environ['BASE']}")
