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
- nbgrader's ``timestamp.txt`` is kept; every other file is left out, since a file
  such as ``numpy.py`` beside the notebook would shadow the real package while grading.

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
left to nbgrader's ``OverwriteCells``.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

__all__ = ["DEFAULT_MAX_BYTES", "Intake", "stage"]

#: Files larger than this are never read nor staged.
DEFAULT_MAX_BYTES = 20 * 2**20

#: nbgrader's timestamp.txt holds one date: anything longer is not nbgrader's.
_MAX_TIMESTAMP_BYTES = 1024


@dataclass
class Intake:
    """What staging one student's submission of one assignment did."""

    assignment: str
    student: str
    staged: bool = False  # at least one notebook staged: grade it
    notes: list[str] = field(default_factory=list)  # plain-words lines, in a stable order


def stage(course_root: Path, assignment: str, student: str, staging_root: Path,
          max_bytes: int = DEFAULT_MAX_BYTES) -> Intake:
    """Copy submitted/<student>/<assignment>/ to staging_root/<student>/<assignment>/, checked and fixed.

    Parameters
    ----------
    course_root : Path
        The course folder (nbgrader_config.py, submitted/, gradebook.db, the release).
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
        is removed again, so that nbgrader does not grade an empty submission.

    Raises
    ------
    FileExistsError
        If staging_root/<student>/<assignment> already exists: a staged folder is never
        overwritten.
    """
    for name in (assignment, student):
        if not name or name in {".", ".."} or "/" in name or "\\" in name or "\x00" in name:
            raise ValueError(f"{name!r} is not a plain folder name")
    course_root = Path(course_root)
    intake = Intake(assignment, student)
    target = Path(staging_root) / student / assignment
    target.parent.mkdir(parents=True, exist_ok=True)
    target.mkdir()  # raises FileExistsError: never stage over an earlier staging

    source = course_root / "submitted" / student / assignment
    if source.is_symlink() or (source.parent.is_symlink()):
        intake.notes.append("the submission folder is a link: links are never followed, "
                            "not graded")
    elif not source.is_dir():
        intake.notes.append("no submission folder: not graded")
    else:
        _stage_folder(course_root, source, target, intake, max_bytes)
    if not intake.staged:
        shutil.rmtree(target)
    return intake


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


def _stage_folder(course_root: Path, source: Path, target: Path, intake: Intake,
                  max_bytes: int) -> None:
    from nbgrader.api import Gradebook

    from .pipeline import load_api

    api = load_api(course_root)
    entries = {e.rel: e for e in _entries(source)}
    used: set[str] = set()
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        names = [nb.name for nb in gb.find_assignment(intake.assignment).notebooks]
        for name in names:
            source_nb = gb.find_notebook(name, intake.assignment)
            known = {cell.name for cell in source_nb.source_cells}
            chosen = _choose_notebook(name, names, entries, used, intake, max_bytes, known)
            if chosen is None:
                continue
            nb, rel = chosen
            used.add(rel)
            release = _release_notebook(api, intake.assignment, name)
            intake.notes += _fix_kernel(nb, source_nb, release)
            intake.notes += _fix_cells(nb, source_nb, release)
            nbformat.write(nb, target / f"{name}.ipynb")
            intake.staged = True
    stamp = entries.get("timestamp.txt")
    if stamp and stamp.regular and stamp.size <= _MAX_TIMESTAMP_BYTES:
        shutil.copyfile(stamp.path, target / "timestamp.txt", follow_symlinks=False)
        used.add(stamp.rel)
    intake.notes += _other_files([e for rel, e in entries.items() if rel not in used],
                                 names, max_bytes)


def _release_notebook(api, assignment: str, name: str):
    """The release notebook students started from, or None if it cannot be read."""
    path = Path(api.coursedir.format_path(api.coursedir.release_directory, ".", assignment),
                f"{name}.ipynb")
    try:
        return nbformat.read(path, as_version=4)
    except (OSError, ValueError):
        return None


def _other_files(left: list[_Entry], names: list[str], max_bytes: int) -> list[str]:
    """Lines for the files that were not staged (besides the expected notebooks' own lines)."""
    expected = {f"{name}.ipynb" for name in names}
    left = [e for e in left if e.rel not in expected]  # the notebook's own line says why
    notes = []
    if left:
        n = len(left)
        notes.append(f"{n} other file{'s' if n > 1 else ''} beside the notebook "
                     f"{'were' if n > 1 else 'was'} not used for grading")
    for entry in left:
        if entry.link:
            notes.append(f"'{entry.rel}' is a link: links are never followed, not used")
        elif entry.regular and entry.size > max_bytes:
            notes.append(f"file '{entry.rel}' too large ({_mib(entry.size)}, "
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
            intake.notes.append(f"notebook '{name}.ipynb' is a link: links are never "
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
            problems.append(f"notebook '{entry.rel}' {problem}")
        else:
            readable.append((nb, entry.rel))
    if not readable:
        if len(problems) == 1:  # the student's only notebook, under another name
            intake.notes.append(f"{problems[0]}: not graded")
        else:
            intake.notes.append(f"notebook '{name}.ipynb' is missing: not graded")
        return None
    if len(readable) > 1:
        readable = _most_overlap(readable, known, name, intake)
        if readable is None:
            return None
    nb, rel = readable[0]
    intake.notes.append(f"notebook '{rel}' graded as '{name}.ipynb' (renamed)")
    return nb, rel


def _read_notebook(entry: _Entry, max_bytes: int):
    """(notebook, None) if ``entry`` is a readable notebook, else (None, what is wrong)."""
    if entry.size > max_bytes:  # checked before reading a single byte
        return None, (f"too large ({_mib(entry.size)}, limit {_mib(max_bytes, whole=True)})")
    with entry.path.open("rb") as f:
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
    _unique_cell_ids(data["cells"])
    try:  # nbformat reads JSON only: never eval or pickle
        nb = nbformat.reads(json.dumps(data), as_version=4)
    except Exception:  # nbformat's own view of a malformed notebook
        return None, "unreadable (not a Jupyter notebook)"
    return nb, None


def _not_a_notebook(data) -> str | None:
    """Why parsed JSON is not a notebook that nbgrader can grade, or None."""
    if not isinstance(data, dict) or not isinstance(data.get("nbformat"), int):
        return "not a Jupyter notebook"
    if data["nbformat"] < 4:
        return f"not a Jupyter notebook: format {data['nbformat']}, version 4 or later is needed"
    cells = data.get("cells")
    if not isinstance(cells, list) or not isinstance(data.get("metadata"), dict):
        return "not a Jupyter notebook"
    for cell in cells:
        if (not isinstance(cell, dict) or cell.get("cell_type") not in {"code", "markdown", "raw"}
                or not isinstance(cell.get("source"), str | list)
                or not isinstance(cell.get("metadata", {}), dict)):
            return "not a Jupyter notebook"
    return None


def _most_overlap(readable: list, known: set, name: str, intake: Intake):
    """The candidate sharing most grade_ids with the assignment, if one stands out."""
    scored = [(len(known & {_claim(c) for c in nb.cells}), nb, rel) for nb, rel in readable]
    best = max(score for score, _, _ in scored)
    top = [(nb, rel) for score, nb, rel in scored if score == best]
    if len(top) > 1:
        shown = ", ".join(f"'{rel}'" for _, rel in top)
        intake.notes.append(f"notebook '{name}.ipynb' is missing and {len(top)} other "
                            f"notebooks ({shown}) fit it equally well: none graded")
        return None
    return top


# --- the kernel ------------------------------------------------------------------------

def _fix_kernel(nb, source_nb, release) -> list[str]:
    """Give ``nb`` the source notebook's kernel; a line if the student's was another one."""
    # the gradebook keeps the source notebook's kernelspec: the one nbgrader itself restores
    kernelspec = json.loads(source_nb.kernelspec) if source_nb.kernelspec else None
    if not kernelspec and release is not None:
        kernelspec = release.metadata.get("kernelspec")
    if not kernelspec:
        return []
    theirs = nb.metadata.get("kernelspec")
    old = theirs.get("name") if isinstance(theirs, dict) else None
    nb.metadata["kernelspec"] = nbformat.from_dict(copy.deepcopy(dict(kernelspec)))
    if old is not None and old != kernelspec.get("name"):
        return [f"kernel '{old}' replaced by '{kernelspec.get('name')}'"]
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


@dataclass
class _Cells:
    """What the gradebook and the release say about one notebook's cells."""

    order: list[str]  # every grade_id, in the release's order
    sources: dict  # grade_id -> the gradebook's SourceCell
    tests: dict  # test cell grade_id -> its maximum score, in order
    meta: dict  # test cell grade_id -> its nbgrader metadata in the release
    body_of: dict  # a test cell's source (gradebook or release, stripped) -> its grade_id


def _cells_of(source_nb, release) -> _Cells:
    sources = {cell.name: cell for cell in source_nb.source_cells}
    released = {_claim(c): c for c in release.cells if _claim(c)} if release is not None else {}
    order = [n for n in released if n in sources] + [n for n in sources if n not in released]
    solutions = {cell.name for cell in source_nb.solution_cells}
    scores = {cell.name: cell.max_score for cell in source_nb.grade_cells}
    tests = {n: scores[n] for n in order if n in scores and n not in solutions}
    meta, body_of = {}, {}
    for name in tests:
        if name in released:
            meta[name] = copy.deepcopy(released[name].metadata.get("nbgrader"))
        # a release withholds hidden tests: its source differs from the gradebook's
        for text in (sources[name].source, released[name].source if name in released else ""):
            if _text(text):
                body_of.setdefault(_text(text), name)
    return _Cells(order, sources, tests, meta, body_of)


def _fix_cells(nb, source_nb, release) -> list[str]:
    """Make exactly one cell carry each test cell's grade_id; lines for what was wrong."""
    info = _cells_of(source_nb, release)
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
    notes += _other_labels(cells, info)
    for name in info.tests:
        if name not in chosen:
            _put_back(nb, name, info)
            notes.append(f"test cell {name} was missing: restored from the gradebook")
    return notes


def _unique_cell_ids(cells) -> None:
    """Give a copied cell an id of its own (nbformat would pick a random one)."""
    seen = set()
    for cell in cells:
        if "id" not in cell:
            continue
        base, n = cell["id"], 1
        while cell["id"] in seen:
            n += 1
            cell["id"] = f"{base[:56]}-{n}"
        seen.add(cell["id"])


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
            notes.append(f"test cell {name} was re-labelled as '{claim}', an id this "
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
            notes.append(f"test cell {name} had its points changed from {max_score:g} to "
                         f"{points}: restored")
    wanted = info.sources[name].cell_type
    if cell.cell_type != wanted:
        notes.append(f"test cell {name} was changed from a {wanted} cell to a "
                     f"{cell.cell_type} cell: restored")
    return notes


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
            notes.append(f"a cell labelled '{claim}', an id this assignment does not have, "
                         "was graded as an ordinary cell")
        elif len(where) > 1:
            for i in where[:-1]:
                cells[i].metadata.pop("nbgrader")
            notes.append(f"cell {claim} appeared {len(where)} times: only the last one is used")
    return notes


def _put_back(nb, name: str, info: _Cells) -> None:
    """Insert test cell ``name`` as nbgrader's add_missing_cells would: after the cell
    that comes before it in the release (its first labelled predecessor still there)."""
    from nbgrader.preprocessors import OverwriteCells

    cell = OverwriteCells().missing_cell_transform(info.sources[name], info.tests[name])
    if nb.get("nbformat_minor", 0) >= 5:  # cell ids exist from format 4.5 on
        cell["id"] = _free_id(nb, name)
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
