"""Interactive widgets of the notebooks (ipywidgets + matplotlib).

Each widget takes the student's functions (``globals()`` in a notebook), draws
them over the reference, and keeps working while an exercise is unfinished.
"""

from .activations import activation_explorer, plot_activation

__all__ = ["activation_explorer", "plot_activation"]
