"""Notebook 03's widgets: they draw the reference, react to their controls, survive the student."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from course_lib import activations as act
from course_lib import losses as ref
from course_lib.widgets._render import figure_png
from course_lib.widgets.losses import (
    descend_logit,
    loss_explorer,
    plot_losses,
    plot_saturation,
    saturation_explorer,
)

REFERENCE = {name: getattr(ref, name) for name in ref.__all__}


def _line(ax, prefix):
    """The one line of ``ax`` whose label starts with ``prefix`` (the student's only if named)."""
    found = [line for line in ax.get_lines() if line.get_label().startswith(prefix)
             and ("(yours)" in prefix or "(yours)" not in line.get_label())]
    assert len(found) == 1, [line.get_label() for line in ax.get_lines()]
    return found[0]


def _notes(fig):
    return [text.get_text() for ax in fig.axes for text in ax.texts
            if text.get_color() == "#d62728"]  # the student's notes; bar values are black


def _nyi(*args):
    raise NotImplementedError()


def _raises(*args):
    return 1 / 0


# ---------------------------------------------------------------- the reference curves


def test_loss_curves_are_the_reference_losses_of_one_sample():
    """Left panel: cross_entropy([[z0, z1, z2]], [0]) and mse(softmax(z), onehot(0)) at every z0."""
    fig = plot_losses(-1.0, (2.0, -0.5), None)
    ax = fig.axes[0]
    ce, mse = _line(ax, "cross-entropy"), _line(ax, "MSE")
    z0 = ce.get_xdata()
    logits = [np.array([[t, 2.0, -0.5]]) for t in z0]
    expected_ce = [ref.cross_entropy(z, np.array([0])) for z in logits]
    expected_mse = [ref.mse(act.softmax(z[0]), np.array([1.0, 0.0, 0.0])) for z in logits]
    np.testing.assert_allclose(ce.get_ydata(), expected_ce, rtol=1e-12)
    np.testing.assert_allclose(mse.get_ydata(), expected_mse, rtol=1e-12)


def test_loss_panel_shows_the_softmax_at_the_chosen_logits():
    """Right panel: the bars are softmax(z0, z1, z2), and the title gives both losses there."""
    fig = plot_losses(0.5, (1.0, -2.0), None)
    bars = fig.axes[1]
    heights = [patch.get_height() for patch in bars.containers[0]]
    np.testing.assert_allclose(heights, act.softmax(np.array([0.5, 1.0, -2.0])), rtol=1e-12)
    ce = ref.cross_entropy(np.array([[0.5, 1.0, -2.0]]), np.array([0]))
    assert f"cross-entropy = {ce:.3f}" in bars.get_title()


def test_saturation_curves_are_the_reference_losses_and_gradients():
    """Loss and |dL/dz| of one sigmoid output with label 1, from the reference losses."""
    fig = plot_saturation(-6.0, 1.0, None)
    loss_ax, grad_ax, _ = fig.axes
    z = _line(loss_ax, "cross-entropy").get_xdata()
    p = act.sigmoid(z)
    two_logits = [np.array([[t, 0.0]]) for t in z]  # softmax(z, 0)_0 = sigma(z)
    expected_ce = [ref.cross_entropy(x, np.array([0])) for x in two_logits]
    expected_mse = [ref.mse(np.array([q]), np.array([1.0])) for q in p]
    np.testing.assert_allclose(_line(loss_ax, "cross-entropy").get_ydata(), expected_ce, rtol=1e-9)
    np.testing.assert_allclose(_line(loss_ax, "MSE").get_ydata(), expected_mse, rtol=1e-12)
    dce = [ref.cross_entropy_grad(x, np.array([0]))[0, 0] for x in two_logits]
    dmse = [ref.mse_grad(np.array([q]), np.array([1.0]))[0] * act.sigmoid_grad(t)
            for q, t in zip(p, z, strict=True)]
    np.testing.assert_allclose(_line(grad_ax, "cross-entropy").get_ydata(), np.abs(dce), rtol=1e-9)
    np.testing.assert_allclose(_line(grad_ax, "MSE").get_ydata(), np.abs(dmse), rtol=1e-12)


def test_descend_logit_one_step_by_hand():
    """From z = 0, lr = 1: CE's gradient is sigma(0) - 1 = -1/2, MSE's 2 (-1/2)(1/4) = -1/4."""
    z_mse, z_ce = descend_logit(0.0, 1.0, 1)
    np.testing.assert_allclose(z_ce, [0.0, 0.5], rtol=1e-15)
    np.testing.assert_allclose(z_mse, [0.0, 0.25], rtol=1e-15)


def test_cross_entropy_recovers_from_saturation_and_mse_does_not():
    """The notebook's claim: from z = -6, 30 steps of lr 1 fix CE's output but hardly move MSE's."""
    z_mse, z_ce = descend_logit(-6.0, 1.0, 30)
    assert act.sigmoid(np.array(z_ce[-1])) > 0.9
    assert act.sigmoid(np.array(z_mse[-1])) < 0.01


# ---------------------------------------------------------------- the student's curves


@pytest.mark.parametrize(("draw", "panel", "pairs"), [
    (lambda student: plot_losses(-2.0, (1.0, 0.0), student), 0,
     [("cross-entropy (yours)", "cross-entropy"), ("MSE (yours)", "MSE of")]),
    (lambda student: plot_saturation(-6.0, 1.0, student), 1,
     [("cross-entropy (yours)", "cross-entropy $"), ("MSE (yours)", "MSE $")]),
], ids=["losses", "saturation"])
def test_correct_student_functions_overlay_the_reference_exactly(draw, panel, pairs):
    """With the reference as the student's functions, the dashed curves coincide; no notes."""
    fig = draw(REFERENCE)
    for yours, reference in pairs:
        np.testing.assert_allclose(_line(fig.axes[panel], yours).get_ydata(),
                                   _line(fig.axes[panel], reference).get_ydata(), rtol=1e-9)
    assert _notes(fig) == []
    for ax in fig.axes:
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


def test_wrong_functions_are_flagged_where_they_differ():
    """A doubled loss and a gradient without its factor 2 are drawn and noted."""
    student = dict(REFERENCE,
                   cross_entropy=lambda logits, labels: 2 * ref.cross_entropy(logits, labels),
                   mse_grad=lambda y_pred, y_true: (y_pred - y_true) / y_pred.size)
    notes = _notes(plot_losses(-2.0, (1.0, 0.0), student))
    assert len(notes) == 1 and notes[0].startswith("your cross_entropy differs: at z0 = ")
    notes = _notes(plot_saturation(-6.0, 1.0, student))
    assert len(notes) == 1 and notes[0].startswith("your mse_grad differs: at z = ")


@pytest.mark.parametrize(("broken", "note"), [
    (None, "not defined yet"),
    (_nyi, "not implemented yet"),
    (_raises, "raised ZeroDivisionError"),
    (lambda *args: None, "raised ValueError"),
    (lambda a, b: np.zeros(5), "raised ValueError"),
])
def test_unfinished_or_broken_student_code_becomes_a_note(broken, note):
    """Neither widget raises because of the student's code: every broken function is noted."""
    student = {name: broken for name in REFERENCE} if broken else {}
    for fig, names in ((plot_losses(-2.0, (1.0, 0.0), student), ("cross_entropy", "mse")),
                       (plot_saturation(-6.0, 1.0, student), ("cross_entropy_grad", "mse_grad"))):
        notes = "\n".join(_notes(fig))
        for name in names:
            assert re.search(rf"your {name} (\(with [\w, ]+\) )?{note}", notes), notes


def test_student_warnings_and_nan_do_not_escape():
    """A student's function that returns nan or overflows is drawn as far as it goes, silently."""
    student = dict(REFERENCE, cross_entropy=lambda logits, labels: np.float64(np.nan),
                   mse_grad=lambda y_pred, y_true: np.exp(1000.0 * y_pred))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fig in (plot_losses(-2.0, (1.0, 0.0), student), plot_saturation(-6.0, 1.0, student)):
            assert "differs" in "\n".join(_notes(fig))
            figure_png(fig)


# ---------------------------------------------------------------- the controls


def test_loss_explorer_redraws_when_each_control_moves():
    """Each of the three logits changes the picture; it starts drawn."""
    box = loss_explorer(REFERENCE)
    controls, image = box.children[0].children, box.children[1]
    assert bytes(image.value).startswith(b"\x89PNG")
    for control, value in zip(controls, (3.0, -2.5, 2.0), strict=True):
        before = bytes(image.value)
        control.value = value
        assert bytes(image.value) != before, control.description


def test_saturation_explorer_redraws_when_each_control_moves():
    """The logit and the learning rate each change the picture; it starts drawn."""
    box = saturation_explorer(REFERENCE)
    (logit, rate), image = box.children[0].children, box.children[1]
    assert bytes(image.value).startswith(b"\x89PNG")
    before = bytes(image.value)
    logit.value = 2.0
    after_logit = bytes(image.value)
    assert after_logit != before
    rate.value = 3.0
    assert bytes(image.value) != after_logit


def test_explorers_work_without_student_functions():
    """Called with nothing, both widgets draw the reference only."""
    for box in (loss_explorer(), saturation_explorer()):
        assert bytes(box.children[1].value).startswith(b"\x89PNG")


def test_same_inputs_draw_the_same_picture():
    """Figures are deterministic: the same controls give the same PNG."""
    assert (figure_png(plot_losses(-2.0, (1.0, 0.0), REFERENCE))
            == figure_png(plot_losses(-2.0, (1.0, 0.0), REFERENCE)))
    assert (figure_png(plot_saturation(-6.0, 1.0, REFERENCE))
            == figure_png(plot_saturation(-6.0, 1.0, REFERENCE)))
