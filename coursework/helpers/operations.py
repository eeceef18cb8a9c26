"""The operations of your engine (notebook 07) as the checks know them, and their known mistakes.

Each operation makes a new Value `out` from its parents and sets out's rule, `_backward`, which
sends each parent its share of out.grad: (the local derivative ∂out/∂parent) × out.grad, ADDED to
what the parent's .grad already holds. A check runs your rule on cases: parents with numbers, the
gradient that reached out, and what the parents' .grad held before (another use's share), once
with the same Value as both parents (a * a). PyTorch runs the same case: its leaves add up too.

The known mistakes of a rule are generated from its local derivatives, like the catalogues of
derivations.py: the share assigned (=) instead of added (+=), the local derivative not multiplied
by out.grad, the two parents' shares swapped; then each operation's own slips (the power rule, a
sign, a where tanh(a) belongs).
"""

import math

import torch

from coursework.helpers.checks import (
    CheckFailed,
    _float,
    _float64,
    _isinstance,
    _len,
    _Tensor,
    _tensor,
    as_number,
    close,
    tagged,
)

__all__ = []

OVERWRITTEN = (
    "Your rule replaces what a parent's .grad already held (=) instead of adding to it (+=): a value used "
    "twice, by two operations or twice by one (a * a), must keep the share of each use. Hint: add with +=, as add does."
)
NO_OUT_GRAD = (
    "Your rule sends the local derivative alone, not multiplied by out.grad (the gradient that reached out): "
    "the chain rule stops there. Hint: share = (∂out/∂parent) × out.grad."
)
SWAPPED = "Your rule sends each parent the share of the other."
POWER_RULE = "Hint: the power rule: the derivative of aⁿ is n·aⁿ⁻¹ (bring the power down, then lower it by one)."


class Case:
    """One run of a rule: the parents' numbers (one Value used twice when `twice`), the operation's
    own number (the n of a ** n), the gradient that reached out, and what each parent's .grad held."""

    def __init__(self, xs, param, out_grad, held, twice=False):
        self.xs, self.param, self.out_grad, self.held, self.twice = xs, param, out_grad, held, twice

    def positions(self):
        """For each argument of the operation, which of the distinct parents it is."""
        return [0] * _len(self.xs) if self.twice else list(range(_len(self.xs)))


class Mistake:
    """A known wrong rule: `local` gives the local derivatives it uses (None: the right ones),
    `assign` the arguments whose share overwrites the parent's .grad (= instead of +=),
    `times_out_grad` whether it multiplies by out.grad."""

    def __init__(self, says, tag, local=None, assign=(), times_out_grad=True):
        self.says, self.tag = says, tag
        self.local, self.assign, self.times_out_grad = local, assign, times_out_grad

    def describe(self):
        return self.says if self.tag is None else tagged(self.says, self.tag)


class Operation:
    """An operation: the function you complete (`function`, in `exercise`), its symbol in Python, how
    many Values it takes, PyTorch's version, its local derivatives (one per argument, from the numbers
    of the arguments and the operation's own number), its own slips (tag, says, wrong local
    derivatives), and the derivative in words for the messages."""

    def __init__(self, function, exercise, symbol, arity, torch_fn, local, derivative, slips=(), param=None):
        self.function, self.exercise, self.symbol, self.arity = function, exercise, symbol, arity
        self.torch_fn, self.local, self.derivative, self.slips, self.param = torch_fn, local, derivative, slips, param

    def apply(self, fn, parents, param):
        """Your function on the parents: fn(a, b), fn(a), or fn(a, n)."""
        return fn(parents[0], param) if self.param else fn(*parents)

    def operator(self, parents, param):
        """The operation through your Value's operators (a * b, a ** n, -a, a.tanh(), ...)."""
        a = parents[0]
        if self.symbol == "tanh":
            return a.tanh()
        if self.symbol == "neg":
            return -a
        if self.symbol == "**":
            return a**param
        b = parents[1]
        return {"+": lambda: a + b, "*": lambda: a * b, "-": lambda: a - b}[self.symbol]()

    def call_text(self, case):
        """How the messages write a case: mul(a, b) with a = 2, b = -3 and out.grad = 1."""
        names = ["a", "b"][: self.arity]
        if case.twice:
            args, values = ", ".join(["a"] * self.arity), f"a = {case.xs[0]:g}"
        else:
            args = ", ".join(names + ([self.param] if self.param else []))
            values = ", ".join(f"{n} = {x:g}" for n, x in zip(names, case.xs))
        if self.param:
            values += f", {self.param} = {case.param:g}"
        text = f"{self.function}({args}) with {values} and out.grad = {case.out_grad:g}"
        if case.held:
            held = "a.grad" if case.twice or self.arity == 1 else "a.grad and b.grad"
            text += f", {held} holding {case.held:g} already (another use's share)"
        return text

    def catalogue(self):
        """Its known mistakes, generated from its local derivatives, then its own slips."""
        every = tuple(range(self.arity))
        some = [(i,) for i in every] if self.arity > 1 else []  # one = of two (a = ..., b += ...)
        table = [Mistake(OVERWRITTEN, "overwritten-grad", assign=assign) for assign in [every, *some]]
        table.append(Mistake(NO_OUT_GRAD, "chain-stopped-early", times_out_grad=False))
        if self.arity == 2:
            table.append(Mistake(f"{SWAPPED} Hint: {self.derivative}.", "swapped-variable",
                                 local=lambda xs, p: self.local(xs, p)[::-1]))
        table += [Mistake(says, tag, local=local) for tag, says, local in self.slips]
        return table

    def simulated(self, mistake, case):
        """The parents' .grad after the rule of `mistake` runs on the case."""
        grads = [case.held] * (1 if case.twice else _len(case.xs))
        local = (mistake.local or self.local)(case.xs, case.param)
        for argument, (position, derivative) in enumerate(zip(case.positions(), local)):
            share = derivative * case.out_grad if mistake.times_out_grad else derivative
            grads[position] = share if argument in mistake.assign else grads[position] + share
        return grads

    def torch_grads(self, case):
        """(what PyTorch's leaves hold after the same case: .grad set to `held`, then backward() from
        out with out.grad; PyTorch adds into .grad too, out's number)."""
        leaves = [_tensor(_float(x), dtype=_float64, requires_grad=True) for x in case.xs[: 1 if case.twice else None]]
        for leaf in leaves:
            leaf.grad = _tensor(_float(case.held), dtype=_float64)
        arguments = [leaves[i] for i in case.positions()]
        with torch.enable_grad():
            out = self.torch_fn(*arguments) if self.param is None else self.torch_fn(arguments[0], case.param)
            (out * case.out_grad).backward()  # out.grad as a factor: backward(gradient=) imports much on first use
        return [_float(leaf.grad) for leaf in leaves], _float(out.detach())


def _power_slips():
    def kept(xs, n):
        return [n * xs[0] ** n]

    def not_brought_down(xs, n):
        return [xs[0] ** (n - 1)]

    def lowered_to_one(xs, n):
        return [n * xs[0]]

    return [
        ("power-rule", f"You differentiated aⁿ as n·aⁿ (the power kept). {POWER_RULE}", kept),
        ("power-rule", f"You differentiated aⁿ as aⁿ⁻¹ (the power not brought down). {POWER_RULE}", not_brought_down),
        ("power-rule", f"You differentiated aⁿ as n·a (right for n = 2 only). {POWER_RULE}", lowered_to_one),
    ]


OPERATIONS = {
    "+": Operation("add", "given", "+", 2, lambda a, b: a + b, lambda xs, p: [1.0, 1.0],
                   "∂(a + b)/∂a = 1 and ∂(a + b)/∂b = 1"),
    "*": Operation(
        "mul", "exercise 1", "*", 2, lambda a, b: a * b, lambda xs, p: [xs[1], xs[0]],
        "∂(a·b)/∂a = b and ∂(a·b)/∂b = a: each parent gets the other's number times out.grad",
        slips=[(None, "Your rule passes out.grad on unchanged, as addition does. For a product each parent's local "
                "derivative is the other factor: ∂(a·b)/∂a = b, ∂(a·b)/∂b = a.", lambda xs, p: [1.0, 1.0])],
    ),
    "**": Operation("power", "exercise 2", "**", 1, lambda a, n: a**n, lambda xs, n: [n * xs[0] ** (n - 1)],
                    "∂(aⁿ)/∂a = n·aⁿ⁻¹", slips=_power_slips(), param="n"),
    "neg": Operation(
        "neg", "exercise 3", "neg", 1, lambda a: -a, lambda xs, p: [-1.0], "∂(−a)/∂a = −1",
        slips=[("constant-factor", "Your rule sends +out.grad: the sign is lost. −a moves the opposite way to a, so "
                "∂(−a)/∂a = −1.", lambda xs, p: [1.0])],
    ),
    "-": Operation(
        "sub", "exercise 3", "-", 2, lambda a, b: a - b, lambda xs, p: [1.0, -1.0],
        "∂(a − b)/∂a = 1 and ∂(a − b)/∂b = −1",
        slips=[("constant-factor", "Your rule sends +out.grad to b: the sign is lost. b is subtracted, so "
                "∂(a − b)/∂b = −1.", lambda xs, p: [1.0, 1.0])],
    ),
    "tanh": Operation(
        "tanh", "exercise 4", "tanh", 1, torch.tanh, lambda xs, p: [1 - math.tanh(xs[0]) ** 2],
        "∂tanh(a)/∂a = 1 − tanh(a)²",
        slips=[("wrong-point", "Your rule uses 1 − a², with a where tanh(a) belongs: the derivative of tanh(u) is "
                "1 − tanh(u)², and tanh(a) is out's own number, t. Hint: square t (or out.data), not a.data.",
                lambda xs, p: [1 - xs[0] ** 2])],
    ),
}


def cases(operation, raw, twice=True):
    """Cases from tuples (numbers of the arguments, [n,] out.grad, held), and for an operation of two
    Values one more with the same Value twice (from the first tuple, nothing held)."""
    found = []
    for values in raw:
        values = [_float(v) for v in values]
        xs, rest = values[: operation.arity], values[operation.arity:]
        param = rest.pop(0) if operation.param else None
        found.append(Case(tuple(xs), param, rest[0], rest[1]))
    if twice and operation.arity == 2 and found:
        first = found[0]
        found.append(Case((first.xs[0], first.xs[0]), None, first.out_grad, 0.0, twice=True))
    return found


def value_of(v, what):
    """A Value's number (or its grad) as a float, whatever your code left there."""
    if _isinstance(v, _Tensor) or _isinstance(v, (int, float)):
        return as_number(v, what)
    raise CheckFailed(f"{what} should be a number, not {type(v).__name__}.")


def your_grads(operation, make, case, Value, expected_data):
    """The parents' .grad after your rule runs on the case: make(parents, n) builds out from Values
    of your class. CheckFailed when out is not what the operation should give (its number is
    `expected_data`)."""
    first = Value(case.xs[0])
    parents = [first, first] if case.twice else [first] + [Value(x) for x in case.xs[1:]]
    distinct = parents[:1] if case.twice else parents
    for p in distinct:
        p.grad = case.held
    out = make(parents, case.param)
    shown = operation.call_text(case)
    if not _isinstance(out, Value):
        raise CheckFailed(f"{shown} returned {type(out).__name__}, not a Value. Hint: end with `return out`.")
    if not close(value_of(out.data, f"the data of {shown}"), expected_data):
        raise CheckFailed(f"{shown} made a Value holding {out.data:g}, not {expected_data:g}: the line that makes out "
                          "was given. Hint: put it back as it was.")
    if {id(p) for p in out._parents} != {id(p) for p in distinct}:
        raise CheckFailed(f"the Value made by {shown} does not have its arguments as parents: backward() could not "
                          "walk back from it. Hint: keep `parents=` as it was given.")
    out.grad = case.out_grad
    out._backward()
    return [value_of(p.grad, "a parent's .grad") for p in distinct]


def grads_text(operation, case, grads):
    names = ["a"] if case.twice or operation.arity == 1 else ["a", "b"]
    return ", ".join(f"{n}.grad = {g:g}" for n, g in zip(names, grads))


def first_mistake(operation, table, got, tried):
    """The first mistake of the table whose grads are yours in every case."""
    for mistake in table:
        try:
            if all(all(close(g, s) for g, s in zip(grads, operation.simulated(mistake, case)))
                   for grads, case in zip(got, tried)):
                return mistake
        except (ArithmeticError, ValueError, TypeError):  # a mistake these numbers cannot make
            continue
    return None


def rule_problem(operation, make, tried, Value, run):
    """None when your rule gives PyTorch's grads in every case; otherwise what differs, and the known
    mistake when it is one. `run(step)` runs a step of your code (saying what went wrong if it fails)."""
    expected, data = zip(*[operation.torch_grads(case) for case in tried])  # PyTorch first: not watched
    got = [run(lambda case=case, d=d: your_grads(operation, make, case, Value, d), operation.call_text(case))
           for case, d in zip(tried, data)]
    wrong = [i for i, (g, e) in enumerate(zip(got, expected)) if not all(close(a, b) for a, b in zip(g, e))]
    if not wrong:
        return None
    i = wrong[0]
    message = (f"{operation.call_text(tried[i])}: your rule leaves {grads_text(operation, tried[i], got[i])}, but "
               f"PyTorch's {grads_text(operation, tried[i], expected[i])}.")
    if all(all(close(g, tried[k].held) for g in got[k]) for k in range(_len(tried))):
        return message + (" Your rule sent nothing back. Hint: is `out._backward = _backward` still there, and does "
                          "_backward add to the parents' .grad?")
    mistake = first_mistake(operation, operation.catalogue(), got, tried)
    return message + (" " + mistake.describe() if mistake else "")
