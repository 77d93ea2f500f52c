"""The activation explorer of notebook 01: f and f' side by side, yours over the reference."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from .. import activations as ref
from . import _style as style
from ._render import live_dashboard, student_only
from ._student import student_curve

__all__ = ["activation_explorer", "plot_activation", "EXPLORER_FUNCTIONS"]

#: Menu entry -> (name of f, name of f'); softmax is shown on two classes.
EXPLORER_FUNCTIONS = {
    "ReLU": ("relu", "relu_grad"),
    "sigmoid": ("sigmoid", "sigmoid_grad"),
    "tanh": ("tanh", "tanh_grad"),
    "softplus": ("softplus", "softplus_grad"),
    "ELU": ("elu", "elu_grad"),
    "softmax([x, 0])[0]": ("softmax", None),
}

def _softmax_first(softmax):
    """x -> softmax([x, 0])[0] computed with the given softmax: it equals sigmoid(x)."""
    def f(x):
        return np.asarray(softmax(np.column_stack([x, np.zeros_like(x)]), axis=-1))[:, 0]
    return f


def _central_difference(f, x, h=1e-5):
    return (np.asarray(f(x + h)) - np.asarray(f(x - h))) / (2 * h)


def _curves(entry, alpha, source):
    """(f, f') of ``entry`` taken from ``source``, a mapping of names to functions."""
    f_name, grad_name = _names(entry)
    f = source.get(f_name)
    if f_name == "softmax":
        f = _softmax_first(f) if f is not None else None
        grad = (lambda x: _central_difference(f, x)) if f is not None else None
        return f, grad
    grad = source.get(grad_name)
    if f_name == "elu":
        f = (lambda x, g=f: g(x, alpha)) if f is not None else None
        grad = (lambda x, g=grad: g(x, alpha)) if grad is not None else None
    return f, grad


def _names(entry):
    """The names of (f, f') of ``entry`` for the notes: softmax's slope is its own difference."""
    f_name, grad_name = EXPLORER_FUNCTIONS[entry]
    return f_name, grad_name or f_name


def plot_activation(entry="sigmoid", x_range=(-6.0, 6.0), alpha=1.0, student=None, n=401):
    """Figure of f (left) and f' (right) for one menu entry, the student's dashed over the reference.

    Parameters
    ----------
    entry : str
        A key of :data:`EXPLORER_FUNCTIONS`.
    x_range : (float, float)
    alpha : float
        ELU's alpha.
    student : mapping of str -> callable, optional
        The student's functions by name (``globals()`` in a notebook). Missing,
        unfinished or failing ones are noted on the figure, never raised. In a
        grading kernel they are drawn alone, without the reference
        (:func:`~course_lib.widgets._render.student_only`).
    n : int
        Points on the grid.

    Returns
    -------
    matplotlib.figure.Figure
    """
    x = np.linspace(*x_range, n)
    if student_only():  # a graded notebook: its own functions only, no reference drawn
        reference, student = None, student if student is not None else {}
    else:
        reference = {name: getattr(ref, name) for pair in EXPLORER_FUNCTIONS.values()
                     for name in pair if name}
    ref_curves = _curves(entry, alpha, reference) if reference is not None else (None, None)
    yours = _curves(entry, alpha, student) if student is not None else (None, None)
    # softmax has no _grad exercise: its derivative is a central difference, for both curves
    grad_title = "derivative (central difference)" if entry.startswith("softmax") else "derivative"
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, ref_fn, your_fn, name, title, ylabel in zip(
        axes, ref_curves, yours, _names(entry), (f"{entry}", f"{entry}: {grad_title}"),
        ("f(x)", "f'(x)"), strict=True,
    ):
        y_ref = ref_fn(x) if ref_fn is not None else None
        if y_ref is not None:
            ax.plot(x, y_ref, color=style.REFERENCE, lw=2.5, label="reference")
        note = y_yours = None
        if student is not None:
            y_yours, note = student_curve(name, your_fn, x)
            if y_yours is not None:
                ax.plot(x, y_yours, color=style.YOURS, lw=1.8, ls="--", label="yours")
            if y_yours is not None and y_ref is not None:
                gap = np.abs(y_yours - y_ref)
                if not np.all(np.isclose(y_yours, y_ref, rtol=1e-6, atol=1e-9)):
                    k = int(np.nanargmax(np.where(np.isfinite(gap), gap, np.inf)))
                    note = f"your {name} differs: at x = {x[k]:.3g}, {y_yours[k]:.4g} vs {y_ref[k]:.4g}"
        # the axes follow the reference: a wrong curve runs off the plot, the right one stays
        # readable (with no reference, they follow the finite part of yours)
        shown = y_ref if y_ref is not None else y_yours
        shown = shown[np.isfinite(shown)] if shown is not None else np.zeros(0)
        if shown.size:
            lo, hi = float(np.min(shown)), float(np.max(shown))
            pad = max(0.15 * (hi - lo), 0.1)
            ax.set_ylim(lo - pad, hi + pad)
        ax.set_title(title)
        ax.set_xlabel("x")
        ax.set_ylabel(ylabel)
        ax.axhline(0, color="0.8", lw=0.8, zorder=0)
        ax.axvline(0, color="0.8", lw=0.8, zorder=0)
        if y_ref is not None or y_yours is not None:
            ax.legend(loc="best")
        style.note(ax, note)
    return fig


def activation_explorer(student: Mapping | None = None, entry="sigmoid", x_range=(-6.0, 6.0)):
    """An interactive view of one activation and its derivative; yours overlaid on the reference.

    Parameters
    ----------
    student : mapping of str -> callable, optional
        Your functions by name; in a notebook, pass ``globals()``.
    entry : str, default "sigmoid"
        The function shown first (a key of :data:`EXPLORER_FUNCTIONS`).
    x_range : (float, float)
        The range of x shown first.

    Returns
    -------
    ipywidgets.VBox
        A dashboard: where no kernel runs, it leaves its figure behind as a picture.
    """
    import ipywidgets as w

    choice = w.Dropdown(options=list(EXPLORER_FUNCTIONS), value=entry, description="function")
    span = w.FloatRangeSlider(value=x_range, min=-20.0, max=20.0, step=0.5, description="x range",
                              continuous_update=False, readout_format=".1f")
    alpha = w.FloatSlider(value=1.0, min=0.1, max=3.0, step=0.1, description="alpha",
                          continuous_update=False)

    def draw():
        alpha.layout.display = "" if choice.value == "ELU" else "none"
        lo, hi = span.value
        if hi - lo < 1e-9:  # a zero-width range has nothing to draw
            hi = lo + 1.0
        return plot_activation(choice.value, (lo, hi), alpha.value, student)

    return live_dashboard("Activation explorer", [w.HBox([choice, span, alpha])], draw,
                          controls=(choice, span, alpha))
