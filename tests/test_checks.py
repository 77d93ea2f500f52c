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
def test_each_known_mistake_is_named_by_the_visible_test(name, hint_index):
    """A student implementation that makes a listed mistake fails the visible checks (what
    the text teaches is never tested only in hidden cases), and the message names that
    mistake, not a neighbouring one."""
    hint = EXERCISES[name].hints[hint_index]
    message = _fails(name, hint.wrong)
    assert "Likely mistake" in message
    assert hint.message in message


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


def test_an_overflow_with_no_known_mistake_points_at_the_line():
    """An overflow no hint knows: NumPy's words, the student's line, advice that fits any
    exercise (not the activations' "naive formula")."""
    def relu(x):
        scale = np.exp(1000 * x)
        return np.maximum(x, 0) * scale / scale
    message = _fails("relu", relu)
    assert "NumPy reports 'overflow encountered in exp'" in message
    assert "scale = np.exp(1000 * x)" in message and "naive" not in message


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
    (lambda x: np.maximum(x, 0).tolist(), "it returned a list, not a NumPy array"),
    ("not a function", "should be a function"),
])
def test_wrong_kinds_of_answer_get_specific_messages(fn, fragment):
    """None, booleans, float32, wrong shapes, errors, strings, a list of the right numbers
    where the reference returns an array, and wrong signatures are named."""
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


def test_a_renamed_parameter_costs_nothing_but_options_keep_their_names():
    """Parameters passed by position may have any name; an option (axis) may not."""
    check("relu", lambda z: np.maximum(z, 0))
    check("softmax", lambda z, axis=-1: _softmax(z, axis))
    message = _fails("softmax", lambda z, ax=-1: _softmax(z, ax))
    assert "yours takes (z, ax)" in message and "axis may not" in message


def _softmax(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_an_error_in_the_students_code_names_its_line():
    def relu(x):
        out = np.maximum(x, 0)  # noqa: F841
        return outt  # noqa: F821
    message = _fails("relu", relu)
    assert "raised NameError: name 'outt' is not defined" in message
    assert "return outt  # noqa: F821" in message and "at line" in message


def test_an_error_inside_a_swapped_in_reference_is_the_students_arguments():
    """mlp_backward passing dense_backward its arguments swapped: the error comes from the
    reference the check put in place of the student's dense_backward, and says so."""
    def mlp_backward(dlogits, caches, activation="relu"):
        grads, dZ = {}, dlogits
        for i in range(len(caches), 0, -1):
            cache, _ = caches[i - 1]
            dH, grads[f"W{i}"], grads[f"b{i}"] = dense_backward(cache, dZ)  # noqa: F821
        return grads
    message = _fails("mlp_backward", mlp_backward)
    assert "dense_backward(cache, dZ)" in message
    assert "comes from inside dense_backward" in message and "what you pass" in message


def test_two_known_mistakes_that_agree_are_both_named():
    from course_lib.checks._engine import Case, Exercise, Hint, run_exercise

    twice = Exercise("twice", lambda x: 2 * x, visible=(Case("c", (np.array([1.0, 2.0]),)),),
                     hints=(Hint(lambda x: x, "forgot the factor"),
                            Hint(lambda x: x ** 1, "raised to the first power")))
    with pytest.raises(ExerciseFailed) as info:
        run_exercise(twice, lambda x: x * 1.0)
    assert "one of these" in str(info.value)
    assert "forgot the factor" in str(info.value) and "raised to the first power" in str(info.value)


def test_own_or_reference_agrees_with_the_test_cell_and_sums_up_in_words(capsys):
    """It runs the visible checks, as the test cell does; a failure is summed up by the
    case's name and the problem, not an array dump."""
    from course_lib.checks import own_or_reference

    mine = own_or_reference("relu", lambda x: np.abs(x))
    said = capsys.readouterr().out
    assert "does not pass its checks yet (a mix of negative, zero and positive values: " \
           "values differ" in said and "[" not in said.splitlines()[0]
    assert mine is not None
    again = own_or_reference("relu", mine)  # the same cell run a second time
    assert again is mine and "is the reference" in capsys.readouterr().out


def test_hand_worked_values_name_the_part_that_differs():
    from course_lib.checks import check_values
    from course_lib.layers import dense_backward

    def wrong(dZ, cache):
        dX, dW, db = dense_backward(dZ, cache)
        return dX, dW, db + 1
    X, W = np.ones((2, 3)), np.ones((4, 3))
    with pytest.raises(ExerciseFailed) as info:
        check_values("dense_backward", wrong, (np.ones((2, 4)), (X, W)),
                     dense_backward(np.ones((2, 4)), (X, W)))
    assert "got db" in str(info.value)
