"""The grading report: per student and exercise, per exercise across the class.

Scores come from nbgrader's gradebook. Test cells are named ``<exercise>-visible`` and
``<exercise>-hidden``, so a cell's exercise is its grade_id up to the last dash.
Anything unusual in a submission's grading (a timeout, a dead kernel, an
unreadable notebook, a restored test cell) becomes one plain-words line.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["AssignmentReport", "build_report", "format_report", "save_report", "unusual"]


@dataclass
class AssignmentReport:
    """Scores of one assignment: ``scores[student][exercise]`` out of ``max_points[exercise]``."""

    assignment: str
    exercises: list = field(default_factory=list)
    max_points: dict = field(default_factory=dict)
    scores: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)  # student -> [plain-words lines]
    failed_cells: Counter = field(default_factory=Counter)  # grade_id -> students failing it

    def total(self, student) -> float:
        return sum(self.scores.get(student, {}).values())

    @property
    def max_total(self) -> float:
        return sum(self.max_points.values())


def unusual(job) -> list[str]:
    """Plain-words lines for what went wrong while grading one submission (a GradeJob)."""
    text = f"{job.log}\n{job.error}"
    lines = []
    if "NotJSONError" in text or "Notebook does not appear to be JSON" in text \
            or "UnicodeDecodeError" in text or "not valid JSON" in text:
        lines.append("notebook unreadable (not a valid .ipynb file): not graded")
    elif not job.success and job.error:
        last = next((line for line in reversed(job.error.strip().splitlines()) if line.strip()),
                    "no details")
        lines.append(f"autograding failed: {last.strip()[:160]}")
    lines += [note for note in getattr(job, "notes", ()) if note not in lines]
    if "Missing grade cell" in text:
        lines.append("a test cell was missing from the notebook: restored from the gradebook")
    return lines


def build_report(course_root: Path, assignment: str, jobs=()) -> AssignmentReport:
    """Read the gradebook of the course at ``course_root`` for ``assignment``."""
    from nbgrader.api import Gradebook, MissingEntry

    from .pipeline import load_api

    api = load_api(course_root)
    report = AssignmentReport(assignment)
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
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
    for job in jobs:
        if job.assignment == assignment:
            lines = unusual(job)
            if lines:
                report.notes[job.student] = lines
            report.scores.setdefault(job.student, dict.fromkeys(report.exercises, 0.0))
    return report


def format_report(report: AssignmentReport, most_failed: int = 5) -> str:
    """The report as text: a table per student, notes, then the class per exercise."""
    names = report.exercises
    width = max([7, *(len(s) for s in report.scores)])
    cols = {e: max(len(e), 5) for e in names}
    head = f"{'student':<{width}} " + " ".join(f"{e:>{cols[e]}}" for e in names) + f" {'total':>9}"
    out = [f"{report.assignment}: {len(report.scores)} submissions, "
           f"{report.max_total:g} autograded points", "", head, "-" * len(head)]
    for student, per in sorted(report.scores.items()):
        row = " ".join(f"{per[e]:>{cols[e]}g}" for e in names)
        out.append(f"{student:<{width}} {row} {report.total(student):>9g}")
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
    from matplotlib.figure import Figure

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, text_path, png_path = (folder / n for n in ("scores.csv", "report.txt", "scores.png"))
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *report.exercises, "total", "notes"])
        for student, per in sorted(report.scores.items()):
            writer.writerow([student, *(per[e] for e in report.exercises), report.total(student),
                             " | ".join(report.notes.get(student, []))])
    text_path.write_text(format_report(report) + "\n", encoding="utf-8")

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
    return [csv_path, text_path, png_path]


def _exercise(grade_id: str) -> str:
    return grade_id.rsplit("-", 1)[0]
