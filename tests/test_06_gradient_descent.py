"""Notebook 06's checks, called directly: the data and networks they build are the notebook's, the
answer they expect for the learning rate is what the notebook's experiment shows, they never raise in
visible mode, and they leave the caller's random state alone."""

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
