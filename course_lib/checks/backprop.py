"""The exercises of notebook 04: backpropagation and gradient checking.

The dense layer's and the activation's backward passes, an MLP's backward pass
built from them, central differences, the relative error, and a gradient check
of a whole network built from those. Later exercises call earlier ones by name:
their checks swap the student's versions for the references (``depends``), so
one broken function costs only its own points.
"""

from __future__ import annotations

import copy

import numpy as np

from .. import gradcheck, layers, losses, network
from ..activations import ACTIVATIONS
from ._engine import Case, Exercise, ExerciseFailed, Hint
from ._seeds import drawn_case

__all__ = ["EXERCISES", "NOISE"]

#: A relative error below this is rounding noise: gradient_check's checks count it as 0.
NOISE = 1e-7


# ---------------------------------------------------------------- helpers for the cases


def _dense_case(label, n, d, h, scale=1.0):
    """A case of dense_backward: (dZ, cache) for N=n samples, D=d inputs, H=h units."""
    def draw(rng):
        X = rng.normal(0.0, scale, size=(n, d))
        W = rng.normal(0.0, 1.0, size=(h, d))
        dZ = rng.normal(0.0, 1.0, size=(n, h))
        return dZ, (X, W)
    return drawn_case("dense_backward", label, draw)


def _params(rng, sizes):
    """W1, b1, … for the widths ``sizes``, weights of scale 1/sqrt(fan-in), biases away from 0."""
    params = {}
    for i, (m_in, m_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        params[f"W{i}"] = rng.normal(0.0, 1.0 / np.sqrt(m_in), size=(m_out, m_in))
        params[f"b{i}"] = rng.normal(0.0, 0.5, size=m_out)
    return params


def _backward_case(label, sizes, n, activation, kwargs=None, transposed=False):
    """A case of mlp_backward: (dlogits, caches) of a random network, as mlp_forward gives them;
    ``transposed``: X (in the first cache) and dlogits given as transposes, not contiguous."""
    def draw(rng):
        params = _params(rng, sizes)
        if transposed:
            X = rng.normal(0.0, 1.0, size=(sizes[0], n)).T
        else:
            X = rng.normal(0.0, 1.0, size=(n, sizes[0]))
        _, caches = network.mlp_forward(X, params, activation)
        if transposed:
            dlogits = rng.normal(0.0, 1.0, size=(sizes[-1], n)).T
        else:
            dlogits = rng.normal(0.0, 1.0, size=(n, sizes[-1]))
        return dlogits, caches
    return drawn_case("mlp_backward", label, draw, kwargs)


def _network_case(label, sizes, n, kwargs=None):
    """A case of gradient_check: (params, X, y) of a random network and batch."""
    def draw(rng):
        params = _params(rng, sizes)
        X = rng.normal(0.0, 1.0, size=(n, sizes[0]))
        y = rng.integers(0, sizes[-1], size=n)
        return params, X, y
    return drawn_case("gradient_check", label, draw, kwargs)


# ---------------------------------------------------------------- dense_backward


def _dense_pixels(rng):
    """The first layer's cache holds the data: integer pixels 0..16, as the digits; dZ is
    given as a transpose."""
    return rng.normal(size=(2, 5)).T, (rng.integers(0, 17, size=(5, 3)), rng.normal(size=(2, 3)))


def _dense_zero_dZ(rng):
    return np.zeros((5, 2)), (rng.normal(size=(5, 3)), rng.normal(size=(2, 3)))


def _dense_mean_db(dZ, cache):
    dX, dW, _ = layers.dense_backward(dZ, cache)
    return dX, dW, dZ.mean(axis=0)


def _dense_db_axis1(dZ, cache):
    dX, dW, _ = layers.dense_backward(dZ, cache)
    return dX, dW, dZ.sum(axis=1)


def _dense_db_total(dZ, cache):
    dX, dW, _ = layers.dense_backward(dZ, cache)
    return dX, dW, dZ.sum()


def _dense_dW_transposed(dZ, cache):
    X, _ = cache
    dX, _, db = layers.dense_backward(dZ, cache)
    return dX, X.T @ dZ, db


def _dense_dW_over_n(dZ, cache):
    X, _ = cache
    dX, _, db = layers.dense_backward(dZ, cache)
    return dX, dZ.T @ X / len(X), db


def _dense_db_keepdims(dZ, cache):
    dX, dW, _ = layers.dense_backward(dZ, cache)
    return dX, dW, dZ.sum(axis=0, keepdims=True)


def _dense_wrong_order(dZ, cache):
    dX, dW, db = layers.dense_backward(dZ, cache)
    return dW, dX, db


_DENSE = Exercise(
    name="dense_backward",
    reference=layers.dense_backward,
    outputs=("dX", "dW", "db"),
    visible=(
        _dense_case("a batch of N=4 samples, D=5 inputs, H=3 units", 4, 5, 3),
        _dense_case("N=6 samples, D=2 inputs, H=4 units", 6, 2, 4),
        _dense_case("one sample and one unit: N=1, D=3, H=1", 1, 3, 1),
        drawn_case("dense_backward", "X in the cache of integer pixel values 0..16, as the "
                   "digits, and dZ given as a transpose (not contiguous): N=5, D=3, H=2",
                   _dense_pixels),
        _dense_case("a square W (H = D = 3), where a transposed W still has the right shape, "
                    "inputs of size about 100, N=4", 4, 3, 3, scale=100.0),
    ),
    hidden=(
        _dense_case("a single sample (N=1), D=3, H=2", 1, 3, 2),
        _dense_case("a square W (H = D = 4), where a transposed W still has the right shape",
                    3, 4, 4),
        _dense_case("N=50 samples, D=7, H=9, inputs of size about 100", 50, 7, 9, scale=100.0),
        drawn_case("dense_backward", "dZ all zero: every gradient is 0", _dense_zero_dZ),
    ),
    hints=(
        Hint(_dense_dW_transposed,
             "dW must have W's shape (H, D); you computed X.T @ dZ, of shape (D, H): "
             "dW = dZ.T @ X."),
        Hint(_dense_mean_db,
             "db sums dZ over the samples, dZ.sum(axis=0); you took the mean: the 1/N of "
             "the average loss is already inside dZ."),
        Hint(_dense_dW_over_n,
             "no 1/N in dW = dZ.T @ X: the 1/N of the average loss is already inside dZ."),
        Hint(_dense_db_axis1,
             "db has one entry per unit, shape (H,): sum over the samples, dZ.sum(axis=0), "
             "not over the units (axis=1)."),
        Hint(_dense_db_total,
             "db has one entry per unit, shape (H,): sum over the samples only, "
             "dZ.sum(axis=0), not over everything."),
        Hint(_dense_db_keepdims,
             "db has b's shape (H,): sum without keepdims, dZ.sum(axis=0)."),
        Hint(_dense_wrong_order, "return the gradients in the order (dX, dW, db)."),
    ),
)

# ---------------------------------------------------------------- activation_backward

_Z_MIXED = np.array([[-2.0, -0.5, 0.0], [0.5, 2.0, -1.0], [0.0, 3.0, -3.0], [1.5, -0.1, 0.1]])
_Z_EXTREME = np.array([[-1000.0, -710.0, -40.0, 0.0, 40.0, 710.0, 1000.0]])
_DH_EXTREME = np.array([[0.5, -1.0, 2.0, 1.5, -0.5, 1.0, 3.0]])  # not all 1: dH * f' != f'
_DH_EXTREME_2 = np.array([[-1.5, 2.0, 0.25, -0.5, 1.0, -2.0, 0.75]])


def _act_case(label, shape, activation=None, Z=None):
    """A case of activation_backward: a random dH (and Z unless given) of this shape."""
    def draw(rng):
        dH = rng.normal(0.0, 1.0, size=shape)
        return dH, (rng.normal(0.0, 2.0, size=shape) if Z is None else Z)
    return drawn_case("activation_backward", label, draw,
                      {"activation": activation} if activation else None)


def _act_times_f(dH, Z, activation="relu"):
    return dH * ACTIVATIONS[activation][0](Z)


def _act_no_dH(dH, Z, activation="relu"):
    return ACTIVATIONS[activation][1](Z)


def _act_always_relu(dH, Z, activation="relu"):
    return dH * ACTIVATIONS["relu"][1](Z)


def _act_relu_at_zero(dH, Z, activation="relu"):
    if activation == "relu":
        return dH * (Z >= 0)
    return dH * ACTIVATIONS[activation][1](Z)


def _act_of_dH(dH, Z, activation="relu"):
    return Z * ACTIVATIONS[activation][1](dH)


def _act_naive_sigmoid(dH, Z, activation="relu"):
    if activation != "sigmoid":
        return dH * ACTIVATIONS[activation][1](Z)
    s = 1.0 / (1.0 + np.exp(-Z))  # exp(1000) overflows
    return dH * s * (1.0 - s)


_ACTIVATION = Exercise(
    name="activation_backward",
    reference=layers.activation_backward,
    visible=(
        _act_case("ReLU (the default) on a (4, 3) batch with zeros in Z", (4, 3), Z=_Z_MIXED),
        _act_case("sigmoid on a (4, 3) batch", (4, 3), "sigmoid", Z=_Z_MIXED),
        Case("sigmoid with Z from -1000 to 1000", (_DH_EXTREME, _Z_EXTREME),
             {"activation": "sigmoid"}),
        # every activation of the table, each at +-1000: a slip in one branch of the
        # student's own derivatives shows here, not first in the hidden cases
        _act_case("tanh on a (3, 4) batch", (3, 4), "tanh"),
        _act_case("softplus on a (4, 2) batch", (4, 2), "softplus"),
        _act_case("elu on a 3-D array of shape (2, 2, 3)", (2, 2, 3), "elu"),
        *(Case(f"{name} with Z from -1000 to 1000, dH of both signs",
               (_DH_EXTREME_2, _Z_EXTREME), {"activation": name})
          for name in ("tanh", "softplus", "elu")),
        Case("relu on an empty batch of shape (0, 4)", (np.zeros((0, 4)), np.zeros((0, 4)))),
    ),
    hidden=(
        _act_case("tanh on a (2, 5) batch", (2, 5), "tanh"),
        _act_case("softplus on a (3, 2) batch", (3, 2), "softplus"),
        _act_case("elu on a (5, 4) batch", (5, 4), "elu"),
        Case("tanh with Z from -1000 to 1000", (_DH_EXTREME, _Z_EXTREME), {"activation": "tanh"}),
        Case("relu on an empty batch of shape (0, 3)", (np.zeros((0, 3)), np.zeros((0, 3)))),
        _act_case("elu on a 3-D array of shape (2, 3, 4)", (2, 3, 4), "elu"),
    ),
    hints=(
        Hint(_act_times_f,
             "you multiplied dH by the activation f(Z); the chain rule needs its derivative "
             "f'(Z): ACTIVATIONS[activation][1](Z)."),
        Hint(_act_no_dH,
             "you returned f'(Z) alone; multiply it by the gradient arriving from above: "
             "dH * f'(Z)."),
        Hint(_act_always_relu,
             "you used ReLU's derivative for every activation: look the derivative up with "
             "the `activation` argument, ACTIVATIONS[activation][1]."),
        Hint(_act_relu_at_zero,
             "at Z = 0 ReLU's derivative is 0 in this course (relu_grad tests Z > 0, not "
             "Z >= 0): use ACTIVATIONS['relu'][1]."),
        Hint(_act_of_dH, "you swapped dH and Z: the derivative is taken at Z, dH * f'(Z)."),
        Hint(_act_naive_sigmoid,
             "you wrote sigmoid's derivative with the naive 1 / (1 + np.exp(-Z)), whose exp "
             "overflows at Z = -1000: take the derivative from ACTIVATIONS[activation][1], "
             "which notebook 01 made stable."),
    ),
)

# ---------------------------------------------------------------- mlp_backward


def _in_layer_order(fn):
    """Run ``fn``; insist that the gradients come keyed W1, b1, …, WL, bL, in that order."""
    def run(dlogits, caches, *args, **kwargs):
        grads = fn(dlogits, caches, *args, **kwargs)
        order = [f"{k}{i}" for i in range(1, len(caches) + 1) for k in "Wb"]
        if isinstance(grads, dict) and set(grads) == set(order) and list(grads) != order:
            raise ExerciseFailed(
                f"your grads has the right keys but in the order {', '.join(grads)}; "
                f"return them in the order of params, {', '.join(order)} (for instance "
                f"build grads backwards, then return {{key: grads[key] for key in that order}})"
            )
        return grads
    return run


def _mlp_wrong(dZ_hidden=None, last=None):
    """A wrong mlp_backward: ``dZ_hidden(dH, cache_below, activation)`` gives dZ_{i-1}."""
    def wrong(dlogits, caches, activation="relu"):
        f_grad = ACTIVATIONS[activation][1]
        grads = {f"{k}{i}": None for i in range(1, len(caches) + 1) for k in "Wb"}
        dZ = dlogits if last is None else last(dlogits, caches, activation)
        for i in range(len(caches), 0, -1):
            cache, _ = caches[i - 1]
            dH, grads[f"W{i}"], grads[f"b{i}"] = layers.dense_backward(dZ, cache)
            if i > 1:
                if dZ_hidden is None:
                    dZ = dH * f_grad(caches[i - 2][1])
                else:
                    dZ = dZ_hidden(dH, caches, i, activation)
        return grads
    return wrong


_MLP_NO_DERIVATIVE = _mlp_wrong(dZ_hidden=lambda dH, caches, i, act: dH)
_MLP_ALWAYS_RELU = _mlp_wrong(
    dZ_hidden=lambda dH, caches, i, act: dH * ACTIVATIONS["relu"][1](caches[i - 2][1]))
_MLP_DERIVATIVE_AT_H = _mlp_wrong(
    dZ_hidden=lambda dH, caches, i, act: dH * ACTIVATIONS[act][1](caches[i - 1][0][0]))
_MLP_DERIVATIVE_ON_LOGITS = _mlp_wrong(
    last=lambda dlogits, caches, act: dlogits * ACTIVATIONS[act][1](caches[-1][1]))

_MLP = Exercise(
    name="mlp_backward",
    reference=network.mlp_backward,
    adapter=_in_layer_order,
    depends={"dense_backward": layers.dense_backward,
             "activation_backward": layers.activation_backward},
    visible=(
        _backward_case("a ReLU network 5 -> 4 -> 3 (the default activation) on N=6 samples",
                       [5, 4, 3], 6, "relu"),
        _backward_case("a tanh network 3 -> 6 -> 4 -> 2 on N=5 samples",
                       [3, 6, 4, 2], 5, "tanh", {"activation": "tanh"}),
        _backward_case("a single linear layer 3 -> 2 (no hidden layer, so no activation "
                       "derivative) on N=3 samples", [3, 2], 3, "tanh", {"activation": "tanh"}),
        _backward_case("one sample (N=1), a softplus network 4 -> 3 -> 2",
                       [4, 3, 2], 1, "softplus", {"activation": "softplus"}),
        _backward_case("X and dlogits given as transposes (not contiguous), an ELU network "
                       "3 -> 4 -> 2 on N=5 samples", [3, 4, 2], 5, "elu", {"activation": "elu"},
                       transposed=True),
        _backward_case("twelve sigmoid layers of width 3, 4 -> 3 -> ... -> 3 -> 2 on N=4 "
                       "samples: grads keyed W1, b1, ..., W12, b12 in number order (sorted as "
                       "strings, W10 would come before W2)", [4, *[3] * 11, 2], 4, "sigmoid",
                       {"activation": "sigmoid"}),
    ),
    hidden=(
        _backward_case("a single linear layer 4 -> 3 (no hidden layer) on N=2 samples",
                       [4, 3], 2, "sigmoid", {"activation": "sigmoid"}),
        _backward_case("a sigmoid network 2 -> 7 -> 5 -> 6 -> 3 on N=8 samples",
                       [2, 7, 5, 6, 3], 8, "sigmoid", {"activation": "sigmoid"}),
        _backward_case("an ELU network 6 -> 3 -> 4 on one sample (N=1)",
                       [6, 3, 4], 1, "elu", {"activation": "elu"}),
        _backward_case("a softplus network 3 -> 5 -> 2 on N=4 samples",
                       [3, 5, 2], 4, "softplus", {"activation": "softplus"}),
        _backward_case("a deeper ReLU network 4 -> 5 -> 5 -> 5 -> 5 -> 3 on N=7 samples",
                       [4, 5, 5, 5, 5, 3], 7, "relu", {"activation": "relu"}),
    ),
    hints=(
        Hint(_MLP_NO_DERIVATIVE,
             "you passed dH straight down to the layer below: go back through the "
             "activation first, dZ_{i-1} = activation_backward(dH, Z_{i-1}, activation)."),
        Hint(_MLP_DERIVATIVE_ON_LOGITS,
             "the last layer is linear (its output is the logits): dZ_L = dlogits, with no "
             "activation derivative; f' applies to the hidden layers only."),
        Hint(_MLP_ALWAYS_RELU,
             "pass `activation` on to activation_backward: you used ReLU's derivative for "
             "every network."),
        Hint(_MLP_DERIVATIVE_AT_H,
             "you took the derivative at the layer's input H_{i-1} = f(Z_{i-1}) (from the "
             "dense cache); it is taken at the pre-activation Z_{i-1}, caches[i-2][1]."),
    ),
)

# ---------------------------------------------------------------- numerical_gradient


class _PlannedError(Exception):
    """Raised on purpose by a test function, to see that x is restored anyway."""


class _Function:
    """A scalar test function with a readable name (it appears in the feedback)."""

    def __init__(self, text, fn):
        self.text, self.fn = text, fn

    def __call__(self, x):
        return self.fn(x)

    def __repr__(self):
        return self.text


class _ReadsModel:
    """f that ignores its argument and reads x from a model, as a loss reads a network's W."""

    def __init__(self, params, C):
        self.params, self.C = params, C

    def __call__(self, _):
        W = self.params["W"]
        return float(np.sum(self.C * W) + 0.5 * np.sum(W**2))

    def __repr__(self):
        return "loss(model) (ignores its argument, reads x from the model)"


class _RaisesOnCall:
    """f(x) = sum(x) that raises _PlannedError on its n-th call."""

    def __init__(self, n):
        self.n, self.calls = n, 0

    def __call__(self, x):
        self.calls += 1
        if self.calls == self.n:
            raise _PlannedError(f"raised on purpose by f on call {self.n}")
        return float(np.sum(x))

    def __repr__(self):
        return f"f that raises on its call {self.n}"


def _observe_numerical_gradient(fn):
    """Run ``fn`` on its own copy of (f, x) and report the gradient and how x came back.

    The copy keeps f and x together (f may read x through a model), and keeps a
    transposed x a transpose. How many elements of x are restored bit for bit is
    counted here and named in the feedback: a count, not yes or no, because
    where f raises, a function that restores by arithmetic has also spoiled the
    elements before, and one without ``finally`` has not.
    """
    def run(f, x, h=1e-5):
        f, x = copy.deepcopy((f, x))
        before = x.copy()
        if isinstance(f, _RaisesOnCall):
            try:
                fn(f, x, h)
                passed_on = 0.0
            except _PlannedError:
                passed_on = 1.0
            result = {"the error of f reached the caller": passed_on}
        else:
            result = {"gradient": fn(f, x, h)}
        result["elements of x restored exactly"] = _restored(x, before)
        return result
    return run


def _restored(x, before) -> int:
    """How many elements of x hold exactly their old bits (so -0.0 is not 0.0)."""
    bits = np.ascontiguousarray(x).view(np.uint64)
    return int(np.sum(bits == np.ascontiguousarray(before).view(np.uint64)))


_central = gradcheck._nudged  # the reference's step, shared by the wrong variants below


def _ng_forward(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        old = x[k]
        f_0 = float(f(x))
        x[k] = old + h
        grad[k] = (float(f(x)) - f_0) / h
        x[k] = old
    return grad


def _ng_over_h(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        f_plus, f_minus = _central(f, x, h, k)
        grad[k] = (f_plus - f_minus) / h
    return grad


def _ng_on_copy(f, x, h=1e-5):
    return gradcheck.numerical_gradient(f, x.copy(), h)


def _ng_ignores_h(f, x, h=1e-5):
    return gradcheck.numerical_gradient(f, x)


def _ng_steps_back(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        x[k] += h
        f_plus = float(f(x))
        x[k] -= 2 * h
        f_minus = float(f(x))
        x[k] += h
        grad[k] = (f_plus - f_minus) / (2 * h)
    return grad


def _ng_on_flat_copy(f, x, h=1e-5):
    grad = np.zeros(x.size)
    flat = x.reshape(-1)  # a view of x only when x is contiguous; else a copy
    for i in range(flat.size):
        f_plus, f_minus = _central(lambda _: f(x), flat, h, i)  # f is given x, not flat
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad.reshape(x.shape)


def _ng_no_finally(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        old = x[k]
        x[k] = old + h
        f_plus = float(f(x))
        x[k] = old - h
        f_minus = float(f(x))
        x[k] = old
        grad[k] = (f_plus - f_minus) / (2 * h)
    return grad


_CUBIC = _Function("f(x) = sum(x**3 + x**2 / 2)", lambda v: float(np.sum(v**3 + 0.5 * v**2)))
_SIN = _Function("f(x) = sum(sin(x))", lambda v: float(np.sum(np.sin(v))))


def _reads_model(rng):
    """x is the model's W itself: f reads it from the model, never from its argument."""
    C, W = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    return _ReadsModel({"W": W}, C), W


def _weighted(rng):
    C = rng.normal(size=(2, 3, 4))
    f = _Function("f(x) = sum(c * x**2) with a fixed c of shape (2, 3, 4)",
                  lambda v: float(np.sum(C * v**2)))
    return f, rng.normal(size=(2, 3, 4))


def _ng_case(label, f, shape, kwargs=None, transposed=False):
    """A case of numerical_gradient: f at a random x of this shape (given as a transpose)."""
    def draw(rng):
        x = rng.normal(size=shape)
        return f, (x.T if transposed else x)
    return drawn_case("numerical_gradient", label, draw, kwargs)

_EXP_SUM = _Function("f(x) = 7 + sum(exp(x))", lambda v: 7.0 + float(np.sum(np.exp(v))))
_UNROUNDABLE = np.array([[0.1, 1.0 / 3.0, -0.0], [1e6 + 0.1, -7.3, 2.0 / 3.0]])

_NUMERICAL = Exercise(
    name="numerical_gradient",
    reference=gradcheck.numerical_gradient,
    adapter=_observe_numerical_gradient,
    visible=(
        Case("a polynomial f at x of shape (4,)",
             (_CUBIC, np.array([1.0, -0.5, 2.0, 0.3]))),
        drawn_case("numerical_gradient",
                   "f reading x through a model, as a loss reads W: x of shape (3, 5)",
                   _reads_model),
        _ng_case("h = 0.01: the step must be the h given", _CUBIC, (2, 3), {"h": 0.01}),
        Case("f raising an error on its 3rd call: the error must reach the caller, and x "
             "come back exactly as it was", (_RaisesOnCall(3), _UNROUNDABLE.copy())),
        _ng_case("x given as a transpose, shape (3, 2): not contiguous in memory, so "
                 "x.reshape(-1) and x.ravel() are copies", _SIN, (2, 3), transposed=True),
        _ng_case("a 3-D x of shape (2, 2, 3): every index, in every dimension", _CUBIC,
                 (2, 2, 3)),
        Case("one number, x of shape (1,)", (_SIN, np.array([0.75]))),
    ),
    hidden=(
        _ng_case("h = 0.5, a 2-D x", _CUBIC, (3, 2), {"h": 0.5}),
        Case("values that x + h - 2h + h does not give back (0.1, -0.0, 1e6 + 0.1, -7.3, 2/3)",
             (_SIN, _UNROUNDABLE)),
        _ng_case("f raising an error on its 6th call", _RaisesOnCall(6), (2, 3)),
        drawn_case("numerical_gradient", "a 3-D x of shape (2, 3, 4)", _weighted),
        Case("a single number, x of shape (1,)", (_EXP_SUM, np.array([-4.0]))),
    ),
    hints=(
        Hint(_ng_forward,
             "a forward difference (f(x + h) - f(x)) / h, whose error is O(h); use the "
             "central difference (f(x + h) - f(x - h)) / (2h), whose error is O(h^2)."),
        Hint(_ng_over_h,
             "x + h and x - h are 2h apart: divide by 2 * h, not by h."),
        Hint(_ng_on_copy,
             "you perturbed a copy of x, so f, which reads x through the model, never saw "
             "the change: perturb x itself, in place (x[k] = old + h), and restore it."),
        Hint(_ng_ignores_h, "you ignored h: use the step you are given."),
        Hint(_ng_no_finally,
             "when f raises, x is left perturbed: restore x[k] in a `finally:` block "
             "(try: ... finally: x[k] = old), so it is put back also when f fails."),
        Hint(_ng_steps_back,
             "you stepped back by arithmetic (x[k] += h ... x[k] -= 2h ... x[k] += h); in "
             "floating point 0.1 + h - 2h + h is not 0.1. Save old = x[k] and write it back."),
        Hint(_ng_on_flat_copy,
             "you perturbed x.reshape(-1) (or x.ravel()), which is a copy when x is not "
             "contiguous (a transpose, a slice), so f never saw the change and every entry "
             "came out 0: index x itself, for k in np.ndindex(x.shape): x[k] = old + h."),
    ),
)

# ---------------------------------------------------------------- relative_error

_A3 = np.array([0.5, -2.0, 1.5])


def _re_case(label, shape, scale=1.0, near=1e-3, larger_first=False):
    """A case of relative_error: an array of norm ``scale`` and one nearby, the one of the
    smaller norm first (unless ``larger_first``), so that dividing by the norm of the first
    and by the larger norm differ."""
    def draw(rng):
        a = rng.normal(size=shape)
        b = a + near * rng.normal(size=shape)
        a, b = sorted((a, b), key=np.linalg.norm, reverse=larger_first)
        unit = scale / np.linalg.norm(a)  # at 1e-9, far below a fixed eps of 1e-8
        return unit * a, unit * b
    return drawn_case("relative_error", label, draw)


def _scaled_1000(rng):
    a = rng.normal(size=(4, 5))
    return a, 1000.0 * a


# Each wrong variant below makes one mistake and gets the rest right, the 0/0 guard too.
def _guarded(rel):
    def wrong(a, b):
        if np.linalg.norm(a) + np.linalg.norm(b) == 0.0:
            return 0.0
        return rel(a, b)
    return wrong


def _re_no_zero_guard(a, b):
    return np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b))


@_guarded
def _re_over_a(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(a)


@_guarded
def _re_elementwise(a, b):
    return np.abs(a - b) / (np.abs(a) + np.abs(b))


@_guarded
def _re_l1(a, b):
    return np.sum(np.abs(a - b)) / (np.sum(np.abs(a)) + np.sum(np.abs(b)))


@_guarded
def _re_max_norm(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b))


def _re_plus_eps(a, b):
    return np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b) + 1e-8)


def _re_at_least_eps(a, b):
    return np.linalg.norm(a - b) / max(1e-8, np.linalg.norm(a) + np.linalg.norm(b))


def _re_at_least_tiny_eps(a, b):
    return np.linalg.norm(a - b) / max(1e-12, np.linalg.norm(a) + np.linalg.norm(b))


_EPS_HINT = ("you kept the denominator away from 0 with a fixed eps (+ 1e-8, or max(1e-8, "
             "...), or any other fixed number): for gradients as small as 1e-9, or 1e-30, the "
             "eps outweighs them and the error comes out too small. The error must not change "
             "when a and b are scaled alike: return 0.0 when both norms are 0, and divide by "
             "||a|| + ||b|| otherwise.")


_RELATIVE = Exercise(
    name="relative_error",
    reference=gradcheck.relative_error,
    visible=(
        _re_case("two nearby (4, 5) arrays", (4, 5)),
        Case("an array against zeros (the error is 1)", (_A3, np.zeros(3))),
        Case("two zero arrays: 0, not 0/0", (np.zeros((4, 5)), np.zeros((4, 5)))),
        _re_case("tiny gradients, of size 1e-9 (as deep in a network, Section 8): nearby "
                 "(4, 5) arrays times 1e-9", (4, 5), scale=1e-9, larger_first=True),
        Case("integer arrays, the first given as a transpose (not contiguous)",
             (np.array([[3, 0], [1, -2], [4, 2]]).T, np.array([[3, 1, 5], [0, -2, 2]]))),
        _re_case("3-D arrays of shape (2, 2, 3)", (2, 2, 3), near=0.1),
        # 1e-30: far below any fixed eps, max(1e-12, ...) included, which 1e-9 does not show
        _re_case("gradients of size 1e-30, far below any fixed eps: nearby (3, 4) arrays "
                 "times 1e-30", (3, 4), scale=1e-30),
        Case("one number each, shape (1,)", (np.array([-3.0]), np.array([-2.0]))),
    ),
    hidden=(
        Case("two zero arrays of another shape", (np.zeros(3), np.zeros(3))),
        Case("opposite signs (the error is 1)", (_A3, -_A3)),
        Case("orthogonal unit vectors", (np.array([1.0, 0.0]), np.array([0.0, 1.0]))),
        drawn_case("relative_error", "b = 1000 a", _scaled_1000),
        _re_case("3-D arrays of shape (2, 3, 4), in the other order", (2, 3, 4), near=0.1,
                 larger_first=True),
        Case("one number each", (np.array([2.0]), np.array([2.5]))),
        _re_case("tinier still: of size 1e-30, in the other order", (4, 5), scale=1e-30,
                 larger_first=True),
    ),
    hints=(
        Hint(_re_no_zero_guard,
             "when a and b are both 0 the formula is 0/0: return 0.0 in that case."),
        Hint(_re_elementwise,
             "you computed an error per element; relative_error is one number, from the "
             "Euclidean norms of the whole arrays (np.linalg.norm)."),
        Hint(_re_over_a,
             "divide by ||a|| + ||b||, not ||a|| alone: the error must not depend on which "
             "array comes first, and must be defined when a is 0."),
        Hint(_re_max_norm, "divide by the sum ||a|| + ||b||, not the larger of the two."),
        Hint(_re_l1,
             "use Euclidean norms (np.linalg.norm), not sums of absolute values."),
        Hint(_re_plus_eps, _EPS_HINT),
        Hint(_re_at_least_eps, _EPS_HINT),
        Hint(_re_at_least_tiny_eps, _EPS_HINT),
    ),
)

# ---------------------------------------------------------------- gradient_check


def _rounding_noise_as_zero(fn):
    """Run ``fn``; relative errors below NOISE count as 0 (their digits are rounding noise)."""
    def run(*args, **kwargs):
        errors = fn(*args, **kwargs)
        if not isinstance(errors, dict):
            return errors
        return {key: (0.0 if _is_noise(value) else value) for key, value in errors.items()}
    return run


def _is_noise(value) -> bool:
    try:
        return np.ndim(value) == 0 and 0.0 <= float(value) < NOISE
    except (TypeError, ValueError):
        return False


def _gc_wrong(copy_x=False, use_h=True, forward_act=True, backward_act=True):
    """A wrong gradient_check: the reference's steps with one of them done wrong."""
    def wrong(params, X, y, activation="relu", h=1e-5):
        fwd = activation if forward_act else "relu"
        bwd = activation if backward_act else "relu"
        logits, caches = network.mlp_forward(X, params, fwd)
        grads = network.mlp_backward(losses.cross_entropy_grad(logits, y), caches, bwd)

        def loss(_):
            return losses.cross_entropy(network.mlp_forward(X, params, fwd)[0], y)

        errors = {}
        for key in grads:
            x = params[key].copy() if copy_x else params[key]
            numeric = gradcheck.numerical_gradient(loss, x, h if use_h else 1e-5)
            errors[key] = gradcheck.relative_error(grads[key], numeric)
        return errors
    return wrong


def _gc_only_weights(params, X, y, activation="relu", h=1e-5):
    errors = gradcheck.gradient_check(params, X, y, activation, h)
    return {key: value for key, value in errors.items() if key.startswith("W")}


_NOISE_NOTE = "(relative errors below 1e-7 are rounding noise and count as 0)"

_GRADIENT_CHECK = Exercise(
    name="gradient_check",
    reference=gradcheck.gradient_check,
    adapter=_rounding_noise_as_zero,
    depends={"mlp_backward": network.mlp_backward,
             "numerical_gradient": gradcheck.numerical_gradient,
             "relative_error": gradcheck.relative_error},
    visible=(
        _network_case(f"a ReLU network 5 -> 4 -> 3 on N=6 samples, h = 1e-5 {_NOISE_NOTE}",
                      [5, 4, 3], 6),
        _network_case("a tanh network 3 -> 4 -> 2 on N=5 samples with a large step, h = 0.1, "
                      "so that the O(h^2) error of central differences shows",
                      [3, 4, 2], 5, {"activation": "tanh", "h": 0.1}),
        _network_case(f"a single linear layer 4 -> 3 (no hidden layer) on N=3 samples, "
                      f"sigmoid {_NOISE_NOTE}", [4, 3], 3, {"activation": "sigmoid"}),
        _network_case("three layers (W3, b3 too), a sigmoid network 3 -> 4 -> 3 -> 2 on N=4 "
                      "samples, h = 0.05", [3, 4, 3, 2], 4, {"activation": "sigmoid", "h": 0.05}),
    ),
    hidden=(
        _network_case("a sigmoid network 4 -> 6 -> 5 -> 3 on N=7 samples, h = 0.05",
                      [4, 6, 5, 3], 7, {"activation": "sigmoid", "h": 0.05}),
        _network_case(f"a single linear layer 3 -> 4 on N=5 samples {_NOISE_NOTE}",
                      [3, 4], 5, {"activation": "tanh"}),
        _network_case(f"a ReLU network 6 -> 5 -> 4 -> 3 on N=4 samples {_NOISE_NOTE}",
                      [6, 5, 4, 3], 4, {"activation": "relu"}),
        _network_case("an ELU network 2 -> 3 -> 2 on N=3 samples, h = 0.2",
                      [2, 3, 2], 3, {"activation": "elu", "h": 0.2}),
    ),
    hints=(
        Hint(_gc_wrong(copy_x=True),
             "every relative error is 1: your numerical gradient is 0, because the loss never "
             "saw the perturbation. Recompute the loss inside f from params (f = lambda _: "
             "cross_entropy(mlp_forward(X, params, activation)[0], y)) and pass params[key] "
             "itself to numerical_gradient, not a copy."),
        Hint(_gc_wrong(use_h=False), "pass h on to numerical_gradient."),
        Hint(_gc_wrong(backward_act=False),
             "pass `activation` on to mlp_backward too: the backward pass must use the "
             "forward pass's activation."),
        Hint(_gc_wrong(forward_act=False),
             "pass `activation` on to mlp_forward, in both places (the analytic gradient and "
             "the loss inside f)."),
        Hint(_gc_wrong(forward_act=False, backward_act=False),
             "pass `activation` on to mlp_forward and mlp_backward: you checked a ReLU "
             "network whatever the activation."),
        Hint(_gc_only_weights,
             "check every parameter, the biases b1, b2, … too: one entry per key of params."),
    ),
)

EXERCISES = {
    "dense_backward": _DENSE,
    "activation_backward": _ACTIVATION,
    "mlp_backward": _MLP,
    "numerical_gradient": _NUMERICAL,
    "relative_error": _RELATIVE,
    "gradient_check": _GRADIENT_CHECK,
}
