"""Grading again grades only what changed, and a looping exercise waits out its time limit once.

A class of three is graded once, by the real nbgrader with the sandbox on; then it is
graded again after each kind of change. A submission is graded again when its folder
(any file's bytes, timestamp.txt included) or its assignment changed, when its last
grading failed, when the gradebook no longer holds it, when ``regrade_all`` asks or
when the student is named; otherwise it keeps its scores without a kernel being
started. The record that decides lies where students cannot write
(``.nncourse/graded/``): a notebook that copies a graded notebook's metadata is still
a changed notebook.

Every test leaves the class graded and up to date, so any of them can run alone.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from types import SimpleNamespace

import nbformat
import pytest
from course_tools import cell_by_grade_id, course_with_answers, nbgrader, points, submit

from course_lib.grading import pipeline

FOLDER, NAME = "01_activations", "activations"
FULL = points(FOLDER, NAME)  # every autograded point of the notebook
TIMEOUT = 10  # seconds a cell may run: short, so that the looping student is quick
CLASS = ("alice", "bob", "carol")


def _with_cell(nb, grade_id, source):
    nb = nbformat.from_dict(nb)
    cell_by_grade_id(nb, grade_id).source = source
    return nb


def _stamp(course, student, when="2030-01-15 10:00:00.000000 UTC"):
    (course / "submitted" / student / FOLDER / "timestamp.txt").write_text(when + "\n")


def _grade(course, **options):
    """Grade the class; ({student: GradeJob}, wall seconds)."""
    start = time.perf_counter()
    jobs = pipeline.grade(course, [FOLDER], progress=False, **options)
    return {job.student: job for job in jobs}, time.perf_counter() - start


def _totals(course) -> dict:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {s: gb.find_submission(FOLDER, s).score for s in CLASS}


def _regraded(jobs) -> set:
    assert all(job.success for job in jobs.values()), {s: j.error for s, j in jobs.items()}
    return {student for student, job in jobs.items() if not job.reused}


@pytest.fixture(scope="module")
def klass(tmp_path_factory):
    """alice answers everything, bob nothing, carol all but relu; graded once."""
    course, release, full = course_with_answers(tmp_path_factory.mktemp("regrade"), FOLDER, NAME,
                                                f"c.Execute.timeout = {TIMEOUT}")
    submit(course, "alice", FOLDER, NAME, full)
    submit(course, "bob", FOLDER, NAME, release)
    submit(course, "carol", FOLDER, NAME, _with_cell(full, "relu", "def relu(x):\n    return x\n"))
    for student in CLASS:
        _stamp(course, student)
    jobs, seconds = _grade(course)
    print(f"\n[regrade timing] a class of 3 graded from scratch: {seconds:.1f} s "
          f"({', '.join(f'{s} {j.seconds:.1f} s' for s, j in sorted(jobs.items()))})")
    return SimpleNamespace(course=course, release=release, full=full, first=jobs,
                           first_seconds=seconds)


def test_the_first_grading_grades_everyone_and_records_it(klass):
    assert _regraded(klass.first) == set(CLASS)
    assert _totals(klass.course) == {"alice": FULL, "bob": 0.0, "carol": FULL - 2}
    records = klass.course / ".nncourse" / "graded" / FOLDER
    assert sorted(p.name for p in records.iterdir()) == [f"{s}.json" for s in CLASS]


def test_an_unchanged_class_is_not_graded_again(klass):
    """Nothing changed: every job comes back reused, at no cost, with its scores."""
    before = _totals(klass.course)
    jobs, seconds = _grade(klass.course)
    print(f"\n[regrade timing] the same class again, nothing changed: {seconds:.1f} s")
    assert _regraded(jobs) == set()
    assert all(job.seconds == 0.0 for job in jobs.values())
    assert all(job.notes[0].startswith("not graded again: unchanged since ")
               for job in jobs.values())
    assert _totals(klass.course) == before
    assert seconds < 10  # no kernel: the digests and the gradebook only


def test_a_changed_notebook_is_the_only_one_graded(klass):
    """carol fixes relu: she alone is graded, in the time of one notebook."""
    course = klass.course
    before = _totals(course)
    submit(course, "carol", FOLDER, NAME, klass.full)
    jobs, seconds = _grade(course)
    print(f"\n[regrade timing] the class again, one student changed: {seconds:.1f} s "
          f"(from scratch: {klass.first_seconds:.1f} s)")
    assert _regraded(jobs) == {"carol"}
    assert _totals(course) == {**before, "carol": FULL}
    assert seconds < klass.first_seconds


def test_rewriting_the_same_bytes_is_not_a_change(klass):
    """A notebook and timestamp written again, byte for byte, with a new mtime."""
    folder = klass.course / "submitted" / "alice" / FOLDER
    for path in folder.iterdir():
        path.write_bytes(path.read_bytes())
        os.utime(path, (time.time() + 3600, time.time() + 3600))
    jobs, _ = _grade(klass.course)
    assert _regraded(jobs) == set()


def test_a_changed_timestamp_alone_is_a_change(klass):
    _stamp(klass.course, "bob", "2030-01-16 09:30:00.000000 UTC")
    jobs, _ = _grade(klass.course)
    assert _regraded(jobs) == {"bob"}


def test_a_notebook_claiming_to_be_an_earlier_graded_one_is_still_changed(klass):
    """bob pastes in the answers, and the grader's metadata of his own last graded
    notebook; alice changes only her metadata, to carol's. Both are graded again."""
    course = klass.course

    def graded_metadata(student):
        path = course / "autograded" / student / FOLDER / f"{NAME}.ipynb"
        return nbformat.read(path, as_version=4).metadata["nncourse"]

    bob = nbformat.from_dict(klass.full)
    bob.metadata["nncourse"] = graded_metadata("bob")
    alice = nbformat.read(course / "submitted" / "alice" / FOLDER / f"{NAME}.ipynb",
                          as_version=4)
    alice.metadata["nncourse"] = graded_metadata("carol")
    submit(course, "bob", FOLDER, NAME, bob)
    submit(course, "alice", FOLDER, NAME, alice)
    jobs, _ = _grade(course)
    assert _regraded(jobs) == {"alice", "bob"}
    assert _totals(course)["bob"] == FULL and _totals(course)["alice"] == FULL


def test_releasing_the_assignment_again_regrades_only_when_it_changed(klass):
    course = klass.course
    nbgrader(course, "generate_assignment", FOLDER, "--force")  # the same release
    jobs, _ = _grade(course)
    assert _regraded(jobs) == set()

    source = course / "solutions" / FOLDER / f"{NAME}.ipynb"
    nb = nbformat.read(source, as_version=4)
    text = next(cell for cell in nb.cells if cell.cell_type == "markdown")
    text.source += "\n\nA line the instructor added."
    nbformat.write(nb, source)
    nbgrader(course, "generate_assignment", FOLDER, "--force")
    before = _totals(course)
    jobs, _ = _grade(course)
    assert _regraded(jobs) == set(CLASS)
    assert _totals(course) == before


def test_regrade_all_grades_everyone(klass):
    before = _totals(klass.course)
    jobs, _ = _grade(klass.course, regrade_all=True)
    assert _regraded(jobs) == set(CLASS)
    assert _totals(klass.course) == before


def test_named_students_are_graded_changed_or_not(klass):
    jobs, _ = _grade(klass.course, students=["alice"])
    assert set(jobs) == {"alice"} and _regraded(jobs) == {"alice"}


def test_a_failed_grading_is_graded_again(klass):
    """bob's grading fails (nbgrader cannot write his graded folder); the next run
    grades him again although his submission did not change, and only him."""
    course = klass.course
    graded = course / "autograded" / "bob" / FOLDER
    shutil.rmtree(graded)
    graded.write_text("in the way of nbgrader\n")
    jobs = pipeline.grade(course, [FOLDER], progress=False, students=["bob"])
    assert not jobs[0].success
    assert not (course / ".nncourse" / "graded" / FOLDER / "bob.json").exists()
    graded.unlink()
    jobs, _ = _grade(course)
    assert _regraded(jobs) == {"bob"}


def test_a_grading_the_gradebook_lost_is_graded_again(klass):
    from nbgrader.api import Gradebook

    before = _totals(klass.course)
    with Gradebook(f"sqlite:///{klass.course / 'gradebook.db'}") as gb:
        gb.remove_submission(FOLDER, "carol")
    jobs, _ = _grade(klass.course)
    assert _regraded(jobs) == {"carol"}
    assert _totals(klass.course) == before


def test_a_record_that_is_not_the_graders_own_is_not_trusted(klass):
    """A record that does not match (edited, truncated) grades the submission again."""
    record = klass.course / ".nncourse" / "graded" / FOLDER / "alice.json"
    data = json.loads(record.read_text())
    data["key"]["submission"] = "0" * 64
    record.write_text(json.dumps(data))
    jobs, _ = _grade(klass.course)
    assert _regraded(jobs) == {"alice"}


def test_a_looping_exercise_waits_out_its_time_limit_once(klass):
    """dave's relu never returns. relu's first test cell times out; its second is not
    run in the fresh kernel but scores 0, saying why; every other exercise is graded."""
    course = klass.course
    submit(course, "dave", FOLDER, NAME, _with_cell(
        klass.full, "relu", "def relu(x):\n    while True:\n        pass\n"))
    try:
        jobs, _ = _grade(course)  # dave is new: only he is graded
        dave = jobs["dave"]
        assert _regraded(jobs) == {"dave"}
        base = max(job.seconds for job in klass.first.values())  # a notebook, no timeout
        print(f"\n[regrade timing] dave (relu loops, {TIMEOUT} s cell limit): "
              f"{dave.seconds:.1f} s; a notebook without a timeout: {base:.1f} s")
        assert TIMEOUT <= dave.seconds < base + 1.6 * TIMEOUT  # one time limit, not two
        assert any("timed out" in note for note in dave.notes)

        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
            scores = {g.name: g.auto_score for g in
                      gb.find_submission_notebook(NAME, FOLDER, "dave").grades
                      if g.cell_type == "code"}
        assert scores.pop("relu-visible") == 0 and scores.pop("relu-hidden") == 0
        assert sum(scores.values()) == FULL - 2  # every other exercise, in full
        graded = nbformat.read(course / "autograded" / "dave" / FOLDER / f"{NAME}.ipynb",
                               as_version=4)
        [out] = cell_by_grade_id(graded, "relu-hidden").outputs
        assert out.evalue == (f"not run: relu's code ran past its time limit ({TIMEOUT} s) "
                              f"in an earlier cell")
        assert "CellTimeoutError" in cell_by_grade_id(graded, "relu-visible").outputs[0].ename
    finally:  # the class is three again
        shutil.rmtree(course / "submitted" / "dave")
