"""The widget of notebook 08, gradient norms through a plain and a residual net: its weights are
deep_init's, the norms and histograms it draws are course_lib.residual's (‖dH_i‖ checked by
central differences), the student's deep_backward is drawn over them and a wrong one noted, its
controls redraw, a norm that underflows is drawn at the floor, it runs no reference while
grading, and the numbers the presenter says over it are the ones it draws. (How fast it redraws
is measured in docs/notebook08-plan.md, not timed here.)"""

from __future__ import annotations

import types

import numpy as np
import pytest

from course_lib import presenter
from course_lib import residual as ref
from course_lib.activations import ACTIVATIONS
from course_lib.data import load_digits
from course_lib.gradcheck import numerical_gradient
from course_lib.losses import cross_entropy, cross_entropy_grad
from course_lib.widgets import deep_networks as widget
from course_lib.widgets._render import figure_png
from course_lib.widgets.deep_networks import (
    ACTIVATION_MENU,
    INIT_OF,
    KINDS,
    depth_curves,
    depth_explorer,
    fixed_batch,
    make_params,
    plot_depth,
    saturation_threshold,
)

ALL = tuple(ACTIVATION_MENU.values())


def _by_hand(activation, depth, scale, residual):
    """(params, logits, caches, grads) of course_lib.residual, on deep_init's weights times s."""
    X_train, _, y_train, _ = load_digits()
    X, y = X_train[:64], y_train[:64]
    params = {key: value * scale if key.startswith("W") else value for key, value in
              ref.deep_init(64, 64, depth, 10, activation, residual, seed=0).items()}
    with np.errstate(all="ignore"):
        logits, caches = ref.deep_forward(X, params, activation, residual)
        grads = ref.deep_backward(cross_entropy_grad(logits, y), caches, activation, residual)
    return params, logits, caches, grads


def _copy_of(fn):
    """A right function that is not the reference object itself (so it is drawn as 'yours')."""
    def yours(*args, **kwargs):
        return fn(*args, **kwargs)
    return yours


RIGHT = {"deep_forward": _copy_of(ref.deep_forward), "deep_backward": _copy_of(ref.deep_backward),
         "layer_gradient_norms": _copy_of(ref.layer_gradient_norms)}


def _notes(fig):
    """The notes under the panels, one per line."""
    return [line for text in fig.axes[3].texts for line in text.get_text().splitlines()]


def _lines(fig, panel, marker):
    """The lines of a panel (0: ||dW_i||, 1: ||dH_i||) drawn with ``marker``, in order."""
    return [line for line in fig.axes[panel].get_lines() if line.get_marker() == marker]


def _reference(fig, panel):
    """{"plain": ydata, "residual": ydata} of a panel's reference lines."""
    (plain,), (residual,) = _lines(fig, panel, "o"), _lines(fig, panel, "s")
    return {"plain": plain.get_ydata(), "residual": residual.get_ydata()}


# ---------------------------------------------------------------- what it draws is the library's


@pytest.mark.parametrize("activation", ALL)
@pytest.mark.parametrize("residual", [False, True], ids=["plain", "residual"])
def test_the_weights_are_deep_inits_times_the_scale(activation, residual):
    """Drawn by the widget itself (deep_init is an exercise), bit for bit deep_init's times s."""
    assert INIT_OF[activation] == ACTIVATIONS[activation].init
    expected = ref.deep_init(64, 64, 6, 10, activation, residual, seed=0)
    params = make_params(activation, 6, residual, 1.5)
    assert list(params) == list(expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(params[key], value * 1.5 if key.startswith("W") else value)


def test_the_batch_is_the_notebooks():
    X_train, _, y_train, _ = load_digits()
    X, y = fixed_batch()
    np.testing.assert_array_equal(X, X_train[:64])
    np.testing.assert_array_equal(y, y_train[:64])
    assert not X.flags.writeable


@pytest.mark.parametrize(("activation", "depth", "scale"), [
    ("sigmoid", 20, 1.0), ("relu", 7, 2.0), ("tanh", 5, 3.0), ("elu", 2, 0.25)])
def test_the_curves_are_course_lib_residuals(activation, depth, scale):
    """||dW_i||, Z_1, Z_{L+1} and the logits of both nets, as course_lib.residual computes them."""
    curves = depth_curves(activation, depth, scale)
    for kind, residual in KINDS.items():
        _, logits, caches, grads = _by_hand(activation, depth, scale, residual)
        np.testing.assert_allclose(curves[kind]["dW"], ref.layer_gradient_norms(grads),
                                   rtol=1e-12)
        np.testing.assert_array_equal(curves[kind]["Z_first"], caches[0][1])
        np.testing.assert_array_equal(curves[kind]["Z_last"], caches[depth][1])
        np.testing.assert_array_equal(curves[kind]["logits"], logits)
        assert len(curves[kind]["dH"]) == depth + 2


@pytest.mark.parametrize("residual", [False, True], ids=["plain", "residual"])
def test_the_output_gradients_are_central_differences(residual):
    """||dH_i||, the gradient reaching layer i's output, by central differences of the loss
    run from H_i on through the layers above it (2 tanh blocks, weights times 1.5)."""
    activation, depth, scale = "tanh", 2, 1.5
    params, logits, caches, _ = _by_hand(activation, depth, scale, residual)
    f = ACTIVATIONS[activation][0]
    _, y = fixed_batch()
    n_layers = depth + 2

    def loss_from(i):  # the loss as a function of H_i, layers i + 1 ... n on top of it
        def loss(H):
            for j in range(i + 1, n_layers + 1):
                Z = H @ params[f"W{j}"].T + params[f"b{j}"]
                H = Z if j == n_layers else (H + f(Z) if residual and j < n_layers else f(Z))
            return cross_entropy(H, y)
        return loss

    expected = []
    for i in range(1, n_layers):
        H = caches[i][0][0].copy()  # the input of layer i + 1 is H_i
        expected.append(np.linalg.norm(numerical_gradient(loss_from(i), H, 1e-6)))
    expected.append(np.linalg.norm(cross_entropy_grad(logits, y)))
    np.testing.assert_allclose(depth_curves(activation, depth, scale)[
        "residual" if residual else "plain"]["dH"], expected, rtol=1e-6)


def test_the_figure_draws_the_curves_and_their_ratios():
    """Circles for the plain net, squares for the residual one, on both log panels; the
    histograms are the shares of Z_1 and Z_{L+1}; the legend gives ||dW_1|| / ||dW_n||."""
    fig = plot_depth("tanh", 20, 3.0)
    curves = depth_curves("tanh", 20, 3.0)
    for panel, name in ((0, "dW"), (1, "dH")):
        drawn = _reference(fig, panel)
        for kind in KINDS:
            np.testing.assert_array_equal(drawn[kind], curves[kind][name])
        ax = fig.axes[panel]
        assert ax.get_yscale() == "log" and ax.get_title() and ax.get_ylabel()
        np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), np.arange(1, 23))
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    plain, residual = curves["plain"]["dW"], curves["residual"]["dW"]
    assert labels == [f"plain: ||dW_1|| / ||dW_22|| = {plain[0] / plain[-1]:.3g}",
                      f"residual: ||dW_1|| / ||dW_22|| = {residual[0] / residual[-1]:.3g}"]
    assert labels[0].endswith("= 498")  # the exploding profile of the plan, section 2.3
    stairs = fig.axes[2].patches[:3]
    for patch, Z in zip(stairs, (curves["plain"]["Z_first"], curves["plain"]["Z_last"],
                                 curves["residual"]["Z_last"]), strict=True):
        shares, edges = patch.get_data().values, patch.get_data().edges
        np.testing.assert_allclose(shares, np.histogram(Z, bins=edges)[0] / Z.size)
    legend = [t.get_text() for t in fig.axes[2].get_legend().get_texts()]
    share = np.mean(np.abs(curves["plain"]["Z_last"]) > saturation_threshold("tanh"))
    std = curves["plain"]["Z_last"].std()
    assert legend[1] == f"Z_21 plain: std {std:.2g}, {share:.0%} saturated"
    assert fig._suptitle.get_text().startswith(
        "tanh, 20 blocks (22 weight layers), Xavier init × 3")
    assert _notes(fig) == []
    assert figure_png(fig).startswith(b"\x89PNG")


def test_saturation_is_where_the_slope_is_a_tenth_of_its_top():
    for activation, top in (("tanh", 1.0), ("sigmoid", 0.25)):
        edge = saturation_threshold(activation)
        slope = ACTIVATIONS[activation][1](np.array([edge]))[0]
        assert slope == pytest.approx(top / 10, rel=1e-9)
    assert saturation_threshold("relu") is None and saturation_threshold("elu") is None


def test_a_norm_that_underflows_is_drawn_at_the_floor():
    """A zero norm would vanish from a log scale: it is drawn at 1e-300 instead."""
    def vanishing(dlogits, caches, activation="relu", residual=False):
        return {key: 0.0 * value for key, value in
                ref.deep_backward(dlogits, caches, activation, residual).items()}

    fig = plot_depth("sigmoid", 50, 0.25, {**RIGHT, "deep_backward": vanishing})
    for cross in _lines(fig, 0, "x"):
        np.testing.assert_array_equal(cross.get_ydata(), 1e-300)
    for panel in (0, 1):
        for line in fig.axes[panel].get_lines():
            assert np.all(np.isfinite(line.get_ydata())) and np.all(line.get_ydata() >= 1e-300)
    assert any("your deep_backward differs for the plain net: at layer 1" in note
               for note in _notes(fig))


# ---------------------------------------------------------------- the lesson's numbers


def test_plain_sigmoid_vanishes_relu_keeps_and_the_residual_path_carries_the_gradient():
    """The plan's numbers at depth 20, seed 0 (docs/notebook08-plan.md, section 2.1)."""
    sigmoid, relu = depth_curves("sigmoid", 20, 1.0), depth_curves("relu", 20, 1.0)
    plain = sigmoid["plain"]["dW"]
    assert plain[0] / plain[-1] < 1e-12
    assert relu["plain"]["dW"].max() / relu["plain"]["dW"].min() < 10
    dH = sigmoid["residual"]["dH"][:-1]  # every hidden layer's output
    assert dH.max() / dH.min() < 1.02 and round(dH[0], 3) == 0.229
    assert sigmoid["plain"]["dH"][0] < 1e-13


# ---------------------------------------------------------------- the student's code


def test_the_students_right_functions_overlay_the_reference_exactly():
    fig = plot_depth("elu", 12, 1.5, RIGHT)
    crosses = _lines(fig, 0, "x")
    assert len(crosses) == 2
    drawn = _reference(fig, 0)
    for cross, kind in zip(crosses, KINDS, strict=True):
        np.testing.assert_allclose(cross.get_ydata(), drawn[kind], rtol=1e-12)
    assert "your deep_backward" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert _notes(fig) == []


def test_a_deep_backward_that_ignores_the_residual_flag_is_drawn_and_noted():
    def plain_only(dlogits, caches, activation="relu", residual=False):
        return ref.deep_backward(dlogits, caches, activation, False)

    fig = plot_depth("sigmoid", 20, 1.0, {**RIGHT, "deep_backward": plain_only})
    assert len(_lines(fig, 0, "x")) == 2
    (note,) = _notes(fig)
    assert note.startswith("your deep_backward differs for the residual net: at layer 1, "
                           "||dW_1|| = ") and note.endswith(" instead of 1.07")


def test_a_deep_forward_without_its_skips_and_norms_with_the_biases_are_noted():
    def no_skip(X, params, activation="relu", residual=False):
        return ref.deep_forward(X, params, activation, False)

    def with_biases(grads):
        return np.array([np.linalg.norm(value) for value in grads.values()])

    fig = plot_depth("relu", 5, 1.0, {**RIGHT, "deep_forward": no_skip,
                                      "layer_gradient_norms": with_biases})
    assert _notes(fig) == [
        "your layer_gradient_norms returned shape (14,), expected (7,)",
        "your deep_forward differs for the residual net: its logits are not the reference's"]
    assert len(_lines(fig, 0, "x")) == 2  # deep_backward is right and drawn


@pytest.mark.parametrize(("backward", "note"), [
    ("nyi", "your deep_backward not implemented yet"),
    ("raises", "your deep_backward raised ZeroDivisionError: division by zero"),
    ("none", "your deep_backward did not return a dict with keys W1, b1, ..."),
    ("shape", "your deep_backward returned W1 of shape (64, 5), W1 has (64, 64)"),
    ("strings", "your deep_backward returned a W1 that is not an array of numbers"),
    ("reference", "deep_backward: the reference (yours does not pass its checks yet)"),
    ("missing", "your deep_backward not defined yet"),
])
def test_unfinished_or_broken_student_code_becomes_a_note(backward, note):
    """The reference is still drawn, no cross is, and the figure says why."""
    def nyi(dlogits, caches, activation="relu", residual=False):
        raise NotImplementedError

    def raises(dlogits, caches, activation="relu", residual=False):
        return 1 / 0

    def shape(dlogits, caches, activation="relu", residual=False):
        return {f"W{i}": np.zeros((64, 5)) for i in range(1, len(caches) + 1)}

    def strings(dlogits, caches, activation="relu", residual=False):
        return {f"W{i}": np.full(c[0][1].shape, "x") for i, c in enumerate(caches, start=1)}

    student = dict(RIGHT)
    if backward == "missing":
        del student["deep_backward"]
    else:
        student["deep_backward"] = {"nyi": nyi, "raises": raises, "none": lambda *args: None,
                                    "shape": shape, "strings": strings,
                                    "reference": ref.deep_backward}[backward]
    fig = plot_depth("relu", 4, 1.0, student)
    assert _notes(fig) == [note]  # said once, not once per net
    assert _lines(fig, 0, "x") == []
    assert len(_reference(fig, 0)["plain"]) == 6
    figure_png(fig)


def test_a_student_cannot_change_the_cached_reference():
    """A deep_backward that writes into its caches and dlogits changes no later picture."""
    def vandal(dlogits, caches, activation="relu", residual=False):
        grads = ref.deep_backward(dlogits, caches, activation, residual)
        for (H, W), Z in caches:
            H[...] = W[...] = Z[...] = 0.0
        dlogits[...] = 0.0
        return grads

    before = depth_curves("tanh", 6, 1.0)
    plot_depth("tanh", 6, 1.0, {**RIGHT, "deep_backward": vandal})
    after = depth_curves("tanh", 6, 1.0)
    for kind in KINDS:
        for name in before[kind]:
            np.testing.assert_array_equal(before[kind][name], after[kind][name])
    assert _notes(plot_depth("tanh", 6, 1.0, RIGHT)) == []


def test_while_grading_only_the_students_code_runs(monkeypatch):
    """No function of course_lib's arithmetic is called: the student's forward and backward
    draw ||dW_i|| (the same numbers as the reference's, for right ones) and the histograms;
    ||dH_i||, which only the course's backward pass gives, is not drawn."""
    curves = depth_curves("relu", 8, 2.0)
    forward, backward = ref.deep_forward, ref.deep_backward
    student = {"deep_forward": lambda *args: forward(*args),
               "deep_backward": lambda *args: backward(*args)}
    monkeypatch.setattr(widget, "student_only", lambda: True)

    def untouchable(*args, **kwargs):
        raise AssertionError("a reference used while grading")

    # the widget's view of course_lib.residual (the student's functions use the real one)
    monkeypatch.setattr(widget, "ref", types.SimpleNamespace(
        **dict.fromkeys(ref.__all__, untouchable)))
    for name in ("cross_entropy_grad", "dense_backward", "activation_backward", "depth_curves",
                 "_reference"):
        monkeypatch.setattr(widget, name, untouchable)
    fig = plot_depth("relu", 8, 2.0, student)
    assert _notes(fig) == []
    drawn = _reference(fig, 0)
    for kind in KINDS:
        np.testing.assert_allclose(drawn[kind], curves[kind]["dW"], rtol=1e-12)
    assert [line.get_label().split(":")[0] for line in fig.axes[0].get_lines()] == [
        "plain (yours)", "residual (yours)"]
    assert fig.axes[1].get_lines() == []
    assert "not drawn while grading" in fig.axes[1].texts[0].get_text()
    assert len(fig.axes[2].patches) >= 3  # the histograms of the student's Z
    missing = plot_depth("relu", 8, 2.0, {})
    assert _notes(missing) == ["your deep_forward not defined yet",
                               "your deep_backward not defined yet"]
    broken = plot_depth("relu", 8, 2.0, {**student, "deep_forward": lambda *args: (None, [])})
    assert _notes(broken) == ["your deep_forward returned logits of shape (), expected (64, 10)"]


def test_the_widgets_softmax_gradient_is_cross_entropy_grads():
    """While grading the widget computes dlogits itself: the same numbers, bit for bit."""
    logits = np.random.default_rng(0).normal(0.0, 30.0, size=(64, 10))
    _, y = fixed_batch()
    np.testing.assert_array_equal(widget._softmax_gradient(logits, y),
                                  cross_entropy_grad(logits, y))


# ---------------------------------------------------------------- the dashboard


def test_each_control_redraws_and_a_setting_seen_again_draws_the_same_picture():
    board = depth_explorer(RIGHT)
    activation, blocks, scale = board.controls
    assert [c.description for c in board.controls] == ["activation", "blocks L", "init scale s"]
    assert list(activation.options) == [("sigmoid", "sigmoid"), ("tanh", "tanh"),
                                        ("ReLU", "relu"), ("ELU", "elu")]
    assert (blocks.min, blocks.max, blocks.value) == (2, 50, 20)
    assert (scale.base ** scale.min, scale.base ** scale.max) == (0.25, 4.0)
    first = bytes(board.figure.value)
    for control, value in ((activation, "relu"), (blocks, 50), (scale, 2.0), (activation, "elu")):
        before, redraws = bytes(board.figure.value), board.redraws
        control.value = value
        assert board.redraws == redraws + 1 and bytes(board.figure.value) != before
    activation.value, blocks.value, scale.value = "sigmoid", 20, 1.0
    assert bytes(board.figure.value) == first
    assert _notes(board.draw()) == []


def test_the_same_settings_draw_the_same_png():
    first = figure_png(plot_depth("elu", 9, 0.5, RIGHT))
    widget._reference.cache_clear()  # computed again, not from memory
    assert figure_png(plot_depth("elu", 9, 0.5, RIGHT)) == first


# ---------------------------------------------------------------- what the presenter says


def _preset(name):
    preset = presenter.PRESETS[name]
    assert preset.widget == "depth_explorer"
    return depth_curves(**preset.settings), preset.say


def test_what_the_presenter_says_over_the_widget_is_what_it_draws():
    """Every number of 08's presets, from the curves the widget draws."""
    curves, say = _preset("sigmoid-twenty-blocks-vanish")
    plain = curves["plain"]["dW"]
    assert "about four times a layer" in say and "7e-14" in say and "0.23" in say
    assert 3.5 < np.exp(np.mean(np.diff(np.log(plain)))) < 4.5  # shrinking toward the input
    assert f"{plain[0] / plain[-1]:.0e}" == "7e-14"
    assert np.all(np.round(curves["residual"]["dH"][:-1], 2) == 0.23)

    curves, say = _preset("relu-twenty-blocks-healthy")
    assert "2.2" in say and "1.9" in say
    for kind, factor in (("plain", 2.2), ("residual", 1.9)):
        dW = curves[kind]["dW"]
        assert round(dW.max() / dW.min(), 1) == factor

    curves, say = _preset("tanh-weights-times-three-explode")
    plain, residual = curves["plain"]["dW"], curves["residual"]["dW"]
    assert "1.3 times a layer" in say and "500 times" in say and "factor of 5" in say
    assert round(float(np.exp(-np.mean(np.diff(np.log(plain[:-1]))))), 1) == 1.3
    assert 450 < plain[0] / plain[-1] < 550
    assert residual.max() / residual.min() < 5

    curves, say = _preset("residual-rescues-fifty-sigmoid-blocks")
    plain, residual = curves["plain"]["dW"], curves["residual"]["dW"]
    assert "9e-33" in say and "between 0.224 and 0.225" in say and "1/2 a block" in say
    assert f"{plain[0] / plain[-1]:.0e}" == "9e-33"
    dH = curves["residual"]["dH"][:-1]
    assert (round(dH.min(), 3), round(dH.max(), 3)) == (0.224, 0.225)
    # "still rises toward the output": from 1.0 to 194, nearly every step up
    assert residual[-1] > 100 * residual[0] and np.mean(np.diff(residual) > 0) > 0.9
    _, _, caches, _ = _by_hand("sigmoid", 50, 1.0, True)
    H_1, H_last = caches[1][0][0], caches[-1][0][0]  # the inputs of layers 2 and n
    assert round((H_last.mean() - H_1.mean()) / 50, 1) == 0.5

