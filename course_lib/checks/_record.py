"""The checks as they run while an instructor grades: record, do not judge.

When the grader starts a student's kernel it sets ``NNCOURSE_RECORD_DIR``. Then
:func:`check` and :func:`check_values` only call the student's function on the
cases and write what happened (:class:`~course_lib.checks._engine.Outcome`) to a
numbered file in that folder; the grader judges those outcomes in its own
process, where nothing the student's code did can reach. The notebook's own
``check`` may be replaced, NumPy patched, tracebacks hidden: the outcomes are
still the student's function's real answers, or missing, which scores 0.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from pathlib import Path

from ._engine import Case, _observe_call, _params, _references_in_place_of, observe, signature_of

RECORD_DIR_VARIABLE = "NNCOURSE_RECORD_DIR"
_numbers = itertools.count()


def recording() -> bool:
    return bool(os.environ.get(RECORD_DIR_VARIABLE))


def record_check(exercise, fn, hidden: bool) -> None:
    signature = signature_of(fn)
    outcomes = list(observe(exercise, fn, hidden=hidden)) if signature.callable else []
    _write({"kind": "check", "exercise": exercise.name, "hidden": hidden,
            "signature": dataclasses.asdict(signature),
            "outcomes": [dataclasses.asdict(o) for o in outcomes]})
    print(f"{exercise.name}: {len(outcomes)} results recorded for the grader.")


def record_values(name: str, fn, args: tuple, kwargs: dict | None, depends: dict) -> None:
    case = Case("hand-worked values", tuple(args), kwargs or {})
    with _references_in_place_of(fn, depends):
        outcome = _observe_call(fn, case)
    _write({"kind": "values", "exercise": name, "params": list(_params(fn)),
            "outcome": dataclasses.asdict(outcome)})
    print(f"{name}: hand-worked result recorded for the grader.")


def _write(record: dict) -> None:
    from course_lib.grading import wire

    folder = Path(os.environ[RECORD_DIR_VARIABLE])
    wire.save(folder / f"{next(_numbers):06d}.values", record)
