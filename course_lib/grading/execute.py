"""nbgrader's Execute step, made safe for hostile notebooks.

:class:`GradingExecute` replaces nbgrader's ``Execute`` preprocessor in ``Autograde``.
Over nbgrader's behaviour it adds:

- **verdicts from the grader**: a test cell runs in the kernel as the gradebook
  holds it, without its expected values (:func:`judge.kernel_source`); there
  ``check`` and ``check_values`` only send the student's answers to the grader
  over :mod:`course_lib.channel`. After the cell the grader judges them against
  the cell's plan (:mod:`course_lib.grading.judge`) and writes the cell's outputs
  itself: an error output when the test fails, a line of text when it passes.
  What the kernel printed, patched or hid cannot change a score.
- **the references withheld** (:mod:`course_lib.grading.withhold`): the kernel
  imports a copy of course_lib without them; the grader answers for them only
  while a test cell runs, and only for what that cell's exercises build on.
- **nothing of the grader's within the kernel's reach**: the grader's files (the
  stripped course_lib, its socket, the connection file) lie in a folder of its
  own, which the kernel sees read-only; what the kernel writes stays in the
  sandbox (:mod:`course_lib.grading.sandbox`), and the grader reads nothing of it.
- **a time limit for the whole notebook** on top of the per-cell ``timeout``;
- **a dead or hung kernel costs only that cell**: the kernel is started again,
  the cells that ran before are replayed (their outputs kept from the first run),
  the cell that killed it is marked, and grading goes on with the next cell;
- **a looping exercise is stopped once**: after a cell of exercise X (its solution
  cell, or a test cell checking it) ran past its time limit or killed the kernel,
  the later test cells of X are not run in the fresh kernel (each would call the
  same code and wait out the same limit): they score 0, saying why in plain words;
- **output capped by bytes while it streams**, every kind (printed text, displays
  and their updates, results, errors, widget messages), so a cell printing without
  end cannot fill the grader's memory; no widget state is kept.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import numpy as np
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Bool, Enum, Integer, Unicode

from course_lib import channel
from course_lib.checks import exercise, exercise_names, topic_of
from course_lib.checks._engine import fresh_draws

from . import judge, secret
from .sandbox import Limits, SandboxKernelManager, allow_kernel_to_connect
from .withhold import Referee, limit_memory, stripped_copy

__all__ = ["GradingExecute"]

#: grading processes' kernels run as this plus the process id when the grader is root
_KERNEL_UID_BASE = 100_000

#: kinds of kernel messages that carry output (counted against the cap), besides widgets'
_OUTPUT_MESSAGES = {"stream", "display_data", "update_display_data", "execute_result", "error",
                    "comm_open", "comm_msg"}


class _OutOfTime(Exception):
    """The notebook's time limit is reached."""


class GradingExecute(Execute):
    # a timeout restarts the kernel (below), which also stops code that ignores an interrupt
    interrupt_on_timeout = Bool(False).tag(config=True)
    # the kernel has nothing to save: kill it at once rather than ask and wait (~0.5 s each)
    shutdown_kernel = Enum(["graceful", "immediate"], default_value="immediate").tag(config=True)

    notebook_timeout = Integer(
        900, help="Seconds the whole notebook may run, restarts included."
    ).tag(config=True)
    max_output_bytes = Integer(
        1_000_000, help="Bytes of output kept per cell; the rest is cut while it streams."
    ).tag(config=True)
    max_notebook_output_bytes = Integer(
        20_000_000, help="Bytes of output kept for the whole notebook; the rest is cut."
    ).tag(config=True)
    max_restarts = Integer(
        5, help="Times the kernel is started again after dying or hanging, per notebook."
    ).tag(config=True)
    sandbox = Bool(
        True, help="Run the kernel in the sandbox (course_lib.grading.sandbox). Without it, "
                   "student code runs with the grader's rights: only for trusted notebooks."
    ).tag(config=True)

    memory_limit = Integer(Limits.memory_bytes, help="Bytes of memory a kernel may map "
                                                     "(RLIMIT_AS).").tag(config=True)
    cpu_limit = Integer(Limits.cpu_seconds, help="CPU seconds a kernel may use in all; past "
                                                 "them it is stopped.").tag(config=True)
    file_limit = Integer(Limits.file_bytes, help="Bytes a kernel may write to one file."
                         ).tag(config=True)
    watchdog_margin = Integer(
        180, help="Seconds past notebook_timeout after which a stuck grading process ends "
                  "itself (the notebook is then reported as not graded)."
    ).tag(config=True)
    control_root = Unicode(
        "", help="Where the grader's folder for each kernel is made (default: the system's "
                 "temporary folder); nncourse grade gives each run one, removed at its end."
    ).tag(config=True)
    secret_folder = Unicode(
        "", help="The course folder whose .nncourse/secret seeds the hidden random cases "
                 "(default: CourseDirectory.root)").tag(config=True)
    grader_memory_limit = Integer(
        4 * 2**30, help="Bytes of address space of the grading process itself (RLIMIT_AS, "
                        "soft): a reference fed huge arguments raises MemoryError there."
    ).tag(config=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.sandbox:
            self.kernel_manager_class = SandboxKernelManager

    def preprocess(self, nb, resources=None, km=None):
        from nbclient import NotebookClient

        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        self._plans = self._test_cell_plans(nb, resources or {})
        self._output_bytes: dict[int, int] = {}
        self._notebook_bytes = 0
        self._cut: set[int] = set()
        self._events: list[str] = []
        #: exercise -> why its code is not run again (it hung or killed the kernel)
        self._stopped: dict[str, str] = {}
        self._cell_limit = self.timeout
        limit_memory(self.grader_memory_limit)
        # The grader's own folder: the stripped course_lib and the grader's socket. The
        # sandbox shows it to the kernel read-only; nothing the kernel writes lies in it.
        # Short: unix socket paths are limited.
        self._control = Path(tempfile.mkdtemp(prefix="nncg-", dir=self.control_root or None))
        exercises = sorted({name for _, planned in self._plans.values()
                            if not isinstance(planned, Exception) for name in
                            (step.exercise for step in planned)} & set(exercise_names()))
        self._exercises = exercises
        self._library = stripped_copy(self._control / "lib", exercises)
        self._referee = Referee(self._control / "grader.sock", exercises,
                                draw=self._drawer(nb, resources or {}))
        # As root, each grading process's kernels run as a user of their own: the thread
        # limit (RLIMIT_NPROC) counts per user, and must not be shared with a neighbour's.
        self._kernel_uid = _KERNEL_UID_BASE + os.getpid()
        if self.sandbox:
            allow_kernel_to_connect(self._referee.path, uid=self._kernel_uid)
        # The time limit holds however the grader is stuck (a cell's limit covers the
        # waits nbclient knows of): past it and a margin, this worker ends itself, and
        # the pipeline reports this notebook and grades the rest with a new worker.
        watchdog = threading.Timer(self.notebook_timeout + self.watchdog_margin, _give_up,
                                   args=(self.notebook_timeout,))
        watchdog.daemon = True
        watchdog.start()
        try:
            self._run_all(nb)
        finally:
            watchdog.cancel()
            self._referee.close()
            shutil.rmtree(self._control, ignore_errors=True)
        _inert(self.nb)
        self.nb.metadata["nncourse"]["events"] = list(self._events)
        # No widget state is saved (nbclient would): with none, HTML feedback shows the
        # picture each dashboard leaves behind, instead of an empty box waiting for
        # JavaScript from a CDN (course_lib/widgets/_render.py: dashboard).
        return self.nb, self.resources

    # -- the run, with restarts ------------------------------------------------------

    def _run_all(self, nb):
        deadline = time.monotonic() + self.notebook_timeout
        code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
        ran: list[int] = []  # cells that ran cleanly enough to replay after a restart
        position, restarts = 0, 0
        while position < len(code):
            index = None
            try:
                with self.setup_kernel(**self._kernel_arguments()):
                    self.wait_for_reply(self.kc.kernel_info())
                    for index in list(ran):
                        self._replay(nb.cells[index], index, deadline)
                    for position in range(position, len(code)):  # noqa: B020 (resumed below)
                        index = code[position]
                        self._run_cell(nb.cells[index], index, deadline)
                        if index not in self._plans:
                            ran.append(index)
                    position = len(code)
            except _OutOfTime:
                for later in code[position:]:
                    self._mark(nb.cells[later], later, "NotebookTimeLimit",
                               f"not run: the notebook's time limit ({self.notebook_timeout} s) "
                               f"was reached before this cell")
                return
            except (DeadKernelError, CellTimeoutError) as exc:
                if index is None:  # the kernel did not even start
                    raise
                restarts += 1
                died = isinstance(exc, DeadKernelError)
                what = ("the kernel died while this cell ran (out of memory, or the code crashed "
                        "it)" if died else
                        f"this cell ran past its time limit ({self.timeout} s) and was stopped")
                if index in ran:  # it died while replaying a cell that ran before
                    ran.remove(index)
                else:
                    position += 1
                self._mark(nb.cells[index], index, "DeadKernelError" if died else
                           "CellTimeoutError", what + "; grading went on with a fresh kernel")
                for name in self._cell_exercises(nb.cells[index], index):
                    self._stopped.setdefault(name, "killed the kernel" if died else
                                             f"ran past its time limit ({self.timeout} s)")
                if restarts > self.max_restarts:
                    for later in code[position:]:
                        self._mark(nb.cells[later], later, "TooManyRestarts",
                                   f"not run: the kernel had to be restarted more than "
                                   f"{self.max_restarts} times")
                    return

    def _kernel_arguments(self) -> dict:
        env = {**os.environ, channel.VARIABLE: str(self._referee.path),
               channel.TOPICS_VARIABLE: ",".join(sorted({topic_of(name)
                                                         for name in self._exercises}))}
        if self.sandbox:  # the sandbox binds the stripped course_lib where course_lib lives
            limits = Limits(memory_bytes=self.memory_limit, cpu_seconds=self.cpu_limit,
                            file_bytes=self.file_limit)
            return {"env": env, "control_dir": str(self._control),
                    "course_lib_dir": str(self._library), "limits": limits,
                    "kernel_uid": self._kernel_uid}
        # no sandbox: the stripped copy comes first on the path (the real one stays readable)
        path = [str(self._library.parent), os.environ.get("PYTHONPATH", "")]
        return {"env": {**env, "PYTHONPATH": os.pathsep.join(p for p in path if p)}}

    def _set_cell_timeout(self, deadline: float):
        """The per-cell limit, or less when the notebook's own limit comes first."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise _OutOfTime
        self.timeout = max(1, int(min(self._cell_limit or left, left)))

    def _run_cell(self, cell, index: int, deadline: float):
        self._set_cell_timeout(deadline)
        if index not in self._plans:
            self.execute_cell(cell, index, store_history=True)
            return
        _, planned = self._plans[index]
        steps = [] if isinstance(planned, Exception) else planned
        stopped = sorted({step.exercise for step in steps} & set(self._stopped))
        if stopped:  # it would call the code that hung (or crashed) again: 0, saying why
            self._mark(cell, index, "ExerciseStopped", "; ".join(
                f"not run: {name}'s code {self._stopped[name]} in an earlier cell"
                for name in stopped))
            return
        self._referee.testing({step.exercise for step in steps},
                              hidden={s.exercise for s in steps if s.kind == "check" and s.hidden})
        # the kernel runs the gradebook's test without its expected values
        running = copy.deepcopy(cell)
        try:
            running.source = judge.kernel_source(cell.source)
        except SyntaxError:
            pass  # the plan failed the same way: the cell scores 0, saying so
        try:
            self.execute_cell(running, index, store_history=True)
        except (DeadKernelError, CellTimeoutError):
            self._judge(self._restore(cell, running, index), index, *self._referee.done())
            raise
        self._judge(self._restore(cell, running, index), index, *self._referee.done())

    def _cell_exercises(self, cell, index: int) -> set[str]:
        """The exercises whose code a cell runs: a test cell's, from its plan (the
        gradebook's source); a solution cell's, its own (its grade_id).

        Any other cell (a demo, the student's own) belongs to no exercise: it may loop
        by itself, and must not cost an exercise its points.
        """
        if index in self._plans:
            planned = self._plans[index][1]
            return set() if isinstance(planned, Exception) else {s.exercise for s in planned}
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") != "code" or not meta.get("solution"):
            return set()
        # its own exercise only: a helper it also defines (even one named like another
        # exercise) is defined again by that exercise's own cell, which runs later
        return {meta.get("grade_id")} & set(self._exercises)

    def _restore(self, cell, running, index: int):
        """Put the gradebook's cell back in the notebook (nbclient stored the one that ran)."""
        cell.outputs = running.outputs
        cell.execution_count = running.get("execution_count")
        self.nb.cells[index] = cell
        return cell

    def _replay(self, cell, index: int, deadline: float):
        """Run a cell again in a fresh kernel, for its effects; its first outputs are kept."""
        self._set_cell_timeout(deadline)
        self.execute_cell(copy.deepcopy(cell), index, store_history=False)

    # -- verdicts ---------------------------------------------------------------------

    def _drawer(self, nb, resources):
        """draw(exercise): this student's fresh hidden cases, from the course's secret.

        The notebook's metadata names the secret (by fingerprint) and the recipe, for a
        regrade to draw the same cases.
        """
        info = resources.get("nbgrader") or {}
        # the submission as it is graded: the same notebook draws the same cases at every
        # regrade, a changed one (say, with the last draw's answers pasted in) new ones
        submission = hashlib.sha256(nbformat.writes(nb).encode()).hexdigest()[:16]
        configured = self.config.CourseDirectory.get("root")
        root = Path(self.secret_folder or (configured if isinstance(configured, str) else "")
                    or ".")
        key = secret.course_secret(root)
        assignment, student = str(info.get("assignment", "")), str(info.get("student", ""))
        nb.metadata["nncourse"] = {"hidden_cases": {
            "secret": secret.fingerprint(key),
            "seed": "sha256(secret, assignment, student, exercise, submission)",
            "assignment": assignment, "student": student, "submission": submission}}

        def draw(name: str):
            rng = np.random.default_rng(secret.seed(key, assignment, student, name,
                                                    submission))
            return fresh_draws(exercise(name), rng)

        return draw

    def _test_cell_plans(self, nb, resources) -> dict:
        """{cell index: (grade_id, planned calls)} for the test cells, from the gradebook's source."""
        from nbgrader.api import Gradebook, MissingEntry

        info = resources.get("nbgrader") or {}
        if not info.get("db_url"):
            return {}
        plans = {}
        with Gradebook(info["db_url"]) as gb:
            for index, cell in enumerate(nb.cells):
                meta = cell.metadata.get("nbgrader", {})
                if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
                    continue
                try:
                    source = gb.find_source_cell(meta["grade_id"], info["notebook"],
                                                 info["assignment"]).source
                except (MissingEntry, KeyError):
                    continue
                try:
                    planned = judge.plan(source)
                except Exception as exc:  # the instructor's test cell itself is broken
                    planned = exc
                plans[index] = (meta["grade_id"], planned)
        return plans

    def _judge(self, cell, index: int, records=(), flagged=()):
        grade_id, planned = self._plans[index]
        cell.source = judge.feedback_source(cell.source)
        if flagged:
            tested = sorted({step.exercise for step in planned})
            self._event(f"tampering: while {', '.join(tested)} was tested, the notebook called "
                        f"the course_lib reference {', '.join(sorted(set(flagged)))}")
            cell.outputs = [_error("ReferenceCalled", (
                f"While {', '.join(tested)} was tested, the notebook called the course_lib "
                f"reference {', '.join(sorted(set(flagged)))}. A solution must compute its "
                f"answer itself; this test scores 0."))]
            return
        if isinstance(planned, Exception):
            result = judge.Verdict(False, f"The test cell {grade_id} could not be planned by the "
                                          f"grader ({type(planned).__name__}: {planned}); tell "
                                          f"your instructor.")
        else:
            result = judge.verdict(planned, list(records), self._referee.drawn)
            if not result.passed:
                result = judge.Verdict(False, result.message + _kernel_error(cell))
        if result.passed:
            cell.outputs = [new_output("stream", name="stdout", text=result.message + "\n")]
        else:
            cell.outputs = [_error("ExerciseFailed", result.message)]

    def _event(self, line: str) -> None:
        """Note what happened for the report: only the grader writes these."""
        if line not in self._events:
            self._events.append(line)

    def _mark(self, cell, index: int, ename: str, text: str):
        self._event(_EVENTS[ename])
        if index in self._plans:  # a test cell that could not finish scores 0, saying why
            cell.outputs = [_error(ename, text)]
            cell.source = judge.feedback_source(cell.source)
        else:
            cell.outputs.append(_error(ename, text))

    # -- output cap -------------------------------------------------------------------

    def process_message(self, msg, cell, cell_index):
        """Count every output-bearing message against the cell's and the notebook's caps;
        past either, drop them."""
        if msg.get("msg_type") in _OUTPUT_MESSAGES:
            size = _size(msg)
            used = self._output_bytes.get(cell_index, 0)
            self._output_bytes[cell_index] = used + size
            self._notebook_bytes += size
            if used + size > self.max_output_bytes \
                    or self._notebook_bytes > self.max_notebook_output_bytes:
                if cell_index not in self._cut:
                    self._cut.add(cell_index)
                    self._event("output cut: the notebook printed more than the limit while "
                                "it ran")
                    cell.outputs.append(new_output("stream", name="stdout", text=(
                        f"\n[output cut by the grader: more than {self.max_output_bytes:,} "
                        f"bytes from this cell, or {self.max_notebook_output_bytes:,} from the "
                        f"notebook]\n")))
                return None
        return super().process_message(msg, cell, cell_index)


def _give_up(limit: int) -> None:
    sys.stderr.write(f"nncourse: grading one notebook took longer than its time limit "
                     f"({limit} s) and then some: this grading process stops\n")
    sys.stderr.flush()
    os._exit(70)


def _size(msg) -> int:
    """Bytes a kernel message makes the grader hold: its content and its binary buffers."""
    buffers = sum(len(b) for b in msg.get("buffers") or ())
    return len(json.dumps(msg.get("content", {}), default=str)) + buffers


def _error(ename: str, text: str):
    return new_output("error", ename=ename, evalue=text, traceback=[f"{ename}: {text}"])


def _kernel_error(cell) -> str:
    """The error the kernel showed in a test cell, if any, to explain missing results."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"\n  (the cell stopped with {out.get('ename')}: {str(out.get('evalue'))[:300]})"
    return ""


#: What the grader's own error outputs mean, for the grading report.
_EVENTS = {
    "DeadKernelError": "the kernel died in a cell (out of memory, or the code crashed it): "
                       "that cell's exercise scores 0, the rest was graded with a fresh kernel",
    "CellTimeoutError": "timed out: a cell ran past the time limit and was stopped; "
                        "the rest was graded with a fresh kernel",
    "NotebookTimeLimit": "the notebook's time limit was reached: the cells after it were not run",
    "TooManyRestarts": "the kernel died or hung too often: the rest of the notebook was not run",
    "ExerciseStopped": "the later test cells of an exercise whose code hung or killed the kernel "
                       "were not run again (they score 0)",
}

#: output types that cannot run anything where a graded notebook is shown (the formgrader,
#: nbgrader's HTML feedback): everything else a kernel sends (HTML, JavaScript, SVG,
#: Markdown...) is removed from the graded notebook
_INERT = {"text/plain", "image/png", "image/jpeg", "image/gif",
          "application/vnd.jupyter.widget-view+json"}


def _inert(nb) -> None:
    """Keep only inert representations of every display in the graded notebook."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data")
            if out.get("output_type") not in ("display_data", "execute_result") \
                    or not isinstance(data, dict):
                continue
            removed = sorted(set(data) - _INERT)
            for kind in removed:
                del data[kind]
            if removed and not data:
                data["text/plain"] = f"[{', '.join(removed)[:200]} output removed by the grader]"


def events(nb) -> list[str]:
    """Plain-words lines for what happened while a notebook was graded.

    They come from the graded notebook's metadata, which only the grader writes
    (:class:`GradingExecute`), never from the outputs, which the kernel can forge.
    """
    recorded = ((nb.get("metadata") or {}).get("nncourse") or {}).get("events") or []
    return [line for line in recorded if isinstance(line, str)]
