"""``nncourse``: the instructor's whole job, one command per step, built on nbgrader.

Run from the course folder (the one with nbgrader_config.py), or pass ``--course``
(before or after the command)::

    nncourse release [ASSIGNMENT ...]        # solutions/ -> notebooks/ (nbgrader generate_assignment)
    nncourse due ASSIGNMENT [DATE|none]      # set, remove or show the due date
    nncourse collect ASSIGNMENT SOURCE       # an LMS zip or a folder -> submitted/
                     [--roster CSV]          #   with the class list: names, and who sent nothing
    nncourse grade [ASSIGNMENT ...]          # autograde what is new or changed, every core; report
                   [--all | --student ID]    #   (or everyone again, or exactly these students)
    nncourse feedback ASSIGNMENT             # HTML feedback for each student -> feedback/
    nncourse export [--to grades.csv]        # every grade as CSV (nbgrader export)

A failure says its cause in one line and the command that fixes it; nbgrader's whole
log of a failed step is saved in .nncourse/logs/. ``release`` generates into a folder
of its own and replaces the old release only when nbgrader succeeded.

``collect`` exits with 0 when every student was collected, 1 when one needs the
instructor's decision, 2 when nothing could be collected (an empty or damaged zip, no
notebook). ``grade`` always writes each assignment's report (reports/<assignment>/),
even when the run stops half-way, and exits with 0 when every submission was graded or
reported as the student's own fault (malformed, timed out, ...), 1 when a notebook must
be graded again (its grading worker died, the run stopped, the gradebook could not be
read), 2 when nothing could be graded (not released, no submissions, no sandbox), and
130 when interrupted.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import traceback
from datetime import datetime, timezone
from pathlib import Path

from .course import tools_on_path

__all__ = ["main"]

#: Where ``release`` generates an assignment before it replaces the old release.
RELEASING = Path(".nncourse") / "releasing"

#: Where a failed nbgrader step's whole log is saved.
LOGS = Path(".nncourse") / "logs"


def main(argv=None) -> int:
    """Entry point of the ``nncourse`` console script; returns the exit status."""
    tools_on_path()  # nbgrader runs `alembic` by name: this environment's, activated or not
    args = _parser().parse_args(argv)
    args.course = Path(args.course).resolve()
    if not (args.course / "nbgrader_config.py").exists():
        print(f"nncourse: {args.course} has no nbgrader_config.py: run it from the course "
              f"folder or pass --course", file=sys.stderr)
        return 2
    return args.run(args)


def _parser():
    parser = argparse.ArgumentParser(prog="nncourse", description=__doc__.splitlines()[0])
    parser.add_argument("--course", default=".", help="the course folder (default: here)")
    # --course may also follow the command: `nncourse grade --course ~/nn 01_activations`
    anywhere = argparse.ArgumentParser(add_help=False)
    anywhere.add_argument("--course", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, run, help: str):
        sub = commands.add_parser(name, parents=[anywhere], help=help)
        sub.set_defaults(run=run)
        return sub

    release = command("release", _release, "regenerate notebooks/ from solutions/")
    release.add_argument("assignments", nargs="*", help="default: every assignment")

    collect = command("collect", _collect, "put an LMS zip or folder into submitted/")
    collect.add_argument("assignment")
    collect.add_argument("source", type=Path, help="a .zip file or a folder of submissions")
    collect.add_argument("--overwrite", action="store_true",
                         help="replace submissions already collected (default: keep them)")
    collect.add_argument("--roster", type=Path, default=None,
                         help="the class list exported from Canvas or Moodle (CSV): names "
                              "for every id, and every student listed in the report")

    due = command("due", _due, "set (or show) an assignment's due date")
    due.add_argument("assignment")
    due.add_argument("date", nargs="?", default=None,
                     help='"YYYY-MM-DD HH:MM" in UTC (or with an offset: "... +01:00"); '
                          '"none" removes it; without it, the due date is shown')

    grade = command("grade", _grade, "autograde the new and changed submissions, and report")
    grade.add_argument("assignments", nargs="*", help="default: every assignment")
    grade.add_argument("--student", action="append", default=None, metavar="ID",
                       help="grade only this student's submissions (repeat for several)")
    grade.add_argument("--all", action="store_true", dest="regrade_all",
                       help="grade every submission again, changed or not")
    grade.add_argument("--workers", type=int, default=None, help="default: every core")
    grade.add_argument("--no-progress", action="store_true", help="no progress bar")
    grade.add_argument("--no-sandbox", action="store_true",
                       help="run student code without the sandbox, with your rights "
                            "(only where bubblewrap cannot run, and only for trusted notebooks)")
    grade.add_argument("--reports", type=Path, default=Path("reports"),
                       help="where to save each assignment's report (default: reports/)")

    feedback = command("feedback", _feedback, "HTML feedback for every graded student")
    feedback.add_argument("assignment")

    export = command("export", _export, "every grade as CSV")
    export.add_argument("--to", default="grades.csv", help="the CSV file (default: grades.csv)")
    return parser


def _assignments(course: Path, names) -> list[str]:
    known = sorted(p.name for p in (course / "solutions").iterdir() if p.is_dir()
                   and not p.name.startswith("."))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"nncourse: no assignment {', '.join(unknown)} in solutions/; "
                         f"the assignments are {', '.join(known)}")
    return list(names) or known


def _release(args) -> int:
    status = 0
    for assignment in _assignments(args.course, args.assignments):
        status = max(status, _release_one(args.course, assignment))
    return status


def _release_one(root: Path, assignment: str) -> int:
    """Generate ``assignment``'s release into a folder of its own, and put it in place of
    the old one only once nbgrader succeeded: a failure leaves the old release as it was.
    A test cell the grader could not grade stops it before anything is generated."""
    from .course import Course

    refused = _ungradable_tests(root / "solutions" / assignment)
    if refused:  # before nbgrader: every student would score 0 on these cells
        print(f"{assignment}: FAILED: {refused[0]}" + "".join(f"\n  {r}" for r in refused[1:])
              + f"\n  the old release was left as it was; fix the test cells in solutions/"
              f"{assignment}/ and run `nncourse release {assignment}` again", file=sys.stderr)
        return 1
    course = Course(root)
    final = course.folder("release", ".", assignment)
    work = root / RELEASING
    shutil.rmtree(work, ignore_errors=True)  # what a release that was stopped left behind
    course.coursedir.release_directory = str(RELEASING / "new")
    try:
        result = course.api.generate_assignment(assignment, force=True, create=True)
        built = course.folder("release", ".", assignment)
        if not result["success"] or not built.is_dir():
            log = _save_log(root, f"release-{assignment}", result)
            print(f"{assignment}: FAILED: {_cause(result)}\n  {_shown(final, root)} was left as "
                  f"it was; nbgrader's whole log: {_shown(log, root)}\n  fix solutions/"
                  f"{assignment}/ and run `nncourse release {assignment}` again", file=sys.stderr)
            return 1
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            os.replace(final, work / "old")
        try:
            os.replace(built, final)
        except OSError:
            if (work / "old").exists():
                os.replace(work / "old", final)
            raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{assignment}: released to {_shown(final, root)}")
    return 0


def _ungradable_tests(source: Path) -> list[str]:
    """One line for each test cell of ``source``'s notebooks that the grader could not
    grade (:func:`~course_lib.grading.judge.unplannable`), naming the cell and why."""
    import nbformat

    from .judge import unplannable

    lines = []
    for path in sorted(source.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
                continue
            why = unplannable(cell.source)
            if why:
                lines.append(f"the test cell {meta.get('grade_id')} of {path.name} cannot be "
                             f"graded: {why}")
    return lines


def _save_log(root: Path, name: str, result: dict) -> Path:
    """Save what nbgrader logged (and its traceback) for a failed step; return the file."""
    path = root / LOGS / f"{name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text((result.get("log") or "") + "\n" + (result.get("error") or ""),
                    encoding="utf-8")
    return path


def _cause(result: dict) -> str:
    """The one line that says why an nbgrader step failed: the first error it logged (the
    root cause; what follows restates it, down to "Please see the above traceback")."""
    text = (result.get("log") or "") + "\n" + (result.get("error") or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    named = [line for line in lines if re.match(r"[\w.]*(Error|Exception)\b:", line)
             and "NbGraderException" not in line]
    return (named or lines[-1:] or ["no details"])[0]


def _collect(args) -> int:
    from .collect import CollectError, collect

    try:
        report = collect(args.course, args.assignment, args.source, overwrite=args.overwrite,
                         roster=args.roster)
    except CollectError as exc:  # nothing was collected: say why
        print(f"nncourse collect: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    return report.status()  # 1 when a student needs the instructor's decision


def _due(args) -> int:
    from .course import Course

    (assignment,) = _assignments(args.course, [args.assignment])
    course = Course(args.course)
    if args.date is None:
        if assignment in course.released():
            with course.gradebook() as gb:
                due = gb.find_assignment(assignment).duedate
            print(f"{assignment}: due {_utc(due) if due else 'no due date'}")
        else:
            print(f"{assignment}: not released yet (nncourse release {assignment}), no due date")
        return 0
    if assignment not in course.released():
        print(f"nncourse due: {assignment} is not released yet: run `nncourse release "
              f"{assignment}` first", file=sys.stderr)
        return 2
    if args.date.lower() == "none":
        due = None
    else:
        try:
            due = datetime.fromisoformat(args.date.strip())
            if due.tzinfo is not None:  # nbgrader keeps due dates and timestamps in UTC
                due = due.astimezone(timezone.utc).replace(tzinfo=None)
        except (ValueError, OverflowError):
            print(f"nncourse due: {args.date!r} is not a date nbgrader can keep; write it as "
                  '"2026-12-01 23:59" (UTC) or "2026-12-01 23:59 +01:00"', file=sys.stderr)
            return 2
    with course.gradebook() as gb:
        gb.update_or_create_assignment(assignment, duedate=due)
    print(f"{assignment}: due {_utc(due) if due else 'no due date'}")
    method = course.config.LateSubmissionPlugin.get("penalty_method", "none")
    print(f"late penalty: {_PENALTIES.get(method, method)} "
          "(c.LateSubmissionPlugin.penalty_method in nbgrader_config.py). A submission is late "
          "when its timestamp.txt (written by nbgrader's exchange) is after the due date; "
          f"grades already given change when graded again: nncourse grade {assignment} --all")
    return 0


_PENALTIES = {"none": "none, late submissions keep their score ('none')",
              "zero": "a late submission scores 0 ('zero')"}


def _utc(when: datetime) -> str:
    return f"{when:%Y-%m-%d %H:%M} UTC"


def _grade(args) -> int:
    from .course import Course
    from .pipeline import grade, submissions

    course = Course(args.course, sandbox=not args.no_sandbox)
    assignments = _assignments(args.course, args.assignments)
    if not args.assignments:  # every assignment that has submissions
        assignments = [a for a in assignments if submissions(course, a)]
    released = course.released()
    unreleased = [a for a in assignments if a not in released]
    if unreleased:
        print(f"nncourse: {', '.join(unreleased)} not in the gradebook yet: run "
              f"`nncourse release {' '.join(unreleased)}` first", file=sys.stderr)
        return 2
    if not assignments:
        print("nncourse: no submissions under submitted/ to grade: collect them first "
              "(nncourse collect ASSIGNMENT ZIP)", file=sys.stderr)
        return 2
    empty = [a for a in assignments if not submissions(course, a)]
    if empty:
        print(f"nncourse: no submissions of {', '.join(empty)} under submitted/: collect them "
              f"first (nncourse collect {empty[0]} ZIP)", file=sys.stderr)
        return 2
    if args.student:
        missing = [s for s in args.student
                   if not any(s in submissions(course, a) for a in assignments)]
        if missing:
            print(f"nncourse: no submission from {', '.join(missing)} of "
                  f"{', '.join(assignments)} under submitted/", file=sys.stderr)
            return 2
    if not args.no_sandbox:
        from .sandbox import SandboxUnavailable, check_available

        try:
            check_available()
        except SandboxUnavailable as exc:
            print(f"nncourse: {exc}\n(--no-sandbox grades without it, running student code "
                  f"with your rights.)", file=sys.stderr)
            return 2
    results, stopped, status = [], None, 0
    try:
        grade(course, assignments, workers=args.workers, progress=not args.no_progress,
              students=args.student, results=results, regrade_all=args.regrade_all)
    except KeyboardInterrupt:
        stopped, status = "the run was interrupted", 130
    except Exception as error:  # the grader's own failure: still report what is known
        traceback.print_exc()
        stopped, status = f"the run stopped with an error ({type(error).__name__})", 1
    if stopped:
        results += _unfinished(course, assignments, args.student, results, stopped)
    return max(status, _report(args, course, assignments, results, stopped))


def _unfinished(course, assignments, students, results, stopped: str) -> list:
    """A GradeJob saying "not graded" for every submission the stopped run did not grade."""
    from .pipeline import not_graded, submissions

    known = {(job.assignment, job.student) for job in results}
    return [not_graded(a, s, f"not graded: {stopped} before this notebook was graded; grade "
                             f"it again with `nncourse grade {a}`")
            for a in assignments for s in submissions(course, a)
            if (a, s) not in known and (students is None or s in students)]


def _report(args, course, assignments, results, stopped) -> int:
    """Write every assignment's report, whatever happened; the exit status it calls for."""
    from .report import build_report, format_report, quoted, report_from_jobs, save_report

    status = 0
    for assignment in assignments:
        try:
            report = build_report(course, assignment, results)
        except Exception as error:
            traceback.print_exc()
            report = report_from_jobs(assignment, results, (
                f"the gradebook could not be read ({type(error).__name__}: "
                f"{quoted(str(error))}): the scores are missing, only the notes are known"))
            status = 1
        if stopped:
            report.problems.append(f"{stopped}: the submissions marked 'not graded' were not "
                                   "graded")
        print(format_report(report))
        folder = args.reports if args.reports.is_absolute() else args.course / args.reports
        paths = save_report(report, folder / assignment)
        print(f"saved: {', '.join(_shown(p, args.course) for p in paths)}\n")
    lost = [job for job in results if job.needs_regrade]
    if lost:
        n = len(lost)
        print(f"nncourse: {n} notebook{'s' * (n != 1)} could not be graded because grading "
              "itself failed (see the '!' lines in the report); grade "
              f"{'them' if n != 1 else 'it'} again", file=sys.stderr)
        status = max(status, 1)
    return status


def _shown(path: Path, course: Path) -> str:
    return str(path.relative_to(course)) if path.is_relative_to(course) else str(path)


def _feedback(args) -> int:
    from .course import Course
    from .feedback import for_the_lms, generate_feedback

    (assignment,) = _assignments(args.course, [args.assignment])
    course = Course(args.course)
    autograded = Path(course.coursedir.root, course.coursedir.autograded_directory)
    graded = sorted(autograded.glob(f"*/{assignment}"))
    if assignment not in course.released() or not graded:
        print(f"nncourse feedback: nothing of {assignment} is graded yet: run "
              f"`nncourse grade {assignment}` first", file=sys.stderr)
        return 2
    result = generate_feedback(course, assignment)
    if not result["success"]:
        log = _save_log(args.course, f"feedback-{assignment}", result)
        print(f"{assignment}: feedback FAILED: {_cause(result)}\n  nbgrader's whole log: "
              f"{_shown(log, args.course)}", file=sys.stderr)
        return 1
    folder = Path(course.coursedir.root, course.coursedir.feedback_directory)
    print(f"{assignment}: feedback for {len(graded)} student{'s' * (len(graded) != 1)} "
          f"written to {_shown(folder, args.course)}/<student>/{assignment}/")
    packed = for_the_lms(course, assignment)
    if packed:
        path, n = packed
        print(f"  and {n} of them named as the LMS named the downloads, for its bulk upload "
              f"(Moodle: upload multiple feedback files in a zip; Canvas: re-upload "
              f"submissions): {_shown(path, args.course)}")
    return 0


def _export(args) -> int:
    from .report import export_grades

    # named from where nncourse was called, like every other path given to it
    to = Path(args.to).resolve()
    n = export_grades(args.course, to)
    print(f"{n} grade{'s' * (n != 1)} (every student, every assignment) written to {to}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
