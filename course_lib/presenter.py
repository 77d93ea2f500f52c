"""Presenter mode: the widgets of the finished course, set up to be shown in a lecture.

A *preset* is one picture worth showing: which widget, the settings it starts
with, a title, and a sentence or two the presenter says over it. :func:`show`
puts a preset's title, its sentences and its live dashboard into a notebook,
so that each demo notebook in ``demos/`` is a heading and one short cell per
picture::

    from course_lib.presenter import show
    show("sigmoid-saturates")

Every dashboard is built on the reference implementations, never on a student's
code, and draws the same picture every time: the widgets draw from fixed seeds,
and the digits trainer's run has fixed seeds for the data split, the weights and
the minibatches. ``make demo`` serves ``demos/`` with Voilà, without code cells
and in large type (the ``presenter`` template in ``demos/share``).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from .data import load_digits
from .widgets._render import set_figure_scale
from .widgets.activations import activation_explorer
from .widgets.autoencoders import autoencoder_explorer
from .widgets.backprop import gradient_norm_explorer
from .widgets.deep_networks import depth_explorer
from .widgets.forward_pass import (
    DATA_TARGET,
    activation_statistics_explorer,
    universal_approximation_explorer,
)
from .widgets.losses import loss_explorer, saturation_explorer
from .widgets.optimizers import OPTIMIZERS, DigitsTrainer, optimizer_race
from .widgets.regularization import generalization_gap

__all__ = ["PROJECTOR_SCALE", "Preset", "PRESETS", "WIDGETS", "build", "figure", "show"]


def _trained_digits(optimizer="Adam", lr=3e-3, weight_decay=0.0, epochs=30):
    """The digits trainer on the reference optimizers, after one training run with these settings.

    The run is part of the picture: the dashboard opens on its loss and accuracy
    curves, and a press of *Train* draws the next run in colour over this one in grey.
    """
    # no progress bar: in a hall the curves say the same, in larger type
    trainer = DigitsTrainer(OPTIMIZERS, load_digits(), progress=False)
    trainer.train(optimizer=optimizer, lr=lr, weight_decay=weight_decay, epochs=epochs)
    return trainer.widget


#: pixels of a presenter's figure per pixel of the same figure in a notebook: stretched
#: across a 1400-pixel page, a notebook's figure (about 900 pixels wide) would be soft
PROJECTOR_SCALE = 1.5

#: Widget name, as the notebooks import it -> a function that builds its dashboard from
#: keyword settings alone. The factories' student arguments are left at None, so
#: only the references are drawn and run.
WIDGETS: dict[str, Callable] = {
    "activation_explorer": activation_explorer,
    "universal_approximation_explorer": universal_approximation_explorer,
    "activation_statistics_explorer": activation_statistics_explorer,
    "loss_explorer": loss_explorer,
    "saturation_explorer": saturation_explorer,
    "gradient_norm_explorer": gradient_norm_explorer,
    "optimizer_race": optimizer_race,
    "DigitsTrainer": _trained_digits,
    "generalization_gap": generalization_gap,
    "autoencoder_explorer": autoencoder_explorer,
    "depth_explorer": depth_explorer,
}


@dataclass(frozen=True)
class Preset:
    """One picture for the lecture.

    Attributes
    ----------
    widget : str
        A key of :data:`WIDGETS`.
    title : str
        Shown as a heading above the dashboard.
    say : str
        One or two sentences the presenter says; shown under the title, so the
        back rows can read along.
    settings : mapping
        Keyword arguments of the widget's factory.
    controls : mapping of str -> value
        Controls the factory has no argument for, by their label, set after
        building as a presenter would set them by hand.
    """

    widget: str
    title: str
    say: str
    settings: Mapping = field(default_factory=dict)
    controls: Mapping = field(default_factory=dict)


#: Preset name -> Preset, in the order of the course (01 activations .. 08 deep networks).
PRESETS: dict[str, Preset] = {
    # 01 activations
    "sigmoid-saturates": Preset(
        "activation_explorer", "The sigmoid saturates",
        "Away from 0 the sigmoid is flat: its slope is at most 0.25, and below 0.01 "
        "once |x| > 5. A unit out there passes almost no gradient back.",
        {"entry": "sigmoid", "x_range": (-10.0, 10.0)}),
    "tanh-slope": Preset(
        "activation_explorer", "tanh: the same S, four times as steep",
        "tanh is a stretched sigmoid centred on 0: its slope at 0 is 1 instead of 0.25, "
        "but it saturates just the same.",
        {"entry": "tanh", "x_range": (-6.0, 6.0)}),
    "relu-kink": Preset(
        "activation_explorer", "ReLU: no saturation on the active side",
        "ReLU's slope is exactly 1 for every positive input and 0 for every negative one: "
        "a unit that is on passes the whole gradient back.",
        {"entry": "ReLU", "x_range": (-3.0, 3.0)}),
    # 02 forward pass
    "one-hidden-layer": Preset(
        "universal_approximation_explorer", "What one hidden layer can draw",
        "Twenty random ReLU units, each one bent line; with the output layer fitted by least "
        "squares their sum follows the noisy curve. Fewer units give a coarser broken line.",
        {"n_units": 20, "activation": "relu", "target": DATA_TARGET},
        {"fit output layer by least squares": True}),
    "xavier-keeps-the-scale": Preset(
        "activation_statistics_explorer", "Xavier weights: ten tanh layers",
        "With the weights' spread set by the layers' widths, the activations shrink only "
        "slowly, from 0.6 to 0.2 in ten layers, and hardly a unit is saturated.",
        {"activation": "tanh", "init": "xavier", "depth": 10, "width": 256}),
    "small-weights-vanish": Preset(
        "activation_statistics_explorer", "Weights too small: the signal dies out",
        "With a standard deviation of 0.01 every layer multiplies the spread by about 0.16: "
        "after ten layers it is 1e-8, and the last layers see nothing of the input.",
        {"activation": "tanh", "init": "small", "depth": 10, "width": 256}),
    "large-weights-saturate": Preset(
        "activation_statistics_explorer", "Weights too large: every unit saturates",
        "With a standard deviation of 1 the sums are huge: 85% of the tanh units sit at −1 "
        "or +1, where their slope, and so the gradient they pass back, is almost 0.",
        {"activation": "tanh", "init": "large", "depth": 10, "width": 256}),
    # 03 losses
    "confidently-wrong": Preset(
        "loss_explorer", "A confident wrong answer: two losses",
        "The true class has logit −4 and probability 0.005. Cross-entropy grows like −z0 "
        "without a bound; the MSE of the probabilities never passes 2/3 and is flat out here.",
        {"true_logit": -4.0, "others": (1.0, 0.0)}),
    "saturated-output": Preset(
        "saturation_explorer", "Why cross-entropy learns faster",
        "At z = −6 the sigmoid is saturated and wrong: MSE's gradient, 0.005, is 200 times "
        "smaller than cross-entropy's. In 30 steps cross-entropy reaches p = 0.95; "
        "MSE does not move.",
        {"z": -6.0, "lr": 1.0}),
    # 04 backprop
    "vanishing-gradients": Preset(
        "gradient_norm_explorer", "Vanishing gradients",
        "Ten sigmoid layers with Xavier weights: on its way back the gradient shrinks about "
        "four times in every layer, so the first layer gets 5e-6 of the last one's. "
        "ReLU's keeps its size.",
        {"n_layers": 10, "init": "xavier", "activations": ("sigmoid", "relu")}),
    "twenty-layers-he": Preset(
        "gradient_norm_explorer", "Twenty layers with He weights",
        "He initialisation does not rescue the sigmoid: twenty layers deep its first layer "
        "gets 1e-10 of the last one's gradient, while tanh's and ReLU's stay within a "
        "factor of 3.",
        {"n_layers": 20, "init": "he", "activations": ("sigmoid", "tanh", "relu")}),
    # 05 optimizers
    "narrow-valley-race": Preset(
        "optimizer_race", "The race in a narrow valley",
        "Curvatures 1 and 20: just under its largest stable step, 2/20 = 0.1, gradient descent "
        "zigzags across the valley; momentum damps the zigzag and arrives first.",
        {"surface": "ill-conditioned quadratic"}),
    "step-too-large": Preset(
        "optimizer_race", "One step too large",
        "The same race with a learning rate of 0.11, just past 2/20: gradient descent "
        "overshoots further at every step and diverges, while momentum still converges.",
        {"surface": "ill-conditioned quadratic"},
        {"GD/Mom. lr": 0.11}),
    "curved-valley-race": Preset(
        "optimizer_race", "The race in a curved valley",
        "Rosenbrock's valley is steep across and nearly flat along its floor: with the small "
        "step the walls allow, gradient descent stalls, and momentum gets closest to the star.",
        {"surface": "Rosenbrock"}),
    "digits-adam": Preset(
        "DigitsTrainer", "Training on the digits with Adam",
        "An MLP with 64 hidden units after 30 epochs of Adam: about 98% of the test digits "
        "right. Change the optimizer or the learning rate and press Train to race this run.",
        {"optimizer": "Adam", "lr": 3e-3, "epochs": 30}),
    # 06 regularization
    "overfitting-200-digits": Preset(
        "generalization_gap", "200 digits: the generalization gap",
        "Trained on 200 digits, the network soon gets every one of them right, yet about 8% of "
        "the validation digits stay wrong. The validation loss is lowest at epoch 23: early "
        "stopping keeps those weights, with a smaller ‖W‖ than at the end.",
        {"n_train": 200}),
    "weight-decay-shrinks-w": Preset(
        "generalization_gap", "Weight decay shrinks the weights",
        "With λ = 0.03, ‖W‖ ends at 4.8 instead of 15.6 and the validation loss ends 0.21 above "
        "the training loss instead of 0.29; the validation accuracy hardly moves, 92.8% "
        "against 92.2%.",
        {"n_train": 200, "lam": 0.03}),
    "dropout-slows-overfitting": Preset(
        "generalization_gap", "Dropout slows the overfitting",
        "Dropping half of the hidden units at every step, the validation loss is lowest at "
        "epoch 51 instead of 23, and the validation accuracy ends at 93.5% instead of 92.2%.",
        {"n_train": 200, "p_drop": 0.5}),
    "more-digits-close-the-gap": Preset(
        "generalization_gap", "More data closes the gap",
        "With 1000 training digits the same network ends 2.5 points apart on training and "
        "validation instead of 7.8, and its validation loss still falls at epoch 99: early "
        "stopping never stops.",
        {"n_train": 1000}),
    # 07 autoencoders
    "two-codes-three-maps": Preset(
        "autoencoder_explorer", "Two numbers per digit: PCA and two autoencoders",
        "With two codes the linear autoencoder rebuilds the digits as well as PCA, 0.0523 per "
        "pixel, because it spans the same plane. The tanh autoencoder bends that plane: 25% "
        "less error, and the digits fall into clusters.",
        {"k": 2}),
    "two-codes-held-out": Preset(
        "autoencoder_explorer", "The same codes on digits never seen",
        "On the 360 held-out digits the tanh autoencoder still beats PCA at k = 2, 0.0412 "
        "against 0.0532 per pixel: 22% less error instead of 25%.",
        {"k": 2, "which": "held-out"}),
    "twenty-codes": Preset(
        "autoencoder_explorer", "Twenty codes: PCA catches up",
        "With 20 codes PCA keeps almost 90% of the variance, and after 100 epochs the tanh "
        "autoencoder's error is only 4% below PCA's, 0.0074 against 0.0077 per pixel.",
        {"k": 20}),
    # 08 deep networks
    "sigmoid-twenty-blocks-vanish": Preset(
        "depth_explorer", "Twenty sigmoid blocks: the gradient vanishes",
        "On its way back through the plain sigmoid net the gradient shrinks about four times a "
        "layer: the first layer's ‖dW‖ is 7e-14 of the last one's. In the residual net the "
        "gradient reaching each hidden layer's output stays at 0.23 all the way down.",
        {"activation": "sigmoid", "depth": 20, "scale": 1.0}),
    "relu-twenty-blocks-healthy": Preset(
        "depth_explorer", "ReLU with He weights: nothing vanishes",
        "With ReLU and He initialisation every layer's ‖dW‖ stays within a factor of 2.2 of "
        "the others in the plain net, and of 1.9 in the residual one, twenty blocks deep.",
        {"activation": "relu", "depth": 20, "scale": 1.0}),
    "tanh-weights-times-three-explode": Preset(
        "depth_explorer", "Weights three times too large: tanh's gradient explodes",
        "With every weight of the plain tanh net times 3 the gradient grows about 1.3 times a "
        "layer on its way back, and the first layer's ‖dW‖ ends 500 times the last one's. "
        "The residual net's blocks, scaled down by 1/L, keep every layer within a factor of 5.",
        {"activation": "tanh", "depth": 20, "scale": 3.0}),
    "residual-rescues-fifty-sigmoid-blocks": Preset(
        "depth_explorer", "Fifty sigmoid blocks: the identity path carries the gradient",
        "In the plain net the first layer gets 9e-33 of the last one's gradient. In the "
        "residual net the gradient reaching each hidden layer's output stays between 0.224 and "
        "0.225 from the first to the last; ‖dW_i‖ still rises toward the output, because H "
        "grows by about 1/2 a block.",
        {"activation": "sigmoid", "depth": 50, "scale": 1.0}),
}


def _walk(widget) -> Iterator:
    """The widget and every widget inside it, depth first."""
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def _control(widget, label):
    found = [w for w in _walk(widget) if getattr(w, "description", None) == label]
    if len(found) != 1:
        raise KeyError(f"the dashboard has {len(found)} controls labelled {label!r}, not one")
    return found[0]


def build(name: str):
    """The live dashboard of preset ``name``, on the reference implementations.

    Returns
    -------
    ipywidgets.VBox
        The widget's dashboard, its figure as wide as the page.
    """
    # this kernel draws for a projector from now on, interactive redraws included
    set_figure_scale(PROJECTOR_SCALE)
    preset = PRESETS[name]
    dashboard = WIDGETS[preset.widget](**preset.settings)
    for label, value in preset.controls.items():
        _control(dashboard, label).value = value
    # the figures are drawn for a laptop's notebook; in a hall they fill the page's width
    dashboard.figure.layout.max_width = "none"
    return dashboard


def figure(name: str) -> bytes:
    """The PNG that preset ``name`` shows first: the same bytes on every call."""
    return bytes(build(name).figure.value)


def show(name: str) -> None:
    """Display preset ``name``: its title, what the presenter says, and the live dashboard."""
    from IPython.display import HTML, display

    preset = PRESETS[name]
    display(HTML(f'<h2 class="nn-preset-title">{html.escape(preset.title)}</h2>\n'
                 f'<p class="nn-preset-say">{html.escape(preset.say)}</p>'))
    display(build(name))
