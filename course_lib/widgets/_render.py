"""What every widget needs: a figure as PNG bytes, a student's function run safely, and a
dashboard that leaves its figure behind where no kernel runs."""

from __future__ import annotations

import base64
import functools
import io
import uuid
from collections.abc import Mapping

import numpy as np

from .. import channel

__all__ = ["dashboard", "figure_png", "notebook_of", "set_figure_scale", "student_only",
           "try_student"]


#: every figure's pixels per inch are multiplied by this: 1 in a notebook
_SCALE = {"value": 1.0}


def set_figure_scale(scale: float) -> float:
    """Draw every later figure with ``scale`` times the pixels; return the scale before.

    Presenter mode (:mod:`course_lib.presenter`) sets 1.5 in its own kernel, so that
    figures stretched to a projector's page width stay sharp; notebooks keep 1.
    """
    if not scale > 0:
        raise ValueError(f"the figure scale must be positive, not {scale}")
    previous, _SCALE["value"] = _SCALE["value"], float(scale)
    return previous


def figure_png(fig, dpi=96) -> bytes:
    """The figure rendered as PNG bytes (for an ipywidgets Image, or a static output)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi * _SCALE["value"])
    return buffer.getvalue()


def student_only() -> bool:
    """Whether a widget must draw the student's code only: true in a grading kernel.

    While an instructor grades, the kernel's course_lib has the assignment's
    references withheld (:mod:`course_lib.grading.withhold`): outside a test cell,
    using one raises :class:`~course_lib.channel.ReferenceWithheld`. A widget cannot
    tell which are withheld, so there it calls no exercise's reference of any
    notebook, nothing built on one, and no checks: it draws the student's functions
    (given to it, or found in the notebook), and notes on the figure, instead of
    raising, what is missing or fails. Elsewhere, widgets draw the student's over the
    reference.
    """
    return channel.grading()


def notebook_of(fn) -> Mapping:
    """The names ``fn`` was written among: a notebook's globals, for a function defined there."""
    names = getattr(fn, "__globals__", None)
    return names if isinstance(names, Mapping) else {}


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


def dashboard(children, figure, title: str):
    """A VBox of ``children`` that, where no kernel runs, shows ``figure``'s picture.

    A widget's output holds only a reference to a model in the kernel: in
    nbgrader's HTML feedback, or a notebook viewed on a code-hosting site, it
    would be an empty box. The dashboard's output also carries the PNG of its
    Image widget ``figure`` (and a line of text), so every viewer that cannot draw
    the widget shows the figure as it was last drawn instead. JupyterLab and
    Voilà draw the live widget and ignore the picture.

    Parameters
    ----------
    children : sequence of ipywidgets.Widget
        The controls and the figure, top to bottom.
    figure : ipywidgets.Image
        The widget whose PNG is left behind.
    title : str
        What the widget shows, for the text line.

    Returns
    -------
    Dashboard (an ipywidgets.VBox)
        Its ``figure`` is the Image widget. Its ``refresh_static()`` re-sends the
        picture after the figure changed outside a control's callback (a training
        run started from code).
    """
    return _dashboard_class()(children, figure=figure, title=title)


@functools.cache
def _dashboard_class():
    import ipywidgets as w
    from IPython.display import display, update_display

    class Dashboard(w.VBox):
        __doc__ = dashboard.__doc__

        def __init__(self, children, figure, title):
            super().__init__(children)
            self.figure, self._title, self._display_ids = figure, title, []

        def _repr_mimebundle_(self, **kwargs):
            bundle = super()._repr_mimebundle_(**kwargs)
            bundle["text/plain"] = f"{self._title} (interactive: run the notebook to use it)"
            if self.figure.value:
                bundle["image/png"] = base64.b64encode(self.figure.value).decode("ascii")
            return bundle

        def _ipython_display_(self):
            # shown under an id of its own, so refresh_static can replace the picture
            display_id = uuid.uuid4().hex
            self._display_ids.append(display_id)
            display(self._repr_mimebundle_(), raw=True, display_id=display_id)

        def refresh_static(self):
            """Replace the picture left behind by the figure as it is now."""
            for display_id in self._display_ids:
                update_display(self._repr_mimebundle_(), raw=True, display_id=display_id)

    return Dashboard
