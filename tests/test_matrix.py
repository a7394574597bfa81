"""matrix.py (load, diff, merge) and the anyint-conformance command on real and hand-made matrices."""

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from anyint_conformance import cli, matrix
from anyint_conformance.report import FORMAT, build_matrix

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "reports" / "support-matrix.json"


def cell(model, parameter=None, verdict="supported", target="t", route="POST /chat/completions", **extra):
    return {
        "target": target, "model": model, "route": route, "parameter": parameter, "verdict": verdict,
        "reason": extra.pop("reason", f"HTTP 200, {verdict}"), "status": extra.pop("status", 200),
        "violation": None, "warnings": [], "notes": [], "request": None, "cassette": None, "interaction": None, **extra,
    }


def make(cells, targets=("t",), mode="replay"):
    return build_matrix(cells, {t: {"base_url": f"http://{t}"} for t in targets}, "0.1.0", mode)


def write(path: Path, data) -> Path:
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


# --- load ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, problem",
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected an object"),
        (json.dumps({"format": "something-else", "version": 1}), "format is 'something-else'"),
        (json.dumps({"format": FORMAT, "version": 99}), "unsupported matrix version 99"),
        (json.dumps({"format": FORMAT, "version": 1, "mode": "replay"}), "missing suite_version, targets, cells"),
        (json.dumps({**make([]), "cells": [{"target": "t"}]}), "cells[0] lacks model, route, parameter, verdict"),
        (json.dumps({**make([]), "targets": []}), "'targets' must map"),
    ],
)
def test_load_names_the_file_and_the_problem(tmp_path, content, problem):
    path = write(tmp_path / "m.json", content)
    with pytest.raises(matrix.MatrixError) as info:
        matrix.load(path)
    assert str(path) in str(info.value) and problem in str(info.value)


def test_load_missing_file(tmp_path):
    with pytest.raises(matrix.MatrixError, match="nope.json: cannot read"):
        matrix.load(tmp_path / "nope.json")


def test_the_committed_matrix_loads():
    assert matrix.load(REPORT)["cells"]


# --- diff ----------------------------------------------------------------------------------------


def test_diff_gained_lost_changed_added_removed():
    before = make([
        cell("a"), cell("b", verdict="broken", status=500), cell("c", verdict="broken", status=500),
        cell("d"), cell("gone"), cell("e", "negative: x", verdict="rejected", status=400),
    ])
    after = make([
        cell("a"),
        cell("b"),  # gained
        cell("c", verdict="non-conforming", reason="breaks chat.response", violation={"check": "response_schema", "path": "$.id"},
             cassette="cassettes/t/c.yaml", interaction=2),  # changed
        cell("d", verdict="broken", status=500, reason="HTTP 500: upstream died", cassette="cassettes/t/d.yaml", interaction=0),  # lost
        cell("new", verdict="unsupported", status=404),  # added
        cell("e", "negative: x", verdict="accepted", status=200),  # a refusal that stopped: lost too
    ])
    d = matrix.diff(before, after)
    assert [b["model"] for _, b in d.gained] == ["b"]
    assert [b["model"] for _, b in d.lost] == ["d", "e"]
    assert [(a["verdict"], b["verdict"]) for a, b in d.changed] == [("broken", "non-conforming")]
    assert [c["model"] for c in d.added] == ["new"] and [c["model"] for c in d.removed] == ["gone"]

    text = matrix.render_diff(d)
    assert "- lost t · d · POST /chat/completions: supported → broken\n    reason: HTTP 500: upstream died\n    evidence: cassettes/t/d.yaml #0" in text
    assert "+ gained t · b · POST /chat/completions: broken → supported" in text
    assert "~ changed t · c · POST /chat/completions: broken → non-conforming" in text
    assert "first violation at $.id (response_schema)" in text
    assert "+ added t · new · POST /chat/completions: unsupported" in text
    assert "- removed t · gone · POST /chat/completions: was supported" in text
    assert text.rstrip().endswith("2 lost, 1 gained, 1 changed, 1 added, 1 removed")


def test_diff_of_a_matrix_with_itself_is_empty():
    m = matrix.load(REPORT)
    d = matrix.diff(m, copy.deepcopy(m))
    assert not d and matrix.render_diff(d) == "no changes\n"


def test_cli_diff_fail_on_lost(tmp_path, capsys):
    before = write(tmp_path / "before.json", make([cell("a"), cell("b")]))
    after = write(tmp_path / "after.json", make([cell("a"), cell("b", verdict="broken", status=500)]))
    assert cli.main(["diff", str(before), str(after)]) == 0
    assert cli.main(["diff", str(before), str(after), "--fail-on-lost"]) == 1
    assert "- lost t · b" in capsys.readouterr().out
    assert cli.main(["diff", str(after), str(before), "--fail-on-lost"]) == 0  # only a gain


# --- merge ---------------------------------------------------------------------------------------


def _shard(m: dict, keep) -> dict:
    """What a run restricted to some cells would have written."""
    cells = [c for c in m["cells"] if keep(c)]
    targets = {t: {k: v for k, v in info.items() if k != "models"} for t, info in m["targets"].items() if any(c["target"] == t for c in cells)}
    return build_matrix(cells, targets, m["suite_version"], m["mode"])


def _original() -> dict:
    m = matrix.load(REPORT)
    assert _shard(m, lambda c: True) == m, f"{REPORT} is not what report.build_matrix writes now (stale? run `make matrix`)"
    return m


def test_merging_shards_split_by_model_gives_the_single_run_matrix():
    m = _original()
    models = sorted({c["model"] or "" for c in m["cells"]})
    half = set(models[::2])
    shards = [_shard(m, lambda c: (c["model"] or "") in half), _shard(m, lambda c: (c["model"] or "") not in half)]
    assert all(s["cells"] for s in shards) and shards[0]["cells"] != m["cells"]
    assert matrix.merge(shards) == m
    assert matrix.merge(shards[::-1]) == m


def test_merging_shards_split_by_target_through_the_cli_is_byte_identical(tmp_path, capsys):
    m = _original()
    paths = []
    for target in m["targets"]:
        paths.append(write(tmp_path / f"{target}.json", matrix.dumps(_shard(m, lambda c, t=target: c["target"] == t))))
    out = tmp_path / "merged.json"
    assert cli.main(["merge", str(out), *map(str, paths)]) == 0
    assert out.read_text() == REPORT.read_text()


def test_identical_overlap_is_deduplicated_but_a_conflict_is_an_error(tmp_path, capsys):
    a = make([cell("a"), cell("b")])
    assert matrix.merge([a, make([cell("b"), cell("c")])])["cells"] == make([cell("a"), cell("b"), cell("c")])["cells"]
    conflicting = make([cell("b", verdict="broken", status=500)])
    with pytest.raises(matrix.MatrixError, match="shards overlap: t · b · POST /chat/completions differs between one.json and two.json"):
        matrix.merge([a, conflicting], names=["one.json", "two.json"])

    paths = [write(tmp_path / "one.json", a), write(tmp_path / "two.json", conflicting)]
    assert cli.main(["merge", str(tmp_path / "out.json"), *map(str, paths)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "shards overlap" in err
    assert not (tmp_path / "out.json").exists()


def test_merge_refuses_shards_of_different_modes_or_targets():
    with pytest.raises(matrix.MatrixError, match="mode 'live' differs"):
        matrix.merge([make([cell("a")]), make([cell("b")], mode="live")])
    other = make([cell("b")])
    other["targets"]["t"]["base_url"] = "http://elsewhere"
    with pytest.raises(matrix.MatrixError, match="not the same target"):
        matrix.merge([make([cell("a")]), other])


# --- the command ---------------------------------------------------------------------------------


def _bad_inputs(tmp_path):
    good = write(tmp_path / "good.json", make([cell("a")]))
    missing = tmp_path / "missing.json"
    garbage = write(tmp_path / "garbage.json", "{oops")
    other = write(tmp_path / "other.json", {"format": "not-ours", "version": 1})
    return [
        (["diff", str(missing), str(good)], "missing.json: cannot read"),
        (["diff", str(good), str(garbage)], "garbage.json: not a support matrix (invalid JSON"),
        (["merge", str(tmp_path / "out.json"), str(good), str(other)], "other.json: not a support matrix (format is 'not-ours'"),
        (["render", str(missing)], "missing.json: cannot read"),
        (["render", str(other)], "other.json: not a support matrix"),
    ]


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    for argv, message in _bad_inputs(tmp_path):
        assert cli.main(argv) == 2, argv
        captured = capsys.readouterr()
        assert captured.err.count("\n") == 1 and message in captured.err, (argv, captured.err)
        assert "Traceback" not in captured.err + captured.out


def test_usage_errors_exit_2(capsys):
    assert cli.main(["frobnicate"]) == 2
    assert cli.main(["diff", "only-one.json"]) == 2
    assert cli.main(["render", "m.json", "--bogus"]) == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_help_documents_the_exit_codes(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for line in ("0  every cell as expected", "1  conformance failures", "2  usage error", "3  internal or setup error"):
        assert line in out


def test_the_installed_command_exits_2_on_a_missing_file(tmp_path):
    result = subprocess.run([sys.executable, "-m", "anyint_conformance.cli", "render", str(tmp_path / "x.json")], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_render_writes_markdown_and_html(tmp_path, capsys):
    src = write(tmp_path / "m.json", make([cell("a")]))
    assert cli.main(["render", str(src)]) == 0
    assert (tmp_path / "support-matrix.md").read_text().startswith("# Support matrix")
    assert 'data-verdict="supported"' in (tmp_path / "support-matrix.html").read_text()
    assert cli.main(["render", str(src), "--out", str(tmp_path / "site")]) == 0
    assert (tmp_path / "site" / "support-matrix.html").exists()


def test_plan_passes_its_arguments_to_pytest(monkeypatch):
    calls = []
    monkeypatch.setattr(cli.subprocess, "call", lambda cmd: calls.append(cmd) or 5)
    assert cli.main(["plan", "--target", "litellm", "-k", "stream"]) == 5
    assert calls == [[sys.executable, "-m", "pytest", str(ROOT / "suites"), "--anyint-plan", "--target", "litellm", "-k", "stream"]]


def _run_matrix(tmp_path, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run([sys.executable, "-m", "anyint_conformance.cli", "matrix", "--report-dir", str(tmp_path), *args],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)


def test_matrix_runs_the_suites_shows_progress_and_summarises(tmp_path):
    result = _run_matrix(tmp_path, "--target", "litellm", "-k", "test_chat_completions and mock-chat-a")
    assert result.returncode == 0, result.stdout + result.stderr
    written = matrix.load(tmp_path / "support-matrix.json")
    n = len(written["cells"])
    assert n >= 2 and {c["verdict"] for c in written["cells"]} == {"supported"}
    # the bar, one line per quarter as stderr is not a terminal here
    assert result.stderr.splitlines()[-1] == f"[{'#' * 30}] {n}/{n}"
    lines = result.stdout.splitlines()
    assert next(line for line in lines if line.startswith("target ")).split()[1:3] == ["supported", "unsupported"]
    assert next(line for line in lines if line.startswith("litellm ")).split()[1] == str(n)


def test_matrix_maps_a_pytest_usage_error_to_3(tmp_path):
    result = _run_matrix(tmp_path, "--no-such-option")
    assert result.returncode == 3
    assert "no matrix was written" in result.stderr
