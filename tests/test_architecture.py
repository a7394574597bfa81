"""The floors of ARCHITECTURE.md hold (import-linter), and every contract catches a breach of its own."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT

LINT = Path(sys.executable).parent / "lint-imports"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _lint(root: Path) -> str:
    result = subprocess.run([str(LINT), "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root, capture_output=True, text=True,
                            env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, timeout=120)
    return ANSI.sub("", result.stdout + result.stderr)


def test_the_floors_hold():
    out = _lint(ROOT)
    assert "Contracts: 4 kept, 0 broken." in out, out[-3000:]


# contract name (as pyproject.toml spells it) -> (file to breach, the import added, what lint-imports must say)
BREACHES = {
    "floors: each folder imports only its own floor and the floors below":
        ("anyint_conformance/model/families.py", "import anyint_conformance.run.config", "anyint_conformance.model.families -> anyint_conformance.run.config"),
    "reports render what they are given: they import the model floor only":
        ("anyint_conformance/reports/html.py", "import httpx", "anyint_conformance.reports is not allowed to import httpx"),
    "no pytest outside the faces: only the plugin and the command line know pytest":
        ("anyint_conformance/judging/checks.py", "import pytest", "anyint_conformance.judging is not allowed to import pytest"),
    "suites declare what to test: they import the suite face (and pytest) only":
        ("suites/test_models.py", "import anyint_conformance.judging.checks", "suites is not allowed to import anyint_conformance.judging"),
}


def test_each_contract_catches_a_breach(tmp_path):
    for folder in ("anyint_conformance", "suites"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for path, added, _ in BREACHES.values():
        file = tmp_path / path
        text = file.read_text()
        at = text.index("\nimport ") if "\nimport " in text else text.index("\nfrom ")
        file.write_text(text[:at] + f"\n{added}  # noqa: F401" + text[at:])
    out = _lint(tmp_path)
    assert "Contracts: 0 kept, 4 broken." in out, out[-3000:]
    broken = out.split("Broken contracts", 1)[1]
    for name, (_, _, said) in BREACHES.items():
        assert name in broken and said in broken, (name, broken[-3000:])


def test_make_lint_writes_plain_text_for_logs():
    result = subprocess.run(["make", "-s", "lint"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "Contracts: 4 kept, 0 broken." in result.stdout
    assert "\x1b" not in result.stdout + result.stderr  # no colour codes in a CI log
