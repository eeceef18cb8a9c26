"""`python -m grading check NOTEBOOK`: what a student working locally sees."""

import subprocess
import sys

import nbformat
import pytest
from conftest import MISCONCEPTION

from coursework import samples
from grading import check

pytestmark = pytest.mark.kernel  # every test here runs a notebook in a Jupyter kernel

NB = "02_single_chain"


def test_a_right_notebook_gets_every_visible_point(tmp_path):
    path = tmp_path / f"{NB}.ipynb"
    nbformat.write(samples.hand_in(NB, samples.Sample("right", {})), path)
    checked = check.run_checks(path)
    assert checked and all(c.passed for c in checked)
    assert "visible checks give 5 of 5 points" in check.summary(path, checked, MISCONCEPTION)


def test_a_mistake_is_named_on_the_command_line(tmp_path):
    mistaken = next(s for s in samples.samples(NB) if s.fails.get("check_dz_dx") == "sum-along-path")
    path = tmp_path / "mine.ipynb"
    nbformat.write(samples.hand_in(NB, mistaken), path)
    run = subprocess.run([sys.executable, "-m", "grading", "check", str(path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "❌ check_dz_dx (2 pt)  [sum-along-path]" in run.stdout
    assert "hidden tests" in run.stdout
