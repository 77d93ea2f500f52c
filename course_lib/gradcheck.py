r"""Checking gradients with central differences.

:math:`\partial f/\partial x_k \approx (f(x + h e_k) - f(x - h e_k)) / 2h`,
with error :math:`O(h^2)`: for float64 and ``h = 1e-5`` an analytic gradient
that is right agrees to a relative error of about 1e-9 or better.
:func:`gradient_check` compares an MLP's backward pass with them, parameter by
parameter.
"""

from __future__ import annotations

import numpy as np

from .losses import cross_entropy, cross_entropy_grad
from .network import mlp_backward, mlp_forward

__all__ = ["numerical_gradient", "relative_error", "gradient_check"]


def numerical_gradient(f, x, h=1e-5):
    r"""Central-difference gradient of a scalar function at ``x``.

    ``x`` is perturbed in place, one element at a time, and every element is
    restored afterwards (also when ``f`` raises). So ``f`` may ignore its
    argument and read ``x`` through a model that holds it, as in
    ``numerical_gradient(lambda _: loss(model), model.params["W1"])``.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``.
    x : ndarray of float64, any shape
        The point; perturbed in place while the function runs.
    h : float, default 1e-5
        Step size.

    Returns
    -------
    ndarray, the shape of ``x``
        :math:`(f(x + h e_k) - f(x - h e_k)) / 2h` for each element k.
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise TypeError(
            "x must be a float64 ndarray (it is perturbed in place); got "
            + (f"an array of dtype {x.dtype}" if isinstance(x, np.ndarray)
               else f"a value of type {type(x).__name__}")
        )
    grad = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        f_plus, f_minus = _nudged(f, x, h, k)
        grad[k] = (f_plus - f_minus) / (2.0 * h)
    return grad


def _nudged(f, x, h, k):
    """(f(x + h e_k), f(x - h e_k)), with x[k] restored afterwards even when f raises."""
    old = x[k]
    try:
        x[k] = old + h
        f_plus = float(f(x))
        x[k] = old - h
        f_minus = float(f(x))
    finally:
        x[k] = old
    return f_plus, f_minus


def relative_error(a, b):
    r"""Relative error between two arrays: :math:`\lVert a - b\rVert / (\lVert a\rVert + \lVert b\rVert)`.

    Norms are Euclidean over all elements. 0 when both are zero; at most 1.
    A gradient check passes below about 1e-7 in float64.

    Parameters
    ----------
    a, b : array_like, the same shape

    Returns
    -------
    float
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape; got {a.shape} and {b.shape}")
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    if scale == 0.0:
        return 0.0
    return float(np.linalg.norm(a - b) / scale)


def gradient_check(params, X, y, activation="relu", h=1e-5):
    r"""Check an MLP's backward pass against central differences, parameter by parameter.

    The loss is the softmax cross-entropy of the network's logits,
    :math:`L = \mathrm{cross\_entropy}(\mathrm{mlp\_forward}(X, \mathrm{params})_0, y)`.
    For every key, the gradient from :func:`~course_lib.network.mlp_backward`
    (fed :math:`\partial L/\partial \mathrm{logits}` from
    :func:`~course_lib.losses.cross_entropy_grad`) is compared with
    :func:`numerical_gradient` of L with respect to that parameter, which is
    perturbed in place and restored.

    Parameters
    ----------
    params : dict of str -> ndarray of float64
        ``W1`` of shape (m_1, D), ``b1`` of shape (m_1,), …, ``WL`` of shape
        (C, m_{L-1}), ``bL`` of shape (C,). Perturbed in place while the check
        runs and restored exactly.
    X : array_like, shape (N, D)
    y : array_like of int, shape (N,)
        Class ids in [0, C).
    activation : str, default "relu"
        The hidden layers' activation.
    h : float, default 1e-5
        Step of the central differences.

    Returns
    -------
    errors : dict of str -> float
        :func:`relative_error` of the analytic and the numerical gradient, keyed
        ``W1, b1, …, WL, bL``. Below about 1e-7 in float64, the backward pass is
        right (at ``h = 1e-5``, and away from the kinks of ReLU).
    """
    logits, caches = mlp_forward(X, params, activation)
    grads = mlp_backward(cross_entropy_grad(logits, y), caches, activation)

    def loss(_):
        # reads params, whose entry numerical_gradient is perturbing in place
        return cross_entropy(mlp_forward(X, params, activation)[0], y)

    return {key: relative_error(grads[key], numerical_gradient(loss, params[key], h))
            for key in grads}
