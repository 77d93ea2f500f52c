"""The widgets of notebook 05: an optimizer race on 2-D surfaces, and live training on the digits.

:func:`plot_race` draws the paths of gradient descent, momentum and Adam on the
contours of a surface (yours dashed over the reference), and :func:`optimizer_race`
puts sliders on it. :class:`DigitsTrainer` trains an MLP on the digits with
:func:`course_lib.train.fit` and redraws its loss and accuracy per epoch as it trains.

In a grading kernel no reference runs (:func:`~course_lib.widgets._render.student_only`):
the race draws the student's optimizers alone, and the trainer, whose network and
``fit`` are the course's references, notes that it does not train.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import contourpy
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from .. import optim as ref
from ..losses import cross_entropy
from ..network import MLP
from ..train import fit
from . import _style as style
from ._render import live_dashboard, student_only
from ._student import NOT_DEFINED, problem, say

__all__ = [
    "Surface",
    "SURFACES",
    "OPTIMIZERS",
    "race_path",
    "plot_race",
    "optimizer_race",
    "TrainingRun",
    "plot_training",
    "DigitsTrainer",
]

_COLORS = {"GD": style.BLUE, "Momentum": style.ORANGE, "Adam": style.GREEN}
_RACE_DPI = 84  # the race redraws on every slider move: a smaller PNG is a quicker one

#: The optimizers of the race, by name, and the reference class of each.
OPTIMIZERS = {"GD": ref.GD, "Momentum": ref.Momentum, "Adam": ref.Adam}


# ---------------------------------------------------------------- the race


@dataclass(frozen=True)
class Surface:
    """A 2-D loss surface f(x, y), its gradient, where the race starts and what it shows.

    ``f`` and ``grad`` work on arrays (``f`` on a whole grid at once).
    ``defaults`` are the slider values the surface starts with.
    """

    name: str
    formula: str
    f: Callable
    grad: Callable
    start: tuple
    xlim: tuple
    ylim: tuple
    f_min: float
    minima: tuple  # ((x, y), ...) where f = f_min, marked with a star
    log_levels: bool
    legend: str  # where the legend hides no path
    defaults: dict = field(default_factory=dict)


def _quadratic_f(x, y):
    return 0.5 * (x**2 + 20.0 * y**2)


def _quadratic_grad(x, y):
    return np.array([x, 20.0 * y])


def _rosenbrock_f(x, y):
    return (1.0 - x) ** 2 + 100.0 * (y - x**2) ** 2


def _rosenbrock_grad(x, y):
    return np.array([-2.0 * (1.0 - x) - 400.0 * x * (y - x**2), 200.0 * (y - x**2)])


def _saddle_f(x, y):
    return 0.5 * x**2 + 0.25 * y**4 - 0.5 * y**2


def _saddle_grad(x, y):
    return np.array([x, y**3 - y])


SURFACES = {
    "ill-conditioned quadratic": Surface(
        "ill-conditioned quadratic", "f = (x² + 20 y²) / 2: curvatures 1 and 20",
        _quadratic_f, _quadratic_grad, (-4.5, 1.2), (-5.0, 5.0), (-1.8, 1.8), 0.0, ((0.0, 0.0),),
        False, "upper right",
        {"lr": 0.09, "beta": 0.7, "adam_lr": 0.2, "beta1": 0.9, "beta2": 0.999, "steps": 100},
    ),
    "Rosenbrock": Surface(
        "Rosenbrock", "f = (1 − x)² + 100 (y − x²)²: a curved valley",
        _rosenbrock_f, _rosenbrock_grad, (-1.2, 1.0), (-2.0, 2.0), (-1.0, 3.0), 0.0, ((1.0, 1.0),),
        True, "upper right",
        {"lr": 1e-3, "beta": 0.9, "adam_lr": 0.1, "beta1": 0.9, "beta2": 0.999, "steps": 300},
    ),
    "saddle": Surface(
        "saddle", "f = x²/2 + y⁴/4 − y²/2: a saddle at 0, minima at y = ±1",
        _saddle_f, _saddle_grad, (-2.5, 1e-3), (-3.0, 3.0), (-1.6, 1.6), -0.25,
        ((0.0, 1.0), (0.0, -1.0)), False, "lower right",
        {"lr": 0.1, "beta": 0.9, "adam_lr": 0.05, "beta1": 0.9, "beta2": 0.999, "steps": 150},
    ),
}


@functools.cache
def _background(name, n=160):
    """The surface's shading and contour lines, computed once per surface.

    Returns (shade, lines): an (n, n) array to show with imshow (f, or log f for
    a surface with log-spaced levels, clipped at its 90th percentile) and the
    contour lines as a list of (k, 2) vertex arrays. Drawing these is a few
    milliseconds; contouring the grid again on every redraw is not.
    """
    s = SURFACES[name]
    X, Y = np.meshgrid(np.linspace(*s.xlim, n), np.linspace(*s.ylim, n))
    Z = s.f(X, Y)
    if s.log_levels:
        levels = np.logspace(-1, np.log10(Z.max()), 16)
        shade = np.log10(np.maximum(Z, 1e-3))
    else:
        levels = np.linspace(Z.min(), np.percentile(Z, 90), 16)[1:]
        shade = np.minimum(Z, levels[-1])
    generator = contourpy.contour_generator(X, Y, Z)
    lines = [seg for level in levels for seg in generator.lines(level)]
    return shade, lines


def race_path(surface: Surface, optimizer_class, hyper: dict, steps: int):
    """Run an optimizer on a surface: ``(path, note)``.

    ``path`` has shape (k + 1, 2): the start and the point after each of the
    k <= steps steps (fewer when the run diverges or fails). ``note`` says why
    it stopped early, or is None. Nothing the optimizer raises escapes.
    """
    point = np.array(surface.start, dtype=np.float64)
    params = {"xy": point}
    path = [point.copy()]
    # far outside the plot counts as diverged: the numbers would only overflow
    limit = 1e3 * max(map(abs, surface.xlim + surface.ylim))
    try:
        optimizer = optimizer_class(**hyper)
        with np.errstate(all="ignore"):
            for t in range(1, steps + 1):
                optimizer.step(params, {"xy": surface.grad(*point)})
                if params["xy"] is not point:  # a network would not see the new array
                    return np.array(path), "did not update params in place"
                current = point.copy()
                path.append(current)
                if not np.all(np.isfinite(current)) or np.abs(current).max() > limit:
                    return np.array(path[:-1]), f"diverged at step {t}"
    except Exception as exc:  # whatever the student's code raises is shown, not raised
        return np.array(path), problem(exc)
    return np.array(path), None


def _plain_log_ticks(ax):
    """Label a log y axis 1e-4, 1e-2, ... in plain text: mathtext labels (10 to the -4) are
    parsed on every redraw and would cost a third of it."""
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:.0e}".replace("e-0", "e-")
                                               .replace("e+0", "e").replace("1e0", "1")))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _hyper(name, lr, beta, adam_lr, beta1, beta2):
    if name == "GD":
        return {"lr": lr}
    if name == "Momentum":
        return {"lr": lr, "beta": beta}
    return {"lr": adam_lr, "beta1": beta1, "beta2": beta2}


def _label(name, hyper):
    return f"{name}(" + ", ".join(f"{k}={v:g}" for k, v in hyper.items()) + ")"


def plot_race(surface="ill-conditioned quadratic", lr=None, beta=None, adam_lr=None, beta1=None,
              beta2=None, steps=None, student=None) -> Figure:
    """The race: paths of GD, Momentum and Adam on a surface (left) and f - min f per step (right).

    Parameters
    ----------
    surface : str
        A key of :data:`SURFACES`.
    lr : float
        Learning rate of GD and Momentum.
    beta : float
        Momentum's beta.
    adam_lr, beta1, beta2 : float
        Adam's hyperparameters.
    steps : int
        Steps per optimizer.
    student : mapping of str -> class, optional
        Your optimizer classes by name ("GD", "Momentum", "Adam"); each one that
        is not the reference itself is run too and drawn dashed over the
        reference. Missing, unfinished or failing ones are noted on the figure.
        None draws the reference only. Any value left None takes the surface's default.
        In a grading kernel, yours are drawn alone, without the reference.

    Returns
    -------
    matplotlib.figure.Figure
    """
    s = SURFACES[surface]
    given = {"lr": lr, "beta": beta, "adam_lr": adam_lr, "beta1": beta1, "beta2": beta2,
             "steps": steps}
    v = {k: (s.defaults[k] if x is None else x) for k, x in given.items()}
    steps = int(v["steps"])
    shade, lines = _background(surface)

    # a fixed layout: constrained layout would cost half of every redraw
    fig = Figure(figsize=(10.5, 4.2))
    fig.subplots_adjust(left=0.06, right=0.985, bottom=0.12, top=0.92, wspace=0.2)
    ax_map, ax_loss = fig.subplots(1, 2, width_ratios=(1.15, 1))
    ax_map.imshow(shade, extent=(*s.xlim, *s.ylim), origin="lower", aspect="auto",
                  cmap="Greys", alpha=0.5, interpolation="bilinear")
    ax_map.add_collection(LineCollection(lines, colors="0.5", linewidths=0.5))
    ax_map.plot(*s.start, "ko", ms=6, zorder=5)
    for point in s.minima:
        ax_map.plot(*point, "*", color="white", mec="black", ms=13, zorder=5)
    ax_map.annotate("start", s.start, textcoords="offset points", xytext=(6, 6), fontsize=9)

    notes = []
    alone = student_only()  # a graded notebook: its own optimizers only, no reference drawn
    if alone and student is None:
        student = {}
    for name, reference in OPTIMIZERS.items():
        hyper = _hyper(name, v["lr"], v["beta"], v["adam_lr"], v["beta1"], v["beta2"])
        color = _COLORS[name]
        drawn = student.get(name) if alone else reference
        if drawn is None:
            notes.append(say(name, NOT_DEFINED))
            continue
        path, note = race_path(s, drawn, hyper, steps)
        values = s.f(path[:, 0], path[:, 1]) - s.f_min
        label = (("your " if alone else "") + _label(name, hyper)
                 + (f" ({note})" if note else ""))
        # GD on top: its path is the shortest and would hide under the others
        z = 4 - list(OPTIMIZERS).index(name)
        ax_map.plot(path[:, 0], path[:, 1], "-", color=color, lw=2.2, alpha=0.9, label=label,
                    zorder=z)
        ax_map.plot(path[-1, 0], path[-1, 1], "o", color=color, ms=5, zorder=z)
        ax_loss.semilogy(np.arange(len(path)), np.maximum(values, 1e-16), color=color, lw=2.2,
                         label=name)
        if student is None or alone:
            continue
        yours = student.get(name)
        if yours is None:
            notes.append(say(name, NOT_DEFINED))
        elif yours is reference:
            notes.append(f"{name}: the reference (yours does not pass its checks yet)")
        else:
            your_path, your_note = race_path(s, yours, hyper, steps)
            if len(your_path) > 1:
                ax_map.plot(your_path[:, 0], your_path[:, 1], "--", color="black", lw=1.2,
                            dashes=(3, 3), zorder=6)
                your_values = s.f(your_path[:, 0], your_path[:, 1]) - s.f_min
                ax_loss.semilogy(np.arange(len(your_path)), np.maximum(your_values, 1e-16),
                                 "--", color="black", lw=1.2, dashes=(3, 3))
            n = min(len(path), len(your_path))
            apart = ~np.all(np.isclose(your_path[:n], path[:n], rtol=1e-6, atol=1e-9), axis=1)
            if your_note and your_note != note:
                notes.append(say(name, your_note))
            elif apart.any() or len(your_path) != len(path):
                k = int(np.argmax(apart)) if apart.any() else n
                notes.append(say(name, f"leaves the reference path at step {k}"))
    if student is not None and not alone:
        ax_map.plot([], [], "--", color="black", lw=1.2, dashes=(3, 3), label="yours")

    ax_map.set_xlim(*s.xlim)
    ax_map.set_ylim(*s.ylim)
    ax_map.set_title(f"{s.name}: {s.formula}", fontsize=10)
    ax_map.set_xlabel("x")
    ax_map.set_ylabel("y")
    if ax_map.get_legend_handles_labels()[0]:  # (nothing to list when no optimizer ran)
        ax_map.legend(loc=s.legend, fontsize=8, framealpha=0.9)
    ax_loss.set_title(f"distance to the minimum value over {steps} steps", fontsize=10)
    ax_loss.set_xlabel("step t")
    ax_loss.set_ylabel("f(θ_t) − min f (log scale)")
    _plain_log_ticks(ax_loss)
    ax_loss.set_xlim(0, steps)
    ax_loss.grid(True, which="major", color="0.9")
    if ax_loss.get_lines():
        ax_loss.legend(loc="lower left", fontsize=8)
    style.note(ax_loss, "\n".join(notes), y=0.98, va="top", fontsize=8)
    return fig


def optimizer_race(student: Mapping | None = None, surface="ill-conditioned quadratic"):
    """The race with sliders: choose a surface, the learning rates and the betas.

    Parameters
    ----------
    student : mapping of str -> class, optional
        Your GD, Momentum and Adam by name; in a notebook, ``globals()`` works.
    surface : str
        The surface shown first (a key of :data:`SURFACES`).

    Returns
    -------
    ipywidgets.VBox
        A dashboard: where no kernel runs, it leaves its figure behind as a picture.
    """
    import ipywidgets as w

    d = SURFACES[surface].defaults
    style = {"description_width": "92px"}
    wide = w.Layout(width="330px")
    choice = w.Dropdown(options=list(SURFACES), value=surface, description="surface",
                        style=style, layout=wide)
    lr = w.FloatLogSlider(value=d["lr"], base=10, min=-4, max=0, step=0.05,
                          description="GD/Mom. lr", readout_format=".2g", style=style,
                          layout=wide, continuous_update=False)
    beta = w.FloatSlider(value=d["beta"], min=0.0, max=0.99, step=0.01, description="Mom. beta",
                         style=style, layout=wide, continuous_update=False)
    adam_lr = w.FloatLogSlider(value=d["adam_lr"], base=10, min=-3, max=0, step=0.05,
                               description="Adam lr", readout_format=".2g", style=style,
                               layout=wide, continuous_update=False)
    beta1 = w.FloatSlider(value=d["beta1"], min=0.0, max=0.99, step=0.01,
                          description="Adam beta1", style=style, layout=wide,
                          continuous_update=False)
    beta2 = w.SelectionSlider(options=[0.9, 0.99, 0.999, 0.9999], value=d["beta2"],
                              description="Adam beta2", style=style, layout=wide,
                              continuous_update=False)
    steps = w.IntSlider(value=d["steps"], min=10, max=300, step=10, description="steps",
                        style=style, layout=wide, continuous_update=False)
    sliders = {"lr": lr, "beta": beta, "adam_lr": adam_lr, "beta1": beta1, "beta2": beta2,
               "steps": steps}

    def draw():
        return plot_race(choice.value, lr.value, beta.value, adam_lr.value, beta1.value,
                         beta2.value, steps.value, student)

    def new_surface(change):  # (the sliders set here redraw nothing: the surface redraws once)
        for key, value in SURFACES[change["new"]].defaults.items():
            sliders[key].value = value

    rows = [w.HBox([w.VBox([choice, lr, beta]), w.VBox([adam_lr, beta1, beta2]),
                    w.VBox([steps])])]
    return live_dashboard("Optimizer race", rows, draw, controls=(choice, *sliders.values()),
                          react={choice: new_surface}, dpi=_RACE_DPI, max_width="1050px")


# ---------------------------------------------------------------- training on the digits


@dataclass
class TrainingRun:
    """One training of the MLP: its settings and, per epoch, the losses and the test accuracy."""

    optimizer: str
    lr: float
    weight_decay: float
    epochs: int
    train_loss: list = field(default_factory=list)
    test_loss: list = field(default_factory=list)
    test_accuracies: list = field(default_factory=list)
    history: dict | None = None  # what fit returned
    model: MLP | None = None
    note: str | None = None  # why it stopped early, if it did

    @property
    def label(self) -> str:
        decay = f", weight_decay={self.weight_decay:g}" if self.weight_decay else ""
        return f"{self.optimizer}(lr={self.lr:g}{decay})"

    @property
    def test_accuracy(self) -> float:
        """The test accuracy after the last epoch (nan before the first)."""
        return self.test_accuracies[-1] if self.test_accuracies else math.nan


def plot_training(runs, epochs=None) -> Figure:
    """Loss (left) and test accuracy (right) per epoch; the last run in colour, earlier ones grey.

    Parameters
    ----------
    runs : sequence of TrainingRun
        Oldest first; the last is the current one (possibly still training).
    epochs : int, optional
        Width of the x axis; default the current run's epochs.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = Figure(figsize=(10, 3.6))  # a fixed layout: redrawn every epoch, it must be quick
    fig.subplots_adjust(left=0.07, right=0.985, bottom=0.14, top=0.91, wspace=0.22)
    ax_loss, ax_acc = fig.subplots(1, 2)
    current = runs[-1] if runs else None
    epochs = epochs or (current.epochs if current else 1)
    lowest_acc = 0.9
    for i, run in enumerate(runs[-4:]):
        latest = run is current
        shade = {} if latest else {"color": str(0.55 + 0.1 * i), "lw": 1.2}
        x = np.arange(1, len(run.train_loss) + 1)
        label = run.label if latest else f"earlier: {run.label}"
        ax_loss.plot(x, run.train_loss, **({"color": "#1f77b4", "lw": 2} if latest else shade),
                     label=f"train, {label}" if latest else label)
        if latest:
            ax_loss.plot(x, run.test_loss, color="#ff7f0e", lw=2, label="test")
        accs = np.asarray(run.test_accuracies, dtype=float)
        ax_acc.plot(x, 100 * accs, **({"color": "#2ca02c", "lw": 2} if latest else shade),
                    label=label)
        if len(accs):
            lowest_acc = min(lowest_acc, float(np.nanmin(accs)) if np.isfinite(accs).any() else 0)
    ax_loss.set_yscale("log")
    _plain_log_ticks(ax_loss)
    ax_loss.set_xlim(0.5, max(epochs, 1) + 0.5)
    ax_loss.set_title("cross-entropy after each epoch", fontsize=10)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss (log scale)")
    ax_loss.grid(True, color="0.92")
    ax_acc.set_xlim(0.5, max(epochs, 1) + 0.5)
    ax_acc.set_ylim(max(0.0, 100 * lowest_acc - 2), 100.5)
    ax_acc.axhline(95, color="0.6", ls=":", lw=1)
    title = "test accuracy"
    if current and current.test_accuracies:
        title += f": {100 * current.test_accuracy:.1f}% after epoch {len(current.test_accuracies)}"
    ax_acc.set_title(title, fontsize=10)
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy on the test set (%)")
    ax_acc.grid(True, color="0.92")
    if runs:
        ax_loss.legend(loc="lower left", fontsize=8)
        ax_acc.legend(loc="lower right", fontsize=8)
    if current:
        style.note(ax_acc, current.note, x=0.02, ha="left", va="baseline")
    return fig


_REDRAW_SECONDS = 0.3
_DEFAULT_LR = {"GD": 0.3, "Momentum": 0.03, "Adam": 3e-3}
#: the learning rates the trainer's slider offers: 1, 2, 3 and 5 in each decade, the
#: defaults among them (a log slider's steps would show 3e-3 as 0.00316, and train it)
_LEARNING_RATES = [float(f"{m}e{e}") for e in range(-4, 1) for m in (1, 2, 3, 5)] + [1.0]
_WEIGHT_DECAYS = [0.0, 1e-4, 1e-3, 1e-2, 1e-1]


def _offer(slider, value):
    """Set a SelectionSlider to ``value``, adding it to the options if it is not one yet."""
    value = float(value)
    if value not in slider.options:
        slider.options = sorted({*slider.options, value})
    slider.value = value


class DigitsTrainer:
    """An MLP trained on the digits with your optimizer, its curves redrawn as it trains.

    ``widget`` holds the controls (optimizer, learning rate, weight decay,
    epochs, a Train button), fit's progress bar and the figure; ``train()``
    trains with the controls' values and returns a :class:`TrainingRun`. In a
    grading kernel, where the network's code is withheld, a run does not train:
    its note says so on the figure.

    Parameters
    ----------
    optimizers : mapping of str -> class
        "GD", "Momentum" and "Adam" (yours, or the references).
    data : (X_train, X_test, y_train, y_test)
        As returned by :func:`course_lib.data.load_digits`.
    sizes : sequence of int
        The MLP's layer widths, 64 inputs to 10 classes.
    batch_size, seed : int
        Of ``fit`` and of the weights' initialisation.
    progress : bool
        Show fit's progress bar.
    """

    def __init__(self, optimizers: Mapping, data, sizes=(64, 64, 10), batch_size=32, seed=0,
                 progress=True):
        import ipywidgets as w

        self.optimizers = dict(optimizers)
        self.X_train, self.X_test, self.y_train, self.y_test = data
        self.sizes, self.batch_size, self.seed, self.progress = list(sizes), batch_size, seed, progress
        self.runs: list[TrainingRun] = []
        style = {"description_width": "90px"}
        self.choice = w.Dropdown(options=list(self.optimizers), value="Adam"
                                 if "Adam" in self.optimizers else next(iter(self.optimizers)),
                                 description="optimizer", style=style)
        self.lr = w.SelectionSlider(options=_LEARNING_RATES,
                                    value=_DEFAULT_LR.get(self.choice.value, 0.01),
                                    description="lr", style=style)
        self.weight_decay = w.SelectionSlider(options=_WEIGHT_DECAYS, value=0.0,
                                              description="weight decay", style=style)
        self.epochs = w.IntSlider(value=30, min=5, max=60, step=5, description="epochs",
                                  style=style)
        self.button = w.Button(description="Train", button_style="primary", icon="play")
        self.output = w.Output()
        self.choice.observe(self._new_optimizer, names="value")
        rows = [w.HBox([w.VBox([self.choice, self.lr]), w.VBox([self.weight_decay, self.epochs]),
                        self.button]),
                self.output]
        # the settings are the next run's: only a run (the button) changes the picture
        self.widget = live_dashboard(
            "Training on the digits", rows, lambda: plot_training(self.runs, self.epochs.value),
            controls=(self.button,), react={self.button: lambda _: self._train()},
            settings=(self.choice, self.lr, self.weight_decay, self.epochs), dpi=80)
        self.image = self.widget.figure

    def _new_optimizer(self, change):
        self.lr.value = _DEFAULT_LR.get(change["new"], self.lr.value)

    def train(self, **settings) -> TrainingRun:
        """Train a fresh MLP with the controls' settings, redrawing the curves as it goes.

        Keyword arguments (optimizer, lr, weight_decay, epochs) set the controls first.
        The picture the widget leaves in the saved notebook is updated at the end.

        Returns
        -------
        TrainingRun
        """
        run = self._train(**settings)
        self.widget.redraw()
        self.widget.refresh_static()
        return run

    def _train(self, **settings) -> TrainingRun:
        # (the Train button's, which the dashboard redraws after: a click changes the live
        # figure, not the saved picture)
        for key, value in settings.items():
            control = {"optimizer": self.choice, "lr": self.lr, "weight_decay": self.weight_decay,
                       "epochs": self.epochs}[key]
            if key in ("lr", "weight_decay"):  # any value, not only the slider's steps
                _offer(control, value)
            else:
                control.value = value
        run = TrainingRun(self.choice.value, float(self.lr.value),
                          float(self.weight_decay.value), int(self.epochs.value))
        self.runs.append(run)
        if student_only():  # the MLP and fit are the course's references: none runs here
            run.note = "not trained while grading: the network is the course's, not yours"
            return run
        model = MLP(self.sizes, seed=self.seed)
        run.model = model

        timer = {"last": -math.inf, "cost": 0.0}  # when the last redraw ended, what it took

        def on_epoch(epoch, history):
            with np.errstate(all="ignore"):
                train_loss = cross_entropy(model.forward(self.X_train), self.y_train)
                test_logits = model.forward(self.X_test)
                test_loss = cross_entropy(test_logits, self.y_test)
                accuracy = float(np.mean(test_logits.argmax(axis=1) == self.y_test))
            run.train_loss.append(train_loss)
            run.test_loss.append(test_loss)
            run.test_accuracies.append(accuracy)
            if not np.isfinite(train_loss):
                run.note = (f"the loss is no longer a number after epoch {len(run.train_loss)}: "
                            f"lr is too large")
                return True  # stop training
            # an epoch takes ~10 ms and a redraw ~100 ms: redraw when at least 0.3 s and twice
            # the last redraw's time have passed, so drawing never takes over a third of the run
            now = time.perf_counter()
            if now - timer["last"] > max(_REDRAW_SECONDS, 2 * timer["cost"]):
                self.widget.redraw()
                timer["last"] = time.perf_counter()
                timer["cost"] = timer["last"] - now
            return False

        self.button.disabled = True
        if self.progress:  # (outside a notebook, clear_output prints escape codes)
            self.output.clear_output()
        # (caught inside the Output widget: in IPython it would swallow the error itself,
        # print a traceback instead, and leave the run without its note)
        try:
            with self.output, np.errstate(all="ignore"):
                try:
                    optimizer = self.optimizers[run.optimizer](lr=run.lr,
                                                               weight_decay=run.weight_decay)
                    run.history = fit(model, self.X_train, self.y_train, optimizer=optimizer,
                                      epochs=run.epochs, batch_size=self.batch_size,
                                      seed=self.seed, progress=self.progress, callback=on_epoch)
                except Exception as exc:  # the student's optimizer: say what it raised
                    run.note = say(run.optimizer, problem(exc))
        finally:
            self.button.disabled = False
        return run
