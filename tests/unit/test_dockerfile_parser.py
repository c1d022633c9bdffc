"""Pure: the Dockerfile reading against BuildKit's own parser tests
(frontend/dockerfile/parser: parser_test.go, testfiles, testfiles-negative,
parser_heredoc_test.go, directives_test.go, line_parsers_test.go, json_test.go), transcribed
in tests/unit/data/reference/buildkit_parser.json with their repository, commit and paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docker_magics.builds.dockerfile import detect_syntax
from docker_magics.builds.dockerfile_parser import (
    Instruction,
    ParseError,
    directives,
    node,
    parse_words,
    read,
)
from docker_magics.builds.heredocs import LexError, heredocs_in, parse_heredoc

DATA = Path(__file__).parent / "data"
TABLES = json.loads((DATA / "reference" / "buildkit_parser.json").read_text())["tables"]
CORPUS = DATA / "corpus" / "dockerfiles"


def cases(name: str):
    return TABLES[name]["cases"]


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote``, as the parser's ``Node.Dump`` quotes values."""
    escapes = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t"}
    escapes.update({"\v": r"\v", '"': r"\"", "\\": r"\\"})
    out = []
    for ch in text:
        if ch in escapes:
            out.append(escapes[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def dump(ins: Instruction) -> str:
    """``Node.Dump`` of one instruction: its keyword as written in lower case, its flags,
    then each value quoted (ONBUILD's instruction in parentheses)."""
    text = ins.command.lower()
    if ins.flags:
        text += " [" + " ".join(map(go_quote, ins.flags)) + "]"
    if ins.trigger is not None:
        text += f" ({dump(ins.trigger)})"
    text += "".join(" " + go_quote(value) for value in ins.args)
    return text.strip()


@pytest.mark.parametrize("name", sorted(cases("testfiles")))
def test_testfiles_dump_as_buildkit_dumps_them(name):
    text = (CORPUS / "buildkit-testfiles" / name).read_bytes().decode()
    got = "".join(f"({dump(ins)})\n" for ins in read(text).instructions)
    assert got == cases("testfiles")[name]


@pytest.mark.parametrize("name", cases("testfiles-negative"))
def test_negative_testfiles_fail(name):
    with pytest.raises(ParseError):
        read((CORPUS / "buildkit-testfiles-negative" / name).read_bytes().decode())


def test_line_numbers():
    found = read((CORPUS / "buildkit-testfile-line" / "testfile-line").read_text())
    assert [[i.line, i.end] for i in found.instructions] == cases("TestParseIncludesLineNumbers")


@pytest.mark.parametrize("case", cases("TestParseWords"), ids=lambda c: c["input"][0])
def test_parse_words(case):
    assert parse_words(case["input"][0]) == case["expect"]


def test_empty_continuation_lines_are_skipped_and_lines_joined_as_they_are():
    """BuildKit warns about two instructions with empty continuation lines, quoting each
    joined line: the lines are joined without any space added or removed."""
    found = read(cases("TestParseWarnsOnEmptyContinutationLine"))
    originals = [i.original for i in found.instructions]
    assert "RUN something     following     more" in originals
    assert "RUN another     thing" in originals


def test_a_line_too_long_for_bufio():
    (case,) = cases("TestParseReturnsScannerErrors")
    text = case["dockerfile"].replace("{label}", "a" * case["label_length"])
    with pytest.raises(ParseError) as err:
        read(text)
    assert err.value.message == case["error"]
    # One byte less fits (65535 bytes and the newline fill bufio's 64 KiB buffer).
    short = "FROM image\nLABEL test=" + "a" * (65535 - len("LABEL test=")) + "\n"
    assert len(read(short).instructions) == 2


def test_heredocs_are_extracted():
    found = read(cases("TestParseExtractsHeredoc.dockerfile")).instructions
    for i, expected in enumerate(cases("TestParseExtractsHeredoc")):
        got = [
            {
                "Name": doc.name,
                "Content": doc.content,
                "Expand": doc.expand,
                "Chomp": doc.chomp,
                "FileDescriptor": doc.fd,
            }
            for doc in found[i + 1].heredocs
        ]
        defaults = {"Content": "", "Expand": False, "Chomp": False, "FileDescriptor": 0}
        assert got == [{**defaults, **doc} for doc in expected or []], found[i + 1].original


def test_json_forms_have_no_heredocs():
    found = read(cases("TestParseJSONHeredoc.dockerfile")).instructions
    assert [ins.heredocs for ins in found[1:4]] == [(), (), ()]
    assert all(ins.json for ins in found[1:4])


@pytest.mark.parametrize("word", cases("TestParseHeredocHelpers.valid"))
def test_heredoc_words(word):
    assert parse_heredoc(word).name == "EOF"


@pytest.mark.parametrize("word", cases("TestParseHeredocHelpers.invalid"))
def test_heredoc_words_that_cannot_be_read(word):
    with pytest.raises(LexError):
        parse_heredoc(word)


@pytest.mark.parametrize("word", cases("TestParseHeredocHelpers.not"))
def test_words_that_open_no_heredoc(word):
    assert parse_heredoc(word) is None


@pytest.mark.parametrize("case", cases("TestHeredocsFromLine"), ids=lambda c: c["line"])
def test_heredocs_of_a_line(case):
    """As the Go test checks it: each heredoc found has the expected name. ("RUN <<- EOF"
    finds none: the shell splitter makes "<<-" and "EOF" two words; the Go loop checks
    nothing then.)"""
    found = heredocs_in(case["line"])
    expected = case["heredocNames"] or []
    assert len(found) <= len(expected)
    assert [doc.name for doc in found] == expected[: len(found)]
    if case["line"] != "RUN <<- EOF":
        assert len(found) == len(expected)


@pytest.mark.parametrize("text", cases("TestDirectives"))
def test_directives(text):
    assert directives(text) == {"escape": "\\"}


@pytest.mark.parametrize("case", cases("TestDetectSyntax"), ids=repr)
def test_detect_syntax(case):
    assert detect_syntax(case["dt"]) == case["syntax"]


@pytest.mark.parametrize("text, values", cases("TestJSONArraysOfStrings.valid").items())
def test_json_arrays_of_strings(text, values):
    ins = node("CMD " + text)
    assert (ins.json, list(ins.args)) == (True, values)


@pytest.mark.parametrize("text", cases("TestJSONArraysOfStrings.invalid"))
def test_json_arrays_of_other_things_are_refused(text):
    with pytest.raises(ParseError, match="arrays must be comprised of strings only"):
        node("CMD " + text)


def test_name_value_forms():
    """line_parsers_test.go: the old and new forms of LABEL/ENV, and ENV without a value."""
    assert node("LABEL foo bar").args == ("foo", "bar", "")
    assert node("LABEL foo=bar thing=star").args == ("foo", "bar", "=", "thing", "star", "=")
    with pytest.raises(ParseError, match="ENV must have two arguments"):
        node("ENV foo")
