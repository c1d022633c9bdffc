"""Pure: the local Dockerfile check over a corpus of real Dockerfiles, against what Docker
Engine 20.10.24's classic builder said of each (tests/unit/data/corpus: its manifest.json and
PROVENANCE.md). Every file the engine accepts is accepted here with the engine's step count;
every file it refuses for a reason the local check claims to catch is refused here, in one
line; a file it refuses for another reason (a flag it does not know yet, heredocs, which its
parser lacks) is left to the engine."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from docker_magics.builds.dockerfile import classic_steps, heredoc_around, parse
from docker_magics.builds.dockerfile_parser import ParseError, read
from docker_magics.errors import BadArgument

CORPUS = Path(__file__).parent / "data" / "corpus" / "dockerfiles"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text())

# What the engine says when it refuses for a reason the local check claims to catch
# (docs/dockerfiles.md lists them).
CLAIMED = (
    "unknown instruction",
    "no build stage in current context",
    "cannot be empty",
    "file with no instructions",
    "parser directive can be used",
    "must have two arguments",
    "arrays must be comprised of strings only",
    "FROM requires either one or three arguments",
    "invalid name for build stage",
)


def _text(entry: dict) -> str:
    # As a cell or --file gives it: UTF-8, undecodable bytes replaced.
    return (CORPUS / entry["file"]).read_bytes().decode("utf-8", "replace")


def _id(entry: dict) -> str:
    return entry["file"]


def test_the_corpus_is_all_there():
    assert len(MANIFEST) == 169
    assert all((CORPUS / e["file"]).is_file() for e in MANIFEST)


@pytest.mark.parametrize(
    "entry", [e for e in MANIFEST if e["engine"]["verdict"] == "accepted"], ids=_id
)
def test_what_the_engine_accepts_is_accepted_with_its_step_count(entry):
    instructions = parse(_text(entry))
    steps = entry["engine"]["steps"]
    if steps is not None:  # repo2docker's norun (FROM scratch only) ends without a total
        assert classic_steps(instructions) == steps


REFUSED = [e for e in MANIFEST if e["engine"]["verdict"] != "accepted"]


@pytest.mark.parametrize("entry", REFUSED, ids=_id)
def test_what_the_engine_refuses_for_a_claimed_reason_is_refused_in_one_line(entry):
    said = entry["engine"]["verdict"]
    line = re.search(r"dockerfile parse error line (\d+): unknown instruction", said)
    claimed = any(reason in said for reason in CLAIMED)
    try:
        instructions = parse(_text(entry))
    except BadArgument as exc:
        assert claimed, f"refused here, but the engine refused it for another reason: {said}"
        assert "\n" not in str(exc)
        if line:
            assert str(exc).startswith(f"Dockerfile line {line.group(1)}: unknown instruction")
        return
    # Accepted here: only what is left to the engine ("Unknown flag: link", HEALTHCHECK's
    # arguments...), or a heredoc's body: the engine's parser has no heredocs and reads it
    # as instructions; the build's failure then explains that (builds/failures.py).
    assert not claimed or (line and heredoc_around(instructions, int(line.group(1))))


def test_every_heredoc_refusal_of_the_engine_is_in_a_heredoc_here():
    """But for the probe that glues RUN to its command, every "unknown instruction" of the
    engine (23 files) is on a line in a heredoc of the local reading: the engine's parser has
    none, and builds/failures.py says so."""
    in_heredocs = 0
    for entry in REFUSED:
        m = re.search(r"line (\d+): unknown instruction", entry["engine"]["verdict"])
        if m and entry["file"] != "engine-probes/keyword-glued-by-continuation.Dockerfile":
            assert heredoc_around(parse(_text(entry)), int(m.group(1))) is not None
            in_heredocs += 1
    assert in_heredocs == 23


@pytest.mark.parametrize("entry", [e for e in MANIFEST if "parser_keywords" in e], ids=_id)
def test_keywords_as_buildkits_parser_reads_them(entry):
    assert [i.keyword for i in read(_text(entry)).instructions] == entry["parser_keywords"]


@pytest.mark.parametrize("entry", [e for e in MANIFEST if e.get("parser_error")], ids=_id)
def test_buildkits_negative_files_fail_its_parser(entry):
    with pytest.raises(ParseError):
        read(_text(entry))


@pytest.mark.parametrize("entry", [e for e in MANIFEST if "parser_lines" in e], ids=_id)
def test_instruction_lines_as_buildkits_parser_counts_them(entry):
    found = read(_text(entry)).instructions
    assert [[i.line, i.end] for i in found] == entry["parser_lines"]
