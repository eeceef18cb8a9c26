"""collect: every layout of docs/grading-contract.md, in a folder and in a zip, mixed in one batch; every file
accounted for; SUBMISSIONS left exactly as it was."""

import hashlib
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from grading.collect import CannotCollect, Limits, collecting
from grading.records import HandIn, Stray

NOTEBOOKS = ["01_tensors", "02_single_chain", "03_computation_graph"]
T0 = time.mktime((2026, 3, 2, 10, 0, 0, 0, 0, -1))  # zip times have 2-second steps
DAY = 86400.0
MOODLE = "Ana María López_2001_assignsubmission_file_"

# path -> seconds after T0; the content of each file is its own path, so a hand-in shows its file.
BATCH = {
    # canonical, and nbgrader's <student>/<notebook>/<notebook>.ipynb
    "alice/01_tensors.ipynb": 0,
    "alice/02_single_chain.ipynb": 0,
    "bob/01_tensors/01_tensors.ipynb": 0,
    "bob/01_tensors/timestamp.txt": 0,
    # Canvas: late; a resubmission (-1) with the same time as the first, which it beats
    "smithjohn_1001_5001_01_tensors.ipynb": 0,
    "smithjohn_LATE_1001_5002_02_single_chain.ipynb": DAY,
    "doejane_1002_6001_02_single_chain.ipynb": 0,
    "doejane_1002_6002_02_single_chain-1.ipynb": 0,
    # Moodle, in its folders and flat
    f"{MOODLE}/Copy of 01_tensors.ipynb": 0,
    f"{MOODLE}/02 Single Chain.ipynb": 0,
    "Li Wei_2002_assignsubmission_file_03-computation-graph.ipynb": 0,
    # renamed by a second download; two files for one notebook, the newer one renamed by Colab
    "carol/01_tensors (1).ipynb": 0,
    "dave/01_tensors.ipynb": 0,
    "dave/Copy of 01_tensors.ipynb": 2 * DAY,
    # matches no notebook; not a notebook; outside any student folder
    "erin/homework.ipynb": 0,
    "erin/notes.pdf": 0,
    "01_tensors.ipynb": 0,
    # junk
    ".DS_Store": 0,
    "alice/.DS_Store": 0,
    "alice/.ipynb_checkpoints/01_tensors-checkpoint.ipynb": 0,
    "__MACOSX/alice/._01_tensors.ipynb": 0,
}
EMPTY_FOLDERS = ["frank"]

STUDENTS = ["1001", "1002", "2001", "2002", "alice", "bob", "carol", "dave", "erin", "frank"]
HANDINS = {  # (student, notebook) -> (file, flags)
    ("1001", "01_tensors"): ("smithjohn_1001_5001_01_tensors.ipynb", ()),
    ("1001", "02_single_chain"): ("smithjohn_LATE_1001_5002_02_single_chain.ipynb", ("late",)),
    ("1002", "02_single_chain"): ("doejane_1002_6002_02_single_chain-1.ipynb", ("duplicate",)),
    ("2001", "01_tensors"): (f"{MOODLE}/Copy of 01_tensors.ipynb", ("renamed",)),
    ("2001", "02_single_chain"): (f"{MOODLE}/02 Single Chain.ipynb", ("renamed",)),
    ("2002", "03_computation_graph"): (
        "Li Wei_2002_assignsubmission_file_03-computation-graph.ipynb",
        ("renamed",),
    ),
    ("alice", "01_tensors"): ("alice/01_tensors.ipynb", ()),
    ("alice", "02_single_chain"): ("alice/02_single_chain.ipynb", ()),
    ("bob", "01_tensors"): ("bob/01_tensors/01_tensors.ipynb", ()),
    ("carol", "01_tensors"): ("carol/01_tensors (1).ipynb", ("renamed",)),
    ("dave", "01_tensors"): ("dave/Copy of 01_tensors.ipynb", ("renamed", "duplicate")),
}
STRAYS = {  # file -> (student, words its reason must hold)
    "bob/01_tensors/timestamp.txt": ("bob", "not a notebook"),
    "doejane_1002_6001_02_single_chain.ipynb": ("1002", "superseded"),
    "dave/01_tensors.ipynb": ("dave", "superseded"),
    "erin/homework.ipynb": ("erin", "matches no notebook"),
    "erin/notes.pdf": ("erin", "not a notebook"),
    "01_tensors.ipynb": (None, "outside any student folder"),
    ".DS_Store": (None, "junk"),
    "alice/.DS_Store": ("alice", "junk"),
    "alice/.ipynb_checkpoints/01_tensors-checkpoint.ipynb": ("alice", "checkpoint"),
    "__MACOSX/alice/._01_tensors.ipynb": (None, "junk"),
}


DEFAULT = Limits()


@dataclass
class Found:
    students: list[str]
    handins: list[HandIn]
    strays: list[Stray]


def collect(path: Path, notebooks: list[str], limits: Limits = DEFAULT) -> Found:
    """Everything collect finds, read at once (the grader reads one hand-in at a time)."""
    with collecting(path, notebooks, limits) as found:
        handins = list(found.handins())
        return Found(found.students, handins, found.strays)


def write_folder(root: Path, files: dict[str, float], folders: list[str] = ()) -> Path:
    for name, offset in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(name.encode())
        os.utime(path, (T0 + offset, T0 + offset))
    for name in folders:
        (root / name).mkdir(parents=True)
    return root


def write_zip(path: Path, files: dict[str, float], folders: list[str] = (), top: str = "") -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, offset in files.items():
            member = name if name.startswith("__MACOSX") else top + name
            archive.writestr(zipfile.ZipInfo(member, time.localtime(T0 + offset)[:6]), name.encode())
        for name in folders:
            archive.writestr(zipfile.ZipInfo(top + name + "/", time.localtime(T0)[:6]), b"")
    return path


def tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        digest.update(f"{path.relative_to(root)}|{info.st_mode}|{info.st_mtime_ns}|{info.st_size}".encode())
        if path.is_file() and not path.is_symlink():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def as_found(name: str, top: str) -> str:
    return name if name.startswith("__MACOSX") else top + name


@pytest.fixture(params=["folder", "zip", "zip in one top folder"])
def batch(request, tmp_path) -> tuple[Path, str]:
    """The batch, and the prefix its files carry in the sources collect reports."""
    if request.param == "folder":
        return write_folder(tmp_path / "submissions", BATCH, EMPTY_FOLDERS), ""
    top = "Submissions 2026/" if request.param == "zip in one top folder" else ""
    return write_zip(tmp_path / "submissions.zip", BATCH, EMPTY_FOLDERS, top), top


def test_every_layout_mixed_in_one_batch(batch):
    path, top = batch
    found = collect(path, NOTEBOOKS)
    assert found.students == STUDENTS
    got = {(h.student, h.notebook): (h.source, h.flags) for h in found.handins}
    assert got == {key: (as_found(name, top), flags) for key, (name, flags) in HANDINS.items()}
    for handin in found.handins:
        assert handin.content == handin.source.removeprefix(top).encode()
        assert len(handin.notes) == len(handin.flags)
    strays = {s.source: s for s in found.strays}
    assert set(strays) == {as_found(name, top) for name in STRAYS}
    for name, (student, words) in STRAYS.items():
        stray = strays[as_found(name, top)]
        assert stray.student == student and words in stray.reason, stray


def test_every_file_is_accounted_for_once(batch):
    path, top = batch
    found = collect(path, NOTEBOOKS)
    sources = [h.source for h in found.handins] + [s.source for s in found.strays]
    assert sorted(sources) == sorted(as_found(name, top) for name in BATCH)


def test_flags_carry_notes_that_name_the_files(batch):
    path, top = batch
    handins = {(h.student, h.notebook): h for h in collect(path, NOTEBOOKS).handins}
    dave = handins["dave", "01_tensors"]
    assert "Renamed from 'Copy of 01_tensors.ipynb'." in dave.notes
    assert any(f"'{top}dave/01_tensors.ipynb'" in note for note in dave.notes)
    assert dave.submitted_at == pytest.approx(T0 + 2 * DAY)
    assert any("LATE" in note for note in handins["1001", "02_single_chain"].notes)


def test_newest_wins_and_copy_numbers_break_ties(tmp_path):
    files = {
        "ann/02_single_chain.ipynb": 0,
        "ann/02_single_chain (2).ipynb": 0,
        "ann/02_single_chain (1).ipynb": 0,
        "ann/Copy of 01_tensors.ipynb": DAY,
        "ann/01_tensors (3).ipynb": 0,  # a higher number, but older
    }
    found = collect(write_folder(tmp_path / "s", files), NOTEBOOKS)
    assert [h.source for h in found.handins] == ["ann/Copy of 01_tensors.ipynb", "ann/02_single_chain (2).ipynb"]
    assert {s.source for s in found.strays} == set(files) - {h.source for h in found.handins}
    assert all("superseded" in s.reason and s.student == "ann" for s in found.strays)


@pytest.mark.parametrize(
    ("name", "notebook"),
    [
        ("Copy of 02_single_chain.ipynb", "02_single_chain"),
        ("02_single_chain (1).ipynb", "02_single_chain"),
        ("02_SINGLE_CHAIN.IPYNB", "02_single_chain"),
        ("02 single chain.ipynb", "02_single_chain"),
        ("02-single-chain.ipynb", "02_single_chain"),
        ("02_single_chain-Copy1.ipynb", "02_single_chain"),
        ("Copy of Copy of 02_single_chain (2).ipynb", "02_single_chain"),
        ("single_chain.ipynb", "02_single_chain"),
        ("03_computation_graph.ipynb.txt", "03_computation_graph"),
        ("02_single_chain_final.ipynb", None),
        ("02_single_chain.py", None),
        ("04_two_paths.ipynb", None),
    ],
)
def test_renamed_files_are_matched(tmp_path, name, notebook):
    found = collect(write_folder(tmp_path / "s", {f"ann/{name}": 0}), NOTEBOOKS)
    assert found.students == ["ann"]
    if notebook:
        (handin,) = found.handins
        assert (handin.notebook, handin.flags) == (notebook, ("renamed",))
        assert handin.notes == (f"Renamed from '{name}'.",)
    else:
        assert not found.handins and [s.source for s in found.strays] == [f"ann/{name}"]


@pytest.mark.parametrize(
    "files",
    [
        ["alice/01_tensors.ipynb"],  # one student: not a wrapper to remove
        ["alice/01_tensors/01_tensors.ipynb", "alice/02_single_chain/02_single_chain.ipynb"],
    ],
)
def test_a_single_student_folder_is_not_taken_for_a_wrapper(tmp_path, files):
    found = collect(write_zip(tmp_path / "one.zip", dict.fromkeys(files, 0)), NOTEBOOKS)
    assert found.students == ["alice"] and len(found.handins) == len(files)


def test_wrapping_folders_are_removed(tmp_path):
    files = {
        "Downloads/course/alice/01_tensors.ipynb": 0,
        "Downloads/course/smithjohn_1001_5001_01_tensors.ipynb": 0,
        "Downloads/course/README.txt": 0,
    }
    found = collect(write_zip(tmp_path / "w.zip", files), NOTEBOOKS)
    assert found.students == ["1001", "alice"] and len(found.handins) == 2
    assert [(s.source, s.student) for s in found.strays] == [("Downloads/course/README.txt", None)]


def test_windows_separators_and_unsafe_paths_in_a_zip(tmp_path):
    files = {"grace\\01_tensors.ipynb": 0, "../evil/01_tensors.ipynb": 0, "henry/../../01_tensors.ipynb": 0}
    found = collect(write_zip(tmp_path / "w.zip", files), NOTEBOOKS)
    assert [(h.student, h.notebook) for h in found.handins] == [("grace", "01_tensors")]
    assert {s.source for s in found.strays} == set(files) - {"grace\\01_tensors.ipynb"}
    assert all(".." in s.reason or "leaves" in s.reason for s in found.strays)
    assert all("/" not in s and "\\" not in s and s not in (".", "..") for s in found.students)


def test_symbolic_links_and_special_files_are_not_followed(tmp_path):
    secret = tmp_path / "outside" / "01_tensors.ipynb"
    secret.parent.mkdir()
    secret.write_bytes(b"secret")
    root = write_folder(tmp_path / "s", {"ivan/02_single_chain.ipynb": 0})
    (root / "ivan" / "01_tensors.ipynb").symlink_to(secret)
    (root / "jane").symlink_to(secret.parent, target_is_directory=True)
    os.mkfifo(root / "ivan" / "03_computation_graph.ipynb")  # reading it would block forever
    found = collect(root, NOTEBOOKS)
    assert [h.source for h in found.handins] == ["ivan/02_single_chain.ipynb"]
    assert {s.source: s.reason for s in found.strays} == {
        "ivan/01_tensors.ipynb": "a symbolic link (not followed)",
        "ivan/03_computation_graph.ipynb": "not a regular file",
        "jane": "a symbolic link (not followed)",
    }
    assert all(b"secret" not in h.content for h in found.handins)


def test_too_large_and_damaged_hand_ins_are_unreadable_with_the_reason(tmp_path):
    path = tmp_path / "w.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("kim/01_tensors.ipynb", b"{" + b" " * 2000 + b"}")
        archive.writestr("kim/02_single_chain.ipynb", b"CORRUPT-ME")
        archive.writestr("lee/01_tensors.ipynb", b"fine")
    path.write_bytes(path.read_bytes().replace(b"CORRUPT-ME", b"CORRUPTED!"))  # now fails its CRC
    found = collect(path, NOTEBOOKS, Limits(file_bytes=1000))
    problems = {h.source: h.problem for h in found.handins}
    assert problems["lee/01_tensors.ipynb"] is None
    assert (
        problems["kim/01_tensors.ipynb"].startswith("too large") and "--max-file-mb" in problems["kim/01_tensors.ipynb"]
    )
    assert problems["kim/02_single_chain.ipynb"].startswith("could not be read")
    assert all(h.content == b"" for h in found.handins if h.problem)
    assert found.students == ["kim", "lee"] and not found.strays


def test_an_unreadable_newest_file_leaves_the_older_one_graded(tmp_path):
    files = {"kim/01_tensors.ipynb": 0, "kim/Copy of 01_tensors.ipynb": DAY}
    root = write_folder(tmp_path / "s", files)
    (root / "kim" / "Copy of 01_tensors.ipynb").write_bytes(b" " * 2000)
    found = collect(root, NOTEBOOKS, Limits(file_bytes=1000))
    (handin,) = found.handins
    assert handin.source == "kim/01_tensors.ipynb" and "duplicate" in handin.flags and handin.problem is None
    assert [s.reason.split(" (")[0] for s in found.strays] == ["too large"]


def test_a_zip_that_unpacks_past_the_total_limit_is_read_one_member_at_a_time(tmp_path):
    """60 members of 1 MB of zeros (a few KB zipped): past the batch limit, the rest are unreadable,
    and no more than one member is held at a time."""
    import tracemalloc

    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for n in range(60):
            archive.writestr(f"student{n:02d}/01_tensors.ipynb", bytes(1 << 20))
    assert path.stat().st_size < 200_000
    tracemalloc.start()
    with collecting(path, NOTEBOOKS, Limits(file_bytes=2 << 20, total_bytes=20 << 20)) as found:
        problems = [h.problem for h in found.handins()]  # each hand-in let go at once
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert problems[:20] == [None] * 20
    assert all(p and "--max-total-mb" in p for p in problems[20:])
    assert peak < 4 << 20, f"{peak >> 20} MiB held at once"


def test_an_absolute_path_in_a_zip_is_not_a_student(tmp_path):
    files = {"/tmp/01_tensors.ipynb": 0, "C:\\Users\\x\\01_tensors.ipynb": 0, "ok/01_tensors.ipynb": 0}
    found = collect(write_zip(tmp_path / "abs.zip", files), NOTEBOOKS)
    assert found.students == ["ok"]
    assert {s.source: s.reason for s in found.strays} == {
        name: "an absolute path in the zip (a zip made to write outside any folder)"
        for name in files
        if name != "ok/01_tensors.ipynb"
    }


@pytest.mark.parametrize("kind", ["folder", "zip"])
def test_submissions_are_left_unchanged(tmp_path, kind):
    if kind == "folder":
        path = write_folder(tmp_path / "s", BATCH, EMPTY_FOLDERS)
        before = tree_hash(path)
        collect(path, NOTEBOOKS)
        assert tree_hash(path) == before
    else:
        path = write_zip(tmp_path / "s.zip", BATCH, EMPTY_FOLDERS)
        before = tree_hash(tmp_path)
        collect(path, NOTEBOOKS)
        assert tree_hash(tmp_path) == before  # nothing extracted beside it either


def test_collect_is_deterministic(tmp_path):
    path = write_zip(tmp_path / "s.zip", BATCH, EMPTY_FOLDERS)
    assert collect(path, NOTEBOOKS) == collect(path, NOTEBOOKS)


@pytest.mark.parametrize("make", ["missing", "not a zip", "broken zip"])
def test_unusable_submissions_raise_one_clear_error(tmp_path, make):
    path = tmp_path / "s.zip"
    if make == "not a zip":
        path.write_text("hello")
    elif make == "broken zip":
        write_zip(path, BATCH)
        path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(CannotCollect, match="s.zip"):
        collect(path, NOTEBOOKS)


def test_a_class_of_1800_files_is_collected_in_well_under_two_seconds(tmp_path):
    names = [f"{n:02d}_notebook" for n in range(1, 7)]
    files = {f"student{s:03d}/{name}.ipynb": 0 for s in range(300) for name in names}
    for path in (write_folder(tmp_path / "s", files), write_zip(tmp_path / "s.zip", files)):
        start = time.perf_counter()
        found = collect(path, names)
        seconds = time.perf_counter() - start
        assert len(found.handins) == 1800 and not found.strays
        assert seconds < 2, f"{path.name}: {seconds:.2f} s"
