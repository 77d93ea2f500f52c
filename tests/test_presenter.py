"""Presenter mode: the presets of course_lib.presenter and the demo notebooks in demos/.

Every widget the finished course shows has a preset; every preset builds on the
references and draws the same PNG, byte for byte, each time it is built; the numbers
its sentences quote are the ones its picture shows; the demo notebooks are one per
topic, stored without outputs, name only presets that exist, and run in a real kernel
without an error. (tests/test_browser_demo.py shows them in Voilà in a browser.)
"""

from __future__ import annotations

import ast
import re

import nbformat
import numpy as np
import pytest
from course_tools import ASSIGNMENTS, ROOT, SOLUTIONS
from nbclient import NotebookClient

from course_lib import presenter
from course_lib.activations import sigmoid, softmax
from course_lib.data import load_digits
from course_lib.widgets.backprop import gradient_norms
from course_lib.widgets.forward_pass import layer_statistics
from course_lib.widgets.losses import descend_logit
from course_lib.widgets.optimizers import OPTIMIZERS, SURFACES, DigitsTrainer, race_path

DEMOS = ROOT / "demos"
DEMO_NOTEBOOKS = sorted(DEMOS.glob("[0-9]*.ipynb"))
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_WIDGET_IMPORT = re.compile(r"^\s*from course_lib\.widgets(?:\.\w+)? import ([\w ,]+)$", re.M)


def _widgets_of_the_course() -> dict[str, str]:
    """Every widget the finished notebooks import: name -> the topic (folder) that shows it."""
    found = {}
    for path in sorted(SOLUTIONS.glob("[0-9]*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                for names in _WIDGET_IMPORT.findall(cell.source):
                    for name in names.split(","):
                        found.setdefault(name.strip(), path.parent.name)
    return found


def _shown(path) -> list[str]:
    """The preset names a demo notebook passes to show(), in order."""
    names = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "show":
                (argument,) = node.args
                assert isinstance(argument, ast.Constant), f"{path.name}: show() takes a name"
                names.append(argument.value)
    return names


def test_every_widget_of_the_course_has_a_preset():
    course = _widgets_of_the_course()
    assert len(course) >= 8, course  # the eight dashboards of notebooks 01-05, at least
    assert set(presenter.WIDGETS) == set(course), (
        "presenter.WIDGETS must name exactly the widgets the solutions import")
    with_presets = {preset.widget for preset in presenter.PRESETS.values()}
    assert with_presets == set(course), f"no preset for {sorted(set(course) - with_presets)}"
    for name, preset in presenter.PRESETS.items():
        assert preset.title and preset.say, f"{name} needs a title and what to say"
        assert preset.say.count(". ") <= 2, f"{name}: one or two sentences, not a lecture"


@pytest.fixture(scope="module")
def first_pictures():
    """Preset name -> the PNG it shows first, built once for the module."""
    return {name: presenter.figure(name) for name in presenter.PRESETS}


@pytest.mark.parametrize("name", list(presenter.PRESETS))
def test_a_preset_draws_the_same_picture_every_time(first_pictures, name):
    again = presenter.figure(name)
    assert again.startswith(PNG_SIGNATURE)
    assert again == first_pictures[name], f"{name}: two builds gave different PNGs"


def _png_size(png: bytes) -> tuple[int, int]:
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def test_presenter_figures_have_the_pixels_of_a_projector_and_keep_them(first_pictures):
    """A preset's figure has 1.5 times a notebook's pixels each way, after a redraw too."""
    from course_lib.widgets import activation_explorer
    from course_lib.widgets._render import set_figure_scale

    set_figure_scale(1.0)
    notebook = activation_explorer(entry="sigmoid", x_range=(-10.0, 10.0)).children[-1].value
    width, height = _png_size(bytes(notebook))
    big_width, big_height = _png_size(first_pictures["sigmoid-saturates"])
    # (matplotlib rounds each size in inches times dots per inch: a pixel either way)
    assert abs(big_width - width * presenter.PROJECTOR_SCALE) <= 1
    assert abs(big_height - height * presenter.PROJECTOR_SCALE) <= 1
    dashboard = presenter.build("sigmoid-saturates")
    dashboard.children[0].children[0].value = "tanh"  # a control moved in the lecture
    assert _png_size(bytes(dashboard.children[-1].value)) == (big_width, big_height)


def test_presets_show_different_pictures(first_pictures):
    pictures = list(first_pictures.values())
    assert len(set(pictures)) == len(pictures), "two presets draw the same picture"


def test_a_preset_sets_its_settings_and_controls():
    """Settings go to the factory, controls are set by their label, the figure fills the page."""
    dashboard = presenter.build("one-hidden-layer")
    values = {w.description: w.value for w in presenter._walk(dashboard)
              if getattr(w, "description", None)}
    assert values["hidden units H"] == 20
    assert values["fit output layer by least squares"] is True
    assert dashboard.figure.layout.max_width == "none"
    with pytest.raises(KeyError):
        presenter.build("no-such-preset")


def test_what_the_presenter_says_is_what_the_picture_shows():
    """The numbers in the presets' sentences, computed by the functions the widgets draw."""
    xavier = layer_statistics("tanh", "xavier", 10, 256)  # "from 0.6 to 0.2", "hardly a unit"
    assert np.round(xavier["std"][[0, -1]], 1).tolist() == [0.6, 0.2]
    assert xavier["saturated"].max() < 0.01
    small = layer_statistics("tanh", "small", 10, 256)  # "about 0.16" a layer, "1e-8"
    assert np.allclose(small["std"][1:] / small["std"][:-1], 0.16, rtol=0.05)
    assert 0.5e-8 < small["std"][-1] < 2e-8
    large = layer_statistics("tanh", "large", 10, 256)  # "85% ... sit at -1 or +1"
    assert np.allclose(large["saturated"], 0.85, atol=0.01)

    def ratio(n_layers, activation, init):  # ||dW_1|| / ||dW_L||
        _, dw_norm = gradient_norms(n_layers, activation, init)
        return dw_norm[0] / dw_norm[-1]

    assert 3e-6 < ratio(10, "sigmoid", "xavier") < 8e-6  # "5e-6", about 4 ** -9
    assert 0.5 < ratio(10, "relu", "xavier") < 2  # "ReLU's keeps its size"
    assert 0.5e-10 < ratio(20, "sigmoid", "he") < 2e-10  # "1e-10"
    assert all(1 / 3 < ratio(20, a, "he") < 3 for a in ("tanh", "relu"))  # "a factor of 3"

    assert round(float(softmax(np.array([-4.0, 1.0, 0.0]))[0]), 3) == 0.005
    z_mse, z_ce = descend_logit(-6.0, 1.0, 30)  # "reaches p = 0.95; MSE does not move"
    assert sigmoid(z_ce[-1]) > 0.95 and sigmoid(z_mse[-1]) < 0.01

    def race(surface, lr=None):  # optimizer -> (note, distance to the minimum value at the end)
        s = SURFACES[surface]
        d = {**s.defaults, **({"lr": lr} if lr else {})}
        hypers = {"GD": {"lr": d["lr"]}, "Momentum": {"lr": d["lr"], "beta": d["beta"]},
                  "Adam": {"lr": d["adam_lr"], "beta1": d["beta1"], "beta2": d["beta2"]}}
        results = {}
        for name, optimizer in OPTIMIZERS.items():
            path, note = race_path(s, optimizer, hypers[name], d["steps"])
            results[name] = (note, s.f(*path[-1]) - s.f_min)
        return results

    narrow = race("ill-conditioned quadratic")  # "momentum ... arrives first"
    assert min(narrow, key=lambda name: narrow[name][1]) == "Momentum"
    too_large = race("ill-conditioned quadratic", lr=0.11)  # "diverges ... momentum converges"
    assert too_large["GD"][0].startswith("diverged") and too_large["Momentum"][1] < 1e-10
    curved = race("Rosenbrock")  # "gradient descent stalls, momentum gets closest"
    assert min(curved, key=lambda name: curved[name][1]) == "Momentum"
    assert curved["GD"][1] > 1

    trainer = DigitsTrainer(OPTIMIZERS, load_digits(), progress=False)  # "about 98%"
    settings = presenter.PRESETS["digits-adam"].settings
    assert round(trainer.train(**settings).test_accuracy, 2) == 0.98


def test_demos_follow_the_course_one_per_topic():
    assert [path.stem for path in DEMO_NOTEBOOKS] == [folder for folder, _ in ASSIGNMENTS]


@pytest.mark.parametrize("path", DEMO_NOTEBOOKS, ids=lambda path: path.stem)
def test_demo_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert "widgets" not in nb.metadata, "saved widget state: clear it before committing"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source
            assert len(cell.source.splitlines()) <= 3, f"a demo cell stays short:\n{cell.source}"


@pytest.mark.parametrize("path", DEMO_NOTEBOOKS, ids=lambda path: path.stem)
def test_demo_shows_existing_presets_of_its_own_topic(path):
    course = _widgets_of_the_course()
    shown = _shown(path)
    assert shown, f"{path.name} shows no preset"
    for name in shown:
        assert name in presenter.PRESETS, f"{path.name} shows {name!r}, which is no preset"
        widget = presenter.PRESETS[name].widget
        assert course[widget] == path.stem, f"{name} ({widget}) belongs in {course[widget]}"


def test_every_preset_is_shown_once():
    shown = [name for path in DEMO_NOTEBOOKS for name in _shown(path)]
    assert sorted(shown) == sorted(presenter.PRESETS)


@pytest.mark.parametrize("path", DEMO_NOTEBOOKS, ids=lambda path: path.stem)
def test_demo_notebook_runs(path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(DEMOS)}})
    client.execute()  # raises CellExecutionError on the first error
    shown = _shown(path)
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    assert not [out for out in outputs if out.output_type == "stream"], "a demo prints nothing"
    titles = [out for out in outputs if "text/html" in out.get("data", {})
              and "nn-preset-title" in out.data["text/html"]]
    widgets = [out for out in outputs if WIDGET_MIME in out.get("data", {})]
    assert len(titles) == len(widgets) == len(shown)
