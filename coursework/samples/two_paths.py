"""Sample hand-ins for 04_two_paths: right answers written other ways, and every classic mistake of
the multi-path rule. Each mistake sample carries one mistake per exercise, rotated so that every
exercise meets every tag once."""

from coursework.samples import Sample

NOTEBOOK = "04_two_paths"

HEADS = {
    "dz_da": '''def dz_da(a, b):
    """∂z/∂a for example 2, derived by hand: one product per path, added (no autograd here)."""
''',
    "dz_db": '''def dz_db(a, b):
    """∂z/∂b for example 2, derived by hand: one product per path, added (no autograd here)."""
''',
    "predicted_a_grad": '''def predicted_a_grad():
    """What a.grad will be after z.backward() in the cell below (a number)."""
''',
    "dz_da_three_paths": '''def dz_da_three_paths(a, b):
    """∂z/∂a for z = 2x + 3y + w**2, with w = 4a - b: three paths, added (no autograd here)."""
''',
}

# What a student types for each exercise when making each mistake (the body of the function). An
# exercise may lack a mistake that cannot happen there (a constant factor needs a formula).
MISTAKES = {
    "dz_da": {
        "sum-along-path": "    return (2 + 2) + (3 + 10 * a)   # ∂z/∂x + ∂x/∂a + ∂z/∂y + ∂y/∂a",
        "product-across-paths": "    return (2 * 2) * (3 * 10 * a)",
        "missing-path": "    return 3 * 10 * a   # through y",
        "swapped-variable": "    return 2 * 3 + 3 * 9 * b**2",
        "power-rule": "    return 2 * 2 + 3 * (2 * a)",
        "wrong-point": "    a = 3.5\n    return 2 * 2 + 3 * 10 * a",
        "chain-stopped-early": "    return 2 + 10 * a   # ∂x/∂a + ∂y/∂a",
        "extra-path": "    return 2 * 2 + 2 * 2 + 3 * 10 * a",
        "constant-factor": "    return 2 * (4 + 30 * a)",
        "used-autograd": """    a = torch.tensor(float(a), requires_grad=True)
    b = torch.tensor(float(b), requires_grad=True)
    z = 2 * (2 * a + 3 * b) + 3 * (5 * a**2 + 3 * b**3)
    z.backward()
    return a.grad""",
    },
    "dz_db": {
        "sum-along-path": "    return (2 + 3) + (3 + 9 * b**2)",
        "product-across-paths": "    return (2 * 3) * (3 * 9 * b**2)",
        "missing-path": "    return 2 * 3   # through x",
        "swapped-variable": "    return 4 + 30 * a",
        "power-rule": "    return 2 * 3 + 3 * 9 * b**3",
        "wrong-point": "    return 33.0",
        "chain-stopped-early": "    return 3 + 9 * b**2",
        "extra-path": "    return 2 * 3 + 2 * 3 + 27 * b**2",
        "constant-factor": "    return -(6 + 27 * b**2)   # a sign slipped",
        "used-autograd": """    a = torch.tensor(float(a), requires_grad=True)
    b = torch.tensor(float(b), requires_grad=True)
    return torch.autograd.grad(2 * (2 * a + 3 * b) + 3 * (5 * a**2 + 3 * b**3), b)[0]""",
    },
    "predicted_a_grad": {
        "sum-along-path": "    return 27.0",
        "product-across-paths": "    return 240",
        "missing-path": "    return 4.0",
        "swapped-variable": "    return 33",
        "power-rule": "    return 16.0",
        "wrong-point": "    a = 3.5\n    return 4 + 30 * a",
        "chain-stopped-early": "    return 22.0",
        "extra-path": "    return 68.0",
        "used-autograd": """    a = torch.tensor(2.0, requires_grad=True)
    z = 2 * (2 * a + 3) + 3 * (5 * a**2 + 3)
    z.backward()
    return a.grad.item()""",
    },
    "dz_da_three_paths": {
        "sum-along-path": "    w = 4 * a - b\n    return (2 + 2) + (3 + 10 * a) + (2 * w + 4)",
        "product-across-paths": "    w = 4 * a - b\n    return (2 * 2) * (3 * 10 * a) * (2 * w * 4)",
        "missing-path": "    return 2 * 2 + 3 * 10 * a   # forgot the path through w",
        "swapped-variable": "    w = 4 * a - b\n    return 2 * 3 + 3 * 9 * b**2 + 2 * w * (-1)",
        "power-rule": "    w = 4 * a - b\n    return 4 + 30 * a + w * 4",
        "wrong-point": "    return 120.0",
        "chain-stopped-early": "    w = 4 * a - b\n    return 4 + 30 * a + 2 * w",
        "extra-path": "    w = 4 * a - b\n    return 4 + 30 * a + 2 * (2 * w * 4)",
        "constant-factor": "    w = 4 * a - b\n    return 2 * (4 + 30 * a + 8 * w)",
        "used-autograd": """    def z(t):
        return 2 * (2 * t + 3 * b) + 3 * (5 * t**2 + 3 * b**3) + (4 * t - b) ** 2
    return torch.func.grad(z)(torch.tensor(float(a)))""",
    },
}

TAGS = list(MISTAKES["dz_da"])
EXERCISES = list(HEADS)


def mistake_sample(i: int) -> Sample:
    """Sample i: exercise k makes mistake i + k (so that each exercise meets every tag it can have
    once); an exercise without that mistake keeps the right answer."""
    tags = {ex: TAGS[(i + k) % len(TAGS)] for k, ex in enumerate(EXERCISES)}
    tags = {ex: tag for ex, tag in tags.items() if tag in MISTAKES[ex]}
    return Sample(
        "; ".join(f"{ex}: {tag}" for ex, tag in tags.items()),
        {ex: HEADS[ex] + MISTAKES[ex][tag] for ex, tag in tags.items()},
        fails={f"check_{ex}": tag for ex, tag in tags.items()},
    )


SAMPLES = [
    Sample(
        "right: tensors returned, other algebra",
        {
            "dz_da": HEADS["dz_da"] + "    return 4 + 30 * torch.as_tensor(a)",
            "dz_db": HEADS["dz_db"] + "    b = torch.as_tensor(b, dtype=torch.float64)\n    return 6 + 27 * b * b",
            "predicted_a_grad": HEADS["predicted_a_grad"] + "    return torch.tensor(64.0)",
            "dz_da_three_paths": HEADS["dz_da_three_paths"] + "    return 4 + 62 * a - 8 * b   # expanded",
        },
    ),
    Sample(
        "right: floats, one named term per path",
        {
            "dz_da": HEADS["dz_da"]
            + "    dz_dx, dz_dy = 2, 3\n    dx_da, dy_da = 2, 10 * a\n    return float(dz_dx * dx_da + dz_dy * dy_da)",
            "dz_db": HEADS["dz_db"]
            + "    dz_dx, dz_dy = 2, 3\n    dx_db, dy_db = 3, 9 * b**2\n"
            "    return float(dz_dx * dx_db + dz_dy * dy_db)",
            "predicted_a_grad": HEADS["predicted_a_grad"] + "    return 64",
            "dz_da_three_paths": HEADS["dz_da_three_paths"]
            + "    w = 4 * a - b\n    via_x = 2 * 2\n    via_y = 3 * 10 * a\n    via_w = 2 * w * 4\n"
            "    return float(via_x + via_y + via_w)",
        },
    ),
    *[mistake_sample(i) for i in range(len(TAGS))],
]
