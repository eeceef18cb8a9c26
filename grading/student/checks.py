"""Self-checks for the exercises.

Each check compares your answer with the right one (for gradients: with PyTorch's autograd) and,
when they differ, says where, and names the likely mistake when your numbers match a known one.
Run the cell below an exercise to check it; `show_score()` at the end sums up.
"""

import builtins
import math
import warnings

import torch

# Taken before any of your code runs, so the checks keep their own meaning of these names.
_abs, _isclose, _isinstance, _float, _len = builtins.abs, math.isclose, isinstance, float, len
_Tensor, _no_grad = torch.Tensor, torch.no_grad

__all__ = ["show_score"]

_results: dict[str, bool] = {}
_expected: list[str] = []


class CheckFailed(AssertionError):
    """An answer that does not pass its check."""


class Mistake:
    """A known wrong answer: `matches(got, expected, points)` says whether the answer's numbers
    are the ones this mistake produces; `says` names it in one sentence, with a hint."""

    def __init__(self, tag, says, value=None, matches=None):
        self.tag, self.says = tag, says
        self._value, self._matches = value, matches

    def matches(self, got, expected, points):
        if self._matches is not None:
            return self._matches(got, expected, points)
        return all(close(g, self._value(*p)) for g, p in zip(got, points))

    def describe(self):
        return f"{self.says} [misconception: {self.tag}]"


def repeated_backward(says):
    """The answer is a whole multiple (2x, 3x, ...) of the right one at every point: gradients
    from several backward() calls were added up in .grad."""

    def matches(got, expected, points):
        ratios = [g / e for g, e in zip(got, expected) if _abs(e) > 1e-9]
        if not ratios or _len(ratios) < _len(got):
            return False
        k = round(ratios[0])
        return k >= 2 and all(close(r, k) for r in ratios)

    return Mistake("accumulated-grad", says, matches=matches)


def close(a, b, tol=1e-4):
    return _isclose(a, b, rel_tol=tol, abs_tol=tol)


def as_number(value, what="your answer"):
    """A float from a Python number or a one-element tensor."""
    if _isinstance(value, _Tensor):
        if value.numel() != 1:
            raise CheckFailed(
                f"{what} should be one number, but it is a tensor of shape {tuple(value.shape)}."
            )
        return _float(value.detach().item())
    if _isinstance(value, (int, float)) and not _isinstance(value, bool):
        return _float(value)
    raise CheckFailed(f"{what} should be a number (a float or a 0-d tensor), not {type(value).__name__}.")


def call_student(fn, *args):
    """Run your function; a warning it raises is shown here (on stdout) rather than lost."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args)
    for w in caught:
        print(f"⚠️  {fn.__name__} warned: {w.category.__name__}: {w.message}")
    return result


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


def _call_each(name, fn, points, must_pass):
    """fn at every point, as floats; None (with the verdict shown) when it is not answered yet or
    fails."""
    got = []
    for point in points:
        args = ", ".join(f"{p:g}" for p in point)
        try:
            got.append(as_number(call_student(fn, *point), f"{fn.__name__}({args})"))
        except NotImplementedError:
            verdict(name, False, "not answered yet: replace `raise NotImplementedError()` with your code.", must_pass)
            return None
        except CheckFailed as failure:
            verdict(name, False, str(failure), must_pass)
            return None
        except Exception as error:  # the student's code failed: say how, never crash the check
            verdict(name, False, f"{fn.__name__}({args}) raised {type(error).__name__}: {error}", must_pass)
            return None
    return got


def check_formula(name, fn, reference, points, mistakes=(), must_pass=False, what="autograd"):
    """Compare your function with `reference` at every point (a tuple of arguments each)."""
    points = [tuple(p) if _isinstance(p, (tuple, list)) else (p,) for p in points]
    got = _call_each(name, fn, points, must_pass)
    if got is None:
        return
    expected = [_float(reference(*p)) for p in points]
    wrong = [i for i, (g, e) in enumerate(zip(got, expected)) if not close(g, e)]
    if not wrong:
        verdict(name, True, f"matches {what} at all {_len(points)} points.", must_pass)
        return
    i = wrong[0]
    args = ", ".join(f"{p:g}" for p in points[i])
    message = f"{fn.__name__}({args}) gives {got[i]:g}, but {what} gives {expected[i]:g}."
    for mistake in mistakes:
        if mistake.matches(got, expected, points):
            message += " " + mistake.describe()
            break
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
    for mistake in mistakes:
        if mistake.matches([value], [expected], [()]):
            message += " " + mistake.describe()
            break
    verdict(name, False, message, must_pass)


def autograd_grads(f, *point):
    """The gradient of f at point, from autograd: one float per argument."""
    inputs = [torch.tensor(_float(p), dtype=torch.float64, requires_grad=True) for p in point]
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
