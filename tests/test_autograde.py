"""The grader's set-up of nbgrader's preprocessors gives exactly what nbgrader's own gives."""

import copy

import nbformat
import pytest
from nbgrader.nbgraderformat import ValidationError
from nbgrader.nbgraderformat.common import SchemaMismatchError
from nbgrader.preprocessors import CheckCellMetadata, ClearOutput, DeduplicateIds, OverwriteCells, OverwriteKernelspec
from traitlets.config import Config

from coursework import samples
from grading import preprocessors

NB = "02_single_chain"


def resources(course_dir):
    db_url = f"sqlite:///{course_dir / 'gradebook.db'}"
    return {"nbgrader": {"notebook": NB, "assignment": NB, "student": "s", "db_url": db_url}}


def by_grade_id(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def tampered():
    nb = samples.hand_in(NB, samples.Sample("right", {}))
    test = by_grade_id(nb, "check_dz_dx")
    test.source = "pass"
    test.metadata.nbgrader["points"] = 100
    by_grade_id(nb, "check_dw_dx").metadata.nbgrader["locked"] = False
    nb.metadata["kernelspec"] = {"name": "other", "display_name": "Other", "language": "python"}
    return nb


def nbgraders_own(nb, course_dir):
    for preprocessor in (ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata):
        nb, _ = preprocessor()(nb, resources(course_dir))
    return nb


def ours(nb, course_dir):
    cells = preprocessors.CourseCells(resources(course_dir)["nbgrader"]["db_url"])
    for preprocessor in preprocessors.sanitizing(Config(), cells):
        nb, _ = preprocessor(nb, resources(course_dir))
    return nb


def test_sanitizing_restores_exactly_what_nbgrader_restores(course_dir):
    theirs, mine = nbgraders_own(tampered(), course_dir), ours(tampered(), course_dir)
    assert mine == theirs
    assert by_grade_id(mine, "check_dz_dx").source != "pass"
    assert by_grade_id(mine, "check_dz_dx").metadata.nbgrader["points"] == 2


@pytest.mark.parametrize(
    "damage",
    [
        lambda meta: meta.pop("points"),
        lambda meta: meta.update(schema_version=2),
        lambda meta: meta.update(grade="yes"),
    ],
    ids=["no points", "old schema", "not a boolean"],
)
def test_metadata_check_rejects_what_nbgrader_rejects(damage):
    nb = nbformat.from_dict(samples.hand_in(NB, samples.Sample("right", {})))
    damage(by_grade_id(nb, "check_dz_dx").metadata.nbgrader)
    raised = []
    for check in (CheckCellMetadata(), preprocessors.CheckCellMetadataOnce()):
        with pytest.raises((ValidationError, SchemaMismatchError)) as error:
            check(copy.deepcopy(nb), {})
        raised.append(type(error.value))
    assert raised[0] == raised[1]
