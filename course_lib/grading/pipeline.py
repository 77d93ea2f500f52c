"""Autograde a class in parallel, with nbgrader's own Autograde, one kernel per core.

nbgrader grades one submission after another. Here every (assignment, student)
pair is an independent job for nbgrader's Python API (``NbGraderAPI.autograde``,
the same code as ``nbgrader autograde``), run by a pool of worker processes. All
workers write the one SQLite gradebook; SQLite lets one writer in at a time,
and a generous busy timeout makes the others wait for their turn instead of
failing. The students are created in the gradebook before the pool starts,
so that no two workers race to insert the same rows.

Every step is per student, and nothing one submission does can stop the others
from being graded:

- staging (:mod:`course_lib.grading.intake`) turns whatever is wrong with a
  submission into plain-words notes; anything it did not foresee is caught here
  and becomes that student's note too;
- a student folder whose name is not a plain id (a newline, a control character)
  is reported, not graded;
- a worker process that dies (killed, out of memory, ``os._exit``) breaks the
  pool: the jobs it had not finished go to a new pool; the jobs that were being
  graded when it died (each worker leaves a marker file while it grades) are
  graded again one at a time, each alone in its own pool, so that the one that
  kills its worker again is known, reported, and costs no one else anything.

Only what changed is graded again (``regrade_all`` grades everyone, ``students`` exactly
those named). After nbgrader graded a submission successfully, the grader writes a
record in ``.nncourse/graded/<assignment>/<student>.json``, where no student can
write. A submission is *unchanged*, and keeps its scores without running a kernel,
only if the record says it was graded from the same inputs by the same grader:

- the same submitted folder: every file's name and bytes, ``timestamp.txt`` included
  (the digest of what is there now, not of anything the notebook says of itself);
- the same assignment: its cells, points and due date in the gradebook, and the
  files of its release (so releasing it again with any change regrades everyone);
- the same course secret (by fingerprint), and the same grader: the files of
  course_lib that run while grading (the grader, the checks, the references they
  compare with, what the kernel imports), the course's nbgrader_config.py (time
  limits...) and the versions of nbgrader, NumPy and Python;
- and the gradebook and autograded/ still hold that grading: every test cell of the
  submission with its score, the scores, timestamp and extension unchanged since.

Anything else (no record, an unreadable one, a grading that failed or never ended:
its record is removed before it is graded, and only a success writes one) grades it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import shutil
import stat
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path

from . import intake, secret
from .course import DB_BUSY_TIMEOUT, Course, as_course, load_api
from .report import plain_id, quoted

__all__ = ["DB_BUSY_TIMEOUT", "GradeJob", "grade", "load_api", "not_graded", "submissions"]

#: Where submissions are staged (checked, fixed copies: see intake.py) while a run grades
#: them; nbgrader's submitted_directory points here, and submitted/ is only ever read.
STAGING = Path(".nncourse") / "staging"

#: Where each grading worker leaves a marker naming the job it is grading, while it does.
RUNNING = Path(".nncourse") / "running"

#: Where the grader records what it graded last: <assignment>/<student>.json.
GRADED = Path(".nncourse") / "graded"

@dataclass(frozen=True)
class GradeJob:
    """The outcome of autograding one student's submission of one assignment."""

    assignment: str
    student: str
    success: bool
    log: str
    error: str
    seconds: float
    #: plain-words lines for what happened while grading (from the graded notebook)
    notes: tuple = ()
    #: True when the notebook was not graded because grading itself failed (its worker
    #: died, the run stopped): the instructor should grade it again
    needs_regrade: bool = False
    #: True when it was not graded again, being unchanged since its last grading, whose
    #: scores stand (the first note says since when, the others are that grading's)
    reused: bool = False


def submissions(course_root, assignment: str) -> list[str]:
    """The students with a submission of ``assignment`` under submitted/, sorted."""
    course = as_course(course_root)
    folder = Path(course.coursedir.root, course.coursedir.submitted_directory)
    return sorted(p.parent.name for p in folder.glob(f"*/{assignment}") if p.is_dir())


def not_graded(assignment: str, student: str, why: str, needs_regrade: bool = True) -> GradeJob:
    """The outcome of a job that was never graded, ``why`` in plain words."""
    return GradeJob(assignment, student, False, "", "", 0.0, (why,), needs_regrade)


def grade(course_root, assignments, workers: int | None = None, progress: bool = True,
          sandbox: bool = True, students=None, results: list | None = None,
          regrade_all: bool = False):
    """Autograde the submissions of ``assignments`` that are new or changed since their
    last grading; return one :class:`GradeJob` for every submission.

    Parameters
    ----------
    course_root : Path or Course
        The course folder (holding nbgrader_config.py, submitted/, gradebook.db), or
        the run's :class:`~course_lib.grading.course.Course` (its ``sandbox`` is used).
    assignments : iterable of str
    workers : int, optional
        Processes grading at once; default: every core.
    progress : bool, default True
        Show a progress bar.
    sandbox : bool, default True
        Run the students' kernels in the sandbox (:mod:`course_lib.grading.sandbox`).
    students : iterable of str, optional
        Grade only these students' submissions, changed or not.
    results : list, optional
        Each GradeJob is appended here as soon as it is known, so that a caller keeps
        what was graded even if the run stops half-way (Ctrl-C, a full disk).
    regrade_all : bool, default False
        Grade every submission, changed or not. Otherwise (and without ``students``) a
        submission unchanged since its last successful grading (see the module's
        docstring for what that takes) is not graded again: its GradeJob has
        ``reused=True``, ``seconds=0``, and the notes of that grading after one saying
        since when; its scores are the gradebook's.

    Returns
    -------
    list of GradeJob, sorted by assignment and student, whatever order they finished in.
    """
    from tqdm.auto import tqdm

    course = as_course(course_root, sandbox)
    root = course.root
    only = None if students is None else set(students)
    jobs = [(a, s) for a in assignments for s in submissions(course, a)
            if only is None or s in only]
    results = [] if results is None else results
    bar = tqdm(total=len(jobs), desc="grading", unit="notebook", disable=not progress)

    def done(job: GradeJob):
        results.append(job)
        bar.update()

    staging, running = root / STAGING, root / RUNNING
    for folder in (staging, running):
        shutil.rmtree(folder, ignore_errors=True)  # what a run that was stopped left behind
    # the grader's folders for the kernels (GradingExecute's control_dir) of this run: a
    # grading process that dies cannot remove its own; by the end every kernel is gone
    controls = Path(tempfile.mkdtemp(prefix="nncourse-"))
    try:
        intakes, keys = {}, {}
        inputs = _Inputs(course)
        reusable = _reusable(course, jobs, inputs) if only is None and not regrade_all else {}
        for a, s in jobs:
            if (a, s) in reusable:
                done(reusable[a, s])
                continue
            keys[a, s] = inputs.key(a, s)  # before staging: a later change is a change
            _forget(course, a, s)  # from here on, that grading is not this submission's
            taken = _stage(course, a, s, staging)
            if taken.staged:
                intakes[a, s] = taken
            else:  # nothing gradable: the notes say why
                done(GradeJob(a, s, False, "", "", 0.0, tuple(taken.notes)))
        if intakes:
            _create_students(course, sorted({s for _, s in intakes}))
            workers = max(1, min(workers or os.cpu_count() or 1, len(intakes)))
            running.mkdir(parents=True)

            def graded(job: GradeJob):
                job = replace(job, notes=tuple(intakes[job.assignment, job.student].notes)
                              + job.notes)
                if job.success:
                    _remember(course, job, keys.get((job.assignment, job.student)))
                done(job)

            course.memo[__name__, "controls"] = str(controls)
            _grade_staged(course, list(intakes), workers, running, graded)
            finished = {(job.assignment, job.student) for job in results}
            for a, s in intakes:  # none is ever left without a line (and a 0)
                if (a, s) not in finished:
                    graded(not_graded(a, s, "not graded: grading ended without a result for "
                                            f"this notebook; grade it again with "
                                            f"`nncourse grade {a} --student {s}`"))
    finally:
        for folder in (staging, running, controls):
            shutil.rmtree(folder, ignore_errors=True)
        bar.close()
    return sorted(results, key=lambda job: (job.assignment, job.student))


def _stage(course: Course, assignment: str, student: str, staging: Path) -> intake.Intake:
    """Stage one submission; whatever goes wrong is that student's note, never the run's."""
    if not plain_id(student):
        return intake.Intake(assignment, student, False, [
            f"the submission folder's name {quoted(student)} is not a plain student id "
            "(letters, digits and . _ @ + -, starting with a letter or digit): not graded; "
            "rename the folder"])
    try:
        return intake.stage(course, assignment, student, staging)
    except Exception as error:
        shutil.rmtree(staging / student / assignment, ignore_errors=True)
        return intake.Intake(assignment, student, False, [
            f"submission could not be staged ({type(error).__name__}: {quoted(str(error))}): "
            "not graded"])


def _create_students(course: Course, students):
    """Add the students to the gradebook first: parallel workers must not race to insert them."""
    with course.gradebook() as gb:
        for student in students:
            gb.update_or_create_student(student)


# --- what was graded last, and whether it still holds ----------------------------------

class _Inputs:
    """What the grading of a submission depends on, as digests (worked out once per run)."""

    def __init__(self, course: Course):
        self.course = course
        self._keys: dict = {}
        self._assignments: dict = {}
        self._grader = None

    def key(self, assignment: str, student: str) -> dict | None:
        """The digests of the submission, its assignment, the course secret and the
        grader; None when one cannot be worked out (then it is graded, and not recorded)."""
        if (assignment, student) not in self._keys:
            try:
                if self._grader is None:
                    self._grader = _grader_digest(self.course)
                if assignment not in self._assignments:
                    self._assignments[assignment] = _assignment_digest(self.course, assignment)
                submitted = _folder_digest(self.course.folder("submitted", student, assignment),
                                           limit=intake.DEFAULT_MAX_BYTES)
                key = {"assignment": assignment, "student": student, "submission": submitted,
                       "release": self._assignments[assignment], **self._grader}
            except Exception:  # unreadable, unreleased...: grade it, as if it were new
                key = None
            self._keys[assignment, student] = key
        return self._keys[assignment, student]


def _reusable(course: Course, jobs, inputs: _Inputs) -> dict:
    """{(assignment, student): GradeJob} for the submissions unchanged since their last
    grading, which is still the gradebook's."""
    candidates = []
    for a, s in jobs:
        record = _read_record(course, a, s)
        if record is not None and record["key"] == inputs.key(a, s):
            candidates.append((a, s, record))
    reused = {}
    if not candidates:
        return reused
    # whatever cannot be read here (the gradebook, autograded/) is graded again
    with contextlib.suppress(Exception), course.gradebook() as gb:
        for a, s, record in candidates:
            try:
                state = _graded_state(course, gb, a, s)
            except Exception:
                continue
            if state is None or state != record["graded"]:
                continue
            reused[a, s] = GradeJob(
                a, s, True, "", "", 0.0,
                (f"not graded again: unchanged since {record['graded_at']}",
                 *record["notes"]), reused=True)
    return reused


def _remember(course: Course, job: GradeJob, key: dict | None) -> None:
    """Record what ``job`` (a success) graded, to tell next time whether it changed."""
    path = _record_path(course, job.assignment, job.student)
    if key is None or path is None:
        return
    from datetime import datetime

    partial = None
    try:
        with course.gradebook() as gb:
            state = _graded_state(course, gb, job.assignment, job.student)
        if state is None:  # the gradebook does not hold it all: next time grades it again
            return
        record = {"key": key, "graded": state,
                  "graded_at": datetime.now().astimezone().isoformat(timespec="seconds"),
                  "notes": list(job.notes), "seconds": round(job.seconds, 3)}
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, partial = tempfile.mkstemp(dir=path.parent, prefix=".record-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(record, f, indent=1)
        os.replace(partial, path)
    except Exception:  # no record costs only a regrade next time; never this run
        if partial:
            with contextlib.suppress(OSError):
                os.unlink(partial)


def _forget(course: Course, assignment: str, student: str) -> None:
    """Remove the record of an earlier grading: this one is about to replace it."""
    path = _record_path(course, assignment, student)
    if path is not None:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def _record_path(course: Course, assignment: str, student: str) -> Path | None:
    # a plain id has no / and cannot be . or ..: it names a file in the folder
    return course.root / GRADED / assignment / f"{student}.json" if plain_id(student) else None


def _read_record(course: Course, assignment: str, student: str) -> dict | None:
    """The record of the last grading, if there is one that can be read."""
    path = _record_path(course, assignment, student)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (AttributeError, OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("key"), dict) \
            or not isinstance(record.get("graded"), str) \
            or not isinstance(record.get("graded_at"), str) \
            or not isinstance(record.get("notes"), list) \
            or not all(isinstance(note, str) for note in record["notes"]):
        return None
    return record


def _graded_state(course: Course, gb, assignment: str, student: str) -> str | None:
    """A digest of what the gradebook and autograded/ hold of the submission's grading
    (every test cell's score, the timestamp and extension, the graded files); None
    unless every autograded test cell of every notebook has a score."""
    from nbgrader.api import MissingEntry

    try:
        submission = gb.find_submission(assignment, student)
    except MissingEntry:
        return None
    expected, tests = set(), set()
    for notebook in submission.assignment.notebooks:
        answers = {cell.name for cell in notebook.solution_cells}  # graded by hand
        for cell in notebook.grade_cells:
            expected.add((notebook.name, cell.name))
            if cell.cell_type == "code" and cell.name not in answers:
                tests.add((notebook.name, cell.name))
    scores = []
    for notebook in submission.notebooks:
        for grade in notebook.grades:
            if (notebook.name, grade.name) in tests and grade.auto_score is None:
                return None
            scores.append([notebook.name, grade.name, grade.auto_score])
    folder = course.folder("autograded", student, assignment)
    if {(n, g) for n, g, _ in scores} != expected or not all(
            (folder / f"{notebook.name}.ipynb").is_file()
            for notebook in submission.assignment.notebooks):
        return None
    return _digest({"scores": sorted(scores), "timestamp": str(submission.timestamp),
                    "extension": str(submission.extension),
                    "autograded": _folder_digest(folder)})


def _assignment_digest(course: Course, assignment: str) -> str:
    """The assignment as released: its cells, points and due date in the gradebook, and
    the files of its release folder."""
    with course.gradebook() as gb:
        source = gb.find_assignment(assignment)
        described = {"duedate": str(source.duedate), "notebooks": [{
            "name": nb.name, "kernelspec": nb.kernelspec,
            "grade": sorted([c.name, c.cell_type, c.max_score] for c in nb.grade_cells),
            "task": sorted([c.name, c.cell_type, c.max_score] for c in nb.task_cells),
            "solution": sorted(c.name for c in nb.solution_cells),
            "source": sorted([c.name, c.cell_type, c.locked, c.checksum, c.source]
                             for c in nb.source_cells),
        } for nb in sorted(source.notebooks, key=lambda nb: nb.name)]}
    release = course.folder("release", ".", assignment)
    described["release"] = _folder_digest(release) if release.is_dir() else ""
    return _digest(described)


#: The parts of course_lib that never run while a notebook is graded (the command line,
#: the LMS intake, the report written from the gradebook afterwards): changing them
#: regrades no one.
_AROUND_GRADING = ("__pycache__", "*.pyc", "grading/cli.py", "grading/collect.py",
                   "grading/report.py", "grading/templates")


def _grader_digest(course: Course) -> dict:
    """The course secret's fingerprint, and a digest of the grader: course_lib (the
    grader, the checks, the references they judge with, what the kernel imports) but
    :data:`_AROUND_GRADING`, the course's config and the tools' versions."""
    import nbgrader
    import numpy

    import course_lib

    configured = course.config.GradingExecute.get("secret_folder")
    key = secret.course_secret(Path(configured) if isinstance(configured, str) and configured
                               else course.root)
    config = course.root / "nbgrader_config.py"
    return {"secret": secret.fingerprint(key), "grader": _digest({
        "course_lib": _folder_digest(Path(course_lib.__file__).parent,
                                     ignore=_AROUND_GRADING),
        "config": _file_digest(config) if config.is_file() else "",
        "versions": [nbgrader.__version__, numpy.__version__, sys.version]})}


def _folder_digest(folder: Path, limit: int | None = None, ignore=()) -> str:
    """sha256 of everything in ``folder``: each entry's relative name, its kind, and a
    file's bytes (or a link's target: links are not followed).

    A file over ``limit`` bytes counts by its size alone: intake never reads one that
    large (it checks the size first), so its bytes cannot change a grade, and a huge
    file is not read at every run. Entries whose name or relative path matches a
    pattern of ``ignore`` are left out. Unreadable entries raise.
    """
    from fnmatch import fnmatch

    def raise_(error):
        raise error

    def kept(root, name):
        relative = Path(root, name).relative_to(folder).as_posix()
        return not any(fnmatch(name, p) or fnmatch(relative, p) for p in ignore)

    digest = hashlib.sha256()
    for root, dirs, files in os.walk(folder, onerror=raise_):
        dirs[:] = sorted(d for d in dirs if kept(root, d))
        for name in sorted(dirs + [f for f in files if kept(root, f)]):
            path = Path(root, name)
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                kind, content = b"link", os.fsencode(os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                kind, content = b"folder", b""
            elif not stat.S_ISREG(info.st_mode):  # a pipe, a device: never read
                kind, content = b"other", oct(info.st_mode).encode()
            elif limit is not None and info.st_size > limit:
                kind, content = b"file", f"{info.st_size} bytes, not read".encode()
            else:
                kind, content = b"file", _file_digest(path).encode()
            # no name or target holds a NUL byte: each entry reads back one way only
            digest.update(b"\0".join([os.fsencode(path.relative_to(folder).as_posix()), kind,
                                      content]) + b"\0\n")
    return digest.hexdigest()


def _file_digest(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


# --- the pool, and what happens when a worker dies -------------------------------------

def _grade_staged(course: Course, jobs: list, workers: int, running: Path, done) -> None:
    """Grade ``jobs`` in pools of ``workers`` processes; a dead worker costs only its job."""
    queue, suspects = list(jobs), []
    while queue:
        left, in_flight = _pool_round(course, queue, workers, running, done)
        if left and not in_flight and len(left) < len(queue):
            queue = [job for job in queue if job in left]  # a worker died between jobs
            continue
        if left and not in_flight:  # the workers died outside any job: they cannot start
            for a, s in sorted(left):
                done(not_graded(a, s, "not graded: the grading worker processes stopped "
                                      "before they could grade this notebook; grade it again "
                                      f"with `nncourse grade {a} --student {s}`"))
            break
        suspects += sorted(in_flight)
        queue = [job for job in queue if job in left and job not in in_flight]
    for a, s in suspects:  # each alone: if its worker dies again, it is the culprit
        left, _ = _pool_round(course, [(a, s)], 1, running, done)
        if left:
            done(not_graded(a, s, "the grading worker died while grading this notebook "
                                  "(killed, out of memory, or crashed by it): not graded; "
                                  f"check it, then grade it alone with "
                                  f"`nncourse grade {a} --student {s}`"))


def _pool_round(course: Course, jobs: list, workers: int, running: Path, done):
    """Grade ``jobs`` in one pool. Returns (jobs not finished, jobs being graded when the
    pool broke); both are empty when no worker died."""
    context = _worker_context()
    left = set(jobs)
    pool = ProcessPoolExecutor(min(workers, len(jobs)), mp_context=context,
                               initializer=_start_worker,
                               initargs=(str(course.root), course.sandbox, str(running),
                                         course.memo.get((__name__, "controls"), ""),
                                         dict(os.environ)))
    try:
        futures = {pool.submit(_autograde, a, s): (a, s) for a, s in jobs}
        for future in as_completed(futures):
            a, s = futures[future]
            try:
                job = future.result()
            except BrokenProcessPool:  # a worker died: this job is left for another round
                continue
            except Exception as error:  # raised past _autograde's own handler
                job = GradeJob(a, s, False, "", f"{type(error).__name__}: {error}", 0.0)
            left.discard((a, s))
            done(job)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    in_flight = set()
    for marker in running.glob("*.json"):
        with contextlib.suppress(OSError, ValueError, TypeError):
            in_flight.add(tuple(json.loads(marker.read_text())))
        marker.unlink(missing_ok=True)
    return left, in_flight & left


#: What a grading worker imports, once, in the fork server its workers are forked from
_WORKER_IMPORTS = ["course_lib.grading.pipeline", "course_lib.grading.execute",
                   "nbgrader.apps", "nbgrader.converters", "nbgrader.api"]


def _worker_context():
    """Workers forked from a fork server: a clean process started once per grading process,
    which has imported what a worker needs. Each worker starts as clean as a spawned one,
    without its two to three seconds of imports (the second pool of a run, and every pool
    after, starts at once), and takes the environment of the pool's caller (_start_worker)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_WORKER_IMPORTS)  # no effect once the server runs
    return context


_COURSE = None  # one per worker process
_RUNNING = None


def _start_worker(root: str, sandbox: bool, running: str, controls: str = "",
                  environ: dict | None = None):
    global _COURSE, _RUNNING
    import warnings

    if environ is not None:  # the caller's environment now, not the fork server's at its start
        os.environ.clear()
        os.environ.update(environ)

    from sqlalchemy.exc import SAWarning

    # nbgrader's API triggers SQLAlchemy's "not in session" warning whenever it grades a
    # student's first submission (with one worker too); its results are unaffected
    # (make bench-grade compares every score with plain nbgrader's)
    warnings.filterwarnings("ignore", category=SAWarning)
    _COURSE = Course(Path(root), sandbox)
    if controls:
        _COURSE.config.GradingExecute.control_root = controls
    _COURSE.api.coursedir.submitted_directory = str(STAGING)
    _RUNNING = Path(running)


def _autograde(assignment: str, student: str) -> GradeJob:
    start = time.perf_counter()
    marker = _RUNNING / f"{os.getpid()}.json"
    marker.write_text(json.dumps([assignment, student]))  # removed below, unless this dies
    try:
        try:
            result = _COURSE.api.autograde(assignment, student, force=True, create=False)
        except Exception as exc:  # nbgrader's own failure: reported, never fatal to the class
            result = {"success": False, "error": f"{type(exc).__name__}: {exc}", "log": ""}
        return GradeJob(assignment, student, bool(result.get("success")),
                        result.get("log") or "", result.get("error") or "",
                        time.perf_counter() - start, _graded_notes(assignment, student))
    finally:
        marker.unlink(missing_ok=True)


def _graded_notes(assignment: str, student: str) -> tuple:
    """What the graded notebooks say happened (a dead kernel, a time limit, cut output)."""
    import nbformat

    from .execute import events

    folder = _COURSE.folder("autograded", student, assignment)
    notes = []
    for path in sorted(folder.glob("*.ipynb")):
        try:
            lines = events(nbformat.read(path, as_version=4))
        except Exception:  # an unreadable graded notebook is reported by autograde itself
            continue
        for line in lines:
            line = _one_line(line)
            if line not in notes:
                notes.append(line)
    return tuple(notes)


def _one_line(line: str, limit: int = 300) -> str:
    """An event line as it is when it is printable and short, else quoted on one line."""
    line = str(line)
    return line if line.isprintable() and len(line) <= limit else quoted(line, limit)
