"""Each case's own random numbers: a generator seeded by the case's exercise and label.

A case draws its inputs from ``case_rng(exercise, label)``, never from a generator that
other cases draw from too. So adding, removing or reordering a case changes no other
case's numbers, and the same case has the same numbers for every student, on every run.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ._engine import Case

__all__ = ["case_rng", "drawn_case"]


def case_rng(exercise: str, label: str) -> np.random.Generator:
    """A generator for the inputs of the case ``label`` of ``exercise`` (or of a family of
    exercises that share the case, such as ``"cross_entropy"`` for its gradient's checks).

    The seed is a hash of both names (hashlib: Python's own ``hash`` of a string changes
    from run to run).
    """
    digest = hashlib.sha256(f"{exercise}\n{label}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def drawn_case(exercise: str, label: str, draw, kwargs: dict | None = None,
               raises: type[Exception] | None = None) -> Case:
    """``Case(label, draw(rng), ...)`` with ``rng = case_rng(exercise, label)``: a case whose
    random inputs are its own."""
    return Case(label, tuple(draw(case_rng(exercise, label))), kwargs or {}, raises)
