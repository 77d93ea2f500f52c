"""How every widget runs the student's code: nothing it raises escapes, and it is said one way.

A widget must keep working while an exercise is unfinished or wrong: what the
student's function raises, or returns of the wrong kind, becomes a note on the
figure, never a traceback. The note names the function and the problem in the same
words in every notebook::

    your sigmoid not defined yet
    your sigmoid not implemented yet
    your sigmoid raised ZeroDivisionError: division by zero
    your sigmoid returned shape (1,), expected (401,)

:func:`call_student` runs one function; :func:`guard` wraps one that the widget's own
computation calls (a curve, a training run), so that the note still names the
student's function and not the widget's code around it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NOT_DEFINED", "StudentError", "call_student", "checked_gradients", "guard",
           "problem", "say", "student_curve"]

NOT_DEFINED = "not defined yet"
NOT_IMPLEMENTED = "not implemented yet"
_MESSAGE_CHARACTERS = 60  # of an exception's message: a note is one line


class StudentError(Exception):
    """The student's code failed inside a widget's computation; the message is the note."""


def problem(exc: BaseException) -> str:
    """What went wrong, in the words of every note: ``not implemented yet`` or ``raised ...``."""
    if isinstance(exc, NotImplementedError):
        return NOT_IMPLEMENTED
    return f"raised {type(exc).__name__}: {str(exc)[:_MESSAGE_CHARACTERS]}"


def say(name: str, what: str) -> str:
    """The note about the student's function ``name``: ``your <name> <what>``."""
    return f"your {name} {what}"


def guard(name: str, fn):
    """``fn`` as a function whose failure raises :class:`StudentError` with the note about it."""
    def guarded(*args, **kwargs):
        if not callable(fn):
            raise StudentError(say(name, NOT_DEFINED))
        try:
            return fn(*args, **kwargs)
        except StudentError:
            raise
        except Exception as exc:  # whatever the student's code raises becomes the note
            raise StudentError(say(name, problem(exc))) from None
    return guarded


def checked_gradients(name: str, params: dict, loss, grads):
    """The student's ``name`` returned ``(loss, grads)`` for ``params``: ``(float, float64
    grads)``, or :class:`StudentError` naming a missing gradient or a wrong shape."""
    missing = [key for key in params if key not in grads]
    if missing:
        raise StudentError(say(name, f"returned no gradient for {', '.join(missing)}"))
    for key, value in params.items():
        if np.shape(grads[key]) != value.shape:
            raise StudentError(say(name, f"returned {key} of shape {np.shape(grads[key])}, "
                                         f"expected {value.shape}"))
    return float(loss), {key: np.asarray(grads[key], dtype=np.float64) for key in params}


def call_student(name: str, fn, *args, **kwargs):
    """Run the student's ``fn(*args, **kwargs)``: ``(result, None)``, or ``(None, note)``.

    Nothing raised escapes, and NumPy warns of nothing (a student's overflow is
    drawn as far as it goes). ``fn`` may be the widget's own computation around the
    student's functions: a :class:`StudentError` raised inside by :func:`guard`
    gives its own note, anything else is noted under ``name``.
    """
    if not callable(fn):
        return None, say(name, NOT_DEFINED)
    try:
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs), None
    except StudentError as exc:
        return None, str(exc)
    except Exception as exc:  # whatever the student's code raises is shown, not raised
        return None, say(name, problem(exc))


def student_curve(name: str, fn, x):
    """The student's ``fn`` on the grid ``x`` for plotting: ``(values or None, note or None)``.

    The values must be numbers of the grid's shape; ``fn`` gets a copy of ``x``.
    """
    y, note = call_student(name, fn, x.copy())
    if note:
        return None, note
    try:
        y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        return None, say(name, "returned something that is not an array of numbers")
    if y.shape != x.shape:
        return None, say(name, f"returned shape {y.shape}, expected {x.shape}")
    return y, None
