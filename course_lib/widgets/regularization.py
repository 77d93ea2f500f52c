r"""The widget of notebook 06: the generalization gap, as λ, dropout and the training set change.

A small MLP (64-64-10, ReLU) learns the digits from ``n_train`` training digits, one
full-batch Adam step per epoch on :func:`~course_lib.regularization.regularized_loss_and_grads`
(mean cross-entropy + λ/2 Σ‖W‖², dropout after the hidden layer), for 100 epochs.
After each epoch the training and the validation set are scored in eval mode:
their cross-entropy (the data loss, without the penalty), their accuracy, and ‖W‖,
the Euclidean norm of all the weights (biases excluded) taken together.
:func:`plot_generalization_gap` draws the three, with the epoch
:class:`~course_lib.regularization.EarlyStopping` keeps (its ``best_epoch``) and the
one where it stops marked. :func:`generalization_gap` puts sliders on it.

The validation digits are 400 of the training split of :func:`~course_lib.data.load_digits`,
the training digits the first ``n_train`` of the others: the test split is never used.
A run takes a tenth of a second to a third of a second and is kept: moving a slider back
draws from memory. Every run has fixed seeds, so the same settings draw the same picture.

The student's ``regularized_loss_and_grads`` (``globals()`` in a notebook), when given,
trains a second run, drawn dashed over the reference's; the student's ``EarlyStopping``
marks its own epoch. What is missing, fails or differs is noted on the figure. In a
grading kernel no reference runs (:func:`~course_lib.widgets._render.student_only`),
and the network, the optimizer and the scoring are the course's: the widget notes
that it does not train.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from .. import regularization as ref
from ..data import load_digits
from ..losses import cross_entropy
from ..network import MLP, mlp_forward
from ..optim import Adam
from . import _style as style
from ._render import live_dashboard, student_only
from ._student import NOT_DEFINED, call_student, checked_gradients, guard, say
from .optimizers import _plain_log_ticks

__all__ = ["SIZES", "EPOCHS", "LAMBDAS", "P_DROPS", "TRAIN_SIZES", "digits_split", "train_run",
           "early_stop", "plot_generalization_gap", "generalization_gap"]

#: the widget's network: small enough that a run of 100 epochs takes a fraction of a second
SIZES = (64, 64, 10)
EPOCHS = 100
LR = 1e-2  # Adam's, one full-batch step per epoch
N_VAL = 400
SEED = 0
#: the sliders' values: λ on a log scale (two steps a decade) with 0 first
LAMBDAS = (0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
P_DROPS = (0.0, 0.1, 0.2, 0.3, 0.5)
TRAIN_SIZES = (100, 200, 500, 1000)
_DPI = 80  # redrawn on every slider move: a smaller PNG is a quicker one
_TRAIN, _VAL, _NORM = style.BLUE, style.ORANGE, style.GREEN


@functools.cache
def digits_split():
    """``(X_pool, y_pool, X_val, y_val)``: 400 validation digits and the 1037 others, fixed.

    Both come from the training split of :func:`~course_lib.data.load_digits` (seed 0),
    shuffled once with seed 0; a run trains on the first ``n_train`` of the pool.
    """
    X_train, _, y_train, _ = load_digits()
    order = np.random.default_rng(SEED).permutation(len(X_train))
    val, pool = order[:N_VAL], order[N_VAL:]
    arrays = X_train[pool], y_train[pool], X_train[val], y_train[val]
    for array in arrays:
        array.flags.writeable = False  # shared by every run
    return arrays


def _one_blas_thread():
    """Run the matrix products on one thread: for matrices this small, starting a second
    one costs more than it saves, and on a busy machine up to 50 times more. (threadpoolctl
    comes with scikit-learn.)"""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn brings it
        return contextlib.nullcontext()
    return threadpool_limits(1, "blas")


def _weight_norm(params):
    """‖W‖: the Euclidean norm of every weight matrix's entries together (biases excluded)."""
    return float(np.sqrt(sum(np.sum(value**2) for key, value in params.items()
                             if key.startswith("W"))))


def train_run(n_train, lam, p_drop, loss_and_grads=ref.regularized_loss_and_grads):
    """Train the widget's MLP for :data:`EPOCHS` epochs; its scores after each epoch.

    Each epoch is one Adam step (lr 0.01) on ``loss_and_grads(params, X, y, "relu",
    lam, p_drop, rng)`` over the ``n_train`` training digits. The weights start as
    ``MLP(SIZES, seed=0)``'s and the dropout masks come from ``default_rng(1)``.

    Parameters
    ----------
    n_train : int
        Training digits, at most 1037.
    lam : float
        λ of the penalty λ/2 Σ‖W‖².
    p_drop : float in [0, 1)
        The probability of dropping a hidden unit in training.
    loss_and_grads : callable
        ``regularized_loss_and_grads``: the reference, or yours.

    Returns
    -------
    dict of str -> ndarray of shape (EPOCHS,)
        ``train_loss`` and ``val_loss`` (mean cross-entropy, eval mode, no penalty),
        ``train_acc`` and ``val_acc``, ``w_norm`` (‖W‖), after each epoch (index 0:
        after the first). A run whose loss stops being a number ends there.
    """
    X_pool, y_pool, X_val, y_val = digits_split()
    # standardized with the statistics of the training digits alone, as the notebook does
    X, X_val, _, _ = ref.standardize(X_pool[:n_train], X_val)
    y = y_pool[:n_train]
    params = MLP(SIZES, seed=SEED).params
    optimizer = Adam(lr=LR)
    rng = np.random.default_rng(SEED + 1)
    scores = {key: [] for key in ("train_loss", "val_loss", "train_acc", "val_acc", "w_norm")}
    with _one_blas_thread(), np.errstate(all="ignore"):
        for _ in range(EPOCHS):
            loss, grads = loss_and_grads(params, X, y, "relu", lam, p_drop, rng)
            optimizer.step(params, grads)
            train_logits, _ = mlp_forward(X, params)  # eval mode: no dropout
            val_logits, _ = mlp_forward(X_val, params)
            scores["train_loss"].append(cross_entropy(train_logits, y))
            scores["val_loss"].append(cross_entropy(val_logits, y_val))
            scores["train_acc"].append(np.mean(train_logits.argmax(axis=1) == y))
            scores["val_acc"].append(np.mean(val_logits.argmax(axis=1) == y_val))
            scores["w_norm"].append(_weight_norm(params))
            if not np.isfinite(loss):
                break
    return {key: np.array(values, dtype=np.float64) for key, values in scores.items()}


@functools.lru_cache(maxsize=512)
def _reference_run(n_train, lam, p_drop):
    run = train_run(n_train, lam, p_drop)
    for array in run.values():
        array.flags.writeable = False  # cached: shared by every call
    return run


def early_stop(val_loss, patience, stopper_class=ref.EarlyStopping):
    """Where early stopping ends a run: ``(best_epoch, stop_epoch)``.

    ``stopper_class(patience).update(val_loss[e], params)`` is called for e = 0, 1, …
    until it returns True: ``stop_epoch`` is that e (None if it never does) and
    ``best_epoch`` the stopper's ``best_epoch`` then, the epoch whose weights
    ``fit(patience=...)`` restores. (The params it is given are the epoch's index,
    as an array: the widget keeps no weights.)
    """
    stopper = stopper_class(patience)
    for epoch, loss in enumerate(val_loss):
        if stopper.update(float(loss), {"epoch": np.array([epoch])}):
            return stopper.best_epoch, epoch
    return stopper.best_epoch, None


def _students_run(fn, n_train, lam, p_drop, memo):
    """(the run with the student's loss_and_grads, or None; a note, or None). Never raises."""
    key = (fn, n_train, lam, p_drop)  # the function too: a notebook may define it again
    if key not in memo:
        name = "regularized_loss_and_grads"

        def checked(params, X, y, activation, lam, p_drop, rng):
            return checked_gradients(name, params, *guard(name, fn)(
                params, X, y, activation, lam=lam, p_drop=p_drop, rng=rng))

        memo[key] = call_student(name, train_run, n_train, lam, p_drop, checked)
    return memo[key]


def _students_stop(stopper_class, val_loss, patience):
    """(best_epoch, stop_epoch) of the student's EarlyStopping, or (None, note)."""
    found, note = call_student("EarlyStopping", early_stop, val_loss, patience, stopper_class)
    if note:
        return None, note
    return found, None


def _first_apart(yours, reference):
    """The first epoch where two curves differ, or None."""
    n = min(len(yours), len(reference))
    apart = ~np.isclose(yours[:n], reference[:n], rtol=1e-6, atol=1e-9)
    if apart.any():
        return int(np.argmax(apart))
    return None if len(yours) == len(reference) else n


def _percent(x):
    return f"{100 * x:.1f}%"


def plot_generalization_gap(n_train=200, lam=0.0, p_drop=0.0, patience=10, student=None,
                            _memo=None) -> Figure:
    """The generalization gap: loss (left), accuracy (middle) and ‖W‖ (right) per epoch.

    Training curves are blue, validation curves orange. The epoch early stopping
    keeps (its ``best_epoch``) is a solid grey line, the epoch where it stops a dotted
    one, and the epochs it never trains are shaded.

    Parameters
    ----------
    n_train : int
        Training digits: 100, 200, 500 or 1000 (any number up to 1037 works).
    lam : float
        λ of the L2 penalty.
    p_drop : float in [0, 1)
        The probability of dropping a hidden unit.
    patience : int
        Early stopping's patience.
    student : mapping of str -> callable, optional
        Your ``regularized_loss_and_grads`` (its run is drawn dashed red over the
        reference's) and ``EarlyStopping`` (its epoch is marked in red if it is not
        the reference's); ``globals()`` works. What is missing, unfinished or failing
        is noted on the figure. None draws the reference only.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = Figure(figsize=(11, 3.9))  # a fixed layout: constrained layout costs half a redraw
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.13, top=0.8, wspace=0.28)
    ax_loss, ax_acc, ax_norm = fig.subplots(1, 3, width_ratios=(1, 1, 0.75))
    epochs = np.arange(EPOCHS)
    setting = (f"{n_train} training digits, λ = {lam:g}, p_drop = {p_drop:g}, "
               f"patience {patience}")
    notes = []
    if student_only():
        notes.append("not trained while grading: the network, Adam and the scores "
                     "are the course's, not yours")
        run = None
    else:
        run = _reference_run(int(n_train), float(lam), float(p_drop))

    yours_fn = yours_stopper = None
    if student is not None and run is not None:
        yours_fn = student.get("regularized_loss_and_grads")
        yours_stopper = student.get("EarlyStopping")
        if yours_fn is None:
            notes.append(say("regularized_loss_and_grads", NOT_DEFINED))
        elif yours_fn is ref.regularized_loss_and_grads:
            notes.append("regularized_loss_and_grads: the reference (yours does not pass "
                         "its checks yet)")
            yours_fn = None
        if yours_stopper is None:
            notes.append(say("EarlyStopping", NOT_DEFINED))
        elif yours_stopper is ref.EarlyStopping:
            notes.append("EarlyStopping: the reference (yours does not pass its checks yet)")
            yours_stopper = None

    if run is not None:
        best, stop = early_stop(run["val_loss"], patience)
        for ax in (ax_loss, ax_acc, ax_norm):
            labelled = ax is ax_loss  # one legend names the marks
            if stop is not None:
                ax.axvspan(stop + 0.5, EPOCHS, color="0.93", lw=0)
                ax.axvline(stop, color="0.45", ls=":", lw=1.3,
                           label="stops" if labelled else None)
            ax.axvline(best, color="0.45", lw=1.3, label="kept epoch" if labelled else None)
        x = epochs[:len(run["train_loss"])]
        ax_loss.plot(x, run["train_loss"], color=_TRAIN, lw=2, label="training")
        ax_loss.plot(x, run["val_loss"], color=_VAL, lw=2, label="validation")
        ax_acc.plot(x, 100 * run["train_acc"], color=_TRAIN, lw=2, label="training")
        ax_acc.plot(x, 100 * run["val_acc"], color=_VAL, lw=2, label="validation")
        ax_norm.plot(x, run["w_norm"], color=_NORM, lw=2)
        norm_best = run["w_norm"][best]
        ax_norm.plot([best], [norm_best], "o", color=_NORM, ms=6)
        last = len(run["val_loss"]) - 1
        stopped = f"stops at {stop}" if stop is not None else "never stops"
        ax_loss.set_title(f"early stopping keeps epoch {best}, {stopped}\ncross-entropy; at the "
                          f"end, validation − training = "
                          f"{run['val_loss'][last] - run['train_loss'][last]:.2f}", fontsize=10)
        ax_acc.set_title(f"validation {_percent(run['val_acc'][best])} at epoch {best},\n"
                         f"{_percent(run['val_acc'][last])} at the end (training "
                         f"{_percent(run['train_acc'][last])})", fontsize=10)
        ax_norm.set_title(f"‖W‖ = {norm_best:.1f} at epoch {best},\n"
                          f"{run['w_norm'][last]:.1f} at the end", fontsize=10)

        if yours_fn is not None:
            mine, note = _students_run(yours_fn, int(n_train), float(lam), float(p_drop),
                                       _memo if _memo is not None else {})
            if note:
                notes.append(note)
            else:
                xs = epochs[:len(mine["train_loss"])]
                dashed = {"color": style.YOURS, "lw": 1.2, "ls": "--", "dashes": (3, 3)}
                ax_loss.plot(xs, mine["train_loss"], **dashed, label="yours")
                ax_loss.plot(xs, mine["val_loss"], **dashed)
                ax_acc.plot(xs, 100 * mine["train_acc"], **dashed, label="yours")
                ax_acc.plot(xs, 100 * mine["val_acc"], **dashed)
                ax_norm.plot(xs, mine["w_norm"], **dashed)
                k = _first_apart(mine["val_loss"], run["val_loss"])
                if k is not None:
                    notes.append(say("regularized_loss_and_grads",
                                     f"leaves the reference's run at epoch {k}"))
        if yours_stopper is not None:
            found, note = _students_stop(yours_stopper, run["val_loss"], patience)
            if note:
                notes.append(note)
            elif found != (best, stop):
                your_best = found[0]
                if isinstance(your_best, (int, np.integer)) and 0 <= your_best < EPOCHS:
                    ax_loss.axvline(your_best, color=style.YOURS, ls="--", lw=1.2)
                notes.append(say("EarlyStopping", f"keeps epoch {found[0]} and stops at "
                                                  f"{found[1]}; the reference {best} and {stop}"))

    ax_loss.set_yscale("log")
    _plain_log_ticks(ax_loss)
    ax_loss.set_ylabel("loss (log scale)")
    ax_acc.set_ylabel("accuracy (%)")
    ax_acc.set_ylim(50, 100.8)  # the first epochs, below, are alike in every run
    ax_norm.set_ylabel("‖W‖")
    for ax in (ax_loss, ax_acc, ax_norm):
        ax.set_xlabel("epoch")
        ax.set_xlim(0, EPOCHS)
        ax.grid(True, color="0.92")
    if run is not None:
        ax_loss.legend(loc="lower left", fontsize=8, ncols=2)
        ax_acc.legend(loc="lower right", fontsize=8)
    fig.suptitle(f"The generalization gap: a {'-'.join(map(str, SIZES))} ReLU net, {EPOCHS} "
                 f"epochs of full-batch Adam; {setting}", fontsize=11)
    style.note(ax_norm, "\n".join(dict.fromkeys(notes)), y=0.97, va="top", fontsize=8)
    return fig


def generalization_gap(student: Mapping | None = None, n_train=200, lam=0.0, p_drop=0.0,
                       patience=10):
    """The generalization gap with sliders: training digits, λ, p_drop and early stopping's patience.

    Parameters
    ----------
    student : mapping of str -> callable, optional
        Your ``regularized_loss_and_grads`` and ``EarlyStopping``; in a notebook,
        ``globals()`` works.
    n_train : int
        Training digits shown first, one of :data:`TRAIN_SIZES`.
    lam : float
        λ shown first, one of :data:`LAMBDAS`.
    p_drop : float
        p_drop shown first, one of :data:`P_DROPS`.
    patience : int
        Early stopping's patience shown first (5 to 40).

    Returns
    -------
    ipywidgets.VBox
        A dashboard: where no kernel runs, it leaves its figure behind as a picture.
    """
    import ipywidgets as w

    style_ = {"description_width": "110px"}
    wide = w.Layout(width="380px")
    sizes = w.SelectionSlider(options=list(TRAIN_SIZES), value=int(n_train),
                              description="training digits", style=style_, layout=wide,
                              continuous_update=False)
    lams = w.SelectionSlider(options=[(f"{value:g}", value) for value in LAMBDAS],
                             value=float(lam), description="λ (log scale)", style=style_,
                             layout=wide, continuous_update=False)
    drops = w.SelectionSlider(options=list(P_DROPS), value=float(p_drop), description="p_drop",
                              style=style_, layout=wide, continuous_update=False)
    patiences = w.IntSlider(value=int(patience), min=5, max=40, step=5, description="patience",
                            style=style_, layout=wide, continuous_update=False)
    memo = {}  # the student's runs, by setting: this dashboard's own

    def draw():
        return plot_generalization_gap(sizes.value, lams.value, drops.value, patiences.value,
                                       student, _memo=memo)

    # λ first: the slider a presenter reaches for (and a browser test drags)
    rows = [w.HBox([w.VBox([lams, drops]), w.VBox([sizes, patiences])])]
    return live_dashboard("The generalization gap", rows, draw,
                          controls=(lams, drops, sizes, patiences), dpi=_DPI,
                          max_width="1100px")
