"""Release: regenerate everything students and instructors are given from solutions/: the student
notebooks in notebooks/, README's notebook table, and the example hand-ins."""

import tempfile
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from coursework import config
from coursework.build import build_course
from coursework.samples.examples import handins_zip

TABLE_START, TABLE_END = "<!-- notebooks:start -->", "<!-- notebooks:end -->"


def notebook_text(nb: NotebookNode) -> str:
    """nbformat's own layout: stable bytes, so that a regenerated notebook shows no diff."""
    return nbformat.writes(nb) + "\n"


def notebook_table(names: list[str], pub: config.Publication) -> str:
    rows = ["| notebook | open in Colab |", "|---|---|"]
    for name in names:
        rows.append(
            f"| [`{name}`]({pub.github_url(name)}) | [![Open In Colab]({config.BADGE_IMAGE})]({pub.colab_url(name)}) |"
        )
    return "\n".join(rows)


def readme_text(names: list[str], pub: config.Publication) -> str:
    text = config.README.read_text()
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    return text[:start] + "\n" + notebook_table(names, pub) + "\n" + text[end:]


def released_files(pub: config.Publication | None = None) -> dict[Path, bytes]:
    """What `release` writes: every student notebook, README.md with its notebook table, and the
    example hand-ins made from these very notebooks."""
    pub = pub or config.publication()
    with tempfile.TemporaryDirectory() as tmp:
        names = build_course(Path(tmp), pub)
        students = {n: nbformat.read(Path(tmp) / "release" / n / f"{n}.ipynb", as_version=4) for n in names}
    sources = {n: nbformat.read(config.SOLUTIONS / f"{n}.ipynb", as_version=4) for n in names}
    files = {config.NOTEBOOKS / f"{n}.ipynb": notebook_text(nb).encode() for n, nb in students.items()}
    files[config.README] = readme_text(names, pub).encode()
    files[config.EXAMPLE_HANDINS] = handins_zip(sources, students)
    return files


def release(pub: config.Publication | None = None) -> list[Path]:
    """Regenerate notebooks/, README's notebook table and the example hand-ins from solutions/.
    Deterministic: running it twice changes no byte."""
    files = released_files(pub)
    for stale in set(config.NOTEBOOKS.glob("*.ipynb")) - set(files):
        stale.unlink()
    for path, content in files.items():
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content)
    return sorted(files)
