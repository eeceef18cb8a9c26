"""Sample hand-ins for 05_gradients_in_practice: right answers written other ways, and the classic
mistakes of each exercise (several per hand-in, one per exercise, so that they do not interfere)."""

from coursework.samples import Sample

NOTEBOOK = "05_gradients_in_practice"

SAMPLES = [
    Sample(
        "right: zero_() guarded, retain_graph, requires_grad_ after converting, y.sum(), save and restore",
        {
            "predicted_grad_after_three_backwards": """def predicted_grad_after_three_backwards():
    return torch.tensor(42.)""",
            "last_step_grad": """def last_step_grad(x_value, steps):
    x = torch.tensor(x_value, dtype=torch.float32, requires_grad=True)
    for step in range(steps):
        if x.grad is not None:
            x.grad.zero_()
        z = 2 * x**2 + 3
        z.backward()
    return x.grad.item()""",
            "total_grad": """def total_grad(x_value):
    x = torch.tensor(x_value, requires_grad=True)
    y = x**2
    z1 = 2 * y + 3
    z2 = y**2
    z1.backward(retain_graph=True)   # keep the graph for z2
    z2.backward()
    return x.grad""",
            "predicted_grad_with_no_grad_and_detach": """def predicted_grad_with_no_grad_and_detach():
    # a = 4 and b = 6 are constants, so z = 4x + 6x
    return 4 + 6""",
            "dz_dx_float32": """def dz_dx_float32(x_value):
    x = torch.tensor(x_value, dtype=torch.float64).float().requires_grad_()
    z = 2 * x**2 + 3
    z.backward()
    return x.grad""",
            "predicted_grad_with_integer_data": """def predicted_grad_with_integer_data():
    return torch.tensor([3., 1., 2.])""",
            "grad_of_squares": """def grad_of_squares(values):
    v = torch.tensor(values, requires_grad=True)
    y = v ** 2
    y.sum().backward()
    return v.grad""",
            "predicted_vjp": """def predicted_vjp():
    return (2, 0, 60)""",
            "dz_dx_without_backward": """def dz_dx_without_backward(x):
    saved = x.grad
    x.grad = None
    z = 2 * x**2 + 3
    z.backward()
    result = x.grad.clone()
    x.grad = saved
    return result""",
        },
    ),
    Sample(
        "right: retain_grad, autograd.grad on the sum, explicit weights, a float from the tuple",
        {
            "last_step_grad": """def last_step_grad(x_value, steps):
    x = torch.tensor(float(x_value), requires_grad=True)
    for step in range(steps):
        z = 2 * x**2 + 3
        z.backward()
        g = x.grad.item()
        x.grad = None
    return g""",
            "total_grad": """def total_grad(x_value):
    x = torch.tensor(float(x_value), requires_grad=True)
    y = x**2
    z1 = 2 * y + 3
    z2 = y**2
    return torch.autograd.grad(z1 + z2, x)[0]""",
            "dz_dx_float32": """def dz_dx_float32(x_value):
    x = torch.tensor(x_value, dtype=torch.float64, requires_grad=True)
    x = x.float()
    x.retain_grad()   # keep the gradient of this non-leaf too
    z = 2 * x**2 + 3
    z.backward()
    return x.grad""",
            "grad_of_squares": """def grad_of_squares(values):
    v = torch.tensor(values, requires_grad=True)
    y = v ** 2
    y.backward(gradient=torch.tensor([1.0] * len(values)))
    return v.grad""",
            "dz_dx_without_backward": """def dz_dx_without_backward(x):
    z = 2 * x**2 + 3
    (g,) = torch.autograd.grad(z, x)
    return g.item()""",
        },
    ),
    Sample(
        "the bugs left in, and the classic wrong predictions",
        {
            "predicted_grad_after_three_backwards": """def predicted_grad_after_three_backwards():
    return 14.0""",
            "last_step_grad": """def last_step_grad(x_value, steps):
    x = torch.tensor(x_value, requires_grad=True)
    for step in range(steps):
        z = 2 * x**2 + 3
        z.backward()
    return x.grad""",
            "predicted_grad_after_zero_grad": """def predicted_grad_after_zero_grad():
    return torch.zeros(1, 2)""",
            "total_grad": """def total_grad(x_value):
    x = torch.tensor(x_value, requires_grad=True)
    y = x**2
    z1 = 2 * y + 3
    z2 = y**2
    z1.backward()
    return x.grad""",
            "predicted_grad_with_no_grad_and_detach": """def predicted_grad_with_no_grad_and_detach():
    return 24.0""",
            "dz_dx_float32": """def dz_dx_float32(x_value):
    x = torch.tensor(x_value, dtype=torch.float64, requires_grad=True)
    x = x.float()
    z = 2 * x**2 + 3
    z.backward()
    return x.grad""",
            "predicted_grad_with_integer_data": """def predicted_grad_with_integer_data():
    return "error\"""",
            "grad_of_squares": """def grad_of_squares(values):
    v = torch.tensor(values, requires_grad=True)
    y = v ** 2
    y.backward()
    return v.grad""",
            "predicted_vjp": """def predicted_vjp():
    return [2.0, 4.0, 6.0]""",
            "dz_dx_without_backward": """def dz_dx_without_backward(x):
    z = 2 * x**2 + 3
    z.backward()
    return x.grad""",
        },
        fails={
            "check_predicted_grad_after_three_backwards": None,
            "check_last_step_grad": "accumulated-grad",
            "check_predicted_grad_after_zero_grad": None,
            "check_total_grad": "missing-path",
            "check_predicted_grad_with_no_grad_and_detach": None,
            "check_dz_dx_float32": None,
            "check_predicted_grad_with_integer_data": None,
            "check_grad_of_squares": None,
            "check_predicted_vjp": None,
            "check_dz_dx_without_backward": "accumulated-grad",
        },
    ),
    Sample(
        "zero_() before the first backward, retain_graph on the wrong call, int tensor, mean, a tuple",
        {
            "predicted_grad_after_three_backwards": """def predicted_grad_after_three_backwards():
    return 28""",
            "last_step_grad": """def last_step_grad(x_value, steps):
    x = torch.tensor(x_value, requires_grad=True)
    for step in range(steps):
        x.grad.zero_()
        z = 2 * x**2 + 3
        z.backward()
    return x.grad""",
            "total_grad": """def total_grad(x_value):
    x = torch.tensor(x_value, requires_grad=True)
    y = x**2
    z1 = 2 * y + 3
    z2 = y**2
    z1.backward()
    z2.backward(retain_graph=True)
    return x.grad""",
            "dz_dx_float32": """def dz_dx_float32(x_value):
    x = torch.tensor(x_value, requires_grad=True)
    z = 2 * x**2 + 3
    z.backward()
    return x.grad""",
            "grad_of_squares": """def grad_of_squares(values):
    v = torch.tensor(values, requires_grad=True)
    y = v ** 2
    y.mean().backward()
    return v.grad""",
            "predicted_vjp": """def predicted_vjp():
    return 62""",
            "dz_dx_without_backward": """def dz_dx_without_backward(x):
    z = 2 * x**2 + 3
    return torch.autograd.grad(z, x)""",
        },
        fails={
            "check_predicted_grad_after_three_backwards": None,
            "check_last_step_grad": None,
            "check_total_grad": None,
            "check_dz_dx_float32": None,
            "check_grad_of_squares": None,
            "check_predicted_vjp": None,
            "check_dz_dx_without_backward": None,
        },
    ),
    Sample(
        "zeroed too late, zeroed between the two results, the float64 leaf, backward() as a return value",
        {
            "last_step_grad": """def last_step_grad(x_value, steps):
    x = torch.tensor(x_value, requires_grad=True)
    for step in range(steps):
        z = 2 * x**2 + 3
        z.backward()
        g = x.grad
        x.grad.zero_()
    return g""",
            "total_grad": """def total_grad(x_value):
    x = torch.tensor(x_value, requires_grad=True)
    y = x**2
    z1 = 2 * y + 3
    z2 = y**2
    z1.backward(retain_graph=True)
    x.grad = None
    z2.backward()
    return x.grad""",
            "dz_dx_float32": """def dz_dx_float32(x_value):
    x64 = torch.tensor(x_value, dtype=torch.float64, requires_grad=True)
    x = x64.float()
    z = 2 * x**2 + 3
    z.backward()
    return x64.grad""",
            "predicted_grad_with_integer_data": """def predicted_grad_with_integer_data():
    return [0.5, 0.5, 0.5]""",
            "dz_dx_without_backward": """def dz_dx_without_backward(x):
    z = 2 * x**2 + 3
    return z.backward()""",
        },
        fails={
            "check_last_step_grad": None,
            "check_total_grad": "missing-path",
            "check_dz_dx_float32": None,
            "check_predicted_grad_with_integer_data": None,
            "check_dz_dx_without_backward": None,
        },
    ),
    Sample(
        "predictions found by running the code instead of worked out",
        {
            "predicted_grad_after_three_backwards": """def predicted_grad_after_three_backwards():
    x = torch.tensor(3.5, requires_grad=True)
    for step in range(3):
        z = 2 * x**2 + 3
        z.backward()
    return x.grad.item()""",
            "predicted_grad_after_zero_grad": """def predicted_grad_after_zero_grad():
    model = torch.nn.Linear(2, 1)
    model(torch.tensor([1.0, 2.0])).backward()
    model.zero_grad()
    return model.weight.grad""",
            "predicted_vjp": """def predicted_vjp():
    v = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = v ** 2
    y.backward(gradient=torch.tensor([1.0, 0.0, 10.0]))
    return v.grad""",
        },
        fails={
            "check_predicted_grad_after_three_backwards": "used-autograd",
            "check_predicted_grad_after_zero_grad": "used-autograd",
            "check_predicted_vjp": "used-autograd",
        },
    ),
]
