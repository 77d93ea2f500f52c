"""In a grading kernel: the assignment's reference implementations, answered by the grader.

While an assignment is graded, the kernel's copy of course_lib has the bodies of
that assignment's reference functions replaced by a call to :func:`call` (see
:mod:`course_lib.grading.withhold`). The grader computes the answer in its own
process and notes who asked, and when: a test that reaches the reference of the
exercise it tests scores 0. Everything else that uses the references (the
checks of an exercise that builds on another, the demonstrations) still works.
"""

from __future__ import annotations

import builtins
import os
import socket
import struct

SOCKET_VARIABLE = "NNCOURSE_REFERENCE_SOCKET"
_HEADER = struct.Struct("!Q")


class ReferenceWithheld(RuntimeError):
    """The course_lib reference cannot be used here."""


def call(name: str, args: tuple, kwargs: dict):
    """Ask the grader for ``name(*args, **kwargs)``; raise what the reference raised.

    Functions among the arguments stay here: when the reference calls one (as
    ``numerical_gradient(f, ...)`` calls ``f``), the grader asks for it to be run,
    and this answers until the final result comes.
    """
    from course_lib.grading import wire

    path = os.environ.get(SOCKET_VARIABLE)
    if not path:
        raise ReferenceWithheld(f"{name} is withheld while grading.")
    from course_lib.checks._engine import _arrays

    functions: list = []
    request = wire.dumps({"name": name, "args": list(args), "kwargs": dict(kwargs)}, functions)
    mine = _arrays(args, kwargs)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(path)
        send(conn, request)
        while True:
            reply = wire.loads(_receive(conn))
            _mirror(mine, reply.get("state"))
            if "callback" not in reply:
                break
            send(conn, wire.dumps(_run(functions[int(reply["callback"])], reply)))
    return result(reply)


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


def _run(function, request) -> dict:
    try:
        return {"value": function(*request.get("args", ()), **request.get("kwargs", {}))}
    except Exception as exc:
        return {"error": type(exc).__name__, "message": str(exc)}


def result(reply: dict):
    """The value of a reply, or the exception it names raised (a builtin one, else withheld)."""
    if "error" in reply:
        kind = getattr(builtins, str(reply["error"]), None)
        if not (isinstance(kind, type) and issubclass(kind, Exception)):
            kind = ReferenceWithheld
        raise kind(reply.get("message", ""))
    return reply["value"]


def send(conn, data: bytes) -> None:
    conn.sendall(_HEADER.pack(len(data)) + data)


def _receive(conn, limit: int | None = None) -> bytes:
    size = _HEADER.unpack(_exactly(conn, _HEADER.size))[0]
    if limit is not None and size > limit:
        raise ConnectionError(f"a message of {size} bytes, over the limit of {limit}")
    return _exactly(conn, size)


def _exactly(conn, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = conn.recv(min(left, 1 << 20))
        if not chunk:
            raise ConnectionError("the grader closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
