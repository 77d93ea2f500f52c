"""The exercises of notebook 08: the residual block, a deep network's passes, its gradient check,
its initialisation and its gradient norms.

What is judged, and how:

- ``residual_forward`` on its output and on its cache, part by part (the block's input H, W,
  and the pre-activation Z, never f(Z)), since ``residual_backward`` and ``deep_backward``
  read that cache. With W = 0 and b = 0 and an activation with f(0) = 0 (ReLU, tanh) the
  block must give H back bit for bit, not just to 1e-7: one more part of the output says
  whether it does. A W of shape (1, m) broadcasts silently, so the block must refuse it,
  with a ValueError whose message names H's shape and W's (as the text asks).
- ``residual_backward`` and ``deep_backward`` against the reference, and against central
  differences of the loss sum(dout * out) (sum(dlogits * logits)) of the block or the network
  rebuilt from the cache, whose gradient is what the backward pass computes. The caches are
  built by a forward pass written out below (the reference may be withheld while this
  notebook is graded); the grader's fresh cases draw H, W and Z apart, and no network gives
  such caches, so there only the reference judges. tanh and sigmoid cases show f' taken at
  the output (with ReLU it does not), and in the twelve-block plain sigmoid case the blocks
  are near 4 I and the biases near -2, so its first layers' gradients stay large enough for
  a mistake to show there. Cases with ReLU pre-activations exactly 0 (W = 0 with a zero in b,
  a blank sample through zero biases) show relu'(0) taken as 1 (Z >= 0); central differences
  are off there (they give 1/2 at the kink), and only the reference judges.
- ``deep_forward`` on its logits and every cache, layer by layer, with cases where the input,
  the hidden and the output widths are equal (a skip on the input or the output layer then
  gives wrong numbers instead of a broadcasting error), and params inserted out of order (layers
  are read by number, not in the dict's order).
- ``deep_gradient_check`` on the dict it returns, keys W1, b1, ... in order; relative errors
  below 1e-7 are rounding noise and count as 0 (as in notebook 04), and cases with a large
  step h make the real errors visible, so a wrong check (a copy perturbed, the loss without
  the residual flag, a summed loss) reports other numbers than the reference; one weight is
  not contiguous, so a check that perturbs its ravel() (a copy) shows.
- ``deep_init`` draw for draw against the reference (the same generator, used as notebook
  02's MLP uses it), so He and Xavier swapped, a branch not scaled by 1/L, or scaled by
  1/sqrt(L) give other numbers; one case leaves seed out, so its default must be 0.
- ``layer_gradient_norms`` on fourteen layers (W10 after W9), bias gradients of size 100
  (mixing them in shows), gradients of rank above 1 (the spectral norm differs) and a dict
  inserted out of order.

Every case's inputs are checked to come back unchanged (the engine does it for every call),
so a block or a gradient check that writes into H, dout or params fails.
"""

from __future__ import annotations

import numpy as np

from .. import residual as ref
from ..activations import ACTIVATIONS
from ..gradcheck import numerical_gradient, relative_error
from ..layers import dense_backward, dense_forward, he_init, xavier_init
from ..losses import cross_entropy, cross_entropy_grad
from ._engine import Case, Exercise, ExerciseFailed, Hint, Seeded, _short
from ._seeds import drawn_case
from .backprop import _in_layer_order, _rounding_noise_as_zero

__all__ = ["EXERCISES"]


# ---------------------------------------------------------------- helpers for the cases


def _weights(rng, m_out, m_in, scale=1.2):
    """A weight matrix away from 0, of size about scale / sqrt(fan-in), not symmetric."""
    return rng.normal(0.0, scale / np.sqrt(m_in), size=(m_out, m_in))


def _biases(rng, m):
    """Biases of both signs, about 0.3 away from 0."""
    return rng.choice([-1.0, 1.0], size=m) * rng.uniform(0.2, 0.4, size=m)


def _deep_params(rng, D, m, depth, C):
    """W1, b1, ... of an input layer D -> m, ``depth`` blocks m -> m, an output layer m -> C."""
    sizes = [D] + [m] * (depth + 1) + [C]
    params = {}
    for i, (m_in, m_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        params[f"W{i}"] = _weights(rng, m_out, m_in)
        params[f"b{i}"] = _biases(rng, m_out)
    return params


def _out_of_order(d: dict) -> dict:
    """``d`` inserted in another order than W1, b1, W2, ...: the biases first, from the last
    down, then the weights W2, ..., Wn and W1 last. Read by number, it is the same network."""
    n = len(d) // 2
    keys = [f"b{i}" for i in range(n, 0, -1)] + [f"W{i}" for i in [*range(2, n + 1), 1]]
    return {key: d[key] for key in keys}


def _saturation_free(rng, params):
    """Blocks near 4 I and biases near -2 (sigmoid's Z stays near 0, where 4 sigma'(0) = 1):
    a plain sigmoid network of twelve blocks whose first gradients do not vanish."""
    n_layers = len(params) // 2
    for i in range(2, n_layers):
        m = params[f"W{i}"].shape[0]
        params[f"W{i}"] = 4.0 * np.eye(m) + rng.normal(0.0, 0.3, size=(m, m))
        params[f"b{i}"] = -2.0 + rng.normal(0.0, 0.1, size=m)
    return params


def _forward(X, params, activation, residual):
    """The deep network's forward pass, written out here: the reference may be withheld
    while notebook 08 is graded, and the cases are built when the checks are imported."""
    f = ACTIVATIONS[activation][0]
    n_layers = len(params) // 2
    H, caches = X, []
    for i in range(1, n_layers + 1):
        Z, dense_cache = dense_forward(H, params[f"W{i}"], params[f"b{i}"])
        caches.append((dense_cache, Z))
        if i == n_layers:
            H = Z
        elif residual and i > 1:
            H = H + f(Z)
        else:
            H = f(Z)
    return H, caches


def _zero_at_zero(activation) -> bool:
    """f(0) = 0 (ReLU, tanh, ELU): W = 0 and b = 0 then make the block the identity."""
    try:
        return float(ACTIVATIONS[activation][0](np.zeros(1))[0]) == 0.0
    except (KeyError, TypeError, IndexError):
        return False


# ---------------------------------------------------------------- residual_forward

_CACHE_FORM = ("the cache is ((H, W), Z): dense_forward's cache and the pre-activation "
               "Z = H @ W.T + b, the form residual_backward and deep_backward read")


def _block_parts(fn):
    """residual_forward -> (out, cache's H, cache's W, cache's Z, whether W = 0 gave H back
    bit for bit): the cache is judged part by part, and the identity exactly."""
    def run(H, W, b, activation="relu"):
        try:
            result = fn(H, W, b, activation=activation)
        except ValueError as exc:
            _names_both_shapes(exc, H, W)
            raise
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            return result
        out, cache = result
        try:
            (H_cached, W_cached), Z = cache
        except (TypeError, ValueError):
            raise ExerciseFailed(
                f"residual_forward must return (out, cache), and {_CACHE_FORM}; your cache is "
                f"{_short(cache)}") from None
        identity = True  # nothing to say unless W = 0, b = 0 and f(0) = 0
        if not np.any(W) and not np.any(b) and _zero_at_zero(activation):
            try:
                identity = bool(np.array_equal(np.asarray(out), np.asarray(H, dtype=float)))
            except (TypeError, ValueError):
                identity = False
        return out, H_cached, W_cached, Z, identity

    run.__name__ = getattr(fn, "__name__", "residual_forward")
    return run


def _shape_written(shape, text: str) -> bool:
    """Whether ``text`` (spaces taken out) writes ``shape`` as a tuple, a list or 2x3."""
    dims = [str(d) for d in shape]
    return any(form in text for form in ("(" + ",".join(dims) + ")",
                                         "[" + ",".join(dims) + "]",
                                         "x".join(dims), "\u00d7".join(dims)))


def _names_both_shapes(exc: ValueError, H, W) -> None:
    """The text asks for a ValueError that names both shapes: when W is not square for H,
    one whose message does not write H's shape and W's is a failure, said in plain words."""
    H_shape, W_shape = np.shape(H), np.shape(W)
    if len(H_shape) != 2 or W_shape == (H_shape[1], H_shape[1]):
        return  # not the wrong-width case: the error, whatever it is, speaks for itself
    said = "".join(str(exc).split())
    missing = [f"{name}'s shape {shape}" for name, shape in (("H", H_shape), ("W", W_shape))
               if not _shape_written(shape, said)]
    if missing:
        raise ExerciseFailed(
            f"a ValueError whose message does not name {' and '.join(missing)}: {str(exc)!r}. "
            f"The text asks for a message that names both shapes, for instance "
            f"f\"W must be square, of shape ({H_shape[1]}, {H_shape[1]}), for H of shape "
            f"{{H.shape}}; got W of shape {{W.shape}}\", which here says {H_shape} and "
            f"{W_shape}.") from None


def _rf_variant(*, skip=True, sum_first=False, scale=1.0, activate=True, transpose=True,
                cache_branch=False, check_width=True):
    """residual_forward with one step done another way (the hints below)."""
    def residual_forward(H, W, b, activation="relu"):
        f = ACTIVATIONS[activation][0]
        H, W, b = (np.asarray(a, dtype=float) for a in (H, W, b))
        m = H.shape[1]
        if check_width and W.shape != (m, m):
            raise ValueError(f"W must have shape ({m}, {m}) for H of shape {H.shape}; got "
                             f"{W.shape}")
        Z = H @ (W.T if transpose else W) + b
        branch = f(Z) if activate else Z
        if sum_first:
            out = f(H + Z)
        else:
            out = H + branch if skip else branch
        return out * scale, ((H, W), branch if cache_branch else Z)
    return residual_forward


def _block(label, n, m, activation=None, zero=False, transposed=False, integer=False):
    """A case of residual_forward: H (n, m) of both signs, W (m, m) not symmetric, b (m,);
    ``zero``: W = 0 and b = 0; ``transposed``: H and W given as transposes."""
    def draw(rng):
        if integer:
            return (rng.integers(-3, 4, size=(n, m)), rng.integers(-2, 3, size=(m, m)),
                    rng.integers(-1, 2, size=m))
        H = rng.normal(0.0, 1.5, size=(m, n)).T if transposed else rng.normal(0.0, 1.5, (n, m))
        H[0, 0], H[-1, -1] = -abs(H[0, 0]) - 0.5, abs(H[-1, -1]) + 0.5  # both signs
        if zero:
            return H, np.zeros((m, m)), np.zeros(m)
        W = _weights(rng, m, m).T if transposed else _weights(rng, m, m)
        return H, W, _biases(rng, m)
    return drawn_case("residual_forward", label, draw,
                      {"activation": activation} if activation else None)


def _narrow_W():
    H = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    return Case("W of shape (1, 3) and b of shape (1,) for a block of width 3 must raise "
                "ValueError, with a message that names both shapes, H's (2, 3) and W's (1, 3) "
                "(H @ W.T + b has shape (2, 1) and H + f(Z) broadcasts it to (2, 3) without a "
                "word)", (H, np.array([[0.5, -1.0, 1.5]]), np.array([0.2])), raises=ValueError)


def _tall_W():
    H = np.array([[1.0, -0.5], [0.25, 2.0], [-1.5, 0.75], [0.5, 0.5]])
    W = np.array([[0.5, -1.0], [1.5, 0.25], [-0.75, 1.0]])
    return Case("W of shape (3, 2) and b of shape (3,) for H of shape (4, 2) must raise "
                "ValueError naming both shapes (without a check of its own, H + f(Z) fails to "
                "broadcast (4, 2) with (4, 3), a message that does not name W's shape)",
                (H, W, np.array([0.1, -0.2, 0.3])), raises=ValueError)


def _square_W_of_another_width():
    H = np.array([[1.0, -0.5, 0.25], [2.0, 0.75, -1.5], [0.5, -1.0, 1.0], [-0.25, 0.5, 1.5]])
    return Case("a square W of another width, (2, 2), for H of shape (4, 3) must raise "
                "ValueError naming both shapes (W must be (3, 3): square is not enough)",
                (H, np.array([[0.5, -1.0], [1.5, 0.25]]), np.array([0.1, -0.2])),
                raises=ValueError)


_RESIDUAL_FORWARD = Exercise(
    name="residual_forward",
    reference=ref.residual_forward,
    adapter=_block_parts,
    outputs=("out", "cache[0][0] (H)", "cache[0][1] (W)", "cache[1] (Z, the pre-activation)",
             "out == H exactly (W = 0, b = 0, f(0) = 0)"),
    visible=(
        _block("a ReLU block (the default), N=4 samples of width m=3, W not symmetric", 4, 3),
        _block("a tanh block, N=4, m=3", 4, 3, "tanh"),
        _block("a sigmoid block, N=2, m=5", 2, 5, "sigmoid"),
        _block("W = 0 and b = 0, ReLU, H of both signs: out must be H exactly", 4, 3,
               zero=True),
        _block("W = 0 and b = 0, tanh, H of both signs given as a transpose (not "
               "contiguous): out must be H exactly", 5, 3, "tanh", zero=True, transposed=True),
        _block("one sample (N=1), an ELU block of width 4", 1, 4, "elu"),
        _block("integer H, W and b, ReLU, N=3, m=2", 3, 2, integer=True),
        _block("H and W given as transposes (not contiguous), tanh, N=3, m=4", 3, 4, "tanh",
               transposed=True),
        _block("W = 0 and b = 0 with sigmoid, whose f(0) = 1/2: not the identity, out = H + "
               "1/2", 2, 3, "sigmoid", zero=True),
        _narrow_W(),
    ),
    hidden=(
        _block("a ReLU block, N=6, m=4", 6, 4, "relu"),
        _block("an ELU block, N=3, m=2", 3, 2, "elu"),
        _block("W = 0 and b = 0, ReLU, N=2, m=5: out must be H exactly", 2, 5, zero=True),
        _block("one sample (N=1), a sigmoid block of width 3", 1, 3, "sigmoid"),
        _tall_W(),
        _square_W_of_another_width(),
    ),
    hints=(
        Hint(_rf_variant(skip=False),
             "the skip is missing: the block adds its input to the branch, out = H + f(H @ W.T "
             "+ b), not f(H @ W.T + b) alone."),
        Hint(_rf_variant(sum_first=True),
             "the sum goes after the activation: out = H + f(Z), not f(H + Z) (the original "
             "ResNet's order; with f after the sum, W = 0 does not give the identity)."),
        Hint(_rf_variant(scale=1 / np.sqrt(2.0)),
             "nothing comes after the sum: out = H + f(Z) exactly, so that W = 0 and b = 0 "
             "give the identity, out == H."),
        Hint(_rf_variant(activate=False),
             "the branch applies the activation: out = H + f(Z), not H + Z."),
        Hint(_rf_variant(transpose=False),
             "W is not transposed: Z = H @ W.T + b (a square W has the right shape either way, "
             "so only the numbers show it)."),
        Hint(_rf_variant(cache_branch=True),
             "the cache holds the pre-activation Z = H @ W.T + b, not f(Z): residual_backward "
             "takes f' at Z."),
        Hint(_rf_variant(check_width=False),
             "check that W is square, of shape (m, m) for H of shape (N, m), and raise "
             "ValueError otherwise: a W of shape (1, m) with b of shape (1,) gives Z of shape "
             "(N, 1), which H + f(Z) broadcasts to (N, m) without an error."),
    ),
)


# ---------------------------------------------------------------- residual_backward


#: the part of a backward pass's output that compares its gradients with central differences
_CENTRAL = "gradient check (relative error vs central differences, 0 below 1e-7)"


def _gradient_errors(loss, arrays: dict, given: dict) -> dict:
    """Per name, the relative error between ``given[name]`` and central differences of
    ``loss`` in ``arrays[name]`` (perturbed in place and restored), below 1e-7 counted as 0."""
    errors = {}
    for name, value in arrays.items():
        numeric = numerical_gradient(loss, value)
        try:
            mine = np.asarray(given.get(name), dtype=float)
            error = relative_error(mine, numeric) if mine.shape == numeric.shape else 1.0
        except (TypeError, ValueError):
            error = 1.0
        errors[name] = 0.0 if error < 1e-7 else float(error)
    return errors


def _at_relu_kink(activation, Zs) -> bool:
    """A ReLU pre-activation exactly 0: relu has no derivative there (the course takes 0,
    relu_grad's Z > 0), and central differences give 1/2; only the reference judges."""
    try:
        return activation == "relu" and any(np.any(np.asarray(Z) == 0) for Z in Zs)
    except (TypeError, ValueError):
        return False


def _block_with_central_differences(fn):
    """residual_backward -> (its relative errors against central differences of the block's
    loss sum(dout * out), the block rebuilt from the cache; dH, dW, db). A cache that no block
    gives (the grader's fresh cases draw H, W and Z apart) is not checked so: {}."""
    def run(dout, cache, activation="relu"):
        result = fn(dout, cache, activation=activation)
        if not isinstance(result, (tuple, list)) or len(result) != 3:
            return result
        try:
            (H, W), Z = cache
            H, W = np.array(H, dtype=float), np.array(W, dtype=float)  # copies: perturbed
            b = Z[0] - H[0] @ W.T
            built = np.allclose(H @ W.T + b, Z, rtol=1e-9, atol=1e-12)
        except (TypeError, ValueError, IndexError):
            built = False
        if not built or _at_relu_kink(activation, [Z]):
            return ({}, *result)
        f, weights = ACTIVATIONS[activation][0], np.asarray(dout, dtype=float)

        def loss(_):
            return float(np.sum(weights * (H + f(H @ W.T + b))))

        errors = _gradient_errors(loss, {"dH": H, "dW": W, "db": b},
                                  dict(zip(("dH", "dW", "db"), result, strict=True)))
        return (errors, *result)

    run.__name__ = getattr(fn, "__name__", "residual_backward")
    return run


def _block_cache(label, n, m, activation=None, transposed=False, integer_dout=False,
                 zero=False, bias=None):
    """A case of residual_backward: dout (n, m) and the cache ((H, W), Z) of a block;
    ``transposed``: dout given as a transpose (not contiguous); ``zero``: W = 0; ``bias``:
    b given (with W = 0, Z = b in every row: a 0 there is ReLU's kink, exactly)."""
    def draw(rng):
        H = rng.normal(0.0, 1.5, size=(n, m))
        W, b = _weights(rng, m, m), _biases(rng, m)
        if zero:
            W = np.zeros((m, m))
        if bias is not None:
            b = np.array(bias, dtype=float)
        Z, dense_cache = dense_forward(H, W, b)
        if integer_dout:
            dout = rng.integers(-3, 4, size=(n, m))
        elif transposed:
            dout = rng.normal(size=(m, n)).T
        else:
            dout = rng.normal(size=(n, m))
        return dout, (dense_cache, Z)
    return drawn_case("residual_backward", label, draw,
                      {"activation": activation} if activation else None)


def _relu_grad_at_zero_one(z):
    """ReLU's slope taken as 1 at exactly 0 (Z >= 0): the course takes 0 there (Z > 0)."""
    return (np.asarray(z) >= 0).astype(float)


def _rb_variant(*, identity=1.0, branch=1.0, at="Z", transpose_W=False, dW_from_out=False,
                db_axis=0, relu_ge=False):
    """residual_backward with one step done another way (the hints below)."""
    def residual_backward(dout, cache, activation="relu"):
        (H, W), Z = cache
        dout = np.asarray(dout, dtype=float)
        f, f_grad = ACTIVATIONS[activation][0], ACTIVATIONS[activation][1]
        if relu_ge and activation == "relu":
            f_grad = _relu_grad_at_zero_one
        where = {"Z": Z, "f(Z)": f(Z), "out": H + f(Z)}.get(at)
        dZ = dout if where is None else dout * f_grad(where)
        dH = identity * dout + branch * (dZ @ (W.T if transpose_W else W))
        dW = dZ.T @ (H + f(Z) if dW_from_out else H)
        return dH, dW, dZ.sum(axis=db_axis)
    return residual_backward


_RESIDUAL_BACKWARD = Exercise(
    name="residual_backward",
    reference=ref.residual_backward,
    adapter=_block_with_central_differences,
    outputs=(_CENTRAL, "dH", "dW", "db"),
    visible=(
        _block_cache("a ReLU block (the default), N=4 samples of width m=3", 4, 3),
        _block_cache("a tanh block, N=4, m=3 (f' at the output f(Z) shows here, not with "
                     "ReLU)", 4, 3, "tanh"),
        _block_cache("a sigmoid block, N=2, m=5", 2, 5, "sigmoid"),
        _block_cache("one sample (N=1), an ELU block of width 4", 1, 4, "elu"),
        _block_cache("dout given as a transpose (not contiguous), sigmoid, N=5, m=3", 5, 3,
                     "sigmoid", transposed=True),
        _block_cache("integer dout, ReLU, N=3, m=2", 3, 2, integer_dout=True),
        _block_cache("W = 0, tanh, N=4, m=3: dH = dout (the branch passes nothing down)", 4, 3,
                     "tanh", zero=True),
        _block_cache("W = 0 and b = [0, 0.5, -0.5], ReLU, N=4, m=3: Z = b in every row, "
                     "exactly 0 for the first unit, where relu'(0) = 0 (relu_grad, Z > 0), so "
                     "nothing goes down its branch", 4, 3, "relu", zero=True,
                     bias=(0.0, 0.5, -0.5)),
    ),
    hidden=(
        _block_cache("a sigmoid block, N=5, m=4", 5, 4, "sigmoid"),
        _block_cache("a ReLU block, N=6, m=2", 6, 2, "relu"),
        _block_cache("an ELU block, N=3, m=4", 3, 4, "elu"),
        _block_cache("one sample (N=1), a tanh block of width 2", 1, 2, "tanh"),
    ),
    hints=(
        Hint(_rb_variant(identity=0.0),
             "dH misses the identity path: add dout, dH = dout + dZ @ W (out = H + f(Z) "
             "sends dout straight down to H as well as through the branch)."),
        Hint(_rb_variant(branch=0.0),
             "dH is not dout alone: the branch passes dZ @ W down too, dH = dout + dZ @ W."),
        Hint(_rb_variant(identity=2.0),
             "the identity path counted twice: dH = dout + dZ @ W, one dout."),
        Hint(_rb_variant(at="f(Z)"),
             "f' is taken at the pre-activation Z (cache[1]), not at the branch's output f(Z): "
             "dZ = activation_backward(dout, Z, activation)."),
        Hint(_rb_variant(at="out"),
             "f' is taken at the pre-activation Z (cache[1]), not at the block's output "
             "H + f(Z): dZ = activation_backward(dout, Z, activation)."),
        Hint(_rb_variant(at=None),
             "go back through the activation first: dZ = dout * f'(Z) "
             "(activation_backward(dout, Z, activation)), then through the dense layer."),
        Hint(_rb_variant(transpose_W=True),
             "dH's branch is dZ @ W (W has shape (m_out, m_in)), not dZ @ W.T: a square W has "
             "the right shape either way."),
        Hint(_rb_variant(dW_from_out=True),
             "dW = dZ.T @ H, with the block's INPUT H (cache[0][0]), not its output H + f(Z)."),
        Hint(_rb_variant(relu_ge=True),
             "relu'(0) is 0 in this course (relu_grad uses Z > 0, not Z >= 0): where Z is "
             "exactly 0 (W = 0 and b = 0, or a blank sample through zero biases) nothing goes "
             "down the branch; activation_backward(dout, Z, activation) does it."),
        Hint(_rb_variant(db_axis=1),
             "db has one entry per unit, shape (m,): sum dZ over the samples, axis=0."),
    ),
)


# ---------------------------------------------------------------- deep_forward


def _caches_apart(fn):
    """deep_forward -> (logits, the number of caches, every cache's H, W and Z by name)."""
    def run(X, params, activation="relu", residual=False):
        result = fn(X, params, activation=activation, residual=residual)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            return result
        logits, caches = result
        if not isinstance(caches, (list, tuple)):
            raise ExerciseFailed(f"deep_forward must return (logits, caches), caches a list with "
                                 f"one cache per layer; got caches = {_short(caches)}")
        parts = {}
        for i, cache in enumerate(caches, start=1):
            try:
                (H, W), Z = cache
            except (TypeError, ValueError):
                raise ExerciseFailed(
                    f"caches[{i - 1}] must be layer {i}'s ((H_{i - 1}, W{i}), Z_{i}): the "
                    f"input, the weights and the pre-activation, for a block as residual_forward "
                    f"gives them and for the other layers in the same form; got "
                    f"{_short(cache)}") from None
            parts[f"caches[{i - 1}][0][0], H_{i - 1}"] = H
            parts[f"caches[{i - 1}][0][1], W{i}"] = W
            parts[f"caches[{i - 1}][1], Z_{i}"] = Z
        return logits, len(caches), parts

    run.__name__ = getattr(fn, "__name__", "deep_forward")
    return run


def _df_variant(*, late=False, sum_first=False, skip_input=False, skip_output=False,
                output_activated=False, flag=True, string_order=False, cache_output=False,
                insertion_order=False, block_activation=None):
    """deep_forward with one step done another way (the hints below); ``block_activation``:
    the blocks' activation, whatever the network's (residual_forward called without it)."""
    def deep_forward(X, params, activation="relu", residual=False):
        f = ACTIVATIONS[activation][0]
        f_block = ACTIVATIONS[block_activation or activation][0]
        residual = residual and flag
        n_layers = len(params) // 2
        if string_order:
            numbers = sorted(key[1:] for key in params if key.startswith("W"))
        elif insertion_order:
            numbers = [key[1:] for key in params if key.startswith("W")]
        else:
            numbers = [str(i) for i in range(1, n_layers + 1)]
        H, caches, skip_from = np.asarray(X, dtype=float), [], None
        for i, number in enumerate(numbers, start=1):
            H_in = H
            Z, dense_cache = dense_forward(H, params[f"W{number}"], params[f"b{number}"])
            last = i == n_layers
            block = residual and (1 < i < n_layers or (skip_input and i == 1)
                                  or (skip_output and last))
            A = (f_block if block and not last else f)(Z) if (not last or output_activated) \
                else Z
            if block and sum_first and not last:
                H = f(H_in + Z)
            elif block and late:
                H = A + (skip_from if skip_from is not None else 0.0)
            elif block:
                H = H_in + A
            else:
                H = A
            skip_from = H_in if residual and 1 < i < n_layers else None
            caches.append((dense_cache, H if cache_output else Z))
        return H, caches
    return deep_forward


def _deep_case(label, D, m, depth, C, n, activation=None, residual=None, transposed=False,
               integer=False, shuffled=False):
    """A case of deep_forward: X (n, D) and the parameters of a network D -> m (depth blocks)
    -> C; ``transposed``: X given as a transpose; ``integer``: X of integer pixels 0..16;
    ``shuffled``: params inserted out of order (_out_of_order)."""
    def draw(rng):
        params = _deep_params(rng, D, m, depth, C)
        if shuffled:
            params = _out_of_order(params)
        if integer:
            X = rng.integers(0, 17, size=(n, D))
            params["W1"] = params["W1"] / 8.0  # pixels up to 16: keep Z_1 of size about 1
        elif transposed:
            X = rng.normal(size=(D, n)).T
        else:
            X = rng.normal(size=(n, D))
        return X, params
    kwargs = {}
    if activation:
        kwargs["activation"] = activation
    if residual is not None:
        kwargs["residual"] = residual
    return drawn_case("deep_forward", label, draw, kwargs)


_DEEP_FORWARD = Exercise(
    name="deep_forward",
    reference=ref.deep_forward,
    adapter=_caches_apart,
    depends={"residual_forward": ref.residual_forward},
    outputs=("logits", "the number of caches (one per layer)", "caches"),
    visible=(
        _deep_case("a plain ReLU network (the defaults) 5 -> 3 -> 3 -> 3 -> 2 (two blocks), "
                   "N=4 samples", 5, 3, 2, 2, 4),
        _deep_case("a residual tanh network 3 -> 3 -> 3 -> 3 -> 3 (two blocks), N=4, every "
                   "layer of the same width", 3, 3, 2, 3, 4, "tanh", True),
        _deep_case("a residual ReLU network 5 -> 3 -> 3 -> 3 -> 2 (two blocks), N=4", 5, 3, 2, 2,
                   4, "relu", True),
        _deep_case("a residual sigmoid network 4 -> 3 (three blocks) -> 2, N=5", 4, 3, 3, 2, 5,
                   "sigmoid", True),
        _deep_case("twelve residual tanh blocks, 4 -> 3 -> ... -> 3 -> 3: W1 .. W14 in number "
                   "order (sorted as strings, W10 would come right after W1)", 4, 3, 12, 3, 3,
                   "tanh", True),
        _deep_case("one sample (N=1), a residual ELU network 5 -> 4 (two blocks) -> 2", 5, 4, 2,
                   2, 1, "elu", True),
        _deep_case("integer pixels 0..16 in X, a residual ReLU network 6 -> 3 (one block) -> 2",
                   6, 3, 1, 2, 3, "relu", True, integer=True),
        _deep_case("X given as a transpose (not contiguous), a plain tanh network 5 -> 3 (three "
                   "blocks) -> 2, N=4", 5, 3, 3, 2, 4, "tanh", False, transposed=True),
        _deep_case("no block (depth 0): the input and the output layer only, residual=True, "
                   "5 -> 3 -> 2", 5, 3, 0, 2, 4, "relu", True),
        _deep_case("params inserted in another order (b4, b3, b2, b1, W2, W3, W4, W1), a "
                   "residual tanh network 3 -> 3 (two blocks) -> 3, N=4: layer i is params"
                   "[f\"W{i}\"], by number, whatever the dict's order", 3, 3, 2, 3, 4, "tanh",
                   True, shuffled=True),
    ),
    hidden=(
        _deep_case("a residual sigmoid network 6 -> 4 (two blocks) -> 3, N=5", 6, 4, 2, 3, 5,
                   "sigmoid", True),
        _deep_case("a plain ReLU network 4 -> 5 (three blocks) -> 2, N=6", 4, 5, 3, 2, 6,
                   "relu", False),
        _deep_case("a residual tanh network 4 -> 4 (three blocks) -> 4, N=3: D = m = C", 4, 4,
                   3, 4, 3, "tanh", True),
        _deep_case("one sample, a residual ELU network 3 -> 2 (one block) -> 3", 3, 2, 1,
                   3, 1, "elu", True),
        _deep_case("no block (depth 0), a plain ELU network 4 -> 5 -> 3, N=2", 4, 5, 0, 3, 2,
                   "elu", False),
    ),
    hints=(
        Hint(_df_variant(flag=False),
             "with residual=True every block adds its input: H_i = H_{i-1} + f(H_{i-1} W_i^T + "
             "b_i) (residual_forward); you computed a plain network whatever the flag."),
        Hint(_df_variant(late=True),
             "the skip arrives one layer late: block i adds its OWN input H_{i-1}, H_i = "
             "H_{i-1} + f(Z_i), not the input of the block before."),
        Hint(_df_variant(sum_first=True),
             "in a block the sum comes after the activation: H_i = H_{i-1} + f(Z_i) "
             "(residual_forward), not f(H_{i-1} + Z_i)."),
        Hint(_df_variant(skip_input=True),
             "the input layer is not a block: it changes the width (D -> m), so it has no skip, "
             "H_1 = f(X W_1^T + b_1); only layers 2 .. n-1 are blocks."),
        Hint(_df_variant(skip_output=True),
             "the output layer is not a block: it changes the width (m -> C), so it has no skip "
             "and no activation, logits = H_{n-1} W_n^T + b_n; only layers 2 .. n-1 are blocks."),
        Hint(_df_variant(output_activated=True),
             "the output layer is linear: the logits are Z_n, with no activation."),
        Hint(_df_variant(string_order=True),
             "layers taken in string order (W1, W10, W11, ..., W2): go through them by number, "
             "for i in range(1, n_layers + 1), params[f\"W{i}\"]."),
        Hint(_df_variant(block_activation="relu"),
             "pass activation on to residual_forward: called without it, the blocks use its "
             "default, ReLU, whatever the network's activation (residual_forward(H, W, b, "
             "activation))."),
        Hint(_df_variant(insertion_order=True),
             "layers taken in the dict's insertion order: go through them by number, for i in "
             "range(1, n_layers + 1), params[f\"W{i}\"] (a dict built in another order gives "
             "its keys in that order)."),
        Hint(_df_variant(cache_output=True),
             "each cache holds the layer's pre-activation Z_i, ((H_{i-1}, W_i), Z_i), not its "
             "output H_i: deep_backward takes f' at Z_i."),
    ),
)


# ---------------------------------------------------------------- deep_backward


def _backward_case(label, D, m, depth, C, n, activation=None, residual=None, transposed=False,
                   near_identity=False, blank=False, integer=False):
    """A case of deep_backward: dlogits (n, C) and the caches of a forward pass of a network
    D -> m (depth blocks) -> C; ``transposed``: X and dlogits given as transposes;
    ``near_identity``: blocks near 4 I, biases near -2 (a plain sigmoid network whose
    first gradients do not vanish); ``blank``: zero biases, as deep_init gives them, and X's
    last sample all 0, so that its Z are exactly 0 in every layer; ``integer``: dlogits of
    integers."""
    def draw(rng):
        params = _deep_params(rng, D, m, depth, C)
        if near_identity:
            params = _saturation_free(rng, params)
        if blank:
            params = {k: np.zeros_like(v) if k.startswith("b") else v for k, v in params.items()}
        X = rng.normal(size=(D, n)).T if transposed else rng.normal(size=(n, D))
        if blank:
            X[-1] = 0.0
        _, caches = _forward(X, params, activation or "relu", bool(residual))
        if integer:
            dlogits = rng.integers(-3, 4, size=(n, C))
        else:
            dlogits = rng.normal(size=(C, n)).T if transposed else rng.normal(size=(n, C))
        return dlogits, caches
    kwargs = {}
    if activation:
        kwargs["activation"] = activation
    if residual is not None:
        kwargs["residual"] = residual
    return drawn_case("deep_backward", label, draw, kwargs)


def _network_of(caches, activation, residual):
    """X and the params W1, b1, ... that the caches came from, or None when no forward pass of
    this network gives these caches (the grader's fresh cases draw every array anew)."""
    try:
        X = caches[0][0][0]
        params = {}
        for i, ((H, W), Z) in enumerate(caches, start=1):
            params[f"W{i}"] = np.array(W, dtype=float)  # a copy: the check perturbs it
            params[f"b{i}"] = Z[0] - H[0] @ params[f"W{i}"].T
        _, again = _forward(X, params, activation, residual)
        for ((H, _), Z), ((H_again, _), Z_again) in zip(caches, again, strict=True):
            if not (np.allclose(H, H_again, rtol=1e-9, atol=1e-12)
                    and np.allclose(Z, Z_again, rtol=1e-9, atol=1e-12)):
                return None
    except (TypeError, ValueError, IndexError, KeyError):
        return None
    return X, params


def _with_central_differences(fn):
    """deep_backward -> (its relative error against central differences, per key, below 1e-7
    counted as 0; its grads keyed W1, b1, ... in order). The central differences are those of
    the loss sum(dlogits * logits) of the network the caches came from, rebuilt from them:
    its gradient is what deep_backward computes from dlogits."""
    in_order = _in_layer_order(fn)

    def run(dlogits, caches, activation="relu", residual=False):
        grads = in_order(dlogits, caches, activation=activation, residual=residual)
        network = _network_of(caches, activation, residual)
        if network is None or not isinstance(grads, dict) or _at_relu_kink(
                activation, [Z for _, Z in caches[:-1]]):
            return {}, grads
        X, params = network
        weights = np.asarray(dlogits, dtype=float)

        def loss(_):
            return float(np.sum(weights * _forward(X, params, activation, residual)[0]))

        return _gradient_errors(loss, params, grads), grads

    run.__name__ = getattr(fn, "__name__", "deep_backward")
    return run


def _db_variant(*, identity=True, at="Z", logits_activated=False, output_block=False,
                string_order=False, block_activation=None, relu_ge=False):
    """deep_backward with one step done another way (the hints below); ``block_activation``:
    the blocks' activation, whatever the network's (residual_backward called without it)."""
    def deep_backward(dlogits, caches, activation="relu", residual=False):
        f_grad = _relu_grad_at_zero_one if relu_ge and activation == "relu" \
            else ACTIVATIONS[activation][1]
        block_grad = ACTIVATIONS[block_activation][1] if block_activation else f_grad
        n_layers = len(caches)
        grads = {f"{k}{i}": None for i in range(1, n_layers + 1) for k in "Wb"}
        dlogits = np.asarray(dlogits, dtype=float)
        block = output_block and residual  # residual_backward on the output layer
        dZ = dlogits * f_grad(caches[-1][1]) if logits_activated or block else dlogits
        dH, grads[f"W{n_layers}"], grads[f"b{n_layers}"] = dense_backward(dZ, caches[-1][0])
        if block:
            dH = dH + dlogits
        for i in range(n_layers - 1, 0, -1):
            dense_cache, Z = caches[i - 1]
            where = Z if at == "Z" else caches[i][0][0]  # H_i: the next layer's input
            dZ = dH * (block_grad if residual and i > 1 else f_grad)(where)
            dH_branch, grads[f"W{i}"], grads[f"b{i}"] = dense_backward(dZ, dense_cache)
            dH = dH + dH_branch if residual and identity and i > 1 else dH_branch
        if string_order:
            return {key: grads[key] for key in sorted(grads)}
        return grads
    return deep_backward


_DEEP_BACKWARD = Exercise(
    name="deep_backward",
    reference=ref.deep_backward,
    adapter=_with_central_differences,
    outputs=(_CENTRAL, "grads"),
    depends={"residual_backward": ref.residual_backward},
    visible=(
        _backward_case("a plain ReLU network (the defaults) 5 -> 3 -> 3 -> 3 -> 2 (two "
                       "blocks), N=4 samples", 5, 3, 2, 2, 4),
        _backward_case("a residual tanh network 5 -> 3 (two blocks) -> 3, N=4", 5, 3, 2, 3, 4,
                       "tanh", True),
        _backward_case("a residual tanh network 3 -> 3 (two blocks) -> 3, N=4: D = m = C, so "
                       "treating the input or the output layer as a block has the right shapes",
                       3, 3, 2, 3, 4, "tanh", True),
        _backward_case("a residual ReLU network 5 -> 3 (two blocks) -> 2, N=4", 5, 3, 2, 2, 4,
                       "relu", True),
        _backward_case("a plain sigmoid network 4 -> 3 (two blocks) -> 2, N=5", 4, 3, 2, 2, 5,
                       "sigmoid", False),
        _backward_case("one sample (N=1), a residual sigmoid network 5 -> 4 (three blocks) -> 2",
                       5, 4, 3, 2, 1, "sigmoid", True),
        _backward_case("twelve residual ReLU blocks, 4 -> 3 -> ... -> 3 -> 2, N=3: grads keyed "
                       "W1, b1, ..., W14, b14 in number order (sorted as strings, W10 would come "
                       "right after W1)", 4, 3, 12, 2, 3, "relu", True),
        _backward_case("twelve plain sigmoid blocks near 4 I with biases near -2 (so that the "
                       "first layers' gradients do not vanish), 4 -> 3 -> ... -> 3 -> 2, N=3",
                       4, 3, 12, 2, 3, "sigmoid", False, near_identity=True),
        _backward_case("X and dlogits given as transposes (not contiguous), a residual ELU "
                       "network 5 -> 3 (two blocks) -> 2, N=4", 5, 3, 2, 2, 4, "elu", True,
                       transposed=True),
        _backward_case("no block (depth 0): the input and the output layer only, residual=True, "
                       "5 -> 3 -> 2", 5, 3, 0, 2, 4, "tanh", True),
        _backward_case("integer dlogits, a residual ReLU network 4 -> 3 (one block) -> 2, N=3",
                       4, 3, 1, 2, 3, "relu", True, integer=True),
        _backward_case("a plain ReLU network 4 -> 3 (two blocks) -> 2 with zero biases (as "
                       "deep_init gives them) and a blank sample (X's last row all 0): its Z are "
                       "exactly 0 in every layer, where relu'(0) = 0 (relu_grad, Z > 0)", 4, 3,
                       2, 2, 4, "relu", False, blank=True),
    ),
    hidden=(
        _backward_case("a plain tanh network 6 -> 4 (three blocks) -> 3, N=5", 6, 4, 3, 3, 5,
                       "tanh", False),
        _backward_case("a residual sigmoid network 4 -> 5 (two blocks) -> 2, N=6", 4, 5, 2, 2,
                       6, "sigmoid", True),
        _backward_case("one sample, a residual ELU network 3 -> 4 (four blocks) -> 2", 3,
                       4, 4, 2, 1, "elu", True),
        _backward_case("a residual ReLU network 4 -> 4 (three blocks) -> 4, N=3: D = m = C", 4,
                       4, 3, 4, 3, "relu", True),
        _backward_case("no block (depth 0), a plain ELU network 3 -> 5 -> 2, N=2", 3, 5, 0, 2, 2,
                       "elu", False),
        _backward_case("a residual ReLU network 5 -> 3 (two blocks) -> 3, N=3, zero biases and "
                       "a blank sample: Z = 0 exactly, relu'(0) = 0", 5, 3, 2, 3, 3, "relu", True,
                       blank=True),
    ),
    hints=(
        Hint(_db_variant(identity=False),
             "the identity path is missing: with residual=True each block passes dH_i down "
             "unchanged as well as through its branch, dH_{i-1} = dH_i + dZ_i W_i "
             "(residual_backward does it); did you ignore the residual flag?"),
        Hint(_db_variant(at="H"),
             "f' is taken at the layer's pre-activation Z_i (caches[i-1][1]), not at its output "
             "H_i (the next cache's input): in a residual network H_i = H_{i-1} + f(Z_i) does "
             "not even have Z_i's signs."),
        Hint(_db_variant(block_activation="relu"),
             "pass activation on to residual_backward: called without it, the blocks take "
             "ReLU's derivative, its default, whatever the network's activation "
             "(residual_backward(dH, caches[i - 1], activation))."),
        Hint(_db_variant(relu_ge=True),
             "relu'(0) is 0 in this course (relu_grad uses Z > 0, not Z >= 0): a blank sample "
             "through zero biases has Z = 0 exactly, and sends nothing down; "
             "activation_backward(dH, Z, activation) does it."),
        Hint(_db_variant(logits_activated=True),
             "the output layer is linear: dense_backward takes dlogits itself, with no "
             "activation derivative."),
        Hint(_db_variant(output_block=True),
             "the output layer is not a block (residual_backward): it has no skip and no "
             "activation, so dlogits goes down through dense_backward(dlogits, caches[-1][0]) "
             "only; the blocks are layers 2 .. n-1."),
    ),
)


# ---------------------------------------------------------------- deep_gradient_check


def _errors_in_order(fn):
    """deep_gradient_check -> its errors, relative errors below 1e-7 counted as 0 (rounding
    noise), and keyed W1, b1, ... in that order."""
    noiseless = _rounding_noise_as_zero(fn)

    def run(params, X, y, activation="relu", residual=False, h=1e-5):
        errors = noiseless(params, X, y, activation=activation, residual=residual, h=h)
        order = [f"{k}{i}" for i in range(1, len(params) // 2 + 1) for k in "Wb"]
        if isinstance(errors, dict) and set(errors) == set(order) and list(errors) != order:
            raise ExerciseFailed(
                f"your errors have the right keys but in the order {', '.join(errors)}; return "
                f"them in the order of params, {', '.join(order)}")
        return errors

    run.__name__ = getattr(fn, "__name__", "deep_gradient_check")
    return run


def _gc_variant(*, copy=False, flag_in_loss=True, flag_in_backward=True, pass_activation=True,
                pass_h=True, summed=False, weights_only=False, activation_in_backward=True,
                copy_if_strided=False):
    """deep_gradient_check with one step done another way (the hints below);
    ``copy_if_strided``: a copy perturbed where params[key] is not C-contiguous (as
    params[key].ravel() or .reshape(-1) give one there)."""
    def deep_gradient_check(params, X, y, activation="relu", residual=False, h=1e-5):
        act = activation if pass_activation else "relu"
        logits, caches = ref.deep_forward(X, params, act, residual)
        grads = ref.deep_backward(cross_entropy_grad(logits, y), caches,
                                  act if activation_in_backward else "relu",
                                  residual and flag_in_backward)

        def loss(_):
            value = cross_entropy(ref.deep_forward(X, params, act, residual and flag_in_loss)[0],
                                  y)
            return value * len(y) if summed else value

        errors = {}
        for key in grads:
            if weights_only and key.startswith("b"):
                continue
            strided = copy_if_strided and not params[key].flags.c_contiguous
            x = params[key].copy() if copy or strided else params[key]
            errors[key] = relative_error(grads[key],
                                         numerical_gradient(loss, x, h if pass_h else 1e-5))
        return errors
    return deep_gradient_check


def _check_case(label, D, m, depth, C, n, activation=None, residual=None, h=None,
                transposed=None):
    """A case of deep_gradient_check: params of a network D -> m (depth blocks) -> C, X (n, D)
    and labels y; ``transposed``: that weight given as the transpose of an (m_in, m_out)
    array, not C-contiguous (its ravel() is a copy)."""
    def draw(rng):
        params = _deep_params(rng, D, m, depth, C)
        if transposed:
            params[transposed] = np.ascontiguousarray(params[transposed].T).T
        return params, rng.normal(size=(n, D)), rng.integers(0, C, size=n)
    kwargs = {}
    if activation:
        kwargs["activation"] = activation
    if residual is not None:
        kwargs["residual"] = residual
    if h is not None:
        kwargs["h"] = h
    return drawn_case("deep_gradient_check", label, draw, kwargs)


_NOISE_NOTE = "(relative errors below 1e-7 are rounding noise and count as 0)"

_DEEP_GRADIENT_CHECK = Exercise(
    name="deep_gradient_check",
    reference=ref.deep_gradient_check,
    adapter=_errors_in_order,
    depends={"deep_forward": ref.deep_forward, "deep_backward": ref.deep_backward},
    visible=(
        _check_case(f"a plain ReLU network (the defaults) 5 -> 3 (two blocks) -> 2, N=4 "
                    f"{_NOISE_NOTE}", 5, 3, 2, 2, 4),
        _check_case("a residual tanh network 5 -> 3 (three blocks) -> 2, N=4, with a large "
                    "step, h = 0.1, so that the O(h^2) error of central differences shows", 5, 3,
                    3, 2, 4, "tanh", True, 0.1),
        _check_case("a plain sigmoid network 4 -> 3 (two blocks) -> 3, N=5, h = 0.05", 4, 3, 2,
                    3, 5, "sigmoid", False, 0.05),
        _check_case(f"a residual ELU network 5 -> 3 (three blocks) -> 2, N=4 {_NOISE_NOTE}",
                    5, 3, 3, 2, 4, "elu", True),
        _check_case(f"twelve residual ReLU blocks, 4 -> 3 -> ... -> 3 -> 2, N=2: errors keyed "
                    f"W1, b1, ..., W14, b14 in that order {_NOISE_NOTE}", 4, 3, 12, 2, 2,
                    "relu", True),
        _check_case("no block (depth 0), residual=True, a tanh network 4 -> 3 -> 2, N=3, "
                    "h = 0.2", 4, 3, 0, 2, 3, "tanh", True, 0.2),
        _check_case(f"W2 given as a transpose (not contiguous: its ravel() is a copy), a "
                    f"residual tanh network 4 -> 3 (two blocks) -> 2, N=3 {_NOISE_NOTE}", 4, 3,
                    2, 2, 3, "tanh", True, transposed="W2"),
    ),
    hidden=(
        _check_case("a residual sigmoid network 3 -> 4 (two blocks) -> 2, N=3, h = 0.05", 3, 4,
                    2, 2, 3, "sigmoid", True, 0.05),
        _check_case(f"a residual tanh network 5 -> 3 (four blocks) -> 3, N=6 {_NOISE_NOTE}", 5,
                    3, 4, 3, 6, "tanh", True),
        _check_case("a residual ELU network 4 -> 3 (six blocks) -> 2, N=3, h = 0.1", 4, 3, 6, 2,
                    3, "elu", True, 0.1),
    ),
    hints=(
        Hint(_gc_variant(copy=True),
             "every relative error is 1: your numerical gradient is 0, because the loss never "
             "saw the perturbation. Pass params[key] itself to numerical_gradient, not a copy, "
             "and let the loss read params."),
        Hint(_gc_variant(flag_in_loss=False),
             "the loss inside your numerical gradient ignores the residual flag: pass residual "
             "on to deep_forward there too, or you compare a residual network's gradients with "
             "a plain network's loss."),
        Hint(_gc_variant(flag_in_backward=False),
             "pass residual on to deep_backward: the backward pass must know which layers are "
             "blocks."),
        Hint(_gc_variant(summed=True),
             "the loss is the MEAN cross-entropy over the batch (cross_entropy), the one "
             "cross_entropy_grad differentiates: not N times it."),
        Hint(_gc_variant(pass_activation=False),
             "pass activation on to deep_forward and deep_backward, in both places (the "
             "analytic gradient and the loss inside the numerical one)."),
        Hint(_gc_variant(activation_in_backward=False),
             "pass activation on to deep_backward too: without it the analytic gradients are "
             "ReLU's, its default, while the loss is your activation's network."),
        Hint(_gc_variant(copy_if_strided=True),
             "the error of a weight given as a transpose (not contiguous) is 1: your "
             "perturbation never reached params. x.ravel() or x.reshape(-1) of such an array "
             "is a copy; perturb params[key] itself, by index (numerical_gradient(loss, "
             "params[key], h) does)."),
        Hint(_gc_variant(pass_h=False), "pass h on to numerical_gradient."),
        Hint(_gc_variant(weights_only=True),
             "check every parameter, the biases b1, b2, ... too: one entry per key of params."),
    ),
)


# ---------------------------------------------------------------- deep_init


class _Seed:
    """deep_init's ``seed``, an int; the grader's fresh cases give it another."""

    def __init__(self, seed):
        self.draws = Seeded(seed)

    def __repr__(self):
        return str(self.draws.seed)


#: a case that leaves deep_init's seed out: the function's own default must be 0
_DEFAULT_SEED = object()


def _init_run(fn):
    """deep_init -> its params, keyed W1, b1, ... in that order; a case's seed as an int."""
    def run(D, width, depth, C, activation="relu", residual=False, seed=_DEFAULT_SEED):
        draws = getattr(seed, "draws", None)  # a _Seed (by its part: a reload makes a new class)
        seed = draws.seed if isinstance(draws, Seeded) else seed
        given = {} if seed is _DEFAULT_SEED else {"seed": seed}  # else its default, seed=0
        params = fn(D, width, depth, C, activation=activation, residual=residual, **given)
        order = [f"{k}{i}" for i in range(1, depth + 3) for k in "Wb"]
        if isinstance(params, dict) and set(params) == set(order) and list(params) != order:
            raise ExerciseFailed(
                f"your params have the right keys but in the order {', '.join(params)}; return "
                f"them in the order of the layers, {', '.join(order)}")
        return params

    run.__name__ = getattr(fn, "__name__", "deep_init")
    return run


_SWAP = {"he": "xavier", "xavier": "he"}


def _di_variant(*, choose=lambda kind: kind, block_scale=lambda depth: depth,
                every_layer=False, fresh_rng=False, sizes_swapped=False, he_by_name=False):
    """deep_init with one step done another way (the hints below); ``he_by_name``: He for
    activation == "relu" only, Xavier for every other."""
    def deep_init(D, width, depth, C, activation="relu", residual=False, seed=0):
        kind = ACTIVATIONS[activation].init
        if he_by_name:
            kind = "he" if activation == "relu" else "xavier"
        init = {"he": he_init, "xavier": xavier_init}[choose(kind)]
        sizes = [D] + [width] * (depth + 1) + [C]
        n_layers = depth + 2
        rng = np.random.default_rng(seed)
        params = {}
        for i, (m_in, m_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
            draws = np.random.default_rng(seed) if fresh_rng else rng
            W = init(m_out, m_in, draws) if sizes_swapped else init(m_in, m_out, draws)
            if residual and depth and (1 < i < n_layers or every_layer):
                W = W / block_scale(depth)
            params[f"W{i}"] = W
            params[f"b{i}"] = np.zeros(m_out)
        return params
    return deep_init


def _init_case(label, D, width, depth, C, activation=None, residual=None, seed=0):
    """A case of deep_init; ``seed=None``: left out, so the function's default is used."""
    kwargs = {}
    if activation:
        kwargs["activation"] = activation
    if residual is not None:
        kwargs["residual"] = residual
    if seed is not None:
        kwargs["seed"] = _Seed(seed)
    return Case(label, (D, width, depth, C), kwargs)


_DEEP_INIT = Exercise(
    name="deep_init",
    reference=ref.deep_init,
    adapter=_init_run,
    visible=(
        _init_case("a plain ReLU network (He) 5 -> 3 (two blocks) -> 2", 5, 3, 2, 2, seed=0),
        _init_case("a plain tanh network (Xavier) 5 -> 4 (three blocks) -> 2", 5, 4, 3, 2,
                   "tanh", False, seed=1),
        _init_case("a residual ReLU network 6 -> 4 (four blocks, each W divided by L = 4) -> 3",
                   6, 4, 4, 3, "relu", True, seed=2),
        _init_case("a residual sigmoid network (Xavier) 5 -> 3 (three blocks, / 3) -> 2", 5, 3,
                   3, 2, "sigmoid", True, seed=3),
        _init_case("no block (depth 0): the input and the output layer only, residual=True, "
                   "ELU (He) 4 -> 3 -> 2", 4, 3, 0, 2, "elu", True, seed=4),
        _init_case("twelve residual tanh blocks, 4 -> 3 -> ... -> 3 -> 2: W1 .. W14 drawn and "
                   "keyed in number order", 4, 3, 12, 2, "tanh", True, seed=5),
        _init_case("a plain softplus network (He, as every ReLU-like unit) 3 -> 4 (one block) "
                   "-> 2", 3, 4, 1, 2, "softplus", False, seed=9),
        _init_case("seed left out: its default, seed=0, so the same draws as "
                   "deep_init(4, 3, 2, 2, \"tanh\", True, seed=0), reproducible from run to run",
                   4, 3, 2, 2, "tanh", True, seed=None),
    ),
    hidden=(
        _init_case("a plain softplus network (He) 3 -> 5 (two blocks) -> 4", 3, 5, 2, 4,
                   "softplus", False, seed=6),
        _init_case("a residual ELU network 6 -> 3 (five blocks) -> 2", 6, 3, 5, 2, "elu", True,
                   seed=7),
        _init_case("one residual block (L = 1: nothing to divide), tanh, 2 -> 4 -> 3", 2, 4, 1,
                   3, "tanh", True, seed=8),
    ),
    hints=(
        Hint(_di_variant(he_by_name=True),
             "He for activation == \"relu\" only: use ACTIVATIONS[activation].init, ELU and "
             "softplus take He too (every ReLU-like unit does)."),
        Hint(_di_variant(choose=lambda kind: _SWAP[kind]),
             "He and Xavier swapped: ReLU-like units (relu, elu, softplus) take He, "
             "N(0, 2 / m_in); tanh and sigmoid take Xavier, N(0, 2 / (m_in + m_out)); "
             "ACTIVATIONS[activation].init says which."),
        Hint(_di_variant(choose=lambda kind: "he"),
             "He for every activation: tanh and sigmoid take Xavier; look the initialisation "
             "up with ACTIVATIONS[activation].init."),
        Hint(_di_variant(choose=lambda kind: "xavier"),
             "Xavier for every activation: ReLU-like units take He; look the initialisation up "
             "with ACTIVATIONS[activation].init."),
        Hint(_di_variant(block_scale=lambda depth: 1.0),
             "with residual=True each block's W is divided by L, the number of blocks, so that "
             "the branches start small."),
        Hint(_di_variant(block_scale=np.sqrt),
             "divide each block's W by L, not by sqrt(L): ReLU's branches have a mean above 0, "
             "so their contributions add up and 1/sqrt(L) lets H grow."),
        Hint(_di_variant(every_layer=True),
             "only the blocks are divided by L: the input and the output layer are not "
             "branches and keep their initialisation."),
        Hint(_di_variant(fresh_rng=True),
             "one generator for the whole network, rng = np.random.default_rng(seed) made once "
             "before the loop: a new one per layer draws the same numbers for every layer."),
        Hint(_di_variant(sizes_swapped=True),
             "he_init / xavier_init take (n_in, n_out, rng) and return (n_out, n_in): pass the "
             "layer's input width first."),
    ),
)


# ---------------------------------------------------------------- layer_gradient_norms


def _grads_case(label, shapes, transposed=False, integer=False, one_sample=False,
                shuffled=False):
    """A case of layer_gradient_norms: grads of rank above 1 (``one_sample``: of rank 1, as one
    sample gives them) for layers of these W shapes, with bias gradients of size about 100, so
    that counting them in shows."""
    def draw(rng):
        grads = {}
        for i, (rows, cols) in enumerate(shapes, start=1):
            if one_sample:
                grads[f"W{i}"] = np.outer(rng.normal(size=rows), rng.normal(size=cols))
            elif integer:
                grads[f"W{i}"] = rng.integers(-5, 6, size=(rows, cols))
            elif transposed:
                grads[f"W{i}"] = rng.normal(size=(cols, rows)).T * rng.uniform(0.1, 3.0)
            else:
                grads[f"W{i}"] = rng.normal(size=(rows, cols)) * rng.uniform(0.1, 3.0)
            grads[f"b{i}"] = rng.normal(0.0, 100.0, size=rows)
        return (_out_of_order(grads) if shuffled else grads,)
    return drawn_case("layer_gradient_norms", label, draw)


def _norms_of(norm, keys=lambda grads: [f"W{i}" for i in range(1, len(grads) // 2 + 1)]):
    def layer_gradient_norms(grads):
        return np.array([norm(grads, key) for key in keys(grads)], dtype=float)
    return layer_gradient_norms


def _frobenius(grads, key):
    return np.linalg.norm(np.asarray(grads[key], dtype=float))


_DEEP = [(3, 5), (3, 3), (3, 3), (2, 3)]
_FOURTEEN = [(3, 4)] + [(3, 3)] * 12 + [(2, 3)]

_LAYER_GRADIENT_NORMS = Exercise(
    name="layer_gradient_norms",
    reference=ref.layer_gradient_norms,
    visible=(
        _grads_case("four layers 5 -> 3 -> 3 -> 3 -> 2, bias gradients of size 100", _DEEP),
        _grads_case("fourteen layers, W1 .. W14: W10 comes after W9 (sorted as strings, it "
                    "would come right after W1)", _FOURTEEN),
        _grads_case("two layers 6 -> 4 -> 3, the gradients given as transposes (not "
                    "contiguous)", [(4, 6), (3, 4)], transposed=True),
        _grads_case("integer gradients, three layers 2 -> 3 -> 3 -> 2", [(3, 2), (3, 3), (2, 3)],
                    integer=True),
        _grads_case("the gradients of one sample (each dW = dz x^T has rank 1), three layers "
                    "4 -> 3 -> 3 -> 2", [(3, 4), (3, 3), (2, 3)], one_sample=True),
        _grads_case("grads inserted in another order (b4, b3, b2, b1, W2, W3, W4, W1), four "
                    "layers 5 -> 4 -> 3 -> 3 -> 2: entry i - 1 is the norm of grads[f\"W{i}\"], "
                    "by number, whatever the dict's order", [(4, 5), (3, 4), (3, 3), (2, 3)],
                    shuffled=True),
    ),
    hidden=(
        _grads_case("five layers 7 -> 4 -> 4 -> 4 -> 4 -> 3", [(4, 7)] + [(4, 4)] * 3 + [(3, 4)]),
        _grads_case("twelve layers of width 2", [(2, 3)] + [(2, 2)] * 10 + [(4, 2)]),
        _grads_case("one sample, four layers 5 -> 4 -> 4 -> 4 -> 2", [(4, 5), (4, 4), (4, 4),
                                                                     (2, 4)], one_sample=True),
    ),
    hints=(
        Hint(lambda grads: np.array([np.linalg.norm(np.asarray(g, dtype=float))
                                     for g in grads.values()]),
             "one norm per layer, of its weight gradient dW_i only: you returned one per "
             "key, the biases' too (2 n values for n layers)."),
        Hint(_norms_of(lambda grads, key: np.sqrt(_frobenius(grads, key) ** 2 + np.linalg.norm(
            np.asarray(grads["b" + key[1:]], dtype=float)) ** 2)),
             "the biases are left out: the norm of dW_i alone, not of dW_i and db_i together."),
        Hint(_norms_of(_frobenius, keys=lambda grads: sorted(k for k in grads
                                                             if k.startswith("W"))),
             "layers taken in string order (W1, W10, W11, ..., W2): go through them by number, "
             "W1, W2, ..., Wn."),
        Hint(_norms_of(lambda grads, key: np.linalg.norm(np.asarray(grads[key], dtype=float), 2)),
             "np.linalg.norm(dW, 2) of a matrix is its largest singular value (the spectral "
             "norm); the Frobenius norm is np.linalg.norm(dW), the square root of the sum of "
             "squares."),
        Hint(_norms_of(_frobenius, keys=lambda grads: [f"W{i}" for i in
                                                      range(len(grads) // 2, 0, -1)]),
             "from the input layer to the output: W1 first."),
        Hint(_norms_of(_frobenius, keys=lambda grads: [k for k in grads if k.startswith("W")]),
             "layers taken in the dict's insertion order: go through them by number, "
             "grads[f\"W{i}\"] for i in range(1, n + 1) (a dict built in another order gives "
             "its keys in that order)."),
        Hint(_norms_of(lambda grads, key: _frobenius(grads, key) ** 2),
             "the norm, not its square: take the square root of the sum of squares."),
        Hint(_norms_of(lambda grads, key: np.sqrt(np.mean(np.asarray(grads[key], float) ** 2))),
             "the Frobenius norm is the square root of the SUM of squares, not of their mean."),
    ),
)


EXERCISES = {
    "residual_forward": _RESIDUAL_FORWARD,
    "residual_backward": _RESIDUAL_BACKWARD,
    "deep_forward": _DEEP_FORWARD,
    "deep_backward": _DEEP_BACKWARD,
    "deep_gradient_check": _DEEP_GRADIENT_CHECK,
    "deep_init": _DEEP_INIT,
    "layer_gradient_norms": _LAYER_GRADIENT_NORMS,
}
