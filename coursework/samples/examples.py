"""The bundled example hand-ins (examples/handins.zip): a handful of realistic students, in the
layouts an instructor downloads from an LMS, mixed in one zip. `python -m grading release`
writes it; `./course demo` grades it.

  ada    every notebook right                     canonical:  ada/02_single_chain.ipynb
  ben    the classic misconceptions, one late     Canvas:     leeben_4102_88011_02_single_chain.ipynb
  chloe  Colab downloads, with all Colab's edits  Moodle:     Chloe Martin_1187_assignsubmission_file_/...
  dev    a Drive copy and a second download       dev/Copy of 02_single_chain.ipynb, dev/04_two_paths (1).ipynb
  emma   one file cut short (malformed JSON)      emma/03_computation_graph.ipynb
  finn   a loop that never ends                   finn/02_single_chain.ipynb
"""

import io
import zipfile

import nbformat
from nbformat import NotebookNode

from coursework.answers import fill_answers, solution_answers
from coursework.samples import Sample, samples
from coursework.samples.colab import colab_save

WEEK = (2026, 11, 16)  # the hand-ins arrive over the week before the deadline
ENDLESS_LOOP = """def dz_dx(x):
    return 4 * x


# check my formula at a few points before the test
x = 0.0
while x < 10:
    print(x, dz_dx(x))
"""


def right(name: str) -> Sample:
    return next(s for s in samples(name) if not s.fails)


def misconceptions(name: str) -> Sample:
    """The sample whose mistakes carry the most misconception tags (then: the most mistakes)."""
    return max(samples(name), key=lambda s: (sum(tag is not None for tag in s.fails.values()), len(s.fails)))


def notebook(name: str, sample: Sample, sources: dict, students: dict) -> NotebookNode:
    return fill_answers(students[name], solution_answers(sources[name]) | sample.answers)


def text(nb: NotebookNode) -> bytes:
    return nbformat.writes(nb).encode()


def handins(sources: dict[str, NotebookNode], students: dict[str, NotebookNode]) -> list[tuple[str, int, bytes]]:
    """(path in the zip, day of the week, content) of every example file."""
    names = sorted(students)
    files = []
    for name in names:
        files.append((f"ada/{name}.ipynb", 17, text(notebook(name, right(name), sources, students))))
        late = "LATE_" if name == names[-1] else ""
        canvas = f"leeben_{late}4102_8801{len(files)}_{name}.ipynb"
        files.append((canvas, 21 if late else 19, text(notebook(name, misconceptions(name), sources, students))))
    for seed, name in enumerate(names[:4]):
        colab = colab_save(notebook(name, right(name), sources, students), executed=True, widgets=seed == 0, seed=seed)
        files.append((f"Chloe Martin_1187_assignsubmission_file_/{name}.ipynb", 18, colab))
    files.append((f"dev/Copy of {names[1]}.ipynb", 18, text(notebook(names[1], right(names[1]), sources, students))))
    files.append((f"dev/{names[3]} (1).ipynb", 19, text(notebook(names[3], right(names[3]), sources, students))))
    whole = text(notebook(names[2], right(names[2]), sources, students))
    files.append((f"emma/{names[2]}.ipynb", 20, whole[: len(whole) // 2]))
    files.append((f"emma/{names[1]}.ipynb", 20, text(notebook(names[1], right(names[1]), sources, students))))
    endless = fill_answers(notebook(names[1], right(names[1]), sources, students), {"dz_dx": ENDLESS_LOOP})
    files.append((f"finn/{names[1]}.ipynb", 20, text(endless)))
    return files


def handins_zip(sources: dict[str, NotebookNode], students: dict[str, NotebookNode]) -> bytes:
    """The zip, byte for byte the same for the same notebooks (fixed times and order)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, day, content in handins(sources, students):
            info = zipfile.ZipInfo(f"submissions/{path}", date_time=(*WEEK[:2], day, 12, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()
