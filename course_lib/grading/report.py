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

The total is nbgrader's, as ``nbgrader export`` gives it: the autograded points, plus
the written answers' points once graded by hand (until then they are "pending", not
0), less nbgrader's late penalty. Beside it: the student's name from the gradebook
(``collect --roster``), the LMS's LATE mark and how late the timestamp says it was;
and every student collect heard of who has no gradable notebook (a ``.py`` only,
another assignment's notebook, nothing at all), with collect's reason.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = ["AssignmentReport", "build_report", "export_grades", "format_report", "plain_id", "quoted",
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
    #: the points of the written answers, graded by hand (0 when there are none)
    written_max: float = 0.0
    #: student -> (points of the written answers graded so far, how many still pending)
    written: dict = field(default_factory=dict)
    #: student -> nbgrader's late penalty (points taken off the total)
    penalty: dict = field(default_factory=dict)
    #: student -> the name the gradebook knows (from the roster or the LMS's file names)
    names: dict = field(default_factory=dict)
    #: student -> "late" lines: the LMS's LATE mark, how late the timestamp says
    late: dict = field(default_factory=dict)
    #: student -> why collect found no gradable notebook for them (they have no scores)
    absent: dict = field(default_factory=dict)
    #: the students whose submission was unchanged, so not graded again in this run
    reused: list = field(default_factory=list)

    def total(self, student) -> float:
        """The student's grade, as nbgrader's export gives it: autograded points, plus the
        written answers graded so far, less the late penalty, never below 0."""
        raw = sum(self.scores.get(student, {}).values()) + self.written.get(student, (0, 0))[0]
        return max(0.0, raw - self.penalty.get(student, 0.0))

    def pending(self, student) -> int:
        """How many of the student's written answers are still to be graded by hand."""
        return self.written.get(student, (0, 0))[1]

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
        for notebook in source.notebooks:
            report.written_max += sum(c.max_score for c in notebook.grade_cells
                                      if c.cell_type != "code")
        for student in gb.students:
            name = " ".join(part for part in (student.first_name, student.last_name) if part)
            if name:
                report.names[student.id] = name
            try:
                submission = gb.find_submission(assignment, student.id)
            except MissingEntry:
                continue
            per_exercise = dict.fromkeys(report.exercises, 0.0)
            written, pending = 0.0, 0
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.cell_type != "code":
                        if grade.manual_score is None:
                            pending += 1
                        written += grade.manual_score or 0.0
                        continue
                    per_exercise[_exercise(grade.name)] += grade.auto_score or 0.0
                    if (grade.auto_score or 0.0) < grade.max_score:
                        report.failed_cells[grade.name] += 1
            report.scores[student.id] = per_exercise
            report.written[student.id] = (written, pending)
            if submission.late_submission_penalty:
                report.penalty[student.id] = submission.late_submission_penalty
            if submission.total_seconds_late > 0:
                report.late.setdefault(student.id, []).append(
                    f"submitted {_duration(submission.total_seconds_late)} after the due date "
                    f"(timestamp.txt)")
    _add_jobs(report, jobs)
    _add_collected(report, course_root)
    report.secret = _secret_fingerprint(as_course(course_root).root)
    return report


def _duration(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds / size
            return f"{n:.1f} {unit}s" if n != 1 else f"1 {unit}"
    return f"{seconds:.0f} seconds"


def _add_collected(report: AssignmentReport, course_root) -> None:
    """What collect decided: the LMS's LATE marks, and the students it found no gradable
    notebook for (they get a row of their own, with collect's reason)."""
    from .collect import CollectError, decisions
    from .course import as_course

    try:
        decided = decisions(as_course(course_root).root, report.assignment)
    except CollectError as error:  # the scores stand; what collect decided is missing
        report.problems.append(f"what collect decided is missing: {error}")
        return
    for student, decision in decided.items():
        if decision.late:
            report.late.setdefault(student, []).insert(0, "the LMS marked it LATE")
        if decision.name and student not in report.names:
            report.names[student] = decision.name
        if student not in report.scores and decision.status not in ("collected", "unchanged",
                                                                      "kept"):
            why = decision.why if decision.why.isprintable() else quoted(decision.why, 300)
            report.absent[student] = f"no gradable notebook: {why}"


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
        if getattr(job, "reused", False):  # one line for them all, below the table
            report.reused.append(job.student)
            job = replace(job, notes=tuple(  # the rest are that grading's own notes
                note for note in job.notes if not note.startswith("not graded again:")))
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


def _short(name: str, limit: int = 30) -> str:
    """A student's name in the table: as it is, cut to ``limit``; quoted if unprintable."""
    if not name.isprintable():
        return quoted(name, limit)
    return name if len(name) <= limit else name[:limit - 1] + "…"


def _written(report: AssignmentReport, student) -> str:
    points, pending = report.written.get(student, (0.0, 0))
    if not pending:
        return f"{points:g}"
    return "pending" if not points else f"{points:g}+pending"


def format_report(report: AssignmentReport, most_failed: int = 5) -> str:
    """The report as text: a table per student, notes, then the class per exercise."""
    names = report.exercises
    students = sorted({*report.scores, *report.absent})
    width = max([7, *(len(shown_id(s)) for s in students)])
    who = {s: _short(report.names.get(s, "")) for s in students}
    name_width = max((len(n) for n in who.values()), default=0)
    cols = {e: max(len(e), 5) for e in names}
    extra = []  # the columns only some assignments need: (title, width, value of a student)
    if report.written_max:
        extra.append(("written", 9, lambda s: _written(report, s)))
    if report.penalty:
        extra.append(("late", 6, lambda s: f"-{report.penalty[s]:g}" if s in report.penalty
                      else ""))
    head = (f"{'student':<{width}} " + (f"{'name':<{name_width}} " if name_width else "")
            + " ".join(f"{e:>{cols[e]}}" for e in names)
            + "".join(f" {title:>{w}}" for title, w, _ in extra) + f" {'total':>9}")
    points = f"{report.max_total:g} autograded points"
    if report.written_max:
        points += f" and {report.written_max:g} for written answers graded by hand"
    out = [f"{report.assignment}: {len(report.scores)} submissions, {points}"]
    if report.absent:
        n = len(report.absent)
        out[0] += f"; {n} student{'s' * (n != 1)} without a gradable notebook"
    out += [f"INCOMPLETE: {problem}" for problem in report.problems]
    if report.reused:
        n = len(report.reused)
        out.append(f"{n} submission{'s were' if n != 1 else ' was'} unchanged since last "
                   "graded, so not graded again (their scores are that grading's; "
                   "`nncourse grade --all` grades everyone again)")
    if report.secret:
        out.append(f"hidden tests: new inputs drawn from the course secret {report.secret} "
                   f"(.nncourse/secret), each student's notebook and exercise; a regrade of "
                   f"the same notebooks with this secret draws the same")
    out += ["", head, "-" * len(head)]
    for student in students:
        first = f"{shown_id(student):<{width}} " + (f"{who[student]:<{name_width}} "
                                                    if name_width else "")
        if student in report.scores:
            per = report.scores[student]
            row = " ".join(f"{per[e]:>{cols[e]}g}" for e in names)
            row += "".join(f" {value(student):>{w}}" for _, w, value in extra)
            out.append(f"{first}{row} {report.total(student):>9g}")
        else:
            row = " ".join(f"{'-':>{cols[e]}}" for e in names)
            row += "".join(f" {'-':>{w}}" for _, w, _ in extra)
            out.append(f"{first}{row} {0:>9g}")
        for line in _lines(report, student):
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
    pending = sum(report.pending(s) for s in report.scores)
    if pending:
        out += ["", f"{pending} written answer{'s' * (pending != 1)} still to be graded by "
                    "hand (nbgrader's formgrader); their points are not in the totals yet"]
    return "\n".join(out)


def _lines(report: AssignmentReport, student) -> list[str]:
    """The plain-words lines of one student: lateness, why no notebook, grading notes."""
    lines = [f"late: {line}" for line in report.late.get(student, [])]
    if student in report.penalty:
        lines.append(f"late penalty: -{report.penalty[student]:g} (nbgrader's, as exported)")
    if student in report.absent:
        lines.append(report.absent[student])
    return lines + report.notes.get(student, [])


def save_report(report: AssignmentReport, folder: Path) -> list[Path]:
    """Write ``scores.csv``, ``report.txt`` and ``scores.png`` into ``folder``; return the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, text_path, png_path = (folder / n for n in ("scores.csv", "report.txt", "scores.png"))
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "name", *report.exercises, "written", "late penalty",
                         "total", "notes"])
        for student in sorted({*report.scores, *report.absent}):
            notes = [*report.problems, *_lines(report, student)]
            if student in report.scores:
                per = report.scores[student]
                values = [*(per[e] for e in report.exercises),
                          _written(report, student) if report.written_max else "",
                          report.penalty.get(student, ""), report.total(student)]
            else:
                values = [""] * (len(report.exercises) + 2) + [0.0]
            writer.writerow([_cell(shown_id(student)), _cell(report.names.get(student, "")),
                             *values, _cell(" | ".join(notes))])
    text_path.write_text(format_report(report) + "\n", encoding="utf-8")
    try:
        _plot(report, png_path)
    except Exception as error:  # the table and the text are what matter: say, and go on
        text_path.write_text(format_report(report) + f"\n\n(no plot: {type(error).__name__}: "
                             f"{quoted(str(error))})\n", encoding="utf-8")
        png_path.unlink(missing_ok=True)  # not an earlier run's picture beside this table
        return [csv_path, text_path]
    return [csv_path, text_path, png_path]


#: The columns of ``nbgrader export``'s CSV, which :func:`export_grades` writes too.
EXPORT_COLUMNS = ("assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
                  "email", "raw_score", "late_submission_penalty", "score", "max_score")


def export_grades(course_root, path: Path) -> int:
    """Every student's grade of every assignment, as ``nbgrader export`` gives them (the
    same columns and numbers: score = raw score less the late penalty, never below 0; no
    submission scores 0), written as proper CSV: a name with a comma, a quote or a newline
    stays in its cell, and no text cell reads as a formula. Returns the number of rows."""
    from nbgrader.api import MissingEntry

    from .course import as_course

    rows = []
    with as_course(course_root).gradebook() as gb:
        for assignment in gb.assignments:
            for student in gb.students:
                row = {"assignment": assignment.name, "duedate": assignment.duedate or "",
                       "student_id": student.id, "last_name": student.last_name or "",
                       "first_name": student.first_name or "", "email": student.email or "",
                       "max_score": assignment.max_score, "timestamp": "", "raw_score": 0.0,
                       "late_submission_penalty": 0.0, "score": 0.0}
                try:
                    submission = gb.find_submission(assignment.name, student.id)
                except MissingEntry:
                    pass
                else:
                    penalty = submission.late_submission_penalty or 0.0
                    row.update(timestamp=submission.timestamp or "", raw_score=submission.score,
                               late_submission_penalty=penalty,
                               score=max(0.0, submission.score - penalty))
                rows.append(row)
    part = Path(path).with_name(Path(path).name + ".part")
    with part.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(EXPORT_COLUMNS)
        for row in rows:
            writer.writerow([_cell(v) if isinstance(v, str) else v
                             for v in (row[c] for c in EXPORT_COLUMNS)])
    part.replace(path)
    return len(rows)


def _cell(text: str) -> str:
    """A CSV text cell that no spreadsheet reads as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


#: scores.png's three groups of students per exercise: all its points, some, none
_PLOT_GROUPS = (("all points", "#2ca02c"), ("some points", "#ffbf00"), ("no points", "#d62728"))


def earned(report: AssignmentReport, exercises: list) -> dict:
    """For scores.png: "all points", "some points", "no points" -> how many students, one
    number per exercise of ``exercises``."""
    counts = {group: [] for group, _ in _PLOT_GROUPS}
    for e in exercises:
        got = [per.get(e, 0.0) for per in report.scores.values()]
        full = report.max_points.get(e, 0.0)
        counts["all points"].append(sum(full > 0 and g >= full for g in got))
        counts["no points"].append(sum(g <= 0 for g in got))
        counts["some points"].append(len(got) - counts["all points"][-1]
                                     - counts["no points"][-1])
    return counts


def _plot(report: AssignmentReport, png_path: Path) -> None:
    """scores.png: one bar per exercise, in the notebook's order, split into the students who
    earned all its points, some of them, and none. One chart, so that the exercises a class
    found hard stand out at a glance."""
    from matplotlib.figure import Figure

    exercises = report.exercises or ["(no exercise)"]
    counts = earned(report, exercises)
    fig = Figure(figsize=(8, 1.2 + 0.36 * len(exercises)))
    ax = fig.add_subplot()
    rows = range(len(exercises))
    left = [0] * len(exercises)
    for group, color in _PLOT_GROUPS:
        bars = ax.barh(rows, counts[group], left=left, color=color, label=group, height=0.7)
        ax.bar_label(bars, labels=[str(n) if n else "" for n in counts[group]],
                     label_type="center", fontsize=8)
        left = [a + b for a, b in zip(left, counts[group], strict=True)]
    ax.set_yticks(list(rows), [f"{e} ({report.max_points.get(e, 0):g})" for e in exercises],
                  fontsize=9)
    ax.invert_yaxis()  # the first exercise on top, as in the notebook
    ax.set_xlim(0, max(len(report.scores), 1))
    ax.set_xlabel("students")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, fontsize=8, frameon=False)
    ax.set_title(f"{report.assignment}: each exercise's points (in brackets), "
                 f"{len(report.scores)} submissions", fontsize=10, pad=22)
    fig.subplots_adjust(left=0.26, right=0.97, bottom=0.5 / fig.get_figheight() + 0.05,
                        top=1 - 0.75 / fig.get_figheight())
    fig.savefig(png_path, dpi=90)


def _exercise(grade_id: str) -> str:
    return grade_id.rsplit("-", 1)[0]
