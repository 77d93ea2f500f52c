"""`nncourse` called by its full path, without the venv on PATH (issue 12, item 1).

nbgrader runs ``alembic`` by name when it creates a gradebook. Run as
``.venv/bin/nncourse`` from a shell where the venv is not activated, ``release``
failed, and nbgrader deleted the released notebook it was replacing; ``export``
left a gradebook with no ``alembic_version`` table. nncourse now puts its own
Python's scripts folder first on PATH for nbgrader (course.tools_on_path).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from course_tools import RELEASE, ROOT, SOLUTIONS

FOLDER, NAME = "01_activations", "activations"


def _nncourse(course: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run the installed console script by its full path, with a PATH lacking the venv."""
    script = Path(sys.executable).parent / "nncourse"
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env["PATH"] = os.pathsep.join(p for p in ("/usr/local/bin", "/usr/bin", "/bin")
                                  if p != str(script.parent))
    assert shutil.which("alembic", path=env["PATH"]) is None  # the case that failed
    return subprocess.run([str(script), "--course", str(course), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_export_then_release_work_without_the_venv_on_path(tmp_path):
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(SOLUTIONS / FOLDER, course / "solutions" / FOLDER,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    released = course / "notebooks" / FOLDER / f"{NAME}.ipynb"
    released.parent.mkdir(parents=True)
    shutil.copy(RELEASE / FOLDER / f"{NAME}.ipynb", released)  # what a fresh clone has
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    done = _nncourse(course, "export", "--to", "grades.csv", cwd=elsewhere)
    assert done.returncode == 0, done.stdout + done.stderr
    with sqlite3.connect(course / "gradebook.db") as db:
        tables = {row[0] for row in db.execute("select name from sqlite_master")}
    assert "alembic_version" in tables

    done = _nncourse(course, "release", FOLDER, cwd=elsewhere)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{FOLDER}: released" in done.stdout
    assert released.exists()
    assert hashlib.sha256(released.read_bytes()).hexdigest() == hashlib.sha256(
        (RELEASE / FOLDER / f"{NAME}.ipynb").read_bytes()).hexdigest()


def _fresh_course(tmp_path: Path) -> tuple[Path, Path]:
    """A course as a fresh clone has it (sources and release, no gradebook), and a folder
    outside it to run from."""
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(SOLUTIONS / FOLDER, course / "solutions" / FOLDER,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    shutil.copytree(RELEASE / FOLDER, course / "notebooks" / FOLDER)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    return course, elsewhere


def test_a_failed_release_keeps_the_old_one_and_names_the_cause(tmp_path):
    """A solution notebook nbgrader rejects (two cells with one grade id): the old release
    stays byte for byte, and the one line says nbgrader's real reason and what to run."""
    course, elsewhere = _fresh_course(tmp_path)
    source = course / "solutions" / FOLDER / f"{NAME}.ipynb"
    nb = json.loads(source.read_text())
    ids = [c["metadata"]["nbgrader"]["grade_id"] for c in nb["cells"]
           if c["metadata"].get("nbgrader", {}).get("grade_id")]
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == ids[1]:
            cell["metadata"]["nbgrader"]["grade_id"] = ids[0]
    source.write_text(json.dumps(nb))
    released = course / "notebooks" / FOLDER / f"{NAME}.ipynb"
    before = released.read_bytes()

    done = _nncourse(course, "release", FOLDER, cwd=elsewhere)
    assert done.returncode == 1
    assert released.read_bytes() == before
    first = done.stderr.splitlines()[0]
    assert first == f"{FOLDER}: FAILED: jsonschema.exceptions.ValidationError: Duplicate " \
                    f"grade id: {ids[0]}"
    assert f"nncourse release {FOLDER}" in done.stderr and "Traceback" not in done.stderr
    assert (course / ".nncourse" / "logs" / f"release-{FOLDER}.log").exists()
    assert not (course / ".nncourse" / "releasing").exists()


def test_steps_out_of_order_say_what_to_run_first(tmp_path):
    """feedback before grading, grade before collecting, a misspelt assignment: one line,
    the command to run, no traceback; --course may follow the command."""
    course, elsewhere = _fresh_course(tmp_path)
    assert _nncourse(course, "release", FOLDER, cwd=elsewhere).returncode == 0
    cases = {
        ("feedback", FOLDER): f"nothing of {FOLDER} is graded yet: run `nncourse grade {FOLDER}`",
        ("grade", FOLDER): f"no submissions of {FOLDER} under submitted/: collect them first",
        ("feedback", "01_activation"): "no assignment 01_activation in solutions/",
    }
    for args, said in cases.items():
        done = subprocess.run(
            [str(Path(sys.executable).parent / "nncourse"), *args, "--course", str(course)],
            cwd=elsewhere, capture_output=True, text=True, timeout=600)
        assert done.returncode != 0 and said in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
