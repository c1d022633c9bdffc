"""Pure: what a BuildKit build's summary says, from streams recorded on Docker Engine 20.10
and 26 (tests/unit/data): the tags the engine gave the image, the Dockerfile's steps (not
BuildKit's internal ones), the builder that ran.

The recordings (``%%docker_build --builder buildkit --network none``, a busybox ``bb:1``):
- bk-two-stage-26 (engine 26, nothing cached; ``-t demo/x -t localhost:5000/demo/x:2
  -t library/plain:3``) and bk-two-stage (engine 20.10, all cached; ``-t rec/two
  -t rec/two:2``): TWO_STAGE below.
- bk-success-26 (engine 26, ``--no-cache``, ``-t rec/bk:1 --add data.txt``): SUCCESS below.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from docker_magics.builds import builder, stages
from docker_magics.builds.dockerfile import parse
from docker_magics.builds.result import BuildRecorder
from docker_magics.engine import events as ev
from tests.support.recorded import buildkit_recorder

DATA = Path(__file__).parent / "data"
TWO_STAGE = (
    "FROM bb:1 AS base\nRUN echo hello && echo err >&2\nFROM base AS final\n"
    "COPY --from=base /bin/busybox /copied\nRUN ls /copied\n"
)
SUCCESS = (
    "FROM bb:1\nLABEL a=b\nRUN echo hello && echo err >&2\nCOPY data.txt /data.txt\n"
    'RUN cat /data.txt\nCMD ["sh"]\n'
)
# bk-parallel (20.10): two stages a and b, and a third copying from both.
PARALLEL = (
    "FROM busybox AS a\nRUN sleep 1 && echo a > /a\nFROM busybox AS b\n"
    "RUN sleep 1 && echo b > /b\nFROM busybox\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n"
)


def test_engine_26_names_the_image_only_in_the_exporters_progress():
    """No "Successfully tagged" from engine 26: "naming to docker.io/demo/x:latest"."""
    recorder = buildkit_recorder("bk-two-stage-26")
    assert recorder.tags == ["demo/x:latest", "localhost:5000/demo/x:2", "plain:3"]
    assert recorder.image_id == (
        "sha256:de4a10ccc181c15c5769d6787311cd8841beb29c974fb7956e3abda443686f3c"
    )


def test_engine_20_10_names_it_twice_once_without_latest():
    """20.10 says "naming to docker.io/rec/two" and "Successfully tagged rec/two:latest":
    one tag."""
    assert buildkit_recorder("bk-two-stage").tags == ["rec/two:latest", "rec/two:2"]


def test_tags_in_the_order_asked_and_checked_on_the_image():
    asked = ["demo/x", "docker.io/library/plain:3", "localhost:5000/demo/x:2"]
    named = ["localhost:5000/demo/x:2", "demo/x:latest", "plain:3"]
    assert builder._tags(named, asked, {}) == [
        "demo/x:latest",
        "plain:3",
        "localhost:5000/demo/x:2",
    ]
    # The stream named none: the image's own tags say which it got.
    on_image = {"RepoTags": ["demo/x:latest", "other:1"]}
    assert builder._tags([], asked, on_image) == ["demo/x:latest"]
    assert builder._tags([], asked, {}) == []
    # A name the engine gave that was not asked for in this form is kept as it said it.
    assert builder._tags(["rec/bk:1"], [], {}) == ["rec/bk:1"]


@pytest.mark.parametrize(
    "name, dockerfile, instructions, cached",
    [
        # 5 instructions, of which BuildKit numbers 4 ([base 1/2] ... [final 2/2]), and 4
        # internal steps (load build definition, metadata, .dockerignore; exporting).
        ("bk-two-stage-26", TWO_STAGE, 5, 0),
        ("bk-two-stage", TWO_STAGE, 5, 3),
        ("bk-success-26", SUCCESS, 6, 0),
        # Stages a and b: their FROM is shared with the last stage's, named only once.
        ("bk-parallel", PARALLEL, 7, 0),
    ],
)
def test_steps_are_the_dockerfiles(name, dockerfile, instructions, cached):
    recorder = buildkit_recorder(name)
    names = [step.name for step in recorder.steps.values()]
    assert "exporting to image" in names  # BuildKit's internal steps are kept, not counted
    recorder.dockerfile_steps = stages.instructions_run(parse(dockerfile), names)
    assert recorder.dockerfile_steps == instructions
    result = recorder.result(size=2_000_000)
    assert result.builder == "buildkit" and result.cached_steps == cached
    assert result.summary().startswith(f"Built {result.short_id} (")
    assert ") with BuildKit, 2MB in " in result.summary()
    assert result.summary().endswith(f"s, {cached} of {instructions} steps cached")


def test_stages_a_build_ran():
    """Stages BuildKit did not build (not needed for the target) are not counted; the
    target is, even when none of its instructions makes a step of its own."""
    three = parse(
        "FROM bb:1 AS unused\nRUN x\nRUN y\nFROM bb:1 AS base\nRUN z\n"
        'FROM base AS final\nENV A=1\nCMD ["sh"]\n'
    )
    assert [len(s) for s in stages.split(three)] == [3, 2, 3]
    assert stages.instructions_run(three, ["[base 1/2] FROM bb:1", "[base 2/2] RUN z"]) == 5
    assert stages.instructions_run(three, ["[stage-0 2/3] RUN x"], target="unused") == 3
    assert stages.instructions_run(three, [], target="BASE") == 2  # stage names ignore case
    single = parse("ARG V=1\nFROM bb:1\nRUN a\n")  # the ARG before FROM is in no stage
    assert stages.instructions_run(single, ["[2/2] RUN a"]) == 2
    assert stages.instructions_run(single, ["[stage-0 2/2] RUN a"]) == 2


def test_classic_summary_says_its_builder():
    recorder = BuildRecorder("t")
    for key, status in (("1", "done"), ("2", "cached")):
        recorder.handle(ev.StepStarted(key, "RUN x", int(key), 2))
        recorder.handle(ev.StepCached(key) if status == "cached" else ev.StepFinished(key))
    recorder.handle(ev.ImageId("sha256:" + "ab" * 32))
    assert (
        recorder.result()
        .summary()
        .startswith(f"Built {'ab' * 6} (no tag) with the classic builder in ")
    )
    assert recorder.result().summary().endswith("s, 1 of 2 steps cached")
