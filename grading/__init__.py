"""The course's tooling: release student notebooks, and grade their hand-ins with nbgrader."""

import os
import sys

# nbgrader runs the `alembic` command when it creates a gradebook: find it beside this Python
# even when its virtual environment is not activated.
_bin = os.path.dirname(sys.executable)
if _bin not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _bin + os.pathsep + os.environ.get("PATH", "")
