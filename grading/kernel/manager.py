"""Kernels forked from a warm template, driven through jupyter_client's own kernel manager.

`TemplateKernelManager` is a jupyter_client `AsyncKernelManager` whose provisioner asks the
template for a kernel instead of starting a process, so nbclient and nbgrader drive it as usual.
The kernel talks over IPC sockets in a folder that both sides see: the sandbox has no network.
"""

import asyncio
import signal
import uuid
from typing import Any

import zmq.asyncio
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import KernelProvisionerBase
from traitlets import Any as AnyTrait

from grading import compat
from grading.kernel.server import KERNEL_START_TIMEOUT
from grading.kernel.template import Template

# Every kernel gets the same socket names: a fresh, emptied folder for each notebook.
PORTS = {"shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5}


KERNEL_ARGUMENTS = [
    # Plain tracebacks: IPython's default (with context from stack_data) costs ~0.1 s per failing
    # cell, and the grader shows students only the error's name and message anyway.
    "--InteractiveShell.xmode=Plain",
    # Outputs in text only: no figure is drawn, no graph laid out by Graphviz. Pictures cannot
    # change a grade, and drawing them was a third of the kernel's time.
    "--DisplayFormatter.active_types=['text/plain']",
]


class TemplateProvisioner(KernelProvisionerBase):
    """jupyter_client's hook for starting a kernel process: here, a fork of the template."""

    template = AnyTrait()
    limits = AnyTrait()
    pid: int | None = None

    @property
    def has_process(self) -> bool:
        return self.pid is not None

    async def poll(self) -> int | None:
        return None if self.pid is None else self.template.poll(self.pid)

    async def wait(self) -> int | None:
        status = None
        while self.pid is not None and (status := self.template.poll(self.pid)) is None:
            await asyncio.sleep(0.01)
        self.pid = None
        return status

    async def send_signal(self, signum: int) -> None:
        if self.pid is not None:
            self.template.signal(self.pid, signum)

    async def kill(self, restart: bool = False) -> None:
        await self.send_signal(signal.SIGKILL)

    async def terminate(self, restart: bool = False) -> None:
        await self.send_signal(signal.SIGTERM)

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        kwargs = await super().pre_launch(**kwargs)
        kwargs["cmd"] = []  # nothing to execute: the template forks
        return kwargs

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> dict:
        connection = self.parent.get_connection_info()
        connection["key"] = connection["key"].decode()
        connection["ip"] = f"{self.template.sandbox.runtime_inside(self.template.runtime)}/kernel"
        self.pid = self.template.spawn(connection, self.limits, KERNEL_ARGUMENTS)
        return self.parent.get_connection_info()

    async def cleanup(self, restart: bool = False) -> None:
        self.pid = None


class TemplateKernelClient(AsyncKernelClient):
    async def wait_for_ready(self, timeout: float | None = None) -> None:
        await compat.wait_for_ready(self, timeout or KERNEL_START_TIMEOUT)


class TemplateKernelManager(AsyncKernelManager):
    """A kernel manager for one notebook's kernel, forked from `template`."""

    def __init__(self, template: Template, limits: dict, context: zmq.asyncio.Context):
        super().__init__(
            kernel_name="python3",
            transport="ipc",
            ip=str(template.runtime / "kernel"),
            context=context,
            connection_file=str(template.runtime / "connection.json"),
            client_factory=TemplateKernelClient,
            **PORTS,
        )
        self.kernel_id = str(uuid.uuid4())
        self.provisioner = TemplateProvisioner(
            kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self, template=template, limits=limits
        )

    @property
    def kernel_spec(self) -> KernelSpec:
        # Interrupts travel as messages: a signal to the sandbox's init would kill the sandbox.
        return KernelSpec(name="python3", display_name="Python 3", language="python", argv=[], interrupt_mode="message")


def zmq_context() -> zmq.asyncio.Context:
    """One context per worker, shared by its kernel managers (a context starts threads)."""
    return zmq.asyncio.Context()
