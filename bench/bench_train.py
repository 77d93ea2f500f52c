"""Benchmark: course_lib against scikit-learn's MLPClassifier on the same training job.

The job: an MLP [64, 128, 10] with ReLU, trained with Adam (lr 1e-3, betas 0.9
and 0.999, eps 1e-8, no weight decay) on minibatches of 32, shuffled every
epoch, for 30 epochs, on load_digits() (1437 training and 360 test images).

A third trainer, a bare NumPy loop of the same arithmetic with no library
structure at all, shows what course_lib's functions and checks cost: course_lib
is written as the notebooks teach it (mlp_forward through dense_forward, Adam one
parameter at a time in the paper's four steps), and checks its inputs.

The trainers run in the same process, alternating, REPEATS times each on the
same job (seed 0); the best time of each is reported (the least disturbed by the
rest of the machine), with the ratio course_lib / scikit-learn. Test accuracy is
reported for seed 0 and, as a check that it is no lucky draw, over seeds 0-4.

Run with ``make bench``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from course_lib.data import load_digits
from course_lib.network import MLP
from course_lib.optim import Adam
from course_lib.train import fit

SIZES = [64, 128, 10]
EPOCHS = 30
BATCH = 32
LR = 1e-3
GOAL = 0.6  # course_lib's time at most this fraction of scikit-learn's


def train_course_lib(X_train, y_train, seed):
    model = MLP(SIZES, activation="relu", seed=seed)
    fit(model, X_train, y_train, optimizer=Adam(lr=LR), epochs=EPOCHS, batch_size=BATCH,
        seed=seed, progress=False)
    return model.predict


def train_bare_numpy(X_train, y_train, seed):
    """The same job as one flat loop: no functions, no checks, no dicts."""
    rng = np.random.default_rng(seed)
    (d, h, c), n = SIZES, len(X_train)
    W1, b1 = rng.normal(0.0, np.sqrt(2.0 / d), (h, d)), np.zeros(h)
    W2, b2 = rng.normal(0.0, np.sqrt(2.0 / h), (c, h)), np.zeros(c)
    params = [W1, b1, W2, b2]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    t = 0
    for _ in range(EPOCHS):
        order = rng.permutation(n)
        for start in range(0, n, BATCH):
            batch = order[start : start + BATCH]
            X, y = X_train[batch], y_train[batch]
            Z1 = X @ W1.T + b1
            H1 = np.maximum(Z1, 0.0)
            Z2 = H1 @ W2.T + b2
            e = np.exp(Z2 - Z2.max(axis=1, keepdims=True))
            dZ2 = e / e.sum(axis=1, keepdims=True)
            dZ2[np.arange(len(y)), y] -= 1.0
            dZ2 /= len(y)
            dZ1 = (dZ2 @ W2) * (Z1 > 0)
            grads = [dZ1.T @ X, dZ1.sum(axis=0), dZ2.T @ H1, dZ2.sum(axis=0)]
            t += 1
            for p, g, m_i, v_i in zip(params, grads, m, v, strict=True):
                m_i *= 0.9
                m_i += 0.1 * g
                v_i *= 0.999
                v_i += 0.001 * g * g
                p -= LR * (m_i / (1 - 0.9**t)) / (np.sqrt(v_i / (1 - 0.999**t)) + 1e-8)

    def predict(X):
        return (np.maximum(X @ W1.T + b1, 0.0) @ W2.T + b2).argmax(axis=1)

    return predict


def train_sklearn(X_train, y_train, seed):
    model = MLPClassifier(
        hidden_layer_sizes=tuple(SIZES[1:-1]),
        activation="relu",
        solver="adam",
        learning_rate_init=LR,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        alpha=0.0,  # no L2 penalty, as in course_lib's run
        batch_size=BATCH,
        max_iter=EPOCHS,
        shuffle=True,
        tol=0.0,  # never stop early: both run all 30 epochs
        n_iter_no_change=EPOCHS + 1,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # "max_iter reached": intended
        model.fit(X_train, y_train)
    return model.predict


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of each trainer (best kept)")
    args = parser.parse_args()

    X_train, X_test, y_train, y_test = load_digits()
    trainers = {"course_lib": train_course_lib, "bare NumPy": train_bare_numpy,
                "scikit-learn": train_sklearn}
    times = {name: [] for name in trainers}
    for _ in range(args.repeats):
        for name, train in trainers.items():
            start = time.perf_counter()
            train(X_train, y_train, seed=0)
            times[name].append(time.perf_counter() - start)
    accuracy = {
        name: [float(np.mean(train(X_train, y_train, seed=s)(X_test) == y_test)) for s in range(5)]
        for name, train in trainers.items()
    }

    print(f"MLP {SIZES}, ReLU, Adam(lr={LR}), batch {BATCH}, {EPOCHS} epochs, "
          f"load_digits(): {len(X_train)} train / {len(X_test)} test")
    print(f"{'trainer':<14}{'best time (s)':>15}{'median (s)':>12}{'accuracy, seed 0':>18}"
          f"{'seeds 0-4: mean, min':>24}")
    for name in trainers:
        t, acc = times[name], accuracy[name]
        print(f"{name:<14}{min(t):>15.3f}{np.median(t):>12.3f}{acc[0]:>18.2%}"
              f"{np.mean(acc):>15.2%}, {min(acc):.2%}")
    ratio = min(times["course_lib"]) / min(times["scikit-learn"])
    print(f"time ratio course_lib / scikit-learn: {ratio:.2f} (goal <= {GOAL:.2f}; best of "
          f"{args.repeats} runs each, same process)")
    overhead = min(times["course_lib"]) / min(times["bare NumPy"])
    print(f"time ratio course_lib / bare NumPy loop: {overhead:.2f} (what the lesson's form "
          "costs: its functions, their checks, the first layer's dX)")


if __name__ == "__main__":
    main()
