"""Shared fixtures: ``rng``, a fresh seeded Generator, and ``unchanged``, a bitwise input check."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A new ``np.random.default_rng(0)`` for every test: the same numbers on every run."""
    return np.random.default_rng(0)


@pytest.fixture
def unchanged():
    """Context manager asserting that the given arrays are bit-identical on exit.

    ``with unchanged(X, W): dense_forward(X, W, b)`` snapshots copies on entry and
    compares dtype, shape and the raw bytes afterwards, so even ``-0.0`` for
    ``0.0`` counts as a modification. Arrays passed by keyword are named in the
    failure message: ``unchanged(**params)``.
    """

    @contextlib.contextmanager
    def check(*arrays, **named):
        items = [(f"argument {i}", a) for i, a in enumerate(arrays)] + list(named.items())
        before = [np.array(a, copy=True) for _, a in items]
        yield
        for (name, a), b in zip(items, before, strict=True):
            assert a.dtype == b.dtype and a.shape == b.shape, f"{name} changed dtype or shape"
            assert a.tobytes() == b.tobytes(), f"{name} was modified in place"

    return check


@pytest.fixture(autouse=True)
def _notebook_figure_scale():
    """Every test starts with figures drawn at a notebook's size (presenter mode changes it)."""
    from course_lib.widgets._render import set_figure_scale

    set_figure_scale(1.0)
    yield
    set_figure_scale(1.0)
