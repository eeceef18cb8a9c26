"""The course's facts: where its parts live, which notebooks it has, where it is published, and
when each notebook is due."""

import tomllib
from dataclasses import dataclass
from datetime import date, datetime
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
    """Rewrite the two keys in place; the rest of course.toml (comments, tables) stays as it is."""
    lines = SETTINGS.read_text().splitlines()
    values = {"repository": pub.repository, "branch": pub.branch}
    tables = next((i for i, line in enumerate(lines) if line.lstrip().startswith("[")), len(lines))
    top = [line for line in lines[:tables] if line.split("=")[0].strip() not in values]
    while top and not top[-1].strip():
        top.pop()
    new = [f'{k} = "{v}"' for k, v in values.items()]
    SETTINGS.write_text("\n".join(top + new + ([""] if tables < len(lines) else []) + lines[tables:]) + "\n")


@dataclass(frozen=True)
class LatePolicy:
    """course.toml's [late]: a due date per notebook, and the penalty rule (see grading/late.py)."""

    due: dict[str, datetime | date]  # as written: a date alone, or a date and time
    timezone: str  # what a due date written without a time zone means
    per: str  # "day" or "hour": the penalty counts each one started after the due date
    rate: float  # percent of the notebook's points per started day (hour)
    cap: float  # percent, at most
    grace_minutes: float  # handed in this long after the due date costs nothing


def late_policy() -> LatePolicy:
    late = tomllib.loads(SETTINGS.read_text()).get("late", {})
    due = late.get("due", {})
    unknown = sorted(set(due) - set(notebook_names()))
    if unknown:
        raise ValueError(f"{SETTINGS}: [late.due] names {', '.join(unknown)}, not a notebook of the course")
    return LatePolicy(
        due,
        late.get("timezone", "UTC"),
        late.get("per", "day"),
        float(late.get("rate", 0)),
        float(late.get("cap", 100)),
        float(late.get("grace_minutes", 0)),
    )


def notebook_names() -> list[str]:
    """The course's notebooks, in teaching order: one per source notebook in solutions/."""
    return sorted(path.stem for path in SOLUTIONS.glob("*.ipynb"))
