"""The whole suite against a target that misbehaves on purpose: every fault is classified, the run goes on.

The fake server picks its behaviour from the model name, so the real plugin (discovery, generation,
transport, checks, cells, reports) runs end to end over a live loopback socket, without recording.
"""

import json
from pathlib import Path

import pytest

from tests.fakeserver import FakeServer
from tests.helpers import run_pytest

ROOT = Path(__file__).resolve().parent.parent

# model (= fault) -> expected verdict of the non-stream and the stream cell
EXPECTED = {
    "ok": ("supported", "supported"),
    "429-then-ok": ("supported", "supported"),  # a cell that succeeds after a retry is still supported
    "error-500": ("broken", "broken"),
    "hang": ("broken", "broken"),
    "html-200": ("broken", "broken"),
    "invalid-json-200": ("broken", "broken"),
    "huge": ("broken", "broken"),
    "missing-choices": ("non-conforming", "broken"),  # stream: answered with JSON, not SSE
    "refusal": ("unsupported", "unsupported"),
    "no-done": (None, "non-conforming"),
    "cut": (None, "broken"),
    "not-json": (None, "broken"),
    "error-event": (None, "broken"),
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("resilience")
    models = [m for m in EXPECTED]
    with FakeServer() as server:
        args = ["suites/test_chat_completions.py::test_chat_completions", "--base-url", server.base_url, "--target-name", "fake",
                "--disable-recording", "--report-dir", str(out), "--request-timeout", "1", "--examples", "2", "--no-expectations"]
        for m in models:
            args += ["--model", m]
        result = run_pytest(*args)
    matrix = json.loads((out / "support-matrix.json").read_text())
    return result, {(c["model"], c["parameter"]): c for c in matrix["cells"]}


def test_the_run_completes_without_a_traceback(run):
    result, cells = run
    assert result.returncode == 1  # faults are failures, not crashes
    assert "Traceback" not in result.stdout + result.stderr
    assert len(cells) == 2 * len(EXPECTED)


@pytest.mark.parametrize("model", list(EXPECTED))
def test_each_fault_gets_its_verdict(run, model):
    _, cells = run
    nonstream, stream = EXPECTED[model]
    if nonstream:
        assert cells[(model, None)]["verdict"] == nonstream, cells[(model, None)]["reason"]
    assert cells[(model, "stream")]["verdict"] == stream, cells[(model, "stream")]["reason"]


def test_a_retried_429_is_counted_and_recorded(run):
    _, cells = run
    cell = cells[("429-then-ok", None)]
    assert cell["verdict"] == "supported"
    assert cell["exchanges"] == 2 * (1 + cell["examples"])  # every body was rate-limited once, then retried
