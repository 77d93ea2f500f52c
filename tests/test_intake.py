"""Staging submissions before grading (course_lib.grading.intake), with the real nbgrader.

Every test submits one student to a scratch course with 01_activations released,
stages the submission, and checks the exact report lines, what was staged, and that
submitted/ is byte-identical afterwards. Two tests run the real ``nbgrader autograde``
on the staged tree and read the scores from the gradebook.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import nbformat
import pytest
from course_tools import answered, cell_by_grade_id, file_tree, graded_cells, make_course, nbgrader
from nbgrader.api import Gradebook

from course_lib.grading.intake import Intake, stage

FOLDER, NAME = "01_activations", "activations"
WRONG = json.loads((Path(__file__).parent / "wrong_submissions" / f"{FOLDER}.json").read_text())


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """(course folder, release notebook, the release with every answer filled in)."""
    path = make_course(tmp_path_factory.mktemp("intake"), [FOLDER])
    release = nbformat.read(path / "notebooks" / FOLDER / f"{NAME}.ipynb", as_version=4)
    source = nbformat.read(path / "solutions" / FOLDER / f"{NAME}.ipynb", as_version=4)
    return path, release, answered(release, source)


def _bytes(nb) -> bytes:
    """The notebook's JSON as a student's Jupyter saves it (nbformat.writes would renumber
    a copied cell's duplicate id)."""
    return json.dumps(nb, indent=1).encode()


def _submit(course: Path, student: str, files: dict) -> Path:
    """Write ``files`` (name -> bytes, or a notebook) as ``student``'s submission."""
    folder = course / "submitted" / student / FOLDER
    folder.mkdir(parents=True)
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content if isinstance(content, bytes) else _bytes(content))
    return folder


def _stage(course: Path, student: str, staging: Path, **kwargs) -> tuple[Intake, Path]:
    """Stage ``student``'s submission; submitted/ must be byte-identical afterwards."""
    before = file_tree(course / "submitted")
    intake = stage(course, FOLDER, student, staging, **kwargs)
    assert file_tree(course / "submitted") == before
    assert (intake.assignment, intake.student) == (FOLDER, student)
    return intake, staging / student / FOLDER


def _staged_nb(folder: Path):
    return nbformat.read(folder / f"{NAME}.ipynb", as_version=4)


def _sparse(path: Path, size: int) -> None:
    """A file of ``size`` zero bytes that takes no disk space."""
    with path.open("wb") as f:
        f.truncate(size)


# --- the folder ------------------------------------------------------------------------

def test_a_clean_submission_is_staged_with_its_timestamp(course, tmp_path):
    """A plain submission: staged as it is, with nbgrader's timestamp.txt, and no lines."""
    path, _, full = course
    _submit(path, "clean", {f"{NAME}.ipynb": full, "timestamp.txt": b"2025-01-02 10:00:00 UTC"})
    intake, staged = _stage(path, "clean", tmp_path)
    assert intake == Intake(FOLDER, "clean", True, [])
    assert sorted(p.name for p in staged.iterdir()) == ["activations.ipynb", "timestamp.txt"]
    assert (staged / "timestamp.txt").read_bytes() == b"2025-01-02 10:00:00 UTC"
    assert [c.source for c in _staged_nb(staged).cells] == [c.source for c in full.cells]


def test_a_renamed_notebook_is_staged_under_the_expected_name(course, tmp_path):
    path, _, full = course
    _submit(path, "renamer", {"my_work.ipynb": full})
    intake, staged = _stage(path, "renamer", tmp_path)
    assert intake.staged
    assert intake.notes == ["notebook 'my_work.ipynb' graded as 'activations.ipynb' (renamed)"]
    assert [p.name for p in staged.iterdir()] == ["activations.ipynb"]


def test_of_several_notebooks_the_one_sharing_most_grade_ids_is_taken(course, tmp_path):
    path, _, full = course
    scratch = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    _submit(path, "several", {"activations (1).ipynb": full, "scratch.ipynb": scratch})
    intake, staged = _stage(path, "several", tmp_path)
    assert intake.notes == [
        "notebook 'activations (1).ipynb' graded as 'activations.ipynb' (renamed)",
        "1 other file beside the notebook was not used for grading",
    ]
    assert len(graded_cells(_staged_nb(staged))) == len(graded_cells(full))


def test_the_files_nbgraders_exchange_adds_are_no_strays(course, tmp_path):
    """A submission through the hub's exchange holds nbgrader's submission_secret.txt: it
    is left out without a line (each hub student got a false alarm, issue 12)."""
    path, _, full = course
    _submit(path, "hubber", {"activations.ipynb": full,
                             "submission_secret.txt": b"b9c0ffee", "timestamp.txt":
                             b"2026-11-30 10:00:00.000000 UTC"})
    intake, staged = _stage(path, "hubber", tmp_path)
    assert intake.staged and intake.notes == []
    assert sorted(p.name for p in staged.iterdir()) == ["activations.ipynb", "timestamp.txt"]


def test_notebooks_that_fit_equally_well_stage_nothing(course, tmp_path):
    path, _, full = course
    _submit(path, "tied", {"a.ipynb": full, "b.ipynb": full})
    intake, staged = _stage(path, "tied", tmp_path)
    assert not intake.staged
    assert intake.notes == [
        "notebook 'activations.ipynb' is missing and 2 other notebooks ('a.ipynb', "
        "'b.ipynb') fit it equally well: none graded",
        "2 other files beside the notebook were not used for grading",
    ]
    assert not staged.exists()


V3 = json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {},
                 "worksheets": [{"cells": [], "metadata": {}}]}).encode()


@pytest.mark.parametrize(("content", "reason"), [
    ("¡hola!".encode("latin-1"), "not UTF-8"),
    (b'{"cells": [', "not valid JSON: Expecting value at line 1"),
    (b'{"cells": [], "metadata": {}}', "not a Jupyter notebook"),
    (b'[1, 2, 3]', "not a Jupyter notebook"),
    (V3, "not a Jupyter notebook: format 3, version 4 or later is needed"),
], ids=["latin-1", "cut-json", "no-nbformat", "a-list", "format-3"])
def test_an_unreadable_notebook_is_not_staged(course, tmp_path, content, reason):
    path, _, _ = course
    student = f"unreadable-{hashlib.sha256(content).hexdigest()[:8]}"
    _submit(path, student, {f"{NAME}.ipynb": content})
    intake, staged = _stage(path, student, tmp_path)
    assert intake == Intake(FOLDER, student, False, [f"notebook unreadable ({reason}): not graded"])
    assert not staged.exists()


def test_a_huge_notebook_is_neither_read_nor_staged(course, tmp_path):
    """21 MiB of zero bytes: were it read, it would be reported as not JSON instead."""
    path, _, _ = course
    folder = _submit(path, "huge", {})
    _sparse(folder / f"{NAME}.ipynb", 21 * 2**20)
    intake, staged = _stage(path, "huge", tmp_path)
    assert intake == Intake(FOLDER, "huge", False,
                            ["notebook too large (21.0 MiB, limit 20 MiB): not graded"])
    assert not staged.exists()


def test_files_beside_the_notebook_are_not_staged(course, tmp_path):
    """A numpy.py beside the notebook would shadow NumPy while grading; a huge file is named."""
    path, _, full = course
    folder = _submit(path, "extras", {f"{NAME}.ipynb": full, "numpy.py": b"raise SystemExit\n",
                                      "data/extra.csv": b"1,2\n"})
    _sparse(folder / "weights.npy", 25 * 2**20)
    intake, staged = _stage(path, "extras", tmp_path)
    assert intake.staged
    assert intake.notes == [
        "3 other files beside the notebook were not used for grading",
        "file 'weights.npy' too large (25.0 MiB, limit 20 MiB): not used",
    ]
    assert [p.name for p in staged.iterdir()] == ["activations.ipynb"]


def test_links_are_never_followed(course, tmp_path):
    path, _, full = course
    outside = tmp_path / "elsewhere.ipynb"
    outside.write_bytes(_bytes(full))
    folder = _submit(path, "linker", {})
    (folder / f"{NAME}.ipynb").symlink_to(outside)
    (folder / "helper.py").symlink_to("/etc/passwd")
    intake, staged = _stage(path, "linker", tmp_path / "staging")
    assert intake == Intake(FOLDER, "linker", False, [
        "notebook 'activations.ipynb' is a link: links are never followed, not graded",
        "1 other file beside the notebook was not used for grading",
        "'helper.py' is a link: links are never followed, not used",
    ])
    assert not staged.exists()


def test_a_wrong_kernel_is_replaced_by_the_source_notebooks(course, tmp_path):
    path, release, full = course
    nb = copy.deepcopy(full)
    nb.metadata.kernelspec = {"name": "julia-1.9", "display_name": "Julia 1.9",
                              "language": "julia"}
    _submit(path, "julia", {f"{NAME}.ipynb": nb})
    intake, staged = _stage(path, "julia", tmp_path)
    assert intake.notes == ["kernel 'julia-1.9' replaced by 'python3'"]
    assert _staged_nb(staged).metadata.kernelspec == release.metadata.kernelspec


def test_a_staged_folder_is_never_overwritten(course, tmp_path):
    path, _, full = course
    _submit(path, "twice", {f"{NAME}.ipynb": full})
    _, staged = _stage(path, "twice", tmp_path)
    before = file_tree(staged)
    with pytest.raises(FileExistsError):
        stage(path, FOLDER, "twice", tmp_path)
    assert file_tree(staged) == before


# --- the test cells --------------------------------------------------------------------

def _delete(nb, grade_id):
    nb.cells.remove(cell_by_grade_id(nb, grade_id))


def _deleted(nb):
    _delete(nb, "relu-hidden")


def _edited(nb):
    cell_by_grade_id(nb, "relu-visible").source = "pass  # nothing to see here"


def _duplicated(nb):
    nb.cells.insert(0, copy.deepcopy(cell_by_grade_id(nb, "relu-visible")))


def _relabelled(nb):
    _delete(nb, "relu-hidden")
    cell_by_grade_id(nb, "sigmoid-hidden").metadata.nbgrader["grade_id"] = "relu-hidden"


def _relabelled_unknown(nb):
    cell_by_grade_id(nb, "sigmoid-hidden").metadata.nbgrader["grade_id"] = "bonus"


def _unlabelled(nb):
    del cell_by_grade_id(nb, "relu-hidden").metadata["nbgrader"]


def _points(nb):
    cell_by_grade_id(nb, "softmax-hidden").metadata.nbgrader["points"] = 100


def _cell_type(nb):
    cell = cell_by_grade_id(nb, "elu-visible")
    cell.cell_type = "markdown"
    del cell["outputs"], cell["execution_count"]


CELL_CASES = {
    "deleted": (_deleted, ["test cell relu-hidden was missing: restored from the gradebook"]),
    "edited": (_edited, ["test cell relu-visible was edited: restored"]),
    "duplicated": (_duplicated,
                   ["test cell relu-visible appeared 2 times: the copies are ignored"]),
    "relabelled": (_relabelled, ["test cell sigmoid-hidden was re-labelled as relu-hidden: "
                                 "restored",
                                 "test cell relu-hidden was missing: restored from the gradebook"]),
    "relabelled-unknown": (_relabelled_unknown, [
        "test cell sigmoid-hidden was re-labelled as 'bonus', an id this assignment does not "
        "have: restored"]),
    "unlabelled": (_unlabelled,
                   ["test cell relu-hidden had lost its nbgrader metadata: restored"]),
    "points": (_points, ["test cell softmax-hidden had its points changed from 2 to 100: "
                         "restored"]),
    "cell-type": (_cell_type, ["test cell elu-visible was changed from a code cell to a "
                               "markdown cell: restored"]),
}


@pytest.mark.parametrize("case", list(CELL_CASES))
def test_test_cells_are_found_again_and_carried_by_one_cell_each(course, tmp_path, case):
    """Each test cell's grade_id ends up on exactly one cell, at its place, as released."""
    path, release, full = course
    change, notes = CELL_CASES[case]
    nb = copy.deepcopy(full)
    change(nb)
    _submit(path, f"cells-{case}", {f"{NAME}.ipynb": nb})
    intake, staged = _stage(path, f"cells-{case}", tmp_path)
    assert intake.staged and intake.notes == notes
    got = _staged_nb(staged)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in got.cells]
    wanted = [c.metadata.get("nbgrader", {}).get("grade_id") for c in release.cells]
    assert [i for i in ids if i] == [i for i in wanted if i]  # each once, in the release's order
    tests = graded_cells(release)
    keys = ("grade", "grade_id", "locked", "points", "solution")
    for grade_id, meta in graded_cells(got).items():
        assert [meta[k] for k in keys] == [tests[grade_id][k] for k in keys]


# --- the real nbgrader -----------------------------------------------------------------

def _scores(course: Path, student: str) -> dict[str, tuple]:
    """grade_id -> (score, max score) of the autograded test cells of one submission."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        notebook = gb.find_submission_notebook(NAME, FOLDER, student)
        return {g.name: (g.auto_score, g.max_score) for g in notebook.grades
                if g.cell_type == "code"}


def _autograde(course: Path, staging: Path, student: str | None = None) -> None:
    """The real ``nbgrader autograde``, reading submissions from the staged tree."""
    only = [f"--student={student}"] if student else []
    nbgrader(course, "autograde", FOLDER, "--force",
             f"--CourseDirectory.submitted_directory={staging}", *only)


def test_autograde_grades_a_renamed_notebook_with_another_kernel(course, tmp_path):
    path, _, full = course
    nb = copy.deepcopy(full)
    nb.metadata.kernelspec = {"name": "julia-1.9", "display_name": "Julia 1.9",
                              "language": "julia"}
    _submit(path, "copy-of", {f"Copy of {NAME}.ipynb": nb, "timestamp.txt":
                              b"2025-01-02 10:00:00.000000 UTC"})
    intake, _ = _stage(path, "copy-of", tmp_path)
    assert intake.notes == ["notebook 'Copy of activations.ipynb' graded as "
                            "'activations.ipynb' (renamed)",
                            "kernel 'julia-1.9' replaced by 'python3'"]
    _autograde(path, tmp_path, "copy-of")
    scores = _scores(path, "copy-of")
    assert scores and all(score == top for score, top in scores.values())


def test_autograde_scores_restored_test_cells_as_intended(course, tmp_path):
    """Full answers keep full marks whatever was done to the test cells; a wrong relu
    whose tests were edited and re-labelled still loses exactly relu's points; plain
    nbgrader cannot grade the duplicated test cell at all (jupyter/nbgrader#1083)."""
    path, _, full = course
    tampered = copy.deepcopy(full)
    for change in (_edited, _duplicated, _relabelled, _points, _cell_type, _unlabelled):
        change(tampered)
    wrong = WRONG["wrong-relu"]
    cheat = copy.deepcopy(full)
    cell_by_grade_id(cheat, wrong["cell"]).source = wrong["source"]
    _edited(cheat)
    _relabelled(cheat)
    for student, nb in (("tampered", tampered), ("cheat", cheat)):
        _submit(path, student, {f"{NAME}.ipynb": nb})
        assert _stage(path, student, tmp_path)[0].staged

    with pytest.raises(AssertionError, match=r"old version\s+of the nbgrader metadata format"):
        nbgrader(path, "autograde", FOLDER, "--student=tampered")
    _autograde(path, tmp_path)
    full_marks = _scores(path, "tampered")
    assert len(full_marks) == len(graded_cells(full))
    assert all(score == top for score, top in full_marks.values())
    lost = {name for name, (score, top) in _scores(path, "cheat").items() if score != top}
    assert lost == set(wrong["fails"])
