"""The instructor's tools: collect, grade and report on submissions, built on nbgrader."""
