"""Compare a student's function with the reference, and say precisely what differs.

An :class:`Exercise` names the reference function, the inputs it is checked on
(:class:`Case`), and the known mistakes worth naming (:class:`Hint`). Running a
check calls the student's function on every case, under
``np.errstate(over="raise", divide="raise", invalid="raise")``, and stops at the
first problem with a message that gives the input, what was expected, what came
back and, when the wrong answer matches a known mistake, the likely cause.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import linecache
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from course_lib.wire import arrays_in as _arrays

__all__ = ["Case", "Hint", "Exercise", "ExerciseFailed", "Outcome", "Seeded", "Signature",
           "observe", "judge", "judge_values", "run_exercise", "check_values", "signature_of",
           "fresh_draws", "fresh_case", "fresh_cases"]

RTOL = 1e-7  # a correct float64 implementation agrees far better than this
ATOL = 1e-12  # values this close to 0 are 0 (e.g. 1 - tanh(x)**2 for large x)

#: No expected value given (a hint is then matched on the student's answer alone).
_NOTHING = object()


class ExerciseFailed(AssertionError):
    """A check of a student's function failed; the message says what to fix.

    ``summary`` is the failure in one short line (the case, the problem), for a cell
    that only mentions it (:func:`~course_lib.checks.own_or_reference`).
    """

    def __init__(self, message: str, summary: str | None = None):
        super().__init__(message)
        first = message.splitlines()[0] if message else ""
        self.summary = summary or (first if len(first) <= 120 else first[:117] + "...")

    def _render_traceback_(self):
        # IPython (a notebook, nbgrader's Validate) shows these lines instead of a
        # traceback: the message is the feedback, and the frames of course_lib's checking
        # machinery would bury it for a student
        return [f"ExerciseFailed: {self}"]


@dataclass(frozen=True)
class Case:
    """One call to check: ``fn(*args, **kwargs)``, described in words for the student."""

    label: str
    args: tuple
    kwargs: dict = field(default_factory=dict)
    #: the exception the call must raise (e.g. ValueError for shapes that do not fit)
    raises: type[Exception] | None = None

    def call_text(self, name: str) -> str:
        params = [_short(a) for a in self.args]
        params += [f"{k}={_short(v)}" for k, v in self.kwargs.items()]
        return f"{name}({', '.join(params)})"


class Seeded:
    """A case's random generator: a fresh ``np.random.default_rng(seed)`` for each run, so
    the student's function and the reference draw the same numbers. The grader's fresh
    cases give it a new seed, like a generator's (:func:`fresh_draws`)."""

    def __init__(self, seed):
        self.seed = seed

    def __repr__(self):
        return f"np.random.default_rng({self.seed})"


@dataclass(frozen=True)
class Hint:
    """A known wrong answer: when the student's output matches ``wrong(*args)``, say ``message``."""

    wrong: Callable
    message: str


@dataclass(frozen=True)
class Exercise:
    """A function to implement: its reference, the cases it is checked on, and known mistakes."""

    name: str
    reference: Callable
    visible: tuple  # of Case: run by the visible test cell
    hidden: tuple = ()  # of Case: run by the hidden test cell, after the visible ones
    hints: tuple = ()  # of Hint
    #: names of the parts of a tuple output, e.g. ("dX", "dW", "db")
    outputs: tuple = ()
    #: turns an implementation into the function the cases call, when the exercise is
    #: not a plain function: adapter(Adam) may run a few steps and return the parameters
    adapter: Callable | None = None
    #: other exercises this one calls, by name -> their reference: while this exercise is
    #: checked, the student's versions are swapped for these, so that one broken
    #: function costs only its own points
    depends: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What one call of the student's function did, recorded where it ran.

    Judging an outcome (:func:`judge`) needs nothing from the interpreter that made it,
    so the instructor's grader can judge outcomes recorded in a student's kernel.
    """

    status: str  # "returned", "raised", "not-implemented" or "overflow"
    value: object = None  # what it returned; for "overflow", what it returns with warnings off
    error: str = ""  # "TypeError: message" when it raised, NumPy's message for "overflow"
    error_types: tuple = ()  # the names of the raised exception's classes
    args_after: tuple = ()  # the arrays among the arguments after the call (in-place changes)


@dataclass(frozen=True)
class Signature:
    """Whether the student's object can be called, and its parameter names."""

    callable: bool
    type_name: str
    params: tuple


def signature_of(fn) -> Signature:
    return Signature(callable(fn), type(fn).__name__, tuple(_params(fn)) if callable(fn) else ())


def observe(exercise: Exercise, fn, *, hidden: bool = False, extra: tuple = ()):
    """Call ``fn`` on every case of ``exercise``, yielding an :class:`Outcome` per case.

    The exercises it depends on are swapped for their references while it runs.
    ``extra`` cases come after the hidden ones (a grader draws them: :func:`fresh_cases`).
    """
    adapt = exercise.adapter or (lambda f: f)
    student = adapt(fn)
    positional = () if exercise.adapter else _positional_params(exercise)
    with _references_in_place_of(fn, exercise.depends):
        for case in _cases(exercise, hidden) + tuple(extra):
            yield _observe_call(student, _by_position(case, positional), fn,
                                exercise.depends)


def _positional_params(exercise: Exercise) -> tuple:
    """The leading parameters of the stub that have no default: the checks pass them by
    position, so a student who renames one (``def relu(z)``) is not failed for it."""
    try:
        parameters = inspect.signature(exercise.reference).parameters.values()
    except (TypeError, ValueError):
        return ()
    leading = []
    for p in parameters:
        if p.default is not p.empty or p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            break
        leading.append(p.name)
    return tuple(leading)


def _by_position(case: Case, positional: tuple) -> Case:
    """``case`` with its keyword arguments that are leading positional parameters moved
    into ``args``, in order (only while the earlier positions are filled)."""
    args, kwargs = list(case.args), dict(case.kwargs)
    for name in positional[len(args):]:
        if name not in kwargs:
            break
        args.append(kwargs.pop(name))
    if len(args) == len(case.args):
        return case
    return Case(case.label, tuple(args), kwargs, case.raises)


def judge(exercise: Exercise, signature: Signature, outcomes, *, hidden: bool = False,
          extra: tuple = ()) -> int:
    """Raise :class:`ExerciseFailed` at the first outcome that is wrong; else return the count.

    ``outcomes`` may be a generator (as :func:`observe` gives): judging stops at
    the first failure, so no case after it runs. ``extra`` as in :func:`observe`.
    """
    name = exercise.name
    _judge_signature(name, signature, _params(exercise.reference),
                     () if exercise.adapter else _positional_params(exercise))
    adapt = exercise.adapter or (lambda f: f)
    reference = adapt(exercise.reference)
    hints = tuple(Hint(adapt(h.wrong), h.message) for h in exercise.hints)
    cases = _cases(exercise, hidden) + tuple(extra)
    n = 0
    for case, outcome in zip(cases, outcomes, strict=False):
        n += 1
        if case.raises:
            _judge_raise(name, case, outcome, hints)
            continue
        expected = reference(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
        got = _judge_call(name, case, outcome, hints, expected)
        mismatch = _compare(expected, got, exercise.outputs, arrays=True)
        if mismatch:
            hint = _matching_hint(hints, case, got, exercise.outputs, expected)
            raise _failed(name, case, mismatch, hint, _params(exercise.reference))
    if n != len(cases):
        raise ExerciseFailed(f"{name}: only {n} of the {len(cases)} checks ran.")
    return n


def run_exercise(exercise: Exercise, fn, *, hidden: bool = False) -> int:
    """Check ``fn`` against ``exercise``; raise :class:`ExerciseFailed` at the first problem.

    Returns the number of cases that passed (all of them).
    """
    signature = signature_of(fn)
    if not signature.callable:
        return judge(exercise, signature, (), hidden=hidden)
    # closing: a failure stops the generator at once, which puts back the student's
    # functions that `depends` swapped out (a lingering generator would keep them swapped)
    with contextlib.closing(observe(exercise, fn, hidden=hidden)) as outcomes:
        return judge(exercise, signature, outcomes, hidden=hidden)


def _cases(exercise: Exercise, hidden: bool) -> tuple:
    return exercise.visible + (exercise.hidden if hidden else ())


def fresh_draws(exercise: Exercise, rng: np.random.Generator) -> tuple:
    """New numbers for the visible cases' inputs, from ``rng``: nobody knows them before.

    Returns ``(i, arrays)`` pairs: visible case ``i`` with its float arrays (also those
    inside dicts, lists and the checks' own helper objects, in a fixed order) replaced
    by ``arrays`` (see :func:`fresh_case`); a random generator among them becomes a new
    one, from a seed drawn here. Each array is drawn from a normal
    distribution of the original's spread (from its range, when all its values are
    positive, as curvatures are); integer labels, sizes and options stay. A draw on
    which the reference refuses or overflows is dropped.
    """
    draws = []
    for i, case in enumerate(exercise.visible):
        if case.raises:
            continue
        originals = _float_arrays((case.args, case.kwargs))
        if not originals:
            continue
        arrays = [_drawn_like(a, rng) for a in originals]
        fresh = fresh_case(exercise, i, arrays)
        try:
            adapt = exercise.adapter or (lambda f: f)
            with np.errstate(all="raise"):
                adapt(exercise.reference)(*copy.deepcopy(fresh.args),
                                          **copy.deepcopy(fresh.kwargs))
        except Exception:
            continue
        draws.append((i, arrays))
    return tuple(draws)


def fresh_case(exercise: Exercise, index: int, arrays) -> Case:
    """Visible case ``index`` of ``exercise`` with its float arrays replaced by ``arrays``."""
    template = exercise.visible[index]
    slots = len(_float_arrays((template.args, template.kwargs)))
    arrays = [np.asarray(a) for a in arrays]
    if len(arrays) != slots or not all(a.dtype.kind in "iuf" for a in arrays):
        raise ValueError(f"{exercise.name}: {len(arrays)} arrays for a case that has {slots}")
    args, kwargs = _replaced((template.args, template.kwargs), iter(arrays))
    return Case(f"{template.label}, with new random values", args, kwargs)


def fresh_cases(exercise: Exercise, rng: np.random.Generator) -> tuple:
    """The cases of :func:`fresh_draws`."""
    return tuple(fresh_case(exercise, i, arrays) for i, arrays in fresh_draws(exercise, rng))


def _inside(value):
    """The parts of ``value`` that may hold arrays: containers, and the checks' helper objects."""
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, (list, tuple)):
        return list(value)
    if type(value).__module__.startswith("course_lib.checks") and hasattr(value, "__dict__"):
        return list(vars(value).values())
    return []


def _float_arrays(value) -> list:
    """The parts a draw replaces: float arrays, and random generators (drawn as a new seed)."""
    if isinstance(value, np.ndarray):
        return [value] if value.dtype.kind == "f" and value.size else []
    if isinstance(value, (np.random.Generator, Seeded)):
        return [value]
    return [a for part in _inside(value) for a in _float_arrays(part)]


def _replaced(value, arrays):
    if isinstance(value, np.ndarray):
        return np.asarray(next(arrays), dtype=np.float64).reshape(value.shape) \
            if value.dtype.kind == "f" and value.size \
            else value
    if isinstance(value, np.random.Generator):
        return np.random.default_rng(int(next(arrays)))
    if isinstance(value, Seeded):
        return Seeded(int(next(arrays)))
    if isinstance(value, dict):
        return {k: _replaced(v, arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_replaced(v, arrays) for v in value)
    if _inside(value):
        fresh = copy.copy(value)
        for name, part in vars(value).items():
            object.__setattr__(fresh, name, _replaced(part, arrays))
        return fresh
    return value


def _drawn_like(array, rng):
    if isinstance(array, (np.random.Generator, Seeded)):
        return np.asarray(rng.integers(2**62))
    finite = array[np.isfinite(array)]
    if finite.size and finite.min() > 0:
        return rng.uniform(finite.min() / 2, finite.max() * 1.5, size=array.shape)
    spread = float(finite.std()) if finite.size > 1 else 1.0
    return rng.normal(0.0, spread or 1.0, size=array.shape)


def check_values(name: str, fn, args: tuple, expected, kwargs: dict | None = None,
                 outputs: tuple = ()) -> None:
    """Check ``fn(*args, **kwargs)`` against hard-coded ``expected`` values; ``outputs``
    names the parts of a tuple answer (("dX", "dW", "db")) in the message."""
    case = Case("hand-worked values", tuple(args), kwargs or {})
    judge_values(name, case, _observe_call(fn, case), expected, _params(fn), outputs)


def judge_values(name: str, case: Case, outcome: Outcome, expected, params=(),
                 outputs: tuple = ()) -> None:
    """Raise :class:`ExerciseFailed` when ``outcome`` is not the hard-coded ``expected``."""
    got = _judge_call(name, case, outcome)
    mismatch = _compare(_as_float_tree(expected), got, outputs)
    if mismatch:
        raise _failed(name, case, mismatch, None, params)


@contextlib.contextmanager
def _references_in_place_of(fn, depends: dict):
    """Swap names in ``fn``'s global namespace (the notebook's) for references, then restore."""
    namespace = _namespace(fn)
    if not depends or namespace is None:
        yield
        return
    missing = object()
    saved = {name: namespace.get(name, missing) for name in depends}
    namespace.update(depends)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value


def _namespace(fn):
    """The globals a function (or a class's methods) looks names up in."""
    if inspect.isclass(fn):
        for member in vars(fn).values():
            if inspect.isfunction(member):
                return member.__globals__
        return None
    return getattr(fn, "__globals__", None)


def _judge_signature(name, signature: Signature, wanted, positional=()):
    """The student's object is callable, and takes the stub's parameters: as many as the
    stub passes by position (their names are the student's to choose), then the others
    (options such as ``axis`` or ``alpha``, passed by name) under the stub's names."""
    if not signature.callable:
        raise ExerciseFailed(
            f"{name} should be a function, but it is {signature.type_name}: "
            f"did you overwrite it? Re-run the cell that defines {name}."
        )
    given, wanted = list(signature.params), list(wanted)
    if not wanted or not given:
        return
    n = len(positional)
    by_name = wanted[n:]
    if len(given) < n or given[n:n + len(by_name)] != by_name:
        raise ExerciseFailed(
            f"{name} should take the parameters ({', '.join(wanted)}); yours takes "
            f"({', '.join(given)}). Keep the signature of the stub"
            + (f" ({'the first may have another name' if n == 1 else f'the first {n} may have other names'}"
               f"; {', '.join(by_name)} may not)." if n and by_name else ".")
        )


def _observe_call(fn, case: Case, student=None, swapped=None) -> Outcome:
    """Call ``fn`` on copies of the case's inputs and record what happened.

    ``student`` is the student's own function or class (``fn`` may be an adapter around
    it): an error's message then says where in the student's code it was raised, and
    ``swapped`` (name -> reference) whether it came from inside a reference the checks
    put in place of one of the student's functions.
    """
    args, kwargs = copy.deepcopy(case.args), copy.deepcopy(case.kwargs)
    try:
        if case.raises:
            with np.errstate(all="ignore"):
                got = fn(*args, **kwargs)
        else:
            with np.errstate(over="raise", divide="raise", invalid="raise"):
                got = fn(*args, **kwargs)
    except NotImplementedError:
        return Outcome("not-implemented")
    except FloatingPointError as exc:
        # Which mistake? Run it again with the warnings off, to compare with the known ones.
        try:
            with np.errstate(all="ignore"):
                quiet = fn(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
        except Exception:
            quiet = None
        return Outcome("overflow", value=quiet,
                       error=str(exc) + _where(exc, student or fn, swapped))
    except ExerciseFailed as exc:  # an adapter's own verdict, already in plain words
        return Outcome("raised", error=str(exc), error_types=("ExerciseFailed",))
    except Exception as exc:  # the student's error, whatever it is, is the feedback
        return Outcome("raised",
                       error=f"{type(exc).__name__}: {exc}" + _where(exc, student or fn,
                                                                     swapped),
                       error_types=tuple(c.__name__ for c in type(exc).__mro__))
    return Outcome("returned", value=got, args_after=tuple(_arrays(args, kwargs)))


def _where(exc: BaseException, student, swapped=None) -> str:
    """Lines saying where in the student's code ``exc`` was raised: the last line of theirs
    it went through (a cell of the notebook, by its number, or a file), and, when it was
    raised inside a reference the checks swapped in for one of their functions, which."""
    namespace = _namespace(student)
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    theirs = [i for i, (frame, _) in enumerate(frames)
              if namespace is not None and frame.f_globals is namespace]
    if not theirs:
        return ""
    frame, line = frames[theirs[-1]]
    text = linecache.getline(frame.f_code.co_filename, line).strip()
    where = f"\n  at line {line} of {_source_name(frame.f_code.co_filename)}" + (
        f": {text}" if text else "")
    codes = {getattr(ref, "__code__", None): name for name, ref in (swapped or {}).items()}
    inside = [codes[frame.f_code] for frame, _ in frames[theirs[-1] + 1:]
              if frame.f_code in codes]
    if inside:
        where += (f"\n  The error comes from inside {inside[0]}: while this exercise is "
                  f"checked, the course's reference {inside[0]} runs in place of yours, and "
                  f"it could not use the arguments your code gave it on that line (their "
                  f"shapes or order). Check what you pass to {inside[0]}.")
    return where


def _source_name(filename: str) -> str:
    """A notebook cell as the student knows it ("your cell In [12]"), else the file."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
        number = shell.compile._filename_map.get(filename) if shell is not None else None
    except Exception:  # no IPython, or one that keeps no such map
        number = None
    return f"your cell In [{number}]" if number is not None else filename


def _not_implemented(name) -> ExerciseFailed:
    return ExerciseFailed(
        f"{name} is not implemented yet: replace `raise NotImplementedError()` "
        f"with your code and run its cell again."
    )


def _judge_raise(name, case: Case, outcome: Outcome, hints=()):
    """The call had to raise ``case.raises``: returning anything is the failure."""
    where = case.call_text(name)
    wanted = case.raises.__name__
    if outcome.status == "raised" and wanted in outcome.error_types:
        return
    if outcome.status == "not-implemented":
        raise _not_implemented(name)
    if outcome.status == "raised":
        raise ExerciseFailed(f"{where} should raise {wanted} ({case.label}); "
                             f"it raised {outcome.error}")
    hint = _matching_hint(hints, case, outcome.value)
    raise ExerciseFailed(
        f"{where} should raise {wanted} ({case.label}); it returned "
        f"{_short(outcome.value)}" + (f"\n  Likely mistake: {hint}" if hint else "")
    )


def _judge_call(name, case: Case, outcome: Outcome, hints=(), expected=_NOTHING):
    """What the call returned, once it is known to have returned properly."""
    where = case.call_text(name)
    if outcome.status == "not-implemented":
        raise _not_implemented(name)
    if outcome.status == "overflow":
        quiet = outcome.value
        hint = _matching_hint(hints, case, quiet, expected=expected, overflowed=True) \
            if quiet is not None else None
        numpy_said, _, at = outcome.error.partition("\n")
        raise ExerciseFailed(
            f"{where} failed for {case.label}: NumPy reports '{numpy_said}'."
            + (f"\n{at}" if at else "") + "\n"
            "  Your code overflows, divides by zero or computes an invalid value (such as "
            "the log of a negative number, or inf - inf) for these inputs."
            + (f"\n  Likely mistake: {hint}" if hint else
               f"\n  Look {'at that line' if at else 'in your code'} for an exp, a log, a "
               "division or a subtraction of large numbers, and compute it in a form that "
               "stays finite."),
            summary=f"{case.label}: NumPy reports '{numpy_said}'")
    if outcome.status == "raised":
        if outcome.error_types == ("ExerciseFailed",):
            raise ExerciseFailed(outcome.error)
        raise ExerciseFailed(f"{where} raised {outcome.error}\n  (case: {case.label})",
                             summary=f"{case.label}: it raised "
                                     f"{outcome.error.splitlines()[0][:100]}")
    before_all = _arrays(case.args, case.kwargs)
    if len(outcome.args_after) != len(before_all):
        raise ExerciseFailed(f"{where}: its inputs could not be compared after the call.")
    for before, after in zip(before_all, outcome.args_after, strict=True):
        if not np.array_equal(before, after, equal_nan=True):
            raise ExerciseFailed(
                f"{where} changed its input in place (case: {case.label}).\n"
                f"  before: {_show(before)}\n  after:  {_show(after)}\n"
                f"  Compute a new array instead of writing into the argument (an assignment "
                f"such as a[...] = or a += changes the caller's array; work on a copy, "
                f"a = a.copy(), if you must).",
                summary=f"{case.label}: it changed its input in place")
    if outcome.value is None:
        raise ExerciseFailed(f"{where} returned None: did you forget `return`?",
                             summary="it returned None: did you forget `return`?")
    return outcome.value


@dataclass(frozen=True)
class _Mismatch:
    where: str  # "" for the whole output, else e.g. "dW" or "['b1']"
    expected: object
    got: object
    problem: str


def _compare(expected, got, names=(), where="", arrays=False) -> _Mismatch | None:
    """What is wrong with ``got``, or None when it matches ``expected``.

    Tuples and dicts are compared part by part, and the first part that differs
    is named (``names`` are the parts of a tuple, e.g. ("dX", "dW", "db")).
    With ``arrays`` (``expected`` is the reference's own answer), a list or tuple
    where the reference returns an array is wrong even when its numbers are right:
    the notebook's next cells call ``.shape``, ``.max()`` or ``@`` on it.
    """
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return _Mismatch(where, expected, got,
                             f"expected a dict with keys {list(expected)}, got {type(got).__name__}")
        if set(got) != set(expected):
            return _Mismatch(where, expected, got,
                             f"expected the keys {sorted(expected)}, got {sorted(got)}")
        for key in expected:
            mismatch = _compare(expected[key], got[key], (), f"{where}[{key!r}]", arrays)
            if mismatch:
                return mismatch
        return None
    if isinstance(expected, tuple):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            wanted = f" ({', '.join(names)})" if names else ""
            return _Mismatch(where, expected, got,
                             f"expected a tuple of {len(expected)} values{wanted}, got "
                             + (f"{len(got)} values" if isinstance(got, (tuple, list))
                                else type(got).__name__))
        # the names of the parts, when they are this tuple's (an adapter may reshape it)
        labels = names if len(names) == len(expected) else \
            [f"value {i + 1}" for i in range(len(expected))]
        for label, e, g in zip(labels, expected, got, strict=True):
            mismatch = _compare(e, g, (), f"{where} {label}".strip(), arrays)
            if mismatch:
                return mismatch
        return None
    if arrays and isinstance(expected, np.ndarray) and expected.ndim and isinstance(got, (list, tuple)):
        return _Mismatch(where, expected, got,
                         f"it returned a {type(got).__name__}, not a NumPy array: the cells after "
                         f"this one use it as an array (.shape, .max(), @); return np.array(...) "
                         f"of it, or build it with NumPy")
    problem = _compare_arrays(np.asarray(expected), got)
    return _Mismatch(where, expected, got, problem) if problem else None


def _compare_arrays(exp_arr, got) -> str | None:
    try:
        got_arr = np.asarray(got)
    except ValueError:  # ragged nested lists
        return f"it returned {type(got).__name__}, not an array of numbers"
    if got_arr.dtype.kind not in "biuf":
        return f"it returned {type(got).__name__} of dtype {got_arr.dtype}, not an array of numbers"
    if got_arr.shape != exp_arr.shape:
        return f"expected an array of shape {exp_arr.shape}, got shape {got_arr.shape}"
    if got_arr.dtype != np.float64 and exp_arr.dtype == np.float64:
        if got_arr.dtype == bool:
            extra = " (comparisons such as x > 0 give booleans: convert with .astype(float))"
        elif got_arr.dtype.kind in "iu":
            extra = (" (an integer input stays integer: np.empty_like(x), np.zeros_like(x) "
                     "and x.copy() of integers are integer arrays, and assigning into them "
                     "cuts off the decimals; start from x.astype(float) or pass dtype=float)")
        else:
            extra = ""
        return f"expected dtype float64, got {got_arr.dtype}{extra}"
    if exp_arr.dtype.kind in "iu" and got_arr.dtype.kind not in "iu":
        return f"expected integers, got dtype {got_arr.dtype}"
    bad_nonfinite = ~np.isfinite(got_arr) & np.isfinite(exp_arr)
    if bad_nonfinite.any():
        return (
            "it returned inf or nan where the answer is finite: an overflow somewhere "
            "(use the numerically stable formula)"
        )
    close = np.isclose(got_arr, exp_arr, rtol=RTOL, atol=ATOL, equal_nan=True)
    if not close.all():
        index = np.unravel_index(np.argmin(close), close.shape) if close.ndim else ()
        at = f" at index {tuple(int(i) for i in index)}" if index else ""
        return (
            f"values differ{at}: expected {exp_arr[index].item()!r}, got {got_arr[index].item()!r} "
            f"({int((~close).sum())} of {close.size} values differ)"
        )
    return None


def _as_float_tree(value):
    """Hard-coded expected values as arrays: float64, except whole counts written as ints."""
    if isinstance(value, dict):
        return {k: _as_float_tree(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_as_float_tree(v) for v in value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return np.asarray(value, dtype=np.int64)
    return np.asarray(value, dtype=np.float64)


def _matching_hint(hints, case: Case, got, names=(), expected=_NOTHING,
                   overflowed: bool = False) -> str | None:
    """The known mistake the student's answer ``got`` matches on ``case``; when several
    known mistakes give that same answer here, all of them, since the case cannot tell
    which one it is. A known mistake whose answer on this case is the right one
    (``expected``) says nothing about it, and is never named, unless the student's code
    ``overflowed`` and so does the mistake's (the naive formula: right numbers, by luck)."""
    matched = []
    for hint in hints:
        try:
            with np.errstate(all="ignore"):
                wrong = hint.wrong(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
            if expected is not _NOTHING and _compare(expected, wrong, names) is None \
                    and not (overflowed and _overflows(hint.wrong, case)):
                continue
            if _compare(wrong, got, names) is None and hint.message not in matched:
                matched.append(hint.message)
        except Exception:  # a hint that does not apply to this case is no hint
            continue
    if len(matched) > 1:
        return ("one of these (they give the same answer on this case):\n    - "
                + "\n    - ".join(matched))
    return matched[0] if matched else None


def _overflows(fn, case: Case) -> bool:
    try:
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            fn(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
    except FloatingPointError:
        return True
    except Exception:
        return False
    return False


def _report(name, case, mismatch: _Mismatch, hint, params=()) -> str:
    lines = [f"{case.call_text(name)} is not right for {case.label}:"]
    part = f" {mismatch.where}" if mismatch.where else ""
    shown = [(params[i] if i < len(params) else f"input {i + 1}", arg)
             for i, arg in enumerate(case.args) if isinstance(arg, np.ndarray)]
    shown += [("expected" + part, mismatch.expected), ("got" + part, mismatch.got)]
    width = max(len(label) for label, _ in shown)
    for label, value in shown:
        lines.append(f"  {label:<{width}} = {_show(value, indent=width + 5)}")
    lines.append(f"  {(mismatch.where + ': ') if mismatch.where else ''}{mismatch.problem}")
    if hint:
        lines.append(f"  Likely mistake: {hint}")
    return "\n".join(lines)


def _failed(name, case, mismatch: _Mismatch, hint, params=()) -> ExerciseFailed:
    """The failure of a wrong answer: the whole report, and a one-line summary of it."""
    part = f"{mismatch.where}: " if mismatch.where else ""
    problem = mismatch.problem if len(mismatch.problem) <= 90 else mismatch.problem[:87] + "..."
    return ExerciseFailed(_report(name, case, mismatch, hint, params),
                          summary=f"{case.label}: {part}{problem}")


def _params(fn) -> list:
    """Parameter names of a function, or of a class's constructor (without self)."""
    try:
        return list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):  # builtins and ufuncs have no signature to compare
        return []


def _show(value, indent: int = 13) -> str:
    if isinstance(value, (dict, tuple, list)) and not _is_numeric_sequence(value):
        return _short(value)
    arr = np.asarray(value) if not isinstance(value, np.ndarray) else value
    if arr.dtype.kind not in "biuf":
        return repr(value)
    text = np.array2string(arr, precision=6, threshold=20, edgeitems=3, max_line_width=88,
                           separator=", ")
    return text.replace("\n", "\n" + " " * indent)


def _is_numeric_sequence(value) -> bool:
    try:
        return np.asarray(value).dtype.kind in "biuf"
    except ValueError:
        return False


def _short(value) -> str:
    if isinstance(value, np.ndarray):
        return f"<array of shape {value.shape}>" if value.size > 8 else _show(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_short(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (tuple, list)):
        inner = ", ".join(_short(v) for v in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    return repr(value)
