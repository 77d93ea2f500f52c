"""Feedback for students: nbgrader's own GenerateFeedback, with written answers that are
not yet graded by hand shown as "pending" instead of as 0.

nbgrader's feedback page gives every cell its score from the gradebook; a written answer
no one has graded yet has none, so the page said "Score: 0.0 / 3.0", and a student read
it as a mark. Here the same converter runs with two changes: :class:`GetGradesPending`
marks those cells (and counts them), and the page's template
(``templates/nncourse_feedback``, built on nbgrader's ``feedback`` template) shows them
as "pending" and says, under the total, that their points are not in it yet::

    result = generate_feedback(course, "01_activations")   # nbgrader's result dict
    for_the_lms(course, "01_activations")   # reports/01_activations/feedback-for-lms.zip

:func:`for_the_lms` packs the feedback pages named as the LMS named each student's
download (what collect kept in collect.json), which is how Moodle's "Upload multiple
feedback files in a zip" and Canvas's "Re-upload submissions" match a file to its
student: ``Ana Lopez_700001_assignsubmission_file_/activations.html`` for Moodle,
``garciamaria_11111_504_activations.html`` for Canvas.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from nbgrader.preprocessors import GetGrades

__all__ = ["GetGradesPending", "for_the_lms", "generate_feedback"]

TEMPLATES = Path(__file__).parent / "templates"


class GetGradesPending(GetGrades):
    """nbgrader's GetGrades, which also marks each grade cell still to be graded by hand
    (``metadata.nbgrader.pending``) and counts them in ``resources["nbgrader"]["pending"]``."""

    def preprocess(self, nb, resources):
        self._pending = 0
        nb, resources = super().preprocess(nb, resources)
        resources["nbgrader"]["pending"] = self._pending
        return nb, resources

    def _get_score(self, cell, resources) -> None:
        super()._get_score(cell, resources)
        grade = self.gradebook.find_grade(cell.metadata["nbgrader"]["grade_id"],
                                          self.notebook_id, self.assignment_id, self.student_id)
        pending = grade.needs_manual_grade and grade.manual_score is None
        cell.metadata.nbgrader["pending"] = pending
        self._pending += pending


def generate_feedback(course, assignment: str) -> dict:
    """Run nbgrader's GenerateFeedback for every graded submission of ``assignment``, as
    ``NbGraderAPI.generate_feedback`` does, with the pending marks; nbgrader's result."""
    import nbgrader
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.converters import GenerateFeedback
    from nbgrader.utils import capture_log, temp_attrs
    from traitlets.config import Config

    formgrader = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader"
    config = Config()
    config.GenerateFeedback.preprocessors = [GetGradesPending, CSSHTMLHeaderPreprocessor]
    with temp_attrs(course.coursedir, assignment_id=assignment):
        app = GenerateFeedback(coursedir=course.coursedir, parent=course.api)
        config.HTMLExporter.template_name = "nncourse_feedback"
        config.HTMLExporter.extra_template_basedirs = [str(TEMPLATES), str(formgrader / "templates")]
        # as GenerateFeedback sets them (its page's CSS), and nbgrader's templates' root, so
        # that ours can extend 'feedback/index.html.j2' by that name
        config.HTMLExporter.extra_template_paths = [
            *app.config.HTMLExporter.extra_template_paths, str(formgrader / "templates")]
        app.update_config(config)
        app.force = True
        return capture_log(app)


def for_the_lms(course, assignment: str) -> tuple[Path, int] | None:
    """Zip the feedback of every student collected from an LMS download, each page named
    as the LMS named that student's file; the zip's path (in the assignment's reports)
    and how many pages it holds, or None when no student came from an LMS download."""
    from .collect import decisions

    root = Path(course.coursedir.root)
    pages = []
    for student, decision in sorted(decisions(root, assignment).items()):
        prefix = _lms_prefix(decision.source or "", student)
        folder = Path(course.coursedir.format_path(course.coursedir.feedback_directory,
                                                   student, assignment))
        if prefix is None or not folder.is_dir():
            continue
        pages += [(page, prefix + page.name) for page in sorted(folder.glob("*.html"))]
    if not pages:
        return None
    path = root / "reports" / assignment / "feedback-for-lms.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    with zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as z:
        for page, name in pages:
            z.write(page, name)
    part.replace(path)
    return path, len(pages)


def _lms_prefix(source: str, student: str) -> str | None:
    """The start of the name the LMS gave ``student``'s file ``source``, which the LMS
    reads back from a feedback file's name: Moodle's "<Full Name>_<id>_assignsubmission_
    <plugin>_" (a folder, or the start of a flat name), Canvas's "<name>_[LATE_]<user id>_
    <file id>_". Read by collect's own patterns, and only when they give this student."""
    from .collect import _match

    found = _match(source)
    if found is None or found[1].get("student_id") != student:
        return None
    pattern, parts = found
    if pattern.startswith("Moodle"):
        end = "/" if pattern == "Moodle, a folder per student" else ""
        return (f"{parts['full_name']}_{student}_assignsubmission_{parts['plugin']}_{end}")
    if pattern == "Canvas":
        return f"{parts['name_part']}_{parts['late'] or ''}{student}_{parts['attachment_id']}_"
    return None
