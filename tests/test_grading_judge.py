"""What the grader knows stays in the grader: expected values, hidden tests, the course's secret."""

from __future__ import annotations

import ast
import os
import stat

import numpy as np

from course_lib import wire
from course_lib.checks import exercise, exercise_names
from course_lib.checks._engine import (
    ExerciseFailed,
    fresh_case,
    fresh_cases,
    fresh_draws,
    observe,
    run_exercise,
    signature_of,
)
from course_lib.checks._engine import judge as judged
from course_lib.grading import judge, secret

HIDDEN_CELL = '''"""relu (hidden): extreme inputs, hand-worked values."""
### BEGIN HIDDEN TESTS
check("relu", relu, hidden=True)
# relu(-3) = 0 and relu(7) = 7
check_values("relu", relu, (np.array([-3.0, 7.0]),), [0.0, 7.0])
check_values("relu", relu, (np.array([2.0]),), expected=[2.0], kwargs={})
### END HIDDEN TESTS
'''


def test_the_kernel_runs_a_test_cell_without_its_expected_values_or_comments():
    source = judge.kernel_source(HIDDEN_CELL)
    assert "7.0])," in source and "[0.0, 7.0]" not in source and "expected=[2.0]" not in source
    assert "hand-worked" in source  # the docstring is a string, not a comment
    assert "relu(-3) = 0" not in source and "HIDDEN TESTS" not in source
    calls = [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)
             and getattr(node.func, "id", "") == "check_values"]
    assert len(calls) == 2
    assert all(ast.unparse(c).count("None") == 1 for c in calls)
    # the grader's plan still has them
    assert [step.expected for step in judge.plan(HIDDEN_CELL)[1:]] == [[0.0, 7.0], [2.0]]


def test_feedback_shows_what_a_hidden_test_checks_not_its_code():
    shown = judge.feedback_source(HIDDEN_CELL)
    assert "extreme inputs, hand-worked values" in shown and "check" not in shown
    assert "7.0" not in shown
    visible = 'check("relu", relu)\n'
    assert judge.feedback_source(visible) == visible


def test_fresh_cases_are_new_inputs_judged_like_the_others():
    relu = exercise("relu")
    one = fresh_cases(relu, np.random.default_rng(1))
    two = fresh_cases(relu, np.random.default_rng(2))
    again = fresh_cases(relu, np.random.default_rng(1))
    # one for each visible case with numbers to draw anew: not the empty batch
    drawn = [case for case in relu.visible if case.args[0].size]
    assert len(one) == len(drawn) == len(relu.visible) - 1
    assert all(a.args[0].shape == v.args[0].shape for a, v in zip(one, drawn, strict=True))
    assert not np.array_equal(one[0].args[0], two[0].args[0])
    assert np.array_equal(one[0].args[0], again[0].args[0])
    # the reference passes them, a lookup table of the fixed cases does not
    assert run_exercise(relu, relu.reference, hidden=True) > 0
    fixed = {(case.args[0].shape, case.args[0].tobytes()): relu.reference(case.args[0])
             for case in relu.visible + relu.hidden}

    def memorised(x):
        x = np.asarray(x)
        return fixed.get((x.shape, x.tobytes()), np.zeros_like(x))

    outcomes = list(observe(relu, memorised, hidden=True, extra=one))
    try:
        judged(relu, signature_of(memorised), outcomes, hidden=True, extra=one)
    except ExerciseFailed as exc:
        assert "new random values" in str(exc)
    else:
        raise AssertionError("a table of the published cases passed the fresh ones")


def test_every_exercise_with_numbers_in_its_inputs_gets_fresh_cases():
    """Arrays inside dicts, lists and the checks' helper objects (an optimizer's run) too."""
    without = {name for name in exercise_names() if not fresh_cases(exercise(name),
                                                                     np.random.default_rng(0))}
    assert without == set()
    # he_init's inputs are two sizes and a generator: the generator is drawn anew
    first, again = (fresh_cases(exercise("he_init"), np.random.default_rng(s)) for s in (1, 2))
    assert not np.array_equal(exercise("he_init").reference(*first[0].args),
                              exercise("he_init").reference(*again[0].args))


def test_a_draw_crosses_as_numbers_and_is_rebuilt_the_same_on_both_sides():
    adam = exercise("Adam")
    (i, arrays), *_ = fresh_draws(adam, np.random.default_rng(3))
    sent = wire.loads(wire.dumps([i, arrays]))  # what the kernel receives
    here, there = fresh_case(adam, i, arrays), fresh_case(adam, sent[0], sent[1])
    assert repr(here.args) == repr(there.args)
    run = there.args[0]
    assert all(np.array_equal(a, b) for a, b in zip(
        [*run.params.values(), *(g for step in run.grad_steps for g in step.values())],
        arrays, strict=True))
    assert run.params is not adam.visible[i].args[0].params  # the template is untouched


def test_the_course_secret_is_made_once_private_and_named_by_a_fingerprint(tmp_path):
    key = secret.course_secret(tmp_path)
    path = tmp_path / secret.SECRET_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert secret.course_secret(tmp_path) == key and len(key) >= 32
    assert secret.fingerprint(key) not in key.decode() and len(secret.fingerprint(key)) == 12
    seeds = {secret.seed(key, "01", s, e) for s in ("alice", "bob") for e in ("relu", "tanh")}
    assert len(seeds) == 4
    assert secret.seed(key, "01", "alice", "relu") == secret.seed(key, "01", "alice", "relu")
    # a changed submission draws anew: answers pasted in from the last draw meet new cases
    assert secret.seed(key, "01", "alice", "relu", "a1") != secret.seed(key, "01", "alice",
                                                                        "relu", "b2")
