"""The grader's verdict on a test cell, reached in the grader's own process.

A test cell of the course calls ``check(...)`` and ``check_values(...)``. While
grading, those calls in the student's kernel only record the student's answers
(:mod:`course_lib.checks._record`). Here the grader

1. plans the cell: it runs the cell's source as stored in the gradebook (the
   instructor's text, never the student's copy) with ``check`` and
   ``check_values`` standing in as planners, which gives the calls the cell must
   make, with the hand-worked expected values computed here;
2. runs the cell in the kernel without its expected values (:func:`kernel_source`),
   and receives the records the checks send while it runs (:mod:`course_lib.channel`),
3. judges each against the plan with the same code that gives students their
   feedback, comparing with the reference implementations in this process.

A record missing, extra, out of order or malformed fails the cell: whatever the
student's code did to the kernel, the only way to the points is to return the
right values.
"""

from __future__ import annotations

import ast
import builtins
import copy
from dataclasses import dataclass

from course_lib import wire
from course_lib.checks import exercise, exercise_names
from course_lib.checks._engine import Case, ExerciseFailed, Outcome, Signature, judge, judge_values

__all__ = ["Planned", "Verdict", "plan", "unplannable", "kernel_source", "feedback_source",
           "verdict"]

_STATUSES = {"returned", "raised", "not-implemented", "overflow"}


@dataclass(frozen=True)
class Planned:
    """One call a test cell makes: ``check`` of an exercise, or ``check_values`` on a case."""

    kind: str  # "check" or "values"
    exercise: str
    hidden: bool = False
    case: Case | None = None
    expected: object = None


@dataclass(frozen=True)
class Verdict:
    passed: bool
    message: str


class _Student:
    """Stands for a name the test cell takes from the student's notebook."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name

    def __call__(self, *args, **kwargs):
        raise TypeError(f"the cell calls the notebook's {self.name} itself, which only check "
                        f"and check_values may do")


def plan(source: str) -> list[Planned]:
    """The calls a test cell's ``source`` makes, with their expected values worked out here."""
    import numpy as np

    planned: list[Planned] = []

    def check(name, fn, *, hidden=False):
        planned.append(Planned("check", str(name), bool(hidden)))

    def check_values(name, fn, args, expected, kwargs=None):
        planned.append(Planned("values", str(name),
                               case=Case("hand-worked values", tuple(args), kwargs or {}),
                               expected=copy.deepcopy(expected)))

    namespace = {name: _Student(name) for name in _free_names(source)}
    namespace.update(np=np, check=check, check_values=check_values, __name__="__test_cell__")
    exec(compile(source, "<test cell>", "exec"), namespace)  # the instructor's own source
    return planned


#: What a test cell may hold besides its check and check_values calls: its docstring,
#: hand-worked values, helpers that call the student's code for check_values, imports.
_QUIET = (ast.Assign, ast.AnnAssign, ast.FunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)


def unplannable(source: str) -> str | None:
    """Why the grader could not grade a test cell with this ``source``; None when it can.

    The grader judges a test cell by its ``check`` and ``check_values`` calls alone
    (:func:`plan`). Any other statement, a plain ``assert`` say, runs in the student's
    kernel, where its verdict is lost; a cell that calls the student's code outside
    the checks cannot be planned at all, and scores 0 for every student.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return f"it is not valid Python (line {exc.lineno}: {exc.msg})"
    for number, node in enumerate(tree.body):
        if number == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        called = node.value.func if isinstance(node, ast.Expr) \
            and isinstance(node.value, ast.Call) else None
        if isinstance(node, _QUIET) or (isinstance(called, ast.Name)
                                        and called.id in ("check", "check_values")):
            continue
        what = "a plain `assert`" if isinstance(node, ast.Assert) else \
            f"`{ast.unparse(node).splitlines()[0][:60]}`"
        return (f"line {node.lineno} holds {what}, which the grader never sees: only check(...) "
                f"and check_values(...) decide a test cell")
    try:
        planned = plan(source)
    except Exception as exc:  # whatever it is, the grader would meet it too
        return f"planning it raised {type(exc).__name__}: {exc}"
    if not planned:
        return "it makes no check or check_values call"
    unknown = sorted({step.exercise for step in planned} - set(exercise_names()))
    if unknown:
        return f"it checks {', '.join(unknown)}, which no Exercise in course_lib.checks defines"
    return None


def _free_names(source: str) -> set[str]:
    """Names the cell reads but never binds itself: the notebook's (the student's) names."""
    tree = ast.parse(source)
    loaded, bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
    return loaded - bound - set(dir(builtins))


def kernel_source(source: str) -> str:
    """The test cell as the kernel runs it: the same calls, no expected values, no comments.

    ``check_values(name, fn, args, expected)`` becomes ``check_values(name, fn, args,
    None)``: the hand-worked answers stay in the grader, where the student's function
    cannot read them (from its caller's frame, say). The comments that explain them
    go too (the text is rebuilt from its syntax tree).
    """
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id == "check_values":
            if len(node.args) >= 4:
                node.args[3] = ast.Constant(None)
            node.keywords = [ast.keyword("expected", ast.Constant(None))
                             if k.arg == "expected" else k for k in node.keywords]
    return ast.unparse(ast.fix_missing_locations(tree))


def feedback_source(source: str) -> str:
    """What a graded notebook (and the feedback made from it) shows of a test cell.

    A hidden test's code and hand-worked values stay the instructor's: only its
    description (the cell's docstring) is shown, above the grader's verdict.
    """
    if "BEGIN HIDDEN TESTS" not in source:
        return source
    try:
        described = ast.get_docstring(ast.parse(source), clean=True) or ""
    except SyntaxError:
        described = ""
    shown = f'"""{described}"""\n' if described and '"""' not in described else ""
    return shown + "# The hidden tests of this cell ran while grading; the verdict is below.\n"


def verdict(planned: list[Planned], records: list, drawn=lambda name: ()) -> Verdict:
    """Judge the kernel's ``records`` against the cell's ``planned`` calls.

    ``drawn(exercise)`` gives the fresh cases a hidden check of that exercise ran after
    its own (the grader drew them for this student).
    """
    if len(records) != len(planned):
        return Verdict(False, (
            f"This test cell makes {len(planned)} check(s), but {len(records)} result(s) came "
            f"back from the notebook. A cell that stopped early (an error, a time limit), or "
            f"code that replaced check or check_values, gives this; the test scores 0."))
    passed = []
    for step, record in zip(planned, records, strict=True):
        try:
            passed.append(_judge_one(step, record, drawn(step.exercise) if step.hidden else ()))
        except ExerciseFailed as exc:
            return Verdict(False, str(exc))
        except (wire.WireError, KeyError, TypeError, ValueError, AttributeError) as exc:
            return Verdict(False, f"The notebook sent back a malformed result for "
                                  f"{step.exercise} ({type(exc).__name__}: {exc}); "
                                  f"the test scores 0.")
    return Verdict(True, "\n".join(passed))


def _judge_one(step: Planned, record, extra=()) -> str:
    if not isinstance(record, dict) or record.get("kind") != step.kind \
            or record.get("exercise") != step.exercise:
        raise ExerciseFailed(
            f"Expected the result of {step.kind} for {step.exercise}, but the notebook sent "
            f"something else: were check or check_values replaced? The test scores 0.")
    if step.kind == "check":
        if record.get("hidden") is not step.hidden:
            raise ExerciseFailed(f"{step.exercise}: the checks that ran are not the ones the "
                                 f"test asks for; the test scores 0.")
        checked = exercise(step.exercise)
        signature = _signature(record["signature"])
        outcomes = [_outcome(o) for o in record["outcomes"]]
        n = judge(checked, signature, outcomes, hidden=step.hidden, extra=extra)
        scope = "visible and hidden" if step.hidden else "visible"
        return f"\u2714 {step.exercise}: all {n} {scope} checks passed."
    params = record.get("params")
    if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
        raise wire.WireError("params")
    outputs = exercise(step.exercise).outputs if step.exercise in exercise_names() else ()
    judge_values(step.exercise, step.case, _outcome(record["outcome"]), step.expected, params,
                 outputs)
    return f"\u2714 {step.exercise}: the hand-worked values are right."


def _signature(data) -> Signature:
    if not isinstance(data, dict):
        raise wire.WireError("signature")
    params = data.get("params")
    if not isinstance(params, tuple | list) or not all(isinstance(p, str) for p in params):
        raise wire.WireError("signature parameters")
    return Signature(bool(data.get("callable")), str(data.get("type_name")), tuple(params))


def _outcome(data) -> Outcome:
    if not isinstance(data, dict) or data.get("status") not in _STATUSES:
        raise wire.WireError("outcome")
    types = data.get("error_types") or ()
    after = data.get("args_after") or ()
    if not all(isinstance(t, str) for t in types) or not isinstance(after, tuple | list):
        raise wire.WireError("outcome fields")
    return Outcome(data["status"], data.get("value"), str(data.get("error") or "")[:4000],
                   tuple(types), tuple(after))
