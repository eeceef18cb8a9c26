"""The similarity report: which hand-ins share their answers beyond what the exercise forces.

    answers.py      a hand-in's bytes → per answer cell (grade_id), what the student wrote beyond the stub
    fingerprint.py  an answer → its fingerprints (copydetect's normalisation and winnowing)
    compare.py      fingerprints of every hand-in of a notebook → pairs scored against per-exercise baselines
    store.py        OUT/similarity.json: fingerprints per hand-in digest and shared counts per pair,
                    so that grading again compares only what changed against everything else

A match is a reason to look, not proof: nothing here changes a grade or grades.csv.
"""
