"""The graph drawings of coursework/helpers/graphs.py: every value of the real torch graph gets a box
with the operation that made it (in mathematics, PyTorch's node name beneath), its value and its
gradient, the gradients being autograd's; where a value feeds several operations, the shares on its
arrows add up to its gradient (4 + 60 = 64 in example 2); drawing changes no .grad and fires no hook;
and without Graphviz's `dot` program the helper (and the notebooks that draw) explain how to get the
picture instead of failing."""

import html
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest
import torch
from nbclient import NotebookClient

from coursework.helpers import graphs

EDGE = re.compile(r"^\s*(\w+) -> (\w+)(?: \[(.*)\])?$", re.MULTILINE)
NODE = re.compile(r"^\s*(\w+) \[label=<(.*)>(?: \w+=.*)?\]$", re.MULTILINE)


def example_1():
    x = torch.tensor(3.5, requires_grad=True)
    y = x**2
    z = 2 * y + 3
    return x, y, z


def example_2():
    """Example 2, with every intermediate value kept under the name the drawing gives it."""
    a = torch.tensor(2.0, requires_grad=True)
    b = torch.tensor(1.0, requires_grad=True)
    parts = {"2a": 2 * a, "3b": 3 * b, "a²": a**2, "b³": b**3}
    parts["5a²"], parts["3b³"] = 5 * parts["a²"], 3 * parts["b³"]
    x = parts["2a"] + parts["3b"]
    y = parts["5a²"] + parts["3b³"]
    parts["2x"], parts["3y"] = 2 * x, 3 * y
    z = parts["2x"] + parts["3y"]
    return dict(a=a, b=b, x=x, y=y, z=z), parts


def labels(dot) -> dict[str, list[str]]:
    """Node key -> the lines of its label, as text."""
    return {key: [html.unescape(re.sub(r"<[^>]+>", "", line)) for line in label.split("<BR/>")]
            for key, label in NODE.findall(dot.source)}


def edges(dot) -> list[tuple[str, str, str]]:
    return [(a, b, attrs) for a, b, attrs in EDGE.findall(dot.source) if "invis" not in attrs]


def box(dot, line: str) -> str:
    """The key of the one box with this line in its label."""
    (key,) = [k for k, lines in labels(dot).items() if line in lines]
    return key


def value_box(dot, name: str) -> list[str]:
    """The label lines of the box of the value called `name` ('2y', 'a', ...)."""
    (lines,) = [ls for ls in labels(dot).values() if any(line.startswith(f"{name} = ") for line in ls)]
    return lines


def test_every_value_has_its_operation_value_and_gradient():
    x, y, z = example_1()
    found = sorted(labels(graphs.graph_of(z, x=x, y=y, z=z)).values())
    assert found == sorted([
        ["x = 3.5", "grad 14"],
        ["into x.grad", "AccumulateGrad"],
        ["·²", "PowBackward0", "y = 12.25", "grad 2"],
        ["× 2", "MulBackward0", "2y = 24.5", "grad 1"],
        ["+ 3", "AddBackward0", "z = 27.5", "grad 1"],
    ])


def test_unnamed_values_are_named_by_their_operation():
    x, _, z = example_1()
    assert value_box(graphs.graph_of(z, x=x), "x²")[2:] == ["x² = 12.25", "grad 2"]
    assert value_box(graphs.graph_of(z, x=x), "2x²")[2:] == ["2x² = 24.5", "grad 1"]


def test_the_gradients_are_autograds_for_every_value():
    named, parts = example_2()
    dot = graphs.graph_of(named["z"], **named)
    values = {**named, **parts}
    expected = torch.autograd.grad(named["z"], list(values.values()))
    for (name, t), grad in zip(values.items(), expected):
        assert value_box(dot, name)[-2:] == [f"{name} = {t.item():g}", f"grad {grad.item():g}"], name


def test_the_shares_on_the_arrows_of_a_value_used_twice_add_up_to_its_gradient():
    named, _ = example_2()
    dot = graphs.graph_of(named["z"], **named)
    for leaf, shares, total in [("a", {" ← 4", " ← 60"}, "grad 64"), ("b", {" ← 6", " ← 27"}, "grad 33")]:
        node = box(dot, f"into {leaf}.grad")
        found = {re.search(r'label="([^"]*)"', attrs).group(1) for s, _, attrs in edges(dot) if s == node}
        assert found == shares and value_box(dot, leaf)[-1] == total
    once = [attrs for s, _, attrs in edges(dot) if s != box(dot, "into a.grad") and s != box(dot, "into b.grad")]
    assert all('label=""' in attrs for attrs in once)  # a value used once: its box says it all


def test_drawing_stores_no_gradient_and_fires_no_hook():
    x, y, z = example_1()
    y.retain_grad()
    called = []
    x.register_hook(called.append)
    graphs.graph_of(z, x=x, y=y, z=z)
    assert (x.grad, y.grad, called) == (None, None, [])
    z.backward()
    assert (x.grad.item(), y.grad.item(), len(called)) == (14.0, 2.0, 1)


def test_after_backward_the_drawing_says_the_gradients_are_gone(capsys, monkeypatch):
    x, y, z = example_1()
    z.backward()
    dot, freed = graphs.drawing(z, x=x, y=y, z=z)
    assert freed and not any(line.startswith("grad") for ls in labels(dot).values() for line in ls)
    assert ["x = 3.5"] in labels(dot).values()
    monkeypatch.setattr(graphs, "show", lambda graph: None)
    graphs.draw_graph(z, x=x, y=y, z=z)
    assert "before calling backward()" in capsys.readouterr().out


def test_values_only():
    x, y, z = example_1()
    dot = graphs.graph_of(z, grads=False, x=x, y=y, z=z)
    assert not any(line.startswith("grad") for ls in labels(dot).values() for line in ls)
    assert value_box(dot, "z")[2:] == ["z = 27.5"] and "label=" not in dot.source.split("}")[-1]


def test_an_unnamed_output_a_vector_and_more_operations_still_draw():
    w = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    found = labels(graphs.graph_of((w * 2).sum(), w=w)).values()
    assert ["w = [1, 2, 3]", "grad [2, 2, 2]"] in found
    assert ["Σ", "SumBackward0", "12", "grad 1"] in found
    t = torch.tensor(3.0, requires_grad=True)
    ops = {ls[0] for ls in labels(graphs.graph_of(((t - 1) ** 2 / 2).neg().exp(), t=t)).values()}
    assert {"− 1", "·²", "÷ 2", "−", "exp"} <= ops


def test_the_chain_runs_from_x_to_z():
    x, y, z = example_1()
    dot = graphs.graph_of(z, x=x, y=y, z=z)
    after = {a: b for a, b, _ in edges(dot)}
    walk, node = [], box(dot, "x = 3.5")
    while node in after:
        node = after[node]
        walk.append(labels(dot)[node][1])
    assert walk == ["AccumulateGrad", "PowBackward0", "MulBackward0", "AddBackward0"]


def test_the_paths_from_a_are_red():
    named, _ = example_2()
    dot = graphs.graph_of(named["z"], paths_from="a", **named)
    red = {(s, e) for s, e, attrs in edges(dot) if "red" in attrs}
    a, b = box(dot, "a = 2"), box(dot, "b = 1")
    assert (a, box(dot, "into a.grad")) in red and not any(s in (b, box(dot, "into b.grad")) for s, _ in red)
    assert len(red) == 10  # a -> its node -> 2a, a²; 2a -> x -> 2x -> z; a² -> 5a² -> y -> 3y -> z


def test_show_displays_an_svg(monkeypatch):
    if shutil.which("dot") is None:
        pytest.skip("Graphviz is not installed here")
    shown = []
    monkeypatch.setattr("IPython.display.display", shown.append)
    x, y, z = example_1()
    graphs.draw_graph(z, x=x, y=y, z=z)
    assert len(shown) == 1 and "<svg" in shown[0].data and "grad 14" in shown[0].data


def assert_explains_how_to_get_the_picture(text):
    assert "No picture here" in text
    assert "apt-get install graphviz" in text and "Colab" in text


def test_without_dot_show_explains_instead_of_failing(monkeypatch, capsys):
    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: None)
    x, y, z = example_1()
    assert graphs.draw_graph(z, x=x, y=y, z=z) is None
    out = capsys.readouterr()
    assert_explains_how_to_get_the_picture(out.out)
    assert out.err == ""


def test_with_an_empty_path_show_explains_instead_of_failing(monkeypatch, capsys):
    monkeypatch.setenv("PATH", "")
    from torchviz import make_dot

    x, y, z = example_1()
    graphs.show(make_dot(z, params={"x": x}))
    out = capsys.readouterr()
    assert_explains_how_to_get_the_picture(out.out)
    assert out.err == ""


def test_when_dot_fails_show_explains(monkeypatch, capsys):
    def fail(*args, **kwargs):
        raise graphs.graphviz.ExecutableNotFound(("dot",))

    x, y, z = example_1()
    dot = graphs.graph_of(z, x=x, y=y, z=z)
    monkeypatch.setattr(dot, "pipe", fail)
    graphs.show(dot)
    assert_explains_how_to_get_the_picture(capsys.readouterr().out)


@pytest.mark.parametrize("name", ["03_computation_graph", "04_two_paths"])
def test_notebook_runs_to_its_end_without_graphviz(name, sources, tmp_path):
    """The released notebook, run top to bottom in a kernel whose PATH has no `dot`."""
    nb = nbformat.from_dict(sources[name])
    client = NotebookClient(nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env={**os.environ, "PATH": ""})
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error" or o.get("name") == "stderr"]
    lesson = [cell for cell in nb.cells if cell.cell_type == "code" and cell.id != "helpers"]
    drawn = [cell for cell in lesson if "show(" in cell.source or "draw_graph(" in cell.source]
    assert drawn
    for cell in drawn:
        text = "".join(o.get("text", "") for o in cell.outputs)
        assert_explains_how_to_get_the_picture(text)
        assert not any("image/svg+xml" in o.get("data", {}) for o in cell.outputs)
    assert "Visible checks passed" in "".join(o.get("text", "") for o in nb.cells[-1].outputs)


DRAWINGS = """
import torch
from coursework.helpers.descent import plot_decision_boundary
from coursework.helpers.graphs import draw_graph
from coursework.helpers.tensors import show_tensors

x = torch.tensor(3.5, requires_grad=True)
z = 2 * x**2 + 3
show_tensors(x=x)
draw_graph(z, x=x, z=z)
plot_decision_boundary(torch.nn.Linear(2, 1), torch.randn(5, 2), torch.ones(5))
"""


@pytest.mark.parametrize("text_only", [False, True])
def test_drawing_helpers_draw_only_where_pictures_are_shown(text_only, tmp_path):
    """In a kernel that keeps outputs as text only (the grader's), the helpers skip the drawing."""
    if shutil.which("dot") is None:
        pytest.skip("Graphviz is not installed here")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(DRAWINGS)])
    arguments = ["--DisplayFormatter.active_types=['text/plain']"] if text_only else []
    resources = {"metadata": {"path": str(tmp_path)}}
    client = NotebookClient(nb, kernel_name="python3", timeout=120, extra_arguments=arguments, resources=resources)
    client.execute(env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    outputs = nb.cells[0].outputs
    assert not [o for o in outputs if o.output_type == "error"]
    pictures = [o for o in outputs if {"image/png", "image/svg+xml"} & set(o.get("data", {}))]
    assert (len(pictures), len(outputs)) == ((0, 0) if text_only else (3, 3))


# ---- The graphs of your own Values (notebook 07) ------------------------------------------------------


def as_torch_draws_it_without_its_own_parts(dot) -> str:
    """PyTorch's drawing without what only PyTorch has: its node names (the small grey line) and each
    leaf's AccumulateGrad node, the leaf's arrows leaving from the leaf's box instead."""
    source = re.sub(r'<BR/><FONT POINT-SIZE="8" COLOR="grey35">\w+</FONT>', "", dot.source)
    leaves = re.findall(r"^\tn(\d+) \[label=<<B>into ", source, re.MULTILINE)
    lines = [line for line in source.splitlines(keepends=True)
             if not re.match(r"\tn(\d+) \[label=<<B>into |\tt(\d+) -> n\2 ", line)]
    source = "".join(lines)
    for key in leaves:
        source = re.sub(rf"\bn{key} ->", f"t{key} ->", source)
    return source


def neuron(w, b, tanh):
    """A neuron and its squared error, with every operation of the engine: ×, +, tanh, −, neg, **. PyTorch's
    graph keeps no number for out − 0.25: named, the drawing knows it."""
    out = tanh(w * -1.5 + b)
    error = out - 0.25
    return {"out": out, "error": error, "z": (-error) ** 2 * 0.5}


EXPRESSIONS = {  # name: (the named values of an expression of the inputs, the inputs, paths_from)
    "example 1": (lambda x, tanh: {"y": x**2, "z": 2 * x**2 + 3}, {"x": 3.5}, None),
    "example 2": (lambda a, b, tanh: dict(zip("xyz", example_2_of(a, b))), {"a": 2.0, "b": 1.0}, "a"),
    "a neuron": (neuron, {"w": 0.5, "b": -0.25}, "w"),
    "a value used twice": (lambda a, b, tanh: {"u": a * b, "z": (a * b) * (a * b + 1)}, {"a": 2.0, "b": -1.5}, None),
}


def example_2_of(a, b):
    x = 2 * a + 3 * b
    y = 5 * a**2 + 3 * b**3
    return x, y, 2 * x + 3 * y


@pytest.mark.parametrize("name", EXPRESSIONS)
def test_a_value_graph_is_drawn_as_torch_draws_the_same_expression(name):
    """The drawing of your Values after backward() is PyTorch's drawing of the same expression (before
    its backward()), less PyTorch's node names and AccumulateGrad nodes: the same boxes, operations,
    numbers, gradients, shares and red paths."""
    from conftest import engine

    build, inputs, paths_from = EXPRESSIONS[name]
    ns = engine()
    values = {n: ns["Value"](v) for n, v in inputs.items()}
    drawn = build(*values.values(), ns["tanh"])
    drawn["z"].backward()
    tensors = {n: torch.tensor(v, dtype=torch.float64, requires_grad=True) for n, v in inputs.items()}
    torch_drawn = build(*tensors.values(), torch.tanh)
    ours = graphs.graph_of(drawn["z"], paths_from=paths_from, **values, **drawn)
    theirs = graphs.graph_of(torch_drawn["z"], paths_from=paths_from, **tensors, **torch_drawn)
    assert ours.source == as_torch_draws_it_without_its_own_parts(theirs)
    assert "grad " in ours.source and "AccumulateGrad" not in ours.source


def test_the_shares_of_your_engine_add_up_as_torch_s_do():
    from conftest import engine

    ns = engine()
    a, b = ns["Value"](2.0), ns["Value"](1.0)
    x, y, z = example_2_of(a, b)
    z.backward()
    dot = graphs.graph_of(z, a=a, b=b, x=x, y=y, z=z)
    found = {re.search(r'label="([^"]*)"', attrs).group(1) for s, _, attrs in edges(dot) if s == box(dot, "a = 2")}
    assert found == {" ← 4", " ← 60"} and value_box(dot, "a")[-1] == "grad 64"


def test_drawing_your_values_changes_no_grad():
    from conftest import engine

    ns = engine()
    a, b = ns["Value"](2.0), ns["Value"](1.0)
    x, y, z = example_2_of(a, b)
    z.backward()
    before = [v.grad for v in (a, b, x, y, z)]
    graphs.graph_of(z, a=a, b=b)
    assert [v.grad for v in (a, b, x, y, z)] == before == [64.0, 33.0, 2.0, 3.0, 1.0]


def test_the_drawing_shows_what_your_engine_computed():
    """With a rule that overwrites .grad, a's box shows what the engine left (one path's share)."""
    from conftest import engine

    ns = engine(mul='''def mul(a, b):
    out = Value(a.data * b.data, parents=(a, b), op="*")

    def _backward():
        a.grad = b.data * out.grad
        b.grad = a.data * out.grad

    out._backward = _backward
    return out''')
    a, b = ns["Value"](2.0), ns["Value"](1.0)
    x, y, z = example_2_of(a, b)
    z.backward()
    assert value_box(graphs.graph_of(z, a=a, b=b, z=z), "a")[-1] == f"grad {a.grad:g}" != "grad 64"


def test_before_backward_a_value_drawing_says_so(capsys, monkeypatch):
    from conftest import engine

    ns = engine()
    x = ns["Value"](3.5)
    z = 2 * x**2 + 3
    dot, not_run = graphs.drawing(z, x=x, z=z)
    assert not_run and not any(line.startswith("grad") for ls in labels(dot).values() for line in ls)
    assert ["x = 3.5"] in labels(dot).values() and value_box(dot, "z")[1:] == ["z = 27.5"]
    monkeypatch.setattr(graphs, "show", lambda graph: None)
    graphs.draw_graph(z, x=x, z=z)
    assert "backward() has not run on it yet" in capsys.readouterr().out


def test_a_value_with_no_parents_is_one_box():
    from conftest import engine

    x = engine()["Value"](3.5)
    assert [["x = 3.5"]] == list(labels(graphs.graph_of(x, x=x)).values())
