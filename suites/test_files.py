"""Files (no model: cells keyed by target): upload (purpose batch), list, retrieve, content, delete."""

import json

import pytest

from anyint_conformance.checks import Expect
from anyint_conformance.suite import operation

JSONL = (json.dumps({"custom_id": "c1", "method": "POST", "url": "/v1/chat/completions",
                     "body": {"model": "m", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8}}) + "\n").encode()
UPLOAD = {"file": ("anyint-conformance.jsonl", JSONL, "application/jsonl")}


@pytest.mark.route("files")
@pytest.mark.requests(2, 5)
@pytest.mark.per_target
def test_files_lifecycle(conformance):
    with conformance.lifecycle(per_model=False) as life:
        created = life.step("upload", operation("/files"), body={"purpose": "batch"}, files=UPLOAD, expect=Expect(response_schema="file"))
        file_id = (created or {}).get("id")
        life.cleanup("delete", operation("/files/{file_id}", "DELETE"), {"file_id": file_id}, Expect(response_schema="file.deleted"))
        life.step("list", operation("/files", "GET"), expect=Expect(response_schema="files.list"))
        life.step("retrieve", operation("/files/{file_id}", "GET"), {"file_id": file_id}, expect=Expect(response_schema="file"))
        life.step("content", operation("/files/{file_id}/content", "GET"), {"file_id": file_id}, expect=Expect(body="any"))
