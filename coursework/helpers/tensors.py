"""Checks for notebook 01 (tensors), and a drawing of small tensors as grids of numbers.

Each check calls your function on tensors it builds itself, then compares the shape, the dtype
and the numbers of what you return with the right answer. When they differ it says how, and names
the likely mistake (wrong dtype, wrong shape, `*` instead of `@`, ...).
"""

import torch

from coursework.helpers.checks import (
    CheckFailed,
    _allclose,
    _float,
    _float64,
    _isinstance,
    _len,
    _Tensor,
    _tensor,
    _tuple,
    call_answer,
    expect_checks,
    pictures_shown,
    verdict,
)

__all__ = ["show_tensors", "check_make_tensors", "check_bills", "check_center_rows", "check_trainable"]

TOL = 1e-4


# ---------------------------------------------------------------- a picture of tensors


def _number_text(value):
    """A number as short text: 3.0 -> 3, 0.5 -> 0.5, 1/3 -> 0.333333."""
    if _isinstance(value, bool):
        return str(value)
    if _isinstance(value, float):
        return f"{value + 0.0:g}"  # + 0.0 turns -0.0 into 0.0
    return str(value)


def show_tensors(**tensors):
    """Draw each tensor (a scalar, vector or matrix) as a grid of boxes holding its numbers,
    titled with its name and shape, e.g. `show_tensors(v=v, M=M)`."""
    if not pictures_shown():
        return
    import matplotlib.pyplot as plt
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

    grids = []
    for name, t in tensors.items():
        t = torch.as_tensor(t).detach()
        if t.ndim > 2:
            raise ValueError(f"show_tensors draws at most 2 axes; {name} has shape {_tuple(t.shape)}")
        grids.append((name, t, t.reshape(1, -1) if t.ndim < 2 else t))
    gap = 1.2  # between two grids, in boxes
    widths = [max(g.shape[1], 1) for _, _, g in grids]
    height = max(g.shape[0] for _, _, g in grids)
    # One picture for all the grids: side by side, one box is one unit.
    fig, ax = plt.subplots(figsize=(0.7 * (sum(widths) + gap * _len(grids)), 0.7 * height + 0.9))
    colours = ["#cfe3f7", "#fde2c4", "#d5f0d0", "#eadcf5"]
    left = 0.0
    for k, ((name, t, grid), width) in enumerate(zip(grids, widths)):
        rows, cols = grid.shape
        boxes = [Rectangle((left + j, -i - 1), 1, 1) for i in range(rows) for j in range(cols)]
        ax.add_collection(PatchCollection(boxes, facecolor=colours[k % 4], edgecolor="black"))
        for i in range(rows):
            for j in range(cols):
                ax.text(left + j + 0.5, -i - 0.5, _number_text(grid[i, j].item()), ha="center", va="center")
        ax.text(left + width / 2, 0.15, f"{name}\nshape {_tuple(t.shape)}", ha="center", va="bottom", fontsize=10)
        left += width + gap
    ax.set_xlim(-0.05, left - gap + 0.05)
    ax.set_ylim(-height - 0.05, 1.1)
    ax.set_aspect("equal")
    ax.axis("off")
    plt.show()


# ---------------------------------------------------------------- shared helpers


def _show(value):
    """A tensor's (or list's) numbers as short text, e.g. [[1, 2], [3, 4.5]]."""
    if _isinstance(value, _Tensor):
        value = value.detach().tolist()
    if _isinstance(value, (list, _tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return _number_text(value)


def _shape(t):
    return _tuple(t.shape)


def _same(got, expected):
    """Both tensors, same shape, same numbers (within a tolerance). `expected` is float64."""
    if not _isinstance(got, _Tensor) or _shape(got) != _shape(expected) or got.is_complex():
        return False
    return bool(_allclose(got.detach().to(_float64), expected, rtol=TOL, atol=TOL))


def _same_numbers(got, expected):
    """The same numbers in the same order, whatever the shapes."""
    if not _isinstance(got, _Tensor) or got.numel() != expected.numel():
        return False
    return _same(got.reshape(-1), expected.reshape(-1))


def _type_name(value):
    return "None" if value is None else type(value).__name__


def _not_a_tensor(what, value):
    """Why `value` is not the tensor we want, or None when it is a tensor."""
    if _isinstance(value, _Tensor):
        return None
    if value is None:
        return f"{what} is None: did you forget a `return`?"
    if _isinstance(value, (list, _tuple)):
        return f"{what} is a Python {_type_name(value)}, not a tensor: wrap the numbers in torch.tensor(...)."
    if _type_name(value) == "ndarray":
        return f"{what} is a NumPy array, not a tensor: convert it with torch.tensor(...) or torch.from_numpy(...)."
    if _isinstance(value, (int, float)):
        return f"{what} is a plain Python number ({value}), not a tensor: wrap it in torch.tensor(...)."
    return f"{what} should be a tensor, not {_type_name(value)}."


def _run_check(name, must_pass, find_problem, *args):
    """Show the verdict of `find_problem(*args)`, which returns (problem or None, success text).
    Whatever happens inside (your code raising, a strange return value), the visible check
    prints its verdict and never raises; the hidden one (must_pass) raises when it fails."""
    try:
        problem, success = find_problem(*args)
    except CheckFailed as failure:
        problem, success = str(failure), ""
    except Exception as error:  # something in your answer the check did not foresee
        problem, success = f"the check could not finish: {type(error).__name__}: {error}", ""
    verdict(name, problem is None, problem or success, must_pass)


def _first_wrong(results, cases, reference, mistakes, describe_case, name):
    """The message for the first case where a result differs from the reference, or None.
    `mistakes` are (formula, message) pairs: a mistake is named when your results equal its
    formula in every case."""
    expected = [reference(*c) for c in cases]
    wrong = [i for i, (r, e) in enumerate(zip(results, expected)) if not _same(r, e)]
    if not wrong:
        return None
    for formula, says in mistakes:
        try:
            if all(_same(r, formula(*c)) for r, c in zip(results, cases)):
                return says
        except RuntimeError:  # the formula does not apply to these shapes
            continue
    i = wrong[0]
    got, want = results[i], expected[i]
    where = describe_case(*cases[i])
    if _shape(got) != _shape(want):
        message = f"{where}, {name} gives shape {_shape(got)}, but it should be {_shape(want)}."
        if _same_numbers(got, want):
            message += " The numbers are right: only the shape is wrong."
            if got.ndim < want.ndim:
                message += " (`.squeeze()` removes every axis of length 1; `.reshape(-1)` keeps a vector.)"
        return message
    return f"{where}, {name} gives {_show(got)}, but the right answer is {_show(want)}."


def _plural(k, word):
    return f"{k} {word}" + ("" if k == 1 else "s")


# ---------------------------------------------------------------- exercise 1: make_tensors

MAKE_TENSORS = [
    ("scalar", 10.0),
    ("vector", [0.0, 0.5, 1.0, 1.5, 2.0]),
    ("matrix", [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]),
]


def _tensor_problems(label, got, values):
    """What is wrong with one of the three tensors (a list of sentences, empty when right)."""
    wrong_type = _not_a_tensor(f"the {label}", got)
    if wrong_type:
        return [wrong_type]
    want = _tensor(values, dtype=_float64)
    problems = []
    shape, right_shape = _shape(got), _shape(want)
    if shape != right_shape:
        if label == "scalar" and got.numel() == 1:
            problems.append(
                f"the scalar has shape {shape}: square brackets, as in torch.tensor([10.0]), make a vector "
                "holding one number. A scalar has shape (): write torch.tensor(10.0), without brackets."
            )
        elif label == "vector" and _same_numbers(got, want):
            problems.append(
                f"the vector has shape {shape} instead of {right_shape}: the extra square brackets make it a "
                "matrix with one row (or column). Use one pair of brackets: torch.tensor([0.0, 0.5, ...])."
            )
        elif label == "vector" and shape == (4,) and _same(got, want[:4]):
            problems.append(
                "the vector stops at 1.5: torch.arange(start, end, step) stops *before* `end`, "
                "so ask for an end a little past 2, e.g. torch.arange(0.0, 2.5, 0.5)."
            )
        elif label == "matrix" and shape == (2, 3) and _same(got, want.T):
            problems.append(
                "the matrix has shape (2, 3): rows and columns are swapped. "
                "It should have 3 rows of 2 numbers: [[1, 2], [3, 4], [5, 6]]."
            )
        elif label == "matrix" and _same_numbers(got, want):
            problems.append(
                f"the matrix has the right numbers but shape {shape} instead of (3, 2): "
                "3 rows of 2 numbers, e.g. with .reshape(3, 2)."
            )
        else:
            problems.append(f"the {label} has shape {shape}, but it should have shape {right_shape}.")
    if got.dtype != torch.float32:
        if got.dtype == _float64:
            problems.append(
                f"the {label} has dtype torch.float64 (double precision, NumPy's default). "
                "This exercise asks for PyTorch's default, torch.float32: pass dtype=torch.float32 or use .float()."
            )
        elif not got.is_floating_point() and not got.is_complex():
            example = "10.0 rather than 10" if label == "scalar" else "1.0 rather than 1"
            problems.append(
                f"the {label} has dtype {got.dtype}, a whole-number type: PyTorch picks it when every number "
                f"is written without a decimal point. Write {example}, or pass dtype=torch.float32."
            )
        else:
            problems.append(f"the {label} has dtype {got.dtype}, but it should be torch.float32.")
    if shape == right_shape and not _same(got, want):
        problems.append(f"the {label} holds {_show(got)}, but it should hold {_show(want)}.")
    return problems


def _make_tensors_problem(fn):
    result = call_answer(fn, (), "make_tensors()")
    if result is None:
        return "make_tensors() returned None: did you forget the `return` line?", ""
    if _isinstance(result, _Tensor) or not _isinstance(result, (list, _tuple)) or _len(result) != 3:
        what = f"a value of type {_type_name(result)}"
        if _isinstance(result, _Tensor):
            what = "one tensor"
        elif _isinstance(result, (list, _tuple)):
            what = f"{_len(result)} things"
        return (
            f"make_tensors() should return three tensors (`return scalar, vector, matrix`), but it returned {what}.",
            "",
        )
    problems = []
    for (label, values), got in zip(MAKE_TENSORS, result):
        problems += _tensor_problems(label, got, values)
    if not problems:
        return None, "scalar (), vector (5,) and matrix (3, 2): right shapes, dtype float32 and the right numbers."
    if _len(problems) == 1:
        return problems[0], ""
    return f"{_len(problems)} things to fix:" + "".join(f"\n   • {p}" for p in problems), ""


def check_make_tensors(fn, must_pass=False):
    """Check exercise 1: make_tensors() returns the scalar, vector and matrix asked for."""
    _run_check("make_tensors", must_pass, _make_tensors_problem, fn)


# ---------------------------------------------------------------- exercise 2: bills

BILLS_CASES = [([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0]], [1.5, 2.0, 4.0])]


# Errors PyTorch raises for the mistakes of this exercise: a piece of the message, and a hint.
BILLS_SHAPES_HINT = (
    "Check the shapes and their order: quantities is (customers, items) and prices is (items,), "
    "so quantities @ prices has one number per customer."
)
BILLS_ERROR_HINTS = [
    ("multiplied", BILLS_SHAPES_HINT),
    ("mismatch", BILLS_SHAPES_HINT),
    ("must match", BILLS_SHAPES_HINT),
    ("dtype", "Both tensors hold floats here; did your code turn one of them into integers?"),
]


def _bills_problem(fn, cases):
    tensors = [(_tensor(q, dtype=torch.float32), _tensor(p, dtype=torch.float32)) for q, p in cases]
    results = []
    for q, p in tensors:
        shown = f"bills(quantities, prices) with quantities = {_show(q)} and prices = {_show(p)}"
        result = call_answer(fn, (q.clone(), p.clone()), shown, BILLS_ERROR_HINTS)
        wrong_type = _not_a_tensor("the result of bills(quantities, prices)", result)
        if wrong_type:
            return wrong_type, ""
        results.append(result)
    cases64 = [(q.to(_float64), p.to(_float64)) for q, p in tensors]
    mistakes = [
        (
            lambda q, p: q * p,
            "you multiplied element by element (`*`): that gives each quantity times its price, one number "
            "per item, a whole table, but nothing is added up per customer. The matrix product "
            "`quantities @ prices` multiplies and adds in one step (or add up each row: .sum(dim=1)).",
        ),
        (
            lambda q, p: (q @ p).sum(),
            "your answer is one number, the grand total of all customers. Each customer gets their own "
            "bill: the result should hold one number per customer, shape (customers,).",
        ),
        (
            lambda q, p: (q * p).sum(dim=0),
            "you added down the columns (dim=0): that is what each item earned from all customers together. "
            "A customer's bill adds across their row: .sum(dim=1), or simply quantities @ prices.",
        ),
        (
            lambda q, p: q.T @ p,
            "you multiplied in the wrong order (prices @ quantities, the same as quantities.T @ prices): "
            "the order matters in a matrix product. Use quantities @ prices.",
        ),
    ]
    problem = _first_wrong(
        results, cases64, lambda q, p: q @ p, mistakes,
        lambda q, p: f"For quantities = {_show(q)} and prices = {_show(p)}", "bills",
    )
    if problem:
        return problem, ""
    if _len(cases) == 1:
        return None, f"bills(quantities, prices) = {_show(results[0])}: right shape and numbers."
    return None, f"right shape and numbers for all {_plural(_len(cases), 'shop')}."


def check_bills(fn, cases=None, must_pass=False):
    """Check exercise 2: bills(quantities, prices) is the vector of every customer's bill.
    `cases` is a list of (quantities, prices) as nested lists."""
    _run_check("bills", must_pass, _bills_problem, fn, cases or BILLS_CASES)


# ---------------------------------------------------------------- exercise 3: center_rows

CENTER_ROWS_CASES = [[[6.0, 8.0, 10.0], [1.0, 2.0, 3.0], [4.0, 4.0, 4.0]]]


CENTER_ROWS_ERROR_HINTS = [
    (
        "must match the size",
        "This is the broadcasting error of the buggy code: the vector of row means, shape (rows,), is lined "
        "up with the last axis, the columns. Make it a column of shape (rows, 1) first.",
    ),
    (
        "invalid for input of size",
        "Does your code assume a number of rows or columns? It must work for tables of any shape.",
    ),
]


def _center_rows_problem(fn, cases):
    tables = [_tensor(s, dtype=torch.float32) for s in cases]
    results = []
    for s in tables:
        shown = f"center_rows(scores) with scores = {_show(s)}, shape {_shape(s)},"
        result = call_answer(fn, (s.clone(),), shown, CENTER_ROWS_ERROR_HINTS)
        wrong_type = _not_a_tensor("the result of center_rows(scores)", result)
        if wrong_type:
            return wrong_type, ""
        results.append(result)
    cases64 = [(s.to(_float64),) for s in tables]
    mistakes = [
        (
            lambda s: s - s.mean(dim=1),
            "this is what the buggy code gives: the row means, shape (rows,), are lined up with the columns, "
            "so the mean of row i is subtracted from column i. Make the means a column of shape (rows, 1) "
            "first: .reshape(-1, 1), [:, None], or mean(dim=1, keepdim=True).",
        ),
        (
            lambda s: s - s.mean(dim=0),
            "you subtracted each column's mean (dim=0). Each row needs its own mean: mean(dim=1), "
            "shaped as a column (rows, 1) so that it lines up with the rows.",
        ),
        (
            lambda s: s - s.mean(),
            "you subtracted the mean of the whole table. Each row should have its own mean subtracted: "
            "mean(dim=1), shaped as a column (rows, 1).",
        ),
        (
            lambda s: s.mean(dim=1, keepdim=True),
            "you returned the row means themselves; subtract them from scores.",
        ),
        (
            lambda s: s.mean(dim=1),
            "you returned the row means themselves; subtract them from scores.",
        ),
    ]
    problem = _first_wrong(
        results, cases64, lambda s: s - s.mean(dim=1, keepdim=True), mistakes,
        lambda s: f"For scores = {_show(s)}", "center_rows",
    )
    if problem:
        return problem, ""
    if _len(cases) == 1:
        return None, f"center_rows(scores) = {_show(results[0])}: every row now averages 0."
    return None, f"every row averages 0, for all {_plural(_len(cases), 'table')}."


def check_center_rows(fn, cases=None, must_pass=False):
    """Check exercise 3: center_rows(scores) subtracts each row's mean from that row.
    `cases` is a list of tables (nested lists)."""
    _run_check("center_rows", must_pass, _center_rows_problem, fn, cases or CENTER_ROWS_CASES)


# ---------------------------------------------------------------- exercise 4: trainable

TRAINABLE_CASES = [[1, 2, 3], [0.5, 2.0]]


TRAINABLE_ERROR_HINTS = [
    (
        "floating point",
        "The values are whole numbers, so torch.tensor made an integer tensor, and integers cannot "
        "require gradients. Ask for floats when you create it: dtype=torch.float32.",
    ),
]


def _trainable_case_problem(values, got):
    """What is wrong with trainable(values), or None."""
    where = f"trainable({values})"
    wrong_type = _not_a_tensor(f"{where}", got)
    if wrong_type:
        return wrong_type
    want = _tensor([_float(v) for v in values], dtype=_float64)
    if _shape(got) != _shape(want):
        return f"{where} has shape {_shape(got)}, but it should be {_shape(want)}: one number per value."
    if not got.is_floating_point():
        return (
            f"{where} has dtype {got.dtype}: whole-number tensors cannot require gradients. "
            "Make it a float tensor: dtype=torch.float32."
        )
    if not got.requires_grad:
        return (
            f"{where} does not require grad (requires_grad is False), so autograd will not track it: "
            "pass requires_grad=True when you create it."
        )
    if got.grad_fn is not None:
        return (
            f"{where} was computed from another tensor that requires grad (its grad_fn is "
            f"{type(got.grad_fn).__name__}), for example by .float() or .to() after requires_grad=True. "
            "Autograd stores gradients only in tensors you create yourself, so this one's .grad would stay "
            "None. Create the float tensor with requires_grad=True in one step: "
            "torch.tensor(values, dtype=torch.float32, requires_grad=True)."
        )
    if not _same(got, want):
        return f"{where} holds {_show(got)}, but it should hold {_show(want)}."
    return None


def _trainable_problem(fn, cases):
    for values in cases:
        got = call_answer(fn, (list(values),), f"trainable({values})", TRAINABLE_ERROR_HINTS)
        problem = _trainable_case_problem(values, got)
        if problem:
            return problem, ""
    return None, f"a float tensor that requires grad, with the right numbers, for all {_plural(_len(cases), 'list')}."


def check_trainable(fn, cases=None, must_pass=False):
    """Check exercise 4: trainable(values) is a float tensor of the values that requires grad.
    `cases` is a list of lists of numbers."""
    _run_check("trainable", must_pass, _trainable_problem, fn, cases or TRAINABLE_CASES)


expect_checks("make_tensors", "bills", "center_rows", "trainable")
