"""Helpers for tests that run the course's notebooks and the real nbgrader."""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
RELEASE = ROOT / "notebooks"

#: Every assignment: (folder, notebook name without .ipynb).
ASSIGNMENTS = sorted(
    (path.parent.name, path.stem)
    for path in SOLUTIONS.glob("[0-9]*/*.ipynb")
    if ".ipynb_checkpoints" not in path.parts
)


def nbgrader(course: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the real nbgrader command line in ``course``; fail with its log if it fails."""
    # nbgrader runs `alembic` and kernels by name: find them beside this Python first
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent),
                                                 os.environ.get("PATH", "")])}
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course, capture_output=True, text=True, timeout=timeout, env=env,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"nbgrader {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


def make_course(path: Path, folders=None) -> Path:
    """A scratch copy of the course (config and sources), with assignments released.

    ``folders`` names the assignments to release; all of them by default. nbgrader
    releases each set of assignments once per test session; every course is a copy.
    """
    folders = tuple(folders or [folder for folder, _ in ASSIGNMENTS])
    shutil.copytree(_released(folders), path, dirs_exist_ok=True)
    return path


#: Under pytest-xdist, a folder all test processes of the run share (tests/conftest.py
#: makes it, and removes it when the run ends): each set of assignments is released once
#: per run, by the first process that needs it.
SHARED = os.environ.get("NN_COURSE_TESTS_SHARED")


@functools.cache
def _released(folders: tuple) -> Path:
    """A course with ``folders`` released by the real nbgrader, made on first use and
    removed when the test session ends."""
    if SHARED:
        import fcntl

        path = Path(SHARED) / ("release-" + "-".join(folders)) / "course"
        path.parent.mkdir(parents=True, exist_ok=True)
        with (path.parent / "lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # the others wait while one releases
            if not (path.parent / "released").exists():
                shutil.rmtree(path, ignore_errors=True)
                _release(path, folders)
                (path.parent / "released").touch()
        return path
    path = Path(tempfile.mkdtemp(prefix="nn-course-release-")) / "course"
    atexit.register(shutil.rmtree, path.parent, True)
    _release(path, folders)
    return path


def _release(path: Path, folders: tuple) -> None:
    path.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", path)
    shutil.copytree(SOLUTIONS, path / "solutions",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    for folder in folders:
        nbgrader(path, "generate_assignment", folder, "--force")


def file_tree(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of the bytes (or the target of a link), links not followed."""
    tree = {}
    for root, dirs, files in os.walk(folder):
        for name in files + dirs:
            path = Path(root, name)
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink():
                tree[rel] = "link to " + os.readlink(path)
            elif path.is_file():
                tree[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return tree


def cell_by_grade_id(nb, grade_id: str):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise KeyError(f"no cell with grade_id {grade_id!r}")


def submit(course: Path, student: str, folder: str, name: str, nb) -> Path:
    """Put notebook ``nb`` where nbgrader collects ``student``'s submission."""
    target = course / "submitted" / student / folder / f"{name}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target


def graded_cells(nb) -> dict[str, dict]:
    """grade_id -> nbgrader metadata, for the autograded test cells of a notebook."""
    cells = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
            cells[meta["grade_id"]] = meta
    return cells


def exercise_of(grade_id: str) -> str:
    """The exercise a test cell belongs to: ``relu-visible`` and ``relu-hidden`` -> ``relu``."""
    return grade_id.rsplit("-", 1)[0]


_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$", re.MULTILINE)


def answered(release_nb, source_nb):
    """The release notebook with every solution cell filled in as the instructor did."""
    nb = nbformat.from_dict(release_nb)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            source = cell_by_grade_id(source_nb, meta["grade_id"]).source
            cell.source = _MARKER.sub("", source)
    return nb


def course_with_answers(path: Path, folder: str, name: str, config: str = ""):
    """A scratch course with ``folder`` released: (course, release notebook, full answers).

    ``config`` is appended to the course's nbgrader_config.py (e.g. shorter time limits).
    """
    course = make_course(path, [folder])
    if config:
        with (course / "nbgrader_config.py").open("a") as f:
            f.write("\n" + config + "\n")
    release = nbformat.read(course / "notebooks" / folder / f"{name}.ipynb", as_version=4)
    full = answered(release, nbformat.read(course / "solutions" / folder / f"{name}.ipynb",
                                                as_version=4))
    return course, release, full


#: Typical student mistakes, as data: tests/mistakes/<assignment>.json maps a mistake's
#: name to {"cell": the solution cell's grade_id, "source": the wrong code, "says": text
#: the visible test cell's message must hold (the mistake named, or the line of the
#: student's code that raised), "was": what the message said before the fix, if useful}.
MISTAKES = Path(__file__).parent / "mistakes"


def mistakes_of(folder: str) -> dict[str, dict]:
    data = json.loads((MISTAKES / f"{folder}.json").read_text(encoding="utf-8"))
    return {name: m for name, m in data.items() if not name.startswith("_")}


def visible_verdicts(folder: str, name: str, mistakes: dict[str, dict]) -> dict[str, str]:
    """What the visible test cell says to a student who made each mistake: mistake name ->
    the text of the cell's error ("" when the cell passed).

    One kernel for the notebook: the instructor's setup and solution cells run once, in
    order; then for each mistake the wrong source runs in place of its solution cell,
    followed by that exercise's visible test cell, and the right source runs again.
    """
    from nbclient import NotebookClient

    path = SOLUTIONS / folder / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    client = NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    verdicts = {}
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "code" and (meta.get("solution") or
                                             meta.get("grade_id") == "setup"):
                client.execute_cell(cell, index)
                failed = [o for o in cell.outputs if o.output_type == "error"]
                assert not failed, f"{meta.get('grade_id')}: {failed}"
        scratch = len(nb.cells)  # one more cell, where each cell of a mistake runs
        nb.cells.append(nbformat.v4.new_code_cell(""))
        for mistake, m in mistakes.items():
            right = by_id[m["cell"]]
            wrong = nbformat.v4.new_code_cell(m["source"])
            test = nbformat.v4.new_code_cell(by_id[f"{m['cell']}-visible"].source)
            client.execute_cell(wrong, scratch)
            client.execute_cell(test, scratch)
            verdicts[mistake] = "\n".join(
                "\n".join([o.get("evalue", ""), *o.get("traceback", [])])
                for o in [*wrong.outputs, *test.outputs] if o.output_type == "error")
            client.execute_cell(nbformat.v4.new_code_cell(right.source), scratch)
    return verdicts


@functools.cache
def _verdicts(folder: str, name: str) -> dict[str, str]:
    return visible_verdicts(folder, name, mistakes_of(folder))


def assert_caught(folder: str, name: str, mistake: str) -> None:
    """The visible test cell fails for ``mistake`` of tests/mistakes/<folder>.json, with a
    message holding its ``says`` (the mistake named, or the student's line that raised).
    The notebook's kernel runs once for all its mistakes."""
    said = _verdicts(folder, name)[mistake]
    assert said, f"{mistake}: the visible test cell passed"
    assert mistakes_of(folder)[mistake]["says"] in said, said


#: Per assignment, students whose notebook is right but for one solution cell, read from
#: tests/wrong_submissions/<assignment>.json: student -> {"cell": grade_id of the solution
#: cell, "source": its wrong code, "fails": the test cells it must fail}.
WRONG_SUBMISSIONS = Path(__file__).parent / "wrong_submissions"


def _wrong(folder: str) -> dict:
    # a notebook without its file yet has none (tests/test_course.py asks for it by name)
    path = WRONG_SUBMISSIONS / f"{folder}.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    return {student: case for student, case in data.items() if not student.startswith("_")}


WRONG = {folder: _wrong(folder) for folder, _ in ASSIGNMENTS}


def wrong_together(folder: str) -> dict[str, tuple[str, ...]]:
    """The graded class's wrong submissions of ``folder``, two students of WRONG to a
    notebook: submission id -> the students whose wrong cells it holds (of two different
    exercises; the last may be alone). Each notebook is right but for those cells, so the
    class is graded in half the notebooks, and a wrong cell that cost any other exercise
    points still shows, in every exercise but its partner's."""
    left = list(WRONG[folder])
    together = {}
    while left:
        first = left.pop(0)
        partner = next((s for s in left if WRONG[folder][s]["cell"] != WRONG[folder][first]["cell"]),
                       None)
        if partner is not None:
            left.remove(partner)
        students = (first,) if partner is None else (first, partner)
        together["+".join(students)] = students
    return together


def wrong_notebook(release, source, folder: str, students) -> nbformat.NotebookNode:
    """The instructor's answers in ``release``, but for the wrong cells of ``students``."""
    nb = answered(release, source)
    for student in students:
        case = WRONG[folder][student]
        cell_by_grade_id(nb, case["cell"]).source = case["source"]
    return nb


def grade_the_class(path: Path) -> Path:
    """The course's one graded class: every assignment released, submitted by "solution"
    (the instructor's answers), "untouched" (the release) and the students of
    tests/wrong_submissions, two to a notebook (wrong_together), graded by ``nncourse
    grade`` (the real nbgrader, in the sandbox, every core), with feedback. Grading, the
    static figures and the feedback tests all read this one run, so each solution notebook
    is graded once per session."""
    from course_lib.grading.cli import main

    course = make_course(path)
    for folder, name in ASSIGNMENTS:
        release = nbformat.read(course / "notebooks" / folder / f"{name}.ipynb", as_version=4)
        source = nbformat.read(course / "solutions" / folder / f"{name}.ipynb", as_version=4)
        submit(course, "solution", folder, name, answered(release, source))
        submit(course, "untouched", folder, name, release)
        for submission, students in wrong_together(folder).items():
            submit(course, submission, folder, name,
                   wrong_notebook(release, source, folder, students))
    assert main(["--course", str(course), "grade", "--no-progress"]) == 0
    for folder, _ in ASSIGNMENTS:
        assert main(["--course", str(course), "feedback", folder]) == 0
    return course


def points(folder: str, name: str, exercise: str | None = None, written: bool = False) -> float:
    """Points of the released notebook, from its nbgrader metadata: of its autograded test
    cells (of one ``exercise``'s, if given), or with ``written`` of its hand-graded answers.
    Tests take their totals from here, never as numbers of their own."""
    nb = nbformat.read(RELEASE / folder / f"{name}.ipynb", as_version=4)
    if written:
        return float(sum(c.metadata["nbgrader"].get("points", 0) for c in nb.cells
                         if c.cell_type != "code" and c.metadata.get("nbgrader", {}).get("grade")))
    return float(sum(meta["points"] for grade_id, meta in graded_cells(nb).items()
                     if exercise is None or exercise_of(grade_id) == exercise))
