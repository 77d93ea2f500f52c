"""Put every submission of one assignment, downloaded from an LMS, where nbgrader grades it.

``collect(course_root, "01_activations", Path("submissions.zip"))`` reads a zip (or a
folder) of students' files and writes each student's notebook to nbgrader's layout,
``submitted/<student_id>/01_activations/activations.ipynb``, ready for
``nbgrader autograde 01_activations``. It returns a :class:`CollectReport` whose
``summary()`` tells the instructor, in plain words, what was collected, which students
were skipped and why, and every file that was not collected and why: nothing in the
download is dropped without a line in the report.

File names it recognises (the path inside the zip or the folder; the first pattern
that fits wins):

=====================  ===============================================================  ==============
LMS                    path                                                             student id
=====================  ===============================================================  ==============
Moodle, in folders     ``<Full Name>_<digits>_assignsubmission_file_/<any>.ipynb``      the digits
                       (the file may sit in sub-folders of the student's folder)
Moodle, flat           ``<Full Name>_<digits>_assignsubmission_file_<any>.ipynb``       the digits
Canvas                 ``<login>_<user id>_<file id>_<any>.ipynb``                      the login
Canvas, late           ``<login>_LATE_<user id>_<file id>_<any>.ipynb``                 the login
a folder per student   ``<student_id>/<any>.ipynb``                                     the folder
a file per student     ``<student_id>.ipynb``                                           the file name
=====================  ===============================================================  ==============

The LMS patterns also match below other folders, so a download that was unzipped
and zipped again still works. A zip or folder whose files all sit in one folder
named like the zip, the folder or the assignment (what "Compress" in the macOS
Finder or Windows Explorer makes) is read from inside that folder.

A student id is letters, digits and ``. _ - @ +``, starting with a letter or digit.
Whatever the student named the notebook (``activations (1).ipynb``, ``Untitled.ipynb``),
it is saved under the assignment's notebook name. When one student sent several
notebooks, the one whose name is closest to the assignment's notebook is collected
and the others are reported; when their names are equally close, the one uploaded
last wins if the download tells (Canvas's file id, otherwise the date the zip or the
folder records), and otherwise none is collected and the student is reported.

A submission already in ``submitted/`` is never replaced unless ``overwrite=True``,
and then the report says so. The notebooks are copied byte for byte, never parsed or
run: a malformed notebook is collected as it is, and ``nbgrader autograde`` reports it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from nbgrader.coursedir import CourseDirectory
from nbgrader.plugins import FileNameCollectorPlugin

from .course import Course, CourseConfigError
from .report import quoted

__all__ = ["MAX_UNPACKED_BYTES", "PATTERNS", "CollectError", "CollectReport", "collect"]

#: The most a zip's notebooks may unpack to, in bytes: a class's notebooks take a few
#: megabytes each, so more than this is a wrong file or a zip bomb, refused up front.
MAX_UNPACKED_BYTES = 2 * 1024**3

#: (what the pattern is, a ``named_regexp`` for nbgrader's ``FileNameCollectorPlugin``),
#: tried in order on each notebook's path inside the download, written with ``/``. Each
#: names the ``student_id`` and ``file_id`` groups nbgrader's zip_collect requires.
PATTERNS: tuple[tuple[str, str], ...] = (
    ("Moodle, a folder per student",
     r"(?:.*/)?(?P<full_name>[^/]+)_(?P<student_id>\d+)_assignsubmission_file_/"
     r"(?P<file_id>(?:[^/]+/)*[^/]+\.ipynb)$"),
    ("Moodle, flat",
     r"(?:.*/)?(?P<full_name>[^/]+)_(?P<student_id>\d+)_assignsubmission_file_"
     r"(?P<file_id>[^/]+\.ipynb)$"),
    # Canvas names each file <name>_[LATE_]<user id>_<attachment id>_<file name>
    ("Canvas",
     r"(?:.*/)?(?P<student_id>[^/]+?)_(?P<late>LATE_)?(?P<user_id>\d+)_(?P<attachment_id>\d+)_"
     r"(?P<file_id>[^/]+\.ipynb)$"),
    ("a folder per student", r"(?P<student_id>[^/]+)/(?P<file_id>[^/]+\.ipynb)$"),
    ("a file per student", r"(?P<file_id>(?P<student_id>[^/]+)\.ipynb)$"),
)

_STUDENT_ID = re.compile(r"[^\W_][\w.@+-]*")
_PLAIN = {"a folder per student", "a file per student"}
_SAFE_ID_HINT = "a student id is letters, digits and . _ - @ +, starting with a letter or digit"


class CollectError(ValueError):
    """The download cannot be collected at all (not a zip, unsafe, too big, empty, ...).

    Raised before anything is written; the message says what is wrong in plain words.
    """


@dataclass
class CollectReport:
    """What :func:`collect` did, for the instructor.

    collected : (student id, path written), one per student collected.
    unmatched : (file name inside the download, why it was not collected).
    skipped : (student id, why nothing was written for that student).
    sources : student id -> the file inside the download that was collected.
    notes : student id -> remarks on a collected submission (renamed, LATE, replaced, ...).
    """

    assignment: str = ""
    course_root: Path | None = None
    collected: list[tuple[str, Path]] = field(default_factory=list)
    unmatched: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)

    def _shown(self, path: Path) -> str:
        if self.course_root is not None and path.is_relative_to(self.course_root):
            return str(path.relative_to(self.course_root))
        return str(path)

    def summary(self) -> str:
        """The report in plain words, one line per student or file."""
        n = len(self.collected)
        lines = [f"{self.assignment}: collected {n} submission{'s' * (n != 1)}, "
                 f"skipped {len(self.skipped)} student{'s' * (len(self.skipped) != 1)}, "
                 f"{len(self.unmatched)} file{'s' * (len(self.unmatched) != 1)} not collected."]
        if self.collected:
            lines += ["", "Collected:"]
            for student, path in self.collected:
                extra = [f"from {self.sources[student]}"] if student in self.sources else []
                extra += self.notes.get(student, [])
                lines.append(f"  {_line(student)}: {_line(self._shown(path))} "
                             f"({_line('; '.join(extra))})")
        if self.skipped:
            lines += ["", "Students skipped (nothing written for them):"]
            lines += [f"  {_line(student)}: {_line(reason)}" for student, reason in self.skipped]
        if self.unmatched:
            lines += ["", "Files not collected:"]
            lines += [f"  {_line(name)}: {_line(reason)}" for name, reason in self.unmatched]
        if any("Canvas marked it LATE" in note for notes in self.notes.values()
               for note in notes):
            lines += ["", "LATE marks are only reported here: no timestamp.txt is written, "
                          "so nbgrader applies no late penalty."]
        return "\n".join(lines)


def _line(text: str) -> str:
    """Text from the download (file names, and lines quoting them), shown on one line:
    as it is when printable, else quoted (a name with a newline or a terminal escape)."""
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
class _Candidate:
    entry: _Entry
    student: str
    file_name: str  # the notebook's own name, as the student called it
    pattern: str
    late: bool
    upload_order: int | None  # Canvas's attachment id: Canvas numbers uploads in order
    chosen_because: str | None = None  # set when the student sent several notebooks


def collect(course_root: Path, assignment: str, source: Path, *,
            overwrite: bool = False) -> CollectReport:
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
        left alone and the student is reported as skipped.

    Returns
    -------
    CollectReport

    Raises
    ------
    CollectError
        Before writing anything, when the assignment is not released, or the source is
        missing, empty, not a zip, holds a path leading outside itself, or is too big.
    """
    course_root = Path(course_root).resolve()
    source = Path(source)
    coursedir = _course_directory(course_root)
    notebook = _released_notebook(coursedir, assignment)
    submitted = Path(coursedir.root) / coursedir.submitted_directory
    report = CollectReport(assignment=assignment, course_root=course_root)

    with _read_source(source, submitted) as entries:
        _unwrap(entries, {source.stem if source.is_file() else source.name, assignment,
                          notebook})
        candidates: dict[str, list[_Candidate]] = {}
        for entry in entries:
            found = _classify(entry, assignment, notebook)
            if isinstance(found, str):
                report.unmatched.append((entry.name, found))
            else:
                candidates.setdefault(found.student, []).append(found)

        folded: dict[str, str] = {}
        for student in sorted(candidates):
            other = folded.setdefault(student.casefold(), student)
            if other != student:
                # on macOS and Windows disks both ids would share one folder
                report.skipped.append((student, f"its id differs from {other}'s only in upper "
                                                "and lower case; rename one and collect again"))
                report.unmatched += [(c.entry.name, f"from {student}, who was skipped")
                                     for c in candidates[student]]
                continue
            dest = Path(coursedir.format_path(coursedir.submitted_directory, student,
                                              assignment)) / f"{notebook}.ipynb"
            chosen = _choose(candidates[student], notebook, report._shown(dest), report)
            if chosen is not None:
                _write(chosen, dest, notebook, overwrite, report)

    report.unmatched.sort()
    return report


def _course_directory(course_root: Path) -> CourseDirectory:
    """nbgrader's view of the course, with the course's own nbgrader_config.py."""
    if not course_root.is_dir():
        raise CollectError(f"the course folder {course_root} does not exist")
    try:
        return Course(course_root).coursedir
    except CourseConfigError as error:
        raise CollectError(str(error)) from error


def _released_notebook(coursedir: CourseDirectory, assignment: str) -> str:
    """The name (without .ipynb) of the assignment's one released notebook."""
    if not assignment or assignment in {".", ".."} or re.search(r"[/\\]", assignment):
        raise CollectError(f"{assignment!r} is not an assignment name; give its folder, "
                           "for example 01_activations")
    release = Path(coursedir.format_path(coursedir.release_directory, ".", assignment))
    notebooks = sorted(path.stem for path in release.glob("*.ipynb"))
    if not notebooks:
        raise CollectError(
            f"assignment {assignment} has no released notebook in {release}: "
            f"check its name, or release it first (nncourse release {assignment})")
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


def _quiet_log() -> logging.Logger:
    # FileNameCollectorPlugin warns about every name a regexp does not match; trying
    # several patterns per file makes those warnings noise: the report says it all
    log = logging.getLogger(f"{__name__}.nbgrader")
    log.setLevel(logging.ERROR)
    return log


def _match(key: str) -> tuple[str, dict] | None:
    """The first pattern that fits the path ``key``, and what it read from it."""
    for pattern, regexp in PATTERNS:
        # nbgrader's own file-name matcher, given one named_regexp per pattern
        found = FileNameCollectorPlugin(named_regexp=regexp, log=_quiet_log()).collect(key)
        if found:
            return pattern, found
    return None


def _classify(entry: _Entry, assignment: str, notebook: str) -> _Candidate | str:
    """The candidate submission ``entry`` is, or why it is not collected."""
    reason = _junk(entry.name) or entry.problem
    if reason:
        return reason
    suffix = PurePosixPath(entry.name).suffix.lower()
    if suffix == ".zip":
        return "a zip inside the download: unzip it and collect its files on their own"
    if suffix != ".ipynb":
        return (f"not a notebook ({suffix or 'no extension'}); only .ipynb files are collected")
    match = _match(entry.key)
    if match is None:
        return "could not tell which student this is: its name fits none of the known patterns"
    pattern, found = match
    student = found["student_id"]
    if not entry.name_ok and "\ufffd" in student:
        return ("could not tell which student this is: the zip stored its name in an unknown "
                "encoding (not UTF-8), so the student's name cannot be read")
    if not _STUDENT_ID.fullmatch(student):
        return f"could not tell which student this is: {student!r} is not a student id ({_SAFE_ID_HINT})"
    if pattern in _PLAIN and (student == assignment or _name_score(student, notebook) >= 2):
        return (f"could not tell which student this is: {student!r} is named like the "
                "assignment, not like a student")
    return _Candidate(
        entry=entry, student=student, file_name=PurePosixPath(found["file_id"]).name,
        pattern=pattern, late=bool(found.get("late")),
        upload_order=int(found["attachment_id"]) if found.get("attachment_id") else None)


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


def _choose(candidates: list[_Candidate], notebook: str, dest: str,
            report: CollectReport) -> _Candidate | None:
    """The one notebook to collect from a student, reporting the others; None if unclear."""
    if len(candidates) == 1:
        return candidates[0]
    student, n = candidates[0].student, len(candidates)
    scores = [_name_score(PurePosixPath(c.file_name).stem, notebook) for c in candidates]
    best = [c for c, s in zip(candidates, scores, strict=True) if s == max(scores)]
    why = f"its name is the closest to {notebook}.ipynb"
    if len(best) > 1 and max(scores) > 0:
        # equally well named: the later upload is the student's last word. Canvas numbers
        # its files in upload order; otherwise the date the zip or the disk kept is all
        # there is, and it is only used between equally named files, and reported
        if all(c.upload_order is not None for c in best):
            newest = max(c.upload_order for c in best)
            best = [c for c in best if c.upload_order == newest]
            why = "Canvas's file number says it was uploaded last"
        else:
            newest = max(c.entry.date or datetime.min for c in best)
            best = [c for c in best if (c.entry.date or datetime.min) == newest]
            why = f"it is the newest by date ({newest:%Y-%m-%d %H:%M:%S})"
    if len(best) > 1:
        names = ", ".join(c.entry.name for c in candidates)
        report.skipped.append((student, f"sent {n} notebooks ({names}) and nothing tells which "
                                        f"one to grade; copy the right one to {dest}"))
        for c in candidates:
            report.unmatched.append((c.entry.name, f"one of {n} notebooks from {student}; none "
                                                   "was collected (see the skipped students)"))
        return None
    chosen = best[0]
    for c in candidates:
        if c is not chosen:
            report.unmatched.append((c.entry.name, f"{student} sent {n} notebooks; "
                                                   f"{chosen.entry.name} was chosen: {why}"))
    chosen.chosen_because = f"chosen from {n} notebooks: {why}"
    return chosen


# --- writing ---------------------------------------------------------------------------

def _digest(stream: BinaryIO) -> bytes:
    sha = hashlib.sha256()
    for block in iter(lambda: stream.read(1 << 20), b""):
        sha.update(block)
    return sha.digest()


def _write(chosen: _Candidate, dest: Path, notebook: str, overwrite: bool,
           report: CollectReport) -> None:
    """Copy the chosen file to ``dest`` unless that would lose a submission; report it."""
    student, entry = chosen.student, chosen.entry
    shown = report._shown(dest)
    created: list[Path] = []
    tmp = dest.with_name(f".{dest.name}.collecting")
    try:
        replacing = dest.exists()
        if replacing:
            with entry.open() as src, dest.open("rb") as old:
                same = _digest(src) == _digest(old)
            if same:
                report.skipped.append((student, f"already collected: {shown} holds the same "
                                                f"file as {entry.name}"))
                return
            if not overwrite:
                report.skipped.append((
                    student, f"{shown} already exists and was left alone ({entry.name} differs "
                             "from it); collect again with overwrite to replace it"))
                return
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
        report.skipped.append((student, f"could not copy {entry.name}: {error}"))
        return

    report.collected.append((student, dest))
    report.sources[student] = entry.name
    notes = [chosen.chosen_because] if chosen.chosen_because else []
    if chosen.file_name != f"{notebook}.ipynb":
        notes.append(f"renamed from {chosen.file_name}")
    if chosen.late:
        notes.append("Canvas marked it LATE")
    if replacing:
        notes.append("replaced the submission that was there")
        if (dest.parent / "timestamp.txt").exists():
            notes.append("its timestamp.txt is the earlier submission's")
    if not entry.name_ok:
        notes.append("the zip stored its name in an unknown encoding")
    if notes:
        report.notes[student] = notes
