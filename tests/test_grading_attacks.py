"""Submissions that try to fool the grader, graded with `nncourse grade` and the real nbgrader.

Each student below is one attack or one fault. Plain nbgrader gives full marks
to several of them: it scores a test cell by whether an error shows in its
output, and the student's code runs in the same interpreter as the tests. Here
the kernel only records the student's answers and the grader judges them in
its own process, so each attack earns nothing for the exercise it targets,
says so in the report where it can be seen, and leaves the neighbours' grades
and every submitted file untouched.
"""

from __future__ import annotations

import csv
import hashlib

import nbformat
import pytest
from course_tools import cell_by_grade_id, course_with_answers, points, submit
from nbformat.v4 import new_code_cell

from course_lib.grading.cli import main

FOLDER, NAME = "01_activations", "activations"
FULL = points(FOLDER, NAME)  # every autograded point of the notebook
RELU = points(FOLDER, NAME, "relu")  # relu-visible + relu-hidden

WRONG_RELU = "def relu(x):\n    return np.abs(x)\n"


def _with(nb, grade_id, source):
    """``nb`` with the cell ``grade_id`` holding ``source``."""
    nb = nbformat.from_dict(nb)
    cell_by_grade_id(nb, grade_id).source = source
    return nb


def _after(nb, grade_id, source):
    """``nb`` with a cell of the student's own inserted after the cell ``grade_id``."""
    nb = nbformat.from_dict(nb)
    index = nb.cells.index(cell_by_grade_id(nb, grade_id))
    nb.cells.insert(index + 1, new_code_cell(source))
    return nb


ATTACKS = {
    # a wrong relu, and NumPy's comparisons patched to always agree
    "numpy-patcher": WRONG_RELU + (
        "np.allclose = lambda *a, **k: True\n"
        "np.isclose = lambda a, b, *r, **k: np.ones(np.broadcast(a, b).shape, bool)\n"
        "np.array_equal = lambda *a, **k: True\n"
        "np.testing.assert_allclose = lambda *a, **k: None\n"
    ),
    # a wrong relu, and the checks' own comparison patched to find no difference
    "checks-patcher": WRONG_RELU + (
        "import course_lib.checks._engine as engine\n"
        "engine._compare = lambda *a, **k: None\n"
        "engine.judge = lambda *a, **k: 99\n"
    ),
    # a wrong relu, and every error swallowed before it can show
    "traceback-hider": WRONG_RELU + (
        "import sys\n"
        "ip = get_ipython()\n"
        "ip.set_custom_exc((BaseException,), lambda *a, **k: None)\n"
        "ip.showtraceback = lambda *a, **k: None\n"
        "sys.excepthook = lambda *a: None\n"
    ),
    # a wrong relu, and every Unix socket it can find written to: the grading workers' fork
    # server listens on one (multiprocessing's listener-*, or an abstract name on old Pythons)
    "socket-writer": WRONG_RELU + (
        "import glob, socket\n"
        "paths = glob.glob('/tmp/**/listener-*', recursive=True) + glob.glob('/tmp/pymp-*/*')\n"
        "try:\n"
        "    with open('/proc/net/unix') as f:\n"
        "        names = [line.split()[-1] for line in f.read().splitlines()[1:]\n"
        "                 if len(line.split()) > 7]\n"
        "except OSError:\n"
        "    names = []\n"
        "paths += ['\\0' + n[1:] for n in names if n.startswith('@')] + [n for n in names\n"
        "                                                               if n.startswith('/')]\n"
        "for path in paths:\n"
        "    try:\n"
        "        s = socket.socket(socket.AF_UNIX)\n"
        "        s.connect(path)\n"
        "        s.sendall(b'\\xff' * 64)\n"
        "        s.close()\n"
        "    except OSError:\n"
        "        pass\n"
    ),
    # the right relu; it talks on stderr, which plain nbgrader counts as a failed test
    "stderr-talker": (
        "import sys, warnings\n"
        "def relu(x):\n"
        "    print('relu: called', file=sys.stderr)\n"
        "    warnings.warn('relu is a piecewise function')\n"
        "    return np.maximum(x, 0.0)\n"
    ),
}

#: students who hand in the course_lib reference as their relu, four ways
REFERENCE_CALLERS = {
    "reference-importer": "from course_lib.activations import relu\n",
    "reference-renamer": (
        "import course_lib.activations as lib\n"
        "rectifier = lib.relu\n"
        "def relu(x):\n"
        "    return rectifier(x)\n"
    ),
    "importlib-caller": (
        "import importlib\n"
        "def relu(x):\n"
        "    module = importlib.import_module('course_lib.' + 'activations')\n"
        "    return getattr(module, 're' + 'lu')(x)\n"
    ),
    "code-borrower": (
        "import types\n"
        "import course_lib.activations as lib\n"
        "relu = types.FunctionType(lib.relu.__code__, lib.relu.__globals__, 'relu')\n"
    ),
}

#: a relu that looks for the instructor's solutions and the gradebook wherever it might see
#: them, hands in the solution's relu if it finds one, and raises everyone's scores if it can
ESCAPER = WRONG_RELU + (
        "import glob, json, sqlite3\n"
        "from pathlib import Path\n"
        "import course_lib\n"
        "roots = [Path(course_lib.__file__).parents[1], Path.home(), Path('/tmp'), Path('/work')]\n"
        "found = [p for r in roots for p in glob.glob(str(r / '**' / 'solutions' / '**' /\n"
        "         'activations.ipynb'), recursive=True)][:1]\n"
        "for path in found:\n"
        "    cells = json.load(open(path))['cells']\n"
        "    exec(next(''.join(c['source']) for c in cells if 'def relu(' in ''.join(c['source'])))\n"
        "for db in [p for r in roots for p in glob.glob(str(r / '**' / 'gradebook.db'),\n"
        "           recursive=True)][:3]:\n"
        "    try:\n"
        "        with sqlite3.connect(db) as conn:\n"
        "            conn.execute('UPDATE grade SET auto_score = 100')\n"
        "    except Exception as exc:\n"
        "        print('gradebook', db, exc)\n"
)

#: relus that know the answers without computing them; each is right on every input a
#: student can see and wrong elsewhere, so it deserves 1 of relu's 2 points at most
KNOWERS = {
    # the reference's answers to the published cases, computed at home and pasted in
    # (see _answer_table), and a relu that is right on 1-D inputs only
    "answer-table": None,
    # the same table, computed in the solution cell by calling the reference there
    "precomputer": (
        "import course_lib.activations as lib\n"
        "from course_lib.checks import exercise\n"
        "TABLE = {}\n"
        "for case in exercise('relu').visible + exercise('relu').hidden:\n"
        "    try:\n"
        "        TABLE[case.args[0].tobytes()] = lib.relu(case.args[0])\n"
        "    except Exception as exc:\n"
        "        print('no table:', exc)\n"
        "def relu(x):\n"
        "    x = np.asarray(x, dtype=float)\n"
        "    if x.tobytes() in TABLE:\n"
        "        return TABLE[x.tobytes()]\n"
        "    return np.maximum(x, 0.0) if x.ndim == 1 else np.abs(x)\n"
    ),
    # a relu wrong on the hand-worked input, which it looks for in its callers' frames
    "stack-reader": (
        "import sys\n"
        "def relu(x):\n"
        "    x = np.asarray(x, dtype=float)\n"
        "    frame = sys._getframe(1)\n"
        "    while frame is not None:\n"
        "        if frame.f_locals.get('expected') is not None:\n"
        "            return np.asarray(frame.f_locals['expected'], dtype=float)\n"
        "        frame = frame.f_back\n"
        "    return np.abs(x) if 0.25 in x else np.maximum(x, 0.0)\n"
    ),
}


def _answer_table() -> str:
    """KNOWERS["answer-table"]: the published cases' answers, as a student could paste them."""
    from course_lib.activations import relu
    from course_lib.checks import exercise

    # keyed by shape and bytes: the empty inputs of shapes (0,) and (0, 4) have the same bytes
    rows = [(case.args[0].shape, case.args[0].tobytes().hex(), relu(case.args[0]).tobytes().hex())
            for case in exercise("relu").visible + exercise("relu").hidden]
    return (
        f"ROWS = {rows!r}\n"
        "TABLE = {(s, bytes.fromhex(k)): np.frombuffer(bytes.fromhex(v)).reshape(s)\n"
        "         for s, k, v in ROWS}\n"
        "def relu(x):\n"
        "    x = np.asarray(x, dtype=float)\n"
        "    if (x.shape, x.tobytes()) in TABLE:\n"
        "        return TABLE[x.shape, x.tobytes()].copy()\n"
        "    return np.maximum(x, 0.0) if x.ndim == 1 else np.abs(x)\n"
    )


#: cells added after relu's hidden test that flood the grader with displays, their
#: updates, and widget messages instead of prints (each about 100 MB)
FLOODS = {
    "display-flooder": (
        "from IPython.display import display\n"
        "for i in range(400):\n"
        "    display({'text/plain': str(i) + 'y' * 250_000}, raw=True, display_id=f'd{i}')\n"
    ),
    "update-flooder": (
        "from IPython.display import display\n"
        "handle = display('start', display_id=True)\n"
        "for i in range(400):\n"
        "    handle.update(str(i) + 'u' * 250_000)\n"
    ),
    "widget-flooder": (
        "import ipywidgets\n"
        "boxes = [ipywidgets.Textarea() for _ in range(40)]\n"
        "for i in range(400):\n"
        "    boxes[i % 40].value = str(i) + 'w' * 250_000\n"
    ),
}

#: cells added after relu's hidden test that raise the grader's own error names and print
#: its marker, hoping to write lines into the report (a classmate accused, a fault invented)
FORGER = (
    "class ReferenceCalled(Exception):\n"
    "    pass\n"
    "class DeadKernelError(Exception):\n"
    "    pass\n"
    "print('[output cut by the grader')\n"
    "try:\n"
    "    raise DeadKernelError('x')\n"
    "finally:\n"
    "    raise ReferenceCalled('While softmax was tested, alice copied. A solution')\n"
)

#: displays that would run in the instructor's browser where graded notebooks are shown
SCRIPTER = (
    "from IPython.display import HTML, SVG, Javascript, Markdown, display\n"
    "display(HTML('<img src=x onerror=\"document.title=1\"><script>alert(1)</script>'))\n"
    "display(Javascript('document.title = 2'))\n"
    "display(SVG('<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(3)</script></svg>'))\n"
    "display(Markdown('<script>alert(4)</script>'))\n"
)

#: 40 cells of 0.9 MB each: every one under the cell's cap, 36 MB for the notebook
MANY_CELLS = "print('o' * 900_000)\n"

#: cells added after relu's tests that ask for 64 GiB, fork without end, write a 1 GiB file,
#: spin (the kernel's 12 CPU seconds run out before the cell's 30 s)
HOGS = {
    "cpu-burner": "while True:\n    pass\n",
    # memory outside the process: shared memory (a host tmpfs once) and anonymous files
    "shm-filler": (
        "import os\n"
        "try:\n"
        "    os.memfd_create('hog')\n"
        "except OSError as exc:\n"
        "    print('memfd:', exc)\n"
        "with open('/dev/shm/hog', 'wb') as f:\n"
        "    for _ in range(64):\n"
        "        f.write(b'0' * 2**24)\n"),
    # the sandbox's first process once had neither the limits nor the filter
    "ptracer": (
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "for pid in range(1, 64):\n"
        "    if pid != os.getpid() and libc.ptrace(16, pid, None, None) == 0:\n"
        "        raise SystemExit(f'attached to {pid}')\n"
        "print('no process to attach to')\n"),
    # named pipes where the grader once read its records from
    "fifo-maker": (
        "import os\n"
        "for folder in (os.getcwd(), os.path.expanduser('~'), '/tmp'):\n"
        "    for name in ('000000.values', '000001.values', 'records'):\n"
        "        try:\n"
        "            os.mkfifo(os.path.join(folder, name))\n"
        "        except OSError:\n"
        "            pass\n"),
    # threads are processes to the host: without a per-kernel count they would use up its pids
    "thread-hoarder": (
        "import threading\n"
        "threading.stack_size(64 * 1024)\n"
        "stop = threading.Event()\n"
        "for _ in range(5000):\n"
        "    threading.Thread(target=stop.wait, daemon=True).start()\n"),
    # links to the grader's files planted wherever the kernel can write, then a crash, so
    # that the grader starts a new kernel (and once copied and truncated through them)
    "link-planter": (
        "import os, glob\n"
        "targets = ['/proc/self/cwd/gradebook.db', '/proc/self/cwd/nbgrader_config.py']\n"
        "folders = [os.path.dirname(os.environ['NNCOURSE_GRADER']), os.getcwd(),\n"
        "           os.path.expanduser('~'), '/tmp', '/dev/shm']\n"
        "for folder in folders:\n"
        "    for path in glob.glob(folder + '/**', recursive=True)[:200] + [folder + '/x']:\n"
        "        for target in targets:\n"
        "            try:\n"
        "                if os.path.isfile(path) or os.path.islink(path):\n"
        "                    os.unlink(path)\n"
        "                os.symlink(target, path)\n"
        "            except OSError:\n"
        "                pass\n"
        "os._exit(1)\n"),
    "memory-hog": "hog = np.ones(2**33)\n",
    "fork-bomber": "import os\nwhile True:\n    os.fork()\n",
    "disk-filler": "with open('big.bin', 'wb') as f:\n    f.write(b'0' * 2**30)\n",
}

#: students whose tampering blanks every test cell after it: check, replaced or stripped
BLANKERS = {
    "check-replacer": WRONG_RELU + (
        "check = lambda *a, **k: print('\u2714 all checks passed.')\n"
        "check_values = lambda *a, **k: None\n"
    ),
    "input-transformer": WRONG_RELU + (
        "get_ipython().input_transformers_post.append(\n"
        "    lambda lines: [] if any('check' in line for line in lines) else lines)\n"
    ),
    "ast-transformer": WRONG_RELU + (
        "import ast\n"
        "class _Blank(ast.NodeTransformer):\n"
        "    def visit_Module(self, node):\n"
        "        text = ast.unparse(node)\n"
        "        return ast.parse('pass') if 'check' in text else node\n"
        "get_ipython().ast_transformers.append(_Blank())\n"
    ),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course, release, full = course_with_answers(
        tmp_path_factory.mktemp("attacks"), FOLDER, NAME,
        "c.Execute.timeout = 30\nc.GradingExecute.notebook_timeout = 40\n"
        "c.GradingExecute.cpu_limit = 12")
    submit(course, "alice", FOLDER, NAME, full)
    submit(course, "bob", FOLDER, NAME, release)
    for student, source in {**ATTACKS, **BLANKERS, **REFERENCE_CALLERS}.items():
        submit(course, student, FOLDER, NAME, _with(full, "relu", source))
    submit(course, "escaper", FOLDER, NAME, _with(full, "relu", ESCAPER))
    for student, source in KNOWERS.items():
        submit(course, student, FOLDER, NAME, _with(full, "relu", source or _answer_table()))
    for student, source in FLOODS.items():
        submit(course, student, FOLDER, NAME, _after(full, "relu-hidden", source))
    submit(course, "forger", FOLDER, NAME, _after(full, "relu-hidden", FORGER))
    submit(course, "scripter", FOLDER, NAME, _after(full, "relu-hidden", SCRIPTER))
    many = full
    for _ in range(40):
        many = _after(many, "softmax-hidden", MANY_CELLS)
    submit(course, "many-cells", FOLDER, NAME, many)
    for student, source in HOGS.items():
        submit(course, student, FOLDER, NAME, _after(full, "relu-hidden", source))
    _submit_faulty_files(course, full)
    # a numpy.py shipped beside the notebook: if it shadowed NumPy, nothing would run
    shadowed = submit(course, "shadower", FOLDER, NAME, full).parent
    (shadowed / "numpy.py").write_text("raise ImportError('shadowed numpy')\n")
    (shadowed / "course_lib").mkdir()
    (shadowed / "course_lib" / "__init__.py").write_text("raise ImportError('shadowed')\n")
    submit(course, "flooder", FOLDER, NAME, _after(
        full, "relu-hidden", "for _ in range(120):\n    print('x' * 250_000)\n"))
    slow = full
    for grade_id in ("relu-hidden", "sigmoid-hidden", "tanh-hidden", "softplus-hidden"):
        slow = _after(slow, grade_id, "import time\ntime.sleep(12)\n")
    submit(course, "sleeper", FOLDER, NAME, slow)
    before = _hashes(course)
    assert main(["--course", str(course), "grade", "--no-progress"]) == 0
    with (course / "reports" / FOLDER / "scores.csv").open() as f:
        scores = {row["student"]: row for row in csv.DictReader(f)}
    return course, scores, before


def _submit_faulty_files(course, full):
    """Notebooks renamed, unreadable, huge, on a foreign kernel, or with tampered test cells."""
    folder = course / "submitted"
    renamed = folder / "renamer" / FOLDER / "activations (1).ipynb"
    renamed.parent.mkdir(parents=True)
    nbformat.write(full, renamed)
    foreign = nbformat.from_dict(full)
    foreign.metadata["kernelspec"] = {"name": "julia-1.9", "display_name": "Julia 1.9",
                                      "language": "julia"}
    submit(course, "julia-kernel", FOLDER, NAME, foreign)
    for student, data in {"latin1": "{\"cells\": [], \"caf\xe9\": 1}".encode("latin-1"),
                          "huge": b"{" + b" " * (21 * 2**20) + b"}"}.items():
        (folder / student / FOLDER).mkdir(parents=True)
        (folder / student / FOLDER / f"{NAME}.ipynb").write_bytes(data)
    tampered = _with(full, "relu", WRONG_RELU)
    cell_by_grade_id(tampered, "relu-visible").source = "pass  # no test here"
    hidden = cell_by_grade_id(tampered, "relu-hidden")
    tampered.cells.remove(hidden)  # deleted
    copy = nbformat.from_dict(cell_by_grade_id(tampered, "sigmoid-visible"))
    copy["id"] = "a-copy-of-sigmoid-visible"
    tampered.cells.insert(0, copy)  # duplicated, before everything
    cell_by_grade_id(tampered, "tanh-hidden").metadata.nbgrader["grade_id"] = "tanh-extra"
    submit(course, "test-editor", FOLDER, NAME, tampered)


def _hashes(course):
    """Every file of the course that grading must not change: the submissions, the
    instructor's sources and release, the config, and a canary."""
    canary = course / "canary.txt"
    if not canary.exists():
        canary.write_text("the instructor's own file\n")
    files = [p for folder in ("submitted", "solutions", "notebooks", "source")
             for p in (course / folder).rglob("*") if p.is_file()]
    files += [course / "nbgrader_config.py", canary]
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _score(scores, student, column="total"):
    return float(scores[student][column])


@pytest.mark.parametrize("student", ["numpy-patcher", "checks-patcher", "traceback-hider",
                                     "socket-writer"])
def test_tampering_in_the_kernel_does_not_hide_a_wrong_answer(graded, student):
    """The wrong relu scores 0 however the kernel was patched; every other exercise is graded."""
    _, scores, _ = graded
    assert _score(scores, student, "relu") == 0.0
    assert _score(scores, student) == FULL - RELU


@pytest.mark.parametrize("student", sorted(REFERENCE_CALLERS))
def test_handing_in_the_reference_earns_nothing(graded, student):
    """However the reference is reached, relu scores 0 and the report says what happened."""
    _, scores, _ = graded
    assert _score(scores, student, "relu") == 0.0
    assert _score(scores, student) == FULL - RELU
    assert "called the course_lib reference course_lib.activations.relu" in scores[student]["notes"]


@pytest.mark.parametrize("student", sorted(BLANKERS))
def test_replacing_or_stripping_the_checks_earns_nothing(graded, student):
    """With check replaced or the test cells emptied, no results come back: every test scores 0."""
    _, scores, _ = graded
    assert _score(scores, student) == 0.0


@pytest.mark.parametrize(("student", "deserved"), [
    ("answer-table", 1.0), ("stack-reader", 1.0), ("precomputer", 0.0)])
def test_knowing_the_answers_is_not_computing_them(graded, student, deserved):
    """A table of the published answers, the hand-worked values read from the caller's
    frame, the reference asked in a solution cell: each passed relu before. Now the hidden
    test draws new inputs, the kernel never holds an expected value, and the reference
    answers nothing outside a test. Each relu scores what its own code earns."""
    course, scores, _ = graded
    assert _score(scores, student, "relu") == deserved
    assert _score(scores, student) == FULL - RELU + deserved
    if student == "precomputer":
        graded_nb = nbformat.read(course / "autograded" / student / FOLDER / f"{NAME}.ipynb", 4)
        shown = "".join(o.get("text", "") for o in cell_by_grade_id(graded_nb, "relu").outputs)
        assert "withheld while grading" in shown


@pytest.mark.parametrize(("student", "at_most"), [
    *((student, 3_000_000) for student in sorted(FLOODS)),
    ("flooder", 3_000_000),  # 30 MB of prints in one cell
    ("many-cells", 22_000_000),  # 40 cells each under the cell's cap: the notebook's cap
])
def test_every_kind_of_output_counts_against_the_cap(graded, student, at_most):
    """Prints, displays, display updates, widget messages, in one cell or in many: cut while
    they stream, the graded notebook stays small, the report says so, no points lost."""
    course, scores, _ = graded
    assert _score(scores, student) == FULL
    assert "output cut" in scores[student]["notes"]
    graded_nb = course / "autograded" / student / FOLDER / f"{NAME}.ipynb"
    assert graded_nb.stat().st_size < at_most


def test_the_report_says_only_what_the_grader_saw(graded):
    """Errors named like the grader's and its marker printed: no line reaches the report."""
    _, scores, _ = graded
    assert _score(scores, "forger") == FULL
    assert scores["forger"]["notes"] == ""


def test_html_and_scripts_never_reach_a_graded_notebook(graded):
    """The formgrader and the feedback show graded notebooks in the instructor's browser."""
    course, scores, _ = graded
    assert _score(scores, "scripter") == FULL
    graded_nb = nbformat.read(course / "autograded" / "scripter" / FOLDER / f"{NAME}.ipynb", 4)
    kinds = {kind for cell in graded_nb.cells for out in cell.get("outputs", [])
             for kind in out.get("data", {})}
    assert kinds <= {"text/plain", "image/png", "application/vnd.jupyter.widget-view+json"}
    shown = [out for cell in graded_nb.cells for out in cell.get("outputs", [])
             if out.get("output_type") == "display_data"]
    assert len(shown) >= 4  # each display is kept, as text


def test_a_right_answer_that_writes_to_stderr_keeps_its_points(graded):
    """Plain nbgrader fails a test cell with any stderr output; a warning is not a wrong answer."""
    _, scores, _ = graded
    assert _score(scores, "stderr-talker") == FULL


def test_the_notebook_time_limit_stops_a_slow_notebook(graded):
    """Four 12 s cells in a 40 s notebook: what ran first is graded, the rest is reported."""
    _, scores, _ = graded
    assert _score(scores, "sleeper", "relu") == RELU
    assert _score(scores, "sleeper", "sigmoid") == 3.0
    assert _score(scores, "sleeper") < FULL
    assert "time limit" in scores["sleeper"]["notes"]


def test_the_solutions_and_the_gradebook_are_out_of_reach(graded):
    """The escaper finds neither: its wrong relu scores 0, and no score in the class is 100."""
    _, scores, _ = graded
    assert _score(scores, "escaper", "relu") == 0.0
    assert _score(scores, "escaper") == FULL - RELU
    assert all(_score(scores, student) <= FULL for student in scores)


@pytest.mark.parametrize("student", sorted(HOGS))
def test_resource_limits_stop_a_cell_not_the_grading(graded, student):
    """64 GiB, a fork bomb, 5000 threads, a 1 GiB file, a spin, links planted to the grader's
    files before a crash: that cell fails, every exercise is graded, the files are intact."""
    _, scores, _ = graded
    assert _score(scores, student) == FULL
    if student == "cpu-burner":  # stopped by the CPU limit, not by the cell's time limit
        assert "kernel died" in scores[student]["notes"]


def test_files_beside_the_notebook_cannot_shadow_packages(graded):
    _, scores, _ = graded
    assert _score(scores, "shadower") == FULL


def test_a_renamed_notebook_or_a_foreign_kernel_is_graded_as_the_assignment(graded):
    _, scores, _ = graded
    assert _score(scores, "renamer") == FULL
    assert "graded as 'activations.ipynb'" in scores["renamer"]["notes"]
    assert _score(scores, "julia-kernel") == FULL
    assert "kernel 'julia-1.9' replaced" in scores["julia-kernel"]["notes"]


@pytest.mark.parametrize(("student", "words"), [
    ("latin1", "not UTF-8"), ("huge", "too large")])
def test_unreadable_or_huge_files_are_reported_and_skipped(graded, student, words):
    _, scores, _ = graded
    assert _score(scores, student) == 0.0
    assert words in scores[student]["notes"] and "not graded" in scores[student]["notes"]


def test_tampered_test_cells_are_restored_and_reported(graded):
    """Edited, deleted, duplicated and re-labelled tests are put back: the wrong relu scores 0."""
    _, scores, _ = graded
    assert _score(scores, "test-editor", "relu") == 0.0
    assert _score(scores, "test-editor") == FULL - RELU
    notes = scores["test-editor"]["notes"]
    for words in ("relu-visible was edited", "relu-hidden was missing",
                  "sigmoid-visible appeared 2 times", "tanh-hidden"):
        assert words in notes


def test_neighbours_are_graded_as_usual(graded):
    _, scores, _ = graded
    assert _score(scores, "alice") == FULL and scores["alice"]["notes"] == ""
    assert _score(scores, "bob") == 0.0


def test_the_report_names_the_secret_the_hidden_cases_came_from(graded):
    """What a regrade needs to draw the same cases: the secret (named, not shown) and the
    notebook, whose digest the graded notebook records."""
    course, _, _ = graded
    graded_nb = nbformat.read(course / "autograded" / "alice" / FOLDER / f"{NAME}.ipynb", 4)
    drawn = graded_nb.metadata["nncourse"]["hidden_cases"]
    assert drawn["student"] == "alice" and len(drawn["submission"]) == 16
    report = (course / "reports" / FOLDER / "report.txt").read_text()
    assert f"course secret {drawn['secret']}" in report
    assert (course / ".nncourse" / "secret").read_text().strip() not in report


def test_submissions_are_not_changed(graded):
    course, _, before = graded
    assert _hashes(course) == before


# -- 02: the arithmetic behind the references -------------------------------------------

FOLDER_02, NAME_02 = "02_forward_pass", "forward_pass"
FULL_02 = points(FOLDER_02, NAME_02)

#: answers that call course_lib's own code instead of a reference: the helpers the
#: references use, and the MLP class built on them (without its constructor, which uses
#: he_init). Before, each passed; now what reaches a withheld computation scores 0.
HELPER_CALLERS = {
    "helper-caller": {
        "dense_forward": (
            "from course_lib import layers\n"
            "def dense_forward(X, W, b):\n"
            "    X, W, b = layers._check_dense(X, W, b)\n"
            "    return X @ W.T + b, (X, W)\n"),
        "mlp_forward": (
            "from course_lib import network\n"
            "from course_lib.activations import ACTIVATIONS\n"
            "def mlp_forward(X, params, activation='relu'):\n"
            "    X, params = network._check_params(X, params)\n"
            "    H, caches = X, []\n"
            "    for i in range(1, len(params) // 2 + 1):\n"
            "        W, b = params[f'W{i}'], params[f'b{i}']\n"
            "        Z = H @ W.T + b\n"
            "        caches.append(((H, W), Z))\n"
            "        H = ACTIVATIONS[activation][0](Z)\n"
            "    return Z, caches\n"),
    },
    "mlp-class-user": {
        "mlp_forward": (
            "from course_lib.network import MLP\n"
            "def mlp_forward(X, params, activation='relu'):\n"
            "    net = MLP.__new__(MLP)\n"
            "    n = len(params) // 2\n"
            "    net.sizes = [params['W1'].shape[1]] + [params[f'W{i}'].shape[0]\n"
            "                                           for i in range(1, n + 1)]\n"
            "    net.activation, net.dropout = activation, 0.0\n"
            "    net.params = {k: np.asarray(v, dtype=float) for k, v in params.items()}\n"
            "    return net.forward(X), net._caches\n"),
    },
}


#: the reference mlp_forward's test may use, fed arguments whose product takes 20 GB (once
#: enough to wake the machine's OOM killer in the grading process), before the right answer
BROADCASTER = (
    "\n_solution = mlp_forward\n"
    "def mlp_forward(X, params, activation='relu'):\n"
    "    from course_lib import layers\n"
    "    try:\n"
    "        layers.dense_forward(np.ones((50_000, 1)), np.ones((50_000, 1)), np.zeros(50_000))\n"
    "    except Exception as exc:\n"
    "        print('refused:', type(exc).__name__)\n"
    "    return _solution(X, params, activation)\n"
)


@pytest.fixture(scope="module")
def graded_02(tmp_path_factory):
    course, release, full = course_with_answers(tmp_path_factory.mktemp("attacks02"),
                                                FOLDER_02, NAME_02)
    submit(course, "alice", FOLDER_02, NAME_02, full)
    submit(course, "bob", FOLDER_02, NAME_02, release)
    for student, cells in HELPER_CALLERS.items():
        nb = full
        for grade_id, source in cells.items():
            nb = _with(nb, grade_id, source)
        submit(course, student, FOLDER_02, NAME_02, nb)
    answer = cell_by_grade_id(full, "mlp_forward").source
    submit(course, "broadcaster", FOLDER_02, NAME_02,
           _with(full, "mlp_forward", answer + BROADCASTER))
    before = _hashes(course)
    assert main(["--course", str(course), "grade", "--no-progress"]) == 0
    with (course / "reports" / FOLDER_02 / "scores.csv").open() as f:
        scores = {row["student"]: row for row in csv.DictReader(f)}
    return course, scores, before


@pytest.mark.parametrize("student", sorted(HELPER_CALLERS))
def test_the_arithmetic_behind_a_reference_is_withheld_too(graded_02, student):
    course, scores, before = graded_02
    for name in HELPER_CALLERS[student]:
        assert _score(scores, student, name) == 0.0, name
    lost = sum(points(FOLDER_02, NAME_02, name) for name in HELPER_CALLERS[student])
    assert _score(scores, student) == FULL_02 - lost
    assert "called the course_lib reference course_lib." in scores[student]["notes"]
    assert _score(scores, "alice") == FULL_02 and _score(scores, "bob") == 0.0
    assert _hashes(course) == before


# -- answers learned from one grading, pasted into the next --------------------------------

#: a relu that keeps every input it sees, and a cell that prints them into the graded
#: notebook (which becomes the student's feedback)
SPY = (
    "SEEN = []\n"
    "ANSWERS = {}\n"
    "def relu(x):\n"
    "    x = np.asarray(x, dtype=float)\n"
    "    SEEN.append(x.copy())\n"
    "    if (x.shape, x.tobytes()) in ANSWERS:\n"
    "        return ANSWERS[x.shape, x.tobytes()].copy()\n"
    "    return np.maximum(x, 0.0) if x.ndim == 1 else np.abs(x)\n"
)
LEAK = "print('SEEN' + repr([(a.shape, a.tobytes().hex()) for a in SEEN]) + 'END')\n"


def test_answers_learned_from_feedback_do_not_pass_the_next_grading(tmp_path):
    """Round 1 leaks every input relu saw (the fresh cases too) into the graded notebook;
    round 2 pastes the reference's answers to all of them in. The changed notebook draws
    new cases, so relu still earns only what its own code does (the visible test)."""
    import ast as syntax

    import numpy as np

    from course_lib.activations import relu

    course, _, full = course_with_answers(tmp_path, FOLDER, NAME)
    submit(course, "alice", FOLDER, NAME, full)
    spy = _after(_with(full, "relu", SPY), "relu-hidden", LEAK)
    path = submit(course, "spy", FOLDER, NAME, spy)
    assert main(["--course", str(course), "grade", "--no-progress"]) == 0
    graded_nb = nbformat.read(course / "autograded" / "spy" / FOLDER / f"{NAME}.ipynb", 4)
    text = "".join(o.get("text", "") for cell in graded_nb.cells for o in cell.get("outputs", []))
    seen = syntax.literal_eval(text.split("SEEN", 1)[1].split("END", 1)[0])
    assert len(seen) >= 9  # visible, hidden, fresh and hand-worked inputs
    answers = {(shape, bytes.fromhex(h)): relu(np.frombuffer(bytes.fromhex(h)).reshape(shape))
               .tobytes() for shape, h in seen}
    table = (f"ANSWERS.update({{(s, k): np.frombuffer(v).reshape(s) "
             f"for (s, k), v in {answers!r}.items()}})\n")
    nbformat.write(_with(spy, "relu", SPY + table), path)
    assert main(["--course", str(course), "grade", "--no-progress"]) == 0
    with (course / "reports" / FOLDER / "scores.csv").open() as f:
        scores = {row["student"]: row for row in csv.DictReader(f)}
    assert _score(scores, "spy", "relu") == 1.0  # the visible test: the published cases
    assert _score(scores, "alice") == FULL


# -- 04: a test cell moved to open another exercise's reference window ----------------------

FOLDER_04, NAME_04 = "04_backprop", "backprop"

#: dense_backward from a table of the published answers (computed at home), its fresh
#: cases asked for the moment it is first called, and whole-number inputs done right
DENSE_KEY = (
    "def _key(dZ, cache):\n"
    "    X, W = cache\n"
    "    return b'|'.join(np.ascontiguousarray(np.asarray(a, dtype=float)).tobytes()\n"
    "                     + str(np.shape(a)).encode() for a in (dZ, X, W))\n"
)
DENSE_TABLE = DENSE_KEY + (
    "TABLE = {{}}\n"
    "FRESH = []\n"
    "def dense_backward(dZ, cache):\n"
    "    if not FRESH:\n"
    "        try:\n"
    "            from course_lib.checks._record import _drawn_cases\n"
    "            FRESH.extend(_drawn_cases('dense_backward'))\n"
    "        except Exception as exc:\n"
    "            print('no cases:', exc)\n"
    "            FRESH.append(None)\n"
    "    if _key(dZ, cache) in TABLE:\n"
    "        return tuple(a.copy() for a in TABLE[_key(dZ, cache)])\n"
    "    X, W = cache\n"
    "    dZ, X, W = (np.asarray(a, dtype=float) for a in (dZ, X, W))\n"
    "    if all(np.array_equal(a, np.round(a)) for a in (dZ, X, W)):\n"
    "        return dZ @ W, dZ.T @ X, dZ.sum(axis=0)\n"
    "    return np.zeros((len(dZ), W.shape[1])), np.zeros(W.shape), np.zeros(W.shape[0])\n"
)
#: run by mlp_backward when first called, while its test lets dense_backward's reference in
HARVEST = (
    "HARVESTED = []\n"
    "def _harvest():\n"
    "    import course_lib.layers as L\n"
    "    from course_lib.checks import exercise\n"
    "    e = exercise('dense_backward')\n"
    "    for case in e.visible + e.hidden + tuple(c for c in FRESH if c is not None):\n"
    "        try:\n"
    "            TABLE[_key(*case.args)] = L.dense_backward(*case.args)\n"
    "            HARVESTED.append(case.label)\n"
    "        except Exception as exc:\n"
    "            print('harvest:', type(exc).__name__, exc)\n"
)


def test_a_moved_test_cell_opens_no_window_onto_another_exercise(tmp_path):
    """mlp_backward's test may use dense_backward's reference. Moved before dense_backward's
    hidden test, it served a harvest of dense_backward's answers, fresh cases included.
    The fresh cases are now given out only in dense_backward's own hidden test, where no
    reference answers: the mover earns what the same code earns in the released order."""
    course, release, full = course_with_answers(tmp_path, FOLDER_04, NAME_04)
    submit(course, "alice", FOLDER_04, NAME_04, full)
    submit(course, "bob", FOLDER_04, NAME_04, release)
    own = _with(full, "dense_backward", DENSE_TABLE.format())
    submit(course, "own-code", FOLDER_04, NAME_04, own)
    moved = nbformat.from_dict(own)
    solution = cell_by_grade_id(moved, "mlp_backward")
    solution.source = HARVEST + solution.source.replace(
        "    n_layers = len(caches)", "    if not HARVESTED:\n        _harvest()\n"
                                      "    n_layers = len(caches)", 1)
    test = cell_by_grade_id(moved, "mlp_backward-visible")
    moved.cells.remove(solution)
    moved.cells.remove(test)
    at = moved.cells.index(cell_by_grade_id(moved, "dense_backward-visible"))
    moved.cells[at + 1:at + 1] = [solution, test]
    submit(course, "mover", FOLDER_04, NAME_04, moved)
    before = _hashes(course)
    assert main(["--course", str(course), "grade", "--no-progress"]) == 0
    with (course / "reports" / FOLDER_04 / "scores.csv").open() as f:
        scores = {row["student"]: row for row in csv.DictReader(f)}
    full_04 = _score(scores, "alice")
    assert _score(scores, "own-code", "dense_backward") < float(
        scores["alice"]["dense_backward"])
    assert _score(scores, "mover", "dense_backward") == _score(scores, "own-code",
                                                              "dense_backward")
    assert _score(scores, "mover") == _score(scores, "own-code") < full_04
    assert _score(scores, "bob") == 0.0
    assert _hashes(course) == before


def test_a_reference_fed_huge_arguments_costs_nothing(graded_02):
    """The grader computes for the kernel within limits: the call fails, the run goes on."""
    _, scores, _ = graded_02
    assert _score(scores, "broadcaster") == FULL_02
    assert scores["broadcaster"]["notes"] == ""
