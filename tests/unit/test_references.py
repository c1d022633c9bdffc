"""Pure: image references against distribution/reference's own test tables
(reference_test.go, normalize_test.go, regexp_test.go), transcribed in
tests/unit/data/reference/distribution_reference.json with their commit; and Docker Hub's
one alias set. (Not covered: ParseDockerRef, FamiliarMatch and the JSON serialization, which
the package does not use.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from docker_magics.registry import credentials
from docker_magics.registry.references import (
    ANCHORED_NAME,
    DOCKER_HUB_ALIASES,
    DOCKER_HUB_INDEX,
    DOMAIN,
    IDENTIFIER,
    NAME_MAX,
    REFERENCE,
    ReferenceError,
    familiar,
    familiar_reference,
    is_docker_hub,
    older_grammar_refuses,
    parse,
    parse_any,
    parse_normalized,
    parse_reference,
    registry_key,
)

TABLES = json.loads(
    (Path(__file__).parent / "data" / "reference" / "distribution_reference.json").read_text()
)["tables"]


def cases(name: str):
    return TABLES[name]["cases"]


def _code(text: str) -> str | None:
    try:
        parse(text)
    except ReferenceError as exc:
        return exc.code
    return None


@pytest.mark.parametrize("case", cases("TestReferenceParse"), ids=lambda c: c["input"][:60])
def test_parse(case):
    text = case["input"]
    if "@sha512:" in text:
        # The table's test binary lacks crypto/sha512, so it expects ErrDigestUnsupported;
        # dockerd has it: tests/engine/test_fidelity.py::test_digests_as_the_engine_checks_them.
        assert case["err"] == "digest.ErrDigestUnsupported"
        assert parse(text).digest == text.split("@")[1]
        return
    if case.get("err"):
        assert _code(text) == case["err"]
        return
    ref = parse(text)
    assert str(ref) == text
    assert ref.repository == case["repository"]
    assert (ref.domain or "") == case.get("domain", "")
    assert (ref.tag or "") == case.get("tag", "")
    assert (ref.digest or "") == case.get("digest", "")


@pytest.mark.parametrize("case", cases("TestWithNameFailure"), ids=lambda c: c["input"][:40])
def test_names_that_are_not_names(case):
    """``WithName``: the anchored name grammar, and the path's length."""
    m = ANCHORED_NAME.match(case["input"])
    if case["err"] == "ErrNameTooLong":
        assert m and len(m.group(2)) > NAME_MAX
    else:
        assert m is None


@pytest.mark.parametrize("case", cases("TestDomainAndPath"), ids=lambda c: c["input"])
def test_domain_and_path(case):
    m = ANCHORED_NAME.match(case["input"])
    assert ((m.group(1) or ""), m.group(2)) == (case["domain"], case["path"])


@pytest.mark.parametrize("case", cases("TestParseNamed"), ids=lambda c: c["input"])
def test_parse_named(case):
    """``ParseNamed``: normalized, and refused unless written in full (canonical)."""
    ref = parse_normalized(case["input"])
    if case.get("err"):
        assert case["err"] == "ErrNameNotCanonical" and str(ref) != case["input"]
    else:
        assert str(ref) == case["input"]
        assert (ref.domain, ref.path) == (case["domain"], case["path"])


@pytest.mark.parametrize(
    "name",
    cases("TestValidateReferenceName.valid") + cases("TestValidateRemoteName.valid"),
)
def test_valid_names(name):
    parse_normalized(name)
    parse_reference(name)


@pytest.mark.parametrize(
    "name",
    cases("TestValidateReferenceName.invalid") + cases("TestValidateRemoteName.invalid"),
)
def test_invalid_names(name):
    with pytest.raises(ReferenceError):
        parse_normalized(name)
    with pytest.raises(Exception, match="^Invalid image name"):
        parse_reference(name)


def _repository_info():
    for case in cases("TestParseRepositoryInfo"):
        for key in ("FamiliarName", "FullName", "AmbiguousName"):
            if case[key]:
                yield case, case[key]


@pytest.mark.parametrize("case, text", list(_repository_info()), ids=lambda v: str(v)[:40])
def test_repository_info(case, text):
    ref = parse_normalized(text)
    assert familiar_reference(ref).repository == case["FamiliarName"]
    assert str(ref) == case["FullName"]
    assert (ref.domain, ref.path) == (case["Domain"], case["RemoteName"])


def test_tag_and_digest():
    short = cases("TestParseReferenceWithTagAndDigest")
    ref = parse_normalized(short)
    assert str(ref) == "docker.io/library/" + short
    assert ref.tag and ref.digest
    assert str(familiar_reference(ref)) == short
    assert familiar("docker.io/library/" + short) == short


@pytest.mark.parametrize("case", cases("TestParseAnyReference"), ids=lambda c: c["Reference"])
def test_parse_any(case):
    ref = parse_any(case["Reference"])
    assert str(ref) == case["Equivalent"]
    expected = case.get("Expected")
    if expected:  # digestReference("sha256:..."): an image ID, no name
        assert expected["__call__"] == "digestReference"
        assert (ref.path, ref.digest) == ("", expected["arg"])


@pytest.mark.parametrize("case", cases("TestNormalizedSplitHostname"), ids=lambda c: c["input"])
def test_normalized_split(case):
    ref = parse_normalized(case["input"])
    assert (ref.domain, ref.path) == (case["domain"], case["path"])


@pytest.mark.parametrize("case", cases("TestDomainRegexp"), ids=lambda c: c["input"])
def test_domain_regexp(case):
    assert bool(re.fullmatch(DOMAIN, case["input"], re.ASCII)) is case["match"]


def _submatches(regexp: re.Pattern, case: dict) -> None:
    m = regexp.match(case["input"])
    assert bool(m) is case["match"]
    if m:
        assert [g or "" for g in m.groups()][: len(case.get("subs") or [])] == (
            case.get("subs") or []
        )


@pytest.mark.parametrize("case", cases("TestFullNameRegexp"), ids=lambda c: c["input"][:50])
def test_full_name_regexp(case):
    _submatches(ANCHORED_NAME, case)


@pytest.mark.parametrize("case", cases("TestReferenceRegexp"), ids=lambda c: c["input"][:50])
def test_reference_regexp(case):
    _submatches(REFERENCE, case)


@pytest.mark.parametrize("case", cases("TestIdentifierRegexp"), ids=lambda c: c["input"][:50])
def test_identifier_regexp(case):
    assert bool(IDENTIFIER.match(case["input"])) is case["match"]


def test_an_image_id_is_no_name_but_runs():
    """ParseNormalizedNamed refuses 64 hex digits (normalize_test.go); the engine runs and
    tags an image by its ID (ParseAnyReference)."""
    image_id = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"
    with pytest.raises(Exception, match="64 hexadecimal digits are an image ID"):
        parse_reference(image_id)
    assert parse_reference(image_id, allow_id=True).digest == "sha256:" + image_id
    assert parse_reference("sha256:" + image_id, allow_id=True).path == ""


def test_what_older_engines_refuse():
    """Checked against Docker Engine 20.10.24 and 26.1.5 (tests/engine/test_fidelity.py)."""
    assert "Docker Hub namespace" in older_grammar_refuses("Foo/bar")
    assert "IPv6" in older_grammar_refuses("[::1]:5000/app")
    assert "255-character" in older_grammar_refuses("example.com/" + "a" * 250)
    for fine in ("busybox", "localhost/x", "127.0.0.1:5000/a/b:c", "example.com/" + "a" * 240):
        assert older_grammar_refuses(fine) is None
    assert older_grammar_refuses("UPPER/Case") is None  # refused by every engine


# --- Docker Hub: one set of names, used everywhere ------------------------------------------


@pytest.mark.parametrize(
    "name", ["docker.io", "index.docker.io", "registry-1.docker.io", DOCKER_HUB_INDEX]
)
def test_every_name_of_docker_hub_is_docker_hub_everywhere(name):
    assert name in DOCKER_HUB_ALIASES and is_docker_hub(name)
    assert registry_key(name) == credentials.INDEX == DOCKER_HUB_INDEX
    assert credentials.normalize_registry(name) == DOCKER_HUB_INDEX
    assert credentials.display_name(name) == "Docker Hub"
    if not name.startswith("https://"):
        assert credentials.registry_of(f"{name}/team/app:1") == DOCKER_HUB_INDEX


@pytest.mark.parametrize("image", ["busybox", "team/app", "library/busybox:1", "docker.io/x"])
def test_names_without_a_registry_are_on_docker_hub(image):
    assert credentials.registry_of(image) == DOCKER_HUB_INDEX


@pytest.mark.parametrize(
    "image, registry",
    [("127.0.0.1:5000/a", "127.0.0.1:5000"), ("Foo/bar", "Foo"), ("[::1]:5000/x", "[::1]:5000")],
)
def test_other_registries_keep_their_name(image, registry):
    """As the CLI keys credentials: the reference's domain (an upper-case first part is one)."""
    assert credentials.registry_of(image) == registry
    assert not is_docker_hub(registry)


def test_buildkit_asks_for_docker_hub_by_its_pull_host(docker_env):
    credentials.CREDENTIALS.add(DOCKER_HUB_INDEX, "alice", "pw")
    try:
        for host in ("registry-1.docker.io", "docker.io", "index.docker.io"):
            assert credentials.for_buildkit(host) == ("alice", "pw")
        assert credentials.for_buildkit("127.0.0.1:5000") is None
    finally:
        credentials.CREDENTIALS.forget(DOCKER_HUB_INDEX)


def test_failures_name_docker_hub_by_the_same_set():
    from docker_magics.builds.failures import _registry_of

    assert _registry_of("registry-1.docker.io/x") == "Docker Hub"
    assert _registry_of("busybox:1") == "Docker Hub"
    assert _registry_of("127.0.0.1:5000/x") == "127.0.0.1:5000"


@pytest.mark.parametrize(
    "name, shown",
    [
        ("docker.io/library/x:1", "x:1"),
        ("index.docker.io/library/x", "x:latest"),
        ("docker.io/library/a/b", "library/a/b:latest"),
        ("library/x:2", "x:2"),
        ("busybox@sha256:" + "a" * 64, "busybox@sha256:" + "a" * 64),
        ("127.0.0.1:5000/library/x", "127.0.0.1:5000/library/x:latest"),
        ("Foo/bar", "Foo/bar:latest"),
    ],
)
def test_familiar_names(name, shown):
    """FamiliarString (normalize_test.go TestParseRepositoryInfo's FamiliarName), plus the
    engine's default tag."""
    assert familiar(name, default_tag="latest") == shown
