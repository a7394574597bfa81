"""A live run stops cleanly at its request budget; the token cap bounds every body; a capability lost
from a recording fails the baseline with a readable diff."""

import json
import re
import shutil

import pytest
import yaml

from tests.fakeserver import FakeServer
from tests.helpers import ROOT, run_pytest

run = run_pytest


def test_budget_stops_the_run_and_marks_the_rest_untested(tmp_path):
    with FakeServer() as server:
        result = run("suites/test_chat_parameters.py", "--base-url", server.base_url, "--target-name", "fake", "--model", "ok",
                     "--disable-recording", "--no-expectations", "--max-requests", "3", "--report-dir", str(tmp_path))
    assert "Traceback" not in result.stdout
    cells = json.loads((tmp_path / "support-matrix.json").read_text())["cells"]
    sent = [c for c in cells if c["verdict"] != "untested"]
    # discovery (GET /models) is the first of the 3 requests; the first cell (max_tokens and its control) the other two
    assert len(sent) == 1 and sum(c["exchanges"] for c in sent) == 2
    rest = [c for c in cells if c["verdict"] == "untested"]
    assert len(rest) == len(cells) - 1 and all("request budget exhausted" in c["reason"] for c in rest)


def test_token_cap_bounds_probe_and_generated_bodies(tmp_path):
    with FakeServer() as server:
        run("suites/test_chat_completions.py::test_chat_completions", "--base-url", server.base_url, "--target-name", "fake",
            "--model", "ok", "--record-mode=once", "--cassette-dir", str(tmp_path / "c"), "--no-expectations", "--token-cap", "3",
            "--report-dir", str(tmp_path / "r"))
    bodies = [json.loads(i["request"]["body"]) for p in (tmp_path / "c").rglob("test_chat_completions*.yaml")
              for i in yaml.safe_load(p.read_text())["interactions"]]
    assert len(bodies) > 4 and all(b["max_tokens"] <= 3 for b in bodies)


def test_a_capability_removed_from_a_cassette_fails_the_baseline_with_a_diff(tmp_path):
    copy = tmp_path / "cassettes"
    shutil.copytree(ROOT / "cassettes" / "litellm", copy / "litellm")
    path = copy / "litellm" / "test_chat_completions" / "test_chat_completions[mock-chat-a-mode_json].yaml"
    data = yaml.safe_load(path.read_text())
    for interaction in data["interactions"]:  # the gateway now refuses the model
        interaction["response"]["status"] = {"code": 404, "message": "Not Found"}
        interaction["response"]["body"]["string"] = json.dumps({"error": {"message": "model not found", "type": "invalid_request_error"}})
    path.write_text(yaml.safe_dump(data))
    result = run("suites/test_chat_completions.py", "-k", "mock-chat-a-mode:json", "--cassette-dir", str(copy), "--report-dir", str(tmp_path / "r"))
    assert result.returncode == 1
    assert "expectation drift for litellm: mock-chat-a | POST /chat/completions" in result.stdout
    assert "- expected: supported" in result.stdout and "+ observed: unsupported" in result.stdout


def test_a_spend_budget_stops_before_it_would_be_passed(tmp_path):
    prices = tmp_path / "prices.yaml"
    prices.write_text("currency: USD\nprices:\n  - {class: chat, model: '*', per_request: 1.0}\n  - {class: '*', model: '*', per_request: 0}\n")
    with FakeServer() as server:
        result = run("suites/test_chat_parameters.py", "--base-url", server.base_url, "--target-name", "fake", "--model", "ok",
                     "--disable-recording", "--no-expectations", "--prices", str(prices), "--budget", "3.5", "--report-dir", str(tmp_path / "r"))
    assert "Traceback" not in result.stdout
    cells = json.loads((tmp_path / "r" / "support-matrix.json").read_text())["cells"]
    sent = [c for c in cells if c["verdict"] != "untested"]
    assert sum(c["exchanges"] for c in sent) == 3  # 3 x 1.0 spent (max_tokens with its control, then temperature); a 4th would pass 3.5
    rest = [c for c in cells if c["verdict"] == "untested"]
    assert rest and all(re.match(r"spend budget: this cell \(up to (\d) priced requests, about \1\.0000 USD\) would pass --budget 3.5", c["reason"]) for c in rest)


def test_a_budget_without_prices_is_a_usage_error(tmp_path):
    result = run("suites/test_models.py", "--budget", "1", "--report-dir", str(tmp_path))
    assert result.returncode == 4 and "--budget needs --prices" in result.stdout + result.stderr


def test_the_plan_prints_route_classes_and_an_estimated_spend(tmp_path):
    result = run("suites", "--anyint-plan", "--target", "litellm", "--poll-timeout", "2", "--prices", str(ROOT / "targets" / "prices.example.yaml"), "--report-dir", str(tmp_path))
    assert result.returncode == 0, result.stdout[-2000:]
    assert "route class" in result.stdout and "estimated spend (max, USD)" in result.stdout
    rows = {line.split()[1]: line for line in result.stdout.splitlines() if line.startswith("litellm ") and len(line.split()) >= 3}
    assert "(probe only; --expensive-examples for more)" in rows["images"]
    most = int(rows["images"].split()[2].split("-")[1])
    assert float(rows["images"].split()[3]) == pytest.approx(most * 0.04, abs=1e-4)  # every image request is a POST priced at 0.04
    assert int(rows["models"].split()[2].split("-")[1]) > 0 and float(rows["models"].split()[3]) == 0  # listing costs nothing
    total = [line for line in result.stdout.splitlines() if line.startswith("total") and "." in line.split()[-1]]
    assert total and float(total[-1].split()[-1]) > 0
