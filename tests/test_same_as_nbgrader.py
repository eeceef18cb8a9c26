"""The grader's scores are plain nbgrader's: the same hand-ins, graded both ways, score alike cell
by cell (the benchmark checks the same on a whole class)."""

import pytest

from coursework import config, samples

NAMES = config.notebook_names()


@pytest.mark.parametrize("name", NAMES)
def test_a_mistaken_hand_in_scores_as_in_plain_nbgrader(name, autograde, plain_autograde):
    mistaken = max(samples.samples(name), key=lambda s: len(s.fails))
    hand_in = samples.hand_in(name, mistaken)
    ours, theirs = autograde(name, hand_in), plain_autograde(name, hand_in)
    assert {g: c.score for g, c in ours.cells.items()} == {g: c.score for g, c in theirs.cells.items()}
    assert ours.score < ours.max_score
