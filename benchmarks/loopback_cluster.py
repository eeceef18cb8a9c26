"""A Dask scheduler and workers on this machine's loopback, each its own `dask` process, as a
cluster of several machines would run them (for the tests and the benchmark)."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grading

DASK = str(Path(sys.executable).with_name("dask"))
# The workers import this tree's `grading`, as a worker machine imports its installed one.
TREE = str(Path(grading.__file__).resolve().parent.parent)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoopbackCluster:
    """`dask scheduler` and `workers` × `dask worker --nthreads 1`, each in a process group of its own."""

    def __init__(self, workers: int, folder: Path):
        self.folder = folder
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.scheduler_file = folder / "scheduler.json"
        (folder / "tmp").mkdir(mode=0o755, exist_ok=True)  # the workers': to see what they leave behind
        self.env = {**os.environ, "PYTHONPATH": TREE, "TMPDIR": str(folder / "tmp")}
        port = self.address.rsplit(":", 1)[1]
        self.scheduler = self._start(
            "scheduler",
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", port, "--dashboard-address", "127.0.0.1:0"]
            + ["--scheduler-file", str(self.scheduler_file)],
        )
        self.workers: list[subprocess.Popen] = []
        try:
            self.workers += [self.add_worker() for _ in range(workers)]
            self.wait_for(workers)
        except BaseException:
            self.close()
            raise

    def _start(self, name: str, argv: list[str]) -> subprocess.Popen:
        with open(self.folder / f"{name}.log", "ab") as log:
            return subprocess.Popen(argv, stdout=log, stderr=log, env=self.env, cwd=self.folder, start_new_session=True)

    def add_worker(self) -> subprocess.Popen:
        argv = [DASK, "worker", self.address, "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard"]
        return self._start(f"worker{time.monotonic_ns()}", argv)

    def wait_for(self, workers: int, timeout: float = 60) -> None:
        from distributed import Client

        with Client(self.address, timeout=timeout, set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=timeout)

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        """SIGKILL a process and everything it started (a worker's nanny, worker and template)."""
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()

    def close(self) -> None:
        """Workers first, told to stop while the scheduler still runs (their plugins remove the
        templates), then the scheduler; what either left running is killed."""
        for group in (self.workers, [self.scheduler]):
            for process in group:
                process.terminate()
            for process in group:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    pass
                self.kill(process)
