"""GradingExecute's own guarantees, apart from nbgrader: the time limit holds when the grader is stuck."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

STUCK = textwrap.dedent("""
    import time
    import nbformat
    from course_lib.grading.execute import GradingExecute

    step = GradingExecute(notebook_timeout=1, watchdog_margin=1, sandbox=False)
    step._test_cell_plans = lambda nb, resources: {}
    step._run_all = lambda nb: time.sleep(60)  # stuck where no cell limit reaches
    step.preprocess(nbformat.v4.new_notebook(), {})
    print("returned")
""")


def test_a_stuck_grader_ends_itself_when_the_notebook_time_limit_is_long_past(tmp_path):
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", STUCK], cwd=tmp_path, capture_output=True,
                          text=True, timeout=50)
    assert done.returncode == 70 and "returned" not in done.stdout
    assert "longer than its time limit (1 s)" in done.stderr
    assert time.monotonic() - start < 30
