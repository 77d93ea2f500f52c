"""nn-course's reference library: neural networks from scratch in NumPy.

The math lives in small modules that import NumPy only, so ``import course_lib``
is fast:

- :mod:`course_lib.activations` — ReLU, sigmoid, tanh, softplus, ELU, softmax and derivatives
- :mod:`course_lib.layers` — the dense layer, forward and backward; He and Xavier init
- :mod:`course_lib.losses` — MSE, softmax cross-entropy, the L2 penalty
- :mod:`course_lib.network` — the multi-layer perceptron ``MLP``
- :mod:`course_lib.gradcheck` — central-difference gradients and relative error
- :mod:`course_lib.optim` — ``GD``, ``Momentum``, ``Adam``
- :mod:`course_lib.train` — minibatches and ``fit``
- :mod:`course_lib.regularization` — standardize, dropout, the L2-regularized loss, early stopping, random search
- :mod:`course_lib.autoencoder` — PCA, principal angles, the autoencoder and its loss
- :mod:`course_lib.residual` — deep plain and residual networks, their gradient norms by layer
- :mod:`course_lib.data` — the digits and toy data sets (needs scikit-learn)

The notebooks' feedback lives in :mod:`course_lib.checks`, their widgets in
:mod:`course_lib.widgets`; import those where they are used.
"""

__version__ = "0.1.0"
