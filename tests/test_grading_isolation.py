"""One student cannot stop the class, nor write its report: `nncourse grade` end to end.

A class of 01_activations, graded once through ``nncourse grade`` (cli.main):

- alice sends full answers and bob the untouched release: 26 and 0, whoever sits
  beside them;
- carl's notebook has a cell id that is a number (it crashed staging for the whole
  class before): fixed while staging, graded, full marks;
- three malformed notebooks (cell metadata a list, source a number, cells not a
  list): each gets its report line and 0, and no one else is affected;
- faye forges report rows: her only notebook is named ``x\\nalice  2 2 ... 26.ipynb``
  and a cell raises an exception named like the grader's own tampering event whose
  message holds a newline and a fake row; a student folder is named like a row too.
  report.txt keeps exactly one row per student; the forged text appears only
  inside quotes;
- two students' grading workers die (``os._exit`` and SIGKILL, as the kernel OOM
  killer would do): only they are not graded, each with a line saying so and the
  command that grades them again; kirk, whose notebook the other worker was grading
  when kim's died, is graded again on his own and keeps full marks; the exit status
  is 1 (the instructor must act), and the report is written.

The dying workers are test-only: a sitecustomize.py on the PYTHONPATH of the spawned
workers wraps the pipeline's per-job function when (and only when) a worker imports
it. Nothing in the grader reads a hook a student could set.

Two further tests make the run itself fail (grade() raises half-way; the gradebook
cannot be read) and check that the report is still written, saying what is missing.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import tempfile
import textwrap
from pathlib import Path

import nbformat
import pytest
from course_tools import course_with_answers, points, submit

import course_lib.grading.pipeline as pipeline
import course_lib.grading.report as report_module
from course_lib.grading.cli import main

FOLDER, NAME = "01_activations", "activations"


def _stop_fork_server():
    """Stop this process's fork server (pipeline._worker_context), so that the next grading
    starts a new one, with the environment and the hooks of that moment."""
    from multiprocessing import forkserver

    forkserver._forkserver._stop()  # the standard library's own tests stop it so
FULL = points(FOLDER, NAME)  # every autograded point of the notebook
FORGED = "alice  2 2 3 2 2 2 3 2 2 2 4  26"  # a row, as report.txt writes one
ROW_NAME = f"weird\n{FORGED}"

#: The test-only hook: the fork server of the grading workers reads it at start-up
#: (sitecustomize), and it acts only when a worker imports the pipeline, never in a kernel.
HOOK = textwrap.dedent('''
    import importlib.abc, importlib.machinery, json, os, signal, sys

    KILL = json.loads(os.environ.get("NNCOURSE_TEST_KILL", "{}"))

    def _killing(autograde):
        def wrapper(assignment, student, **kwargs):
            how = KILL.get(student)
            if how == "exit":  # after a while: the other worker is grading a neighbour
                import time
                time.sleep(3)
                os._exit(7)
            if how == "sigkill":
                os.kill(os.getpid(), signal.SIGKILL)
            return autograde(assignment, student, **kwargs)
        return wrapper

    class _Hook(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name != "course_lib.grading.pipeline":
                return None
            sys.meta_path.remove(self)
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            run = spec.loader.exec_module

            def exec_module(module):
                run(module)
                start = module._start_worker

                def _start_worker(*args):  # the worker's nbgrader API dies on these students
                    start(*args)
                    api = module._COURSE.api
                    api.autograde = _killing(api.autograde)

                module._start_worker = _start_worker

            spec.loader.exec_module = exec_module
            return spec

    if KILL:
        sys.meta_path.insert(0, _Hook())
''')


def _raw(nb) -> dict:
    return json.loads(nbformat.writes(nb))


def _write(course, student, name, data: dict | bytes):
    path = course / "submitted" / student / FOLDER / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())


def _tree(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.rglob("*") if p.is_file()}


def _grader_folders() -> set:
    """The run folders of nncourse grade (where each kernel's control_dir is made): a
    grading process that died leaves its own behind, the run removes them all."""
    return set(Path(tempfile.gettempdir()).glob("nncourse-*"))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course, release, full = course_with_answers(tmp_path_factory.mktemp("isolation"),
                                                FOLDER, NAME)
    submit(course, "alice", FOLDER, NAME, full)
    submit(course, "bob", FOLDER, NAME, release)
    carl = _raw(full)
    carl["cells"][3]["id"] = 12345
    _write(course, "carl", f"{NAME}.ipynb", carl)
    for student, change in {
        "mal-metadata": lambda nb: nb["cells"][4].update(metadata=[1, 2]),
        "mal-source": lambda nb: nb["cells"][4].update(source=42),
        "mal-cells": lambda nb: nb.update(cells={"0": {}}),
    }.items():
        data = _raw(full)
        change(data)
        _write(course, student, f"{NAME}.ipynb", data)
    faye = nbformat.from_dict(full)
    faye.cells.append(nbformat.v4.new_code_cell(
        "raise type('ReferenceCalled', (Exception,), {})(" + repr(f"x\n{FORGED}\n") + ")"))
    _write(course, "faye", f"x\n{FORGED}.ipynb", _raw(faye))
    submit(course, ROW_NAME, FOLDER, NAME, full)
    submit(course, "kim", FOLDER, NAME, full)
    submit(course, "kirk", FOLDER, NAME, full)  # graded beside kim when kim's worker dies
    submit(course, "lee", FOLDER, NAME, full)
    canary = course / "canary.txt"
    canary.write_text("the instructor's own file\n")
    before = _tree(course / "submitted"), _tree(course / "source"), canary.read_bytes(), \
        _grader_folders()

    hooks = tmp_path_factory.mktemp("hooks")
    (hooks / "sitecustomize.py").write_text(HOOK)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(hooks),
                                                               os.environ.get("PYTHONPATH")])))
        mp.setenv("NNCOURSE_TEST_KILL", json.dumps({"kim": "exit", "lee": "sigkill"}))
        # the grading workers fork from a server that a process starts once, with the
        # environment of that moment: a new one reads the hook, and none keeps it after
        _stop_fork_server()
        try:
            status = main(["--course", str(course), "grade", "--no-progress", "--workers", "2"])
        finally:
            _stop_fork_server()
    after = _tree(course / "submitted"), _tree(course / "source"), canary.read_bytes(), \
        _grader_folders()
    folder = course / "reports" / FOLDER
    with (folder / "scores.csv").open(encoding="utf-8") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    return course, status, rows, (folder / "report.txt").read_text(encoding="utf-8"), \
        before, after


def test_the_report_is_written_and_the_exit_status_asks_for_a_regrade(graded):
    course, status, rows, text, _, _ = graded
    folder = course / "reports" / FOLDER
    assert status == 1  # two notebooks must be graded again
    assert (folder / "scores.png").read_bytes().startswith(b"\x89PNG")
    assert text.startswith(f"{FOLDER}: 11 submissions, {FULL:g} autograded points and "
                           f"{points(FOLDER, NAME, written=True):g} for written answers graded "
                           "by hand\n")


def test_honest_neighbours_keep_their_scores(graded):
    _, _, rows, _, _, _ = graded
    assert float(rows["alice"]["total"]) == FULL and rows["alice"]["notes"] == ""
    assert float(rows["bob"]["total"]) == 0.0 and rows["bob"]["notes"] == ""


def test_a_cell_id_that_is_not_a_string_is_fixed_and_graded(graded):
    _, _, rows, _, _, _ = graded
    assert float(rows["carl"]["total"]) == FULL and rows["carl"]["notes"] == ""


@pytest.mark.parametrize(("student", "why"), [
    ("mal-metadata", "notebook malformed (cell 5's metadata is not a JSON object): not graded"),
    ("mal-source", "notebook malformed (cell 5's source is not text): not graded"),
    ("mal-cells", "notebook unreadable (not a Jupyter notebook: its cells are not a list): "
                  "not graded"),
])
def test_each_malformed_notebook_costs_only_its_student(graded, student, why):
    _, _, rows, text, _, _ = graded
    assert float(rows[student]["total"]) == 0.0
    assert rows[student]["notes"] == why
    assert f"{student} " in text and f"! {why}" in text


def test_a_dead_worker_costs_only_its_student(graded):
    """kim's worker calls os._exit, lee's is SIGKILLed: both reported, no one else lost."""
    _, _, rows, text, _, _ = graded
    for student in ("kim", "lee"):
        assert float(rows[student]["total"]) == 0.0
        assert rows[student]["notes"] == (
            "the grading worker died while grading this notebook (killed, out of memory, or "
            "crashed by it): not graded; check it, then grade it alone with "
            f"`nncourse grade {FOLDER} --student {student}`")
    graded_fully = [s for s, row in rows.items() if float(row["total"]) == FULL]
    assert sorted(graded_fully) == ["alice", "carl", "faye", "kirk"]


def test_forged_rows_stay_inside_quotes(graded):
    """One row per student in report.txt; the fake row of alice's only ever quoted."""
    _, _, rows, text, _, _ = graded
    table = text.split("\n\n")[1].splitlines()[2:]  # after the head and the dashes
    students = [line.split(" ")[0] for line in table if not line.startswith(" ")]
    assert sorted(students) == sorted(["alice", "bob", "carl", "faye", "kim", "kirk", "lee",
                                       "mal-cells", "mal-metadata", "mal-source",
                                       repr(ROW_NAME).split(" ")[0]])
    assert students.count("alice") == 1
    for line in text.splitlines():
        if FORGED in line:
            assert line.startswith(" ") or line.startswith("'weird\\n")
            assert f"\\n{FORGED}" in line  # the newline before it is shown escaped, in quotes
    assert float(rows["faye"]["total"]) == FULL
    assert (f"notebook {repr(chr(10).join(['x', FORGED]) + '.ipynb')} graded as "
            "'activations.ipynb' (renamed)") in rows["faye"]["notes"]
    assert repr(ROW_NAME) in rows  # the folder named like a row: one row, its name quoted
    assert "is not a plain student id" in rows[repr(ROW_NAME)]["notes"]
    assert all("\n" not in row["notes"] for row in rows.values())


def test_files_outside_the_sandbox_are_unchanged(graded):
    """submitted/, source/ and the instructor's canary are byte-identical after grading, and
    no grader folder is left in the temporary folder (two grading processes died)."""
    _, _, _, _, before, after = graded
    assert after == before


def test_the_report_is_written_when_grading_stops_half_way(graded, monkeypatch, capsys):
    """grade() records alice, then fails: the report says what is missing; exit 1."""
    course = graded[0]

    def failing(course_root, assignments, results=None, **kwargs):
        results.append(pipeline.GradeJob(FOLDER, "alice", True, "", "", 1.0))
        raise OSError("disk full")

    monkeypatch.setattr(pipeline, "grade", failing)
    reports = course / "reports-stopped"
    assert main(["--course", str(course), "grade", "--no-progress", "--no-sandbox",
                 "--reports", str(reports)]) == 1
    text = (reports / FOLDER / "report.txt").read_text()
    assert "INCOMPLETE: the run stopped with an error (OSError)" in text
    with (reports / FOLDER / "scores.csv").open() as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert float(rows["alice"]["total"]) == FULL
    assert "not graded: the run stopped with an error (OSError) before this notebook" in \
        rows["bob"]["notes"]
    assert float(rows["bob"]["total"]) == 0.0
    assert (reports / FOLDER / "scores.png").exists()
    assert "OSError: disk full" in capsys.readouterr().err


def test_the_report_is_written_when_the_gradebook_cannot_be_read(graded, monkeypatch):
    """build_report fails: report.txt and the CSV still list every student, and say why."""
    course = graded[0]

    def graded_nothing(course_root, assignments, results=None, **kwargs):
        results += [pipeline.GradeJob(FOLDER, s, True, "", "", 1.0) for s in ("alice", "bob")]

    def unreadable(*args, **kwargs):
        raise RuntimeError("database disk image is malformed")

    monkeypatch.setattr(pipeline, "grade", graded_nothing)
    monkeypatch.setattr(report_module, "build_report", unreadable)
    reports = course / "reports-nogradebook"
    assert main(["--course", str(course), "grade", "--no-progress", "--no-sandbox",
                 "--reports", str(reports)]) == 1
    text = (reports / FOLDER / "report.txt").read_text()
    assert "INCOMPLETE: the gradebook could not be read (RuntimeError: 'database disk image " \
           "is malformed')" in text
    assert "alice" in text and "bob" in text


def test_csv_text_cells_cannot_be_formulas(tmp_path):
    report = report_module.AssignmentReport("a", ["e"], {"e": 1.0}, {"s": {"e": 1.0}},
                                            {"s": ["=HYPERLINK(\"http://x\")", "+1"]})
    report_module.save_report(report, tmp_path)
    with (tmp_path / "scores.csv").open() as f:
        row = next(csv.DictReader(f))
    assert row["notes"] == "'=HYPERLINK(\"http://x\") | +1"
    assert report_module._cell("@SUM(A1)") == "'@SUM(A1)" and report_module._cell("-2") == "'-2"


def test_a_neighbour_in_flight_is_graded_even_when_the_killers_leave_no_trace(monkeypatch):
    """The rounds' logic alone (no processes): carl was being graded when a worker died;
    kim and lee then kill every worker before leaving a marker. carl is still graded,
    alone, and kim and lee are reported; every job gets exactly one outcome."""
    rounds = []

    def fake_round(course, jobs, workers, running, done):
        rounds.append((sorted(jobs), workers))
        if len(rounds) == 1:  # alice is graded, then a worker dies while carl is in flight
            done(pipeline.GradeJob(FOLDER, "alice", True, "", "", 1.0))
            return {(FOLDER, s) for s in ("carl", "kim", "lee")}, {(FOLDER, "carl")}
        if jobs == [(FOLDER, "carl")]:
            done(pipeline.GradeJob(FOLDER, "carl", True, "", "", 1.0))
            return set(), set()
        return set(jobs), set()  # kim and lee: no progress, no marker

    monkeypatch.setattr(pipeline, "_pool_round", fake_round)
    outcomes = []
    jobs = [(FOLDER, s) for s in ("alice", "carl", "kim", "lee")]
    pipeline._grade_staged(None, jobs, 2, None, outcomes.append)
    assert sorted((job.student, job.success) for job in outcomes) == [
        ("alice", True), ("carl", True), ("kim", False), ("lee", False)]
    assert rounds[-1] == ([(FOLDER, "carl")], 1)  # carl alone, last
    assert all("stopped before they could grade" in job.notes[0]
               for job in outcomes if not job.success)
