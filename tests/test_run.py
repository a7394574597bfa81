"""The run a user can live with: selections never lose cells, run-level problems are one line, test ids
select cleanly, the plan says what it is per model."""

import json
import shutil

import pytest
import yaml

from anyint_conformance.reports.observed import carry_over
from tests.helpers import ROOT, run_pytest

COMMITTED = ROOT / "reports" / "support-matrix.json"


def _cells(path):
    return {(c["target"], c["model"], c["route"], c["parameter"]): c for c in json.loads(path.read_text())["cells"]}


def test_a_selected_run_keeps_every_cell_it_did_not_run(tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    shutil.copy(COMMITTED, reports / "support-matrix.json")
    cassettes = tmp_path / "cassettes"
    shutil.copytree(ROOT / "cassettes", cassettes)
    # the gateway now refuses one streamed model: a selected replay observes it
    path = cassettes / "litellm" / "test_chat_completions" / "test_chat_completions[mock-chat-b-mode_stream].yaml"
    data = yaml.safe_load(path.read_text())
    for interaction in data["interactions"]:
        interaction["response"]["status"] = {"code": 404, "message": "Not Found"}
        interaction["response"]["headers"]["content-type"] = ["application/json"]
        interaction["response"]["body"]["string"] = json.dumps({"error": {"message": "model not found", "type": "invalid_request_error"}})
    path.write_text(yaml.safe_dump(data))
    result = run_pytest("suites", "-k", "mode:stream", "--report-dir", str(reports), "--cassette-dir", str(cassettes), "--no-expectations")
    assert "Traceback" not in result.stdout
    assert "cells this run did not observe kept from the earlier matrix" in result.stdout
    before, after = _cells(COMMITTED), _cells(reports / "support-matrix.json")
    assert set(after) == set(before)  # nothing lost
    changed = {k for k in before if before[k]["verdict"] != after[k]["verdict"]}
    assert changed == {("litellm", "mock-chat-b", "POST /chat/completions", "stream")}
    assert after[("litellm", "mock-chat-b", "POST /chat/completions", "stream")]["verdict"] == "unsupported"
    untouched = ("llamacpp", "gemma-3-270m", "POST /embeddings", None)
    assert after[untouched] == before[untouched]


def test_carry_over_semantics():
    old = [{"target": "t", "model": "a", "route": "r", "parameter": None, "verdict": "supported"},
           {"target": "t", "model": "b", "route": "r", "parameter": None, "verdict": "broken"},
           {"target": "u", "model": "a", "route": "r", "parameter": None, "verdict": "supported"}]
    run = [{"target": "t", "model": "a", "route": "r", "parameter": None, "verdict": "untested"},  # could not observe: keep the old one
           {"target": "t", "model": "c", "route": "r", "parameter": None, "verdict": "supported"}]
    selected = carry_over(old, run, complete_targets=set())
    assert sorted((c["model"], c["target"], c["verdict"]) for c in selected) == [("a", "t", "supported"), ("a", "u", "supported"), ("b", "t", "broken"), ("c", "t", "supported")]
    complete = carry_over(old, run, complete_targets={"t"})  # a complete run of t: b is gone from t
    assert sorted((c["model"], c["target"]) for c in complete) == [("a", "t"), ("a", "u"), ("c", "t")]


def test_an_unknown_model_is_one_line_naming_the_known_ones(tmp_path):
    result = run_pytest("suites", "--model", "typo", "--report-dir", str(tmp_path))
    out = result.stdout + result.stderr
    assert result.returncode == 4
    errors = [line for line in out.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and "unknown --model typo" in errors[0] and "gemma-3-270m" in errors[0] and "mock-chat-a" in errors[0]
    assert "re-record" not in out and not any(tmp_path.iterdir())


def test_a_model_applies_to_the_targets_that_have_it(tmp_path):
    result = run_pytest("suites/test_chat_completions.py", "--model", "mock-chat-a", "--model", "llamacpp:gemma-3-270m", "--report-dir", str(tmp_path))
    assert result.returncode in (0, 1), result.stdout[-2000:]
    models = {(c["target"], c["model"]) for c in json.loads((tmp_path / "support-matrix.json").read_text())["cells"]}
    assert models == {("litellm", "mock-chat-a"), ("llamacpp", "gemma-3-270m")}


def test_a_live_run_without_its_key_is_one_line(tmp_path):
    result = run_pytest("suites", "--target", "anyint", "--disable-recording", "--report-dir", str(tmp_path))
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("ERROR")]
    assert result.returncode == 4 and len(lines) == 1
    assert "ANYINT_API_KEY is not set: export ANYINT_API_KEY=" in lines[0]


def test_a_replay_of_a_target_without_recordings_is_one_line(tmp_path):
    result = run_pytest("suites", "--target", "anyint", "--report-dir", str(tmp_path))
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("ERROR")]
    assert result.returncode == 4 and len(lines) == 1
    assert "no recordings of target anyint under cassettes/anyint" in lines[0] and "--record-mode=once" in lines[0]


@pytest.mark.parametrize("expression, wanted, unwanted", [
    ("mode:stream", "[litellm:mock-chat-a-mode:stream]", "mode:json"),
    ("mode:json", "[litellm:dead-upstream-mode:json]", "mode:stream"),
])
def test_test_ids_select_cleanly(expression, wanted, unwanted):
    result = run_pytest("suites/test_chat_completions.py", "--collect-only", "-k", expression)
    ids = [line for line in result.stdout.splitlines() if "test_chat_completions[" in line]
    assert any(wanted in line for line in ids) and not any(unwanted in line for line in ids)


def test_the_plan_is_per_model_and_says_how_many_models(tmp_path):
    import re

    result = run_pytest("suites", "--anyint-plan", "--target", "anyint", "--poll-timeout", "2", "--report-dir", str(tmp_path))
    assert result.returncode == 0, result.stdout[-2000:]
    assert "anyint: models unknown until a live run asks GET /models; the 'per model' row is one model's, totals count one model: " \
           "pass --models-expected N" in result.stdout
    per_model = re.search(r"^anyint\s+per model\s+(\d+)\s+(\d+)-(\d+)$", result.stdout, re.M)
    wide = re.search(r"^anyint\s+\(target-wide\)\s+(\d+)\s+(\d+)-(\d+)$", result.stdout, re.M)
    assert per_model and wide
    # a catalogue of 100: the totals are the target-wide row plus 100 times the per-model row
    hundred = run_pytest("suites", "--anyint-plan", "--target", "anyint", "--poll-timeout", "2", "--models-expected", "100", "--latency", "3", "--concurrency", "16")
    total = re.search(r"^total\s+(\d+)\s+(\d+)-(\d+)$", hundred.stdout, re.M)
    assert [int(total.group(i)) for i in (1, 2, 3)] == [int(wide.group(i)) + 100 * int(per_model.group(i)) for i in (1, 2, 3)]
    assert "totals count 100 model(s)" in hundred.stdout
    assert re.search(r"^wall time at 3 s per answer, --concurrency 16: about \d+ min to \d+ min", hundred.stdout, re.M)
    recorded = run_pytest("suites/test_models.py", "--anyint-plan", "--target", "litellm", "--report-dir", str(tmp_path))
    assert "litellm: 8 recorded model(s); one row per model" in recorded.stdout


def test_the_plan_alone_without_pytest_banners(tmp_path):
    """What `anyint-conformance plan` runs (tests/test_matrix.py checks it passes -p no:terminal): the plan's lines only."""
    result = run_pytest("suites/test_models.py", "--anyint-plan", "-p", "no:terminal", "--target", "anyint")
    assert result.returncode == 0 and result.stdout.startswith("anyint: models unknown")
    assert "test session starts" not in result.stdout and "no tests ran" not in result.stdout


def test_the_summary_line_starts_a_line_of_its_own(tmp_path):
    result = run_pytest("suites/test_models.py", "--report-dir", str(tmp_path))
    assert any(line.startswith("anyint-conformance: ") for line in result.stdout.splitlines())


def test_concurrent_replay_writes_the_same_matrix_as_a_sequential_one(tmp_path):
    args = ("suites/test_chat_completions.py", "suites/test_files.py", "suites/test_tools.py", "--target", "litellm", "--no-expectations")
    one = run_pytest(*args, "--report-dir", str(tmp_path / "one"))
    many = run_pytest(*args, "--concurrency", "6", "--report-dir", str(tmp_path / "many"))
    assert "Traceback" not in one.stdout + many.stdout
    assert (tmp_path / "one" / "support-matrix.json").read_text() == (tmp_path / "many" / "support-matrix.json").read_text()


def test_a_live_recording_at_concurrency_writes_the_cassettes_and_matrix_of_a_sequential_one(tmp_path):
    """Live with --concurrency, tests run at once and a cell's examples are sent at once, answered out of
    order (the fake waits 0-40 ms by body); every cassette and the matrix are those of one request at a time."""
    import yaml

    from tests.fakeserver import FakeServer

    def record(folder, *more):
        with FakeServer() as server:
            args = ["suites/test_chat_completions.py", "suites/test_embeddings.py", "--base-url", server.base_url, "--target-name", "fake",
                    "--model", "ok-jitter", "--model", "emb-ok", "--record-mode=rewrite", "--cassette-dir", str(folder / "c"),
                    "--report-dir", str(folder / "r"), "--no-expectations", "--examples", "6", *more]
            assert run_pytest(*args).returncode in (0, 1)
            url = server.base_url
        cassettes = {p.relative_to(folder / "c").as_posix(): [(i["request"]["body"], i["response"]["body"]["string"])
                                                               for i in yaml.safe_load(p.read_text())["interactions"]]
                     for p in (folder / "c").rglob("*.yaml") if p.name != "target.yaml"}
        cells = [{k: v for k, v in c.items() if k not in ("observed_at",)} for c in json.loads((folder / "r" / "support-matrix.json").read_text())["cells"]]
        return url, cassettes, cells

    url, one, cells_one = record(tmp_path / "one")
    url_many, many, cells_many = record(tmp_path / "many", "--concurrency", "8")
    assert sum(len(v) for v in one.values()) > 20
    assert json.loads(json.dumps(many).replace(url_many, url)) == json.loads(json.dumps(one))
    assert json.loads(json.dumps(cells_many).replace(url_many, url).replace("/many/", "/one/")) == cells_one


def test_collect_only_sends_nothing_even_with_concurrency(tmp_path):
    from tests.fakeserver import FakeServer

    with FakeServer() as server:
        result = run_pytest("suites/test_chat_completions.py", "--base-url", server.base_url, "--target-name", "fake", "--model", "ok",
                            "--concurrency", "4", "--collect-only", "--disable-recording", "--report-dir", str(tmp_path))
        sent = server.requests
    assert result.returncode == 0 and sent <= 1  # GET /models at most: the tests' own requests never go
    assert not (tmp_path / "support-matrix.json").exists()


def test_concurrency_and_xdist_do_not_mix(tmp_path):
    result = run_pytest("suites/test_models.py", "--concurrency", "2", "-n", "2", "--report-dir", str(tmp_path))
    assert result.returncode == 4 and "--concurrency and -n do not mix" in result.stdout + result.stderr


@pytest.mark.parametrize("option", ["--prices", "--declarations"])
def test_a_broken_option_file_is_one_line_before_anything_is_sent(tmp_path, option):
    bad = tmp_path / "bad.yaml"
    bad.write_text("not: [valid")
    result = run_pytest("suites/test_models.py", option, str(bad), "--report-dir", str(tmp_path / "r"))
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert result.returncode == 4 and len(lines) == 1 and lines[0].startswith(f"ERROR: {bad}: cannot read the")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("model", ["mock-chat-a", "litellm:mock-chat-b"])
def test_a_model_selection_runs_that_model_and_its_target_wide_cells_only(tmp_path, model):
    """As the README documents it: no test of another target, no cassette missed, no junk cell."""
    result = run_pytest("suites", "--model", model, "--report-dir", str(tmp_path))
    assert result.returncode == 0, result.stdout[-3000:]
    cells = json.loads((tmp_path / "support-matrix.json").read_text())["cells"]
    assert {(c["target"], c["model"]) for c in cells} == {("litellm", model.split(":")[-1]), ("litellm", None)}
    assert all("/v1/" not in c["route"] for c in cells)  # routes, never a request path


def test_the_no_key_advice_does_not_send_to_recordings_that_do_not_exist(tmp_path):
    result = run_pytest("suites", "--base-url", "http://127.0.0.1:9/v1", "--key-env", "NO_SUCH_KEY", "--target-name", "nowhere",
                        "--disable-recording", "--cassette-dir", str(tmp_path), "--report-dir", str(tmp_path / "r"))
    line = next(line for line in (result.stdout + result.stderr).splitlines() if line.startswith("ERROR"))
    assert "NO_SUCH_KEY is not set" in line and "there are no recordings of it to replay" in line and "drop --disable-recording" not in line


def test_many_failures_are_a_line_each_unless_tb_is_chosen(tmp_path, monkeypatch):
    """Past MANY_FAILURES pytest's failure blocks cost time quadratic in the tests (each block's teardown
    sections are looked up by scanning every report): the run prints one line per failure and says so;
    an explicit --tb keeps the blocks."""
    from anyint_conformance.faces import plugin

    monkeypatch.setattr(plugin, "MANY_FAILURES", 2)
    args = ("suites/test_chat_completions.py", "--target", "litellm", "--model", "litellm:mock-embed", "--no-expectations", "--report-dir", str(tmp_path))
    lines = run_pytest(*args)
    assert "failed tests, one line each below" in lines.stdout and "= FAILURES =" in lines.stdout
    assert "\n___" not in lines.stdout  # no failure block headers
    blocks = run_pytest(*args, "--tb=short")
    assert "failed tests, one line each" not in blocks.stdout and "\n___" in blocks.stdout
