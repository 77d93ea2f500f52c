"""A Jupyter kernel in a sandbox, for running students' notebooks while grading.

Student code is hostile, and its author has read this file: it may read the solutions,
write to the gradebook, eat the machine's memory or disk, start processes, open
connections, or plant symbolic links for the grader to follow. :class:`SandboxKernelManager`
starts the kernel through bubblewrap (``bwrap``) so that it

- sees, read-only, only what Python needs: ``/usr``, ``/lib*``, ``/bin``, ``/sbin``,
  ``/etc`` (without ``/etc/shadow``, ``/etc/gshadow``, ``/etc/ssh``), the Python
  installation, the virtual environment and the kernel Python's ``sys.path``, but never
  the course repository: course_lib comes from ``course_lib_dir``, bound where the
  kernel's Python imports course_lib from;
- sees the grader's ``control_dir`` read-only, at the same path: the connection file
  (``kernel.json``) and whatever the grader puts there for it (listening unix sockets,
  which a kernel can still connect to: a read-only mount stops writes, not connects);
- writes only to three size-limited tmpfs mounts, made fresh at each start and invisible
  on the host: ``/tmp`` (``Limits.tmp_bytes``), ``/dev/shm`` (``Limits.shm_bytes``) and
  its home ``/home/student`` (``Limits.home_bytes``: current folder ``work/``, IPython,
  Jupyter and matplotlib settings, and the ZMQ ``ipc`` sockets in ``.runtime/``). ``/``
  and ``/dev`` are read-only. All the disk a kernel can hold is the sum of the three;
- has no network (its own empty network namespace), its own pid, ipc and uts namespaces,
  no capabilities, and dies with the grader (it exits when the grader's end of a pipe,
  the lifeline, closes);
- is the only process in the sandbox (``--as-pid-1``: no bwrap init), and runs under
  limits on memory, CPU time, file size, open files and threads (:class:`Limits`; all
  but threads set by ``prlimit`` before bwrap starts, all set again inside, see
  :func:`set_limits`), with no core dumps, and a seccomp filter
  (:func:`seccomp_program`) that lets it start threads but no processes, and refuses
  ptrace, process_vm_*, memfd_create, SysV shared memory, keys, bpf, perf, userfaultfd,
  io_uring, mounts and namespaces;
- runs as an unprivileged user. A grader running as root starts bwrap as root, without a
  user namespace (bwrap then reads the Python installation even under ``/root``), keeping
  only CAP_SETUID and CAP_SETGID; the first lines of the launcher drop to ``kernel_uid``/
  ``kernel_gid`` (65534, nobody/nogroup) before anything else runs, and the kernel refuses
  to start as root. A grader that is not root runs bwrap in a user namespace as usual
  (the kernel is then the grader's own user on the host; this path is not exercised by
  the tests on a machine that grades as root). Files the kernel reads (``course_lib_dir``,
  what the grader puts in ``control_dir``) must be readable by the kernel's user. Kernels
  run in parallel under one ``kernel_uid`` share its RLIMIT_NPROC count (threads): give
  each worker its own ``kernel_uid`` to keep them apart.

The grader never resolves a path the kernel can write. The kernel binds its ZMQ sockets
in its own tmpfs; after launch the manager finds the sandboxed process (the child of
bwrap), walks ``/proc/<pid>/root`` one component at a time with ``O_PATH | O_NOFOLLOW``,
checks that each socket is a socket, keeps the ``O_PATH`` descriptors and connects ZMQ to
``ipc:///proc/self/fd/<fd>`` (:meth:`SandboxKernelManager._make_url`, and the same in the
clients it hands out). A socket the kernel later replaces, say by a symlink, changes
nothing for the grader, whose descriptors name the original sockets. jupyter_client's
cleanup of ipc files is turned off: they vanish with the tmpfs.

Memory: the process under RLIMIT_AS; files in the three tmpfs mounts under their sizes;
memfd and SysV shared memory refused. cgroups are not used: the machine this was built on
has cgroup v1 only and no delegated cgroup v2, and RLIMIT_AS with sized tmpfs covers what
a single process can hold. (Kernel memory behind open files is bounded by
``Limits.open_files``.)

Inside the sandbox, ``python -I -c BOOTSTRAP -f CONNECTION_FILE`` drops to the kernel's
user (when started as root), then :func:`main` sets the limits, installs the seccomp filter
and runs ipykernel in the same process.

Use it from nbclient or nbgrader's ``Execute`` with ``kernel_manager_class``. The
folders are traits, so any of these works:

- as keyword arguments of ``start_kernel``, which nbclient forwards from
  ``setup_kernel(**kwargs)`` / ``start_new_kernel(**kwargs)``::

      with client.setup_kernel(control_dir=..., course_lib_dir=..., limits=Limits(...)):
          ...

- as configuration: ``config.SandboxKernelManager.control_dir = "..."``;
- as constructor arguments, for a manager you build yourself
  (``SandboxKernelManager(control_dir=..., course_lib_dir=...)``; nbclient's
  ``create_kernel_manager`` passes only ``kernel_name`` and ``config``).

The ``control_dir`` must be a folder the grader made and owns, writable by nobody else
(``tempfile.mkdtemp()`` is right); the manager makes it traversable (mode ``0o711``) so
that the kernel's user can open ``kernel.json`` in it (chowned to that user when the
grader is root). A unix socket the grader listens on for the kernel must be connectable
by the kernel's user: :func:`allow_kernel_to_connect` does that.
"""

from __future__ import annotations

import asyncio
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
import stat
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.blocking import BlockingKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import Any, DottedObjectName, Float, Integer, List, Type, Unicode

__all__ = [
    "Limits",
    "SandboxUnavailable",
    "SandboxKernelManager",
    "SandboxAsyncKernelClient",
    "SandboxBlockingKernelClient",
    "allow_kernel_to_connect",
    "check_available",
    "kernel_argv",
    "install_seccomp_filter",
]

INSTALL_COMMAND = "sudo apt-get install -y bubblewrap"
LIMITS_VARIABLE = "NNCOURSE_SANDBOX_LIMITS"
USER_VARIABLE = "NNCOURSE_SANDBOX_USER"
LIFELINE_VARIABLE = "NNCOURSE_SANDBOX_LIFELINE"
#: the kernel's user and group when the grader runs as root (nobody, nogroup)
KERNEL_UID = KERNEL_GID = 65534
#: the kernel's home, a tmpfs inside the sandbox: current folder, settings, ipc sockets
SANDBOX_HOME = "/home/student"
_HOME_DIRS = ("work", ".ipython", ".config", ".config/matplotlib", ".cache", ".jupyter",
              ".local", ".local/share", ".local/share/jupyter", ".runtime")
#: the kernel binds its sockets at IPC_BASE-1 ... IPC_BASE-5 (jupyter_client's ipc naming)
IPC_BASE = f"{SANDBOX_HOME}/.runtime/kernel"
_PORTS = {"shell": 1, "iopub": 2, "stdin": 3, "control": 4, "hb": 5}
#: bytes of the kernel's private /tmp (a tmpfs lives in memory, outside RLIMIT_AS)
TMP_BYTES = 256 * 2**20
#: variables of the grader's environment the kernel may see; everything else is dropped.
_PASSED_VARIABLES = ("LANG", "LANGUAGE", "LC_*", "TZ", "NNCOURSE_*", "JPY_SESSION_NAME")
_SECRET_FILES = ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-")
_SECRET_DIRS = ("/etc/ssh", "/etc/ssl/private")


@dataclass(frozen=True)
class Limits:
    """What one kernel may use. Processes beyond the kernel itself are refused (seccomp).

    Memory is ``memory_bytes`` for the process plus at most ``disk_bytes`` (the three
    tmpfs mounts, which live in memory). ``file_bytes`` caps each file, the tmpfs sizes
    cap them all together.
    """

    memory_bytes: int = 4 * 2**30  # RLIMIT_AS of the kernel
    cpu_seconds: int = 600  # RLIMIT_CPU (whole kernel life): SIGKILL when reached
    file_bytes: int = 64 * 2**20  # RLIMIT_FSIZE: one file
    threads: int = 256  # RLIMIT_NPROC, set inside the sandbox (see set_limits)
    open_files: int = 1024  # RLIMIT_NOFILE: also bounds kernel memory behind descriptors
    tmp_bytes: int = TMP_BYTES  # size of the private /tmp
    shm_bytes: int = 64 * 2**20  # size of the private /dev/shm
    home_bytes: int = 256 * 2**20  # size of the home: current folder, settings, sockets

    @property
    def disk_bytes(self) -> int:
        """All the bytes of files a kernel can hold: its three tmpfs mounts."""
        return self.tmp_bytes + self.shm_bytes + self.home_bytes

    def to_env(self) -> str:
        return ",".join(str(v) for v in (self.memory_bytes, self.cpu_seconds,
                                          self.file_bytes, self.threads, self.open_files))

    def prlimit_args(self) -> list[str]:
        """prlimit's options for the limits bwrap itself starts under (NPROC: see set_limits)."""
        return [f"--as={self.memory_bytes}:{self.memory_bytes}",
                f"--cpu={self.cpu_seconds}:{self.cpu_seconds}",
                f"--fsize={self.file_bytes}:{self.file_bytes}",
                f"--nofile={self.open_files}:{self.open_files}",
                "--core=0:0"]


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot run on this machine; the message says why and how to fix it."""


# -- is bubblewrap there, and does it work? ------------------------------------------------


def _as_root() -> bool:
    return os.geteuid() == 0


def _namespace_args(as_root: bool) -> list[str]:
    """bwrap's namespaces: as root, no user namespace (the kernel drops to its user itself)."""
    if as_root:
        return ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                "--unshare-cgroup-try"]
    return ["--unshare-all"]


def check_available() -> None:
    """Raise :class:`SandboxUnavailable` unless bwrap is on PATH and can start a sandbox."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(
            "The grading sandbox needs bubblewrap (the 'bwrap' command), which is not on "
            f"PATH. Install it with:  {INSTALL_COMMAND}  (Debian/Ubuntu; 'make test' does "
            "it when run as root), then try again.")
    if shutil.which("prlimit") is None:
        raise SandboxUnavailable(
            "The grading sandbox needs 'prlimit' (util-linux), which is not on PATH. "
            "Install it with:  sudo apt-get install -y util-linux")
    problem = _probe(bwrap, _as_root())
    if problem:
        raise SandboxUnavailable(problem)


@functools.lru_cache(maxsize=8)
def _probe(bwrap: str, as_root: bool) -> str:
    """'' when ``bwrap`` starts an empty sandbox with our namespaces, else why it failed."""
    argv = [bwrap, *_namespace_args(as_root), "--die-with-parent", "--new-session",
            "--as-pid-1", "--cap-drop", "ALL", "--ro-bind", "/usr", "/usr", *_system_links(),
            "--", "true"]
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


@functools.lru_cache(maxsize=1)
def _font_caches() -> tuple[Path, ...]:
    """The grader's matplotlib fontlist-*.json: bound read-only into each kernel's
    MPLCONFIGDIR, without which each kernel would rebuild it (seconds)."""
    try:
        import matplotlib
    except ImportError:
        return ()
    caches = sorted(Path(matplotlib.get_cachedir()).glob("fontlist-*.json"))
    if not caches:
        import matplotlib.font_manager  # noqa: F401  (builds the cache)

        caches = sorted(Path(matplotlib.get_cachedir()).glob("fontlist-*.json"))
    return tuple(c.resolve() for c in caches if c.is_file())


def _tmpfs(path: str, size: int, mode: int) -> list[str]:
    return ["--perms", f"{mode:04o}", "--size", str(size), "--tmpfs", path]


def _parent_dirs(destinations, made: set) -> list[str]:
    """Create, readable by all (0755), the folders above each mount point: bwrap would
    make them 0700, which a kernel running as another user could not cross."""
    args = []
    for destination in destinations:
        for parent in reversed(Path(destination).parents[:-1]):  # without "/"
            if str(parent) not in made:
                made.add(str(parent))
                args += ["--perms", "0755", "--dir", str(parent)]
    return args


def kernel_argv(control_dir: Path, course_lib_dir: Path,
                limits: Limits = Limits(),  # noqa: B008
                python: str = sys.executable, hidden=(),
                user: tuple[int, int] = (KERNEL_UID, KERNEL_GID)) -> list[str]:
    """prlimit ... -- bwrap ... python -I -c BOOTSTRAP -f {connection_file}

    ``control_dir`` is bound read-only at its own path (it holds the connection file);
    ``course_lib_dir`` is bound read-only where ``python`` imports course_lib from.
    ``hidden`` names more files or folders the kernel must not see, should they lie in a
    bound folder. When the grader is root the kernel drops to ``user`` (uid, gid).
    ``{connection_file}`` is left for jupyter_client to fill in.
    """
    check_available()
    control_dir, course_lib_dir = Path(control_dir).resolve(), Path(course_lib_dir).resolve()
    if not (course_lib_dir / "__init__.py").is_file():
        raise ValueError(f"course_lib_dir {course_lib_dir} is not a course_lib package "
                         f"(no __init__.py)")
    as_root = _as_root()
    layout = _python_layout(python)
    binds, hide = _python_binds(layout)
    package = Path(layout["course_lib"])
    system = [Path("/usr"), Path("/etc"), *binds]
    empty = _empty_file(control_dir)

    args = [shutil.which("prlimit"), *limits.prlimit_args(), "--",
            shutil.which("bwrap"), *_namespace_args(as_root),
            "--die-with-parent", "--new-session", "--as-pid-1", "--cap-drop", "ALL"]
    if as_root:  # only to drop to the kernel's user, in the launcher's first lines
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    args += ["--ro-bind", "/usr", "/usr", *_system_links(), "--ro-bind", "/etc", "/etc"]
    args += _hide_args([Path(p) for p in _SECRET_FILES + _SECRET_DIRS], empty)
    # what the kernel can write: three sized tmpfs mounts, nothing else
    args += ["--dev", "/dev", *_tmpfs("/dev/shm", limits.shm_bytes, 0o1777),
             "--remount-ro", "/dev", "--proc", "/proc",
             *_tmpfs("/tmp", limits.tmp_bytes, 0o1777),
             *_tmpfs(SANDBOX_HOME, limits.home_bytes, 0o777)]
    for sub in _HOME_DIRS:
        args += ["--perms", "0777", "--dir", f"{SANDBOX_HOME}/{sub}"]
    made = {"/tmp", "/home", SANDBOX_HOME, "/dev", "/proc"}
    later = []  # python folders inside a hidden folder (a venv inside the repo): after hiding
    args += _parent_dirs([*binds, package, control_dir], made)
    for path in binds:
        (later if _inside(path, hide) else args).extend(["--ro-bind", str(path), str(path)])
    args += _hide_args([h for h in hide if _inside(h, system) and h.exists()], empty)
    args += later
    args += ["--ro-bind", str(course_lib_dir), str(package)]
    args += ["--ro-bind", str(control_dir), str(control_dir)]
    mpl = f"{SANDBOX_HOME}/.config/matplotlib"
    for cache in _font_caches():
        args += ["--ro-bind", str(cache), f"{mpl}/{cache.name}"]
    mine = [Path(p).absolute() for p in hidden]
    args += _hide_args([h for h in mine if _inside(h, [*system, package, control_dir])], empty)
    args += ["--remount-ro", "/", "--chdir", f"{SANDBOX_HOME}/work"]
    env = _kernel_env(layout, limits)
    if as_root:
        env[USER_VARIABLE] = f"{int(user[0])}:{int(user[1])}"
    for name, value in env.items():
        args += ["--setenv", name, value]
    # ipykernel exits when its parent becomes pid 1; as pid 1 itself, with no parent in
    # the sandbox, "1" turns that watch off. --die-with-parent stops bwrap when the grader
    # goes; the kernel goes with the grader through the manager's lifeline (a pipe).
    args += ["--setenv", "JPY_PARENT_PID", "1"]
    args += ["--", python, "-I", "-c", _BOOTSTRAP, "-f", "{connection_file}"]
    return args


def _empty_file(control_dir: Path) -> Path:
    """An empty file of the grader's, to cover files the kernel must not read."""
    empty = control_dir / ".empty"
    try:
        fd = os.open(empty, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o644)
        os.close(fd)
    except FileExistsError:
        pass
    return empty


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


def _kernel_env(layout: dict, limits: Limits) -> dict[str, str]:
    home = SANDBOX_HOME
    return {
        "HOME": home,
        "IPYTHONDIR": f"{home}/.ipython",
        "MPLCONFIGDIR": f"{home}/.config/matplotlib",
        "XDG_CACHE_HOME": f"{home}/.cache",
        "XDG_CONFIG_HOME": f"{home}/.config",
        "JUPYTER_CONFIG_DIR": f"{home}/.jupyter",
        "JUPYTER_DATA_DIR": f"{home}/.local/share/jupyter",
        "JUPYTER_RUNTIME_DIR": f"{home}/.runtime",
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


#: The first code the sandbox runs (``python -I -c``): as root, become the kernel's user
#: before anything is imported; never run as root; die with bwrap; then :func:`main`.
_BOOTSTRAP = """\
import os, sys
user = os.environ.pop("NNCOURSE_SANDBOX_USER", "")
if user:
    uid, gid = (int(v) for v in user.split(":"))
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
if 0 in os.getresuid():
    sys.exit("nncourse sandbox: refusing to run a kernel as root")
import ctypes
ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL: a new user clears it
from course_lib.grading.sandbox import main
main(sys.argv[1:])
"""


def allow_kernel_to_connect(path, uid: int = KERNEL_UID, gid: int = KERNEL_GID) -> None:
    """Let the sandboxed kernel connect to the unix socket ``path`` the grader listens on.

    As root, the socket becomes the kernel user's (mode 0600: no one else on the machine
    may connect); otherwise the kernel runs as the grader's own user and nothing changes.
    """
    if _as_root():
        os.chown(path, uid, gid, follow_symlinks=False)
        os.chmod(path, 0o600)


def _prepare_control_dir(control_dir: Path) -> Path:
    """Check that the grader owns ``control_dir`` and no one else writes it; make it
    traversable (0711) so that the kernel's user can open the files it is told of."""
    path = Path(os.path.abspath(control_dir))
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise ValueError(f"control_dir {path} is not a folder (or is a symbolic link)")
    if info.st_uid != os.geteuid():
        raise ValueError(f"control_dir {path} belongs to uid {info.st_uid}, not to the grader")
    if info.st_mode & 0o022:
        raise ValueError(f"control_dir {path} is writable by others (mode "
                         f"{stat.S_IMODE(info.st_mode):o}): make it with tempfile.mkdtemp()")
    os.chmod(path, stat.S_IMODE(info.st_mode) | 0o711)
    return path.resolve()


# -- the kernel manager and its clients ----------------------------------------------------


def _passed_env(env: dict) -> dict:
    """The grader's variables the kernel may see (locale, NNCOURSE_*): no secrets, and none
    of the sandbox's own (those come from the manager only)."""
    return {k: v for k, v in env.items()
            if any(fnmatch.fnmatchcase(k, pattern) for pattern in _PASSED_VARIABLES)
            and k not in (LIMITS_VARIABLE, USER_VARIABLE, LIFELINE_VARIABLE)}


def _parent_pid(stat_text: str) -> int:
    return int(stat_text.rsplit(")", 1)[1].split()[1])


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc: the host's own, never the kernel's)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                if _parent_pid(f.read()) == pid:
                    found.append(int(name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _open_in_sandbox(proc_fd: int, path: str, host_root: tuple[int, int]) -> int:
    """An O_PATH descriptor of the socket at ``path`` in the sandboxed process's root.

    Walks /proc/<pid>/root one component at a time, never following a symbolic link;
    raises FileNotFoundError while the process has not yet entered its sandbox or the
    socket is not there, or is not a socket.
    """
    walk = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
    folder = os.open("root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=proc_fd)
    try:
        info = os.fstat(folder)
        if (info.st_dev, info.st_ino) == host_root:
            raise FileNotFoundError("the kernel has not entered its sandbox yet")
        *parts, name = path.strip("/").split("/")
        for part in parts:
            inner = os.open(part, walk | os.O_DIRECTORY, dir_fd=folder)
            os.close(folder)
            folder = inner
        sock = os.open(name, walk, dir_fd=folder)
    finally:
        os.close(folder)
    if not stat.S_ISSOCK(os.fstat(sock).st_mode):
        os.close(sock)
        raise FileNotFoundError(f"{path} in the sandbox is not a socket")
    return sock


class _SandboxClientMixin:
    """Reach the kernel through the descriptors its :class:`SandboxKernelManager` holds."""

    def _make_url(self, channel: str) -> str:
        manager = getattr(self, "parent", None)
        if not isinstance(manager, SandboxKernelManager):
            raise RuntimeError("a sandboxed kernel is reached only through a client made by "
                               "its SandboxKernelManager (km.client())")
        return manager._make_url(channel)


class SandboxAsyncKernelClient(_SandboxClientMixin, AsyncKernelClient):
    """The async client :meth:`SandboxKernelManager.client` hands out (nbclient's)."""


class SandboxBlockingKernelClient(_SandboxClientMixin, BlockingKernelClient):
    """The blocking client :meth:`SandboxKernelManager.blocking_client` hands out."""


class SandboxKernelManager(AsyncKernelManager):
    """Starts the kernel with :func:`kernel_argv`; transport ipc, reached by descriptor.

    Traits (configuration, constructor or ``start_kernel`` keyword arguments):

    - ``control_dir``: a folder the grader made (``tempfile.mkdtemp()``), owns and alone
      writes; bound read-only into the sandbox at the same path. The manager writes
      ``kernel.json`` (and an empty ``.empty``) there; the grader may put its own files
      and listening sockets there (see :func:`allow_kernel_to_connect`).
    - ``course_lib_dir``: the course_lib package the kernel imports (read-only);
    - ``limits``: a :class:`Limits`; ``hidden``: more paths the kernel must not see;
      ``python``: the Python that runs the kernel;
    - ``kernel_uid``, ``kernel_gid``: who the kernel runs as when the grader is root;
    - ``socket_timeout``: seconds to wait for the kernel's sockets after launch.

    The environment given to ``start_kernel(env=...)`` reaches the kernel only for the
    names in ``_PASSED_VARIABLES``; in particular PYTHONPATH is dropped (course_lib comes
    from ``course_lib_dir``). The ``cwd`` that nbclient passes (the notebook's folder) is
    ignored: the kernel starts in an empty ``/home/student/work`` of its own tmpfs.
    ``sandbox_pid`` is the kernel's process id on the host while it runs.

    The manager holds, while a kernel runs, O_PATH descriptors of its five sockets, of
    its /proc entry, a pidfd (to kill it, never another process) and the write end of the
    lifeline; all are closed by ``shutdown_kernel`` (cleanup) and when the manager is
    collected. A restart closes all but the sockets' numbers, which the new kernel's sockets
    take over, so that a client connected before the restart reaches the same channels. Clients must come from :meth:`client` or
    :meth:`blocking_client`: they connect through the manager's descriptors.
    """

    control_dir = Unicode(None, allow_none=True,
                          help="The grader's folder, read-only in the sandbox: kernel.json "
                               "and the grader's sockets.").tag(config=True)
    course_lib_dir = Unicode(None, allow_none=True, help="The course_lib the kernel imports."
                             ).tag(config=True)
    limits = Any(Limits(), help="A Limits: memory, CPU time, file size, tmpfs sizes."
                 ).tag(config=True)
    hidden = List(Unicode(), help="More paths the kernel must not see.").tag(config=True)
    python = Unicode(sys.executable, help="The Python that runs the kernel.").tag(config=True)
    kernel_uid = Integer(KERNEL_UID, help="The kernel's user when the grader is root."
                         ).tag(config=True)
    kernel_gid = Integer(KERNEL_GID, help="The kernel's group when the grader is root."
                         ).tag(config=True)
    socket_timeout = Float(60.0, help="Seconds to wait for the kernel's sockets (nbclient "
                                      "waits as long for a kernel to start).").tag(config=True)

    client_class = DottedObjectName("course_lib.grading.sandbox.SandboxAsyncKernelClient")
    client_factory = Type(SandboxAsyncKernelClient,
                          klass="jupyter_client.asynchronous.AsyncKernelClient")
    blocking_class = Type(klass=object,
                          default_value="course_lib.grading.sandbox.SandboxBlockingKernelClient")

    _OWN_ARGUMENTS = ("control_dir", "course_lib_dir", "limits", "hidden", "python",
                      "kernel_uid", "kernel_gid", "socket_timeout")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._socket_fds: dict[str, int] = {}
        self._held_fds: dict[str, int] = {}  # a restart's old socket numbers, kept for the new
        self._proc_fd: int | None = None
        self._pidfd: int | None = None
        self._sandbox_pid: int | None = None
        self._lifeline: tuple | None = None

    @property
    def sandbox_pid(self) -> int | None:
        """The sandboxed kernel's process id on the host (bwrap's child), while it runs."""
        return self._sandbox_pid

    @property
    def kernel_spec(self):
        spec = super().kernel_spec
        if spec is not None:
            # bwrap --new-session puts the kernel in its own session, out of reach of the
            # SIGINT jupyter_client sends to bwrap's process group: interrupt by message
            spec.interrupt_mode = "message"
        return spec

    async def _async_start_kernel(self, **kw):
        if "workdir" in kw:
            raise TypeError("SandboxKernelManager: workdir was replaced by control_dir (a "
                            "folder of the grader's, read-only in the sandbox); the kernel "
                            "writes only to its own tmpfs mounts")
        for name in self._OWN_ARGUMENTS:
            if name in kw:
                value = kw.pop(name)
                setattr(self, name, str(value) if isinstance(value, Path) else value)
        if not self.control_dir or not self.course_lib_dir:
            raise ValueError("SandboxKernelManager needs control_dir and course_lib_dir")
        check_available()
        control = _prepare_control_dir(Path(self.control_dir))
        self.transport = "ipc"
        self.ip = IPC_BASE
        self.cache_ports = False
        for channel, port in _PORTS.items():  # fixed: nothing is looked up on the host
            setattr(self, f"{channel}_port", port)
        self.connection_file = str(control / "kernel.json")
        kw["cwd"] = str(control)
        kw["env"] = _passed_env(kw.get("env") or os.environ)
        await super()._async_start_kernel(**kw)

    start_kernel = _async_start_kernel

    def write_connection_file(self, **kwargs) -> None:
        """jupyter_client's, then (as root) the file becomes the kernel user's, still 0600."""
        super().write_connection_file(**kwargs)
        if _as_root():
            fd = os.open(self.connection_file, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                os.fchown(fd, self.kernel_uid, self.kernel_gid)
            finally:
                os.close(fd)

    def format_kernel_cmd(self, extra_arguments=None) -> list[str]:
        argv = kernel_argv(Path(self.control_dir), Path(self.course_lib_dir), self.limits,
                           self.python, self.hidden, (self.kernel_uid, self.kernel_gid))
        argv = [os.path.realpath(self.connection_file) if a == "{connection_file}" else a
                for a in argv]
        # The lifeline: a pipe whose write end only this process holds. The kernel exits
        # when it reads end-of-file, that is when the grader dies or cleans up. (bwrap's
        # --die-with-parent cannot do it for a kernel that changed user: the parent-death
        # signal of a root bwrap without CAP_KILL to a process of another user is refused.)
        self._close_lifeline()
        self._lifeline = os.pipe()
        at = argv.index("--")  # bwrap's first options come after prlimit's "--"
        at = argv.index("--", at + 1)
        argv[at:at] = ["--setenv", LIFELINE_VARIABLE, str(self._lifeline[0])]
        return argv + list(extra_arguments or [])

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        lifeline, self._lifeline = self._lifeline, None  # made by format_kernel_cmd
        self._close_sandbox_fds(keep_sockets=True)
        self._lifeline = lifeline
        if self._lifeline is not None:
            kw["pass_fds"] = (self._lifeline[0],)
        try:
            await super()._async_launch_kernel(kernel_cmd, **kw)
        finally:
            if self._lifeline is not None:  # the kernel's end: only the kernel keeps it
                os.close(self._lifeline[0])
                self._lifeline = (None, self._lifeline[1])
        try:
            await self._open_sockets()
        except BaseException:
            self._kill_sandbox()
            process = getattr(self.provisioner, "process", None)
            if process is not None and process.poll() is None:
                process.kill()
            self._close_sandbox_fds()
            raise

    async def _open_sockets(self) -> None:
        """Find bwrap's child and the kernel's five sockets in its root, without following
        a link; keep O_PATH descriptors of them. Bounded by ``socket_timeout``."""
        process = self.provisioner.process
        host_root = (os.stat("/").st_dev, os.stat("/").st_ino)
        deadline = time.monotonic() + self.socket_timeout
        pause = 0.005
        while True:
            code = process.poll()
            if code is not None:
                raise RuntimeError(f"Kernel died before its sockets opened (bwrap exit code "
                                   f"{code})")
            if self._proc_fd is None:
                self._adopt_child(process.pid)
            if self._proc_fd is not None:
                try:
                    for channel in _PORTS:
                        if channel not in self._socket_fds:
                            self._socket_fds[channel] = self._keep_address(channel, _open_in_sandbox(
                                self._proc_fd, f"{IPC_BASE}-{_PORTS[channel]}", host_root))
                    return
                except OSError:  # not there yet; a dead kernel shows in poll() above
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the sandboxed kernel did not open its sockets within "
                                   f"{self.socket_timeout:g} s")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.01)

    def _keep_address(self, channel: str, fd: int) -> int:
        """After a restart, the new socket under the descriptor number the old one had.

        A client's address is ``ipc:///proc/self/fd/<number>``, and ZMQ reconnects to that
        address by itself after a restart; were the new sockets to get other numbers, a
        client connected before would reach whatever now holds the old ones (another
        channel's socket: heartbeat pings arriving on the control socket, a kernel that
        never answers)."""
        held = self._held_fds.pop(channel, None)
        if held is None:
            return fd
        try:
            os.dup2(fd, held, inheritable=False)  # closes the old socket's descriptor
        finally:
            os.close(fd)
        return held

    def _adopt_child(self, bwrap_pid: int) -> None:
        children = _children(bwrap_pid)
        if len(children) != 1:
            return
        pid = children[0]
        try:
            proc_fd = os.open(f"/proc/{pid}", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            os.close(proc_fd)
            return
        try:  # still bwrap's child, now that both descriptors pin this very process
            fd = os.open("stat", os.O_RDONLY | os.O_CLOEXEC, dir_fd=proc_fd)
            try:
                same = _parent_pid(os.read(fd, 4096).decode()) == bwrap_pid
            finally:
                os.close(fd)
        except (OSError, ValueError, IndexError):
            same = False
        if not same:
            os.close(proc_fd)
            os.close(pidfd)
            return
        self._proc_fd, self._pidfd, self._sandbox_pid = proc_fd, pidfd, pid

    def _make_url(self, channel: str) -> str:
        """The kernel's socket for ``channel``, by the descriptor found at launch."""
        fd = self._socket_fds.get(channel)
        if fd is None:
            raise RuntimeError("the sandboxed kernel's sockets are not open (the kernel is "
                               "not started, or was shut down)")
        return f"ipc:///proc/self/fd/{fd}"

    def client(self, **kwargs):
        client = super().client(**kwargs)
        if not isinstance(client, _SandboxClientMixin):
            raise TypeError("SandboxKernelManager.client_class must be a sandbox client "
                            "(SandboxAsyncKernelClient), which connects by descriptor")
        return client

    def cleanup_ipc_files(self) -> None:
        """Nothing to remove: the sockets live in the kernel's tmpfs, gone with it (and
        their paths name nothing on the host, where removing them could hit a stranger's)."""

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        self._close_sandbox_fds(keep_sockets=restart)

    cleanup_resources = _async_cleanup_resources

    async def _async_interrupt_kernel(self) -> None:
        """By message, as ever; a kernel that never opened its sockets (it died starting)
        cannot be interrupted, and shutting it down must not fail for that."""
        if self.has_kernel and not self._socket_fds:
            return
        await super()._async_interrupt_kernel()

    interrupt_kernel = _async_interrupt_kernel

    async def _async_kill_kernel(self, restart: bool = False) -> None:
        """SIGKILL the kernel itself first, and give bwrap a moment to reap it and exit
        (killed first, bwrap would leave the kernel to the host's init); then bwrap."""
        if self._kill_sandbox():
            process = self.provisioner.process if self.provisioner else None
            for _ in range(100):
                if process is None or process.poll() is not None:
                    break
                await asyncio.sleep(0.01)
        await super()._async_kill_kernel(restart=restart)

    def _kill_sandbox(self) -> bool:
        """SIGKILL the sandboxed kernel (by pidfd: never another process); True if sent."""
        if self._pidfd is None:
            return False
        try:
            signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
        except ProcessLookupError:
            return False
        return True

    def _close_sandbox_fds(self, keep_sockets: bool = False) -> None:
        """Close the descriptors of the kernel; with ``keep_sockets`` (a restart), hold the
        sockets' numbers open for the next kernel's sockets (:meth:`_keep_address`)."""
        if keep_sockets:
            self._held_fds.update(self._socket_fds)
            fds = []
        else:
            fds = list(self._socket_fds.values()) + list(self._held_fds.values())
            self._held_fds = {}
        fds += [fd for fd in (self._proc_fd, self._pidfd) if fd is not None]
        self._socket_fds = {}
        self._proc_fd = self._pidfd = self._sandbox_pid = None
        self._close_lifeline()
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass

    def _close_lifeline(self) -> None:
        """Close this side of the lifeline: a kernel still running then exits."""
        ends, self._lifeline = self._lifeline or (), None
        for fd in ends:
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass

    def __del__(self):
        try:
            self._close_sandbox_fds()
        except Exception:  # noqa: S110 (interpreter shutdown)
            pass
        super().__del__()


# -- inside the sandbox: limits, seccomp, then ipykernel ------------------------------------

_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
#: Syscalls refused with EPERM: processes (fork, vfork, exec), other processes' memory
#: (ptrace, process_vm_*, pidfd_getfd, process_madvise, kcmp), memory outside the limits
#: (memfd_create, memfd_secret, SysV shm and message queues, POSIX mqueues), and what a
#: kernel never needs (keys, bpf, perf, userfaultfd, io_uring, personality, mounts and
#: namespaces, modules, kexec, chroot, acct, swap, reboot).
_REFUSED = (
    "fork", "vfork", "execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev",
    "pidfd_getfd", "process_madvise", "kcmp", "memfd_create", "memfd_secret", "shmget",
    "shmat", "msgget", "mq_open", "keyctl", "add_key", "request_key", "bpf",
    "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "personality", "mount", "umount2", "pivot_root", "setns", "unshare", "open_tree",
    "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "init_module",
    "finit_module", "delete_module", "kexec_load", "kexec_file_load", "chroot", "acct",
    "swapon", "swapoff", "reboot",
)
_NUMBERS = {
    "x86_64": {
        "clone": 56, "clone3": 435, "fork": 57, "vfork": 58, "execve": 59, "execveat": 322,
        "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "pidfd_getfd": 438,
        "process_madvise": 440, "kcmp": 312, "memfd_create": 319, "memfd_secret": 447,
        "shmget": 29, "shmat": 30, "msgget": 68, "mq_open": 240, "keyctl": 250,
        "add_key": 248, "request_key": 249, "bpf": 321, "perf_event_open": 298,
        "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "personality": 135, "mount": 165, "umount2": 166,
        "pivot_root": 155, "setns": 308, "unshare": 272, "open_tree": 428, "move_mount": 429,
        "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442,
        "init_module": 175, "finit_module": 313, "delete_module": 176, "kexec_load": 246,
        "kexec_file_load": 320, "chroot": 161, "acct": 163, "swapon": 167, "swapoff": 168,
        "reboot": 169,
    },
    # the generic table: no fork or vfork
    "aarch64": {
        "clone": 220, "clone3": 435, "execve": 221, "execveat": 281, "ptrace": 117,
        "process_vm_readv": 270, "process_vm_writev": 271, "pidfd_getfd": 438,
        "process_madvise": 440, "kcmp": 272, "memfd_create": 279, "memfd_secret": 447,
        "shmget": 194, "shmat": 196, "msgget": 186, "mq_open": 180, "keyctl": 219,
        "add_key": 217, "request_key": 218, "bpf": 280, "perf_event_open": 241,
        "userfaultfd": 282, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "personality": 92, "mount": 40, "umount2": 39,
        "pivot_root": 41, "setns": 268, "unshare": 97, "open_tree": 428, "move_mount": 429,
        "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442,
        "init_module": 105, "finit_module": 273, "delete_module": 106, "kexec_load": 104,
        "kexec_file_load": 294, "chroot": 51, "acct": 89, "swapon": 224, "swapoff": 225,
        "reboot": 142,
    },
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


def syscall_number(name: str, machine: str | None = None) -> int | None:
    """The number of syscall ``name`` on ``machine`` (this one by default), if it has it."""
    return _NUMBERS.get(machine or platform.machine(), {}).get(name)


def seccomp_program(machine: str | None = None) -> bytes:
    """The BPF program: the syscalls of ``_REFUSED`` answer EPERM; clone only for threads;
    clone3 answers ENOSYS.

    clone3 answers ENOSYS, so glibc falls back to clone, whose flags a filter can read
    (clone3 takes its flags in memory, out of the filter's reach). A syscall of another
    ABI (32-bit x86, x32) kills the process: its numbers would dodge the checks.
    """
    machine = machine or platform.machine()
    if machine not in _NUMBERS:
        raise SandboxUnavailable(f"the grading sandbox's seccomp filter supports x86_64 and "
                                 f"aarch64, not {machine}")
    numbers = _NUMBERS[machine]
    refused = [numbers[name] for name in _REFUSED if name in numbers]
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
    for number, answer in [(n, eperm) for n in refused] + [(numbers["clone3"], enosys)]:
        program += [_instruction(_BPF_JEQ_K, number, jf=1), _instruction(_BPF_RET_K, answer)]
    program += [
        _instruction(_BPF_JEQ_K, numbers["clone"], jt=1),
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
    """Install :func:`seccomp_program` in this process: from now on it starts no process.

    prctl filters the calling thread (and the threads it starts later) only, so this
    refuses to run once a second thread exists.
    """
    if len(os.listdir("/proc/self/task")) != 1:
        raise RuntimeError("install_seccomp_filter must run before any thread is started")
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
    """Apply ``limits`` to this process (soft = hard, so the kernel cannot raise them).

    prlimit set all but RLIMIT_NPROC before bwrap started; they are set again here.
    RLIMIT_NPROC is set only here, in the sandbox: it counts every process and thread of
    the user, so set before bwrap it would count the grader's own processes (a grader
    that is not root) or share one count among all the kernels run in parallel as
    ``kernel_uid``, letting one starve its neighbours. Root ignores it.
    """
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    # soft = hard: SIGKILL when reached (the kernel is its sandbox's pid 1, which ignores
    # SIGXCPU unless it handles it, and student code could handle it)
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # a write past the limit then fails with EFBIG instead of killing the kernel
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    if os.getuid() != 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.threads, limits.threads))


def _limits_from_env() -> Limits:
    value = os.environ.pop(LIMITS_VARIABLE, "")
    if not value:
        return Limits()
    memory, cpu, size, threads, files = (int(v) for v in value.split(","))
    return Limits(memory_bytes=memory, cpu_seconds=cpu, file_bytes=size, threads=threads,
                  open_files=files)


def _watch_lifeline(fd: int) -> None:
    """Exit as soon as the grader's end of the lifeline closes (the grader died or is done)."""
    import threading

    exit_now = os._exit  # taken now: student code may replace os._exit later

    def watch():
        try:
            while os.read(fd, 64):
                pass
        except OSError:
            pass
        exit_now(1)

    threading.Thread(target=watch, name="nncourse-lifeline", daemon=True).start()


def main(argv=None) -> None:
    """The launcher run inside bwrap: limits, seccomp, the lifeline, then ipykernel."""
    argv = sys.argv[1:] if argv is None else argv
    if os.getuid() == 0:
        sys.exit("nncourse sandbox: refusing to run a kernel as root")
    lifeline = os.environ.pop(LIFELINE_VARIABLE, "")
    set_limits(_limits_from_env())
    install_seccomp_filter()
    if lifeline:
        _watch_lifeline(int(lifeline))
    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance(argv=argv)


if __name__ == "__main__":
    main()
