"""Values sent from a student's kernel to the grader, in a form that cannot run code.

The grader reads what a student's kernel wrote, so the format must be inert: a
short JSON text that describes how the values nest in lists, tuples and dicts
and, for each array, its dtype (plain numbers only) and shape, followed by the
arrays' raw bytes. Nothing in it is ever unpickled or executed, and every count
and size is checked against the bytes actually there before anything is built.
Anything else a student's function returns (a generator, a custom object) is
sent as an :class:`Opaque` placeholder naming its type, which the checks report
as the wrong kind of answer.

(An earlier version used NumPy's ``.npz``; building and opening a zip archive for
every message cost ~0.5 ms, a second per notebook whose references call back.)
"""

from __future__ import annotations

import json
import re
import struct

import numpy as np

__all__ = ["Opaque", "WireError", "encode", "decode", "arrays_in", "dumps", "loads", "MAX_BYTES"]

#: The largest message the grader reads from a kernel (a test's outputs are far smaller).
MAX_BYTES = 64 * 2**20
#: The largest header (the JSON that describes the values): parsing one costs memory.
MAX_HEADER_BYTES = 2 * 2**20
_MAX_DEPTH = 32
_MAX_NODES = 100_000
_NUMERIC = "biufc"


class WireError(ValueError):
    """A file from a kernel that is not a well-formed set of values."""


class Opaque:
    """Stands for a value that is not numbers, lists, tuples or dicts: only its type is kept."""

    def __init__(self, type_name: str):
        self.type_name = str(type_name)[:80]

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"

    def __eq__(self, other) -> bool:
        return isinstance(other, Opaque) and other.type_name == self.type_name

    def __hash__(self) -> int:
        return hash(self.type_name)


def encode(value, callables: list | None = None) -> tuple[object, list[np.ndarray]]:
    """``value`` as a JSON-ready tree plus the arrays it refers to by index.

    With a ``callables`` list, functions in ``value`` are appended to it and sent as
    their index (a reference function's argument ``f`` that the grader calls back).
    """
    arrays: list[np.ndarray] = []
    count = [0]

    def walk(v, depth):
        count[0] += 1
        if depth > _MAX_DEPTH or count[0] > _MAX_NODES:
            return {"t": "opaque", "v": "structure too deep or too large"}
        if v is None:
            return {"t": "none"}
        if isinstance(v, (np.ndarray, np.generic)) and np.asarray(v).dtype.kind in _NUMERIC:
            arrays.append(np.asarray(v))  # NumPy scalars too, so that they keep their dtype
            return {"t": "array", "v": len(arrays) - 1, "scalar": isinstance(v, np.generic)}
        if isinstance(v, bool):
            return {"t": "bool", "v": v}
        if isinstance(v, int):
            return {"t": "int", "v": str(v)}  # as text: Python ints are unbounded
        if isinstance(v, float):
            return {"t": "float", "v": float.__repr__(v)}
        if isinstance(v, str):
            return {"t": "str", "v": v[:10_000]}
        if isinstance(v, (list, tuple)):
            return {"t": type(v).__name__ if type(v) in (list, tuple) else "list",
                    "v": [walk(x, depth + 1) for x in v]}
        if isinstance(v, dict):
            return {"t": "dict", "k": [walk(k, depth + 1) for k in v],
                    "v": [walk(x, depth + 1) for x in v.values()]}
        if callables is not None and callable(v):
            callables.append(v)
            return {"t": "callback", "v": len(callables) - 1}
        return {"t": "opaque", "v": type(v).__name__}

    return walk(value, 0), arrays


def arrays_in(args, kwargs) -> list[np.ndarray]:
    """Every array among a call's arguments, also inside dicts, lists and tuples, in order."""
    found = []

    def walk(value):
        if isinstance(value, np.ndarray):
            found.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)

    for value in (*args, *kwargs.values()):
        walk(value)
    return found


def decode(tree, arrays: list[np.ndarray], callback=None):
    """The value that :func:`encode` described; :class:`WireError` when malformed.

    ``callback(index)`` makes the stand-in for a function sent by index.
    """
    count = [0]

    def walk(node, depth):
        count[0] += 1
        if depth > _MAX_DEPTH + 1 or count[0] > _MAX_NODES + 1 or not isinstance(node, dict):
            raise WireError("malformed value")
        kind, v = node.get("t"), node.get("v")
        if kind == "none":
            return None
        if kind == "bool" and isinstance(v, bool):
            return v
        if kind == "int" and isinstance(v, str) and len(v) < 5000:
            return int(v)
        if kind == "float" and isinstance(v, str):
            return float(v)
        if kind == "str" and isinstance(v, str):
            return v
        if kind == "array" and isinstance(v, int) and 0 <= v < len(arrays):
            return arrays[v][()] if node.get("scalar") else arrays[v]
        if kind in ("list", "tuple") and isinstance(v, list):
            items = [walk(x, depth + 1) for x in v]
            return items if kind == "list" else tuple(items)
        if kind == "dict" and isinstance(v, list) and isinstance(node.get("k"), list) \
                and len(v) == len(node["k"]):
            keys = [walk(k, depth + 1) for k in node["k"]]
            try:
                return dict(zip(keys, (walk(x, depth + 1) for x in v), strict=True))
            except TypeError as exc:  # an unhashable key
                raise WireError("malformed dict") from exc
        if kind == "opaque" and isinstance(v, str):
            return Opaque(v)
        if kind == "callback" and isinstance(v, int) and callback is not None:
            return callback(v)
        raise WireError(f"malformed value of kind {str(kind)[:20]!r}")

    return walk(tree, 0)


#: The first bytes of every message, then the header's length (8 bytes, big-endian).
MAGIC = b"NNCW1"
_LENGTH = struct.Struct("!Q")
#: plain numbers only: bool, signed and unsigned ints, floats, complex, either byte order
_DTYPE = re.compile(r"[<>|=]?[biufc][0-9]{1,2}")


def dumps(value, callables: list | None = None) -> bytes:
    """``value`` as bytes: magic, header length, JSON header, then each array's raw bytes.

    See :func:`encode` for ``callables``.
    """
    tree, arrays = encode(value, callables)
    header = json.dumps({"tree": tree, "arrays": [[a.dtype.str, list(a.shape)] for a in arrays]},
                        separators=(",", ":")).encode()
    return b"".join([MAGIC, _LENGTH.pack(len(header)), header, *(a.tobytes(order="C") for a in arrays)])


def loads(data: bytes, max_bytes: int = MAX_BYTES, callback=None):
    """The value in ``data`` (from :func:`dumps`); :class:`WireError` if it is not one."""
    if len(data) > max_bytes:
        raise WireError(f"{len(data)} bytes, more than the limit of {max_bytes}")
    start = len(MAGIC) + _LENGTH.size
    if len(data) < start or not data.startswith(MAGIC):
        raise WireError("not a values message (it does not start as one)")
    size = _LENGTH.unpack_from(data, len(MAGIC))[0]
    if size > len(data) - start:
        raise WireError("a header longer than the message")
    if size > MAX_HEADER_BYTES:  # the numbers travel after it: a header is small
        raise WireError(f"a header of {size} bytes, more than the limit of {MAX_HEADER_BYTES}")
    try:
        header = json.loads(data[start:start + size])
    except (ValueError, RecursionError) as exc:
        raise WireError(f"an unreadable header: {type(exc).__name__}") from None
    if not isinstance(header, dict) or not isinstance(header.get("arrays"), list):
        raise WireError("a header without its list of arrays")
    arrays = _arrays(memoryview(bytearray(data))[start + size:], header["arrays"])
    try:
        return decode(header.get("tree"), arrays, callback)
    except (ValueError, RecursionError) as exc:  # WireError is a ValueError too
        raise WireError(f"malformed value: {str(exc)[:200]}") from None


def _arrays(body: memoryview, specs: list) -> list[np.ndarray]:
    """The arrays that ``specs`` ([dtype, shape] each) lay out in ``body``, writable copies."""
    arrays, offset = [], 0
    for spec in specs:
        if not (isinstance(spec, list) and len(spec) == 2 and isinstance(spec[0], str)
                and _DTYPE.fullmatch(spec[0]) and isinstance(spec[1], list) and len(spec[1]) <= 32
                and all(type(n) is int and n >= 0 for n in spec[1])):
            raise WireError("an array that is not plain numbers of a plain shape")
        try:
            dtype = np.dtype(spec[0])
        except TypeError:
            raise WireError(f"an unknown dtype {spec[0]!r}") from None
        count = 1
        for n in spec[1]:
            count *= n
        nbytes = count * dtype.itemsize
        if nbytes > len(body) - offset:
            raise WireError("an array larger than the bytes left in the message")
        array = np.frombuffer(body, dtype, count, offset).reshape(spec[1])
        arrays.append(array)
        offset += nbytes
    if offset != len(body):
        raise WireError("bytes left over after the last array")
    return arrays
