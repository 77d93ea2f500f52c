r"""Loss functions, their gradients, and the L2 penalty.

The training objective is
:math:`\frac{1}{N}\sum_{n} L(y_n, f(x_n; W)) + \lambda J(W)` with
:math:`J(W) = \frac{1}{2}\sum_i \lVert W_i \rVert^2` over the weight matrices
(not the biases). Shapes: N samples, C classes or outputs.
"""

from __future__ import annotations

import re

import numpy as np

from ._validate import as_float, as_labels, require_ndim

__all__ = [
    "mse",
    "mse_grad",
    "mse_and_grad",
    "cross_entropy",
    "cross_entropy_grad",
    "cross_entropy_and_grad",
    "l2_penalty",
    "is_weight",
]

_WEIGHT_KEY = re.compile(r"W\d+")


def is_weight(key: str) -> bool:
    """True for the weight matrices ``W1, W2, …`` of a parameter dict, False for biases."""
    return _WEIGHT_KEY.fullmatch(key) is not None


def mse(y_pred, y_true):
    r"""Mean squared error over all elements: :math:`\frac{1}{|y|}\sum (\hat y - y)^2`.

    Parameters
    ----------
    y_pred, y_true : array_like, the same shape
        The shapes must match exactly: (N,) against (N, 1) would broadcast to
        (N, N) and silently give a wrong number, so it is an error here.

    Returns
    -------
    float
    """
    y_pred, y_true = _check_pair(y_pred, y_true)
    return float(np.mean((y_pred - y_true) ** 2))


def mse_grad(y_pred, y_true):
    r"""Gradient of :func:`mse` with respect to ``y_pred``: :math:`\frac{2}{|y|}(\hat y - y)`.

    Returns
    -------
    ndarray, the shape of ``y_pred``
    """
    y_pred, y_true = _check_pair(y_pred, y_true)
    return 2.0 * (y_pred - y_true) / y_pred.size


def cross_entropy(logits, labels):
    r"""Softmax cross-entropy from logits, averaged over the batch.

    :math:`L = \frac{1}{N}\sum_n \big(\log\sum_c e^{z_{nc}} - z_{n,y_n}\big)`,
    which is :math:`-\frac{1}{N}\sum_n \log \mathrm{softmax}(z_n)_{y_n}`
    computed with log-sum-exp after subtracting the row maximum: it never takes
    ``log(0)`` and never overflows.

    Parameters
    ----------
    logits : array_like, shape (N, C)
        Unnormalised scores z, one row per sample.
    labels : array_like of int, shape (N,)
        Class ids in [0, C).

    Returns
    -------
    float
    """
    z, y = _check_logits(logits, labels)
    shifted, e, total = _shifted_exp(z)
    return _ce_value(shifted, total, y)


def cross_entropy_grad(logits, labels):
    r"""Gradient of :func:`cross_entropy` with respect to the logits.

    :math:`\partial L / \partial z = (\mathrm{softmax}(z) - \mathrm{onehot}(y)) / N`.

    Returns
    -------
    ndarray, shape (N, C)
    """
    z, y = _check_logits(logits, labels)
    _, e, total = _shifted_exp(z)
    return _ce_grad(e, total, y)


def cross_entropy_and_grad(logits, labels):
    """:func:`cross_entropy` and :func:`cross_entropy_grad` together, sharing one softmax.

    Returns
    -------
    loss : float
    dlogits : ndarray, shape (N, C)
    """
    z, y = _check_logits(logits, labels)
    shifted, e, total = _shifted_exp(z)
    return _ce_value(shifted, total, y), _ce_grad(e, total, y)


def mse_and_grad(y_pred, y_true):
    """:func:`mse` and :func:`mse_grad` together.

    Returns
    -------
    loss : float
    dy_pred : ndarray, the shape of ``y_pred``
    """
    y_pred, y_true = _check_pair(y_pred, y_true)
    diff = y_pred - y_true
    return float(np.square(diff).sum()) / diff.size, 2.0 * diff / diff.size


def l2_penalty(params, lam):
    r"""L2 penalty on the weights: :math:`\frac{\lambda}{2}\sum_i \lVert W_i \rVert_F^2`.

    Only the keys ``W1, W2, …`` count; biases are not penalised. Its gradient
    with respect to :math:`W_i` is :math:`\lambda W_i`, the term weight decay
    adds in :mod:`course_lib.optim`.

    Parameters
    ----------
    params : dict of str -> ndarray
        Parameters keyed ``W1, b1, W2, b2, …``.
    lam : float
        Regularisation strength :math:`\lambda \ge 0`.

    Returns
    -------
    float
    """
    if not isinstance(params, dict):
        raise TypeError(
            f"params must be a dict like {{'W1': ..., 'b1': ...}}; got {type(params).__name__}"
        )
    total = sum(
        float(np.sum(as_float(value, key) ** 2)) for key, value in params.items() if is_weight(key)
    )
    return 0.5 * float(lam) * total


def _check_pair(y_pred, y_true):
    y_pred, y_true = as_float(y_pred, "y_pred"), as_float(y_true, "y_true")
    if y_pred.shape != y_true.shape:
        raise ValueError(
            f"y_pred and y_true must have the same shape; got y_pred {y_pred.shape} "
            f"and y_true {y_true.shape}"
            + (" (reshape one of them: (N,) and (N, 1) would broadcast to (N, N))"
               if y_pred.size == y_true.size else "")
        )
    if y_pred.size == 0:
        raise ValueError("mse of an empty array is undefined; got shape " + str(y_pred.shape))
    return y_pred, y_true


def _shifted_exp(z):
    # subtract the row max: softmax is shift-invariant, exp cannot overflow, and
    # each row's sum is at least 1, so its log is finite and >= 0
    shifted = z - z.max(axis=1, keepdims=True)  # (N, C)
    e = np.exp(shifted)  # (N, C)
    return shifted, e, e.sum(axis=1)  # total: (N,)


# (.sum() / n rather than np.mean: the same number, without np.mean's overhead,
# which on a minibatch costs more than the arithmetic)
def _ce_value(shifted, total, y):
    return float((np.log(total) - shifted[np.arange(len(y)), y]).sum()) / len(y)


def _ce_grad(e, total, y):
    p = e / total[:, None]  # softmax, (N, C); a new array, so the logits are untouched
    p[np.arange(len(y)), y] -= 1.0
    p /= len(y)
    return p


def _check_logits(logits, labels):
    z = as_float(logits, "logits")
    require_ndim(z, 2, "logits", "(N, C), one row of class scores per sample")
    if z.shape[0] == 0:
        raise ValueError("cross_entropy needs at least one sample; got logits of shape "
                         f"{z.shape}")
    y = as_labels(labels, z.shape[0], z.shape[1])
    return z, y
