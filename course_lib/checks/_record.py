"""The checks as they run while an instructor grades: record, do not judge.

When the grader starts a student's kernel it names its socket in the kernel's
environment (:mod:`course_lib.channel`). Then :func:`check` and :func:`check_values`
only call the student's function on the cases and send what happened
(:class:`~course_lib.checks._engine.Outcome`) to the grader, which judges those
outcomes in its own process, where nothing the student's code did can reach. The
notebook's own ``check`` may be replaced, NumPy patched, tracebacks hidden: the
outcomes are still the student's function's real answers, or missing, which
scores 0. The kernel never sees an expected value: the grader runs the test
cells without them.
"""

from __future__ import annotations

import dataclasses

from course_lib import channel

from ._engine import Case, _observe_call, _params, _references_in_place_of, observe, signature_of


def recording() -> bool:
    return channel.grading()


def record_check(exercise, fn, hidden: bool) -> None:
    signature = signature_of(fn)
    extra = _drawn_cases(exercise.name) if hidden else ()
    outcomes = list(observe(exercise, fn, hidden=hidden, extra=extra)) \
        if signature.callable else []
    _send({"kind": "check", "exercise": exercise.name, "hidden": hidden,
           "signature": dataclasses.asdict(signature),
           "outcomes": [dataclasses.asdict(o) for o in outcomes]})
    print(f"{exercise.name}: {len(outcomes)} results recorded for the grader.")


def record_values(name: str, fn, args: tuple, kwargs: dict | None, depends: dict) -> None:
    case = Case("hand-worked values", tuple(args), kwargs or {})
    with _references_in_place_of(fn, depends):
        outcome = _observe_call(fn, case)
    _send({"kind": "values", "exercise": name, "params": list(_params(fn)),
           "outcome": dataclasses.asdict(outcome)})
    print(f"{name}: hand-worked result recorded for the grader.")


def _drawn_cases(name: str) -> tuple:
    """The cases the grader drew for this student's hidden test of ``name`` (new each course)."""
    from ._engine import fresh_case

    checked = _exercise(name)
    drawn = channel.result(channel.request({"op": "cases", "exercise": name}))
    return tuple(fresh_case(checked, int(i), arrays) for i, arrays in drawn)


def _exercise(name: str):
    from course_lib.checks import exercise

    return exercise(name)


def _send(record: dict) -> None:
    channel.result(channel.request({"op": "record", "record": record}))
