"""In a grading kernel every widget draws the student's code alone and asks the grader for nothing.

While an instructor grades, the kernel imports a stripped course_lib whose withheld
functions only ask the grader (course_lib.grading.withhold), and the grader refuses
every such call outside a test cell. A widget cell runs outside any test cell, so a
widget there must use no reference: not the assignment's (refused), and, since it
cannot tell which are withheld, not any other notebook's either.

Each test below runs one widget module in a Python process set up as such a kernel,
only stricter: its course_lib withholds the references of every exercise of every
notebook (and all they reach), and its grader is a real Referee, never in a test
window, that counts what it is asked. The student's functions are the instructor's
solutions, executed from the solution notebooks into one namespace (as a notebook's
globals). Every widget must draw them (its dashboard carries a PNG), raise nothing,
note nothing wrong, and the grader must be asked nothing; a broken or missing
function must become a note. A last direct call of a stub checks that the count
works: it is the only call the grader sees.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from course_tools import ASSIGNMENTS, SOLUTIONS

from course_lib import channel
from course_lib.checks import exercise_names
from course_lib.grading.withhold import Referee, stripped_copy


class _CountingReferee(Referee):
    """A Referee that keeps the name of every call it is asked for (it refuses them all)."""

    def __init__(self, *args, **kwargs):
        self.asked: list = []
        super().__init__(*args, **kwargs)

    def _call(self, request, depth):
        self.asked.append(request.get("name"))
        return super()._call(request, depth)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """(stripped course_lib, referee): every notebook's references withheld, no test window."""
    root = tmp_path_factory.mktemp("grading-widgets")
    package = stripped_copy(root / "lib", exercise_names())
    referee = _CountingReferee(root / "grader.sock", exercise_names())
    yield package, referee
    referee.close()


#: Run first in the kernel: the instructor's solutions of every notebook in one namespace,
#: ``ns``; helpers to read a dashboard and a figure; ``report`` prints the results.
_PRELUDE = '''
import base64, json, sys
import numpy as np
import course_lib
from course_lib import channel

assert course_lib.__file__.startswith(sys.argv[1]), course_lib.__file__  # the stripped copy
assert channel.grading()

ns = {"np": np}
for path in sys.argv[2:]:
    with open(path) as f:
        cells = json.load(f)["cells"]
    for cell in cells:
        if cell["cell_type"] == "code" and cell["metadata"].get("nbgrader", {}).get("solution"):
            exec("".join(cell["source"]), ns)
    if "relu_grad" in ns and "ACTIVATIONS" not in ns:  # as notebooks 02-04 import it
        ns["ACTIVATIONS"] = {name: (ns[name], ns[name + "_grad"])
                             for name in ("relu", "sigmoid", "tanh", "softplus", "elu")}

def png_of(box):
    """The bytes of the PNG a dashboard leaves behind."""
    return base64.b64decode(box._repr_mimebundle_().get("image/png", ""))

def texts(fig):
    found = [t.get_text() for ax in fig.axes for t in ax.texts]
    return found + ([fig._suptitle.get_text()] if fig._suptitle else [])

def labels(fig):
    return sorted({line.get_label() for ax in fig.axes for line in ax.get_lines()
                   if not line.get_label().startswith("_")})

results = {"pngs": [], "figures": {}}

def dashboard(box):
    png = png_of(box)
    results["pngs"].append([png.startswith(b"\\x89PNG\\r\\n\\x1a\\n"), len(png)])

def figure(name, fig):
    results["figures"][name] = {"texts": texts(fig), "labels": labels(fig)}

def report():
    # the control: a withheld function, called directly, reaches the grader and is refused
    from course_lib.activations import sigmoid
    try:
        sigmoid(np.zeros(2))
    except channel.ReferenceWithheld as exc:
        results["control"] = str(exc)
    print("RESULTS " + json.dumps(results))
'''

_SCRIPTS = {
    "activations": '''
from course_lib.widgets.activations import EXPLORER_FUNCTIONS, activation_explorer, plot_activation
for entry in EXPLORER_FUNCTIONS:
    dashboard(activation_explorer(ns, entry=entry))
    figure(entry, plot_activation(entry, (-6.0, 6.0), 1.5, ns))
figure("missing", plot_activation("tanh", (-6.0, 6.0), 1.0, {}))
figure("broken", plot_activation("tanh", (-6.0, 6.0), 1.0, {"tanh": lambda x: 1 / 0,
                                                             "tanh_grad": None}))
''',
    "forward_pass": '''
from course_lib.widgets.forward_pass import (
    INITS, TARGETS, activation_statistics_explorer, plot_activation_statistics,
    plot_universal_approximation, universal_approximation_explorer)
dashboard(universal_approximation_explorer(ns["mlp_forward"]))
dashboard(activation_statistics_explorer(ns))
for target in list(TARGETS)[:2]:
    for fit in (False, True):
        figure(f"{target} {fit}", plot_universal_approximation(
            6, "tanh", target, 5.0, 0, fit, ns["mlp_forward"]))
for activation in ("tanh", "relu", "sigmoid"):
    for init in INITS.values():
        figure(f"{activation} {init}", plot_activation_statistics(activation, init, 5, 64, 0, ns))
figure("missing", plot_universal_approximation(5, "relu", forward=None))
figure("broken", plot_universal_approximation(5, "relu", forward=lambda *args: 1 / 0))
figure("missing stats", plot_activation_statistics("tanh", "he", 5, 64, 0, {}))
figure("broken stats", plot_activation_statistics(
    "tanh", "he", 5, 64, 0, {**ns, "ACTIVATIONS": {"tanh": (lambda z: 1 / 0, np.cos)}}))
''',
    "losses": '''
from course_lib.widgets.losses import loss_explorer, plot_losses, plot_saturation, saturation_explorer
dashboard(loss_explorer(ns))
dashboard(saturation_explorer(ns))
figure("losses", plot_losses(-2.0, (1.0, 0.0), ns))
figure("saturation", plot_saturation(-6.0, 1.0, ns))
figure("missing", plot_losses(-2.0, (1.0, 0.0), {}))
figure("missing saturation", plot_saturation(-6.0, 1.0, None))
broken = {**ns, "softmax": lambda z, axis=-1: 1 / 0, "cross_entropy_grad": lambda *a: 1 / 0}
figure("broken", plot_losses(-2.0, (1.0, 0.0), broken))
figure("broken saturation", plot_saturation(-6.0, 1.0, broken))
''',
    "backprop": '''
from course_lib.widgets.backprop import gradient_norm_explorer, plot_gradient_norms
dashboard(gradient_norm_explorer(ns["mlp_backward"]))
for init in ("he", "xavier", "fixed"):
    figure(init, plot_gradient_norms(6, init, 0.1, ("sigmoid", "tanh", "relu"),
                                     ns["mlp_backward"]))
figure("missing", plot_gradient_norms(6, "he", 0.1, ("sigmoid",), None))
def mlp_backward(dlogits, caches, activation="relu"):  # written where no forward pass is
    raise NotImplementedError
figure("broken", plot_gradient_norms(6, "he", 0.1, ("sigmoid",), mlp_backward))
wrong = eval("lambda dlogits, caches, activation: 1 / 0", ns)  # written in the notebook
figure("unfinished", plot_gradient_norms(6, "he", 0.1, ("sigmoid",), wrong))
''',
    "optimizers": '''
from course_lib.data import load_digits
from course_lib.widgets.optimizers import SURFACES, DigitsTrainer, optimizer_race, plot_race
mine = {name: ns[name] for name in ("GD", "Momentum", "Adam")}
dashboard(optimizer_race(mine))
for surface in SURFACES:
    figure(surface, plot_race(surface, student=mine))
figure("missing", plot_race(student={"GD": mine["GD"]}))
trainer = DigitsTrainer(mine, load_digits(), progress=False)
run = trainer.train(optimizer="Adam", lr=3e-3, epochs=5)
results["trainer note"] = run.note
dashboard(trainer.widget)
''',
    "regularization": '''
from course_lib.widgets.regularization import generalization_gap
board = generalization_gap(ns)
dashboard(board)
figure("gap", board.draw())
''',
    "autoencoders": '''
from course_lib.widgets.autoencoders import autoencoder_explorer, plot_autoencoders
board = autoencoder_explorer(ns)
dashboard(board)
figure("maps", board.draw())
figure("missing", plot_autoencoders(5, "held-out", {}))
results["has pca"] = all(name in ns for name in ("pca_fit", "pca_transform", "pca_reconstruct"))
''',
    "deep_networks": '''
from course_lib.widgets.deep_networks import depth_explorer, plot_depth
dashboard(depth_explorer(ns))
for activation, depth, scale in (("sigmoid", 20, 1.0), ("relu", 20, 2.0), ("tanh", 5, 3.0),
                                 ("elu", 2, 0.25)):
    figure(f"{activation} {depth} {scale}", plot_depth(activation, depth, scale, ns))
figure("missing", plot_depth("relu", 4, 1.0, {}))
wrong = eval("lambda dlogits, caches, activation, residual: 1 / 0", ns)  # written in the notebook
figure("unfinished", plot_depth("relu", 4, 1.0, {**ns, "deep_backward": wrong}))
results["has deep"] = all(name in ns for name in ("deep_forward", "deep_backward"))
''',
}

def test_every_widget_module_is_run_in_a_grading_kernel():
    """A new notebook's widgets are run here too: one script per module of course_lib.widgets."""
    import pkgutil

    import course_lib.widgets

    modules = {m.name for m in pkgutil.iter_modules(course_lib.widgets.__path__)
               if not m.name.startswith("_")}
    assert modules == set(_SCRIPTS), (
        f"add a script to _SCRIPTS for {sorted(modules - set(_SCRIPTS))}: what the widget "
        "draws in a grading kernel, and a test that reads it")


#: What a note says when the student's function is fine: none of these may appear then.
_TROUBLE = ("withheld", "raised", "not defined", "differs", "not implemented", "not found",
            "not given", "nothing drawn")


def _run(kernel, module):
    package, referee = kernel
    referee.asked.clear()
    solutions = [str(SOLUTIONS / folder / f"{name}.ipynb") for folder, name in ASSIGNMENTS]
    # (no checks topic: asking the grader imports course_lib.checks, whose topics build their
    # cases with references at import, and this copy withholds every one of them)
    env = {**os.environ, "PYTHONPATH": str(package.parent), channel.VARIABLE: str(referee.path),
           channel.TOPICS_VARIABLE: "none", "MPLBACKEND": "Agg"}
    script = _PRELUDE + textwrap.dedent(_SCRIPTS[module]) + "\nreport()\n"
    done = subprocess.run([sys.executable, "-c", script, str(package), *solutions],
                          cwd=package.parent, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULTS "))
    results = json.loads(line.removeprefix("RESULTS "))
    # the grader was asked exactly once: by the control, after the widgets
    assert referee.asked == ["course_lib.activations.sigmoid"], referee.asked
    assert "withheld while grading" in results["control"]
    assert results["pngs"], "no dashboard was built"
    for is_png, size in results["pngs"]:
        assert is_png and size > 5_000
    return results["figures"], results


def _fine(figures, names):
    for name in names:
        trouble = [t for t in figures[name]["texts"] if any(word in t for word in _TROUBLE)]
        assert not trouble, (name, trouble)
        assert figures[name]["labels"], name


def _noted(figures, name, *words):
    joined = "\n".join(figures[name]["texts"])
    for word in words:
        assert word in joined, (name, joined)


def test_the_activation_explorer_draws_the_students_functions_alone(kernel):
    figures, _ = _run(kernel, "activations")
    entries = [name for name in figures if name not in ("missing", "broken")]
    _fine(figures, entries)
    for entry in entries:  # each panel: yours, and no reference
        assert figures[entry]["labels"] == ["yours"], figures[entry]
    _noted(figures, "missing", "not defined yet")
    _noted(figures, "broken", "raised ZeroDivisionError", "not defined yet")


def test_the_forward_pass_widgets_draw_the_students_network_alone(kernel):
    figures, _ = _run(kernel, "forward_pass")
    universal = [name for name in figures if name.endswith(("True", "False"))]
    statistics = [name for name in figures if name.split()[-1] in ("he", "xavier", "small",
                                                                   "large")]
    assert len(universal) == 4 and len(statistics) == 12
    _fine(figures, universal + statistics)
    for name in universal:
        assert "your mlp_forward" in figures[name]["labels"]
        assert "network output" not in figures[name]["labels"]
    for name in statistics:
        assert "yours" in figures[name]["labels"] and "reference" not in figures[name]["labels"]
    _noted(figures, "missing", "mlp_forward not defined yet")
    _noted(figures, "broken", "mlp_forward raised ZeroDivisionError")
    _noted(figures, "missing stats", "dense_forward not defined yet")
    _noted(figures, "broken stats", "tanh raised ZeroDivisionError")


def test_the_loss_widgets_draw_the_students_losses_alone(kernel):
    figures, _ = _run(kernel, "losses")
    _fine(figures, ["losses", "saturation"])
    assert figures["losses"]["labels"] == ["MSE (yours)", "cross-entropy (yours)"]
    assert {"MSE (yours)", "cross-entropy (yours)"} == set(figures["saturation"]["labels"])
    _noted(figures, "missing", "your cross_entropy not defined yet", "your mse not defined yet")
    _noted(figures, "missing saturation", "your cross_entropy_grad not defined yet")
    _noted(figures, "broken", "your softmax raised ZeroDivisionError")
    _noted(figures, "broken saturation", "your cross_entropy_grad raised ZeroDivisionError")


def test_the_gradient_norm_explorer_runs_the_notebooks_code_alone(kernel):
    figures, _ = _run(kernel, "backprop")
    _fine(figures, ["he", "xavier", "fixed"])
    for init in ("he", "xavier", "fixed"):
        assert [label.split(":")[0] for label in figures[init]["labels"]] == [
            "relu (yours)", "sigmoid (yours)", "tanh (yours)"]
    _noted(figures, "missing", "mlp_backward not given")
    _noted(figures, "broken", "not found beside your mlp_backward")
    _noted(figures, "unfinished", "raised ZeroDivisionError")


def test_the_race_runs_the_students_optimizers_alone_and_the_trainer_does_not_train(kernel):
    figures, results = _run(kernel, "optimizers")
    surfaces = [name for name in figures if name != "missing"]
    _fine(figures, surfaces)
    for surface in surfaces:
        drawn = [label for label in figures[surface]["labels"] if label.startswith("your ")]
        assert sorted(label.split("(")[0] for label in drawn) == ["your Adam", "your GD",
                                                                  "your Momentum"]
    _noted(figures, "missing", "your Momentum not defined yet")
    assert "not trained while grading" in results["trainer note"]


def test_the_generalization_gap_trains_nothing_while_grading(kernel):
    """Its runs would train with the course's own loss; while grading it says so instead."""
    figures, _ = _run(kernel, "regularization")
    _noted(figures, "gap", "not trained while grading")


def test_the_autoencoder_widget_draws_the_students_pca_and_trains_no_network(kernel):
    """PCA's panels are the student's functions; the networks would train with the course's
    class, Adam and loop, so while grading the widget says it trains none."""
    figures, results = _run(kernel, "autoencoders")
    _noted(figures, "maps", "autoencoders not drawn while grading")
    _noted(figures, "missing", "your pca_fit not defined yet")
    assert figures["missing"]["labels"] == ["held-out"]  # no curve: nothing to draw
    if results["has pca"]:  # (with notebook 07's solutions)
        _fine(figures, ["maps"])
        assert figures["maps"]["labels"] == ["PCA (yours)", "held-out"]


def test_the_depth_explorer_runs_the_students_networks_alone(kernel):
    """The weights are drawn by the widget (deep_init is an exercise), the norms and the
    histograms come from the student's deep_forward and deep_backward, and ||dH_i||, which
    only the course's backward pass gives, is not drawn."""
    figures, results = _run(kernel, "deep_networks")
    _noted(figures, "missing", "your deep_forward not defined yet",
           "your deep_backward not defined yet")
    assert figures["missing"]["labels"] == []  # nothing to draw
    if results["has deep"]:  # (with notebook 08's solutions)
        drawn = [name for name in figures if name not in ("missing", "unfinished")]
        assert len(drawn) == 4
        _fine(figures, drawn)
        for name in drawn:
            assert [label.split(":")[0] for label in figures[name]["labels"]] == [
                "plain (yours)", "residual (yours)"], figures[name]
            _noted(figures, name, "not drawn while grading")
        _noted(figures, "unfinished", "your deep_backward raised ZeroDivisionError")
