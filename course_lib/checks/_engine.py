"""Compare a student's function with the reference, and say precisely what differs.

An :class:`Exercise` names the reference function, the inputs it is checked on
(:class:`Case`), and the known mistakes worth naming (:class:`Hint`). Running a
check calls the student's function on every case, under
``np.errstate(over="raise", divide="raise", invalid="raise")``, and stops at the
first problem with a message that gives the input, what was expected, what came
back and, when the wrong answer matches a known mistake, the likely cause.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Case", "Hint", "Exercise", "ExerciseFailed", "run_exercise", "check_values"]

RTOL = 1e-7  # a correct float64 implementation agrees far better than this
ATOL = 1e-12  # values this close to 0 are 0 (e.g. 1 - tanh(x)**2 for large x)


class ExerciseFailed(AssertionError):
    """A check of a student's function failed; the message says what to fix."""


@dataclass(frozen=True)
class Case:
    """One call to check: ``fn(*args, **kwargs)``, described in words for the student."""

    label: str
    args: tuple
    kwargs: dict = field(default_factory=dict)

    def call_text(self, name: str) -> str:
        params = [_short(a) for a in self.args]
        params += [f"{k}={_short(v)}" for k, v in self.kwargs.items()]
        return f"{name}({', '.join(params)})"


@dataclass(frozen=True)
class Hint:
    """A known wrong answer: when the student's output matches ``wrong(*args)``, say ``message``."""

    wrong: Callable
    message: str


@dataclass(frozen=True)
class Exercise:
    """A function to implement: its reference, the cases it is checked on, and known mistakes."""

    name: str
    reference: Callable
    visible: tuple  # of Case: run by the visible test cell
    hidden: tuple = ()  # of Case: run by the hidden test cell, after the visible ones
    hints: tuple = ()  # of Hint


def run_exercise(exercise: Exercise, fn, *, hidden: bool = False) -> int:
    """Check ``fn`` against ``exercise``; raise :class:`ExerciseFailed` at the first problem.

    Returns the number of cases that passed (all of them).
    """
    name = exercise.name
    _check_callable(name, fn, exercise.reference)
    cases = exercise.visible + (exercise.hidden if hidden else ())
    for case in cases:
        expected = exercise.reference(*case.args, **case.kwargs)
        got = _call(name, fn, case, exercise.hints)
        problem = _compare(expected, got)
        if problem:
            hint = _matching_hint(exercise.hints, case, got)
            raise ExerciseFailed(
                _report(name, case, expected, got, problem, hint, _params(exercise.reference))
            )
    return len(cases)


def check_values(name: str, fn, args: tuple, expected, kwargs: dict | None = None) -> None:
    """Check ``fn(*args, **kwargs)`` against hard-coded ``expected`` values."""
    case = Case("hand-worked values", tuple(args), kwargs or {})
    got = _call(name, fn, case)
    expected = np.asarray(expected, dtype=np.float64)
    problem = _compare(expected, got)
    if problem:
        raise ExerciseFailed(_report(name, case, expected, got, problem, None, _params(fn)))


def _check_callable(name, fn, reference):
    if not callable(fn):
        raise ExerciseFailed(
            f"{name} should be a function, but it is {type(fn).__name__}: "
            f"did you overwrite it? Re-run the cell that defines {name}."
        )
    try:
        wanted = list(inspect.signature(reference).parameters)
        given = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):  # builtins and ufuncs have no signature to compare
        return
    if given[: len(wanted)] != wanted:
        raise ExerciseFailed(
            f"{name} should take the parameters ({', '.join(wanted)}); yours takes "
            f"({', '.join(given)}). Keep the signature of the stub."
        )


def _call(name, fn, case: Case, hints=()):
    """Call ``fn`` on copies of the case's inputs, check it left them alone."""
    args, kwargs = copy.deepcopy(case.args), copy.deepcopy(case.kwargs)
    where = case.call_text(name)
    try:
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            got = fn(*args, **kwargs)
    except NotImplementedError:
        raise ExerciseFailed(
            f"{name} is not implemented yet: replace `raise NotImplementedError()` "
            f"with your code and run its cell again."
        ) from None
    except FloatingPointError as exc:
        # Which mistake? Run it again with the warnings off and compare with the known ones.
        try:
            with np.errstate(all="ignore"):
                quiet = fn(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
        except Exception:
            quiet = None
        hint = _matching_hint(hints, case, quiet) if quiet is not None else None
        raise ExerciseFailed(
            f"{where} failed for {case.label}: NumPy reports '{exc}'.\n"
            f"  Your formula overflows, divides by zero or computes an invalid value (such as "
            f"the log of a negative number, or inf - inf) for these inputs.\n"
            f"  Likely mistake: "
            + (hint or "the naive formula; use the numerically stable form from the text.")
        ) from None
    except Exception as exc:  # the student's error, whatever it is, is the feedback
        raise ExerciseFailed(
            f"{where} raised {type(exc).__name__}: {exc}\n  (case: {case.label})"
        ) from None
    for before, after in zip(_arrays(case.args, case.kwargs), _arrays(args, kwargs), strict=True):
        if not np.array_equal(before, after, equal_nan=True):
            raise ExerciseFailed(
                f"{where} changed its input in place (case: {case.label}).\n"
                f"  before: {_show(before)}\n  after:  {_show(after)}\n"
                f"  Compute a new array (e.g. np.maximum(x, 0), or x.copy() first) instead "
                f"of assigning into the argument."
            )
    if got is None:
        raise ExerciseFailed(f"{where} returned None: did you forget `return`?")
    return got


def _compare(expected, got) -> str | None:
    """Return what is wrong with ``got``, or None when it matches ``expected``."""
    got_arr = np.asarray(got)
    exp_arr = np.asarray(expected)
    if got_arr.dtype.kind not in "biuf":
        return f"it returned {type(got).__name__} of dtype {got_arr.dtype}, not an array of numbers"
    if got_arr.shape != exp_arr.shape:
        return f"expected an array of shape {exp_arr.shape}, got shape {got_arr.shape}"
    if got_arr.dtype != np.float64 and exp_arr.dtype == np.float64:
        extra = " (comparisons such as x > 0 give booleans: convert with .astype(float))" \
            if got_arr.dtype == bool else ""
        return f"expected dtype float64, got {got_arr.dtype}{extra}"
    bad_nonfinite = ~np.isfinite(got_arr) & np.isfinite(exp_arr)
    if bad_nonfinite.any():
        return (
            "it returned inf or nan where the answer is finite: an overflow somewhere "
            "(use the numerically stable formula)"
        )
    close = np.isclose(got_arr, exp_arr, rtol=RTOL, atol=ATOL, equal_nan=True)
    if not close.all():
        index = np.unravel_index(np.argmin(close), close.shape) if close.ndim else ()
        at = f" at index {tuple(int(i) for i in index)}" if index else ""
        return (
            f"values differ{at}: expected {float(exp_arr[index])!r}, got {float(got_arr[index])!r} "
            f"({int((~close).sum())} of {close.size} values differ)"
        )
    return None


def _matching_hint(hints, case: Case, got) -> str | None:
    for hint in hints:
        try:
            with np.errstate(all="ignore"):
                wrong = hint.wrong(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
            if _compare(wrong, got) is None:
                return hint.message
        except Exception:  # a hint that does not apply to this case is no hint
            continue
    return None


def _report(name, case, expected, got, problem, hint, params=()) -> str:
    lines = [f"{case.call_text(name)} is not right for {case.label}:"]
    for i, arg in enumerate(case.args):
        if isinstance(arg, np.ndarray):
            label = params[i] if i < len(params) else f"input {i + 1}"
            lines.append(f"  {label:<9}= {_show(arg)}")
    lines.append(f"  expected = {_show(expected)}")
    lines.append(f"  got      = {_show(got)}")
    lines.append(f"  {problem}")
    if hint:
        lines.append(f"  Likely mistake: {hint}")
    return "\n".join(lines)


def _params(fn) -> list:
    try:
        return list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return []


def _arrays(args, kwargs):
    return [a for a in (*args, *kwargs.values()) if isinstance(a, np.ndarray)]


def _show(value) -> str:
    arr = np.asarray(value) if not isinstance(value, np.ndarray) else value
    if arr.dtype.kind not in "biuf":
        return repr(value)
    text = np.array2string(arr, precision=6, threshold=20, edgeitems=3, max_line_width=88,
                           separator=", ")
    return text.replace("\n", "\n" + " " * 13)


def _short(value) -> str:
    if isinstance(value, np.ndarray):
        return f"<array of shape {value.shape}>" if value.size > 8 else _show(value)
    return repr(value)
