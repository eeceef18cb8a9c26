"""What is taught: the course's configuration, its student helpers and samples, and the build that
turns solutions/ into an nbgrader course folder and the student notebooks. Knows nothing of grading."""
