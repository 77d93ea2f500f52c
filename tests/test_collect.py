"""Collecting an LMS download into nbgrader's submitted/ layout.

Each test builds a zip or a folder in tmp_path from small notebooks written with
nbformat, collects it into a minimal course (its config and one released
notebook), and checks exactly which files land where, the report's lines, and
that nothing but submitted/ changed. The last test collects a Canvas-style zip
into a real scratch course and runs the real ``nbgrader autograde`` on it.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest
from course_tools import ROOT, make_course, nbgrader
from nbgrader.api import Gradebook

from course_lib.grading import collect as collect_module
from course_lib.grading.collect import CollectError, CollectReport, collect

ASSIGNMENT = "01_activations"


def _notebook(text: str) -> bytes:
    """A small valid notebook whose one code cell is ``text``, so every student differs."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(text, id="answer")]  # a fixed id: same text, same bytes
    return nbformat.writes(nb).encode("utf-8")


def _zip(path: Path, members: dict[str, bytes], dates: dict[str, tuple] | None = None) -> Path:
    """Write ``members`` (name -> bytes) to the zip ``path``, with optional zip dates."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(dates or {}).get(name, (2024, 3, 1, 12, 0, 0)))
            archive.writestr(info, data)
    return path


def _files(root: Path, skip: Path | None = None) -> dict[str, bytes]:
    """Every file under ``root`` (but ``skip``), by relative path, with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not (skip and p.is_relative_to(skip))}


def _dest(course: Path, student: str) -> Path:
    return course / "submitted" / student / ASSIGNMENT / "activations.ipynb"


@pytest.fixture
def course(tmp_path):
    """A minimal course: the real nbgrader_config.py and a released activations notebook."""
    root = tmp_path / "course"
    (root / "notebooks" / ASSIGNMENT).mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", root)
    (root / "notebooks" / ASSIGNMENT / "activations.ipynb").write_bytes(_notebook("# release"))
    return root


@pytest.fixture
def untouched(tmp_path, course):
    """``with untouched(): collect(...)`` fails if anything but submitted/ changed inside,
    in the course or anywhere else in tmp_path (the download included)."""

    @contextmanager
    def check():
        before = _files(tmp_path, skip=course / "submitted")
        yield
        assert _files(tmp_path, skip=course / "submitted") == before

    return check


def test_canvas_zip_lands_in_nbgraders_layout(tmp_path, course, untouched):
    """Canvas names, LATE included; a renamed notebook is saved under the assignment's name."""
    members = {
        "alice_1001_2001_activations.ipynb": _notebook("alice"),
        "bob_LATE_1002_2002_Untitled.ipynb": _notebook("bob"),
        "carol_1003_2003_activations (1).ipynb": _notebook("carol"),
    }
    source = _zip(tmp_path / "submissions.zip", members)
    with untouched():
        report = collect(course, ASSIGNMENT, source)

    assert report.collected == [(s, _dest(course, s)) for s in ("alice", "bob", "carol")]
    assert report.unmatched == [] and report.skipped == []
    for (name, data), student in zip(members.items(), ("alice", "bob", "carol"), strict=True):
        assert _dest(course, student).read_bytes() == data, name
        assert report.sources[student] == name
    assert sorted(p.relative_to(course).as_posix() for p in (course / "submitted").rglob("*")
                  if p.is_file()) == [f"submitted/{s}/{ASSIGNMENT}/activations.ipynb"
                                      for s in ("alice", "bob", "carol")]
    assert report.notes == {"bob": ["renamed from Untitled.ipynb", "Canvas marked it LATE"],
                            "carol": ["renamed from activations (1).ipynb"]}
    lines = report.summary().splitlines()
    assert lines[0] == (f"{ASSIGNMENT}: collected 3 submissions, skipped 0 students, "
                        "0 files not collected.")
    assert (f"  alice: submitted/alice/{ASSIGNMENT}/activations.ipynb "
            "(from alice_1001_2001_activations.ipynb)") in lines
    assert (f"  bob: submitted/bob/{ASSIGNMENT}/activations.ipynb "
            "(from bob_LATE_1002_2002_Untitled.ipynb; renamed from Untitled.ipynb; "
            "Canvas marked it LATE)") in lines
    assert lines[-1].startswith("LATE marks are only reported here: no timestamp.txt")
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
    assert report.unmatched == [
        (".DS_Store", "folder settings saved by macOS or Windows, not a submission"),
        ("alice/.ipynb_checkpoints/activations-checkpoint.ipynb",
         "a Jupyter autosave checkpoint, not the submitted notebook"),
        ("carol/notes.pdf", "not a notebook (.pdf); only .ipynb files are collected"),
        ("mallory.ipynb", "a link: links are not followed, copy the file itself"),
    ]
    assert not (course / "submitted" / "mallory").exists()


def test_every_file_not_collected_is_reported_with_its_reason(tmp_path, course, untouched):
    """Junk, other file types and names that say no student are reported, never dropped."""
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
    assert report.collected == [] and report.skipped == []
    assert not (course / "submitted").exists()
    lines = report.summary().splitlines()
    assert lines[0] == f"{ASSIGNMENT}: collected 0 submissions, skipped 0 students, 9 files not collected."
    assert "  alice_1001_2001_report.pdf: not a notebook (.pdf); only .ipynb files are collected" in lines


def test_of_several_notebooks_the_best_named_is_collected(tmp_path, course, untouched):
    """alice sent her notebook and a scratch one: the notebook is collected, scratch reported."""
    members = {"alice/activations.ipynb": _notebook("alice"),
               "alice/scratch.ipynb": _notebook("scratch"),
               "alice_1001_2001_Activations-2.ipynb": _notebook("copy")}
    source = _zip(tmp_path / "s.zip", members)
    with untouched():
        report = collect(course, ASSIGNMENT, source)

    assert report.collected == [("alice", _dest(course, "alice"))]
    assert _dest(course, "alice").read_bytes() == _notebook("alice")
    why = "alice sent 3 notebooks; alice/activations.ipynb was chosen: its name is the closest to activations.ipynb"
    assert report.unmatched == [("alice/scratch.ipynb", why),
                                ("alice_1001_2001_Activations-2.ipynb", why)]
    assert report.notes == {"alice": ["chosen from 3 notebooks: its name is the closest to "
                                      "activations.ipynb"]}


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

    assert report.collected == [("dave", _dest(course, "dave")), ("frank", _dest(course, "frank"))]
    assert _dest(course, "dave").read_bytes() == _notebook("dave, later")
    assert _dest(course, "frank").read_bytes() == _notebook("frank, later")
    assert report.unmatched == [
        ("dave_1004_2004_activations.ipynb", "dave sent 2 notebooks; dave_1004_2010_activations."
         "ipynb was chosen: Canvas's file number says it was uploaded last"),
        ("frank/activations (1).ipynb", "frank sent 2 notebooks; frank/activations (2).ipynb "
         "was chosen: it is the newest by date (2024-03-02 09:00:00)"),
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

    assert report.collected == [("hal", _dest(course, "hal"))]
    assert not (course / "submitted" / "gina").exists()
    assert report.skipped == [("gina", "sent 2 notebooks (gina/activations (1).ipynb, "
                                       "gina/activations (2).ipynb) and nothing tells which one "
                                       f"to grade; copy the right one to submitted/gina/{ASSIGNMENT}"
                                       "/activations.ipynb")]
    assert report.unmatched == [
        (name, "one of 2 notebooks from gina; none was collected (see the skipped students)")
        for name in ("gina/activations (1).ipynb", "gina/activations (2).ipynb")]
    assert "Students skipped (nothing written for them):" in report.summary()


def test_an_existing_submission_is_kept_unless_overwrite(tmp_path, course, untouched):
    """Never silently overwrite: kept by default, replaced (and said so) with overwrite."""
    earlier = _dest(course, "alice")
    earlier.parent.mkdir(parents=True)
    earlier.write_bytes(_notebook("collected last week"))
    (earlier.parent / "timestamp.txt").write_text("2024-02-01 10:00:00")
    source = _zip(tmp_path / "a.zip", {"alice_1001_2001_activations.ipynb": _notebook("new")})

    with untouched():
        kept = collect(course, ASSIGNMENT, source)
    assert kept.collected == []
    assert kept.skipped == [("alice", f"submitted/alice/{ASSIGNMENT}/activations.ipynb already "
                                      "exists and was left alone (alice_1001_2001_activations."
                                      "ipynb differs from it); collect again with overwrite to "
                                      "replace it")]
    assert earlier.read_bytes() == _notebook("collected last week")

    with untouched():
        replaced = collect(course, ASSIGNMENT, source, overwrite=True)
    assert replaced.collected == [("alice", earlier)]
    assert replaced.notes == {"alice": ["replaced the submission that was there",
                                        "its timestamp.txt is the earlier submission's"]}
    assert earlier.read_bytes() == _notebook("new")
    assert sorted(p.name for p in earlier.parent.iterdir()) == ["activations.ipynb",
                                                                "timestamp.txt"]

    with untouched():
        again = collect(course, ASSIGNMENT, source, overwrite=True)
    assert again.collected == []
    assert again.skipped == [("alice", f"already collected: submitted/alice/{ASSIGNMENT}/"
                                       "activations.ipynb holds the same file as "
                                       "alice_1001_2001_activations.ipynb")]


def test_malformed_and_empty_notebooks_are_collected_byte_for_byte(tmp_path, course):
    """Notebooks are never parsed: grading reports a broken one, collecting keeps it."""
    members = {"ivy_1009_2009_activations.ipynb": b'{"cells": [ not json',
               "jon_1010_2010_activations.ipynb": b""}
    report = collect(course, ASSIGNMENT, _zip(tmp_path / "m.zip", members))

    assert [s for s, _ in report.collected] == ["ivy", "jon"]
    assert _dest(course, "ivy").read_bytes() == b'{"cells": [ not json'
    assert _dest(course, "jon").read_bytes() == b""


def test_unreadable_entries_are_reported_and_nothing_half_written(tmp_path, course, untouched):
    """A password-protected entry is reported; a damaged one skips its student, leaving
    no partial file and no empty folder behind."""
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

    assert report.collected == []
    assert report.unmatched == [("kai_1011_2011_activations.ipynb",
                                 "cannot be read: it is password-protected in the zip")]
    assert [(s, r.split(":")[0]) for s, r in report.skipped] == [
        ("lea", "could not copy lea_1012_2012_activations.ipynb")]
    assert "CRC" in report.skipped[0][1]
    assert not (course / "submitted").exists()


def test_ids_differing_only_in_case_are_not_merged(tmp_path, course, untouched):
    """Alice and alice would share a folder on macOS or Windows: the second is skipped."""
    members = {"Alice/activations.ipynb": _notebook("Alice"),
               "alice_1001_2001_activations.ipynb": _notebook("alice")}
    source = _zip(tmp_path / "c.zip", members)
    with untouched():
        report = collect(course, ASSIGNMENT, source)

    assert report.collected == [("Alice", _dest(course, "Alice"))]
    assert report.skipped == [("alice", "its id differs from Alice's only in upper and lower "
                                        "case; rename one and collect again")]
    assert report.unmatched == [("alice_1001_2001_activations.ipynb", "from alice, who was skipped")]


@pytest.mark.parametrize("name", ["../evil.ipynb", "/tmp/evil.ipynb", "alice/../../evil.ipynb",
                                  "..\\evil.ipynb", "C:/evil.ipynb"])
def test_a_zip_slip_refuses_the_whole_zip(tmp_path, course, name):
    """A path leading outside the unpack folder: the whole zip is refused, nothing written."""
    source = _zip(tmp_path / "slip.zip", {"alice_1001_2001_activations.ipynb": _notebook("a"),
                                          name: _notebook("evil")})
    before = _files(tmp_path)
    with pytest.raises(CollectError, match="zip slip.*whole zip is refused and nothing was written"):
        collect(course, ASSIGNMENT, source)
    assert _files(tmp_path) == before
    assert not (course / "submitted").exists()


def test_a_file_that_is_not_a_zip_is_refused(tmp_path, course):
    """A PDF or a tarball given as the download: a plain-words error."""
    source = tmp_path / "submissions.zip"
    source.write_bytes(b"%PDF-1.4 this is not a zip")
    with pytest.raises(CollectError, match=r"submissions.zip is not a zip file"):
        collect(course, ASSIGNMENT, source)
    assert not (course / "submitted").exists()


@pytest.mark.parametrize("kind", ["zip", "zip of folders", "folder"])
def test_an_empty_download_is_refused(tmp_path, course, kind):
    """No files at all: the instructor is told, rather than shown an empty report."""
    if kind == "folder":
        source = tmp_path / "empty"
        source.mkdir()
    else:
        source = tmp_path / "empty.zip"
        with zipfile.ZipFile(source, "w") as archive:
            if kind == "zip of folders":
                archive.writestr("alice/", b"")
    with pytest.raises(CollectError, match="is empty: it holds no files"):
        collect(course, ASSIGNMENT, source)


def test_a_missing_source_or_assignment_is_refused(tmp_path, course):
    """Typos in the command line get a plain-words error naming what is missing."""
    with pytest.raises(CollectError, match="does not exist"):
        collect(course, ASSIGNMENT, tmp_path / "nope.zip")
    source = _zip(tmp_path / "a.zip", {"alice/activations.ipynb": _notebook("a")})
    with pytest.raises(CollectError, match="01_activation has no released notebook"):
        collect(course, "01_activation", source)
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
        # Canvas: the login itself is unreadable
        "j?rgen_1006_2006_activations.ipynb": "jürgen".encode("cp1252"),
        # UTF-8 without the zip's UTF-8 flag, as macOS and Linux tools write it
        "zo??/activations.ipynb": "zoë".encode(),
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

    assert report.collected == [("502", _dest(course, "502")), ("zoë", _dest(course, "zoë"))]
    assert report.notes == {"502": ["the zip stored its name in an unknown encoding"]}
    assert report.unmatched == [(
        "j\ufffdrgen_1006_2006_activations.ipynb",
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
        "x: collected 0 submissions, skipped 0 students, 0 files not collected.")


def test_collected_canvas_zip_is_autograded_by_real_nbgrader(tmp_path):
    """End to end: a Canvas zip collected into a scratch course, then `nbgrader autograde`."""
    course = make_course(tmp_path / "course", [ASSIGNMENT])
    release = (course / "notebooks" / ASSIGNMENT / "activations.ipynb").read_bytes()
    source = _zip(tmp_path / "submissions.zip", {
        "alice_1001_2001_activations.ipynb": release,
        "bob_LATE_1002_2002_Untitled.ipynb": release,
        "bob_LATE_1002_2002_notes.pdf": b"%PDF",
    })
    report = collect(course, ASSIGNMENT, source)
    assert [s for s, _ in report.collected] == ["alice", "bob"]
    assert report.unmatched == [("bob_LATE_1002_2002_notes.pdf",
                                 "not a notebook (.pdf); only .ipynb files are collected")]

    nbgrader(course, "autograde", ASSIGNMENT)

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        assert sorted(s.id for s in gb.students) == ["alice", "bob"]
        for student in ("alice", "bob"):
            submission = gb.find_submission(ASSIGNMENT, student)
            assert submission.max_score > 0
    for student in ("alice", "bob"):
        assert (course / "autograded" / student / ASSIGNMENT / "activations.ipynb").is_file()


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
