"""The checks of 02_single_chain, run in-process: each classic mistake is recognised by its formula
at every point (and only then), a constant factor is not taken for gradients piling up (no
backward() runs here), right answers pass as floats or tensors, 0-d tensor arguments work, and a
visible check never raises, returns nothing and writes nothing to stderr."""

import warnings

import pytest
import torch
from conftest import assert_fails_quietly, assert_names

from coursework.helpers import chain_rule, checks
from coursework.helpers.checks import CheckFailed

HIDDEN_X = [3.5, -2.0, 0.0, 1.0, 10.0, -3.5, 0.25, -0.1, 123.0, torch.tensor(-1.5)]
HIDDEN_X.append(torch.tensor(2.0, dtype=torch.float64))
HIDDEN_W = [0.5, 0.0, -1.0, 2.0, -0.5, 3.5, -2.25, 10.0, torch.tensor(-0.75), torch.tensor(1.0, dtype=torch.float64)]


def not_answered(*args):
    raise NotImplementedError()


def warns(*args):
    warnings.warn("careful", stacklevel=2)
    return 1.0


class NamelessWarner:
    """A function without a __name__ (a callable object) that warns."""

    def __call__(self, *args):
        return warns()


WEIRD = {
    "not answered": not_answered,
    "returns None": lambda *a: None,
    "returns a list": lambda *a: [1.0, 2.0],
    "returns a string": lambda *a: "14",
    "returns a vector": lambda *a: torch.ones(2),
    "returns a complex tensor": lambda *a: torch.tensor(1 + 2j),
    "returns nan": lambda *a: float("nan"),
    "returns inf": lambda *a: torch.tensor(float("inf")),
    "raises": lambda *a: 1 / 0,
    "warns": warns,
    "warns, without a name": NamelessWarner(),
    "returns a huge int": lambda *a: 10**400,
    "takes no argument": lambda: 1.0,
    "is a number": 14.0,
}

CHECKS = {
    "dz_dx": chain_rule.check_dz_dx,
    "predicted_x_grad": chain_rule.check_predicted_x_grad,
    "dw_dx": chain_rule.check_dw_dx,
}


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("answer", WEIRD)
def test_visible_check_never_raises_and_hidden_one_fails(check, answer, capsys):
    assert_fails_quietly(CHECKS[check], WEIRD[answer], capsys)


def test_not_answered_says_so(capsys):
    chain_rule.check_dz_dx(not_answered)
    assert "not answered yet" in capsys.readouterr().out


DZ_DX_MISTAKES = [
    (lambda x: 2 + 2 * x, "sum-along-path"),
    (lambda x: 2 * x, "chain-stopped-early"),
    (lambda x: 2, "chain-stopped-early"),
    (lambda x: 4 * x**2, "power-rule"),
    (lambda x: 4.0, "power-rule"),
    (lambda x: 14.0, "wrong-point"),
    (lambda x: 8 * x, "constant-factor"),
    (lambda x: 3 * (4 * x), "constant-factor"),
    (lambda x: -4 * x, "constant-factor"),
    (lambda x: 4 * x + 3, None),
    (lambda x: 7.0, None),
]


@pytest.mark.parametrize(("answer", "tag"), DZ_DX_MISTAKES)
def test_dz_dx_mistakes_are_named_at_visible_and_hidden_points(answer, tag, capsys):
    assert_names(chain_rule.check_dz_dx, answer, tag, capsys, hidden_points=HIDDEN_X)


PREDICTIONS = [
    (-4.0, "chain-stopped-early"),
    (2, "chain-stopped-early"),
    (-2.0, "sum-along-path"),
    (16.0, "power-rule"),
    (4.0, "power-rule"),
    (14.0, "wrong-point"),
    (-16.0, None),  # twice the answer: no backward() runs in a prediction, so no gradients piled up
    (torch.tensor(-24.0), None),
    (8.0, None),
    (7.0, None),
]


@pytest.mark.parametrize(("value", "tag"), PREDICTIONS)
def test_predicted_x_grad_mistakes_are_named(value, tag, capsys):
    assert_names(chain_rule.check_predicted_x_grad, lambda: value, tag, capsys)


def u(x):
    return 2 * x + 1


DW_DX_MISTAKES = [
    (lambda x: 4 + 3 * u(x) ** 2 + 2, "sum-along-path"),
    (lambda x: 12 * u(x) ** 2, "chain-stopped-early"),
    (lambda x: 6 * u(x) ** 2, "chain-stopped-early"),
    (lambda x: 3 * u(x) ** 2, "chain-stopped-early"),
    (lambda x: 8 * u(x) ** 2, "power-rule"),
    (lambda x: 24 * u(x) ** 3, "power-rule"),
    (lambda x: 24 * u(x), "power-rule"),  # u³ differentiated as 3u
    (lambda x: 24 * x**2, "wrong-point"),  # x written where u belongs
    (lambda x: 48 * u(x) ** 2, "constant-factor"),
    (lambda x: 24 * u(x) + 1, None),
]


@pytest.mark.parametrize(("answer", "tag"), DW_DX_MISTAKES)
def test_dw_dx_mistakes_are_named_at_visible_and_hidden_points(answer, tag, capsys):
    assert_names(chain_rule.check_dw_dx, answer, tag, capsys, hidden_points=HIDDEN_W)


def test_repeated_backward_needs_a_whole_multiple_at_every_point():
    mistake = checks.repeated_backward("twice")
    expected, points = [4.0, 0.0, -8.0], [(1.0,), (0.0,), (-2.0,)]
    assert mistake.matches([8.0, 0.0, -16.0], expected, points)
    assert not mistake.matches([6.0, 0.0, -12.0], expected, points)  # 1.5 times: not a count of calls
    assert not mistake.matches([8.0, 1.0, -16.0], expected, points)  # where the answer is 0, 0
    assert not mistake.matches([8.0, float("nan"), -16.0], expected, points)
    assert not mistake.matches([float("inf"), 0.0, -16.0], expected, points)
    assert not mistake.matches([1e308, 0.0, -16.0], [1e-300, 0.0, -8.0], points)  # ratio too big
    assert not mistake.matches([0.0, 0.0, 0.0], [0.0, 0.0, 0.0], points)
    assert not mistake.matches([28.0], [14.0], [(3.5,)])  # one number is a multiple of anything


def test_constant_factor_is_any_ratio_but_one_at_every_point():
    mistake = checks.constant_factor()
    expected, points = [4.0, 0.0, -8.0], [(1.0,), (0.0,), (-2.0,)]
    for k in (2.0, 0.5, -1.0, 3.0):
        assert mistake.matches([k * e for e in expected], expected, points)
    assert not mistake.matches(expected, expected, points)
    assert not mistake.matches([0.0, 0.0, 0.0], expected, points)
    assert not mistake.matches([8.0, 0.0, -12.0], expected, points)
    assert not mistake.matches([28.0], [14.0], [(3.5,)])


def test_none_says_a_return_is_missing(capsys):
    chain_rule.check_dz_dx(lambda x: None)
    chain_rule.check_predicted_x_grad(lambda: None)
    out = capsys.readouterr().out
    assert out.count("is None: nothing was returned") == 2 and "`return`" in out


@pytest.mark.parametrize("answer", [14.0, torch.tensor(1 + 2j), lambda x: torch.tensor(1j), lambda x: 10**400])
def test_the_shared_checks_never_raise(answer, capsys):
    """check_formula and check_value, used directly, say what is wrong with any answer."""
    assert_fails_quietly(lambda fn, **kw: checks.check_formula("f", fn, lambda x: 4 * x, [1.0], **kw), answer, capsys)
    assert_fails_quietly(lambda got, **kw: checks.check_value("v", got, 4.0, **kw), answer, capsys)


def test_right_only_at_the_visible_points_fails_the_hidden_check(capsys):
    def sneaky(x):
        return 4 * x if float(x) in chain_rule.X_POINTS else 0.0

    chain_rule.check_dz_dx(sneaky)
    assert capsys.readouterr().out.startswith("✅")
    with pytest.raises(CheckFailed):
        chain_rule.check_dz_dx(sneaky, points=HIDDEN_X, must_pass=True)


def test_right_answers_pass_as_floats_or_tensors_with_tensor_arguments(capsys):
    chain_rule.check_dz_dx(lambda x: 4 * x, points=HIDDEN_X, must_pass=True)
    chain_rule.check_dz_dx(lambda x: float(4 * x), points=HIDDEN_X, must_pass=True)
    chain_rule.check_dz_dx(lambda x: torch.as_tensor(x) * 4, points=HIDDEN_X, must_pass=True)
    chain_rule.check_predicted_x_grad(lambda: torch.tensor(-8.0), must_pass=True)
    chain_rule.check_predicted_x_grad(lambda: -8, must_pass=True)
    chain_rule.check_dw_dx(lambda x: 96 * x**2 + 96 * x + 24, points=HIDDEN_W, must_pass=True)
    out = capsys.readouterr().out
    assert out.count("✅") == 6 and "❌" not in out


def test_reference_is_autograd_even_under_no_grad(capsys):
    with torch.no_grad():
        chain_rule.check_dz_dx(lambda x: 4 * x)
    assert capsys.readouterr().out.startswith("✅")


def test_show_score_lists_the_notebooks_checks(capsys):
    chain_rule.check_dz_dx(lambda x: 4 * x)
    checks.show_score()
    out = capsys.readouterr().out
    for name in ("dz_dx", "predicted_x_grad", "dw_dx"):
        assert name in out
