"""Derive by hand means by hand: an answer to a derive-by-hand exercise or a prediction that reaches
autograd, by any route, fails its visible and its hidden check with the `used-autograd` tag, even
when its numbers are right; an answer that merely touches a tracked tensor does not; and the
fix-the-bug exercises of 05 and 06, which are about autograd, still accept it."""

import pytest
import torch
import torch.autograd.forward_ad as forward_ad
from conftest import tags

from coursework.helpers import chain_rule, descent, practice
from coursework.helpers.checks import CheckFailed


def tracked(x):
    return torch.tensor(float(x), requires_grad=True)


def by_backward(f, x):
    t = tracked(x)
    f(t).backward()
    return t.grad


def by_autograd_backward(f, x):
    t = tracked(x)
    torch.autograd.backward(f(t))
    return t.grad


def by_backward_with_inputs(f, x):
    t = torch.tensor(float(x)).requires_grad_()
    f(t).backward(inputs=[t])
    return t.grad


def by_requires_grad_attribute(f, x):
    t = torch.tensor(float(x))
    t.requires_grad = True
    f(t).backward()
    return t.grad.item()


def by_parameter(f, x):
    t = torch.nn.Parameter(torch.tensor(float(x)))
    f(t).backward()
    return t.grad


def by_retained_gradient(f, x):
    """Reads the .grad that retain_grad() kept on a computed tensor (here: the input, through 1·t)."""
    t = tracked(x)
    u = t * 1.0
    u.retain_grad()
    f(u).backward()
    return u.grad


def by_autograd_grad(f, x):
    t = tracked(x)
    return torch.autograd.grad(f(t), t)[0]


def by_second_derivative_machinery(f, x):
    t = tracked(x)
    (first,) = torch.autograd.grad(f(t), t, create_graph=True)
    return first


def by_func_grad(f, x):
    return torch.func.grad(f)(torch.tensor(float(x)))


def by_func_vjp(f, x):
    _, pull_back = torch.func.vjp(f, torch.tensor(float(x)))
    return pull_back(torch.tensor(1.0))[0]


def by_func_jacrev(f, x):
    return torch.func.jacrev(f)(torch.tensor(float(x)))


def by_func_jvp(f, x):
    return torch.func.jvp(f, (torch.tensor(float(x)),), (torch.tensor(1.0),))[1]


def by_func_jacfwd(f, x):
    return torch.func.jacfwd(f)(torch.tensor(float(x)))


def by_functional_jacobian(f, x):
    return torch.autograd.functional.jacobian(f, torch.tensor(float(x)))


def by_functional_vjp(f, x):
    return torch.autograd.functional.vjp(f, torch.tensor(float(x)))[1]


def by_forward_mode(f, x):
    with forward_ad.dual_level():
        dual = forward_ad.make_dual(torch.tensor(float(x)), torch.tensor(1.0))
        return forward_ad.unpack_dual(f(dual)).tangent


def by_calling_backward_nodes(f, x):
    """Walks the graph calling each backward node itself, as backward() would."""
    t = tracked(x)
    node, grad = f(t).grad_fn, torch.tensor(1.0)
    while node is not None and not hasattr(node, "variable"):
        grads = node(grad)
        grad = grads[0] if isinstance(grads, tuple) else grads
        node = node.next_functions[0][0]
    return grad


def by_a_helper_elsewhere(f, x):
    """The autograd call hides in another function (defined in another cell, say)."""
    return by_backward(f, x)


ROUTES = [
    by_backward, by_autograd_backward, by_backward_with_inputs, by_requires_grad_attribute, by_parameter,
    by_retained_gradient, by_autograd_grad, by_second_derivative_machinery, by_func_grad, by_func_vjp,
    by_func_jacrev, by_func_jvp, by_func_jacfwd, by_functional_jacobian, by_functional_vjp, by_forward_mode,
    by_calling_backward_nodes, by_a_helper_elsewhere,
]


def quadratic(t):
    return 2 * t**2 + 3


# Each by-hand check, and the answer a route gives it (the right numbers, found by autograd).
BY_HAND = {
    "dz_dx": (chain_rule.check_dz_dx, lambda route: lambda x: route(chain_rule.single_chain, x)),
    "dw_dx": (chain_rule.check_dw_dx, lambda route: lambda x: route(chain_rule.longer_chain, x)),
    "dz_da": (chain_rule.check_dz_da, lambda route: lambda a, b: route(lambda t: chain_rule.two_paths(t, b), a)),
    "dz_db": (chain_rule.check_dz_db, lambda route: lambda a, b: route(lambda t: chain_rule.two_paths(a, t), b)),
    "dz_da_three_paths": (chain_rule.check_dz_da_three_paths,
                          lambda route: lambda a, b: route(lambda t: chain_rule.three_paths(t, b), a)),
    "predicted_x_grad": (chain_rule.check_predicted_x_grad, lambda route: lambda: route(chain_rule.single_chain, -2.0)),
    "predicted_a_grad": (chain_rule.check_predicted_a_grad,
                         lambda route: lambda: route(lambda t: chain_rule.two_paths(t, 1.0), 2.0)),
    "dz_dy": (chain_rule.check_dz_dy, lambda route: lambda: route(lambda t: 2 * t + 3, 3.5**2)),
    "predicted_grad_after_three_backwards": (practice.check_predicted_grad_after_three_backwards,
                                             lambda route: lambda: 3 * route(quadratic, 3.5)),
    "predicted_grad_with_no_grad_and_detach": (practice.check_predicted_grad_with_no_grad_and_detach,
                                               lambda route: lambda: route(lambda t: 10 * t, 2.0)),
    "dL_dw": (descent.check_dL_dw, lambda route: lambda w, b, x, y: route(lambda t: ((t * x + b - y) ** 2).mean(), w)),
    "dL_db": (descent.check_dL_db, lambda route: lambda w, b, x, y: route(lambda t: ((w * x + t - y) ** 2).mean(), b)),
    "best_learning_rate": (descent.check_best_learning_rate, lambda route: lambda: 0.5 + 0 * route(quadratic, 1.0)),
}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.__name__)
@pytest.mark.parametrize("exercise", BY_HAND)
def test_every_route_to_autograd_fails_a_by_hand_check(exercise, route, capsys):
    check, answer_by = BY_HAND[exercise]
    check(answer_by(route))
    out = capsys.readouterr().out
    assert "❌" in out and "✅" not in out and tags(out) == {"used-autograd"} and "worked out by hand" in out, out
    with pytest.raises(CheckFailed, match=r"\[misconception: used-autograd\]"):
        check(answer_by(route), must_pass=True)


@pytest.mark.parametrize("route", [by_backward, by_autograd_grad, by_func_grad], ids=lambda r: r.__name__)
@pytest.mark.parametrize("prediction", ["predicted_grad_after_zero_grad", "predicted_grad_with_integer_data",
                                        "predicted_vjp"])
def test_vector_predictions_found_by_autograd_fail(prediction, route, capsys):
    check = getattr(practice, f"check_{prediction}")
    check(lambda: [route(quadratic, 1.0).item(), 0.0, 0.0])
    assert tags(capsys.readouterr().out) == {"used-autograd"}


def test_the_message_names_the_route(capsys):
    chain_rule.check_dz_dx(lambda x: by_backward(chain_rule.single_chain, x))
    chain_rule.check_dz_dx(lambda x: by_autograd_grad(chain_rule.single_chain, x))
    chain_rule.check_dz_dx(lambda x: by_forward_mode(chain_rule.single_chain, x))
    out = capsys.readouterr().out
    assert "it calls backward()" in out and "it calls torch.autograd.grad()" in out and "forward-mode" in out


def test_a_formula_on_tracked_tensors_is_still_by_hand(capsys):
    """Touching a tracked tensor, or reading a .grad that is None, gets no gradient from autograd."""

    def formula_on_a_tracked_tensor(x):
        t = torch.tensor(float(x), requires_grad=True)
        return 4 * t

    def reads_an_empty_grad(x):
        t = torch.tensor(float(x), requires_grad=True)
        assert t.grad is None
        return 4 * x

    chain_rule.check_dz_dx(formula_on_a_tracked_tensor, must_pass=True)
    chain_rule.check_dz_dx(reads_an_empty_grad, must_pass=True)
    assert capsys.readouterr().out.count("✅") == 2


def test_exercises_about_autograd_still_accept_it(capsys):
    practice.check_last_step_grad(lambda x, steps: by_backward(quadratic, x), must_pass=True)
    practice.check_total_grad(lambda x: by_autograd_grad(lambda t: (2 * t**2 + 3) + t**4, x), must_pass=True)
    assert capsys.readouterr().out.count("✅") == 2


def test_the_watch_ends_with_the_call():
    """After a by-hand check, autograd works as before in the student's notebook."""
    chain_rule.check_dz_dx(lambda x: by_backward(chain_rule.single_chain, x))
    assert torch.overrides._get_current_function_mode_stack() == []
    assert by_backward(quadratic, 3.5).item() == 14.0
