"""The gradient-norm explorer of notebook 04: it draws, reacts, survives the student's code, is right."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib import layers, network
from course_lib.activations import ACTIVATIONS
from course_lib.losses import cross_entropy_grad
from course_lib.widgets._render import figure_png
from course_lib.widgets.backprop import (
    ACTIVATION_COLORS,
    gradient_norm_explorer,
    gradient_norms,
    make_network,
    plot_gradient_norms,
)

ALL = tuple(ACTIVATION_COLORS)


def _students_copy(dlogits, caches, activation="relu"):
    """A right mlp_backward that is not the reference object (so it is drawn as 'yours')."""
    return network.mlp_backward(dlogits, caches, activation)


def _notes(fig):
    """The notes written above the panels (the student's code, when it is not drawn or differs)."""
    return "\n".join(text.get_text() for text in fig.texts)


def _yours(fig):
    """The student's crosses on the backward panel, in the order drawn."""
    return [line for line in fig.axes[1].get_lines() if line.get_marker() == "x"]


def _reference_lines(fig, panel):
    return [line for line in fig.axes[panel].get_lines() if line.get_marker() == "o"]


def test_draws_titled_labelled_log_scale_panels():
    """Two panels with titles, axis labels and log y scales, one curve per activation each."""
    fig = plot_gradient_norms(6, "xavier", 0.1, ALL, None)
    assert len(fig.axes) == 2
    for panel, ax in enumerate(fig.axes):
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
        assert ax.get_yscale() == "log"
        assert len(_reference_lines(fig, panel)) == len(ALL)
        np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), np.arange(1, 7))
    assert figure_png(fig).startswith(b"\x89PNG")
    assert _notes(fig) == ""


def test_curves_are_the_norms_computed_by_hand():
    """||dW_i|| and std(Z_i), recomputed here with plain NumPy, match the plotted values."""
    n_layers, activation = 5, "tanh"
    params, X, y = make_network(n_layers, "he")
    f, f_grad = ACTIVATIONS[activation]
    Hs, Zs, H = [X], [], X
    for i in range(1, n_layers + 1):
        Z = H @ params[f"W{i}"].T + params[f"b{i}"]
        Zs.append(Z)
        H = f(Z) if i < n_layers else Z
        Hs.append(H)
    dZ = cross_entropy_grad(Zs[-1], y)
    norms = [0.0] * n_layers
    for i in range(n_layers, 0, -1):
        norms[i - 1] = np.linalg.norm(dZ.T @ Hs[i - 1])
        dZ = (dZ @ params[f"W{i}"]) * f_grad(Zs[i - 2]) if i > 1 else None
    z_std, dw_norm = gradient_norms(n_layers, activation, "he")
    np.testing.assert_allclose(dw_norm, norms, rtol=1e-12)
    np.testing.assert_allclose(z_std, [Z.std() for Z in Zs], rtol=1e-12)
    fig = plot_gradient_norms(n_layers, "he", 0.1, (activation,), None)
    np.testing.assert_allclose(_reference_lines(fig, 1)[0].get_ydata(), norms, rtol=1e-12)


def test_sigmoid_gradients_vanish_and_relu_with_he_keeps_them():
    """10 layers: sigmoid (Xavier) loses more than 1e-4 of its gradient, ReLU (He) stays within 10x."""
    _, sigmoid = gradient_norms(10, "sigmoid", "xavier")
    _, relu = gradient_norms(10, "relu", "he")
    assert sigmoid[0] / sigmoid[-1] < 1e-4
    assert 0.1 < relu[0] / relu[-1] < 10
    assert np.all(np.diff(np.log(sigmoid)) > 0)  # shrinking at every layer going down


def test_fixed_std_controls_the_scale():
    """A fixed std of 1 makes ReLU's gradients explode; 0.01 makes every gradient vanish."""
    _, big = gradient_norms(10, "relu", "fixed", 1.0)
    _, small = gradient_norms(10, "relu", "fixed", 0.01)
    assert big.min() > 1e3 and small[0] < 1e-10


def test_right_student_backward_overlays_the_reference_exactly():
    """A right mlp_backward is drawn as crosses on the reference for every activation, with no note."""
    fig = plot_gradient_norms(8, "xavier", 0.1, ALL, _students_copy)
    crosses, lines = _yours(fig), _reference_lines(fig, 1)
    assert len(crosses) == len(ALL)
    for cross, line in zip(crosses, lines, strict=True):
        np.testing.assert_allclose(cross.get_ydata(), line.get_ydata(), rtol=1e-12)
    assert _notes(fig) == ""


def test_wrong_student_backward_is_drawn_and_flagged():
    """mlp_backward without the activation derivative: drawn, and the figure says where it differs."""
    def forgetful(dlogits, caches, activation="relu"):
        grads, dZ = {}, dlogits
        for i in range(len(caches), 0, -1):
            dZ, grads[f"W{i}"], grads[f"b{i}"] = layers.dense_backward(dZ, caches[i - 1][0])
        return grads

    fig = plot_gradient_norms(6, "xavier", 0.1, ("sigmoid",), forgetful)
    assert len(_yours(fig)) == 1
    assert "yours differs for sigmoid: at layer" in _notes(fig)


@pytest.mark.parametrize(("backward", "note"), [
    ("nyi", "your mlp_backward not implemented yet"),
    ("raises", "your mlp_backward raised ZeroDivisionError"),
    ("none", "your mlp_backward did not return a dict"),
    ("shape", "your mlp_backward returned W1 of shape (64, 5)"),
    ("strings", "returned a W1 that is not an array of numbers"),
    ("reference", "does not pass its checks yet"),
])
def test_unfinished_or_broken_student_code_becomes_a_note(backward, note):
    """The explorer never raises because of the student's code: it draws the reference and notes it."""
    def nyi(dlogits, caches, activation="relu"):
        raise NotImplementedError()

    def raises(dlogits, caches, activation="relu"):
        return 1 / 0

    def shape(dlogits, caches, activation="relu"):
        return {f"W{i}": np.zeros((64, 5)) for i in range(1, len(caches) + 1)}

    def strings(dlogits, caches, activation="relu"):
        return {f"W{i}": np.full(c[0][1].shape, "x") for i, c in enumerate(caches, start=1)}

    student = {"nyi": nyi, "raises": raises, "none": lambda *args: None, "shape": shape,
               "strings": strings, "reference": network.mlp_backward}[backward]
    fig = plot_gradient_norms(4, "he", 0.1, ("relu", "tanh"), student)
    assert note in _notes(fig)
    assert _yours(fig) == []
    assert len(_reference_lines(fig, 1)) == 2
    figure_png(fig)


def test_student_cannot_change_the_cached_reference():
    """A student's mlp_backward that writes into the caches does not change later pictures."""
    def vandal(dlogits, caches, activation="relu"):
        grads = network.mlp_backward(dlogits, caches, activation)
        for (H_prev, W), Z in caches:
            H_prev[...] = 0.0
            W[...] = 0.0
            Z[...] = 0.0
        dlogits[...] = 0.0
        return grads

    before = gradient_norms(5, "tanh", "xavier")
    plot_gradient_norms(5, "xavier", 0.1, ("tanh",), vandal)
    after = gradient_norms(5, "tanh", "xavier")
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    fig = plot_gradient_norms(5, "xavier", 0.1, ("tanh",), _students_copy)
    assert _notes(fig) == ""


def test_explorer_redraws_when_each_control_moves():
    """Depth, initialisation, std and each activation box change the picture; std shows for fixed only."""
    box = gradient_norm_explorer(_students_copy, n_layers=6, init="xavier")
    (depth, init, std), ticks, image = box.children[0].children, box.children[1].children, box.children[2]
    assert bytes(image.value).startswith(b"\x89PNG")
    assert std.layout.display == "none"

    def changes(control, value):
        before = bytes(image.value)
        control.value = value
        assert bytes(image.value) != before, control.description

    changes(depth, 12)
    changes(init, "he")
    changes(init, "fixed")
    assert std.layout.display == ""
    changes(std, 0.5)
    for tick in ticks:
        changes(tick, not tick.value)


def test_no_activation_ticked_still_draws():
    """With every box unticked the figure says what to do instead of failing."""
    fig = plot_gradient_norms(5, "he", 0.1, (), _students_copy)
    assert "tick an activation" in fig.axes[0].texts[0].get_text()
    figure_png(fig)


def test_same_inputs_draw_the_same_picture():
    """Figures are deterministic: the same controls give the same PNG."""
    first = figure_png(plot_gradient_norms(7, "fixed", 0.3, ALL, _students_copy))
    second = figure_png(plot_gradient_norms(7, "fixed", 0.3, ALL, _students_copy))
    assert first == second

