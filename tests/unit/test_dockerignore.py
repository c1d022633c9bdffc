"""Pure: .dockerignore semantics, checked against the reference implementation's own test
tables (moby/patternmatcher: patternmatcher_test.go, ignorefile/ignorefile_test.go),
transcribed in tests/unit/data/reference/patternmatcher.json with their commit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docker_magics.builds.dockerignore import (
    IgnoreMatcher,
    Pattern,
    go_clean,
    read_patterns,
    syntax_error,
)
from docker_magics.errors import BadArgument

TABLES = json.loads(
    (Path(__file__).parent / "data" / "reference" / "patternmatcher.json").read_text()
)["tables"]
# (pattern, path, excluded): TestMatches (MatchesOrParentMatches, MatchesUsingParentResults).
SINGLE = [tuple(c) for c in TABLES["TestMatches"]["cases"] + TABLES["TestMatches.unix"]["cases"]]
MULTI = [tuple(c) for c in TABLES["TestMatches.multi"]["cases"]] + [
    # The single tests before TestMatches (TestWildcardMatches... TestExclusionPatternMatches*).
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
    content = TABLES["TestReadAll.content"]["cases"]
    assert read_patterns(content) == TABLES["TestReadAll.expected"]["cases"]
    assert read_patterns("\ufeff# bom\nx/../y//z/\n") == ["y/z"]


@pytest.mark.parametrize("pattern, path, match, error", TABLES["matchTests"]["cases"])
def test_go_filepath_match_table(pattern, path, match, error):
    """matchTests ("stolen from go's filepath Match tests"), through ``Matches``: a
    malformed pattern is an error, the others match as Go's Match does."""
    if error == "filepath.ErrBadPattern":
        assert syntax_error(pattern)
        with pytest.raises(BadArgument, match="syntax error in pattern"):
            IgnoreMatcher([pattern])
        return
    assert not syntax_error(pattern)
    assert IgnoreMatcher([pattern]).excludes(path) is match


@pytest.mark.parametrize("pattern, kind, regexp, _windows", TABLES["compileTests"]["cases"])
def test_compiled_as_patternmatcher_compiles(pattern, kind, regexp, _windows):
    compiled = Pattern(go_clean(pattern), False)
    assert compiled.kind + "Match" == kind
    if kind == "regexpMatch":
        assert compiled.source == regexp


def test_a_pattern_whose_regexp_cannot_compile():
    """TestMatchesOrParentMatchesMalformedPatternDoesNotPanicOnRepeatedCall: "[Local-Only]/"
    passes New, then fails when first matched (l-O is no range for Go's regexp either). The
    CLI matches an inclusion pattern against the first file, always: refused up front. An
    exclusion pattern is only matched after an inclusion matched (checked with the CLI)."""
    assert not syntax_error("[Local-Only]")
    with pytest.raises(BadArgument, match="syntax error in pattern"):
        IgnoreMatcher(read_patterns("[Local-Only]/\n"))
    assert not IgnoreMatcher(["![z-a]"])  # never used: the CLI builds with it
    with pytest.raises(BadArgument, match="syntax error in pattern"):
        IgnoreMatcher(["*", "![z-a]"])


@pytest.mark.parametrize("pattern", ["[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]"])
def test_malformed_patterns_name_their_line(pattern):
    """The issue's list (all from matchTests); the docker CLI says "error checking context:
    syntax error in pattern" (tests/engine/test_fidelity.py runs it)."""
    text = f"# comment\n\nkeep\n{pattern}\n"
    with pytest.raises(BadArgument) as err:
        IgnoreMatcher(read_patterns(text, source="app.Dockerfile.dockerignore"))
    assert str(err.value).startswith(
        f"app.Dockerfile.dockerignore line 4: syntax error in pattern: {pattern!r}"
    )
    assert "\n" not in str(err.value)


def test_lines_end_at_newlines_only():
    """bufio.ScanLines: a form feed or U+2028 is part of a pattern, \\r\\n ends a line."""
    assert read_patterns("a\u2028b\r\nc\fd\n\x85e\n") == ["a\u2028b", "c\fd", "e"]


def test_bad_patterns():
    with pytest.raises(BadArgument, match='.dockerignore: illegal exclusion pattern: "!"'):
        IgnoreMatcher(["!"])
    with pytest.raises(BadArgument, match=".dockerignore: syntax error in pattern: '\\['"):
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


def test_lines_stay_known_when_patterns_are_added():
    """The context code adds ``!.dockerignore`` and the Dockerfile to the file's patterns."""
    patterns = read_patterns("ok\n\n[x-]\n") + ["!.dockerignore"]
    with pytest.raises(BadArgument, match=r"^\.dockerignore line 3: syntax error in pattern"):
        IgnoreMatcher(patterns)
    with pytest.raises(BadArgument, match=r"^\.dockerignore: syntax error in pattern"):
        IgnoreMatcher(read_patterns("ok\n") + ["[x-]"])  # not from the file: no line
