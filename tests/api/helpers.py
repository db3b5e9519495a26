"""Paths and small helpers the API tests share."""

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_PLAN = ROOT / "examples" / "tariffplan"

# A weekday at 10:00 UTC: peak time in the example plan.
PEAK = "2024-05-06T10:00:00Z"


def copy_plan(target: Path) -> Path:
    """A writable copy of the example plan, to break on purpose."""
    return Path(shutil.copytree(EXAMPLE_PLAN, target))


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))
