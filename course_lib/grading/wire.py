"""Values sent from a student's kernel to the grader, in a form that cannot run code.

The grader reads what a student's kernel wrote, so the format must be inert:
a ``.npz`` file holding plain numeric arrays and one JSON text that describes
how they nest in lists, tuples and dicts. It is read with ``allow_pickle=False``
and a size limit. Anything else a student's function returns (a generator, a
custom object) is sent as an :class:`Opaque` placeholder naming its type, which
the checks report as the wrong kind of answer.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["Opaque", "WireError", "encode", "decode", "dumps", "loads", "save", "load", "MAX_BYTES"]

#: The largest file the grader reads from a kernel (a test's outputs are far smaller).
MAX_BYTES = 64 * 2**20
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


def dumps(value, callables: list | None = None) -> bytes:
    """``value`` as the bytes of an .npz file (see :func:`encode` for ``callables``)."""
    tree, arrays = encode(value, callables)
    buffer = io.BytesIO()
    np.savez(buffer, tree=np.array(json.dumps(tree)), **{f"a{i}": a for i, a in enumerate(arrays)})
    return buffer.getvalue()


def loads(data: bytes, max_bytes: int = MAX_BYTES, callback=None):
    """The value in ``data`` (from :func:`dumps`); :class:`WireError` if it is not one."""
    if len(data) > max_bytes:
        raise WireError(f"{len(data)} bytes, more than the limit of {max_bytes}")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            if sum(npz.zip.getinfo(n).file_size for n in npz.zip.namelist()) > 4 * max_bytes:
                raise WireError("unpacks to too much data")
            tree = json.loads(str(npz["tree"][()]))
            arrays = [npz[f"a{i}"] for i in range(len(npz.files) - 1)]
    except WireError:
        raise
    except (OSError, ValueError, KeyError, EOFError, RecursionError, zipfile.BadZipFile) as exc:
        raise WireError(f"not a values file: {type(exc).__name__}: {str(exc)[:200]}") from None
    if any(a.dtype.kind not in _NUMERIC for a in arrays):
        raise WireError("an array that is not numbers")
    try:
        return decode(tree, arrays, callback)
    except (ValueError, RecursionError) as exc:  # WireError is a ValueError too
        raise WireError(f"malformed value: {str(exc)[:200]}") from None


def save(path: Path, value) -> None:
    """Write ``value`` to ``path`` (an .npz file), atomically."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(dumps(value))
    os.replace(partial, path)


def load(path: Path, max_bytes: int = MAX_BYTES):
    """Read a value written by :func:`save`; :class:`WireError` if it is not one."""
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise WireError(f"{size} bytes, more than the limit of {max_bytes}")
    return loads(path.read_bytes(), max_bytes)
