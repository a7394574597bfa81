"""Assistants per model: create, retrieve, delete."""

import pytest

from anyint_conformance.checks import Expect
from anyint_conformance.suite import operation

ASSISTANT = {"name": "anyint-conformance", "instructions": "Answer in one short sentence."}


@pytest.mark.route("assistants")
@pytest.mark.requests(2, 3)
def test_assistants_lifecycle(conformance):
    with conformance.lifecycle() as life:
        created = life.step("create", operation("/assistants"), body={**ASSISTANT, "model": conformance.model}, expect=Expect(response_schema="assistant"))
        assistant_id = (created or {}).get("id")
        life.cleanup("delete", operation("/assistants/{assistant_id}", "DELETE"), {"assistant_id": assistant_id}, Expect(response_schema="assistant.deleted"))
        life.step("retrieve", operation("/assistants/{assistant_id}", "GET"), {"assistant_id": assistant_id}, expect=Expect(response_schema="assistant"))
