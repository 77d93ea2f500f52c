"""Helpers for tests that run the course's notebooks and the real nbgrader."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
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

    ``folders`` names the assignments to release; all of them by default.
    """
    path.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "nbgrader_config.py", path)
    shutil.copytree(SOLUTIONS, path / "solutions",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    for folder in folders or [folder for folder, _ in ASSIGNMENTS]:
        nbgrader(path, "generate_assignment", folder, "--force")
    return path


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
