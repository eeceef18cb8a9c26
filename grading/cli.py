"""`python -m grading`: the composition root. Parses the command line, builds the course (the one
place that reaches into `coursework`), and calls the steps; nothing else."""

import argparse
import os
import re
import sys
import time
import zipfile
from pathlib import Path

from grading.collect import CannotCollect


def release_command(args: argparse.Namespace) -> int:
    from coursework import config, release

    pub = config.publication()
    if args.repository or args.branch:
        pub = config.Publication(args.repository or pub.repository, args.branch or pub.branch)
        config.save_publication(pub)
    for path in release.release(pub):
        print(path.relative_to(config.ROOT))
    return 0


class ProgressLine:
    """Notebooks done / total, students done, rate and time left, on one terminal line; silent when
    not a terminal."""

    def __init__(self):
        self.started, self.shown = time.monotonic(), sys.stderr.isatty()

    def __call__(self, done: int, total: int, students_done: int) -> None:
        if not self.shown:
            return
        elapsed = time.monotonic() - self.started
        rate = done / elapsed if elapsed else 0.0
        left = (total - done) / rate if rate else 0.0
        bar = "#" * int(30 * done / total)
        print(
            f"\r[{bar:<30}] {done}/{total} notebooks, {students_done} students done, {rate:.1f}/s, {left:.0f} s left ",
            end="" if done < total else "\n",
            file=sys.stderr,
            flush=True,
        )


def grade_command(args: argparse.Namespace) -> int:
    from grading.kernel.pool import LocalPool
    from grading.kernel.sandbox import choose_sandbox

    submissions, out = Path(args.submissions), Path(args.out)
    if not submissions.exists():
        raise CannotCollect(f"{submissions}: no such folder or .zip")
    sandbox, warning = choose_sandbox(args.sandbox)
    # The templates import torch & co. for seconds: launch them first, and build meanwhile.
    pool = LocalPool(args.workers, sandbox, args.timeout, args.cell_timeout, expected=files_in(submissions))
    try:
        from grading import grade

        built = build_course(out / "build")
        outcome = grade.grade(
            submissions, out, built, pool, notes=[warning] if warning else [], on_progress=ProgressLine()
        )
    finally:
        pool.close()
    from grading.render import report

    if warning:
        print(f"WARNING: {warning}", file=sys.stderr)
    print(report.summary_text(outcome.results, outcome.strays))
    print(f"graded {outcome.graded_now} hand-ins in {outcome.seconds:.1f} s")
    print(f"report: {out / 'report.html'}")
    return 0


def build_course(target: Path) -> Path:
    """OUT/build: the course as built from the sources now. Built once per version of the sources
    on this machine, in a cache that a fresh OUT copies (building takes seconds, a copy much less)."""
    import json
    import shutil
    import tempfile

    from coursework import build, config

    fingerprint = build.source_fingerprint(config.publication())
    manifest = target / build.MANIFEST
    if manifest.exists() and json.loads(manifest.read_text()).get("built_from") == fingerprint:
        return target
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "grading" / "course-builds"
    built = cache / fingerprint
    if not (built / build.MANIFEST).exists():
        cache.mkdir(parents=True, exist_ok=True)
        fresh = Path(tempfile.mkdtemp(dir=cache))
        build.build_if_changed(fresh)
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


def files_in(submissions: Path) -> int | None:
    """How many files SUBMISSIONS holds: no more new hand-ins than that (None: cannot tell)."""
    if submissions.is_dir():
        return sum(len(files) for _, _, files in os.walk(submissions))
    try:
        with zipfile.ZipFile(submissions) as archive:
            return len(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return None


def report_command(args: argparse.Namespace) -> int:
    from grading import grade
    from grading.render import report
    from grading.state import STATE

    out = Path(args.out)
    if not (out / STATE).exists() or not (out / "course").is_dir():
        raise FileNotFoundError(f"{out}: not a folder that `python -m grading grade` wrote")
    results = grade.rerender(out)
    print(report.summary_text(results, []))
    print(f"report: {out / 'report.html'}")
    return 0


def check_command(args: argparse.Namespace) -> int:
    from coursework.helpers.contract import MISCONCEPTION_PATTERN
    from grading import check

    path = Path(args.notebook)
    print(check.summary(path, check.run_checks(path), re.compile(MISCONCEPTION_PATTERN)))
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m grading", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)

    rel = commands.add_parser("release", help="regenerate notebooks/ from solutions/")
    rel.add_argument("--repository", help="OWNER/NAME on GitHub that the Colab badges point at (after a fork)")
    rel.add_argument("--branch", help="the branch the Colab badges point at")
    rel.set_defaults(run=release_command)

    grd = commands.add_parser("grade", help="grade a folder or zip of hand-ins")
    grd.add_argument("submissions", help="folder or .zip of hand-ins (only read, never changed)")
    grd.add_argument("--out", required=True, help="where grades, feedback and the report go")
    grd.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)), help="default: all cores")
    grd.add_argument("--timeout", type=float, default=120, help="seconds one notebook may run (default 120)")
    grd.add_argument(
        "--cell-timeout", type=float, help="seconds one cell may run (default: nbgrader's Execute.timeout, 30)"
    )
    grd.add_argument("--sandbox", choices=["auto", "require", "off"], default="auto")
    grd.set_defaults(run=grade_command)

    rep = commands.add_parser("report", help="render grades.csv, feedback and report.html again, grading nothing")
    rep.add_argument("out", help="a folder that `grade` wrote")
    rep.set_defaults(run=report_command)

    chk = commands.add_parser("check", help="a student's visible-check score for one notebook")
    chk.add_argument("notebook")
    chk.set_defaults(run=check_command)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (OSError, RuntimeError, ValueError, CannotCollect) as error:
        # The grader itself could not do its job: one line that says why.
        print(f"error: {error}", file=sys.stderr)
        return 2
