"""Checks for notebook 05 (gradients in practice), and a helper for its demonstrations.

Every check builds its own tensors and calls your function afresh, so running a check again never
adds up gradients. When your answer is one that a known mistake produces (gradients that pile
up in .grad, a graph freed too early, a tensor that is no longer a leaf, ...), the check says so
and gives a hint.
"""

import warnings
from contextlib import contextmanager

import torch

from coursework.helpers.checks import (
    CheckFailed,
    Mistake,
    _abs,
    _float,
    _isinstance,
    _len,
    _Tensor,
    _tensor,
    as_number,
    check_value,
    close,
    expect_checks,
    first_match,
    repeated_backward,
    run_answer,
    verdict,
)

__all__ = [
    "show_warnings",
    "check_predicted_grad_after_three_backwards",
    "check_last_step_grad",
    "check_predicted_grad_after_zero_grad",
    "check_total_grad",
    "check_predicted_grad_with_no_grad_and_detach",
    "check_dz_dx_float32",
    "check_predicted_grad_with_integer_data",
    "check_grad_of_squares",
    "check_predicted_vjp",
    "check_dz_dx_without_backward",
]

expect_checks(
    "predicted_grad_after_three_backwards",
    "last_step_grad",
    "predicted_grad_after_zero_grad",
    "total_grad",
    "predicted_grad_with_no_grad_and_detach",
    "dz_dx_float32",
    "predicted_grad_with_integer_data",
    "grad_of_squares",
    "predicted_vjp",
    "dz_dx_without_backward",
)

# ---- For the demonstrations ---------------------------------------------------------------------


@contextmanager
def show_warnings():
    """Print the warnings raised inside the `with` block as ordinary output (a warning would
    otherwise appear in red, as if something had crashed)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for w in caught:
                text = str(w.message).split(" (Triggered internally")[0]
                print(f"⚠️  PyTorch warns ({w.category.__name__}): {text}")


# ---- Calling your function ----------------------------------------------------------------------

# Errors PyTorch raises for the mistakes of this notebook: a piece of the message, and a hint.
ERROR_HINTS = [
    (
        "backward through the graph a second time",
        "The first backward() freed the values that the graph had saved, so the graph cannot be walked "
        "again. Hint: pass retain_graph=True to the FIRST backward() call, or call backward() only once, "
        "on the sum of what you need.",
    ),
    (
        "implicitly created only for scalar outputs",
        "backward() with no argument needs ONE number to start from; this tensor holds several. "
        "Hint: give one weight per output, gradient=torch.ones_like(y), or call backward() on y.sum().",
    ),
    (
        "Only Tensors of floating point",
        "Integer tensors cannot require grad, and torch.tensor(3) (a whole number) makes an integer "
        "tensor. Hint: ask for floats when you create it: dtype=torch.float32.",
    ),
    (
        "'NoneType' object has no attribute",
        ".grad was None there: it is None before the first backward(), after zero_grad() or "
        "`.grad = None`, and always for a tensor that is not a leaf. Hint: zero with `.grad = None`, or "
        "only after backward() has run; read .grad of the leaf you created.",
    ),
    (
        "leaf Variable that requires grad is being used in an in-place operation",
        "PyTorch will not change a tensor it is tracking in place while it records. "
        "Hint: do the update inside `with torch.no_grad():`.",
    ),
    (
        "does not require grad and does not have a grad_fn",
        "The tensor you differentiate is not connected to any tensor that requires grad: it was computed "
        "under torch.no_grad(), or from detached tensors. Hint: compute it with tracking on.",
    ),
    (
        "appears to not have been used in the graph",
        "torch.autograd.grad was asked for the gradient with respect to a tensor the output was not "
        "computed from. Hint: pass the very x that you used to compute z.",
    ),
]


def _show(value):
    """An argument or answer as short text: 3.5, [1, 2], tensor(3.5)."""
    if _isinstance(value, _Tensor):
        return f"tensor({_show(value.detach().tolist())})"
    if _isinstance(value, tuple):
        return "(" + ", ".join(_show(v) for v in value) + (",)" if _len(value) == 1 else ")")
    if _isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if _isinstance(value, float):
        return f"{value + 0.0:g}"
    return repr(value)


def _call_text(fn, args):
    return f"{getattr(fn, '__name__', 'your function')}({', '.join(_show(a) for a in args)})"


def _run(name, fn, args, must_pass, by_hand=False):
    """(True, fn(*args)), or (False, None) with the verdict shown when fn is not a function, is not
    answered yet, raises (explained with ERROR_HINTS), or (by_hand: a prediction) uses autograd."""
    return run_answer(name, fn, args, _call_text(fn, args), must_pass, ERROR_HINTS, by_hand)


def _vector(value, what):
    """A list of floats from a tensor or a list of numbers; CheckFailed when it is not one."""
    if _isinstance(value, _Tensor):
        if value.dim() != 1:
            raise CheckFailed(f"{what} should be a vector (one number per entry), not of shape {tuple(value.shape)}.")
        return [as_number(v, what) for v in value.detach()]
    if _isinstance(value, (list, tuple)):
        return [as_number(v, what) for v in value]
    raise CheckFailed(f"{what} should be a list of numbers or a tensor, not {type(value).__name__}.")


def _is_number(value, number):
    """Whether value is a plain Python number (not a tensor) close to `number`."""
    return _isinstance(value, (int, float)) and _abs(value) < 1e300 and close(value, number)


def _numbers_at(name, fn, points, must_pass, on_none, make_args=None, inspect=None):
    """Your function's answer at every point, as floats, and the first problem `inspect` found;
    None (with the verdict shown) when an answer is missing or not a number."""
    got, problems = [], []
    for point in points:
        args = make_args(point) if make_args else point
        ok, result = _run(name, fn, args, must_pass)
        if not ok:
            return None, None
        shown = _call_text(fn, point)
        if result is None:
            verdict(name, False, f"{shown} returned None. {on_none}", must_pass)
            return None, None
        if _isinstance(result, (tuple, list)) and _len(result) == 1:
            verdict(name, False, f"{shown} returned a {type(result).__name__}, {_show(result)}: "
                    "torch.autograd.grad returns a tuple, one gradient per input. Hint: take its element [0].",
                    must_pass)
            return None, None
        try:
            got.append(as_number(result, shown))
        except CheckFailed as failure:
            verdict(name, False, str(failure), must_pass)
            return None, None
        if inspect:
            problem = inspect(point, args, result)
            if problem:
                problems.append(f"{shown}: {problem}")
    return got, (problems[0] if problems else None)


def _check_points(name, fn, points, reference, mistakes, must_pass, what, on_none, make_args=None, inspect=None):
    """Compare your function with `reference` at every point; a known wrong answer names its mistake."""
    points = [tuple(p) if _isinstance(p, (tuple, list)) else (p,) for p in points]
    got, problem = _numbers_at(name, fn, points, must_pass, on_none, make_args, inspect)
    if got is None:
        return
    expected = [_float(reference(*p)) for p in points]
    wrong = [i for i, (g, e) in enumerate(zip(got, expected)) if not close(g, e)]
    if wrong:
        i = wrong[0]
        message = f"{_call_text(fn, points[i])} gives {got[i]:g}, but {what} is {expected[i]:g}."
        mistake = first_match(mistakes, got, expected, points)
        if mistake:
            message += " " + mistake.describe()
        verdict(name, False, message, must_pass)
    elif problem:
        verdict(name, False, problem, must_pass)
    else:
        verdict(name, True, f"matches {what} at all {_len(points)} points.", must_pass)


def _predicted_number(name, fn, expected, mistakes, must_pass):
    ok, got = _run(name, fn, (), must_pass, by_hand=True)
    if ok:
        check_value(name, got, expected, mistakes, must_pass, "what PyTorch prints")


def _predicted_vector(name, fn, expected, hints, must_pass, other=None):
    """Your predicted tensor against `expected`; hints: (vector, message) pairs for known wrong
    answers; other(answer) may explain an answer that is not a vector at all."""
    ok, got = _run(name, fn, (), must_pass, by_hand=True)
    if not ok:
        return
    explained = other(got) if other else None
    if explained:
        verdict(name, False, explained, must_pass)
        return
    try:
        values = _vector(got, "your prediction")
    except CheckFailed as failure:
        verdict(name, False, str(failure), must_pass)
        return
    if _len(values) == _len(expected) and all(close(v, e) for v, e in zip(values, expected)):
        verdict(name, True, f"{_show(values)} is right.", must_pass)
        return
    if must_pass:
        message = f"you have {_show(values)}, but PyTorch's answer is {_show(expected)}."
    else:  # a wrong prediction gets a hint, not the answer
        message = f"you have {_show(values)}, which is not what PyTorch prints."
    says = next((says for vector, says in hints
                 if _len(values) == _len(vector) and all(close(v, e) for v, e in zip(values, vector))), None)
    if says:
        message += " " + says
    elif not must_pass:
        message += " Work it out again, entry by entry."
    verdict(name, False, message, must_pass)


# ---- 1. Gradients add up --------------------------------------------------------------------------


# The known wrong predictions of each predict-a-number exercise: one table each.
THREE_BACKWARDS_MISTAKES = [
    Mistake("backward() does not replace x.grad, it ADDS the new gradient to what is already there. "
            "Hint: follow x.grad through the three passes of the loop.", value=14.0),
    Mistake("Count the calls: how many times does the loop run backward()?", value=28.0),
    Mistake("Each backward() adds dz/dx, the derivative of z = 2x² + 3, not the derivative of x² alone.",
            value=21.0),
    Mistake("x.grad is never reset to zero here: there is no zeroing in the loop.", value=0.0),
]


def check_predicted_grad_after_three_backwards(fn, must_pass=False):
    """Your prediction of x.grad after three backward() calls, each on a fresh z = 2x² + 3 at x = 3.5."""
    _predicted_number("predicted_grad_after_three_backwards", fn, 42.0, THREE_BACKWARDS_MISTAKES, must_pass)


LAST_STEP_POINTS = [(3.5, 3), (1.0, 1), (-2.0, 2)]


def _steps_times_right(got, expected, points):
    return any(p[1] > 1 for p in points) and all(close(g, p[1] * e) for g, e, p in zip(got, expected, points))


def check_last_step_grad(fn, points=LAST_STEP_POINTS, must_pass=False):
    """Your last_step_grad(x_value, steps) against dz/dx = 4·x_value, for several numbers of steps."""
    mistakes = [
        Mistake("Your answer is `steps` times dz/dx: each backward() added its gradient to the previous "
                "ones. Hint: zero x.grad at the start of every step (x.grad = None).",
                tag="accumulated-grad", matches=_steps_times_right),
        Mistake("You return 0: you probably zeroed x.grad in place (zero_()) after the last backward(), and "
                "the tensor you return IS x.grad, so it was zeroed too. Hint: zero at the START of each step.",
                value=0.0),
    ]
    _check_points(
        "last_step_grad", fn, points, lambda x, steps: 4 * x, mistakes, must_pass, "dz/dx = 4·x_value",
        "If you set x.grad = None after the last backward(), you threw the answer away. "
        "Hint: zero at the start of each step, before backward().",
    )


def check_predicted_grad_after_zero_grad(fn, must_pass=False):
    """Your prediction of model.weight.grad right after model.zero_grad()."""
    name = "predicted_grad_after_zero_grad"
    ok, got = _run(name, fn, (), must_pass, by_hand=True)
    if not ok:
        return
    if got is None:
        verdict(name, True, "None is right: zero_grad() sets .grad to None (set_to_none=True is its default).",
                must_pass)
        return
    if _isinstance(got, str):
        hint = "return the value None (no quotes), not a string" if got.strip().lower() == "none" else (
            "return a tensor, a list of numbers or None, not a string")
        verdict(name, False, f"you returned the text {got!r}: {hint}.", must_pass)
        return
    try:
        if _isinstance(got, _Tensor):
            values = [as_number(v, "your prediction") for v in got.detach().reshape(-1)]
        else:
            values = [as_number(got)] if not _isinstance(got, (list, tuple)) else _vector(got, "your prediction")
    except CheckFailed as failure:
        verdict(name, False, f"{failure} (Or None, if that is what you expect.)", must_pass)
        return
    if must_pass:
        message = f"you have {_show(got)}, but after zero_grad() PyTorch prints None."
    else:  # a wrong prediction gets a hint, not the answer
        message = f"you have {_show(got)}, which is not what PyTorch prints after zero_grad()."
    if all(close(v, 0.0) for v in values):
        message += (" Zeros would be a natural way to clear a gradient, but not the one zero_grad() uses by "
                    "default. Hint: look at zero_grad()'s argument set_to_none, and its default value.")
    elif _len(values) == 2 and close(values[0], 1.0) and close(values[1], 2.0):
        message += " zero_grad() does clear the gradient that backward() put in model.weight.grad."
    verdict(name, False, message, must_pass)


# ---- 2. backward() twice and retain_graph ---------------------------------------------------------

TOTAL_POINTS = [3.5, 1.0, -2.0]


def check_total_grad(fn, points=TOTAL_POINTS, must_pass=False):
    """Your total_grad(x_value) against d(z1 + z2)/dx = 4x + 4x³ (y = x², z1 = 2y + 3, z2 = y²)."""
    mistakes = [
        Mistake("That is dz1/dx alone (4x): the path through z2 is missing. The gradients of z1 and z2 add "
                "up in x.grad. Hint: keep both backward() calls (retain_graph=True on the first), or "
                "call backward() once on z1 + z2.", formula=lambda x: 4 * x, tag="missing-path"),
        Mistake("That is dz2/dx alone (4x³): the path through z1 is missing. Did you zero x.grad between "
                "the two backward() calls? Here the two gradients must add up.", formula=lambda x: 4 * x**3,
                tag="missing-path"),
        repeated_backward("Your answer is a whole multiple of the right one: some gradient went into x.grad twice. "
                          "Hint: call backward() once for z1 and once for z2, or once on their sum."),
    ]
    _check_points("total_grad", fn, points, lambda x: 4 * x + 4 * x**3, mistakes, must_pass,
                  "d(z1 + z2)/dx = 4x + 4x³",
                  "Return x.grad after the backward() calls (or the gradient as a number).")


# ---- 3. Switching tracking off ----------------------------------------------------------------------


NO_GRAD_DETACH_MISTAKES = [
    Mistake("That is the gradient as if everything were tracked (3x² + 6x). But a was computed under "
            "torch.no_grad() and b from x.detach(): to autograd they are constants. "
            "Hint: treat a and b as the plain numbers they hold, then differentiate z.", value=24.0),
    Mistake("You treated b as a constant (right: detach() cuts it off), but a as tracked. A value "
            "computed inside `with torch.no_grad():` is a constant too.", value=16.0),
    Mistake("You treated a as a constant (right: it was made under no_grad()), but b as tracked. "
            "x.detach() is cut off from the graph, so b = x.detach() * 3 is a constant too.", value=18.0),
    Mistake("x itself is still tracked: z = a·x + b·x depends on x directly, through the factors x.",
            value=0.0),
]


def check_predicted_grad_with_no_grad_and_detach(fn, must_pass=False):
    """Your prediction of x.grad for z = a·x + b·x, a made under no_grad, b from x.detach()."""
    _predicted_number("predicted_grad_with_no_grad_and_detach", fn, 10.0, NO_GRAD_DETACH_MISTAKES, must_pass)


# ---- 4. Leaves -----------------------------------------------------------------------------------

FLOAT32_POINTS = [3.5, 3, -2.0]


def _float32_problem(point, args, result):
    if _isinstance(result, _Tensor) and result.dtype != torch.float32:
        return (f"the gradient is a {str(result.dtype).replace('torch.', '')} tensor, but the function should "
                "compute in float32. Hint: x must be a float32 leaf: choose the dtype when you create it, "
                "rather than reading the gradient of a float64 leaf.")
    return None


def check_dz_dx_float32(fn, points=FLOAT32_POINTS, must_pass=False):
    """Your dz_dx_float32(x_value) against dz/dx = 4x, and a float32 gradient."""
    _check_points(
        "dz_dx_float32", fn, points, lambda x: 4 * x, [], must_pass, "dz/dx = 4x",
        "x.grad stays None when x is not a leaf: x.float() made a NEW tensor computed from the float64 "
        "leaf, and backward() fills .grad only for leaves. Hint: make x a float32 tensor that requires "
        "grad when you create it (one step, no conversion afterwards).",
        inspect=_float32_problem,
    )


INTEGER_DATA_HINTS = [
    ([0.5, 0.5, 0.5], "That is w itself. Hint: total = Σ w_i·counts_i; how does it change when w_i "
                      "grows by 1?"),
    ([0.0, 0.0, 0.0], "w.grad is not zero: total changes when w changes. Hint: how much does total grow when "
                      "w_i grows by 1?"),
]


def check_predicted_grad_with_integer_data(fn, must_pass=False):
    """Your prediction of w.grad for total = (w * counts).sum(), counts an integer tensor."""

    def other(got):
        if got is None:
            return ("you predict None, but w is a leaf that requires grad and total was computed from it: "
                    "backward() fills w.grad.")
        if _isinstance(got, str) or _isinstance(got, BaseException) or (
                _isinstance(got, type) and issubclass(got, BaseException)):
            return ("you predict an error, but this runs. Only a tensor that REQUIRES grad must be floating "
                    "point; integer data can be used in a computation with one (w * counts is a float "
                    "tensor). Hint: how does total change when w_i grows by 1?")
        if _is_number(got, 6.0):
            return "you have one number, 6, but w.grad has one entry per entry of w."
        return None

    _predicted_vector("predicted_grad_with_integer_data", fn, [3.0, 1.0, 2.0], INTEGER_DATA_HINTS, must_pass, other)


# ---- 5. Non-scalar outputs -------------------------------------------------------------------------

SQUARES_POINTS = [[1.0, 2.0, 3.0]]


def check_grad_of_squares(fn, points=SQUARES_POINTS, must_pass=False):
    """Your grad_of_squares(values) against the slope 2·v_i of each square, for several vectors."""
    name = "grad_of_squares"
    for values in points:
        values = list(values)
        shown = _call_text(fn, [values])
        ok, got = _run(name, fn, (values,), must_pass)
        if not ok:
            return
        if got is None:
            verdict(name, False, f"{shown} returned None. The gradient lands in .grad of the leaf you "
                    "created (v.grad), not of y = v**2, which is not a leaf.", must_pass)
            return
        try:
            answer = _vector(got, shown)
        except CheckFailed as failure:
            verdict(name, False, str(failure), must_pass)
            return
        expected = [2 * v for v in values]
        if _len(answer) == _len(expected) and all(close(a, e) for a, e in zip(answer, expected)):
            continue
        message = f"{shown} gives {_show(answer)}, but the slopes 2·v are {_show(expected)}."
        n = _len(values)
        if _len(answer) != n:
            message += " Return one slope per value: v.grad has the shape of v."
        elif all(close(a, e / n) for a, e in zip(answer, expected)):
            message += (" Every slope is divided by the number of values: y.mean() divides by n. "
                        "Hint: use y.sum(), or gradient=torch.ones_like(y).")
        elif all(close(a, 2 * v**3) for a, v in zip(answer, values)):
            message += (" gradient= holds one weight per output, multiplying ∂y_i/∂v_i; passing y as "
                        "the weights gives 2v·v². Hint: weights of 1: torch.ones_like(y).")
        verdict(name, False, message, must_pass)
        return
    verdict(name, True, f"matches the slopes 2·v for every vector tried ({_len(points)}).", must_pass)


VJP_HINTS = [
    ([2.0, 4.0, 6.0], "That is 2v, the result for weights (1, 1, 1). gradient= weighs each output: "
                      "v.grad_i = u_i · ∂y_i/∂v_i."),
    ([1.0, 0.0, 10.0], "That is the weights u themselves. backward() multiplies them by the derivatives: "
                       "v.grad_i = u_i · ∂y_i/∂v_i = u_i · 2v_i."),
    ([2.0, 0.0, 20.0], "Look again at the last entry: ∂y_3/∂v_3 = 2v_3, and v_3 is 3."),
]


def check_predicted_vjp(fn, must_pass=False):
    """Your prediction of v.grad after y.backward(gradient=u) for y = v², u = (1, 0, 10)."""

    def other(got):
        if _is_number(got, 62.0):
            return ("you have one number, the sum over the outputs, but v.grad keeps one entry per entry of v.")
        return None

    _predicted_vector("predicted_vjp", fn, [2.0, 0.0, 60.0], VJP_HINTS, must_pass, other)


# ---- 6. torch.autograd.grad ------------------------------------------------------------------------

UNTOUCHED_POINTS = [3.5, -1.0]
OLD_GRAD = 100.0


def _x_with_old_grad(point):
    x = _tensor(_float(point[0]), requires_grad=True)
    x.grad = _tensor(OLD_GRAD)
    return (x,)


def _old_grad_problem(point, args, result):
    x = args[0]
    if x.grad is None or not close(_float(x.grad), OLD_GRAD):
        now = "None" if x.grad is None else f"{_float(x.grad):g}"
        return (f"x.grad held {OLD_GRAD:g} before the call and {now} after it; your function must leave "
                "it alone. Hint: torch.autograd.grad(z, x) returns the gradient without storing it anywhere.")
    return None


def check_dz_dx_without_backward(fn, points=UNTOUCHED_POINTS, must_pass=False):
    """Your dz_dx_without_backward(x) against dz/dx = 4x, on an x whose .grad already holds 100
    (and must still hold 100 afterwards)."""
    mistakes = [
        Mistake(f"Your answer is {OLD_GRAD:g} + 4x: backward() ADDED dz/dx to the {OLD_GRAD:g} that x.grad "
                "already held, and changed the caller's x.grad on the way. Hint: torch.autograd.grad "
                "returns the gradient instead.", formula=lambda x: OLD_GRAD + 4 * x, tag="accumulated-grad"),
    ]
    _check_points(
        "dz_dx_without_backward", fn, points, lambda x: 4 * x, mistakes, must_pass, "dz/dx = 4x",
        "backward() returns None: it puts the gradient into x.grad and returns nothing. "
        "Hint: torch.autograd.grad(z, x) returns the gradient (in a tuple).",
        make_args=_x_with_old_grad, inspect=_old_grad_problem,
    )
