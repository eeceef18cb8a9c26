"""`python -m grading`: the composition root. Parses the command line, builds the course (the one
place that reaches into `coursework`), and calls the steps; nothing else."""

import argparse
import logging
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from grading.collect import CannotCollect
from grading.records import ERROR

if TYPE_CHECKING:
    from grading.grade import Pool

MiB = 1 << 20


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


def late_policy():
    """course.toml's late policy, as the grader applies it."""
    from coursework import config
    from grading.late import Policy, moment, zone

    late = config.late_policy()
    where = zone(late.timezone)
    due = {name: moment(when, where) for name, when in late.due.items()}
    return Policy(due, late.per, late.rate, late.cap, late.grace_minutes * 60, late.timezone)


def graded_out(out: Path) -> Path:
    """OUT, once it is known to be a folder that `grade` wrote."""
    from grading.state import STATE

    if not (out / STATE).exists() or not (out / "course").is_dir():
        raise FileNotFoundError(f"{out}: not a folder that `python -m grading grade` wrote")
    return out


def local_pool(args: argparse.Namespace, expected: int) -> tuple["Pool", list[str]]:
    """Worker processes on this machine, and the notes about its sandbox."""
    from grading.kernel.pool import LocalPool, worker_capacity
    from grading.kernel.sandbox import choose_sandbox

    workers, why = worker_capacity(args.workers)
    if why:
        print(f"note: {why}", file=sys.stderr)
    sandbox, notes = choose_sandbox(args.sandbox)
    # The templates import torch & co. for seconds: launch them first, and collect and build meanwhile.
    return LocalPool(workers, sandbox, args.timeout, args.cell_timeout, expected=expected), notes


def cluster_pool(args: argparse.Namespace) -> tuple["Pool", list[str]]:
    """The workers of the Dask cluster whose scheduler is given, and the notes about their sandboxes."""
    scheduler = args.scheduler or args.scheduler_file
    if args.scheduler_file and not Path(args.scheduler_file).is_file():
        raise ValueError(f"--scheduler-file {args.scheduler_file}: no such file")
    from grading.kernel.dask_pool import DaskPool  # only here: local grading never imports distributed

    pool = DaskPool(scheduler, args.sandbox, args.timeout, args.cell_timeout)
    print(f"grading on the Dask cluster at {pool.address}, {pool.workers()} workers now", file=sys.stderr)
    if pool.dashboard:
        print(f"dashboard: {pool.dashboard}", file=sys.stderr)
    return pool, pool.notes


def grade_command(args: argparse.Namespace) -> int:
    from coursework import config
    from grading.collect import Limits, collecting, count_files
    from grading.files import same_or_inside
    from grading.kernel.sandbox import SandboxUnavailable
    from grading.state import locked

    submissions, out = Path(args.submissions), Path(args.out)
    if not submissions.exists():
        raise CannotCollect(f"{submissions}: no such folder or .zip")
    if same_or_inside(out, submissions):
        raise ValueError(f"--out {out} is inside SUBMISSIONS {submissions}: choose an OUT elsewhere")
    policy = late_policy()
    try:  # before OUT is touched: an unreachable scheduler or a refused sandbox writes nothing
        if args.scheduler or args.scheduler_file:
            pool, notes = cluster_pool(args)
        else:
            pool, notes = local_pool(args, expected=count_files(submissions))
    except SandboxUnavailable as refused:  # --sandbox require: why, and the one fix
        print(f"error: the sandbox cannot start: {refused.cause.why}\nfix: {refused.cause.fix}", file=sys.stderr)
        return 2
    for note in notes:  # before grading starts, and again after the summary
        print(f"WARNING: {note}", file=sys.stderr)
    limits = Limits(int(args.max_file_mb * MiB), int(args.max_total_mb * MiB))
    try:
        with collecting(submissions, config.notebook_names(), limits) as found:
            out.mkdir(parents=True, exist_ok=True)
            with locked(out):
                from coursework import build
                from grading import grade

                built = build.build_cached(out / "build")
                outcome = grade.grade(found, out, built, pool, policy=policy, notes=notes, on_progress=ProgressLine())
    finally:
        pool.close()
    from grading.render import report

    for note in notes + outcome.warnings:
        print(f"WARNING: {note}", file=sys.stderr)
    print(report.summary_text(outcome.results, outcome.strays))
    print(f"graded {outcome.graded_now} hand-ins in {outcome.seconds:.1f} s")
    print(f"report: {out / 'report.html'}")
    errors = sum(r.status == ERROR for r in outcome.results)
    if errors:
        print(
            f"error: the grader failed on {errors} hand-in(s) (status `error`): see {out / 'report.html'}",
            file=sys.stderr,
        )
        return 1
    return 0


def report_command(args: argparse.Namespace) -> int:
    from grading import grade
    from grading.render import report
    from grading.state import locked

    out = graded_out(Path(args.out))
    policy = late_policy()
    with locked(out):
        results = grade.rerender(out, policy)
    print(report.summary_text(results, []))
    print(f"report: {out / 'report.html'}")
    return 0


def export_command(args: argparse.Namespace) -> int:
    from grading import export, grade
    from grading.course import Course
    from grading.state import State, locked

    out = graded_out(Path(args.out))
    policy = late_policy()
    with locked(out):
        course, saved = Course.read(out / "course"), State.load(out)
        notebooks = list(course.notebooks)
        roster = export.read_roster(Path(args.roster), notebooks) if args.roster else None
        if roster is not None and args.format != "csv" and roster.kind != args.format:
            raise ValueError(f"--roster {args.roster} is {roster.kind}'s export: --format {args.format} needs its own")
        grade.publish(out, course, saved, policy)  # feedback pages and grades.csv up to date first
        results, hand, _ = grade.published(out, course, saved, policy)
        done = export.write_exports(
            out, results, hand, args.format, notebooks, course.max_scores, roster, args.missing == "zero"
        )
    for path in done.files:
        print(path)
    if done.not_on_roster:
        print(
            f"warning: {len(done.not_on_roster)} students with hand-ins are not on the roster: "
            f"{', '.join(done.not_on_roster)} (their grades: {done.files[1]})",
            file=sys.stderr,
        )
    if done.waiting:
        print(f"note: {done.waiting} hand-ins still have answers to grade by hand (formgrader)", file=sys.stderr)
    return 0


def formgrader_command(args: argparse.Namespace) -> int:
    from grading import formgrader

    return formgrader.serve(graded_out(Path(args.out)) / "course", args.port)


def check_command(args: argparse.Namespace) -> int:
    from coursework.helpers.contract import MISCONCEPTION_PATTERN
    from grading import check

    path = Path(args.notebook)
    print(check.summary(path, check.run_checks(path), re.compile(MISCONCEPTION_PATTERN)))
    return 0


def positive(text: str) -> float:
    """A number of seconds or megabytes: more than zero (0 would mean 'no limit' to nbclient)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a number above 0")
    return value


def whole(least: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"{text} must be at least {least}")
        return value

    return parse


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
    grd.add_argument(
        "--workers", type=whole(1), default=len(os.sched_getaffinity(0)), help="default: all cores (capped by memory)"
    )
    grd.add_argument("--timeout", type=positive, default=120, help="seconds one notebook may run (default 120)")
    grd.add_argument(
        "--cell-timeout", type=positive, help="seconds one cell may run (default: nbgrader's Execute.timeout, 30)"
    )
    grd.add_argument("--max-file-mb", type=positive, default=20, help="a larger file is not a hand-in (default 20)")
    grd.add_argument(
        "--max-total-mb", type=positive, default=2048, help="read no more of SUBMISSIONS than this (default 2048)"
    )
    grd.add_argument("--sandbox", choices=["auto", "require", "off"], default="auto")
    grd.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="grade on the Dask cluster of this scheduler (tcp://HOST:8786, or a scheduler file's path)",
    )
    grd.add_argument("--scheduler-file", metavar="FILE", help="grade on the Dask cluster this scheduler file names")
    grd.set_defaults(run=grade_command)

    rep = commands.add_parser("report", help="render grades.csv, feedback and report.html again, grading nothing")
    rep.add_argument("out", help="a folder that `grade` wrote")
    rep.set_defaults(run=report_command)

    exp = commands.add_parser("export", help="grades for Canvas or Moodle, and feedback.zip for the students")
    exp.add_argument("out", help="a folder that `grade` wrote")
    exp.add_argument("--format", required=True, choices=["canvas", "moodle", "csv"])
    exp.add_argument("--roster", help="the LMS's own grade export (CSV): its students, in its order")
    exp.add_argument(
        "--missing",
        choices=["blank", "zero"],
        default="blank",
        help="what a student on the roster without a hand-in gets (default: blank)",
    )
    exp.set_defaults(run=export_command)

    fgr = commands.add_parser("formgrader", help="grade written answers by hand in nbgrader's formgrader")
    fgr.add_argument("out", help="a folder that `grade` wrote")
    fgr.add_argument("--port", type=whole(1), help="default: a free port")
    fgr.set_defaults(run=formgrader_command)

    chk = commands.add_parser("check", help="a student's visible-check score for one notebook")
    chk.add_argument("notebook")
    chk.set_defaults(run=check_command)
    return top


def interrupt(signum: int, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    signal.signal(signal.SIGTERM, interrupt)  # `kill` ends a run as Ctrl-C does: state saved, workers stopped
    # nbgrader's gradebook logs a database error with its traceback before raising it; the error
    # reaches the instructor as one line below.
    logging.getLogger("tornado.application").addHandler(logging.NullHandler())
    logging.getLogger("tornado.application").propagate = False
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("interrupted: what was graded is kept; grading again into the same OUT resumes", file=sys.stderr)
        return 130
    except (OSError, RuntimeError, ValueError, CannotCollect) as error:
        # The grader itself could not do its job: one line that says why.
        print(f"error: {error}", file=sys.stderr)
        return 2
