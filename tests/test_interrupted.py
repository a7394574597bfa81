"""A run that does not run to its end loses nothing: every way of stopping leaves every cell it did not
observe as it was, and the matrix files are replaced atomically (the old one or the new one, never torn).

Each run is a *complete* selection (the whole suite of one target, no -k), the case where a finished run
may drop cells it no longer produces: stopped early, it must not.
"""

import json
import shutil

import pytest

from anyint_conformance.reports import matrix as matrices
from anyint_conformance.model.paths import write_atomic
from tests.helpers import ROOT, run_pytest

COMMITTED = ROOT / "reports" / "support-matrix.json"
TARGET = "llamacpp"


def _cells(path):
    return {(c["target"], c["model"], c["route"], c["parameter"]): c for c in json.loads(path.read_text())["cells"]}


@pytest.mark.parametrize("way, args, env", [
    ("interrupt", [], {"ANYINT_TEST_STOP": "interrupt"}),
    ("-x", ["-x"], {}),
    ("--maxfail", ["--maxfail", "2"], {}),
    ("crash", [], {"ANYINT_TEST_STOP": "crash"}),
    ("budget", ["--max-requests", "10"], {}),
    ("worker lost", ["-n", "2"], {"ANYINT_TEST_STOP": "worker"}),
])
def test_a_run_stopped_early_keeps_every_cell_it_did_not_observe(tmp_path, way, args, env):
    reports = tmp_path / "reports"
    reports.mkdir()
    shutil.copy(COMMITTED, reports / "support-matrix.json")
    result = run_pytest("suites", "--target", TARGET, "--no-expectations", "--report-dir", str(reports), "-p", "tests.stoppers", *args, env=env)
    out = result.stdout + result.stderr
    assert "the run did not run to its end" in out, out[-3000:]
    before, after = _cells(COMMITTED), _cells(reports / "support-matrix.json")
    assert set(after) == set(before), f"{way}: lost {sorted(set(before) - set(after))[:5]}"
    observed = [k for k in after if after[k]["observed_at"] != before[k]["observed_at"] or after[k] != before[k]]
    assert all(k[0] == TARGET for k in observed)  # other targets untouched
    untouched = [k for k in before if k[0] != TARGET]
    assert all(after[k] == before[k] for k in untouched)


def test_a_complete_run_still_drops_what_the_target_no_longer_produces(tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    committed = json.loads(COMMITTED.read_text())
    ghost = {**next(c for c in committed["cells"] if c["target"] == TARGET), "model": "a-model-the-target-stopped-listing"}
    committed["cells"].append(ghost)
    (reports / "support-matrix.json").write_text(json.dumps(committed))
    result = run_pytest("suites", "--target", TARGET, "--no-expectations", "--report-dir", str(reports))
    assert "did not run to its end" not in result.stdout
    after = _cells(reports / "support-matrix.json")
    assert (TARGET, ghost["model"], ghost["route"], ghost["parameter"]) not in after
    assert set(after) == set(_cells(COMMITTED))


def test_an_atomic_write_interrupted_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "support-matrix.json"
    path.write_text("old")
    monkeypatch.setattr("os.fsync", lambda fd: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, "new")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["support-matrix.json"]


def test_a_matrix_whose_rendering_fails_writes_no_file(tmp_path, monkeypatch):
    m = matrices.load(COMMITTED)
    matrices.write(m, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    from anyint_conformance.reports import html

    monkeypatch.setattr(html, "render_html", lambda m: (_ for _ in ()).throw(RuntimeError("renderer died")))
    changed = {**m, "cells": m["cells"][:10]}
    with pytest.raises(RuntimeError):
        matrices.write(changed, tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
