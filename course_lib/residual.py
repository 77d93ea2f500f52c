r"""Deep networks: vanishing and exploding gradients, and the residual block that fixes them.

A plain deep network computes :math:`H_i = f(H_{i-1} W_i^\top + b_i)` layer after layer.
Backpropagation multiplies the gradient, once per layer, by :math:`f'(Z_i)` and by
:math:`W_i`: over many layers that product shrinks to nothing (a sigmoid's slope is at most
1/4) or grows without bound (weights too large), so the first layers barely learn or blow up.

A residual block adds its input back to its output,

.. math:: H_i = H_{i-1} + f(H_{i-1} W_i^\top + b_i),
          \qquad \frac{\partial H_i}{\partial H_{i-1}} = I + \operatorname{diag}(f'(Z_i))\, W_i,

so the gradient reaching :math:`H_{i-1}` is the gradient of :math:`H_i` itself, the identity
path, plus what goes through the branch: it cannot vanish however small the branch's part is
(He et al., 2016, "Identity mappings in deep residual networks").

The deep network here is an input layer D → m, then L blocks m → m (plain layers or residual
blocks), then a linear output layer m → C: layers 1, …, L + 2, keyed ``W1, b1, …`` in that
order, layer i computing from :math:`H_{i-1}` with :math:`W_i` of shape (m_i, m_{i-1}), on a
batch ``H @ W.T + b``. Shapes: N samples, D inputs, m units per layer (the width), C classes.
"""

from __future__ import annotations

import numpy as np

from ._validate import as_float, require_ndim, require_shape
from .gradcheck import numerical_gradient, relative_error
from .layers import activation_backward, dense_backward, dense_forward
from .losses import cross_entropy, cross_entropy_grad
from .network import _INITS, _activation, _count_layers

__all__ = [
    "residual_forward",
    "residual_backward",
    "deep_forward",
    "deep_backward",
    "layer_gradient_norms",
    "deep_gradient_check",
    "deep_init",
    "ResMLP",
]


def residual_forward(H, W, b, activation="relu"):
    r"""A residual block: :math:`\mathrm{out} = H + f(H W^\top + b)`.

    The branch is a dense layer and its activation; the skip adds the block's input to the
    branch's output, after the activation and with nothing after the sum. So with
    :math:`W = 0` and :math:`b = 0` the block is exactly the identity for every activation
    with :math:`f(0) = 0` (ReLU, tanh, ELU); a sigmoid's branch is then the constant 1/2.

    Parameters
    ----------
    H : array_like, shape (N, m)
        The block's input.
    W : array_like, shape (m, m)
        Square: the block keeps the width, so that H and the branch can be added.
    b : array_like, shape (m,)
    activation : str, default "relu"
        A key of :data:`course_lib.activations.ACTIVATIONS`.

    Returns
    -------
    out : ndarray, shape (N, m)
    cache : tuple ((H, W), Z)
        The dense layer's cache and the pre-activation :math:`Z = H W^\top + b`: what
        :func:`residual_backward` needs, in the form of an MLP layer's cache.
    """
    f = _activation(activation)[0]
    H, W = as_float(H, "H"), as_float(W, "W")
    require_ndim(H, 2, "H", "(N, m), one sample per row")
    m = H.shape[1]
    if W.shape != (m, m):
        raise ValueError(f"W must be square, of shape ({m}, {m}), for H of shape {H.shape}: the "
                         f"block adds H to its branch, so the branch must keep the width {m}; "
                         f"got W of shape {W.shape}")
    Z, dense_cache = dense_forward(H, W, b)  # (N, m)
    out = H + f(Z)  # the identity path plus the branch
    return out, (dense_cache, Z)


def residual_backward(dout, cache, activation="relu"):
    r"""Gradients through a residual block :math:`\mathrm{out} = H + f(Z)`, :math:`Z = H W^\top + b`.

    The sum sends ``dout`` down both paths. The branch is backpropagated as in an MLP,
    :math:`dZ = dout \odot f'(Z)` (the derivative at the pre-activation Z, never at the
    output), then through the dense layer; the identity path adds ``dout`` itself:

    .. math:: dH = dout + dZ\, W, \qquad dW = dZ^\top H, \qquad db = \textstyle\sum_n dZ_{n,:}.

    Parameters
    ----------
    dout : array_like, shape (N, m)
        Gradient of the loss with respect to the block's output.
    cache : tuple ((H, W), Z)
        As returned by :func:`residual_forward`.
    activation : str, default "relu"
        The activation the forward pass used.

    Returns
    -------
    dH : ndarray, shape (N, m)
    dW : ndarray, shape (m, m)
    db : ndarray, shape (m,)
    """
    dense_cache, Z = cache
    dZ = activation_backward(dout, Z, activation)  # through f, at its input Z
    dH_branch, dW, db = dense_backward(dZ, dense_cache)
    dH = dout + dH_branch  # the identity path carries dout through unchanged
    return dH, dW, db


def deep_forward(X, params, activation="relu", residual=False):
    r"""Forward pass of a deep network: an input layer, L blocks, a linear output layer.

    With :math:`H_0 = X` and n = L + 2 layers:

    - layer 1, the input layer D → m: :math:`H_1 = f(X W_1^\top + b_1)`;
    - layers 2, …, n - 1, the blocks m → m: :math:`H_i = f(H_{i-1} W_i^\top + b_i)` when
      plain, :math:`H_i = H_{i-1} + f(H_{i-1} W_i^\top + b_i)` when residual
      (:func:`residual_forward`);
    - layer n, the output layer m → C: :math:`\mathrm{logits} = H_{n-1} W_n^\top + b_n`.

    Parameters
    ----------
    X : array_like, shape (N, D)
    params : dict of str -> ndarray
        ``W1`` of shape (m, D), ``b1`` of shape (m,), then ``W2, b2, …`` of shapes (m, m) and
        (m,) for the blocks, and the output layer's ``Wn`` of shape (C, m), ``bn``. At least
        the input and the output layer (L = 0 blocks).
    activation : str, default "relu"
        A key of :data:`course_lib.activations.ACTIVATIONS`, for every layer but the output.
    residual : bool, default False
        Residual blocks (True) or plain layers (False).

    Returns
    -------
    logits : ndarray, shape (N, C)
    caches : list of n tuples ``((H_{i-1}, W_i), Z_i)``
        Layer i's dense cache and its pre-activation, for a block as for a plain layer:
        :func:`deep_backward` needs ``residual`` to tell them apart.
    """
    f = _activation(activation)[0]
    X = as_float(X, "X")
    require_ndim(X, 2, "X", "(N, D), one sample per row")
    n_layers = _check_deep(X, params, residual)
    H, caches = X, []
    for i in range(1, n_layers + 1):
        W, b = params[f"W{i}"], params[f"b{i}"]
        if residual and 1 < i < n_layers:  # a block: H + f(H W^T + b)
            H, cache = residual_forward(H, W, b, activation)
        else:  # the input layer, a plain block, or the linear output layer
            Z, dense_cache = dense_forward(H, W, b)  # (N, m_i)
            cache = (dense_cache, Z)
            H = Z if i == n_layers else f(Z)
        caches.append(cache)
    return H, caches


def deep_backward(dlogits, caches, activation="relu", residual=False):
    r"""Backward pass of :func:`deep_forward`: the gradient of the loss for every parameter.

    From the output layer down: the output layer is linear, so
    :func:`~course_lib.layers.dense_backward` takes ``dlogits`` itself. Each block below it
    turns :math:`dH_i` into :math:`dH_{i-1}`: a residual block by :func:`residual_backward`
    (``dH`` plus the branch), a plain layer and the input layer by
    :math:`dZ_i = dH_i \odot f'(Z_i)` and then the dense layer.

    Parameters
    ----------
    dlogits : array_like, shape (N, C)
        :math:`\partial L / \partial \mathrm{logits}`.
    caches : list
        As returned by :func:`deep_forward`.
    activation : str, default "relu"
        The activation the forward pass used.
    residual : bool, default False
        Whether the forward pass had residual blocks.

    Returns
    -------
    grads : dict of str -> ndarray
        ``W1, b1, …, Wn, bn`` in that order, each of its parameter's shape.
    """
    _activation(activation)
    dlogits = as_float(dlogits, "dlogits")
    if len(caches) < 2:
        raise ValueError(f"caches must hold at least 2 layers (the input and the output layer), "
                         f"as deep_forward returns them; got {len(caches)}")
    n_layers = len(caches)
    require_shape(dlogits, caches[-1][1].shape, "dlogits", "the shape of the logits")
    grads = {}
    for i in range(1, n_layers + 1):
        grads[f"W{i}"] = grads[f"b{i}"] = None  # fixes the order W1, b1, W2, b2, …
    dH, grads[f"W{n_layers}"], grads[f"b{n_layers}"] = dense_backward(dlogits, caches[-1][0])
    for i in range(n_layers - 1, 0, -1):
        if residual and i > 1:  # a block: the identity path plus the branch
            dH, grads[f"W{i}"], grads[f"b{i}"] = residual_backward(dH, caches[i - 1], activation)
        else:  # a plain layer: through f at its pre-activation Z_i, then the dense layer
            dense_cache, Z = caches[i - 1]
            dZ = activation_backward(dH, Z, activation)
            dH, grads[f"W{i}"], grads[f"b{i}"] = dense_backward(dZ, dense_cache)
    return grads


def layer_gradient_norms(grads):
    r"""The norm of each weight gradient, :math:`\lVert dW_i \rVert`, from the input layer to the output.

    The Frobenius norm, :math:`\sqrt{\sum_{j,k} (dW_i)_{jk}^2}` (``np.linalg.norm`` of the
    matrix). Biases are left out, as in notebook 04's plot: the curve compares one weight
    matrix per layer, and a norm over :math:`dW_i` and :math:`db_i` together would mix in a
    vector of another size and meaning.

    Parameters
    ----------
    grads : dict of str -> ndarray
        Keyed ``W1, b1, …, Wn, bn``, as from :func:`deep_backward`.

    Returns
    -------
    ndarray, shape (n,)
        Entry i - 1 is :math:`\lVert dW_i \rVert`: W1 first, W10 after W9.
    """
    n_layers = _count_layers(grads)
    return np.array([np.linalg.norm(as_float(grads[f"W{i}"], f"W{i}"))
                     for i in range(1, n_layers + 1)])


def deep_gradient_check(params, X, y, activation="relu", residual=False, h=1e-5):
    r"""Check :func:`deep_backward` against central differences, parameter by parameter.

    Notebook 04's gradient check on a deep network: the loss is the softmax cross-entropy
    of :func:`deep_forward`'s logits; each gradient of :func:`deep_backward` is compared
    with :func:`~course_lib.gradcheck.numerical_gradient` of that loss with respect to the
    parameter, which is perturbed in place and restored.

    Parameters
    ----------
    params : dict of str -> ndarray of float64
        As for :func:`deep_forward`; perturbed while the check runs and restored exactly.
    X : array_like, shape (N, D)
    y : array_like of int, shape (N,)
    activation : str, default "relu"
    residual : bool, default False
    h : float, default 1e-5

    Returns
    -------
    errors : dict of str -> float
        :func:`~course_lib.gradcheck.relative_error` of the analytic and the numerical
        gradient, keyed ``W1, b1, …``: below about 1e-7 when the backward pass is right.
    """
    logits, caches = deep_forward(X, params, activation, residual)
    grads = deep_backward(cross_entropy_grad(logits, y), caches, activation, residual)

    def loss(_):
        # reads params, whose entry numerical_gradient is perturbing in place
        return cross_entropy(deep_forward(X, params, activation, residual)[0], y)

    return {key: relative_error(grads[key], numerical_gradient(loss, params[key], h))
            for key in grads}


def deep_init(D, width, depth, C, activation="relu", residual=False, seed=0):
    r"""The parameters of a deep network at initialisation: ``W1, b1, …`` for :func:`deep_forward`.

    Every weight matrix is drawn from the activation's own initialisation
    (``ACTIVATIONS[activation].init``: He, :math:`\mathcal{N}(0, 2/m_{i-1})`, for ReLU-like
    units; Xavier, :math:`\mathcal{N}(0, 2/(m_{i-1} + m_i))`, for tanh and sigmoid), layer
    after layer from one generator, as :class:`~course_lib.network.MLP` draws them; biases
    are 0. With ``residual=True`` each block's weights are then divided by L, the number
    of blocks, so that the branches start small.

    Why: a block adds :math:`f(H W^\top + b)` to what passes through it, and at full scale
    the variance of H grows at every block (ReLU: about 2.7 times per block,
    :math:`4 \cdot 10^8` times after 20 blocks on the digits). Where
    :math:`|f(z)| \le |z|` (ReLU, tanh, ELU), a block scaled by 1/L changes the size of H
    by a factor of at most :math:`1 + s/L`, s the spectral norm of the unscaled W, so by
    at most :math:`(1 + s/L)^L < e^s` after L blocks, whatever the depth (measured: 1.1
    times after 20 ReLU blocks). :math:`1/\sqrt{L}` is enough only when the branches have
    mean 0, so that their variances add up: ReLU's outputs are never negative, their means
    add up, and the variance still grows 18 times after 20 blocks. A sigmoid's branch adds
    about 1/2 per block at any scale, as :math:`\sigma(0) = 1/2`.

    Parameters
    ----------
    D, width, depth, C : int
        Inputs, units per hidden layer (m), number of blocks L >= 0, classes.
    activation : str, default "relu"
        A key of :data:`course_lib.activations.ACTIVATIONS`: it picks the initialisation.
    residual : bool, default False
    seed : int, default 0

    Returns
    -------
    params : dict of str -> ndarray
        ``W1`` of shape (width, D), ``b1`` of shape (width,), ``W2 … W{L+1}`` of shape
        (width, width), ``W{L+2}`` of shape (C, width), each with its bias.
    """
    D, width, depth, C = _check_sizes(D, width, depth, C)
    init = _INITS[_activation(activation).init]
    sizes = [D] + [width] * (depth + 1) + [C]
    n_layers = depth + 2
    rng = np.random.default_rng(seed)
    params = {}
    for i, (m_in, m_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        params[f"W{i}"] = init(m_in, m_out, rng)  # (m_out, m_in)
        params[f"b{i}"] = np.zeros(m_out)
        if residual and 1 < i < n_layers:
            params[f"W{i}"] /= depth  # the branch starts small
    return params


class ResMLP:
    r"""A deep network of equal-width blocks, residual or plain, trainable with :func:`~course_lib.train.fit`.

    An input layer D → width, ``depth`` blocks width → width, and a linear output layer
    width → C (:func:`deep_forward`): ``depth + 2`` layers.

    Parameters
    ----------
    D : int
        Number of inputs.
    width : int
        Units of every hidden layer (m).
    depth : int, >= 0
        Number of blocks L.
    C : int
        Number of classes.
    activation : str, default "relu"
        A key of :data:`course_lib.activations.ACTIVATIONS`.
    residual : bool, default True
        Residual blocks :math:`H + f(H W^\top + b)`, or plain layers.
    seed : int, default 0
        Seed of the initialisation, :func:`deep_init`'s: the activation's own, and a
        residual block's weights divided by the depth. Biases start at 0.

    Attributes
    ----------
    params : dict of str -> ndarray
        ``W1`` of shape (width, D), ``b1``, …, ``W{depth+2}`` of shape (C, width), ``b{depth+2}``.
    """

    def __init__(self, D, width, depth, C, activation="relu", residual=True, seed=0):
        D, width, depth, C = _check_sizes(D, width, depth, C)
        self.sizes = [D] + [width] * (depth + 1) + [C]
        self.depth = depth
        self.activation = activation
        self.residual = bool(residual)
        self.seed = seed
        self.params = deep_init(D, width, depth, C, activation, self.residual, seed)
        self._caches = None

    @property
    def n_layers(self) -> int:
        """Number of dense layers: the input layer, the blocks and the output layer."""
        return self.depth + 2

    def forward(self, X):
        """Logits (N, C) of a batch X (N, D), remembering what :meth:`backward` needs."""
        logits, self._caches = deep_forward(self._check_input(X), self.params,
                                            self.activation, self.residual)
        return logits

    def backward(self, dout):
        r"""Gradients keyed like ``params``, from ``dout`` (N, C), the loss's gradient with
        respect to the logits of the last :meth:`forward` call."""
        if self._caches is None:
            raise RuntimeError("call forward(X) before backward(dout)")
        return deep_backward(dout, self._caches, self.activation, self.residual)

    def predict(self, X):
        """Class ids (N,), the arg-max of the logits; leaves the cache of forward alone."""
        logits, _ = deep_forward(self._check_input(X), self.params, self.activation,
                                 self.residual)
        return logits.argmax(axis=1)

    def _check_input(self, X):
        X = as_float(X, "X")
        require_ndim(X, 2, "X", f"(N, {self.sizes[0]}), one sample per row")
        require_shape(X, (X.shape[0], self.sizes[0]), "X",
                      f"this network takes {self.sizes[0]} features")
        return X

    def __repr__(self):
        return (f"ResMLP(D={self.sizes[0]}, width={self.sizes[1]}, depth={self.depth}, "
                f"C={self.sizes[-1]}, activation={self.activation!r}, "
                f"residual={self.residual}, seed={self.seed})")


def _check_sizes(D, width, depth, C):
    D, width, depth, C = int(D), int(width), int(depth), int(C)
    if min(D, width, C) < 1 or depth < 0:
        raise ValueError(f"D, width and C must be >= 1 and depth >= 0; got D={D}, "
                         f"width={width}, depth={depth}, C={C}")
    return D, width, depth, C


def _check_deep(X, params, residual):
    """The number of layers n >= 2, once every W_i and b_i fits the layer before it.

    Each wrong shape is named by its key, with the shape it must have and why. Written here,
    not borrowed from notebook 02's MLP: a grading kernel of 02 withholds MLP's own checks,
    and a reference of a later notebook that called them would hand them back.
    """
    n_layers = _count_layers(params)
    if n_layers < 2:
        raise ValueError(f"params must hold at least an input and an output layer (W1, b1, W2, "
                         f"b2): the deep network is input layer, blocks, output layer; got "
                         f"{sorted(params)}")
    width = X.shape[1]
    for i in range(1, n_layers + 1):
        W, b = np.shape(params[f"W{i}"]), np.shape(params[f"b{i}"])
        block = residual and 1 < i < n_layers
        rows = width if block else (b[0] if len(b) == 1 else (W[0] if W else "m"))
        source = f"X has {width} features" if i == 1 else f"layer {i - 1} has {width} units"
        if block and W != (width, width):
            raise ValueError(f"W{i} must be square, of shape ({width}, {width}): layer {i} is a "
                             f"residual block, which adds its input to its output, and {source}; "
                             f"got shape {W}")
        if len(W) != 2 or W[1] != width:
            raise ValueError(f"W{i} must have shape ({rows}, {width}) because {source}; got "
                             f"shape {W}" + (f": did you pass W{i}.T?" if W == (width, rows)
                                             else ""))
        if b != W[:1]:
            raise ValueError(f"b{i} must have shape ({W[0]},), one bias per row of W{i}; got "
                             f"shape {b}")
        width = W[0]
    return n_layers
