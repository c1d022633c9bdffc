"""Pure: a message says what to do in the words of whoever asked: a magic's options and
magics (``--file PATH``, ``%docker_images``) while a magic runs, the Python API's parameters
and functions (``file='PATH'``, ``docker_magics.images()``) otherwise."""

from __future__ import annotations

import pytest

import docker_magics as dm
from docker_magics.builds.context import AddSpec
from docker_magics.errors import BadArgument, how, in_magic, option, usage
from docker_magics.registry.failures import registry_failure
from docker_magics.runs.containers import _filters


def test_the_helpers_speak_the_callers_words():
    assert (how("%docker_images", "images()"), option("--secret")) == ("images()", "secrets")
    assert usage("--file", "PATH") == "file='PATH'"
    assert usage("--tlsverify") == "tlsverify=True"
    assert option("--secret-build-arg") == "secret_build_args"
    with in_magic():
        assert (how("%docker_images", "images()"), option("--secret")) == (
            "%docker_images",
            "--secret",
        )
        assert usage("--file", "PATH") == "--file PATH"
        assert usage("--tlsverify") == "--tlsverify"
    assert usage("--file", "PATH") == "file='PATH'"  # (only inside)


def one_line(call) -> str:
    with pytest.raises(BadArgument) as error:
        call()
    return str(error.value)


@pytest.mark.parametrize(
    ("call", "python", "magic"),
    [
        (
            lambda: dm.build(),
            "The Dockerfile is empty. Pass its text (FROM ...), or file='PATH'.",
            "The cell is empty: there is no Dockerfile to build. Write a Dockerfile in the "
            "cell (FROM ...), or pass --file PATH.",
        ),
        (
            lambda: dm.build(file="/no/such/Dockerfile"),
            "file='/no/such/Dockerfile': no such file. Give the path of a Dockerfile.",
            "--file /no/such/Dockerfile: no such file. Give the path of a Dockerfile.",
        ),
        (
            lambda: dm.build("FROM x\n", build_args=["A B=1"]),
            "Invalid build_args 'A B=1'. Use build_args='NAME=VALUE'.",
            "Invalid --build-arg 'A B=1'. Use --build-arg NAME=VALUE.",
        ),
        (
            lambda: AddSpec.parse("/no/such/file"),
            "add='/no/such/file': /no/such/file does not exist. Check the path.",
            "--add /no/such/file: /no/such/file does not exist. Check the path.",
        ),
        (
            lambda: _filters(["bogus"]),
            "Invalid filter 'bogus'. Use filters='KEY=VALUE'.",
            "Invalid filter 'bogus'. Use --filter KEY=VALUE.",
        ),
        (
            lambda: (setattr(dm.api, "_last_build", None), dm.last_build()),  # none ran yet
            "No build result in this session (none ran, or the last one failed before it "
            "started). Run docker_magics.build() first.",
            "No build result in this session (none ran, or the last one failed before it "
            "started). Run %%docker_build first.",
        ),
    ],
)
def test_api_errors_speak_python_and_magics_speak_options(call, python, magic):
    assert one_line(call) == python
    with in_magic():
        assert one_line(call) == magic


def test_a_push_of_a_missing_image_says_how_to_make_it():
    said = "An image does not exist locally with the tag: 127.0.0.1:5000/team/app"
    reference = "127.0.0.1:5000/team/app:1"
    python = registry_failure(said, "127.0.0.1:5000", had_credentials=False, reference=reference)
    assert python == (
        f"There is no image {reference} on the engine. Build it with docker_magics.build(..., "
        f"tags='{reference}'), or name an existing image so with docker_magics.tag('SOURCE', "
        f"'{reference}')"
    )
    with in_magic():
        magic = registry_failure(said, "127.0.0.1:5000", had_credentials=False, reference=reference)
    assert magic == (
        f"There is no image {reference} on the engine. Build it with %%docker_build -t "
        f"{reference}, or name an existing image so with %docker_tag SOURCE {reference}"
    )


def test_output_quoted_at_the_end_gets_no_full_stop():
    from docker_magics.errors import BuildFailed, EngineError, Quoting, RunFailed

    make = "Step 2/3 (RUN make) failed with exit code 2: make: *** [all] Error 2"
    assert str(BuildFailed(Quoting(make))) == make
    said = "The command in app:1 exited with code 1; its last output: done."
    assert str(RunFailed(Quoting(said + "  "))) == said  # its own full stop stays
    assert str(EngineError("The engine refused it.", "Try again")) == (
        "The engine refused it. Try again."
    )
