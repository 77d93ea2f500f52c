"""The grading sandbox: each test runs a real kernel in bwrap, through nbclient or jupyter_client.

The cells below are what a hostile student could write; each test checks that the
sandbox stops it and that the kernel (where it should) keeps working afterwards.
"""

from __future__ import annotations

import asyncio
import errno
import shutil
import socket
import time
from pathlib import Path

import pytest
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat.v4 import new_code_cell, new_notebook

import course_lib
from course_lib.grading import sandbox
from course_lib.grading.sandbox import (
    Limits,
    SandboxKernelManager,
    SandboxUnavailable,
    check_available,
    kernel_argv,
)

REPO = Path(course_lib.__file__).resolve().parent.parent
COURSE_LIB = Path(course_lib.__file__).resolve().parent
_METADATA = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}


@pytest.fixture(scope="module", autouse=True)
def bwrap_installed():
    """Fail (never skip) when bubblewrap is missing, with the command that installs it."""
    try:
        check_available()
    except SandboxUnavailable as exc:
        pytest.fail(str(exc))


def run(tmp_path: Path, cells: list[str], *, folder: Path | None = None, timeout=60, **traits):
    """Run ``cells`` in a sandboxed kernel (errors allowed); return the text of each cell."""
    nb = new_notebook(cells=[new_code_cell(source) for source in cells], metadata=_METADATA)
    folder = folder or tmp_path / "submitted"
    folder.mkdir(exist_ok=True)
    client = NotebookClient(nb, kernel_manager_class=SandboxKernelManager, timeout=timeout,
                            allow_errors=True, resources={"metadata": {"path": str(folder)}},
                            extra_arguments=["--HistoryManager.hist_file=:memory:"])
    traits.setdefault("workdir", tmp_path / "w")
    traits.setdefault("course_lib_dir", COURSE_LIB)
    client.execute(**traits)
    return [_text(cell) for cell in nb.cells]


def _text(cell) -> str:
    parts = []
    for out in cell.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}\n")
        elif "text/plain" in out.get("data", {}):
            parts.append(out.data["text/plain"] + "\n")
    return "".join(parts)


def test_a_normal_notebook_works_and_starts_quickly(tmp_path):
    """numpy, a matplotlib figure and print work; the start time is printed."""

    async def start():
        km = SandboxKernelManager(workdir=str(tmp_path / "w"), course_lib_dir=str(COURSE_LIB))
        began = time.monotonic()
        await km.start_kernel()
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            return time.monotonic() - began
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)

    seconds = asyncio.run(start())
    print(f"sandboxed kernel ready in {seconds:.2f} s")
    (tmp_path / "nb").mkdir()
    out = run(tmp_path / "nb", [
        "import numpy as np\nprint(np.arange(4) @ np.arange(4))",
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots()\nax.plot([1, 2, 3])\nax.set_title('t')\n"
        "fig.savefig('/tmp/f.png')\nimport os\nprint('png', os.path.getsize('/tmp/f.png') > 0)",
        "print('hello')",
    ])
    assert out == ["14\n", "png True\n", "hello\n"], out


def test_the_course_repository_is_hidden(tmp_path):
    """solutions/ and a named hidden file cannot be read; the repo root shows course_lib only."""
    solution = next(p for p in sorted((REPO / "solutions").rglob("*")) if p.is_file())
    workdir = tmp_path / "w"
    (workdir / "cwd").mkdir(parents=True)
    secret = workdir / "secret.txt"
    secret.write_text("top secret")
    venv = Path(sandbox._python_layout(sandbox.sys.executable)["prefix"])
    allowed = {"course_lib"} | ({venv.relative_to(REPO).parts[0]}
                                if venv.is_relative_to(REPO) else set())
    out = run(tmp_path, [
        f"try:\n    open({str(solution)!r}).read()\n    print('READ')\n"
        f"except (FileNotFoundError, PermissionError) as e:\n    print(type(e).__name__)",
        f"import os\nprint(sorted(os.listdir({str(REPO)!r})))",
        f"print(repr(open({str(secret)!r}).read()))",
        f"print(os.path.exists({str(REPO / 'solutions')!r}), "
        f"os.path.exists({str(REPO / 'nbgrader_config.py')!r}))",
        "print(open('/etc/shadow').read() == '')",
    ], hidden=[str(secret)])
    assert out[0] in ("FileNotFoundError\n", "PermissionError\n"), out[0]
    listed = set(eval(out[1]))  # noqa: S307 (our own kernel's repr of a list of names)
    assert listed <= allowed, f"the repo root shows {listed}"
    assert out[2] == "''\n", out[2]
    assert out[3] == "False False\n", out[3]
    assert out[4] == "True\n", out[4]


def test_writes_outside_the_workdir_and_tmp_fail(tmp_path):
    """The gradebook, course_lib and /usr cannot be written; the workdir and /tmp can."""
    gradebook = tmp_path / "course" / "gradebook.db"
    gradebook.parent.mkdir()
    gradebook.write_bytes(b"grades")
    out = run(tmp_path, [
        f"import os\ntry:\n    open({str(gradebook)!r}, 'wb').write(b'hacked')\n"
        f"except OSError as e:\n    print(type(e).__name__)",
        # even after making the folder, the write lands in the sandbox's own /tmp
        f"os.makedirs({str(gradebook.parent)!r}, exist_ok=True)\n"
        f"open({str(gradebook)!r}, 'wb').write(b'hacked')\nprint('wrote in the sandbox')",
        f"for target in [{str(COURSE_LIB / 'x.py')!r}, '/usr/x', '/etc/x']:\n"
        f"    try:\n        open(target, 'w').write('x')\n"
        f"    except OSError as e:\n        print(e.errno == {errno.EROFS})",
        "open('/tmp/ok', 'w').write('ok')\nopen('ok', 'w').write('ok')\nprint('ok')",
    ])
    assert out[0] == "FileNotFoundError\n", out[0]
    assert gradebook.read_bytes() == b"grades"
    assert out[2] == "True\nTrue\nTrue\n", out[2]
    assert out[3] == "ok\n", out[3]
    assert not (COURSE_LIB / "x.py").exists()
    assert (tmp_path / "w" / "cwd" / "ok").exists()


def test_course_lib_comes_from_course_lib_dir(tmp_path):
    """A modified copy of course_lib given as course_lib_dir is what the kernel imports."""
    copy = tmp_path / "lib" / "course_lib"
    shutil.copytree(COURSE_LIB, copy, ignore=shutil.ignore_patterns("__pycache__"))
    with (copy / "__init__.py").open("a") as init:
        init.write("\nSANDBOX_MARKER = 'the copy'\n")
    out = run(tmp_path, ["import course_lib\nprint(course_lib.SANDBOX_MARKER)"],
              course_lib_dir=copy)
    assert out == ["the copy\n"], out


def test_a_file_beside_the_notebook_does_not_shadow_numpy(tmp_path):
    """A numpy.py next to the submitted notebook is not seen: the kernel starts elsewhere."""
    folder = tmp_path / "submitted"
    folder.mkdir()
    (folder / "numpy.py").write_text("raise SystemExit('shadowed')\n")
    out = run(tmp_path, ["import numpy, os\nprint(numpy.__file__.endswith('numpy/__init__.py'),"
                         " os.listdir('.'))"], folder=folder)
    assert out == ["True []\n"], out


def test_memory_is_limited_and_the_kernel_survives(tmp_path):
    """Allocating 8 GiB raises MemoryError; the next cell runs."""
    out = run(tmp_path, ["x = bytearray(8 * 2**30)", "print('alive')"])
    assert out[0].startswith("MemoryError"), out[0]
    assert out[1] == "alive\n"


def test_file_size_is_limited_and_the_kernel_survives(tmp_path):
    """Writing 200 MiB in /tmp fails with EFBIG (SIGXFSZ is ignored); the next cell runs."""
    out = run(tmp_path, [
        "try:\n    with open('/tmp/big', 'wb') as f:\n"
        "        for _ in range(200):\n            f.write(bytes(2**20))\n"
        "except OSError as e:\n    print('errno', e.errno)",
        "print('alive')",
    ])
    assert out == [f"errno {errno.EFBIG}\n", "alive\n"], out


def test_no_processes_but_threads_work(tmp_path):
    """os.fork, subprocess and os.system fail; threads and NumPy still work."""
    out = run(tmp_path, [
        "import os\ntry:\n    os.fork()\n    print('forked')\nexcept OSError as e:\n"
        "    print('fork', e.errno)",
        "import subprocess\ntry:\n    subprocess.run(['true'])\n    print('ran')\n"
        "except OSError as e:\n    print('subprocess', e.errno)",
        "print('system', os.system('true') != 0)",
        "import threading\nseen = []\nts = [threading.Thread(target=seen.append, args=(i,)) "
        "for i in range(8)]\nfor t in ts: t.start()\nfor t in ts: t.join()\nprint(sorted(seen))",
        "import numpy as np\nprint(float((np.ones((300, 300)) @ np.ones((300, 300)))[0, 0]))",
    ])
    assert out[0] == f"fork {errno.EPERM}\n", out[0]
    assert out[1] == f"subprocess {errno.EPERM}\n", out[1]
    assert out[2] == "system True\n", out[2]
    assert out[3] == f"{list(range(8))}\n", out[3]
    assert out[4] == "300.0\n", out[4]


def test_no_network(tmp_path):
    """A connection to a port the grader listens on fails."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        out = run(tmp_path, [
            f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), "
            f"timeout=5)\n    print('connected')\nexcept OSError as e:\n"
            f"    print(type(e).__name__)",
        ])
    assert out[0] != "connected\n" and out[0].strip(), out


def test_cpu_time_is_limited(tmp_path):
    """With 2 s of CPU, a busy loop ends with the kernel killed, well before the cell timeout."""
    nb = new_notebook(cells=[new_code_cell("while True:\n    pass")], metadata=_METADATA)
    client = NotebookClient(nb, kernel_manager_class=SandboxKernelManager, timeout=60)
    traits = {"workdir": tmp_path / "w", "course_lib_dir": COURSE_LIB,
              "limits": Limits(cpu_seconds=2)}
    began = time.monotonic()
    with pytest.raises(DeadKernelError):
        client.execute(**traits)
    seconds = time.monotonic() - began
    print(f"busy kernel killed after {seconds:.1f} s")
    assert seconds < 30
    # as GradingExecute does after a dead kernel: a new kernel, same client and workdir
    with client.setup_kernel(**traits):
        cell = client.execute_cell(new_code_cell("print('again')"), 0)
    assert _text(cell) == "again\n"


def test_a_timeout_interrupts_the_kernel(tmp_path):
    """nbclient's interrupt on timeout reaches the kernel (by message: bwrap would not relay
    a signal), and the next cell runs in the same kernel."""
    nb = new_notebook(cells=[new_code_cell("x = 41"), new_code_cell("import time\ntime.sleep(60)"),
                             new_code_cell("print(x + 1)")],
                      metadata=_METADATA)
    client = NotebookClient(nb, kernel_manager_class=SandboxKernelManager, timeout=3,
                            interrupt_on_timeout=True, allow_errors=True)
    began = time.monotonic()
    client.execute(workdir=tmp_path / "w", course_lib_dir=COURSE_LIB)
    assert time.monotonic() - began < 30
    assert [_text(cell) for cell in nb.cells[1:]] == ["KeyboardInterrupt: \n", "42\n"]


def test_check_available_explains_the_fix(monkeypatch, tmp_path):
    """Without bwrap on PATH, SandboxUnavailable names the package to install."""
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SandboxUnavailable, match="apt-get install -y bubblewrap"):
        check_available()
    with pytest.raises(SandboxUnavailable):
        kernel_argv(tmp_path, COURSE_LIB)


def test_the_seccomp_filter_refuses_other_machines():
    """The filter is written for x86_64 and aarch64 only, and says so elsewhere."""
    assert len(sandbox.seccomp_program("x86_64")) % 8 == 0
    assert len(sandbox.seccomp_program("aarch64")) % 8 == 0
    with pytest.raises(SandboxUnavailable, match="x86_64 and aarch64"):
        sandbox.seccomp_program("riscv64")


def test_the_grader_environment_is_not_passed_on(tmp_path, monkeypatch):
    """Only locale and NNCOURSE_* variables reach the kernel: no tokens, no PYTHONPATH."""
    monkeypatch.setenv("GITHUB_TOKEN", "secret")
    monkeypatch.setenv("NNCOURSE_RECORD_DIR", "/somewhere")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    out = run(tmp_path, ["import os\nprint(os.environ.get('GITHUB_TOKEN'), "
                         "os.environ.get('NNCOURSE_RECORD_DIR'), os.environ.get('PYTHONPATH'))"])
    assert out == ["None /somewhere None\n"], out

