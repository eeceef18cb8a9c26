"""Notebook 07's checks, called directly on engines built from the notebook's cells: the solution's
engine passes every visible and hidden check and gives the series' numbers (14, 64, 33); an engine
whose parts are not written yet is told which part; odd answers fail quietly; PyTorch's autograd
inside the engine is refused; the demonstrations say what is missing instead of stopping; and what
the notebook says of the training (the two engines agree to the last digits, forgetting the reset
sends w to about 20) holds."""

import re

import nbformat
import pytest
import torch
from conftest import assert_fails_quietly, engine, tags

from coursework import config
from coursework.helpers import engine as checks
from coursework.helpers.checks import CheckFailed

NOTEBOOK = "07_build_your_own_autograd"


def cells():
    return {c.id: c.source for c in nbformat.read(config.SOLUTIONS / f"{NOTEBOOK}.ipynb", as_version=4).cells}


def run_check_cell(cell_id, ns):
    """A test cell of the solution, hidden tests included, run against the engine `ns`."""
    scope = {**ns, **{name: getattr(checks, name) for name in checks.__all__}}
    exec(re.sub(r"### (BEGIN|END) HIDDEN TESTS", "", cells()[cell_id]), scope)


CHECK_CELLS = ["check_mul", "check_power", "check_neg_and_sub", "check_tanh", "check_topological_order",
               "check_backward_example_1", "check_backward_example_2", "check_train_neuron"]


@pytest.mark.parametrize("cell_id", CHECK_CELLS)
def test_the_solution_passes_every_visible_and_hidden_check(cell_id, capsys):
    run_check_cell(cell_id, engine())
    out = capsys.readouterr().out
    assert out.count("✅") == 2 and "❌" not in out, out


def test_the_series_numbers_on_the_solution_engine():
    ns = engine()
    x = ns["Value"](3.5)
    z = 2 * x**2 + 3
    z.backward()
    a, b = ns["Value"](2.0), ns["Value"](1.0)
    z2 = 2 * (2 * a + 3 * b) + 3 * (5 * a**2 + 3 * b**3)
    z2.backward()
    assert (x.grad, a.grad, b.grad) == (14.0, 64.0, 33.0)


def stub(source):
    """A cell as the student version has it: every solution region replaced by the stub."""
    return re.sub(r"( *)### BEGIN SOLUTION\n.*?### END SOLUTION", r"\1raise NotImplementedError()", source, flags=re.S)


def test_a_check_names_the_part_that_is_not_written_yet(capsys):
    source = cells()
    ns = engine(power=stub(source["power"]))
    checks.check_backward_example_1(ns["backward"], ns["Value"])
    out = capsys.readouterr().out
    assert out.startswith("❌") and "not answered yet" in out and "`power` (exercise 2)" in out, out
    checks.check_mul(ns["mul"], ns["Value"])
    assert capsys.readouterr().out.startswith("✅")


def not_answered(*args):
    raise NotImplementedError()


ODD = {
    "not answered": not_answered,
    "not a function": 3,
    "returns None": lambda *args: None,
    "raises": lambda *args: [][1],
    "takes one argument": lambda a: a,
    "returns a string": lambda *args: "64",
}
CHECKS = {
    "mul": lambda fn, ns, **kw: checks.check_mul(fn, ns["Value"], **kw),
    "power": lambda fn, ns, **kw: checks.check_power(fn, ns["Value"], **kw),
    "neg_and_sub": lambda fn, ns, **kw: checks.check_neg_and_sub(fn, ns["sub"], ns["Value"], **kw),
    "tanh": lambda fn, ns, **kw: checks.check_tanh(fn, ns["Value"], **kw),
    "topological_order": lambda fn, ns, **kw: checks.check_topological_order(fn, ns["Value"], **kw),
    "backward_example_1": lambda fn, ns, **kw: checks.check_backward_example_1(fn, ns["Value"], **kw),
    "backward_example_2": lambda fn, ns, **kw: checks.check_backward_example_2(fn, ns["Value"], **kw),
    "train_neuron": lambda fn, ns, **kw: checks.check_train_neuron(fn, ns["Value"], **kw),
}


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("answer", ODD)
def test_visible_check_never_raises_and_hidden_one_fails(check, answer, capsys):
    ns = engine()
    assert_fails_quietly(lambda fn, must_pass=False: CHECKS[check](fn, ns, must_pass=must_pass), ODD[answer], capsys)


ODD_ORDERS = {
    "the output only": (lambda out: [out], "leaves out"),
    "numbers": (lambda out: [1.0, 2.0], "not only Values"),
    "a generator": (lambda out: (v for v in [out]), "leaves out"),
}


@pytest.mark.parametrize("answer", ODD_ORDERS)
def test_an_odd_order_is_explained(answer, capsys):
    fn, says = ODD_ORDERS[answer]
    checks.check_topological_order(fn, engine()["Value"])
    out = capsys.readouterr().out
    assert out.startswith("❌") and says in out, out


def test_an_order_in_the_other_direction_gets_a_hint_not_a_tag(capsys):
    ns = engine()
    checks.check_topological_order(lambda out: ns["topological_order"](out)[::-1], ns["Value"])
    out = capsys.readouterr().out
    assert out.startswith("❌") and "other direction" in out and not tags(out), out


AUTOGRAD_RULE = '''def mul(a, b):
    out = Value(a.data * b.data, parents=(a, b), op="*")

    def _backward():
        ta = torch.tensor(a.data, requires_grad=True)
        tb = torch.tensor(b.data, requires_grad=True)
        da, db = torch.autograd.grad(ta * tb, (ta, tb))
        a.grad += da.item() * out.grad
        b.grad += db.item() * out.grad

    out._backward = _backward
    return out'''


def test_autograd_inside_the_engine_is_refused(capsys):
    ns = engine(mul=AUTOGRAD_RULE)
    checks.check_mul(ns["mul"], ns["Value"])
    out = capsys.readouterr().out
    assert out.startswith("❌") and tags(out) == {"used-autograd"}, out
    with pytest.raises(CheckFailed, match="used-autograd"):
        checks.check_backward_example_2(ns["backward"], ns["Value"], must_pass=True)


def test_losses_returned_as_values_are_read(capsys):
    ns = engine()

    def train(w, b, xs, ys, steps, lr):
        return [ns["Value"](loss) for loss in ns["train_neuron"](w, b, xs, ys, steps, lr)]

    checks.check_train_neuron(train, ns["Value"], must_pass=True)
    assert capsys.readouterr().out.startswith("✅")


def test_a_wrong_loss_record_is_named(capsys):
    ns = engine()

    def train(w, b, xs, ys, steps, lr):
        return ns["train_neuron"](w, b, xs, ys, steps, lr)[1:] + [0.0]

    checks.check_train_neuron(train, ns["Value"])
    out = capsys.readouterr().out
    assert out.startswith("❌") and "your loss at step 1" in out, out


def test_your_code_says_what_is_missing_and_what_failed(capsys):
    ns = engine(backward=stub(cells()["backward"]))
    with checks.your_code():
        z = 2 * ns["Value"](3.5) ** 2 + 3
        z.backward()
    with checks.your_code():
        [][1]
    out = capsys.readouterr()
    assert "needs your `backward` (exercise 6), which is not written yet" in out.out
    assert "IndexError" in out.out and out.err == ""


def test_watch_backward_shows_the_two_shares_arrive_and_add(capsys):
    ns = engine()
    a, b = ns["Value"](2.0), ns["Value"](1.0)
    z = 2 * (2 * a + 3 * b) + 3 * (5 * a**2 + 3 * b**3)
    rules = [(v, v._backward) for v in checks.below(z)]
    checks.watch_backward(z, a=a)
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["the rule of a**2 changes a.grad from 0 to 60", "the rule of 2 * a changes a.grad from 60 to 64"]
    assert all(v._backward is rule for v, rule in rules)  # the engine's own rules again


def notebook_training():
    scope = {"torch": torch}
    exec(cells()["data"] + "\n" + cells()["torch_training"], scope)
    return scope


def test_the_two_engines_end_at_the_same_parameters_to_the_last_digits():
    scope, ns = notebook_training(), engine()
    w, b = ns["Value"](-0.3), ns["Value"](0.5)
    yours = ns["train_neuron"](w, b, scope["xs"], scope["ys"], 30, 0.05)
    tw, tb, theirs = scope["train_neuron_torch"](-0.3, 0.5, scope["xs"], scope["ys"], 30, 0.05)
    assert abs(w.data - tw) < 1e-12 and abs(b.data - tb) < 1e-12
    assert max(abs(x - y) for x, y in zip(yours, theirs)) < 1e-12
    assert theirs == sorted(theirs, reverse=True)  # a good loop's loss falls at every step
    assert (tw, tb, theirs) == checks.torch_training(-0.3, 0.5, scope["xs"], scope["ys"], 30, 0.05)


def test_without_the_reset_w_runs_to_about_20_and_the_loss_swings():
    scope = notebook_training()
    _, _, reset = scope["train_neuron_torch"](-0.3, 0.5, scope["xs"], scope["ys"], 30, 0.05)
    w, _, never = scope["train_neuron_torch"](-0.3, 0.5, scope["xs"], scope["ys"], 30, 0.05, reset=False)
    assert round(w) == 20
    assert never[:2] == reset[:2] and never[2] < reset[2]  # alike, then faster at first
    assert 0.135 < min(never[5:]) and max(never[5:]) < 0.275  # "swings between about 0.14 and 0.27"
    assert sum(later > earlier for earlier, later in zip(never[5:], never[6:])) >= 5 and reset[-1] < 0.01
