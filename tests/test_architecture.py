"""The floors of ARCHITECTURE.md hold (import-linter), and a breach is caught."""

import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT

LINT = Path(sys.executable).parent / "lint-imports"


def _lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root, capture_output=True, text=True,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "NO_COLOR": "1"}, timeout=120)


def test_the_floors_hold():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "3 kept, 0 broken" in result.stdout


def test_a_report_that_imports_what_sends_is_caught(tmp_path):
    shutil.copytree(ROOT / "anyint_conformance", tmp_path / "anyint_conformance")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    html = tmp_path / "anyint_conformance" / "html.py"
    html.write_text(html.read_text().replace("from anyint_conformance.report import", "import httpx  # noqa: F401\nfrom anyint_conformance.report import", 1))
    result = _lint(tmp_path)
    assert result.returncode != 0 and "anyint_conformance.html is not allowed to import httpx" in result.stdout
