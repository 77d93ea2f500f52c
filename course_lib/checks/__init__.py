"""Feedback on the notebooks' exercises, shared by the notebooks and by ``tests/``.

In a notebook, after implementing ``relu``::

    from course_lib.checks import check
    check("relu", relu)               # the visible test cell
    check("relu", relu, hidden=True)  # what the hidden test cell adds

A pass prints one line; a failure raises :class:`ExerciseFailed`, an
``AssertionError`` whose message gives the input, what was expected, what came
back, and the likely mistake when the answer matches a known one.

A later exercise that builds on an earlier one calls::

    dense_forward = own_or_reference("dense_forward", dense_forward)

which keeps the student's function when it passes its checks and otherwise
falls back on the reference, saying so, so one unfinished exercise never
blocks the rest of a notebook.

Each topic module beside this one (``activations``, ``layers``, …) defines the
exercises of one notebook in a dict ``EXERCISES``; they are all found here.
"""

from __future__ import annotations

import importlib
import os
import pkgutil

from course_lib import channel

from . import _record
from ._engine import Exercise, ExerciseFailed, _references_in_place_of, run_exercise
from ._engine import check_values as _check_values

__all__ = ["check", "check_values", "own_or_reference", "exercise", "exercise_names",
           "topic_of",
           "ExerciseFailed"]


def _discover() -> dict[str, Exercise]:
    """Every topic module's exercises; while grading, only the topics being graded.

    The cases of a later topic are built at import with earlier topics' references
    (04's networks run 01's activations), which a grading kernel of 01 withholds.
    """
    exercises: dict[str, Exercise] = {}
    wanted = os.environ.get(channel.TOPICS_VARIABLE, "") if channel.grading() else ""
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("_") or (wanted and module.name not in wanted.split(",")):
            continue
        topic = importlib.import_module(f"{__name__}.{module.name}")
        clash = exercises.keys() & topic.EXERCISES.keys()
        if clash:
            raise RuntimeError(f"exercises defined twice: {sorted(clash)} (in {module.name})")
        exercises.update(topic.EXERCISES)
        _TOPICS.update(dict.fromkeys(topic.EXERCISES, module.name))
    return exercises


_TOPICS: dict[str, str] = {}
_EXERCISES = _discover()


def topic_of(name: str) -> str:
    """The checks module (the topic, e.g. ``"activations"``) that defines exercise ``name``."""
    exercise(name)
    return _TOPICS[name]


def exercise(name: str) -> Exercise:
    """The exercise called ``name`` (its reference, cases, hints); KeyError naming the known ones."""
    if name not in _EXERCISES:
        raise KeyError(f"no exercise named {name!r}; the exercises are {sorted(_EXERCISES)}")
    return _EXERCISES[name]


def check(name: str, fn, *, hidden: bool = False) -> None:
    """Check the student's ``fn`` for the exercise ``name`` against the reference.

    Parameters
    ----------
    name : str
        The exercise, which is the name of the function or class to implement (``"relu"``).
    fn : callable
        The student's implementation.
    hidden : bool, default False
        Also run the cases of the hidden tests (extreme and random inputs).

    Raises
    ------
    ExerciseFailed
        At the first case that fails, with what to fix.
    """
    if _record.recording():  # the instructor is grading: the grader judges
        _record.record_check(exercise(name), fn, hidden)
        return
    passed = run_exercise(exercise(name), fn, hidden=hidden)
    scope = "visible and hidden" if hidden else "visible"
    print(f"\u2714 {name}: all {passed} {scope} checks passed.")


def own_or_reference(name: str, fn):
    """The student's ``fn`` if it passes the checks of exercise ``name``, else the reference.

    Prints which one the notebook goes on with, and why. While an instructor grades,
    the notebook goes on with the student's own ``fn``, whatever it does: the
    references are withheld, and a demonstration is not graded.
    """
    if _record.recording():
        print(f"(grading: the cells below use your own {name})")
        return fn
    chosen = exercise(name)
    reference = chosen.reference
    where = f"{reference.__module__}.{reference.__qualname__}"
    if fn is reference:  # this cell ran before and put the reference in place of theirs
        print(f"\u26a0 {name} is the reference {where} here, not yours: run your solution "
              f"cell again, then this cell, to use yours.")
        return reference
    try:
        # the visible checks, as its test cell runs them: a pass there is a pass here
        run_exercise(chosen, fn)
    except ExerciseFailed as exc:
        print(f"\u26a0 Your {name} does not pass its checks yet ({exc.summary}).\n"
              f"  The cells below use the reference {where} instead, so you can go on; "
              f"fix yours and re-run this cell to use it.")
        return reference
    print(f"\u2714 Using your {name}: it passes its checks.")
    return fn


def check_values(name: str, fn, args: tuple, expected, kwargs: dict | None = None) -> None:
    """Check ``fn(*args, **kwargs)`` against hard-coded ``expected`` values.

    As in :func:`check`, the exercises ``name`` depends on are swapped for their
    references while it runs.
    """
    depends = _EXERCISES[name].depends if name in _EXERCISES else {}
    outputs = _EXERCISES[name].outputs if name in _EXERCISES else ()
    if _record.recording():  # the instructor is grading: the grader judges
        _record.record_values(name, fn, args, kwargs, depends)
        return
    with _references_in_place_of(fn, depends):
        _check_values(name, fn, args, expected, kwargs, outputs)


def exercise_names() -> list[str]:
    """The names of every exercise the checks know."""
    return list(_EXERCISES)
