"""Benchmark: `nncourse grade` against plain sequential `nbgrader autograde`, same class.

Builds a scratch course with every assignment released and N generated
submissions of each (the instructor's answers, the untouched release, and each
wrong submission of tests/wrong_submissions/, in turn). The same submissions are
graded twice, in two copies of the course: by course_lib's parallel pipeline,
and by `nbgrader autograde <assignment>` run one assignment after another. Both
must give every student the same score on every test cell; the script prints
both times and the throughput ratio.

Run with ``make bench-grade`` (N = 40 per assignment: 200 notebooks; several minutes).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from course_tools import ASSIGNMENTS, answered, cell_by_grade_id, make_course, nbgrader, submit  # noqa: E402

from course_lib.grading.pipeline import grade, load_api  # noqa: E402


def build_class(course: Path, per_assignment: int) -> None:
    """Release every assignment and submit ``per_assignment`` notebooks of each."""
    make_course(course)
    for folder, name in ASSIGNMENTS:
        release = nbformat.read(course / "notebooks" / folder / f"{name}.ipynb", as_version=4)
        full = answered(release, nbformat.read(course / "solutions" / folder / f"{name}.ipynb",
                                               as_version=4))
        wrong = json.loads((ROOT / "tests" / "wrong_submissions" / f"{folder}.json").read_text())
        variants = [full, release]
        for key, case in wrong.items():
            if not key.startswith("_"):
                nb = nbformat.from_dict(full)
                cell_by_grade_id(nb, case["cell"]).source = case["source"]
                variants.append(nb)
        for i in range(per_assignment):
            submit(course, f"student{i:03d}", folder, name, variants[i % len(variants)])


def scores(course: Path) -> dict:
    """(assignment, student, grade_id) -> auto score, for every autograded cell."""
    from nbgrader.api import Gradebook

    api = load_api(course)
    table = {}
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        for assignment in gb.assignments:
            for submission in assignment.submissions:
                for notebook in submission.notebooks:
                    for g in notebook.grades:
                        if g.cell_type == "code":
                            table[assignment.name, submission.student_id, g.name] = g.auto_score
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=40, help="submissions per assignment")
    args = parser.parse_args()
    assignments = [folder for folder, _ in ASSIGNMENTS]
    with tempfile.TemporaryDirectory() as scratch:
        ours, plain = Path(scratch, "pipeline"), Path(scratch, "nbgrader")
        build_class(ours, args.n)
        shutil.copytree(ours, plain)
        total = args.n * len(assignments)
        print(f"{total} submissions: {args.n} of each of {len(assignments)} assignments")

        start = time.perf_counter()
        grade(ours, assignments, progress=False)
        t_ours = time.perf_counter() - start
        print(f"course_lib pipeline:            {t_ours:7.1f} s")

        start = time.perf_counter()
        for assignment in assignments:
            nbgrader(plain, "autograde", assignment, "--force", timeout=3600)
        t_plain = time.perf_counter() - start
        print(f"sequential nbgrader autograde:  {t_plain:7.1f} s")

        ours_scores, plain_scores = scores(ours), scores(plain)
        same = ours_scores == plain_scores
        print(f"same scores on every test cell: {same} ({len(ours_scores)} cells)")
        for key in sorted(set(ours_scores) | set(plain_scores)):
            if ours_scores.get(key) != plain_scores.get(key):
                print(f"  differs: {' '.join(key)}: nncourse {ours_scores.get(key)}, "
                      f"nbgrader {plain_scores.get(key)}")
        print(f"throughput ratio: {t_plain / t_ours:.2f}x (goal >= 1.8x)")
        return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
