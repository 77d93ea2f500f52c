r"""Autoencoders: principal component analysis, and the networks that learn a nonlinear version of it.

PCA finds the k directions of largest variance of centred data. The rows of
:math:`V^\top` in the SVD :math:`X - \bar x = U S V^\top` are those directions, in order of
variance; projecting on the first k and back is the best rank-k linear reconstruction.

An autoencoder is an MLP trained to give back its input through a narrow code layer:
D → … → k → … → D, encoder then decoder. With no activation at all (a linear autoencoder),
its best reconstruction is PCA's projection (Baldi & Hornik, 1989): its weights span PCA's
subspace, but they are neither orthonormal nor ordered by variance. With a nonlinear
activation it can bend the subspace into a surface, the source's "nonlinear
principal-component decomposition". Shapes: N samples, D features, k components or code units.
"""

from __future__ import annotations

import numpy as np

from ._validate import as_float, require_ndim, require_shape
from .activations import ACTIVATIONS
from .layers import activation_backward, dense_backward, dense_forward
from .losses import mse_and_grad
from .network import _INITS, _activation, _count_layers

__all__ = [
    "pca_fit",
    "pca_transform",
    "pca_reconstruct",
    "principal_angles",
    "Autoencoder",
    "autoencoder_loss_and_grads",
]


def pca_fit(X, k):
    r"""Principal component analysis from an SVD of the centred data.

    With :math:`\bar x` the mean of the rows of X and :math:`X - \bar x = U S V^\top`
    (``np.linalg.svd``, singular values in decreasing order), the principal directions
    are the ROWS of :math:`V^\top`, and the variance along row j is
    :math:`s_j^2 / N`. The first k rows are the components. A direction has no sign
    (v and -v span the same line), so each row is flipped, if needed, to make its
    largest-magnitude entry positive (the first one, in case of a tie).

    Parameters
    ----------
    X : array_like, shape (N, D)
        One sample per row.
    k : int, 1 <= k <= min(N, D)
        Number of components.

    Returns
    -------
    mean : ndarray, shape (D,)
        :math:`\bar x`, the mean of the rows.
    components : ndarray, shape (k, D)
        Orthonormal rows, in decreasing order of variance.
    explained_variance_ratio : ndarray, shape (k,)
        :math:`s_j^2 / \sum_i s_i^2`: each component's share of the total variance.
    """
    X = as_float(X, "X")
    require_ndim(X, 2, "X", "(N, D), one sample per row")
    k = _check_k(k, min(X.shape))
    mean = X.mean(axis=0)  # (D,)
    # centre first: without it the first direction points at the mean, not along the spread
    _, s, Vt = np.linalg.svd(X - mean, full_matrices=False)  # s descending; Vt (min(N, D), D)
    components = Vt[:k]  # rows, not columns: row j of Vt is direction j
    largest = np.argmax(np.abs(components), axis=1)  # (k,)
    signs = np.sign(components[np.arange(k), largest])  # +1 or -1, never 0 on a unit row
    variance = s**2  # times N, which cancels in the ratio
    return mean, components * signs[:, None], variance[:k] / variance.sum()


def pca_transform(X, mean, components):
    r"""Coordinates of samples along the principal directions: :math:`Z = (X - \bar x) V_k^\top`.

    Parameters
    ----------
    X : array_like, shape (N, D)
    mean : array_like, shape (D,)
    components : array_like, shape (k, D)
        Orthonormal rows, as from :func:`pca_fit`.

    Returns
    -------
    Z : ndarray, shape (N, k)
    """
    mean, components = _check_pca(mean, components)
    X = as_float(X, "X")
    require_ndim(X, 2, "X", f"(N, {mean.shape[0]}), one sample per row")
    require_shape(X, (X.shape[0], mean.shape[0]), "X", "one column per entry of mean")
    return (X - mean) @ components.T  # (N, D) @ (D, k) -> (N, k)


def pca_reconstruct(Z, mean, components):
    r"""Samples rebuilt from their coordinates: :math:`\hat X = Z V_k + \bar x`.

    With the coordinates of :func:`pca_transform` this is the orthogonal projection of
    :math:`X - \bar x` onto the components' span, shifted back by the mean: exact when
    k = D, and otherwise the best rank-k approximation in squared error.

    Parameters
    ----------
    Z : array_like, shape (N, k)
    mean : array_like, shape (D,)
    components : array_like, shape (k, D)

    Returns
    -------
    X_hat : ndarray, shape (N, D)
    """
    mean, components = _check_pca(mean, components)
    Z = as_float(Z, "Z")
    k = components.shape[0]
    require_ndim(Z, 2, "Z", f"(N, {k}), one row of {k} coordinates per sample")
    require_shape(Z, (Z.shape[0], k), "Z", "one column per row of components")
    return Z @ components + mean  # (N, k) @ (k, D) -> (N, D)


def principal_angles(A, B):
    r"""Principal angles, in degrees and ascending, between the row spaces of A and B.

    The rows need not be orthonormal: QR factorisations :math:`A^\top = Q_A R_A` and
    :math:`B^\top = Q_B R_B` give orthonormal bases (the columns of :math:`Q_A`,
    :math:`Q_B`, shape (D, k)) of the same spaces. The cosines of the angles are the
    singular values of :math:`M = Q_A^\top Q_B`, and their sines the singular values of
    :math:`Q_B - Q_A M`, the part of :math:`Q_B` outside A's space. The angle is
    :math:`\theta = \operatorname{arctan2}(\sin\theta, \cos\theta)`: ``arccos`` of the
    cosine alone loses the small angles, the ones that matter here (an angle of 1e-8
    has the cosine 1 - 5e-17, which rounds to 1, so ``arccos`` says 0; and any
    rounding in a cosine near 1 becomes an angle of about 1e-6 degrees).

    Parameters
    ----------
    A, B : array_like, shape (k, D)
        Each has k linearly independent rows spanning a k-dimensional subspace of
        :math:`\mathbb{R}^D`: PCA's components, or a decoder's weights transposed.

    Returns
    -------
    ndarray, shape (k,)
        The angles in degrees, in [0, 90], smallest first: 0 for a shared direction,
        90 for a direction of one space orthogonal to the whole other one. All 0
        when the spaces are the same.
    """
    A, B = _check_subspace(A, "A"), as_float(B, "B")
    if B.shape != A.shape:
        raise ValueError(
            f"B must have the shape of A, {A.shape} (k directions as rows in R^D); "
            f"got shape {B.shape}" + (": did you pass B.T?" if B.shape == A.shape[::-1] else "")
        )
    B = _check_subspace(B, "B")
    QA, _ = np.linalg.qr(A.T)  # (D, k): orthonormal columns spanning A's rows
    QB, _ = np.linalg.qr(B.T)  # (D, k)
    M = QA.T @ QB  # (k, k)
    cos = np.linalg.svd(M, compute_uv=False)  # descending: the smallest angle first
    sin = np.linalg.svd(QB - QA @ M, compute_uv=False)[::-1]  # ascending, the same order
    return np.degrees(np.arctan2(sin, cos))


class Autoencoder:
    r"""An MLP D → hidden → k → reversed(hidden) → D trained to reproduce its input.

    Every layer but the output applies ``activation``, the code layer included (as in
    an MLP, where only the last layer is linear): the code of a tanh autoencoder lies in
    :math:`(-1, 1)^k`. The output layer is linear, so it can reach any value. With
    ``linear=True`` no layer has an activation, and the network computes a linear map.

    Parameters
    ----------
    D : int
        Number of inputs, and of outputs.
    k : int
        Width of the code layer.
    hidden : sequence of int, default ()
        Widths of the encoder's hidden layers; the decoder mirrors them.
        ``Autoencoder(64, 2, hidden=(32,))`` is 64-32-2-32-64.
    activation : str, default "tanh"
        A key of :data:`course_lib.activations.ACTIVATIONS`.
    linear : bool, default False
        No activation anywhere (``activation`` is then ignored).
    seed : int, default 0
        Seed of the initialisation: the activation's own (``ACTIVATIONS[activation].init``,
        Xavier for tanh, He for ReLU and ELU), Xavier for a linear network. Biases start at 0.

    Attributes
    ----------
    sizes : list of int
        ``[D, *hidden, k, *reversed(hidden), D]``.
    params : dict of str -> ndarray
        ``W1`` of shape (sizes[1], D), ``b1``, …: the encoder's layers, then the decoder's.
    activation : str or None
        None for a linear autoencoder.
    """

    def __init__(self, D, k, hidden=(), activation="tanh", linear=False, seed=0):
        hidden = [int(h) for h in hidden]
        self.sizes = [int(D), *hidden, int(k), *hidden[::-1], int(D)]
        if min(self.sizes) < 1:
            raise ValueError(f"D, k and the hidden widths must be >= 1; got sizes {self.sizes}")
        self.activation = None if linear else activation
        if self.activation is not None:
            _activation(self.activation)
        init = "xavier" if linear else ACTIVATIONS[activation].init
        self.seed = seed
        rng = np.random.default_rng(seed)
        self.params = {}
        for i, (m_in, m_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:], strict=True), 1):
            self.params[f"W{i}"] = _INITS[init](m_in, m_out, rng)
            self.params[f"b{i}"] = np.zeros(m_out)
        self.n_encoder = len(hidden) + 1  # layers 1 … n_encoder end in the code
        self._caches = None

    @property
    def n_layers(self) -> int:
        """Number of dense layers, encoder and decoder together."""
        return len(self.sizes) - 1

    def encode(self, X):
        """Codes of a batch: the output of the code layer (after its activation).

        Parameters
        ----------
        X : array_like, shape (N, D)

        Returns
        -------
        Z : ndarray, shape (N, k)
        """
        X = self._check(X, 0, "X")
        return _forward(X, self.params, self.activation, 1, self.n_encoder, True)[0]

    def decode(self, Z):
        """Reconstructions from codes: the decoder's layers, the last one linear.

        Parameters
        ----------
        Z : array_like, shape (N, k)

        Returns
        -------
        X_hat : ndarray, shape (N, D)
        """
        Z = self._check(Z, self.n_encoder, "Z")
        return _forward(Z, self.params, self.activation, self.n_encoder + 1, self.n_layers,
                        False)[0]

    def forward(self, X):
        """Reconstructions of a batch, remembering what :meth:`backward` needs.

        Parameters
        ----------
        X : array_like, shape (N, D)

        Returns
        -------
        X_hat : ndarray, shape (N, D)
        """
        X = self._check(X, 0, "X")
        X_hat, self._caches = _forward(X, self.params, self.activation, 1, self.n_layers, False)
        return X_hat

    def backward(self, dout):
        r"""Gradients of the loss with respect to every parameter.

        Parameters
        ----------
        dout : array_like, shape (N, D)
            :math:`\partial L / \partial \hat X` for the batch of the last :meth:`forward`.

        Returns
        -------
        grads : dict of str -> ndarray
            The keys of ``params``, in their order, each gradient of its parameter's shape.
        """
        if self._caches is None:
            raise RuntimeError("call forward(X) before backward(dout)")
        dout = as_float(dout, "dout")
        require_shape(dout, self._caches[-1][1].shape, "dout", "the shape of forward's output")
        return _backward(dout, self._caches, self.activation)

    def _check(self, X, layer, name):
        X = as_float(X, name)
        width = self.sizes[layer]
        require_ndim(X, 2, name, f"(N, {width}), one sample per row")
        require_shape(X, (X.shape[0], width), name, f"this autoencoder's layer {layer} has "
                      f"{width} units")
        return X

    def __repr__(self):
        kind = "linear=True" if self.activation is None else f"activation={self.activation!r}"
        return f"Autoencoder(sizes={self.sizes}, {kind}, seed={self.seed})"


def autoencoder_loss_and_grads(params, X, activation="tanh"):
    r"""An autoencoder's reconstruction error and its gradients.

    The network is an MLP whose target is its input. For layers i = 1, …, L:
    :math:`Z_i = H_{i-1} W_i^\top + b_i` with :math:`H_0 = X`, and
    :math:`H_i = f(Z_i)` for every layer but the last, the code layer included; the
    output :math:`\hat X = Z_L` is linear. The loss is notebook 03's MSE, the mean over
    all N·D elements,

    .. math:: L = \frac{1}{ND}\sum_{n,d} (\hat x_{nd} - x_{nd})^2,
              \qquad \frac{\partial L}{\partial \hat X} = \frac{2}{ND}(\hat X - X),

    so it compares directly with PCA's reconstruction error computed the same way
    (not per sample, which is D times larger).

    Parameters
    ----------
    params : dict of str -> ndarray
        ``W1`` of shape (m_1, D), ``b1`` of shape (m_1,), …, ``WL`` of shape (D, m_{L-1}),
        ``bL``: the encoder's layers then the decoder's, D → … → k → … → D.
    X : array_like, shape (N, D)
    activation : str or None, default "tanh"
        A key of :data:`course_lib.activations.ACTIVATIONS`, or None for a linear
        autoencoder (no activation anywhere).

    Returns
    -------
    loss : float
    grads : dict of str -> ndarray
        Every key of params, in its order, each gradient of its parameter's shape.
    """
    if activation is not None:
        _activation(activation)
    X = as_float(X, "X")
    require_ndim(X, 2, "X", "(N, D), one sample per row")
    n_layers = _check_layers(X, params)
    W_out = np.shape(params[f"W{n_layers}"])  # (D, m_{L-1}) for an autoencoder
    if W_out[0] != X.shape[1]:
        raise ValueError(f"W{n_layers} must have shape ({X.shape[1]}, {W_out[1]}): the output "
                         f"layer gives back X's {X.shape[1]} features; got shape {W_out}")
    X_hat, caches = _forward(X, params, activation, 1, n_layers, False)
    loss, dX_hat = mse_and_grad(X_hat, X)  # the mean over all N * D elements
    return loss, _backward(dX_hat, caches, activation)


def _forward(H, params, activation, first, last, activate_last):
    """Layers first … last: each a dense layer, then the activation except on a linear output.

    Returns the output and, per layer, ``(dense cache, Z)`` as in :func:`mlp_forward`.
    """
    f = None if activation is None else ACTIVATIONS[activation][0]
    caches = []
    for i in range(first, last + 1):
        Z, cache = dense_forward(H, params[f"W{i}"], params[f"b{i}"])  # (N, m_i)
        caches.append((cache, Z))
        H = Z if f is None or (i == last and not activate_last) else f(Z)
    return H, caches


def _backward(dX_hat, caches, activation):
    """Gradients for the caches of a whole network (:func:`_forward` with a linear output)."""
    n_layers = len(caches)
    grads = {}
    for i in range(1, n_layers + 1):
        grads[f"W{i}"] = grads[f"b{i}"] = None  # fixes the order W1, b1, W2, b2, …
    dZ = dX_hat  # (N, D): the output layer is linear
    for i in range(n_layers, 0, -1):
        cache, _ = caches[i - 1]
        dH, grads[f"W{i}"], grads[f"b{i}"] = dense_backward(dZ, cache)
        if i > 1:  # through layer i-1's activation, at its Z (nothing to do when linear)
            dZ = dH if activation is None else activation_backward(dH, caches[i - 2][1],
                                                                   activation)
    return grads


def _check_layers(X, params):
    """The number of layers, once each layer's W and b fit the width of the layer before.

    Written here rather than borrowed from notebook 02's MLP: a grading kernel of 02
    withholds MLP's own checks, and a reference of a later notebook that called them
    would hand them back.
    """
    n_layers = _count_layers(params)
    width = X.shape[1]
    for i in range(1, n_layers + 1):
        W, b = np.shape(params[f"W{i}"]), np.shape(params[f"b{i}"])
        if len(W) == 2 and W[1] == width and b == W[:1]:
            width = W[0]
            continue
        rows = b[0] if len(b) == 1 else (W[0] if W else "m")
        source = f"X has {width} features" if i == 1 else f"layer {i - 1} has {width} units"
        raise ValueError(f"W{i} must have shape ({rows}, {width}) and b{i} shape ({rows},) "
                         f"because {source}; got W{i} of shape {W} and b{i} of shape {b}"
                         + (f": did you pass W{i}.T?" if W == (width, rows) else ""))
    return n_layers


def _check_k(k, limit):
    if isinstance(k, bool) or int(k) != k or not 1 <= k <= limit:
        raise ValueError(f"k must be a whole number from 1 to min(N, D) = {limit}; got {k!r}")
    return int(k)


def _check_pca(mean, components):
    mean, components = as_float(mean, "mean"), as_float(components, "components")
    require_ndim(mean, 1, "mean", "(D,), one entry per feature")
    D = mean.shape[0]
    require_ndim(components, 2, "components", f"(k, {D}), one direction per row")
    if components.shape[1] != D:
        hint = ": did you pass components.T?" if components.shape[0] == D else ""
        raise ValueError(f"components must have shape (k, {D}), one direction of R^{D} per row "
                         f"like mean's {D} entries; got shape {components.shape}{hint}")
    return mean, components


def _check_subspace(A, name):
    A = as_float(A, name)
    require_ndim(A, 2, name, "(k, D), one direction per row")
    k, D = A.shape
    if not 1 <= k <= D:
        raise ValueError(f"{name} must have shape (k, D) with 1 <= k <= D, one direction of R^D "
                         f"per row; got shape {A.shape}"
                         + (f": did you pass {name}.T?" if D >= 1 and k > D else ""))
    if np.linalg.matrix_rank(A) < k:
        raise ValueError(f"the {k} rows of {name} are linearly dependent: they span fewer "
                         f"than {k} dimensions, so the angles are not defined")
    return A
