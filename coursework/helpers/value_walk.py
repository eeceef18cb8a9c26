"""The graph of a Value of your own engine (notebook 07), walked for the course drawing.

A Value made by an operation has parents (the Values it was made from), an operation `_op` ("+",
"*", "**2", "neg", "-", "tanh", ...), a number `data`, a gradient `grad`, and a rule `_backward`
that sends its gradient back to its parents. A plain number in a formula (the 2 in 2 * y) becomes a
Value whose `_op` is "constant": like PyTorch, the drawing shows it inside its operation (× 2), not
as an input. `ValueWalk` answers what the drawing asks of PyTorch's graph (graphs.Walk), from the
Values themselves.
"""

from coursework.helpers.checks import _float, _isinstance, _len, _Tensor

__all__ = []

NOT_RUN = (
    "(No gradients to show: this value's grad is 0, so backward() has not run on it yet, or did not seed it "
    "with 1. Call backward() first, then draw it.)"
)
# Your engine's operations, by their `_op`, as PyTorch names them (a power is "**" and its exponent).
OPERATIONS = {"+": "Add", "-": "Sub", "*": "Mul", "/": "Div", "neg": "Neg", "tanh": "Tanh", "exp": "Exp",
              "log": "Log", "relu": "Relu"}


def is_value(x):
    """Whether x is a Value of your own engine rather than a tensor."""
    return not _isinstance(x, _Tensor) and hasattr(x, "_parents") and hasattr(x, "data")


def is_constant(v):
    return getattr(v, "_op", "") == "constant"


class ValueWalk:
    """The Values below `output`, in the order PyTorch's walk meets the same values (the output,
    then each operand in turn, depth first), with their data and, once backward() has run, the
    gradient it stored in each `.grad`."""

    accumulates = False  # your rules add into .grad directly: no AccumulateGrad

    def __init__(self, output):
        self.output, self.output_value = output, output.data
        self.nodes = []
        self.index = {}  # id of a Value -> its position in self.nodes (the list keeps it alive)
        self.inputs = {}  # position -> [(position of the parent or None for a constant, the parent number)]
        self.constants = {}  # position -> the plain number an operation used (2 in 2·y)
        if output._parents:
            self._visit(output)
        self.values = {key: v.data for key, v in enumerate(self.nodes)}

    def _visit(self, v):
        key = self.index.get(id(v))
        if key is not None:
            return key
        key = self.index[id(v)] = _len(self.nodes)
        self.nodes.append(v)
        parents = list(v._parents)
        self.inputs[key] = [(None if is_constant(p) else self._visit(p), i) for i, p in enumerate(parents)]
        constants = [p for p in parents if is_constant(p)]
        if _len(parents) == 2 and _len(constants) == 1:
            self.constants[key] = constants[0].data
        return key

    def leaf(self, key):
        v = self.nodes[key]
        return None if v._parents else v

    def made(self, key, t):
        return self.nodes[key] is t and self.leaf(key) is None

    def kind(self, key):
        op = self.nodes[key]._op
        return "Pow" if op.startswith("**") else OPERATIONS.get(op, op)

    def exponent(self, key):
        op = self.nodes[key]._op
        try:
            return _float(op[2:]) if op.startswith("**") else None
        except ValueError:
            return None

    def node_name(self, key):
        return None  # no PyTorch node here

    def gradients(self):
        """(each value's .grad, {(parent, value): the share its rule sends back along that arrow}),
        the shares only where a value is used more than once; None when backward() has not run."""
        if not self.nodes:
            return {}, {}
        if self.output.grad == 0:
            return None
        uses = {}
        for key in range(_len(self.nodes)):
            for source, _ in self.inputs[key]:
                if source is not None:
                    uses[source] = uses.get(source, 0) + 1
        shares = {}
        for key in range(_len(self.nodes)):
            if any(source is not None and uses[source] > 1 for source, _ in self.inputs[key]):
                shares.update(self._sent(key))
        return {key: v.grad for key, v in enumerate(self.nodes)}, shares

    def _sent(self, key):
        """What the rule of the value at `key` sends to each parent: run alone, from parents holding
        0, then every .grad put back as it was. A parent used twice gets half of it on each arrow."""
        v = self.nodes[key]
        parents = list(v._parents)
        held = [p.grad for p in parents]
        try:
            for p in parents:
                p.grad = 0.0
            v._backward()
            sent = [p.grad for p in parents]
        except Exception:  # your rule failed: no shares to show
            return {}
        finally:
            for p, grad in zip(parents, held):
                p.grad = grad
        return {(self.index[id(p)], key): s / sum(q is p for q in parents)
                for p, s in zip(parents, sent) if not is_constant(p)}
