"""Feedback on the notebooks' exercises, shared by the notebooks and by ``tests/``.

In a notebook, after implementing ``relu``::

    from course_lib.checks import check
    check("relu", relu)               # the visible test cell
    check("relu", relu, hidden=True)  # what the hidden test cell adds

A pass prints one line; a failure raises :class:`ExerciseFailed`, an
``AssertionError`` whose message gives the input, what was expected, what came
back, and the likely mistake when the answer matches a known one.
"""

from __future__ import annotations

from ._engine import ExerciseFailed, check_values, run_exercise
from .activations import EXERCISES as _ACTIVATIONS

__all__ = ["check", "check_values", "exercise_names", "ExerciseFailed"]

_EXERCISES = {**_ACTIVATIONS}


def check(name: str, fn, *, hidden: bool = False) -> None:
    """Check the student's ``fn`` for the exercise ``name`` against the reference.

    Parameters
    ----------
    name : str
        The exercise, which is the name of the function to implement (``"relu"``).
    fn : callable
        The student's implementation.
    hidden : bool, default False
        Also run the cases of the hidden tests (extreme and random inputs).

    Raises
    ------
    ExerciseFailed
        At the first case that fails, with what to fix.
    """
    if name not in _EXERCISES:
        raise KeyError(f"no exercise named {name!r}; the exercises are {sorted(_EXERCISES)}")
    passed = run_exercise(_EXERCISES[name], fn, hidden=hidden)
    scope = "visible and hidden" if hidden else "visible"
    print(f"\u2714 {name}: all {passed} {scope} checks passed.")


def exercise_names() -> list[str]:
    """The names of every exercise the checks know."""
    return list(_EXERCISES)
