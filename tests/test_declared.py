"""Declared vs observed: what GET /models (or a catalogue file) says of a model, confronted with the matrix."""

import json

from anyint_conformance.reports.declared import confront, interpret
from tests.fakeserver import FakeServer
from tests.helpers import ROOT, run_pytest


def test_recognised_keys_map_to_families_and_parameters_and_the_rest_is_shown():
    meaning = interpret({"id": "m", "object": "model", "mode": "embedding", "supported_parameters": ["tools", "temperature"],
                         "capabilities": {"vision": True, "streaming": False}, "x-vendor-tier": "gold"})
    assert meaning["families"] == {"embeddings": True, "chat stream": False} and meaning["exclusive"] is True
    assert meaning["parameters"] == ["temperature", "tools"]
    # a capability this version does not map is shown as it is, never dropped
    assert meaning["unknown"] == {"x-vendor-tier": "gold", "capabilities.vision": True}
    assert interpret({"architecture": {"modality": "text->text"}})["families"] == {"chat": True}


def _cell(family, verdict, kind="route", parameter=None):
    return {"target": "t", "model": "m", "route": "POST /x", "parameter": parameter, "family": family, "kind": kind, "verdict": verdict, "notes": []}


def test_a_security_finding_is_no_contradiction_of_what_a_model_declares():
    echoed = {**_cell("chat", "non-conforming"), "security": True}  # the answer carried the caller's key back
    assert confront([echoed], {"t": {"m": {"mode": "chat"}}}) == []
    assert confront([_cell("chat", "non-conforming")], {"t": {"m": {"mode": "chat"}}})  # without it, it is one


def test_contradictions_both_ways():
    cells = [_cell("chat", "supported"), _cell("embeddings", "unsupported"), _cell("chat", "ignored", "parameter", "tools+tool_choice")]
    found = confront(cells, {"t": {"m": {"mode": "embedding", "supported_parameters": ["tools"]}}})
    messages = sorted(f["message"] for f in found)
    assert messages == ["declares mode: embedding, supported_parameters: ['tools'], yet chat answered 200 and conforming",
                        "declares mode: embedding, supported_parameters: ['tools'], yet embeddings was unsupported",
                        "declares supported_parameters: [tools], yet tools+tool_choice was ignored"]
    assert confront(cells, {"t": {"m": {"id": "m"}}}) == []  # nothing recognised: nothing claimed


def test_the_matrix_confronts_what_the_fake_server_declares(tmp_path):
    declarations = tmp_path / "catalogue.yaml"
    declarations.write_text("ok: {routes: [embeddings], exclusive: true}\n")
    with FakeServer() as server:
        result = run_pytest("suites/test_chat_completions.py", "suites/test_chat_parameters.py", "--base-url", server.base_url, "--target-name", "fake",
                            "--model", "declares-embedding", "--model", "ok", "--disable-recording", "--no-expectations", "--declarations", str(declarations),
                            "--report-dir", str(tmp_path / "r"))
    assert "Traceback" not in result.stdout
    matrix = json.loads((tmp_path / "r" / "support-matrix.json").read_text())
    messages = {(d["model"], d["message"]) for d in matrix["declared"]}
    assert ("declares-embedding", "declares mode: embedding, supported_parameters: ['tools'], yet chat answered 200 and conforming") in messages
    assert ("declares-embedding", "declares supported_parameters: [tools], yet tools+tool_choice was ignored") in messages
    assert ("declares-embedding", "declares x-vendor-tier: gold (not mapped by this version: shown, not interpreted)") in messages
    assert ("ok", "declares routes: ['embeddings'], yet chat answered 200 and conforming") in messages  # from the catalogue file
    assert matrix["targets"]["fake"]["declared"]["declares-embedding"]["mode"] == "embedding"  # the raw entry is kept
    chat = next(c for c in matrix["cells"] if c["model"] == "declares-embedding" and c["parameter"] is None)
    assert any(n["check"] == "declared_vs_observed" and n["provenance"] == "declared" for n in chat["notes"])
    assert "Declared vs observed" in (tmp_path / "r" / "support-matrix.md").read_text()


def test_the_committed_matrix_flags_what_litellm_declares():
    matrix = json.loads((ROOT / "reports" / "support-matrix.json").read_text())
    messages = {(d["target"], d["model"], d["message"]) for d in matrix["declared"]}
    assert ("litellm", "gemma-via-llamacpp", "declares mode: embedding, yet chat answered 200 and conforming") in messages
