"""The exercises of notebook 01: the activation functions and their derivatives."""

from __future__ import annotations

import numpy as np

from .. import activations as ref
from ._engine import Case, Exercise, Hint

__all__ = ["EXERCISES"]

_rng = np.random.default_rng(2024)  # fixed: the same cases for every student, every run
_MIXED = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
_BATCH = _rng.normal(0.0, 3.0, size=(3, 4))
_RANDOM_3D = _rng.normal(0.0, 5.0, size=(2, 3, 4))
_EXTREME = np.array([-1000.0, -750.0, -710.0, -40.0, 0.0, 40.0, 710.0, 750.0, 1000.0])
_EMPTY = np.zeros((0,))
# With alpha != 1, ELU has no derivative at 0: cases with alpha leave 0 out.
_MIXED_NONZERO = np.array([-2.0, -0.5, 0.5, 2.0])
_EXTREME_NONZERO = _EXTREME[_EXTREME != 0]


def _elementwise(name, hints=(), kwargs=None, extra_hidden=()):
    kw = kwargs or {}
    return Exercise(
        name=name,
        reference=getattr(ref, name),
        visible=(
            Case("a mix of negative, zero and positive values", (_MIXED,), kw),
            Case("a 2-D batch of shape (3, 4)", (_BATCH,), kw),
        ),
        hidden=(
            Case("extreme inputs from -1000 to 1000", (_EXTREME,), kw),
            Case("a random 3-D array of shape (2, 3, 4)", (_RANDOM_3D,), kw),
            Case("an empty array", (_EMPTY,), kw),
            *extra_hidden,
        ),
        hints=tuple(Hint(w, m) for w, m in hints),
    )


def _naive_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


EXERCISES = {
    "relu": _elementwise("relu", hints=[
        (lambda x: x, "you returned x unchanged: negative inputs must become 0, as in np.maximum(x, 0)."),
        (np.abs, "you returned |x|: ReLU sets negative inputs to 0, it does not flip their sign."),
        (lambda x: np.minimum(x, 0.0), "you took the minimum; ReLU is max(0, x)."),
    ]),
    "relu_grad": _elementwise("relu_grad", hints=[
        (ref.relu, "you returned relu(x) itself; the derivative is 1 where x > 0 and 0 elsewhere."),
        (lambda x: (x >= 0).astype(float), "at x = 0 the course uses 0 (as frameworks do): test x > 0, not x >= 0."),
    ]),
    "sigmoid": _elementwise("sigmoid", hints=[
        (lambda x: 1.0 / (1.0 + np.exp(x)), "a sign error: sigma(x) = 1 / (1 + exp(-x))."),
        (ref.tanh, "that is tanh; the sigmoid maps to (0, 1)."),
    ]),
    "sigmoid_grad": _elementwise("sigmoid_grad", hints=[
        (ref.sigmoid, "you returned sigmoid(x) itself, not its derivative sigma(x)(1 - sigma(x))."),
        (lambda x: x * (1.0 - x), "you applied s(1 - s) to x; s must be sigmoid(x)."),
        (lambda x: _naive_sigmoid(x) * (1.0 - _naive_sigmoid(-x)), "mixed up sigma(x) and sigma(-x)."),
    ]),
    "tanh": _elementwise("tanh", hints=[
        (ref.sigmoid, "that is the sigmoid; tanh(x) = 2 sigma(2x) - 1 maps to (-1, 1)."),
        (lambda x: 2.0 * ref.sigmoid(x) - 1.0, "tanh(x) = 2 sigma(2x) - 1: the argument of sigma is 2x."),
    ]),
    "tanh_grad": _elementwise("tanh_grad", hints=[
        (lambda x: 1.0 - x**2, "you computed 1 - x**2; the derivative is 1 - tanh(x)**2."),
        (lambda x: 1.0 - np.tanh(x), "you forgot the square: 1 - tanh(x)**2."),
        (np.tanh, "you returned tanh(x) itself, not its derivative."),
    ]),
    "softplus": _elementwise("softplus", hints=[
        (ref.sigmoid, "you returned the sigmoid, which is softplus' derivative."),
        (lambda x: np.log1p(x), "softplus is log(1 + exp(x)), not log(1 + x)."),
        (ref.relu, "that is ReLU, which softplus only approaches for large |x|."),
    ]),
    "softplus_grad": _elementwise("softplus_grad", hints=[
        (ref.softplus, "you returned softplus itself; its derivative is the sigmoid."),
        (lambda x: 1.0 / (1.0 + np.exp(x)), "a sign error: the derivative is sigma(x) = 1 / (1 + exp(-x))."),
    ]),
    "elu": _elementwise(
        "elu",
        hints=[
            (lambda x, alpha=1.0: ref.elu(x), "you ignored alpha: the negative side is alpha * (exp(x) - 1)."),
            (lambda x, alpha=1.0: np.where(x > 0, x, alpha * np.exp(np.minimum(x, 0))),
             "the negative side is alpha * (exp(x) - 1): you forgot the -1, so ELU jumps at 0."),
            (lambda x, alpha=1.0: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
             "you ignored alpha: the negative side is alpha * (exp(x) - 1)."),
        ],
        extra_hidden=(Case("alpha = 0.5", (_MIXED_NONZERO,), {"alpha": 0.5}),
                      Case("alpha = 2 on extreme inputs", (_EXTREME_NONZERO,), {"alpha": 2.0})),
    ),
    "elu_grad": _elementwise(
        "elu_grad",
        hints=[
            (lambda x, alpha=1.0: ref.elu_grad(x), "you ignored alpha: the derivative is alpha * exp(x) for x <= 0."),
            (lambda x, alpha=1.0: ref.elu(x, alpha), "you returned elu(x) itself, not its derivative."),
        ],
        extra_hidden=(Case("alpha = 0.5", (_MIXED_NONZERO,), {"alpha": 0.5}),
                      Case("alpha = 2 on extreme inputs", (_EXTREME_NONZERO,), {"alpha": 2.0})),
    ),
    "softmax": Exercise(
        name="softmax",
        reference=ref.softmax,
        visible=(
            Case("one vector of 4 scores", (np.array([1.0, 2.0, 3.0, 0.5]),)),
            Case("a batch of 3 rows with 4 classes each (normalise each row)", (_BATCH,)),
        ),
        hidden=(
            Case("huge equal scores [1000, 1000, 1000]", (np.array([1000.0, 1000.0, 1000.0]),)),
            Case("scores 2000 apart", (np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -999.0]]),)),
            Case("axis=0: normalise each column", (_BATCH,), {"axis": 0}),
            Case("a 3-D array along axis=1", (_RANDOM_3D,), {"axis": 1}),
            Case("a batch of one sample", (_BATCH[:1],)),
        ),
        hints=(
            Hint(lambda z, axis=-1: np.exp(z) / np.exp(z).sum(), "you divided by the sum over the whole array; "
                 "sum along `axis` with keepdims=True so each row (or column) sums to 1."),
            Hint(lambda z, axis=-1: ref.softmax(z, axis=0 if axis in (-1, z.ndim - 1) else -1),
                 "you normalised along the wrong axis: use the `axis` argument, with keepdims=True."),
            Hint(lambda z, axis=-1: ref.softmax(z, axis=-1), "you ignored the `axis` argument."),
            Hint(lambda z, axis=-1: np.exp(z), "you forgot to divide by the sum of the exponentials."),
        ),
    ),
}
