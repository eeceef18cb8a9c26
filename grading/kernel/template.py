"""The grader's handle on one kernel template: a process (server.py, usually in the sandbox) that
imports torch & co. once and forks a fresh kernel for every notebook.

A template takes seconds to start, so the pool launches the templates first and hands each to the
worker it forks later. Only the launching process can wait for a template, so whether a template
still runs is judged by the protocol: a dead template stops answering.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import threading
from typing import TYPE_CHECKING, Any

from grading.files import owned_folder
from grading.kernel.sandbox import Sandbox

if TYPE_CHECKING:  # imported when a kernel starts: the template launches before nbclient's imports
    from grading.kernel.client import KernelSocket

READY_TIMEOUT = 180  # seconds for the template to import torch & co. on a busy machine
REQUEST_TIMEOUT = 90  # seconds for one request (a spawn waits for the kernel's sockets)


class TemplateGone(RuntimeError):
    """The template process died (a kernel may have killed it) or stopped answering."""


class Template:
    """One kernel template. Thread-safe: the watchdog that enforces the notebook's time limit
    talks to it from another thread."""

    def __init__(self, sandbox: Sandbox, ready_first: bool = False):
        """`ready_first`: a template for one notebook (a late hand-in) says it is ready before its
        warm-ups (the first uses of torch, an optimizer, matplotlib), which it does while it waits;
        a template for many does them first, so that none of its kernels waits for them."""
        self.sandbox, self.ready_first = sandbox, ready_first
        self.workdir, self.owner = owned_folder("kernels")
        self.workdir.chmod(0o755)  # the sandbox's unprivileged user must reach the sockets
        self.runtime = self.workdir / "run"
        self.process: subprocess.Popen | None = None
        self.ready = False
        self.gone = False
        self.unanswered = False  # a reset is on its way: its reply comes before the next one
        self._lock = threading.Lock()

    def launch(self) -> None:
        """Start the process, without waiting for it to be ready."""
        self.runtime.mkdir(exist_ok=True)
        (self.workdir / "scratch").mkdir(exist_ok=True)
        self.process = self.sandbox.template_process(
            self.workdir, self.runtime, self.workdir / "scratch", self.ready_first
        )
        self.ready, self.gone, self.unanswered = False, False, False

    def ensure_running(self) -> None:
        """Wait until the template is ready (and done with the last reset); start one when there
        is none, or it is gone."""
        with self._lock:
            try:
                self._answered()
            except TemplateGone:
                pass
        if self.process is None or self.gone:
            self.close()
            self.launch()
        if not self.ready:
            if self._read(READY_TIMEOUT).get("ready") is not True:
                raise TemplateGone("the kernel template did not start")
            self.ready = True

    def _read(self, timeout: float) -> dict:
        assert self.process and self.process.stdout
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else b""
        if not line:
            self.gone = True
            raise TemplateGone("the kernel template stopped answering")
        return json.loads(line)

    def _answered(self) -> None:
        """Read the reply to the reset on its way, if any (hold the lock)."""
        if self.unanswered:
            self.unanswered = False
            self._read(REQUEST_TIMEOUT)

    def request(self, timeout: float = REQUEST_TIMEOUT, answer: bool = True, **message: Any) -> dict:
        """Send a request, and wait for its reply unless `answer` is False (the next request reads it)."""
        with self._lock:
            if self.process is None or self.gone:
                raise TemplateGone("the kernel template is not running")
            self._answered()
            try:
                assert self.process.stdin
                self.process.stdin.write(json.dumps(message).encode() + b"\n")
                self.process.stdin.flush()
            except BrokenPipeError as error:
                self.gone = True
                raise TemplateGone("the kernel template is not running") from error
            if not answer:
                self.unanswered = True
                return {}
            reply = self._read(timeout)
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply

    def fork_kernel(self, limits: dict, output_chars: int, first_cells: list[str]) -> tuple[int, KernelSocket]:
        """A fresh kernel (runner.py) forked from the template, and the grader's socket to it.
        `first_cells`: the course's own first cells of the notebook, which the template may have
        run already, in a zygote (fork.py); the kernel says which ran."""
        from grading.kernel.client import KernelSocket

        inside = f"{self.sandbox.runtime_inside(self.runtime)}/kernel"
        request = {"socket": inside, "limits": limits, "output_chars": output_chars, "first_cells": first_cells}
        pid = self.request(op="spawn", **request)["pid"]
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(self.runtime / "kernel"))
        except OSError:
            sock.close()
            self.signal(pid, signal.SIGKILL)
            raise
        return pid, KernelSocket(sock, lambda: self.poll(pid) is None, lambda: self.signal(pid, signal.SIGINT))

    def poll(self, pid: int) -> int | None:
        try:
            return self.request(op="poll", pid=pid)["exit"]
        except TemplateGone:
            return -signal.SIGKILL

    def signal(self, pid: int, signum: int) -> None:
        try:
            self.request(op="signal", pid=pid, signal=int(signum))
        except TemplateGone:
            pass

    def reset(self) -> None:
        """Between notebooks: no process of the last kernel survives, no file it wrote remains.
        The template does it while the worker finishes grading; the next kernel waits for it."""
        try:
            self.request(op="reset", answer=False)
        except TemplateGone:
            self.close()
        for entry in self.runtime.iterdir() if self.runtime.exists() else ():
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()

    def close(self) -> None:
        if self.process is not None:
            # By pid: Popen.kill does nothing in a process that did not launch it. The pid cannot
            # belong to another process yet: the launcher has not collected it.
            try:
                os.kill(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()  # returns at once in a process that did not launch it
            for pipe in (self.process.stdin, self.process.stdout):
                if pipe:
                    pipe.close()
            self.process = None
        self.gone = True

    def remove(self) -> None:
        self.close()
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.owner.close()

