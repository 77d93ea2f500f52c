"""A Jupyter kernel in a sandbox, for running students' notebooks while grading.

Student code is hostile: it may read the solutions, write to the gradebook, eat the
machine's memory, start processes or open connections. :class:`SandboxKernelManager`
starts the kernel through bubblewrap (``bwrap``) so that it

- sees, read-only, only what Python needs: ``/usr``, ``/lib*``, ``/bin``, ``/sbin``,
  ``/etc`` (without ``/etc/shadow``, ``/etc/gshadow``, ``/etc/ssh``), the Python
  installation, the virtual environment and the kernel Python's ``sys.path``, but never
  the course repository: course_lib comes from ``course_lib_dir``, bound where the
  kernel's Python imports course_lib from;
- writes only to its ``workdir`` (bound read-write) and to a private, size-limited ``/tmp``;
- has no network (its own empty network namespace) and talks to the grader over ZMQ
  ``ipc`` sockets inside the workdir;
- has its own pid, ipc and uts namespaces, no capabilities, and dies with the grader;
- runs under limits on memory, CPU time and file size (:class:`Limits`), and a seccomp
  filter that lets it start threads but no processes.

Inside the sandbox, ``python -m course_lib.grading.sandbox -f CONNECTION_FILE`` sets
the limits, installs the seccomp filter and then runs ipykernel in the same process.

Use it from nbclient or nbgrader's ``Execute`` with ``kernel_manager_class``. The
folders are traits, so any of these works:

- as keyword arguments of ``start_kernel``, which nbclient forwards from
  ``setup_kernel(**kwargs)`` / ``start_new_kernel(**kwargs)``::

      with client.setup_kernel(workdir=..., course_lib_dir=..., limits=Limits(...)):
          ...

- as configuration: ``config.SandboxKernelManager.workdir = "..."``;
- as constructor arguments, for a manager you build yourself
  (``SandboxKernelManager(workdir=..., course_lib_dir=...)``; nbclient's
  ``create_kernel_manager`` passes only ``kernel_name`` and ``config``).
"""

from __future__ import annotations

import ctypes
import errno
import fnmatch
import functools
import json
import os
import platform
import resource
import shutil
import signal
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Any, List, Unicode

__all__ = [
    "Limits",
    "SandboxUnavailable",
    "SandboxKernelManager",
    "check_available",
    "kernel_argv",
    "install_seccomp_filter",
]

INSTALL_COMMAND = "sudo apt-get install -y bubblewrap"
LIMITS_VARIABLE = "NNCOURSE_SANDBOX_LIMITS"
#: bytes of the kernel's private /tmp (a tmpfs lives in memory, outside RLIMIT_AS)
TMP_BYTES = 256 * 2**20
#: the longest path of a unix socket (sun_path is 108 bytes with the final NUL)
_MAX_SOCKET_PATH = 107
#: variables of the grader's environment the kernel may see; everything else is dropped.
_PASSED_VARIABLES = ("LANG", "LANGUAGE", "LC_*", "TZ", "NNCOURSE_*", "JPY_SESSION_NAME")
_SECRET_FILES = ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-")
_SECRET_DIRS = ("/etc/ssh", "/etc/ssl/private")


@dataclass(frozen=True)
class Limits:
    """What one kernel may use. Processes beyond the kernel itself are refused (seccomp)."""

    memory_bytes: int = 4 * 2**30  # RLIMIT_AS of the kernel
    cpu_seconds: int = 600  # RLIMIT_CPU (whole kernel life); killed 1 s after SIGXCPU
    file_bytes: int = 64 * 2**20  # RLIMIT_FSIZE
    threads: int = 256  # RLIMIT_NPROC, for non-root users only (root ignores it)
    tmp_bytes: int = TMP_BYTES  # size of the private /tmp

    def to_env(self) -> str:
        return ",".join(str(v) for v in (self.memory_bytes, self.cpu_seconds,
                                          self.file_bytes, self.threads))


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot run on this machine; the message says why and how to fix it."""


# -- is bubblewrap there, and does it work? ------------------------------------------------


def check_available() -> None:
    """Raise :class:`SandboxUnavailable` unless bwrap is on PATH and can start a sandbox."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(
            "The grading sandbox needs bubblewrap (the 'bwrap' command), which is not on "
            f"PATH. Install it with:  {INSTALL_COMMAND}  (Debian/Ubuntu; 'make test' does "
            "it when run as root), then try again.")
    problem = _probe(bwrap)
    if problem:
        raise SandboxUnavailable(problem)


@functools.lru_cache(maxsize=8)
def _probe(bwrap: str) -> str:
    """'' when ``bwrap`` starts an empty sandbox with our namespaces, else why it failed."""
    argv = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--ro-bind", "/usr", "/usr", *_system_links(), "--", "true"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap ({bwrap}) could not be run: {exc}"
    if done.returncode == 0:
        return ""
    return (f"bubblewrap ({bwrap}) cannot create a sandbox here: {done.stderr.strip()}. "
            "It needs user namespaces: as a normal user, allow them (for example "
            "'sudo sysctl kernel.unprivileged_userns_clone=1', or on Ubuntu 24.04 "
            "'sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0'); in a container, "
            "run it with namespaces allowed (for example Docker's --privileged or a seccomp "
            "profile that allows unshare/clone).")


# -- the bwrap command line -----------------------------------------------------------------


def _system_links() -> list[str]:
    """/bin, /sbin and /lib*: symlinks where the system has symlinks (merged /usr), else binds."""
    args = []
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        path = Path(name)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            args += ["--ro-bind", name, name]
    return args


@functools.lru_cache(maxsize=8)
def _python_layout(python: str) -> dict:
    """Where ``python`` finds itself, its packages and course_lib (asked once per python)."""
    code = ("import importlib.util, json, sys\n"
            "spec = importlib.util.find_spec('course_lib')\n"
            "where = list(spec.submodule_search_locations) if spec else []\n"
            "print(json.dumps({'prefix': sys.prefix, 'base_prefix': sys.base_prefix,\n"
            "    'path': [p for p in sys.path if p], 'course_lib': where[0] if where else None}))")
    # -I: no PYTHONPATH, no user site, no current folder: the kernel's own view
    done = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    if done.returncode != 0:
        raise SandboxUnavailable(f"could not ask {python} where its packages are: "
                                 f"{done.stderr.strip()[-500:]}")
    layout = json.loads(done.stdout)
    if not layout["course_lib"]:
        raise SandboxUnavailable(f"{python} cannot import course_lib: install the course "
                                 f"('make venv' or 'pip install -e .').")
    return layout


def _inside(path: Path, folders) -> bool:
    return any(path == f or path.is_relative_to(f) for f in folders)


def _python_binds(layout: dict) -> tuple[list[Path], list[Path]]:
    """(folders and files Python needs, folders to hide): the repo is never among the first.

    The course repository is the folder that holds the course_lib Python imports,
    unless that folder is in the Python installation (a normal, non-editable install).
    An editable install puts the repo (or a finder that points into it) on sys.path.
    """
    prefixes = [Path(layout["prefix"]), Path(layout["base_prefix"])]
    package = Path(layout["course_lib"])
    repo = package.parent
    hidden = [] if _inside(repo, prefixes) else [repo]
    wanted = []
    for entry in [*prefixes, *map(Path, layout["path"])]:
        if not entry.is_absolute() or not entry.exists():
            continue
        if _inside(entry, hidden) and not _inside(entry, prefixes):
            continue  # the repo itself, or a folder of it
        wanted.append(entry)
    binds: list[Path] = []
    for entry in sorted(set(wanted), key=lambda p: (len(p.parts), str(p))):
        if not _inside(entry, [Path("/usr"), *binds]):
            binds.append(entry)
    return binds, hidden


def kernel_argv(workdir: Path, course_lib_dir: Path, limits: Limits = Limits(),  # noqa: B008
                python: str = sys.executable, hidden=()) -> list[str]:
    """bwrap ... python -m course_lib.grading.sandbox -f {connection_file}

    ``workdir`` is bound read-write (it holds the connection file, the ipc sockets and
    the kernel's home and current folder, see :func:`prepare_workdir`); ``course_lib_dir``
    is bound read-only where ``python`` imports course_lib from. ``hidden`` names more
    files or folders the kernel must not see, should they lie in a bound folder.
    ``{connection_file}`` is left for jupyter_client to fill in.
    """
    check_available()
    workdir, course_lib_dir = Path(workdir).resolve(), Path(course_lib_dir).resolve()
    if not (course_lib_dir / "__init__.py").is_file():
        raise ValueError(f"course_lib_dir {course_lib_dir} is not a course_lib package "
                         f"(no __init__.py)")
    layout = _python_layout(python)
    binds, hide = _python_binds(layout)
    package = Path(layout["course_lib"])
    system = [Path("/usr"), Path("/etc"), *binds]
    empty = workdir / ".empty"
    workdir.mkdir(parents=True, exist_ok=True)
    empty.write_bytes(b"")

    args = [shutil.which("bwrap"),
            "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--ro-bind", "/usr", "/usr", *_system_links(), "--ro-bind", "/etc", "/etc"]
    args += _hide_args([Path(p) for p in _SECRET_FILES + _SECRET_DIRS], empty)
    args += ["--dev", "/dev", "--proc", "/proc",
             "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp"]
    later = []  # python folders inside a hidden folder (a venv inside the repo): after hiding
    for path in binds:
        (later if _inside(path, hide) else args).extend(["--ro-bind", str(path), str(path)])
    args += _hide_args([h for h in hide if _inside(h, system) and h.exists()], empty)
    args += later
    args += ["--ro-bind", str(course_lib_dir), str(package)]
    args += ["--bind", str(workdir), str(workdir), "--chdir", str(workdir / "cwd")]
    mine = [Path(p).absolute() for p in hidden]
    args += _hide_args([h for h in mine if _inside(h, [*system, package, workdir])], empty)
    for name, value in _kernel_env(workdir, layout, limits).items():
        args += ["--setenv", name, value]
    # ipykernel exits when its parent becomes pid 1, which in the sandbox's pid namespace
    # it is from the start (bwrap's init); "1" turns that watch off and keeps the kernel
    # quiet. --die-with-parent stops the kernel when the grader goes.
    args += ["--setenv", "JPY_PARENT_PID", "1"]
    args += ["--", python, "-m", "course_lib.grading.sandbox", "-f", "{connection_file}"]
    return args


def _hide_args(paths, empty: Path) -> list[str]:
    """Cover folders with an empty read-only tmpfs and files with the ``empty`` file.

    Not /dev/null for files: bwrap mounts read-only binds ``nodev``, so the device
    could not even be opened, and a plain empty file reads as nothing at all.
    """
    args = []
    for path in paths:
        if path.is_dir():
            args += ["--tmpfs", str(path), "--remount-ro", str(path)]
        elif path.exists():
            args += ["--ro-bind", str(empty), str(path)]
    return args


def _kernel_env(workdir: Path, layout: dict, limits: Limits) -> dict[str, str]:
    home = workdir / "home"
    return {
        "HOME": str(home),
        "IPYTHONDIR": str(home / ".ipython"),
        "MPLCONFIGDIR": str(home / ".config" / "matplotlib"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
        "JUPYTER_DATA_DIR": str(home / ".local" / "share" / "jupyter"),
        "JUPYTER_RUNTIME_DIR": str(workdir / "runtime"),
        "TMPDIR": "/tmp",
        "PATH": os.pathsep.join([str(Path(layout["prefix"]) / "bin"), "/usr/local/bin",
                                 "/usr/bin", "/bin"]),
        "PYTHONSAFEPATH": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        LIMITS_VARIABLE: limits.to_env(),
    }


def prepare_workdir(workdir: Path) -> Path:
    """Make the folders the kernel expects in ``workdir``; copy matplotlib's font cache.

    The kernel starts in ``workdir/cwd``, made empty here the first time; a kernel
    started again in the same workdir finds what the previous one left there. Either
    way nothing there can be imported: PYTHONSAFEPATH keeps the current folder off
    sys.path.
    """
    workdir = Path(workdir).resolve()
    for sub in ("cwd", "runtime", "home/.ipython", "home/.config/matplotlib", "home/.cache",
                "home/.jupyter"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    _copy_font_cache(workdir / "home/.config/matplotlib")
    return workdir


def _copy_font_cache(destination: Path) -> None:
    """Copy the grader's fontlist-*.json: without it each kernel rebuilds it (seconds)."""
    try:
        import matplotlib
    except ImportError:
        return
    caches = sorted(Path(matplotlib.get_cachedir()).glob("fontlist-*.json"))
    if not caches:
        import matplotlib.font_manager  # noqa: F401  (builds the cache)

        caches = sorted(Path(matplotlib.get_cachedir()).glob("fontlist-*.json"))
    for cache in caches:
        shutil.copy2(cache, destination / cache.name)


# -- the kernel manager ----------------------------------------------------------------------


def _passed_env(env: dict) -> dict:
    """The grader's variables the kernel may see (locale, NNCOURSE_*): no secrets."""
    return {k: v for k, v in env.items()
            if any(fnmatch.fnmatchcase(k, pattern) for pattern in _PASSED_VARIABLES)}


class SandboxKernelManager(AsyncKernelManager):
    """Starts the kernel with :func:`kernel_argv`; transport ipc; connection file in workdir.

    Traits (configuration, constructor or ``start_kernel`` keyword arguments): ``workdir``,
    ``course_lib_dir``, ``limits``, ``hidden``, ``python``. The environment given to
    ``start_kernel(env=...)`` reaches the kernel only for the names in
    ``_PASSED_VARIABLES``; in particular PYTHONPATH is dropped (course_lib comes from
    ``course_lib_dir``). The ``cwd`` that nbclient passes (the notebook's folder) is
    ignored: the kernel starts in an empty folder of the workdir.
    """

    workdir = Unicode(None, allow_none=True, help="The kernel's read-write folder.").tag(
        config=True)
    course_lib_dir = Unicode(None, allow_none=True, help="The course_lib the kernel imports."
                             ).tag(config=True)
    limits = Any(Limits(), help="A Limits: memory, CPU time, file size.").tag(config=True)
    hidden = List(Unicode(), help="More paths the kernel must not see.").tag(config=True)
    python = Unicode(sys.executable, help="The Python that runs the kernel.").tag(config=True)

    _OWN_ARGUMENTS = ("workdir", "course_lib_dir", "limits", "hidden", "python")

    @property
    def kernel_spec(self):
        spec = super().kernel_spec
        if spec is not None:
            # bwrap --new-session puts the kernel in its own session, out of reach of the
            # SIGINT jupyter_client sends to bwrap's process group: interrupt by message
            spec.interrupt_mode = "message"
        return spec

    async def _async_start_kernel(self, **kw):
        for name in self._OWN_ARGUMENTS:
            if name in kw:
                value = kw.pop(name)
                setattr(self, name, str(value) if isinstance(value, Path) else value)
        if not self.workdir or not self.course_lib_dir:
            raise ValueError("SandboxKernelManager needs workdir and course_lib_dir")
        check_available()
        workdir = prepare_workdir(Path(self.workdir))
        ipc = workdir / "ipc"
        if len(str(ipc)) + 4 > _MAX_SOCKET_PATH:
            raise ValueError(f"workdir {workdir} is too long for unix sockets (at most "
                             f"{_MAX_SOCKET_PATH - 8} characters): use a shorter folder")
        self.transport = "ipc"
        self.ip = str(ipc)
        self.cache_ports = False
        self.connection_file = str(workdir / "kernel.json")
        kw["cwd"] = str(workdir)
        kw["env"] = _passed_env(kw.get("env") or os.environ)
        await super()._async_start_kernel(**kw)

    start_kernel = _async_start_kernel

    def format_kernel_cmd(self, extra_arguments=None) -> list[str]:
        argv = kernel_argv(Path(self.workdir), Path(self.course_lib_dir), self.limits,
                           self.python, self.hidden)
        argv = [os.path.realpath(self.connection_file) if a == "{connection_file}" else a
                for a in argv]
        return argv + list(extra_arguments or [])


# -- inside the sandbox: limits, seccomp, then ipykernel ------------------------------------

_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
# syscall numbers: (clone, clone3, [refused with EPERM])
_SYSCALLS = {
    # fork 57, vfork 58, execve 59, execveat 322, unshare 272
    "x86_64": (56, 435, [57, 58, 59, 322, 272]),
    # aarch64 has no fork or vfork; execve 221, execveat 281, unshare 97
    "aarch64": (220, 435, [221, 281, 97]),
}
_X32_SYSCALL_BIT = 0x40000000
_CLONE_THREAD = 0x00010000

_BPF_LD_W_ABS = 0x20
_BPF_JEQ_K = 0x15
_BPF_JGE_K = 0x35
_BPF_JSET_K = 0x45
_BPF_RET_K = 0x06
_RET_ALLOW = 0x7FFF0000
_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
# offsets in struct seccomp_data {int nr; u32 arch; u64 ip; u64 args[6];}
_NR, _ARCH, _ARG0_LOW = 0, 4, 16  # the low half of args[0] on little-endian machines

_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2


def _instruction(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def seccomp_program(machine: str | None = None) -> bytes:
    """The BPF program: no fork, vfork, exec or unshare; clone only for threads; no clone3.

    clone3 answers ENOSYS, so glibc falls back to clone, whose flags a filter can read
    (clone3 takes its flags in memory, out of the filter's reach). A syscall of another
    ABI (32-bit x86, x32) kills the process: its numbers would dodge the checks.
    """
    machine = machine or platform.machine()
    if machine not in _SYSCALLS:
        raise SandboxUnavailable(f"the grading sandbox's seccomp filter supports x86_64 and "
                                 f"aarch64, not {machine}")
    clone, clone3, refused = _SYSCALLS[machine]
    eperm, enosys = _RET_ERRNO | errno.EPERM, _RET_ERRNO | errno.ENOSYS
    program = [
        _instruction(_BPF_LD_W_ABS, _ARCH),
        _instruction(_BPF_JEQ_K, _AUDIT_ARCH[machine], jt=1),
        _instruction(_BPF_RET_K, _RET_KILL_PROCESS),
        _instruction(_BPF_LD_W_ABS, _NR),
    ]
    if machine == "x86_64":
        program += [_instruction(_BPF_JGE_K, _X32_SYSCALL_BIT, jf=1),
                    _instruction(_BPF_RET_K, _RET_KILL_PROCESS)]
    for number, answer in [(n, eperm) for n in refused] + [(clone3, enosys)]:
        program += [_instruction(_BPF_JEQ_K, number, jf=1), _instruction(_BPF_RET_K, answer)]
    program += [
        _instruction(_BPF_JEQ_K, clone, jt=1),
        _instruction(_BPF_RET_K, _RET_ALLOW),
        _instruction(_BPF_LD_W_ABS, _ARG0_LOW),
        _instruction(_BPF_JSET_K, _CLONE_THREAD, jf=1),
        _instruction(_BPF_RET_K, _RET_ALLOW),
        _instruction(_BPF_RET_K, eperm),
    ]
    return b"".join(program)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_seccomp_filter() -> None:
    """Install :func:`seccomp_program` in this process: from now on it starts no process."""
    program = seccomp_program()
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong,
                           ctypes.c_ulong]
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")


def set_limits(limits: Limits) -> None:
    """Apply ``limits`` to this process (soft = hard, so the kernel cannot raise them)."""
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    # SIGXCPU at the soft limit, SIGKILL one second later should SIGXCPU be caught
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    # a write past the limit then fails with EFBIG instead of killing the kernel
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    if os.getuid() != 0:  # root ignores RLIMIT_NPROC; the seccomp filter works for all
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.threads, limits.threads))


def _limits_from_env() -> Limits:
    value = os.environ.pop(LIMITS_VARIABLE, "")
    if not value:
        return Limits()
    memory, cpu, size, threads = (int(v) for v in value.split(","))
    return Limits(memory_bytes=memory, cpu_seconds=cpu, file_bytes=size, threads=threads)


def main(argv=None) -> None:
    """The launcher run inside bwrap: limits, seccomp, then ipykernel with ``argv``."""
    argv = sys.argv[1:] if argv is None else argv
    set_limits(_limits_from_env())
    install_seccomp_filter()
    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance(argv=argv)


if __name__ == "__main__":
    main()
