"""The exercises of notebook 05: gradient descent, minibatches, GD, Momentum and Adam.

``gradient_descent`` and ``iterate_minibatches`` are functions; the optimizers are
classes, so their exercises have an adapter that builds the student's class with
the case's hyperparameters, runs a few steps on fixed parameters and gradients,
and returns a copy of every parameter after every step. The caller's arrays are
the ones compared, so a ``step`` that builds new arrays instead of updating in
place is caught, and so is a ``step`` that writes into the gradients.
"""

from __future__ import annotations

import math

import numpy as np

from .. import optim as ref
from .. import train
from ..losses import is_weight
from ._engine import Case, Exercise, Hint, Seeded
from ._seeds import case_rng, drawn_case

__all__ = ["EXERCISES"]


# ---------------------------------------------------------------- gradient_descent


class _QuadraticGrad:
    r"""The gradient :math:`a \odot (x - c)` of :math:`f(x) = \frac12 \sum a (x - c)^2`, readable in messages.

    ``a`` (the curvatures, > 0) and ``c`` (the minimiser) have the shape of x.
    """

    def __init__(self, a, c, text):
        self.a, self.c, self.text = np.asarray(a, float), np.asarray(c, float), text

    def __call__(self, x):
        return self.a * (x - self.c)

    def __repr__(self):
        return self.text


_SQUARE = _QuadraticGrad([2.0], [3.0], "grad of f(x) = (x - 3)^2, i.e. 2 (x - 3)")
_VALLEY = _QuadraticGrad([1.0, 10.0], [0.0, 0.0],
                         "grad of f(x) = (x1^2 + 10 x2^2) / 2, i.e. [x1, 10 x2]")
_TILTED = _QuadraticGrad([2.0, 0.5], [1.0, -1.0],
                         "grad of f(x) = (2 (x1 - 1)^2 + 0.5 (x2 + 1)^2) / 2")
# every curvature 1 and x0 - c = [1, 1, 1, 1]: the gradient keeps 4 equal entries, so its
# norm is 2 max|g| and sum|g| / 2, and each of these stopping rules stops at its own step
_ROUND4 = _QuadraticGrad(np.ones(4), [1.0, -2.0, 0.5, 3.0],
                         "grad of f(x) = |x - c|^2 / 2 with c = [1, -2, 0.5, 3], i.e. x - c")


def _bowl23(rng):
    """A bowl over x of shape (2, 3), and a start x0: the args of gradient_descent but lr."""
    a = rng.uniform(0.9, 1.1, size=(2, 3))  # similar curvatures: every entry counts
    bowl = _QuadraticGrad(a, rng.normal(size=(2, 3)),
                          "grad of f(x) = sum(a * (x - c)^2) / 2 for x of shape (2, 3)")
    return bowl, rng.normal(size=(2, 3))


def _gd_plain(grad, x0, lr, eps=1e-6, max_steps=10_000, *, stop=np.linalg.norm, sign=1.0,
              check_after=False):
    """gradient_descent with a configurable mistake (the hints below)."""
    x = np.array(x0, dtype=np.float64)
    if check_after:
        for step in range(1, max_steps + 1):
            x = x - sign * lr * grad(x)
            if stop(grad(x)) < eps:
                return x, step
        return x, max_steps
    for step in range(max_steps):
        g = grad(x)
        if stop(g) < eps:
            return x, step
        x = x - sign * lr * g
    return x, max_steps


def _gd_one_too_many(grad, x0, lr, eps=1e-6, max_steps=10_000):
    x, n = ref.gradient_descent(grad, x0, lr, eps, max_steps)
    return x, n + 1


def _gd_swapped(grad, x0, lr, eps=1e-6, max_steps=10_000):
    x, n = ref.gradient_descent(grad, x0, lr, eps, max_steps)
    return n, x


_GRADIENT_DESCENT = Exercise(
    name="gradient_descent",
    reference=ref.gradient_descent,
    outputs=("x", "n_steps"),
    # every rule of the text is seen here: stop before the update, the norm over every
    # entry, max_steps, a list for x0; the hidden cases only add other numbers and sizes
    visible=(
        Case("f(x) = (x - 3)^2 from x0 = [0] with lr = 0.1", (_SQUARE, np.array([0.0]), 0.1)),
        Case("an ill-conditioned 2-D bowl (curvatures 1 and 10) with lr = 0.15",
             (_VALLEY, np.array([2.0, 1.0]), 0.15)),
        Case("x0 = [3.0001] already satisfies the rule (|grad| = 2e-4 < eps = 1e-3): "
             "no update, n_steps = 0", (_SQUARE, np.array([3.0001]), 0.1), {"eps": 1e-3}),
        Case("a 4-D bowl whose gradient has 4 equal entries (its norm is 2 max|g|)",
             (_ROUND4, np.array([2.0, -1.0, 1.5, 4.0]), 0.2)),
        Case("lr too large (1 - 0.25 * 10 = -1.5: it diverges), stopped by max_steps = 25",
             (_VALLEY, np.array([2.0, 1.0]), 0.25), {"max_steps": 25}),
        Case("max_steps = 0: no update at all", (_SQUARE, np.array([0.0]), 0.1),
             {"max_steps": 0}),
        Case("x0 given as a Python list of ints", (_TILTED, [4, -3], 0.5)),
        # a matrix x: np.linalg.norm(g, 2) is then its largest singular value, not the
        # square root of the sum of every squared entry that it is for a vector
        drawn_case("gradient_descent", "x0 of shape (2, 3), lr = 0.3, eps = 1e-2: the norm is "
                   "over every entry (np.linalg.norm(g), not the matrix 2-norm np.linalg."
                   "norm(g, 2))", lambda rng: (*_bowl23(rng), 0.3), {"eps": 1e-2}),
        Case("x0 as an integer NumPy array", (_VALLEY, np.array([3, -1]), 0.1)),
    ),
    hidden=(
        Case("x0 exactly at the minimum: no update, n_steps = 0",
             (_TILTED, np.array([1.0, -1.0]), 0.5)),
        drawn_case("gradient_descent", "x0 of shape (2, 3), eps = 1e-3: the norm is over every "
                   "entry", lambda rng: (*_bowl23(rng), 0.3), {"eps": 1e-3}),
        Case("x0 as an integer array", (_TILTED, np.array([-2, 5]), 0.25)),
    ),
    hints=(
        Hint(_gd_swapped, "return the pair in the order (x, n_steps)."),
        Hint(lambda grad, x0, lr, eps=1e-6, max_steps=10_000: _gd_plain(
            grad, x0, lr, eps, max_steps, sign=-1.0),
            "you stepped uphill: the update is x - lr * grad(x), with a minus."),
        Hint(lambda grad, x0, lr, eps=1e-6, max_steps=10_000: _gd_plain(
            grad, x0, lr, eps, max_steps, check_after=True),
            "test the rule BEFORE each update: when x0 already satisfies it, return x0 "
            "unchanged with n_steps = 0."),
        Hint(_gd_one_too_many, "n_steps counts the updates made: one too many. When the rule "
             "holds at the start of step k (counting from 0), k updates have been made."),
        Hint(lambda grad, x0, lr, eps=1e-6, max_steps=10_000: _gd_plain(
            grad, x0, lr, eps, max_steps, stop=lambda g: np.sum(g**2)),
            "you compared the squared norm with eps; the rule is the Euclidean norm, "
            "np.linalg.norm(g) = sqrt(sum of g**2) < eps."),
        Hint(lambda grad, x0, lr, eps=1e-6, max_steps=10_000: _gd_plain(
            grad, x0, lr, eps, max_steps, stop=lambda g: np.max(np.abs(g))),
            "you stopped on the largest entry of the gradient; the rule uses the Euclidean "
            "norm of the whole gradient, np.linalg.norm(g)."),
        Hint(lambda grad, x0, lr, eps=1e-6, max_steps=10_000: _gd_plain(
            grad, x0, lr, eps, max_steps, stop=lambda g: np.sum(np.abs(g))),
            "you stopped on the sum of |g|; the rule uses the Euclidean norm np.linalg.norm(g)."),
        Hint(lambda grad, x0, lr, eps=1e-6, max_steps=10_000: _gd_plain(
            grad, x0, lr, eps, max_steps, stop=lambda g: np.linalg.norm(g, 2)),
            "np.linalg.norm(g, 2) of a matrix is its largest singular value (the spectral "
            "norm), which is the Euclidean norm only for a vector: the rule takes every entry, "
            "np.linalg.norm(g) = sqrt(sum of g**2), whatever the shape of x."),
    ),
)


# ---------------------------------------------------------------- iterate_minibatches


def _two_epochs(fn):
    """iterate_minibatches -> a function returning two epochs' batches, drawn from one rng.

    Per epoch: the batch sizes, then every X batch and every y batch stacked in the
    order they came, so a difference is reported as "epoch 1: batch sizes" or as the
    first sample that differs.
    """

    def two_epochs(X, y, batch_size, rng):
        # NumPy's global generator gets a fixed seed for the run (and its state back after):
        # a student drawing from np.random instead of rng draws the same numbers as the
        # hint that names that mistake, so it can be named
        saved = np.random.get_state()
        np.random.seed(_GLOBAL_SEED)
        try:
            return _run_two_epochs(fn, X, y, batch_size, rng)
        finally:
            np.random.set_state(saved)

    two_epochs.__name__ = getattr(fn, "__name__", "iterate_minibatches")
    return two_epochs


def _run_two_epochs(fn, X, y, batch_size, rng):
    """Two calls of ``fn`` (two epochs) on one rng: what ``_two_epochs`` compares."""
    rng = np.random.default_rng(rng.seed) if isinstance(rng, Seeded) else rng
    out = {}
    for epoch in (1, 2):
        sizes, xs, ys = [], [], []
        for item in fn(X, y, batch_size, rng):
            try:
                X_batch, y_batch = item
            except (TypeError, ValueError):
                raise TypeError(
                    "each batch must be a pair (X_batch, y_batch): yield X[idx], y[idx]"
                ) from None
            X_batch, y_batch = np.asarray(X_batch), np.asarray(y_batch)
            if len(X_batch) != len(y_batch):
                raise ValueError(f"a batch had {len(X_batch)} rows of X but {len(y_batch)} "
                                 "of y: index both with the same indices")
            sizes.append(len(X_batch))
            xs.append(X_batch)
            ys.append(y_batch)
        out[f"epoch {epoch}: batch sizes"] = np.array(sizes, dtype=np.int64)
        out[f"epoch {epoch}: X batches stacked"] = (
            np.concatenate(xs) if xs else np.zeros((0,) + np.shape(X)[1:]))
        out[f"epoch {epoch}: y batches stacked"] = (
            np.concatenate(ys) if ys else np.zeros((0,) + np.shape(y)[1:], np.int64))
    return out


_GLOBAL_SEED = 2024  # NumPy's global generator, while a case of iterate_minibatches runs


def _mb_global_generator(X, y, batch_size, rng):
    order = np.random.permutation(len(X))
    for start in range(0, len(X), batch_size):
        batch = order[start:start + batch_size]
        yield X[batch], y[batch]


def _mb_in_order(X, y, batch_size, rng):
    for start in range(0, len(X), batch_size):
        yield X[start:start + batch_size], y[start:start + batch_size]


def _mb_two_permutations(X, y, batch_size, rng):
    rng = np.random.default_rng(rng)
    ix, iy = rng.permutation(len(X)), rng.permutation(len(X))
    for start in range(0, len(X), batch_size):
        yield X[ix[start:start + batch_size]], y[iy[start:start + batch_size]]


def _mb_drop_last(X, y, batch_size, rng):
    order = np.random.default_rng(rng).permutation(len(X))
    for start in range(0, len(X) - batch_size + 1, batch_size):
        batch = order[start:start + batch_size]
        yield X[batch], y[batch]


def _mb_with_replacement(X, y, batch_size, rng):
    order = np.random.default_rng(rng).integers(0, len(X), size=len(X))
    for start in range(0, len(X), batch_size):
        batch = order[start:start + batch_size]
        yield X[batch], y[batch]


def _mb_choice(X, y, batch_size, rng):
    order = np.random.default_rng(rng).choice(len(X), size=len(X), replace=False)
    for start in range(0, len(X), batch_size):
        batch = order[start:start + batch_size]
        yield X[batch], y[batch]


def _mb_one_permutation_per_batch(X, y, batch_size, rng):
    rng = np.random.default_rng(rng)
    for _ in range(math.ceil(len(X) / batch_size)):
        batch = rng.permutation(len(X))[:batch_size]
        yield X[batch], y[batch]


def _mb_case(label, x_shape, n_classes, batch_size, rng):
    """A case of iterate_minibatches: random X, and labels y below n_classes (None: the
    labels 0, 1, ..., N - 1, one per sample)."""
    def draw(case_rng):
        X = case_rng.normal(size=x_shape)
        n = x_shape[0]
        y = np.arange(n) if n_classes is None else case_rng.integers(0, n_classes, size=n)
        return X, y, batch_size, rng
    return drawn_case("iterate_minibatches", label, draw)


_X10 = np.arange(30.0).reshape(10, 3)  # sample i is [3i, 3i + 1, 3i + 2]: easy to follow
_Y10 = np.arange(10)

_ITERATE_MINIBATCHES = Exercise(
    name="iterate_minibatches",
    reference=train.iterate_minibatches,
    adapter=_two_epochs,
    visible=(
        Case("N = 10 samples, batch_size = 4 (batches of 4, 4 and 2), two calls (two epochs)",
             (_X10, _Y10, 4, Seeded(0))),
        # an int seed: each call makes np.random.default_rng(7) afresh, so both epochs agree
        Case("rng given as the int seed 7, X a transposed (non-contiguous) array of shape (6, 4)",
             (np.arange(24.0).reshape(4, 6).T, np.arange(6), 4, 7)),
        _mb_case("batch_size = 6 larger than N = 4: one batch of everything", (4, 3), None, 6,
                 Seeded(5)),
        _mb_case("batch_size = 1: one sample per batch (stochastic gradient descent), N = 3",
                 (3, 2), None, 1, Seeded(6)),
        _mb_case("X of shape (5, 2, 2) (little images), y of shape (5,), batch_size = 2",
                 (5, 2, 2), 3, 2, Seeded(7)),
        _mb_case("batch_size = 2 dividing N = 6 exactly: three batches, no empty one after them",
                 (6, 2), None, 2, Seeded(8)),
    ),
    hidden=(
        _mb_case("batch_size = 3 dividing N = 12 exactly, two epochs", (12, 5), 3, 3, Seeded(1)),
        _mb_case("batch_size = 8 larger than N = 5: one batch of everything", (5, 2), 4, 8,
                 Seeded(2)),
        _mb_case("batch_size = 1 (stochastic gradient descent)", (4, 3), None, 1, Seeded(3)),
        _mb_case("X of shape (7, 2, 3) (little images) and y of shape (7,)", (7, 2, 3), 2, 2,
                 Seeded(4)),
        _mb_case("rng given as an int seed (np.random.default_rng(rng) accepts both)", (6, 4),
                 None, 4, 7),
    ),
    hints=(
        Hint(_mb_global_generator, "you drew from NumPy's global generator (np.random."
             "permutation), not from rng: the caller's rng must decide the order, so that the "
             "same seed gives the same batches. Draw order = rng.permutation(len(X)) after "
             "rng = np.random.default_rng(rng)."),
        Hint(_mb_in_order, "you did not shuffle: draw order = rng.permutation(len(X)) and "
             "index both X and y with slices of it."),
        Hint(_mb_two_permutations, "X and y were shuffled with two different permutations, so "
             "samples lost their labels: draw ONE permutation and index both with it."),
        Hint(_mb_drop_last, "you dropped the last, smaller batch: every sample appears once per "
             "call, and the last batch has what is left."),
        Hint(_mb_with_replacement, "you sampled with replacement (rng.integers): some samples "
             "come twice, others never. Use rng.permutation(len(X))."),
        Hint(_mb_choice, "use rng.permutation(len(X)), once per call: the checks compare your "
             "draws with the reference's, draw for draw, and rng.choice draws other numbers."),
        Hint(_mb_one_permutation_per_batch, "you drew a new permutation for every batch, so "
             "samples repeat within an epoch: draw one permutation per call and slice it."),
    ),
)


# ---------------------------------------------------------------- the optimizer classes


class _Run:
    """The inputs of one optimizer case: starting parameters and one gradient dict per step.

    A plain object rather than a dict, so that messages name it in one short line.
    """

    def __init__(self, params, grad_steps):
        self.params, self.grad_steps = params, grad_steps

    def __repr__(self):
        shapes = ", ".join(f"{k}: {v.shape}" for k, v in self.params.items())
        return f"params {{{shapes}}}, {len(self.grad_steps)} steps of gradients"


def _run_steps(cls):
    """An optimizer class -> a function running it: (run, **hyper) -> params after each step.

    The parameters are copied first (the case's own arrays must stay as they
    are), and the copies are what is read after every step: a ``step`` that
    rebinds ``params[key]`` to a new array, instead of updating the array in
    place, leaves them unchanged, as it would leave a network's weights. A step
    that writes into the gradients is stopped with a message saying so.
    """

    def run_steps(run, **hyper):
        params = {key: value.copy() for key, value in run.params.items()}
        arrays = dict(params)  # the arrays a network would hold
        optimizer = cls(**hyper)
        after = {}
        for t, grads in enumerate(run.grad_steps, start=1):
            before = {key: g.copy() for key, g in grads.items()}
            optimizer.step(params, grads)
            for key, g in grads.items():
                if not np.array_equal(g, before[key]):
                    raise ValueError(
                        f"step {t} changed grads[{key!r}] in place; leave the gradients as "
                        f"given: compute g = grads[key] + weight_decay * W as a new array "
                        f"(g += ... would write into the network's gradient)"
                    )
            for key, value in arrays.items():
                after[f"after step {t}: {key}"] = value.copy()
        return after

    run_steps.__name__ = getattr(cls, "__name__", "optimizer")
    return run_steps


def _network(rng, shapes):
    """Parameters away from zero, keyed like MLP.params."""
    return {k: rng.choice([-1.0, 1.0], size=s) * rng.uniform(0.5, 1.5, size=s)
            for k, s in shapes.items()}


def _gradients(rng, params, n_steps, tiny=()):
    """n_steps gradient dicts; entries of size about 1 (0.5 to 1.5) so eps never matters,
    except for the keys in ``tiny``, whose gradients are about 1e-8, where it does."""
    steps = []
    for _ in range(n_steps):
        grads = _network(rng, {k: v.shape for k, v in params.items()})
        for key in tiny:
            grads[key] *= 1e-8
        steps.append(grads)
    return steps


# N, D, H, C all differ: D = 5 inputs, H = 4 hidden units, C = 3 classes
_TWO_LAYERS = {"W1": (4, 5), "b1": (4,), "W2": (3, 4), "b2": (3,)}
_THREE_LAYERS = {"W1": (4, 6), "b1": (4,), "W2": (3, 4), "b2": (3,), "W3": (2, 3), "b3": (2,)}


def _optimizer_cases(name, plans):
    """Cases of the optimizer ``name`` from (label, shapes, n_steps, tiny keys,
    hyperparameters, key order or None), each drawn from its own seed."""
    cases = []
    for label, shapes, n_steps, tiny, hyper, order in plans:
        rng = case_rng(name, label)
        params = _network(rng, shapes)
        steps = _gradients(rng, params, n_steps, tiny)
        if order:
            params = {k: params[k] for k in order}
            steps = [{k: g[k] for k in order} for g in steps]
        cases.append(Case(label, (_Run(params, tuple(steps)),), hyper))
    return tuple(cases)


class _Variant:
    """An optimizer one key at a time, straight from the formulas, with one switchable mistake.

    The hints below are subclasses with a flag set; the arithmetic is the text's.
    """

    decay_biases = False  # weight decay on b1, b2, ... too
    decay_two = False  # weight decay on W1 and W2 only, the keys of a two-layer network
    decay_sign = 1.0  # -1: g - lam W
    decay_outside_lr = False  # W -= lr g + lam W
    decay_decoupled = False  # Adam: W -= lr lam W after the Adam update (AdamW)
    no_decay = False  # weight_decay ignored
    in_place = True  # False: params[key] = params[key] - ...

    def _grad(self, key, p, g):
        if self.no_decay or self.decay_outside_lr or self.decay_decoupled:
            return g
        if self.decay_two and key not in ("W1", "W2"):
            return g
        if self.weight_decay and (is_weight(key) or self.decay_biases):
            return g + self.decay_sign * self.weight_decay * p
        return g

    def _apply(self, params, key, update):
        p = params[key]
        if self.decay_outside_lr and self.weight_decay and is_weight(key):
            update = update + self.weight_decay * p
        if self.decay_decoupled and self.weight_decay and is_weight(key):
            update = update + self.lr * self.weight_decay * p
        if self.in_place:
            p -= update
        else:
            params[key] = p - update


class _GDVariant(_Variant):
    def __init__(self, lr, weight_decay=0.0):
        self.lr, self.weight_decay = lr, weight_decay

    def step(self, params, grads):
        for key in params:
            g = self._grad(key, params[key], grads[key])
            self._apply(params, key, self.lr * g)


class _MomentumVariant(_Variant):
    damped = False  # v = beta v + (1 - beta) g
    forgetful = False  # the velocity is not kept between steps
    late_velocity = False  # theta -= lr v with the old v, then v = beta v + g

    def __init__(self, lr, beta=0.9, weight_decay=0.0):
        self.lr, self.beta, self.weight_decay = lr, beta, weight_decay
        self.velocity = {}

    def step(self, params, grads):
        for key in params:
            g = self._grad(key, params[key], grads[key])
            v = np.zeros_like(g) if self.forgetful else self.velocity.get(key, np.zeros_like(g))
            new_v = self.beta * v + ((1.0 - self.beta) * g if self.damped else g)
            self._apply(params, key, self.lr * (v if self.late_velocity else new_v))
            self.velocity[key] = new_v


class _AdamVariant(_Variant):
    no_correction = False  # m_hat = m, v_hat = v
    t_from_zero = False  # the correction uses t - 1: 1 - beta^0 = 0 at the first step
    t_stuck = False  # t never increases: the correction of t = 1 every step
    eps_inside = False  # sqrt(v_hat + eps)
    t_per_key = False  # self.t += 1 inside the loop over the keys
    keeps_hats = False  # self.m, self.v overwritten with m_hat, v_hat
    one_array = False  # self.m[key] = self.v[key] = zeros: one array, updated in place

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.weight_decay = weight_decay
        self.t, self.m, self.v = 0, {}, {}

    def step(self, params, grads):
        if not (self.t_stuck or self.t_per_key):
            self.t += 1
        t = max(self.t, 1) - 1 if self.t_from_zero else max(self.t, 1)
        for key in params:
            if self.t_per_key:
                self.t += 1
                t = self.t
            g = self._grad(key, params[key], grads[key])
            if self.one_array:
                if key not in self.m:
                    self.m[key] = self.v[key] = np.zeros_like(params[key])
                m, v = self.m[key], self.v[key]
                m *= self.beta1
                m += (1.0 - self.beta1) * g
                v *= self.beta2  # v is m: this scales the m just computed
                v += (1.0 - self.beta2) * g**2
            else:
                m = self.beta1 * self.m.get(key, 0.0) + (1.0 - self.beta1) * g
                v = self.beta2 * self.v.get(key, 0.0) + (1.0 - self.beta2) * g**2
                self.m[key], self.v[key] = m, v
            if self.no_correction:
                m_hat, v_hat = m, v
            else:
                m_hat, v_hat = m / (1.0 - self.beta1**t), v / (1.0 - self.beta2**t)
            if self.keeps_hats:
                self.m[key], self.v[key] = m_hat, v_hat
            denom = np.sqrt(v_hat + self.eps) if self.eps_inside else np.sqrt(v_hat) + self.eps
            self._apply(params, key, self.lr * m_hat / denom)


def _variant(base, **flags):
    return type(base.__name__.replace("Variant", ""), (base,), flags)


# the keys of a dict in another order: weights are known by their names, not their places
def _other_order(weight_decay):
    return (f"the keys in another order (b2, b1, W2, W1), weight_decay={weight_decay} on the "
            "weights only: know them by name (key.startswith('W')), not by place")

_DECAY_BIASES = ("weight decay applies to the weights W1, W2, ... only: you decayed the "
                 "biases too. Test the key (key.startswith('W')) before adding lam * param.")
_DECAY_TWO = ("weight decay applies to every weight, W3 too: test the key "
              "(key.startswith('W')) rather than naming W1 and W2.")
_NOT_IN_PLACE = ("the caller's parameters did not change: update the arrays in place "
                 "(params[key] -= ..., or p -= ... on p = params[key]); "
                 "params[key] = params[key] - ... puts a new array in the dict, and the network "
                 "holding the old one never sees it.")

_GD = Exercise(
    name="GD",
    reference=ref.GD,
    adapter=_run_steps,
    visible=_optimizer_cases("GD", [
        ("3 steps of GD(lr=0.1) on a 5 -> 4 -> 3 network", _TWO_LAYERS, 3, (), {"lr": 0.1}, None),
        ("3 steps of GD(lr=0.1, weight_decay=0.5)", _TWO_LAYERS, 3, (),
         {"lr": 0.1, "weight_decay": 0.5}, None),
        ("a 6 -> 4 -> 3 -> 2 network (W3, b3 too), weight_decay=0.5", _THREE_LAYERS, 2, (),
         {"lr": 0.1, "weight_decay": 0.5}, None),
        (_other_order(0.5), _TWO_LAYERS, 2, (), {"lr": 0.1, "weight_decay": 0.5},
         ("b2", "b1", "W2", "W1")),
    ]),
    hidden=_optimizer_cases("GD", [
        ("5 steps of GD(lr=0.01, weight_decay=2.0)", _TWO_LAYERS, 5, (),
         {"lr": 0.01, "weight_decay": 2.0}, None),
        ("a 6 -> 4 -> 3 -> 2 network (W3, b3 too), weight_decay=0.1", _THREE_LAYERS, 3, (),
         {"lr": 0.05, "weight_decay": 0.1}, None),
        ("the keys in another order (b2, W2, b1, W1), weight_decay=0.3", _TWO_LAYERS, 2, (),
         {"lr": 0.2, "weight_decay": 0.3}, ("b2", "W2", "b1", "W1")),
    ]),
    hints=(
        Hint(_variant(_GDVariant, decay_biases=True), _DECAY_BIASES),
        Hint(_variant(_GDVariant, decay_two=True), _DECAY_TWO),
        Hint(_variant(_GDVariant, in_place=False), _NOT_IN_PLACE),
        Hint(_variant(_GDVariant, no_decay=True),
             "you ignored weight_decay: add weight_decay * W to the gradient of each weight W."),
        Hint(_variant(_GDVariant, decay_sign=-1.0),
             "a sign error in the decay: W <- W - lr (dL/dW + lam W), so W shrinks toward 0."),
        Hint(_variant(_GDVariant, decay_outside_lr=True),
             "the decay is multiplied by lr too: W <- W - lr * (dL/dW + lam * W)."),
    ),
)

_MOMENTUM = Exercise(
    name="Momentum",
    reference=ref.Momentum,
    adapter=_run_steps,
    visible=_optimizer_cases("Momentum", [
        ("3 steps of Momentum(lr=0.1, beta=0.9)", _TWO_LAYERS, 3, (),
         {"lr": 0.1, "beta": 0.9}, None),
        ("3 steps of Momentum(lr=0.1, beta=0.9, weight_decay=0.5)", _TWO_LAYERS, 3, (),
         {"lr": 0.1, "beta": 0.9, "weight_decay": 0.5}, None),
        ("a 6 -> 4 -> 3 -> 2 network (W3, b3 too), weight_decay=0.5", _THREE_LAYERS, 2, (),
         {"lr": 0.1, "beta": 0.9, "weight_decay": 0.5}, None),
        (_other_order(0.5), _TWO_LAYERS, 2, (), {"lr": 0.1, "beta": 0.5, "weight_decay": 0.5},
         ("b2", "b1", "W2", "W1")),
        ("3 steps of Momentum(lr=0.05), the default beta = 0.9", _TWO_LAYERS, 3, (),
         {"lr": 0.05}, None),
    ]),
    hidden=_optimizer_cases("Momentum", [
        ("beta = 0: exactly gradient descent", _TWO_LAYERS, 3, (), {"lr": 0.1, "beta": 0.0}, None),
        ("5 steps with beta = 0.5 and weight_decay = 0.2", _TWO_LAYERS, 5, (),
         {"lr": 0.05, "beta": 0.5, "weight_decay": 0.2}, None),
        ("a 6 -> 4 -> 3 -> 2 network, 4 steps, the default beta = 0.9", _THREE_LAYERS, 4, (),
         {"lr": 0.02}, None),
    ]),
    hints=(
        Hint(_variant(_MomentumVariant, damped=True),
             "the course's momentum has no (1 - beta) factor: v <- beta * v + g, then "
             "theta <- theta - lr * v (the (1 - beta) form is Adam's first moment)."),
        Hint(_variant(_MomentumVariant, forgetful=True),
             "the velocity must persist between steps: keep it in self.velocity[key], "
             "starting from zeros, and update it there."),
        Hint(_variant(_MomentumVariant, late_velocity=True),
             "update the velocity first (v <- beta v + g), then step with the new v."),
        Hint(_variant(_MomentumVariant, decay_biases=True), _DECAY_BIASES),
        Hint(_variant(_MomentumVariant, decay_two=True), _DECAY_TWO),
        Hint(_variant(_MomentumVariant, no_decay=True),
             "you ignored weight_decay: add weight_decay * W to the gradient of each weight W, "
             "before the velocity."),
        Hint(_variant(_MomentumVariant, in_place=False), _NOT_IN_PLACE),
    ),
)

_ADAM = Exercise(
    name="Adam",
    reference=ref.Adam,
    adapter=_run_steps,
    visible=_optimizer_cases("Adam", [
        ("3 steps of Adam(lr=0.01) with the default betas and eps", _TWO_LAYERS, 3, (),
         {"lr": 0.01}, None),
        ("3 steps of Adam(lr=0.1, beta1=0.5, beta2=0.9)", _TWO_LAYERS, 3, (),
         {"lr": 0.1, "beta1": 0.5, "beta2": 0.9}, None),
        # weight_decay * W is at most 0.15 here: the decayed gradients stay away from 0
        ("3 steps of Adam(lr=0.01, weight_decay=0.1)", _TWO_LAYERS, 3, (),
         {"lr": 0.01, "weight_decay": 0.1}, None),
        ("tiny gradients (about 1e-8) for b2, where eps matters", _TWO_LAYERS, 3, ("b2",),
         {"lr": 0.01}, None),
        ("a 6 -> 4 -> 3 -> 2 network (W3, b3 too), weight_decay=0.1", _THREE_LAYERS, 2, (),
         {"lr": 0.01, "weight_decay": 0.1}, None),
        (_other_order(0.1), _TWO_LAYERS, 2, (), {"lr": 0.01, "weight_decay": 0.1},
         ("b2", "b1", "W2", "W1")),
        ("eps = 1e-3 given (use the eps you are given), tiny gradients (about 1e-8) for b1",
         _TWO_LAYERS, 3, ("b1",), {"lr": 0.01, "eps": 1e-3}, None),
    ]),
    hidden=_optimizer_cases("Adam", [
        ("tiny gradients (about 1e-8) for b1, 5 steps", _TWO_LAYERS, 5, ("b1",),
         {"lr": 0.02}, None),
        ("one step (t = 1): each parameter moves by about lr", _TWO_LAYERS, 1, (),
         {"lr": 0.05, "beta1": 0.8, "beta2": 0.99}, None),
        ("5 steps with weight_decay = 0.1", _TWO_LAYERS, 5, (),
         {"lr": 0.01, "weight_decay": 0.1}, None),
        ("a 6 -> 4 -> 3 -> 2 network, 10 steps, eps = 1e-3", _THREE_LAYERS, 10, ("b3",),
         {"lr": 0.001, "beta1": 0.9, "beta2": 0.99, "eps": 1e-3}, None),
    ]),
    hints=(
        Hint(_variant(_AdamVariant, no_correction=True),
             "no bias correction: step 3 divides by (1 - beta1**t) and (1 - beta2**t); "
             "without it the first steps are off (about 3.16 lr at t = 1 with the defaults)."),
        Hint(_variant(_AdamVariant, t_from_zero=True),
             "t must be 1 at the first step: increase self.t BEFORE the bias correction "
             "(1 - beta1**0 = 0, a division by zero)."),
        Hint(_variant(_AdamVariant, t_stuck=True),
             "t never increases: add self.t += 1 at the start of step, so that the bias "
             "correction fades as t grows."),
        Hint(_variant(_AdamVariant, t_per_key=True),
             "t counts steps, not parameters: increase self.t once per call of step, before "
             "the loop over the keys."),
        Hint(_variant(_AdamVariant, keeps_hats=True),
             "keep m and v themselves in self.m and self.v; m_hat and v_hat are recomputed from "
             "them at every step, never stored."),
        Hint(_variant(_AdamVariant, eps_inside=True),
             "eps goes outside the square root: lr * m_hat / (sqrt(v_hat) + eps). It matters "
             "where the gradient is tiny, like the b2 of this case."),
        Hint(_variant(_AdamVariant, one_array=True),
             "self.m[key] and self.v[key] are one array: self.m[key] = self.v[key] = "
             "np.zeros_like(p) gives both names the same zeros, and updating one in place "
             "(*=, +=) changes the other. Create each with its own np.zeros_like(p)."),
        Hint(_variant(_AdamVariant, decay_biases=True), _DECAY_BIASES),
        Hint(_variant(_AdamVariant, decay_two=True), _DECAY_TWO),
        Hint(_variant(_AdamVariant, decay_decoupled=True),
             "this course's Adam adds weight_decay * W to the gradient BEFORE step 1 (the L2 "
             "form); you decayed W directly after the update, which is AdamW."),
        Hint(_variant(_AdamVariant, no_decay=True),
             "you ignored weight_decay: add weight_decay * W to the gradient of each weight W "
             "before step 1."),
        Hint(_variant(_AdamVariant, in_place=False), _NOT_IN_PLACE),
    ),
)

EXERCISES = {
    "gradient_descent": _GRADIENT_DESCENT,
    "iterate_minibatches": _ITERATE_MINIBATCHES,
    "GD": _GD,
    "Momentum": _MOMENTUM,
    "Adam": _ADAM,
}
