"""Tests for course_lib.network: the MLP's parameters, forward, backward and predict."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib.gradcheck import numerical_gradient, relative_error
from course_lib.losses import cross_entropy, cross_entropy_grad
from course_lib.network import MLP, mlp_backward, mlp_forward

# N samples; sizes D -> H1 -> H2 -> C; all different so no transpose can pass
N = 4
SIZES = [5, 3, 6, 2]
ACTIVATION_NAMES = ["relu", "sigmoid", "tanh", "softplus", "elu"]

# The activations written again with plain NumPy, independent of course_lib.activations
# (safe here: the inputs are small, nothing overflows).
REFERENCE = {
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "softplus": lambda z: np.log1p(np.exp(z)),
    "elu": lambda z: np.where(z > 0, z, np.expm1(z)),
}


def model_away_from_zero(activation, rng):
    """An MLP with every weight and bias of size 0.5 to 1.5, random sign: no gradient hides."""
    model = MLP(SIZES, activation=activation, seed=0)
    for value in model.params.values():
        value[...] = rng.choice([-1.0, 1.0], size=value.shape) * rng.uniform(0.5, 1.5, value.shape)
    return model


def test_param_shapes_and_order():
    """W_i has shape (m_i, m_{i-1}) and b_i shape (m_i,), keyed W1, b1, W2, b2, …; biases start at 0."""
    model = MLP(SIZES)
    assert list(model.params) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    for i in range(1, len(SIZES)):
        assert model.params[f"W{i}"].shape == (SIZES[i], SIZES[i - 1])
        assert model.params[f"b{i}"].shape == (SIZES[i],)
        np.testing.assert_array_equal(model.params[f"b{i}"], 0.0)
        assert model.params[f"W{i}"].dtype == np.float64
    assert model.n_layers == 3


def test_n_params():
    """n_params = sum_i m_i (m_{i-1} + 1) = 3*6 + 6*4 + 2*7 = 56 for sizes [5, 3, 6, 2]."""
    model = MLP(SIZES)
    assert model.n_params == 56
    assert model.n_params == sum(
        m * (m_prev + 1) for m_prev, m in zip(SIZES[:-1], SIZES[1:], strict=True)
    )


def test_same_seed_same_params_different_seed_different():
    """Two MLPs with one seed have equal parameters; another seed gives other weights."""
    a, b, c = MLP(SIZES, seed=3), MLP(SIZES, seed=3), MLP(SIZES, seed=4)
    for key in a.params:
        np.testing.assert_array_equal(a.params[key], b.params[key])
    for key in ("W1", "W2", "W3"):
        assert not np.array_equal(a.params[key], c.params[key])


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_forward_is_the_composition_of_layers(activation, rng):
    """forward(X) = ((f(f(X W1^T + b1) W2^T + b2)) W3^T + b3, with the output layer linear."""
    model = model_away_from_zero(activation, rng)
    X = rng.normal(size=(N, SIZES[0]))
    p, f = model.params, REFERENCE[activation]
    H1 = f(X @ p["W1"].T + p["b1"])  # (N, 3)
    H2 = f(H1 @ p["W2"].T + p["b2"])  # (N, 6)
    expected = H2 @ p["W3"].T + p["b3"]  # (N, 2), no activation on the logits
    logits = model.forward(X)
    assert logits.shape == (N, SIZES[-1])
    np.testing.assert_allclose(logits, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_backward_matches_numerical_gradient(activation, rng):
    """Every gradient W1, b1, … of the cross-entropy agrees with central differences (< 1e-7)."""
    model = model_away_from_zero(activation, rng)
    X = rng.normal(size=(N, SIZES[0]))
    y = np.array([1, 0, 1, 1])

    grads = model.backward(cross_entropy_grad(model.forward(X), y))
    assert list(grads) == list(model.params)
    for key, value in model.params.items():
        # numerical_gradient perturbs model.params[key] in place; the loss reads it from the model
        numeric = numerical_gradient(lambda _: cross_entropy(model.forward(X), y), value)
        assert grads[key].shape == value.shape, key
        assert relative_error(grads[key], numeric) < 1e-7, key


def test_backward_before_forward_raises():
    """backward on a fresh model raises RuntimeError telling to call forward first."""
    with pytest.raises(RuntimeError, match="forward"):
        MLP(SIZES).backward(np.ones((N, SIZES[-1])))


def test_predict_is_argmax_and_keeps_the_forward_cache(rng):
    """predict returns argmax of the logits; backward afterwards still uses the last forward."""
    model = model_away_from_zero("tanh", rng)
    X, X_other = rng.normal(size=(N, SIZES[0])), rng.normal(size=(7, SIZES[0]))
    dout = rng.normal(size=(N, SIZES[-1]))
    logits = model.forward(X)
    expected = model.backward(dout)

    np.testing.assert_array_equal(model.predict(X), logits.argmax(axis=1))
    predicted = model.predict(X_other)  # a batch of another size: must not replace the cache
    assert predicted.shape == (7,)
    assert np.issubdtype(predicted.dtype, np.integer)
    after = model.backward(dout)
    for key in expected:
        np.testing.assert_array_equal(after[key], expected[key])


def test_inputs_not_modified(rng, unchanged):
    """forward leaves X unchanged, backward leaves dout unchanged, predict leaves X unchanged."""
    model = model_away_from_zero("elu", rng)
    X, dout = rng.normal(size=(N, SIZES[0])), rng.normal(size=(N, SIZES[-1]))
    with unchanged(X, dout):
        model.forward(X)
        model.backward(dout)
        model.predict(X)


def test_forward_backward_leave_params_unchanged(rng, unchanged):
    """forward, backward and predict do not change the parameters (only an optimizer does)."""
    model = model_away_from_zero("relu", rng)
    X = rng.normal(size=(N, SIZES[0]))
    with unchanged(*model.params.values()):
        model.backward(model.forward(X))  # any (N, C) array will do as dout
        model.predict(X)


@pytest.mark.parametrize("dtype", [np.int64, np.bool_, np.float32])
def test_forward_outputs_float64(dtype, rng):
    """Int, bool and float32 X give float64 logits equal to those for float64 X."""
    model = model_away_from_zero("sigmoid", rng)
    X = rng.integers(0, 2, size=(N, SIZES[0])).astype(dtype)
    logits = model.forward(X)
    assert logits.dtype == np.float64
    np.testing.assert_array_equal(logits, model.forward(X.astype(np.float64)))


def test_bad_activation_lists_valid_names():
    """An unknown activation raises ValueError listing every valid name."""
    with pytest.raises(ValueError, match="'swish'") as info:
        MLP(SIZES, activation="swish")
    for name in ACTIVATION_NAMES:
        assert repr(name) in str(info.value)


@pytest.mark.parametrize("sizes", [[5], [5, 0, 2], [], [5, -3]])
def test_bad_sizes_raise(sizes):
    """sizes with fewer than two widths or a width < 1 raise ValueError quoting them."""
    with pytest.raises(ValueError, match=r"sizes must list at least two positive widths") as info:
        MLP(sizes)
    assert str(sizes) in str(info.value)


def test_bad_init_raises():
    """An unknown init raises ValueError naming the valid ones."""
    with pytest.raises(ValueError, match="'he' or 'xavier'"):
        MLP(SIZES, init="zeros")


def test_wrong_number_of_features_names_both_shapes(rng):
    """X with D + 1 columns raises ValueError giving (N, D) and the shape passed."""
    with pytest.raises(ValueError) as info:
        MLP(SIZES).forward(rng.normal(size=(N, SIZES[0] + 1)))
    assert f"(N, {SIZES[0]})" in str(info.value)
    assert str((N, SIZES[0] + 1)) in str(info.value)


def test_one_sample_as_vector_raises(rng):
    """A 1-D X raises ValueError giving the (N, D) layout and the shape passed."""
    with pytest.raises(ValueError, match=r"2-D") as info:
        MLP(SIZES).predict(rng.normal(size=SIZES[0]))
    assert f"({SIZES[0]},)" in str(info.value)


def test_wrong_dout_shape_names_both_shapes(rng):
    """dout of shape (C, N) raises ValueError giving (N, C) and the shape passed."""
    model = MLP(SIZES)
    model.forward(rng.normal(size=(N, SIZES[0])))
    with pytest.raises(ValueError) as info:
        model.backward(np.ones((SIZES[-1], N)))
    assert str((N, SIZES[-1])) in str(info.value) and str((SIZES[-1], N)) in str(info.value)


@pytest.mark.parametrize(
    "bad", ["X", None, np.ones((N, SIZES[0]), dtype=complex)], ids=["str", "None", "complex-array"]
)
def test_non_real_X_raises_type_error(bad):
    """A string, None or complex X raises TypeError."""
    with pytest.raises(TypeError, match="real numbers"):
        MLP(SIZES).forward(bad)


@pytest.mark.parametrize(
    "activation, init, expected_std",
    [
        ("relu", "auto", np.sqrt(2.0 / 400)),  # He: 0.0707
        ("elu", "auto", np.sqrt(2.0 / 400)),
        ("tanh", "auto", np.sqrt(2.0 / (400 + 100))),  # Xavier: 0.0632
        ("sigmoid", "auto", np.sqrt(2.0 / (400 + 100))),
        ("relu", "xavier", np.sqrt(2.0 / (400 + 100))),
        ("tanh", "he", np.sqrt(2.0 / 400)),
    ],
)
def test_init_scale(activation, init, expected_std):
    """W1 of a 400 -> 100 layer has std sqrt(2/n_in) (He) or sqrt(2/(n_in+n_out)) (Xavier), within 2%."""
    # 40 000 draws pin a std down to ~0.35%; He and Xavier differ by 11% here
    W1 = MLP([400, 100, 3], activation=activation, init=init, seed=5).params["W1"]
    assert abs(W1.mean()) < 0.03 * expected_std
    assert abs(W1.std() / expected_std - 1.0) < 0.02


# ---------------------------------------------------------------- mlp_forward / mlp_backward


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_mlp_forward_and_backward_agree_with_the_mlp_class(activation, rng):
    """The functions and the class compute the same logits and the same gradients."""
    model = model_away_from_zero(activation, rng)
    X = rng.normal(size=(N, SIZES[0]))
    logits, caches = mlp_forward(X, model.params, activation)
    np.testing.assert_array_equal(logits, model.forward(X))
    dlogits = rng.normal(size=logits.shape)
    grads = mlp_backward(dlogits, caches, activation)
    expected = model.backward(dlogits)
    assert list(grads) == list(expected) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    for key in expected:
        np.testing.assert_array_equal(grads[key], expected[key])


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_mlp_backward_matches_numerical_gradient(activation, rng):
    """Every gradient of mlp_backward agrees with central differences (rel. error < 1e-7)."""
    params = model_away_from_zero(activation, rng).params
    X, y = rng.normal(size=(N, SIZES[0])), np.array([0, 1, 1, 0])
    logits, caches = mlp_forward(X, params, activation)
    grads = mlp_backward(cross_entropy_grad(logits, y), caches, activation)
    for key, value in params.items():
        numeric = numerical_gradient(
            lambda _: cross_entropy(mlp_forward(X, params, activation)[0], y), value)
        assert relative_error(grads[key], numeric) < 1e-7, key


def test_mlp_forward_caches_hold_each_layers_input_weights_and_output(rng):
    """caches[i-1] is ((H_{i-1}, W_i), Z_i): the hidden output is relu of the previous Z."""
    params = model_away_from_zero("relu", rng).params
    X = rng.normal(size=(N, SIZES[0]))
    logits, caches = mlp_forward(X, params, "relu")
    assert len(caches) == 3
    (H0, W1), Z1 = caches[0]
    assert H0 is X or np.array_equal(H0, X)
    np.testing.assert_array_equal(W1, params["W1"])
    np.testing.assert_allclose(Z1, X @ params["W1"].T + params["b1"], rtol=1e-15)
    (H1, _), _ = caches[1]
    np.testing.assert_array_equal(H1, np.maximum(Z1, 0.0))
    np.testing.assert_array_equal(caches[2][1], logits)


def test_mlp_functions_leave_their_inputs_unchanged(rng, unchanged):
    """Neither X, params, dlogits nor the caches are modified."""
    params = model_away_from_zero("tanh", rng).params
    X = rng.normal(size=(N, SIZES[0]))
    with unchanged(X, **params):
        logits, caches = mlp_forward(X, params, "tanh")
    dlogits = rng.normal(size=logits.shape)
    cached = [a for (pair, Z) in caches for a in (*pair, Z)]
    with unchanged(dlogits, *cached):
        mlp_backward(dlogits, caches, "tanh")


def test_mlp_forward_names_the_layer_whose_shape_is_wrong(rng):
    """A W2 that does not fit W1's output says which layer and both shapes."""
    params = model_away_from_zero("relu", rng).params
    params["W2"] = params["W2"].T.copy()
    with pytest.raises(ValueError, match=r"W2 must have shape \(6, 3\).*got \(3, 6\)"):
        mlp_forward(rng.normal(size=(N, SIZES[0])), params)


def test_mlp_forward_rejects_missing_keys_and_bad_activations(rng):
    """Missing b2, or an unknown activation, is reported by name."""
    params = model_away_from_zero("relu", rng).params
    X = rng.normal(size=(N, SIZES[0]))
    with pytest.raises(ValueError, match="activation must be one of"):
        mlp_forward(X, params, "swish")
    del params["b2"]
    with pytest.raises(ValueError, match="keys W1, b1"):
        mlp_forward(X, params)


def test_mlp_backward_wrong_dlogits_shape_names_both(rng):
    """dlogits of the wrong shape names the logits' shape and the given one."""
    params = model_away_from_zero("relu", rng).params
    _, caches = mlp_forward(rng.normal(size=(N, SIZES[0])), params)
    with pytest.raises(ValueError, match=r"\(4, 2\).*\(2, 4\)"):
        mlp_backward(np.zeros((2, 4)), caches)
