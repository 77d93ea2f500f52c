"""The gradient-norm explorer of notebook 04: how gradients shrink or grow with depth.

A deep MLP of 64-unit layers runs forward and backward on a fixed random batch.
The left panel shows the spread of each layer's pre-activations Z_i (forward),
the right panel the norm of each layer's weight gradient dW_i (backward), on log
scales, for sigmoid, tanh and ReLU side by side. The reference computes the
curves; the student's ``mlp_backward``, when given, is run on the same caches
and drawn over the reference.
"""

from __future__ import annotations

import copy
from functools import lru_cache

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .. import network
from ..layers import he_init, xavier_init
from ..losses import cross_entropy_grad
from ._render import dashboard, figure_png

__all__ = ["gradient_norm_explorer", "plot_gradient_norms", "gradient_norms", "make_network",
           "INITS", "ACTIVATION_COLORS"]

WIDTH = 64  # units per layer, and inputs
N_CLASSES = 10
N_SAMPLES = 32  # small enough that BLAS runs each product on one thread: no thread start-up
SEED = 0

#: Menu label -> init key of :func:`make_network`.
INITS = {"He": "he", "Xavier": "xavier", "fixed std": "fixed"}
#: The activations compared, with their colours.
ACTIVATION_COLORS = {"sigmoid": "#1f77b4", "tanh": "#2ca02c", "relu": "#ff7f0e"}
_YOURS_COLOR = "#d62728"
_FLOOR = 1e-300  # a norm that underflows to 0 is drawn here, not dropped by the log scale


def make_network(n_layers, init="xavier", std=0.1, seed=SEED):
    """The network and batch the explorer uses: ``(params, X, y)``.

    ``n_layers`` dense layers: ``n_layers - 1`` hidden layers of 64 units, then
    10 outputs; 64 inputs, 32 standard-normal samples, random labels. The
    activation is not an argument: every activation is compared on the same weights.

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
    sizes = [WIDTH] * n_layers + [N_CLASSES]
    params = {}
    for i, (m_in, m_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        if init == "he":
            W = he_init(m_in, m_out, rng)
        elif init == "xavier":
            W = xavier_init(m_in, m_out, rng)
        elif init == "fixed":
            W = rng.normal(0.0, std, size=(m_out, m_in))
        else:
            raise ValueError(f"init must be one of {sorted(INITS.values())}; got {init!r}")
        params[f"W{i}"], params[f"b{i}"] = W, np.zeros(m_out)
    return params, X, y


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


def _students_norms(backward, n_layers, activation, init, std):
    """(norms of the student's dW_i, or None; a note, or None). Never raises."""
    dlogits, caches, _, _ = _reference(n_layers, activation, init, std)
    try:
        with np.errstate(all="ignore"):
            grads = backward(dlogits.copy(), copy.deepcopy(caches), activation)
    except NotImplementedError:
        return None, "yours: not implemented yet"
    except Exception as exc:  # whatever the student's code raises is shown, not raised
        return None, f"yours raised {type(exc).__name__}: {str(exc)[:50]}"
    keys = [f"W{i}" for i in range(1, n_layers + 1)]
    if not isinstance(grads, dict) or any(key not in grads for key in keys):
        return None, "yours did not return a dict with keys W1, b1, ..."
    norms = []
    for i, key in enumerate(keys):
        shape = np.shape(grads[key])
        if shape != caches[i][0][1].shape:
            return None, f"yours: {key} has shape {shape}, W{i + 1} {caches[i][0][1].shape}"
        try:
            norms.append(float(np.linalg.norm(np.asarray(grads[key], dtype=np.float64))))
        except (TypeError, ValueError):
            return None, f"yours: {key} is not an array of numbers"
    return np.array(norms), None


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
        on the figure, never raised. The reference itself is not drawn twice.

    Returns
    -------
    matplotlib.figure.Figure
    """
    n_layers, std = int(n_layers), float(std)
    layer = np.arange(1, n_layers + 1)
    fig = Figure(figsize=(10, 4.3), layout="constrained")
    ax_fwd, ax_bwd = fig.subplots(1, 2, sharex=True)
    handles, notes = [], []
    if student_backward is network.mlp_backward:
        notes.append("your mlp_backward does not pass its checks yet: the reference only")
        student_backward = None
    drew_yours = False
    for activation in activations:
        color = ACTIVATION_COLORS[activation]
        z_std, dw_norm = gradient_norms(n_layers, activation, init, std)
        ax_fwd.plot(layer, np.maximum(z_std, _FLOOR), "o-", color=color, lw=2, ms=4)
        ratio = dw_norm[0] / max(dw_norm[-1], _FLOOR)
        handles += ax_bwd.plot(layer, np.maximum(dw_norm, _FLOOR), "o-", color=color, lw=2, ms=4,
                               label=f"{activation}: ||dW_1|| / ||dW_{n_layers}|| = {ratio:.1e}")
        if student_backward is None:
            continue
        yours, note = _students_norms(student_backward, n_layers, activation, init, std)
        if yours is None:
            notes.append(note)
            continue
        ax_bwd.plot(layer, np.maximum(yours, _FLOOR), "x", color=_YOURS_COLOR, ms=8, mew=1.5)
        drew_yours = True
        close = np.isclose(yours, dw_norm, rtol=1e-6, atol=0.0)
        if not close.all():
            k = int(np.argmin(close))
            notes.append(f"yours differs for {activation}: at layer {k + 1}, "
                         f"{yours[k]:.3g} instead of {dw_norm[k]:.3g}")
    if drew_yours:
        handles.append(Line2D([], [], ls="none", marker="x", color=_YOURS_COLOR, ms=8, mew=1.5,
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
            ax.text(0.5, 0.5, "tick an activation to draw", transform=ax.transAxes,
                    ha="center", va="center", color="0.4")
    if notes:
        fig.suptitle("\n".join(dict.fromkeys(notes)), color=_YOURS_COLOR, fontsize=10)
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
    image = w.Image(format="png", layout=w.Layout(width="100%", max_width="1000px"))

    def redraw(_=None):
        std.layout.display = "" if init_menu.value == "fixed" else "none"
        chosen = tuple(name for name, box in ticks.items() if box.value)
        image.value = figure_png(plot_gradient_norms(depth.value, init_menu.value, std.value,
                                                     chosen, student_backward))

    for control in (depth, init_menu, std, *ticks.values()):
        control.observe(redraw, names="value")
    redraw()
    return dashboard([w.HBox([depth, init_menu, std]), w.HBox(list(ticks.values())), image],
                     image, "Gradient norms layer by layer")
