"""The widgets of notebook 05: the optimizer race and the digits trainer draw, react to their
controls, survive the student's code, match the reference, and are deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib import optim as ref
from course_lib.checks.optimizers import _AdamVariant, _GDVariant, _MomentumVariant, _variant
from course_lib.data import load_digits
from course_lib.network import MLP
from course_lib.train import fit
from course_lib.widgets._render import figure_png
from course_lib.widgets.optimizers import (
    OPTIMIZERS,
    SURFACES,
    DigitsTrainer,
    TrainingRun,
    optimizer_race,
    plot_race,
    plot_training,
    race_path,
)

#: Right implementations written one key at a time, as a student would: other classes than
#: the references, with the same arithmetic.
CORRECT = {"GD": _variant(_GDVariant), "Momentum": _variant(_MomentumVariant),
           "Adam": _variant(_AdamVariant)}


def _notes(fig):
    """The notes in the right-hand panel (the left one only labels the start)."""
    return [text.get_text() for text in fig.axes[-1].texts]


def _paths(fig):
    """label -> (x, y) of the lines on the map, and the dashed ones in order as 'yours i'."""
    ax_map = fig.axes[0]
    solid, dashed = {}, []
    for line in ax_map.get_lines():
        if line.get_linestyle() == "--" and len(line.get_xdata()):
            dashed.append(np.column_stack([line.get_xdata(), line.get_ydata()]))
        elif line.get_label().split("(")[0] in OPTIMIZERS:
            solid[line.get_label().split("(")[0]] = np.column_stack(
                [line.get_xdata(), line.get_ydata()])
    return solid, dashed


class _NotImplemented:
    def __init__(self, lr, **_):
        pass

    def step(self, params, grads):
        raise NotImplementedError()


class _Raises(_NotImplemented):
    def step(self, params, grads):
        return params["nope"]


class _NotInPlace(_NotImplemented):
    def __init__(self, lr, **_):
        self.lr = lr

    def step(self, params, grads):
        for key in params:
            params[key] = params[key] - self.lr * grads[key]


# ---------------------------------------------------------------- the race


@pytest.mark.parametrize("surface", list(SURFACES))
def test_race_draws_every_surface_titled_and_labelled(surface):
    """Each surface draws three paths, a loss panel, titles and axis labels, no note."""
    fig = plot_race(surface)
    solid, dashed = _paths(fig)
    assert set(solid) == set(OPTIMIZERS) and dashed == []
    for ax in fig.axes:
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert _notes(fig) == []
    for path in solid.values():  # every path starts at the surface's start
        np.testing.assert_allclose(path[0], SURFACES[surface].start)


@pytest.mark.parametrize("surface", list(SURFACES))
def test_correct_student_classes_overlay_the_reference(surface):
    """Right classes of the student's are drawn dashed exactly on the reference paths, unflagged."""
    fig = plot_race(surface, student=CORRECT)
    solid, dashed = _paths(fig)
    assert len(dashed) == 3
    for name, yours in zip(OPTIMIZERS, dashed, strict=True):
        np.testing.assert_allclose(yours, solid[name], rtol=1e-9, atol=1e-12)
    assert _notes(fig) == []


def test_reference_paths_are_the_optimizers_steps():
    """The drawn GD path is x_{k+1} = x_k - lr grad(x_k) on the surface, step by step."""
    s = SURFACES["ill-conditioned quadratic"]
    path, note = race_path(s, ref.GD, {"lr": 0.05}, 20)
    assert note is None and path.shape == (21, 2)
    x = np.array(s.start)
    for k in range(20):
        x = x - 0.05 * s.grad(*x)
        np.testing.assert_allclose(path[k + 1], x, rtol=1e-15)


def test_divergence_is_stopped_and_noted():
    """GD above 2 / lambda_max leaves the plot: the path stops, finite, with a note."""
    s = SURFACES["ill-conditioned quadratic"]  # lambda_max = 20
    path, note = race_path(s, ref.GD, {"lr": 0.2}, 300)
    assert note.startswith("diverged at step") and np.all(np.isfinite(path))
    fig = plot_race("ill-conditioned quadratic", lr=0.2)
    assert any("diverged" in line.get_label() for line in fig.axes[0].get_lines())


def test_a_wrong_student_optimizer_is_flagged():
    """Adam without bias correction is drawn, and the figure says where it leaves the reference."""
    student = dict(CORRECT, Adam=_variant(_AdamVariant, no_correction=True))
    notes = _notes(plot_race("Rosenbrock", student=student))
    assert notes == ["your Adam leaves the reference path at step 1"]


@pytest.mark.parametrize(("yours", "note"), [
    (None, "your Momentum not defined yet"),
    (_NotImplemented, "your Momentum not implemented yet"),
    (_Raises, "your Momentum raised KeyError"),
    (_NotInPlace, "your Momentum did not update params in place"),
    (ref.Momentum, "Momentum: the reference (yours does not pass its checks yet)"),
])
def test_unfinished_or_broken_student_code_becomes_a_note(yours, note):
    """The race never raises because of the student's classes: it notes the problem instead."""
    student = dict(CORRECT)
    student.pop("Momentum")
    if yours is not None:
        student["Momentum"] = yours
    notes = _notes(plot_race("saddle", student=student))
    assert any(n.startswith(note) for text in notes for n in text.splitlines()), notes


def test_race_redraws_when_each_control_moves():
    """Every control changes the picture; a new surface resets the sliders to its defaults."""
    box = optimizer_race(CORRECT)
    (col1, col2, col3), image = box.children[0].children, box.children[1]
    choice, lr, beta = col1.children
    adam_lr, beta1, beta2 = col2.children
    (steps,) = col3.children
    assert bytes(image.value).startswith(b"\x89PNG")
    for control, value in [(lr, 0.02), (beta, 0.95), (adam_lr, 0.5), (beta1, 0.5),
                           (beta2, 0.9), (steps, 40)]:
        before = bytes(image.value)
        control.value = value
        assert bytes(image.value) != before, control.description
    before = bytes(image.value)
    choice.value = "Rosenbrock"
    assert bytes(image.value) != before
    defaults = SURFACES["Rosenbrock"].defaults
    assert (lr.value, adam_lr.value, steps.value) == pytest.approx(
        (defaults["lr"], defaults["adam_lr"], defaults["steps"]))


def test_race_is_deterministic():
    """The same settings draw the same PNG."""
    first = figure_png(plot_race("saddle", lr=0.05, student=CORRECT))
    assert figure_png(plot_race("saddle", lr=0.05, student=CORRECT)) == first


# ---------------------------------------------------------------- the digits trainer


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_trainer_reaches_95_percent_with_adam(digits):
    """30 epochs of Adam(lr=3e-3), the notebook's run, classify at least 95% of the test digits."""
    trainer = DigitsTrainer(OPTIMIZERS, digits, progress=False)
    run = trainer.train(optimizer="Adam", lr=3e-3, epochs=30)
    assert run.note is None
    assert len(run.train_loss) == len(run.test_loss) == len(run.test_accuracies) == 30
    assert run.test_accuracy >= 0.95
    assert run.train_loss[-1] < 0.1 * run.train_loss[0]


def test_trainer_trains_exactly_as_fit(digits):
    """The epoch hook changes nothing: the weights equal those of a plain fit with the same
    settings, and the last test accuracy is that model's."""
    trainer = DigitsTrainer(CORRECT, digits, progress=False)
    run = trainer.train(optimizer="Momentum", lr=0.03, weight_decay=1e-3, epochs=5)
    X_train, X_test, y_train, y_test = digits
    model = MLP([64, 64, 10], seed=0)
    history = fit(model, X_train, y_train, optimizer=ref.Momentum(lr=0.03, weight_decay=1e-3),
                  epochs=5, batch_size=32, seed=0, progress=False)
    for key, value in model.params.items():
        np.testing.assert_allclose(run.model.params[key], value, rtol=1e-12, atol=1e-15)
    assert run.history["loss"] == pytest.approx(history["loss"], rel=1e-12)
    assert run.test_accuracy == np.mean(model.predict(X_test) == y_test)


def test_trainer_controls_and_button(digits):
    """The optimizer sets its default lr; the button trains with the controls' values and redraws."""
    trainer = DigitsTrainer(OPTIMIZERS, digits, progress=False)
    (col1, col2, button), _, image = trainer.widget.children[0].children, *trainer.widget.children[1:]
    choice, lr = col1.children
    weight_decay, epochs = col2.children
    empty = bytes(image.value)
    assert empty.startswith(b"\x89PNG")
    choice.value = "GD"
    assert lr.value == pytest.approx(0.3)
    epochs.value = 5
    weight_decay.value = 1e-4
    button.click()
    (run,) = trainer.runs
    assert (run.optimizer, run.lr, run.weight_decay, run.epochs) == ("GD", pytest.approx(0.3),
                                                                     1e-4, 5)
    assert bytes(image.value) != empty
    assert not button.disabled


def test_trainer_keeps_the_learning_rate_it_was_given(digits):
    """lr=3e-3 trains at 3e-3 and the slider shows 0.003; a rate between steps is added."""
    trainer = DigitsTrainer(OPTIMIZERS, digits, progress=False)
    lr = trainer.widget.children[0].children[0].children[1]
    trainer.train(optimizer="Adam", lr=3e-3, epochs=5)
    assert trainer.runs[-1].lr == 3e-3 and lr.value == 3e-3 and lr.label == "0.003"
    trainer.train(lr=7e-4, weight_decay=5e-4, epochs=5)
    assert (trainer.runs[-1].lr, trainer.runs[-1].weight_decay) == (7e-4, 5e-4)
    assert list(lr.options) == sorted(lr.options)


@pytest.mark.parametrize(("optimizer", "note"), [
    (_NotImplemented, "your Adam not implemented yet"),
    (_Raises, "your Adam raised KeyError"),
])
@pytest.mark.parametrize("in_ipython", [False, True])
def test_trainer_survives_broken_optimizers(digits, optimizer, note, in_ipython):
    """A failing optimizer ends the run with a note on the figure, never an exception.

    In IPython too, where the Output widget would otherwise swallow the error first.
    """
    from IPython.core.interactiveshell import InteractiveShell

    if in_ipython:
        InteractiveShell.instance()
    try:
        trainer = DigitsTrainer({"Adam": optimizer}, digits, progress=False)
        run = trainer.train(epochs=5)
    finally:
        InteractiveShell.clear_instance()
    assert run.note is not None and run.note.startswith(note), run.note
    assert not trainer.button.disabled


def test_trainer_stops_a_diverged_run(digits):
    """When the loss stops being a number, the run stops at once and says why."""
    class Explodes:
        def __init__(self, lr, weight_decay=0.0):
            pass

        def step(self, params, grads):
            for p in params.values():
                p[...] = np.nan

    run = DigitsTrainer({"Adam": Explodes}, digits, progress=False).train(epochs=10)
    assert len(run.train_loss) == 1 and "no longer a number" in run.note


def test_plot_training_titles_labels_and_determinism():
    """The training figure has titles and labels, keeps earlier runs, and is deterministic."""
    first = TrainingRun("GD", 0.3, 0.0, 3, [2.0, 1.0, 0.5], [2.1, 1.2, 0.7], [0.5, 0.8, 0.9])
    second = TrainingRun("Adam", 3e-3, 0.0, 3, [1.0, 0.3, 0.1], [1.1, 0.4, 0.2], [0.8, 0.9, 0.96])
    fig = plot_training([first, second])
    for ax in fig.axes:
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert "96.0% after epoch 3" in fig.axes[1].get_title()
    labels = [line.get_label() for line in fig.axes[1].get_lines()]
    assert "earlier: GD(lr=0.3)" in labels and "Adam(lr=0.003)" in labels
    assert figure_png(plot_training([first, second])) == figure_png(fig)
