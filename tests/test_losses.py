"""Tests for course_lib.losses: MSE, softmax cross-entropy, the L2 penalty."""

from __future__ import annotations

import numpy as np
import pytest
from course_tools import assert_caught, mistakes_of

from course_lib.gradcheck import numerical_gradient, relative_error
from course_lib.losses import (
    cross_entropy,
    cross_entropy_and_grad,
    cross_entropy_grad,
    is_weight,
    l2_penalty,
    mse,
    mse_and_grad,
    mse_grad,
)

N, C = 4, 3  # different, so transposed logits cannot have the right shape


def random_logits(rng):
    """Logits (N, C) and integer labels (N,) covering several classes."""
    return rng.normal(0.0, 2.0, size=(N, C)), np.array([2, 0, 1, 2])


# ---------------------------------------------------------------- hand-worked values


def test_mse_hand_worked():
    """mse([1, 2, 3], [1, 0, 4]) = 5/3 and its gradient is [0, 4/3, -2/3]."""
    y_pred, y_true = np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 4.0])
    # differences [0, 2, -1], squares [0, 4, 1], mean (0 + 4 + 1) / 3 = 5/3
    assert mse(y_pred, y_true) == pytest.approx(5 / 3, rel=1e-15)
    # d/dy_pred of the mean: 2 (y_pred - y_true) / 3 = [0, 4/3, -2/3]
    np.testing.assert_allclose(mse_grad(y_pred, y_true), [0.0, 4 / 3, -2 / 3], rtol=1e-15)


def test_mse_averages_over_all_elements():
    """For (N, C) outputs mse is the mean over all N * C elements, not the sum over C."""
    y_pred = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    y_true = np.zeros((3, 2))
    # (1 + 4 + 9 + 16 + 25 + 36) / 6 = 91/6; the gradient is 2 y_pred / 6
    assert mse(y_pred, y_true) == pytest.approx(91 / 6, rel=1e-15)
    np.testing.assert_allclose(mse_grad(y_pred, y_true), y_pred / 3, rtol=1e-15)


def test_cross_entropy_hand_worked():
    """A 2x3 batch worked out by hand: loss log(4.8) / 2 and gradient (softmax - onehot) / 2."""
    logits = np.array([np.log([1.0, 2.0, 5.0]), [1.0, 1.0, 1.0]])
    labels = np.array([2, 1])
    # row 0: softmax(log [1, 2, 5]) = [1, 2, 5] / 8, label 2: -log(5/8) = log(8/5)
    # row 1: equal logits, softmax = [1/3, 1/3, 1/3], label 1: -log(1/3) = log 3
    # mean: (log(8/5) + log 3) / 2 = log(24/5) / 2 = log(4.8) / 2 = 0.784303...
    expected_loss = np.log(4.8) / 2
    assert cross_entropy(logits, labels) == pytest.approx(expected_loss, rel=1e-14)
    # gradient: (softmax - onehot(label)) / N with N = 2
    # row 0: ([1/8, 2/8, 5/8] - [0, 0, 1]) / 2 = [1/16, 1/8, -3/16]
    # row 1: ([1/3, 1/3, 1/3] - [0, 1, 0]) / 2 = [1/6, -1/3, 1/6]
    expected_grad = [[1 / 16, 1 / 8, -3 / 16], [1 / 6, -1 / 3, 1 / 6]]
    np.testing.assert_allclose(cross_entropy_grad(logits, labels), expected_grad, rtol=1e-14)


def test_l2_penalty_hand_worked():
    """l2_penalty = lam/2 * (sum of squared weights), biases excluded: 0.05 * 32 = 1.6."""
    params = {
        "W1": np.array([[1.0, 2.0], [3.0, 4.0]]),  # 1 + 4 + 9 + 16 = 30
        "b1": np.array([10.0, 10.0]),  # a bias: not penalised
        "W2": np.array([[1.0, -1.0]]),  # 1 + 1 = 2
        "b2": np.array([10.0]),
    }
    # 0.1 / 2 * (30 + 2) = 1.6
    assert l2_penalty(params, 0.1) == pytest.approx(1.6, rel=1e-15)
    assert l2_penalty(params, 0.0) == 0.0


def test_fused_functions_match_separate_ones(rng):
    """cross_entropy_and_grad and mse_and_grad return exactly what the separate functions do."""
    logits, labels = random_logits(rng)
    loss, dlogits = cross_entropy_and_grad(logits, labels)
    assert loss == cross_entropy(logits, labels)
    np.testing.assert_array_equal(dlogits, cross_entropy_grad(logits, labels))
    y_pred, y_true = rng.normal(size=(N, C)), rng.normal(size=(N, C))
    loss, dy_pred = mse_and_grad(y_pred, y_true)
    assert loss == mse(y_pred, y_true)
    np.testing.assert_array_equal(dy_pred, mse_grad(y_pred, y_true))


@pytest.mark.parametrize(
    "key, expected",
    [("W1", True), ("W12", True), ("b1", False), ("W", False), ("w1", False), ("W1b", False)],
)
def test_is_weight(key, expected):
    """Only keys W1, W2, … name weight matrices."""
    assert is_weight(key) is expected


# ---------------------------------------------------------------- gradients


def test_cross_entropy_grad_matches_numerical_gradient(rng):
    """cross_entropy_grad agrees with central differences of cross_entropy (rel. error < 1e-7)."""
    logits, labels = random_logits(rng)
    numeric = numerical_gradient(lambda z: cross_entropy(z, labels), logits)
    assert relative_error(cross_entropy_grad(logits, labels), numeric) < 1e-7


@pytest.mark.parametrize("shape", [(N,), (N, 1), (N, C)])
def test_mse_grad_matches_numerical_gradient(rng, shape):
    """mse_grad agrees with central differences of mse (relative error < 1e-7)."""
    y_pred, y_true = rng.normal(size=shape), rng.normal(size=shape)
    numeric = numerical_gradient(lambda y: mse(y, y_true), y_pred)
    assert relative_error(mse_grad(y_pred, y_true), numeric) < 1e-7


def test_l2_penalty_gradient_is_lam_W(rng):
    """The gradient of l2_penalty is lam * W for each weight matrix and 0 for each bias."""
    lam = 0.3
    params = {
        "W1": rng.normal(size=(3, 5)),
        "b1": rng.normal(size=3),
        "W2": rng.normal(size=(2, 3)),
        "b2": rng.normal(size=2),
    }
    for key, value in params.items():
        numeric = numerical_gradient(lambda _: l2_penalty(params, lam), value)
        expected = lam * value if is_weight(key) else np.zeros_like(value)
        assert relative_error(numeric, expected) < 1e-7, key


# ---------------------------------------------------------------- stability


def test_cross_entropy_at_extremes():
    """Logits 1000 apart: loss 1000 for the wrong class, 0 for the right one, no fp errors."""
    logits = np.array([[0.0, 1000.0]])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        # log(e^0 + e^1000) - z_y = 1000 + log(1 + e^-1000) - z_y = 1000 - z_y
        assert cross_entropy(logits, np.array([0])) == 1000.0
        assert cross_entropy(logits, np.array([1])) == 0.0
        # softmax = [0, 1] exactly: the gradient for label 0 is [0 - 1, 1 - 0]
        np.testing.assert_array_equal(cross_entropy_grad(logits, np.array([0])), [[-1.0, 1.0]])
        np.testing.assert_array_equal(cross_entropy_grad(logits, np.array([1])), [[0.0, 0.0]])


@pytest.mark.parametrize("label", [0, 1, 2])
def test_cross_entropy_finite_across_range(label):
    """cross_entropy and its gradient are finite for logits in [-1000, 1000], +-710 and +-750."""
    values = np.array([-1000.0, -750.0, -710.0, -1.0, 0.0, 1.0, 710.0, 750.0, 1000.0])
    # every ordered triple of these values, as rows of logits
    logits = np.stack(np.meshgrid(values, values, values, indexing="ij"), axis=-1).reshape(-1, 3)
    labels = np.full(len(logits), label)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        loss, dlogits = cross_entropy_and_grad(logits, labels)
        assert np.isfinite(cross_entropy(logits, labels))
        assert np.all(np.isfinite(cross_entropy_grad(logits, labels)))
    assert np.isfinite(loss) and loss >= 0
    assert np.all(np.isfinite(dlogits))
    np.testing.assert_allclose(dlogits.sum(axis=1), 0.0, atol=1e-15)  # softmax and onehot sum to 1


# ---------------------------------------------------------------- inputs, dtypes


def test_inputs_not_modified(rng, unchanged):
    """No loss function or gradient writes into its arguments (logits, labels, targets, params)."""
    logits, labels = random_logits(rng)
    y_pred, y_true = rng.normal(size=(N, C)), rng.normal(size=(N, C))
    params = {"W1": rng.normal(size=(3, 5)), "b1": rng.normal(size=3)}
    with unchanged(logits, labels):
        cross_entropy(logits, labels)
        cross_entropy_grad(logits, labels)
        cross_entropy_and_grad(logits, labels)
    with unchanged(y_pred, y_true):
        mse(y_pred, y_true)
        mse_grad(y_pred, y_true)
        mse_and_grad(y_pred, y_true)
    with unchanged(*params.values()):
        l2_penalty(params, 0.5)


def test_cross_entropy_grad_returns_a_new_array(rng):
    """cross_entropy_grad's result does not share memory with the logits."""
    logits, labels = random_logits(rng)
    assert not np.shares_memory(cross_entropy_grad(logits, labels), logits)
    assert not np.shares_memory(cross_entropy_and_grad(logits, labels)[1], logits)


@pytest.mark.parametrize("dtype", [np.int64, np.bool_, np.float32])
def test_outputs_are_float64(dtype):
    """Int, bool and float32 inputs give float losses and float64 gradients."""
    a = np.array([[1, 0, 1], [0, 1, 1]], dtype=dtype)
    b = np.array([[0, 0, 1], [1, 1, 0]], dtype=dtype)
    labels = np.array([2, 0])
    assert type(cross_entropy(a, labels)) is float
    assert type(mse(a, b)) is float
    assert cross_entropy_grad(a, labels).dtype == np.float64
    assert mse_grad(a, b).dtype == np.float64
    assert type(l2_penalty({"W1": a}, 0.5)) is float
    np.testing.assert_array_equal(
        cross_entropy_grad(a, labels), cross_entropy_grad(a.astype(np.float64), labels)
    )


# ---------------------------------------------------------------- bad input


def test_mse_vector_against_column_raises_with_broadcast_hint():
    """mse of shapes (N,) and (N, 1) raises ValueError naming both and the (N, N) broadcast."""
    for f in (mse, mse_grad, mse_and_grad):
        with pytest.raises(ValueError, match="broadcast") as info:
            f(np.ones(N), np.ones((N, 1)))
        assert f"({N},)" in str(info.value) and f"({N}, 1)" in str(info.value)


def test_mse_different_sizes_names_both_shapes():
    """mse of shapes (4, 3) and (3, 4) raises ValueError giving both shapes."""
    with pytest.raises(ValueError) as info:
        mse(np.ones((N, C)), np.ones((C, N)))
    assert str((N, C)) in str(info.value) and str((C, N)) in str(info.value)


def test_mse_of_empty_raises():
    """mse of empty arrays is undefined and raises ValueError."""
    with pytest.raises(ValueError, match="empty"):
        mse(np.ones((0,)), np.ones((0,)))


@pytest.mark.parametrize("f", [cross_entropy, cross_entropy_grad, cross_entropy_and_grad])
def test_float_labels_raise_type_error(rng, f):
    """Float labels, even whole numbers, raise TypeError asking for integer class ids."""
    logits, labels = random_logits(rng)
    with pytest.raises(TypeError, match="integer class ids"):
        f(logits, labels.astype(np.float64))


@pytest.mark.parametrize("f", [cross_entropy, cross_entropy_grad, cross_entropy_and_grad])
def test_one_hot_labels_suggest_argmax(rng, f):
    """One-hot labels of shape (N, C) raise ValueError suggesting labels.argmax(axis=1)."""
    logits, labels = random_logits(rng)
    one_hot = np.eye(C)[labels]
    with pytest.raises(ValueError, match=r"argmax\(axis=1\)"):
        f(logits, one_hot)
    with pytest.raises(ValueError, match=r"argmax\(axis=1\)"):
        f(logits, one_hot.astype(np.int64))


@pytest.mark.parametrize("bad_label", [-1, C, 100])
def test_labels_out_of_range_raise(rng, bad_label):
    """A label outside [0, C) raises ValueError naming the range and the value."""
    logits, labels = random_logits(rng)
    labels[1] = bad_label
    with pytest.raises(ValueError, match=rf"\[0, {C}\)") as info:
        cross_entropy(logits, labels)
    assert str(bad_label) in str(info.value)


def test_wrong_number_of_labels_names_both_shapes(rng):
    """N - 1 labels for N rows of logits raise ValueError giving (N,) and the shape passed."""
    logits, labels = random_logits(rng)
    with pytest.raises(ValueError) as info:
        cross_entropy(logits, labels[:-1])
    assert f"({N},)" in str(info.value) and f"({N - 1},)" in str(info.value)


def test_one_dimensional_logits_raise(rng):
    """Logits for one sample as a vector raise ValueError naming the (N, C) layout and the shape."""
    with pytest.raises(ValueError, match=r"\(N, C\)") as info:
        cross_entropy(rng.normal(size=C), np.array([0]))
    assert f"({C},)" in str(info.value)


@pytest.mark.parametrize(
    "bad",
    ["1.0", None, 1 + 2j, np.ones((N, C), dtype=complex)],
    ids=["str", "None", "complex", "complex-array"],
)
def test_non_real_input_raises_type_error(rng, bad):
    """Strings, None and complex numbers as logits or MSE arrays raise TypeError."""
    _, labels = random_logits(rng)
    with pytest.raises(TypeError, match="logits must be an array of real numbers"):
        cross_entropy(bad, labels)
    with pytest.raises(TypeError, match="y_pred must be an array of real numbers"):
        mse(bad, np.ones((N, C)))
    with pytest.raises(TypeError, match="y_true must be an array of real numbers"):
        mse_grad(np.ones((N, C)), bad)


def test_l2_penalty_needs_a_dict():
    """l2_penalty of a list of arrays raises TypeError showing the expected dict."""
    with pytest.raises(TypeError, match="dict"):
        l2_penalty([np.ones((2, 2))], 0.1)


# ---------------------------------------------------------------- the notebook's feedback

FOLDER, NAME = "03_losses", "losses"


@pytest.mark.parametrize("mistake", sorted(mistakes_of(FOLDER)))
def test_the_visible_test_catches_each_typical_mistake(mistake):
    """Each mistake of tests/mistakes/03_losses.json fails its exercise's visible test cell,
    and the message names it (or shows the error raised in the student's code)."""
    assert_caught(FOLDER, NAME, mistake)
