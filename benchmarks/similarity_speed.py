"""Benchmark: the similarity report for a class, fresh and after one hand-in changed.

    .venv/bin/python -m benchmarks.similarity_speed [--students 300] [--seed 0]

Builds N students x every notebook of hand-ins (synthetic but realistic: each answer one of the
course's sample answers or the solution, renamed, reformatted and sometimes with a line added; the
written answer two or three sentences from a pool of explanations; one student in twenty copies a
classmate's whole notebook, disguised), keeps them in an OUT as `grade` does (its plan step, no
notebook run), then times what `publish` adds for the similarity report: comparing (OUT/similarity.json
written) and rendering similarity.html and similarity.csv. First fresh, then after one student
hands in one notebook again, changed. Prints seconds for both, and what each run read and compared.
Run it from the repository's root (`-m`), so that this checkout's code is the one timed.
"""

import argparse
import ast
import os
import random
import tempfile
import time
from pathlib import Path

import nbformat

from coursework import build, config, samples
from coursework.answers import fill_answers, solution_answers
from grading import grade
from grading.collect import collecting
from grading.render import similarity
from grading.similarity import store
from tests.planted import EXPLANATIONS, disguise  # copies as students disguise them, as in the tests

SENTENCES = [s.strip() + "." for text in EXPLANATIONS for s in text.split(". ") if s.strip()]
FILLERS = ["so", "then", "here", "really", "just", "also", "basically", "in fact", "again", "I think"]


def explanation(rng: random.Random) -> str:
    """Two or three of the explanations' sentences, in the student's own words: a word dropped or
    a filler put in here and there."""
    words = " ".join(rng.sample(SENTENCES, rng.randint(2, 3))).split()
    own = []
    for word in words:
        if rng.random() < 0.15:
            own.append(rng.choice(FILLERS))
        if rng.random() > 0.1:
            own.append(word)
    return " ".join(own)


COPIERS = 20  # one student in COPIERS copies a classmate's notebook


OWN_LINES = [  # a student's own numbers in them: two students' own lines differ
    "print('checking', {n})",
    "scale = {n}.0",
    "assert {n} > 0",
    "steps_taken = {n}",
    "tolerance = 1e-{n}",
    "count = len(range({n}))",
    "first_try = [{n}, {n}]",
    "note = 'attempt {n}'",
]


def with_own_lines(code: str, rng: random.Random) -> str:
    """Up to three lines of the student's own in the function (a check they printed, a constant
    they named): what makes two students who wrote the same solution differ a little."""
    tree = ast.parse(code)
    function = next((n for n in tree.body if isinstance(n, ast.FunctionDef)), None)
    if function is None:
        return code
    for line in rng.sample(OWN_LINES, rng.choice([0, 1, 1, 2, 2, 3])):
        statement = ast.parse(line.format(n=rng.randint(2, 999))).body[0]
        function.body.insert(rng.randrange(1, len(function.body) + 1), statement)
    return ast.unparse(tree)


def student_answers(name: str, pools: dict[str, list[str]], kinds: dict[str, str], rng: random.Random) -> dict:
    answers = {}
    for gid, pool in pools.items():
        if kinds[gid] == "markdown":
            answers[gid] = explanation(rng)
            continue
        answers[gid] = disguise(with_own_lines(rng.choice(pool), rng), rng.randrange(10**9))
    return answers


def make_class(folder: Path, students: int, seed: int) -> None:
    rng = random.Random(seed)
    for name in config.notebook_names():
        release = nbformat.read(config.NOTEBOOKS / f"{name}.ipynb", as_version=4)
        solution = solution_answers(nbformat.read(config.SOLUTIONS / f"{name}.ipynb", as_version=4))
        pools = {
            gid: [text, *(s.answers[gid] for s in samples.samples(name) if gid in s.answers)]
            for gid, text in solution.items()
        }
        kinds = {
            c.metadata.nbgrader["grade_id"]: c.cell_type
            for c in release.cells
            if c.metadata.get("nbgrader", {}).get("solution")
        }
        handed_in: list[dict] = []
        for i in range(students):
            if handed_in and i % COPIERS == 0:  # a copy of a classmate's notebook, disguised
                original = rng.choice(handed_in)
                answers = {g: a if kinds[g] == "markdown" else disguise(a, i) for g, a in original.items()}
            else:
                answers = student_answers(name, pools, kinds, rng)
            handed_in.append(answers)
            (folder / f"s{i:03d}").mkdir(parents=True, exist_ok=True)
            nbformat.write(fill_answers(release, answers), folder / f"s{i:03d}" / f"{name}.ipynb")


def keep(submissions: Path, out: Path, built: Path) -> grade.Plan:
    with collecting(submissions, config.notebook_names()) as found:
        planned = grade.plan(found, out, built)
    planned.state.save(out)
    return planned


def timed_publish(planned: grade.Plan, label: str) -> None:
    """What similarity.publish does, in its two steps; wall-clock and CPU seconds (on a shared
    machine the CPU time of this single-threaded work is what it costs)."""
    clocks = [(time.perf_counter(), time.process_time())]
    compared = store.update(planned.out, planned.course, planned.state)
    clocks.append((time.perf_counter(), time.process_time()))
    summary = similarity.write_similarity(compared, planned.out)
    clocks.append((time.perf_counter(), time.process_time()))
    (wall, cpu), (wall_compare, cpu_compare) = (
        tuple(b - a for a, b in zip(clocks[0], clocks[2])),
        tuple(b - a for a, b in zip(clocks[0], clocks[1])),
    )
    handins = sum(len(nb.students) for nb in compared.notebooks)
    pairs = sum(len(nb.scores) for nb in compared.notebooks)
    size = (planned.out / store.CACHE).stat().st_size / 1e6
    print(
        f"{label}: {wall:.2f} s wall, {cpu:.2f} s CPU (compare {wall_compare:.2f} s wall, {cpu_compare:.2f} s CPU; "
        f"the rest rendering similarity.html and .csv)\n"
        f"    {handins} hand-ins, {pairs} pairs; {compared.read} read and {compared.compared} compared against every "
        f"other; {summary.flagged} pairs at or above {summary.threshold}, {summary.clusters} groups of 3 or more; "
        f"OUT/similarity.json {size:.1f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=300, help="students, each with every notebook (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="for the synthetic answers (default 0)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        built = root / "course"
        build.build_course(built)
        make_class(root / "submissions", args.students, args.seed)
        planned = keep(root / "submissions", root / "out", built)
        notebooks, load = len(config.notebook_names()), os.getloadavg()[0]
        print(
            f"{args.students} students x {notebooks} notebooks kept in OUT; load {load:.1f} on {os.cpu_count()} cores"
        )
        timed_publish(planned, "fresh")

        name = config.notebook_names()[-1]  # s001 hands in its last notebook again, one answer rewritten
        changed = root / "changed" / "s001"
        changed.mkdir(parents=True)
        hand_in = nbformat.read(root / "submissions" / "s001" / f"{name}.ipynb", as_version=4)
        gid, answer = next(
            iter(solution_answers(nbformat.read(config.SOLUTIONS / f"{name}.ipynb", as_version=4)).items())
        )
        nbformat.write(fill_answers(hand_in, {gid: disguise(answer, 1)}), changed / f"{name}.ipynb")
        timed_publish(keep(root / "changed", root / "out", built), "one hand-in changed")


if __name__ == "__main__":
    main()
