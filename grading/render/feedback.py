"""The page a student gets back for one hand-in: their notebook as graded, with its scores, and no
hidden tests.

Written by hand rather than with nbconvert's HTMLExporter: a class is ~1,800 pages, each must take
milliseconds, and the page must show only what is safe to show. Plain nbgrader's feedback shows
hidden tests (its issue #917); here
- a test cell shows its release source (by grade_id), and any hidden-test block left in a source
  is cut out;
- errors show `ename: evalue`, never the traceback (it quotes the failing test line);
- a hidden-test line quoted in any output (a warning's source line, a printed traceback, code
  that prints its caller) is blanked;
- everything from the hand-in is escaped, HTML outputs are not rendered, and a Content Security
  Policy lets only MathJax's script run.
"""

import base64
import functools
import hashlib
import html
import re

import mistune
from nbformat import NotebookNode

from grading.records import ERROR, GRADED, MISSING, UNREADABLE, CellResult, Result

HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"  # nbgrader's delimiters
REDACTED = "[hidden test]"
# Shorter hidden lines (`else:`, `pass`, a bracket) give nothing away and would blank ordinary words.
MIN_SECRET = 10
MAX_OUTPUT = 20_000  # characters shown per output; the rest is counted, not shown
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
# MathJax typesets only elements of class tex2jax_process (the markdown cells); ui/safe filters
# URLs in \href and friends.
MATHJAX_CONFIG = (
    r"window.MathJax={tex:{inlineMath:[['$','$'],['\\(','\\)']],processEscapes:true},"
    r"loader:{load:['ui/safe']}};"
)
_CONFIG_HASH = base64.b64encode(hashlib.sha256(MATHJAX_CONFIG.encode()).digest()).decode()
# Defence in depth: were anything left unescaped, no other script could run and nothing could be sent.
CSP = (
    "default-src 'none'; img-src data: https:; style-src 'unsafe-inline'; "
    f"script-src 'sha256-{_CONFIG_HASH}' https://cdn.jsdelivr.net; font-src https://cdn.jsdelivr.net; "
    "base-uri 'none'; form-action 'none'"
)

CSS = """
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:1.5rem auto;padding:0 1rem;color:#222}
header{border-bottom:2px solid #ccc;margin-bottom:1rem}
.total{font-size:1.3rem}
.cell{margin:.6rem 0;padding:.2rem .6rem;border-left:3px solid transparent}
.graded{border-left-color:#88a}
pre{margin:.2rem 0;padding:.4rem;overflow-x:auto;white-space:pre-wrap;word-break:break-word;font-size:13px}
.source{background:#f5f5f8}
.stderr{background:#fdecea}.error{background:#fdecea;color:#a00}
.note{color:#777;font-style:italic}
.score{float:right;font-weight:bold;padding:0 .5rem;border-radius:.3rem}
.full{background:#d8f0d8}.partial{background:#fff0c0}.zero{background:#f8d0d0}.manual{background:#e4e4e4}
.flag{display:inline-block;background:#fff0c0;padding:0 .4rem;border-radius:.3rem;margin-right:.3rem}
table{border-collapse:collapse}td,th{padding:.1rem .6rem;text-align:left;border-bottom:1px solid #eee}
img{max-width:100%}
"""

_markdown_untrusted = mistune.create_markdown(escape=True, plugins=["table", "strikethrough"])
_markdown_trusted = mistune.create_markdown(escape=False, plugins=["table", "strikethrough"])
# LaTeX is cut out before markdown (which would read `a_1 * b_2` as emphasis) and put back as text.
_MATH = re.compile(
    r"\$\$.+?\$\$|\\\[.+?\\\]|\\\(.+?\\\)|\\begin\{([\w*]+)\}.+?\\end\{\1\}|(?<!\\)\$[^$]+?(?<!\\)\$",
    re.S,
)
_MATH_TOKEN = re.compile(r"MATHTOKEN(\d+)X")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")


def feedback_html(executed: NotebookNode | None, release: NotebookNode, result: Result) -> str:
    """The feedback page of one hand-in. `executed` is the notebook as the grader ran it (test cells
    with their hidden tests); None when there was nothing to run (missing, unreadable)."""
    parts = [_head(f"{result.notebook} · {result.student}"), _header(result)]
    if executed is not None:
        released = {_grade_id(c): c for c in release.cells if _grade_id(c)}
        trusted = {c.source for c in release.cells if c.cell_type == "markdown"}
        secrets = hidden_lines(executed)
        scores = {c.grade_id: c for c in result.cells}
        parts += [_cell(c, released, trusted, secrets, scores) for c in executed.cells]
    parts.append("</main></body></html>\n")
    return "".join(parts)


def without_hidden_tests(source: str) -> str:
    """The source with every hidden-test block cut out, as nbgrader's release does it (an
    unterminated block runs to the end)."""
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


def _head(title: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style>"
        f'<script>{MATHJAX_CONFIG}</script><script defer src="{MATHJAX_URL}"></script>'
        '</head><body class="tex2jax_ignore"><main>'
    )


def _header(result: Result) -> str:
    e = html.escape
    status = STATUS_WORDS.get(result.status, result.status)
    rows = [
        f"<h1>{e(result.notebook)}</h1><p>Feedback for <b>{e(result.student)}</b></p>",
        f'<p class="total">Score: <b>{result.score:g} / {result.max_score:g}</b> · {e(status)}</p>',
    ]
    pending = [c for c in result.cells if c.score is None]
    if pending:
        points = sum(c.max_score for c in pending)
        rows.append(f"<p>{points:g} of these points wait for your instructor to grade them by hand.</p>")
    for flag in result.flags:
        rows.append(f'<p><span class="flag">{e(flag)}</span>{e(FLAG_WORDS.get(flag, ""))}</p>')
    if result.message:
        rows.append(f"<p>{e(result.message)}</p>")
    if result.misconceptions:
        tags = ", ".join(e(t) for t in dict.fromkeys(result.misconceptions))
        rows.append(f"<p>Your answers match these known mistakes: <b>{tags}</b> (see the ❌ lines below).</p>")
    if result.cells:
        rows.append("<table><tr><th>exercise</th><th>points</th></tr>")
        rows += [
            f'<tr><td><a href="#{e(_anchor(c.grade_id))}">{e(c.grade_id)}</a></td><td>{_points(c)}</td></tr>'
            for c in result.cells
        ]
        rows.append("</table>")
    return "<header>" + "".join(rows) + "</header>"


def _anchor(grade_id: str) -> str:
    return "cell-" + re.sub(r"[^\w-]", "_", grade_id)


def _points(cell: CellResult) -> str:
    if cell.score is None:
        return "waits for grading by hand"
    return f"{cell.score:g} / {cell.max_score:g}"


def _score_badge(cell: CellResult) -> str:
    if cell.score is None:
        kind = "manual"
    elif cell.score >= cell.max_score:
        kind = "full"
    else:
        kind = "partial" if cell.score > 0 else "zero"
    return f'<span class="score {kind}">{_points(cell)}</span>'


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
    scores: dict[str, CellResult],
) -> str:
    grade_id = _grade_id(cell)
    score = scores.get(grade_id)
    attrs = f' class="cell graded" id="{html.escape(_anchor(grade_id))}"' if score else ' class="cell"'
    badge = _score_badge(score) if score else ""
    source = _shown_source(cell, released)
    if cell.cell_type == "markdown":
        text = _markdown(source, source in trusted)
        return f'<section{attrs}>{badge}<div class="tex2jax_process">{text}</div></section>'
    if cell.cell_type != "code":
        return f"<section{attrs}>{badge}<pre>{html.escape(source)}</pre></section>"
    code = f'<pre class="source"><code>{html.escape(source)}</code></pre>'
    lines = source.count("\n") + 1
    if not score and lines > COLLAPSE_LINES:
        first = html.escape(source.split("\n", 1)[0])
        code = f"<details><summary><code>{first}</code> ({lines} lines)</summary>{code}</details>"
    outputs = "".join(_output(o, secrets) for o in cell.get("outputs", []))
    return f"<section{attrs}>{badge}{code}{outputs}</section>"


@functools.lru_cache(maxsize=4096)  # most markdown cells are the course's, the same in every hand-in
def _markdown(source: str, trusted: bool) -> str:
    """Markdown as HTML. Raw HTML is rendered only in text that is the course's own (identical to
    a release cell, e.g. the Colab badge); the student's is shown as text."""
    maths: list[str] = []

    def cut(match: re.Match) -> str:
        maths.append(match[0])
        return f"MATHTOKEN{len(maths) - 1}X"

    def paste(match: re.Match) -> str:
        index = int(match[1])
        return html.escape(maths[index]) if index < len(maths) else match[0]

    rendered = (_markdown_trusted if trusted else _markdown_untrusted)(_MATH.sub(cut, source))
    return _MATH_TOKEN.sub(paste, rendered)


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


def _pre(text: str, secrets: list[str], total: int, kind: str = "out") -> str:
    shown = _shown_text(text, secrets)
    more = f'<p class="note">… {total - MAX_OUTPUT:,} more characters not shown</p>' if total > MAX_OUTPUT else ""
    return f'<pre class="{kind}">{html.escape(shown)}</pre>{more}'


def _image(mime: str, data: str) -> str:
    if mime == "image/svg+xml":  # as an <img>, an SVG can neither run scripts nor load anything
        data = base64.b64encode(data.encode()).decode()
    elif not _BASE64.fullmatch(data):
        return '<p class="note">(an image that is not valid base64, not shown)</p>'
    return f'<img alt="output image" src="data:{mime};base64,{"".join(data.split())}">'


def _output(output: NotebookNode, secrets: list[str]) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        text = _text(output.get("text", ""))
        return _pre(text, secrets, len(text), "stderr" if output.get("name") == "stderr" else "out")
    if kind == "error":  # the traceback quotes the failing line, possibly a hidden test's
        text = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
        return _pre(text, secrets, len(text), "error")
    data = output.get("data", {})
    for mime in ("image/png", "image/jpeg", "image/svg+xml"):
        if mime in data:
            return _image(mime, _text(data[mime]))
    if "text/plain" in data:
        text = _text(data["text/plain"])
        return _pre(text, secrets, len(text))
    if data:
        return f'<p class="note">(output of type {html.escape(", ".join(data))} not shown)</p>'
    return ""
