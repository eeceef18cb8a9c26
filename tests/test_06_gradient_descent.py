"""Notebook 06's checks, called directly: the data and networks they build are the notebook's, the
gradients derived by hand are compared on the notebook's data and on other data, the answer they
expect for the learning rate is what the notebook's experiment shows, the training setting makes a
good loop fall smoothly and a loop without zero_grad() visibly worse, they never raise in visible
mode, and they leave the caller's random state alone."""

import matplotlib
import nbformat
import pytest
import torch
from conftest import assert_fails_quietly

from coursework import config
from coursework.helpers import descent
from coursework.helpers.checks import CheckFailed

matplotlib.use("Agg")


def notebook_cells(*ids):
    """Run the given code cells of the source notebook (with its helpers) and return its namespace."""
    nb = nbformat.read(config.SOLUTIONS / "06_gradient_descent.ipynb", as_version=4)
    cells = {cell.id: cell.source for cell in nb.cells}
    namespace = {name: getattr(descent, name) for name in descent.__all__}
    for cell_id in ids:
        exec(cells[cell_id], namespace)
    return namespace


def right_gd_step(w, b, x, y, lr):
    loss = ((w * x + b - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= lr * w.grad
        b -= lr * b.grad
    w.grad = b.grad = None
    return loss.item()


def right_train(model, X, y, steps, lr):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(X).squeeze(1), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_the_check_trains_on_the_notebooks_data_and_network():
    ns = notebook_cells("setup", "circle", "net")
    X, y = descent.circle_data(0)
    assert torch.equal(ns["points"], X) and torch.equal(ns["labels"], y)
    torch.manual_seed(0)
    for mine, theirs in zip(ns["make_net"]().parameters(), descent.tiny_net(0).parameters()):
        assert torch.equal(mine, theirs)


def test_the_expected_learning_rate_is_what_the_experiment_shows():
    ns = notebook_cells("setup", "data", "sgd", "lr_experiment")
    final = {lr: ns["fit_line"](lr)[-1] for lr in descent.LEARNING_RATES}
    best = min(final, key=final.get)
    descent.check_best_learning_rate(lambda: best, must_pass=True)


@pytest.mark.parametrize("check", [descent.check_gd_step, descent.check_best_learning_rate, descent.check_train])
@pytest.mark.parametrize(
    "answer", [42, lambda *a: {"a": 1}, lambda *a: float("nan"), lambda *a: 1 / 0, lambda *a: torch.tensor(1j)]
)
def test_visible_check_never_raises_and_hidden_one_fails(check, answer, capsys):
    assert_fails_quietly(check, answer, capsys)


def test_checks_leave_the_random_state_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    descent.check_train(right_train)
    assert torch.equal(torch.rand(3), expected)


def test_hidden_checks_raise_only_on_wrong_answers():
    descent.check_gd_step(right_gd_step, cases=[(0.0, 0.0, 0.5), (-1.0, 2.0, 0.02)], must_pass=True)
    descent.check_train(right_train, seeds=(1,), must_pass=True)

    def ascends(w, b, x, y, lr):
        loss = ((w * x + b - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w += lr * w.grad
            b += lr * b.grad
        w.grad = b.grad = None
        return loss.item()

    with pytest.raises(CheckFailed, match="uphill"):
        descent.check_gd_step(ascends, must_pass=True)


def right_dL_dw(w, b, x, y):
    return (2 * (w * x + b - y) * x).mean()


def right_dL_db(w, b, x, y):
    return (2 * (w * x + b - y)).mean()


def test_the_gradient_checks_use_the_notebooks_data():
    ns = notebook_cells("setup", "data")
    x, y = descent.notebook_line_data()
    assert torch.equal(ns["x"], x) and torch.equal(ns["y"], y)


def test_right_gradients_pass_on_any_data_as_floats_or_tensors(capsys):
    line = torch.linspace(-2, 3, 9)
    datasets = [descent.notebook_line_data(), (line, line**2 - 1), (torch.ones(1) * 2, torch.ones(1))]
    points = descent.line_points([(0.0, 0.0), (2.5, 1.5), (torch.tensor(1.5), torch.tensor(0.25))], datasets)
    descent.check_dL_dw(right_dL_dw, points=points, must_pass=True)
    descent.check_dL_db(lambda w, b, x, y: float(right_dL_db(w, b, x, y)), points=points, must_pass=True)
    assert capsys.readouterr().out.count("✅") == 2


def test_a_gradient_that_ignores_its_data_fails_on_other_data():
    x0, y0 = descent.notebook_line_data()

    def notebook_data_only(w, b, x, y):
        return right_dL_dw(w, b, x0, y0)

    descent.check_dL_dw(notebook_data_only, must_pass=True)
    line = torch.linspace(-2, 3, 9)
    with pytest.raises(CheckFailed):
        descent.check_dL_dw(notebook_data_only, points=descent.line_points([(0.5, 0.5)], [(line, line)]),
                            must_pass=True)


def train_losses(seed, zero):
    X, y = descent.circle_data(seed)
    model = descent.tiny_net(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=descent.TRAIN_LR)
    losses = []
    for _ in range(descent.TRAIN_STEPS):
        if zero:
            optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(X).squeeze(1), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_good_loop_falls_smoothly_and_forgetting_zero_grad_visibly_hurts(seed):
    """The setting of exercise 4: with zero_grad() the loss falls at every step; without, it rises
    at many steps and ends higher (what the check says, and what the student's plot shows)."""
    right, piled_up = train_losses(seed, True), train_losses(seed, False)
    assert all(b < a for a, b in zip(right, right[1:])) and right[-1] < descent.LOSS_BOUND
    assert sum(b > a for a, b in zip(piled_up, piled_up[1:])) >= 20 and piled_up[-1] > 1.2 * right[-1]


def test_forgetting_zero_grad_is_named_with_what_the_loss_did(capsys):
    def never_zeroes(model, X, y, steps, lr):
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        losses = []
        for _ in range(steps):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(X).squeeze(1), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return losses

    descent.check_train(never_zeroes)
    out = capsys.readouterr().out
    piled_up = train_losses(0, False)
    rises = sum(b > a for a, b in zip(piled_up, piled_up[1:]))
    assert "[misconception: accumulated-grad]" in out and f"went up at {rises} of the 99 steps" in out
