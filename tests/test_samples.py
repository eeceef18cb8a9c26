"""Every sample hand-in earns what it must: right answers written differently pass, and each
classic mistake fails its check with the misconception tag that names it."""

import importlib.util

import pytest

from coursework import config, samples

CASES = [
    (name, sample)
    for name in config.notebook_names()
    if importlib.util.find_spec(f"coursework.samples.{samples.module_name(name)}")
    for sample in samples.samples(name)
]


@pytest.mark.parametrize(("name", "sample"), CASES, ids=[f"{n}:{s.name}" for n, s in CASES])
def test_sample_earns_what_it_must(name, sample, autograde):
    graded = autograde(name, samples.hand_in(name, sample))
    assert set(sample.fails) <= set(graded.cells), "fails names a test cell the notebook lacks"
    for grade_id, cell in graded.cells.items():
        if grade_id in sample.fails:
            assert cell.score == 0, f"{grade_id} should fail:\n{cell.text}"
            tag = sample.fails[grade_id]
            assert graded.misconceptions(grade_id) == ({tag} if tag else set()), cell.text
        else:
            assert cell.score == cell.max_score, f"{grade_id} should pass:\n{cell.text}"
