"""The sandbox that student code runs in: bubblewrap, an unprivileged user, and resource limits.

Inside: no network (an empty network namespace), its own PID and mount namespaces, a read-only
view of the system and of Python, and nothing of the course: no solutions/, gradebook, OUT,
hand-ins or other students' scratch. Writable: a size-capped /tmp and /dev/shm (the kernel's
scratch, wiped between notebooks) and the folder that holds the kernel's sockets.

Run as root, the sandbox still drops to an unprivileged user: RLIMIT_NPROC does not apply to
root, and the process cap is what stops a fork bomb. Paths the unprivileged user cannot reach
(a Python under /root, say) are bind-mounted to a reachable staging folder first, in a mount
namespace of the grader's own that nobody else sees (only those that need it: a grader in a
container, as root without CAP_SYS_ADMIN, cannot make one, and its Python is reachable anyway).

Where bubblewrap cannot start, `choose_sandbox` says why and how to fix it (diagnose.py); `auto`
then runs the template confined by what needs no namespace (confine.py), and says which
protections were on and which were off.
"""

import ctypes
import itertools
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from grading.files import owned_folder
from grading.kernel import diagnose
from grading.kernel.confine import FIRST_OWN_UID, Confinement, python_roots, reachable_by_others

SERVER = Path(__file__).with_name("server.py")
# Imported by server.py from its own folder.
FORK, RUNNER = Path(__file__).with_name("fork.py"), Path(__file__).with_name("runner.py")
COMPAT = Path(__file__).parent.parent / "compat.py"
SERVER_INSIDE, FORK_INSIDE, RUNNER_INSIDE = "/opt/grading/server.py", "/opt/grading/fork.py", "/opt/grading/runner.py"
COMPAT_INSIDE = "/opt/grading/compat.py"
RUNTIME_INSIDE = "/run/grading"  # where the kernels' sockets folder appears in the sandbox
SANDBOX_UID = 61_234  # any unused uid: RLIMIT_NPROC counts per user namespace, so one serves all
CLONE_NEWNS, MS_BIND, MS_REC, MS_PRIVATE = 0x20000, 4096, 16384, 1 << 18
GiB, MiB = 1 << 30, 1 << 20


@dataclass(frozen=True)
class Limits:
    """What one notebook's kernel may use."""

    memory_bytes: int = 2 * GiB  # address space beyond what the template maps
    cpu_seconds: int = 120
    file_bytes: int = 64 * MiB  # largest file it may write
    open_files: int = 1024
    processes: int = 64  # tasks in the sandbox, threads included (without namespaces: where a cap can be had)
    scratch_bytes: int = 256 * MiB  # size of /tmp (sandbox only)

    def for_kernel(self) -> dict:
        """The limits the template applies to each kernel it forks."""
        wanted = ("memory_bytes", "cpu_seconds", "file_bytes", "open_files")
        return {k: v for k, v in asdict(self).items() if k in wanted}


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create its namespaces here: `cause` says why and the fix."""

    def __init__(self, cause: diagnose.Cause):
        super().__init__(f"the sandbox cannot start: {cause.why}; fix: {cause.fix}")
        self.cause = cause


def kernel_environment(scratch: str) -> dict[str, str]:
    """A clean environment: nothing of the grader's leaks in, and every library writes to scratch."""
    return {
        "HOME": scratch,
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "MPLCONFIGDIR": f"{scratch}/matplotlib",
        "IPYTHONDIR": f"{scratch}/ipython",
        "JUPYTER_RUNTIME_DIR": f"{scratch}/jupyter",
        "TMPDIR": scratch,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",  # ipykernel's debugger: no warning at start
        # One thread each: workers run side by side, and the template must not start a pool.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def _mount(source: str, target: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(source.encode(), target.encode(), None, MS_BIND | MS_REC, None) != 0:
        raise OSError(ctypes.get_errno(), f"bind {source} -> {target}")


def _drop_root(stage: list[tuple[str, str]]):
    """preexec_fn when run as root: a private mount namespace holding the staged binds (when there
    are any), then an unprivileged user (setgroups/setresgid/setresuid) for bwrap and all it starts."""

    def preexec() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if stage and (libc.unshare(CLONE_NEWNS) != 0 or libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None)):
            raise OSError(ctypes.get_errno(), "private mount namespace")
        for source, staged in stage:
            _mount(source, staged)
        os.setgroups([])
        os.setresgid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)
        os.setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)

    return preexec


SYSTEM_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")  # links into /usr, or folders
_own_uids = itertools.count(FIRST_OWN_UID)  # a template confined without namespaces, as root: a uid each


def _readable() -> list[str]:
    """What a template confined without namespaces may read: the system, Python, its own code
    (the folder of server.py, which imports its siblings from there, and compat.py)."""
    system = ["/usr", "/etc", *(f"/{name}" for name in SYSTEM_LINKS), "/proc", "/sys"]
    return [*system, *python_roots(), str(SERVER.parent), str(COMPAT)]


def _system_binds() -> list[str]:
    """bwrap arguments for the read-only system: /usr, /etc, and the /bin, /lib links of a merged /usr."""
    args = ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for name in SYSTEM_LINKS:
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args


@dataclass
class Sandbox:
    """How to start the kernel template: inside bubblewrap (`enabled`); else under `confinement`
    (no namespaces: Landlock, a process cap), or plainly when that is None (`--sandbox off`)."""

    enabled: bool
    limits: Limits = Limits()
    confinement: Confinement | None = None

    def runtime_inside(self, runtime_dir: Path) -> str:
        """The path at which kernels see the sockets folder."""
        return RUNTIME_INSIDE if self.enabled else str(runtime_dir)

    def template_process(
        self, work: Path, runtime_dir: Path, scratch_dir: Path, ready_first: bool = False
    ) -> subprocess.Popen:
        """Start the kernel template. `work` is the caller's folder (removed with it); `runtime_dir`
        holds the kernels' sockets and is seen by both sides; `scratch_dir` is the kernels' scratch
        when there is no sandbox; `ready_first`: it says it is ready before it warms up."""
        pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.DEVNULL}
        when = ["--ready-first"] if ready_first else []
        if not self.enabled:
            scratch = str(scratch_dir)
            argv = [sys.executable, str(SERVER), "--compat", str(COMPAT), "--scratch", scratch, *when]
            preexec = self._confine(runtime_dir, scratch_dir) if self.confinement else None
            return subprocess.Popen(argv, env=kernel_environment(scratch), cwd=scratch, preexec_fn=preexec, **pipes)
        program = [
            sys.executable,
            SERVER_INSIDE,
            "--compat",
            COMPAT_INSIDE,
            "--scratch",
            "/tmp",
            "--scratch",
            "/dev/shm",
        ]
        program += ["--sandboxed", "--processes", str(self.limits.processes), *when]
        argv, preexec = self._bwrap(work, runtime_dir, program)
        return subprocess.Popen(argv, preexec_fn=preexec, **pipes)

    def _confine(self, runtime_dir: Path, scratch_dir: Path):
        """preexec_fn for a template without namespaces: its uid, process cap and Landlock rules."""
        assert self.confinement is not None
        uid = next(_own_uids) if self.confinement.own_uid else None
        if uid is not None:
            for folder in (runtime_dir, scratch_dir):
                os.chown(folder, uid, uid)
        writable = [str(runtime_dir), str(scratch_dir)]
        return self.confinement.preexec(_readable(), writable, self.limits.processes, uid)

    def _bwrap(self, work: Path, runtime_dir: Path, program: list[str]) -> tuple[list[str], object]:
        code = [(SERVER, SERVER_INSIDE), (FORK, FORK_INSIDE), (RUNNER, RUNNER_INSIDE), (COMPAT, COMPAT_INSIDE)]
        binds = [(root, root, "--ro-bind") for root in python_roots()]
        binds += [(str(path), inside, "--ro-bind") for path, inside in code]
        binds += [(str(runtime_dir), RUNTIME_INSIDE, "--bind")]
        preexec, stage = None, []
        if os.geteuid() == 0:
            # Root's paths may be out of the unprivileged user's reach: stage them (see module doc).
            stage_root = work / "stage"
            stage_root.mkdir(mode=0o755, exist_ok=True)
            os.chown(runtime_dir, SANDBOX_UID, SANDBOX_UID)
            staged_binds = []
            for i, (source, dest, kind) in enumerate(binds):
                if reachable_by_others(source):  # no need to stage it
                    staged_binds.append((source, dest, kind))
                    continue
                staged = stage_root / str(i)
                staged.touch() if Path(source).is_file() else staged.mkdir(exist_ok=True)
                stage.append((source, str(staged)))
                staged_binds.append((str(staged), dest, kind))
            binds, preexec = staged_binds, _drop_root(stage)
        scratch = "/tmp"
        argv = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
        argv += _system_binds()
        argv += ["--proc", "/proc", "--dev", "/dev"]
        argv += ["--size", str(self.limits.scratch_bytes), "--tmpfs", "/tmp"]
        argv += ["--size", str(self.limits.scratch_bytes // 4), "--tmpfs", "/dev/shm"]
        for source, dest, kind in binds:  # after /tmp: a Python may live under /tmp (a clone in CI)
            argv += [kind, source, dest]
        argv += ["--remount-ro", "/", "--clearenv", "--chdir", scratch]
        for key, value in kernel_environment(scratch).items():
            argv += ["--setenv", key, value]
        return argv + program, preexec


def bubblewrap_works() -> str | None:
    """None when a sandboxed Python starts here; otherwise what failed, in bwrap's own last words
    (`diagnose` tells why)."""
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed"
    # Python starts and finds ipykernel (without importing it: that takes a third of a second).
    probe = [sys.executable, "-c", "import importlib.util as u, sys; sys.exit(u.find_spec('ipykernel') is None)"]
    work, owner = owned_folder("probe")
    try:
        work.chmod(0o755)
        runtime = work / "run"
        runtime.mkdir()
        argv, preexec = Sandbox(True)._bwrap(work, runtime, probe)
        try:
            run = subprocess.run(argv, preexec_fn=preexec, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as error:
            return f"bubblewrap failed to start: {error}"
    finally:
        shutil.rmtree(work, ignore_errors=True)
        owner.close()
    if run.returncode != 0:
        return (run.stderr.strip().splitlines() or [f"bubblewrap failed: exit status {run.returncode}"])[-1]
    return None


def choose_sandbox(mode: str, limits: Limits = Limits()) -> tuple[Sandbox, list[str]]:
    """The sandbox for `--sandbox auto|require|off`, and the notes for the terminal and the report
    when grading runs without bubblewrap: why, the fix, which protections were on and which off.
    Raises SandboxUnavailable for `require` when bubblewrap does not work."""
    if mode == "off":
        return Sandbox(False, limits), ["the sandbox is off (--sandbox off): student code ran with the grader's rights"]
    failure = bubblewrap_works()
    if failure is None:
        return Sandbox(True, limits), []
    cause = diagnose.diagnose(failure, diagnose.System.read())
    if mode == "require":
        raise SandboxUnavailable(cause)
    confinement = Confinement.probe(_readable())
    on, off = confinement.protections()
    notes = [
        f"NO SANDBOX: bubblewrap cannot start here: {cause.why}.",
        f"To fix it: {cause.fix}.",
        f"Kernels ran without namespaces. Protections ON: {'; '.join(on)}.",
        f"Protections OFF: {'; '.join(off)}.",
    ]
    return Sandbox(False, limits, confinement), notes
