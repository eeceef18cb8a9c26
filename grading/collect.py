"""Collect: SUBMISSIONS (a folder or a .zip of one) → the hand-ins to grade, and every other file.

SUBMISSIONS is only read: zip members are read in memory, one at a time, symbolic links are never
followed. Every file ends up either as a HandIn or as a Stray with its reason; a hand-in that
cannot be read (too large, damaged, past the batch's size limit) is a HandIn with a `problem`.
Layouts, mixed freely:
  <student>/<notebook>.ipynb                  canonical (also nbgrader's <student>/<notebook>/<notebook>.ipynb)
  <name>_[LATE_]<userid>_<subid>_<file>       Canvas 'Download submissions' (student: the user id)
  <Full Name>_<id>_assignsubmission_file_/    Moodle 'Download all submissions' (student: the id),
                                              or flat: <Full Name>_<id>_assignsubmission_file_<file>
all possibly inside one top folder, with __MACOSX/ and .DS_Store junk beside them.
"""

import os
import re
import stat
import time
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from grading.records import HandIn, Stray

MiB = 1 << 20
CANVAS = re.compile(r"^(?P<name>.+?)_(?P<late>LATE_)?(?P<student>\d+)_\d+_(?P<file>.+)$")
CANVAS_RESUBMISSION = re.compile(r"^(?P<stem>.+)-(?P<n>\d+)$")  # Canvas adds -N before the extension
MOODLE_FOLDER = re.compile(r"^(?P<name>.+)_(?P<student>\d+)_assignsubmission_\w+?_$")
MOODLE_FILE = re.compile(r"^(?P<name>.+?)_(?P<student>\d+)_assignsubmission_file_(?P<file>.+)$")
NOTEBOOK_FILE = re.compile(r"^(?P<stem>.+)\.ipynb(\.txt|\.json)?$", re.IGNORECASE)  # browsers may add .txt/.json
# What students and their tools do to a notebook's name, peeled off one at a time; a number counts
# as the version when two files compete: 'Copy of X' (Colab), 'X (2)' (a second download),
# 'X-Copy1' (Jupyter's duplicate), 'X-2'.
DECORATIONS = (
    re.compile(r"^copy[ _-]of[ _-](?P<stem>.+)$", re.IGNORECASE),
    re.compile(r"^(?P<stem>.+?)\s*\((?P<n>\d+)\)$"),
    re.compile(r"^(?P<stem>.+?)-copy(?P<n>\d*)$", re.IGNORECASE),
    re.compile(r"^(?P<stem>.+?)-(?P<n>\d+)$"),
)
SYSTEM_FILES = {".ds_store", "thumbs.db", "desktop.ini", "icon\r"}
UNSAFE_ID = re.compile(r"[/\\\x00-\x1f\x7f]")


class CannotCollect(Exception):
    """SUBMISSIONS cannot be read at all (missing, not a folder or zip, a broken zip)."""


@dataclass(frozen=True)
class Limits:
    """How much is read: a notebook larger than `file_bytes` is not a hand-in, and a batch stops
    being read past `total_bytes` (a zip of a few MB can unpack to gigabytes)."""

    file_bytes: int = 20 * MiB
    total_bytes: int = 2048 * MiB


@dataclass(frozen=True)
class Entry:
    """One file or folder in SUBMISSIONS, wherever it lives."""

    source: str  # as found: the path relative to SUBMISSIONS, or the zip member's name
    parts: tuple[str, ...]  # its path, cleaned: top folders that only wrap the others removed
    folder: bool
    size: int
    mtime: float
    read: Callable[[int], bytes]  # at most this many bytes (a file may grow, a zip header may lie)
    problem: str | None = None  # why it cannot be a hand-in, whatever its name


@contextmanager
def collecting(submissions: Path, notebooks: list[str], limits: Limits = Limits()) -> Iterator["Collection"]:
    """Everything in SUBMISSIONS (a folder or a .zip of one), sorted: the students at once, then
    one HandIn per (student, notebook) as `handins()` reads them, one file at a time. Raises
    CannotCollect, before anything is read, when SUBMISSIONS cannot be."""
    submissions = Path(submissions)
    if submissions.is_dir():
        yield gather(unwrap(list(folder_entries(submissions)), notebooks), notebooks, limits)
        return
    if not submissions.is_file():
        raise CannotCollect(f"{submissions}: no such folder or .zip")
    try:
        archive = zipfile.ZipFile(submissions)
    except (zipfile.BadZipFile, OSError) as error:
        raise CannotCollect(f"{submissions}: not a folder, nor a readable .zip ({error})") from None
    with archive:
        yield gather(unwrap(list(zip_entries(archive)), notebooks), notebooks, limits)


# --- reading SUBMISSIONS ----------------------------------------------------------------------------


def count_files(submissions: Path) -> int | None:
    """How many files SUBMISSIONS holds: no more new hand-ins than that (None: cannot tell)."""
    if submissions.is_dir():
        return sum(len(files) for _, _, files in os.walk(submissions))
    try:
        with zipfile.ZipFile(submissions) as archive:
            return len(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return None


def path_parts(name: str) -> tuple[str, ...]:
    """A member path's parts: either slash separates (zips made on Windows use backslashes), and
    names are compared in NFC (macOS writes NFD)."""
    parts = re.split(r"[/\\]", unicodedata.normalize("NFC", name))
    return tuple(part for part in parts if part not in ("", "."))


def nothing(most: int) -> bytes:
    return b""


def reader(path: Path) -> Callable[[int], bytes]:
    def read(most: int) -> bytes:
        with open(path, "rb") as f:
            return f.read(most)

    return read


def folder_entries(root: Path) -> Iterator[Entry]:
    """Every file and folder under root, without following symbolic links."""
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            found = os.scandir(folder)
        except OSError as error:  # e.g. no permission: reported, not fatal, below the top
            if folder == root:
                raise CannotCollect(f"{root}: cannot be listed ({error.strerror})") from None
            source = folder.relative_to(root).as_posix()
            yield Entry(source, path_parts(source), False, 0, 0.0, nothing, f"could not be listed ({error.strerror})")
            continue
        with found:
            for item in found:
                path = Path(item.path)
                source, info = path.relative_to(root).as_posix(), item.stat(follow_symlinks=False)
                problem = None
                if item.is_symlink():
                    problem = "a symbolic link (not followed)"
                elif item.is_dir(follow_symlinks=False):
                    pending.append(path)
                    yield Entry(source, path_parts(source), True, 0, info.st_mtime, nothing)
                    continue
                elif not stat.S_ISREG(info.st_mode):
                    problem = "not a regular file"  # a FIFO would block the reader forever
                yield Entry(source, path_parts(source), False, info.st_size, info.st_mtime, reader(path), problem)


def member_name(info: zipfile.ZipInfo) -> str:
    """The member's name; zips without the UTF-8 flag (Windows, old macOS) often hold UTF-8 anyway."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("utf-8")
    except UnicodeError:
        return info.filename


def zip_entries(archive: zipfile.ZipFile) -> Iterator[Entry]:
    """Every member, read lazily and in memory (never extracted)."""
    for info in archive.infolist():
        name = member_name(info)
        if not path_parts(name):
            continue  # the root folder itself
        try:
            mtime = time.mktime((*info.date_time, 0, 0, -1))
        except (OverflowError, ValueError):
            mtime = 0.0
        problem, parts = None, path_parts(name)
        if ".." in re.split(r"[/\\]", name):
            problem = "its path leaves the zip ('..')"
        elif re.match(r"^([/\\]|[A-Za-z]:)", name):
            problem = "an absolute path in the zip (a zip made to write outside any folder)"
        if problem:
            parts = (name,)  # in no folder: no student's
        elif stat.S_ISLNK(info.external_attr >> 16):
            problem = "a symbolic link (not followed)"

        def read(most: int, info: zipfile.ZipInfo = info) -> bytes:
            with archive.open(info) as member:
                return member.read(most)

        yield Entry(name, parts, info.is_dir(), info.file_size, mtime, read, problem)


# --- where a file sits: which student, which notebook -------------------------------------------------


def junk(parts: tuple[str, ...]) -> str | None:
    """Why a path is not a hand-in whatever its name: system files, copies tools keep."""
    if any(part == "__MACOSX" or part.startswith("._") or part.lower() in SYSTEM_FILES for part in parts):
        return "system junk"
    if ".ipynb_checkpoints" in parts:
        return "a Jupyter checkpoint copy"
    if any(part.startswith(".") for part in parts):
        return "a hidden file"
    return None


def lms_file(name: str) -> re.Match | None:
    """A file named by Canvas or Moodle: it names its student."""
    return MOODLE_FILE.match(name) or CANVAS.match(name)


def is_wrapper(top: str, files: list[str], folders: list[str], keys: dict[str, str]) -> bool:
    """Whether the one top folder only wraps the submissions (a zipped SUBMISSIONS) rather than
    being one student's folder."""
    if MOODLE_FOLDER.match(top):
        return False
    if any(MOODLE_FOLDER.match(folder) for folder in folders):
        return True
    if any(NOTEBOOK_FILE.match(name) and not lms_file(name) for name in files):
        return False  # a student's own notebooks
    if folders and all(match_notebook(folder + ".ipynb", keys) for folder in folders):
        return False  # one student, in nbgrader's <student>/<notebook>/ layout
    return bool(folders) or any(lms_file(name) for name in files)


def unwrap(entries: list[Entry], notebooks: list[str]) -> list[Entry]:
    """The entries with top folders removed while one folder wraps everything."""
    while True:
        real = [e for e in entries if not junk(e.parts)]
        tops = {e.parts[0] for e in real}
        if len(tops) != 1 or any(len(e.parts) == 1 and not e.folder for e in real):
            return entries
        (top,) = tops
        files = [e.parts[1] for e in real if len(e.parts) == 2 and not e.folder]
        folders = sorted({e.parts[1] for e in real if len(e.parts) > 2 or (len(e.parts) == 2 and e.folder)})
        if not is_wrapper(top, files, folders, notebook_keys(notebooks)):
            return entries
        entries = [
            Entry(e.source, e.parts[1:], e.folder, e.size, e.mtime, e.read, e.problem)
            for e in entries
            if e.parts[:1] == (top,) and len(e.parts) > 1
        ] + [e for e in entries if e.parts[:1] != (top,)]


def safe_id(name: str) -> bool:
    """A student id must be usable as one folder name: OUT/feedback/<student>/."""
    return bool(name) and name not in (".", "..") and not UNSAFE_ID.search(name) and len(name.encode()) <= 200


def folder_student(folder: str) -> str | None:
    """The student a top folder belongs to: Moodle's folders carry the id, others are the id."""
    if junk((folder,)):
        return None
    moodle = MOODLE_FOLDER.match(folder)
    student = moodle["student"] if moodle else folder
    return student if safe_id(student) else None


@dataclass(frozen=True)
class Place:
    """Whose file it is, and what the student called it."""

    student: str
    name: str
    late: bool = False
    resubmission: int = 0  # Canvas's -N


def locate(parts: tuple[str, ...]) -> Place | str:
    """A file's student and own name, from its folder or from its LMS name; or why there is none."""
    if len(parts) > 1:
        student = folder_student(parts[0])
        return Place(student, parts[-1]) if student else f"the folder name '{parts[0]}' cannot be a student id"
    moodle, canvas = MOODLE_FILE.match(parts[0]), CANVAS.match(parts[0])
    if moodle:
        return Place(moodle["student"], moodle["file"])
    if canvas:
        name, resubmission = canvas["file"], 0
        notebook_file = NOTEBOOK_FILE.match(name)
        again = notebook_file and CANVAS_RESUBMISSION.match(notebook_file["stem"])
        if again:
            name, resubmission = again["stem"] + name[len(notebook_file["stem"]) :], int(again["n"])
        return Place(canvas["student"], name, bool(canvas["late"]), resubmission)
    return "outside any student folder, and not named like a Canvas or Moodle download"


# --- which notebook a file name means ---------------------------------------------------------------


def name_key(name: str) -> str:
    """A name as compared: case, spaces, hyphens and dots do not matter."""
    return re.sub(r"[\s_.\-]+", "_", unicodedata.normalize("NFKC", name).casefold()).strip("_")


def notebook_keys(notebooks: list[str]) -> dict[str, str]:
    """Name key → notebook; also without the leading number ('single_chain') when unambiguous."""
    keys = {name_key(nb): nb for nb in notebooks}
    bare: dict[str, list[str]] = {}
    for key, nb in keys.items():
        bare.setdefault(re.sub(r"^\d+_", "", key), []).append(nb)
    return {**{key: nbs[0] for key, nbs in bare.items() if len(nbs) == 1}, **keys}


def match_notebook(name: str, keys: dict[str, str]) -> tuple[str, int] | None:
    """The notebook a file name means, and its copy number ('X (2)' → 2); decorations are peeled
    off one at a time until the rest names a notebook."""
    notebook_file = NOTEBOOK_FILE.match(name)
    if not notebook_file:
        return None
    stem, number = notebook_file["stem"].strip(), 0
    while name_key(stem) not in keys:
        peeled = next((m for m in (d.match(stem) for d in DECORATIONS) if m), None)
        if not peeled:
            return None
        stem, number = peeled["stem"].strip(), max(number, int(peeled.groupdict().get("n") or 0))
    return keys[name_key(stem)], number


# --- gathering: every file accounted for ------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A file for one (student, notebook): the hand-in, unless a newer file beats it."""

    entry: Entry
    place: Place
    notebook: str
    number: int  # its copy number, after Canvas's resubmission number: break ties of time

    def newness(self) -> tuple:
        return (self.entry.mtime, self.place.resubmission, self.number, self.entry.source)


@dataclass
class Collection:
    """Everything found in SUBMISSIONS: every student who handed in anything (an empty folder
    counts), the hand-ins (read by `handins()`), and every file that is not graded (complete once
    `handins()` has run)."""

    students: list[str]
    strays: list[Stray]
    groups: list[list[Candidate]]  # the files for each (student, notebook), newest first
    limits: Limits
    read_bytes: int = field(default=0)

    def handins(self) -> Iterator[HandIn]:
        """One HandIn per (student, notebook), sorted, each holding its file's bytes: the caller
        keeps what it needs and lets the rest go, so that one file at a time is in memory."""
        for group in self.groups:
            handin, lost = self.choose(group)
            self.strays += lost
            yield handin
        self.strays.sort(key=lambda s: (s.source, s.reason))

    def choose(self, newest_first: list[Candidate]) -> tuple[HandIn, list[Stray]]:
        """The hand-in among the files for one (student, notebook): the newest that can be read,
        else the newest, with why it cannot. The others become strays, and the notes name them."""
        strays, winner, data, first_problem = [], None, b"", None
        for candidate in newest_first:
            source, student = candidate.entry.source, candidate.place.student
            if winner:
                strays.append(Stray(source, f"superseded by the newer '{winner.entry.source}'", student))
                continue
            got = self.content(candidate.entry)
            if isinstance(got, str):
                if first_problem is None:
                    first_problem = got
                else:
                    strays.append(Stray(source, got, student))
            else:
                winner, data = candidate, got
        if winner and first_problem:
            strays.append(Stray(newest_first[0].entry.source, first_problem, newest_first[0].place.student))
        chosen = winner or newest_first[0]
        flags, notes = [], []
        if chosen.place.late:
            flags.append("late")
            notes.append("Handed in late (Canvas marked it LATE).")
        if chosen.place.name != f"{chosen.notebook}.ipynb":
            flags.append("renamed")
            notes.append(f"Renamed from '{chosen.place.name}'.")
        if len(newest_first) > 1:
            others = ", ".join(f"'{c.entry.source}'" for c in newest_first if c is not chosen)
            flags.append("duplicate")
            notes.append(f"{len(newest_first)} files for this notebook: graded the newest usable one, not {others}.")
        place, entry = chosen.place, chosen.entry
        problem = None if winner else first_problem
        handin = HandIn(
            place.student, chosen.notebook, entry.source, data, entry.mtime, tuple(flags), tuple(notes), problem
        )
        return handin, strays

    def content(self, entry: Entry) -> bytes | str:
        """The file's bytes, or why they cannot be had."""
        most = self.limits.file_bytes
        if entry.size > most:
            return f"too large ({entry.size / MiB:.0f} MB; the limit is {most / MiB:g} MB, --max-file-mb)"
        left = self.limits.total_bytes - self.read_bytes
        if entry.size > left:
            return (
                f"not read: the batch's files add up to more than {self.limits.total_bytes / MiB:g} MB (--max-total-mb)"
            )
        try:
            data = entry.read(min(most, left) + 1)
        except (OSError, EOFError, RuntimeError, NotImplementedError, zipfile.BadZipFile, zlib.error) as error:
            return f"could not be read ({error})"  # a damaged, encrypted or exotic zip entry
        if len(data) > min(most, left):
            if len(data) > most:
                return f"too large (over {most / MiB:g} MB, --max-file-mb)"
            return (
                f"not read: the batch's files add up to more than {self.limits.total_bytes / MiB:g} MB (--max-total-mb)"
            )
        self.read_bytes += len(data)
        return data


def gather(entries: list[Entry], notebooks: list[str], limits: Limits) -> Collection:
    keys = notebook_keys(notebooks)
    students: set[str] = set()
    strays: list[Stray] = []
    candidates: dict[tuple[str, str], list[Candidate]] = {}
    for entry in entries:
        owner = folder_student(entry.parts[0]) if entry.folder or len(entry.parts) > 1 else None
        if owner:
            students.add(owner)  # an empty student folder counts
        if entry.folder:
            continue
        place = entry.problem or junk(entry.parts) or locate(entry.parts)
        if isinstance(place, str):
            strays.append(Stray(entry.source, place, owner))
            continue
        students.add(place.student)
        match = match_notebook(place.name, keys)
        if not match:
            named = NOTEBOOK_FILE.match(place.name)
            reason = "its name matches no notebook of the course" if named else "not a notebook"
            strays.append(Stray(entry.source, reason, place.student))
            continue
        candidates.setdefault((place.student, match[0]), []).append(Candidate(entry, place, *match))
    groups = [sorted(candidates[k], key=Candidate.newness, reverse=True) for k in sorted(candidates)]
    return Collection(sorted(students), sorted(strays, key=lambda s: (s.source, s.reason)), groups, limits)
