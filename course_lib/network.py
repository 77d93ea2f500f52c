r"""A multi-layer perceptron built from dense layers.

With L = len(sizes) - 1 layers, layer i computes
:math:`H_i = f(H_{i-1} W_i^\top + b_i)` for i < L and the last layer is linear:
:math:`\mathrm{logits} = H_{L-1} W_L^\top + b_L`. So the network is
:math:`f_{out} \circ f_{L-1} \circ \dots \circ f_1` with :math:`f_{out}` the identity.
"""

from __future__ import annotations

import numpy as np

from . import layers
from ._validate import as_float, require_ndim
from .activations import ACTIVATIONS
from .layers import he_init, xavier_init

__all__ = ["MLP"]

# ReLU-like units zero (or nearly) half their inputs: He's factor 2 makes up for it.
_INITS = {"he": he_init, "xavier": xavier_init}
_DEFAULT_INIT = {"relu": "he", "elu": "he", "softplus": "he", "tanh": "xavier", "sigmoid": "xavier"}


class MLP:
    r"""Multi-layer perceptron with one activation for every hidden layer.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths ``[m_0, m_1, …, m_L]``: ``m_0`` inputs (D), ``m_L`` outputs (C).
    activation : str, default "relu"
        One of ``"relu", "sigmoid", "tanh", "softplus", "elu"``.
    seed : int, default 0
        Seed of the weight initialisation: the same seed gives the same network.
    init : {"auto", "he", "xavier"}, default "auto"
        Weight initialisation; "auto" is He for ReLU-like units and Xavier for
        tanh and sigmoid. Biases start at 0.

    Attributes
    ----------
    params : dict of str -> ndarray
        ``W1`` of shape (m_1, m_0), ``b1`` of shape (m_1,), ``W2``, ``b2``, …
    """

    def __init__(self, sizes, activation="relu", seed=0, init="auto"):
        sizes = [int(m) for m in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(
                f"sizes must list at least two positive widths, like [64, 128, 10]; got {sizes}"
            )
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(ACTIVATIONS)}; got {activation!r}"
            )
        if init == "auto":
            init = _DEFAULT_INIT[activation]
        if init not in _INITS:
            raise ValueError(f"init must be 'auto', 'he' or 'xavier'; got {init!r}")
        self.sizes = sizes
        self.activation = activation
        self.seed = seed
        self.init = init
        self._f, self._f_grad = ACTIVATIONS[activation]
        rng = np.random.default_rng(seed)
        self.params = {}
        for i, (m_in, m_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
            self.params[f"W{i}"] = _INITS[init](m_in, m_out, rng)
            self.params[f"b{i}"] = np.zeros(m_out)
        self._caches = None

    @property
    def n_layers(self) -> int:
        """Number of dense layers L (hidden layers plus the output layer)."""
        return len(self.sizes) - 1

    @property
    def n_params(self) -> int:
        r"""Number of trainable numbers: :math:`\sum_i m_i (m_{i-1} + 1)`."""
        return sum(p.size for p in self.params.values())

    def forward(self, X):
        """Logits of a batch, remembering what :meth:`backward` needs.

        Parameters
        ----------
        X : array_like, shape (N, D) with D = sizes[0]

        Returns
        -------
        logits : ndarray, shape (N, C) with C = sizes[-1]
        """
        logits, self._caches = self._forward(X, keep=True)
        return logits

    def backward(self, dout):
        r"""Gradients of the loss with respect to every parameter.

        Parameters
        ----------
        dout : array_like, shape (N, C)
            :math:`\partial L / \partial \mathrm{logits}` for the batch of the
            last :meth:`forward` call.

        Returns
        -------
        grads : dict of str -> ndarray
            The keys of ``params``, each gradient of its parameter's shape.
        """
        if self._caches is None:
            raise RuntimeError("call forward(X) before backward(dout)")
        dout = as_float(dout, "dout")
        n = self._caches[0][0][0].shape[0]
        if dout.shape != (n, self.sizes[-1]):
            raise ValueError(
                f"dout must have the shape of the last logits, ({n}, {self.sizes[-1]}); "
                f"got shape {dout.shape}"
            )
        grads = dict.fromkeys(self.params)  # keeps the order W1, b1, W2, b2, …
        dZ = dout
        for i in range(self.n_layers, 0, -1):
            cache, Z_prev = self._caches[i - 1]
            dH, grads[f"W{i}"], grads[f"b{i}"] = layers._backward(dZ, cache, need_dX=i > 1)
            if i > 1:
                dZ = dH * self._f_grad(Z_prev)  # back through the activation of layer i-1
        return grads

    def predict(self, X):
        """Class ids, the arg-max of the logits; leaves the cache of forward alone.

        Returns
        -------
        ndarray of int, shape (N,)
        """
        logits, _ = self._forward(X, keep=False)
        return logits.argmax(axis=1)

    def _forward(self, X, keep):
        X = as_float(X, "X")
        require_ndim(X, 2, "X", f"(N, {self.sizes[0]}), one sample per row")
        if X.shape[1] != self.sizes[0]:
            raise ValueError(
                f"this MLP takes {self.sizes[0]} features (sizes[0]): X must have shape "
                f"(N, {self.sizes[0]}); got shape {X.shape}"
            )
        caches = []  # layer i: (its dense cache, Z_{i-1} whose activation is its input)
        H, Z_prev = X, None
        for i in range(1, self.n_layers + 1):
            Z, cache = layers._forward(H, self.params[f"W{i}"], self.params[f"b{i}"])
            caches.append((cache, Z_prev))
            if i < self.n_layers:
                H, Z_prev = self._f(Z), Z
        return Z, (caches if keep else None)

    def __repr__(self):
        return f"MLP(sizes={self.sizes}, activation={self.activation!r}, seed={self.seed})"
