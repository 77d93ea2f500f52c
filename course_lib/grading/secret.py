"""The course's secret, from which each student's hidden random cases are drawn.

The visible cases of an exercise are fixed (students see the same feedback every
time), and so are its hand-made hidden cases. But every input in course_lib can be
read, and every reference run, at home: a notebook could carry a table of answers.
So while grading, each hidden test also runs the student's function on cases
drawn afresh (:func:`course_lib.checks._engine.fresh_cases`) from a generator
seeded by this secret, the assignment, the student, the exercise and the submission
itself (a digest of the notebook as graded): a regrade of the same notebook draws the
same cases, a notebook changed to answer the last draw meets new ones.

The secret is 32 random bytes in ``.nncourse/secret`` under the course folder,
made on first use, readable by its owner only, never released and never seen by a
kernel (the sandbox shows no part of the course folder). Keep it for the term: a
regrade with the same secret draws the same cases, and the report names the
secret it used by its fingerprint.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

__all__ = ["SECRET_FILE", "course_secret", "fingerprint", "seed"]

SECRET_FILE = Path(".nncourse") / "secret"


def course_secret(course_root: Path) -> bytes:
    """The course's secret, made (atomically, once, even with workers racing) if missing."""
    path = Path(course_root) / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd, partial = tempfile.mkstemp(dir=path.parent, prefix=".secret-")
        try:
            os.write(fd, os.urandom(32).hex().encode() + b"\n")
            os.close(fd)
            os.link(partial, path)  # fails if another worker made it first: theirs is kept
        except FileExistsError:
            pass
        finally:
            os.unlink(partial)
    text = path.read_bytes().strip()
    if len(text) < 32:
        raise ValueError(f"{path} holds no usable secret: delete it to make a new one "
                         f"(hidden random cases will then change)")
    return text


def fingerprint(secret: bytes) -> str:
    """A short name for the secret that does not reveal it."""
    return hashlib.sha256(b"nncourse fingerprint\0" + secret).hexdigest()[:12]


def seed(secret: bytes, assignment: str, student: str, exercise: str,
         submission: str = "") -> int:
    """The seed of one student's fresh cases of one exercise in one submission."""
    parts = (assignment, student, exercise, submission)
    text = b"\0".join([secret, *(s.encode() for s in parts)])
    return int.from_bytes(hashlib.sha256(text).digest()[:16], "big")
