"""What still protects the grader where no namespace can be had (bubblewrap cannot start): the
kernel template and every kernel it forks run confined by the means an unprivileged process has.

- Landlock (Linux 5.13+, allowed by Docker's and Podman's default seccomp profiles): the system and
  Python read-only, the kernels' scratch and sockets folders writable, nothing else visible: the
  course, the gradebook, OUT and the hand-ins are out of reach. From Landlock ABI 4 (Linux 6.7) no
  TCP connection or listening socket either; from ABI 6 (Linux 6.12) no signal to a process
  outside the confinement.
- A process cap: RLIMIT_NPROC, under a uid of the template's own when the grader runs as root
  (root is exempt from the cap), else counted on top of what the grader's user already runs.
- The limits each kernel gets from the template (memory, CPU time, file size, open files), and
  its own scratch folder as working directory, HOME and TMPDIR.

Everything is applied in the child between fork and exec of the template, and inherited by every
process it starts. `Confinement.probe` says which parts this machine allows.
"""

import ctypes
import os
import resource
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from grading.files import owned_folder

SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446  # every arch
LANDLOCK_CREATE_RULESET_VERSION, LANDLOCK_RULE_PATH_BENEATH = 1, 1
PR_SET_NO_NEW_PRIVS = 38
# Filesystem rights, by the ABI version that added them.
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_V1 = (1 << 13) - 1  # execute, read, write, remove and make of every kind
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # the only rights a rule on a file may hold
NET_BIND_TCP, NET_CONNECT_TCP = 1, 2
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1, 2
FIRST_OWN_UID = 61_300  # uids for templates run without namespaces by root, one each

libc = ctypes.CDLL(None, use_errno=True)


class RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi() -> int:
    """Landlock's ABI version here; 0 when the kernel lacks it or a seccomp filter forbids it."""
    version = libc.syscall(SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), LANDLOCK_CREATE_RULESET_VERSION)
    return max(version, 0)


def handled_fs(abi: int) -> int:
    return FS_V1 | (REFER if abi >= 2 else 0) | (TRUNCATE if abi >= 3 else 0) | (IOCTL_DEV if abi >= 5 else 0)


def landlock(abi: int, readable: list[str], writable: list[str], devices: str = "/dev") -> None:
    """Restrict this process and all it starts to reading `readable`, writing `writable`, and
    using the devices (never creating files there); no TCP from ABI 4, no signals or abstract
    sockets beyond the confinement from ABI 6. Raises OSError when the kernel refuses."""
    fs = handled_fs(abi)
    attr = RulesetAttr(
        fs,
        NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0,
        SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0,
    )
    size = 8 if abi < 4 else 16 if abi < 6 else 24  # the struct as this kernel knows it
    ruleset = libc.syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0)
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset")
    try:
        rules = [(path, EXECUTE | READ_FILE | READ_DIR) for path in readable]
        rules += [(path, fs) for path in writable]
        rules.append((devices, READ_FILE | READ_DIR | WRITE_FILE | (IOCTL_DEV & fs)))
        for path, rights in rules:
            _allow(ruleset, path, rights & fs)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "no_new_privs")
        if libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self")
    finally:
        os.close(ruleset)


def _allow(ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return  # a system folder this machine does not have
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= FILE_RIGHTS
        rule = PathBeneathAttr(rights, fd)
        if libc.syscall(SYS_LANDLOCK_ADD_RULE, ruleset, LANDLOCK_RULE_PATH_BENEATH, ctypes.byref(rule), 0) != 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule {path}")
    finally:
        os.close(fd)


def tasks_of(uid: int) -> int:
    """Threads of every process whose real uid is `uid`: what RLIMIT_NPROC counts."""
    count = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields.get("Uid", "-1 ").split()[0]) == uid:
            count += int(fields.get("Threads", "1"))
    return count


def reachable_by_others(path: str) -> bool:
    """Whether a user who is neither owner nor group could read `path`: every folder on the way
    searchable by others, the path itself readable."""
    resolved = Path(path).resolve()
    for folder in [*reversed(resolved.parents)]:
        if not os.stat(folder).st_mode & stat.S_IXOTH:
            return False
    return bool(os.stat(resolved).st_mode & stat.S_IROTH)


@dataclass
class Confinement:
    """What confines a template run without namespaces; `probe` fills it for this machine."""

    landlock_abi: int = 0
    own_uid: bool = False  # root: the template runs under a uid of its own
    process_cap: bool = False
    why_not: dict[str, str] = field(default_factory=dict)  # protection -> why it is off

    @classmethod
    def probe(cls, readable: list[str]) -> "Confinement":
        """What this machine allows, tried for real on a Python that reads `readable` (the system,
        Python, the template's files)."""
        found = cls(landlock_abi=landlock_abi())
        if not found.landlock_abi:
            found.why_not["files"] = "Landlock is not available (Linux 5.13 or later, allowed by seccomp)"
        if os.geteuid() == 0:
            unreachable = [p for p in readable if os.path.exists(p) and not reachable_by_others(p)]
            found.own_uid = not unreachable
            if unreachable:
                found.why_not["processes"] = f"{unreachable[0]} is readable by root only, so kernels run as root"
        found.process_cap = os.geteuid() != 0 or found.own_uid
        folder, owner = owned_folder("confine-probe")  # removed by the next grader if this one is killed
        try:
            scratch = str(folder)
            uid = FIRST_OWN_UID - 1 if found.own_uid else None
            if uid is not None:
                os.chown(scratch, uid, uid)
            trial = [sys.executable, "-c", "import os, sys; sys.exit(os.getcwd() != sys.argv[1])", scratch]
            preexec = found.preexec(readable, [scratch], 64, uid)
            try:
                ran = subprocess.run(trial, preexec_fn=preexec, cwd=scratch, capture_output=True, timeout=60)
                failed = ran.returncode != 0
            except (OSError, subprocess.SubprocessError):
                failed = True
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            owner.close()
        if failed:  # keep only what needs nothing: the kernels' own limits
            found = cls(why_not={"all": "confining a process failed here"})
        return found

    def protections(self) -> tuple[list[str], list[str]]:
        """(on, off): each a short phrase an instructor can read."""
        abi = self.landlock_abi
        on = ["memory, CPU time, file size and open files limited per kernel", "a scratch folder of its own"]
        off = ["own PID, mount and network namespaces", "a size cap on the scratch folder (per file only)"]
        (on if abi else off).append("course files, gradebook, OUT and other hand-ins out of reach (Landlock)")
        (on if abi >= 4 else off).append("no TCP network (Landlock ABI 4, Linux 6.7)")
        (on if abi >= 6 or self.own_uid else off).append("no signals to the grader's processes")
        if self.process_cap:
            on.append("processes capped" + ("" if self.own_uid else " (counted with the grader's user's own)"))
        else:
            off.append("a process cap")
        return on, off

    def preexec(self, readable: list[str], writable: list[str], processes: int, uid: int | None):
        """The function to run in the template's process between fork and exec."""
        budget = processes if uid is not None else tasks_of(os.getuid()) + processes

        def confine() -> None:
            if uid is not None:
                os.setgroups([])
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
            if self.process_cap:
                resource.setrlimit(resource.RLIMIT_NPROC, (budget, budget))
            if self.landlock_abi:
                landlock(self.landlock_abi, readable, writable)

        return confine


def python_roots() -> list[str]:
    """The folders a Python of this grader needs: its environment, its base installation."""
    return sorted({sys.prefix, sys.base_prefix, str(Path(sys.executable).resolve().parent.parent)})
