"""The student's release as a student first runs it, with a real kernel.

Untouched, the release runs top to bottom: only the unfinished exercises and their
tests fail, every demonstration and widget still works around them, and no cell
claims that the student's (blank) code works. (The instructor's notebooks run top to
bottom in JupyterLab, in tests/test_browser_lab.py, which also asserts no error and
nothing on stderr.)
"""

from __future__ import annotations

import functools
import json
import re
import time
from pathlib import Path

import nbformat
import pytest
from course_tools import ASSIGNMENTS, RELEASE, ROOT, SOLUTIONS
from nbclient import NotebookClient

ARTIFACTS = ROOT / "test-artifacts"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _execute(path: Path, allow_errors: bool):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=allow_errors,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    ARTIFACTS.mkdir(exist_ok=True)
    timing = ARTIFACTS / "notebook-times.json"
    record = json.loads(timing.read_text()) if timing.exists() else {}
    record[str(path.relative_to(ROOT))] = round(seconds, 2)
    timing.write_text(json.dumps(record, indent=1, sort_keys=True))
    return nb


def _errors(nb):
    return [(cell.metadata.get("nbgrader", {}).get("grade_id"), out)
            for cell in nb.cells if cell.cell_type == "code"
            for out in cell.outputs if out.output_type == "error"]


@functools.cache
def _blank_run(folder: str, name: str):
    """The student's release run untouched, top to bottom, once per test session."""
    return _execute(RELEASE / folder / f"{name}.ipynb", allow_errors=True)


@pytest.mark.parametrize(("folder", "name"), ASSIGNMENTS)
def test_student_release_fails_only_in_its_exercises(folder, name):
    """Run untouched, the release errors only in solution and test cells; demos and widgets work."""
    nb = _blank_run(folder, name)
    exercise_cells = {cell.metadata["nbgrader"]["grade_id"] for cell in nb.cells
                      if cell.metadata.get("nbgrader", {}).get("solution")
                      or cell.metadata.get("nbgrader", {}).get("grade")}
    errors = _errors(nb)
    assert errors, "an untouched release should fail its tests"
    outside = [(grade_id, out.ename, out.evalue) for grade_id, out in errors
               if grade_id not in exercise_cells]
    assert not outside, f"cells outside the exercises failed: {outside}"
    for grade_id, out in errors:
        assert out.ename in ("NotImplementedError", "ExerciseFailed"), (grade_id, out.ename)
    widgets = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
               if WIDGET_MIME in out.get("data", {})]
    assert widgets, "the widget must work before the exercises are done"


def _printed_lines(nb):
    """(cell index, line) for every line a cell printed or displayed as text, and the message
    of each error (not its traceback, which quotes the stub's `# YOUR CODE HERE`)."""
    lines = []
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                texts = [out.text]
            elif out.output_type == "error":
                texts = [out.evalue]
            else:
                data = out.get("data", {})
                texts = [data.get(mime, "") for mime in ("text/plain", "text/markdown",
                                                         "text/html")]
            lines += [(index, line) for text in texts
                      for line in "".join(text).splitlines()]
    return lines


_YOURS = re.compile(r"\byours?\b", re.IGNORECASE)
#: what a true sentence about a blank exercise says: it is not done, or the reference runs
_TRUE_OF_BLANK = re.compile(r"\bnot\b|n't\b|\breference\b", re.IGNORECASE)


@pytest.mark.parametrize(("folder", "name"), ASSIGNMENTS)
def test_blank_release_claims_nothing_of_yours(folder, name):
    """With every exercise blank, no cell says that the student's code runs or does well: no
    "✔ Using your", no "your ... reached", and every line that speaks of "your" code says it
    is not done yet or that the reference runs instead (issue 13, item 6)."""
    lines = _printed_lines(_blank_run(folder, name))
    assert not [(i, line) for i, line in lines if "\u2714 Using your" in line]
    assert not [(i, line) for i, line in lines
                if re.search(r"\byours?\b.*\breached\b", line, re.IGNORECASE)]
    false = [(i, line) for i, line in lines
             if _YOURS.search(line) and not _TRUE_OF_BLANK.search(line)]
    assert not false, f"cells speak of the student's code, which is blank: {false}"


@pytest.mark.parametrize("path", sorted(
    p.relative_to(ROOT) for top in (SOLUTIONS, RELEASE) for p in top.rglob("*.ipynb")
    if ".ipynb_checkpoints" not in p.parts
), ids=str)
def test_notebooks_are_stored_without_outputs(path):
    """Notebooks are source code: no outputs, no execution counts."""
    nb = nbformat.read(ROOT / path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]
