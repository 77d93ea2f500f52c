"""The widget of notebook 06, the generalization gap: its runs are the library's, the early
stopping it marks is EarlyStopping's, its numbers tell the lesson (the gap at 200 digits, ‖W‖
falling with λ), it redraws for each control, survives the student's code, and is deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib import regularization as ref
from course_lib.network import MLP
from course_lib.optim import Adam
from course_lib.train import fit
from course_lib.widgets import regularization as widget
from course_lib.widgets._render import figure_png
from course_lib.widgets.regularization import (
    EPOCHS,
    LAMBDAS,
    SIZES,
    digits_split,
    early_stop,
    generalization_gap,
    plot_generalization_gap,
    train_run,
)


@pytest.fixture(scope="module")
def runs():
    """(n_train, λ, p_drop) -> the reference run, each trained once for the module."""
    found = {}

    def run(n_train, lam=0.0, p_drop=0.0):
        key = (n_train, lam, p_drop)
        if key not in found:
            found[key] = train_run(*key)
        return found[key]

    return run


def _notes(fig):
    return [line for ax in fig.axes for text in ax.texts for line in text.get_text().splitlines()]


def _marks(ax):
    """x of the vertical lines on ``ax``: {linestyle: [x, ...]}."""
    marks = {}
    for line in ax.get_lines():
        x = np.asarray(line.get_xdata(), dtype=float)
        if len(x) == 2 and x[0] == x[1] and tuple(line.get_ydata()) == (0, 1):
            marks.setdefault((line.get_linestyle(), line.get_color()), []).append(x[0])
    return marks


def _curve(ax, label):
    (line,) = [line for line in ax.get_lines() if line.get_label() == label]
    return np.asarray(line.get_ydata(), dtype=float)


def _yours(ax):
    return [np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()
            if line.get_linestyle() == "--" and len(line.get_xdata()) > 2]


# ---------------------------------------------------------------- the runs are the library's


def test_a_run_is_fit_with_adams_weight_decay_and_early_stopping():
    """The widget's run at λ, without dropout, is what fit gives: full-batch Adam whose weight
    decay is λ (Adam's gradient plus λW is the penalty's) on the standardized digits, the same
    validation losses, and fit(patience=10) restores the epoch the widget marks."""
    X_pool, y_pool, X_val, y_val = digits_split()
    X, X_val, _, _ = ref.standardize(X_pool[:200], X_val)
    for lam in (0.0, 3e-3):
        run = train_run(200, lam, 0.0)
        model = MLP(SIZES, seed=0)
        history = fit(model, X, y_pool[:200], optimizer=Adam(lr=1e-2, weight_decay=lam),
                      epochs=EPOCHS, batch_size=200, X_val=X_val, y_val=y_val, patience=10,
                      progress=False)
        n = len(history["val_loss"])
        # (fit shuffles the batch: the same sums in another order)
        np.testing.assert_allclose(run["val_loss"][:n], history["val_loss"], rtol=1e-8)
        best, stop = early_stop(run["val_loss"], 10)
        assert history["best_epoch"] == best and n == stop + 1


def test_the_scores_are_the_weights_and_the_data():
    """‖W‖ is the norm of the weights only; the accuracies are fractions of 200 and 400 digits."""
    run = train_run(200, 1e-3, 0.0)
    assert all(len(values) == EPOCHS for values in run.values())
    assert np.allclose(run["train_acc"] * 200, np.round(run["train_acc"] * 200))
    assert np.allclose(run["val_acc"] * 400, np.round(run["val_acc"] * 400))
    params = MLP(SIZES, seed=0).params
    first = np.sqrt(sum(np.sum(params[k] ** 2) for k in ("W1", "W2")))
    assert abs(run["w_norm"][0] - first) / first < 0.05  # one Adam step of 0.01 from the start
    X_pool, _, X_val, _ = digits_split()
    assert X_val.shape == (400, 64) and X_pool.shape == (1037, 64)
    rows = {row.tobytes() for row in X_pool}
    assert sum(row.tobytes() in rows for row in X_val) < 10  # (a few digits are duplicates)


def test_the_marked_epochs_are_early_stoppings():
    """The solid line is EarlyStopping's best_epoch, the dotted one the update that returned True."""
    for patience in (5, 10, 20):
        fig = plot_generalization_gap(200, 0.0, 0.0, patience)
        run = train_run(200, 0.0, 0.0)
        stopper = ref.EarlyStopping(patience)
        stop = next(e for e, loss in enumerate(run["val_loss"]) if stopper.update(loss, {}))
        marks = _marks(fig.axes[0])
        assert marks[("-", "0.45")] == [stopper.best_epoch]
        assert marks[(":", "0.45")] == [stop]
        assert f"keeps epoch {stopper.best_epoch}, stops at {stop}" in fig.axes[0].get_title()


def test_the_drawn_curves_are_the_run(runs):
    fig = plot_generalization_gap(200, 1e-3, 0.2)
    run = runs(200, 1e-3, 0.2)
    ax_loss, ax_acc, ax_norm = fig.axes
    np.testing.assert_array_equal(_curve(ax_loss, "training"), run["train_loss"])
    np.testing.assert_array_equal(_curve(ax_loss, "validation"), run["val_loss"])
    np.testing.assert_array_equal(_curve(ax_acc, "validation"), 100 * run["val_acc"])
    best, _ = early_stop(run["val_loss"], 10)
    assert ax_norm.get_title().startswith(f"‖W‖ = {run['w_norm'][best]:.1f} at epoch {best}")


# ---------------------------------------------------------------- what the numbers say


def test_at_200_digits_the_gap_is_large_and_a_good_lambda_narrows_it(runs):
    bare, good = runs(200, 0.0), runs(200, 3e-2)
    assert bare["train_acc"][-1] == 1.0 and bare["val_acc"][-1] < 0.93  # every digit learnt
    loss_gap = {lam: run["val_loss"][-1] - run["train_loss"][-1]
                for lam, run in ((0.0, bare), (3e-2, good))}
    assert loss_gap[0.0] > 0.25 and loss_gap[3e-2] < loss_gap[0.0] - 0.05
    assert good["val_acc"][-1] > bare["val_acc"][-1]
    assert (good["train_acc"][-1] - good["val_acc"][-1]
            < bare["train_acc"][-1] - bare["val_acc"][-1])
    # the training set closes the gap most: 1000 digits, a third of the gap
    more = runs(1000, 0.0)
    assert more["train_acc"][-1] - more["val_acc"][-1] < 0.03


def test_the_weights_shrink_as_lambda_grows(runs):
    norms = [runs(200, lam)["w_norm"][-1] for lam in LAMBDAS]
    assert all(np.diff(norms) < 0), norms
    assert norms[-1] < norms[0] / 4


def test_without_a_penalty_early_stopping_keeps_smaller_weights(runs):
    """Early stopping ends before ‖W‖ has grown: what it has in common with L2."""
    run = runs(200, 0.0)
    best, stop = early_stop(run["val_loss"], 10)
    assert stop is not None and stop < EPOCHS // 2
    assert run["w_norm"][best] < run["w_norm"][-1] - 1


# ---------------------------------------------------------------- the student's code


def _correct(params, X, y, activation="relu", lam=0.0, p_drop=0.0, rng=None):
    """Right, written otherwise: the penalty added outside the reference's loss."""
    loss, grads = ref.regularized_loss_and_grads(params, X, y, activation, 0.0, p_drop, rng)
    weights = [key for key in params if key.startswith("W")]
    loss += 0.5 * lam * sum(np.sum(params[key] ** 2) for key in weights)
    return loss, {key: grads[key] + lam * params[key] if key in weights else grads[key]
                  for key in grads}


def _biases_penalised(params, X, y, activation="relu", lam=0.0, p_drop=0.0, rng=None):
    loss, grads = _correct(params, X, y, activation, lam, p_drop, rng)
    return loss, {key: grads[key] + lam * params[key] if key.startswith("b") else grads[key]
                  for key in grads}


class _OffByOne(ref.EarlyStopping):
    def __init__(self, patience, min_delta=0.0):
        super().__init__(patience + 1, min_delta)


class _Stopper(ref.EarlyStopping):
    """The reference's arithmetic in a class of the student's."""


def _missing_b2(params, X, y, activation="relu", lam=0.0, p_drop=0.0, rng=None):
    loss, grads = _correct(params, X, y, activation, lam, p_drop, rng)
    del grads["b2"]
    return loss, grads


def _raises(*args, **kwargs):
    return 1 / 0


def _not_yet(*args, **kwargs):
    raise NotImplementedError


def test_right_student_code_is_drawn_dashed_on_the_reference(runs):
    fig = plot_generalization_gap(200, 3e-3, 0.2, 10, {"regularized_loss_and_grads": _correct,
                                                        "EarlyStopping": _Stopper})
    assert _notes(fig) == []
    run = runs(200, 3e-3, 0.2)
    yours_loss = _yours(fig.axes[0])
    assert len(yours_loss) == 2
    np.testing.assert_allclose(yours_loss[1], run["val_loss"], rtol=1e-9)
    np.testing.assert_allclose(_yours(fig.axes[2])[0], run["w_norm"], rtol=1e-9)


@pytest.mark.parametrize(("student", "note"), [
    ({"regularized_loss_and_grads": _biases_penalised, "EarlyStopping": _Stopper},
     "your regularized_loss_and_grads leaves the reference's run at epoch 1"),
    ({"regularized_loss_and_grads": _raises, "EarlyStopping": _Stopper},
     "your regularized_loss_and_grads raised ZeroDivisionError: division by zero"),
    ({"regularized_loss_and_grads": _not_yet, "EarlyStopping": _Stopper},
     "your regularized_loss_and_grads not implemented yet"),
    ({"regularized_loss_and_grads": _missing_b2, "EarlyStopping": _Stopper},
     "your regularized_loss_and_grads returned no gradient for b2"),
    ({"EarlyStopping": _Stopper}, "your regularized_loss_and_grads not defined yet"),
    ({"regularized_loss_and_grads": _correct}, "your EarlyStopping not defined yet"),
    ({"regularized_loss_and_grads": _correct, "EarlyStopping": _OffByOne},
     "your EarlyStopping keeps epoch 35 and stops at 46; the reference 35 and 45"),
    ({"regularized_loss_and_grads": _correct, "EarlyStopping": _raises},
     "your EarlyStopping raised ZeroDivisionError: division by zero"),
    ({"regularized_loss_and_grads": ref.regularized_loss_and_grads, "EarlyStopping": _Stopper},
     "regularized_loss_and_grads: the reference (yours does not pass its checks yet)"),
    ({"regularized_loss_and_grads": _correct, "EarlyStopping": ref.EarlyStopping},
     "EarlyStopping: the reference (yours does not pass its checks yet)"),
], ids=["biases-penalised", "raises", "not-implemented", "missing-key", "no-loss", "no-stopper",
        "patience-off-by-one", "stopper-raises", "loss-is-reference", "stopper-is-reference"])
def test_wrong_or_missing_student_code_becomes_a_note(student, note):
    fig = plot_generalization_gap(200, 1e-2, 0.0, 10, student)
    notes = _notes(fig)
    assert notes == [note], notes
    assert _curve(fig.axes[0], "validation").size == EPOCHS  # the reference is still drawn


def test_while_grading_nothing_is_trained(monkeypatch):
    monkeypatch.setattr(widget, "student_only", lambda: True)
    fig = plot_generalization_gap(200, 0.0, 0.0, 10, {"regularized_loss_and_grads": _correct})
    assert _notes(fig)[0].startswith("not trained while grading")
    assert not [line for ax in fig.axes for line in ax.get_lines()]


# ---------------------------------------------------------------- the dashboard


def test_each_control_redraws_and_a_setting_seen_again_draws_the_same_picture():
    board = generalization_gap({"regularized_loss_and_grads": _correct, "EarlyStopping": _Stopper})
    lams, drops, sizes, patiences = board.controls
    assert [c.description for c in board.controls] == ["λ (log scale)", "p_drop",
                                                       "training digits", "patience"]
    assert list(lams.options) == [(f"{lam:g}", lam) for lam in LAMBDAS]
    first = bytes(board.figure.value)
    for control, value in ((sizes, 500), (lams, 1e-3), (drops, 0.2), (patiences, 20)):
        before, redraws = bytes(board.figure.value), board.redraws
        control.value = value
        assert board.redraws == redraws + 1 and bytes(board.figure.value) != before
    sizes.value, lams.value, drops.value, patiences.value = 200, 0.0, 0.0, 10
    assert bytes(board.figure.value) == first
    assert not [t for t in _notes(board.draw())]


def test_the_same_settings_draw_the_same_png():
    first = figure_png(plot_generalization_gap(200, 1e-3, 0.5, 10), dpi=80)
    widget._reference_run.cache_clear()  # trained again, not read from memory
    assert figure_png(plot_generalization_gap(200, 1e-3, 0.5, 10), dpi=80) == first


# ---------------------------------------------------------------- the presenter's sentences


def test_what_the_presets_say_is_what_their_pictures_show(runs):
    """The numbers of the 06 presets' sentences (course_lib/presenter.py), from the runs drawn."""
    bare = runs(200)
    best, stop = early_stop(bare["val_loss"], 10)
    assert bare["train_acc"][-1] == 1.0 and round(1 - bare["val_acc"][-1], 2) == 0.08
    assert best == 23 and bare["w_norm"][best] < bare["w_norm"][-1]
    assert f"{100 * bare['val_acc'][-1]:.1f}" == "92.2"
    decay = runs(200, 0.03)  # "4.8 instead of 15.6", "0.21 ... instead of 0.29", "92.8%"
    assert (f"{decay['w_norm'][-1]:.1f}", f"{bare['w_norm'][-1]:.1f}") == ("4.8", "15.6")
    assert f"{decay['val_loss'][-1] - decay['train_loss'][-1]:.2f}" == "0.21"
    assert f"{bare['val_loss'][-1] - bare['train_loss'][-1]:.2f}" == "0.29"
    assert f"{100 * decay['val_acc'][-1]:.1f}" == "92.8"
    dropout = runs(200, 0.0, 0.5)  # "lowest at epoch 51", "93.5%"
    assert early_stop(dropout["val_loss"], 10)[0] == 51
    assert f"{100 * dropout['val_acc'][-1]:.1f}" == "93.5"
    more = runs(1000)  # "2.5 points ... instead of 7.8", "never stops"
    assert f"{100 * (more['train_acc'][-1] - more['val_acc'][-1]):.1f}" == "2.5"
    assert f"{100 * (bare['train_acc'][-1] - bare['val_acc'][-1]):.1f}" == "7.8"
    assert early_stop(more["val_loss"], 10)[1] is None and more["val_loss"][-1] < more[
        "val_loss"][-2]
