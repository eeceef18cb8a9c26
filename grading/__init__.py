"""The course's tooling: release student notebooks, and grade their hand-ins with nbgrader."""
