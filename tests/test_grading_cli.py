"""nncourse grade on a class with faulty submissions, through the real nbgrader.

Beside students who did everything, nothing, or all but one function, the class
has a notebook that is not JSON, one whose code never finishes, and one that
kills its kernel. Everyone is graded; the faulty ones get a plain-words line in
the report and only the points they could not earn; the others' grades are the
same as in a class without them; the submissions are not changed; and grading
again gives the same scores.
"""

from __future__ import annotations

import csv
import hashlib

import nbformat
import pytest
from course_tools import cell_by_grade_id, course_with_answers, points, submit

from course_lib.grading.cli import main

FOLDER, NAME = "01_activations", "activations"
FULL = points(FOLDER, NAME)  # every autograded point of the notebook


def _with_cell(nb, grade_id, source):
    nb = nbformat.from_dict(nb)
    cell_by_grade_id(nb, grade_id).source = source
    return nb


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    # a short cell limit, so that the test of a hung cell is quick
    course, release, full = course_with_answers(tmp_path_factory.mktemp("class"), FOLDER, NAME,
                                                "c.Execute.timeout = 15")
    submit(course, "alice", FOLDER, NAME, full)
    submit(course, "bob", FOLDER, NAME, release)
    submit(course, "carol", FOLDER, NAME,
           _with_cell(full, "relu", "def relu(x):\n    return x\n"))
    submit(course, "dave", FOLDER, NAME,
           _with_cell(full, "relu", "def relu(x):\n    while True:\n        pass\n"))
    submit(course, "erin", FOLDER, NAME,
           _with_cell(full, "softmax", "import os\nos._exit(1)\n"))
    broken = course / "submitted" / "frank" / FOLDER / f"{NAME}.ipynb"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b'{"cells": [ this is not json \xff')
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest()
              for p in (course / "submitted").rglob("*.ipynb")}

    runs = []
    for again in ([], ["--all"]):  # the second time, everyone is graded again
        assert main(["--course", str(course), "grade", "--no-progress", *again]) == 0
        with (course / "reports" / FOLDER / "scores.csv").open() as f:
            runs.append({row["student"]: row for row in csv.DictReader(f)})
    return course, runs, before


def test_every_student_is_graded_and_faulty_ones_are_reported(graded_class):
    """Six submissions, six rows; the faulty three carry a plain-words note."""
    _, (scores, _), _ = graded_class
    assert sorted(scores) == ["alice", "bob", "carol", "dave", "erin", "frank"]
    assert "timed out" in scores["dave"]["notes"]
    assert "kernel died" in scores["erin"]["notes"]
    assert "notebook unreadable" in scores["frank"]["notes"]
    for student in ("alice", "bob", "carol"):
        assert scores[student]["notes"] == ""


def test_scores_are_right_beside_faulty_neighbours(graded_class):
    """Full marks, zero, and all but relu, exactly as without the faulty notebooks."""
    _, (scores, _), _ = graded_class
    assert float(scores["alice"]["total"]) == FULL
    assert float(scores["bob"]["total"]) == 0.0
    assert float(scores["carol"]["total"]) == FULL - 2 and float(scores["carol"]["relu"]) == 0.0
    assert float(scores["frank"]["total"]) == 0.0


def test_a_hung_cell_costs_only_its_exercise(graded_class):
    """dave's relu never returns: relu's cells time out, every other exercise is graded."""
    _, (scores, _), _ = graded_class
    assert float(scores["dave"]["relu"]) == 0.0
    assert float(scores["dave"]["total"]) == FULL - 2  # the cells after the hung one still ran


def test_a_dead_kernel_costs_only_the_exercise_it_killed(graded_class):
    """erin's softmax cell kills its kernel: only softmax is lost, the rest runs in a new kernel."""
    _, (scores, _), _ = graded_class
    assert float(scores["erin"]["softmax"]) == 0.0
    assert float(scores["erin"]["total"]) == FULL - 4  # softmax is 2 + 2 points
    assert "kernel died" in scores["erin"]["notes"]
    assert float(scores["alice"]["total"]) == FULL


def test_grading_again_gives_the_same_scores(graded_class):
    """A second run of nncourse grade writes the same CSV."""
    _, (first, second), _ = graded_class
    assert first == second


def test_submissions_are_not_changed(graded_class):
    """Grading reads the submitted notebooks and never writes them."""
    course, _, before = graded_class
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest()
             for p in (course / "submitted").rglob("*.ipynb")}
    assert after == before


def test_report_files_say_it_in_words(graded_class):
    """report.txt has the table, the notes and the per-exercise lines; the plot is a PNG."""
    course, _, _ = graded_class
    folder = course / "reports" / FOLDER
    text = (folder / "report.txt").read_text()
    assert "01_activations: 6 submissions, 26 autograded points" in text
    assert "! timed out" in text and "relu-visible" in text
    assert (folder / "scores.png").read_bytes().startswith(b"\x89PNG")


def test_grade_refuses_an_assignment_that_was_not_released(graded_class, capsys):
    """Grading an assignment missing from the gradebook says which and what to run."""
    course, _, _ = graded_class
    assert main(["--course", str(course), "grade", "02_forward_pass"]) == 2
    assert "nncourse release 02_forward_pass" in capsys.readouterr().err
