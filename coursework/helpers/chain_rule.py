"""Checks for the chain-rule exercises (notebooks 02, 03 and 04).

Every check builds its own tensors, asks autograd for the right gradient, and compares your answer
with it, at many points for a formula. When your numbers are those of a known mistake (adding
instead of multiplying, forgetting a path, ...), the check names the mistake and gives a hint.
"""

import re

import torch

from coursework.helpers.checks import (
    CheckFailed,
    Mistake,
    _float,
    _isinstance,
    as_number,
    autograd_grads,
    check_formula,
    check_value,
    expect_checks,
    repeated_backward,
    run_answer,
    tagged,
    verdict,
)

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


# ---- Mistakes, and your answers ----------------------------------------------------------------

ACCUMULATED = (
    "Your answer is a whole multiple of the right one, as when gradients of several backward() calls "
    "add up in .grad. Hint: rebuild the tensors (or zero .grad) before each backward()."
)


def at_point(mistakes, point):
    """Mistakes of a formula, each matched at `point` only: the mistakes of a prediction there."""
    return [Mistake(m.says, m.tag, matches=lambda g, e, p, m=m: m.matches(g, e, [point])) for m in mistakes]


def answered_number(name, fn, must_pass):
    """(True, fn() as a float), or (False, None) with the verdict shown when fn is missing or fails,
    or its answer is not one number (a float or a one-element tensor)."""
    ok, answer = run_answer(name, fn, (), f"{name}()", must_pass)
    if not ok:
        return False, None
    try:
        return True, as_number(answer, f"{name}()")
    except CheckFailed as failure:
        message = str(failure)
    verdict(name, False, message, must_pass)
    return False, None


def formula_check(name, fn, f, i, points, mistakes, must_pass, what):
    """Compare fn with autograd's gradient of f with respect to its argument i, at every point."""
    declare(name)
    check_formula(name, fn, lambda *p: autograd_grads(f, *p)[i], points, mistakes, must_pass, what)


# ---- Notebook 02: one chain ---------------------------------------------------------------------

X_POINTS = [3.5, -2.0, 0.0, 1.0, 10.0]


def dz_dx_mistakes():
    at_3_5 = autograd_grads(single_chain, 3.5)[0]
    return [
        Mistake(
            "You added the local derivatives (dz/dy + dy/dx); along a chain they multiply. "
            "Hint: dz/dx = dz/dy · dy/dx.",
            tag="sum-along-path",
            formula=lambda x: 2 + 2 * x,
        ),
        Mistake(
            "You stopped at dy/dx, one factor of the chain. Hint: multiply by dz/dy too.",
            tag="chain-stopped-early",
            formula=lambda x: 2 * x,
        ),
        Mistake(
            "You stopped at dz/dy, one factor of the chain. Hint: multiply by dy/dx too.",
            tag="chain-stopped-early",
            formula=lambda x: 2,
        ),
        Mistake(
            "You differentiated x² as 2x² (kept the power). Hint: d/dx xⁿ = n·xⁿ⁻¹, the power drops by one.",
            tag="power-rule",
            formula=lambda x: 4 * x**2,
        ),
        Mistake(
            "You differentiated x² as 2 (dropped the x). Hint: d/dx xⁿ = n·xⁿ⁻¹, so d/dx x² = 2·x.",
            tag="power-rule",
            formula=lambda x: 4,
        ),
        Mistake(
            "You return the value at x = 3.5 for every x. Hint: use the argument x in your formula.",
            tag="wrong-point",
            value=at_3_5,
        ),
        repeated_backward(ACCUMULATED),
    ]


def check_dz_dx(fn, points=X_POINTS, must_pass=False):
    """Your dz/dx for z = 2y + 3, y = x², against autograd's x.grad at every point."""
    formula_check("dz_dx", fn, single_chain, 0, points, dz_dx_mistakes(), must_pass, "autograd (x.grad)")


def check_predicted_x_grad(fn, must_pass=False):
    """Your prediction of x.grad at x = -2, against autograd."""
    name = "predicted_x_grad"
    declare(name)
    ok, got = answered_number(name, fn, must_pass)
    if not ok:
        return
    expected = autograd_grads(single_chain, -2.0)[0]
    mistakes = [m for m in dz_dx_mistakes() if m.tag != "wrong-point"]
    wrong_point = Mistake(
        "14 is x.grad at x = 3.5, the lesson's point. Hint: this time x = -2; put -2 into your formula.",
        tag="wrong-point",
        value=autograd_grads(single_chain, 3.5)[0],
    )
    check_value(name, got, expected, [wrong_point, *at_point(mistakes, (-2.0,))], must_pass,
                "autograd's x.grad at x = -2")


W_POINTS = [0.5, 0.0, -1.0, 2.0, -0.5]


def check_dw_dx(fn, points=W_POINTS, must_pass=False):
    """Your dw/dx for x -> u = 2x + 1 -> v = u³ -> w = 4v, against autograd's x.grad."""
    mistakes = [
        Mistake(
            "You added the three local derivatives; along a chain they multiply. "
            "Hint: dw/dx = dw/dv · dv/du · du/dx.",
            tag="sum-along-path",
            formula=lambda x: 4 + 3 * (2 * x + 1) ** 2 + 2,
        ),
        Mistake(
            "You left out du/dx, the last factor of the chain. Hint: u = 2x + 1 changes twice as fast as x.",
            tag="chain-stopped-early",
            formula=lambda x: 12 * (2 * x + 1) ** 2,
        ),
        Mistake(
            "You left out dw/dv, the first factor of the chain. Hint: w = 4v.",
            tag="chain-stopped-early",
            formula=lambda x: 6 * (2 * x + 1) ** 2,
        ),
        Mistake(
            "You stopped at dv/du, one factor of the chain. Hint: multiply by dw/dv and du/dx too.",
            tag="chain-stopped-early",
            formula=lambda x: 3 * (2 * x + 1) ** 2,
        ),
        Mistake(
            "You differentiated u³ as u² (forgot to bring the power down). Hint: d/du uⁿ = n·uⁿ⁻¹.",
            tag="power-rule",
            formula=lambda x: 8 * (2 * x + 1) ** 2,
        ),
        Mistake(
            "You differentiated u³ as 3u³ (kept the power). Hint: d/du uⁿ = n·uⁿ⁻¹, the power drops by one.",
            tag="power-rule",
            formula=lambda x: 24 * (2 * x + 1) ** 3,
        ),
        repeated_backward(ACCUMULATED),
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
    ok, answer = run_answer(name, fn, (), f"{name}()", must_pass)
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
        message += " " + tagged(
            "Your list stops before it reaches x. Hint: keep following next_functions until the"
            " node of x, an AccumulateGrad.",
            "chain-stopped-early",
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
    ok, answer = run_answer(name, fn, (), f"{name}()", must_pass)
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
    ok, got = answered_number(name, fn, must_pass)
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
        Mistake(
            "That is x.grad (dz/dx), the gradient of another tensor. Hint: read the box of y.",
            tag="swapped-variable",
            value=_float(x.grad),
        ),
        Mistake("That is y's value, not its gradient. Hint: read the line y.grad in y's box.", value=y.item()),
        Mistake("That is z's value. Hint: read the line y.grad in y's box.", value=z.item()),
        Mistake("That is z.grad = dz/dz, always 1. Hint: read y's box.", value=_float(z.grad)),
        Mistake(
            "That is dy/dx, the local derivative of y = x² (the PowBackward0 node). "
            "y.grad is dz/dy: how fast z changes when y changes.",
            value=2 * 3.5,
        ),
        repeated_backward(ACCUMULATED),
    ]
    check_value(name, got, expected, mistakes, must_pass, "y.grad in the graph")


# ---- Notebook 04: two paths (and three) ---------------------------------------------------------

AB_POINTS = [(2.0, 1.0), (-1.0, 0.5), (0.0, -2.0), (1.5, 3.0)]


def dz_da_mistakes():
    at_book = autograd_grads(two_paths, 2.0, 1.0)[0]
    at_3_5 = autograd_grads(two_paths, 3.5, 1.0)[0]
    return [
        Mistake(
            "You added the local derivatives along each path (as a printed '+' between the factors "
            "suggests). Hint: along a path, multiply: ∂z/∂x · ∂x/∂a.",
            tag="sum-along-path",
            formula=lambda a, b: (2 + 2) + (3 + 10 * a),
        ),
        Mistake(
            "You multiplied the two paths' contributions. Hint: each path adds its own share: "
            "dz/da = (path through x) + (path through y).",
            tag="product-across-paths",
            formula=lambda a, b: (2 * 2) * (3 * 10 * a),
        ),
        Mistake(
            "You followed only the path through x. Hint: a also reaches z through y = 5a² + 3b³.",
            tag="missing-path",
            formula=lambda a, b: 2 * 2,
        ),
        Mistake(
            "You followed only the path through y. Hint: a also reaches z through x = 2a + 3b.",
            tag="missing-path",
            formula=lambda a, b: 3 * 10 * a,
        ),
        Mistake(
            "That is dz/db, the gradient of the other input. Hint: differentiate with respect to a.",
            tag="swapped-variable",
            formula=lambda a, b: autograd_grads(two_paths, a, b)[1],
        ),
        Mistake(
            "You differentiated 5a² as 2a (lost the 5). Hint: d/da (5a²) = 5 · 2a.",
            tag="power-rule",
            formula=lambda a, b: 4 + 3 * 2 * a,
        ),
        Mistake(
            "You differentiated 5a² as 5a (forgot to bring the power down). Hint: d/da aⁿ = n·aⁿ⁻¹.",
            tag="power-rule",
            formula=lambda a, b: 4 + 3 * 5 * a,
        ),
        Mistake(
            "You differentiated 5a² as 10a² (kept the power). Hint: d/da aⁿ = n·aⁿ⁻¹, the power drops by one.",
            tag="power-rule",
            formula=lambda a, b: 4 + 3 * 10 * a**2,
        ),
        Mistake(
            "You kept only the last factor of each path (∂x/∂a + ∂y/∂a). Hint: multiply each by "
            "how z depends on x or y: ∂z/∂x = 2, ∂z/∂y = 3.",
            tag="chain-stopped-early",
            formula=lambda a, b: 2 + 10 * a,
        ),
        Mistake(
            "You kept only the first factor of each path (∂z/∂x + ∂z/∂y). Hint: multiply each by "
            "how x or y depends on a.",
            tag="chain-stopped-early",
            formula=lambda a, b: 2 + 3,
        ),
        Mistake(
            "On the path through y you left out ∂z/∂y = 3. Hint: multiply along the whole path.",
            tag="chain-stopped-early",
            formula=lambda a, b: 4 + 10 * a,
        ),
        Mistake(
            "On the path through x you left out ∂z/∂x = 2. Hint: multiply along the whole path.",
            tag="chain-stopped-early",
            formula=lambda a, b: 2 + 30 * a,
        ),
        Mistake(
            "You return the value at a = 2, b = 1 for every input. Hint: use the arguments a and b.",
            tag="wrong-point",
            value=at_book,
        ),
        Mistake(
            "You return the value at a = 3.5 (a slip some books print beside code that sets a = 2). "
            "Hint: use the argument a.",
            tag="wrong-point",
            value=at_3_5,
        ),
        repeated_backward(ACCUMULATED),
    ]


def check_dz_da(fn, points=AB_POINTS, must_pass=False):
    """Your dz/da for example 2, against autograd's a.grad at every point."""
    formula_check("dz_da", fn, two_paths, 0, points, dz_da_mistakes(), must_pass, "autograd (a.grad)")


def check_dz_db(fn, points=AB_POINTS, must_pass=False):
    """Your dz/db for example 2, against autograd's b.grad at every point."""
    at_book = autograd_grads(two_paths, 2.0, 1.0)[1]
    mistakes = [
        Mistake(
            "You added the local derivatives along each path. Hint: along a path, multiply: ∂z/∂x · ∂x/∂b.",
            tag="sum-along-path",
            formula=lambda a, b: (2 + 3) + (3 + 9 * b**2),
        ),
        Mistake(
            "You multiplied the two paths' contributions. Hint: each path adds its own share: "
            "dz/db = (path through x) + (path through y).",
            tag="product-across-paths",
            formula=lambda a, b: (2 * 3) * (3 * 9 * b**2),
        ),
        Mistake(
            "You followed only the path through x. Hint: b also reaches z through y = 5a² + 3b³.",
            tag="missing-path",
            formula=lambda a, b: 2 * 3,
        ),
        Mistake(
            "You followed only the path through y. Hint: b also reaches z through x = 2a + 3b.",
            tag="missing-path",
            formula=lambda a, b: 3 * 9 * b**2,
        ),
        Mistake(
            "That is dz/da, the gradient of the other input. Hint: differentiate with respect to b.",
            tag="swapped-variable",
            formula=lambda a, b: autograd_grads(two_paths, a, b)[0],
        ),
        Mistake(
            "You differentiated 3b³ as 3b² (forgot to bring the power down). Hint: d/db bⁿ = n·bⁿ⁻¹.",
            tag="power-rule",
            formula=lambda a, b: 6 + 3 * 3 * b**2,
        ),
        Mistake(
            "You differentiated 3b³ as 9b³ (kept the power). Hint: d/db bⁿ = n·bⁿ⁻¹, the power drops by one.",
            tag="power-rule",
            formula=lambda a, b: 6 + 3 * 9 * b**3,
        ),
        Mistake(
            "You kept only the last factor of each path (∂x/∂b + ∂y/∂b). Hint: multiply each by "
            "how z depends on x or y: ∂z/∂x = 2, ∂z/∂y = 3.",
            tag="chain-stopped-early",
            formula=lambda a, b: 3 + 9 * b**2,
        ),
        Mistake(
            "You kept only the first factor of each path (∂z/∂x + ∂z/∂y). Hint: multiply each by "
            "how x or y depends on b.",
            tag="chain-stopped-early",
            formula=lambda a, b: 2 + 3,
        ),
        Mistake(
            "On the path through x you left out ∂z/∂x = 2. Hint: multiply along the whole path.",
            tag="chain-stopped-early",
            formula=lambda a, b: 3 + 27 * b**2,
        ),
        Mistake(
            "You return the value at a = 2, b = 1 for every input. Hint: use the argument b.",
            tag="wrong-point",
            value=at_book,
        ),
        repeated_backward(ACCUMULATED),
    ]
    formula_check("dz_db", fn, two_paths, 1, points, mistakes, must_pass, "autograd (b.grad)")


def check_predicted_a_grad(fn, must_pass=False):
    """Your prediction of a.grad for example 2 (a = 2, b = 1), against autograd."""
    name = "predicted_a_grad"
    declare(name)
    ok, got = answered_number(name, fn, must_pass)
    if not ok:
        return
    point = (2.0, 1.0)
    expected = autograd_grads(two_paths, *point)[0]
    wrong_point = Mistake(
        "That is a.grad at a = 3.5, a slip some books print beside code that sets a = 2. "
        "Hint: read a from the code.",
        tag="wrong-point",
        value=autograd_grads(two_paths, 3.5, 1.0)[0],
    )
    mistakes = [wrong_point, *at_point([m for m in dz_da_mistakes() if m.tag != "wrong-point"], point)]
    check_value(name, got, expected, mistakes, must_pass, "autograd's a.grad at a = 2, b = 1")


def check_dz_da_three_paths(fn, points=AB_POINTS, must_pass=False):
    """Your dz/da for the three-path variant, against autograd's a.grad at every point."""
    at_book = autograd_grads(three_paths, 2.0, 1.0)[0]
    mistakes = [
        Mistake(
            "You left out the new path through w. Hint: a reaches z through x, y and w = 4a - b.",
            tag="missing-path",
            formula=lambda a, b: 4 + 30 * a,
        ),
        Mistake(
            "You left out the path through x. Hint: a reaches z through x, y and w.",
            tag="missing-path",
            formula=lambda a, b: 30 * a + 8 * (4 * a - b),
        ),
        Mistake(
            "You left out the path through y. Hint: a reaches z through x, y and w.",
            tag="missing-path",
            formula=lambda a, b: 4 + 8 * (4 * a - b),
        ),
        Mistake(
            "You added the local derivatives along each path. Hint: along a path, multiply; then add the paths.",
            tag="sum-along-path",
            formula=lambda a, b: (2 + 2) + (3 + 10 * a) + (2 * (4 * a - b) + 4),
        ),
        Mistake(
            "You multiplied the three paths' contributions. Hint: each path adds its own share.",
            tag="product-across-paths",
            formula=lambda a, b: (2 * 2) * (3 * 10 * a) * (2 * (4 * a - b) * 4),
        ),
        Mistake(
            "On the path through w you stopped at ∂z/∂w = 2w. Hint: multiply by ∂w/∂a = 4 too.",
            tag="chain-stopped-early",
            formula=lambda a, b: 4 + 30 * a + 2 * (4 * a - b),
        ),
        Mistake(
            "You kept only the last factor of each path (∂x/∂a + ∂y/∂a + ∂w/∂a). "
            "Hint: multiply each by how z depends on x, y or w.",
            tag="chain-stopped-early",
            formula=lambda a, b: 2 + 10 * a + 4,
        ),
        Mistake(
            "You differentiated w² as w (forgot to bring the power down). Hint: ∂(w²)/∂w = 2w.",
            tag="power-rule",
            formula=lambda a, b: 4 + 30 * a + 4 * (4 * a - b),
        ),
        Mistake(
            "You differentiated 5a² as 2a (lost the 5). Hint: d/da (5a²) = 5 · 2a.",
            tag="power-rule",
            formula=lambda a, b: 4 + 6 * a + 8 * (4 * a - b),
        ),
        Mistake(
            "You differentiated 5a² as 5a (forgot to bring the power down). Hint: d/da aⁿ = n·aⁿ⁻¹.",
            tag="power-rule",
            formula=lambda a, b: 4 + 15 * a + 8 * (4 * a - b),
        ),
        Mistake(
            "That is dz/db, the gradient of the other input. Hint: differentiate with respect to a.",
            tag="swapped-variable",
            formula=lambda a, b: autograd_grads(three_paths, a, b)[1],
        ),
        Mistake(
            "You return the value at a = 2, b = 1 for every input. Hint: use the arguments a and b.",
            tag="wrong-point",
            value=at_book,
        ),
        repeated_backward(ACCUMULATED),
    ]
    formula_check("dz_da_three_paths", fn, three_paths, 0, points, mistakes, must_pass, "autograd (a.grad)")
