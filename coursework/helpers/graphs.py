"""Pictures of PyTorch's computation graph.

`graph_of(z, x=x, y=y, z=z)` draws the graph that PyTorch recorded while computing `z`: its
backward nodes (grey ovals, named as PyTorch names them) and, in boxes, the tensors you name,
each with its value and its `.grad`. torchviz's `make_dot` shows the nodes but neither values nor
gradients. `show(graph)` displays a drawing (this one or torchviz's); when Graphviz's `dot`
program is missing, it says how to get the picture instead of failing.
"""

import shutil

import graphviz

from coursework.helpers.checks import pictures_shown

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

LEAF_COLOR, OUTPUT_COLOR, TENSOR_COLOR, NODE_COLOR = "lightblue", "darkolivegreen1", "lightyellow", "lightgrey"


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
    """Draw the graph that computed `output`, with the named tensors' values and gradients."""
    show(graph_of(output, paths_from, grads, **named))


def number(t):
    """A tensor's numbers, short: `3.5`, `[1, 2, 3]`, or its shape when it is big."""
    t = t.detach()
    if t.numel() == 1:
        return f"{t.item():.6g}"
    if t.numel() <= 4:
        return "[" + ", ".join(f"{v:.4g}" for v in t.flatten().tolist()) + "]"
    return f"a tensor of shape {tuple(t.shape)}"


def grad_text(name, t):
    """What `name.grad` holds, without reading `.grad` where PyTorch would warn about it."""
    if not (t.is_leaf or t.retains_grad):
        return f"{name}.grad not kept\\n(call {name}.retain_grad()\\nbefore backward)"
    if t.grad is None:
        return f"{name}.grad = None\\n(no backward yet)" if t.requires_grad else f"{name}.grad = None"
    return f"{name}.grad = {number(t.grad)}"


def tensor_label(name, t, grads=True):
    text = f"{name} = {number(t)}"
    return f"{text}\\n{grad_text(name, t)}" if grads else text


def graph_of(output, paths_from=None, grads=True, **named):
    """The computation graph of `output` as a graphviz.Digraph.

    Walks `output.grad_fn` and each node's `next_functions` down to the leaves (a leaf's node is
    an `AccumulateGrad`, whose `.variable` is the leaf tensor). Arrows point the way the forward
    pass went; `backward()` walks them in reverse. Pass the tensors you want labelled by keyword:
    `graph_of(z, x=x, y=y, z=z)`; call `retain_grad()` on the non-leaf ones before `backward()` to
    see their gradients (`grads=False` shows values only). `paths_from="a"` draws in red every
    path from the tensor named a.
    """
    name_of = {id(t): name for name, t in named.items()}
    # Python hands out a new wrapper object for a node each time it is asked; `alive` keeps the
    # ones we met, so that their id() stays theirs while we draw.
    alive = [t.grad_fn for t in named.values()]
    produced_by = {id(fn): (name, t) for fn, (name, t) in zip(alive, named.items()) if fn is not None}
    nodes, edges, done, tensor_keys = [], [], {}, {}

    def add_tensor(t, name, color):
        if id(t) not in tensor_keys:
            tensor_keys[id(t)] = f"t{len(tensor_keys)}"
            nodes.append((tensor_keys[id(t)], tensor_label(name, t, grads), "box", color))
        return tensor_keys[id(t)]

    def visit(fn):
        """Note `fn` and what leads to it; return the graph node that stands for its result."""
        if id(fn) in done:
            return done[id(fn)]
        alive.append(fn)
        key = f"n{len(nodes)}"
        nodes.append((key, type(fn).__name__, "ellipse", NODE_COLOR))
        if hasattr(fn, "variable"):  # AccumulateGrad: the node that adds into a leaf's .grad
            edges.append((add_tensor(fn.variable, name_of.get(id(fn.variable), "leaf"), LEAF_COLOR), key))
        for source, _ in fn.next_functions:
            if source is not None:
                edges.append((visit(source), key))
        result = key
        if id(fn) in produced_by:  # a named tensor came out of this node: draw it below the node
            name, t = produced_by[id(fn)]
            result = add_tensor(t, name, OUTPUT_COLOR if t is output else TENSOR_COLOR)
            edges.append((key, result))
        done[id(fn)] = result
        return result

    for name, t in named.items():  # the named leaves first, in the order given
        if t.grad_fn is None and t is not output:
            add_tensor(t, name, LEAF_COLOR)
    root = output.grad_fn
    if root is None:
        add_tensor(output, name_of.get(id(output), "output"), LEAF_COLOR)
    else:
        end = visit(root)
        if id(root) not in produced_by:  # the output was not named: still show its value
            nodes.append(("output", f"output = {number(output)}", "box", OUTPUT_COLOR))
            edges.append((end, "output"))

    red = set()
    if paths_from is not None:  # every edge that leaves a node reachable from that tensor
        reached, grown = {tensor_keys.get(id(named[paths_from]))}, True
        while grown:
            grown = False
            for source, target in edges:
                if source in reached and target not in reached:
                    reached.add(target)
                    grown = True
        red = {e for e in edges if e[0] in reached}

    dot = graphviz.Digraph(
        graph_attr={"rankdir": "TB", "nodesep": "0.3", "ranksep": "0.35"},
        node_attr={"fontname": "Helvetica", "fontsize": "11", "style": "filled", "height": "0.3"},
    )
    for key, label, shape, color in nodes:
        dot.node(key, label, shape=shape, fillcolor=color)
    for edge in edges:
        dot.edge(*edge, **({"color": "red", "penwidth": "2"} if edge in red else {}))
    leaves = [tensor_keys[id(t)] for t in named.values() if id(t) in tensor_keys and t.grad_fn is None]
    with dot.subgraph() as row:  # the named leaves side by side at the top, in the order given
        row.attr(rank="same")
        for left, right in zip(leaves, leaves[1:]):
            row.edge(left, right, style="invis")
    return dot
