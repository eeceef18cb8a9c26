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
    constant_factor,
    expect_checks,
    run_answer,
    tagged,
    verdict,
)
from coursework.helpers.derivations import Derivation, Factor, at_point, catalogue

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


# ---- Derivations, their mistakes, and your answers -------------------------------------------------

# Points where two formulas that agree are the same formula (the catalogues are told apart there).
X_PROBES = [(0.7,), (-1.3,), (2.0,), (3.5,), (-2.6,)]
AB_PROBES = [(0.7, -1.3), (2.0, 1.0), (-1.1, 0.4), (1.9, 2.3), (-2.6, -0.8)]


def example_1_quantities(x):
    return {"x": x, "y": x**2}


def longer_chain_quantities(x):
    u = 2 * x + 1
    return {"x": x, "u": u, "v": u**3}


def two_path_quantities(a, b):
    return {"a": a, "b": b, "x": 2 * a + 3 * b, "y": 5 * a**2 + 3 * b**3, "w": 4 * a - b}


# Example 1: z = 2y + 3, y = x². One path: dz/dx = dz/dy · dy/dx.
DZ_DX = Derivation(
    "z", "x", [[Factor("z", "y", 2), Factor("y", "x", 1, 2)]], example_1_quantities, d="d",
    fixed=[((3.5,), "gave x.grad at x = 3.5, the lesson's point",
            "use the x of this exercise (the argument x, or the x set in the code).")],
)
# The longer chain: w = 4v, v = u³, u = 2x + 1.
DW_DX = Derivation(
    "w", "x", [[Factor("w", "v", 4), Factor("v", "u", 1, 3), Factor("u", "x", 2)]], longer_chain_quantities, d="d",
    intermediates={"u": "u = 2x + 1"},
)
# Example 2: z = 2x + 3y, x = 2a + 3b, y = 5a² + 3b³. Two paths each for a and b.
LESSON_POINT = [((2.0, 1.0), "gave ∂z/∂{v} at a = 2, b = 1, the lesson's point, whatever the arguments",
                 "compute with the arguments a and b.")]
DZ_DA = Derivation(
    "z", "a", [[Factor("z", "x", 2), Factor("x", "a", 2)], [Factor("z", "y", 3), Factor("y", "a", 5, 2)]],
    two_path_quantities,
    fixed=[(p, what.format(v="a"), hint) for p, what, hint in LESSON_POINT]
    + [((3.5, 1.0), "evaluated ∂z/∂a at a = 3.5 (x's value in example 1)",
        "use the a of this exercise (the argument a, or the a set in the code).")],
)
DZ_DB = Derivation(
    "z", "b", [[Factor("z", "x", 2), Factor("x", "b", 3)], [Factor("z", "y", 3), Factor("y", "b", 3, 3)]],
    two_path_quantities, fixed=[(p, what.format(v="b"), hint) for p, what, hint in LESSON_POINT],
)
DZ_DA.other, DZ_DB.other = DZ_DB, DZ_DA
# The three-path variant: z = 2x + 3y + w², w = 4a - b.
THREE_PATHS_DA = Derivation(
    "z", "a",
    [[Factor("z", "x", 2), Factor("x", "a", 2)], [Factor("z", "y", 3), Factor("y", "a", 5, 2)],
     [Factor("z", "w", 1, 2), Factor("w", "a", 4)]],
    two_path_quantities, intermediates={"w": "w = 4a - b"},
    fixed=[(p, what.format(v="a"), hint) for p, what, hint in LESSON_POINT],
)
THREE_PATHS_DB = Derivation(
    "z", "b",
    [[Factor("z", "x", 2), Factor("x", "b", 3)], [Factor("z", "y", 3), Factor("y", "b", 3, 3)],
     [Factor("z", "w", 1, 2), Factor("w", "b", -1)]],
    two_path_quantities,
)
THREE_PATHS_DA.other = THREE_PATHS_DB

# One table of mistakes per exercise (tag, formula, hint), generated from its derivation.
CATALOGUES = {
    "dz_dx": catalogue(DZ_DX, X_PROBES),
    "dw_dx": catalogue(DW_DX, X_PROBES),
    "dz_da": catalogue(DZ_DA, AB_PROBES),
    "dz_db": catalogue(DZ_DB, AB_PROBES),
    "dz_da_three_paths": catalogue(THREE_PATHS_DA, AB_PROBES),
}


def answered_number(name, fn, must_pass):
    """(True, fn() as a float), or (False, None) with the verdict shown when fn is missing, fails or
    uses autograd (a prediction is worked out by hand), or its answer is not one number."""
    ok, answer = run_answer(name, fn, (), f"{name}()", must_pass, by_hand=True)
    if not ok:
        return False, None
    try:
        return True, as_number(answer, f"{name}()")
    except CheckFailed as failure:
        message = str(failure)
    verdict(name, False, message, must_pass)
    return False, None


def formula_check(name, fn, f, i, points, must_pass, what):
    """Compare fn, derived by hand, with autograd's gradient of f with respect to its argument i at
    every point; a known mistake is named from the exercise's catalogue."""
    declare(name)
    mistakes = [*CATALOGUES[name], constant_factor()]
    check_formula(name, fn, lambda *p: autograd_grads(f, *p)[i], points, mistakes, must_pass, what, by_hand=True)


def prediction_check(name, fn, derivation, point, must_pass, what):
    """Compare your predicted number with the derivation's value at `point`; a known mistake is
    named from the catalogue of the formula, at that point."""
    declare(name)
    ok, got = answered_number(name, fn, must_pass)
    if not ok:
        return
    expected = derivation.value(*point)
    mistakes = at_point(CATALOGUES[PREDICTED_FROM[name]], point, expected)
    check_value(name, got, expected, mistakes, must_pass, what)


PREDICTED_FROM = {"predicted_x_grad": "dz_dx", "predicted_a_grad": "dz_da"}


# ---- Notebook 02: one chain ---------------------------------------------------------------------

# The visible check's points; x = -2 is left out: exercise 2 asks for x.grad there.
X_POINTS = [3.5, 0.0, 1.0, 10.0, -1.5]


def check_dz_dx(fn, points=X_POINTS, must_pass=False):
    """Your dz/dx for z = 2y + 3, y = x², against autograd's x.grad at every point."""
    formula_check("dz_dx", fn, single_chain, 0, points, must_pass, "autograd (x.grad)")


def check_predicted_x_grad(fn, must_pass=False):
    """Your prediction of x.grad at x = -2, against autograd."""
    prediction_check("predicted_x_grad", fn, DZ_DX, (-2.0,), must_pass, "autograd's x.grad at x = -2")


W_POINTS = [0.5, 0.0, -1.0, 2.0, -0.5]


def check_dw_dx(fn, points=W_POINTS, must_pass=False):
    """Your dw/dx for x -> u = 2x + 1 -> v = u³ -> w = 4v, against autograd's x.grad."""
    formula_check("dw_dx", fn, longer_chain, 0, points, must_pass, "autograd (x.grad)")


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


def dz_dy_mistakes():
    """The ways to misread dz/dy in the drawing of example 1 at x = 3.5: another number of the
    drawing (the values, another gradient, the local derivative of y = x²)."""
    x, y, z = 3.5, 3.5**2, 2 * 3.5**2 + 3
    return [
        Mistake("That is dz/dx, the gradient of x. Hint: read the box of y.", tag="swapped-variable",
                value=DZ_DX.value(x)),
        Mistake("That is y's value, not its gradient. Hint: read the gradient in y's box.", value=y),
        Mistake("That is z's value. Hint: read the gradient in y's box.", value=z),
        Mistake("That is dz/dz, the gradient of z itself (always 1). Hint: read y's box.", value=1.0),
        Mistake("That is dy/dx, the local derivative of y = x² (its node). dz/dy is how fast z changes when y "
                "changes. Hint: read the gradient in y's box.", value=2 * x),
    ]


def check_dz_dy(fn, must_pass=False):
    """Your dz/dy read from the graph of example 1 at x = 3.5, against y's gradient."""
    name = "dz_dy"
    declare(name)
    ok, got = answered_number(name, fn, must_pass)
    if not ok:
        return
    with torch.enable_grad():
        x = torch.tensor(3.5, requires_grad=True)
        y = x**2
        z = 2 * y + 3
        (expected,) = torch.autograd.grad(z, y)
    check_value(name, got, _float(expected), dz_dy_mistakes(), must_pass, "dz/dy in the drawing")


# ---- Notebook 04: two paths (and three) ---------------------------------------------------------

# The visible checks' points; (2, 1) is left out: exercise 3 asks for a.grad there.
AB_POINTS = [(-1.0, 0.5), (0.0, -2.0), (1.5, 3.0), (0.5, 2.0)]


def check_dz_da(fn, points=AB_POINTS, must_pass=False):
    """Your ∂z/∂a for example 2, against autograd's a.grad at every point."""
    formula_check("dz_da", fn, two_paths, 0, points, must_pass, "autograd (a.grad)")


def check_dz_db(fn, points=AB_POINTS, must_pass=False):
    """Your ∂z/∂b for example 2, against autograd's b.grad at every point."""
    formula_check("dz_db", fn, two_paths, 1, points, must_pass, "autograd (b.grad)")


def check_predicted_a_grad(fn, must_pass=False):
    """Your prediction of a.grad for example 2 (a = 2, b = 1), against autograd."""
    prediction_check("predicted_a_grad", fn, DZ_DA, (2.0, 1.0), must_pass, "autograd's a.grad at a = 2, b = 1")


def check_dz_da_three_paths(fn, points=AB_POINTS, must_pass=False):
    """Your ∂z/∂a for the three-path variant, against autograd's a.grad at every point."""
    formula_check("dz_da_three_paths", fn, three_paths, 0, points, must_pass, "autograd (a.grad)")
