"""Text in the HTML the package shows (tables, records, charts, results, progress views):
escaped, and shown exactly as written. Every ``text/html`` output goes through here.

Notebook frontends typeset TeX in HTML outputs: JupyterLab and Notebook 7 run MathJax over
each one, so ``RUN echo "home=$HOME path=$PATH"`` showed ``home=`` and then italic maths.
MathJax reads the page's text, after the browser has decoded entities, so writing ``$`` as
``&#36;`` alone changes nothing; but it looks for a formula's delimiters within one run of
text, and an element ends a run (MathJax 3's ``HTMLDomStrings``; MathJax 2's ``tex2jax``
stops at an element too). So each ``$``, and each backslash that could open a formula
(``\\(``, ``\\[``, ``\\begin``), stands alone in an element of its own: ``<span>&#36;</span>``
(``<tspan>`` inside SVG). The page's text, its copy and paste, and what a screen reader
says stay the characters as written. Never imports docker.
"""

from __future__ import annotations

import html
import re

# A formula's delimiters for MathJax (JupyterLab's settings: $...$, $$...$$, \(...\),
# \[...\], \begin{env}...\end{env}).
_DELIMITER = re.compile(r"\$|\\(?=[()\[\]]|begin\{|end\{)")
_ENTITY = {"$": "&#36;", "\\": "&#92;"}


def _inert(text: str, tag: str) -> str:
    return _DELIMITER.sub(lambda m: f"<{tag}>{_ENTITY[m.group()]}</{tag}>", text)


def text(value: object) -> str:
    """``value`` as HTML text content (in a ``<td>``, ``<b>``, ``<pre>``...): escaped, and
    never typeset as maths."""
    return _inert(html.escape(str(value), quote=False), "span")


def svg_text(value: object) -> str:
    """``value`` as the content of an SVG ``<text>`` or ``<title>``."""
    return _inert(html.escape(str(value), quote=False), "tspan")


def attr(value: object) -> str:
    """``value`` inside a quoted attribute (``title='...'``, ``aria-label='...'``), which
    MathJax never reads."""
    return html.escape(str(value), quote=True)
