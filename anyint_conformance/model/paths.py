"""Where things live: the one place that knows the project's layout (ground floor, imports nothing)."""

from __future__ import annotations

import os
import tempfile
from functools import lru_cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS_DIR = ROOT / "schemas"
TABLES_DIR = SCHEMAS_DIR / "tables"
SUITES_DIR = ROOT / "suites"
OVERLAYS_DIR = SUITES_DIR / "overlays"
EXPECTATIONS_DIR = SUITES_DIR / "expectations"
CASSETTES_DIR = ROOT / "cassettes"
REPORTS_DIR = ROOT / "reports"
TARGETS_FILE = ROOT / "targets.yaml"
CLIENTS_JS = ROOT / "clients" / "js"  # the Node client runner and its pinned packages


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's C loader when present


def load_yaml(text: str):
    """YAML as yaml.safe_load reads it, with libyaml's C loader when present (~10x faster on a manifest)."""
    return yaml.load(text, Loader=_YAML_LOADER)


@lru_cache(maxsize=4096)
def shown(path) -> str:
    """A path as messages and reports show it: relative to the project when inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def write_atomic(path, text: str) -> Path:
    """Write `text` to `path` so that a kill at any moment leaves the old file or the new one, never a torn
    one: a temporary file in the same folder, flushed to disk, then renamed over the target."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(temporary, _mode(path))  # mkstemp makes 0600: keep the mode a plain write would give
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _mode(path: Path) -> int:
    """The file's own mode when it exists, else what open() would create under the umask."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
