"""Stage a student's submission before grading: a checked, fixed copy for nbgrader.

``stage(course_root, "01_activations", "alice", staging_root)`` copies
``submitted/alice/01_activations/`` to ``staging_root/alice/01_activations/`` (the
folder nbgrader's ``CourseDirectory.submitted_directory`` then points at) and returns
an :class:`Intake` whose ``notes`` say, in plain words, everything that was fixed or
left out. ``submitted/`` itself is only read, never written.

What is staged, and what is not:

- the assignment's notebooks (their names come from the gradebook). A missing one is
  replaced by the student's single other readable notebook ("my_work.ipynb"); with
  several, by the one sharing most grade_ids with the assignment; a tie stages none;
- a notebook over ``max_bytes`` (its size is checked before it is read), one that is
  not UTF-8, not JSON, or not a Jupyter notebook of format 4 or later is not staged;
- links are never followed, so never staged;
- a notebook is rebuilt, not copied: each cell keeps its type, its source and the
  metadata that Jupyter and nbgrader use (type-checked); outputs, unknown keys and
  invalid or duplicate cell ids are dropped or replaced, and the result is written
  as nbformat 4.5 and checked against nbformat's schema and nbgrader's metadata
  schema. A notebook whose structure is wrong (a cell that is not an object, source
  that is not text, metadata that is not an object, ...) is not staged, and a line
  says why. Nothing in a submission can make :func:`stage` raise: whatever goes
  wrong becomes a line for that student, never a failure of the class's run;
- nbgrader's ``timestamp.txt`` is kept; every other file is left out, since a file
  such as ``numpy.py`` beside the notebook would shadow the real package while grading.
  The files nbgrader's exchange itself puts in a submission (``submission_secret.txt``)
  are left out silently; every other file left out gets a line.

What is fixed in a staged notebook, besides its kernel (set to the source's):

nbgrader restores a locked test cell's source by its grade_id, but only if exactly one
cell carries that id. nbgrader 0.9 behaves differently from what one might expect:

- a duplicated grade_id makes ``DeduplicateIds`` empty the nbgrader metadata of every
  copy but the last, and ``CheckCellMetadata`` then rejects the empty metadata as an
  "old version of the nbgrader metadata format": the whole submission fails to grade
  (jupyter/nbgrader#1083);
- a deleted test cell is only added back when ``OverwriteCells.add_missing_cells`` is
  on, which it is not by default: the test then has no score at all;
- a test cell re-labelled with another test's grade_id has that other test's source
  restored in its place, while its own test goes missing.

So here every test cell is found again, by its grade_id or by its source (the source
in the gradebook, or in the release, which withholds hidden tests): exactly one cell,
the true one, carries each test cell's grade_id and nbgrader metadata; copies lose
their nbgrader metadata (they still run, as ordinary cells, and count for nothing);
a missing test cell is put back where nbgrader would put it, as nbgrader would with
``add_missing_cells``. Restoring the source, points and cell type of the true cell is
left to nbgrader's ``OverwriteCells``; every other labelled cell gets the release's
nbgrader metadata back.

What a student wrote (file names, labels, values) appears in the notes quoted, on one
line (:func:`course_lib.grading.report.quoted`).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .course import Course, as_course
from .report import quoted

__all__ = ["DEFAULT_MAX_BYTES", "Intake", "stage"]

#: Files larger than this are never read nor staged.
DEFAULT_MAX_BYTES = 20 * 2**20

#: nbgrader's timestamp.txt holds one date: anything longer is not nbgrader's.
_MAX_TIMESTAMP_BYTES = 1024

#: More cells than this is not a notebook anyone wrote by hand.
_MAX_CELLS = 20_000

#: nbformat 4.5's cell ids.
_CELL_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass
class Intake:
    """What staging one student's submission of one assignment did."""

    assignment: str
    student: str
    staged: bool = False  # at least one notebook staged: grade it
    notes: list[str] = field(default_factory=list)  # plain-words lines, in a stable order


def stage(course_root, assignment: str, student: str, staging_root: Path,
          max_bytes: int = DEFAULT_MAX_BYTES) -> Intake:
    """Copy submitted/<student>/<assignment>/ to staging_root/<student>/<assignment>/, checked and fixed.

    Parameters
    ----------
    course_root : Path or Course
        The course folder (nbgrader_config.py, submitted/, gradebook.db, the release),
        or the run's :class:`~course_lib.grading.course.Course`, whose gradebook and
        release are then read once per assignment, not once per student.
    assignment, student : str
        Plain folder names (no "/", not "." or "..").
    staging_root : Path
        Where staged submissions go; the student's folder in it must not exist yet.
    max_bytes : int, default 20 MiB
        Larger files are neither read nor staged.

    Returns
    -------
    Intake
        ``staged`` is False when no notebook could be staged; then the staged folder
        is removed again, so that nbgrader does not grade an empty submission. Whatever
        is wrong with the submission is a line in ``notes``, never an exception.

    Raises
    ------
    ValueError
        If ``assignment`` or ``student`` is not a plain folder name.
    FileExistsError
        If staging_root/<student>/<assignment> already exists: a staged folder is never
        overwritten.
    """
    for name in (assignment, student):
        if not name or name in {".", ".."} or "/" in name or "\\" in name or "\x00" in name:
            raise ValueError(f"{name!r} is not a plain folder name")
    course = as_course(course_root)
    intake = Intake(assignment, student)
    target = Path(staging_root) / student / assignment
    target.parent.mkdir(parents=True, exist_ok=True)
    target.mkdir()  # raises FileExistsError: never stage over an earlier staging

    source = course.folder("submitted", student, assignment)
    try:
        if source.is_symlink() or (source.parent.is_symlink()):
            intake.notes.append("the submission folder is a link: links are never followed, "
                                "not graded")
        elif not source.is_dir():
            intake.notes.append("no submission folder: not graded")
        else:
            _stage_folder(course, source, target, intake, max_bytes)
    except Exception as error:  # nothing in a submission may stop the class's run
        intake.staged = False
        intake.notes.append(f"submission could not be staged ({_what(error)}): not graded")
    if not intake.staged:
        shutil.rmtree(target, ignore_errors=True)
    return intake


def _what(error: BaseException) -> str:
    """An exception, for a note: its type, and its message quoted (it may hold student text)."""
    return f"{type(error).__name__}: {quoted(str(error))}" if str(error) else type(error).__name__


# --- what the gradebook and the release say, read once per assignment -----------------

@dataclass(frozen=True)
class _SourceCell:
    """A gradebook SourceCell's fields (what nbgrader's missing_cell_transform reads)."""

    name: str
    cell_type: str
    source: str
    checksum: str | None
    locked: bool


@dataclass
class _Cells:
    """What the gradebook and the release say about one notebook's cells."""

    order: list[str]  # every grade_id, in the release's order
    sources: dict  # grade_id -> _SourceCell
    tests: dict  # test cell grade_id -> its maximum score, in order
    meta: dict  # grade_id -> its nbgrader metadata in the release (every labelled cell)
    body_of: dict  # a test cell's source (gradebook or release, stripped) -> its grade_id


@dataclass
class _Notebook:
    name: str
    kernelspec: dict | None
    cells: _Cells


def _assignment(course: Course, assignment: str) -> list[_Notebook]:
    """The assignment's notebooks as the gradebook and the release describe them (memoized)."""
    key = ("intake", assignment)
    if key not in course.memo:
        notebooks = []
        with course.gradebook() as gb:
            for source_nb in gb.find_assignment(assignment).notebooks:
                release = _release_notebook(course, assignment, source_nb.name)
                kernelspec = json.loads(source_nb.kernelspec) if source_nb.kernelspec else None
                if not kernelspec and release is not None:
                    kernelspec = release.metadata.get("kernelspec")
                sources = {c.name: _SourceCell(c.name, c.cell_type, c.source, c.checksum,
                                               bool(c.locked)) for c in source_nb.source_cells}
                solutions = {c.name for c in source_nb.solution_cells}
                scores = {c.name: c.max_score for c in source_nb.grade_cells}
                notebooks.append(_Notebook(source_nb.name, dict(kernelspec or {}) or None,
                                           _cells_of(sources, solutions, scores, release)))
        course.memo[key] = notebooks
    return course.memo[key]


def _release_notebook(course: Course, assignment: str, name: str):
    """The release notebook students started from, or None if it cannot be read."""
    path = course.folder("release", ".", assignment) / f"{name}.ipynb"
    try:
        return nbformat.read(path, as_version=4)
    except (OSError, ValueError):
        return None


def _cells_of(sources: dict, solutions: set, scores: dict, release) -> _Cells:
    released = {_claim(c): c for c in release.cells if _claim(c)} if release is not None else {}
    order = [n for n in released if n in sources] + [n for n in sources if n not in released]
    tests = {n: scores[n] for n in order if n in scores and n not in solutions}
    meta = {name: copy.deepcopy(dict(cell.metadata["nbgrader"]))
            for name, cell in released.items() if name in sources}
    body_of = {}
    for name in tests:
        # a release withholds hidden tests: its source differs from the gradebook's
        for text in (sources[name].source, released[name].source if name in released else ""):
            if _text(text):
                body_of.setdefault(_text(text), name)
    return _Cells(order, sources, tests, meta, body_of)


# --- the folder ------------------------------------------------------------------------

@dataclass
class _Entry:
    """One file (or link, or other non-folder) of the submission, found without following links."""

    rel: str  # path inside the submission folder, with "/"
    path: Path
    size: int
    link: bool = False
    regular: bool = True


def _entries(folder: Path) -> list[_Entry]:
    """Every non-folder entry below ``folder``, sorted; links are listed, never followed."""
    found = []
    for root, dirs, files in os.walk(folder):  # os.walk does not descend into linked folders
        here = Path(root)
        for name in sorted(files) + sorted(d for d in dirs if (here / d).is_symlink()):
            path = here / name
            info = path.lstat()
            found.append(_Entry(path.relative_to(folder).as_posix(), path, info.st_size,
                                link=path.is_symlink(), regular=path.is_file()
                                and not path.is_symlink()))
        dirs[:] = sorted(d for d in dirs if not (here / d).is_symlink())
    return sorted(found, key=lambda e: e.rel)


def _stage_folder(course: Course, source: Path, target: Path, intake: Intake,
                  max_bytes: int) -> None:
    notebooks = _assignment(course, intake.assignment)
    names = [notebook.name for notebook in notebooks]
    entries = {e.rel: e for e in _entries(source)}
    used: set[str] = set()
    for notebook in notebooks:
        known = set(notebook.cells.sources)
        chosen = _choose_notebook(notebook.name, names, entries, used, intake, max_bytes, known)
        if chosen is None:
            continue
        nb, rel = chosen
        used.add(rel)
        try:
            notes = _fix_kernel(nb, notebook.kernelspec) + _fix_cells(nb, notebook.cells)
            raw = _checked(nb)
        except Exception as error:  # a notebook no check above foresaw: this student only
            intake.notes.append(f"notebook {quoted(rel)} malformed ({_what(error)}): not graded")
            continue
        intake.notes += notes
        _write_new(target / f"{notebook.name}.ipynb", raw)
        intake.staged = True
    stamp = entries.get("timestamp.txt")
    if stamp and stamp.regular and stamp.size <= _MAX_TIMESTAMP_BYTES:
        with stamp.path.open("rb") as f:
            _write_new(target / "timestamp.txt", f.read(_MAX_TIMESTAMP_BYTES))
        used.add(stamp.rel)
    intake.notes += _other_files([e for rel, e in entries.items() if rel not in used],
                                 names, max_bytes)


def _write_new(path: Path, data: bytes) -> None:
    """Write a new file (never through a link, never over an existing file)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _checked(nb) -> bytes:
    """The staged notebook's bytes, once nbformat's schema accepts it.

    nbgrader's metadata schema holds too: every nbgrader metadata left in ``nb`` is the
    release's own, or was checked against that schema by :func:`_other_labels`.
    """
    nbformat.validate(nb)
    text = json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    if not _encodable(text):
        raise ValueError("text that is not valid Unicode (a lone surrogate)")
    return text.encode("utf-8")


#: Files nbgrader's exchange writes into every submission, besides timestamp.txt: not the
#: student's, so leaving them out is not worth a line.
NBGRADER_FILES = frozenset({"submission_secret.txt"})


def _other_files(left: list[_Entry], names: list[str], max_bytes: int) -> list[str]:
    """Lines for the files that were not staged (besides the expected notebooks' own lines)."""
    expected = {f"{name}.ipynb" for name in names} | NBGRADER_FILES
    left = [e for e in left if e.rel not in expected]  # the notebook's own line says why
    notes = []
    if left:
        n = len(left)
        notes.append(f"{n} other file{'s' if n > 1 else ''} beside the notebook "
                     f"{'were' if n > 1 else 'was'} not used for grading")
    for entry in left:
        if entry.link:
            notes.append(f"{quoted(entry.rel)} is a link: links are never followed, not used")
        elif entry.regular and entry.size > max_bytes:
            notes.append(f"file {quoted(entry.rel)} too large ({_mib(entry.size)}, "
                         f"limit {_mib(max_bytes, whole=True)}): not used")
    return notes


def _mib(n: int, whole: bool = False) -> str:
    return f"{n / 2**20:g} MiB" if whole else f"{n / 2**20:.1f} MiB"


# --- which notebook --------------------------------------------------------------------

def _choose_notebook(name: str, names: list[str], entries: dict, used: set, intake: Intake,
                     max_bytes: int, known: set):
    """(notebook, its path in the folder) to stage as ``name``.ipynb, or None; notes why."""
    expected = entries.get(f"{name}.ipynb")
    if expected is not None:
        if expected.link:
            intake.notes.append(f"notebook {quoted(expected.rel)} is a link: links are never "
                                "followed, not graded")
            return None
        nb, problem = _read_notebook(expected, max_bytes)
        if problem:
            intake.notes.append(f"notebook {problem}: not graded")
            return None
        return nb, expected.rel

    others = [e for rel, e in entries.items()
              if rel.lower().endswith(".ipynb") and rel not in used and e.regular
              and ".ipynb_checkpoints" not in rel.split("/")
              and rel not in {f"{n}.ipynb" for n in names}]
    readable, problems = [], []
    for entry in others:
        nb, problem = _read_notebook(entry, max_bytes)
        if problem:
            problems.append(f"notebook {quoted(entry.rel)} {problem}")
        else:
            readable.append((nb, entry.rel))
    if not readable:
        if len(problems) == 1:  # the student's only notebook, under another name
            intake.notes.append(f"{problems[0]}: not graded")
        else:
            intake.notes.append(f"notebook {quoted(name + '.ipynb')} is missing: not graded")
        return None
    if len(readable) > 1:
        readable = _most_overlap(readable, known, name, intake)
        if readable is None:
            return None
    nb, rel = readable[0]
    intake.notes.append(f"notebook {quoted(rel)} graded as '{name}.ipynb' (renamed)")
    return nb, rel


def _read_notebook(entry: _Entry, max_bytes: int):
    """(notebook, None) if ``entry`` is a readable notebook, else (None, what is wrong).

    The notebook is rebuilt from the JSON (:func:`_rebuilt`), never parsed by anything
    that could run code (no eval, no pickle).
    """
    if entry.size > max_bytes:  # checked before reading a single byte
        return None, (f"too large ({_mib(entry.size)}, limit {_mib(max_bytes, whole=True)})")
    fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        raw = f.read(max_bytes + 1)  # a file that grew since: still never more than this
    if len(raw) > max_bytes:
        return None, f"too large (over the limit of {_mib(max_bytes, whole=True)})"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, "unreadable (not UTF-8)"
    text = text.removeprefix("\ufeff")  # a byte-order mark some editors write: harmless
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        return None, f"unreadable (not valid JSON: {error.msg} at line {error.lineno})"
    except (ValueError, RecursionError) as error:  # huge integers, absurd nesting
        return None, f"unreadable (not valid JSON: {type(error).__name__})"
    problem = _not_a_notebook(data)
    if problem:
        return None, f"unreadable ({problem})"
    nb, problem = _rebuilt(data)
    if problem:
        return None, f"malformed ({problem})"
    return nb, None


def _not_a_notebook(data) -> str | None:
    """Why parsed JSON is not a Jupyter notebook of format 4 at all, or None."""
    if not isinstance(data, dict) or type(data.get("nbformat")) is not int:
        return "not a Jupyter notebook"
    if data["nbformat"] < 4:
        return f"not a Jupyter notebook: format {data['nbformat']}, version 4 or later is needed"
    if data["nbformat"] > 4:
        return f"not a Jupyter notebook: format {data['nbformat']} is not known"
    if not isinstance(data.get("cells"), list):
        return "not a Jupyter notebook: its cells are not a list"
    if not isinstance(data.get("metadata", {}), dict):
        return "not a Jupyter notebook: its metadata is not an object"
    return None


def _rebuilt(data: dict):
    """(a clean nbformat 4.5 notebook from the JSON ``data``, None), or (None, what is wrong).

    Each cell keeps its type, source and the metadata Jupyter and nbgrader use, each
    value type-checked; everything else (outputs, unknown keys, nesting) is dropped,
    and invalid or duplicate cell ids are replaced.
    """
    cells = data["cells"]
    if len(cells) > _MAX_CELLS:
        return None, f"{len(cells)} cells, more than {_MAX_CELLS}"
    clean, ids = [], set()
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict):
            return None, f"cell {number} is not a JSON object"
        kind = cell.get("cell_type")
        if kind not in ("code", "markdown", "raw"):
            return None, f"cell {number} has no valid cell_type"
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)
        elif not isinstance(source, str):
            return None, f"cell {number}'s source is not text"
        if not _encodable(source):
            return None, f"cell {number}'s source is not valid Unicode (a lone surrogate)"
        meta = cell.get("metadata", {})
        if not isinstance(meta, dict):
            return None, f"cell {number}'s metadata is not a JSON object"
        new = {"cell_type": kind, "id": _cell_id(cell.get("id"), number, ids),
               "metadata": _cell_metadata(meta), "source": source}
        if kind == "code":
            new.update(execution_count=None, outputs=[])
        elif kind == "markdown" and _attachments_ok(cell.get("attachments")):
            new["attachments"] = cell["attachments"]
        clean.append(new)
    kernelspec = data.get("metadata", {}).get("kernelspec")
    metadata = {}
    if isinstance(kernelspec, dict) and isinstance(kernelspec.get("name"), str):
        metadata["kernelspec"] = {"name": kernelspec["name"], "display_name": ""}
    return nbformat.from_dict({"nbformat": 4, "nbformat_minor": 5, "metadata": metadata,
                               "cells": clean}), None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _cell_id(value, number: int, taken: set) -> str:
    """The cell's own id if it is a valid and unused one, else a new one."""
    if not (isinstance(value, str) and _CELL_ID.fullmatch(value) and value not in taken):
        value = base = f"cell-{number}"
        n = 1
        while value in taken:
            n += 1
            value = f"{base}-{n}"
    taken.add(value)
    return value


#: Cell metadata kept, with the type each value must have; nbgrader's is checked apart.
_KEPT_METADATA = {"editable": bool, "deletable": bool, "collapsed": bool, "trusted": bool,
                  "scrolled": (bool, str), "name": str}


def _cell_metadata(meta: dict) -> dict:
    kept = {key: value for key, value in meta.items()
            if key in _KEPT_METADATA and isinstance(value, _KEPT_METADATA[key])}
    tags = meta.get("tags")
    if isinstance(tags, list) and all(isinstance(tag, str) for tag in tags):
        kept["tags"] = list(tags)
    grading = meta.get("nbgrader")
    if isinstance(grading, dict):  # flat values only: the release's replace it (_fix_cells)
        kept["nbgrader"] = {key: value for key, value in grading.items()
                            if value is None or isinstance(value, str | int | float | bool)}
    return kept


def _attachments_ok(attachments) -> bool:
    """A markdown cell's pasted images: {name: {mime type: base64 text or list of lines}}."""
    return (isinstance(attachments, dict)
            and all(isinstance(bundle, dict) and all(isinstance(data, str) or (
                isinstance(data, list) and all(isinstance(line, str) for line in data))
                for data in bundle.values()) for bundle in attachments.values()))


def _most_overlap(readable: list, known: set, name: str, intake: Intake):
    """The candidate sharing most grade_ids with the assignment, if one stands out."""
    scored = [(len(known & {_claim(c) for c in nb.cells}), nb, rel) for nb, rel in readable]
    best = max(score for score, _, _ in scored)
    top = [(nb, rel) for score, nb, rel in scored if score == best]
    if len(top) > 1:
        shown = ", ".join(quoted(rel) for _, rel in top)
        intake.notes.append(f"notebook '{name}.ipynb' is missing and {len(top)} other "
                            f"notebooks ({shown}) fit it equally well: none graded")
        return None
    return top


# --- the kernel ------------------------------------------------------------------------

def _fix_kernel(nb, kernelspec) -> list[str]:
    """Give ``nb`` the source notebook's kernel; a line if the student's was another one."""
    # the gradebook keeps the source notebook's kernelspec: the one nbgrader itself restores
    if not kernelspec:
        return []
    theirs = nb.metadata.get("kernelspec")
    old = theirs.get("name") if isinstance(theirs, dict) else None
    nb.metadata["kernelspec"] = nbformat.from_dict(copy.deepcopy(dict(kernelspec)))
    if old is not None and old != kernelspec.get("name"):
        return [f"kernel {quoted(old)} replaced by '{kernelspec.get('name')}'"]
    return []


# --- the test cells --------------------------------------------------------------------

def _claim(cell) -> str | None:
    """The grade_id a cell carries, or None."""
    meta = cell.get("metadata", {}).get("nbgrader")
    if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
        return meta["grade_id"]
    return None


def _text(source) -> str:
    return ("".join(source) if isinstance(source, list) else source or "").strip()


def _fix_cells(nb, info: _Cells) -> list[str]:
    """Make exactly one cell carry each test cell's grade_id; lines for what was wrong."""
    cells = nb.cells
    claims = [_claim(c) for c in cells]
    bodies = [info.body_of.get(_text(c.get("source"))) for c in cells]
    chosen = _true_cells(info, claims, bodies)
    notes = []
    for name, max_score in info.tests.items():
        copies = [i for i in range(len(cells)) if bodies[i] == name
                  or (claims[i] == name and bodies[i] is None)]
        if name in chosen:
            notes += _what_changed(name, cells[chosen[name]], claims[chosen[name]],
                                   bodies[chosen[name]], info, max_score)
        if len(copies) > 1:
            notes.append(f"test cell {name} appeared {len(copies)} times: the copies are ignored")
    true = set(chosen.values())
    for i, cell in enumerate(cells):
        if i not in true and (claims[i] in info.tests or bodies[i] is not None):
            cell.metadata.pop("nbgrader", None)  # a copy: an ordinary cell now
    for name, i in chosen.items():
        cells[i].metadata["nbgrader"] = nbformat.from_dict(_test_meta(name, info))
        cells[i].metadata["editable"] = cells[i].metadata["deletable"] = False
        _set_type(cells[i], info.sources[name].cell_type)
    notes += _other_labels(cells, info)
    for name in info.tests:
        if name not in chosen:
            _put_back(nb, name, info)
            notes.append(f"test cell {name} was missing: restored from the gradebook")
    return notes


def _true_cells(info: _Cells, claims: list, bodies: list) -> dict:
    """grade_id -> index of the cell that is that test cell, for the test cells found.

    Best first: a cell with the test's grade_id and source; then one with its source
    under another grade_id or none (re-labelled); then one with its grade_id and a
    source of its own (edited). Among equals, the one at the test's place.
    """
    levels = [lambda i, n: claims[i] == n and bodies[i] == n,
              lambda i, n: bodies[i] == n,
              lambda i, n: claims[i] == n and bodies[i] is None]
    chosen: dict[str, int] = {}
    for fits in levels:
        for name in info.tests:
            if name in chosen:
                continue
            found = [i for i in range(len(claims))
                     if i not in chosen.values() and fits(i, name)]
            if found:
                chosen[name] = _at_its_place(found, name, info, claims, chosen)
    return chosen


def _at_its_place(found: list[int], name: str, info: _Cells, claims: list, chosen: dict) -> int:
    """The first of ``found`` after the cell that comes before ``name`` in the release."""
    at = info.order.index(name)
    before = info.order[at - 1] if at > 0 else None
    if before in chosen:
        anchor = chosen[before]
    else:
        anchor = next((i for i, claim in enumerate(claims) if claim == before), -1)
    return next((i for i in found if i > anchor), found[0])


def _what_changed(name: str, cell, claim, body, info: _Cells, max_score) -> list[str]:
    notes = []
    if claim != name:
        if claim is None:
            notes.append(f"test cell {name} had lost its nbgrader metadata: restored")
        elif claim in info.sources:
            notes.append(f"test cell {name} was re-labelled as {claim}: restored")
        else:
            notes.append(f"test cell {name} was re-labelled as {quoted(claim)}, an id this "
                         "assignment does not have: restored")
    if body is None:
        notes.append(f"test cell {name} was edited: restored")
    if claim == name:
        points = cell.metadata["nbgrader"].get("points")
        try:
            same = float(points) == float(max_score)
        except (TypeError, ValueError):
            same = False
        if not same:
            shown = (f"{points:g}" if isinstance(points, int | float)
                     and not isinstance(points, bool) else quoted(points))
            notes.append(f"test cell {name} had its points changed from {max_score:g} to "
                         f"{shown}: restored")
    wanted = info.sources[name].cell_type
    if cell.cell_type != wanted:
        notes.append(f"test cell {name} was changed from a {wanted} cell to a "
                     f"{cell.cell_type} cell: restored")
    return notes


def _set_type(cell, kind: str) -> None:
    """Make ``cell`` a ``kind`` cell (its type as released; nbgrader restores it too, but
    its metadata schema, checked at staging, rejects a test cell of the wrong type)."""
    if cell.cell_type == kind:
        return
    for key in ("outputs", "execution_count", "attachments"):
        cell.pop(key, None)
    cell.cell_type = kind
    if kind == "code":
        cell.outputs, cell.execution_count = [], None


def _test_meta(name: str, info: _Cells) -> dict:
    """The nbgrader metadata of test cell ``name`` as released (or as in the gradebook)."""
    if info.meta.get(name):
        return copy.deepcopy(dict(info.meta[name]))
    source = info.sources[name]
    return {"cell_type": source.cell_type, "checksum": source.checksum, "grade": True,
            "grade_id": name, "locked": source.locked, "points": info.tests[name],
            "schema_version": 3, "solution": False, "task": False}


def _other_labels(cells, info: _Cells) -> list[str]:
    """Keep one cell per other grade_id (the last, as nbgrader does); drop unknown labels."""
    notes = []
    holders: dict[str, list[int]] = {}
    for i, cell in enumerate(cells):
        meta = cell.metadata.get("nbgrader")
        claim = _claim(cell)
        if meta is not None and claim is None:
            cell.metadata.pop("nbgrader")  # no grade_id: nbgrader would only choke on it
        elif claim is not None and claim not in info.tests:
            holders.setdefault(claim, []).append(i)
    for claim, where in holders.items():
        if claim not in info.sources:
            for i in where:
                cells[i].metadata.pop("nbgrader")
            notes.append(f"a cell labelled {quoted(claim)}, an id this assignment does not "
                         "have, was graded as an ordinary cell")
            continue
        if len(where) > 1:
            for i in where[:-1]:
                cells[i].metadata.pop("nbgrader")
            notes.append(f"cell {claim} appeared {len(where)} times: only the last one is used")
        if claim in info.meta:  # the student's copy of it is never trusted
            cells[where[-1]].metadata["nbgrader"] = nbformat.from_dict(
                copy.deepcopy(info.meta[claim]))
        else:  # no release to take it from: nbgrader's own schema decides
            from nbgrader.nbgraderformat import MetadataValidator

            MetadataValidator().validate_cell(cells[where[-1]])
    return notes


def _put_back(nb, name: str, info: _Cells) -> None:
    """Insert test cell ``name`` as nbgrader's add_missing_cells would: after the cell
    that comes before it in the release (its first labelled predecessor still there)."""
    from nbgrader.preprocessors import OverwriteCells

    cell = OverwriteCells().missing_cell_transform(info.sources[name], info.tests[name])
    cell["id"] = _free_id(nb, name)  # staged notebooks are nbformat 4.5: every cell has one
    at = {}
    for i, c in enumerate(nb.cells):
        at.setdefault(_claim(c), i)
    index = info.order.index(name)
    before = next((at[n] for n in reversed(info.order[:index]) if n in at), -1)
    nb.cells.insert(before + 1, nbformat.from_dict(cell))


def _free_id(nb, name: str) -> str:
    """A cell id (letters, digits, - and _) from ``name``, unused in ``nb``."""
    base = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "-"
                   for ch in f"restored-{name}")[:56]
    taken = {c.get("id") for c in nb.cells}
    n, candidate = 1, base
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate
