"""Keep an assignment's reference implementations out of the student's kernel.

course_lib ships the reference of every exercise, and with it the helpers that do
the references' arithmetic and the classes built on them (``MLP`` on
``network._forward``). While an assignment is graded:

- :func:`withheld` works out, from the code itself, everything of course_lib that
  can compute one of the assignment's values: the references of its exercises and
  every course_lib function or class they reach, except what the other exercises'
  references (the lessons the student may use, such as 01's activations in 04)
  reach without passing through this assignment's.
- :func:`stripped_copy` writes a copy of course_lib in which each withheld
  function keeps its signature but its body only asks the grader
  (:func:`course_lib.channel.call`), and each withheld class cannot be built. The
  kernel imports this copy; the sandbox hides the real one. Whatever in the
  kernel reaches a withheld computation (the reference under any name, a helper,
  a class built on one) reaches the grader.
- :class:`Referee`, in the grader's process, is the grader's end of
  :mod:`course_lib.channel`. It answers a call to a withheld function only while
  a test cell runs, and only for what that cell's exercises build on
  (``Exercise.depends``, and what those references reach): a broken helper must
  not cost an exercise its points. Any other call fails, and while a test runs
  it also fails the test. It keeps the records the checks send while a test
  cell runs, for the judge, and refuses them at any other time.
"""

from __future__ import annotations

import ast
import functools
import inspect
import resource
import shutil
import socket
import struct
import sys
import textwrap
import threading
import types
from pathlib import Path

import course_lib
from course_lib import channel, wire
from course_lib.checks import exercise, exercise_names
from course_lib.checks._engine import fresh_case

__all__ = ["qualified_name", "reached", "withheld", "allowed", "stripped_copy", "Referee"]

_CALL = "_nncourse_reference"
_WITHHELD = "_NncourseReferenceWithheld"
#: course_lib's modules that hold no arithmetic of the exercises: never withheld
_INFRASTRUCTURE = ("course_lib.checks", "course_lib.grading", "course_lib.widgets",
                   "course_lib.presenter", "course_lib.channel", "course_lib.wire",
                   "course_lib._validate")
#: the most numbers the referee computes on for one call: arguments and result
MAX_ELEMENTS = 2**22
#: records one test cell may send (the cells make a handful), and their bytes in all
MAX_RECORDS = 64
MAX_RECORD_BYTES = 128 * 2**20


def qualified_name(obj) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def _ours(value) -> bool:
    """A function or class defined at the top of one of course_lib's math modules."""
    module = getattr(value, "__module__", None) or ""
    if not (inspect.isfunction(value) or inspect.isclass(value)):
        return False
    if not module.startswith("course_lib.") or module.startswith(_INFRASTRUCTURE):
        return False
    home = sys.modules.get(module)
    return getattr(home, value.__name__, None) is value and "." not in value.__qualname__


def _contents(value, depth=0):
    """Functions and classes inside a module-level constant (ACTIVATIONS = {name: (f, f')})."""
    if depth > 3:
        return
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _contents(item, depth + 1)
    elif _ours(value):
        yield value


@functools.cache
def reached(obj) -> frozenset:
    """The course_lib functions and classes that ``obj``'s own code names (one step)."""
    module = sys.modules[obj.__module__]
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(obj)))
    except (OSError, TypeError, SyntaxError):
        return frozenset()
    found = set()
    if inspect.isclass(obj):
        found.update(base for base in obj.__mro__[1:] if _ours(base))
    for node in ast.walk(tree):
        value = _resolve(node, module)
        if value is _MISSING:
            continue
        if isinstance(value, types.ModuleType):
            continue
        found.update(_contents(value))
    found.discard(obj)
    return frozenset(found)


_MISSING = object()


def _resolve(node, module):
    """What a name or a dotted name (``layers._forward``) in ``module``'s code stands for."""
    if isinstance(node, ast.Name):
        return vars(module).get(node.id, _MISSING)
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, module)
        if isinstance(base, types.ModuleType) and base.__name__.startswith("course_lib"):
            return getattr(base, node.attr, _MISSING)
    return _MISSING


def _closure(roots, stop=frozenset()) -> set:
    """Everything ``roots`` reach, step after step, without going through ``stop``."""
    seen, todo = set(roots), list(roots)
    while todo:
        for value in reached(todo.pop()):
            if value not in seen and value not in stop:
                seen.add(value)
                todo.append(value)
    return seen


def _references(names) -> set:
    return {exercise(name).reference for name in names}


def withheld(exercises) -> dict[str, object]:
    """{qualified name: object} of everything withheld while ``exercises`` are graded."""
    return dict(_withheld(frozenset(exercises)))


@functools.lru_cache(maxsize=16)
def _withheld(exercises: frozenset) -> tuple:
    own = _references(exercises)
    others = _references(set(exercise_names()) - set(exercises)) - own
    lessons = _closure(others, stop=own)  # what the student may use from other lessons
    kept = (_closure(own, stop=others) - lessons) | own
    return tuple((qualified_name(value), value) for value in kept)


def allowed(tested, exercises) -> frozenset:
    """The withheld names a test of ``tested`` may reach: what those exercises build on."""
    roots = {ref for name in tested for ref in exercise(name).depends.values()}
    served = withheld(exercises)
    return frozenset(name for name, value in ((qualified_name(v), v) for v in _closure(roots))
                     if name in served)


def stripped_copy(destination: Path, exercises) -> Path:
    """A copy of course_lib under ``destination`` without what :func:`withheld` names.

    Returns the copied package's folder (``destination/course_lib``).
    """
    source = Path(course_lib.__file__).parent
    target = Path(destination) / "course_lib"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    modules: dict[str, set[str]] = {}
    for value in withheld(exercises).values():
        modules.setdefault(value.__module__, set()).add(value.__qualname__)
    for module, names in modules.items():
        path = target.joinpath(*module.split(".")[1:]).with_suffix(".py")
        path.write_text(_strip(path.read_text(encoding="utf-8"), module, names),
                        encoding="utf-8")
    return target


def _strip(text: str, module: str, names: set[str]) -> str:
    tree = ast.parse(text)
    body = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in names:
            node.body = [*_docstring(node), _forwarding_return(node, f"{module}.{node.name}")]
            node.decorator_list = []
        elif isinstance(node, ast.ClassDef) and node.name in names:
            node = _unbuildable_class(node, f"{module}.{node.name}")
        body.append(node)
    imports = ast.parse(
        f"from course_lib.channel import ReferenceWithheld as {_WITHHELD}\n"
        f"from course_lib.channel import call as {_CALL}\n").body
    at = next((i for i, node in enumerate(body)
               if not (isinstance(node, ast.ImportFrom) and node.module == "__future__")
               and not (i == 0 and isinstance(node, ast.Expr)
                        and isinstance(node.value, ast.Constant))), len(body))
    tree.body = body[:at] + imports + body[at:]
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def _docstring(node) -> list:
    first = node.body[0] if node.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
            and isinstance(first.value.value, str):
        return [first]
    return []


def _forwarding_return(node, name: str) -> ast.Return:
    """``return _nncourse_reference(name, (positional...), {keywords...})`` for ``node``'s args."""
    a = node.args
    positional = [ast.Name(arg.arg, ast.Load()) for arg in a.posonlyargs + a.args]
    if a.vararg:
        positional.append(ast.Starred(ast.Name(a.vararg.arg, ast.Load()), ast.Load()))
    keys = [ast.Constant(arg.arg) for arg in a.kwonlyargs]
    values = [ast.Name(arg.arg, ast.Load()) for arg in a.kwonlyargs]
    if a.kwarg:
        keys.append(None)
        values.append(ast.Name(a.kwarg.arg, ast.Load()))
    return ast.Return(ast.Call(ast.Name(_CALL, ast.Load()),
                               [ast.Constant(name), ast.Tuple(positional, ast.Load()),
                                ast.Dict(keys, values)], []))


def _unbuildable_class(node: ast.ClassDef, name: str) -> ast.ClassDef:
    stub = ast.parse(
        f"class {node.name}:\n"
        f"    def __init__(self, *args, **kwargs):\n"
        f"        raise {_WITHHELD}('{name} is withheld while grading: the notebook must use "
        f"its own {node.name}.')\n").body[0]
    stub.body = [*_docstring(node), *stub.body]
    return stub


class Referee:
    """The grader's end of :mod:`course_lib.channel` for one notebook.

    Parameters
    ----------
    path : Path
        The Unix socket to listen on, in a folder only the grader can write.
    exercises : iterable of str
        The assignment's exercises: what :func:`withheld` names for them is served.
    draw : callable, optional
        ``draw(exercise)``: the fresh draws of a hidden test (``(case index, arrays)``
        pairs, :func:`course_lib.checks._engine.fresh_draws`), asked for by the
        kernel's check; kept, so that the judge compares with the reference on the
        same inputs.
    """

    def __init__(self, path: Path, exercises, draw=None):
        from multiprocessing.connection import Listener

        self.path = Path(path)
        self._exercises = frozenset(exercises)
        self._served = {name: value for name, value in withheld(self._exercises).items()
                        if not inspect.isclass(value)}
        self._lock = threading.Lock()
        self._open = False
        self._allowed: frozenset = frozenset()
        self._flagged: list[str] = []
        self._records: list = []
        self._record_bytes = 0
        self._draw = draw or (lambda name: ())
        self._drawn: dict[str, tuple] = {}
        self._testing: frozenset = frozenset()
        self._closed = False
        self._connections: list = []
        self._listener = Listener(str(self.path), family="AF_UNIX", backlog=4)
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    # -- the test cells' window ----------------------------------------------------------

    def testing(self, exercises, hidden=()) -> None:
        """A test of ``exercises`` starts: calls they build on are served, records kept.

        ``hidden`` are those whose hidden check the cell runs: only they get their fresh
        cases (asked for during another test, they would meet a reference that answers).
        """
        tested = frozenset(set(exercises) & set(exercise_names()))
        permitted = allowed(tested, self._exercises)
        with self._lock:
            self._open, self._allowed, self._flagged, self._records = True, permitted, [], []
            self._testing, self._record_bytes = frozenset(hidden) & tested, 0

    def done(self) -> tuple[list, list[str]]:
        """The test cell ended: (its records, the calls it must not have made). Closes the window."""
        with self._lock:
            self._open = False
            records, flagged = self._records, self._flagged
            self._records, self._flagged, self._allowed = [], [], frozenset()
            self._testing = frozenset()
        return records, flagged

    def draws(self, name: str) -> tuple:
        """The fresh draws of exercise ``name``: drawn once, the same every time they are asked."""
        with self._lock:
            if name not in self._drawn:
                self._drawn[name] = tuple(self._draw(name))
            return self._drawn[name]

    def drawn(self, name: str) -> tuple:
        """The fresh cases of exercise ``name`` (:func:`course_lib.checks._engine.fresh_case`)."""
        return tuple(fresh_case(exercise(name), i, arrays) for i, arrays in self.draws(name))

    def close(self) -> None:
        self._closed = True
        try:
            self._listener.close()
        except OSError:
            pass
        for conn in list(self._connections):
            _shut(conn)

    # -- serving -----------------------------------------------------------------------------

    def _accept(self):
        while not self._closed:
            try:
                conn = self._listener.accept()
            except (OSError, EOFError):
                if self._closed:
                    return
                continue
            if len(self._connections) >= 4:  # a kernel needs one; more is only a nuisance
                _shut(conn)
                continue
            self._connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        _receive_timeout(conn, 30.0)  # a message once begun must arrive whole
        try:
            while not self._closed:
                message = self._next(conn)
                if message is None:
                    return
                conn.send_bytes(wire.dumps(self._handle(conn, message, depth=0)))
        except (OSError, EOFError, wire.WireError, struct.error, RecursionError, MemoryError):
            return  # a broken or hostile client: dropped; the kernel's checks then fail
        finally:
            _shut(conn)
            if conn in self._connections:
                self._connections.remove(conn)

    def _next(self, conn):
        """The next message, or None when the kernel is gone or the grader closes."""
        while not self._closed:
            if conn.poll(0.5):
                data = conn.recv_bytes(channel.MAX_BYTES)
                live: list = []
                message = wire.loads(data, callback=functools.partial(self._remote, conn,
                                                                      live=live))
                if isinstance(message, dict):
                    live += wire.arrays_in(message.get("args") or [], message.get("kwargs") or {})
                    message["_live"] = live
                    message["_bytes"] = len(data)
                return message
        return None

    def _handle(self, conn, message, depth: int) -> dict:
        if not isinstance(message, dict):
            return {"error": "ReferenceWithheld", "message": "malformed message"}
        live = message.pop("_live", [])
        size = message.pop("_bytes", 0)
        op = message.get("op")
        if op == "record":
            return self._record(message.get("record"), size)
        if op == "cases":
            return self._cases(message.get("exercise"))
        if op == "call":
            return {**self._call(message, depth), "state": live}
        return {"error": "ReferenceWithheld", "message": "malformed message"}

    def _record(self, record, size: int) -> dict:
        with self._lock:
            if not self._open:
                return {"error": "ReferenceWithheld", "message": "no test cell is running"}
            if len(self._records) >= MAX_RECORDS or self._record_bytes + size > MAX_RECORD_BYTES:
                return {"error": "ReferenceWithheld", "message": "too many records"}
            self._records.append(record)
            self._record_bytes += size
        return {"ok": True}

    def _cases(self, name) -> dict:
        with self._lock:
            testing = self._open and name in self._testing
        if not testing:
            return {"error": "ReferenceWithheld", "message": "no hidden test of this exercise "
                                                             "is running"}
        return {"value": [[i, list(arrays)] for i, arrays in self.draws(name)]}

    def _call(self, request, depth: int) -> dict:
        name = request.get("name")
        args, kwargs = request.get("args"), request.get("kwargs")
        if not isinstance(args, list) or not isinstance(kwargs, dict) \
                or not all(isinstance(k, str) for k in kwargs):
            return {"error": "ReferenceWithheld", "message": "malformed request"}
        function = self._served.get(name) if isinstance(name, str) else None
        if function is None:
            return {"error": "ReferenceWithheld", "message": f"{str(name)[:100]!r} is not served"}
        with self._lock:
            if not self._open:
                return {"error": "ReferenceWithheld", "message": (
                    f"{name} is withheld while grading: the notebook must use its own code")}
            if name not in self._allowed:
                self._flagged.append(name)
                return {"error": "ReferenceWithheld", "message": (
                    f"{name} is withheld while this exercise is tested")}
        if depth > channel.MAX_DEPTH:
            return {"error": "RecursionError", "message": "calls nested too deeply"}
        too_big = _too_big(args, kwargs)
        if too_big:
            return {"error": "ValueError", "message": too_big}
        try:  # the arguments are this call's own copies, fresh from the wire
            value = function(*args, **kwargs)
            if inspect.isgenerator(value):
                value = list(value)
        except MemoryError:
            return {"error": "MemoryError", "message": "the reference ran out of memory on "
                                                       "these arguments"}
        except RecursionError:
            return {"error": "RecursionError", "message": "too deep"}
        except Exception as exc:  # the reference's own refusal (a wrong shape...) goes back
            return {"error": type(exc).__name__, "message": str(exc)[:2000]}
        too_big = _too_big([value], {})
        if too_big:
            return {"error": "ValueError", "message": too_big}
        return {"value": value}

    def _remote(self, conn, index: int, live: list):
        """A function of the notebook's, run in the kernel when the reference calls it.

        The kernel's arguments first take the values of the reference's copies (``live``).
        While the kernel runs it, it may call a withheld function in turn: answered here.
        """

        def function(*args, **kwargs):
            conn.send_bytes(wire.dumps({"callback": index, "args": list(args),
                                        "kwargs": kwargs, "state": live}))
            depth = getattr(self._local, "depth", 0) + 1
            while True:
                message = self._next(conn)
                if message is None:
                    raise channel.ReferenceWithheld("the kernel went away")
                if isinstance(message, dict) and message.get("op") == "result":
                    return channel.result(message)
                self._local.depth = depth
                try:
                    conn.send_bytes(wire.dumps(self._handle(conn, message, depth)))
                finally:
                    self._local.depth = depth - 1

        return function

    _local = threading.local()


def _too_big(args, kwargs) -> str:
    sizes = [a.size for a in wire.arrays_in(args, kwargs)]
    if sum(sizes) > MAX_ELEMENTS:
        return (f"arguments of {sum(sizes):,} numbers are more than the grader computes on "
                f"({MAX_ELEMENTS:,})")
    return ""


def _receive_timeout(conn, seconds: float) -> None:
    """Make a read that has begun give up after ``seconds`` (a kernel that sends half)."""
    try:
        sock = socket.socket(fileno=conn.fileno())
    except OSError:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                        struct.pack("ll", int(seconds), int(seconds % 1 * 1e6)))
    finally:
        sock.detach()


def _shut(conn) -> None:
    try:
        sock = socket.socket(fileno=conn.fileno())
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.detach()
    except OSError:
        pass


def limit_memory(limit_bytes: int) -> None:
    """Cap this process's address space (soft limit), so a reference fed huge arguments
    raises MemoryError in the grader instead of waking the machine's OOM killer."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit_bytes = min(limit_bytes, hard)
    if soft == resource.RLIM_INFINITY or soft > limit_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, hard))
