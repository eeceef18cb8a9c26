"""Pictures of PyTorch's computation graph, and of the graphs of your own Values (notebook 07).

`draw_graph(z, x=x, y=y)` draws the graph that PyTorch recorded while computing `z`, the way
micrograd's `draw_dot` draws its own: one box per value, named or not (2y, 3b³, ...), with the
operation that made it in mathematics (×, +, ·², ...), PyTorch's name for its backward node small
beneath, its value, and its gradient: the derivative of z with respect to it. Where one value feeds
several operations, each arrow carries the share of the gradient that backward sends back along it,
and the value's gradient is their sum. The gradients are worked out the way backward() works them
out, node by node on the real graph, without touching any `.grad`: draw before `z.backward()`.
torchviz's `make_dot` shows the nodes but neither values nor gradients. `show(graph)` displays a
drawing (this one or torchviz's); when Graphviz's `dot` program is missing, it says how to get the
picture instead of failing.

`draw_graph` draws a `Value` of your own engine the same way: the picture PyTorch's graph of the
same expression gives, less PyTorch's node names and its `AccumulateGrad` nodes (your engine adds
into `.grad` directly), and with every value's number even where PyTorch's graph kept none. Its
gradients are the ones your backward() stored in `.grad`: draw after `z.backward()`.
"""

import html
import re
import shutil

import graphviz
import torch

from coursework.helpers.checks import _float, _isinstance, _len, _no_grad, _Tensor, pictures_shown
from coursework.helpers.value_walk import NOT_RUN, ValueWalk, is_value

__all__ = ["draw_graph", "graph_of", "show"]

NO_DOT = (
    "🖼️  No picture here: drawing a graph needs Graphviz's `dot` program, which is not installed.\n"
    "   The easiest way: open this notebook in Google Colab (it has Graphviz).\n"
    "   Or install Graphviz, then restart the notebook's kernel:\n"
    "     Debian/Ubuntu: sudo apt-get install graphviz\n"
    "     macOS:         brew install graphviz\n"
    "     conda:         conda install -c conda-forge graphviz\n"
    "     Windows:       winget install graphviz (then add its bin folder to PATH)"
)
FREED = (
    "(This graph was already walked by backward(), which frees the values it saved: the drawing shows "
    "no gradients. Draw it before calling backward() to see them all.)"
)

LEAF_COLOR, OUTPUT_COLOR, VALUE_COLOR, NODE_COLOR = "lightblue", "darkolivegreen1", "lightyellow", "lightgrey"
SHARE_COLOR = "firebrick"
SUPERSCRIPT = str.maketrans("0123456789.-", "⁰¹²³⁴⁵⁶⁷⁸⁹·⁻")
# A backward node's operation, in mathematics, by the node's name without its trailing digit.
SYMBOLS = {"Add": "+", "Sub": "−", "Mul": "×", "Div": "÷", "Neg": "−", "Pow": "·ⁿ", "Sum": "Σ", "Mean": "mean",
           "Exp": "exp", "Log": "log", "Tanh": "tanh", "Relu": "ReLU", "Sigmoid": "σ"}


def show(graph):
    """Display a graphviz drawing in the notebook, or explain how to get it when `dot` is missing."""
    if not pictures_shown():
        return
    if shutil.which("dot") is None:
        print(NO_DOT)
        return
    try:
        svg = graph.pipe(format="svg").decode("utf-8")
    except (graphviz.ExecutableNotFound, graphviz.CalledProcessError, OSError) as error:
        print(f"{NO_DOT}\n   (Graphviz failed: {type(error).__name__}: {error})")
        return
    from IPython.display import SVG, display

    display(SVG(svg))


def draw_graph(output, paths_from=None, grads=True, **named):
    """Draw the graph that computed `output`, with every value and its gradient."""
    if not pictures_shown():
        return
    graph, freed = drawing(output, paths_from, grads, **named)
    if freed:
        print(NOT_RUN if is_value(output) else FREED)
    show(graph)


def number(t):
    """A tensor's numbers (or a plain number), short: `3.5`, `[1, 2, 3]`, or its shape when it is big."""
    if not _isinstance(t, _Tensor):
        return f"{t:.6g}"
    t = t.detach()
    if t.numel() == 1:
        return f"{t.item():.6g}"
    if t.numel() <= 4:
        return "[" + ", ".join(f"{v:.4g}" for v in t.flatten().tolist()) + "]"
    return f"a tensor of shape {tuple(t.shape)}"


def kind(node):
    """A backward node's operation: its class name without 'Backward' and the overload digit."""
    return re.sub(r"Backward\d*$", "", type(node).__name__)


def saved(node, attribute):
    """A value the node saved for backward (None when it saved none, or backward freed it)."""
    try:
        return getattr(node, attribute, None)
    except RuntimeError:  # freed by an earlier backward()
        return None


class Walk:
    """The graph below `output`: its backward nodes (each the maker of one value), the arrows
    between them, and what each value was and what gradient reaches it.

    What the drawing asks of a walk (value_walk.ValueWalk answers the same for your own Values):
    nodes, inputs, values, constants, output_value; leaf(key), made(key, t), kind(key),
    exponent(key), node_name(key), gradients(); and whether a leaf's gradient goes through a node of
    its own (`accumulates`: PyTorch's AccumulateGrad)."""

    accumulates = True

    def __init__(self, output, named):
        self.output, self.named = output, named
        self.nodes = []  # in the order met; Python hands out a new wrapper per request: keep them
        self.index = {}  # node -> its position in self.nodes
        self.inputs = {}  # position -> [(position of the input's node or None, the input number)]
        if output.grad_fn is not None:
            self._visit(output.grad_fn)
        self.values = self._values()
        self.constants = {}  # position -> the plain number an operation used (2 in 2·y)
        self._find_constants()
        self.output_value = output

    def _visit(self, node):
        key = self.index.get(node)
        if key is not None:
            return key
        key = self.index[node] = _len(self.nodes)
        self.nodes.append(node)
        self.inputs[key] = [(None if f is None else self._visit(f), i) for i, (f, _) in enumerate(node.next_functions)]
        return key

    def leaf(self, key):
        return getattr(self.nodes[key], "variable", None)

    def made(self, key, t):
        """Whether the node at `key` made the tensor t."""
        return t.grad_fn is not None and self.nodes[key] is t.grad_fn

    def kind(self, key):
        return kind(self.nodes[key])

    def exponent(self, key):
        return saved(self.nodes[key], "_saved_exponent")

    def node_name(self, key):
        return type(self.nodes[key]).__name__

    def _values(self):
        """Each value's tensor: a leaf's, a named tensor's, the output's, one a node saved, or
        computed from its inputs."""
        values = {}
        for key in range(_len(self.nodes)):
            if self.leaf(key) is not None:
                values[key] = self.leaf(key)
        for t in [*self.named.values(), self.output]:  # the walk keeps the nodes alive: `in` finds them
            if t.grad_fn is not None and t.grad_fn in self.index:
                values[self.index[t.grad_fn]] = t
        for key, node in enumerate(self.nodes):
            for attribute, position in (("_saved_self", 0), ("_saved_other", 1)):
                value, inputs = saved(node, attribute), self.inputs[key]
                if _isinstance(value, _Tensor) and position < _len(inputs) and inputs[position][0] is not None:
                    values.setdefault(inputs[position][0], value)
            if _isinstance(saved(node, "_saved_result"), _Tensor):
                values.setdefault(key, saved(node, "_saved_result"))
        for _ in self.nodes:  # compute what is still missing from the inputs, as far as possible
            for key in range(_len(self.nodes)):
                if key not in values:
                    value = self._computed(key, values)
                    if value is not None:
                        values[key] = value
        return values

    def _operands(self, key, values):
        """The values of the node's inputs, tracked or plain numbers (None: unknown)."""
        node, found = self.nodes[key], []
        for (source, _), attribute in zip(self.inputs[key], ("_saved_self", "_saved_other")):
            if source is not None:
                found.append(values.get(source))
            else:
                found.append(saved(node, attribute))
        return found

    def _computed(self, key, values):
        node, operation = self.nodes[key], kind(self.nodes[key])
        operands = self._operands(key, values)
        if any(v is None for v in operands) or not operands:
            return None
        with _no_grad():
            if operation == "Add" and _len(operands) == 2:
                return operands[0] + operands[1]
            if operation == "Sub" and _len(operands) == 2:
                return operands[0] - operands[1]
            if operation == "Mul" and _len(operands) == 2:
                return operands[0] * operands[1]
            if operation == "Div" and _len(operands) == 2:
                return operands[0] / operands[1]
            if operation == "Pow" and saved(node, "_saved_exponent") is not None:
                return operands[0] ** saved(node, "_saved_exponent")
            if operation == "Neg":
                return -operands[0]
            if operation == "Sum":
                return operands[0].sum()
            if operation == "Mean":
                return operands[0].mean()
        return None

    def _find_constants(self):
        """The plain number of `2 * y` or `y + 3`: saved by the node, or the difference of the
        known values."""
        for key, node in enumerate(self.nodes):
            sources = self.inputs[key]
            if _len(sources) != 2 or sum(s is None for s, _ in sources) != 1:
                continue
            tracked = next(s for s, _ in sources if s is not None)
            constant = saved(node, "_saved_other" if sources[1][0] is None else "_saved_self")
            if constant is None and kind(node) in ("Add", "Sub") and key in self.values and tracked in self.values:
                difference = self.values[key] - self.values[tracked]
                constant = difference if kind(node) == "Add" else -difference
            if _isinstance(constant, _Tensor) and constant.numel() == 1:
                self.constants[key] = constant.detach()

    def gradients(self):
        """(gradient of every value, {(input, node): the share sent back along that arrow}), worked
        out as backward() does: from the output's 1, each node multiplies what reaches it by its
        local derivatives and sends the products to its inputs; what reaches a value along several
        arrows is added before its node uses it. None when the graph was freed by backward()."""
        order = self._reverse_order()
        grads = {order[0]: torch.ones_like(self.output)} if order else {}
        shares = {}
        with _no_grad():
            for key in order:
                if key not in grads or self.leaf(key) is not None:
                    continue
                try:
                    sent = self.nodes[key](grads[key])
                except RuntimeError:  # saved values freed by backward()
                    return None
                sent = sent if _isinstance(sent, tuple) else (sent,)
                for (source, _), share in zip(self.inputs[key], sent):
                    if source is not None and share is not None:
                        shares[(source, key)] = share
                        grads[source] = grads[source] + share if source in grads else share
        return grads, shares

    def _reverse_order(self):
        """The nodes from the output down, each after every node that sends it a gradient."""
        done, order = set(), []

        def visit(key):
            if key in done:
                return
            done.add(key)
            for source, _ in self.inputs[key]:
                if source is not None:
                    visit(source)
            order.append(key)

        if self.nodes:
            visit(0)
        return order[::-1]


def _expression(walk, key, names, memo):
    """A short name for a value nobody named, from its operation: 2y, b³, 2a + 3b, ..."""
    if key in memo:
        return memo[key]
    memo[key] = ""
    if key in names:
        memo[key] = names[key]
        return memo[key]
    operation = walk.kind(key)
    parts = [_expression(walk, s, names, memo) if s is not None else None for s, _ in walk.inputs[key]]
    constant = walk.constants.get(key)
    c = None if constant is None else f"{_float(constant):g}"

    def atom(text):
        return text if text and " " not in text else f"({text})"

    text = ""
    if operation == "Mul" and _len(parts) == 2:
        tracked = [p for p in parts if p is not None]
        if c is not None and _len(tracked) == 1 and tracked[0]:
            text = f"{c}{atom(tracked[0])}"
        elif _len(tracked) == 2 and all(tracked):
            text = f"{atom(tracked[0])}·{atom(tracked[1])}"
    elif operation in ("Add", "Sub") and _len(parts) == 2:
        sign = " + " if operation == "Add" else " − "
        left = parts[0] if parts[0] is not None else c
        right = parts[1] if parts[1] is not None else c
        if left and right:
            text = f"{left}{sign}{right}"
    elif operation == "Pow" and parts and parts[0] and walk.exponent(key) is not None:
        text = f"{atom(parts[0])}{_power(walk.exponent(key))}"
    memo[key] = text if _len(text) <= 14 else ""
    return memo[key]


def _power(exponent):
    return f"{exponent:g}".translate(SUPERSCRIPT)


def _operation_text(walk, key):
    """The operation that made a value, in mathematics: × 2, + 3, ·², +."""
    operation = walk.kind(key)
    symbol = SYMBOLS.get(operation, operation)
    if operation == "Pow" and walk.exponent(key) is not None:
        symbol = "·" + _power(walk.exponent(key))
    constant = walk.constants.get(key)
    if constant is not None and operation in ("Add", "Sub", "Mul", "Div"):
        symbol = f"{symbol} {_float(constant):g}"
    return symbol


def _label(lines, small=None, bold=None):
    """An HTML-like Graphviz label: a bold first line, a small grey second one, then plain lines."""
    rows = []
    if bold:
        rows.append(f"<B>{html.escape(bold)}</B>")
    if small:
        rows.append(f'<FONT POINT-SIZE="8" COLOR="grey35">{html.escape(small)}</FONT>')
    rows.extend(html.escape(line) for line in lines)
    return "<" + "<BR/>".join(rows) + ">"


def drawing(output, paths_from=None, grads=True, **named):
    """(the drawing of `output`'s graph as a graphviz.Digraph, whether backward() had freed it).

    Walks `output.grad_fn` and each node's `next_functions` down to the leaves (a leaf's node is
    an `AccumulateGrad`, whose `.variable` is the leaf tensor); for a Value of your own engine, its
    parents, down to the values you made. Arrows point the way the forward pass went; backward()
    walks them in reverse. Name tensors by keyword (`x=x`) to label their boxes with their names;
    `grads=False` shows values only; `paths_from="a"` draws in red every path from the tensor named a.
    For a Value, `freed` says that backward() has not run on it (its grad is 0).
    """
    walk = ValueWalk(output) if is_value(output) else Walk(output, named)
    names, leaf_names = {}, {}
    for name, t in named.items():
        for key in range(_len(walk.nodes)):
            if walk.leaf(key) is t:
                leaf_names[key] = name
            elif walk.made(key, t):
                names[key] = name
    if walk.nodes and 0 not in names:
        names[0] = next((n for n, t in named.items() if t is output), "")
    found = walk.gradients() if grads else None
    freed = grads and found is None
    gradient, shares = found if found else ({}, {})
    dot = graphviz.Digraph(
        graph_attr={"rankdir": "TB", "nodesep": "0.25", "ranksep": "0.3"},
        node_attr={"fontname": "Helvetica", "fontsize": "11", "style": "filled,rounded", "shape": "box"},
        edge_attr={"fontname": "Helvetica", "fontsize": "10", "fontcolor": SHARE_COLOR, "arrowsize": "0.7"},
    )
    memo = {key: name for key, name in leaf_names.items()}
    boxes, edges = {}, []
    for key in range(_len(walk.nodes)):
        value = walk.values.get(key)
        shown = "?" if value is None else number(value)
        grad_line = [f"grad {number(gradient[key])}"] if key in gradient else []
        if walk.leaf(key) is not None:
            name = leaf_names.get(key, "leaf")
            dot.node(f"t{key}", _label([f"{name} = {shown}", *grad_line]), fillcolor=LEAF_COLOR)
            boxes[key] = f"t{key}"
            if walk.accumulates:
                dot.node(f"n{key}", _label([], small="AccumulateGrad", bold=f"into {name}.grad"), shape="ellipse",
                         fillcolor=NODE_COLOR, style="filled", margin="0.05")
                edges.append((f"t{key}", f"n{key}", ""))
                boxes[key] = f"n{key}"
            continue
        name = _expression(walk, key, names, memo)
        first = f"{name} = {shown}" if name else shown
        color = OUTPUT_COLOR if key == 0 else VALUE_COLOR
        dot.node(f"n{key}", _label([first, *grad_line], small=walk.node_name(key),
                                   bold=_operation_text(walk, key)), fillcolor=color)
        boxes[key] = f"n{key}"
    if not walk.nodes:
        name = next((n for n, t in named.items() if t is output), "output")
        dot.node("t0", _label([f"{name} = {number(walk.output_value)}"]), fillcolor=LEAF_COLOR)
    users = {}
    for key in range(_len(walk.nodes)):
        for source, _ in walk.inputs[key]:
            if source is not None:
                users[source] = users.get(source, 0) + 1
    for key in range(_len(walk.nodes)):
        for source, _ in walk.inputs[key]:
            if source is None:
                continue
            share = shares.get((source, key))
            label = f" ← {number(share)}" if share is not None and users[source] > 1 else ""
            edges.append((boxes[source], boxes[key], label))
    red = _red_edges(edges, walk, leaf_names, names, paths_from)
    for start, end, label in edges:
        style = {"color": "red", "penwidth": "2"} if (start, end) in red else {}
        dot.edge(start, end, label=label, **style)
    leaves = [f"t{k}" for name in named for k, n in leaf_names.items() if n == name]
    with dot.subgraph() as row:  # the named leaves side by side at the top, in the order given
        row.attr(rank="same")
        for left, right in zip(leaves, leaves[1:]):
            row.edge(left, right, style="invis")
    if grads and not freed:
        of = names.get(0) or "the output"
        legend = [f"grad: the derivative of {of} with respect to that value"]
        if any(label for _, _, label in edges):
            legend.append("← n on an arrow: the share of the gradient that backward() sends back along it")
        dot.attr(label="\n".join(legend), fontsize="10", fontname="Helvetica", labelloc="b")
    return dot, freed


def _red_edges(edges, walk, leaf_names, names, paths_from):
    """Every edge on a path from the tensor named `paths_from`."""
    if paths_from is None:
        return set()
    start = next((f"t{k}" for k, n in leaf_names.items() if n == paths_from), None)
    start = start or next((f"n{k}" for k, n in names.items() if n == paths_from), None)
    reached, grown = {start}, True
    while grown:
        grown = False
        for source, target, _ in edges:
            if source in reached and target not in reached:
                reached.add(target)
                grown = True
    return {(s, e) for s, e, _ in edges if s in reached}


def graph_of(output, paths_from=None, grads=True, **named):
    """The drawing of `output`'s graph as a graphviz.Digraph (see `drawing`)."""
    return drawing(output, paths_from, grads, **named)[0]
