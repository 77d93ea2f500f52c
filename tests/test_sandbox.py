"""The grading sandbox: each test runs a real kernel in bwrap, through nbclient or jupyter_client.

The cells below are what a hostile student could write; each test checks that the
sandbox stops it and that the kernel (where it should) keeps working afterwards.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import shutil
import socket
import sys
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
    allow_kernel_to_connect,
    check_available,
    kernel_argv,
)

#: the course_lib this test imports, given to the kernels as course_lib_dir
COURSE_LIB = Path(course_lib.__file__).resolve().parent
#: where the kernel's Python imports course_lib from (the copy above is bound there), and
#: the repository around it (the same as COURSE_LIB's, except in a git worktree)
KERNEL_COURSE_LIB = Path(sandbox._python_layout(sys.executable)["course_lib"])
REPO = KERNEL_COURSE_LIB.parent
_METADATA = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}


@pytest.fixture(scope="module", autouse=True)
def bwrap_installed():
    """Fail (never skip) when bubblewrap is missing, with the command that installs it."""
    try:
        check_available()
    except SandboxUnavailable as exc:
        pytest.fail(str(exc))


def control(tmp_path: Path) -> Path:
    """The grader's control folder, as GradingExecute makes it (mode 0700, the grader's)."""
    folder = tmp_path / "control"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def run(tmp_path: Path, cells: list[str], *, folder: Path | None = None, timeout=60, **traits):
    """Run ``cells`` in a sandboxed kernel (errors allowed); return the text of each cell."""
    nb = new_notebook(cells=[new_code_cell(source) for source in cells], metadata=_METADATA)
    folder = folder or tmp_path / "submitted"
    folder.mkdir(exist_ok=True)
    client = NotebookClient(nb, kernel_manager_class=SandboxKernelManager, timeout=timeout,
                            allow_errors=True, resources={"metadata": {"path": str(folder)}},
                            extra_arguments=["--HistoryManager.hist_file=:memory:"])
    traits.setdefault("control_dir", control(tmp_path))
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
        km = SandboxKernelManager(control_dir=str(control(tmp_path)),
                                  course_lib_dir=str(COURSE_LIB))
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
    secret = control(tmp_path) / "secret.txt"
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


def test_writes_outside_the_tmpfs_mounts_fail(tmp_path):
    """The gradebook, course_lib, /usr, / and /dev cannot be written; /tmp and home can."""
    gradebook = tmp_path / "course" / "gradebook.db"
    gradebook.parent.mkdir()
    gradebook.write_bytes(b"grades")
    out = run(tmp_path, [
        f"import os\ntry:\n    open({str(gradebook)!r}, 'wb').write(b'hacked')\n"
        f"except OSError as e:\n    print(type(e).__name__)",
        # even after making the folder, the write lands in the sandbox's own /tmp
        f"os.makedirs({str(gradebook.parent)!r}, exist_ok=True)\n"
        f"open({str(gradebook)!r}, 'wb').write(b'hacked')\nprint('wrote in the sandbox')",
        f"for target in [{str(KERNEL_COURSE_LIB / 'x.py')!r}, '/usr/x', '/etc/x', '/x', "
        f"'/dev/x', '/home/x']:\n"
        f"    try:\n        open(target, 'w').write('x')\n"
        f"    except OSError as e:\n        print(e.errno == {errno.EROFS})",
        "open('/tmp/ok', 'w').write('ok')\nopen('ok', 'w').write('ok')\n"
        "open('/dev/shm/ok', 'w').write('ok')\nprint(os.getcwd(), open('ok').read())",
    ])
    assert out[0] == "FileNotFoundError\n", out[0]
    assert gradebook.read_bytes() == b"grades"
    assert out[2] == "True\n" * 6, out[2]
    assert out[3] == "/home/student/work ok\n", out[3]
    assert not (COURSE_LIB / "x.py").exists() and not (KERNEL_COURSE_LIB / "x.py").exists()


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
    traits = {"control_dir": control(tmp_path), "course_lib_dir": COURSE_LIB,
              "limits": Limits(cpu_seconds=2)}
    began = time.monotonic()
    with pytest.raises(DeadKernelError):
        client.execute(**traits)
    seconds = time.monotonic() - began
    print(f"busy kernel killed after {seconds:.1f} s")
    assert seconds < 30
    # as GradingExecute does after a dead kernel: a new kernel, same client and control_dir
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
    client.execute(control_dir=control(tmp_path), course_lib_dir=COURSE_LIB)
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



# -- the kernel's writable world, the grader's control folder, and who can reach what --------


async def _with_kernel(tmp_path: Path, cells: list[str], between=None, **traits):
    """Start a kernel with its own manager, run ``cells`` (``between(km)`` runs after the
    first); return (the text each cell printed, what ``between`` returned)."""
    traits.setdefault("control_dir", str(control(tmp_path)))
    traits.setdefault("course_lib_dir", str(COURSE_LIB))
    km = SandboxKernelManager(**traits)
    await km.start_kernel(extra_arguments=["--HistoryManager.hist_file=:memory:"])
    kc = km.client()
    kc.start_channels()
    texts, seen = [], None
    try:
        await kc.wait_for_ready(timeout=60)
        for number, code in enumerate(cells):
            parts = []

            def hook(msg, parts=parts):
                content = msg["content"]
                if msg["msg_type"] == "stream":
                    parts.append(content["text"])
                elif msg["msg_type"] == "error":
                    parts.append(f"{content['ename']}: {content['evalue']}\n")

            await kc.execute_interactive(code, output_hook=hook, timeout=60)
            texts.append("".join(parts))
            if number == 0 and between is not None:
                seen = await between(km)
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)
    return texts, seen


def test_the_control_dir_is_read_only_and_its_sockets_connect(tmp_path):
    """The kernel reads kernel.json but cannot write, add, remove or rename anything in the
    control folder, and it can connect to a unix socket the grader listens on there."""
    folder = control(tmp_path)
    (folder / "note.txt").write_text("the grader's")
    path = folder / "ref.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        server.listen()
        allow_kernel_to_connect(path)
        out, listed = asyncio.run(_with_kernel(tmp_path, [
            f"import errno, json, os, socket\nc = {str(folder)!r}\n"
            f"print(sorted(json.load(open(c + '/kernel.json'))) != [])\n"
            f"attempts = [lambda: open(c + '/kernel.json', 'w'), lambda: open(c + '/new', 'w'),\n"
            f"    lambda: os.unlink(c + '/note.txt'), lambda: os.rename(c + '/note.txt', c + '/n'),\n"
            f"    lambda: os.symlink('/tmp', c + '/link'), lambda: os.mkdir(c + '/d'),\n"
            f"    lambda: os.chmod(c + '/note.txt', 0o777)]\n"
            f"for attempt in attempts:\n    try:\n        attempt()\n        print('done')\n"
            f"    except OSError as e:\n        print(errno.errorcode[e.errno])",
            f"s = socket.socket(socket.AF_UNIX)\ns.connect({str(path)!r})\ns.sendall(b'hello')\n"
            f"s.close()\nprint('sent')",
        ], between=lambda km: asyncio.sleep(0, sorted(os.listdir(folder)))))
        server.settimeout(10)
        connection, _ = server.accept()
        with connection:
            assert connection.recv(100) == b"hello"
    assert out[0] == "True\n" + "EROFS\n" * 7, out[0]
    assert out[1] == "sent\n", out[1]
    assert listed == [".empty", "kernel.json", "note.txt", "ref.sock"], listed
    assert (folder / "note.txt").read_text() == "the grader's"


def test_the_tmpfs_sizes_cap_all_the_disk_a_kernel_holds(tmp_path):
    """Files of 60 MiB (under the per-file cap) fill /tmp, /dev/shm and the home only up to
    their sizes (ENOSPC), nothing else is writable, and the kernel survives."""
    limits = Limits(tmp_bytes=96 * 2**20, shm_bytes=32 * 2**20, home_bytes=96 * 2**20)
    out = run(tmp_path, [
        "import errno, os\nwritten = {}\nfor where in ['/tmp', '/dev/shm', '.', "
        "os.environ['HOME'], os.environ['HOME'] + '/.runtime']:\n"
        "    written[where] = 0\n    for n in range(6):\n"
        "        try:\n            with open(f'{where}/fill{n}', 'wb') as f:\n"
        "                for _ in range(60):\n"
        "                    f.write(bytes(2**20))\n                    f.flush()\n"
        "                    written[where] += 2**20\n"
        "        except OSError as e:\n            print(where, errno.errorcode[e.errno])\n"
        "            break\nprint('total', sum(written.values()))\nprint('shm', written['/dev/shm'])",
        "print('alive')",
    ], limits=limits)
    lines = out[0].splitlines()
    assert lines[:3] == ["/tmp ENOSPC", "/dev/shm ENOSPC", ". ENOSPC"], out[0]
    assert all(line.endswith("ENOSPC") for line in lines[3:5]), out[0]
    total = int(lines[5].split()[1])
    assert total <= limits.disk_bytes, (total, limits.disk_bytes)
    assert int(lines[6].split()[1]) <= limits.shm_bytes, out[0]
    assert out[1] == "alive\n"


def test_memfd_ptrace_and_other_syscalls_are_refused(tmp_path):
    """memfd_create, ptrace, process_vm_readv/writev, SysV shm, keys, bpf, perf, userfaultfd,
    io_uring, personality, mounts and namespaces answer EPERM; numpy, matplotlib and ctypes
    callbacks still work."""
    names = ["ptrace", "process_vm_readv", "process_vm_writev", "memfd_create", "shmget",
             "msgget", "keyctl", "add_key", "request_key", "bpf", "perf_event_open",
             "userfaultfd", "io_uring_setup", "personality", "mount", "umount2", "pivot_root",
             "setns", "unshare", "kexec_load", "init_module", "finit_module", "pidfd_getfd"]
    numbers = {name: sandbox.syscall_number(name) for name in names}
    assert None not in numbers.values()
    out = run(tmp_path, [
        "import ctypes, os\ntry:\n    os.memfd_create('x')\n    print('memfd made')\n"
        "except OSError as e:\n    print('memfd', e.errno)",
        f"libc = ctypes.CDLL(None, use_errno=True)\nlibc.syscall.restype = ctypes.c_long\n"
        f"for name, nr in {numbers!r}.items():\n"
        f"    ctypes.set_errno(0)\n    result = libc.syscall(ctypes.c_long(nr), 0, 0, 0, 0, 0, 0)\n"
        f"    if result != -1 or ctypes.get_errno() != {errno.EPERM}:\n"
        f"        print(name, result, ctypes.get_errno())\nprint('checked')",
        "import numpy as np\nimport matplotlib\nmatplotlib.use('Agg')\n"
        "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot(np.arange(3))\n"
        "fig.savefig('/dev/shm/f.png')\n"
        "callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(lambda x: x + 1)\n"
        "print(callback(41), os.path.getsize('/dev/shm/f.png') > 0)",
    ])
    assert out[0] == f"memfd {errno.EPERM}\n", out[0]
    assert out[1] == "checked\n", out[1]
    assert out[2] == "42 True\n", out[2]


def test_every_process_in_the_sandbox_has_the_filter_and_the_limits(tmp_path):
    """The kernel is alone in its sandbox (no bwrap init): every pid and thread it can see
    has the seccomp filter and the limits; bwrap itself started under them; on the host the
    kernel's user is not root."""
    limits = Limits(memory_bytes=3 * 2**30, cpu_seconds=500, file_bytes=50 * 2**20,
                    threads=200, open_files=900)
    code = (
        "import json, os\nseen = {}\n"
        "for pid in [p for p in os.listdir('/proc') if p.isdigit()]:\n"
        "    for task in os.listdir(f'/proc/{pid}/task'):\n"
        "        status = dict(line.split(':', 1) for line in "
        "open(f'/proc/{pid}/task/{task}/status').read().splitlines())\n"
        "        limits = {line[:26].strip(): line[26:].split()[:2] for line in "
        "open(f'/proc/{pid}/task/{task}/limits').read().splitlines()[1:]}\n"
        "        seen[f'{pid}/{task}'] = [status['Seccomp'].strip(), "
        "status['NoNewPrivs'].strip(), status['CapEff'].strip() + status['CapPrm'].strip(), "
        "limits]\nprint(json.dumps(seen))")

    async def host_view(km):
        bwrap = km.provisioner.process.pid
        with open(f"/proc/{bwrap}/limits") as f:
            bwrap_limits = f.read()
        with open(f"/proc/{km.sandbox_pid}/status") as f:
            uids = next(line for line in f if line.startswith("Uid:")).split()[1:]
        return bwrap_limits, uids

    out, (bwrap_limits, uids) = asyncio.run(_with_kernel(
        tmp_path, [code, "import threading\nprint(threading.active_count())"],
        between=host_view, limits=limits))
    seen = json.loads(out[0])
    assert {key.split("/")[0] for key in seen} == {"1"}, seen.keys()
    assert len(seen) > 1  # the kernel's threads were checked too
    for key, (seccomp, no_new_privs, capabilities, found) in seen.items():
        assert (seccomp, no_new_privs, capabilities) == ("2", "1", "0" * 32), key
        assert found["Max address space"] == [str(limits.memory_bytes)] * 2, key
        assert found["Max cpu time"] == [str(limits.cpu_seconds)] * 2, key
        assert found["Max file size"] == [str(limits.file_bytes)] * 2, key
        assert found["Max open files"] == [str(limits.open_files)] * 2, key
        assert found["Max core file size"] == ["0", "0"], key
        assert found["Max processes"] == [str(limits.threads)] * 2, key
    for line in ("Max address space", "Max file size", "Max open files"):
        row = next(r for r in bwrap_limits.splitlines() if r.startswith(line))
        assert row[26:].split()[0] != "unlimited", row
    assert "0" not in uids, uids
    if os.geteuid() == 0:
        assert uids == [str(sandbox.KERNEL_UID)] * 4, uids


def test_the_grader_never_follows_the_kernels_links(tmp_path):
    """The kernel replaces its socket files with links to a socket on the host: a new
    client still reaches the true kernel, and the host's socket is never connected to.
    (The new client takes over the first one's identity: the first is used no more.)"""
    trap_path = tmp_path / "trap.sock"
    with socket.socket(socket.AF_UNIX) as trap:
        trap.bind(str(trap_path))
        trap.listen()
        trap.settimeout(0.2)

        async def new_client(km):
            kc = km.client()
            kc.start_channels()
            try:
                await kc.wait_for_ready(timeout=20)
                reply = await kc.execute("print('still here')", reply=True, timeout=20)
                return reply["content"]["status"]
            finally:
                kc.stop_channels()

        out, status = asyncio.run(_with_kernel(tmp_path, [
            # where the kernel bound its sockets: the ip and ports of its connection file
            "import os\nfrom ipykernel.kernelapp import IPKernelApp\napp = IPKernelApp.instance()\n"
            "ports = [app.shell_port, app.iopub_port, app.stdin_port, app.control_port, "
            "app.hb_port]\nfor port in ports:\n    path = f'{app.ip}-{port}'\n"
            f"    os.unlink(path)\n    os.symlink({str(trap_path)!r}, path)\n"
            "print(sum(os.path.islink(f'{app.ip}-{port}') for port in ports))",
        ], between=new_client))
        with pytest.raises(TimeoutError):
            trap.accept()
    assert out == ["5\n"], out
    assert status == "ok"


def test_planted_links_change_nothing_on_the_host(tmp_path):
    """The kernel plants links to a canary file wherever it can write, under every name the
    grader uses; a fresh manager on the same control folder starts a working kernel, and
    the canary and the control folder are as they were."""
    canary = tmp_path / "canary.txt"
    canary.write_bytes(b"canary \x00\xff")
    folder = control(tmp_path)
    plant = (
        "import os\nnames = {'kernel.json', '.empty', 'kernel-1', 'ipc-1', 'x', "
        "'fontlist-v390.json', 'profile_default'}\nplanted = 0\n"
        "for top in ['/tmp', '/dev/shm', os.getcwd(), os.environ['HOME']]:\n"
        "    for where, folders, files in os.walk(top):\n"
        "        for name in names | set(files):\n"
        "            target = os.path.join(where, name)\n"
        "            try:\n                if os.path.lexists(target):\n"
        "                    os.unlink(target)\n"
        f"                os.symlink({str(canary)!r}, target)\n                planted += 1\n"
        "            except OSError:\n                pass\nprint(planted > 20)")
    first = run(tmp_path, [plant], control_dir=folder)
    before = sorted(os.listdir(folder))
    second = run(tmp_path, [plant, "print('fresh')"], control_dir=folder)
    assert first == ["True\n"] and second == ["True\n", "fresh\n"], (first, second)
    assert canary.read_bytes() == b"canary \x00\xff" and not canary.is_symlink()
    assert sorted(os.listdir(folder)) == before == [".empty"], before
    assert not any(p.is_symlink() for p in tmp_path.rglob("*"))


def test_a_restart_in_the_same_manager_works_and_closes_the_old_descriptors(tmp_path):
    """restart_kernel starts a fresh sandbox (a new tmpfs: the old files are gone), and the
    descriptors of the first kernel's sockets are closed; a shut down manager holds none."""

    async def scenario():
        km = SandboxKernelManager(control_dir=str(control(tmp_path)),
                                  course_lib_dir=str(COURSE_LIB))
        before = len(os.listdir("/proc/self/fd"))
        await km.start_kernel()
        first = dict(km._socket_fds)
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            await kc.execute_interactive("open('/tmp/left', 'w').write('x')", timeout=30,
                                         output_hook=lambda m: None)
            first_pid = km.sandbox_pid
            await km.restart_kernel(now=True)
            await kc.wait_for_ready(timeout=60)
            out = []
            await kc.execute_interactive(
                "import os\nprint(os.path.exists('/tmp/left'))", timeout=30,
                output_hook=lambda m: out.append(m["content"].get("text", "")))
            second_pid = km.sandbox_pid
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)
        return before, first, first_pid, second_pid, "".join(out), km._socket_fds

    before, first, first_pid, second_pid, out, left = asyncio.run(scenario())
    assert len(first) == 5 and out == "False\n", (first, out)
    assert first_pid != second_pid and left == {}
    assert not os.path.exists(f"/proc/{first_pid}")  # killed, and reaped by bwrap
    assert len(os.listdir("/proc/self/fd")) <= before + 2  # the event loop's own, at most


def test_a_client_connected_before_a_restart_reaches_the_same_channels(tmp_path):
    """A client's addresses are descriptor numbers (ipc:///proc/self/fd/N), and ZMQ
    reconnects to them after a restart: the new kernel's sockets must take the old
    numbers. Here other files take the lowest free numbers while the kernel restarts, as
    the event loop's or another kernel's may in a grader; the new sockets would otherwise
    land elsewhere and the client would reach no kernel (in a CI run: heartbeat pings on
    the control socket, and "Kernel didn't respond in 60 seconds")."""
    async def scenario():
        km = SandboxKernelManager(control_dir=str(control(tmp_path)),
                                  course_lib_dir=str(COURSE_LIB))
        await km.start_kernel()
        first = dict(km._socket_fds)
        opened = km._open_sockets
        squatters = []

        async def open_after_squatters():
            squatters.extend(os.open(os.devnull, os.O_RDONLY) for _ in range(8))
            await opened()

        km._open_sockets = open_after_squatters
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            await km.restart_kernel(now=True)
            await kc.wait_for_ready(timeout=20)
            out = []
            await kc.execute_interactive("print(6 * 7)", timeout=20,
                                         output_hook=lambda m: out.append(
                                             m["content"].get("text", "")))
            second = dict(km._socket_fds)
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)
            for fd in squatters:
                os.close(fd)
        return first, second, "".join(out), squatters

    first, second, out, squatters = asyncio.run(scenario())
    assert squatters and out == "42\n", out
    assert second == first  # the same channel at the same number


def test_the_kernel_dies_with_the_grader(tmp_path):
    """A grader killed outright takes its kernel along, although the kernel changed user
    (the lifeline: bwrap's parent-death signal could not reach it)."""
    import signal
    import subprocess

    script = tmp_path / "grader.py"
    script.write_text(
        "import asyncio, sys\nfrom course_lib.grading.sandbox import SandboxKernelManager\n"
        "async def main():\n"
        f"    km = SandboxKernelManager(control_dir={str(control(tmp_path))!r}, "
        f"course_lib_dir={str(COURSE_LIB)!r})\n"
        "    await km.start_kernel()\n    print(km.sandbox_pid, flush=True)\n"
        "    await asyncio.sleep(60)\nasyncio.run(main())\n")
    env = {**os.environ, "PYTHONPATH": str(COURSE_LIB.parent)}
    grader = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, env=env)
    try:
        kernel = int(grader.stdout.readline())
        assert _running(kernel)
    finally:
        grader.send_signal(signal.SIGKILL)
        grader.wait()
    deadline = time.monotonic() + 10
    while _running(kernel) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(kernel)


def _running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_kernel_that_dies_at_start_fails_the_start_at_once(tmp_path):
    """A kernel that cannot start (here: too little memory for Python) fails start_kernel
    with "Kernel died" as soon as bwrap exits, not after the socket timeout; and the old
    workdir argument is refused with a message naming its replacement."""

    async def start(**traits):
        km = SandboxKernelManager(control_dir=str(control(tmp_path)),
                                  course_lib_dir=str(COURSE_LIB))
        try:
            await km.start_kernel(**traits)
        finally:
            if km.has_kernel:
                await km.shutdown_kernel(now=True)

    began = time.monotonic()
    with pytest.raises(RuntimeError, match="Kernel died"):
        asyncio.run(start(limits=Limits(memory_bytes=32 * 2**20)))
    assert time.monotonic() - began < 15
    with pytest.raises(TypeError, match="control_dir"):
        asyncio.run(start(workdir=str(tmp_path)))
