"""The exercises of notebook 06: standardize, dropout, the regularized loss, early stopping, tuning.

Dropout and the samplers draw random numbers, so their checks compare draw for draw
with a seeded generator (``np.random.default_rng(seed)``, made afresh for every run of
a case), and NumPy's global generator is seeded while they run, so a draw from
``np.random`` instead of ``rng`` gives numbers a hint can name. Dropout is also judged
by its statistics on 100 000 entries (the fraction dropped, the mean, the scale of the
kept entries), and in eval mode by the generator's next draws after the call, which
change if it was drawn from. ``regularized_loss_and_grads`` is checked against central
differences of the student's own loss, with the dropout masks frozen by re-seeding the
generator for every evaluation, and against the reference. ``EarlyStopping`` is run over
a sequence of validation losses while the parameters change in place, as training
changes them.
"""

from __future__ import annotations

import numpy as np

from .. import regularization as ref
from ..activations import ACTIVATIONS
from ..gradcheck import numerical_gradient, relative_error
from ..layers import activation_backward, dense_backward, dense_forward
from ..losses import cross_entropy, cross_entropy_grad
from ._engine import Case, Exercise, Hint, Seeded
from ._seeds import drawn_case
from .backprop import _params as _net

__all__ = ["EXERCISES"]

_GLOBAL_SEED = 606  # NumPy's global generator while a case of this notebook runs


def _generator(rng):
    """A case's generator: a fresh one from its seed, or as given (None, a Generator)."""
    return np.random.default_rng(rng.seed) if isinstance(rng, Seeded) else rng


def _global_seeded(call):
    """``call()`` with NumPy's global generator seeded, and its state put back after."""
    saved = np.random.get_state()
    np.random.seed(_GLOBAL_SEED)
    try:
        return call()
    finally:
        np.random.set_state(saved)


def _pair(result, name, parts):
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise TypeError(f"{name} must return a pair {parts}; got {type(result).__name__}"
                        + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else ""))
    return result


# ---------------------------------------------------------------- standardize


def _std_case(label, n, m, d, extra=None, transposed=False):
    """A case of standardize: X_train (n, d) and X_test (m, d) of different means and scales;
    ``transposed``: each given as a transpose, not contiguous in memory."""
    def draw(rng):
        if transposed:
            X_train, X_test = rng.normal(2.0, 3.0, size=(d, n)).T, rng.normal(5.0, 1.0, size=(d, m)).T
        else:
            X_train, X_test = rng.normal(2.0, 3.0, size=(n, d)), rng.normal(5.0, 1.0, size=(m, d))
        if extra:
            extra(X_train, X_test)
        return X_train, X_test
    return drawn_case("standardize", label, draw)


def _blank_pixel(X_train, X_test):
    X_train[:, 1] = 0.0  # 0 in every training image, as the digits' corner pixels
    X_test[:, 1] = 0.5


def _constant_tenths(X_train, X_test):
    X_train[:, 0] = 0.1  # its computed std is about 1e-17 to 1e-15, not 0
    X_test[:, 0] = 0.3


def _scaled(X_train, X_test, mean, std):
    return (X_train - mean) / std, (X_test - mean) / std, mean, std


def _std_with(stats_of, fix=lambda std: np.where(std < ref.CONSTANT_STD, 1.0, std)):
    """standardize with the statistics of ``stats_of(X_train, X_test)`` and a divisor ``fix``."""
    def standardize(X_train, X_test):
        X_train, X_test = np.asarray(X_train, float), np.asarray(X_test, float)
        mean, std = stats_of(X_train, X_test)
        return _scaled(X_train, X_test, mean, fix(std))
    return standardize


def _std_own_statistics(X_train, X_test):
    """Each set scaled with its own statistics (the training set's returned)."""
    X_train_s, _, mean, std = _std_with(lambda A, B: (A.mean(axis=0), A.std(axis=0)))(
        X_train, X_test)
    _, X_test_s, _, _ = _std_with(lambda A, B: (B.mean(axis=0), B.std(axis=0)))(X_train, X_test)
    return X_train_s, X_test_s, mean, std


def _std_raw_divisor(X_train, X_test):
    X_train_s, X_test_s, mean, _ = ref.standardize(X_train, X_test)
    return X_train_s, X_test_s, mean, np.asarray(X_train, float).std(axis=0)


_STANDARDIZE = Exercise(
    name="standardize",
    reference=ref.standardize,
    outputs=("X_train_s", "X_test_s", "mean", "std"),
    visible=(
        _std_case("6 training and 2 test samples of 3 features, the test set of another mean",
                  6, 2, 3),
        _std_case("a feature that is 0 in every training sample (a blank pixel), 0.5 in the test "
                  "set", 5, 3, 4, _blank_pixel),
        _std_case("a feature that is 0.1 in every training sample: its computed std is about "
                  "1e-17, not 0", 7, 2, 3, _constant_tenths),
        Case("integer pixels 0..16, one test sample",
             (np.array([[0, 16, 3], [8, 4, 3], [16, 0, 5], [4, 12, 1]]), np.array([[2, 2, 2]]))),
        _std_case("X_train and X_test given as transposes (not contiguous in memory)", 5, 3, 4,
                  transposed=True),
        Case("one training sample of 2 features: each is constant, so only centred",
             (np.array([[4.0, -1.0]]), np.array([[5.0, 0.0], [4.0, -3.0]]))),
    ),
    hidden=(
        _std_case("40 training and 10 test samples of 5 features", 40, 10, 5),
        _std_case("two blank pixels and a constant one", 8, 4, 5,
                  lambda A, B: (_blank_pixel(A, B), _constant_tenths(A, B))),
        Case("one training sample: every feature is constant, only centred",
             (np.array([[1.0, 2.0, 3.0]]), np.array([[2.0, 2.0, 2.0], [0.0, 0.0, 0.0]]))),
    ),
    hints=(
        Hint(_std_own_statistics,
             "test-set statistics used: the mean and std come from X_train only, and the test "
             "set is scaled with them (it stands for new data, which you cannot average)."),
        Hint(_std_with(lambda A, B: (np.vstack([A, B]).mean(axis=0),
                                     np.vstack([A, B]).std(axis=0))),
             "you took the statistics of the training and test sets together: the test set "
             "must not influence them; use X_train's mean and std only."),
        Hint(_std_with(lambda A, B: (A.mean(axis=0), A.std(axis=0)), fix=lambda std: std),
             "division by a zero std: a feature that is constant in training has std 0; "
             "divide it by 1 instead (np.where(std < CONSTANT_STD, 1.0, std)), so it is only "
             "centred."),
        Hint(_std_with(lambda A, B: (A.mean(axis=0), A.std(axis=0)),
                       fix=lambda std: np.where(std == 0, 1.0, std)),
             "a constant feature's computed std need not be exactly 0 (0.1 repeated gives about "
             "1e-17, from rounding): test std < CONSTANT_STD (1e-8), not std == 0."),
        Hint(_std_with(lambda A, B: (A.mean(axis=0), A.std(axis=0, ddof=1))),
             "you used the sample std (ddof=1); use the population std, np.std's default ddof=0."),
        Hint(_std_with(lambda A, B: (A.mean(), A.std())),
             "you took one mean and one std over the whole array; each feature (column) gets "
             "its own: X_train.mean(axis=0), X_train.std(axis=0)."),
        Hint(_std_raw_divisor,
             "return as std the divisor you used (1 for a constant feature), so that "
             "(X_test - mean) / std gives X_test_s."),
    ),
)


# ---------------------------------------------------------------- dropout_forward


class _Statistics:
    """A large X whose dropout is judged by its statistics, not entry by entry."""

    def __init__(self, X):
        self.X = X

    def __repr__(self):
        return f"X of shape {self.X.shape} with entries in [0.5, 1.5] (judged by its statistics)"


def _statistics(X, out, mask):
    """What dropout must do on average: each to 0.05, so any right dropout passes."""
    out = np.asarray(out, dtype=float)
    dropped = out == 0
    kept = ~dropped
    scale = float(np.mean(out[kept] / X[kept])) if kept.any() else 0.0
    return {
        "fraction of entries set to 0 (to 0.05)": np.round(dropped.mean() * 20) / 20,
        "mean of out / mean of X (to 0.05)": np.round(out.mean() / X.mean() * 20) / 20,
        "kept entries, out / X (to 1e-6)": np.round(scale, 6),
    }


def _dropout_run(fn):
    """dropout_forward -> the function the cases call: a seeded generator for each run, the
    statistics of a large X, and in eval mode the generator's next draws after the call."""
    def run(X, p_drop, rng, **options):
        gen = _generator(rng)
        data = X.X if isinstance(X, _Statistics) else X
        result = _global_seeded(lambda: fn(data, p_drop, gen, **options))
        if result is None:
            return None
        out, mask = _pair(result, "dropout_forward", "(out, mask)")
        if isinstance(X, _Statistics):
            return _statistics(data, out, mask)
        if not options.get("train", True):
            return {"out": out, "mask is None": mask is None,
                    "rng's next 3 draws after the call (unchanged if nothing was drawn)":
                        gen.random(3)}
        return {"out": out, "mask": mask,
                "rng's next 3 draws after the call": gen.random(3)}

    run.__name__ = getattr(fn, "__name__", "dropout_forward")
    return run


def _dropout_with(keep_of=lambda u, p: u >= p, scale=lambda p: 1.0 / (1.0 - p),
                  draw=lambda rng, shape: rng.random(shape), eval_out=lambda X, p: X,
                  eval_draws=False, always_on=False):
    """dropout_forward with one step done another way (the hints below)."""
    def dropout_forward(X, p_drop, rng, train=True):
        X = np.asarray(X, dtype=float)
        if (not train) and not always_on:
            if eval_draws:
                rng.random(X.shape)
            return eval_out(X, p_drop), None
        mask = keep_of(draw(rng, X.shape), p_drop) * scale(p_drop)
        return X * mask, mask
    return dropout_forward


def _dropout_case(label, shape, p_drop, seed, **options):
    return drawn_case("dropout_forward", label,
                      lambda rng: (rng.normal(size=shape), p_drop, Seeded(seed)), options)


def _statistics_case(label, p_drop, seed):
    return drawn_case("dropout_forward", label,
                      lambda rng: (_Statistics(rng.uniform(0.5, 1.5, size=(400, 250))), p_drop,
                                   Seeded(seed)))


_SWAPPED = ("keep and drop swapped: p_drop is the probability of DROPPING a unit, so keep it "
            "where u >= p_drop (it is kept with probability 1 - p_drop).")

_DROPOUT_FORWARD = Exercise(
    name="dropout_forward",
    reference=ref.dropout_forward,
    adapter=_dropout_run,
    visible=(
        _statistics_case("100 000 entries, p_drop = 0.2", 0.2, 1),
        _statistics_case("100 000 entries, p_drop = 0.5", 0.5, 2),
        _dropout_case("X of shape (4, 5), p_drop = 0.2, draw for draw", (4, 5), 0.2, 0),
        _dropout_case("X of shape (3, 6), p_drop = 0.5, draw for draw", (3, 6), 0.5, 3),
        _dropout_case("eval mode (train=False): X unchanged, mask None, nothing drawn", (4, 5),
                      0.5, 4, train=False),
        _dropout_case("p_drop = 0: nothing dropped", (2, 3), 0.0, 5),
        Case("integer X", (np.array([[1, 2, 3], [4, 5, 6]]), 0.3, Seeded(6))),
        _dropout_case("a 3-D X of shape (2, 2, 3), p_drop = 0.4, draw for draw", (2, 2, 3), 0.4,
                      14),
        drawn_case("dropout_forward", "X given as a transpose (not contiguous), p_drop = 0.3",
                   lambda rng: (rng.normal(size=(5, 3)).T, 0.3, Seeded(15))),
        Case("p_drop = 1 (everything dropped, 1 / (1 - p) undefined) must raise ValueError",
             (np.ones((2, 2)), 1.0, Seeded(7)), raises=ValueError),
        Case("p_drop = -0.1 is not a probability: must raise ValueError",
             (np.ones((2, 2)), -0.1, Seeded(8)), raises=ValueError),
    ),
    hidden=(
        _statistics_case("100 000 entries, p_drop = 0.8", 0.8, 9),
        _dropout_case("a 3-D X of shape (2, 3, 4), p_drop = 0.3", (2, 3, 4), 0.3, 10),
        _dropout_case("eval mode, p_drop = 0.9", (5, 2), 0.9, 11, train=False),
        _dropout_case("train=True given, p_drop = 0.6", (6, 4), 0.6, 12, train=True),
        Case("p_drop = 1.5 must raise ValueError", (np.ones((2, 2)), 1.5, Seeded(13)),
             raises=ValueError),
    ),
    hints=(
        Hint(_dropout_with(keep_of=lambda u, p: u < p), _SWAPPED),
        Hint(_dropout_with(keep_of=lambda u, p: u < p, scale=lambda p: 1.0 / p),
             "p_drop used as the KEEP probability (CS231n's p): here it is the probability of "
             "dropping, so keep where u >= p_drop and scale by 1 / (1 - p_drop)."),
        Hint(_dropout_with(scale=lambda p: 1.0),
             "no rescaling: divide the kept entries by 1 - p_drop (inverted dropout), so that "
             "the mean of the output is the mean of X and nothing changes at test time."),
        Hint(_dropout_with(scale=lambda p: 1.0 - p),
             "you multiplied the kept entries by 1 - p_drop; inverted dropout DIVIDES them by it."),
        Hint(_dropout_with(eval_out=lambda X, p: X * (1.0 - p)),
             "rescaling at train time and again at test time: inverted dropout already scaled the "
             "kept units in training, so in eval mode X passes unchanged (no * (1 - p_drop))."),
        Hint(_dropout_with(scale=lambda p: 1.0, eval_out=lambda X, p: X * (1.0 - p)),
             "that is the original, non-inverted dropout (scale at test time); this course uses "
             "inverted dropout: divide by 1 - p_drop in training, and leave X alone in eval mode."),
        Hint(_dropout_with(always_on=True),
             "dropout left on at eval: with train=False return X itself and mask None, "
             "drawing nothing."),
        Hint(_dropout_with(eval_draws=True),
             "rng drawn from in eval mode: draw the mask only when train is True, so that "
             "evaluating a network does not change the random numbers of the training that "
             "follows."),
        Hint(_dropout_with(draw=lambda rng, shape: np.random.random(shape)),
             "the global np.random instead of rng: draw u = rng.random(X.shape) from the "
             "generator you are given, so the same seed gives the same mask."),
        Hint(_dropout_with(keep_of=lambda u, p: u < 1.0 - p),
             "keep where u >= p_drop: u < 1 - p_drop keeps as many units on average, but other "
             "ones, and the checks compare the mask draw for draw."),
    ),
)


# ---------------------------------------------------------------- dropout_backward


def _mask(rng, shape, p_drop):
    """A mask as dropout_forward makes it (written out: the reference may be withheld here)."""
    return (rng.random(shape) >= p_drop) / (1.0 - p_drop)


def _backward_case(label, shape, p_drop):
    return drawn_case("dropout_backward", label,
                      lambda rng: (rng.normal(size=shape), _mask(rng, shape, p_drop)))


_DROPOUT_BACKWARD = Exercise(
    name="dropout_backward",
    reference=ref.dropout_backward,
    visible=(
        _backward_case("dout of shape (4, 5), a mask of p_drop = 0.5 (entries 0 or 2)", (4, 5),
                       0.5),
        _backward_case("dout of shape (3, 6), a mask of p_drop = 0.2 (entries 0 or 1.25)",
                       (3, 6), 0.2),
        drawn_case("dropout_backward", "mask None (eval mode): the gradient passes unchanged",
                   lambda rng: (rng.normal(size=(2, 3)), None)),
        Case("integer dout", (np.array([[1, -2], [3, 4]]), np.array([[0.0, 2.0], [2.0, 2.0]]))),
        _backward_case("a 3-D dout of shape (3, 2, 2), p_drop = 0.4", (3, 2, 2), 0.4),
    ),
    hidden=(
        _backward_case("a 3-D dout of shape (2, 3, 4), p_drop = 0.7", (2, 3, 4), 0.7),
        _backward_case("p_drop = 0: a mask of ones", (3, 2), 0.0),
    ),
    hints=(
        Hint(lambda dout, mask: np.asarray(dout, float) * (np.asarray(mask) > 0),
             "the mask already holds 1 / (1 - p_drop) where a unit was kept: multiply dout by "
             "the mask itself, not by mask > 0 (which drops the rescaling)."),
        Hint(lambda dout, mask: np.asarray(dout, float),
             "you returned dout unchanged: a dropped unit passes no gradient, so dX = dout * mask."),
        Hint(lambda dout, mask: np.asarray(dout, float) / mask,
             "you divided by the mask; its derivative is the mask: dX = dout * mask."),
    ),
)


# ---------------------------------------------------------------- regularized_loss_and_grads


def _loss_case(label, sizes, n, transposed=False, **options):
    """``transposed``: X given as a transpose, not contiguous in memory."""
    def draw(rng):
        X = rng.normal(size=(sizes[0], n)).T if transposed else rng.normal(size=(n, sizes[0]))
        return _net(rng, sizes), X, rng.integers(0, sizes[-1], n)
    return drawn_case("regularized_loss_and_grads", label, draw, options)


_GRADIENT_CHECK = ("gradient check: relative error < 1e-7 between your grads and central "
                   "differences of your loss (mask frozen)")


def _with_gradient_check(fn):
    """regularized_loss_and_grads -> (loss, gradient check, grads). The gradient check compares
    the student's grads with central differences of the student's own loss, the generator
    re-seeded for each evaluation, so every evaluation drops the same units."""
    def run(params, X, y, activation="relu", lam=0.0, p_drop=0.0, rng=None):
        def call():
            return _pair(fn(params, X, y, activation=activation, lam=lam, p_drop=p_drop,
                            rng=_generator(rng)), "regularized_loss_and_grads", "(loss, grads)")

        result = _global_seeded(call)
        loss, grads = result
        if not isinstance(grads, dict):
            return loss, {}, grads
        agrees = {}
        for key, value in params.items():
            numeric = _global_seeded(lambda value=value: numerical_gradient(
                lambda _: float(call()[0]), value))
            given = np.asarray(grads.get(key, np.nan), dtype=float)
            agrees[key] = given.shape == numeric.shape and \
                relative_error(given, numeric) < 1e-7
        return loss, agrees, grads

    run.__name__ = getattr(fn, "__name__", "regularized_loss_and_grads")
    return run


def _regularized_variant(*, decay_biases=False, grad_factor=1.0, grad_per_sample=False,
                         loss_factor=0.5, drop_input=False, drop_logits=False,
                         mask_in_backward=True, new_mask_in_backward=False,
                         drop_before_activation=False):
    """regularized_loss_and_grads with one switchable mistake (the hints below)."""
    def regularized_loss_and_grads(params, X, y, activation="relu", lam=0.0, p_drop=0.0,
                                   rng=None):
        f = ACTIVATIONS[activation][0]
        n_layers = len(params) // 2
        drop = p_drop > 0

        def dropped(A):
            mask = (rng.random(A.shape) >= p_drop) / (1.0 - p_drop)
            return A * mask, mask

        H, caches, masks = np.asarray(X, float), [], []
        if drop and drop_input:
            H, _ = dropped(H)
        for i in range(1, n_layers + 1):
            Z, cache = dense_forward(H, params[f"W{i}"], params[f"b{i}"])
            mask = None
            if i < n_layers:
                if drop and drop_before_activation:
                    Z, mask = dropped(Z)
                    cache_z = Z
                    H = f(Z)
                else:
                    cache_z = Z
                    H = f(Z)
                    if drop:
                        H, mask = dropped(H)
            else:
                cache_z = Z
                if drop and drop_logits:
                    Z, logit_mask = dropped(Z)
            caches.append((cache, cache_z))
            masks.append(mask)
        penalised = [k for k in params if k.startswith("W") or decay_biases]
        penalty = sum(float(np.sum(params[k] ** 2)) for k in penalised)
        loss = cross_entropy(Z, y) + loss_factor * lam * penalty
        grads = {}
        dZ = cross_entropy_grad(Z, y)
        if drop and drop_logits:
            dZ = dZ * logit_mask
        for i in range(n_layers, 0, -1):
            cache, _ = caches[i - 1]
            dH, grads[f"W{i}"], grads[f"b{i}"] = dense_backward(dZ, cache)
            if i > 1:
                mask = masks[i - 2]
                if mask is not None and new_mask_in_backward:
                    mask = (rng.random(mask.shape) >= p_drop) / (1.0 - p_drop)
                if mask is not None and mask_in_backward and not drop_before_activation:
                    dH = dH * mask
                dZ = activation_backward(dH, caches[i - 2][1], activation)
                if mask is not None and drop_before_activation:
                    dZ = dZ * mask
        factor = grad_factor / (len(y) if grad_per_sample else 1.0)
        for k in penalised:
            grads[k] = grads[k] + factor * lam * params[k]
        return loss, {k: grads[k] for k in params}
    return regularized_loss_and_grads


_REGULARIZED = Exercise(
    name="regularized_loss_and_grads",
    reference=ref.regularized_loss_and_grads,
    adapter=_with_gradient_check,
    outputs=("loss", _GRADIENT_CHECK, "grads"),
    visible=(
        _loss_case("a 5 -> 4 -> 3 ReLU network, N = 4, lam = 0, no dropout", (5, 4, 3), 4),
        _loss_case("lam = 0.1: the penalty is on W1 and W2, not on the biases", (5, 4, 3), 4,
                   lam=0.1),
        _loss_case("a 6 -> 5 -> 4 -> 3 network (W3 too), lam = 0.05", (6, 5, 4, 3), 5, lam=0.05),
        _loss_case("dropout p_drop = 0.5 after each hidden layer, np.random.default_rng(0)",
                   (6, 5, 4, 3), 4, p_drop=0.5, rng=Seeded(0)),
        _loss_case("tanh, lam = 0.2, p_drop = 0.3, np.random.default_rng(1)", (5, 6, 4, 3), 4,
                   activation="tanh", lam=0.2, p_drop=0.3, rng=Seeded(1)),
        _loss_case("one sample (N = 1), X given as a transpose (not contiguous), lam = 0.5",
                   (3, 4, 2), 1, transposed=True, lam=0.5),
        _loss_case("a single layer (no hidden layer: no dropout anywhere), lam = 0.3, "
                   "p_drop = 0.5", (4, 3), 3, lam=0.3, p_drop=0.5, rng=Seeded(3)),
        _loss_case("twelve layers of sigmoid, W1 .. W12 in number order (sorted as strings, "
                   "W10 would come before W2), lam = 0.01, p_drop = 0.2",
                   (4, *[3] * 11, 2), 5, activation="sigmoid", lam=0.01, p_drop=0.2,
                   rng=Seeded(4)),
    ),
    hidden=(
        _loss_case("one sample (N = 1), lam = 0.5", (4, 3, 2), 1, lam=0.5),
        _loss_case("sigmoid, 4 layers, lam = 0.01, p_drop = 0.2", (5, 4, 4, 3, 2), 6,
                   activation="sigmoid", lam=0.01, p_drop=0.2, rng=Seeded(2)),
        _loss_case("a single layer of 6 -> 4, p_drop = 0.3", (6, 4), 5, lam=0.1, p_drop=0.3,
                   rng=Seeded(5)),
    ),
    hints=(
        Hint(_regularized_variant(decay_biases=True),
             "biases penalised: the penalty lam/2 * sum ||W||^2 is on the weights W1, W2, ... "
             "only; leave b1, b2, ... and their gradients out of it."),
        Hint(_regularized_variant(grad_factor=2.0),
             "2 lam W in the gradient: the derivative of lam/2 * ||W||^2 is lam * W (the 1/2 "
             "cancels the 2)."),
        Hint(_regularized_variant(grad_per_sample=True),
             "lam / N in the gradient: the penalty is added once to the mean loss, so its "
             "gradient is lam * W, not divided by the number of samples."),
        Hint(_regularized_variant(grad_factor=0.0),
             "lam is in the loss but not in the gradient: add lam * W to each weight's gradient."),
        Hint(_regularized_variant(loss_factor=1.0),
             "the penalty is lam/2 * sum ||W||^2, with the 1/2: you added lam * sum ||W||^2."),
        Hint(_regularized_variant(loss_factor=0.0),
             "the penalty is missing from the loss: add lam/2 * sum ||W||^2 (l2_penalty)."),
        Hint(_regularized_variant(drop_input=True),
             "dropout on the input X: it follows every HIDDEN activation only."),
        Hint(_regularized_variant(drop_logits=True),
             "dropout on the logits: the output layer is never dropped; dropout follows the "
             "hidden activations only."),
        Hint(_regularized_variant(mask_in_backward=False),
             "the backward pass ignores the dropout: multiply each hidden layer's dH by its mask "
             "from the forward pass (dropout_backward) before activation_backward."),
        Hint(_regularized_variant(new_mask_in_backward=True),
             "a new mask drawn in backward: the backward pass must use the mask the forward pass "
             "drew (keep it, like the caches), or the gradient is of another network."),
        Hint(_regularized_variant(drop_before_activation=True),
             "dropout before the activation: apply it to H = f(Z), the activation's output."),
    ),
)


# ---------------------------------------------------------------- EarlyStopping


class _Losses:
    """The validation losses of successive epochs, shown as a list."""

    def __init__(self, values):
        self.values = np.asarray(values, dtype=float)

    def __repr__(self):
        return "validation losses " + np.array2string(self.values, separator=", ", precision=3)


def _epochs(cls):
    """EarlyStopping -> a function running it over a sequence of validation losses.

    After epoch e (counting from 0) the parameters are W1 = e + 1 and b1 = -(e + 1),
    changed IN PLACE, as an optimizer changes a network's arrays; update is called
    until it returns True. Then the caller adds 100 to W1 in place, as training on
    would: a best_params that shares the arrays changes with them.
    """
    def run(losses, **options):
        stopper = cls(**options)
        params = {"W1": np.zeros((2, 3)), "b1": np.zeros(2)}
        stops = []
        for epoch, loss in enumerate(losses.values):
            params["W1"][...] = epoch + 1.0
            params["b1"][...] = -(epoch + 1.0)
            stops.append(bool(stopper.update(float(loss), params)))
            if stops[-1]:
                break
        params["W1"] += 100.0
        best = stopper.best_params
        return {"epochs trained (updates until one returned True)": len(stops),
                "best_epoch": stopper.best_epoch, "best_loss": stopper.best_loss,
                "best_params (W1 = epoch + 1 when copied)":
                    {k: np.array(v, dtype=float) for k, v in best.items()}
                    if isinstance(best, dict) else best,
                "what update returned, epoch by epoch": np.array(stops)}

    run.__name__ = getattr(cls, "__name__", "EarlyStopping")
    return run


class _StoppingVariant:
    """EarlyStopping with one switchable mistake (the hints below)."""

    copy_always = False  # best_params copied every epoch: the last, not the best
    alias = False  # best_params = params: the same arrays
    shallow = False  # dict(params): a new dict of the same arrays
    late = False  # stop when bad_epochs > patience
    early = False  # stop when bad_epochs >= patience - 1
    ties = False  # <= : an equal loss improves
    no_min_delta = False
    no_reset = False  # bad_epochs never reset by an improvement
    nan_improves = False  # "not worse" taken for "better": a nan counts as an improvement

    def __init__(self, patience, min_delta=0.0):
        self.patience, self.min_delta = patience, 0.0 if self.no_min_delta else min_delta
        self.best_loss, self.best_epoch, self.best_params = np.inf, None, None
        self.epoch, self.bad_epochs = -1, 0

    def update(self, val_loss, params):
        self.epoch += 1
        threshold = self.best_loss - self.min_delta
        better = val_loss <= threshold if self.ties else val_loss < threshold
        if self.nan_improves:
            better = not val_loss >= threshold
        if better:
            self.best_loss, self.best_epoch = val_loss, self.epoch
            self._keep(params)
            if not self.no_reset:
                self.bad_epochs = 0
        else:
            self.bad_epochs += 1
            if self.copy_always:
                self._keep(params)
        if self.late:
            return self.bad_epochs > self.patience
        if self.early:
            return self.bad_epochs >= self.patience - 1
        return self.bad_epochs >= self.patience

    def _keep(self, params):
        if self.alias:
            self.best_params = params
        elif self.shallow:
            self.best_params = dict(params)
        else:
            self.best_params = {k: v.copy() for k, v in params.items()}


def _stopping(**flags):
    return type("EarlyStopping", (_StoppingVariant,), flags)


def _stop_case(label, losses, **options):
    return Case(label, (_Losses(losses),), options)


_ALIASED = ("the best parameters aliased instead of copied: training goes on changing the "
            "arrays in place, so keep copy.deepcopy(params) (dict(params) copies the dict, not "
            "the arrays).")

_EARLY_STOPPING = Exercise(
    name="EarlyStopping",
    reference=ref.EarlyStopping,
    adapter=_epochs,
    visible=(
        _stop_case("patience 3: best at epoch 1, then three epochs without improvement",
                   [1.0, 0.8, 0.9, 0.85, 0.95, 0.7], patience=3),
        _stop_case("patience 1: stop at the first epoch that does not improve",
                   [1.0, 0.9, 0.95, 0.5], patience=1),
        _stop_case("an improvement resets the count (patience 3)",
                   [1.0, 1.1, 1.2, 0.9, 1.0, 1.1, 1.2, 0.5], patience=3),
        _stop_case("a loss equal to the best is no improvement (patience 2)",
                   [1.0, 0.5, 0.5, 0.5, 0.4], patience=2),
        _stop_case("min_delta = 0.1: 0.95 after 1.0 is no improvement, 0.85 is",
                   [1.0, 0.95, 0.85, 0.8, 0.78, 0.5], patience=2, min_delta=0.1),
        _stop_case("a nan (a diverged epoch) never improves (patience 2)",
                   [1.0, np.nan, 0.9, np.nan, np.nan, 0.1], patience=2),
    ),
    hidden=(
        _stop_case("patience 5, a long plateau", [2.0, 1.5, 1.2, 1.1, 1.1, 1.15, 1.12, 1.3, 1.2,
                                                  1.25, 0.2], patience=5),
        _stop_case("every epoch improves: it never stops", [5.0, 4.0, 3.0, 2.0, 1.0], patience=2),
        _stop_case("min_delta = 0.5, patience 1", [3.0, 2.4, 2.0, 1.4], patience=1,
                   min_delta=0.5),
    ),
    hints=(
        Hint(_stopping(copy_always=True),
             "the last parameters kept instead of the best: copy params only when the loss "
             "improves, so best_params stays those of best_epoch."),
        Hint(_stopping(alias=True), _ALIASED),
        Hint(_stopping(shallow=True), _ALIASED),
        Hint(_stopping(late=True),
             "patience off by one (one epoch late): stop as soon as patience epochs in a row "
             "have not improved (bad_epochs >= patience)."),
        Hint(_stopping(early=True),
             "patience off by one (one epoch early): stop when patience epochs in a row have "
             "not improved, not patience - 1."),
        Hint(_stopping(ties=True),
             "a loss equal to the best counted as an improvement: it must be strictly below "
             "best_loss - min_delta."),
        Hint(_stopping(no_min_delta=True),
             "min_delta ignored: an improvement must be below best_loss - min_delta."),
        Hint(_stopping(nan_improves=True),
             "a nan validation loss (a diverged epoch) counted as an improvement: test "
             "val_loss < best_loss - min_delta, which is False for nan, not "
             "'not val_loss >= ...'."),
        Hint(_stopping(no_reset=True),
             "the count of epochs without improvement is not reset when the loss improves: set "
             "it back to 0 at every new best."),
    ),
)


# ---------------------------------------------------------------- sample_log_uniform


class _Histogram:
    """A large sample, judged by the share of it in each decade."""

    def __init__(self, size):
        self.size = size

    def __repr__(self):
        return f"size={self.size} (judged by the share in each decade)"


def _sampler_run(fn):
    """sample_log_uniform -> the function the cases call: a seeded generator for each run, the
    global one seeded, and a large sample summed up by decades."""
    def run(low, high, size, rng):
        n = size.size if isinstance(size, _Histogram) else size
        got = _global_seeded(lambda: fn(low, high, n, _generator(rng)))
        if got is None or not isinstance(size, _Histogram):
            return got
        x = np.asarray(got, dtype=float)
        edges = np.arange(np.floor(np.log10(low)), np.ceil(np.log10(high)) + 1)
        positive = x[np.isfinite(x) & (x > 0)]
        shares = np.histogram(np.log10(positive), bins=edges)[0] / max(x.size, 1)
        return {"share of the samples in each decade (to 0.05)": np.round(shares * 20) / 20,
                "all inside [low, high]": bool(np.all((x >= low) & (x <= high)))}

    run.__name__ = getattr(fn, "__name__", "sample_log_uniform")
    return run


def _sampler_case(label, low, high, size, seed):
    return Case(label, (low, high, size, Seeded(seed)))


_SAMPLE_LOG_UNIFORM = Exercise(
    name="sample_log_uniform",
    reference=ref.sample_log_uniform,
    adapter=_sampler_run,
    visible=(
        _sampler_case("20 000 samples between 1e-4 and 1e-1: a third in each decade", 1e-4, 1e-1,
                      _Histogram(20_000), 0),
        _sampler_case("5 samples between 1e-4 and 1e-1, draw for draw", 1e-4, 1e-1, 5, 1),
        _sampler_case("size (2, 3) between 0.01 and 10", 0.01, 10.0, (2, 3), 2),
        _sampler_case("size None: one number between 1e-5 and 1e-2", 1e-5, 1e-2, None, 3),
        _sampler_case("low = high = 3: always 3", 3.0, 3.0, 2, 7),
    ),
    hidden=(
        _sampler_case("20 000 samples between 1e-6 and 1: a sixth in each decade", 1e-6, 1.0,
                      _Histogram(20_000), 4),
        _sampler_case("low = high = 0.5: always 0.5", 0.5, 0.5, 4, 5),
        _sampler_case("size (3,) between 2 and 2000", 2.0, 2000.0, (3,), 6),
    ),
    hints=(
        Hint(lambda low, high, size, rng: rng.uniform(low, high, size),
             "lr sampled uniformly: most samples land in the top decade (90% above 1e-2 between "
             "1e-4 and 1e-1); draw the LOG uniformly, exp(rng.uniform(log(low), log(high)))."),
        Hint(lambda low, high, size, rng: rng.uniform(np.log10(low), np.log10(high), size),
             "you returned the exponents: after u = rng.uniform(log10(low), log10(high)), "
             "return 10 ** u."),
        Hint(lambda low, high, size, rng: np.log(rng.uniform(low, high, size)),
             "you took the log of uniform samples; draw the log uniformly and exponentiate: "
             "np.exp(rng.uniform(np.log(low), np.log(high), size))."),
        Hint(lambda low, high, size, rng: 10 ** rng.uniform(np.log(low), np.log(high), size),
             "two bases mixed: np.log is the natural log, so exponentiate with np.exp (or use "
             "np.log10 with 10 **)."),
        Hint(lambda low, high, size, rng: np.exp(np.random.uniform(np.log(low), np.log(high),
                                                                   size)),
             "the global np.random instead of rng: draw from the generator you are given."),
    ),
)


# ---------------------------------------------------------------- random_search


class _Scorer:
    """A stand-in for training: a score that peaks at lr = 1e-2 (and width 3), readable."""

    def __init__(self, text, flat=False):
        self.text, self.flat = text, flat

    def __call__(self, config):
        if self.flat:
            return 0.5
        score = 1.0 - (np.log10(config["lr"]) + 2.0) ** 2 / 10
        if "width" in config:
            score -= 0.01 * (config["width"] - 3) ** 2
        if "batch_size" in config:
            score += 0.001 * config["batch_size"] / 64
        return float(score)

    def __repr__(self):
        return self.text


_PEAK = _Scorer("score(config) = 1 - (log10(lr) + 2)^2 / 10 - 0.01 (width - 3)^2 "
                "(+ 0.001 batch_size / 64)")
_FLAT = _Scorer("score(config) = 0.5 for every config", flat=True)


def _search_run(fn):
    """random_search -> the function the cases call: a seeded generator for each run, the
    global one seeded, the list of (config, score) as a tuple of pairs."""
    def run(train_and_score, space, n_trials, rng):
        got = _global_seeded(lambda: fn(train_and_score, space, n_trials, _generator(rng)))
        if not isinstance(got, (list, tuple)):
            return got
        return tuple(tuple(item) if isinstance(item, (list, tuple)) else item for item in got)

    run.__name__ = getattr(fn, "__name__", "random_search")
    return run


def _search_with(draw_log=None, int_end=True, order="trials", sort="best", reuse=False,
                 global_rng=False):
    """random_search with one step done another way (the hints below)."""
    def random_search(train_and_score, space, n_trials, rng):
        gen = np.random if global_rng else rng

        def value(spec):
            if isinstance(spec, list):
                return spec[gen.integers(len(spec))] if not global_rng else \
                    spec[np.random.randint(len(spec))]
            kind, low, high = spec
            if kind == "log":
                if draw_log is not None:
                    return draw_log(low, high, gen)
                return float(np.exp(gen.uniform(np.log(low), np.log(high))))
            if global_rng:
                return int(np.random.randint(low, high + 1))
            return int(gen.integers(low, high, endpoint=int_end))

        if order == "names":
            columns = {name: [value(spec) for _ in range(n_trials)] for name, spec in space.items()}
            configs = [{name: columns[name][t] for name in space} for t in range(n_trials)]
        elif reuse:
            one = {name: value(spec) for name, spec in space.items()}
            configs = [dict(one) for _ in range(n_trials)]
        else:
            configs = [{name: value(spec) for name, spec in space.items()}
                       for _ in range(n_trials)]
        results = [(config, float(train_and_score(config))) for config in configs]
        if sort == "best":
            return sorted(results, key=lambda r: r[1], reverse=True)
        if sort == "worst":
            return sorted(results, key=lambda r: r[1])
        return results
    return random_search


_SPACE = {"lr": ("log", 1e-4, 1e-1), "width": ("int", 2, 4)}
_SPACE_CHOICES = {"lr": ("log", 1e-4, 1e-1), "batch_size": [16, 32, 64], "width": ("int", 1, 5)}

_RANDOM_SEARCH = Exercise(
    name="random_search",
    reference=ref.random_search,
    adapter=_search_run,
    visible=(
        Case("6 trials over lr ('log', 1e-4, 1e-1) and width ('int', 2, 4)",
             (_PEAK, _SPACE, 6, Seeded(0))),
        Case("8 trials with a list of choices: batch_size [16, 32, 64]",
             (_PEAK, _SPACE_CHOICES, 8, Seeded(1))),
        Case("every score equal: the trials keep the order they were drawn in",
             (_FLAT, _SPACE_CHOICES, 5, Seeded(2))),
        Case("n_trials = 0: an empty list", (_PEAK, _SPACE, 0, Seeded(3))),
        Case("one trial, width ('int', 2, 2) always 2",
             (_PEAK, {"lr": ("log", 1e-4, 1e-1), "width": ("int", 2, 2)}, 1, Seeded(6))),
    ),
    hidden=(
        Case("20 trials, width ('int', 3, 3) always 3", (_PEAK, {"lr": ("log", 1e-3, 1.0),
                                                                 "width": ("int", 3, 3)},
                                                         20, Seeded(4))),
        Case("one trial", (_PEAK, _SPACE_CHOICES, 1, Seeded(5))),
    ),
    hints=(
        Hint(_search_with(sort="worst"),
             "worst first: the best (the highest score) comes first: sort with reverse=True."),
        Hint(_search_with(sort=None),
             "not sorted: return the trials best first, sorted by score from high to low."),
        Hint(_search_with(draw_log=lambda low, high, rng: float(rng.uniform(low, high))),
             "lr sampled uniformly: a 'log' entry is drawn evenly on a log scale, "
             "float(np.exp(rng.uniform(np.log(low), np.log(high)))), as sample_log_uniform does."),
        Hint(_search_with(int_end=False),
             "('int', low, high) includes high: rng.integers(low, high, endpoint=True)."),
        Hint(_search_with(order="names"),
             "draw trial by trial: for each trial one value per name, in the order of space's "
             "keys (not all trials of one name, then the next name)."),
        Hint(_search_with(reuse=True),
             "one configuration drawn once and tried n_trials times: draw a new one for every "
             "trial."),
        Hint(_search_with(global_rng=True),
             "the global np.random instead of rng: draw every value from the generator you are "
             "given."),
    ),
)


EXERCISES = {
    "standardize": _STANDARDIZE,
    "dropout_forward": _DROPOUT_FORWARD,
    "dropout_backward": _DROPOUT_BACKWARD,
    "regularized_loss_and_grads": _REGULARIZED,
    "EarlyStopping": _EARLY_STOPPING,
    "sample_log_uniform": _SAMPLE_LOG_UNIFORM,
    "random_search": _RANDOM_SEARCH,
}
