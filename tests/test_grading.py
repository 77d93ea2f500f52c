"""End to end with the real nbgrader: release, submit, autograde, read the gradebook.

The course's one graded class (conftest ``graded_class``: every assignment released
by nbgrader once, graded by ``nncourse grade``) must reproduce notebooks/ byte for
byte, without answers or hidden tests; its students are the instructor's answers,
the untouched release, and notebooks right but for one function of each of two
exercises; the gradebook must give full marks, zero (without crashing), and the loss of
exactly those functions' points. Plain ``nbgrader autograde`` (without nncourse) gives
the instructor's answers and a wrong notebook the same scores.
"""

from __future__ import annotations

import re

import nbformat
import pytest
from course_tools import (
    ASSIGNMENTS,
    RELEASE,
    WRONG,
    answered,
    cell_by_grade_id,
    exercise_of,
    graded_cells,
    make_course,
    nbgrader,
    submit,
    wrong_notebook,
    wrong_together,
)
from nbgrader.api import Gradebook


@pytest.fixture
def graded(graded_class):
    """graded(folder, name) -> the course of the graded class (every assignment is in it)."""
    return lambda folder, name: graded_class


def _scores(course, folder, name, student):
    """grade_id -> (score, max score) for the autograded test cells of one submission."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        notebook = gb.find_submission_notebook(name, folder, student)
        return {g.name: (g.auto_score, g.max_score) for g in notebook.grades
                if g.cell_type == "code"}


@pytest.mark.parametrize(("folder", "name"), ASSIGNMENTS)
def test_release_is_exactly_what_nbgrader_generates(graded, folder, name):
    """notebooks/ holds byte for byte what generate_assignment makes from solutions/."""
    course = graded(folder, name)
    generated = sorted(p.relative_to(course / "notebooks") for p in
                       (course / "notebooks" / folder).rglob("*") if p.is_file())
    committed = sorted(p.relative_to(RELEASE) for p in (RELEASE / folder).rglob("*")
                       if p.is_file() and ".ipynb_checkpoints" not in p.parts)
    assert committed == generated, "run `make release` and commit notebooks/"
    for relative in generated:
        assert (RELEASE / relative).read_bytes() == (course / "notebooks" / relative).read_bytes(), (
            f"notebooks/{relative} differs from what nbgrader generates: run `make release`"
        )


@pytest.mark.parametrize(("folder", "name"), ASSIGNMENTS)
def test_release_contains_no_answers_or_hidden_tests(graded, folder, name):
    """The student copy has no solution code, no hidden tests and no markers."""
    course = graded(folder, name)
    source = nbformat.read(course / "solutions" / folder / f"{name}.ipynb", as_version=4)
    text = (RELEASE / folder / f"{name}.ipynb").read_text(encoding="utf-8")
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text
    release = nbformat.read(RELEASE / folder / f"{name}.ipynb", as_version=4)
    for cell in source.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        for kind in ("SOLUTION", "HIDDEN TESTS"):
            blocks = re.findall(rf"### BEGIN {kind}\n(.*?)### END {kind}", cell.source, re.S)
            if not blocks:
                continue
            released = cell_by_grade_id(release, grade_id).source
            if kind == "SOLUTION":
                assert "YOUR CODE HERE" in released or "YOUR ANSWER HERE" in released, grade_id
            for line in "".join(blocks).splitlines():
                if len(line.strip()) > 8:
                    assert line.strip() not in released, (
                        f"{grade_id}: a {kind.lower()} line leaked into the release: {line.strip()!r}"
                    )


@pytest.mark.parametrize(("folder", "name"), ASSIGNMENTS)
def test_instructor_answers_earn_every_autograded_point(graded, folder, name):
    """The solution notebook scores the maximum on every autograded test cell."""
    course = graded(folder, name)
    scores = _scores(course, folder, name, "solution")
    release = nbformat.read(RELEASE / folder / f"{name}.ipynb", as_version=4)
    assert set(scores) == set(graded_cells(release))
    lost = {grade_id: s for grade_id, s in scores.items() if s[0] != s[1]}
    assert not lost, f"the instructor's answers lost points: {lost}"
    assert sum(m for _, m in scores.values()) > 0


@pytest.mark.parametrize(("folder", "name"), ASSIGNMENTS)
def test_untouched_release_scores_zero_without_crashing(graded, folder, name):
    """The untouched student notebook is graded, every test cell fails, and it scores 0."""
    course = graded(folder, name)
    scores = _scores(course, folder, name, "untouched")
    assert scores and all(score == 0 for score, _ in scores.values()), scores
    graded = nbformat.read(course / "autograded" / "untouched" / folder / f"{name}.ipynb",
                           as_version=4)
    for grade_id in scores:
        outputs = cell_by_grade_id(graded, grade_id).outputs
        errors = [o for o in outputs if o.output_type == "error"]
        assert errors, f"{grade_id}: expected a failing test cell"
        assert "not implemented yet" in errors[0].evalue or errors[0].ename == "NotImplementedError"


@pytest.mark.parametrize(("folder", "name", "submission"), [
    (folder, name, submission) for folder, name in ASSIGNMENTS
    for submission in wrong_together(folder)
])
def test_wrong_functions_lose_only_their_own_points(graded, folder, name, submission):
    """A notebook right but for one function (two, of two exercises, in one notebook of the
    graded class) loses exactly those exercises' failing cells, and nothing elsewhere."""
    course = graded(folder, name)
    cases = [WRONG[folder][student] for student in wrong_together(folder)[submission]]
    scores = _scores(course, folder, name, submission)
    failed = {g for g, (score, max_score) in scores.items() if score != max_score}
    assert failed == {g for case in cases for g in case["fails"]}
    assert {exercise_of(g) for g in failed} == {case["cell"] for case in cases}
    for g in failed:
        assert scores[g][0] == 0


def test_plain_nbgrader_autograde_gives_the_same_scores(graded_class, tmp_path):
    """nbgrader's own autograde, without nncourse, on the instructor's answers and a wrong
    function of 01: the scores the graded class has for the same notebooks."""
    folder, name = ASSIGNMENTS[0]
    course = make_course(tmp_path / "plain", [folder])
    release = nbformat.read(course / "notebooks" / folder / f"{name}.ipynb", as_version=4)
    source = nbformat.read(course / "solutions" / folder / f"{name}.ipynb", as_version=4)
    student, students = next(iter(wrong_together(folder).items()))
    submit(course, "solution", folder, name, answered(release, source))
    submit(course, student, folder, name, wrong_notebook(release, source, folder, students))
    nbgrader(course, "autograde", folder)
    for who in ("solution", student):
        assert _scores(course, folder, name, who) == _scores(graded_class, folder, name, who)
