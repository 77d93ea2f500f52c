"""The course as students and instructors see it: JupyterLab in a real browser.

For every assignment, in Debian's Chromium driven by Playwright, against a JupyterLab
started from the project's environment:

- the instructor's notebook runs all its cells without an error output, and every
  widget it shows is drawn (its figure loaded, no "Error displaying widget");
- one control of every widget is moved as a person would (a dropdown chosen, a button
  pressed, a slider dragged) and its figure changes;
- nbgrader's Validate button, pressed in the untouched student notebook of the first
  assignment, tells the student which tests fail; pressed in that notebook with its
  answers filled in, it says the notebook passes. (The button's path is the same in
  every notebook; that each release fails untouched and passes answered is what the
  graded class shows for every assignment: tests/test_grading.py.)

The instructor's run here is the course's run of each solution notebook in a kernel: it
also asserts that nothing was written to stderr.

Screenshots of each step are saved under test-artifacts/browser/.
"""

from __future__ import annotations

import itertools
import json
import time

import nbformat
import pytest
from browser_tools import (
    VIEWPORT,
    change_each_dashboard,
    chromium,
    jupyter_server,
    scratch_course,
    screenshot,
    wait_until_drawn,
)
from course_tools import ASSIGNMENTS, RELEASE, answered

#: a dashboard's output in a cell: a widget box holding its controls and its figure (the
#: progress bars a training run shows are widgets too, but rows, not boxes)
WIDGET_OUTPUT = (".jp-Cell-outputArea > .jp-OutputArea-child > "
                 ".jp-OutputArea-output:has(> .jupyter-widgets.widget-vbox)")
#: a notebook runs in seconds here; the margin is for a machine busy with other tests
RUN_TIMEOUT_MS = 300_000
TIMINGS = {}
#: the assignment whose notebook Validate is pressed in
VALIDATED = ASSIGNMENTS[:1]
_PAGES = itertools.count()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(base url, token, course folder, browser) shared by the module's tests."""
    root = scratch_course(tmp_path_factory.mktemp("browser") / "course")
    for folder, name in VALIDATED:  # the student notebook with the answers filled in
        release = nbformat.read(root / "notebooks" / folder / f"{name}.ipynb", as_version=4)
        solution = nbformat.read(root / "solutions" / folder / f"{name}.ipynb", as_version=4)
        nbformat.write(answered(release, solution),
                       root / "notebooks" / folder / f"{name}-answered.ipynb")
    start = time.perf_counter()
    with jupyter_server(root) as (base, token), chromium() as browser:
        TIMINGS["server start"] = round(time.perf_counter() - start, 1)
        yield base, token, root, browser


@pytest.fixture
def open_notebook(lab):
    """open_notebook("solutions/01_activations/activations.ipynb") -> a Page, kernel idle."""
    base, token, _, browser = lab
    contexts = []

    def open_(path):
        context = browser.new_context(viewport=VIEWPORT)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(RUN_TIMEOUT_MS)
        # a fresh workspace: otherwise JupyterLab reopens the last page's notebooks too
        workspace = f"w{next(_PAGES)}"
        page.goto(f"{base}/lab/workspaces/{workspace}/tree/{path}?token={token}&reset")
        page.wait_for_function(_KERNEL_IDLE)
        return page

    yield open_
    for context in contexts:
        context.close()


# JavaScript run in the page, against JupyterLab's application object
# (exposed by --LabApp.expose_app_in_browser).
_CURRENT = "const panel = window.jupyterapp.shell.currentWidget;"
_KERNEL_IDLE = ("() => { const app = window.jupyterapp; if (!app) return false;"
                " const panel = app.shell.currentWidget;"
                " const kernel = panel && panel.sessionContext"
                "   && panel.sessionContext.session && panel.sessionContext.session.kernel;"
                " return !!kernel && kernel.status === 'idle'"
                "   && panel.content.widgets.length > 0; }")
_RUN_ALL = ("async () => { " + _CURRENT +
            " return await window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
_OUTPUTS = ("() => { " + _CURRENT + " const found = [];"
            " panel.content.widgets.forEach((cell, index) => {"
            "   if (cell.model.type !== 'code') return;"
            "   cell.model.outputs.toJSON().forEach(out => found.push({cell: index,"
            "     type: out.output_type, ename: out.ename || null, evalue: out.evalue || null,"
            "     stderr: out.output_type === 'stream' && out.name === 'stderr' ? out.text : null,"
            "     widget: !!(out.data && out.data['application/vnd.jupyter.widget-view+json']"
            "       && out.data['image/png'])}));"
            " }); return found; }")


@pytest.mark.parametrize(("folder", "name"), ASSIGNMENTS)
def test_instructor_notebook_runs_and_its_widgets_respond(open_notebook, folder, name):
    start = time.perf_counter()
    page = open_notebook(f"solutions/{folder}/{name}.ipynb")
    all_ran = page.evaluate(_RUN_ALL)
    outputs = page.evaluate(_OUTPUTS)
    errors = [o for o in outputs if o["type"] == "error"]
    assert not errors, f"error outputs: {errors}"
    assert all_ran, "JupyterLab reports that running all cells failed"
    stderr = [o for o in outputs if o["stderr"]]
    assert not stderr, f"the notebook wrote to stderr: {stderr}"
    # (a dashboard's output also carries the picture it leaves where no kernel runs)
    widgets = sum(o["widget"] for o in outputs)
    assert widgets > 0, "no dashboard was displayed"
    wait_until_drawn(page, WIDGET_OUTPUT, widgets)
    TIMINGS[f"{folder} run all"] = round(time.perf_counter() - start, 1)
    screenshot(page, f"{folder}-instructor")

    done = change_each_dashboard(page, WIDGET_OUTPUT,
                                 [f"{folder}-widget{i + 1}" for i in range(widgets)])
    errors = [o for o in page.evaluate(_OUTPUTS) if o["type"] == "error"]
    assert not errors, f"moving the controls raised: {errors}"
    TIMINGS[f"{folder} widgets"] = done


def _validate(page):
    """Press nbgrader's Validate button; return (passed, the dialog's text)."""
    page.locator("jp-button.validate-button").click()
    dialog = page.locator(".nbgrader-SuccessDialog, .nbgrader-ErrorDialog")
    dialog.wait_for()
    text = dialog.inner_text()
    passed = page.locator(".nbgrader-SuccessDialog .validation-success").count() > 0
    return passed, text


@pytest.mark.parametrize(("folder", "name"), VALIDATED)
def test_validate_tells_a_student_where_they_stand(open_notebook, folder, name):
    start = time.perf_counter()
    page = open_notebook(f"notebooks/{folder}/{name}.ipynb")
    passed, text = _validate(page)
    screenshot(page, f"{folder}-validate-untouched")
    assert not passed and "failed" in text.lower(), text
    assert page.locator(".nbgrader-ErrorDialog .validation-failed").count() == 1, text
    # the failing tests are named by what they test: the student's own exercise names
    assert _first_exercise(nbformat.read(RELEASE / folder / f"{name}.ipynb", as_version=4)) \
        in text, text
    # and what the student reads is the check's message, not course_lib's machinery
    assert "ExerciseFailed: " in text or "NotImplementedError" in text, text
    assert "_engine.py" not in text, text

    page = open_notebook(f"notebooks/{folder}/{name}-answered.ipynb")
    passed, text = _validate(page)
    screenshot(page, f"{folder}-validate-answered")
    assert passed, text
    assert "Success" in text, text
    TIMINGS[f"{folder} validate"] = round(time.perf_counter() - start, 1)


def _first_exercise(nb) -> str:
    """The first function a student has to write (its name appears in the failing test)."""
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code" and "def " in cell.source:
            return cell.source.split("def ", 1)[1].split("(", 1)[0]
    raise AssertionError("no exercise in the notebook")


def teardown_module():
    from browser_tools import ARTIFACTS
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "timings.json").write_text(json.dumps(TIMINGS, indent=1))
