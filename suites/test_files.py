"""Files (no model: cells keyed by target): upload (purpose batch), list, retrieve, content, delete, and
retrieve after delete. Each step must agree with what came before: the file named as uploaded, listed,
the same bytes back, deleted as asked, then gone."""

import json

import pytest

from anyint_conformance.suite import operation

LINE = {"custom_id": "c1", "method": "POST", "url": "/v1/chat/completions",
        "body": {"model": "m", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8}}
FILE = operation("/files/{file_id}", "GET")
NAME = "anyint-conformance.jsonl"


@pytest.mark.route("files")
@pytest.mark.per_target
def test_files_lifecycle(conformance):
    jsonl = (json.dumps({**LINE, "body": conformance.narrow(LINE["body"])}) + "\n").encode()  # a batch file: its request is capped too
    uploaded = {"bytes": len(jsonl), "filename": NAME, "purpose": "batch"}
    with conformance.lifecycle(per_model=False) as life:
        created = life.step("upload", operation("/files"), body={"purpose": "batch"}, files={"file": (NAME, jsonl, "application/jsonl")}, agrees=uploaded)
        file_id = (created or {}).get("id")
        life.cleanup("delete", operation("/files/{file_id}", "DELETE"), {"file_id": file_id})
        life.step("list", operation("/files", "GET"), lists=file_id)
        life.step("retrieve", FILE, {"file_id": file_id}, agrees={"id": file_id, **uploaded})
        life.step("content", operation("/files/{file_id}/content", "GET"), {"file_id": file_id}, same_bytes=jsonl)
        deleted = life.step("delete", operation("/files/{file_id}", "DELETE"), {"file_id": file_id})
        life.refused("retrieve after delete", FILE, {"file_id": file_id}, needs=deleted)
