"""matrix.py (load, diff, merge) and the anyint-conformance command on real and hand-made matrices."""

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from anyint_conformance.faces import cli

from anyint_conformance.reports import matrix
from anyint_conformance.model.families import FAMILIES
from anyint_conformance.reports.report import FORMAT, build_matrix
from tests.test_report import catalogue

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "reports" / "support-matrix.json"


def cell(model, parameter=None, verdict="supported", target="t", route="POST /chat/completions", **extra):
    return {
        "target": target, "model": model, "route": route, "parameter": parameter, "verdict": verdict,
        "reason": extra.pop("reason", f"HTTP 200, {verdict}"), "status": extra.pop("status", 200),
        "violation": None, "warnings": [], "notes": [], "request": None, "cassette": None, "interaction": None, **extra,
    }


def make(cells, targets=("t",), mode="replay", **extra):
    return build_matrix(cells, {t: {"base_url": f"http://{t}"} for t in targets}, "0.1.0", mode, **extra)


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
        (json.dumps({**make([]), "strict": "yes"}), "'strict' must be true or false"),
        (json.dumps({**make([]), "drift": {"a": 1}}), "'drift' must be a list of objects"),
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


def test_version_2_keys_and_a_version_1_file(tmp_path):
    m = make([cell("a")], strict=True, drift=[{"target": "t", "model": "a", "route": "POST /chat/completions", "parameter": None,
                                               "expected": "broken", "observed": "supported"}])
    assert (m["version"], m["strict"], len(m["drift"]), m["declared"]) == (2, True, 1, [])
    assert matrix.load(write(tmp_path / "v2.json", m)) == m
    v1 = {k: v for k, v in make([cell("a")]).items() if k not in ("strict", "drift", "declared")}
    v1["version"] = 1
    loaded = matrix.load(write(tmp_path / "v1.json", v1))
    assert loaded == v1  # read as it is: the new keys absent, not invented
    assert cli.main(["render", str(tmp_path / "v1.json"), "--out", str(tmp_path / "out")]) == 0


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
    """What a run restricted to some cells would have written (its drift and declared findings too)."""
    cells = [c for c in m["cells"] if keep(c)]
    targets = {t: {k: v for k, v in info.items() if k != "models"} for t, info in m["targets"].items() if any(c["target"] == t for c in cells)}
    kept = {(c["target"], c["model"]) for c in cells}
    extra = {key: [d for d in m[key] if (d["target"], d["model"]) in kept] for key in ("drift", "declared")}
    return build_matrix(cells, targets, m["suite_version"], m["mode"], strict=m["strict"], **extra)


def _original() -> dict:
    """Two targets, every kind of cell, drift and declared findings: what one run over all shards writes."""
    one, two = catalogue(n_models=4, target="one", parameters=3, negatives=3), catalogue(n_models=3, target="two", seed=3, parameters=2, negatives=2)
    m = build_matrix(one["cells"] + two["cells"], {**one["targets"], **two["targets"]}, "0.2.0", "live", strict=True,
                     drift=one["drift"] + two["drift"], declared=one["declared"] + two["declared"])
    assert _shard(m, lambda c: True) == m
    return m


def test_merging_shards_split_by_model_gives_the_single_run_matrix():
    m = _original()
    models = sorted({c["model"] or "" for c in m["cells"]})
    half = set(models[::2])
    shards = [_shard(m, lambda c: (c["model"] or "") in half), _shard(m, lambda c: (c["model"] or "") not in half)]
    assert all(s["cells"] and s["drift"] for s in shards) and shards[0]["cells"] != m["cells"]
    assert matrix.merge(shards) == m
    assert matrix.merge(shards[::-1]) == m


def test_merging_shards_split_by_target_through_the_cli_is_byte_identical(tmp_path, capsys):
    m = _original()
    paths = []
    for target in m["targets"]:
        paths.append(write(tmp_path / f"{target}.json", matrix.dumps(_shard(m, lambda c, t=target: c["target"] == t))))
    out = tmp_path / "merged.json"
    assert cli.main(["merge", str(out), *map(str, paths)]) == 0
    assert out.read_text() == matrix.dumps(m)


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
    with pytest.raises(matrix.MatrixError, match="strict True differs"):
        matrix.merge([make([cell("a")]), make([cell("b")], strict=True)])


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
    result = subprocess.run([sys.executable, "-m", "anyint_conformance.faces.cli", "render", str(tmp_path / "x.json")], capture_output=True, text=True)
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
    assert cli.main(["plan", "--target", "litellm", "-k", "stream"]) == 3  # pytest's 5 (nothing collected): a setup error
    assert calls == [[sys.executable, "-m", "pytest", str(ROOT / "suites"), "--anyint-plan", "-p", "no:terminal", "--target", "litellm", "-k", "stream"]]
    calls.clear()
    monkeypatch.setattr(cli.subprocess, "call", lambda cmd: calls.append(cmd) or 4)
    assert cli.main(["plan", "--prices", "/missing.yaml"]) == 2  # pytest's usage error is bad input: 2, as --help says


@pytest.mark.parametrize("command", ["matrix", "plan"])
def test_help_lists_every_run_option_with_its_default(command, capsys):
    assert cli.main([command, "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for option in cli.RUN_OPTIONS:
        assert (f"{option.cli_flag} {option.metavar}" if option.metavar else option.cli_flag) in out
        assert " ".join(option.described.split()) in out, option.flag
    for flag in ("--target", "--model", "--examples", "--token-cap", "--max-requests", "--rps", "--retries", "--poll-timeout",
                 "--request-timeout", "--seed", "--no-expectations", "--strict", "--budget", "--prices", "--concurrency"):
        assert f"{flag} " in out, flag
    assert "(default: 4)" in out and "2 usage error or bad input: unknown option or target" in out


def test_options_are_forwarded_only_when_given_then_the_rest(monkeypatch):
    calls = []
    monkeypatch.setattr(cli.subprocess, "call", lambda cmd: calls.append(cmd[7:]) or 0)
    assert cli.main(["plan", "-k", "chat", "--model", "a", "--strict", "--examples", "2", "--model", "b", "--budget", "1.50", "-n", "2"]) == 0
    assert calls == [["--model", "a", "--model", "b", "--examples", "2", "--strict-upstream", "--budget", "1.50", "-k", "chat", "-n", "2"]]
    calls.clear()
    assert cli.main(["plan"]) == 0 and calls == [[]]  # no defaults invented here: the plugin owns them


def test_a_bad_option_value_or_an_unknown_target_is_exit_2_before_pytest(monkeypatch, capsys):
    monkeypatch.setattr(cli.subprocess, "call", lambda cmd: pytest.fail(f"pytest started: {cmd}"))
    monkeypatch.setattr(cli, "_pytest_with_progress", lambda cmd: pytest.fail(f"pytest started: {cmd}"))
    assert cli.main(["plan", "--examples", "many"]) == 2
    assert "invalid int value: 'many'" in capsys.readouterr().err
    for command in ("matrix", "plan"):
        assert cli.main([command, "--target", "litellm", "--target", "nope"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"anyint-conformance {command}: unknown target(s) nope; profiles in targets.yaml: " in err
        assert "litellm" in err.split("profiles in targets.yaml:")[1]


def test_an_abbreviated_pytest_option_is_not_taken_for_one_of_ours(monkeypatch):
    calls = []
    monkeypatch.setattr(cli.subprocess, "call", lambda cmd: calls.append(cmd[7:]) or 0)
    assert cli.main(["plan", "--rec", "x"]) == 0 and calls == [["--rec", "x"]]


# --- the terminal summary ----------------------------------------------------------------------------


def test_summary_answers_first_symbol_and_word_per_family():
    m = catalogue(n_models=3, parameters=2, negatives=2)
    text = cli.summary(m)
    lines = text.splitlines()
    assert lines[0].startswith("cat: which endpoints each model supports")
    head = lines[1].split("  ")
    assert [h.strip() for h in head if h.strip()] == ["model", *FAMILIES]
    rows = {line.split("  ")[0]: line for line in lines[2:6]}
    assert set(rows) == {"(target-wide)", *m["targets"]["cat"]["models"]}
    assert "✔ supported" in text and "✘ broken" in text
    # columns line up in terminal columns (an emoji takes two): a row's chat verdict starts under "chat"
    model = m["targets"]["cat"]["models"][0]
    chat = cli.report.mark(dict(cli.report.summary_rows(m, "cat"))[model]["chat"]["verdict"], text=True)
    assert cli._width(rows[model][: rows[model].index(chat)]) == cli._width(lines[1][: lines[1].index(" chat ") + 1])
    assert lines[-1].startswith("cells: ") and "✔ supported" in lines[-1]


def test_summary_narrow_terminal_abbreviates_and_fits():
    m = catalogue(n_models=3, parameters=2, negatives=2)
    text = cli.summary(m, width=80)
    assert all(cli._width(line) <= 80 for line in text.splitlines()), text
    prose = " ".join(text.split())  # the key is wrapped to the width too
    assert "key: " in prose and "brk = broken" in prose and "thread = threads & runs" in prose
    assert "✘ brk" in text
    for model in m["targets"]["cat"]["models"]:
        assert text.count(model) >= 2  # repeated in every block of columns
    for short in cli.ABBREV.values():
        assert f" {short}" in text


def _run_matrix(tmp_path, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run([sys.executable, "-m", "anyint_conformance.faces.cli", "matrix", "--report-dir", str(tmp_path), *args],
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
    assert any(line.startswith("litellm: which endpoints each model supports") for line in lines)
    header = next(line for line in lines if line.startswith("model "))
    assert header.split()[1:3] == ["chat", "chat"]  # chat, chat stream, ...
    assert next(line for line in lines if line.startswith("mock-chat-a ")).split()[1:3] == ["✔", "supported"]
    assert f"cells: {n} ✔ supported" in result.stdout


def test_matrix_maps_a_pytest_usage_error_to_2(tmp_path):
    result = _run_matrix(tmp_path, "--no-such-option")
    assert result.returncode == 2  # bad input, as --help says (pytest's own exit code is 4)
    assert "no matrix was written" in result.stderr
