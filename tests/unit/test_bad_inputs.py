"""Bad inputs without an engine: there are enough bad magic lines (tests/support/bad_inputs.py;
tests/engine/test_bad_inputs.py runs them), wrong %config values are refused, and
property-based tests (hypothesis) for argument parsing and context packing."""

from __future__ import annotations

import io
import os
import string
import tarfile
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from docker_magics.builds.context import from_directory
from docker_magics.builds.dockerignore import IgnoreMatcher, read_patterns
from docker_magics.builds.walk import walk
from docker_magics.engine.endpoints import normalize_url, parse_headers
from docker_magics.errors import BadArgument
from docker_magics.registry.references import parse_reference
from tests.support.bad_inputs import BAD

pytestmark = pytest.mark.engine


def test_there_are_at_least_40():
    assert len(BAD) >= 40


def test_wrong_types_in_config(run, ip, caplog):
    magics = ip.magics_manager.registry["DockerMagics"]
    for statement in (
        "timeout = 'soon'",
        "progress = 'loud'",
        "builder = 3",
        "api_version = 'latest'",
        "ssh_client = 'telnet'",
        "timeout = -1",
        "timeout = float('nan')",
        "timeout = float('inf')",
    ):
        caplog.clear()
        cell = run(f"%config DockerMagics.{statement}")
        assert "Traceback" not in cell.out + cell.err
        assert len(caplog.records) == 1, statement  # IPython's %config logs one line
    assert (magics.timeout, magics.progress, magics.builder) == (60.0, "auto", "classic")
    assert (magics.api_version, magics.ssh_client) == ("auto", "auto")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_urls_parse_or_say_why(text):
    try:
        url = normalize_url(text)
    except BadArgument as exc:
        assert "\n" not in str(exc)
    else:
        assert url.split("://")[0] in ("unix", "tcp", "ssh")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_references_parse_or_say_why(text):
    try:
        ref = parse_reference(text)
    except BadArgument as exc:
        assert "\n" not in str(exc)
    else:
        assert parse_reference(str(ref)) == ref  # round trip


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=20), max_size=4))
def test_headers_parse_or_say_why(items):
    try:
        headers = parse_headers(items)
    except BadArgument as exc:
        assert "\n" not in str(exc)
    else:
        assert len(headers) <= len(items)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.text(alphabet=string.printable + "ü\u00a0", max_size=60))
def test_magic_lines_never_escape_as_tracebacks(ip, text):
    """Random option lines for a magic that needs no engine to parse them."""
    from IPython.core.error import UsageError

    line = text.replace("\n", " ").replace("\r", " ")
    assume(not line.strip().startswith(("-h", "--help")))
    try:
        ip.run_line_magic("docker_images", "--filter " + line)
    except UsageError as exc:
        assert "\n" not in str(exc)
    except Exception as exc:  # noqa: BLE001 - only engine errors are acceptable here
        pytest.fail(f"{type(exc).__name__}: {exc}")


NAMES = st.text(
    alphabet=string.ascii_letters + string.digits + "._-ü ", min_size=1, max_size=12
).filter(lambda s: s not in (".", "..") and s.strip() == s)


TREES = st.dictionaries(
    st.lists(NAMES, min_size=1, max_size=3).map(lambda parts: "/".join(parts)),
    st.binary(max_size=3000),
    min_size=1,
    max_size=12,
)


PATTERNS = st.lists(
    st.sampled_from(
        ["*.txt", "**/a*", "b", "/c", "**/d/**", "*/e", "ü*", "[ab]*", "x?", "**", "# c", "b/"]
        + ["!b/a*", "!**/*.txt", "!c", "!/a", "!**/d/e*", "!x?/**"]
    ),
    max_size=5,
)


def _write(root: Path, tree: dict[str, bytes]) -> dict[str, bytes]:
    written = {}
    for name, data in tree.items():
        path = root / name
        if any(p.is_file() for p in [*path.parents][:-1] if str(p).startswith(str(root))):
            continue  # a parent is already a file
        if path.is_dir():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written[name] = data
    return written


@settings(max_examples=300, deadline=None)
@given(TREES, PATTERNS)
def test_directory_context_round_trip(tree, patterns):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        written = _write(root, tree)
        text = "\n".join(patterns) + "\n"
        (root / ".dockerignore").write_text(text)
        matcher = IgnoreMatcher(read_patterns(text) + ["!.dockerignore"])
        # The oracle, moby's TarWithOptions restated: a file is sent unless a pattern
        # excludes it or one of its folders (the last matching pattern wins), or one of its
        # folders is excluded and skipped whole: no "!" pattern's text starts with it (so
        # "x?" then "!x?/**" still leaves x0/ out, as `docker build` does).
        exceptions = [p[1:] + "/" for p in read_patterns(text) if p.startswith("!")]

        def sent(name: str) -> bool:
            parts = name.split("/")
            for i in range(1, len(parts)):
                folder = "/".join(parts[:i])
                skipped = not any(e.startswith(folder + "/") for e in exceptions)
                if matcher.excludes(folder) and skipped:
                    return False
            return not matcher.excludes(name)

        expected = {name: data for name, data in written.items() if sent(name)}
        ctx = from_directory(root, dockerfile_text="FROM scratch\n")
        data = b"".join(ctx.chunks())
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
        files.pop(ctx.dockerfile)
        files.pop(".dockerignore")
        expected.pop(".dockerignore", None)
        assert files == expected
        walked = {rel for rel, _, st_ in walk(root, matcher) if not os.path.isdir(root / rel)}
        assert walked - {".dockerignore"} == set(expected)
