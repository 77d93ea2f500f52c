r"""Optimizers: gradient descent, momentum and Adam, each with weight decay.

Each optimizer's ``step(params, grads)`` updates the arrays of ``params`` in
place, from gradients keyed like them. Weight decay adds :math:`\lambda W` to
the gradient of every weight matrix (keys ``W1, W2, …``), not of the biases:
for gradient descent, :math:`W \leftarrow W - \eta(\partial L/\partial W + \lambda W)`,
the gradient of the penalty :math:`\frac{\lambda}{2}\lVert W \rVert^2`.
"""

from __future__ import annotations

import numpy as np

from .losses import is_weight

__all__ = ["gradient_descent", "GD", "Momentum", "Adam"]


def gradient_descent(grad, x0, lr, eps=1e-6, max_steps=10_000):
    r"""Minimise a function by gradient descent, stopping when :math:`\lVert \nabla L(x) \rVert < \epsilon`.

    Repeats :math:`x \leftarrow x - \eta \nabla L(x)` from :math:`x_0`.

    Parameters
    ----------
    grad : callable
        ``grad(x) -> ndarray`` of the shape of x: the gradient :math:`\nabla L(x)`.
    x0 : array_like
        The starting point; not modified.
    lr : float
        Learning rate :math:`\eta > 0`.
    eps : float, default 1e-6
        Stop as soon as the Euclidean norm of the gradient is below this.
    max_steps : int, default 10000
        Give up after this many updates.

    Returns
    -------
    x : ndarray
        The last point.
    n_steps : int
        Updates made: ``max_steps`` when the rule never held.
    """
    _require(lr > 0, f"lr must be > 0; got {lr}")
    _require(eps > 0, f"eps must be > 0; got {eps}")
    x = np.array(x0, dtype=np.float64)  # a copy: x0 stays as it was
    for step in range(max_steps):
        g = np.asarray(grad(x), dtype=np.float64)
        if g.shape != x.shape:
            raise ValueError(f"grad(x) must have the shape of x, {x.shape}; got {g.shape}")
        if np.linalg.norm(g) < eps:
            return x, step
        x = x - lr * g
    return x, max_steps


class _Optimizer:
    """What every optimizer shares: hyperparameter checks and the gradient with decay."""

    def __init__(self, lr, weight_decay):
        _require(lr > 0, f"lr must be > 0; got {lr}")
        _require(weight_decay >= 0, f"weight_decay must be >= 0; got {weight_decay}")
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)

    def _gradients(self, params, grads):
        """[(key, parameter, gradient + weight decay)], in the order of ``params``.

        Every key is checked before any is returned, so a step that fails on a
        bad gradient fails before it has changed any parameter.
        """
        _check_dicts(params, grads)
        triples = []
        for key in params:
            p, g = params[key], grads[key]
            if not isinstance(p, np.ndarray) or p.dtype != np.float64:
                raise TypeError(
                    f"params[{key!r}] must be a float64 ndarray (it is updated in place)"
                )
            if np.shape(g) != p.shape:
                raise ValueError(
                    f"grads[{key!r}] must have the shape of params[{key!r}], {p.shape}; "
                    f"got {np.shape(g)}"
                )
            if self.weight_decay and is_weight(key):
                g = g + self.weight_decay * p  # a new array: grads stay as given
            triples.append((key, p, g))
        return triples


class GD(_Optimizer):
    r"""Gradient descent: :math:`\theta \leftarrow \theta - \eta\, g`.

    Parameters
    ----------
    lr : float
        Learning rate :math:`\eta > 0`.
    weight_decay : float, default 0.0
        :math:`\lambda`: adds :math:`\lambda W` to the gradient of each weight matrix.
    """

    def __init__(self, lr, weight_decay=0.0):
        super().__init__(lr, weight_decay)

    def step(self, params, grads):
        """Update every array of ``params`` in place."""
        for _, p, g in self._gradients(params, grads):
            p -= self.lr * g


class Momentum(_Optimizer):
    r"""Gradient descent with momentum (heavy ball).

    :math:`v \leftarrow \beta v + g`, then :math:`\theta \leftarrow \theta - \eta v`,
    with :math:`v = 0` at the start: the update is an exponentially weighted
    sum of past gradients, which damps oscillation across a narrow valley
    and speeds up travel along it.

    Parameters
    ----------
    lr : float
        Learning rate :math:`\eta > 0`.
    beta : float, default 0.9
        Momentum :math:`\beta \in [0, 1)`; 0 is plain gradient descent.
    weight_decay : float, default 0.0
    """

    def __init__(self, lr, beta=0.9, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        _require(0 <= beta < 1, f"beta must be in [0, 1); got {beta}")
        self.beta = float(beta)
        self.velocity = {}

    def step(self, params, grads):
        """Update every array of ``params`` in place."""
        for key, p, g in self._gradients(params, grads):
            if key not in self.velocity:
                self.velocity[key] = np.zeros_like(p)
            v = self.velocity[key]
            v *= self.beta
            v += g
            p -= self.lr * v


class Adam(_Optimizer):
    r"""Adam (Kingma & Ba, 2015), Algorithm 1 of the paper, bias correction included.

    At step :math:`t = 1, 2, \dots`, for each parameter with gradient :math:`g`:

    1. first moment: :math:`m \leftarrow \beta_1 m + (1 - \beta_1) g`
    2. second moment: :math:`v \leftarrow \beta_2 v + (1 - \beta_2) g^2`
    3. bias correction: :math:`\hat m = m / (1 - \beta_1^t)`, :math:`\hat v = v / (1 - \beta_2^t)`
    4. update: :math:`\theta \leftarrow \theta - \eta\, \hat m / (\sqrt{\hat v} + \epsilon)`

    with :math:`m = v = 0` at the start. Each ``step`` call is one step t.

    Parameters
    ----------
    lr : float, default 1e-3
        Step size :math:`\eta` (the paper's :math:`\alpha`).
    beta1, beta2 : float, default 0.9 and 0.999
        Decay rates of the moment estimates, in [0, 1).
    eps : float, default 1e-8
    weight_decay : float, default 0.0
        Adds :math:`\lambda W` to the gradient of each weight matrix before step 1.
    """

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        _require(0 <= beta1 < 1, f"beta1 must be in [0, 1); got {beta1}")
        _require(0 <= beta2 < 1, f"beta2 must be in [0, 1); got {beta2}")
        _require(eps > 0, f"eps must be > 0; got {eps}")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.t = 0  # steps taken
        self.m = {}  # key -> first moment, of the parameter's shape
        self.v = {}  # key -> second moment

    def step(self, params, grads):
        """Take step t + 1, updating every array of ``params`` in place."""
        gradients = self._gradients(params, grads)
        shapes = {key: p.shape for key, p, _ in gradients}
        state = {key: m.shape for key, m in self.m.items()}
        if state and shapes != state:
            raise ValueError(
                f"this Adam has state for parameters {state}; step was now given {shapes}"
            )
        self.t += 1
        for key, p, g in gradients:
            if key not in self.m:
                self.m[key], self.v[key] = np.zeros_like(p), np.zeros_like(p)
            m, v = self.m[key], self.v[key]  # updated in place: no new arrays each step
            m *= self.beta1  # 1. first moment: m <- beta1 m + (1 - beta1) g
            m += (1.0 - self.beta1) * g
            v *= self.beta2  # 2. second moment: v <- beta2 v + (1 - beta2) g^2
            v += (1.0 - self.beta2) * g**2
            m_hat = m / (1.0 - self.beta1**self.t)  # 3. bias correction
            v_hat = v / (1.0 - self.beta2**self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)  # 4. update


def _check_dicts(params, grads):
    """Both must be dicts with the same keys."""
    if not isinstance(params, dict) or not isinstance(grads, dict):
        raise TypeError(
            "step(params, grads) takes two dicts keyed 'W1', 'b1', …; got "
            f"{type(params).__name__} and {type(grads).__name__}"
        )
    if params.keys() != grads.keys():
        raise ValueError(
            f"grads must have the keys of params; params has {sorted(params)}, "
            f"grads has {sorted(grads)}"
        )


def _require(condition, message):
    if not condition:
        raise ValueError(message)
