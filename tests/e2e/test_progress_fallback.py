"""Widgets asked for where no Jupyter kernel runs (called as the Python API is): the progress
falls back to plain text and its first line says why, in the API's words and in a magic's."""

from __future__ import annotations

from docker_magics.builds.progress import BuildText, BuildWidget
from docker_magics.builds.result import BuildRecorder
from docker_magics.display import progress
from docker_magics.errors import in_magic
from tests.support.timing import Clock, Streams


def test_widgets_asked_for_without_a_notebook_fall_back_to_text_and_say_why():
    mode, why = progress.choose_mode("widget")  # no kernel here, called as the API is
    assert mode == "plain"
    assert why == "progress='widget' needs a notebook (Jupyter kernel): showing plain text"
    with in_magic():  # in a magic's words
        assert progress.choose_mode("widget")[1] == (
            "--progress widget needs a notebook (Jupyter kernel): showing plain text"
        )
    assert progress.choose_mode("auto") == ("plain", None)
    assert progress.choose_mode("none") == ("none", None)
    clock = Clock()
    streams = Streams(clock)
    renderer = progress.make_renderer(
        "widget",
        BuildRecorder("t"),
        lambda r: BuildText(r, streams.out, streams.err, clock=clock),
        BuildWidget,
    )
    assert isinstance(renderer, BuildText)
    renderer.start()
    renderer.finish(None, "Built")
    assert streams.text().splitlines()[0] == why
