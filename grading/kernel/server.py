"""The kernel template's process: runs inside the sandbox, imports once what notebooks need, then
forks one fresh kernel per notebook.

A cold kernel spends about 1.7 s starting Python, ipykernel and torch; a child forked from this
warm process starts in a few milliseconds. It runs the notebook's cells itself, in the IPython
shell made here before the fork (runner.py): no kernel protocol between the grader and the cells.
Only the standard library and the packages a kernel uses are imported here: the grading package
itself is not visible in the sandbox, only this file, runner.py and compat.py.

Protocol: one JSON object per line on stdin, one JSON reply per line on stdout.
  {"op": "spawn", "socket": PATH, "limits": {...}, "output_chars": N}
                                                        -> {"pid": N}   (once it listens on PATH)
  {"op": "poll", "pid": N}                              -> {"exit": null | code}
  {"op": "signal", "pid": N, "signal": S}               -> {}   (SIGINT: to its process group)
  {"op": "reset"}                                       -> {}   (kill what kernels left, wipe scratch)
"""

import argparse
import ctypes
import json
import os
import random
import resource
import select
import signal
import socket
import time
import traceback
from collections.abc import Iterator

PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 1, 4, 36
KERNEL_START_TIMEOUT = 60  # seconds for a forked kernel to listen, and for the grader to connect
LIMITS = {
    "cpu_seconds": resource.RLIMIT_CPU,
    "file_bytes": resource.RLIMIT_FSIZE,
    "open_files": resource.RLIMIT_NOFILE,
}

libc = ctypes.CDLL(None, use_errno=True)


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
    torch._dynamo, two seconds: done after the template said it is ready, while it waits for
    requests, so that one late hand-in does not wait for it (a kernel forked before pays it)."""
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


def requests(later: list, children: dict) -> Iterator[dict]:
    """The requests on stdin, one JSON object a line. While none is waiting and no kernel runs
    (they would share the cores), the functions in `later` run, one at a time: what the template
    can do after it said it is ready, not to keep the first kernel waiting."""
    pending = b""
    while True:
        while b"\n" not in pending:
            if later and not children and not select.select([0], [], [], 0)[0]:
                later.pop(0)()
                continue
            data = os.read(0, 65536)
            if not data:
                return
            pending += data
        line, pending = pending.split(b"\n", 1)
        yield json.loads(line)


def child(request: dict, scratch: str, ready_fd: int, shell, compat) -> None:
    """Become a kernel: a fresh session, fresh random state, limits, then run the cells that the
    grader sends to its socket."""
    import runner

    os.setsid()
    for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    # The protocol pipes stay with the template: a kernel must not be able to talk to it.
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    libc.prctl(PR_SET_DUMPABLE, 0)
    limits = request["limits"]
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if limits.get("memory_bytes"):
        # Address space: what the template already maps, plus the kernel's budget.
        mapped = int(open("/proc/self/statm").read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (mapped + limits["memory_bytes"],) * 2)
    for name, which in LIMITS.items():
        if limits.get(name):
            resource.setrlimit(which, (limits[name], limits[name] + (5 if name == "cpu_seconds" else 0)))

    import numpy
    import torch

    random.seed()
    numpy.random.seed()
    torch.seed()
    torch.set_num_threads(1)

    workdir = os.path.join(scratch, "work")
    os.makedirs(workdir, exist_ok=True)
    os.chdir(workdir)
    os.makedirs(shell.profile_dir.location, exist_ok=True)  # in scratch, wiped since the shell was made
    shell.profile_dir.check_dirs()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(request["socket"])
    listener.listen(1)
    os.write(ready_fd, b"1")
    os.close(ready_fd)
    listener.settimeout(KERNEL_START_TIMEOUT)
    connection, _ = listener.accept()
    listener.close()
    connection.settimeout(None)
    runner.Kernel(shell, connection, request["output_chars"], compat.execute_reply).serve()
    os._exit(0)


def spawn(request: dict, children: dict, scratch: str, shell, compat) -> dict:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        try:
            child(request, scratch, write_fd, shell, compat)
        except BaseException:
            os.write(write_fd, traceback.format_exc().encode()[-4000:])
        finally:
            os._exit(1)
    os.close(write_fd)
    ready = os.read(read_fd, 4096) if select.select([read_fd], [], [], KERNEL_START_TIMEOUT)[0] else b""
    os.close(read_fd)
    children[pid] = None
    if ready != b"1":
        return {"error": f"kernel failed to start: {ready.decode(errors='replace') or 'no answer'}"}
    return {"pid": pid}


def poll(pid: int, children: dict):
    if children.get(pid) is None:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done, status = pid, 0
        if done:
            children[pid] = os.waitstatus_to_exitcode(status)
    return children.get(pid)


def session_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[4])
    except (OSError, IndexError, ValueError):
        return None


def leftovers(children: dict, sandboxed: bool) -> list[int]:
    """Processes to kill: in the sandbox, all but the template and bwrap's init; without it, the
    kernels' sessions (each kernel starts one, and what it starts stays in it unless it escapes)."""
    me = os.getpid()
    pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me)]
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


def reset(children: dict, sandboxed: bool, scratch: list[str]) -> None:
    """Kill every process a kernel left and collect them, then wipe the scratch folders."""
    deadline = time.monotonic() + 10
    while (others := leftovers(children, sandboxed)) and time.monotonic() < deadline:
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
    args = parser.parse_args()
    if args.processes:
        # Set here, inside the sandbox's user namespace, the cap counts this sandbox's tasks only.
        resource.setrlimit(resource.RLIMIT_NPROC, (args.processes, args.processes))
    libc.prctl(PR_SET_DUMPABLE, 0)  # kernels run as the same user: no ptrace, no /proc/<pid>/fd
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1)  # what kernels start and leave behind becomes ours to collect
    import runner

    preload()
    compat = runner.load_module("grading_compat", args.compat)
    compat.cheap_cell_names()
    choose_figure_backend()
    shell = runner.make_shell()
    later = [warm_up, warm_up_training, import_drawing]
    children: dict[int, int | None] = {}
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(os.open("/dev/null", os.O_WRONLY), 1)  # stray prints must not corrupt the protocol
    replies.write(json.dumps({"ready": True}) + "\n")
    for request in requests(later, children):
        op = request["op"]
        if op == "spawn":
            reply = spawn(request, children, args.scratch[0], shell, compat)
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
            reset(children, args.sandboxed, args.scratch)
            reply = {}
        else:
            reply = {"error": f"unknown op {op!r}"}
        replies.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    serve()
