"""The verdict rules, checked on the committed evidence and end to end:

- the official SDK, really called on each recorded answer, finds nothing that decides in any supported cell;
- every failing cell of the committed matrix names a rule that is literally true: documented and inferred
  rules quote the pages verbatim (our reading said as a reading), sdk findings say what the SDK raised or
  handed over, integrity findings what the answer contradicts, http findings a 5xx, a timeout or a cut;
- every model and every target get the same generated requests.
"""

import json
import re
from pathlib import Path

import pytest
import yaml

from anyint_conformance.contract.schemas import operation
from anyint_conformance.judging import oracle
from anyint_conformance.judging.checks import Expect
from anyint_conformance.wire.recording import canonical_body, form_fields
from anyint_conformance.wire.transport import Exchange, parse_sse
from tests.fakeserver import FakeServer
from tests.helpers import ROOT, run_pytest

MATRIX = json.loads((ROOT / "reports" / "support-matrix.json").read_text())
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# the pages are the contract: a copy is committed (schemas/pages/), so a clone anywhere can check quotes against them
PAGES = [p.read_text() for p in sorted((ROOT / "schemas" / "pages").glob("*.txt"))]
SEEDS = ROOT.parent / "shared" / "seeds"


@pytest.mark.skipif(not SEEDS.is_dir(), reason="no ../shared/seeds beside this clone: the committed copy is the contract")
def test_the_committed_pages_are_the_pages():
    assert sorted(p.read_text() for p in SEEDS.glob("*.txt")) == sorted(PAGES), "schemas/pages/ drifted from ../shared/seeds: copy them again"


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


def recorded_exchanges(cells) -> list[tuple[str, dict, Exchange]]:
    """(cassette, operation, the exchange as the suite saw it) for every 2xx interaction of these cells' cassettes."""
    out = []
    for cassette in sorted({c["cassette"] for c in cells if c.get("cassette")}):
        for interaction in yaml.load((ROOT / cassette).read_text(), Loader=LOADER)["interactions"]:
            request, response = interaction["request"], interaction["response"]
            op = _operation_for(request["method"], request["uri"])
            if op is None or not 200 <= response["status"]["code"] < 300:
                continue
            body = response["body"]["string"]
            content = body if isinstance(body, bytes) else (body or "").encode()
            headers = {k.lower(): v[0] for k, v in response["headers"].items()}
            ex = Exchange(request["method"], request["uri"], _request_body(request), status=response["status"]["code"], headers=headers, content=content)
            if headers.get("content-type", "").startswith("text/event-stream"):
                ex.events, ex.stream = parse_sse(content), True
            out.append((cassette, op, ex))
    return out


def test_the_sdk_really_called_finds_nothing_deciding_in_any_supported_cell():
    checked, tripped = 0, []
    for cassette, op, ex in recorded_exchanges(c for c in MATRIX["cells"] if c["verdict"] == "supported"):
        checked += 1
        found = [f for f in oracle.findings(ex, op["method"], op["path"]) if f.decides()]
        if found:
            tripped.append(f"{cassette}: {found[0].message}")
    assert checked > 200
    assert tripped == []


FAILING = ("non-conforming", "broken", "accepted", "ignored")


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def test_every_failing_cell_names_a_rule_that_is_literally_true():
    pages = _norm(" ".join(PAGES))
    failing = [c for c in MATRIX["cells"] if c["verdict"] in FAILING and c.get("violation")]
    assert failing, "the committed matrix should show failures of the local targets"
    for cell in failing:
        v, where = cell["violation"], (cell["test"], cell["violation"])
        assert v.get("rule"), where  # quoted or named
        if v["provenance"] in ("documented", "inferred"):
            quotes = re.findall(r'"([^"]{8,})"', v["rule"])
            assert quotes and all(_norm(q) in pages for q in quotes), where  # the page's own words, verbatim
            assert (v["provenance"] == "inferred") == ("our reading" in v["rule"]), where  # a reading says it is one
        elif v["provenance"] == "sdk":
            assert v["rule"].startswith(f"openai {oracle.sdk_version()}") and re.search(r"raises|is \w+ .*not|holds|crashed|decodes", v["message"]), where
        elif v["provenance"] == "integrity":
            assert v["rule"].startswith("integrity: "), where  # what the answer must agree with
        elif v["provenance"] == "http":
            assert cell["status"] is None or cell["status"] >= 500 or cell["status"] < 200, where  # a 5xx, a timeout, a cut connection
        else:
            pytest.fail(f"a failing cell decided by {v['provenance']}: {where}")
    assert MATRIX["strict"] is False
    lenient = [c for c in MATRIX["cells"] if c["verdict"] == "lenient"]
    assert lenient and all(w["provenance"] in ("upstream", "documented") for c in lenient for w in c["warnings"][:1])


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

    compared, disagreements, seen = 0, [], set()
    for cassette, op, ex in recorded_exchanges(MATRIX["cells"]):
        expect = Expect.for_request(op, ex.body)
        schema = expect.chunk_schema if expect.stream else expect.response_schema
        if not schema:
            continue
        bodies = [v for _, v in ex.event_values if v is not None] if expect.stream else ([ex.parsed] if isinstance(ex.parsed, (dict, list)) else [])
        if len(bodies) > 4:  # a stream: its first chunks (role, first delta) and its last (finish, usage); the middle ones are alike
            bodies = bodies[:2] + bodies[-2:]
        for body in bodies:
            key = (schema, json.dumps(body, sort_keys=True))
            if key in seen:
                continue  # the same body against the same schema: the same answer twice
            seen.add(key)
            for layer in ("documented", "upstream"):
                compared += 1
                if fast_validator(schema, layer).is_valid(body) != validator(schema, layer).is_valid(body):
                    disagreements.append((cassette, schema, layer))
    assert compared > 500 and disagreements == []


def test_the_sdk_verdict_does_not_depend_on_what_ran_before():
    """A fresh interpreter that first judges an images answer (nothing has listed anything yet) finds what a
    full run finds: no SDK finding on a correct answer. (openai.pagination was once loaded only by a listing
    call, so a selection like `-k images` judged correct answers as breaking the SDK.)"""
    import subprocess
    import sys

    code = """
import json
from anyint_conformance.judging import oracle
from anyint_conformance.wire.transport import Exchange
body = json.dumps({"created": 1, "data": [{"url": "https://example.com/a.png"}]}).encode()
ex = Exchange("POST", "http://h/v1/images/generations", {"prompt": "a cat", "model": "m"}, status=200, headers={"content-type": "application/json"}, content=body)
print(json.dumps([f.message for f in oracle.findings(ex, "POST", "/images/generations")]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert json.loads(out.splitlines()[-1]) == []
