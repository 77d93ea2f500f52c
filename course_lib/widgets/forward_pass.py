r"""The widgets of notebook 02: what one hidden layer can draw, and activations through depth.

- :func:`universal_approximation_explorer`: a network 1 -> H -> 1 whose hidden
  units each add one bent or S-shaped piece; with its output layer fitted by
  least squares it shows how far H random hidden features go.
- :func:`activation_statistics_explorer`: a batch through a deep stack of dense
  layers, with good (He, Xavier) and bad (too small, too large) weights: the
  histogram, the standard deviation and the share of saturated units, layer
  by layer; the student's ``dense_forward``, ``he_init`` and ``xavier_init``
  dashed over the reference.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from .. import layers, network
from ..activations import ACTIVATIONS
from ..data import make_regression_1d
from . import _style as style
from ._render import live_dashboard, student_only
from ._student import NOT_DEFINED, StudentError, call_student, guard, say

__all__ = [
    "universal_approximation_explorer",
    "plot_universal_approximation",
    "hidden_layer_params",
    "MAX_UNITS",
    "TARGETS",
    "activation_statistics_explorer",
    "plot_activation_statistics",
    "layer_statistics",
    "INITS",
]

# ================================================================ universal approximation

DATA_TARGET = "noisy data: sin(2\u03c0x) + x"

#: Menu entry -> the target function on [-1, 1]; the first entry is 100 noisy samples
#: from :func:`course_lib.data.make_regression_1d` of the same curve.
TARGETS = {
    DATA_TARGET: lambda x: np.sin(2 * np.pi * x) + x,
    "sin(2\u03c0x) + x": lambda x: np.sin(2 * np.pi * x) + x,
    "|x|": np.abs,
    "x\u00b2": np.square,
    "step at x = 0": lambda x: (x > 0).astype(np.float64),
    "sin(5\u03c0x)": lambda x: np.sin(5 * np.pi * x),
}

_GRID = np.linspace(-1.0, 1.0, 301)
MAX_UNITS = 100


@functools.lru_cache(maxsize=1)
def _regression_data():
    X, y = make_regression_1d(n_samples=100, noise=0.1, seed=0)
    return X[:, 0], y[:, 0]


def hidden_layer_params(n_units, scale=5.0, seed=0):
    r"""Random weights of a 1 -> H -> 1 network whose hidden units bend inside [-1, 1].

    Unit j computes :math:`f(w_j x + b_j)` with slope :math:`w_j \sim \mathcal{N}(0, \text{scale}^2)`
    and :math:`b_j = -w_j k_j`, where :math:`k_j \sim U(-1, 1)` is where the unit
    bends (ReLU's kink, tanh's centre): so every unit does something on the plot.
    The output weights are :math:`v_j = u_j / \sqrt{H}` with :math:`u_j \sim \mathcal{N}(0, 1)`,
    and the output bias is 0. Unit j is the same whatever H: more units add to the others.

    Parameters
    ----------
    n_units : int
        H, from 1 to :data:`MAX_UNITS`.
    scale : float
    seed : int

    Returns
    -------
    params : dict
        ``W1`` (H, 1), ``b1`` (H,), ``W2`` (1, H), ``b2`` (1,), as
        :func:`~course_lib.network.mlp_forward` takes them.
    """
    if not 1 <= n_units <= MAX_UNITS:
        raise ValueError(f"n_units must be between 1 and {MAX_UNITS}; got {n_units}")
    rng = np.random.default_rng(seed)
    slopes = rng.normal(0.0, 1.0, size=MAX_UNITS)[:n_units] * scale
    bends = rng.uniform(-1.0, 1.0, size=MAX_UNITS)[:n_units]
    v = rng.normal(0.0, 1.0, size=MAX_UNITS)[:n_units] / np.sqrt(n_units)
    return {"W1": slopes[:, None], "b1": -slopes * bends, "W2": v[None, :], "b2": np.zeros(1)}


def _fit_output_layer(params, features, y_fit):
    """The output weights and bias that minimise the squared error of ``features`` (N, H) to y_fit."""
    design = np.column_stack([features, np.ones(len(y_fit))])  # (N, H + 1): the bias is a column
    coef, *_ = np.linalg.lstsq(design, y_fit, rcond=None)
    return {**params, "W2": coef[None, :-1], "b2": coef[-1:]}


def _network(forward, params, activation, x_fit, y_fit, fit):
    """The 1 -> H -> 1 network as ``forward`` computes it: ``(params, hidden, output, rmse)``.

    ``hidden`` (G, H) holds each unit on the grid, read through an identity output
    layer; the output layer is fitted to (x_fit, y_fit) first when ``fit``.
    Raises StudentError when ``forward`` fails (only the student's can).
    """
    def run(x, p):
        logits, note = _run_forward(forward, x[:, None], p, activation)
        if note:
            raise StudentError(note)
        return logits

    def hidden(x):
        n_units = params["W1"].shape[0]
        return run(x, {**params, "W2": np.eye(n_units), "b2": np.zeros(n_units)})

    if fit:
        features = hidden(x_fit)
        if not np.all(np.isfinite(features)):
            raise StudentError(say("mlp_forward", "made hidden units that hold inf or nan"))
        params = _fit_output_layer(params, features, y_fit)
    rmse = float(np.sqrt(np.mean((run(x_fit, params)[:, 0] - y_fit) ** 2)))
    return params, hidden(_GRID), run(_GRID, params)[:, 0], rmse


def _run_forward(forward, X, params, activation):
    """(logits or None, note or None) from the student's mlp_forward, never raising."""
    out, note = call_student("mlp_forward", forward, X.copy(),
                             {k: v.copy() for k, v in params.items()}, activation)
    if note:
        return None, note
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        return None, say("mlp_forward", "must return the pair (logits, caches)")
    try:
        logits = np.asarray(out[0], dtype=np.float64)
    except (TypeError, ValueError):
        return None, say("mlp_forward", "returned logits that are not an array of numbers")
    expected = (X.shape[0], params["W2"].shape[0])
    if logits.shape != expected:
        return None, say("mlp_forward", f"returned logits of shape {logits.shape}, "
                                        f"expected {expected}")
    return logits, None


def plot_universal_approximation(n_units=5, activation="relu", target=DATA_TARGET, scale=5.0,
                                 seed=0, fit=False, forward=None):
    """Figure of a 1 -> H -> 1 network: its hidden units (left), their sum against a target (right).

    Parameters
    ----------
    n_units : int
        H, the number of hidden units.
    activation : str
        A key of :data:`course_lib.activations.ACTIVATIONS`.
    target : str
        A key of :data:`TARGETS`.
    scale : float
        Standard deviation of the hidden units' slopes: larger gives sharper bends.
    seed : int
        Seed of the random weights (:func:`hidden_layer_params`).
    fit : bool
        Fit the output layer (its weights and bias) by least squares to the
        target; otherwise it keeps its random weights.
    forward : callable, optional
        The student's ``mlp_forward``, drawn dashed over the reference output. In a
        grading kernel it draws the whole network alone, without the reference
        (:func:`~course_lib.widgets._render.student_only`); failing, it is noted.

    Returns
    -------
    matplotlib.figure.Figure
    """
    params = hidden_layer_params(n_units, scale, seed)
    curve = TARGETS[target]
    if target == DATA_TARGET:
        x_fit, y_fit = _regression_data()
    else:
        x_fit, y_fit = _GRID, curve(_GRID)
    # whose forward pass draws the network: the reference's, or in a grading kernel yours alone
    alone = student_only()
    drawn = forward if alone else network.mlp_forward
    hidden = output = None
    rmse, note = float("nan"), None
    drawn_network, note = call_student("mlp_forward", _network if drawn else None, drawn,
                                       params, activation, x_fit, y_fit, fit)
    if drawn_network is not None:
        params, hidden, output, rmse = drawn_network
        with np.errstate(all="ignore"):  # the student's values may hold inf or nan
            contributions = hidden * params["W2"][0]  # (G, H): unit j's share v_j h_j(x)

    # a fixed layout draws in about half the time of layout="constrained"
    fig = Figure(figsize=(11, 3.9))
    fig.subplots_adjust(left=0.07, right=0.83, bottom=0.13, top=0.85, wspace=0.24)
    ax_units, ax_out = fig.subplots(1, 2)
    colors = colormaps["viridis"](np.linspace(0.0, 0.9, n_units))
    for j in range(n_units if hidden is not None else 0):
        ax_units.plot(_GRID, hidden[:, j], color=colors[j], lw=1.2)
        ax_out.plot(_GRID, contributions[:, j], color=colors[j], lw=0.9, alpha=0.55,
                    label="each unit's share $v_j h_j(x)$" if j == 0 else None)
    ax_units.set_title(f"{n_units} hidden units: $h_j(x) = \\mathrm{{{activation}}}(w_j x + b_j)$",
                       fontsize=11)
    ax_units.set_xlabel("x")
    ax_units.set_ylabel("$h_j(x)$")

    if target == DATA_TARGET:
        ax_out.plot(x_fit, y_fit, "o", color="0.25", ms=3, label="data")
    ax_out.plot(_GRID, curve(_GRID), color="0.25", lw=1.5,
                ls=":" if target == DATA_TARGET else "-", label="target")
    if output is not None:
        ax_out.plot(_GRID, output, color=style.YOURS if alone else style.REFERENCE, lw=2.5,
                    label="your mlp_forward" if alone else "network output")
    if forward is not None and not alone:
        yours, note = _run_forward(forward, _GRID[:, None], params, activation)
        if yours is not None:
            yours = yours[:, 0]
            ax_out.plot(_GRID, yours, color=style.YOURS, lw=1.6, ls="--", label="your mlp_forward")
            with np.errstate(all="ignore"):  # the student's values may hold inf or nan
                gap = np.where(np.isfinite(yours), np.abs(yours - output), np.inf)
            if not np.all(gap <= 1e-9 + 1e-6 * np.abs(output)):
                k = int(np.argmax(gap))
                note = say("mlp_forward", f"differs: at x = {_GRID[k]:.3g}, {yours[k]:.4g} "
                                          f"vs {output[k]:.4g}")
    style.note(ax_out, note)
    how = "output layer fitted by least squares" if fit else "random output layer"
    ax_out.set_title(f"output $= \\Sigma_j\\, v_j h_j(x) + c$, {how}\nRMSE to the "
                     f"{'data' if target == DATA_TARGET else 'target'}: {rmse:.3f}", fontsize=11)
    ax_out.set_xlabel("x")
    ax_out.set_ylabel("y")
    # the axes follow the target: a unit's share may leave the plot, the fit stays readable
    lo, hi = float(np.min(y_fit)), float(np.max(y_fit))
    pad = max(0.35 * (hi - lo), 0.3)
    ax_out.set_ylim(lo - pad, hi + pad)
    ax_out.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    return fig


def universal_approximation_explorer(forward=None, n_units=5, activation="relu", target=DATA_TARGET):
    """Interactive 1 -> H -> 1 network: units, activation, weights, target, least-squares output.

    Parameters
    ----------
    forward : callable, optional
        Your ``mlp_forward``: the network's output is also drawn with it.
    n_units, activation, target
        The first settings shown.

    Returns
    -------
    ipywidgets.VBox
        A dashboard: where no kernel runs, it leaves its figure behind as a picture.
    """
    import ipywidgets as w

    style = {"description_width": "initial"}
    units = w.IntSlider(value=n_units, min=1, max=MAX_UNITS, description="hidden units H",
                        continuous_update=False, style=style)
    act = w.Dropdown(options=list(ACTIVATIONS), value=activation, description="activation")
    tgt = w.Dropdown(options=list(TARGETS), value=target, description="target")
    scale = w.FloatSlider(value=5.0, min=0.5, max=30.0, step=0.5, description="slope scale",
                          continuous_update=False, style=style)
    seed = w.IntSlider(value=0, min=0, max=30, description="weights seed",
                       continuous_update=False, style=style)
    fit = w.ToggleButton(value=False, description="fit output layer by least squares",
                         icon="check", layout=w.Layout(width="260px"))

    def draw():
        return plot_universal_approximation(units.value, act.value, tgt.value, scale.value,
                                            seed.value, fit.value, forward)

    return live_dashboard("Universal approximation explorer",
                          [w.HBox([units, act, tgt]), w.HBox([scale, seed, fit])], draw,
                          controls=(units, act, tgt, scale, seed, fit))


# ================================================================ activations through depth

#: Menu entry -> how the weights of every layer are drawn.
INITS = {
    "He: std = \u221a(2 / n_in)": "he",
    "Xavier: std = \u221a(2 / (n_in + n_out))": "xavier",
    "too small: std = 0.01": "small",
    "too large: std = 1": "large",
}
_FIXED_STD = {"small": 0.01, "large": 1.0}
_SATURATED = 0.01  # a unit passes almost no gradient when f'(z) < 1% of f's largest slope
_MAX_SLOPE = {"relu": 1.0, "tanh": 1.0, "sigmoid": 0.25, "softplus": 1.0, "elu": 1.0}
_N_SAMPLES = 200


def _weights(init, width, rng, he_init, xavier_init):
    if init == "he":
        return he_init(width, width, rng)
    if init == "xavier":
        return xavier_init(width, width, rng)
    return rng.normal(0.0, _FIXED_STD[init], size=(width, width))


def layer_statistics(activation="tanh", init="xavier", depth=10, width=256, seed=0,
                     dense_forward=None, he_init=None, xavier_init=None, activations=None):
    """A batch of 200 standard normal inputs through ``depth`` dense layers of ``width`` units.

    Every layer computes H_i = f(H_{i-1} W_i^T) (biases 0), with the weights of
    every layer drawn in turn from ``np.random.default_rng(seed)``.

    Parameters
    ----------
    activation : str
    init : {"he", "xavier", "small", "large"}
    depth, width : int
    seed : int
    dense_forward, he_init, xavier_init : callable, optional
        The functions to use; the references by default.
    activations : mapping of str -> (f, f'), optional
        Where ``activation`` is looked up; :data:`course_lib.activations.ACTIVATIONS`
        by default.

    Returns
    -------
    dict with
        ``H`` (depth, 200, width), the activations of every layer;
        ``std`` (depth,), their standard deviation per layer;
        ``mean`` (depth,), their mean per layer;
        ``saturated`` (depth,), the fraction of units with f'(Z) below 1% of f's largest slope.
    """
    dense_forward = dense_forward or layers.dense_forward
    he_init = he_init or layers.he_init
    xavier_init = xavier_init or layers.xavier_init
    f, f_grad = (activations or ACTIVATIONS)[activation]
    rng = np.random.default_rng(seed)
    H = np.random.default_rng(seed + 1).normal(size=(_N_SAMPLES, width))
    bias = np.zeros(width)
    out = np.empty((depth, _N_SAMPLES, width))
    saturated = np.empty(depth)
    for i in range(depth):
        W = np.asarray(_weights(init, width, rng, he_init, xavier_init), dtype=np.float64)
        if W.shape != (width, width):
            raise ValueError(f"{init}_init returned shape {W.shape}, expected {(width, width)}")
        result = dense_forward(H, W, bias)
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise ValueError("dense_forward must return the pair (Z, cache)")
        Z = np.asarray(result[0], dtype=np.float64)
        if Z.shape != (_N_SAMPLES, width):
            raise ValueError(f"dense_forward returned Z of shape {Z.shape}, "
                             f"expected {(_N_SAMPLES, width)}")
        H = out[i] = f(Z)
        saturated[i] = np.mean(f_grad(Z) < _SATURATED * _MAX_SLOPE[activation])
    return {"H": out, "std": out.std(axis=(1, 2)), "mean": out.mean(axis=(1, 2)),
            "saturated": saturated}


@functools.lru_cache(maxsize=16)
def _reference_statistics(activation, init, depth, width, seed):
    with np.errstate(all="ignore"):
        return layer_statistics(activation, init, depth, width, seed)


def _student_statistics(student, activation, init, depth, width, seed):
    """(statistics or None, note or None) with the student's functions, never raising.

    In a grading kernel the activation is the notebook's too (its ``ACTIVATIONS``).
    """
    needed = ["dense_forward"] + {"he": ["he_init"], "xavier": ["xavier_init"]}.get(init, [])
    missing = [name for name in needed if not callable(student.get(name))]
    if missing:  # (the first one the exercise asks for: dense_forward before the inits)
        return None, say(missing[0], NOT_DEFINED)
    fns = {name: guard(name, student[name]) for name in needed}
    if student_only():
        pair = student.get("ACTIVATIONS", {})
        pair = pair.get(activation) if isinstance(pair, Mapping) else None
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and all(map(callable, pair))):
            return None, say(f"ACTIVATIONS[{activation!r}]", "is not a pair (f, f') yet")
        fns["activations"] = {activation: (guard(activation, pair[0]),
                                           guard(f"{activation}_grad", pair[1]))}

    def statistics():
        try:
            return layer_statistics(activation, init, depth, width, seed, **fns)
        except ValueError as exc:  # what one of the functions returned, named by the message
            raise StudentError(f"your {exc}") from None

    return call_student("code", statistics)


def _histogram_axis(activation, H):
    """(transform of H, x range, x label) for the histograms of one activation."""
    if activation == "tanh":
        return (lambda h: h), (-1.0, 1.0), "activation $h$"
    if activation == "sigmoid":
        return (lambda h: h), (0.0, 1.0), "activation $h$"
    # unbounded above: show orders of magnitude, so that vanishing and exploding both show
    positive = H[(H > 0) & np.isfinite(H)]
    logs = np.log10(positive) if positive.size else np.zeros(1)
    lo, hi = np.floor(np.percentile(logs, 0.5)) - 1, np.ceil(np.percentile(logs, 99.5)) + 1
    if hi - lo < 6:
        lo, hi = (lo + hi) / 2 - 3, (lo + hi) / 2 + 3
    return ((lambda h: np.log10(h[h > 0])), (float(lo), float(hi)),
            "$\\log_{10} h$ over $h > 0$ (the zeros are left out)")


def plot_activation_statistics(activation="tanh", init="xavier", depth=10, width=256, seed=0,
                               student=None):
    """Figure of the activations through ``depth`` layers: histograms, std and saturation per layer.

    Parameters
    ----------
    activation : {"tanh", "relu", "sigmoid", "softplus", "elu"}
    init : str
        A value of :data:`INITS` (``"he"``, ``"xavier"``, ``"small"``, ``"large"``).
    depth, width : int
        Number of layers, and units in every layer (and inputs of the first).
    seed : int
    student : mapping of str -> callable, optional
        The student's ``dense_forward``, ``he_init`` and ``xavier_init`` by name
        (``globals()`` in a notebook): their curves are drawn dashed over the
        reference; missing or failing ones are noted, never raised. In a grading
        kernel they are drawn alone, with the notebook's ``ACTIVATIONS``
        (:func:`~course_lib.widgets._render.student_only`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    # a graded notebook: its own functions only (student_only), no reference drawn
    alone = student_only()
    ref = None if alone else _reference_statistics(activation, init, depth, width, seed)
    yours, note = (None, None)
    if student is not None or alone:
        yours, note = _student_statistics(student or {}, activation, init, depth, width, seed)
        if yours is not None and ref is not None:
            with np.errstate(all="ignore"):  # the student's values may hold inf or nan
                same = np.isclose(yours["std"], ref["std"], rtol=1e-6, atol=1e-300)
            if not same.all():
                k = int(np.argmin(same))
                note = say("code", f"differs from layer {k + 1} on: std {yours['std'][k]:.3g} "
                                   f"vs {ref['std'][k]:.3g}")

    fig = Figure(figsize=(12, 3.8))  # a fixed layout: twice as fast as "constrained"
    fig.subplots_adjust(left=0.055, right=0.985, bottom=0.14, top=0.82, wspace=0.28)
    ax_hist, ax_std, ax_sat = fig.subplots(1, 3, width_ratios=[1.3, 1, 1])
    shown = ref if ref is not None else yours  # the histograms: of the reference, or of yours
    H = shown["H"] if shown is not None else np.zeros((0, 1, 1))
    transform, span, xlabel = _histogram_axis(activation, H)
    cmap = colormaps["viridis"]
    bins = np.linspace(*span, 61)
    centres = 0.5 * (bins[1:] + bins[:-1])
    for i in range(len(H)):
        with np.errstate(all="ignore"):
            values = transform(H[i])
        counts, _ = np.histogram(values[np.isfinite(values)], bins=bins)
        share = counts / max(H[i].size, 1)
        label = f"layer {i + 1}" if i in (0, depth // 2, depth - 1) else None
        ax_hist.plot(centres, share, color=cmap(i / max(depth - 1, 1) * 0.9), lw=1.3, label=label)
    ax_hist.set_title("histogram of $h_i$ in every layer" + (" (yours)" if alone else ""))
    ax_hist.set_xlabel(xlabel)
    ax_hist.set_ylabel("share of the values")
    if len(H):
        ax_hist.legend(loc="upper right", fontsize=8)

    layer = np.arange(1, depth + 1)
    for ax, key in ((ax_std, "std"), (ax_sat, "saturated")):
        if ref is not None:
            ax.plot(layer, np.maximum(ref[key], 1e-300) if key == "std" else ref[key], "o-",
                    color=style.REFERENCE, lw=2.5, ms=4, label="reference")
        if yours is not None:
            ax.plot(layer, np.maximum(yours[key], 1e-300) if key == "std" else yours[key], "s--",
                    color=style.YOURS, lw=1.6, ms=3, label="yours")
        ax.set_xlabel("layer $i$")
        if shown is not None:
            ax.legend(loc="best", fontsize=8)
    ax_std.set_yscale("log")
    ax_std.axhline(1.0, color="0.6", lw=1, ls=":", zorder=0)  # the inputs' std
    # at least 1e-2 .. 1e2 shown, so small wobbles do not look like trends
    stds = np.concatenate([stats["std"] for stats in (ref, yours) if stats is not None] or [[]])
    stds = stds[np.isfinite(stds) & (stds > 0)]  # both curves fit, yours even when it is wrong
    lo = min(float(stds.min()) if stds.size else 1.0, 1e-2)
    hi = max(float(stds.max()) if stds.size else 1.0, 1e2)
    ax_std.set_ylim(lo / 3, hi * 3)
    ax_std.set_title("standard deviation of $h_i$ (input: 1)")
    ax_std.set_ylabel("std (log scale)")
    ax_sat.set_ylim(-0.03, 1.03)
    ax_sat.set_title("units passing almost no gradient")
    ax_sat.set_ylabel("share with $f'(z)$ < 1% of its peak")
    style.note(ax_std, note)
    label = next(k for k, v in INITS.items() if v == init)
    fig.suptitle(f"{depth} {activation} layers of {width} units, weights {label}", fontsize=12)
    return fig


def activation_statistics_explorer(student: Mapping | None = None, activation="tanh",
                                   init="xavier", depth=10, width=256):
    """Interactive view of the activations through a deep network, for good and bad inits.

    Parameters
    ----------
    student : mapping of str -> callable, optional
        Your functions by name; in a notebook, pass ``globals()``.
    activation, init, depth, width
        The first settings shown.

    Returns
    -------
    ipywidgets.VBox
        A dashboard: where no kernel runs, it leaves its figure behind as a picture.
    """
    import ipywidgets as w

    style = {"description_width": "initial"}
    act = w.ToggleButtons(options=["tanh", "relu", "sigmoid"], value=activation,
                          description="activation", style={"button_width": "70px"})
    ini = w.Dropdown(options=list(INITS.items()), value=init, description="weights",
                     layout=w.Layout(width="330px"))
    deep = w.IntSlider(value=depth, min=1, max=20, description="layers",
                       continuous_update=False, style=style)
    wide = w.Dropdown(options=[16, 64, 256, 512], value=width, description="units per layer",
                      style=style, layout=w.Layout(width="200px"))

    def draw():
        return plot_activation_statistics(act.value, ini.value, deep.value, wide.value, 0,
                                          student)

    return live_dashboard("Activation statistics layer by layer",
                          [w.HBox([act, ini]), w.HBox([deep, wide])], draw,
                          controls=(act, ini, deep, wide), max_width="1200px")
