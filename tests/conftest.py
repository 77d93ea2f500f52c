"""Shared fixtures: ``rng``, a fresh seeded Generator, ``unchanged``, a bitwise input check,
and ``graded_class``, the course's one graded class (course_tools.grade_the_class)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from course_tools import grade_the_class

# Under pytest-xdist each test process gets a temporary folder of its own, so that a test
# that looks at what grading leaves in it (test_grading_isolation) sees only its own run.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
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


def pytest_collection_modifyitems(items):
    for item in items:
        name = item.path.name
        for tier, files in TIERS.items():
            if name in files:
                item.add_marker(tier)
        if "typical_mistake" in item.name:
            item.add_marker("kernel")
