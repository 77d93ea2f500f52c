"""The gradient-norm explorer of notebook 04: how gradients shrink or grow with depth.

A deep MLP of 64-unit layers runs forward and backward on a fixed random batch.
The left panel shows the spread of each layer's pre-activations Z_i (forward),
the right panel the norm of each layer's weight gradient dW_i (backward), on log
scales, for sigmoid, tanh and ReLU side by side. The reference computes the
curves; the student's ``mlp_backward``, when given, is run on the same caches
and drawn over the reference. In a grading kernel no reference runs
(:func:`~course_lib.widgets._render.student_only`): the notebook's own
``mlp_forward`` and ``cross_entropy_grad`` make the caches, and the student's
``mlp_backward`` alone draws the gradients.
"""

from __future__ import annotations

import copy
from functools import lru_cache

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .. import network
from ..losses import cross_entropy_grad
from . import _style as style
from ._render import live_dashboard, notebook_of, student_only
from ._student import StudentError, call_student, guard, say

__all__ = ["gradient_norm_explorer", "plot_gradient_norms", "gradient_norms", "make_network",
           "INITS", "ACTIVATION_COLORS"]

WIDTH = 64  # units per layer, and inputs
N_CLASSES = 10
N_SAMPLES = 32  # small enough that BLAS runs each product on one thread: no thread start-up
SEED = 0

#: Menu label -> init key of :func:`make_network`.
INITS = {"He": "he", "Xavier": "xavier", "fixed std": "fixed"}
#: The activations compared, with their colours.
ACTIVATION_COLORS = {"sigmoid": style.BLUE, "tanh": style.GREEN, "relu": style.ORANGE}
_FLOOR = 1e-300  # a norm that underflows to 0 is drawn here, not dropped by the log scale


def make_network(n_layers, init="xavier", std=0.1, seed=SEED):
    """The network and batch the explorer uses: ``(params, X, y)``.

    ``n_layers`` dense layers: ``n_layers - 1`` hidden layers of 64 units, then
    10 outputs; 64 inputs, 32 standard-normal samples, random labels. The
    activation is not an argument: every activation is compared on the same weights.

    The weights are drawn here, as :func:`~course_lib.layers.he_init` and
    :func:`~course_lib.layers.xavier_init` draw them, so that no exercise's code
    runs (a grading kernel withholds them).

    Parameters
    ----------
    n_layers : int, at least 1
    init : {"he", "xavier", "fixed"}
        He: std sqrt(2 / fan-in); Xavier: std sqrt(2 / (fan-in + fan-out));
        fixed: std ``std`` for every weight. Biases are 0.
    std : float
        The weights' standard deviation for ``init="fixed"``.
    seed : int

    Returns
    -------
    params : dict of str -> ndarray
    X : ndarray, shape (32, 64)
    y : ndarray of int, shape (32,)
    """
    rng = np.random.default_rng(seed)
    X = rng.normal(0.0, 1.0, size=(N_SAMPLES, WIDTH))
    y = rng.integers(0, N_CLASSES, size=N_SAMPLES)
    if init not in INITS.values():
        raise ValueError(f"init must be one of {sorted(INITS.values())}; got {init!r}")
    params = {}
    for i, (m_out, m_in) in enumerate(_shapes(n_layers), start=1):
        scale = {"he": np.sqrt(2.0 / m_in), "xavier": np.sqrt(2.0 / (m_in + m_out)),
                 "fixed": std}[init]
        params[f"W{i}"] = rng.normal(0.0, scale, size=(m_out, m_in))
        params[f"b{i}"] = np.zeros(m_out)
    return params, X, y


def _shapes(n_layers):
    """The shape of each W_i of the explorer's network: (64, 64), ..., (10, 64)."""
    sizes = [WIDTH] * n_layers + [N_CLASSES]
    return list(zip(sizes[1:], sizes[:-1], strict=True))


@lru_cache(maxsize=256)
def _reference(n_layers, activation, init, std):
    """(dlogits, caches, std of each Z_i, norm of each dW_i), computed once per setting."""
    params, X, y = make_network(n_layers, init, std)
    with np.errstate(all="ignore"):  # a fixed std of 3 makes huge logits: no warnings for that
        logits, caches = network.mlp_forward(X, params, activation)
        dlogits = cross_entropy_grad(logits, y)
        grads = network.mlp_backward(dlogits, caches, activation)
    z_std = np.array([Z.std() for _, Z in caches])
    dw_norm = np.array([np.linalg.norm(grads[f"W{i}"]) for i in range(1, n_layers + 1)])
    for array in (dlogits, z_std, dw_norm):
        array.flags.writeable = False  # cached: shared by every call
    return dlogits, caches, z_std, dw_norm


def gradient_norms(n_layers, activation, init="xavier", std=0.1):
    """Per layer i = 1..L: the std of Z_i and the Euclidean norm of dW_i (the reference's).

    Returns
    -------
    z_std : ndarray, shape (L,)
    dw_norm : ndarray, shape (L,)
    """
    _, _, z_std, dw_norm = _reference(int(n_layers), activation, init, float(std))
    return z_std.copy(), dw_norm.copy()


def _students_norms(backward, dlogits, caches, activation):
    """(norms of the student's dW_i from ``caches``, or None; a note, or None). Never raises."""
    n_layers = len(caches)
    grads, note = call_student("mlp_backward", backward, dlogits.copy(), copy.deepcopy(caches),
                               activation)
    if note:
        return None, note
    keys = [f"W{i}" for i in range(1, n_layers + 1)]
    if not isinstance(grads, dict) or any(key not in grads for key in keys):
        return None, say("mlp_backward", "did not return a dict with keys W1, b1, ...")
    norms = []
    for key, W_shape in zip(keys, _shapes(n_layers), strict=True):
        shape = np.shape(grads[key])
        if shape != W_shape:
            return None, say("mlp_backward", f"returned {key} of shape {shape}, "
                                             f"{key} has {W_shape}")
        try:
            norms.append(float(np.linalg.norm(np.asarray(grads[key], dtype=np.float64))))
        except (TypeError, ValueError):
            return None, say("mlp_backward", f"returned a {key} that is not an array of numbers")
    return np.array(norms), None


def _notebooks_norms(backward, n_layers, activation, init, std):
    """(std of each Z_i, norm of each dW_i, note) with the notebook's code alone, never raising.

    The caches come from the ``mlp_forward`` and ``cross_entropy_grad`` of the
    notebook ``backward`` was written in; then ``backward`` runs on them.
    """
    notebook = notebook_of(backward)
    missing = [name for name in ("mlp_forward", "cross_entropy_grad")
               if not callable(notebook.get(name))]
    if missing:
        return None, None, f"yours: {' and '.join(missing)} not found beside your mlp_backward"
    params, X, y = make_network(n_layers, init, std)

    def forward():
        logits, caches = guard("mlp_forward", notebook["mlp_forward"])(X, params, activation)
        try:
            z_std = np.array([np.std(np.asarray(Z, dtype=np.float64)) for _, Z in caches])
        except (TypeError, ValueError):
            raise StudentError(say("mlp_forward", "returned caches that are not (cache, Z) "
                                                  "pairs")) from None
        dlogits = guard("cross_entropy_grad", notebook["cross_entropy_grad"])(logits, y)
        return np.asarray(dlogits, dtype=np.float64), caches, z_std

    found, note = call_student("mlp_forward", forward)
    if note:
        return None, None, note
    dlogits, caches, z_std = found
    if z_std.shape != (n_layers,):
        return None, None, say("mlp_forward", f"returned {len(z_std)} caches, not {n_layers}")
    dw_norm, note = _students_norms(backward, dlogits, caches, activation)
    return z_std, dw_norm, note


def plot_gradient_norms(n_layers=10, init="xavier", std=0.1, activations=("sigmoid", "relu"),
                        student_backward=None):
    """Figure: std of Z_i (left) and norm of dW_i (right) per layer, on log scales.

    Parameters
    ----------
    n_layers : int
        Dense layers L (L - 1 hidden layers of 64 units).
    init : {"he", "xavier", "fixed"}
    std : float
        The weights' std when ``init="fixed"``.
    activations : sequence of str
        Keys of :data:`ACTIVATION_COLORS` to draw.
    student_backward : callable, optional
        The student's ``mlp_backward(dlogits, caches, activation)``: its norms are
        drawn as crosses over the reference. Unfinished or failing code is noted
        on the figure, never raised. The reference itself is not drawn twice. In a
        grading kernel it is drawn alone, on the caches of the notebook's own
        ``mlp_forward`` and ``cross_entropy_grad``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    n_layers, std = int(n_layers), float(std)
    layer = np.arange(1, n_layers + 1)
    fig = Figure(figsize=(10, 4.3), layout="constrained")
    ax_fwd, ax_bwd = fig.subplots(1, 2, sharex=True)
    handles, notes = [], []
    alone = student_only()  # a graded notebook: its own code only, no reference drawn
    if alone and student_backward is None:
        notes.append("yours: mlp_backward not given")
    if student_backward is network.mlp_backward and not alone:
        notes.append("your mlp_backward does not pass its checks yet: the reference only")
        student_backward = None
    drew_yours = False
    for activation in activations:
        color = ACTIVATION_COLORS[activation]
        if not alone:
            z_std, dw_norm = gradient_norms(n_layers, activation, init, std)
        elif student_backward is None:
            continue
        else:
            z_std, dw_norm, note = _notebooks_norms(student_backward, n_layers, activation,
                                                    init, std)
            if dw_norm is None:
                notes.append(note)
                continue
        ax_fwd.plot(layer, np.maximum(z_std, _FLOOR), "o-", color=color, lw=2, ms=4)
        ratio = dw_norm[0] / max(dw_norm[-1], _FLOOR)
        handles += ax_bwd.plot(layer, np.maximum(dw_norm, _FLOOR), "o-", color=color, lw=2, ms=4,
                               label=f"{activation}{' (yours)' if alone else ''}: "
                                     f"||dW_1|| / ||dW_{n_layers}|| = {ratio:.1e}")
        if student_backward is None or alone:
            continue
        dlogits, caches, _, _ = _reference(n_layers, activation, init, std)
        yours, note = _students_norms(student_backward, dlogits, caches, activation)
        if yours is None:
            notes.append(note)
            continue
        ax_bwd.plot(layer, np.maximum(yours, _FLOOR), "x", color=style.YOURS, ms=8, mew=1.5)
        drew_yours = True
        close = np.isclose(yours, dw_norm, rtol=1e-6, atol=0.0)
        if not close.all():
            k = int(np.argmin(close))
            notes.append(f"yours differs for {activation}: at layer {k + 1}, "
                         f"{yours[k]:.3g} instead of {dw_norm[k]:.3g}")
    if drew_yours:
        handles.append(Line2D([], [], ls="none", marker="x", color=style.YOURS, ms=8, mew=1.5,
                              label="your mlp_backward"))
    init_text = {"he": "He init", "xavier": "Xavier init", "fixed": f"weights' std {std:.3g}"}
    ax_fwd.set_title(f"forward: spread of Z_i ({n_layers} layers, {init_text.get(init, init)})")
    ax_fwd.set_ylabel("std of Z_i (log scale)")
    ax_bwd.set_title("backward: size of the weight gradients")
    ax_bwd.set_ylabel("||dW_i|| (log scale)")
    for ax in (ax_fwd, ax_bwd):
        ax.set_yscale("log")
        ax.set_xlabel("layer i (1 = next to the input)")
        ax.grid(True, which="major", color="0.9")
        ax.xaxis.get_major_locator().set_params(integer=True)
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=9,
                   frameon=False)
    else:
        for ax in (ax_fwd, ax_bwd):
            ax.text(0.5, 0.5, "nothing drawn: see above" if activations and notes
                    else "tick an activation to draw", transform=ax.transAxes,
                    ha="center", va="center", color="0.4")
    if notes:
        # above both panels, where no curve runs: a note box over them would hide a curve
        fig.suptitle("\n".join(dict.fromkeys(notes)), color=style.YOURS, fontsize=10)
    return fig


def gradient_norm_explorer(student_backward=None, n_layers=10, init="xavier",
                           activations=("sigmoid", "relu")):
    """Interactive: per-layer gradient norms as depth, initialisation and activation change.

    Parameters
    ----------
    student_backward : callable, optional
        Your ``mlp_backward``; its norms are drawn over the reference's.
    n_layers : int, default 10
        The depth shown first (2 to 20).
    init : {"he", "xavier", "fixed"}, default "xavier"
    activations : sequence of str
        The activations ticked first.

    Returns
    -------
    ipywidgets.VBox
        A dashboard: where no kernel runs, it leaves its figure behind as a picture.
    """
    import ipywidgets as w

    depth = w.IntSlider(value=n_layers, min=2, max=20, description="layers",
                        continuous_update=False)
    init_menu = w.Dropdown(options=list(INITS.items()), value=init, description="init")
    std = w.FloatLogSlider(value=0.1, base=10, min=-2, max=0.5, step=0.05, description="std",
                           continuous_update=False, readout_format=".3f")
    ticks = {name: w.Checkbox(value=name in activations, description=name, indent=False,
                              layout=w.Layout(width="80px"))
             for name in ACTIVATION_COLORS}

    def draw():
        std.layout.display = "" if init_menu.value == "fixed" else "none"
        chosen = tuple(name for name, box in ticks.items() if box.value)
        return plot_gradient_norms(depth.value, init_menu.value, std.value, chosen,
                                   student_backward)

    return live_dashboard("Gradient norms layer by layer",
                          [w.HBox([depth, init_menu, std]), w.HBox(list(ticks.values()))], draw,
                          controls=(depth, init_menu, std, *ticks.values()))
