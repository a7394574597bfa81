"""A live run stops cleanly at its request budget; the token cap bounds every body; a capability lost
from a recording fails the baseline with a readable diff."""

import json
import shutil

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
    # discovery (GET /models) is the first of the 3 requests; two cells got the other two
    assert len(sent) == 2 and sum(c["exchanges"] for c in sent) == 2
    rest = [c for c in cells if c["verdict"] == "untested"]
    assert len(rest) == len(cells) - 2 and all("request budget exhausted" in c["reason"] for c in rest)


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
