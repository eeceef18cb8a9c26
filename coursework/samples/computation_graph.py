"""Sample hand-ins for 03_computation_graph: right answers found other ways (walking the graph in
code), and the classic ways to misread the graph. The written answer is graded by hand."""

from coursework.samples import Sample

NOTEBOOK = "03_computation_graph"

NODES = '''def backward_nodes():
    """The names of the backward nodes from z.grad_fn down to x, in order (a list of strings)."""
'''
WITH_GRAD = '''def tensors_with_grad():
    """The names of the tensors among x, y, z that hold a .grad after z.backward()."""
'''
DZ_DY = '''def dz_dy():
    """dz/dy at x = 3.5, read from the drawing (a number)."""
'''

SAMPLES = [
    Sample(
        "right: the graph walked in code, a list, a tensor",
        {
            "backward_nodes": NODES
            + """    x = torch.tensor(3.5, requires_grad=True)
    z = 2 * x**2 + 3
    names = []
    node = z.grad_fn
    while node is not None:
        names.append(node.name())
        node = node.next_functions[0][0] if node.next_functions else None
    return names""",
            "tensors_with_grad": WITH_GRAD + '    return ["x"]',
            "dz_dy": DZ_DY + "    return torch.tensor(2.0)",
        },
    ),
    Sample(
        "stopped before x; read x's gradient; every tensor keeps a gradient",
        {
            "backward_nodes": NODES + '    return ["AddBackward0", "MulBackward0"]',
            "tensors_with_grad": WITH_GRAD + '    return {"x", "y", "z"}',
            "dz_dy": DZ_DY + "    return 14.0",
        },
        fails={
            "check_backward_nodes": "chain-stopped-early",
            "check_tensors_with_grad": None,
            "check_dz_dy": "swapped-variable",
        },
    ),
    Sample(
        "listed from x up to z; only the output; dz/dy from backward() instead of the drawing",
        {
            "backward_nodes": NODES + '    return ["PowBackward0", "MulBackward0", "AddBackward0"]',
            "tensors_with_grad": WITH_GRAD + '    return {"z"}',
            "dz_dy": DZ_DY
            + """    x = torch.tensor(3.5, requires_grad=True)
    y = x**2
    y.retain_grad()
    z = 2 * y + 3
    z.backward(retain_graph=True)
    z.backward()
    return y.grad""",
        },
        fails={
            "check_backward_nodes": None,
            "check_tensors_with_grad": None,
            "check_dz_dy": "used-autograd",
        },
    ),
]
