"""The catalogues of known mistakes: one table per exercise (tag, formula or number, hint), generated
from the exercise's derivation. Every entry of every table, answered as a student would, fails its
exercise's visible and hidden checks naming that entry's tag and hint; the mistakes the course set
out to recognise are in them; a new derivation gets its table without writing one; and no failing
visible check shows a number that an exercise asks for. Notebook 07's tables too: each rule's
mistakes (generated from its local derivatives), the bugs of backward(), the training's mistakes."""

import math
import re

import pytest
import torch
from conftest import engine, tags

from coursework.helpers import chain_rule, descent, operations, practice
from coursework.helpers import engine as engine_checks
from coursework.helpers.checks import CheckFailed, close
from coursework.helpers.derivations import Derivation, Factor, at_point, catalogue
from coursework.helpers.operations import OPERATIONS

# The hidden tests' points, as the notebooks pass them (0-d tensor arguments included).
HIDDEN = {
    "x": [3.5, -2.0, 0.0, 1.0, 10.0, -3.5, 0.25, -0.1, 123.0, torch.tensor(-1.5),
          torch.tensor(2.0, dtype=torch.float64)],
    "w": [0.5, 0.0, -1.0, 2.0, -0.5, 3.5, -2.25, 10.0, torch.tensor(-0.75), torch.tensor(1.0, dtype=torch.float64)],
    "ab": [(2.0, 1.0), (-1.0, 0.5), (0.0, -2.0), (1.5, 3.0), (0.0, 0.0), (-3.5, -1.0), (10.0, -4.0), (0.25, 0.1),
           (torch.tensor(-2.0), torch.tensor(1.5)), (torch.tensor(3.0, dtype=torch.float64), 2.0)],
}
LINE = torch.linspace(-2, 3, 9)
HIDDEN["line"] = descent.line_points([(0.0, 0.0), (0.5, -0.3), (2.5, 1.5), (3.0, -2.0)],
                                     [descent.notebook_line_data(), (LINE, LINE**2 - 1)])

FORMULAS = {  # exercise: (its check, the hidden points)
    "dz_dx": (chain_rule.check_dz_dx, HIDDEN["x"]),
    "dw_dx": (chain_rule.check_dw_dx, HIDDEN["w"]),
    "dz_da": (chain_rule.check_dz_da, HIDDEN["ab"]),
    "dz_db": (chain_rule.check_dz_db, HIDDEN["ab"]),
    "dz_da_three_paths": (chain_rule.check_dz_da_three_paths, HIDDEN["ab"]),
    "dL_dw": (descent.check_dL_dw, HIDDEN["line"]),
    "dL_db": (descent.check_dL_db, HIDDEN["line"]),
}
TABLES = {**chain_rule.CATALOGUES, **descent.CATALOGUES}
ENTRIES = [(name, i) for name in FORMULAS for i in range(len(TABLES[name]))]


def as_answer(mistake):
    """The function a student who makes this mistake writes."""
    return lambda *args: mistake.value_at(args)


def assert_named(text, mistake):
    """A failing check's text (what the visible one printed, or what the hidden one raised) names the mistake."""
    assert "✅" not in text and tags(text) == ({mistake.tag} if mistake.tag else set()), text
    assert mistake.says in text, text


@pytest.mark.parametrize(("name", "i"), ENTRIES, ids=[f"{n}:{i}" for n, i in ENTRIES])
def test_every_formula_entry_is_named_by_its_exercise(name, i, capsys):
    check, hidden = FORMULAS[name]
    mistake = TABLES[name][i]
    check(as_answer(mistake))
    assert_named(capsys.readouterr().out, mistake)
    with pytest.raises(CheckFailed) as failure:
        check(as_answer(mistake), points=hidden, must_pass=True)
    assert_named(str(failure.value), mistake)


PREDICTIONS = {  # prediction: (its check, its table)
    "predicted_x_grad": (chain_rule.check_predicted_x_grad,
                         at_point(chain_rule.CATALOGUES["dz_dx"], (-2.0,), chain_rule.DZ_DX.value(-2.0))),
    "predicted_a_grad": (chain_rule.check_predicted_a_grad,
                         at_point(chain_rule.CATALOGUES["dz_da"], (2.0, 1.0), chain_rule.DZ_DA.value(2.0, 1.0))),
    "dz_dy": (chain_rule.check_dz_dy, chain_rule.dz_dy_mistakes()),
    "predicted_grad_after_three_backwards": (practice.check_predicted_grad_after_three_backwards,
                                             practice.THREE_BACKWARDS_MISTAKES),
    "predicted_grad_with_no_grad_and_detach": (practice.check_predicted_grad_with_no_grad_and_detach,
                                               practice.NO_GRAD_DETACH_MISTAKES),
}
PREDICTED = [(name, i) for name, (_, table) in PREDICTIONS.items() for i in range(len(table))]


@pytest.mark.parametrize(("name", "i"), PREDICTED, ids=[f"{n}:{i}" for n, i in PREDICTED])
def test_every_predicted_number_entry_is_named(name, i, capsys):
    check, table = PREDICTIONS[name]
    mistake = table[i]
    check(lambda: mistake.value_at(()))
    assert_named(capsys.readouterr().out, mistake)
    with pytest.raises(CheckFailed) as failure:
        check(lambda: mistake.value_at(()), must_pass=True)
    assert_named(str(failure.value), mistake)


VECTORS = [(practice.check_predicted_grad_with_integer_data, v, says) for v, says in practice.INTEGER_DATA_HINTS]
VECTORS += [(practice.check_predicted_vjp, v, says) for v, says in practice.VJP_HINTS]


@pytest.mark.parametrize(("check", "vector", "says"), VECTORS)
def test_every_predicted_vector_entry_is_explained(check, vector, says, capsys):
    check(lambda: vector)
    out = capsys.readouterr().out
    assert out.startswith("❌") and says in out


def test_each_table_holds_distinct_mistakes():
    """No two entries of a table give the same numbers (the second could never be named)."""
    for name, table in TABLES.items():
        probes = chain_rule.AB_PROBES if name.startswith("dz_d") and name != "dz_dx" else None
        probes = probes or (chain_rule.X_PROBES if name in ("dz_dx", "dw_dx") else descent.LINE_PROBES)
        values = [tuple(round(m.value_at(p), 6) for p in probes) for m in table]
        assert len(set(values)) == len(values), name


NAMED_IN_THE_ISSUE = [
    ("dw_dx", lambda x: 24 * x**2, "wrong-point", "wrote x where u belongs"),  # x where u belongs
    ("dz_db", lambda a, b: 6 + 27 * b, "power-rule", "3b³ as 9b"),  # 3b³ → 9b
    ("dz_da_three_paths", lambda a, b: 4 + 30 * a + 2 * (4 * a - b), "chain-stopped-early", "∂w/∂a"),  # w²: the 4
    ("dL_dw", lambda w, b, x, y: (2 * (w * x + b - y)).mean(), "chain-stopped-early", "∂rᵢ/∂w"),  # (…)²: the x
    ("dz_da", lambda a, b: 8 + 30 * a, "extra-path", "path through x twice"),
    ("dz_dx", lambda x: 8 * x, "constant-factor", "constant multiple"),
]


@pytest.mark.parametrize(("name", "answer", "tag", "phrase"), NAMED_IN_THE_ISSUE)
def test_the_mistakes_the_course_set_out_to_recognise(name, answer, tag, phrase, capsys):
    FORMULAS[name][0](answer)
    out = capsys.readouterr().out
    assert tags(out) == {tag} and phrase in out, out


def test_a_new_derivation_gets_its_catalogue():
    """w = 3u², u = x − 4: a chain of two steps, one of them a power of an intermediate."""
    derivation = Derivation("w", "x", [[Factor("w", "u", 3, 2), Factor("u", "x", 1)]],
                            lambda x: {"x": x, "u": x - 4}, d="d", intermediates={"u": "u = x − 4"})
    table = catalogue(derivation, [(0.7,), (-1.3,), (2.0,), (5.5,)])
    found = {m.tag: m for m in table}
    assert set(found) == {"sum-along-path", "chain-stopped-early", "power-rule", "wrong-point"}
    at = 2.5
    values = {m.says: m.value_at((at,)) for m in table}
    assert values[found["sum-along-path"].says] == 6 * (at - 4) + 1
    assert values[found["wrong-point"].says] == 6 * at
    assert "differentiated 3u² as 3u" in " ".join(values)


# ---- No failing visible check gives an answer away -------------------------------------------------

def shows(number: str, text: str) -> bool:
    """Whether the check's text shows `number` (the student's own answer, echoed back, aside)."""
    text = re.sub(r"\) gives \S+|you have (\[[^]]*\]|\S+)", "", text)
    return re.search(rf"(?<![\d.]){re.escape(number)}(?![\d.])", text) is not None


# Each visible check, wrong answers to feed it, and the numbers it must never show: the answer to a
# later exercise, and for a prediction its own answer.
GIVEAWAY = [
    (chain_rule.check_dz_dx, [as_answer(m) for m in TABLES["dz_dx"]] + [lambda x: -x, lambda x: 0.0], ["-8"]),
    (chain_rule.check_predicted_x_grad, [lambda v=v: v for v in (-2.0, 14.0, 7.0, 0.0, -16.0)], ["-8"]),
    (chain_rule.check_dz_da, [as_answer(m) for m in TABLES["dz_da"]] + [lambda a, b: 0.0], ["64"]),
    (chain_rule.check_dz_db, [as_answer(m) for m in TABLES["dz_db"]] + [lambda a, b: a * b], ["64"]),
    (chain_rule.check_predicted_a_grad, [lambda v=v: v for v in (27.0, 60.0, 109.0, 65.0, 0.0)], ["64"]),
    (chain_rule.check_dz_dy, [lambda v=v: v for v in (14.0, 12.25, 1.0, 3.0, 4.0)], ["2"]),
    (practice.check_predicted_grad_after_three_backwards, [lambda v=v: v for v in (14.0, 28.0, 21.0, 0.0, 41)],
     ["42"]),
    (practice.check_predicted_grad_with_no_grad_and_detach, [lambda v=v: v for v in (24.0, 16.0, 18.0, 0.0, 9)],
     ["10"]),
    (practice.check_predicted_grad_with_integer_data, [lambda v=v: v for v in ([0.5] * 3, [0.0] * 3, [1, 2, 3])],
     ["[3, 1, 2]"]),
    (practice.check_predicted_vjp, [lambda v=v: v for v in ([2, 4, 6], [1, 0, 10], [2, 0, 20], [0, 0, 0])],
     ["[2, 0, 60]"]),
    (descent.check_best_learning_rate, [lambda v=v: v for v in (0.01, 0.1, 1.5)], ["0.5"]),
]


@pytest.mark.parametrize(("check", "answers", "secrets"), GIVEAWAY, ids=lambda v: getattr(v, "__name__", ""))
def test_no_failing_visible_check_shows_an_answer(check, answers, secrets, capsys):
    for answer in answers:
        check(answer)
        out = capsys.readouterr().out
        assert "❌" in out and not any(shows(s, out) for s in secrets), out


def test_the_hidden_checks_keep_their_detail(capsys):
    with pytest.raises(CheckFailed, match="is -8"):
        chain_rule.check_predicted_x_grad(lambda: 7.0, must_pass=True)
    with pytest.raises(CheckFailed, match="gives 64"):
        chain_rule.check_dz_da(lambda a, b: 0.0, points=[(2.0, 1.0)], must_pass=True)


# ---- Notebook 07: the mistakes of an engine ----------------------------------------------------------

FORWARD = {"*": lambda a, b: a * b, "**": lambda a, n: a**n, "neg": lambda a: -a, "-": lambda a, b: a - b,
           "tanh": math.tanh}
RULE_CHECKS = {  # the operation's symbol: (its check, with the neighbouring function where it has one)
    "*": lambda fn, ns, **kw: engine_checks.check_mul(fn, ns["Value"], **kw),
    "**": lambda fn, ns, **kw: engine_checks.check_power(fn, ns["Value"], **kw),
    "neg": lambda fn, ns, **kw: engine_checks.check_neg_and_sub(fn, ns["sub"], ns["Value"], **kw),
    "-": lambda fn, ns, **kw: engine_checks.check_neg_and_sub(ns["neg"], fn, ns["Value"], **kw),
    "tanh": lambda fn, ns, **kw: engine_checks.check_tanh(fn, ns["Value"], **kw),
}
HIDDEN_CASES = {"*": {"cases": [(2.0, -3.0, 1.5, 0.0), (0.0, 7.0, 1.0, 0.0), (-2.5, -4.0, -0.5, 1.0)]},
                "**": {"cases": [(3.0, 3, 0.5, 0.0), (2.0, 2, 1.0, 0.0), (4.0, 0.5, 1.0, 0.25), (2.0, -1, 1.0, 0.0)]},
                "neg": {"neg_cases": [(2.0, 1.5, 0.0), (0.0, -1.0, 2.0), (-0.5, 3.0, 0.25)]},
                "-": {"sub_cases": [(2.0, 5.0, 1.5, 0.0), (3.0, 3.0, -0.5, 1.0), (-1.0, 0.5, 2.0, 0.25)]},
                "tanh": {"cases": [(0.5, 1.5, 0.0), (3.0, 1.0, 0.0), (2.0, 0.5, 0.25)]}}
RULE_ENTRIES = [(symbol, i) for symbol in RULE_CHECKS for i in range(len(OPERATIONS[symbol].catalogue()))]


def rule_answer(symbol, mistake, Value):
    """The operation's function as a student who makes this mistake writes it, on real Values."""
    operation = OPERATIONS[symbol]

    def fn(*args):
        parents, n = list(args[: operation.arity]), (args[1] if operation.param else None)
        xs = [p.data for p in parents]
        out = Value(FORWARD[symbol](*xs, *([n] if operation.param else [])), parents=parents, op=symbol)

        def _backward():
            for argument, (p, d) in enumerate(zip(parents, (mistake.local or operation.local)(xs, n))):
                share = d * out.grad if mistake.times_out_grad else d
                p.grad = share if argument in mistake.assign else p.grad + share

        out._backward = _backward
        return out

    return fn


@pytest.mark.parametrize(("symbol", "i"), RULE_ENTRIES, ids=[f"{s}:{i}" for s, i in RULE_ENTRIES])
def test_every_rule_entry_is_named_by_its_check(symbol, i, capsys):
    ns = engine()
    mistake = OPERATIONS[symbol].catalogue()[i]
    answer = rule_answer(symbol, mistake, ns["Value"])
    RULE_CHECKS[symbol](answer, ns)
    assert_named(capsys.readouterr().out, mistake)
    with pytest.raises(CheckFailed) as failure:
        RULE_CHECKS[symbol](answer, ns, must_pass=True, **HIDDEN_CASES[symbol])
    assert_named(str(failure.value), mistake)


def test_the_right_rule_is_pytorch_s():
    """The rule the mistakes are changes of gives PyTorch's gradients, in every visible case."""
    right = operations.Mistake("", None)
    for symbol, raw in engine_checks.CASES.items():
        operation = OPERATIONS[symbol]
        for case in operations.cases(operation, raw):
            assert all(close(s, t) for s, t in zip(operation.simulated(right, case), operation.torch_grads(case)[0]))


def test_each_rule_table_holds_distinct_mistakes():
    for symbol in RULE_CHECKS:
        operation = OPERATIONS[symbol]
        tried = operations.cases(operation, engine_checks.CASES[symbol])
        values = [tuple(round(g, 6) for case in tried for g in operation.simulated(m, case))
                  for m in operation.catalogue()]
        assert len(set(values)) == len(values), symbol


BUGGY = {  # each known bug of backward(), as a student's code makes it
    "unseeded-output": {"backward": """def backward(output):
    for v in reversed(topological_order(output)):
        v._backward()"""},
    "extra-path": {"topological_order": """def topological_order(output):
    order = []
    for parent in output._parents:
        order += topological_order(parent)
    return order + [output]"""},
    "wrong-order": {"backward": """def backward(output):
    output.grad = 1.0
    for v in topological_order(output):
        v._backward()"""},
    "chain-stopped-early": {"backward": """def backward(output):
    output.grad = 1.0
    output._backward()"""},
}


@pytest.mark.parametrize("bug", engine_checks.ENGINE_BUGS, ids=lambda bug: bug.tag)
def test_every_engine_bug_is_named_by_the_examples(bug, capsys):
    ns = engine(**BUGGY[bug.tag])
    engine_checks.check_backward_example_2(ns["backward"], ns["Value"])
    out = capsys.readouterr().out
    assert tags(out) == {bug.tag} and bug.says in out, out
    with pytest.raises(CheckFailed) as failure:
        engine_checks.check_backward_example_2(ns["backward"], ns["Value"], points=[(0.5, 3.0), (-1.0, 2.0)],
                                               must_pass=True)
    assert tags(str(failure.value)) == {bug.tag} and bug.says in str(failure.value)


def training_with(ns, reset="wb", sign=-1.0, with_lr=True, mean=False):
    """The training loop of exercise 7 on the engine `ns`, changed as a known mistake changes it."""

    def train(w, b, xs, ys, steps, lr):
        losses = []
        for _ in range(steps):
            for name, p in (("w", w), ("b", b)):
                if name in reset:
                    p.grad = 0.0
            total = sum((ns["tanh"](w * x + b) - y) ** 2 for x, y in zip(xs, ys))
            loss = total * (1 / len(xs)) if mean else total
            loss.backward()
            step = lr if with_lr else 1.0
            w.data += sign * step * w.grad
            b.data += sign * step * b.grad
            losses.append(loss.data)
        return losses

    return train


@pytest.mark.parametrize("mistake", engine_checks.TRAINING_MISTAKES, ids=lambda m: str(m.settings))
def test_every_training_mistake_is_named(mistake, capsys):
    ns = engine()
    train = training_with(ns, **mistake.settings)
    engine_checks.check_train_neuron(train, ns["Value"])
    assert_named(capsys.readouterr().out, mistake)
    hidden = [(0.0, 0.0, [-2.0, -1.0, 0.5, 2.0], [-0.9, -0.7, 0.3, 0.8], 15, 0.1)]
    with pytest.raises(CheckFailed) as failure:
        engine_checks.check_train_neuron(train, ns["Value"], cases=hidden, must_pass=True)
    assert_named(str(failure.value), mistake)


def test_the_training_loop_the_mistakes_change_is_right(capsys):
    ns = engine()
    engine_checks.check_train_neuron(training_with(ns), ns["Value"])
    assert capsys.readouterr().out.startswith("✅")
