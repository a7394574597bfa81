"""Files (no model: cells keyed by target): upload (purpose batch), list, retrieve, content (the same
bytes), delete, and retrieve after delete (must be gone)."""

import json

import pytest

from anyint_conformance.suite import operation

LINE = {"custom_id": "c1", "method": "POST", "url": "/v1/chat/completions",
        "body": {"model": "m", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8}}
FILE = operation("/files/{file_id}", "GET")


@pytest.mark.route("files")
@pytest.mark.per_target
def test_files_lifecycle(conformance):
    jsonl = (json.dumps({**LINE, "body": conformance.narrow(LINE["body"])}) + "\n").encode()  # a batch file: its request is capped too
    with conformance.lifecycle(per_model=False) as life:
        created = life.step("upload", operation("/files"), body={"purpose": "batch"}, files={"file": ("anyint-conformance.jsonl", jsonl, "application/jsonl")})
        file_id = {"file_id": (created or {}).get("id")}
        life.cleanup("delete", operation("/files/{file_id}", "DELETE"), file_id)
        life.step("list", operation("/files", "GET"))
        life.step("retrieve", FILE, file_id)
        life.step("content", operation("/files/{file_id}/content", "GET"), file_id, same_bytes=jsonl)
        deleted = life.step("delete", operation("/files/{file_id}", "DELETE"), file_id)
        life.refused("retrieve after delete", FILE, file_id, needs=deleted)
