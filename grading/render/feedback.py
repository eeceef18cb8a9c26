"""The page a student gets back for one hand-in: their notebook as graded, with its scores, and no
hidden tests.

Rendered from templates/feedback.html.j2 rather than with nbconvert's HTMLExporter: a class is
~1,800 pages, each must take milliseconds, and the page must show only what is safe to show. Plain
nbgrader's feedback shows hidden tests (its issue #917); here, before the template sees anything,
- a test cell shows its release source (by grade_id), and any hidden-test block left in a source
  is cut out;
- errors show `ename: evalue`, never the traceback (it quotes the failing test line);
- a hidden-test line quoted in any output (a warning's source line, a printed traceback, code
  that prints its caller) is blanked;
- what a test cell output while its hidden tests ran (after outputs.HIDDEN_MARK) is withheld: its
  printed text and displays by one note, an error by its type alone, the message replaced. Code
  the hidden tests call could print what they are, or put it in an error message, or its type's
  name (only Python's own types and the course's are named); the misconception tags in the
  header are those of the outputs shown.
The template escapes everything else: HTML outputs are not rendered, a student's markdown is shown
as written, only the course's own markdown is HTML (and typeset by MathJax), and a Content Security
Policy lets only MathJax's script run.
"""

import base64
import builtins
import functools
import hashlib
import html
import re
from dataclasses import dataclass

import mistune
from markupsafe import Markup
from nbformat import NotebookNode

from grading.outputs import split_at_hidden_tests
from grading.records import ERROR, GRADED, MISSING, UNREADABLE, CellResult, Result
from grading.render import pages

HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"  # nbgrader's delimiters
REDACTED = "[hidden test]"
# Shorter hidden lines (`else:`, `pass`, a bracket) give nothing away and would blank ordinary words.
MIN_SECRET = 10
MAX_OUTPUT = 20_000  # characters shown per output; the rest is counted, not shown
HIDDEN_OUTPUT = "output printed while the hidden tests ran is not shown"
HIDDEN_ERROR = "raised while the hidden tests ran (its message is not shown)"
# The error types a hidden test's failure is named by: Python's, the course's checks' (CheckFailed)
# and the grader's own (NotRun, nbgrader's CellTimeoutError). Any other name could be made up to
# carry what the hidden tests are.
KNOWN_ERRORS = {
    name for name, value in vars(builtins).items() if isinstance(value, type) and issubclass(value, BaseException)
} | {"CheckFailed", "NotRun", "CellTimeoutError"}
COLLAPSE_LINES = 40  # longer ungraded cells (the course helpers) start folded

FLAG_WORDS = {
    "timeout": "a cell ran too long and was stopped",
    "kernel-died": "Python stopped while running the notebook (too much memory, or the code exited)",
    "cells-restored": "test cells that were deleted or changed were put back before grading",
    "tampered": "locked cells were changed; their original versions were graded",
    "suspicious": "the notebook contains code that interferes with the checks",
    "late": "handed in after the deadline",
    "renamed": "the file name did not match the notebook; it was matched anyway",
    "duplicate": "several files were handed in for this notebook; the newest was graded",
}
STATUS_WORDS = {
    GRADED: "graded",
    MISSING: "no file was handed in for this notebook",
    UNREADABLE: "the file handed in could not be read as a notebook",
    ERROR: "the grader could not grade this file; your instructor will look at it",
}

MATHJAX_URL = "https://cdn.jsdelivr.net/npm/mathjax@3.2.2/es5/tex-chtml.js"
# MathJax's configuration is the page's one inline script, allowed by its hash. MathJax typesets
# only elements of class tex2jax_process (the course's markdown); ui/safe filters URLs in \href.
_CONFIG = pages.environment().get_template("mathjax-config.js").render()
_CONFIG_HASH = base64.b64encode(hashlib.sha256(_CONFIG.encode()).digest()).decode()
# Defence in depth: were anything left unescaped, no other script could run and nothing could be sent.
CSP = (
    "default-src 'none'; img-src data: https:; style-src 'unsafe-inline'; "
    f"script-src 'sha256-{_CONFIG_HASH}' https://cdn.jsdelivr.net; font-src https://cdn.jsdelivr.net; "
    "base-uri 'none'; form-action 'none'"
)

_markdown_to_html = mistune.create_markdown(escape=False, plugins=["table", "strikethrough"])
# LaTeX is cut out before markdown (which would read `a_1 * b_2` as emphasis) and put back as text.
_MATH = re.compile(
    r"\$\$.+?\$\$|\\\[.+?\\\]|\\\(.+?\\\)|\\begin\{([\w*]+)\}.+?\\end\{\1\}|(?<!\\)\$[^$]+?(?<!\\)\$",
    re.S,
)
_MATH_TOKEN = re.compile(r"MATHTOKEN(\d+)X")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# What matplotlib's text-only backend shows for a figure: grading kernels draw no figure.
_FIGURE = re.compile(r"<Figure size [\d.]+x[\d.]+ with \d+ Axes>")
NOT_DRAWN = "a figure appears here when you run the notebook; figures are not drawn during grading"
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")


@dataclass(frozen=True)
class Score:
    """A graded cell's points, as the header's table and the cell's badge show them."""

    grade_id: str
    anchor: str  # the cell's id on the page
    points: str  # "1 / 2", or that it waits for grading by hand
    kind: str  # full, partial, zero or manual: the badge's colour


@dataclass(frozen=True)
class Output:
    """One output of a cell, as it may be shown."""

    kind: str  # text, image, or note (something not shown, and why)
    text: str = ""  # text: no hidden-test line, no terminal colours, at most MAX_OUTPUT characters
    style: str = "out"  # text: out, stderr or error
    cut: int = 0  # text: characters not shown
    src: str = ""  # image: a data URI


@dataclass(frozen=True)
class Cell:
    """One cell, as it may be shown: never a hidden test."""

    kind: str  # markdown (the course's own, as HTML), code, or text (shown as written)
    source: str  # Markup only for the course's own markdown
    score: Score | None
    outputs: list[Output]
    folded: bool = False  # a long ungraded code cell (a course helper) starts folded
    comment: str = ""  # the instructor's, from the gradebook

    @property
    def first_line(self) -> str:
        return self.source.split("\n", 1)[0]

    @property
    def lines(self) -> int:
        return self.source.count("\n") + 1


def feedback_html(
    executed: NotebookNode | None,
    release: NotebookNode,
    result: Result,
    comments: dict[str, str] | None = None,
    late: str = "",
) -> str:
    """The feedback page of one hand-in. `executed` is the notebook as the grader ran it (test cells
    with their hidden tests); None when there was nothing to run (missing, unreadable). `comments`:
    the instructor's, by cell (grade_id); `late`: a sentence on the hand-in's lateness, if any."""
    comments = comments or {}
    scores = [_score(c) for c in result.cells]
    cells = []
    if executed is not None:
        released = {_grade_id(c): c for c in release.cells if _grade_id(c)}
        trusted = {c.source for c in release.cells if c.cell_type == "markdown"}
        secrets = hidden_lines(executed)
        by_id = {s.grade_id: s for s in scores}
        cells = [_cell(c, released, trusted, secrets, by_id, comments) for c in executed.cells]
    shown_text = "\n".join(o.text for c in cells for o in c.outputs if o.kind == "text")
    pending = [c.max_score for c in result.cells if c.score is None]
    return pages.render(
        "feedback.html.j2",
        csp=CSP,
        mathjax_url=MATHJAX_URL,
        result=result,
        late=late,
        status=STATUS_WORDS.get(result.status, result.status),
        pending_points=sum(pending) if pending else None,
        flags=[(flag, FLAG_WORDS.get(flag, "")) for flag in result.flags],
        misconceptions=[t for t in dict.fromkeys(result.misconceptions) if _mentions(shown_text, t)],
        scores=scores,
        cells=cells,
    )


def without_hidden_tests(source: str) -> str:
    """The source with every hidden-test block cut out, as nbgrader's release does it (an
    unterminated block runs to the end)."""
    if HIDDEN_BEGIN not in source:  # most cells: nothing to cut
        return "\n".join(source.splitlines())
    kept, hidden = [], False
    for line in source.splitlines():
        if HIDDEN_BEGIN in line:
            hidden = True
        elif HIDDEN_END in line and hidden:
            hidden = False
        elif not hidden:
            kept.append(line)
    return "\n".join(kept)


def hidden_lines(nb: NotebookNode) -> list[str]:
    """The lines of the notebook's hidden tests that an output must not quote, longest first (so
    that a line containing a shorter one is blanked whole)."""
    lines = set()
    for cell in nb.cells:
        if HIDDEN_BEGIN not in cell.source:
            continue
        hidden = False
        for line in cell.source.splitlines():
            if HIDDEN_BEGIN in line:
                hidden = True
            elif HIDDEN_END in line:
                hidden = False
            elif hidden and len(line.strip()) >= MIN_SECRET:
                lines.add(line.strip())
    return sorted(lines, key=len, reverse=True)


def _grade_id(cell: NotebookNode) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _score(cell: CellResult) -> Score:
    anchor = "cell-" + re.sub(r"[^\w-]", "_", cell.grade_id)
    if cell.score is None:
        return Score(cell.grade_id, anchor, "waits for grading by hand", "manual")
    if cell.score >= cell.max_score:
        kind = "full"
    else:
        kind = "partial" if cell.score > 0 else "zero"
    by_hand = ", graded by hand" if cell.by_hand else ""
    return Score(cell.grade_id, anchor, f"{cell.score:g} / {cell.max_score:g}{by_hand}", kind)


def _shown_source(cell: NotebookNode, released: dict[str, NotebookNode]) -> str:
    """What the student may see of a cell's source: for a locked cell (tests, helpers) the release
    version, whatever ran; for the student's own cells their text. Hidden blocks never."""
    twin = released.get(_grade_id(cell))
    meta = twin.metadata["nbgrader"] if twin is not None else {}
    if meta.get("locked") or (meta.get("grade") and not meta.get("solution")):
        return without_hidden_tests(twin.source)
    return without_hidden_tests(cell.source)


def _cell(
    cell: NotebookNode,
    released: dict[str, NotebookNode],
    trusted: set[str],
    secrets: list[str],
    scores: dict[str, Score],
    comments: dict[str, str],
) -> Cell:
    score = scores.get(_grade_id(cell))
    comment = comments.get(_grade_id(cell), "")
    source = _shown_source(cell, released)
    if cell.cell_type == "markdown" and source in trusted:
        return Cell("markdown", _markdown(source), score, [], comment=comment)
    if cell.cell_type != "code":  # a student's own markdown, or a raw cell: as written
        return Cell("text", source, score, [], comment=comment)
    visible, hidden = split_at_hidden_tests(cell.get("outputs", []))
    outputs = [shown for o in _each_failure_once(visible) if (shown := _output(o, secrets))]
    if hidden is not None:
        outputs += _withheld(hidden)
    folded = not score and source.count("\n") >= COLLAPSE_LINES
    return Cell("code", source, score, outputs, folded=folded, comment=comment)


def _each_failure_once(outputs: list[NotebookNode]) -> list[NotebookNode]:
    """The outputs without an error whose message the cell has already printed: a check prints its
    ❌ line, then a hidden test raises the same message."""
    printed = "".join(_text(o.get("text", "")) for o in outputs if o.get("output_type") == "stream")
    return [
        o
        for o in outputs
        if not (o.get("output_type") == "error" and str(o.get("evalue", "")).strip() and o.evalue.strip() in printed)
    ]


def _withheld(outputs: list[NotebookNode]) -> list[Output]:
    """What a test cell's hidden tests output, as the page shows it: one note for what they
    printed or displayed, and each error by its type."""
    shown = [Output("note", HIDDEN_OUTPUT)] if any(o.get("output_type") != "error" for o in outputs) else []
    for output in outputs:
        if output.get("output_type") == "error":
            ename = output.get("ename") if output.get("ename") in KNOWN_ERRORS else "an error"
            shown.append(Output("text", f"{ename}: {HIDDEN_ERROR}", "error"))
    return shown


def _mentions(text: str, tag: str) -> bool:
    """Whether `text` carries the misconception tag as a whole word."""
    return re.search(rf"(?<![\w-]){re.escape(tag)}(?![\w-])", text) is not None


@functools.lru_cache(maxsize=4096)  # the course's markdown cells are the same in every hand-in
def _markdown(source: str) -> Markup:
    """The course's own markdown (identical to a release cell, e.g. the Colab badge) as HTML, its raw
    HTML rendered: the one text on the page that is not escaped."""
    maths: list[str] = []

    def cut(match: re.Match) -> str:
        maths.append(match[0])
        return f"MATHTOKEN{len(maths) - 1}X"

    def paste(match: re.Match) -> str:
        index = int(match[1])
        return html.escape(maths[index]) if index < len(maths) else match[0]

    return Markup(_MATH_TOKEN.sub(paste, _markdown_to_html(_MATH.sub(cut, source))))


def _text(value: str | list[str]) -> str:
    return "".join(value) if isinstance(value, list) else value


def _shown_text(text: str, secrets: list[str]) -> str:
    """Output text as it may be shown: no terminal colours, no hidden-test line, bounded length."""
    longest = len(secrets[0]) if secrets else 0
    # Cut before blanking (a 50 MB print stays cheap), but late enough that no line is half-cut.
    text = _ANSI.sub("", text[: MAX_OUTPUT + longest])
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text[:MAX_OUTPUT]


def _text_output(text: str, secrets: list[str], style: str = "out") -> Output:
    return Output("text", _shown_text(text, secrets), style, cut=max(len(text) - MAX_OUTPUT, 0))


def _image(mime: str, data: str) -> Output:
    if mime == "image/svg+xml":  # as an <img>, an SVG can neither run scripts nor load anything
        data = base64.b64encode(data.encode()).decode()
    elif not _BASE64.fullmatch(data):
        return Output("note", "an image that is not valid base64, not shown")
    return Output("image", src=f"data:{mime};base64,{''.join(data.split())}")


def _output(output: NotebookNode, secrets: list[str]) -> Output | None:
    kind = output.get("output_type")
    if kind == "stream":
        style = "stderr" if output.get("name") == "stderr" else "out"
        return _text_output(_text(output.get("text", "")), secrets, style)
    if kind == "error":  # the traceback quotes the failing line, possibly a hidden test's
        return _text_output(f"{output.get('ename', 'Error')}: {output.get('evalue', '')}", secrets, "error")
    data = output.get("data", {})
    for mime in ("image/png", "image/jpeg", "image/svg+xml"):
        if mime in data:
            return _image(mime, _text(data[mime]))
    if "text/plain" in data:
        text = _text(data["text/plain"])
        if _FIGURE.fullmatch(text.strip()):
            return Output("note", NOT_DRAWN)
        return _text_output(text, secrets)
    if data:
        return Output("note", f"output of type {', '.join(data)} not shown")
    return None
