"""Notebook 05's checks, called directly: they never raise in visible mode, never write to
stderr, and build their own tensors (a check run twice gives the same verdict)."""

import pytest
import torch
from conftest import assert_fails_quietly

from coursework.helpers import practice
from coursework.helpers.checks import CheckFailed, passed


def right_last_step_grad(x_value, steps):
    x = torch.tensor(float(x_value), requires_grad=True)
    for _ in range(steps):
        x.grad = None
        (2 * x**2 + 3).backward()
    return x.grad


def right_dz_dx_without_backward(x):
    return torch.autograd.grad(2 * x**2 + 3, x)[0]


def raises_value_error(*args):
    raise ValueError("something else went wrong")


CHECKS = [
    practice.check_predicted_grad_after_three_backwards,
    practice.check_last_step_grad,
    practice.check_predicted_grad_after_zero_grad,
    practice.check_total_grad,
    practice.check_predicted_grad_with_no_grad_and_detach,
    practice.check_dz_dx_float32,
    practice.check_predicted_grad_with_integer_data,
    practice.check_grad_of_squares,
    practice.check_predicted_vjp,
    practice.check_dz_dx_without_backward,
]

ODD_ANSWERS = [
    42,  # a value, not a function
    raises_value_error,
    lambda *args: {"a": 1},
    lambda *args: "14",
    lambda *args: torch.tensor(1 + 2j),
    lambda *args: torch.tensor([1j, 2.0]),
    lambda *args: 10**400,
    lambda *args: float("nan"),
    lambda *args: torch.ones(2, 2),
    lambda *args: (1.0, 2.0),
]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("answer", ODD_ANSWERS)
def test_visible_check_never_raises_and_hidden_one_fails(check, answer, capsys):
    assert_fails_quietly(check, answer, capsys)


@pytest.mark.parametrize(
    ("check", "right"),
    [
        (practice.check_last_step_grad, right_last_step_grad),
        (practice.check_dz_dx_without_backward, right_dz_dx_without_backward),
    ],
)
def test_a_check_run_twice_gives_the_same_verdict(check, right, capsys):
    check(right)
    check(right)
    assert capsys.readouterr().out.count("✅") == 2


def test_hidden_checks_raise_only_on_wrong_answers():
    practice.check_last_step_grad(right_last_step_grad, points=[(3.5, 3), (0.5, 5)], must_pass=True)
    with pytest.raises(CheckFailed, match="accumulated-grad"):
        practice.check_last_step_grad(lambda x, steps: steps * 4 * x, must_pass=True)
    with pytest.raises(CheckFailed, match="not answered yet"):
        practice.check_predicted_vjp(lambda: (_ for _ in ()).throw(NotImplementedError()), must_pass=True)


def test_a_warning_from_student_code_goes_to_stdout(capsys):
    def buggy(x_value):
        x = torch.tensor(x_value, dtype=torch.float64, requires_grad=True).float()
        (2 * x**2 + 3).backward()
        return x.grad

    practice.check_dz_dx_float32(buggy)
    out = capsys.readouterr()
    assert "not a leaf" in out.out and "❌" in out.out and out.err == ""
    assert not passed("dz_dx_float32")


def test_show_warnings_prints_the_warning_as_output(capsys):
    x = torch.tensor(1.0, requires_grad=True) * 2
    with practice.show_warnings():
        assert x.grad is None
    out = capsys.readouterr()
    assert "PyTorch warns" in out.out and out.err == ""


def test_the_old_gradient_of_the_caller_is_kept():
    def restores(x):
        saved = x.grad
        x.grad = None
        (2 * x**2 + 3).backward()
        result = x.grad.clone()
        x.grad = saved
        return result

    practice.check_dz_dx_without_backward(restores, must_pass=True)

    def zeroes_first(x):
        x.grad = None
        (2 * x**2 + 3).backward()
        return x.grad

    with pytest.raises(CheckFailed, match="x.grad held 100"):
        practice.check_dz_dx_without_backward(zeroes_first, must_pass=True)
