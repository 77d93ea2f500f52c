"""What every widget needs: a figure as PNG bytes, whether to draw the student's code alone,
and the live dashboard (controls over a figure, redrawn when a control changes) that
leaves its figure behind where no kernel runs. The student's code is run by
:mod:`._student`, and drawn in the colours of :mod:`._style`."""

from __future__ import annotations

import base64
import functools
import io
import uuid
from collections.abc import Mapping

from .. import channel

__all__ = ["dashboard", "figure_png", "live_dashboard", "notebook_of", "set_figure_scale",
           "student_only"]


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


def live_dashboard(title: str, rows, draw, *, controls, settings=(), react=None, dpi=96,
                   max_width="1000px"):
    """The dashboard of a widget: ``rows`` of controls above a figure, redrawn when one changes.

    Every widget of the course is one of these: what differs is only its controls
    and its ``draw``. The figure is drawn once here, then again each time a control
    in ``controls`` changes (a Button: each click).

    Parameters
    ----------
    title : str
        What the widget shows, for the line of text left where no kernel runs.
    rows : sequence of ipywidgets.Widget
        Shown top to bottom above the figure (the controls, laid out in boxes).
    draw : callable
        ``draw()`` returns the matplotlib Figure for the controls' current values.
    controls : sequence of ipywidgets.Widget
        The widgets whose change redraws the figure.
    settings : sequence of ipywidgets.Widget
        The widgets that change nothing drawn by themselves (the next training
        run's settings). Every control of a dashboard is in ``controls`` or here:
        tests/test_widgets_contract.py checks it.
    react : mapping of control -> callable, optional
        ``react[control](change)`` runs before the redraw that ``control`` causes
        (``change`` is None for a Button). The controls it sets meanwhile redraw
        nothing: a new surface that resets six sliders redraws once.
    dpi : float
        The figure's dots per inch in a notebook (see :func:`figure_png`).
    max_width : str
        The figure's largest width on the page.

    Returns
    -------
    Dashboard (an ipywidgets.VBox)
        As :func:`dashboard` returns, and also: ``redraw()`` draws the figure again,
        ``draw`` is the function given, ``controls`` and ``settings`` the widgets
        given, and ``redraws`` counts the figures drawn.
    """
    import ipywidgets as w

    image = w.Image(format="png", layout=w.Layout(width="100%", max_width=max_width))
    board = dashboard([*rows, image], image, title)
    board.make_live(draw, controls, settings, react or {}, dpi)
    board.redraw()
    return board


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
            self.draw, self.controls, self.settings, self.redraws = None, (), (), 0
            self._react, self._dpi, self._holding = {}, 96, False

        def make_live(self, draw, controls, settings, react, dpi):
            """Redraw with ``draw`` whenever one of ``controls`` changes (see live_dashboard)."""
            self.draw, self.controls, self.settings = draw, tuple(controls), tuple(settings)
            self._react, self._dpi = {id(control): fn for control, fn in react.items()}, dpi
            for control in self.controls:
                if isinstance(control, w.Button):
                    control.on_click(lambda _, c=control: self._changed(c, None))
                else:
                    control.observe(lambda change, c=control: self._changed(c, change),
                                    names="value")

        def _changed(self, control, change):
            if self._holding:  # set by a reaction: the reaction's own redraw follows
                return
            reaction = self._react.get(id(control))
            if reaction is not None:
                self._holding = True
                try:
                    reaction(change)
                finally:
                    self._holding = False
            self.redraw()

        def redraw(self):
            """Draw the figure again for the controls' current values."""
            self.figure.value = figure_png(self.draw(), dpi=self._dpi)
            self.redraws += 1

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
