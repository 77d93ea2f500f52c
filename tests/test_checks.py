"""The notebooks' feedback: right answers pass, and each common mistake gets a message that names it."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib import activations as ref
from course_lib.checks import _EXERCISES as EXERCISES
from course_lib.checks import ExerciseFailed, check, check_values, exercise_names


@pytest.mark.parametrize("name", exercise_names())
def test_reference_passes_every_check(name, capsys):
    """Each reference implementation passes its own visible and hidden checks."""
    check(name, EXERCISES[name].reference, hidden=True)
    assert f"\u2714 {name}" in capsys.readouterr().out


def _fails(name, fn, hidden=False) -> str:
    with pytest.raises(ExerciseFailed) as info:
        check(name, fn, hidden=hidden)
    return str(info.value)


@pytest.mark.parametrize(("name", "hint_index"), [
    (name, i) for name, ex in EXERCISES.items() for i in range(len(ex.hints))
])
def test_each_known_mistake_is_named(name, hint_index):
    """A student implementation that makes a listed mistake fails, with a listed message."""
    hint = EXERCISES[name].hints[hint_index]
    message = _fails(name, hint.wrong, hidden=True)
    assert "Likely mistake" in message
    # the first matching hint is the one reported; for this mistake it must be one that fits
    assert any(h.message in message for h in EXERCISES[name].hints)


def test_failure_gives_input_expected_got_and_mistake():
    """relu returning x: the message shows x, the expected and the returned arrays, and the hint."""
    message = _fails("relu", lambda x: x)
    assert "relu([-2. , -0.5,  0. ,  0.5,  2. ])" in message
    assert "expected = [0. , 0. , 0. , 0.5, 2. ]" in message
    assert "got      = [-2. , -0.5,  0. ,  0.5,  2. ]" in message
    assert "expected 0.0, got -2.0" in message
    assert "you returned x unchanged" in message


def test_unfinished_exercise_says_so():
    """The untouched stub's NotImplementedError becomes a plain sentence."""
    def relu(x):
        raise NotImplementedError()
    assert "relu is not implemented yet" in _fails("relu", relu)


def test_overflow_is_reported_as_the_naive_formula():
    """The naive sigmoid passes the visible checks and fails the hidden ones at -1000."""
    def naive(x):
        return 1.0 / (1.0 + np.exp(-x))
    check("sigmoid", naive)  # ordinary inputs are fine
    message = _fails("sigmoid", naive, hidden=True)
    assert "overflow" in message and "stable" in message


def test_changing_the_input_in_place_is_caught():
    """A function that writes into its argument fails even when its return value is right."""
    def relu(x):
        x[x < 0] = 0.0
        return x
    message = _fails("relu", relu)
    assert "changed its input in place" in message


@pytest.mark.parametrize(("fn", "fragment"), [
    (lambda x: None, "returned None"),
    (lambda x: (x > 0), "dtype float64, got bool"),
    (lambda x: np.maximum(x, 0).astype(np.float32), "dtype float64, got float32"),
    (lambda x: np.maximum(x, 0)[None], "expected an array of shape"),
    (lambda x: x.tolist() + "oops", "raised TypeError"),
    (lambda x: "relu", "not an array of numbers"),
    (lambda y: np.maximum(y, 0), "should take the parameters (x)"),
    ("not a function", "should be a function"),
])
def test_wrong_kinds_of_answer_get_specific_messages(fn, fragment):
    """None, booleans, float32, wrong shapes, errors, strings and wrong signatures are named."""
    assert fragment in _fails("relu", fn)


def test_check_values_compares_with_hard_coded_numbers():
    """check_values passes equal numbers and reports different ones."""
    check_values("sigmoid", ref.sigmoid, (np.array([0.0]),), [0.5])
    with pytest.raises(ExerciseFailed, match="hand-worked values"):
        check_values("sigmoid", ref.sigmoid, (np.array([0.0]),), [0.4])


def test_unknown_exercise_lists_the_known_ones():
    """A typo in an exercise name says which names exist."""
    with pytest.raises(KeyError, match="relu"):
        check("rleu", ref.relu)


def test_cases_are_the_same_every_run():
    """The checks' random inputs come from a fixed seed: every student gets the same cases."""
    first = [case.args[0].copy() for case in EXERCISES["relu"].visible + EXERCISES["relu"].hidden]
    import importlib

    import course_lib.checks.activations as module
    reloaded = importlib.reload(module)  # builds the cases again
    again = [case.args[0] for case in reloaded.EXERCISES["relu"].visible + reloaded.EXERCISES["relu"].hidden]
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_failing_check_puts_the_students_helpers_back_at_once():
    # mlp_forward depends on dense_forward: the check swaps in the reference while it runs,
    # and must put the student's own back even when it stops at a failure
    namespace = {"np": np}
    exec(
        "def dense_forward(X, W, b):\n"
        "    return X @ W.T\n"
        "def mlp_forward(X, params, activation='relu'):\n"
        "    return None, []\n",
        namespace,
    )
    own = namespace["dense_forward"]
    with pytest.raises(ExerciseFailed):
        check("mlp_forward", namespace["mlp_forward"])
    assert namespace["dense_forward"] is own


def test_a_failure_in_ipython_shows_the_message_not_the_machinery(capsys):
    """In a notebook, a failed check prints its message alone, without course_lib's frames."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        shell.run_cell("from course_lib.checks import check\n"
                       "def relu(x):\n    return x\n"
                       "check('relu', relu)\n")
    finally:
        InteractiveShell.clear_instance()
    shown = capsys.readouterr().out
    assert shown.startswith("ExerciseFailed: relu"), shown
    assert "_engine.py" not in shown and "Traceback" not in shown
