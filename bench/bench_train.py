"""Benchmark: course_lib against scikit-learn's MLPClassifier on the same training job.

The job: an MLP [64, 128, 10] with ReLU, trained with Adam (lr 1e-3, betas 0.9
and 0.999, eps 1e-8, no weight decay) on minibatches of 32, shuffled every
epoch, for 30 epochs, on load_digits() (1437 training and 360 test images).

Both trainers run in the same process, alternating, REPEATS times each on the
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


def train_course_lib(X_train, y_train, seed):
    model = MLP(SIZES, activation="relu", seed=seed)
    fit(model, X_train, y_train, optimizer=Adam(lr=LR), epochs=EPOCHS, batch_size=BATCH,
        seed=seed, progress=False)
    return model.predict


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
    trainers = {"course_lib": train_course_lib, "scikit-learn": train_sklearn}
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
    print(f"time ratio course_lib / scikit-learn: {ratio:.2f} (goal <= 0.50; best of "
          f"{args.repeats} runs each, same process)")


if __name__ == "__main__":
    main()
