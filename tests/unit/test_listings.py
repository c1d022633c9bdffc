"""%docker_run, %%docker_run and the inspection magics against the real engine."""

from __future__ import annotations

import pytest

from docker_magics.runs.containers import human_age

pytestmark = pytest.mark.engine


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0.5, "Less than a second ago"),
        (1, "1 second ago"),
        (45, "45 seconds ago"),
        (61, "About a minute ago"),
        (600, "10 minutes ago"),
        (3700, "About an hour ago"),
        (3 * 3600, "3 hours ago"),
        (3 * 86400, "3 days ago"),
        (20 * 86400, "2 weeks ago"),
        (90 * 86400, "3 months ago"),
        (800 * 86400, "2 years ago"),
    ],
)
def test_ages_like_the_cli(seconds, text):
    assert human_age(1_000_000_000 - seconds, now=1_000_000_000) == text
