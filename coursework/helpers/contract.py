"""What the course's checks and the grader both rely on, written once.

The checks end a message that recognises a known mistake with its tag, `[misconception: TAG]`;
the grader counts the tags across the class. The build inlines every helper module into the
notebooks as a module named `course_<module>`, and tells the grader these facts through the
built course's manifest (the grader never imports the course).
"""

__all__ = []

MISCONCEPTION_FORMAT = "[misconception: {tag}]"
MISCONCEPTION_PATTERN = r"\[misconception: ([\w-]+)\]"
HELPER_MODULE_PREFIX = "course_"
