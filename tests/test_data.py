"""Tests for course_lib.data: the digits split and the toy data sets."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib.data import load_digits, make_moons, make_regression_1d, make_spirals, make_xor

TOY_SETS = [make_spirals, make_moons, make_xor, make_regression_1d]


# ---------------------------------------------------------------- digits


def test_digits_shapes_and_types():
    """load_digits() splits 1797 images into 1437 train and 360 test, float64 X and int y."""
    X_train, X_test, y_train, y_test = load_digits()
    # 20% of 1797 is 359.4, rounded up to 360 test images
    assert X_train.shape == (1437, 64) and X_test.shape == (360, 64)
    assert y_train.shape == (1437,) and y_test.shape == (360,)
    assert X_train.dtype == X_test.dtype == np.float64
    assert np.issubdtype(y_train.dtype, np.integer) and np.issubdtype(y_test.dtype, np.integer)
    np.testing.assert_array_equal(np.unique(y_train), np.arange(10))


def test_digits_pixels_scaled_to_unit_interval():
    """Pixels 0..16 are divided by 16: X lies in [0, 1] and reaches both ends, in steps of 1/16."""
    X_train, X_test, _, _ = load_digits()
    X = np.concatenate([X_train, X_test])
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_array_equal(X * 16, np.round(X * 16))


def test_digits_split_is_stratified():
    """Every digit's share of the train and of the test set differs by less than one test image."""
    _, _, y_train, y_test = load_digits()
    train_share = np.bincount(y_train, minlength=10) / len(y_train)
    test_share = np.bincount(y_test, minlength=10) / len(y_test)
    # unstratified splits (random_state 0-9) miss by the share of 7 to 16 test images
    assert np.max(np.abs(train_share - test_share)) < 1 / 360


def test_digits_deterministic_per_seed():
    """The same seed gives the same split; another seed gives another test set."""
    first, again, other = load_digits(seed=3), load_digits(seed=3), load_digits(seed=4)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[1], other[1])
    assert first[1].shape == other[1].shape


def test_digits_test_size():
    """test_size=0.5 holds out half of the 1797 images (899, rounded up)."""
    X_train, X_test, _, _ = load_digits(test_size=0.5)
    assert (len(X_train), len(X_test)) == (898, 899)


# ---------------------------------------------------------------- toy sets


@pytest.mark.parametrize(
    "make, kwargs, n_rows, n_features",
    [
        (make_spirals, {}, 300, 2),
        (make_spirals, {"n_samples": 301, "n_classes": 4}, 300, 2),  # 301 // 4 = 75 per class
        (make_moons, {}, 200, 2),
        (make_moons, {"n_samples": 51}, 51, 2),
        (make_xor, {}, 200, 2),
        (make_xor, {"n_samples": 37}, 37, 2),
        (make_regression_1d, {}, 100, 1),
    ],
)
def test_toy_set_shapes(make, kwargs, n_rows, n_features):
    """Each toy set has the documented shapes: X (N, 2) or (N, 1), y (N,) or (N, 1) for regression."""
    X, y = make(**kwargs)
    assert X.shape == (n_rows, n_features)
    assert X.dtype == np.float64
    if make is make_regression_1d:
        assert y.shape == (n_rows, 1) and y.dtype == np.float64
    else:
        assert y.shape == (n_rows,) and y.dtype == np.int64


@pytest.mark.parametrize("make", TOY_SETS)
def test_toy_sets_deterministic_per_seed(make):
    """The same seed gives the same arrays; another seed gives other X."""
    X_a, y_a = make(seed=7)
    X_b, y_b = make(seed=7)
    X_c, _ = make(seed=8)
    np.testing.assert_array_equal(X_a, X_b)
    np.testing.assert_array_equal(y_a, y_b)
    assert not np.array_equal(X_a, X_c)


def test_spirals_labels_balanced():
    """make_spirals gives classes 0..n_classes-1, n_samples // n_classes points each."""
    _, y = make_spirals(n_samples=301, n_classes=4)
    np.testing.assert_array_equal(np.bincount(y), [75, 75, 75, 75])


def test_spirals_radius_runs_to_one():
    """Each spiral arm's radius, the distance from the origin, runs from 0.05 to 1."""
    X, y = make_spirals(n_samples=300, n_classes=3, noise=0.5)
    radius = np.hypot(X[:, 0], X[:, 1])  # the noise turns the angle only
    for label in range(3):
        r = radius[y == label]
        np.testing.assert_allclose([r.min(), r.max()], [0.05, 1.0], rtol=1e-12)


def test_moons_labels():
    """make_moons has two classes of equal size, labelled 0 and 1."""
    _, y = make_moons(n_samples=200)
    np.testing.assert_array_equal(np.bincount(y), [100, 100])


def test_xor_label_is_one_iff_exactly_one_coordinate_positive():
    """Without noise X is the corners and y = 1 exactly where one coordinate is positive."""
    X, y = make_xor(n_samples=200, noise=0.0, seed=1)
    assert set(map(tuple, X)) == {(-1.0, -1.0), (-1.0, 1.0), (1.0, -1.0), (1.0, 1.0)}
    np.testing.assert_array_equal(y, ((X[:, 0] > 0) != (X[:, 1] > 0)).astype(np.int64))
    # with the default noise 0.1 a point leaves its quadrant with probability ~1e-23
    X, y = make_xor(seed=2)
    np.testing.assert_array_equal(y, ((X[:, 0] > 0) != (X[:, 1] > 0)).astype(np.int64))
    assert 0 < y.mean() < 1


def test_regression_target_and_sorted_inputs():
    """make_regression_1d: x sorted in [-1, 1], and without noise y = sin(2 pi x) + x exactly."""
    X, y = make_regression_1d(n_samples=50, noise=0.0, seed=3)
    x = X[:, 0]
    assert np.all(np.diff(x) >= 0)
    assert x.min() >= -1.0 and x.max() <= 1.0
    np.testing.assert_allclose(y[:, 0], np.sin(2 * np.pi * x) + x, rtol=1e-15, atol=1e-15)
