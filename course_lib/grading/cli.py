"""``nncourse``: the instructor's whole job, one command per step, built on nbgrader.

Run from the course folder (the one with nbgrader_config.py), or pass ``--course``::

    nncourse release [ASSIGNMENT ...]        # solutions/ -> notebooks/ (nbgrader generate_assignment)
    nncourse collect ASSIGNMENT SOURCE       # an LMS zip or a folder -> submitted/
    nncourse grade [ASSIGNMENT ...]          # autograde every submission, every core; report
                   [--student ID ...]        #   (or only these students')
    nncourse feedback ASSIGNMENT             # HTML feedback for each student -> feedback/
    nncourse export [--to grades.csv]        # every grade as CSV (nbgrader export)

``grade`` always writes each assignment's report (reports/<assignment>/), even when the
run stops half-way, and exits with 0 when every submission was graded or reported as
the student's own fault (malformed, timed out, ...), 1 when a notebook must be graded
again (its grading worker died, the run stopped, the gradebook could not be read), 2
when nothing could be graded (not released, no submissions, no sandbox), and 130 when
interrupted.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import traceback
from pathlib import Path

from .course import tools_on_path

__all__ = ["main"]


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
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    release = commands.add_parser("release", help="regenerate notebooks/ from solutions/")
    release.add_argument("assignments", nargs="*", help="default: every assignment")
    release.set_defaults(run=_release)

    collect = commands.add_parser("collect", help="put an LMS zip or folder into submitted/")
    collect.add_argument("assignment")
    collect.add_argument("source", type=Path, help="a .zip file or a folder of submissions")
    collect.add_argument("--overwrite", action="store_true",
                         help="replace submissions already collected (default: keep them)")
    collect.set_defaults(run=_collect)

    grade = commands.add_parser("grade", help="autograde every submission and report")
    grade.add_argument("assignments", nargs="*", help="default: every assignment")
    grade.add_argument("--student", action="append", default=None, metavar="ID",
                       help="grade only this student's submissions (repeat for several)")
    grade.add_argument("--workers", type=int, default=None, help="default: every core")
    grade.add_argument("--no-progress", action="store_true", help="no progress bar")
    grade.add_argument("--no-sandbox", action="store_true",
                       help="run student code without the sandbox, with your rights "
                            "(only where bubblewrap cannot run, and only for trusted notebooks)")
    grade.add_argument("--reports", type=Path, default=Path("reports"),
                       help="where to save each assignment's report (default: reports/)")
    grade.set_defaults(run=_grade)

    feedback = commands.add_parser("feedback", help="HTML feedback for every graded student")
    feedback.add_argument("assignment")
    feedback.set_defaults(run=_feedback)

    export = commands.add_parser("export", help="every grade as CSV")
    export.add_argument("--to", default="grades.csv", help="the CSV file (default: grades.csv)")
    export.set_defaults(run=_export)
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
    from .course import load_api

    api = load_api(args.course)
    status = 0
    for assignment in _assignments(args.course, args.assignments):
        result = api.generate_assignment(assignment, force=True, create=True)
        print(f"{assignment}: {'released' if result['success'] else 'FAILED'}")
        if not result["success"]:
            print(result.get("error") or result.get("log"), file=sys.stderr)
            status = 1
    return status


def _collect(args) -> int:
    from .collect import CollectError, collect

    try:
        report = collect(args.course, args.assignment, args.source, overwrite=args.overwrite)
    except CollectError as exc:  # nothing was written: say why
        print(f"nncourse collect: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    return 1 if report.skipped else 0  # a skipped student needs the instructor's decision


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
        print("nncourse: no submissions under submitted/ to grade", file=sys.stderr)
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
              students=args.student, results=results)
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
    from .course import load_api

    result = load_api(args.course).generate_feedback(args.assignment)
    print(f"{args.assignment}: feedback {'written to feedback/' if result['success'] else 'FAILED'}")
    if not result["success"]:
        print(result.get("error") or result.get("log"), file=sys.stderr)
    return 0 if result["success"] else 1


def _export(args) -> int:
    # nbgrader's own exporter (its CSV plugin), as `nbgrader export` runs it
    done = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to", args.to],
                          cwd=args.course)
    if done.returncode == 0:
        print(f"grades written to {args.to}")
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
