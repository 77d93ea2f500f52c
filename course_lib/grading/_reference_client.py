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
    """Ask the grader for ``name(*args, **kwargs)``; raise what the reference raised."""
    from course_lib.grading import wire

    path = os.environ.get(SOCKET_VARIABLE)
    if not path:
        raise ReferenceWithheld(f"{name} is withheld while grading.")
    request = wire.dumps({"name": name, "args": list(args), "kwargs": dict(kwargs)})
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(path)
        conn.sendall(_HEADER.pack(len(request)) + request)
        reply = wire.loads(_receive(conn))
    if "error" in reply:
        kind = getattr(builtins, str(reply["error"]), None)
        if not (isinstance(kind, type) and issubclass(kind, Exception)):
            kind = ReferenceWithheld
        raise kind(reply.get("message", ""))
    return reply["value"]


def _receive(conn) -> bytes:
    size = _HEADER.unpack(_exactly(conn, _HEADER.size))[0]
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
