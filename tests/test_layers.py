"""Tests for course_lib.layers: the dense layer forward and backward, He and Xavier init."""

from __future__ import annotations

import numpy as np
import pytest
from course_tools import assert_caught, mistakes_of

from course_lib.gradcheck import numerical_gradient, relative_error
from course_lib.layers import (
    activation_backward,
    dense_backward,
    dense_forward,
    he_init,
    xavier_init,
)

N, D, H = 4, 5, 3  # all different, so a transposed array cannot have the right shape


def random_layer(rng):
    """X (N, D), W (H, D), b (H,), with weights and biases well away from zero."""
    X = rng.normal(size=(N, D))
    W = rng.choice([-1.0, 1.0], size=(H, D)) * rng.uniform(0.5, 1.5, size=(H, D))
    b = rng.uniform(0.5, 1.5, size=H) * rng.choice([-1.0, 1.0], size=H)
    return X, W, b


def test_forward_backward_hand_worked():
    """One sample through a 2 -> 3 layer, forward and backward, worked out by hand."""
    X = np.array([[1.0, 2.0]])
    W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    b = np.array([0.5, -1.0, 0.0])
    Z, cache = dense_forward(X, W, b)
    # Z = X W^T + b = [1*1 + 2*0, 1*0 + 2*1, 1*1 + 2*1] + b = [1, 2, 3] + [0.5, -1, 0]
    np.testing.assert_array_equal(Z, [[1.5, 1.0, 3.0]])
    dX, dW, db = dense_backward(np.array([[1.0, 2.0, 3.0]]), cache)
    # dX = dZ W = 1*[1, 0] + 2*[0, 1] + 3*[1, 1] = [4, 5]
    np.testing.assert_array_equal(dX, [[4.0, 5.0]])
    # dW = dZ^T X: row j is dZ_j * [1, 2]
    np.testing.assert_array_equal(dW, [[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])
    # db = sum of dZ over the batch = dZ for one sample
    np.testing.assert_array_equal(db, [1.0, 2.0, 3.0])


def test_forward_matches_per_sample_formula(rng):
    """Row n of Z is W x_n + b, the notebooks' h = W x + b for one sample."""
    X, W, b = random_layer(rng)
    Z, _ = dense_forward(X, W, b)
    assert Z.shape == (N, H)
    for n in range(N):
        np.testing.assert_allclose(Z[n], W @ X[n] + b, rtol=1e-14)


def test_backward_matches_numerical_gradient(rng):
    """dX, dW and db agree with central differences of L = sum(G * Z) to relative error < 1e-7."""
    X, W, b = random_layer(rng)
    G = rng.normal(size=(N, H))  # dL/dZ for L = sum(G * Z)

    def loss(_):
        return np.sum(G * dense_forward(X, W, b)[0])

    _, cache = dense_forward(X, W, b)
    dX, dW, db = dense_backward(G, cache)
    assert (dX.shape, dW.shape, db.shape) == (X.shape, W.shape, b.shape)
    assert relative_error(dX, numerical_gradient(loss, X)) < 1e-7
    assert relative_error(dW, numerical_gradient(loss, W)) < 1e-7
    assert relative_error(db, numerical_gradient(loss, b)) < 1e-7


def test_forward_leaves_inputs_unchanged(rng, unchanged):
    """dense_forward does not modify X, W or b."""
    X, W, b = random_layer(rng)
    with unchanged(X, W, b):
        dense_forward(X, W, b)


def test_backward_leaves_dZ_and_cache_unchanged(rng, unchanged):
    """dense_backward does not modify dZ or the arrays in the cache."""
    X, W, b = random_layer(rng)
    dZ = rng.normal(size=(N, H))
    _, cache = dense_forward(X, W, b)
    with unchanged(dZ, *cache):
        dense_backward(dZ, cache)
    assert len(cache) == 2


@pytest.mark.parametrize("dtype", [np.int64, np.bool_, np.float32])
def test_outputs_are_float64(dtype):
    """Int, bool and float32 inputs give float64 Z, dX, dW and db."""
    X = np.array([[1, 0, 1, 1, 0], [0, 1, 1, 0, 1]], dtype=dtype)
    W = np.array([[1, 1, 0, 0, 1], [0, 1, 0, 1, 1], [1, 0, 1, 0, 0]], dtype=dtype)
    b = np.array([1, 0, 1], dtype=dtype)
    Z, cache = dense_forward(X, W, b)
    dX, dW, db = dense_backward(np.ones((2, 3), dtype=dtype), cache)
    for out in (Z, dX, dW, db):
        assert out.dtype == np.float64
    np.testing.assert_array_equal(Z, X.astype(float) @ W.astype(float).T + b.astype(float))


def test_wrong_W_shape_names_both_shapes():
    """W of shape (3, 4) for X of shape (2, 5): the message gives W's shape and the 5 it needs."""
    with pytest.raises(ValueError) as info:
        dense_forward(np.ones((2, 5)), np.ones((3, 4)), np.ones(3))
    message = str(info.value)
    assert "(3, 4)" in message
    assert "5" in message.replace("(3, 4)", "")
    assert "W.T" not in message  # a (4, 3) W would not fit either: no transpose hint


def test_transposed_W_gets_a_hint(rng):
    """Passing W.T, of shape (D, H), raises ValueError asking "did you pass W.T?"."""
    X, W, b = random_layer(rng)
    with pytest.raises(ValueError, match=r"did you pass W\.T\?") as info:
        dense_forward(X, W.T, b)
    assert str((D, H)) in str(info.value)


def test_wrong_b_shape_names_both_shapes(rng):
    """b with D entries instead of H raises ValueError giving (H,) and the shape passed."""
    X, W, _ = random_layer(rng)
    with pytest.raises(ValueError) as info:
        dense_forward(X, W, np.ones(D))
    assert f"({H},)" in str(info.value)
    assert f"({D},)" in str(info.value)


def test_one_sample_as_vector_gets_a_hint(rng):
    """A 1-D X raises ValueError with its shape and the x[None, :] hint."""
    X, W, b = random_layer(rng)
    with pytest.raises(ValueError, match=r"x\[None, :\]") as info:
        dense_forward(X[0], W, b)
    assert f"({D},)" in str(info.value)


def test_wrong_dZ_shape_names_both_shapes(rng):
    """dZ of shape (H, N) instead of (N, H) raises ValueError giving both shapes."""
    X, W, b = random_layer(rng)
    _, cache = dense_forward(X, W, b)
    with pytest.raises(ValueError) as info:
        dense_backward(np.ones((H, N)), cache)
    assert str((N, H)) in str(info.value)
    assert str((H, N)) in str(info.value)


@pytest.mark.parametrize("position", [0, 1, 2], ids=["X", "W", "b"])
@pytest.mark.parametrize("bad", ["1.0", None, 1 + 2j], ids=["str", "None", "complex"])
def test_non_real_input_raises_type_error(rng, position, bad):
    """A string, None or complex number for X, W or b raises TypeError naming that argument."""
    args = list(random_layer(rng))
    args[position] = bad
    name = ["X", "W", "b"][position]
    with pytest.raises(TypeError, match=rf"^{name} must be an array of real numbers"):
        dense_forward(*args)


@pytest.mark.parametrize("init", [he_init, xavier_init])
def test_init_shape_and_determinism(init):
    """An init gives W of shape (n_out, n_in), the same for the same seed, different otherwise."""
    W = init(5, 3, np.random.default_rng(11))
    assert W.shape == (3, 5)
    np.testing.assert_array_equal(W, init(5, 3, np.random.default_rng(11)))
    assert not np.array_equal(W, init(5, 3, np.random.default_rng(12)))


@pytest.mark.parametrize(
    "init, expected_std",
    [
        (he_init, np.sqrt(2.0 / 400)),  # 0.0707: He, var 2 / n_in
        (xavier_init, np.sqrt(2.0 / (400 + 100))),  # 0.0632: Xavier, var 2 / (n_in + n_out)
    ],
    ids=["he", "xavier"],
)
def test_init_standard_deviation(init, expected_std):
    """On a 400 -> 100 layer the sample std is within 2% of its formula (the two differ by 11%)."""
    # 40 000 draws estimate a std to about 0.35% (1/sqrt(2 * 40000)): 2% is ~6 standard errors
    W = init(400, 100, np.random.default_rng(13))
    assert abs(W.mean()) < 0.03 * expected_std  # the mean is known to std / 200
    assert abs(W.std() / expected_std - 1.0) < 0.02


# ---------------------------------------------------------------- activation_backward


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "softplus", "elu"])
def test_activation_backward_matches_numerical_gradient(activation, rng):
    """dZ = dH * f'(Z) is the gradient of sum(dH * f(Z)) with respect to Z."""
    from course_lib.activations import ACTIVATIONS

    f = ACTIVATIONS[activation][0]
    Z = rng.normal(size=(N, H)) + 0.1  # away from relu's kink at 0
    dH = rng.normal(size=(N, H))
    numeric = numerical_gradient(lambda z: float(np.sum(dH * f(z))), Z.copy())
    assert relative_error(activation_backward(dH, Z, activation), numeric) < 1e-7


def test_activation_backward_hand_worked():
    """ReLU passes dH where Z > 0 and blocks it elsewhere (0 at Z = 0)."""
    dZ = activation_backward(np.array([[1.0, 2.0, 3.0]]), np.array([[-1.0, 0.0, 4.0]]), "relu")
    np.testing.assert_array_equal(dZ, [[0.0, 0.0, 3.0]])


def test_activation_backward_checks_shapes_and_names(rng, unchanged):
    """Mismatched shapes and unknown activations are reported; inputs stay as they were."""
    dH, Z = rng.normal(size=(N, H)), rng.normal(size=(N, H))
    with unchanged(dH, Z):
        activation_backward(dH, Z, "tanh")
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(3, 4\)"):
        activation_backward(dH.T, Z)
    with pytest.raises(ValueError, match="activation must be one of"):
        activation_backward(dH, Z, "gelu")


# ---------------------------------------------------------------- typical mistakes, in the notebook

FOLDER, NAME = "02_forward_pass", "forward_pass"



@pytest.mark.parametrize("mistake", sorted(mistakes_of(FOLDER)))
def test_the_visible_test_catches_each_typical_mistake(mistake):
    """Each mistake of tests/mistakes/02_forward_pass.json fails its exercise's visible test cell,
    and the message names it (or shows the error raised in the student's code)."""
    assert_caught(FOLDER, NAME, mistake)
