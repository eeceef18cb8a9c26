"""Sample hand-ins for 06_gradient_descent: right answers written other ways, and the classic
mistakes of each exercise (one per exercise in a hand-in, so that they do not interfere)."""

from coursework.samples import Sample

NOTEBOOK = "06_gradient_descent"

SAMPLES = [
    Sample(
        "right: .data updates and zero_(), a 0-d tensor, a hand-written update with model.zero_grad()",
        {
            "dL_dw": """def dL_dw(w, b, x, y):
    residuals = w * x + b - y
    return (2 * residuals * x).sum() / len(x)""",
            "dL_db": """def dL_db(w, b, x, y):
    return 2 * torch.mean(w * x + b - y)""",
            "gd_step": """def gd_step(w, b, x, y, lr):
    loss = torch.nn.functional.mse_loss(w * x + b, y)
    loss.backward()
    w.data -= lr * w.grad
    b.data -= lr * b.grad
    w.grad.zero_()
    b.grad.zero_()
    return loss""",
            "best_learning_rate": """def best_learning_rate():
    return torch.tensor(0.5)""",
            "train": """def train(model, X, y, steps=100, lr=2.0):
    losses = []
    for step in range(steps):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(X).reshape(-1), y)
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
        losses.append(float(loss))
    return losses""",
        },
    ),
    Sample(
        "right: torch.autograd.grad and sub_(), sigmoid with BCELoss, zero_grad() at the end, a tensor of losses",
        {
            "dL_dw": """def dL_dw(w, b, x, y):
    n = x.numel()
    dL_ds = 1 / n              # L = mean(s)
    ds_dr = 2 * (w * x + b - y)  # s = r²
    dr_dw = x                  # r = w·x + b − y
    return float((dL_ds * ds_dr * dr_dw).sum())""",
            "dL_db": """def dL_db(w, b, x, y):
    return float(sum(2 * (w * xi + b - yi) for xi, yi in zip(x, y)) / len(x))""",
            "gd_step": """def gd_step(w, b, x, y, lr):
    loss = ((w * x + b - y) ** 2).mean()
    dw, db = torch.autograd.grad(loss, [w, b])   # .grad is never touched
    with torch.no_grad():
        w.sub_(lr * dw)
        b.sub_(lr * db)
    return loss.item()""",
            "train": """def train(model, X, y, steps=100, lr=2.0):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.BCELoss()
    losses = []
    for step in range(steps):
        probabilities = torch.sigmoid(model(X)).squeeze(1)
        loss = loss_fn(probabilities, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    return torch.tensor(losses)""",
        },
    ),
    Sample(
        "forgot the factor x, summed instead of averaging, gradients never zeroed, the biggest learning rate",
        {
            "dL_dw": """def dL_dw(w, b, x, y):
    return (2 * (w * x + b - y)).mean()   # forgot dr/dw = x""",
            "dL_db": """def dL_db(w, b, x, y):
    return (2 * (w * x + b - y)).sum()""",
            "gd_step": """def gd_step(w, b, x, y, lr):
    loss = ((w * x + b - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= lr * w.grad
        b -= lr * b.grad
    return loss.item()""",
            "best_learning_rate": """def best_learning_rate():
    return 1.5""",
            "train": """def train(model, X, y, steps=100, lr=2.0):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    losses = []
    for step in range(steps):
        loss = loss_fn(model(X).squeeze(1), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses""",
        },
        fails={
            "check_dL_dw": "chain-stopped-early",
            "check_dL_db": "chain-stopped-early",
            "check_gd_step": "accumulated-grad",
            "check_best_learning_rate": None,
            "check_train": "accumulated-grad",
        },
    ),
    Sample(
        "autograd for the gradient, a sign slipped, update outside no_grad, the smallest learning rate, "
        "backward() without step()",
        {
            "dL_dw": """def dL_dw(w, b, x, y):
    w = torch.tensor(float(w), requires_grad=True)
    loss = ((w * x + b - y) ** 2).mean()
    loss.backward()
    return w.grad""",
            "dL_db": """def dL_db(w, b, x, y):
    return (2 * (y - w * x - b)).mean()""",
            "gd_step": """def gd_step(w, b, x, y, lr):
    loss = ((w * x + b - y) ** 2).mean()
    loss.backward()
    w -= lr * w.grad
    b -= lr * b.grad
    w.grad = None
    b.grad = None
    return loss.item()""",
            "best_learning_rate": """def best_learning_rate():
    return 0.01""",
            "train": """def train(model, X, y, steps=100, lr=2.0):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    losses = []
    for step in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(X).squeeze(1), y)
        loss.backward()      # computes the gradients and updates the weights?
        losses.append(loss.item())
    return losses""",
        },
        fails={"check_dL_dw": "used-autograd", "check_dL_db": "constant-factor", "check_gd_step": None,
               "check_best_learning_rate": None, "check_train": None},
    ),
    Sample(
        "forgot the 2 of the square, the other gradient, w = w - lr * w.grad, a safe learning rate, "
        "zero_grad() between backward() and step()",
        {
            "dL_dw": """def dL_dw(w, b, x, y):
    return ((w * x + b - y) * x).mean()""",
            "dL_db": """def dL_db(w, b, x, y):
    return (2 * (w * x + b - y) * x).mean()""",
            "gd_step": """def gd_step(w, b, x, y, lr):
    loss = ((w * x + b - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w = w - lr * w.grad
        b = b - lr * b.grad
    return loss.item()""",
            "best_learning_rate": """def best_learning_rate():
    return 0.1""",
            "train": """def train(model, X, y, steps=100, lr=2.0):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    losses = []
    for step in range(steps):
        loss = loss_fn(model(X).squeeze(1), y)
        loss.backward()
        optimizer.zero_grad()
        optimizer.step()
        losses.append(loss.item())
    return losses""",
        },
        fails={"check_dL_dw": "power-rule", "check_dL_db": "swapped-variable", "check_gd_step": None,
               "check_best_learning_rate": None, "check_train": None},
    ),
    Sample(
        "zero_() on a .grad that is still None, a summed loss",
        {
            "gd_step": """def gd_step(w, b, x, y, lr):
    w.grad.zero_()
    b.grad.zero_()
    loss = ((w * x + b - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= lr * w.grad
        b -= lr * b.grad
    return loss.item()""",
            "train": """def train(model, X, y, steps=100, lr=2.0):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for step in range(steps):
        optimizer.zero_grad()
        scores = model(X).squeeze(1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(scores, y, reduction="sum")
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses""",
        },
        fails={"check_gd_step": None, "check_train": None},
    ),
]
