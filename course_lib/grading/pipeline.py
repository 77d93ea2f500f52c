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
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path

from . import intake
from .course import DB_BUSY_TIMEOUT, Course, as_course, load_api
from .report import plain_id, quoted

__all__ = ["DB_BUSY_TIMEOUT", "GradeJob", "grade", "load_api", "not_graded", "submissions"]

#: Where submissions are staged (checked, fixed copies: see intake.py) while a run grades
#: them; nbgrader's submitted_directory points here, and submitted/ is only ever read.
STAGING = Path(".nncourse") / "staging"

#: Where each grading worker leaves a marker naming the job it is grading, while it does.
RUNNING = Path(".nncourse") / "running"

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


def submissions(course_root, assignment: str) -> list[str]:
    """The students with a submission of ``assignment`` under submitted/, sorted."""
    course = as_course(course_root)
    folder = Path(course.coursedir.root, course.coursedir.submitted_directory)
    return sorted(p.parent.name for p in folder.glob(f"*/{assignment}") if p.is_dir())


def not_graded(assignment: str, student: str, why: str, needs_regrade: bool = True) -> GradeJob:
    """The outcome of a job that was never graded, ``why`` in plain words."""
    return GradeJob(assignment, student, False, "", "", 0.0, (why,), needs_regrade)


def grade(course_root, assignments, workers: int | None = None, progress: bool = True,
          sandbox: bool = True, students=None, results: list | None = None):
    """Autograde every submission of ``assignments``; return one :class:`GradeJob` each.

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
        Grade only these students' submissions.
    results : list, optional
        Each GradeJob is appended here as soon as it is known, so that a caller keeps
        what was graded even if the run stops half-way (Ctrl-C, a full disk).

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
        intakes = {}
        for a, s in jobs:
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
                done(replace(job, notes=tuple(intakes[job.assignment, job.student].notes)
                             + job.notes))

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
    context = multiprocessing.get_context("spawn")  # each worker starts clean
    left = set(jobs)
    pool = ProcessPoolExecutor(min(workers, len(jobs)), mp_context=context,
                               initializer=_start_worker,
                               initargs=(str(course.root), course.sandbox, str(running),
                                         course.memo.get((__name__, "controls"), "")))
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


_COURSE = None  # one per worker process
_RUNNING = None


def _start_worker(root: str, sandbox: bool, running: str, controls: str = ""):
    global _COURSE, _RUNNING
    import warnings

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
