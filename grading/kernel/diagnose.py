"""Why bubblewrap cannot start here, and the one fix for that cause.

bwrap's own message rarely says why: under Docker's seccomp profile it blames a sysctl, and under
Ubuntu's AppArmor restriction it fails to write a uid map. `diagnose` reads the message together
with what the system says (sysctls, seccomp, container, distribution), each read from files under
a root so that the tests can stand in for another system.
"""

import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

README = "README, 'The sandbox on your system'"


@dataclass(frozen=True)
class Cause:
    """One reason the sandbox cannot start: `why` in one line, `fix` the one thing to do."""

    name: str
    why: str
    fix: str


@dataclass(frozen=True)
class System:
    """What this system says about user namespaces, as read from its files."""

    platform: str = "linux"
    distribution: str = ""  # /etc/os-release's ID: debian, ubuntu, fedora, ...
    version: str = ""  # its VERSION_ID
    bwrap: str | None = "/usr/bin/bwrap"
    apparmor_restricts_userns: bool = False  # kernel.apparmor_restrict_unprivileged_userns = 1
    userns_clone_off: bool = False  # kernel.unprivileged_userns_clone = 0 (Debian's old kernels)
    max_user_namespaces: int | None = None  # user.max_user_namespaces
    seccomp_filter: bool = False  # this process runs under a seccomp filter
    container: str | None = None  # docker, podman, or another runtime's name

    @classmethod
    def read(cls, root: Path = Path("/"), environ: dict[str, str] | None = None) -> "System":
        environ = os.environ if environ is None else environ
        release = _key_values(_read(root / "etc/os-release"))
        status = _key_values(_read(root / "proc/self/status"), ":")
        container = None
        if (root / "run/.containerenv").exists():
            container = "podman"
        elif (root / ".dockerenv").exists() and _root_filesystem(root) == "overlay":
            container = "docker"  # (a VM made from a Docker image keeps the file, on a disk of its own)
        elif environ.get("container"):
            container = environ["container"]
        return cls(
            platform=sys.platform,
            distribution=release.get("ID", ""),
            version=release.get("VERSION_ID", ""),
            bwrap=shutil.which("bwrap", path=environ.get("PATH")),
            apparmor_restricts_userns=_sysctl(root, "kernel/apparmor_restrict_unprivileged_userns") == 1,
            userns_clone_off=_sysctl(root, "kernel/unprivileged_userns_clone") == 0,
            max_user_namespaces=_sysctl(root, "user/max_user_namespaces"),
            seccomp_filter=status.get("Seccomp", "0").strip() == "2",
            container=container,
        )


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _key_values(text: str, separator: str = "=") -> dict[str, str]:
    pairs = (line.split(separator, 1) for line in text.splitlines() if separator in line)
    return {key.strip(): value.strip().strip('"') for key, value in pairs}


def _root_filesystem(root: Path) -> str:
    """The type of the file system mounted at / (mountinfo: fields, then " - TYPE SOURCE OPTIONS")."""
    for line in _read(root / "proc/self/mountinfo").splitlines():
        fields, _, tail = line.partition(" - ")
        if fields.split()[4:5] == ["/"] and tail:
            return tail.split()[0]
    return ""


def _sysctl(root: Path, name: str) -> int | None:
    text = _read(root / "proc/sys" / name).strip()
    return int(text) if text.lstrip("-").isdigit() else None


# bwrap's words for each failure (bubblewrap 0.4 to 0.11).
APPARMOR_WORDS = re.compile(r"setting up uid map: Permission denied|loopback: Failed RTM_NEWADDR")
NAMESPACE_REFUSED = re.compile(
    r"No permissions to creat\w* new namespace|Creating new namespace failed: Operation not permitted"
)
PROC_MASKED = re.compile(r"Can't mount proc on /newroot/proc")
MOUNT_DENIED = re.compile(r"Failed to make / slave|Failed to mount tmpfs|pivot_root|Permission denied")


def diagnose(failure: str, system: System) -> Cause:
    """The cause of bwrap's `failure` (its last words) on `system`, and its fix."""
    if system.bwrap is None:
        return _missing(system)
    if system.max_user_namespaces == 0:
        return Cause(
            "sysctl",
            "user namespaces are disabled (sysctl user.max_user_namespaces = 0)",
            "sudo sysctl -w user.max_user_namespaces=15000, and the same line in /etc/sysctl.d/90-userns.conf "
            "to keep it",
        )
    if system.userns_clone_off:
        return Cause(
            "sysctl",
            "unprivileged user namespaces are disabled (sysctl kernel.unprivileged_userns_clone = 0)",
            "sudo sysctl -w kernel.unprivileged_userns_clone=1, and the same line in /etc/sysctl.d/90-userns.conf "
            "to keep it",
        )
    if APPARMOR_WORDS.search(failure) or (system.apparmor_restricts_userns and "Permission denied" in failure):
        return _apparmor(system)
    if NAMESPACE_REFUSED.search(failure):
        return _seccomp(system)
    if PROC_MASKED.search(failure):
        flag = "--security-opt unmask=ALL" if system.container == "podman" else "--security-opt systempaths=unconfined"
        return Cause(
            "proc",
            "the container hides parts of /proc, so bubblewrap may not mount a /proc of its own",
            f"run the container with {flag} (see {README})",
        )
    if "preexec_fn" in failure:  # as root, sandbox.py's own step before bwrap
        return Cause(
            "root",
            "as root, the grader cannot set up the unprivileged user that runs bubblewrap (a Python only root can "
            "read needs a mount namespace, which takes CAP_SYS_ADMIN)",
            'run the grader as an ordinary user (in a container: --user "$(id -u):$(id -g)")',
        )
    if system.container and MOUNT_DENIED.search(failure):
        flag = (
            "--security-opt label=disable --security-opt apparmor=unconfined"
            if system.container == "podman"
            else "--security-opt apparmor=unconfined"
        )
        return Cause(
            "container-lsm",
            f"the container's AppArmor or SELinux profile forbids the mounts bubblewrap makes ({failure.strip()})",
            f"run the container with {flag} (see {README})",
        )
    return Cause("unknown", f"bubblewrap failed: {failure.strip() or 'no message'}", f"see {README}")


def _missing(system: System) -> Cause:
    if system.platform != "linux":
        return Cause(
            "platform",
            f"bubblewrap runs on Linux only, and this is {system.platform}",
            f"grade in the course's container (docker run ..., see {README})",
        )
    install = {
        "debian": "sudo apt-get install bubblewrap (./course setup does it)",
        "ubuntu": "sudo apt-get install bubblewrap (./course setup does it)",
        "fedora": "sudo dnf install bubblewrap",
        "arch": "sudo pacman -S bubblewrap",
    }.get(system.distribution, "install your distribution's bubblewrap package")
    if system.container:
        install = f"grade in the course's image, which has it (see {README})"
    return Cause("missing", "bubblewrap (bwrap) is not installed", install)


def _apparmor(system: System) -> Cause:
    why = (
        "AppArmor restricts unprivileged user namespaces, as Ubuntu does since 23.10 "
        "(sysctl kernel.apparmor_restrict_unprivileged_userns = 1)"
    )
    if system.container:
        return Cause(
            "apparmor",
            f"{why} on the host",
            "on the host, give /usr/bin/bwrap its AppArmor profile (./course setup there does it), and run the "
            f"container with --security-opt apparmor=unconfined (see {README})",
        )
    return Cause(
        "apparmor",
        why,
        f"run ./course setup: it gives {system.bwrap} an AppArmor profile that allows them, with sudo "
        f"(by hand: see {README})",
    )


def _seccomp(system: System) -> Cause:
    why = "a seccomp filter forbids creating user namespaces"
    if system.container == "podman":
        return Cause("seccomp", why, f"run the container with --security-opt seccomp=unconfined (see {README})")
    if system.container is None and system.seccomp_filter:
        return Cause(
            "seccomp",
            f"{why} (a service manager's RestrictNamespaces=, a CI runner's sandbox)",
            "run the grader outside that filter, or in the course's container",
        )
    return Cause(
        "seccomp",
        f"{why} (Docker's default seccomp profile does)",
        f"run the container with --security-opt seccomp=unconfined (see {README})",
    )
