"""Attacks on collect, the report, the export, the LMS feedback zip, `nncourse due` and
the time-limit skip, by a student who has read the source (issue 12's review). Each was
a bug, found by an attacker and fixed:

- a file name that looks like another student's LMS prefix filed the notebook as theirs
  (collect reads the first id the LMS wrote, at the start of a part of the path);
- a file name forged a row of report.txt (collect's reason is quoted when unprintable);
- a name from the download forged a row of the export (names are kept on one line, and
  the export is written as proper CSV);
- the LMS feedback zip named a page from a prefix inside the student's own file name;
- `nncourse due` on a date out of range printed a traceback, and on an unreleased
  assignment created it;
- a slow cell that also defined another exercise's function stopped that exercise.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from course_tools import cell_by_grade_id, course_with_answers

from course_lib.grading.collect import collect, decisions
from course_lib.grading.course import Course

FOLDER, NAME = "01_activations", "activations"
NNCOURSE = [sys.executable, "-m", "course_lib.grading.cli"]


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """01_activations released in a scratch course (made once), its full answers."""
    root = tmp_path_factory.mktemp("attacks12") / "course"
    course, _, full = course_with_answers(root, FOLDER, NAME, config="c.Execute.timeout = 5")
    return course, full


@pytest.fixture
def course(tmp_path, released):
    root, full = released
    copy_ = tmp_path / "course"
    shutil.copytree(root, copy_)
    return copy_, full


def _zip(path: Path, members: list[tuple[str, bytes, int]]) -> Path:
    """A zip of (name, bytes, hour of 2026-12-01) members."""
    with zipfile.ZipFile(path, "w") as z:
        for name, data, hour in members:
            z.writestr(zipfile.ZipInfo(name, (2026, 12, 1, hour, 0, 0)), data)
    return path


def _submitted(course: Path) -> dict[str, bytes]:
    return {p.parts[-3]: p.read_bytes() for p in course.glob(f"submitted/*/{FOLDER}/*.ipynb")}


@pytest.mark.parametrize("eve", [
    "evanseve_1234_101_x_4242_assignsubmission_file_activations.ipynb",  # Canvas
    "Eve Evans_1234_assignsubmission_file_activations_4242_assignsubmission_file_activations.ipynb",
    "Eve Evans_1234_assignsubmission_file_/x_4242_assignsubmission_file_/activations.ipynb",
])
def test_a_students_file_name_never_files_it_as_another_students(tmp_path, course, eve):
    root, full = course
    alice = ("adamsalice_4242_100_activations.ipynb" if "evanseve" in eve
             else "Alice Adams_4242_assignsubmission_file_/activations.ipynb")
    alices, eves = nbformat.writes(full).encode(), b'{"cells": [], "nbformat": 4}'
    report = collect(root, FOLDER, _zip(tmp_path / "d.zip", [(alice, alices, 10),
                                                            (eve, eves, 11)]))
    assert _submitted(root).get("4242") == alices  # Eve's later upload replaced it
    assert report.decisions["1234"].source == eve  # Eve has no decision at all


def test_a_file_name_cannot_forge_a_row_of_report_txt(tmp_path, course):
    from course_lib.grading.report import build_report, format_report

    root, full = course
    forged = "4242        Alice Adams      2      2       2       2       2         10"
    collect(root, FOLDER, _zip(tmp_path / "d.zip", [
        ("adamsalice_4242_100_activations.ipynb", nbformat.writes(full).encode(), 10),
        (f"evanseve_1234_101_x\n{forged}\n.py", b"print(1)", 10)]))
    text = format_report(build_report(root, FOLDER))
    assert forged not in text.splitlines()


def test_the_lms_feedback_zip_names_each_page_with_its_own_students_id(tmp_path, course):
    from course_lib.grading.feedback import for_the_lms

    root, full = course
    nb = nbformat.writes(full).encode()
    collect(root, FOLDER, _zip(tmp_path / "d.zip", [
        ("Alice Adams_4242_assignsubmission_file_/activations.ipynb", nb, 10),
        ("Eve Evans_1234_assignsubmission_file_/sub_4242_assignsubmission_file_x/activations.ipynb",
         nb, 10),
        ("bob_1_2_x/activations.ipynb", nb, 10)]))
    assert decisions(root, FOLDER)["1234"].status == "collected"
    for student in ("4242", "1234", "bob_1_2_x"):
        page = root / "feedback" / student / FOLDER / "activations.html"
        page.parent.mkdir(parents=True)
        page.write_text(student)
    path, _ = for_the_lms(Course(root), FOLDER)
    with zipfile.ZipFile(path) as z:
        named = {z.read(name).decode(): name for name in z.namelist()}
    assert "4242" not in named["1234"]  # 'sub_4242_assignsubmission_file_activations.html'
    assert not named.get("bob_1_2_x", "").startswith("bob_1_2_")


def test_a_name_in_the_download_cannot_forge_a_row_of_the_export(tmp_path, course):
    root, full = course
    nb = nbformat.writes(full).encode()
    forged = "01_activations,2026-12-01 10:00:00,,4242,Adams,Alice,,26.0,32.0"
    collect(root, FOLDER, _zip(tmp_path / "d.zip", [
        ("Alice Adams_4242_assignsubmission_file_/activations.ipynb", nb, 10),
        (f"Eve\n{forged}\nfoo_1234_assignsubmission_file_/activations.ipynb", nb, 10)]))
    to = tmp_path / "grades.csv"
    subprocess.run([*NNCOURSE, "--course", str(root), "export", "--to", str(to)], check=True,
                   capture_output=True)
    assert forged not in to.read_text().splitlines()


@pytest.mark.parametrize("date", ["9999-12-31 23:59 -12:00", "0001-01-01 00:00 +01:00"])
def test_due_with_a_date_out_of_range_says_so_in_one_line(course, date):
    root, _ = course
    done = subprocess.run([*NNCOURSE, "--course", str(root), "due", FOLDER, date],
                          capture_output=True, text=True)
    assert "Traceback" not in done.stderr and done.returncode == 2


def test_due_on_an_unreleased_assignment_asks_to_release_it(course):
    root, _ = course
    (root / "solutions" / "99_new").mkdir()
    done = subprocess.run([*NNCOURSE, "--course", str(root), "due", "99_new",
                           "2026-12-01 10:00"], capture_output=True, text=True)
    assert "99_new" not in Course(root).released()
    assert done.returncode != 0


def test_a_slow_cell_costs_only_the_exercises_whose_code_is_lost(course):
    from course_lib.grading import pipeline
    from course_lib.grading.report import build_report

    root, full = course
    nb = copy.deepcopy(full)
    cell = cell_by_grade_id(nb, "relu")
    cell.source += ("\n\n" + cell_by_grade_id(full, "sigmoid").source
                    + "\n\nimport time\ntime.sleep(60)  # a slow demo\n")
    target = root / "submitted" / "hal" / FOLDER / f"{NAME}.ipynb"
    target.parent.mkdir(parents=True)
    nbformat.write(nb, target)
    (job,) = pipeline.grade(root, [FOLDER], progress=False)
    assert job.success
    scores = build_report(root, FOLDER).scores["hal"]
    assert scores["relu"] == 0  # relu's cell never finished: relu is not defined
    assert scores["sigmoid"] == 3  # sigmoid's own cell, later, defines it
