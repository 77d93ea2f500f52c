r"""The dense (fully connected) layer, forward and backward, and its initialisations.

Layer i computes :math:`h_i = f_i(W_i h_{i-1} + b_i)` with :math:`W_i` of shape
(m_i, m_{i-1}). On a batch whose rows are samples this is
:math:`H_i = f_i(H_{i-1} W_i^\top + b_i)`, in code ``X @ W.T + b``: the layout
of PyTorch's ``nn.Linear``. Shapes: N samples, D inputs, H outputs.
"""

from __future__ import annotations

import numpy as np

from ._validate import as_float, require_ndim, require_shape
from .activations import ACTIVATIONS

__all__ = ["dense_forward", "dense_backward", "activation_backward", "he_init", "xavier_init"]


def dense_forward(X, W, b):
    r"""Affine map of a batch: :math:`Z = X W^\top + b`.

    Parameters
    ----------
    X : array_like, shape (N, D)
        The batch, one sample per row.
    W : array_like, shape (H, D)
        Weights: row j holds the weights into output unit j.
    b : array_like, shape (H,)
        Biases, broadcast over the rows of the batch.

    Returns
    -------
    Z : ndarray, shape (N, H)
    cache : tuple (X, W)
        What :func:`dense_backward` needs.
    """
    X, W, b = _check_dense(X, W, b)
    Z = X @ W.T + b  # (N, D) @ (D, H) -> (N, H); b broadcasts over the rows
    return Z, (X, W)


def dense_backward(dZ, cache):
    r"""Gradients of a loss through :math:`Z = X W^\top + b`.

    With :math:`\partial L / \partial Z` given, the chain rule gives
    :math:`\partial L/\partial X = dZ\, W`, :math:`\partial L/\partial W = dZ^\top X`
    and :math:`\partial L/\partial b = \sum_n dZ_{n,:}`.

    Parameters
    ----------
    dZ : array_like, shape (N, H)
        Gradient of the loss with respect to the layer's output Z.
    cache : tuple (X, W)
        As returned by :func:`dense_forward`.

    Returns
    -------
    dX : ndarray, shape (N, D)
    dW : ndarray, shape (H, D), the shape of W
    db : ndarray, shape (H,)
    """
    X, W = cache
    dZ = as_float(dZ, "dZ")
    require_shape(dZ, (X.shape[0], W.shape[0]), "dZ", "the shape of Z = X @ W.T + b")
    dX = dZ @ W  # (N, H) @ (H, D) -> (N, D)
    dW = dZ.T @ X  # (H, N) @ (N, D) -> (H, D)
    db = dZ.sum(axis=0)  # b feeds every sample: add their gradients, (H,)
    return dX, dW, db


def activation_backward(dH, Z, activation="relu"):
    r"""Gradient through an elementwise activation :math:`H = f(Z)`: :math:`dZ = dH \odot f'(Z)`.

    Each output depends only on the input at the same place, so the chain rule
    is a product, element by element, with the derivative at Z.

    Parameters
    ----------
    dH : array_like, shape (N, H)
        Gradient of the loss with respect to the activation's output.
    Z : array_like, shape (N, H)
        The activation's input, as in the forward pass.
    activation : str, default "relu"
        A key of :data:`course_lib.activations.ACTIVATIONS`.

    Returns
    -------
    dZ : ndarray, shape (N, H)
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}; got {activation!r}")
    dH, Z = as_float(dH, "dH"), as_float(Z, "Z")
    require_shape(dH, Z.shape, "dH", "the shape of Z")
    return dH * ACTIVATIONS[activation][1](Z)


def he_init(n_in, n_out, rng):
    r"""He (Kaiming) normal initialisation for ReLU layers: :math:`W_{jk} \sim \mathcal{N}(0, 2/n_{in})`.

    ReLU zeroes half of its inputs on average, so the factor 2 keeps the
    variance of the activations the same from layer to layer.

    Parameters
    ----------
    n_in, n_out : int
        Units feeding the layer (D) and units of the layer (H).
    rng : numpy.random.Generator

    Returns
    -------
    W : ndarray, shape (n_out, n_in)
    """
    return rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_out, n_in))


def xavier_init(n_in, n_out, rng):
    r"""Xavier (Glorot) normal initialisation: :math:`W_{jk} \sim \mathcal{N}(0, 2/(n_{in} + n_{out}))`.

    Keeps the variance of activations and of back-propagated gradients about
    constant through layers of tanh or sigmoid, which are near-linear around 0.

    Parameters
    ----------
    n_in, n_out : int
        Units feeding the layer (D) and units of the layer (H).
    rng : numpy.random.Generator

    Returns
    -------
    W : ndarray, shape (n_out, n_in)
    """
    return rng.normal(0.0, np.sqrt(2.0 / (n_in + n_out)), size=(n_out, n_in))


def _check_dense(X, W, b):
    X, W, b = as_float(X, "X"), as_float(W, "W"), as_float(b, "b")
    require_ndim(X, 2, "X", "(N, D), one sample per row (for one sample x use x[None, :])")
    require_ndim(W, 2, "W", "(H, D), one row per output unit")
    if W.shape[1] != X.shape[1]:
        raise ValueError(
            f"W must have shape (H, {X.shape[1]}) to match X of shape {X.shape} "
            f"(W has one column per input feature); got W of shape {W.shape}"
            + (": did you pass W.T?" if W.shape[0] == X.shape[1] else "")
        )
    if b.shape != (W.shape[0],):  # (the message is worth building only when it is shown)
        require_shape(b, (W.shape[0],), "b", f"one bias per row of W, W has shape {W.shape}")
    return X, W, b
