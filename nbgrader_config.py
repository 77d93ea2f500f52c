"""nbgrader configuration for the nn-course course (run nbgrader from this folder)."""

c = get_config()  # noqa: F821  (injected by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "nn-basics"
# solutions/<assignment>/ holds the instructor's source notebooks;
# notebooks/<assignment>/ holds the student release that generate_assignment writes.
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# A cell that runs longer than this is stopped and its tests score 0.
c.Execute.timeout = 60
