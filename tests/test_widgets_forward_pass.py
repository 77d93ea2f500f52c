"""Notebook 02's widgets: they draw the right curves, react to every control, survive student code."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib import layers, network
from course_lib.activations import ACTIVATIONS
from course_lib.widgets._render import figure_png
from course_lib.widgets.forward_pass import (
    DATA_TARGET,
    INITS,
    MAX_UNITS,
    TARGETS,
    activation_statistics_explorer,
    hidden_layer_params,
    layer_statistics,
    plot_activation_statistics,
    plot_universal_approximation,
    universal_approximation_explorer,
)

REFERENCE = {"dense_forward": layers.dense_forward, "he_init": layers.he_init,
             "xavier_init": layers.xavier_init}


def _lines(ax):
    return {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}


def _notes(fig):
    return [text.get_text() for ax in fig.axes for text in ax.texts]


def _nyi(*args):
    raise NotImplementedError()


def _raises(*args):
    return 1 / 0


# ---------------------------------------------------------------- universal approximation

def test_hidden_units_are_nested_and_bend_inside_the_plot():
    """Unit j is the same for every H (more units add to the others); every bend lies in [-1, 1]."""
    few, many = hidden_layer_params(3, 5.0, 7), hidden_layer_params(MAX_UNITS, 5.0, 7)
    np.testing.assert_array_equal(few["W1"], many["W1"][:3])
    np.testing.assert_array_equal(few["b1"], many["b1"][:3])
    bends = -many["b1"] / many["W1"][:, 0]
    assert np.all(np.abs(bends) <= 1.0)
    assert few["W1"].shape == (3, 1) and few["b1"].shape == (3,)
    assert few["W2"].shape == (1, 3) and few["b2"].shape == (1,)
    with pytest.raises(ValueError, match="n_units"):
        hidden_layer_params(0)


@pytest.mark.parametrize("fit", [False, True])
def test_output_is_the_reference_forward_pass_and_the_shares_add_up(fit):
    """The drawn output is mlp_forward of the drawn weights, and the units' shares plus c sum to it."""
    fig = plot_universal_approximation(6, "tanh", "|x|", 4.0, 3, fit)
    ax_units, ax_out = fig.axes[:2]
    out = _lines(ax_out)["network output"]
    x = out.get_xdata()
    shares = [line.get_ydata() for line in ax_out.get_lines() if line.get_linewidth() == 0.9]
    assert len(shares) == 6 and len(ax_units.get_lines()) == 6
    params = hidden_layer_params(6, 4.0, 3)
    if not fit:
        expected, _ = network.mlp_forward(x[:, None], params, "tanh")
        np.testing.assert_allclose(out.get_ydata(), expected[:, 0], rtol=1e-12)
        np.testing.assert_allclose(np.sum(shares, axis=0), expected[:, 0], rtol=1e-12, atol=1e-12)
    else:  # the output layer minimises the squared error to |x| over the grid
        features = np.tanh(x[:, None] @ params["W1"].T + params["b1"])
        design = np.column_stack([features, np.ones_like(x)])
        coef = np.linalg.lstsq(design, np.abs(x), rcond=None)[0]
        np.testing.assert_allclose(out.get_ydata(), design @ coef, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(np.sum(shares, axis=0) + coef[-1], design @ coef, atol=1e-8)
    for ax in fig.axes:
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


def test_least_squares_fits_better_than_random_and_improves_with_units():
    """The least-squares output layer beats the random one, and more units fit |x| better."""
    def rmse(n_units, fit):
        title = plot_universal_approximation(n_units, "relu", "|x|", 5.0, 0, fit).axes[1].get_title()
        return float(title.rsplit(":", 1)[1])
    assert rmse(10, True) < rmse(10, False)
    assert rmse(40, True) < rmse(3, True) and rmse(40, True) < 0.01


@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_every_target_and_activation_draws(target, activation):
    """Every menu entry draws, fitted or not, with the data shown as points for the data target."""
    fig = plot_universal_approximation(4, activation, target, 5.0, 1, True)
    assert ("data" in _lines(fig.axes[1])) == (target == DATA_TARGET)


def test_correct_student_forward_overlays_the_reference():
    """With the reference as the student's mlp_forward, the dashed curve coincides, no note."""
    fig = plot_universal_approximation(5, "relu", DATA_TARGET, 5.0, 0, True, network.mlp_forward)
    lines = _lines(fig.axes[1])
    np.testing.assert_allclose(lines["your mlp_forward"].get_ydata(),
                               lines["network output"].get_ydata(), rtol=1e-12)
    assert _notes(fig) == []


@pytest.mark.parametrize(("forward", "note"), [
    (_nyi, "your mlp_forward not implemented yet"),
    (_raises, "your mlp_forward raised ZeroDivisionError"),
    (lambda X, params, activation="relu": X, "must return the pair (logits, caches)"),
    (lambda X, params, activation="relu": ("logits", []), "not an array of numbers"),
    (lambda X, params, activation="relu": (X[:5], []), "logits of shape (5, 1)"),
    (lambda X, params, activation="relu": (network.mlp_forward(X, params, "relu")[0] + 1, []),
     "your mlp_forward differs"),
])
def test_broken_student_forward_becomes_a_note(forward, note):
    """The explorer never raises because of the student's mlp_forward: it notes the problem."""
    notes = _notes(plot_universal_approximation(5, "tanh", "|x|", 5.0, 0, False, forward))
    assert len(notes) == 1 and note in notes[0], notes


@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_student_inf_or_nan_is_noted_without_a_warning(bad, recwarn):
    """Non-finite values from the student's code are flagged, and NumPy stays silent about them."""
    def forward(X, params, activation="relu"):
        logits = network.mlp_forward(X, params, activation)[0]
        logits[3] = bad
        return logits, []

    def dense_forward(X, W, b):
        Z = X @ W.T + b
        Z[0, 0] = bad
        return Z, (X, W)

    notes = _notes(plot_universal_approximation(5, "relu", "|x|", 5.0, 0, True, forward))
    assert len(notes) == 1 and notes[0].startswith("your mlp_forward differs: at x = -0.98")
    notes = _notes(plot_activation_statistics("relu", "he", 3, 16, 0,
                                              dict(REFERENCE, dense_forward=dense_forward)))
    assert len(notes) == 1 and notes[0].startswith("your code differs from layer 1 on")
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_universal_explorer_redraws_when_a_control_moves():
    """Every control changes the picture; it starts drawn."""
    box = universal_approximation_explorer(network.mlp_forward)
    (units, act, tgt), (scale, seed, fit) = (row.children for row in box.children[:2])
    image = box.children[2]
    assert bytes(image.value).startswith(b"\x89PNG")
    for control, value in ((fit, True), (units, 12), (act, "tanh"), (tgt, "|x|"),
                           (scale, 12.0), (seed, 4)):
        before = bytes(image.value)
        control.value = value
        assert bytes(image.value) != before, control.description


def test_universal_explorer_is_deterministic():
    """The same settings draw the same PNG."""
    first = figure_png(plot_universal_approximation(7, "relu", DATA_TARGET, 5.0, 2, True))
    assert figure_png(plot_universal_approximation(7, "relu", DATA_TARGET, 5.0, 2, True)) == first


# ---------------------------------------------------------------- activation statistics

def test_layer_statistics_follow_the_reference_layers():
    """Layer by layer H_i = f(H_{i-1} W_i^T) with W_i drawn in turn from default_rng(seed)."""
    stats = layer_statistics("relu", "he", depth=3, width=16, seed=5)
    rng = np.random.default_rng(5)
    H = np.random.default_rng(6).normal(size=(200, 16))
    for i in range(3):
        H = np.maximum(H @ layers.he_init(16, 16, rng).T, 0.0)
        np.testing.assert_allclose(stats["H"][i], H, rtol=1e-12)
        assert stats["std"][i] == pytest.approx(H.std(), rel=1e-12)
        assert stats["mean"][i] == pytest.approx(H.mean(), rel=1e-12)
        assert stats["saturated"][i] == pytest.approx(np.mean(H == 0.0))


@pytest.mark.parametrize(("activation", "init", "check"), [
    ("relu", "he", lambda s: np.all((s["std"] > 0.3) & (s["std"] < 3.0))),
    ("relu", "small", lambda s: s["std"][-1] < 1e-6),
    ("relu", "large", lambda s: s["std"][-1] > 1e6),
    ("tanh", "xavier", lambda s: s["saturated"].max() < 0.05 and s["std"][-1] > 0.1),
    ("tanh", "large", lambda s: s["saturated"].min() > 0.5),
    ("tanh", "small", lambda s: s["std"][-1] < 1e-6),
])
def test_good_inits_keep_the_scale_and_bad_ones_lose_it(activation, init, check):
    """He/Xavier keep 10 layers of 256 units in range; std 0.01 vanishes; std 1 explodes or saturates."""
    with np.errstate(all="ignore"):
        assert check(layer_statistics(activation, init, depth=10, width=256))


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
@pytest.mark.parametrize("init", list(INITS.values()))
def test_correct_student_functions_overlay_the_reference(activation, init):
    """With the reference as the student's functions, both curves coincide and nothing is noted."""
    fig = plot_activation_statistics(activation, init, 6, 64, 0, REFERENCE)
    for ax in fig.axes[1:]:
        lines = _lines(ax)
        np.testing.assert_allclose(lines["yours"].get_ydata(), lines["reference"].get_ydata(),
                                   rtol=1e-12)
    assert _notes(fig) == []
    assert len(fig.axes[0].get_lines()) == 6  # one histogram per layer
    for ax in fig.axes:
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


def test_a_wrong_init_is_flagged_where_it_departs():
    """He init with std sqrt(1/n_in): the student's curve is drawn, and the note names layer 1."""
    def he_init(n_in, n_out, rng):
        return rng.normal(0.0, np.sqrt(1.0 / n_in), size=(n_out, n_in))
    fig = plot_activation_statistics("relu", "he", 5, 64, 0, dict(REFERENCE, he_init=he_init))
    assert "yours" in _lines(fig.axes[1])
    (note,) = _notes(fig)
    assert note.startswith("your code differs from layer 1 on")


@pytest.mark.parametrize(("init", "change", "note"), [
    ("he", {"he_init": None}, "your he_init not defined yet"),
    ("he", {"he_init": _nyi}, "your he_init not implemented yet"),
    ("xavier", {"xavier_init": _raises}, "your xavier_init raised ZeroDivisionError"),
    ("small", {"dense_forward": _nyi}, "your dense_forward not implemented yet"),
    ("large", {"dense_forward": lambda X, W, b: X @ W.T + b}, "your dense_forward must return the pair (Z, cache)"),
    ("he", {"he_init": lambda n_in, n_out, rng: np.zeros((n_in, 2))}, "your he_init returned shape"),
    ("xavier", {"dense_forward": lambda X, W, b: (X[:3], None)}, "your dense_forward returned Z of shape (3,"),
])
def test_unfinished_or_broken_student_code_becomes_a_note(init, change, note):
    """The statistics never raise because of the student's functions; a note says what is wrong."""
    student = {k: v for k, v in dict(REFERENCE, **change).items() if v is not None}
    fig = plot_activation_statistics("tanh", init, 4, 16, 0, student)
    notes = _notes(fig)
    assert len(notes) == 1 and note in notes[0], notes
    assert "yours" not in _lines(fig.axes[1])


def test_statistics_explorer_redraws_when_a_control_moves():
    """Activation, init, depth and width each change the picture; it starts drawn."""
    box = activation_statistics_explorer(REFERENCE, depth=4, width=64)
    (act, ini), (deep, wide) = (row.children for row in box.children[:2])
    image = box.children[2]
    assert bytes(image.value).startswith(b"\x89PNG")
    for control, value in ((act, "relu"), (ini, "he"), (deep, 6), (wide, 16)):
        before = bytes(image.value)
        control.value = value
        assert bytes(image.value) != before, control.description


def test_statistics_explorer_works_before_the_exercises_are_done():
    """With every student function still a stub, the reference is drawn with a note."""
    box = activation_statistics_explorer({"dense_forward": _nyi, "he_init": _nyi,
                                          "xavier_init": _nyi}, depth=3, width=16)
    assert bytes(box.children[2].value).startswith(b"\x89PNG")


def test_statistics_figure_is_deterministic():
    """The same settings draw the same PNG."""
    first = figure_png(plot_activation_statistics("relu", "he", 5, 64, 0, REFERENCE))
    assert figure_png(plot_activation_statistics("relu", "he", 5, 64, 0, REFERENCE)) == first
