"""Sample hand-ins for 01_tensors: right answers written other ways, and the classic slips.

No misconception tag of the course applies here (they are about gradients), so every failure is
expected without a tag.
"""

from coursework.samples import Sample

NOTEBOOK = "01_tensors"

SAMPLES = [
    Sample(
        "right, written with arange, reshape and sums",
        {
            "make_tensors": """def make_tensors():
    scalar = torch.tensor(10, dtype=torch.float32)
    vector = torch.arange(0, 2.5, 0.5)
    matrix = torch.arange(1, 7, dtype=torch.float32).reshape(3, 2)
    return scalar, vector, matrix""",
            "bills": """def bills(quantities, prices):
    per_item = quantities * prices   # each quantity times its price
    return per_item.sum(dim=1)       # add up each customer's row""",
            "center_rows": """def center_rows(scores):
    means = scores.mean(dim=1)
    return scores - means[:, None]""",
            "trainable": """def trainable(values):
    t = torch.tensor(values).float()
    t.requires_grad_(True)
    return t""",
        },
    ),
    Sample(
        "right, written with linspace, matmul, transposes and float64",
        {
            "make_tensors": """def make_tensors():
    scalar = torch.tensor(20 / 2)
    vector = torch.linspace(0, 2, 5)
    matrix = torch.tensor([[1., 2.], [3., 4.], [5., 6.]])
    return (scalar, vector, matrix)""",
            "bills": """def bills(quantities, prices):
    return torch.matmul(quantities, prices.reshape(-1, 1)).reshape(-1)""",
            "center_rows": """def center_rows(scores):
    # work on columns instead: transpose, subtract the column means, transpose back
    t = scores.T
    return (t - t.mean(dim=0)).T""",
            "trainable": """def trainable(values):
    return torch.tensor([float(v) for v in values], dtype=torch.float64, requires_grad=True)""",
        },
    ),
    Sample(
        "integers, elementwise product, bug left in, int requires_grad",
        {
            "make_tensors": """def make_tensors():
    scalar = torch.tensor(10)
    vector = torch.tensor([0, 0.5, 1, 1.5, 2])
    matrix = torch.tensor([[1, 2], [3, 4], [5, 6]])
    return scalar, vector, matrix""",
            "bills": """def bills(quantities, prices):
    return quantities * prices""",
            "center_rows": """def center_rows(scores):
    row_means = scores.mean(dim=1)
    return scores - row_means""",
            "trainable": """def trainable(values):
    return torch.tensor(values, requires_grad=True)""",
        },
        fails={"check_make_tensors": None, "check_bills": None, "check_center_rows": None, "check_trainable": None},
    ),
    Sample(
        "brackets, grand total, whole-table mean, no requires_grad",
        {
            "make_tensors": """def make_tensors():
    scalar = torch.tensor([10.0])
    vector = torch.tensor([[0.0, 0.5, 1.0, 1.5, 2.0]])
    matrix = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    return scalar, vector, matrix""",
            "bills": """def bills(quantities, prices):
    return (quantities * prices).sum()""",
            "center_rows": """def center_rows(scores):
    return scores - scores.mean()""",
            "trainable": """def trainable(values):
    return torch.tensor(values, dtype=torch.float32)""",
        },
        fails={"check_make_tensors": None, "check_bills": None, "check_center_rows": None, "check_trainable": None},
    ),
    Sample(
        "NumPy float64, swapped matrix, column sums, column means, float() after requires_grad",
        {
            "make_tensors": """import numpy as np

def make_tensors():
    scalar = torch.tensor(10.0)
    vector = torch.from_numpy(np.array([0.0, 0.5, 1.0, 1.5, 2.0]))
    matrix = torch.tensor([[1.0, 3.0, 5.0], [2.0, 4.0, 6.0]])
    return scalar, vector, matrix""",
            "bills": """def bills(quantities, prices):
    return (quantities * prices).sum(dim=0)""",
            "center_rows": """def center_rows(scores):
    return scores - scores.mean(dim=0)""",
            "trainable": """def trainable(values):
    t = torch.tensor(values, dtype=float, requires_grad=True)
    return t.float()""",
        },
        fails={"check_make_tensors": None, "check_bills": None, "check_center_rows": None, "check_trainable": None},
    ),
    Sample(
        "passes the visible checks only: squeeze, fixed size, example hard-coded",
        {
            "make_tensors": """def make_tensors():
    return torch.tensor(10.), torch.tensor([0., .5, 1., 1.5, 2.]), torch.tensor([[1., 2.], [3., 4.], [5., 6.]])""",
            "bills": """def bills(quantities, prices):
    return (quantities @ prices[:, None]).squeeze()""",
            "center_rows": """def center_rows(scores):
    return scores - scores.mean(dim=1).reshape(3, 1)""",
            "trainable": """def trainable(values):
    if values == [0.5, 2.0]:
        return torch.tensor([0.5, 2.0], requires_grad=True)
    return torch.tensor([1.0, 2.0, 3.0], requires_grad=True)""",
        },
        fails={"check_bills": None, "check_center_rows": None, "check_trainable": None},
    ),
]
