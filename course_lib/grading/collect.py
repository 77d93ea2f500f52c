"""Put every submission of one assignment, downloaded from an LMS, where nbgrader grades it.

``collect(course_root, "01_activations", Path("submissions.zip"))`` reads a zip (or a
folder) of students' files and writes each student's notebook to nbgrader's layout,
``submitted/<student_id>/01_activations/activations.ipynb``, ready for
``nbgrader autograde 01_activations``. It returns a :class:`CollectReport` whose
``summary()`` tells the instructor, in plain words, what was decided for each student
and why, and every file that was not collected and why: nothing in the download is
dropped without a line in the report.

File names it recognises (the path inside the zip or the folder; the first pattern
that fits wins):

=====================  =================================================================  ===============
LMS                    path                                                               student id
=====================  =================================================================  ===============
Moodle, in folders     ``<Full Name>_<digits>_assignsubmission_file_/<any>.ipynb``        the digits
                       (the file may sit in sub-folders of the student's folder)          (participant id)
Moodle, flat           ``<Full Name>_<digits>_assignsubmission_file_<any>.ipynb``         the digits
Canvas                 ``<name>_<user id>_<attachment id>_<any>.ipynb``                   the user id
Canvas, late           ``<name>_LATE_<user id>_<attachment id>_<any>.ipynb`` (any case)   the user id
a folder per student   ``<student_id>/<any>.ipynb``                                       the folder
a file per student     ``<student_id>.ipynb``                                             the file name
=====================  =================================================================  ===============

A student's identity is the LMS's id, never the name: two students whose names Canvas
squashes to the same ``smithjane`` stay two students. The name (Moodle's full name,
Canvas's name part) is kept as a hint, and written to nbgrader's gradebook when the
student has no name there yet. The same patterns, for any file type, tell whose other
files are (Moodle's ``assignsubmission_onlinetext_`` folders included), so a student
who sent only a ``.py`` is reported as such ("no notebook"). The LMS patterns also
match below other folders, so a download that was unzipped and zipped again still
works. A zip or folder whose files all sit in one folder named like the zip, the
folder or the assignment (what "Compress" in the macOS Finder or Windows Explorer
makes) is read from inside that folder.

A student id is letters, digits and ``. _ - @ +``, starting with a letter or digit.
Whatever the student named the notebook (``activations (1).ipynb``, ``Untitled.ipynb``),
it is saved under the assignment's notebook name. When one student sent several
notebooks:

1. a notebook of another released assignment (it carries that assignment's nbgrader
   cell ids, ``grade_id``, and none of this one's) is refused, by name;
2. of the rest, those named like the assignment's notebook but for case or a copy
   suffix (``activations-1.ipynb``: Canvas's name for a re-upload), or if none is,
   those with the closest name, are kept;
3. of those the newest wins: by Canvas's attachment id (Canvas numbers uploads in
   order), else by the date the zip or the folder records. When nothing tells them
   apart, none is collected and the student is reported.

The reason for the choice is written down. A submission already in ``submitted/`` is
never replaced unless ``overwrite=True``, and then the report says so. The notebooks
are copied byte for byte and never run; they are only read (up to
:data:`MAX_READ_BYTES`) for their cell ids. A notebook that does not parse is
collected as it is, and grading reports it.

Optionally a roster (``roster=``: Canvas's gradebook export, Moodle's grading
worksheet or participants list, or a CSV ``id,name[,email]``) names the students:
the names go to the gradebook, rostered students who sent nothing are reported
("no submission"), and a submitting id not on the roster is collected and noted.

Every run leaves a record, for the instructor and for the steps after it:
``reports/<assignment>/collect.txt`` gets the run's summary appended (a failed run
too, with its reason), and ``reports/<assignment>/collect.json`` holds the latest
decision for each student (see :func:`decisions`), merged across runs: a second zip
of late submissions adds to the first, it does not erase it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from nbgrader.coursedir import CourseDirectory

from .course import Course, CourseConfigError

__all__ = ["MAX_READ_BYTES", "MAX_UNPACKED_BYTES", "PATTERNS", "STATUSES", "CollectError",
           "CollectReport", "StudentDecision", "collect", "decisions"]

#: The most a zip's notebooks may unpack to, in bytes: a class's notebooks take a few
#: megabytes each, so more than this is a wrong file or a zip bomb, refused up front.
MAX_UNPACKED_BYTES = 2 * 1024**3

#: The most of one notebook read to find its cell ids: a bigger one (outputs full of
#: images) is collected without the check, as any notebook was before it existed.
MAX_READ_BYTES = 50 * 1024**2

#: (what the pattern is, a ``named_regexp`` as nbgrader's zip_collect takes it), tried
#: in order on each file's path inside the download, written with ``/``. Each names the
#: ``student_id`` and ``file_id`` groups nbgrader requires. They match files of any
#: type (to tell whose a .py is); only "a file per student" is for notebooks alone.
PATTERNS: tuple[tuple[str, str], ...] = (
    # Moodle names each student's files <Full Name>_<participant id>_assignsubmission_<plugin>_
    # with every "_" of the name made a space; Canvas names each file
    # <name>_[LATE_]<user id>_<attachment id>_<file name>, its name part letters only. So the
    # id is the first number after a name without "_", at the start of a path's part: what
    # the student named the file (which may itself look like another student's prefix)
    # never decides whose it is. The leading folders (a download zipped again) are matched
    # lazily, so the first part that fits is the LMS's, not one inside the student's folder.
    ("Moodle, a folder per student",
     r"(?:.*?/)??(?P<full_name>[^/_]+)_(?P<student_id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_/"
     r"(?P<file_id>(?:[^/]+/)*[^/]+)$"),
    ("Moodle, flat",
     r"(?:.*?/)??(?P<full_name>[^/_]+)_(?P<student_id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_"
     r"(?P<file_id>[^/]+)$"),
    ("Canvas",
     r"(?:.*?/)??(?P<name_part>[^/_]+)_(?P<late>(?i:late)_)?(?P<student_id>\d+)_"
     r"(?P<attachment_id>\d+)_(?P<file_id>[^/]+)$"),
    ("a folder per student", r"(?P<student_id>[^/]+)/(?P<file_id>[^/]+)$"),
    ("a file per student", r"(?P<file_id>(?P<student_id>[^/]+)\.ipynb)$"),
)

#: Every status a student's decision can have, and what it means.
STATUSES = {
    "collected": "the notebook was written to submitted/",
    "unchanged": "already collected: submitted/ holds the same bytes",
    "kept": "a different notebook already in submitted/ was left alone",
    "skipped": "nothing written: it is unclear which notebook, or it could not be copied",
    "refused": "it is another assignment's notebook",
    "no notebook": "the student sent only files that are not notebooks",
    "no submission": "on the roster, nothing in the download",
}
#: The statuses that need the instructor's decision (``CollectReport.status()`` is 1).
NEEDS_DECISION = ("skipped", "kept", "refused", "no notebook")

_STUDENT_ID = re.compile(r"[^\W_][\w.@+-]*")
_PLAIN = {"a folder per student", "a file per student"}
_SAFE_ID_HINT = "a student id is letters, digits and . _ - @ +, starting with a letter or digit"
_COMPILED = tuple((name, re.compile(regexp)) for name, regexp in PATTERNS)
_ONLY = "the only notebook it sent"  # the plain reason, left out of the summary


class CollectError(ValueError):
    """The download cannot be collected at all (not a zip, unsafe, too big, empty, ...).

    Raised before anything is written to submitted/ (the failed run is still logged in
    ``reports/<assignment>/collect.txt``); the message says what is wrong in plain words.
    """


@dataclass(frozen=True)
class StudentDecision:
    """What collect decided for one student, as kept in ``reports/<assignment>/collect.json``.

    student : the id (nbgrader's, from the LMS: Canvas user id, Moodle participant id).
    name, sis_id, email : from the roster; ``name`` else the download's hint (Moodle's
        full name, Canvas's squashed name part); None when unknown.
    status : one of :data:`STATUSES`.
    source : the file inside the download it is about (the notebook collected, kept,
        refused...), None when there is none.
    late : the LMS marked it LATE (Canvas's ``LATE_``).
    why : one line of plain words: why this decision, and why that file among several.
    when : the ISO time of the collect run.
    download : the zip's or the folder's name.
    """

    student: str
    name: str | None
    sis_id: str | None
    email: str | None
    status: str
    source: str | None
    late: bool
    why: str
    when: str
    download: str


@dataclass
class CollectReport:
    """What :func:`collect` did, for the instructor.

    decisions : student id -> :class:`StudentDecision`, for every student in the
        download or on the roster.
    collected : (student id, path written), one per student collected.
    unmatched : (file name inside the download, why it was not collected).
    notebooks : how many notebooks (.ipynb, not the Finder's or Jupyter's copies) the
        download held.
    unclaimed : notebooks that could not be told to be any student's.
    problems : what went wrong beside the students (the gradebook could not be written).
    """

    assignment: str = ""
    course_root: Path | None = None
    download: str = ""
    when: str = ""
    decisions: dict[str, StudentDecision] = field(default_factory=dict)
    collected: list[tuple[str, Path]] = field(default_factory=list)
    unmatched: list[tuple[str, str]] = field(default_factory=list)
    notebooks: int = 0
    unclaimed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """(student, why) for every student in the download not collected this time."""
        return [(s, d.why) for s, d in sorted(self.decisions.items())
                if d.status not in ("collected", "no submission")]

    @property
    def sources(self) -> dict[str, str]:
        """student -> the file inside the download that was collected."""
        return {s: d.source for s, d in self.decisions.items()
                if d.status == "collected" and d.source}

    def _shown(self, path: Path) -> str:
        if self.course_root is not None and path.is_relative_to(self.course_root):
            return str(path.relative_to(self.course_root))
        return str(path)

    def status(self) -> int:
        """The exit status for ``nncourse collect``: 0 when every student in the download
        was collected, or had already been collected with the same bytes; 1 when someone
        needs the instructor's decision (skipped, kept, refused, no notebook, a notebook
        no student could be told for, the gradebook not written); 2 when the download
        held no notebook at all."""
        if self.notebooks == 0:
            return 2
        if (self.unclaimed or self.problems
                or any(d.status in NEEDS_DECISION for d in self.decisions.values())):
            return 1
        return 0

    def summary(self) -> str:
        """The report in plain words, one line per student or file."""
        by_status: dict[str, list[StudentDecision]] = {}
        for student in sorted(self.decisions):
            decision = self.decisions[student]
            by_status.setdefault(decision.status, []).append(decision)
        n, skipped = len(self.collected), len(self.skipped)
        lines = [f"{self.assignment}: collected {n} submission{'s' * (n != 1)}, "
                 f"skipped {skipped} student{'s' * (skipped != 1)}, "
                 f"{len(self.unmatched)} file{'s' * (len(self.unmatched) != 1)} not collected."]
        if self.notebooks == 0:
            named = f"{_line(self.download)} " if self.download else ""
            lines.append(f"The download {named}holds no notebook (.ipynb) at all: "
                         "is it the right download?")
        paths = dict(self.collected)
        if by_status.get("collected"):
            lines += ["", "Collected:"]
            for d in by_status["collected"]:
                extra = [f"from {d.source}"] + ["LATE"] * d.late
                extra += [] if d.why == _ONLY else [d.why]
                lines.append(f"  {_who(d)}: {_line(self._shown(paths[d.student]))} "
                             f"({_line('; '.join(extra))})")
        if by_status.get("unchanged"):
            lines += ["", "Already collected, the same file (nothing to do):"]
            lines += [f"  {_who(d)}: {_line(d.why)}{' (LATE)' * d.late}"
                      for d in by_status["unchanged"]]
        waiting = [d for status in NEEDS_DECISION for d in by_status.get(status, [])]
        if waiting:
            lines += ["", "Students who need your decision (nothing written for them):"]
            lines += [f"  {_who(d)}: {d.status}{', LATE' * d.late}: {_line(d.why)}"
                      for d in sorted(waiting, key=lambda d: d.student)]
        if by_status.get("no submission"):
            lines += ["", "On the roster, nothing in this download:"]
            lines += [f"  {_who(d)}" for d in by_status["no submission"]]
        if self.unmatched:
            lines += ["", "Files not collected:"]
            lines += [f"  {_line(name)}: {_line(reason)}" for name, reason in self.unmatched]
        if self.problems:
            lines += ["", "Problems:"] + [f"  {_line(p)}" for p in self.problems]
        if any(d.late for d in self.decisions.values()):
            lines += ["", f"LATE marks are kept in reports/{self.assignment}/collect.json; "
                          "the report shows them beside each score."]
        return "\n".join(lines)


def _who(decision: StudentDecision) -> str:
    name = f" ({decision.name})" if decision.name else ""
    return _line(decision.student + name)


def _line(text: str) -> str:
    """Text from the download (file names, and lines quoting them), shown on one line:
    as it is when printable, else quoted (a name with a newline or a terminal escape)."""
    from .report import quoted  # here, not above: the report may read collect's records

    return text if text.isprintable() else quoted(text, 200)


@dataclass
class _Entry:
    """One file of the download."""

    name: str  # its path inside the download, with "/", as reported
    key: str  # the same path as matched against PATTERNS (a wrapping folder removed)
    date: datetime | None  # when the zip or the file system says it was last changed
    open: Callable[[], BinaryIO]
    problem: str | None = None  # why it cannot be read at all, if it cannot
    name_ok: bool = True  # False when the zip stored the name in an unknown encoding


@dataclass
class _File:
    """A file of the download that is some student's."""

    entry: _Entry
    student: str
    file_name: str  # the file's own name, as the student called it
    name_hint: str | None  # Moodle's full name, Canvas's name part
    late: bool
    upload_order: int | None  # Canvas's attachment id: Canvas numbers uploads in order
    kind: str  # "notebook", "unreadable" (a notebook that cannot be read), "refused"
    # (another assignment's notebook) or "other" (not a notebook)
    not_collected: str | None = None  # why, for a file that is not a readable notebook
    remarks: list[str] = field(default_factory=list)  # what reading the notebook found


@dataclass(frozen=True)
class _Rostered:
    """One student of the roster."""

    name: str | None
    sis_id: str | None = None
    email: str | None = None


@dataclass
class _Run:
    """What every student's decision is made from, once per run."""

    assignment: str
    notebook: str  # the assignment's notebook, without .ipynb
    coursedir: CourseDirectory
    overwrite: bool
    report: CollectReport
    cell_ids: dict[str, set[str]]  # released assignment -> its notebook's grade_ids
    roster: dict[str, _Rostered] | None


def collect(course_root: Path, assignment: str, source: Path, *, overwrite: bool = False,
            roster: Path | None = None) -> CollectReport:
    """Collect the submissions of ``assignment`` in ``source`` into ``course_root``'s submitted/.

    Parameters
    ----------
    course_root : Path
        The nbgrader course: the folder with ``nbgrader_config.py``, whose directories
        (``notebooks/`` for the release, ``submitted/``) it uses.
    assignment : str
        The assignment's folder, e.g. ``"01_activations"``; it must be released, and
        have exactly one notebook.
    source : Path
        A zip downloaded from the LMS, or a folder of files; see the module's docstring
        for the file names recognised.
    overwrite : bool, default False
        Replace a submission already in ``submitted/`` (reported); by default it is
        left alone and the student is reported ("kept").
    roster : Path, optional
        A CSV of the class: Canvas's gradebook export, Moodle's grading worksheet or
        participants list, or ``id,name[,email]``. Its names go to the gradebook, and
        its students who sent nothing are reported.

    Returns
    -------
    CollectReport
        Also appended to ``reports/<assignment>/collect.txt``; its decisions are merged
        into ``reports/<assignment>/collect.json``, and every student in them is in the
        gradebook, with a name where one is known.

    Raises
    ------
    CollectError
        Before writing anything to submitted/, when the assignment is not released, the
        roster cannot be read, the record of earlier runs is damaged, or the source is
        missing, empty (no files at all), not a zip, holds a path leading outside
        itself, or is too big. A download with files but no notebook is not an error:
        its report's ``status()`` is 2.
    """
    course_root = Path(course_root).resolve()
    source = Path(source)
    course = _course(course_root)
    coursedir = course.coursedir
    cell_ids = _released(coursedir)
    notebook = _released_notebook(coursedir, assignment, cell_ids)
    report = CollectReport(assignment=assignment, course_root=course_root,
                           download=source.name or str(source),
                           when=datetime.now().astimezone().isoformat(timespec="seconds"))
    options = (f"overwrite: {'yes' if overwrite else 'no'}; "
               f"roster: {Path(roster).name if roster else 'none'}")
    try:
        earlier = decisions(course_root, assignment)
        run = _Run(assignment, notebook, coursedir, overwrite, report, cell_ids,
                   _read_roster(Path(roster)) if roster else None)
        submitted = Path(coursedir.root) / coursedir.submitted_directory
        with _read_source(source, submitted) as entries:
            _unwrap(entries, {source.stem if source.is_file() else source.name, assignment,
                              notebook})
            _collect_entries(entries, run)
    except CollectError as error:
        _log(course_root, report, options, f"Nothing collected: {error}")
        raise
    for student in sorted(run.roster or {}):
        if student not in report.decisions:
            report.decisions[student] = _decision(
                run, student, None, "no submission", None, False,
                f"on the roster; nothing from them in {report.download}")
    report.unmatched.sort()
    _update_gradebook(course, run)
    _log(course_root, report, options, report.summary())
    _save(course_root, assignment,
          _merged(earlier, report.decisions, rostered=set(run.roster or {})))
    return report


def _collect_entries(entries: list[_Entry], run: _Run) -> None:
    """Decide for every student in the download, and write what is collected."""
    report = run.report
    files: dict[str, list[_File]] = {}
    for entry in entries:
        found = _classify(entry, run.assignment, run.notebook)
        is_notebook = (_junk(entry.name) is None
                       and PurePosixPath(entry.name).suffix.lower() == ".ipynb")
        report.notebooks += is_notebook
        if isinstance(found, str):
            report.unmatched.append((entry.name, found))
            if is_notebook:
                report.unclaimed.append(entry.name)
        else:
            files.setdefault(found.student, []).append(found)

    folded: dict[str, str] = {}
    for student in sorted(files):
        other = folded.setdefault(student.casefold(), student)
        if other != student:
            # on macOS and Windows disks both ids would share one folder
            report.unmatched += [(f.entry.name, f"from {student}, who was skipped")
                                 for f in files[student]]
            _decide(run, student, files[student], "skipped", None,
                    any(f.late for f in files[student]),
                    [f"its id differs from {other}'s only in upper and lower case; "
                     "rename one and collect again"])
            continue
        _collect_student(run, student, files[student])


def _collect_student(run: _Run, student: str, sent: list[_File]) -> None:
    """Decide which of the student's files to collect, and collect it; report the rest."""
    report = run.report
    for f in sent:
        owner = _other_assignment(f, run) if f.kind == "notebook" else None
        if owner:
            f.kind, f.not_collected = "refused", owner
        if f.kind != "notebook":
            report.unmatched.append((f.entry.name, f.not_collected))
    notebooks = [f for f in sent if f.kind == "notebook"]
    refused = [f for f in sent if f.kind == "refused"]
    late = any(f.late for f in sent)
    if notebooks:
        _collect_notebook(run, student, sent, notebooks)
    elif refused:
        owners = sorted({f.not_collected for f in refused})
        _decide(run, student, sent, "refused", refused[0].entry.name, late,
                [f"{'; '.join(owners)}: nothing collected for this student"])
    elif unreadable := [f for f in sent if f.kind == "unreadable"]:
        _decide(run, student, sent, "skipped", unreadable[0].entry.name, late,
                [f"could not read {f.entry.name}: {f.not_collected}" for f in unreadable])
    else:
        names = ", ".join(f.file_name for f in sent)
        _decide(run, student, sent, "no notebook", None, late,
                [f"sent only {names} (not {'a notebook' if len(sent) == 1 else 'notebooks'})"])


def _collect_notebook(run: _Run, student: str, sent: list[_File], notebooks: list[_File]) -> None:
    """Choose among the student's notebooks of this assignment, and write that one."""
    report = run.report
    dest = (Path(run.coursedir.format_path(run.coursedir.submitted_directory, student,
                                           run.assignment)) / f"{run.notebook}.ipynb")
    chosen, why = _choose(notebooks, run.notebook)
    if chosen is None:
        names = ", ".join(f.entry.name for f in notebooks)
        report.unmatched += [(f.entry.name, f"one of {len(notebooks)} notebooks from {student}; "
                                            "none was collected (see the students above)")
                             for f in notebooks]
        _decide(run, student, sent, "skipped", None, any(f.late for f in sent),
                [f"sent {len(notebooks)} notebooks ({names}) and nothing tells which one to "
                 f"grade; copy the right one to {report._shown(dest)}"])
        return
    for f in notebooks:
        if f is not chosen:
            report.unmatched.append((f.entry.name, f"{student} sent {len(notebooks)} notebooks; "
                                                   f"{chosen.entry.name} was chosen: {why}"))
    chosen_because = [f"chosen from {len(notebooks)} notebooks: {why}"] if why else []
    status, notes = _write(chosen, dest, run.overwrite, report._shown(dest))
    if status != "skipped":
        notes = chosen_because + notes if status == "collected" else notes + chosen_because
    if status == "collected":
        report.collected.append((student, dest))
        renamed = chosen.file_name != f"{run.notebook}.ipynb"
        notes += [f"renamed from {chosen.file_name}"] * renamed + chosen.remarks
    if not chosen.entry.name_ok:
        notes.append("the zip stored its name in an unknown encoding")
    _decide(run, student, sent, status, chosen.entry.name,
            chosen.late if status != "skipped" else any(f.late for f in sent), notes or [_ONLY])


def _decide(run: _Run, student: str, sent: list[_File], status: str, source: str | None,
            late: bool, why: list[str]) -> None:
    """Record the decision for a student of the download."""
    if run.roster is not None and student not in run.roster:
        why = [*why, "not on the roster"]
    hint = next((f.name_hint for f in sent if f.name_hint), None)
    run.report.decisions[student] = _decision(run, student, hint, status, source, late,
                                              "; ".join(why))


def _decision(run: _Run, student: str, hint: str | None, status: str, source: str | None,
              late: bool, why: str) -> StudentDecision:
    person = (run.roster or {}).get(student)
    return StudentDecision(
        student=student, name=person.name if person and person.name else hint,
        sis_id=person.sis_id if person else None, email=person.email if person else None,
        status=status, source=source, late=late, why=why, when=run.report.when,
        download=run.report.download)


def _course(course_root: Path) -> Course:
    """The course, with its own nbgrader_config.py."""
    if not course_root.is_dir():
        raise CollectError(f"the course folder {course_root} does not exist")
    try:
        return Course(course_root)
    except CourseConfigError as error:
        raise CollectError(str(error)) from error


def _released(coursedir: CourseDirectory) -> dict[str, set[str]]:
    """Every released assignment (a folder of the release with one notebook), with the
    nbgrader cell ids (``grade_id``) of that notebook."""
    release = Path(coursedir.format_path(coursedir.release_directory, ".", "x")).parent
    found = {}
    for folder in sorted(release.iterdir()) if release.is_dir() else []:
        notebooks = sorted(folder.glob("*.ipynb")) if folder.is_dir() else []
        if len(notebooks) == 1:
            ids = _cell_ids(notebooks[0].read_bytes())
            found[folder.name] = ids or set()
    return found


def _released_notebook(coursedir: CourseDirectory, assignment: str,
                       released: dict[str, set[str]]) -> str:
    """The name (without .ipynb) of the assignment's one released notebook."""
    if not assignment or assignment in {".", ".."} or re.search(r"[/\\]", assignment):
        raise CollectError(f"{assignment!r} is not an assignment name; give its folder, "
                           "for example 01_activations")
    release = Path(coursedir.format_path(coursedir.release_directory, ".", assignment))
    notebooks = sorted(path.stem for path in release.glob("*.ipynb"))
    if not notebooks:
        known = (f"the released assignments are {', '.join(released)}" if released
                 else "no assignment is released yet")
        raise CollectError(
            f"assignment {assignment} has no released notebook in {release}: "
            f"check its name ({known}), or release it first (nncourse release {assignment})")
    if len(notebooks) > 1:
        raise CollectError(f"assignment {assignment} has {len(notebooks)} notebooks "
                           f"({', '.join(notebooks)}); collect handles one notebook per assignment")
    return notebooks[0]


# --- reading the download -------------------------------------------------------------

# nbgrader's ExtractorPlugin unpacks archives with setuptools' unpack_zipfile, which
# silently skips members with absolute or ".." paths, has no size limit, decodes
# non-UTF-8 names as cp437 and writes everything (junk included) to disk first. Here a
# zip is checked as a whole before anything is written, and only the chosen notebooks
# are ever decompressed, straight into submitted/.

@contextmanager
def _read_source(source: Path, submitted: Path) -> Iterator[list[_Entry]]:
    """The files of a zip or a folder, sorted by name; the zip stays open inside the block."""
    if source.is_dir():
        resolved = source.resolve()
        if (resolved.is_relative_to(submitted.resolve())
                or submitted.resolve().is_relative_to(resolved)):
            raise CollectError(f"{source} overlaps nbgrader's {submitted}: collect from the "
                               "downloaded zip or folder, not from the course's own folders")
        entries = list(_folder_entries(source))
        if not entries:
            raise CollectError(f"the folder {source} is empty: it holds no files")
        yield entries
        return
    if not source.exists():
        raise CollectError(f"{source} does not exist: give the downloaded zip or a folder")
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as error:
        raise CollectError(
            f"{source.name} is not a zip file (or it is damaged: {error}); give the zip "
            "exactly as the LMS downloaded it, or a folder of files") from error
    with archive:
        yield _zip_entries(archive, source.name)


def _folder_entries(folder: Path) -> Iterator[_Entry]:
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        here = Path(root)
        for name in sorted(files) + [d for d in dirs if (here / d).is_symlink()]:
            path = here / name
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink():
                yield _Entry(rel, rel, None, path.open,
                             problem="a link: links are not followed, copy the file itself")
            elif not path.is_file():
                yield _Entry(rel, rel, None, path.open, problem="not a regular file")
            else:
                date = datetime.fromtimestamp(path.stat().st_mtime)
                yield _Entry(rel, rel, date, lambda path=path: path.open("rb"))


def _zip_entries(archive: zipfile.ZipFile, zip_name: str) -> list[_Entry]:
    entries = []
    for info in archive.infolist():
        name, name_ok = _member_name(info)
        if _escapes(name):
            raise CollectError(
                f"{zip_name} holds {name!r}, a path that leads outside the folder it would "
                "unpack into (a 'zip slip'). A download from an LMS never does that, so the "
                "whole zip is refused and nothing was written.")
        if not name or name.endswith("/"):
            continue  # a folder: its files are entries of their own
        try:
            date = datetime(*info.date_time)
        except ValueError:  # a zip may hold no date (1980-00-00): there is none to compare
            date = None
        encrypted = "cannot be read: it is password-protected in the zip"
        entries.append(_Entry(
            name, name, date, lambda info=info: archive.open(info),
            problem=encrypted if info.flag_bits & 0x1 else None, name_ok=name_ok))
    if not entries:
        raise CollectError(f"{zip_name} is empty: it holds no files. Download the "
                           "submissions from the LMS again")
    notebooks = [info.file_size for info in archive.infolist()
                 if info.filename.lower().endswith(".ipynb")]
    # only notebooks are ever unpacked, so only they count against the limit
    if sum(notebooks) > MAX_UNPACKED_BYTES:
        raise CollectError(
            f"the notebooks in {zip_name} would unpack to {_size(sum(notebooks))}, more than "
            f"the {_size(MAX_UNPACKED_BYTES)} limit: a class's notebooks are far smaller, so "
            "this is probably not a submissions download (or it is a zip bomb). "
            "Nothing was written.")
    return sorted(entries, key=lambda e: e.name)


def _member_name(info: zipfile.ZipInfo) -> tuple[str, bool]:
    """The member's name, with "/" between folders, and whether its encoding was known."""
    name, ok = info.orig_filename, True
    if not info.flag_bits & 0x800:
        # without the UTF-8 flag, zipfile decodes names as cp437; most tools that omit
        # the flag (macOS Archive Utility, Linux zip) still write UTF-8, so try that first
        raw = name.encode("cp437")
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:  # a legacy code page we cannot know: show it as such
            name, ok = raw.decode("utf-8", errors="replace"), False
    name = name.replace("\\", "/")  # zips made on Windows may separate with "\"
    while re.search(r"(^|/)\./", name):  # "./alice/x.ipynb" is "alice/x.ipynb"
        name = re.sub(r"(^|/)\./", r"\1", name)
    return name, ok


def _escapes(name: str) -> bool:
    """Whether unpacking ``name`` would write outside the folder unpacked into."""
    return (name.startswith("/") or re.match(r"[A-Za-z]:", name) is not None
            or ".." in name.split("/") or "\x00" in name)


def _size(n: int) -> str:
    return f"{n / 1024**3:.1f} GiB" if n >= 1024**3 else f"{n / 1024**2:.1f} MiB"


def _unwrap(entries: list[_Entry], wrappers: set[str]) -> None:
    """Match paths below one folder that wraps everything, when it is named like the
    download or the assignment (what the Finder's or Explorer's "Compress" makes)."""
    real = [e for e in entries if _junk(e.name) is None]
    tops = {e.key.split("/", 1)[0] for e in real}
    if len(tops) == 1 and tops <= wrappers and all("/" in e.key for e in real):
        for entry in real:
            entry.key = entry.key.split("/", 1)[1]


# --- which student, which notebook ------------------------------------------------------

def _junk(name: str) -> str | None:
    """Why the file is not a submission, for files that never are; else None."""
    path = PurePosixPath(name)
    if "__MACOSX" in path.parts or path.name.startswith("._"):
        return "macOS metadata that the Finder adds to zips, not a submission"
    if path.name in {".DS_Store", "Thumbs.db", "desktop.ini"}:
        return "folder settings saved by macOS or Windows, not a submission"
    if ".ipynb_checkpoints" in path.parts:
        return "a Jupyter autosave checkpoint, not the submitted notebook"
    return None


def _match(key: str) -> tuple[str, dict] | None:
    """The first pattern that fits the path ``key``, and what it read from it."""
    for pattern, regexp in _COMPILED:
        found = regexp.match(key)
        if found:
            return pattern, found.groupdict()
    return None


def _classify(entry: _Entry, assignment: str, notebook: str) -> _File | str:
    """Whose file ``entry`` is, and what it is; or why it is no student's."""
    reason = _junk(entry.name)
    if reason:
        return reason
    suffix = PurePosixPath(entry.name).suffix.lower()
    if suffix == ".ipynb":
        kind, reason = ("unreadable", entry.problem) if entry.problem else ("notebook", None)
    elif suffix == ".zip":
        kind, reason = "other", "a zip inside the download: unzip it and collect its files on their own"
    else:
        kind, reason = "other", entry.problem or (
            f"not a notebook ({suffix or 'no extension'}); only .ipynb files are collected")
    match = _match(entry.key)
    nobody = "could not tell which student this is"
    if match is None:
        return reason or f"{nobody}: its name fits none of the known patterns"
    pattern, found = match
    student = found["student_id"]
    if not entry.name_ok and "\ufffd" in student:
        return reason or (f"{nobody}: the zip stored its name in an unknown encoding (not "
                          "UTF-8), so the student's name cannot be read")
    if not _STUDENT_ID.fullmatch(student):
        return reason or f"{nobody}: {student!r} is not a student id ({_SAFE_ID_HINT})"
    if pattern in _PLAIN and (student == assignment or _name_score(student, notebook) >= 2):
        return reason or (f"{nobody}: {student!r} is named like the assignment, "
                          "not like a student")
    hint = found.get("full_name") or found.get("name_part")
    return _File(
        entry=entry, student=student, file_name=PurePosixPath(found["file_id"]).name,
        name_hint=hint if hint and "\ufffd" not in hint else None,
        late=bool(found.get("late")),
        upload_order=int(found["attachment_id"]) if found.get("attachment_id") else None,
        kind=kind, not_collected=reason)


def _normalised(stem: str) -> str:
    """A notebook name without case, separators, or the copy suffixes browsers and LMSs
    add: "Activations (1)", "activations-2", "activations copy" -> "activations"."""
    name = stem.casefold().strip()
    while True:
        shorter = re.sub(r"(\s*\(\d+\)|[-_ ]\d+|[-_ ]?copy)$", "", name).strip()
        if shorter == name or not shorter:
            break
        name = shorter
    return re.sub(r"[\s_-]+", "_", name)


def _name_score(stem: str, notebook: str) -> int:
    """How much a file's name looks like the assignment's notebook: 3 exactly, 2 but for
    case or a copy suffix, 1 containing it, 0 not at all."""
    if stem == notebook:
        return 3
    mine, theirs = _normalised(stem), _normalised(notebook)
    return 2 if mine == theirs else 1 if theirs in mine else 0


def _choose(notebooks: list[_File], notebook: str) -> tuple[_File | None, str | None]:
    """The notebook to collect from a student's several, and why (None: the only one);
    (None, why not) when nothing tells."""
    if len(notebooks) == 1:
        return notebooks[0], None
    scores = [_name_score(PurePosixPath(f.file_name).stem, notebook) for f in notebooks]
    # a name that is the notebook's but for case or a copy suffix is as good as the
    # exact name: Canvas calls a re-upload activations-1.ipynb, and it is the newer one
    floor = 2 if max(scores) >= 2 else max(scores)
    best = [f for f, score in zip(notebooks, scores, strict=True) if score >= floor]
    named = (f"named like {notebook}.ipynb" if floor >= 2
             else f"whose name is the closest to {notebook}.ipynb")
    if len(best) == 1:
        return best[0], f"the only one {named}"
    # the later upload is the student's last word. Canvas numbers its files in upload
    # order; otherwise the date the zip or the disk kept is all there is
    if all(f.upload_order is not None for f in best):
        order = sorted(best, key=lambda f: f.upload_order)
        newest, earlier = order[-1], order[:-1]
        if newest.upload_order != earlier[-1].upload_order:
            numbers = ", ".join(str(f.upload_order) for f in earlier)
            return newest, (f"the newest upload {named} (Canvas numbered it "
                            f"{newest.upload_order}, after {numbers})")
    elif all(f.entry.date is not None for f in best):
        order = sorted(best, key=lambda f: f.entry.date)
        newest, earlier = order[-1], order[:-1]
        if newest.entry.date != earlier[-1].entry.date:
            return newest, (f"the newest {named}, by the date the download gives "
                            f"({newest.entry.date:%Y-%m-%d %H:%M:%S})")
    return None, None


def _cell_ids(data: bytes) -> set[str] | None:
    """The nbgrader cell ids (``grade_id``) of a notebook's bytes; None if it does not
    parse as a notebook."""
    try:
        nb = json.loads(data)
    except (ValueError, RecursionError):  # not JSON (or not UTF-8), or nested past reason
        return None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        return None
    ids = set()
    for cell in cells:
        meta = cell.get("metadata") if isinstance(cell, dict) else None
        grading = meta.get("nbgrader") if isinstance(meta, dict) else None
        grade_id = grading.get("grade_id") if isinstance(grading, dict) else None
        if isinstance(grade_id, str):
            ids.add(grade_id)
    return ids


def _other_assignment(f: _File, run: _Run) -> str | None:
    """Why the notebook is refused when it is another released assignment's; None when
    it is not (remarks on what its cells say are left on ``f``)."""
    try:
        with f.entry.open() as stream:
            data = stream.read(MAX_READ_BYTES + 1)
    except (OSError, zipfile.BadZipFile, RuntimeError, EOFError, NotImplementedError):
        return None  # the copy meets the same error, and reports it
    ids = _cell_ids(data) if len(data) <= MAX_READ_BYTES else None
    if ids is None:
        return None  # too big to check, or not a notebook: grading reports that
    if not ids:
        f.remarks.append("it has no nbgrader cells (no grade_id): grading matches its cells "
                         "by their content")
        return None
    ours = run.cell_ids.get(run.assignment, set())
    # only the ids of this assignment's own cells count: the notebooks share a few
    # ("intro", "setup"), which tell nothing about which assignment a notebook is
    distinct = ours.difference(*(ids for a, ids in run.cell_ids.items() if a != run.assignment))
    if ids & distinct:
        return None
    shared = {a: len(ids & (theirs - ours)) for a, theirs in run.cell_ids.items()
              if a != run.assignment}
    owner = max(sorted(shared), key=shared.get, default=None)
    if owner is None or shared[owner] == 0:
        f.remarks.append(f"none of its nbgrader cells (grade_id) is {run.assignment}'s "
                         "alone: grading matches its cells by their content")
        return None
    theirs = Path(run.coursedir.format_path(run.coursedir.release_directory, ".", owner))
    name = next(iter(sorted(theirs.glob("*.ipynb"))), Path(f"{owner}.ipynb")).name
    return f"this is {owner}'s notebook ({name}), not {run.assignment}'s"


# --- writing ---------------------------------------------------------------------------

def _digest(stream: BinaryIO) -> bytes:
    sha = hashlib.sha256()
    for block in iter(lambda: stream.read(1 << 20), b""):
        sha.update(block)
    return sha.digest()


def _write(chosen: _File, dest: Path, overwrite: bool, shown: str) -> tuple[str, list[str]]:
    """Copy the chosen file to ``dest`` unless that would lose a submission.

    Returns the status ("collected", "unchanged", "kept" or "skipped") and why.
    """
    entry = chosen.entry
    created: list[Path] = []
    tmp = dest.with_name(f".{dest.name}.collecting")
    try:
        replacing = dest.exists()
        if replacing:
            with entry.open() as src, dest.open("rb") as old:
                same = _digest(src) == _digest(old)
            if same:
                return "unchanged", [f"already collected: {shown} holds the same file as "
                                     f"{entry.name}"]
            if not overwrite:
                return "kept", [f"{shown} already exists and was left alone ({entry.name} "
                                "differs from it); collect again with overwrite to replace it"]
        for parent in reversed(dest.parents):
            if not parent.exists():
                parent.mkdir()
                created.append(parent)
        # write beside the target, then rename: a failure never leaves half a notebook
        with entry.open() as src, tmp.open("wb") as out:
            shutil.copyfileobj(src, out)
        os.replace(tmp, dest)
    except (OSError, zipfile.BadZipFile, RuntimeError, EOFError, NotImplementedError) as error:
        # a damaged entry, or a compression zipfile cannot read (Deflate64, from Explorer)
        tmp.unlink(missing_ok=True)
        for folder in reversed(created):
            if not any(folder.iterdir()):
                folder.rmdir()
        return "skipped", [f"could not copy {entry.name}: {error}"]
    notes = []
    if replacing:
        notes.append("replaced the submission that was there")
        if (dest.parent / "timestamp.txt").exists():
            notes.append("its timestamp.txt is the earlier submission's")
    return "collected", notes


# --- the roster ------------------------------------------------------------------------

_ROSTER_KINDS = ("a Canvas gradebook export (columns Student, ID, SIS User ID, ...), "
                 "a Moodle grading worksheet or participants list (columns Identifier, "
                 "Full name, Email address, ...) or a plain CSV (columns id, name, and "
                 "optionally email)")


def _read_roster(path: Path) -> dict[str, _Rostered]:
    """Student id -> name (and SIS id, email), from a roster CSV of any known kind."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise CollectError(f"cannot read the roster {path}: {error.strerror or error}") from error
    rows = _csv_rows(raw)
    header = [re.sub(r"\s+", " ", cell.strip().lstrip("\ufeff").strip()).casefold()
              for cell in (rows[0] if rows else [])]
    column = {name: i for i, name in reversed(list(enumerate(header)))}

    def cell(row: list[str], *names: str) -> str | None:
        for name in names:
            if name in column and column[name] < len(row) and row[column[name]].strip():
                return row[column[name]].strip()
        return None

    if "identifier" in column and ("full name" in column or "first name" in column):
        kind = "Moodle"
    elif "student" in column and "id" in column:
        kind = "Canvas"
    elif "id" in column and "name" in column:
        kind = "plain"
    else:
        shown = ", ".join(cell.strip() for cell in rows[0]) if rows else "none (it is empty)"
        raise CollectError(f"the roster {path.name} is not {_ROSTER_KINDS}; its columns are "
                           f"{_line(shown)}")

    roster: dict[str, _Rostered] = {}
    lines: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if kind == "Moodle":
            # "Participant 123456", in the site's language: the number is Moodle's id
            identifier = cell(row, "identifier") or ""
            found = re.search(r"(\d+)$", identifier)
            student = found.group(1) if found else identifier or None
            name = cell(row, "full name") or " ".join(
                n for n in (cell(row, "first name"), cell(row, "last name")) if n) or None
            person = _Rostered(name, None, cell(row, "email address", "email"))
        elif kind == "Canvas":
            student, name = cell(row, "id"), cell(row, "student")
            # Canvas adds a "Points Possible" row (and, in older exports, "Muted") with
            # no id, and its own "Student, Test" for the course's test student
            if student is None or (name or "").casefold() in {"student, test", "test student"}:
                continue
            person = _Rostered(name, cell(row, "sis user id"), None)
        else:
            student = cell(row, "id")
            person = _Rostered(cell(row, "name"), None, cell(row, "email", "email address"))
        if student is None:
            raise CollectError(f"line {number} of the roster {path.name} has no student id")
        if not _STUDENT_ID.fullmatch(student):
            raise CollectError(f"line {number} of the roster {path.name}: {_line(student)} "
                               f"is not a student id ({_SAFE_ID_HINT})")
        if student in roster and roster[student] != person:
            raise CollectError(f"the roster {path.name} gives id {student} twice, differently "
                               f"(lines {lines[student]} and {number}); keep one")
        roster[student], lines[student] = person, lines.get(student, number)
    if not roster:
        raise CollectError(f"the roster {path.name} lists no students")
    return roster


def _csv_rows(raw: bytes) -> list[list[str]]:
    """The rows of a CSV, whatever its encoding (UTF-8 with or without BOM, UTF-16 as
    Excel saves "Unicode text", else Windows' code page) and separator (, ; or tab)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = raw.decode("utf-16")
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")
    first = text.split("\n", 1)[0]
    separator = max(",;\t", key=first.count)
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=separator))


def _split_name(name: str) -> tuple[str | None, str]:
    """(first name, last name): "Smith, Jane" (Canvas's order) and "Jane Smith" give
    ("Jane", "Smith"); a single word ("smithjane", Canvas's squashed name) is a last name."""
    name = _printable(name)
    if "," in name:
        last, first = (part.strip() for part in name.split(",", 1))
        return first or None, last
    first, _, last = name.strip().rpartition(" ")
    return first.strip() or None, last


def _printable(name: str, limit: int = 100) -> str:
    """A name as the gradebook keeps it: on one line, control characters made spaces, cut
    to ``limit`` characters (it comes from the download or a roster, and is exported)."""
    return " ".join("".join(c if c.isprintable() else " " for c in name).split())[:limit]


# --- what is kept of each run ----------------------------------------------------------

def _records(course_root: Path, assignment: str) -> Path:
    return Path(course_root) / "reports" / assignment


def decisions(course_root: Path, assignment: str) -> dict[str, StudentDecision]:
    """The latest decision of collect for each student of ``assignment``, by student id,
    as kept in ``reports/<assignment>/collect.json``; empty if nothing was collected yet.

    Raises
    ------
    CollectError
        When the file is damaged (not what collect writes).
    """
    path = _records(course_root, assignment) / "collect.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        raise CollectError(f"cannot read {path}: {error}") from error
    damaged = (f"{path} is damaged, so what collect decided for each student is unknown; "
               "restore it from a backup, or move it away (collect.txt beside it keeps "
               "every run's report) and collect again")
    try:
        students = json.loads(text)["students"]
        found = {}
        for student, record in students.items():
            decision = StudentDecision(student=student, **record)
            text_fields = [getattr(decision, f.name) for f in fields(StudentDecision)
                           if f.name != "late"]
            if (decision.status not in STATUSES or not isinstance(decision.late, bool)
                    or not all(v is None or isinstance(v, str) for v in text_fields)):
                raise ValueError(f"the record of {student!r} is not one collect writes")
            found[student] = decision
        return found
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as error:
        raise CollectError(f"{damaged} ({error})") from error


def _merged(earlier: dict[str, StudentDecision], latest: dict[str, StudentDecision],
            rostered: set[str]) -> dict[str, StudentDecision]:
    """The decisions of earlier runs, updated with the latest run's.

    A later decision replaces the earlier one, except that "no submission" (nothing in
    this download) never replaces a decision about what the student did send: a second
    zip, of the late submissions, must not erase the first one's students. A submission
    found again ("unchanged", "kept") stays LATE if it was LATE before. And names are
    kept as the gradebook keeps them: a roster's (``rostered``: the students on this
    run's roster) replaces the name known, the download's only fills a missing one.
    """
    merged = dict(earlier)
    for student, decision in latest.items():
        before = earlier.get(student)
        if before is None:
            merged[student] = decision
            continue
        decision = replace(
            decision, name=decision.name if student in rostered else before.name or decision.name,
            sis_id=decision.sis_id or before.sis_id, email=decision.email or before.email)
        if decision.status == "no submission" and before.status != "no submission":
            merged[student] = replace(before, name=decision.name, sis_id=decision.sis_id,
                                      email=decision.email)
        elif decision.status in ("unchanged", "kept"):
            merged[student] = replace(decision, late=decision.late or before.late)
        else:
            merged[student] = decision
    return dict(sorted(merged.items()))


def _save(course_root: Path, assignment: str, merged: dict[str, StudentDecision]) -> None:
    """Write the decisions to collect.json, whole or not at all (a temporary file, renamed)."""
    folder = _records(course_root, assignment)
    folder.mkdir(parents=True, exist_ok=True)
    students = {}
    for student, decision in merged.items():
        record = asdict(decision)
        del record["student"]
        students[student] = record
    data = {"assignment": assignment, "statuses": STATUSES, "students": students}
    tmp = folder / ".collect.json.writing"
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, folder / "collect.json")


def _log(course_root: Path, report: CollectReport, options: str, text: str) -> None:
    """Append a run's report to collect.txt, under a line saying when, what and how."""
    folder = _records(course_root, report.assignment)
    folder.mkdir(parents=True, exist_ok=True)
    header = f"=== {report.when}: collect {_line(report.download)} ({options}) ==="
    with (folder / "collect.txt").open("a", encoding="utf-8") as log:
        log.write(f"{header}\n{text}\n\n")


def _update_gradebook(course: Course, run: _Run) -> None:
    """Put every student of the run in nbgrader's gradebook, named where a name is known,
    so that ``nbgrader export`` lists them all, with their names. The roster's names
    replace what is there; the download's only fill a name not set yet."""
    report = run.report
    if not report.decisions:
        return
    try:
        with course.gradebook() as gb:
            known = {s.id: s for s in gb.students}
            for student, decision in sorted(report.decisions.items()):
                person = (run.roster or {}).get(student)
                there = known.get(student)
                unnamed = there is None or not (there.first_name or there.last_name)
                names = {}
                if decision.name and ((person and person.name) or unnamed):
                    first, last = _split_name(decision.name)
                    names = {"first_name": first, "last_name": last}
                if person and person.email:
                    names["email"] = person.email
                if there is None or names:
                    gb.update_or_create_student(student, **names)
    except Exception as error:  # nbgrader's, SQLAlchemy's, alembic's: too many to list
        # the notebooks are collected: say what is missing, and how to get it
        first = (str(error).splitlines() or [""])[0]
        report.problems.append(f"the students were not written to the gradebook "
                               f"({type(error).__name__}: {first}); collect again to "
                               "write them")
