"""The kernel template's process: runs inside the sandbox, imports once what notebooks need, then
forks one fresh kernel per notebook.

A cold kernel spends about 1.7 s starting Python, ipykernel and torch; a child forked from this
warm process starts in a few milliseconds. It runs the notebook's cells itself, in the IPython
shell made here before the fork (runner.py): no kernel protocol between the grader and the cells.
Only the standard library and the packages a kernel uses are imported here: the grading package
itself is not visible in the sandbox, only this file, fork.py, runner.py and compat.py.

Protocol: one JSON object per line on stdin, one JSON reply per line on stdout.
  {"op": "spawn", "socket": PATH, "limits": {...}, "output_chars": N, "first_cells": [CODE, ...]}
                                                        -> {"pid": N}   (once it listens on PATH;
                                                           forked from the zygote of first_cells)
  {"op": "poll", "pid": N}                              -> {"exit": null | code}
  {"op": "signal", "pid": N, "signal": S}               -> {}   (SIGINT: to its process group)
  {"op": "reset"}                                       -> {}   (kill what kernels left, wipe scratch)
"""

import argparse
import json
import os
import resource
import select
import signal
import time
from collections.abc import Iterator

# Its siblings: this file runs as a script beside them (in the sandbox, they are bound beside it).
import fork
import runner

PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 1, 4, 36


def preload() -> None:
    """Import what every notebook's kernel needs, without starting a thread, an event loop or a zmq
    context (a forked child could not use them)."""
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    import ipykernel.compiler  # noqa: F401
    import ipykernel.ipkernel  # noqa: F401
    import ipykernel.zmqshell  # noqa: F401
    import IPython.extensions.storemagic  # noqa: F401
    import matplotlib.pyplot  # noqa: F401
    import matplotlib_inline.backend_inline  # noqa: F401
    import numpy  # noqa: F401
    import torch  # noqa: F401


def choose_figure_backend() -> None:
    """Matplotlib picks its backend (the inline one) at its first figure: here, before the shell
    exists, as in a kernel forked from a warm template: a figure is shown only when a cell shows it."""
    import matplotlib.pyplot as plt

    plt.close(plt.figure())


def warm_up() -> None:
    """Do once, here, what every notebook's first cells would do in each kernel: the first use of
    a torch operation, of autograd, of a matplotlib figure with text (fonts are loaded on first
    use) each cost milliseconds to hundreds of them. With one thread torch never starts OpenMP's
    pool, so every operation runs inline and forking stays safe (a parallel op would hang them)."""
    import matplotlib.pyplot as plt
    import torch

    torch.set_num_threads(1)
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    loss = ((x @ x.T).sum() + (x * 2).mean() - x.reshape(-1)[1:].tanh().sum()) ** 2
    torch.autograd.grad(loss, x, retain_graph=True)
    loss.backward()
    repr(x), repr(x.grad), x.detach().numpy(), x.tolist()
    figure, axes = plt.subplots(1, 2)
    axes[0].plot([0, 1], [0, 1], label="warm")
    axes[1].scatter([0, 1], [1, 0])
    axes[0].legend()
    axes[0].set(title="warm", xlabel="x", ylabel="y")
    figure.canvas.draw()  # Agg, in memory: loads the fonts
    plt.close("all")


def warm_up_training() -> None:
    """What only some notebooks do: a model, a loss, an optimizer. The first optimizer imports
    torch._dynamo, a second."""
    import torch

    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    model = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for criterion in (torch.nn.BCEWithLogitsLoss(), torch.nn.MSELoss()):
        optimizer.zero_grad()
        criterion(model(x).squeeze(1), torch.tensor([0.0, 1.0])).backward()
        optimizer.step()
    with torch.no_grad():
        model(x)


def import_drawing() -> None:
    """Graphviz and torchviz, which notebooks on computation graphs import (optional here)."""
    for optional in ("graphviz", "torchviz"):
        try:
            __import__(optional)
        except ImportError:
            pass


def requests(later: list, children: dict, zygotes) -> Iterator[dict]:
    """The requests on stdin, one JSON object a line. While none is waiting and no kernel runs
    (they would share the cores), the functions in `later` run, one at a time: what the template
    can do after it said it is ready, not to keep the first kernel waiting. Zygotes forked before
    are dropped then: they lack it."""
    pending = b""
    while True:
        while b"\n" not in pending:
            if later and not children and not select.select([0], [], [], 0)[0]:
                later.pop(0)()
                zygotes.clear()  # forked before: it lacks what the template imported since
                continue
            data = os.read(0, 65536)
            if not data:
                return
            pending += data
        line, pending = pending.split(b"\n", 1)
        yield json.loads(line)


def poll(pid: int, children: dict):
    if children.get(pid) is None:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # a zygote's kernel: the zygote collects it, its code is unknown
            done, status = (0, 0) if fork.running(pid) else (pid, signal.SIGKILL)
        if done:
            children[pid] = os.waitstatus_to_exitcode(status)
    return children.get(pid)


def session_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[4])
    except (OSError, IndexError, ValueError):
        return None


def leftovers(children: dict, sandboxed: bool, spared: set[int]) -> list[int]:
    """Processes to kill: in the sandbox, all but the template, its zygotes and bwrap's init;
    without it, the kernels' sessions (each kernel starts one, and what it starts stays in it
    unless it escapes)."""
    spared = spared | {1, os.getpid()}
    pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in spared]
    if sandboxed:
        return pids
    return [p for p in pids if p in children or session_of(p) in children]


def reap() -> None:
    """Collect every child that has ended: the template is the subreaper of what kernels start,
    and a process that ended but is not collected still counts against the process cap."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def reset(children: dict, sandboxed: bool, scratch: list[str], zygotes) -> None:
    """Kill every process a kernel left and collect them, then wipe the scratch folders."""
    zygotes.check()
    deadline = time.monotonic() + 10
    while (others := leftovers(children, sandboxed, zygotes.pids())) and time.monotonic() < deadline:
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.002)
        reap()
    children.clear()
    for folder in scratch:
        wipe(folder)


def wipe(folder: str) -> None:
    """Empty a folder, staying on its file system: what the sandbox mounted inside it (Python,
    when it lives under /tmp) is left alone."""
    device = os.lstat(folder).st_dev
    for entry in os.scandir(folder):
        if entry.stat(follow_symlinks=False).st_dev != device:
            continue
        if entry.is_dir(follow_symlinks=False):
            wipe(entry.path)
            try:
                os.rmdir(entry.path)
            except OSError:  # it holds a mount point
                pass
        else:
            os.unlink(entry.path)


def serve() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--compat", required=True, help="the grading package's compat.py (its patches)")
    parser.add_argument("--scratch", action="append", required=True, help="wiped between kernels")
    parser.add_argument("--sandboxed", action="store_true", help="alone in its own PID namespace")
    parser.add_argument("--processes", type=int, help="cap on tasks in the sandbox")
    parser.add_argument("--ready-first", action="store_true", help="say ready, then warm up (for one notebook)")
    args = parser.parse_args()
    if args.processes:
        # Set here, inside the sandbox's user namespace, the cap counts this sandbox's tasks only.
        resource.setrlimit(resource.RLIMIT_NPROC, (args.processes, args.processes))
    fork.libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # a killed grader leaves no template behind
    fork.libc.prctl(PR_SET_DUMPABLE, 0)  # kernels run as the same user: no ptrace, no /proc/<pid>/fd
    fork.libc.prctl(PR_SET_CHILD_SUBREAPER, 1)  # what kernels start and leave behind becomes ours to collect
    preload()
    compat = runner.load_module("grading_compat", args.compat)
    compat.cheap_cell_names()
    choose_figure_backend()
    shell = runner.make_shell()
    later = [warm_up, warm_up_training, import_drawing]
    while later and not args.ready_first:  # a template for many notebooks: none of their kernels waits for these
        later.pop(0)()
    children: dict[int, int | None] = {}
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(os.open("/dev/null", os.O_WRONLY), 1)  # stray prints must not corrupt the protocol
    replies.write(json.dumps({"ready": True}) + "\n")
    zygotes = fork.Zygotes(args.scratch[0], shell, compat)
    for request in requests(later, children, zygotes):
        op = request["op"]
        if op == "spawn":
            reply = zygotes.spawn(request)
            children[reply["pid"]] = None
        elif op == "poll":
            reply = {"exit": poll(request["pid"], children)}
        elif op == "signal":
            # An interrupt reaches the kernel's process group, as ipykernel sends it.
            send = os.killpg if request["signal"] == signal.SIGINT else os.kill
            try:
                send(request["pid"], request["signal"])
            except ProcessLookupError:
                pass
            reply = {}
        elif op == "reset":
            reset(children, args.sandboxed, args.scratch, zygotes)
            reply = {}
        else:
            reply = {"error": f"unknown op {op!r}"}
        replies.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    serve()
