"""`python -m grading grade` end to end: one batch holding an honest student and one hand-in per
failure mode and attack of docs/grading-contract.md, graded once, in the sandbox. Each test asserts what one
hand-in got, and that the honest student beside it is untouched."""

import hashlib
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import nbformat
import pytest

from coursework import config, samples
from coursework.answers import fill_answers
from coursework.samples.colab import colab_save
from grading import grade
from grading.collect import collecting
from grading.kernel.pool import LocalPool
from grading.kernel.sandbox import choose_sandbox
from grading.state import locked

pytestmark = pytest.mark.kernel  # every test here grades in sandboxed kernels

NB = "02_single_chain"
CORRECT = "def dz_dx(x):\n    return 4 * x"
WRONG = "def dz_dx(x):\n    return 2 + 2 * x"  # sum along the chain
CELL_TIMEOUT, NOTEBOOK_TIMEOUT = 6, 15


def handin(answer: str = CORRECT, before: str = "") -> nbformat.NotebookNode:
    """Notebook 02 with every answer right but `dz_dx`'s cell, which runs `before` first."""
    nb = samples.hand_in(NB, samples.Sample("base", {}))
    return fill_answers(nb, {"dz_dx": (before + "\n\n" + answer).strip()})


def without_cell(nb, grade_id: str):
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != grade_id]
    return nb


def cell_index(nb, grade_id: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def duplicated_test(nb):
    i = cell_index(nb, "check_dz_dx")
    nb.cells.insert(i + 1, nbformat.from_dict(json.loads(json.dumps(nb.cells[i]))))
    nb.cells[i + 1].id = "copy-of-check"
    return nb


def retyped_test(nb):
    i = cell_index(nb, "check_dz_dx")
    nb.cells[i] = nbformat.v4.new_code_cell("check_dz_dx(dz_dx)")
    return nb


def tampered_test(nb):
    nb.cells[cell_index(nb, "check_dz_dx")].source = "pass"
    return nb


def probe(paths: list[str]) -> str:
    """Attack code that reports which of `paths` it could read."""
    return (
        f"for _p in {paths!r}:\n"
        "    try:\n"
        "        open(_p, 'rb').read(10)\n"
        "        print('READ', _p)\n"
        "    except OSError as _e:\n"
        "        print('DENIED', _p, type(_e).__name__)\n"
    )


@pytest.fixture(scope="session")
def server():
    """A TCP server on the host's loopback that records whether anyone connected."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    connected = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                connected.append(listener.accept())
            except TimeoutError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], connected
    stop.set()
    thread.join()
    listener.close()


def grade_into(submissions: Path, out: Path, course_dir: Path, workers: int) -> grade.Outcome:
    """What `python -m grading grade --sandbox require` does, against the course built for the tests."""
    box, _ = choose_sandbox("require")
    pool = LocalPool(workers, box, NOTEBOOK_TIMEOUT, CELL_TIMEOUT)
    try:
        with collecting(submissions, config.notebook_names()) as found:
            out.mkdir(parents=True, exist_ok=True)
            with locked(out):
                return grade.grade(found, out, course_dir, pool)
    finally:
        pool.close()


def tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="session")
def batch(tmp_path_factory, server, course_dir):
    port, connected = server
    root = tmp_path_factory.mktemp("batch")
    submissions, out = root / "submissions", root / "out"
    secret = root / "secret.txt"
    secret.write_text("the instructor's eyes only")
    outside = root / "written-by-student"
    gradebook = out / "course" / "gradebook.db"
    notebooks = {
        "honest": handin(),
        "deleted-test": without_cell(handin(), "check_dz_dx"),
        "deleted-helpers": without_cell(handin(), "helpers"),
        "duplicated-test": duplicated_test(handin()),
        "retyped-test": retyped_test(handin()),
        "tampered-test": tampered_test(handin(WRONG)),
        "infinite-loop": handin(before="while True:\n    pass"),
        "ignores-sigint": handin(
            before="import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"
        ),
        "sleeps": handin(before="import time\ntime.sleep(10**6)"),
        "exits": handin(before="import os\nos._exit(1)"),
        "prints-50mb": handin(before="print('x' * 50_000_000)"),
        "memory-bomb": handin(
            before="try:\n    _big = bytearray(16 * 2**30)\nexcept MemoryError:\n    print('no memory')"
        ),
        "fork-bomb": handin(
            before="import os, time\n_n = 0\nfor _ in range(200):\n    try:\n        if os.fork() == 0:\n"
            "            time.sleep(30)\n            os._exit(0)\n        _n += 1\n    except OSError:\n        break\n"
            "print('forked', _n)"
        ),
        "disk-bomb": handin(
            before="try:\n    with open('/tmp/fill', 'wb') as _f:\n        for _ in range(400):\n"
            "            _f.write(b'x' * 2**20)\nexcept OSError as _e:\n    print('disk full', type(_e).__name__)"
        ),
        "reads-course": handin(
            before=probe(
                [
                    str(config.SOLUTIONS / f"{NB}.ipynb"),
                    str(gradebook),
                    str(secret),
                    str(submissions / "honest" / f"{NB}.ipynb"),
                ]
            )
        ),
        "writes-outside": handin(
            before=f"for _p in [{str(outside)!r}, {str(config.ROOT / 'pwned')!r}, '/usr/pwned']:\n"
            "    try:\n        open(_p, 'w').write('x')\n        print('WROTE', _p)\n"
            "    except OSError as _e:\n        print('DENIED', _p)"
        ),
        "network": handin(
            before=f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
            "    print('CONNECTED')\nexcept OSError as _e:\n    print('NO NETWORK', type(_e).__name__)"
        ),
        "custom-exc": handin(WRONG, "get_ipython().set_custom_exc((Exception,), lambda *args, **kwargs: None)"),
        "replaces-abs": handin(WRONG, "import builtins\nbuiltins.abs = lambda x: 0"),
        "replaces-isclose": handin(
            WRONG, "import math, torch\nmath.isclose = lambda *a, **k: True\ntorch.allclose = lambda *a, **k: True"
        ),
        "redefines-check": handin(WRONG, "def check_dz_dx(*args, **kwargs):\n    print('✅ looks fine')"),
        "warns": handin(
            "def dz_dx(x):\n    import torch\n    t = torch.tensor(float(x), requires_grad=True)\n    y = t * 1\n"
            "    y.grad  # a non-leaf's .grad: torch warns\n    return 4 * x"
        ),
    }
    for student, nb in notebooks.items():
        (submissions / student).mkdir(parents=True)
        nbformat.write(nb, submissions / student / f"{NB}.ipynb")
    (submissions / "colab").mkdir()
    (submissions / "colab" / f"{NB}.ipynb").write_bytes(colab_save(handin()))
    (submissions / "drive-copy").mkdir()
    nbformat.write(handin(), submissions / "drive-copy" / f"Copy of {NB}.ipynb")
    (submissions / "empty-folder").mkdir()
    (submissions / "malformed").mkdir()
    (submissions / "malformed" / f"{NB}.ipynb").write_text('{"cells": [')
    (submissions / "zero-bytes").mkdir()
    (submissions / "zero-bytes" / f"{NB}.ipynb").write_bytes(b"")
    (submissions / "not-a-notebook").mkdir()
    (submissions / "not-a-notebook" / f"{NB}.ipynb").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))

    before = tree_hash(submissions)
    # The run's own temporary folder: what is left in it, the run left behind. (Not under pytest's
    # folder, which the sandbox's unprivileged user cannot reach.)
    temporary = Path(tempfile.mkdtemp(prefix="grading-test-"))
    temporary.chmod(0o755)
    tempfile.tempdir = str(temporary)
    try:
        outcome = grade_into(submissions, out, course_dir, workers=2)
    finally:
        tempfile.tempdir = None
    rows = {(r.student, r.notebook): r for r in outcome.results}
    yield {
        "outcome": outcome,
        "rows": rows,
        "out": out,
        "submissions": submissions,
        "unchanged": before == tree_hash(submissions),
        "left_behind": set(temporary.iterdir()),
        "outside": outside,
        "connected": connected,
    }
    shutil.rmtree(temporary)


def row(batch, student):
    return batch["rows"][(student, NB)]


def output_of(batch, student: str, grade_id: str = "dz_dx") -> str:
    path = batch["out"] / "course" / "autograded" / student / NB / f"{NB}.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = nb.cells[cell_index(nb, grade_id)]
    return "".join(o.get("text", "") + o.get("evalue", "") for o in cell.outputs)


def assert_graded(batch, student, score, flags=()):
    r = row(batch, student)
    assert r.status == "graded", r.message
    assert r.score == score, (r.score, r.message, [(c.grade_id, c.score, c.text[:200]) for c in r.cells])
    assert set(flags) <= set(r.flags), (r.flags, r.message)


@pytest.fixture(autouse=True)
def honest_untouched(request):
    """After every test of this batch: the honest student still has full marks and no flag."""
    yield
    if "batch" in request.fixturenames:
        honest = row(request.getfixturevalue("batch"), "honest")
        assert (honest.status, honest.score, honest.max_score, honest.flags) == ("graded", 5, 5, [])


def test_honest_student_gets_full_marks(batch):
    r = row(batch, "honest")
    assert {c.grade_id: c.score for c in r.cells} == {"check_dz_dx": 2, "check_predicted_x_grad": 1, "check_dw_dx": 2}


def test_every_student_gets_a_row_for_every_notebook(batch):
    students = {s for s, _ in batch["rows"]}
    assert "empty-folder" in students
    assert len(batch["rows"]) == len(students) * len(config.notebook_names())
    assert all(batch["rows"][("empty-folder", n)].status == "missing" for n in config.notebook_names())
    assert batch["rows"][("honest", "01_tensors")].status == "missing"


def test_hand_ins_are_never_modified(batch):
    assert batch["unchanged"]


def test_grading_leaves_no_temporary_folders(batch):
    assert batch["left_behind"] == set()


@pytest.mark.parametrize("student", ["malformed", "zero-bytes", "not-a-notebook"])
def test_unreadable_files(batch, student):
    r = row(batch, student)
    assert (r.status, r.score) == ("unreadable", 0)
    assert r.message


@pytest.mark.parametrize("student", ["deleted-test", "deleted-helpers", "duplicated-test", "retyped-test"])
def test_damaged_test_cells_are_put_back(batch, student):
    assert_graded(batch, student, 5, ["cells-restored"])


def test_tampered_test_cell_is_restored_and_flagged(batch):
    assert_graded(batch, "tampered-test", 3, ["tampered"])
    assert "sum-along-path" in row(batch, "tampered-test").misconceptions


@pytest.mark.parametrize("student", ["infinite-loop", "sleeps"])
def test_a_cell_that_runs_too_long_is_interrupted(batch, student):
    # The loop sits before `def dz_dx`: interrupted, dz_dx never exists; the rest still counts.
    assert_graded(batch, student, 3, ["timeout"])


def test_a_loop_that_ignores_interrupts_is_stopped_by_the_notebook_limit(batch):
    assert_graded(batch, "ignores-sigint", 0, ["timeout"])
    assert row(batch, "ignores-sigint").seconds < NOTEBOOK_TIMEOUT + 30


def test_kernel_death_fails_only_what_did_not_run(batch):
    assert_graded(batch, "exits", 0, ["kernel-died"])


def test_huge_output_is_cut(batch):
    assert_graded(batch, "prints-50mb", 5)
    path = batch["out"] / "course" / "autograded" / "prints-50mb" / NB / f"{NB}.ipynb"
    assert path.stat().st_size < 5_000_000


def test_memory_bomb_is_refused(batch):
    assert_graded(batch, "memory-bomb", 5)
    assert "no memory" in output_of(batch, "memory-bomb")


def test_fork_bomb_is_capped(batch):
    assert_graded(batch, "fork-bomb", 5)
    forked = int(output_of(batch, "fork-bomb").split("forked")[1].split()[0])
    assert forked < 200


def test_disk_bomb_hits_the_scratch_limit(batch):
    assert_graded(batch, "disk-bomb", 5)
    assert "disk full" in output_of(batch, "disk-bomb")


def test_student_code_sees_no_course_gradebook_or_other_students(batch):
    assert_graded(batch, "reads-course", 5)
    text = output_of(batch, "reads-course")
    assert "READ" not in text and text.count("DENIED") == 4


def test_student_code_writes_nowhere_but_scratch(batch):
    assert_graded(batch, "writes-outside", 5)
    # (A path under /tmp may be written inside the sandbox: its /tmp is the kernel's scratch.)
    assert "DENIED /usr/pwned" in output_of(batch, "writes-outside")
    assert not batch["outside"].exists() and not (config.ROOT / "pwned").exists()


def test_student_code_has_no_network(batch):
    assert_graded(batch, "network", 5)
    assert "NO NETWORK" in output_of(batch, "network")
    assert batch["connected"] == []


@pytest.mark.parametrize("student", ["custom-exc", "replaces-abs", "replaces-isclose"])
def test_tricks_do_not_turn_a_wrong_answer_right(batch, student):
    assert_graded(batch, student, 3, ["suspicious"])
    assert "suspicious" in row(batch, student).message


def test_redefined_check_is_flagged(batch):
    r = row(batch, "redefines-check")
    assert "suspicious" in r.flags and "check_dz_dx" in r.message


def test_a_warning_in_a_test_cell_costs_nothing(batch):
    assert_graded(batch, "warns", 5)


def test_colab_download_grades_like_its_jupyter_twin(batch):
    colab, honest = row(batch, "colab"), row(batch, "honest")
    assert colab.status == "graded" and colab.flags == []
    assert [(c.grade_id, c.score) for c in colab.cells] == [(c.grade_id, c.score) for c in honest.cells]


def test_a_drive_copy_is_matched_and_flagged_renamed(batch):
    assert_graded(batch, "drive-copy", 5, ["renamed"])


def test_feedback_never_shows_hidden_tests(batch, sources):
    hidden = []
    for cell in sources[NB].cells:
        if "### BEGIN HIDDEN TESTS" in cell.source:
            block = cell.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
            hidden += [line.strip() for line in block.splitlines() if line.strip()]
    assert hidden
    pages = list((batch["out"] / "feedback").rglob("*.html"))
    assert len(pages) >= 20
    for page in pages:
        text = page.read_text()
        assert not [line for line in hidden if line in text], page


def test_outputs_for_nbgrader_tools(batch):
    out = batch["out"]
    assert (out / "nbgrader-export.csv").read_text().count("\n") > 20
    assert (out / "report.html").read_text().count('role="img"') >= 2  # its charts: scores, exercises
    header = (out / "grades.csv").read_text().splitlines()[0]
    assert header.startswith("student,notebook,score,max_score,status,flags,misconceptions,message")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{out / 'course' / 'gradebook.db'}") as gb:
        assert gb.find_submission(NB, "honest").score == 5


def test_grading_again_grades_only_what_is_new(batch, tmp_path, course_dir):
    out = tmp_path / "out"
    shutil.copytree(batch["out"], out)
    late = tmp_path / "late"
    (late / "latecomer").mkdir(parents=True)
    nbformat.write(handin(WRONG), late / "latecomer" / f"{NB}.ipynb")
    outcome = grade_into(late, out, course_dir, workers=1)
    assert outcome.graded_now == 1
    rows = {(r.student, r.notebook): r for r in outcome.results}
    assert rows[("latecomer", NB)].score == 3
    for k, before in batch["rows"].items():
        assert rows[k] == before


def run_cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grading", *args], capture_output=True, text=True, **kwargs)


def test_exit_status_when_the_grader_cannot_work(tmp_path):
    missing = run_cli("grade", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"))
    assert missing.returncode != 0
    assert missing.stderr.strip().count("\n") == 0 and "nowhere" in missing.stderr


def test_require_refuses_to_grade_without_a_sandbox(tmp_path):
    (tmp_path / "subs").mkdir()
    env = {"PATH": str(Path(sys.executable).parent)}  # no bwrap on this PATH
    refused = run_cli("grade", str(tmp_path / "subs"), "--out", str(tmp_path / "out"), "--sandbox", "require", env=env)
    assert refused.returncode != 0 and "bubblewrap" in refused.stderr
    assert not (tmp_path / "out" / "grades.csv").exists()


def test_report_renders_everything_again_without_grading(batch, tmp_path):
    """`python -m grading report OUT`, also on an OUT whose course folder predates course.json."""
    out = tmp_path / "out"
    shutil.copytree(batch["out"], out)
    (out / "course" / "course.json").unlink()
    shutil.rmtree(out / "feedback")
    (out / "grades.csv").unlink()
    (out / "report.html").unlink()
    state_before = (out / "state.json").read_bytes()
    run = run_cli("report", str(out))
    assert run.returncode == 0, run.stderr
    assert (out / "grades.csv").read_text() == (batch["out"] / "grades.csv").read_text()
    pages = sorted(p.relative_to(batch["out"]) for p in (batch["out"] / "feedback").rglob("*.html"))
    assert pages and pages == sorted(p.relative_to(out) for p in (out / "feedback").rglob("*.html"))
    assert all((out / p).read_text() == (batch["out"] / p).read_text() for p in pages)
    assert "Grading report" in (out / "report.html").read_text()
    assert (out / "state.json").read_bytes() == state_before  # nothing was graded


def test_report_refuses_a_folder_grade_did_not_write(tmp_path):
    run = run_cli("report", str(tmp_path))
    assert run.returncode == 2 and str(tmp_path) in run.stderr and run.stderr.count("\n") == 1
