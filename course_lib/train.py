"""Training loops: minibatches, ``fit`` with early stopping and a progress bar."""

from __future__ import annotations

import inspect

import numpy as np

from . import losses
from ._validate import as_float
from .regularization import EarlyStopping

__all__ = ["iterate_minibatches", "fit", "LOSSES"]

#: Name -> (loss, loss and its gradient with respect to the network's output).
LOSSES = {
    "cross_entropy": (losses.cross_entropy, losses.cross_entropy_and_grad),
    "mse": (losses.mse, losses.mse_and_grad),
}


def iterate_minibatches(X, y, batch_size, rng):
    """Yield ``(X_batch, y_batch)`` pairs that cover every sample exactly once.

    Each call draws a new permutation from ``rng``, so calling it once per
    epoch reshuffles every epoch. All batches have ``batch_size`` rows except
    the last, which has what is left.

    Parameters
    ----------
    X : ndarray, shape (N, ...)
    y : ndarray, shape (N, ...)
    batch_size : int
    rng : numpy.random.Generator or int
        The source of the shuffle; an int is used as a seed.

    Yields
    ------
    X_batch : ndarray, shape (B, ...), B <= batch_size
    y_batch : ndarray, shape (B, ...)
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0 or len(X) != len(y):
        raise ValueError(
            f"X and y must have one row per sample, the same number of rows; "
            f"got X of shape {X.shape} and y of shape {y.shape}"
        )
    batch_size = _check_batch_size(batch_size)
    rng = np.random.default_rng(rng)  # a Generator is returned as it is
    order = rng.permutation(len(X))
    for start in range(0, len(X), batch_size):
        batch = order[start : start + batch_size]
        yield X[batch], y[batch]


def fit(
    model,
    X,
    y,
    *,
    optimizer,
    epochs,
    batch_size,
    loss="cross_entropy",
    X_val=None,
    y_val=None,
    patience=None,
    seed=0,
    progress=True,
    callback=None,
):
    """Train ``model`` with minibatch updates and return the per-epoch history.

    Each epoch shuffles the training set (seeded by ``seed``: the same call
    gives the same numbers), and for each minibatch runs forward, the loss
    gradient, backward and ``optimizer.step``.

    Parameters
    ----------
    model : MLP, or anything with ``params``, ``forward(X)`` and ``backward(dout)``
        The validation set is scored with ``forward(X_val, train=False)`` (dropout
        off) when ``forward`` takes ``train``.
    X : array_like, shape (N, D)
    y : array_like, shape (N,) of int class ids for "cross_entropy", shape (N, C) for "mse"
    optimizer : GD, Momentum, Adam, or anything with ``step(params, grads)``
    epochs : int
    batch_size : int
    loss : {"cross_entropy", "mse"}
    X_val, y_val : array_like, optional
        A validation set, scored after every epoch.
    patience : int, optional
        Early stopping (:class:`~course_lib.regularization.EarlyStopping`): stop after
        this many epochs without a lower validation loss, and restore the weights of
        the best epoch. Needs ``X_val``.
    seed : int, default 0
    progress : bool, default True
        Show a progress bar (a widget in notebooks, text in a terminal).
    callback : callable, optional
        ``callback(epoch, history)`` after every epoch, e.g. to draw a live loss
        curve; training stops when it returns True.

    Returns
    -------
    history : dict
        ``"loss"``: mean training loss over each epoch's minibatches;
        ``"val_loss"``: validation loss after each epoch (with ``X_val``);
        ``"best_epoch"``: index of the epoch whose weights the model ends with
        (with ``patience``).
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}; got {loss!r}")
    loss_fn, loss_and_grad = LOSSES[loss]
    X = as_float(X, "X")
    y = np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same number of rows; got {len(X)} and {len(y)}")
    batch_size = _check_batch_size(batch_size)
    if isinstance(epochs, bool) or int(epochs) != epochs or epochs < 0:
        raise ValueError(f"epochs must be a whole number >= 0; got {epochs!r}")
    epochs = int(epochs)
    validate = X_val is not None
    if validate != (y_val is not None):
        raise ValueError("pass both X_val and y_val, or neither")
    if patience is not None and (not validate or patience < 1):
        raise ValueError("patience needs X_val and y_val, and must be >= 1")

    # imported here, not at the top: it costs 60 ms, and the notebooks' checks import this module
    from tqdm.auto import trange

    rng = np.random.default_rng(seed)
    history = {"loss": []}
    if validate:
        X_val = as_float(X_val, "X_val")
        history["val_loss"] = []
    stopper = EarlyStopping(patience) if patience is not None else None
    evaluate = _evaluation(model)
    bar = trange(epochs, desc="training", unit="epoch", disable=not progress, leave=True)
    for epoch in bar:
        total = 0.0
        for X_batch, y_batch in iterate_minibatches(X, y, batch_size, rng):
            batch_loss, dout = loss_and_grad(model.forward(X_batch), y_batch)
            total += batch_loss * len(X_batch)
            grads = model.backward(dout)
            optimizer.step(model.params, grads)
        history["loss"].append(total / len(X))
        postfix = {"loss": f"{history['loss'][-1]:.4f}"}
        if validate:
            val_loss = loss_fn(evaluate(X_val), y_val)
            history["val_loss"].append(val_loss)
            postfix["val_loss"] = f"{val_loss:.4f}"
            # the validation loss, never the training loss; a nan is never the best
            if stopper is not None and stopper.update(val_loss, model.params):
                break
        bar.set_postfix(postfix, refresh=False)
        if callback is not None and callback(epoch, history):
            break
    bar.close()
    if stopper is not None and stopper.best_params is not None:
        for key, value in stopper.best_params.items():
            model.params[key][...] = value  # in place: optimizers keep their references
        history["best_epoch"] = stopper.best_epoch
    return history


def _evaluation(model):
    """The model's forward pass in eval mode (dropout off), when its forward takes ``train``."""
    try:
        takes_train = "train" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        takes_train = False
    if takes_train:
        return lambda X: model.forward(X, train=False)
    return model.forward


def _check_batch_size(batch_size) -> int:
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number >= 1; got {batch_size!r}")
    return int(batch_size)
