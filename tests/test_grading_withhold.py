"""What a grading kernel cannot use: every course_lib name that computes an exercise's answer.

The references are not the only code that computes an exercise's values: their helpers
(``layers._check_dense``) and the classes built on them (``MLP``) do too. What is withheld
is worked out from the code, so these tests try every function of course_lib's math
modules, public and private, as the answer to every exercise: whatever passes an
exercise's checks must reach the grader (and be refused) while that exercise is tested.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import pkgutil
import signal

import pytest

import course_lib
from course_lib import network
from course_lib.checks import ExerciseFailed, exercise, exercise_names, topic_of
from course_lib.checks._engine import run_exercise
from course_lib.grading.withhold import _closure, allowed, qualified_name, withheld

#: course_lib's modules that hold no math: what they define computes no exercise's answer
_NOT_MATH = {"channel", "wire", "presenter", "data"}
#: every module of course_lib's math, found by name: a new topic's module is tried too
MODULES = [importlib.import_module(f"course_lib.{module.name}")
           for module in pkgutil.iter_modules(course_lib.__path__)
           if not module.ispkg and not module.name.startswith("_")
           and module.name not in _NOT_MATH]
TOPICS = sorted({topic_of(name) for name in exercise_names()})


def _assignment(topic):
    return [name for name in exercise_names() if topic_of(name) == topic]


def _candidates():
    """Every function and class defined at the top of a math module, public or private."""
    for module in MODULES:
        for _name, value in sorted(vars(module).items()):
            if (inspect.isfunction(value) or inspect.isclass(value)) \
                    and value.__module__ == module.__name__:
                yield value


@contextlib.contextmanager
def _at_most(seconds):
    def stop(*_):
        raise TimeoutError

    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _passes(name, candidate) -> bool:
    try:
        with _at_most(10), contextlib.redirect_stdout(io.StringIO()):
            run_exercise(exercise(name), candidate)
    except (ExerciseFailed, TimeoutError, Exception):
        return False
    return True


@pytest.mark.parametrize("topic", TOPICS)
def test_whatever_computes_an_answer_reaches_the_grader_while_it_is_tested(topic):
    names = _assignment(topic)
    served = withheld(names)
    for name in names:
        forbidden = set(served) - allowed({name}, names)
        for candidate in _candidates():
            if not _passes(name, candidate):
                continue
            reaches = {qualified_name(v) for v in _closure({candidate})}
            assert reaches & forbidden, (
                f"{qualified_name(candidate)} passes {name}'s checks, yet a grading kernel "
                f"of {topic} could call it while {name} is tested without the grader "
                f"knowing")


def test_the_helpers_and_the_classes_on_them_are_withheld_too():
    """02: the layer arithmetic, and MLP's forward pass through it."""
    served = withheld(_assignment("forward_pass"))
    assert {"course_lib.layers._check_dense", "course_lib.network._check_params",
            "course_lib.network.mlp_forward", "course_lib.layers.dense_forward"} <= set(served)
    assert "course_lib.network.mlp_forward" in {qualified_name(v) for v in
                                                _closure({network.MLP})}
    # 01's activations stay usable in 02: the lesson before is a tool now
    assert not any(key.startswith("course_lib.activations.") for key in served)
    # 04 withholds the backward arithmetic, not the forward pass it builds on
    backward = withheld(_assignment("backprop"))
    assert "course_lib.layers.dense_backward" in backward
    assert "course_lib.network.mlp_forward" not in backward


def test_a_test_may_use_what_its_exercise_builds_on():
    names = _assignment("forward_pass")
    assert allowed({"mlp_forward"}, names) == {
        "course_lib.layers.dense_forward", "course_lib.layers._check_dense"}
    assert allowed({"dense_forward"}, names) == frozenset()
