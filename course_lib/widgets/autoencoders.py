r"""The widget of notebook 07: PCA, a linear and a nonlinear autoencoder, side by side on the digits.

Three 2-D maps of the digits, coloured by label, from PCA's first two coordinates, a
linear autoencoder's codes and a tanh autoencoder's codes (k = 2). Under them, for a
code size k: a strip of digits as they are (original) and as each method rebuilds them,
and the reconstruction error against k for all three, per pixel (notebook 03's MSE, the
mean over all N·D elements) on the training digits (solid) and the held-out ones (dashed).
:func:`plot_autoencoders` draws it; :func:`autoencoder_explorer` puts a k slider and the
choice of digits on it.

The networks are :class:`~course_lib.autoencoder.Autoencoder`\ s trained as the notebook
trains them, by minibatch Adam on :func:`~course_lib.autoencoder.autoencoder_loss_and_grads`
over the 1437 training digits of :func:`~course_lib.data.load_digits`: the linear 64-k-64
with lr 0.02, 400 epochs of batches of 256 (it then spans PCA's subspace within about 2
degrees), the tanh 64-32-k-32-64 with lr 0.01, 100 epochs of batches of 64. They were
trained once, by :func:`train_autoencoder` on one BLAS thread, and ship with the course in
``autoencoders.npz`` beside this module, so the figure draws at once; a test trains them
again and compares. (After a change to :data:`SETTINGS`, ``python -m
course_lib.widgets.autoencoders`` writes the file again; until then each network trains
on first use, 0.6 to 1.5 s each.)

The student's ``pca_fit``, ``pca_transform`` and ``pca_reconstruct`` (``globals()`` in
a notebook), when given, compute PCA's panels; what is missing or fails is noted on the
figure, and the reference is drawn instead. The student's ``autoencoder_loss_and_grads``
trains the notebook's networks, not these: here it is checked against the reference at
each network's first and trained weights, and where it differs the figure says so. In a
grading kernel no reference runs (:func:`~course_lib.widgets._render.student_only`):
PCA's panels are the student's functions alone, and the course's networks are not drawn;
the figure says so.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .. import autoencoder as ref
from ..data import load_digits
from ..optim import Adam
from ..train import iterate_minibatches
from . import _style as style
from ._render import live_dashboard, student_only
from ._student import NOT_DEFINED, StudentError, call_student, checked_gradients, guard, say
from .regularization import _one_blas_thread

__all__ = ["K_VALUES", "MAP_K", "KINDS", "SETTINGS", "TRAINED", "digits", "train_autoencoder",
           "trained_params", "write_trained", "pca_panels", "autoencoder_panels", "plot_autoencoders", "autoencoder_explorer"]

#: the code sizes of the slider and of the error curves
K_VALUES = (2, 5, 10, 20)
#: the code size of the three maps
MAP_K = 2
#: the two networks: (their hidden layers, activation, Adam's lr, epochs, batch size)
SETTINGS = {
    "linear": ((), None, 0.02, 400, 256),
    "tanh": ((32,), "tanh", 0.01, 100, 64),
}
KINDS = tuple(SETTINGS)
SEED = 0
D = 64
_PCA_FUNCTIONS = ("pca_fit", "pca_transform", "pca_reconstruct")
_LOSS = "autoencoder_loss_and_grads"
_COLORS = {"pca": style.BLUE, "linear": style.ORANGE, "tanh": style.GREEN}
_NAMES = {"pca": "PCA", "linear": "linear AE", "tanh": "tanh AE"}
_STRIP = 10  # digits in the strip: the first of each label 0-9
_DPI = 80  # redrawn on every move of the slider: a smaller PNG is a quicker one
#: the networks of :data:`K_VALUES` and :data:`KINDS`, trained once by :func:`write_trained`
TRAINED = Path(__file__).with_name("autoencoders.npz")


@functools.cache
def digits():
    """``(X_train, X_test, y_train, y_test)`` of :func:`~course_lib.data.load_digits`, read-only."""
    arrays = load_digits()
    for array in arrays:
        array.flags.writeable = False  # shared by every run and panel
    return arrays


def _data(which):
    X_train, X_test, y_train, y_test = digits()
    return (X_train, y_train) if which == "training" else (X_test, y_test)


def train_autoencoder(k, kind, loss_and_grads=ref.autoencoder_loss_and_grads):
    """An autoencoder trained on the training digits, as the notebook trains it: its params.

    The weights start as ``Autoencoder(64, k, hidden, activation, linear, seed=0)``'s;
    each epoch shuffles the digits (``default_rng(0)``, as ``fit`` does) and takes one
    Adam step per minibatch on ``loss_and_grads(params, X_batch, activation)``, with
    ``activation`` None for the linear network. (The same steps as
    ``fit(model, X, X, loss="mse", optimizer=Adam(lr), epochs, batch_size)``.)

    Parameters
    ----------
    k : int
        Width of the code layer.
    kind : {"linear", "tanh"}
        A key of :data:`SETTINGS`.
    loss_and_grads : callable
        ``autoencoder_loss_and_grads``: the reference, or yours.

    Returns
    -------
    dict of str -> ndarray
        The trained ``W1, b1, …``.
    """
    hidden, activation, lr, epochs, batch_size = SETTINGS[kind]
    X = digits()[0]
    params = ref.Autoencoder(D, k, hidden, activation or "tanh", linear=activation is None,
                             seed=SEED).params
    optimizer = Adam(lr=lr)
    rng = np.random.default_rng(SEED)
    with _one_blas_thread(), np.errstate(all="ignore"):
        for _ in range(epochs):
            for X_batch, _ in iterate_minibatches(X, X, batch_size, rng):
                loss, grads = loss_and_grads(params, X_batch, activation)
                optimizer.step(params, grads)
            if not np.isfinite(loss):
                break
    return params


def _mse(X_hat, X):
    """Notebook 03's MSE: the mean over all N·D elements."""
    return float(np.mean((X_hat - X) ** 2))


def _panels(codes, rebuild):
    """What the figure needs of one method at one k: codes, rebuilt digits and errors, by set."""
    found = {}
    for which in ("training", "held-out"):
        X, _ = _data(which)
        Z = codes(X)
        X_hat = rebuild(Z)
        found[which] = {"codes": Z, "rebuilt": X_hat, "error": _mse(X_hat, X)}
    return found


def _frozen(panels):
    for sets in panels.values():
        for array in (sets["codes"], sets["rebuilt"]):
            array.flags.writeable = False
    return panels


@functools.lru_cache(maxsize=32)
def _reference_pca(k):
    X = digits()[0]
    mean, components, _ = ref.pca_fit(X, k)
    return _frozen(_panels(lambda X: ref.pca_transform(X, mean, components),
                           lambda Z: ref.pca_reconstruct(Z, mean, components)))


def _network_panels(params, kind, k):
    hidden, activation, *_ = SETTINGS[kind]
    model = ref.Autoencoder(D, k, hidden, activation or "tanh", linear=activation is None)
    model.params = params
    return _frozen(_panels(model.encode, model.decode))


def _recipe():
    """What the networks in :data:`TRAINED` were trained with: a file of other settings is stale."""
    return repr((SETTINGS, SEED, K_VALUES))


def write_trained(path=TRAINED):
    """Train the networks of :data:`K_VALUES` and :data:`KINDS` and save them to ``path``."""
    arrays = {f"{kind}/{k}/{key}": value for kind in KINDS for k in K_VALUES
              for key, value in train_autoencoder(k, kind).items()}
    np.savez_compressed(path, recipe=np.array(_recipe()), **arrays)


@functools.cache
def _shipped():
    """The arrays of :data:`TRAINED`, or {} if the file is missing or trained otherwise."""
    try:
        with np.load(TRAINED) as found:
            arrays = dict(found)
    except OSError:
        return {}
    return arrays if str(arrays.pop("recipe", "")) == _recipe() else {}


def trained_params(k, kind):
    """The course's network ``kind`` at code size k, trained: from :data:`TRAINED`, or trained now.

    Returns a fresh dict of ``W1, b1, …`` (read from the file when it holds this
    network with today's :data:`SETTINGS`, else :func:`train_autoencoder`'s).
    """
    prefix = f"{kind}/{k}/"
    found = {key[len(prefix):]: value.copy() for key, value in _shipped().items()
             if key.startswith(prefix)}
    return found or train_autoencoder(k, kind)


@functools.lru_cache(maxsize=32)
def _reference_network(k, kind):
    return _network_panels(trained_params(k, kind), kind, k)


def pca_panels(k, student=None, _memo=None):
    """PCA at k, by the student's functions if given: ``(panels or None, notes)``.

    ``panels[which]`` for ``which`` in ("training", "held-out") holds the ``codes``
    (N, k), the ``rebuilt`` digits (N, 64) and their ``error``, the MSE per pixel.
    PCA is fitted on the training digits. Without the student's functions, or when one
    is missing or fails, the reference's (none while grading), with a note.
    """
    grading = student_only()
    if student is None:
        return (None, []) if grading else (_reference_pca(k), [])
    fns = tuple(student.get(name) for name in _PCA_FUNCTIONS)
    notes = [say(name, NOT_DEFINED) for name, fn in zip(_PCA_FUNCTIONS, fns, strict=True)
             if fn is None]
    references = (ref.pca_fit, ref.pca_transform, ref.pca_reconstruct)
    notes += [f"{name}: the reference (yours does not pass its checks yet)"
              for name, fn, mine in zip(_PCA_FUNCTIONS, fns, references, strict=True)
              if fn is mine]
    if notes or fns == references:
        return (None, notes) if grading else (_reference_pca(k), notes)
    memo = _memo if _memo is not None else {}
    key = (fns, k)
    if key not in memo:
        memo[key] = call_student("pca_fit", _students_pca, fns, k)
    panels, note = memo[key]
    if note:
        return (None, [note]) if grading else (_reference_pca(k), [note])
    return panels, []


def _students_pca(fns, k):
    fit, transform, reconstruct = (guard(name, fn) for name, fn in zip(_PCA_FUNCTIONS, fns,
                                                                       strict=True))
    X = digits()[0]
    found = fit(X.copy(), k)
    if not isinstance(found, tuple) or len(found) != 3:
        raise StudentError(say("pca_fit", "returned something other than (mean, components, "
                                          "explained_variance_ratio)"))
    mean, components = (np.asarray(a, dtype=np.float64) for a in found[:2])
    _shape("pca_fit", "mean", mean, (D,))
    _shape("pca_fit", "components", components, (k, D))

    def codes(X):
        return _shape("pca_transform", "Z", np.asarray(transform(X.copy(), mean, components),
                                                       dtype=np.float64), (len(X), k))

    def rebuild(Z):
        return _shape("pca_reconstruct", "X_hat", np.asarray(
            reconstruct(Z.copy(), mean, components), dtype=np.float64), (len(Z), D))

    return _frozen(_panels(codes, rebuild))


def _shape(name, what, array, expected):
    if array.shape != expected:
        raise StudentError(say(name, f"returned {what} of shape {array.shape}, expected "
                                     f"{expected}"))
    return array


#: what checking the student's loss on each network found, by (function, k, kind)
_STUDENT_CHECKS: dict = {}


def autoencoder_panels(k, kind, student=None):
    """The course's network ``kind`` at k: ``(panels, notes)``; None while grading.

    The panels are as :func:`pca_panels`'. With the student's
    ``autoencoder_loss_and_grads``, a note says where it differs from the reference on
    this network (or that it is missing, or the reference).
    """
    if student_only():
        return None, []
    panels = _reference_network(k, kind)
    if student is None:
        return panels, []
    fn = student.get(_LOSS)
    if fn is None:
        return panels, [say(_LOSS, NOT_DEFINED)]
    if fn is ref.autoencoder_loss_and_grads:
        return panels, [f"{_LOSS}: the reference (yours does not pass its checks yet)"]
    key = (fn, k, kind)
    if key not in _STUDENT_CHECKS:
        if len(_STUDENT_CHECKS) > 64:  # a notebook that redefines it again and again
            _STUDENT_CHECKS.clear()
        _STUDENT_CHECKS[key] = call_student(_LOSS, _check_students_loss, fn, k, kind)
    _, note = _STUDENT_CHECKS[key]
    return panels, [note] if note else []


def _check_students_loss(fn, k, kind):
    """The student's loss and gradients against the reference's, at the first and the trained weights."""
    guarded = guard(_LOSS, fn)
    hidden, activation, *_ = SETTINGS[kind]
    start = ref.Autoencoder(D, k, hidden, activation or "tanh", linear=activation is None,
                            seed=SEED).params
    X = digits()[0][:64]
    for params in (start, trained_params(k, kind)):
        loss, grads = checked_gradients(_LOSS, params, *guarded(
            {key: value.copy() for key, value in params.items()}, X.copy(), activation))
        right, right_grads = ref.autoencoder_loss_and_grads(params, X, activation)
        apart = [key for key in right_grads
                 if not np.allclose(grads[key], right_grads[key], rtol=1e-6, atol=1e-10)]
        if not np.isclose(loss, right, rtol=1e-9) or apart:
            what = f"the gradient of {apart[0]}" if apart else "the loss"
            raise StudentError(say(_LOSS, f"differs from the reference in {what} "
                                          f"({'linear' if activation is None else activation} "
                                          "network)"))


def _mosaic(rows):
    """Rows of (n, 64) digits as one image: 8x8 tiles with a one-pixel gap (NaN, drawn white)."""
    n = len(rows[0])
    image = np.full((9 * len(rows) - 1, 9 * n - 1), np.nan)
    for r, digits_ in enumerate(rows):
        for c, digit in enumerate(digits_):
            image[9 * r:9 * r + 8, 9 * c:9 * c + 8] = np.clip(digit, 0, 1).reshape(8, 8)
    return image


def _strip_digits(which):
    """Indices of the first digit of each label 0-9 in the set shown."""
    _, y = _data(which)
    return [int(np.argmax(y == label)) for label in range(_STRIP)]


def plot_autoencoders(k=2, which="training", student=None, _memo=None) -> Figure:
    """PCA, a linear and a tanh autoencoder on the digits: maps, rebuilt digits, errors.

    Parameters
    ----------
    k : int
        The code size of the strip of rebuilt digits, one of :data:`K_VALUES` (marked
        on the error curves).
    which : {"training", "held-out"}
        The digits of the maps and of the strip.
    student : mapping of str -> callable, optional
        Your ``pca_fit``, ``pca_transform``, ``pca_reconstruct`` (they compute PCA's
        panels) and ``autoencoder_loss_and_grads`` (checked on each network);
        ``globals()`` works. What is missing, unfinished or failing is noted on the
        figure, and the reference drawn instead. None draws the references.

    Returns
    -------
    matplotlib.figure.Figure
    """
    k = int(k)
    fig = Figure(figsize=(11, 7.2))  # a fixed layout: constrained layout costs half a redraw
    grid = fig.add_gridspec(3, 6, height_ratios=(1, 0.78, 0.08), left=0.05, right=0.99,
                            bottom=0.01, top=0.87, hspace=0.4, wspace=0.45)
    maps = [fig.add_subplot(grid[0, 2 * i:2 * i + 2]) for i in range(3)]
    ax_strip = fig.add_subplot(grid[1, :4])
    ax_error = fig.add_subplot(grid[1, 4:])
    ax_notes = fig.add_subplot(grid[2, :])
    ax_notes.axis("off")
    notes = []
    if student_only():
        notes.append("autoencoders not drawn while grading: they are the course's networks, "
                     "not yours")

    # every (method, k) the figure needs: the maps' k, the slider's k, and the curves' ks
    panels = {}
    for k_ in sorted({*K_VALUES, MAP_K, k}):
        found, said = pca_panels(k_, student, _memo)
        panels["pca", k_] = found
        notes += said
        for kind in KINDS:
            found, said = autoencoder_panels(k_, kind, student)
            panels[kind, k_] = found
            notes += said
    methods = ("pca", *KINDS)
    # the networks are the course's, whoever's loss was checked on them
    yours = {"pca": student is not None and not any("pca" in n for n in notes),
             **dict.fromkeys(KINDS, False)}

    def name(method):
        return _NAMES[method] + (" (yours)" if yours[method] else "")

    X, y = _data(which)
    architectures = {"pca": f"PCA, k = {MAP_K}", "linear": f"linear AE 64-{MAP_K}-64",
                     "tanh": f"tanh AE 64-32-{MAP_K}-32-64"}
    for ax, method in zip(maps, methods, strict=True):
        found = panels[method, MAP_K]
        ax.set_xticks([])
        ax.set_yticks([])
        if found is None:
            ax.set_title(f"{architectures[method]}: not drawn", fontsize=10)
            continue
        Z = found[which]["codes"]
        ax.scatter(Z[:, 0], Z[:, 1], c=y, cmap="tab10", vmin=-0.5, vmax=9.5, s=4,
                   linewidths=0, rasterized=True)
        for label in range(10):  # each digit's name at the middle of its points
            middle = np.median(Z[y == label], axis=0)
            ax.text(*middle, str(label), ha="center", va="center", fontsize=10,
                    fontweight="bold", bbox={"facecolor": "white", "alpha": 0.75,
                                             "edgecolor": "none", "pad": 1})
        ax.set_title(f"{architectures[method]}{' (yours)' if yours[method] else ''}\n"
                     f"error {found[which]['error']:.4f} per pixel", fontsize=10)
        ax.set_xlabel("code 1", fontsize=9)
        ax.set_ylabel("code 2", fontsize=9)

    # the strip: originals, then each method's rebuilt digits at k
    shown = _strip_digits(which)
    rows, names = [X[shown]], ["original"]
    for method in methods:
        found = panels[method, k]
        if found is not None:
            rows.append(found[which]["rebuilt"][shown])
            names.append(_NAMES[method])
    ax_strip.imshow(_mosaic(rows), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax_strip.set_yticks([9 * r + 3.5 for r in range(len(rows))], names, fontsize=9)
    ax_strip.set_xticks([])
    for spine in ax_strip.spines.values():
        spine.set_visible(False)
    ax_strip.set_title(f"k = {k}: {which} digits and their reconstructions", fontsize=10)

    # the error against k, training solid, held-out dashed
    for method in methods:
        ks = [k_ for k_ in K_VALUES if panels[method, k_] is not None]
        if not ks:
            continue
        for which_, ls, marker in (("training", "-", "o"), ("held-out", "--", None)):
            errors = [panels[method, k_][which_]["error"] for k_ in ks]
            # PCA's line wider, under the linear network's, which lies on it
            width = (3.2 if method == "pca" else 1.6) if ls == "-" else 1.1
            ax_error.plot(ks, errors, ls=ls, marker=marker, ms=4, lw=width, color=_COLORS[method],
                          label=name(method) if which_ == "training" else f"_{method} held-out")
    ax_error.axvline(k, color="0.5", lw=1, ls=":")
    ax_error.plot([], [], color="0.4", ls="--", lw=1.1, label="held-out")
    ax_error.set_xscale("log")
    ax_error.set_xticks(K_VALUES, [str(k_) for k_ in K_VALUES])
    ax_error.minorticks_off()
    ax_error.set_ylim(0, None)
    ax_error.set_xlabel("k (code size)", fontsize=9)
    ax_error.set_ylabel("MSE per pixel", fontsize=9)
    ax_error.set_title("reconstruction error against k", fontsize=10)
    ax_error.grid(True, color="0.92")
    ax_error.legend(fontsize=8, loc="upper right")

    fig.suptitle("PCA and two autoencoders on the digits, trained with Adam: linear 64-k-64 "
                 "(400 epochs), tanh 64-32-k-32-64 (100 epochs)", fontsize=11)
    # one note per function: a shape wrong at every k is said once, for the first
    firsts = {}
    for note in notes:
        firsts.setdefault(note.split()[1] if note.startswith("your ") else note, note)
    style.note(ax_notes, "\n".join(firsts.values()), x=0.0, y=1.0, ha="left", va="top",
               fontsize=8)
    return fig


def autoencoder_explorer(student: Mapping | None = None, k=2, which="training"):
    """PCA against two autoencoders, with a k slider and the choice of digits.

    Parameters
    ----------
    student : mapping of str -> callable, optional
        Your ``pca_fit``, ``pca_transform``, ``pca_reconstruct`` and
        ``autoencoder_loss_and_grads``; in a notebook, ``globals()`` works.
    k : int
        The code size shown first, one of :data:`K_VALUES`.
    which : {"training", "held-out"}
        The digits shown first.

    Returns
    -------
    ipywidgets.VBox
        A dashboard: where no kernel runs, it leaves its figure behind as a picture.
    """
    import ipywidgets as w

    style_ = {"description_width": "110px"}
    ks = w.SelectionSlider(options=list(K_VALUES), value=int(k), description="k (code size)",
                           style=style_, layout=w.Layout(width="380px"),
                           continuous_update=False)
    sets = w.ToggleButtons(options=["training", "held-out"], value=which,
                           description="digits", style=style_)
    memo = {}  # the student's PCA, by function and k: this dashboard's own

    def draw():
        return plot_autoencoders(ks.value, sets.value, student, _memo=memo)

    rows = [w.HBox([ks, sets])]
    return live_dashboard("PCA and autoencoders on the digits", rows, draw,
                          controls=(ks, sets), dpi=_DPI, max_width="1100px")


if __name__ == "__main__":  # python -m course_lib.widgets.autoencoders: after a change to SETTINGS
    write_trained()
    print(f"wrote {TRAINED}")
