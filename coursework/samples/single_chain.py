"""Sample hand-ins for 02_single_chain: right answers written other ways, and the classic mistakes
of the chain rule, each in the form a student would type it."""

from coursework.samples import Sample

NOTEBOOK = "02_single_chain"

DZ_DX = '''def dz_dx(x):
    """dz/dx for y = x**2, z = 2*y + 3, derived by hand (no autograd here)."""
'''
PREDICTED = '''def predicted_x_grad():
    """What x.grad will be after z.backward() at x = -2 (a number)."""
'''
DW_DX = '''def dw_dx(x):
    """dw/dx for u = 2*x + 1, v = u**3, w = 4*v, derived by hand (no autograd here)."""
'''

SAMPLES = [
    Sample(
        "right: tensors returned, other algebra",
        {
            "dz_dx": DZ_DX + "    dy_dx = 2 * x\n    return torch.tensor(2.0) * dy_dx",
            "predicted_x_grad": PREDICTED + "    return torch.tensor(-8.0)",
            "dw_dx": DW_DX + "    # expanded: 4 * 3(2x+1)^2 * 2 = 24(4x^2 + 4x + 1)\n"
            "    return 96 * x**2 + 96 * x + 24",
        },
    ),
    Sample(
        "right: floats and ints, step by step",
        {
            "dz_dx": DZ_DX + "    return float(4 * x)",
            "predicted_x_grad": PREDICTED + "    return -8",
            "dw_dx": DW_DX + "    u = 2 * x + 1\n    dw_dv = 4\n    dv_du = 3 * u**2\n    du_dx = 2\n"
            "    return dw_dv * dv_du * du_dx",
        },
    ),
    Sample(
        "added the local derivatives; stopped at dy/dx; u**3 -> u**2",
        {
            "dz_dx": DZ_DX + "    return 2 + 2 * x   # dz/dy + dy/dx",
            "predicted_x_grad": PREDICTED + "    return -4.0",
            "dw_dx": DW_DX + "    u = 2 * x + 1\n    return 4 * u**2 * 2",
        },
        fails={
            "check_dz_dx": "sum-along-path",
            "check_predicted_x_grad": "chain-stopped-early",
            "check_dw_dx": "power-rule",
        },
    ),
    Sample(
        "stopped at dy/dx; copied 14 from the lesson; added along the longer chain",
        {
            "dz_dx": DZ_DX + "    return 2 * x",
            "predicted_x_grad": PREDICTED + "    return 14.0",
            "dw_dx": DW_DX + "    u = 2 * x + 1\n    return 4 + 3 * u**2 + 2",
        },
        fails={
            "check_dz_dx": "chain-stopped-early",
            "check_predicted_x_grad": "wrong-point",
            "check_dw_dx": "sum-along-path",
        },
    ),
    Sample(
        "kept the power; added at x = -2; forgot du/dx",
        {
            "dz_dx": DZ_DX + "    return 2 * (2 * x**2)",
            "predicted_x_grad": PREDICTED + "    return 2 + 2 * -2.0",
            "dw_dx": DW_DX + "    u = 2 * x + 1\n    return 4 * 3 * u**2",
        },
        fails={
            "check_dz_dx": "power-rule",
            "check_predicted_x_grad": "sum-along-path",
            "check_dw_dx": "chain-stopped-early",
        },
    ),
    Sample(
        "one number for every x; backward() for the prediction and for the longer chain",
        {
            "dz_dx": DZ_DX + "    return 14.0",
            "predicted_x_grad": PREDICTED
            + "    x = torch.tensor(-2.0, requires_grad=True)\n    z = 2 * x**2 + 3\n"
            "    z.backward()\n    return x.grad",
            "dw_dx": DW_DX
            + "    x = torch.tensor(float(x), requires_grad=True)\n    w = 4 * (2 * x + 1) ** 3\n"
            "    w.backward()\n    return x.grad",
        },
        fails={
            "check_dz_dx": "wrong-point",
            "check_predicted_x_grad": "used-autograd",
            "check_dw_dx": "used-autograd",
        },
    ),
    Sample(
        "twice the slope; kept the power at x = -2; a name error",
        {
            "dz_dx": DZ_DX + "    return 8 * x",
            "predicted_x_grad": PREDICTED + "    return 16.0",
            "dw_dx": DW_DX + "    return 24 * u**2",
        },
        fails={
            "check_dz_dx": "constant-factor",
            "check_predicted_x_grad": "power-rule",
            "check_dw_dx": None,
        },
    ),
    Sample(
        "torch.autograd.grad for the formula; forgot the return; x where u belongs",
        {
            "dz_dx": DZ_DX
            + "    t = torch.tensor(float(x), requires_grad=True)\n    return torch.autograd.grad(2 * t**2 + 3, t)[0]",
            "predicted_x_grad": PREDICTED + "    answer = 4 * -2.0",
            "dw_dx": DW_DX + "    return 4 * 3 * x**2 * 2   # dw/dv · dv/du · du/dx",
        },
        fails={
            "check_dz_dx": "used-autograd",
            "check_predicted_x_grad": None,
            "check_dw_dx": "wrong-point",
        },
    ),
]
