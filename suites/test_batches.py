"""Batches (cells keyed by target; the model rides inside the JSONL): upload the input through /files,
create, retrieve, poll to a terminal state, read the output file, list; a second batch is cancelled; a
batch on a file that was never uploaded must be refused; the input file is deleted. Each step must agree
with what came before, and a completed batch's output must answer its input (integrity)."""

import json

import pytest

from anyint_conformance.suite import Provenance, batch_completed, batch_output, operation

BATCH = operation("/batches/{batch_id}", "GET")
ENDED = ("cancelling", "cancelled", "completed", "failed", "expired")  # a cancel answers one of these


@pytest.mark.route("batches")
@pytest.mark.per_target
def test_batch_lifecycle(conformance):
    body = conformance.narrow({"model": conformance.model, "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8, "temperature": 0})
    line = {"custom_id": "c1", "method": "POST", "url": "/v1/chat/completions", "body": body}
    upload = {"file": ("batch.jsonl", (json.dumps(line) + "\n").encode(), "application/jsonl")}
    request = {"endpoint": "/v1/chat/completions", "completion_window": "24h"}
    with conformance.lifecycle(per_model=False) as life:
        created = life.step("upload input", operation("/files"), body={"purpose": "batch"}, files=upload, agrees={"purpose": "batch"})
        file_id = (created or {}).get("id")
        life.cleanup("delete input", operation("/files/{file_id}", "DELETE"), {"file_id": file_id})
        asked = {"input_file_id": file_id, **request}
        batch = life.step("create", operation("/batches"), body=asked, needs=file_id, agrees=asked)
        batch_id = (batch or {}).get("id")
        life.step("retrieve", BATCH, {"batch_id": batch_id}, agrees={"id": batch_id, **asked})
        done = life.poll("poll to terminal state", BATCH, {"batch_id": batch_id}, agrees={"id": batch_id}, completed=batch_completed(1))
        life.step("output file content", operation("/files/{file_id}/content", "GET"), {"file_id": (done or {}).get("output_file_id")},
                  check=batch_output(["c1"], "chat.response"))
        life.step("list", operation("/batches", "GET"), lists=batch_id)
        other = life.step("create (to cancel)", operation("/batches"), body=asked, needs=file_id, agrees=asked)
        other_id = (other or {}).get("id")
        life.step("cancel", operation("/batches/{batch_id}/cancel"), {"batch_id": other_id}, agrees={"id": other_id, "status": ENDED})
        life.refused("create from a file never uploaded", operation("/batches"), body={"input_file_id": "file-anyint-conformance-missing", **request},
                     rule=conformance.rule("a batch names an input_file_id that no upload created", "integrity: createBatch on an input_file_id that "
                                           "names no uploaded file is refused (upstream OpenAI: 404)", provenance=Provenance.INTEGRITY))
        life.step("delete input", operation("/files/{file_id}", "DELETE"), {"file_id": file_id})
