r"""A multi-layer perceptron built from dense layers.

With L = len(sizes) - 1 layers, layer i computes
:math:`H_i = f(H_{i-1} W_i^\top + b_i)` for i < L and the last layer is linear:
:math:`\mathrm{logits} = H_{L-1} W_L^\top + b_L`. So the network is
:math:`f_{out} \circ f_{L-1} \circ \dots \circ f_1` with :math:`f_{out}` the identity.
"""

from __future__ import annotations

import numpy as np

from ._validate import as_float, require_ndim
from .activations import ACTIVATIONS
from .layers import activation_backward, dense_backward, dense_forward, he_init, xavier_init

__all__ = ["MLP", "mlp_forward", "mlp_backward"]

# ReLU-like units zero (or nearly) half their inputs: He's factor 2 makes up for it.
_INITS = {"he": he_init, "xavier": xavier_init}


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
        Weight initialisation; "auto" is the activation's, ``ACTIVATIONS[activation].init``:
        He for ReLU-like units and Xavier for tanh and sigmoid. Biases start at 0.
    dropout : float in [0, 1), default 0.0
        The probability of DROPPING each hidden unit in train mode (inverted dropout,
        :func:`course_lib.regularization.dropout_forward`, after every hidden
        activation; never on the input or the logits). The masks are drawn from the
        generator of the initialisation, continued: the same seed, the same masks.

    Attributes
    ----------
    params : dict of str -> ndarray
        ``W1`` of shape (m_1, m_0), ``b1`` of shape (m_1,), ``W2``, ``b2``, …
    """

    def __init__(self, sizes, activation="relu", seed=0, init="auto", dropout=0.0):
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
            init = ACTIVATIONS[activation].init
        if init not in _INITS:
            raise ValueError(f"init must be 'auto', 'he' or 'xavier'; got {init!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout is the probability of dropping a unit, in [0, 1); "
                             f"got {dropout!r}")
        self.sizes = sizes
        self.activation = activation
        self.seed = seed
        self.init = init
        self.dropout = float(dropout)
        rng = np.random.default_rng(seed)
        self.params = {}
        for i, (m_in, m_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
            self.params[f"W{i}"] = _INITS[init](m_in, m_out, rng)
            self.params[f"b{i}"] = np.zeros(m_out)
        self._rng = rng  # continued: it draws the dropout masks
        self._caches = None
        self._masks = None  # one per hidden layer, from the last forward in train mode

    @property
    def n_layers(self) -> int:
        """Number of dense layers L (hidden layers plus the output layer)."""
        return len(self.sizes) - 1

    @property
    def n_params(self) -> int:
        r"""Number of trainable numbers: :math:`\sum_i m_i (m_{i-1} + 1)`."""
        return sum(p.size for p in self.params.values())

    def forward(self, X, train=True):
        """Logits of a batch, remembering what :meth:`backward` needs.

        Parameters
        ----------
        X : array_like, shape (N, D) with D = sizes[0]
        train : bool, default True
            Train mode: dropout on (when ``dropout > 0``), a new mask each call.
            Eval mode (False): no dropout, so the same X always gives the same logits.

        Returns
        -------
        logits : ndarray, shape (N, C) with C = sizes[-1]
        """
        X = self._check_input(X)
        self._masks = None
        if not train or self.dropout == 0.0:
            logits, self._caches = mlp_forward(X, self.params, self.activation)
            return logits
        # mlp_forward with a dropout after each hidden activation
        from .regularization import dropout_forward  # here: regularization imports this module

        f = _activation(self.activation)[0]
        H, self._caches, self._masks = X, [], []
        for i in range(1, self.n_layers + 1):
            Z, cache = dense_forward(H, self.params[f"W{i}"], self.params[f"b{i}"])  # (N, m_i)
            self._caches.append((cache, Z))
            if i < self.n_layers:
                H, mask = dropout_forward(f(Z), self.dropout, self._rng)
                self._masks.append(mask)
        return Z

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
        if self._masks is None:
            return mlp_backward(dout, self._caches, self.activation)
        # mlp_backward through the masks of the forward pass
        from .regularization import dropout_backward

        grads = {}
        dZ = as_float(dout, "dout")
        for i in range(self.n_layers, 0, -1):
            cache, _ = self._caches[i - 1]
            dH, grads[f"W{i}"], grads[f"b{i}"] = dense_backward(dZ, cache)
            if i > 1:
                dH = dropout_backward(dH, self._masks[i - 2])
                dZ = activation_backward(dH, self._caches[i - 2][1], self.activation)
        return {key: grads[key] for key in self.params}

    def predict(self, X):
        """Class ids, the arg-max of the logits in eval mode (no dropout); leaves the cache
        of forward alone.

        Returns
        -------
        ndarray of int, shape (N,)
        """
        logits, _ = mlp_forward(self._check_input(X), self.params, self.activation)
        return logits.argmax(axis=1)

    def _check_input(self, X):
        X = as_float(X, "X")
        require_ndim(X, 2, "X", f"(N, {self.sizes[0]}), one sample per row")
        if X.shape[1] != self.sizes[0]:
            raise ValueError(
                f"this MLP takes {self.sizes[0]} features (sizes[0]): X must have shape "
                f"(N, {self.sizes[0]}); got shape {X.shape}"
            )
        return X

    def __repr__(self):
        extra = f", dropout={self.dropout}" if self.dropout else ""
        return f"MLP(sizes={self.sizes}, activation={self.activation!r}, seed={self.seed}{extra})"


def mlp_forward(X, params, activation="relu"):
    r"""Forward pass of an MLP given by its parameters: logits and what backward needs.

    For i = 1, …, L: :math:`Z_i = H_{i-1} W_i^\top + b_i` with :math:`H_0 = X`,
    and :math:`H_i = f(Z_i)` for the hidden layers i < L; the last layer is
    linear, so the output is :math:`Z_L`, the logits.

    Parameters
    ----------
    X : array_like, shape (N, D)
    params : dict of str -> ndarray
        ``W1`` of shape (m_1, D), ``b1`` of shape (m_1,), …, ``WL``, ``bL``.
    activation : str, default "relu"
        The hidden layers' activation, a key of :data:`course_lib.activations.ACTIVATIONS`.

    Returns
    -------
    logits : ndarray, shape (N, m_L)
    caches : list of L tuples ``((H_{i-1}, W_i), Z_i)``
        Layer i's dense cache (as from :func:`~course_lib.layers.dense_forward`)
        and its pre-activation output.
    """
    f = _activation(activation)[0]
    _check_params(X, params)
    n_layers = len(params) // 2
    H, caches = X, []
    for i in range(1, n_layers + 1):
        Z, cache = dense_forward(H, params[f"W{i}"], params[f"b{i}"])  # (N, m_i)
        caches.append((cache, Z))
        if i < n_layers:  # hidden layers only: the output layer is linear
            H = f(Z)
    return Z, caches


def mlp_backward(dlogits, caches, activation="relu"):
    r"""Backward pass of an MLP: the gradient of the loss for every parameter.

    Going from the last layer to the first, with :math:`dZ_L = \partial L/\partial \mathrm{logits}`:
    :func:`~course_lib.layers.dense_backward` gives :math:`dH_{i-1}`,
    :math:`dW_i` and :math:`db_i` from :math:`dZ_i`, and for the hidden layers
    :math:`dZ_{i-1} = dH_{i-1} \odot f'(Z_{i-1})`.

    Parameters
    ----------
    dlogits : array_like, shape (N, m_L)
    caches : list
        As returned by :func:`mlp_forward`.
    activation : str, default "relu"
        The activation the forward pass used.

    Returns
    -------
    grads : dict of str -> ndarray
        ``W1, b1, …, WL, bL``, each of its parameter's shape.
    """
    _activation(activation)
    dlogits = as_float(dlogits, "dlogits")
    if not caches:
        raise ValueError("caches is empty: pass the caches that mlp_forward returned")
    _, Z_last = caches[-1]
    if dlogits.shape != Z_last.shape:
        raise ValueError(f"dlogits must have the shape of the logits, {Z_last.shape}; "
                         f"got {dlogits.shape}")
    n_layers = len(caches)
    grads = {}
    for i in range(1, n_layers + 1):
        grads[f"W{i}"] = grads[f"b{i}"] = None  # fixes the order W1, b1, W2, b2, …
    dZ = dlogits  # the last layer is linear
    for i in range(n_layers, 0, -1):
        cache, _ = caches[i - 1]
        dH, grads[f"W{i}"], grads[f"b{i}"] = dense_backward(dZ, cache)
        if i > 1:
            dZ = activation_backward(dH, caches[i - 2][1], activation)  # at Z_{i-1}
    return grads


def _activation(name):
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}; got {name!r}")
    return ACTIVATIONS[name]


def _check_params(X, params):
    """Raise unless the keys are W1, b1, …, WL, bL and each layer's shapes fit the one before.

    dense_forward checks each layer too, but it cannot say which layer; here a wrong
    shape is named by its key and by the layer before it ("W2 must have shape (6, 3)
    because W1 has 3 rows"). Only shapes are read: dense_forward converts the arrays.
    """
    n_layers = _count_layers(params)
    width_in = np.shape(X)[-1] if np.ndim(X) else None
    for i in range(1, n_layers + 1):
        W_shape, b_shape = np.shape(params[f"W{i}"]), np.shape(params[f"b{i}"])
        if len(W_shape) != 2:
            raise ValueError(f"W{i} must be 2-D with shape (m_i, m_{{i-1}}); got shape {W_shape}")
        if width_in is not None and W_shape[1] != width_in:
            source = f"X has {width_in} features" if i == 1 else f"W{i - 1} has {width_in} rows"
            rows = b_shape[0] if len(b_shape) == 1 else W_shape[0]  # b{i} knows the layer's width
            hint = f": did you pass W{i}.T?" if W_shape == (width_in, rows) else ""
            raise ValueError(f"W{i} must have shape ({rows}, {width_in}) because {source}; "
                             f"got {W_shape}{hint}")
        if b_shape != (W_shape[0],):
            raise ValueError(f"b{i} must have shape ({W_shape[0]},), one bias per row of W{i}; "
                             f"got {b_shape}")
        width_in = W_shape[0]


def _count_layers(params):
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict keyed 'W1', 'b1', …; got {type(params).__name__}")
    n_layers = len(params) // 2
    if n_layers == 0 or len(params) % 2 or any(
            f"W{i}" not in params or f"b{i}" not in params for i in range(1, n_layers + 1)):
        raise ValueError(f"params must have the keys W1, b1, …, W{n_layers}, b{n_layers}; "
                         f"got {sorted(params)}")
    return n_layers
