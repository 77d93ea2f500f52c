"""The exercises of notebook 01: the activation functions and their derivatives.

Everything the text teaches is in the visible cases, so that a pass in the test cell is a pass
of what the grader checks: +-1000 (the stable formulas), integer inputs, 3-D and empty arrays,
ELU's alpha and its value at 0, softmax's axis and keepdims, one sample. The hidden cases add
only other sizes; the grader adds fresh random numbers for the visible ones.
"""

from __future__ import annotations

import numpy as np

from .. import activations as ref
from ._engine import Case, Exercise, Hint
from ._seeds import case_rng

__all__ = ["EXERCISES"]

_MIXED = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
# the edges of float64's exp (e^710 overflows, e^-750 underflows to 0), and +-1 among them, where
# the right answer differs from the wrong formulas whose limits at +-infinity are right
_EXTREME = np.array([-1000.0, -750.0, -710.0, -40.0, -1.0, 0.0, 1.0, 40.0, 710.0, 750.0, 1000.0])
_EMPTY = np.zeros((0,))
# integers: an output made with np.empty_like(x) or x.copy() would be integer too, and
# assigning sigmoid's values into it truncates them to 0
_INTEGERS = np.array([[-3, -1, 0], [1, 2, 5]])
# row 0 overflows a naive exp, row 1 underflows it to 0 / 0, row 2 is ordinary: the
# mistakes that break on huge scores each give a different answer here
_HUGE = np.array([[1000.0, 1000.0, 1000.0], [-1000.0, -1000.0, -999.0], [1.0, 2.0, 3.0]])

_STABLE = "Compute e = np.exp(-np.abs(x)), which lies in (0, 1], and build both branches from it."
_WHERE = ("np.where computes both branches for every element before it chooses, so an exp that "
          "overflows in the branch you do not use still overflows.")


def _random_case(name, label, std, shape, kwargs=None):
    """A case of exercise ``name`` whose input is drawn from N(0, std^2), from its own seed."""
    return Case(label, (case_rng(name, label).normal(0.0, std, size=shape),), kwargs or {})


def _elementwise(name, hints=(), *, integers=True, extreme_kwargs=None, extra_visible=(),
                 extra_hidden=()):
    """An elementwise exercise. Every one sees +-1000 (the stable formulas; ReLU's too, so
    that no kind of input appears first in the hidden cases), a 3-D array (a loop over rows
    and columns only handles 2-D) and an empty one (np.vectorize refuses size 0) in its
    visible cases; ``integers``: an integer x must give float64."""
    extreme = Case("extreme inputs from -1000 to 1000"
                   + "".join(f", {k} = {v:g}" for k, v in (extreme_kwargs or {}).items()),
                   (_EXTREME,), extreme_kwargs or {})
    return Exercise(
        name=name,
        reference=getattr(ref, name),
        visible=(
            Case("a mix of negative, zero and positive values", (_MIXED,)),
            _random_case(name, "a 2-D batch of shape (3, 4)", 3.0, (3, 4)),
            extreme,
            *((Case("integer inputs", (_INTEGERS,)),) if integers else ()),
            *extra_visible,
            _random_case(name, "a 3-D array of shape (2, 2, 3)", 3.0, (2, 2, 3)),
            Case("an empty batch of shape (0, 4)", (np.zeros((0, 4)),)),
        ),
        hidden=(
            _random_case(name, "a random 3-D array of shape (2, 3, 4)", 5.0, (2, 3, 4)),
            Case("an empty array", (_EMPTY,)),
            *extra_hidden,
        ),
        hints=tuple(Hint(w, m) for w, m in hints),
    )


def _naive_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _ratio_sigmoid(x):
    return np.exp(x) / (1.0 + np.exp(x))


def _textbook_tanh(x):
    return (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))


def _naive_elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * (np.exp(x) - 1.0))


_SOFTMAX_NO_MAX = ("you exponentiated the scores without subtracting the max: exp(1000) "
                   "overflows to inf, and inf / inf is nan. Subtract "
                   "z.max(axis=axis, keepdims=True) first: softmax does not change.")
_SOFTMAX_WHOLE_SUM = ("you divided by the sum over the whole array (e.sum()); sum along `axis` "
                      "with keepdims=True so each row (or column) sums to 1.")
_SOFTMAX_KEEPDIMS = ("without keepdims=True, the max or the sum along `axis` loses that axis, "
                     "and NumPy broadcasts it against the wrong one: here column j is shifted "
                     "or divided by row j's max or sum (for scores of shape (3, 4) it raises "
                     "'operands could not be broadcast'). Use keepdims=True in both max and sum.")


def _shifted(z, axis=-1):
    return np.exp(z - z.max(axis=axis, keepdims=True))


def _softmax_hints():
    return (
        Hint(lambda z, axis=-1: np.exp(z) / np.exp(z).sum(), _SOFTMAX_WHOLE_SUM),
        Hint(lambda z, axis=-1: _shifted(z, axis) / _shifted(z, axis).sum(), _SOFTMAX_WHOLE_SUM),
        Hint(lambda z, axis=-1: ref.softmax(z, axis=0),
             "you normalised along axis 0 (each column) whatever `axis` says; use the `axis` "
             "argument (default -1: each row) in both max and sum."),
        Hint(lambda z, axis=-1: ref.softmax(z, axis=-1),
             "you ignored the `axis` argument: normalise along `axis`, not always the last one."),
        Hint(lambda z, axis=-1: np.exp(z), "you forgot to divide by the sum of the exponentials."),
        Hint(lambda z, axis=-1: _shifted(z, axis) / _shifted(z, axis).sum(axis=axis),
             _SOFTMAX_KEEPDIMS),
        Hint(lambda z, axis=-1: np.exp(z - z.max(axis=axis))
             / np.exp(z - z.max(axis=axis)).sum(axis=axis), _SOFTMAX_KEEPDIMS),
        Hint(lambda z, axis=-1: np.exp(z - z.max(axis=axis))
             / np.exp(z - z.max(axis=axis)).sum(axis=axis, keepdims=True), _SOFTMAX_KEEPDIMS),
        Hint(lambda z, axis=-1: np.exp(z) / np.exp(z).sum(axis=axis, keepdims=True),
             _SOFTMAX_NO_MAX),
        Hint(lambda z, axis=-1: np.exp(z - z.max()) / np.exp(z - z.max()).sum(axis=axis, keepdims=True),
             "you subtracted the max of the whole array; subtract the max along `axis` "
             "(z.max(axis=axis, keepdims=True)): a row whose scores are all far below the "
             "largest one underflows to exp = 0, and 0 / 0 is nan."),
    )


EXERCISES = {
    # ReLU has no formula that +-1000 breaks, but its hidden cases have them, so the visible
    # ones do too. np.maximum(x, 0) keeps an integer x's values exact: no mistake to catch
    # there, so no integers (the hidden cases have none either)
    "relu": _elementwise("relu", integers=False, hints=[
        (lambda x: x, "you returned x unchanged: negative inputs must become 0, as in np.maximum(x, 0)."),
        (np.abs, "you returned |x|: ReLU sets negative inputs to 0, it does not flip their sign."),
        (lambda x: np.minimum(x, 0.0), "you took the minimum; ReLU is max(0, x)."),
    ]),
    "relu_grad": _elementwise("relu_grad", integers=False, hints=[
        (ref.relu, "you returned relu(x) itself; the derivative is 1 where x > 0 and 0 elsewhere."),
        (lambda x: (x >= 0).astype(float), "at x = 0 the course uses 0 (as frameworks do): test x > 0, not x >= 0."),
    ]),
    "sigmoid": _elementwise("sigmoid", hints=[
        (lambda x: 1.0 / (1.0 + np.exp(x)), "a sign error: sigma(x) = 1 / (1 + exp(-x))."),
        (ref.tanh, "that is tanh; the sigmoid maps to (0, 1)."),
        (_naive_sigmoid, "the naive formula: exp(-x) in 1 / (1 + exp(-x)) overflows for x below "
                         f"about -709. {_WHERE} {_STABLE}"),
        (_ratio_sigmoid, "exp(x) / (1 + exp(x)) overflows for x above about 709 and gives "
                         f"inf / inf = nan. {_STABLE}"),
    ]),
    "sigmoid_grad": _elementwise("sigmoid_grad", hints=[
        (ref.sigmoid, "you returned sigmoid(x) itself, not its derivative sigma(x)(1 - sigma(x))."),
        (lambda x: x * (1.0 - x), "you applied s(1 - s) to x; s must be sigmoid(x)."),
        (lambda x: _naive_sigmoid(x) * (1.0 - _naive_sigmoid(-x)), "mixed up sigma(x) and sigma(-x)."),
        (lambda x: _naive_sigmoid(x) * (1.0 - _naive_sigmoid(x)),
         "sigma(x) from the naive 1 / (1 + exp(-x)) overflows for x below about -709. "
         f"{_STABLE} Then sigma'(x) = e / (1 + e)**2."),
    ]),
    "tanh": _elementwise("tanh", hints=[
        (ref.sigmoid, "that is the sigmoid; tanh(x) = 2 sigma(2x) - 1 maps to (-1, 1)."),
        (lambda x: 2.0 * ref.sigmoid(x) - 1.0, "tanh(x) = 2 sigma(2x) - 1: the argument of sigma is 2x."),
        (_textbook_tanh, "the textbook formula (e^x - e^-x) / (e^x + e^-x) overflows for |x| above "
                         "about 709 and gives inf / inf = nan. With e = np.exp(-2 * np.abs(x)) in "
                         "(0, 1], tanh(x) = np.sign(x) * (1 - e) / (1 + e)."),
        (lambda x: 2.0 / (1.0 + np.exp(-2.0 * x)) - 1.0,
         "your numbers are right, but an exp overflows on the way (exp(-2x) for x below "
         f"about -354). {_WHERE} Exponentiate only -2|x|: e = np.exp(-2 * np.abs(x)), "
         "tanh(x) = np.sign(x) * (1 - e) / (1 + e)."),
    ]),
    "tanh_grad": _elementwise("tanh_grad", hints=[
        (lambda x: 1.0 - x**2, "you computed 1 - x**2; the derivative is 1 - tanh(x)**2."),
        (lambda x: 1.0 - np.tanh(x), "you forgot the square: 1 - tanh(x)**2."),
        (np.tanh, "you returned tanh(x) itself, not its derivative."),
        (lambda x: 1.0 - _textbook_tanh(x) ** 2,
         "tanh from the textbook formula (e^x - e^-x) / (e^x + e^-x) overflows for |x| above "
         "about 709 (inf / inf = nan): use np.tanh, which is stable, in 1 - np.tanh(x)**2."),
    ]),
    "softplus": _elementwise("softplus", hints=[
        (ref.sigmoid, "you returned the sigmoid, which is softplus' derivative."),
        (lambda x: np.log1p(x), "softplus is log(1 + exp(x)), not log(1 + x)."),
        (ref.relu, "that is ReLU, which softplus only approaches for large |x|."),
        (lambda x: np.log(1.0 + np.exp(x)),
         "the naive formula: exp(x) in log(1 + exp(x)) overflows for x above about 709 "
         "(np.log1p(np.exp(x)) too). Take max(x, 0) out of the log: "
         "np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))."),
        (lambda x: np.where(x > 0, x + np.log1p(np.exp(-x)), np.log1p(np.exp(x))),
         f"your numbers are right, but an exp overflows on the way. {_WHERE} Use "
         "np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))), where no exponent is positive."),
    ]),
    "softplus_grad": _elementwise("softplus_grad", hints=[
        (ref.softplus, "you returned softplus itself; its derivative is the sigmoid."),
        (lambda x: 1.0 / (1.0 + np.exp(x)), "a sign error: the derivative is sigma(x) = 1 / (1 + exp(-x))."),
        (_naive_sigmoid, "the derivative is the sigmoid, but the naive 1 / (1 + exp(-x)) overflows "
                         f"for x below about -709. {_WHERE} Write the stable sigmoid again: "
                         f"{_STABLE}"),
        (_ratio_sigmoid, "exp(x) / (1 + exp(x)) overflows for x above about 709 and gives "
                         f"inf / inf = nan. Write the stable sigmoid again: {_STABLE}"),
    ]),
    "elu": _elementwise(
        "elu",
        hints=[
            (lambda x, alpha=1.0: ref.elu(x), "you ignored alpha: the negative side is alpha * (exp(x) - 1)."),
            (lambda x, alpha=1.0: np.where(x > 0, x, alpha * np.exp(np.minimum(x, 0))),
             "the negative side is alpha * (exp(x) - 1): you forgot the -1, so ELU jumps at 0."),
            (lambda x, alpha=1.0: np.where(x > 0, x, alpha * np.exp(np.minimum(x, 0)) - 1.0),
             "the -1 belongs inside the brackets: alpha * (exp(x) - 1), not alpha * exp(x) - 1."),
            (_naive_elu, f"your numbers are right, but exp(x) overflows at x = 1000. {_WHERE} "
                         "Exponentiate np.minimum(x, 0) instead of x."),
        ],
        # alpha = 2 at +-1000: with alpha = 1 the right numbers from an overflowing formula
        # could as well be the numbers of a formula that ignores alpha
        extreme_kwargs={"alpha": 2.0},
        extra_visible=(Case("alpha = 0.5", (_MIXED,), {"alpha": 0.5}),),
    ),
    "elu_grad": _elementwise(
        "elu_grad",
        hints=[
            (lambda x, alpha=1.0: ref.elu_grad(x), "you ignored alpha: the derivative is alpha * exp(x) for x <= 0."),
            (lambda x, alpha=1.0: ref.elu(x, alpha), "you returned elu(x) itself, not its derivative."),
            (lambda x, alpha=1.0: np.where(x >= 0, 1.0, alpha * np.exp(np.minimum(x, 0))),
             "at x = 0 the course uses the left piece, alpha * exp(0) = alpha: test x > 0 for "
             "the right piece, not x >= 0."),
            (lambda x, alpha=1.0: np.where(x > 0, 1.0, alpha * np.exp(x)),
             f"your numbers are right, but exp(x) overflows at x = 1000. {_WHERE} "
             "Exponentiate np.minimum(x, 0) instead of x."),
        ],
        extreme_kwargs={"alpha": 2.0},
        # x = 0 included: with alpha != 1 the two pieces differ there (alpha against 1)
        extra_visible=(Case("alpha = 0.5", (_MIXED,), {"alpha": 0.5}),),
    ),
    "softmax": Exercise(
        name="softmax",
        reference=ref.softmax,
        visible=(
            Case("one vector of 4 scores", (np.array([1.0, 2.0, 3.0, 0.5]),)),
            # N = C: a sum without keepdims broadcasts silently
            _random_case("softmax", "a batch of 3 rows with 3 classes each (normalise each row)",
                         2.0, (3, 3)),
            _random_case("softmax", "a batch of 3 rows with 4 classes each (normalise each row)",
                         3.0, (3, 4)),
            Case("huge scores: rows [1000, 1000, 1000], [-1000, -1000, -999] and [1, 2, 3]",
                 (_HUGE,)),
            _random_case("softmax", "axis=0: normalise each column", 3.0, (3, 4), {"axis": 0}),
            Case("integer scores", (_INTEGERS,)),
            # axis=1 of three: neither the first nor the last, so "axis=0 or else the last
            # one" (or transposing for axis=0) is not enough
            _random_case("softmax", "a 3-D array of shape (2, 3, 2) along axis=1 (neither the "
                         "first axis nor the last)", 3.0, (2, 3, 2), {"axis": 1}),
            _random_case("softmax", "a batch of one sample, shape (1, 3)", 3.0, (1, 3)),
        ),
        hidden=(
            Case("huge equal scores [1000, 1000, 1000]", (np.array([1000.0, 1000.0, 1000.0]),)),
            Case("scores 2000 apart", (np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -999.0]]),)),
            _random_case("softmax", "a 3-D array along axis=1", 5.0, (2, 3, 4), {"axis": 1}),
            _random_case("softmax", "a batch of one sample", 3.0, (1, 4)),
        ),
        hints=_softmax_hints(),
    ),
}
