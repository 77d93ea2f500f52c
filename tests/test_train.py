"""Tests for course_lib.train: minibatches and fit (determinism, history, early stopping)."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib.data import make_moons, make_regression_1d
from course_lib.losses import cross_entropy
from course_lib.network import MLP
from course_lib.optim import GD, Adam
from course_lib.train import fit, iterate_minibatches


def ids_and_labels(n):
    """X holds each sample's id in both columns and y = 10 * id, so pairing can be checked."""
    ids = np.arange(n)
    return np.column_stack([ids, ids]), 10 * ids


class NoStep:
    """An optimizer that changes nothing: the loss of every epoch is then the same."""

    def step(self, params, grads):
        pass


# ---------------------------------------------------------------- iterate_minibatches


@pytest.mark.parametrize(
    "n, batch_size, sizes",
    [(10, 4, [4, 4, 2]), (12, 4, [4, 4, 4]), (7, 10, [7]), (5, 1, [1, 1, 1, 1, 1])],
)
def test_minibatches_cover_every_sample_once(n, batch_size, sizes):
    """The batches have batch_size rows (the last one fewer) and hold every sample exactly once."""
    X, y = ids_and_labels(n)
    batches = list(iterate_minibatches(X, y, batch_size, np.random.default_rng(0)))
    assert [len(Xb) for Xb, _ in batches] == sizes
    seen = np.concatenate([Xb[:, 0] for Xb, _ in batches])
    np.testing.assert_array_equal(np.sort(seen), np.arange(n))
    for Xb, yb in batches:
        np.testing.assert_array_equal(yb, 10 * Xb[:, 0])  # rows of X and y stay together


def test_minibatches_reshuffle_between_calls():
    """Two calls with one Generator give two different orders (a new shuffle per epoch)."""
    X, y = ids_and_labels(20)
    rng = np.random.default_rng(1)
    first = np.concatenate([yb for _, yb in iterate_minibatches(X, y, 6, rng)])
    second = np.concatenate([yb for _, yb in iterate_minibatches(X, y, 6, rng)])
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(np.sort(first), np.sort(second))


def test_minibatches_same_seed_same_order():
    """Generators with the same seed, or that seed as an int, give the same batches."""
    X, y = ids_and_labels(20)
    orders = [
        np.concatenate([yb for _, yb in iterate_minibatches(X, y, 6, source)])
        for source in (np.random.default_rng(2), np.random.default_rng(2), 2)
    ]
    np.testing.assert_array_equal(orders[0], orders[1])
    np.testing.assert_array_equal(orders[0], orders[2])
    assert not np.array_equal(orders[0], np.arange(0, 200, 10))  # and it is shuffled


def test_minibatches_leave_inputs_unchanged(unchanged):
    """Iterating over the batches does not modify X or y."""
    X, y = ids_and_labels(10)
    with unchanged(X=X, y=y):
        for Xb, yb in iterate_minibatches(X, y, 3, np.random.default_rng(3)):
            Xb += 1
            yb += 1  # writing into a batch must not reach the data either


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True, "4"])
def test_minibatches_bad_batch_size_raises(batch_size):
    """batch_size must be a whole number >= 1: 0, -1, 2.5, True and "4" raise ValueError."""
    X, y = ids_and_labels(10)
    with pytest.raises(ValueError, match="batch_size must be a whole number >= 1"):
        list(iterate_minibatches(X, y, batch_size, np.random.default_rng(0)))


def test_minibatches_length_mismatch_names_both_shapes():
    """X with 10 rows and y with 9 raise ValueError giving both shapes."""
    X, y = ids_and_labels(10)
    with pytest.raises(ValueError) as info:
        list(iterate_minibatches(X, y[:-1], 4, np.random.default_rng(0)))
    assert "(10, 2)" in str(info.value) and "(9,)" in str(info.value)


# ---------------------------------------------------------------- fit


def train_moons(seed=0, epochs=5, **kwargs):
    """A small MLP trained with Adam on 100 moons; returns (model, history)."""
    X, y = make_moons(n_samples=100, seed=0)
    model = MLP([2, 8, 2], activation="tanh", seed=0)
    history = fit(
        model,
        X,
        y,
        optimizer=Adam(lr=0.01),
        epochs=epochs,
        batch_size=16,
        seed=seed,
        progress=False,
        **kwargs,
    )
    return model, history


def test_fit_is_deterministic():
    """Two runs with the same seed give identical history and parameters; another seed differs."""
    model_a, history_a = train_moons(seed=4)
    model_b, history_b = train_moons(seed=4)
    _, history_c = train_moons(seed=5)
    assert history_a == history_b
    for key in model_a.params:
        np.testing.assert_array_equal(model_a.params[key], model_b.params[key])
    assert history_a["loss"] != history_c["loss"]  # the seed drives the shuffle


def test_fit_reduces_loss_on_moons():
    """20 epochs of Adam on make_moons at least halve the training loss, and history has 'loss' only."""
    X, y = make_moons(n_samples=200, seed=0)
    model = MLP([2, 16, 2], seed=0)
    history = fit(model, X, y, optimizer=Adam(lr=0.01), epochs=20, batch_size=16, progress=False)
    assert set(history) == {"loss"}
    assert len(history["loss"]) == 20
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert np.mean(model.predict(X) == y) > 0.9


def test_fit_mse_reduces_loss_on_regression():
    """fit with loss="mse" on make_regression_1d at least halves the training loss."""
    X, y = make_regression_1d(seed=0)
    model = MLP([1, 16, 1], activation="tanh", seed=0)
    history = fit(
        model, X, y, loss="mse", optimizer=Adam(lr=0.05), epochs=60, batch_size=10, progress=False
    )
    assert history["loss"][-1] < 0.5 * history["loss"][0]


def test_fit_loss_is_per_sample_mean_over_epoch():
    """history['loss'] weights each batch by its size: with no updates it is the full-data loss."""
    X, y = make_moons(n_samples=50, seed=1)
    model = MLP([2, 8, 2], seed=0)
    history = fit(model, X, y, optimizer=NoStep(), epochs=2, batch_size=16, progress=False)
    # 50 = 16 + 16 + 16 + 2: an unweighted mean of batch losses would differ
    full = cross_entropy(model.forward(X), y)
    np.testing.assert_allclose(history["loss"], [full, full], rtol=1e-12)


def test_fit_with_validation_records_val_loss():
    """With X_val, history['val_loss'] has one entry per epoch, the last the final model's loss."""
    X_val, y_val = make_moons(n_samples=60, seed=9)
    model, history = train_moons(epochs=4, X_val=X_val, y_val=y_val)
    assert set(history) == {"loss", "val_loss"}
    assert len(history["loss"]) == len(history["val_loss"]) == 4
    assert history["val_loss"][-1] == cross_entropy(model.forward(X_val), y_val)


def test_early_stopping_restores_best_weights():
    """With patience, fit stops patience epochs after the best val loss and restores its weights."""
    # random labels: the network memorises the training set and the validation loss soon rises
    rng = np.random.default_rng(10)
    X, y = rng.normal(size=(30, 5)), rng.integers(0, 3, size=30)
    X_val, y_val = rng.normal(size=(20, 5)), rng.integers(0, 3, size=20)
    model = MLP([5, 32, 3], seed=0)
    epochs, patience = 100, 5
    history = fit(
        model,
        X,
        y,
        optimizer=Adam(lr=0.02),
        epochs=epochs,
        batch_size=8,
        X_val=X_val,
        y_val=y_val,
        patience=patience,
        progress=False,
    )
    val_loss = history["val_loss"]
    best = int(np.argmin(val_loss))
    assert len(val_loss) < epochs  # it did stop early
    assert history["best_epoch"] == best
    assert len(val_loss) == best + patience + 1  # stopped after `patience` epochs without progress
    assert val_loss[-1] > val_loss[best]  # so restoring makes a difference
    # exactly the recorded number: the params are the best epoch's, bit for bit
    assert cross_entropy(model.forward(X_val), y_val) == val_loss[best]


def test_early_stopping_survives_nan_validation_loss():
    """A NaN validation loss from the first epoch (diverged weights) gives no TypeError."""
    rng = np.random.default_rng(11)
    X, y = rng.normal(size=(20, 5)), rng.integers(0, 3, size=20)
    model = MLP([5, 4, 3], seed=0)
    model.params["W1"][...] = np.nan  # as after a step with far too large a learning rate
    try:
        history = fit(
            model,
            X,
            y,
            optimizer=GD(lr=0.1),
            epochs=5,
            batch_size=8,
            X_val=X,
            y_val=y,
            patience=2,
            progress=False,
        )
    except ValueError as error:  # a clear refusal is fine too
        assert "nan" in str(error).lower()
    else:
        assert 1 <= len(history["val_loss"]) <= 5
        assert np.all(np.isnan(history["val_loss"]))


def test_fit_leaves_data_unchanged(unchanged):
    """fit modifies neither X, y nor X_val, y_val."""
    X, y = make_moons(n_samples=100, seed=0)
    X_val, y_val = make_moons(n_samples=40, seed=1)
    with unchanged(X=X, y=y, X_val=X_val, y_val=y_val):
        train_moons(epochs=2, X_val=X_val, y_val=y_val, patience=1)
    with unchanged(X=X, y=y):
        fit(MLP([2, 3, 2]), X, y, optimizer=GD(lr=0.1), epochs=1, batch_size=100, progress=False)


def test_fit_updates_model_params_in_place():
    """fit trains the model it is given: the same arrays, with new values."""
    X, y = make_moons(n_samples=50, seed=0)
    model = MLP([2, 4, 2], seed=0)
    arrays = dict(model.params)
    before = {k: v.copy() for k, v in model.params.items()}
    fit(model, X, y, optimizer=GD(lr=0.1), epochs=1, batch_size=10, progress=False)
    for key in before:
        assert model.params[key] is arrays[key]
        assert not np.array_equal(model.params[key], before[key]), key


@pytest.mark.parametrize("with_validation", [False, True])
def test_progress_false_prints_nothing(capsys, with_validation):
    """progress=False writes nothing to stdout or stderr."""
    X_val, y_val = make_moons(n_samples=30, seed=3)
    extra = {"X_val": X_val, "y_val": y_val, "patience": 2} if with_validation else {}
    train_moons(epochs=3, **extra)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""


def test_fit_with_zero_epochs_changes_nothing(unchanged):
    """epochs=0 returns an empty history and leaves the parameters as they were."""
    X, y = make_moons(n_samples=20, seed=0)
    model = MLP([2, 4, 2], seed=0)
    with unchanged(**model.params):
        history = fit(model, X, y, optimizer=GD(lr=0.1), epochs=0, batch_size=4, progress=False)
    assert history == {"loss": []}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"patience": 3}, "patience needs X_val"),
        ({"patience": 0, "with_val": True}, "must be >= 1"),
        ({"batch_size": 0}, "batch_size must be a whole number >= 1"),
        ({"batch_size": -8}, "batch_size must be a whole number >= 1"),
        ({"loss": "hinge"}, r"loss must be one of \['cross_entropy', 'mse'\]; got 'hinge'"),
        ({"epochs": -1}, "epochs must be a whole number >= 0"),
        ({"epochs": 2.5}, "epochs must be a whole number >= 0"),
        ({"only_X_val": True}, "pass both X_val and y_val"),
        ({"short_y": True}, "same number of rows"),
    ],
    ids=[
        "patience-without-val",
        "patience-0",
        "batch-0",
        "batch-negative",
        "unknown-loss",
        "epochs-negative",
        "epochs-fraction",
        "X_val-only",
        "y-too-short",
    ],
)
def test_fit_bad_arguments_raise(kwargs, match):
    """Bad arguments raise ValueError before any training, saying what is wrong."""
    X, y = make_moons(n_samples=20, seed=0)
    X_val, y_val = make_moons(n_samples=10, seed=1)
    args = {"optimizer": GD(lr=0.1), "epochs": 3, "batch_size": 4, "progress": False}
    if kwargs.pop("with_val", False):
        args.update(X_val=X_val, y_val=y_val)
    if kwargs.pop("only_X_val", False):
        args.update(X_val=X_val)
    if kwargs.pop("short_y", False):
        y = y[:-1]
    args.update(kwargs)
    model = MLP([2, 4, 2], seed=0)
    before = {k: v.copy() for k, v in model.params.items()}
    with pytest.raises(ValueError, match=match):
        fit(model, X, y, **args)
    for key in before:
        np.testing.assert_array_equal(model.params[key], before[key])


def test_callback_sees_every_epoch_and_can_stop_training():
    """callback(epoch, history) runs after each epoch with the history so far; True stops."""
    X, y = make_moons(n_samples=60, noise=0.1, seed=0)
    seen = []

    def callback(epoch, history):
        seen.append((epoch, len(history["loss"])))
        return epoch == 2

    history = fit(MLP([2, 8, 2], seed=0), X, y, optimizer=Adam(lr=0.01), epochs=10,
                  batch_size=16, progress=False, callback=callback)
    assert seen == [(0, 1), (1, 2), (2, 3)]
    assert len(history["loss"]) == 3

    # a callback that never stops leaves the numbers exactly as without one
    plain = fit(MLP([2, 8, 2], seed=0), X, y, optimizer=Adam(lr=0.01), epochs=4,
                batch_size=16, progress=False)
    watched = fit(MLP([2, 8, 2], seed=0), X, y, optimizer=Adam(lr=0.01), epochs=4,
                  batch_size=16, progress=False, callback=lambda epoch, history: False)
    assert plain == watched
