"""Pure: BuildKit's client walk (builds.walk.fsutil_walk), against the tables of fsutil's own
tests (tonistiigi/fsutil filter_test.go at 6d9dc2e: TestWalkerInclude, TestWalkerExclude,
TestWalkerDoublestarInclude, TestFSWalkNested, TestWalkerPermissionDenied), and where it
differs from the docker CLI's walk (builds.walk.walk) as measured on a real engine."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest

from docker_magics.builds.dockerignore import IgnoreMatcher
from docker_magics.builds.walk import DataRoot, fsutil_walk, walk
from docker_magics.errors import BadArgument
from tests.support import as_nobody


def tree(root: Path, spec: list[str]) -> Path:
    """fsutil's ``changeStream`` lines, "ADD path dir|file": folders 0700, files 0644."""
    for line in spec:
        _, path, kind = line.split()
        if kind == "dir":
            (root / path).mkdir(mode=0o700)
        else:
            (root / path).write_text("data")
    return root


def listed(root: Path, excludes=(), includes=()) -> list[str]:
    """What fsutil's ``bufWalk`` prints: "dir PATH" / "file PATH", one per entry."""
    out = []
    ex = IgnoreMatcher(list(excludes)) if excludes else None
    inc = IgnoreMatcher(list(includes)) if includes else None
    for rel, _, st in fsutil_walk(root, ex, inc):
        out.append(f"{'dir' if st is None or stat.S_ISDIR(st.st_mode) else 'file'} {rel}")
    return out


INCLUDE = ["ADD bar dir", "ADD bar/foo file", "ADD foo2 file"]


@pytest.mark.parametrize(
    "pattern, expected",
    [
        ("bar", ["dir bar", "file bar/foo"]),
        ("bar/foo", ["dir bar", "file bar/foo"]),
        ("b*", ["dir bar", "file bar/foo"]),
        ("bar/f*", ["dir bar", "file bar/foo"]),
        ("bar/g*", []),
        ("f*", ["file foo2"]),
        ("b*/f*", ["dir bar", "file bar/foo"]),
        ("b*/foo", ["dir bar", "file bar/foo"]),
        ("b*/", ["dir bar", "file bar/foo"]),
    ],
)
def test_fsutil_walker_include(tmp_path, pattern, expected):
    assert listed(tree(tmp_path, INCLUDE), includes=[pattern]) == expected


def test_fsutil_walker_exclude(tmp_path):
    tree(tmp_path, ["ADD bar file", "ADD foo dir", "ADD foo2 file", "ADD foo/bar2 file"])
    assert listed(tmp_path, excludes=["foo*", "!foo/bar2"]) == [
        "file bar",
        "dir foo",
        "file foo/bar2",
    ]


def test_fsutil_nested_exclusions(tmp_path):
    tree(tmp_path, ["ADD foo dir", "ADD foo/bar file"])
    assert listed(tmp_path, excludes=["foo", "!foo/bar"]) == ["dir foo", "file foo/bar"]


DOUBLESTAR = [
    "ADD a dir", "ADD a/b dir", "ADD a/b/baz dir", "ADD a/b/bar dir", "ADD a/b/bar/foo file",
    "ADD a/b/bar/fop file", "ADD bar dir", "ADD bar/foo file", "ADD baz dir", "ADD foo2 file",
    "ADD foo dir", "ADD foo/bar dir", "ADD foo/bar/bee file",
]  # fmt: skip
EVERYTHING = [
    "dir a", "dir a/b", "dir a/b/bar", "file a/b/bar/foo", "file a/b/bar/fop", "dir a/b/baz",
    "dir bar", "file bar/foo", "dir baz", "dir foo", "dir foo/bar", "file foo/bar/bee",
    "file foo2",
]  # fmt: skip
BAR_FOO = ["dir a", "dir a/b", "dir a/b/bar", "file a/b/bar/foo", "dir bar", "file bar/foo"]
BAR_F = BAR_FOO[:4] + ["file a/b/bar/fop"] + BAR_FOO[4:]


@pytest.mark.parametrize(
    "pattern, expected",
    [
        ("**", EVERYTHING),
        ("**/bar", BAR_F + ["dir foo", "dir foo/bar", "file foo/bar/bee"]),
        ("**/bar/foo", BAR_FOO),
        ("**/b*", EVERYTHING[:-1]),
        ("**/bar/f*", BAR_F),
        ("**/bar/g*", []),
        ("**/f*", BAR_F + ["dir foo", "dir foo/bar", "file foo/bar/bee", "file foo2"]),
        ("**/b*/f*", BAR_F),
        ("**/b*/foo", BAR_FOO),
        ("**/foo/**", ["dir foo", "dir foo/bar", "file foo/bar/bee"]),
        ("**/baz", ["dir a", "dir a/b", "dir a/b/baz", "dir baz"]),
    ],
)
def test_fsutil_walker_doublestar_include(tmp_path, pattern, expected):
    assert listed(tree(tmp_path, DOUBLESTAR), includes=[pattern]) == expected


def test_folders_on_the_way_are_sent_with_their_own_metadata(tmp_path):
    """fsutil sends a folder it passed over (for the include patterns) with its own lstat
    once something in it is sent; one the excludes passed over comes made up (None), as the
    classic builder makes it while unpacking (its mode 0755: the same for both builders)."""
    tree(tmp_path, INCLUDE)
    (got,) = [st for rel, _, st in fsutil_walk(tmp_path, None, IgnoreMatcher(["bar/foo"]))][:1]
    assert stat.S_IMODE(got.st_mode) == 0o700
    walked = fsutil_walk(tmp_path, IgnoreMatcher(["bar", "!bar/foo"]), None)
    assert [(rel, st) for rel, _, st in walked][:1] == [("bar", None)]


def test_wildcard_exceptions_look_into_excluded_folders(tmp_path):
    """``*`` then ``!**/*.py``: BuildKit's client (buildx 0.13.1) sends sub/sub.py, the
    docker CLI's walk (and the classic builder) does not: measured on Docker Engine 20.10.24
    (tests/engine/test_build_context.py checks it against a real engine)."""
    for name in ("top.py", "other.txt", "subdir/sub.py", "subdir/t.txt", "subdir/deeper/d.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    patterns = ["*", "!**/*.py"]
    assert listed(tmp_path, excludes=patterns) == [
        "dir subdir",
        "dir subdir/deeper",
        "file subdir/deeper/d.py",
        "file subdir/sub.py",
        "file top.py",
    ]
    assert [rel for rel, _, _ in walk(tmp_path, IgnoreMatcher(patterns))] == ["top.py"]
    # With a prefix exception, both look into the excluded folder only where it points.
    assert listed(tmp_path, excludes=["subdir", "!subdir/sub.py"]) == [
        "file other.txt",
        "dir subdir",
        "file subdir/sub.py",
        "file top.py",
    ]


def test_include_patterns_keep_the_walk_out_of_other_folders(tmp_path, monkeypatch):
    """What the engine does not ask for is not even listed (an unreadable or huge folder
    costs nothing when ``COPY`` names one file)."""
    for name in ("ok.txt", "big/a", "big/b/c"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    listed_folders = []
    real = os.scandir
    monkeypatch.setattr(os, "scandir", lambda p: listed_folders.append(p) or real(p))
    assert listed(tmp_path, includes=["ok.txt"]) == ["file ok.txt"]
    assert listed_folders == [str(tmp_path)]


def test_fsutil_walker_permission_denied():
    """TestWalkerPermissionDenied, as user nobody: an unreadable folder that is not sent is
    passed over; one that is sent is an error."""
    if os.geteuid() != 0:
        pytest.skip("needs root, to make a folder that user nobody cannot read")
    root = Path(tempfile.mkdtemp(prefix="dm-perm-", dir="/tmp"))  # nobody may list it
    try:
        os.chmod(root, 0o755)
        (root / "foo" / "bar").mkdir(parents=True)
        os.chmod(root / "foo", 0o755)
        os.chmod(root / "foo" / "bar", 0)

        def walked(excludes=(), includes=()) -> str:
            try:
                return ",".join(listed(root, excludes, includes))
            except BadArgument as exc:
                return str(exc)

        got = as_nobody(
            lambda: "\n".join(
                [
                    walked(),
                    walked(["**/bar"]),
                    walked(["**/bar", "!foo/bar/baz"]),
                    walked(["**/bar", "!foo/bar"]),
                    walked(includes=["foo", "!**/bar"]),
                ]
            )
        ).split("\n")
        denied = (
            f"Cannot read the folder {root}/foo/bar (permission denied). Fix its permissions, "
            "or exclude it in .dockerignore."
        )
        assert got == [denied, "dir foo", "dir foo", denied, "dir foo"]
    finally:
        os.chmod(root / "foo" / "bar", 0o755)
        for p in sorted(root.rglob("*"), reverse=True):
            p.rmdir()
        root.rmdir()


def test_the_walks_stop_at_the_engines_data_root(tmp_path):
    """Whatever path leads there: the check is the folder's identity, not its name."""
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "engine" / "data").mkdir(parents=True)
    (tmp_path / "engine" / "data" / "layer").write_text("x")
    guard = DataRoot.of(str(tmp_path / "engine" / "data"))
    message = (
        f"{tmp_path}/engine/data, in the context, is the engine's own data ({guard.path}): "
        "the build would send the engine what it writes as it receives it, without end. "
        f"Give a folder that does not contain {guard.path}."
    )
    for walker in (
        lambda: list(walk(tmp_path, IgnoreMatcher([]), guard=guard)),
        lambda: list(fsutil_walk(tmp_path, None, None, guard)),
        lambda: list(fsutil_walk(tmp_path, IgnoreMatcher(["engine", "!**/layer"]), guard=guard)),
    ):
        with pytest.raises(BadArgument) as caught:
            walker()
        assert str(caught.value) == message
    assert DataRoot.of(str(tmp_path / "nowhere")) is None  # the engine is elsewhere
    # Left out whole, it is not reached, and not refused.
    assert [r for r, _, _ in walk(tmp_path, IgnoreMatcher(["engine"]), guard=guard)] == ["a.txt"]


def test_names_come_in_byte_order(tmp_path):
    """Go sorts names as bytes, and BuildKit's receiver checks it: a name that is not UTF-8
    (b"\\x80") comes before "中" (e4 b8 ad), though as text (U+DC80) it sorts after."""
    for raw in ("中".encode(), b"\x80", b"a"):
        (tmp_path / os.fsdecode(raw)).write_text("x")
    got = [os.fsencode(rel) for rel, _, _ in fsutil_walk(tmp_path)]
    assert got == [b"a", b"\x80", "中".encode()]
    assert got == sorted(got)
