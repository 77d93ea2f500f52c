"""The one line between a grading kernel and the grader: names and the kernel's end.

While an instructor grades, the grader listens on a Unix socket in a folder of its
own, which the sandboxed kernel sees read-only, and names it in the kernel's
environment (:data:`VARIABLE`). Both ends speak :mod:`course_lib.wire` (inert values,
nothing unpickled) in the messages of :mod:`multiprocessing.connection`, whose
length prefix the grader checks before it reads a byte of the body.

From the kernel, :func:`request` asks and waits:

- ``{"op": "call", "name": ..., "args": [...], "kwargs": {...}}``: a withheld
  course_lib function (its body in the kernel's copy is a call to :func:`call`).
  The grader may answer with ``{"callback": i, ...}`` to run the i-th function of
  the arguments here first (``numerical_gradient(f, x)`` calls ``f``);
- ``{"op": "record", "record": {...}}``: what a check saw the student's function
  do (:mod:`course_lib.checks._record`).

The kernel cannot learn anything here that the grader did not decide to send.
"""

from __future__ import annotations

import builtins
import os
import threading

from . import wire

__all__ = ["VARIABLE", "ReferenceWithheld", "grading", "request", "call", "result"]

#: The grader's socket, in the kernel's environment: set only while grading.
VARIABLE = "NNCOURSE_GRADER"
#: The checks topics being graded (comma-separated): the kernel imports only their cases.
TOPICS_VARIABLE = "NNCOURSE_TOPICS"
#: The largest message either end accepts.
MAX_BYTES = wire.MAX_BYTES
#: How deep calls may nest (a reference calls back a function that calls a reference...).
MAX_DEPTH = 16

_lock = threading.RLock()
_connection = None


class ReferenceWithheld(RuntimeError):
    """The course_lib reference cannot be used here."""


def grading() -> bool:
    """Whether this kernel is being graded (the grader's socket is named)."""
    return bool(os.environ.get(VARIABLE))


def _connect():
    global _connection
    if _connection is None or _connection.closed:
        from multiprocessing.connection import Client

        _connection = Client(os.environ[VARIABLE], family="AF_UNIX")
    return _connection


def request(message: dict, functions: list | None = None):
    """Send ``message`` to the grader and return its final reply (a dict).

    ``functions`` are the callables :func:`course_lib.wire.dumps` found in the
    message; the grader may ask for them to be run before it replies. Without a
    list, functions in ``message`` cross as their type's name only.
    """
    mine = wire.arrays_in(message.get("args") or (), message.get("kwargs") or {})
    global _connection
    with _lock:  # one conversation at a time; nested calls (callbacks) reuse the lock
        conn = _connect()
        try:
            _send(conn, wire.dumps(message, functions))
            while True:
                reply = wire.loads(conn.recv_bytes(MAX_BYTES))
                if not isinstance(reply, dict):
                    raise ReferenceWithheld("the grader sent something unexpected")
                _mirror(mine, reply.get("state"))
                if "callback" not in reply:
                    return reply
                _send(conn, wire.dumps({"op": "result", **_run(functions, reply)}))
        except (OSError, EOFError) as exc:
            _connection = None
            raise ReferenceWithheld(f"the grader closed the connection ({exc})") from None


def _send(conn, data: bytes) -> None:
    if len(data) > MAX_BYTES:
        raise ValueError(f"{len(data):,} bytes are more than the grader accepts in one "
                         f"message ({MAX_BYTES:,})")
    conn.send_bytes(data)


def call(name: str, args: tuple, kwargs: dict):
    """Ask the grader for ``name(*args, **kwargs)``; raise what the reference raised."""
    if not grading():
        raise ReferenceWithheld(f"{name} is withheld while grading.")
    functions: list = []
    message = {"op": "call", "name": name, "args": list(args), "kwargs": dict(kwargs)}
    return result(request(message, functions))


def _mirror(mine: list, state) -> None:
    """Give the arguments the values the reference left in its copies (in-place changes).

    A reference may change an argument in place and call a function that reads it
    (numerical_gradient nudges x, then calls f, which reads x through a model).
    """
    import numpy as np

    if not isinstance(state, list):
        return
    for array, value in zip(mine, state, strict=False):
        if isinstance(value, np.ndarray) and value.shape == array.shape \
                and array.flags.writeable and not np.array_equal(array, value, equal_nan=True):
            np.copyto(array, value, casting="unsafe")


def _run(functions: list | None, request: dict) -> dict:
    try:
        if functions is None:
            raise ReferenceWithheld("nothing to call back")
        function = functions[int(request["callback"])]
        args, kwargs = request.get("args", ()), request.get("kwargs", {})
        return {"value": function(*args, **kwargs)}
    except Exception as exc:
        return {"error": type(exc).__name__, "message": str(exc)}


def result(reply: dict):
    """The value of a reply, or the exception it names raised (a builtin one, else withheld)."""
    if "error" in reply:
        kind = getattr(builtins, str(reply["error"]), None)
        if not (isinstance(kind, type) and issubclass(kind, Exception)):
            kind = ReferenceWithheld
        raise kind(reply.get("message", ""))
    return reply.get("value")
