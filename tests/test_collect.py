"""Collecting an LMS download into nbgrader's submitted/ layout.

Each test builds a zip or a folder in tmp_path from small notebooks, collects it into
a minimal course (its config, the real releases of 01_activations and 03_losses, and
a gradebook copied from one made once), and checks exactly which files land where,
the decision for each student, the report's lines, the records kept in reports/,
the gradebook's students, and that nothing else changed. Nothing here runs a kernel.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest
from course_tools import ROOT

from course_lib.grading import collect as collect_module
from course_lib.grading.collect import (
    CollectError,
    CollectReport,
    StudentDecision,
    collect,
    decisions,
)
from course_lib.grading.course import Course, tools_on_path

ASSIGNMENT = "01_activations"
OTHER = "03_losses"
RELEASE = ROOT / "notebooks" / ASSIGNMENT / "activations.ipynb"
LOSSES = ROOT / "notebooks" / OTHER / "losses.ipynb"
RECORDS = Path("reports") / ASSIGNMENT


def _notebook(text: str, grade_id: str | None = "relu") -> bytes:
    """A small valid notebook whose one code cell is ``text``, so every student differs;
    the cell carries 01_activations's nbgrader id ``relu`` (none if ``grade_id`` is None)."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(text, id="answer")  # a fixed id: same text, same bytes
    if grade_id:
        cell.metadata["nbgrader"] = {"grade_id": grade_id, "solution": True, "grade": False,
                                     "locked": False, "schema_version": 3, "task": False}
    nb.cells = [cell]
    return nbformat.writes(nb).encode("utf-8")


def _zip(path: Path, members: dict[str, bytes], dates: dict[str, tuple] | None = None) -> Path:
    """Write ``members`` (name -> bytes) to the zip ``path``, with optional zip dates."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(dates or {}).get(name, (2024, 3, 1, 12, 0, 0)))
            archive.writestr(info, data)
    return path


def _files(root: Path, skip=()) -> dict[str, bytes]:
    """Every file under ``root`` (but those under ``skip``), by relative path, with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not any(p.is_relative_to(s) for s in skip)}


def _dest(course: Path, student: str) -> Path:
    return course / "submitted" / student / ASSIGNMENT / "activations.ipynb"


def _statuses(report: CollectReport) -> dict[str, str]:
    return {student: d.status for student, d in report.decisions.items()}


def _why(report: CollectReport) -> dict[str, str]:
    return {student: d.why for student, d in report.decisions.items()}


def _students(course: Path) -> dict[str, tuple]:
    """The gradebook's students: id -> (first name, last name, email)."""
    with Course(course).gradebook() as gb:
        return {s.id: (s.first_name, s.last_name, s.email) for s in gb.students}


@pytest.fixture(scope="module")
def gradebook(tmp_path_factory):
    """An empty gradebook, made once: nbgrader runs alembic to make one, which takes
    seconds; a test that needs the making itself does without."""
    root = tmp_path_factory.mktemp("gradebook")
    shutil.copy(ROOT / "nbgrader_config.py", root)
    tools_on_path()  # as nncourse does: alembic is found beside this Python
    with Course(root).gradebook():
        pass
    return root / "gradebook.db"


@pytest.fixture
def course(tmp_path, gradebook):
    """A minimal course: the real config, two real releases, and an empty gradebook."""
    root = tmp_path / "course"
    for folder, release in ((ASSIGNMENT, RELEASE), (OTHER, LOSSES)):
        (root / "notebooks" / folder).mkdir(parents=True)
        shutil.copy(release, root / "notebooks" / folder)
    shutil.copy(ROOT / "nbgrader_config.py", root)
    shutil.copy(gradebook, root)
    return root


@pytest.fixture
def untouched(tmp_path, course):
    """``with untouched(): collect(...)`` fails if anything changed in tmp_path (the
    download included) but what collect writes: submitted/, reports/ and the gradebook."""
    written = (course / "submitted", course / "reports", course / "gradebook.db")

    @contextmanager
    def check():
        before = _files(tmp_path, skip=written)
        yield
        assert _files(tmp_path, skip=written) == before

    return check


def _roster(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


# --- the file names of each LMS -----------------------------------------------------------

def test_canvas_zip_lands_in_nbgraders_layout(tmp_path, course, untouched):
    """Canvas names, LATE included; the id is Canvas's user id; a renamed notebook is
    saved under the assignment's name."""
    members = {
        "alice_1001_2001_activations.ipynb": _notebook("alice"),
        "bob_LATE_1002_2002_Untitled.ipynb": _notebook("bob"),
        "carol_1003_2003_activations (1).ipynb": _notebook("carol"),
    }
    source = _zip(tmp_path / "submissions.zip", members)
    with untouched():
        report = collect(course, ASSIGNMENT, source)

    ids = ("1001", "1002", "1003")
    assert report.collected == [(s, _dest(course, s)) for s in ids]
    assert report.unmatched == [] and report.skipped == [] and report.status() == 0
    for (name, data), student in zip(members.items(), ids, strict=True):
        assert _dest(course, student).read_bytes() == data, name
        assert report.sources[student] == name
    assert sorted(p.relative_to(course).as_posix() for p in (course / "submitted").rglob("*")
                  if p.is_file()) == [f"submitted/{s}/{ASSIGNMENT}/activations.ipynb"
                                      for s in ids]
    assert report.decisions["1002"] == StudentDecision(
        student="1002", name="bob", sis_id=None, email=None, status="collected",
        source="bob_LATE_1002_2002_Untitled.ipynb", late=True,
        why="renamed from Untitled.ipynb", when=report.when, download="submissions.zip")
    assert _why(report) == {"1001": "the only notebook it sent",
                            "1002": "renamed from Untitled.ipynb",
                            "1003": "renamed from activations (1).ipynb"}
    lines = report.summary().splitlines()
    assert lines[0] == (f"{ASSIGNMENT}: collected 3 submissions, skipped 0 students, "
                        "0 files not collected.")
    assert (f"  1001 (alice): submitted/1001/{ASSIGNMENT}/activations.ipynb "
            "(from alice_1001_2001_activations.ipynb)") in lines
    assert (f"  1002 (bob): submitted/1002/{ASSIGNMENT}/activations.ipynb "
            "(from bob_LATE_1002_2002_Untitled.ipynb; LATE; renamed from Untitled.ipynb)") in lines
    assert lines[-1] == (f"LATE marks are kept in reports/{ASSIGNMENT}/collect.json; "
                         "the report shows them beside each score.")
    assert not list((course / "submitted").rglob("timestamp.txt"))


def test_moodle_folders_use_the_number_as_student_id(tmp_path, course, untouched):
    """Moodle's <Full Name>_<id>_assignsubmission_file_/ folders, nested or flat names."""
    members = {
        "Jane Doe_501_assignsubmission_file_/activations.ipynb": _notebook("jane"),
        "José de la Cruz_502_assignsubmission_file_/work/Untitled.ipynb": _notebook("jose"),
        "Jane Doe_501_assignsubmission_onlinetext_/onlinetext.html": b"<p>hi</p>",
        "Kim Lee_503_assignsubmission_file_activations.ipynb": _notebook("kim"),
    }
    source = _zip(tmp_path / "moodle.zip", members)
    with untouched():
        report = collect(course, ASSIGNMENT, source)

    assert report.collected == [(s, _dest(course, s)) for s in ("501", "502", "503")]
    assert _dest(course, "502").read_bytes() == _notebook("jose")
    assert report.unmatched == [("Jane Doe_501_assignsubmission_onlinetext_/onlinetext.html",
                                 "not a notebook (.html); only .ipynb files are collected")]
    assert {s: d.name for s, d in report.decisions.items()} == {
        "501": "Jane Doe", "502": "José de la Cruz", "503": "Kim Lee"}
    assert report.status() == 0


def test_a_folder_of_student_folders_and_files(tmp_path, course, untouched):
    """A folder source: <student>/<any>.ipynb and <student>.ipynb; checkpoints, junk, links."""
    source = tmp_path / "downloads"
    (source / "alice" / ".ipynb_checkpoints").mkdir(parents=True)
    (source / "alice" / "activations.ipynb").write_bytes(_notebook("alice"))
    (source / "alice" / ".ipynb_checkpoints" / "activations-checkpoint.ipynb").write_bytes(
        _notebook("old"))
    (source / "bob.ipynb").write_bytes(_notebook("bob"))
    (source / "carol").mkdir()
    (source / "carol" / "notes.pdf").write_bytes(b"%PDF-1.4")
    (source / ".DS_Store").write_bytes(b"\0\0")
    (tmp_path / "elsewhere.ipynb").write_bytes(_notebook("not in the download"))
    os.symlink(tmp_path / "elsewhere.ipynb", source / "mallory.ipynb")

    with untouched():
        report = collect(course, ASSIGNMENT, source)

    assert report.collected == [("alice", _dest(course, "alice")), ("bob", _dest(course, "bob"))]
    assert _dest(course, "bob").read_bytes() == _notebook("bob")
    link = "a link: links are not followed, copy the file itself"
    assert report.unmatched == [
        (".DS_Store", "folder settings saved by macOS or Windows, not a submission"),
        ("alice/.ipynb_checkpoints/activations-checkpoint.ipynb",
         "a Jupyter autosave checkpoint, not the submitted notebook"),
        ("carol/notes.pdf", "not a notebook (.pdf); only .ipynb files are collected"),
        ("mallory.ipynb", link),
    ]
    assert _statuses(report) == {"alice": "collected", "bob": "collected",
                                 "carol": "no notebook", "mallory": "skipped"}
    assert report.decisions["carol"].why == "sent only notes.pdf (not a notebook)"
    assert report.decisions["mallory"].why == f"could not read mallory.ipynb: {link}"
    assert report.decisions["alice"].download == "downloads"
    assert not (course / "submitted" / "mallory").exists()
    assert report.status() == 1


def test_every_file_not_collected_is_reported_with_its_reason(tmp_path, course, untouched):
    """Junk, other file types and names that say no student are reported, never dropped;
    other files are told to be their student's, who sent no notebook."""
    members = {
        "__MACOSX/._alice_1001_2001_activations.ipynb": b"\0\5\26\7",
        ".DS_Store": b"\0",
        "alice_1001_2001_report.pdf": b"%PDF",
        "alice_1001_2001_activations.py": b"print(1)",
        "bob_1002_2002_work.zip": b"PK\5\6" + bytes(18),
        "some/deep/folder/x.ipynb": _notebook("x"),
        "Jane Doe.ipynb": _notebook("jane"),
        "activations.ipynb": _notebook("whose?"),
        "01_activations/activations.ipynb": _notebook("whose?"),
    }
    source = _zip(tmp_path / "junk.zip", members)
    with untouched():
        report = collect(course, ASSIGNMENT, source)

    nobody = "could not tell which student this is"
    assert dict(report.unmatched) == {
        "__MACOSX/._alice_1001_2001_activations.ipynb":
            "macOS metadata that the Finder adds to zips, not a submission",
        ".DS_Store": "folder settings saved by macOS or Windows, not a submission",
        "alice_1001_2001_report.pdf": "not a notebook (.pdf); only .ipynb files are collected",
        "alice_1001_2001_activations.py": "not a notebook (.py); only .ipynb files are collected",
        "bob_1002_2002_work.zip":
            "a zip inside the download: unzip it and collect its files on their own",
        "some/deep/folder/x.ipynb": f"{nobody}: its name fits none of the known patterns",
        "Jane Doe.ipynb": f"{nobody}: 'Jane Doe' is not a student id (a student id is letters, "
                          "digits and . _ - @ +, starting with a letter or digit)",
        "activations.ipynb": f"{nobody}: 'activations' is named like the assignment, "
                             "not like a student",
        "01_activations/activations.ipynb": f"{nobody}: '01_activations' is named like the "
                                            "assignment, not like a student",
    }
    assert len(report.unmatched) == len(members)
    assert report.collected == []
    assert _statuses(report) == {"1001": "no notebook", "1002": "no notebook"}
    assert _why(report) == {
        "1001": "sent only activations.py, report.pdf (not notebooks)",
        "1002": "sent only work.zip (not a notebook)"}
    assert report.unclaimed == ["01_activations/activations.ipynb", "Jane Doe.ipynb",
                                "activations.ipynb", "some/deep/folder/x.ipynb"]
    assert report.status() == 1  # notebooks no student could be told for
    assert not (course / "submitted").exists()
    lines = report.summary().splitlines()
    assert lines[0] == (f"{ASSIGNMENT}: collected 0 submissions, skipped 2 students, "
                        "9 files not collected.")
    assert "  1002 (bob): no notebook: sent only work.zip (not a notebook)" in lines
    assert ("  alice_1001_2001_report.pdf: not a notebook (.pdf); only .ipynb files are "
            "collected") in lines


# --- which notebook, of several ---------------------------------------------------------------

def test_of_several_notebooks_the_newest_named_like_the_assignment_wins(
        tmp_path, course, untouched):
    """A copy suffix is as good a name as the exact one (the newer wins); a scratch
    notebook never wins, however new."""
    members = {"alice/activations.ipynb": _notebook("alice, first"),
               "alice/Activations-2.ipynb": _notebook("alice, later"),
               "alice/scratch.ipynb": _notebook("scratch"),
               "bob/activations.ipynb": _notebook("bob"),
               "bob/scratch.ipynb": _notebook("bob's scratch")}
    dates = {"alice/activations.ipynb": (2024, 3, 1, 9, 0, 0),
             "alice/Activations-2.ipynb": (2024, 3, 2, 9, 0, 0),
             "alice/scratch.ipynb": (2024, 3, 9, 9, 0, 0),
             "bob/scratch.ipynb": (2024, 3, 9, 9, 0, 0)}
    source = _zip(tmp_path / "s.zip", members, dates)
    with untouched():
        report = collect(course, ASSIGNMENT, source)

    assert _dest(course, "alice").read_bytes() == _notebook("alice, later")
    assert _dest(course, "bob").read_bytes() == _notebook("bob")
    alice = ("the newest named like activations.ipynb, by the date the download gives "
             "(2024-03-02 09:00:00)")
    bob = "the only one named like activations.ipynb"
    assert report.unmatched == [
        ("alice/activations.ipynb", f"alice sent 3 notebooks; alice/Activations-2.ipynb was "
                                    f"chosen: {alice}"),
        ("alice/scratch.ipynb", f"alice sent 3 notebooks; alice/Activations-2.ipynb was "
                                f"chosen: {alice}"),
        ("bob/scratch.ipynb", f"bob sent 2 notebooks; bob/activations.ipynb was chosen: {bob}"),
    ]
    assert _why(report) == {
        "alice": f"chosen from 3 notebooks: {alice}; renamed from Activations-2.ipynb",
        "bob": f"chosen from 2 notebooks: {bob}"}
    assert report.status() == 0  # the choice is written down: nothing to decide


def test_of_notebooks_named_unlike_the_assignment_the_newest_wins(tmp_path, course):
    """No name fits: the closest-named ones compete, and the newest of them wins."""
    members = {"cleo_1007_3001_my_activations.ipynb": _notebook("cleo, first"),
               "cleo_1007_3002_my_activations_v2.ipynb": _notebook("cleo, later"),
               "cleo_1007_3003_Untitled.ipynb": _notebook("cleo, untitled")}
    report = collect(course, ASSIGNMENT, _zip(tmp_path / "c.zip", members))
    assert _dest(course, "1007").read_bytes() == _notebook("cleo, later")
    assert _why(report)["1007"] == (
        "chosen from 3 notebooks: the newest upload whose name is the closest to "
        "activations.ipynb (Canvas numbered it 3002, after 3001); renamed from "
        "my_activations_v2.ipynb")


def test_equally_named_notebooks_the_latest_upload_wins_and_is_reported(tmp_path, course, untouched):
    """Canvas's file number orders uploads; elsewhere the zip's date; both are reported."""
    members = {
        "dave_1004_2010_activations.ipynb": _notebook("dave, later"),
        "dave_1004_2004_activations.ipynb": _notebook("dave, first"),
        "frank/activations (1).ipynb": _notebook("frank, first"),
        "frank/activations (2).ipynb": _notebook("frank, later"),
    }
    dates = {"frank/activations (1).ipynb": (2024, 3, 1, 9, 0, 0),
             "frank/activations (2).ipynb": (2024, 3, 2, 9, 0, 0),
             # Canvas stamps its zip with one date: the file number must decide, not this
             "dave_1004_2004_activations.ipynb": (2024, 3, 9, 9, 0, 0)}
    source = _zip(tmp_path / "d.zip", members, dates)
    with untouched():
        report = collect(course, ASSIGNMENT, source)

    assert report.collected == [("1004", _dest(course, "1004")),
                                ("frank", _dest(course, "frank"))]
    assert _dest(course, "1004").read_bytes() == _notebook("dave, later")
    assert _dest(course, "frank").read_bytes() == _notebook("frank, later")
    assert report.unmatched == [
        ("dave_1004_2004_activations.ipynb", "1004 sent 2 notebooks; dave_1004_2010_activations."
         "ipynb was chosen: the newest upload named like activations.ipynb (Canvas numbered "
         "it 2010, after 2004)"),
        ("frank/activations (1).ipynb", "frank sent 2 notebooks; frank/activations (2).ipynb "
         "was chosen: the newest named like activations.ipynb, by the date the download "
         "gives (2024-03-02 09:00:00)"),
    ]


def test_duplicates_nothing_tells_apart_are_both_reported_and_neither_wins(
        tmp_path, course, untouched):
    """Two equally named notebooks with the same date: neither is collected, both reported."""
    members = {"gina/activations (1).ipynb": _notebook("one"),
               "gina/activations (2).ipynb": _notebook("two"),
               "hal_1008_2008_activations.ipynb": _notebook("hal")}
    source = _zip(tmp_path / "g.zip", members)
    with untouched():
        report = collect(course, ASSIGNMENT, source)

    assert report.collected == [("1008", _dest(course, "1008"))]
    assert not (course / "submitted" / "gina").exists()
    assert report.skipped == [("gina", "sent 2 notebooks (gina/activations (1).ipynb, "
                                       "gina/activations (2).ipynb) and nothing tells which one "
                                       f"to grade; copy the right one to submitted/gina/{ASSIGNMENT}"
                                       "/activations.ipynb")]
    assert report.decisions["gina"].status == "skipped"
    assert report.unmatched == [
        (name, "one of 2 notebooks from gina; none was collected (see the students above)")
        for name in ("gina/activations (1).ipynb", "gina/activations (2).ipynb")]
    assert "Students who need your decision (nothing written for them):" in report.summary()
    assert report.status() == 1


# --- what is already there ------------------------------------------------------------------

def test_an_existing_submission_is_kept_unless_overwrite(tmp_path, course, untouched):
    """Never silently overwrite: kept by default, replaced (and said so) with overwrite;
    identical files are merely found again, and that is a success."""
    earlier = _dest(course, "1001")
    earlier.parent.mkdir(parents=True)
    earlier.write_bytes(_notebook("collected last week"))
    (earlier.parent / "timestamp.txt").write_text("2024-02-01 10:00:00")
    source = _zip(tmp_path / "a.zip", {"alice_1001_2001_activations.ipynb": _notebook("new")})

    with untouched():
        kept = collect(course, ASSIGNMENT, source)
    assert kept.collected == [] and _statuses(kept) == {"1001": "kept"}
    assert kept.skipped == [("1001", f"submitted/1001/{ASSIGNMENT}/activations.ipynb already "
                                     "exists and was left alone (alice_1001_2001_activations."
                                     "ipynb differs from it); collect again with overwrite to "
                                     "replace it")]
    assert earlier.read_bytes() == _notebook("collected last week")
    assert kept.status() == 1

    with untouched():
        replaced = collect(course, ASSIGNMENT, source, overwrite=True)
    assert replaced.collected == [("1001", earlier)]
    assert _why(replaced) == {"1001": "replaced the submission that was there; its "
                                      "timestamp.txt is the earlier submission's"}
    assert earlier.read_bytes() == _notebook("new")
    assert sorted(p.name for p in earlier.parent.iterdir()) == ["activations.ipynb",
                                                                "timestamp.txt"]
    assert replaced.status() == 0

    for overwrite in (True, False):
        with untouched():
            again = collect(course, ASSIGNMENT, source, overwrite=overwrite)
        assert again.collected == [] and _statuses(again) == {"1001": "unchanged"}
        assert again.skipped == [("1001", f"already collected: submitted/1001/{ASSIGNMENT}/"
                                          "activations.ipynb holds the same file as "
                                          "alice_1001_2001_activations.ipynb")]
        assert again.status() == 0
        assert "Already collected, the same file (nothing to do):" in again.summary()


def test_malformed_and_empty_notebooks_are_collected_byte_for_byte(tmp_path, course):
    """A notebook that does not parse is collected as it is: grading reports it."""
    members = {"ivy_1009_2009_activations.ipynb": b'{"cells": [ not json',
               "jon_1010_2010_activations.ipynb": b"",
               "kit_1011_2011_activations.ipynb": b"[" * 100_000 + b"]" * 100_000}
    report = collect(course, ASSIGNMENT, _zip(tmp_path / "m.zip", members))

    assert [s for s, _ in report.collected] == ["1009", "1010", "1011"]
    assert _dest(course, "1009").read_bytes() == b'{"cells": [ not json'
    assert _dest(course, "1010").read_bytes() == b""
    assert set(_why(report).values()) == {"the only notebook it sent"}


def test_unreadable_entries_are_reported_and_nothing_half_written(tmp_path, course, untouched):
    """A password-protected entry and a damaged one skip their students, leaving no
    partial file and no empty folder behind."""
    source = _zip(tmp_path / "bad.zip", {"kai_1011_2011_activations.ipynb": _notebook("kai"),
                                         "lea_1012_2012_activations.ipynb": _notebook("lea")})
    data = bytearray(source.read_bytes())
    # kai's entry comes first: set "encrypted" (flag bit 0) in its local and central headers
    local, central = data.index(b"PK\3\4"), data.index(b"PK\1\2")
    data[local + 6] |= 1
    data[central + 8] |= 1
    # lea's notebook: change a byte so its CRC no longer matches
    at = data.index(b'"lea"')  # in the notebook's text, not in the file name
    data[at:at + 5] = b'"LEA"'
    source.write_bytes(bytes(data))

    with untouched():
        report = collect(course, ASSIGNMENT, source)

    protected = "cannot be read: it is password-protected in the zip"
    assert report.collected == []
    assert report.unmatched == [("kai_1011_2011_activations.ipynb", protected)]
    assert _statuses(report) == {"1011": "skipped", "1012": "skipped"}
    assert report.decisions["1011"].why == f"could not read kai_1011_2011_activations.ipynb: {protected}"
    assert report.decisions["1012"].why.startswith(
        "could not copy lea_1012_2012_activations.ipynb: ")
    assert "CRC" in report.decisions["1012"].why
    assert not (course / "submitted").exists()
    assert report.status() == 1


def test_ids_differing_only_in_case_are_not_merged(tmp_path, course, untouched):
    """Alice and alice would share a folder on macOS or Windows: the second is skipped."""
    members = {"Alice/activations.ipynb": _notebook("Alice"),
               "alice/activations.ipynb": _notebook("alice")}
    source = _zip(tmp_path / "c.zip", members)
    with untouched():
        report = collect(course, ASSIGNMENT, source)

    assert report.collected == [("Alice", _dest(course, "Alice"))]
    assert report.skipped == [("alice", "its id differs from Alice's only in upper and lower "
                                        "case; rename one and collect again")]
    assert report.unmatched == [("alice/activations.ipynb", "from alice, who was skipped")]


# --- downloads refused as a whole -------------------------------------------------------------

@pytest.mark.parametrize("name", ["../evil.ipynb", "/tmp/evil.ipynb", "alice/../../evil.ipynb",
                                  "..\\evil.ipynb", "C:/evil.ipynb"])
def test_a_zip_slip_refuses_the_whole_zip(tmp_path, course, name):
    """A path leading outside the unpack folder: the whole zip is refused, nothing written."""
    source = _zip(tmp_path / "slip.zip", {"alice_1001_2001_activations.ipynb": _notebook("a"),
                                          name: _notebook("evil")})
    before = _files(tmp_path, skip=[course / "reports"])
    with pytest.raises(CollectError, match="zip slip.*whole zip is refused and nothing was written"):
        collect(course, ASSIGNMENT, source)
    assert _files(tmp_path, skip=[course / "reports"]) == before
    assert not (course / "submitted").exists()
    assert "zip slip" in (course / RECORDS / "collect.txt").read_text()


def test_a_file_that_is_not_a_zip_is_refused(tmp_path, course):
    """A PDF or a tarball given as the download: a plain-words error."""
    source = tmp_path / "submissions.zip"
    source.write_bytes(b"%PDF-1.4 this is not a zip")
    with pytest.raises(CollectError, match=r"submissions.zip is not a zip file"):
        collect(course, ASSIGNMENT, source)
    assert not (course / "submitted").exists()


@pytest.mark.parametrize("kind", ["zip", "zip of folders", "folder"])
def test_an_empty_download_is_refused_and_logged(tmp_path, course, kind):
    """No files at all: an error, not an empty success; collect.txt says so."""
    if kind == "folder":
        source = tmp_path / "empty"
        source.mkdir()
    else:
        source = tmp_path / "empty.zip"
        with zipfile.ZipFile(source, "w") as archive:
            if kind == "zip of folders":
                archive.writestr("alice/", b"")
    with pytest.raises(CollectError, match="is empty: it holds no files") as error:
        collect(course, ASSIGNMENT, source)
    assert not (course / "submitted").exists()
    assert not (course / RECORDS / "collect.json").exists()
    log = (course / RECORDS / "collect.txt").read_text().splitlines()
    assert log[0].startswith("=== ")
    assert log[0].endswith(f": collect {source.name} (overwrite: no; roster: none) ===")
    assert log[1:] == [f"Nothing collected: {error.value}", ""]


def test_a_download_with_no_notebook_at_all_has_status_2(tmp_path, course):
    """Files but no notebook: reported (whose files they are), with exit status 2."""
    source = _zip(tmp_path / "scripts.zip", {"ann_1001_2001_activations.py": b"print(1)",
                                             "__MACOSX/._ann_1001_2001_x.ipynb": b"\0"})
    report = collect(course, ASSIGNMENT, source)
    assert report.notebooks == 0 and report.status() == 2
    assert _statuses(report) == {"1001": "no notebook"}
    assert report.summary().splitlines()[1] == (
        "The download scripts.zip holds no notebook (.ipynb) at all: is it the right download?")


def test_a_missing_source_or_assignment_is_refused(tmp_path, course):
    """Typos in the command line get a plain-words error naming what is missing, and
    the command that fixes it."""
    with pytest.raises(CollectError, match="does not exist"):
        collect(course, ASSIGNMENT, tmp_path / "nope.zip")
    source = _zip(tmp_path / "a.zip", {"alice/activations.ipynb": _notebook("a")})
    with pytest.raises(CollectError) as error:
        collect(course, "01_activation", source)
    assert "01_activation has no released notebook" in str(error.value)
    assert "the released assignments are 01_activations, 03_losses" in str(error.value)
    assert "release it first (nncourse release 01_activation)" in str(error.value)
    assert not (course / "reports" / "01_activation").exists()
    with pytest.raises(CollectError, match="not an assignment name"):
        collect(course, "../01_activations", source)
    with pytest.raises(CollectError, match="overlaps nbgrader's"):
        collect(course, ASSIGNMENT, course)


def test_a_zip_too_big_to_unpack_is_refused(tmp_path, course, monkeypatch):
    """Notebooks declaring more than MAX_UNPACKED_BYTES: refused before writing anything."""
    monkeypatch.setattr(collect_module, "MAX_UNPACKED_BYTES", 1000)
    source = _zip(tmp_path / "big.zip", {"alice/activations.ipynb": b" " * 600,
                                         "bob/activations.ipynb": b" " * 600,
                                         "video.mp4": b" " * 5000})
    with pytest.raises(CollectError, match="would unpack to .* more than the .* limit"):
        collect(course, ASSIGNMENT, source)
    assert not (course / "submitted").exists()


def test_names_not_in_utf8_are_read_or_reported(tmp_path, course, untouched):
    """A legacy code page in the zip: the student id is used when it can be read."""
    placeholders = {
        # Moodle: the id is the number, so an unreadable full name does not matter
        "Jos? Garc?a_502_assignsubmission_file_/activations.ipynb": "José García".encode("cp1252"),
        # Canvas: neither does an unreadable name part
        "j?rgen_1006_2006_activations.ipynb": "jürgen".encode("cp1252"),
        # UTF-8 without the zip's UTF-8 flag, as macOS and Linux tools write it
        "zo??/activations.ipynb": "zoë".encode(),
        # a folder named in a legacy code page: that name is the id, unreadable
        "m?ller/activations.ipynb": "müller".encode("cp1252"),
    }
    source = _zip(tmp_path / "legacy.zip", {name: _notebook("x = 1") for name in placeholders})
    data = source.read_bytes()
    for name, raw in placeholders.items():
        stem = name.split("_")[0].split("/")[0].encode()
        assert len(stem) == len(raw)
        data = data.replace(stem, raw)
    source.write_bytes(data)

    with untouched():
        report = collect(course, ASSIGNMENT, source)

    assert [s for s, _ in report.collected] == ["1006", "502", "zoë"]
    unknown = "the zip stored its name in an unknown encoding"
    assert _why(report) == {"1006": unknown, "502": unknown, "zoë": "the only notebook it sent"}
    assert report.decisions["502"].name is None  # not a name with "\ufffd" in it
    assert report.unmatched == [(
        "m\ufffdller/activations.ipynb",
        "could not tell which student this is: the zip stored its name in an unknown encoding "
        "(not UTF-8), so the student's name cannot be read")]


def test_a_folder_wrapping_everything_is_looked_inside(tmp_path, course, untouched):
    """The Finder's "Compress submissions" puts everything under submissions/."""
    members = {"submissions/alice/activations.ipynb": _notebook("alice"),
               "submissions/bob.ipynb": _notebook("bob"),
               "__MACOSX/submissions/._bob.ipynb": b"\0"}
    source = _zip(tmp_path / "submissions.zip", members)
    with untouched():
        report = collect(course, ASSIGNMENT, source)

    assert report.collected == [("alice", _dest(course, "alice")), ("bob", _dest(course, "bob"))]
    assert [name for name, _ in report.unmatched] == ["__MACOSX/submissions/._bob.ipynb"]


def test_report_defaults_and_summary_of_nothing():
    """An empty report is valid and says so."""
    assert CollectReport(assignment="x").summary() == (
        "x: collected 0 submissions, skipped 0 students, 0 files not collected.\n"
        "The download holds no notebook (.ipynb) at all: is it the right download?")
    assert CollectReport(assignment="x").status() == 2


def test_names_from_the_download_are_shown_on_one_line(tmp_path, course, untouched):
    """A file named like a line of the summary (a newline, a terminal escape) is quoted."""
    forged = "x\n  alice: submitted/alice/01_activations/activations.ipynb\x1b[2J.ipynb"
    source = _zip(tmp_path / "forged.zip", {"bob/activations.ipynb": _notebook("b"),
                                            forged: _notebook("x")})
    report = collect(course, ASSIGNMENT, source)
    lines = report.summary().splitlines()
    assert not any(line.lstrip().startswith("alice") for line in lines)
    assert "\x1b" not in report.summary()
    assert [student for student, _ in report.collected] == ["bob"]
    assert any(line.startswith("  " + repr(forged)[:20]) for line in lines), lines
    log = (course / RECORDS / "collect.txt").read_text()
    assert "\x1b" not in log


# --- the downloads: one of Canvas, one of Moodle ---------------------------------------

def test_a_canvas_download_one_student_per_id_newest_upload_late_marks_kept(
        tmp_path, course, untouched):
    """Two students of one name, a re-upload, lower-case LATE, a .py alone, another
    assignment's notebook: each gets the decision it calls for, written down."""
    losses = LOSSES.read_bytes()
    members = {
        "smithjane_12345_201_activations.ipynb": _notebook("jane smith"),
        "smithjane_99999_202_activations.ipynb": _notebook("the other jane smith"),
        # the re-upload: Canvas adds -1 to the name; the older file's name is exact
        "garciamaria_11111_301_activations.ipynb": _notebook("maria, first"),
        "garciamaria_11111_302_activations-1.ipynb": _notebook("maria, re-uploaded"),
        "leekim_late_22222_401_activations.ipynb": _notebook("kim"),
        "ngtom_Late_33333_501_Untitled.ipynb": _notebook("tom"),
        "pyonly_44444_601_activations.py": b"def relu(x): ...\n",
        "wrongnb_55555_701_losses.ipynb": losses,
    }
    # Canvas stamps the whole zip with one date; the older upload's is later here, so
    # only the attachment id can pick the re-upload
    dates = {"garciamaria_11111_301_activations.ipynb": (2024, 3, 9, 9, 0, 0)}
    source = _zip(tmp_path / "submissions.zip", members, dates)
    with untouched():
        report = collect(course, ASSIGNMENT, source)

    assert _statuses(report) == {"11111": "collected", "12345": "collected",
                                 "22222": "collected", "33333": "collected",
                                 "44444": "no notebook", "55555": "refused",
                                 "99999": "collected"}
    for student, text in [("12345", "jane smith"), ("99999", "the other jane smith"),
                          ("11111", "maria, re-uploaded"), ("22222", "kim"), ("33333", "tom")]:
        assert _dest(course, student).read_bytes() == _notebook(text)
    assert sorted(p.parent.parent.name for p in (course / "submitted").rglob("*.ipynb")) == [
        "11111", "12345", "22222", "33333", "99999"]
    assert {s: d.name for s, d in report.decisions.items()} == {
        "11111": "garciamaria", "12345": "smithjane", "22222": "leekim", "33333": "ngtom",
        "44444": "pyonly", "55555": "wrongnb", "99999": "smithjane"}
    assert {s for s, d in report.decisions.items() if d.late} == {"22222", "33333"}
    maria = ("the newest upload named like activations.ipynb (Canvas numbered it 302, "
             "after 301)")
    assert _why(report) == {
        "11111": f"chosen from 2 notebooks: {maria}; renamed from activations-1.ipynb",
        "12345": "the only notebook it sent",
        "22222": "the only notebook it sent",
        "33333": "renamed from Untitled.ipynb",
        "44444": "sent only activations.py (not a notebook)",
        "55555": "this is 03_losses's notebook (losses.ipynb), not 01_activations's: "
                 "nothing collected for this student",
        "99999": "the only notebook it sent"}
    assert report.decisions["55555"].source == "wrongnb_55555_701_losses.ipynb"
    assert report.unmatched == [
        ("garciamaria_11111_301_activations.ipynb", "11111 sent 2 notebooks; garciamaria_11111"
                                                    f"_302_activations-1.ipynb was chosen: {maria}"),
        ("pyonly_44444_601_activations.py", "not a notebook (.py); only .ipynb files are collected"),
        ("wrongnb_55555_701_losses.ipynb", "this is 03_losses's notebook (losses.ipynb), not "
                                           "01_activations's"),
    ]
    assert report.status() == 1

    lines = report.summary().splitlines()
    assert lines[0] == (f"{ASSIGNMENT}: collected 5 submissions, skipped 2 students, "
                        "3 files not collected.")
    assert (f"  22222 (leekim): submitted/22222/{ASSIGNMENT}/activations.ipynb "
            "(from leekim_late_22222_401_activations.ipynb; LATE)") in lines
    assert "  44444 (pyonly): no notebook: sent only activations.py (not a notebook)" in lines
    assert ("  55555 (wrongnb): refused: this is 03_losses's notebook (losses.ipynb), not "
            "01_activations's: nothing collected for this student") in lines

    # what collect decided is kept: the log, the decisions, the gradebook's students
    log = (course / RECORDS / "collect.txt").read_text()
    assert log.splitlines()[0] == (f"=== {report.when}: collect submissions.zip "
                                   "(overwrite: no; roster: none) ===")
    assert log == log.splitlines()[0] + "\n" + report.summary() + "\n\n"
    assert decisions(course, ASSIGNMENT) == report.decisions
    assert _students(course) == {
        "11111": (None, "garciamaria", None), "12345": (None, "smithjane", None),
        "22222": (None, "leekim", None), "33333": (None, "ngtom", None),
        "44444": (None, "pyonly", None), "55555": (None, "wrongnb", None),
        "99999": (None, "smithjane", None)}
    # nbgrader itself finds the submissions where collect put them
    assert Course(course).api.get_submitted_students(ASSIGNMENT) == {
        "11111", "12345", "22222", "33333", "99999"}


def test_a_moodle_download_one_student_per_participant_id(tmp_path, course, untouched):
    """The same cases from Moodle: participant ids, full names, the newest by date."""
    members = {
        "Jane Smith_501_assignsubmission_file_/activations.ipynb": _notebook("jane"),
        "Jane Smith_502_assignsubmission_file_/activations.ipynb": _notebook("other jane"),
        "María García_503_assignsubmission_file_/activations.ipynb": _notebook("maria, 1"),
        "María García_503_assignsubmission_file_/activations (1).ipynb": _notebook("maria, 2"),
        "Tom Ng_504_assignsubmission_file_/activations.py": b"def relu(x): ...\n",
        "Kim Lee_505_assignsubmission_file_/losses.ipynb": LOSSES.read_bytes(),
        "Ann Bo_506_assignsubmission_onlinetext_/onlinetext.html": b"<p>see attached</p>",
    }
    dates = {"María García_503_assignsubmission_file_/activations.ipynb": (2024, 3, 1, 9, 0, 0),
             "María García_503_assignsubmission_file_/activations (1).ipynb":
                 (2024, 3, 2, 9, 0, 0)}
    source = _zip(tmp_path / "moodle.zip", members, dates)
    with untouched():
        report = collect(course, ASSIGNMENT, source)

    assert _statuses(report) == {"501": "collected", "502": "collected", "503": "collected",
                                 "504": "no notebook", "505": "refused", "506": "no notebook"}
    assert _dest(course, "503").read_bytes() == _notebook("maria, 2")
    assert report.decisions["503"].why == (
        "chosen from 2 notebooks: the newest named like activations.ipynb, by the date the "
        "download gives (2024-03-02 09:00:00); renamed from activations (1).ipynb")
    assert report.decisions["506"].why == "sent only onlinetext.html (not a notebook)"
    assert report.decisions["505"].why.startswith("this is 03_losses's notebook (losses.ipynb)")
    assert _students(course)["503"] == ("María", "García", None)
    assert _students(course)["501"] == ("Jane", "Smith", None)
    assert report.status() == 1


def test_a_notebook_without_nbgrader_cells_is_collected_with_a_note(tmp_path, course):
    """No grade_id at all (rebuilt by hand, exported elsewhere): collected, and said so;
    ids of no released assignment, or only those all the notebooks share: the same."""
    source = _zip(tmp_path / "n.zip", {
        "ann_1001_2001_activations.ipynb": _notebook("rebuilt", grade_id=None),
        "bob_1002_2002_activations.ipynb": _notebook("old ids", grade_id="relu_2023"),
        "cy_1003_2003_activations.ipynb": _notebook("import numpy", grade_id="setup")})
    report = collect(course, ASSIGNMENT, source)
    assert _statuses(report) == {"1001": "collected", "1002": "collected",
                                 "1003": "collected"}
    others = ("none of its nbgrader cells (grade_id) is 01_activations's alone: grading "
              "matches its cells by their content")
    assert _why(report) == {
        "1001": "it has no nbgrader cells (no grade_id): grading matches its cells by their "
                "content",
        "1002": others, "1003": others}  # "setup" is in every notebook
    assert report.status() == 0


def test_another_assignments_notebook_is_refused_beside_the_right_one(tmp_path, course):
    """A student who sent both notebooks: this one's is collected, the other reported."""
    source = _zip(tmp_path / "b.zip", {
        "ann_1001_2001_activations.ipynb": RELEASE.read_bytes(),
        "ann_1001_2002_losses.ipynb": LOSSES.read_bytes()})
    report = collect(course, ASSIGNMENT, source)
    assert _statuses(report) == {"1001": "collected"}
    assert _why(report) == {"1001": "the only notebook it sent"}
    assert report.unmatched == [("ann_1001_2002_losses.ipynb", "this is 03_losses's notebook "
                                                               "(losses.ipynb), not 01_activations's")]
    assert report.status() == 0


# --- rosters ----------------------------------------------------------------------------------

CANVAS_ROSTER = (
    "\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Assignment 1 (1234)\n"
    "    Points Possible,,,,,26.00\n"
    '"Smith, Jane",12345,S-001,jsmith,Section A,\n'
    '"Smith, Jane",99999,S-002,jsmith2,Section B,\n'
    '"García, María",11111,S-003,mgarcia,Section A,\n'
    '"Lee, Kim",22222,,klee,Section A,\n'
    '"Student, Test",77777,,,Section A,\n')


def test_a_canvas_roster_names_everyone_and_finds_who_sent_nothing(tmp_path, course):
    """Canvas's gradebook export: its names (not the download's), SIS ids; its students
    who sent nothing; a student not on it; the Points Possible and test student rows."""
    roster = _roster(tmp_path / "Grades-NN.csv", CANVAS_ROSTER)
    source = _zip(tmp_path / "submissions.zip", {
        "smithjane_12345_201_activations.ipynb": _notebook("jane"),
        "smithjane_99999_202_activations.ipynb": _notebook("other jane"),
        "newcomer_88888_203_activations.ipynb": _notebook("joined late")})
    report = collect(course, ASSIGNMENT, source, roster=roster)

    assert _statuses(report) == {"11111": "no submission", "12345": "collected",
                                 "22222": "no submission", "88888": "collected",
                                 "99999": "collected"}
    assert report.decisions["12345"] == StudentDecision(
        student="12345", name="Smith, Jane", sis_id="S-001", email=None, status="collected",
        source="smithjane_12345_201_activations.ipynb", late=False,
        why="the only notebook it sent", when=report.when, download="submissions.zip")
    assert report.decisions["88888"].why == "the only notebook it sent; not on the roster"
    assert report.decisions["88888"].name == "newcomer"
    assert report.decisions["11111"].why == "on the roster; nothing from them in submissions.zip"
    assert report.status() == 0  # who sent nothing is not a decision about the download
    lines = report.summary().splitlines()
    assert lines[lines.index("On the roster, nothing in this download:") + 1:][:2] == [
        "  11111 (García, María)", "  22222 (Lee, Kim)"]
    assert _students(course) == {
        "11111": ("María", "García", None), "12345": ("Jane", "Smith", None),
        "22222": ("Kim", "Lee", None), "88888": (None, "newcomer", None),
        "99999": ("Jane", "Smith", None)}
    log = (course / RECORDS / "collect.txt").read_text()
    assert "(overwrite: no; roster: Grades-NN.csv) ===" in log.splitlines()[0]


def test_a_moodle_worksheet_and_a_plain_roster(tmp_path, course):
    """Moodle's grading worksheet (Participant ids, emails) and a plain id,name,email CSV,
    with odd case, spaces, a BOM, semicolons, Windows' code page."""
    moodle = _roster(tmp_path / "worksheet.csv", (
        "\ufeffIdentifier,Full name,Email address,Status,Grade,Maximum Grade\n"
        "Participant 501,Jane Smith,jane@uni.example,Submitted,,26\n"
        "Participant 502,Jane Smith,jane2@uni.example,Submitted,,26\n"
        "Participant 509,Zoë Ng,zoe@uni.example,No submission,,26\n"))
    source = _zip(tmp_path / "moodle.zip", {
        "Jane Smith_501_assignsubmission_file_/activations.ipynb": _notebook("jane"),
        "Jane Smith_502_assignsubmission_file_/activations.ipynb": _notebook("other")})
    report = collect(course, ASSIGNMENT, source, roster=moodle)
    assert _statuses(report) == {"501": "collected", "502": "collected", "509": "no submission"}
    assert report.decisions["502"].email == "jane2@uni.example"
    assert _students(course)["509"] == ("Zoë", "Ng", "zoe@uni.example")

    plain = _roster(tmp_path / "class.csv", " ID ; Name ;E-mail\r\nalice;Alice Liddell;\r\n"
                                            "bob;Bob Stone;\r\n", encoding="cp1252")
    folder = tmp_path / "folder"
    (folder / "alice").mkdir(parents=True)
    (folder / "alice" / "activations.ipynb").write_bytes(_notebook("alice"))
    report = collect(course, ASSIGNMENT, folder, roster=plain)
    assert _statuses(report) == {"alice": "collected", "bob": "no submission"}
    assert report.decisions["alice"].name == "Alice Liddell"


@pytest.mark.parametrize("text", ["Name,Login,Grade\nJane,jsmith,3\n", "", "Student\n"])
def test_a_roster_of_no_known_kind_is_refused_naming_the_columns(tmp_path, course, text):
    """A roster collect cannot read: an error before anything is written, listing the
    columns it expected."""
    roster = _roster(tmp_path / "roster.csv", text)
    source = _zip(tmp_path / "a.zip", {"alice/activations.ipynb": _notebook("a")})
    with pytest.raises(CollectError) as error:
        collect(course, ASSIGNMENT, source, roster=roster)
    message = str(error.value)
    assert message.startswith("the roster roster.csv is not a Canvas gradebook export "
                              "(columns Student, ID, SIS User ID, ...)")
    assert "Identifier, Full name, Email address" in message and "(columns id, name" in message
    if text:
        assert message.endswith(f"its columns are {text.splitlines()[0].replace(',', ', ')}")
    assert not (course / "submitted").exists()


def test_a_roster_with_a_bad_id_or_two_students_of_one_id_is_refused(tmp_path, course):
    source = _zip(tmp_path / "a.zip", {"alice/activations.ipynb": _notebook("a")})
    bad = _roster(tmp_path / "bad.csv", "id,name\nalice,Alice\n../x,Mallory\n")
    with pytest.raises(CollectError, match="line 3 of the roster bad.csv: ../x is not a student id"):
        collect(course, ASSIGNMENT, source, roster=bad)
    twice = _roster(tmp_path / "twice.csv", "id,name\nalice,Alice\nbob,Bob\nalice,Alicia\n")
    with pytest.raises(CollectError, match=r"gives id alice twice, differently \(lines 2 and 4\)"):
        collect(course, ASSIGNMENT, source, roster=twice)
    with pytest.raises(CollectError, match="cannot read the roster"):
        collect(course, ASSIGNMENT, source, roster=tmp_path / "nope.csv")


def test_the_roster_names_replace_the_downloads_never_the_reverse(tmp_path, course):
    """A name set in the gradebook is kept against the download's squashed name, and
    replaced by the roster's."""
    with Course(course).gradebook() as gb:
        gb.update_or_create_student("12345", first_name="Janet", last_name="Smith")
    source = _zip(tmp_path / "s.zip", {"smithjane_12345_201_activations.ipynb": _notebook("j")})
    collect(course, ASSIGNMENT, source)
    assert _students(course)["12345"] == ("Janet", "Smith", None)
    collect(course, ASSIGNMENT, source, roster=_roster(tmp_path / "r.csv", CANVAS_ROSTER))
    assert _students(course)["12345"] == ("Jane", "Smith", None)


def test_collect_makes_the_gradebook_when_there_is_none(tmp_path, course):
    """The first command of a term may be collect: nbgrader's gradebook is made for it."""
    (course / "gradebook.db").unlink()
    source = _zip(tmp_path / "s.zip", {"Jane Doe_501_assignsubmission_file_/a.ipynb":
                                       _notebook("j")})
    report = collect(course, ASSIGNMENT, source)
    assert report.problems == [] and report.status() == 0
    assert _students(course) == {"501": ("Jane", "Doe", None)}


def test_a_gradebook_that_cannot_be_written_is_reported(tmp_path, course):
    """The notebooks are collected; the instructor is told the names are not in the
    gradebook, and the status says so."""
    (course / "gradebook.db").unlink()
    (course / "gradebook.db").mkdir()  # sqlite cannot open a folder
    source = _zip(tmp_path / "s.zip", {"alice/activations.ipynb": _notebook("a")})
    report = collect(course, ASSIGNMENT, source)
    assert _statuses(report) == {"alice": "collected"} and _dest(course, "alice").exists()
    assert len(report.problems) == 1
    assert report.problems[0].startswith("the students were not written to the gradebook (")
    assert report.status() == 1
    assert "Problems:" in report.summary()


# --- the record of every run ------------------------------------------------------------------

def test_runs_are_merged_no_submission_never_erases_a_student(tmp_path, course):
    """The on-time zip, then the late zip with the roster, then the on-time zip again:
    each student keeps the decision about what they sent, LATE marks stay, the log grows."""
    roster = _roster(tmp_path / "r.csv", "id,name\n1001,Ann Bo\n1002,Cy Do\n1003,Ed Fu\n")
    on_time = _zip(tmp_path / "on_time.zip", {
        "boann_1001_2001_activations.ipynb": _notebook("ann"),
        "docy_LATE_1002_2002_activations.ipynb": _notebook("cy")})
    late = _zip(tmp_path / "late.zip", {"fued_late_1003_2003_activations.ipynb": _notebook("ed")})

    first = collect(course, ASSIGNMENT, on_time, roster=roster)
    assert _statuses(first) == {"1001": "collected", "1002": "collected",
                                "1003": "no submission"}
    second = collect(course, ASSIGNMENT, late, roster=roster)
    assert _statuses(second) == {"1001": "no submission", "1002": "no submission",
                                 "1003": "collected"}
    kept = decisions(course, ASSIGNMENT)
    assert {s: (d.status, d.download, d.late) for s, d in kept.items()} == {
        "1001": ("collected", "on_time.zip", False), "1002": ("collected", "on_time.zip", True),
        "1003": ("collected", "late.zip", True)}
    assert kept["1001"] == first.decisions["1001"]

    # the on-time zip again, without its LATE marks (an LMS may drop them): still LATE
    again = _zip(tmp_path / "again.zip", {
        "boann_1001_2001_activations.ipynb": _notebook("ann"),
        "docy_1002_2002_activations.ipynb": _notebook("cy")})
    third = collect(course, ASSIGNMENT, again)
    assert _statuses(third) == {"1001": "unchanged", "1002": "unchanged"}
    assert third.decisions["1002"].late is False
    kept = decisions(course, ASSIGNMENT)
    assert {s: (d.status, d.download, d.late) for s, d in kept.items()} == {
        "1001": ("unchanged", "again.zip", False), "1002": ("unchanged", "again.zip", True),
        "1003": ("collected", "late.zip", True)}
    assert kept["1001"].name == "Ann Bo"  # the roster's, as the gradebook has it

    log = (course / RECORDS / "collect.txt").read_text()
    headers = [line for line in log.splitlines() if line.startswith("=== ")]
    assert [h.split(": collect ")[1] for h in headers] == [
        "on_time.zip (overwrite: no; roster: r.csv) ===",
        "late.zip (overwrite: no; roster: r.csv) ===",
        "again.zip (overwrite: no; roster: none) ==="]
    assert log.count(first.summary()) == 1 and log.endswith(third.summary() + "\n\n")
    saved = json.loads((course / RECORDS / "collect.json").read_text())
    assert saved["assignment"] == ASSIGNMENT and list(saved["students"]) == ["1001", "1002",
                                                                            "1003"]
    assert not list((course / RECORDS).glob(".*"))  # no temporary file left


def test_decisions_of_an_assignment_never_collected_and_of_a_damaged_file(tmp_path, course):
    """Nothing collected yet: no decisions. A damaged record: a plain error, and collect
    refuses to run on it rather than lose it."""
    assert decisions(course, ASSIGNMENT) == {}
    record = course / RECORDS / "collect.json"
    record.parent.mkdir(parents=True)
    source = _zip(tmp_path / "a.zip", {"alice/activations.ipynb": _notebook("a")})
    for damaged in ('{"students": {"alice": {"status": "lost"}}}', "{not json", "[]",
                    '{"students": {"a": {"name": null, "sis_id": null, "email": null, '
                    '"status": "eaten", "source": null, "late": false, "why": "", '
                    '"when": "", "download": ""}}}'):
        record.write_text(damaged)
        with pytest.raises(CollectError, match=f"{record} is damaged"):
            decisions(course, ASSIGNMENT)
        with pytest.raises(CollectError, match="is damaged"):
            collect(course, ASSIGNMENT, source)
        assert record.read_text() == damaged
    assert not (course / "submitted").exists()
