"""The derived schemas: faithful to the tables, and the committed files never drift from them."""

import pytest
import yaml

from anyint_conformance import derive
from anyint_conformance.schemas import first_violation, load_schemas, missing_when_available


def test_committed_schemas_match_a_fresh_derivation():
    assert derive.drift() == [], "run: python -m anyint_conformance.derive"


def test_drift_is_detected(tmp_path):
    (tmp_path / "tables").mkdir()
    for path in derive.TABLES_DIR.glob("*.yaml"):
        (tmp_path / "tables" / path.name).write_text(path.read_text())
    derive.write_all(tmp_path)
    assert derive.drift(tmp_path) == []
    table = tmp_path / "tables" / "chat.yaml"
    table.write_text(table.read_text().replace("Model ID to use for the request.", "Edited meaning."))
    assert "chat.request.json: differs from the tables" in derive.drift(tmp_path)


def test_every_documented_row_becomes_a_property_with_meaning_and_example():
    tables = yaml.safe_load(derive.TABLES_DIR.joinpath("chat.yaml").read_text())
    request = load_schemas()["chat.request"]["properties"]
    for row in tables["tables"][0]["rows"]:
        prop = request[row["field"]]
        assert prop["description"] == row["meaning"]
        assert prop["x-example"] == row["example"]
        assert prop["x-type"] == row["type"]


def test_documented_wording_maps_faithfully():
    s = load_schemas()
    assert s["chat.request"]["required"] == ["model", "messages"]
    assert s["chat.request"]["properties"]["stop"]["anyOf"][0] == {"type": "string"}  # "string or array"
    message = s["chat.message"]
    assert message["required"] == ["role"]  # content is "Usually": not required
    assert message["properties"]["content"]["x-required"] == "Usually"
    # "Tool responses only" -> required when role is tool
    assert first_violation("chat.message", {"role": "tool", "content": "x"}) is not None
    assert first_violation("chat.message", {"role": "tool", "content": "x", "tool_call_id": "c"}) is None
    assert first_violation("chat.message", {"role": "user", "content": "x"}) is None
    # dotted response paths -> nested schemas; object constants per shape
    assert s["chat.response"]["properties"]["choices"]["items"]["properties"]["message"]["properties"]["content"]["type"] == ["string", "null"]
    assert s["chat.chunk"]["properties"]["object"]["const"] == "chat.completion.chunk"
    assert "message" not in s["chat.chunk"]["properties"]["choices"]["items"]["properties"]


def test_when_available_fields_are_optional_and_reported_missing():
    body = {"id": "x", "object": "chat.completion", "created": 1, "model": "m", "choices": [{"message": {"content": "hi"}}]}
    assert first_violation("chat.response", body) is None
    assert missing_when_available("chat.response", body) == ["$.usage.completion_tokens", "$.usage.prompt_tokens", "$.usage.total_tokens"]
    body["usage"] = {"prompt_tokens": 1}
    assert missing_when_available("chat.response", body) == ["$.usage.completion_tokens", "$.usage.total_tokens"]


def test_unknown_wording_is_an_error_not_a_guess(tmp_path):
    (tmp_path / "t.yaml").write_text(
        "page: p\ntables:\n  - table: T\n    kind: request\n    schema: x\n    rows:\n"
        "      - {field: a, type: string, required: Sometimes, meaning: m}\n"
    )
    with pytest.raises(derive.TableError, match="required wording 'Sometimes'"):
        derive.derive_all(tmp_path)
    (tmp_path / "t.yaml").write_text(
        "page: p\ntables:\n  - table: T\n    kind: request\n    schema: x\n    rows:\n"
        "      - {field: a, type: text, required: 'Yes', meaning: m}\n"
    )
    with pytest.raises(derive.TableError, match="unknown part 'text'"):
        derive.derive_all(tmp_path)
