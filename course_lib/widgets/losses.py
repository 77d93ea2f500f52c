r"""The widgets of notebook 03: two losses of one prediction, and why cross-entropy learns faster.

:func:`loss_explorer` moves the logit of the true class of a 3-class sample and draws
the cross-entropy and the MSE of its softmax probabilities against the one-hot target.
:func:`saturation_explorer` follows one sigmoid output :math:`p = \sigma(z)` with true
label 1: the gradient reaching the logit is :math:`2(p - 1)\,\sigma'(z)` for MSE, which
vanishes when the unit is saturated and wrong, and :math:`p - 1` for cross-entropy,
which does not; a few steps of gradient descent on :math:`z` show what that does.

Both draw the student's functions (``globals()`` in a notebook) dashed over the
reference, and note on the figure, instead of raising, when they are missing or broken.
In a grading kernel they draw the student's functions alone, the notebook's softmax,
sigmoid and sigmoid_grad included (:func:`~course_lib.widgets._render.student_only`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from .. import activations as act
from .. import losses as ref
from . import _style as style
from ._render import live_dashboard, student_only
from ._student import student_curve

__all__ = [
    "loss_explorer",
    "plot_losses",
    "saturation_explorer",
    "plot_saturation",
    "descend_logit",
]

_CE_COLOR, _MSE_COLOR = style.BLUE, style.ORANGE
_TRUE = np.array([0])  # the true class of the explorer's sample is class 0


def _number(value, name):
    """The student's loss as a float, or an error that says what came back instead."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf" or arr.shape != ():
        raise ValueError(f"{name} returned {type(value).__name__} of shape {arr.shape}, "
                         f"expected one number")
    return float(arr)


def _ce_curve(cross_entropy, others):
    """z0 -> cross_entropy([[z0, *others]], [0]) for each z0 of a grid: one sample, true class 0."""
    def f(z0):
        return np.array([_number(cross_entropy(np.array([[t, *others]]), _TRUE.copy()),
                                 "cross_entropy") for t in z0])
    return f


def _mse_curve(mse, others, softmax=act.softmax):
    """z0 -> mse(softmax([z0, *others]), onehot(0)) for each z0 of a grid."""
    target = np.zeros(1 + len(others))
    target[0] = 1.0

    def f(z0):
        return np.array([_number(mse(np.asarray(softmax(np.array([t, *others]))), target.copy()),
                                 "mse") for t in z0])
    return f


def _overlay(ax, x, y_ref, fn, label, name, xname, magnitude=False, color=_CE_COLOR, uses=""):
    """Draw the curve of the student's ``name`` dashed over the reference; return a note, or None.

    With ``magnitude``, draw absolute values (for a log scale) but compare signed ones.
    With ``y_ref`` None (a grading kernel), draw the student's curve alone, solid in ``color``.
    ``uses`` names the notebook's other functions the curve is computed with.
    """
    what = f"your {name}" + (f" (with {uses})" if uses else "")
    y, note = student_curve(name, fn, x)
    if y is None:
        # the note names the curve's other functions too: "your mse_grad (with softmax) ..."
        return f"{what} {note.removeprefix(f'your {name} ')}"
    # far outside the view, but finite: a huge value would overflow matplotlib's log scale
    shown = np.clip(np.abs(y) if magnitude else y, -1e6, 1e6)
    if y_ref is None:
        ax.plot(x, shown, color=color, lw=2.2, label=label)
        return None
    ax.plot(x, shown, color=style.YOURS, lw=1.6, ls="--", label=label)
    close = np.isclose(y, y_ref, rtol=1e-6, atol=1e-12)
    if close.all():
        return None
    gap = np.where(np.isfinite(y), np.abs(y - y_ref), np.inf)
    k = int(np.argmax(np.where(close, -1.0, gap)))
    return f"{what} differs: at {xname} = {x[k]:.3g}, {y[k]:.4g} vs {y_ref[k]:.4g}"


def _notes(ax, notes, y=0.04, va="bottom"):
    style.note(ax, "\n".join(n for n in notes if n), y=y, va=va, fontsize=8.5)


def plot_losses(true_logit=-2.0, others=(1.0, 0.0), student=None, z_range=(-8.0, 8.0), n=121):
    r"""Figure: both losses of one 3-class sample against its true-class logit, and its softmax.

    The sample's logits are :math:`z = (z_0, z_1, z_2)` and its true class is 0. Left:
    the cross-entropy :math:`-\log \mathrm{softmax}(z)_0` and the MSE between
    :math:`\mathrm{softmax}(z)` and the one-hot target :math:`(1, 0, 0)`, as :math:`z_0`
    runs over ``z_range``, with ``true_logit`` marked. Right: the probabilities there.

    Parameters
    ----------
    true_logit : float
        :math:`z_0`, the logit of the true class.
    others : (float, float)
        :math:`z_1, z_2`, the logits of the two other classes.
    student : mapping of str -> callable, optional
        The student's functions by name (``globals()`` in a notebook); their ``mse`` and
        ``cross_entropy`` are drawn dashed. Missing or failing ones become a note.
    z_range : (float, float)
    n : int
        Points on the grid.

    Returns
    -------
    matplotlib.figure.Figure
    """
    others = tuple(float(o) for o in others)
    z0 = np.linspace(*z_range, n)
    here = np.array([float(true_logit)])
    z = np.array([float(true_logit), *others])
    alone = student_only()  # a graded notebook: its own functions only, no reference drawn
    student = {} if alone and student is None else student
    softmax = student.get("softmax") if alone else act.softmax
    curves = {"cross_entropy": lambda fn: _ce_curve(fn, others),  # a loss -> its curve over z0
              "mse": lambda fn: _mse_curve(fn, others, softmax)}
    if alone:
        ce_ref = mse_ref = None
        p, p_note = student_curve("softmax", softmax, z)
        ce_here, mse_here = (_value_at(curves[key](student[key]) if key in student else None, here)
                             for key in ("cross_entropy", "mse"))
    else:
        ce_ref = _ce_curve(ref.cross_entropy, others)(z0)
        mse_ref = _mse_curve(ref.mse, others)(z0)
        ce_here = float(_ce_curve(ref.cross_entropy, others)(here)[0])
        mse_here = float(_mse_curve(ref.mse, others)(here)[0])
        p, p_note = act.softmax(z), None

    fig = Figure(figsize=(10, 3.8), layout="constrained")
    ax, bars = fig.subplots(1, 2, width_ratios=(1.6, 1))
    if not alone:
        ax.plot(z0, ce_ref, color=_CE_COLOR, lw=2.5, label="cross-entropy")
        ax.plot(z0, mse_ref, color=_MSE_COLOR, lw=2.5, label="MSE of the probabilities")
        ax.set_ylim(-0.05 * ce_ref.max(), 1.08 * ce_ref.max())  # before the student's curves
    notes = []
    if student is not None:
        for key, y_ref, label, color in (
            ("cross_entropy", ce_ref, "cross-entropy (yours)", _CE_COLOR),
            ("mse", mse_ref, "MSE (yours)", _MSE_COLOR),
        ):
            fn = student.get(key)
            yours = curves[key](fn) if fn is not None else None
            notes.append(_overlay(ax, z0, y_ref, yours, label, key, "z0", color=color))
    ax.plot([true_logit, true_logit], [ce_here, mse_here], "o", color="black", ms=5, zorder=5)
    ax.axvline(true_logit, color="0.6", lw=0.8, ls=":", zorder=0)
    ax.set_title(f"one sample, true class 0, other logits z1 = {others[0]:g}, z2 = {others[1]:g}")
    ax.set_xlabel("$z_0$, the logit of the true class")
    ax.set_ylabel("loss")
    if ax.get_lines():
        ax.legend(loc="upper right", fontsize=8.5)
    _notes(ax, notes, y=0.62, va="top")

    classes = np.arange(len(z))
    if p is not None:
        bars.bar(classes, p, color=[_CE_COLOR] + ["0.65"] * (len(z) - 1),
                 label="your softmax(z)" if alone else "softmax(z)")
        for c in classes:
            bars.text(c, p[c] + 0.02, f"{p[c]:.3f}", ha="center", va="bottom", fontsize=8.5)
    bars.bar(classes, [1.0] + [0.0] * (len(z) - 1), fill=False, edgecolor="black", lw=1.2,
             ls="--", label="target (one-hot)")
    bars.set_xticks(classes, ["0 (true)"] + [str(c) for c in classes[1:]])
    bars.set_ylim(0.0, 1.15)
    bars.set_title(f"cross-entropy = {ce_here:.3f},  MSE = {mse_here:.3f}")
    bars.set_xlabel("class")
    bars.set_ylabel("probability")
    bars.legend(loc="upper right", fontsize=8.5)
    _notes(bars, [p_note], y=0.62, va="top")
    return fig


def _value_at(curve, x):
    """A student's ``curve`` at the one point ``x``, or nan when it is missing or fails."""
    y, _ = student_curve("curve", curve, x)
    return float(y[0]) if y is not None else float("nan")


def loss_explorer(student: Mapping | None = None, true_logit=-2.0, others=(1.0, 0.0)):
    """An interactive view of both losses of one sample as its true-class logit moves.

    Parameters
    ----------
    student : mapping of str -> callable, optional
        Your functions by name; in a notebook, pass ``globals()``.
    true_logit : float
        The logit of the true class shown first.
    others : (float, float)
        The other two logits shown first.

    Returns
    -------
    ipywidgets.VBox
        A dashboard: where no kernel runs, it leaves its figure behind as a picture.
    """
    import ipywidgets as w

    style = {"description_width": "initial"}
    z0 = w.FloatSlider(value=true_logit, min=-8.0, max=8.0, step=0.25, style=style,
                       description="z0 (true class)", continuous_update=False)
    z1 = w.FloatSlider(value=others[0], min=-4.0, max=4.0, step=0.25, description="z1",
                       continuous_update=False)
    z2 = w.FloatSlider(value=others[1], min=-4.0, max=4.0, step=0.25, description="z2",
                       continuous_update=False)

    def draw():
        return plot_losses(z0.value, (z1.value, z2.value), student)

    return live_dashboard("Loss explorer", [w.HBox([z0, z1, z2])], draw, controls=(z0, z1, z2))


# ---------------------------------------------------------------- saturation


def _mse_dz(mse_grad, sigmoid=act.sigmoid, sigmoid_grad=act.sigmoid_grad):
    """z -> d/dz of mse([sigmoid(z)], [1]) for each z: mse_grad times sigma'(z), one sample."""
    def f(z):
        out = np.empty_like(z)
        for i, zi in enumerate(z):
            g = np.asarray(mse_grad(np.array([sigmoid(zi)]), np.array([1.0])))
            if g.shape != (1,):
                raise ValueError(f"mse_grad returned shape {g.shape}, expected (1,)")
            out[i] = g[0] * sigmoid_grad(zi)
        return out
    return f


def _mse_loss(mse, sigmoid):
    """z -> mse([sigmoid(z)], [1]) for each z: one sigmoid output, true label 1."""
    def f(z):
        return np.array([_number(mse(np.array([sigmoid(t)], dtype=np.float64), np.array([1.0])),
                                 "mse") for t in z])
    return f


def _ce_dz(cross_entropy_grad):
    """z -> d/dz of cross_entropy([[z, 0]], [0]) for each z (softmax(z, 0)_0 = sigma(z))."""
    def f(z):
        out = np.empty_like(z)
        for i, zi in enumerate(z):
            g = np.asarray(cross_entropy_grad(np.array([[zi, 0.0]]), _TRUE.copy()))
            if g.shape != (1, 2):
                raise ValueError(f"cross_entropy_grad returned shape {g.shape}, expected (1, 2)")
            out[i] = g[0, 0]
        return out
    return f


def _descent(dz, z0, lr, steps):
    """z -> z_0, ..., z_steps: gradient descent on one logit with the gradient ``dz``."""
    def f(_):
        path = np.empty(steps + 1)
        path[0] = z0
        for t in range(steps):
            path[t + 1] = path[t] - lr * dz(path[t:t + 1])[0]
        return path
    return f


def _reference_dz(z):
    """(dMSE/dz, dCE/dz) for one sigmoid output with true label 1, from the closed forms."""
    p = act.sigmoid(z)
    return 2.0 * (p - 1.0) * act.sigmoid_grad(z), p - 1.0


def descend_logit(z0, lr, steps):
    r"""Gradient descent on one logit :math:`z` (true label 1), for each loss.

    :math:`z_{t+1} = z_t - \mathrm{lr}\, \partial L/\partial z`, with
    :math:`\partial L/\partial z = 2(\sigma(z) - 1)\sigma'(z)` for MSE and
    :math:`\sigma(z) - 1` for cross-entropy.

    Returns
    -------
    z_mse, z_ce : ndarray, shape (steps + 1,)
        The logit after 0, 1, ..., steps steps.
    """
    z_mse, z_ce = np.empty(steps + 1), np.empty(steps + 1)
    z_mse[0] = z_ce[0] = float(z0)
    for t in range(steps):
        g_mse, _ = _reference_dz(z_mse[t])
        _, g_ce = _reference_dz(z_ce[t])
        z_mse[t + 1] = z_mse[t] - lr * g_mse
        z_ce[t + 1] = z_ce[t] - lr * g_ce
    return z_mse, z_ce


def plot_saturation(z=-6.0, lr=1.0, student=None, z_range=(-10.0, 10.0), n=201, steps=30):
    r"""Figure: one sigmoid output with true label 1: both losses, their gradients, and descent.

    Left: :math:`(\sigma(z) - 1)^2` and :math:`-\log\sigma(z)` against the logit :math:`z`.
    Middle: :math:`|\partial L/\partial z|` on a log scale, the student's ``mse_grad``
    (times :math:`\sigma'(z)`) and ``cross_entropy_grad`` (on the two logits
    :math:`(z, 0)`, whose softmax is :math:`(\sigma(z), 1 - \sigma(z))`) dashed on top.
    Right: :math:`\sigma(z_t)` during ``steps`` steps of gradient descent on :math:`z`
    from ``z`` with learning rate ``lr`` (the reference gradients).

    Parameters
    ----------
    z : float
        The logit marked, and where gradient descent starts.
    lr : float
    student : mapping of str -> callable, optional
        The student's functions by name (``globals()`` in a notebook).
    z_range : (float, float)
    n : int
    steps : int

    Returns
    -------
    matplotlib.figure.Figure
    """
    grid = np.linspace(*z_range, n)
    here = np.array([float(z)])
    # a fixed layout: constrained layout would cost a third of the redraw time here
    fig = Figure(figsize=(12, 3.6))
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.14, top=0.9, wspace=0.28)
    loss_ax, grad_ax, gd_ax = fig.subplots(1, 3)
    if student_only():  # a graded notebook: its own functions only, no reference drawn
        _saturation_alone(loss_ax, grad_ax, gd_ax, grid, here, lr, steps,
                          student if student is not None else {})
    else:
        _saturation_with_reference(loss_ax, grad_ax, gd_ax, grid, here, lr, steps, student)
    loss_ax.set_title("loss of one output, true label y = 1")
    loss_ax.set_xlabel(r"logit $z$ (the output is $\sigma(z)$)")
    loss_ax.set_ylabel("loss")
    grad_ax.set_xlabel(r"logit $z$")
    grad_ax.set_ylabel(r"$|\partial L / \partial z|$ (log scale)")
    gd_ax.set_ylim(-0.03, 1.05)
    gd_ax.set_title(f"gradient descent on z from {z:g}, lr = {lr:g}", fontsize=10)
    gd_ax.set_xlabel("step")
    gd_ax.set_ylabel(r"$\sigma(z)$, probability of the true class")
    for ax, where in ((loss_ax, "upper right"), (grad_ax, "lower center"),
                      (gd_ax, "center right")):
        if ax.get_lines():
            ax.legend(loc=where, fontsize=8 if ax is grad_ax else 8.5)
    for ax in (loss_ax, grad_ax):
        ax.axvline(z, color="0.6", lw=0.8, ls=":", zorder=0)
    return fig


def _saturation_with_reference(loss_ax, grad_ax, gd_ax, grid, here, lr, steps, student):
    """plot_saturation's panels: the reference's curves, the student's gradients dashed on top."""
    z = float(here[0])
    p = act.sigmoid(grid)
    mse_dz, ce_dz = _reference_dz(grid)
    (mse_dz_here,), (ce_dz_here,) = _reference_dz(here)

    loss_ax.plot(grid, act.softplus(-grid), color=_CE_COLOR, lw=2.5,
                 label=r"cross-entropy $-\log\sigma(z)$")
    loss_ax.plot(grid, (p - 1.0) ** 2, color=_MSE_COLOR, lw=2.5, label=r"MSE $(\sigma(z) - 1)^2$")
    loss_ax.plot([z, z], [act.softplus(-here)[0], (act.sigmoid(here)[0] - 1.0) ** 2], "o",
                 color="black", ms=5, zorder=5)

    grad_ax.semilogy(grid, np.abs(ce_dz), color=_CE_COLOR, lw=2.5,
                     label=r"cross-entropy $|\sigma(z) - 1|$")
    grad_ax.semilogy(grid, np.abs(mse_dz), color=_MSE_COLOR, lw=2.5,
                     label=r"MSE $|2(\sigma(z) - 1)\,\sigma'(z)|$")
    grad_ax.set_ylim(np.abs(mse_dz).min() / 5.0, 50.0)  # headroom above 1 for the notes
    notes = []
    if student is not None:
        for key, make, y_ref, label in (
            ("cross_entropy_grad", _ce_dz, ce_dz, "cross-entropy (yours)"),
            ("mse_grad", _mse_dz, mse_dz, "MSE (yours)"),
        ):
            fn = student.get(key)
            yours = make(fn) if fn is not None else None
            notes.append(_overlay(grad_ax, grid, y_ref, yours, label, key, "z", magnitude=True))
    grad_ax.semilogy([z, z], np.abs([ce_dz_here, mse_dz_here]), "o", color="black", ms=5, zorder=5)
    grad_ax.set_title(f"|dL/dz| at z = {z:g}: MSE {abs(mse_dz_here):.1e}, "
                      f"CE {abs(ce_dz_here):.1e}", fontsize=10)
    _notes(grad_ax, notes, y=0.97, va="top")

    z_mse, z_ce = descend_logit(z, lr, steps)
    t = np.arange(steps + 1)
    gd_ax.plot(t, act.sigmoid(z_ce), color=_CE_COLOR, lw=2.2, marker=".", label="cross-entropy")
    gd_ax.plot(t, act.sigmoid(z_mse), color=_MSE_COLOR, lw=2.2, marker=".", label="MSE")


def _saturation_alone(loss_ax, grad_ax, gd_ax, grid, here, lr, steps, student):
    """plot_saturation's panels in a grading kernel: the notebook's functions only.

    The losses, their gradients and the descent all come from the student's
    cross_entropy, mse, cross_entropy_grad and mse_grad, with the notebook's sigmoid
    and sigmoid_grad; each one missing or failing is noted.
    """
    z = float(here[0])
    sigmoid = student.get("sigmoid")

    def curve(make, *keys):  # the curve of the student's functions ``keys``, or None
        fns = [student.get(key) for key in keys]
        return make(*fns) if all(fn is not None for fn in fns) else None

    losses = {"cross_entropy": curve(lambda ce: _ce_curve(ce, (0.0,)), "cross_entropy"),
              "mse": curve(_mse_loss, "mse", "sigmoid")}
    grads = {"cross_entropy_grad": curve(_ce_dz, "cross_entropy_grad"),
             "mse_grad": curve(_mse_dz, "mse_grad", "sigmoid", "sigmoid_grad")}
    loss_notes = [_overlay(loss_ax, grid, None, losses["cross_entropy"], "cross-entropy (yours)",
                           "cross_entropy", "z"),
                  _overlay(loss_ax, grid, None, losses["mse"], "MSE (yours)", "mse", "z",
                           color=_MSE_COLOR, uses="sigmoid")]
    loss_ax.plot([z, z], [_value_at(fn, here) for fn in losses.values()], "o",
                 color="black", ms=5, zorder=5)
    _notes(loss_ax, loss_notes, y=0.5, va="center")

    notes = [_overlay(grad_ax, grid, None, grads["cross_entropy_grad"], "cross-entropy (yours)",
                      "cross_entropy_grad", "z", magnitude=True),
             _overlay(grad_ax, grid, None, grads["mse_grad"], "MSE (yours)", "mse_grad", "z",
                      magnitude=True, color=_MSE_COLOR, uses="sigmoid, sigmoid_grad")]
    ce_dz_here, mse_dz_here = (_value_at(fn, here) for fn in grads.values())
    with np.errstate(all="ignore"):
        grad_ax.semilogy([z, z], np.abs([ce_dz_here, mse_dz_here]), "o", color="black", ms=5,
                         zorder=5)
    grad_ax.set_title(f"|dL/dz| at z = {z:g}: MSE {abs(mse_dz_here):.1e}, "
                      f"CE {abs(ce_dz_here):.1e} (yours)", fontsize=10)
    _notes(grad_ax, notes, y=0.97, va="top")

    t = np.arange(steps + 1, dtype=np.float64)
    for key, color, label in (("cross_entropy_grad", _CE_COLOR, "cross-entropy (yours)"),
                              ("mse_grad", _MSE_COLOR, "MSE (yours)")):
        path, _ = student_curve(key, _descent(grads[key], z, lr, steps) if grads[key] else None,
                                t)
        probability, _ = (student_curve("sigmoid", sigmoid, path) if path is not None
                          else (None, None))
        if probability is not None:
            gd_ax.plot(t, probability, color=color, lw=2.2, marker=".", label=label)


def saturation_explorer(student: Mapping | None = None, z=-6.0, lr=1.0):
    """An interactive view of why cross-entropy learns faster than MSE from a saturated output.

    Parameters
    ----------
    student : mapping of str -> callable, optional
        Your functions by name; in a notebook, pass ``globals()``.
    z : float
        The logit shown first (a badly saturated wrong answer by default).
    lr : float
        The learning rate of the gradient-descent panel.

    Returns
    -------
    ipywidgets.VBox
        A dashboard: where no kernel runs, it leaves its figure behind as a picture.
    """
    import ipywidgets as w

    logit = w.FloatSlider(value=z, min=-10.0, max=10.0, step=0.5, description="logit z",
                          continuous_update=False)
    rate = w.FloatSlider(value=lr, min=0.1, max=5.0, step=0.1, description="lr",
                         continuous_update=False)

    def draw():
        return plot_saturation(logit.value, rate.value, student)

    return live_dashboard("Saturation explorer", [w.HBox([logit, rate])], draw,
                          controls=(logit, rate), max_width="1150px")
