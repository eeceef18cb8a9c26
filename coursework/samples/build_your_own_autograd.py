"""Sample hand-ins for 07_build_your_own_autograd: right engines written other ways, and the classic
bugs of an autograd engine. A bug in a rule or in backward() also fails the later checks that run
the engine (the examples, the training), which name the same cause; a sample pairs bugs only where
they do not hide each other."""

from coursework.samples import Sample

NOTEBOOK = "07_build_your_own_autograd"

RULE = '''    def _backward():
{body}

    out._backward = _backward
    return out'''
MUL = '''def mul(a, b):
    """a * b as a Value: its parents are a and b."""
    out = Value(a.data * b.data, parents=(a, b), op="*")

''' + RULE
POWER = '''def power(a, n):
    """a ** n, for a plain number n, as a Value: its parent is a."""
    out = Value(a.data**n, parents=(a,), op=f"**{n}")

''' + RULE
NEG = '''def neg(a):
    """-a as a Value: its parent is a."""
    out = Value(-a.data, parents=(a,), op="neg")

''' + RULE
SUB = '''def sub(a, b):
    """a - b as a Value: its parents are a and b."""
    out = Value(a.data - b.data, parents=(a, b), op="-")

''' + RULE
TANH = '''def tanh(a):
    """tanh(a) as a Value: its parent is a."""
    t = math.tanh(a.data)
    out = Value(t, parents=(a,), op="tanh")

''' + RULE
HEADS = {
    "topological_order": '''def topological_order(output):
    """Every Value that output was computed from, output included, each once and after its parents."""
''',
    "backward": '''def backward(output):
    """Fill in .grad of every value that output was computed from: d(output)/d(value)."""
''',
    "train_neuron": '''def train_neuron(w, b, xs, ys, steps, lr):
    """Train the neuron tanh(w·x + b) on the points (xs, ys) with your engine."""
''',
}


def rule(cell, *lines):
    """A rule's cell with these lines (indented as in _backward) as its body."""
    return cell.replace("{body}", "\n".join(f"        {line}" for line in lines))


def neg_and_sub(neg_lines, sub_lines):
    return rule(NEG, *neg_lines) + "\n\n\n" + rule(SUB, *sub_lines)


RIGHT_TRAINING = HEADS["train_neuron"] + """    losses = []
    for _ in range(steps):
        loss = sum((tanh(w * x + b) - y) ** 2 for x, y in zip(xs, ys))
        w.grad, b.grad = 0.0, 0.0
        loss.backward()
        w.data -= lr * w.grad
        b.data -= lr * b.grad
        losses.append(loss.data)
    return losses"""
SAMPLES = [
    Sample(
        "right: named local derivatives, an order built with a stack, rules run by index, a loop without sum()",
        {
            "mul": rule(MUL, "da, db = b.data, a.data   # ∂out/∂a, ∂out/∂b", "a.grad = a.grad + da * out.grad",
                        "b.grad = b.grad + db * out.grad"),
            "power": rule(POWER, "a.grad += out.grad * n * a.data ** (n - 1)"),
            "neg_and_sub": neg_and_sub(["a.grad -= out.grad"], ["a.grad += 1 * out.grad", "b.grad -= out.grad"]),
            "tanh": rule(TANH, "a.grad += (1 - out.data**2) * out.grad"),
            "topological_order": HEADS["topological_order"] + """    order, placed = [], set()
    stack = [(output, False)]
    while stack:
        v, parents_placed = stack.pop()
        if parents_placed:
            order.append(v)
        elif id(v) not in placed:
            placed.add(id(v))
            stack.append((v, True))
            for p in v._parents:
                stack.append((p, False))
    return order""",
            "backward": HEADS["backward"] + """    order = topological_order(output)
    output.grad = 1
    for i in range(len(order) - 1, -1, -1):
        order[i]._backward()""",
            "train_neuron": HEADS["train_neuron"] + """    losses = []
    for step in range(steps):
        loss = Value(0.0)
        for x, y in zip(xs, ys):
            error = (w * x + b).tanh() - y
            loss = loss + error * error
        loss.backward()
        w.data = w.data - lr * w.grad
        b.data = b.data - lr * b.grad
        w.grad = 0.0   # ready for the next step
        b.grad = 0.0
        losses.append(loss.data)
    return losses""",
        },
    ),
    Sample(
        "right: an order placed when all parents are, a while loop, math.tanh again, a loop over parameters",
        {
            "mul": rule(MUL, "a.grad += out.grad * b.data", "b.grad += out.grad * a.data"),
            "power": rule(POWER, "local = n * a.data ** (n - 1)", "a.grad += local * out.grad"),
            "neg_and_sub": neg_and_sub(["a.grad += -out.grad"], ["a.grad += out.grad", "b.grad += -out.grad"]),
            "tanh": rule(TANH, "a.grad += (1 - math.tanh(a.data) ** 2) * out.grad"),
            "topological_order": HEADS["topological_order"] + """    everything, todo = {}, [output]
    while todo:
        v = todo.pop()
        if id(v) not in everything:
            everything[id(v)] = v
            todo.extend(v._parents)
    order, placed = [], set()
    while len(order) < len(everything):
        for v in everything.values():
            if id(v) not in placed and all(id(p) in placed for p in v._parents):
                order.append(v)
                placed.add(id(v))
    return order""",
            "backward": HEADS["backward"] + """    output.grad = 1.0
    order = topological_order(output)
    while order:
        order.pop()._backward()""",
            "train_neuron": HEADS["train_neuron"] + """    losses = []
    for _ in range(steps):
        for p in (w, b):
            p.grad = 0
        loss = sum([(tanh(x * w + b) - y) ** 2 for x, y in zip(xs, ys)])
        backward(loss)
        for p in (w, b):
            p.data -= lr * p.grad
        losses.append(loss.data)
    return losses""",
        },
    ),
    Sample(
        "mul overwrites .grad (=): example 2's two paths do not add",
        {"mul": rule(MUL, "a.grad = b.data * out.grad", "b.grad = a.data * out.grad")},
        fails={"check_mul": "overwritten-grad", "check_backward_example_2": "overwritten-grad",
               "check_train_neuron": "overwritten-grad"},
    ),
    Sample(
        "mul swaps the factors; neg loses its sign",
        {"mul": rule(MUL, "a.grad += a.data * out.grad", "b.grad += b.data * out.grad"),
         "neg_and_sub": neg_and_sub(["a.grad += out.grad"], ["a.grad += out.grad", "b.grad -= out.grad"])},
        fails={"check_mul": "swapped-variable", "check_neg_and_sub": "constant-factor",
               "check_backward_example_1": "swapped-variable", "check_backward_example_2": "swapped-variable",
               "check_train_neuron": "swapped-variable"},
    ),
    Sample(
        "power forgets out.grad; sub loses its sign",
        {"power": rule(POWER, "a.grad += n * a.data ** (n - 1)"),
         "neg_and_sub": neg_and_sub(["a.grad += -1.0 * out.grad"], ["a.grad += out.grad", "b.grad += out.grad"])},
        # The neuron's squares each get out.grad = 1 from the sum: its training does not show this bug.
        fails={"check_power": "chain-stopped-early", "check_neg_and_sub": "constant-factor",
               "check_backward_example_1": "chain-stopped-early", "check_backward_example_2": "chain-stopped-early"},
    ),
    Sample(
        "power keeps the power: n·aⁿ",
        {"power": rule(POWER, "a.grad += n * a.data**n * out.grad")},
        fails={"check_power": "power-rule", "check_backward_example_1": "power-rule",
               "check_backward_example_2": "power-rule", "check_train_neuron": "power-rule"},
    ),
    Sample(
        "tanh with a where tanh(a) belongs; an order without a set of visited values",
        {"tanh": rule(TANH, "a.grad += (1 - a.data**2) * out.grad"),
         "topological_order": HEADS["topological_order"] + """    order = []

    def visit(v):
        for parent in v._parents:
            visit(parent)
        order.append(v)

    visit(output)
    return order"""},
        fails={"check_tanh": "wrong-point", "check_topological_order": "extra-path",
               "check_backward_example_2": "extra-path", "check_train_neuron": "wrong-point"},
    ),
    Sample(
        "the output's list read from the wrong end: the rules run from the inputs to the output",
        {"backward": HEADS["backward"] + """    output.grad = 1.0
    for v in topological_order(output):
        v._backward()"""},
        fails={"check_backward_example_1": "wrong-order", "check_backward_example_2": "wrong-order",
               "check_train_neuron": "wrong-order"},
    ),
    Sample(
        "an order from the output down (its direction reversed by backward)",
        {"topological_order": HEADS["topological_order"] + """    order, seen = [], set()

    def visit(v):
        if v not in seen:
            seen.add(v)
            order.append(v)
            for parent in v._parents:
                visit(parent)

    visit(output)
    return order"""},
        fails={"check_topological_order": None, "check_backward_example_1": "wrong-order",
               "check_backward_example_2": "wrong-order", "check_train_neuron": "wrong-order"},
    ),
    Sample(
        "backward() does not seed the output",
        {"backward": HEADS["backward"] + """    for v in reversed(topological_order(output)):
        v._backward()"""},
        fails={"check_backward_example_1": "unseeded-output", "check_backward_example_2": "unseeded-output",
               "check_train_neuron": "unseeded-output"},
    ),
    Sample(
        "backward() runs the output's rule only; tanh forgets out.grad",
        {"backward": HEADS["backward"] + """    output.grad = 1.0
    output._backward()""",
         "tanh": rule(TANH, "a.grad += 1 - t**2")},
        fails={"check_tanh": "chain-stopped-early", "check_backward_example_1": "chain-stopped-early",
               "check_backward_example_2": "chain-stopped-early", "check_train_neuron": "chain-stopped-early"},
    ),
    Sample(
        "the neuron's gradients are never reset",
        {"train_neuron": RIGHT_TRAINING.replace("        w.grad, b.grad = 0.0, 0.0\n", "")},
        fails={"check_train_neuron": "grad-not-reset"},
    ),
    Sample(
        "the neuron trained with PyTorch's autograd instead of the engine",
        {"train_neuron": HEADS["train_neuron"] + """    tw = torch.tensor(w.data, dtype=torch.float64).requires_grad_()
    tb = torch.tensor(b.data, dtype=torch.float64).requires_grad_()
    x, y = torch.tensor(xs, dtype=torch.float64), torch.tensor(ys, dtype=torch.float64)
    losses = []
    for _ in range(steps):
        loss = ((torch.tanh(tw * x + tb) - y) ** 2).sum()
        tw.grad = tb.grad = None
        loss.backward()
        with torch.no_grad():
            tw -= lr * tw.grad
            tb -= lr * tb.grad
        losses.append(loss.item())
    w.data, b.data = tw.item(), tb.item()
    return losses"""},
        fails={"check_train_neuron": "used-autograd"},
    ),
]
