"""`python -m grading.kernel.selfcheck`: whether a sandboxed kernel starts here; when not, the
cause and the fix. `./course setup` and `./course sandbox` run it. Exit status 0 when it starts."""

import signal
import sys

from grading.kernel.diagnose import System, diagnose
from grading.kernel.manager import PORTS
from grading.kernel.sandbox import Sandbox, bubblewrap_works
from grading.kernel.template import Template


def kernel_starts() -> str | None:
    """None when a kernel forked from a template in bubblewrap binds its sockets; else what failed."""
    failure = bubblewrap_works()
    if failure is not None:
        return failure
    sandbox = Sandbox(True)
    template = Template(sandbox)
    connection = {"transport": "ipc", "ip": f"{sandbox.runtime_inside(template.runtime)}/kernel", "key": ""}
    try:
        template.ensure_running()
        kernel = template.spawn(
            {**connection, "signature_scheme": "hmac-sha256", **PORTS}, sandbox.limits.for_kernel(), []
        )
        template.signal(kernel, signal.SIGKILL)
    except RuntimeError as error:
        return f"the sandboxed kernel did not start: {error}"
    finally:
        template.remove()
    return None


def main() -> int:
    failure = kernel_starts()
    if failure is None:
        print("the sandbox works: a kernel started in bubblewrap")
        return 0
    cause = diagnose(failure, System.read())
    print(f"the sandbox cannot start: {cause.why}\nfix: {cause.fix}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
