"""Where no kernel runs, every widget leaves its figure behind.

A widget's output is only a reference to a model in a kernel. A student's HTML
feedback from nbgrader, or a notebook read on a code-hosting site, has no kernel:
each widget must show there the figure it last drew, not an empty box. The
check goes through the real pipeline: a class's full answers to every
assignment are graded by ``nncourse grade``, feedback is made by ``nncourse
feedback``, and the graded notebooks are converted by nbconvert's own HTML.
"""

from __future__ import annotations

import base64
import re
import subprocess
import sys

import nbformat
import pytest
from course_tools import ASSIGNMENTS

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
STUDENT = "solution"  # the graded class's student with full answers


@pytest.fixture
def graded(graded_class):
    """The course's one graded class (conftest): full answers to every assignment graded
    by ``nncourse grade``, feedback made by ``nncourse feedback``."""
    return graded_class


def _widget_outputs(nb):
    return [output for cell in nb.cells if cell.cell_type == "code"
            for output in cell.outputs if WIDGET_VIEW in output.get("data", {})]


def _pictures(nb):
    """The PNG, base64 as in the notebook (whitespace dropped), each widget left behind."""
    return [re.sub(r"\s", "", output.data["image/png"]) for output in _widget_outputs(nb)]


def _graded_notebook(course, folder, name):
    return nbformat.read(course / "autograded" / STUDENT / folder / f"{name}.ipynb",
                         as_version=4)


@pytest.mark.parametrize(("folder", "name"), ASSIGNMENTS)
def test_every_widget_in_a_graded_notebook_carries_its_picture(graded, folder, name):
    """Each widget output also holds a PNG of its figure, and no widget state is saved."""
    nb = _graded_notebook(graded, folder, name)
    outputs = _widget_outputs(nb)
    assert outputs, "the notebook displays no widget"
    for output in outputs:
        assert "image/png" in output.data, output.data.get("text/plain")
        png = base64.b64decode(output.data["image/png"])
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000
        assert "interactive" in output.data["text/plain"]
    # with saved widget state, HTML exporters would wait for widget JavaScript instead
    assert "widgets" not in nb.metadata


@pytest.mark.parametrize(("folder", "name"), ASSIGNMENTS)
def test_feedback_shows_each_widget_as_its_picture(graded, folder, name):
    """nbgrader's HTML feedback has every picture and no widget left to be drawn."""
    html = (graded / "feedback" / STUDENT / folder / f"{name}.html").read_text()
    pictures = _pictures(_graded_notebook(graded, folder, name))
    for picture in pictures:
        assert f"data:image/png;base64,{picture}" in html
    assert WIDGET_VIEW not in html


@pytest.mark.parametrize(("folder", "name"), ASSIGNMENTS)
def test_nbconvert_html_shows_each_widget_as_its_picture(graded, folder, name, tmp_path):
    """JupyterLab's own HTML export (nbconvert's lab template) shows the pictures too."""
    notebook = graded / "autograded" / STUDENT / folder / f"{name}.ipynb"
    subprocess.run([sys.executable, "-m", "nbconvert", "--to", "html", "--output-dir",
                    str(tmp_path), str(notebook)], check=True, capture_output=True)
    html = (tmp_path / f"{name}.html").read_text()
    for picture in _pictures(_graded_notebook(graded, folder, name)):
        assert f"data:image/png;base64,{picture}" in html
    assert WIDGET_VIEW not in html


def test_a_trained_dashboard_leaves_its_trained_picture(graded):
    """DigitsTrainer trains after it is displayed: the picture left is of the training."""
    folder, name = next(a for a in ASSIGNMENTS if a[0].startswith("05"))
    nb = _graded_notebook(graded, folder, name)
    trainer_outputs = [output for cell in nb.cells if cell.cell_type == "code"
                       and "trainer.widget" in cell.source for output in cell.outputs
                       if WIDGET_VIEW in output.get("data", {})]
    assert len(trainer_outputs) == 1

    from course_lib.widgets._render import figure_png
    from course_lib.widgets.optimizers import plot_training

    untrained = base64.b64encode(figure_png(plot_training([], 30), dpi=80)).decode()
    assert re.sub(r"\s", "", trainer_outputs[0].data["image/png"]) != untrained
