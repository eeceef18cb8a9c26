# nbgrader's configuration for this course: read by `python -m grading` and copied into the course
# folder it builds (OUT/course), so that nbgrader's own tools (formgrader, export) work there too.
c = get_config()  # noqa: F821

c.CourseDirectory.course_id = "pytorch-autograd"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Per-cell limit; the grader adds a limit for the whole notebook.
c.Execute.timeout = 30
# A warning that a library prints to stderr (torch has several) must not zero a test cell.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"\w*Warning: "
