"""Text in our HTML: escaped, and never one run of text holding a formula's delimiters (the
browser test, tests/e2e/test_browser_text.py, shows MathJax leaving it alone)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from docker_magics.display import markup
from docker_magics.display.charts import Bar, bar_svg
from docker_magics.display.tables import KeyValues, Table

PACKAGE = Path(markup.__file__).resolve().parents[1]


class Runs(HTMLParser):
    """The runs of text MathJax would search (an element ends a run), and all the text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.runs, self.current = [], ""

    def handle_starttag(self, tag, attrs=None):
        self.runs.append(self.current)
        self.current = ""

    def handle_endtag(self, tag):
        self.handle_starttag(tag)

    def handle_data(self, data):
        self.current += data

    def read(self, text: str) -> tuple[list[str], str]:
        self.feed(text)
        self.close()
        runs = [*self.runs, self.current]
        return runs, "".join(runs)


@pytest.mark.parametrize(
    "written",
    [
        'RUN echo "home=$HOME path=$PATH" > /x',
        "$$x$$ and \\(y\\) and \\[z\\] and \\begin{a}b\\end{a}",
        "<b>not bold</b> & 'quotes' \"too\"",
        "C:\\Users\\me and a regex \\d+",
    ],
)
@pytest.mark.parametrize("render", [markup.text, markup.svg_text])
def test_text_reads_as_written_and_no_run_holds_a_formula(written, render):
    runs, whole = Runs().read(render(written))
    assert whole == written
    for run in runs:
        assert run.count("$") <= 1 and (run == "$" or "$" not in run), run
        assert not re.search(r"\\[()\[\]]|\\begin\{", run), run


def test_backslashes_that_open_nothing_stay_plain_text():
    assert markup.text("C:\\Users\\me") == "C:\\Users\\me"
    assert markup.text("a < b") == "a &lt; b"


def test_attribute_values_are_quoted():
    assert markup.attr('it\'s "$x$"') == "it&#x27;s &quot;$x$&quot;"


def test_tables_and_charts_use_it():
    table = Table(["$A"], [["echo $HOME and $PATH"]], title="$T$")._repr_html_()
    pairs = KeyValues([("$k", "$v$")])._repr_html_()
    chart = bar_svg([Bar("RUN echo $HOME and $PATH", 10, "$1")], title="$x$")
    for made in (table, pairs, chart):
        runs, _ = Runs().read(made)
        assert all(run == "$" or "$" not in run for run in runs), made


def test_every_html_goes_through_markup():
    """The one place: no module escapes HTML text on its own."""
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.name != "markup.py" and re.search(r"\bhtml\.escape\(", path.read_text())
    ]
    assert offenders == []
