"""The checks of 01_tensors, run in-process: they name each classic mistake in plain words, and a
visible check never raises and returns nothing, whatever the answer does."""

import re
import warnings

import numpy as np
import pytest
import torch
from conftest import assert_fails_quietly

from coursework.helpers import tensors
from coursework.helpers.checks import CheckFailed


def right_tensors():
    return torch.tensor(10.0), torch.arange(0.0, 2.5, 0.5), torch.arange(1.0, 7.0).reshape(3, 2)


def not_answered(*args):
    raise NotImplementedError()


def warns(*args):
    warnings.warn("careful", stacklevel=2)
    return torch.tensor(1.0)


WEIRD_ANSWERS = {
    "not answered": not_answered,
    "returns None": lambda *a: None,
    "returns a list": lambda *a: [1.0, 2.0],
    "returns a NumPy array": lambda *a: np.array([1.0]),
    "returns a float": lambda *a: 3.0,
    "returns a string": lambda *a: "hi",
    "returns a complex tensor": lambda *a: torch.tensor([1 + 2j]),
    "returns a 3-D tensor": lambda *a: torch.zeros(2, 2, 2),
    "raises": lambda *a: 1 / 0,
    "warns": warns,
    "returns four tensors": lambda *a: (torch.tensor(1.0),) * 4,
    "returns a bool tensor": lambda *a: torch.tensor([True, False]),
}

CHECKS = {
    "make_tensors": lambda fn, **kw: tensors.check_make_tensors(lambda: fn(), **kw),
    "bills": tensors.check_bills,
    "center_rows": tensors.check_center_rows,
    "trainable": tensors.check_trainable,
}


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("answer", WEIRD_ANSWERS)
def test_visible_check_never_raises_and_hidden_one_fails(check, answer, capsys):
    assert_fails_quietly(CHECKS[check], WEIRD_ANSWERS[answer], capsys)


def test_not_answered_says_so(capsys):
    tensors.check_bills(not_answered)
    assert "not answered yet" in capsys.readouterr().out


MISTAKES = [
    (tensors.check_make_tensors, lambda: (torch.tensor(10), *right_tensors()[1:]), ["scalar", "torch.int64"]),
    (tensors.check_make_tensors, lambda: (torch.tensor([10.0]), *right_tensors()[1:]), ["scalar has shape (1,)"]),
    (
        tensors.check_make_tensors,
        lambda: (right_tensors()[0], torch.tensor([[0.0, 0.5, 1.0, 1.5, 2.0]]), right_tensors()[2]),
        ["extra square brackets"],
    ),
    (
        tensors.check_make_tensors,
        lambda: (right_tensors()[0], torch.arange(0.0, 2.0, 0.5), right_tensors()[2]),
        ["stops *before*"],
    ),
    (
        tensors.check_make_tensors,
        lambda: (*right_tensors()[:2], torch.arange(1, 7).reshape(3, 2)),
        ["matrix", "torch.int64"],
    ),
    (
        tensors.check_make_tensors,
        lambda: (*right_tensors()[:2], torch.tensor([[1.0, 3.0, 5.0], [2.0, 4.0, 6.0]])),
        ["rows and columns are swapped"],
    ),
    (
        tensors.check_make_tensors,
        lambda: (right_tensors()[0], torch.from_numpy(np.linspace(0, 2, 5)), right_tensors()[2]),
        ["torch.float64"],
    ),
    (tensors.check_bills, lambda q, p: q * p, ["element by element"]),
    (tensors.check_bills, lambda q, p: (q @ p).sum(), ["grand total"]),
    (tensors.check_bills, lambda q, p: (q * p).sum(dim=0), ["down the columns"]),
    (tensors.check_bills, lambda q, p: q @ p.reshape(-1, 1), ["shape (2, 1)", "only the shape is wrong"]),
    (tensors.check_bills, lambda q, p: p @ q, ["cannot be multiplied", "order"]),
    (tensors.check_center_rows, lambda s: s - s.mean(dim=1), ["buggy code", "(rows, 1)"]),
    (tensors.check_center_rows, lambda s: s - s.mean(dim=0), ["each column's mean"]),
    (tensors.check_center_rows, lambda s: s - s.mean(), ["whole table"]),
    (tensors.check_center_rows, lambda s: s.mean(dim=1, keepdim=True), ["row means themselves"]),
    (tensors.check_trainable, lambda v: torch.tensor(v, requires_grad=True), ["whole numbers", "dtype=torch.float32"]),
    (tensors.check_trainable, lambda v: torch.tensor(v, dtype=torch.float32), ["does not require grad"]),
    (tensors.check_trainable, lambda v: torch.tensor(v, dtype=float, requires_grad=True).float(), ["grad_fn"]),
]


@pytest.mark.parametrize(("check", "answer", "phrases"), MISTAKES, ids=[" ".join(m[2]) for m in MISTAKES])
def test_each_mistake_is_named(check, answer, phrases, capsys):
    check(answer)
    out = capsys.readouterr().out
    assert out.startswith("❌") and "[misconception:" not in out
    for phrase in phrases:
        assert phrase in out, out


def hard_coded(values):
    if values == [0.5, 2.0]:
        return torch.tensor([0.5, 2.0], requires_grad=True)
    return torch.tensor([1.0, 2.0, 3.0], requires_grad=True)


HIDDEN_ONLY = [
    (
        tensors.check_bills,
        lambda q, p: (q @ p[:, None]).squeeze(),
        tensors.BILLS_CASES + [([[4, 2]], [2.5, 1]), ([[1, 2], [3, 4]], [1, 1])],
        "shape ()",
    ),
    (
        tensors.check_center_rows,
        lambda s: s - s.mean(dim=1).reshape(3, 1),
        tensors.CENTER_ROWS_CASES + [[[1, 2, 3, 6], [10, 0, 0, 2]]],
        "any shape",
    ),
    (tensors.check_trainable, hard_coded, tensors.TRAINABLE_CASES + [[0]], "shape (3,)"),
]


@pytest.mark.parametrize(("check", "answer", "cases", "phrase"), HIDDEN_ONLY, ids=[h[3] for h in HIDDEN_ONLY])
def test_answers_right_only_for_the_example_fail_on_other_inputs(check, answer, cases, phrase, capsys):
    check(answer)
    assert capsys.readouterr().out.startswith("✅")
    with pytest.raises(CheckFailed, match=re.escape(phrase)):
        check(answer, cases=cases, must_pass=True)


def test_right_answers_pass(capsys):
    tensors.check_make_tensors(right_tensors)
    tensors.check_bills(lambda q, p: torch.einsum("ij,j->i", q, p))
    tensors.check_center_rows(lambda s: s - s.mean(dim=1, keepdim=True))
    tensors.check_trainable(lambda v: torch.tensor(v, dtype=torch.float64).requires_grad_())
    out = capsys.readouterr().out
    assert out.count("✅") == 4 and "❌" not in out
