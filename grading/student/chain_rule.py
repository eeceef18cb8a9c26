"""Checks for the chain-rule exercises (notebooks 02, 03 and 04).

Every check builds its own tensors, asks autograd for the right gradient, and compares your answer
with it, at many points for a formula. When your numbers are those of a known mistake (adding
instead of multiplying, forgetting a path, ...), the check names the mistake and gives a hint.
"""

import builtins
import math
import re

import torch

from grading.student.checks import Mistake, as_number, call_student, check_formula, close, expect_checks, verdict

# Taken before any of your code runs, so the checks keep their own meaning of these names.
_abs, _float, _round, _callable, _isinstance = builtins.abs, builtins.float, builtins.round, callable, isinstance
_isfinite = math.isfinite

__all__ = [
    "check_dz_dx",
    "check_predicted_x_grad",
    "check_dw_dx",
    "check_backward_nodes",
    "check_tensors_with_grad",
    "check_dz_dy",
    "check_dz_da",
    "check_dz_db",
    "check_predicted_a_grad",
    "check_dz_da_three_paths",
]

# The checks of each notebook: the first check you run declares them all, so `show_score()`
# lists the ones you have not run yet.
NOTEBOOK_CHECKS = [
    ("dz_dx", "predicted_x_grad", "dw_dx"),
    ("backward_nodes", "tensors_with_grad", "dz_dy"),
    ("dz_da", "dz_db", "predicted_a_grad", "dz_da_three_paths"),
]

NOT_ANSWERED = "not answered yet: replace `raise NotImplementedError()` with your code."


def declare(name):
    """Tell show_score() every check of the notebook that check `name` belongs to."""
    for names in NOTEBOOK_CHECKS:
        if name in names:
            expect_checks(*names)


# ---- The functions of the lessons, as the notebooks write them ----------------------------------


def single_chain(x):
    """Example 1 (notebook 02): x -> y = x**2 -> z = 2*y + 3."""
    y = x**2
    return 2 * y + 3


def longer_chain(x):
    """Notebook 02's second chain: x -> u = 2*x + 1 -> v = u**3 -> w = 4*v."""
    u = 2 * x + 1  # x -> u
    v = u**3  # u -> v
    return 4 * v  # v -> w


def two_paths(a, b):
    """Example 2 (notebook 04): a and b reach z through x and through y."""
    x = 2 * a + 3 * b
    y = 5 * a**2 + 3 * b**3
    return 2 * x + 3 * y


def three_paths(a, b):
    """Notebook 04's variant: a reaches z through x, y and w."""
    x = 2 * a + 3 * b
    y = 5 * a**2 + 3 * b**3
    w = 4 * a - b  # the third path
    return 2 * x + 3 * y + w**2


def grad(f, point, i=0):
    """d f / d (argument i) at `point`: what autograd puts in .grad, on tensors of our own."""
    inputs = [torch.tensor(_float(p), dtype=torch.float64, requires_grad=True) for p in point]
    with torch.enable_grad():
        f(*inputs).backward()
    return _float(inputs[i].grad)


# ---- Mistakes ---------------------------------------------------------------------------------


class Hint(Mistake):
    """A wrong answer we can explain that is not one of the course's misconceptions (no tag)."""

    def describe(self):
        return self.says


def formula(tag, says, f):
    """The mistake whose answer is f(point) at every point."""
    return Mistake(tag, says, value=lambda *p: f(*(_float(v) for v in p)))


def value(tag, says, number):
    """The mistake whose answer is `number` (for a predicted value)."""
    return (Hint if tag is None else Mistake)(tag, says, value=lambda *p: number)


def whole_multiple(says):
    """The right answer times 2, 3, ... at every point: gradients of several backward() calls
    were added up in .grad (a point where the right answer is 0 must give 0)."""

    def matches(got, expected, points):
        nonzero = [(g, e) for g, e in zip(got, expected) if _abs(e) > 1e-9]
        if not nonzero or not _isfinite(nonzero[0][0]):
            return False
        k = _round(nonzero[0][0] / nonzero[0][1])
        return k >= 2 and all(close(g, k * e) for g, e in zip(got, expected))

    return Mistake("accumulated-grad", says, matches=matches)


ACCUMULATED = (
    "Your answer is a whole multiple of the right one, as when gradients of several backward() calls "
    "add up in .grad. Hint: rebuild the tensors (or zero .grad) before each backward()."
)


def answered(name, fn, must_pass, number=False):
    """(True, fn()), or (False, None) with the verdict shown when fn is missing or fails.
    With `number`, the answer must be one number (a float or a one-element tensor)."""
    if not _callable(fn):
        verdict(name, False, f"`{name}` should be a function (def {name}(): ...), not a value.", must_pass)
        return False, None
    try:
        answer = call_student(fn)
        return True, (as_number(answer, f"{name}()") if number else answer)
    except NotImplementedError:
        verdict(name, False, NOT_ANSWERED, must_pass)
    except AssertionError as failure:  # as_number's CheckFailed: the answer is not a number
        verdict(name, False, str(failure), must_pass)
    except Exception as error:  # your code failed: say how, never crash the check
        verdict(name, False, f"{name}() raised {type(error).__name__}: {error}", must_pass)
    return False, None


def value_check(name, got, expected, mistakes, must_pass, what):
    """Compare one number (already checked to be one) with the expected one; a known wrong value
    names its mistake."""
    if close(got, expected):
        verdict(name, True, f"{got:g} is right.", must_pass)
        return
    message = f"you have {got:g}, but {what} is {expected:g}."
    for mistake in mistakes:
        if mistake.matches([got], [expected], [()]):
            message += " " + mistake.describe()
            break
    verdict(name, False, message, must_pass)


def formula_check(name, fn, f, i, points, mistakes, must_pass, what):
    """Compare fn with autograd's gradient of f with respect to its argument i, at every point."""
    declare(name)
    if not _callable(fn):
        verdict(name, False, f"`{name}` should be a function (def {name}(...): ...), not a value.", must_pass)
        return
    check_formula(name, fn, lambda *p: grad(f, p, i), points, mistakes, must_pass, what)


# ---- Notebook 02: one chain ---------------------------------------------------------------------

X_POINTS = [3.5, -2.0, 0.0, 1.0, 10.0]


def dz_dx_mistakes():
    at_3_5 = grad(single_chain, (3.5,))
    return [
        formula(
            "sum-along-path",
            "You added the local derivatives (dz/dy + dy/dx); along a chain they multiply. "
            "Hint: dz/dx = dz/dy · dy/dx.",
            lambda x: 2 + 2 * x,
        ),
        formula(
            "chain-stopped-early",
            "You stopped at dy/dx, one factor of the chain. Hint: multiply by dz/dy too.",
            lambda x: 2 * x,
        ),
        formula(
            "chain-stopped-early",
            "You stopped at dz/dy, one factor of the chain. Hint: multiply by dy/dx too.",
            lambda x: 2,
        ),
        formula(
            "power-rule",
            "You differentiated x² as 2x² (kept the power). Hint: d/dx xⁿ = n·xⁿ⁻¹, the power drops by one.",
            lambda x: 4 * x**2,
        ),
        formula(
            "power-rule",
            "You differentiated x² as 2 (dropped the x). Hint: d/dx xⁿ = n·xⁿ⁻¹, so d/dx x² = 2·x.",
            lambda x: 4,
        ),
        formula(
            "wrong-point",
            "You return the value at x = 3.5 for every x. Hint: use the argument x in your formula.",
            lambda x: at_3_5,
        ),
        whole_multiple(ACCUMULATED),
    ]


def check_dz_dx(fn, points=X_POINTS, must_pass=False):
    """Your dz/dx for z = 2y + 3, y = x², against autograd's x.grad at every point."""
    formula_check("dz_dx", fn, single_chain, 0, points, dz_dx_mistakes(), must_pass, "autograd (x.grad)")


def check_predicted_x_grad(fn, must_pass=False):
    """Your prediction of x.grad at x = -2, against autograd."""
    name = "predicted_x_grad"
    declare(name)
    ok, got = answered(name, fn, must_pass, number=True)
    if not ok:
        return
    expected = grad(single_chain, (-2.0,))
    mistakes = [m for m in dz_dx_mistakes() if m.tag != "wrong-point"]
    wrong_point = value(
        "wrong-point",
        "14 is x.grad at x = 3.5, the lesson's point. Hint: this time x = -2; put -2 into your formula.",
        grad(single_chain, (3.5,)),
    )
    points = [(-2.0,)]
    formulas = [
        Mistake(m.tag, m.says, matches=lambda g, e, p, m=m: m.matches(g, e, points)) for m in mistakes
    ]
    value_check(name, got, expected, [wrong_point, *formulas], must_pass, "autograd's x.grad at x = -2")


W_POINTS = [0.5, 0.0, -1.0, 2.0, -0.5]


def check_dw_dx(fn, points=W_POINTS, must_pass=False):
    """Your dw/dx for x -> u = 2x + 1 -> v = u³ -> w = 4v, against autograd's x.grad."""
    mistakes = [
        formula(
            "sum-along-path",
            "You added the three local derivatives; along a chain they multiply. "
            "Hint: dw/dx = dw/dv · dv/du · du/dx.",
            lambda x: 4 + 3 * (2 * x + 1) ** 2 + 2,
        ),
        formula(
            "chain-stopped-early",
            "You left out du/dx, the last factor of the chain. Hint: u = 2x + 1 changes twice as fast as x.",
            lambda x: 12 * (2 * x + 1) ** 2,
        ),
        formula(
            "chain-stopped-early",
            "You left out dw/dv, the first factor of the chain. Hint: w = 4v.",
            lambda x: 6 * (2 * x + 1) ** 2,
        ),
        formula(
            "chain-stopped-early",
            "You stopped at dv/du, one factor of the chain. Hint: multiply by dw/dv and du/dx too.",
            lambda x: 3 * (2 * x + 1) ** 2,
        ),
        formula(
            "power-rule",
            "You differentiated u³ as u² (forgot to bring the power down). Hint: d/du uⁿ = n·uⁿ⁻¹.",
            lambda x: 8 * (2 * x + 1) ** 2,
        ),
        formula(
            "power-rule",
            "You differentiated u³ as 3u³ (kept the power). Hint: d/du uⁿ = n·uⁿ⁻¹, the power drops by one.",
            lambda x: 24 * (2 * x + 1) ** 3,
        ),
        whole_multiple(ACCUMULATED),
    ]
    formula_check("dw_dx", fn, longer_chain, 0, points, mistakes, must_pass, "autograd (x.grad)")


# ---- Notebook 03: the computation graph ---------------------------------------------------------

NODE_NAME = re.compile(r"[A-Za-z]+Backward\d*|AccumulateGrad", re.IGNORECASE)
FORWARD_WORDS = {"add", "mul", "pow", "+", "*", "**", "x", "y", "z"}


def node_names(answer):
    """The backward node names in your answer: a list of names (or of the nodes themselves), or
    one string that names them in order."""
    items = [answer] if _isinstance(answer, str) else list(answer)
    names = []
    for item in items:
        if item is None:
            continue
        text = item if _isinstance(item, str) else type(item).__name__
        found = NODE_NAME.findall(text)
        names.extend(found if found else [text.strip()])
    return [n for n in names if n]


def same_name(names):
    """Names to compare: case and PyTorch's trailing number do not matter."""
    return [re.sub(r"\d+$", "", n).lower() for n in names]


def chain_from(output):
    """The backward nodes met walking from output.grad_fn down to the leaf, by name."""
    names, fn = [], output.grad_fn
    while fn is not None:
        names.append(type(fn).__name__)
        fn = next((f for f, _ in fn.next_functions if f is not None), None)
    return names


def check_backward_nodes(fn, must_pass=False):
    """Your list of backward nodes from z to x, against the graph PyTorch records for example 1."""
    name = "backward_nodes"
    declare(name)
    ok, answer = answered(name, fn, must_pass)
    if not ok:
        return
    with torch.enable_grad():
        right = chain_from(single_chain(torch.tensor(3.5, requires_grad=True)))
    want = same_name(right)  # AddBackward0, MulBackward0, PowBackward0, AccumulateGrad
    try:
        shown = node_names(answer)
    except TypeError:
        verdict(name, False, f"return a list of names, like [\"{right[0]}\", ...], not {type(answer).__name__}.",
                must_pass)
        return
    got = same_name(shown)
    if got in (want, want[:-1]):
        verdict(name, True, f"{' → '.join(right)}: from z down to x.", must_pass)
        return
    message = f"your list {shown} is not the chain of backward nodes from z down to x."
    if got in (want[::-1], want[:-1][::-1]):
        message += " Your list goes the other way: start at z.grad_fn and follow next_functions down to x."
    elif got and got == want[: len(got)]:
        message += (
            " Your list stops before it reaches x. Hint: keep following next_functions until the"
            " node of x, an AccumulateGrad. [misconception: chain-stopped-early]"
        )
    elif set(got) & FORWARD_WORDS:
        message += " Name the nodes as PyTorch prints them: look at z.grad_fn and its next_functions."
    else:
        message += " Hint: print z.grad_fn, then z.grad_fn.next_functions, and go on from there."
    verdict(name, False, message, must_pass)


def check_tensors_with_grad(fn, must_pass=False):
    """Which of x, y, z hold a .grad after z.backward() (no retain_grad), against PyTorch."""
    name = "tensors_with_grad"
    declare(name)
    ok, answer = answered(name, fn, must_pass)
    if not ok:
        return
    with torch.enable_grad():
        x = torch.tensor(3.5, requires_grad=True)
        y = x**2
        z = 2 * y + 3
        z.backward()
    tensors = {"x": x, "y": y, "z": z}
    right = {n for n, t in tensors.items() if (t.is_leaf or t.retains_grad) and t.grad is not None}
    if _isinstance(answer, str):
        answer = [answer]
    try:
        got = {str(n).strip().lower() for n in answer}
    except TypeError:
        verdict(name, False, f"return a set of names, like {{\"x\"}}, not {type(answer).__name__}.", must_pass)
        return
    if got == right:
        verdict(name, True, f"only {', '.join(sorted(right))}: the leaf.", must_pass)
        return
    message = f"you have {sorted(got)}, but after z.backward() that is not which tensors hold a .grad."
    if got > right:
        message += (
            " Hint: backward() stores gradients only in leaf tensors (made by you, requires_grad=True);"
            " y and z are made by operations, and keep a .grad only after retain_grad()."
        )
    elif "z" in got:
        message += " Hint: backward() starts at z, but stores the gradients it computes in the leaves."
    verdict(name, False, message, must_pass)


def check_dz_dy(fn, must_pass=False):
    """Your dz/dy read from the graph of example 1 at x = 3.5, against y.grad."""
    name = "dz_dy"
    declare(name)
    ok, got = answered(name, fn, must_pass, number=True)
    if not ok:
        return
    with torch.enable_grad():
        x = torch.tensor(3.5, requires_grad=True)
        y = x**2
        y.retain_grad()
        z = 2 * y + 3
        z.retain_grad()
        z.backward()
    expected = _float(y.grad)
    mistakes = [
        value(
            "swapped-variable",
            "That is x.grad (dz/dx), the gradient of another tensor. Hint: read the box of y.",
            _float(x.grad),
        ),
        value(None, "That is y's value, not its gradient. Hint: read the line y.grad in y's box.", y.item()),
        value(None, "That is z's value. Hint: read the line y.grad in y's box.", z.item()),
        value(None, "That is z.grad = dz/dz, always 1. Hint: read y's box.", _float(z.grad)),
        value(
            None,
            "That is dy/dx, the local derivative of y = x² (the PowBackward0 node). "
            "y.grad is dz/dy: how fast z changes when y changes.",
            2 * 3.5,
        ),
        whole_multiple(ACCUMULATED),
    ]
    value_check(name, got, expected, mistakes, must_pass, "y.grad in the graph")


# ---- Notebook 04: two paths (and three) ---------------------------------------------------------

AB_POINTS = [(2.0, 1.0), (-1.0, 0.5), (0.0, -2.0), (1.5, 3.0)]


def dz_da_mistakes():
    at_book = grad(two_paths, (2.0, 1.0))
    at_3_5 = grad(two_paths, (3.5, 1.0))
    return [
        formula(
            "sum-along-path",
            "You added the local derivatives along each path (as a printed '+' between the factors "
            "suggests). Hint: along a path, multiply: ∂z/∂x · ∂x/∂a.",
            lambda a, b: (2 + 2) + (3 + 10 * a),
        ),
        formula(
            "product-across-paths",
            "You multiplied the two paths' contributions. Hint: each path adds its own share: "
            "dz/da = (path through x) + (path through y).",
            lambda a, b: (2 * 2) * (3 * 10 * a),
        ),
        formula(
            "missing-path",
            "You followed only the path through x. Hint: a also reaches z through y = 5a² + 3b³.",
            lambda a, b: 2 * 2,
        ),
        formula(
            "missing-path",
            "You followed only the path through y. Hint: a also reaches z through x = 2a + 3b.",
            lambda a, b: 3 * 10 * a,
        ),
        Mistake(
            "swapped-variable",
            "That is dz/db, the gradient of the other input. Hint: differentiate with respect to a.",
            matches=lambda got, e, points: all(close(g, grad(two_paths, p, 1)) for g, p in zip(got, points)),
        ),
        formula(
            "power-rule",
            "You differentiated 5a² as 2a (lost the 5). Hint: d/da (5a²) = 5 · 2a.",
            lambda a, b: 4 + 3 * 2 * a,
        ),
        formula(
            "power-rule",
            "You differentiated 5a² as 5a (forgot to bring the power down). Hint: d/da aⁿ = n·aⁿ⁻¹.",
            lambda a, b: 4 + 3 * 5 * a,
        ),
        formula(
            "power-rule",
            "You differentiated 5a² as 10a² (kept the power). Hint: d/da aⁿ = n·aⁿ⁻¹, the power drops by one.",
            lambda a, b: 4 + 3 * 10 * a**2,
        ),
        formula(
            "chain-stopped-early",
            "You kept only the last factor of each path (∂x/∂a + ∂y/∂a). Hint: multiply each by "
            "how z depends on x or y: ∂z/∂x = 2, ∂z/∂y = 3.",
            lambda a, b: 2 + 10 * a,
        ),
        formula(
            "chain-stopped-early",
            "You kept only the first factor of each path (∂z/∂x + ∂z/∂y). Hint: multiply each by "
            "how x or y depends on a.",
            lambda a, b: 2 + 3,
        ),
        formula(
            "chain-stopped-early",
            "On the path through y you left out ∂z/∂y = 3. Hint: multiply along the whole path.",
            lambda a, b: 4 + 10 * a,
        ),
        formula(
            "chain-stopped-early",
            "On the path through x you left out ∂z/∂x = 2. Hint: multiply along the whole path.",
            lambda a, b: 2 + 30 * a,
        ),
        formula(
            "wrong-point",
            "You return the value at a = 2, b = 1 for every input. Hint: use the arguments a and b.",
            lambda a, b: at_book,
        ),
        formula(
            "wrong-point",
            "You return the value at a = 3.5 (a slip some books print beside code that sets a = 2). "
            "Hint: use the argument a.",
            lambda a, b: at_3_5,
        ),
        whole_multiple(ACCUMULATED),
    ]


def check_dz_da(fn, points=AB_POINTS, must_pass=False):
    """Your dz/da for example 2, against autograd's a.grad at every point."""
    formula_check("dz_da", fn, two_paths, 0, points, dz_da_mistakes(), must_pass, "autograd (a.grad)")


def check_dz_db(fn, points=AB_POINTS, must_pass=False):
    """Your dz/db for example 2, against autograd's b.grad at every point."""
    at_book = grad(two_paths, (2.0, 1.0), 1)
    mistakes = [
        formula(
            "sum-along-path",
            "You added the local derivatives along each path. Hint: along a path, multiply: ∂z/∂x · ∂x/∂b.",
            lambda a, b: (2 + 3) + (3 + 9 * b**2),
        ),
        formula(
            "product-across-paths",
            "You multiplied the two paths' contributions. Hint: each path adds its own share: "
            "dz/db = (path through x) + (path through y).",
            lambda a, b: (2 * 3) * (3 * 9 * b**2),
        ),
        formula(
            "missing-path",
            "You followed only the path through x. Hint: b also reaches z through y = 5a² + 3b³.",
            lambda a, b: 2 * 3,
        ),
        formula(
            "missing-path",
            "You followed only the path through y. Hint: b also reaches z through x = 2a + 3b.",
            lambda a, b: 3 * 9 * b**2,
        ),
        Mistake(
            "swapped-variable",
            "That is dz/da, the gradient of the other input. Hint: differentiate with respect to b.",
            matches=lambda got, e, points: all(close(g, grad(two_paths, p, 0)) for g, p in zip(got, points)),
        ),
        formula(
            "power-rule",
            "You differentiated 3b³ as 3b² (forgot to bring the power down). Hint: d/db bⁿ = n·bⁿ⁻¹.",
            lambda a, b: 6 + 3 * 3 * b**2,
        ),
        formula(
            "power-rule",
            "You differentiated 3b³ as 9b³ (kept the power). Hint: d/db bⁿ = n·bⁿ⁻¹, the power drops by one.",
            lambda a, b: 6 + 3 * 9 * b**3,
        ),
        formula(
            "chain-stopped-early",
            "You kept only the last factor of each path (∂x/∂b + ∂y/∂b). Hint: multiply each by "
            "how z depends on x or y: ∂z/∂x = 2, ∂z/∂y = 3.",
            lambda a, b: 3 + 9 * b**2,
        ),
        formula(
            "chain-stopped-early",
            "You kept only the first factor of each path (∂z/∂x + ∂z/∂y). Hint: multiply each by "
            "how x or y depends on b.",
            lambda a, b: 2 + 3,
        ),
        formula(
            "chain-stopped-early",
            "On the path through x you left out ∂z/∂x = 2. Hint: multiply along the whole path.",
            lambda a, b: 3 + 27 * b**2,
        ),
        formula(
            "wrong-point",
            "You return the value at a = 2, b = 1 for every input. Hint: use the argument b.",
            lambda a, b: at_book,
        ),
        whole_multiple(ACCUMULATED),
    ]
    formula_check("dz_db", fn, two_paths, 1, points, mistakes, must_pass, "autograd (b.grad)")


def check_predicted_a_grad(fn, must_pass=False):
    """Your prediction of a.grad for example 2 (a = 2, b = 1), against autograd."""
    name = "predicted_a_grad"
    declare(name)
    ok, got = answered(name, fn, must_pass, number=True)
    if not ok:
        return
    point = (2.0, 1.0)
    expected = grad(two_paths, point)
    mistakes = [
        value(
            "wrong-point",
            "That is a.grad at a = 3.5, a slip some books print beside code that sets a = 2. "
            "Hint: read a from the code.",
            grad(two_paths, (3.5, 1.0)),
        )
    ]
    mistakes += [
        Mistake(m.tag, m.says, matches=lambda g, e, p, m=m: m.matches(g, e, [point]))
        for m in dz_da_mistakes()
        if m.tag != "wrong-point"
    ]
    value_check(name, got, expected, mistakes, must_pass, "autograd's a.grad at a = 2, b = 1")


def check_dz_da_three_paths(fn, points=AB_POINTS, must_pass=False):
    """Your dz/da for the three-path variant, against autograd's a.grad at every point."""
    at_book = grad(three_paths, (2.0, 1.0))
    mistakes = [
        formula(
            "missing-path",
            "You left out the new path through w. Hint: a reaches z through x, y and w = 4a - b.",
            lambda a, b: 4 + 30 * a,
        ),
        formula(
            "missing-path",
            "You left out the path through x. Hint: a reaches z through x, y and w.",
            lambda a, b: 30 * a + 8 * (4 * a - b),
        ),
        formula(
            "missing-path",
            "You left out the path through y. Hint: a reaches z through x, y and w.",
            lambda a, b: 4 + 8 * (4 * a - b),
        ),
        formula(
            "sum-along-path",
            "You added the local derivatives along each path. Hint: along a path, multiply; then add the paths.",
            lambda a, b: (2 + 2) + (3 + 10 * a) + (2 * (4 * a - b) + 4),
        ),
        formula(
            "product-across-paths",
            "You multiplied the three paths' contributions. Hint: each path adds its own share.",
            lambda a, b: (2 * 2) * (3 * 10 * a) * (2 * (4 * a - b) * 4),
        ),
        formula(
            "chain-stopped-early",
            "On the path through w you stopped at ∂z/∂w = 2w. Hint: multiply by ∂w/∂a = 4 too.",
            lambda a, b: 4 + 30 * a + 2 * (4 * a - b),
        ),
        formula(
            "chain-stopped-early",
            "You kept only the last factor of each path (∂x/∂a + ∂y/∂a + ∂w/∂a). "
            "Hint: multiply each by how z depends on x, y or w.",
            lambda a, b: 2 + 10 * a + 4,
        ),
        formula(
            "power-rule",
            "You differentiated w² as w (forgot to bring the power down). Hint: ∂(w²)/∂w = 2w.",
            lambda a, b: 4 + 30 * a + 4 * (4 * a - b),
        ),
        formula(
            "power-rule",
            "You differentiated 5a² as 2a (lost the 5). Hint: d/da (5a²) = 5 · 2a.",
            lambda a, b: 4 + 6 * a + 8 * (4 * a - b),
        ),
        formula(
            "power-rule",
            "You differentiated 5a² as 5a (forgot to bring the power down). Hint: d/da aⁿ = n·aⁿ⁻¹.",
            lambda a, b: 4 + 15 * a + 8 * (4 * a - b),
        ),
        Mistake(
            "swapped-variable",
            "That is dz/db, the gradient of the other input. Hint: differentiate with respect to a.",
            matches=lambda got, e, points: all(close(g, grad(three_paths, p, 1)) for g, p in zip(got, points)),
        ),
        formula(
            "wrong-point",
            "You return the value at a = 2, b = 1 for every input. Hint: use the arguments a and b.",
            lambda a, b: at_book,
        ),
        whole_multiple(ACCUMULATED),
    ]
    formula_check("dz_da_three_paths", fn, three_paths, 0, points, mistakes, must_pass, "autograd (a.grad)")
