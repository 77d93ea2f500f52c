"""Tests for course_lib.autoencoder: PCA, principal angles, and the autoencoder's loss, gradients
and training.

Each is checked against an independent computation: scikit-learn's PCA, SciPy's
subspace_angles, values worked out by hand in the comments, the course's MLP (an autoencoder
is an MLP whose target is its input) and central differences in float64.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from course_tools import assert_caught, mistakes_of
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA

from course_lib.autoencoder import (
    Autoencoder,
    autoencoder_loss_and_grads,
    pca_fit,
    pca_reconstruct,
    pca_transform,
    principal_angles,
)
from course_lib.data import load_digits
from course_lib.gradcheck import numerical_gradient, relative_error
from course_lib.losses import mse, mse_grad
from course_lib.network import MLP, mlp_backward, mlp_forward
from course_lib.optim import Adam
from course_lib.train import fit


@pytest.fixture(scope="module")
def digits():
    """The training digits (1437, 64), features in [0, 1]."""
    return load_digits()[0]


# ---------------------------------------------------------------- pca_fit


def test_pca_fit_hand_worked():
    """Four points around (3, -1): deviations (±1, 0) and (0, ±2). Variance 8/4 = 2 along y,
    2/4 = 0.5 along x, so the components are e_y then e_x, ratios 0.8 and 0.2. The SVD may
    return -e_y: the sign convention makes the largest entry positive."""
    X = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]]) + [3.0, -1.0]
    mean, components, ratio = pca_fit(X, 2)
    np.testing.assert_allclose(mean, [3.0, -1.0], rtol=1e-15)
    np.testing.assert_allclose(components, [[0.0, 1.0], [1.0, 0.0]], atol=1e-15)
    np.testing.assert_allclose(ratio, [0.8, 0.2], rtol=1e-14)


def test_pca_fit_centres_the_data():
    """Far from the origin, an SVD of X itself (not centred) points its first direction at the
    mean; pca_fit finds the direction of the spread."""
    rng = np.random.default_rng(1)
    spread = rng.normal(size=(200, 1)) * [[1.0, 0.0, 0.0]]  # along x only
    X = spread + [0.0, 10.0, 10.0]
    _, components, _ = pca_fit(X, 1)
    np.testing.assert_allclose(components, [[1.0, 0.0, 0.0]], atol=1e-12)
    _, _, Vt = np.linalg.svd(X, full_matrices=False)
    assert abs(Vt[0] @ [0.0, 1.0, 1.0]) / np.sqrt(2) > 0.99  # the mistake: it finds the mean


@pytest.mark.parametrize("source", ["digits", "random"])
def test_pca_fit_agrees_with_sklearn(source, digits):
    """Components equal scikit-learn's up to the sign of each row, and the explained variance
    ratios agree; rows orthonormal, ratios decreasing."""
    if source == "digits":
        X, k = digits, 10
    else:
        X, k = np.random.default_rng(2).normal(size=(30, 7)) @ np.diag([5, 4, 3, 2, 1, .5, .1]), 4
    mean, components, ratio = pca_fit(X, k)
    sk = PCA(n_components=k, svd_solver="full").fit(X)
    signs = np.sign(np.sum(components * sk.components_, axis=1))
    np.testing.assert_allclose(components, signs[:, None] * sk.components_, atol=1e-10)
    np.testing.assert_allclose(ratio, sk.explained_variance_ratio_, rtol=1e-10)
    np.testing.assert_allclose(mean, sk.mean_, rtol=1e-14)
    np.testing.assert_allclose(components @ components.T, np.eye(k), atol=1e-12)
    assert np.all(np.diff(ratio) <= 0)


def test_pca_fit_sign_convention(digits, unchanged):
    """The largest-magnitude entry of each row is positive, and flipping the data (X -> -X,
    which flips every direction the SVD returns) gives the same components."""
    with unchanged(digits):
        _, components, _ = pca_fit(digits, 20)
    largest = components[np.arange(20), np.argmax(np.abs(components), axis=1)]
    assert np.all(largest > 0)
    _, flipped, _ = pca_fit(-digits, 20)
    np.testing.assert_allclose(flipped, components, atol=1e-10)


def test_pca_fit_validates_its_inputs():
    X = np.ones((5, 3))
    with pytest.raises(ValueError, match=r"k must be a whole number from 1 to min\(N, D\) = 3"):
        pca_fit(X, 4)
    with pytest.raises(ValueError, match="k must be"):
        pca_fit(X, 0)
    with pytest.raises(ValueError, match=r"X must be 2-D with shape \(N, D\).*got shape \(3,\)"):
        pca_fit(np.ones(3), 1)


# ---------------------------------------------------------------- transform and reconstruct


def test_pca_round_trip_at_full_rank(digits):
    """With k = D the components are a basis of R^D: reconstruct(transform(X)) is X."""
    mean, components, _ = pca_fit(digits, 64)
    Z = pca_transform(digits, mean, components)
    assert Z.shape == (1437, 64)
    np.testing.assert_allclose(pca_reconstruct(Z, mean, components), digits, atol=1e-12)


def test_pca_reconstruction_error_is_the_variance_left_out(digits):
    """Below full rank the reconstruction is the projection: transforming it again gives the same
    Z, and its mean squared error over all N*D elements is the variance of the discarded
    directions divided by D."""
    mean, components, _ = pca_fit(digits, 64)
    variances = ((digits - mean) @ components.T).var(axis=0)  # per direction, 1/N
    for k in (2, 5, 10, 20):
        mean, components, ratio = pca_fit(digits, k)
        Z = pca_transform(digits, mean, components)
        X_hat = pca_reconstruct(Z, mean, components)
        np.testing.assert_allclose(pca_transform(X_hat, mean, components), Z, atol=1e-12)
        error = mse(X_hat, digits)
        np.testing.assert_allclose(error, variances[k:].sum() / 64, rtol=1e-10)
        np.testing.assert_allclose(error, (1 - ratio.sum()) * variances.sum() / 64, rtol=1e-10)


def test_pca_transform_hand_worked():
    """mean (1, 1), components e_y: the coordinate of (4, 3) is 3 - 1 = 2, rebuilt as (1, 3)."""
    mean, components = np.array([1.0, 1.0]), np.array([[0.0, 1.0]])
    Z = pca_transform(np.array([[4.0, 3.0]]), mean, components)
    np.testing.assert_allclose(Z, [[2.0]])
    np.testing.assert_allclose(pca_reconstruct(Z, mean, components), [[1.0, 3.0]])


def test_pca_transform_and_reconstruct_name_the_shapes():
    mean, components = np.zeros(5), np.eye(5)[:2]
    with pytest.raises(ValueError, match=r"components must have shape \(k, 5\).*"
                                         r"got shape \(5, 2\): did you pass components.T\?"):
        pca_transform(np.ones((4, 5)), mean, components.T)
    with pytest.raises(ValueError, match=r"X must have shape \(4, 5\).*got shape \(4, 3\)"):
        pca_transform(np.ones((4, 3)), mean, components)
    with pytest.raises(ValueError, match=r"Z must have shape \(4, 2\).*got shape \(4, 5\)"):
        pca_reconstruct(np.ones((4, 5)), mean, components)
    with pytest.raises(ValueError, match=r"mean must be 1-D with shape \(D,\).*got shape \(1, 5\)"):
        pca_transform(np.ones((4, 5)), np.zeros((1, 5)), components)


# ---------------------------------------------------------------- principal_angles


def _scipy_degrees(A, B):
    """SciPy's angles between the COLUMN spaces, in radians, largest first: turned into ours."""
    return np.degrees(subspace_angles(A.T, B.T))[::-1]


def test_principal_angles_hand_worked():
    """e_x against e_x + e_y: 45 degrees. {e_x, e_y} against {e_x, e_z}: they share e_x (0), and
    e_y is orthogonal to both e_x and e_z (90)."""
    np.testing.assert_allclose(principal_angles([[1.0, 0, 0]], [[1.0, 1.0, 0]]), [45.0],
                               rtol=1e-14)
    np.testing.assert_allclose(principal_angles([[1.0, 0, 0], [0, 1.0, 0]],
                                                [[0, 0, 2.0], [3.0, 0, 0]]), [0.0, 90.0],
                               atol=1e-12)


def test_principal_angles_agree_with_scipy_on_non_orthonormal_rows():
    """Rows of any lengths and angles: the row spaces count, not the rows."""
    rng = np.random.default_rng(3)
    for k, D in [(1, 4), (3, 7), (5, 64)]:
        A, B = rng.normal(size=(k, D)) * 5.0, rng.normal(size=(k, D))
        angles = principal_angles(A, B)
        assert angles.shape == (k,)
        np.testing.assert_allclose(angles, _scipy_degrees(A, B), rtol=1e-10, atol=1e-10)
        assert np.all(np.diff(angles) >= 0)


def test_principal_angles_of_identical_and_orthogonal_subspaces():
    """B's rows mixed from A's (an invertible R, so not orthonormal) span the same space: all 0,
    to rounding. Rows drawn from the orthogonal complement: all 90."""
    rng = np.random.default_rng(4)
    A = rng.normal(size=(3, 8))
    B = rng.normal(size=(3, 3)) @ A
    np.testing.assert_allclose(principal_angles(A, B), 0.0, atol=1e-10)
    Q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    np.testing.assert_allclose(principal_angles(Q[:, :3].T, Q[:, 3:6].T), 90.0, rtol=1e-14)
    np.testing.assert_allclose(_scipy_degrees(A, B), 0.0, atol=1e-10)


def test_principal_angles_keep_tiny_angles():
    """Two lines 1e-9 radians apart: the cosine rounds to 1, so arccos says 0; the sine keeps it."""
    theta = 1e-9
    A, B = np.array([[1.0, 0.0, 0.0]]), np.array([[np.cos(theta), np.sin(theta), 0.0]])
    np.testing.assert_allclose(principal_angles(A, B), np.degrees(theta), rtol=1e-6)
    np.testing.assert_allclose(_scipy_degrees(A, B), np.degrees(theta), rtol=1e-6)
    assert np.degrees(np.arccos(abs(A[0] @ B[0]))) == 0.0  # the naive form


def test_principal_angles_name_the_shapes(unchanged):
    A = np.eye(6)[:2]
    with pytest.raises(ValueError, match=r"B must have the shape of A, \(2, 6\).*"
                                         r"got shape \(6, 2\): did you pass B.T\?"):
        principal_angles(A, A.T)
    with pytest.raises(ValueError, match=r"A must have shape \(k, D\) with 1 <= k <= D.*"
                                         r"got shape \(6, 2\): did you pass A.T\?"):
        principal_angles(A.T, A.T)
    with pytest.raises(ValueError, match="linearly dependent"):
        principal_angles(np.ones((2, 6)), A)
    B = np.arange(12.0).reshape(2, 6)
    with unchanged(A, B):
        principal_angles(A, B)


# ---------------------------------------------------------------- autoencoder_loss_and_grads


def _params(sizes, rng):
    """Weights away from 0, so a wrong backward cannot hide; biases nonzero too."""
    params = {}
    for i, (m_in, m_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        params[f"W{i}"] = rng.normal(0.0, 0.8, size=(m_out, m_in))
        params[f"b{i}"] = rng.normal(0.0, 0.3, size=m_out)
    return params


def test_autoencoder_loss_and_grads_hand_worked():
    """A linear 2-1-2 autoencoder keeping only the first feature: x = (3, 4) comes back (3, 0).
    The MSE is the mean over all N*D = 2 elements, (0 + 16) / 2 = 8 (per sample it would be 16).
    dX_hat = 2/2 (X_hat - X) = (0, -4); dW2 = dX_hat^T h = (0, -12)^T with h = 3; db2 = dX_hat;
    dh = dX_hat W2 = 0, so W1 and b1 get nothing."""
    params = {"W1": np.array([[1.0, 0.0]]), "b1": np.array([0.0]),
              "W2": np.array([[1.0], [0.0]]), "b2": np.array([0.0, 0.0])}
    loss, grads = autoencoder_loss_and_grads(params, np.array([[3.0, 4.0]]), activation=None)
    assert loss == 8.0
    assert list(grads) == ["W1", "b1", "W2", "b2"]
    np.testing.assert_allclose(grads["W2"], [[0.0], [-12.0]])
    np.testing.assert_allclose(grads["b2"], [0.0, -4.0])
    np.testing.assert_allclose(grads["W1"], [[0.0, 0.0]])
    np.testing.assert_allclose(grads["b1"], [0.0])


@pytest.mark.parametrize("activation", [None, "tanh", "elu"])
@pytest.mark.parametrize("sizes, N", [([5, 3, 5], 4), ([5, 1, 5], 4), ([5, 3, 2, 3, 5], 1),
                                      ([6, 4, 1, 4, 6], 3)])
def test_autoencoder_loss_and_grads_central_differences(activation, sizes, N, unchanged):
    """Every gradient against central differences of the loss, relative error below 1e-7, for a
    linear and two nonlinear autoencoders, one sample and one code unit among the cases."""
    rng = np.random.default_rng(5)
    params, X = _params(sizes, rng), rng.uniform(0.0, 1.0, size=(N, sizes[0]))
    with unchanged(X, **params):
        loss, grads = autoencoder_loss_and_grads(params, X, activation)
    assert list(grads) == list(params)
    for key, value in params.items():
        numeric = numerical_gradient(lambda _: autoencoder_loss_and_grads(params, X, activation)[0],
                                     value)
        assert grads[key].shape == value.shape
        assert relative_error(grads[key], numeric) < 1e-7, key


def test_autoencoder_loss_and_grads_is_an_mlp_with_target_x():
    """With an activation, the code layer included: mlp_forward, notebook 03's mse against X,
    mlp_backward. With None every layer is affine, so the output is one affine map of X."""
    rng = np.random.default_rng(6)
    params, X = _params([7, 5, 2, 5, 7], rng), rng.uniform(size=(6, 7))
    X_hat, caches = mlp_forward(X, params, "tanh")
    loss, grads = autoencoder_loss_and_grads(params, X, "tanh")
    assert loss == pytest.approx(mse(X_hat, X), rel=1e-14)
    expected = mlp_backward(mse_grad(X_hat, X), caches, "tanh")
    for key in params:
        np.testing.assert_allclose(grads[key], expected[key], rtol=1e-13, atol=1e-16)

    A, c = np.eye(7), np.zeros(7)  # X_hat = X A^T + c, composed layer by layer
    for i in range(1, 5):
        A, c = params[f"W{i}"] @ A, params[f"W{i}"] @ c + params[f"b{i}"]
    loss, _ = autoencoder_loss_and_grads(params, X, None)
    assert loss == pytest.approx(np.mean((X @ A.T + c - X) ** 2), rel=1e-12)


def test_autoencoder_loss_and_grads_names_the_shapes():
    rng = np.random.default_rng(7)
    params, X = _params([5, 2, 5], rng), np.ones((3, 5))
    with pytest.raises(ValueError, match=r"W1 must have shape \(2, 5\).*: did you pass W1.T\?"):
        autoencoder_loss_and_grads({**params, "W1": params["W1"].T}, X)
    with pytest.raises(ValueError, match=r"W2 must have shape \(5, 2\).*got shape \(4, 2\)"):
        autoencoder_loss_and_grads({**params, "W2": np.ones((4, 2)), "b2": np.ones(4)}, X)
    with pytest.raises(ValueError, match="activation must be one of"):
        autoencoder_loss_and_grads(params, X, "linear")


# ---------------------------------------------------------------- Autoencoder


def test_autoencoder_layers_and_initialisation():
    """64-32-2-32-64: params like an MLP of those sizes, the same seed giving the same weights."""
    ae = Autoencoder(64, 2, hidden=(32,), activation="tanh", seed=3)
    assert ae.sizes == [64, 32, 2, 32, 64]
    assert list(ae.params) == ["W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4"]
    mlp = MLP([64, 32, 2, 32, 64], activation="tanh", seed=3)
    for key in mlp.params:
        np.testing.assert_array_equal(ae.params[key], mlp.params[key])
    assert Autoencoder(64, 5, linear=True).sizes == [64, 5, 64]
    assert Autoencoder(64, 5, linear=True).activation is None
    assert repr(Autoencoder(8, 2, linear=True)) == "Autoencoder(sizes=[8, 2, 8], linear=True, seed=0)"


@pytest.mark.parametrize("linear", [False, True])
def test_autoencoder_forward_backward_match_the_loss(linear):
    """forward is decode(encode(X)); backward of the MSE gradient is autoencoder_loss_and_grads'
    gradients; encode gives codes of width k (within (-1, 1) for tanh)."""
    rng = np.random.default_rng(8)
    X = rng.uniform(size=(9, 10))
    ae = Autoencoder(10, 3, hidden=(6,), activation="tanh", linear=linear, seed=1)
    X_hat = ae.forward(X)
    Z = ae.encode(X)
    assert Z.shape == (9, 3) and X_hat.shape == (9, 10)
    assert linear or np.all(np.abs(Z) < 1)
    np.testing.assert_allclose(ae.decode(Z), X_hat, rtol=1e-13)
    grads = ae.backward(mse_grad(X_hat, X))
    loss, expected = autoencoder_loss_and_grads(ae.params, X, ae.activation)
    assert loss == pytest.approx(mse(X_hat, X), rel=1e-14)
    assert list(grads) == list(ae.params)
    for key in ae.params:
        np.testing.assert_allclose(grads[key], expected[key], rtol=1e-13, atol=1e-16)


def test_autoencoder_names_the_shapes():
    ae = Autoencoder(10, 3, hidden=(6,))
    with pytest.raises(ValueError, match=r"X must have shape \(4, 10\).*got shape \(4, 6\)"):
        ae.forward(np.ones((4, 6)))
    with pytest.raises(ValueError, match=r"Z must have shape \(4, 3\).*got shape \(4, 10\)"):
        ae.decode(np.ones((4, 10)))
    with pytest.raises(RuntimeError, match="call forward"):
        Autoencoder(10, 3).backward(np.ones((4, 10)))
    ae.forward(np.ones((4, 10)))
    with pytest.raises(ValueError, match=r"dout must have shape \(4, 10\)"):
        ae.backward(np.ones((10, 4)))
    with pytest.raises(ValueError, match="activation must be one of"):
        Autoencoder(10, 3, activation="identity")


# ---------------------------------------------------------------- what training shows
# The facts notebook 07 stands on, measured with the course's own fit and Adam. The settings
# are docs/notebook07-plan.md's: each run takes about a second on one core.


@contextlib.contextmanager
def _one_blas_thread():
    """Matrices this small multiply faster on one thread, and on a busy machine up to 10 times
    faster (threadpoolctl comes with scikit-learn)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn brings it
        yield
        return
    with threadpool_limits(1, "blas"):
        yield


def _train(model, X, lr, epochs, batch_size, **kwargs):
    with _one_blas_thread():
        return fit(model, X, X, loss="mse", optimizer=Adam(lr), epochs=epochs,
                   batch_size=batch_size, progress=False, **kwargs)


def _pca_error(X, k):
    mean, components, _ = pca_fit(X, k)
    return mse(pca_reconstruct(pca_transform(X, mean, components), mean, components), X)


@pytest.fixture(scope="module")
def linear_autoencoders(digits):
    """k -> a 64-k-64 autoencoder with no activation after Adam(lr=0.02), 400 epochs of batches
    of 256 (trained once for the tests below). k = 9 is the slowest of 2..10 to settle: the 9th
    and 10th directions hold 3.3% and 3.1% of the variance (300 epochs leave it at 12 degrees)."""
    trained = {}
    for k in (2, 5, 9):
        trained[k] = Autoencoder(64, k, linear=True, seed=0)
        _train(trained[k], digits, lr=0.02, epochs=400, batch_size=256)
    return trained


@pytest.mark.parametrize("k", [2, 5, 9])
def test_a_linear_autoencoder_spans_pcas_subspace_but_not_its_basis(k, digits,
                                                                   linear_autoencoders):
    """The decoder's columns span PCA's subspace (largest principal angle below 5 degrees) and
    the error is within 2% of PCA's, never below it (PCA is the optimum). But the columns are
    neither unit length nor orthogonal, and the encoder undoes the decoder (W1 W2 = I_k)."""
    ae = linear_autoencoders[k]
    _, components, _ = pca_fit(digits, k)
    W1, W2 = ae.params["W1"], ae.params["W2"]  # (k, 64) and (64, k)
    assert principal_angles(W2.T, components).max() < 5.0  # W2's columns, as rows
    error, optimum = mse(ae.forward(digits), digits), _pca_error(digits, k)
    assert optimum * (1 - 1e-12) <= error <= 1.02 * optimum
    assert np.abs(W2.T @ W2 - np.eye(k)).max() > 0.5
    np.testing.assert_allclose(W1 @ W2, np.eye(k), atol=0.05)


def test_pca_inside_the_decoders_span_recovers_the_principal_directions(digits,
                                                                        linear_autoencoders):
    """The decoder's columns are not the principal directions (compared one by one they are
    tens of degrees off), and neither are the left singular vectors U of the decoder: an
    orthonormal basis of its span, but not PCA's, since nothing in an unregularized autoencoder
    prefers one basis of the subspace. PCA of the codes in that basis (a k x k problem) turns U
    into the principal directions, each within 2 degrees."""
    k = 5
    mean, components, _ = pca_fit(digits, k)
    W2 = linear_autoencoders[k].params["W2"]  # (64, k)

    def nearest(vectors):  # (k, 64) -> each row's angle to its nearest principal direction
        cosines = np.abs(vectors @ components.T) / np.linalg.norm(vectors, axis=1)[:, None]
        return np.degrees(np.arccos(np.minimum(cosines.max(axis=1), 1.0)))

    assert nearest(W2.T).max() > 20.0
    U, _, _ = np.linalg.svd(W2, full_matrices=False)  # (64, k)
    assert nearest(U.T).max() > 20.0
    _, _, R = np.linalg.svd((digits - mean) @ U, full_matrices=False)  # (k, k), by variance
    directions = R @ U.T  # (k, 64)
    cosines = np.abs(np.sum(directions * components, axis=1))
    assert np.degrees(np.arccos(np.minimum(cosines, 1.0))).max() < 2.0


def test_a_linear_autoencoder_trained_too_little_is_near_pcas_error_but_not_its_subspace(digits):
    """After 100 epochs, a quarter of the training above, the error is already within 2% of PCA's,
    yet the largest angle is above 30 degrees: the loss is flat along directions of nearly equal
    variance (the 5th and 6th hold 5.8% and 4.9% of it), so a small error says little about
    the subspace. Concluding "AE != PCA" from this network is the mistake."""
    k = 5
    ae = Autoencoder(64, k, linear=True, seed=0)
    _train(ae, digits, lr=0.02, epochs=100, batch_size=256)
    _, components, _ = pca_fit(digits, k)
    assert mse(ae.forward(digits), digits) <= 1.02 * _pca_error(digits, k)
    assert principal_angles(ae.params["W2"].T, components).max() > 30.0


def test_a_nonlinear_autoencoder_beats_pca_at_two_components(digits):
    """64-32-2-32-64 with tanh, Adam(lr=0.01), 100 epochs of batches of 64: its training error
    is below 80% of PCA's at k = 2, the best any linear map of rank 2 can do (measured: 0.039
    against 0.052). On the held-out digits too (0.041 against 0.053), and its 2-D codes
    separate the classes better: five nearest neighbours in the code plane name the digit of
    73% of the held-out digits, against 62% in PCA's plane."""
    from sklearn.neighbors import KNeighborsClassifier

    _, X_val, y_train, y_val = load_digits()
    ae = Autoencoder(64, 2, hidden=(32,), activation="tanh", seed=0)
    history = _train(ae, digits, lr=0.01, epochs=100, batch_size=64, X_val=X_val, y_val=X_val)
    mean, components, _ = pca_fit(digits, 2)
    assert mse(ae.forward(digits), digits) < 0.8 * _pca_error(digits, 2)
    pca_val = mse(pca_reconstruct(pca_transform(X_val, mean, components), mean, components), X_val)
    assert history["val_loss"][-1] < 0.8 * pca_val

    def neighbours_accuracy(encode):
        knn = KNeighborsClassifier(5).fit(encode(digits), y_train)
        return knn.score(encode(X_val), y_val)

    ae_accuracy = neighbours_accuracy(ae.encode)
    pca_accuracy = neighbours_accuracy(lambda X: pca_transform(X, mean, components))
    assert ae_accuracy > pca_accuracy + 0.08, (ae_accuracy, pca_accuracy)


# ---------------------------------------------------------------- the notebook's checks

FOLDER, NAME = "07_autoencoders", "autoencoders"


@pytest.mark.parametrize("mistake", sorted(mistakes_of(FOLDER)))
def test_the_visible_test_catches_each_typical_mistake(mistake):
    """Each mistake of tests/mistakes/07_autoencoders.json fails its exercise's visible test
    cell, with a message that names it (or the line of the student's code that raised)."""
    assert_caught(FOLDER, NAME, mistake)
