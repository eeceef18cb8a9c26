"""A kernel without the kernel protocol: runs a notebook's cells in this process, in ipykernel's own
IPython shell, and answers with the messages ipykernel would publish for them.

A grading kernel is a child forked from the warm template (server.py); `python -m grading check`
starts one on its own (`python runner.py --fd N`). Either way it serves one client on one socket,
in frames of JSON, each after its length in 4 bytes:

  client → kernel   {"code": "..."}                       run one cell
                    {"code": "...", "continues": true}    run the visible part of a test cell
                      whose hidden tests follow in a request of their own: kept out of the
                      history, its last expression not shown (only a cell's end shows one)
  kernel → client   {"hello": {"language_info": {...}, "ran": [...]}}   once, first: "ran" holds
                      the cells run before the kernel was forked, each {"code", "messages"}
                    {"msg_type": ..., "content": {...}, "date": "..."}
                      per cell, in ipykernel's order: status busy, execute_input, the outputs,
                      execute_reply, status idle

No zmq, no message signing, no event loop, no kernel start and stop: a cell costs what it runs.
The messages are ipykernel's: its shell class (ZMQInteractiveShell, with ipykernel's compiler)
formats results, displays and errors, through a session that hands each message to this module
instead of a socket; the reply is made as ipykernel's `do_execute` makes it. Printed text is made
as ipykernel's OutStream makes it: what is written to sys.stdout and sys.stderr, and to file
descriptors 1 and 2 (subprocesses, C code), goes out as one message per stream, stdout first,
before any other output, at the end of the cell and every 0.2 s. Printed text beyond
`output_chars` for the whole notebook is cut here already, as the grader cuts it (one character
more, so that it still says it cut), so that a 50 MB print never crosses the socket.

Imports only the standard library at module level: the kernel template loads this file inside
the sandbox, where the grading package is not visible, and the grader imports its framing.
"""

import argparse
import builtins
import codecs
import contextlib
import datetime
import getpass
import io
import json
import os
import select
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable

FLUSH_INTERVAL = 0.2  # seconds, as ipykernel's OutStream
HEADER = struct.Struct("!I")  # a frame's length


def send_frame(sock: socket.socket, message: dict) -> None:
    data = json.dumps(message).encode()
    sock.sendall(HEADER.pack(len(data)) + data)


def make_shell():
    """ipykernel's shell, set up as the grader's kernels always were: plain tracebacks (students are
    shown only an error's name and message) and outputs as text only (pictures cannot change a
    grade, and drawing them was a third of the kernels' time). Made once in the kernel template,
    before it forks: each kernel starts with a fresh copy (a kernel on its own makes its own)."""
    from ipykernel.compiler import XCachingCompiler
    from ipykernel.zmqshell import ZMQInteractiveShell
    from traitlets.config import Config

    config = Config()
    config.InteractiveShell.xmode = "Plain"
    config.DisplayFormatter.active_types = ["text/plain"]
    config.HistoryManager.hist_file = ":memory:"
    shell = ZMQInteractiveShell.instance(config=config, compiler_class=XCachingCompiler)
    shell.kernel = NoEventLoop()
    shell.extension_manager.load_extension("storemagic")  # IPKernelApp's default extension
    if "" not in sys.path:  # IPKernelApp's init_path: modules beside the notebook, after the standard library
        packages = [i for i, p in enumerate(sys.path) if os.path.basename(p) in ("site-packages", "dist-packages")]
        sys.path.insert(packages[0] if packages else 0, "")
    return shell


class NoEventLoop:
    """What the shell asks of its kernel when a cell calls exit(): whether a GUI event loop runs.
    (Nothing else happens then, as in ipykernel 7: the kernel goes on with the next cell.)"""

    eventloop = None


@contextlib.contextmanager
def interrupts_wait():
    """A SIGINT that arrives now is handled after the block: a frame is never sent half."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


class Stream(io.TextIOBase):
    """A kernel's sys.stdout or sys.stderr: text kept until the publisher sends it, and no more of
    it than the output budget can still show."""

    def __init__(self, publisher: "Publisher", name: str):
        super().__init__()
        self.publisher, self.name = publisher, name
        self.parts: list[str] = []
        self.size = self.dropped = 0

    def add(self, text: str) -> None:
        """Keep text (hold the publisher's lock)."""
        room = max(max(self.publisher.left, 0) + 1 - self.size, 0)
        if len(text) > room:
            self.dropped += len(text) - room
            text = text[:room]
        if text:
            self.parts.append(text)
            self.size += len(text)

    def take(self) -> tuple[str, int]:
        text, dropped = "".join(self.parts), self.dropped
        self.parts, self.size, self.dropped = [], 0, 0
        return text, dropped

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if self.publisher.send is not None:
            with self.publisher.lock:
                self.add(text)
        return len(text)

    def flush(self) -> None:
        self.publisher.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return "UTF-8"


class Publisher:
    """Everything a kernel sends, to `send` (a frame on its socket, or a list that records): its
    messages, and before each the text printed since the last."""

    def __init__(self, send: Callable[[dict], None], output_chars: int):
        from jupyter_client.session import Session

        publish = self.publish

        class RecordingSession(Session):
            """The shell's session: a message it would send on IOPub goes to the client."""

            def send(self, stream, msg_or_type, content=None, parent=None, *args, **kwargs):
                msg = msg_or_type if isinstance(msg_or_type, dict) else self.msg(msg_or_type, content, parent)
                publish(msg["msg_type"], msg["content"])
                return msg

        self.session = RecordingSession()
        self.send: Callable[[dict], None] | None = send
        # The flusher thread sends too; re-entrant: a signal handler in a cell may print.
        self.lock = threading.RLock()
        self.left = output_chars
        self.streams = [Stream(self, "stdout"), Stream(self, "stderr")]
        self.pipes: dict[int, tuple[Stream, codecs.IncrementalDecoder]] = {}
        self.last_flush = time.monotonic()

    def publish(self, msg_type: str, content: dict) -> None:
        with interrupts_wait(), self.lock:
            self._flush_locked()
            self._send_locked({"msg_type": msg_type, "content": content, "date": now()})

    def flush(self) -> None:
        with interrupts_wait(), self.lock:
            self._flush_locked()

    def _send_locked(self, message: dict) -> None:
        if self.send is not None:
            self.send(message)

    def _flush_locked(self) -> None:
        self._drain_locked(list(self.pipes))
        for stream in self.streams:
            text, dropped = stream.take()
            if text:
                self.left -= len(text) + dropped
                self._send_locked({"msg_type": "stream", "content": {"name": stream.name, "text": text}, "date": now()})
        self.last_flush = time.monotonic()

    def capture_descriptors(self) -> None:
        """File descriptors 1 and 2 become pipes that this publisher reads, as with ipykernel's
        OutStream: what subprocesses and C code print is the cell's output too."""
        for fd, stream in zip((1, 2), self.streams, strict=True):
            read_end, write_end = os.pipe()
            os.dup2(write_end, fd)
            os.close(write_end)
            os.set_blocking(read_end, False)
            self.pipes[read_end] = (stream, codecs.getincrementaldecoder("utf-8")("replace"))

    def _drain_locked(self, ready: list[int]) -> None:
        for fd in ready:
            stream, decoder = self.pipes[fd]
            while True:
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    break
                if not data:
                    break
                stream.add(decoder.decode(data))

    def flush_every_interval(self) -> None:
        """The flusher thread: pipes read as they fill, printed text sent every FLUSH_INTERVAL."""
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})  # interrupts are for the cells
        while self.send is not None:
            ready, _, _ = select.select(list(self.pipes), [], [], FLUSH_INTERVAL)
            with self.lock:
                self._drain_locked(ready)
                if time.monotonic() - self.last_flush >= FLUSH_INTERVAL and any(s.parts for s in self.streams):
                    self._flush_locked()

    def detach(self) -> None:
        """In a process that student code forks: nothing of it may garble the parent's frames."""
        self.send = None
        self.lock = threading.RLock()


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


class Kernel:
    """One notebook's kernel: the shell, its publisher, and the loop that runs cells. `reply` is
    compat.execute_reply (the grading package's compat module, loaded by its path)."""

    def __init__(self, shell, send: Callable[[dict], None], output_chars: int, reply):
        self.shell, self.reply = shell, reply
        self.publisher = Publisher(send, output_chars)
        shell.displayhook.session = shell.display_pub.session = self.publisher.session
        sys.stdout, sys.stderr = self.publisher.streams
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # between cells, as IPKernelApp

    def serve(self, sock: socket.socket, ran: list[dict]) -> None:
        """Run the cells the client sends, until it hangs up. `ran`: the cells that ran before
        this process was forked (each {"code", "messages"}), told to the client first."""
        from ipykernel.ipkernel import IPythonKernel

        send_frame(sock, {"hello": {"language_info": IPythonKernel.language_info, "ran": ran}})
        self.publisher.capture_descriptors()
        os.register_at_fork(after_in_child=self.publisher.detach)
        threading.Thread(target=self.publisher.flush_every_interval, daemon=True).start()
        requests = sock.makefile("rb")
        while (header := requests.read(HEADER.size)) and len(header) == HEADER.size:
            request = json.loads(requests.read(HEADER.unpack(header)[0]))
            self.execute(request["code"], continues=request.get("continues", False))

    def run(self, cells: list[str], recorded: list[dict]) -> list[dict]:
        """Run cells with no client, their messages recorded (this Kernel's `send` appends to
        `recorded`): the common start of a notebook, once, in a zygote (server.py)."""
        ran = []
        for code in cells:
            first = len(recorded)
            self.execute(code)
            ran.append({"code": code, "messages": recorded[first:]})
        return ran

    def execute(self, code: str, continues: bool = False) -> None:
        """One cell, as ipykernel's `execute_request` and `do_execute` run it. `continues`: the code
        is the first part of a cell, and the rest runs next; together they run as the whole cell
        would (one execution count, the cell's last expression shown)."""
        shell, publisher = self.shell, self.publisher
        interactivity = shell.ast_node_interactivity
        hushed = continues and interactivity != "all"
        if hushed:
            shell.ast_node_interactivity = "none"
        publisher.publish("status", {"execution_state": "busy"})
        publisher.publish("execute_input", {"code": code, "execution_count": shell.execution_count})
        result = None
        saved_input, saved_getpass = builtins.input, getpass.getpass
        builtins.input, getpass.getpass = raw_input, getpass_
        try:
            try:
                signal.signal(signal.SIGINT, signal.default_int_handler)
                result = shell.run_cell(code, store_history=not continues, silent=False)
            finally:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
        except KeyboardInterrupt:  # it came just before or just after the cell ran
            pass
        finally:
            builtins.input, getpass.getpass = saved_input, saved_getpass
            if hushed and shell.ast_node_interactivity == "none":
                shell.ast_node_interactivity = interactivity
        publisher.publish("execute_reply", self.reply(shell, result))
        publisher.publish("status", {"execution_state": "idle"})


def raw_input(prompt: str = "") -> str:
    """input() in a cell, as in a kernel whose client allows no stdin: it raises, in ipykernel's words."""
    from IPython.core.error import StdinNotImplementedError

    msg = "raw_input was called, but this frontend does not support input requests."
    raise StdinNotImplementedError(msg)


def getpass_(prompt: str = "Password: ", stream=None, **kwargs) -> str:
    """getpass.getpass() in a cell, as input()."""
    from IPython.core.error import StdinNotImplementedError

    msg = "getpass was called, but this frontend does not support input requests."
    raise StdinNotImplementedError(msg)


def main() -> None:
    """A kernel on its own (`python -m grading check`): serve the socket on file descriptor --fd."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--fd", type=int, required=True, help="a connected socket")
    parser.add_argument("--compat", required=True, help="the grading package's compat.py")
    parser.add_argument("--output-chars", type=int, default=sys.maxsize, help="printed text kept, in all")
    args = parser.parse_args()
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    sock = socket.socket(fileno=args.fd)
    compat = load_module("grading_compat", args.compat)
    Kernel(make_shell(), lambda message: send_frame(sock, message), args.output_chars, compat.execute_reply).serve(
        sock, []
    )


def load_module(name: str, path: str):
    """A module by its file: inside the sandbox the grading package is not importable."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    main()
