"""Client cells: each real client library, run against a deliberately broken fake, fails the way its users
would see it fail, with the client's own error as the evidence; a sound answer makes every client work."""

from __future__ import annotations

import json
import shutil

import pytest

from anyint_conformance.clients.flows import FLOWS, Result
from anyint_conformance.clients.judge import client_cell
from anyint_conformance.clients.node import NodeWorker
from anyint_conformance.judging.checks import Rules
from anyint_conformance.wire.transport import Exchange
import suites.test_clients as clients
from tests.fakeserver import COMPLETION, FakeServer
from tests.harness import cells_of

NODE = NodeWorker.unavailable()
# the error each client raises on a 200 answer without choices, in its own words
NO_CHOICES = {"openai-python": "TypeError", "langchain": "TypeError", "openai-node": "TypeError", "vercel-ai": "APICallError: Invalid JSON response"}
CHATS = [key for key, flow in FLOWS.items() if not flow.calls_tool and not flow.streams]
STREAMS = [key for key, flow in FLOWS.items() if flow.streams]
TOOLS = [key for key, flow in FLOWS.items() if flow.calls_tool]


def _params(keys):
    """Node clients need Node and `make clients`; without them their cells are untested (and these skip)."""
    return [pytest.param(k, id=":".join(k), marks=pytest.mark.skipif(NODE is not None and k[0] in ("openai-node", "vercel-ai"), reason=str(NODE)))
            for k in keys]


def _cells(key, *models) -> dict:
    """{model: cell} of one client flow against the fake, one model per behaviour."""
    with FakeServer() as server:
        cells = cells_of(clients.test_client, server.base_url, models, {"client": key[0], "flow": key[1]})
    return {m: c for (m, _), c in cells.items()} if len(models) > 1 else {models[0]: next(iter(cells.values()))}


def _client_said(cell) -> list[str]:
    return [f["message"] for f in [cell.violation or {}, *cell.notes] if f.get("check") == "client"]


@pytest.mark.parametrize("key", _params(CHATS))
def test_a_sound_answer_makes_every_chat_flow_work_and_no_choices_breaks_it_in_the_clients_own_words(key):
    cells = _cells(key, "ok", "missing-choices")
    assert cells["ok"].verdict == "supported", cells["ok"].reason
    assert "worked" in cells["ok"].reason
    broken = cells["missing-choices"]
    assert broken.verdict == "non-conforming", broken.reason
    said = _client_said(broken)
    assert said and "raised" in said[0] and NO_CHOICES[key[0]] in said[0], said


@pytest.mark.parametrize("key", _params(TOOLS))
def test_a_forced_tool_call_works_when_called_and_is_ignored_when_the_answer_has_none(key):
    cells = _cells(key, "fx-calls", "ok")
    assert cells["fx-calls"].verdict == "supported", cells["fx-calls"].reason
    assert "get_weather" in cells["fx-calls"].reason
    assert cells["ok"].verdict == "ignored", cells["ok"].reason
    assert "no tool call" in cells["ok"].reason


@pytest.mark.parametrize("key", _params(STREAMS))
def test_a_stream_cut_before_its_end_is_not_supported(key):
    cells = _cells(key, "ok", "cut")
    assert cells["ok"].verdict == "supported" and "chunks" in cells["ok"].reason, cells["ok"].reason
    assert cells["cut"].verdict in ("broken", "non-conforming"), cells["cut"].reason


@pytest.mark.parametrize("model, verdict", [("error-500", "broken"), ("refusal", "unsupported")])
def test_a_refusal_or_a_5xx_is_judged_from_the_answer_with_the_client_error_beside_it(model, verdict):
    cell = _cells(("openai-python", "chat"), model)[model]
    assert cell.verdict == verdict, cell.reason
    assert any("raised" in said for said in _client_said(cell)), cell.notes


def test_a_client_that_raises_on_an_answer_every_rule_passes_makes_the_cell_non_conforming():
    """The client's own failure decides even where no rule of ours would: its users' code is what breaks."""
    body = json.dumps(COMPLETION).encode()
    served = [Exchange("POST", "http://x/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "hi"}]}, False, 200,
                       {"content-type": "application/json"}, body)]
    flow = FLOWS[("openai-python", "chat")]
    assert client_cell("t", "m", flow, Result(True, text="hi"), served, Rules()).verdict == "supported"
    raised = client_cell("t", "m", flow, Result(False, "KeyError: 'content'"), served, Rules())
    assert raised.verdict == "non-conforming"
    assert "KeyError: 'content'" in raised.reason
    assert raised.violation["check"] == "client" and raised.violation["provenance"] == "sdk"


def test_no_request_sent_is_untested_with_the_clients_error():
    cell = client_cell("t", "m", FLOWS[("openai-python", "chat")], Result(False, "APIConnectionError: refused"), [], Rules())
    assert cell.verdict == "untested" and "APIConnectionError" in cell.reason


def test_a_missing_node_is_one_line_with_the_fix(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert NodeWorker.unavailable().startswith("the Node client cells need Node.js 20")


def test_each_client_breaks_in_its_own_words_on_a_doctored_recorded_answer(tmp_path):
    """Offline, from cassettes: the committed recordings of one model, each answer's choices removed (and the
    streams' [DONE]); every client runs against the replay server in front of them and says how it broke."""
    import yaml

    from tests.helpers import ROOT, run_pytest

    copy = tmp_path / "cassettes"
    shutil.copytree(ROOT / "cassettes" / "llamacpp", copy / "llamacpp")
    for path in (copy / "llamacpp" / "test_clients").glob("*.yaml"):
        data = yaml.safe_load(path.read_text())
        for interaction in data["interactions"]:
            body = interaction["response"]["body"]
            if body["string"].lstrip().startswith("{"):
                answer = json.loads(body["string"])
                answer.pop("choices", None)
                body["string"] = json.dumps(answer)
            else:
                body["string"] = body["string"].replace("data: [DONE]", "")
        path.write_text(yaml.safe_dump(data))
    result = run_pytest("suites/test_clients.py", "--target", "llamacpp", "--cassette-dir", str(copy), "--report-dir", str(tmp_path), "--no-expectations")
    cells = {c["parameter"].removeprefix("client: "): c for c in json.loads((tmp_path / "support-matrix.json").read_text())["cells"]}
    assert len(cells) == len(FLOWS) - (0 if NODE is None else 6), result.stdout[-2000:]
    for (client, name), flow in FLOWS.items():
        cell = cells.get(f"{client} {name}")
        if cell is None:
            continue  # a Node client without Node
        assert cell["verdict"] == "non-conforming", (client, name, cell["reason"])
        said = [f["message"] for f in [cell["violation"] or {}, *cell["notes"]] if f.get("check") == "client"]
        assert said, (client, name, cell)
        if not flow.streams and not flow.calls_tool:
            assert NO_CHOICES[client] in said[0], said
