"""The course checks its own consistency (issue 14): one exercise lives in one place.

An exercise is its reference function, its ``Exercise`` (``course_lib/checks/<topic>.py``)
and its cells in ``solutions/NN_<topic>/``: a solution cell, a visible and a hidden test
cell. Whatever else names it is checked here against those: the test cells must be ones
the grader can plan, ``depends`` must name every exercise the solution cell calls, and the
points in the headings, the intros and the README must be the nbgrader metadata's.

Pure Python, no kernel, a few seconds: it reads the solution notebooks as JSON. Each
failure names the exercise (or the notebook) and what to fix. CONTRIBUTING.md gives the
recipe these rules come from.
"""

from __future__ import annotations

import json
import os
import re

import pytest
from course_tools import ROOT, SOLUTIONS
from test_nncourse_path import FOLDER, NAME, _fresh_course

from course_lib.checks import exercise, exercise_names, topic_of
from course_lib.grading import cli, judge


def _notebooks() -> dict[str, dict]:
    """folder -> {"path", "cells"} for every solution notebook."""
    found = {}
    for path in sorted(SOLUTIONS.glob("[0-9]*/*.ipynb")):
        if ".ipynb_checkpoints" not in path.parts:
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            for cell in cells:
                cell["source"] = "".join(cell["source"])
                cell["nbgrader"] = cell.get("metadata", {}).get("nbgrader", {})
            found[path.parent.name] = {"path": path, "cells": cells}
    return found


NOTEBOOKS = _notebooks()
#: grade_id -> (folder, index, cell) for every cell nbgrader knows by an id
CELLS = {cell["nbgrader"]["grade_id"]: (folder, index, cell)
         for folder, nb in NOTEBOOKS.items() for index, cell in enumerate(nb["cells"])
         if cell["nbgrader"].get("grade_id")}
#: exercise -> (folder, index, cell) of its solution cell
SOLUTION_CELLS = {grade_id: place for grade_id, place in CELLS.items()
                  if place[2]["cell_type"] == "code" and place[2]["nbgrader"].get("solution")}
#: every exercise that has an Exercise or a solution cell: each must have both
EXERCISES = sorted(set(exercise_names()) | set(SOLUTION_CELLS))


def _where(folder: str) -> str:
    return NOTEBOOKS[folder]["path"].relative_to(ROOT).as_posix()


def _solution(name: str):
    where = f"solutions/*_{topic_of(name)}/" if name in exercise_names() else "solutions/"
    assert name in SOLUTION_CELLS, (
        f"{name}: no solution cell (a code cell whose nbgrader grade_id is {name!r}) in "
        f"{where}")
    return SOLUTION_CELLS[name]


def _test_cell(name: str, which: str) -> dict:
    grade_id = f"{name}-{which}"
    assert grade_id in CELLS, f"{name}: no {which} test cell (grade_id {grade_id!r})"
    return CELLS[grade_id][2]


def _points(name: str) -> int:
    return sum(_test_cell(name, which)["nbgrader"].get("points", 0)
               for which in ("visible", "hidden"))


# -- every exercise: its Exercise and its cells ----------------------------------------------


@pytest.mark.parametrize("name", EXERCISES)
def test_each_exercise_has_its_exercise_and_its_cells(name):
    """A solution cell without an Exercise, or an Exercise without its three cells, is found
    here, not when a class is graded."""
    assert name in exercise_names(), (
        f"{name}: {_where(_solution(name)[0])} has its solution cell, but no Exercise "
        f"{name!r} in course_lib/checks/<topic>.py's EXERCISES")
    topic = topic_of(name)
    folder, index, _ = _solution(name)
    assert folder.split("_", 1)[-1] == topic, (
        f"{name}: its Exercise is in course_lib/checks/{topic}.py, but its solution cell is "
        f"in {_where(folder)}: one topic, one name")
    problems = []
    for which in ("visible", "hidden"):
        grade_id = f"{name}-{which}"
        if grade_id not in CELLS:
            problems.append(f"no {which} test cell (a code cell with grade_id {grade_id!r})")
            continue
        cell_folder, cell_index, cell = CELLS[grade_id]
        meta = cell["nbgrader"]
        if cell["cell_type"] != "code" or not meta.get("grade") or meta.get("solution"):
            problems.append(f"{grade_id} is not an autograded test cell (code, grade: true, "
                            f"solution: false)")
        if not meta.get("points", 0) > 0:
            problems.append(f"{grade_id} gives no points")
        if not meta.get("locked"):
            problems.append(f"{grade_id} is not locked: a student could edit the test")
        if cell_folder != folder or cell_index < index:
            problems.append(f"{grade_id} does not follow the solution cell in {_where(folder)}")
        hidden = "### BEGIN HIDDEN TESTS" in cell["source"]
        if hidden != (which == "hidden"):
            problems.append(f"{grade_id} {'holds' if hidden else 'lacks'} the "
                            f"### BEGIN HIDDEN TESTS / ### END HIDDEN TESTS markers")
    if {f"{name}-visible", f"{name}-hidden"} <= CELLS.keys() \
            and CELLS[f"{name}-visible"][1] > CELLS[f"{name}-hidden"][1]:
        problems.append("the hidden test cell comes before the visible one")
    assert not problems, f"{name}: " + "; ".join(problems)


@pytest.mark.parametrize("name", EXERCISES)
@pytest.mark.parametrize("which", ["visible", "hidden"])
def test_test_cells_hold_only_calls_the_grader_can_plan(name, which):
    """The grader runs each test cell's check and check_values calls and nothing else: a
    plain assert, or a call of the student's code outside the checks, would give every
    student 0 ("could not be planned") or a verdict nobody sees."""
    cell = _test_cell(name, which)
    why = judge.unplannable(cell["source"])
    assert why is None, f"{name}: the test cell {name}-{which} cannot be graded: {why}"
    planned = judge.plan(cell["source"])
    others = sorted({step.exercise for step in planned} - {name})
    assert not others, f"{name}: the test cell {name}-{which} checks {others} too"
    checks = [step for step in planned if step.kind == "check"]
    wanted = which == "hidden"
    assert [step.hidden for step in checks] == [wanted], (
        f"{name}: the test cell {name}-{which} must call check({name!r}, {name}"
        f"{', hidden=True' if wanted else ''}) once")
    # the function checked is the exercise's own: check("relu", relu_grad) is a slip
    for call in re.finditer(r"^check\((\"|')(\w+)\1,\s*(\w+)", cell["source"], re.MULTILINE):
        assert call.group(3) == name, (
            f"{name}: the test cell {name}-{which} checks {call.group(3)} under {name!r}")


@pytest.mark.parametrize("name", EXERCISES)
def test_depends_names_every_exercise_the_solution_cell_calls(name):
    """While an exercise is checked, the exercises in its ``depends`` are swapped for their
    references, so that a student who failed those does not lose this one too. The names
    are found in the solution cell's code: every exercise of the same notebook it uses."""
    folder, _, cell = _solution(name)
    same_notebook = {other for other, (where, _, _) in SOLUTION_CELLS.items()
                     if where == folder and other != name}
    # exercises of earlier notebooks are the reference there (imported by the setup cell)
    used = judge._free_names(cell["source"]) & same_notebook
    depends = exercise(name).depends
    missing = sorted(used - set(depends))
    assert not missing, (
        f"{name}: its solution cell calls {', '.join(missing)}, which its Exercise's depends "
        f"leaves out: add {', '.join(f'{m!r}: <its reference>' for m in missing)} to depends "
        f"in course_lib/checks/{topic_of(name)}.py")
    for other, reference in depends.items():
        assert other in exercise_names() and reference is exercise(other).reference, (
            f"{name}: depends maps {other!r} to {reference!r}, not to that exercise's "
            f"reference")


# -- the points, where the text states them ------------------------------------------------

#: "### Exercise 2.1: `relu` (2 points)"
_HEADING = re.compile(r"^#+ Exercise [\d.]+: `(\w+)` \((\d+) points?\)", re.MULTILINE)
#: "**Question 10.1 (3 points).**"
_QUESTION = re.compile(r"\*\*Question [\d.]+ \((\d+) points?\)")
_NUMBERS = {word: n for n, word in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty".split())}


@pytest.mark.parametrize("name", EXERCISES)
def test_the_heading_shows_the_exercise_points(name):
    folder, _, _ = _solution(name)
    shown = [int(points) for heading, points in _HEADING.findall(_markdown(folder))
             if heading == name]
    assert len(shown) == 1, (
        f"{name}: {_where(folder)} needs one heading '### Exercise N.M: `{name}` "
        f"(P points)'; it has {len(shown)}")
    assert shown[0] == _points(name), (
        f"{name}: its heading says {shown[0]} points, its test cells give {_points(name)} "
        f"({name}-visible and {name}-hidden's nbgrader points)")


def _markdown(folder: str) -> str:
    return "\n\n".join(c["source"] for c in NOTEBOOKS[folder]["cells"]
                       if c["cell_type"] == "markdown")


def _totals(folder: str) -> tuple[list[str], int, list[int]]:
    """The notebook's exercises, their points in all, and the written questions' points."""
    cells = NOTEBOOKS[folder]["cells"]
    exercises = [c["nbgrader"]["grade_id"] for c in cells
                 if c["cell_type"] == "code" and c["nbgrader"].get("solution")]
    automatic = sum(c["nbgrader"].get("points", 0) for c in cells if c["cell_type"] == "code"
                    and c["nbgrader"].get("grade") and not c["nbgrader"].get("solution"))
    written = [c["nbgrader"].get("points", 0) for c in cells if c["cell_type"] == "markdown"
               and c["nbgrader"].get("grade") and c["nbgrader"].get("solution")]
    return exercises, automatic, written


@pytest.mark.parametrize("folder", sorted(NOTEBOOKS))
def test_the_intro_and_questions_count_what_the_metadata_holds(folder):
    """"Implement eleven functions", "worth 19 points", "Two written questions" and each
    question's "(3 points)" are the metadata's numbers."""
    exercises, automatic, written = _totals(folder)
    intro = NOTEBOOKS[folder]["cells"][0]["source"]
    stated = {
        "functions to implement": ([_NUMBERS[w.lower()] for w in re.findall(
            r"\b(\w+) functions\b", intro) if w.lower() in _NUMBERS], len(exercises)),
        "points of the exercises": ([int(n) for n in re.findall(
            r"worth (\d+) points", intro)], automatic),
        "written questions": ([_NUMBERS[w.lower()] for w in re.findall(
            r"\b(\w+) written questions\b", intro) if w.lower() in _NUMBERS], len(written)),
        "points of the written questions": ([int(n) for n in re.findall(
            r"written questions[^.]*?, (\d+) points", intro)], sum(written)),
    }
    wrong = [f"the intro says {said} {what}, the metadata {actual}"
             for what, (said_all, actual) in stated.items() for said in said_all
             if said != actual]
    assert not wrong, f"{folder}: " + "; ".join(wrong) + f" ({', '.join(exercises)})"
    questions = [int(n) for n in _QUESTION.findall(_markdown(folder))]
    assert questions == written, (
        f"{folder}: the questions' headings give {questions} points, their answer cells' "
        f"metadata {written}")


def _readme_rows() -> dict[str, str]:
    """folder -> the points column of README's table "What the course teaches"."""
    rows = {}
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        link = re.match(r"\|[^|]*\| \[[^]]*\]\(notebooks/([^/]+)/[^)]*\) \|.*\| ([^|]*) \|$",
                        line)
        if link:
            rows[link.group(1)] = link.group(2).strip()
    return rows


@pytest.mark.parametrize("folder", sorted(NOTEBOOKS))
def test_each_notebook_has_its_wrong_submissions_and_typical_mistakes(folder):
    """The graded class grades, for every notebook, students whose notebook is right but for
    one solution cell (tests/wrong_submissions/), and the visible test cells are run against
    the notebook's typical mistakes (tests/mistakes/): both files exist and name real cells."""
    from course_tools import MISTAKES, WRONG, WRONG_SUBMISSIONS, mistakes_of

    for path, what in ((WRONG_SUBMISSIONS / f"{folder}.json", "students whose notebook is "
                        "right but for one solution cell"),
                       (MISTAKES / f"{folder}.json", "the typical mistakes of its exercises")):
        assert path.exists(), f"{folder}: no {path.relative_to(ROOT)} ({what}; see CONTRIBUTING.md)"
    cells = {grade_id for grade_id, (where, _, _) in SOLUTION_CELLS.items() if where == folder}
    for student, case in WRONG[folder].items():
        assert case["cell"] in cells, f"{folder}: wrong submission {student!r} names " \
                                      f"{case['cell']!r}, not a solution cell of the notebook"
    for mistake, case in mistakes_of(folder).items():
        assert case["cell"] in cells, f"{folder}: typical mistake {mistake!r} names " \
                                      f"{case['cell']!r}, not a solution cell of the notebook"
    assert WRONG[folder], f"{folder}: tests/wrong_submissions/{folder}.json names no student"


def test_the_readme_lists_every_notebook_once():
    assert sorted(_readme_rows()) == sorted(NOTEBOOKS), (
        "README.md's table 'What the course teaches' must have one row per notebook of "
        "solutions/")


@pytest.mark.parametrize("folder", sorted(NOTEBOOKS))
def test_the_readme_points_are_the_metadata(folder):
    exercises, automatic, written = _totals(folder)
    wanted = f"{automatic} + {sum(written)} written"
    shown = _readme_rows().get(folder)
    assert shown == wanted, (
        f"{folder}: README.md's points column says {shown!r}; the metadata gives {wanted!r} "
        f"({', '.join(f'{e}: {_shown_points(e)}' for e in exercises)})")


def _shown_points(name: str) -> str:
    """The points of ``name``'s test cells as the metadata gives them, for a message."""
    return " + ".join(str(CELLS[f"{name}-{which}"][2]["nbgrader"].get("points", 0))
                      if f"{name}-{which}" in CELLS else f"no {name}-{which}"
                      for which in ("visible", "hidden"))


# -- nncourse release refuses a test cell the grader cannot plan --------------------------------

@pytest.mark.parametrize(("source", "why"), [
    ('"""relu."""\ncheck("relu", relu)\nassert relu(np.ones(1))[0] == 1.0\n',
     "line 3 holds a plain `assert`"),
    ('"""relu."""\nexpected = relu(np.ones(1))\ncheck("relu", relu)\n',
     "TypeError: the cell calls the notebook's relu itself"),
    ('"""relu."""\nprint(relu)\n', "line 2 holds `print(relu)`"),
    ('"""relu."""\nX = np.ones(3)\n', "no check or check_values call"),
    ('check("relu_typo", relu)\n', "it checks relu_typo, which no Exercise"),
    ('check("relu", relu\n', "it is not valid Python"),
])
def test_unplannable_says_why(source, why):
    assert why in judge.unplannable(source)


def test_unplannable_accepts_every_kind_of_cell_the_course_has():
    source = ('"""dense_forward (hidden)."""\n'
              'from course_lib.checks.forward_pass import OnesGenerator\n'
              'X_hand = np.ones((2, 3))\n'
              'def twice(X, W, b):\n    return dense_forward(X, W, b)\n'
              'check("dense_forward", dense_forward, hidden=True)\n'
              'check_values("dense_forward", twice, (X_hand, np.ones((1, 3)), np.zeros(1)),\n'
              '             (np.full((2, 1), 3.0), (X_hand, np.ones((1, 3)))))\n')
    assert judge.unplannable(source) is None


def test_release_refuses_a_test_cell_the_grader_cannot_plan(tmp_path, capsys, monkeypatch):
    """A plain assert in a test cell: `nncourse release` names the cell and the reason, and
    generates nothing (the old release stays byte for byte, no gradebook is made)."""
    folder, name = FOLDER, NAME
    course, _ = _fresh_course(tmp_path)
    source = course / "solutions" / folder / f"{name}.ipynb"
    nb = json.loads(source.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "sigmoid-visible":
            cell["source"] = "".join(cell["source"]) + \
                "\nassert sigmoid(np.array([0.0]))[0] == 0.5\n"
    source.write_text(json.dumps(nb), encoding="utf-8")
    released = course / "notebooks" / folder / f"{name}.ipynb"
    before = released.read_bytes()
    monkeypatch.setenv("PATH", os.environ.get("PATH", ""))  # main() puts its tools first

    status = cli.main(["--course", str(course), "release", folder])

    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith(f"{folder}: FAILED: the test cell ")
    refused = [line.removeprefix(f"{folder}: FAILED: ").strip() for line in err.splitlines()]
    assert (f"the test cell sigmoid-visible of {name}.ipynb cannot be graded: line 3 holds a "
            f"plain `assert`, which the grader never sees: only check(...) and "
            f"check_values(...) decide a test cell") in refused, err
    assert f"nncourse release {folder}" in err
    assert released.read_bytes() == before
    assert sorted(p.name for p in course.iterdir()) == ["nbgrader_config.py", "notebooks",
                                                        "solutions"]


# Run in a fresh interpreter: numpy.random's generator makers are wrapped before the checks
# are imported, and every maker that is not case_rng is reported with the line that called it.
_SEED_PROBE = r"""
import inspect, json
import numpy as np
import numpy.random as npr

made = []

def _caller():
    frame = inspect.stack()[2]
    return f"{frame.filename}:{frame.lineno}"

_default_rng = npr.default_rng
def default_rng(*args, **kwargs):
    if not inspect.stack()[1].filename.endswith("_seeds.py"):
        made.append(_caller() + " np.random.default_rng")
    return _default_rng(*args, **kwargs)
npr.default_rng = default_rng

for name in ["seed", "rand", "randn", "normal", "uniform", "randint", "random", "choice",
             "permutation", "shuffle"]:
    def legacy(*args, _name=name, **kwargs):
        made.append(_caller() + " np.random." + _name)
        return getattr(np.random.mtrand, _name)(*args, **kwargs)
    setattr(npr, name, legacy)

class RandomState(np.random.mtrand.RandomState):
    def __init__(self, *args, **kwargs):
        made.append(_caller() + " np.random.RandomState")
        super().__init__(*args, **kwargs)
npr.RandomState = RandomState

from course_lib.checks import exercise, exercise_names
labels = {name: [case.label for case in exercise(name).visible + exercise(name).hidden]
          for name in exercise_names()}
print(json.dumps({"made": made, "labels": labels}))
"""


def test_each_case_draws_its_own_numbers():
    """Every case draws from ``case_rng(exercise, label)`` (course_lib/checks/_seeds.py):
    no generator shared by several cases, none made elsewhere, no global ``np.random``;
    and no two cases of an exercise share a label, so no two share a seed. Then adding,
    removing or reordering a case changes no other case's numbers."""
    import subprocess
    import sys

    probe = subprocess.run([sys.executable, "-c", _SEED_PROBE], capture_output=True,
                           text=True, cwd=ROOT, timeout=120, check=True)
    found = json.loads(probe.stdout.splitlines()[-1])
    assert not found["made"], (
        "cases must draw their numbers from course_lib.checks._seeds.case_rng(exercise, "
        "label) (or drawn_case), one generator per case; these lines make generators of "
        "their own or use the global np.random:\n" + "\n".join(found["made"]))
    for name, labels in found["labels"].items():
        twice = sorted({label for label in labels if labels.count(label) > 1})
        assert not twice, f"{name}: two cases labelled {twice}: each case needs a label of " \
                          "its own (the label seeds its numbers)"
