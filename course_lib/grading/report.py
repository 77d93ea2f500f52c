"""The grading report: per student and exercise, per exercise across the class.

Scores come from nbgrader's gradebook. Test cells are named ``<exercise>-visible`` and
``<exercise>-hidden``, so a cell's exercise is its grade_id up to the last dash.
Anything unusual in a submission's grading (a timeout, a dead kernel, an
unreadable notebook, a restored test cell) becomes one plain-words line.

Every line is the grader's own words. Whatever a student controls (an id, a file
name, an error message) appears :func:`quoted`: escaped, on one line, cut to a
sane length, so that nothing a student writes can add or forge a row. In the CSV,
a text cell that a spreadsheet would read as a formula (``=``, ``+``, ``-``, ``@``)
starts with a quote. A submission that was not graded in this run scores 0 here,
whatever an earlier run left in the gradebook.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["AssignmentReport", "build_report", "format_report", "plain_id", "quoted",
           "report_from_jobs", "save_report", "shown_id", "unusual"]

#: Characters of a student's text shown in a report line; the rest is counted, not shown.
QUOTE_LIMIT = 80


def quoted(text, limit: int = QUOTE_LIMIT) -> str:
    """Text a student controls (a file name, a label, an error message), fit for a report line.

    Quoted and escaped as Python's repr does, so that it is on one line whatever it
    holds (newlines, control and invisible characters, lone surrogates), and cut to
    ``limit`` characters::

        >>> quoted("x\nalice  26/26")
        "'x\\nalice  26/26'"
    """
    text = text if isinstance(text, str) else repr(text)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text) - limit} more characters)"


@dataclass
class AssignmentReport:
    """Scores of one assignment: ``scores[student][exercise]`` out of ``max_points[exercise]``."""

    assignment: str
    exercises: list = field(default_factory=list)
    max_points: dict = field(default_factory=dict)
    scores: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)  # student -> [plain-words lines]
    failed_cells: Counter = field(default_factory=Counter)  # grade_id -> students failing it
    #: what this report is missing, and why (the gradebook unreadable, the run stopped)
    problems: list = field(default_factory=list)
    #: the fingerprint of the course secret the hidden tests' fresh cases were drawn from
    secret: str = ""

    def total(self, student) -> float:
        return sum(self.scores.get(student, {}).values())

    @property
    def max_total(self) -> float:
        return sum(self.max_points.values())


def unusual(job) -> list[str]:
    """Plain-words lines for what went wrong while grading one submission (a GradeJob).

    Built from the job's fields only; nbgrader's error text (which may quote the
    notebook) is shown quoted, never matched against.
    """
    lines = []
    if not job.success and job.error:
        last = next((line for line in reversed(job.error.strip().splitlines()) if line.strip()),
                    "no details")
        lines.append(f"autograding failed, not graded: nbgrader said {quoted(last.strip())}")
    lines += [note for note in getattr(job, "notes", ()) if note not in lines]
    return lines


def build_report(course_root, assignment: str, jobs=()) -> AssignmentReport:
    """Read the gradebook of the course at ``course_root`` (a folder or a Course) for
    ``assignment``; ``jobs`` (this run's GradeJobs) add their notes, and a job that was
    not graded scores 0."""
    from nbgrader.api import MissingEntry

    from .course import as_course

    report = AssignmentReport(assignment)
    with as_course(course_root).gradebook() as gb:
        source = gb.find_assignment(assignment)
        for notebook in source.notebooks:
            for cell in notebook.grade_cells:
                if cell.cell_type != "code":
                    continue  # written answers are graded by hand
                exercise = _exercise(cell.name)
                if exercise not in report.max_points:
                    report.exercises.append(exercise)
                    report.max_points[exercise] = 0.0
                report.max_points[exercise] += cell.max_score
        for student in sorted(s.id for s in gb.students):
            try:
                submission = gb.find_submission(assignment, student)
            except MissingEntry:
                continue
            per_exercise = dict.fromkeys(report.exercises, 0.0)
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.cell_type != "code":
                        continue
                    per_exercise[_exercise(grade.name)] += grade.auto_score or 0.0
                    if (grade.auto_score or 0.0) < grade.max_score:
                        report.failed_cells[grade.name] += 1
            report.scores[student] = per_exercise
    _add_jobs(report, jobs)
    report.secret = _secret_fingerprint(as_course(course_root).root)
    return report


def _secret_fingerprint(root: Path) -> str:
    from .secret import SECRET_FILE, course_secret, fingerprint

    return fingerprint(course_secret(root)) if (root / SECRET_FILE).exists() else ""


def report_from_jobs(assignment: str, jobs, problem: str) -> AssignmentReport:
    """What is known without the gradebook: each job's notes, no scores; ``problem`` says why."""
    report = AssignmentReport(assignment, problems=[problem])
    _add_jobs(report, jobs)
    return report


def _add_jobs(report: AssignmentReport, jobs) -> None:
    for job in jobs:
        if job.assignment != report.assignment:
            continue
        lines = unusual(job)
        if lines:
            report.notes[job.student] = lines
        if not job.success:  # not graded now: an earlier run's scores do not count
            report.scores[job.student] = dict.fromkeys(report.exercises, 0.0)
        report.scores.setdefault(job.student, dict.fromkeys(report.exercises, 0.0))


#: A student id shown as it is: letters and digits (any script), then also . _ @ + -
#: (collect's rule); anything else (spaces, newlines, control or invisible characters)
#: is quoted wherever it is shown.
_PLAIN = re.compile(r"[^\W_][\w.@+-]*")


def plain_id(name: str) -> bool:
    """Whether ``name`` can be shown as it is: letters, digits and . _ @ + -."""
    return bool(_PLAIN.fullmatch(name))


def shown_id(student: str) -> str:
    """A student id as a report shows it: as it is if plain, else quoted."""
    return student if plain_id(student) else quoted(student)


def format_report(report: AssignmentReport, most_failed: int = 5) -> str:
    """The report as text: a table per student, notes, then the class per exercise."""
    names = report.exercises
    width = max([7, *(len(shown_id(s)) for s in report.scores)])
    cols = {e: max(len(e), 5) for e in names}
    head = f"{'student':<{width}} " + " ".join(f"{e:>{cols[e]}}" for e in names) + f" {'total':>9}"
    out = [f"{report.assignment}: {len(report.scores)} submissions, "
           f"{report.max_total:g} autograded points"]
    out += [f"INCOMPLETE: {problem}" for problem in report.problems]
    if report.secret:
        out.append(f"hidden tests: new inputs drawn from the course secret {report.secret} "
                   f"(.nncourse/secret), each student's notebook and exercise; a regrade of "
                   f"the same notebooks with this secret draws the same")
    out += ["", head, "-" * len(head)]
    for student, per in sorted(report.scores.items()):
        row = " ".join(f"{per[e]:>{cols[e]}g}" for e in names)
        out.append(f"{shown_id(student):<{width}} {row} {report.total(student):>9g}")
        for line in report.notes.get(student, []):
            out.append(f"{'':<{width}}   ! {line}")
    out += ["", "per exercise (points: number of students)"]
    for e in names:
        counts = Counter(per[e] for per in report.scores.values())
        spread = ", ".join(f"{score:g}: {n}" for score, n in sorted(counts.items()))
        mean = sum(per[e] for per in report.scores.values()) / max(len(report.scores), 1)
        out.append(f"  {e:<24} max {report.max_points[e]:g}, mean {mean:.2f}   [{spread}]")
    if report.failed_cells:
        out += ["", "test cells failed most often"]
        for grade_id, n in report.failed_cells.most_common(most_failed):
            out.append(f"  {grade_id:<32} {n} of {len(report.scores)} students")
    return "\n".join(out)


def save_report(report: AssignmentReport, folder: Path) -> list[Path]:
    """Write ``scores.csv``, ``report.txt`` and ``scores.png`` into ``folder``; return the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, text_path, png_path = (folder / n for n in ("scores.csv", "report.txt", "scores.png"))
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *report.exercises, "total", "notes"])
        for student, per in sorted(report.scores.items()):
            notes = [*report.problems, *report.notes.get(student, [])]
            writer.writerow([_cell(shown_id(student)), *(per[e] for e in report.exercises),
                             report.total(student), _cell(" | ".join(notes))])
    text_path.write_text(format_report(report) + "\n", encoding="utf-8")
    try:
        _plot(report, png_path)
    except Exception as error:  # the table and the text are what matter: say, and go on
        text_path.write_text(format_report(report) + f"\n\n(no plot: {type(error).__name__}: "
                             f"{quoted(str(error))})\n", encoding="utf-8")
        png_path.unlink(missing_ok=True)  # not an earlier run's picture beside this table
        return [csv_path, text_path]
    return [csv_path, text_path, png_path]


def _cell(text: str) -> str:
    """A CSV text cell that no spreadsheet reads as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _plot(report: AssignmentReport, png_path: Path) -> None:
    from matplotlib.figure import Figure

    n = max(len(report.exercises), 1)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig = Figure(figsize=(3.2 * cols, 2.4 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, e in zip(axes, report.exercises, strict=False):
        counts = Counter(per[e] for per in report.scores.values())
        steps = sorted(set(counts) | {0.0, report.max_points[e]})
        ax.bar([f"{s:g}" for s in steps], [counts.get(s, 0) for s in steps], color="#1f77b4")
        ax.set_title(e, fontsize=10)
        ax.set_xlabel(f"points (of {report.max_points[e]:g})")
        ax.set_ylabel("students")
    for ax in axes[len(report.exercises):]:
        ax.set_visible(False)
    fig.suptitle(f"{report.assignment}: score per exercise, {len(report.scores)} submissions")
    fig.savefig(png_path, dpi=90)


def _exercise(grade_id: str) -> str:
    return grade_id.rsplit("-", 1)[0]
