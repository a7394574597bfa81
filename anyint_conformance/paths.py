"""Where things live: the one place that knows the project's layout (ground floor, imports nothing)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS_DIR = ROOT / "schemas"
TABLES_DIR = SCHEMAS_DIR / "tables"
SUITES_DIR = ROOT / "suites"
OVERLAYS_DIR = SUITES_DIR / "overlays"
EXPECTATIONS_DIR = SUITES_DIR / "expectations"
CASSETTES_DIR = ROOT / "cassettes"
REPORTS_DIR = ROOT / "reports"
TARGETS_FILE = ROOT / "targets.yaml"


@lru_cache(maxsize=4096)
def shown(path) -> str:
    """A path as messages and reports show it: relative to the project when inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
