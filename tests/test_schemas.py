"""The derived schemas: faithful to the tables, and the committed files never drift from them."""

import json
import re

import pytest
import yaml

from anyint_conformance.contract import derive
from anyint_conformance.contract.derive import UPSTREAM
from anyint_conformance.contract.schemas import first_violation, load_schemas, missing_when_available, violations


def test_committed_schemas_match_a_fresh_derivation():
    assert derive.drift() == [], "run: python -m anyint_conformance.contract.derive"


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


@pytest.mark.parametrize(
    "row, error",
    [
        ("{field: a, type: string, required: Sometimes, meaning: m}", "required wording 'Sometimes'"),
        ("{field: a, type: text, required: 'Yes', meaning: m}", "unknown part 'text'"),
        ("{field: a, inferred: {required: true, why: w}}", "no type on the page and no inferred.type"),
        ("{field: a, inferred: {type: string, why: w}}", "no required wording on the page and no inferred.required"),
    ],
    ids=["unknown required wording", "unknown type", "no type at all", "no required at all"],
)
def test_wording_without_a_mapping_is_an_error_not_a_guess(tmp_path, row, error):
    (tmp_path / "t.yaml").write_text(f"page: p\ntables:\n  - table: T\n    kind: request\n    schema: x\n    rows:\n      - {row}\n")
    with pytest.raises(derive.TableError, match=error):
        derive.derive_all(tmp_path)


# --- the extended endpoints page (002): embeddings, images, audio, moderations, files, assistants,
# threads/messages/runs, batches, videos ---------------------------------------------------------

PAGE_ROUTES = [  # every route the page lists, with the method each one is tested with
    ("POST", "/embeddings"), ("POST", "/images/generations"), ("POST", "/audio/speech"),
    ("POST", "/audio/transcriptions"), ("POST", "/audio/translations"), ("POST", "/moderations"),
    ("POST", "/files"), ("GET", "/files"), ("GET", "/files/{file_id}"), ("DELETE", "/files/{file_id}"),
    ("GET", "/files/{file_id}/content"),
    ("POST", "/assistants"), ("GET", "/assistants"), ("GET", "/assistants/{assistant_id}"), ("DELETE", "/assistants/{assistant_id}"),
    ("POST", "/threads"), ("GET", "/threads/{thread_id}"), ("DELETE", "/threads/{thread_id}"),
    ("POST", "/threads/{thread_id}/messages"), ("GET", "/threads/{thread_id}/messages"), ("POST", "/threads/{thread_id}/runs"),
    ("POST", "/batches"), ("GET", "/batches"), ("GET", "/batches/{batch_id}"), ("POST", "/batches/{batch_id}/cancel"),
    ("POST", "/videos"), ("GET", "/videos"), ("GET", "/videos/{video_id}"), ("DELETE", "/videos/{video_id}"), ("GET", "/videos/{video_id}/content"),
]


def _ops():
    return {(op["method"], op["path"]): op for op in derive.operations()}


def test_every_route_on_the_extended_page_has_an_operation():
    ops = _ops()
    missing = [route for route in PAGE_ROUTES if route not in ops]
    assert missing == []
    # the one operation that is not on the page says so
    extra = set(ops) - set(PAGE_ROUTES) - {("POST", "/chat/completions"), ("GET", "/models")}  # the chat page's route and its Models API
    assert extra == {("GET", "/threads/{thread_id}/runs/{run_id}")}
    assert ops[("GET", "/threads/{thread_id}/runs/{run_id}")]["documented"] is False
    assert ops[("GET", "/threads/{thread_id}/runs/{run_id}")]["path_parameters"]["run_id"]["documented"] is False


def test_inferred_type_and_required_when_the_page_only_names_the_field():
    speech = load_schemas(UPSTREAM)["audio.speech.request"]
    assert speech["required"] == ["model", "input", "voice"]  # upstream (CreateSpeechRequest)...
    assert load_schemas()["audio.speech.request"]["required"] == []  # ...not what the page says
    assert list(speech["properties"]) == ["model", "input", "voice", "response_format", "speed"]
    for prop in speech["properties"].values():
        assert prop["x-documented"] is True  # the page names every one of them...
        assert "x-type" not in prop and "x-required" not in prop  # ...but gives no type or required wording
        assert prop["x-provenance"] == "upstream"
    assert speech["properties"]["speed"]["type"] == "number"
    assert "type" not in load_schemas()["audio.speech.request"]["properties"]["speed"]
    assert speech["properties"]["speed"]["x-inferred"]["type"] == "number"
    # a documented table still records its own wording
    embeddings = load_schemas()["embeddings.request"]
    assert embeddings["required"] == ["model", "input"]
    assert embeddings["properties"]["input"]["x-type"] == "string or array"
    assert embeddings["properties"]["dimensions"]["x-required"] == "No"
    # rows the page does not have at all
    assert load_schemas()["videos.request"]["properties"]["model"]["x-documented"] is False
    assert load_schemas(UPSTREAM)["moderations.request"]["required"] == ["input"] and load_schemas()["moderations.request"]["required"] == []


def test_file_type_word_is_a_binary_string(tmp_path):
    (tmp_path / "t.yaml").write_text(
        "page: p\ntables:\n  - table: T\n    kind: request\n    schema: x\n    rows:\n"
        "      - {field: upload, type: file, required: 'Yes', meaning: m}\n"
        "      - {field: blob, inferred: {type: file, required: false, why: w}}\n"
    )
    props = derive.derive_all(tmp_path)["x"]["properties"]
    assert {k: v for k, v in props["upload"].items() if k in ("type", "format", "x-type")} == {
        "type": "string", "format": "binary", "x-type": "file"}
    assert props["blob"]["format"] == "binary" and "x-type" not in props["blob"]  # x-type only when documented
    for sid in ("audio.transcriptions.request", "audio.translations.request", "files.upload.request"):
        file_prop = load_schemas(UPSTREAM)[sid]["properties"]["file"]
        assert (file_prop["type"], file_prop["format"]) == ("string", "binary")
        assert "file" in load_schemas(UPSTREAM)[sid]["required"]


def test_embeddings_usage_is_when_returned():
    body = {"object": "list", "data": [{"embedding": [0.1, -0.2], "index": 0}], "model": "m"}
    assert first_violation("embeddings.response", body) is None
    assert missing_when_available("embeddings.response", body) == ["$.usage.prompt_tokens", "$.usage.total_tokens"]
    body["usage"] = {"prompt_tokens": 3}
    assert first_violation("embeddings.response", body) is None
    assert missing_when_available("embeddings.response", body) == ["$.usage.total_tokens"]
    # one schema per request shape: float vectors, unless encoding_format: base64 asked (then a string)
    b64 = {**body, "data": [{"embedding": "AAAA", "index": 0}]}
    assert first_violation("embeddings.response", b64).path == "$.data[0].embedding"
    assert violations("embeddings.response.base64", b64) == []
    assert violations("embeddings.response.base64", body)[0].layer == "upstream"


FILE = {"id": "file-1", "object": "file", "bytes": 10, "created_at": 1, "filename": "a.jsonl", "purpose": "batch"}
ASSISTANT = {"id": "asst_1", "object": "assistant", "created_at": 1, "model": "m", "name": None, "instructions": None, "tools": []}
MESSAGE = {"id": "msg_1", "object": "thread.message", "created_at": 1, "thread_id": "thread_1", "role": "user", "content": [{"type": "text"}]}
BATCH = {"id": "batch_1", "object": "batch", "endpoint": "/v1/chat/completions", "input_file_id": "file-1", "completion_window": "24h", "status": "validating", "created_at": 1}
VIDEO = {"id": "video_1", "object": "video", "status": "queued", "created_at": 1, "model": "m", "progress": 0}
VALID_RESPONSES = {
    "embeddings.response": {"object": "list", "data": [{"embedding": [0.5], "index": 0}], "model": "m", "usage": {"prompt_tokens": 1, "total_tokens": 1}},
    "embeddings.response.base64": {"object": "list", "data": [{"embedding": "AAAAPw==", "index": 0}], "model": "m", "usage": {"prompt_tokens": 1, "total_tokens": 1}},
    "models.list": {"object": "list", "data": [{"id": "m", "object": "model", "created": 1, "owned_by": "me"}]},
    "assistants.list": {"object": "list", "data": [ASSISTANT]},
    "messages.list": {"object": "list", "data": [MESSAGE]},
    "batches.list": {"object": "list", "data": [BATCH]},
    "videos.list": {"object": "list", "data": [VIDEO]},
    "video.deleted": {"id": "video_1", "object": "video.deleted", "deleted": True},
    "images.response": {"created": 1, "data": [{"url": "https://x/1.png"}]},
    "audio.transcription": {"text": "hello"},
    "audio.transcription.verbose": {"text": "hello", "language": "english", "duration": 1.5, "segments": [{"id": 0, "start": 0.0, "end": 1.5, "text": "hello"}]},
    "moderations.response": {"id": "modr-1", "model": "m", "results": [{"flagged": False, "categories": {"violence": False}, "category_scores": {"violence": 0.01}}]},
    "file": FILE,
    "files.list": {"object": "list", "data": [FILE]},
    "file.deleted": {"id": "file-1", "object": "file", "deleted": True},
    "assistant": ASSISTANT,
    "assistant.deleted": {"id": "asst_1", "object": "assistant.deleted", "deleted": True},
    "thread": {"id": "thread_1", "object": "thread", "created_at": 1, "metadata": {}},
    "thread.deleted": {"id": "thread_1", "object": "thread.deleted", "deleted": True},
    "message": MESSAGE,
    "run": {"id": "run_1", "object": "thread.run", "created_at": 1, "thread_id": "thread_1", "assistant_id": "asst_1", "status": "queued", "model": "m", "instructions": "", "tools": []},
    "batch": BATCH,
    "video": VIDEO,
}

# (schema id, JSON path to break, new value or DROP) -> the derived schema must reject the body
DROP = object()
VIOLATIONS = [
    ("embeddings.response", ["data", 0, "index"], "0"),  # index a string
    ("embeddings.response", ["data", 0, "embedding"], {"v": 1}),
    ("embeddings.response", ["object"], "embedding"),
    ("embeddings.response.base64", ["data", 0, "embedding"], [0.5]),
    ("models.list", ["data", 0, "id"], 7),
    ("assistants.list", ["data", 0, "object"], "assistants"),
    ("messages.list", ["object"], "thread.messages"),
    ("batches.list", ["data"], "none"),
    ("videos.list", ["data", 0, "status"], "done"),
    ("video.deleted", ["deleted"], DROP),
    ("images.response", ["data", 0, "url"], DROP),  # neither url nor b64_json
    ("images.response", ["created"], "yesterday"),
    ("audio.transcription", ["text"], DROP),
    ("audio.transcription.verbose", ["duration"], DROP),
    ("moderations.response", ["results", 0, "flagged"], "false"),
    ("file", ["bytes"], "10"),
    ("files.list", ["data", 0, "object"], "document"),
    ("file.deleted", ["deleted"], DROP),  # file.deleted without `deleted`
    ("assistant", ["object"], "assistants"),
    ("assistant", ["name"], DROP),  # null and absent differ: name is required, nullable
    ("assistant.deleted", ["deleted"], "yes"),
    ("thread", ["created_at"], None),
    ("thread.deleted", ["object"], "thread"),
    ("message", ["role"], "system"),
    ("run", ["status"], "running"),  # not one of OpenAI's run statuses
    ("batch", ["status"], "done"),
    ("video", ["progress"], "50%"),
]


def _broken(schema_id, path, value):
    import copy

    body = copy.deepcopy(VALID_RESPONSES[schema_id])
    node = body
    for part in path[:-1]:
        node = node[part]
    if value is DROP:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return body


@pytest.mark.parametrize("schema_id", sorted(VALID_RESPONSES))
def test_new_response_schemas_accept_a_conforming_body(schema_id):
    assert violations(schema_id, VALID_RESPONSES[schema_id]) == []


@pytest.mark.parametrize("schema_id,path,value", VIOLATIONS, ids=[f"{s}:{'.'.join(map(str, p))}" for s, p, _ in VIOLATIONS])
def test_new_response_schemas_reject_a_violating_body(schema_id, path, value):
    assert violations(schema_id, _broken(schema_id, path, value)) != []  # in the documented layer or the upstream one


def test_every_new_response_schema_has_a_violation_case():
    response_ids = {e["schema"] for op in derive.operations() for t in op["responses"].values() for e in derive.response_targets(t)}
    response_ids -= {"binary", "text", "chat.response", "chat.chunk"}
    assert response_ids == set(VALID_RESPONSES) == {s for s, _, _ in VIOLATIONS}


def test_operations_are_checked(tmp_path):
    schemas = {"x": {}}
    ok = {"method": "GET", "path": "/a/{a_id}", "path_parameters": {"a_id": {}}, "responses": {"application/json": "x"}}
    derive.check_operations([ok], schemas)
    with pytest.raises(derive.TableError, match="path_parameters"):
        derive.check_operations([{**ok, "path_parameters": {}}], schemas)
    with pytest.raises(derive.TableError, match="unknown schema 'y'"):
        derive.check_operations([{**ok, "responses": {"application/json": ["x", "y"]}}], schemas)
    with pytest.raises(derive.TableError, match="request_media_type"):
        derive.check_operations([{**ok, "request": "x", "request_media_type": "text/plain"}], schemas)
    with pytest.raises(derive.TableError, match="declared twice"):
        derive.check_operations([ok, ok], schemas)


def test_openapi_document_declares_params_media_and_bodies():
    doc = json.loads(derive.SCHEMAS_DIR.joinpath("openapi.json").read_text())
    paths = doc["paths"]
    assert doc["openapi"] == "3.1.0"
    get_file = paths["/files/{file_id}"]["get"]
    assert get_file["parameters"] == [{"name": "file_id", "in": "path", "required": True, "schema": {"type": "string"}, "x-documented": True}]
    assert "requestBody" not in get_file and "requestBody" not in paths["/batches/{batch_id}/cancel"]["post"]
    upload = paths["/files"]["post"]["requestBody"]["content"]
    assert list(upload) == ["multipart/form-data"]
    speech = paths["/audio/speech"]["post"]["responses"]["200"]["content"]
    assert set(speech) == {"audio/mpeg", "audio/wav", "audio/opus", "audio/aac", "audio/flac", "audio/pcm"}
    assert all(v["schema"] == {"type": "string", "format": "binary"} for v in speech.values())
    transcription = paths["/audio/transcriptions"]["post"]["responses"]["200"]["content"]
    assert transcription["text/plain"]["schema"] == {"type": "string"}
    assert transcription["application/json"]["schema"] == {"anyOf": [
        {"$ref": "#/components/schemas/audio.transcription.verbose"}, {"$ref": "#/components/schemas/audio.transcription"}]}
    # every $ref resolves to a component
    refs = re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(doc))
    assert set(refs) <= set(doc["components"]["schemas"])
    ops = _ops()
    assert ops[("POST", "/files")].get("model") is False and ops[("POST", "/embeddings")].get("model", True) is True


REQUEST_OPERATIONS = [(m, p) for m, p in PAGE_ROUTES if m == "POST" and p not in ("/batches/{batch_id}/cancel",)]


@pytest.mark.parametrize("method,path", REQUEST_OPERATIONS, ids=[p for _, p in REQUEST_OPERATIONS])
def test_schemathesis_generates_a_request_for_every_operation_with_a_body(method, path):
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, seed, settings
    from schemathesis.transport.serialization import Binary

    doc = json.loads(derive.SCHEMAS_DIR.joinpath("openapi.json").read_text())
    op = _ops()[(method, path)]
    strategy = schemathesis.openapi.from_dict(doc)[path][method].as_strategy()
    cases = []

    @seed(0)
    @settings(max_examples=3, database=None, deadline=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(strategy)
    def draw(case):
        cases.append(case)

    draw()
    assert cases
    for case in cases:
        assert case.media_type == op.get("request_media_type", "application/json")
        assert set(case.path_parameters or {}) == set(op.get("path_parameters", {}))
        assert violations(op["request"], case.body) == []
        if case.media_type == "multipart/form-data":  # a dict of fields; the upload is bytes in a Binary
            assert isinstance(case.body["file"], Binary) and isinstance(case.body["file"].data, bytes)


def test_each_fact_lands_in_its_layer(tmp_path):
    """The page's wording and our reading of it: documented layer; OpenAI's facts: upstream layer only;
    a relaxation (nullable) in both."""
    (tmp_path / "t.yaml").write_text(
        "page: p\ntables:\n  - table: T\n    kind: request\n    schema: x\n    rows:\n"
        "      - {field: a, type: string, required: 'Yes', meaning: m}\n"
        "      - {field: b, inferred: {type: integer, required: true, source: Up.b}}\n"
        "      - {field: c, type: string, required: 'No', meaning: m, upstream: {enum: [one, two], source: Up.c}}\n"
        "      - {field: d, inferred: {type: integer, required: false, nullable: true, from: page, why: w}}\n"
    )
    doc, up = derive.derive_all(tmp_path, "documented")["x"], derive.derive_all(tmp_path, UPSTREAM)["x"]
    assert doc["required"] == ["a"] and up["required"] == ["a", "b"]
    assert "type" not in doc["properties"]["b"] and up["properties"]["b"]["type"] == "integer"
    assert "enum" not in doc["properties"]["c"] and up["properties"]["c"]["enum"] == ["one", "two"]
    assert doc["properties"]["d"]["anyOf"] == [{"type": "integer"}, {"type": "null"}] == up["properties"]["d"]["anyOf"]
    assert doc["properties"]["b"]["x-provenance"] == "upstream" and doc["properties"]["d"]["x-provenance"] == "page"
    assert up["$id"].endswith("/upstream/x.json") and doc["$id"].endswith("/x.json") and "/upstream/" not in doc["$id"]
