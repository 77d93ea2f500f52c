"""The notebooks' widgets: they draw, react to their controls, and survive the student's code."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from course_lib import activations as ref
from course_lib.widgets import activation_explorer, plot_activation
from course_lib.widgets._render import figure_png
from course_lib.widgets.activations import EXPLORER_FUNCTIONS

REFERENCE = {name: getattr(ref, name) for name in ref.__all__ if name != "ACTIVATIONS"}


def _lines(fig):
    return {(ax.get_title(), line.get_label()): line for ax in fig.axes for line in ax.get_lines()
            if not line.get_label().startswith("_")}


def _notes(fig):
    return [text.get_text() for ax in fig.axes for text in ax.texts]


@pytest.mark.parametrize("entry", list(EXPLORER_FUNCTIONS))
def test_correct_functions_overlay_the_reference_exactly(entry):
    """With the reference as the student's functions, both curves coincide and nothing is flagged."""
    fig = plot_activation(entry, (-5.0, 5.0), 1.0, REFERENCE)
    lines = _lines(fig)
    for ax in fig.axes:
        ours = lines[(ax.get_title(), "reference")].get_ydata()
        yours = lines[(ax.get_title(), "yours")].get_ydata()
        np.testing.assert_allclose(yours, ours, rtol=1e-6, atol=1e-9)
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    assert _notes(fig) == []


def test_softmax_entry_is_the_sigmoid():
    """softmax([x, 0])[0] drawn from softmax equals sigmoid(x), and its slope sigma'(x)."""
    fig = plot_activation("softmax([x, 0])[0]", (-4.0, 4.0), 1.0, None)
    (f_line,), (grad_line,) = (ax.get_lines()[:1] for ax in fig.axes)
    x = f_line.get_xdata()
    np.testing.assert_allclose(f_line.get_ydata(), ref.sigmoid(x), rtol=1e-12)
    np.testing.assert_allclose(grad_line.get_ydata(), ref.sigmoid_grad(x), atol=1e-9)


def test_wrong_function_is_flagged_where_it_differs():
    """A wrong derivative is drawn and the panel says where it departs from the reference."""
    student = dict(REFERENCE, tanh_grad=lambda x: 1 - x**2)
    notes = _notes(plot_activation("tanh", (-3.0, 3.0), 1.0, student))
    assert len(notes) == 1 and notes[0].startswith("your tanh_grad differs: at x = ")


@pytest.mark.parametrize(("broken", "note"), [
    (None, "your sigmoid not defined yet"),
    ("nyi", "your sigmoid not implemented yet"),
    ("raises", "your sigmoid raised ZeroDivisionError"),
    ("shape", "your sigmoid returned shape (1,)"),
])
def test_unfinished_or_broken_student_code_becomes_a_note(broken, note):
    """The explorer never raises because of the student's code: it notes the problem instead."""
    def nyi(x):
        raise NotImplementedError()

    def raises(x):
        return 1 / 0

    student = dict(REFERENCE)
    student.pop("sigmoid")
    if broken:
        student["sigmoid"] = {"nyi": nyi, "raises": raises, "shape": lambda x: np.zeros(1)}[broken]
    notes = _notes(plot_activation("sigmoid", (-3.0, 3.0), 1.0, student))
    assert any(note in n for n in notes), notes


def test_explorer_redraws_when_a_control_moves():
    """Moving the function, the range or alpha changes the picture; it starts drawn."""
    box = activation_explorer(REFERENCE, entry="ELU")
    (choice, span, alpha), image = box.children[0].children, box.children[1]
    first = bytes(image.value)
    assert first.startswith(b"\x89PNG")
    alpha.value = 2.5
    assert bytes(image.value) != first
    after_alpha = bytes(image.value)
    span.value = (-2.0, 2.0)
    assert bytes(image.value) != after_alpha
    choice.value = "ReLU"
    assert alpha.layout.display == "none"  # alpha belongs to ELU only


def test_same_inputs_draw_the_same_picture():
    """Figures are deterministic: the same controls give the same PNG."""
    first = figure_png(plot_activation("sigmoid", (-6.0, 6.0), 1.0, REFERENCE))
    second = figure_png(plot_activation("sigmoid", (-6.0, 6.0), 1.0, REFERENCE))
    assert first == second



@pytest.fixture
def ipython():
    """An IPython shell for display() to publish to, gone after the test."""
    from IPython.core.interactiveshell import InteractiveShell

    yield InteractiveShell.instance()
    InteractiveShell.clear_instance()


def test_a_dashboard_leaves_its_current_figure_behind(ipython):
    """Displayed, a dashboard's output carries its figure's PNG; refresh_static re-sends it."""
    from IPython.display import display
    from IPython.utils.capture import capture_output

    explorer = activation_explorer(REFERENCE)
    image = explorer.children[-1]
    with capture_output() as shown:
        display(explorer)
    (first,) = shown.outputs
    assert base64.b64decode(first.data["image/png"]) == image.value
    assert "application/vnd.jupyter.widget-view+json" in first.data
    assert first.data["text/plain"].startswith("Activation explorer")

    explorer.children[0].children[0].value = "tanh"  # a control moved: a new figure
    assert base64.b64decode(first.data["image/png"]) != image.value
    with capture_output() as refreshed:
        explorer.refresh_static()
    (update,) = refreshed.outputs
    assert base64.b64decode(update.data["image/png"]) == image.value
    assert update.transient["display_id"] == first.transient["display_id"]
