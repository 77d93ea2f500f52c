"""The README's instructor path, as a newcomer follows it (issue 12).

``nncourse`` is called by its full path, with a PATH that lacks the venv, from a folder
outside the course, with ``--course`` before or after the command. The class comes as a
Canvas zip and a Moodle zip holding what real downloads hold: two students of one name,
a re-upload, a lower-case LATE, a student who sent only a ``.py``, another assignment's
notebook; plus an empty zip. Each step's outcome is asserted: who was collected and why,
the exit statuses, the report, the feedback and the export, which agree on every total.
Each step is timed; ``-s`` prints the times.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from course_tools import RELEASE, cell_by_grade_id, course_with_answers, points

FOLDER, NAME = "01_activations", "activations"
FULL = points(FOLDER, NAME)  # every autograded point of the notebook
OTHER = "03_losses"  # another assignment, whose notebook one student sends by mistake

# Canvas ids: (name in the file, user id)
JANE_A, JANE_B = ("smithjane", "12345"), ("smithjane", "99999")
MARIA, LEE, KIM, CARL, NOBODY = "11111", "22222", "33333", "44444", "55555"
ANA_A, ANA_B = "700001", "700002"  # Moodle participant ids of two students named Ana Lopez

TIMES: list[tuple[str, float]] = []  # (the command, seconds), in the order run


def _nncourse(course: Path, *args: str, cwd: Path, after: bool = False):
    """The console script by its full path, the venv not on PATH, run from ``cwd``; with
    ``after``, --course follows the command."""
    script = Path(sys.executable).parent / "nncourse"
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env["PATH"] = os.pathsep.join(p for p in ("/usr/local/bin", "/usr/bin", "/bin")
                                  if p != str(script.parent))
    where = ["--course", str(course)]
    argv = [args[0], *where, *args[1:]] if after else [*where, *args]
    started = time.monotonic()
    done = subprocess.run([str(script), *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)
    TIMES.append((" ".join(args[:2]), time.monotonic() - started))
    return done


def _zip(path: Path, files: dict) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, content in files.items():
            z.writestr(name, content if isinstance(content, (str, bytes))
                       else nbformat.writes(content))
    return path


def _with_cell(nb, grade_id, source):
    nb = nbformat.from_dict(nb)
    cell_by_grade_id(nb, grade_id).source = source
    return nb


def _rows(path: Path) -> dict:
    with path.open(encoding="utf-8") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    """A course released by `nncourse release`, the two LMS downloads, a roster, and a
    folder elsewhere to run from."""
    base = tmp_path_factory.mktemp("instructor")
    course, release, full = course_with_answers(
        base / "course", FOLDER, NAME,
        "c.Execute.timeout = 20\nc.LateSubmissionPlugin.penalty_method = 'zero'")
    other = RELEASE / OTHER / "losses.ipynb"
    shutil.copytree(RELEASE / OTHER, course / "notebooks" / OTHER)
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    wrong = _with_cell(full, "relu", "def relu(x):\n    return x\n")
    canvas = _zip(base / "submissions.zip", {
        f"{JANE_A[0]}_{JANE_A[1]}_501_{NAME}.ipynb": full,
        f"{JANE_B[0]}_{JANE_B[1]}_502_{NAME}.ipynb": release,
        f"garciamaria_{MARIA}_503_{NAME}.ipynb": release,  # her first upload
        f"garciamaria_{MARIA}_504_{NAME}-1.ipynb": full,  # her re-upload: this one counts
        f"leeanna_late_{LEE}_505_{NAME}.ipynb": full,
        f"kimbo_{KIM}_506_{NAME}.py": "def relu(x):\n    return x\n",
        f"wrongcarl_{CARL}_507_losses.ipynb": other.read_bytes(),
    })
    moodle = _zip(base / "moodle.zip", {
        f"Ana Lopez_{ANA_A}_assignsubmission_file_/{NAME}.ipynb": full,
        f"Ana Lopez_{ANA_B}_assignsubmission_file_/{NAME}.ipynb": wrong,
    })
    roster = base / "roster.csv"
    roster.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,Activations (1234)\n"
        "    Points Possible,,,,,26\n"
        f'"Smith, Jane",{JANE_A[1]},S1,jsmith,A,\n'
        f'"Smith, Jane",{JANE_B[1]},S2,jsmith2,A,\n'
        f'"Garcia, Maria",{MARIA},S3,mgarcia,A,\n'
        f'"Lee, Anna",{LEE},S4,alee,A,\n'
        f'"Kim, Bo",{KIM},S5,bkim,A,\n'
        f'"Wrong, Carl",{CARL},S6,cwrong,A,\n'
        f'"Nobody, Ned",{NOBODY},S7,nnobody,A,\n'
        '"Student, Test",,,,A,\n', encoding="utf-8")
    empty = _zip(base / "empty.zip", {})
    return course, elsewhere, canvas, moodle, roster, empty


@pytest.fixture(scope="module")
def collected(term):
    course, elsewhere, canvas, moodle, roster, empty = term
    runs = {
        "release": _nncourse(course, "release", FOLDER, cwd=elsewhere),
        "canvas": _nncourse(course, "collect", FOLDER, str(canvas), "--roster", str(roster),
                            cwd=elsewhere, after=True),
        "moodle": _nncourse(course, "collect", FOLDER, str(moodle), cwd=elsewhere),
        "empty": _nncourse(course, "collect", FOLDER, str(empty), cwd=elsewhere),
        "wrong name": _nncourse(course, "collect", "01_activation", str(canvas), cwd=elsewhere),
    }
    return course, elsewhere, runs


@pytest.fixture(scope="module")
def graded(collected):
    """Graded after a due date was set; Anna Lee's submission also came through the hub's
    exchange, whose timestamp.txt says it was late (the course's penalty: zero)."""
    course, elsewhere, runs = collected
    runs["due"] = _nncourse(course, "due", FOLDER, "2026-01-01 00:00 +01:00", cwd=elsewhere)
    (course / "submitted" / LEE / FOLDER / "timestamp.txt").write_text(
        "2026-01-02 09:00:00.000000 UTC")
    runs["grade"] = _nncourse(course, "grade", FOLDER, "--no-progress", cwd=elsewhere,
                              after=True)
    return course, elsewhere, runs


@pytest.fixture(scope="module")
def regraded(graded, term):
    """Ana Lopez (the second) sends a corrected notebook; it is collected over her first
    one, and the class is graded again."""
    course, elsewhere, runs = graded
    full = nbformat.read(course / "submitted" / ANA_A / FOLDER / f"{NAME}.ipynb", as_version=4)
    fixed = _zip(course.parent / "moodle-again.zip", {
        f"Ana Lopez_{ANA_B}_assignsubmission_file_/{NAME}.ipynb": full})
    runs["again"] = _nncourse(course, "collect", FOLDER, str(fixed), "--overwrite",
                              cwd=elsewhere)
    runs["regrade"] = _nncourse(course, "grade", FOLDER, "--no-progress", cwd=elsewhere)
    return course, elsewhere, runs


def test_release_works_without_the_venv_and_keeps_the_notebook(collected):
    course, _, runs = collected
    assert runs["release"].returncode == 0, runs["release"].stderr
    assert (course / "notebooks" / FOLDER / f"{NAME}.ipynb").exists()


def test_collect_keeps_students_of_one_name_apart(collected):
    course, _, runs = collected
    assert runs["canvas"].returncode == 1, runs["canvas"].stdout + runs["canvas"].stderr
    submitted = course / "submitted"
    for student in (JANE_A[1], JANE_B[1], MARIA, LEE, ANA_A, ANA_B):
        assert (submitted / student / FOLDER / f"{NAME}.ipynb").exists(), student
    assert not (submitted / KIM).exists() and not (submitted / CARL).exists()


def test_the_newest_upload_wins_and_says_why(collected):
    course, _, runs = collected
    chosen = course / "submitted" / MARIA / FOLDER / f"{NAME}.ipynb"
    with zipfile.ZipFile(collected[0].parent / "submissions.zip") as z:
        assert chosen.read_bytes() == z.read(f"garciamaria_{MARIA}_504_{NAME}-1.ipynb")
    log = (course / "reports" / FOLDER / "collect.txt").read_text()
    assert f"garciamaria_{MARIA}_504_{NAME}-1.ipynb" in log


def test_what_collect_decided_is_kept(collected):
    course, _, runs = collected
    decided = json.loads((course / "reports" / FOLDER / "collect.json").read_text())
    text = json.dumps(decided)
    for student in (KIM, CARL, NOBODY, LEE):
        assert student in text
    log = (course / "reports" / FOLDER / "collect.txt").read_text()
    assert log.count("submissions.zip") >= 1 and "moodle.zip" in log


def test_an_empty_zip_and_a_wrong_name_are_errors(collected):
    _, _, runs = collected
    assert runs["empty"].returncode == 2
    assert "empty" in runs["empty"].stderr
    assert runs["wrong name"].returncode != 0
    assert "nncourse release" in runs["wrong name"].stderr
    assert "Traceback" not in runs["wrong name"].stderr + runs["empty"].stderr


def test_every_student_is_in_the_report(graded):
    course, _, runs = graded
    assert runs["grade"].returncode == 0, runs["grade"].stdout + runs["grade"].stderr
    rows = _rows(course / "reports" / FOLDER / "scores.csv")
    assert float(rows[JANE_A[1]]["total"]) == FULL
    assert float(rows[JANE_B[1]]["total"]) == 0.0
    assert float(rows[MARIA]["total"]) == FULL
    assert float(rows[ANA_A]["total"]) == FULL and float(rows[ANA_B]["total"]) < FULL
    assert "LATE" in rows[LEE]["notes"]
    # late by the hub's timestamp too: nbgrader's penalty (zero) in the report's total
    assert "after the due date" in rows[LEE]["notes"]
    assert float(rows[LEE]["late penalty"]) == FULL and float(rows[LEE]["total"]) == 0.0
    for student in (KIM, CARL, NOBODY):
        assert "no gradable notebook" in rows[student]["notes"], rows[student]
    assert rows[MARIA]["name"] == "Maria Garcia" or "Garcia" in rows[MARIA]["name"]
    text = (course / "reports" / FOLDER / "report.txt").read_text()
    assert "pending" in text


def test_feedback_and_export_agree_with_the_report(graded):
    course, elsewhere, runs = graded
    feedback = _nncourse(course, "feedback", FOLDER, cwd=elsewhere)
    assert feedback.returncode == 0, feedback.stderr
    html = (course / "feedback" / JANE_A[1] / FOLDER / f"{NAME}.html").read_text()
    assert "pending" in html
    # named as each LMS named the download, for its bulk upload of feedback files
    with zipfile.ZipFile(course / "reports" / FOLDER / "feedback-for-lms.zip") as z:
        assert sorted(z.namelist()) == sorted([
            f"{JANE_A[0]}_{JANE_A[1]}_501_{NAME}.html", f"{JANE_B[0]}_{JANE_B[1]}_502_{NAME}.html",
            f"garciamaria_{MARIA}_504_{NAME}.html", f"leeanna_late_{LEE}_505_{NAME}.html",
            f"Ana Lopez_{ANA_A}_assignsubmission_file_/{NAME}.html",
            f"Ana Lopez_{ANA_B}_assignsubmission_file_/{NAME}.html"])
        assert z.read(f"garciamaria_{MARIA}_504_{NAME}.html").decode() == (
            course / "feedback" / MARIA / FOLDER / f"{NAME}.html").read_text()
    export = _nncourse(course, "export", "--to", "grades.csv", cwd=elsewhere)
    assert export.returncode == 0, export.stderr
    exported = {row["student_id"]: row for row in csv.DictReader(
        io.StringIO((elsewhere / "grades.csv").read_text()))
        if row["assignment"] == FOLDER}
    report = _rows(course / "reports" / FOLDER / "scores.csv")
    for student, row in report.items():
        assert float(exported[student]["score"]) == float(row["total"]), student
    assert exported[MARIA]["last_name"] == "Garcia"


def test_the_due_date_is_set_in_utc(graded):
    course, elsewhere, runs = graded
    assert runs["due"].returncode == 0, runs["due"].stderr
    assert "due 2025-12-31 23:00 UTC" in runs["due"].stdout
    shown = _nncourse(course, "due", FOLDER, cwd=elsewhere)
    assert "due 2025-12-31 23:00 UTC" in shown.stdout


def test_a_regrade_grades_only_the_changed_student(regraded):
    course, _, runs = regraded
    assert runs["again"].returncode == 0, runs["again"].stdout + runs["again"].stderr
    assert runs["regrade"].returncode == 0, runs["regrade"].stdout + runs["regrade"].stderr
    rows = _rows(course / "reports" / FOLDER / "scores.csv")
    assert float(rows[ANA_B]["total"]) == FULL
    assert float(rows[JANE_A[1]]["total"]) == FULL and float(rows[LEE]["total"]) == 0.0
    graded = 6  # notebooks in submitted/: all but Ana Lopez (the second) unchanged
    assert f"{graded - 1} submissions were unchanged since last graded" in runs["regrade"].stdout
    for step, seconds in TIMES:  # for the record: `pytest -s` shows each step's time
        print(f"nncourse {step:<32} {seconds:6.1f} s")
