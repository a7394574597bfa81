"""Batches (cells keyed by target; the model rides inside the JSONL): upload the input through /files,
create, retrieve, poll to a terminal state, read the output file, list; a second batch is cancelled;
a batch on a file that was never uploaded must be refused; the input file is deleted."""

import json

import pytest

from anyint_conformance.suite import operation

BATCH = operation("/batches/{batch_id}", "GET")


@pytest.mark.route("batches")
@pytest.mark.per_target
def test_batch_lifecycle(conformance):
    body = conformance.narrow({"model": conformance.model, "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8})
    line = {"custom_id": "c1", "method": "POST", "url": "/v1/chat/completions", "body": body}
    upload = {"file": ("batch.jsonl", (json.dumps(line) + "\n").encode(), "application/jsonl")}
    request = {"endpoint": "/v1/chat/completions", "completion_window": "24h"}
    with conformance.lifecycle(per_model=False) as life:
        created = life.step("upload input", operation("/files"), body={"purpose": "batch"}, files=upload)
        file_id = (created or {}).get("id")
        life.cleanup("delete input", operation("/files/{file_id}", "DELETE"), {"file_id": file_id})
        batch = life.step("create", operation("/batches"), body={"input_file_id": file_id, **request}, needs=file_id)
        batch_id = {"batch_id": (batch or {}).get("id")}
        life.step("retrieve", BATCH, batch_id)
        done = life.poll("poll to terminal state", BATCH, batch_id)
        life.step("output file content", operation("/files/{file_id}/content", "GET"), {"file_id": (done or {}).get("output_file_id")})
        life.step("list", operation("/batches", "GET"))
        other = life.step("create (to cancel)", operation("/batches"), body={"input_file_id": file_id, **request}, needs=file_id)
        life.step("cancel", operation("/batches/{batch_id}/cancel"), {"batch_id": (other or {}).get("id")})
        life.refused("create from a file never uploaded", operation("/batches"), body={"input_file_id": "file-anyint-conformance-missing", **request},
                     rule=conformance.rule("an input_file_id that names no uploaded file", "upstream OpenAI: createBatch refuses an unknown input_file_id (404)"))
        life.step("delete input", operation("/files/{file_id}", "DELETE"), {"file_id": file_id})
