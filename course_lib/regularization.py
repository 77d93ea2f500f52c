r"""Regularization and generalization: input scaling, dropout, the L2 penalty, early stopping and tuning.

A network that fits its training set perfectly may still do badly on new data. The
regularized objective trades the fit for smaller weights:

.. math:: \frac{1}{N}\sum_{n} L(y_n, f(x_n; W)) + \lambda J(W), \qquad
          J(W) = \frac{1}{2}\sum_k \lVert W_k \rVert^2

on the weight matrices only (not the biases), so :math:`\partial J / \partial W_k = W_k`
and a gradient step is :math:`W \leftarrow W - \alpha(\Delta W + \lambda W)`.
Dropout zeroes each hidden unit with probability ``p_drop`` (the probability of
DROPPING a unit, PyTorch's convention; CS231n's p is the probability of keeping it).
Shapes: N samples, D inputs, H hidden units, C classes.
"""

from __future__ import annotations

import copy

import numpy as np

from ._validate import as_float, require_ndim
from .layers import activation_backward, dense_backward, dense_forward
from .losses import cross_entropy, cross_entropy_grad, l2_penalty
from .network import _activation, _count_layers

__all__ = [
    "standardize",
    "dropout_forward",
    "dropout_backward",
    "regularized_loss_and_grads",
    "EarlyStopping",
    "sample_log_uniform",
    "random_search",
    "CONSTANT_STD",
]

#: A training feature whose standard deviation is below this is constant: a column of
#: equal numbers has a computed std of about 1e-15, not 0, so ``std == 0`` misses it.
CONSTANT_STD = 1e-8


def standardize(X_train, X_test):
    r"""Scale every feature to mean 0 and standard deviation 1, with the training set's statistics.

    :math:`x' = (x - \mu) / \sigma`, with :math:`\mu` and :math:`\sigma` (the population
    standard deviation, ``ddof=0``) of each column of ``X_train``. The test set is
    scaled with the same :math:`\mu` and :math:`\sigma`: it is new data, which the
    training never sees. A feature that is constant in training (std below
    :data:`CONSTANT_STD`) is only centred: its divisor is 1, never 0.

    Parameters
    ----------
    X_train : array_like, shape (N, D)
    X_test : array_like, shape (M, D)

    Returns
    -------
    X_train_s : ndarray, shape (N, D)
    X_test_s : ndarray, shape (M, D)
    mean : ndarray, shape (D,)
        The training set's mean of each feature.
    std : ndarray, shape (D,)
        The divisor of each feature: the training set's std, or 1 where that is below
        :data:`CONSTANT_STD`. So ``X_test_s == (X_test - mean) / std``.
    """
    X_train, X_test = as_float(X_train, "X_train"), as_float(X_test, "X_test")
    require_ndim(X_train, 2, "X_train", "(N, D), one sample per row")
    require_ndim(X_test, 2, "X_test", "(M, D), one sample per row")
    if X_test.shape[1] != X_train.shape[1]:
        raise ValueError(f"X_test must have the {X_train.shape[1]} features of X_train; "
                         f"got X_train of shape {X_train.shape} and X_test of shape {X_test.shape}")
    mean = X_train.mean(axis=0)  # (D,): per feature, over the training samples only
    std = X_train.std(axis=0)  # (D,)
    std = np.where(std < CONSTANT_STD, 1.0, std)  # a constant feature is only centred
    return (X_train - mean) / std, (X_test - mean) / std, mean, std


def dropout_forward(X, p_drop, rng, train=True):
    r"""Inverted dropout: zero each entry with probability ``p_drop`` and scale the rest by :math:`1/(1 - p)`.

    In train mode one uniform number is drawn per entry, ``u = rng.random(X.shape)``,
    and the entry is kept where :math:`u \ge p`. The mask holds 0 or :math:`1/(1-p)`,
    so :math:`\mathbb{E}[\mathrm{mask}] = 1` and the expected output is X: nothing needs
    to change at test time. In eval mode (``train=False``) X passes unchanged, the mask
    is None, and nothing is drawn from ``rng``.

    Parameters
    ----------
    X : array_like, any shape, e.g. (N, H)
        A layer's activations.
    p_drop : float in [0, 1)
        The probability of DROPPING an entry (not of keeping it).
    rng : numpy.random.Generator
        The source of the mask; not used in eval mode.
    train : bool, default True

    Returns
    -------
    out : ndarray, the shape of X
        ``X * mask`` in train mode, X in eval mode.
    mask : ndarray of the shape of X, or None
        0 or ``1 / (1 - p_drop)`` per entry; None in eval mode.
    """
    X = as_float(X, "X")
    p_drop = _check_p_drop(p_drop)
    if not train:
        return X, None  # eval mode: no mask, no draw from rng
    if not isinstance(rng, np.random.Generator):
        raise TypeError("dropout_forward in train mode draws its mask from rng, a "
                        f"numpy.random.Generator; got {type(rng).__name__}")
    keep = rng.random(X.shape) >= p_drop  # True with probability 1 - p_drop
    mask = keep / (1.0 - p_drop)  # 0 or 1 / (1 - p): the kept entries make up for the dropped
    return X * mask, mask


def dropout_backward(dout, mask):
    r"""Gradient through dropout: :math:`dX = dout \odot \mathrm{mask}`, with the forward pass's mask.

    The forward pass computed ``out = X * mask`` with a fixed mask, so each entry's
    derivative is its mask value: a dropped unit passes no gradient, a kept one
    passes it scaled by :math:`1/(1-p)`. No new mask is drawn.

    Parameters
    ----------
    dout : array_like, shape of the forward pass's X
        Gradient of the loss with respect to the dropout's output.
    mask : ndarray, the shape of dout, or None
        As returned by :func:`dropout_forward`; None (eval mode) passes dout unchanged.

    Returns
    -------
    dX : ndarray, the shape of dout
    """
    dout = as_float(dout, "dout")
    if mask is None:
        return dout
    mask = as_float(mask, "mask")
    if mask.shape != dout.shape:
        raise ValueError(f"mask must have the shape of dout, {dout.shape}; got {mask.shape}")
    return dout * mask


def regularized_loss_and_grads(params, X, y, activation="relu", lam=0.0, p_drop=0.0, rng=None):
    r"""An MLP's mean cross-entropy plus the L2 penalty, and its gradients, with dropout.

    Forward, for layers i = 1, …, L: :math:`Z_i = H_{i-1} W_i^\top + b_i` with
    :math:`H_0 = X`; for the hidden layers i < L, :math:`H_i = \mathrm{dropout}(f(Z_i))`
    when ``p_drop > 0`` (never on the input X, never on the logits :math:`Z_L`). The
    loss is

    .. math:: \mathrm{cross\_entropy}(Z_L, y) + \frac{\lambda}{2}\sum_i \lVert W_i \rVert^2,

    so each weight's gradient gets :math:`+\lambda W_i`, and each bias nothing. The
    backward pass goes through each dropout with the mask of the forward pass.

    Parameters
    ----------
    params : dict of str -> ndarray
        ``W1`` of shape (m_1, D), ``b1`` of shape (m_1,), …, ``WL`` of shape (C, m_{L-1}), ``bL``.
    X : array_like, shape (N, D)
    y : array_like of int, shape (N,)
        Class ids in [0, C).
    activation : str, default "relu"
        The hidden layers' activation, a key of :data:`course_lib.activations.ACTIVATIONS`.
    lam : float, default 0.0
        :math:`\lambda \ge 0`.
    p_drop : float in [0, 1), default 0.0
        The probability of dropping a hidden unit; 0 is no dropout.
    rng : numpy.random.Generator, optional
        The source of the masks, needed when ``p_drop > 0``: one draw
        ``rng.random(H.shape)`` per hidden layer, from the first layer to the last,
        kept where it is ``>= p_drop``, as :func:`dropout_forward` draws them.

    Returns
    -------
    loss : float
    grads : dict of str -> ndarray
        Every key of params, each gradient of its parameter's shape.
    """
    f = _activation(activation)[0]
    n_layers = _count_layers(params)
    H, caches, masks = X, [], []
    for i in range(1, n_layers + 1):
        Z, cache = dense_forward(H, params[f"W{i}"], params[f"b{i}"])  # (N, m_i)
        caches.append((cache, Z))
        if i < n_layers:  # hidden layers only: no dropout on the input or the logits
            H, mask = f(Z), None
            if p_drop > 0:  # inverted dropout, as dropout_forward draws it
                mask = (rng.random(H.shape) >= p_drop) / (1.0 - p_drop)
                H = H * mask
            masks.append(mask)
    loss = cross_entropy(Z, y) + l2_penalty(params, lam)

    grads = {}
    dZ = cross_entropy_grad(Z, y)  # (N, C): the last layer is linear
    for i in range(n_layers, 0, -1):
        cache, _ = caches[i - 1]
        dH, dW, grads[f"b{i}"] = dense_backward(dZ, cache)
        grads[f"W{i}"] = dW + lam * params[f"W{i}"]  # the penalty's gradient: weights only
        if i > 1:
            if masks[i - 2] is not None:
                dH = dH * masks[i - 2]  # through the dropout: the same mask as forward
            dZ = activation_backward(dH, caches[i - 2][1], activation)  # at Z_{i-1}
    return loss, {key: grads[key] for key in params}


class EarlyStopping:
    r"""Stop training when the validation loss has not improved for ``patience`` epochs.

    Call :meth:`update` once per epoch with that epoch's validation loss (never the
    training loss, which keeps falling as the network overfits). An epoch improves
    when its loss is below ``best_loss - min_delta``; it then becomes the best, and a
    deep copy of the parameters is kept, since training goes on changing them in place.

    Parameters
    ----------
    patience : int >= 1
        How many epochs in a row without improvement stop the training.
    min_delta : float >= 0, default 0.0
        How much lower than the best a loss must be to count as an improvement.

    Attributes
    ----------
    best_loss : float
        The lowest validation loss so far (inf before the first update).
    best_epoch : int or None
        The index of the update (0 for the first call) that gave ``best_loss``.
    best_params : dict or None
        A deep copy of the parameters passed with ``best_loss``.
    """

    def __init__(self, patience, min_delta=0.0):
        if isinstance(patience, bool) or int(patience) != patience or patience < 1:
            raise ValueError(f"patience must be a whole number >= 1; got {patience!r}")
        if not min_delta >= 0:
            raise ValueError(f"min_delta must be >= 0; got {min_delta!r}")
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.best_loss = np.inf
        self.best_epoch = None
        self.best_params = None
        self.epoch = -1  # index of the last update
        self.bad_epochs = 0  # updates in a row without improvement

    def update(self, val_loss, params):
        """Record one epoch; True when training should stop.

        Parameters
        ----------
        val_loss : float
            This epoch's validation loss. A nan never improves.
        params : dict of str -> ndarray
            The parameters after this epoch; copied when they are the best so far.

        Returns
        -------
        bool
            True once ``patience`` updates in a row have not improved.
        """
        self.epoch += 1
        if val_loss < self.best_loss - self.min_delta:  # False for nan
            self.best_loss = float(val_loss)
            self.best_epoch = self.epoch
            self.best_params = copy.deepcopy(params)  # training changes params in place
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
        return self.bad_epochs >= self.patience


def sample_log_uniform(low, high, size, rng):
    r"""Numbers spread evenly on a log scale between ``low`` and ``high``.

    :math:`\exp(u)` with :math:`u` uniform on :math:`[\ln \mathrm{low}, \ln \mathrm{high})`:
    each decade (1e-4 to 1e-3, 1e-3 to 1e-2, …) gets the same share of the samples.
    Uniform sampling on [1e-4, 1e-1] would put 90% of them above 1e-2.

    Parameters
    ----------
    low, high : float, 0 < low <= high
    size : int, tuple of int or None
        The output's shape; None gives one number.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape ``size``, or a float when size is None
    """
    if not 0 < low <= high:
        raise ValueError(f"sample_log_uniform needs 0 < low <= high; got low={low!r}, high={high!r}")
    return np.exp(rng.uniform(np.log(low), np.log(high), size))


def random_search(train_and_score, space, n_trials, rng):
    """Try ``n_trials`` random configurations and rank them by their validation score.

    For each trial, one value per name of ``space``, drawn in the order of its keys:

    - ``("log", low, high)``: ``exp(rng.uniform(log(low), log(high)))``, as a float (what
      ``sample_log_uniform(low, high, None, rng)`` draws);
    - ``("int", low, high)``: ``rng.integers(low, high, endpoint=True)``, both ends included;
    - a list of choices: ``choices[rng.integers(len(choices))]``.

    Then ``score = train_and_score(config)``: the configuration's score on a
    validation set (higher is better). The test set stays out of the search.

    Parameters
    ----------
    train_and_score : callable
        ``train_and_score(config: dict) -> float``.
    space : dict
        Name -> ``("log", low, high)``, ``("int", low, high)`` or a list of choices.
    n_trials : int
    rng : numpy.random.Generator

    Returns
    -------
    list of (config, score)
        Every trial, best score first; trials of equal score keep their order.
    """
    results = []
    for _ in range(n_trials):
        config = {}
        for name, spec in space.items():
            if isinstance(spec, list):
                config[name] = spec[rng.integers(len(spec))]
            elif isinstance(spec, tuple) and len(spec) == 3 and spec[0] == "log":
                low, high = spec[1], spec[2]  # as sample_log_uniform(low, high, None, rng)
                config[name] = float(np.exp(rng.uniform(np.log(low), np.log(high))))
            elif isinstance(spec, tuple) and len(spec) == 3 and spec[0] == "int":
                config[name] = int(rng.integers(spec[1], spec[2], endpoint=True))
            else:
                raise ValueError(f"space[{name!r}] must be ('log', low, high), ('int', low, high) "
                                 f"or a list of choices; got {spec!r}")
        results.append((config, float(train_and_score(config))))
    return sorted(results, key=lambda result: result[1], reverse=True)  # stable: ties keep order


def _check_p_drop(p_drop) -> float:
    if not 0.0 <= p_drop < 1.0:  # False for nan too
        raise ValueError(f"p_drop is the probability of dropping a unit and must lie in [0, 1); "
                         f"got {p_drop!r}")
    return float(p_drop)

