"""The checks of 04_two_paths, run in-process: every classic mistake of the multi-path rule is
recognised by its formula at the visible and the hidden points (and a formula that only agrees at
the textbook point is not), right answers pass as floats or tensors with 0-d tensor arguments, and
a visible check never raises, returns nothing and writes nothing to stderr."""

import pytest
import torch
from conftest import assert_fails_quietly, assert_names, tags

from coursework.helpers import chain_rule
from coursework.helpers.checks import autograd_grads
from coursework.samples import two_paths as samples

HIDDEN = [
    (2.0, 1.0), (-1.0, 0.5), (0.0, -2.0), (1.5, 3.0), (0.0, 0.0), (-3.5, -1.0), (10.0, -4.0), (0.25, 0.1),
    (torch.tensor(-2.0), torch.tensor(1.5)), (torch.tensor(3.0, dtype=torch.float64), 2.0),
]  # fmt: skip
CHECKS = {
    "dz_da": chain_rule.check_dz_da,
    "dz_db": chain_rule.check_dz_db,
    "predicted_a_grad": chain_rule.check_predicted_a_grad,
    "dz_da_three_paths": chain_rule.check_dz_da_three_paths,
}


def not_answered(*args):
    raise NotImplementedError()


WEIRD = {
    "not answered": not_answered,
    "returns None": lambda *a: None,
    "returns a pair": lambda *a: (64.0, 33.0),
    "returns a vector": lambda *a: torch.tensor([64.0, 33.0]),
    "returns nan": lambda *a: float("nan"),
    "raises": lambda *a: [][1],
    "takes one argument": lambda a: 64.0,
    "is a number": 64,
}


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("answer", WEIRD)
def test_visible_check_never_raises_and_hidden_one_fails(check, answer, capsys):
    assert_fails_quietly(CHECKS[check], WEIRD[answer], capsys)


def student_function(exercise, body):
    """The function a student's cell defines, from a sample's source."""
    scope = {"torch": torch}
    exec(samples.HEADS[exercise] + body, scope)
    return scope[exercise]


CASES = [(ex, tag) for ex in samples.MISTAKES for tag in samples.MISTAKES[ex]]


@pytest.mark.parametrize(("exercise", "tag"), CASES, ids=[f"{e}:{t}" for e, t in CASES])
def test_every_mistake_is_named_at_visible_and_hidden_points(exercise, tag, capsys):
    fn = student_function(exercise, samples.MISTAKES[exercise][tag])
    assert_names(CHECKS[exercise], fn, tag, capsys, hidden_points=None if exercise == "predicted_a_grad" else HIDDEN)


FORMULA_MISTAKES = {
    "dz_da": [
        (lambda a, b: 4 + 30 * a, "right"),
        (lambda a, b: 4 + 15 * a, "power-rule"),
        (lambda a, b: 4 + 30 * a**2, "power-rule"),
        (lambda a, b: 2 + 3, "chain-stopped-early"),
        (lambda a, b: 4 + 10 * a, "chain-stopped-early"),
        (lambda a, b: 2 + 30 * a, "chain-stopped-early"),
        (lambda a, b: 2 * 2, "missing-path"),
        (lambda a, b: 64.0, "wrong-point"),
        (lambda a, b: 8 + 30 * a, "extra-path"),
        (lambda a, b: -4 - 30 * a, "constant-factor"),
        (lambda a, b: 4 + 30 * b, None),  # agrees with the right answer at (2, 1) only: untagged
        (lambda a, b: 27.0, None),  # the sum-along-path number, but not its formula
    ],
    "dz_db": [
        (lambda a, b: 6 + 27 * b**2, "right"),
        (lambda a, b: 6 + 27 * b**3, "power-rule"),
        (lambda a, b: 27 * b**2, "missing-path"),
        (lambda a, b: 3 + 27 * b**2, "chain-stopped-early"),
        (lambda a, b: 5, "chain-stopped-early"),
        (lambda a, b: 6 + 27 * b, "power-rule"),  # 3b³ differentiated as 9b
    ],
    "dz_da_three_paths": [
        (lambda a, b: 4 + 62 * a - 8 * b, "right"),
        (lambda a, b: 30 * a + 8 * (4 * a - b), "missing-path"),
        (lambda a, b: 4 + 8 * (4 * a - b), "missing-path"),
        (lambda a, b: 2 + 10 * a + 4, "chain-stopped-early"),
        (lambda a, b: 4 + 6 * a + 8 * (4 * a - b), "power-rule"),
        (lambda a, b: 4 + 15 * a + 8 * (4 * a - b), "power-rule"),
        (lambda a, b: 4 + 30 * a + 2 * (4 * a - b), "chain-stopped-early"),  # the factor 4 of w = 4a - b
        (lambda a, b: 4 + 30 * a + 4 * (4 * a - b), "power-rule"),  # w² differentiated as w
    ],
}
FORMULA_CASES = [(ex, fn, tag) for ex, cases in FORMULA_MISTAKES.items() for fn, tag in cases]


@pytest.mark.parametrize(("exercise", "fn", "tag"), FORMULA_CASES)
def test_more_formulas(exercise, fn, tag, capsys):
    """A right formula passes; a wrong one fails, named by its mistake's tag, or by none."""
    CHECKS[exercise](fn, points=HIDDEN)
    out = capsys.readouterr().out
    if tag == "right":
        assert out.startswith("✅"), out
    else:
        assert out.startswith("❌") and tags(out) == ({tag} if tag else set()), out


PREDICTIONS = [
    (34.0, "power-rule"),
    (124, "power-rule"),
    (5.0, "chain-stopped-early"),
    (24.0, "chain-stopped-early"),
    (62.0, "chain-stopped-early"),
    (60.0, "missing-path"),
    (68.0, "extra-path"),
    (109.0, "wrong-point"),
    (192.0, None),  # three times the answer: no backward() runs in a prediction
    (65.0, None),
    (83.0, None),
]


@pytest.mark.parametrize(("value", "tag"), PREDICTIONS)
def test_more_predictions(value, tag, capsys):
    assert_names(chain_rule.check_predicted_a_grad, lambda: value, tag, capsys)


def test_right_answers_pass_as_floats_or_tensors_with_tensor_arguments(capsys):
    chain_rule.check_dz_da(lambda a, b: 4 + 30 * a, points=HIDDEN, must_pass=True)
    chain_rule.check_dz_da(lambda a, b: float(2 * 2 + 3 * 10 * a), points=HIDDEN, must_pass=True)
    chain_rule.check_dz_db(lambda a, b: torch.as_tensor(b).double() ** 2 * 27 + 6, points=HIDDEN, must_pass=True)
    chain_rule.check_predicted_a_grad(lambda: torch.tensor(64.0), must_pass=True)
    chain_rule.check_dz_da_three_paths(lambda a, b: 4 + 30 * a + 8 * (4 * a - b), points=HIDDEN, must_pass=True)
    out = capsys.readouterr().out
    assert out.count("✅") == 5 and "❌" not in out


def test_textbook_numbers():
    assert autograd_grads(chain_rule.single_chain, 3.5) == [14]
    assert autograd_grads(chain_rule.two_paths, 2.0, 1.0) == [64, 33]
    assert autograd_grads(chain_rule.two_paths, 3.5, 1.0)[0] == 109
