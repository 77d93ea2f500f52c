"""The exercises of notebook 02: the dense layer, He and Xavier initialisation, an MLP's forward pass."""

from __future__ import annotations

import copy

import numpy as np

from .. import layers, network
from ..activations import ACTIVATIONS
from ._engine import Case, Exercise, ExerciseFailed, Hint
from ._seeds import case_rng

__all__ = ["EXERCISES", "OnesGenerator"]


class _Rng(np.random.Generator):
    """``np.random.default_rng(seed)``, shown to the student as ``default_rng(seed)``.

    A check copies its inputs for every call, so the reference and the student's
    function start from the same state and draw the same numbers.
    """

    def __init__(self, seed: int):
        super().__init__(np.random.PCG64(seed))
        self._seed = seed

    def __repr__(self):
        return f"default_rng({self._seed})"

    def __deepcopy__(self, memo):
        twin = type(self)(self._seed)
        twin.bit_generator.state = copy.deepcopy(self.bit_generator.state)
        return twin


class OnesGenerator:
    """A stand-in for a ``numpy.random.Generator`` whose standard normal draws are all 1.

    ``OnesGenerator().normal(0.0, std, size)`` is ``std`` everywhere, so the
    scale of an initialisation can be checked against numbers worked out by
    hand: ``he_init(8, 2, OnesGenerator())`` is a (2, 8) array of sqrt(2/8) = 0.5.
    """

    def normal(self, loc=0.0, scale=1.0, size=None):
        return np.asarray(loc, dtype=np.float64) + scale * np.ones(size)

    def standard_normal(self, size=None, dtype=np.float64, out=None):
        return np.ones(size, dtype=dtype)

    def __repr__(self):
        return "OnesGenerator()"


# ---------------------------------------------------------------- dense_forward

def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a value of type {type(value).__name__}"


def _pair(value) -> bool:
    return isinstance(value, (tuple, list)) and len(value) == 2


def _dense_parts(fn):
    """dense_forward -> a function returning (Z, cache[0], cache[1]), compared part by part.

    A wrong shape of the whole answer, or a matrix product that does not fit,
    gets a sentence about the layout instead of NumPy's bare error.
    """
    def run(X, W, b):
        try:
            out = fn(X, W, b)
        except ValueError as exc:
            if "matmul" in str(exc) or "broadcast" in str(exc) or "align" in str(exc):
                raise ValueError(
                    f"{exc}\n  The shapes: X is {X.shape} = (N, D), W is {W.shape} = (H, D), "
                    f"b is {b.shape} = (H,). Z = X @ W.T + b has shape (N, H) = "
                    f"({X.shape[0]}, {W.shape[0]})."
                ) from None
            raise
        if out is None:
            return None
        if not _pair(out) or not _pair(out[1]):
            raise TypeError(
                f"dense_forward must return a pair (Z, cache) with cache = (X, W); yours returned "
                f"{_describe(out)}" + (f" whose cache is {_describe(out[1])}" if _pair(out) else "")
                + ". End with `return Z, (X, W)`."
            )
        return out[0], _as_given(out[1][0]), _as_given(out[1][1])
    return run


def _as_given(part):
    """A cached input, compared by value: X cached exactly as given, integers (pixels)
    included, is right; the reference keeps a float64 copy of it."""
    if isinstance(part, np.ndarray) and part.dtype.kind in "iub":
        return part.astype(np.float64)
    return part


def _dense_case(label, n, d, h, zero_w=False, pixels=False):
    """X (N, D), W (H, D), b (H,). ``pixels``: X holds integers 0..16, as the digits do,
    and is a transpose, not contiguous in memory (a copy for the call keeps it so)."""
    rng = case_rng("dense_forward", label)
    X = rng.integers(0, 17, size=(d, n)).T if pixels else rng.normal(size=(n, d))
    W = np.zeros((h, d)) if zero_w else rng.normal(size=(h, d))
    b = rng.uniform(0.5, 1.5, size=h) * rng.choice([-1.0, 1.0], size=h)  # away from 0
    return Case(label, (X, W, b))


# ---------------------------------------------------------------- he_init, xavier_init

def _init_case(label, n_in, n_out, seed, used=0):
    rng = _Rng(seed)
    if used:  # a generator that has drawn before: the student must use it, not a new one
        rng.normal(size=used)
    return Case(label, (n_in, n_out, rng))


_INIT_CASES_VISIBLE = (
    _init_case("a layer with 5 inputs and 3 units", 5, 3, 0),
    _init_case("the first layer of the digits network: 64 inputs, 128 units", 64, 128, 1),
    # the hidden cases have a generator that has drawn before, so the visible ones do too
    # (one made inside, default_rng(0), leaves rng as it was: the adapter names that)
    _init_case("a single input, 3 units, from a generator that has already drawn 5 numbers",
               1, 3, 8, used=5),
    _init_case("6 inputs, a single unit", 6, 1, 9),
)
_INIT_CASES_HIDDEN = (
    _init_case("a layer with 3 inputs and 5 units", 3, 5, 2),
    _init_case("a single input, 4 units", 1, 4, 3),
    _init_case("7 inputs, a single unit", 7, 1, 4),
    _init_case("one input, one unit", 1, 1, 5),
    _init_case("a 256 x 256 layer", 256, 256, 6),
    _init_case("a generator that has already drawn 10 numbers", 6, 2, 7, used=10),
)


def _drawn_from_rng(name):
    """he_init / xavier_init -> the same function, failing when it leaves ``rng`` untouched.

    Numbers drawn from np.random (or from a generator of the student's own) differ
    from the reference's on every run, so no known wrong answer can match them; the
    generator's state tells: a function that draws from ``rng`` moves it on.
    """
    def adapter(fn):
        def run(n_in, n_out, rng):
            state = copy.deepcopy(rng.bit_generator.state) \
                if isinstance(rng, np.random.Generator) else None
            W = fn(n_in, n_out, rng)
            if state is not None and W is not None and rng.bit_generator.state == state:
                raise ExerciseFailed(
                    f"{name}({n_in}, {n_out}, {rng!r}) left the generator rng as it was: its "
                    f"weights were not drawn from it.\n  Likely mistake: {_NP_RANDOM_HINT}"
                )
            return W
        return run
    return adapter


_NP_RANDOM_HINT = ("you drew from np.random (np.random.normal, np.random.randn, or a new "
                   "default_rng()) instead of the rng you are given: draw with "
                   "rng.normal(0.0, std, size=(n_out, n_in)), so that the same generator "
                   "always gives the same weights.")


def _np_random(std_of):
    def wrong(n_in, n_out, rng):
        return np.random.normal(0.0, std_of(n_in, n_out), size=(n_out, n_in))
    return wrong


def _normal(std_of, shape_of=lambda n_in, n_out: (n_out, n_in), transpose=False):
    def wrong(n_in, n_out, rng):
        W = rng.normal(0.0, std_of(n_in, n_out), size=shape_of(n_in, n_out))
        return W.T if transpose else W
    return wrong


def _he_std(n_in, n_out):  # He uses the fan-in only
    return np.sqrt(2.0 / n_in)


def _xavier_std(n_in, n_out):
    return np.sqrt(2.0 / (n_in + n_out))


def _transposed_shape(n_in, n_out):
    return (n_in, n_out)


def _xavier_uniform(n_in, n_out, rng):
    limit = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-limit, limit, size=(n_out, n_in))


_SHAPE_HINT = ("W has shape (n_out, n_in), one row per unit of the layer: draw with "
               "size=(n_out, n_in).")
_TRANSPOSE_HINT = ("you drew an (n_in, n_out) array and transposed it: the shape is right but "
                   "the numbers come out in another order. Draw size=(n_out, n_in) directly.")


# ---------------------------------------------------------------- mlp_forward

def _n_layers(params) -> int:
    return sum(1 for key in params if str(key).startswith("W"))


def _mlp_parts(fn):
    """mlp_forward -> a function returning a dict of every cached array and the logits.

    Layer by layer (H_{i-1}, W_i, Z_i), then the logits, so the first part that
    differs names the layer where the forward pass goes wrong.
    """
    def run(X, params, **kwargs):
        out = fn(X, params, **kwargs)
        if out is None:
            return None
        n_layers = _n_layers(params)
        if not _pair(out):
            raise TypeError(
                f"mlp_forward must return a pair (logits, caches); yours returned {_describe(out)}. "
                f"End with `return Z, caches`."
            )
        logits, caches = out
        if not isinstance(caches, (tuple, list)) or len(caches) != n_layers:
            raise TypeError(
                f"caches must be a list with one entry per layer, {n_layers} here; yours is "
                f"{_describe(caches)}. Append ((H_(i-1), W_i), Z_i) once for every layer."
            )
        parts = {}
        for i, cache in enumerate(caches, start=1):
            if not (_pair(cache) and _pair(cache[0])):
                raise TypeError(
                    f"caches[{i - 1}] must be ((H_{i - 1}, W_{i}), Z_{i}): the cache that "
                    f"dense_forward returned, then the layer's output before the activation; "
                    f"yours is {_describe(cache)}."
                )
            (H, W), Z = cache
            parts[f"caches[{i - 1}] H_{i - 1}"] = _as_given(H)
            parts[f"caches[{i - 1}] W_{i}"] = W
            parts[f"caches[{i - 1}] Z_{i}"] = Z
        parts["logits"] = logits
        return parts
    return run


def _mlp_wrong(hidden_f=None, output_f=False, cache_after=False, layer_params=None):
    """A forward pass with one known mistake, for the hints (built from the reference layer).

    ``layer_params(params)`` gives the (W, b) pairs in the order the mistake takes them.
    """
    def wrong(X, params, activation="relu"):
        f = hidden_f or ACTIVATIONS[activation][0]
        pairs = (layer_params or _by_name)(params)
        H, caches = X, []
        for i, (W, b) in enumerate(pairs, start=1):
            Z, cache = layers.dense_forward(H, W, b)
            hidden = i < len(pairs)
            caches.append((cache, f(Z) if cache_after and hidden else Z))
            if hidden:
                H = f(Z)
        return (f(Z) if output_f else Z), caches
    return wrong


def _by_name(params):
    return [(params[f"W{i}"], params[f"b{i}"]) for i in range(1, _n_layers(params) + 1)]


def _in_dict_order(params):
    values = list(params.values())  # W1, b1, W2, ... only if the dict was built so
    return list(zip(values[0::2], values[1::2], strict=True))


def _in_sorted_order(params):
    # as strings "W10" < "W2": the layers of a deep network come out shuffled
    return [(params[key], params["b" + key[1:]]) for key in sorted(k for k in params
                                                                   if k.startswith("W"))]


def _mlp_params(sizes, rng, order=None):
    params = {}
    for i, (m_in, m_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        params[f"W{i}"] = rng.normal(0.0, np.sqrt(2.0 / m_in), size=(m_out, m_in))
        params[f"b{i}"] = rng.normal(0.0, 0.5, size=m_out)  # biases away from 0
    if order is not None:
        params = {key: params[key] for key in order}
    return params


def _mlp_case(label, n, sizes, activation=None, order=None, scale=1.0, pixels=False):
    rng = case_rng("mlp_forward", label)
    params = _mlp_params(sizes, rng, order)
    if pixels:  # integers 0..16, as the digits, in a transpose: not contiguous in memory
        X = rng.integers(0, 17, size=(sizes[0], n)).T
    else:
        X = rng.normal(0.0, scale, size=(n, sizes[0]))
    kwargs = {} if activation is None else {"activation": activation}
    return Case(label, (X, params), kwargs)


EXERCISES = {
    "dense_forward": Exercise(
        name="dense_forward",
        reference=layers.dense_forward,
        visible=(
            _dense_case("N=2 samples, D=3 inputs, H=3 units", 2, 3, 3),
            _dense_case("N=4 samples, D=5 inputs, H=3 units", 4, 5, 3),
            _dense_case("one sample and one unit: N=1, D=4, H=1", 1, 4, 1),
            _dense_case("X of integer pixel values 0..16, as the digits, given as a transpose "
                        "(not contiguous): N=5, D=3, H=2", 5, 3, 2, pixels=True),
            _dense_case("a single input feature: N=4, D=1, H=3", 4, 1, 3),
            # a loop over the samples, np.array([W @ x + b for x in X]), gives shape (0,)
            _dense_case("an empty batch: N=0 samples, D=4, H=3 (Z has shape (0, 3))", 0, 4, 3),
        ),
        hidden=(
            _dense_case("one sample: N=1, D=6, H=2", 1, 6, 2),
            _dense_case("a single input feature: N=5, D=1, H=4", 5, 1, 4),
            _dense_case("a single unit: N=3, D=4, H=1", 3, 4, 1),
            _dense_case("N=7, D=9, H=8", 7, 9, 8),
            _dense_case("all weights 0, so every row of Z is b (N=3, D=2, H=4)", 3, 2, 4,
                        zero_w=True),
            _dense_case("an empty batch: N=0, D=3, H=2", 0, 3, 2),
        ),
        hints=(
            Hint(lambda X, W, b: (X @ W + b, (X, W)),
                 "you computed X @ W: W has shape (H, D), one row per unit, so Z = X @ W.T + b."),
            Hint(lambda X, W, b: (W @ X.T + b[:, None], (X, W)),
                 "you returned Z transposed, shape (H, N): the rows of Z are the samples, "
                 "Z = X @ W.T + b."),
            Hint(lambda X, W, b: (X @ W.T, (X, W)), "you forgot to add the bias b."),
            Hint(lambda X, W, b: (X @ W.T - b, (X, W)), "you subtracted b: Z = X @ W.T + b."),
            Hint(lambda X, W, b: (np.squeeze(X @ W.T + b), (X, W)),
                 "you squeezed Z: keep its shape (N, H) also when N or H is 1 (one sample is "
                 "still a batch, one unit still a layer)."),
            Hint(lambda X, W, b: (X @ W.T + b, (X, W.T)),
                 "the cache holds W as it was given, shape (H, D), not W.T."),
            Hint(lambda X, W, b: (X @ W.T + b, (W, X)),
                 "the cache is (X, W), in that order: the input first, then the weights."),
        ),
        outputs=("Z", "cache[0] (X)", "cache[1] (W)"),
        adapter=_dense_parts,
    ),
    "he_init": Exercise(
        name="he_init",
        reference=layers.he_init,
        visible=_INIT_CASES_VISIBLE,
        hidden=_INIT_CASES_HIDDEN,
        hints=(
            Hint(_normal(lambda n_in, n_out: 2.0 / n_in),
                 "you passed the variance 2 / n_in as the standard deviation: rng.normal takes "
                 "the std, np.sqrt(2.0 / n_in)."),
            Hint(_normal(lambda n_in, n_out: np.sqrt(1.0 / n_in)),
                 "std sqrt(1 / n_in) keeps the variance for linear or tanh units; He's is "
                 "sqrt(2 / n_in), because ReLU zeroes half of its inputs."),
            Hint(_normal(lambda n_in, n_out: np.sqrt(2.0 / n_out)),
                 "He's variance uses n_in, the number of inputs of each unit: sqrt(2 / n_in)."),
            Hint(_normal(_xavier_std),
                 "that is Xavier's std sqrt(2 / (n_in + n_out)); He's is sqrt(2 / n_in)."),
            Hint(_normal(_he_std, _transposed_shape), _SHAPE_HINT),
            Hint(_normal(_he_std, _transposed_shape, transpose=True), _TRANSPOSE_HINT),
            # named by the adapter, which sees that rng was not used (the numbers never match)
            Hint(_np_random(_he_std), _NP_RANDOM_HINT),
        ),
        adapter=_drawn_from_rng("he_init"),
    ),
    "xavier_init": Exercise(
        name="xavier_init",
        reference=layers.xavier_init,
        visible=_INIT_CASES_VISIBLE,
        hidden=_INIT_CASES_HIDDEN,
        hints=(
            Hint(_normal(lambda n_in, n_out: 2.0 / (n_in + n_out)),
                 "you passed the variance 2 / (n_in + n_out) as the standard deviation: "
                 "rng.normal takes the std, np.sqrt(2.0 / (n_in + n_out))."),
            Hint(_normal(lambda n_in, n_out: np.sqrt(1.0 / (n_in + n_out))),
                 "you forgot the 2: Xavier's std is sqrt(2 / (n_in + n_out))."),
            Hint(_normal(_he_std),
                 "that is He's std sqrt(2 / n_in); Xavier's averages the fan-in and the "
                 "fan-out: sqrt(2 / (n_in + n_out))."),
            Hint(_normal(lambda n_in, n_out: np.sqrt(1.0 / n_in)),
                 "std sqrt(1 / n_in) uses the fan-in only; Xavier's is sqrt(2 / (n_in + n_out))."),
            Hint(_xavier_uniform,
                 "that is Xavier's uniform variant; the course uses the normal one, "
                 "rng.normal(0.0, std, size=(n_out, n_in))."),
            Hint(_normal(_xavier_std, _transposed_shape), _SHAPE_HINT),
            Hint(_normal(_xavier_std, _transposed_shape, transpose=True), _TRANSPOSE_HINT),
            # named by the adapter, which sees that rng was not used (the numbers never match)
            Hint(_np_random(_xavier_std), _NP_RANDOM_HINT),
        ),
        adapter=_drawn_from_rng("xavier_init"),
    ),
    "mlp_forward": Exercise(
        name="mlp_forward",
        reference=network.mlp_forward,
        visible=(
            _mlp_case("a 5 -> 3 -> 2 network on N=4 samples, default activation (relu), logits "
                      "of both signs", 4, [5, 3, 2]),
            _mlp_case("a 4 -> 6 -> 5 -> 3 tanh network on N=7 samples", 7, [4, 6, 5, 3],
                      "tanh"),
            _mlp_case("a deep sigmoid network: 12 layers, 5 -> 6 -> 6 -> ... -> 6, on N=3 "
                      "samples (W10, W11, W12 come after W9)", 3, [5] + [6] * 12, "sigmoid"),
            _mlp_case("params given in the order W2, b2, W1, b1 (look them up by name): "
                      "4 -> 4 -> 4, elu, N=2", 2, [4, 4, 4], "elu",
                      order=["W2", "b2", "W1", "b1"]),
            _mlp_case("one sample (N=1) through a single hidden unit: 3 -> 1 -> 2, softplus",
                      1, [3, 1, 2], "softplus"),
            _mlp_case("X of integer pixel values 0..16, as the digits, given as a transpose "
                      "(not contiguous): 6 -> 4 -> 3 on N=5", 5, [6, 4, 3], pixels=True),
            _mlp_case("a single layer 3 -> 2 (no hidden layer: a linear model, no activation "
                      "anywhere), tanh, N=4", 4, [3, 2], "tanh"),
            _mlp_case("activation='relu' passed by name, inputs of size about 100: 4 -> 5 -> 3 "
                      "on N=3", 3, [4, 5, 3], "relu", scale=100.0),
        ),
        hidden=(
            _mlp_case("a single layer 6 -> 2 (no hidden layer: a linear model)", 3, [6, 2],
                      "relu"),
            _mlp_case("a 3 -> 7 -> 5 -> 4 -> 2 sigmoid network on N=6", 6, [3, 7, 5, 4, 2],
                      "sigmoid"),
            _mlp_case("one sample, 2 -> 8 -> 3, elu", 1, [2, 8, 3], "elu"),
            _mlp_case("softplus, 5 -> 4 -> 6 on N=3", 3, [5, 4, 6], "softplus"),
            _mlp_case("params given in the order b1, W2, W1, b2", 4, [3, 5, 2],
                      order=["b1", "W2", "W1", "b2"]),
            _mlp_case("relu passed by name, inputs of size 100", 5, [4, 3, 6, 2], "relu",
                      scale=100.0),
        ),
        hints=(
            Hint(_mlp_wrong(hidden_f=lambda z: z),
                 "apply the activation after every hidden layer, H_i = f(Z_i): without it the "
                 "layers collapse into one affine map."),
            Hint(_mlp_wrong(output_f=True),
                 "the last layer is linear: return its Z as the logits, without the activation."),
            Hint(_mlp_wrong(cache_after=True),
                 "each cache ends with Z_i, the layer's output before the activation "
                 "(backpropagation needs f'(Z_i)), not H_i = f(Z_i)."),
            Hint(_mlp_wrong(hidden_f=ACTIVATIONS["relu"][0]),
                 "you ignored the `activation` argument: take f = ACTIVATIONS[activation][0]."),
            Hint(_mlp_wrong(layer_params=_in_dict_order),
                 "you took the parameters in the dict's order (params.values() or .items()); "
                 "a dict's order is not guaranteed to be W1, b1, W2, ...: look each one up by "
                 "name, params[f\"W{i}\"] and params[f\"b{i}\"], for i = 1, ..., L."),
            Hint(_mlp_wrong(layer_params=_in_sorted_order),
                 "you took the layers in the sorted order of their names, where \"W10\" comes "
                 "before \"W2\" (strings sort letter by letter): loop over i = 1, ..., L and "
                 "look the parameters up as params[f\"W{i}\"]."),
        ),
        adapter=_mlp_parts,
        depends={"dense_forward": layers.dense_forward},
    ),
}
