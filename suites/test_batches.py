"""Batches (cells keyed by target; the model rides inside the JSONL): upload the input through /files,
create, retrieve, cancel, delete the file."""

import json

import pytest

from anyint_conformance.checks import Expect
from anyint_conformance.suite import operation


@pytest.mark.route("batches")
@pytest.mark.requests(2, 6)
@pytest.mark.per_target
def test_batch_lifecycle(conformance):
    line = {"custom_id": "c1", "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": conformance.model, "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8}}
    upload = {"file": ("batch.jsonl", (json.dumps(line) + "\n").encode(), "application/jsonl")}
    with conformance.lifecycle(per_model=False) as life:
        created = life.step("upload input", operation("/files"), body={"purpose": "batch"}, files=upload, expect=Expect(response_schema="file"))
        file_id = (created or {}).get("id")
        life.cleanup("delete input", operation("/files/{file_id}", "DELETE"), {"file_id": file_id}, Expect(response_schema="file.deleted"))
        batch = life.step("create", operation("/batches"), body={"input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": "24h"},
                          expect=Expect(response_schema="batch"), needs=file_id)
        batch_id = (batch or {}).get("id")
        life.step("retrieve", operation("/batches/{batch_id}", "GET"), {"batch_id": batch_id}, expect=Expect(response_schema="batch"))
        life.step("cancel", operation("/batches/{batch_id}/cancel"), {"batch_id": batch_id}, expect=Expect(response_schema="batch"))
