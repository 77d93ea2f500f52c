r"""The widget of notebook 08: how the gradient fares through depth, in a plain and a residual net.

The deep network of :mod:`course_lib.residual` (an input layer 64 → 64, L blocks 64 → 64, a
linear output layer 64 → 10: n = L + 2 weight matrices) runs forward and backward once, at
its initialisation, on the fixed batch of the notebook: the first 64 training digits of
:func:`~course_lib.data.load_digits`. Twice, on the same draws: as a plain network, and as a
residual one whose blocks compute :math:`H + f(H W^\top + b)`. Three panels:

- :math:`\lVert dW_i \rVert` against the layer i, log scale: plain (circles) and residual
  (squares), with :math:`\lVert dW_1 \rVert / \lVert dW_n \rVert` of each in the legend;
- :math:`\lVert dH_i \rVert`, the gradient with respect to each layer's output (the logits
  for i = n): the quantity that vanishes or not. In the residual sigmoid net
  :math:`\lVert dW_i \rVert` rises toward the output because H grows by about 1/2 a block
  (σ(0) = 1/2), while :math:`\lVert dH_i \rVert` stays flat: the identity path, made visible;
- the histograms of the pre-activations :math:`Z_1` (layer 1, the same in both nets) and
  :math:`Z_{L+1}` (the last block's): a sigmoid's or tanh's saturation, ReLU's growth when the
  weights are too large.

The weights are those of ``deep_init(64, 64, L, 10, activation, residual, seed=0)`` (He for
ReLU and ELU, Xavier for tanh and sigmoid, a residual block's W divided by L), every W then
times the init scale s. They are drawn here, as ``deep_init`` draws them, so that no
exercise's code runs for them (a grading kernel withholds ``deep_init``, an exercise of 08).
:func:`plot_depth` draws the figure, :func:`depth_explorer` puts the controls on it.

The student's ``deep_backward`` (``globals()`` in a notebook), when given, runs on the
reference's caches and its :math:`\lVert dW_i \rVert` are drawn as red crosses over both
nets; the student's ``deep_forward`` is checked against the reference's logits and
pre-activations, and ``layer_gradient_norms`` against the reference's norms. What is missing,
is the reference (the notebook went on with it), fails or differs is noted on the figure,
never raised. In a
grading kernel no reference runs (:func:`~course_lib.widgets._render.student_only`): the
student's ``deep_forward`` and ``deep_backward`` alone draw the norms and the histograms,
and :math:`\lVert dH_i \rVert`, which only the course's backward pass gives, is not drawn.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from .. import residual as ref
from ..data import load_digits
from ..layers import activation_backward, dense_backward
from ..losses import cross_entropy_grad
from . import _style as style
from ._render import live_dashboard, student_only
from ._student import NOT_DEFINED, StudentError, call_student, guard, say
from .regularization import _one_blas_thread

__all__ = ["ACTIVATION_MENU", "INIT_OF", "KINDS", "WIDTH", "N_CLASSES", "N_SAMPLES", "SEED",
           "DEPTH_RANGE", "SCALE_RANGE", "fixed_batch", "make_params", "depth_curves",
           "saturation_threshold", "plot_depth", "depth_explorer"]

#: menu label -> the activation's key in :data:`course_lib.activations.ACTIVATIONS`
ACTIVATION_MENU = {"sigmoid": "sigmoid", "tanh": "tanh", "ReLU": "relu", "ELU": "elu"}
#: the initialisation ``ACTIVATIONS[a].init`` names, written out: a grading kernel's
#: ACTIVATIONS is the course's, and this module reads nothing of it there
INIT_OF = {"sigmoid": "xavier", "tanh": "xavier", "relu": "he", "elu": "he"}
#: the two networks compared, drawn in this order: the ``residual`` flag of each
KINDS = {"plain": False, "residual": True}
WIDTH = 64  # units per layer, and the digits' 64 pixels
N_CLASSES = 10
N_SAMPLES = 64  # the notebook's fixed batch
SEED = 0
#: the depth slider's blocks L, and the init scale slider's s
DEPTH_RANGE = (2, 50)
SCALE_RANGE = (0.25, 4.0)
_FLOOR = 1e-300  # a norm that underflows to 0 is drawn here, not dropped by the log scale
_COLORS = {"plain": style.BLUE, "residual": style.ORANGE}
_MARKERS = {"plain": "o", "residual": "s"}
_FIRST = style.GREEN  # the histogram of Z_1, the same in both nets
#: a unit is saturated where its slope is below this share of the activation's largest
_SATURATED = 0.1
_DPI = 90  # redrawn on every move of a slider: a smaller PNG is a quicker one


@functools.cache
def fixed_batch():
    """``(X, y)``: the first 64 training digits of :func:`~course_lib.data.load_digits`.

    Read-only: every picture shares them.
    """
    X_train, _, y_train, _ = load_digits()
    X, y = X_train[:N_SAMPLES].copy(), y_train[:N_SAMPLES].copy()
    for array in (X, y):
        array.flags.writeable = False
    return X, y


def make_params(activation, depth, residual, scale=1.0, seed=SEED):
    """The picture's weights: ``deep_init``'s for a 64-64-…-10 net, every W times ``scale``.

    The weights of ``deep_init(64, 64, depth, 10, activation, residual, seed)``, drawn here
    as :func:`course_lib.residual.deep_init` draws them (one generator, layer after layer;
    He, std :math:`\\sqrt{2/m_{in}}`, for ReLU and ELU, Xavier, std
    :math:`\\sqrt{2/(m_{in} + m_{out})}`, for tanh and sigmoid; a residual block's W divided
    by the depth; biases 0), so that no exercise's code runs; then every W is multiplied
    by ``scale``. The plain and the residual net of one seed share their draws.

    Returns
    -------
    dict of str -> ndarray
        ``W1`` (64, 64), ``b1``, …, ``W{depth+2}`` (10, 64), ``b{depth+2}``.
    """
    depth = int(depth)
    sizes = [WIDTH] + [WIDTH] * (depth + 1) + [N_CLASSES]
    n_layers = depth + 2
    rng = np.random.default_rng(seed)
    params = {}
    for i, (m_in, m_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        std = np.sqrt(2.0 / m_in) if INIT_OF[activation] == "he" else np.sqrt(2.0 / (m_in + m_out))
        W = rng.normal(0.0, std, size=(m_out, m_in))
        if residual and 1 < i < n_layers:
            W /= depth  # deep_init's branch scaling
        params[f"W{i}"] = W * scale
        params[f"b{i}"] = np.zeros(m_out)
    return params


def _shapes(depth):
    """The shape of each W_i: (64, 64) for the input layer and the blocks, (10, 64) last."""
    return [(WIDTH, WIDTH)] * (depth + 1) + [(N_CLASSES, WIDTH)]


def _forward_caches(activation, depth, scale, residual):
    """The reference's ``(params, logits, caches, dlogits)`` for one net of the picture."""
    X, y = fixed_batch()
    params = make_params(activation, depth, residual, scale)
    with np.errstate(all="ignore"):  # s = 4 makes huge logits: no warnings for that
        logits, caches = ref.deep_forward(X, params, activation, residual)
        dlogits = cross_entropy_grad(logits, y)
    return params, logits, caches, dlogits


def _output_gradients(dlogits, caches, activation, residual):
    """‖dH_i‖ for i = 1 … n: the gradient of the loss with respect to each layer's output.

    The backward pass of :func:`course_lib.residual.deep_backward`, step by step, keeping
    the gradient that reaches each H_i (dH_n is ``dlogits``, the output layer's).
    """
    n_layers = len(caches)
    norms = np.empty(n_layers)
    norms[-1] = np.linalg.norm(dlogits)
    dH, _, _ = dense_backward(dlogits, caches[-1][0])  # through the linear output layer
    for i in range(n_layers - 1, 1, -1):  # dH is dH_i: what reaches layer i's output
        norms[i - 1] = np.linalg.norm(dH)
        if residual:  # a block: the identity path plus the branch
            dH, _, _ = ref.residual_backward(dH, caches[i - 1], activation)
        else:
            dense_cache, Z = caches[i - 1]
            dH, _, _ = dense_backward(activation_backward(dH, Z, activation), dense_cache)
    norms[0] = np.linalg.norm(dH)
    return norms


@functools.lru_cache(maxsize=128)
def _reference(activation, depth, scale):
    """kind -> (‖dW_i‖, ‖dH_i‖, Z_1, Z_{L+1}, logits), computed once per setting, read-only.

    Only these are kept (at depth 50 a net's caches are 3 MB): the student's backward pass
    gets caches computed again (:func:`_forward_caches`, a few milliseconds).
    """
    found = {}
    with _one_blas_thread(), np.errstate(all="ignore"):
        for kind, residual in KINDS.items():
            _, logits, caches, dlogits = _forward_caches(activation, depth, scale, residual)
            grads = ref.deep_backward(dlogits, caches, activation, residual)
            arrays = (ref.layer_gradient_norms(grads),
                      _output_gradients(dlogits, caches, activation, residual),
                      caches[0][1], caches[depth][1], logits)
            for array in arrays:
                array.flags.writeable = False  # cached: shared by every call
            found[kind] = arrays
    return found


def depth_curves(activation="sigmoid", depth=20, scale=1.0):
    """What the picture shows, the reference's: per net, its norms and pre-activations.

    Parameters
    ----------
    activation : str
        A value of :data:`ACTIVATION_MENU`.
    depth : int
        Blocks L; the nets have n = L + 2 weight matrices.
    scale : float
        Every W of the initialisation times this.

    Returns
    -------
    dict of str -> dict of str -> ndarray
        For ``"plain"`` and ``"residual"``: ``dW`` (n,), ‖dW_i‖ for i = 1 … n; ``dH`` (n,),
        ‖dH_i‖, the gradient reaching layer i's output (i = n: the logits); ``Z_first``
        and ``Z_last`` (64, 64), the pre-activations of layer 1 and of layer L + 1, the
        last block; ``logits`` (64, 10).
    """
    found = _reference(activation, int(depth), float(scale))
    names = ("dW", "dH", "Z_first", "Z_last", "logits")
    return {kind: {name: array.copy() for name, array in zip(names, arrays, strict=True)}
            for kind, arrays in found.items()}


def saturation_threshold(activation):
    """|z| beyond which the activation's slope is below a tenth of its largest, or None.

    tanh: :math:`1 - \\tanh^2 z < 0.1` for :math:`|z| > \\operatorname{artanh}\\sqrt{0.9}
    \\approx 1.82`; sigmoid, a tanh of z/2: twice that, 3.64. ReLU and ELU do not saturate on
    the active side.
    """
    edge = float(np.arctanh(np.sqrt(1.0 - _SATURATED)))
    return {"tanh": edge, "sigmoid": 2.0 * edge}.get(activation)


# ------------------------------------------------------------------ the student's code


def _grad_norms(name, grads, depth):
    """‖dW_i‖ of the student's ``grads``, or :class:`StudentError` naming what is wrong."""
    keys = [f"W{i}" for i in range(1, depth + 3)]
    if not isinstance(grads, Mapping) or any(key not in grads for key in keys):
        raise StudentError(say(name, "did not return a dict with keys W1, b1, ..."))
    norms = []
    for key, shape in zip(keys, _shapes(depth), strict=True):
        if np.shape(grads[key]) != shape:
            raise StudentError(say(name, f"returned {key} of shape {np.shape(grads[key])}, "
                                         f"{key} has {shape}"))
        try:
            norms.append(float(np.linalg.norm(np.asarray(grads[key], dtype=np.float64))))
        except (TypeError, ValueError):
            raise StudentError(say(name, f"returned a {key} that is not an array of "
                                         "numbers")) from None
    return np.array(norms)


def _pre_activations(name, caches, depth):
    """Z_1 and Z_{L+1} of the student's caches, as float arrays, or :class:`StudentError`."""
    try:
        if len(caches) != depth + 2:
            raise StudentError(say(name, f"returned {len(caches)} caches, not {depth + 2}"))
        first, last = (np.asarray(caches[i][1], dtype=np.float64) for i in (0, depth))
    except StudentError:
        raise
    except (TypeError, ValueError, IndexError, KeyError):
        raise StudentError(say(name, "returned caches that are not ((H, W), Z) pairs")) from None
    for Z in (first, last):
        if Z.shape != (N_SAMPLES, WIDTH):
            raise StudentError(say(name, f"returned a Z of shape {Z.shape} in its caches, "
                                         f"expected {(N_SAMPLES, WIDTH)}"))
    return first, last


def _softmax_gradient(logits, y):
    """The gradient of the mean cross-entropy, (softmax(z) - onehot(y)) / N, with NumPy alone.

    :func:`course_lib.losses.cross_entropy_grad`'s arithmetic, in the same steps; written
    here for the grading kernel, whose course_lib withholds every exercise's reference.
    """
    shifted = logits - logits.max(axis=1, keepdims=True)  # exp cannot overflow
    e = np.exp(shifted)
    p = e / e.sum(axis=1)[:, None]
    p[np.arange(len(y)), y] -= 1.0
    p /= len(y)
    return p


def _students_own(student, activation, depth, scale):
    """While grading: kind -> (‖dW_i‖, Z_1, Z_{L+1}) from the student's forward and backward
    alone, and the notes. Nothing of course_lib's arithmetic runs; nothing raises."""
    student = student or {}
    notes = [say(name, NOT_DEFINED) for name in ("deep_forward", "deep_backward")
             if not callable(student.get(name))]
    if notes:
        return {}, notes
    forward = guard("deep_forward", student["deep_forward"])
    backward = guard("deep_backward", student["deep_backward"])
    X, y = fixed_batch()

    def run(residual):
        params = make_params(activation, depth, residual, scale)
        logits, caches = forward(X.copy(), params, activation, residual)
        try:
            logits = np.asarray(logits, dtype=np.float64)
        except (TypeError, ValueError):
            raise StudentError(say("deep_forward", "returned logits that are not an array "
                                                   "of numbers")) from None
        if logits.shape != (N_SAMPLES, N_CLASSES):
            raise StudentError(say("deep_forward", f"returned logits of shape {logits.shape}, "
                                                   f"expected {(N_SAMPLES, N_CLASSES)}"))
        first, last = _pre_activations("deep_forward", caches, depth)
        grads = backward(_softmax_gradient(logits, y), caches, activation, residual)
        return _grad_norms("deep_backward", grads, depth), first, last

    found = {}
    for kind, residual in KINDS.items():
        result, note = call_student("deep_forward", run, residual)
        if note:
            notes.append(note)
        else:
            found[kind] = result
    return found, notes


#: the student's functions the widget runs outside grading, with the references they replace
_CHECKED = {"deep_forward": ref.deep_forward, "deep_backward": ref.deep_backward,
            "layer_gradient_norms": ref.layer_gradient_norms}


def _students_over_reference(student, activation, depth, scale, curves):
    """Outside grading: kind -> the student's ‖dW_i‖ on the reference's caches, and the notes.

    The student's ``deep_backward`` runs on the reference's caches, its ``deep_forward`` is
    compared with the reference's logits and pre-activations, its ``layer_gradient_norms``
    runs on the reference's gradients. The notes say what is missing, is the reference
    (its checks failed, so the notebook went on with the reference), fails or differs.
    Nothing raises.
    """
    if student is None:
        return {}, []
    fns, notes = {}, []
    for name, reference in _CHECKED.items():
        fn = student.get(name)
        if fn is None:
            notes.append(say(name, NOT_DEFINED))
        elif fn is reference:
            notes.append(f"{name}: the reference (yours does not pass its checks yet)")
        else:
            fns[name] = fn
    yours = {}
    for kind, residual in KINDS.items():
        if "deep_forward" in fns:
            notes += _check_forward(fns["deep_forward"], activation, depth, scale, kind,
                                    curves[kind])
        # fresh caches, not the cached reference's: a student's function that writes into
        # them changes no later picture
        _, _, caches, dlogits = _forward_caches(activation, depth, scale, residual)
        right = curves[kind]["dW"]
        if "layer_gradient_norms" in fns:
            with np.errstate(all="ignore"):
                grads = ref.deep_backward(dlogits, caches, activation, residual)
            notes += _check_norms(fns["layer_gradient_norms"], grads, right, kind)
        if "deep_backward" not in fns:
            continue
        norms, note = call_student("deep_backward", _run_backward, fns["deep_backward"],
                                   dlogits, caches, activation, residual, depth)
        if note:
            notes.append(note)
            continue
        yours[kind] = norms
        close = np.isclose(norms, right, rtol=1e-6, atol=0.0)
        if not close.all():
            k = int(np.argmin(close))
            notes.append(f"your deep_backward differs for the {kind} net: at layer {k + 1}, "
                         f"||dW_{k + 1}|| = {norms[k]:.3g} instead of {right[k]:.3g}")
    return yours, notes


def _run_backward(backward, dlogits, caches, activation, residual, depth):
    grads = guard("deep_backward", backward)(dlogits, caches, activation, residual)
    return _grad_norms("deep_backward", grads, depth)


def _check_norms(fn, grads, right, kind):
    """[] if the student's layer_gradient_norms gives the reference's norms of ``grads``, else
    its note."""
    name = "layer_gradient_norms"

    def run():
        found = guard(name, fn)({key: value.copy() for key, value in grads.items()})
        try:
            found = np.asarray(found, dtype=np.float64)
        except (TypeError, ValueError):
            raise StudentError(say(name, "returned something that is not an array of "
                                         "numbers")) from None
        if found.shape != right.shape:
            raise StudentError(say(name, f"returned shape {found.shape}, expected "
                                         f"{right.shape}"))
        close = np.isclose(found, right, rtol=1e-6, atol=0.0)
        if not close.all():
            k = int(np.argmin(close))
            raise StudentError(say(name, f"differs for the {kind} net: entry {k}, {found[k]:.3g} "
                                         f"instead of ||dW_{k + 1}|| = {right[k]:.3g}"))

    _, note = call_student(name, run)
    return [note] if note else []


def _check_forward(forward, activation, depth, scale, kind, right):
    """[] if the student's deep_forward gives the reference's logits and Z's, else its note."""
    X, _ = fixed_batch()
    params = make_params(activation, depth, KINDS[kind], scale)

    def run():
        logits, caches = guard("deep_forward", forward)(X.copy(), params, activation,
                                                       KINDS[kind])
        try:
            logits = np.asarray(logits, dtype=np.float64)
        except (TypeError, ValueError):
            raise StudentError(say("deep_forward", "returned logits that are not an array "
                                                   "of numbers")) from None
        if logits.shape != right["logits"].shape:
            raise StudentError(say("deep_forward", f"returned logits of shape {logits.shape}, "
                                                   f"expected {right['logits'].shape}"))
        first, last = _pre_activations("deep_forward", caches, depth)
        for what, yours, expected in (("logits", logits, right["logits"]),
                                      ("Z_1", first, right["Z_first"]),
                                      (f"Z_{depth + 1}", last, right["Z_last"])):
            if not np.allclose(yours, expected, rtol=1e-6, atol=1e-12):
                raise StudentError(say("deep_forward", f"differs for the {kind} net: its "
                                                       f"{what} are not the reference's"))

    _, note = call_student("deep_forward", run)
    return [note] if note else []


# ------------------------------------------------------------------ the figure


def _symlog_bins(arrays):
    """Bin edges for a symlog axis (linear within ±1): 10 bins in [-1, 1], 5 per decade beyond."""
    finite = [np.abs(a[np.isfinite(a)]) for a in arrays]
    largest = max([float(a.max()) for a in finite if a.size] + [1.0])
    decades = max(1, int(np.ceil(np.log10(largest))))
    outer = np.logspace(0, decades, 5 * decades + 1)
    return np.concatenate([-outer[::-1], np.linspace(-1, 1, 11)[1:-1], outer])


def _power_of_ten(value, _=None):
    """A log axis's tick label: "1e-12", "0.01", "1", "100", "1e6"."""
    if 1e-3 <= value < 1e4:
        return f"{value:g}"
    return f"{value:.2g}".replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")


def _symlog_ticks(largest):
    """Ticks for a symlog axis from -largest to largest: 0 and two decades a side."""
    top = int(round(np.log10(largest)))
    decades = [0, top] if top < 3 else [(top + 1) // 2, top]
    ticks, labels = [0.0], ["0"]
    for d in decades:
        text = _power_of_ten(10.0**d)
        ticks = [-10.0**d, *ticks, 10.0**d]
        labels = [f"−{text}", *labels, text]
    return ticks, labels


def _histogram(ax, Z, edges, color, label, lw=1.6):
    values = Z[np.isfinite(Z)].ravel()
    counts, _ = np.histogram(values, bins=edges)
    ax.stairs(counts / max(values.size, 1), edges, color=color, lw=lw, label=label)


def _z_label(name, Z, activation):
    text = f"{name}: std {np.std(Z):.2g}"
    edge = saturation_threshold(activation)
    if edge is not None:
        text += f", {np.mean(np.abs(Z) > edge):.0%} saturated"
    return text


def plot_depth(activation="sigmoid", depth=20, scale=1.0, student: Mapping | None = None) -> Figure:
    """Figure: ‖dW_i‖ and ‖dH_i‖ through a plain and a residual net at init, and Z's histograms.

    Parameters
    ----------
    activation : str
        A value of :data:`ACTIVATION_MENU`: "sigmoid", "tanh", "relu" or "elu".
    depth : int
        Blocks L, from 2 to 50: the nets have n = L + 2 weight matrices.
    scale : float
        s: every W of ``deep_init``'s initialisation times s.
    student : mapping of str -> callable, optional
        Your ``deep_forward`` and ``deep_backward``; in a notebook, ``globals()``. Your
        ``deep_backward`` runs on the reference's caches and is drawn as crosses; your
        ``deep_forward`` is compared with the reference's. What is missing, unfinished,
        failing or different is noted on the figure, never raised. In a grading kernel
        they alone draw the picture.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if student is not None and not isinstance(student, Mapping):
        raise TypeError(f"student must map names to your functions, as globals() does; got "
                        f"{type(student).__name__}")
    depth, scale = int(depth), float(scale)
    n_layers = depth + 2
    layer = np.arange(1, n_layers + 1)
    alone = student_only()  # a graded notebook: its own code only, no reference drawn
    if alone:
        found, notes = _students_own(student, activation, depth, scale)
        curves = {kind: {"dW": dW, "Z_first": first, "Z_last": last}
                  for kind, (dW, first, last) in found.items()}
        yours = {}
    else:
        curves = depth_curves(activation, depth, scale)
        yours, notes = _students_over_reference(student, activation, depth, scale, curves)

    fig = Figure(figsize=(11, 4.9))  # a fixed layout: constrained layout costs half a redraw
    grid = fig.add_gridspec(1, 3, width_ratios=(1.2, 1.2, 1), left=0.07, right=0.975,
                            bottom=0.33, top=0.84, wspace=0.3)
    ax_dw, ax_dh, ax_z = (fig.add_subplot(grid[0, i]) for i in range(3))
    ax_notes = fig.add_axes((0.0, 0.0, 1.0, 0.1))
    ax_notes.axis("off")

    handles = []
    for kind, curve in curves.items():
        dW = curve["dW"]
        ratio = dW[0] / max(dW[-1], _FLOOR)
        label = (f"{kind}{' (yours)' if alone else ''}: "
                 f"||dW_1|| / ||dW_{n_layers}|| = {ratio:.3g}")
        handles += ax_dw.plot(layer, np.maximum(dW, _FLOOR), ls="-", marker=_MARKERS[kind],
                              color=_COLORS[kind], lw=1.8, ms=4.5, label=label)
        if "dH" in curve:
            dH = curve["dH"]
            ax_dh.plot(layer, np.maximum(dH, _FLOOR), ls="--", marker=_MARKERS[kind],
                       color=_COLORS[kind], lw=1.8, ms=4.5,
                       label=f"{kind}: ||dH_1|| = {dH[0]:.3g}, ||dH_{n_layers - 1}|| = "
                             f"{dH[-2]:.3g}")
    for kind, norms in yours.items():
        ax_dw.plot(layer, np.maximum(norms, _FLOOR), "x", color=style.YOURS, ms=7, mew=1.5,
                   label=f"_your {kind}")
    if yours:
        handles.append(Line2D([], [], ls="none", marker="x", color=style.YOURS, ms=7, mew=1.5,
                              label="your deep_backward"))

    ax_dw.set_title("weight gradients ||dW_i||", fontsize=10, y=1.01)
    ax_dw.set_ylabel("||dW_i|| (log scale)")
    ax_dh.set_title("gradient reaching each layer's output ||dH_i||", fontsize=10, y=1.01)
    ax_dh.set_ylabel("||dH_i|| (log scale)")
    for ax in (ax_dw, ax_dh):
        ax.set_yscale("log")
        # "1e-12", not mathtext's 10^-12: a third of a redraw went into typesetting those
        ax.yaxis.set_major_formatter(FuncFormatter(_power_of_ten))
        ax.yaxis.set_minor_locator(NullLocator())
        drawn = np.concatenate([line.get_ydata() for line in ax.get_lines()] or [[1.0]])
        span = np.log10(drawn.max() / drawn.min())
        if span < 2:  # less than two decades: ticks between the powers of 10 too
            ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if span > 1
                                                  else np.arange(1.0, 10.0)))
        ax.set_xlim(0.5, n_layers + 0.5)
        ax.set_xlabel(f"layer i (1 = next to the input, {n_layers} = output)")
        ax.grid(True, which="major", color="0.9")
        ax.xaxis.get_major_locator().set_params(integer=True)
    if handles:
        ax_dw.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, -0.17),
                     fontsize=8.5, frameon=False)
    else:
        ax_dw.text(0.5, 0.5, "nothing drawn: see below", transform=ax_dw.transAxes,
                   ha="center", va="center", color="0.4")
    if ax_dh.get_lines():
        ax_dh.legend(loc="upper left", bbox_to_anchor=(0.0, -0.17), fontsize=8.5, frameon=False)
    else:
        ax_dh.set_yticks([])
        ax_dh.text(0.5, 0.5, "||dH_i|| comes from the course's\nbackward pass: not drawn "
                   "while grading", transform=ax_dh.transAxes, ha="center", va="center",
                   color="0.4", fontsize=9)

    # the pre-activations of layer 1 (the same in both nets) and of the last block
    if curves:
        first = next(iter(curves.values()))["Z_first"]
        lasts = {kind: curve["Z_last"] for kind, curve in curves.items()}
        edges = _symlog_bins([first, *lasts.values()])
        _histogram(ax_z, first, edges, _FIRST, _z_label("Z_1", first, activation), lw=2.2)
        for kind, Z in lasts.items():
            _histogram(ax_z, Z, edges, _COLORS[kind],
                       _z_label(f"Z_{depth + 1} {kind}", Z, activation))
        edge = saturation_threshold(activation)
        if edge is not None:  # where the slope is below a tenth of its largest
            for side, label in ((-1, "saturated: slope < 1/10 of its top"), (1, "_")):
                ax_z.axvspan(side * edge, side * edges[-1], color="0.88", lw=0, zorder=0,
                             label=label)
        ax_z.set_xscale("symlog", linthresh=1.0)
        ax_z.set_xlim(edges[0], edges[-1])
        ax_z.set_xticks(*_symlog_ticks(edges[-1]))
        ax_z.minorticks_off()
        ax_z.legend(loc="upper left", bbox_to_anchor=(-0.2, -0.17), fontsize=8.5,
                    frameon=False)
    ax_z.set_title(f"pre-activations Z_i, layers 1 and {depth + 1}", fontsize=10, y=1.01)
    ax_z.set_xlabel("z (symmetric log scale)")
    ax_z.set_ylabel("share of the 64 × 64 values")

    init = INIT_OF.get(activation, "?")
    fig.suptitle(f"{activation}, {depth} blocks ({n_layers} weight layers), {init.capitalize()} "
                 f"init × {scale:.3g}, on 64 digits: plain (circles) and residual net "
                 f"(squares, blocks / {depth})", fontsize=11)
    firsts = {}  # one note per function and net
    for note in notes:
        firsts.setdefault(note, note)
    style.note(ax_notes, "\n".join(firsts), x=0.01, y=0.95, ha="left", va="top", fontsize=8.5)
    return fig


def depth_explorer(student: Mapping | None = None, activation="sigmoid", depth=20, scale=1.0):
    """Gradient norms layer by layer in a plain and a residual net, as depth, activation and
    init change.

    Parameters
    ----------
    student : mapping of str -> callable, optional
        Your ``deep_forward`` and ``deep_backward``; in a notebook, ``globals()``.
    activation : str, default "sigmoid"
        The activation shown first, a value of :data:`ACTIVATION_MENU`.
    depth : int, default 20
        The number of blocks shown first (2 to 50).
    scale : float, default 1.0
        The init scale shown first (0.25 to 4): every W of the initialisation times it.

    Returns
    -------
    ipywidgets.VBox
        A dashboard: where no kernel runs, it leaves its figure behind as a picture.
    """
    import ipywidgets as w

    if student is not None and not isinstance(student, Mapping):
        raise TypeError(f"student must map names to your functions, as globals() does; got "
                        f"{type(student).__name__}")
    style_ = {"description_width": "90px"}
    act = w.Dropdown(options=list(ACTIVATION_MENU.items()), value=activation,
                     description="activation", style=style_)
    blocks = w.IntSlider(value=int(depth), min=DEPTH_RANGE[0], max=DEPTH_RANGE[1],
                         description="blocks L", style=style_, continuous_update=False)
    s = w.FloatLogSlider(value=float(scale), base=2, min=np.log2(SCALE_RANGE[0]),
                         max=np.log2(SCALE_RANGE[1]), step=0.25, description="init scale s",
                         style=style_, readout_format=".2f", continuous_update=False)

    def draw():
        return plot_depth(act.value, blocks.value, s.value, student)

    return live_dashboard("Gradient norms through a plain and a residual net",
                          [w.HBox([act, blocks, s])], draw, controls=(act, blocks, s), dpi=_DPI)
