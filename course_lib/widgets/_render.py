"""What every widget needs: a figure as PNG bytes, and a student's function run safely."""

from __future__ import annotations

import io

import numpy as np

__all__ = ["figure_png", "try_student"]


def figure_png(fig, dpi=96) -> bytes:
    """The figure rendered as PNG bytes (for an ipywidgets Image, or a static output)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def try_student(fn, x):
    """Evaluate a student's ``fn(x)`` for plotting: ``(values or None, note or None)``.

    A widget must keep working while an exercise is unfinished or wrong, so
    nothing raised here reaches the widget: it becomes a note on the figure.
    """
    if fn is None:
        return None, "yours: not defined yet"
    try:
        with np.errstate(all="ignore"):
            y = np.asarray(fn(x.copy()), dtype=np.float64)
    except NotImplementedError:
        return None, "yours: not implemented yet"
    except Exception as exc:  # whatever the student's code raises is shown, not raised
        return None, f"yours raised {type(exc).__name__}: {str(exc)[:60]}"
    if y.shape != x.shape:
        return None, f"yours returned shape {y.shape}, expected {x.shape}"
    return y, None
