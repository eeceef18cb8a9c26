"""The course's facts: where its parts live, which notebooks it has, and where it is published."""

import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"
HELPERS = Path(__file__).resolve().parent / "helpers"
SETTINGS = Path(__file__).resolve().parent / "course.toml"
# nbgrader's configuration for the course lives with the grader; the build copies it into the course.
NBGRADER_CONFIG = ROOT / "grading" / "nbgrader_config.py"
README = ROOT / "README.md"
EXAMPLE_HANDINS = ROOT / "examples" / "handins.zip"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"


@dataclass(frozen=True)
class Publication:
    """The GitHub repository and branch that students open the notebooks from."""

    repository: str
    branch: str

    def colab_url(self, name: str) -> str:
        return f"https://colab.research.google.com/github/{self.repository}/blob/{self.branch}/notebooks/{name}.ipynb"

    def github_url(self, name: str) -> str:
        return f"https://github.com/{self.repository}/blob/{self.branch}/notebooks/{name}.ipynb"

    def badge(self, name: str) -> str:
        """The 'Open in Colab' badge of a notebook, as HTML (the first line of its title cell)."""
        return f'<a href="{self.colab_url(name)}" target="_parent"><img src="{BADGE_IMAGE}" alt="Open In Colab"/></a>'


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
