"""What the renderers share: the one Jinja2 environment their templates render in, and the bars of
the histograms they draw in HTML and CSS (templates/charts.html.j2).

Autoescaping is on: a template escapes every value it is given, so Python hands it plain text
(hidden tests already blanked) and marks nothing safe but the course's own markdown HTML.
"""

import functools
from dataclasses import dataclass
from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class Bar:
    """One bar of a histogram: the things counted from `low` to `high`."""

    low: float
    high: float
    count: int
    height: float  # percent of the plot's height
    label: str  # what the bar's tooltip calls its range: "3 points", "0.25 to 0.30"


@functools.cache  # one environment: each template is read and compiled once per process
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # the templates ship with the code: no stat() per page
    )


def render(template: str, **context: object) -> str:
    return environment().get_template(template).render(context)

