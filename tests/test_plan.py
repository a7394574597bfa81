"""--anyint-plan: dry runs against imaginary targets, before anything is sent; and the token cap it states
holds for every body a real run sends."""

import json
import re

import yaml

from anyint_conformance.run.plan import max_tokens_sent
from tests.fakeserver import FakeServer
from tests.helpers import run_pytest


def test_plan_lists_every_model_with_request_bounds_and_sends_nothing(tmp_path):
    result = run_pytest("suites", "--anyint-plan", "--target", "llamacpp", "--target", "litellm", "--poll-timeout", "2", "--report-dir", str(tmp_path))
    assert result.returncode == 0, result.stdout[-2000:]
    rows = {m.group(2): (int(m.group(3)), int(m.group(4)), int(m.group(5)))
            for m in re.finditer(r"^(llamacpp|litellm)\s+(\S+)\s+(\d+)\s+(\d+)-(\d+)$", result.stdout, re.M)}
    assert {"gemma-3-270m", "mock-chat-a", "dead-upstream", "(target-wide)"} <= set(rows)
    tests, low, high = rows["gemma-3-270m"]
    assert tests > 50 and low < high  # refused probes send less than supported ones
    assert re.search(r"^total\s+\d+\s+\d+-\d+$", result.stdout, re.M)
    assert not any(tmp_path.iterdir())  # no cell was run, no report written


def test_lifecycle_bounds_come_from_their_steps(tmp_path):
    result = run_pytest("suites/test_batches.py", "suites/test_assistants.py", "--anyint-plan", "--target", "stateful", "--poll-timeout", "2")
    rows = {m.group(1): (int(m.group(2)), int(m.group(3))) for m in re.finditer(r"^stateful\s+(\S+)\s+\d+\s+(\d+)-(\d+)$", result.stdout, re.M)}
    # batches: upload, list and a create from an unknown file even when the upload is refused; at most the
    # upload, 2 creates, a retrieve, 2 polls (the 3rd GET of --poll-timeout 2 completes), the output file,
    # list, cancel, the refused create and a delete
    assert rows["(target-wide)"] == (3, 11)
    # assistants per model: create refused -> list only... create, retrieve, list, delete, retrieve after delete
    assert rows["aimock-chat"] == (2, 5)


def test_the_client_cells_are_planned_by_running_the_real_clients_against_the_imaginary_target(tmp_path):
    """Each flow sends exactly one request (no client retries), every one under the token cap, the clients'
    own bodies included (LangChain's max_completion_tokens carries the cap as max_tokens too)."""
    from anyint_conformance.clients.flows import FLOWS
    from anyint_conformance.clients.node import NodeWorker

    result = run_pytest("suites/test_clients.py", "--anyint-plan", "--target", "llamacpp", "--token-cap", "5", "--tool-token-cap", "7")
    row = re.search(r"^llamacpp\s+gemma-3-270m\s+(\d+)\s+(\d+)-(\d+)$", result.stdout, re.M)
    flows = len(FLOWS) if NodeWorker.unavailable() is None else sum(1 for c, _ in FLOWS if c in ("openai-python", "langchain"))
    assert row and int(row.group(1)) == len(FLOWS) and int(row.group(3)) == flows, result.stdout[-1500:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("max_tokens <= 5 in every body"))
    assert re.search(r"largest 5 in \d+ bodies", line) and re.search(r"<= 7 in bodies that offer tools .*largest 7 in \d+", line), line


def test_the_plan_measures_the_token_cap_over_every_body(tmp_path):
    result = run_pytest("suites", "--anyint-plan", "--target", "litellm", "--token-cap", "4", "--poll-timeout", "2")
    line = next(line for line in result.stdout.splitlines() if line.startswith("max_tokens <= 4 in every body"))
    assert re.search(r"largest 4 in \d{3,} bodies", line) and "batch files and the SDK example included" in line
    assert re.search(r"<= 48 in bodies that offer tools or ask for JSON \(largest 48 in \d+", line)


def test_every_body_kind_a_run_sends_stays_under_the_token_cap(tmp_path):
    """Probe, drawn and page examples, parameter, negative, auth, tool round trip, lifecycle, batch file and
    SDK example bodies: all recorded against the fake server with --token-cap 4."""
    with FakeServer() as server:
        run_pytest("suites/test_chat_completions.py", "suites/test_chat_parameters.py", "suites/test_negative.py", "suites/test_tools.py",
                   "suites/test_batches.py", "suites/test_auth.py", "--base-url", server.base_url, "--key-env", "FAKE_KEY", "--target-name", "fake",
                   "--model", "ok", "--record-mode=once", "--no-expectations", "--token-cap", "4",
                   "--cassette-dir", str(tmp_path / "c"), "--report-dir", str(tmp_path / "r"), env={"FAKE_KEY": "sk-fake-key-123456"})
    sent = []
    for path in (tmp_path / "c").rglob("*.yaml"):
        for interaction in (yaml.safe_load(path.read_text()) or {}).get("interactions", []):
            request = interaction["request"]
            body = request["body"] if isinstance(request["body"], bytes) else (request["body"] or "").encode()
            content_type = next(iter(request["headers"].get("content-type", [""])), "")
            sent.append((request["method"], request["uri"], body, content_type))
    largest, bodies, tool_largest, tool_bodies = max_tokens_sent(sent)
    assert bodies > 30 and largest == 4
    assert tool_bodies > 3 and tool_largest == 48  # bodies that offer tools get --tool-token-cap: room for a call
    kinds = {p.parent.name for p in (tmp_path / "c").rglob("*.yaml")}
    assert {"test_chat_completions", "test_chat_parameters", "test_negative", "test_tools", "test_batches", "test_auth"} <= kinds
    batch_files = [b for m, u, b, ct in sent if "multipart" in ct and b'"max_tokens"' in b]
    assert batch_files and all(json.loads(re.search(rb"\{.*\}", b).group(0))["body"]["max_tokens"] <= 4 for b in batch_files)
