"""Tests for course_lib.gradcheck: central differences, the relative error, and gradient_check."""

from __future__ import annotations

import numpy as np
import pytest
from course_tools import assert_caught, mistakes_of

from course_lib.gradcheck import gradient_check, numerical_gradient, relative_error


def test_numerical_gradient_hand_worked():
    """f(x) = 3 x0 + x1^2 + x0 x2 at (1, 2, -1) has gradient (3 + x2, 2 x1, x0) = (2, 4, 1)."""
    x = np.array([1.0, 2.0, -1.0])
    grad = numerical_gradient(lambda v: 3 * v[0] + v[1] ** 2 + v[0] * v[2], x)
    # a central difference is exact for polynomials of degree <= 2, up to rounding
    np.testing.assert_allclose(grad, [2.0, 4.0, 1.0], rtol=1e-9)


def test_numerical_gradient_of_quadratic_form(rng):
    """For f(X) = sum(A * X^2) on a (4, 5) array the gradient is 2 A * X, in X's layout."""
    A, X = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    grad = numerical_gradient(lambda v: np.sum(A * v**2), X)
    assert grad.shape == X.shape
    assert relative_error(grad, 2 * A * X) < 1e-9


def test_numerical_gradient_restores_x_exactly(unchanged):
    """x is bit-identical afterwards, also for values where x + h - h != x in floating point."""
    # stepping back by arithmetic (x += h; x -= 2h; x += h) does not give back 0.1, 1e6 + 0.1,
    # -7.3 or 2/3 in float64: only saving and writing back the old value restores them
    x = np.array([[0.1, 1 / 3, -0.0], [1e6 + 0.1, -7.3, 2.0 / 3]])
    with unchanged(x):
        numerical_gradient(lambda v: np.sum(np.sin(v)), x)


def test_numerical_gradient_restores_x_when_f_raises(rng):
    """When f raises on its 3rd call (x[1] perturbed), the error propagates and x is restored."""
    x = rng.normal(size=(2, 3))
    original = x.copy()
    calls = []
    seen = []

    def f(v):
        calls.append(1)
        seen.append(v.copy())
        if len(calls) == 3:
            raise ZeroDivisionError("raised on purpose")
        return float(np.sum(v))

    with pytest.raises(ZeroDivisionError, match="on purpose"):
        numerical_gradient(f, x)
    assert len(calls) == 3
    assert not np.array_equal(seen[2], original)  # the 3rd call did see a perturbed x
    assert x.tobytes() == original.tobytes()


def test_numerical_gradient_through_a_closure(rng):
    """f may ignore its argument and read x through a closure, since x is perturbed in place."""
    W = rng.normal(size=(3, 5))
    v = rng.normal(size=5)
    grad = numerical_gradient(lambda _: float(np.sum(W @ v)), W)  # d/dW sum(W v) = 1 v^T
    assert relative_error(grad, np.tile(v, (3, 1))) < 1e-9


def test_numerical_gradient_on_transposed_view(rng):
    """On a non-contiguous view (A.T) the gradient is right, in the view's layout, and A is restored."""
    A = rng.normal(size=(3, 5))
    A_before = A.copy()
    x = A.T  # shape (5, 3), a view that is not C-contiguous
    assert not x.flags.c_contiguous
    C = rng.normal(size=(5, 3))
    grad = numerical_gradient(lambda v: np.sum(C * v) + 0.5 * np.sum(v**2), x)
    assert grad.shape == (5, 3)
    assert relative_error(grad, C + x) < 1e-9
    assert A.tobytes() == A_before.tobytes()


@pytest.mark.parametrize(
    "bad",
    [np.arange(6).reshape(2, 3), np.ones(3, dtype=np.float32), [1.0, 2.0], 1.0],
    ids=["int-array", "float32-array", "list", "float"],
)
def test_numerical_gradient_needs_float64_array(bad):
    """x that is not a float64 ndarray (int, float32, list, scalar) raises TypeError."""
    with pytest.raises(TypeError, match="float64 ndarray"):
        numerical_gradient(lambda v: float(np.sum(v)), bad)


def test_relative_error_zero_for_equal_and_for_zero_arrays(rng):
    """relative_error is 0 for two equal arrays and for two zero arrays (no 0/0)."""
    a = rng.normal(size=(4, 5))
    assert relative_error(a, a.copy()) == 0.0
    with np.errstate(divide="raise", invalid="raise"):
        assert relative_error(np.zeros((4, 5)), np.zeros((4, 5))) == 0.0


def test_relative_error_hand_worked():
    """|a - b| / (|a| + |b|): 1 against zero or for opposite signs, sqrt(2)/2 for orthogonal units."""
    # |[3, 4] - 0| / (5 + 0) = 1
    assert relative_error([3.0, 4.0], [0.0, 0.0]) == 1.0
    # |[1] - [-1]| / (1 + 1) = 2 / 2 = 1
    assert relative_error([1.0], [-1.0]) == 1.0
    # |[1, 0] - [0, 1]| / (1 + 1) = sqrt(2) / 2
    assert relative_error([1.0, 0.0], [0.0, 1.0]) == pytest.approx(np.sqrt(2) / 2, rel=1e-15)
    # |[1, 2] - [1, 2.2]| / (sqrt(5) + sqrt(5.84)) = 0.2 / 4.6527...
    expected = 0.2 / (np.sqrt(5.0) + np.sqrt(5.84))
    assert relative_error([1.0, 2.0], [1.0, 2.2]) == pytest.approx(expected, rel=1e-12)


def test_relative_error_symmetric_and_bounded(rng):
    """relative_error(a, b) = relative_error(b, a) and lies in [0, 1] for random pairs."""
    for _ in range(20):
        a = rng.normal(size=(4, 5)) * rng.uniform(0, 10)
        b = rng.normal(size=(4, 5)) * rng.uniform(0, 10)
        error = relative_error(a, b)
        assert error == relative_error(b, a)
        assert 0.0 <= error <= 1.0


def test_relative_error_shape_mismatch_names_both_shapes():
    """Arrays of shapes (3, 5) and (5, 3) raise ValueError giving both shapes."""
    with pytest.raises(ValueError) as info:
        relative_error(np.ones((3, 5)), np.ones((5, 3)))
    assert "(3, 5)" in str(info.value) and "(5, 3)" in str(info.value)


def test_relative_error_leaves_inputs_unchanged(rng, unchanged):
    """relative_error does not modify a or b."""
    a, b = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    with unchanged(a=a, b=b):
        relative_error(a, b)


# ---------------------------------------------------------------- gradient_check


def _network(rng, sizes, scale=1.0):
    """W1, b1, … with weights and biases away from 0, so that a wrong gradient cannot hide."""
    params = {}
    for i, (m_in, m_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        params[f"W{i}"] = rng.normal(0.0, scale / np.sqrt(m_in), size=(m_out, m_in))
        params[f"b{i}"] = rng.normal(0.0, 0.5, size=m_out)
    return params


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "softplus", "elu"])
def test_gradient_check_passes_the_reference_backward(rng, activation):
    """On a 5 -> 4 -> 6 -> 3 network, every parameter's relative error is below 1e-7, keyed in order."""
    params = _network(rng, [5, 4, 6, 3])
    X, y = rng.normal(size=(7, 5)), rng.integers(0, 3, size=7)
    errors = gradient_check(params, X, y, activation)
    assert list(errors) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert all(isinstance(e, float) for e in errors.values())
    assert max(errors.values()) < 1e-7, errors


def test_gradient_check_hand_worked_large_step():
    """One layer, logits (0, ln 3), label 0, h = ln 3: the error is (3/4 - g) / (3/4 + g), g = ln 5 / (2 ln 3)."""
    # L = softplus(d) with d = z2 - z1 = ln 3: dL/db = (-3/4, 3/4); the central difference with
    # h = ln 3 is +-(softplus(2 ln 3) - softplus(0)) / (2 ln 3) = +-(ln 10 - ln 2) / (2 ln 3) = +-g
    params = {"W1": np.zeros((2, 1)), "b1": np.array([0.0, np.log(3.0)])}
    errors = gradient_check(params, np.array([[1.0]]), np.array([0]), h=np.log(3.0))
    g = np.log(5.0) / (2.0 * np.log(3.0))
    expected = (0.75 - g) / (0.75 + g)  # about 0.0118
    assert errors["W1"] == pytest.approx(expected, rel=1e-12)  # x = 1: dW = db
    assert errors["b1"] == pytest.approx(expected, rel=1e-12)


def test_gradient_check_error_shrinks_like_h_squared(rng):
    """With a smooth activation the error is O(h^2): 10 times smaller h, about 100 times smaller error."""
    params = _network(rng, [3, 4, 2])
    X, y = rng.normal(size=(5, 3)), rng.integers(0, 2, size=5)
    coarse = gradient_check(params, X, y, "tanh", h=1e-1)
    fine = gradient_check(params, X, y, "tanh", h=1e-2)
    for key in params:
        assert 50 < coarse[key] / fine[key] < 200, (key, coarse[key], fine[key])


def test_gradient_check_catches_a_wrong_backward(rng, monkeypatch):
    """A backward pass that forgets f' passes on the last layer and fails every layer below it."""
    from course_lib import gradcheck, layers

    def forgetful(dlogits, caches, activation="relu"):
        grads, dZ = {}, dlogits
        for i in range(len(caches), 0, -1):
            dZ, grads[f"W{i}"], grads[f"b{i}"] = layers.dense_backward(dZ, caches[i - 1][0])
        return grads

    monkeypatch.setattr(gradcheck, "mlp_backward", forgetful)
    params = _network(rng, [4, 5, 3])
    X, y = rng.normal(size=(6, 4)), rng.integers(0, 3, size=6)
    errors = gradient_check(params, X, y, "tanh")
    assert errors["W2"] < 1e-7 and errors["b2"] < 1e-7
    assert errors["W1"] > 1e-3 and errors["b1"] > 1e-3


def test_gradient_check_leaves_its_inputs_bit_identical(rng, unchanged):
    """params (perturbed in place while it runs), X and y are exactly as before."""
    params = _network(rng, [4, 3, 2])
    params["W1"][0, 0] = 0.1  # a value that x + h - h would not give back
    X, y = rng.normal(size=(5, 4)), rng.integers(0, 2, size=5)
    with unchanged(X, y, **params):
        gradient_check(params, X, y, "sigmoid", h=1e-3)


def test_gradient_check_needs_float64_parameters(rng):
    """Integer parameters cannot be perturbed by h in place: TypeError, as from numerical_gradient."""
    params = {"W1": np.ones((2, 3), dtype=int), "b1": np.zeros(2)}
    with pytest.raises(TypeError, match="float64 ndarray"):
        gradient_check(params, rng.normal(size=(4, 3)), np.array([0, 1, 1, 0]))


# ---------------------------------------------------------------- typical mistakes, in the notebook

FOLDER, NAME = "04_backprop", "backprop"



@pytest.mark.parametrize("mistake", sorted(mistakes_of(FOLDER)))
def test_the_visible_test_catches_each_typical_mistake(mistake):
    """Each mistake of tests/mistakes/04_backprop.json fails its exercise's visible test cell,
    and the message names it (or shows the error raised in the student's code)."""
    assert_caught(FOLDER, NAME, mistake)
