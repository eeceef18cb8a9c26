"""Writing into OUT: whole files or nothing, and an error that names the file when the disk is full."""

import fcntl
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO

TEMPORARY_PREFIX, OWNER = "grading-", "owner.lock"


def write_atomically(path: Path, data: bytes | str) -> None:
    """Write `data` to `path` whole or not at all: a crash or a full disk mid-write leaves the old
    file (or none) and no partial one."""
    partial = path.with_name(path.name + ".partial")
    try:
        with open(partial, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        partial.replace(path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise OSError(error.errno, f"{error.strerror}, writing {path}") from None


def append_line(path: Path, line: str) -> None:
    """Append one line; it reaches the operating system at once, so a killed process loses nothing."""
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
    except OSError as error:
        raise OSError(error.errno, f"{error.strerror}, writing {path}") from None


def same_or_inside(inner: Path, outer: Path) -> bool:
    """Whether `inner` is `outer` or lies inside it, symbolic links resolved."""
    inner, outer = Path(os.path.realpath(inner)), Path(os.path.realpath(outer))
    return inner == outer or outer in inner.parents


def owned_folder(kind: str) -> tuple[Path, IO]:
    """A new temporary folder, and the lock that says this process owns it: held while the process
    (or one it forked) lives, freed when it is killed, so that the next grader removes the folder."""
    folder = Path(tempfile.mkdtemp(prefix=f"{TEMPORARY_PREFIX}{kind}-"))
    owner = open(folder / OWNER, "w")
    fcntl.flock(owner, fcntl.LOCK_EX)
    return folder, owner


def remove_abandoned() -> list[Path]:
    """Remove the temporary folders of graders that were killed (their owner's lock is free)."""
    removed = []
    for folder in Path(tempfile.gettempdir()).glob(f"{TEMPORARY_PREFIX}*"):
        try:
            with open(folder / OWNER) as owner:
                fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
        except OSError:  # held by a living grader, or not a folder of ours
            continue
    return removed
