"""What every widget of the course promises, checked on all eleven and on every presenter preset.

Each widget is a live dashboard (course_lib.widgets._render.live_dashboard): its
controls over a figure. Every one of them:

- redraws its figure, once, when any control changes, and draws a new picture when
  that control is shown; every control is either one that redraws or a setting of
  the next run (the digits trainer's), none is forgotten;
- draws the same picture, byte for byte, for the same inputs;
- turns broken student code into a note on the figure, in the words of
  course_lib.widgets._student, and never into a traceback.

The topic files (test_widgets_<topic>.py) check what each widget draws.
"""

from __future__ import annotations

import math
import re

import ipywidgets as w
import pytest

from course_lib import presenter
from course_lib.data import load_digits
from course_lib.widgets.activations import EXPLORER_FUNCTIONS
from course_lib.widgets.autoencoders import autoencoder_explorer
from course_lib.widgets.backprop import gradient_norm_explorer
from course_lib.widgets.deep_networks import depth_explorer
from course_lib.widgets.forward_pass import (
    activation_statistics_explorer,
    universal_approximation_explorer,
)
from course_lib.widgets.losses import loss_explorer, saturation_explorer
from course_lib.widgets.optimizers import DigitsTrainer, optimizer_race
from course_lib.widgets.regularization import generalization_gap

#: the first preset of each widget: the eleven dashboards, each as a lecture opens it
FIRST_PRESETS = list({preset.widget: name for name, preset in reversed(presenter.PRESETS.items())}
                     .values())[::-1]


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def _elsewhere(control):
    """A value of ``control`` other than its own (None: a Button, to be clicked)."""
    if isinstance(control, w.Button):
        return None
    if isinstance(control, (w.Checkbox, w.ToggleButton)):
        return not control.value
    if hasattr(control, "index") and hasattr(control, "options"):  # a menu: the next option
        return ("index", (control.index + 1) % len(control.options))
    # a slider: one step up, or down at the end (a small step keeps the test quick)
    if isinstance(control, (w.FloatRangeSlider, w.IntRangeSlider)):
        lo, hi = control.value
        step = control.step if lo - control.step >= control.min else -control.step
        return (lo - step, hi)
    base = getattr(control, "base", None)  # a log slider's min, max and step are exponents
    position = math.log(control.value, base) if base else control.value
    position += control.step if position + control.step <= control.max else -control.step
    return base ** position if base else position


def _set(control, value):
    if isinstance(value, tuple) and value[:1] == ("index",):
        control.index = value[1]
    else:
        control.value = value


def _state(board):
    return [getattr(control, "index", None) if hasattr(control, "options") else control.value
            for control in board.controls + board.settings if not isinstance(control, w.Button)]


def _build(name):
    """The dashboard of preset ``name`` at a notebook's size (a projector's costs twice the time)."""
    preset = presenter.PRESETS[name]
    settings = dict(preset.settings)
    if preset.widget == "DigitsTrainer":
        settings["epochs"] = 5  # its run, and each click, trains this many epochs, not 30
    board = presenter.WIDGETS[preset.widget](**settings)
    for label, value in preset.controls.items():
        _control(board, label).value = value
    return board


def _control(board, label):
    (found,) = [x for x in _walk(board) if getattr(x, "description", None) == label]
    return found


@pytest.mark.parametrize("name", FIRST_PRESETS)
def test_every_control_redraws_once_and_changes_the_picture(name):
    board = _build(name)
    interactive = [x for x in _walk(board) if isinstance(x, (w.ValueWidget, w.Button))
                   and x is not board.figure]
    assert set(map(id, interactive)) == set(map(id, board.controls + board.settings)), (
        "every control of a dashboard redraws it or is a setting of the next run")
    assert board.controls, "a dashboard with nothing that redraws it"
    for control in board.controls:
        before, redraws, state = bytes(board.figure.value), board.redraws, _state(board)
        value = _elsewhere(control)
        if value is None:
            control.click()
        else:
            previous = ("index", control.index) if hasattr(control, "index") else control.value
            _set(control, value)
        # once: a new surface resets six sliders and redraws once (a training run draws
        # as it learns)
        done = board.redraws - redraws
        assert done == 1 or (value is None and done >= 1), f"{control.description}: {done}"
        if control.layout.display != "none":  # (a hidden control draws nothing of its own)
            assert bytes(board.figure.value) != before, control.description
        if value is not None:
            _set(control, previous)
            if _state(board) == state:  # the same inputs again: the same picture
                assert bytes(board.figure.value) == before, control.description


@pytest.mark.parametrize("name", list(presenter.PRESETS))
def test_the_same_inputs_draw_the_same_picture(name):
    board = _build(name)
    first = bytes(board.figure.value)
    assert first.startswith(b"\x89PNG")
    board.redraw()
    assert bytes(board.figure.value) == first


def _boom(*args, **kwargs):
    return 1 / 0


def _not_yet(*args, **kwargs):
    raise NotImplementedError


def _optimizer(fail):
    class Broken:
        def __init__(self, lr, **hyper):
            pass

        def step(self, params, grads):
            fail()

    return Broken


#: widget -> (its dashboard built on student code whose every function fails with ``fail``)
_LOSSES = ("mse", "mse_grad", "cross_entropy", "cross_entropy_grad")
BROKEN = {
    "activation_explorer": lambda fail: presenter.WIDGETS["activation_explorer"](
        student={name: fail for pair in EXPLORER_FUNCTIONS.values() for name in pair if name}),
    "universal_approximation_explorer": lambda fail: universal_approximation_explorer(fail),
    "activation_statistics_explorer": lambda fail: activation_statistics_explorer(
        {"dense_forward": fail, "he_init": fail, "xavier_init": fail}),
    "loss_explorer": lambda fail: loss_explorer({name: fail for name in _LOSSES}),
    "saturation_explorer": lambda fail: saturation_explorer({name: fail for name in _LOSSES}),
    "gradient_norm_explorer": lambda fail: gradient_norm_explorer(fail),
    "optimizer_race": lambda fail: optimizer_race(
        {name: _optimizer(fail) for name in ("GD", "Momentum", "Adam")}),
    "DigitsTrainer": lambda fail: _trained(DigitsTrainer({"Adam": _optimizer(fail)},
                                                         load_digits(), progress=False)),
    "generalization_gap": lambda fail: generalization_gap(
        {"regularized_loss_and_grads": fail, "EarlyStopping": fail}),
    "autoencoder_explorer": lambda fail: autoencoder_explorer(
        {name: fail for name in ("pca_fit", "pca_transform", "pca_reconstruct",
                                 "autoencoder_loss_and_grads")}),
    "depth_explorer": lambda fail: depth_explorer({"deep_forward": fail, "deep_backward": fail}),
}


def _trained(trainer):
    trainer.epochs.value = 5
    trainer.button.click()
    return trainer.widget


def test_every_widget_has_a_broken_student():
    assert set(BROKEN) == set(presenter.WIDGETS)


@pytest.mark.parametrize(("fail", "words"), [(_boom, "raised ZeroDivisionError: division by "
                                                     "zero"),
                                             (_not_yet, "not implemented yet")],
                         ids=["raises", "not-implemented"])
@pytest.mark.parametrize("widget", list(presenter.WIDGETS))
def test_broken_student_code_becomes_a_note(widget, fail, words, capsys):
    board = BROKEN[widget](fail)
    fig = board.draw()
    notes = [line for text in [*fig.texts, *(t for ax in fig.axes for t in ax.texts)]
             for line in text.get_text().splitlines()]
    # one wording in every widget (course_lib/widgets/_student.py): "your sigmoid raised
    # ...", "your mse_grad (with softmax) not implemented yet"
    said = re.compile(r"your \w+ (\(with [\w, ]+\) )?" + re.escape(words))
    assert any(said.search(line) for line in notes), notes
    assert bytes(board.figure.value).startswith(b"\x89PNG")
    assert "Traceback" not in capsys.readouterr().err
