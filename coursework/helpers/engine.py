"""Checks for notebook 07: your own autograd engine, step by step against PyTorch.

Each check builds its own Values with your class, runs your code, and compares with what PyTorch
computes for the same operation, the same expression or the same training. When they differ it
looks for the cause: a rule of one operation (operations.py), then your topological order and
backward() (each rule is watched as it runs: was the output seeded, did a rule run twice, or before
the rules of the values made from it?), then your training loop (each known mistake is the same
loop in PyTorch, changed: gradients not reset, a step uphill, ...). A cause it knows is named with
its tag. `your_code()` lets a demonstration cell say what is missing instead of stopping 'Run all';
`watch_backward(z, a=a)` prints a.grad each time one of your rules changes it; `plot_losses` draws
training curves (not in the grader, where no picture is seen).
"""

import warnings
from contextlib import contextmanager

import torch

from coursework.helpers.checks import (
    NOT_ANSWERED,
    CheckFailed,
    _AutogradWatch,
    _callable,
    _float,
    _float64,
    _isinstance,
    _len,
    _tensor,
    autograd_grads,
    close,
    error_text,
    expect_checks,
    pictures_shown,
    tagged,
    verdict,
)
from coursework.helpers.operations import OPERATIONS, cases, rule_problem, value_of

__all__ = [
    "your_code",
    "watch_backward",
    "plot_losses",
    "check_mul",
    "check_power",
    "check_neg_and_sub",
    "check_tanh",
    "check_topological_order",
    "check_backward_example_1",
    "check_backward_example_2",
    "check_train_neuron",
]

expect_checks("mul", "power", "neg_and_sub", "tanh", "topological_order", "backward_example_1", "backward_example_2",
              "train_neuron")

# Where each of your functions is written, for the messages.
WHERE = {op.function: op.exercise for op in OPERATIONS.values()}
WHERE.update(topological_order="exercise 5", backward="exercise 6", train_neuron="exercise 7")


# ---- Running your code -----------------------------------------------------------------------------


def _raised_in(error):
    """The function of yours that raised `error`: the outermost name of the last frame (mul for
    the rule inside mul)."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return None
    code = tb.tb_frame.f_code
    return getattr(code, "co_qualname", code.co_name).split(".")[0]


def _part(error):
    name = _raised_in(error)
    return f"your `{name}` ({WHERE[name]})" if name in WHERE else "a function of yours"


def _not_answered(error, own):
    """What to say when NotImplementedError came from your function `own`, or from one it needs."""
    if _raised_in(error) == own or _raised_in(error) not in WHERE:
        return NOT_ANSWERED
    return (f"not answered yet: this check needs {_part(error)}, which still raises NotImplementedError. "
            "Write it first, and run its check.")


def _uses_autograd(shown, route):
    return tagged(f"{shown} uses PyTorch's autograd: {route}. Here your own engine computes every gradient: use your "
                  "Values, their rules and your backward(), not PyTorch's.", "used-autograd")


def run(step, shown, own):
    """What step() returns, run as your code (`own`: the function of yours being checked); CheckFailed
    when it is not written yet, fails, or asks PyTorch's autograd. A warning is shown on stdout."""
    watch = _AutogradWatch()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with watch:
                result = step()
        except NotImplementedError as error:
            message = _not_answered(error, own)
        except CheckFailed as failure:
            message = str(failure)
        except Exception as error:  # your code failed: say how, never crash the check
            message = _uses_autograd(shown, watch.route) if watch.route else error_text(shown, error)
        else:
            message = _uses_autograd(shown, watch.route) if watch.route else None
    for w in caught:
        print(f"⚠️  your code warned: {w.category.__name__}: {w.message}")
    if message:
        raise CheckFailed(message)
    return result


def _runner(own):
    return lambda step, shown: run(step, shown, own)


def _check(name, must_pass, body):
    """Show the verdict of check `name`: body() returns what a pass says, or raises CheckFailed."""
    try:
        ok, message = True, body()
    except CheckFailed as failure:
        ok, message = False, str(failure)
    except Exception as error:  # your objects did what no check foresaw: say what, never crash
        ok, message = False, f"the check could not use your code: {type(error).__name__}: {error}"
    verdict(name, ok, message, must_pass)


def _functions(**given):
    """CheckFailed unless each given function (and the class Value) can be called."""
    for name, fn in given.items():
        if not _callable(fn):
            what = "your class Value" if name == "Value" else f"a function (def {name}(...): ...)"
            raise CheckFailed(f"`{name}` should be {what}, not {type(fn).__name__}.")


@contextmanager
def your_code():
    """For a cell that runs your engine: when a part of it is not written yet, or fails, say so and
    go on (a 'Run all' does not stop here)."""
    try:
        yield
    except NotImplementedError as error:
        print(f"⏳ This cell needs {_part(error)}, which is not written yet. Come back once its check passes.")
    except Exception as error:  # show what failed, as a check would
        where = _raised_in(error)
        print(f"❌ Your code failed here{f' (in {where})' if where else ''}: {type(error).__name__}: {error}")


# ---- The operations (exercises 1 to 4) ----------------------------------------------------------------

# (numbers of the arguments, [n,] out.grad, what the parents' .grad held); a * a is added for two-Value
# operations. They tell every known mistake apart (tests/test_catalogue.py).
CASES = {
    "+": [(1.5, -2.0, 0.5, 0.25)],
    "*": [(2.0, -3.0, 1.5, 0.0), (-1.5, 4.0, 0.5, 0.0), (3.0, 0.5, 2.0, 0.25)],
    "**": [(3.0, 3, 0.5, 0.0), (1.5, 2, 2.0, 0.0), (4.0, 0.5, 1.0, 0.25), (-2.0, 3, 1.5, 0.0)],
    "neg": [(2.0, 1.5, 0.0), (-0.5, 3.0, 0.25)],
    "-": [(2.0, 5.0, 1.5, 0.0), (-1.0, 0.5, 2.0, 0.25)],
    "tanh": [(0.5, 1.5, 0.0), (-1.2, 2.0, 0.0), (2.0, 0.5, 0.25)],
}


def _rule_check(symbol, fn, Value, raw):
    """What a pass says, or CheckFailed: your function's rule against PyTorch in every case."""
    operation = OPERATIONS[symbol]
    _functions(**{operation.function: fn, "Value": Value})
    tried = cases(operation, raw)
    problem = rule_problem(operation, lambda parents, n: operation.apply(fn, parents, n), tried, Value,
                           _runner(operation.function))
    if problem:
        raise CheckFailed(problem)
    return _len(tried)


def check_mul(mul, Value, cases=CASES["*"], must_pass=False):
    """Your mul(a, b): the grads its rule leaves in a and b, against PyTorch's, in every case (and a * a)."""
    _check("mul", must_pass, lambda: f"your rule gives PyTorch's gradients in all "
           f"{_rule_check('*', mul, Value, cases)} cases, and adds to what .grad already held.")


def check_power(power, Value, cases=CASES["**"], must_pass=False):
    """Your power(a, n): the grad its rule leaves in a, against PyTorch's, in every case."""
    _check("power", must_pass, lambda: f"your rule gives PyTorch's gradient in all "
           f"{_rule_check('**', power, Value, cases)} cases, and adds to what .grad already held.")


def check_neg_and_sub(neg, sub, Value, neg_cases=CASES["neg"], sub_cases=CASES["-"], must_pass=False):
    """Your neg(a) and sub(a, b), against PyTorch's, in every case (and a - a)."""

    def body():
        n = _rule_check("neg", neg, Value, neg_cases) + _rule_check("-", sub, Value, sub_cases)
        return f"both rules give PyTorch's gradients in all {n} cases, and add to what .grad already held."

    _check("neg_and_sub", must_pass, body)


def check_tanh(tanh, Value, cases=CASES["tanh"], must_pass=False):
    """Your tanh(a): the grad its rule leaves in a, against PyTorch's, in every case."""
    _check("tanh", must_pass, lambda: f"your rule gives PyTorch's gradient in all "
           f"{_rule_check('tanh', tanh, Value, cases)} cases, and adds to what .grad already held.")


def _operation_fault(symbols, Value, own):
    """What is wrong with the first of these operations whose rule is wrong (through your Value's
    operators), or None."""
    for symbol in symbols:
        operation = OPERATIONS[symbol]
        problem = rule_problem(operation, operation.operator, cases(operation, CASES[symbol]), Value, _runner(own))
        if problem:
            return f"The cause is your {operation.function} ({operation.exercise}): {problem}"
    return None


# ---- Graphs, on your Values and on tensors alike ------------------------------------------------------


# Each graph puts the values the messages name into `named` (when given one).


def example_1(x, named=None):
    """Example 1 (notebook 02): y = x², z = 2y + 3."""
    y = x**2
    (named if named is not None else {}).update(y=y)
    return 2 * y + 3


def example_2(a, b, named=None):
    """Example 2 (notebook 04): two paths from a, and from b, to z."""
    x = 2 * a + 3 * b
    y = 5 * a**2 + 3 * b**3
    (named if named is not None else {}).update(x=x, y=y)
    return 2 * x + 3 * y


def used_twice(a, b, named=None):
    """u = a·b, used twice at two depths: z = u·(u + 1). Its rule must wait for both shares."""
    u = a * b
    (named if named is not None else {}).update(u=u)
    return u * (u + 1)


def neuron(w, b, named=None):
    """A neuron on one point, as in exercise 7: (tanh(2w + b) − 0.5)²."""
    out = (w * 2.0 + b).tanh()
    (named if named is not None else {}).update(out=out)
    return (out - 0.5) ** 2


# name: (function, names of its inputs, what the messages call it, the operations it uses)
GRAPHS = {
    "example_1": (example_1, ["x"], "example 1 (z = 2x² + 3)", ["+", "*", "**"]),
    "example_2": (example_2, ["a", "b"], "example 2", ["+", "*", "**"]),
    "used_twice": (used_twice, ["a", "b"], "a value used twice (u = a·b, z = u·(u + 1))", ["+", "*"]),
    "neuron": (neuron, ["w", "b"], "a neuron ((tanh(2w + b) − 0.5)²)", ["+", "*", "-", "**", "tanh"]),
}


def below(output):
    """Every Value that output was computed from, output included, each once."""
    found, seen, todo = [], set(), [output]
    while todo:
        v = todo.pop()
        if id(v) not in seen:
            seen.add(id(v))
            found.append(v)
            todo.extend(v._parents)
    return found


def formula(v, names, depth=3):
    """A Value as a short formula of the values you named: 2 * a, a**2, (2 * a) + (3 * b)."""
    if id(v) in names:
        return names[id(v)]
    if not v._parents:
        return f"{v.data:g}"
    if depth == 0:
        return "…"
    parts = [formula(p, names, depth - 1) for p in v._parents]

    def atom(text):
        return text if " " not in text else f"({text})"

    op = v._op
    if op.startswith("**"):
        return f"{atom(parts[0])}**{op[2:]}"
    if op == "neg":
        return f"-{atom(parts[0])}"
    if _len(parts) == 2:
        return f"{atom(parts[0])} {op} {atom(parts[1])}"
    return f"{op}({', '.join(parts)})"


def describe(v, names):
    return f"`{formula(v, names)}`"


class Trace:
    """Your graph below `output`, each rule wrapped to note, when it runs, the gradient its value holds."""

    def __init__(self, output, names):
        self.output, self.names = output, names
        self.values = below(output)
        self.made = [v for v in self.values if v._parents]  # the values made by an operation
        self.calls = []  # (value, its .grad when its rule ran), in order
        for v in self.values:
            self._wrap(v)

    def _wrap(self, v):
        rule = v._backward

        def noted():
            self.calls.append((v, v.grad))
            return rule()

        v._backward = noted

    def describe(self, v):
        return describe(v, self.names)

    def first_run(self):
        """id of each value whose rule ran -> the position of its first run."""
        first = {}
        for i, (v, _) in enumerate(self.calls):
            first.setdefault(id(v), i)
        return first


def _unseeded(trace):
    seed = next((grad for v, grad in trace.calls if v is trace.output), trace.output.grad)
    return "When the output's rule ran, output.grad was 0." if seed == 0 else None


def _ran_twice(trace):
    for v in trace.made:
        n = sum(u is v for u, _ in trace.calls)
        if n > 1:
            return f"The rule of {trace.describe(v)} ran {n} times."
    return None


def _out_of_order(trace):
    first = trace.first_run()
    for user in trace.made:
        for parent in user._parents:
            if parent._parents and id(parent) in first and id(user) in first and first[id(parent)] < first[id(user)]:
                return (f"The rule of {trace.describe(parent)} ran before the rule of {trace.describe(user)}, a value "
                        "made from it.")
    return None


def _skipped(trace):
    first = trace.first_run()
    never = [v for v in trace.made if id(v) not in first]
    if never:
        return (f"The rules of {_len(never)} of the {_len(trace.made)} values made by an operation never ran (such as "
                f"{trace.describe(never[0])}).")
    return None


class EngineBug:
    """A known mistake of backward(), found by watching the rules run: found(trace) says where, or None."""

    def __init__(self, tag, says, found):
        self.tag, self.says, self.found = tag, says, found

    def describe(self, where):
        return tagged(f"{where} {self.says}", self.tag)


ENGINE_BUGS = [
    EngineBug("unseeded-output", "Your backward() did not seed the output: d(output)/d(output) is 1, and with 0 every "
              "share sent back is 0. Hint: set output.grad = 1.0 before running the rules.", _unseeded),
    EngineBug("extra-path", "A rule that runs twice sends its shares twice: the paths through its value count twice. "
              "Hint: list each value once in topological_order (keep a set of the values visited).", _ran_twice),
    EngineBug("wrong-order", "It passed its gradient on before every share had reached it. Hint: run the rules from "
              "the output back to the inputs: the topological order, reversed.", _out_of_order),
    EngineBug("chain-stopped-early", "Their shares never went further back: the chain stops there. Hint: run the rule "
              "of every value of the topological order.", _skipped),
]


def _engine_bug(trace):
    for bug in ENGINE_BUGS:
        where = bug.found(trace)
        if where:
            return bug.describe(where)
    return None


def _at(point, names):
    return ", ".join(f"{n} = {_float(p):g}" for n, p in zip(names, point))


def _grads_text(grads, names):
    return ", ".join(f"{n}.grad = {g:g}" for n, g in zip(names, grads))


def build(graph, point, Value):
    """(the output of `graph` built from Values of your class at `point`, its inputs, the names of
    its values: the inputs, the intermediate values of the lessons, z)."""
    f, names, _, _ = GRAPHS[graph]
    inputs = [Value(_float(p)) for p in point]
    named = {}
    out = f(*inputs, named=named)
    return out, inputs, {id(v): n for n, v in [*zip(names, inputs), *named.items(), ("z", out)]}


def _your_engine(graph, point, Value, backward):
    """(the grads your engine leaves in the inputs of `graph` at `point`, the trace of its rules)."""
    names = GRAPHS[graph][1]
    out, inputs, named = build(graph, point, Value)
    trace = Trace(out, named)
    backward(out)
    return [value_of(v.grad, f"{n}.grad") for v, n in zip(inputs, names)], trace


def _graph_problem(graph, point, Value, backward, own):
    """None when your engine gives PyTorch's grads on `graph` at `point`; otherwise what differs, and
    its cause when a known one is found."""
    f, names, title, symbols = GRAPHS[graph]
    expected = autograd_grads(f, *point)  # PyTorch first: not watched
    got, trace = run(lambda: _your_engine(graph, point, Value, backward), f"backward() on {title}", own)
    if all(close(g, e, 1e-9) for g, e in zip(got, expected)):
        return None
    message = (f"{title} at {_at(point, names)}: your engine leaves {_grads_text(got, names)}, but PyTorch's "
               f"{_grads_text(expected, names)}.")
    cause = _operation_fault(symbols, Value, own) or _engine_bug(trace)
    return f"{message} {cause}" if cause else (f"{message} Hint: go through backward() again: seed the output, then "
                                               "run every rule, from the output back to the inputs.")


def _backward_check(name, backward, Value, graphs, points, must_pass, says):
    def body():
        _functions(backward=backward, Value=Value)
        for point in points:
            point = point if _isinstance(point, (tuple, list)) else (point,)
            for graph in graphs:
                problem = _graph_problem(graph, point, Value, backward, "backward")
                if problem:
                    raise CheckFailed(problem)
        return says.format(n=_len(points))

    _check(name, must_pass, body)


EXAMPLE_1_POINTS = [3.5, -2.0, 0.0, 1.5, 10.0]
EXAMPLE_2_POINTS = [(2.0, 1.0), (-1.0, 0.5), (0.0, -2.0), (1.5, 3.0)]


def check_backward_example_1(backward, Value, points=EXAMPLE_1_POINTS, graphs=("example_1",), must_pass=False):
    """Example 1 on your engine: x.grad after your backward(z), against PyTorch's, at every point."""
    _backward_check("backward_example_1", backward, Value, graphs, points, must_pass,
                    "x.grad is PyTorch's at all {n} points: dz/dx = 4x, worked out by your engine.")


def check_backward_example_2(backward, Value, points=EXAMPLE_2_POINTS, graphs=("example_2", "used_twice"),
                             must_pass=False):
    """Example 2, and a value used twice at two depths, on your engine: a.grad and b.grad after your
    backward(z), against PyTorch's, at every point."""
    _backward_check("backward_example_2", backward, Value, graphs, points, must_pass,
                    "a.grad and b.grad are PyTorch's at all {n} points, for example 2 and for a value used twice: "
                    "your engine adds the paths.")


def _backward_fault(Value, own):
    """What is wrong with your backward() (through Value.backward) on a value used twice, or None."""
    problem = _graph_problem("used_twice", (2.0, -1.5), Value, lambda out: out.backward(), own)
    return f"The cause is your backward() (exercise 6): {problem}" if problem else None


# ---- The topological order (exercise 5) -----------------------------------------------------------------

ORDER_GRAPHS = [("example_1", (3.5,)), ("example_2", (2.0, 1.0)), ("used_twice", (2.0, -1.5))]


def _order_problem(order, out, names, title, Value):
    """What is wrong with your order of the graph below `out` (its inputs named by `names`), or None."""
    try:
        order = list(order)
    except TypeError:
        return f"topological_order should return a list of Values, not {type(order).__name__}."
    if not all(_isinstance(v, Value) for v in order):
        other = next(v for v in order if not _isinstance(v, Value))
        return (f"your list holds {type(other).__name__} ({other!r}), not only Values. Hint: append the Value "
                "objects themselves, not their numbers.")
    values = below(out)
    ids = {id(v) for v in values}
    seen, position = set(), {}
    for i, v in enumerate(order):
        if id(v) in seen:
            return tagged(f"for {title}, {describe(v, names)} is twice in your list: backward() would run its rule "
                          "twice, and count the paths through it twice. Hint: keep a set of the values visited, and "
                          "visit each once.", "extra-path")
        seen.add(id(v))
        position[id(v)] = i
    if seen - ids:
        return f"for {title}, your list holds values that z was not computed from. Hint: start from output only."
    missing = [v for v in values if id(v) not in seen]
    if missing:
        return (f"for {title}, your list leaves out {_len(missing)} of the {_len(values)} values, such as "
                f"{describe(missing[0], names)}. Hint: visit every parent of every value, down to the values you made "
                "(and the plain numbers of the formula).")

    def breaks(pos):
        return next(((v, p) for v in values for p in v._parents if pos[id(p)] > pos[id(v)]), None)

    broken = breaks(position)
    if broken is None:
        return None
    if breaks({k: -i for k, i in position.items()}) is None:
        return (f"for {title}, your list runs from the output to the values you made; this exercise asks for the "
                "other direction: each value after its parents, the output last.")
    v, p = broken
    return tagged(f"for {title}, {describe(v, names)} comes before {describe(p, names)}, one of the values it was "
                  "made from. Hint: add a value to the list only after all its parents (visit the parents first, then "
                  "append).", "wrong-order")


def check_topological_order(topological_order, Value, graphs=ORDER_GRAPHS, must_pass=False):
    """Your topological_order(output) on graphs of your Values: each value once, after its parents."""

    def body():
        _functions(topological_order=topological_order, Value=Value)
        for graph, point in graphs:
            title = GRAPHS[graph][2]

            def ordered(graph=graph, point=point):
                out, _, named = build(graph, point, Value)
                return out, named, topological_order(out)

            out, named, order = run(ordered, f"topological_order(z) for {title}", "topological_order")
            problem = _order_problem(order, out, named, title, Value)
            if problem:
                raise CheckFailed(problem)
        return f"each value once, after the values it was made from, in all {_len(graphs)} graphs."

    _check("topological_order", must_pass, body)


# ---- Training a neuron (exercise 7) ---------------------------------------------------------------------

NEURON_XS = [-2.0, -1.0, 0.5, 2.0]
NEURON_YS = [-0.9, -0.7, 0.3, 0.8]
# (w, b to start from, xs, ys, steps, learning rate)
TRAIN_CASES = [(-0.3, 0.5, NEURON_XS, NEURON_YS, 30, 0.05)]
SAME = 1e-9  # your engine and PyTorch (float64 both) agree to this


def torch_training(w0, b0, xs, ys, steps, lr, reset="wb", sign=-1.0, with_lr=True, mean=False):
    """The neuron tanh(w·x + b) trained in PyTorch (float64, as Python's floats): (w, b, the loss of each
    step). The known mistakes change it: `reset` names the gradients reset before each backward()."""
    w = _tensor(_float(w0), dtype=_float64, requires_grad=True)
    b = _tensor(_float(b0), dtype=_float64, requires_grad=True)
    x, y = _tensor(xs, dtype=_float64), _tensor(ys, dtype=_float64)
    losses = []
    with torch.enable_grad():
        for _ in range(steps):
            for name, p in (("w", w), ("b", b)):
                if name in reset:
                    p.grad = None
            errors = (torch.tanh(w * x + b) - y) ** 2
            loss = errors.mean() if mean else errors.sum()
            loss.backward()
            with torch.no_grad():
                w += sign * (lr if with_lr else 1.0) * w.grad
                b += sign * (lr if with_lr else 1.0) * b.grad
            losses.append(_float(loss.detach()))
    return _float(w.detach()), _float(b.detach()), losses


class TrainingMistake:
    """A known mistake of the training loop: the PyTorch loop changed by `settings` gives your w and b."""

    def __init__(self, tag, says, **settings):
        self.tag, self.says, self.settings = tag, says, settings

    def describe(self):
        return self.says if self.tag is None else tagged(self.says, self.tag)


NOT_RESET = ("Your rules add into .grad (+=), and .grad is not reset between steps, so each step used the sum of all "
             "the gradients so far, not the gradient where the parameters are now (as PyTorch does without "
             "zero_grad()). Hint: set w.grad and b.grad to 0.0 at the start of every step, before backward().")
TRAINING_MISTAKES = [
    TrainingMistake("grad-not-reset", f"Neither w.grad nor b.grad is reset. {NOT_RESET}", reset=""),
    TrainingMistake("grad-not-reset", f"b.grad is not reset (w.grad is). {NOT_RESET}", reset="w"),
    TrainingMistake("grad-not-reset", f"w.grad is not reset (b.grad is). {NOT_RESET}", reset="b"),
    TrainingMistake(None, "You stepped uphill: the gradient points to where the loss grows. Hint: subtract lr × grad.",
                    sign=1.0),
    TrainingMistake(None, "Each step is the whole gradient. Hint: multiply it by the learning rate lr.", with_lr=False),
    TrainingMistake(None, "Your loss is the mean of the squared errors; this exercise uses their sum (the total).",
                    mean=True),
]
UNCHANGED = (" w and b did not change. backward() only fills .grad; the step changes the numbers: w.data -= lr * "
             "w.grad. (`w = w - ...` would make a new Value, leaving the caller's w as it was.) And reset .grad "
             "before backward(), not between backward() and the step.")


def _your_training(fn, Value, case):
    w0, b0, xs, ys, steps, lr = case
    w, b = Value(w0), Value(b0)
    losses = fn(w, b, list(xs), list(ys), steps, lr)
    if losses is not None and not _isinstance(losses, (str, bytes)):
        try:
            losses = [loss.data if _isinstance(loss, Value) else loss for loss in losses]
        except TypeError:
            pass
    return value_of(w.data, "w.data"), value_of(b.data, "b.data"), losses


def _losses_problem(losses, expected, shown):
    if losses is None:
        return f"{shown} returned None. Hint: return the list of the losses, one number (loss.data) per step."
    try:
        values = [value_of(v, "each loss") for v in losses]
    except (CheckFailed, TypeError):
        return f"{shown} returned {type(losses).__name__}, not a list of numbers. Hint: append loss.data at every step."
    if _len(values) != _len(expected):
        return f"{shown} returned {_len(values)} losses, one per step would be {_len(expected)}."
    wrong = next((i for i, (v, e) in enumerate(zip(values, expected)) if not close(v, e, SAME)), None)
    if wrong is not None:
        return (f"{shown}: w and b are right, but your loss at step {wrong + 1} is {values[wrong]:.6g}, and PyTorch's "
                f"{expected[wrong]:.6g}. Hint: record the loss of each step, computed before its update.")
    return None


def _engine_fault(Value):
    """What is wrong with the parts of your engine that the training uses, or None."""
    return (_operation_fault(["+", "*", "-", "**", "tanh"], Value, "train_neuron")
            or _backward_fault(Value, "train_neuron"))


def _training_problem(fn, Value, case):
    w0, b0, xs, ys, steps, lr = case
    shown = f"train_neuron(w, b, xs, ys, steps={steps}, lr={lr:g}) from w = {w0:g}, b = {b0:g}"
    rw, rb, right_losses = torch_training(*case)
    try:
        w, b, losses = run(lambda: _your_training(fn, Value, case), shown, "train_neuron")
    except CheckFailed as failure:
        failed = str(failure)
    else:
        failed = None
    if failed:  # an error of your training may come from your engine: look there
        fault = None if failed.startswith("not answered yet") else _engine_fault(Value)
        raise CheckFailed(f"{failed} {fault}" if fault else failed)
    if close(w, rw, SAME) and close(b, rb, SAME):
        return _losses_problem(losses, right_losses, shown)
    said = f"{shown}: your engine ends at w = {w:.6g}, b = {b:.6g}, PyTorch at w = {rw:.6g}, b = {rb:.6g}."
    for mistake in TRAINING_MISTAKES:
        mw, mb, _ = torch_training(*case, **mistake.settings)
        if close(w, mw, SAME) and close(b, mb, SAME):
            return f"{said} {mistake.describe()}"
    fault = _engine_fault(Value)
    if fault:
        return f"{said} {fault}"
    if close(w, w0) and close(b, b0):
        return said + UNCHANGED
    return (f"{said} Hint: one step is: the loss on all the points, reset w.grad and b.grad, backward(), then "
            "w.data -= lr * w.grad and the same for b.")


def check_train_neuron(train_neuron, Value, cases=TRAIN_CASES, must_pass=False):
    """Your train_neuron(w, b, xs, ys, steps, lr) with your engine, against the same training in PyTorch:
    the same w and b at the end, and the same loss at every step."""

    def body():
        _functions(train_neuron=train_neuron, Value=Value)
        for case in cases:
            problem = _training_problem(train_neuron, Value, case)
            if problem:
                raise CheckFailed(problem)
        w, b, _ = torch_training(*cases[0])
        more = f" (and from the other {_len(cases) - 1} starts too)" if _len(cases) > 1 else ""
        return (f"your engine and PyTorch end at the same w = {w:.6f}, b = {b:.6f} after {cases[0][4]} steps, with the "
                f"same loss at every step{more}.")

    _check("train_neuron", must_pass, body)


# ---- For the demonstrations ----------------------------------------------------------------------------


def watch_backward(output, **named):
    """Run output.backward() on your engine and print, each time a rule changes the .grad of a value
    you name (a=a), which rule it was and what .grad went from and to."""
    names = {id(v): n for n, v in named.items()}
    values = below(output)
    rules = [v._backward for v in values]

    def watched(v, rule):
        def noted():
            before = [u.grad for u in named.values()]
            rule()
            for (n, u), old in zip(named.items(), before):
                if u.grad != old:
                    print(f"the rule of {formula(v, names)} changes {n}.grad from {old:g} to {u.grad:g}")

        return noted

    for v, rule in zip(values, rules):
        v._backward = watched(v, rule)
    try:
        output.backward()
    finally:
        for v, rule in zip(values, rules):
            v._backward = rule


def plot_losses(title, curves, coincide=False, neuron=None):
    """The loss at every step of each training of `curves` ({label: losses}), on a log scale. With
    `coincide`, the first curve as dots and the others as lines through them; with `neuron` =
    (w, b, xs, ys), a second panel: the points and the trained neuron tanh(w·x + b)."""
    if not pictures_shown():
        return
    import math

    import matplotlib.pyplot as plt

    panels = 2 if neuron else 1
    fig, axes = plt.subplots(1, panels, figsize=(4.8 * panels + 0.6, 3.4), layout="constrained", squeeze=False)
    left = axes[0][0]
    for i, (label, losses) in enumerate(curves.items()):
        style = {"marker": "o", "linestyle": "none", "ms": 7} if coincide and i == 0 else {"marker": "."}
        left.plot(range(1, _len(losses) + 1), losses, label=label, **style)
    left.set_yscale("log")
    left.set(xlabel="step", ylabel="loss L (log scale)", title=title)
    left.legend(fontsize=8)
    if neuron:
        w, b, xs, ys = neuron
        right = axes[0][1]
        grid = [min(xs) - 1 + i * (max(xs) - min(xs) + 2) / 100 for i in range(101)]
        right.plot(grid, [math.tanh(w * g + b) for g in grid], label=f"tanh({w:.2f}·x + {b:.2f})")
        right.scatter(xs, ys, color="black", zorder=3, label="the points")
        right.set(xlabel="x", ylabel="y", title="the trained neuron")
        right.legend(fontsize=8)
    plt.show()
