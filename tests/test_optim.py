"""Tests for course_lib.optim: GD, Momentum and Adam, with weight decay."""

from __future__ import annotations

import numpy as np
import pytest
from course_tools import assert_caught, mistakes_of

from course_lib.checks import ExerciseFailed, check
from course_lib.checks.optimizers import _mb_global_generator
from course_lib.optim import GD, Adam, Momentum, gradient_descent

OPTIMIZERS = [GD, Momentum, Adam]


def random_params(rng):
    """Parameters of a 5 -> 3 -> 2 network, keyed like MLP.params, away from zero."""
    shapes = {"W1": (3, 5), "b1": (3,), "W2": (2, 3), "b2": (2,)}
    return {
        k: rng.choice([-1.0, 1.0], size=s) * rng.uniform(0.5, 1.5, s) for k, s in shapes.items()
    }


def random_grads(rng, params):
    """Gradients keyed like params; b2's are tiny (1e-8), so Adam's eps matters for it."""
    grads = {k: rng.normal(size=v.shape) for k, v in params.items()}
    grads["b2"] *= 1e-8
    return grads


def copy_dict(d):
    return {k: v.copy() for k, v in d.items()}


def reference_adam(params, grad_steps, lr, beta1, beta2, eps, weight_decay):
    """Adam written straight from Algorithm 1 of Kingma & Ba, one key at a time."""
    params = copy_dict(params)
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    for t, grads in enumerate(grad_steps, start=1):
        for k in params:
            g = grads[k] + (weight_decay * params[k] if k.startswith("W") else 0.0)
            m[k] = beta1 * m[k] + (1 - beta1) * g  # 1. first moment
            v[k] = beta2 * v[k] + (1 - beta2) * g**2  # 2. second moment
            m_hat = m[k] / (1 - beta1**t)  # 3. bias correction
            v_hat = v[k] / (1 - beta2**t)
            params[k] = params[k] - lr * m_hat / (np.sqrt(v_hat) + eps)  # 4. update
    return params, m, v


# ---------------------------------------------------------------- hand-worked steps


def test_adam_two_steps_hand_worked():
    """Two Adam steps on one number, worked out from the paper's four steps for t = 1 and t = 2."""
    theta = {"b1": np.array([1.0])}
    adam = Adam(lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)

    # t = 1, g = 0.5
    #   1. m = 0.9 * 0 + 0.1 * 0.5        = 0.05
    #   2. v = 0.999 * 0 + 0.001 * 0.5^2  = 0.00025
    #   3. m_hat = 0.05 / (1 - 0.9)       = 0.5
    #      v_hat = 0.00025 / (1 - 0.999)  = 0.25
    #   4. theta = 1 - 0.1 * 0.5 / (sqrt(0.25) + 1e-8) = 1 - 0.05 / 0.50000001 = 0.900000002
    adam.step(theta, {"b1": np.array([0.5])})
    np.testing.assert_allclose(theta["b1"], [1 - 0.1 * 0.5 / (0.5 + 1e-8)], rtol=1e-15)
    np.testing.assert_allclose(theta["b1"], [0.900000002], rtol=1e-15)
    np.testing.assert_allclose([adam.m["b1"][0], adam.v["b1"][0]], [0.05, 0.00025], rtol=1e-15)

    # t = 2, g = -1
    #   1. m = 0.9 * 0.05 + 0.1 * (-1)          = -0.055
    #   2. v = 0.999 * 0.00025 + 0.001 * 1      = 0.00124975
    #   3. m_hat = -0.055 / (1 - 0.9^2)         = -0.055 / 0.19      = -0.289473684...
    #      v_hat = 0.00124975 / (1 - 0.999^2)   = 0.00124975 / 0.001999 = 0.625187594...
    #   4. theta = 0.900000002 + 0.1 * 0.289473684 / (0.790688051 + 1e-8)
    #            = 0.900000002 + 0.036610352 = 0.936610354
    adam.step(theta, {"b1": np.array([-1.0])})
    m_hat, v_hat = -0.055 / 0.19, 0.00124975 / 0.001999
    expected = 0.900000002 - 0.1 * m_hat / (np.sqrt(v_hat) + 1e-8)
    np.testing.assert_allclose(theta["b1"], [expected], rtol=1e-12)
    np.testing.assert_allclose(theta["b1"], [0.936610354], rtol=1e-9)
    np.testing.assert_allclose([adam.m["b1"][0], adam.v["b1"][0]], [-0.055, 0.00124975], rtol=1e-14)
    assert adam.t == 2


def test_momentum_two_steps_hand_worked():
    """Two momentum steps on one number: v = beta v + g, theta = theta - lr v."""
    theta = {"b1": np.array([1.0])}
    momentum = Momentum(lr=0.1, beta=0.9)
    # v = 0.9 * 0 + 0.5 = 0.5;  theta = 1 - 0.1 * 0.5 = 0.95
    momentum.step(theta, {"b1": np.array([0.5])})
    np.testing.assert_allclose(theta["b1"], [0.95], rtol=1e-15)
    # v = 0.9 * 0.5 + (-0.2) = 0.25;  theta = 0.95 - 0.1 * 0.25 = 0.925
    momentum.step(theta, {"b1": np.array([-0.2])})
    np.testing.assert_allclose(theta["b1"], [0.925], rtol=1e-15)
    np.testing.assert_allclose(momentum.velocity["b1"], [0.25], rtol=1e-15)


def test_gd_weight_decay_hand_worked():
    """GD with weight decay: W <- W - lr (g + lam W); the bias gets no decay."""
    params = {"W1": np.array([[1.0, -2.0]]), "b1": np.array([3.0])}
    grads = {"W1": np.array([[0.5, 0.5]]), "b1": np.array([1.0])}
    GD(lr=0.1, weight_decay=0.01).step(params, grads)
    # W: 1 - 0.1 (0.5 + 0.01 * 1) = 0.949;  -2 - 0.1 (0.5 + 0.01 * (-2)) = -2.048
    np.testing.assert_allclose(params["W1"], [[0.949, -2.048]], rtol=1e-15)
    # b: 3 - 0.1 * 1 = 2.9, no 0.01 * 3 added
    np.testing.assert_allclose(params["b1"], [2.9], rtol=1e-15)


# ---------------------------------------------------------------- Adam against the paper


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_adam_matches_reference_over_five_steps(rng, weight_decay):
    """Adam agrees with a plain per-key Algorithm 1 for 5 steps, in params and moments (rtol 1e-12)."""
    hyper = dict(lr=0.01, beta1=0.8, beta2=0.95, eps=1e-8, weight_decay=weight_decay)
    params = random_params(rng)
    grad_steps = [random_grads(rng, params) for _ in range(5)]
    expected, m, v = reference_adam(params, grad_steps, **hyper)

    adam = Adam(**hyper)
    for grads in grad_steps:
        adam.step(params, grads)
    assert adam.t == 5
    for key in params:
        np.testing.assert_allclose(params[key], expected[key], rtol=1e-12, err_msg=key)
        np.testing.assert_allclose(adam.m[key], m[key], rtol=1e-12, err_msg=key)
        np.testing.assert_allclose(adam.v[key], v[key], rtol=1e-12, err_msg=key)


def test_adam_instances_are_independent(rng):
    """Two Adam instances stepping in turn give what each gives alone: no shared state."""
    params_a, params_b = random_params(rng), random_params(rng)
    steps_a = [random_grads(rng, params_a) for _ in range(3)]
    steps_b = [random_grads(rng, params_b) for _ in range(3)]
    alone_a, alone_b = copy_dict(params_a), copy_dict(params_b)
    adam_alone_a, adam_alone_b = Adam(lr=0.01), Adam(lr=0.01)
    for ga in steps_a:
        adam_alone_a.step(alone_a, ga)
    for gb in steps_b:
        adam_alone_b.step(alone_b, gb)

    adam_a, adam_b = Adam(lr=0.01), Adam(lr=0.01)
    for ga, gb in zip(steps_a, steps_b, strict=True):
        adam_a.step(params_a, ga)
        adam_b.step(params_b, gb)
    for key in params_a:
        np.testing.assert_array_equal(params_a[key], alone_a[key])
        np.testing.assert_array_equal(params_b[key], alone_b[key])
    assert adam_a.m is not adam_b.m and adam_a.v is not adam_b.v


@pytest.mark.parametrize(
    "changed",
    [
        {"W1": (3, 5), "b1": (3,), "W2": (2, 3)},  # a key dropped
        {"W1": (3, 5), "b1": (3,), "W2": (2, 3), "b2": (2,), "W3": (1, 2)},  # a key added
        {"W1": (3, 5), "b1": (3,), "W2": (3, 2), "b2": (2,)},  # a shape changed, same size
        {"W1": (4, 5), "b1": (4,), "W2": (2, 4), "b2": (2,)},  # a wider hidden layer
    ],
    ids=["dropped", "added", "transposed", "resized"],
)
def test_adam_with_changed_params_raises(rng, changed):
    """After a first step, params of other keys or shapes raise ValueError; the state is kept."""
    params = random_params(rng)
    adam = Adam(lr=0.01)
    adam.step(params, random_grads(rng, params))
    m_before = {k: v.copy() for k, v in adam.m.items()}
    other = {k: rng.normal(size=s) for k, s in changed.items()}
    with pytest.raises(ValueError, match="this Adam has state for parameters"):
        adam.step(other, {k: np.ones(s) for k, s in changed.items()})
    assert adam.t == 1
    for key in m_before:
        np.testing.assert_array_equal(adam.m[key], m_before[key])


def test_adam_accepts_same_params_in_another_key_order(rng):
    """The same parameters in another dict order are not a "changed set": Adam steps as before."""
    params = random_params(rng)
    grad_steps = [random_grads(rng, params) for _ in range(2)]
    expected, _, _ = reference_adam(params, grad_steps, 0.01, 0.9, 0.999, 1e-8, 0.0)
    adam = Adam(lr=0.01)
    adam.step(params, grad_steps[0])
    reordered = {k: params[k] for k in reversed(params)}  # the same arrays, keys reversed
    adam.step(reordered, grad_steps[1])
    for key in params:
        np.testing.assert_allclose(params[key], expected[key], rtol=1e-12, err_msg=key)


# ---------------------------------------------------------------- behaviour shared by all


@pytest.mark.parametrize("optimizer_class", OPTIMIZERS)
def test_weight_decay_touches_weights_only(rng, optimizer_class):
    """With zero gradients and weight decay, W1 and W2 shrink toward 0 and b1, b2 stay put."""
    params = random_params(rng)
    before = copy_dict(params)
    zero = {k: np.zeros_like(v) for k, v in params.items()}
    optimizer = optimizer_class(lr=0.01, weight_decay=0.1)
    optimizer.step(params, zero)
    for key in ("W1", "W2"):
        assert np.all(np.abs(params[key]) < np.abs(before[key])), key
        assert np.all(np.sign(params[key]) == np.sign(before[key])), key
    for key in ("b1", "b2"):
        np.testing.assert_array_equal(params[key], before[key])


@pytest.mark.parametrize("optimizer_class", OPTIMIZERS)
def test_step_updates_params_in_place(rng, optimizer_class):
    """step changes the arrays of params themselves: a model holding them sees the update."""
    params = random_params(rng)
    arrays = dict(params)
    before = copy_dict(params)
    optimizer_class(lr=0.01).step(params, random_grads(rng, params))
    for key in params:
        assert params[key] is arrays[key]
        assert not np.array_equal(params[key], before[key]), key


@pytest.mark.parametrize("optimizer_class", OPTIMIZERS)
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_grads_not_modified(rng, unchanged, optimizer_class, weight_decay):
    """step never writes into the gradients, also when weight decay is on."""
    params = random_params(rng)
    grads = random_grads(rng, params)
    optimizer = optimizer_class(lr=0.01, weight_decay=weight_decay)
    with unchanged(**grads):
        optimizer.step(params, grads)
        optimizer.step(params, grads)


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_momentum_with_beta_zero_is_gd(rng, weight_decay):
    """Momentum(beta=0) takes exactly the steps of GD."""
    params_gd = random_params(rng)
    params_momentum = copy_dict(params_gd)
    gd = GD(lr=0.05, weight_decay=weight_decay)
    momentum = Momentum(lr=0.05, beta=0.0, weight_decay=weight_decay)
    for _ in range(4):
        grads = random_grads(rng, params_gd)
        gd.step(params_gd, grads)
        momentum.step(params_momentum, grads)
    for key in params_gd:
        np.testing.assert_array_equal(params_momentum[key], params_gd[key])


@pytest.mark.parametrize(
    "make_optimizer",
    [lambda: GD(lr=0.1), lambda: Momentum(lr=0.02, beta=0.9), lambda: Adam(lr=0.05)],
    ids=["GD", "Momentum", "Adam"],
)
def test_optimizers_minimise_a_convex_quadratic(rng, make_optimizer):
    """200 steps on f(W) = 1/2 sum(a (W - c)^2) bring f below 1% of its starting value."""
    a = rng.uniform(1.0, 5.0, size=(3, 5))  # curvatures; lr * a < 2 keeps GD stable
    c = rng.normal(size=(3, 5))  # the minimiser

    def f(W):
        return 0.5 * np.sum(a * (W - c) ** 2)

    optimizer = make_optimizer()
    params = {"W1": c + rng.normal(0.0, 3.0, size=(3, 5))}
    start = f(params["W1"])
    for _ in range(200):
        optimizer.step(params, {"W1": a * (params["W1"] - c)})
    assert f(params["W1"]) < 0.01 * start


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("optimizer_class", OPTIMIZERS)
def test_mismatched_keys_raise(rng, optimizer_class):
    """grads without b2 raise ValueError listing the keys of both dicts."""
    params = random_params(rng)
    grads = random_grads(rng, params)
    del grads["b2"]
    with pytest.raises(ValueError, match="grads must have the keys of params") as info:
        optimizer_class(lr=0.01).step(params, grads)
    assert "'b2'" in str(info.value)


@pytest.mark.parametrize("optimizer_class", OPTIMIZERS)
def test_mismatched_shape_raises_with_both_shapes(rng, optimizer_class):
    """A gradient of shape (5, 3) for W1 of shape (3, 5) raises ValueError giving both shapes."""
    params = random_params(rng)
    grads = random_grads(rng, params)
    grads["W1"] = grads["W1"].T
    with pytest.raises(ValueError, match=r"grads\['W1'\]") as info:
        optimizer_class(lr=0.01).step(params, grads)
    assert "(3, 5)" in str(info.value) and "(5, 3)" in str(info.value)


@pytest.mark.parametrize("optimizer_class", OPTIMIZERS)
def test_failed_step_leaves_params_unchanged(rng, unchanged, optimizer_class):
    """A step that raises (b2's gradient has the wrong shape) updates no parameter at all."""
    params = random_params(rng)
    grads = random_grads(rng, params)
    grads["b2"] = np.ones(3)  # params["b2"] has shape (2,); W1, b1, W2 come first
    with unchanged(**params), pytest.raises(ValueError, match=r"grads\['b2'\]"):
        optimizer_class(lr=0.01).step(params, grads)


@pytest.mark.parametrize("optimizer_class", OPTIMIZERS)
def test_params_must_be_float64_arrays(optimizer_class):
    """Integer parameters cannot be updated in place: TypeError naming the key."""
    with pytest.raises(TypeError, match=r"params\['W1'\] must be a float64 ndarray"):
        optimizer_class(lr=0.01).step({"W1": np.ones((2, 3), dtype=int)}, {"W1": np.ones((2, 3))})


@pytest.mark.parametrize("optimizer_class", OPTIMIZERS)
def test_step_needs_dicts(optimizer_class):
    """step with lists instead of dicts raises TypeError."""
    with pytest.raises(TypeError, match="two dicts"):
        optimizer_class(lr=0.01).step([np.ones(2)], [np.ones(2)])


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: GD(lr=0.0), "lr must be > 0"),
        (lambda: GD(lr=-0.1), "lr must be > 0"),
        (lambda: GD(lr=0.1, weight_decay=-0.01), "weight_decay must be >= 0"),
        (lambda: Momentum(lr=0.0), "lr must be > 0"),
        (lambda: Momentum(lr=0.1, beta=1.0), r"beta must be in \[0, 1\)"),
        (lambda: Momentum(lr=0.1, beta=-0.1), r"beta must be in \[0, 1\)"),
        (lambda: Momentum(lr=0.1, weight_decay=-1.0), "weight_decay must be >= 0"),
        (lambda: Adam(lr=0.0), "lr must be > 0"),
        (lambda: Adam(lr=-1e-3), "lr must be > 0"),
        (lambda: Adam(beta1=1.0), r"beta1 must be in \[0, 1\)"),
        (lambda: Adam(beta1=-0.1), r"beta1 must be in \[0, 1\)"),
        (lambda: Adam(beta2=1.0), r"beta2 must be in \[0, 1\)"),
        (lambda: Adam(beta2=1.5), r"beta2 must be in \[0, 1\)"),
        (lambda: Adam(eps=0.0), "eps must be > 0"),
        (lambda: Adam(weight_decay=-0.1), "weight_decay must be >= 0"),
    ],
)
def test_invalid_hyperparameters_raise(make, match):
    """lr <= 0, a beta outside [0, 1), eps <= 0 or a negative weight decay raise ValueError."""
    with pytest.raises(ValueError, match=match):
        make()


# ---------------------------------------------------------------- gradient_descent


def test_gradient_descent_hand_worked_steps():
    """L(x) = x^2 / 2 from x0 = 1 with lr 0.5: x halves each step, |x| < eps after k steps."""
    # grad = x; x_k = 0.5^k; the rule |x_k| < 1e-3 first holds at k = 10 (0.5^10 = 0.000977)
    x, n_steps = gradient_descent(lambda x: x, np.array([1.0]), lr=0.5, eps=1e-3)
    assert n_steps == 10
    np.testing.assert_allclose(x, [0.5**10], rtol=1e-15)


def test_gradient_descent_stops_at_once_at_a_minimum():
    """A start where the gradient is already 0 takes no step."""
    x, n_steps = gradient_descent(lambda x: 2 * x, np.zeros(3), lr=0.1)
    assert n_steps == 0 and np.array_equal(x, np.zeros(3))


def test_gradient_descent_on_an_ill_conditioned_quadratic():
    """On L = (x^2 + 10 y^2)/2 it reaches the minimum, with |grad| < eps at the end."""
    A = np.diag([1.0, 10.0])
    x0 = np.array([1.0, 1.0])
    x, n_steps = gradient_descent(lambda x: A @ x, x0, lr=0.1, eps=1e-8)
    assert np.linalg.norm(A @ x) < 1e-8 and 0 < n_steps < 10_000
    np.testing.assert_array_equal(x0, [1.0, 1.0])  # x0 untouched


def test_gradient_descent_gives_up_after_max_steps():
    """A learning rate too large diverges; it returns after max_steps, without warnings."""
    with np.errstate(over="raise", invalid="raise"):
        x, n_steps = gradient_descent(lambda x: x, np.array([1.0]), lr=2.5, max_steps=50)
    assert n_steps == 50 and abs(x[0]) > 1.0


def test_gradient_descent_rejects_bad_arguments():
    """lr <= 0, eps <= 0 and a gradient of the wrong shape are errors that say so."""
    with pytest.raises(ValueError, match="lr must be > 0"):
        gradient_descent(lambda x: x, np.ones(2), lr=0.0)
    with pytest.raises(ValueError, match="eps must be > 0"):
        gradient_descent(lambda x: x, np.ones(2), lr=0.1, eps=0.0)
    with pytest.raises(ValueError, match=r"shape of x, \(2,\); got \(3,\)"):
        gradient_descent(lambda x: np.ones(3), np.ones(2), lr=0.1)


# ---------------------------------------------------------------- the notebook's checks


def test_checking_minibatches_leaves_numpys_global_generator_as_it_was():
    """The checks seed np.random while they run (to name a draw from it), then put it back."""
    np.random.seed(123)
    expected = np.random.random(3)
    np.random.seed(123)
    with pytest.raises(ExerciseFailed, match="global generator"):
        check("iterate_minibatches", _mb_global_generator)
    np.testing.assert_array_equal(np.random.random(3), expected)


FOLDER, NAME = "05_optimizers", "optimizers"


@pytest.mark.parametrize("mistake", sorted(mistakes_of(FOLDER)))
def test_the_visible_test_catches_each_typical_mistake(mistake):
    """Each mistake of tests/mistakes/05_optimizers.json fails its exercise's visible test
    cell, with a message that names it (or the line of the student's code that raised)."""
    assert_caught(FOLDER, NAME, mistake)
