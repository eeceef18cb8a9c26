"""The checks of 03_computation_graph, run in-process: the node list is compared with the graph
PyTorch records (names, node objects or one string; with or without AccumulateGrad), misreadings
are explained, and a visible check never raises, returns nothing and writes nothing to stderr."""

import pytest
import torch
from conftest import assert_fails_quietly, assert_names

from coursework.helpers import chain_rule


def not_answered():
    raise NotImplementedError()


WEIRD = {
    "not answered": not_answered,
    "returns None": lambda: None,
    "returns a number": lambda: 3,
    "returns a tensor": lambda: torch.ones(3),
    "returns a dict": lambda: {"grad": 1},
    "raises": lambda: 1 / 0,
    "is a value": ["AddBackward0"],
}

CHECKS = {
    "backward_nodes": chain_rule.check_backward_nodes,
    "tensors_with_grad": chain_rule.check_tensors_with_grad,
    "dz_dy": chain_rule.check_dz_dy,
}


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("answer", WEIRD)
def test_visible_check_never_raises_and_hidden_one_fails(check, answer, capsys):
    assert_fails_quietly(CHECKS[check], WEIRD[answer], capsys)


def walked_nodes():
    x = torch.tensor(3.5, requires_grad=True)
    z = 2 * x**2 + 3
    nodes, node = [], z.grad_fn
    while node is not None:
        nodes.append(node)
        node = node.next_functions[0][0] if node.next_functions else None
    return nodes


RIGHT_NODES = [
    lambda: ["AddBackward0", "MulBackward0", "PowBackward0", "AccumulateGrad"],
    lambda: ("AddBackward0", "MulBackward0", "PowBackward0"),
    lambda: "AddBackward0 -> MulBackward0 -> PowBackward0 -> AccumulateGrad",
    lambda: ["addbackward", "mulbackward", "powbackward"],
    lambda: [n.name() for n in walked_nodes()],
    walked_nodes,
    lambda: [str(n) for n in walked_nodes()],
]


@pytest.mark.parametrize("answer", RIGHT_NODES)
def test_right_node_lists_pass(answer, capsys):
    chain_rule.check_backward_nodes(answer, must_pass=True)
    assert capsys.readouterr().out.startswith("✅")


WRONG_NODES = [
    (["AddBackward0", "MulBackward0"], "chain-stopped-early", "stops before"),
    (["AddBackward0"], "chain-stopped-early", "stops before"),
    (["PowBackward0", "MulBackward0", "AddBackward0"], None, "other way"),
    (["AccumulateGrad", "PowBackward0", "MulBackward0", "AddBackward0"], None, "other way"),
    (["add", "mul", "pow"], None, "as PyTorch prints them"),
    (["z", "y", "x"], None, "as PyTorch prints them"),
    (["MulBackward0", "PowBackward0"], None, "next_functions"),
    (["AddBackward0", "PowBackward0", "MulBackward0"], None, "next_functions"),
    ([], None, "next_functions"),
]


@pytest.mark.parametrize(("answer", "tag", "phrase"), WRONG_NODES)
def test_wrong_node_lists_are_explained(answer, tag, phrase, capsys):
    assert phrase in assert_names(chain_rule.check_backward_nodes, lambda: answer, tag, capsys)


@pytest.mark.parametrize("answer", [{"x"}, ["x"], ("x",), "x", {" X "}])
def test_tensors_with_grad_right(answer, capsys):
    chain_rule.check_tensors_with_grad(lambda: answer, must_pass=True)
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        ({"x", "y", "z"}, "only in leaf tensors"),
        ({"x", "y"}, "only in leaf tensors"),
        ({"z"}, "starts at z"),
        (set(), ""),
    ],
)
def test_tensors_with_grad_wrong(answer, phrase, capsys):
    assert phrase in assert_names(chain_rule.check_tensors_with_grad, lambda: answer, None, capsys)


DZ_DY = [
    (14.0, "swapped-variable", "dz/dx"),
    (4.0, None, "which is not dz/dy"),  # twice the answer: no backward() runs when reading a drawing
    (torch.tensor(6.0), None, "which is not dz/dy"),
    (12.25, None, "y's value"),
    (27.5, None, "z's value"),
    (1, None, "dz/dz"),
    (7.0, None, "dy/dx"),
    (3.0, None, "which is not dz/dy"),
]


@pytest.mark.parametrize(("value", "tag", "phrase"), DZ_DY)
def test_dz_dy_misreadings_are_explained(value, tag, phrase, capsys):
    assert phrase in assert_names(chain_rule.check_dz_dy, lambda: value, tag, capsys)


def test_dz_dy_right_as_float_or_tensor(capsys):
    chain_rule.check_dz_dy(lambda: 2.0, must_pass=True)
    chain_rule.check_dz_dy(lambda: torch.tensor(2.0, requires_grad=True), must_pass=True)
    assert capsys.readouterr().out.count("✅") == 2
