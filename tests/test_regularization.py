"""Tests for course_lib.regularization: standardize, dropout, the L2-regularized loss, early
stopping, log-uniform sampling and random search; and MLP's dropout and fit's patience.

Each is checked against an independent computation: values worked out by hand in the
comments, plain NumPy written here without course_lib, central differences with the
dropout mask frozen (the generator re-seeded for every evaluation), and the statistics
of many draws.
"""

from __future__ import annotations

import numpy as np
import pytest
from course_tools import assert_caught, mistakes_of

from course_lib.gradcheck import numerical_gradient, relative_error
from course_lib.network import MLP, mlp_backward, mlp_forward
from course_lib.optim import Adam
from course_lib.regularization import (
    EarlyStopping,
    dropout_backward,
    dropout_forward,
    random_search,
    regularized_loss_and_grads,
    sample_log_uniform,
    standardize,
)
from course_lib.train import fit

# ---------------------------------------------------------------- standardize


def test_standardize_hand_worked():
    """Column 0 is 0, 2, 4: mean 2, population std sqrt(8/3); column 1 is constant 1: only centred."""
    X_train = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0]])
    X_test = np.array([[6.0, 3.0]])
    Xs, Ts, mean, std = standardize(X_train, X_test)
    s = np.sqrt(8.0 / 3.0)  # ((0-2)^2 + 0 + (4-2)^2) / 3 = 8/3
    np.testing.assert_allclose(mean, [2.0, 1.0], rtol=1e-15)
    np.testing.assert_allclose(std, [s, 1.0], rtol=1e-15)
    np.testing.assert_allclose(Xs, [[-2 / s, 0.0], [0.0, 0.0], [2 / s, 0.0]], rtol=1e-15)
    np.testing.assert_allclose(Ts, [[4 / s, 2.0]], rtol=1e-15)


def test_standardize_uses_training_statistics_only(rng, unchanged):
    """Train columns get mean 0 and std 1; the test set is shifted by the TRAIN mean, so its
    own mean is not 0; the inputs stay as they were."""
    X_train = rng.normal(3.0, 2.0, size=(50, 4))
    X_test = rng.normal(5.0, 1.0, size=(20, 4))
    with unchanged(X_train, X_test):
        Xs, Ts, mean, std = standardize(X_train, X_test)
    np.testing.assert_allclose(Xs.mean(axis=0), 0.0, atol=1e-14)
    np.testing.assert_allclose(Xs.std(axis=0), 1.0, rtol=1e-14)
    np.testing.assert_allclose(Ts, (X_test - X_train.mean(0)) / X_train.std(0), rtol=1e-14)
    assert np.all(np.abs(Ts.mean(axis=0)) > 0.3)  # the test mean is about (5 - 3) / 2 = 1


def test_standardize_constant_columns_are_centred_not_divided():
    """A constant column of 0.1s has a computed std of about 3e-15, not 0: it is still constant,
    and so is a column of zeros (the digits' corner pixels). No inf, no nan, no warning."""
    X_train = np.column_stack([np.full(1437, 0.1), np.zeros(1437), np.arange(1437.0)])
    assert 0 < X_train[:, 0].std() < 1e-12  # the reason for CONSTANT_STD
    with np.errstate(all="raise"):
        Xs, Ts, mean, std = standardize(X_train, np.array([[0.3, 1.0, 2.0]]))
    np.testing.assert_array_equal(std[:2], [1.0, 1.0])
    np.testing.assert_allclose(Ts[0, :2], [0.3 - mean[0], 1.0], rtol=1e-12)
    assert np.all(np.abs(Xs[:, :2]) < 1e-12)


def test_standardize_digits_has_constant_pixels():
    """The digits have pixels that are 0 in every training image: standardize leaves them at 0."""
    from course_lib.data import load_digits

    X_train, X_test, _, _ = load_digits()
    Xs, Ts, _, std = standardize(X_train, X_test)
    constant = X_train.std(axis=0) == 0
    assert constant.sum() >= 1
    assert np.all(std[constant] == 1.0) and np.all(Xs[:, constant] == 0.0)
    assert np.all(np.isfinite(Ts))


def test_standardize_refuses_mismatched_features():
    with pytest.raises(ValueError, match=r"X_test must have the 3 features"):
        standardize(np.ones((4, 3)), np.ones((2, 5)))


# ---------------------------------------------------------------- dropout


@pytest.mark.parametrize("p_drop", [0.2, 0.5, 0.9])
def test_dropout_statistics(p_drop):
    """On 400 000 entries: the fraction of zeros is p_drop, the kept entries are X / (1 - p),
    and the mean is preserved (inverted dropout), each to within 5 standard errors."""
    X = np.random.default_rng(1).uniform(0.5, 1.5, size=(800, 500))
    out, mask = dropout_forward(X, p_drop, np.random.default_rng(2))
    n = X.size
    zero = out == 0
    assert abs(zero.mean() - p_drop) < 5 * np.sqrt(p_drop * (1 - p_drop) / n)
    np.testing.assert_allclose(out[~zero], X[~zero] / (1 - p_drop), rtol=1e-15)
    np.testing.assert_array_equal(np.unique(mask), [0.0, 1.0 / (1 - p_drop)])
    ratio_std = np.sqrt(p_drop / ((1 - p_drop) * n)) * np.sqrt((X**2).mean()) / X.mean()
    assert abs(out.mean() / X.mean() - 1.0) < 5 * ratio_std


def test_dropout_exact_draws():
    """The mask is rng.random(X.shape) >= p_drop, divided by 1 - p_drop: draw for draw."""
    X = np.arange(1.0, 7.0).reshape(2, 3)
    u = np.random.default_rng(5).random((2, 3))
    out, mask = dropout_forward(X, 0.4, np.random.default_rng(5))
    expected_mask = np.where(u >= 0.4, 1 / 0.6, 0.0)
    np.testing.assert_array_equal(mask, expected_mask)
    np.testing.assert_allclose(out, X * expected_mask, rtol=1e-15)


def test_dropout_hand_worked_seed_0():
    """np.random.default_rng(0).random(4) = [0.637, 0.270, 0.041, 0.017]: with p_drop = 0.25 the
    first is kept (0.637 >= 0.25), the other three dropped; kept entries scale by 1/0.75."""
    u = np.random.default_rng(0).random(4)
    np.testing.assert_allclose(u, [0.6369617, 0.2697867, 0.0409735, 0.0165276], atol=1e-7)
    out, mask = dropout_forward(np.array([3.0, 3.0, 3.0, 3.0]), 0.25, np.random.default_rng(0))
    np.testing.assert_allclose(mask, [4 / 3, 4 / 3, 0.0, 0.0], rtol=1e-15)
    np.testing.assert_allclose(out, [4.0, 4.0, 0.0, 0.0], rtol=1e-15)


def test_dropout_eval_mode_passes_x_and_draws_nothing(rng, unchanged):
    X = rng.normal(size=(4, 5))
    gen = np.random.default_rng(3)
    state = gen.bit_generator.state
    with unchanged(X):
        out, mask = dropout_forward(X, 0.5, gen, train=False)
    np.testing.assert_array_equal(out, X)
    assert mask is None
    assert gen.bit_generator.state == state  # rng not drawn from


def test_dropout_p0_keeps_everything_and_train_mode_leaves_x(rng, unchanged):
    X = rng.normal(size=(3, 4))
    with unchanged(X):
        out, mask = dropout_forward(X, 0.0, np.random.default_rng(0))
    np.testing.assert_array_equal(out, X)
    np.testing.assert_array_equal(mask, np.ones((3, 4)))


@pytest.mark.parametrize("p_drop", [-0.1, 1.0, 1.5, float("nan")])
def test_dropout_refuses_p_outside_0_1(p_drop):
    with pytest.raises(ValueError, match=r"probability of dropping"):
        dropout_forward(np.ones(3), p_drop, np.random.default_rng(0))


def test_dropout_backward_is_the_derivative_with_the_mask_frozen(rng):
    """Central differences of sum(dout * dropout(X)) with the same seed every evaluation."""
    X, dout = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    _, mask = dropout_forward(X, 0.3, np.random.default_rng(9))

    def f(_):
        return float(np.sum(dout * dropout_forward(X, 0.3, np.random.default_rng(9))[0]))

    numeric = numerical_gradient(f, X)
    dX = dropout_backward(dout, mask)
    assert relative_error(dX, numeric) < 1e-9
    np.testing.assert_array_equal(dropout_backward(dout, None), dout)
    with pytest.raises(ValueError, match="shape of dout"):
        dropout_backward(dout, mask[:2])


# ---------------------------------------------------------------- regularized_loss_and_grads


def _params(rng, sizes):
    """Parameters away from zero, every size different."""
    params = {}
    for i, (m_in, m_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        params[f"W{i}"] = rng.choice([-1, 1], size=(m_out, m_in)) * rng.uniform(0.3, 1.0, (m_out, m_in))
        params[f"b{i}"] = rng.uniform(-0.5, 0.5, m_out)
    return params


def _plain_numpy_loss(params, X, y, activation, lam, p_drop, seed):
    """The loss written again here, without course_lib: for cross-checking."""
    f = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh}[activation]
    gen = np.random.default_rng(seed) if p_drop else None
    L = len(params) // 2
    H = X
    for i in range(1, L + 1):
        Z = H @ params[f"W{i}"].T + params[f"b{i}"]
        if i < L:
            H = f(Z)
            if p_drop:
                H = H * (gen.random(H.shape) >= p_drop) / (1 - p_drop)
    log_p = Z - Z.max(1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(1, keepdims=True))
    penalty = sum(np.sum(params[f"W{i}"] ** 2) for i in range(1, L + 1))
    return -log_p[np.arange(len(y)), y].mean() + lam / 2 * penalty


CONFIGS = [
    ("relu", 0.0, 0.0, [5, 4, 3]),
    ("relu", 0.1, 0.0, [5, 4, 3]),
    ("tanh", 0.05, 0.5, [6, 4, 3, 2]),
    ("relu", 0.3, 0.25, [6, 7, 4, 3]),
]


@pytest.mark.parametrize(("activation", "lam", "p_drop", "sizes"), CONFIGS)
def test_regularized_loss_matches_plain_numpy_and_central_differences(activation, lam, p_drop,
                                                                      sizes):
    """The loss agrees with a NumPy computation written here; every gradient agrees with central
    differences of the loss, the dropout masks frozen by re-seeding the generator each time."""
    rng = np.random.default_rng(CONFIGS.index((activation, lam, p_drop, sizes)))
    params = _params(rng, sizes)
    X, y = rng.normal(size=(4, sizes[0])), rng.integers(0, sizes[-1], size=4)
    seed = 7

    def gen():
        return np.random.default_rng(seed) if p_drop else None

    loss, grads = regularized_loss_and_grads(params, X, y, activation, lam, p_drop, gen())
    np.testing.assert_allclose(loss, _plain_numpy_loss(params, X, y, activation, lam, p_drop,
                                                       seed), rtol=1e-12)
    assert list(grads) == list(params)
    for key in params:
        numeric = numerical_gradient(
            lambda _: regularized_loss_and_grads(params, X, y, activation, lam, p_drop, gen())[0],
            params[key])
        assert relative_error(grads[key], numeric) < 1e-7, key


def test_regularized_loss_hand_worked():
    """One layer, W = [[1, 2], [3, 4]], b = 0, X = 0: the logits are 0, so the cross-entropy is
    log 2 whatever the label; the penalty is lam/2 (1 + 4 + 9 + 16) = 15 lam. dW = lam W (X = 0),
    db = softmax - onehot, averaged: [0.5 - 1, 0.5] for label 0."""
    params = {"W1": np.array([[1.0, 2.0], [3.0, 4.0]]), "b1": np.zeros(2)}
    loss, grads = regularized_loss_and_grads(params, np.zeros((1, 2)), np.array([0]), lam=0.1)
    np.testing.assert_allclose(loss, np.log(2) + 1.5, rtol=1e-14)
    np.testing.assert_allclose(grads["W1"], 0.1 * params["W1"], rtol=1e-14)
    np.testing.assert_allclose(grads["b1"], [-0.5, 0.5], rtol=1e-14)


def test_regularized_loss_without_penalty_or_dropout_is_the_plain_network(rng):
    params = _params(rng, [5, 4, 3])
    X, y = rng.normal(size=(6, 5)), rng.integers(0, 3, size=6)
    loss, grads = regularized_loss_and_grads(params, X, y)
    from course_lib.losses import cross_entropy, cross_entropy_grad

    logits, caches = mlp_forward(X, params)
    expected = mlp_backward(cross_entropy_grad(logits, y), caches)
    assert loss == pytest.approx(cross_entropy(logits, y), rel=1e-14)
    for key in params:
        np.testing.assert_allclose(grads[key], expected[key], rtol=1e-13)


def test_regularized_loss_penalises_weights_not_biases(rng):
    """lam changes only the W gradients, by exactly lam * W; the biases' stay."""
    params = _params(rng, [5, 4, 3])
    X, y = rng.normal(size=(6, 5)), rng.integers(0, 3, size=6)
    _, plain = regularized_loss_and_grads(params, X, y)
    loss, decayed = regularized_loss_and_grads(params, X, y, lam=0.7)
    for key in params:
        shift = 0.7 * params[key] if key.startswith("W") else 0.0
        np.testing.assert_allclose(decayed[key], plain[key] + shift, rtol=1e-13, atol=1e-15)


def test_regularized_loss_draws_one_mask_per_hidden_layer_in_order(rng, unchanged):
    """Dropout follows hidden layers 1 and 2, in that order, never the input or the logits: the
    rng is drawn from for shapes (N, 7) then (N, 4), and nothing else; inputs unchanged."""
    params = _params(rng, [6, 7, 4, 3])
    X, y = rng.normal(size=(5, 6)), rng.integers(0, 3, size=5)
    gen = np.random.default_rng(4)
    with unchanged(X, **params):
        regularized_loss_and_grads(params, X, y, p_drop=0.5, rng=gen)
    replay = np.random.default_rng(4)
    replay.random((5, 7))
    replay.random((5, 4))
    assert gen.bit_generator.state == replay.bit_generator.state


# ---------------------------------------------------------------- EarlyStopping


def _run(stopper, losses, params):
    """Feed the losses, changing params in place after each update as an optimizer would."""
    flags = []
    for epoch, loss in enumerate(losses):
        params["W1"][...] = epoch  # the parameters "after epoch" epoch
        flags.append(stopper.update(loss, params))
        if flags[-1]:
            break
    return flags


def test_early_stopping_hand_worked():
    """Losses 1.0, 0.8, 0.9, 0.85, 0.95 with patience 3: best 0.8 at epoch 1; epochs 2, 3 and 4
    do not improve, so the third of them (epoch 4) stops."""
    stopper = EarlyStopping(patience=3)
    params = {"W1": np.zeros((2, 2)), "b1": np.zeros(2)}
    flags = _run(stopper, [1.0, 0.8, 0.9, 0.85, 0.95, 0.1], params)
    assert flags == [False, False, False, False, True]
    assert stopper.best_loss == 0.8 and stopper.best_epoch == 1
    np.testing.assert_array_equal(stopper.best_params["W1"], np.full((2, 2), 1.0))  # a copy
    assert stopper.best_params["W1"] is not params["W1"]


def test_early_stopping_min_delta_and_ties():
    """A loss equal to the best, or lower by less than min_delta, is no improvement."""
    stopper = EarlyStopping(patience=2, min_delta=0.05)
    params = {"W1": np.zeros(1), "b1": np.zeros(1)}
    assert _run(stopper, [1.0, 0.97, 1.0], params) == [False, False, True]
    assert stopper.best_epoch == 0
    tie = EarlyStopping(patience=1)
    assert _run(tie, [1.0, 1.0], {"W1": np.zeros(1), "b1": np.zeros(1)}) == [False, True]


def test_early_stopping_nan_never_improves_and_bad_arguments():
    stopper = EarlyStopping(patience=2)
    params = {"W1": np.zeros(1), "b1": np.zeros(1)}
    assert _run(stopper, [float("nan"), 1.0, float("nan"), float("nan")], params) \
        == [False, False, False, True]
    assert stopper.best_epoch == 1
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="patience"):
            EarlyStopping(bad)
    with pytest.raises(ValueError, match="min_delta"):
        EarlyStopping(2, min_delta=-0.1)


# ---------------------------------------------------------------- sample_log_uniform


def test_sample_log_uniform_is_uniform_in_the_log():
    """Between 1e-4 and 1e-1, each of the three decades gets a third of 30 000 samples; a
    uniform draw would put 90% in the last decade."""
    x = sample_log_uniform(1e-4, 1e-1, 30_000, np.random.default_rng(0))
    assert x.shape == (30_000,) and x.min() >= 1e-4 and x.max() < 1e-1
    shares = np.histogram(np.log10(x), bins=[-4, -3, -2, -1])[0] / x.size
    np.testing.assert_allclose(shares, 1 / 3, atol=5 * np.sqrt(2 / 9 / x.size))


def test_sample_log_uniform_exact_draws():
    """exp of rng.uniform(ln low, ln high): the draws of rng.random, mapped by hand."""
    u = np.random.default_rng(3).random((2, 3))
    expected = np.exp(np.log(1e-3) + u * (np.log(10.0) - np.log(1e-3)))
    np.testing.assert_allclose(sample_log_uniform(1e-3, 10.0, (2, 3), np.random.default_rng(3)),
                               expected, rtol=1e-13)
    one = sample_log_uniform(2.0, 2.0, None, np.random.default_rng(0))
    assert np.ndim(one) == 0 and one == pytest.approx(2.0)
    with pytest.raises(ValueError, match="0 < low <= high"):
        sample_log_uniform(0.0, 1.0, 3, np.random.default_rng(0))


# ---------------------------------------------------------------- random_search


def test_random_search_draws_trial_by_trial_and_ranks_best_first():
    """Three trials over lr (log), width (int, both ends included) and act (choices): the values
    are the generator's draws in the order trial, then name; the list is sorted by score."""
    space = {"lr": ("log", 1e-3, 1e-1), "width": ("int", 2, 4), "act": ["relu", "tanh"]}
    seen = []

    def score(config):
        seen.append(dict(config))
        return -abs(np.log10(config["lr"]) + 2)  # best at lr = 1e-2

    results = random_search(score, space, 3, np.random.default_rng(0))
    replay = np.random.default_rng(0)
    expected = []
    for _ in range(3):
        lr = float(np.exp(replay.uniform(np.log(1e-3), np.log(1e-1))))
        width = int(replay.integers(2, 5))
        act = ["relu", "tanh"][replay.integers(2)]
        expected.append({"lr": lr, "width": width, "act": act})
    assert seen == expected
    assert [r[1] for r in results] == sorted((score(c) for c in expected), reverse=True)
    assert results[0][0] == max(expected, key=lambda c: -abs(np.log10(c["lr"]) + 2))


def test_random_search_ints_reach_both_ends_and_ties_keep_their_order():
    results = random_search(lambda config: 0.0, {"k": ("int", 1, 3)}, 200, np.random.default_rng(1))
    assert {config["k"] for config, _ in results} == {1, 2, 3}
    replay = np.random.default_rng(1)
    assert [config["k"] for config, _ in results] == [int(replay.integers(1, 4)) for _ in range(200)]
    with pytest.raises(ValueError, match="space"):
        random_search(lambda c: 0.0, {"k": ("uniform", 0, 1)}, 1, np.random.default_rng(0))


# ---------------------------------------------------------------- MLP(dropout=...) and fit


def test_mlp_dropout_train_and_eval_modes(rng):
    """Train mode draws a new mask each call; eval mode and predict are deterministic and equal
    to the network without dropout."""
    model = MLP([5, 8, 3], seed=0, dropout=0.5)
    plain = MLP([5, 8, 3], seed=0)
    X = rng.normal(size=(6, 5))
    a, b = model.forward(X), model.forward(X)
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(model.forward(X, train=False), plain.forward(X))
    np.testing.assert_array_equal(model.predict(X), plain.predict(X))
    assert "dropout=0.5" in repr(model)
    with pytest.raises(ValueError, match="dropout"):
        MLP([5, 3], dropout=1.0)


def test_mlp_dropout_backward_with_the_mask_frozen(rng):
    """The MLP's backward pass goes through the forward pass's masks: central differences of the
    loss, re-seeding the model's generator for each evaluation, agree."""
    from course_lib.losses import cross_entropy, cross_entropy_grad

    model = MLP([5, 6, 4, 3], activation="tanh", seed=1, dropout=0.3)
    X, y = rng.normal(size=(4, 5)), rng.integers(0, 3, size=4)

    def loss(_=None):
        model._rng = np.random.default_rng(11)
        return cross_entropy(model.forward(X), y)

    model._rng = np.random.default_rng(11)
    grads = model.backward(cross_entropy_grad(model.forward(X), y))
    for key, value in model.params.items():
        assert relative_error(grads[key], numerical_gradient(loss, value)) < 1e-7, key
    # and it is regularized_loss_and_grads' network, mask for mask
    expected = regularized_loss_and_grads(model.params, X, y, "tanh", 0.0, 0.3,
                                          np.random.default_rng(11))[1]
    for key in grads:
        np.testing.assert_allclose(grads[key], expected[key], rtol=1e-12)


def test_fit_scores_validation_in_eval_mode_and_stops_with_early_stopping(monkeypatch, rng):
    """With dropout, the recorded validation loss is the eval-mode loss of the final weights;
    patience goes through regularization.EarlyStopping."""
    from course_lib import regularization
    from course_lib.losses import cross_entropy

    made = []

    class Spy(regularization.EarlyStopping):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr("course_lib.train.EarlyStopping", Spy)
    X, y = rng.normal(size=(30, 5)), rng.integers(0, 3, size=30)
    X_val, y_val = rng.normal(size=(20, 5)), rng.integers(0, 3, size=20)
    model = MLP([5, 32, 3], seed=0, dropout=0.5)
    history = fit(model, X, y, optimizer=Adam(lr=0.02), epochs=60, batch_size=8,
                  X_val=X_val, y_val=y_val, patience=4, progress=False)
    assert len(made) == 1 and made[0].patience == 4
    best = history["best_epoch"]
    assert best == made[0].best_epoch == int(np.argmin(history["val_loss"]))
    assert cross_entropy(model.forward(X_val, train=False), y_val) == history["val_loss"][best]


# ---------------------------------------------------------------- the notebook's checks

FOLDER, NAME = "06_regularization", "regularization"


@pytest.mark.parametrize("mistake", sorted(mistakes_of(FOLDER)))
def test_the_visible_test_catches_each_typical_mistake(mistake):
    """Each mistake of tests/mistakes/06_regularization.json fails its exercise's visible test
    cell, with a message that names it (or the line of the student's code that raised)."""
    assert_caught(FOLDER, NAME, mistake)
