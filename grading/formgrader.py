"""`python -m grading formgrader OUT`: nbgrader's formgrader on OUT/course, to grade by hand.

In nbgrader 0.9 the formgrader is a Jupyter server extension (`nbgrader formgrader` is no command
of it): a Jupyter server started in the course folder, with the extension on, serves it at
/formgrader. Here it listens on this machine only (127.0.0.1), behind a token of its own, and the
address to open is printed. Scores and comments saved there are in OUT's gradebook at once;
`python -m grading report OUT` puts them in every output.
"""

import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

EXTENSION = "nbgrader.server_extensions.formgrader"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def address(port: int, token: str) -> str:
    return f"http://127.0.0.1:{port}/formgrader?token={token}"


def server_command(course_dir: Path, port: int, token: str) -> list[str]:
    """A Jupyter server on the course folder with the formgrader on, reachable from this machine only."""
    # Jupyter refuses to run as root unless told; here it serves 127.0.0.1 only, behind the token
    # (root is who runs the grader in a container without --user).
    as_root = ["--ServerApp.allow_root=True"] if os.geteuid() == 0 else []
    return [
        sys.executable,
        "-m",
        "jupyter_server",
        f"--ServerApp.root_dir={course_dir}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.open_browser=False",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.jpserver_extensions={EXTENSION}=True",
        *as_root,
    ]


def wait_until_listening(server: subprocess.Popen, port: int, seconds: float = 120) -> bool:
    """Whether the server came to accept connections before it ended or `seconds` passed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and server.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.2)
    return False


def serve(course_dir: Path, port: int | None = None) -> int:
    """Run the formgrader until interrupted; print its address first. Returns the server's exit status."""
    port, token = port or free_port(), secrets.token_hex(24)
    # nbgrader reads nbgrader_config.py from the folder it is started in: the course's.
    server = subprocess.Popen(server_command(course_dir, port, token), cwd=course_dir, stdin=subprocess.DEVNULL)
    try:
        if not wait_until_listening(server, port):
            server.terminate()
            raise RuntimeError(f"the formgrader did not start on port {port} (its log is above)")
        print(f"formgrader: {address(port, token)}", flush=True)
        print("Grade the written answers under 'Manual Grading'; press Ctrl-C here to stop.", flush=True)
        return server.wait()
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait()
