"""The course: where its parts live, which notebooks it has, and where it is published."""

import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"
PACKAGE = ROOT / "grading"
STUDENT_HELPERS = PACKAGE / "student"
NBGRADER_CONFIG = PACKAGE / "nbgrader_config.py"
SETTINGS = PACKAGE / "course.toml"
README = ROOT / "README.md"
EXAMPLE_HANDINS = ROOT / "examples" / "handins.zip"
COURSE_ID = "pytorch-autograd"


@dataclass(frozen=True)
class Publication:
    """The GitHub repository and branch that students open the notebooks from."""

    repository: str
    branch: str

    def colab_url(self, name: str) -> str:
        return f"https://colab.research.google.com/github/{self.repository}/blob/{self.branch}/notebooks/{name}.ipynb"

    def github_url(self, name: str) -> str:
        return f"https://github.com/{self.repository}/blob/{self.branch}/notebooks/{name}.ipynb"


def publication() -> Publication:
    settings = tomllib.loads(SETTINGS.read_text())
    return Publication(settings["repository"], settings["branch"])


def save_publication(pub: Publication) -> None:
    lines = SETTINGS.read_text().splitlines()
    values = {"repository": pub.repository, "branch": pub.branch}
    kept = [line for line in lines if line.split("=")[0].strip() not in values]
    SETTINGS.write_text("\n".join(kept + [f'{k} = "{v}"' for k, v in values.items()]) + "\n")


def notebook_names() -> list[str]:
    """The course's notebooks, in teaching order: one per source notebook in solutions/."""
    return sorted(path.stem for path in SOLUTIONS.glob("*.ipynb"))
