"""How hand-ins become grades: collect → normalize → execute (sandboxed kernels) → gradebook →
feedback, grades.csv and the class report. Gets a built nbgrader course folder; never builds one."""

from grading import compat

compat.skip_rfc3987_grammar()
