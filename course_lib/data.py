"""Data sets of the course: the digits, 2-D toy problems and a 1-D regression set.

Everything is generated or read from files that ship with the installed
packages: nothing is downloaded. Every function takes a seed, and the same
seed gives the same arrays.
"""

from __future__ import annotations

import numpy as np

__all__ = ["load_digits", "make_spirals", "make_moons", "make_xor", "make_regression_1d"]


def load_digits(test_size=0.2, seed=0):
    """The 8x8 handwritten digits (1797 images, 10 classes), split into train and test.

    Read from scikit-learn's bundled copy; pixel values 0..16 are scaled to
    [0, 1]. The split is stratified, so every digit has the same share in both.

    Parameters
    ----------
    test_size : float, default 0.2
        Fraction of the samples held out for testing.
    seed : int, default 0

    Returns
    -------
    X_train : ndarray of float64, shape (N_train, 64)
    X_test : ndarray of float64, shape (N_test, 64)
    y_train : ndarray of int64, shape (N_train,)
    y_test : ndarray of int64, shape (N_test,)
    """
    from sklearn.datasets import load_digits as _sk_load_digits
    from sklearn.model_selection import train_test_split

    digits = _sk_load_digits()
    X = digits.data.astype(np.float64) / 16.0
    y = digits.target.astype(np.int64)
    return train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y)


def make_spirals(n_samples=300, n_classes=3, noise=0.2, seed=0):
    """Interleaved spiral arms in 2-D, one per class: not separable by a line.

    Returns
    -------
    X : ndarray, shape (N, 2), N = n_samples rounded down to a multiple of n_classes
    y : ndarray of int64, shape (N,)
    """
    rng = np.random.default_rng(seed)
    per_class = n_samples // n_classes
    radius = np.tile(np.linspace(0.05, 1.0, per_class), n_classes)
    y = np.repeat(np.arange(n_classes), per_class)
    angle = 4.0 * radius + y * (2 * np.pi / n_classes)
    angle = angle + rng.normal(0.0, noise, size=angle.shape)
    X = np.column_stack([radius * np.sin(angle), radius * np.cos(angle)])
    return X, y.astype(np.int64)


def make_moons(n_samples=200, noise=0.1, seed=0):
    """Two interleaving half circles (scikit-learn's ``make_moons``).

    Returns
    -------
    X : ndarray, shape (n_samples, 2)
    y : ndarray of int64, shape (n_samples,)
    """
    from sklearn.datasets import make_moons as _sk_make_moons

    X, y = _sk_make_moons(n_samples=n_samples, noise=noise, random_state=seed)
    return X, y.astype(np.int64)


def make_xor(n_samples=200, noise=0.1, seed=0):
    """XOR in 2-D: class 1 where exactly one coordinate is positive.

    Points are drawn around the four corners (+-1, +-1) with Gaussian noise.

    Returns
    -------
    X : ndarray, shape (n_samples, 2)
    y : ndarray of int64, shape (n_samples,)
    """
    rng = np.random.default_rng(seed)
    corners = rng.choice([-1.0, 1.0], size=(n_samples, 2))
    X = corners + rng.normal(0.0, noise, size=corners.shape)
    y = (corners[:, 0] * corners[:, 1] < 0).astype(np.int64)
    return X, y


def make_regression_1d(n_samples=100, noise=0.1, seed=0):
    """A 1-D regression target, y = sin(2 pi x) + x plus Gaussian noise, on x in [-1, 1].

    Returns
    -------
    X : ndarray, shape (n_samples, 1), sorted
    y : ndarray, shape (n_samples, 1)
    """
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-1.0, 1.0, size=n_samples))
    y = np.sin(2 * np.pi * x) + x + rng.normal(0.0, noise, size=n_samples)
    return x[:, None], y[:, None]
