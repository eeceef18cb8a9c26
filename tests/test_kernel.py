"""The grader's own kernel (grading/kernel/runner.py: cells run in ipykernel's shell, no kernel
protocol) shows what a real ipykernel kernel shows, and a kernel cannot reach its template."""

import os
import re

import nbformat
import pytest
from nbclient import NotebookClient

from coursework import samples
from grading import check

CELLS = [
    "1 + 1",
    "print('out'); import sys; sys.stderr.write('err\\n'); print('more')",
    "import warnings\nwarnings.warn('careful')",
    "from IPython.display import display, clear_output\ndisplay('a', 3)\nprint('p')\n5",
    "handle = display('first', display_id=True)\nhandle.update('second')",
    "print('gone'); clear_output(); print('kept')",
    "print('w1'); clear_output(wait=True); print('w2')",
    "def f(:\n    pass",
    "1 / 0",
    "undefined_name",
    "input('name? ')",
    "%time x = 1",
    "%%capture captured\nprint('hidden')",
    "captured.stdout",
    "!echo from-a-shell",
    "import matplotlib.pyplot as plt\nplt.plot([1, 2])",
    "plt.figure()\nplt.plot([3, 4])\nplt.show()",
    "None",
    "x = 5\nx",
    "exit()",
    "print('still running', _)",
]


def outputs(nb: nbformat.NotebookNode) -> list:
    """Each code cell's execution count, printed text per stream (ipykernel cuts it into messages,
    and orders stdout and stderr, by timing) and other outputs; addresses, timings, process ids
    and file paths blanked."""
    cells = []
    for cell in nb.cells:
        printed = {}
        for output in cell.outputs:
            if output.output_type == "stream":
                printed[output.name] = printed.get(output.name, "") + output.text
        others = [dict(o) for o in cell.outputs if o.output_type != "stream"]
        text = re.sub(r"(CPU times|Wall time): .*", "_", repr(sorted(printed.items())))
        shown = re.sub(r"0x[0-9a-f]+|ipykernel_\d+|File \S+:\d+", "_", text + repr(others))
        cells.append((cell.execution_count, shown))
    return cells


def test_the_kernel_shows_what_ipykernel_shows(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in CELLS])
    path = tmp_path / "cells.ipynb"
    nbformat.write(nb, path)
    plain = nbformat.read(path, as_version=4)
    arguments = ["--InteractiveShell.xmode=Plain", "--DisplayFormatter.active_types=['text/plain']"]
    # Without pytest's variable: under pytest, ipykernel leaves file descriptors 1 and 2 alone.
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    NotebookClient(
        plain, kernel_name="python3", allow_errors=True, extra_arguments=arguments, timeout=60
    ).execute(cwd=str(tmp_path), env=env)
    ours = check.execute(path, timeout=60)
    assert outputs(ours) == outputs(plain)
    assert any("from-a-shell" in text for _, text in outputs(ours))


def test_what_subprocesses_print_is_the_cells_output(tmp_path):
    """As with ipykernel (it reads file descriptors 1 and 2 in a thread, so it may show such text
    a cell late; this kernel reads them when the cell ends)."""
    code = "import os, subprocess\nos.system('echo from-os-system')\nsubprocess.run(['sh', '-c', 'echo to-stderr >&2'])"
    path = tmp_path / "subprocesses.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)]), path)
    outputs = check.execute(path, timeout=60).cells[0].outputs
    printed = {o.name: o.text for o in outputs if o.output_type == "stream"}
    assert printed == {"stdout": "from-os-system\n", "stderr": "to-stderr\n"}


def test_a_kernel_cannot_write_to_its_template(autograde):
    """Junk written to every file the kernel holds open reaches no other hand-in: the next one,
    graded by the same template, scores in full."""
    name = "02_single_chain"
    vandal = samples.hand_in(name, samples.Sample("right", {}))
    vandal.cells.append(
        nbformat.v4.new_code_cell(
            "import os\nfor fd in map(int, os.listdir('/proc/self/fd')):\n    try:\n"
            "        os.write(fd, b'\\n{\"pid\": 1}\\n{\"exit\": 0}\\n{\"ready\": true}\\n')\n    except OSError:\n"
            "        pass"
        )
    )
    autograde(name, vandal)
    honest = autograde(name, samples.hand_in(name, samples.Sample("right", {})))
    assert honest.score == honest.max_score == 5


def test_printed_text_is_cut_as_the_grader_always_cut_it(autograde):
    """The kernel sends one character past the 2 MB budget, so the grader's cut still says it cut."""
    name = "02_single_chain"
    long = samples.hand_in(name, samples.Sample("right", {}))
    long.cells += [nbformat.v4.new_code_cell("print('x' * 2_100_000)"), nbformat.v4.new_code_cell("print('y')")]
    executed = autograde(name, long).notebook
    note = "\n[the grader kept only the first 2 MB of output]\n"
    printed = "".join(o.text for c in executed.cells[:-2] for o in c.get("outputs", []) if o.output_type == "stream")
    first, second = ("".join(o.text for o in c.outputs) for c in executed.cells[-2:])
    assert first == "x" * (2_000_000 - len(printed)) + note
    assert second == note


@pytest.mark.parametrize("signal_name", ["SIGSTOP", "SIGKILL"])
def test_a_kernel_that_stops_its_zygote_costs_the_next_hand_in_nothing(autograde, signal_name):
    """A kernel forked from a zygote (the process that ran the notebook's first cells) can signal
    it: the zygote is dropped, and the next hand-in is graded in full."""
    name = "02_single_chain"
    vandal = samples.hand_in(name, samples.Sample("right", {}))
    vandal.cells.append(nbformat.v4.new_code_cell(f"import os, signal\nos.kill(os.getppid(), signal.{signal_name})"))
    autograde(name, vandal)
    for _ in range(2):
        honest = autograde(name, samples.hand_in(name, samples.Sample("right", {})))
        assert honest.score == honest.max_score == 5


def test_a_changed_setup_cell_runs_in_the_kernel_itself(autograde):
    """A hand-in whose first cells differ from the course's is not run from the zygote: its own
    setup cell runs, and shows what it printed."""
    name = "02_single_chain"
    changed = samples.hand_in(name, samples.Sample("right", {}))
    setup = next(c for c in changed.cells if c.cell_type == "code")
    setup.source += "\nprint('my own setup')"
    graded = autograde(name, changed)
    assert graded.score == graded.max_score == 5
    shown = graded.notebook.cells[changed.cells.index(setup)].outputs
    assert "my own setup" in "".join(o.get("text", "") for o in shown)
