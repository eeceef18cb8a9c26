"""Forking a kernel, inside the sandbox: from the template itself, or from a zygote.

A kernel is a child of a warm process that becomes a fresh one: its own session, fresh random
state, the notebook's limits, a socket for the grader, then runner.Kernel runs what it is sent.

A zygote is a child of the template that ran a notebook's first cells once: the course's own
setup and helpers cells (in this course, 35 kB of helpers compiled and run: a fifth of a notebook's
work), exactly as the course released them. It runs nothing else, and forks that notebook's
kernels on request: each starts where the first cells left off, and the grader is told what those
cells showed. Kernels run as the same user as the zygote: a zygote that a kernel stopped or
killed is dropped (Zygotes.check) and made again.

Loaded by server.py from its own folder: only the standard library is imported here.
"""

import ctypes
import json
import os
import resource
import select
import signal
import socket
import threading
import traceback

PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4
KERNEL_START_TIMEOUT = 60  # seconds for a forked kernel to listen, and for the grader to connect
LIMITS = {
    "cpu_seconds": resource.RLIMIT_CPU,
    "file_bytes": resource.RLIMIT_FSIZE,
    "open_files": resource.RLIMIT_NOFILE,
}

libc = ctypes.CDLL(None, use_errno=True)


def keep_only(*fds: int) -> None:
    """Standard streams to /dev/null, every other file descriptor closed but `fds`: the pipes of
    the process it was forked from (the template's protocol, a zygote's requests) are not a
    child's to use, and with them student code could talk to the grader or order kernels."""
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    last = 3
    for fd in sorted(fds):
        os.closerange(last, fd)
        last = fd + 1
    os.closerange(last, resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def child(request: dict, scratch: str, ready_fd: int, shell, compat, ran: list[dict], state: object) -> None:
    """Become a kernel: a fresh session, limits, then run the cells that the grader sends to its
    socket. `ran`: the cells that ran before the fork, in a zygote, and `state` the random state
    they left (Python's own module reseeds in every child: undone); a kernel forked from the
    template draws fresh random numbers, as a zygote did before it ran its cells."""
    import random

    import runner

    os.setsid()
    for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    keep_only(ready_fd)
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
    if ran:
        random.setstate(state)
    else:
        reseed()
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
    send = lambda message: runner.send_frame(connection, message)  # noqa: E731
    runner.Kernel(shell, send, request["output_chars"], compat.execute_reply).serve(connection, ran)
    os._exit(0)


def reseed() -> None:
    """Every kernel draws its own random numbers, and torch runs single-threaded (the template
    never started OpenMP's pool: forking stays safe)."""
    import random

    import numpy
    import torch

    random.seed()
    numpy.random.seed()
    torch.seed()
    torch.set_num_threads(1)


def spawn(request: dict, scratch: str, shell, compat, ran: list[dict]) -> dict:
    """Fork a kernel: {"pid": N} once it listens, or {"error": why, "pid": N}."""
    import random

    state = random.getstate()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        try:
            child(request, scratch, write_fd, shell, compat, ran, state)
        except BaseException:
            os.write(write_fd, traceback.format_exc().encode()[-4000:])
        finally:
            os._exit(1)
    os.close(write_fd)
    ready = os.read(read_fd, 4096) if select.select([read_fd], [], [], KERNEL_START_TIMEOUT)[0] else b""
    os.close(read_fd)
    if ready != b"1":
        return {"error": f"kernel failed to start: {ready.decode(errors='replace') or 'no answer'}", "pid": pid}
    return {"pid": pid}


def running(pid: int) -> bool:
    """The process exists and is neither a zombie nor stopped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in "ZXxTt"
    except (OSError, IndexError):
        return False


def collect(*_) -> None:
    """Collect every child that has ended (a zygote's kernels: their times count towards it)."""
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


def read_line(fd: int, timeout: float) -> dict | None:
    """One JSON line from a pipe, or None (closed, or silent for `timeout` seconds)."""
    data = b""
    while not data.endswith(b"\n"):
        if not select.select([fd], [], [], timeout)[0]:
            return None
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return None
        data += chunk
    return json.loads(data)


class Zygote:
    """The template's handle on one zygote: its pid, its pipes, and what its cells showed."""

    def __init__(self, pid: int, requests_fd: int, replies_fd: int, ran: list[dict]):
        self.pid, self.requests_fd, self.replies_fd, self.ran = pid, requests_fd, replies_fd, ran

    def spawn(self, request: dict) -> dict | None:
        """A kernel forked from the zygote, as `spawn` answers; None when the zygote failed."""
        try:
            os.write(self.requests_fd, json.dumps(request).encode() + b"\n")
        except OSError:
            return None
        return read_line(self.replies_fd, KERNEL_START_TIMEOUT + 5)

    def close(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.close(self.requests_fd)
        os.close(self.replies_fd)


class Zygotes:
    """The template's zygote, of the notebook start (the sources of its first cells) it was asked
    for last: one at a time (each holds ~15 MiB), as hand-ins come notebook by notebook (pool.Todo)."""

    def __init__(self, scratch: str, shell, compat):
        self.scratch, self.shell, self.compat = scratch, shell, compat
        self.cells: str | None = None  # the first cells the zygote was made of, as JSON
        self.zygote: Zygote | None = None  # None with cells: those cells cannot be run ahead

    def pids(self) -> set[int]:
        return {self.zygote.pid} if self.zygote else set()

    def spawn(self, request: dict) -> dict:
        """A kernel for the request, from the zygote of its first cells when there is one."""
        cells = request.get("first_cells") or []
        if not cells:
            return spawn(request, self.scratch, self.shell, self.compat, [])
        if json.dumps(cells) != self.cells:
            self.clear()
            self.cells, self.zygote = json.dumps(cells), self._make(cells, request["output_chars"])
        if self.zygote is not None:
            reply = self.zygote.spawn(request)
            if reply is not None:
                return reply
            self.zygote.close()  # it failed: without it for these cells
            self.zygote = None
        return spawn(request, self.scratch, self.shell, self.compat, [])

    def check(self) -> None:
        """Drop the zygote if it no longer waits for requests (a kernel may have stopped it)."""
        if self.zygote and not running(self.zygote.pid):
            self.clear()

    def clear(self) -> None:
        if self.zygote:
            self.zygote.close()
        self.cells, self.zygote = None, None

    def _make(self, cells: list[str], output_chars: int) -> Zygote | None:
        zygote_reads, template_writes = os.pipe()
        template_reads, zygote_writes = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                self._live(cells, output_chars, zygote_reads, zygote_writes)
            finally:
                os._exit(1)
        os.close(zygote_reads)
        os.close(zygote_writes)
        zygote = Zygote(pid, template_writes, template_reads, [])
        first = read_line(template_reads, KERNEL_START_TIMEOUT)
        if not first or not first.get("ran"):
            zygote.close()
            return None
        zygote.ran = first["ran"]
        return zygote

    def _live(self, cells: list[str], output_chars: int, requests_fd: int, replies_fd: int) -> None:
        """The zygote's life: run the cells, say what they showed, then fork kernels on request."""
        import runner

        os.setsid()
        keep_only(requests_fd, replies_fd)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        libc.prctl(PR_SET_DUMPABLE, 0)
        workdir = os.path.join(self.scratch, "work")
        os.makedirs(workdir, exist_ok=True)
        os.chdir(workdir)
        reseed()  # the cells draw their own random numbers, as in a fresh kernel
        before = set(os.listdir(self.scratch))
        recorded: list[dict] = []
        ran = runner.Kernel(self.shell, recorded.append, output_chars, self.compat.execute_reply).run(cells, recorded)
        # Usable when the cells ran as anywhere else: no error, no thread started (forking would
        # not copy it), no file written (scratch is wiped between notebooks).
        replies = [m["content"] for r in ran for m in r["messages"] if m["msg_type"] == "execute_reply"]
        usable = (
            all(reply["status"] == "ok" for reply in replies)
            and threading.active_count() == 1
            and len(os.listdir("/proc/self/task")) == 1
            and not os.listdir(workdir)
            and set(os.listdir(self.scratch)) == before
        )
        os.write(replies_fd, json.dumps({"ran": ran if usable else []}).encode() + b"\n")
        if not usable:
            return
        signal.signal(signal.SIGCHLD, collect)  # its kernels, as they end
        while (request := read_line(requests_fd, None)) is not None:
            reply = spawn(request, self.scratch, self.shell, self.compat, ran)
            os.write(replies_fd, json.dumps(reply).encode() + b"\n")
