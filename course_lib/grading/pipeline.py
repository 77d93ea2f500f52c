"""Autograde a class in parallel, with nbgrader's own Autograde, one kernel per core.

nbgrader grades one submission after another. Here every (assignment, student)
pair is an independent job for nbgrader's Python API (``NbGraderAPI.autograde``,
the same code as ``nbgrader autograde``), run by a pool of worker processes. All
workers write the one SQLite gradebook; SQLite lets one writer in at a time,
and a generous busy timeout makes the others wait for their turn instead of
failing. The students are created in the gradebook before the pool starts,
so that no two workers race to insert the same rows.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from . import intake

__all__ = ["GradeJob", "load_api", "submissions", "released", "grade"]

#: Where submissions are staged (checked, fixed copies: see intake.py) while a run grades
#: them; nbgrader's submitted_directory points here, and submitted/ is only ever read.
STAGING = Path(".nncourse") / "staging"

#: Seconds a worker waits for the gradebook while another writes it.
DB_BUSY_TIMEOUT = 300


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


def load_api(course_root: Path, sandbox: bool = True):
    """nbgrader's API for the course at ``course_root``, configured by its nbgrader_config.py."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    root = Path(course_root).resolve()
    config = Config()
    if (root / "nbgrader_config.py").exists():
        config.merge(PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config())
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}?timeout={DB_BUSY_TIMEOUT}"
    config.Autograde.autograde_preprocessors = _autograde_steps()
    config.GradingExecute.sandbox = sandbox
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


def _autograde_steps() -> list:
    """nbgrader's autograde preprocessors, with its Execute replaced by GradingExecute."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    from .execute import GradingExecute

    steps = Autograde.class_traits()["autograde_preprocessors"].default()
    return [GradingExecute if step is Execute else step for step in steps]


def submissions(course_root: Path, assignment: str) -> list[str]:
    """The students with a submission of ``assignment`` under submitted/, sorted."""
    folder = Path(course_root) / "submitted"
    return sorted(p.parent.name for p in folder.glob(f"*/{assignment}") if p.is_dir())


def released(course_root: Path) -> set[str]:
    """The assignments in the course's gradebook (released with nbgrader)."""
    from nbgrader.api import Gradebook

    api = load_api(course_root)
    if not Path(api.coursedir.root, "gradebook.db").exists():
        return set()
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        return {a.name for a in gb.assignments}


def grade(course_root: Path, assignments, workers: int | None = None, progress: bool = True,
          sandbox: bool = True):
    """Autograde every submission of ``assignments``; return one :class:`GradeJob` each.

    Parameters
    ----------
    course_root : Path
        The course folder (holding nbgrader_config.py, submitted/, gradebook.db).
    assignments : iterable of str
    workers : int, optional
        Processes grading at once; default: every core.
    progress : bool, default True
        Show a progress bar.
    sandbox : bool, default True
        Run the students' kernels in the sandbox (:mod:`course_lib.grading.sandbox`).

    Returns
    -------
    list of GradeJob, sorted by assignment and student, whatever order they finished in.
    """
    from tqdm.auto import tqdm

    root = Path(course_root).resolve()
    jobs = [(a, s) for a in assignments for s in submissions(root, a)]
    _create_students(root, sorted({s for _, s in jobs}))
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs) or 1))
    results = []
    bar = tqdm(total=len(jobs), desc="grading", unit="notebook", disable=not progress)
    staging = root / STAGING
    shutil.rmtree(staging, ignore_errors=True)  # what a run that was stopped left behind
    try:
        intakes = {(a, s): intake.stage(root, a, s, staging) for a, s in jobs}
        for (a, s), taken in intakes.items():
            if not taken.staged:  # nothing gradable: the notes say why
                results.append(GradeJob(a, s, False, "", "", 0.0, tuple(taken.notes)))
                bar.update()
        # "spawn": each worker starts clean (no state inherited from the parent's imports)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                                 initargs=(str(root), sandbox)) as pool:
            futures = {pool.submit(_autograde, a, s): intakes[a, s]
                       for (a, s), taken in intakes.items() if taken.staged}
            for future in as_completed(futures):
                job = future.result()
                notes = tuple(futures[future].notes) + job.notes
                results.append(dataclasses.replace(job, notes=notes))
                bar.update()
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        bar.close()
    return sorted(results, key=lambda job: (job.assignment, job.student))


def _create_students(root: Path, students):
    """Add the students to the gradebook first: parallel workers must not race to insert them."""
    from nbgrader.api import Gradebook

    api = load_api(root)
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        for student in students:
            gb.update_or_create_student(student)


_API = None  # one per worker process


def _start_worker(root: str, sandbox: bool):
    global _API
    import warnings

    from sqlalchemy.exc import SAWarning

    # nbgrader's API triggers SQLAlchemy's "not in session" warning whenever it grades a
    # student's first submission (with one worker too); its results are unaffected
    # (make bench-grade compares every score with plain nbgrader's)
    warnings.filterwarnings("ignore", category=SAWarning)
    _API = load_api(Path(root), sandbox)
    _API.coursedir.submitted_directory = str(STAGING)


def _autograde(assignment: str, student: str) -> GradeJob:
    start = time.perf_counter()
    try:
        result = _API.autograde(assignment, student, force=True, create=False)
    except Exception as exc:  # nbgrader's own failure: reported, never fatal to the class
        result = {"success": False, "error": f"{type(exc).__name__}: {exc}", "log": ""}
    return GradeJob(assignment, student, bool(result.get("success")), result.get("log") or "",
                    result.get("error") or "", time.perf_counter() - start,
                    _graded_notes(assignment, student))


def _graded_notes(assignment: str, student: str) -> tuple:
    """What the graded notebooks say happened (a dead kernel, a time limit, cut output)."""
    import nbformat

    from .execute import events

    folder = Path(_API.coursedir.format_path(_API.coursedir.autograded_directory, student,
                                             assignment))
    notes = []
    for path in sorted(folder.glob("*.ipynb")):
        try:
            notes += [n for n in events(nbformat.read(path, as_version=4)) if n not in notes]
        except Exception:  # an unreadable graded notebook is reported by autograde itself
            continue
    return tuple(notes)
