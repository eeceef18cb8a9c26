"""Self-checks for the exercises.

Each check compares your answer with the right one (for gradients: with PyTorch's autograd) and,
when they differ, says where, and names the likely mistake when your numbers match a known one.
Run the cell below an exercise to check it; `show_score()` at the end sums up.
"""

import builtins
import math
import warnings

import torch

from coursework.helpers.contract import MISCONCEPTION_FORMAT

# Taken before any of your code runs, so the checks keep their own meaning of these names. The
# other helper modules import the ones they use from here.
_abs, _callable, _float, _isinstance = builtins.abs, builtins.callable, builtins.float, builtins.isinstance
_len, _round, _tuple = builtins.len, builtins.round, builtins.tuple
_isclose, _isfinite = math.isclose, math.isfinite
_Tensor, _tensor, _allclose, _float64 = torch.Tensor, torch.tensor, torch.allclose, torch.float64
_no_grad, _enable_grad = torch.no_grad, torch.enable_grad

__all__ = ["show_score"]

NOT_ANSWERED = "not answered yet: replace `raise NotImplementedError()` with your code."

_results: dict[str, bool] = {}
_expected: list[str] = []


def pictures_shown():
    """Whether a figure drawn now would be seen. Not in the grader: its kernels keep outputs as text
    only, so the drawing helpers skip the work there (a picture cannot change a grade)."""
    from IPython import get_ipython

    shell = get_ipython()
    return shell is None or "image/png" in shell.display_formatter.active_types


def tagged(says, tag):
    """A message that names a known mistake, ending with its tag for the grader to count."""
    return f"{says} {MISCONCEPTION_FORMAT.format(tag=tag)}"


class CheckFailed(AssertionError):
    """An answer that does not pass its check."""


# ---- Known mistakes -----------------------------------------------------------------------------


class Mistake:
    """A known wrong answer. `says` names it in one sentence, with a hint; `tag` is the course's
    name for the misconception behind it (None for a slip that is not one of them). Your numbers
    are this mistake's when they equal `formula(*point)` at every point, or `value` (one number,
    for a predicted value), or, for a pattern that no formula captures, when
    `matches(got, expected, points)` says so."""

    def __init__(self, says, tag=None, formula=None, value=None, matches=None):
        self.says, self.tag = says, tag
        self._formula, self._value, self._matches = formula, value, matches

    def matches(self, got, expected, points):
        if self._matches is not None:
            return self._matches(got, expected, points)
        if self._formula is None:
            return all(close(g, self._value) for g in got)
        return all(close(g, self._formula(*(_float(v) for v in p))) for g, p in zip(got, points))

    def describe(self):
        return self.says if self.tag is None else tagged(self.says, self.tag)


def repeated_backward(says):
    """The mistake of an answer that is the right one times 2, 3, ... at every point (where the
    right answer is 0, it is 0 too): gradients of several backward() calls added up in .grad."""

    def matches(got, expected, points):
        if not all(_isfinite(g) for g in got):
            return False
        ratios = [g / e for g, e in zip(got, expected) if _abs(e) > 1e-9]
        if not ratios or not _isfinite(ratios[0]):
            return False
        k = _round(ratios[0])
        return k >= 2 and all(close(g, k * e) for g, e in zip(got, expected))

    return Mistake(says, tag="accumulated-grad", matches=matches)


def first_match(mistakes, got, expected, points):
    """The first of `mistakes` whose numbers are yours, or None."""
    for mistake in mistakes:
        try:
            if mistake.matches(got, expected, points):
                return mistake
        except (ArithmeticError, ValueError):  # numbers this mistake cannot produce
            continue
    return None


def close(a, b, tol=1e-4):
    return _isclose(a, b, rel_tol=tol, abs_tol=tol)


# ---- Running your code ----------------------------------------------------------------------------


def as_number(value, what="your answer"):
    """A float from a Python number or a one-element tensor."""
    if _isinstance(value, _Tensor):
        if value.numel() != 1:
            raise CheckFailed(
                f"{what} should be one number, but it is a tensor of shape {_tuple(value.shape)}."
            )
        if value.is_complex():
            raise CheckFailed(f"{what} should be a real number, not the complex number {value.item()}.")
        return _float(value.detach().item())
    if _isinstance(value, (int, float)) and not _isinstance(value, bool):
        try:
            return _float(value)
        except OverflowError:
            raise CheckFailed(f"{what} is a whole number too big to be a float.") from None
    raise CheckFailed(f"{what} should be a number (a float or a 0-d tensor), not {type(value).__name__}.")


def call_student(fn, *args):
    """Run your function; a warning it raises is shown here (on stdout) rather than lost."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args)
    for w in caught:
        print(f"⚠️  {getattr(fn, '__name__', 'your function')} warned: {w.category.__name__}: {w.message}")
    return result


def error_text(shown, error, hints=()):
    """What the call `shown` raised, and the hint of the first (piece of an error message, hint)
    pair in `hints` whose piece is in the error's message."""
    text = f"{shown} raised {type(error).__name__}: {str(error).strip()}"
    hint = next((h for piece, h in hints if piece in str(error)), None)
    if hint is None:
        return text
    return f"{text}{'' if text.endswith(('.', '!', '?')) else '.'} {hint}"


def call_answer(fn, args, shown, hints=()):
    """What fn(*args) returns; when it is not answered yet or raises, a CheckFailed says so (with a
    hint from `hints` when one fits: see error_text)."""
    try:
        with _enable_grad():
            return call_student(fn, *args)
    except NotImplementedError:
        raise CheckFailed(NOT_ANSWERED) from None
    except Exception as error:  # your code failed: say how, never crash the check
        raise CheckFailed(error_text(shown, error, hints)) from None


def run_answer(name, fn, args, shown, must_pass, hints=()):
    """(True, fn(*args)), or (False, None) with the verdict of check `name` shown when fn is not a
    function, is not answered yet, or raises. `shown` is the call as the messages write it."""
    if not _callable(fn):
        params = "(...)" if args else "()"
        message = f"`{name}` should be a function (def {name}{params}: ...), not a value."
    else:
        try:
            return True, call_answer(fn, args, shown, hints)
        except CheckFailed as failure:
            message = str(failure)
    verdict(name, False, message, must_pass)  # outside `except`: no chained traceback
    return False, None


# ---- Verdicts -----------------------------------------------------------------------------------


def verdict(name, ok, message, must_pass=False):
    """Record and show a check's outcome. `must_pass` (the grader's hidden tests) raises instead
    of printing, so that nbgrader scores the cell 0. Returns nothing: a value shown at the end of
    a test cell would count as partial credit in nbgrader; `passed(name)` tells the outcome."""
    _results[name] = ok
    if ok:
        print(f"✅ {name}: {message}")
    elif must_pass:
        raise CheckFailed(f"{name}: {message}")
    else:
        print(f"❌ {name}: {message}")


def passed(name):
    """Whether the check `name` passed when it last ran."""
    return _results.get(name, False)


# ---- Checking a formula, or a number ------------------------------------------------------------


def _call_text(fn, point):
    """A call of your function at a point, as the messages write it: dz_dx(3.5)."""
    return f"{getattr(fn, '__name__', 'your function')}({', '.join(f'{p:g}' for p in point)})"


def check_formula(name, fn, reference, points, mistakes=(), must_pass=False, what="autograd"):
    """Compare your function with `reference` at every point (a tuple of arguments each)."""
    points = [_tuple(p) if _isinstance(p, (_tuple, list)) else (p,) for p in points]
    got = []
    for point in points:
        shown = _call_text(fn, point)
        ok, answer = run_answer(name, fn, point, shown, must_pass)
        if not ok:
            return
        try:
            got.append(as_number(answer, shown))
        except CheckFailed as failure:
            verdict(name, False, str(failure), must_pass)
            return
    expected = [_float(reference(*p)) for p in points]
    wrong = [i for i, (g, e) in enumerate(zip(got, expected)) if not close(g, e)]
    if not wrong:
        verdict(name, True, f"matches {what} at all {_len(points)} points.", must_pass)
        return
    i = wrong[0]
    message = f"{_call_text(fn, points[i])} gives {got[i]:g}, but {what} gives {expected[i]:g}."
    mistake = first_match(mistakes, got, expected, points)
    if mistake:
        message += " " + mistake.describe()
    verdict(name, False, message, must_pass)


def check_value(name, got, expected, mistakes=(), must_pass=False, what="the right answer"):
    """Compare one number with the expected one; a known wrong value names its mistake."""
    try:
        value = as_number(got)
    except CheckFailed as failure:
        verdict(name, False, str(failure), must_pass)
        return
    if close(value, expected):
        verdict(name, True, f"{value:g} is right.", must_pass)
        return
    message = f"you have {value:g}, but {what} is {expected:g}."
    mistake = first_match(mistakes, [value], [expected], [()])
    if mistake:
        message += " " + mistake.describe()
    verdict(name, False, message, must_pass)


def autograd_grads(f, *point):
    """The gradient of f at point, from autograd: one float per argument."""
    inputs = [_tensor(_float(p), dtype=_float64, requires_grad=True) for p in point]
    with _enable_grad():
        f(*inputs).backward()
    return [_float(t.grad) for t in inputs]


def expect_checks(*names):
    """Declare the notebook's checks, so that `show_score()` can list the ones not run yet."""
    _expected.extend(n for n in names if n not in _expected)


def show_score():
    """Your visible-check score for this notebook (the grader also runs hidden tests)."""
    names = _expected + [n for n in _results if n not in _expected]
    n_passed = _len([n for n in names if _results.get(n)])
    print(f"Visible checks passed: {n_passed} of {_len(names)}")
    for n in names:
        mark = "✅" if _results.get(n) else ("❌" if n in _results else "⏳ not run yet")
        print(f"  {mark} {n}")
