"""The course as nbgrader sees it, loaded in one place: its config, its folders, its API.

Every part of grading (collect, intake, the pipeline, the report, the command line)
gets the course from here, so that the course's ``nbgrader_config.py`` is read the
same way everywhere, and one run builds one :class:`Course` (one config, one
``CourseDirectory``, at most one ``NbGraderAPI``) instead of one per call::

    course = Course(Path("."))
    course.coursedir.submitted_directory      # nbgrader's folders, as configured
    with course.gradebook() as gb: ...        # the gradebook, with a busy timeout
    course.api.autograde(...)                 # nbgrader's API, built on first use

:func:`tools_on_path` puts this Python's own ``bin`` folder first on ``PATH``:
nbgrader runs ``alembic`` (and kernels) by name, so without it a command run as
``.venv/bin/nncourse`` from a shell where the venv is not activated fails.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["DB_BUSY_TIMEOUT", "Course", "CourseConfigError", "as_course", "load_api",
           "tools_on_path"]

#: Seconds a grading worker waits for the gradebook while another writes it.
DB_BUSY_TIMEOUT = 300


class CourseConfigError(ValueError):
    """The course's nbgrader_config.py cannot be read; the message says which and why."""


class Course:
    """nbgrader's view of the course at ``root``: config, ``CourseDirectory``, gradebook, API.

    Parameters
    ----------
    root : Path
        The course folder (holding nbgrader_config.py).
    sandbox : bool, default True
        Whether the API's Autograde runs kernels in the sandbox (GradingExecute.sandbox).
    """

    def __init__(self, root: Path, sandbox: bool = True):
        from nbgrader.coursedir import CourseDirectory

        self.root = Path(root).resolve()
        self.sandbox = sandbox
        self.config = _load_config(self.root)
        self.config.CourseDirectory.root = str(self.root)
        self.config.CourseDirectory.db_url = (f"sqlite:///{self.root / 'gradebook.db'}"
                                              f"?timeout={DB_BUSY_TIMEOUT}")
        self.config.GradingExecute.sandbox = sandbox
        self.coursedir = CourseDirectory(config=self.config)
        self._api = None
        #: what other modules read once per run (the gradebook's cells of an assignment,
        #: ...), under keys of their own: ``(module name, ...)``
        self.memo: dict = {}

    @property
    def api(self):
        """nbgrader's ``NbGraderAPI`` for the course (built once, on first use), whose
        Autograde runs :class:`~course_lib.grading.execute.GradingExecute`."""
        if self._api is None:
            from nbgrader.apps import NbGraderAPI

            self.config.Autograde.autograde_preprocessors = _autograde_steps()
            self._api = NbGraderAPI(coursedir=self.coursedir, config=self.config)
        return self._api

    def folder(self, kind: str, student: str, assignment: str) -> Path:
        """nbgrader's folder for ``kind`` ("submitted", "autograded", "release", ...)."""
        name = getattr(self.coursedir, f"{kind}_directory")
        return Path(self.coursedir.format_path(name, student, assignment))

    def has_gradebook(self) -> bool:
        return (self.root / "gradebook.db").exists()

    def gradebook(self):
        """nbgrader's ``Gradebook`` (a context manager) for the course."""
        from nbgrader.api import Gradebook

        return Gradebook(self.coursedir.db_url, self.coursedir.course_id)

    def released(self) -> set[str]:
        """The assignments in the gradebook (released with nbgrader)."""
        if not self.has_gradebook():
            return set()
        with self.gradebook() as gb:
            return {a.name for a in gb.assignments}


def as_course(course, sandbox: bool = True) -> Course:
    """``course`` itself if it is a :class:`Course`, else the Course at that folder."""
    return course if isinstance(course, Course) else Course(course, sandbox)


def load_api(course_root: Path, sandbox: bool = True):
    """nbgrader's API for the course at ``course_root``, configured by its nbgrader_config.py."""
    return Course(course_root, sandbox).api


def tools_on_path() -> None:
    """Put the folder of this Python's scripts (``alembic``, ``jupyter``) first on PATH.

    nbgrader runs ``alembic`` by name when it creates a gradebook; a kernel spec may
    name ``python``. Both must be this environment's, activated or not.
    """
    here = str(Path(sys.executable).parent)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if not parts or parts[0] != here:
        os.environ["PATH"] = os.pathsep.join([here, *(p for p in parts if p and p != here)])


def _load_config(root: Path):
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = Config()
    if (root / "nbgrader_config.py").is_file():
        try:
            config.merge(PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config())
        except Exception as error:  # the instructor's file: say which one failed, and why
            raise CourseConfigError(f"could not read {root / 'nbgrader_config.py'}: "
                                    f"{error}") from error
    return config


def _autograde_steps() -> list:
    """nbgrader's autograde preprocessors, with its Execute replaced by GradingExecute."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    from .execute import GradingExecute

    steps = Autograde.class_traits()["autograde_preprocessors"].default()
    return [GradingExecute if step is Execute else step for step in steps]
