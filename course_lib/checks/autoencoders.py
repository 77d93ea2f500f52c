"""The exercises of notebook 07: PCA, principal angles, and an autoencoder's loss and gradients.

An SVD's signs are LAPACK's choice and may differ between machines, so ``pca_fit`` is judged
on its components up to the sign of each row, and separately on the sign convention (each
row's largest-magnitude entry positive): no hint depends on a raw sign. ``principal_angles``
is checked on identical subspaces and on two lines 1e-7 radians apart, where ``arccos`` of the
cosine alone is visibly off (the stable form takes ``arctan2`` of sines and cosines).
``autoencoder_loss_and_grads`` is checked against the reference and against central
differences of the student's own loss, as in notebooks 04 and 06.
"""

from __future__ import annotations

import numpy as np

from .. import autoencoder as ref
from ..activations import ACTIVATIONS
from ..gradcheck import numerical_gradient, relative_error
from ..layers import activation_backward, dense_backward, dense_forward
from ._engine import Case, Exercise, Hint
from ._seeds import drawn_case
from .backprop import _params as _net

__all__ = ["EXERCISES"]


# ---------------------------------------------------------------- pca_fit

_SIGN = "every row's largest-magnitude entry > 0 (the sign convention)"


def _pca_fit_run(fn):
    """pca_fit -> (mean, components up to each row's sign, ratio, whether the signs follow the
    convention): the comparison never depends on the sign LAPACK happens to choose."""
    def run(X, k):
        result = fn(X, k)
        if not isinstance(result, (tuple, list)) or len(result) != 3:
            return result
        mean, components, ratio = result
        try:
            C = np.asarray(components, dtype=float)
            rows = np.arange(C.shape[0])
            largest = C[rows, np.argmax(np.abs(C), axis=1)]
        except (TypeError, ValueError, IndexError):
            return mean, components, ratio, False
        signs = np.where(largest < 0, -1.0, 1.0)
        return mean, C * signs[:, None], ratio, bool(np.all(largest > 0))

    run.__name__ = getattr(fn, "__name__", "pca_fit")
    return run


def _signed(components):
    """Rows flipped so that the largest-magnitude entry of each is positive (the convention)."""
    largest = components[np.arange(len(components)), np.argmax(np.abs(components), axis=1)]
    return components * np.where(largest < 0, -1.0, 1.0)[:, None]


def _svd_fit(*, centre=True, rows=True, unit=True, ratio_of="all", sign="largest",
             keepdims=False, use_u=False):
    """pca_fit from an SVD with one step done another way (the hints below)."""
    def pca_fit(X, k):
        X = np.asarray(X, dtype=float)
        mean = X.mean(axis=0, keepdims=keepdims)
        _, s, Vt = np.linalg.svd(X - mean if centre else X, full_matrices=False)
        if use_u:
            return mean, np.linalg.svd(X - mean, full_matrices=False)[0][:, :k], \
                s[:k] ** 2 / np.sum(s**2)
        C = Vt[:k] if rows else Vt[:, :k].T
        if not unit:
            C = s[:k, None] * C
        if sign == "largest":
            C = _signed(C)
        elif sign == "first":
            C = C * np.where(C[:, 0] < 0, -1.0, 1.0)[:, None]
        ratio = {"all": s[:k] ** 2 / np.sum(s**2), "kept": s[:k] ** 2 / np.sum(s[:k] ** 2),
                 "s": s[:k] / np.sum(s)}[ratio_of]
        return mean, C, ratio
    return pca_fit


def _eigh_fit(*, ascending=False, as_rows=False):
    """pca_fit from np.linalg.eigh of the covariance, with eigh's order or layout misread."""
    def pca_fit(X, k):
        X = np.asarray(X, dtype=float)
        mean = X.mean(axis=0)
        w, V = np.linalg.eigh(np.cov(X.T, bias=True))  # ascending eigenvalues, vectors as columns
        if ascending:
            C, ratio = V[:, :k].T, w[:k] / w.sum()
        elif as_rows:
            C, ratio = V[-k:][::-1], w[::-1][:k] / w.sum()
        else:
            C, ratio = V[:, ::-1][:, :k].T, w[::-1][:k] / w.sum()
        return mean, _signed(C), ratio
    return pca_fit


def _fit_case(label, n, d, k, loc=0.0, transposed=False):
    """A case of pca_fit: n samples of d features with unequal spreads, centred at loc;
    ``transposed``: X given as a transpose, not contiguous in memory. (n centred samples span
    n - 1 dimensions: k < n, or the last components are any directions of the rest.)"""
    def draw(rng):
        if transposed:
            return (rng.normal(loc, 1.0, size=(d, n)) * np.linspace(3.0, 0.5, d)[:, None]).T, k
        return rng.normal(loc, 1.0, size=(n, d)) * np.linspace(3.0, 0.5, d), k
    return drawn_case("pca_fit", label, draw)


_PCA_FIT = Exercise(
    name="pca_fit",
    reference=ref.pca_fit,
    adapter=_pca_fit_run,
    outputs=("mean", "components (each row's sign aside)", "explained_variance_ratio", _SIGN),
    visible=(
        _fit_case("6 samples of 5 features, k = 2", 6, 5, 2),
        _fit_case("7 samples of 5 features around 10 (far from the origin), k = 2", 7, 5, 2,
                  loc=10.0),
        _fit_case("8 samples of 4 features, k = 3", 8, 4, 3),
        Case("integer pixels 0..16, k = 1",
             (np.array([[0, 16, 3], [8, 4, 3], [16, 0, 5], [4, 12, 1], [2, 9, 9]]), 1)),
        _fit_case("5 samples of 7 features (N < D: Vt has 5 rows), k = 4, X given as a "
                  "transpose (not contiguous)", 5, 7, 4, transposed=True),
        _fit_case("10 samples of 3 features, k = 3 = D", 10, 3, 3, loc=-1.0),
    ),
    hidden=(
        _fit_case("30 samples of 6 features, k = 4", 30, 6, 4, loc=-3.0),
        _fit_case("4 samples of 6 features (N < D), k = 3", 4, 6, 3),
        _fit_case("12 samples of 3 features, k = 3 = D", 12, 3, 3, loc=2.0),
    ),
    hints=(
        Hint(_svd_fit(centre=False),
             "your components are the SVD of X itself: subtract the mean first (X - mean), or "
             "the first direction points at the mean instead of along the spread."),
        Hint(_svd_fit(rows=False),
             "Vt's columns taken for the directions: the principal directions are the ROWS of "
             "Vt, so the components are Vt[:k]."),
        Hint(_svd_fit(use_u=True),
             "you returned U's columns: U holds the samples' coordinates (N rows); the principal "
             "directions are the rows of Vt, components = Vt[:k], of shape (k, D)."),
        Hint(_eigh_fit(ascending=True),
             "np.linalg.eigh returns the eigenvalues in ascending order: take the last k, "
             "largest first (w[::-1], V[:, ::-1])."),
        Hint(_eigh_fit(as_rows=True),
             "eigh's eigenvectors are the COLUMNS of V (V[:, j] belongs to w[j]): the "
             "components are V's last k columns, transposed, largest first."),
        Hint(_svd_fit(unit=False),
             "each row must have length 1: you scaled the directions by the singular values; "
             "the components are Vt[:k] as they are."),
        Hint(_svd_fit(sign="first"),
             "right directions, wrong signs: flip each row so its LARGEST-MAGNITUDE entry is "
             "positive (np.argmax(np.abs(row))), not its first entry."),
        Hint(_svd_fit(ratio_of="kept"),
             "the ratio is each component's share of the TOTAL variance, s_j^2 / sum of all "
             "s_i^2, not of the k kept ones (yours sums to 1)."),
        Hint(_svd_fit(ratio_of="s"),
             "the variance along direction j is s_j^2 / N: the ratio is s_j^2 / sum(s^2), with "
             "the singular values squared."),
        Hint(_svd_fit(keepdims=True),
             "mean must have shape (D,): X.mean(axis=0), without keepdims."),
    ),
)


# ---------------------------------------------------------------- pca_transform, pca_reconstruct


def _orthonormal_rows(rng, k, d):
    return np.linalg.qr(rng.normal(size=(d, k)))[0].T  # (k, d), orthonormal rows


def _transform_case(label, n, d, k, loc=10.0, transposed=False):
    """``transposed``: X given as a transpose, not contiguous in memory."""
    def draw(rng):
        mean = rng.normal(loc, 1.0, size=d)
        spread = rng.normal(size=(d, n)).T if transposed else rng.normal(size=(n, d))
        return mean + spread * 2.0, mean, _orthonormal_rows(rng, k, d)
    return drawn_case("pca_transform", label, draw)


def _whitened(X, mean, components):
    Z = (np.asarray(X, float) - mean) @ np.asarray(components, float).T
    return Z / Z.std(axis=0)


_PCA_TRANSFORM = Exercise(
    name="pca_transform",
    reference=ref.pca_transform,
    visible=(
        _transform_case("6 samples of 5 features around 10, k = 2", 6, 5, 2),
        _transform_case("4 samples of 3 features, k = 1", 4, 3, 1),
        _transform_case("5 samples of 4 features, k = D = 4 (a rotation)", 5, 4, 4, loc=-2.0),
        Case("integer X", (np.array([[1, 2, 3], [4, 5, 6]]), np.array([1.0, 2.0, 3.0]),
                           np.array([[0.6, 0.0, 0.8], [0.0, 1.0, 0.0]]))),
        _transform_case("one sample (N = 1), k = 1 in 3 features", 1, 3, 1),
        _transform_case("X given as a transpose (not contiguous), 5 samples of 4 features, "
                        "k = 2", 5, 4, 2, transposed=True),
    ),
    hidden=(
        _transform_case("20 samples of 6 features, k = 3", 20, 6, 3, loc=5.0),
        _transform_case("one sample, k = 2", 1, 4, 2),
    ),
    hints=(
        Hint(lambda X, mean, components: np.asarray(X, float) @ np.asarray(components, float).T,
             "subtract the mean before projecting: Z = (X - mean) @ components.T."),
        Hint(_whitened,
             "coordinates, not standardized coordinates: do not divide by the spread (the "
             "singular values or the std) of each component; Z = (X - mean) @ components.T."),
    ),
)


def _reconstruct_case(label, n, d, k, loc=10.0):
    def draw(rng):
        return (rng.normal(size=(n, k)) * 3.0, rng.normal(loc, 1.0, size=d),
                _orthonormal_rows(rng, k, d))
    return drawn_case("pca_reconstruct", label, draw)


def _round_trip():
    """The coordinates of 4 samples along all of R^3's directions: the reconstruction is X."""
    X = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 4.0], [2.5, 0.5, -1.0], [3.0, 3.0, 3.0]])
    mean = X.mean(axis=0)
    components = np.array([[0.6, 0.0, 0.8], [0.0, 1.0, 0.0], [-0.8, 0.0, 0.6]])
    return Case("k = D = 3: the round trip gives X back exactly",
                ((X - mean) @ components.T, mean, components))


_PCA_RECONSTRUCT = Exercise(
    name="pca_reconstruct",
    reference=ref.pca_reconstruct,
    visible=(
        _reconstruct_case("6 coordinates of k = 2 in 5 features around 10", 6, 5, 2),
        _reconstruct_case("k = 1 in 3 features", 4, 3, 1),
        _round_trip(),
        _reconstruct_case("one sample (N = 1), k = 1 in 3 features", 1, 3, 1),
        Case("integer Z and mean, components two rows of the identity",
             (np.array([[1, 2], [3, -4]]), np.array([1, 0, 2]), np.array([[1, 0, 0], [0, 0, 1]]))),
    ),
    hidden=(
        _reconstruct_case("10 samples, k = 3 in 7 features", 10, 7, 3, loc=-4.0),
        _reconstruct_case("one sample, k = 2 in 4 features", 1, 4, 2),
    ),
    hints=(
        Hint(lambda Z, mean, components: np.asarray(Z, float) @ np.asarray(components, float),
             "add the mean back: X_hat = Z @ components + mean."),
        Hint(lambda Z, mean, components: np.asarray(Z, float) @ np.asarray(components, float)
             - mean,
             "the mean is added back, not subtracted: X_hat = Z @ components + mean."),
    ),
)


# ---------------------------------------------------------------- principal_angles


def _angles(*, radians=False, descending=False, orthonormalise=True, qr_of_rows=False,
            cosines=False, arccos=False, clip=True):
    """principal_angles with one step done another way (the hints below)."""
    def principal_angles(A, B):
        A, B = np.asarray(A, float), np.asarray(B, float)
        if orthonormalise:
            QA = np.linalg.qr(A)[0] if qr_of_rows else np.linalg.qr(A.T)[0]
            QB = np.linalg.qr(B)[0] if qr_of_rows else np.linalg.qr(B.T)[0]
        else:
            QA, QB = A.T, B.T
        M = QA.T @ QB
        cos = np.linalg.svd(M, compute_uv=False)
        if cosines:
            return cos
        if arccos or not orthonormalise:
            theta = np.arccos(np.clip(cos, -1.0, 1.0) if clip else cos)
        else:
            sin = np.linalg.svd(QB - QA @ M, compute_uv=False)[::-1]
            theta = np.arctan2(sin, cos)
        theta = theta if radians else np.degrees(theta)
        return theta[::-1] if descending else theta
    return principal_angles


def _angles_case(label, k, d):
    return drawn_case("principal_angles", label,
                      lambda rng: (rng.normal(size=(k, d)), rng.normal(size=(k, d))))


def _same_subspace():
    """B's rows are mixtures of A's: the same plane, given by another basis (all angles 0)."""
    A = np.array([[1.0, 2.0, 0.0, -1.0, 0.5], [0.0, 1.0, 3.0, 1.0, -2.0]])
    R = np.array([[7.0, 1.0], [2.0, 5.0]])
    return Case("identical subspaces, B = R @ A: every angle is 0", (A, R @ A))


def _close_lines(t=1e-7):
    return Case(f"two lines {t:g} radians apart (arccos of the cosine alone loses this angle)",
                (np.array([[1.0, 0.0, 0.0]]), np.array([[np.cos(t), np.sin(t), 0.0]])))


def _skewed_rows():
    """Rows of lengths 5 and 0.2, not orthogonal: A @ B.T alone says nothing about angles."""
    A = np.array([[5.0, 0.0, 0.0, 0.0], [0.12, 0.16, 0.0, 0.0]])
    B = np.array([[0.0, 3.0, 0.0, 4.0], [1.0, 0.0, 1.0, 0.0]])
    return Case("rows of lengths 5 and 0.2, not orthogonal", (A, B))


_PRINCIPAL_ANGLES = Exercise(
    name="principal_angles",
    reference=ref.principal_angles,
    visible=(
        _angles_case("two random planes in R^5", 2, 5),
        _angles_case("two random 3-D subspaces of R^6", 3, 6),
        _skewed_rows(),
        _same_subspace(),
        _close_lines(),
    ),
    hidden=(
        _angles_case("two random lines in R^4", 1, 4),
        _angles_case("two random 4-D subspaces of R^7", 4, 7),
        _close_lines(1e-5),
    ),
    hints=(
        Hint(_angles(radians=True),
             "the angles are in degrees: np.degrees(theta)."),
        Hint(_angles(descending=True),
             "smallest first: the angles ascend (scipy.linalg.subspace_angles gives them largest "
             "first)."),
        Hint(_angles(orthonormalise=False),
             "orthonormalise each set of rows first (Q of np.linalg.qr(A.T)): the singular "
             "values of A @ B.T are cosines only when the rows are orthonormal."),
        Hint(_angles(qr_of_rows=True),
             "the ROWS span the subspace: take the QR of A.T (shape (D, k)), not of A."),
        Hint(_angles(cosines=True),
             "you returned the cosines (the singular values of QA.T @ QB): return the angles, in "
             "degrees."),
        Hint(_angles(arccos=True, clip=False),
             "arccos of a cosine that rounding made 1 + 2e-16 is nan: the stable form, "
             "arctan2(sin, cos) with the sines from QB - QA @ (QA.T @ QB), never leaves [0, 90]."),
        Hint(_angles(arccos=True),
             "arccos of the cosine loses small angles (cos 1e-7 is 1 - 5e-15, and its rounding "
             "becomes 1e-6 degrees): take arctan2(sin, cos), the sines from the singular values "
             "of QB - QA @ (QA.T @ QB), reversed."),
    ),
)


# ---------------------------------------------------------------- autoencoder_loss_and_grads

_GRADIENT_CHECK = ("gradient check: relative error < 1e-7 between your grads and central "
                   "differences of your loss")


def _with_gradient_check(fn):
    """autoencoder_loss_and_grads -> (loss, gradient check, grads); the check compares the
    student's grads with central differences of the student's own loss."""
    def run(params, X, activation="tanh"):
        result = fn(params, X, activation=activation)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            return result
        loss, grads = result
        if not isinstance(grads, dict):
            return loss, {}, grads
        agrees = {}
        for key, value in params.items():
            numeric = numerical_gradient(
                lambda _: float(fn(params, X, activation=activation)[0]), value)
            given = np.asarray(grads.get(key, np.nan), dtype=float)
            agrees[key] = given.shape == numeric.shape and \
                relative_error(given, numeric) < 1e-7
        return loss, agrees, grads

    run.__name__ = getattr(fn, "__name__", "autoencoder_loss_and_grads")
    return run


def _ae_variant(*, per_sample=False, grad_factor=1.0, grad_over_n=False,
                output_activation=False, linear_code=False, derivative_at_output=False):
    """autoencoder_loss_and_grads with one step done another way (the hints below)."""
    def autoencoder_loss_and_grads(params, X, activation="tanh"):
        X = np.asarray(X, float)
        n_layers = len(params) // 2
        code = n_layers // 2
        f = None if activation is None else ACTIVATIONS[activation][0]
        H, caches = X, []
        for i in range(1, n_layers + 1):
            Z, cache = dense_forward(H, params[f"W{i}"], params[f"b{i}"])
            active = f is not None and (i < n_layers or output_activation) and \
                not (linear_code and i == code)
            H = f(Z) if active else Z
            caches.append((cache, Z, H, active))
        diff = H - X
        D = X.shape[1]
        loss = float(np.mean(diff**2)) * (D if per_sample else 1)  # per sample: sum over D
        dH = 2.0 * diff / diff.size * grad_factor * (D if per_sample or grad_over_n else 1)
        grads = {}
        for i in range(n_layers, 0, -1):
            cache, Z, H_i, active = caches[i - 1]
            dZ = dH
            if active:
                dZ = activation_backward(dH, H_i if derivative_at_output else Z, activation)
            dH, grads[f"W{i}"], grads[f"b{i}"] = dense_backward(dZ, cache)
        return loss, {k: grads[k] for k in params}
    return autoencoder_loss_and_grads


def _ae_case(label, sizes, n, activation="tanh", transposed=False):
    """``transposed``: X given as a transpose, not contiguous in memory."""
    def draw(rng):
        X = rng.normal(size=(sizes[0], n)).T if transposed else rng.normal(size=(n, sizes[0]))
        return _net(rng, sizes), X
    return drawn_case("autoencoder_loss_and_grads", label, draw, {"activation": activation})


_AUTOENCODER_LOSS = Exercise(
    name="autoencoder_loss_and_grads",
    reference=ref.autoencoder_loss_and_grads,
    adapter=_with_gradient_check,
    outputs=("loss", _GRADIENT_CHECK, "grads"),
    visible=(
        _ae_case("a 5-3-2-3-5 tanh autoencoder, N = 4", (5, 3, 2, 3, 5), 4),
        _ae_case("a 6-2-6 tanh autoencoder (code layer only), N = 5", (6, 2, 6), 5),
        _ae_case("activation=None: a linear 5-2-5 autoencoder, no activation anywhere (skip f "
                 "and f')", (5, 2, 5), 6, activation=None),
        _ae_case("one code unit, a 4-3-1-3-4 ELU autoencoder, N = 3", (4, 3, 1, 3, 4), 3,
                 activation="elu"),
        _ae_case("one sample (N = 1), X given as a transpose (not contiguous), a 4-3-2-3-4 "
                 "sigmoid autoencoder", (4, 3, 2, 3, 4), 1, activation="sigmoid", transposed=True),
        _ae_case("twelve layers, 6-5-5-4-4-3-2-3-4-4-5-5-6 tanh, N = 3: W1 .. W12 in number "
                 "order (sorted as strings, W10 would come before W2)",
                 (6, 5, 5, 4, 4, 3, 2, 3, 4, 4, 5, 5, 6), 3),
    ),
    hidden=(
        _ae_case("one sample (N = 1), a 5-4-2-4-5 sigmoid autoencoder", (5, 4, 2, 4, 5), 1,
                 activation="sigmoid"),
        _ae_case("a deep 6-5-3-2-3-5-6 tanh autoencoder", (6, 5, 3, 2, 3, 5, 6), 4),
        _ae_case("a linear 7-3-7 autoencoder, N = 9", (7, 3, 7), 9, activation=None),
    ),
    hints=(
        Hint(_ae_variant(output_activation=True),
             "the output layer is linear: apply the activation on every layer but the last, so "
             "the reconstruction can take any value."),
        Hint(_ae_variant(linear_code=True),
             "the code layer applies the activation too, like every layer but the output (this "
             "notebook's choice: a tanh code lies in (-1, 1)^k)."),
        Hint(_ae_variant(per_sample=True),
             "your loss is D times the reference: notebook 03's mse is the mean over all N*D "
             "elements (not the sum over the D features of a sample, averaged over N), the "
             "convention PCA's error is computed in here."),
        Hint(_ae_variant(grad_factor=0.5),
             "the factor 2 is missing from the gradient: d/dX_hat of mean((X_hat - X)^2) is "
             "2 (X_hat - X) / (N*D)."),
        Hint(_ae_variant(grad_over_n=True),
             "the gradient is divided by N only: the loss is a mean over N*D elements, so "
             "dX_hat = 2 (X_hat - X) / (N*D)."),
        Hint(_ae_variant(derivative_at_output=True),
             "activation_backward takes the layer's pre-activation Z (as in the forward pass), "
             "not its output H = f(Z)."),
    ),
)


EXERCISES = {
    "pca_fit": _PCA_FIT,
    "pca_transform": _PCA_TRANSFORM,
    "pca_reconstruct": _PCA_RECONSTRUCT,
    "principal_angles": _PRINCIPAL_ANGLES,
    "autoencoder_loss_and_grads": _AUTOENCODER_LOSS,
}
