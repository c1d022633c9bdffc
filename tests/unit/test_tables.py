"""Pure tests of the table layer's formatting."""

from __future__ import annotations

import pytest

from docker_magics.display.tables import human_size


@pytest.mark.parametrize(
    "size, shown",
    [
        (None, ""),
        (0, "0B"),
        (999, "999B"),
        (999.6, "1kB"),
        (1_234_567, "1.23MB"),
        (999_500, "1MB"),  # rounds up into the next unit, never "1e+03kB"
        (999_600_000, "1GB"),
        (5 * 10**15, "5000TB"),
    ],
)
def test_human_size_like_the_cli_without_exponents(size, shown):
    assert human_size(size) == shown
