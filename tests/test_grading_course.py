"""Course loading lives in one module (course_lib.grading.course), read once per run.

- only course.py reads nbgrader_config.py or builds nbgrader's CourseDirectory and API;
- intake, collect and report do not import the pipeline (no intake <-> pipeline cycle);
- staging a class reads the gradebook once per assignment, not once per student;
- quoted() keeps any text on one line, however it is made.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from course_tools import answered, make_course, submit

from course_lib.grading.course import Course
from course_lib.grading.intake import stage
from course_lib.grading.report import AssignmentReport, _plot, earned, quoted

GRADING = Path(__file__).resolve().parents[1] / "course_lib" / "grading"
FOLDER, NAME = "01_activations", "activations"


def test_only_course_py_loads_the_config_or_builds_nbgraders_api():
    for path in GRADING.glob("*.py"):
        text = path.read_text()
        for name in ("PyFileConfigLoader", "NbGraderAPI(", "CourseDirectory(config"):
            assert (name in text) == (path.name == "course.py"), (path.name, name)


@pytest.mark.parametrize("module", ["intake", "collect", "report", "course"])
def test_no_module_of_a_step_imports_the_pipeline(module):
    code = (f"import sys, course_lib.grading.{module}; "
            "print('course_lib.grading.pipeline' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"


def test_staging_a_class_reads_the_gradebook_once_per_assignment(tmp_path):
    path = make_course(tmp_path / "course", [FOLDER])
    release = nbformat.read(path / "notebooks" / FOLDER / f"{NAME}.ipynb", as_version=4)
    full = answered(release, nbformat.read(path / "solutions" / FOLDER / f"{NAME}.ipynb",
                                           as_version=4))
    course = Course(path)
    opened = []
    real = course.gradebook
    course.gradebook = lambda: opened.append(1) or real()
    for student in ("a1", "a2", "a3", "a4"):
        submit(path, student, FOLDER, NAME, full)
        assert stage(course, FOLDER, student, tmp_path / "staging").staged
    assert len(opened) == 1


@pytest.mark.parametrize("text", ["plain", "two\nlines", "\r\x1b[2J\x00", "\u2028\u2029\x85",
                                  "\ud800", "\u202eevil", "'\"\\", "x" * 500, 12.5, None])
def test_quoted_text_is_one_printable_line(text):
    shown = quoted(text)
    assert shown.isprintable() and len(shown) < 120
    assert len(shown.splitlines()) == 1


def test_scores_png_counts_who_earned_all_some_or_none_of_each_exercise(tmp_path):
    report = AssignmentReport("01_activations", ["relu", "sigmoid"], {"relu": 2.0, "sigmoid": 3.0},
                              {"ann": {"relu": 2.0, "sigmoid": 0.0},
                               "bob": {"relu": 1.0, "sigmoid": 3.0},
                               "cy": {"relu": 2.0}})  # no score recorded: no points
    assert earned(report, report.exercises) == {"all points": [2, 1], "some points": [1, 0],
                                                "no points": [0, 2]}
    _plot(report, tmp_path / "scores.png")
    assert (tmp_path / "scores.png").read_bytes().startswith(b"\x89PNG")
