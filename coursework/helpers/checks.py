"""Self-checks for the exercises.

Each check compares your answer with the right one (for gradients: with PyTorch's autograd) and,
when they differ, says where, and names the likely mistake when your numbers match a known one.
Run the cell below an exercise to check it; `show_score()` at the end sums up.
"""

import builtins
import math
import warnings

import torch
from torch.overrides import TorchFunctionMode as _TorchFunctionMode

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
BY_HAND = (
    "This exercise is to be worked out by hand: compute with the arguments and ordinary arithmetic only, "
    "without backward(), torch.autograd.grad, torch.func or .grad."
)

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
        return all(close(g, self.value_at(p)) for g, p in zip(got, points))

    def value_at(self, point):
        """What this mistake gives at `point` (a tuple of arguments)."""
        if self._formula is None:
            return self._value
        return _float(self._formula(*(plain(v) for v in point)))

    def describe(self):
        return self.says if self.tag is None else tagged(self.says, self.tag)


def constant_ratio(got, expected):
    """k when your numbers are k times the right ones at every point (0 where the right one is 0),
    measured at two points at least; otherwise None."""
    if not all(_isfinite(g) for g in got):
        return None
    ratios = [g / e for g, e in zip(got, expected) if _abs(e) > 1e-9]
    if _len(ratios) < 2 or not _isfinite(ratios[0]):
        return None
    k = ratios[0]
    return k if all(close(g, k * e) for g, e in zip(got, expected)) else None


def repeated_backward(says):
    """The mistake of an answer that is the right one times 2, 3, ... at every point: gradients of
    several backward() calls added up in .grad. Only where your code runs backward()."""

    def matches(got, expected, points):
        k = constant_ratio(got, expected)
        return k is not None and k >= 1.5 and close(k, _round(k))

    return Mistake(says, tag="accumulated-grad", matches=matches)


def constant_factor():
    """The mistake of a formula derived by hand that is k times the right one at every point
    (k not 0 or 1): a constant of a local derivative, or a sign, is off."""

    def matches(got, expected, points):
        k = constant_ratio(got, expected)
        return k is not None and not close(k, 1.0) and not close(k, 0.0)

    return Mistake(
        "Your numbers are a constant multiple of the right ones at every point: a constant factor is off. "
        "Hint: check every constant of your local derivatives (a coefficient, a power brought down, a sign).",
        tag="constant-factor",
        matches=matches,
    )


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


def plain(value):
    """A float from a number or a one-element tensor; a bigger tensor as float64 numbers."""
    if _isinstance(value, _Tensor):
        return _float(value.detach()) if value.numel() == 1 else value.detach().to(_float64)
    return _float(value)


def as_number(value, what="your answer"):
    """A float from a Python number or a one-element tensor."""
    if value is None:
        raise CheckFailed(f"{what} is None: nothing was returned. Hint: end your function with `return` and the "
                          "number.")
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


# The ways code gets a gradient out of autograd, as the by-hand rule names them. torch.func and
# torch.autograd.functional reach torch.autograd.grad or forward-mode autograd (_make_dual).
_GRADIENT_CALLS = [
    (torch.Tensor.backward, "it calls backward()"),
    (torch.autograd.backward, "it calls torch.autograd.backward()"),
    (torch.autograd.grad, "it calls torch.autograd.grad(), maybe through torch.func or torch.autograd.functional"),
    (torch._make_dual, "it uses forward-mode autograd (torch.func.jvp, torch.autograd.forward_ad)"),
]
_GRADIENT_READS = [
    (torch._C.TensorBase.__dict__["grad"], "it reads a gradient from .grad"),
    (torch._C.TensorBase.__dict__["grad_fn"], "it reads .grad_fn, a node of the graph"),
]


class _AutogradWatch(_TorchFunctionMode):
    """While active, notes the first way the running code gets a gradient from autograd: a call of
    backward(), torch.autograd.grad or forward-mode autograd, or a read of .grad or .grad_fn that
    finds one (reading a .grad that is None gets nothing)."""

    def __init__(self):
        super().__init__()
        self.route = None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if self.route is None:
            self.route = next((says for f, says in _GRADIENT_CALLS if f is func), None)
        result = func(*args, **(kwargs or {}))
        if self.route is None and getattr(func, "__name__", "") == "__get__" and result is not None:
            owner = getattr(func, "__self__", None)
            self.route = next((says for d, says in _GRADIENT_READS if d is owner), None)
        return result


def call_student(fn, *args, watch=None):
    """Run your function; a warning it raises is shown here (on stdout) rather than lost. With
    `watch` (an _AutogradWatch), note whether it gets a gradient from autograd."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if watch is None:
            result = fn(*args)
        else:
            with watch:
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


def used_autograd(shown, route):
    """The message for an answer that should be worked out by hand and used autograd."""
    return tagged(f"{shown} uses autograd: {route}. {BY_HAND}", "used-autograd")


def call_answer(fn, args, shown, hints=(), by_hand=False):
    """What fn(*args) returns; when it is not answered yet or raises, a CheckFailed says so (with a
    hint from `hints` when one fits: see error_text). `by_hand`: an answer that gets a gradient from
    autograd fails too, whatever it returns."""
    watch = _AutogradWatch() if by_hand else None
    try:
        with _enable_grad():
            result = call_student(fn, *args, watch=watch)
    except NotImplementedError:
        raise CheckFailed(NOT_ANSWERED) from None
    except Exception as error:  # your code failed: say how, never crash the check
        if watch is not None and watch.route:
            raise CheckFailed(used_autograd(shown, watch.route)) from None
        raise CheckFailed(error_text(shown, error, hints)) from None
    if watch is not None and watch.route:
        raise CheckFailed(used_autograd(shown, watch.route))
    return result


def run_answer(name, fn, args, shown, must_pass, hints=(), by_hand=False):
    """(True, fn(*args)), or (False, None) with the verdict of check `name` shown when fn is not a
    function, is not answered yet, raises, or (by_hand) uses autograd. `shown` is the call as the
    messages write it."""
    if not _callable(fn):
        params = "(...)" if args else "()"
        message = f"`{name}` should be a function (def {name}{params}: ...), not a value."
    else:
        try:
            return True, call_answer(fn, args, shown, hints, by_hand)
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


def _argument_text(value, name):
    """An argument as the messages write it: a number, or the name of a tensor of several numbers."""
    if _isinstance(value, _Tensor) and value.numel() != 1:
        return name or "a tensor"
    return f"{plain(value):g}"


def _call_text(fn, point, names=None):
    """A call of your function at a point, as the messages write it: dz_dx(3.5), dL_dw(0.5, 1, x, y)."""
    names = names or [None] * _len(point)
    arguments = ", ".join(_argument_text(p, n) for p, n in zip(point, names))
    return f"{getattr(fn, '__name__', 'your function')}({arguments})"


def check_formula(name, fn, reference, points, mistakes=(), must_pass=False, what="autograd", by_hand=False,
                  names=None):
    """Compare your function with `reference` at every point (a tuple of arguments each); `names`
    name the arguments that are tensors of several numbers. `by_hand`: your function must not use
    autograd. A visible check shows the first point where your function is wrong and the right
    value there; a hidden check (must_pass) the same, with the mistake it recognises."""
    points = [_tuple(p) if _isinstance(p, (_tuple, list)) else (p,) for p in points]
    got = []
    for point in points:
        shown = _call_text(fn, point, names)
        ok, answer = run_answer(name, fn, point, shown, must_pass, by_hand=by_hand)
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
    message = f"{_call_text(fn, points[i], names)} gives {got[i]:g}, but {what} gives {expected[i]:g}."
    mistake = first_match(mistakes, got, expected, points)
    if mistake:
        message += " " + mistake.describe()
    verdict(name, False, message, must_pass)


def check_value(name, got, expected, mistakes=(), must_pass=False, what="the right answer"):
    """Compare one number with the expected one; a known wrong value names its mistake. A visible
    check never shows the expected number (a wrong prediction gets a hint, not the answer); a
    hidden one (must_pass) does."""
    try:
        value = as_number(got)
    except CheckFailed as failure:
        verdict(name, False, str(failure), must_pass)
        return
    if close(value, expected):
        verdict(name, True, f"{value:g} is right.", must_pass)
        return
    if must_pass:
        message = f"you have {value:g}, but {what} is {expected:g}."
    else:
        message = f"you have {value:g}, which is not {what}."
    mistake = first_match(mistakes, [value], [expected], [()])
    if mistake:
        message += " " + mistake.describe()
    elif not must_pass:
        message += " Work it out again, step by step."
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
