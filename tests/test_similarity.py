"""The similarity report, on a class built from the course's samples with planted copies: for each
notebook, a right answer (student `a`) copied renamed and reformatted (`copy`), copied for some
exercises only (`partial`) and copied with one answer changed (`one-changed`), among the solution
and the classic-mistake samples as classmates; their own work comes from the other right sample.
Hand-ins are kept in OUT as `grade` keeps them (its plan step; no notebook runs), then published.

The solution and the mistake samples are written from one another (a mistake is the solution with
a bug put in), so their pairs are neither planted nor independent: they are left out of the ranking."""

import csv
import json
import os
import re
import subprocess
import sys
from itertools import combinations
from pathlib import Path

import nbformat
import numpy as np
import pytest
from bs4 import BeautifulSoup
from copydetect.utils import filter_code, get_copied_slices
from copydetect.utils import winnow as copydetect_winnow
from planted import EXPLANATIONS, disguise, reword

from coursework import config, samples
from coursework.answers import fill_answers, solution_answers
from grading import grade
from grading.collect import collecting
from grading.course import Course
from grading.render import grades, similarity
from grading.similarity import store
from grading.similarity.answers import WRITTEN, Stub, own_lines, stubs
from grading.similarity.compare import THRESHOLD, compare_notebook, update_shared
from grading.similarity.fingerprint import (
    copied_slices,
    fingerprint,
    run_hashes,
    shared_fragments,
    stub_hashes,
    winnow,
)
from grading.similarity.normalise import normalise, normalised_text
from grading.state import State, stored_path

COPIES = ("a", "copy", "partial", "one-changed")
BLANK = ("blank", "blank-disguised")  # the release as given out, and its stubs renamed and reformatted
DETECTABLE = {
    "01_tensors",
    "03_computation_graph",
    "05_gradients_in_practice",
    "06_gradient_descent",
    "07_build_your_own_autograd",
}


def class_of(name: str, release: nbformat.NotebookNode) -> dict[str, dict[str, str]]:
    """student → grade_id → answer, for one notebook."""
    given = stubs(release)
    solution = solution_answers(nbformat.read(config.SOLUTIONS / f"{name}.ipynb", as_version=4))
    right = [s for s in samples.samples(name) if not s.fails]
    mistakes = [s for s in samples.samples(name) if s.fails]
    own_work = solution | right[1].answers if len(right) > 1 else solution
    classmates = {f"m{i}": solution | s.answers for i, s in enumerate(mistakes)}
    if len(right) > 1:
        classmates["sol"] = solution
    a = solution | right[0].answers
    written = iter(EXPLANATIONS)
    for answers in [a, own_work, *classmates.values()]:
        answers.update({g: next(written) for g, stub in given.items() if stub.kind == WRITTEN})

    def copied(gid: str, seed: int) -> str:
        return reword(a[gid], seed) if given[gid].kind == WRITTEN else disguise(a[gid], seed)

    longest = sorted(a, key=lambda g: -len(a[g]))
    return {
        **classmates,
        "a": a,
        "copy": {g: copied(g, 1) for g in a},
        "partial": {g: copied(g, 2) if longest.index(g) % 2 == 0 else own_work[g] for g in a},
        "one-changed": {g: own_work[g] if g == longest[1] else copied(g, 3) for g in a},
        "blank": {},
        "blank-disguised": {g: s.source if s.kind == WRITTEN else disguise(s.source, 4) for g, s in given.items()},
    }


def publish_class(submissions: Path, out: Path, built: Path) -> tuple[Course, State]:
    """What `grade` keeps of SUBMISSIONS (no notebook is run), then its publish step."""
    with collecting(submissions, config.notebook_names()) as found:
        out.mkdir(parents=True, exist_ok=True)
        planned = grade.plan(found, out, built)
    planned.state.save(out)
    grade.publish(out, planned.course, planned.state)
    return planned.course, planned.state


@pytest.fixture(scope="module")
def planted(tmp_path_factory, course_dir):
    root = tmp_path_factory.mktemp("planted")
    releases = Course.read(course_dir)
    students = {n: nbformat.read(config.NOTEBOOKS / f"{n}.ipynb", as_version=4) for n in config.notebook_names()}
    for name in config.notebook_names():
        for student, answers in class_of(name, releases.release(name)).items():
            (root / "submissions" / student).mkdir(parents=True, exist_ok=True)
            nbformat.write(fill_answers(students[name], answers), root / "submissions" / student / f"{name}.ipynb")
    course, saved = publish_class(root / "submissions", root / "out", course_dir)
    again = store.update(root / "out", course, saved)  # what publish computed, from OUT/similarity.json
    return {"out": root / "out", "course": course, "state": saved, "similarity": again, "built": course_dir}


def by_notebook(planted) -> dict:
    return {nb.notebook: nb for nb in planted["similarity"].notebooks}


def test_every_planted_pair_ranks_above_every_independent_pair(planted):
    detected = set()
    for name, nb in by_notebook(planted).items():
        planted_pairs = [nb.score(a, b) for a, b in combinations(COPIES, 2)]
        family = {"sol"} | {s for s in nb.students if s.startswith("m")}
        independent = [
            nb.score(a, b)
            for a, b in combinations(nb.students, 2)
            if not {a, b} <= set(COPIES) and not {a, b} <= family and not {a, b} & set(BLANK)
        ]
        if nb.score("a", "copy") > 0:
            detected.add(name)
            assert min(planted_pairs) > max(independent), (name, planted_pairs, sorted(independent)[-3:])
            # Renamed and reformatted: still the same answers. (The disguise's ast.unparse writes
            # `a, b = (x, y)`: parentheses the normaliser keeps, so a copy scores a little below 1.)
            assert nb.score("a", "copy") >= 0.85, name
        else:  # a's answers are one-liners: nothing tells a copy of them from two right answers
            assert all(nb.score("a", other) == 0 for other in nb.students if other != "a"), name
            assert max(independent) < THRESHOLD, name
    assert detected == DETECTABLE


def test_partial_copies_and_a_changed_answer_score_below_a_whole_copy(planted):
    nb = by_notebook(planted)["05_gradients_in_practice"]
    whole = nb.score("a", "copy")
    assert nb.score("a", "partial") < whole and nb.score("a", "one-changed") < whole
    changed = next(p for p in nb.pairs if set(p.students) == {"a", "one-changed"})
    assert sorted(c.excess for c in changed.cells)[0] < 0.5 < sorted(c.excess for c in changed.cells)[-1]


def test_the_starter_code_alone_never_matches(planted):
    for nb in by_notebook(planted).values():
        assert all(nb.score(blank, other) == 0 for blank in BLANK for other in nb.students if other != blank)
    prints = planted["similarity"].prints
    for blank in BLANK:
        for name in config.notebook_names():
            key = f"{name}/{planted['state'].handins[f'{blank}/{name}']['digest']}"
            assert all(len(fp.hashes) == 0 for fp in prints[key].values()), (blank, name)


def test_written_answers_are_compared_apart_from_code(planted):
    nb = by_notebook(planted)["03_computation_graph"]
    copy = next(p for p in nb.pairs if set(p.students) == {"a", "copy"})
    assert copy.written is not None and copy.written >= 0.9 and copy.code is not None
    kinds = {c.grade_id: c.kind for c in copy.cells}
    assert kinds["why_dz_dx"] == WRITTEN and kinds["backward_nodes"] == "code"
    # every classmate explains it in their own words
    classmates = [p for p in nb.pairs if not set(p.students) & set(COPIES)]
    assert all(p.written is None or p.written < THRESHOLD for p in classmates)


def test_copies_form_a_group_of_three_or_more(planted):
    for name in DETECTABLE:
        groups = by_notebook(planted)[name].clusters
        assert any(set(COPIES) - {"partial"} <= set(g) for g in groups), (name, groups)
        assert all(not set(g) & set(BLANK) for g in groups)


def test_renaming_and_reformatting_leave_the_fingerprints_as_they_were():
    answer = samples.samples("06_gradient_descent")[1].answers["train"]
    nothing = np.empty(0, dtype=np.int64)
    original = fingerprint(answer, "code", nothing)
    assert len(original.hashes) > 20
    assert np.array_equal(original.hashes, fingerprint(disguise(answer, 7), "code", nothing).hashes)


def test_matching_fragments_are_the_shared_code():
    a = "x = torch.tensor(float(v), requires_grad=True)\nfor i in range(n):\n    x.grad = None\n    z = 2 * x**2\n"
    b = "t = torch.tensor(float(value), requires_grad = True)  # mine\nfor k in range(n):\n    t.grad = None\nreturn 1"
    nothing = np.empty(0, dtype=np.int64)
    parts = shared_fragments(a, "code", nothing, fingerprint(b, "code", nothing).hashes)
    assert "".join(text for text, _ in parts) == a
    matched = [text for text, is_matched in parts if is_matched]
    shared = "x = torch.tensor(float(v), requires_grad=True)\nfor i in range(n):\n    x.grad = None"
    # the runs of the fingerprints both have: most of what is shared (winnowing keeps some runs), nothing else
    assert len(matched) == 1 and shared.startswith(matched[0]) and len(matched[0]) > 0.8 * len(shared)


def test_stub_lines_never_count_even_renamed():
    stub = Stub(
        "dz_dx",
        "code",
        'def dz_dx(x):\n    """dz/dx for y = x**2."""\n    # YOUR CODE HERE\n    raise NotImplementedError()',
    )
    renamed = "def dz_dx(t):\n    'dz/dx for y = x**2.'\n    raise NotImplementedError( )\n"
    assert own_lines(renamed, stub) == ""
    answer = renamed + "    while t is not None:\n        t = None\n    return t\n"
    assert own_lines(answer, stub) == "while t is not None:\n    t = None\nreturn t"
    # stub runs are never fingerprints, even when the stub's lines stay in the answer
    assert fingerprint(stub.source, "code", stub_hashes(stub.source, "code")).hashes.size == 0


def test_fingerprints_are_the_same_in_every_process():
    """copydetect's own hashing uses hash(), which PYTHONHASHSEED changes: OUT/similarity.json
    would be wrong in the next run."""
    text = "V=V.V(float(V),V=True)forVinrange(V):V.V=None"
    code = f"from grading.similarity.fingerprint import run_hashes; print(run_hashes({text!r}, 12).tolist())"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert json.loads(other.stdout) == run_hashes(text, 12).tolist()


def test_similarity_csv_lists_the_pairs_above_the_threshold(planted):
    rows = list(csv.DictReader((planted["out"] / "similarity.csv").open()))
    assert list(rows[0]) == similarity.CSV_COLUMNS
    assert all(float(r["score"]) >= THRESHOLD for r in rows)
    assert [float(r["score"]) for r in rows] == sorted((float(r["score"]) for r in rows), reverse=True)
    listed = {(r["notebook"], frozenset((r["student_a"], r["student_b"]))) for r in rows}
    for name in DETECTABLE:
        assert (name, frozenset(("a", "copy"))) in listed
    copy = next(
        r for r in rows if r["notebook"] == "06_gradient_descent" and {r["student_a"], r["student_b"]} == {"a", "copy"}
    )
    assert set(copy["exercises"].split(";")) == {"gd_step", "train"}


def test_grades_csv_has_no_trace_of_similarity(planted):
    header = (planted["out"] / "grades.csv").read_text().splitlines()[0]
    assert header == ",".join(grades.COLUMNS + grades.EXTRA_COLUMNS) and "simil" not in header


def test_similarity_page_shows_pairs_side_by_side(planted):
    page = BeautifulSoup((planted["out"] / "similarity.html").read_text(), "html.parser")
    assert "a reason to look, not proof" in page.find(class_="notice").get_text()
    assert len(page.find_all(class_="histogram")) == len(config.notebook_names())
    pairs = page.find_all("section", class_="pair")
    assert len(pairs) == len(list(csv.DictReader((planted["out"] / "similarity.csv").open())))
    first = pairs[0]
    sides = first.find(class_="sides").find_all("pre")
    assert len(sides) == 2 and all(side.find("mark") for side in sides)
    assert first.find("h4").get_text().split(" ")[0] in {
        c for nb in by_notebook(planted).values() for c in nb.baselines
    }
    groups = page.find("h2", string="Groups of three or more").find_next("ul").get_text()
    assert "copy" in groups and "one-changed" in groups


def test_report_links_to_the_page_and_lists_the_closest_pairs(planted):
    report = BeautifulSoup((planted["out"] / "report.html").read_text(), "html.parser")
    heading = report.find("h2", string="Answers that look alike")
    assert heading.find_next("a")["href"] == "similarity.html"
    rows = heading.find_next("table").find_all("tr")[1:]
    assert len(rows) == similarity.IN_REPORT
    best = max(max(nb.scores) for nb in planted["similarity"].notebooks)
    assert float(rows[0].find_all("td")[-1].get_text()) == pytest.approx(best, abs=0.005)


def test_grading_again_compares_only_what_changed(planted, tmp_path):
    out = tmp_path / "out"
    subprocess.run(["cp", "-a", str(planted["out"]), str(out)], check=True)
    course, saved = Course.read(out / "course"), State.load(out)
    unchanged = store.update(out, course, saved)
    assert (unchanged.read, unchanged.compared) == (0, 0)

    late = tmp_path / "late"
    (late / "copy").mkdir(parents=True)
    name = "06_gradient_descent"
    release = nbformat.read(config.NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.write(fill_answers(release, {}), late / "copy" / f"{name}.ipynb")  # handed in again, blank
    course, saved = publish_class(late, out, planted["built"])
    again = store.update(out, course, saved)
    assert (again.read, again.compared) == (0, 0)  # publish already compared the new hand-in

    (out / store.CACHE).unlink()
    fresh = store.update(out, course, saved)
    assert fresh.read == len({(h["notebook"], h["digest"]) for h in saved.handins.values()})
    for before, now in zip(fresh.notebooks, again.notebooks):
        assert np.array_equal(before.scores, now.scores)
    assert by_notebook({"similarity": fresh})[name].score("a", "copy") == 0


def test_one_changed_hand_in_is_compared_against_every_other(planted, tmp_path):
    out = tmp_path / "out"
    subprocess.run(["cp", "-a", str(planted["out"]), str(out)], check=True)
    saved = State.load(out)
    k = "m0/02_single_chain"
    path = stored_path(out, k)
    path.write_bytes(path.read_bytes().replace(b"return", b"return  "))
    saved.handins[k]["digest"] = "changed"
    changed = store.update(out, Course.read(out / "course"), saved)
    assert (changed.read, changed.compared) == (1, 1)


def test_a_damaged_cache_and_an_unreadable_hand_in(planted, tmp_path):
    out = tmp_path / "out"
    subprocess.run(["cp", "-a", str(planted["out"]), str(out)], check=True)
    (out / store.CACHE).write_text('{"version": ')
    saved = State.load(out)
    stored_path(out, "m0/02_single_chain").write_bytes(b'{"cells": [')
    saved.handins["m0/02_single_chain"]["digest"] = "damaged"
    found = store.update(out, Course.read(out / "course"), saved)
    assert found.read == len({(h["notebook"], h["digest"]) for h in saved.handins.values()})
    assert [(h.student, h.notebook) for h in found.left_out] == [("m0", "02_single_chain")]
    assert "malformed JSON" in found.left_out[0].reason


def test_what_more_than_ten_hand_ins_share_is_no_evidence(course_dir):
    """A class where twelve students write the same `train` (each renamed and laid out their own
    way) and two share another one: only those two match."""
    given = stubs(Course.read(course_dir).release("06_gradient_descent"))
    right = samples.samples("06_gradient_descent")
    canonical, other = right[0].answers["train"], right[1].answers["train"]
    texts = {f"s{i}": disguise(canonical, i) for i in range(12)} | {"x": disguise(other, 1), "y": disguise(other, 2)}
    boilerplate = stub_hashes(given["train"].source, "code")
    prints = {s: {"train": fingerprint(own_lines(t, given["train"]), "code", boilerplate)} for s, t in texts.items()}
    only_train = {"train": given["train"]}
    shared, compared = update_shared(None, sorted(prints), prints, only_train)
    nb = compare_notebook("06_gradient_descent", [(s, s) for s in sorted(prints)], prints, shared, only_train)
    assert compared == len(prints) and nb.common["train"]
    assert nb.score("x", "y") >= 0.9
    assert max(nb.score(a, b) for a, b in combinations([f"s{i}" for i in range(12)], 2)) == 0


def test_code_is_normalised_as_copydetect_does():
    """normalise.py cuts tokens itself, for speed; the result is copydetect's `filter_code`'s (strings
    aside: copydetect keeps their quotes; and an f-string is one string here, where copydetect cuts it
    into its pieces), on every sample answer and solution of the course."""
    answers = []
    for name in config.notebook_names():
        answers += [t for s in samples.samples(name) for g, t in s.answers.items()]
        answers += solution_answers(nbformat.read(config.SOLUTIONS / f"{name}.ipynb", as_version=4)).values()
    code = [a for a in answers if "def " in a and not a.startswith("import ")]  # Pygments keeps module names
    assert len(code) > 100
    for answer in code:
        ours = normalise(answer, "code")
        assert normalised_text(answer, "code") == ours.text
        plain = re.sub(r"\b[fF](?=['\"])", "", answer)  # f"..." as "...": one string for copydetect too
        assert ours.text == re.sub(r'"S*"|S', "S", filter_code(plain, "answer.py", "python")[0]), answer
        for char, start, end in zip(ours.text, ours.starts, ours.ends):  # each character knows its token
            assert char in answer[start:end] or char in "VFOS" and answer[start:end].strip()


def test_winnowing_is_copydetects():
    """fingerprint.py winnows as copydetect does (its `winnow` and `get_copied_slices`, written there:
    importing copydetect imports matplotlib): the same places chosen, on hashes with many ties and
    on 52-bit ones, for every window; the same runs joined into highlighted slices."""
    rng = np.random.default_rng(0)
    for trial in range(400):
        window, k = int(rng.integers(1, 9)), int(rng.integers(1, 15))
        hashes = rng.integers(0, 4 if trial % 2 else 1 << 52, int(rng.integers(0, 80)))
        chosen = winnow(hashes.tolist(), window)
        assert chosen == copydetect_winnow(hashes, window, remove_duplicates=False)[1].tolist()
        starts = np.array(chosen, dtype=np.int64)
        expected = get_copied_slices(starts, k)
        assert copied_slices(starts, k) == list(zip(expected[0].astype(int).tolist(), expected[1].astype(int).tolist()))
