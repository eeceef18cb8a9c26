"""The graph drawings of coursework/helpers/graphs.py: each named tensor's box carries its name, value
and gradient; both paths of example 2 show; and without Graphviz's `dot` program the helper (and the
notebooks that draw) explain how to get the picture instead of failing."""

import os
import re
import shutil
import warnings
from pathlib import Path

import nbformat
import pytest
import torch
from nbclient import NotebookClient

from coursework.helpers import graphs

EDGE = re.compile(r"^\s*(\w+) -> (\w+)(?: \[(.*)\])?$", re.MULTILINE)
NODE = re.compile(r"^\s*(\w+) \[label=(\"[^\"]*\"|\S+)", re.MULTILINE)


def example_1(retain=True):
    x = torch.tensor(3.5, requires_grad=True)
    y = x**2
    z = 2 * y + 3
    if retain:
        y.retain_grad()
        z.retain_grad()
    z.backward()
    return x, y, z


def example_2():
    a = torch.tensor(2.0, requires_grad=True)
    b = torch.tensor(1.0, requires_grad=True)
    x = 2 * a + 3 * b
    y = 5 * a**2 + 3 * b**3
    z = 2 * x + 3 * y
    for t in (x, y, z):
        t.retain_grad()
    z.backward()
    return dict(a=a, b=b, x=x, y=y, z=z)


def labels(dot) -> dict[str, str]:
    """Node key -> its label, with graphviz's line breaks as real ones."""
    return {key: label.strip('"').replace("\\n", "\n") for key, label in NODE.findall(dot.source)}


def edges(dot) -> list[tuple[str, str, str]]:
    return [(a, b, attrs) for a, b, attrs in EDGE.findall(dot.source) if "invis" not in attrs]


def key_of(dot, first_line: str) -> str:
    (key,) = [k for k, label in labels(dot).items() if label.split("\n")[0] == first_line]
    return key


def count_paths(dot, start: str, end: str) -> int:
    after: dict[str, list[str]] = {}
    for a, b, _ in edges(dot):
        after.setdefault(a, []).append(b)

    def count(node):
        return 1 if node == end else sum(count(n) for n in after.get(node, []))

    return count(start)


def test_boxes_carry_name_value_and_gradient():
    x, y, z = example_1()
    found = labels(graphs.graph_of(z, x=x, y=y, z=z))
    boxes = {label for label in found.values() if " = " in label}
    assert boxes == {"x = 3.5\nx.grad = 14", "y = 12.25\ny.grad = 2", "z = 27.5\nz.grad = 1"}
    nodes = sorted(label for label in found.values() if " = " not in label)
    assert nodes == ["AccumulateGrad", "AddBackward0", "MulBackward0", "PowBackward0"]


def test_the_chain_runs_from_x_to_z_through_the_backward_nodes():
    x, y, z = example_1()
    dot = graphs.graph_of(z, x=x, y=y, z=z)
    names = labels(dot)
    after = {a: b for a, b, _ in edges(dot)}
    walk, node = [], key_of(dot, "x = 3.5")
    while node in after:
        node = after[node]
        walk.append(names[node].split("\n")[0])
    assert walk == ["AccumulateGrad", "PowBackward0", "y = 12.25", "MulBackward0", "AddBackward0", "z = 27.5"]


def test_a_gradient_not_kept_is_said_so_without_a_warning():
    x, y, z = example_1(retain=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # reading y.grad of a non-leaf would warn
        found = labels(graphs.graph_of(z, x=x, y=y, z=z)).values()
    assert "x = 3.5\nx.grad = 14" in found
    assert any(label.startswith("y = 12.25\ny.grad not kept") and "retain_grad()" in label for label in found)


def test_before_backward_and_values_only():
    x = torch.tensor(3.5, requires_grad=True)
    z = 2 * x**2 + 3
    found = labels(graphs.graph_of(z, x=x, z=z)).values()
    assert "x = 3.5\nx.grad = None\n(no backward yet)" in found
    assert {"x = 3.5", "z = 27.5"} <= set(labels(graphs.graph_of(z, grads=False, x=x, z=z)).values())


def test_an_unnamed_output_and_a_vector_still_draw():
    w = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    found = labels(graphs.graph_of((w * 2).sum(), w=w)).values()
    assert "w = [1, 2, 3]\nw.grad = None\n(no backward yet)" in found
    assert "output = 12" in found


def test_both_paths_of_example_2_show_and_those_from_a_are_red():
    t = example_2()
    dot = graphs.graph_of(t["z"], paths_from="a", **t)
    found = set(labels(dot).values())
    values = {"a": ("2", "64"), "b": ("1", "33"), "x": ("7", "2"), "y": ("23", "3"), "z": ("83", "1")}
    assert {f"{n} = {v}\n{n}.grad = {g}" for n, (v, g) in values.items()} <= found
    a, b, x, y, z = (key_of(dot, first) for first in ["a = 2", "b = 1", "x = 7", "y = 23", "z = 83"])
    assert count_paths(dot, a, z) == 2 and count_paths(dot, b, z) == 2
    assert count_paths(dot, a, x) == 1 and count_paths(dot, a, y) == 1
    red = {(s, e) for s, e, attrs in edges(dot) if "red" in attrs}
    assert (a, next(e for s, e, _ in edges(dot) if s == a)) in red
    assert all((s, e) in red for s, e, _ in edges(dot) if s in (x, y))
    assert not any(s == b for s, _ in red)


def test_show_displays_an_svg(monkeypatch):
    if shutil.which("dot") is None:
        pytest.skip("Graphviz is not installed here")
    shown = []
    monkeypatch.setattr("IPython.display.display", shown.append)
    x, y, z = example_1()
    graphs.draw_graph(z, x=x, y=y, z=z)
    assert len(shown) == 1 and "<svg" in shown[0].data and "x.grad = 14" in shown[0].data


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
z.backward()
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
