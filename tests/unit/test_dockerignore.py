"""Pure: .dockerignore semantics, checked against the cases of the reference implementation
(moby/patternmatcher's own test tables, ported as data)."""

from __future__ import annotations

import pytest

from docker_magics.builds.dockerignore import IgnoreMatcher, go_clean, read_patterns
from docker_magics.errors import BadArgument

# (pattern, path, excluded): moby/patternmatcher TestMatches, MatchesOrParentMatches.
SINGLE = [
    (r"**", r"file", True),
    (r"**", r"file/", True),
    (r"**/", r"file", True),
    (r"**/", r"file/", True),
    (r"**", r"/", True),
    (r"**/", r"/", True),
    (r"**", r"dir/file", True),
    (r"**/", r"dir/file", True),
    (r"**", r"dir/file/", True),
    (r"**/", r"dir/file/", True),
    (r"**/**", r"dir/file", True),
    (r"**/**", r"dir/file/", True),
    (r"dir/**", r"dir/file", True),
    (r"dir/**", r"dir/file/", True),
    (r"dir/**", r"dir/dir2/file", True),
    (r"dir/**", r"dir/dir2/file/", True),
    (r"**/dir", r"dir", True),
    (r"**/dir", r"dir/file", True),
    (r"**/dir2/*", r"dir/dir2/file", True),
    (r"**/dir2/*", r"dir/dir2/file/", True),
    (r"**/dir2/**", r"dir/dir2/dir3/file", True),
    (r"**/dir2/**", r"dir/dir2/dir3/file/", True),
    (r"**file", r"file", True),
    (r"**file", r"dir/file", True),
    (r"**/file", r"dir/file", True),
    (r"**file", r"dir/dir/file", True),
    (r"**/file", r"dir/dir/file", True),
    (r"**/file*", r"dir/dir/file", True),
    (r"**/file*", r"dir/dir/file.txt", True),
    (r"**/file*txt", r"dir/dir/file.txt", True),
    (r"**/file*.txt", r"dir/dir/file.txt", True),
    (r"**/file*.txt*", r"dir/dir/file.txt", True),
    (r"**/**/*.txt", r"dir/dir/file.txt", True),
    (r"**/**/*.txt2", r"dir/dir/file.txt", False),
    (r"**/*.txt", r"file.txt", True),
    (r"**/**/*.txt", r"file.txt", True),
    (r"a**/*.txt", r"a/file.txt", True),
    (r"a**/*.txt", r"a/dir/file.txt", True),
    (r"a**/*.txt", r"a/dir/dir/file.txt", True),
    (r"a/*.txt", r"a/dir/file.txt", False),
    (r"a/*.txt", r"a/file.txt", True),
    (r"a/*.txt**", r"a/file.txt", True),
    (r"a[b-d]e", r"ae", False),
    (r"a[b-d]e", r"ace", True),
    (r"a[b-d]e", r"aae", False),
    (r"a[^b-d]e", r"aze", True),
    (r".*", r".foo", True),
    (r".*", r"foo", False),
    (r"abc.def", r"abcdef", False),
    (r"abc.def", r"abc.def", True),
    (r"abc.def", r"abcZdef", False),
    (r"abc?def", r"abcZdef", True),
    (r"abc?def", r"abcdef", False),
    (r"a\\\\", r"a\\", True),
    (r"**/foo/bar", r"foo/bar", True),
    (r"**/foo/bar", r"dir/foo/bar", True),
    (r"**/foo/bar", r"dir/dir2/foo/bar", True),
    (r"abc/**", r"abc", False),
    (r"abc/**", r"abc/def", True),
    (r"abc/**", r"abc/def/ghi", True),
    (r"**/.foo", r".foo", True),
    (r"**/.foo", r"bar.foo", False),
    (r"a(b)c/def", r"a(b)c/def", True),
    (r"a(b)c/def", r"a(b)c/xyz", False),
    (r"a.|)$(}+{bc", r"a.|)$(}+{bc", True),
    (
        r"dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        r"dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        True,
    ),
    (r"dist/*.whl", r"dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    (r"a\*b", "a*b", True),
]

MULTI = [
    (["**", "!util/docker/web"], "util/docker/web/foo", False),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    (
        ["**", "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"],
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        False,
    ),
    (["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
    (["*"], "fileutils.go", True),
    (["*.go"], "fileutils.go", True),
    (["!fileutils.go", "*.go"], "fileutils.go", True),
    (["docs", "!docs/README.md"], "docs/README.md", False),
    (["docs/", "!docs/README.md"], "docs/README.md", False),
    (["docs/*", "!docs/README.md"], "docs/README.md", False),
    (["*.go", "!fileutils.go"], "fileutils.go", False),
]


@pytest.mark.parametrize("pattern, path, excluded", SINGLE)
def test_single_pattern(pattern, path, excluded):
    assert IgnoreMatcher([pattern]).match(path)[0] is excluded


@pytest.mark.parametrize("patterns, path, excluded", MULTI)
def test_several_patterns(patterns, path, excluded):
    assert IgnoreMatcher(patterns).match(path)[0] is excluded


@pytest.mark.parametrize("pattern, path, excluded", SINGLE)
def test_parent_results_give_the_same_answer(pattern, path, excluded):
    """Walking down with per-directory results (as the context walk does) agrees."""
    m = IgnoreMatcher([pattern])
    parts = path.split("/")
    info = None
    for i in range(1, len(parts)):
        _, info = m.match("/".join(parts[:i]), info)
    assert m.match(path, info)[0] is excluded


@pytest.mark.parametrize("patterns, path, excluded", MULTI + [([p], q, e) for p, q, e in SINGLE])
def test_the_files_shortcut_agrees_with_match(patterns, path, excluded):
    """``excluded`` (what the walk asks of files: from the last pattern, no results for
    children) gives ``match``'s answer, from the top and walking down."""
    m = IgnoreMatcher(patterns)
    assert m.excluded(path) is excluded
    parts = path.split("/")
    info = None
    for i in range(1, len(parts)):
        _, info = m.match("/".join(parts[:i]), info)
    assert m.excluded(path, info) is m.match(path, info)[0] is excluded


@pytest.mark.parametrize("pattern", ["**/*.pyc", "*.pyc", "**/*~", "*.tar.gz", "**/*-x+y"])
@pytest.mark.parametrize(
    "path",
    ["a.pyc", "d/a.pyc", "d/e/.pyc", ".pyc", "a.py", "a.pyc/b", "d/a.pycx", "pyc", "x~", "d/x~",
     "a.tar.gz", "d/a.tar.gz", "a-x+y", "d/a-x+y", "a-xxy", "d.pyc/e"],
)  # fmt: skip
def test_literal_globs_are_string_tests_with_the_regexps_answers(pattern, path):
    from docker_magics.builds.dockerignore import Pattern

    p = Pattern(pattern, False)
    assert p.kind == "regexp" and p.test != p.regexp.match  # the shortcut is taken
    assert bool(p.test(path)) is (p.regexp.match(path) is not None)


def test_read_patterns_like_ignorefile():
    content = (
        "test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! "
    )
    assert read_patterns(content) == [
        "test1",
        "test2",
        "a/file/here",
        "lastfile",
        "!inverted/abs/path",
        "!",
        "!",
    ]
    assert read_patterns("\ufeff# bom\nx/../y//z/\n") == ["y/z"]


def test_bad_patterns():
    with pytest.raises(BadArgument, match='Invalid .dockerignore pattern "!"'):
        IgnoreMatcher(["!"])
    with pytest.raises(BadArgument, match="Invalid .dockerignore pattern"):
        IgnoreMatcher(["["])


@pytest.mark.parametrize(
    "path, cleaned",
    [
        ("", "."),
        ("a//b", "a/b"),
        ("./a/./b/", "a/b"),
        ("a/../..", ".."),
        ("/../a", "/a"),
        ("//a", "/a"),
        ("a/b/../c", "a/c"),
    ],
)
def test_go_clean(path, cleaned):
    assert go_clean(path) == cleaned


def test_skip_whole_directories_unless_reincluded():
    m = IgnoreMatcher(["build", "!build/keep.txt", "cache/**", "!**/important"])
    assert m.may_reinclude_below("build")
    # The CLI's quirk: "!**/important" does not reach into an excluded directory.
    assert not m.may_reinclude_below("cache")
