"""What a finished progress view leaves in the notebook: a static copy of its last state, as
HTML and as text, put in place of the widgets when the work ends.

Widgets live in the kernel: a saved notebook opened without it shows "Error displaying
widget: model not found" where they were, and nbconvert, GitHub or nbviewer show their
``VBox(children=(HTML(value=...`` repr. The record is ordinary output (``text/html`` and
``text/plain``), so the notebook keeps a readable account of the build, push or run
wherever it is opened, and the live view looks the same after the end as just before it.
Never imports docker.
"""

from __future__ import annotations

from docker_magics.display import markup

BAR_COLORS = {
    "success": "var(--jp-success-color1, #4caf50)",
    "danger": "var(--jp-error-color1, #f44336)",
    "info": "var(--jp-info-color1, #0288d1)",
}


def bar_html(value: int, maximum: int, style: str) -> str:
    """A static progress bar, sized and coloured as the widget's."""
    percent = 100 * max(0, min(value, maximum)) / max(maximum, 1)
    color = BAR_COLORS.get(style, BAR_COLORS["info"])
    return (
        f"<div class='docker-magics-bar docker-magics-bar-{markup.attr(style)}' "
        f"role='progressbar' aria-valuenow='{value}' aria-valuemax='{maximum}' "
        "style='height:16px;margin:4px 0;background:var(--jp-layout-color2, #eee);"
        "border-radius:2px;overflow:hidden'>"
        f"<div style='width:{percent:.1f}%;height:100%;background:{color}'></div></div>"
    )


# Notebook frontends style the HTML of outputs (JupyterLab: striped, padded table rows, a
# background behind code): the record keeps the widgets' plainer look. (A frontend that
# does not trust the output drops the <style>; the record reads well without it.)
STYLE = (
    "<style>"
    ".docker-magics-record table{margin:0!important;border:none}"
    ".docker-magics-record tr,.docker-magics-record tr:hover{background:none!important}"
    ".docker-magics-record td{padding:1px 1em 1px 0!important;text-align:left}"
    ".docker-magics-record td:first-child{text-align:left!important}"
    ".docker-magics-record code{background:none!important;padding:0!important}"
    ".docker-magics-record pre{margin:0}"
    "</style>"
)


class Record:
    """A finished view: ``header`` (HTML), a bar, ``panels`` (HTML), and its ``text``."""

    def __init__(self, header: str, bar: str, panels: list[str], text: str) -> None:
        self.header, self.bar, self.panels, self.text = header, bar, panels, text

    def _repr_html_(self) -> str:
        parts = [STYLE, f"<div class='docker-magics-header'>{self.header}</div>", self.bar]
        parts += [f"<div class='docker-magics-panel'>{p}</div>" for p in self.panels if p]
        classes = "docker-magics-progress docker-magics-record"
        return f"<div class='{classes}'>{''.join(parts)}</div>"

    def __repr__(self) -> str:
        return self.text

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(self.text)
