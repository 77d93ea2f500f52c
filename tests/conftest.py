"""Shared fixtures: ``rng``, a fresh seeded Generator, ``unchanged``, a bitwise input check,
and ``graded_class``, the course's one graded class (course_tools.grade_the_class)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import numpy as np
import pytest

# Under pytest-xdist the test processes of a run share one folder (course_tools.SHARED,
# where each set of assignments is released once), which the controlling process removes
# at the end; and each test process gets a temporary folder of its own, so that a test
# that looks at what grading leaves in it (test_grading_isolation) sees only its own run.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
_RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID")
if _RUN:
    os.environ["NN_COURSE_TESTS_SHARED"] = str(Path(tempfile.gettempdir()) /
                                               f"nn-course-tests-{_RUN}")

from course_tools import grade_the_class  # noqa: E402  (reads NN_COURSE_TESTS_SHARED)

if _WORKER:
    _TMP = Path(tempfile.gettempdir()) / f"nn-course-tests-{_WORKER}"
    _TMP.mkdir(mode=0o755, exist_ok=True)
    _TMP.chmod(0o755)
    os.environ["TMPDIR"] = tempfile.tempdir = str(_TMP)


@pytest.fixture
def rng():
    """A new ``np.random.default_rng(0)`` for every test: the same numbers on every run."""
    return np.random.default_rng(0)


@pytest.fixture
def unchanged():
    """Context manager asserting that the given arrays are bit-identical on exit.

    ``with unchanged(X, W): dense_forward(X, W, b)`` snapshots copies on entry and
    compares dtype, shape and the raw bytes afterwards, so even ``-0.0`` for
    ``0.0`` counts as a modification. Arrays passed by keyword are named in the
    failure message: ``unchanged(**params)``.
    """

    @contextlib.contextmanager
    def check(*arrays, **named):
        items = [(f"argument {i}", a) for i, a in enumerate(arrays)] + list(named.items())
        before = [np.array(a, copy=True) for _, a in items]
        yield
        for (name, a), b in zip(items, before, strict=True):
            assert a.dtype == b.dtype and a.shape == b.shape, f"{name} changed dtype or shape"
            assert a.tobytes() == b.tobytes(), f"{name} was modified in place"

    return check


@pytest.fixture(autouse=True)
def _notebook_figure_scale():
    """Every test starts with figures drawn at a notebook's size (presenter mode changes it)."""
    from course_lib.widgets._render import set_figure_scale

    set_figure_scale(1.0)
    yield
    set_figure_scale(1.0)


@pytest.fixture(scope="session")
def graded_class(tmp_path_factory, worker_id):
    """The course folder of the one graded class of the session (see grade_the_class).

    Under pytest-xdist the test processes share it: the first to need it grades it, in
    the folder they have in common, while the others wait; they only read it.
    """
    if worker_id == "master":
        return grade_the_class(tmp_path_factory.mktemp("graded-class"))
    shared = tmp_path_factory.getbasetemp().parent
    with (shared / "graded-class.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        course = shared / "graded-class"
        if not (course / ".graded").exists():
            shutil.rmtree(course, ignore_errors=True)
            grade_the_class(course)
            (course / ".graded").touch()
    return course


#: The slow tiers, by test file; a test of another file that runs a kernel says so by its
#: name (the typical mistakes run through a notebook). `make test-fast` runs the rest.
TIERS = {
    "browser": {"test_browser_demo.py", "test_browser_lab.py"},
    "env": {"test_environment.py"},
    "grading": {"test_grading.py", "test_grading_attacks.py", "test_grading_attacks_12.py",
                "test_grading_execute.py",
                "test_grading_cli.py", "test_grading_course.py", "test_grading_isolation.py",
                "test_grading_regrade.py", "test_instructor_path.py", "test_nncourse_path.py",
                "test_static_figures.py", "test_intake.py", "test_intake_fuzz.py",
                "test_collect.py", "test_widgets_grading.py"},
    "kernel": {"test_notebooks.py", "test_presenter.py", "test_sandbox.py"},
}


#: Under pytest-xdist (`make test` runs two processes, --dist loadfile), each file's tests
#: run in one process, so that its module and session fixtures are built once; files that
#: share a fixture built once per session, or must not run at the same time as each other,
#: form one group (the scheduler below).
GROUPS = {
    # the one graded class (conftest's graded_class): one process grades it, the other
    # would only wait for it
    "test_grading.py": "graded-class", "test_static_figures.py": "graded-class",
    # one Chromium at a time: two browsers and their kernels on two cores only wait longer
    "test_browser_lab.py": "browser", "test_browser_demo.py": "browser",
}

#: The longest groups first, so that the test processes end at about the same time; the rest
#: follow in the order of collection. The graded class first: in a fresh-clone run of 7
#: notebooks in two processes it took 373 s (beside the browser tests), the browser tests
#: about 330 s, the attack class 110 s, the environment 90 s; in three processes the graded
#: class took 521 s and the run no less time.
LONGEST_FIRST = ("graded-class", "browser", "test_grading_attacks.py", "test_environment.py",
                 "test_grading_regrade.py", "test_instructor_path.py", "test_grading_cli.py",
                 "test_notebooks.py", "test_presenter.py")


def _group(path: str) -> str:
    """The group of a test file (its name, or its GROUPS entry)."""
    name = path.rsplit("/", 1)[-1]
    return GROUPS.get(name, name)


def pytest_collection_modifyitems(items):
    for item in items:
        name = item.path.name
        for tier, files in TIERS.items():
            if name in files:
                item.add_marker(tier)
        if "typical_mistake" in item.name:
            item.add_marker("kernel")
    rank = {group: i for i, group in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_group(item.path.name), len(rank)))  # stable


def pytest_xdist_make_scheduler(config, log):
    """--dist loadfile, with the files of a GROUPS entry sent to one process together.

    (pytest-xdist's own groups, --dist loadgroup, rename the tests' node ids, which pytest 9
    no longer lets a plugin do: its groups are silently ignored.)"""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FilesAndGroups(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _group(nodeid.split("::", 1)[0])

    return FilesAndGroups(config, log)


def _controls_workers(config) -> bool:
    return not hasattr(config, "workerinput") and config.getoption("dist", "no") != "no"


def pytest_configure(config):
    """The controlling process of a pytest-xdist run names the run (its workers' shared
    folder is named after it), so that it can remove that folder at the end."""
    if _controls_workers(config) and not config.option.testrunuid:
        config.option.testrunuid = uuid.uuid4().hex


def pytest_sessionfinish(session):
    if _controls_workers(session.config):
        shutil.rmtree(Path(tempfile.gettempdir()) /
                      f"nn-course-tests-{session.config.option.testrunuid}", ignore_errors=True)
