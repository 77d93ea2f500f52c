"""Tests for course_lib.activations: values, identities, derivatives, stability, inputs, errors."""

from __future__ import annotations

import numpy as np
import pytest
from course_tools import assert_caught, mistakes_of

from course_lib.activations import (
    ACTIVATIONS,
    elu,
    elu_grad,
    relu,
    relu_grad,
    sigmoid,
    sigmoid_grad,
    softmax,
    softplus,
    softplus_grad,
    tanh,
    tanh_grad,
)
from course_lib.gradcheck import relative_error

LN2, LN3 = np.log(2.0), np.log(3.0)
E = np.e

# (function, its derivative, keyword arguments of both)
PAIRS = [
    (relu, relu_grad, {}),
    (sigmoid, sigmoid_grad, {}),
    (tanh, tanh_grad, {}),
    (softplus, softplus_grad, {}),
    (elu, elu_grad, {}),
    (elu, elu_grad, {"alpha": 0.5}),
]
PAIR_IDS = ["relu", "sigmoid", "tanh", "softplus", "elu", "elu-alpha0.5"]

# every public function taking an array, with its keyword arguments
ALL_FUNCTIONS = [
    (f, kw) for pair in PAIRS for f, kw in ((pair[0], pair[2]), (pair[1], pair[2]))
] + [(softmax, {}), (softmax, {"axis": 0})]
ALL_IDS = [f"{f.__name__}{'-' + str(kw) if kw else ''}" for f, kw in ALL_FUNCTIONS]

# the edges of float64 exp: exp(710) overflows, exp(-750) underflows to 0
EXTREMES = np.concatenate(
    [np.linspace(-1000.0, 1000.0, 201), [-1000.0, -750.0, -710.0, 710.0, 750.0, 1000.0]]
)


def central_difference(f, x, h=1e-5):
    """Elementwise (f(x + h) - f(x - h)) / 2h: the derivative of an elementwise f."""
    return (f(x + h) - f(x - h)) / (2.0 * h)


def away_from_zero(rng, shape, low=0.1, high=4.0):
    """Random values with low <= |x| <= high and both signs: no kink of relu or elu nearby."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(low, high, size=shape)


HAND_VALUES = [
    # relu(-2) = max(0, -2) = 0, relu(0) = 0, relu(3) = 3
    (relu, {}, [-2.0, 0.0, 3.0], [0.0, 0.0, 3.0]),
    # relu'(x) = 1 for x > 0 and 0 otherwise, including at the kink x = 0 (the convention)
    (relu_grad, {}, [-2.0, 0.0, 3.0], [0.0, 0.0, 1.0]),
    # sigmoid(0) = 1 / (1 + e^0) = 1/2;  sigmoid(ln 3) = 1 / (1 + 1/3) = 3/4
    (sigmoid, {}, [0.0, LN3], [0.5, 0.75]),
    # sigmoid' = s (1 - s):  1/2 * 1/2 = 1/4 at 0;  3/4 * 1/4 = 3/16 at ln 3
    (sigmoid_grad, {}, [0.0, LN3], [0.25, 3 / 16]),
    # tanh(ln 2) = (2 - 1/2) / (2 + 1/2) = 3/5, and tanh is odd
    (tanh, {}, [0.0, LN2, -LN2], [0.0, 0.6, -0.6]),
    # tanh' = 1 - tanh^2:  1 at 0;  1 - 9/25 = 16/25 at +-ln 2
    (tanh_grad, {}, [0.0, LN2, -LN2], [1.0, 16 / 25, 16 / 25]),
    # softplus(0) = log(1 + 1) = log 2;  softplus(ln 3) = log(1 + 3) = 2 log 2
    (softplus, {}, [0.0, LN3], [LN2, 2 * LN2]),
    # softplus' = sigmoid: 1/2 at 0, 3/4 at ln 3
    (softplus_grad, {}, [0.0, LN3], [0.5, 0.75]),
    # elu(-1) = e^-1 - 1 (about -0.632);  elu(2) = 2
    (elu, {}, [-1.0, 2.0], [1 / E - 1, 2.0]),
    # alpha 1/2: elu(-ln 2) = 1/2 (1/2 - 1) = -1/4
    (elu, {"alpha": 0.5}, [-LN2, 2.0], [-0.25, 2.0]),
    # elu'(-1) = e^-1;  elu'(2) = 1
    (elu_grad, {}, [-1.0, 2.0], [1 / E, 1.0]),
    # alpha 1/2: elu'(-ln 2) = 1/2 * 1/2 = 1/4;  elu'(0) = alpha (the left derivative)
    (elu_grad, {"alpha": 0.5}, [-LN2, 0.0, 2.0], [0.25, 0.5, 1.0]),
]


@pytest.mark.parametrize(
    "f, kwargs, x, expected",
    HAND_VALUES,
    ids=[f"{f.__name__}{'-' + str(kw) if kw else ''}" for f, kw, _, _ in HAND_VALUES],
)
def test_hand_worked_values(f, kwargs, x, expected):
    """Each elementwise function gives the values worked out by hand in the table above."""
    np.testing.assert_allclose(f(np.array(x), **kwargs), expected, rtol=1e-12, atol=1e-15)


def test_softmax_hand_worked():
    """softmax([1, 2, 3]) = [1, e, e^2] / (1 + e + e^2) and softmax(log [1, 2, 5]) = [1, 2, 5] / 8."""
    # e^1 : e^2 : e^3 = 1 : e : e^2, and 1 + e + e^2 = 11.1073...:
    # [1, 2.71828, 7.38906] / 11.10734 = [0.0900306, 0.2447285, 0.6652410]
    expected = np.array([1.0, E, E**2]) / (1.0 + E + E**2)
    np.testing.assert_allclose(softmax([1.0, 2.0, 3.0]), expected, rtol=1e-12)
    np.testing.assert_allclose(expected, [0.0900306, 0.2447285, 0.6652410], atol=1e-7)
    # e^{log k} = k, so the probabilities are the k's over their sum 1 + 2 + 5 = 8
    np.testing.assert_allclose(softmax(np.log([1.0, 2.0, 5.0])), [1 / 8, 2 / 8, 5 / 8], rtol=1e-12)


def test_softplus_derivative_is_sigmoid():
    """A central difference of softplus equals sigmoid: softplus is the integral of sigmoid."""
    x = np.random.default_rng(1).uniform(-8.0, 8.0, size=(4, 5))
    assert relative_error(central_difference(softplus, x), sigmoid(x)) < 1e-7


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_sums_to_one_along_axis(axis):
    """softmax is non-negative and sums to 1 along the chosen axis, for rows or columns."""
    z = np.random.default_rng(2).normal(0.0, 3.0, size=(4, 5))
    p = softmax(z, axis=axis)
    assert p.shape == z.shape
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=axis), 1.0, rtol=1e-14)


def test_softmax_axis_zero_normalises_columns():
    """softmax(z, axis=0) is the row softmax of z.T, transposed back."""
    z = np.random.default_rng(3).normal(size=(4, 5))
    np.testing.assert_allclose(softmax(z, axis=0), softmax(z.T, axis=1).T, rtol=1e-14)


def test_softmax_shift_invariance():
    """Adding a constant per row does not change softmax: softmax(z + c) = softmax(z)."""
    rng = np.random.default_rng(4)
    z = rng.normal(size=(4, 5))
    c = rng.uniform(-50.0, 50.0, size=(4, 1))
    np.testing.assert_allclose(softmax(z + c), softmax(z), rtol=1e-12)


def test_tanh_is_rescaled_sigmoid():
    """tanh(x) = 2 sigmoid(2x) - 1."""
    x = np.random.default_rng(5).uniform(-10.0, 10.0, size=(4, 5))
    # 2 s - 1 cancels near x = 0, so compare absolutely, at a few float spacings of 1
    np.testing.assert_allclose(tanh(x), 2.0 * sigmoid(2.0 * x) - 1.0, rtol=0, atol=1e-15)


def test_sigmoid_symmetry():
    """sigmoid(-x) = 1 - sigmoid(x)."""
    x = np.random.default_rng(6).uniform(-30.0, 30.0, size=(4, 5))
    # 1 - sigmoid(x) is rounded to the spacing of floats near 1 (1.1e-16), hence atol
    np.testing.assert_allclose(sigmoid(-x), 1.0 - sigmoid(x), rtol=0, atol=1e-15)


@pytest.mark.parametrize("f, f_grad, kwargs", PAIRS, ids=PAIR_IDS)
def test_derivative_matches_central_difference(f, f_grad, kwargs):
    """Each <name>_grad agrees with a central difference of <name> to relative error < 1e-7."""
    x = away_from_zero(np.random.default_rng(7), (4, 5))
    numeric = central_difference(lambda t: f(t, **kwargs), x)
    assert relative_error(f_grad(x, **kwargs), numeric) < 1e-7


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations_table_pairs_function_with_its_derivative(name):
    """ACTIVATIONS[name] is (f, f') with f' the derivative of f: the MLP relies on the pairing."""
    f, f_grad = ACTIVATIONS[name]
    assert f.__name__ == name
    x = away_from_zero(np.random.default_rng(8), (4, 5))
    assert relative_error(f_grad(x), central_difference(f, x)) < 1e-7


def test_tail_precision():
    """sigmoid_grad(30) and tanh_grad(20) keep full relative precision instead of rounding to 0."""
    e30, e40 = np.exp(-30.0), np.exp(-40.0)
    # sigma'(x) = e^-x / (1 + e^-x)^2; 1 - sigma(30) would already have lost every digit
    np.testing.assert_allclose(sigmoid_grad(30.0), e30 / (1.0 + e30) ** 2, rtol=1e-12)
    np.testing.assert_allclose(sigmoid_grad(-30.0), e30 / (1.0 + e30) ** 2, rtol=1e-12)
    # tanh'(x) = sech^2(x) = 4 e^-2x / (1 + e^-2x)^2; 1 - tanh(20)^2 rounds to 0
    np.testing.assert_allclose(tanh_grad(20.0), 4.0 * e40 / (1.0 + e40) ** 2, rtol=1e-12)
    np.testing.assert_allclose(tanh_grad(-20.0), 4.0 * e40 / (1.0 + e40) ** 2, rtol=1e-12)


@pytest.mark.parametrize("f, kwargs", ALL_FUNCTIONS, ids=ALL_IDS)
def test_finite_without_floating_point_errors_at_extremes(f, kwargs):
    """Every function is finite on [-1000, 1000], including +-710 and +-750, with no fp errors."""
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        out = f(EXTREMES, **kwargs)
        both_signs = f(np.stack([EXTREMES, -EXTREMES]), **kwargs)
    assert out.shape == EXTREMES.shape
    assert np.all(np.isfinite(out))
    assert np.all(np.isfinite(both_signs))


LIMITS = [
    (relu, {}, [-1000.0, 1000.0], [0.0, 1000.0]),
    (relu_grad, {}, [-1000.0, 1000.0], [0.0, 1.0]),
    (sigmoid, {}, [-1000.0, 1000.0], [0.0, 1.0]),
    (sigmoid_grad, {}, [-1000.0, 1000.0], [0.0, 0.0]),
    (tanh, {}, [-1000.0, 1000.0], [-1.0, 1.0]),
    (tanh_grad, {}, [-1000.0, 1000.0], [0.0, 0.0]),
    # softplus(x) = x + log(1 + e^-x) -> x: exactly 1000 in float64
    (softplus, {}, [-1000.0, 1000.0], [0.0, 1000.0]),
    (softplus_grad, {}, [-1000.0, 1000.0], [0.0, 1.0]),
    # elu -> -alpha as x -> -inf
    (elu, {}, [-1000.0, 1000.0], [-1.0, 1000.0]),
    (elu, {"alpha": 0.5}, [-1000.0, 1000.0], [-0.5, 1000.0]),
    (elu_grad, {}, [-1000.0, 1000.0], [0.0, 1.0]),
    (elu_grad, {"alpha": 0.5}, [-1000.0, 1000.0], [0.0, 1.0]),
]


@pytest.mark.parametrize(
    "f, kwargs, x, expected",
    LIMITS,
    ids=[f"{f.__name__}{'-' + str(kw) if kw else ''}" for f, kw, _, _ in LIMITS],
)
def test_limits_at_plus_minus_1000(f, kwargs, x, expected):
    """At +-1000 each function gives its exact limit, e.g. sigmoid(-1000) = 0, softplus(1000) = 1000."""
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        out = f(np.array(x), **kwargs)
    np.testing.assert_allclose(out, expected, rtol=1e-15, atol=1e-300)


def test_softmax_at_extremes():
    """softmax([1000, 1000]) = [1/2, 1/2], and a 2000 gap puts all mass on the larger logit."""
    z = np.array([[1000.0, 1000.0], [-1000.0, 1000.0], [-1000.0, -1000.0], [710.0, -750.0]])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        p = softmax(z)
        p_columns = softmax(z.T, axis=0)
    np.testing.assert_allclose(p, [[0.5, 0.5], [0.0, 1.0], [0.5, 0.5], [1.0, 0.0]], atol=1e-300)
    np.testing.assert_array_equal(p_columns, p.T)


@pytest.mark.parametrize("f, kwargs", ALL_FUNCTIONS, ids=ALL_IDS)
def test_input_not_modified(f, kwargs, unchanged):
    """The input array is bit-identical after the call (including -0.0 and both signs)."""
    x = np.random.default_rng(9).normal(0.0, 3.0, size=(4, 5))
    x[0, 0], x[1, 1], x[2, 2] = -0.0, 0.0, -800.0
    with unchanged(x):
        f(x, **kwargs)


@pytest.mark.parametrize("f, kwargs", ALL_FUNCTIONS, ids=ALL_IDS)
@pytest.mark.parametrize(
    "x",
    [
        np.array([[-2, 0, 3], [1, -1, 4]]),
        np.array([[True, False, True], [False, False, True]]),
        np.array([[-2.0, 0.5, 3.0], [1.0, -1.5, 4.0]], dtype=np.float32),
    ],
    ids=["int", "bool", "float32"],
)
def test_output_is_float64(f, kwargs, x):
    """Int, bool and float32 inputs give float64 results equal to those for the float64 input."""
    out = f(x, **kwargs)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, f(x.astype(np.float64), **kwargs))


@pytest.mark.parametrize("f, kwargs", ALL_FUNCTIONS[:-2], ids=ALL_IDS[:-2])
@pytest.mark.parametrize("shape", [(), (3,), (2, 3, 4)])
def test_elementwise_keeps_shape(f, kwargs, shape):
    """Elementwise functions accept any shape, a scalar included, and return that shape."""
    x = np.random.default_rng(10).normal(size=shape)
    assert np.shape(f(x, **kwargs)) == shape


@pytest.mark.parametrize("f, kwargs", ALL_FUNCTIONS, ids=ALL_IDS)
@pytest.mark.parametrize(
    "bad",
    ["1.0", None, 1 + 2j, np.array([1.0 + 0j, 2.0]), np.array(["a", "b"]), [1.0, None]],
    ids=["str", "None", "complex", "complex-array", "str-array", "object-list"],
)
def test_non_real_input_raises_type_error(f, kwargs, bad):
    """Strings, None, complex numbers and objects raise TypeError naming the argument."""
    with pytest.raises(TypeError, match="real numbers"):
        f(bad, **kwargs)


def test_softmax_of_scalar_raises():
    """softmax needs an axis of classes: a scalar raises ValueError mentioning shape ()."""
    with pytest.raises(ValueError, match=r"shape \(\)"):
        softmax(3.0)


# ---------------------------------------------------------------- the notebook's feedback

FOLDER, NAME = "01_activations", "activations"


@pytest.mark.parametrize("mistake", sorted(mistakes_of(FOLDER)))
def test_the_visible_test_catches_each_typical_mistake(mistake):
    """Each mistake of tests/mistakes/01_activations.json fails its exercise's visible test
    cell, and the message names it (or shows the error raised in the student's code)."""
    assert_caught(FOLDER, NAME, mistake)
