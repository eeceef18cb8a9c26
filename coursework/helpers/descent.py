"""Checks and pictures for notebook 06 (gradient descent).

The checks build their own data, weights and networks, and seed them themselves, so running a check
again starts from scratch. The gradient checks compare the derivatives you derive by hand with
autograd's; the one-step check compares your step with a step computed from the formulas of the
gradient (no autograd); the training check measures the loss your training reaches, and watches
whether gradients pile up between steps.
"""

import torch

from coursework.helpers.checks import (
    CheckFailed,
    Mistake,
    _enable_grad,
    _float,
    _float64,
    _isinstance,
    _len,
    _no_grad,
    _Tensor,
    _tensor,
    as_number,
    check_formula,
    check_value,
    close,
    constant_factor,
    expect_checks,
    pictures_shown,
    plain,
    run_answer,
    tagged,
    verdict,
)
from coursework.helpers.derivations import Derivation, Factor, catalogue

__all__ = [
    "check_dL_dw",
    "check_dL_db",
    "plot_line_fit",
    "plot_steps_on_parabola",
    "plot_decision_boundary",
    "check_gd_step",
    "check_best_learning_rate",
    "check_train",
]

expect_checks("dL_dw", "dL_db", "gd_step", "best_learning_rate", "train")

# ---- Pictures -------------------------------------------------------------------------------------


def _numbers(t):
    return t.detach().reshape(-1).tolist() if _isinstance(t, _Tensor) else list(t)


def plot_line_fit(x, y, w, b, losses, truth=None):
    """Two panels: the loss after every step (log scale), and the data with the line y = w·x + b
    (and the true line, when `truth` = (slope, intercept) is given)."""
    if not pictures_shown():
        return
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained")
    left.plot(range(1, _len(losses) + 1), [_float(v) for v in losses])
    left.set_yscale("log")
    left.set(xlabel="step", ylabel="loss (log scale)", title="loss curve")
    xs, ys = _numbers(x), _numbers(y)
    right.scatter(xs, ys, s=12, label="data")
    ends = [min(xs), max(xs)]
    right.plot(ends, [w * e + b for e in ends], color="C1", lw=2, label=f"fitted: y = {w:.2f}·x + {b:.2f}")
    if truth:
        right.plot(ends, [truth[0] * e + truth[1] for e in ends], "k--", lw=1,
                   label=f"truth: y = {truth[0]:g}·x + {truth[1]:g}")
    right.set(xlabel="x", ylabel="y", title="fitted line")
    right.legend(fontsize=8)
    plt.show()


def plot_steps_on_parabola(learning_rates, steps=6, start=1.0):
    """Gradient descent on L(θ) = θ², from θ = start, one panel per learning rate: where each
    step lands, and the loss along the way."""
    if not pictures_shown():
        return
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1, _len(learning_rates), figsize=(3.3 * _len(learning_rates), 3), sharey=True, layout="constrained"
    )
    axes = axes if _len(learning_rates) > 1 else [axes]
    grid = [-2 + 4 * i / 200 for i in range(201)]
    for ax, lr in zip(axes, learning_rates):
        thetas = [start]
        for _ in range(steps):
            thetas.append(thetas[-1] - lr * 2 * thetas[-1])  # θ ← θ − lr · dL/dθ, dL/dθ = 2θ
        ax.plot(grid, [t * t for t in grid], color="lightgray")
        shown = [t for t in thetas if abs(t) <= 2]
        ax.plot(shown, [t * t for t in shown], "o-", color="C3", ms=4)
        ax.annotate("start", (start, start * start), textcoords="offset points", xytext=(-10, 8), fontsize=8)
        ax.set(title=f"lr = {lr:g}", xlabel="θ", xlim=(-2, 2), ylim=(-0.1, 4))
    axes[0].set_ylabel("L(θ) = θ²")
    plt.show()


def plot_decision_boundary(model, X, y, title="", losses=None):
    """The points coloured by label, the region the model calls class 1 (score > 0) shaded, and the
    boundary between the regions; with `losses`, the loss curve beside it."""
    if not pictures_shown():
        return
    import matplotlib.pyplot as plt

    panels = 2 if losses is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(4.5 * panels + 0.5, 4), layout="constrained")
    axes = list(axes) if panels > 1 else [axes]
    if losses is not None:
        axes[0].plot(range(1, _len(losses) + 1), [_float(v) for v in losses])
        axes[0].set(xlabel="step", ylabel="loss", title="loss curve")
    ax = axes[-1]
    n = 150
    line = torch.linspace(-3, 3, n)
    gx, gy = torch.meshgrid(line, line, indexing="xy")
    with _no_grad():
        scores = model(torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)).reshape(n, n)
    ax.contourf(gx, gy, (scores > 0).float(), levels=[-0.5, 0.5, 1.5], colors=["#f6d3c4", "#c9ddf2"])
    ax.contour(gx, gy, scores, levels=[0.0], colors="black", linewidths=1)
    labels = y.detach().reshape(-1)
    for value, colour, name in [(0.0, "C3", "label 0"), (1.0, "C0", "label 1")]:
        chosen = labels == value
        ax.scatter(X[chosen, 0], X[chosen, 1], s=10, color=colour, label=name)
    ax.set(xlim=(-3, 3), ylim=(-3, 3), aspect="equal", title=title or "decision boundary",
           xlabel="first coordinate", ylabel="second coordinate")
    ax.legend(fontsize=8, loc="upper right")
    plt.show()


# ---- Exercise 1: the gradient of the loss, by hand ----------------------------------------------------


def notebook_line_data():
    """The notebook's 50 points near y = 2x + 1 (seeded as the notebook seeds them)."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        x = torch.linspace(-1, 1, 50)
        return x, 2 * x + 1 + 0.2 * torch.randn(50)


def line_loss_grads(w, b, x, y):
    """(∂L/∂w, ∂L/∂b) of L = mean((w·x + b − y)²), from autograd, in float64."""
    w, b = (_tensor(_float(v), dtype=_float64, requires_grad=True) for v in (w, b))
    with _enable_grad():
        loss = ((w * plain(x) + b - plain(y)) ** 2).mean()
        return [_float(g) for g in torch.autograd.grad(loss, (w, b))]


def line_quantities(w, b, x, y):
    x, y = plain(x), plain(y)
    r = w * x + b - y
    return {"w": w, "b": b, "xᵢ": x, "rᵢ": r, "1/n": 1 / _len(x)}


# L = (1/n) Σ sᵢ, sᵢ = rᵢ², rᵢ = w·xᵢ + b − yᵢ: w (and b) reach L through every rᵢ, one chain each.
DL_DW = Derivation("L", "w", [[Factor("L", "sᵢ", "1/n"), Factor("sᵢ", "rᵢ", 1, 2), Factor("rᵢ", "w", "xᵢ")]],
                   line_quantities)
DL_DB = Derivation("L", "b", [[Factor("L", "sᵢ", "1/n"), Factor("sᵢ", "rᵢ", 1, 2), Factor("rᵢ", "b", 1)]],
                   line_quantities)
DL_DW.other, DL_DB.other = DL_DB, DL_DW


def _probe_data():
    x = torch.linspace(-1, 1, 7, dtype=_float64)
    return x, 0.5 + x**2 - 0.3 * x


LINE_PROBES = [(w, b, *_probe_data()) for w, b in [(0.3, -0.7), (1.9, 0.4), (-1.2, 1.1)]]
CATALOGUES = {"dL_dw": catalogue(DL_DW, LINE_PROBES), "dL_db": catalogue(DL_DB, LINE_PROBES)}
# (w, b) where the visible checks compare, on the notebook's data.
WB_POINTS = [(0.0, 0.0), (0.5, -0.3), (2.5, 1.5), (-1.0, 2.0)]


def line_points(wb_points, datasets=None):
    """Every (w, b, x, y) of the (w, b) points and the datasets (the notebook's data by default)."""
    return [(w, b, x, y) for x, y in (datasets or [notebook_line_data()]) for w, b in wb_points]


def _gradient_check(name, fn, i, points, must_pass):
    points = points or line_points(WB_POINTS)
    check_formula(name, fn, lambda *p: line_loss_grads(*p)[i], points, [*CATALOGUES[name], constant_factor()],
                  must_pass, "autograd", by_hand=True, names=("w", "b", "x", "y"))


def check_dL_dw(fn, points=None, must_pass=False):
    """Your ∂L/∂w for L = mean((w·x + b − y)²), derived by hand, against autograd at every
    (w, b, x, y) point (by default: four (w, b) on the notebook's data)."""
    _gradient_check("dL_dw", fn, 0, points, must_pass)


def check_dL_db(fn, points=None, must_pass=False):
    """Your ∂L/∂b for L = mean((w·x + b − y)²), derived by hand, against autograd."""
    _gradient_check("dL_db", fn, 1, points, must_pass)


# ---- Calling your function -------------------------------------------------------------------------

# Errors PyTorch raises for the mistakes of this notebook: a piece of the message, and a hint.
ERROR_HINTS = [
    (
        "leaf Variable that requires grad is being used in an in-place operation",
        "PyTorch will not change a tracked leaf in place while it records the graph. "
        "Hint: do the update inside `with torch.no_grad():`.",
    ),
    (
        "'NoneType' object has no attribute",
        ".grad was None there: it is None before the first backward() and after zero_grad() (which sets it "
        "to None). Hint: zero with `.grad = None`, or only after backward() has run.",
    ),
    (
        "unsupported operand type(s) for *: 'float' and 'NoneType'",
        ".grad was None there: it is None before the first backward() and after zero_grad(). "
        "Hint: call backward() before you use the gradient, and zero it after the update.",
    ),
    (
        "does not require grad and does not have a grad_fn",
        "The loss was computed without tracking (inside torch.no_grad()?), so there is nothing to "
        "differentiate. Hint: compute the loss and call backward() outside no_grad; only the update goes inside.",
    ),
    (
        "backward through the graph a second time",
        "The graph of this loss was already used by a backward(). Hint: compute the loss afresh at every step.",
    ),
]


# ---- Exercise 1: one step of gradient descent ------------------------------------------------------

# (w, b, learning rate) to start from; the check makes two steps from each.
GD_CASES = [(0.5, -0.3, 0.1)]


def _line_data():
    """Eight points near the line y = 2x + 1 (no randomness: the same every time)."""
    x = torch.linspace(-1, 1, 8)
    return x, 2 * x + 1 + 0.3 * torch.sin(7 * x)


def _loss_and_grads(w, b, xs, ys):
    """L = mean((w·x + b − y)²) and its gradient (dL/dw, dL/db), from the formulas."""
    n = _len(xs)
    residuals = [w * x + b - y for x, y in zip(xs, ys)]
    loss = sum(r * r for r in residuals) / n
    return loss, sum(2 * r * x for r, x in zip(residuals, xs)) / n, sum(2 * r for r in residuals) / n


def _same(pair, other):
    return close(pair[0], other[0]) and close(pair[1], other[1])


def _first_step_problem(start, after, lr, n):
    """What went wrong in the first step from `start` = (w, b) to `after`, or None."""
    w0, b0 = start
    _, gw, gb = _loss_and_grads(w0, b0, *_DATA)
    right = (w0 - lr * gw, b0 - lr * gb)
    if _same(after, right):
        return None
    said = (f"after one step from w = {w0:g}, b = {b0:g} (lr = {lr:g}) you have w = {after[0]:.6g}, "
            f"b = {after[1]:.6g}, but one step of gradient descent gives w = {right[0]:.6g}, b = {right[1]:.6g}.")
    if _same(after, start):
        return (said + " w and b did not change. backward() only computes the gradients (into w.grad and "
                "b.grad); it updates nothing. And `w = w - ...` inside your function makes a NEW tensor named "
                "w there, leaving the caller's w as it was. Hint: change w itself, in place (-=), inside "
                "`with torch.no_grad():`.")
    if _same(after, (w0 + lr * gw, b0 + lr * gb)):
        return said + " You stepped uphill: the gradient points to where the loss grows. Hint: subtract it."
    if _same(after, (w0 - gw, b0 - gb)):
        return said + " The step is the whole gradient. Hint: multiply the gradient by the learning rate lr."
    if _same(after, (w0 - lr * n * gw, b0 - lr * n * gb)):
        return (said + f" Your step is {n} times too big: the loss is the MEAN of the squared errors, not "
                "their sum. Hint: use .mean().")
    if close(after[0], right[0]) and close(after[1], b0):
        return said + " w moved, but b did not. Hint: update b the same way."
    if close(after[1], right[1]) and close(after[0], w0):
        return said + " b moved, but w did not. Hint: update w the same way."
    return said


def _returned_loss_problem(result, start, after, shown):
    """What is wrong with the loss gd_step returned, or None."""
    if result is None:
        return f"{shown} returned None. Hint: return the loss, as a number: loss.item()."
    try:
        got = as_number(result, f"what {shown} returned")
    except CheckFailed as failure:
        return f"{failure} Hint: return the loss, as a number: loss.item()."
    before, _, _ = _loss_and_grads(*start, *_DATA)
    if close(got, before):
        return None
    if close(got, _loss_and_grads(*after, *_DATA)[0]):
        return (f"{shown} returned {got:.6g}, the loss AFTER the step; return the loss computed before the "
                f"update, {before:.6g}.")
    return f"{shown} returned {got:.6g}, but the loss before the step is {before:.6g}."


_DATA = tuple(_numbers(t) for t in _line_data())


def check_gd_step(fn, cases=GD_CASES, must_pass=False):
    """Two calls of your gd_step(w, b, x, y, lr) from each start, against steps computed from the
    formulas dL/dw = mean(2·r·x), dL/db = mean(2·r), r = w·x + b − y."""
    name = "gd_step"
    x, y = _line_data()
    n = _len(_DATA[0])
    for w0, b0, lr in cases:
        w = _tensor(_float(w0), requires_grad=True)
        b = _tensor(_float(b0), requires_grad=True)
        shown = f"gd_step(w, b, x, y, lr={lr:g}) from w = {w0:g}, b = {b0:g}"
        start = (_float(w0), _float(b0))
        ok, result = run_answer(name, fn, (w, b, x, y, lr), shown, must_pass, ERROR_HINTS)
        if not ok:
            return
        after = (_float(w.detach()), _float(b.detach()))
        problem = _first_step_problem(start, after, lr, n) or _returned_loss_problem(result, start, after, shown)
        if problem:
            verdict(name, False, problem, must_pass)
            return
        # A second step: it must use the gradient at the new point only.
        ok, _ = run_answer(name, fn, (w, b, x, y, lr), f"a second {shown}", must_pass, ERROR_HINTS)
        if not ok:
            return
        _, gw1, gb1 = _loss_and_grads(*after, *_DATA)
        _, gw0, gb0 = _loss_and_grads(*start, *_DATA)
        second = (_float(w.detach()), _float(b.detach()))
        right = (after[0] - lr * gw1, after[1] - lr * gb1)
        if _same(second, right):
            continue
        message = (f"the first step is right, but the second is not: it gives w = {second[0]:.6g}, "
                   f"b = {second[1]:.6g} instead of w = {right[0]:.6g}, b = {right[1]:.6g}.")
        if _same(second, (after[0] - lr * (gw0 + gw1), after[1] - lr * (gb0 + gb1))):
            message += " " + tagged("The second step used the sum of both steps' gradients: the first one was "
                                    "still in w.grad and b.grad, and backward() added to it. Hint: zero the "
                                    "gradients in every step (w.grad = None).", "accumulated-grad")
        verdict(name, False, message, must_pass)
        return
    verdict(name, True, f"your steps match gradient descent computed by hand ({_len(cases)} start(s), two steps "
            "each).", must_pass)


# ---- Exercise 2: the learning rate --------------------------------------------------------------------

LEARNING_RATES = [0.01, 0.1, 0.5, 1.5]


def check_best_learning_rate(fn, must_pass=False):
    """Your choice among LEARNING_RATES, against the one that gets lowest after 30 steps."""
    name = "best_learning_rate"
    ok, got = run_answer(name, fn, (), "best_learning_rate()", must_pass, ERROR_HINTS, by_hand=True)
    if not ok:
        return
    mistakes = [
        Mistake("1.5 is too big: each step overshoots the minimum and lands further away on the other "
                "side, so the loss grows at every step (it diverges), as on the parabola with lr = 1.05.",
                value=1.5),
        Mistake("0.01 is safe but far too small: after 30 steps the line has barely moved.", value=0.01),
        Mistake("0.1 converges, but slowly; a bigger step that does not overshoot gets further in 30 steps.",
                value=0.1),
    ]
    try:
        value = as_number(got)
    except CheckFailed as failure:
        verdict(name, False, str(failure), must_pass)
        return
    if not any(close(value, lr) for lr in LEARNING_RATES):
        verdict(name, False, f"you have {value:g}; choose one of {', '.join(f'{lr:g}' for lr in LEARNING_RATES)}.",
                must_pass)
        return
    check_value(name, value, 0.5, mistakes, must_pass, "the best of the four")


# ---- Exercise 3: a training loop ------------------------------------------------------------------------

TRAIN_STEPS, TRAIN_LR, LOSS_BOUND = 100, 1.0, 0.45
FLIPPED = 0.05  # the share of labels flipped: no boundary is right everywhere, so the loss has a floor


def circle_data(seed, n=200):
    """n points in the plane (standard normal), labelled 1 inside the unit circle and 0 outside,
    with about 5% of the labels flipped (noise, as in real data)."""
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 2, generator=generator)
    inside = (X.norm(dim=1) < 1.0).float()
    flipped = torch.rand(n, generator=generator) < FLIPPED
    return X, torch.where(flipped, 1 - inside, inside)


def tiny_net(seed):
    """The notebook's network (2 → 16 ReLU → 1), its weights drawn with the given seed."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))


def _watch_accumulation(model):
    """Hooks that count the backward() calls finding an old, non-zero gradient in a parameter."""
    found = [0]

    def watch(p):
        def hook(grad):
            if p.grad is not None and _float(p.grad.detach().abs().sum()) > 0:
                found[0] += 1

        return hook

    return found, [p.register_hook(watch(p)) for p in model.parameters()]


def _final_loss(model, X, y):
    with _no_grad():
        return _float(torch.nn.functional.binary_cross_entropy_with_logits(model(X).reshape(-1), y))


def _train_problem(name, fn, seed, must_pass):
    """Train a fresh network with your function: the final loss when all is well, what went wrong
    (a sentence), or None when the verdict was already shown."""
    X, y = circle_data(seed)
    model = tiny_net(seed)
    before = [p.detach().clone() for p in model.parameters()]
    start_loss = _final_loss(model, X, y)
    found, hooks = _watch_accumulation(model)
    shown = f"train(model, X, y, steps={TRAIN_STEPS}, lr={TRAIN_LR}) with seed {seed}"
    try:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            ok, losses = run_answer(name, fn, (model, X, y, TRAIN_STEPS, TRAIN_LR), shown, must_pass, ERROR_HINTS)
    finally:
        for hook in hooks:
            hook.remove()
    if not ok:
        return None
    if all(torch.equal(p.detach(), q) for p, q in zip(model.parameters(), before)):
        if all(p.grad is None or not p.grad.any() for p in model.parameters()):
            return (f"{shown}: the network's weights never changed, and its gradients are empty. Did "
                    "zero_grad() come between backward() and step()? It throws the gradients away before step() "
                    "can use them. Hint: zero_grad() first, then the loss, backward(), step().")
        return (f"{shown}: the network's weights never changed. backward() only computes the gradients; "
                "optimizer.step() is what changes the weights. Hint: call it after backward() in every step, "
                "and train the model you are given.")
    try:
        if _isinstance(losses, _Tensor):
            losses = losses.reshape(-1).tolist()
        values = [as_number(v, "each loss in the list") for v in losses]
    except (CheckFailed, TypeError):
        values = None
    if found[0]:
        rises = _len([1 for a, b in zip(values, values[1:]) if b > a]) if values else 0
        seen = (f" Your loss went up at {rises} of the {_len(values) - 1} steps from one to the next (look at its "
                "curve), where a loop that zeroes them lowers it at every step here." if rises else "")
        said = (f"{shown}: the gradients were never zeroed between steps, so each step used the sum of all the "
                f"gradients so far, not the gradient where the weights are now.{seen}")
        return tagged(f"{said} Hint: call optimizer.zero_grad() at the start of every step.", "accumulated-grad")
    if not values:
        return (f"{shown} returned {type(losses).__name__}, not the list of losses. Hint: append loss.item() "
                "to a list at every step, and return the list.")
    end = _final_loss(model, X, y)
    if end != end or end > start_loss:  # nan, or it grew
        return (f"{shown}: the loss went from {start_loss:.3f} to {end:.3g}: it grew instead of falling, so the "
                "steps overshoot. Hint: is your loss the MEAN over the points (BCEWithLogitsLoss's default), "
                "not their sum? Use the lr you are given.")
    if not end < LOSS_BOUND:
        return (f"{shown}: the loss went from {start_loss:.3f} to {end:.3f}, but it should end below "
                f"{LOSS_BOUND:g}. Hint: one full step per iteration: zero_grad(), loss, backward(), step(), "
                "with BCEWithLogitsLoss on model(X).squeeze(1) and y.")
    return end


def check_train(fn, seeds=(0,), must_pass=False):
    """Your train(model, X, y, steps, lr) on fresh data and networks (one per seed): the final
    loss must be below LOSS_BOUND, and the gradients zeroed at every step."""
    name = "train"
    ends = []
    for seed in seeds:
        outcome = _train_problem(name, fn, seed, must_pass)
        if outcome is None:
            return
        if _isinstance(outcome, str):
            verdict(name, False, outcome, must_pass)
            return
        ends.append(f"{outcome:.3f}")
    verdict(name, True, f"the final loss is below {LOSS_BOUND:g} for every network tried: {', '.join(ends)}.",
            must_pass)
