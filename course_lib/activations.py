r"""Activation functions and their derivatives.

Every function takes an array of any shape and applies elementwise, except
``softmax``, which normalises along one axis. Inputs are converted to float64
and never modified. All of them are finite, without overflow, division by zero
or invalid-value warnings, for every input in [-1000, 1000] (and beyond).

The derivatives are named ``<name>_grad`` and return :math:`f'(x)` evaluated at
the same ``x`` that the forward function takes.
"""

from __future__ import annotations

import numpy as np

from ._validate import as_float

__all__ = [
    "relu",
    "relu_grad",
    "sigmoid",
    "sigmoid_grad",
    "tanh",
    "tanh_grad",
    "softplus",
    "softplus_grad",
    "elu",
    "elu_grad",
    "softmax",
    "Activation",
    "ACTIVATIONS",
]


def relu(x):
    r"""Rectified linear unit, :math:`\mathrm{relu}(x) = \max(0, x)`.

    Parameters
    ----------
    x : array_like, any shape

    Returns
    -------
    ndarray of float64, same shape as ``x``
    """
    x = as_float(x, "x")
    return np.maximum(x, 0.0)


def relu_grad(x):
    r"""Derivative of ReLU: :math:`\mathrm{relu}'(x) = 1` if :math:`x > 0`, else 0.

    ReLU has no derivative at 0; like every major framework we use 0 there.

    Parameters
    ----------
    x : array_like, any shape

    Returns
    -------
    ndarray of float64, same shape as ``x``, with values 0.0 or 1.0
    """
    x = as_float(x, "x")
    return (x > 0).astype(np.float64)


def sigmoid(x):
    r"""Logistic sigmoid, :math:`\sigma(x) = 1 / (1 + e^{-x})`.

    Computed with :math:`e = e^{-|x|} \in (0, 1]`, which cannot overflow:
    :math:`\sigma(x) = 1/(1+e)` for :math:`x \ge 0` and :math:`e/(1+e)` for
    :math:`x < 0` (the naive formula overflows in ``exp(-x)`` for x < -709).

    Parameters
    ----------
    x : array_like, any shape

    Returns
    -------
    ndarray of float64, same shape as ``x``, values in [0, 1]
    """
    x = as_float(x, "x")
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


def sigmoid_grad(x):
    r"""Derivative of the sigmoid: :math:`\sigma'(x) = \sigma(x)\,(1 - \sigma(x))`.

    Computed as :math:`e / (1+e)^2` with :math:`e = e^{-|x|}`, the same
    quantity written so that it keeps full relative precision in the tails,
    where :math:`1 - \sigma(x)` would round to 0.

    Parameters
    ----------
    x : array_like, any shape

    Returns
    -------
    ndarray of float64, same shape as ``x``, values in [0, 1/4]
    """
    x = as_float(x, "x")
    e = np.exp(-np.abs(x))
    return e / (1.0 + e) ** 2


def tanh(x):
    r"""Hyperbolic tangent, :math:`\tanh(x) = (e^x - e^{-x}) / (e^x + e^{-x}) = 2\sigma(2x) - 1`.

    Parameters
    ----------
    x : array_like, any shape

    Returns
    -------
    ndarray of float64, same shape as ``x``, values in [-1, 1]
    """
    x = as_float(x, "x")
    return np.tanh(x)


def tanh_grad(x):
    r"""Derivative of tanh: :math:`\tanh'(x) = 1 - \tanh^2(x) = \mathrm{sech}^2(x)`.

    Computed as :math:`4e / (1+e)^2` with :math:`e = e^{-2|x|}`: the same
    quantity, without the cancellation of :math:`1 - \tanh^2(x)` for large
    :math:`|x|` or the overflow of :math:`\cosh(x)`.

    Parameters
    ----------
    x : array_like, any shape

    Returns
    -------
    ndarray of float64, same shape as ``x``, values in [0, 1]
    """
    x = as_float(x, "x")
    e = np.exp(-2.0 * np.abs(x))
    return 4.0 * e / (1.0 + e) ** 2


def softplus(x):
    r"""Softplus, :math:`\mathrm{softplus}(x) = \log(1 + e^x) = \int_{-\infty}^x \sigma(t)\,dt`.

    Computed as ``logaddexp(0, x)``, i.e. :math:`\max(0, x) + \log(1 + e^{-|x|})`:
    the naive formula overflows in ``exp(x)`` for x > 709.

    Parameters
    ----------
    x : array_like, any shape

    Returns
    -------
    ndarray of float64, same shape as ``x``, values >= 0
    """
    x = as_float(x, "x")
    return np.logaddexp(0.0, x)


def softplus_grad(x):
    r"""Derivative of softplus: :math:`\mathrm{softplus}'(x) = \sigma(x)`.

    Parameters
    ----------
    x : array_like, any shape

    Returns
    -------
    ndarray of float64, same shape as ``x``, values in [0, 1]
    """
    return sigmoid(x)


def elu(x, alpha=1.0):
    r"""Exponential linear unit: :math:`x` for :math:`x > 0`, else :math:`\alpha (e^x - 1)`.

    ``expm1`` keeps precision near 0, and the exponential is taken of
    :math:`\min(x, 0)` only, so the unused branch cannot overflow.

    Parameters
    ----------
    x : array_like, any shape
    alpha : float, default 1.0
        The value :math:`-\alpha` is the limit for :math:`x \to -\infty`.

    Returns
    -------
    ndarray of float64, same shape as ``x``
    """
    x = as_float(x, "x")
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def elu_grad(x, alpha=1.0):
    r"""Derivative of ELU: 1 for :math:`x > 0`, else :math:`\alpha e^x`.

    At 0 we use the left derivative :math:`\alpha` (equal to 1 for the default
    :math:`\alpha = 1`, where ELU is differentiable).

    Parameters
    ----------
    x : array_like, any shape
    alpha : float, default 1.0

    Returns
    -------
    ndarray of float64, same shape as ``x``
    """
    x = as_float(x, "x")
    return np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))


def softmax(z, axis=-1):
    r"""Softmax along ``axis``: :math:`\mathrm{softmax}(z)_k = e^{z_k} / \sum_j e^{z_j}`.

    Softmax is shift-invariant, :math:`\mathrm{softmax}(z) = \mathrm{softmax}(z - c)`,
    so we subtract the maximum along ``axis`` first: every exponent is then <= 0,
    ``exp`` cannot overflow, and the largest term is exactly 1, so the sum
    cannot be 0.

    Parameters
    ----------
    z : array_like, at least 1-D
        Scores (logits); for a batch, shape (N, C) with one row per sample.
    axis : int, default -1
        The axis holding the classes.

    Returns
    -------
    ndarray of float64, same shape as ``z``; non-negative, summing to 1 along ``axis``
    """
    z = as_float(z, "z")
    if z.ndim == 0:
        raise ValueError(
            "z must have at least 1 axis (the classes); got a scalar, shape ()"
        )
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


class Activation(tuple):
    """The pair ``(f, f')`` of an activation, which also names the initialisation that suits it.

    It is a pair: ``f, f_grad = ACTIVATIONS["tanh"]``, and ``ACTIVATIONS["tanh"][1]`` is
    tanh's derivative. ``ACTIVATIONS["tanh"].init`` is ``"xavier"``, the initialisation
    (:mod:`course_lib.layers`) that :class:`~course_lib.network.MLP` draws its weights from
    by default.
    """

    def __new__(cls, f, f_grad, init):
        pair = super().__new__(cls, (f, f_grad))
        pair.init = init
        return pair

    def __getnewargs__(self):  # copy and pickle build it again from all three
        return (*self, self.init)


#: Name -> (f, f') for the elementwise activations, each with the weight initialisation that
#: suits it: "he" for ReLU-like units, "xavier" for tanh and sigmoid. Adding one is one line.
ACTIVATIONS = {
    "relu": Activation(relu, relu_grad, init="he"),
    "sigmoid": Activation(sigmoid, sigmoid_grad, init="xavier"),
    "tanh": Activation(tanh, tanh_grad, init="xavier"),
    "softplus": Activation(softplus, softplus_grad, init="he"),
    "elu": Activation(elu, elu_grad, init="he"),
}
