"""Tests for course_lib.residual: the residual block, the deep network, its gradient norms and
ResMLP.

Each is checked against an independent computation: values worked out by hand in the comments,
the same formulas written again in plain NumPy, the course's MLP (a plain deep network is an
MLP) and central differences in float64.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from course_tools import assert_caught, mistakes_of
from threadpoolctl import threadpool_limits

from course_lib.data import load_digits
from course_lib.gradcheck import numerical_gradient, relative_error
from course_lib.losses import cross_entropy, cross_entropy_grad
from course_lib.network import MLP, mlp_backward, mlp_forward
from course_lib.optim import Adam
from course_lib.residual import (
    ResMLP,
    deep_backward,
    deep_forward,
    deep_gradient_check,
    deep_init,
    layer_gradient_norms,
    residual_backward,
    residual_forward,
)
from course_lib.train import fit

ACTIVATION_NAMES = ["relu", "sigmoid", "tanh", "softplus", "elu"]
N, M = 4, 3  # samples and width: different, so a transposed array cannot have the right shape

# The activations and their derivatives written again in plain NumPy, independent of
# course_lib.activations (safe here: the inputs are small, nothing overflows).
F = {
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(float)),
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "softplus": (lambda z: np.log1p(np.exp(z)), lambda z: 1 / (1 + np.exp(-z))),
    "elu": (lambda z: np.where(z > 0, z, np.expm1(z)), lambda z: np.where(z > 0, 1.0, np.exp(z))),
}


def _block(rng, n=N, m=M):
    """H (n, m) with both signs, W (m, m) and b (m,) away from 0, so no wrong backward hides."""
    H = rng.normal(size=(n, m))
    W = rng.choice([-1.0, 1.0], size=(m, m)) * rng.uniform(0.5, 1.5, size=(m, m))
    b = rng.choice([-1.0, 1.0], size=m) * rng.uniform(0.2, 0.8, size=m)
    return H, W, b


def _deep_params(rng, D, m, depth, C, scale=1.0):
    """W1, b1, … of an input layer D -> m, ``depth`` blocks m -> m, an output layer m -> C:
    weights of size about scale / sqrt(fan-in) and biases of size about 0.3, both signs."""
    sizes = [D] + [m] * (depth + 1) + [C]
    params = {}
    for i, (m_in, m_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        params[f"W{i}"] = rng.normal(0.0, scale / np.sqrt(m_in), size=(m_out, m_in))
        params[f"b{i}"] = rng.normal(0.0, 0.3, size=m_out)
    return params


# ---------------------------------------------------------------- residual_forward / backward


def test_residual_block_hand_worked():
    """One sample through a ReLU block of width 2, forward and backward, by hand."""
    H = np.array([[1.0, -2.0]])
    W = np.array([[0.5, 1.0], [-1.0, 0.0]])
    b = np.array([0.5, 2.0])
    out, cache = residual_forward(H, W, b)
    # Z = H W^T + b = [1*0.5 - 2*1, 1*(-1) - 2*0] + [0.5, 2] = [-1, 1]; relu(Z) = [0, 1]
    # out = H + relu(Z) = [1, -2] + [0, 1] = [1, -1]
    np.testing.assert_array_equal(out, [[1.0, -1.0]])
    np.testing.assert_array_equal(cache[1], [[-1.0, 1.0]])  # the pre-activation is kept
    dH, dW, db = residual_backward(np.array([[1.0, 2.0]]), cache)
    # dZ = dout * relu'(Z) = [1, 2] * [0, 1] = [0, 2]
    # dH = dout + dZ W = [1, 2] + (0*[0.5, 1] + 2*[-1, 0]) = [1, 2] + [-2, 0] = [-1, 2]
    #      (without the identity path's "+ dout" it would be [-2, 0])
    np.testing.assert_array_equal(dH, [[-1.0, 2.0]])
    # dW = dZ^T H: row j is dZ_j * [1, -2]
    np.testing.assert_array_equal(dW, [[0.0, 0.0], [2.0, -4.0]])
    np.testing.assert_array_equal(db, [0.0, 2.0])


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_residual_forward_matches_plain_numpy(activation, rng):
    """out = H + f(H W^T + b), row by row the notebooks' h + f(W h + b)."""
    H, W, b = _block(rng)
    out, ((H_cached, W_cached), Z) = residual_forward(H, W, b, activation)
    f = F[activation][0]
    assert out.shape == (N, M) and out.dtype == np.float64
    for n in range(N):
        np.testing.assert_allclose(out[n], H[n] + f(W @ H[n] + b), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(Z, H @ W.T + b, rtol=1e-14)
    assert H_cached is H and W_cached is W  # the cache holds the inputs, not copies


@pytest.mark.parametrize("activation", ["relu", "tanh", "elu"])
def test_zero_weights_give_the_identity_exactly(activation, rng):
    """W = 0 and b = 0: Z = 0 and f(0) = 0, so the block passes H through bit for bit (H with
    both signs, so a skip added before the activation, f(H + Z), cannot pass for ReLU)."""
    H = rng.normal(size=(N, M))
    out, _ = residual_forward(H, np.zeros((M, M)), np.zeros(M), activation)
    np.testing.assert_array_equal(out, H)
    H_t = rng.normal(size=(M + 2, N)).T[:, :M]  # not contiguous
    out, _ = residual_forward(H_t, np.zeros((M, M)), np.zeros(M), activation)
    np.testing.assert_array_equal(out, H_t)


@pytest.mark.parametrize("activation, f0", [("sigmoid", 0.5), ("softplus", np.log(2.0))])
def test_zero_weights_add_f_of_zero_where_it_is_not_zero(activation, f0, rng):
    """A sigmoid or softplus branch at W = 0, b = 0 is the constant f(0): 1/2 or log 2, not 0.
    The identity at W = 0 holds for the activations with f(0) = 0 only."""
    H = rng.normal(size=(N, M))
    out, _ = residual_forward(H, np.zeros((M, M)), np.zeros(M), activation)
    np.testing.assert_allclose(out, H + f0, rtol=1e-15)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_the_identity_path_in_the_jacobian(activation, rng):
    """d out / d h = I + diag(f'(z)) W for one sample, by central differences: the identity
    plus the branch's own Jacobian, which is measured too (the block without its skip)."""
    h, W, b = _block(rng, n=1, m=5)
    _, (_, z) = residual_forward(h, W, b, activation)
    expected_branch = F[activation][1](z[0])[:, None] * W  # diag(f'(z)) W, (5, 5)

    def jacobian(g):  # row j: the gradient of g's output j with respect to h
        return np.concatenate([numerical_gradient(lambda _, j=j: g(h)[0, j], h)
                               for j in range(5)])

    J = jacobian(lambda x: residual_forward(x, W, b, activation)[0])
    J_branch = jacobian(lambda x: F[activation][0](x @ W.T + b))
    assert relative_error(J_branch, expected_branch) < 1e-7
    assert relative_error(J, np.eye(5) + expected_branch) < 1e-7
    assert relative_error(J - J_branch, np.eye(5)) < 1e-7


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_residual_backward_matches_numerical_gradient(activation, rng, unchanged):
    """dH, dW and db agree with central differences of L = sum(G * out), relative error < 1e-7;
    dH - G is the branch alone, dZ W with dZ = G f'(Z) in plain NumPy."""
    H, W, b = _block(rng)
    G = rng.normal(size=(N, M))  # dL/dout for L = sum(G * out)
    out, cache = residual_forward(H, W, b, activation)
    with unchanged(G, H, W, b, cache[1]):
        dH, dW, db = residual_backward(G, cache, activation)
    for value, grad in ((H, dH), (W, dW), (b, db)):
        numeric = numerical_gradient(
            lambda _: np.sum(G * residual_forward(H, W, b, activation)[0]), value)
        assert grad.shape == value.shape
        assert relative_error(grad, numeric) < 1e-7
    dZ = G * F[activation][1](H @ W.T + b)
    np.testing.assert_allclose(dH - G, dZ @ W, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(dW, dZ.T @ H, rtol=1e-10, atol=1e-14)


def test_residual_forward_names_the_shapes():
    """A width mismatch names the square shape W must have and the shape given."""
    H = np.ones((5, 4))
    with pytest.raises(ValueError, match=r"W must be square, of shape \(4, 4\), for H of shape "
                                         r"\(5, 4\).*got W of shape \(3, 4\)"):
        residual_forward(H, np.ones((3, 4)), np.ones(3))
    with pytest.raises(ValueError, match=r"W must be square.*got W of shape \(4, 3\)"):
        residual_forward(H, np.ones((4, 3)), np.ones(4))
    with pytest.raises(ValueError, match=r"b must have shape \(4,\).*got shape \(3,\)"):
        residual_forward(H, np.ones((4, 4)), np.ones(3))
    with pytest.raises(ValueError, match=r"H must be 2-D with shape \(N, m\).*got shape \(4,\)"):
        residual_forward(np.ones(4), np.ones((4, 4)), np.ones(4))
    with pytest.raises(ValueError, match="activation must be one of"):
        residual_forward(H, np.ones((4, 4)), np.ones(4), "identity")
    _, cache = residual_forward(H, np.eye(4), np.zeros(4))
    with pytest.raises(ValueError, match=r"dH must have shape \(5, 4\).*got shape \(4, 5\)"):
        residual_backward(np.ones((4, 5)), cache)


# ---------------------------------------------------------------- deep_forward / backward


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_a_plain_deep_network_is_an_mlp(activation, rng):
    """residual=False: the logits and the gradients of mlp_forward and mlp_backward."""
    params = _deep_params(rng, 5, M, 3, 2)
    X = rng.normal(size=(N, 5))
    logits, caches = deep_forward(X, params, activation)
    expected, mlp_caches = mlp_forward(X, params, activation)
    np.testing.assert_array_equal(logits, expected)
    dlogits = rng.normal(size=logits.shape)
    grads = deep_backward(dlogits, caches, activation)
    for key, value in mlp_backward(dlogits, mlp_caches, activation).items():
        np.testing.assert_array_equal(grads[key], value)


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_a_residual_deep_network_matches_plain_numpy(activation, rng):
    """residual=True: H1 = f(X W1^T + b1), H_i = H_{i-1} + f(H_{i-1} W_i^T + b_i) for the
    blocks, logits = H W_n^T + b_n; the input and the output layers have no skip."""
    params = _deep_params(rng, 5, M, 3, 2)
    X = rng.normal(size=(N, 5))
    f, p = F[activation][0], params
    H = f(X @ p["W1"].T + p["b1"])  # (N, 3): the input layer changes the width
    for i in (2, 3, 4):
        H = H + f(H @ p[f"W{i}"].T + p[f"b{i}"])  # (N, 3)
    expected = H @ p["W5"].T + p["b5"]  # (N, 2), linear
    logits, caches = deep_forward(X, params, activation, residual=True)
    assert logits.shape == (N, 2) and len(caches) == 5
    np.testing.assert_allclose(logits, expected, rtol=1e-12, atol=1e-14)


def _check_deep_gradients(params, X, y, activation, residual):
    logits, caches = deep_forward(X, params, activation, residual)
    grads = deep_backward(cross_entropy_grad(logits, y), caches, activation, residual)
    assert list(grads) == list(params)  # W1, b1, …, W10 after W9
    for key, value in params.items():
        numeric = numerical_gradient(
            lambda _: cross_entropy(deep_forward(X, params, activation, residual)[0], y), value)
        assert grads[key].shape == value.shape, key
        assert relative_error(grads[key], numeric) < 1e-7, key


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_deep_backward_matches_numerical_gradient(activation, residual, rng):
    """Every gradient of the cross-entropy against central differences, relative error < 1e-7:
    3 blocks, 4 samples, X given as a transpose (not contiguous)."""
    params = _deep_params(rng, 5, M, 3, 2, scale=1.5)
    X = rng.normal(size=(5, N)).T
    assert not X.flags.c_contiguous
    _check_deep_gradients(params, X, np.array([1, 0, 1, 1]), activation, residual)


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_deep_backward_one_sample_twelve_blocks(activation, residual, rng):
    """One sample through twelve blocks (keys W1 … W14): central differences again. At random
    weights a plain sigmoid network this deep has gradients near 1e-8 at its first layer, below
    what central differences resolve to 1e-7 (the vanishing gradient itself), so its blocks are
    near 4 I with biases near -2: Z stays near 0, where 4 sigma'(0) = 1 keeps the gradient's
    size from layer to layer. The label is the class the network scores lowest: a right answer
    given with confidence has a loss near 0 and gradients too small to check, whatever the
    depth."""
    params = _deep_params(rng, 4, M, 12, 2, scale=1.2)
    if activation == "sigmoid" and not residual:
        for i in range(2, 14):
            params[f"W{i}"] = 4.0 * np.eye(M) + rng.normal(0.0, 0.3, size=(M, M))
            params[f"b{i}"] = -2.0 + rng.normal(0.0, 0.1, size=M)
    X = rng.normal(size=(1, 4))
    y = deep_forward(X, params, activation, residual)[0].argmin(axis=1)
    _check_deep_gradients(params, X, y, activation, residual)


def test_deep_backward_differs_only_by_the_identity_path(rng):
    """Residual and plain backward on the same caches of a residual forward pass: the plain
    one misses the "+ dH" of every block, so its first layer's gradient differs."""
    params = _deep_params(rng, 5, M, 4, 2)
    X, dlogits = rng.normal(size=(N, 5)), rng.normal(size=(N, 2))
    _, caches = deep_forward(X, params, "tanh", residual=True)
    with_skip = deep_backward(dlogits, caches, "tanh", residual=True)
    without = deep_backward(dlogits, caches, "tanh", residual=False)
    np.testing.assert_array_equal(with_skip["W6"], without["W6"])  # the output layer: the same
    assert relative_error(with_skip["W1"], without["W1"]) > 0.1


def test_depth_zero_is_an_input_and_an_output_layer(rng):
    """No block: a one-hidden-layer MLP, residual or not."""
    params = _deep_params(rng, 5, M, 0, 2)
    X = rng.normal(size=(N, 5))
    for residual in (False, True):
        logits, caches = deep_forward(X, params, "elu", residual)
        np.testing.assert_array_equal(logits, mlp_forward(X, params, "elu")[0])
        assert list(deep_backward(np.ones((N, 2)), caches, "elu", residual)) == list(params)


def test_deep_forward_and_backward_leave_their_inputs_alone(rng, unchanged):
    params = _deep_params(rng, 5, M, 2, 2)
    X, dlogits = rng.normal(size=(N, 5)), rng.normal(size=(N, 2))
    with unchanged(X, dlogits, **params):
        _, caches = deep_forward(X, params, "relu", residual=True)
        deep_backward(dlogits, caches, "relu", residual=True)


def test_deep_forward_names_the_shapes(rng):
    """A wrong shape is named by its key, with the shape it must have and the shape given."""
    params = _deep_params(rng, 5, 4, 2, 3)
    X = np.ones((N, 5))
    with pytest.raises(ValueError, match=r"W1 must have shape \(4, 5\) because X has 5 features; "
                                         r"got shape \(5, 4\): did you pass W1.T\?"):
        deep_forward(X, {**params, "W1": params["W1"].T})
    with pytest.raises(ValueError, match=r"W3 must be square, of shape \(4, 4\): layer 3 is a "
                                         r"residual block.*got shape \(6, 4\)"):
        deep_forward(X, {**params, "W3": np.ones((6, 4)), "b3": np.ones(6)}, residual=True)
    with pytest.raises(ValueError, match=r"W4 must have shape \(3, 6\) because layer 3 has 6 "
                                         r"units; got shape \(3, 4\)"):
        deep_forward(X, {**params, "W3": np.ones((6, 4)), "b3": np.ones(6)})  # plain: allowed
    with pytest.raises(ValueError, match=r"b2 must have shape \(4,\), one bias per row of W2; "
                                         r"got shape \(1, 4\)"):
        deep_forward(X, {**params, "b2": np.ones((1, 4))})
    with pytest.raises(ValueError, match="at least an input and an output layer"):
        deep_forward(X, {"W1": np.ones((3, 5)), "b1": np.ones(3)})
    with pytest.raises(ValueError, match=r"params must have the keys W1, b1, …"):
        deep_forward(X, {key: v for key, v in params.items() if key != "b3"})
    with pytest.raises(ValueError, match=r"X must be 2-D with shape \(N, D\).*got shape \(5,\)"):
        deep_forward(np.ones(5), params)
    _, caches = deep_forward(X, params)
    with pytest.raises(ValueError, match=r"dlogits must have shape \(4, 3\).*got shape \(3, 4\)"):
        deep_backward(np.ones((3, 4)), caches)
    with pytest.raises(ValueError, match="at least 2 layers"):
        deep_backward(np.ones((N, 3)), caches[-1:])


# ---------------------------------------------------------------- layer_gradient_norms


def test_layer_gradient_norms_hand_worked():
    """||dW1|| = ||[[3, 4]]|| = 5 and ||dW2|| = sqrt(1 + 4 + 4 + 16) = 5 (Frobenius); the biases,
    however large, are not counted."""
    grads = {"W1": np.array([[3.0, 4.0]]), "b1": np.array([100.0]),
             "W2": np.array([[1.0], [2.0]]) @ np.array([[1.0, 2.0]]), "b2": np.array([-7.0, 9.0])}
    norms = layer_gradient_norms(grads)
    assert norms.dtype == np.float64 and norms.shape == (2,)
    np.testing.assert_allclose(norms, [5.0, 5.0], rtol=1e-15)


def test_layer_gradient_norms_run_from_input_to_output_w10_after_w9(rng, unchanged):
    """Fourteen layers whose dW_i is i times a matrix of norm 1: the norms are 1, 2, …, 14 in
    that order (sorted as strings, W10 would come right after W1)."""
    grads = {}
    for i in range(1, 15):
        unit = rng.normal(size=(3, 2))
        grads[f"W{i}"] = i * unit / np.sqrt(np.sum(unit**2))
        grads[f"b{i}"] = rng.normal(size=3) * 1e3
    with unchanged(**grads):
        norms = layer_gradient_norms(grads)
    np.testing.assert_allclose(norms, np.arange(1.0, 15.0), rtol=1e-14)


def test_layer_gradient_norms_refuse_what_is_not_a_network():
    with pytest.raises(ValueError, match="keys W1, b1"):
        layer_gradient_norms({"W1": np.ones((2, 2)), "W2": np.ones((2, 2))})
    with pytest.raises(TypeError, match="params must be a dict"):
        layer_gradient_norms([np.ones((2, 2))])


# ---------------------------------------------------------------- deep_gradient_check


@pytest.mark.parametrize("residual", [False, True])
def test_deep_gradient_check_passes_and_restores_the_parameters(residual, rng, unchanged):
    params = _deep_params(rng, 5, M, 3, 2)
    X, y = rng.normal(size=(N, 5)), np.array([1, 0, 1, 1])
    with unchanged(X, **params):
        errors = deep_gradient_check(params, X, y, "tanh", residual)
    assert list(errors) == list(params)
    assert max(errors.values()) < 1e-7


# ---------------------------------------------------------------- deep_init and ResMLP


@pytest.mark.parametrize("activation, std", [("relu", np.sqrt(2 / 200)),  # He: 0.100
                                             ("elu", np.sqrt(2 / 200)),
                                             ("sigmoid", np.sqrt(2 / 400)),  # Xavier: 0.0707
                                             ("tanh", np.sqrt(2 / 400))])
def test_deep_init_draws_he_for_relu_like_units_and_xavier_for_the_others(activation, std):
    """Blocks 200 -> 200: std sqrt(2 / fan-in) or sqrt(2 / (fan-in + fan-out)), within 2% over
    40 000 draws (He and Xavier differ by 41% here); residual blocks L times smaller."""
    for residual, factor in ((False, 1.0), (True, 1 / 3)):
        params = deep_init(10, 200, 3, 4, activation, residual, seed=2)
        assert list(params) == [f"{k}{i}" for i in range(1, 6) for k in "Wb"]
        for i in (2, 3, 4):
            assert abs(params[f"W{i}"].std() / (factor * std) - 1) < 0.02
            np.testing.assert_array_equal(params[f"b{i}"], 0.0)
        assert params["W1"].shape == (200, 10) and params["W5"].shape == (4, 200)


def test_resmlp_layers_and_initialisation():
    """depth + 2 layers; the weights drawn as MLP draws them (the same seed, the same order),
    a residual block's divided by the depth; biases 0."""
    plain = ResMLP(64, 16, 4, 10, activation="tanh", residual=False, seed=3)
    assert plain.sizes == [64, 16, 16, 16, 16, 16, 10] and plain.n_layers == 6
    assert list(plain.params) == [f"{k}{i}" for i in range(1, 7) for k in "Wb"]
    mlp = MLP(plain.sizes, activation="tanh", seed=3)  # Xavier for tanh
    for key, value in mlp.params.items():
        np.testing.assert_array_equal(plain.params[key], value)
    res = ResMLP(64, 16, 4, 10, activation="tanh", seed=3)
    for i in range(1, 7):
        factor = 0.25 if 1 < i < 6 else 1.0  # 1 / depth
        np.testing.assert_array_equal(res.params[f"W{i}"], factor * mlp.params[f"W{i}"])
    assert repr(res) == ("ResMLP(D=64, width=16, depth=4, C=10, activation='tanh', "
                         "residual=True, seed=3)")
    assert ResMLP(5, 4, 0, 3).sizes == [5, 4, 3]


def test_resmlp_forward_backward_predict(rng):
    model = ResMLP(5, M, 3, 2, activation="elu", seed=1)
    X = rng.normal(size=(N, 5))
    logits = model.forward(X)
    expected, caches = deep_forward(X, model.params, "elu", residual=True)
    np.testing.assert_array_equal(logits, expected)
    dout = rng.normal(size=(N, 2))
    grads = model.backward(dout)
    for key, value in deep_backward(dout, caches, "elu", residual=True).items():
        np.testing.assert_array_equal(grads[key], value)
    np.testing.assert_array_equal(model.predict(X), logits.argmax(axis=1))


def test_resmlp_names_the_shapes_and_the_order_of_calls():
    model = ResMLP(5, 4, 2, 3)
    with pytest.raises(RuntimeError, match="call forward"):
        model.backward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"X must have shape \(2, 5\).*got shape \(2, 4\)"):
        model.forward(np.ones((2, 4)))
    model.forward(np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"dlogits must have shape \(2, 3\).*got shape \(3, 2\)"):
        model.backward(np.ones((3, 2)))
    with pytest.raises(ValueError, match="depth >= 0"):
        ResMLP(5, 4, -1, 3)
    with pytest.raises(ValueError, match="activation must be one of"):
        ResMLP(5, 4, 2, 3, activation="swish")


def test_resmlp_trains_with_fit(digits):
    """fit drives it like an MLP: a small residual network learns the training digits."""
    X, y = digits
    model = ResMLP(64, 32, 4, 10, seed=0)
    with threadpool_limits(1, "blas"):  # faster for matrices this small
        history = fit(model, X, y, optimizer=Adam(0.003), epochs=5, batch_size=64,
                      progress=False)
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert np.mean(model.predict(X) == y) > 0.9


# ---------------------------------------------------------------- what depth does, measured
# The facts notebook 08 stands on (docs/notebook08-plan.md, section 2): 20 blocks of 64 units
# on one fixed batch of 64 training digits, at initialisation.


@pytest.fixture(scope="module")
def digits():
    """The training digits (1437, 64), features in [0, 1], and their labels."""
    X, _, y, _ = load_digits()
    return X, y


def _norms_at_init(digits, activation, residual, scale=1.0, depth=20):
    X, y = digits
    params = deep_init(64, 64, depth, 10, activation, residual, seed=0)
    for key in params:
        params[key] *= scale  # the biases are 0
    logits, caches = deep_forward(X[:64], params, activation, residual)
    return layer_gradient_norms(deep_backward(cross_entropy_grad(logits, y[:64]), caches,
                                              activation, residual))


def test_at_depth_20_sigmoid_gradients_vanish_and_relu_ones_do_not(digits):
    """Plain sigmoid with Xavier: ||dW_1|| / ||dW_22|| far below 1e-3 (measured 7e-14, a factor
    of about 1/4 per layer); plain ReLU with He and the residual ReLU net: every layer's norm
    within 10 times of every other's (measured 2.2 and 1.9)."""
    sigmoid = _norms_at_init(digits, "sigmoid", residual=False)
    assert sigmoid.shape == (22,)
    assert sigmoid[0] / sigmoid[-1] < 1e-11
    assert np.all(np.diff(np.log10(sigmoid[:-1])) > 0.4)  # shrinking at every layer down
    for residual in (False, True):
        relu = _norms_at_init(digits, "relu", residual)
        assert relu.max() / relu.min() < 10


def test_too_large_an_init_explodes_tanh_toward_the_input_and_relu_everywhere(digits):
    """Every W times 3 in a plain tanh net: ||dW_1|| hundreds of times ||dW_22|| (577). Times 2
    in a plain ReLU net: every norm multiplied by about 2^21 (ReLU is positively homogeneous and
    the biases are 0), so the profile, and the ratio, stay what they are at times 1.5."""
    tanh = _norms_at_init(digits, "tanh", residual=False, scale=3.0)
    assert tanh[0] / tanh[-1] > 100
    relu_15 = _norms_at_init(digits, "relu", residual=False, scale=1.5)
    relu_2 = _norms_at_init(digits, "relu", residual=False, scale=2.0)
    assert relu_2.min() > 1e6
    np.testing.assert_allclose(relu_2 / relu_2[-1], relu_15 / relu_15[-1], rtol=1e-3)


def test_scaling_the_branch_by_one_over_depth_bounds_the_variance_of_h(digits):
    """Var(H) after 20 ReLU blocks over Var(H_1): about 4e8 at full scale, 18 with the blocks'
    W times 1/sqrt(L) (a ReLU branch is never negative: the means add up), 1.1 with deep_init's
    1/L. A tanh branch has mean 0: 1/sqrt(L) is enough there (2.7)."""
    X = digits[0][:256]

    def growth(activation, factor):
        params = deep_init(64, 64, 20, 10, activation, residual=True, seed=0)
        for i in range(2, 22):
            params[f"W{i}"] *= 20 * factor  # deep_init's blocks are 1/L of full scale
        _, caches = deep_forward(X, params, activation, residual=True)
        return caches[-1][0][0].var() / caches[1][0][0].var()  # H_21 against H_1

    assert growth("relu", 1.0) > 1e6
    assert growth("relu", 1 / np.sqrt(20)) > 5
    assert growth("relu", 1 / 20) < 1.5
    assert growth("tanh", 1 / np.sqrt(20)) < 5


def test_plain_sigmoid_stays_at_chance_where_residual_sigmoid_learns(digits):
    """Depth 20, the same budget for both: Adam(0.01), 10 epochs of batches of 64. The plain
    network stays at chance (measured 10.2%); the residual one reaches 93% of the training
    digits (92.8-95.6% over seeds 0-4). About a second each on one BLAS thread."""
    X, y = digits
    accuracy = {}
    for residual in (False, True):
        model = ResMLP(64, 64, 20, 10, activation="sigmoid", residual=residual, seed=0)
        with threadpool_limits(1, "blas"):
            fit(model, X, y, optimizer=Adam(0.01), epochs=10, batch_size=64, progress=False)
        accuracy[residual] = np.mean(model.predict(X) == y)
    assert accuracy[False] < 0.15
    assert accuracy[True] > 0.9


# ---------------------------------------------------------------- the notebook's checks


def test_the_checks_build_their_cases_without_the_references(monkeypatch):
    """A grading kernel of 08 withholds course_lib.residual, and the checks build their cases
    when they are imported there: building them must not call it."""
    import importlib.util

    import course_lib.checks.deep_networks as checks
    import course_lib.residual as residual

    def withheld(*args, **kwargs):
        raise AssertionError("a reference of notebook 08 was called while building the cases")

    for name in residual.__all__:
        monkeypatch.setattr(residual, name, withheld)
    # a second copy of the module, built from its file: the one the checks use stays as it is
    spec = importlib.util.spec_from_file_location("course_lib.checks._deep_networks_again",
                                                  checks.__file__)
    again = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(again)
    assert list(again.EXERCISES) == list(checks.EXERCISES)


def _adapted(name, case, fn=None):
    from course_lib.checks import exercise

    ex = exercise(name)
    run = ex.adapter(fn or ex.reference)
    return run(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))


def test_w_zero_gives_h_back_bit_for_bit_or_fails():
    """Off by one part in 1e12 passes the usual rtol everywhere but at W = 0, where the
    block must be the identity exactly."""
    from course_lib.activations import ACTIVATIONS
    from course_lib.checks import ExerciseFailed, check

    def residual_forward(H, W, b, activation="relu"):
        H = np.asarray(H, dtype=np.float64)
        Z = H @ np.asarray(W, dtype=np.float64).T + b
        if np.shape(W) != (H.shape[1], H.shape[1]):
            raise ValueError("W must be square")
        return (H + ACTIVATIONS[activation][0](Z)) * (1 + 1e-12), ((H, np.asarray(W, float)), Z)

    with pytest.raises(ExerciseFailed, match=r"(?s)W = 0 and b = 0.*out == H exactly.*expected "
                                             r"True, got False") as info:
        check("residual_forward", residual_forward)
    assert "must be H exactly" in str(info.value)


def test_a_cache_of_another_form_is_named():
    from course_lib.checks import ExerciseFailed, check

    def flat_cache(H, W, b, activation="relu"):
        out, ((H, W), Z) = residual_forward(H, W, b, activation)
        return out, (Z, H, W)

    with pytest.raises(ExerciseFailed, match=r"the cache is \(\(H, W\), Z\)"):
        check("residual_forward", flat_cache)


@pytest.mark.parametrize("name", ["residual_backward", "deep_backward"])
def test_the_backward_passes_are_checked_against_central_differences_on_every_fixed_case(name):
    """The gradient check part of the output is on for every visible and hidden case (the
    caches come from a forward pass the checks can rebuild), with the reference's errors all
    noise, and off, the same for everyone, on the grader's fresh cases whose arrays, drawn
    independently, no forward pass gives (one sample's block is still a block: there the
    check stays on)."""
    from course_lib.checks import exercise
    from course_lib.checks._engine import fresh_cases

    ex = exercise(name)
    for case in ex.visible + ex.hidden:
        errors, *gradients = _adapted(name, case)
        if "relu'(0) = 0" in case.label:  # ReLU's kink: central differences give 1/2 there
            assert errors == {}, case.label
            continue
        assert len(errors) == (3 if name == "residual_backward" else len(gradients[0]))
        assert not any(errors.values()), case.label
    errors = [_adapted(name, case)[0] for case in fresh_cases(ex, np.random.default_rng(0))]
    assert {} in errors and not any(value for e in errors for value in e.values())


def test_the_twelve_layer_plain_sigmoid_case_keeps_its_first_gradients():
    """Blocks near 4 I, biases near -2: the first layer's gradient is not vanishing, so a
    wrong backward pass shows there (at random weights it is about 1e-8)."""
    from course_lib.checks import exercise

    case = next(c for c in exercise("deep_backward").visible if "near 4 I" in c.label)
    grads = deep_backward(*case.args, **case.kwargs)
    assert np.linalg.norm(grads["W1"]) > 1e-3 * np.linalg.norm(grads["W14"])


def test_the_gradient_check_cases_compare_real_errors_not_only_noise():
    """With a large step h the reference's errors are far above the 1e-7 of rounding noise, so
    a student's check is compared number for number, not only as "all below 1e-7"."""
    from course_lib.checks import exercise

    large = [case for case in exercise("deep_gradient_check").visible if "h" in case.kwargs]
    assert len(large) >= 2
    for case in large:
        errors = _adapted("deep_gradient_check", case)
        assert min(errors.values()) > 1e-6, case.label


def test_deep_init_gets_a_new_seed_in_the_graders_fresh_cases():
    from course_lib.checks import exercise
    from course_lib.checks._engine import fresh_cases

    ex = exercise("deep_init")
    first, again = (fresh_cases(ex, np.random.default_rng(s)) for s in (1, 2))
    assert len(first) == sum("seed" in case.kwargs for case in ex.visible)
    one, two = _adapted("deep_init", first[0]), _adapted("deep_init", again[0])
    assert not np.array_equal(one["W1"], two["W1"])


def test_the_relu_kink_cases_have_pre_activations_exactly_0():
    """relu'(0) is 0 (relu_grad, Z > 0): the cases that say so have Z == 0 somewhere, so a
    backward pass that takes Z >= 0 gives other gradients there."""
    from course_lib.checks import exercise

    for name in ("residual_backward", "deep_backward"):
        ex = exercise(name)
        kinks = [case for case in ex.visible + ex.hidden if "relu'(0) = 0" in case.label]
        assert any("relu'(0) = 0" in case.label for case in ex.visible), name
        for case in kinks:
            dout, cache = case.args
            Zs = [cache[1]] if name == "residual_backward" else [Z for _, Z in cache[:-1]]
            assert all(np.any(Z == 0) for Z in Zs), case.label


def test_the_value_error_must_name_both_shapes():
    """The text asks for a ValueError that names W's shape and H's: one that does not fails
    with the shapes it should have named; one that writes them its own way passes."""
    from course_lib.activations import ACTIVATIONS
    from course_lib.checks import ExerciseFailed, check
    from course_lib.layers import dense_forward

    def block(message):
        def residual_forward(H, W, b, activation="relu"):
            H, W = np.asarray(H, dtype=np.float64), np.asarray(W, dtype=np.float64)
            if W.shape != (H.shape[1], H.shape[1]):
                raise ValueError(message(H, W))
            Z, dense_cache = dense_forward(H, W, b)
            return H + ACTIVATIONS[activation][0](Z), (dense_cache, Z)
        return residual_forward

    with pytest.raises(ExerciseFailed, match=r"does not name H's shape \(2, 3\) and W's shape "
                                             r"\(1, 3\): 'W must be square'"):
        check("residual_forward", block(lambda H, W: "W must be square"))
    with pytest.raises(ExerciseFailed, match=r"does not name H's shape \(2, 3\):"):
        check("residual_forward", block(lambda H, W: f"W has shape {W.shape}, not square"))
    check("residual_forward", block(lambda H, W: f"W {W.shape[0]}x{W.shape[1]} for H "
                                                 f"[{H.shape[0]}, {H.shape[1]}]"), hidden=True)


def test_the_dicts_out_of_order_are_read_by_number():
    """One case of deep_forward and one of layer_gradient_norms get their dict inserted out of
    order (the biases first, W1 last): the reference, which reads by number, is unmoved."""
    from course_lib.checks import exercise

    for name, position in (("deep_forward", 1), ("layer_gradient_norms", 0)):
        ex = exercise(name)
        case = next(c for c in ex.visible if "another order" in c.label)
        d = case.args[position]
        assert list(d)[0].startswith("b") and list(d)[-1] == "W1", name
        in_order = {key: d[key] for i in range(1, len(d) // 2 + 1) for key in (f"W{i}", f"b{i}")}
        args = list(case.args)
        args[position] = in_order
        shuffled, ordered = ex.reference(*case.args, **case.kwargs), ex.reference(*args,
                                                                                  **case.kwargs)
        if name == "deep_forward":  # the logits
            shuffled, ordered = shuffled[0], ordered[0]
        np.testing.assert_array_equal(shuffled, ordered)


def test_the_gradient_check_has_a_weight_that_is_not_contiguous():
    """A copy of the case (as the checks make one per call) keeps W2 not C-contiguous, so a
    check that perturbs params[key].ravel() perturbs a copy there."""
    from course_lib.checks import exercise

    case = next(c for c in exercise("deep_gradient_check").visible if "W2 given as" in c.label)
    W2 = copy.deepcopy(case.args)[0]["W2"]
    assert not W2.flags.c_contiguous and not np.shares_memory(W2.ravel(), W2)


def test_a_deep_init_case_leaves_the_seed_at_its_default():
    from course_lib.checks import ExerciseFailed, check, exercise

    assert any("seed" not in case.kwargs for case in exercise("deep_init").visible)

    def deep_init_without_default(D, width, depth, C, activation="relu", residual=False,
                                  seed=1):
        return deep_init(D, width, depth, C, activation, residual, seed)

    with pytest.raises(ExerciseFailed, match="seed left out"):
        check("deep_init", deep_init_without_default)


FOLDER, NAME = "08_deep_networks", "deep_networks"


@pytest.mark.parametrize("mistake", sorted(mistakes_of(FOLDER)))
def test_the_visible_test_catches_each_typical_mistake(mistake):
    """Each mistake of tests/mistakes/08_deep_networks.json fails its exercise's visible test
    cell, with a message that names it (or the line of the student's code that raised)."""
    assert_caught(FOLDER, NAME, mistake)
