"""What the renderers share: the one Jinja2 environment their templates render in, and writing a
file whole.

Autoescaping is on: a template escapes every value it is given, so Python hands it plain text
(hidden tests already blanked) and marks nothing safe but the course's own markdown HTML.
"""

import functools
from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).resolve().parent / "templates"


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

