"""Reading Dockerfiles, .dockerignore files and image names as Docker does, checked against
the real engine (20.10 or 26, whichever the run uses) and the docker CLI: what they accept
is accepted, what they refuse is refused in one line, and where an older engine refuses a
name the current grammar accepts, its error is explained."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from docker_magics.registry.references import parse_reference

pytestmark = pytest.mark.engine

LONG = "example.com/" + "a" * 250  # 262 characters, of which the path is 250
NEW_NAMES = ["Foo/bar", "[::1]:5000/app", LONG]  # current distribution/reference only


@pytest.fixture
def on(run, engine, busybox, monkeypatch, no_leftovers):
    """Connected to the engine; BASE is the busybox image."""
    monkeypatch.setenv("DOCKER_HOST", engine.url)
    assert run(f"%docker_connect {engine.url}").error is None
    monkeypatch.setenv("BASE", busybox)
    return run


def _major(engine_api) -> int:
    return int(engine_api.version()["Version"].split(".")[0])


def test_a_here_string_is_no_heredoc(on):
    """``<<<`` is a here-string: the lines after it are instructions, counted and checked."""
    base = os.environ["BASE"]
    run_line = "RUN echo 'grep -q x <<< \"hello\"'"
    cell = on(
        f"%%docker_build --builder classic --network none --progress plain\n"
        f"FROM {base}\n{run_line}\nENV A=1\nRUN true\n"
    )
    assert cell.error is None, cell.err
    assert "from the Dockerfile (4 steps)" in cell.out.splitlines()[0]
    assert re.findall(r"^Step \d+/(\d+) :", cell.out, re.M) == ["4"] * 4  # the engine's count
    typo = on(f"%%docker_build --progress none\nFROM {base}\n{run_line}\nCOPPY a b\n")
    assert typo.usage_error.startswith("Dockerfile line 3: unknown instruction 'COPPY'")


def test_another_frontend_is_left_to_read_the_file(on):
    """# syntax= naming another frontend: no local checks, and the progress says so. The
    classic builder ignores the directive: its own parser then refuses the typo."""
    base = os.environ["BASE"]
    cell = on(
        "%%docker_build --builder classic --progress plain\n"
        f"# syntax=example.com/frontends/other:1\nFROM {base}\nFOO bar\n"
    )
    assert "The Dockerfile asks for the frontend example.com/frontends/other:1" in cell.out
    assert "which the classic builder ignores" in cell.out
    assert re.search(r"line 3: unknown instruction: FOO", cell.usage_error, re.I)


@pytest.mark.parametrize("name", NEW_NAMES)
def test_names_of_the_current_grammar(on, engine_api, name):
    """Accepted here; engine 26 accepts them, 20.10 refuses them: its error is explained."""
    parse_reference(name)
    target = f"{name}:t"
    cell = on(f"%docker_tag {os.environ['BASE']} {target}")
    if _major(engine_api) >= 26:
        assert cell.error is None, cell.err
        assert engine_api.inspect_image(target)["Id"]
        engine_api.remove_image(target)
        return
    said = cell.usage_error
    version = engine_api.version()["Version"]
    assert said.startswith(f"The engine (Docker {version}) refused the name '{target[:30]}")
    assert said.endswith("Use a name it accepts, or a current engine (Docker 26 accepts it).")
    assert "older engines" in said


def test_a_build_tag_of_the_current_grammar(on, engine_api):
    cell = on(f"%%docker_build -t Foo/bar:t --progress none\nFROM {os.environ['BASE']}\n")
    if _major(engine_api) >= 26:
        assert cell.error is None, cell.err
        engine_api.remove_image("Foo/bar:t")
        return
    assert "older engines read 'Foo' as a Docker Hub namespace" in cell.usage_error


def test_digests_as_the_engine_checks_them(engine_api):
    """go-digest as dockerd links it: sha256, sha384 and sha512 are known (distribution/
    reference's test table refuses sha512 only because its test binary lacks it)."""
    from docker.errors import APIError

    def engine_says(reference: str) -> str:
        try:
            engine_api.inspect_image(reference)
        except APIError as exc:
            return str(exc.explanation)
        return "found"

    for algorithm, length in (("sha256", 64), ("sha384", 96), ("sha512", 128)):
        ref = f"nothing@{algorithm}:{'a' * length}"
        assert "no such image" in engine_says(ref).lower()
        parse_reference(ref)
    for ref, error in (
        ("nothing@sha256:" + "a" * 63, "invalid checksum digest length"),
        ("nothing@md5:" + "a" * 32, "unsupported digest algorithm"),
        ("nothing@sha256:" + "A" * 64, "invalid checksum digest format"),
    ):
        assert error in engine_says(ref)
        with pytest.raises(Exception, match="digest"):
            parse_reference(ref)


@pytest.mark.parametrize("pattern", ["[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]"])
def test_malformed_dockerignore_patterns_are_refused_as_the_cli_refuses_them(
    on, tmp_path, docker_cli, engine, pattern
):
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / ".dockerignore").write_text(f"# a comment\n{pattern}\n")
    dockerfile = f"FROM {os.environ['BASE']}\nCOPY . /x\n"
    cli = subprocess.run(
        [docker_cli, "build", "-q", "-f", "-", str(tmp_path)],
        input=dockerfile,
        text=True,
        capture_output=True,
        env={**os.environ, "DOCKER_HOST": engine.url, "DOCKER_BUILDKIT": "0"},
    )
    assert cli.returncode != 0 and "syntax error in pattern" in cli.stderr
    said = on(f"%%docker_build --progress none --context {tmp_path}\n{dockerfile}").usage_error
    assert said.startswith(f".dockerignore line 2: syntax error in pattern: {pattern!r}")


def test_the_longest_line_is_64_kib_less_one_byte(on, tmp_path, docker_cli, engine):
    """bufio's limit: the engine refuses a Dockerfile line of 65536 bytes and takes 65535;
    the CLI the same of a .dockerignore line. So does the local reading."""
    from docker_magics.builds.dockerfile import parse
    from docker_magics.builds.dockerignore import read_patterns
    from docker_magics.errors import BadArgument

    def cli_build(dockerfile: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [docker_cli, "build", "-q", "-f", "-", str(tmp_path)],
            input=dockerfile,
            text=True,
            capture_output=True,
            env={**os.environ, "DOCKER_HOST": engine.url, "DOCKER_BUILDKIT": "0"},
        )

    base = os.environ["BASE"]
    for size, fine in ((65535, True), (65536, False)):
        dockerfile = f"FROM {base}\nLABEL a={'b' * (size - len('LABEL a='))}\n"
        cli = cli_build(dockerfile)
        assert (cli.returncode == 0) is fine, cli.stderr
        if fine:
            parse(dockerfile)
        else:
            assert "dockerfile line greater than max allowed size of 65535" in cli.stderr
            with pytest.raises(BadArgument, match="^Dockerfile line 2: dockerfile line greater"):
                parse(dockerfile)
        (tmp_path / ".dockerignore").write_text("a" * size + "\n")
        cli = cli_build(f"FROM {base}\n")
        assert (cli.returncode == 0) is fine, cli.stderr
        if fine:
            read_patterns("a" * size + "\n")
        else:
            assert "error reading .dockerignore: bufio.Scanner: token too long" in cli.stderr
            with pytest.raises(BadArgument, match="^.dockerignore line 1 is longer than 65535"):
                read_patterns("a" * size + "\n")
