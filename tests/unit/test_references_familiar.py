"""Pure: references shown as the docker CLI shows them (``familiar``). The expected names
are distribution/reference's own, from its normalize_test.go (TestParseRepositoryInfo: each
case's full and ambiguous names have the familiar name; TestParseReferenceWithTagAndDigest)."""

from __future__ import annotations

import pytest

from docker_magics.registry.references import familiar

# (familiar name, full name, ambiguous name or "") from TestParseRepositoryInfo
REPOSITORY_INFO = [
    ("fooo/bar", "docker.io/fooo/bar", "index.docker.io/fooo/bar"),
    ("ubuntu", "docker.io/library/ubuntu", "library/ubuntu"),
    ("nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu", ""),
    ("other/library", "docker.io/other/library", ""),
    ("127.0.0.1:8000/private/moonbase", "127.0.0.1:8000/private/moonbase", ""),
    ("127.0.0.1:8000/privatebase", "127.0.0.1:8000/privatebase", ""),
    ("example.com/private/moonbase", "example.com/private/moonbase", ""),
    ("example.com:8000/privatebasee", "example.com:8000/privatebasee", ""),
    (
        "ubuntu-12.04-base",
        "docker.io/library/ubuntu-12.04-base",
        "index.docker.io/library/ubuntu-12.04-base",
    ),
    ("foo", "docker.io/library/foo", "docker.io/foo"),
    ("library/foo/bar", "docker.io/library/foo/bar", ""),
    ("store/foo/bar", "docker.io/store/foo/bar", ""),
]


@pytest.mark.parametrize("expected, full, ambiguous", REPOSITORY_INFO)
def test_familiar_names(expected, full, ambiguous):
    for name in filter(None, (expected, full, ambiguous)):
        assert familiar(name) == expected


def test_tag_and_digest_are_kept():
    short = "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"
    assert familiar("docker.io/library/" + short) == short


def test_default_tag():
    """As the engine names ``-t demo/x``: ``demo/x:latest`` (BuildKit's "naming to
    docker.io/demo/x:latest", the classic builder's "Successfully tagged demo/x:latest")."""
    assert familiar("demo/x", default_tag="latest") == "demo/x:latest"
    assert familiar("docker.io/demo/x:latest") == "demo/x:latest"
    assert familiar("localhost:5000/demo/x:2", default_tag="latest") == "localhost:5000/demo/x:2"
    digest = "x@sha256:" + "a" * 64
    assert familiar(digest, default_tag="latest") == digest
