"""The grader's end of a kernel (runner.py): its socket, and nbclient's way of executing a
notebook's cells, over that socket instead of the kernel protocol.

`RunnerExecution` goes before nbclient's NotebookClient (or nbgrader's Execute, one) in a class's
bases. It keeps everything NotebookClient decides from the messages a kernel sends (outputs,
execution counts, timings, display updates, the reply that nbgrader reads) by handing those
messages to NotebookClient's own `process_message`, and it keeps NotebookClient's rules for
timeouts: past `timeout` the cell is interrupted and replied `error_on_timeout`; a cell that has
not finished `iopub_timeout` seconds after that raises CellTimeoutError; a kernel that stopped
raises DeadKernelError.

A test cell with hidden tests (`hidden_tests` says which) runs in two requests: its visible part,
then, if that raised nothing, its hidden tests, with what is left of the cell's time. What the
second outputs goes after outputs.HIDDEN_MARK, which the grader adds here, outside the kernel: no
output can move the mark (a forged one only withholds more), clear or update what came before it,
and code run by the visible part never sees the hidden tests' source. (A kernel's process is the
student's: code that writes forged frames to its socket could end a part early, as it could end a
cell early; nothing here prevents that.)
"""

import datetime
import inspect
import json
import select
import socket
import time
import uuid
from collections.abc import Callable

from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionComplete, CellTimeoutError, DeadKernelError
from nbformat import NotebookNode, from_dict

from grading.kernel.runner import HEADER, send_frame
from grading.outputs import HIDDEN_MARK

MAX_FRAME = 256 * 2**20  # bytes in one message: more is a kernel gone wrong
ALIVE_EVERY = 1.0  # seconds between checks that a silent kernel still runs (nbclient's too)


class KernelSocket:
    """Frames to and from one kernel. `alive` says whether its process still runs, `interrupt`
    sends it SIGINT."""

    def __init__(self, sock: socket.socket, alive: Callable[[], bool], interrupt: Callable[[], None]):
        self.sock, self.alive, self.interrupt = sock, alive, interrupt
        self.buffer = bytearray()
        self.buffered: list[dict] = []  # messages received before, handed out first

    def send(self, message: dict) -> None:
        try:
            send_frame(self.sock, message)
        except OSError as error:
            raise DeadKernelError("Kernel died") from error

    def receive(self, deadline: float | None) -> dict | None:
        """The next message, or None when `deadline` (time.monotonic) passes first."""
        if self.buffered:
            return self.buffered.pop(0)
        while (message := self._frame()) is None:
            wait = ALIVE_EVERY if deadline is None else min(ALIVE_EVERY, deadline - time.monotonic())
            if wait <= 0:
                return None
            if select.select([self.sock], [], [], wait)[0]:
                try:
                    data = self.sock.recv(1 << 20)
                except OSError:  # reset: it died with a cell unread
                    data = b""
                if not data:
                    raise DeadKernelError("Kernel died")
                self.buffer += data
            elif not self.alive():
                raise DeadKernelError("Kernel died")
        return message

    def _frame(self) -> dict | None:
        if len(self.buffer) < HEADER.size:
            return None
        (size,) = HEADER.unpack_from(self.buffer)
        if size > MAX_FRAME:
            raise DeadKernelError(f"the kernel sent a message of {size} bytes")
        if len(self.buffer) < HEADER.size + size:
            return None
        data = bytes(self.buffer[HEADER.size : HEADER.size + size])
        del self.buffer[: HEADER.size + size]
        return read_message(data)

    def close(self) -> None:
        self.sock.close()


def read_message(data: bytes) -> dict:
    """A kernel's frame as a message nbclient can process; student code shares the kernel's
    process, so nothing in a frame is trusted beyond its shape."""
    try:
        frame = json.loads(data)
        if "hello" in frame:
            return {"hello": dict(frame["hello"])}
        return as_message(frame)
    except (ValueError, TypeError, KeyError) as error:
        raise DeadKernelError(f"the kernel sent an unreadable message ({type(error).__name__})") from None


def as_message(frame: dict) -> dict:
    msg_type, content = frame["msg_type"], frame["content"]
    date = datetime.datetime.fromisoformat(frame["date"])
    if not isinstance(msg_type, str) or not isinstance(content, dict):
        raise TypeError(msg_type)
    return {"msg_type": msg_type, "content": content, "header": {"msg_type": msg_type, "date": date}}


class RunnerExecution:
    """NotebookClient's execution of a notebook, on a KernelSocket (see the module's doc)."""

    kernel: KernelSocket

    def run_cells(self, kernel: KernelSocket) -> NotebookNode:
        """Every cell of self.nb, as NotebookClient.execute runs them once its kernel is ready;
        the first ones may have run before the kernel was forked: their messages come first."""
        self.kernel = kernel
        hello = kernel.receive(time.monotonic() + self.startup_timeout)
        if hello is None or "hello" not in hello:
            raise DeadKernelError("the kernel did not say hello")
        self.nb.metadata["language_info"] = hello["hello"]["language_info"]
        try:
            self.ran = [(c["code"], [as_message(m) for m in c["messages"]]) for c in hello["hello"]["ran"]]
        except (ValueError, TypeError, KeyError) as error:
            raise DeadKernelError(f"the kernel sent an unreadable hello ({type(error).__name__})") from None
        self._hook(self.on_notebook_start, notebook=self.nb)
        try:
            for index, cell in enumerate(self.nb.cells):
                self.execute_cell(cell, index, execution_count=None)
        except Exception:
            self._hook(self.on_notebook_error, notebook=self.nb)
            raise
        finally:
            self._hook(self.on_notebook_complete, notebook=self.nb)
        self.set_widgets_metadata()
        return self.nb

    def execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        """NotebookClient.async_execute_cell, step for step."""
        self._hook(self.on_cell_start, cell=cell, cell_index=cell_index)
        if cell.cell_type != "code" or not cell.source.strip():
            return cell
        if self.skip_cells_with_tag in cell.metadata.get("tags", []):
            return cell
        if self.record_timing:
            cell["metadata"]["execution"] = {}
        if self.coalesce_streams:
            raise NotImplementedError("coalesce_streams is not supported by the grader's kernels")
        self._hook(self.on_cell_execute, cell=cell, cell_index=cell_index)
        msg_id = uuid.uuid4().hex
        visible, hidden = cell.source, None
        if self.ran:  # it ran before the kernel was forked: its messages are here already
            code, messages = self.ran.pop(0)
            if code != cell.source:
                raise RuntimeError("the kernel ran other first cells than this notebook's")
            self.kernel.buffered = messages
        else:
            visible, hidden = self.hidden_tests(cell)
            if visible.strip():
                self.kernel.send({"code": visible, "continues": hidden is not None})
        self._hook(self.on_cell_complete, cell=cell, cell_index=cell_index)
        self.code_cells_executed += 1
        cell.outputs = []
        self.clear_before_next_output = False
        timeout = self._get_timeout(cell)
        started = time.monotonic()
        reply, go_on = None, True
        if visible.strip():
            reply = self._wait_for_reply(msg_id, cell, cell_index, timeout)
            go_on = reply is not None and reply["content"].get("status") == "ok"  # an error ends a cell
        if hidden is not None and go_on:
            left = None if timeout is None else max(timeout - (time.monotonic() - started), 1)
            reply = self._run_hidden_tests(hidden, msg_id, cell, cell_index, left)
        if execution_count:
            cell["execution_count"] = execution_count
        self._hook(self.on_cell_executed, cell=cell, cell_index=cell_index, execute_reply=reply)
        if reply is not None and reply["content"].get("status") == "error":
            run_sync(self._check_raise_for_error)(cell, cell_index, reply)
        self.nb["cells"][cell_index] = cell
        return cell

    def hidden_tests(self, cell) -> tuple[str, str | None]:
        """The code a cell runs before its hidden tests, and its hidden tests (None: it has none).
        None here: nbgrader's Execute (preprocessors.TemplateExecute) knows which cells have them."""
        return cell.source, None

    def _run_hidden_tests(self, code: str, msg_id: str, cell, cell_index: int, timeout: float | None) -> dict | None:
        """A test cell's hidden tests, after its visible part: their outputs go after HIDDEN_MARK.
        They are collected apart, so that a clear_output they send clears only their own."""
        self.kernel.send({"code": code})
        apart = from_dict({"cell_type": "code", "source": code, "outputs": []})
        apart.metadata = cell.metadata  # the cell's timings
        try:
            reply = self._wait_for_reply(msg_id, apart, cell_index, timeout, hidden=True)
        finally:  # also when the kernel died meanwhile: the instructor's copy keeps what they printed
            cell.outputs += [from_dict(HIDDEN_MARK), *apart.outputs]
            if cell.get("execution_count") is None:  # the cell had no visible part
                cell.execution_count = apart.get("execution_count")
        return reply

    def _wait_for_reply(
        self, msg_id: str, cell, cell_index: int, timeout: float | None, hidden: bool = False
    ) -> dict | None:
        """The cell's messages up to its status idle; the reply, or `error_on_timeout`'s. While
        `hidden` tests run, no message may change an output shown before (a display update), nor
        name a display that later cells could update."""
        deadline = None if timeout is None else time.monotonic() + timeout
        reply = None
        while True:
            message = self.kernel.receive(deadline)
            if message is None and reply is None:  # the cell ran past its timeout
                reply = self._timed_out(timeout, cell)
                deadline = time.monotonic() + (self.iopub_timeout if reply else timeout)
                continue
            if message is None:
                if self.raise_on_iopub_timeout:
                    raise CellTimeoutError.error_from_timeout_and_cell(
                        "Timeout waiting for IOPub output", self.iopub_timeout, cell
                    )
                self.log.warning("Timeout waiting for IOPub output")
                return reply
            message["parent_header"] = {"msg_id": msg_id}
            if hidden:
                if message["msg_type"] == "update_display_data":
                    continue
                message["content"].pop("transient", None)
            if message["msg_type"] == "execute_reply":
                if reply is None:
                    reply = message
                    if self.record_timing:
                        cell["metadata"]["execution"]["shell.execute_reply"] = timestamp(message)
                    deadline = time.monotonic() + self.iopub_timeout
                continue
            try:
                self.process_message(message, cell, cell_index)
            except CellExecutionComplete:
                return reply

    def _timed_out(self, timeout: int, cell) -> dict | None:
        """NotebookClient._async_handle_timeout."""
        self.log.error(f"Timeout waiting for execute reply ({timeout}s).")
        if not self.interrupt_on_timeout:
            raise CellTimeoutError.error_from_timeout_and_cell("Cell execution timed out", timeout, cell)
        self.kernel.interrupt()
        if self.error_on_timeout:
            return {"content": {**self.error_on_timeout, "status": "error"}}
        return None

    @staticmethod
    def _hook(hook, **kwargs) -> None:
        """nbclient's run_hook: a hook may be a function or a coroutine function."""
        if hook is not None and inspect.isawaitable(result := hook(**kwargs)):
            run_sync(_awaited)(result)


class NotebookExecution(RunnerExecution, NotebookClient):
    """nbclient's NotebookClient, on a kernel of the grader's own (`python -m grading check`)."""


async def _awaited(awaitable):
    return await awaitable


def timestamp(message: dict) -> str:
    return message["header"]["date"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
