"""`./course sandbox` (also run by `./course setup`) on a system like Ubuntu 24.04, whose AppArmor
restricts unprivileged user namespaces: it gives bwrap an AppArmor profile, says so, and checks that
a sandboxed kernel then starts.

The system is a temporary root (COURSE_ROOT): its sysctl, /etc/apparmor.d and the loaded profiles;
no real /etc is touched. Its `apparmor_parser` records what it loads, and its `bwrap` fails exactly
as Ubuntu 24.04's does until a profile that allows user namespaces is loaded, then runs the real
bubblewrap: the kernel that the check starts is real."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from coursework import config

pytestmark = pytest.mark.kernel

FAKE_BWRAP = """#!/bin/sh
# Ubuntu 24.04's bwrap: refused a uid map until AppArmor has a profile that allows user namespaces.
if [ ! -e {root}/loaded ]; then
    echo "bwrap: setting up uid map: Permission denied" >&2
    exit 1
fi
exec {real} "$@"
"""
FAKE_PARSER = """#!/bin/sh
# apparmor_parser -r FILE: loads FILE; a profile that says `userns,` lets bwrap make its namespaces.
echo "$@" >> {root}/parser.log
grep -q "userns," "$2" && touch {root}/loaded
"""
VENDOR_PROFILE = """abi <abi/4.0>,
include <tunables/global>

profile bwrap {bwrap} flags=(attach_disconnected) {{
  allow userns,
  allow px /** -> bwrap//&unpriv_bwrap,
}}
"""


@pytest.fixture
def system():
    """A temporary root restricting user namespaces, and a PATH whose bwrap and apparmor_parser are
    its own. Readable by all: as root, the grader starts bwrap as an unprivileged user."""
    root = Path(tempfile.mkdtemp(prefix="course-root-"))
    root.chmod(0o755)
    (root / "proc/sys/kernel").mkdir(parents=True)
    (root / "proc/sys/kernel/apparmor_restrict_unprivileged_userns").write_text("1\n")
    (root / "etc/apparmor.d").mkdir(parents=True)
    bin_dir = root / "bin"
    bin_dir.mkdir()
    (bin_dir / "bwrap").write_text(FAKE_BWRAP.format(root=root, real=shutil.which("bwrap")))
    (bin_dir / "apparmor_parser").write_text(FAKE_PARSER.format(root=root))
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    yield root
    shutil.rmtree(root)


def course_sandbox(root: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "COURSE_ROOT": str(root),
        "PATH": f"{root / 'bin'}:{os.environ['PATH']}",
        "VENV": str(Path(sys.executable).parent.parent),
    }
    return subprocess.run([str(config.ROOT / "course"), "sandbox"], env=env, capture_output=True, text=True)


def parser_calls(root: Path) -> list[str]:
    log = root / "parser.log"
    return log.read_text().splitlines() if log.exists() else []


def test_gives_bwrap_a_profile_says_so_and_a_kernel_then_starts(system):
    run = course_sandbox(system)
    assert run.returncode == 0, run.stdout + run.stderr
    profile = system / "etc/apparmor.d/bwrap"
    assert f"profile bwrap {system / 'bin/bwrap'} flags=(unconfined)" in profile.read_text()
    assert "userns," in profile.read_text()
    assert parser_calls(system) == [f"-r {profile}"]
    assert f"enabled an AppArmor profile for {system / 'bin/bwrap'} ({profile})" in run.stdout
    assert "the sandbox works: a kernel started in bubblewrap" in run.stdout

    again = course_sandbox(system)  # bwrap starts now: nothing more to do
    assert again.returncode == 0 and "enabled" not in again.stdout
    assert parser_calls(system) == [f"-r {profile}"]


def test_the_systems_own_profile_for_bwrap_is_loaded_not_a_second_one(system):
    vendor = system / "etc/apparmor.d/bwrap-userns-restrict"
    vendor.write_text(VENDOR_PROFILE.format(bwrap=system / "bin/bwrap"))
    (system / "etc/apparmor.d/disable").mkdir()
    (system / "etc/apparmor.d/disable/bwrap-userns-restrict").symlink_to(vendor)  # shipped disabled
    run = course_sandbox(system)
    assert run.returncode == 0, run.stdout + run.stderr
    assert parser_calls(system) == [f"-r {vendor}"]
    assert not (system / "etc/apparmor.d/disable/bwrap-userns-restrict").is_symlink()  # loaded at boot too
    assert not (system / "etc/apparmor.d/bwrap").exists()
    assert f"enabled an AppArmor profile for {system / 'bin/bwrap'} ({vendor})" in run.stdout


def test_nothing_is_changed_where_user_namespaces_are_not_restricted(system):
    (system / "proc/sys/kernel/apparmor_restrict_unprivileged_userns").write_text("0\n")
    (system / "loaded").touch()  # this bwrap works as a system without the restriction's does
    run = course_sandbox(system)
    assert run.returncode == 0, run.stdout + run.stderr
    assert parser_calls(system) == [] and list((system / "etc/apparmor.d").iterdir()) == []
    assert "the sandbox works" in run.stdout


def test_a_sandbox_that_still_cannot_start_is_named_with_its_fix(system):
    (system / "bin/apparmor_parser").write_text(f'#!/bin/sh\necho "$@" >> {system}/parser.log\n')  # loads nothing
    run = course_sandbox(system)
    assert run.returncode == 1
    assert "enabled an AppArmor profile" in run.stdout
    assert "the sandbox cannot start: AppArmor restricts unprivileged user namespaces" in run.stdout
    assert "fix: run ./course setup" in run.stdout
