"""`python -m grading.kernel.selfcheck`: whether a sandboxed kernel starts here; when not, the
cause and the fix. `./course setup` and `./course sandbox` run it. Exit status 0 when it starts."""

import signal
import sys

from grading.kernel.diagnose import System, diagnose
from grading.kernel.sandbox import Sandbox, bubblewrap_works
from grading.kernel.template import Template


def kernel_starts() -> str | None:
    """None when a kernel forked from a template in bubblewrap answers on its socket; else what failed."""
    failure = bubblewrap_works()
    if failure is not None:
        return failure
    sandbox = Sandbox(True)
    template = Template(sandbox)
    try:
        template.ensure_running()
        pid, kernel = template.fork_kernel(sandbox.limits.for_kernel(), 0, [])
        kernel.close()
        template.signal(pid, signal.SIGKILL)
    except (RuntimeError, OSError) as error:
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
