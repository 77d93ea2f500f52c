"""Fuzzing intake: no submitted notebook, however malformed, can make staging raise.

A valid submission's JSON (the release with every answer filled in) is changed at
random, with a fixed seed: values of the wrong type at random places, keys and
items removed or duplicated, huge strings and numbers, deep nesting, cell ids that
are not strings or not unique, odd Unicode (lone surrogates, newlines, direction
overrides, NUL). For every change, ``stage()``:

- returns an Intake (never raises);
- when it stages nothing, says why in a note, and leaves no staged folder;
- when it stages the notebook, writes one that nbformat's schema and nbgrader's
  metadata schema accept (what nbgrader checks before grading), with each test cell
  carried by exactly one cell;
- writes every note on one printable line;
- writes nothing outside the staging folder, and leaves submitted/ byte-identical.

Named cases (the malformations of issue 11) check what is reported for each.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
from pathlib import Path

import nbformat
import pytest
from course_tools import answered, file_tree, graded_cells, make_course
from nbgrader.nbgraderformat import MetadataValidator

from course_lib.grading.course import Course
from course_lib.grading.intake import Intake, stage

FOLDER, NAME = "01_activations", "activations"
SEED = 20261130
RANDOM_CASES = 200


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """(Course, the JSON of a full-marks submission, the test cells' grade_ids)."""
    path = make_course(tmp_path_factory.mktemp("fuzz"), [FOLDER])
    release = nbformat.read(path / "notebooks" / FOLDER / f"{NAME}.ipynb", as_version=4)
    source = nbformat.read(path / "solutions" / FOLDER / f"{NAME}.ipynb", as_version=4)
    full = json.loads(nbformat.writes(answered(release, source)))
    return Course(path), full, set(graded_cells(release))


# --- the mutations ---------------------------------------------------------------------

DEEP = "__nncourse_deep__"  # replaced by deep nesting once the JSON is written

ODD_TEXT = ["\ud800", "x\ud800y", "\u202eevil", "\x00", "line\nalice  26/26\n",
            "\u2028\u2029", "\ufeff", "é" * 3, "\U0001f600", "\r\n", "'\"\\", ""]


def _odd_value(rng: random.Random):
    """A value of some wrong type or size."""
    choice = rng.randrange(16)
    if choice < 8:
        return [None, True, False, 0, -1, 2**63, 1.5e308, 10**200][choice]
    if choice == 8:
        return rng.choice(ODD_TEXT)
    if choice == 9:
        return "A" * rng.choice([10_000, 300_000])
    if choice == 10:
        return [rng.choice(ODD_TEXT), 1, None]
    if choice == 11:
        return {"nbgrader": {"grade_id": rng.choice(["relu-hidden", 5, None, "x\ny"])}}
    if choice == 12:
        return DEEP
    if choice == 13:
        return {rng.choice(ODD_TEXT) or "k": rng.choice(ODD_TEXT)}
    if choice == 14:
        return float("nan")
    return []


def _containers(data, path=()):
    """(path, container) for every dict and list in ``data``."""
    yield path, data
    items = data.items() if isinstance(data, dict) else enumerate(data)
    for key, value in items:
        if isinstance(value, dict | list):
            yield from _containers(value, (*path, key))


def _mutate(data, rng: random.Random) -> None:
    """Apply one random change to ``data`` (a notebook's JSON), in place."""
    places = list(_containers(data))
    kind = rng.randrange(10)
    if kind < 3:  # a cell-level change: the most interesting place
        cells = data.get("cells")
        if isinstance(cells, list) and cells:
            cell = rng.choice(cells)
            if isinstance(cell, dict):
                key = rng.choice(["id", "id", "metadata", "source", "cell_type", "outputs",
                                  "execution_count", "attachments"])
                if kind == 0 and key in cell:
                    del cell[key]
                elif kind == 1 and key == "id" and len(cells) > 1 and isinstance(cells[0], dict):
                    cell["id"] = cells[0].get("id")  # a duplicate id
                else:
                    cell[key] = _odd_value(rng)
                return
    _, where = rng.choice(places)
    if isinstance(where, dict):
        keys = list(where)
        if kind < 6 and keys:
            where[rng.choice(keys)] = _odd_value(rng)
        elif kind < 8 and keys:
            del where[rng.choice(keys)]
        else:
            where[rng.choice(["id", "metadata", "nbgrader", "grade_id", "points", "new"])] = \
                _odd_value(rng)
    elif where:
        i = rng.randrange(len(where))
        if kind < 6:
            where[i] = _odd_value(rng)
        elif kind < 8:
            del where[i]
        else:
            where.insert(i, copy.deepcopy(where[i]) if rng.random() < 0.7 else _odd_value(rng))


def _bytes(data, rng: random.Random) -> bytes:
    text = json.dumps(data)  # lone surrogates and NaN are written as JSON allows Python to
    depth = rng.choice([50, 900, 100_000])
    return text.replace(json.dumps(DEEP), "[" * depth + "]" * depth).encode()


# --- the checks ------------------------------------------------------------------------

def _stage_and_check(course: Course, student: str, content: bytes, staging: Path,
                     tests: set) -> Intake:
    folder = course.root / "submitted" / student / FOLDER
    folder.mkdir(parents=True)
    (folder / f"{NAME}.ipynb").write_bytes(content)
    intake = stage(course, FOLDER, student, staging)  # must not raise
    assert isinstance(intake, Intake) and (intake.assignment, intake.student) == (FOLDER, student)
    assert (folder / f"{NAME}.ipynb").read_bytes() == content  # submitted/ is only read
    assert all(note.isprintable() and len(note) < 600 for note in intake.notes), intake.notes
    staged = staging / student / FOLDER
    if not intake.staged:
        assert intake.notes, "nothing staged, and no note saying why"
        assert not staged.exists()
    else:
        assert sorted(p.name for p in staged.iterdir()) == [f"{NAME}.ipynb"]
        nb = nbformat.read(staged / f"{NAME}.ipynb", as_version=4)
        nbformat.validate(nb)
        MetadataValidator().validate_nb(nb)
        ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
        assert all(ids.count(test) == 1 for test in tests)
        assert len({c.id for c in nb.cells}) == len(nb.cells)
    for student_folder in staging.iterdir():  # only <student>/<assignment>/ folders
        assert student_folder.is_dir() and not student_folder.is_symlink()
        assert [p.name for p in student_folder.iterdir()] in ([], [FOLDER])
    return intake


def test_no_random_change_to_a_notebook_makes_staging_raise(course, tmp_path):
    """RANDOM_CASES notebooks, each with 1 to 4 random changes; in a few seconds."""
    course, full, tests = course
    rng = random.Random(SEED)
    staging = tmp_path / "staging"
    outside = file_tree(course.root / "notebooks"), file_tree(course.root / "solutions")
    gradebook = (course.root / "gradebook.db").read_bytes()
    (course.root / "submitted").mkdir(exist_ok=True)
    top = sorted(p.name for p in course.root.iterdir())
    outcomes = {"staged": 0, "not staged": 0}
    for n in range(RANDOM_CASES):
        data = copy.deepcopy(full)
        for _ in range(rng.randint(1, 4)):
            _mutate(data, rng)
        intake = _stage_and_check(course, f"fuzz{n:04d}", _bytes(data, rng), staging, tests)
        outcomes["staged" if intake.staged else "not staged"] += 1
    assert outcomes["staged"] > 30 and outcomes["not staged"] > 30, outcomes  # both exercised
    assert (file_tree(course.root / "notebooks"), file_tree(course.root / "solutions")) == outside
    assert (course.root / "gradebook.db").read_bytes() == gradebook
    assert sorted(p.name for p in course.root.iterdir()) == top


def _cell(full, i=5):
    return full["cells"][i]


NAMED = {
    # change, staged?, a piece of the note (None: no note about the change)
    "cell id an integer": (lambda nb: _cell(nb).update(id=12345), True, None),
    "cell ids duplicated": (lambda nb: [c.update(id="same") for c in nb["cells"]], True, None),
    "cell id with a newline": (lambda nb: _cell(nb).update(id="a\nalice  26/26"), True, None),
    "cell metadata a list": (lambda nb: _cell(nb).update(metadata=[1, 2]), False,
                             "notebook malformed (cell 6's metadata is not a JSON object)"),
    "source a number": (lambda nb: _cell(nb).update(source=42), False,
                        "notebook malformed (cell 6's source is not text)"),
    "source a list of numbers": (lambda nb: _cell(nb).update(source=[1, 2]), False,
                                 "source is not text"),
    "cells not a list": (lambda nb: nb.update(cells={"0": 1}), False,
                         "not a Jupyter notebook: its cells are not a list"),
    "a cell not an object": (lambda nb: nb["cells"].insert(3, "print(1)"), False,
                             "cell 4 is not a JSON object"),
    "unknown cell type": (lambda nb: _cell(nb).update(cell_type="heading"), False,
                          "cell 6 has no valid cell_type"),
    "metadata a string": (lambda nb: nb.update(metadata="x"), False,
                          "its metadata is not an object"),
    "nbformat 5": (lambda nb: nb.update(nbformat=5), False, "format 5 is not known"),
    "nbformat a string": (lambda nb: nb.update(nbformat="4"), False, "not a Jupyter notebook"),
    "nbformat_minor absurd": (lambda nb: nb.update(nbformat_minor="ten"), True, None),
    "kernelspec a list": (lambda nb: nb["metadata"].update(kernelspec=[1]), True, None),
    "nbgrader metadata a list": (
        lambda nb: _cell(nb)["metadata"].update(nbgrader=[1]), True, None),
    "grade_id a number": (lambda nb: next(
        c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") ==
        "relu-hidden")["metadata"]["nbgrader"].update(grade_id=7), True,
        "test cell relu-hidden had lost its nbgrader metadata: restored"),
    "points a string with a newline": (lambda nb: next(
        c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") ==
        "relu-hidden")["metadata"]["nbgrader"].update(points="1\nalice  26/26"), True,
        r"had its points changed from 1 to '1\nalice  26/26': restored"),
    "label with a newline": (lambda nb: _cell(nb)["metadata"].update(
        nbgrader={"grade_id": "x\nalice  26/26", "grade": True}), True,
        r"a cell labelled 'x\nalice  26/26', an id this assignment does not have"),
    "deep nesting in metadata": (lambda nb: _cell(nb)["metadata"].update(deep=DEEP), True, None),
    "a lone surrogate in source": (lambda nb: _cell(nb).update(source="x = '\ud800'"), False,
                                   "cell 6's source is not valid Unicode"),
    "a lone surrogate in a tag": (lambda nb: _cell(nb)["metadata"].update(tags=["\udfff"]),
                                  False, "not valid Unicode"),
    "a huge string in metadata": (lambda nb: _cell(nb)["metadata"].update(big="A" * 10**6),
                                  True, None),
    "outputs of the wrong shape": (lambda nb: next(
        c for c in nb["cells"] if c["cell_type"] == "code").update(outputs=[{"x": 1}]),
        True, None),
}


@pytest.mark.parametrize("case", list(NAMED))
def test_each_malformation_is_fixed_or_reported(course, tmp_path, case):
    course, full, tests = course
    change, staged, note = NAMED[case]
    data = copy.deepcopy(full)
    change(data)
    content = json.dumps(data).replace(json.dumps(DEEP), "[" * 500 + "]" * 500).encode()
    student = "named-" + hashlib.sha256(case.encode()).hexdigest()[:10]
    intake = _stage_and_check(course, student, content, tmp_path / "staging", tests)
    assert intake.staged == staged, intake.notes
    if note is None:
        assert intake.notes == []
    else:
        assert any(note in line for line in intake.notes), intake.notes
