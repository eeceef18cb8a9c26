"""Build: solutions/ → an nbgrader course folder, the one thing the grader is given.

prepare_source   stamps the Colab badge and inlines the student helpers (one source notebook);
build_course     runs nbgrader's generate_assignment on every prepared notebook, and writes the
                 course manifest (course.json) that tells the grader what it needs of the course;
build_cached     the same, built once per version of the sources and copied from a cache.
"""

import errno
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from sqlalchemy.exc import OperationalError
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from coursework import config, inline
from coursework.helpers import contract
from grading import compat

MANIFEST = "course.json"


def stamp_badge(nb: NotebookNode, name: str, pub: config.Publication) -> None:
    """Cell 0 is the title; its first line becomes the badge pointing at this notebook."""
    title = nb.cells[0]
    lines = [line for line in title.source.splitlines() if "colab-badge.svg" not in line]
    title.source = "\n".join([pub.badge(name), *lines])


def prepare_source(name: str, pub: config.Publication) -> NotebookNode:
    nb = nbformat.read(config.SOLUTIONS / f"{name}.ipynb", as_version=4)
    stamp_badge(nb, name, pub)
    inline.inline_helpers(nb)
    return nb


def nbgrader_config(course_dir: Path) -> Config:
    """The course's nbgrader configuration, rooted at course_dir."""
    loaded = PyFileConfigLoader(config.NBGRADER_CONFIG.name, path=str(config.NBGRADER_CONFIG.parent)).load_config()
    loaded.CourseDirectory.root = str(course_dir)
    return loaded


def manifest(names: list[str], pub: config.Publication) -> dict:
    """What the grader needs to know of the course beyond nbgrader's folder; and what it was
    built from, so that an unchanged course is not built again."""
    return {
        "notebooks": names,
        "check_names": inline.check_names(),
        "helper_module_prefix": contract.HELPER_MODULE_PREFIX,
        "misconception_pattern": contract.MISCONCEPTION_PATTERN,
        "built_from": source_fingerprint(pub),
    }


def source_fingerprint(pub: config.Publication) -> str:
    """Changes whenever a build would change: the solutions, the helpers, nbgrader's
    configuration, the publication (the badges) or this build code."""
    digest = hashlib.sha256(f"{pub.repository}@{pub.branch}".encode())
    here = config.HELPERS.parent
    files = [*sorted(config.SOLUTIONS.glob("*.ipynb")), *sorted(config.HELPERS.glob("*.py"))]
    for path in [*files, config.NBGRADER_CONFIG, here / "build.py", here / "inline.py"]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def build_if_changed(course_dir: Path, pub: config.Publication | None = None) -> Path:
    """course_dir holding the course built from the sources as they are now; built again only
    when they changed since it was built."""
    pub = pub or config.publication()
    try:
        current = json.loads((course_dir / MANIFEST).read_text()).get("built_from") == source_fingerprint(pub)
    except (OSError, ValueError):
        current = False
    if not current:
        shutil.rmtree(course_dir, ignore_errors=True)
        try:
            build_course(course_dir, pub)
        except (OSError, OperationalError) as error:  # a full disk, most likely
            shutil.rmtree(course_dir, ignore_errors=True)
            why = getattr(error, "orig", None) or error.strerror or error
            raise OSError(f"{why}, building the course into {course_dir}") from None
    return course_dir


def build_cached(target: Path) -> Path:
    """target holding the course as built from the sources now. Built once per version of the
    sources on this machine, in a cache that a fresh OUT copies (building takes seconds, a copy
    much less)."""
    fingerprint = source_fingerprint(config.publication())
    try:
        if json.loads((target / MANIFEST).read_text()).get("built_from") == fingerprint:
            return target
    except (OSError, ValueError):
        pass
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "grading" / "course-builds"
    built = cache / fingerprint
    if not (built / MANIFEST).exists():
        cache.mkdir(parents=True, exist_ok=True)
        fresh = Path(tempfile.mkdtemp(dir=cache))
        build_if_changed(fresh)
        for old in cache.iterdir():  # earlier versions of the sources (not another run's build in progress)
            if old.name != fresh.name and len(old.name) == len(fingerprint):
                shutil.rmtree(old, ignore_errors=True)
        try:
            fresh.rename(built)
        except OSError:  # another run built it meanwhile
            shutil.rmtree(fresh, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(built, target)
    return target


def cause(log: str) -> str:
    """The error nbgrader's log ends on (its last 'SomethingError: ...' line), for a one-line message."""
    errors = [line.strip() for line in log.splitlines() if re.match(r"^\s*[\w.]+(Error|Exception): ", line)]
    return errors[-1] if errors else (log.strip().splitlines() or ["no log"])[-1]


FULL_GRADEBOOK = "database or disk is full"  # sqlite's words for a full disk


@contextmanager
def gradebook_log_kept_quiet():
    """nbgrader's gradebook logs a failed commit, with its traceback, to tornado's logger, which prints to
    stderr when nothing handles it. The build reports the failure itself, in one line."""
    logger, handler = logging.getLogger("tornado.application"), logging.NullHandler()
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def build_course(course_dir: Path, pub: config.Publication | None = None) -> list[str]:
    """Create an nbgrader course folder: one assignment per notebook, named like it, with its
    source, release version and gradebook, and the manifest. Returns the notebook names."""
    from nbgrader.apps import NbGraderAPI

    pub = pub or config.publication()
    names = config.notebook_names()
    course_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(config.NBGRADER_CONFIG, course_dir / "nbgrader_config.py")
    compat.new_gradebook(course_dir / "gradebook.db")
    for name in names:
        source = course_dir / "source" / name / f"{name}.ipynb"
        source.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(prepare_source(name, pub), source)
    api = NbGraderAPI(config=nbgrader_config(course_dir))
    for name in names:
        with gradebook_log_kept_quiet():
            result = api.generate_assignment(name, force=True, create=True)
        if not result["success"]:
            log = result.get("log", "")
            if FULL_GRADEBOOK in log:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            raise RuntimeError(f"nbgrader could not release {name} into {course_dir}: {cause(log)}")
    (course_dir / MANIFEST).write_text(json.dumps(manifest(names, pub), indent=1) + "\n")
    return names
