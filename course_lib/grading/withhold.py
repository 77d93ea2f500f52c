"""Keep an assignment's reference implementations out of the student's kernel.

course_lib ships the reference of every exercise, so a student could call it
(directly, under another name, through importlib, or by borrowing its code
object) instead of writing their own. While an assignment is graded:

- :func:`stripped_copy` writes a copy of course_lib in which the assignment's
  reference functions keep their signatures but their bodies only ask the
  grader (:func:`course_lib.grading._reference_client.call`), and its reference
  classes cannot be built. The kernel imports this copy; the sandbox hides the
  real one. Every way of reaching "the reference" in the kernel reaches the stub.
- :class:`Referee`, in the grader's process, answers those calls with the real
  references and notes each call made while a test cell runs. A test of
  exercise X may reach the references X builds on (``Exercise.depends``: a broken
  helper must not cost X its points), and nothing else of the assignment: any
  other call, X's own reference above all, fails the test.
"""

from __future__ import annotations

import ast
import functools
import inspect
import shutil
import socket
import struct
import threading
from pathlib import Path

import course_lib
from course_lib.checks import _EXERCISES
from course_lib.checks._engine import _arrays

from . import wire
from ._reference_client import _receive, result, send

__all__ = ["qualified_name", "stripped_copy", "Referee"]

_CALL = "_nncourse_reference"
_WITHHELD = "_NncourseReferenceWithheld"


def qualified_name(obj) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def _withheld(exercises) -> dict[str, dict[str, str]]:
    """module -> {top-level name -> exercise} for the references of ``exercises``."""
    modules: dict[str, dict[str, str]] = {}
    for name in exercises:
        reference = _EXERCISES[name].reference
        modules.setdefault(reference.__module__, {})[reference.__qualname__] = name
    return modules


def stripped_copy(destination: Path, exercises) -> Path:
    """A copy of course_lib under ``destination`` without the references of ``exercises``.

    Returns the copied package's folder (``destination/course_lib``).
    """
    source = Path(course_lib.__file__).parent
    target = Path(destination) / "course_lib"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for module, names in _withheld(exercises).items():
        path = target.joinpath(*module.split(".")[1:]).with_suffix(".py")
        path.write_text(_strip(path.read_text(encoding="utf-8"), module, set(names)),
                        encoding="utf-8")
    return target


def _strip(text: str, module: str, names: set[str]) -> str:
    tree = ast.parse(text)
    body = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in names:
            node.body = [*_docstring(node), _forwarding_return(node, f"{module}.{node.name}")]
        elif isinstance(node, ast.ClassDef) and node.name in names:
            node = _unbuildable_class(node, f"{module}.{node.name}")
        body.append(node)
    imports = ast.parse(
        f"from course_lib.grading._reference_client import ReferenceWithheld as {_WITHHELD}\n"
        f"from course_lib.grading._reference_client import call as {_CALL}\n").body
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
    """Answers a kernel's calls to withheld references; flags those a test must not make.

    Parameters
    ----------
    path : Path
        The Unix socket to listen on (inside the kernel's working folder).
    exercises : iterable of str
        The assignment's exercises, whose references are withheld.
    """

    def __init__(self, path: Path, exercises):
        self.path = Path(path)
        self._functions = {}
        for name in exercises:
            reference = _EXERCISES[name].reference
            if not inspect.isclass(reference):
                self._functions[qualified_name(reference)] = reference
        self._lock = threading.Lock()
        self._testing: frozenset = frozenset()
        self._allowed: frozenset = frozenset()
        self._flagged: list[str] = []
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(self.path))
        self._server.listen(8)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def testing(self, exercises) -> None:
        """A test of ``exercises`` starts (or, with an empty set, has ended)."""
        allowed = {qualified_name(ref) for name in exercises if name in _EXERCISES
                   for ref in _EXERCISES[name].depends.values()}
        with self._lock:
            self._testing, self._allowed, self._flagged = frozenset(exercises), \
                frozenset(allowed), []

    def flagged(self) -> list[str]:
        """The references called during the current test that it must not call."""
        with self._lock:
            return list(self._flagged)

    def close(self) -> None:
        self._server.close()

    def _serve(self):
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:  # closed
                return
            with conn:
                conn.settimeout(60)
                live: list = []  # the reference's copies of the array arguments
                try:
                    request = wire.loads(_receive(conn, wire.MAX_BYTES),
                                         callback=functools.partial(_remote, conn, live=live))
                    if isinstance(request, dict):
                        live += _arrays(request.get("args") or [], request.get("kwargs") or {})
                    send(conn, wire.dumps({**self._answer(request), "state": live}))
                except (OSError, ConnectionError, wire.WireError, struct.error):
                    continue  # a broken or hostile client: dropped, the next one is served

    def _answer(self, request) -> dict:
        if not isinstance(request, dict) or not isinstance(request.get("args"), list) \
                or not isinstance(request.get("kwargs"), dict):
            return {"error": "ReferenceWithheld", "message": "malformed request"}
        name = request.get("name")
        function = self._functions.get(name)
        if function is None:
            return {"error": "ReferenceWithheld", "message": f"{name!r} is not served"}
        with self._lock:
            if self._testing and name not in self._allowed:
                self._flagged.append(name)
        try:  # the arguments are this call's own copies, fresh from the wire
            value = function(*request["args"], **request["kwargs"])
            if inspect.isgenerator(value):
                value = list(value)
        except Exception as exc:  # the reference's own refusal (a wrong shape...) goes back
            return {"error": type(exc).__name__, "message": str(exc)}
        return {"value": value}


def _remote(conn, index: int, live: list):
    """A function of the notebook's, run in the kernel when the reference calls it.

    The kernel's arguments first take the values of the reference's copies (``live``).
    """

    def function(*args, **kwargs):
        send(conn, wire.dumps({"callback": index, "args": list(args), "kwargs": kwargs,
                               "state": live}))
        return result(wire.loads(_receive(conn, wire.MAX_BYTES)))

    return function

