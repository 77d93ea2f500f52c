"""The look every widget shares: its colours, and the box in which it notes the student's code.

One colour means one thing in every notebook: the reference is blue, the student's
code and every note about it are red. The other series take the next colours of
matplotlib's default cycle, so that a figure drawn here looks like one drawn by hand.
"""

from __future__ import annotations

__all__ = ["BLUE", "GREEN", "NOTE_BOX", "ORANGE", "REFERENCE", "YOURS", "note"]

BLUE, ORANGE, GREEN, RED = "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"

#: the reference's curves
REFERENCE = BLUE
#: the student's curves, and every note about the student's code
YOURS = RED

#: the white box behind a note, so that it stays readable over the curves
NOTE_BOX = {"facecolor": "white", "alpha": 0.9, "edgecolor": "none"}


def note(ax, text, *, x=0.98, y=0.04, ha="right", va="bottom", fontsize=9.0):
    """Write ``text`` in a note box on ``ax`` (axes coordinates), in the student's colour.

    Nothing is drawn for an empty ``text``. By default the note sits in the lower
    right corner; a widget moves it where its curves leave room.
    """
    if text:
        ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va, color=YOURS,
                fontsize=fontsize, bbox=NOTE_BOX)
