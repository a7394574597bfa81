"""The verdict rules, checked on the committed evidence and end to end:

- the official SDK parses every response of every supported cell in the committed cassettes;
- no committed cell fails on a rule no table or sentence of the pages states (outside --strict-upstream),
  and every failing cell names its rule's provenance;
- every model and every target get the same generated requests.
"""

import json
from pathlib import Path

import pytest
import yaml

from anyint_conformance.judging import oracle
from anyint_conformance.judging.checks import Expect
from anyint_conformance.wire.recording import canonical_body, form_fields
from anyint_conformance.contract.schemas import operation, sdk_type
from tests.fakeserver import FakeServer
from tests.helpers import ROOT, run_pytest

MATRIX = json.loads((ROOT / "reports" / "support-matrix.json").read_text())
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _operation_for(method: str, uri: str) -> dict | None:
    path = "/" + uri.split("/v1/", 1)[1].split("?")[0]
    for template in _templates():
        if template[0] == method and _fits(template[1], path):
            return operation(template[1], method)
    return None


def _templates():
    doc = json.loads((ROOT / "schemas" / "openapi.json").read_text())
    return [(m.upper(), p) for p, item in doc["paths"].items() for m in item]


def _fits(template: str, path: str) -> bool:
    a, b = template.strip("/").split("/"), path.strip("/").split("/")
    return len(a) == len(b) and all(x == y or x.startswith("{") for x, y in zip(a, b))


def _request_body(request: dict):
    headers = {k.lower(): v for k, v in request["headers"].items()}
    content_type = (headers.get("content-type") or [""])[0]
    body = canonical_body(request["body"], content_type)
    return form_fields(body) if isinstance(body, bytes) else body


def _bodies(response: dict, stream: bool) -> list:
    text = response["body"]["string"]
    text = text.decode() if isinstance(text, bytes) else text
    if not stream:
        return [json.loads(text)]
    events = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
    return [json.loads(e) for e in events if e != "[DONE]"]


def _answered(cells) -> list[tuple[str, str, object]]:
    """(cassette, the schema its request must be answered with, one JSON body or SSE event) for every 2xx
    interaction of these cells' cassettes whose route has a schema."""
    out = []
    for cassette in sorted({c["cassette"] for c in cells if c.get("cassette")}):
        for interaction in yaml.load((ROOT / cassette).read_text(), Loader=LOADER)["interactions"]:
            request, response = interaction["request"], interaction["response"]
            op = _operation_for(request["method"], request["uri"])
            if op is None or not 200 <= response["status"]["code"] < 300:
                continue
            expect = Expect.for_request(op, _request_body(request))
            schema = expect.chunk_schema if expect.stream else expect.response_schema
            if not schema:
                continue
            try:
                out += [(cassette, schema, body) for body in _bodies(response, expect.stream)]
            except ValueError:
                continue  # not JSON: judged broken before any schema
    return out


def test_the_sdk_parses_every_response_of_every_supported_cell_in_the_committed_cassettes():
    checked, rejected = 0, []
    for cassette, schema, body in _answered(c for c in MATRIX["cells"] if c["verdict"] == "supported"):
        type_name = sdk_type(schema)
        if type_name is None:
            continue
        checked += 1
        error = oracle.parse_error(type_name, body)
        if error:
            rejected.append(f"{cassette}: {type_name}: {error}")
    assert checked > 300
    assert rejected == []


FAILING = ("non-conforming", "broken", "accepted")


def test_no_committed_cell_fails_on_a_rule_the_pages_do_not_state():
    assert MATRIX["strict"] is False
    failing = [c for c in MATRIX["cells"] if c["verdict"] in FAILING]
    assert failing, "the committed matrix should show failures of the local targets"
    for cell in failing:
        violation = cell.get("violation") or {}
        assert violation.get("provenance") in ("documented", "sdk", "http"), (cell["test"], violation)
        assert violation.get("rule"), (cell["test"], violation)  # the rule is quoted or named
    accepted = [c for c in MATRIX["cells"] if c["verdict"] == "accepted"]
    assert all(c["violation"]["provenance"] == "documented" for c in accepted)
    lenient = [c for c in MATRIX["cells"] if c["verdict"] == "lenient"]
    assert lenient and all(w["provenance"] == "upstream" for c in lenient for w in c["warnings"][:1])


def _recorded_bodies(cassette_dir: Path) -> dict[str, list]:
    """model -> the request bodies it was sent, in order, with the model id replaced."""
    out: dict[str, list] = {}
    for path in sorted(cassette_dir.rglob("test_chat_completions*.yaml")):
        for interaction in yaml.load(path.read_text(), Loader=LOADER)["interactions"]:
            body = json.loads(interaction["request"]["body"])
            out.setdefault(body.pop("model"), []).append(body)
    return out


def _record(server, tmp_path: Path, name: str, target: str, models: list[str]) -> dict[str, list]:
    args = ["suites/test_chat_completions.py::test_chat_completions", "--base-url", server.base_url, "--target-name", target,
            "--record-mode=once", "--no-expectations", "--cassette-dir", str(tmp_path / name), "--report-dir", str(tmp_path / f"{name}-r")]
    for model in models:
        args += ["--model", model]
    result = run_pytest(*args)
    assert "Traceback" not in result.stdout, result.stdout[-2000:]
    return _recorded_bodies(tmp_path / name / target)


def test_every_model_and_every_target_get_the_same_requests(tmp_path):
    with FakeServer() as server:
        two = _record(server, tmp_path, "two", "fake", ["ok", "429-then-ok"])
        renamed = _record(server, tmp_path, "renamed", "another-name", ["ok"])
        more = _record(server, tmp_path, "more", "fake", ["ok", "429-then-ok", "wrong-object"])
    assert len(two["ok"]) > 8  # probe, the page's examples and drawn examples, in both modes
    assert renamed["ok"] == two["ok"]  # renaming the target changes nothing
    assert more["ok"] == two["ok"]  # adding a model changes no other model's requests
    # and another model gets the same requests (its 429s were retried: each body recorded twice)
    assert list(dict.fromkeys(json.dumps(b, sort_keys=True) for b in two["429-then-ok"])) == [json.dumps(b, sort_keys=True) for b in two["ok"]]


@pytest.mark.parametrize("verdict", ["supported", "non-conforming", "broken", "unsupported"])
def test_the_committed_matrix_has_each_kind_of_evidence(verdict):
    assert any(c["verdict"] == verdict and c.get("cassette") for c in MATRIX["cells"])


def test_the_fast_validator_agrees_with_jsonschema_on_every_recorded_body():
    """jsonschema-rs gives the fast yes; it must never say yes where Python's jsonschema says no."""
    from anyint_conformance.contract.schemas import fast_validator, validator

    compared, disagreements = 0, []
    for cassette, schema, body in _answered(MATRIX["cells"]):
        for layer in ("documented", "upstream"):
            compared += 1
            if fast_validator(schema, layer).is_valid(body) != validator(schema, layer).is_valid(body):
                disagreements.append((cassette, schema, layer))
    assert compared > 500 and disagreements == []
