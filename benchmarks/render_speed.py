"""Benchmark: how fast the feedback pages and the class report render, from an OUT that `grade` wrote.

    .venv/bin/python -m grading grade examples/handins.zip --out /tmp/out
    .venv/bin/python -m benchmarks.render_speed /tmp/out [--rounds 20]

Reads every stored result and autograded notebook once, then renders every feedback page
`--rounds` times (nothing written, notebooks already parsed: rendering alone) and prints pages per
CPU second in the best and the median round; then times grades.csv and report.html once each
(report.html computes its charts: bars drawn by HTML and CSS).
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import nbformat

from grading.course import Course
from grading.records import GRADED, UNREADABLE
from grading.render import feedback, grades, report
from grading.state import State


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="a folder that `python -m grading grade` wrote")
    parser.add_argument("--rounds", type=int, default=20, help="times every page is rendered (default 20)")
    args = parser.parse_args()

    course = Course.read(args.out / "course")
    results = State.load(args.out).rows(course.max_scores)
    pages = []
    for r in results:
        if r.status == GRADED:
            path = course.folder / "autograded" / r.student / r.notebook / f"{r.notebook}.ipynb"
            pages.append((nbformat.read(path, as_version=4), course.release(r.notebook), r))
        elif r.status == UNREADABLE:
            pages.append((None, course.release(r.notebook), r))
    if not pages:
        raise SystemExit(f"{args.out}: no graded or unreadable hand-in to render")

    feedback.feedback_html(*pages[0])  # first call: imports, template compilation, caches
    # CPU seconds per round (rendering is single-threaded): other processes on a shared machine do
    # not count; the best and the median round still differ by what they leave in the caches.
    rounds = []
    for _ in range(args.rounds):
        started = time.process_time()
        size = sum(len(feedback.feedback_html(executed, release, result)) for executed, release, result in pages)
        rounds.append(time.process_time() - started)
    best, median = min(rounds), statistics.median(rounds)
    print(
        f"feedback: {len(pages)} pages x {args.rounds} rounds, {size / len(pages) / 1000:.0f} kB per page: "
        f"{len(pages) / best:.0f} pages per CPU second in the best round, {len(pages) / median:.0f} in the median "
        f"({best / len(pages) * 1000:.2f} / {median / len(pages) * 1000:.2f} ms per page)"
    )

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        grades.write_grades_csv(results, Path(tmp) / "grades.csv")
        csv_seconds = time.perf_counter() - started
        started = time.perf_counter()
        report.write_report_html(
            results, State.load(args.out).stray_records(), Path(tmp) / "report.html", [], course.misconceptions
        )
        html_seconds = time.perf_counter() - started
    print(f"grades.csv: {csv_seconds * 1000:.1f} ms; report.html ({len(results)} results): {html_seconds:.2f} s")


if __name__ == "__main__":
    main()
