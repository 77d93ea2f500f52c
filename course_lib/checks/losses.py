"""The exercises of notebook 03: MSE, softmax cross-entropy from logits, the L2 penalty."""

from __future__ import annotations

import numpy as np

from .. import activations as act
from .. import losses as ref
from ._engine import Case, Exercise, Hint
from ._seeds import drawn_case

__all__ = ["EXERCISES"]


# ---------------------------------------------------------------- MSE

_MSE_HAND = (np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 4.0]))
_MISMATCH = "shapes that differ must raise ValueError"


def _twice(y):
    return y, y.copy()


def _mse_case(label, pred_shape, true_shape=None, raises=None):
    """A case of mse and mse_grad: random predictions and targets of these shapes."""
    return drawn_case("mse", label, lambda rng: (rng.normal(size=pred_shape),
                                                 rng.normal(size=true_shape or pred_shape)),
                      raises=raises)


def _mse_transposed(rng):
    """y_pred and y_true of shape (4, 2), each a transpose: not contiguous in memory."""
    return rng.normal(size=(2, 4)).T, rng.normal(size=(2, 4)).T


_MSE_VISIBLE = (
    Case("three predictions against three targets", _MSE_HAND),
    _mse_case("a batch of 4 samples with 3 outputs each (average over all 12 numbers)", (4, 3)),
    Case("integer predictions and targets",
         (np.array([[3, 0], [1, 2]]), np.array([[1, 0], [2, 2]]))),
    _mse_case(f"y_pred of shape (4,) against y_true of shape (4, 1): {_MISMATCH}",
              (4,), (4, 1), raises=ValueError),
    _mse_case("a 3-D array of shape (2, 2, 3) (average over all 12 numbers)", (2, 2, 3)),
    _mse_case("one column of shape (3, 1) against the same shape (the gradient keeps it)",
              (3, 1)),
    Case("a single number each, shape (1,)", (np.array([-1.5]), np.array([0.5]))),
    drawn_case("mse", "y_pred and y_true of shape (4, 2), each given as a transpose (not "
               "contiguous)", _mse_transposed),
    # as many dimensions, but not the same shape: a check of ndim alone lets it broadcast
    _mse_case(f"y_pred of shape (3,) against y_true of shape (1,): {_MISMATCH} (a check of "
              "ndim alone is not enough)", (3,), (1,), raises=ValueError),
)
_MSE_HIDDEN = (
    _mse_case("a random 3-D array of shape (2, 3, 4)", (2, 3, 4)),
    _mse_case("one column of shape (4, 1) against the same shape", (4, 1)),
    drawn_case("mse", "a perfect prediction (the loss is 0)", lambda rng: _twice(rng.normal(size=(4, 3)))),
    Case("a single number", (np.array([2.5]), np.array([-0.5]))),
    _mse_case(f"y_pred of shape (4, 1) against y_true of shape (4,): {_MISMATCH}",
              (4, 1), (4,), raises=ValueError),
    _mse_case(f"y_pred of shape (4,) against y_true of shape (1,): {_MISMATCH}",
              (4,), (1,), raises=ValueError),
    _mse_case(f"y_pred of shape (4, 3) against y_true of shape (3,): {_MISMATCH}",
              (4, 3), (3,), raises=ValueError),
)

_BROADCAST = ("y_pred and y_true have different shapes and NumPy broadcast them: (N,) against "
              "(N, 1) gives an (N, N) array of every prediction minus every target. Check "
              "`y_pred.shape == y_true.shape` first and `raise ValueError(...)` when they differ.")


def _broadcast_diff(y_pred, y_true):
    return np.asarray(y_pred, dtype=float) - np.asarray(y_true, dtype=float)


def _diff(y_pred, y_true):
    """The difference, for the mistakes other than the missing shape check: those functions
    refuse shapes that differ, so on such a case only the broadcast is named."""
    if np.shape(y_pred) != np.shape(y_true):
        raise ValueError("shapes differ")
    return _broadcast_diff(y_pred, y_true)


def _mse_hints():
    return (
        Hint(lambda y_pred, y_true: np.mean(_broadcast_diff(y_pred, y_true) ** 2), _BROADCAST),
        Hint(lambda y_pred, y_true: np.sum(_diff(y_pred, y_true) ** 2),
             "you summed the squares; MSE is their mean (divide by y_pred.size, or use np.mean)."),
        Hint(lambda y_pred, y_true: np.mean(np.abs(_diff(y_pred, y_true))),
             "that is the mean absolute error: square the differences instead of taking |.|."),
        Hint(lambda y_pred, y_true: np.sqrt(np.mean(_diff(y_pred, y_true) ** 2)),
             "you took the square root (that is the RMSE); MSE is the mean of the squares."),
        Hint(lambda y_pred, y_true: np.sum(_diff(y_pred, y_true) ** 2) / len(y_pred),
             "you divided by the number of rows N; MSE averages over all N * C numbers "
             "(y_pred.size)."),
        Hint(lambda y_pred, y_true: np.mean(_diff(y_pred, y_true) ** 2, axis=0),
             "you averaged along axis 0 only; MSE is one number, the mean over all elements."),
    )


def _mse_grad_hints():
    return (
        Hint(lambda y_pred, y_true: 2.0 * _broadcast_diff(y_pred, y_true) / np.size(y_pred),
             _BROADCAST),
        Hint(lambda y_pred, y_true: _diff(y_pred, y_true) / np.size(y_pred),
             "you forgot the factor 2: the derivative of (y_pred - y_true)**2 is "
             "2 * (y_pred - y_true)."),
        Hint(lambda y_pred, y_true: 2.0 * _diff(y_pred, y_true),
             "you forgot to divide by the number of elements: the loss is a mean, so its "
             "gradient is 2 * (y_pred - y_true) / y_pred.size."),
        Hint(lambda y_pred, y_true: -2.0 * _diff(y_pred, y_true) / np.size(y_pred),
             "a sign error: the gradient with respect to y_pred is 2 * (y_pred - y_true) / size, "
             "not 2 * (y_true - y_pred) / size."),
        Hint(lambda y_pred, y_true: 2.0 * _diff(y_pred, y_true) / len(y_pred),
             "you divided by the number of rows N; divide by the number of elements y_pred.size, "
             "as the loss does."),
        Hint(lambda y_pred, y_true: np.full(np.shape(y_pred), ref.mse(y_pred, y_true)),
             "you returned the loss itself; the gradient is 2 * (y_pred - y_true) / y_pred.size."),
    )


# ---------------------------------------------------------------- cross-entropy

# row 0: softmax(log [1, 2, 5]) = [1, 2, 5] / 8; row 1: equal logits
_CE_HAND = (np.array([np.log([1.0, 2.0, 5.0]), [1.0, 1.0, 1.0]]), np.array([2, 1]))


def _ce_case(label, std, labels, n_classes=None, transposed=False):
    """A case of the three cross-entropy exercises: random logits for these labels;
    ``transposed``: the logits given as a transpose, not contiguous in memory."""
    n, c = len(labels), n_classes or int(max(labels)) + 1

    def draw(rng):
        logits = rng.normal(0.0, std, size=(c, n)).T if transposed else \
            rng.normal(0.0, std, size=(n, c))
        return logits, np.array(labels)
    return drawn_case("cross_entropy", label, draw)


_CE_VISIBLE = (
    Case("a batch of 2 samples and 3 classes, worked out in the text", _CE_HAND),
    _ce_case("a random batch of 4 samples and 3 classes", 2.0, [2, 0, 1, 2]),
    # Each naive formula meets its own likely mistake: huge equal logits break only the
    # exponentials of unshifted logits (and a shift by the whole array's max); logits 1000
    # apart break only the log of a probability, and their last row, all far below 0, gives
    # each naive formula a different answer there (inf, nan, -inf).
    Case("huge equal logits (+1000 and -1000)",
         (np.array([[1000.0, 1000.0, 1000.0], [-1000.0, -1000.0, -1000.0]]), np.array([1, 2]))),
    Case("logits 1000 apart, the true class far below the largest",
         (np.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 500.0], [-1000.0, -2000.0, -1500.0]]),
          np.array([2, 0, 1]))),
    Case("rows on very different scales (around +1000 and around -1000)",
         (np.array([[1000.0, 999.0, 998.0], [-1000.0, -999.0, -998.0]]), np.array([2, 0]))),
    Case("integer logits", (np.array([[2, 0, -1], [0, 3, 1], [1, 1, 1]]), np.array([0, 2, 1]))),
    _ce_case("one sample (N = 1) of 4 classes", 2.0, [1], n_classes=4),
    _ce_case("two classes, 5 samples, the logits given as a transpose (not contiguous)", 2.0,
             [1, 0, 0, 1, 1], transposed=True),
)
_CE_HIDDEN = (
    Case("a confident right answer (the loss is about 0)",
         (np.array([[1000.0, 0.0, 0.0]]), np.array([0]))),
    _ce_case("a random batch of 5 samples and 7 classes", 3.0, [6, 0, 3, 3, 1]),
    _ce_case("two classes, 6 samples", 2.0, [0, 1, 1, 0, 1, 0]),
    drawn_case("cross_entropy", "a batch of one sample",
               lambda rng: (rng.normal(0.0, 2.0, size=(1, 3)), np.array([2]))),
)


def _rows(labels):
    return np.arange(len(labels))


def _onehot(logits, labels):
    out = np.zeros(np.shape(logits))
    out[_rows(labels), labels] = 1.0
    return out


def _naive_softmax(logits):
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def _lse(z):
    m = z.max(axis=1)
    return m + np.log(np.exp(z - m[:, None]).sum(axis=1))


def _ce_per_sample(logits, labels):
    return _lse(logits) - logits[_rows(labels), labels]


_LOG_ZERO = ("you took log(softmax(z)[y]): for logits far apart softmax underflows to exactly 0 "
             "and log(0) = -inf. Compute log(sum_c exp(z_c)) - z_y with log-sum-exp after "
             "subtracting the row max, never the log of a probability.")
_OVERFLOW = ("you exponentiated the logits without subtracting each row's max: exp(1000) "
             "overflows. Use m + log(sum_c exp(z_c - m)) with m the row max.")


def _ce_hints():
    return (
        Hint(lambda logits, labels: -np.mean(np.log(act.softmax(logits)[_rows(labels), labels])),
             _LOG_ZERO),
        Hint(lambda logits, labels: -np.mean(np.log(_naive_softmax(logits)[_rows(labels), labels])),
             _OVERFLOW),
        Hint(lambda logits, labels: np.mean(np.log(np.exp(logits).sum(axis=1))
                                            - logits[_rows(labels), labels]),
             _OVERFLOW),
        Hint(lambda logits, labels: np.mean(
                 np.log(np.exp(logits - logits.max()).sum(axis=1)) + logits.max()
                 - logits[_rows(labels), labels]),
             "you subtracted the max of the whole array; subtract each row's max "
             "(max(axis=1, keepdims=True)), or rows far below the largest logit underflow "
             "to exp = 0 and log(0)."),
        Hint(lambda logits, labels: np.sum(_ce_per_sample(logits, labels)),
             "you summed over the batch; the loss is the mean over the N samples."),
        Hint(lambda logits, labels: np.sum(_ce_per_sample(logits, labels)) / np.size(logits),
             "you divided by N * C (e.g. np.mean over the whole (N, C) array); divide by the "
             "number of samples N only."),
        Hint(lambda logits, labels: -np.mean(_ce_per_sample(logits, labels)),
             "a sign error: the loss is -log softmax(z)[y] = log(sum_c exp(z_c)) - z_y, which "
             "is never negative."),
        Hint(lambda logits, labels: np.mean(
                 np.log(np.exp(logits - logits.max(axis=1, keepdims=True)).sum(axis=1))
                 - logits[_rows(labels), labels]),
             "after subtracting the row max m inside the exponentials, add it back: "
             "log(sum_c exp(z_c)) = m + log(sum_c exp(z_c - m)) (or subtract m from z_y too)."),
    )


def _ce_grad_hints():
    return (
        Hint(lambda logits, labels: act.softmax(logits) - _onehot(logits, labels),
             "you forgot to divide by N: the loss is a mean over the batch, so its gradient is "
             "(softmax(z) - onehot(y)) / N."),
        Hint(lambda logits, labels: (_onehot(logits, labels) - act.softmax(logits)) / len(labels),
             "a sign error: the gradient is (softmax(z) - onehot(y)) / N."),
        Hint(lambda logits, labels: act.softmax(logits) / len(labels),
             "you forgot to subtract the one-hot labels: 1 from the true class of each row."),
        Hint(lambda logits, labels: (act.softmax(logits) - _onehot(logits, labels))
             / np.size(logits),
             "you divided by N * C; divide by the number of samples N only."),
        Hint(lambda logits, labels: (_naive_softmax(logits) - _onehot(logits, labels))
             / len(labels),
             "your softmax overflows: subtract each row's max before exponentiating (or use the "
             "stable softmax imported at the top of the notebook)."),
        Hint(lambda logits, labels: (act.softmax(logits, axis=0) - _onehot(logits, labels))
             / len(labels),
             "you took the softmax along the wrong axis: each row (axis=1) is one sample."),
        Hint(_whole_columns,
             "p[:, labels] -= 1 subtracts 1 from whole columns, every row at every label; "
             "subtract it once per row, at that row's label: p[np.arange(N), labels] -= 1."),
    )


def _whole_columns(logits, labels):
    p = act.softmax(logits)
    p[:, labels] -= 1.0
    return p / len(labels)


def _pair_hints():
    return (
        Hint(lambda logits, labels: (ref.cross_entropy_grad(logits, labels),
                                     ref.cross_entropy(logits, labels)),
             "you returned the two in the wrong order: (loss, dlogits)."),
        Hint(lambda logits, labels: ref.cross_entropy(logits, labels),
             "return a tuple of both: (loss, dlogits)."),
    )


# ---------------------------------------------------------------- L2 penalty


def _net(sizes, rng, keys=None):
    """Parameters W1, b1, W2, b2, ... of a network with layer sizes (D, H, ..., C), in the
    order of ``keys`` (default: that one), leaving out those not in ``keys``."""
    params = {}
    for i, (m_in, m_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        params[f"W{i}"] = rng.normal(size=(m_out, m_in))  # (m_i, m_{i-1})
        params[f"b{i}"] = rng.normal(size=m_out)  # biases away from 0: penalising them shows
    return params if keys is None else {key: params[key] for key in keys}


def _l2_case(label, sizes, lam, keys=None):
    """A case of l2_penalty: a random network of these layer sizes."""
    return drawn_case("l2_penalty", label, lambda rng: (_net(sizes, rng, keys), lam))


_L2_HAND = {"W1": np.array([[1.0, 2.0], [3.0, 4.0]]), "b1": np.array([10.0, 10.0]),
            "W2": np.array([[1.0, -1.0]]), "b2": np.array([10.0])}

_L2_VISIBLE = (
    Case("the 2-layer example of the text, lam = 0.1", (_L2_HAND, 0.1)),
    _l2_case("a random network 5 -> 3 -> 2, lam = 0.01", (5, 3, 2), 0.01),  # D=5, H=3, C=2
    _l2_case("a 3-layer network (W1, W2, W3), lam = 0.5", (4, 6, 5, 3), 0.5),
    _l2_case("a single layer (W1, b1), lam = 1.5", (3, 2), 1.5),
    _l2_case("keys in another order, biases first, lam = 0.3", (5, 3, 2), 0.3,
             keys=("b2", "b1", "W2", "W1")),
    _l2_case("weights only, no biases, 3 layers, lam = 2", (4, 6, 5, 3), 2.0,
             keys=("W1", "W2", "W3")),
    Case("integer weights, lam = 1", ({"W1": np.array([[1, -2], [3, 0]]), "b1": np.array([4, 4])}, 1.0)),
    # sorted as strings the keys run W1, W10, W11, W12, W2, ..., b9: the last is not b12
    _l2_case("twelve layers, W1 .. W12 (as strings, 'W10' sorts before 'W2' and 'b9' comes "
             "last), lam = 0.05", (2,) * 13, 0.05),
)
_L2_HIDDEN = (
    _l2_case("lam = 0 (no penalty)", (5, 3, 2), 0.0),
    # 12 layers: W10, W11, W12 have two digits
    _l2_case("a 12-layer network, lam = 0.2", (3,) * 13, 0.2),
)


def _sq(params, keys):
    return sum(float(np.sum(np.square(params[k]))) for k in keys)


def _weights(params):
    return [k for k in params if ref.is_weight(k)]


def _l2_hints():
    return (
        Hint(lambda params, lam: 0.5 * lam * _sq(params, list(params)),
             "you penalised the biases too; only the weights W1, W2, ... count (keys that start "
             "with W)."),
        Hint(lambda params, lam: lam * _sq(params, _weights(params)),
             "you forgot the 1/2: the penalty is lam / 2 * sum of squared weights, so that its "
             "gradient is lam * W."),
        Hint(lambda params, lam: 0.5 * _sq(params, _weights(params)),
             "you forgot to multiply by lam."),
        Hint(lambda params, lam: 0.5 * lam * sum(float(np.linalg.norm(params[k]))
                                                for k in _weights(params)),
             "you summed the norms ||W||; the penalty uses the squared norms, sum(W**2)."),
        Hint(lambda params, lam: 0.5 * lam * sum(float(np.mean(np.square(params[k])))
                                                for k in _weights(params)),
             "you averaged the squares of each matrix; sum them (np.sum(W**2))."),
        Hint(lambda params, lam: 0.5 * lam * _sq(params, ["W1", "W2"]),
             "you penalised W1 and W2 only; loop over every key of params that is a weight, "
             "however many layers there are."),
        Hint(lambda params, lam: 0.5 * lam * sum(float(np.sum(params[k])) ** 2
                                                for k in _weights(params)),
             "you squared the sum of each matrix, (sum W)**2; sum the squares, np.sum(W**2)."),
        Hint(lambda params, lam: 0.5 * lam * _sq(params, [f"W{i}" for i in
                                                          range(1, len(params) // 2 + 1)]),
             "you counted the layers as len(params) // 2, as if every layer had a bias; "
             "loop over the keys instead and keep those that start with W."),
        Hint(lambda params, lam: 0.5 * lam * sum(float(np.sum(np.square(v)))
                                                for v in list(params.values())[::2]),
             "you took every other value of params, as if the keys always came in the order "
             "W1, b1, W2, b2, ...; pick the weights by their keys (key.startswith('W'))."),
        Hint(lambda params, lam: 0.5 * lam * _sq(params, [f"W{i}" for i in range(
                 1, int(sorted(params)[-1][1:]) + 1)]),
             "you counted the layers from the last key in sorted order; keys sort as strings, "
             "letter by letter, so past nine layers the last one is 'b9' (and 'W10' comes "
             "before 'W2'). Loop over the keys instead and keep those that start with W."),
    )


# ---------------------------------------------------------------- the exercises

EXERCISES = {
    "mse": Exercise(
        name="mse", reference=ref.mse, visible=_MSE_VISIBLE, hidden=_MSE_HIDDEN,
        hints=_mse_hints(),
    ),
    "mse_grad": Exercise(
        name="mse_grad", reference=ref.mse_grad, visible=_MSE_VISIBLE, hidden=_MSE_HIDDEN,
        hints=_mse_grad_hints(),
    ),
    "cross_entropy": Exercise(
        name="cross_entropy", reference=ref.cross_entropy, visible=_CE_VISIBLE, hidden=_CE_HIDDEN,
        hints=_ce_hints(),
    ),
    "cross_entropy_grad": Exercise(
        name="cross_entropy_grad", reference=ref.cross_entropy_grad, visible=_CE_VISIBLE,
        hidden=_CE_HIDDEN, hints=_ce_grad_hints(),
    ),
    "cross_entropy_and_grad": Exercise(
        name="cross_entropy_and_grad", reference=ref.cross_entropy_and_grad,
        visible=_CE_VISIBLE, hidden=_CE_HIDDEN, hints=_pair_hints(),
        outputs=("loss", "dlogits"),
        # the simplest answer calls the two exercises above: a broken one costs its own points only
        depends={"cross_entropy": ref.cross_entropy, "cross_entropy_grad": ref.cross_entropy_grad},
    ),
    "l2_penalty": Exercise(
        name="l2_penalty", reference=ref.l2_penalty, visible=_L2_VISIBLE, hidden=_L2_HIDDEN,
        hints=_l2_hints(),
    ),
}
