"""Input checks shared by the math modules.

Every public function turns its array arguments into float64 arrays here, so a
wrong type or shape is reported once, in the same words, naming what was
expected and what was given. Nothing here copies or modifies an input.
"""

from __future__ import annotations

import numpy as np

__all__: list[str] = []


def as_float(x, name: str) -> np.ndarray:
    """Return ``x`` as a float64 array, or raise ``TypeError`` naming ``name``.

    Real numbers (bool, int, float of any width) are accepted; strings, objects,
    complex numbers and ``None`` are not.
    """
    if isinstance(x, np.ndarray) and x.dtype == np.float64:
        return x  # the common case: no conversion, no copy
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must be an array of real numbers; got {_describe(x)}"
        )
    return arr.astype(np.float64)


def as_labels(labels, n: int, n_classes: int, name: str = "labels") -> np.ndarray:
    """Return integer class ids of shape (n,) with values in [0, n_classes)."""
    arr = np.asarray(labels)
    if arr.ndim == 2 and arr.shape == (n, n_classes):
        raise ValueError(
            f"{name} must be integer class ids of shape ({n},); got shape {arr.shape}, "
            f"which looks one-hot encoded: pass {name}.argmax(axis=1) instead"
        )
    if arr.dtype.kind not in "iu":
        raise TypeError(
            f"{name} must be integer class ids (dtype int); got dtype {arr.dtype}"
        )
    if arr.shape != (n,):
        raise ValueError(
            f"{name} must have shape ({n},), one class id per row of logits; "
            f"got shape {arr.shape}"
        )
    if n and (arr.min() < 0 or arr.max() >= n_classes):
        raise ValueError(
            f"{name} must lie in [0, {n_classes}) for logits with {n_classes} columns; "
            f"got values from {arr.min()} to {arr.max()}"
        )
    return arr


def require_ndim(x: np.ndarray, ndim: int, name: str, layout: str) -> None:
    """Raise ``ValueError`` unless ``x`` has ``ndim`` axes, naming the layout."""
    if x.ndim != ndim:
        raise ValueError(
            f"{name} must be {ndim}-D with shape {layout}; got shape {x.shape}"
        )


def require_shape(x: np.ndarray, shape: tuple, name: str, why: str = "") -> None:
    """Raise ``ValueError`` unless ``x.shape == shape``."""
    if x.shape != tuple(shape):
        reason = f" ({why})" if why else ""
        raise ValueError(
            f"{name} must have shape {tuple(shape)}{reason}; got shape {x.shape}"
        )


def _describe(x) -> str:
    if isinstance(x, np.ndarray):
        return f"an array of dtype {x.dtype}"
    return f"a value of type {type(x).__name__}"
