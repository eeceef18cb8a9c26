"""The similarity report: which hand-ins share their answers beyond what the exercise forces.

    answers.py      a hand-in's bytes → per answer cell (grade_id), what the student wrote beyond the stub
    normalise.py    an answer → names, layout and comments gone (copydetect's rules), or its words
    fingerprint.py  a normalised answer → its fingerprints (robust winnowing, as copydetect does), less the stub's
    compare.py      fingerprints of every hand-in of a notebook → pairs scored against what the class shares
    store.py        OUT/similarity.json: fingerprints per hand-in digest and shared counts per pair,
                    so that grading again compares only what changed against everything else

grading/render/similarity.py writes OUT/similarity.html and OUT/similarity.csv from it. A match is
a reason to look, not proof: nothing here changes a grade or grades.csv.
"""
