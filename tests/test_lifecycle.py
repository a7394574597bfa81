"""Lifecycles: each step is its own cell, a step without input is untested, and what was created is
deleted even when a step in between fails."""

import json
from pathlib import Path

from tests.fakeserver import FakeServer
from tests.helpers import run_pytest

ROOT = Path(__file__).resolve().parent.parent


def test_cleanup_runs_after_a_failed_step_and_each_step_has_its_cell(tmp_path):
    with FakeServer(faults={"files.retrieve-500"}) as server:
        result = run_pytest("suites/test_files.py", "--base-url", server.base_url, "--target-name", "fake", "--model", "ok",
                            "--disable-recording", "--report-dir", str(tmp_path), "--no-expectations", timeout=120)
        deleted = list(server.deleted)
    assert result.returncode == 1 and "Traceback" not in result.stdout
    assert deleted == ["file-1"]  # deleted once, by the delete step, although retrieve broke
    cells = {c["parameter"]: c for c in json.loads((tmp_path / "support-matrix.json").read_text())["cells"]}
    assert cells["lifecycle: upload"]["verdict"] == "supported"
    assert cells["lifecycle: list"]["verdict"] == "supported"
    assert cells["lifecycle: retrieve"]["verdict"] == "broken"
    assert cells["lifecycle: content"]["verdict"] == "supported"
    assert cells["lifecycle: delete"]["verdict"] == "supported"
    assert cells["lifecycle: retrieve after delete"]["verdict"] == "rejected"
    assert all(c["model"] is None for c in cells.values())  # files take no model: keyed by target alone
